"""The command line as a user meets it, on the embedded local tracker."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from match_staging.channels.registry import specs
from match_staging.cli import COMMANDS, build_parser, main, subcommand_parser
from tests.conftest import ROOT, cli, match, one_message_per_channel, write


def test_stage_example_inbox_then_nothing_twice(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "stage")
    assert code == 0
    assert err.startswith("running on the embedded local tracker (.match-staging/tracker.json)")
    assert out.count("staged    #") == 5
    assert "5 staged, 0 already staged" in out
    page = (repo / ".match-staging/issues/1.md").read_text(encoding="utf-8")
    assert "# #1 \\[JOB-MATCH\\] 97% — Cloud Architect - Cloud-Transformation" in page
    assert "Profil\\_Laube\\_w\\_Summary\\_DE.pdf" in page

    code, out, _ = cli(capsys, "stage")
    assert code == 0
    assert "0 staged, 5 already staged" in out
    assert "existing  #1 " in out and "(already staged as #1, pending)" in out


def test_stage_without_a_config_file_writes_every_channel_to_the_outbox(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the built-in defaults have no sender and no recipient: the local tracker's
    # placeholders must be addresses the email channel accepts
    (repo / "config" / "notification-channels.yml").unlink()
    code, out, err = cli(capsys, "stage")
    assert code == 0, err
    assert "5 staged" in out
    written = sorted(p.name for p in (repo / "outbox").glob("*/*"))
    one_message_per_channel(written)


def test_list_prints_one_line_per_match(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli(capsys, "stage")
    code, out, _ = cli(capsys, "list")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 5
    assert lines[0].split() == [
        "#1",
        "pending",
        "0h",  # how long it has been pending (issue 23)
        "97%",
        "Cloud",
        "Architect",
        "-",
        "Cloud-Transformation",
    ]
    assert cli(capsys, "list", "--state", "approved")[1] == ""


def test_bad_match_beside_good_ones(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(
        repo / "in" / "mixed.json",
        [
            match(title="Good"),
            match(title="Bad", score=101),
            match(title="Low", score=50, url="https://x.example/2"),
        ],
    )
    write(repo / "in" / "broken.json", {})
    (repo / "in" / "broken.json").write_text("{not json", encoding="utf-8")
    code, out, err = cli(capsys, "stage", "in")
    assert code == 1
    assert "Traceback" not in out + err
    assert "staged    #1     92%  Good" in out
    assert (
        "rejected  in/mixed.json: match 2 ('Bad'): field 'score': must be between 0 and "
        "100, got 101" in out
    )
    assert "rejected  in/broken.json: not valid JSON" in out
    assert "below            50%  Low  (threshold 70%)" in out
    assert "1 staged, 0 already staged, 0 repeated, 1 below threshold, 2 rejected" in out


def test_same_match_twice_in_one_run_is_staged_once(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo / "a.json", [match(id="dup-1"), match(id="dup-1", url="https://else.example/")])
    write(repo / "b.json", match(url="https://JOBS.example.com/p/1/?utm_source=mail"))
    code, out, _ = cli(capsys, "stage", "a.json", "b.json")
    assert code == 0
    assert out.count("staged    #") == 1
    assert out.count("repeated ") == 2


def test_attachment_outside_the_repository_rejects_only_that_match(
    repo: Path, capsys: pytest.CaptureFixture[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.txt"
    outside.write_text("secret", encoding="utf-8")
    (repo / "cv" / "link.pdf").symlink_to(outside)
    cases = {
        "../etc/passwd": "must not leave the repository",
        "/etc/passwd": "must be a path inside the repository, not an absolute path",
        "cv/link.pdf": "leads outside the repository through a symbolic link",
        ".git/config": "hidden files",
        "cv/missing.pdf": "no such file in the repository",
    }
    items = [
        match(title=f"T{i}", url=f"https://x.example/{i}", attachments=[path])
        for i, path in enumerate(cases)
    ]
    items.append(
        match(
            title="Fine",
            url="https://x.example/ok",
            attachments=["cv/Profil_Laube_w_Summary_DE.pdf"],
        )
    )
    write(repo / "att.json", items)
    code, out, _ = cli(capsys, "stage", "att.json")
    assert code == 1
    for i, (path, reason) in enumerate(cases.items()):
        assert f"att.json: match {i + 1} ('T{i}'): field 'attachments[0]': '{path}' {reason}" in out
    assert "staged    #1     92%  Fine" in out
    assert "secret" not in (repo / ".match-staging/tracker.json").read_text(encoding="utf-8")


def test_oversized_attachment(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "cv" / "big.pdf").write_bytes(b"x" * 2_000_000)
    write(repo / "m.json", match(attachments=["cv/big.pdf"]))
    env = {"MATCH_STAGING__STAGING__MAX_ATTACHMENT_MB": "1"}
    code, out, _ = cli(capsys, "stage", "m.json", env=env)
    assert code == 1
    assert "'cv/big.pdf' is 1.9 MB, more than the 1 MB limit" in out


def test_broken_configuration_exits_2_before_anything(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"MATCH_STAGING__NOTIFICATION__PREFERENCES__THRESHOLD": "200"}
    code, out, err = cli(capsys, "stage", env=env)
    assert code == 2 and out == ""
    assert err.strip() == (
        "match-staging: error: config/notification-channels.yml: notification.preferences."
        "threshold: must be between 0 and 100, got 200 (set by "
        "MATCH_STAGING__NOTIFICATION__PREFERENCES__THRESHOLD)"
    )
    assert not (repo / ".match-staging").exists()


def test_ci_without_token_is_a_configuration_error(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "stage", env={"CI": "true"})
    assert code == 2 and "GITLAB_TOKEN is not set" in err
    assert not (repo / ".match-staging").exists()


def test_token_without_project_is_a_configuration_error(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "stage", env={"GITLAB_TOKEN": "glpat-secret-value"})
    assert code == 2 and "GITLAB_URL and GITLAB_PROJECT not set" in err
    assert "glpat-secret-value" not in err


def test_config_masks_secrets(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = {
        "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/CANARY-SLACK",
        "SMTP_PASSWORD": "CANARY-SMTP",
    }
    code, out, _ = cli(capsys, "config", env=env)
    assert code == 0
    assert "CANARY" not in out and "webhook_url: '***'" in out and "password: '***'" in out
    assert "subject_prefix: '[Blauweiss]'" in out


def test_validate_reports_and_changes_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo / "v.json", [match(), match(score="high"), match(attachments=["nope.pdf"])])
    code, out, _ = cli(capsys, "validate", "v.json")
    assert code == 1
    assert "ok        v.json: match 1 ('Senior DevOps Engineer')  92%" in out
    assert "invalid   v.json: match 2 ('Senior DevOps Engineer'): field 'score'" in out
    assert "field 'attachments[0]': 'nope.pdf' no such file" in out
    assert "1 valid match(es), 2 problem(s) in 1 document(s)" in out
    assert not (repo / ".match-staging").exists()
    assert cli(capsys, "validate")[0] == 0  # the example inbox is valid


def test_every_command_is_documented_with_an_example() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    top = build_parser().format_help()
    for name, (_, summary, example) in COMMANDS.items():
        assert f"`match-staging {name}" in readme, f"{name} missing from README"
        assert f"match-staging {name}" in example
        assert name in top and " ".join(summary.split())[:40] in " ".join(top.split())
        assert f"Example:\n  {example}" in subcommand_parser(name).format_help()


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["stage", "--help"], ["list", "--help"], ["review", "--help"], ["--version"]],
)
def test_help_works_for_every_level(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "match_staging", *argv], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(("usage: match-staging", "match-staging 0."))
    assert "Traceback" not in done.stderr


def test_module_entry_point_and_no_traceback_on_usage_error(repo: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "match_staging", "list", "--state", "nope"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "invalid choice" in done.stderr and "Traceback" not in done.stderr


def test_help_imports_nothing_but_argparse() -> None:
    heavy = ["gitlab", "jsonschema", "yaml", "jinja2", "requests", "dataclasses", "inspect"]
    code = (
        "import sys; from match_staging.cli import build_parser; build_parser(); "
        f"print(*[m for m in {heavy!r} if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == []


def test_the_result_lines_load_no_use_case_and_no_schema() -> None:
    """Every command that prints imports cli_lines: it loads the use case it runs, not the
    others (digest alone pulled in nearly all of them) nor the match schema's jsonschema:
    a `review` in a CI job or a fresh clone started 60 to 100 ms of CPU slower."""
    code = (
        "import sys, match_staging.cli_lines; print(*sorted(m for m in sys.modules "
        "if m.startswith(('match_staging.usecases', 'match_staging.matches', 'jsonschema'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == []


def test_a_local_run_writes_every_channels_outbox_without_an_http_library(repo: Path) -> None:
    """The README's first command (the local tracker, every channel writing outbox/) posts
    nothing, so it loads neither requests nor python-gitlab: 70 ms of CPU a run."""
    write(repo / "m.json", match())
    code = (
        "import sys; from match_staging.cli import main; code = main(['stage', 'm.json']); "
        "print(code, *sorted(m for m in ('requests', 'urllib3', 'gitlab') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=False
    )
    assert done.stdout.split()[-1:] == ["0"], done.stderr
    assert len(list((repo / "outbox").rglob("*.*"))) >= 5, done.stdout  # every channel wrote


def test_an_injected_clock_reaches_the_tracker_the_outbox_and_the_audit_note(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime

    write(repo / "m.json", match())
    when = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)
    assert (
        main(
            ["stage", "m.json"],
            {},
            clock=lambda: when,
            sleep=lambda _: pytest.fail("nothing sleeps on the local tracker"),
        )
        == 0
    )
    assert (repo / "outbox" / "2026-03-02T08-15-00Z").is_dir()
    tracker = json.loads((repo / ".match-staging/tracker.json").read_text(encoding="utf-8"))
    assert tracker["issues"][0]["created_at"] == "2026-03-02T08:15:00+00:00"
    later = datetime(2026, 3, 2, 9, 40, tzinfo=UTC)
    assert main(["review", "1", "--reject"], {"USER": "ada"}, clock=lambda: later) == 0
    page = (repo / ".match-staging/issues/1.md").read_text(encoding="utf-8")
    assert "2026-03-02 10:40 CET" in page  # the note's time, in the configured zone
    capsys.readouterr()


def test_local_stage_writes_notifications_to_outbox(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {
        "MATCH_STAGING__NOTIFICATION__CHANNELS__EMAIL__ENABLED": "true",
        "MATCH_STAGING__NOTIFICATION__CHANNELS__SLACK__ENABLED": "true",
        "MATCH_STAGING_NOW": "2026-02-08T15:00:00+01:00",
    }
    code, out, _ = cli(capsys, "stage", env=env)
    assert code == 0
    folder = repo / "outbox" / "2026-02-08T14-30-00Z"
    written = sorted(p.name for p in folder.iterdir())
    one_message_per_channel(written)
    assert "notified  email     #1 #2 #3 #4 #5  written to outbox/" in out
    tracker = json.loads((repo / ".match-staging/tracker.json").read_text(encoding="utf-8"))
    assert all(
        "job-match/notify-email" not in issue["labels"]  # delivered: not queued
        for issue in tracker["issues"]
    )
    code, out, _ = cli(capsys, "stage", env=env)
    assert "notified" not in out


def test_preview_renders_everything_and_creates_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {
        "MATCH_STAGING__NOTIFICATION__CHANNELS__EMAIL__ENABLED": "true",
        "MATCH_STAGING__NOTIFICATION__CHANNELS__SLACK__ENABLED": "true",
        "MATCH_STAGING__NOTIFICATION__CHANNELS__WHATSAPP__ENABLED": "true",
    }
    code, out, _ = cli(capsys, "preview", env=env)
    assert code == 0, out
    folder = repo / "outbox" / "preview" / "2026-02-08T14-30-00Z"
    names = sorted(p.name for p in folder.iterdir())
    assert [n for n in names if n.startswith("issue-")] == [f"issue-{n}.md" for n in range(1, 6)]
    one_message_per_channel(names)
    assert (
        (folder / "new-whatsapp.txt")
        .read_text(encoding="utf-8")
        .startswith("🎯 5 neue Job-Matches!\nTop: 97% Cloud Architect - Cloud-Transformation")
    )
    assert "nothing was created or sent" in out
    assert not (repo / ".match-staging").exists()


def test_a_hostile_cycle_id_cannot_write_outside_outbox(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo / "c.json", {"cycle_id": "..", "matches": [match()]})
    env = {"MATCH_STAGING__NOTIFICATION__CHANNELS__SLACK__ENABLED": "true"}
    code, _, _ = cli(capsys, "preview", "c.json", env=env)
    assert code == 0
    assert not list(repo.glob("*slack*")) and not list((repo / "outbox").glob("*slack*"))
    assert list((repo / "outbox" / "preview" / "cycle").glob("new-slack-1.json"))


def test_review_and_send_on_the_local_tracker(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(capsys, "stage")
    code, out, _ = cli(
        capsys, "review", "1", "--approve", "--reason", "Passt gut", env={"USER": "wolfram"}
    )
    assert code == 0 and "applied   #1: pending -> approved" in out
    code, out, _ = cli(capsys, "send", "1")
    assert code == 0, out
    (eml,) = (repo / "outbox" / "applications").glob("*.eml")
    text = eml.read_text(encoding="utf-8", errors="replace")
    assert "To: projekte@amoriabond.example" in text
    assert "Profil_Laube_w_Summary_DE.pdf" in text
    code, out, _ = cli(capsys, "list", "--state", "sent")
    assert out.startswith("#1     sent")
    code, _, err = cli(capsys, "send", "1")  # a refusal changes nothing: exit 2
    assert code == 2 and "#1: is sent: only approved matches are sent" in err


# --------------------------------------------------------------------------- issue 12


def test_every_command_exit_code_refusals_are_2_not_partial(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """0 done; 1 partial (some input rejected); 2 usage, configuration or a refused request
    that changed nothing (docs/interface.md, README)."""
    assert cli(capsys, "list")[0] == 0  # nothing staged yet: still done
    assert cli(capsys, "stage")[0] == 0
    tracker = repo / ".match-staging" / "tracker.json"
    before = tracker.read_bytes()
    for argv in (["review", "9999", "--approve"], ["send", "9999"], ["send", "1"]):
        code, out, err = cli(capsys, *argv)
        assert code == 2, (argv, out, err)
        assert err.startswith(("running on", "match-staging: error:"))
        assert tracker.read_bytes() == before, argv  # nothing changed
    assert cli(capsys, "review", "1", "--approve")[0] == 0
    approved = tracker.read_bytes()
    code, _, err = cli(capsys, "review", "1", "--approve")  # approving twice
    assert code == 2 and "#1: is approved, not pending" in err
    assert cli(capsys, "review", "1", "--reject")[0] == 2
    assert tracker.read_bytes() == approved
    assert cli(capsys, "send", "1")[0] == 0
    assert cli(capsys, "send", "1")[0] == 2  # sent already
    write(repo / "bad.json", [match(score=101)])
    assert cli(capsys, "stage", "bad.json")[0] == 1  # input rejected: partial
    assert cli(capsys, "validate", "bad.json")[0] == 1
    assert cli(capsys, "validate")[0] == 0
    assert cli(capsys, "preview")[0] == 0
    assert cli(capsys, "digest")[0] == 0
    assert cli(capsys, "config")[0] == 0
    assert cli(capsys, "list", "--state", "sent")[0] == 0
    assert cli(capsys, "transition")[0] == 2  # no payload: usage
    assert cli(capsys, "bootstrap", "--dry-run")[0] == 2  # no GitLab token: configuration
    with pytest.raises(SystemExit) as usage:
        main(["review", "1"], {})
    assert usage.value.code == 2
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    codes = readme.split("Exit codes:", 1)[1].split("\n\n", 1)[0]
    assert "`2` usage or configuration error, or a refused request" in " ".join(codes.split())


def test_review_help_describes_approve_and_reject(capsys: pytest.CaptureFixture[str]) -> None:
    text = subcommand_parser("review").format_help()
    assert re.search(r"--approve\s+pending -> approved", text), text
    assert re.search(r"--reject\s+pending -> rejected", text), text


def test_list_with_nothing_to_show_says_so(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "list")
    assert code == 0 and out == ""  # standard output stays one line per match
    assert "no matches staged: `match-staging stage`" in err
    cli(capsys, "stage")
    code, out, err = cli(capsys, "list", "--state", "approved")
    assert code == 0 and out == "" and "no approved matches staged" in err


def test_stage_on_an_empty_inbox_says_so(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "matches-inbox" / "2026-02-08T1430Z.json").unlink()
    code, _, err = cli(capsys, "stage")
    assert code == 0
    assert "nothing to stage: no match documents in matches-inbox/" in err
    (repo / "empty").mkdir()
    write(repo / "none.json", [])
    assert "nothing to stage: no match documents in empty" in cli(capsys, "stage", "empty")[2]
    assert "nothing to stage: no matches in none.json" in cli(capsys, "stage", "none.json")[2]


def test_a_connection_error_names_the_url_it_tried(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        "GITLAB_TOKEN": "glpat-not-used",
        "GITLAB_URL": f"http://127.0.0.1:{port}",
        "GITLAB_PROJECT": "1",
    }
    code, _, err = cli(capsys, "list", env=env)
    assert code == 1
    assert f"no answer from http://127.0.0.1:{port} (ConnectionError)" in err


def test_a_yaml_error_is_one_line_without_the_caret_drawing(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "config" / "notification-channels.yml").write_text(
        "notification:\n  channels: [\n", encoding="utf-8"
    )
    code, out, err = cli(capsys, "config")
    assert code == 2 and out == ""
    assert err == (
        "match-staging: error: config/notification-channels.yml: not valid YAML: "
        "line 3, column 1: expected the node content, but found '<stream end>' "
        "(while parsing a flow node)\n"
    )


def test_validate_keeps_the_order_of_the_file(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        repo / "a.json",
        [
            match(title="One"),
            match(title="Two", score="x"),
            match(title="Three", url="https://x.example/3"),
        ],
    )
    write(repo / "b.json", match(title="Four", url="https://x.example/4"))
    code, out, _ = cli(capsys, "validate", "a.json", "b.json")
    assert code == 1
    lines = [line.split(":")[0:2] for line in out.splitlines()[:-1]]
    assert lines == [
        ["ok        a.json", " match 1 ('One')  92%"],
        ["invalid   a.json", " match 2 ('Two')"],
        ["ok        a.json", " match 3 ('Three')  92%"],
        ["ok        b.json", " match 1 ('Four')  92%"],
    ]


def test_an_email_channel_without_from_works_and_config_says_which_sender(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The email settings may omit `from`: no command may stop on it."""
    cfg = repo / "config" / "notification-channels.yml"
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(
        text.replace('      from: "match-staging <jobs@blauweiss-edv.at>"\n', "").replace(
            "      enabled: false\n      recipients", "      enabled: true\n      recipients", 1
        ),
        encoding="utf-8",
    )
    env = {
        "SMTP_HOST": "smtp.example.org",
        "SMTP_USERNAME": "jobs@blauweiss-edv.at",
        "SMTP_PASSWORD": "app-password",
    }
    code, out, _ = cli(capsys, "config", env=env)
    assert code == 0
    assert "from: jobs@blauweiss-edv.at" in out
    assert (
        "# notification.channels.email.from is not set: jobs@blauweiss-edv.at is used, "
        "the SMTP user (smtp.username)" in out
    )
    code, out, _ = cli(capsys, "config", env={"SMTP_HOST": "smtp.example.org"})
    assert "wolfram.laube@blauweiss-edv.at is used, the first recipient" in out
    code, out, err = cli(capsys, "stage", env=env)
    assert code == 0, err
    (eml,) = (repo / "outbox" / "2026-02-08T14-30-00Z").glob("*.eml")
    assert b"From: jobs@blauweiss-edv.at" in eml.read_bytes()


def test_default_sender_rules() -> None:
    from match_staging.channels.email_settings import EmailChannel, SmtpSettings, default_sender

    smtp = EmailChannel(
        recipients=["me@example.org"], smtp=SmtpSettings(username="relay@example.org")
    )
    default_sender(smtp)
    assert (smtp.sender, smtp.sender_origin) == (
        "relay@example.org",
        "the SMTP user (smtp.username)",
    )
    login = EmailChannel(recipients=["me@example.org"], smtp=SmtpSettings(username="apikey"))
    default_sender(login)
    assert (login.sender, login.sender_origin) == ("me@example.org", "the first recipient")
    gmail = EmailChannel(recipients=["me@example.org"], transport="gmail")
    default_sender(gmail)
    assert gmail.sender == "me@example.org" and "Gmail account" in gmail.sender_origin
    given = EmailChannel(recipients=["me@example.org"], sender="Jobs <jobs@example.org>")
    default_sender(given)
    assert (given.sender, given.sender_origin) == ("Jobs <jobs@example.org>", "")


def test_an_offset_time_is_stamped_as_the_same_instant_in_utc(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo / "m.json", match())  # no cycle id: the run's time names the outbox folder
    env = {"MATCH_STAGING_NOW": "2026-02-09T07:05:00+01:00"}
    assert cli(capsys, "stage", "m.json", env=env)[0] == 0
    assert (repo / "outbox" / "2026-02-09T06-05-00Z").is_dir()
    assert not (repo / "outbox" / "2026-02-09T07-05-00Z").exists()
    # a day later the reminder's folder carries the same instant in UTC
    env = {"MATCH_STAGING_NOW": "2026-02-10T08:05:00+01:00"}
    code, out, _ = cli(capsys, "digest", env=env)
    assert code == 0 and "reminded  #1" in out
    assert (repo / "outbox" / "reminder-2026-02-10T07-05-00Z").is_dir()


def test_the_application_subject_is_a_template(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """(The reminder is no longer a note with a text of its own: one run-log record.)"""
    (repo / "templates").mkdir()
    (repo / "templates" / "application_subject.txt.j2").write_text(
        "Application: {{ title }}\n", encoding="utf-8"
    )
    write(repo / "m.json", match(apply={"email": "hr@example.org"}))
    own = {"MATCH_STAGING__STAGING__TEMPLATES_DIR": str(repo / "templates")}
    cli(capsys, "stage", "m.json", env={"MATCH_STAGING_NOW": "2026-02-09T10:00:00Z", **own})
    cli(capsys, "review", "1", "--approve", env=own)
    assert cli(capsys, "send", "1", env=own)[0] == 0
    (eml,) = (repo / "outbox" / "applications").glob("*.eml")
    assert b"Subject: Application: Senior DevOps Engineer\n" in eml.read_bytes()


def test_the_application_message_id_is_not_folded(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import email

    cli(capsys, "stage")
    cli(capsys, "review", "1", "--approve")
    cli(capsys, "send", "1")
    (eml,) = (repo / "outbox" / "applications").glob("*.eml")
    notice = (repo / "outbox" / "2026-02-08T14-30-00Z" / "new-email.eml").read_bytes()
    assert re.search(rb"^Message-ID: <[^\r\n]+>\r?$", notice, re.MULTILINE), notice[:400]
    raw = eml.read_bytes()
    parsed = email.message_from_bytes(raw)  # compat32, as many readers do
    assert str(parsed["Message-ID"]).startswith("<") and str(parsed["Message-ID"]).endswith(">")
    # the bodies keep their 7-bit-safe encoding and short lines
    assert b"Content-Transfer-Encoding: quoted-printable" in raw
    assert max(len(line) for line in raw.splitlines()) <= 998


def test_local_audit_notes_name_the_login_without_git_or_user(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pwd

    empty = repo / "empty-gitconfig"
    empty.write_text("", encoding="utf-8")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    cli(capsys, "stage")
    assert cli(capsys, "review", "1", "--reject")[0] == 0  # env: no USER, no LOGNAME
    page = (repo / ".match-staging" / "issues" / "1.md").read_text(encoding="utf-8")
    login = pwd.getpwuid(os.getuid()).pw_name
    assert f"pending → **rejected** by {login}" in page and "by shell" not in page
    git = repo / "gitconfig"
    git.write_text("[user]\n\temail = ada@example.org\n", encoding="utf-8")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(git))
    cli(capsys, "review", "2", "--approve", env={"USER": "someone"})
    page = (repo / ".match-staging" / "issues" / "2.md").read_text(encoding="utf-8")
    assert "pending → **approved** by ada@example.org" in page


def test_channels_as_configured_against_gitlab_and_on_request_locally(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {
        "MATCH_STAGING__STAGING__LOCAL_CHANNELS": "configured",
        "MATCH_STAGING__NOTIFICATION__CHANNELS__SLACK__ENABLED": "true",
        "MATCH_STAGING_NOW": "2026-02-08T15:00:00+01:00",
    }  # configured: quiet hours hold
    assert cli(capsys, "stage", env=env)[0] == 0
    folder = repo / "outbox" / "2026-02-08T14-30-00Z"
    assert sorted(p.name for p in folder.iterdir()) == ["new-slack.json"]


def test_skipped_tests_say_why_by_default(pytester: pytest.Pytester) -> None:
    """pyproject.toml's pytest options, as `pytest` reads them, print each skip's reason."""
    pytester.makepyfile(
        test_skip="import pytest\n\n@pytest.mark.skip(reason='needs gitlab-ci-local')\n"
        "def test_x() -> None:\n    pass\n"
    )
    done = pytester.runpytest_inprocess(
        *("-c", str(ROOT / "pyproject.toml"), "--rootdir", str(pytester.path)),
        *("-p", "no:cacheprovider", "-n", "0", "test_skip.py"),
    )
    out = done.stdout.str()
    assert "SKIPPED [1]" in out and "needs gitlab-ci-local" in out, out


def test_preview_on_a_fresh_clone_renders_every_channel(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "preview")  # the shipped configuration enables no channel
    assert code == 0
    assert f"5 issue(s) and {len(specs())} message(s) rendered" in out  # each channel
    folder = repo / "outbox" / "preview" / "2026-02-08T14-30-00Z"
    names = sorted(p.name for p in folder.iterdir())
    one_message_per_channel(names)


def test_readme_says_how_install_sizes_were_measured() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| core install"))
    assert "as pip leaves it (with `.pyc`)" in row
    assert "`du -sk --apparent-size` before and\nafter" in readme


def test_against_gitlab_the_channels_stay_as_configured(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.fakes.gitlab import FakeGitLab

    with FakeGitLab() as fake:
        env = {
            "GITLAB_URL": fake.url,
            "GITLAB_TOKEN": fake.token,
            "GITLAB_PROJECT": "1",
            "MATCH_STAGING_NOW": "2026-02-08T15:00:00+01:00",
        }
        code, out, err = cli(capsys, "stage", env=env)
    assert code == 0, err
    assert "5 staged" in out and "notified" not in out  # the shipped file enables none
    assert not (repo / "outbox").exists()
    assert all(
        not any(lb.startswith("job-match/notify-") for lb in issue["labels"])
        for issue in fake.issues.values()
    )


def test_the_readme_test_command_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    found = re.search(r"--group test && (pytest[^\n`]*)", readme)
    assert found is not None, "the README's test command is gone"
    command = found.group(1).strip()
    assert command == 'pytest -m ""', "the README must run every test, as CI does"
    assert any(line.split("#")[0].strip() == command for line in ci)
    for check in ("ruff check .", "ruff format --check .", "mypy"):
        assert check in ci, f".ci/run lost {check}"
        assert f"`{check}`" in readme, f"the README no longer says CI runs {check}"


@pytest.mark.parametrize(
    ("items", "code", "summary"),
    [
        ([match()], 0, "1 valid match(es), 0 problem(s) in 1 document(s)"),
        ([match(attachments=["nope.pdf"])], 1, "0 valid match(es), 1 problem(s)"),  # a file
        ([match(), match(score=101)], 1, "1 valid match(es), 1 problem(s)"),  # the schema
        ("not a match document", 1, "0 valid match(es), 1 problem(s)"),
    ],
)
def test_validate_exits_1_on_any_single_problem(
    repo: Path, capsys: pytest.CaptureFixture[str], items: object, code: int, summary: str
) -> None:
    """A pre-commit hook or a CI step relies on the exit code alone (issue 26)."""
    write(repo / "v.json", items)
    found, out, _ = cli(capsys, "validate", "v.json")
    assert (found, out.strip().splitlines()[-1].startswith(summary)) == (code, True), out

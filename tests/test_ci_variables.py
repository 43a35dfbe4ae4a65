"""Pipeline variables, where a project allows them (issue 20, item 10): a pipeline variable
outranks every CI/CD variable and GitLab's predefined ones, CI_SERVER_URL included. So in CI
the GitLab URL and the SMTP server come only from the committed file, and MATCH_STAGING_NOW
and GITLAB_USER_LOGIN are not believed. Through the CLI against the fake GitLab and SMTP
sinks, as a job runs it (CI=true, GitLab's own CI variables present)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from match_staging.cli import main
from match_staging.clock import system_now
from tests.conftest import bootstrapped_label_ids, job_matches
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.smtp_sink import SmtpSink

CONFIG = Path("config") / "notification-channels.yml"


@pytest.fixture
def fake() -> Iterator[FakeGitLab]:
    with FakeGitLab() as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def commit_config(repo: Path, **sections: dict[str, Any]) -> None:
    """What the user commits: `sections` merged into the repository's configuration."""
    path = repo / CONFIG
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    for name, values in sections.items():
        cfg.setdefault(name, {}).update(values)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")


def email_by(host: Any, port: Any) -> dict[str, Any]:
    return {
        "channels": {
            "email": {
                "enabled": True,
                "recipients": ["me@example.org"],
                "transport": "smtp",
                "smtp": {"host": host, "port": port, "security": "none"},
            },
            "gitlab_todo": {"enabled": False},
        },
        # in CI the clock is the system's: the quiet hours of the shipped configuration
        # (config/notification-channels.yml: 22:00 to 07:00 Vienna) would hold the mail back
        # when the suite runs at night. commit_config sets this one key of `preferences`.
        "preferences": {"quiet_hours": None},
    }


def job(fake: FakeGitLab, **variables: str) -> dict[str, str]:
    """A CI job's environment: GitLab's own variables, the project's, and `variables`
    (which a pipeline variable can set, predefined ones included)."""
    return {
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_JOB_ID": "7",
        "CI_SERVER_URL": fake.url,
        "CI_PROJECT_ID": "1",
        "GITLAB_TOKEN": fake.token,
        **variables,
    }


def run(
    capsys: pytest.CaptureFixture[str], argv: list[str], env: dict[str, str]
) -> tuple[int, str]:
    capsys.readouterr()
    code = main(argv, env)
    printed = capsys.readouterr()
    assert "Traceback" not in printed.out + printed.err
    return code, printed.out + printed.err


def test_ci_server_url_from_a_pipeline_variable_never_gets_the_token(
    repo: Path, fake: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeGitLab(token="the-attacker-does-not-know-it") as elsewhere:
        code, out = run(capsys, ["stage"], job(fake, CI_SERVER_URL=elsewhere.url))
        assert elsewhere.requests == []  # today: GET /projects/1/labels with the token
    assert code == 2
    [line] = [x for x in out.splitlines() if "gitlab.url" in x]
    assert "gitlab.url is not set in config/notification-channels.yml" in line
    assert "match-staging bootstrap" in line and "commit" in line
    assert fake.requests == [] and job_matches(fake) == {}

    commit_config(repo, gitlab={"url": fake.url})  # what bootstrap writes
    code, out = run(capsys, ["stage"], job(fake))
    assert code == 0, out
    assert len(job_matches(fake)) == 5


@pytest.mark.parametrize("variable", ["SMTP_HOST", "SMTP_PORT"])
def test_the_smtp_server_never_comes_from_a_pipeline_variable(
    variable: str, repo: Path, fake: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    with SmtpSink() as ours, SmtpSink() as theirs:
        host = "${SMTP_HOST}" if variable == "SMTP_HOST" else "127.0.0.1"
        port = "${SMTP_PORT}" if variable == "SMTP_PORT" else ours.port
        commit_config(repo, gitlab={"url": fake.url}, notification=email_by(host, port))
        env = job(fake, SMTP_HOST="127.0.0.1", SMTP_PORT=str(theirs.port), SMTP_PASSWORD="pw")
        code, out = run(capsys, ["stage"], env)
        assert theirs.messages == [] and ours.messages == []  # today: the mail went to theirs
        assert code == 2
        assert f"notification.channels.email.smtp.{variable[5:].lower()}: in CI write" in out
        assert "where the mail and the SMTP login go" in out

        commit_config(repo, notification=email_by("127.0.0.1", ours.port))
        code, out = run(capsys, ["stage"], env)
        assert code == 0, out
        assert len(ours.messages) == 1 and theirs.messages == []


def test_match_staging_now_is_not_the_clock_in_ci(
    repo: Path, fake: FakeGitLab, smtp: SmtpSink, capsys: pytest.CaptureFixture[str]
) -> None:
    """Quiet hours from two to four hours from now (UTC): a pipeline variable putting the
    clock three hours ahead would hold every announcement back."""
    now = system_now()
    quiet = {
        "start": f"{(now + timedelta(hours=2)):%H:%M}",
        "end": f"{(now + timedelta(hours=4)):%H:%M}",
        "timezone": "UTC",
    }
    notification = email_by("127.0.0.1", smtp.port)
    notification["preferences"] = {"quiet_hours": quiet}
    commit_config(repo, gitlab={"url": fake.url}, notification=notification)
    later = (now + timedelta(hours=3)).isoformat()
    code, out = run(capsys, ["stage"], job(fake, MATCH_STAGING_NOW=later))
    assert code == 0, out
    assert "deferred" not in out and len(smtp.messages) == 1  # today: deferred, none sent
    assert "MATCH_STAGING_NOW" in out  # said among the variables CI ignores


def test_gitlab_user_login_does_not_name_who_acted_in_ci(
    repo: Path, fake: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    commit_config(
        repo,
        gitlab={"url": fake.url, "bot_username": "bot"},
        workflow={"label_ids": bootstrapped_label_ids(fake)},
    )
    assert run(capsys, ["stage"], job(fake))[0] == 0
    code, out = run(capsys, ["review", "5", "--reject"], job(fake, GITLAB_USER_LOGIN="reviewer"))
    assert code == 0, out
    [audit] = fake.user_notes(5)
    assert "by bot" in audit["body"] and "reviewer" not in audit["body"]  # today: by reviewer


@pytest.mark.parametrize("setting", ["developer", "maintainer", "no_one_allowed"])
def test_digest_warns_while_developers_may_set_pipeline_variables(
    setting: str, repo: Path, fake: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.project["ci_pipeline_variables_minimum_override_role"] = setting
    commit_config(
        repo, gitlab={"url": fake.url}, workflow={"label_ids": bootstrapped_label_ids(fake)}
    )
    fake.reset_log()
    code, out = run(capsys, ["digest"], job(fake))
    assert code == 0, out  # a warning, not a failure: the run did its work
    warned = [line for line in out.splitlines() if line.startswith("warning   pipeline")]
    assert bool(warned) is (setting == "developer")
    if warned:
        assert "Minimum role to use pipeline variables" in warned[0]
        assert "No one allowed" in warned[0] and "CI_SERVER_URL" in warned[0]
    assert fake.count("GET", r"/projects/1$") == 1  # one GET of the project


@pytest.mark.parametrize("argv", [["review", "1", "--approve"], ["digest"]])
def test_a_gate_command_in_ci_refuses_without_the_label_ids(
    argv: list[str], repo: Path, fake: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without `workflow.label_ids` a Reporter could approve by renaming labels (issue 20,
    item 1): in CI the gate stops with one line until bootstrap's file is committed."""
    commit_config(repo, gitlab={"url": fake.url, "bot_username": "bot"})
    assert run(capsys, ["stage"], job(fake))[0] == 0  # staging approves nothing: it runs
    before = [(i["labels"], i["state"]) for i in fake.issues.values()]
    fake.reset_log()
    code, out = run(capsys, argv, job(fake))
    assert code == 2 and "workflow.label_ids is not recorded" in out, out
    assert "match-staging bootstrap" in out
    assert [(i["labels"], i["state"]) for i in fake.issues.values()] == before
    assert [r for r in fake.requests if r.method != "GET"] == []

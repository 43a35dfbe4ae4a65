"""`bootstrap` against the fake GitLab: what a first run creates, that a second run writes
nothing, that a dry run prints the same actions and writes nothing, that drift is repaired
field by field, that foreign objects are left alone, and that the trigger token (a secret in
the webhook URL) is never printed."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from match_staging import cli
from match_staging.config import Config, load
from match_staging.errors import ConfigError, TrackerError
from match_staging.labels import label_specs
from match_staging.model import State
from match_staging.usecases.bootstrap import BootstrapReport, run
from tests.conftest import deployment, patch_time
from tests.fakes.gitlab import FakeGitLab

WRITES = ("POST", "PUT", "DELETE", "PATCH")


@pytest.fixture
def fake() -> Iterator[FakeGitLab]:
    with FakeGitLab() as server:
        yield server


def env_for(fake: FakeGitLab, **extra: str) -> dict[str, str]:
    return {"GITLAB_URL": fake.url, "GITLAB_TOKEN": fake.token, "GITLAB_PROJECT": "1", **extra}


def bootstrap(
    fake: FakeGitLab, *, dry_run: bool = False, env: Mapping[str, str] | None = None
) -> BootstrapReport:
    env = env or env_for(fake)
    return run(load(None, env), env, dry_run)


def printed(report: BootstrapReport) -> str:
    return "\n".join([*report.lines(), report.summary()])


def writes(fake: FakeGitLab) -> list[str]:
    return [f"{r.method} {r.path}" for r in fake.requests if r.method in WRITES]


def hook_url(fake: FakeGitLab) -> str:
    token = fake.triggers[0]["token"]
    return f"{fake.url}/api/v4/projects/1/ref/main/trigger/pipeline?token={token}"


@pytest.fixture(autouse=True)
def _repo(repo: Path) -> Path:
    """Every test runs in a copy of the repository (config/notification-channels.yml)."""
    return repo


@pytest.fixture(scope="module")
def _bootstrapped_once(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[FakeGitLab, dict[str, Any], dict[str, str]]]:
    """One first `bootstrap` per module, on a fresh fake in a copy of the deployment: the
    fake, its state right after, and the configuration files the run wrote (the URL)."""
    where = tmp_path_factory.mktemp("bootstrapped")
    with FakeGitLab() as server, pytest.MonkeyPatch.context() as patch:
        deployment(where, patch)
        patch_time(patch)
        assert bootstrap(server).ok
        config = {p.name: p.read_text(encoding="utf-8") for p in (where / "config").iterdir()}
        patch.undo()
        yield server, server.snapshot(), config


@pytest.fixture
def first_run(
    _bootstrapped_once: tuple[FakeGitLab, dict[str, Any], dict[str, str]], repo: Path
) -> FakeGitLab:
    """The project and the repository's configuration right after a first `bootstrap` on a
    fresh project, request log included: what `bootstrap(fake)` on the `fake` fixture leaves,
    without running it again for each test (a first run makes about 25 objects)."""
    server, state, config = _bootstrapped_once
    for name, text in config.items():
        (repo / "config" / name).write_text(text, encoding="utf-8")
    server.restore(state)
    return server


# --------------------------------------------------------------------------- first run


def test_first_run_creates_everything_with_the_right_fields(fake: FakeGitLab) -> None:
    report = bootstrap(fake)
    assert (
        report.ok and report.applied == 27
    )  # with the state labels' ids recorded in the configuration

    cfg = Config()
    for spec in label_specs(cfg.labels):
        label = fake.labels[spec.name]
        assert (label["color"], label["description"]) == (spec.color, spec.description)

    (board,) = fake.boards
    assert board["name"] == "Job matches"
    assert [bl["label"]["name"] for bl in sorted(board["lists"], key=lambda b: b["position"])] == [
        "job-match/pending",
        "job-match/approved",
        "job-match/rejected",
        "job-match/sent",
        "job-match/expired",
        "job-match/interview",
        "job-match/offer",
        "job-match/declined",
        "job-match/ghosted",
    ]

    (trigger,) = fake.triggers
    assert trigger["description"] == "match-staging webhook"

    (hook,) = fake.hooks
    assert hook["url"] == hook_url(fake)
    assert hook["issues_events"] is True
    assert hook["note_events"] is False and hook["push_events"] is False
    assert hook["merge_requests_events"] is False and hook["tag_push_events"] is False

    (schedule,) = fake.schedules
    assert {k: schedule[k] for k in ("description", "cron", "cron_timezone", "ref", "active")} == {
        "description": "match-staging digest",
        "cron": "5 7,12,17 * * *",
        "cron_timezone": "Europe/Vienna",  # the quiet-hours zone of the shipped config
        "ref": "main",
        "active": True,
    }
    assert schedule["variables"] == []  # a schedule pipeline runs digest: no variable needed

    text = printed(report)
    assert "create label job-match/pending (#f0ad4e)" in text
    assert 'create board "Job matches"' in text
    assert 'create list job-match/sent on board "Job matches"' in text
    assert 'create trigger "match-staging webhook"' in text
    assert (
        f"create hook {fake.url}/api/v4/projects/1/ref/main/trigger/pipeline?token=*** "
        "(issue events)"
    ) in text
    assert 'create schedule "match-staging digest" (5 7,12,17 * * * Europe/Vienna on main)' in text
    assert report.summary() == (
        f"27 changes made, 0 up to date · {len(fake.requests)} GitLab requests"
    )
    assert fake.triggers[0]["token"] not in text
    assert report.secrets == [fake.triggers[0]["token"]]


def test_settings_shape_the_schedule_board_and_hook(fake: FakeGitLab) -> None:
    env = env_for(
        fake,
        MATCH_STAGING__GITLAB__REF="release/v1",
        MATCH_STAGING__GITLAB__BOARD="Review",
        MATCH_STAGING__GITLAB__DIGEST_CRON="0 8 * * 1-5",
        MATCH_STAGING__GITLAB__DIGEST_TIMEZONE="America/New_York",
        MATCH_STAGING__LABELS__PENDING="todo",
    )
    assert bootstrap(fake, env=env).ok
    assert fake.boards[0]["name"] == "Review"
    assert fake.boards[0]["lists"][0]["label"]["name"] == "todo"
    assert {k: fake.schedules[0][k] for k in ("cron", "cron_timezone", "ref")} == {
        "cron": "0 8 * * 1-5",
        "cron_timezone": "America/New_York",
        "ref": "release/v1",
    }
    assert fake.hooks[0]["url"].startswith(
        f"{fake.url}/api/v4/projects/1/ref/release%2Fv1/trigger/pipeline?token=glptt-"
    )


def test_without_quiet_hours_the_schedule_runs_in_utc(fake: FakeGitLab, repo: Path) -> None:
    (repo / "config" / "notification-channels.yml").write_text("gitlab: {}\n")
    assert bootstrap(fake).ok
    assert fake.schedules[0]["cron_timezone"] == "UTC"


def test_project_path_is_resolved_to_its_id_for_the_webhook(fake: FakeGitLab) -> None:
    report = bootstrap(fake, env=env_for(fake, GITLAB_PROJECT="freelancer/backoffice"))
    assert report.ok
    assert fake.hooks[0]["url"] == hook_url(fake)


# --------------------------------------------------------------------------- idempotence


def test_second_run_changes_nothing_and_writes_nothing(first_run: FakeGitLab) -> None:
    fake = first_run  # right after a first bootstrap
    fake.reset_log()
    report = bootstrap(fake)
    assert writes(fake) == []
    assert report.changes == [] and report.applied == 0
    assert all(line.startswith(("ok     ", "note   ")) for line in report.lines())
    assert 'ok     board "Job matches"' in report.lines()
    assert report.summary() == (
        f"nothing to change: the project is set up · {len(fake.requests)} GitLab requests"
    )
    # the project, GitLab's version (pipeline variables are restricted: whether trigger
    # pipelines run under that), and five listings
    assert len(fake.requests) == 7


def test_dry_run_writes_nothing_and_prints_what_the_real_run_does(fake: FakeGitLab) -> None:
    dry = bootstrap(fake, dry_run=True)
    assert writes(fake) == []
    assert (fake.labels, fake.boards, fake.triggers, fake.hooks, fake.schedules) == (
        {},
        [],
        [],
        [],
        [],
    )
    assert dry.applied == 0 and len(dry.changes) == 27
    assert dry.summary().startswith(
        "dry run: 27 changes would be made, 0 up to date; nothing was changed"
    )

    real = bootstrap(fake)
    assert dry.lines() == real.lines()
    assert real.applied == 27


def test_dry_run_on_a_drifted_project_shows_the_update_it_would_make(first_run: FakeGitLab) -> None:
    fake = first_run  # right after a first bootstrap
    fake.labels["job-match"]["color"] = "#ff0000"
    fake.reset_log()
    dry = bootstrap(fake, dry_run=True)
    assert writes(fake) == []
    assert fake.labels["job-match"]["color"] == "#ff0000"
    real = bootstrap(fake)
    assert dry.lines() == real.lines()
    assert [a.line() for a in dry.changes] == ["update label job-match (color #ff0000 -> #6699cc)"]


# --------------------------------------------------------------------------- drift


def test_a_drifted_label_colour_gets_one_update(first_run: FakeGitLab) -> None:
    fake = first_run  # right after a first bootstrap
    fake.labels["job-match"]["color"] = "#ff0000"
    fake.reset_log()
    report = bootstrap(fake)
    assert writes(fake) == ["PUT /api/v4/projects/1/labels"]  # name in the body
    assert "update label job-match (color #ff0000 -> #6699cc)" in report.lines()
    assert report.summary().startswith("1 change made, 16 up to date")
    assert fake.labels["job-match"]["color"] == "#6699cc"


def test_colour_case_is_not_drift_but_a_changed_description_is(first_run: FakeGitLab) -> None:
    fake = first_run  # right after a first bootstrap
    fake.labels["job-match/sent"]["color"] = "#428BCA"
    fake.labels["job-match/sent"]["description"] = "sent!"
    fake.reset_log()
    report = bootstrap(fake)
    assert [a.line() for a in report.changes] == [
        "update label job-match/sent (description 'sent!' -> 'Application sent')"
    ]
    assert fake.labels["job-match/sent"]["description"] == "Application sent"
    assert fake.labels["job-match/sent"]["color"] == "#428BCA"


def test_a_group_label_is_not_updated(fake: FakeGitLab) -> None:
    fake.add_label("job-match", "#000000", "A job match staged by match-staging")
    fake.labels["job-match"]["is_project_label"] = False
    report = bootstrap(fake)
    assert report.ok
    assert fake.labels["job-match"]["color"] == "#000000"
    assert (
        "ok     label job-match (group label, left as it is: color #000000 -> #6699cc)"
        in report.lines()
    )


def test_existing_labels_and_a_partial_board_are_completed(fake: FakeGitLab) -> None:
    pending = fake.add_label("job-match/pending", "#f0ad4e", "Job match waiting for review")
    sent = fake.add_label("job-match/sent", "#428bca", "Application sent")
    with fake.lock:
        fake.boards.append(
            {
                "id": 7,
                "name": "Job matches",
                "lists": [
                    {"id": 1, "position": 0, "label": dict(sent)},
                    {"id": 2, "position": 1, "label": dict(pending)},
                ],
            }
        )
    report = bootstrap(fake)
    assert report.ok
    lines = report.lines()
    assert "ok     label job-match/pending" in lines
    assert 'ok     board "Job matches" (lists in another order, left as they are)' in lines
    assert [line for line in lines if line.startswith("create list")] == [
        'create list job-match/approved on board "Job matches"',
        'create list job-match/rejected on board "Job matches"',
        *(
            f'create list job-match/{s} on board "Job matches"'
            for s in ("expired", "interview", "offer", "declined", "ghosted")
        ),
    ]
    assert [bl["label"]["name"] for bl in fake.boards[0]["lists"]] == [
        "job-match/sent",
        "job-match/pending",
        "job-match/approved",
        "job-match/rejected",
        *(f"job-match/{s}" for s in ("expired", "interview", "offer", "declined", "ghosted")),
    ]
    assert len(fake.boards) == 1


def test_hook_events_and_schedule_drift_are_repaired(first_run: FakeGitLab) -> None:
    fake = first_run  # right after a first bootstrap
    fake.hooks[0].update(push_events=True, note_events=True)
    fake.schedules[0].update(cron="0 0 * * *", active=False)
    fake.reset_log()
    report = bootstrap(fake)
    assert [a.line() for a in report.changes] == [
        f"update hook {fake.url}/api/v4/projects/1/ref/main/trigger/pipeline?token=*** "
        "(note_events true -> false, push_events true -> false)",
        'update schedule "match-staging digest" (cron 0 0 * * * -> 5 7,12,17 * * *, '
        "active false -> true)",
    ]
    hook, schedule = fake.hooks[0], fake.schedules[0]
    assert (hook["push_events"], hook["note_events"], hook["issues_events"]) == (False, False, True)
    assert (schedule["cron"], schedule["active"]) == ("5 7,12,17 * * *", True)
    assert len(fake.hooks) == len(fake.schedules) == 1


@pytest.mark.parametrize(
    ("status", "said"),
    [("disabled", "GitLab disabled it"), ("temporarily_disabled", "GitLab paused it")],
)
def test_a_hook_gitlab_switched_off_is_switched_back_on(
    first_run: FakeGitLab, status: str, said: str
) -> None:
    """An edit does not re-enable a hook (lib/api/helpers/web_hooks_helpers.rb); a test
    delivery that gets a 2xx does (test_hooks/base_service.rb force: true, enable! on :ok)."""
    fake = first_run  # right after a first bootstrap
    fake.add_issue("a staged match")  # a test of issue events shows the project's issue
    fake.hooks[0].update(alert_status=status, disabled_until="2099-01-01T00:00:00Z")
    fake.reset_log()
    report = bootstrap(fake)
    assert report.ok
    assert writes(fake) == ["POST /api/v4/projects/1/hooks/1/test/issues_events"]
    (line,) = [line for line in report.lines() if " hook " in f" {line}"]
    assert line.startswith("update hook ") and f"({said} after failed deliveries" in line
    assert (fake.hooks[0]["alert_status"], fake.hooks[0]["disabled_until"]) == ("executable", None)
    assert len(fake.pipeline_creations) == 1  # the test delivery's pipeline
    fake.reset_log()
    assert bootstrap(fake).ok and writes(fake) == []  # on again: nothing to do


def test_a_hook_that_cannot_be_tested_yet_is_a_failed_step_saying_what_to_do(
    first_run: FakeGitLab,
) -> None:
    fake = first_run  # no issue in the project: GitLab has no issue event to send as a test
    fake.hooks[0]["alert_status"] = "disabled"
    report = bootstrap(fake)
    assert not report.ok and fake.hooks[0]["alert_status"] == "disabled"
    (line,) = [line for line in report.lines() if line.startswith("failed hook ")]
    assert "Ensure the project has issues" in line and "Test > Issue events" in line
    assert fake.triggers[0]["token"] not in printed(report)


def test_an_existing_hook_without_confidential_issue_events_gets_them(
    first_run: FakeGitLab,
) -> None:
    """Issue 20, item 8: a confidential issue's events reach only confidential_issues_events
    hooks (app/services/issues/base_service.rb); a hook made by an earlier bootstrap lacks it."""
    fake = first_run  # right after a first bootstrap
    fake.hooks[0]["confidential_issues_events"] = False
    fake.reset_log()
    report = bootstrap(fake)
    assert [a.line() for a in report.changes] == [
        f"update hook {fake.url}/api/v4/projects/1/ref/main/trigger/pipeline?token=*** "
        "(confidential_issues_events false -> true)"
    ]
    assert fake.hooks[0]["confidential_issues_events"] is True
    assert fake.hooks[0]["confidential_note_events"] is False  # the run log's records: no


def test_a_schedule_on_the_full_ref_name_is_not_drift(first_run: FakeGitLab) -> None:
    fake = first_run  # right after a first bootstrap
    fake.schedules[0]["ref"] = "refs/heads/main"
    fake.reset_log()
    bootstrap(fake)
    assert writes(fake) == []


def test_a_hook_with_another_url_is_left_alone(fake: FakeGitLab) -> None:
    with fake.lock:
        fake.hooks.append(
            {
                "id": 41,
                "url": "https://chat.example.com/gitlab",
                "token": None,
                "push_events": True,
                "issues_events": True,
                "note_events": True,
            }
        )
    before = dict(fake.hooks[0])
    report = bootstrap(fake)
    assert report.ok
    assert len(fake.hooks) == 2
    assert fake.hooks[0] == before
    assert fake.hooks[1]["url"] == hook_url(fake)
    assert not any(r.path.endswith("/hooks/41") for r in fake.requests)


def test_a_new_trigger_token_is_put_into_the_existing_hook(first_run: FakeGitLab) -> None:
    fake = first_run  # right after a first bootstrap
    old = fake.triggers[0]["token"]
    fake.triggers.clear()  # someone deleted the trigger: its token is dead
    report = bootstrap(fake)
    new = fake.triggers[0]["token"]
    assert new != old
    assert fake.hooks[0]["url"] == hook_url(fake) and len(fake.hooks) == 1
    assert [a.line() for a in report.changes] == [
        'create trigger "match-staging webhook"',
        f"update hook {fake.url}/api/v4/projects/1/ref/main/trigger/pipeline?token=*** "
        "(token: the new trigger's)",
    ]
    assert old not in printed(report) and new not in printed(report)


def test_the_hook_is_found_by_its_token_when_the_gitlab_address_changed(
    first_run: FakeGitLab,
) -> None:
    fake = first_run  # right after a first bootstrap
    token = fake.triggers[0]["token"]
    fake.hooks[0]["url"] = (
        f"https://old.example.com/api/v4/projects/1/ref/main/trigger/pipeline?token={token}"
    )
    report = bootstrap(fake)
    assert fake.hooks[0]["url"] == hook_url(fake) and len(fake.hooks) == 1
    (change,) = report.changes
    assert change.line() == (
        f"update hook {fake.url}/api/v4/projects/1/ref/main/trigger/pipeline?token=*** "
        "(url https://old.example.com/api/v4/projects/1/ref/main/trigger/pipeline?token=*** "
        f"-> {fake.url}/api/v4/projects/1/ref/main/trigger/pipeline?token=***)"
    )
    assert token not in printed(report)


def test_a_trigger_of_another_user_is_reported_and_the_rest_is_done(fake: FakeGitLab) -> None:
    with fake.lock:
        fake.triggers.append(
            {
                "id": 3,
                "description": "match-staging webhook",
                "token": "glpt",
                "owner": fake.users[2],
            }
        )
    report = bootstrap(fake)
    assert not report.ok
    failed = [line for line in report.lines() if line.startswith("failed")]
    assert len(failed) == 2 and "belongs to another user" in failed[0]
    assert "Pipeline trigger tokens" in failed[0] and "needs the trigger's token" in failed[1]
    assert fake.hooks == [] and len(fake.schedules) == 1 and len(fake.boards) == 1


# --------------------------------------------------------------------------- failures


def test_a_failed_change_does_not_stop_the_run_and_the_next_run_finishes(fake: FakeGitLab) -> None:
    fake.fail_next("POST", r"/hooks$", status=422)
    report = bootstrap(fake)
    assert not report.ok and report.applied == 26
    token = fake.triggers[0]["token"]
    text = printed(report)
    assert token not in text
    failed = [line for line in report.lines() if line.startswith("failed")]
    assert len(failed) == 1 and failed[0].startswith(
        f"failed hook {fake.url}/api/v4/projects/1/ref/main/trigger/pipeline?token=***: "
        "GitLab could not create the webhook: 422"
    )
    assert "Outbound requests" in failed[0]  # the self-managed local-network hint
    assert report.summary().startswith("26 of 27 changes made, 1 failed")
    assert fake.hooks == [] and len(fake.schedules) == 1  # the schedule was still made

    fake.reset_log()
    again = bootstrap(fake)
    assert again.ok and [a.line().split(" ")[1] for a in again.changes] == ["hook"]
    assert fake.hooks[0]["url"] == hook_url(fake)


def test_an_unreachable_gitlab_is_a_tracker_error(fake: FakeGitLab) -> None:
    fake.fail_next("GET", r"/labels$", status=503)
    with pytest.raises(TrackerError, match="GitLab could not list labels: 503"):
        bootstrap(fake)


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        ("GITLAB_TOKEN", "GITLAB_TOKEN is not set"),
        ("GITLAB_PROJECT", "GITLAB_PROJECT not set"),
        ("GITLAB_URL", "GITLAB_URL not set"),
    ],
)
def test_missing_connection_settings_are_configuration_errors(
    fake: FakeGitLab, drop: str, message: str
) -> None:
    env = {k: v for k, v in env_for(fake).items() if k != drop}
    with pytest.raises(ConfigError, match=message):
        run(load(None, env), env, False)
    assert fake.requests == []


# --------------------------------------------------------------------------- the command


@pytest.mark.skipif(
    "bootstrap" not in cli.COMMANDS, reason="the bootstrap command is not wired into the CLI yet"
)
def test_the_command_prints_actions_and_never_the_token(
    fake: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    env = env_for(fake)
    assert cli.main(["bootstrap", "--dry-run"], env) == 0
    dry = capsys.readouterr().out
    assert writes(fake) == []
    assert cli.main(["bootstrap"], env) == 0
    real = capsys.readouterr().out
    assert cli.main(["bootstrap"], env) == 0
    again = capsys.readouterr().out
    token = fake.triggers[0]["token"]
    for out in (dry, real, again):
        assert token not in out
        assert "?token=***" in out
    assert "create label job-match/pending (#f0ad4e)" in dry
    assert [line for line in dry.splitlines() if line.startswith("create")] == [
        line for line in real.splitlines() if line.startswith("create")
    ]
    assert "nothing to change" in again


# --------------------------------------------------------------------------- gitlab.url


def test_bootstrap_writes_the_gitlab_url_into_the_committed_file(
    fake: FakeGitLab, repo: Path
) -> None:
    """In CI the URL comes only from the file (issue 20): bootstrap puts it there, keeping
    every other line and comment; a dry run says the same and writes nothing."""
    path = repo / "config" / "notification-channels.yml"
    before = path.read_text(encoding="utf-8")
    dry = bootstrap(fake, dry_run=True)
    assert path.read_text(encoding="utf-8") == before
    real = bootstrap(fake)
    [note] = [n for n in real.notes if "gitlab:" in n]
    assert note in dry.notes and "commit it" in note and "CI_SERVER_URL" in note
    after = path.read_text(encoding="utf-8")
    changed = [line for line in after.splitlines() if line not in before.splitlines()]
    assert changed == [
        f'  url: "{fake.url}"  # `bootstrap` writes it; in CI the only source '
        "(else GITLAB_URL, CI_SERVER_URL)",
        # the project's id: in CI it outranks CI_PROJECT_ID, which a pipeline variable could set
        '  project: "1"  # `bootstrap` writes its id; else GITLAB_PROJECT, then CI_PROJECT_ID',
        # and the state labels' ids (identity: issue 20, item 1), the one other line it writes
        "  label_ids: {"
        + ", ".join(
            f"{s}: {fake.labels[f'job-match/{s}']['id']}"
            for s in (
                "pending",
                "approved",
                "rejected",
                "sent",
                "expired",
                "interview",
                "offer",
                "declined",
                "ghosted",
            )
        )
        + "}",
    ]
    assert load(None, {}).gitlab.url == fake.url
    assert not [n for n in bootstrap(fake).notes if "gitlab:" in n]  # there: nothing to say


def test_a_first_bootstrap_without_a_configuration_file_writes_one_with_the_url_and_ids(
    fake: FakeGitLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One writer, one policy (found in review): the file is made with everything CI needs
    from it, not with the ids alone while the URL is merely advised."""
    monkeypatch.chdir(tmp_path)
    report = bootstrap(fake)
    assert report.ok, printed(report)
    written = load(str(tmp_path / "config" / "notification-channels.yml"), {})
    assert written.gitlab.url == fake.url
    assert set(written.workflow.label_ids) == {s.value for s in State}


# --------------------------------------------------------------------------- issue 23

LATER = ("expired", "interview", "offer", "declined", "ghosted")


def test_a_project_bootstrapped_before_the_later_states_gets_their_labels_lists_and_ids(
    fake: FakeGitLab, repo: Path
) -> None:
    """A project set up before issue 23: its label_ids name the four first states only, the
    labels and lists of the later ones are missing. The configuration still loads; bootstrap
    adds the labels and lists and records their ids beside the recorded ones (unchanged),
    once: the next run changes nothing."""
    assert bootstrap(fake).ok
    path = repo / "config" / "notification-channels.yml"
    first = load(None, {}).workflow.label_ids
    old = {s: i for s, i in first.items() if s not in LATER}
    text = path.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("  label_ids:"))
    path.write_text(
        text.replace(line, "  label_ids: {" + ", ".join(f"{s}: {i}" for s, i in old.items()) + "}"),
        encoding="utf-8",
    )
    with fake.lock:
        for s in LATER:
            del fake.labels[f"job-match/{s}"]
        board = fake.boards[0]
        board["lists"] = [
            b for b in board["lists"] if b["label"]["name"].split("/")[1] not in LATER
        ]
    assert load(None, {}).workflow.label_ids == old  # loads as it is

    report = bootstrap(fake)
    assert report.ok, printed(report)
    assert sorted(a.line() for a in report.changes) == sorted(
        [
            f"create label job-match/{s} ({spec.color})"
            for s in LATER
            for spec in label_specs(Config().labels)
            if spec.name == f"job-match/{s}"
        ]
        + [f'create list job-match/{s} on board "Job matches"' for s in LATER]
        + [
            "update config workflow.label_ids (the ids of the new state labels expired, "
            "interview, offer, declined, ghosted, in config/notification-channels.yml: "
            "commit it)"
        ]
    )
    ids = load(None, {}).workflow.label_ids
    assert ids == {**old, **{s: fake.labels[f"job-match/{s}"]["id"] for s in LATER}}
    fake.reset_log()
    again = bootstrap(fake)
    assert again.ok and again.changes == [] and writes(fake) == []

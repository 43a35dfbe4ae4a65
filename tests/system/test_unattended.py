"""Running unattended for a year (issue 19 §1 and §4, issue 20 item 8), through the CLI on
the fake GitLab with the run's clock moved: the bot's token warns before it expires and
is one clear line once it has; a webhook GitLab switched off is reported, told and switched
back on; a confidential issue's events still reach the gate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import gitlab
import pytest

from match_staging import clock
from match_staging.cli import main
from match_staging.config import Config
from match_staging.usecases.review import parse_event
from tests.conftest import bootstrapped_label_ids
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.smtp_sink import SmtpSink
from tests.gate import Staged, staged_once

EXPIRES = date(2026, 3, 21)
MARCH_1 = "2026-03-01T09:05:00+01:00"  # the day the world starts, 20 days before EXPIRES
FIXTURES = Path(__file__).parents[1] / "fixtures" / "gitlab"
PREFILTER = Path(__file__).parents[2] / "ci" / "prefilter.py"
PREFIX = "MATCH_STAGING__NOTIFICATION__CHANNELS__EMAIL__"


@dataclass
class World:
    fake: FakeGitLab
    smtp: SmtpSink
    capsys: pytest.CaptureFixture[str]
    now: str = MARCH_1

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "GITLAB_URL": self.fake.url,
            "GITLAB_TOKEN": self.fake.token,
            "GITLAB_PROJECT": "1",
            "MATCH_STAGING_NOW": self.now,
            "MATCH_STAGING__WORKFLOW__REVIEWERS": "[reviewer]",
            "MATCH_STAGING__GITLAB__BOT_USERNAME": "bot",
            f"{PREFIX}ENABLED": "true",
            f"{PREFIX}SMTP__PORT": str(self.smtp.port),
            f"{PREFIX}SMTP__SECURITY": "none",
            "SMTP_HOST": "127.0.0.1",
            "MATCH_STAGING__NOTIFICATION__CHANNELS__GITLAB_TODO__ENABLED": "false",
            **extra,
        }

    def at(self, now: str) -> World:
        """Move the run's clock, and GitLab's with it (the token's expiry is GitLab's)."""
        self.now = now
        moment = clock.parse(now)
        assert moment is not None
        self.fake.clock = lambda: moment
        return self

    def run(self, *argv: str, **extra: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(list(argv), self.env(**extra))
        captured = self.capsys.readouterr()
        assert "Traceback" not in captured.out + captured.err
        assert self.fake.token not in captured.out + captured.err
        return code, captured.out, captured.err

    def alerts(self) -> list[str]:
        """The subjects of the operator alerts the freelancer got by email."""
        return [str(m["Subject"]) for m in self.smtp.messages if "braucht dich" in m["Subject"]]


def first_of_march(
    fake: FakeGitLab, smtp: SmtpSink, repo: Path, capsys: pytest.CaptureFixture[str]
) -> World:
    """The world on 1 March: labels first, as bootstrap leaves a project, and a token GitLab
    says expires on EXPIRES."""
    bootstrapped_label_ids(fake)
    fake.token_expires_at[fake.token] = EXPIRES
    return World(fake, smtp, capsys).at(MARCH_1)


@pytest.fixture
def world(repo: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[World]:
    with FakeGitLab() as fake, SmtpSink() as smtp:
        yield first_of_march(fake, smtp, repo, capsys)


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Staged]:
    with staged_once(tmp_path_factory.mktemp("staged"), ("stage",), world=first_of_march) as done:
        yield done


@pytest.fixture
def staged_world(staged: Staged, repo: Path, capsys: pytest.CaptureFixture[str]) -> World:
    """`world` after `world.run("stage")`, the token still valid (once per module:
    `staged_once`; the fake GitLab, its clock included, and the sink as right after)."""
    gate = staged.gate(repo, capsys)
    return World(gate.fake, gate.smtp, capsys).at(MARCH_1)


# --------------------------------------------------------------------- the token (§1)


def test_the_freelancer_is_told_from_30_days_before_once_a_week_and_red_in_the_last_week(
    world: World,
) -> None:
    code, out, _ = world.run("digest")  # 20 days before
    assert code == 0, out
    assert "token     GITLAB_TOKEN expires on 2026-03-21 (in 20 days)" in out
    (subject,) = world.alerts()
    assert "läuft am 2026-03-21 ab (in 20 Tagen)" in subject
    mail = world.smtp.messages[-1]
    text = str(mail.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert "User settings > Access tokens" in text and "GITLAB_TOKEN" in text
    assert f"{world.fake.url}/-/user_settings/personal_access_tokens" in text
    html = str(mail.get_body(("html",)).get_content())  # type: ignore[union-attr]
    assert f'href="{world.fake.url}/projects/1/-/settings/ci_cd"' in html
    assert world.fake.count("GET", r"/personal_access_tokens/self$") == 1
    assert world.fake.count("GET", r"/hooks$") == 1  # shared by the check and the repair
    # the record is a run-log note (never a note on an issue), as reminders are
    log = [i for i in world.fake.issues.values() if i["title"] == "match-staging run log"]
    assert len(log) == 1 and all(
        not world.fake.user_notes(i) for i in world.fake.issues if i != log[0]["iid"]
    )

    code, out, _ = world.at("2026-03-04T09:05:00+01:00").run("digest")  # 3 days later
    assert code == 0 and "(in 17 days)" in out
    assert len(world.alerts()) == 1  # at most once a week

    code, out, _ = world.at("2026-03-09T09:05:00+01:00").run("digest")  # 8 days later
    assert code == 0 and len(world.alerts()) == 2

    code, out, _ = world.at("2026-03-16T10:05:00+01:00").run("digest")  # 5 days before
    assert code == 1, out
    assert "(in 5 days); in its last week every digest fails until it is replaced" in out
    assert len(world.alerts()) == 3


def test_the_alert_waits_for_the_end_of_quiet_hours_but_the_run_fails_at_once(
    world: World,
) -> None:
    code, out, _ = world.at("2026-03-16T23:30:00+01:00").run("digest")
    assert code == 1 and "quiet hours until" in out and "expires on 2026-03-21" in out
    assert world.alerts() == []
    code, _, _ = world.at("2026-03-17T07:05:00+01:00").run("digest")
    assert code == 1 and len(world.alerts()) == 1


def test_a_token_far_from_expiry_or_without_one_says_nothing(world: World) -> None:
    world.fake.token_expires_at[world.fake.token] = date(2026, 12, 1)
    code, out, _ = world.run("digest")
    assert code == 0 and "token" not in out and world.alerts() == []
    world.fake.token_expires_at[world.fake.token] = None
    code, out, _ = world.run("digest")
    assert code == 0 and "token" not in out and world.alerts() == []


@pytest.mark.parametrize("status", [404, 400, 403, 401])
def test_a_gitlab_that_does_not_say_is_said_once_and_does_not_fail_the_run(
    world: World, status: int
) -> None:
    """404: a GitLab before 15.5; 400: no personal access token; 403 and a 401 without
    `invalid_token` from this endpoint alone: the token works elsewhere, the run goes on."""
    if status in (404, 400):
        world.fake.token_self_status = status
    else:
        world.fake.fail_next("GET", r"/personal_access_tokens/self$", status=status)
    code, out, _ = world.run("digest")
    assert code == 0, out
    (line,) = [x for x in out.splitlines() if x.startswith("token")]
    assert f"answered {status}" in line and "User settings > Access tokens" in line
    assert world.alerts() == []


def test_gitlab_failing_at_the_expiry_read_does_not_stop_the_digests_work(world: World) -> None:
    world.fake.fail_next("GET", r"/personal_access_tokens/self$", status=500)
    code, out, _ = world.run("digest")
    assert code == 1 and "could not read the token's expiry: 500" in out
    assert "deferred message(s) sent" in out  # the rest of the run was done


COMMANDS = [
    ("stage",),
    ("digest",),
    ("transition", "--payload", "PAYLOAD"),
    ("review", "1", "--approve"),
    ("send", "1"),
    ("bootstrap",),
    ("list",),
]


@pytest.mark.parametrize("argv", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_an_expired_token_is_one_line_on_every_command(
    staged_world: World, argv: tuple[str, ...]
) -> None:
    world = staged_world  # staged while the token still worked
    payload = _review_event(world, 1)
    world.at("2026-03-21T09:05:00+01:00")  # GitLab refuses it from its expiry date on
    code, out, err = world.run(*[payload if a == "PAYLOAD" else a for a in argv])
    lines = [x for x in (out + err).splitlines() if x.strip()]
    assert code == 1 and len(lines) == 1, lines
    (line,) = lines
    assert "GITLAB_TOKEN: the token has expired" in line
    assert "User settings > Access tokens" in line and "Settings > CI/CD > Variables" in line


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ('{"error":"invalid_token","error_description":"Token has expired."}', "has expired"),
        (
            '{"error":"invalid_token","error_description":"Token was revoked. '
            'You have to re-authorize from the user."}',
            "was revoked",
        ),
        ('{"message":"401 Unauthorized"}', "is not valid"),
    ],
)
def test_any_401_is_the_token_refused_in_one_line(world: World, body: str, said: str) -> None:
    world.fake.fail_next("GET", r"/issues$", status=401, body=body)
    code, out, err = world.run("list")
    lines = [x for x in (out + err).splitlines() if x.strip()]
    assert code == 1 and len(lines) == 1 and f"the token {said}" in lines[0], lines


def test_an_expired_date_known_to_the_run_is_named(world: World) -> None:
    """A token that expires while a run is under way: the date GitLab told is in the line."""
    world.at("2026-03-20T23:59:00+00:00")
    real_authenticate = world.fake._authenticate
    calls = {"n": 0}

    def midnight(auth: str) -> int:
        calls["n"] += 1
        if calls["n"] == 2:  # after GET /personal_access_tokens/self
            world.fake.clock = lambda: datetime.fromisoformat("2026-03-21T00:00:01+00:00")
        return real_authenticate(auth)

    world.fake._authenticate = midnight  # type: ignore[method-assign]
    code, _, err = world.run("digest")
    assert code == 1 and "the token has expired (on 2026-03-21)" in err


def test_the_local_tracker_checks_no_token(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["digest"], {"MATCH_STAGING_NOW": "2026-03-16T10:05:00+01:00"}) == 0
    assert "token" not in capsys.readouterr().out


# ------------------------------------------------------------------- the webhook (§4)


def test_a_switched_off_webhook_fails_digest_is_told_weekly_and_bootstrap_revives_it(
    world: World,
) -> None:
    world.fake.token_expires_at.clear()
    assert world.run("bootstrap")[0] == 0
    assert world.run("stage")[0] == 0
    hook = world.fake.hooks[0]
    hook.update(alert_status="temporarily_disabled", disabled_until="2026-03-02T09:00:00Z")
    world.fake.hooks.append(  # another project's trigger: not ours to report
        {
            "id": 77,
            "url": f"{world.fake.url}/api/v4/projects/99/ref/main/trigger/pipeline?token=t",
            "issues_events": True,
            "alert_status": "disabled",
            "disabled_until": None,
        }
    )
    code, out, _ = world.run("digest")
    assert code == 1, out
    (line,) = [x for x in out.splitlines() if x.startswith("webhook")]
    assert "/projects/1/ref/main/trigger/pipeline is temporarily disabled" in line
    assert "token=" not in out
    (subject,) = world.alerts()
    assert "Issue-Webhook abgeschaltet" in subject
    text = str(world.smtp.messages[-1].get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert "match-staging bootstrap" in text and f"{world.fake.url}/projects/1/-/hooks" in text
    assert world.fake.triggers[0]["token"] not in text

    code, _, _ = world.at("2026-03-03T09:05:00+01:00").run("digest")
    assert code == 1 and len(world.alerts()) == 1  # told once a week, red every run

    code, out, _ = world.run("bootstrap")
    assert code == 0, out
    assert hook["alert_status"] == "executable"
    code, out, _ = world.run("digest")
    assert code == 0 and "webhook" not in out


# ----------------------------------------------------- confidential issues (issue 20, 8)


def test_an_approval_that_sets_confidential_reaches_the_gate_and_is_applied(
    world: World,
) -> None:
    world.fake.token_expires_at.clear()
    assert world.run("bootstrap")[0] == 0
    assert world.run("stage")[0] == 0
    (hook,) = world.fake.hooks
    world.fake.deliveries.clear()
    reviewer = gitlab.Gitlab(world.fake.url, private_token=world.fake.token_for("reviewer"))
    reviewer.projects.get(1, lazy=True).issues.update(
        1,
        {
            "add_labels": "job-match/approved",
            "remove_labels": "job-match/pending",
            "confidential": True,
        },
    )
    # GitLab sends it to confidential_issues_events hooks only (issues/base_service.rb)
    assert world.fake.deliveries == [(hook["id"], "confidential_issue", 1)]
    event = _review_event(world, 1, confidential=True, previous=["job-match/pending"])
    code, out, _ = world.run("transition", "--payload", event)
    assert code == 0 and "applied   #1: pending -> approved" in out, out
    assert "job-match/approved" in world.fake.issues[1]["labels"]


def test_the_run_logs_own_confidential_events_end_at_once_as_not_ours(world: World) -> None:
    """The bot creates the confidential run log with its first record: that event now
    reaches the webhook, and ends before any install (ci/prefilter.py) and in `transition`.
    Its records are notes: confidential_note_events stays off, so they start nothing."""
    world.fake.token_expires_at.clear()
    assert world.run("bootstrap")[0] == 0
    assert world.run("stage")[0] == 0
    log = next(i for i in world.fake.issues.values() if i["title"] == "match-staging run log")
    assert (1, "confidential_issue", log["iid"]) in world.fake.deliveries
    assert not any(
        iid == log["iid"] and kind != "confidential_issue" for _, kind, iid in world.fake.deliveries
    )
    payload = _hook_payload(world, log["iid"], user=1, confidential=True, previous=[])
    payload["object_attributes"]["action"] = "open"
    assert isinstance(parse_event(payload, Config()), str)
    file = Path("payload-log.json")
    file.write_text(json.dumps(payload), encoding="utf-8")
    done = subprocess.run(  # the job's first step, before any install
        [sys.executable, str(PREFILTER)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"PATH": os.environ["PATH"], "TRIGGER_PAYLOAD": str(file)},
    )
    assert done.returncode == 0 and "not a job match" in done.stdout, done.stdout
    before = len(world.fake.requests)
    code, out, _ = world.run("transition", "--payload", str(file))
    assert code == 0 and "not a job match" in out
    assert len(world.fake.requests) == before  # ended before asking GitLab anything


# --------------------------------------------------------------------------- helpers


def _hook_payload(
    world: World, iid: int, *, user: int, confidential: bool, previous: list[str]
) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "issue_hook_example.json").read_text())
    person = world.fake.users[user]
    data["user"].update(id=person["id"], username=person["username"], name=person["name"])
    current = world.fake.issues[iid]["labels"]
    labels = [{"id": n, "title": t, "type": "ProjectLabel"} for n, t in enumerate(current)]
    before = [{"id": n, "title": t, "type": "ProjectLabel"} for n, t in enumerate(previous)]
    data["event_type"] = "confidential_issue" if confidential else "issue"
    data["object_attributes"].update(
        iid=iid, action="update", labels=labels, confidential=confidential
    )
    data["labels"] = labels
    data["changes"] = {"labels": {"previous": before, "current": labels}}
    return data


def _review_event(
    world: World, iid: int, *, confidential: bool = False, previous: list[str] | None = None
) -> str:
    data = _hook_payload(
        world, iid, user=2, confidential=confidential, previous=previous or ["job-match"]
    )
    path = Path(f"payload-{iid}-{int(confidential)}.json")
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)

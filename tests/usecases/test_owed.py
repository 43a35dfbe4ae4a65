"""What the delivery queue owes, end to end (issues 19 and 20): every match the bot staged is
announced once on every channel, whatever failed before, and nobody with the Reporter role can
hide an owed announcement, forge one, or make a channel carry their text. The CLI against the
fake GitLab, a real SMTP server and a local Slack webhook; the Reporter (`mallory`) acts
through GitLab's API with her own token."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import gitlab
import pytest

from match_staging.cli import main
from match_staging.trackers import ledger
from tests.conftest import bootstrapped_label_ids, job_matches, owed
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.slack_server import SlackWebhook
from tests.fakes.smtp_sink import SmtpSink
from tests.gate import hook, nothing_sent, staged_in

DAY = "2026-02-08T14:30:00+01:00"
NIGHT = "2026-02-08T23:00:00+01:00"
MORNING = "2026-02-09T07:05:00+01:00"
EVIL = "https://login.evil.example/steal"
PENDING = "job-match/pending"


@dataclass
class World:
    gitlab: FakeGitLab
    slack: SlackWebhook
    smtp: SmtpSink
    capsys: pytest.CaptureFixture[str]

    def env(self, now: str) -> dict[str, str]:
        prefix = "MATCH_STAGING__NOTIFICATION__CHANNELS__"
        return {
            "GITLAB_URL": self.gitlab.url,
            "GITLAB_TOKEN": self.gitlab.token,
            "GITLAB_PROJECT": "1",
            "MATCH_STAGING_NOW": now,
            "MATCH_STAGING__WORKFLOW__REVIEWERS": "[reviewer]",
            "MATCH_STAGING__GITLAB__BOT_USERNAME": "bot",
            f"{prefix}SLACK__ENABLED": "true",
            "SLACK_WEBHOOK_URL": self.slack.url,
            f"{prefix}EMAIL__ENABLED": "true",
            "SMTP_HOST": "127.0.0.1",
            f"{prefix}EMAIL__SMTP__PORT": str(self.smtp.port),
            f"{prefix}EMAIL__SMTP__SECURITY": "none",
        }

    def run(self, *argv: str, now: str = DAY) -> tuple[int, str]:
        self.capsys.readouterr()
        code = main(list(argv), self.env(now))
        captured = self.capsys.readouterr()
        out = captured.out + captured.err
        assert "Traceback" not in out, out
        return code, out

    def as_user(self, username: str) -> Any:
        """The project as `username` sees it through the API, with their own token."""
        client = gitlab.Gitlab(self.gitlab.url, private_token=self.gitlab.token_for(username))
        return client.projects.get(1, lazy=True)

    def texts(self) -> list[str]:
        """Every part of every message that went out: email text and HTML, Slack."""
        parts = []
        for message in self.smtp.messages:
            for kind in ("plain", "html"):
                body = message.get_body((kind,))
                assert body is not None
                parts.append(str(body.get_content()))
            parts.append(str(message["Subject"]))
        parts += [json.dumps(post, ensure_ascii=False) for post in self.slack.posts]
        return parts

    def announced(self) -> dict[str, list[int]]:
        """Per channel, every issue announced, in order (an issue twice: announced twice)."""
        mails = [
            int(i)
            for text in self.texts()[0::3]
            for i in re.findall(r"/-/issues/(\d+)\r?$", text, re.MULTILINE)
        ]
        slack = [
            int(i)
            for post in self.slack.posts
            for i in re.findall(r"/-/issues/(\d+)\|", json.dumps(post, ensure_ascii=False))
        ]
        return {"email": sorted(mails), "slack": sorted(slack)}


@pytest.fixture
def world(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[World]:
    monkeypatch.setattr("match_staging.trackers.gitlab.RETRY_PAUSE_SECONDS", 0)
    with FakeGitLab() as fake, SlackWebhook() as slack, SmtpSink() as smtp:
        bootstrapped_label_ids(fake)  # labels first, as bootstrap leaves a project
        yield World(fake, slack, smtp, capsys)


EVERY = {"email": [1, 2, 3, 4, 5], "slack": [1, 2, 3, 4, 5]}  # matches-inbox: five matches


@pytest.fixture(scope="module")
def _staged_at_night(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[World, dict[str, Any]]]:
    """`stage` of matches-inbox/ in quiet hours, once per module, on a project as bootstrap
    leaves it: five issues, nothing sent, every match owed. The world (without capsys), and
    the fake GitLab's state right after."""
    with FakeGitLab() as fake, SlackWebhook() as slack, SmtpSink() as smtp:
        bootstrapped_label_ids(fake)
        world = World(fake, slack, smtp, cast(pytest.CaptureFixture[str], None))
        out = staged_in(tmp_path_factory.mktemp("night"), world.env(NIGHT))
        assert len(job_matches(fake)) == 5 and not (slack.posts or smtp.messages), out
        yield world, fake.snapshot()


@pytest.fixture
def night(
    _staged_at_night: tuple[World, dict[str, Any]],
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> World:
    """The world of `world` after `run("stage", now=NIGHT)` (staged once per module)."""
    monkeypatch.setattr("match_staging.trackers.gitlab.RETRY_PAUSE_SECONDS", 0)
    world, state = _staged_at_night
    nothing_sent(world.gitlab, state, world.slack, world.smtp)
    return World(world.gitlab, world.slack, world.smtp, capsys)


# ------------------------------------------------ issue 19: a retry finishes what was owed


@pytest.mark.parametrize("then", ["stage", "digest"])
def test_a_failed_queue_read_leaves_every_new_match_owed(world: World, then: str) -> None:
    """A 500 at the first request after the creates (the run-log lookup, which reads the
    queue; the key lookup's page of the bot's issues came before them): `stage` sends nothing
    and exits 1; the retry (or the next `digest`) announces all five, once."""
    world.gitlab.fail_next("GET", r"^/api/v4/projects/1/issues$", status=500, skip=1)
    code, out = world.run("stage")
    assert code == 1 and "nothing was sent" in out, out
    assert len(job_matches(world.gitlab)) == 5 and not world.smtp.messages
    code, out = world.run(then)
    assert code == 0, out
    assert "announced #1 #2 #3 #4 #5  (owed by an earlier run)" in out, out
    assert world.announced() == EVERY and owed(world.gitlab) == []
    assert world.run(then)[0] == 0 and world.announced() == EVERY  # nothing repeats


def test_a_run_stopped_after_the_queue_announces_the_rest_on_retry(world: World) -> None:
    """A queue exists; a later `stage` dies after creating issues and before recording them:
    the retried `stage` finds them above the queue's `through` and announces them."""
    assert world.run("stage")[0] == 0  # the five of matches-inbox, announced
    document = {
        "matches": [
            {"score": 91, "title": "Go Developer", "provider": "A", "url": "https://a.example/1"},
            {"score": 92, "title": "Rust Developer", "provider": "B", "url": "https://b.example/2"},
        ]
    }
    Path("two.json").write_text(json.dumps(document), encoding="utf-8")
    world.gitlab.fail_next("GET", r"^/api/v4/projects/1/issues/\d+/notes$", status=500)
    code, out = world.run("stage", "two.json")
    assert code == 1, out
    code, out = world.run("stage", "two.json")
    assert code == 0 and "0 staged, 2 already staged" in out, out
    assert "announced #7 #8  (owed by an earlier run)" in out, out  # #6: the run log
    assert world.announced() == {"email": [1, 2, 3, 4, 5, 7, 8], "slack": [1, 2, 3, 4, 5, 7, 8]}


# ------------------------------------------ issue 20, item 2: hiding an owed match


def test_closing_or_unlabelling_an_owed_match_hides_nothing_and_is_reverted(
    night: World,
) -> None:
    world = night  # quiet hours: issues, no message
    project = world.as_user("mallory")
    project.issues.update(1, {"state_event": "close"})
    project.issues.update(2, {"remove_labels": "job-match"})
    project.issues.update(3, {"remove_labels": "job-match", "state_event": "close"})
    code, out = world.run("digest", now=MORNING)
    assert code == 0, out
    assert world.announced() == EVERY, out
    assert "dropped" not in out
    # the scheduled run put each back, with a note (the webhook may have missed it)
    for iid in (1, 2, 3):
        issue = world.gitlab.issues[iid]
        assert issue["state"] == "opened" and "job-match" in issue["labels"], out
        assert any(n["body"].startswith("**Reverted:**") for n in world.gitlab.user_notes(iid))
    assert "closed by mallory while pending" in out, out


def test_renaming_the_match_label_hides_no_owed_match(night: World) -> None:
    world = night  # the five staged in quiet hours: owed
    world.as_user("mallory").manager.gitlab.http_put(
        f"/projects/1/labels/{quote('job-match', safe='')}", post_data={"new_name": "x"}
    )
    _, out = world.run("digest", now=MORNING)
    assert world.announced() == EVERY, out


def test_a_reviewed_match_is_dropped_only_on_the_bots_audit_note(night: World) -> None:
    world = night  # the five staged in quiet hours: owed
    assert world.run("review", "1", "--reject", now=NIGHT)[0] == 0  # audited, closed
    code, out = world.run("digest", now=MORNING)
    assert code == 0 and "dropped   #1  reviewed before they were announced" in out, out
    assert world.announced() == {"email": [2, 3, 4, 5], "slack": [2, 3, 4, 5]}


def test_a_close_event_reaches_the_gate_and_is_reverted(world: World) -> None:
    """The webhook's close event (action close, no label change) is a gate event: the
    prefilter lets it through and `transition` reopens the match with a note."""
    from ci.prefilter import MAYBE_OURS, decide

    assert world.run("stage")[0] == 0
    world.as_user("mallory").issues.update(1, {"state_event": "close"})
    assert [e.action for e in world.gitlab.issue_hook_events][-1] == "close"
    payload = hook(world.gitlab, 1, 3, list(world.gitlab.issues[1]["labels"]))
    payload["object_attributes"].update(action="close", state="closed")
    payload["changes"] = {"state_id": {"previous": 1, "current": 2}}
    assert decide(payload, "bot", "job-match")[0] == MAYBE_OURS
    path = Path("close.json")
    path.write_text(json.dumps(payload), encoding="utf-8")
    code, out = world.run("transition", "--payload", str(path))
    assert code == 0 and out.startswith("reverted  #1: closed by mallory while pending"), out
    assert world.gitlab.issues[1]["state"] == "opened"
    # reopening a rejected match the tool keeps closed is put back too
    assert world.run("review", "2", "--reject")[0] == 0
    world.as_user("mallory").issues.update(2, {"state_event": "reopen"})
    payload = hook(world.gitlab, 2, 3, list(world.gitlab.issues[2]["labels"]))
    payload["object_attributes"].update(action="reopen", iid=2)
    payload["changes"] = {"state_id": {"previous": 2, "current": 1}}
    path.write_text(json.dumps(payload), encoding="utf-8")
    code, out = world.run("transition", "--payload", str(path))
    assert code == 0 and "reopened while rejected" in out, out
    assert world.gitlab.issues[2]["state"] == "closed"
    # taking the job-match label off is put back the same way
    before = list(world.gitlab.issues[3]["labels"])
    world.as_user("mallory").issues.update(3, {"remove_labels": "job-match"})
    payload = hook(world.gitlab, 3, 3, before)
    assert decide(payload, "bot", "job-match")[0] == MAYBE_OURS
    path.write_text(json.dumps(payload), encoding="utf-8")
    code, out = world.run("transition", "--payload", str(path))
    assert code == 0 and "the job-match label was removed" in out, out
    assert "job-match" in world.gitlab.issues[3]["labels"]


# ---------------------------------------- issue 20, item 3: channels announce the bot's text


def record_line(title: str, url: str) -> str:
    data = {"score": 99, "title": title, "provider": "Evil", "source_url": url}
    encoded = base64.b64encode(json.dumps(data).encode()).decode()
    return f"<!-- match-staging v1 notice: {encoded} -->"


def test_a_forged_match_is_never_announced(night: World) -> None:
    world = night  # the five staged in quiet hours: owed
    real = world.gitlab.issues[1]["description"]
    forged = re.sub(
        r"^<!-- match-staging v1 notice: .* -->$",
        record_line("Dringend: Login prüfen", EVIL),
        real,
        flags=re.MULTILINE,
    )
    world.as_user("mallory").issues.create(
        {
            "title": "[JOB-MATCH] 99% — Dringend",
            "description": forged,
            "labels": f"job-match,{PENDING}",
        }
    )
    code, out = world.run("digest", now=MORNING)
    assert code == 0, out
    assert world.announced() == EVERY, out
    assert not any("evil" in text or "Dringend" in text for text in world.texts())


@pytest.mark.parametrize("link", [EVIL, "javascript:alert(document.cookie)"])
def test_an_edited_record_is_announced_without_its_text(night: World, link: str) -> None:
    world = night  # the five staged in quiet hours: owed
    issue = world.gitlab.issues[1]
    edited = re.sub(
        r"^<!-- match-staging v1 notice: .* -->$",
        record_line("Bitte hier einloggen", link),
        issue["description"],
        flags=re.MULTILINE,
    )
    world.as_user("mallory").issues.update(1, {"description": edited})
    code, out = world.run("digest", now=MORNING)
    for text in world.texts():  # no part of any channel carries the Reporter's text
        assert "evil" not in text and "javascript:" not in text and "einloggen" not in text
    assert code == 0, out
    assert world.announced() == EVERY, out  # still announced: an edit suppresses nothing
    assert "announced #1  without their text" in out, out


# ------------------------------------------- issue 20, item 9: the first release's labels


def test_a_queue_label_added_by_a_reporter_repeats_nothing(world: World) -> None:
    assert world.run("stage")[0] == 0
    assert world.announced() == EVERY
    world.as_user("mallory").issues.update(
        1, {"add_labels": "job-match/notify-email,job-match/notify-slack"}
    )
    code, out = world.run("digest")
    assert code == 0, out
    assert world.announced() == EVERY, out


def test_reminders_carry_no_reporters_text_and_no_forged_match(world: World) -> None:
    """The daily reminder is a channel message too: it shows the bot's record only while the
    issue still holds it, and never an issue somebody else created."""
    assert world.run("stage")[0] == 0  # announced at once
    project = world.as_user("mallory")
    issue = world.gitlab.issues[1]
    edited = re.sub(
        r"^<!-- match-staging v1 notice: .* -->$",
        record_line("Bitte hier einloggen", EVIL),
        issue["description"],
        flags=re.MULTILINE,
    )
    project.issues.update(1, {"description": edited})
    project.issues.create(
        {
            "title": "[JOB-MATCH] 99% — Dringend",
            "description": edited,
            "labels": f"job-match,{PENDING}",
        }
    )
    for staged in world.gitlab.issues.values():  # two days ago, untouched since
        staged.update(created_at="2026-02-06T10:00:00Z", updated_at="2026-02-06T10:00:05Z")
    before = len(world.texts())
    code, out = world.run("digest")
    assert code == 0 and "reminded  #1 #2 #3 #4 #5" in out, out
    reminders = world.texts()[before:]
    assert reminders, out
    for text in reminders:
        assert "evil" not in text and "einloggen" not in text and "Dringend" not in text


def test_a_queue_from_before_fingerprints_announces_unedited_records_in_full(
    night: World,
) -> None:
    """A queue record written before the queue kept fingerprints: the owed matches' records
    are believed while nobody else edited their descriptions (the issue's notes say so)."""
    from match_staging.trackers import ledger

    world = night  # the five staged in quiet hours: owed
    for notes in world.gitlab.notes.values():
        for note in notes:
            found = ledger.parse_note(note["body"], datetime.now(UTC))
            if found is not None and found.kind == "delivery-queue":
                data = {k: v for k, v in found.data.items() if k != "records"}
                data["legacy_done"] = True  # as the previous release wrote it
                note["body"] = ledger.note_body(found.kind, data, found.created_at)
    edited = re.sub(
        r"^<!-- match-staging v1 notice: .* -->$",
        record_line("Bitte hier einloggen", EVIL),
        world.gitlab.issues[2]["description"],
        flags=re.MULTILINE,
    )
    world.as_user("mallory").issues.update(2, {"description": edited})
    code, out = world.run("digest", now=MORNING)
    assert code == 0 and world.announced() == EVERY, out
    assert "announced #2  without their text" in out, out
    assert "Cloud Architect" in world.texts()[0]  # #1, unedited, in full
    assert not any("evil" in text for text in world.texts())


# ------------------------------------------------------- found in review (issues 19, 20)


def the_run_log(fake: FakeGitLab) -> dict[str, Any]:
    return next(i for i in fake.issues.values() if ledger.is_run_log(i["description"]))


def test_a_second_record_line_makes_neither_count(night: World) -> None:
    """A Reporter puts a line that starts like the record above the bot's own and retitles
    the issue: the channels show none of their text (the fingerprint and the record are read
    from one and the same line, and two such lines are nobody's record)."""
    world = night  # quiet hours: owed until the morning
    description = world.gitlab.issues[1]["description"]
    bait = "<!-- match-staging v1 notice: x -->x\n"
    edited = re.sub(
        r"^(<!-- match-staging v1 notice: )", bait + r"\1", description, count=1, flags=re.M
    )
    assert edited != description
    world.as_user("mallory").issues.update(
        1, {"description": edited, "title": "Bitte hier einloggen"}
    )
    code, out = world.run("digest", now=MORNING)
    assert code == 0 and world.announced() == EVERY, out
    assert "announced #1  without their text" in out, out
    assert not any("einloggen" in text for text in world.texts())


def test_a_new_run_log_repeats_no_announcement(world: World) -> None:
    """`digest --new-run-log` after a Reporter edited the run log: the matches staged so far
    count as announced (the new log's first queue says so), the retired log is no match."""
    assert world.run("stage")[0] == 0 and world.announced() == EVERY
    log = the_run_log(world.gitlab)
    world.as_user("mallory").issues.update(
        log["iid"], {"description": ledger.FIRST_LINE + "\nmine now"}
    )
    code, out = world.run("digest", now=MORNING)
    assert code == 1 and "--new-run-log" in out, out
    code, out = world.run("digest", "--new-run-log", now=MORNING)
    assert code == 0 and "run log   started #" in out, out
    assert world.announced() == EVERY, out  # nothing a second time
    code, out = world.run("digest", now=MORNING)
    assert code == 0 and world.announced() == EVERY, out
    assert f"#{log['iid']}" not in out, out


def test_the_run_log_labelled_as_a_match_is_no_match(world: World) -> None:
    """A Reporter adds `job-match` to the confidential run log: the repair leaves it alone
    (no state label added, no audit note, no "missed event")."""
    assert world.run("stage")[0] == 0
    log = the_run_log(world.gitlab)
    world.as_user("mallory").issues.update(log["iid"], {"add_labels": "job-match"})
    notes_before = len(world.gitlab.user_notes(log["iid"]))
    code, out = world.run("digest", now=MORNING)
    assert code == 0, out
    assert sorted(world.gitlab.issues[log["iid"]]["labels"]) == ["job-match", ledger.LABEL]
    assert len(world.gitlab.user_notes(log["iid"])) == notes_before
    assert f"#{log['iid']}" not in out, out

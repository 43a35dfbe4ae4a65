"""Notifications end to end: the CLI against the fake GitLab, a real SMTP server and a local
Slack webhook. Exactly once per match and channel, whatever fails in between."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

import pytest

from match_staging import record
from match_staging.channels.base import Delivery, Rendered
from match_staging.cli import main
from match_staging.config import Config, QuietHours
from match_staging.context import Context
from match_staging.delivery import LOG_KIND, Queue
from match_staging.errors import TrackerError
from match_staging.keys import match_keys
from match_staging.model import Match, Note, State
from match_staging.notices import Notice, Payload
from match_staging.usecases.notify import (
    NotifyReport,
    announced,
    deliver,
    gather,
    payloads,
    read_queue,
    write_queue,
)
from match_staging.usecases.stage import issue_draft
from match_staging.workflow import DESCRIPTION_CHANGED
from tests.conftest import FAULT_PARTS, fault_matrix, job_matches, match, owed, write
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.memory_tracker import MemoryTracker
from tests.fakes.slack_server import SlackWebhook
from tests.fakes.smtp_sink import SmtpSink
from tests.notify_world import DAY, EVER, MORNING, NIGHT, NIGHT_LATER, World
from tests.notify_world import world as world  # the fixture


def run(
    world: World, *argv: str, now: str = DAY, capsys: pytest.CaptureFixture[str] | None = None
) -> tuple[int, str]:
    code = main(list(argv), world.env(now))
    out = capsys.readouterr().out if capsys else ""
    return code, out


def queue_labels(world: World) -> list[str]:
    return sorted(lb for i in world.gitlab.issues.values() for lb in i["labels"] if "notify" in lb)


def tool_events(world: World) -> list[tuple[int, str]]:
    """Issue Hook events the tool caused (each one a pipeline on the webhook)."""
    return [(e.iid, e.action) for e in world.gitlab.issue_hook_events if e.actor == "bot"]


def test_stage_notifies_every_channel_once(
    repo: Path, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(world, "stage", capsys=capsys)
    assert code == 0, out
    assert len(world.slack.posts) == 1 and len(world.smtp.messages) == 1
    mail = world.smtp.messages[0]
    assert mail["Subject"] == (
        "[Blauweiss] 5 neue Job-Matches — Top: 97% Cloud Architect - Cloud-Transformation"
    )
    assert mail["To"] == "wolfram.laube@blauweiss-edv.at"
    assert "🎯 *5 neue Job-Matches*" in world.slack.posts[0]["blocks"][0]["text"]["text"]
    assert "notified  slack     #1 #2 #3 #4 #5  ok" in out
    assert queue_labels(world) == [] and owed(world.gitlab) == []
    # 1 label listing + 13 label creates + 1 upload + 5 creates; the key lookup: the bot and a
    # page of its issues; the delivery queue: the run-log issue (looked up among the bot's
    # confidential issues, then all of them, then its label: not found, created: once per
    # project), the bot's issues newer than the queue (what no record accounted for), 2 records
    assert len(world.gitlab.requests) == 29
    assert tool_events(world) == [(i, "open") for i in range(1, 6)]  # one pipeline a match

    code, out = run(world, "stage", capsys=capsys)
    assert code == 0
    assert len(world.slack.posts) == 1 and len(world.smtp.messages) == 1
    assert "notified" not in out


def test_failed_channel_is_retried_without_repeating_the_others(
    repo: Path, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.slack.answer(500, "internal_error", times=3)
    code, out = run(world, "stage", capsys=capsys)
    assert code == 1
    assert (
        "failed    slack     #1 #2 #3 #4 #5  Slack answered HTTP 500 internal_error "
        "(retried by the next run)" in out
    )
    assert len(world.smtp.messages) == 1 and world.slack.posts == []
    assert owed(world.gitlab) == [(i, "slack") for i in range(1, 6)]

    code, out = run(world, "digest", capsys=capsys)
    assert code == 0, out
    assert len(world.slack.posts) == 1 and len(world.smtp.messages) == 1
    assert owed(world.gitlab) == []
    assert tool_events(world) == [(i, "open") for i in range(1, 6)]


def test_quiet_hours_defer_until_digest_after_the_window(
    repo: Path, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(world, "stage", now=NIGHT, capsys=capsys)
    assert code == 0
    assert "deferred  #1 #2 #3 #4 #5  quiet hours until 07:00 CET" in out
    assert len(job_matches(world.gitlab)) == 5  # issues are created anyway
    assert world.slack.posts == [] and world.smtp.messages == []
    assert owed(world.gitlab) == [(i, c) for i in range(1, 6) for c in ("email", "slack")]

    code, out = run(world, "digest", now=NIGHT_LATER, capsys=capsys)
    assert code == 0
    assert out.strip() == "quiet hours until 2026-02-09 07:00 CET: nothing sent"

    code, out = run(world, "digest", now=MORNING, capsys=capsys)
    assert code == 0, out
    assert len(world.slack.posts) == 1 and len(world.smtp.messages) == 1
    assert "Während der Ruhezeit" in world.plain(0)
    assert owed(world.gitlab) == []

    code, out = run(world, "digest", now=MORNING, capsys=capsys)
    assert len(world.slack.posts) == 1 and len(world.smtp.messages) == 1


def test_reminder_once_a_day_for_matches_left_pending(
    repo: Path, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    run(world, "stage", now=DAY)
    for issue in world.gitlab.issues.values():  # staged two days ago, untouched since
        issue["created_at"] = "2026-02-06T10:00:00Z"
        issue["updated_at"] = "2026-02-06T10:00:05Z"
    reviewed = world.gitlab.issues[2]
    reviewed["labels"] = [lb.replace("pending", "approved") for lb in reviewed["labels"]]
    reviewed["description"] = reviewed["description"].replace("state: pending", "state: approved")
    capsys.readouterr()

    code, out = run(world, "digest", now=DAY, capsys=capsys)
    assert code == 0, out
    assert "reminded  #1 #3 #4 #5  (recorded in the run log)" in out
    reminder = world.slack.posts[-1]["blocks"][0]["text"]["text"]
    assert reminder.startswith("🎯 *4 Job-Matches warten auf Review*")
    assert "Erinnerung" in str(world.smtp.messages[-1]["Subject"])
    # one record for the run, no note on any issue: GitLab would email each one's participants
    assert all(not world.gitlab.notes.get(i) for i in range(1, 6))
    assert tool_events(world) == [(i, "open") for i in range(1, 6)]

    posts = len(world.slack.posts)
    run(world, "digest", now="2026-02-08T18:00:00+01:00")
    assert len(world.slack.posts) == posts  # not again the same day

    # a day later: again, except for the match somebody commented on in the meantime
    world.gitlab.issues[3]["updated_at"] = "2026-02-09T09:00:00Z"
    code, out = run(world, "digest", now="2026-02-09T14:31:00+01:00", capsys=capsys)
    assert "reminded  #1 #4 #5  (recorded in the run log)" in out, out
    assert len(world.slack.posts) == posts + 1


def _world_run(world: World, *argv: str) -> None:
    main(list(argv), world.env())


# `slow` whole: the default run injects these faults through
# tests/system/test_reliability.py's stage matrix (its summary mode, which is this default),
# whose clean run makes the requests it lists and counts (a label listing, 13 label creates,
# an upload, the creates, the run log's `GET /user`, `GET /issues` x4 and its label, two
# notes); here the same without the upload and with 2 creates. Each fault position here has
# its twin there (the first and the last of each run of one shape), checked the same way
# (each match once per channel: there after the retried `stage` alone, here after the retry
# and a digest), except a dropped answer to a GET, which that matrix leaves to its own `slow`
# run (conftest's `lost_get`). This one adds WhatsApp and the batches.
@pytest.mark.slow
@pytest.mark.parametrize("part", FAULT_PARTS)
@pytest.mark.parametrize("fault", ["fail", "drop"])
def test_exactly_once_whatever_gitlab_request_fails(repo: Path, fault: str, part: str) -> None:
    write(repo / "two.json", [match(title="A"), match(title="B", url="https://b.example/1")])
    with FakeGitLab() as gitlab, SlackWebhook() as slack, SmtpSink() as smtp:
        clean = World(gitlab, slack, smtp)
        _world_run(clean, "stage", "two.json")
        total = len(gitlab.requests)
    assert total >= 8
    for k in fault_matrix(gitlab.requests, part):
        with FakeGitLab() as gitlab, SlackWebhook() as slack, SmtpSink() as smtp:
            world = World(gitlab, slack, smtp)
            if fault == "fail":
                gitlab.fail_next("*", ".", status=500, skip=k)
            else:
                gitlab.drop_next("*", ".", after_commit=True, skip=k)
            _world_run(world, "stage", "two.json")  # may fail part-way
            _world_run(world, "stage", "two.json")  # the CI retry
            _world_run(world, "digest")
            assert len(job_matches(gitlab)) == 2, f"request {k}"
            for iid in job_matches(gitlab):
                assert world.slack_mentions(iid) == 1, f"request {k}, #{iid} on Slack"
                assert world.email_mentions(iid) == 1, f"request {k}, #{iid} by email"


# --- exactly once, as plain data: every outcome of a channel x what the queue keeps --------
# (issue 26) A delivered or maybe-delivered message is done; one that never left stays owed.

MIDDAY = datetime(2026, 2, 9, 12, 0, tzinfo=UTC)


@dataclass
class Scripted:
    """A channel that answers from a script, and keeps what it was asked to send."""

    name: ClassVar[str] = "slack"
    answers: list[Delivery]
    sent: list[Payload] = field(default_factory=list)

    def render(self, payload: Payload) -> list[Rendered]:
        return []

    def send(self, payload: Payload) -> Delivery:
        self.sent.append(payload)
        return self.answers.pop(0)


class ScriptedEmail(Scripted):
    name: ClassVar[str] = "email"


def notice(iid: int) -> Notice:
    return Notice(iid, 91, f"T{iid}", "P", f"https://gl.example/i/{iid}", f"https://j/{iid}")


OUTCOMES = {
    "delivered": (Delivery("x", True, "ok"), False),
    "refused": (Delivery("x", False, "HTTP 400"), True),
    "nothing sent": (Delivery("x", False, "refused", transient=True), True),
    "maybe delivered": (
        Delivery("x", False, "timeout", transient=True, maybe_delivered=True),
        False,
    ),
}


@pytest.mark.parametrize("outcome", OUTCOMES)
@pytest.mark.parametrize("batch", [True, False], ids=["summary", "per match"])
def test_deliver_every_outcome_and_what_stays_owed(outcome: str, batch: bool) -> None:
    answer, retried = OUTCOMES[outcome]
    cfg = Config()
    cfg.notification.preferences.batch_mode = batch
    tracker = MemoryTracker(clock=lambda: MIDDAY)
    ok = ScriptedEmail([Delivery("email", True, "ok")] * 4)
    odd = Scripted([answer] * 4)
    ctx = Context(cfg, tracker, channels=[ok, odd], clock=lambda: MIDDAY)
    queue = Queue(through=0)
    queue.account([1, 2], ["email", "slack"])
    known = {1: notice(1), 2: notice(2)}
    report = deliver(ctx, queue, known, kind="new", cycle_id="c1")

    assert [len(p.matches) for p in odd.sent] == ([2] if batch else [1, 1])
    assert [n.iid for p in odd.sent for n in p.matches] == [1, 2]
    assert queue.owed("email") == set() and queue.inflight.get("email") == set()
    assert queue.owed("slack") == ({1, 2} if retried else set())
    assert queue.stranded() == {}  # every outcome was recorded
    sent = [(d.channel, iids) for d, iids in report.delivered]
    failed = [(d.detail, iids) for d, iids in report.failed]
    groups = [(1, 2)] if batch else [(1,), (2,)]
    assert ("email", groups[0]) in sent
    if answer.ok:
        assert failed == []
    else:
        assert failed == [(answer.detail, g) for g in groups]
    assert report.ok is answer.ok and report.unrecorded == []
    # the queue in the run log: written before sending (in flight) and after (the outcome)
    (after, before) = [r.data for r in tracker.read_log(LOG_KIND, since=EVER, limit=2)]
    assert before["inflight"] == {"email": [1, 2], "slack": [1, 2]} and before["pending"] == {}
    assert after["inflight"] == {}
    assert after["pending"] == ({"slack": [1, 2]} if retried else {})
    # the next run sends only what is still owed
    again = deliver(ctx, queue, known, kind="new", cycle_id="c1")
    assert len(odd.sent) == (len(groups) * 2 if retried else len(groups))
    assert len(ok.sent) == len(groups)
    assert len(again.failed) == (len(groups) if retried else 0)


def test_nothing_is_sent_that_was_not_written_down_first(monkeypatch: pytest.MonkeyPatch) -> None:
    tracker = MemoryTracker(clock=lambda: MIDDAY)
    channel = Scripted([Delivery("slack", True, "ok")])
    ctx = Context(Config(), tracker, channels=[channel], clock=lambda: MIDDAY)
    queue = Queue()
    queue.account([1], ["slack"])

    def refuse(kind: str, data: dict[str, object]) -> None:
        raise TrackerError("GitLab answered 500")

    monkeypatch.setattr(tracker, "append_log", refuse)
    report = deliver(ctx, queue, {1: notice(1)}, kind="new", cycle_id="c")
    assert channel.sent == [] and report.delivered == [] and not report.ok
    assert report.unrecorded == [
        "GitLab answered 500: nothing was sent: the delivery queue could not be written, and "
        "nothing goes out that is not written down first; the next run sends it"
    ]


def test_an_outcome_not_written_down_is_never_sent_again(monkeypatch: pytest.MonkeyPatch) -> None:
    tracker = MemoryTracker(clock=lambda: MIDDAY)
    channel = Scripted([Delivery("slack", True, "ok")])
    ctx = Context(Config(), tracker, channels=[channel], clock=lambda: MIDDAY)
    queue = Queue()
    queue.account([1], ["slack"])
    writes: list[dict[str, object]] = []

    def first_only(kind: str, data: dict[str, object]) -> None:
        if writes:
            raise TrackerError("GitLab answered 502")
        writes.append(data)

    monkeypatch.setattr(tracker, "append_log", first_only)
    report = deliver(ctx, queue, {1: notice(1)}, kind="new", cycle_id="c")
    assert len(channel.sent) == 1 and [i for _, i in report.delivered] == [(1,)]
    assert report.unrecorded == [
        "GitLab answered 502: the outcome could not be written: the next run reports these "
        "messages as maybe delivered and never sends them again"
    ]
    stopped = Queue.from_data(writes[0])  # what the next run reads: in flight, never resent
    assert stopped.stranded() == {"slack": {1}} and stopped.owed("slack") == set()


def test_quiet_hours_defer_and_record_only_a_changed_queue() -> None:
    cfg = Config()
    cfg.notification.preferences.quiet_hours = QuietHours("22:00", "07:00", "Europe/Vienna")
    night = datetime(2026, 2, 9, 22, 30, tzinfo=UTC)  # 23:30 in Vienna
    tracker = MemoryTracker(clock=lambda: night)
    channel = Scripted([])
    ctx = Context(cfg, tracker, channels=[channel], clock=lambda: night)
    queue = Queue()
    queue.account([2, 1], ["slack"])
    report = deliver(ctx, queue, {1: notice(1), 2: notice(2)}, kind="new", cycle_id="c")
    assert channel.sent == [] and report.deferred == (1, 2)
    assert report.deferred_until == datetime(2026, 2, 10, 7, 0, tzinfo=ZoneInfo("Europe/Vienna"))
    assert tracker.read_log(LOG_KIND, since=EVER) == []  # nothing changed: nothing written
    deliver(ctx, queue, {1: notice(1)}, kind="new", cycle_id="c", dirty=True)
    assert [r.data["pending"] for r in tracker.read_log(LOG_KIND, since=EVER)] == [
        {"slack": [1, 2]}
    ]
    quiet_day = deliver(ctx, Queue(), {}, kind="new", cycle_id="c")
    assert (quiet_day.deferred, quiet_day.deferred_until) == ((), None)


def test_only_owed_and_known_issues_are_sent() -> None:
    tracker = MemoryTracker(clock=lambda: MIDDAY)
    channel = Scripted([Delivery("slack", True, "ok")])
    ctx = Context(Config(), tracker, channels=[channel], clock=lambda: MIDDAY)
    queue = Queue()
    queue.account([1, 2, 3], ["slack"])
    deliver(ctx, queue, {2: notice(2), 3: notice(3), 4: notice(4)}, kind="new", cycle_id="c")
    assert [n.iid for n in channel.sent[0].matches] == [2, 3]
    assert queue.owed("slack") == {1}


# --- what an earlier run still owes, as plain data (issue 26) -------------------------------


def staged_issue(tracker: MemoryTracker, n: int) -> tuple[int, str]:
    """An issue the bot staged for match n, and the fingerprint of the record it wrote."""
    url = f"https://jobs.example/{n}"
    match = Match(91, f"Match {n}", "Acme", url, "in.json", n, match_keys(None, url))
    ref = tracker.create_issue(issue_draft(Config(), match, []))
    assert ref.iid == n
    return ref.iid, record.fingerprint(ref.description)


def test_gather_every_fate_of_an_owed_match() -> None:
    tracker = MemoryTracker(clock=lambda: MIDDAY)
    prints = dict(staged_issue(tracker, n) for n in range(1, 7))
    # 2 was approved before anyone was told: the bot's audit note says so
    tracker.add_note(2, record.with_mark("**Review:** …", record.StateMark(State.APPROVED)))
    # 6: a member put another match's record in (the fingerprint no longer agrees)
    tracker.issues[6].ref = dataclasses.replace(
        tracker.issues[6].ref, description=tracker.issues[5].ref.description
    )
    ctx = Context(Config(), tracker, channels=[Scripted([])], clock=lambda: MIDDAY)
    queue = Queue()
    # an earlier run queued 1, 2, 6 and 9 (deleted since); 3 and 4 were staged by a run that
    # stopped before it queued them; 5 is this run's
    queue.account([1, 2, 6, 9], ["slack"], {1: prints[1], 2: prints[2], 6: prints[6], 9: "x"})
    fresh_notice = notice(5)
    owed = gather(ctx, queue, {5: (fresh_notice, prints[5])})

    assert sorted(owed.notices) == [1, 3, 4, 5, 6]
    assert owed.notices[5] is fresh_notice
    assert owed.notices[1].title == "Match 1" and not owed.notices[1].altered
    assert owed.notices[3].title == "Match 3" and owed.notices[4].title == "Match 4"
    assert owed.notices[6].altered and owed.notices[6].title == (
        "Issue #6 (von jemand anderem geändert, bitte im Issue prüfen)"
    )
    assert owed.notices[6].provider == "" and owed.notices[6].issue_url == "memory://issues/6"
    assert (owed.earlier, owed.strays) == ({1, 6}, {3, 4})
    assert (owed.dropped, owed.gone, owed.altered) == ([2], [9], [6])
    assert queue.owed("slack") == {1, 3, 4, 5, 6}
    assert queue.records == {1: prints[1], 3: prints[3], 4: prints[4], 5: prints[5], 6: prints[6]}
    assert (queue.through, queue.accounted) == (6, {9})  # 9 is above: still accounted
    # what the report says after a run that sent 1, 3 and 6 only
    sent = NotifyReport(delivered=[(Delivery("slack", True, "ok"), (1, 3, 6))])
    said = announced(sent, owed)
    assert (said.earlier, said.dropped, said.gone, said.altered) == ((1, 3, 6), (2,), (9,), (6,))
    assert announced(sent, owed, queued=False).earlier == (3,)  # `stage`: only the strays


def test_gather_holds_back_what_is_due_to_expire_and_drops_what_expired() -> None:
    """Owed matches whose expiry is due (`workflow.pending_ttl_days` after their staging)
    are not announced but stay queued, the stray among them too, so that the digest's
    expiry settles them; one the bot's audit note says expired is dropped as expired, not
    as reviewed. The day before, all are announced."""
    now = [MIDDAY]
    tracker = MemoryTracker(clock=lambda: now[0])
    prints = dict(staged_issue(tracker, n) for n in range(1, 4))
    ctx = Context(Config(), tracker, channels=[Scripted([])], clock=lambda: now[0])

    def queued() -> Queue:  # an earlier run queued 1 and 2; 3 was never queued (a stray)
        queue = Queue()
        queue.account([1, 2], ["slack"], {i: prints[i] for i in (1, 2)})
        return queue

    now[0] = MIDDAY + timedelta(days=14, seconds=-1)
    assert sorted(gather(ctx, queued(), {}).notices) == [1, 2, 3]
    tracker.add_note(2, record.with_mark("**Review:** …", record.StateMark(State.EXPIRED)))
    now[0] = MIDDAY + timedelta(days=14)
    queue = queued()
    owed = gather(ctx, queue, {})
    assert owed.notices == {} and (owed.held, owed.expired, owed.dropped) == ([1, 3], [2], [])
    assert queue.owed("slack") == {1, 3} and queue.records[3] == prints[3]
    said = announced(NotifyReport(), owed)
    assert (said.held, said.expired, said.dropped) == ((1, 3), (2,), ())
    # a project bootstrapped before the later states' labels existed expires nothing: its
    # owed matches are announced as before
    before = Config()
    before.workflow.label_ids = {"pending": 11, "approved": 12, "rejected": 13, "sent": 14}
    early = Context(before, tracker, channels=[Scripted([])], clock=lambda: now[0])
    assert sorted(gather(early, queued(), {}).notices) == [1, 3]
    # without its job-match label the digest does not list it, so never expires it: owed,
    # it is announced, never held for an expiry that does not come
    tracker.update_issue(3, remove=[Config().labels.match])
    assert sorted(gather(ctx, queued(), {}).notices) == [3]


def test_an_apply_by_from_an_edited_description_does_not_postpone_the_expiry() -> None:
    """A record line kept in a description somebody else edited (its fingerprint still
    agrees, and GitLab counts no note for the edit) is not the bot's any more: its apply_by,
    six days after the 14, postpones nothing. On day 14 the match is held for the digest,
    which expires it then, as an unedited one with that apply_by is not."""
    now = [MIDDAY]
    tracker = MemoryTracker(clock=lambda: now[0])
    later = (MIDDAY + timedelta(days=20)).date().isoformat()
    prints = {}
    for n in (1, 2):
        url = f"https://jobs.example/{n}"
        match = Match(91, f"Match {n}", "Acme", url, "in.json", n, match_keys(None, url))
        ref = tracker.create_issue(issue_draft(Config(), replace(match, apply_by=later), []))
        prints[ref.iid] = record.fingerprint(ref.description)
    edited = tracker.issues[2]
    edited.ref = replace(edited.ref, description=edited.ref.description + "\n\nP.S.")
    edited.notes.append(Note(1, "mallory", DESCRIPTION_CHANGED, True, MIDDAY.isoformat()))
    queue = Queue()
    queue.account([1, 2], ["slack"], prints)
    ctx = Context(Config(), tracker, channels=[Scripted([])], clock=lambda: now[0])
    now[0] = MIDDAY + timedelta(days=14)
    owed = gather(ctx, queue, {})
    assert sorted(owed.notices) == [1] and owed.held == [2]


def test_gather_reads_no_notes_for_issues_still_as_staged() -> None:
    tracker = MemoryTracker(clock=lambda: MIDDAY)
    prints = dict(staged_issue(tracker, n) for n in (1, 2))
    ctx = Context(Config(), tracker, channels=[Scripted([])], clock=lambda: MIDDAY)
    queue = Queue()
    queue.account([1, 2], ["slack"], prints)
    queue.pass_over(2)
    read: list[int] = []
    notes = tracker.notes

    def counted(iid: int) -> list[Note]:
        read.append(iid)
        return notes(iid)

    tracker.notes = counted  # type: ignore[method-assign]
    owed = gather(ctx, queue, {})
    assert sorted(owed.notices) == [1, 2] and read == []  # open, pending, no note, vouched
    tracker.issues[2].ref = dataclasses.replace(tracker.issues[2].ref, state="closed")
    queue2 = Queue(through=2, pending={"slack": {1, 2}}, records=dict(prints))
    assert sorted(gather(ctx, queue2, {}).notices) == [1, 2] and read == [2]  # closed: look


def test_a_match_with_no_record_to_vouch_for_is_announced_without_its_text() -> None:
    tracker = MemoryTracker(clock=lambda: MIDDAY)
    staged_issue(tracker, 1)
    ctx = Context(Config(), tracker, channels=[Scripted([])], clock=lambda: MIDDAY)
    queue = Queue(through=1, pending={"slack": {1}})  # queued before fingerprints were kept
    owed = gather(ctx, queue, {})
    assert not owed.notices[1].altered and queue.records[1]  # vouched by the audit: kept now
    tracker.issues[1].ref = dataclasses.replace(tracker.issues[1].ref, description="edited")
    again = gather(ctx, Queue(through=1, pending={"slack": {1}}), {})
    assert again.notices[1].altered  # nothing left to vouch for


@pytest.mark.parametrize(
    ("batch", "summary", "sizes"),
    [(True, True, [3]), (True, False, [1, 1, 1]), (False, True, [1, 1, 1])],
)
def test_payloads_one_summary_or_one_message_each(
    batch: bool, summary: bool, sizes: list[int]
) -> None:
    cfg = Config()
    cfg.notification.preferences.batch_mode = batch
    cfg.notification.preferences.batch_summary = summary
    built = payloads(cfg, "new", "c9", [notice(1), notice(2), notice(3)])
    assert [len(p.matches) for p in built] == sizes
    assert all(p.cycle_id == "c9" and p.kind == "new" for p in built)
    assert all(p.summary and "\n" not in p.summary and "  " not in p.summary for p in built)


def test_the_queue_round_trips_through_the_run_log() -> None:
    tracker = MemoryTracker(clock=lambda: MIDDAY)
    assert read_queue(tracker) is None
    queue = Queue(through=3, pending={"slack": {4}})
    write_queue(tracker, queue)
    write_queue(tracker, Queue(through=5))
    found = read_queue(tracker)
    assert found is not None and found.to_data() == Queue(through=5).to_data()


def test_the_summary_is_plain_text_on_one_line() -> None:
    odd = Notice(1, 91, "C++ <Dev> & Ops", "A&B", "https://gl.example/i/1", "https://j/1")
    (built,) = payloads(Config(), "new", "c", [odd])
    assert "C++ <Dev> & Ops" in built.summary  # text, not Markdown or HTML escapes


def test_a_queue_not_written_in_quiet_hours_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = Config()
    cfg.notification.preferences.quiet_hours = QuietHours("22:00", "07:00", "Europe/Vienna")
    night = datetime(2026, 2, 9, 22, 30, tzinfo=UTC)
    tracker = MemoryTracker(clock=lambda: night)

    def refuse(kind: str, data: dict[str, object]) -> None:
        raise TrackerError("GitLab answered 500")

    monkeypatch.setattr(tracker, "append_log", refuse)
    ctx = Context(cfg, tracker, channels=[Scripted([])], clock=lambda: night)
    queue = Queue()
    queue.account([1], ["slack"])
    report = deliver(ctx, queue, {1: notice(1)}, kind="new", cycle_id="c", dirty=True)
    assert report.unrecorded == ["GitLab answered 500: the delivery queue could not be written"]
    assert report.deferred == (1,)


def test_gather_a_deleted_issue_stops_nothing_after_it() -> None:
    tracker = MemoryTracker(clock=lambda: MIDDAY)
    prints = dict(staged_issue(tracker, n) for n in (1, 2))
    del tracker.issues[1]  # deleted since it was queued
    ctx = Context(Config(), tracker, channels=[Scripted([])], clock=lambda: MIDDAY)
    queue = Queue(through=2, pending={"slack": {1, 2}}, records=dict(prints))
    owed = gather(ctx, queue, {})
    assert (owed.gone, sorted(owed.notices)) == ([1], [2])


def test_gather_with_nothing_listed_moves_through_nowhere() -> None:
    ctx = Context(Config(), MemoryTracker(clock=lambda: MIDDAY), channels=[Scripted([])])
    queue = Queue()
    gather(ctx, queue, {})
    assert (queue.through, queue.accounted) == (0, set())


def test_a_stray_of_the_first_release_is_not_announced_and_an_edited_one_has_no_record() -> None:
    tracker = MemoryTracker(clock=lambda: MIDDAY)
    staged_issue(tracker, 1)
    staged_issue(tracker, 2)
    legacy = "<!-- match-staging v1 keys: msk-abc -->\n" + tracker.issues[1].ref.description
    tracker.issues[1].ref = dataclasses.replace(tracker.issues[1].ref, description=legacy)
    tracker.issues[2].ref = dataclasses.replace(tracker.issues[2].ref, description="edited")
    ctx = Context(Config(), tracker, channels=[Scripted([])], clock=lambda: MIDDAY)
    queue = Queue()
    owed = gather(ctx, queue, {})
    assert sorted(owed.notices) == [2] and owed.notices[2].altered
    assert queue.records == {2: ""}  # nothing of its text is vouched for


def test_deliver_sends_the_cycle_it_was_given() -> None:
    channel = Scripted([Delivery("slack", True, "ok")])
    ctx = Context(Config(), MemoryTracker(clock=lambda: MIDDAY), channels=[channel])
    queue = Queue()
    queue.account([1], ["slack"])
    deliver(ctx, queue, {1: notice(1)}, kind="reminder", cycle_id="c42")
    assert [(p.cycle_id, p.kind) for p in channel.sent] == [("c42", "reminder")]

"""One contract, three trackers: the in-memory one the use-case tests use, the local one users
run on a laptop, and the GitLab one over real HTTP against the fake GitLab. Whatever the
in-memory tracker accepts, the others accept too: it can never be more lenient."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from match_staging.errors import TrackerError
from match_staging.model import IssueDraft, LabelSpec
from match_staging.record import key_line
from match_staging.trackers.base import Tracker
from match_staging.trackers.local import LocalTracker
from tests.conftest import FakeTime
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.memory_tracker import MemoryTracker

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # read_log's window: every record

PENDING, APPROVED = "job-match/pending", "job-match/approved"
LABELS = ("job-match", PENDING)


def draft(n: int, *, labels: tuple[str, ...] = LABELS) -> IssueDraft:
    keys = (f"msk-{n:03x}a", f"msk-{n:03x}b")
    return IssueDraft(
        title=f"[JOB-MATCH] 9{n}% — Match {n}",
        description=f"{key_line(keys)}\n## Match {n}\n",
        labels=labels,
        keys=keys,
    )


@dataclass
class Subject:
    tracker: Tracker
    # a person acting on the board (None: the tracker has no one but the tool)
    person: Callable[[str], AbstractContextManager[object]] | None


@pytest.fixture(params=["memory", "local", "gitlab"])
def subject(
    request: pytest.FixtureRequest, tmp_path: Path, fake_time: FakeTime
) -> Iterator[Subject]:
    if request.param == "memory":
        memory = MemoryTracker(clock=fake_time.clock)
        yield Subject(memory, memory.as_user)
    elif request.param == "local":
        yield Subject(LocalTracker(tmp_path / ".match-staging", clock=fake_time.clock), None)
    else:
        from match_staging.config import GitLabSettings
        from match_staging.trackers.gitlab import GitLabTracker

        with FakeGitLab() as fake:
            tracker = GitLabTracker(
                GitLabSettings(url=fake.url, project="1"),
                fake.token,
                sleep=fake_time.sleep,
                clock=fake_time.clock,
            )
            yield Subject(tracker, fake.act_as)


def test_an_issue_reads_back_as_created(subject: Subject) -> None:
    tracker = subject.tracker
    first, second = tracker.create_issue(draft(1)), tracker.create_issue(draft(2))
    assert (first.iid, second.iid) == (1, 2)
    got = tracker.get_issue(2)
    assert got is not None
    assert got.title == "[JOB-MATCH] 92% — Match 2" and got.state == "opened"
    assert set(got.labels) == set(LABELS) and got.keys == ("msk-002a", "msk-002b")
    assert got.description.startswith("<sub>match-staging keys: msk002a msk002b</sub>")
    assert got.author == tracker.bot_user()


def test_an_unknown_issue_is_none_or_an_error(subject: Subject) -> None:
    tracker = subject.tracker
    tracker.create_issue(draft(1))
    assert tracker.get_issue(99) is None
    for call in (
        lambda: tracker.update_issue(99, add=[APPROVED]),
        lambda: tracker.add_note(99, "hello"),
        lambda: tracker.notes(99),
        lambda: tracker.label_events(99),
    ):
        with pytest.raises(TrackerError):
            call()


def test_labels_and_state_change_in_one_update(subject: Subject) -> None:
    tracker = subject.tracker
    tracker.create_issue(draft(1))
    tracker.create_issue(draft(2))
    changed = tracker.update_issue(1, add=[APPROVED], remove=[PENDING], state_event="close")
    assert set(changed.labels) == {"job-match", APPROVED} and changed.state == "closed"
    assert [i.iid for i in tracker.list_issues(["job-match"], state="opened")] == [2]
    assert [i.iid for i in tracker.list_issues(["job-match"], state="closed")] == [1]
    assert sorted(i.iid for i in tracker.list_issues(["job-match"])) == [1, 2]
    assert [i.iid for i in tracker.list_issues(["job-match", APPROVED])] == [1]
    reopened = tracker.update_issue(1, state_event="reopen", description="new text")
    assert reopened.state == "opened" and reopened.description == "new text"


def test_label_events_say_who_added_and_removed_what(subject: Subject) -> None:
    tracker = subject.tracker
    tracker.create_issue(draft(1))
    tracker.update_issue(1, add=[APPROVED], remove=[PENDING])
    bot = tracker.bot_user()
    moves = [(e.user, e.action, e.label) for e in tracker.label_events(1)]
    assert (bot, "add", APPROVED) in moves and (bot, "remove", PENDING) in moves
    assert moves.index((bot, "add", PENDING)) < moves.index((bot, "remove", PENDING))
    if subject.person is not None:
        with subject.person("reviewer"):
            tracker.update_issue(1, add=["job-match/sent"])
        assert ("reviewer", "add", "job-match/sent") in [
            (e.user, e.action, e.label) for e in tracker.label_events(1)
        ]


def test_label_events_carry_the_labels_id_where_labels_have_ids(subject: Subject) -> None:
    """GitLab: every label has an id, and its events carry it (a rename keeps it); the
    local and in-memory trackers have names only (None, and events with id 0)."""
    tracker = subject.tracker
    tracker.create_issue(draft(1))
    ids = tracker.label_ids()
    events = tracker.label_events(1)
    if ids is None:
        assert all(e.label_id == 0 for e in events)
        return
    assert {e.label: e.label_id for e in events} == {name: ids[name] for name in LABELS}


def test_notes_keep_their_author_oldest_first(subject: Subject) -> None:
    tracker = subject.tracker
    tracker.create_issue(draft(1))
    tracker.add_note(1, "**Review:** pending → **approved** by reviewer")
    if subject.person is not None:
        with subject.person("reviewer"):
            tracker.add_note(1, "looks good")
    tracker.add_note(1, "**Sent:** to the recruiter")
    notes = [(n.author, n.body) for n in tracker.notes(1) if not n.system]
    bot = tracker.bot_user()
    expected = [
        (bot, "**Review:** pending → **approved** by reviewer"),
        *([("reviewer", "looks good")] if subject.person else []),
        (bot, "**Sent:** to the recruiter"),
    ]
    assert notes == expected


def test_keys_find_issues_in_any_state(subject: Subject) -> None:
    tracker = subject.tracker
    tracker.create_issue(draft(1))
    tracker.create_issue(draft(2))
    tracker.update_issue(2, state_event="close")
    found = tracker.find_by_keys(
        ["msk-001b", "msk-002a", "msk-00fa"], label="job-match", expected=2
    )
    assert {key: ref.iid for key, ref in found.items()} == {"msk-001b": 1, "msk-002a": 2}


def test_prepare_creates_labels_and_counts_issues(subject: Subject) -> None:
    tracker = subject.tracker
    specs = [LabelSpec(name, "#6699cc", "") for name in ("job-match", PENDING, APPROVED)]
    assert tracker.prepare(specs, "job-match") == 0
    tracker.create_issue(draft(1))
    tracker.create_issue(draft(2, labels=("other",)))
    assert tracker.prepare(specs, "job-match") == 1


def test_run_log_newest_first_by_kind_and_limit(subject: Subject) -> None:
    tracker = subject.tracker
    for n in range(3):
        tracker.append_log("delivery", {"n": n})
    tracker.append_log("whatsapp-status", {"n": 9})
    assert [r.data for r in tracker.read_log("delivery", since=EPOCH)] == [
        {"n": 2},
        {"n": 1},
        {"n": 0},
    ]
    assert [r.data for r in tracker.read_log("delivery", since=EPOCH, limit=1)] == [{"n": 2}]
    assert [r.kind for r in tracker.read_log("whatsapp-status", since=EPOCH)] == ["whatsapp-status"]
    assert tracker.read_log("never-written", since=EPOCH) == []
    latest = tracker.latest_log("delivery")
    assert latest is not None and latest.data == {"n": 2}
    assert tracker.latest_log("never-written") is None
    for bad in ("Delivery", "-x", "a b"):
        with pytest.raises(ValueError, match="run-log kind"):
            tracker.read_log(bad, since=EPOCH)
        with pytest.raises(ValueError, match="run-log kind"):
            tracker.append_log(bad, {})


def test_run_log_records_are_the_bots_only(subject: Subject) -> None:
    tracker = subject.tracker
    tracker.append_log("delivery", {"by": "bot"})
    if isinstance(tracker, MemoryTracker):
        with tracker.as_user("mallory"):
            tracker.append_log("delivery", {"by": "mallory"})
    elif subject.person is not None:  # GitLab: a copy of a record, posted by a member
        body = tracker.notes(1)[-1].body
        with subject.person("mallory"):
            tracker.add_note(1, body.replace("bot", "mallory"))
    assert [r.data for r in tracker.read_log("delivery", since=EPOCH)] == [{"by": "bot"}]


def test_run_log_since_is_the_trackers_clock(fake_time: FakeTime, tmp_path: Path) -> None:
    """On GitLab a record's time is GitLab's; the other two use the injected clock."""
    for tracker in (
        MemoryTracker(clock=fake_time.clock),
        LocalTracker(tmp_path / ".match-staging", clock=fake_time.clock),
    ):
        tracker.append_log("delivery", {"n": 1})
        cut = fake_time.advance(hours=1)
        tracker.append_log("delivery", {"n": 2})
        assert [r.data for r in tracker.read_log("delivery", since=cut)] == [{"n": 2}]
        assert tracker.read_log("delivery", since=cut + timedelta(seconds=1)) == []


def test_changed_issues_are_those_updated_after_a_time(fake_time: FakeTime, tmp_path: Path) -> None:
    for tracker in (
        MemoryTracker(clock=fake_time.clock),
        LocalTracker(tmp_path / ".match-staging", clock=fake_time.clock),
    ):
        tracker.create_issue(draft(1))
        tracker.create_issue(draft(2))
        cut = fake_time.advance(minutes=5)
        fake_time.advance(minutes=1)
        tracker.update_issue(2, add=[APPROVED], remove=[PENDING])
        assert [i.iid for i in tracker.changed_issues(["job-match"], cut)] == [2]
        assert tracker.changed_issues(["job-match", PENDING], cut) == []

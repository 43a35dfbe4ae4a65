"""The run log ("ledger", BRIEF shared decision 3): records a run leaves for the next runs.
On GitLab they are notes by the bot on one confidential issue the bot created; whatever
anyone else writes, even a perfect copy of a record, is ignored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from match_staging.config import GitLabSettings
from match_staging.errors import RunLogLost, TrackerError
from match_staging.trackers import ledger
from match_staging.trackers.gitlab import GitLabTracker
from match_staging.trackers.local import LocalTracker
from tests.fakes.gitlab import FakeGitLab

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # read_log's window: every record

BOT, REVIEWER, MALLORY = 1, 2, 3
T0 = datetime(2026, 2, 8, 13, 30, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitLab]:
    monkeypatch.setattr("match_staging.trackers.gitlab.RETRY_PAUSE_SECONDS", 0)
    with FakeGitLab() as gitlab:
        yield gitlab


def tracker(fake: FakeGitLab) -> GitLabTracker:
    return GitLabTracker(
        GitLabSettings(url=fake.url, project="1"), fake.token, sleep=lambda _: None, clock=Clock()
    )


def as_user(fake: FakeGitLab, uid: int, method: str, path: str, **body: Any) -> Any:
    """A request made by another project member (the fake has one token; it acts as `uid`)."""
    fake.acting_user_id = uid
    try:
        answer = requests.request(
            method,
            f"{fake.url}/api/v4/projects/1{path}",
            headers={"PRIVATE-TOKEN": fake.token},
            json=body,
            timeout=10,
        )
    finally:
        fake.acting_user_id = BOT
    assert answer.ok, answer.text
    return answer.json()


def ledger_issues(fake: FakeGitLab) -> list[dict[str, Any]]:
    return [i for i in fake.issues.values() if ledger.LABEL in i["labels"]]


def bodies(fake: FakeGitLab, iid: int) -> list[str]:
    return [n["body"] for n in fake.notes.get(iid, [])]


# --- GitLab ----------------------------------------------------------------------------


def test_reading_an_empty_log_creates_nothing_and_costs_four_requests(fake: FakeGitLab) -> None:
    log = tracker(fake)
    assert log.read_log("whatsapp-status", since=EPOCH) == []
    assert ledger_issues(fake) == []
    # the bot; its confidential issues; all its issues (a log made public is still the log);
    # the run log's label (left behind by a deleted log: then RunLogLost, not a first run)
    assert [(r.method, r.path) for r in fake.requests] == [
        ("GET", "/api/v4/user"),
        ("GET", "/api/v4/projects/1/issues"),
        ("GET", "/api/v4/projects/1/issues"),
        ("GET", f"/api/v4/projects/1/labels/{ledger.LABEL}"),
    ]


def test_first_write_creates_one_confidential_bot_issue_without_the_match_label(
    fake: FakeGitLab,
) -> None:
    log = tracker(fake)
    log.append_log("whatsapp-status", {"reported": ["SM1"]})
    log.append_log("reminder", {"iids": [4, 5]})
    tracker(fake).append_log("whatsapp-status", {"reported": ["SM2"]})  # a later run
    [issue] = ledger_issues(fake)
    assert issue["confidential"] is True
    assert issue["author"]["id"] == BOT
    assert issue["labels"] == [ledger.LABEL]  # no job-match label: never a staged match
    assert issue["title"] == ledger.TITLE
    assert fake.count("POST", r"/issues$") == 1
    assert len(bodies(fake, issue["iid"])) == 3


def test_records_come_back_newest_first_by_kind_and_limit(fake: FakeGitLab) -> None:
    writer = tracker(fake)
    for n in range(3):
        writer.append_log("whatsapp-status", {"n": n, "text": "ünïcode --> <!-- -->"})
        writer.append_log("reminder", {"n": n})
    fake.reset_log()
    reader = tracker(fake)
    records = reader.read_log("whatsapp-status", since=EPOCH)
    assert [r.data["n"] for r in records] == [2, 1, 0]
    assert records[0].data["text"] == "ünïcode --> <!-- -->"
    assert records[0].kind == "whatsapp-status"
    assert records[0].created_at > records[1].created_at > records[2].created_at
    assert records[0].created_at.tzinfo is not None
    # GET /user, the ledger lookup, its system notes (nobody else edited it), a page of notes
    assert len(fake.requests) == 4
    assert [r.data["n"] for r in reader.read_log("reminder", since=EPOCH, limit=2)] == [2, 1]
    assert len(fake.requests) == 5  # both lookups are cached for the run: one page more


def test_created_at_is_the_writing_run_s_clock(fake: FakeGitLab) -> None:
    log = GitLabTracker(GitLabSettings(url=fake.url, project="1"), fake.token, clock=lambda: T0)
    log.append_log("reminder", {})
    assert tracker(fake).read_log("reminder", since=EPOCH)[0].created_at == T0


def test_a_reporter_s_perfect_copy_of_a_record_is_ignored(fake: FakeGitLab) -> None:
    tracker(fake).append_log("whatsapp-status", {"reported": ["SM1"]})
    [issue] = ledger_issues(fake)
    genuine = bodies(fake, issue["iid"])[0]
    forged = ledger.note_body(
        "whatsapp-status", {"reported": ["SM1", "SM2"]}, T0 + timedelta(days=1)
    )
    as_user(fake, REVIEWER, "POST", f"/issues/{issue['iid']}/notes", body=genuine)
    as_user(fake, REVIEWER, "POST", f"/issues/{issue['iid']}/notes", body=forged)
    records = tracker(fake).read_log("whatsapp-status", since=EPOCH)
    assert [r.data for r in records] == [{"reported": ["SM1"]}]


def test_a_flood_of_members_comments_does_not_hide_the_records(fake: FakeGitLab) -> None:
    """Reporters may comment on the confidential log: 1,001 comments after the record push
    it eleven pages down, and the reader pages on until it finds it (issue 20: a cap of ten
    pages made it a first run). Cheap pages: the system-notes check skips comments."""
    tracker(fake).append_log("delivery-queue", {"through": 7})
    [issue] = ledger_issues(fake)
    with fake.lock:  # 1,001 comments by a member, seeded directly (no request log)
        for n in range(1001):
            fake.notes[issue["iid"]].append(
                {
                    **fake.notes[issue["iid"]][0],
                    "id": 990_000 + n,
                    "body": f"spam {n}",
                    "author": fake.users[MALLORY],
                    "created_at": fake._now(),
                }
            )
    fake.reset_log()
    record = tracker(fake).latest_log("delivery-queue")
    assert record is not None and record.data == {"through": 7}
    assert fake.count("GET", r"/notes$") == 1 + 11  # the system notes, then 11 pages
    assert tracker(fake).latest_log("whatsapp-status") is None  # read to the end: none


def test_a_ledger_issue_by_someone_else_is_never_used(fake: FakeGitLab) -> None:
    forged = as_user(
        fake,
        MALLORY,
        "POST",
        "/issues",
        title=ledger.TITLE,
        description=ledger.DESCRIPTION,
        labels=ledger.LABEL,
        confidential=True,
    )
    as_user(
        fake,
        MALLORY,
        "POST",
        f"/issues/{forged['iid']}/notes",
        body=ledger.note_body("reminder", {"forged": True}, T0),
    )
    # its label is what a deleted run log leaves behind: not a first run, until the operator
    # says so (issue 20); the forged issue is never read
    with pytest.raises(RunLogLost, match="label match-staging-ledger remains"):
        tracker(fake).read_log("reminder", since=EPOCH)
    new, retired = tracker(fake).restart_log() or (0, [1])
    assert retired == [] and new != forged["iid"]
    log = tracker(fake)
    log.append_log("reminder", {"genuine": True})
    mine = [i for i in ledger_issues(fake) if i["author"]["id"] == BOT]
    assert len(mine) == 1 and mine[0]["iid"] != forged["iid"]
    assert bodies(fake, forged["iid"]) == [ledger.note_body("reminder", {"forged": True}, T0)]
    assert [r.data for r in tracker(fake).read_log("reminder", since=EPOCH)] == [{"genuine": True}]


def test_a_bot_issue_somebody_labelled_as_the_ledger_is_not_it(fake: FakeGitLab) -> None:
    staged = fake.add_issue("[JOB-MATCH] 97% — Cloud Architect", "match", labels=["job-match"])
    as_user(
        fake,
        REVIEWER,
        "PUT",
        f"/issues/{staged['iid']}",
        add_labels=ledger.LABEL,
        title=ledger.TITLE,
        confidential=True,
    )
    # no run log, but its label: not a first run (issue 20); here a Reporter made the label
    with pytest.raises(RunLogLost, match=r"run log is missing: .* label match-staging-ledger"):
        tracker(fake).append_log("reminder", {"n": 1})
    assert bodies(fake, staged["iid"]) == [] and len(fake.issues) == 1
    assert tracker(fake).restart_log() == (2, [])  # the operator's way out
    tracker(fake).append_log("reminder", {"n": 1})
    assert bodies(fake, staged["iid"]) == []
    assert [r.data for r in tracker(fake).read_log("reminder", since=EPOCH)] == [{"n": 1}]


def test_a_create_whose_answer_was_lost_leaves_one_ledger(fake: FakeGitLab) -> None:
    fake.drop_next("POST", r"/issues$", after_commit=True)
    tracker(fake).append_log("reminder", {"n": 1})
    assert len(ledger_issues(fake)) == 1
    assert [r.data for r in tracker(fake).read_log("reminder", since=EPOCH)] == [{"n": 1}]


@pytest.mark.parametrize("fault", ["lost answer", "500"])
def test_a_failed_label_lookup_is_no_first_run(fake: FakeGitLab, fault: str) -> None:
    """No run log among the bot's issues, and the lookup of its label gets no usable answer:
    that is a failed read, never "no label, so no log was ever written", which would let the
    first record start a new log and drop what a deleted one still owed."""
    fake.add_label(ledger.LABEL)  # left behind by a deleted run log
    path = rf"/labels/{ledger.LABEL}$"
    if fault == "500":
        fake.fail_next("GET", path, status=500)
    else:
        fake.drop_next("GET", path)
    with pytest.raises(TrackerError) as failed:
        tracker(fake).append_log("reminder", {"n": 1})
    assert failed.value.transient and "run-log issue" in str(failed.value)
    assert ledger_issues(fake) == [] and fake.issues == {}
    with pytest.raises(RunLogLost):  # the next run sees what the label says
        tracker(fake).append_log("reminder", {"n": 1})


def test_a_note_whose_answer_was_lost_is_written_once(fake: FakeGitLab) -> None:
    log = tracker(fake)
    log.append_log("reminder", {"n": 1})
    fake.drop_next("POST", r"/notes$", after_commit=True)
    log.append_log("reminder", {"n": 2})
    assert [r.data["n"] for r in tracker(fake).read_log("reminder", since=EPOCH)] == [2, 1]


def test_malformed_markers_and_bad_kinds(fake: FakeGitLab) -> None:
    log = tracker(fake)
    log.append_log("reminder", {"n": 1})
    [issue] = ledger_issues(fake)
    with fake.lock:  # a bot note with a broken marker (a crash mid-write, an old version)
        fake.notes[issue["iid"]][0]["body"] = "<!-- match-staging v1 log: bm90IGpzb24= -->"
    assert tracker(fake).read_log("reminder", since=EPOCH) == []
    with pytest.raises(ValueError, match="run-log kind"):
        log.append_log("Reminder `x`", {})
    with pytest.raises(TypeError):
        log.append_log("reminder", {"when": object()})


# --- the local tracker ---------------------------------------------------------------------


def test_local_log_is_kept_in_the_state_file(tmp_path: Path) -> None:
    log = LocalTracker(tmp_path, clock=Clock())
    assert log.read_log("reminder", since=EPOCH) == []
    log.append_log("reminder", {"n": 1})
    log.append_log("whatsapp-status", {"reported": []})
    log.append_log("reminder", {"n": 2})
    again = LocalTracker(tmp_path, clock=Clock())
    records = again.read_log("reminder", since=EPOCH)
    assert [r.data for r in records] == [{"n": 2}, {"n": 1}]
    assert records[0].created_at == T0 + timedelta(minutes=3)
    assert [r.data for r in again.read_log("reminder", since=EPOCH, limit=1)] == [{"n": 2}]

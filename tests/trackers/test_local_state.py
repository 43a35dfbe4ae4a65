"""The local tracker's state file, `.match-staging/tracker.json`: what one command writes the
next one reads, a damaged file is named with what to do, and the run log stays bounded."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from match_staging.clock import system_now
from match_staging.errors import TrackerError
from match_staging.model import IssueDraft
from match_staging.trackers import local
from match_staging.trackers.local import LocalTracker
from tests.conftest import FakeTime

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # read_log's window: every record

DRAFT = IssueDraft(
    title="[JOB-MATCH] 92% — DevOps",
    description="## Match\n",
    labels=("job-match", "job-match/pending"),
    keys=("msk-0a",),
)


def test_the_next_command_sees_what_the_last_one_wrote(tmp_path: Path, fake_time: FakeTime) -> None:
    first = LocalTracker(tmp_path / ".match-staging", clock=fake_time.clock)
    first.create_issue(DRAFT)
    first.add_note(1, "**Review:** pending → **approved** by ada")
    first.append_log("delivery", {"pending": {}})
    later = LocalTracker(tmp_path / ".match-staging", clock=fake_time.clock)
    issue = later.get_issue(1)
    assert issue is not None and issue.keys == ("msk-0a",) and issue.notes_count == 1
    assert [n.body for n in later.notes(1)] == ["**Review:** pending → **approved** by ada"]
    assert [r.data for r in later.read_log("delivery", since=EPOCH)] == [{"pending": {}}]
    assert later.create_issue(DRAFT).iid == 2  # numbering goes on


def test_a_damaged_state_file_is_named_with_what_to_do(tmp_path: Path) -> None:
    state = tmp_path / ".match-staging" / "tracker.json"
    state.parent.mkdir()
    state.write_text('{"issues": [', encoding="utf-8")
    with pytest.raises(TrackerError, match=r"tracker\.json: cannot be read .*move it away"):
        LocalTracker(state.parent, clock=system_now)


def test_no_temporary_file_is_left_beside_the_state(tmp_path: Path) -> None:
    tracker = LocalTracker(tmp_path / ".match-staging", clock=system_now)
    tracker.create_issue(DRAFT)
    tracker.update_issue(1, add=["job-match/approved"], remove=["job-match/pending"])
    names = sorted(p.name for p in (tmp_path / ".match-staging").iterdir())
    assert names == ["issues", "tracker.json"]
    assert sorted(p.name for p in (tmp_path / ".match-staging" / "issues").iterdir()) == ["1.md"]


def test_the_run_log_keeps_only_the_newest_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local, "MAX_LOG_RECORDS", 3)
    tracker = LocalTracker(tmp_path / ".match-staging", clock=system_now)
    for n in range(5):
        tracker.append_log("delivery", {"n": n})
    assert [r.data["n"] for r in tracker.read_log("delivery", since=EPOCH)] == [4, 3, 2]


def test_an_upload_is_a_copy_under_the_state_folder(tmp_path: Path) -> None:
    cv = tmp_path / "cv.pdf"
    cv.write_bytes(b"%PDF-1.4 cv")
    tracker = LocalTracker(tmp_path / ".match-staging", clock=system_now)
    upload = tracker.upload(cv)
    assert upload.name == "cv.pdf" and upload.url.startswith("../uploads/")
    copied = tmp_path / ".match-staging" / upload.url.removeprefix("../")
    assert copied.read_bytes() == b"%PDF-1.4 cv"
    assert tracker.upload(cv) == upload  # the same file: the same place

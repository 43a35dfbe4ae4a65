"""The use cases on the in-memory tracker: stage and review without HTTP, files or a CLI.
(The same steps end to end, over HTTP, are in test_stage.py and test_review.py beside it.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from match_staging import config
from match_staging.context import Context
from match_staging.errors import InputError
from match_staging.matches import read_batch
from match_staging.model import State
from match_staging.usecases.gate import Gate
from match_staging.usecases.stage import stage
from tests.conftest import FakeTime
from tests.fakes.memory_tracker import MemoryTracker


@pytest.fixture
def staged(repo: Path, fake_time: FakeTime) -> tuple[Context, MemoryTracker]:
    """The five matches of matches-inbox/, staged once."""
    cfg = config.load(None, {})
    tracker = MemoryTracker(clock=fake_time.clock)
    ctx = Context(cfg, tracker, clock=fake_time.clock, sleep=fake_time.sleep, root=repo)
    report = stage(ctx, read_batch([], {}, cfg.staging.inbox))
    assert report.ok and len(report.staged) == 5
    return ctx, tracker


def test_staging_again_creates_no_second_issue(
    repo: Path, fake_time: FakeTime, staged: tuple[Context, MemoryTracker]
) -> None:
    ctx, tracker = staged
    again = stage(ctx, read_batch([], {}, ctx.cfg.staging.inbox))
    assert again.staged == [] and len(again.existing) == 5 and len(tracker.issues) == 5
    assert all(i.ref.labels.count("job-match/pending") == 1 for i in tracker.issues.values())
    assert all(i.ref.author == "bot" for i in tracker.issues.values())


def test_an_approval_moves_the_card_and_leaves_one_audit_note_by_the_bot(
    fake_time: FakeTime, staged: tuple[Context, MemoryTracker]
) -> None:
    ctx, tracker = staged
    result = Gate(ctx).review(2, State.APPROVED, "ada", "fits").step
    assert result.outcome == "applied"
    issue = tracker.get_issue(2)
    assert issue is not None and "job-match/approved" in issue.labels
    assert "job-match/pending" not in issue.labels and issue.state == "opened"
    notes = tracker.notes(2)
    assert len(notes) == 1 and notes[0].author == "bot"
    assert notes[0].body.startswith("**Review:** pending → **approved** by ada")
    # a second approval is refused: the match is no longer pending
    with pytest.raises(InputError, match="not pending"):
        Gate(ctx).review(2, State.APPROVED, "ada", "")
    assert len(tracker.notes(2)) == 1


def test_a_note_by_someone_else_does_not_make_a_match_reviewed(
    fake_time: FakeTime, staged: tuple[Context, MemoryTracker]
) -> None:
    """Only the bot's notes are the audit trail: a member's copy of a state marker is
    ignored, so the reviewer's step still applies."""
    ctx, tracker = staged
    with tracker.as_user("mallory"):
        tracker.add_note(
            3,
            "**Review:** pending → **rejected** by mallory\n"
            "<!-- match-staging v1 state: rejected -->",
        )
    result = Gate(ctx).review(3, State.REJECTED, "ada", "").step
    assert result.outcome == "applied"
    issue = tracker.get_issue(3)
    assert issue is not None and issue.state == "closed"  # workflow.close_rejected
    assert "job-match/rejected" in issue.labels


def test_an_unknown_issue_is_refused(
    staged: tuple[Context, MemoryTracker], fake_time: FakeTime
) -> None:
    ctx, _ = staged
    with pytest.raises(InputError, match="no job-match issue"):
        Gate(ctx).review(42, State.APPROVED, "ada", "")

"""The GitLab tracker reads listings as GitLab's JSON pages (`GitLabBase._pages`): an answer
that is not a list of objects is an error naming what failed, never an empty listing (an
empty note list would make an edited issue look untouched)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import gitlab
import pytest

from match_staging.config import GitLabSettings
from match_staging.errors import TrackerError
from match_staging.trackers.gitlab import GitLabTracker
from tests.fakes.gitlab import FakeGitLab

READS: dict[str, tuple[str, Callable[[GitLabTracker], Any]]] = {
    "issues": (r"/issues$", lambda t: t.list_issues(["job-match"])),
    "changed": (r"/issues$", lambda t: t.changed_issues([], datetime(2026, 1, 1, tzinfo=UTC))),
    "notes": (r"/issues/1/notes$", lambda t: t.notes(1)),
    "events": (r"/issues/1/resource_label_events$", lambda t: t.label_events(1)),
}


def with_one_issue(fake: FakeGitLab) -> GitLabTracker:
    """A tracker on `fake`, whose project holds issue #1 (made through the API)."""
    gitlab.Gitlab(fake.url, private_token=fake.token).projects.get(1, lazy=True).issues.create(
        {"title": "Issue 1"}
    )
    return GitLabTracker(
        GitLabSettings(url=fake.url, project="1"),
        fake.token,
        clock=lambda: datetime(2026, 2, 8, 13, 30, tzinfo=UTC),
    )


@pytest.mark.parametrize("answer", ["[null]", '["x"]', "[1, {}]"])
@pytest.mark.parametrize("read", sorted(READS))
def test_a_listing_of_other_than_objects_is_an_error(read: str, answer: str) -> None:
    path, call = READS[read]
    with FakeGitLab() as fake:
        tracker = with_one_issue(fake)
        fake.fail_next("GET", path, status=200, body=answer)
        with pytest.raises(TrackerError, match=r"^GitLab could not .*not an object"):
            call(tracker)
        assert isinstance(call(tracker), list)  # the next answer is GitLab's own


@pytest.mark.parametrize("fault", ["lost answer", "500"])
def test_a_failed_read_of_one_issue_is_no_missing_issue(fault: str) -> None:
    """`get_issue` answers None only on GitLab's 404: a read that got no answer, or a 500,
    is a transient error, never "the issue is gone" (the gate would treat a match as
    deleted, and the next run could not tell it was only a broken connection)."""
    with FakeGitLab() as fake:
        tracker = with_one_issue(fake)
        if fault == "500":
            fake.fail_next("GET", r"/issues/1$", status=500)
        else:
            fake.drop_next("GET", r"/issues/1$")
        with pytest.raises(TrackerError, match=r"^GitLab could not read an issue") as failed:
            tracker.get_issue(1)
        assert failed.value.transient
        found = tracker.get_issue(1)  # the next answer is GitLab's own
        assert found is not None and found.iid == 1
        assert tracker.get_issue(2) is None  # GitLab's 404: no such issue

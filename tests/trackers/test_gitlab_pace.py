"""Pacing of GitLab writes with the clock and sleep a run is handed: a clock that stands
still (MATCH_STAGING_NOW) must not turn every paced call into a minute's wait."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from match_staging.config import GitLabSettings
from match_staging.trackers.gitlab import GitLabTracker
from match_staging.trackers.gitlab_http import Pace


def test_a_standing_clock_waits_once_per_window_not_once_per_call() -> None:
    waits: list[float] = []
    pace = Pace(2, waits.append, clock=lambda: 0.0)
    for _ in range(4):
        pace()
    assert waits == [60.0]  # the third call waits for the window; the fourth fits in it


def test_a_clock_moved_by_the_sleep_is_paced_exactly() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    pace = Pace(2, sleep, clock=lambda: now[0])
    for _ in range(5):
        pace()
        now[0] += 1.0
    assert waits == [58.0, 58.0]  # never more than two calls in any 60 seconds


def test_the_trackers_paces_measure_the_time_that_really_passed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The run's clock may stand still (MATCH_STAGING_NOW): writes a minute apart in real
    time never wait, whatever instant the run's clock names."""
    real = [1000.0]
    monkeypatch.setattr("match_staging.clock.monotonic", lambda: real[0])
    waits: list[float] = []
    tracker = GitLabTracker(
        GitLabSettings(url="http://gitlab.invalid", project="1", issue_writes_per_minute=2),
        "token",
        clock=lambda: datetime(2026, 2, 8, 13, 30, tzinfo=UTC),
        sleep=waits.append,
    )
    for _ in range(5):
        tracker.write_pace()
        real[0] += 30.0
    assert waits == []  # two writes in any 60 seconds of real time

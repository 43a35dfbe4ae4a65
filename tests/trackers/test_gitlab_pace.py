"""Pacing of GitLab writes with the clock and sleep a run is handed: a clock that stands
still (MATCH_STAGING_NOW) must not turn every paced call into a minute's wait."""

from __future__ import annotations

from match_staging.trackers.gitlab import Pace


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

"""The one place that reads the clock: MATCH_STAGING_NOW replaces it (docs/interface.md).
The time is always returned in UTC: callers stamp it as `...Z` (cycle ids, outbox folders)
and convert it to the configured zone only to show it.

Everything else is handed a clock and a sleep; `system_now`, `system_sleep` and
`monotonic` are the real ones, each looking the standard library up when called, so a test
that patches `time.sleep` reaches every default.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_start
from zoneinfo import ZoneInfo

from match_staging.environment import in_ci
from match_staging.errors import ConfigError

Clock = Callable[[], datetime]  # an aware UTC datetime
Sleep = Callable[[float], None]


def system_now() -> datetime:
    """The real time, aware UTC."""
    return datetime.now(UTC)


def system_sleep(seconds: float) -> None:
    """The real sleep."""
    time.sleep(seconds)


def monotonic() -> float:
    """Seconds of a clock that never goes back, for measuring waits."""
    return time.monotonic()


def now(env: Mapping[str, str]) -> datetime:
    """MATCH_STAGING_NOW when set, else the real time. In CI the real time always: a
    pipeline variable could otherwise set the clock (quiet hours, reminders; issue 20).
    """
    value = None if in_ci(env) else env.get("MATCH_STAGING_NOW")
    if not value:
        return system_now()
    parsed = parse(value)
    if parsed is None:
        raise ConfigError(f"MATCH_STAGING_NOW: not an ISO-8601 timestamp: {value!r}")
    return parsed


def of_run(env: Mapping[str, str]) -> Clock:
    """The clock of a run: `now(env)`, read each time it is asked."""
    return lambda: now(env)


def parse(value: object) -> datetime | None:
    """An ISO 8601 time (GitLab's `...Z` included) as an aware UTC datetime; None when it is
    none. An offset such as +01:00 names an instant: 07:05+01:00 is 06:05Z, never 07:05Z;
    a time without one is taken as UTC.
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def deadline(value: object, zone: str) -> datetime | None:
    """A match's `apply_by` as the instant it passes, aware UTC; None when it is no date.
    A date alone counts through the end of that day in `zone` (applying on the day is in
    time); a date-time without an offset is a time in `zone`.
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        if len(value) == len("2026-12-03"):
            day = date.fromisoformat(value) + timedelta(days=1)
            return datetime.combine(day, day_start(), ZoneInfo(zone)).astimezone(UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(zone))).astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: past year 9999 or before year 1
        return None

"""Quiet hours: the half-open window [start, end) in the configured time zone
(docs/interface.md, "Boundaries": 22:00 is quiet, 07:00 is not). Pure functions.

Comparing wall-clock times in the zone makes DST days come out right: on the night the
clocks change, the window still opens at 22:00 and closes at 07:00 local time.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from match_staging.config import QuietHours


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def is_quiet(now: datetime, window: QuietHours | None) -> bool:
    """Whether `now` falls in the quiet hours `[start, end)`."""
    if window is None:
        return False
    start, end = _hhmm(window.start), _hhmm(window.end)
    if start == end:
        return False  # an empty window: never quiet
    local = now.astimezone(ZoneInfo(window.timezone)).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end  # across midnight


def quiet_until(now: datetime, window: QuietHours | None) -> datetime | None:
    """When the current quiet window ends (in the window's zone), or None if not quiet."""
    if window is None or not is_quiet(now, window):
        return None
    zone = ZoneInfo(window.timezone)
    local = now.astimezone(zone)
    end = _hhmm(window.end)
    candidate = datetime.combine(local.date(), end, tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=zone)
    return candidate

"""Quiet hours: [start, end) in the configured zone, across midnight and on DST days."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from match_staging.config import QuietHours
from match_staging.quiet import is_quiet, quiet_until

VIENNA = ZoneInfo("Europe/Vienna")
NIGHT = QuietHours(start="22:00", end="07:00", timezone="Europe/Vienna")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=VIENNA)


@pytest.mark.parametrize(
    ("when", "quiet"),
    [
        ("2026-02-08 21:59", False),
        ("2026-02-08 22:00", True),
        ("2026-02-08 23:59", True),
        ("2026-02-09 00:00", True),
        ("2026-02-09 06:59", True),
        ("2026-02-09 07:00", False),
        ("2026-02-09 12:00", False),
    ],
)
def test_window_across_midnight_is_half_open(when: str, quiet: bool) -> None:
    assert is_quiet(at(when), NIGHT) is quiet


def test_the_zone_decides_not_utc() -> None:
    # 21:30 UTC is 22:30 in Vienna in winter: quiet there
    assert is_quiet(datetime.fromisoformat("2026-02-08T21:30:00+00:00"), NIGHT)
    assert not is_quiet(
        datetime.fromisoformat("2026-02-08T21:30:00+00:00"), QuietHours("22:00", "07:00", "UTC")
    )


@pytest.mark.parametrize(
    ("utc", "quiet"),
    [
        # 2026-03-29: Vienna springs forward at 02:00 -> 03:00 (UTC+1 -> UTC+2)
        ("2026-03-29T04:59:00+00:00", True),  # 06:59 CEST
        ("2026-03-29T05:00:00+00:00", False),  # 07:00 CEST
        ("2026-03-28T20:59:00+00:00", False),  # 21:59 CET
        ("2026-03-28T21:00:00+00:00", True),  # 22:00 CET
        # 2026-10-25: falls back at 03:00 -> 02:00 (UTC+2 -> UTC+1)
        ("2026-10-25T05:59:00+00:00", True),  # 06:59 CET
        ("2026-10-25T06:00:00+00:00", False),  # 07:00 CET
        ("2026-10-24T19:59:00+00:00", False),  # 21:59 CEST
        ("2026-10-24T20:00:00+00:00", True),  # 22:00 CEST
    ],
)
def test_dst_days_keep_local_wall_clock_boundaries(utc: str, quiet: bool) -> None:
    assert is_quiet(datetime.fromisoformat(utc), NIGHT) is quiet


def test_quiet_until_is_the_next_local_end_also_across_dst() -> None:
    until = quiet_until(datetime.fromisoformat("2026-03-28T23:00:00+00:00"), NIGHT)
    assert until is not None
    assert until.isoformat() == "2026-03-29T07:00:00+02:00"
    late = quiet_until(at("2026-02-08 22:30"), NIGHT)
    assert late is not None and late.isoformat() == "2026-02-09T07:00:00+01:00"
    early = quiet_until(at("2026-02-09 05:00"), NIGHT)
    assert early is not None and early.isoformat() == "2026-02-09T07:00:00+01:00"
    assert quiet_until(at("2026-02-09 12:00"), NIGHT) is None


def test_daytime_window_and_empty_window_and_none() -> None:
    lunch = QuietHours(start="12:00", end="13:00", timezone="Europe/Vienna")
    assert is_quiet(at("2026-02-09 12:30"), lunch)
    assert not is_quiet(at("2026-02-09 13:00"), lunch)
    assert not is_quiet(at("2026-02-09 23:00"), lunch)
    assert not is_quiet(at("2026-02-09 23:00"), QuietHours("07:00", "07:00", "Europe/Vienna"))
    assert not is_quiet(at("2026-02-09 23:00"), None)


# Every edge of both kinds of window, minutes included (issue 26: the start of a same-day
# window was left unchecked). "quiet" is [start, end): the start minute is quiet, the end
# minute is not.
LUNCH = QuietHours(start="12:30", end="13:45", timezone="Europe/Vienna")
LATE = QuietHours(start="22:30", end="06:15", timezone="Europe/Vienna")


@pytest.mark.parametrize(
    ("window", "when", "quiet"),
    [
        (LUNCH, "2026-02-09 00:00", False),
        (LUNCH, "2026-02-09 12:29", False),
        (LUNCH, "2026-02-09 12:30", True),  # the start of a same-day window
        (LUNCH, "2026-02-09 13:00", True),
        (LUNCH, "2026-02-09 13:44", True),
        (LUNCH, "2026-02-09 13:45", False),  # the end is not quiet
        (LUNCH, "2026-02-09 23:59", False),
        (LATE, "2026-02-08 22:29", False),
        (LATE, "2026-02-08 22:30", True),
        (LATE, "2026-02-09 00:00", True),
        (LATE, "2026-02-09 06:14", True),
        (LATE, "2026-02-09 06:15", False),
        (LATE, "2026-02-09 12:00", False),
    ],
)
def test_every_edge_of_a_window_minutes_included(
    window: QuietHours, when: str, quiet: bool
) -> None:
    assert is_quiet(at(when), window) is quiet


@pytest.mark.parametrize(
    ("window", "when", "until"),
    [
        (LUNCH, "2026-02-09 12:30", "2026-02-09T13:45:00+01:00"),  # same day, from the start
        (LUNCH, "2026-02-09 13:44", "2026-02-09T13:45:00+01:00"),
        (LUNCH, "2026-02-09 13:45", None),
        (LUNCH, "2026-02-09 12:29", None),
        (LATE, "2026-02-08 22:30", "2026-02-09T06:15:00+01:00"),  # before midnight: tomorrow
        (LATE, "2026-02-09 00:00", "2026-02-09T06:15:00+01:00"),  # after midnight: today
        (LATE, "2026-02-09 06:14", "2026-02-09T06:15:00+01:00"),
        (LATE, "2026-02-09 06:15", None),
    ],
)
def test_quiet_until_at_every_edge(window: QuietHours, when: str, until: str | None) -> None:
    found = quiet_until(at(when), window)
    assert (found.isoformat() if found else None) == until
    if found is not None:  # in the window's zone, whatever zone `now` came in
        assert found.tzinfo == VIENNA
        assert quiet_until(at(when).astimezone(ZoneInfo("UTC")), window) == found

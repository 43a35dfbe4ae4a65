"""Time is injected: `clock.py` is the one module that reads the clock or sleeps, so a run's
MATCH_STAGING_NOW and a test's fake sleep reach everything (issue 13)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from match_staging import clock
from match_staging.errors import ConfigError
from tests.conftest import ROOT, FakeTime

READS_TIME = re.compile(
    r"\b(time\.(sleep|time|monotonic|perf_counter)|datetime\.(now|utcnow|today)|date\.today)\("
)


def test_no_module_but_clock_reads_the_time_or_sleeps() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "src" / "match_staging").rglob("*.py"))
        if path.name != "clock.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if READS_TIME.search(line.split("#")[0])
    ]
    assert offenders == []


def test_match_staging_now_is_an_instant_in_utc() -> None:
    now = clock.now({"MATCH_STAGING_NOW": "2026-02-09T07:05:00+01:00"})
    assert now == datetime(2026, 2, 9, 6, 5, tzinfo=UTC)
    assert clock.now({"MATCH_STAGING_NOW": "2026-02-09T07:05:00Z"}).hour == 7
    with pytest.raises(ConfigError, match="MATCH_STAGING_NOW: not an ISO-8601 timestamp"):
        clock.now({"MATCH_STAGING_NOW": "tomorrow"})


def test_the_real_sleep_is_the_one_the_tests_replace(fake_time: FakeTime) -> None:
    clock.system_sleep(30)  # conftest's fake_time: recorded, not slept
    assert fake_time.waits == [30]

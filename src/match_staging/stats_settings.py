"""`stats`: what `match-staging stats` and the digest's weekly section take as evidence
enough to suggest a threshold (docs/interface.md, "stats"). Its own module so that the
configuration gains one field, not a section's worth of lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from match_staging.errors import ConfigError

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[Weekday, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)


@dataclass
class StatsSettings:
    """`stats`: the suggestion needs `min_decisions` decisions at or above a band edge with
    an approval rate of at least `target_approval_rate`; `digest` adds the section on
    `weekly_on` (the configured time zone's weekday).
    """

    min_decisions: int = 10
    target_approval_rate: float = 0.5
    weekly_on: Weekday = "monday"

    def __post_init__(self) -> None:
        if self.min_decisions < 1:
            raise ConfigError(f"stats.min_decisions: must be at least 1, got {self.min_decisions}")
        if not 0 < self.target_approval_rate <= 1:
            raise ConfigError(
                "stats.target_approval_rate: must be above 0 and at most 1, "
                f"got {self.target_approval_rate:g}"
            )

    @property
    def weekday(self) -> int:
        """`weekly_on` as `datetime.weekday()` counts (Monday 0)."""
        return WEEKDAYS.index(self.weekly_on)

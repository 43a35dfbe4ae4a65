"""Decision analytics (issue 24): the reviewer's recorded decisions, counted per score band,
so the matcher's threshold can be calibrated on evidence. Pure: plain functions over plain
data (`History`, one per staged match, built by usecases/stats.py from the bot's audit
notes); no I/O, no clock.

The states are counted over `State` itself, so a state added to the machine is a column
here without a change: `pending` is a match still pending, every other state counts the
matches that ever reached it (the bot recorded it in an audit note). So `approved` is
"ever approved" (approved, sent and every state after sent), as docs/interface.md says.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from match_staging.model import State
from match_staging.stats_settings import StatsSettings

DECISIONS = (State.APPROVED, State.REJECTED)  # what a reviewer decides on a pending match
TOP_REASONS = 10
BAR_CELLS = 12  # the widest band's bar in the text table, in characters
RATE_FROM = 5  # fewer decisions than this: the text shows counts only (2/3), not a rate
BAND_WIDTHS = (1, 2, 4, 5, 10, 20, 25, 50)  # those that divide 100: every band equally wide


@dataclass(frozen=True)
class Step:
    """A state the bot recorded in an audit note: when, and the reason noted with it."""

    state: State
    at: datetime
    reason: str = ""


@dataclass(frozen=True)
class History:
    """One staged match as its records tell it: the score the bot staged, when, the states
    its audit notes recorded (oldest first) and its score breakdown (name, score).
    """

    iid: int
    score: float
    staged_at: datetime
    steps: tuple[Step, ...] = ()
    requirements: tuple[tuple[str, float], ...] = ()

    @property
    def state(self) -> State:
        """The audited state: the newest recorded one, else pending."""
        return self.steps[-1].state if self.steps else State.PENDING

    def reached(self, state: State) -> bool:
        """Whether it ever reached `state` (pending: whether it still is)."""
        if state == State.PENDING:
            return self.state == State.PENDING
        return any(step.state == state for step in self.steps)

    @property
    def decision(self) -> Step | None:
        """The reviewer's first decision (approved or rejected), if any."""
        return next((s for s in self.steps if s.state in DECISIONS), None)


@dataclass(frozen=True)
class BandRow:
    """One band: `low <= score < low + width` (100 in the top band), labelled `low-high`."""

    low: int
    high: int
    counts: dict[str, int]  # staged, then each state's value

    @property
    def label(self) -> str:
        """`70-74`; the top band `95-100`."""
        return f"{self.low}-{self.high}"

    @property
    def approved(self) -> int:
        """Ever approved."""
        return self.counts[State.APPROVED.value]

    @property
    def rejected(self) -> int:
        """Rejected."""
        return self.counts[State.REJECTED.value]

    @property
    def approval_rate(self) -> float | None:
        """Approved / (approved + rejected); None when nothing was decided."""
        return rate(self.approved, self.rejected)


@dataclass(frozen=True)
class RequirementRow:
    """A requirement's mean score among approved and among rejected matches; `n`: how many
    decided matches name it.
    """

    requirement: str
    approved_mean: float | None
    rejected_mean: float | None
    n: int


@dataclass(frozen=True)
class Suggestion:
    """The lowest band edge whose matches at or above it meet the bar, and its evidence."""

    threshold: int
    decisions: int
    approved: int
    min_decisions: int
    target: float

    @property
    def rate(self) -> float:
        """The approval rate at or above the suggested threshold."""
        return self.approved / self.decisions


@dataclass(frozen=True)
class Report:
    """Everything `stats` shows (docs/interface.md: the JSON contract)."""

    since: datetime | None
    until: datetime
    width: int
    bands: tuple[BandRow, ...]
    median_hours: float | None
    p90_hours: float | None
    reasons: tuple[tuple[str, int], ...]
    requirements: tuple[RequirementRow, ...]
    suggestion: Suggestion | None
    staged: int = 0
    decided: int = 0
    skipped: tuple[int, ...] = field(default=())  # matches whose record cannot be believed


def rate(approved: int, rejected: int) -> float | None:
    """The approval rate: approved / (approved + rejected); None when none was decided."""
    decided = approved + rejected
    return approved / decided if decided else None


def band_low(score: float, width: int) -> int:
    """The lower edge of the band holding `score`; 100 belongs to the top band."""
    clamped = min(max(score, 0.0), 100.0)
    return min(int(clamped // width) * width, 100 - width)


def band_lows(width: int, lowest: float) -> list[int]:
    """Every band edge from the band holding `lowest` up to the top band."""
    return list(range(band_low(lowest, width), 100 - width + 1, width))


def count_bands(histories: Sequence[History], width: int, lowest: float) -> list[BandRow]:
    """The band table: per band, staged and each state (pending still, the others ever
    reached), from the band of `lowest` (the threshold, or a lower score staged) to 100.
    """
    floor = min([lowest, *(h.score for h in histories)])
    rows = []
    for low in band_lows(width, floor):
        inside = [h for h in histories if band_low(h.score, width) == low]
        counts = {"staged": len(inside)}
        counts.update({s.value: sum(h.reached(s) for h in inside) for s in State})
        high = 100 if low == 100 - width else low + width - 1
        rows.append(BandRow(low, high, counts))
    return rows


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile (the smallest value with at least q % at or below it)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(q / 100 * len(ordered)), 1) - 1]


def review_hours(histories: Iterable[History]) -> list[float]:
    """Hours from staging to the reviewer's first decision, for each decided match."""
    return [
        (step.at - h.staged_at).total_seconds() / 3600
        for h in histories
        if (step := h.decision) is not None
    ]


def rejection_reasons(
    histories: Iterable[History], top: int = TOP_REASONS
) -> list[tuple[str, int]]:
    """The reasons noted with rejections, counted (whitespace collapsed), most frequent
    first, then alphabetically; a rejection without a reason counts for none.
    """
    found: Counter[str] = Counter()
    for h in histories:
        for step in h.steps:
            reason = " ".join(step.reason.split())
            if step.state == State.REJECTED and reason:
                found[reason] += 1
    return sorted(found.items(), key=lambda item: (-item[1], item[0]))[:top]


def requirement_means(histories: Iterable[History]) -> list[RequirementRow]:
    """Per requirement name: the mean score among ever-approved and among rejected matches
    (a match that names it twice counts its mean once); by name.
    """
    scores: dict[str, dict[State, list[float]]] = {}
    for h in histories:
        side = next((s for s in DECISIONS if h.reached(s)), None)
        if side is None:
            continue
        mine: dict[str, list[float]] = {}
        for name, score in h.requirements:
            mine.setdefault(name, []).append(score)
        for name, values in mine.items():
            scores.setdefault(name, {}).setdefault(side, []).append(statistics.fmean(values))
    rows = []
    for name in sorted(scores):
        sides = scores[name]
        approved, rejected = sides.get(State.APPROVED, []), sides.get(State.REJECTED, [])
        rows.append(
            RequirementRow(
                name,
                statistics.fmean(approved) if approved else None,
                statistics.fmean(rejected) if rejected else None,
                len(approved) + len(rejected),
            )
        )
    return rows


def suggest(
    histories: Sequence[History], lows: Sequence[int], min_decisions: int, target: float
) -> Suggestion | None:
    """The lowest band edge L such that the matches scoring at least L have at least
    `min_decisions` decisions and an approval rate of at least `target`; None when no edge
    does. Only a suggestion: nothing changes the threshold.
    """
    for low in sorted(lows):
        above = [h for h in histories if h.score >= low]
        approved = sum(h.reached(State.APPROVED) for h in above)
        decisions = approved + sum(h.reached(State.REJECTED) for h in above)
        if decisions >= min_decisions and approved / decisions >= target:
            return Suggestion(low, decisions, approved, min_decisions, target)
    return None


def summarise(
    histories: Sequence[History],
    *,
    width: int,
    threshold: float,
    since: datetime | None,
    until: datetime,
    settings: StatsSettings,
) -> Report:
    """The whole report over `histories` (already limited to the window)."""
    min_decisions, target = settings.min_decisions, settings.target_approval_rate
    rows = count_bands(histories, width, threshold)
    hours = review_hours(histories)
    return Report(
        since=since,
        until=until,
        width=width,
        bands=tuple(rows),
        median_hours=statistics.median(hours) if hours else None,
        p90_hours=percentile(hours, 90),
        reasons=tuple(rejection_reasons(histories)),
        requirements=tuple(requirement_means(histories)),
        suggestion=suggest(histories, [r.low for r in rows], min_decisions, target),
        staged=len(histories),
        decided=sum(h.decision is not None for h in histories),
    )


# ------------------------------------------------------------------ the formats


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def to_json(report: Report) -> dict[str, Any]:
    """The JSON contract (docs/interface.md): rates to 4 places, hours and means to 2."""
    return {
        "since": report.since.isoformat() if report.since else None,
        "until": report.until.isoformat(),
        "bands": [
            {
                "band": row.label,
                "low": row.low,
                "high": row.high,
                **row.counts,
                "approval_rate": _round(row.approval_rate, 4),
            }
            for row in report.bands
        ],
        "time_to_review_hours": {
            "median": _round(report.median_hours, 2),
            "p90": _round(report.p90_hours, 2),
        },
        "rejection_reasons": [[reason, n] for reason, n in report.reasons],
        "requirements": [
            {
                "requirement": r.requirement,
                "approved_mean": _round(r.approved_mean, 2),
                "rejected_mean": _round(r.rejected_mean, 2),
                "n": r.n,
            }
            for r in report.requirements
        ],
        "suggested_threshold": report.suggestion.threshold if report.suggestion else None,
    }


def to_csv(report: Report) -> str:
    """The band table: a header, then a row per band (an empty rate when none decided)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = ["staged", *(s.value for s in State)]
    writer.writerow(["band", "low", "high", *columns, "approval_rate"])
    for row in report.bands:
        shown = "" if row.approval_rate is None else f"{row.approval_rate:.4f}"
        writer.writerow([row.label, row.low, row.high, *(row.counts[c] for c in columns), shown])
    return out.getvalue()


def rate_text(approved: int, rejected: int) -> str:
    """A band's rate for people: counts only below RATE_FROM decisions (`2/3`), else the
    percentage with its counts (`80% (8/10)`); `–` when nothing was decided.
    """
    decided = approved + rejected
    if not decided:
        return "–"
    if decided < RATE_FROM:
        return f"{approved}/{decided}"
    return f"{approved / decided:.0%} ({approved}/{decided})"


def bar(approved: int, rejected: int, staged: int, widest: int, cells: int = BAR_CELLS) -> str:
    """Unicode bar of a band: approved █, rejected ▒, the rest ░; the widest band
    `cells` characters (no dependency: plain text in every channel).
    """
    if not widest:
        return ""
    scale = cells / widest
    full, part = round(approved * scale), round((approved + rejected) * scale)
    return "█" * full + "▒" * (part - full) + "░" * (round(staged * scale) - part)


@dataclass(frozen=True)
class TextRow:
    """A band as the text table and the digest's section show it."""

    band: str
    staged: int
    pending: int
    approved: int
    rejected: int
    rate: str
    bar: str


def text_rows(report: Report, cells: int = BAR_CELLS) -> list[TextRow]:
    """The bands that hold a match, best first, each with its bar (`cells` wide at most)
    and rate text.
    """
    shown = [row for row in reversed(report.bands) if row.counts["staged"]]
    widest = max((row.counts["staged"] for row in shown), default=0)
    return [
        TextRow(
            row.label,
            row.counts["staged"],
            row.counts[State.PENDING.value],
            row.approved,
            row.rejected,
            rate_text(row.approved, row.rejected),
            bar(row.approved, row.rejected, row.counts["staged"], widest, cells),
        )
        for row in shown
    ]


def evidence(report: Report) -> str:
    """The suggestion in one line, with its evidence, or why there is none."""
    found = report.suggestion
    if found is None:
        return "no suggested threshold yet: no band edge has enough decisions at a high enough rate"
    return (
        f"suggested threshold: {found.threshold} ({found.approved} of {found.decisions} "
        f"decisions at or above {found.threshold} approved, {found.rate:.0%}; needs "
        f"{found.min_decisions} decisions and {found.target:.0%})"
    )

"""The pure core of `stats` (stats.py): bands, rates, percentiles, reasons, requirement
means, the suggested threshold and the formats, on plain data worked out by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from match_staging import stats
from match_staging.errors import ConfigError
from match_staging.model import State
from match_staging.stats import History, Step
from match_staging.stats_settings import StatsSettings

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def history(
    score: float,
    *states: State,
    hours: float = 1,
    reason: str = "",
    reqs: tuple[tuple[str, float], ...] = (),
) -> History:
    """A match staged at T0 whose steps are `hours` apart; the reason on every step."""
    steps = tuple(
        Step(s, T0 + timedelta(hours=hours * (n + 1)), reason) for n, s in enumerate(states)
    )
    return History(iid=int(score * 10), score=score, staged_at=T0, steps=steps, requirements=reqs)


@pytest.mark.parametrize(
    ("score", "width", "low"),
    [(70, 5, 70), (74.99, 5, 70), (75, 5, 75), (99.5, 5, 95), (100, 5, 95), (100, 10, 90),
     (100, 1, 99), (0, 5, 0), (64, 5, 60)],
)  # fmt: skip
def test_a_score_belongs_to_one_band_and_100_to_the_top_one(
    score: float, width: int, low: int
) -> None:
    assert stats.band_low(score, width) == low


def test_bands_run_from_the_threshold_or_a_lower_score_to_100() -> None:
    rows = stats.count_bands([history(96), history(100, State.APPROVED)], 5, 70)
    assert [r.label for r in rows] == ["70-74", "75-79", "80-84", "85-89", "90-94", "95-100"]
    assert rows[-1].counts["staged"] == 2 and rows[-1].approved == 1
    lower = stats.count_bands([history(62)], 10, 70)  # staged when the threshold was 60
    assert [r.label for r in lower] == ["60-69", "70-79", "80-89", "90-100"]


def test_every_state_is_a_column_and_counts_what_ever_reached_it() -> None:
    """pending: still pending; any other state: reached it once (approved: ever approved,
    so a sent match and one after sent count as approved too). A new State member is a new
    column with no change here.
    """
    rows = stats.count_bands(
        [
            history(90),
            history(91, State.APPROVED),
            history(92, State.APPROVED, State.SENT),
            history(93, State.REJECTED),
            history(94, State.PENDING),  # reverted to pending: still pending
        ],
        5,
        90,
    )
    counts = rows[0].counts
    assert set(counts) == {"staged"} | {s.value for s in State}
    assert (counts["staged"], counts["pending"], counts["approved"]) == (5, 2, 2)
    assert (counts["rejected"], counts["sent"]) == (1, 1)
    assert rows[0].approval_rate == pytest.approx(2 / 3)


def test_approval_rate_is_none_when_nothing_was_decided() -> None:
    assert stats.rate(0, 0) is None
    assert stats.rate(3, 1) == 0.75


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [([], 90, None), ([5.0], 90, 5.0), ([float(v) for v in range(1, 11)], 90, 9.0),
     ([float(v) for v in range(1, 11)], 50, 5.0), ([4.0, 1.0, 3.0, 2.0], 90, 4.0),
     ([float(v) for v in range(1, 34)], 90, 30.0)],
)  # fmt: skip
def test_percentile_is_the_nearest_rank(values: list[float], q: float, expected: float) -> None:
    assert stats.percentile(values, q) == expected


def test_time_to_review_is_staging_to_the_first_decision() -> None:
    found = stats.review_hours(
        [
            history(90, State.PENDING, State.APPROVED, State.SENT, hours=2),  # 4 h: the approval
            history(91, State.REJECTED, hours=10),
            history(92),  # undecided: not counted
        ]
    )
    assert found == [4.0, 10.0]


def test_rejection_reasons_are_counted_most_frequent_first() -> None:
    histories = [
        history(80, State.REJECTED, reason="Rate too low"),
        history(81, State.REJECTED, reason="  Rate   too low "),
        history(82, State.REJECTED, reason="Too far"),
        history(83, State.REJECTED, reason="Onsite"),
        history(84, State.REJECTED),  # no reason: not counted
        history(85, State.APPROVED, reason="Great fit"),  # not a rejection
    ]
    assert stats.rejection_reasons(histories) == [
        ("Rate too low", 2),
        ("Onsite", 1),
        ("Too far", 1),
    ]
    assert stats.rejection_reasons(histories, top=1) == [("Rate too low", 2)]


def test_requirement_means_per_decision() -> None:
    histories = [
        history(90, State.APPROVED, reqs=(("Python", 90), ("Python", 70))),  # its mean: 80
        history(91, State.APPROVED, State.SENT, reqs=(("Python", 100),)),
        history(80, State.REJECTED, reqs=(("Python", 40), ("Go", 10))),
        history(85, reqs=(("Python", 0),)),  # pending: not counted
    ]
    assert stats.requirement_means(histories) == [
        stats.RequirementRow("Go", None, 10.0, 1),
        stats.RequirementRow("Python", 90.0, 40.0, 3),
    ]


def test_suggested_threshold_is_the_lowest_edge_that_meets_the_bar() -> None:
    # 70-74: 0 of 4 approved; 80-84: 3 of 4; 90-94: 3 of 3
    histories = [history(72, State.REJECTED) for _ in range(4)]
    histories += [history(81, State.APPROVED) for _ in range(3)] + [history(82, State.REJECTED)]
    histories += [history(90, State.APPROVED, State.SENT) for _ in range(3)]
    # from 70: 6 of 11 (55 %); from 75 and 80: 6 of 7 (86 %)
    assert stats.suggest(histories, [70, 75, 80, 85, 90], 5, 0.75) == stats.Suggestion(
        75, 7, 6, 5, 0.75
    )
    assert stats.suggest(histories, [70, 75, 80, 85, 90], 5, 0.5) is not None
    assert stats.suggest(histories, [70, 75, 80, 85, 90], 5, 0.5).threshold == 70  # type: ignore[union-attr]
    assert stats.suggest(histories, [70, 75, 80, 85, 90], 12, 0.5) is None  # too few decisions


def test_rates_under_five_decisions_read_as_counts() -> None:
    assert stats.rate_text(0, 0) == "–"
    assert stats.rate_text(2, 1) == "2/3"
    assert stats.rate_text(4, 1) == "80% (4/5)"


def test_bars_scale_to_the_widest_band() -> None:
    assert stats.bar(2, 1, 4, 4) == "██████▒▒▒░░░"  # 12 cells for the widest band
    assert stats.bar(0, 0, 2, 4) == "░░░░░░"
    assert stats.bar(0, 0, 0, 0) == ""


def summary(histories: list[History]) -> stats.Report:
    return stats.summarise(
        histories,
        width=10,
        threshold=70,
        since=None,
        until=T0,
        settings=StatsSettings(min_decisions=2),
    )


def test_csv_is_the_band_table() -> None:
    text = stats.to_csv(summary([history(95, State.APPROVED), history(96, State.REJECTED)]))
    lines = text.splitlines()
    states = ",".join(s.value for s in State)
    assert lines[0] == f"band,low,high,staged,{states},approval_rate"
    assert lines[1].startswith("70-79,70,79,0,0,0,0,") and lines[1].endswith(",")
    assert lines[3].startswith("90-100,90,100,2,0,1,1,") and lines[3].endswith(",0.5000")


def test_text_rows_show_bands_with_matches_best_first_and_the_evidence() -> None:
    report = summary([history(95, State.APPROVED), history(96, State.APPROVED), history(71)])
    rows = stats.text_rows(report)
    assert [(r.band, r.staged, r.rate) for r in rows] == [("90-100", 2, "2/2"), ("70-79", 1, "–")]
    assert stats.evidence(report).startswith("suggested threshold: 70 (2 of 2 decisions")
    assert "no suggested threshold" in stats.evidence(summary([history(71)]))


def test_json_rounds_and_says_null() -> None:
    found = stats.to_json(summary([history(95, State.APPROVED, hours=1 / 3), history(80)]))
    assert found["time_to_review_hours"] == {"median": 0.33, "p90": 0.33}
    assert [b["approval_rate"] for b in found["bands"]] == [None, None, 1.0]
    assert found["since"] is None and found["until"] == T0.isoformat()


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        ({"min_decisions": 0}, "stats.min_decisions: must be at least 1"),
        ({"target_approval_rate": 0}, "stats.target_approval_rate: must be above 0"),
        ({"target_approval_rate": 1.5}, "stats.target_approval_rate: must be above 0"),
    ],
)
def test_settings_refuse_what_cannot_be_met(settings: dict[str, float], said: str) -> None:
    with pytest.raises(ConfigError, match=said):
        StatsSettings(**settings)  # type: ignore[arg-type]
    assert StatsSettings(weekly_on="friday").weekday == 4


def test_the_states_after_the_gate_count_without_a_change_here() -> None:
    """Issue 23's states: an expired match (revived or not), outcomes after sent."""
    rows = stats.count_bands(
        [
            history(90, State.EXPIRED),
            history(91, State.EXPIRED, State.PENDING),  # revived: pending again
            history(92, State.APPROVED, State.SENT, State.INTERVIEW, State.OFFER),
            history(93, State.APPROVED, State.SENT, State.GHOSTED, State.DECLINED),
        ],
        5,
        90,
    )
    counts = rows[0].counts
    assert (counts["expired"], counts["pending"], counts["approved"], counts["sent"]) == (
        2,
        1,
        2,
        2,
    )
    assert (counts["interview"], counts["offer"], counts["ghosted"], counts["declined"]) == (
        1,
        1,
        1,
        1,
    )
    assert rows[0].approval_rate == 1.0  # expiry is no decision


def test_the_reason_marker_round_trips_any_text() -> None:
    from match_staging import record

    for reason in ("Rate too low", "--> <!-- x", "zwei\nZeilen", "é" * 600):
        body = record.with_mark(
            f"**Review:** ...\n\n{record.reason_marker(reason)}",
            record.StateMark(State.REJECTED),
        )
        assert record.note_reason(body) == reason[: record.REASON_MAX]
        assert record.parse_note(body) == record.StateMark(State.REJECTED)  # still the last line
    assert record.note_reason("> Rate too low") == ""  # the quoted text is not the record

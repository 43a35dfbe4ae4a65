"""The state machine as plain functions: no server."""

from __future__ import annotations

import pytest

from match_staging.config import Labels
from match_staging.model import State
from match_staging.workflow import (
    audited_state,
    decide,
    label_changes,
    state_marker,
    with_audited_state,
)

NAMES = Labels()
P, A, R, S = (f"job-match/{s}" for s in ("pending", "approved", "rejected", "sent"))


@pytest.mark.parametrize(("audited", "labels", "verdict", "after"), [
    (State.PENDING, [P], "none", State.PENDING),
    (State.PENDING, [A], "apply", State.APPROVED),
    (State.PENDING, [R], "apply", State.REJECTED),
    (State.APPROVED, [S], "apply", State.SENT),
    (State.PENDING, [S], "revert", State.PENDING),
    (State.APPROVED, [R], "revert", State.APPROVED),
    (State.REJECTED, [P], "revert", State.REJECTED),
    (State.SENT, [A], "revert", State.SENT),
    (State.PENDING, [P, A], "revert", State.PENDING),
    (State.PENDING, [], "revert", State.PENDING),
    (None, [A], "apply", State.APPROVED),  # no marker yet: staged issues start pending
])
def test_transitions(audited: State | None, labels: list[str], verdict: str,
                     after: State) -> None:
    decision = decide(NAMES, ["job-match", *labels], audited, "reviewer", authorised=True)
    assert (decision.verdict, decision.after) == (verdict, after)


def test_an_unauthorised_actor_is_reverted_even_for_a_valid_transition() -> None:
    decision = decide(NAMES, [A], State.PENDING, "mallory", authorised=False)
    assert decision.verdict == "revert" and decision.after == State.PENDING
    assert decision.reason.startswith("mallory may not review")


def test_label_changes_leave_exactly_one_state_label() -> None:
    assert label_changes(NAMES, ["job-match", P, A], State.PENDING) == ([], [A])
    assert label_changes(NAMES, ["job-match"], State.PENDING) == ([P], [])
    assert label_changes(NAMES, ["job-match", A], State.SENT) == ([S], [A])


def test_audited_state_round_trip() -> None:
    text = "<!-- match-staging v1 keys: msk-1 -->\n## Match Details"
    marked = with_audited_state(text, State.APPROVED)
    assert marked.splitlines()[1] == state_marker(State.APPROVED)
    assert audited_state(marked) == State.APPROVED
    again = with_audited_state(marked, State.SENT)
    assert audited_state(again) == State.SENT and again.count("state:") == 1
    assert audited_state("no marker") is None
    assert audited_state("<!-- match-staging v1 state: bogus -->") is None

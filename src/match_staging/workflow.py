"""The review state machine (OPS-004): pending -> approved | rejected, approved -> sent.
Pure: given what GitLab shows and who changed it, decide what the tool does.

The last state the tool audited is kept in the issue's description (an HTML comment beside
the match keys). Comparing it with the state label tells a new change from a replayed or
duplicated event: when they agree there is nothing to do."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from match_staging.config import Labels
from match_staging.labels import state_label, states_in
from match_staging.model import State

TRANSITIONS: frozenset[tuple[State, State]] = frozenset({
    (State.PENDING, State.APPROVED),
    (State.PENDING, State.REJECTED),
    (State.APPROVED, State.SENT),
})
_STATE_MARKER = re.compile(r"^<!-- match-staging v1 state: (\w+) -->$", re.MULTILINE)

Verdict = Literal["apply", "revert", "none"]


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    before: State            # the audited state
    after: State             # the state the issue ends in
    reason: str              # one line, for the job log and the note

    @property
    def changes(self) -> bool:
        return self.verdict != "none"


def state_marker(state: State) -> str:
    return f"<!-- match-staging v1 state: {state.value} -->"


def audited_state(description: str) -> State | None:
    found = _STATE_MARKER.search(description or "")
    if not found:
        return None
    try:
        return State(found.group(1))
    except ValueError:
        return None


def with_audited_state(description: str, state: State) -> str:
    """The description with its state marker set to `state` (added after the key line)."""
    if _STATE_MARKER.search(description or ""):
        return _STATE_MARKER.sub(state_marker(state), description, count=1)
    first, _, rest = (description or "").partition("\n")
    return f"{first}\n{state_marker(state)}\n{rest}" if first.startswith("<!--") \
        else f"{state_marker(state)}\n{description}"


def decide(names: Labels, labels: Sequence[str], audited: State | None, actor: str,
           authorised: bool) -> Decision:
    """What to do about the issue's current labels, changed last by `actor`."""
    present = states_in(names, labels)
    before = audited or State.PENDING
    if len(present) == 1 and present[0] == before:
        return Decision("none", before, before, f"already {before.value}: nothing to do")
    if len(present) != 1:
        what = "no state label" if not present else \
            "two state labels at once (" + ", ".join(s.value for s in present) + ")"
        return Decision("revert", before, before, f"{what}: back to {before.value}")
    after = present[0]
    if not authorised:
        return Decision("revert", before, before, f"{actor} may not review job matches "
                        f"(workflow.reviewers): back to {before.value}")
    if (before, after) not in TRANSITIONS:
        return Decision("revert", before, before,
                        f"{before.value} -> {after.value} is not a transition: "
                        f"back to {before.value}")
    return Decision("apply", before, after, f"{before.value} -> {after.value}")


def label_changes(names: Labels, labels: Sequence[str],
                  target: State) -> tuple[list[str], list[str]]:
    """(add, remove) leaving exactly the state label of `target` (scoped labels need
    Premium, so the tool keeps state labels exclusive itself: platform-facts.md)."""
    wanted = state_label(names, target)
    remove = [state_label(names, s) for s in states_in(names, labels) if s != target]
    add = [] if wanted in labels else [wanted]
    return add, remove

"""The labels match-staging owns: names from the configuration, colours and descriptions
here, so `stage` and `bootstrap` create them the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

from match_staging.config import Labels, channel_sections
from match_staging.model import LabelSpec, ScoreBand, State, score_band


def label_specs(names: Labels) -> list[LabelSpec]:
    """Every label match-staging creates, with its colour and description."""
    return [
        LabelSpec(names.match, "#6699cc", "A job match staged by match-staging"),
        LabelSpec(names.pending, "#f0ad4e", "Job match waiting for review"),
        LabelSpec(names.approved, "#5cb85c", "Job match approved: the application may go out"),
        LabelSpec(names.rejected, "#999999", "Job match rejected by the reviewer"),
        LabelSpec(names.sent, "#428bca", "Application sent"),
        LabelSpec(
            names.expired, "#795548", "Job match expired unreviewed (a reviewer may revive it)"
        ),
        LabelSpec(names.interview, "#8e44ad", "Application sent: invited to an interview"),
        LabelSpec(names.offer, "#1e8449", "Application sent: an offer came"),
        LabelSpec(names.declined, "#34495e", "Application sent: declined by the client"),
        LabelSpec(names.ghosted, "#bdc3c7", "Application sent: no answer in time"),
        LabelSpec(names.score_high, "#d9534f", "Match score 90% or more"),
        LabelSpec(names.score_medium, "#e67e22", "Match score from 70% to 89%"),
        LabelSpec(names.score_low, "#cccccc", "Match score below 70%"),
    ]


def queue_label(names: Labels, channel: str) -> str:
    """The label under which the first release queued a match's notification on `channel`
    (read once by `digest` when it takes the queue over; never written any more).
    """
    return queue_labels(names)[channel]


def queue_labels(names: Labels) -> dict[str, str]:
    """Every registered channel's queue label (see queue_label), by channel name."""
    return {c.name: names.queues[c.label_field] for c in channel_sections()}


def state_label(names: Labels, state: State) -> str:
    """The label of `state`."""
    return str(getattr(names, state.value))


def score_label(names: Labels, score: float) -> str:
    """The score band label of `score`."""
    band = score_band(score)
    return {
        ScoreBand.HIGH: names.score_high,
        ScoreBand.MEDIUM: names.score_medium,
        ScoreBand.LOW: names.score_low,
    }[band]


def states_in(names: Labels, labels: Sequence[str]) -> list[State]:
    """Every state label on an issue (the review gate keeps it to exactly one)."""
    return [s for s in State if state_label(names, s) in labels]


def state_of(names: Labels, labels: Sequence[str]) -> State | None:
    """The state an issue's labels say it is in; None when there is not exactly one."""
    found = states_in(names, labels)
    return found[0] if len(found) == 1 else None

"""The labels the tool owns: what `stage` and `bootstrap` create, and how an issue's labels
say its review state and score band."""

from __future__ import annotations

import pytest

from match_staging.config import Labels
from match_staging.labels import label_specs, queue_label, score_label, state_label, state_of
from match_staging.model import State

NAMES = Labels()
CUSTOM = Labels(
    match="jm", pending="jm::pending", approved="jm::ok", rejected="jm::no", sent="jm::sent"
)


def test_every_owned_label_is_created_once_with_a_colour_and_description() -> None:
    specs = label_specs(NAMES)
    assert [s.name for s in specs] == [
        "job-match",
        "job-match/pending",
        "job-match/approved",
        "job-match/rejected",
        "job-match/sent",
        "job-match/expired",
        "job-match/interview",
        "job-match/offer",
        "job-match/declined",
        "job-match/ghosted",
        "match-score/high",
        "match-score/medium",
        "match-score/low",
    ]
    assert all(s.color.startswith("#") and len(s.color) == 7 and s.description for s in specs)
    assert len({s.color for s in specs[1:10]}) == 9  # the nine states look different


def test_configured_names_are_the_ones_created() -> None:
    names = [s.name for s in label_specs(CUSTOM)]
    assert names[:5] == ["jm", "jm::pending", "jm::ok", "jm::no", "jm::sent"]


@pytest.mark.parametrize(
    ("score", "label"),
    [
        (100, "match-score/high"),
        (90, "match-score/high"),
        (89.9, "match-score/medium"),
        (70, "match-score/medium"),
        (69.99, "match-score/low"),
        (0, "match-score/low"),
    ],
)
def test_score_bands_have_interface_md_boundaries(score: float, label: str) -> None:
    assert score_label(NAMES, score) == label


def test_the_state_is_read_from_exactly_one_state_label() -> None:
    assert state_of(NAMES, ["job-match", "job-match/approved"]) == State.APPROVED
    assert state_of(NAMES, ["job-match"]) is None
    # two state labels (someone added one by hand): no state, the gate refuses to guess
    assert state_of(NAMES, ["job-match/pending", "job-match/approved"]) is None
    assert state_of(CUSTOM, ["jm", "jm::sent"]) == State.SENT
    assert state_of(CUSTOM, ["job-match/sent"]) is None  # only the configured names count


def test_state_and_queue_labels_follow_the_configuration() -> None:
    assert [state_label(CUSTOM, s) for s in State] == [
        "jm::pending",
        "jm::ok",
        "jm::no",
        "jm::sent",
        *(f"job-match/{s}" for s in ("expired", "interview", "offer", "declined", "ghosted")),
    ]
    assert queue_label(NAMES, "slack") == "job-match/notify-slack"
    assert queue_label(NAMES, "whatsapp") == "job-match/notify-whatsapp"

"""Labels and reviewers known by id (identity.py), as plain functions: a renamed label or a
taken name must never approve (issue 20), and each refusal says exactly what happened."""

from __future__ import annotations

import pytest

from match_staging.config import Config, Workflow
from match_staging.identity import (
    BOOTSTRAP_HINT,
    label_problem,
    reviewer_problem,
    state_ids,
    unrecorded,
)
from match_staging.model import State

IDS = {"pending": 1, "approved": 2, "rejected": 3, "sent": 4}
RECORDED = Config(workflow=Workflow(label_ids=IDS))
NAMES = {
    "job-match/pending": 1,
    "job-match/approved": 2,
    "job-match/rejected": 3,
    "job-match/sent": 4,
    "job-match": 9,
}
ADVICE = (
    " (workflow.label_ids): somebody renamed or deleted project labels, so no state label "
    "can be trusted and nothing was done; run `match-staging bootstrap`, which renames them "
    "back by id (or says what to do)"
)


def test_state_ids_by_state() -> None:
    assert state_ids(RECORDED) == {
        State.PENDING: 1,
        State.APPROVED: 2,
        State.REJECTED: 3,
        State.SENT: 4,
    }
    assert state_ids(Config()) == {}


@pytest.mark.parametrize(
    ("current", "problem"),
    [
        (NAMES, None),
        ({**NAMES, "other": 7}, None),
        (
            {**NAMES, "job-match/approved": 7, "old approved": 2},
            "label 2, the approved label bootstrap recorded, is now called 'old approved' and "
            "'job-match/approved' is label 7",
        ),
        (
            {k: v for k, v in NAMES.items() if k != "job-match/sent"} | {"done": 4},
            "label 4, the sent label bootstrap recorded, is now called 'done'",
        ),
        (
            {k: v for k, v in NAMES.items() if k != "job-match/pending"},
            "label 1, the pending label bootstrap recorded, no longer exists",
        ),
        (
            {**NAMES, "job-match/pending": 2, "job-match/approved": 1},  # swapped
            "label 1, the pending label bootstrap recorded, is now called 'job-match/approved' "
            "and 'job-match/pending' is label 2",
        ),
    ],
)
def test_label_problem_names_the_first_state_label_that_moved(
    current: dict[str, int], problem: str | None
) -> None:
    found = label_problem(RECORDED, current)
    assert found == (None if problem is None else problem + ADVICE)


def test_no_recorded_ids_or_a_tracker_without_ids_is_no_problem() -> None:
    assert label_problem(Config(), {"job-match/pending": 99}) is None
    assert label_problem(RECORDED, None) is None


@pytest.mark.parametrize(
    ("workflow", "said"),
    [
        (Workflow(label_ids=IDS, reviewers=["ann"], reviewer_ids={"ann": 11}), None),
        (Workflow(label_ids=IDS), None),
        (
            Workflow(reviewers=["ann"], reviewer_ids={"ann": 11}),
            "not recorded: workflow.label_ids (renaming project labels can approve a match): ",
        ),
        (
            Workflow(label_ids=IDS, reviewers=["ann", "ben", "cy"], reviewer_ids={"ben": 12}),
            "not recorded: workflow.reviewer_ids for ann, cy (whoever takes a reviewer's name "
            "after a rename could approve): ",
        ),
        (
            Workflow(reviewers=["ann"]),
            "not recorded: workflow.label_ids (renaming project labels can approve a match); "
            "workflow.reviewer_ids for ann (whoever takes a reviewer's name after a rename "
            "could approve): ",
        ),
    ],
)
def test_unrecorded_says_what_bootstrap_has_not_recorded(
    workflow: Workflow, said: str | None
) -> None:
    found = unrecorded(Config(workflow=workflow))
    assert found == (None if said is None else said + BOOTSTRAP_HINT)


REVIEWERS = Config(workflow=Workflow(reviewers=["ann", "ben"], reviewer_ids={"ann": 11}))


@pytest.mark.parametrize(
    ("username", "user_id", "problem"),
    [
        ("ann", 11, None),  # the recorded reviewer
        ("ben", 12, None),  # listed, not recorded yet: no objection by id
        ("ann", 0, None),  # no id known (the local tracker): the name decides
        ("mallory", 40, None),  # not a reviewer at all: workflow.reviewers says so, not ids
        (
            "ann",
            99,
            "ann is user 99, not user 11 whom bootstrap recorded as the reviewer ann "
            "(workflow.reviewer_ids): a renamed account may not review",
        ),
        (
            "anna",
            11,
            "user 11 was recorded as the reviewer ann but is called anna now "
            "(workflow.reviewer_ids): a renamed account may not review until "
            "workflow.reviewers names it and bootstrap records it",
        ),
    ],
)
def test_reviewer_problem_by_id(username: str, user_id: int, problem: str | None) -> None:
    assert reviewer_problem(REVIEWERS, username, user_id) == problem

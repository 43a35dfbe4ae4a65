"""The gate's rules for the moves issue 23 added, beyond who may move what
(workflow.TRANSITIONS): a state whose label bootstrap has not recorded by id is not entered,
and an expired match is revived only within workflow.revive_days, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from match_staging import identity, workflow
from match_staging.context import Context
from match_staging.model import IssueRef, LabelEvent, Note, State

DIGEST_ACTOR = "match-staging (digest)"  # the scheduled run's moves (usecases/lifecycle.py)
EXPIRED_HINT = (
    " (it expired unreviewed; a reviewer may revive it within workflow.revive_days by "
    "moving it back to pending)"
)


def refusal(
    ctx: Context,
    issue: IssueRef,
    notes: Sequence[Note],
    decision: workflow.Decision,
    made_at: datetime | None = None,
) -> str:
    """Why a reviewer's move the state machine allows is reverted all the same ("" when it
    is not), ending in "back to <state>" as every revert's reason does. `made_at`: when the
    reviewer made it (GitLab's label event; default now), so a revival in time that the
    webhook missed counts when the scheduled repair gets to it.
    """
    before, after = decision.before, decision.after
    back = f"back to {before.value}"
    if after in identity.unrecorded_states(ctx.cfg):
        return (
            f"the {after.value} label's id is not recorded in workflow.label_ids, so the "
            f"gate cannot tell it from a renamed label: {identity.BOOTSTRAP_HINT}; {back}"
        )
    if (before, after) == (State.EXPIRED, State.PENDING):
        entered = workflow.entries(issue, notes, ctx.tracker.bot_user())
        when = made_at or ctx.clock()
        why = workflow.revive_refusal(entered, when, ctx.cfg.workflow.revive_days)
        if why:
            return f"expired -> pending (revive) refused: {why}; {back}"
    return ""


def shell_refusal(
    ctx: Context,
    issue: IssueRef,
    notes: Sequence[Note],
    current: Sequence[State],
    decision: workflow.Decision,
) -> str:
    """Why `review` from the shell refuses a move ("" when it may go ahead): the labels and
    the audit trail must agree on the state it starts from, the move must be a reviewer's
    (workflow.TRANSITIONS), and the later moves' rules hold (`refusal`).
    """
    before, after = decision.before, decision.after
    shown = ", ".join(s.value for s in current) or "no state"
    if after in (State.APPROVED, State.REJECTED) and (
        current != [State.PENDING] or before != State.PENDING
    ):
        return f"is {shown}, not pending: only pending matches are approved or rejected"
    if current != [before]:
        return f"is {shown} on the board, {before.value} in its audit trail: nothing changed"
    if (before, after) not in workflow.TRANSITIONS:
        return f"is {before.value}: {before.value} -> {after.value} is not a reviewer's move"
    why = refusal(ctx, issue, notes, decision)
    return why.removesuffix(f"; back to {before.value}") + ": nothing changed" if why else ""


def completion(
    ctx: Context,
    trail: workflow.Audit,
    target: State | None,
    notes: Sequence[Note],
    event: LabelEvent | None,
) -> workflow.Decision | None:
    """The scheduled run's own move left without its audit note (workflow.unfinished_step):
    the step to complete with the note alone, never reverted as a reviewer's move nor made
    again. None: not such a move.
    """
    if not workflow.unfinished_step(trail.state, target, event, notes, ctx.tracker.bot_user()):
        return None
    assert target is not None  # an unfinished step has one
    move = f"{trail.state.value} -> {target.value}"
    return workflow.Decision(
        "apply", trail.state, target, f"{move}: the scheduled run's move, its note written now"
    )

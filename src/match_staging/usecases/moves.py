"""The gate's rules for the moves issue 23 added, beyond who may move what
(workflow.TRANSITIONS): a state whose label bootstrap has not recorded by id is not entered,
and an expired match is revived only within workflow.revive_days, once.
"""

from __future__ import annotations

from collections.abc import Sequence

from match_staging import identity, workflow
from match_staging.context import Context
from match_staging.model import IssueRef, Note, State

EXPIRED_HINT = (
    " (it expired unreviewed; a reviewer may revive it within workflow.revive_days by "
    "moving it back to pending)"
)


def refusal(
    ctx: Context, issue: IssueRef, notes: Sequence[Note], decision: workflow.Decision
) -> str:
    """Why a reviewer's move the state machine allows is reverted all the same ("" when it
    is not), ending in "back to <state>" as every revert's reason does.
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
        why = workflow.revive_refusal(entered, ctx.clock(), ctx.cfg.workflow.revive_days)
        if why:
            return f"expired -> pending (revive) refused: {why}; {back}"
    return ""

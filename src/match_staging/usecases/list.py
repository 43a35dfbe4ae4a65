"""`list`: a line per staged match, its state from its label and how long it has been in
it (issue 23), from the bot's audit notes.
"""

from __future__ import annotations

from datetime import datetime

from match_staging import clock, workflow
from match_staging.context import Context
from match_staging.labels import state_label, state_of
from match_staging.model import IssueRef, State
from match_staging.render import parse_issue_title


def list_matches(ctx: Context, state: State | None) -> list[str]:
    """`#IID  STATE AGE  SCORE%  TITLE` for each staged match (in `state` when given)."""
    cfg = ctx.cfg
    labels = [cfg.labels.match]
    if state is not None:
        labels.append(state_label(cfg.labels, state))
    lines = []
    for issue in ctx.tracker.list_issues(labels):
        found = state_of(cfg.labels, issue.labels)
        score, title = parse_issue_title(issue.title) or ("?", issue.title)
        shown = f"{found or 'unknown'} {_age(ctx, issue, found)}"
        lines.append(f"#{issue.iid:<5} {shown:<13} {score:>4}%  {title}")
    return lines


def _age(ctx: Context, issue: IssueRef, state: State | None) -> str:
    """How long the match has been in `state`: since the bot's note that recorded the step
    into it (staged: the issue's creation); "?" when the notes do not say (the label was
    moved and the gate has not judged the move yet). A pending match nobody wrote a note on
    is as old as its issue: no notes read.
    """
    now = ctx.clock()
    if state == State.PENDING and issue.notes_count == 0:
        return _days(now, clock.parse(issue.created_at))
    if state is None:
        return "?"
    bot = ctx.tracker.bot_user()
    entered = workflow.entries(issue, ctx.tracker.notes(issue.iid), bot)
    last = entered[-1]
    return _days(now, clock.parse(last.at)) if last.state == state else "?"


def _days(now: datetime, since: datetime | None) -> str:
    if since is None:
        return "?"
    seconds = max((now - since).total_seconds(), 0)
    return f"{int(seconds // 86400)}d" if seconds >= 86400 else f"{int(seconds // 3600)}h"


def nothing_listed(state: State | None) -> str:
    """The notice when no match is listed (standard output stays a line per match)."""
    if state is not None:
        return f"no {state.value} matches staged"
    return "no matches staged: `match-staging stage` stages the matches-inbox/ ones"

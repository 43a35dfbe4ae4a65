"""`list`: a line per staged match, its state from its label."""

from __future__ import annotations

from match_staging.context import Context
from match_staging.labels import state_label, state_of
from match_staging.model import State
from match_staging.render import parse_issue_title


def list_matches(ctx: Context, state: State | None) -> list[str]:
    """`#IID  STATE  SCORE%  TITLE` for each staged match (in `state` when given)."""
    cfg = ctx.cfg
    labels = [cfg.labels.match]
    if state is not None:
        labels.append(state_label(cfg.labels, state))
    lines = []
    for issue in ctx.tracker.list_issues(labels):
        found = state_of(cfg.labels, issue.labels)
        score, title = parse_issue_title(issue.title) or ("?", issue.title)
        lines.append(f"#{issue.iid:<5} {(found or 'unknown'):<9} {score:>4}%  {title}")
    return lines


def nothing_listed(state: State | None) -> str:
    """The notice when no match is listed (standard output stays a line per match)."""
    if state is not None:
        return f"no {state.value} matches staged"
    return "no matches staged: `match-staging stage` stages the matches-inbox/ ones"

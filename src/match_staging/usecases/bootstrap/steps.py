"""How each change is made: the `apply` of a planned Action, run against GitLab with what
applying learned so far (`ApplyContext`: ids and the trigger token of objects just made).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from match_staging.errors import TrackerError
from match_staging.model import LabelSpec
from match_staging.usecases.bootstrap.model import HOOK_EVENTS, ApplyContext


def create_label(spec: LabelSpec) -> Callable[[ApplyContext], None]:
    """Create a label and learn its id (board lists need it)."""

    def step(ctx: ApplyContext) -> None:
        created = ctx.admin.create_label(spec.name, spec.color, spec.description)
        ctx.label_ids[spec.name] = created.id

    return step


def update_label(name: str, changes: dict[str, str]) -> Callable[[ApplyContext], None]:
    """Change a label's color or description."""
    return lambda ctx: ctx.admin.update_label(name, changes)


def create_board(name: str) -> Callable[[ApplyContext], None]:
    """Create the board and learn its id."""

    def step(ctx: ApplyContext) -> None:
        ctx.board_ids[name] = ctx.admin.create_board(name).id

    return step


def create_board_list(board: str, label: str) -> Callable[[ApplyContext], None]:
    """Add a state label's list to the board."""

    def step(ctx: ApplyContext) -> None:
        if board not in ctx.board_ids or label not in ctx.label_ids:
            raise TrackerError(f"not tried: the board or the label {label} is missing")
        ctx.admin.create_board_list(ctx.board_ids[board], ctx.label_ids[label])

    return step


def create_trigger(description: str) -> Callable[[ApplyContext], None]:
    """Create the trigger and learn its token (the webhook URL's)."""

    def step(ctx: ApplyContext) -> None:
        ctx.trigger_token = ctx.admin.create_trigger(description).token

    return step


def _hook_url(ctx: ApplyContext, base: str) -> str:
    if not ctx.trigger_token:
        raise TrackerError(
            "not tried: the trigger was not created, so there is no token "
            "to build the webhook URL with"
        )
    return f"{base}?token={ctx.trigger_token}"


def create_hook(base: str) -> Callable[[ApplyContext], None]:
    """Create the webhook at the trigger's URL, issue events only."""

    def step(ctx: ApplyContext) -> None:
        ctx.admin.create_hook({"url": _hook_url(ctx, base), **HOOK_EVENTS})

    return step


def update_hook(hook_id: int, base: str, fields: dict[str, Any]) -> Callable[[ApplyContext], None]:
    """Change the webhook's URL or events."""

    def step(ctx: ApplyContext) -> None:
        # the URL always goes along: GitLab's hook update has required it
        ctx.admin.update_hook(hook_id, {**fields, "url": _hook_url(ctx, base)})

    return step


def reenable_hook(
    hook_id: int, base: str, fields: dict[str, Any]
) -> Callable[[ApplyContext], None]:
    """Switch a disabled webhook back on with a test delivery."""

    def step(ctx: ApplyContext) -> None:
        if fields:
            update_hook(hook_id, base, fields)(ctx)
        try:
            ctx.admin.test_hook(hook_id, "issues_events")
        except TrackerError as exc:
            if exc.status != 422:
                raise
            # 422: the project has no issue to show yet, or the trigger refused the test
            raise TrackerError(
                f"{exc}: GitLab's test delivery did not get through, so the hook stays off; "
                "once the project has an issue and the pipeline accepts issue events, use "
                "Settings > Webhooks > Test > Issue events, or run bootstrap again"
            ) from None

    return step


def create_schedule(fields: Mapping[str, Any]) -> Callable[[ApplyContext], None]:
    """Create the digest schedule and learn its id."""

    def step(ctx: ApplyContext) -> None:
        ctx.schedule_id = ctx.admin.create_schedule(fields).id

    return step


def update_schedule(schedule_id: int, changes: dict[str, Any]) -> Callable[[ApplyContext], None]:
    """Change the schedule's cron, zone, ref or state."""
    return lambda ctx: ctx.admin.update_schedule(schedule_id, changes)


def set_variable(key: str, value: str, create: bool) -> Callable[[ApplyContext], None]:
    """Create or change one variable of the schedule."""

    def step(ctx: ApplyContext) -> None:
        if ctx.schedule_id is None:
            raise TrackerError("not tried: the schedule was not created")
        if create:
            ctx.admin.create_schedule_variable(ctx.schedule_id, key, value)
        else:
            ctx.admin.update_schedule_variable(ctx.schedule_id, key, value)

    return step

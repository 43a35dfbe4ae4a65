"""The reconcile, pure: `plan(desired, actual)` returns one Action per object, in order,
matched by natural key; only what differs becomes a change, nothing is ever deleted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from match_staging.config import Config
from match_staging.render import truncate
from match_staging.trackers.gitlab_project import HookState
from match_staging.usecases.bootstrap import ids
from match_staging.usecases.bootstrap.desired import SCHEDULE_DESCRIPTION
from match_staging.usecases.bootstrap.model import (
    HOOK_EVENTS,
    Action,
    Actual,
    Desired,
    ProjectAdmin,
)
from match_staging.usecases.bootstrap.observed import find_schedule
from match_staging.usecases.bootstrap.settings import why_refused
from match_staging.usecases.bootstrap.steps import (
    create_board,
    create_board_list,
    create_hook,
    create_label,
    create_schedule,
    create_trigger,
    reenable_hook,
    set_variable,
    update_hook,
    update_label,
    update_schedule,
)

DISABLED_HOOK = {"temporarily_disabled": "paused", "disabled": "disabled"}
MIN_READABLE_TOKEN = 20  # GitLab shows other users' trigger tokens cut to a few characters
MASKED_QUERY = "token=***"


def plan(want: Desired, actual: Actual) -> list[Action]:
    """The actions that bring `actual` to `want`; pure (nothing is read or written)."""
    return (
        _unless_unreadable(actual, ("labels",), "labels", _plan_labels(want, actual))
        + _unless_unreadable(
            actual, ("boards", "labels"), f'board "{want.board}"', _plan_board(want, actual)
        )
        + _plan_trigger_and_hook(want, actual)
        + _unless_unreadable(
            actual,
            ("schedules",),
            f'schedule "{SCHEDULE_DESCRIPTION}"',
            _plan_schedule(want, actual),
        )
    )


def _unless_unreadable(
    actual: Actual, parts: Sequence[str], what: str, actions: list[Action]
) -> list[Action]:
    """The planned actions, or one failed line when what they depend on could not be read."""
    missing = [p for p in parts if p in actual.unreadable]
    if not missing:
        return actions
    return [
        Action("failed", what, why_refused(actual.unreadable[missing[0]], f"list {missing[0]}"))
    ]


def _plan_labels(want: Desired, actual: Actual) -> list[Action]:
    existing = {lb.name: lb for lb in actual.labels}
    actions = []
    for spec in want.labels:
        what = f"label {spec.name}"
        found = existing.get(spec.name)
        if found is None:
            actions.append(Action("create", what, spec.color, create_label(spec)))
            continue
        changes: dict[str, str] = {}
        shown = []
        if found.color.lower() != spec.color.lower():
            changes["color"] = spec.color
            shown.append(f"color {found.color} -> {spec.color}")
        if found.description.strip() != spec.description:
            changes["description"] = spec.description
            shown.append(
                f"description {truncate(found.description, 40)!r} -> "
                f"{truncate(spec.description, 40)!r}"
            )
        if not changes:
            actions.append(Action("ok", what))
        elif not found.project_label:
            actions.append(Action("ok", what, f"group label, left as it is: {', '.join(shown)}"))
        else:
            actions.append(
                Action("update", what, ", ".join(shown), update_label(spec.name, changes))
            )
    return actions


def _plan_board(want: Desired, actual: Actual) -> list[Action]:
    what = f'board "{want.board}"'
    board = next((b for b in actual.boards if b.name == want.board), None)
    actions = []
    if board is None:
        actions.append(Action("create", what, apply=create_board(want.board)))
        present: tuple[str, ...] = ()
    else:
        present = board.lists
        ours = [name for name in present if name in want.board_lists]
        expected = [name for name in want.board_lists if name in present]
        note = "" if ours == expected else "lists in another order, left as they are"
        actions.append(Action("ok", what, note))
    for name in want.board_lists:
        if name not in present:
            actions.append(
                Action(
                    "create",
                    f'list {name} on board "{want.board}"',
                    apply=create_board_list(want.board, name),
                )
            )
    return actions


def _plan_trigger_and_hook(want: Desired, actual: Actual) -> list[Action]:
    actions = []
    what = f'trigger "{want.trigger}"'
    shown = f"{want.hook_base}?{MASKED_QUERY}"
    if "triggers" in actual.unreadable:
        why = why_refused(actual.unreadable["triggers"], "list pipeline triggers")
        return [
            Action("failed", what, why),
            Action("failed", f"hook {shown}", "not tried: it needs the trigger's token"),
        ]
    trigger = next((t for t in actual.triggers if t.description == want.trigger), None)
    if trigger is None:
        actions.append(Action("create", what, apply=create_trigger(want.trigger)))
        token = None
    else:
        if len(trigger.token) < MIN_READABLE_TOKEN:
            return [
                Action(
                    "failed",
                    what,
                    (
                        "it belongs to another user, so its token cannot be read to build the "
                        "webhook URL: take ownership of it (Settings > CI/CD > Pipeline trigger "
                        "tokens) or delete it, then run bootstrap again"
                    ),
                ),
                Action("failed", f"hook {shown}", "not tried: it needs the trigger's token"),
            ]
        actions.append(Action("ok", what))
        token = trigger.token

    if "hooks" in actual.unreadable:
        return [
            *actions,
            Action(
                "failed", f"hook {shown}", why_refused(actual.unreadable["hooks"], "list webhooks")
            ),
        ]
    hook = _find_hook(actual.hooks, want.hook_base, token)
    if hook is None:
        actions.append(
            Action("create", f"hook {shown}", "issue events", create_hook(want.hook_base))
        )
        return actions
    actions.append(_hook_action(hook, want.hook_base, token, shown))
    return actions


def _hook_action(hook: HookState, base: str, token: str | None, shown: str) -> Action:
    """What our existing hook needs: its URL and events as wanted; a disabled one is said."""
    fields: dict[str, Any] = {}
    changes = []
    url_change = _url_change(hook.url, base, token)
    if url_change:
        fields["url"] = None  # the URL with the token is filled in when applied
        changes.append(url_change)
    for name, value in HOOK_EVENTS.items():
        if name in hook.events and hook.events[name] != value:
            fields[name] = value
            changes.append(f"{name} {_bool(hook.events[name])} -> {_bool(value)}")
    if hook.alert_status in DISABLED_HOOK:
        # Editing a hook does not switch it back on (lib/api/helpers/web_hooks_helpers.rb
        # saves it, nothing else); a delivery that succeeds does, and a test delivery is
        # made even to a disabled hook (app/services/test_hooks/base_service.rb, force:
        # true; web_hooks/log_execution_service.rb: enable! on a 2xx).
        changes.append(
            f"GitLab {DISABLED_HOOK[hook.alert_status]} it after failed "
            "deliveries: re-enabled by a test delivery of an issue event (one pipeline, "
            "which ends at once); the next digest repairs the events it missed"
        )
        return Action(
            "update", f"hook {shown}", ", ".join(changes), reenable_hook(hook.id, base, fields)
        )
    if not fields:
        return Action("ok", f"hook {shown}", ", ".join(changes))
    return Action("update", f"hook {shown}", ", ".join(changes), update_hook(hook.id, base, fields))


def _plan_schedule(want: Desired, actual: Actual) -> list[Action]:
    fields = want.schedule
    what = f'schedule "{fields["description"]}"'
    schedule = find_schedule(actual.schedules, want)
    actions = []
    if schedule is None:
        actions.append(
            Action(
                "create",
                what,
                f"{fields['cron']} {fields['cron_timezone']} on {fields['ref']}",
                create_schedule(fields),
            )
        )
        variables: dict[str, str] = {}
    else:
        current = {
            "ref": _branch(schedule.ref),
            "cron": schedule.cron,
            "cron_timezone": schedule.cron_timezone,
            "active": schedule.active,
        }
        changes = {k: v for k, v in fields.items() if k in current and current[k] != v}
        if changes:
            shown = ", ".join(f"{k} {_show(current[k])} -> {_show(v)}" for k, v in changes.items())
            actions.append(Action("update", what, shown, update_schedule(schedule.id, changes)))
        else:
            actions.append(Action("ok", what))
        variables = actual.schedule_variables
    for key, value in want.schedule_variables.items():
        var = f"schedule variable {key}={value}"
        if key not in variables:
            actions.append(Action("create", var, apply=set_variable(key, value, True)))
        elif variables[key] != value:
            actions.append(
                Action("update", var, f"was {variables[key]!r}", set_variable(key, value, False))
            )
        else:
            actions.append(Action("ok", var))
    return actions


def _find_hook(hooks: Sequence[HookState], base: str, token: str | None) -> HookState | None:
    """Ours is the hook at our trigger URL (whatever token it carries), else the hook that
    carries our trigger's token (e.g. after the GitLab URL changed).
    """
    same_base = next((h for h in hooks if _normal(h.url) == _normal(base)), None)
    if same_base is not None or token is None:
        return same_base
    return next((h for h in hooks if token in _hook_tokens(h.url)), None)


def _normal(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def _url_change(url: str, base: str, token: str | None) -> str:
    """How the hook's URL differs from ours, told without the token; "" when it does not."""
    if token is not None and url == f"{base}?token={token}":
        return ""
    if _normal(url) != _normal(base):
        return f"url {_normal(url)}?{MASKED_QUERY} -> {base}?{MASKED_QUERY}"
    if token is None:
        return "token: the new trigger's"
    if token not in _hook_tokens(url):
        return "token: the trigger's"
    return "url: query or spelling"


def _hook_tokens(url: str) -> list[str]:
    return parse_qs(urlsplit(url).query).get("token", [])


def _branch(ref: str) -> str:
    return ref.removeprefix("refs/heads/")


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _show(value: Any) -> str:
    return _bool(value) if isinstance(value, bool) else str(value)


def plan_by_ids(cfg: Config, admin: ProjectAdmin, want: Desired, actual: Actual) -> list[Action]:
    """The plan with the state labels known by the ids recorded (issue 20): renamed ones
    back first, then the plan sees them under their names; the ids and the reviewers'
    recorded last. `actual` is updated to the labels and boards as they will be.
    """
    unreadable, before = "labels" in actual.unreadable, actual.labels
    renames, actual.labels, held = ids.label_renames(cfg, actual.labels, unreadable=unreadable)
    actual.boards = ids.boards_after(actual.boards, before, actual.labels)
    if held:  # a state label's name is taken: no other label or list until that is sorted
        want = dataclasses.replace(want, labels=(), board_lists=())
    return renames + plan(want, actual) + ids.recordings(cfg, admin, actual.labels)

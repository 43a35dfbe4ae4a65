"""`bootstrap`: set a GitLab project up so the whole flow works, idempotently.

Desired state comes from the configuration; actual state from GitLab (a few listings). The
reconcile is pure: `plan(desired, actual)` returns one Action per object, in order, each
`ok`, `create` or `update`, matched by natural key (label name, board name, list label,
trigger description, hook URL without its token or by the token it carries, schedule
description). Only what differs is written; nothing is ever deleted, so whatever else lives
in the project (other hooks, boards, labels) is left as it is. A dry run prints the same
actions and writes nothing.

The webhook URL carries the trigger token, a secret: no action, line or error shows it
(`...?token=***`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import parse_qs, quote, urlsplit

from match_staging.config import Config
from match_staging.errors import ConfigError, TrackerError
from match_staging.labels import label_specs, state_label
from match_staging.model import LabelSpec, State
from match_staging.render import truncate
from match_staging.trackers.gitlab_project import (
    BoardState,
    HookState,
    LabelState,
    ProjectSettings,
    ScheduleState,
    TriggerState,
)
from match_staging.usecases.pin_url import pin_url

TRIGGER_DESCRIPTION = "match-staging webhook"
SCHEDULE_DESCRIPTION = "match-staging digest"
SCHEDULE_VARIABLES: dict[str, str] = {}  # a schedule pipeline runs `digest` (ci/digest.yml)
BOARD_STATES = (State.PENDING, State.APPROVED, State.REJECTED, State.SENT)
# issues only: notes and pushes would start a pipeline per comment and per commit. Issue
# events of a confidential issue go only to confidential_issues_events (gitlabhq
# app/services/issues/base_service.rb, execute_hooks: hooks_scope :confidential_issue_hooks):
# without it a reviewer who approves and sets confidential in one update moves unseen
# (issue 20, item 8). The run log's own events then come too; the prefilter ends them.
HOOK_EVENTS = {
    "issues_events": True,
    "confidential_issues_events": True,
    "note_events": False,
    "confidential_note_events": False,
    "push_events": False,
    "merge_requests_events": False,
    "tag_push_events": False,
}
DISABLED_HOOK = {"temporarily_disabled": "paused", "disabled": "disabled"}
MIN_READABLE_TOKEN = 20  # GitLab shows other users' trigger tokens cut to a few characters
MASKED_QUERY = "token=***"


class ProjectAdmin(Protocol):
    """What bootstrap needs from GitLab (trackers.gitlab_project.GitLabProject)."""

    location: str

    @property
    def requests(self) -> int:
        """Requests made so far, for the summary's cost."""

    def project_id(self) -> int:
        """The numeric id: paths are encoded once (docs/platform-facts.md)."""

    def settings(self) -> ProjectSettings:
        """The token's role and the pipeline-variables setting, read before planning."""

    def version(self) -> str:
        """GitLab's version (GET /version), e.g. "18.4.2-ee"."""

    def labels(self) -> list[LabelState]:
        """The project's labels, group labels included."""

    def create_label(self, name: str, color: str, description: str) -> LabelState:
        """Create one label."""

    def update_label(self, name: str, changes: Mapping[str, str]) -> None:
        """Change a label's color or description."""

    def rename_label(self, label_id: int, new_name: str) -> None:
        """Rename a label by its id (a state label somebody renamed, back)."""

    def user_id(self, username: str) -> int | None:
        """The id of the user called `username` now, or None (a reviewer's, recorded)."""

    def boards(self) -> list[BoardState]:
        """The project's boards with their label lists."""

    def create_board(self, name: str) -> BoardState:
        """Create a board (every tier since 12.1)."""

    def create_board_list(self, board_id: int, label_id: int) -> None:
        """Add a list for a label to a board."""

    def triggers(self) -> list[TriggerState]:
        """The project's pipeline triggers (Maintainer)."""

    def create_trigger(self, description: str) -> TriggerState:
        """Create a pipeline trigger; its token is the webhook URL's."""

    def hooks(self) -> list[HookState]:
        """The project's webhooks (Maintainer)."""

    def create_hook(self, fields: Mapping[str, Any]) -> HookState:
        """Create a webhook."""

    def update_hook(self, hook_id: int, fields: Mapping[str, Any]) -> None:
        """Change a webhook's URL or events."""

    def test_hook(self, hook_id: int, trigger: str) -> None:
        """A test delivery of `trigger` events: it switches a disabled hook back on."""

    def schedules(self) -> list[ScheduleState]:
        """The project's pipeline schedules (Maintainer)."""

    def schedule_variables(self, schedule_id: int) -> dict[str, str]:
        """A schedule's variables; refused where pipeline variables are."""

    def create_schedule(self, fields: Mapping[str, Any]) -> ScheduleState:
        """Create a pipeline schedule."""

    def update_schedule(self, schedule_id: int, fields: Mapping[str, Any]) -> None:
        """Change a schedule's cron, zone, ref or state."""

    def create_schedule_variable(self, schedule_id: int, key: str, value: str) -> None:
        """Add a variable to a schedule."""

    def update_schedule_variable(self, schedule_id: int, key: str, value: str) -> None:
        """Change a schedule variable's value."""


# --------------------------------------------------------------------------- state

# "failed": the thing could not even be read, or GitLab refused the change
ActionKind = Literal["ok", "create", "update", "failed"]


@dataclass(frozen=True)
class Desired:
    """What the project should hold, from the configuration alone."""

    labels: tuple[LabelSpec, ...]
    board: str
    board_lists: tuple[str, ...]
    trigger: str
    hook_base: str  # the webhook URL without `?token=...`
    schedule: Mapping[str, Any]  # description, ref, cron, cron_timezone, active
    schedule_variables: Mapping[str, str]


@dataclass
class Actual:
    """What the project holds, and which listings GitLab refused."""

    labels: list[LabelState] = field(default_factory=list)
    boards: list[BoardState] = field(default_factory=list)
    triggers: list[TriggerState] = field(default_factory=list)
    hooks: list[HookState] = field(default_factory=list)
    schedules: list[ScheduleState] = field(default_factory=list)
    schedule_variables: dict[str, str] = field(default_factory=dict)  # of our schedule
    unreadable: dict[str, TrackerError] = field(default_factory=dict)  # listing -> why not


@dataclass
class _Context:
    """What applying learns as it goes: ids and the token of objects it just created."""

    admin: ProjectAdmin
    label_ids: dict[str, int]
    board_ids: dict[str, int]
    trigger_token: str | None
    schedule_id: int | None


@dataclass(frozen=True)
class Action:
    """One step of the plan: a line for the user and, for a change, how to make it."""

    kind: ActionKind
    what: str  # e.g. 'label job-match/pending', 'board "Job matches"'
    detail: str = ""
    apply: Callable[[_Context], None] | None = field(default=None, compare=False, repr=False)

    def line(self) -> str:
        """The plan's line for this step."""
        return f"{self.kind:<6} {self.what}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class BootstrapReport:
    """The plan, what was applied and what failed: the CLI prints it."""

    actions: list[Action]
    dry_run: bool
    location: str = ""
    applied: int = 0  # changes written (0 in a dry run)
    # action index -> what went wrong and what to do; every other step was still tried
    failed: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the project's settings mean
    requests: int = 0
    secrets: list[str] = field(default_factory=list)  # for the CLI's output redaction

    @property
    def changes(self) -> list[Action]:
        """The steps that change something."""
        return [a for a in self.actions if a.kind not in ("ok", "failed")]

    @property
    def ok(self) -> bool:
        """Whether every step could be done."""
        return not self.failed

    def lines(self) -> list[str]:
        """One line per action, the same in a dry run and a real one; a step that failed
        says why and what to do; then what the project's settings mean.
        """
        out = [
            f"failed {a.what}: {self.failed[i]}" if i in self.failed else a.line()
            for i, a in enumerate(self.actions)
        ]
        return out + [f"note   {n}" for n in self.notes]

    def summary(self) -> str:
        """The last line: changes made, failures, cost."""
        ok = len([a for a in self.actions if a.kind == "ok"])
        cost = f" · {self.requests} GitLab requests"
        if self.failed:
            return (
                f"{self.applied} of {_count(self.changes)} made, {len(self.failed)} "
                f"failed: do what each failed line says, then run bootstrap again; it "
                f"does only what is still missing{cost}"
            )
        if not self.changes:
            prefix = "dry run: " if self.dry_run else ""
            return f"{prefix}nothing to change: the project is set up{cost}"
        if self.dry_run:
            return (
                f"dry run: {_count(self.changes)} would be made, {ok} up to date; "
                f"nothing was changed{cost}"
            )
        return f"{_count(self.changes)} made, {ok} up to date{cost}"


def _count(changes: Sequence[Action]) -> str:
    return f"{len(changes)} change{'' if len(changes) == 1 else 's'}"


# --------------------------------------------------------------------------- desired


def desired(cfg: Config, project_id: int, *, variables: bool = True) -> Desired:
    """The labels, board, trigger, hook and schedule the configuration asks for."""
    ref = cfg.gitlab.ref
    base = (
        f"{cfg.gitlab.url.rstrip('/')}/api/v4/projects/{project_id}/ref/"
        f"{quote(ref, safe='')}/trigger/pipeline"
    )
    return Desired(
        labels=tuple(label_specs(cfg.labels)),
        board=cfg.gitlab.board,
        board_lists=tuple(state_label(cfg.labels, s) for s in BOARD_STATES),
        trigger=TRIGGER_DESCRIPTION,
        hook_base=base,
        schedule={
            "description": SCHEDULE_DESCRIPTION,
            "ref": ref,
            "cron": cfg.gitlab.digest_cron,
            "cron_timezone": cfg.timezone,
            "active": True,
        },
        schedule_variables=dict(SCHEDULE_VARIABLES) if variables else {},
    )


def observe(admin: ProjectAdmin, want: Desired) -> Actual:
    """Actual state: five listings, plus our schedule's variables when it exists and we set
    any. A listing GitLab refuses (a Developer may not list hooks) is noted, not fatal.
    """
    actual = Actual()
    for part, read in (
        ("labels", admin.labels),
        ("boards", admin.boards),
        ("triggers", admin.triggers),
        ("hooks", admin.hooks),
        ("schedules", admin.schedules),
    ):
        try:
            setattr(actual, part, read())
        except TrackerError as exc:
            if exc.status not in (401, 403, 404):
                raise  # GitLab down or failing: nothing here can be trusted
            actual.unreadable[part] = exc
    schedule = _find_schedule(actual.schedules, want)
    if schedule is not None and want.schedule_variables:
        actual.schedule_variables = admin.schedule_variables(schedule.id)
    return actual


# --------------------------------------------------------------------------- plan


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
    return [Action("failed", what, _why(actual.unreadable[missing[0]], f"list {missing[0]}"))]


def _plan_labels(want: Desired, actual: Actual) -> list[Action]:
    existing = {lb.name: lb for lb in actual.labels}
    actions = []
    for spec in want.labels:
        what = f"label {spec.name}"
        found = existing.get(spec.name)
        if found is None:
            actions.append(Action("create", what, spec.color, _create_label(spec)))
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
                Action("update", what, ", ".join(shown), _update_label(spec.name, changes))
            )
    return actions


def _plan_board(want: Desired, actual: Actual) -> list[Action]:
    what = f'board "{want.board}"'
    board = next((b for b in actual.boards if b.name == want.board), None)
    actions = []
    if board is None:
        actions.append(Action("create", what, apply=_create_board(want.board)))
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
                    apply=_create_board_list(want.board, name),
                )
            )
    return actions


def _plan_trigger_and_hook(want: Desired, actual: Actual) -> list[Action]:
    actions = []
    what = f'trigger "{want.trigger}"'
    shown = f"{want.hook_base}?{MASKED_QUERY}"
    if "triggers" in actual.unreadable:
        why = _why(actual.unreadable["triggers"], "list pipeline triggers")
        return [
            Action("failed", what, why),
            Action("failed", f"hook {shown}", "not tried: it needs the trigger's token"),
        ]
    trigger = next((t for t in actual.triggers if t.description == want.trigger), None)
    if trigger is None:
        actions.append(Action("create", what, apply=_create_trigger(want.trigger)))
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
            Action("failed", f"hook {shown}", _why(actual.unreadable["hooks"], "list webhooks")),
        ]
    hook = _find_hook(actual.hooks, want.hook_base, token)
    if hook is None:
        actions.append(
            Action("create", f"hook {shown}", "issue events", _create_hook(want.hook_base))
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
            "update", f"hook {shown}", ", ".join(changes), _reenable_hook(hook.id, base, fields)
        )
    if not fields:
        return Action("ok", f"hook {shown}", ", ".join(changes))
    return Action(
        "update", f"hook {shown}", ", ".join(changes), _update_hook(hook.id, base, fields)
    )


def _plan_schedule(want: Desired, actual: Actual) -> list[Action]:
    fields = want.schedule
    what = f'schedule "{fields["description"]}"'
    schedule = _find_schedule(actual.schedules, want)
    actions = []
    if schedule is None:
        actions.append(
            Action(
                "create",
                what,
                f"{fields['cron']} {fields['cron_timezone']} on {fields['ref']}",
                _create_schedule(fields),
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
            actions.append(Action("update", what, shown, _update_schedule(schedule.id, changes)))
        else:
            actions.append(Action("ok", what))
        variables = actual.schedule_variables
    for key, value in want.schedule_variables.items():
        var = f"schedule variable {key}={value}"
        if key not in variables:
            actions.append(Action("create", var, apply=_set_variable(key, value, True)))
        elif variables[key] != value:
            actions.append(
                Action("update", var, f"was {variables[key]!r}", _set_variable(key, value, False))
            )
        else:
            actions.append(Action("ok", var))
    return actions


def _find_schedule(schedules: Sequence[ScheduleState], want: Desired) -> ScheduleState | None:
    return next((s for s in schedules if s.description == want.schedule["description"]), None)


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


# --------------------------------------------------------------------------- apply steps


def _create_label(spec: LabelSpec) -> Callable[[_Context], None]:
    def step(ctx: _Context) -> None:
        created = ctx.admin.create_label(spec.name, spec.color, spec.description)
        ctx.label_ids[spec.name] = created.id

    return step


def _update_label(name: str, changes: dict[str, str]) -> Callable[[_Context], None]:
    return lambda ctx: ctx.admin.update_label(name, changes)


def _create_board(name: str) -> Callable[[_Context], None]:
    def step(ctx: _Context) -> None:
        ctx.board_ids[name] = ctx.admin.create_board(name).id

    return step


def _create_board_list(board: str, label: str) -> Callable[[_Context], None]:
    def step(ctx: _Context) -> None:
        if board not in ctx.board_ids or label not in ctx.label_ids:
            raise TrackerError(f"not tried: the board or the label {label} is missing")
        ctx.admin.create_board_list(ctx.board_ids[board], ctx.label_ids[label])

    return step


def _create_trigger(description: str) -> Callable[[_Context], None]:
    def step(ctx: _Context) -> None:
        ctx.trigger_token = ctx.admin.create_trigger(description).token

    return step


def _hook_url(ctx: _Context, base: str) -> str:
    if not ctx.trigger_token:
        raise TrackerError(
            "not tried: the trigger was not created, so there is no token "
            "to build the webhook URL with"
        )
    return f"{base}?token={ctx.trigger_token}"


def _create_hook(base: str) -> Callable[[_Context], None]:
    def step(ctx: _Context) -> None:
        ctx.admin.create_hook({"url": _hook_url(ctx, base), **HOOK_EVENTS})

    return step


def _update_hook(hook_id: int, base: str, fields: dict[str, Any]) -> Callable[[_Context], None]:
    def step(ctx: _Context) -> None:
        # the URL always goes along: GitLab's hook update has required it
        ctx.admin.update_hook(hook_id, {**fields, "url": _hook_url(ctx, base)})

    return step


def _reenable_hook(hook_id: int, base: str, fields: dict[str, Any]) -> Callable[[_Context], None]:
    def step(ctx: _Context) -> None:
        if fields:
            _update_hook(hook_id, base, fields)(ctx)
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


def _create_schedule(fields: Mapping[str, Any]) -> Callable[[_Context], None]:
    def step(ctx: _Context) -> None:
        ctx.schedule_id = ctx.admin.create_schedule(fields).id

    return step


def _update_schedule(schedule_id: int, changes: dict[str, Any]) -> Callable[[_Context], None]:
    return lambda ctx: ctx.admin.update_schedule(schedule_id, changes)


def _set_variable(key: str, value: str, create: bool) -> Callable[[_Context], None]:
    def step(ctx: _Context) -> None:
        if ctx.schedule_id is None:
            raise TrackerError("not tried: the schedule was not created")
        if create:
            ctx.admin.create_schedule_variable(ctx.schedule_id, key, value)
        else:
            ctx.admin.update_schedule_variable(ctx.schedule_id, key, value)

    return step


# --------------------------------------------------------------------------- run

ROLES = {
    10: "Guest",
    15: "Planner",
    20: "Reporter",
    30: "Developer",
    40: "Maintainer",
    50: "Owner",
}  # Gitlab::Access
VARIABLE_ROLES = {"developer": 30, "maintainer": 40, "owner": 50}  # and "no_one_allowed"
VARIABLES_SETTING = 'Settings > CI/CD > Variables > "Minimum role to use pipeline variables"'
MEMBERS = "Manage > Members"
NEEDS_MAINTAINER = ("hooks", "hook ", "trigger", "schedule")


def variables_setting(project: ProjectSettings) -> tuple[bool, list[str]]:
    """Whether the bot may set pipeline variables, and what the project's
    `ci_pipeline_variables_minimum_override_role` means for the flow
    (new GitLab.com projects: `no_one_allowed`, since 17.7; docs/platform-facts.md).
    """
    role = project.variables_role
    name = ROLES.get(project.access_level, "no member")
    if role is None:
        return True, [
            f"pipeline variables: the setting is shown to Maintainers only (this "
            f"token's user is {name}); check it at {VARIABLES_SETTING}"
        ]
    level = VARIABLE_ROLES.get(role)
    if level is not None and project.access_level >= level:
        return True, [
            f"pipeline variables: allowed from {role.title()} up ({VARIABLES_SETTING}"
            f"); pipeline inputs and variables both work. Safer: no_one_allowed, "
            "since a pipeline variable overrides the CI/CD variables the "
            "configuration reads (such as SMTP_HOST); match-staging needs none"
        ]
    who = "nobody" if level is None else f"{role.title()}s and up only"
    return False, [
        f"pipeline variables: {who} may set them ({VARIABLES_SETTING}: {role}; this token's "
        f"user is {name}). Works: the digest schedule (it needs no variable), the webhook, "
        "and `submit-matches` and `send` through pipeline inputs (GitLab 18.1 or later)",
        "pipeline variables: refused: MATCHES_JSON and SEND_IID as variables (an older GitLab "
        "without inputs), and on a GitLab without the webhook fix (MR 204230) even the "
        "webhook's pipelines, which GitLab then disables. If that is your GitLab, set "
        f"{VARIABLES_SETTING} to Maintainer (the trigger bootstrap made is a Maintainer's; "
        "Developer would let every Developer redirect the jobs)",
    ]


# Until gitlab MR 204230 (issue 557381) the restriction counts a trigger pipeline's
# TRIGGER_PAYLOAD as a pipeline variable: under it every trigger pipeline fails, the issue
# webhook's (which GitLab then disables) and scripts/submit-matches' trigger path alike. The
# release that carries the fix: docs/platform-facts.md, "Restricted pipeline variables".
TRIGGER_PAYLOAD_FIXED_IN = (18, 5)


def trigger_payload_note(admin: ProjectAdmin) -> list[str]:
    """What the GitLab version means for trigger pipelines under restricted pipeline
    variables (asked only when they are restricted for the bot, or not shown).
    """
    fixed = ".".join(map(str, TRIGGER_PAYLOAD_FIXED_IN))
    try:
        version = admin.version()
    except TrackerError as exc:
        return [
            f"GitLab's version could not be read ({exc}): before {fixed} no trigger "
            "pipeline runs while pipeline variables are restricted"
        ]
    match = re.match(r"(\d+)\.(\d+)", version)
    if match is None:
        return [
            f"GitLab's version {truncate(version, 40)!r} is not a version number: "
            f"before {fixed} no trigger pipeline runs while pipeline variables are "
            "restricted"
        ]
    if (int(match.group(1)), int(match.group(2))) >= TRIGGER_PAYLOAD_FIXED_IN:
        return []
    return [
        f"GitLab {truncate(version, 40)} is older than {fixed}: while pipeline variables "
        "are restricted it refuses every trigger pipeline (gitlab MR 204230): the issue "
        "webhook's, which GitLab then disables, and scripts/submit-matches' trigger path. "
        f"Set {VARIABLES_SETTING} to Maintainer (the trigger bootstrap made is a "
        "Maintainer's; Developer would let every Developer redirect the jobs), upgrade "
        "GitLab, or send documents with "
        "`submit-matches --via commit`"
    ]


def unrestricted_variables(project: ProjectSettings) -> Action | None:
    """A failed step while Developers may set pipeline variables: a pipeline variable
    outranks every CI/CD variable and GitLab's predefined ones (CI_SERVER_URL,
    GITLAB_TOKEN, SMTP_HOST, GITLAB_USER_LOGIN), so whoever may set one decides where the
    token and the mail go (issue 20). Maintainer and up, or nobody, is restricted.
    """
    if project.variables_role != "developer":
        return None
    return Action(
        "failed",
        "pipeline variables",
        f"Developers may set them ({VARIABLES_SETTING}: developer), and a pipeline variable "
        "outranks every CI/CD variable and GitLab's own (CI_SERVER_URL, GITLAB_TOKEN, "
        "SMTP_HOST): set it to No one allowed (pipeline inputs keep working) or Maintainer",
    )


def _why(exc: TrackerError, what: str) -> str:
    """The error, and what the user can do about it."""
    text = str(exc)
    if exc.status in (401, 403):
        if what.startswith("schedule variable"):
            return (
                f"{text}: pipeline variables are restricted here; the schedule works "
                f"without it, or allow them: {VARIABLES_SETTING}"
            )
        if any(what.startswith(p) or p in what for p in NEEDS_MAINTAINER):
            return (
                f"{text}: needs the Maintainer role (Developers may not see or change "
                f"webhooks, triggers or schedules): give the token's user Maintainer at "
                f"{MEMBERS}, or run bootstrap once with a Maintainer's token"
            )
        return f"{text}: needs at least the Reporter role: {MEMBERS}"
    if what.startswith("hook ") and exc.status == 422:
        return text + HOOK_REFUSED_HINT
    return text


HOOK_REFUSED_HINT = (
    "; a self-managed GitLab refuses webhooks to its own address unless an "
    "administrator allows requests to the local network (Admin > Settings > "
    "Network > Outbound requests)"
)


def _plan_by_ids(cfg: Config, admin: ProjectAdmin, want: Desired, actual: Actual) -> list[Action]:
    """The plan with the state labels known by the ids recorded (issue 20): renamed ones
    back first, then the plan sees them under their names; the ids and the reviewers'
    recorded last. `actual` is updated to the labels and boards as they will be.
    """
    import dataclasses

    from match_staging.usecases import bootstrap_ids as ids

    unreadable, before = "labels" in actual.unreadable, actual.labels
    renames, actual.labels, held = ids.label_renames(cfg, actual.labels, unreadable=unreadable)
    actual.boards = ids.boards_after(actual.boards, before, actual.labels)
    if held:  # a state label's name is taken: no other label or list until that is sorted
        want = dataclasses.replace(want, labels=(), board_lists=())
    return renames + plan(want, actual) + ids.recordings(cfg, admin, actual.labels)


def bootstrap(cfg: Config, admin: ProjectAdmin, *, dry_run: bool) -> BootstrapReport:
    """Every step that can be done is done; each one that cannot is reported with what to
    do about it, and the run fails only then (a refusal never leaves later steps undone).
    """
    project = admin.settings()
    allowed, notes = variables_setting(project)
    if not allowed or project.variables_role is None:
        notes += trigger_payload_note(admin)
    want = desired(cfg, project.id, variables=allowed)
    actual = observe(admin, want)
    actions = _plan_by_ids(cfg, admin, want, actual)
    if (insist := unrestricted_variables(project)) is not None:
        actions.append(insist)
    trigger = next((t for t in actual.triggers if t.description == want.trigger), None)
    schedule = _find_schedule(actual.schedules, want)
    report = BootstrapReport(
        actions=actions,
        dry_run=dry_run,
        location=admin.location,
        notes=notes,
        secrets=[trigger.token] if trigger and trigger.token else [],
    )
    report.failed = {i: a.detail for i, a in enumerate(actions) if a.kind == "failed"}
    if not dry_run:
        ctx = _Context(
            admin=admin,
            label_ids={lb.name: lb.id for lb in actual.labels},
            board_ids={b.name: b.id for b in actual.boards},
            trigger_token=trigger.token if trigger else None,
            schedule_id=schedule.id if schedule else None,
        )
        for index, action in enumerate(actions):
            if action.apply is None:
                continue
            try:
                action.apply(ctx)
            except TrackerError as exc:
                if exc.transient and exc.status is None:
                    raise  # no answer from GitLab: the next steps would not get one either
                report.failed[index] = _why(exc, action.what)
                continue
            report.applied += 1
        if ctx.trigger_token and ctx.trigger_token not in report.secrets:
            report.secrets.append(ctx.trigger_token)
    if not cfg.gitlab.bot_username:
        report.notes.append(
            "gitlab.bot_username is not set: set it in the configuration file to the user of "
            "the jobs' GITLAB_TOKEN (the bot), so that the webhook pipeline each of the tool's "
            "own issue changes starts ends before any install (ci/prefilter.py)"
        )
    report.requests = admin.requests
    return report


def run(cfg: Config, env: Mapping[str, str], dry_run: bool) -> BootstrapReport:
    """Connect to GitLab the way every command does (GITLAB_URL, GITLAB_TOKEN, project) and
    bootstrap. There is no local tracker to set up: without a token this is a usage error.
    """
    token = env.get("GITLAB_TOKEN", "")
    if not token:
        raise ConfigError(
            "GITLAB_TOKEN is not set: bootstrap sets up a GitLab project and "
            "needs an api token of a Maintainer (webhooks, triggers and "
            "schedules need that role)"
        )
    missing = [
        name
        for name, value in (("GITLAB_URL", cfg.gitlab.url), ("GITLAB_PROJECT", cfg.gitlab.project))
        if not value
    ]
    if missing:
        raise ConfigError(
            f"{' and '.join(missing)} not set (nor gitlab.url / gitlab.project "
            "in the configuration, nor CI_SERVER_URL / CI_PROJECT_ID)"
        )
    from match_staging.trackers.gitlab_project import GitLabProject

    admin = GitLabProject(cfg.gitlab.url, token, cfg.gitlab.project, timeout=cfg.gitlab.timeout)
    report = bootstrap(cfg, admin, dry_run=dry_run)
    # in CI the URL comes only from the file, and the project it names outranks CI_PROJECT_ID
    if pinned := pin_url(cfg, dry_run=dry_run, project_id=admin.project_id()):
        report.notes.append(pinned)
    return report

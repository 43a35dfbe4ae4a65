"""Bootstrap's vocabulary: what it needs from GitLab (`ProjectAdmin`), the desired and
actual state, the plan's steps (`Action`) and the report the CLI prints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from match_staging.errors import TrackerError
from match_staging.model import LabelSpec
from match_staging.trackers.gitlab_project import (
    BoardState,
    HookState,
    LabelState,
    ProjectSettings,
    ScheduleState,
    TriggerState,
)

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
class ApplyContext:
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
    apply: Callable[[ApplyContext], None] | None = field(default=None, compare=False, repr=False)

    def line(self) -> str:
        """The plan's line for this step."""
        return f"{self.kind:<6} {self.what}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class BootstrapReport:
    """The plan, what was applied and what failed: the CLI prints it."""

    actions: list[Action]
    dry_run: bool
    location: str = ""
    project_id: int = 0  # the numeric id bootstrap's project read gave (pinned in the file)
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

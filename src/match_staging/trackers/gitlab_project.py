"""The GitLab project's setup, as `bootstrap` needs it: labels, the review board and its
lists, pipeline triggers, webhooks and pipeline schedules. Thin python-gitlab calls that
return plain data; errors become TrackerError once, at the boundary (the same `_translate`
and request counter as the issue tracker in trackers/gitlab.py).

Reads list everything (GitLab's listings are small here: a project has a handful of boards,
hooks, triggers and schedules); writes are one request each and never retried, so a create
is never sent twice. Nothing here deletes anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote

from gitlab.exceptions import GitlabHttpError

from match_staging.errors import TrackerError
from match_staging.trackers.gitlab_http import PER_PAGE, _translate, connect

HOOK_EVENT_FIELDS = (
    "issues_events",
    "confidential_issues_events",
    "note_events",
    "confidential_note_events",
    "push_events",
    "merge_requests_events",
    "tag_push_events",
)


@dataclass(frozen=True)
class ProjectSettings:
    """What bootstrap needs to know of the project before it plans anything."""

    id: int
    access_level: int  # the token's role here (Gitlab::Access: 30 Developer, 40 Maintainer)
    # ci_pipeline_variables_minimum_override_role; None when not shown: GitLab shows it to
    # Maintainers only (lib/api/entities/project.rb, `if: ... :admin_project`)
    variables_role: str | None


@dataclass(frozen=True)
class LabelState:
    """A label as GitLab has it."""

    id: int
    name: str
    color: str
    description: str
    project_label: bool = True  # False: inherited from a group, not editable here


@dataclass(frozen=True)
class BoardState:
    """A board and the labels of its lists."""

    id: int
    name: str
    lists: tuple[str, ...]  # label names of the board's label lists, in position order


@dataclass(frozen=True)
class TriggerState:
    """A pipeline trigger; other users' tokens are shown cut short."""

    id: int
    description: str
    token: str  # GitLab shows the full token to the trigger's owner only


@dataclass(frozen=True)
class HookState:
    """A webhook; `disabled` when GitLab switched it off after failures."""

    id: int
    url: str
    events: Mapping[str, bool] = field(default_factory=dict)  # HOOK_EVENT_FIELDS present
    alert_status: str = ""  # "executable", or GitLab switched it off after failures


@dataclass(frozen=True)
class ScheduleState:
    """A pipeline schedule."""

    id: int
    description: str
    cron: str
    cron_timezone: str
    ref: str
    active: bool


class GitLabProject:
    """One project's setup over python-gitlab, counting every request."""

    def __init__(self, url: str, token: str, project: str, *, timeout: float = 30.0) -> None:
        self._project, self._counter = connect(url, token, project, timeout)
        self.location = f"{url} project {project}"

    @property
    def requests(self) -> int:
        """Requests made so far, for the summary's cost."""
        return self._counter.sent

    # ------------------------------------------------------------------ project
    @_translate("read the project")
    def project_id(self) -> int:
        """The numeric id (webhook URLs need it); no request when configured as a number."""
        if self._project.id.isdigit():
            return int(self._project.id)
        return int(self._project.get().get("id") or 0)  # resolve a path

    @_translate("read its version")
    def version(self) -> str:
        """GET /version: "18.4.2-ee" and the like ("" when GitLab names none)."""
        data = self._project.client.http_get("/version")
        return str(data.get("version") or "") if isinstance(data, dict) else ""

    @_translate("read the project")
    def settings(self) -> ProjectSettings:
        """One GET /projects/:id: the numeric id, the token's role, the variables setting."""
        attrs = self._project.get()
        permissions = attrs.get("permissions") or {}
        level = max(
            int((permissions.get(k) or {}).get("access_level") or 0)
            for k in ("project_access", "group_access")
        )
        role = attrs.get("ci_pipeline_variables_minimum_override_role")
        return ProjectSettings(
            id=int(attrs["id"]), access_level=level, variables_role=str(role) if role else None
        )

    # ------------------------------------------------------------------- labels
    @_translate("list labels")
    def labels(self) -> list[LabelState]:
        """The project's labels, group labels included."""
        return [
            LabelState(
                id=int(lb["id"]),
                name=str(lb["name"]),
                color=str(lb.get("color") or ""),
                description=str(lb.get("description") or ""),
                project_label=bool(lb.get("is_project_label", True)),
            )
            for lb in self._project.pages("/labels", {"per_page": PER_PAGE})
        ]

    @_translate("create a label")
    def create_label(self, name: str, color: str, description: str) -> LabelState:
        """Create one label."""
        lb = self._project.labels.create({"name": name, "color": color, "description": description})
        return LabelState(
            id=int(lb.attributes["id"]), name=name, color=color, description=description
        )

    @_translate("update a label")
    def update_label(self, name: str, changes: Mapping[str, str]) -> None:
        """Change a label's color or description."""
        self._project.labels.update(name, dict(changes))

    @_translate("rename a label")
    def rename_label(self, label_id: int, new_name: str) -> None:
        """Rename a label by its id (PUT /projects/:id/labels/:label_id, `new_name`)."""
        self._project.labels.update(str(label_id), {"new_name": new_name})

    @_translate("look a user up")
    def user_id(self, username: str) -> int | None:
        """The id of the user called `username` now (GET /users?username=), or None."""
        found = self._project.client.http_get("/users", query_data={"username": username})
        users = found if isinstance(found, list) else []
        return next(
            (
                int(u["id"])
                for u in users
                if isinstance(u, dict) and str(u.get("username", "")).lower() == username.lower()
            ),
            None,
        )

    # ------------------------------------------------------------------- boards
    @_translate("list boards")
    def boards(self) -> list[BoardState]:
        """The project's boards with their label lists."""
        found = []
        for board in self._project.boards.list(get_all=True, per_page=PER_PAGE):
            lists = board.attributes.get("lists")
            if lists is None:  # older GitLab: the listing lacks them, ask the board
                lists = [bl.attributes for bl in board.lists.list(get_all=True, per_page=PER_PAGE)]
            found.append(
                BoardState(
                    id=int(board.attributes["id"]),
                    name=str(board.attributes["name"]),
                    lists=_list_labels(lists),
                )
            )
        return found

    @_translate("create a board")
    def create_board(self, name: str) -> BoardState:
        """Create a board (every tier since 12.1)."""
        board = self._project.boards.create({"name": name})
        return BoardState(
            id=int(board.attributes["id"]),
            name=name,
            lists=_list_labels(board.attributes.get("lists") or []),
        )

    @_translate("add a list to a board")
    def create_board_list(self, board_id: int, label_id: int) -> None:
        """Add a list for a label to a board."""
        board = self._project.boards.get(board_id, lazy=True)
        board.lists.create({"label_id": label_id})

    # ----------------------------------------------------------------- triggers
    @_translate("list pipeline triggers")
    def triggers(self) -> list[TriggerState]:
        """The project's pipeline triggers (Maintainer)."""
        return [
            _trigger(t.attributes)
            for t in self._project.triggers.list(get_all=True, per_page=PER_PAGE)
        ]

    @_translate("create a pipeline trigger")
    def create_trigger(self, description: str) -> TriggerState:
        """Create a pipeline trigger."""
        return _trigger(self._project.triggers.create({"description": description}).attributes)

    # -------------------------------------------------------------------- hooks
    @_translate("list webhooks")
    def hooks(self) -> list[HookState]:
        """The project's webhooks (Maintainer)."""
        return [
            _hook(h.attributes) for h in self._project.hooks.list(get_all=True, per_page=PER_PAGE)
        ]

    @_translate("create the webhook")
    def create_hook(self, fields: Mapping[str, Any]) -> HookState:
        """Create a webhook."""
        return _hook(self._project.hooks.create(dict(fields)).attributes)

    @_translate("update the webhook")
    def update_hook(self, hook_id: int, fields: Mapping[str, Any]) -> None:
        """Change a webhook's URL or events."""
        self._project.hooks.update(hook_id, dict(fields))

    @_translate("test the webhook")
    def test_hook(self, hook_id: int, trigger: str) -> None:
        """`POST /projects/:id/hooks/:hook_id/test/:trigger` (lib/api/hooks/trigger_test.rb):
        sample data sent even to a disabled hook; a 2xx answer switches it back on (201),
        anything else is 422. Never retried: each attempt is a delivery, a pipeline.
        """
        path = self._project.path(f"/hooks/{hook_id}/test/{trigger}")
        self._project.client.http_post(path)

    # ------------------------------------------------------ the token, rotated
    @_translate("read the token")
    def token_self(self) -> dict[str, Any]:
        """`GET /personal_access_tokens/self`: the token this handle uses (its name, expiry)."""
        data = self._project.client.http_get("/personal_access_tokens/self")
        return data if isinstance(data, dict) else {}

    @_translate("read the CI/CD variable")
    def variable(self, key: str) -> dict[str, Any] | None:
        """`GET /projects/:id/variables/:key` (lib/api/ci/variables.rb, Maintainer); None
        when the project has no such variable. Its value is a secret: never shown.
        """
        path = self._project.path(f"/variables/{quote(key, safe='')}")
        try:
            data = self._project.client.http_get(path)
        except GitlabHttpError as exc:
            if exc.response_code == 404:
                return None
            raise
        return data if isinstance(data, dict) else {}

    @_translate("rotate the token")
    def rotate_token(self, expires_at: date) -> tuple[str, str]:
        """`POST /personal_access_tokens/self/rotate`: the old token is revoked at once and
        the new one returned, once (lib/api/personal_access_tokens/self_rotation.rb,
        app/services/personal_access_tokens/rotate_service.rb). (new token, its expiry).
        """
        data = self._project.client.http_post(
            "/personal_access_tokens/self/rotate", post_data={"expires_at": expires_at.isoformat()}
        )
        if not isinstance(data, dict) or not data.get("token"):
            raise TrackerError("GitLab could not rotate the token: no token in its answer")
        return str(data["token"]), str(data.get("expires_at") or "")

    @_translate("update the CI/CD variable")
    def set_variable(self, key: str, value: str) -> None:
        """`PUT /projects/:id/variables/:key` with a new value; its flags stay as they are.
        The same request again is harmless: it sets, it does not toggle.
        """
        path = self._project.path(f"/variables/{quote(key, safe='')}")
        self._project.client.http_put(path, post_data={"value": value})

    # ---------------------------------------------------------------- schedules
    @_translate("list pipeline schedules")
    def schedules(self) -> list[ScheduleState]:
        """The project's pipeline schedules (Maintainer)."""
        return [
            _schedule(s.attributes)
            for s in self._project.pipelineschedules.list(get_all=True, per_page=PER_PAGE)
        ]

    @_translate("read a pipeline schedule's variables")
    def schedule_variables(self, schedule_id: int) -> dict[str, str]:
        """Listings leave variables out; one schedule's GET has them."""
        schedule = self._project.pipelineschedules.get(schedule_id)
        return {
            str(v["key"]): str(v.get("value") or "")
            for v in schedule.attributes.get("variables") or []
        }

    @_translate("create a pipeline schedule")
    def create_schedule(self, fields: Mapping[str, Any]) -> ScheduleState:
        """Create a pipeline schedule."""
        return _schedule(self._project.pipelineschedules.create(dict(fields)).attributes)

    @_translate("update a pipeline schedule")
    def update_schedule(self, schedule_id: int, fields: Mapping[str, Any]) -> None:
        """Change a schedule's cron, zone, ref or state."""
        self._project.pipelineschedules.update(schedule_id, dict(fields))

    @_translate("create a pipeline schedule variable")
    def create_schedule_variable(self, schedule_id: int, key: str, value: str) -> None:
        """Add a variable to a schedule."""
        schedule = self._project.pipelineschedules.get(schedule_id, lazy=True)
        schedule.variables.create({"key": key, "value": value})

    @_translate("update a pipeline schedule variable")
    def update_schedule_variable(self, schedule_id: int, key: str, value: str) -> None:
        """Change a schedule variable's value."""
        schedule = self._project.pipelineschedules.get(schedule_id, lazy=True)
        schedule.variables.update(key, {"value": value})


def _list_labels(lists: list[Any]) -> tuple[str, ...]:
    """Label lists only (backlog and closed have no label), by position."""
    with_label = [bl for bl in lists if isinstance(bl, dict) and isinstance(bl.get("label"), dict)]
    with_label.sort(key=lambda bl: int(bl.get("position") or 0))
    return tuple(
        str(bl["label"].get("name") or bl["label"].get("title") or "") for bl in with_label
    )


def _trigger(attrs: dict[str, Any]) -> TriggerState:
    return TriggerState(
        id=int(attrs["id"]),
        description=str(attrs.get("description") or ""),
        token=str(attrs.get("token") or ""),
    )


def _hook(attrs: dict[str, Any]) -> HookState:
    return HookState(
        id=int(attrs["id"]),
        url=str(attrs.get("url") or ""),
        events={k: bool(attrs[k]) for k in HOOK_EVENT_FIELDS if k in attrs},
        alert_status=str(attrs.get("alert_status") or ""),
    )


def _schedule(attrs: dict[str, Any]) -> ScheduleState:
    return ScheduleState(
        id=int(attrs["id"]),
        description=str(attrs.get("description") or ""),
        cron=str(attrs.get("cron") or ""),
        cron_timezone=str(attrs.get("cron_timezone") or ""),
        ref=str(attrs.get("ref") or ""),
        active=bool(attrs.get("active")),
    )

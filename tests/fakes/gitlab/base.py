"""What every part of the fake GitLab shares: its state, ids, timestamps, users and pages."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from tests.fakes.gitlab.wire import (
    Json,
    LoggedRequest,
    _as_int,
    _HttpError,
    _Req,
    _Resp,
)

PROJECT_PATH = "freelancer/backoffice"


@dataclass(frozen=True)
class IssueHookEvent:
    iid: int
    actor: str  # username of whoever made the change
    action: str  # "open", "update", "close" or "reopen"
    at: datetime
    confidential: bool = False  # event_type "confidential_issue": confidential hooks only


class FakeBase:
    """The fake's state (plain containers that tests read and change; `lock` guards them) and the
    helpers every resource uses. Each part of the fake builds on the one before it (users,
    labels, search, project, hooks, quick actions, issues, to-dos, notes, pipelines, then the
    server), so each sees what it needs, and the type checker sees it too."""

    # Set in FakeGitLab.__init__ (tests/fakes/gitlab/server.py); each part's own settings
    # are set by its `_init_*` method.
    token: str
    latency: float
    url: str
    lock: threading.RLock
    project_id: int
    other_project_ids: set[int]  # where members may move issues (a project of their own)
    acting_user_id: int
    max_upload_bytes: int
    project: Json
    users: dict[int, Json]
    users_renamed: bool
    issues: dict[int, Json]
    labels: dict[str, Json]
    notes: dict[int, list[Json]]
    uploads: list[Json]
    todos: list[Json]
    label_events: dict[int, list[Json]]
    boards: list[Json]
    triggers: list[Json]
    hooks: list[Json]
    schedules: list[Json]
    requests: list[LoggedRequest]
    executed_quick_actions: list[tuple[int, str]]
    issue_hook_events: list[IssueHookEvent]
    confidential_issue_events: list[IssueHookEvent]
    pipeline_creations: list[datetime]
    lost_deliveries: int
    deliveries: list[tuple[int, str, int]]
    _ids: dict[str, int]
    _last_time: datetime
    clock: Callable[[], datetime]

    def _next_id(self, kind: str) -> int:
        self._ids[kind] = self._ids.get(kind, 0) + 1
        return self._ids[kind]

    def _now(self) -> str:
        """Strictly increasing UTC timestamps with millisecond precision, by the fake's
        `clock` (real time unless a test moves it, as it moves the run's clock with
        MATCH_STAGING_NOW: the days a match waits are GitLab's created_at of issue and notes).
        """
        now = self.clock().astimezone(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        if now <= self._last_time:
            now = self._last_time + timedelta(milliseconds=1)
        self._last_time = now
        return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"

    def _user(self, uid: int) -> Json:
        if uid not in self.users:
            raise _HttpError(404, {"message": "404 User Not Found"})
        return dict(self.users[uid])

    def _user_by_name(self, username: str) -> Json | None:
        wanted = username.lstrip("@").lower()
        if wanted == "me":
            return self.users.get(self.acting_user_id)
        return next((u for u in self.users.values() if u["username"].lower() == wanted), None)

    def _paginate(
        self, req: _Req, items: Sequence[Any], view: Callable[[Any], Any] | None = None
    ) -> _Resp:
        """One page of `items`, with GitLab's pagination headers; `view` (what the API shows
        of an item) is applied to that page's items only."""
        per_page = _as_int(req.value("per_page"), 20)
        per_page = 20 if per_page < 1 else min(per_page, 100)
        page = max(_as_int(req.value("page"), 1), 1)
        total = len(items)
        pages = max(1, math.ceil(total / per_page))
        chunk = list(items[(page - 1) * per_page : page * per_page])
        if view is not None:
            chunk = [view(item) for item in chunk]

        def link(target: int) -> str:
            query = {**req.query, "page": [str(target)], "per_page": [str(per_page)]}
            return f"{self.url}{req.path}?{urlencode(query, doseq=True)}"

        rels = (
            ([("prev", page - 1)] if page > 1 else [])
            + ([("next", page + 1)] if page < pages else [])
            + [("first", 1), ("last", pages)]
        )
        headers = {
            "X-Total": str(total),
            "X-Total-Pages": str(pages),
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Next-Page": str(page + 1) if page < pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
            "Link": ", ".join(f'<{link(n)}>; rel="{rel}"' for rel, n in rels),
        }
        return _Resp(200, chunk, headers)

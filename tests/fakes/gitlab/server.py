"""The fake GitLab served over real HTTP: its state's start, the routes, each request's way
through authentication, injected faults and authorization to its handler."""

from __future__ import annotations

import copy
import functools
import json
import re
import threading
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote

from tests.fakes.gitlab.base import PROJECT_PATH
from tests.fakes.gitlab.pipelines import PipelinesMixin
from tests.fakes.gitlab.wire import (
    Handler,
    LoggedRequest,
    Route,
    _Fault,
    _HttpError,
    _parse_body,
    _Req,
    _Resp,
    _Server,
    _Wire,
)
from tests.fakes.serving import Serving


@functools.cache
def _route_pattern(rx: str) -> re.Pattern[str]:
    """A route's pattern, compiled once per process: every test makes a fake or several,
    and `re`'s own cache (512 patterns) can lose the hundred routes among the rest (then
    1.6 ms a fake)."""
    return re.compile("/api/v4" + rx)


class FakeGitLab(PipelinesMixin):
    """In-memory GitLab (one project, three users) behind a real HTTP socket.

    The socket is bound in ``__init__`` (so ``url`` is valid at once); ``start()``
    serves it from a daemon thread, ``stop()`` closes it.  State attributes are
    plain containers; ``lock`` guards them (never hold it while calling the API).
    ``requests`` logs every request, including rejected, failed and dropped ones.
    Ids are deliberately offset from iids (issue ids start at 70001) so id/iid
    mix-ups in client code fail loudly.
    """

    def __init__(
        self,
        *,
        token: str = "test-token",  # noqa: S107  (a fake's token)
        latency: float = 0.0,
        bot_role: str = "maintainer",
        project_path: str = PROJECT_PATH,
    ) -> None:
        self.token = token
        self.latency = latency
        self.project_id = 1
        self.other_project_ids = {2}  # where members may move issues (a project of their own)
        self.acting_user_id = 1
        self._init_access(bot_role)
        self._init_search()
        self.max_upload_bytes = 100 * 1024 * 1024
        self.lock = threading.RLock()
        self._server = _Server(self)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._serving: Serving | None = None
        self._faults: list[_Fault] = []
        self._ids = {"issue": 70000, "note": 90000, "label": 300}
        self._last_time = datetime(2000, 1, 1, tzinfo=UTC)

        self.project = {
            "id": 1,
            "name": "backoffice",
            "path": "backoffice",
            "path_with_namespace": PROJECT_PATH,
            "name_with_namespace": "freelancer / backoffice",
            "namespace": {"id": 7, "name": "freelancer", "path": "freelancer", "kind": "group"},
            "web_url": f"{self.url}/{PROJECT_PATH}",
            "default_branch": "main",
            "visibility": "private",
            "description": "",
        }
        self._move_project(project_path)
        self.users_renamed = False  # until then an answer's users are as stored
        self.users = {
            uid: {
                "id": uid,
                "username": username,
                "name": name,
                "state": "active",
                "avatar_url": None,
                "web_url": f"{self.url}/{username}",
            }
            for uid, username, name in [
                (1, "bot", "Match Staging Bot"),
                (2, "reviewer", "Rita Reviewer"),
                (3, "mallory", "Mallory Mischief"),
            ]
        }
        self.issues = {}
        self.labels = {}
        self.notes = {}
        self.uploads = []
        self.todos = []
        self.label_events = {}
        self.boards = []
        self.triggers = []
        self.hooks = []
        self.schedules = []
        self.requests = []
        self.executed_quick_actions = []
        self._init_pipelines()
        # Issue Hook events GitLab would deliver: one per issue create and per update that
        # changed something (labels, text, state, assignees); notes fire Note Hooks only
        # (app/services/issues/base_service.rb#execute_hooks, via Issues::UpdateService).
        self.issue_hook_events = []
        self.pipeline_creations = []  # by the webhook's deliveries
        self.lost_deliveries = 0  # refused (429) or not made (disabled)
        # deliveries made to hooks: (hook id, event_type, iid); a test delivery's iid is 0
        self.deliveries = []
        # Events of confidential issues: they reach only hooks with confidential_issues_events
        self.confidential_issue_events = []
        self._init_tokens()
        self._routes = self._build_routes()

    def start(self) -> FakeGitLab:
        if self._serving is None:
            self._serving = Serving(self._server)
        return self

    def stop(self) -> None:
        if self._serving is not None:
            self._serving.stop()
            self._serving = None
        self._server.server_close()

    def __enter__(self) -> FakeGitLab:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def count(self, method: str | None = None, path_regex: str | None = None) -> int:
        with self.lock:
            return sum(
                1
                for r in self.requests
                if (method is None or r.method == method.upper())
                and (path_regex is None or re.search(path_regex, r.path))
            )

    def reset_log(self) -> None:
        with self.lock:
            self.requests.clear()

    # Not state: the socket, its thread, the lock, and the routes (bound to this instance).
    _LIVE = frozenset({"lock", "_server", "_serving", "_routes", "url"})

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of the whole state (projects, issues, notes, events, the request log,
        the ids to come, faults, settings a test changed): `restore` puts it back, on this
        server (its URL is in the state: web_url, uploads)."""
        with self.lock:
            return copy.deepcopy({k: v for k, v in vars(self).items() if k not in self._LIVE})

    def restore(self, state: dict[str, Any]) -> None:
        """Back to `state`, exactly: what was set since and is not in it goes too."""
        with self.lock:
            for name in [k for k in vars(self) if k not in self._LIVE and k not in state]:
                delattr(self, name)
            vars(self).update(copy.deepcopy(state))

    def fail_next(  # noqa: PLR0913, RUF100 - keyword-only, each a part of GitLab's answer
        self,
        method: str,
        path_regex: str,
        *,
        status: int = 500,
        retry_after: int | None = None,
        times: int = 1,
        body: str | None = None,
        skip: int = 0,
    ) -> None:
        """Answer the next matching request(s) with `status`; `skip` lets that many
        matching requests through first (fail_next("*", ".", skip=k): the k-th request)."""
        with self.lock:
            self._faults.append(
                _Fault(
                    method.upper(),
                    path_regex,
                    "fail",
                    times,
                    status=status,
                    retry_after=retry_after,
                    body=body,
                    skip=skip,
                )
            )

    def drop_next(
        self,
        method: str,
        path_regex: str,
        *,
        after_commit: bool = False,
        times: int = 1,
        skip: int = 0,
    ) -> None:
        with self.lock:
            self._faults.append(
                _Fault(
                    method.upper(), path_regex, "drop", times, after_commit=after_commit, skip=skip
                )
            )

    def _dispatch(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> _Wire | None:
        """Handle one request; ``None`` means: close the socket without answering."""
        if self.latency:
            time.sleep(self.latency)
        path, _, query_string = target.partition("?")
        query = parse_qs(query_string, keep_blank_values=True)
        with self.lock:
            entry = LoggedRequest(method, path, query, None, 0)
            self.requests.append(entry)
            fault: _Fault | None = None
            try:
                body, files, entry.json = _parse_body(headers.get("content-type", ""), raw)
                bearer = headers.get("authorization", "").removeprefix("Bearer ")
                auth = headers.get("private-token") or bearer
                self._request_token = auth  # GET /personal_access_tokens/self shows it
                # trigger calls carry the trigger's token in the body and run as its owner
                user_id = (
                    self.acting_user_id
                    if self._trigger_token_ok(method, path, body, query)
                    else self._authenticate(auth)
                )
                fault = self._take_fault(method, path)
                if fault is not None and fault.kind == "fail":
                    entry.fault = "fail"
                    resp = self._fault_response(fault)
                elif fault is not None and not fault.after_commit:
                    entry.fault = "drop"
                    return None
                else:
                    handler, params = self._resolve(method, path)
                    resp = self._as_user(
                        user_id,
                        method,
                        path,
                        params,
                        lambda: handler(_Req(path, query, body, params, files)),
                    )
            except _HttpError as err:
                resp = _Resp(err.status, err.payload, err.headers)
            except Exception as exc:  # a bug in the fake: answer 500 rather than hang up
                traceback.print_exc()
                resp = _Resp(500, {"message": f"500 Internal Server Error (fake: {exc!r})"})
            if fault is not None and fault.kind == "drop":
                entry.fault = "drop_after_commit"
                return None
            entry.status = resp.status
            payload = (
                resp.raw
                if resp.raw is not None
                else (
                    b""
                    if resp.payload is None
                    # as stored until a user is renamed: then every user as now
                    else json.dumps(
                        self._current_users(resp.payload) if self.users_renamed else resp.payload
                    ).encode()
                )
            )
            return _Wire(resp.status, {"Content-Type": "application/json", **resp.headers}, payload)

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.matches(method, path):
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    @staticmethod
    def _fault_response(fault: _Fault) -> _Resp:
        headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        if fault.body is not None:
            return _Resp(fault.status, headers=headers, raw=fault.body.encode())
        message = "Retry later" if fault.status == 429 else f"{fault.status} Injected failure"
        return _Resp(fault.status, {"message": message}, headers)

    def _resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path) if route_method == method else None
            if match:
                params = {k: unquote(v) for k, v in match.groupdict().items()}
                if "pid" in params and params["pid"] not in self._project_ids():
                    raise _HttpError(404, {"message": "404 Project Not Found"})
                return handler, params
        raise _HttpError(404, {"message": "404 Not Found"})

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], Handler]]:
        """Every part's routes (no two match one request, so their order does not matter)."""
        version: Route = (
            "GET",
            "/version",
            lambda r: _Resp(200, {"version": self.version, "revision": "fake"}),
        )
        table = [
            version,
            *self._user_routes(),
            *self._label_routes(),
            *self._project_routes(),
            *self._hook_routes(),
            *self._issue_routes(),
            *self._todo_routes(),
            *self._note_routes(),
            *self._pipeline_routes(),
        ]
        return [(m, _route_pattern(rx), h) for m, rx, h in table]

    def _as_user(
        self,
        user_id: int,
        method: str,
        path: str,
        params: dict[str, str],
        call: Callable[[], _Resp],
    ) -> _Resp:
        """Serve one request as `user_id`, after checking the role it needs."""
        saved = self.acting_user_id
        self.acting_user_id = user_id
        try:
            self._authorize(method, path, params)
            return call()
        finally:
            self.acting_user_id = saved

    def _authorize(self, method: str, path: str, params: dict[str, str]) -> None:
        """The role a route needs (`_ROLE_RULES`, users.py, with the GitLab sources), the
        author of an issue or a note where GitLab lets the author (here: it reads both)."""
        if "pid" not in params:
            return
        level = self.role_of(self.acting_user_id)
        if level == 0:  # not a member: GitLab hides the project
            raise _HttpError(404, {"message": "404 Project Not Found"})
        rest = re.sub(r"^/api/v4/projects/[^/]+", "", path)
        if method == "PUT" and re.fullmatch(r"/issues/\d+/notes/\d+", rest):
            if self._note(_Req(path, {}, {}, params, {}))["author"]["id"] != self.acting_user_id:
                raise _HttpError(403, {"message": "403 Forbidden"})
            return
        for methods, pattern, role in self._ROLE_RULES:
            if (methods == "*" or method in methods.split("|")) and re.fullmatch(pattern, rest):
                if level >= self.ROLE_LEVELS[role]:
                    return
                if pattern == r"/issues/\d+":
                    issue = self.issues.get(int(params["iid"]))
                    if issue is not None and issue["author"]["id"] == self.acting_user_id:
                        return  # an issue's author may edit it
                raise _HttpError(403, {"message": "403 Forbidden"})

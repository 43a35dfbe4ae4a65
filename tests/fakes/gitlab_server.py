"""A stateful fake of the GitLab REST API v4, served over real HTTP.

Only the standard library is used, so unmodified python-gitlab talks to it
exactly as it would to a real server::

    with FakeGitLab() as fake:
        gl = gitlab.Gitlab(fake.url, private_token=fake.token)
        project = gl.projects.get(fake.project_id)

All state lives in plain Python containers that tests may read and modify
directly (hold ``fake.lock`` if requests may be in flight).  Keys starting with
``_`` (``"_mentions"``, ``"_references"``, ``"_user_id"`` ...) are private
bookkeeping and are never sent over the wire.

Text handling mimics GitLab:

* quick actions use the regex of ``Gitlab::QuickActions::Extractor``
  (fenced code blocks only; GitLab also skips inline-code, HTML and ``>>>``
  blocks, which this fake deliberately does NOT, so it errs on the side of
  executing commands).  ``\\r`` is removed and trailing whitespace stripped
  from any description or note body, as GitLab does.  Every recognised command
  line is stripped and logged in ``executed_quick_actions`` even when it was
  inert (GitLab strips them all; /close, /title ... act only on existing issues);
* mentions (``@user`` of known users, plus ``@all``) and issue references are
  scanned in titles, descriptions and notes, outside code fences/spans.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import math
import operator
import re
import secrets
import socket
import threading
import time
import traceback
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlencode

__all__ = [
    "FakeGitLab",
    "LoggedRequest",
    "extract_quick_actions",
    "find_mentions",
    "find_references",
]

Json = dict[str, Any]

PROJECT_PATH = "freelancer/backoffice"
DEFAULT_LABEL_COLOR = "#6699cc"
MAX_TITLE_LENGTH = 255
MAX_DESCRIPTION_LENGTH = 1_048_576
MAX_NOTE_LENGTH = 1_000_000
EMBEDDABLE_EXTENSIONS = frozenset(
    (
        "png",
        "jpg",
        "jpeg",
        "gif",
        "bmp",
        "tiff",
        "ico",
        "webp",
        "svg",
        "mp4",
        "m4v",
        "mov",
        "webm",
        "ogv",
    )
)
BOOL_FIELDS = frozenset(
    (
        "issues_events",
        "note_events",
        "push_events",
        "enable_ssl_verification",
        "active",
        "merge_requests_events",
        "tag_push_events",
        "confidential_issues_events",
        "confidential_note_events",
        "hide_backlog_list",
        "hide_closed_list",
    )
)
RUBY_WHITESPACE = " \t\n\v\f\r\0"
NEEDS_EXISTING_ISSUE = frozenset(
    ("close", "reopen", "open", "title", "unlabel", "remove_label", "relabel")
)
ISSUE_UPDATE_PARAMS = (
    "title",
    "description",
    "labels",
    "add_labels",
    "remove_labels",
    "state_event",
    "assignee_ids",
    "assignee_id",
    "confidential",
)

# Every command name GitLab's extractor knows (issue and MR commands alike:
# the extractor strips all of them, availability is only checked afterwards).
QUICK_ACTION_NAMES: tuple[str, ...] = (
    "close",
    "reopen",
    "open",
    "title",
    "label",
    "labels",
    "unlabel",
    "remove_label",
    "relabel",
    "assign",
    "reassign",
    "unassign",
    "milestone",
    "remove_milestone",
    "due",
    "remove_due_date",
    "estimate",
    "estimate_time",
    "remove_estimate",
    "remove_time_estimate",
    "spend",
    "spent",
    "spend_time",
    "remove_time_spent",
    "todo",
    "done",
    "subscribe",
    "unsubscribe",
    "award",
    "react",
    "weight",
    "clear_weight",
    "confidential",
    "duplicate",
    "move",
    "clone",
    "copy_metadata",
    "lock",
    "unlock",
    "board_move",
    "create_merge_request",
    "relate",
    "unrelate",
    "zoom",
    "remove_zoom",
    "epic",
    "remove_epic",
    "iteration",
    "remove_iteration",
    "health_status",
    "clear_health_status",
    "promote",
    "promote_to",
    "promote_to_incident",
    "parent",
    "set_parent",
    "remove_parent",
    "add_child",
    "remove_child",
    "page",
    "severity",
    "blocks",
    "blocked_by",
    "unlink",
    "timeline",
    "invite_email",
    "remove_email",
    "add_email",
    "type",
    "status",
    "merge",
    "approve",
    "unapprove",
    "draft",
    "ready",
    "wip",
    "rebase",
    "target_branch",
    "submit_review",
    "assign_reviewer",
    "reviewer",
    "request_review",
    "unassign_reviewer",
    "remove_reviewer",
    "add_contacts",
    "remove_contacts",
    "checkin_reminder",
    "publish",
)

_COMMANDS_RE = re.compile(
    r"(?P<code>^```.+?\n```$)"
    r"|(?:^/(?P<cmd>" + "|".join(map(re.escape, QUICK_ACTION_NAMES)) + r")"
    r"(?:[ ](?P<arg>[^\n]*))?(?:\s*\n|$))",
    re.MULTILINE | re.DOTALL | re.IGNORECASE,
)
_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_INLINE_CODE_RE = re.compile(r"(?<!`)(`+)(?!`).+?(?<!`)\1(?!`)", re.DOTALL)
# Ruby's \w is ASCII only: GitLab mentions `é@user` (gitlabhq app/models/user.rb)
_MENTION_RE = re.compile(r"(?<![A-Za-z0-9_])@([A-Za-z0-9_][A-Za-z0-9_.\-]*)")
_REFERENCE_RE = re.compile(r"(?<![\w&])#\d+|(?<![\w/.\-])[\w.\-]+/[\w.\-]+#\d+|/-/issues/\d+")
_LABEL_REF_RE = re.compile(r'~(?:(\d+)\b|"([^"]+)"|([A-Za-z0-9_\-?.&]+))')
_HEX_COLOR_RE = re.compile(r"#([0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})")


# --------------------------------------------------------------------------
# Public data types and text helpers
# --------------------------------------------------------------------------


@dataclass
class LoggedRequest:
    """One request as seen by the fake.  ``status`` is 0 when it was dropped."""

    method: str
    path: str  # raw (still percent-encoded) path, without the query string
    query: dict[str, list[str]]
    json: Any | None
    status: int
    fault: str | None = None  # None | "fail" | "drop" | "drop_after_commit"


def extract_quick_actions(text: str) -> tuple[str, list[tuple[str, str, str]]]:
    """Return (text without commands, [(name, argument, line), ...])."""
    found: list[tuple[str, str, str]] = []

    def replace(match: re.Match[str]) -> str:
        if match.group("cmd") is None:
            return match.group(0)
        arg = (match.group("arg") or "").strip()
        found.append((match.group("cmd").lower(), arg, match.group(0).strip()))
        return ""

    content = _COMMANDS_RE.sub(replace, text.replace("\r", ""))
    return content.rstrip(RUBY_WHITESPACE), found


def _strip_code(text: str) -> str:
    """Drop CommonMark fenced code blocks and inline code spans."""
    kept: list[str] = []
    fence: str | None = None
    for line in text.replace("\r", "").split("\n"):
        match = _FENCE_RE.match(line)
        if fence is None:
            if match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
                fence = match.group(1)
            else:
                kept.append(line)
        elif (
            match
            and match.group(1)[0] == fence[0]
            and len(match.group(1)) >= len(fence)
            and not match.group(2).strip()
        ):
            fence = None
    return _INLINE_CODE_RE.sub(" ", "\n".join(kept))


def find_mentions(text: str, usernames: Iterable[str]) -> list[str]:
    """Known usernames (and ``all``) mentioned in ``text``, in order."""
    known = {name.lower(): name for name in usernames} | {"all": "all"}
    found: list[str] = []
    for match in _MENTION_RE.finditer(_strip_code(text)):
        name = known.get(match.group(1).rstrip(".").lower())
        if name is not None and name not in found:
            found.append(name)
    return found


def find_references(text: str) -> list[str]:
    """Issue references (``#12``, ``group/project#12``, ``.../-/issues/12``)."""
    return [m.group(0) for m in _REFERENCE_RE.finditer(_strip_code(text))]


# --------------------------------------------------------------------------
# Internal plumbing
# --------------------------------------------------------------------------


class _HttpError(Exception):
    def __init__(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.payload = payload
        self.headers = headers or {}


@dataclass
class _Resp:
    status: int
    payload: Any = None  # None -> empty body
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # verbatim body, overrides payload


@dataclass
class _Wire:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class _Fault:
    method: str
    path_regex: str
    kind: str  # "fail" | "drop"
    remaining: int
    status: int = 500
    retry_after: int | None = None
    body: str | None = None
    after_commit: bool = False
    skip: int = 0  # matching requests let through before the fault fires

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and re.search(self.path_regex, path) is not None


@dataclass
class _Req:
    path: str
    query: dict[str, list[str]]
    body: Json
    params: dict[str, str]
    files: dict[str, tuple[str, bytes]]

    def value(self, name: str) -> Any:
        """A parameter from the body, else from the query string (Grape merges them)."""
        for key in (name, f"{name}[]"):
            if self.body.get(key) is not None:
                return self.body[key]
        for key in (name, f"{name}[]"):
            values = self.query.get(key)
            if values:
                return values if key.endswith("[]") or len(values) > 1 else values[0]
        return None

    def required(self, name: str) -> Any:
        value = self.value(name)
        if value is None:
            raise _HttpError(400, {"error": f"{name} is missing"})
        return value


@dataclass
class _Changes:
    """A declarative change to an issue (from request params or quick actions)."""

    labels: list[str] | None = None  # replace all
    add_labels: list[str] = field(default_factory=list)
    remove_labels: list[str] = field(default_factory=list)
    create_labels: bool = False
    title: str | None = None
    state_event: str | None = None
    assignee_ids: list[int] | None = None  # replace all
    add_assignees: list[int] = field(default_factory=list)
    remove_assignees: list[int] = field(default_factory=list)


Handler = Callable[[_Req], _Resp]


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return list(dict.fromkeys(s for s in (str(i).strip() for i in items) if s))


def _as_ints(value: Any) -> list[int]:
    try:
        return [int(v) for v in _as_list(value)]
    except ValueError as exc:
        raise _HttpError(400, {"error": "invalid integer list"}) from exc


def _as_bool(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1", "yes")


def _as_int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _parse_time(value: str, name: str = "time") -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _HttpError(400, {"error": f"{name} is invalid"}) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text_color(color: str) -> str:
    match = _HEX_COLOR_RE.fullmatch(color)
    if not match:
        return "#FFFFFF"
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    total = sum(int(digits[i : i + 2], 16) for i in (0, 2, 4))
    return "#1F1E24" if total > 500 else "#FFFFFF"


def _public(obj: Json, hidden: Iterable[str] = ()) -> Json:
    skip = set(hidden)
    return {k: v for k, v in obj.items() if not k.startswith("_") and k not in skip}


def _header_param(header: str, name: str) -> str | None:
    match = re.search(rf'(?<![\w*]){name}=(?:"((?:[^"\\]|\\.)*)"|([^;]*))', header)
    if not match:
        return None
    return match.group(1) if match.group(1) is not None else match.group(2).strip()


def _parse_multipart(content_type: str, raw: bytes) -> tuple[Json, dict[str, tuple[str, bytes]]]:
    boundary = _header_param(content_type, "boundary")
    if not boundary:
        raise _HttpError(400, {"error": "multipart boundary missing"})
    fields: Json = {}
    files: dict[str, tuple[str, bytes]] = {}
    for chunk in raw.split(b"--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            continue
        content = content.removesuffix(b"\r\n")
        disposition = next(
            (
                line
                for line in head.decode("utf-8", "replace").split("\r\n")
                if line.lower().startswith("content-disposition")
            ),
            "",
        )
        name = _header_param(disposition, "name") or ""
        filename = _header_param(disposition, "filename")
        if filename is not None:
            files[name] = (filename, content)
        else:
            fields[name] = content.decode("utf-8", "replace")
    return fields, files


def _parse_body(content_type: str, raw: bytes) -> tuple[Json, dict[str, tuple[str, bytes]], Any]:
    """Return (params, files, what to log as ``json``)."""
    kind = content_type.split(";")[0].strip().lower()
    if not raw:
        return {}, {}, None
    if kind == "multipart/form-data":
        fields, files = _parse_multipart(content_type, raw)
        return fields, files, fields or None
    if kind == "application/x-www-form-urlencoded":
        form: Json = {}
        for key, values in parse_qs(raw.decode(), keep_blank_values=True).items():
            form[key] = values if key.endswith("[]") or len(values) > 1 else values[0]
        return form, {}, form
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise _HttpError(400, {"error": "400 Bad request - invalid JSON body"}) from exc
    _check_json_limits(data)
    return (data if isinstance(data, dict) else {}), {}, data


# Gitlab::Middleware::JsonValidation's default limits for a JSON request body
# (lib/gitlab/middleware/json_validation.rb, DEFAULT_LIMITS; answered 400 `{"error": ...}`;
# no byte limit by default, `max_json_size_bytes: 0`)
JSON_MAX_DEPTH = 32
JSON_MAX_ITEMS = 50_000  # max_array_size and max_hash_size
JSON_MAX_ELEMENTS = 100_000  # max_total_elements


def _check_json_limits(data: Any) -> None:
    """400 for a body over GitLab's JSON limits: nesting, items of one array or object, and
    elements in all (a base64 string is one element, whatever its size)."""
    elements = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if not isinstance(value, (dict, list)):
            continue
        if depth > JSON_MAX_DEPTH:
            raise _HttpError(400, {"error": f"JSON body too deep (over {JSON_MAX_DEPTH})"})
        if len(value) > JSON_MAX_ITEMS:
            raise _HttpError(400, {"error": f"JSON array or hash over {JSON_MAX_ITEMS} items"})
        elements += len(value)
        if elements > JSON_MAX_ELEMENTS:
            raise _HttpError(400, {"error": f"JSON body over {JSON_MAX_ELEMENTS} elements"})
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children)


# --------------------------------------------------------------------------
# The fake server
# --------------------------------------------------------------------------


PIPELINES_PER_MINUTE = 25  # GitLab.com: pipeline creations per project, user and commit
# A token GitLab refuses: every request answers 401 with this body (lib/api/api_guard.rb,
# oauth2_bearer_token_error_handler, for Gitlab::Auth::ExpiredError and RevokedError, raised by
# lib/gitlab/auth/auth_finders.rb validate_and_save_access_token!). A PAT is expired from the
# first moment of its `expires_at` date (app/models/concerns/expirable.rb: `expires_at <=
# Time.current`). Issue 19 quotes "Token has expired." (older wording); tests cover both.
EXPIRED_TOKEN_BODY = {
    "error": "invalid_token",
    "error_description": "Token is expired. You can either do re-authorization or token refresh.",
}
REVOKED_TOKEN_BODY = {
    "error": "invalid_token",
    "error_description": "Token was revoked. You have to re-authorize from the user.",
}
# The triggers a hook test takes (ProjectHook.triggers, lib/api/hooks/trigger_test.rb)
HOOK_TEST_TRIGGERS = frozenset(
    (
        "push_events",
        "tag_push_events",
        "issues_events",
        "confidential_issues_events",
        "note_events",
        "confidential_note_events",
        "merge_requests_events",
        "job_events",
        "pipeline_events",
        "wiki_page_events",
        "releases_events",
        "emoji_events",
        "resource_access_token_events",
    )
)
HOOK_PAUSED_AFTER = 4  # consecutive failed deliveries: temporarily disabled
HOOK_DISABLED_AFTER = 40  # ... and for good


@dataclass(frozen=True)
class IssueHookEvent:
    iid: int
    actor: str  # username of whoever made the change
    action: str  # "open", "update", "close" or "reopen"
    at: datetime
    confidential: bool = False  # event_type "confidential_issue": confidential hooks only


class FakeGitLab:
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
        self._thread: threading.Thread | None = None
        self._faults: list[_Fault] = []
        self._ids: dict[str, int] = {"issue": 70000, "note": 90000, "label": 300}
        self._last_time = datetime(2000, 1, 1, tzinfo=UTC)

        self.project: Json = {
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
        self.users: dict[int, Json] = {
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
        self.issues: dict[int, Json] = {}
        self.labels: dict[str, Json] = {}
        self.notes: dict[int, list[Json]] = {}
        self.uploads: list[Json] = []
        self.todos: list[Json] = []
        self.label_events: dict[int, list[Json]] = {}
        self.boards: list[Json] = []
        self.triggers: list[Json] = []
        self.hooks: list[Json] = []
        self.schedules: list[Json] = []
        self.requests: list[LoggedRequest] = []
        self.executed_quick_actions: list[tuple[int, str]] = []
        self._init_pipelines()
        # Issue Hook events GitLab would deliver: one per issue create and per update that
        # changed something (labels, text, state, assignees); notes fire Note Hooks only
        # (app/services/issues/base_service.rb#execute_hooks, via Issues::UpdateService).
        self.issue_hook_events: list[IssueHookEvent] = []
        self.pipeline_creations: list[datetime] = []  # by the webhook's deliveries
        self.lost_deliveries = 0  # refused (429) or not made (disabled)
        # deliveries made to hooks: (hook id, event_type, iid); a test delivery's iid is 0
        self.deliveries: list[tuple[int, str, int]] = []
        # Events of confidential issues: they reach only hooks with confidential_issues_events
        self.confidential_issue_events: list[IssueHookEvent] = []
        self._init_tokens()
        self._routes = self._build_routes()

    # ------------------------------------------------------------ lifecycle
    def start(self) -> FakeGitLab:
        if self._thread is None:  # stop() waits up to one poll: 10 ms, not 50, per test
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
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

    # ------------------------------------------------------- test helpers
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

    def add_label(self, name: str, color: str = DEFAULT_LABEL_COLOR, description: str = "") -> Json:
        with self.lock:
            return self._ensure_label(name, color, description)

    def add_issue(
        self,
        title: str,
        description: str = "",
        labels: Sequence[str] = (),
        state: str = "opened",
        author_id: int = 1,
    ) -> Json:
        """Seed an issue directly (no request log, quick actions or label events)."""
        with self.lock:
            issue = self._new_issue(title, description, author_id)
            issue["labels"] = sorted({self._ensure_label(n)["name"] for n in labels})
            if state == "closed":
                issue.update(state="closed", closed_at=issue["created_at"])
            self.issues[issue["iid"]] = issue
            return issue

    # -------------------------------------------------------- HTTP entry
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
                    else json.dumps(self._current_users(resp.payload)).encode()
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
            match = pattern.fullmatch(path)
            if match and route_method == method:
                params = {k: unquote(v) for k, v in match.groupdict().items()}
                if "pid" in params and params["pid"] not in self._project_ids():
                    raise _HttpError(404, {"message": "404 Project Not Found"})
                return handler, params
        raise _HttpError(404, {"message": "404 Not Found"})

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], Handler]]:
        p = "/projects/(?P<pid>[^/]+)"
        issue = p + r"/issues/(?P<iid>\d+)"
        label = p + "/labels/(?P<label>[^/]+)"
        variables = p + r"/pipeline_schedules/(?P<sid>\d+)/variables"
        table: list[tuple[str, str, Handler]] = [
            (
                "GET",
                "/version",
                lambda r: _Resp(200, {"version": self.version, "revision": "fake"}),
            ),
            ("GET", "/user", lambda r: _Resp(200, self._user(self.acting_user_id))),
            ("GET", "/personal_access_tokens/self", self._token_self),
            ("POST", "/personal_access_tokens/self/rotate", self._rotate_token),
            ("GET", p + "/variables/(?P<key>[^/]+)", self._get_variable),
            ("PUT", p + "/variables/(?P<key>[^/]+)", self._put_variable),
            ("POST", p + r"/hooks/(?P<hook_id>\d+)/test/(?P<trigger>[a-z_]+)", self._test_hook),
            ("GET", "/users", self._list_users),
            ("GET", r"/users/(?P<uid>\d+)", lambda r: _Resp(200, self._user(int(r.params["uid"])))),
            ("GET", p, lambda r: _Resp(200, self._project_view())),
            ("GET", p + "/labels", self._list_labels),
            ("POST", p + "/labels", self._create_label),
            ("PUT", p + "/labels", self._update_label),
            ("DELETE", p + "/labels", self._delete_label),
            ("GET", label, lambda r: _Resp(200, self._label_view(self._find_label(r)))),
            ("PUT", label, self._update_label),
            ("DELETE", label, self._delete_label),
            ("GET", p + "/issues", self._list_issues),
            ("POST", p + "/issues", self._create_issue),
            ("GET", issue, lambda r: _Resp(200, self._issue_view(self._issue(r), r))),
            ("PUT", issue, self._update_issue),
            ("POST", issue + "/move", self._move_issue),
            ("DELETE", issue, self._delete_issue),
            ("GET", issue + "/notes", self._list_notes),
            ("POST", issue + "/notes", self._create_note),
            ("GET", issue + r"/notes/(?P<note_id>\d+)", lambda r: _Resp(200, dict(self._note(r)))),
            ("PUT", issue + r"/notes/(?P<note_id>\d+)", self._update_note),
            (
                "GET",
                issue + "/resource_label_events",
                lambda r: self._paginate(
                    r,
                    [
                        self._label_event_view(e)
                        for e in self.label_events.get(self._issue(r)["iid"], [])
                    ],
                ),
            ),
            ("POST", issue + "/todo", self._create_todo),
            ("POST", p + "/uploads", self._upload),
            ("GET", "/todos", self._list_todos),
            ("POST", r"/todos/(?P<todo_id>\d+)/mark_as_done", self._mark_todo_done),
            ("POST", "/todos/mark_as_done", self._mark_all_todos_done),
            (
                "GET",
                p + r"/boards/(?P<bid>\d+)/lists",
                lambda r: self._paginate(r, self._item("boards", r.params["bid"])["lists"]),
            ),
            ("POST", p + r"/boards/(?P<bid>\d+)/lists", self._create_board_list),
            ("POST", variables, self._create_variable),
            ("PUT", variables + "/(?P<key>[^/]+)", self._update_variable),
            ("DELETE", variables + "/(?P<key>[^/]+)", self._delete_variable),
        ]
        table += self._pipeline_routes(p)
        for kind, segment in [
            ("boards", "boards"),
            ("triggers", "triggers"),
            ("hooks", "hooks"),
            ("schedules", "pipeline_schedules"),
        ]:
            table += self._collection_routes(kind, f"{p}/{segment}")
        return [(m, re.compile("/api/v4" + rx), h) for m, rx, h in table]

    # ------------------------------------------------------------ helpers
    def _next_id(self, kind: str) -> int:
        self._ids[kind] = self._ids.get(kind, 0) + 1
        return self._ids[kind]

    def _now(self) -> str:
        """Strictly increasing UTC timestamps with millisecond precision."""
        now = datetime.now(UTC)
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

    def _current_users(self, payload: Any) -> Any:
        """Every user in an answer as the user is now: GitLab stores the user's id and
        renders the entity (UserBasic) from the current record, so a renamed user shows the
        new name on every old note, issue and label event (a username is the user's to
        change: doc/user/profile/_index.md, "Change your username")."""
        if isinstance(payload, list):
            return [self._current_users(item) for item in payload]
        if not isinstance(payload, dict):
            return payload
        out = {k: self._current_users(v) for k, v in payload.items()}
        uid = out.get("id")
        if "username" in out and isinstance(uid, int) and uid in self.users:
            now = self.users[uid]
            out.update({k: now[k] for k in ("username", "name", "web_url") if k in out})
        return out

    def rename_user(self, uid: int, username: str) -> None:
        """User `uid` changes their username (Settings > Account; no project role needed).
        The old name is free at once for anyone to take (gitlab-foss MR 17521: no
        permanent redirect reserves it; issue gitlab-foss#44925); a taken one is refused
        (User validates the username's uniqueness, case-insensitively)."""
        with self.lock:
            if any(
                u["username"].lower() == username.lower() and i != uid
                for i, u in self.users.items()
            ):
                raise ValueError(f"username {username!r} has already been taken")
            user = self.users[uid]
            user.update(username=username, web_url=f"{self.url}/{username}")

    def _paginate(self, req: _Req, items: Sequence[Any]) -> _Resp:
        per_page = _as_int(req.value("per_page"), 20)
        per_page = 20 if per_page < 1 else min(per_page, 100)
        page = max(_as_int(req.value("page"), 1), 1)
        total = len(items)
        pages = max(1, math.ceil(total / per_page))
        chunk = list(items[(page - 1) * per_page : page * per_page])

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

    # ------------------------------------------------------------- users
    def _list_users(self, req: _Req) -> _Resp:
        users = list(self.users.values())
        if (username := req.value("username")) is not None:
            users = [u for u in users if u["username"].lower() == str(username).lower()]
        if (search := req.value("search")) is not None:
            needle = str(search).lower()
            users = [
                u for u in users if needle in u["username"].lower() or needle in u["name"].lower()
            ]
        return self._paginate(req, users)

    # ------------------------------------------------------------ labels
    def _ensure_label(
        self, name: str, color: str = DEFAULT_LABEL_COLOR, description: str = ""
    ) -> Json:
        if name not in self.labels:
            self.labels[name] = {
                "id": self._next_id("label"),
                "name": name,
                "color": color,
                "description": description or None,
                "description_html": "",
                "text_color": _text_color(color),
                "priority": None,
                "is_project_label": True,
                "subscribed": False,
            }
        return self.labels[name]

    def _label_view(self, label: Json, with_counts: bool = False) -> Json:
        view = _public(label)
        if with_counts:
            tagged = [i for i in self.issues.values() if label["name"] in i["labels"]]
            view["open_issues_count"] = sum(1 for i in tagged if i["state"] == "opened")
            view["closed_issues_count"] = sum(1 for i in tagged if i["state"] == "closed")
            view["open_merge_requests_count"] = 0
        return view

    def _find_label(self, req: _Req) -> Json:
        """By id first, then by title, as GitLab does (`labels.find_by_id(id_or_title) ||
        labels.find_by_title(id_or_title)`: gitlabhq lib/api/helpers/label_helpers.rb)."""
        key = req.params.get("label") or str(req.value("name") or "")
        label = None
        if key.isdigit():
            label = next((lb for lb in self.labels.values() if lb["id"] == int(key)), None)
        label = label or self.labels.get(key)
        if label is None:
            raise _HttpError(404, {"message": "404 Label Not Found"})
        return label

    @staticmethod
    def _validate_label(name: str | None, color: str | None) -> None:
        if name is not None and (not name.strip() or "," in name or len(name) > 255):
            raise _HttpError(400, {"message": {"title": ["is invalid"]}})
        if color is not None and not (_HEX_COLOR_RE.fullmatch(color) or color.isalpha()):
            raise _HttpError(400, {"message": {"color": ["must be a valid color code"]}})

    def _list_labels(self, req: _Req) -> _Resp:
        labels = sorted(self.labels.values(), key=lambda lb: str(lb["name"]))
        if (search := req.value("search")) is not None:
            needle = str(search).lower()
            labels = [
                lb for lb in labels if needle in f"{lb['name']}\n{lb['description'] or ''}".lower()
            ]
        with_counts = _as_bool(req.value("with_counts"))
        return self._paginate(req, [self._label_view(lb, with_counts) for lb in labels])

    def _create_label(self, req: _Req) -> _Resp:
        name, color = str(req.required("name")).strip(), str(req.required("color"))
        self._validate_label(name, color)
        if name in self.labels:
            raise _HttpError(409, {"message": "Label already exists"})
        label = self._ensure_label(name, color, str(req.value("description") or ""))
        if req.value("priority") is not None:
            label["priority"] = _as_int(req.value("priority"), 0)
        return _Resp(201, self._label_view(label))

    def _update_label(self, req: _Req) -> _Resp:
        label = self._find_label(req)
        new_name, color = req.value("new_name"), req.value("color")
        description = req.value("description")
        if new_name is None and color is None and description is None:
            raise _HttpError(
                400,
                {
                    "error": "new_name, color, description are missing, "
                    "at least one parameter must be provided"
                },
            )
        self._validate_label(new_name, color)
        if color is not None:
            label.update(color=str(color), text_color=_text_color(str(color)))
        if description is not None:
            label["description"] = str(description) or None
        if new_name is not None and new_name != label["name"]:
            self._rename_label(label, str(new_name))
        return _Resp(200, self._label_view(label))

    def _rename_label(self, label: Json, new_name: str) -> None:
        """A rename changes the label only (Labels::UpdateService: `label.update(params)`,
        new_name becoming its title; gitlabhq app/services/labels/update_service.rb): issues
        and board lists link labels by id, so they show the new name at once, with no label
        event, no issue update and no Issue Hook; the label's old events show it by the new
        name too (`_label_event_view`). A Reporter may do it (admin_label)."""
        if new_name in self.labels:
            raise _HttpError(400, {"message": {"title": ["has already been taken"]}})
        old = label["name"]
        label["name"] = new_name
        self.labels[new_name] = self.labels.pop(old)
        for issue in self.issues.values():
            if old in issue["labels"]:
                issue["labels"] = sorted(new_name if n == old else n for n in issue["labels"])
        for board in self.boards:
            for bl in board["lists"]:
                if bl["label"]["id"] == label["id"]:
                    bl["label"] = self._label_view(label)

    def _delete_label(self, req: _Req) -> _Resp:
        label = self.labels.pop(self._find_label(req)["name"])
        for issue in self.issues.values():
            if label["name"] in issue["labels"]:
                issue["labels"] = [n for n in issue["labels"] if n != label["name"]]
        return _Resp(204)

    # ------------------------------------------------------------ issues
    def _new_issue(self, title: str, description: str | None, author_id: int) -> Json:
        iid = max(self.issues, default=0) + 1
        now = self._now()
        return {
            "id": self._next_id("issue"),
            "iid": iid,
            "project_id": self.project_id,
            "title": title,
            "description": description,
            "state": "opened",
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
            "closed_by": None,
            "labels": [],
            "milestone": None,
            "assignees": [],
            "assignee": None,
            "author": self._user(author_id),
            "type": "ISSUE",
            "issue_type": "issue",
            "user_notes_count": 0,
            "merge_requests_count": 0,
            "upvotes": 0,
            "downvotes": 0,
            "due_date": None,
            "confidential": False,
            "discussion_locked": None,
            "moved_to_id": None,
            "web_url": f"{self.project['web_url']}/-/issues/{iid}",
            "references": {
                "short": f"#{iid}",
                "relative": f"#{iid}",
                "full": f"{PROJECT_PATH}#{iid}",
            },
            "_mentions": [],
            "_references": [],
        }

    def _issue(self, req: _Req) -> Json:
        issue = self.issues.get(int(req.params["iid"]))
        if issue is None:
            raise _HttpError(404, {"message": "404 Issue Not Found"})
        return issue

    def _issue_view(self, issue: Json, req: _Req | None = None) -> Json:
        view = _public(issue)
        view["labels"] = sorted(issue["labels"])
        view["user_notes_count"] = len(
            [n for n in self.notes.get(issue["iid"], []) if not n["system"]]
        )  # GitLab: no system notes
        if req is not None and _as_bool(req.value("with_labels_details")):
            view["labels"] = [
                self._label_view(self.labels[n]) for n in view["labels"] if n in self.labels
            ]
        return view

    def _param_changes(self, req: _Req) -> _Changes:
        changes = _Changes(create_labels=True)
        if req.value("labels") is not None:
            changes.labels = _as_list(req.value("labels"))
        changes.add_labels = _as_list(req.value("add_labels"))
        changes.remove_labels = _as_list(req.value("remove_labels"))
        for name in (changes.labels or []) + changes.add_labels:
            self._validate_label(name, None)
        if req.value("title") is not None:
            changes.title = str(req.value("title"))
        if (event := req.value("state_event")) is not None:
            if event not in ("close", "reopen"):
                raise _HttpError(400, {"error": "state_event does not have a valid value"})
            changes.state_event = str(event)
        if req.value("assignee_ids") is not None:
            changes.assignee_ids = _as_ints(req.value("assignee_ids"))
        elif req.value("assignee_id") is not None:
            changes.assignee_ids = _as_ints(req.value("assignee_id"))
        return changes

    @staticmethod
    def _validate_text(title: str, description: str | None) -> None:
        if not title.strip():
            raise _HttpError(400, {"message": {"title": ["can't be blank"]}})
        if len(title) > MAX_TITLE_LENGTH:
            raise _HttpError(
                400,
                {"message": {"title": [f"is too long (maximum is {MAX_TITLE_LENGTH} characters)"]}},
            )
        if description is not None and len(description.encode()) > MAX_DESCRIPTION_LENGTH:
            raise _HttpError(400, {"message": {"description": [_too_long(description)]}})

    def _create_issue(self, req: _Req) -> _Resp:
        title = str(req.required("title"))
        issue = self._new_issue(title, None, self.acting_user_id)
        commands: list[tuple[str, str, str]] = []
        if req.value("description") is not None:
            issue["description"], commands = extract_quick_actions(str(req.value("description")))
        params = self._param_changes(req)
        quick, _, _ = self._interpret(commands, persisted=False)
        self._validate_text(title, issue["description"])
        self.issues[issue["iid"]] = issue
        self._apply(issue, params, quick)
        self._after_text_change(issue, commands, issue["title"], issue["description"] or "")
        for assignee in issue.get("assignees") or []:  # GitLab: assignees get a to-do,
            if assignee["id"] != self.acting_user_id:  # except who assigned themselves
                self._add_todo(issue, assignee["id"], "assigned")
        issue["updated_at"] = issue["created_at"]
        self._set_confidential(issue, req)
        self._issue_hook(issue, "open")
        return _Resp(201, self._issue_view(issue))

    # ---- confidential issues (helper "channels": the run-log issue is one) ----
    def _set_confidential(self, issue: Json, req: _Req) -> None:
        """POST /issues takes `confidential` (doc/api/issues.md, "New issue")."""
        if req.value("confidential") is not None:
            issue["confidential"] = _as_bool(req.value("confidential"))

    def _update_issue(self, req: _Req) -> _Resp:
        issue = self._issue(req)
        if all(req.value(key) is None for key in ISSUE_UPDATE_PARAMS):
            raise _HttpError(
                400,
                {
                    "error": ", ".join(ISSUE_UPDATE_PARAMS) + " are missing, "
                    "at least one parameter must be provided"
                },
            )
        params = self._param_changes(req)
        description: str | None = None
        commands: list[tuple[str, str, str]] = []
        raw = req.value("description")
        if raw is not None and str(raw) != issue["description"]:
            description, commands = extract_quick_actions(str(raw))
        quick, _, _ = self._interpret(commands)
        new_title = quick.title or params.title or issue["title"]
        self._validate_text(new_title, description)
        old_title, old_state = issue["title"], issue["state"]
        changed = self._apply(issue, params, quick)
        was_confidential = bool(issue.get("confidential"))
        self._set_confidential(issue, req)  # PUT takes it too (lib/api/issues.rb issue_params)
        changed |= bool(issue.get("confidential")) != was_confidential
        if description is not None and description != issue["description"]:
            issue["description"] = description
            changed = True
            self._description_system_note(issue)
        if req.value("confidential") is not None:  # PUT /issues/:iid takes it (doc/api/issues.md)
            confidential = _as_bool(req.value("confidential"))
            changed |= confidential != bool(issue.get("confidential"))
            issue["confidential"] = confidential
        scanned = issue["title"] if issue["title"] != old_title else ""
        self._after_text_change(issue, commands, scanned, description or "")
        if changed:
            issue["updated_at"] = self._now()
            # Closing or reopening is one Issue Hook event whose action says so, `close` or
            # `reopen`, with `state_id` in its changes (gitlabhq spec/support/shared_examples/
            # services/issuable/issuable_update_service_shared_examples.rb, "executes
            # hooks"; app/services/issues/close_service.rb, `execute_hooks(issue, 'close')`)
            moved = issue["state"] != old_state
            action = ("close" if issue["state"] == "closed" else "reopen") if moved else "update"
            self._issue_hook(issue, action)
        return _Resp(200, self._issue_view(issue))

    def _apply(self, issue: Json, *changesets: _Changes) -> bool:
        """Apply changes (labels: replace, then add, then remove); record label events."""
        old_labels = list(issue["labels"])
        labels = list(old_labels)
        changed = False
        for ch in changesets:
            if ch.create_labels:
                for name in (ch.labels or []) + ch.add_labels:
                    self._ensure_label(name)
            if ch.labels is not None:
                labels = list(ch.labels)
            labels += [n for n in ch.add_labels if n not in labels]
            labels = [n for n in labels if n not in ch.remove_labels]
            if ch.title is not None and ch.title != issue["title"]:
                issue["title"], changed = ch.title, True
            if ch.state_event is not None:
                changed |= self._set_state(issue, ch.state_event)
            ids = [u["id"] for u in issue["assignees"]]
            new_ids = ch.assignee_ids if ch.assignee_ids is not None else ids
            new_ids = [
                i
                for i in dict.fromkeys(new_ids + ch.add_assignees)
                if i in self.users and i not in ch.remove_assignees
            ]
            if new_ids != ids:
                issue["assignees"] = [self._user(i) for i in new_ids]
                issue["assignee"] = issue["assignees"][0] if new_ids else None
                changed = True
        new_labels = sorted(set(labels))
        for name in (n for n in new_labels if n not in old_labels):
            self._label_event(issue, name, "add")
        for name in (n for n in old_labels if n not in new_labels):
            self._label_event(issue, name, "remove")
        issue["labels"] = new_labels
        return changed or new_labels != sorted(old_labels)

    def _issue_hook(self, issue: Json, action: str) -> None:
        """An issue's event goes to the hooks of one scope: a confidential issue's to those
        with `confidential_issues_events` (hooks_scope :confidential_issue_hooks, event_type
        "confidential_issue"), any other to those with `issues_events` (app/services/issues/
        base_service.rb#execute_hooks; Gitlab::HookData::IssueBuilder for the event_type)."""
        confidential = bool(issue.get("confidential"))
        scope = "confidential_issues_events" if confidential else "issues_events"
        kind = "confidential_issue" if confidential else "issue"
        actor = self._user(self.acting_user_id)["username"]
        at = datetime.now(UTC)
        event = IssueHookEvent(issue["iid"], actor, action, at, confidential)
        (self.confidential_issue_events if confidential else self.issue_hook_events).append(event)
        for hook in self.hooks:
            wanted = hook.get(scope) and "/trigger/pipeline" in str(hook["url"])
            if wanted and self._deliver(hook, at):
                self.deliveries.append((int(hook["id"]), kind, int(issue["iid"])))

    def _test_hook(self, req: _Req) -> _Resp:
        """POST /projects/:id/hooks/:hook_id/test/:trigger (lib/api/hooks/trigger_test.rb):
        sends sample data of the trigger's kind even to a disabled hook
        (app/services/test_hooks/base_service.rb: `hook.execute(data, trigger_key, force:
        true)`); a 2xx answer re-enables it (app/services/web_hooks/log_execution_service.rb:
        `hook.enable!` on :ok, app/models/concerns/web_hooks/auto_disabling.rb). 201 when the
        receiver answered 2xx, else 422. Issue events need an issue to show
        (TestHooks::ProjectService#issues_events_data). Updating a hook (PUT) does NOT
        re-enable it: lib/api/helpers/web_hooks_helpers.rb saves it and nothing else."""
        hook = self._item("hooks", req.params["hook_id"])
        trigger = req.params["trigger"]
        if trigger not in HOOK_TEST_TRIGGERS:
            raise _HttpError(400, {"error": "trigger does not have a valid value"})
        if trigger in ("issues_events", "confidential_issues_events") and not self.issues:
            raise _HttpError(422, {"message": "Ensure the project has issues."})
        at = datetime.now(UTC)
        if "/trigger/pipeline" in str(hook["url"]) and self._deliver(hook, at, force=True):
            self.deliveries.append((int(hook["id"]), f"test:{trigger}", 0))
            return _Resp(201, {"message": "201 Created"})
        raise _HttpError(422, {"message": "Hook execution failed"})

    # ---- webhook deliveries to the trigger URL (issue 11) ----
    def _deliver(self, hook: Json, at: datetime, *, force: bool = False) -> bool:
        """One Issue Hook delivery to a trigger URL: a pipeline, unless GitLab.com's
        pipeline-creation limit refuses it (429, a failed delivery). Failed deliveries
        disable the hook: for a while after 4 in a row, for good after 40, with the back-off
        doubling from one minute (gitlab MR 166329, app/models/concerns/web_hooks/
        auto_disabling.rb). A delivery to a disabled hook is not made: the event is lost,
        unless `force` (a test delivery). True when a pipeline was created."""
        until = hook.get("disabled_until")
        if not force and (
            hook["alert_status"] == "disabled"
            or (
                hook["alert_status"] == "temporarily_disabled"
                and until
                and at < datetime.fromisoformat(str(until).replace("Z", "+00:00"))
            )
        ):
            self.lost_deliveries += 1
            return False
        recent = [t for t in self.pipeline_creations if (at - t).total_seconds() < 60]
        if len(recent) < PIPELINES_PER_MINUTE:
            self.pipeline_creations.append(at)
            hook.update(alert_status="executable", disabled_until=None, _failures=0)
            return True
        failures = int(hook.get("_failures") or 0) + 1
        hook["_failures"] = failures
        self.lost_deliveries += 1
        if failures >= HOOK_DISABLED_AFTER:
            hook.update(alert_status="disabled", disabled_until=None)
        elif failures >= HOOK_PAUSED_AFTER:
            backoff = timedelta(minutes=2 ** (failures - HOOK_PAUSED_AFTER))
            hook.update(
                alert_status="temporarily_disabled",
                disabled_until=(at + min(backoff, timedelta(days=1))).isoformat(),
            )
        return False

    def pipelines_per_minute(self) -> int:
        """The most Issue Hook events in any 60 s: each starts a pipeline when the webhook
        points at the trigger URL (GitLab.com allows 25 pipeline creations a minute)."""
        times = sorted(e.at for e in self.issue_hook_events)
        return max(
            (
                sum(1 for t in times[i:] if (t - start).total_seconds() < 60)
                for i, start in enumerate(times)
            ),
            default=0,
        )

    def _set_state(self, issue: Json, event: str) -> bool:
        if event == "close" and issue["state"] == "opened":
            issue.update(
                state="closed", closed_at=self._now(), closed_by=self._user(self.acting_user_id)
            )
            return True
        if event == "reopen" and issue["state"] == "closed":
            issue.update(state="opened", closed_at=None, closed_by=None)
            return True
        return False

    def _label_event_view(self, event: Json) -> Json:
        """A label event as GitLab answers it: the event belongs to the label (`belongs_to
        :label`, gitlabhq app/models/resource_label_event.rb) and the API shows that label as
        it is now (`expose :label, using: Entities::LabelBasic`, lib/api/entities/
        resource_label_event.rb): renamed, the old event shows the new name; deleted, the
        label_id is nullified and `label` is null."""
        view = dict(event)
        label_id = (event.get("label") or {}).get("id")
        current = next((lb for lb in self.labels.values() if lb["id"] == label_id), None)
        view["label"] = (
            {k: current[k] for k in ("id", "name", "color", "description")}
            if current is not None
            else (None if label_id is not None else event.get("label"))
        )
        return view

    def _label_event(self, issue: Json, name: str, action: str) -> None:
        label = self.labels.get(name) or {
            "id": None,
            "name": name,
            "color": None,
            "description": None,
        }
        user = self._user(self.acting_user_id)
        self.label_events.setdefault(issue["iid"], []).append(
            {
                "id": self._next_id("label_event"),
                "user": {k: user[k] for k in ("id", "username", "name", "avatar_url", "web_url")},
                "created_at": self._now(),
                "resource_type": "Issue",
                "resource_id": issue["id"],
                "label": {k: label[k] for k in ("id", "name", "color", "description")},
                "action": action,
            }
        )

    def _after_text_change(
        self, issue: Json, commands: list[tuple[str, str, str]], *texts: str
    ) -> None:
        """Record executed quick actions, mentions, references and mention to-dos."""
        self.executed_quick_actions += [(issue["iid"], line) for _, _, line in commands]
        usernames = [u["username"] for u in self.users.values()]
        for text in texts:
            mentioned = find_mentions(text, usernames)
            known, refs = issue.setdefault("_mentions", []), issue.setdefault("_references", [])
            known += [m for m in mentioned if m not in known]
            refs += [r for r in find_references(text) if r not in refs]
            for name in mentioned:
                user = self._user_by_name(name) if name != "all" else None
                if user is not None and user["id"] != self.acting_user_id:
                    self._add_todo(issue, user["id"], "mentioned")

    def _filter_issues(self, issues: list[Json], req: _Req) -> list[Json]:
        """The list filters other than time: state, labels, search, iids, people."""
        state = str(req.value("state") or "all")
        if state != "all":
            issues = [i for i in issues if i["state"] == state]
        wanted = _as_list(req.value("labels"))
        if wanted == ["None"]:
            issues = [i for i in issues if not i["labels"]]
        elif wanted == ["Any"]:
            issues = [i for i in issues if i["labels"]]
        elif wanted:
            issues = [i for i in issues if all(n in i["labels"] for n in wanted)]
        if (search := req.value("search")) is not None:
            issues = self._search_issues(issues, str(search), _as_list(req.value("in")))
        if (iids := req.value("iids")) is not None:
            issues = [i for i in issues if i["iid"] in _as_ints(iids)]
        if (author := req.value("author_id")) is not None:
            # by_author narrows the same relation as by_search (app/finders/
            # issuable_finder.rb, filter_items): author_id and search combine
            issues = [i for i in issues if i["author"]["id"] == _as_int(author, -1)]
        if (confidential := req.value("confidential")) is not None:
            # IssuesFinder#by_confidential (app/finders/issues_finder.rb); the API's
            # `confidential` Boolean (lib/api/issues.rb, issues_params)
            issues = [i for i in issues if bool(i.get("confidential")) == _as_bool(confidential)]
        if (assignee := req.value("assignee_id")) is not None:
            issues = [
                i for i in issues if _as_int(assignee, -1) in [u["id"] for u in i["assignees"]]
            ]
        return issues

    def _list_issues(self, req: _Req) -> _Resp:
        issues = self._filter_issues(list(self.issues.values()), req)
        for key, compare in [
            ("updated_after", operator.ge),
            ("updated_before", operator.le),
            ("created_after", operator.ge),
            ("created_before", operator.le),
        ]:
            if (value := req.value(key)) is not None:
                limit, attr = _parse_time(str(value), key), key.split("_")[0] + "_at"
                issues = [i for i in issues if compare(_parse_time(i[attr]), limit)]
        order_by = "updated_at" if req.value("order_by") == "updated_at" else "created_at"
        issues.sort(
            key=lambda i: (_parse_time(i[order_by]), i["id"]), reverse=req.value("sort") != "asc"
        )
        return self._paginate(req, [self._issue_view(i, req) for i in issues])

    # ------------------------------------------------------ quick actions
    def _find_labels(self, arg: str) -> list[str]:
        """Existing labels referenced by a quick-action argument."""
        if "~" in arg:
            found: list[str] = []
            for by_id, quoted, bare in _LABEL_REF_RE.findall(arg):
                if by_id:
                    found += [lb["name"] for lb in self.labels.values() if lb["id"] == int(by_id)]
                else:
                    found.append(quoted or bare.rstrip(".?"))
        else:
            found = [a or b for a, b in re.findall(r'"([^"]+)"|([^ ]+)', arg)]
        return [n for n in dict.fromkeys(found) if n in self.labels]

    def _find_users(self, arg: str) -> list[int]:
        users = (self._user_by_name(t) for t in re.split(r"[\s,]+", arg) if t)
        return [u["id"] for u in users if u is not None]

    def _interpret(
        self, commands: list[tuple[str, str, str]], *, persisted: bool = True
    ) -> tuple[_Changes, list[str], Json]:
        """Turn extracted commands into changes, a summary and ``commands_changes``.

        As in GitLab, every known command is stripped from the text, but only the
        applicable ones act: /close, /reopen, /title, /unlabel and /relabel need an
        existing issue, so they do nothing in the description of a new one.
        """
        ch = _Changes()
        summary: list[str] = []
        for name, arg, _ in commands:
            if not persisted and name in NEEDS_EXISTING_ISSUE:
                continue
            if name in ("label", "labels", "relabel", "unlabel", "remove_label"):
                said = self._label_command(ch, name, arg)
            else:
                said = self._issue_command(ch, name, arg)
            if said:
                summary.append(said)
        return ch, summary, self._commands_changes(ch)

    def _label_command(self, ch: _Changes, name: str, arg: str) -> str:
        """/label, /labels, /relabel, /unlabel, /remove_label: the change, and its summary."""
        if name in ("unlabel", "remove_label"):
            if arg:
                ch.remove_labels += self._find_labels(arg)
            else:
                ch.labels = []
            return "Removed label(s)."
        found = self._find_labels(arg)
        if name == "relabel":
            ch.labels = found
        else:
            ch.add_labels += found
        return f"Added {' '.join(f'~{n}' for n in found)} label(s)."

    def _issue_command(self, ch: _Changes, name: str, arg: str) -> str:
        """State, assignee and title commands; "" for those that change nothing here."""
        if name in ("close", "reopen", "open"):
            ch.state_event = "close" if name == "close" else "reopen"
            return "Closed this issue." if name == "close" else "Reopened this issue."
        if name in ("assign", "reassign"):
            ids = self._find_users(arg) if arg else [self.acting_user_id]
            if name == "reassign":
                ch.assignee_ids = ids
            else:
                ch.add_assignees += ids
            return "Assigned user(s)."
        if name == "unassign":
            if arg:
                ch.remove_assignees += self._find_users(arg)
            else:
                ch.assignee_ids = []
            return "Removed assignee(s)."
        if name == "title" and arg:
            ch.title = arg
            return f'Changed the title to "{arg}".'
        return ""

    def _commands_changes(self, ch: _Changes) -> Json:
        """The ``commands_changes`` GitLab reports for a commands-only note."""
        changes: Json = {}
        if ch.labels is not None:
            changes["label_ids"] = [self.labels[n]["id"] for n in ch.labels]
        if ch.add_labels:
            changes["add_label_ids"] = [self.labels[n]["id"] for n in ch.add_labels]
        if ch.remove_labels:
            changes["remove_label_ids"] = [self.labels[n]["id"] for n in ch.remove_labels]
        if ch.state_event is not None:
            changes["state_event"] = ch.state_event
        if ch.title is not None:
            changes["title"] = ch.title
        if ch.assignee_ids is not None or ch.add_assignees:
            changes["assignee_ids"] = (ch.assignee_ids or []) + ch.add_assignees
        return changes

    # ------------------------------------------------------------- notes
    def _note(self, req: _Req) -> Json:
        notes = self.notes.get(self._issue(req)["iid"], [])
        note = next((n for n in notes if n["id"] == int(req.params["note_id"])), None)
        if note is None:
            raise _HttpError(404, {"message": "404 Note Not Found"})
        return note

    def _check_note(self, text: str, commands: list[tuple[str, str, str]]) -> None:
        if not text and not commands:
            raise _HttpError(400, {"message": "400 Bad request - Note can't be blank"})
        if len(text) > MAX_NOTE_LENGTH:
            raise _HttpError(
                400,
                {
                    "message": "400 Bad request - Note is too long "
                    f"(maximum is {MAX_NOTE_LENGTH} characters)"
                },
            )

    def _list_notes(self, req: _Req) -> _Resp:
        notes = list(self.notes.get(self._issue(req)["iid"], []))
        # activity_filter: all_notes (default), only_comments, only_activity
        # (lib/api/notes.rb; UserPreference::NOTES_FILTERS, Note.with_notes_filter:
        # user notes only, system notes only); any other value is a 400 from Grape
        activity = str(req.value("activity_filter") or "all_notes")
        if activity not in ("all_notes", "only_comments", "only_activity"):
            raise _HttpError(400, {"error": "activity_filter does not have a valid value"})
        if activity != "all_notes":
            notes = [n for n in notes if n["system"] == (activity == "only_activity")]
        order_by = "updated_at" if req.value("order_by") == "updated_at" else "created_at"
        notes.sort(key=lambda n: (n[order_by], n["id"]), reverse=req.value("sort") != "asc")
        return self._paginate(req, notes)

    def _create_note(self, req: _Req) -> _Resp:
        issue = self._issue(req)
        text, commands = extract_quick_actions(str(req.required("body")))
        self._check_note(text, commands)
        quick, summary, changes = self._interpret(commands)
        changed = self._apply(issue, quick)
        self._after_text_change(issue, commands, text)
        if not text:
            if changed:
                issue["updated_at"] = self._now()
            return _Resp(202, {"commands_changes": changes, "summary": summary})
        now = self._now()
        note = {
            "id": self._next_id("note"),
            "type": None,
            "body": text,
            "attachment": None,
            "author": self._user(self.acting_user_id),
            "created_at": now,
            "updated_at": now,
            "system": False,
            "noteable_id": issue["id"],
            "noteable_type": "Issue",
            "project_id": self.project_id,
            "noteable_iid": issue["iid"],
            "resolvable": False,
            "confidential": False,
            "internal": False,
        }
        self.notes.setdefault(issue["iid"], []).append(note)
        issue["updated_at"] = now
        return _Resp(201, dict(note))

    def _update_note(self, req: _Req) -> _Resp:
        issue, note = self._issue(req), self._note(req)
        self._check_note_author(note)
        text, commands = extract_quick_actions(str(req.required("body")))
        self._check_note(text, commands)
        quick, _, _ = self._interpret(commands)
        self._apply(issue, quick)
        self._after_text_change(issue, commands, text)
        note.update(body=text, updated_at=self._now())
        return _Resp(200, dict(note))

    # ------------------------------------------------------------- to-dos
    def _add_todo(self, issue: Json, user_id: int, action: str) -> Json:
        now = self._now()
        todo: Json = {
            "id": self._next_id("todo"),
            "project": {
                k: self.project[k]
                for k in ("id", "name", "name_with_namespace", "path", "path_with_namespace")
            },
            "author": self._user(self.acting_user_id),
            "action_name": action,
            "target_type": "Issue",
            "target_url": issue["web_url"],
            "body": issue["title"],
            "state": "pending",
            "created_at": now,
            "updated_at": now,
            "_user_id": user_id,
            "_iid": issue["iid"],
        }
        self.todos.append(todo)
        return todo

    def _todo_view(self, todo: Json) -> Json:
        issue = self.issues.get(todo["_iid"])
        return {**_public(todo), "target": self._issue_view(issue) if issue else None}

    def _create_todo(self, req: _Req) -> _Resp:
        issue = self._issue(req)
        if any(
            t["_user_id"] == self.acting_user_id
            and t["_iid"] == issue["iid"]
            and t["state"] == "pending"
            for t in self.todos
        ):
            return _Resp(304)
        return _Resp(201, self._todo_view(self._add_todo(issue, self.acting_user_id, "marked")))

    def _list_todos(self, req: _Req) -> _Resp:
        state = str(req.value("state") or "pending")
        todos = [
            t
            for t in reversed(self.todos)
            if t["_user_id"] == self.acting_user_id
            and t["state"] == state
            and req.value("action") in (None, t["action_name"])
            and req.value("type") in (None, t["target_type"])
        ]
        return self._paginate(req, [self._todo_view(t) for t in todos])

    def _mark_todo_done(self, req: _Req) -> _Resp:
        todo = next(
            (
                t
                for t in self.todos
                if t["id"] == int(req.params["todo_id"]) and t["_user_id"] == self.acting_user_id
            ),
            None,
        )
        if todo is None:
            raise _HttpError(404, {"message": "404 Todo Not Found"})
        todo["state"] = "done"
        return _Resp(200, self._todo_view(todo))

    def _mark_all_todos_done(self, req: _Req) -> _Resp:
        for todo in self.todos:
            if todo["_user_id"] == self.acting_user_id:
                todo["state"] = "done"
        return _Resp(204)

    # ------------------------------------------------------------ uploads
    def _upload(self, req: _Req) -> _Resp:
        if "file" not in req.files:
            raise _HttpError(400, {"error": "file is missing"})
        original, content = req.files["file"]
        if len(content) > self.max_upload_bytes:
            raise _HttpError(413, {"message": "413 Request Entity Too Large"})
        filename = re.sub(r"[^\w.\-+]", "_", original, flags=re.ASCII) or "file"
        stem, _, ext = filename.rpartition(".")
        embeddable = bool(stem) and ext.lower() in EMBEDDABLE_EXTENSIONS
        alt = stem if embeddable else filename
        secret = secrets.token_hex(16)
        url = f"/uploads/{secret}/{filename}"
        markdown = f"[{alt.replace(']', chr(92) + ']')}]({url})"
        upload: Json = {
            "id": self._next_id("upload"),
            "alt": alt,
            "url": url,
            "full_path": f"/-/project/{self.project_id}/uploads/{secret}/{filename}",
            "markdown": ("!" if embeddable else "") + markdown,
        }
        self.uploads.append(
            {**upload, "filename": filename, "original_filename": original, "content": content}
        )
        return _Resp(201, upload)

    # -------------------------------- boards, triggers, hooks, schedules
    def _collection_routes(self, kind: str, base: str) -> list[tuple[str, str, Handler]]:
        one = base + r"/(?P<item_id>\d+)"
        return [
            (
                "GET",
                base,
                lambda r: self._paginate(
                    r, [self._item_view(kind, i, listing=True) for i in getattr(self, kind)]
                ),
            ),
            ("POST", base, lambda r: self._create_item(kind, r)),
            (
                "GET",
                one,
                lambda r: _Resp(200, self._item_view(kind, self._item(kind, r.params["item_id"]))),
            ),
            ("PUT", one, lambda r: self._update_item(kind, r)),
            ("DELETE", one, lambda r: self._delete_item(kind, r)),
        ]

    def _item(self, kind: str, item_id: str) -> Json:
        item = next((i for i in getattr(self, kind) if i["id"] == int(item_id)), None)
        if item is None:
            raise _HttpError(404, {"message": f"404 {kind.rstrip('s').title()} Not Found"})
        assert isinstance(item, dict)
        return item

    @staticmethod
    def _item_view(kind: str, item: Json, listing: bool = False) -> Json:
        hidden = {"hooks": ["token"], "schedules": ["variables"] if listing else []}.get(kind, [])
        return _public(item, hidden)

    _UPDATABLE: ClassVar[dict[str, tuple[str, ...]]] = {
        "boards": ("name", "hide_backlog_list", "hide_closed_list"),
        "triggers": ("description",),
        "hooks": (
            "url",
            "token",
            "name",
            "description",
            "issues_events",
            "note_events",
            "push_events",
            "merge_requests_events",
            "tag_push_events",
            "confidential_issues_events",
            "confidential_note_events",
            "enable_ssl_verification",
        ),
        "schedules": ("description", "ref", "cron", "cron_timezone", "active"),
    }

    def _new_item(self, kind: str, req: _Req) -> Json:
        now, owner = self._now(), self._user(self.acting_user_id)
        if kind == "boards":
            return {
                "name": str(req.required("name")),
                "project": {k: self.project[k] for k in ("id", "name", "path_with_namespace")},
                "milestone": None,
                "lists": [],
                "hide_backlog_list": False,
                "hide_closed_list": False,
            }
        if kind == "triggers":
            return {
                "description": str(req.required("description")),
                "token": "glptt-" + secrets.token_hex(20),
                "created_at": now,
                "updated_at": now,
                "last_used": None,
                "owner": owner,
            }
        if kind == "hooks":
            url = str(req.required("url"))
            if not re.match(r"https?://", url):
                raise _HttpError(422, {"error": "Invalid url given"})
            item: Json = {
                "url": url,
                "project_id": self.project_id,
                "token": None,
                "created_at": now,
                "alert_status": "executable",
                "disabled_until": None,
                "push_events": True,
                "enable_ssl_verification": True,
            }
            item |= {
                k: False
                for k in self._UPDATABLE["hooks"]
                if k.endswith("_events") and k != "push_events"
            }
            return item
        for key in ("description", "ref", "cron"):
            req.required(key)
        return {
            "cron_timezone": "UTC",
            "active": True,
            "next_run_at": None,
            "created_at": now,
            "updated_at": now,
            "owner": owner,
            "last_pipeline": None,
            "variables": [],
        }

    def _set_fields(self, kind: str, item: Json, req: _Req) -> None:
        for key in self._UPDATABLE[kind]:
            value = req.value(key)
            if value is not None:
                item[key] = _as_bool(value) if key in BOOL_FIELDS else value
        if "updated_at" in item:
            item["updated_at"] = self._now()

    def _create_item(self, kind: str, req: _Req) -> _Resp:
        item = {"id": self._next_id(kind), **self._new_item(kind, req)}
        self._set_fields(kind, item, req)
        getattr(self, kind).append(item)
        return _Resp(201, self._item_view(kind, item))

    def _update_item(self, kind: str, req: _Req) -> _Resp:
        item = self._item(kind, req.params["item_id"])
        self._set_fields(kind, item, req)
        return _Resp(200, self._item_view(kind, item))

    def _delete_item(self, kind: str, req: _Req) -> _Resp:
        getattr(self, kind).remove(self._item(kind, req.params["item_id"]))
        return _Resp(204)

    def _create_board_list(self, req: _Req) -> _Resp:
        board = self._item("boards", req.params["bid"])
        label_id = _as_int(req.required("label_id"), -1)
        label = next((lb for lb in self.labels.values() if lb["id"] == label_id), None)
        if label is None:
            raise _HttpError(404, {"message": "404 Label Not Found"})
        if any(bl["label"]["id"] == label_id for bl in board["lists"]):
            raise _HttpError(400, {"message": {"label": ["has already been taken"]}})
        board_list = {
            "id": self._next_id("board_list"),
            "position": len(board["lists"]),
            "label": self._label_view(label),
            "max_issue_count": 0,
            "max_issue_weight": 0,
            "limit_metric": None,
        }
        board["lists"].append(board_list)
        return _Resp(201, dict(board_list))

    # ------------------------------------------------- pipelines (helper "pipeline")
    # POST /projects/:id/trigger/pipeline (trigger token) and POST /projects/:id/pipeline
    # (api token), with `variables` and `inputs`, and the project setting
    # ci_pipeline_variables_minimum_override_role. Sources: lib/api/ci/triggers.rb,
    # lib/api/ci/pipelines.rb (inputs: 17.10 behind ci_inputs_for_pipelines, on by default
    # in 17.11, GA in 18.1; before, Grape ignores the undeclared param),
    # Gitlab::Ci::Pipeline::Chain::Validate (the setting), Interpolation::TextInterpolator
    # and Interpolation::Inputs (input errors), Chain::Populate ("will not run").
    def _init_pipelines(self) -> None:
        # GitLab.com's default for new projects since 17.7 (docs/platform-facts.md)
        self.project.setdefault("ci_pipeline_variables_minimum_override_role", "no_one_allowed")
        self.inputs_supported = True  # False: GitLab before 17.10 ignores `inputs`
        self.config_has_inputs = True  # False: a .gitlab-ci.yml without spec:inputs
        # False: GitLab without MR 204230 counts TRIGGER_PAYLOAD as a pipeline variable, so
        # under no_one_allowed every trigger call fails (gitlab issue 557381)
        self.trigger_payload_exempt = True
        self.version = "18.6.0"  # GET /version
        self.pipelines: list[Json] = []
        self.branches = {"main"}
        self.protected_branches = {"main"}  # the default branch: Maintainers push
        self.repository_files: dict[str, bytes] = {}
        self.commits: list[Json] = []

    def _trigger_token_ok(
        self, method: str, path: str, body: Json, query: dict[str, list[str]]
    ) -> bool:
        """The trigger API authenticates with the trigger's token, not a header."""
        if method != "POST" or not re.fullmatch(
            r"/api/v4/projects/[^/]+/(ref/[^/]+/)?"
            r"trigger/pipeline",
            path,
        ):
            return False
        token = body.get("token") or (query.get("token") or [""])[0]
        if not any(t["token"] == token for t in self.triggers):
            raise _HttpError(404, {"message": "404 Not Found"})
        return True

    def _pipeline_routes(self, p: str) -> list[tuple[str, str, Handler]]:
        return [
            ("POST", p + "/repository/commits", self._create_commit),
            ("POST", p + "/trigger/pipeline", lambda r: self._create_pipeline(r, "trigger")),
            ("POST", p + "/pipeline", lambda r: self._create_pipeline(r, "api")),
            ("GET", p + "/pipelines", lambda r: self._paginate(r, self.pipelines)),
        ]

    def _variables_restricted(self) -> bool:
        """Under no_one_allowed (or owner: the bot is a Maintainer) nobody may set them."""
        role = self.project.get("ci_pipeline_variables_minimum_override_role", "no_one_allowed")
        return role in ("no_one_allowed", "owner")

    def _check_schedule_variables(self) -> None:
        if self._variables_restricted():
            raise _HttpError(403, {"message": "403 Forbidden"})

    @staticmethod
    def _nested(req: _Req, name: str) -> Json:
        """`name` as a hash: a JSON object, or form/query keys `name[key]`."""
        value = req.body.get(name)
        if isinstance(value, dict):
            return dict(value)
        if isinstance(value, list):  # the pipeline API's [{key, value}, ...]
            return {str(v.get("key")): v.get("value") for v in value if isinstance(v, dict)}
        found: Json = {}
        pattern = re.compile(re.escape(name) + r"\[([^\]]+)\]")
        for key, val in [*req.body.items(), *((k, v[0]) for k, v in req.query.items())]:
            match = pattern.fullmatch(key)
            if match:
                found[match.group(1)] = val
        return found

    def _create_pipeline(self, req: _Req, source: str) -> _Resp:
        ref = str(req.required("ref"))
        variables = self._nested(req, "variables")
        inputs = self._nested(req, "inputs") if self.inputs_supported else {}
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in variables.items()):
            raise _HttpError(400, {"error": "variables needs to be a map of key-valued strings"})
        if ref not in self.branches:
            raise _HttpError(400, {"message": {"base": ["Reference not found"]}})
        trigger_payload = source == "trigger" and not self.trigger_payload_exempt
        if (variables or trigger_payload) and self._variables_restricted():
            raise _HttpError(
                400, {"message": {"base": ["Insufficient permissions to set pipeline variables"]}}
            )
        problem = self._input_problem(inputs)
        if problem:
            raise _HttpError(400, {"message": {"base": [problem]}})
        payload = {k: v for k, v in req.body.items() if k != "token"}
        if not self._would_run(source, variables, inputs):
            raise _HttpError(
                400,
                {
                    "message": {
                        "base": [
                            "Pipeline will not run for the selected trigger. The rules "
                            "configuration prevented any jobs from being added to the "
                            "pipeline."
                        ]
                    }
                },
            )
        pipeline = {
            "id": self._next_id("pipeline") + 4000,
            "iid": len(self.pipelines) + 1,
            "project_id": self.project_id,
            "ref": ref,
            "status": "created",
            "source": source,
            "sha": "0" * 40,
            "created_at": self._now(),
            "web_url": f"{self.project['web_url']}/-/pipelines/{len(self.pipelines) + 1}",
            "variables": variables,
            "inputs": inputs,
            "trigger_payload": payload if source == "trigger" else None,
        }
        self.pipelines.append(pipeline)
        return _Resp(
            201,
            {
                k: v
                for k, v in pipeline.items()
                if k not in ("variables", "inputs", "trigger_payload")
            },
        )

    # POST /projects/:id/repository/commits: lib/api/commits.rb (authorize! :push_code:
    # Developer), Commits::CreateService#validate_permissions! (a protected branch: "You are
    # not allowed to push into this branch", answered 400), Files::MultiService and Gitaly's
    # UserCommitFiles ("A file with this name already exists" for a create on an existing
    # path; content `encoding: base64` decoded). Only `create` actions: what the script sends.
    def _create_commit(self, req: _Req) -> _Resp:
        branch = str(req.required("branch"))
        message = str(req.required("commit_message"))
        actions = req.body.get("actions")
        if not isinstance(actions, list) or not actions:
            raise _HttpError(400, {"error": "actions is missing"})
        if branch not in self.branches:
            raise _HttpError(
                400, {"message": "You can only create or edit files when you are on a branch"}
            )
        if (
            branch in self.protected_branches
            and self.role_of(self.acting_user_id) < self.ROLE_LEVELS["maintainer"]
        ):
            raise _HttpError(400, {"message": "You are not allowed to push into this branch"})
        added: dict[str, bytes] = {}
        for action in actions:
            if not isinstance(action, dict) or action.get("action") != "create":
                raise _HttpError(400, {"message": "the fake commits API creates files only"})
            path = str(action.get("file_path") or "")
            if not path or path in self.repository_files or path in added:
                raise _HttpError(400, {"message": "A file with this name already exists"})
            content = str(action.get("content") or "")
            added[path] = (
                base64.b64decode(content)
                if action.get("encoding") == "base64"
                else content.encode("utf-8")
            )
        self.repository_files.update(added)
        sha = hashlib.sha1(  # noqa: S324 (an id, as git's)
            json.dumps([message, sorted(added)]).encode()
        ).hexdigest()
        commit = {
            "id": sha,
            "short_id": sha[:8],
            "title": message.splitlines()[0],
            "message": message,
            "created_at": self._now(),
            "web_url": f"{self.project['web_url']}/-/commit/{sha}",
        }
        self.commits.append({**commit, "branch": branch, "files": sorted(added)})
        return _Resp(201, commit)

    def _input_problem(self, inputs: Json) -> str:
        """Checked as GitLab checks this repository's spec:inputs (.gitlab-ci.yml header)."""
        if not inputs:
            return ""
        if not self.config_has_inputs:
            return (
                "Given inputs not defined in the `spec` section of the included configuration file"
            )
        spec = {
            "job": ("auto", "stage", "transition", "send", "digest"),
            "matches_b64": r"[A-Za-z0-9+/]*={0,2}",
            "send_iid": r"[0-9]{0,10}",
        }
        unknown = sorted(set(inputs) - set(spec))
        if unknown:
            return f"unknown input arguments: {', '.join(unknown)}"
        for name, value in inputs.items():
            rule = spec[name]
            if not isinstance(value, str):
                return f"`{name}` input: provided value is not a string"
            if isinstance(rule, tuple) and value not in rule:
                return (
                    f"`{name}` input: `{value}` cannot be used because it is not in "
                    "the list of allowed options"
                )
            if isinstance(rule, str) and not re.fullmatch(rule, value):
                return f"`{name}` input: provided value does not match required RegEx {rule}"
        return ""

    @staticmethod
    def _would_run(source: str, variables: Json, inputs: Json) -> bool:
        """Whether this repository's .gitlab-ci.yml creates a job for an API or trigger
        pipeline (tests/system/test_pipeline.py checks the real rules under gitlab-ci-local). A
        trigger call always carries TRIGGER_PAYLOAD, so `transition` runs on it."""
        if inputs.get("job", "auto") != "auto" or inputs.get("send_iid"):
            return True  # matches_b64 alone selects no job: it is read from TRIGGER_PAYLOAD
        if any(
            variables.get(n)
            for n in ("MATCHES_JSON_B64", "MATCHES_JSON", "MATCHES_FILE", "SEND_IID")
        ):
            return True
        return source == "trigger"

    def _variable(self, req: _Req) -> tuple[Json, Json | None]:
        schedule = self._item("schedules", req.params["sid"])
        key = req.params.get("key") or str(req.required("key"))
        return schedule, next((v for v in schedule["variables"] if v["key"] == key), None)

    def _create_variable(self, req: _Req) -> _Resp:
        self._check_schedule_variables()
        schedule, existing = self._variable(req)
        if existing is not None:
            taken = f"({existing['key']}) has already been taken"
            raise _HttpError(400, {"message": {"key": [taken]}})
        variable = {
            "key": str(req.required("key")),
            "value": str(req.required("value")),
            "variable_type": str(req.value("variable_type") or "env_var"),
            "raw": False,
        }
        schedule["variables"].append(variable)
        return _Resp(201, dict(variable))

    def _update_variable(self, req: _Req) -> _Resp:
        self._check_schedule_variables()
        _, variable = self._variable(req)
        if variable is None:
            raise _HttpError(404, {"message": "404 Variable Not Found"})
        variable["value"] = str(req.required("value"))
        return _Resp(200, dict(variable))

    def _delete_variable(self, req: _Req) -> _Resp:
        schedule, variable = self._variable(req)
        if variable is None:
            raise _HttpError(404, {"message": "404 Variable Not Found"})
        schedule["variables"].remove(variable)
        return _Resp(204)

    # ------------------------------------------- who edits (helper "gate")
    @contextlib.contextmanager
    def act_as(self, username: str) -> Iterator[Json]:
        """Requests made inside the block are made by `username` (as if with their token):
        a Reporter editing a description, moving a card or writing a note."""
        user = self._user_by_name(username)
        if user is None:
            raise KeyError(username)
        with self.lock:
            before, self.acting_user_id = self.acting_user_id, user["id"]
        try:
            yield user
        finally:
            with self.lock:
                self.acting_user_id = before

    def _move_issue(self, req: _Req) -> _Resp:
        """POST /issues/:iid/move (lib/api/issues.rb): Issues::MoveService copies the issue
        and its notes to the other project (the copy keeps the author) and leaves the
        original here, closed (Issuable::Clone::BaseService#update_old_entity, close_issue)
        with `moved_to_id` set (`mark_as_moved`) and a system note by the mover. Reporter on
        both sides is enough (Issue#can_move?: admin_issue). The other project is outside
        this fake: any id of `other_project_ids`; this one's own is a 400, others a 404."""
        issue = self._issue(req)
        target = _as_int(req.required("to_project_id"), -1)
        if target == self.project_id:
            raise _HttpError(400, {"message": "Cannot move issue to project it originates from!"})
        if target not in self.other_project_ids:
            raise _HttpError(404, {"message": "404 Project Not Found"})
        self._set_state(issue, "close")
        issue["moved_to_id"] = self._next_id("issue")
        now = self._now()
        issue["updated_at"] = now
        self.notes.setdefault(issue["iid"], []).append(
            {
                **self._system_note(issue, now),
                "body": f"moved to other/project#{issue['moved_to_id']}",
            }
        )
        return _Resp(201, {**self._issue_view(issue), "id": issue["moved_to_id"], "iid": 1})

    def _delete_issue(self, req: _Req) -> _Resp:
        """DELETE /issues/:iid (lib/api/issues.rb, `authorize!(:destroy_issue, issue)`):
        the issue goes with its notes and events (Issuable::DestroyService); its labels and
        their ids stay in the project."""
        iid = self._issue(req)["iid"]
        del self.issues[iid]
        self.notes.pop(iid, None)
        self.label_events.pop(iid, None)
        return _Resp(204)

    def _system_note(self, issue: Json, now: str) -> Json:
        return {
            "id": self._next_id("note"),
            "type": None,
            "body": "",
            "attachment": None,
            "author": self._user(self.acting_user_id),
            "created_at": now,
            "updated_at": now,
            "system": True,
            "noteable_id": issue["id"],
            "noteable_type": "Issue",
            "project_id": self.project_id,
            "noteable_iid": issue["iid"],
            "resolvable": False,
            "confidential": False,
            "internal": False,
        }

    def user_notes(self, iid: int) -> list[Json]:
        """The notes people (and the bot) wrote, without GitLab's system notes."""
        with self.lock:
            return [n for n in self.notes.get(iid, []) if not n["system"]]

    def _check_note_author(self, note: Json) -> None:
        """Only a note's author may edit it (NotePolicy: `is_author` enables `admin_note`;
        gitlabhq app/policies/note_policy.rb). GitLab also lets Maintainers; this fake has
        no roles here, so it is stricter, never more lenient. System notes: nobody."""
        if note["system"] or note["author"]["id"] != self.acting_user_id:
            raise _HttpError(403, {"message": "403 Forbidden"})

    def _description_system_note(self, issue: Json) -> None:
        """GitLab's system note for a description edit, authored by the editor:
        SystemNotes::IssuablesService#change_description, called from
        Issuable::CommonSystemNotesService (gitlabhq app/services/issuable/
        common_system_notes_service.rb; CE, so on Free too). It does not touch the issue's
        updated_at (`no_touching`)."""
        now = self._now()
        self.notes.setdefault(issue["iid"], []).append(
            {
                "id": self._next_id("note"),
                "type": None,
                "body": "changed the description",
                "attachment": None,
                "author": self._user(self.acting_user_id),
                "created_at": now,
                "updated_at": now,
                "system": True,
                "noteable_id": issue["id"],
                "noteable_type": "Issue",
                "project_id": self.project_id,
                "noteable_iid": issue["iid"],
                "resolvable": False,
                "confidential": False,
                "internal": False,
            }
        )

    # ------------------------------------------------ users, tokens and roles
    # GitLab's roles as access levels (Gitlab::Access). What each route needs follows
    # ProjectPolicy and the API's `authorize!` calls: hooks need admin_project (Maintainer,
    # lib/api/project_hooks.rb), triggers admin_trigger and schedules admin_pipeline_schedule
    # (Maintainer, as docs/platform-facts.md "Roles" says); labels and boards Reporter (Planner);
    # an issue's edit Reporter or its author; a note's edit only its author (NotePolicy).
    ROLE_LEVELS: ClassVar[dict[str, int]] = {
        "guest": 10,
        "planner": 15,
        "reporter": 20,
        "developer": 30,
        "maintainer": 40,
        "owner": 50,
    }
    _ROLE_RULES: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("*", r"/hooks(/.*)?", "maintainer"),
        ("*", r"/triggers(/.*)?", "maintainer"),
        ("*", r"/pipeline_schedules(/.*)?", "maintainer"),
        ("*", r"/variables(/.*)?", "maintainer"),  # lib/api/ci/variables.rb: admin_build
        ("POST", r"/pipeline", "developer"),
        ("POST", r"/repository/commits", "developer"),
        ("PUT", r"/issues/\d+", "reporter"),
        ("POST", r"/issues/\d+/move", "reporter"),
        # destroy_issue: the project's Owner (app/policies/project_policy.rb; newer GitLab
        # gives it to the Planner role too, which this fake does not model: stricter)
        ("DELETE", r"/issues/\d+", "owner"),
        ("POST|PUT|DELETE", r"/labels(/.*)?", "reporter"),
        ("POST|PUT|DELETE", r"/boards(/.*)?", "reporter"),
    )
    # What GET /projects/:id shows only to who may admin the project (Maintainer):
    # lib/api/entities/project.rb, `with_options if: ... :admin_project`.
    _ADMIN_PROJECT_FIELDS: ClassVar[frozenset[str]] = frozenset(
        (
            "ci_default_git_depth",
            "ci_delete_pipelines_in_seconds",
            "ci_forward_deployment_enabled",
            "ci_forward_deployment_rollback_allowed",
            "ci_job_token_scope_enabled",
            "ci_separated_caches",
            "ci_allow_fork_pipelines_to_run_in_parent_project",
            "ci_id_token_sub_claim_components",
            "build_git_strategy",
            "keep_latest_artifact",
            "restrict_user_defined_variables",
            "ci_pipeline_variables_minimum_override_role",
            "runners_token",
            "runner_token_expiration_interval",
            "group_runners_enabled",
            "auto_cancel_pending_pipelines",
            "build_timeout",
            "auto_devops_enabled",
            "auto_devops_deploy_strategy",
            "ci_push_repository_for_job_token_allowed",
        )
    )

    def _init_access(self, bot_role: str) -> None:
        """bot: `bot_role` (Maintainer unless a test says otherwise); reviewer: Developer;
        mallory: Reporter. `fake.token` acts as `acting_user_id`; `token_for(name)` as that
        user whatever `acting_user_id` says."""
        self.roles: dict[int, str] = {1: bot_role, 2: "developer", 3: "reporter"}
        self.tokens: dict[str, int] = {}

    def token_for(self, username: str) -> str:
        """A personal access token of `username` (made on first use)."""
        with self.lock:
            user = self._user_by_name(username)
            if user is None:
                raise KeyError(username)
            for token, uid in self.tokens.items():
                if uid == user["id"]:
                    return token
            token = f"glpat-{user['username']}-{secrets.token_hex(8)}"
            self.tokens[token] = int(user["id"])
            return token

    def role_of(self, user_id: int) -> int:
        return self.ROLE_LEVELS.get(self.roles.get(user_id, ""), 0)

    # ---- personal access tokens: expiry and GET /personal_access_tokens/self ----
    def _init_tokens(self) -> None:
        """Tokens never expire unless a test sets `token_expires_at[token]` (a date), judged
        by `clock` (the fake's clock: real time unless a test moves it). With
        `token_self_status` set, GET /personal_access_tokens/self answers that instead (404:
        a GitLab before 15.5; 400: not a personal access token)."""
        self.token_expires_at: dict[str, date | None] = {}
        self.revoked_tokens: set[str] = set()
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.token_self_status: int | None = None
        self._request_token = ""
        # the project's CI/CD variables by key (one environment scope each, "*")
        self.variables: dict[str, Json] = {}

    def _token_self(self, req: _Req) -> _Resp:
        """lib/api/personal_access_tokens/self_information.rb: the token the request
        authenticated with (Entities::PersonalAccessTokenWithLastUsedIps); `expires_at` is
        a date or null; 400 for a token that is no personal access token."""
        if self.token_self_status == 404:
            raise _HttpError(404, {"error": "404 Not Found"})
        if self.token_self_status is not None:
            raise _HttpError(
                self.token_self_status,
                {
                    "message": "400 Bad request - This endpoint requires token type to be a "
                    "personal access token"
                },
            )
        expires = self.token_expires_at.get(self._request_token)
        uid = self.acting_user_id
        return _Resp(
            200,
            {
                "id": 4000 + uid,
                "name": "match-staging",
                "revoked": False,
                "created_at": "2026-01-01T00:00:00.000Z",
                "description": None,
                "scopes": ["api"],
                "user_id": uid,
                "last_used_at": None,
                "active": True,
                "expires_at": expires.isoformat() if expires else None,
                "last_used_ips": [],
            },
        )

    def _rotate_token(self, req: _Req) -> _Resp:
        """lib/api/personal_access_tokens/self_rotation.rb with app/services/
        personal_access_tokens/rotate_service.rb: in one transaction the request's token is
        revoked and a new one made for its user (same name and scopes), expiring on
        `expires_at`, else a week from now when the instance requires an expiry (as
        GitLab.com does; EXPIRATION_PERIOD); the answer carries the new token once
        (Entities::PersonalAccessTokenWithToken). Over a year ahead: 400, nothing changes."""
        old, uid = self._request_token, self.acting_user_id
        today = self.clock().astimezone(UTC).date()
        raw = req.value("expires_at")
        try:
            expires = date.fromisoformat(str(raw)) if raw else today + timedelta(days=7)
        except ValueError:
            raise _HttpError(400, {"error": "expires_at is invalid"}) from None
        if expires > today + timedelta(days=365) or expires <= today:
            raise _HttpError(
                400, {"message": "400 Bad request - Expiration date must be within a year"}
            )
        self.revoked_tokens.add(old)
        new = f"glpat-rotated-{secrets.token_hex(10)}"
        self.tokens[new] = uid
        self.token_expires_at[new] = expires
        return _Resp(
            200,
            {
                "id": 5000 + len(self.revoked_tokens),
                "name": "match-staging",
                "revoked": False,
                "scopes": ["api"],
                "user_id": uid,
                "active": True,
                "expires_at": expires.isoformat(),
                "token": new,
            },
        )

    def _get_variable(self, req: _Req) -> _Resp:
        """lib/api/ci/variables.rb: Maintainer (admin_build); 404 "Variable Not Found"."""
        variable = self.variables.get(req.params["key"])
        if variable is None:
            raise _HttpError(404, {"message": "404 Variable Not Found"})
        return _Resp(200, dict(variable))

    def _put_variable(self, req: _Req) -> _Resp:
        """PUT /projects/:id/variables/:key: value and flags; the key itself stays."""
        variable = self.variables.get(req.params["key"])
        if variable is None:
            raise _HttpError(404, {"message": "404 Variable Not Found"})
        for key in ("value", "protected", "masked", "raw", "description"):
            if req.value(key) is not None:
                value = req.value(key)
                variable[key] = value if key in ("value", "description") else _as_bool(value)
        return _Resp(200, dict(variable))

    def _authenticate(self, auth: str) -> int:
        if auth in self.revoked_tokens:
            raise _HttpError(401, REVOKED_TOKEN_BODY)
        expires = self.token_expires_at.get(auth)
        if expires is not None and expires <= self.clock().astimezone(UTC).date():
            raise _HttpError(401, EXPIRED_TOKEN_BODY)
        if auth == self.token:
            return self.acting_user_id
        if auth in self.tokens:
            return self.tokens[auth]
        raise _HttpError(401, {"message": "401 Unauthorized"})

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

    def _project_view(self) -> Json:
        view = _public(self.project)
        level = self.role_of(self.acting_user_id)
        if level < self.ROLE_LEVELS["maintainer"]:
            view = {k: v for k, v in view.items() if k not in self._ADMIN_PROJECT_FIELDS}
        view["permissions"] = {
            "project_access": {"access_level": level, "notification_level": 3},
            "group_access": None,
        }
        return view

    # ------------------------------------------------- project path and ids
    def _move_project(self, path: str) -> None:
        """Put the project at `path` (group/name or group/sub/name)."""
        namespace, _, name = path.rpartition("/")
        self.project.update(
            path=name,
            name=name,
            path_with_namespace=path,
            name_with_namespace=" / ".join(path.split("/")),
            web_url=f"{self.url}/{path}",
        )
        self.project["namespace"] = {
            "id": 7,
            "name": namespace.rsplit("/", 1)[-1],
            "path": namespace.rsplit("/", 1)[-1],
            "full_path": namespace,
            "kind": "group",
        }
        self.project.setdefault("ci_pipeline_variables_minimum_override_role", "no_one_allowed")

    def _project_ids(self) -> tuple[str, str]:
        """The project's id or full path, after the one decoding GitLab does of the path
        segment (`group%2Fname`): `group%252Fname` stays encoded and is not found (404)."""
        return str(self.project_id), str(self.project["path_with_namespace"])

    # ---------------------------------------------------- full-text search
    def _init_search(self) -> None:
        """Issue search as GitLab does it (IssuableFinder#use_full_text_search?,
        PgFullTextSearchable): whole words and word prefixes, every word of the query
        required. `search_indexes_comments`: True as newer GitLab (XML tags replaced by
        their text before indexing, so words in `<!-- ... -->` are found); False as older
        versions, where PostgreSQL's parser reads a comment or tag as one "tag" token that
        the english configuration drops. `search_lag_seconds`: issues created that recently
        are not found yet (the search data is written after the commit)."""
        self.search_indexes_comments = False
        self.search_lag_seconds = 0.0

    def _search_issues(self, issues: list[Json], query: str, fields: list[str]) -> list[Json]:
        fields = [f for f in fields if f in ("title", "description")] or ["title", "description"]
        horizon = datetime.now(UTC) - timedelta(seconds=self.search_lag_seconds)
        if self.search_lag_seconds:
            issues = [i for i in issues if _parse_time(i["created_at"]) <= horizon]
        if not _FULL_TEXT_TERM_RE.fullmatch(query):
            # not ASCII or Latin: GitLab falls back to ILIKE on each word (3+ characters)
            words = [w.lower() for w in query.split() if len(w) >= 3] or [query.lower()]
            return [
                i
                for i in issues
                if all(any(w in (i.get(f) or "").lower() for f in fields) for w in words)
            ]
        terms = _tsquery_terms(query)
        if not terms:
            return issues
        found = []
        for issue in issues:
            lexemes: set[str] = set()
            for name in fields:
                lexemes |= _lexemes(issue.get(name) or "", self.search_indexes_comments)
            if all(any(lex.startswith(t) for lex in lexemes) for t in terms):
                found.append(issue)
        return found


# --------------------------------------------------------------------------
# Full-text search and byte sizes, as GitLab computes them
# --------------------------------------------------------------------------

# app/finders/issuable_finder.rb: FULL_TEXT_SEARCH_TERM_REGEX
_FULL_TEXT_TERM_RE = re.compile(r"[\x00-\x7f\u00c0-\u024f]+")
# app/models/concerns/pg_full_text_searchable.rb
_LONG_WORDS_RE = re.compile(r"[A-Za-z0-9+/@]{50,}")
_XML_TAG_RE = re.compile(r"</?([^>]+)>")
_URL_SCHEME_RE = re.compile(r"(?:^|(?<=\W))\w+://(?=\w)")
_TSQUERY_DISALLOWED_RE = re.compile(r"[^a-zA-Z0-9 .@/\-_\"]")
# PostgreSQL's default parser: a comment or an HTML/XML tag is one "tag" token
_PG_TAG_RE = re.compile(r"<!--.*?-->|</?[A-Za-z][^<>]*>", re.DOTALL)
_LEXEME_RE = re.compile(r"[a-z0-9]+")


def _transliterate(text: str) -> str:
    """ActiveSupport::Inflector.transliterate, near enough: accents dropped."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _lexemes(text: str, comments_indexed: bool) -> set[str]:
    """The words of an issue's text as its search vector holds them (lower case; a
    hyphenated word also as its parts, which is all a prefix query needs here)."""
    text = _LONG_WORDS_RE.sub(" ", text)[:1_048_576]
    text = _transliterate(text)
    text = _XML_TAG_RE.sub(r" \1 ", text) if comments_indexed else _PG_TAG_RE.sub(" ", text)
    return set(_LEXEME_RE.findall(text.lower()))


def _tsquery_terms(query: str) -> list[str]:
    """Every word of the query, each a prefix that some word of the issue must start with
    (`term:*`, joined with `&`)."""
    query = _URL_SCHEME_RE.sub("", query)
    query = _TSQUERY_DISALLOWED_RE.sub(" ", _transliterate(query))
    return _LEXEME_RE.findall(query.replace('"', " ").lower())


def _human_size(size: int) -> str:
    """ActiveSupport::NumberHelper.number_to_human_size: 3 significant digits, 1024s."""
    units = ["Bytes", "KB", "MB", "GB"]
    value, unit = float(size), 0
    while value >= 1024 and unit < len(units) - 1:
        value, unit = value / 1024, unit + 1
    if unit == 0:
        return f"{size} Byte" + ("" if size == 1 else "s")
    digits = max(0, 3 - len(str(int(value))))
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"
    return f"{text} {units[unit]}"


def _too_long(description: str) -> str:
    """app/validators/bytesize_validator.rb: the description is measured in bytes."""
    size = len(description.encode())
    return (
        f"is too long ({_human_size(size)}). The maximum size is "
        f"{_human_size(MAX_DESCRIPTION_LENGTH)}."
    )


# --------------------------------------------------------------------------
# HTTP server glue
# --------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        wire = self.server.fake._dispatch(self.command, self.path, headers, raw)
        if wire is None:  # injected drop: hang up without a status line
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(wire.status)
        for name, value in wire.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(wire.body)))
        self.end_headers()
        self.wfile.write(wire.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr logging."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, fake: FakeGitLab) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake

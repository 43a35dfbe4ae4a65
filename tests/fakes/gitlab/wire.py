"""The HTTP plumbing of the fake GitLab: requests and answers, parameters as Grape reads them,
request bodies (JSON within GitLab's limits, forms, multipart), injected faults, and the
socket server that hands each request to `FakeGitLab._dispatch`."""

from __future__ import annotations

import contextlib
import json
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs

Json = dict[str, Any]


@dataclass
class LoggedRequest:
    """One request as seen by the fake.  ``status`` is 0 when it was dropped."""

    method: str
    path: str  # raw (still percent-encoded) path, without the query string
    query: dict[str, list[str]]
    json: Any | None
    status: int
    fault: str | None = None  # None | "fail" | "drop" | "drop_after_commit"


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


Handler = Callable[[_Req], _Resp]
# (method, path regex under /api/v4, handler): each part of the fake lists its own routes
Route = tuple[str, str, Handler]
PROJECT_ROUTE = "/projects/(?P<pid>[^/]+)"  # the id or the URL-encoded full path
ISSUE_ROUTE = PROJECT_ROUTE + r"/issues/(?P<iid>\d+)"


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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # an answer goes out at once (one write: `_serve`)
    server: _Server
    _headers_buffer: list[bytes]  # http.server's, set by send_response()

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
        # The head and the body in one write, as GitLab's server sends a small answer in
        # one segment: end_headers() would send the head alone first (one more system call
        # and wake-up of the client per request). http.server keeps the head, line by
        # line, in _headers_buffer until end_headers() flushes it (Lib/http/server.py).
        self._headers_buffer.append(b"\r\n")
        self.wfile.write(b"".join(self._headers_buffer) + wire.body)
        self._headers_buffer = []

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr logging."""


class _Dispatcher(Protocol):
    """What the socket server needs of the fake (FakeGitLab, server.py): the answer to a request."""

    def _dispatch(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> _Wire | None: ...


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, fake: _Dispatcher) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake

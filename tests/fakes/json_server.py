"""A JSON endpoint on 127.0.0.1 for Apprise's `json://` URLs: records every post (its path,
basic-auth user and JSON body) and answers from a queue of scripted statuses (200 when
none is left). Apprise's Custom JSON plugin posts {"version", "title", "message",
"attachments", "type"} (apprise/plugins/custom_json.py, `send`)."""

from __future__ import annotations

import base64
import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.local_http import LocalHTTP


class JsonEndpoint(LocalHTTP):
    def __init__(self) -> None:
        self.posts: list[tuple[str, str, dict[str, Any]]] = []  # (path, user, body)
        self.answers: dict[str, list[int]] = {}  # path -> statuses, consumed first
        super().__init__()

    def url(self, path: str, user: str = "") -> str:
        """The Apprise URL of `path` on this server."""
        auth = f"{user}@" if user else ""
        return f"json://{auth}127.0.0.1:{self.port}/{path.lstrip('/')}"

    def received(self, path: str) -> list[dict[str, Any]]:
        return [body for p, _, body in self.posts if p == path]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                path = self.path.split("?", 1)[0]
                scripted = sink.answers.get(path) or []
                status = scripted.pop(0) if scripted else 200
                auth = self.headers.get("Authorization", "")
                user = ""
                if auth.startswith("Basic "):
                    user = base64.b64decode(auth[6:]).decode().split(":", 1)[0]
                sink.posts.append((path, user, json.loads(raw)))  # received, whatever the answer
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

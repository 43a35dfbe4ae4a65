"""A Slack incoming webhook on 127.0.0.1: records every JSON post and answers as Slack does
(200 `ok`; plain-text errors; 429 with Retry-After), from a queue of scripted answers."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.local_http import LocalHTTP

PATH = "/services/T000/B000/CANARYSLACKSECRET"


class SlackWebhook(LocalHTTP):
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.answers: list[tuple[int, str, dict[str, str]]] = []  # consumed first
        super().__init__()
        self.url = f"{self.base}{PATH}"

    def answer(self, status: int, body: str, times: int = 1, **headers: str) -> None:
        self.answers += [(status, body, headers)] * times

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                status, body, headers = sink.answers.pop(0) if sink.answers else (200, "ok", {})
                if self.path != PATH:
                    status, body, headers = 404, "no_service", {}
                if status == 200:
                    sink.posts.append(json.loads(raw))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name.replace("_", "-"), value)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

"""A Microsoft Teams Workflows webhook ("When a Teams webhook request is received") on
127.0.0.1: checks each request's shape, records what it accepted (202, empty body, as the
trigger answers) and plays scripted answers (429 with Retry-After, 4xx/5xx with Power
Automate's JSON error body, or a hang past the client's timeout).

Stricter than the real trigger on purpose: Workflows accept any JSON with 202 and the flow
run fails later, out of sight; here a card Teams would not post is refused with 400 so a
test sees it. A message over the Teams connector's ~28 KB is refused with 413 ("Request
Entity Too Large"), a wrong signature with 401 (docs/platform-facts.md, "Microsoft Teams
Workflows webhooks").
"""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.local_http import LocalHTTP

SIG = "CANARYTEAMSSIGNATURE"
PATH = "/workflows/0a1b2c3d/triggers/manual/paths/invoke"
QUERY = f"api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"
MAX_BYTES = 28_000
CARD_TYPE = "application/vnd.microsoft.card.adaptive"


def shape_error(body: Any) -> str:
    """What is wrong with a posted message, or "" (the issue's request shape)."""
    if not isinstance(body, dict) or body.get("type") != "message":
        return 'the body must be {"type": "message", ...}'
    attachments = body.get("attachments")
    if not isinstance(attachments, list) or len(attachments) != 1:
        return "exactly one attachment"
    (attachment,) = attachments
    if attachment.get("contentType") != CARD_TYPE:
        return f"contentType must be {CARD_TYPE}"
    card = attachment.get("content")
    if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
        return "content must be an AdaptiveCard"
    if card.get("version") != "1.4":
        return "an Adaptive Card 1.4"
    return _body_error(card)


def _body_error(card: dict[str, Any]) -> str:
    for element in card.get("body", []):
        if element.get("type") not in ("TextBlock", "FactSet"):
            return f"unexpected element {element.get('type')}"
        if element["type"] == "TextBlock" and not isinstance(element.get("text"), str):
            return "a TextBlock needs text"
        for fact in element.get("facts", []):
            if not isinstance(fact.get("title"), str) or not isinstance(fact.get("value"), str):
                return "a fact needs title and value"
    for action in card.get("actions", []):
        if action.get("type") != "Action.OpenUrl" or not str(action.get("url")).startswith(
            ("https://", "http://")
        ):
            return "only Action.OpenUrl to an http(s) URL"
    return ""


class TeamsWorkflow(LocalHTTP):
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []  # what was accepted (posted to the channel)
        self.requests = 0
        self.content_types: list[str] = []
        # consumed first: (status, JSON error body or "", headers); status 0: hang `delay`
        # seconds after accepting (the client times out while the card gets posted)
        self.answers: list[tuple[int, str, dict[str, str]]] = []
        self.delay = 1.0
        super().__init__()
        self.url = f"{self.base}{PATH}?{QUERY}"

    def answer(self, status: int, code: str = "", times: int = 1, **headers: str) -> None:
        body = json.dumps({"error": {"code": code, "message": f"{code} ({self.url})"}})
        self.answers += [(status, body if code else "", headers)] * times

    def hang(self) -> None:
        self.answers.append((0, "", {}))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                sink.requests += 1
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                sink.content_types.append(self.headers.get("Content-Type", ""))
                status, body, headers = sink.answers.pop(0) if sink.answers else (202, "", {})
                refused = _refusal(self.path, raw)
                if refused:
                    status, body, headers = refused[0], refused[1], {}
                if status in (0, 202):
                    sink.posts.append(json.loads(raw))
                if status == 0:
                    time.sleep(sink.delay)
                    status = 202
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name.replace("_", "-"), value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body.encode())
                except OSError:
                    pass  # the client gave up waiting (a timeout test): no traceback later

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def cards(self) -> list[dict[str, Any]]:
        return [post["attachments"][0]["content"] for post in self.posts]

    def texts(self, index: int = -1) -> list[str]:
        """Every text of a posted card: TextBlocks, facts (title: value), action URLs."""
        card = self.cards()[index]
        out: list[str] = []
        for element in card["body"]:
            if element["type"] == "TextBlock":
                out.append(element["text"])
            for fact in element.get("facts", []):
                out.append(f"{fact['title']}: {fact['value']}")
        out += [a["url"] for a in card.get("actions", [])]
        return out


def _refusal(path_and_query: str, raw: bytes) -> tuple[int, str] | None:
    """How the trigger refuses this request, or None when it takes it."""
    path, _, query = path_and_query.partition("?")
    if path != PATH:
        return 404, _error("TriggerNotFound")
    if query != QUERY:
        return 401, _error("DirectApiInvalidAuthorizationSignature")
    if len(raw) > MAX_BYTES:
        return 413, _error("RequestEntityTooLarge")
    try:
        problem = shape_error(json.loads(raw.decode("utf-8")))
    except ValueError:
        problem = "not JSON in UTF-8"
    return (400, _error("InvalidRequestContent", problem)) if problem else None


def _error(code: str, message: str = "") -> str:
    return json.dumps({"error": {"code": code, "message": message or code}})

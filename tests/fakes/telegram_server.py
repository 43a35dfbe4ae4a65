"""The Telegram Bot API's sendMessage on 127.0.0.1, as strict as Telegram about what it
takes: the token in the path (401 otherwise), a JSON body with chat_id and text, and in
`parse_mode: "HTML"` only Telegram's tags, balanced, with < > & escaped (400 "can't parse
entities" otherwise), 1-4,096 characters after entity parsing. Answers `{"ok": true,
"result": Message}`; scripted answers (429 with `parameters.retry_after`, 403, a slow
answer) are consumed first. Sources: core.telegram.org/bots/api#making-requests,
#sendmessage and #html-style (docs/platform-facts.md, "Telegram Bot API").
"""

from __future__ import annotations

import html
import json
import re
import threading
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.local_http import LocalHTTP

TOKEN = "123456789:CANARY-telegram-Secret_token"
# html-style: the tags Telegram's HTML parse mode accepts, with the attributes it takes
TAGS: dict[str, set[str]] = {
    "b": set(),
    "strong": set(),
    "i": set(),
    "em": set(),
    "u": set(),
    "ins": set(),
    "s": set(),
    "strike": set(),
    "del": set(),
    "span": {"class"},
    "tg-spoiler": set(),
    "a": {"href"},
    "code": {"class"},
    "pre": set(),
    "blockquote": {"expandable"},
    "tg-emoji": {"emoji-id"},
}
# html-style: only these named entities; all numeric ones are supported
NAMED = {"lt", "gt", "amp", "quot"}
MAX_TEXT = 4096


class _Entities(HTMLParser):
    """Telegram's reading of an HTML text: its plain text, its links, or the error."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.text: list[str] = []
        self.links: list[str] = []
        self.open: list[str] = []
        self.error = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TAGS or any(name not in TAGS[tag] for name, _ in attrs):
            self.error = self.error or f'Unsupported start tag "{tag}"'
        if tag == "a":
            self.links += [value or "" for name, value in attrs if name == "href"]
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.error = self.error or f'Unexpected end tag "{tag}"'

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data:
            self.error = self.error or "Unclosed start tag"
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in NAMED:
            self.error = self.error or f'Unsupported HTML entity "&{name};"'
        self.text.append(html.unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.text.append(html.unescape(f"&#{name};"))


def parse(text: str) -> _Entities:
    """`text` read as Telegram's HTML parse mode reads it."""
    reader = _Entities()
    if re.search(r"&(?![A-Za-z]+;|#\d+;|#x[0-9A-Fa-f]+;)", text):
        reader.error = "Unsupported HTML entity: a bare &"
    reader.feed(text)
    reader.close()
    if reader.open:
        unclosed = reader.open[-1]
        reader.error = reader.error or f"Can't find end tag corresponding to start tag {unclosed}"
    return reader


class TelegramBotApi(LocalHTTP):
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []  # what the chat got
        self.requests = 0
        # consumed first: (status, answer object) or ("slow", seconds): the message is
        # taken, then the answer waits
        self.answers: list[tuple[int | str, Any]] = []
        super().__init__()
        self.url = self.base

    def answer(self, status: int, description: str, times: int = 1, **parameters: int) -> None:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        self.answers += [(status, body)] * times

    def slow(self, seconds: float) -> None:
        self.answers.append(("slow", seconds))

    def check(self, path: str, raw: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
        """Telegram's answer to one request, the message kept when it is accepted."""
        if path != f"/bot{TOKEN}/sendMessage":
            if path.endswith("/sendMessage"):
                return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        if not content_type.startswith("application/json"):
            return _bad("the test expects a JSON body")
        body = json.loads(raw)
        wrong = _shape(body)
        if wrong:
            return _bad(wrong)
        reader = parse(str(body.get("text", "")))
        if reader.error:
            return _bad(f"Bad Request: can't parse entities: {reader.error}")
        plain = "".join(reader.text)
        if not plain.strip():
            return _bad("Bad Request: message text is empty")
        if len(plain.encode("utf-16-le")) // 2 > MAX_TEXT:  # counted in UTF-16 code units
            return _bad("Bad Request: message is too long")
        self.messages.append({**body, "plain": plain, "links": reader.links})
        result = {"message_id": len(self.messages), "chat": {"id": body["chat_id"]}, "text": plain}
        return 200, {"ok": True, "result": result}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                api.requests += 1
                scripted = api.answers.pop(0) if api.answers else None
                delay = 0.0
                if scripted is None or scripted[0] == "slow":
                    delay = float(scripted[1]) if scripted else 0.0
                    status, answer = api.check(self.path, raw, self.headers.get("Content-Type", ""))
                else:
                    status, answer = int(scripted[0]), scripted[1]
                threading.Event().wait(delay)  # not time.sleep: tests record that
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _shape(body: dict[str, Any]) -> str:
    """What is wrong with the request's parameters, as the issue defines them."""
    if not body.get("chat_id"):
        return "Bad Request: chat_id is empty"
    if body.get("parse_mode") != "HTML":
        return "the test expects parse_mode HTML"
    if body.get("link_preview_options") != {"is_disabled": True}:
        return "the test expects link previews disabled"
    if set(body) - {"chat_id", "text", "parse_mode", "link_preview_options"}:
        return "the test expects no other parameter"
    return ""


def _bad(description: str) -> tuple[int, dict[str, Any]]:
    return 400, {"ok": False, "error_code": 400, "description": description}

"""Telegram through the Bot API's sendMessage, in Telegram's HTML subset
(docs/platform-facts.md, "Telegram Bot API"). The bot token is part of every request's URL
path, so it is masked in anything this module says.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import TYPE_CHECKING, Any, ClassVar

from match_staging import render
from match_staging.channels.base import Delivery, Rendered, retry_after
from match_staging.channels.http import Poster, Retry, http_url
from match_staging.channels.telegram_settings import API_URL, TelegramChannel
from match_staging.clock import Clock, Sleep
from match_staging.errors import ConfigError
from match_staging.notices import Notice, Payload

if TYPE_CHECKING:  # requests loads when a message is posted, not to write outbox/
    import requests

# BotFather's tokens: the bot's numeric id, a colon, then letters, digits, - and _
TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
# a numeric chat id (groups and channels negative) or a public channel's @username
CHAT = re.compile(r"^(-?\d+|@[A-Za-z][A-Za-z0-9_]{3,31})$")
WORD_JOINER = "\u2060"  # invisible, and not part of any @mention, #tag, /command or URL
# where Telegram would detect an entity in plain text: @mention, #hashtag, $cashtag,
# /command, a URL's scheme or a domain's dot. A word joiner there keeps the text as it
# reads and breaks the detection, so a posting cannot mention, link or command.
_DETECTED = re.compile(r"(?<=[@#$/])(?=\w)|(?<=\w)(?=\.\w)|(?<=:)(?=//)")
_TEXT_FIELDS = ("title", "provider", "location", "start", "duration", "rate")


class Telegram:
    """A Telegram bot posting into one chat, paced and retried within Telegram's limits."""

    name: ClassVar[str] = "telegram"
    max_chars = 4096  # Bot API sendMessage: text 1-4,096 characters after entity parsing
    max_lines = 40  # matches listed before "+N weitere"
    min_interval = 1.0  # Bots FAQ: no more than one message per second in one chat
    group_interval = 3.0  # Bots FAQ: no more than 20 messages per minute in one group
    attempts = 3
    timeout = 15.0

    def __init__(
        self,
        settings: TelegramChannel,
        templates_dir: str | None = None,
        *,
        session: requests.Session | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        key = "notification.channels.telegram"
        if not TOKEN.match(settings.bot_token):
            raise ConfigError(
                f"{key}.bot_token: must be the token BotFather gave the bot, like "
                "123456:ABC-DEF… (set TELEGRAM_BOT_TOKEN as a masked CI/CD variable)"
            )
        chat = str(settings.chat_id).strip()
        if not CHAT.match(chat):
            raise ConfigError(
                f"{key}.chat_id: must be the chat's numeric id (a group's is negative) or a "
                "public channel's @username"
            )
        http_url(settings.api_url, f"{key}.api_url", f"must be an http(s) URL, like {API_URL}")
        self._chat = chat
        self._templates = templates_dir
        # the token is in the URL path: an answer or an error may echo it
        self._poster = Poster(
            self.name,
            f"{settings.api_url.rstrip('/')}/bot{settings.bot_token}/sendMessage",
            interval=self.group_interval if chat.startswith("-") else self.min_interval,
            secrets=[settings.bot_token],
            session=session,
            clock=clock,
            sleep=sleep,
            posted="sent",
        )
        # a refusal that no retry within this run can change (token, chat, blocked bot)
        self._refused: Delivery | None = None

    def text(self, payload: Payload) -> str:
        """The message's HTML, with as many matches as fit in `max_chars` (the rest as
        "+N weitere"). The raw HTML is held to the limit, counted in UTF-16 code units as
        Telegram counts: the text after entity parsing can only be shorter.
        """
        payload = disarmed(payload)
        name = "alert_telegram.html.j2" if payload.alert else "telegram.html.j2"
        count = min(len(payload.matches), self.max_lines)
        while True:
            shown = payload.matches[:count]
            text = render.render(
                name,
                self._templates,
                target="html",
                payload=payload,
                shown=shown,
                more=len(payload.matches) - len(shown),
            ).strip()
            if _units(text) <= self.max_chars or count == 0:
                return text
            count -= 1

    def message(self, payload: Payload) -> dict[str, Any]:
        """The JSON body of sendMessage."""
        return {
            "chat_id": self._chat,
            "text": self.text(payload),
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True},
        }

    def render(self, payload: Payload) -> list[Rendered]:
        """The message's HTML as Telegram would get it."""
        return [Rendered("telegram.html", (self.text(payload) + "\n").encode())]

    def send(self, payload: Payload) -> Delivery:
        """Post the message, paced; a 429 is waited out (`retry_after`) and retried."""
        if self._refused is not None:
            return self._refused
        return self._poster.post(
            self._judge, attempts=self.attempts, timeout=self.timeout, json=self.message(payload)
        )

    def _judge(self, response: requests.Response) -> Delivery | Retry:
        """`ok: true` is sent; a 429 took nothing; an answer not the Bot API's may have."""
        answer = _json(response)
        if response.status_code == 200 and answer.get("ok") is True:
            sent = answer.get("result")
            number = sent.get("message_id") if isinstance(sent, dict) else None
            return Delivery(self.name, True, f"sent as message {number}" if number else "ok")
        said = self._poster.mask(render.one_line(str(answer.get("description") or ""), 200))
        if response.status_code == 429:
            wait = _retry_after(answer, response)
            return Retry(
                f"Telegram rate limit (HTTP 429, retry after {wait:g} s): nothing was sent", wait
            )
        if response.status_code >= 500 or (
            response.status_code == 200 and answer.get("ok") is not False
        ):
            # an answer that is not the Bot API's: the message may have gone out
            text = said or self._poster.mask(render.one_line(response.text, 200))
            return Delivery(
                self.name,
                False,
                f"Telegram answered HTTP {response.status_code} {text}".strip()
                + ": it may have been sent",
                transient=True,
                maybe_delivered=True,
            )
        return self._refusal(response.status_code, said, answer)

    def _refusal(self, status: int, said: str, answer: dict[str, Any]) -> Delivery:
        """An `ok: false` answer: nothing was sent; the next run sends it again."""
        hint = _hint(status, said, answer)
        delivery = Delivery(
            self.name,
            False,
            f"Telegram refused the message: HTTP {status} {said}".strip()
            + ": nothing was sent"
            + (f"; {hint}" if hint else ""),
            transient=True,
        )
        if status in (401, 403, 404):  # the token or the chat: the same for every message
            self._refused = delivery
        return delivery


def disarmed(payload: Payload) -> Payload:
    """`payload` with every posting text broken where Telegram would detect an entity."""
    if payload.alert is not None:  # a `notify` message's text is untrusted too
        messages = tuple(
            dataclasses.replace(m, title=_disarm(m.title), body=_disarm(m.body))
            for m in payload.alert.messages
        )
        return dataclasses.replace(
            payload, alert=dataclasses.replace(payload.alert, messages=messages)
        )
    return dataclasses.replace(
        payload,
        summary=_disarm(payload.summary),
        matches=tuple(_disarmed(n) for n in payload.matches),
    )


def _disarmed(notice: Notice) -> Notice:
    changes = {f: _disarm(getattr(notice, f)) for f in _TEXT_FIELDS}
    return dataclasses.replace(notice, **changes)


def _disarm(text: str | None) -> Any:
    return _DETECTED.sub(WORD_JOINER, text) if text else text


def _units(text: str) -> int:
    """Length in UTF-16 code units (an emoji outside the BMP counts two)."""
    return len(text.encode("utf-16-le")) // 2


def _json(response: requests.Response) -> dict[str, Any]:
    """The Bot API's answer object; {} for anything else (a proxy's page)."""
    try:
        data = json.loads(response.text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _retry_after(answer: dict[str, Any], response: requests.Response) -> float:
    """ResponseParameters.retry_after (seconds), else a Retry-After header."""
    parameters = answer.get("parameters")
    value = parameters.get("retry_after") if isinstance(parameters, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return retry_after(response.headers)


def _hint(status: int, said: str, answer: dict[str, Any]) -> str:
    """What to do about a refusal, in the Bot API's own cases."""
    parameters = answer.get("parameters")
    moved = parameters.get("migrate_to_chat_id") if isinstance(parameters, dict) else None
    if isinstance(moved, int) and not isinstance(moved, bool):
        return (
            f"the group is now a supergroup: set notification.channels.telegram.chat_id to {moved}"
        )
    if status in (401, 404):
        return "check TELEGRAM_BOT_TOKEN (BotFather: /mybots > API Token)"
    if status == 403:
        return (
            "the bot was blocked or is not in the chat: send it /start, or add it to the "
            "group or channel (as an admin for a channel)"
        )
    if "chat not found" in said.lower():
        return "check notification.channels.telegram.chat_id; a user must send the bot /start first"
    return ""

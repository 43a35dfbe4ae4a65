"""Microsoft Teams through a Workflows webhook (Power Automate "When a Teams webhook request
is received"): one Adaptive Card per message (docs/platform-facts.md, "Microsoft Teams
Workflows webhooks"). Office 365 connectors, the old incoming webhooks, are retired.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs, quote, urlsplit

from markupsafe import Markup

from match_staging import render
from match_staging.channels.base import Delivery, Rendered, retry_after
from match_staging.channels.http import Poster, Retry, http_url
from match_staging.channels.teams_settings import TeamsChannel
from match_staging.clock import Clock, Sleep
from match_staging.errors import ConfigError
from match_staging.notices import Payload

if TYPE_CHECKING:  # requests loads when a message is posted, not to write outbox/
    import jinja2
    import requests

CARD_TYPE = "application/vnd.microsoft.card.adaptive"

# Adaptive Card text is a Markdown subset (bold, italic, lists, [links](url)) in TextBlock
# and in Fact.title/Fact.value; a backslash escapes ASCII punctuation (CommonMark). Escaping
# these disarms links, emphasis, list markers, `<at>` mentions, bare-URL autolinks (`\:`)
# and the card's `{{DATE(...)}}` functions.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:&])")


def teams_text(value: Any) -> str:
    """Untrusted text for a card: one line (a newline could start a list), every Markdown
    character escaped.
    """
    if isinstance(value, Markup):
        return str(value)
    text = " ".join(("" if value is None else str(value)).split())
    return _MARKDOWN.sub(r"\\\1", text)


def _json(text: str) -> str:
    """`text` as the inside of a JSON string."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _built(text: str) -> Markup:
    """Text this module escaped for the card and for JSON: printed as it is."""
    return Markup(_json(text))  # noqa: S704 - every untrusted part went through teams_text


def _finalize(value: Any) -> str:
    """Every value a template prints: escaped for the card, then for the JSON around it."""
    if isinstance(value, Markup):
        return str(value)  # built by a filter below, already both
    return _json(teams_text(value))


def _http(url: Any) -> str:
    """`url` when it is an http(s) link, else "" (a match's links are untrusted)."""
    text = "" if url is None else str(url).strip()
    parts = urlsplit(text)
    return text if parts.scheme in ("http", "https") and parts.netloc else ""


def teams_url(url: Any) -> Markup:
    """A URL for `Action.OpenUrl`: http(s) only, else empty."""
    return _built(_http(url))


def teams_link(url: Any, label: Any) -> Markup:
    """`[label](url)` with the label escaped; just the label when the URL is not http(s)."""
    target = _http(url)
    text = teams_text(label)
    if not target:
        return _built(text)
    target = quote(target, safe=":/?&=%#@+,;~!$'*[]").replace("(", "%28").replace(")", "%29")
    return _built(f"[{text}]({target})")


@cache
def _environment(templates_dir: str | None) -> jinja2.Environment:
    """The plain-text environment (the user's templates first) with the card's escaping."""
    env = render.environment(templates_dir, "text").overlay(finalize=_finalize, cache_size=50)
    env.bytecode_cache = render.compiled_templates(f"teams-{render.fingerprint(env)}")
    env.filters = {**env.filters, "teams_link": teams_link, "teams_url": teams_url}
    return env


class Teams:
    """Teams through a Workflows webhook: one Adaptive Card a message, within its size."""

    name: ClassVar[str] = "teams"
    # Teams connector: a posted message is at most about 28 KB, else "Request Entity Too
    # Large"; counted in UTF-8 bytes of the whole request, envelope included
    max_bytes = 28_000  # docs/platform-facts.md, "Microsoft Teams Workflows webhooks"
    max_matches = 40  # matches listed before "+N weitere"
    card_version = "1.4"  # the Adaptive Card schema version the card declares (issue 22)
    min_interval = 1.0  # one message per second: Teams throttles bursts with 429
    attempts = 3
    timeout = 15.0

    def __init__(
        self,
        settings: TeamsChannel,
        templates_dir: str | None = None,
        *,
        session: requests.Session | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        url = settings.webhook_url
        parts = http_url(
            url,
            "notification.channels.teams.webhook_url",
            "must be the Workflows webhook URL (set TEAMS_WEBHOOK_URL as a masked CI/CD variable)",
        )
        # the signature (`sig=`) is what authorises a post: every piece of it is masked
        secrets = [url, parts.path + "?" + parts.query, parts.query, parts.path]
        secrets += [v for values in parse_qs(parts.query).values() for v in values]
        self._templates = templates_dir
        self._poster = Poster(
            self.name,
            url,
            interval=self.min_interval,
            secrets=[s for s in secrets if len(s) > 3],
            session=session,
            clock=clock,
            sleep=sleep,
        )

    def card(self, payload: Payload, shown: int) -> dict[str, Any]:
        """The Adaptive Card from the template, listing the first `shown` matches."""
        name = "alert_teams.json.j2" if payload.alert else "teams.json.j2"
        text = (
            _environment(self._templates)
            .get_template(name)
            .render(
                payload=payload,
                shown=payload.matches[:shown],
                more=len(payload.matches) - shown,
                version=_built(self.card_version),
            )
        )
        try:
            card = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"templates/{name}: does not render JSON ({exc.msg})") from None
        if not isinstance(card, dict):
            raise ConfigError(f"templates/{name}: must render one JSON object, the card")
        return card

    def message(self, payload: Payload) -> dict[str, Any]:
        """The webhook's JSON: the card in a message envelope, cut to `max_bytes` by listing
        fewer matches ("+N weitere").
        """
        shown = min(len(payload.matches), self.max_matches)
        while True:
            body = {
                "type": "message",
                "attachments": [{"contentType": CARD_TYPE, "content": self.card(payload, shown)}],
            }
            if shown == 0 or len(_encode(body)) <= self.max_bytes:
                return body
            shown -= 1

    def render(self, payload: Payload) -> list[Rendered]:
        """The JSON as it would be posted."""
        body = json.dumps(self.message(payload), ensure_ascii=False, indent=2)
        return [Rendered("teams.json", body.encode())]

    def send(self, payload: Payload) -> Delivery:
        """Post the card, paced; a 429 or 500/503 is retried within the run (the workflow
        did not take it); a timeout, 502 or 504 may have been taken: never repeated.
        """
        try:
            data = _encode(self.message(payload))
        except ConfigError as exc:
            return Delivery(self.name, False, f"{exc}: nothing was sent")
        return self._poster.post(
            self._judge,
            attempts=self.attempts,
            timeout=self.timeout,
            data=data,
            headers={"Content-Type": "application/json; charset=utf-8"},
        )

    def _judge(self, response: requests.Response) -> Delivery | Retry:
        """2xx is taken; 429, 500 and 503 took nothing; another 5xx may have; else refused."""
        status = response.status_code
        if 200 <= status < 300:  # Workflows answer 202 Accepted
            return Delivery(self.name, True, "ok")
        answer = f"HTTP {status} {self._answer(response)}".strip()
        if status in (429, 500, 503):
            return Retry(
                f"Teams answered {answer}: nothing was sent", retry_after(response.headers)
            )
        if status >= 500:
            return Delivery(
                self.name,
                False,
                f"Teams answered {answer}: it may have been posted",
                transient=True,
                maybe_delivered=True,
            )
        return Delivery(
            self.name,
            False,
            f"Teams refused the message: {answer}: nothing was sent; {_hint(status)}",
            transient=True,
        )

    def _answer(self, response: requests.Response) -> str:
        """The error's code and message from a Power Automate answer, masked, one line."""
        text = response.text
        try:
            error = json.loads(text).get("error", {})
            text = f"{error.get('code', '')} {error.get('message', '')}"
        except (ValueError, AttributeError):
            pass
        return render.one_line(
            self._poster.mask(text), 200
        )  # masked first: a cut secret is not one


def _hint(status: int) -> str:
    """What to do about a refusal: the next run sends it again."""
    if status in (401, 403, 404):
        return (
            "the workflow is off, deleted or lost its owner, or its URL is wrong: copy the "
            "URL of its trigger into TEAMS_WEBHOOK_URL"
        )
    if status == 413:
        return "the card is too large for Teams"
    return "check templates/teams.json.j2 against the Adaptive Card schema"


def _encode(body: dict[str, Any]) -> bytes:
    """The request body in UTF-8, as its size is counted."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()

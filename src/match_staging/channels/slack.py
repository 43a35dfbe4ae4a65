"""Slack through an incoming webhook: Block Kit plus the fallback `text` that mobile
notifications show (docs/platform-facts.md, "Slack incoming webhooks").
"""

from __future__ import annotations

import json
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from match_staging import clock as clocks
from match_staging import render
from match_staging.channels.base import Delivery, Rendered, request_never_sent, retry_after
from match_staging.channels.slack_settings import SlackChannel
from match_staging.clock import Clock, Sleep
from match_staging.errors import ConfigError
from match_staging.notices import Payload


class Slack:
    """Slack through an incoming webhook, paced and retried within Slack's limits."""

    name: ClassVar[str] = "slack"
    max_blocks = 50  # Slack: at most 50 blocks per message
    section_maxlen = 3000  # Slack: section text at most 3,000 characters
    max_lines = 40  # matches listed before "+N weitere"
    min_interval = 1.0  # Slack: 1 message per second per webhook
    attempts = 3
    timeout = 15.0

    def __init__(
        self,
        settings: SlackChannel,
        templates_dir: str | None = None,
        *,
        session: requests.Session | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        url = settings.webhook_url
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ConfigError(
                "notification.channels.slack.webhook_url: must be the incoming "
                "webhook URL (set SLACK_WEBHOOK_URL as a masked CI/CD variable)"
            )
        self._url = url
        self._host = parts.netloc
        self._templates = templates_dir
        self._session = session or requests.Session()
        self._clock = clock or clocks.system_now
        self._sleep = sleep or clocks.system_sleep
        self._last_sent: float | None = None  # when the last request went out (seconds)

    def _now(self) -> float:
        return self._clock().timestamp()

    def _pace(self) -> None:
        """At most one message per `min_interval` (a clock set back never waits longer)."""
        if self._last_sent is None:
            return
        wait = min(self.min_interval - (self._now() - self._last_sent), self.min_interval)
        if wait > 0:
            self._sleep(wait)

    def _mask(self, text: str) -> str:
        """An error page may echo the request: the webhook's path is its secret."""
        for secret in (self._url, urlsplit(self._url).path):
            if len(secret) > 1:
                text = text.replace(secret, "***")
        return text

    def message(self, payload: Payload) -> dict[str, Any]:
        """The webhook's JSON: Block Kit sections within Slack's limits, and the fallback text."""
        shown = payload.matches[: self.max_lines]
        text = render.render(
            "alert_slack.md.j2" if payload.alert else "slack.md.j2",
            self._templates,
            target="slack",
            payload=payload,
            shown=shown,
            more=len(payload.matches) - len(shown),
        ).strip()
        blocks: list[dict[str, Any]] = []
        chunk = ""
        for line in text.splitlines():
            line = render.truncate(line, self.section_maxlen)
            if chunk and len(chunk) + 1 + len(line) > self.section_maxlen:
                blocks.append(_section(chunk))
                chunk = ""
            chunk = f"{chunk}\n{line}" if chunk else line
        if chunk:
            blocks.append(_section(chunk))
        fallback = render.slack_text(render.truncate(payload.summary, self.section_maxlen))
        return {"text": fallback, "blocks": blocks[: self.max_blocks]}

    def render(self, payload: Payload) -> list[Rendered]:
        """The JSON as it would be posted."""
        body = json.dumps(self.message(payload), ensure_ascii=False, indent=2)
        return [Rendered("slack.json", body.encode())]

    def send(self, payload: Payload) -> Delivery:
        """Post the message, paced; retried on 429 and 5xx before anything was posted."""
        body = self.message(payload)
        detail = "not sent"
        for attempt in range(1, self.attempts + 1):
            self._pace()
            try:
                response = self._session.post(self._url, json=body, timeout=self.timeout)
            except requests.RequestException as exc:
                # never the exception text: it carries the webhook URL, which is the secret
                if request_never_sent(exc):
                    detail = (
                        f"could not connect to {self._host} ({type(exc).__name__}): "
                        "nothing was sent"
                    )
                    continue
                # the request went out and no answer came: Slack may have posted it, and
                # posting again could repeat it
                return Delivery(
                    self.name,
                    False,
                    f"no answer from {self._host} ({type(exc).__name__}): it may have been posted",
                    transient=True,
                    maybe_delivered=True,
                )
            finally:
                self._last_sent = self._now()
            answer = self._mask(" ".join(response.text.split())[:200])
            if response.status_code == 200:
                return Delivery(self.name, True, "ok")
            if response.status_code == 429 or response.status_code >= 500:
                detail = f"Slack answered HTTP {response.status_code} {answer}".strip()
                if attempt < self.attempts:
                    self._sleep(retry_after(response.headers))
                continue
            return Delivery(
                self.name,
                False,
                f"Slack refused the message: HTTP {response.status_code} {answer}".strip(),
            )
        return Delivery(self.name, False, detail, transient=True)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}

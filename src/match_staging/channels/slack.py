"""Slack through an incoming webhook: Block Kit plus the fallback `text` that mobile
notifications show (docs/platform-facts.md, "Slack incoming webhooks").
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from match_staging import render
from match_staging.channels.base import Delivery, Rendered, retry_after
from match_staging.channels.http import Poster, Retry, http_url
from match_staging.channels.slack_settings import SlackChannel
from match_staging.clock import Clock, Sleep
from match_staging.notices import Payload

if TYPE_CHECKING:  # requests loads when a message is posted, not to write outbox/
    import requests


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
        parts = http_url(
            url,
            "notification.channels.slack.webhook_url",
            "must be the incoming webhook URL (set SLACK_WEBHOOK_URL as a masked CI/CD variable)",
        )
        self._templates = templates_dir
        # an error page may echo the request: the webhook's path is its secret
        self._poster = Poster(
            self.name,
            url,
            interval=self.min_interval,
            secrets=[s for s in (url, parts.path) if len(s) > 1],
            session=session,
            clock=clock,
            sleep=sleep,
        )

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
        return self._poster.post(
            self._judge, attempts=self.attempts, timeout=self.timeout, json=self.message(payload)
        )

    def _judge(self, response: requests.Response) -> Delivery | Retry:
        """200 is posted; 429 and 5xx took nothing (Retry-After); anything else a refusal."""
        answer = self._poster.mask(" ".join(response.text.split())[:200])
        if response.status_code == 200:
            return Delivery(self.name, True, "ok")
        if response.status_code == 429 or response.status_code >= 500:
            detail = f"Slack answered HTTP {response.status_code} {answer}".strip()
            return Retry(detail, retry_after(response.headers))
        return Delivery(
            self.name,
            False,
            f"Slack refused the message: HTTP {response.status_code} {answer}".strip(),
        )


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}

"""The Slack channel's declaration: its settings (`notification.channels.slack`), secrets
and preview placeholders. The adapter is `channels.slack.Slack`.
"""

from __future__ import annotations

from dataclasses import dataclass

from match_staging.channels.spec import ChannelSpec, secret


@dataclass
class SlackChannel:
    """The Slack channel's settings."""

    enabled: bool = False
    webhook_url: str = secret()
    channel: str = ""  # informational: app webhooks post where they were installed


SPEC = ChannelSpec(
    name="slack",
    settings=SlackChannel,
    adapter="match_staging.channels.slack:Slack",
    placeholders={"webhook_url": "https://hooks.slack.invalid/services/PREVIEW"},
    env_secrets=("SLACK_WEBHOOK_URL",),
)

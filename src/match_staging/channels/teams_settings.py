"""The Microsoft Teams channel's declaration: its settings (`notification.channels.teams`),
secrets and preview placeholders. The adapter is `channels.teams.Teams`.
"""

from __future__ import annotations

from dataclasses import dataclass

from match_staging.channels.spec import ChannelSpec, secret


@dataclass
class TeamsChannel:
    """The Teams channel's settings: a Workflows webhook ("When a Teams webhook request is
    received"), whose URL carries its signature (`sig=`), so the whole URL is the secret.
    """

    enabled: bool = False
    webhook_url: str = secret()


SPEC = ChannelSpec(
    name="teams",
    settings=TeamsChannel,
    adapter="match_staging.channels.teams:Teams",
    placeholders={
        "webhook_url": "https://teams.invalid/workflows/PREVIEW/triggers/manual/paths/invoke"
    },
    env_secrets=("TEAMS_WEBHOOK_URL",),
)

"""The Telegram channel's declaration: its settings (`notification.channels.telegram`),
secrets and preview placeholders. The adapter is `channels.telegram.Telegram`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from match_staging.channels.spec import ChannelSpec, secret

API_URL = "https://api.telegram.org"


@dataclass
class TelegramChannel:
    """The Telegram channel's settings (a bot of BotFather's, through the Bot API)."""

    enabled: bool = False
    bot_token: str = secret()  # `${TELEGRAM_BOT_TOKEN}`: it travels in the URL path
    chat_id: str = ""  # a user's or group's numeric id, or @channelusername
    api_url: str = API_URL  # a local Bot API server, or a test's


def ci_literals(section: Mapping[str, Any]) -> tuple[str, ...]:
    """The bot token goes to `api_url` in every request: in CI that server is written in the
    file, since a pipeline variable could otherwise choose where the token goes.
    """
    return ("api_url",) if section.get("enabled") not in (False, None) else ()


SPEC = ChannelSpec(
    name="telegram",
    settings=TelegramChannel,
    adapter="match_staging.channels.telegram:Telegram",
    placeholders={"bot_token": "0:PREVIEW", "chat_id": "@preview"},
    env_secrets=("TELEGRAM_BOT_TOKEN",),
    ci_literals=ci_literals,
)

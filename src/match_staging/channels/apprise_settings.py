"""The Apprise channel's declaration: its settings (`notification.channels.apprise`), secrets
and preview placeholder. The adapter is `channels.apprise.Apprise` (extra `apprise`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from match_staging.channels.spec import ChannelSpec

# `${APPRISE_URLS}` may hold several URLs, separated by spaces or commas (issue 22)
_SEPARATORS = re.compile(r"[\s,]+")


@dataclass
class AppriseChannel:
    """The Apprise channel's settings: every URL is a secret (it carries the service's
    token), and each is its own channel in the delivery queue.
    """

    enabled: bool = False
    urls: list[str] = field(default_factory=list, metadata={"secret": True})


def split_urls(settings: AppriseChannel) -> None:
    """One URL per item, whatever the variables held (spaces or commas between them)."""
    settings.urls = [u for item in settings.urls for u in _SEPARATORS.split(item) if u]


def _check(settings: Any) -> None:
    split_urls(settings)


SPEC = ChannelSpec(
    name="apprise",
    settings=AppriseChannel,
    adapter="match_staging.channels.apprise:Apprise",
    placeholders={"urls": "json://localhost.invalid/preview"},
    env_secrets=("APPRISE_URLS",),
    check=_check,
)

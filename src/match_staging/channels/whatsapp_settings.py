"""The WhatsApp channel's declaration: its settings (`notification.channels.whatsapp`),
secrets and preview placeholders. The adapter is `channels.whatsapp.WhatsApp`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from match_staging.channels.spec import ChannelSpec, secret


@dataclass
class WhatsAppChannel:
    """The WhatsApp channel's settings (Twilio)."""

    enabled: bool = False
    provider: Literal["twilio"] = "twilio"
    account_sid: str = secret()
    auth_token: str = secret()
    from_number: str = ""
    to_number: str = ""
    content_sid: str = ""
    messaging_service_sid: str = ""


SPEC = ChannelSpec(
    name="whatsapp",
    settings=WhatsAppChannel,
    adapter="match_staging.channels.whatsapp:WhatsApp",
    placeholders={
        "account_sid": "AC00000000000000000000000000000000",
        "auth_token": "preview",
        "from_number": "+10000000000",
        "to_number": "+10000000000",
    },
    env_secrets=("TWILIO_AUTH_TOKEN",),
)

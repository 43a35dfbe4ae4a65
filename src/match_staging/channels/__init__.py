"""Notification channels, one module each. Each is imported only when enabled, so the
Twilio and Google SDKs (extras `whatsapp`, `gmail`) load only when their channel is used."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from match_staging.channels.base import Channel, Delivery, Rendered
from match_staging.config import Config
from match_staging.notices import Payload

T = TypeVar("T")


def build(cfg: Config, *, sending: bool = True) -> list[Channel]:
    """The enabled channels, validated now (ConfigError names the key). With sending=False
    (local tracker, preview) missing secrets are replaced by placeholders: nothing is sent."""
    channels = cfg.notification.channels
    templates = cfg.staging.templates_dir
    built: list[Channel] = []
    if channels.email.enabled:
        from match_staging.channels.email import Email

        email = channels.email if sending else _placeholders(channels.email)
        built.append(Email(email, templates,
                           reminder_hours=cfg.notification.preferences.reminder_after_hours))
    if channels.slack.enabled:
        from match_staging.channels.slack import Slack

        built.append(Slack(channels.slack if sending else _placeholders(channels.slack),
                           templates))
    if channels.whatsapp.enabled:
        from match_staging.channels.whatsapp import WhatsApp

        built.append(WhatsApp(channels.whatsapp if sending
                              else _placeholders(channels.whatsapp), templates))
    return built


_PLACEHOLDERS = {
    "webhook_url": "https://hooks.slack.invalid/services/PREVIEW",
    "account_sid": "AC00000000000000000000000000000000", "auth_token": "preview",
    "from_number": "+10000000000", "to_number": "+10000000000",
    "host": "smtp.invalid", "sender": "match-staging <preview@localhost>",
    "credentials_file": "preview-credentials.json",
}


def _placeholders(settings: T) -> T:
    """Fill empty settings so a channel can render without its secrets."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(settings):  # type: ignore[arg-type]
        value = getattr(settings, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes[f.name] = _placeholders(value)
        elif value == "" and f.name in _PLACEHOLDERS:
            changes[f.name] = _PLACEHOLDERS[f.name]
    return dataclasses.replace(settings, **changes)  # type: ignore[type-var]


def safe_folder_name(text: str) -> str:
    """A cycle id as one folder name: no separators, never "." or ".." (untrusted text)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")
    return name or "cycle"


class Outbox:
    """Writes what a channel would send into outbox/ instead (the local tracker, preview)."""

    name: ClassVar[str] = "outbox"

    def __init__(self, inner: Channel, folder: Path) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]
        self.folder = folder

    def render(self, payload: Payload) -> list[Rendered]:
        return self.inner.render(payload)

    def send(self, payload: Payload) -> Delivery:
        cycle = safe_folder_name(payload.cycle_id)
        folder = self.folder / cycle
        folder.mkdir(parents=True, exist_ok=True)
        suffix = "" if len(payload.matches) != 1 else f"-{payload.matches[0].iid}"
        written = []
        for file in self.render(payload):
            stem, dot, ext = file.name.partition(".")
            path = folder / f"{payload.kind}-{stem}{suffix}{dot}{ext}"
            path.write_bytes(file.content)
            written.append(str(path))
        return Delivery(self.inner.name, True, "written to " + ", ".join(written))

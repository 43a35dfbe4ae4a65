"""Notification channels, one module each. Each is imported only when enabled, so the
Twilio and Google SDKs (extras `whatsapp`, `gmail`) load only when their channel is used.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from match_staging.channels.base import Channel, Delivery, Rendered
from match_staging.channels.registry import specs
from match_staging.channels.spec import with_placeholders
from match_staging.clock import Clock, Sleep

if TYPE_CHECKING:
    from match_staging.config import Config
    from match_staging.notices import Payload


def build(
    cfg: Config, *, sending: bool = True, clock: Clock | None = None, sleep: Sleep | None = None
) -> list[Channel]:
    """The enabled channels, validated now (ConfigError names the key). With sending=False
    (local tracker, preview) missing secrets are replaced by placeholders: nothing is sent.
    `clock` and `sleep` are the run's (None: the real ones, looked up when needed).
    """
    built: list[Channel] = []
    for spec in specs():
        settings = getattr(cfg.notification.channels, spec.name)
        if not settings.enabled:
            continue
        if not sending:
            settings = with_placeholders(settings, spec.placeholders)
        adapter = spec.load_adapter()
        channel = adapter(
            settings, cfg.staging.templates_dir, clock=clock, sleep=sleep, **spec.options(cfg)
        )
        # a channel of several destinations (Apprise: one per URL) is one channel each, so
        # each has its own entry in the delivery queue
        built.extend(channel.each() if hasattr(channel, "each") else [channel])
    return built


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
        """The inner channel's files."""
        return self.inner.render(payload)

    def send(self, payload: Payload) -> Delivery:
        """Write the files instead of sending; the Delivery names them."""
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

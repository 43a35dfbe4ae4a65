"""What a notification channel is. Apprise-style: settings are validated when the adapter is
built (a ConfigError naming the key); `send()` returns a Delivery and never raises, so one
dead channel never stops another; limits are named class attributes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from email.headerregistry import Address
    from email.message import EmailMessage

    from match_staging.clock import Clock, Sleep
    from match_staging.notices import Payload


MAX_RETRY_AFTER_SECONDS = 120.0  # never wait longer than this for one rate limit


@dataclass(frozen=True)
class Delivery:
    """The outcome of one message on one channel, in words a user can act on.

    One rule for every channel: a failure before anything left the machine (credentials, a
    token refresh, a refused connection, an unknown host) is `transient` and the next run
    sends it; a failure after the request may have been received (a timeout waiting for the
    answer, a connection dropped mid-way, a server error) is `maybe_delivered` and is never
    sent again by a later run (`send --force` for an application).
    """

    channel: str
    ok: bool
    detail: str = ""
    transient: bool = False  # worth retrying on the next run without changing anything
    # failed without an answer after the message was handed over: it may have arrived, so
    # sending it again could repeat it (exactly-once needs the caller to decide)
    maybe_delivered: bool = False


@dataclass(frozen=True)
class Rendered:
    """One file of a rendered message, for outbox/ and `preview`."""

    name: str  # e.g. "email.eml"; the caller prefixes it
    content: bytes


class Channel(Protocol):
    """A notification channel. Built as `Adapter(settings, templates_dir, *, clock=None,
    sleep=None, **options)`: clock and sleep are the run's, None meaning the real ones
    looked up when needed, so that nothing here reads the time or waits on its own.
    """

    name: ClassVar[str]  # "email", "slack", "whatsapp": also the queue label's suffix

    def render(self, payload: Payload) -> list[Rendered]:
        """The message as files, exactly as send() would send it. No network."""

    def send(self, payload: Payload) -> Delivery:
        """Deliver one message. Never raises; never puts a secret into `detail`."""


class Mailer(Protocol):
    """What `send` needs to submit an application: an address to send from, and one
    delivery that never repeats a message that may have gone out.
    """

    @property
    def sender(self) -> Address:
        """The address an application goes out from."""

    def deliver(self, msg: EmailMessage, to: Sequence[Address]) -> Delivery:
        """Send `msg` to `to` once; never raises."""


class OutboxMailer:
    """The embedded local tracker's mailer: the application is written to outbox/."""

    def __init__(
        self, folder: Path, sender: str, *, clock: Clock | None = None, sleep: Sleep | None = None
    ) -> None:
        from email.headerregistry import Address
        from email.utils import parseaddr

        self.folder = folder
        name, address = parseaddr(sender)
        self._sender = Address(display_name=name, addr_spec=address or "match-staging@localhost")

    @property
    def sender(self) -> Address:
        """The address an application goes out from."""
        return self._sender

    def deliver(self, msg: EmailMessage, to: Sequence[Address]) -> Delivery:
        """Write `msg` into the outbox folder as an .eml file."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "-", str(msg["Message-ID"] or "application")).strip("-.")
        path = self.folder / f"{name or 'application'}.eml"
        path.write_bytes(bytes(msg))
        return Delivery("email", True, f"written to {path}")


def retry_after(headers: Mapping[str, str], default: float = 1.0) -> float:
    """Seconds to wait from a Retry-After header (seconds form), bounded."""
    raw = headers.get("Retry-After") or headers.get("retry-after")
    try:
        wait = float(raw) if raw is not None else default
    except ValueError:
        wait = default
    return min(max(wait, 0.0), MAX_RETRY_AFTER_SECONDS)


def request_never_sent(exc: BaseException) -> bool:
    """A `requests` failure that happened before the request left: the connection was never
    opened (refused, unresolvable host, connect timeout) or TLS failed before any byte of the
    request (urllib3 raises SSLError from the handshake). A read timeout or a connection
    dropped after connecting (`ProtocolError`, `ChunkedEncodingError`) may follow a request
    the server received.
    """
    import requests
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    if isinstance(exc, requests.ConnectTimeout | requests.exceptions.SSLError):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(
        reason, NewConnectionError | NameResolutionError
    )

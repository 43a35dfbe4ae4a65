"""What carries a composed email: one interface, SMTP and the Gmail API behind it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Protocol

from match_staging import render
from match_staging.channels.base import Delivery

NAME = "email"  # the channel a transport's Delivery belongs to
ANSWER_MAXLEN = 300  # characters of a server's answer kept in Delivery.detail


class Transport(Protocol):
    """Sends one composed message. Settings are checked when it is built (ConfigError
    naming the key); `send` never raises, never sends a message twice where it may have
    gone out (base.Delivery's rule), and never puts a secret into the detail.
    """

    def send(
        self, msg: EmailMessage, sender: Address, to: Sequence[Address], *, once: bool = False
    ) -> Delivery:
        """`once`: not even a retry after a server error that may have followed a send
        (the application `send` submits).
        """


def outcome(
    ok: bool,
    detail: str,
    *,
    transient: bool = False,
    maybe_delivered: bool = False,
    secrets: Iterable[str] = (),
) -> Delivery:
    """An email Delivery whose detail has every secret of `secrets` masked."""
    for value in secrets:
        if value and len(value) >= 4:
            detail = detail.replace(value, "***")
    return Delivery(NAME, ok, detail, transient, maybe_delivered)


def answer(code: int, message: bytes | str) -> str:
    """A server's reply code and text on one bounded line."""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return f"{code} {render.one_line(text, ANSWER_MAXLEN)}".strip()

"""A mailer (`channels.base.Mailer`) that keeps each message it is handed and answers with
`answer`: what the gate's send step talks to in the use-case tests, without SMTP."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage

from match_staging.channels.base import Delivery

ACCEPTED = Delivery("email", True, "250 OK")


@dataclass
class Mailbox:
    """Keeps each message; answers with `answer` (ACCEPTED, or a refusal a test sets)."""

    answer: Delivery = ACCEPTED
    messages: list[EmailMessage] = field(default_factory=list)

    @property
    def sender(self) -> Address:
        return Address("Me", addr_spec="me@example.com")

    def deliver(self, msg: EmailMessage, to: Sequence[Address]) -> Delivery:
        self.messages.append(msg)
        return self.answer

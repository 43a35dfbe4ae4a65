"""The email channel's declaration: its settings (`notification.channels.email`), secrets
and preview placeholders. The adapter is `channels.email.Email`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from match_staging.channels.spec import ChannelSpec, key, secret
from match_staging.config import Config
from match_staging.errors import ConfigError

KEY = "notification.channels.email"


@dataclass
class SmtpSettings:
    """`notification.channels.email.smtp`."""

    host: str = ""
    port: int = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str = ""
    password: str = secret()
    timeout: float = 30.0


@dataclass
class GmailSettings:
    """`notification.channels.email.gmail`."""

    credentials_file: str = ""  # path of an authorized-user JSON (a CI/CD file variable)


@dataclass
class EmailChannel:
    """The email channel's settings."""

    enabled: bool = False
    recipients: list[str] = field(default_factory=list)
    template: str = "match_summary"
    transport: Literal["gmail", "smtp"] = "smtp"
    sender: str = key("from", "")
    subject_prefix: str = "[match-staging]"
    gmail: GmailSettings = field(default_factory=GmailSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    # why `from` has the value it has when the file left it unset (shown by `config`)
    sender_origin: str = field(default="", metadata={"internal": True})


def of(cfg: Config) -> EmailChannel:
    """The email section of `cfg`, typed (config holds each channel's section by name)."""
    settings = cfg.notification.channels.by_name[SPEC.name]
    assert isinstance(settings, EmailChannel)
    return settings


def check(email: EmailChannel) -> None:
    """What loading the configuration checks and settles for email."""
    if not 0 < email.smtp.port < 65536:
        raise ConfigError(f"{KEY}.smtp.port: no such port: {email.smtp.port}")
    default_sender(email)


def default_sender(email: EmailChannel) -> None:
    """The email settings may omit `from`: choose one rather than refuse every command.
    The SMTP user when it is an address (the server accepts it as sender), else the first
    recipient (with Gmail the authenticated account is not known without a request).
    """
    if email.sender.strip():
        return
    username = email.smtp.username.strip()
    if email.transport == "smtp" and "@" in username:
        email.sender, email.sender_origin = username, "the SMTP user (smtp.username)"
    elif email.recipients and email.recipients[0].strip():
        email.sender = email.recipients[0].strip()
        email.sender_origin = "the first recipient" + (
            " (the authenticated Gmail account cannot be known offline: set `from` to send "
            "as another address)"
            if email.transport == "gmail"
            else ""
        )


def _options(cfg: Config) -> dict[str, object]:
    return {"reminder_hours": cfg.notification.preferences.reminder_after_hours}


def ci_literals(section: Mapping[str, Any]) -> tuple[str, ...]:
    """Where email goes out over SMTP, the server it goes to (and the SMTP login with it)
    is written in the file in CI: a pipeline variable could otherwise choose it.
    """
    by_smtp = section.get("enabled") not in (False, None) and section.get("transport") != "gmail"
    return ("smtp.host", "smtp.port") if by_smtp else ()


SPEC = ChannelSpec(
    name="email",
    settings=EmailChannel,
    adapter="match_staging.channels.email:Email",
    placeholders={
        "host": "smtp.invalid",
        "sender": "match-staging <preview@match-staging.invalid>",
        "credentials_file": "preview-credentials.json",
    },
    env_secrets=("SMTP_PASSWORD",),
    check=check,
    options=_options,
    ci_literals=ci_literals,
)

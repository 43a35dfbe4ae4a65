"""Email through SMTP or the Gmail API (docs/platform-facts.md, "Gmail API and SMTP").

One multipart/alternative message: a plain-text part and an autoescaped HTML part, rendered
from `{template}.txt.j2` / `{template}.html.j2`. The channel composes the message; a
transport (`smtp`, `gmail`, behind `transport.Transport`) carries it. The Google libraries
load only when the `gmail` transport sends (the optional `gmail` extra).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr
from typing import Any, ClassVar
from urllib.parse import urlsplit

import jinja2

from match_staging import clock as clocks
from match_staging import render
from match_staging.channels.base import Delivery, Rendered
from match_staging.channels.email.gmail import GMAIL_SCOPES as GMAIL_SCOPES
from match_staging.channels.email.gmail import GmailTransport
from match_staging.channels.email.gmail import RequestNotRepeated as RequestNotRepeated
from match_staging.channels.email.gmail import gmail_http as gmail_http
from match_staging.channels.email.smtp import SmtpTransport
from match_staging.channels.email.smtp import connect_smtp as connect_smtp
from match_staging.channels.email.transport import Transport, outcome
from match_staging.channels.email_settings import KEY, EmailChannel
from match_staging.clock import Clock, Sleep
from match_staging.errors import ConfigError
from match_staging.notices import Notice, Payload

SUBJECT_TEMPLATE = "email_subject.txt.j2"
ALERT_SUBJECT_TEMPLATE = "alert_subject.txt.j2"
ALERT_TEMPLATE = "alert"  # alert.txt.j2 and alert.html.j2: an operator alert, not matches


class Email:
    """The email channel, and the Mailer `send` submits applications with."""

    name: ClassVar[str] = "email"
    subject_maxlen = 200  # longer subjects are cut with "…" (RFC 5322 allows 998/line)
    max_recipients = 50  # Gmail and most SMTP relays limit recipients per message

    def __init__(
        self,
        settings: EmailChannel,
        templates_dir: str | None = None,
        *,
        reminder_hours: float = 24,
        transport: Transport | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self._settings = settings
        self._templates = templates_dir
        self._reminder_hours = reminder_hours
        self._clock = clock or clocks.system_now
        self._sender = _address(settings.sender, f"{KEY}.from", "must be set")
        if not settings.recipients:
            raise ConfigError(f"{KEY}.recipients: at least one address is needed")
        if len(settings.recipients) > self.max_recipients:
            raise ConfigError(
                f"{KEY}.recipients: at most {self.max_recipients} addresses, "
                f"got {len(settings.recipients)}"
            )
        self._recipients = tuple(
            _address(r, f"{KEY}.recipients[{i}]", "must not be empty")
            for i, r in enumerate(settings.recipients)
        )
        self._prefix = " ".join(settings.subject_prefix.split())
        self._check_templates()
        self._transport = transport or make_transport(settings, sleep=sleep)

    def _check_templates(self) -> None:
        name = self._settings.template
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise ConfigError(
                f"{KEY}.template: must be a template name such as match_summary, got {name!r}"
            )
        for file, target in (
            (SUBJECT_TEMPLATE, "text"),
            (f"{name}.txt.j2", "text"),
            (f"{name}.html.j2", "html"),
        ):
            try:
                render.environment(self._templates, target).get_template(file)
            except jinja2.TemplateNotFound:
                raise ConfigError(
                    f"{KEY}.template: no template {file} in the templates "
                    "folder or the shipped ones"
                ) from None
            except jinja2.TemplateSyntaxError as exc:
                raise ConfigError(
                    f"{KEY}.template: {file} line {exc.lineno}: {exc.message}"
                ) from None

    # --- the message --------------------------------------------------------------------

    def subject(self, payload: Payload) -> str:
        """The subject line: the template's text on one line, cut to subject_maxlen."""
        text = render.render(
            ALERT_SUBJECT_TEMPLATE if payload.alert else SUBJECT_TEMPLATE,
            self._templates,
            target="text",
            payload=payload,
            prefix=self._prefix,
        )
        return render.one_line(text, self.subject_maxlen)

    def _compose(self, payload: Payload) -> tuple[EmailMessage, str]:
        subject = self.subject(payload)
        name = ALERT_TEMPLATE if payload.alert else self._settings.template
        # the weekly stats' band chart (notices.Message.chart), inline in the HTML part
        shown = payload.alert.messages if payload.alert else ()
        chart = next((m.chart for m in shown if m.chart), b"")
        cid = make_msgid("chart", domain=self._sender.domain) if chart else ""
        context: dict[str, Any] = {
            "prefix": self._prefix,
            "subject": subject,
            "reminder_hours": self._reminder_hours,
            "chart_cid": cid[1:-1],  # the Content-ID without its <>: `cid:` URLs omit them
        }
        text = render.render(
            f"{name}.txt.j2",
            self._templates,
            target="text",
            payload=_tidy(payload, html=False),
            **context,
        )
        html = render.render(
            f"{name}.html.j2",
            self._templates,
            target="html",
            payload=_tidy(payload, html=True),
            **context,
        )
        msg = EmailMessage(policy=SMTP_POLICY)
        msg["Subject"] = subject
        msg["From"] = self._sender
        msg["To"] = self._recipients
        msg["Date"] = format_datetime(self._clock())
        msg["Message-ID"] = make_msgid("match-staging", domain=self._sender.domain)
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        # multipart/related around the HTML (RFC 2387), the image referenced as cid: (RFC 2392)
        if chart and (html_part := msg.get_body(("html",))) is not None:
            html_part.add_related(chart, "image", "png", cid=cid)
        # as for the application (usecases/send.py): bodies are encoded; headers may be 998
        # long, so the Message-ID is not folded onto a line of its own
        msg.policy = msg.policy.clone(max_line_length=998)
        return msg, html

    def message(self, payload: Payload) -> EmailMessage:
        """The notification as it would be sent."""
        return self._compose(payload)[0]

    def render(self, payload: Payload) -> list[Rendered]:
        """The message as files: the whole .eml and its HTML part."""
        msg, html = self._compose(payload)
        return [Rendered("email.eml", bytes(msg)), Rendered("email.html", html.encode())]

    # --- sending ------------------------------------------------------------------------

    def send(self, payload: Payload) -> Delivery:
        """Compose and send the notification to the configured recipients."""
        try:
            msg = self.message(payload)
        except Exception as exc:  # a user's template can fail; one channel never stops others
            return self._masked(
                outcome(
                    False,
                    f"could not render the email "
                    f"({type(exc).__name__}: {render.one_line(str(exc), 200)})",
                )
            )
        return self._masked(self._transport.send(msg, self._sender, self._recipients))

    @property
    def sender(self) -> Address:
        """The address messages go out from."""
        return self._sender

    def deliver(self, msg: EmailMessage, to: Sequence[Address]) -> Delivery:
        """Send a message composed elsewhere (the application `send` submits) to `to`;
        never twice: no retry after an answer that leaves it unclear whether it went out.
        """
        return self._masked(self._transport.send(msg, self._sender, tuple(to), once=True))

    def _masked(self, delivery: Delivery) -> Delivery:
        """The SMTP password never shows, whichever transport wrote the detail."""
        password = self._settings.smtp.password
        if not password or len(password) < 4 or password not in delivery.detail:
            return delivery
        return dataclasses.replace(delivery, detail=delivery.detail.replace(password, "***"))


def make_transport(settings: EmailChannel, *, sleep: Sleep | None = None) -> Transport:
    """The transport `settings.transport` names, its settings checked (ConfigError)."""
    if settings.transport == "smtp":
        return SmtpTransport(settings.smtp)
    if settings.transport == "gmail":
        return GmailTransport(settings.gmail, sleep=sleep)
    raise ConfigError(f"{KEY}.transport: must be one of gmail, smtp, got {settings.transport!r}")


def _address(raw: str, key: str, empty: str) -> Address:
    """One mailbox (`Name <addr@host>` or `addr@host`), refusing anything that could
    smuggle a header or a second address.
    """
    text = (raw or "").strip()
    if not text:
        raise ConfigError(f"{key}: {empty}")
    if any(c in text for c in "\r\n\0") or len(getaddresses([text])) != 1:
        raise ConfigError(f"{key}: must be one email address, got {raw!r}")
    name, addr = parseaddr(text)
    try:
        address = Address(display_name=name, addr_spec=addr)
    except (HeaderParseError, ValueError, IndexError):
        address = None
    if (
        address is None
        or not addr
        or not address.username
        or "." not in address.domain
        or any(c.isspace() or c in "<>,;" for c in addr)
    ):
        raise ConfigError(f"{key}: not an email address: {raw!r}")
    return address


def _web_link(url: str) -> str:
    """Only http(s) links become HTML hrefs (no javascript:, data: and the like)."""
    return url if urlsplit(url.strip()).scheme.lower() in ("http", "https") else ""


def _single(value: Any) -> Any:
    return " ".join(value.split()) if isinstance(value, str) else value


def _tidy(payload: Payload, *, html: bool) -> Payload:
    """The payload as the templates see it: untrusted text on one line each (a title can
    not forge an "Issue:" line of its own), and in HTML only web links.
    """

    def tidy(n: Notice) -> Notice:
        fields = {
            f: _single(getattr(n, f))
            for f in ("title", "provider", "location", "start", "duration", "rate")
        }
        if html:
            fields.update(issue_url=_web_link(n.issue_url), source_url=_web_link(n.source_url))
        return dataclasses.replace(n, **fields)

    review = _web_link(payload.review_url) if html else payload.review_url
    alert = payload.alert
    if alert is not None and html:
        alert = dataclasses.replace(
            alert,
            tokens_url=_web_link(alert.tokens_url),
            variables_url=_web_link(alert.variables_url),
            hooks_url=_web_link(alert.hooks_url),
        )
    return dataclasses.replace(
        payload, matches=tuple(tidy(n) for n in payload.matches), review_url=review, alert=alert
    )

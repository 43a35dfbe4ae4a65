"""Email over SMTP: STARTTLS, implicit TLS or plain, as `smtp.security` says (never the
port). Only a server's code and answer reach a Delivery, never an exception's text.
"""

from __future__ import annotations

import contextlib
import functools
import smtplib
import socket
import ssl
from collections.abc import Callable, Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Literal

from match_staging.channels.base import Delivery
from match_staging.channels.email.transport import answer, outcome
from match_staging.channels.email_settings import KEY, SmtpSettings
from match_staging.errors import ConfigError

Security = Literal["starttls", "ssl", "none"]
SmtpFactory = Callable[[Security, str, int, float, ssl.SSLContext], smtplib.SMTP]
"""(security, host, port, timeout, tls context) -> a connected client. `ssl` must already be
encrypted (implicit TLS); the transport itself upgrades `starttls` connections."""

SECURITY_HINT = f"check {KEY}.smtp.security (starttls on 587, ssl on 465)"


def connect_smtp(
    security: Security, host: str, port: int, timeout: float, context: ssl.SSLContext
) -> smtplib.SMTP:
    """The default SMTP factory: the security mode decides, never the port."""
    if security == "ssl":
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    return smtplib.SMTP(host, port, timeout=timeout)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The one TLS context of the process: loading the system's CA store costs 20 to 30 ms of
    CPU, and a context is not changed by the connections that use it (`ssl` shares one between
    threads too), so every message, channel and run of a process share it.
    """
    return ssl.create_default_context()  # verifies the server's certificate and host name


def check(smtp: SmtpSettings) -> None:
    """The SMTP settings, checked when the channel is built."""
    if not smtp.host.strip():
        raise ConfigError(f"{KEY}.smtp.host: must be set (SMTP_HOST)")
    if any(c.isspace() for c in smtp.host) or "/" in smtp.host:
        raise ConfigError(f"{KEY}.smtp.host: must be a host name, got {smtp.host!r}")
    if not 0 < smtp.port < 65536:
        raise ConfigError(f"{KEY}.smtp.port: no such port: {smtp.port}")
    if smtp.security not in ("starttls", "ssl", "none"):
        raise ConfigError(
            f"{KEY}.smtp.security: must be one of starttls, ssl, none, got {smtp.security!r}"
        )
    if smtp.timeout <= 0:
        raise ConfigError(f"{KEY}.smtp.timeout: must be positive")
    if smtp.username and not smtp.password:
        raise ConfigError(
            f"{KEY}.smtp.password: must be set when smtp.username is "
            "(SMTP_PASSWORD; for Gmail an App Password)"
        )


class SmtpTransport:
    """One connection per message; SMTP never retries within a run."""

    def __init__(self, settings: SmtpSettings, factory: SmtpFactory = connect_smtp) -> None:
        check(settings)
        self._smtp = settings
        self._factory = factory
        self._where = f"{settings.host}:{settings.port}"

    def _done(
        self, ok: bool, detail: str, *, transient: bool = False, maybe_delivered: bool = False
    ) -> Delivery:
        return outcome(
            ok,
            detail,
            transient=transient,
            maybe_delivered=maybe_delivered,
            secrets=(self._smtp.password,),
        )

    def send(
        self, msg: EmailMessage, sender: Address, to: Sequence[Address], *, once: bool = False
    ) -> Delivery:
        """Hand `msg` to the server for `to`; SMTP sends once anyway (`once` changes nothing)."""
        smtp = self._smtp
        client: smtplib.SMTP | None = None
        stage = "connect"
        try:
            context = tls_context()
            client = self._factory(smtp.security, smtp.host, smtp.port, smtp.timeout, context)
            if smtp.security == "starttls":
                stage = "starttls"
                client.starttls(context=context)
            if smtp.username:
                stage = "login"
                client.login(smtp.username, smtp.password)
            stage = "send"
            refused = client.send_message(
                msg, from_addr=sender.addr_spec, to_addrs=[r.addr_spec for r in to]
            )
        except Exception as exc:  # never raise: one dead channel never stops another
            return self._failure(exc, stage, sender)
        finally:
            if client is not None:
                _quit(client)
        sent = len(to) - len(refused)
        detail = f"sent to {sent} recipient{'s' if sent != 1 else ''} via {self._where}"
        if refused:
            detail += f"; refused: {_refusals(refused)}"
        return self._done(True, detail)

    def _failure(self, exc: Exception, stage: str, sender: Address) -> Delivery:
        """A failed SMTP exchange in words a user can act on."""
        if isinstance(
            exc,
            smtplib.SMTPResponseException
            | smtplib.SMTPNotSupportedError
            | smtplib.SMTPRecipientsRefused,
        ):
            return self._refused(exc, stage, sender)
        return self._lost(exc, stage)

    def _refused(self, exc: Exception, stage: str, sender: Address) -> Delivery:
        """The server answered with a refusal: nothing was taken; 4xx is worth a retry."""
        where = self._where
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return self._done(
                False,
                f"SMTP login refused for user {self._smtp.username} by "
                f"{where}: {answer(exc.smtp_code, exc.smtp_error)}",
                transient=_temporary(exc.smtp_code),
            )
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            what = {"starttls": "STARTTLS", "login": "AUTH (login)"}.get(stage, "a command")
            return self._done(False, f"{where} does not offer {what}: {SECURITY_HINT}")
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = [code for code, _ in exc.recipients.values()]
            return self._done(
                False,
                f"{where} refused every recipient: {_refusals(exc.recipients)}",
                transient=bool(codes) and all(map(_temporary, codes)),
            )
        assert isinstance(exc, smtplib.SMTPResponseException)
        if isinstance(exc, smtplib.SMTPSenderRefused):
            what = f"the sender {sender.addr_spec}"
        else:  # connect, HELO, DATA, ...
            what = "the message" if stage == "send" else f"the connection ({stage})"
        return self._done(
            False,
            f"{where} refused {what}: {answer(exc.smtp_code, exc.smtp_error)}",
            transient=_temporary(exc.smtp_code),
        )

    def _lost(self, exc: Exception, stage: str) -> Delivery:
        """No answer, or a broken connection: lost while the message was handed over, the
        server may have taken it (maybe_delivered); before that, nothing left.
        """
        where = self._where
        unsure = stage == "send"
        if isinstance(exc, smtplib.SMTPServerDisconnected) and not isinstance(
            exc.__context__, TimeoutError
        ):
            return self._done(
                False,
                f"{where} closed the connection ({stage})",
                transient=True,
                maybe_delivered=unsure,
            )
        if isinstance(exc, smtplib.SMTPServerDisconnected | TimeoutError):  # timed out
            return self._done(
                False,
                f"no answer from {where} within {self._smtp.timeout:g} s ({stage})",
                transient=True,
                maybe_delivered=unsure,
            )
        if isinstance(exc, ssl.SSLError):
            reason = exc.reason or type(exc).__name__
            return self._done(False, f"TLS with {where} failed ({reason}): {SECURITY_HINT}")
        if isinstance(exc, socket.gaierror):
            return self._done(
                False, f"could not resolve the host of {where} ({KEY}.smtp.host)", transient=True
            )
        if isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException):
            reason = exc.strerror or type(exc).__name__
            if unsure:
                return self._done(
                    False,
                    f"connection to {where} failed while sending ({reason})",
                    transient=True,
                    maybe_delivered=True,
                )
            return self._done(False, f"could not connect to {where} ({reason})", transient=True)
        return self._done(False, f"SMTP failed with {where} at {stage} ({type(exc).__name__})")


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{addr} ({answer(code, text)})" for addr, (code, text) in sorted(refused.items())
    )


def _temporary(code: int) -> bool:
    """SMTP 4xx replies are temporary (RFC 5321 4.2.1); a retry on the next run may work."""
    return 400 <= code < 500


def _quit(client: smtplib.SMTP) -> None:
    """Best effort: the message is out or has already failed."""
    try:
        client.quit()
    except Exception:
        with contextlib.suppress(Exception):
            client.close()

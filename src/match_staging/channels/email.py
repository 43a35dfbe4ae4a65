"""Email through SMTP or the Gmail API (docs/platform-facts.md, "Gmail API and SMTP").

One multipart/alternative message: a plain-text part and an autoescaped HTML part, rendered
from `{template}.txt.j2` / `{template}.html.j2`. The Google libraries load only when the
`gmail` transport sends (they are the optional `gmail` extra, about 114 MB installed)."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import errno
import importlib.util
import json
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

import jinja2

from match_staging import render
from match_staging.channels.base import DEFAULT_SLEEP, Delivery, Rendered, Sleep, retry_after
from match_staging.config import EmailChannel
from match_staging.errors import ConfigError
from match_staging.notices import Notice, Payload

KEY = "notification.channels.email"
GMAIL_SCOPES = ["https://www.googleapis.com/auth/gmail.send"]
# Gmail's per-project and per-user limits answer 403 with these reasons (developers.google.
# com/workspace/gmail/api/reference/quota); Google asks for a retry with exponential
# backoff, as for 429 (.../gmail/api/guides/handle-errors).
GMAIL_RATE_LIMITS = ("userRateLimitExceeded", "rateLimitExceeded")
# errno values of a connect() that never reached the server
_UNREACHABLE = (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.ECONNREFUSED)
SUBJECT_TEMPLATE = "email_subject.txt.j2"

Security = Literal["starttls", "ssl", "none"]
SmtpFactory = Callable[[Security, str, int, float, ssl.SSLContext], smtplib.SMTP]
"""(security, host, port, timeout, tls context) -> a connected client. `ssl` must already be
encrypted (implicit TLS); the channel itself upgrades `starttls` connections."""


def connect_smtp(security: Security, host: str, port: int, timeout: float,
                 context: ssl.SSLContext) -> smtplib.SMTP:
    """The default SMTP factory: the security mode decides, never the port."""
    if security == "ssl":
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    return smtplib.SMTP(host, port, timeout=timeout)


class _Unusable(Exception):
    """A send-time problem with a clear, secret-free message (e.g. the credentials file)."""


class Email:
    name: ClassVar[str] = "email"
    subject_maxlen = 200        # longer subjects are cut with "…" (RFC 5322 allows 998/line)
    max_recipients = 50         # Gmail and most SMTP relays limit recipients per message
    answer_maxlen = 300         # characters of a server's answer kept in Delivery.detail
    gmail_attempts = 2          # one retry after 429/5xx, honouring Retry-After

    def __init__(self, settings: EmailChannel, templates_dir: str | None = None, *,
                 reminder_hours: float = 24, smtp_factory: SmtpFactory = connect_smtp,
                 gmail_service: Any = None, sleep: Sleep = DEFAULT_SLEEP) -> None:
        self._settings = settings
        self._templates = templates_dir
        self._reminder_hours = reminder_hours
        self._smtp_factory = smtp_factory
        self._gmail_service = gmail_service
        self._sleep = sleep
        self._secrets: list[str] = []  # learnt from the credentials file, masked in details
        self._gmail_creds: Any = None  # the authorized-user credentials, once loaded
        self._context: ssl.SSLContext | None = None
        self._sender = _address(settings.sender, f"{KEY}.from", "must be set")
        if not settings.recipients:
            raise ConfigError(f"{KEY}.recipients: at least one address is needed")
        if len(settings.recipients) > self.max_recipients:
            raise ConfigError(f"{KEY}.recipients: at most {self.max_recipients} addresses, "
                              f"got {len(settings.recipients)}")
        self._recipients = tuple(_address(r, f"{KEY}.recipients[{i}]", "must not be empty")
                                 for i, r in enumerate(settings.recipients))
        self._prefix = " ".join(settings.subject_prefix.split())
        self._check_templates()
        if settings.transport == "smtp":
            self._check_smtp()
        elif settings.transport == "gmail":
            self._check_gmail()
        else:
            raise ConfigError(f"{KEY}.transport: must be one of gmail, smtp, "
                              f"got {settings.transport!r}")

    # --- validation -------------------------------------------------------------------

    def _check_templates(self) -> None:
        name = self._settings.template
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise ConfigError(f"{KEY}.template: must be a template name such as "
                              f"match_summary, got {name!r}")
        for file, target in ((SUBJECT_TEMPLATE, "text"), (f"{name}.txt.j2", "text"),
                             (f"{name}.html.j2", "html")):
            try:
                render.environment(self._templates, target).get_template(file)
            except jinja2.TemplateNotFound:
                raise ConfigError(f"{KEY}.template: no template {file} in the templates "
                                  "folder or the shipped ones") from None
            except jinja2.TemplateSyntaxError as exc:
                raise ConfigError(f"{KEY}.template: {file} line {exc.lineno}: "
                                  f"{exc.message}") from None

    def _check_smtp(self) -> None:
        smtp = self._settings.smtp
        if not smtp.host.strip():
            raise ConfigError(f"{KEY}.smtp.host: must be set (SMTP_HOST)")
        if any(c.isspace() for c in smtp.host) or "/" in smtp.host:
            raise ConfigError(f"{KEY}.smtp.host: must be a host name, got {smtp.host!r}")
        if not 0 < smtp.port < 65536:
            raise ConfigError(f"{KEY}.smtp.port: no such port: {smtp.port}")
        if smtp.security not in ("starttls", "ssl", "none"):
            raise ConfigError(f"{KEY}.smtp.security: must be one of starttls, ssl, none, "
                              f"got {smtp.security!r}")
        if smtp.timeout <= 0:
            raise ConfigError(f"{KEY}.smtp.timeout: must be positive")
        if smtp.username and not smtp.password:
            raise ConfigError(f"{KEY}.smtp.password: must be set when smtp.username is "
                              "(SMTP_PASSWORD; for Gmail an App Password)")

    def _check_gmail(self) -> None:
        if self._gmail_service is not None:
            return
        if not self._settings.gmail.credentials_file.strip():
            raise ConfigError(f"{KEY}.gmail.credentials_file: must be set to the path of an "
                              "authorized-user JSON (a CI/CD variable of type File)")
        if importlib.util.find_spec("googleapiclient") is None:
            raise ConfigError(f"{KEY}.transport: gmail needs the optional Google libraries: "
                              "pip install 'match-staging[gmail]'")

    # --- rendering ----------------------------------------------------------------------

    def subject(self, payload: Payload) -> str:
        text = render.render(SUBJECT_TEMPLATE, self._templates, target="text",
                             payload=payload, prefix=self._prefix)
        return render.truncate(" ".join(text.split()), self.subject_maxlen)

    def _compose(self, payload: Payload) -> tuple[EmailMessage, str]:
        subject = self.subject(payload)
        name = self._settings.template
        context: dict[str, Any] = {"prefix": self._prefix, "subject": subject,
                                   "reminder_hours": self._reminder_hours}
        text = render.render(f"{name}.txt.j2", self._templates, target="text",
                             payload=_tidy(payload, html=False), **context)
        html = render.render(f"{name}.html.j2", self._templates, target="html",
                             payload=_tidy(payload, html=True), **context)
        msg = EmailMessage(policy=SMTP_POLICY)
        msg["Subject"] = subject
        msg["From"] = self._sender
        msg["To"] = self._recipients
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = make_msgid("match-staging", domain=self._sender.domain)
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        # as for the application (usecases/send.py): bodies are encoded; headers may be 998
        # long, so the Message-ID is not folded onto a line of its own
        msg.policy = msg.policy.clone(max_line_length=998)
        return msg, html

    def message(self, payload: Payload) -> EmailMessage:
        return self._compose(payload)[0]

    def render(self, payload: Payload) -> list[Rendered]:
        msg, html = self._compose(payload)
        return [Rendered("email.eml", bytes(msg)), Rendered("email.html", html.encode())]

    # --- sending ------------------------------------------------------------------------

    def send(self, payload: Payload) -> Delivery:
        try:
            msg = self.message(payload)
        except Exception as exc:  # a user's template can fail; one channel never stops others
            return self._delivery(False, f"could not render the email "
                                  f"({type(exc).__name__}: {render.one_line(str(exc), 200)})")
        if self._settings.transport == "gmail":
            return self._send_gmail(msg)
        return self._send_smtp(msg)

    def _delivery(self, ok: bool, detail: str, transient: bool = False,
                  secrets: Iterable[str] = (), maybe_delivered: bool = False) -> Delivery:
        for value in (self._settings.smtp.password, *secrets):
            if value and len(value) >= 4:
                detail = detail.replace(value, "***")
        return Delivery(self.name, ok, detail, transient, maybe_delivered)

    def _answer(self, code: int, message: bytes | str) -> str:
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        return f"{code} {render.one_line(text, self.answer_maxlen)}".strip()

    @property
    def sender(self) -> Address:
        return self._sender

    def deliver(self, msg: EmailMessage, to: Sequence[Address]) -> Delivery:
        """Send a message composed elsewhere (the application `send` submits) to `to`;
        never twice: no retry after an answer that leaves it unclear whether it went out."""
        if self._settings.transport == "gmail":
            return self._send_gmail(msg, resend_after_server_error=False)
        return self._send_smtp(msg, tuple(to))

    def _tls_context(self) -> ssl.SSLContext:
        """One context per channel: loading the CA store costs tens of milliseconds."""
        if self._context is None:
            self._context = ssl.create_default_context()  # verifies the server's certificate
        return self._context

    def _send_smtp(self, msg: EmailMessage, to: tuple[Address, ...] = ()) -> Delivery:
        recipients = to or self._recipients
        smtp = self._settings.smtp
        where = f"{smtp.host}:{smtp.port}"
        client: smtplib.SMTP | None = None
        stage = "connect"
        try:
            context = self._tls_context()
            client = self._smtp_factory(smtp.security, smtp.host, smtp.port, smtp.timeout,
                                        context)
            if smtp.security == "starttls":
                stage = "starttls"
                client.starttls(context=context)
            if smtp.username:
                stage = "login"
                client.login(smtp.username, smtp.password)
            stage = "send"
            refused = client.send_message(msg, from_addr=self._sender.addr_spec,
                                          to_addrs=[r.addr_spec for r in recipients])
        except Exception as exc:  # never raise: one dead channel never stops another
            return self._smtp_failure(exc, stage, where)
        finally:
            if client is not None:
                _quit(client)
        sent = len(recipients) - len(refused)
        detail = f"sent to {sent} recipient{'s' if sent != 1 else ''} via {where}"
        if refused:
            detail += f"; refused: {self._refusals(refused)}"
        return self._delivery(True, detail)

    def _smtp_failure(self, exc: Exception, stage: str, where: str) -> Delivery:
        """A failed SMTP exchange in words a user can act on. Only the server's code and
        answer are quoted, never the exception text, and the password is masked anyway."""
        smtp = self._settings.smtp
        security_hint = f"check {KEY}.smtp.security (starttls on 587, ssl on 465)"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return self._delivery(False, f"SMTP login refused for user {smtp.username} by "
                                  f"{where}: {self._answer(exc.smtp_code, exc.smtp_error)}",
                                  transient=_temporary(exc.smtp_code))
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            what = {"starttls": "STARTTLS", "login": "AUTH (login)"}.get(stage, "a command")
            return self._delivery(False, f"{where} does not offer {what}: {security_hint}")
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = [code for code, _ in exc.recipients.values()]
            return self._delivery(False, f"{where} refused every recipient: "
                                  f"{self._refusals(exc.recipients)}",
                                  transient=bool(codes) and all(map(_temporary, codes)))
        if isinstance(exc, smtplib.SMTPSenderRefused):
            return self._delivery(False, f"{where} refused the sender "
                                  f"{self._sender.addr_spec}: "
                                  f"{self._answer(exc.smtp_code, exc.smtp_error)}",
                                  transient=_temporary(exc.smtp_code))
        if isinstance(exc, smtplib.SMTPResponseException):  # connect, HELO, DATA, ...
            what = "the message" if stage == "send" else f"the connection ({stage})"
            return self._delivery(False, f"{where} refused {what}: "
                                  f"{self._answer(exc.smtp_code, exc.smtp_error)}",
                                  transient=_temporary(exc.smtp_code))
        # lost while the message was handed over: the server may have taken it
        unsure = stage == "send"
        if isinstance(exc, smtplib.SMTPServerDisconnected) and not isinstance(
                exc.__context__, TimeoutError):
            return self._delivery(False, f"{where} closed the connection ({stage})",
                                  transient=True, maybe_delivered=unsure)
        if isinstance(exc, smtplib.SMTPServerDisconnected | TimeoutError):  # timed out
            return self._delivery(False, f"no answer from {where} within {smtp.timeout:g} s "
                                  f"({stage})", transient=True, maybe_delivered=unsure)
        if isinstance(exc, smtplib.SMTPException):
            return self._delivery(False, f"SMTP failed with {where} at {stage} "
                                  f"({type(exc).__name__})")
        if isinstance(exc, ssl.SSLError):
            reason = exc.reason or type(exc).__name__
            return self._delivery(False, f"TLS with {where} failed ({reason}): {security_hint}")
        if isinstance(exc, socket.gaierror):
            return self._delivery(False, f"could not resolve the host of {where} "
                                  f"({KEY}.smtp.host)", transient=True)
        if isinstance(exc, OSError):
            reason = exc.strerror or type(exc).__name__
            if stage == "send":
                return self._delivery(False, f"connection to {where} failed while sending "
                                      f"({reason})", transient=True, maybe_delivered=True)
            return self._delivery(False, f"could not connect to {where} ({reason})",
                                  transient=True)
        return self._delivery(False, f"SMTP failed with {where} at {stage} "
                              f"({type(exc).__name__})")

    def _refusals(self, refused: dict[str, tuple[int, bytes]]) -> str:
        return "; ".join(f"{addr} ({self._answer(code, text)})"
                         for addr, (code, text) in sorted(refused.items()))

    def _send_gmail(self, msg: EmailMessage, *,
                    resend_after_server_error: bool = True) -> Delivery:
        key = f"{KEY}.gmail.credentials_file"
        secrets = self._secrets
        try:
            from google.auth.exceptions import RefreshError, TransportError
            from googleapiclient.errors import HttpError
        except ImportError:
            return self._delivery(False, "the gmail transport needs the optional Google "
                                  "libraries: pip install 'match-staging[gmail]'")
        try:
            if self._gmail_service is None:
                self._gmail_service = self._gmail_from_file(secrets)
            service = self._gmail_service
        except _Unusable as exc:
            return self._delivery(False, str(exc), secrets=secrets)
        except Exception as exc:
            return self._delivery(False, f"could not set up the Gmail API from {key} "
                                  f"({type(exc).__name__})", secrets=secrets)
        # The access token first, on its own: whatever fails there, Gmail got nothing.
        refused = self._refresh_gmail(secrets)
        if refused is not None:
            return refused
        body = {"raw": base64.urlsafe_b64encode(bytes(msg)).decode()}
        detail = "not sent"
        for attempt in range(1, self.gmail_attempts + 1):
            try:
                result = service.users().messages().send(userId="me", body=body).execute()
            except HttpError as exc:
                status = int(exc.resp.status)
                answer = f"HTTP {status} {render.one_line(exc.reason or '', self.answer_maxlen)}"
                if status >= 500 and not resend_after_server_error:
                    return self._delivery(False, f"Gmail API answered {answer}: the message "
                                          "may have been sent", transient=True,
                                          secrets=secrets, maybe_delivered=True)
                limited = status == 403 and bool(set(_reasons(exc)) & set(GMAIL_RATE_LIMITS))
                if status == 429 or limited or status >= 500:
                    # refused (429, 403 rate limits) or failed (5xx) before sending
                    detail = f"Gmail API answered {answer}".strip()
                    if attempt < self.gmail_attempts:
                        self._sleep(retry_after(dict(exc.resp), default=2.0 ** (attempt - 1)))
                    continue
                return self._delivery(False, f"Gmail refused the message: {answer}".strip(),
                                      secrets=secrets)
            except RefreshError as exc:  # a token refresh after Gmail answered 401
                return self._refresh_failure(exc, secrets)
            except TransportError as exc:  # google-auth wraps only the token endpoint's errors
                return self._delivery(False, "no answer from Google's token endpoint "
                                      f"({type(exc).__name__}): nothing was sent",
                                      transient=True, secrets=secrets)
            except Exception as exc:
                name = type(getattr(exc, "original", exc)).__name__
                if _gmail_never_sent(exc):
                    return self._delivery(False, "could not connect to the Gmail API "
                                          f"({name}): nothing was sent",
                                          transient=True, secrets=secrets)
                # a timeout, a connection dropped after the request went out: Gmail may
                # have sent it, so it is never sent again
                return self._delivery(False, f"no answer from the Gmail API "
                                      f"({name}): it may have been sent",
                                      transient=True, secrets=secrets, maybe_delivered=True)
            message_id = result.get("id", "?") if isinstance(result, dict) else "?"
            return self._delivery(True, f"sent through the Gmail API as message {message_id}",
                                  secrets=secrets)
        return self._delivery(False, detail, transient=True, secrets=secrets)

    def _refresh_gmail(self, secrets: list[str]) -> Delivery | None:
        """Get an access token before the send, so that a failure there is known to have
        sent nothing (retried by the next run); None when the token is ready."""
        creds = self._gmail_creds
        if creds is None or creds.valid:
            return None  # an injected service refreshes inside the call
        try:
            import google_auth_httplib2  # type: ignore[import-untyped, unused-ignore]
            from google.auth.exceptions import RefreshError

            creds.refresh(google_auth_httplib2.Request(gmail_http()))
        except RefreshError as exc:
            return self._refresh_failure(exc, secrets)
        except Exception as exc:  # closed port, unknown host, timeout: httplib2 or OSError
            return self._delivery(False, "no answer from Google's token endpoint "
                                  f"({type(exc).__name__}): nothing was sent", transient=True,
                                  secrets=secrets)
        return None

    def _refresh_failure(self, exc: Exception, secrets: list[str]) -> Delivery:
        """Google's token endpoint answered with an error: nothing was sent."""
        key = f"{KEY}.gmail.credentials_file"
        first = exc.args[0] if exc.args and isinstance(exc.args[0], str) else ""
        reason = f" ({render.one_line(first, self.answer_maxlen)})" if first else ""
        data = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
        if data.get("error") == "invalid_grant":  # expired or revoked refresh token
            return self._delivery(False, "Google refused the refresh token in "
                                  f"{key}{reason}: create a new authorized-user JSON; "
                                  "tokens of OAuth apps in \"Testing\" status expire "
                                  "after 7 days", secrets=secrets)
        if getattr(exc, "retryable", False):  # 5xx, 429: google-auth already retried
            return self._delivery(False, f"Google's token endpoint failed{reason}: nothing "
                                  "was sent", transient=True, secrets=secrets)
        return self._delivery(False, f"Google refused the credentials in {key}{reason}",
                              secrets=secrets)

    def _gmail_from_file(self, secrets: list[str]) -> Any:
        """The Gmail service from the authorized-user JSON; `secrets` learns what to mask."""
        from google.oauth2.credentials import Credentials
        from googleapiclient.discovery import build

        key = f"{KEY}.gmail.credentials_file"
        path = self._settings.gmail.credentials_file
        try:
            with open(path, encoding="utf-8") as handle:
                info = json.load(handle)
        except FileNotFoundError:
            raise _Unusable(f"{key}: no such file: {path}") from None
        except OSError as exc:
            raise _Unusable(f"{key}: cannot read {path} ({exc.strerror or 'error'})") from None
        except (ValueError, UnicodeDecodeError):
            raise _Unusable(f"{key}: {path} is not JSON; it must be an authorized-user JSON "
                            "(client_id, client_secret, refresh_token)") from None
        if not isinstance(info, dict):
            raise _Unusable(f"{key}: {path} must hold a JSON object (an authorized-user "
                            "JSON)")
        secrets.extend(str(info[k]) for k in ("client_secret", "refresh_token", "token")
                       if info.get(k))
        try:
            creds = Credentials.from_authorized_user_info(  # type: ignore[no-untyped-call]
                info, scopes=GMAIL_SCOPES)
        except ValueError:
            missing = [k for k in ("client_id", "client_secret", "refresh_token")
                       if not info.get(k)]
            raise _Unusable(f"{key}: {path} is not an authorized-user JSON"
                            + (f" (missing {', '.join(missing)})" if missing else "")) from None
        import google_auth_httplib2  # type: ignore[import-untyped, unused-ignore]

        self._gmail_creds = creds
        http = google_auth_httplib2.AuthorizedHttp(creds, http=gmail_http())
        return build("gmail", "v1", http=http, cache_discovery=False, static_discovery=True)


def _address(raw: str, key: str, empty: str) -> Address:
    """One mailbox (`Name <addr@host>` or `addr@host`), refusing anything that could
    smuggle a header or a second address."""
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
    if (address is None or not addr or not address.username or "." not in address.domain
            or any(c.isspace() or c in "<>,;" for c in addr)):
        raise ConfigError(f"{key}: not an email address: {raw!r}")
    return address


def _web_link(url: str) -> str:
    """Only http(s) links become HTML hrefs (no javascript:, data: and the like)."""
    return url if urlsplit(url.strip()).scheme.lower() in ("http", "https") else ""


def _single(value: Any) -> Any:
    return " ".join(value.split()) if isinstance(value, str) else value


def _tidy(payload: Payload, *, html: bool) -> Payload:
    """The payload as the templates see it: untrusted text on one line each (a title can
    not forge an "Issue:" line of its own), and in HTML only web links."""
    def tidy(n: Notice) -> Notice:
        fields = {f: _single(getattr(n, f))
                  for f in ("title", "provider", "location", "start", "duration", "rate")}
        if html:
            fields.update(issue_url=_web_link(n.issue_url), source_url=_web_link(n.source_url))
        return dataclasses.replace(n, **fields)

    review = _web_link(payload.review_url) if html else payload.review_url
    return dataclasses.replace(payload, matches=tuple(tidy(n) for n in payload.matches),
                               review_url=review)


class RequestNotRepeated(ConnectionResetError):
    """httplib2 was about to send a request again after it went out and no answer came."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(f"not sent again after {type(original).__name__}")
        self.original = original


def gmail_http(timeout: float = 60.0) -> Any:
    """An httplib2.Http (as googleapiclient's build_http() makes it) that never sends a
    request twice. httplib2 re-sends any request once when the connection closes before
    the answer's status line (`Http._conn_request`: "If we get a BadStatusLine on the first
    try ... retry regardless"): for a Gmail send whose answer was lost that is a second
    email. Here that second attempt raises RequestNotRepeated instead."""
    import http.client

    import httplib2

    class SendOnce:
        """Mixed into httplib2's connection classes."""

        _sent: tuple[str, str, Any] | None = None
        _unanswered: tuple[str, str, Any, BaseException] | None = None

        def request(self, method: str, url: str, body: Any = None,
                    headers: Any = None, **kwargs: Any) -> None:
            unanswered, self._unanswered = self._unanswered, None
            if unanswered is not None and unanswered[:2] == (method, url) \
                    and unanswered[2] is body:
                raise RequestNotRepeated(unanswered[3])
            super().request(method, url, body, headers or {}, **kwargs)  # type: ignore[misc]
            self._sent = (method, url, body)

        def getresponse(self) -> Any:
            sent, self._sent = self._sent, None
            try:
                return super().getresponse()  # type: ignore[misc]
            except (http.client.HTTPException, OSError) as exc:
                if sent is not None:
                    self._unanswered = (*sent, exc)
                raise

    class Once(SendOnce, httplib2.HTTPConnectionWithTimeout):  # type: ignore[misc]
        pass

    class OnceTLS(SendOnce, httplib2.HTTPSConnectionWithTimeout):  # type: ignore[misc]
        pass

    class SendOnceHttp(httplib2.Http):  # type: ignore[misc]
        def request(self, uri: str, method: str = "GET", body: Any = None,
                    headers: Any = None, redirections: int = httplib2.DEFAULT_MAX_REDIRECTS,
                    connection_type: Any = None) -> Any:
            if connection_type is None:
                connection_type = OnceTLS if uri.lower().startswith("https:") else Once
            return super().request(uri, method, body, headers, redirections, connection_type)

    transport = SendOnceHttp(timeout=timeout)
    # as build_http(): 308 is not a move here
    transport.redirect_codes = transport.redirect_codes - {308}
    return transport


def _reasons(exc: Any) -> list[str]:
    """The `reason`s of a Google API error body (`error.errors[]`, `error.details[]`)."""
    try:
        error = json.loads(exc.content)["error"]
    except (ValueError, TypeError, KeyError):
        return []
    items = [*(error.get("errors") or []), *(error.get("details") or [])] \
        if isinstance(error, dict) else []
    return [str(item["reason"]) for item in items if isinstance(item, dict) and "reason" in item]


def _gmail_never_sent(exc: BaseException) -> bool:
    """httplib2 failed before the request left: unknown host (it raises
    ServerNotFoundError for socket.gaierror), connection refused or unreachable, or a
    certificate it would not trust. Timeouts and dropped connections are not among them."""
    import httplib2

    if isinstance(exc, httplib2.ServerNotFoundError | socket.gaierror
                  | ssl.SSLCertVerificationError):
        return True
    return isinstance(exc, OSError) and not isinstance(exc, TimeoutError) \
        and exc.errno in _UNREACHABLE


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

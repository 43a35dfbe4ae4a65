"""WhatsApp through Twilio's Messages API (docs/platform-facts.md, "Twilio WhatsApp").

`twilio` is an optional extra (`match-staging[whatsapp]`): it is imported only when a message
is actually sent, so importing this module, `render()` and `preview` work without it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from match_staging import clock as clocks
from match_staging import render
from match_staging.channels.base import Delivery, Rendered, request_never_sent, retry_after
from match_staging.channels.whatsapp_settings import WhatsAppChannel
from match_staging.clock import Clock, Sleep
from match_staging.errors import ConfigError
from match_staging.notices import Payload

if TYPE_CHECKING:  # requests loads with twilio, when a message is sent
    import requests

_KEY = "notification.channels.whatsapp"
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")
_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")
_PREFIX = "whatsapp:"

RATE_LIMITED = 20429  # Twilio's code for HTTP 429 "Too Many Requests"
# What to do about the Twilio errors a user can fix (twilio.com/docs/api/errors/{code}).
_HINTS = {
    20003: f"check {_KEY}.account_sid and auth_token (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)",
    21211: f"check {_KEY}.to_number",
    21606: f"{_KEY}.from_number is not a WhatsApp sender of this account",
    63007: f"{_KEY}.from_number is not a WhatsApp sender of this account",
    63016: (
        f"outside WhatsApp's 24-hour window free-form text fails: configure {_KEY}"
        ".content_sid, an approved WhatsApp template the tool then sends instead of "
        "free text"
    ),
}
# Message statuses that mean it never reached the phone (Message resource, `status`:
# queued, sending, sent, delivered, read, undelivered, failed, ...; twilio's
# MessageInstance.Status lists them all).
FAILED_STATUSES = ("failed", "undelivered")

# The stock client logs every request URL at INFO, and the URL carries the account SID.
_quiet_log = logging.getLogger("match_staging.channels.whatsapp.twilio")
_quiet_log.setLevel(logging.WARNING)


class WhatsApp:
    r"""One WhatsApp message per payload, to `to_number`.

    Free-form mode (no `content_sid`): `From` + `Body`, the rendered whatsapp.txt.j2. WhatsApp
    accepts free-form text only within 24 hours of the user's last message to the sender.

    Template mode (`content_sid` set): an approved Content template, `ContentSid` +
    `ContentVariables` and no `Body` (error 63016), from `from_number` or through
    `messaging_service_sid`. Since 2024-09-04 a Content template can be sent with a plain
    `From` sender; a Messaging Service is optional (Twilio changelog, "Content Templates no
    longer need to be sent with Messaging Services",
    twilio.com/en-us/changelog/content-templates-messaging-services-optional). The
    template's variables are:

        {{1}}  number of matches, e.g. "5"
        {{2}}  top match, e.g. "97% Cloud Architect (Remote, ASAP)"
        {{3}}  review URL (the pending issues)

    e.g. "🎯 {{1}} neue Job-Matches!\nTop: {{2}}\nReview: {{3}}". `From` is sent when
    `from_number` is set; otherwise Twilio picks the sender from the Messaging Service.

    "queued" is not delivered: WhatsApp's refusals (63016 and others) arrive later, on the
    message's status. `failed_messages()` lists them for `digest` to report.
    """

    name: ClassVar[str] = "whatsapp"
    body_maxlen = 1600  # Twilio error 21617: body at most 1,600 characters
    variable_maxlen = 200  # one template variable; WhatsApp template bodies max 1,024
    title_maxlen = 100  # the top match's title inside {{2}}, as in whatsapp.txt.j2
    attempts = 3  # tries when Twilio answers 429
    timeout = 15.0

    def __init__(
        self,
        settings: WhatsAppChannel,
        templates_dir: str | None = None,
        *,
        client: Any = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        if not settings.account_sid:
            raise ConfigError(f"{_KEY}.account_sid: must be set (TWILIO_ACCOUNT_SID)")
        if not _ACCOUNT_SID.fullmatch(settings.account_sid):
            raise ConfigError(
                f"{_KEY}.account_sid: must be a Twilio account SID, 'AC' and 32 "
                "hex digits (TWILIO_ACCOUNT_SID)"
            )
        if not settings.auth_token:
            raise ConfigError(f"{_KEY}.auth_token: must be set (TWILIO_AUTH_TOKEN)")
        self._content_sid = settings.content_sid.strip()
        self._service_sid = settings.messaging_service_sid.strip()
        if self._content_sid and not _CONTENT_SID.fullmatch(self._content_sid):
            raise ConfigError(
                f"{_KEY}.content_sid: must be a Content template SID, 'HX' and 32 hex digits"
            )
        if self._service_sid and not _SERVICE_SID.fullmatch(self._service_sid):
            raise ConfigError(
                f"{_KEY}.messaging_service_sid: must be a Messaging Service SID, "
                "'MG' and 32 hex digits"
            )
        self._to = _number(settings.to_number, "to_number", required=True)
        self._from = _number(settings.from_number, "from_number", required=not self._service_sid)
        self._account_sid = settings.account_sid
        self._auth_token = settings.auth_token
        self._templates = templates_dir
        self._client = client
        del clock  # taken like every channel's: no time is read here
        self._sleep = sleep or clocks.system_sleep
        self._headers: Mapping[str, str] = {}

    @property
    def template_mode(self) -> bool:
        """Whether an approved Content template is sent instead of free text."""
        return bool(self._content_sid)

    def text(self, payload: Payload) -> str:
        """The free-form message, at most `body_maxlen` characters as Twilio counts them."""
        name = "alert_whatsapp.txt.j2" if payload.alert else "whatsapp.txt.j2"
        text = render.render(name, self._templates, target="text", payload=payload).strip()
        if _units(text) <= self.body_maxlen:
            return text
        # Keep the review link whole (it is what the message is for); shorten what precedes it.
        head, _, last = text.rpartition("\n")
        if head and payload.review_url in last and _units(last) < self.body_maxlen // 2:
            return _cut(head, self.body_maxlen - _units(last) - 1) + "\n" + last
        return _cut(text, self.body_maxlen)

    def variables(self, payload: Payload) -> dict[str, str]:
        """The Content template's variables; see the class docstring. WhatsApp refuses
        variables with line breaks, tabs or runs of spaces, so each is one line.
        """
        top = payload.top
        line = f"{render.fmt_score(top.score)}% {render.truncate(top.title, self.title_maxlen)}"
        where = ", ".join(part for part in (top.location, top.start) if part)
        if where:
            line += f" ({render.truncate(where, 80)})"
        return {
            "1": str(len(payload.matches)),
            "2": render.one_line(line, self.variable_maxlen),
            "3": payload.review_url,
        }

    def message(self, payload: Payload) -> dict[str, str]:
        """The keyword arguments of `client.messages.create()`."""
        params = {"to": _PREFIX + self._to}
        if self._from:
            params["from_"] = _PREFIX + self._from
        if self._service_sid:
            params["messaging_service_sid"] = self._service_sid
        if self.template_mode and not payload.alert:
            # No body: free-form text fails outside the 24-hour window (63016). An alert
            # fits no match template: it goes as text, and a refusal is reported later.
            params["content_sid"] = self._content_sid
            params["content_variables"] = json.dumps(self.variables(payload), ensure_ascii=False)
        else:
            params["body"] = self.text(payload)
        return params

    def render(self, payload: Payload) -> list[Rendered]:
        """The text, and the template's variables in template mode."""
        files = [Rendered("whatsapp.txt", (self.text(payload) + "\n").encode())]
        if self.template_mode and not payload.alert:
            files.append(
                Rendered(
                    "whatsapp.content-variables.json",
                    self.message(payload)["content_variables"].encode(),
                )
            )
        return files

    def send(self, payload: Payload) -> Delivery:
        """Send one message through Twilio; retried only while Twilio answers 429."""
        params = self.message(payload)
        try:
            client = self._twilio()
            import requests
            from twilio.base.exceptions import (  # type: ignore[import, unused-ignore]
                TwilioException,
            )
        except ImportError:
            return Delivery(
                self.name,
                False,
                "the whatsapp channel needs the twilio package: "
                "pip install 'match-staging[whatsapp]'",
            )
        detail = "not sent"
        for attempt in range(1, self.attempts + 1):
            self._headers = {}
            try:
                sent = client.messages.create(**params)
            except TwilioException as exc:
                refused = self._refused(exc)
                if refused is not None:
                    return refused
                # Rate limited: refused, so nothing was queued and a retry cannot repeat it.
                code = self._error(exc)[1]
                detail = (
                    f"Twilio rate limit (HTTP 429, error {code or RATE_LIMITED}) "
                    f"after {attempt} attempt(s): nothing was sent"
                )
                if attempt < self.attempts:
                    self._sleep(retry_after(self._last_headers(client)))
                continue
            except requests.RequestException as exc:
                # Never the exception text: it carries the URL, and the URL the account SID.
                if request_never_sent(exc):
                    return Delivery(
                        self.name,
                        False,
                        "could not connect to api.twilio.com "
                        f"({type(exc).__name__}): nothing was sent",
                        transient=True,
                    )
                # A read timeout, a connection dropped after the request went out: Twilio may
                # have queued it, and sending again could deliver it twice.
                return Delivery(
                    self.name,
                    False,
                    f"no answer from api.twilio.com "
                    f"({type(exc).__name__}): it may have been queued",
                    transient=True,
                    maybe_delivered=True,
                )
            except Exception as exc:  # send() never raises; the text could hold a secret
                return Delivery(self.name, False, f"sending failed ({type(exc).__name__})")
            # "queued" (or "accepted") means Twilio took the message, not that WhatsApp
            # delivered it: failures such as 63016 arrive later, on the message's status.
            return Delivery(self.name, True, f"queued as {sent.sid}")
        return Delivery(self.name, False, detail, transient=True)

    def _refused(self, exc: Exception) -> Delivery | None:
        """Twilio's error answer as a Delivery; None for a rate limit (429), worth a retry."""
        status, code, text = self._error(exc)
        if status == 429:
            return None
        shown = f"Twilio answered HTTP {status}" + (
            f" (error {code})" if code and code != status else ""
        )
        if status == 503:
            # Service Unavailable: refused before any work, so nothing was queued;
            # the next run sends it (not this one: it would only hit the outage).
            return Delivery(self.name, False, f"{shown}: nothing was sent", transient=True)
        if status is not None and status >= 500:
            # The request arrived and broke on the way (500, 502, 504): Twilio may
            # have queued the message, so neither this run nor a later one sends it
            # again.
            return Delivery(
                self.name,
                False,
                f"{shown}: it may have been queued",
                transient=True,
                maybe_delivered=True,
            )
        if code is None:
            return Delivery(self.name, False, f"Twilio answered HTTP {status}: {text}")
        hint = _HINTS.get(code)
        return Delivery(
            self.name, False, f"Twilio error {code}: {text}" + (f" ({hint})" if hint else "")
        )

    def failed_messages(self, since: date) -> StatusCheck:
        """The messages this channel sent since `since` (a UTC date) that WhatsApp did not
        deliver: one request, `GET .../Messages.json?To=...&From=...&DateSent>=YYYY-MM-DD
        &PageSize=1000` (Message resource, "Read multiple Message resources": DateSent
        takes a GMT date, PageSize at most 1,000). Without `from_number` the Messaging
        Service's messages to `to_number` count. Never raises.
        """
        try:
            client = self._twilio()
            import requests
            from twilio.base.exceptions import (  # type: ignore[import, unused-ignore]
                TwilioException,
            )
        except ImportError:
            return StatusCheck(
                error="the whatsapp channel needs the twilio package: "
                "pip install 'match-staging[whatsapp]'"
            )
        query: dict[str, Any] = {
            "to": _PREFIX + self._to,
            "date_sent_after": since.isoformat(),
            "page_size": 1000,
        }
        if self._from:
            query["from_"] = _PREFIX + self._from
        try:
            page = client.messages.page(**query)
            messages = list(page)
        except TwilioException as exc:
            status, code, text = self._error(exc)
            what = f"error {code}: {text}" if code else f"HTTP {status}: {text}"
            return StatusCheck(error=f"Twilio answered {what}".strip())
        except requests.RequestException as exc:
            return StatusCheck(error=f"no answer from api.twilio.com ({type(exc).__name__})")
        except Exception as exc:  # never raises; the text could hold a secret
            return StatusCheck(error=f"reading message statuses failed ({type(exc).__name__})")
        failures = []
        for message in messages:
            state = str(getattr(message, "status", "") or "")
            if state not in FAILED_STATUSES:
                continue
            if (
                not self._from
                and getattr(message, "messaging_service_sid", None) != self._service_sid
            ):
                continue  # another sender's message to the same number
            code = getattr(message, "error_code", None)
            code = code if isinstance(code, int) else None
            sent = getattr(message, "date_sent", None) or getattr(message, "date_created", None)
            failures.append(
                MessageFailure(
                    sid=str(message.sid),
                    status=state,
                    error_code=code,
                    sent_at=sent.strftime("%Y-%m-%d %H:%M UTC")
                    if isinstance(sent, datetime)
                    else "",
                    hint=_HINTS.get(code or 0, ""),
                )
            )
        return StatusCheck(failures=failures)

    def _twilio(self) -> Any:
        """The Twilio client, built on first use (this is where `twilio` gets imported)."""
        if self._client is None:
            from twilio.http.http_client import (  # type: ignore[import, unused-ignore]
                TwilioHttpClient,
            )
            from twilio.rest import Client  # type: ignore[import, unused-ignore]

            # The stock client keeps the last response only as `_test_only_last_response`;
            # a response hook (its public `request_hooks`) keeps the headers for Retry-After.
            http = TwilioHttpClient(
                timeout=self.timeout,
                logger=_quiet_log,
                request_hooks={"response": [self._remember]},
            )
            self._client = Client(self._account_sid, self._auth_token, http_client=http)
        return self._client

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._headers = response.headers

    def _last_headers(self, client: Any) -> Mapping[str, str]:
        if self._headers:
            return self._headers
        # An injected stock client: the only place it keeps the last response.
        last = getattr(getattr(client, "http_client", None), "_test_only_last_response", None)
        headers = getattr(last, "headers", None)
        return headers if isinstance(headers, Mapping) else {}

    def _error(self, exc: Exception) -> tuple[int | None, int | None, str]:
        """HTTP status, Twilio code and message of a TwilioRestException (or the RFC 9457
        TwilioServiceException), with the credentials taken out of the message.
        """
        status = getattr(exc, "status", None)
        code = getattr(exc, "code", None)
        text = str(
            getattr(exc, "msg", None)
            or getattr(exc, "detail", None)
            or getattr(exc, "title", None)
            or ""
        )
        text = text.removeprefix("Unable to create record: ")
        for secret in (self._auth_token, self._account_sid):
            text = text.replace(secret, "***")
        text = render.one_line(text, 300)
        return (
            status if isinstance(status, int) else None,
            code if isinstance(code, int) else None,
            text,
        )


@dataclass(frozen=True)
class MessageFailure:
    """A message Twilio accepted that WhatsApp never delivered."""

    sid: str
    status: str  # failed or undelivered
    error_code: int | None
    sent_at: str  # e.g. "2026-02-08 13:30 UTC"; "" when Twilio gives no date
    hint: str = ""  # what to do, for the codes a user can fix

    def describe(self) -> str:
        """The failure in one line, with what to do where known."""
        what = f"Twilio error {self.error_code}" if self.error_code else "no error code"
        more = (
            f": {self.hint}"
            if self.hint
            else f" (twilio.com/docs/api/errors/{self.error_code})"
            if self.error_code
            else ""
        )
        when = f" of {self.sent_at}" if self.sent_at else ""
        verb = "failed" if self.status == "failed" else f"was {self.status}"
        return f"message {self.sid}{when} {verb}, {what}{more}"


@dataclass(frozen=True)
class StatusCheck:
    """The outcome of one check of message statuses."""

    failures: list[MessageFailure] = field(default_factory=list)
    error: str = ""  # the check itself failed; nothing is known


def _number(value: str, key: str, *, required: bool) -> str:
    number = value.strip().removeprefix(_PREFIX)
    if not number:
        if required:
            raise ConfigError(
                f"{_KEY}.{key}: must be set, a WhatsApp number in E.164 form "
                "such as +436641234567"
                + (" (or set messaging_service_sid)" if key == "from_number" else "")
            )
        return ""
    if not _E164.fullmatch(number):
        raise ConfigError(
            f"{_KEY}.{key}: must be in E.164 form, '+' and 7 to 15 digits "
            "without spaces, such as +436641234567"
        )
    return number


def _units(text: str) -> int:
    """Length as Twilio counts it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str, limit: int) -> str:
    """`text` shortened with "…" to at most `limit` UTF-16 code units: render.truncate,
    counted as Twilio counts (an emoji outside the BMP is 2), which it cannot be.
    """
    if _units(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    while cut and _units(cut) > limit - 1:
        cut = cut[:-1]
    return cut.rstrip() + "…"

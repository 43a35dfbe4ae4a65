"""Email through the Gmail API. The Google libraries (the optional `gmail` extra, about
114 MB installed) load only when a message is sent; the HTTP connection never sends a
request twice (`gmail_http`).
"""

from __future__ import annotations

import base64
import errno
import importlib.util
import json
import socket
import ssl
from collections.abc import Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

from match_staging import clock as clocks
from match_staging import render
from match_staging.channels.base import Delivery, retry_after
from match_staging.channels.email.transport import ANSWER_MAXLEN, outcome
from match_staging.channels.email_settings import KEY, GmailSettings
from match_staging.clock import Sleep
from match_staging.errors import ConfigError

GMAIL_SCOPES = ["https://www.googleapis.com/auth/gmail.send"]
# Gmail's per-project and per-user limits answer 403 with these reasons (developers.google.
# com/workspace/gmail/api/reference/quota); Google asks for a retry with exponential
# backoff, as for 429 (.../gmail/api/guides/handle-errors).
GMAIL_RATE_LIMITS = ("userRateLimitExceeded", "rateLimitExceeded")
# errno values of a connect() that never reached the server
_UNREACHABLE = (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.ECONNREFUSED)
CREDENTIALS_KEY = f"{KEY}.gmail.credentials_file"
NEEDS_GOOGLE = (
    "the gmail transport needs the optional Google libraries: pip install 'match-staging[gmail]'"
)


class _Unusable(Exception):
    """A send-time problem with a clear, secret-free message (e.g. the credentials file)."""


class GmailTransport:
    """`users.messages.send` with the authorized-user credentials of `credentials_file`."""

    attempts = 2  # one retry after 429/5xx, honouring Retry-After

    def __init__(
        self, settings: GmailSettings, *, service: Any = None, sleep: Sleep | None = None
    ) -> None:
        if service is None:
            if not settings.credentials_file.strip():
                raise ConfigError(
                    f"{CREDENTIALS_KEY}: must be set to the path of an "
                    "authorized-user JSON (a CI/CD variable of type File)"
                )
            if importlib.util.find_spec("googleapiclient") is None:
                raise ConfigError(
                    f"{KEY}.transport: gmail needs the optional Google "
                    "libraries: pip install 'match-staging[gmail]'"
                )
        self._settings = settings
        self._service = service
        self._sleep = sleep or clocks.system_sleep
        self._secrets: list[str] = []  # learnt from the credentials file, masked in details
        self._creds: Any = None  # the authorized-user credentials, once loaded

    def _done(
        self, ok: bool, detail: str, *, transient: bool = False, maybe_delivered: bool = False
    ) -> Delivery:
        return outcome(
            ok, detail, transient=transient, maybe_delivered=maybe_delivered, secrets=self._secrets
        )

    def send(
        self, msg: EmailMessage, sender: Address, to: Sequence[Address], *, once: bool = False
    ) -> Delivery:
        """Send `msg` as it is: Gmail takes the recipients from its headers."""
        unready = self._prepare()
        if unready is not None:
            return unready
        body = {"raw": base64.urlsafe_b64encode(bytes(msg)).decode()}
        detail = "not sent"
        for attempt in range(1, self.attempts + 1):
            result = self._attempt(body, once=once)
            if isinstance(result, Delivery):
                return result
            detail = f"Gmail API answered {_status(result)}".strip()
            if attempt < self.attempts:
                self._sleep(retry_after(dict(result.resp), default=2.0 ** (attempt - 1)))
        return self._done(False, detail, transient=True)

    def _prepare(self) -> Delivery | None:
        """The libraries, the service and an access token; a Delivery when one is missing
        (nothing was sent), None when ready.
        """
        try:
            import googleapiclient.errors  # noqa: F401
        except ImportError:
            return self._done(False, NEEDS_GOOGLE)
        try:
            if self._service is None:
                self._service = self._from_file()
        except _Unusable as exc:
            return self._done(False, str(exc))
        except Exception as exc:
            return self._done(
                False,
                f"could not set up the Gmail API from {CREDENTIALS_KEY} ({type(exc).__name__})",
            )
        # The access token first, on its own: whatever fails there, Gmail got nothing.
        return self._refresh()

    def _attempt(self, body: dict[str, str], *, once: bool) -> Delivery | Any:
        """One send request: its Delivery, or the HttpError worth another attempt."""
        from google.auth.exceptions import RefreshError, TransportError
        from googleapiclient.errors import HttpError

        try:
            result = self._service.users().messages().send(userId="me", body=body).execute()
        except HttpError as exc:
            return self._http_error(exc, once=once) or exc
        except RefreshError as exc:  # a token refresh after Gmail answered 401
            return self._refresh_failure(exc)
        except TransportError as exc:  # google-auth wraps only the token endpoint's errors
            return self._done(
                False,
                f"no answer from Google's token endpoint ({type(exc).__name__}): nothing was sent",
                transient=True,
            )
        except Exception as exc:
            return self._unanswered(exc)
        message_id = result.get("id", "?") if isinstance(result, dict) else "?"
        return self._done(True, f"sent through the Gmail API as message {message_id}")

    def _http_error(self, exc: Any, *, once: bool) -> Delivery | None:
        """Gmail's error answer as a Delivery; None when it is worth another attempt
        (refused by a rate limit, 429 or 403, or failed with 5xx before sending).
        """
        status = int(exc.resp.status)
        shown = _status(exc)
        if status >= 500 and once:
            return self._done(
                False,
                f"Gmail API answered {shown}: the message may have been sent",
                transient=True,
                maybe_delivered=True,
            )
        limited = status == 403 and bool(set(_reasons(exc)) & set(GMAIL_RATE_LIMITS))
        if status == 429 or limited or status >= 500:
            return None
        return self._done(False, f"Gmail refused the message: {shown}".strip())

    def _unanswered(self, exc: Exception) -> Delivery:
        """The request failed without an answer: before it left, nothing was sent; after,
        (a timeout, a dropped connection) Gmail may have sent it, so it is never resent.
        """
        name = type(getattr(exc, "original", exc)).__name__
        if _never_sent(exc):
            return self._done(
                False,
                f"could not connect to the Gmail API ({name}): nothing was sent",
                transient=True,
            )
        return self._done(
            False,
            f"no answer from the Gmail API ({name}): it may have been sent",
            transient=True,
            maybe_delivered=True,
        )

    def _refresh(self) -> Delivery | None:
        """Get an access token before the send, so that a failure there is known to have
        sent nothing (retried by the next run); None when the token is ready.
        """
        creds = self._creds
        if creds is None or creds.valid:
            return None  # an injected service refreshes inside the call
        try:
            import google_auth_httplib2  # type: ignore[import-untyped, unused-ignore]
            from google.auth.exceptions import RefreshError

            creds.refresh(google_auth_httplib2.Request(gmail_http()))
        except RefreshError as exc:
            return self._refresh_failure(exc)
        except Exception as exc:  # closed port, unknown host, timeout: httplib2 or OSError
            return self._done(
                False,
                f"no answer from Google's token endpoint ({type(exc).__name__}): nothing was sent",
                transient=True,
            )
        return None

    def _refresh_failure(self, exc: Exception) -> Delivery:
        """Google's token endpoint answered with an error: nothing was sent."""
        first = exc.args[0] if exc.args and isinstance(exc.args[0], str) else ""
        reason = f" ({render.one_line(first, ANSWER_MAXLEN)})" if first else ""
        data = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
        if data.get("error") == "invalid_grant":  # expired or revoked refresh token
            return self._done(
                False,
                "Google refused the refresh token in "
                f"{CREDENTIALS_KEY}{reason}: create a new authorized-user JSON; "
                'tokens of OAuth apps in "Testing" status expire '
                "after 7 days",
            )
        if getattr(exc, "retryable", False):  # 5xx, 429: google-auth already retried
            return self._done(
                False, f"Google's token endpoint failed{reason}: nothing was sent", transient=True
            )
        return self._done(False, f"Google refused the credentials in {CREDENTIALS_KEY}{reason}")

    def _from_file(self) -> Any:
        """The Gmail service from the authorized-user JSON; learns the secrets to mask."""
        from google.oauth2.credentials import Credentials
        from googleapiclient.discovery import build

        info = _read_credentials(self._settings.credentials_file)
        self._secrets.extend(
            str(info[k]) for k in ("client_secret", "refresh_token", "token") if info.get(k)
        )
        path = self._settings.credentials_file
        try:
            creds = Credentials.from_authorized_user_info(  # type: ignore[no-untyped-call]
                info, scopes=GMAIL_SCOPES
            )
        except ValueError:
            missing = [
                k for k in ("client_id", "client_secret", "refresh_token") if not info.get(k)
            ]
            raise _Unusable(
                f"{CREDENTIALS_KEY}: {path} is not an authorized-user JSON"
                + (f" (missing {', '.join(missing)})" if missing else "")
            ) from None
        import google_auth_httplib2  # type: ignore[import-untyped, unused-ignore]

        self._creds = creds
        http = google_auth_httplib2.AuthorizedHttp(creds, http=gmail_http())
        return build("gmail", "v1", http=http, cache_discovery=False, static_discovery=True)


def _read_credentials(path: str) -> dict[str, Any]:
    """The credentials file as a JSON object, or _Unusable saying what is wrong with it."""
    try:
        with open(path, encoding="utf-8") as handle:
            info = json.load(handle)
    except FileNotFoundError:
        raise _Unusable(f"{CREDENTIALS_KEY}: no such file: {path}") from None
    except OSError as exc:
        raise _Unusable(
            f"{CREDENTIALS_KEY}: cannot read {path} ({exc.strerror or 'error'})"
        ) from None
    except (ValueError, UnicodeDecodeError):
        raise _Unusable(
            f"{CREDENTIALS_KEY}: {path} is not JSON; it must be an "
            "authorized-user JSON (client_id, client_secret, refresh_token)"
        ) from None
    if not isinstance(info, dict):
        raise _Unusable(
            f"{CREDENTIALS_KEY}: {path} must hold a JSON object (an authorized-user JSON)"
        )
    return info


def _status(exc: Any) -> str:
    return f"HTTP {int(exc.resp.status)} {render.one_line(exc.reason or '', ANSWER_MAXLEN)}"


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
    email. Here that second attempt raises RequestNotRepeated instead.
    """
    import http.client

    import httplib2

    class SendOnce:
        """Mixed into httplib2's connection classes."""

        _sent: tuple[str, str, Any] | None = None
        _unanswered: tuple[str, str, Any, BaseException] | None = None

        def request(
            self, method: str, url: str, body: Any = None, headers: Any = None, **kwargs: Any
        ) -> None:
            unanswered, self._unanswered = self._unanswered, None
            if unanswered is not None and unanswered[:2] == (method, url) and unanswered[2] is body:
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
        def request(
            self,
            uri: str,
            method: str = "GET",
            body: Any = None,
            headers: Any = None,
            redirections: int = httplib2.DEFAULT_MAX_REDIRECTS,
            connection_type: Any = None,
        ) -> Any:
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
    items = (
        [*(error.get("errors") or []), *(error.get("details") or [])]
        if isinstance(error, dict)
        else []
    )
    return [str(item["reason"]) for item in items if isinstance(item, dict) and "reason" in item]


def _never_sent(exc: BaseException) -> bool:
    """httplib2 failed before the request left: unknown host (it raises
    ServerNotFoundError for socket.gaierror), connection refused or unreachable, or a
    certificate it would not trust. Timeouts and dropped connections are not among them.
    """
    import httplib2

    if isinstance(
        exc, httplib2.ServerNotFoundError | socket.gaierror | ssl.SSLCertVerificationError
    ):
        return True
    return (
        isinstance(exc, OSError) and not isinstance(exc, TimeoutError) and exc.errno in _UNREACHABLE
    )

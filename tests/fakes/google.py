"""Google behind httplib2 for the Gmail tests: the Gmail API answered from a list, the OAuth
token endpoint on 127.0.0.1, and a host that cannot be resolved."""

from __future__ import annotations

import base64
import email
import email.message
import email.policy
import json
import socket
from typing import Any

import pytest

from match_staging.channels import email as email_channel
from tests.fakes.serving import Serving

# the Gmail API's answer to a send
OK = ({"status": "200"}, '{"id": "18c0ffee", "threadId": "18c0ffee", "labelIds": ["SENT"]}')


GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"


class Google:
    """Google behind httplib2: the Gmail API answered from `gmail` (a list of (headers,
    body) answers or exceptions to raise); the token endpoint by the real httplib2, sent
    to `token_url` (a TokenEndpoint on 127.0.0.1) when given, since an authorized-user
    JSON always refreshes at Google's (Credentials.from_authorized_user_info: "always
    overrides"). Every request is recorded; install() replaces httplib2.Http, which
    googleapiclient's build_http() and so the refresh use."""

    def __init__(self, gmail: list[Any] | None = None, token_url: str = "") -> None:
        self.gmail: list[Any] = list(gmail or [])
        self.token_url = token_url
        self.requests: list[tuple[str, str, Any]] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        httplib2 = pytest.importorskip("httplib2")
        google = self
        real = httplib2.Http

        class ScriptedHttp(real):  # type: ignore[misc, valid-type]
            def request(
                self,
                uri: str,
                method: str = "GET",
                body: Any = None,
                headers: Any = None,
                redirections: int = 5,
                connection_type: Any = None,
            ) -> Any:
                google.requests.append((method, uri, body))
                if uri == GOOGLE_TOKEN_URI and google.token_url:
                    uri, connection_type = google.token_url, None  # plain HTTP, locally
                if not uri.startswith("https://gmail.googleapis.com/"):
                    return super().request(
                        uri, method, body, headers, redirections, connection_type
                    )
                answer = google.gmail.pop(0)
                if isinstance(answer, BaseException):
                    raise answer
                head, content = answer
                return httplib2.Response(head), content.encode()

        monkeypatch.setattr(httplib2, "Http", ScriptedHttp)

    @property
    def sent(self) -> list[email.message.EmailMessage]:
        return [
            email.message_from_bytes(
                base64.urlsafe_b64decode(json.loads(body)["raw"]), policy=email.policy.default
            )
            for method, uri, body in self.requests
            if method == "POST"
            and uri.startswith("https://gmail.googleapis.com/")
            and "/messages/send" in uri
        ]

    def token_requests(self, where: str) -> int:
        return sum(1 for _, uri, _ in self.requests if uri.startswith(where))


class TokenEndpoint:
    """Google's OAuth token endpoint on 127.0.0.1: `start()` answers with an access token
    (or `error`), `stop()` closes the port, so a refresh meets a refused connection."""

    def __init__(self) -> None:
        import http.server

        endpoint = self
        self.error: tuple[int, dict[str, str]] | None = None
        self.hits = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                endpoint.hits += 1
                status, data = endpoint.error or (
                    200,
                    {
                        "access_token": "ya29.access",
                        "expires_in": "3599",
                        "token_type": "Bearer",
                        "scope": email_channel.GMAIL_SCOPES[0],
                    },
                )
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._handler = Handler
        self._server_class = http.server.ThreadingHTTPServer
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.url = f"http://127.0.0.1:{self.port}/token"
        self._server: Any = None
        self._serving: Any = None

    def start(self) -> TokenEndpoint:
        self._server = self._server_class(("127.0.0.1", self.port), self._handler)
        self._serving = Serving(self._server)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._serving.stop()
            self._server.server_close()
            self._server = None


def unresolvable(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    """`host` cannot be resolved (no resolver is asked): httplib2 sees socket.gaierror."""
    real = socket.getaddrinfo

    def getaddrinfo(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == host:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

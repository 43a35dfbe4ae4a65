"""What every fake HTTP service of the tests shares: a threading server on 127.0.0.1 (a
free port), served from a thread while the `with` block runs, shut down and closed after it.
A fake says what it answers (`_handler`) and keeps what it records; this keeps it running.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

from tests.fakes.serving import Serving


class LocalHTTP:
    """Base of the fake webhooks and APIs (Slack, Telegram, Teams, Apprise's JSON)."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._serving: Serving | None = None
        self.port = self._server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._serving = Serving(self._server)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._serving is not None:
            self._serving.stop()
        self._server.server_close()

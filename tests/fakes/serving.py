"""A fake's server, served from a thread, with a stop that returns at once.

socketserver's `serve_forever` notices `shutdown()` only at its next poll: a FakeGitLab or a
webhook started and stopped in a test took 11 ms of wall time, 1.4 ms of it CPU, and the
quick loop starts about a thousand. This loop waits on the server's socket and on one that
`stop()` writes to.
"""

from __future__ import annotations

import selectors
import socket
import socketserver
import threading


class Serving:
    """Serves `server` until `stop()`; `stop()` does not close the server itself."""

    def __init__(self, server: socketserver.TCPServer) -> None:
        self.server = server
        server.timeout = 0  # handle_request() below never waits: the socket was ready
        self._wake, self._waker = socket.socketpair()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.server.fileno(), selectors.EVENT_READ)
            selector.register(self._wake, selectors.EVENT_READ)
            while True:
                ready = [key.fileobj for key, _ in selector.select()]
                if self._wake in ready:
                    return
                # accept and handle (a ThreadingHTTPServer: in a thread of its own)
                self.server.handle_request()

    def stop(self) -> None:
        """Stop serving; a request being handled in its own thread goes on."""
        self._waker.send(b"\0")
        self._thread.join()
        self._wake.close()
        self._waker.close()

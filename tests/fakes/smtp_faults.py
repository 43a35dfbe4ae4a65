"""An SMTP server on 127.0.0.1 that fails at one point of the exchange, on a real socket, so
smtplib raises what it raises for real (RFC 5321: 220 greeting, EHLO, MAIL, RCPT, DATA 354,
the message up to "<CRLF>.<CRLF>", then the server's answer: only with that answer is the
message taken, so a failure there may mean the server has it, a failure before it cannot).

`point`: "greeting" (nothing sent yet) or "message" (after the whole message went out).
`fault`: "silent" (no answer: the client times out), "close" (FIN), "reset" (RST), or a
reply line such as "451 4.3.0 try later".
"""

from __future__ import annotations

import socket
import struct
import threading
from types import TracebackType


class FailingSmtp:
    def __init__(self, point: str, fault: str) -> None:
        self.point, self.fault = point, fault
        self.messages = 0  # messages received in full (up to the final dot)
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(1)
        self.port = int(self._sock.getsockname()[1])
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _fail(self, conn: socket.socket) -> bool:
        """Fail; True when the session goes on (a refused message: RFC 5321 §3.3, the
        server then waits for the next command, and answers QUIT with 221, §4.1.1.10)."""
        if self.fault == "silent":
            self._done.wait(5)  # hold the connection open, say nothing
        elif self.fault == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif self.fault != "close":
            conn.sendall(self.fault.encode() + b"\r\n")
            if self.point == "message":
                return True
            self._done.wait(5)
        return False

    def _serve(self) -> None:
        try:
            conn, _ = self._sock.accept()
        except OSError:
            return
        with conn, conn.makefile("rb") as lines:
            if self.point == "greeting":
                self._fail(conn)
                return
            conn.sendall(b"220 faults ESMTP\r\n")
            for line in lines:
                verb = line[:4].upper()
                if verb == b"DATA":
                    conn.sendall(b"354 go ahead\r\n")
                    for body in lines:
                        if body == b".\r\n":
                            break
                    self.messages += 1
                    if self._fail(conn):
                        continue
                    return
                if verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                conn.sendall(b"250 ok\r\n")

    def __enter__(self) -> FailingSmtp:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._done.set()
        self._sock.close()
        self._thread.join(5)

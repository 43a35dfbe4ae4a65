"""The failure points of one HTTP request, as `requests` raises them (urllib3's
MaxRetryError around the reason, as HTTPAdapter.send wraps it), for the exactly-once tables
of every HTTP channel: before the request left, nothing was sent and a retry is safe; after
it, the service may have acted, and a retry could repeat the message.
"""

from __future__ import annotations

import socket
from http.client import RemoteDisconnected

import pytest
import requests
from urllib3.connection import HTTPSConnection
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError, ProtocolError


def _connection_error(url: str, reason: Exception) -> requests.ConnectionError:
    return requests.ConnectionError(MaxRetryError(None, url, reason))  # type: ignore[arg-type]


def before_sending(url: str, host: str) -> list[object]:
    """Failures before any byte of the request left: refused, unknown host, connect timeout,
    TLS handshake.
    """
    conn = HTTPSConnection(host)
    gaierror = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return [
        pytest.param(
            _connection_error(url, NewConnectionError(conn, "[Errno 111] Connection refused")),
            id="refused",
        ),
        pytest.param(
            _connection_error(url, NameResolutionError(host, conn, gaierror)), id="unknown host"
        ),
        pytest.param(requests.ConnectTimeout(f"connect to {url} timed out"), id="timeout before"),
        pytest.param(requests.exceptions.SSLError("handshake failed"), id="tls handshake"),
    ]


def after_sending(url: str) -> list[object]:
    """Failures after the request went out: no answer in time, the connection dropped before
    the answer, the answer cut off.
    """
    return [
        pytest.param(requests.ReadTimeout(f"read from {url} timed out"), id="timeout after"),
        pytest.param(
            requests.ConnectionError(
                ProtocolError("Connection aborted.", RemoteDisconnected("closed"))
            ),
            id="dropped connection",
        ),
        pytest.param(
            requests.exceptions.ChunkedEncodingError("Connection broken"), id="answer cut off"
        ),
    ]

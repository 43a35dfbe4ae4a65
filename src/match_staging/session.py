"""An HTTP session that reads its settings from the environment once per host, not once per
request.

`requests` looks at the environment on every request it sends: the proxy variables (twice,
each a scan of every variable) and the CA bundle, and the netrc file for a request without
credentials. A run of the tool talks to one GitLab and a few webhooks, and the environment
does not change while it runs: so each host's proxies, the CA bundle and each host's netrc
entry are read on its first request and kept for the session. What is sent, and where
through, is what `requests.Session` would do.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests import sessions
from requests.utils import get_environ_proxies, get_netrc_auth

if TYPE_CHECKING:
    from requests.sessions import _Settings  # the stubs' name for what is returned

_UNSET: Any = object()
_merge: Callable[[Any, Any], Any] = sessions.merge_setting  # requests leaves it untyped


class SettledSession(requests.Session):
    """`requests.Session`, with the environment's settings read once per host."""

    def __init__(self) -> None:
        super().__init__()
        self._proxies: dict[tuple[str, str, Any], dict[str, str]] = {}
        self._netrc: dict[tuple[str, str], Any] = {}
        self._ca_bundle: Any = _UNSET

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        """As requests does, with a host's netrc credentials looked up on its first request."""
        if self.trust_env and not request.auth and not self.auth:
            parts = urlsplit(str(request.url))
            key = (parts.scheme, parts.netloc)
            if key not in self._netrc:
                self._netrc[key] = get_netrc_auth(request.url)
            request.auth = self._netrc[key]
            if request.auth is None:  # no entry: requests would look again
                self.trust_env = False
                try:
                    return super().prepare_request(request)
                finally:
                    self.trust_env = True
        return super().prepare_request(request)

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> _Settings:
        """As requests does, with the proxies and the CA bundle read once per host."""
        if self.trust_env:
            no_proxy = proxies.get("no_proxy") if proxies is not None else None
            parts = urlsplit(str(url))
            key = (parts.scheme, parts.netloc, no_proxy)
            if key not in self._proxies:
                self._proxies[key] = get_environ_proxies(url, no_proxy=no_proxy)
            for name, value in self._proxies[key].items():
                proxies.setdefault(name, value)
            if verify is True or verify is None:
                if self._ca_bundle is _UNSET:
                    self._ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get(
                        "CURL_CA_BUNDLE"
                    )
                verify = self._ca_bundle or verify
        return {
            "proxies": _merge(proxies, self.proxies),
            "stream": _merge(stream, self.stream),
            "verify": _merge(verify, self.verify),
            "cert": _merge(cert, self.cert),
        }

"""The settled session sends what `requests.Session` would: the same proxies, CA bundle and
netrc credentials from the environment, read once per host."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from match_staging.session import SettledSession

URLS = ["https://gitlab.example/api/v4/x", "http://127.0.0.1:8080/y", "https://inside.corp/z"]


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"HTTPS_PROXY": "http://proxy:3128", "HTTP_PROXY": "http://proxy:3129"},
        {"https_proxy": "http://proxy:3128", "no_proxy": "inside.corp,127.0.0.1"},
        {"REQUESTS_CA_BUNDLE": "/etc/ca.pem", "ALL_PROXY": "socks5://p:1080"},
        {"CURL_CA_BUNDLE": "/etc/curl.pem"},
    ],
)
def test_environment_settings_are_those_of_requests(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE"):
        for var in (name, name.lower()):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settled, plain = SettledSession(), requests.Session()
    for _ in range(2):  # the second time from what the first read
        for url in URLS:
            for verify in (None, True, False, "/mine.pem"):
                for proxies in ({}, {"no_proxy": "gitlab.example"}):
                    ours = settled.merge_environment_settings(
                        url, dict(proxies), None, verify, None
                    )
                    theirs = plain.merge_environment_settings(
                        url, dict(proxies), None, verify, None
                    )
                    assert ours == theirs, (url, verify, proxies)


def test_netrc_credentials_are_those_of_requests(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine gitlab.example login me password secret\n", encoding="utf-8")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    settled, plain = SettledSession(), requests.Session()
    for _ in range(2):
        for url in URLS:
            for auth in (None, ("u", "p")):
                ours = settled.prepare_request(requests.Request("GET", url, auth=auth))
                theirs = plain.prepare_request(requests.Request("GET", url, auth=auth))
                assert ours.headers.get("Authorization") == theirs.headers.get("Authorization")
    assert settled.trust_env

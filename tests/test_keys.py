from __future__ import annotations

import pytest

from match_staging.keys import match_keys, normalise_url


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("HTTPS://Jobs.Example.com:443/p/1/", "https://jobs.example.com/p/1"),
        (
            "https://jobs.example.com/p/1?utm_source=x&utm_medium=y#apply",
            "https://jobs.example.com/p/1",
        ),
        ("https://jobs.example.com/p/1?b=2&a=1&fbclid=z", "https://jobs.example.com/p/1?a=1&b=2"),
        ("http://jobs.example.com:80/p", "http://jobs.example.com/p"),
    ],
)
def test_equivalent_urls_normalise_alike(a: str, b: str) -> None:
    assert normalise_url(a) == normalise_url(b)


def test_meaningful_differences_survive_normalisation() -> None:
    assert normalise_url("https://x.com/p/1") != normalise_url("https://x.com/p/2")
    assert normalise_url("https://x.com/p?id=1") != normalise_url("https://x.com/p?id=2")
    assert normalise_url("https://x.com:8443/p") != normalise_url("https://x.com/p")
    # the path is case-sensitive on most servers
    assert normalise_url("https://x.com/P") != normalise_url("https://x.com/p")


def test_keys_cover_id_and_url_with_the_id_first() -> None:
    with_id = match_keys("fm-1", "https://x.com/p/1")
    without = match_keys(None, "https://x.com/p/1?utm_campaign=c")
    assert len(with_id) == 2
    assert with_id[1] == without[0]  # same URL, same key, whatever the id
    assert match_keys("fm-1", "https://other.com/")[0] == with_id[0]  # same id, other URL
    assert all(k.startswith("msk-") for k in with_id)


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        (
            "HTTPS://Jobs.Example.com:443/p/1/?utm_source=x&B=2&a=1&FBCLID=z&gclid=&Utm_Term=t#f",
            "https://jobs.example.com/p/1?B=2&a=1",  # every tracking parameter, any case
        ),
        ("http://h.example:8080/a/b//?x=&y=1", "http://h.example:8080/a/b?x=&y=1"),
        ("https://h.example:80/p", "https://h.example:80/p"),  # 80 is not https's default
        ("http://h.example:443/p", "http://h.example:443/p"),
        ("https://h.example/", "https://h.example"),
        (" https://h.example/p?q=a%20b&q=c ", "https://h.example/p?q=a+b&q=c"),
        ("https://user@h.example:443/p", "https://h.example/p"),
        ("https://h.example/p?b=1&a=2&a=1", "https://h.example/p?a=1&a=2&b=1"),
        ("https://h.example/jobs/ABCX/", "https://h.example/jobs/ABCX"),  # only "/" goes
    ],
)
def test_the_exact_normal_form(url: str, normal: str) -> None:
    assert normalise_url(url) == normal


def test_keys_are_stable_across_releases() -> None:
    """Staged issues carry these tokens: a change here would stage every match again."""
    assert match_keys(" fm-1 ", "https://x.com/p/1") == (
        "msk-162ea05e0bc2dc20e2ba59d5",
        "msk-cdfdab01293f765cb2d13860",
    )
    assert match_keys(None, "https://X.com/p/1/?utm_medium=m") == ("msk-cdfdab01293f765cb2d13860",)
    assert match_keys("", "https://x.com/p/1") == ("msk-cdfdab01293f765cb2d13860",)

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

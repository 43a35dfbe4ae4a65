"""Stable match keys: one issue per match, ever (docs/interface.md, "The same match").

A match is known by its explicit `id` and by its normalised source URL; seen before under
either, it is not staged again. Keys are stored in the issue as opaque tokens, so a search for
one finds the issue whatever its title or state.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TOKEN_PREFIX = "msk-"  # noqa: S105 - a key prefix, not a secret

# Query parameters that only say who sent the visitor, never which posting it is.
_TRACKING = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "igshid",
        "trk",
        "trkinfo",
        "trackingid",
        "refid",
        "ref_src",
        "si",
        "spm",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_url(url: str) -> str:
    """Scheme and host lower-cased, default port, tracking parameters, fragment and a
    trailing slash dropped; the remaining query sorted so parameter order does not matter.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in _TRACKING
    )
    path = parts.path.rstrip("/")
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def _token(kind: str, value: str) -> str:
    digest = hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()
    return f"{TOKEN_PREFIX}{digest[:24]}"


def match_keys(match_id: str | None, url: str) -> tuple[str, ...]:
    """The tokens a match is known by; the first is its primary key."""
    keys = []
    if match_id:
        keys.append(_token("id", match_id.strip()))
    keys.append(_token("url", normalise_url(url)))
    return tuple(keys)

"""Mentions and issue references in text, found as GitLab finds them (outside code)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

RUBY_WHITESPACE = " \t\n\v\f\r\0"
_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_INLINE_CODE_RE = re.compile(r"(?<!`)(`+)(?!`).+?(?<!`)\1(?!`)", re.DOTALL)
# Ruby's \w is ASCII only: GitLab mentions `é@user` (gitlabhq app/models/user.rb)
_MENTION_RE = re.compile(r"(?<![A-Za-z0-9_])@([A-Za-z0-9_][A-Za-z0-9_.\-]*)")
_REFERENCE_RE = re.compile(r"(?<![\w&])#\d+|(?<![\w/.\-])[\w.\-]+/[\w.\-]+#\d+|/-/issues/\d+")


@functools.lru_cache(maxsize=64)
def _strip_code(text: str) -> str:
    """Drop CommonMark fenced code blocks and inline code spans. Kept per text: each text is
    scanned for mentions, then for references, and a description is scanned again with
    each change (they reach 1 MB in the corpus)."""
    kept: list[str] = []
    fence: str | None = None
    for line in text.replace("\r", "").split("\n"):
        match = _FENCE_RE.match(line)
        if fence is None:
            if match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
                fence = match.group(1)
            else:
                kept.append(line)
        elif (
            match
            and match.group(1)[0] == fence[0]
            and len(match.group(1)) >= len(fence)
            and not match.group(2).strip()
        ):
            fence = None
    return _INLINE_CODE_RE.sub(" ", "\n".join(kept))


def find_mentions(text: str, usernames: Iterable[str]) -> list[str]:
    """Known usernames (and ``all``) mentioned in ``text``, in order."""
    known = {name.lower(): name for name in usernames} | {"all": "all"}
    found: list[str] = []
    for match in _MENTION_RE.finditer(_strip_code(text)):
        name = known.get(match.group(1).rstrip(".").lower())
        if name is not None and name not in found:
            found.append(name)
    return found


def find_references(text: str) -> list[str]:
    """Issue references (``#12``, ``group/project#12``, ``.../-/issues/12``)."""
    return [m.group(0) for m in _REFERENCE_RE.finditer(_strip_code(text))]

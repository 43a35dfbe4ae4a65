"""What every channel renders from: OPS-004's notification payload (cycle_id,
matches_count, matches[], summary). Plain data; building it needs no network.

A staged issue carries its notice in its description (a second HTML comment, base64 JSON,
so posting text cannot close it), which lets `digest` notify later from the issue alone."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import asdict, dataclass
from typing import Any, Literal
from urllib.parse import quote

from markupsafe import Markup

from match_staging.model import IssueRef, Match

Kind = Literal["new", "deferred", "reminder"]
_NOTICE = re.compile(r"^<!-- match-staging v1 notice: ([A-Za-z0-9+/=]+) -->$", re.MULTILINE)


@dataclass(frozen=True)
class Notice:
    iid: int
    score: float
    title: str
    provider: str
    issue_url: str
    source_url: str
    location: str | None = None
    start: str | None = None
    duration: str | None = None
    rate: str | None = None

    @property
    def hot(self) -> bool:
        """OPS-004 marks matches of 90% and more with 🔥, the rest with ✅."""
        return self.score >= 90

    @classmethod
    def of(cls, match: Match, issue: IssueRef) -> Notice:
        return cls(iid=issue.iid, score=match.score, title=match.title,
                   provider=match.provider, issue_url=issue.web_url, source_url=match.url,
                   location=match.location, start=match.start, duration=match.duration,
                   rate=match.rate)


def notice_marker(match: Match) -> Markup:
    """The match as sent, minus the score breakdown: what notifications and `send` need."""
    data = {"score": match.score, "title": match.title, "provider": match.provider,
            "source_url": match.url, "location": match.location, "start": match.start,
            "duration": match.duration, "rate": match.rate, "draft": match.draft,
            "apply": match.apply, "attachments": list(match.attachments)}
    encoded = base64.b64encode(json.dumps(data, ensure_ascii=False).encode()).decode()
    return Markup(f"<!-- match-staging v1 notice: {encoded} -->")  # noqa: S704 - base64


def record(description: str | None) -> dict[str, Any]:
    """The match data stored in a staged issue's description ({} when there is none)."""
    found = _NOTICE.search(description or "")
    if not found:
        return {}
    try:
        data = json.loads(base64.b64decode(found.group(1)))
    except (ValueError, binascii.Error):
        return {}
    return data if isinstance(data, dict) else {}


def notice_from_issue(issue: IssueRef, description: str | None) -> Notice:
    """The notice stored in a staged issue; falls back to the title for older issues."""
    data = record(description)
    title = str(data.get("title") or issue.title)
    return Notice(iid=issue.iid, score=float(data.get("score") or 0), title=title,
                  provider=str(data.get("provider") or ""), issue_url=issue.web_url,
                  source_url=str(data.get("source_url") or ""),
                  location=data.get("location"), start=data.get("start"),
                  duration=data.get("duration"), rate=data.get("rate"))


def review_url(issue_url: str, pending_label: str) -> str:
    """The project's issue list filtered to matches waiting for review."""
    if "/-/issues/" not in issue_url:
        return issue_url.rsplit("/", 1)[0] + "/"  # the local tracker's folder
    project = issue_url.split("/-/issues/", 1)[0]
    return f"{project}/-/issues?label_name%5B%5D={quote(pending_label, safe='')}"


@dataclass(frozen=True)
class Payload:
    kind: Kind
    cycle_id: str
    matches: tuple[Notice, ...]   # best first
    review_url: str
    summary: str = ""

    @property
    def top(self) -> Notice:
        return self.matches[0]

    def as_dict(self) -> dict[str, Any]:
        """OPS-004's notification payload, as JSON would carry it."""
        return {"cycle_id": self.cycle_id, "kind": self.kind,
                "matches_count": len(self.matches),
                "matches": [asdict(n) for n in self.matches],
                "summary": self.summary, "review_url": self.review_url}


def build(kind: Kind, cycle_id: str, notices: list[Notice], pending_label: str,
          summary: str = "") -> Payload:
    ordered = tuple(sorted(notices, key=lambda n: (-n.score, n.iid)))
    return Payload(kind=kind, cycle_id=cycle_id, matches=ordered,
                   review_url=review_url(ordered[0].issue_url, pending_label),
                   summary=summary)

"""What every channel renders from: the notification payload (docs/design.md; cycle_id,
matches_count, matches[], summary). Plain data; building it needs no network.

A staged issue carries its notice in its description (the match record, `record.py`),
which lets `digest` notify later from the issue alone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import Literal
from urllib.parse import quote, urlsplit

from match_staging import record
from match_staging.model import IssueRef, Match, ScoreBand, score_band

Kind = Literal["new", "deferred", "reminder", "alert"]


@dataclass(frozen=True)
class Notice:
    """One match as every channel shows it."""

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
    altered: bool = False  # its record is not the bot's any more: shown without its text
    expiring: bool = False  # a reminder's pending match that expires within a day (issue 23)

    @property
    def hot(self) -> bool:
        """Matches of 90% and more get 🔥, the rest ✅ (docs/interface.md, "Boundaries")."""
        return score_band(self.score) is ScoreBand.HIGH

    @classmethod
    def of(cls, match: Match, issue: IssueRef) -> Notice:
        """The notice of a match just staged as `issue`: what its record will give later."""
        return _notice(issue, record.MatchRecord.of(match))


def notice_from_issue(issue: IssueRef, description: str | None) -> Notice:
    """The notice stored in a staged issue; falls back to the title for older issues."""
    return _notice(issue, record.decode_record(description) or record.MatchRecord())


def _notice(issue: IssueRef, data: record.MatchRecord) -> Notice:
    return Notice(
        iid=issue.iid,
        score=data.score,
        title=data.title or issue.title,
        provider=data.provider,
        issue_url=issue.web_url,
        source_url=data.source_url,
        location=data.location,
        start=data.start,
        duration=data.duration,
        rate=data.rate,
    )


def altered(issue: IssueRef, title: str) -> Notice:
    """An owed match whose record somebody else changed (or that has none the bot can
    vouch for): announced all the same, so nobody can suppress it by editing, but with none
    of the issue's text: only its number and its link (docs/design.md, "The delivery queue").
    """
    return Notice(
        iid=issue.iid,
        score=0.0,
        title=title,
        provider="",
        issue_url=issue.web_url,
        source_url="",
        altered=True,
    )


def web_url(url: str) -> str:
    """`url` when it is an http(s) URL, else "": no `javascript:`, `data:` or other scheme
    reaches any part of any channel.
    """
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return ""
    return url if scheme in ("http", "https") else ""


def _linked(notice: Notice) -> Notice:
    return dataclasses.replace(
        notice, issue_url=web_url(notice.issue_url), source_url=web_url(notice.source_url)
    )


def review_url(issue_url: str, pending_label: str) -> str:
    """The project's issue list filtered to matches waiting for review."""
    if "/-/issues/" not in issue_url:
        return issue_url.rsplit("/", 1)[0] + "/"  # the local tracker's folder
    project = issue_url.split("/-/issues/", 1)[0]
    return f"{project}/-/issues?label_name%5B%5D={quote(pending_label, safe='')}"


@dataclass(frozen=True)
class WebhookAlert:
    """A trigger webhook GitLab switched off: review moves no longer reach the gate."""

    url: str  # without the trigger token
    status: str  # "temporarily_disabled" or "disabled"
    until: str | None = None


Level = Literal["info", "warning", "critical"]
LEVELS: tuple[Level, ...] = ("info", "warning", "critical")


@dataclass(frozen=True)
class Message:
    """A message another pipeline sends through the channels (`match-staging notify`): a CI
    failure, a billing alert. Its text is untrusted: every channel escapes it as it escapes
    a posting, and `link` is an http(s) URL or "".
    """

    title: str
    body: str = ""
    link: str = ""
    level: Level = "info"
    # `digest`'s weekly stats (usecases/stats.py): the band chart as PNG, which only the
    # email shows (inline); never kept in the run log, so a message sent later goes without
    chart: bytes = dataclasses.field(default=b"", repr=False)


@dataclass(frozen=True)
class Alert:
    """What the freelancer must do for the gate to keep running unattended (usecases/
    health.py): not a match list, so channels render it with the `alert*` templates.
    """

    token_expires: date | None = None  # the bot's token expires on this date (soon)
    days_left: int | None = None  # until then: 0 means today
    webhooks: tuple[WebhookAlert, ...] = ()
    tokens_url: str = ""  # the token user's User settings > Access tokens page
    variables_url: str = ""  # the project's Settings > CI/CD page (GITLAB_TOKEN)
    hooks_url: str = ""  # the project's Settings > Webhooks page
    # `notify` messages (usecases/message.py): when there are any, the alert templates
    # show these and nothing else, so every channel that renders alerts can carry them
    messages: tuple[Message, ...] = ()


@dataclass(frozen=True)
class Payload:
    """One message's content, whatever the channel: matches, or (kind "alert") an `alert`."""

    kind: Kind
    cycle_id: str
    matches: tuple[Notice, ...]  # best first; empty for an alert
    review_url: str
    summary: str = ""
    alert: Alert | None = None

    @property
    def top(self) -> Notice:
        """The best match, named in subjects and short texts."""
        return self.matches[0]


def build(
    kind: Kind, cycle_id: str, notices: list[Notice], pending_label: str, summary: str = ""
) -> Payload:
    """A payload of `notices`, best first, linking to the pending matches; every link an
    http(s) URL or nothing.
    """
    ordered = tuple(sorted(map(_linked, notices), key=lambda n: (n.altered, -n.score, n.iid)))
    return Payload(
        kind=kind,
        cycle_id=cycle_id,
        matches=ordered,
        review_url=web_url(review_url(ordered[0].issue_url, pending_label)),
        summary=summary,
    )


def alert_payload(alert: Alert, cycle_id: str, summary: str) -> Payload:
    """The message of an operator alert; `review_url` is the project's settings page."""
    return Payload(
        kind="alert",
        cycle_id=cycle_id,
        matches=(),
        review_url=(alert.variables_url if alert.token_expires else alert.hooks_url)
        or alert.variables_url,
        summary=summary,
        alert=alert,
    )


def message_payload(messages: tuple[Message, ...], cycle_id: str, summary: str) -> Payload:
    """The message of `notify` (one, or the batch `digest` sends after quiet hours): an
    alert of messages, linking to the first message's link.
    """
    linked = tuple(dataclasses.replace(m, link=web_url(m.link)) for m in messages)
    return Payload(
        kind="alert",
        cycle_id=cycle_id,
        matches=(),
        review_url=linked[0].link if linked else "",
        summary=summary,
        alert=Alert(messages=linked),
    )

"""Plain data shared by the core and the adapters. No I/O here."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Literal

from match_staging.render import truncate


class State(enum.StrEnum):
    """Review states; exactly one state label is on a staged issue at a time."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SENT = "sent"
    # After the gate (issue 23): a pending match that timed out, and what came of a sent one.
    EXPIRED = "expired"
    INTERVIEW = "interview"
    OFFER = "offer"
    DECLINED = "declined"
    GHOSTED = "ghosted"


class ScoreBand(enum.StrEnum):
    """The score label a match gets (docs/interface.md, "Boundaries")."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


def score_band(score: float) -> ScoreBand:
    """Boundaries from docs/interface.md: high >= 90, medium 70 <= s < 90, low below."""
    if score >= 90:
        return ScoreBand.HIGH
    if score >= 70:
        return ScoreBand.MEDIUM
    return ScoreBand.LOW


@dataclass(frozen=True)
class Requirement:
    """One row of a match's score breakdown."""

    requirement: str
    score: float | None = None
    weight: float | None = None
    comment: str | None = None


@dataclass(frozen=True)
class Match:
    """One job lead as the producer sent it, texts already cleaned but not yet escaped."""

    score: float
    title: str
    provider: str
    url: str
    source: str  # where it came from, e.g. "matches-inbox/cycle.json"
    position: int  # 1-based position in its document
    keys: tuple[str, ...]  # stable match keys, see keys.py; keys[0] is the primary one
    id: str | None = None
    location: str | None = None
    start: str | None = None
    duration: str | None = None
    rate: str | None = None
    requirements: tuple[Requirement, ...] = ()
    notes: str | None = None
    draft: str | None = None
    attachments: tuple[str, ...] = ()
    apply: dict[str, Any] = field(default_factory=dict)
    cycle_id: str | None = None
    apply_by: str | None = None  # the application deadline (clock.deadline reads it)

    @property
    def label(self) -> str:
        """How messages name this match: position and a short title."""
        return f"match {self.position} ({truncate(self.title, 60)!r})"


@dataclass(frozen=True)
class IssueRef:
    """What the tool needs to know about a staged issue."""

    iid: int
    title: str
    web_url: str
    labels: tuple[str, ...]
    state: str  # GitLab's opened/closed
    keys: tuple[str, ...] = ()
    description: str = field(default="", repr=False)
    updated_at: str = ""
    created_at: str = ""
    author: str = ""  # username of who created it (trusted only when the bot did)
    notes_count: int | None = None  # notes people (and the bot) wrote; None: not known
    closed_by: str = ""  # username of who closed it, while it is closed (when known)


LabelAction = Literal["add", "remove"]
StateEvent = Literal["close", "reopen"]  # what an issue update may do to open/closed


@dataclass(frozen=True)
class LabelEvent:
    """One entry of GitLab's resource_label_events: who added or removed which label."""

    user: str
    user_id: int
    label: str
    action: LabelAction
    created_at: str
    # GitLab's id of the label: an event names the label by its *current* name (the event
    # belongs to the label, ResourceLabelEvent `belongs_to :label`), so a renamed label
    # shows its new name on every old event; the id stays. 0: the tracker has no ids.
    label_id: int = 0


@dataclass(frozen=True)
class Note:
    """One note of an issue, system notes included: `author` is who wrote it (GitLab lets
    only the author edit a note), or who made the change a system note records.
    """

    id: int
    author: str
    body: str
    system: bool
    created_at: str


@dataclass(frozen=True)
class LabelSpec:
    """A label the tool needs: name, color, description."""

    name: str
    color: str
    description: str


@dataclass(frozen=True)
class IssueDraft:
    """A new issue as the tracker will create it: everything already rendered."""

    title: str
    description: str
    labels: tuple[str, ...]
    keys: tuple[str, ...]
    assignee_ids: tuple[int, ...] = ()

"""The one codec of match-staging's machine-readable markers (issue 10: one module owns the
format, typed, instead of four modules each with its own regex).

Where each marker lives, and why it can be believed:

- In the **description** the bot writes at creation: the match record (`notice`, base64
  JSON, so posting text cannot close the comment) and the initial state (`state: pending`).
  Any member with the Reporter role may edit a description, so callers trust these only
  after `workflow.description_edit` said no one but the bot changed it.
- In **notes authored by the bot**: the audited state after each review step (`state`) and
  the mark a send leaves before the email goes out (`sending`). Only a note's author can
  edit it, so a copy of a marker in anybody else's note counts for nothing.

The dedupe key marker (`render.key_marker`) is not here: it is a search contract of its own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from match_staging.model import Match, State

PREFIX = "<!-- match-staging v1 "
_STATE = re.compile(r"<!-- match-staging v1 state: ([a-z]{1,20}) -->")
_SENDING = re.compile(r"<!-- match-staging v1 sending: ([0-9A-Za-z:+.\-]{1,40}) -->")
_NOTICE = re.compile(r"<!-- match-staging v1 notice: ([A-Za-z0-9+/=]+) -->")


@dataclass(frozen=True)
class StateMark:
    """The state the tool audited with this step."""

    state: State


@dataclass(frozen=True)
class SendingMark:
    """A send started at `started` (ISO time); it may have gone out."""

    started: str


NoteMark = StateMark | SendingMark


@dataclass(frozen=True)
class ApplyTo:
    """Where the application goes: an address, or a portal to apply on by hand."""

    email: str = ""
    url: str = ""
    subject: str = ""


@dataclass(frozen=True)
class MatchRecord:
    """The match as staged: what notifications show and what `send` sends."""

    score: float = 0.0
    title: str = ""
    provider: str = ""
    source_url: str = ""
    location: str | None = None
    start: str | None = None
    duration: str | None = None
    rate: str | None = None
    draft: str = ""
    apply: ApplyTo = field(default_factory=ApplyTo)
    attachments: tuple[str, ...] = ()


# ------------------------------------------------------------------ state and sending


def state_marker(state: State) -> str:
    """The marker of an audited state."""
    return f"{PREFIX}state: {state.value} -->"


def sending_marker(started: str) -> str:
    """The marker a send leaves before the email goes out."""
    return f"{PREFIX}sending: {started} -->"


def encode_note_mark(mark: NoteMark) -> str:
    """The marker line of a note mark."""
    if isinstance(mark, StateMark):
        return state_marker(mark.state)
    return sending_marker(mark.started)


def with_mark(body: str, mark: NoteMark) -> str:
    """A note body carrying `mark` on its last line (an HTML comment: GitLab shows nothing)."""
    return f"{body.rstrip()}\n\n{encode_note_mark(mark)}"


def parse_note(body: str) -> NoteMark | None:
    """The mark of a note the bot wrote: its last line, exactly, or nothing."""
    last = (body or "").rstrip().rpartition("\n")[2]
    if len(last) > 80:
        return None
    if found := _STATE.fullmatch(last):
        try:
            return StateMark(State(found.group(1)))
        except ValueError:
            return None
    if found := _SENDING.fullmatch(last):
        return SendingMark(found.group(1))
    return None


def description_state(description: str | None) -> State | None:
    """The state marker of a description: the initial `pending` stage writes, or the state
    the previous release kept there. Only a whole line counts (untrusted text in a
    description is quoted, so none of its lines starts with the marker).
    """
    for line in (description or "").split("\n"):
        if line.startswith(PREFIX) and (found := _STATE.fullmatch(line)):
            try:
                return State(found.group(1))
            except ValueError:
                return None
    return None


def description_sending(description: str | None) -> SendingMark | None:
    """The sending mark the previous release kept in the description during a send."""
    for line in (description or "").split("\n"):
        if line.startswith(PREFIX) and (found := _SENDING.fullmatch(line)):
            return SendingMark(found.group(1))
    return None


# ------------------------------------------------------------------ base64 JSON


def encode_json(data: Any, *, sort_keys: bool = False) -> str:
    """Data for an HTML comment: base64 of its JSON, so no text in it can close the comment
    or become Markdown (the match record here, the run log's records in trackers/ledger).
    """
    text = json.dumps(data, ensure_ascii=False, sort_keys=sort_keys)
    return base64.b64encode(text.encode()).decode()


def decode_json(encoded: str) -> Any:
    """What `encode_json` wrote; None when it is not valid base64 of JSON."""
    try:
        return json.loads(base64.b64decode(encoded, validate=True))
    except (ValueError, binascii.Error):
        return None


# ------------------------------------------------------------------ the match record


def record_marker(match: Match) -> Markup:
    """The match as sent, minus the score breakdown: what notifications and `send` need."""
    data = {
        "score": match.score,
        "title": match.title,
        "provider": match.provider,
        "source_url": match.url,
        "location": match.location,
        "start": match.start,
        "duration": match.duration,
        "rate": match.rate,
        "draft": match.draft,
        "apply": match.apply,
        "attachments": list(match.attachments),
    }
    return Markup(f"{PREFIX}notice: {encode_json(data)} -->")  # noqa: S704 - base64 only


def decode_record(description: str | None) -> MatchRecord | None:
    """The match record of a staged issue's description; None when it has none."""
    line = _record_line(description)
    found = _NOTICE.fullmatch(line) if line else None
    data = decode_json(found.group(1)) if found else None
    return _typed(data) if isinstance(data, dict) else None


def fingerprint(description: str | None) -> str:
    """A short hash of the match-record line of a description ("" when it has none): the
    delivery queue keeps it for every owed issue, so a later run announces the record only
    while the issue still holds the very line the bot wrote (anyone with Reporter may edit a
    description; the queue is a record only the bot writes).
    """
    line = _record_line(description)
    return hashlib.sha256(line.encode()).hexdigest()[:24] if line else ""


def _record_line(description: str | None) -> str | None:
    """The one line of a description that holds the match record, for `decode_record` and
    `fingerprint` alike: None unless exactly one line starts with the record's prefix and it
    is whole (the bot writes one, and escapes untrusted text so that none of its lines can
    start so; a second one is somebody else's, and then neither counts: issue 20).
    """
    lines = [ln for ln in (description or "").split("\n") if ln.startswith(PREFIX + "notice: ")]
    return lines[0] if len(lines) == 1 and _NOTICE.fullmatch(lines[0]) else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _optional(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _typed(data: dict[str, Any]) -> MatchRecord:
    apply = data.get("apply") if isinstance(data.get("apply"), dict) else {}
    assert isinstance(apply, dict)
    files = data.get("attachments")
    score = data.get("score")
    return MatchRecord(
        score=float(score)
        if isinstance(score, int | float) and not isinstance(score, bool)
        else 0.0,
        title=_text(data.get("title")),
        provider=_text(data.get("provider")),
        source_url=_text(data.get("source_url")),
        location=_optional(data.get("location")),
        start=_optional(data.get("start")),
        duration=_optional(data.get("duration")),
        rate=_optional(data.get("rate")),
        draft=_text(data.get("draft")),
        apply=ApplyTo(
            email=_text(apply.get("email")),
            url=_text(apply.get("url")),
            subject=_text(apply.get("subject")),
        ),
        attachments=tuple(str(f) for f in files) if isinstance(files, list) else (),
    )

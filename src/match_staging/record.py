"""The one codec of the issue text the bot reads back (issue 10: one module owns the format,
typed; issue 21: every line the tool writes for itself and parses again is written and parsed
here, nowhere else).

Where each marker lives, and why it can be believed:

- In the **description** the bot writes at creation (`description_head`): the key line
  (`key_line`, the first line, words GitLab's search finds), the initial state
  (`state: pending`) and the match record (`notice`, base64 JSON, so posting text cannot
  close the comment; its fields are `MatchRecord`'s, one list for writing and reading).
  Any member with the Reporter role may edit a description, so callers trust these only
  after `workflow.description_edit` said no one but the bot changed it.
- In **notes authored by the bot**: the audited state after each review step (`state`), the
  mark a send leaves before the email goes out (`sending`), and the run log's records
  (`log`, trackers/ledger.py). Only a note's author can edit it, so a copy of a marker in
  anybody else's note counts for nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from markupsafe import Markup

from match_staging.model import Match, Requirement, State

PREFIX = "<!-- match-staging v1 "
_STATE = re.compile(r"<!-- match-staging v1 state: ([a-z]{1,20}) -->")
_SENDING = re.compile(r"<!-- match-staging v1 sending: ([0-9A-Za-z:+.\-]{1,40}) -->")
_NOTICE = re.compile(r"<!-- match-staging v1 notice: ([A-Za-z0-9+/=]+) -->")
_REASON = re.compile(r"<!-- match-staging v1 reason: ([A-Za-z0-9+/=]{1,4000}) -->")
REASON_MAX = 500  # characters of a reason kept in its marker (base64: at most 2,668 digits)
_LOG = re.compile(r"^<!-- match-staging v1 log: ([A-Za-z0-9+/=]+) -->$", re.MULTILINE)
# The key line: the keys as plain words, outside any HTML comment, so GitLab's issue search
# (full-text: whole words and word prefixes) finds them whether or not it indexes comments.
_KEY_LINE = re.compile(
    r"\A<sub>match-staging keys: ((?:msk[0-9a-f]+)(?: msk[0-9a-f]+)*)</sub>$", re.MULTILINE
)
_OLD_KEYS = re.compile(r"\A<!-- match-staging v1 keys: ([a-z0-9\- ]+) -->")  # before 2.0
# The run log's first line: only the bot wrote it (docs/design.md, "Records")
LEDGER_LINE = f"{PREFIX}ledger -->"
LEDGER_RETIRED_LINE = f"{PREFIX}ledger retired -->"


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


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _optional(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _apply(value: Any) -> ApplyTo:
    found = value if isinstance(value, dict) else {}
    return ApplyTo(**{f.name: _text(found.get(f.name)) for f in fields(ApplyTo)})


def _names(value: Any) -> tuple[str, ...]:
    return tuple(str(f) for f in value) if isinstance(value, list) else ()


def _scores(value: Any) -> tuple[tuple[str, float], ...]:
    """The breakdown's [name, score] pairs (a requirement without a score is left out)."""
    pairs = value if isinstance(value, list) else []
    return tuple(
        (p[0], float(p[1]))
        for p in pairs
        if isinstance(p, list)
        and len(p) == 2
        and isinstance(p[0], str)
        and isinstance(p[1], int | float)
        and not isinstance(p[1], bool)
    )


def _of(attribute: str, read: Callable[[Any], Any]) -> dict[str, Any]:
    """A record field's metadata: the `Match` attribute it is written from, and how the
    value read back from the record's JSON is typed.
    """
    return {"match": attribute, "read": read}


@dataclass(frozen=True)
class MatchRecord:
    """The match as staged: what notifications show and what `send` sends. Its fields are
    the one list the record is written from and read back by (`record_marker`,
    `decode_record`): a new field is one line here.
    """

    score: float = field(default=0.0, metadata=_of("score", _number))
    title: str = field(default="", metadata=_of("title", _text))
    provider: str = field(default="", metadata=_of("provider", _text))
    source_url: str = field(default="", metadata=_of("url", _text))
    location: str | None = field(default=None, metadata=_of("location", _optional))
    start: str | None = field(default=None, metadata=_of("start", _optional))
    duration: str | None = field(default=None, metadata=_of("duration", _optional))
    rate: str | None = field(default=None, metadata=_of("rate", _optional))
    draft: str = field(default="", metadata=_of("draft", _text))
    apply: ApplyTo = field(default_factory=ApplyTo, metadata=_of("apply", _apply))
    attachments: tuple[str, ...] = field(default=(), metadata=_of("attachments", _names))
    # the score breakdown's (requirement, score) pairs: what `stats` means per requirement
    requirements: tuple[tuple[str, float], ...] = field(
        default=(), metadata=_of("requirements", _scores)
    )
    # the deadline as the producer gave it (issue 23): read from here, the bot's record,
    # never from the description's text
    apply_by: str | None = field(default=None, metadata=_of("apply_by", _optional))

    @classmethod
    def of(cls, match: Match) -> MatchRecord:
        """The record `record_marker(match)` writes, as `decode_record` reads it back."""
        return cls._read(_data(match))

    @classmethod
    def _read(cls, data: dict[str, Any]) -> MatchRecord:
        return cls(**{f.name: f.metadata["read"](data.get(f.name)) for f in _FIELDS})


_FIELDS = fields(MatchRecord)


def _data(match: Match) -> dict[str, Any]:
    """The record's JSON object: each field from the Match attribute it names."""
    return {f.name: _json(getattr(match, f.metadata["match"])) for f in _FIELDS}


def _json(value: Any) -> Any:
    if isinstance(value, Requirement):  # only the pair `stats` reads: the record stays short
        return [value.requirement, value.score] if value.score is not None else None
    if isinstance(value, tuple):
        return [v for v in map(_json, value) if v is not None]
    return value


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


def reason_marker(reason: str) -> str:
    """The marker of the reason noted with a step (`review --reason`), base64 so that no
    text can close the comment: `stats` counts rejection reasons from the bot's notes only.
    """
    return f"{PREFIX}reason: {encode_json(reason[:REASON_MAX])} -->"


def note_reason(body: str) -> str:
    """The reason marked in a note the bot wrote ("" when none): a whole line of its own."""
    for line in (body or "").split("\n"):
        if line.startswith(PREFIX) and (found := _REASON.fullmatch(line)):
            reason = decode_json(found.group(1))
            return reason if isinstance(reason, str) else ""
    return ""


# What the audit note of a send (templates/audit_note.md.j2, rendered escaped for GitLab)
# says of where the application went: the address and the Message-ID, for the follow-up
# reminder (issue 23). Read only from the bot's own note of the step approved -> sent.
_SENT_TO = re.compile(
    r"^\*\*Sent:\*\* the application (?:went )?to (\S{1,300}) .{0,120}?"
    r"\(.{0,80}?Message-ID (\S{1,300}?)\)",
    re.MULTILINE,
)


def sent_details(body: str) -> tuple[str, str]:
    """(address, Message-ID) of a send's audit note; ("", "") when it names none."""
    found = _SENT_TO.search(body or "")
    if not found:
        return "", ""
    address, message_id = (html.unescape(g).replace("\\", "") for g in found.groups())
    return address, message_id


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
    return Markup(f"{PREFIX}notice: {encode_json(_data(match))} -->")  # noqa: S704 - base64 only


def decode_record(description: str | None) -> MatchRecord | None:
    """The match record of a staged issue's description; None when it has none."""
    line = _record_line(description)
    found = _NOTICE.fullmatch(line) if line else None
    data = decode_json(found.group(1)) if found else None
    return MatchRecord._read(data) if isinstance(data, dict) else None


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


# ------------------------------------------------------------------ the description


def description_head(match: Match) -> Markup:
    """The machine lines a staged description starts with: the key line first (untrusted
    text can never come first), the initial state, and the full match record.
    """
    return Markup("\n").join(
        [key_line(match.keys), Markup(state_marker(State.PENDING)), record_marker(match)]  # noqa: S704
    )


def key_line(keys: tuple[str, ...]) -> Markup:
    """The first line of every staged description: its match keys as words GitLab's search
    finds exactly (`msk-1a2b` is written `msk1a2b`: one word, no hyphen for the search
    parser to split), readable in small print. Only this line is trusted when an issue is
    matched to a key, since untrusted text can never come first.
    """
    words = " ".join(search_word(k) for k in keys)  # keys.py: "msk-" and hex digits only
    return Markup(f"<sub>match-staging keys: {words}</sub>")  # noqa: S704


def search_word(key: str) -> str:
    """The word a key is written as in the key line, and searched for."""
    return key.replace("-", "")


def description_keys(description: str | None) -> tuple[str, ...]:
    """The keys of the key line, or of the HTML comment that issues staged before the key
    line held (`old_key_marker`).
    """
    text = description or ""
    found = _KEY_LINE.match(text)
    if found:
        return tuple(f"{w[:3]}-{w[3:]}" for w in found.group(1).split())
    old = _OLD_KEYS.match(text)
    return tuple(old.group(1).split()) if old else ()


def old_key_marker(description: str | None) -> bool:
    """Keys only in an HTML comment: search may not see them (older GitLab drops comments
    from its search index), so such issues are found by listing, not by search.
    """
    return _OLD_KEYS.match(description or "") is not None


# ------------------------------------------------------------------ the run log's records


def log_marker(entry: dict[str, Any]) -> str:
    """The marker line of one run-log record (trackers/ledger.py lays out the note)."""
    return f"{PREFIX}log: {encode_json(entry, sort_keys=True)} -->"


def parse_log_marker(body: str | None) -> dict[str, Any] | None:
    """The entry of a run-log record's marker line; None when there is none or it is not
    a JSON object.
    """
    found = _LOG.search(body or "")
    entry = decode_json(found.group(1)) if found else None
    return entry if isinstance(entry, dict) else None

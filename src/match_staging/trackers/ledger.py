"""The run log ("ledger") as GitLab stores it: one confidential issue the bot created, and
one note by the bot per record. A record is a machine-readable marker (base64 JSON inside an
HTML comment, `record.log_marker`, so no text in it can close the comment or become Markdown)
plus one line for people. Pure functions; the requests are in trackers/gitlab_runlog.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from match_staging import clock, record
from match_staging.trackers.base import LogRecord

# A plain label: scoped labels (`a::b`) are a Premium feature, so `match-staging::ledger`
# would be an ordinary label on Free anyway, and confusing on Premium.
LABEL = "match-staging-ledger"
TITLE = "match-staging run log"
# The run log is known by its author (the bot) and this first line of its description, which
# only the bot wrote and nobody else changed: not by its label or title, which any Reporter
# can give to another issue or take away (docs/design.md, "Records").
FIRST_LINE = record.LEDGER_LINE
DESCRIPTION = (
    f"{FIRST_LINE}\n"
    "The run log of match-staging: what one run tells the next (which WhatsApp failures were "
    "reported, when reminders went out). Each record is a comment by this bot; comments by "
    "anyone else are ignored, so are edits to this text. Please leave this issue open and "
    "unchanged; it is confidential because the records are of no interest to anyone.\n"
)
# What `digest --new-run-log` leaves in a run log it replaces: no longer its first line.
RETIRED = (
    f"{record.LEDGER_RETIRED_LINE}\n"
    "This was the run log of match-staging until {when}, when `digest --new-run-log` "
    "replaced it. Its records are kept here and no longer read.\n"
)
KIND = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


def check_kind(kind: str) -> str:
    """`kind` if it is a valid record kind, else ValueError."""
    if not KIND.fullmatch(kind):
        raise ValueError(f"run-log kind must be lower case letters, digits and '-': {kind!r}")
    return kind


def is_run_log(description: str | None) -> bool:
    """Whether a description starts with the run log's first line."""
    return (description or "").split("\n", 1)[0].rstrip("\r") == FIRST_LINE


def was_run_log(description: str | None) -> bool:
    """Whether a description is a run log's, in use or retired (`RETIRED`): never a match,
    whatever labels somebody puts on it.
    """
    return (description or "").startswith(FIRST_LINE[: -len(" -->")])


def note_body(kind: str, data: dict[str, Any], at: datetime) -> str:
    """One record as a note: the marker, then a line a person can read."""
    stamp = at.astimezone(UTC).isoformat(timespec="seconds")
    entry = {"kind": check_kind(kind), "at": stamp, "data": data}
    return f"{record.log_marker(entry)}\nmatch-staging run log: `{kind}` record of {stamp}"


def parse_note(body: str, fallback: datetime) -> LogRecord | None:
    """The record in a note's body; None when it holds none or a malformed one.
    `fallback` (the note's own time) stands in for a record without its time.
    """
    entry = record.parse_log_marker(body)
    if entry is None:
        return None
    kind, data = entry.get("kind"), entry.get("data")
    if not isinstance(kind, str) or not isinstance(data, dict):
        return None
    return LogRecord(kind=kind, data=data, created_at=parse_time(entry.get("at"), fallback))


def parse_time(value: Any, fallback: datetime) -> datetime:
    """An ISO 8601 time (GitLab's `...Z` included) as an aware UTC datetime."""
    return clock.parse(value) or fallback

"""Secrets out of a match's texts, once, before anything is written or sent."""

from __future__ import annotations

import dataclasses
from typing import Any

from match_staging.model import Match
from match_staging.redaction import PLACEHOLDER, Scrubber


def scrub(match: Match, scrubber: Scrubber) -> tuple[Match, list[tuple[str, list[str]]]]:
    """The match with every secret value in its texts replaced, and the fields that held one
    (with the names of the secrets found there).

    Why here, once, and not on rendered text: everything that leaves the tool is built from
    the parsed match (issue title and description, the record kept in the description as
    base64, where a scan of rendered text cannot see a secret, every notification, the
    application `send` mails, the audit notes quoting it). A match document is the only
    input a runner expands variables into (issue 15), so this is where a secret gets in.
    """
    if not scrubber:
        return match, []
    every = [
        match.title,
        match.provider,
        match.url,
        match.id,
        match.location,
        match.start,
        match.duration,
        match.rate,
        match.notes,
        match.draft,
        match.cycle_id,
        *match.attachments,
        *(v for v in match.apply.values() if isinstance(v, str)),
        *(t for r in match.requirements for t in (r.requirement, r.comment)),
    ]
    if not scrubber.scrub("\0".join(t for t in every if t))[1]:
        return match, []  # one scan of all its texts: the common case
    fields: list[tuple[str, list[str]]] = []

    def text(name: str, value: str) -> str:
        cleaned, found = scrubber.scrub(value)
        if found:
            fields.append((name, found))
        return cleaned

    def maybe(name: str, value: str | None) -> str | None:
        return None if value is None else text(name, value)

    changed: dict[str, Any] = {}  # in the order of the document's fields
    for name in ("title", "provider", "url", "id", "location", "start", "duration", "rate"):
        changed[name] = maybe(name, getattr(match, name))
    changed["requirements"] = tuple(
        dataclasses.replace(
            r,
            requirement=text(f"requirements[{i}].requirement", r.requirement),
            comment=maybe(f"requirements[{i}].comment", r.comment),
        )
        for i, r in enumerate(match.requirements)
    )
    changed["notes"] = maybe("notes", match.notes)
    changed["draft"] = maybe("draft", match.draft)
    changed["attachments"] = tuple(
        text(f"attachments[{i}]", a) for i, a in enumerate(match.attachments)
    )
    changed["apply"] = {
        k: text(f"apply.{k}", v) if isinstance(v, str) else v for k, v in match.apply.items()
    }
    changed["cycle_id"] = maybe("cycle_id", match.cycle_id)
    clean = dataclasses.replace(match, **changed)
    return clean, fields


def scrubbed_notice(where: str) -> str:
    """The line a run prints for each text a secret was removed from: never the value."""
    return (
        f"secret removed: {where}, a secret the tool can see; it was replaced by "
        f"{PLACEHOLDER!r} before anything was written or sent (a pipeline variable "
        "expanded into the document?)"
    )

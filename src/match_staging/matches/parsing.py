"""Parse one document into matches: every match validated on its own, so one bad match
never hides the good ones beside it; lengths before any pattern runs, nesting depth before
anything walks a value (issue 10, "Hostile sizes").
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from email.errors import HeaderParseError
from email.headerregistry import Address
from typing import Any

from match_staging import clock
from match_staging.errors import InputError
from match_staging.keys import match_keys
from match_staging.limits import MAX_DEPTH, MAX_MATCHES, TooDeep, load_json
from match_staging.matches.inputs import Document
from match_staging.matches.messages import error_message, field_of, json_type, preview
from match_staging.matches.schema import MAX_ERRORS_PER_MATCH, match_validator, requirement_errors
from match_staging.matches.text import clean_text
from match_staging.model import Match, Requirement
from match_staging.render import one_line, truncate

MAX_CYCLE_ID = 200  # as in match.schema.json
# The fields the schema checks with a pattern, and their maxLength there: checked first, so
# no pattern ever runs on a long text (a backtracking engine would take seconds on 100 kB).
_PATTERN_FIELDS = {"url": 2048, "source_url": 2048}
_APPLY_MAXLEN = {"": 2048, "email": 254, "url": 2048}
# What an address a mailer accepts may not have: comments "(…)", quoted parts, a display name
# "<…>" and IP-literal domains "[1.2.3.4]" (RFC 5322 allows them; Address would keep them).
_ADDRESS_EXTRAS = re.compile(r'[()<>\[\]"\\\s,;:]')


def _load(doc: Document) -> tuple[str, Any]:
    """The document's text and its JSON; Invalid with one line saying why not."""
    try:
        text = doc.data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(
            [
                InputError(
                    doc.source,
                    f"not UTF-8 text (byte 0x{doc.data[exc.start]:02x} at offset {exc.start})",
                )
            ]
        ) from None
    if not text.strip():
        raise Invalid(
            [
                InputError(
                    doc.source,
                    "empty document: expected a match, a list of "
                    'matches or {"cycle_id": ..., "matches": [...]}',
                )
            ]
        )
    try:
        return text, load_json(text)
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
    except TooDeep:
        message = (
            f"nested too deeply: more than {MAX_DEPTH} levels of lists and objects "
            "(a match document has 5)"
        )
    except ValueError as exc:  # an integer of thousands of digits
        message = f"not valid JSON: {one_line(str(exc), 120)}"
    raise Invalid([InputError(doc.source, message)])


def _items(source: str, data: Any) -> tuple[list[Any], str | None]:
    """The matches of a document (one, a list, or a cycle) and its cycle id."""
    cycle_id: str | None = None
    cycle = isinstance(data, dict) and "matches" in data
    if isinstance(data, dict) and "matches" in data:
        cycle_id = data.get("cycle_id")
        if cycle_id is not None and (
            not isinstance(cycle_id, str) or not cycle_id.strip() or len(cycle_id) > MAX_CYCLE_ID
        ):
            raise Invalid(
                [
                    InputError(
                        source, f"must be text of 1 to {MAX_CYCLE_ID} characters", field="cycle_id"
                    )
                ]
            )
        data = data["matches"]
        if not isinstance(data, list):
            raise Invalid([InputError(source, "must be a list of matches", field="matches")])
    items = data if isinstance(data, list) else [data]
    if len(items) > MAX_MATCHES:
        # refused whole: validating and staging 10,000 matches would hold the CI lock for hours
        raise Invalid(
            [
                InputError(
                    source,
                    f"has {len(items):,} matches, more than the "
                    f"{MAX_MATCHES:,} a document may hold: split it into "
                    "several documents; none of its matches was read",
                    field="matches" if cycle else None,
                )
            ]
        )
    return items, cycle_id


def parse(doc: Document) -> tuple[list[Match], list[InputError]]:
    """Parse one document into matches; each unusable match becomes one error per field."""
    try:
        text, data = _load(doc)
        items, cycle_id = _items(doc.source, data)
    except Invalid as invalid:
        return [], invalid.errors
    matches: list[Match] = []
    errors: list[InputError] = []
    nan = "NaN" in text  # the walk for NaN is needed only if the literal is there
    for position, item in enumerate(items, start=1):
        try:
            matches.append(_match(doc.source, position, item, cycle_id, nan=nan))
        except Invalid as invalid:
            for error in invalid.errors:
                error.position = position
            errors.extend(invalid.errors)
    return matches, errors


def _nan(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, float) and math.isnan(value):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _nan(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nan(item, f"{path}[{index}]")


class Invalid(Exception):
    """A document or match that cannot be used, with every reason why."""

    def __init__(self, errors: list[InputError]) -> None:
        self.errors = errors


def _describe(position: int, item: Any) -> str:
    title = item.get("title") if isinstance(item, dict) else None
    if isinstance(title, str) and title.strip():
        short = clean_text(title[:200], single_line=True)  # a title may be megabytes long
        return f"match {position} ({truncate(short, 60)!r})"
    return f"match {position}"


def _match(
    source: str, position: int, item: Any, cycle_id: str | None, *, nan: bool = True
) -> Match:
    where = _describe(position, item)
    _check(source, where, item, nan=nan)

    def line(name: str) -> str | None:
        value = item.get(name)
        if value is None:
            return None
        return clean_text(str(value), single_line=True) or None

    def block(name: str) -> str | None:
        value = item.get(name)
        return clean_text(value) or None if isinstance(value, str) else None

    url = str(item.get("url") or item.get("source_url")).strip()
    try:
        keys = match_keys(line("id"), url)  # urlsplit refuses some URLs the pattern lets by
    except ValueError as exc:
        raise Invalid(
            [
                InputError(
                    source,
                    f"is not a valid http(s) URL: {exc}",
                    match=where,
                    field="url" if item.get("url") else "source_url",
                )
            ]
        ) from None
    match_id = line("id")
    title = line("title")
    provider = line("provider")
    if not title or not provider:
        blank = "title" if not title else "provider"
        raise Invalid([InputError(source, "must not be empty", match=where, field=blank)])
    apply = _apply_of(source, where, item.get("apply"))
    apply_by = item.get("apply_by")
    if apply_by is not None and clock.deadline(apply_by, "UTC") is None:
        raise Invalid(
            [
                InputError(
                    source,
                    f"is not a real date or date-time: {preview(str(apply_by))}",
                    match=where,
                    field="apply_by",
                )
            ]
        )
    return Match(
        score=float(item["score"]),
        title=title,
        provider=provider,
        url=url,
        source=source,
        position=position,
        keys=keys,
        id=match_id,
        location=line("location"),
        start=line("start"),
        duration=line("duration"),
        rate=_rate(item.get("rate")),
        requirements=tuple(
            Requirement(
                requirement=clean_text(r["requirement"], single_line=True),
                score=r.get("score"),
                weight=r.get("weight"),
                comment=clean_text(r["comment"], single_line=True) if r.get("comment") else None,
            )
            for r in item.get("requirements") or ()
        ),
        notes=block("notes"),
        draft=block("draft"),
        attachments=tuple(item.get("attachments") or ()),
        apply={k: clean_text(v, single_line=True) for k, v in (apply or {}).items()},
        cycle_id=cycle_id,
        apply_by=apply_by,
    )


def _check(source: str, where: str, item: Any, *, nan: bool) -> None:
    """Invalid with every problem of one match the schema and the size limits find."""
    if not isinstance(item, dict):
        raise Invalid(
            [InputError(source, f"must be an object, got {json_type(item)}", match=where)]
        )
    too_long = [
        InputError(
            source,
            f"is too long ({length:,} characters, at most {limit:,})",
            match=where,
            field=name,
        )
        for name, length, limit in _too_long(item)
    ]
    if too_long:
        raise Invalid(too_long)
    found = sorted(
        [*match_validator().iter_errors(item), *requirement_errors(item)],
        key=lambda e: list(e.absolute_path),
    )
    errors = [
        InputError(source, error_message(e), match=where, field=field_of(e))
        for e in found[:MAX_ERRORS_PER_MATCH]
    ]
    # Python's JSON reads NaN, and no schema bound refuses it (every comparison is false)
    errors += [
        InputError(source, "must be a number, got NaN", match=where, field=path)
        for path in (_nan(item, "") if nan else ())
    ]
    if errors:
        raise Invalid(errors)


def _apply_of(source: str, where: str, apply: Any) -> Any:
    """`apply` as an object: a bare address or URL becomes `{email}` or `{url}`; an address
    a mailer would read differently is refused.
    """
    if isinstance(apply, str):
        apply = {"email": apply} if "@" in apply and "://" not in apply else {"url": apply}
    if apply and apply.get("email"):
        problem = _address_problem(apply["email"])
        if problem:
            raise Invalid(
                [
                    InputError(
                        source,
                        f"is not an address a mailer accepts: "
                        f"{preview(apply['email'])} ({problem})",
                        match=where,
                        field="apply",
                    )
                ]
            )
    return apply


def _too_long(item: dict[str, Any]) -> list[tuple[str, int, int]]:
    """The pattern-checked fields longer than the schema allows: (field, length, limit)."""
    found = [
        (name, len(item[name]), limit)
        for name, limit in _PATTERN_FIELDS.items()
        if isinstance(item.get(name), str) and len(item[name]) > limit
    ]
    apply = item.get("apply")
    if isinstance(apply, str) and len(apply) > _APPLY_MAXLEN[""]:
        found.append(("apply", len(apply), _APPLY_MAXLEN[""]))
    elif isinstance(apply, dict):
        found += [
            (f"apply.{key}", len(apply[key]), limit)
            for key, limit in _APPLY_MAXLEN.items()
            if key and isinstance(apply.get(key), str) and len(apply[key]) > limit
        ]
    return found


def _address_problem(value: str) -> str | None:
    """Why an applicant's address is not a plain `local@domain` a mailer sends to exactly;
    None if it is. The schema's pattern is loose, and RFC 5322 forms such as `a(c)@b` or
    `a@[1.2.3.4]` would be read differently by different mailers.
    """
    if _ADDRESS_EXTRAS.search(value):
        return "no comments, quotes, display names or IP-literal domains"
    try:
        address = Address(addr_spec=value)
    except (ValueError, IndexError, TypeError, HeaderParseError):
        return "not of the form name@domain"
    domain = address.domain
    if address.addr_spec != value or not address.username or "." not in domain:
        return "not of the form name@domain"
    if domain.rsplit(".", 1)[-1].isdigit():
        return "the domain must be a name, not an IP address"
    return None


def _rate(value: Any) -> str | None:
    """The design writes `{rate} EUR/h`: a bare number is an hourly rate in euros."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g} EUR/h"
    if isinstance(value, str) and clean_text(value, single_line=True):
        text = clean_text(value, single_line=True)
        return f"{text} EUR/h" if text.replace(".", "", 1).isdigit() else text
    return None

"""Read match documents from files, folders and CI variables; validate each match against
the published JSON Schema; clean its texts. Pure apart from reading the named inputs.

Every match is validated on its own, so one bad match never hides the good ones beside it;
a document of more matches than a document may hold is refused as a whole, before any is
validated. Lengths are checked before any pattern runs, and nesting depth before anything
walks a value (issue 10, "Hostile sizes").
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import math
import os
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.errors import HeaderParseError
from email.headerregistry import Address
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from match_staging.config import in_ci
from match_staging.errors import InputError
from match_staging.keys import match_keys
from match_staging.limits import MAX_DEPTH, MAX_MATCHES, TooDeep, load_json
from match_staging.model import Match, Requirement
from match_staging.redaction import PLACEHOLDER, Scrubber, Secret, secrets_of
from match_staging.render import one_line, truncate
from match_staging.resources import schema_path

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
# A trigger request's body (TRIGGER_PAYLOAD) with the largest document in base64 (4/3 of it)
MAX_PAYLOAD_BYTES = MAX_DOCUMENT_BYTES * 2
# the pipeline's match document, base64 of its UTF-8 JSON: the variable and the input
B64_VARIABLE = "MATCHES_JSON_B64"
B64_INPUT = "matches_b64"
MAX_ERRORS_PER_MATCH = 5
MAX_CYCLE_ID = 200  # as in match.schema.json
# The fields the schema checks with a pattern, and their maxLength there: checked first, so
# no pattern ever runs on a long text (a backtracking engine would take seconds on 100 kB).
_PATTERN_FIELDS = {"url": 2048, "source_url": 2048}
_APPLY_MAXLEN = {"": 2048, "email": 254, "url": 2048}
# What an address a mailer accepts may not have: comments "(…)", quoted parts, a display name
# "<…>" and IP-literal domains "[1.2.3.4]" (RFC 5322 allows them; Address would keep them).
_ADDRESS_EXTRAS = re.compile(r'[()<>\[\]"\\\s,;:]')

# Bidi controls can make a title read differently than it is; zero-width, filler and tag
# characters hide text from a reviewer's eye ("ASCII smuggling"). None belongs in a job
# posting we show to a person. (Format characters in general are dropped in clean_text,
# except the zero-width joiner that emoji sequences need.)
_INVISIBLE = re.compile("[\u034f\u115f\u1160\u3164\uffa0\U000e0000-\U000e007f]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# the zero-width joiner stays only between two symbols, as in an emoji sequence (👨‍💻)
_LONE_JOINER = re.compile("(?<![^\\x00-\\x7f\\s])\u200d|\u200d(?![^\\x00-\\x7f\\s])")
_SURROGATE = re.compile("[\ud800-\udfff]")  # JSON can escape them; UTF-8 cannot encode them


@dataclass(frozen=True)
class Document:
    """One match document as read, before it is parsed."""

    source: str  # how messages name it: a path, or the variable it came from
    data: bytes


@dataclass
class Batch:
    """Everything one run read: the usable matches and the reasons for the rest."""

    matches: list[Match] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    # "MATCHES_JSON: match 1 ('…'): field 'draft' held the value of GITLAB_TOKEN", for each
    # text a secret was removed from (the secret's name, never its value)
    scrubbed: list[str] = field(default_factory=list)


def clean_text(value: str, *, single_line: bool = False) -> str:
    """NFC, no control or invisible characters; single-line fields lose their breaks."""
    if single_line and value.isascii() and value.isprintable():
        return " ".join(value.split())  # nothing to clean: the common case, made cheap
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    text = _SURROGATE.sub("\ufffd", _INVISIBLE.sub("", text))
    # the distinct characters are few even in a long text: look each up once, drop in C
    drop = {ord(c): None for c in set(text) if c != "\u200d" and unicodedata.category(c) == "Cf"}
    text = text.translate(drop) if drop else text
    text = _LONE_JOINER.sub("", text)
    if single_line:
        return " ".join(_CONTROL.sub(" ", text.replace("\t", " ")).split())
    return _CONTROL.sub("", text.replace("\t", "    ")).strip("\n")


# --------------------------------------------------------------------------- inputs


def documents_from(
    paths: Iterable[str], env: Mapping[str, str], inbox: str
) -> list[Document | InputError]:
    """The inputs of one run (docs/interface.md, "Which inputs a run reads"); an input that
    cannot be read is returned as its error, so the others are still staged.

    A document from the pipeline comes, in this order of preference, from
    `MATCHES_JSON_B64` (base64 of the JSON, sent as a pipeline variable where those are
    allowed; the runner's `$NAME` expansion cannot touch base64), from the raw
    `TRIGGER_PAYLOAD` of a trigger-API call (a file, never expanded, gitlab MR 146242, of any
    size: `scripts/submit-matches` puts the document in the request's body), and last from
    `MATCHES_JSON` (expanded by the runner when sent as a pipeline variable, gitlab issue
    362539: a warning says so in CI). No document comes through a pipeline input: inputs
    are interpolated into the configuration, which caps them (docs/platform-facts.md).
    """
    paths = list(paths)
    if paths:
        return [doc for p in paths for doc in _read_path(Path(p), explicit=True)]
    docs: list[Document | InputError] = []
    encoded = env.get(B64_VARIABLE, "")
    if encoded.strip():
        docs.append(_from_base64(B64_VARIABLE, encoded))
    payload = env.get("TRIGGER_PAYLOAD")
    from_payload = None
    if not docs and payload and Path(payload).is_file():
        # a trigger-API call's variables are also in its payload, unexpanded: prefer them
        from_payload = _from_trigger_payload(Path(payload))
        if from_payload is not None:
            docs.append(from_payload)
    if not docs and env.get("MATCHES_JSON"):
        if in_ci(env):
            print(
                "warning: MATCHES_JSON came from a pipeline variable, which the runner "
                "expands ($NAME, ${NAME}, $$): send the document in a trigger request's "
                "body, as scripts/submit-matches does",
                file=sys.stderr,
            )
        docs.append(Document("MATCHES_JSON", env["MATCHES_JSON"].encode("utf-8", "replace")))
    if env.get("MATCHES_FILE"):
        docs.extend(_matches_file(env["MATCHES_FILE"], env))
    if docs:
        return docs
    return list(_read_path(Path(inbox), explicit=False))


def _matches_file(name: str, env: Mapping[str, str]) -> Iterator[Document | InputError]:
    """MATCHES_FILE; in CI only a file of the checkout: a pipeline variable must not make
    the job read (and quote in its errors) another file, a credentials file say.
    """
    path = Path(name)
    if in_ci(env):
        try:
            path.resolve().relative_to(Path.cwd().resolve())
        except (ValueError, OSError):
            yield InputError(
                "MATCHES_FILE",
                "in CI only a file of the repository is read (a relative path inside the checkout)",
            )
            return
    yield from _read_path(path, explicit=True)


def _from_base64(source: str, text: str) -> Document | InputError:
    """A document sent as base64 (standard alphabet, padding optional, whitespace ignored)."""
    compact = "".join(text.split())
    if len(compact) > MAX_DOCUMENT_BYTES * 4 // 3 + 4:
        return InputError(
            source,
            f"{len(compact):,} characters of base64, more than a "
            f"{MAX_DOCUMENT_BYTES:,}-byte match document may have",
        )
    try:
        data = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        return InputError(
            source,
            "not base64: send the document's UTF-8 JSON encoded with "
            "base64 (base64 -w0 matches.json), as scripts/submit-matches does",
        )
    return Document(source, data)


def _read_path(path: Path, *, explicit: bool) -> Iterator[Document | InputError]:
    if path.is_dir():
        for file in sorted(path.rglob("*.json")):
            if file.name != "match.schema.json" and file.is_file():
                yield _read_file(file)
    elif path.is_file():
        yield _read_file(path)
    elif explicit:
        yield InputError(str(path), "no such file or folder")


def _read_file(path: Path) -> Document | InputError:
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            return InputError(
                str(path),
                f"file is {size:,} bytes, more than the "
                f"{MAX_DOCUMENT_BYTES:,} a match document may have",
            )
        return Document(str(path), path.read_bytes())
    except OSError as exc:
        return InputError(str(path), f"cannot be read: {exc.strerror or exc}")


def _from_trigger_payload(path: Path) -> Document | InputError | None:
    """A trigger-API call may carry a match document: as `matches_b64` (base64) or
    `matches` in its body (what scripts/submit-matches sends: GitLab hands the whole body to
    the job as this file, of any size, never expanded), or as `variables.MATCHES_JSON_B64` /
    `inputs.matches_b64` (base64), `variables.MATCHES_JSON` / `inputs.matches_json`.
    Webhook payloads carry none.
    """
    source = f"TRIGGER_PAYLOAD ({path})"
    try:
        size = path.stat().st_size
        if size > MAX_PAYLOAD_BYTES:
            # a document of MAX_DOCUMENT_BYTES in base64, and the request around it, fit
            return InputError(
                source,
                f"{size:,} bytes, more than the {MAX_PAYLOAD_BYTES:,} a trigger request "
                f"with a {MAX_DOCUMENT_BYTES:,}-byte match document may have",
            )
        payload = load_json(path.read_bytes())
    except TooDeep as exc:
        return InputError(source, f"not a trigger payload: {exc}")
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict) or "object_kind" in payload:
        return None
    in_body = payload.get(B64_INPUT)  # scripts/submit-matches: the body's `matches_b64`
    if isinstance(in_body, str) and in_body.strip():
        return _from_base64(source, in_body)
    for holder in (payload.get("variables"), payload.get("inputs")):
        if isinstance(holder, dict) and (found := _document_in(source, holder)) is not None:
            return found
    if "matches" in payload:
        body = {k: payload[k] for k in ("cycle_id", "matches") if k in payload}
        return Document(source, json.dumps(body).encode())
    return None


def _document_in(source: str, holder: dict[str, Any]) -> Document | InputError | None:
    """The document among a trigger call's variables or inputs: base64 first, then JSON."""
    for name in (B64_VARIABLE, B64_INPUT):
        if isinstance(holder.get(name), str) and holder[name].strip():
            return _from_base64(source, holder[name])
    for name in ("MATCHES_JSON", "matches_json"):
        if isinstance(holder.get(name), str):
            return Document(source, holder[name].encode("utf-8", "replace"))
    return None


# --------------------------------------------------------------------------- parsing


@cache
def _schema() -> dict[str, Any]:
    """The published schema, read once per process for both validators."""
    schema: dict[str, Any] = json.loads(schema_path().read_text(encoding="utf-8"))
    return schema


@cache
def _validator() -> Draft202012Validator:
    """The schema of one match, its requirements' items left to `_requirement_errors`."""
    schema = _schema()
    match_schema = dict(schema["$defs"]["match"], **{"$defs": schema["$defs"]})
    properties = dict(match_schema["properties"])
    properties["requirements"] = {
        k: v for k, v in properties["requirements"].items() if k != "items"
    }
    match_schema["properties"] = properties
    return Draft202012Validator(match_schema)


@cache
def _requirement_validator() -> Draft202012Validator:
    schema = _schema()
    return Draft202012Validator(schema["$defs"]["match"]["properties"]["requirements"]["items"])


_REQUIREMENT_KEYS = frozenset({"requirement", "score", "weight", "comment"})


def _plainly_valid(requirement: Any) -> bool:
    """A requirement the schema surely accepts, checked in a few comparisons: jsonschema
    takes ~60 µs per object, and a 5 MB document holds 100,000 of them. Anything else goes
    to jsonschema for its exact errors, so this is never more lenient than the schema.
    """
    if not isinstance(requirement, dict) or not requirement.keys() <= _REQUIREMENT_KEYS:
        return False
    text, comment = requirement.get("requirement"), requirement.get("comment", "")
    if (
        not isinstance(text, str)
        or not 1 <= len(text) <= 500
        or not isinstance(comment, str)
        or len(comment) > 1000
    ):
        return False
    for name, low, high in (("score", 0, 100), ("weight", 0, math.inf)):
        value = requirement.get(name, low)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
            or value == math.inf
        ):
            return False
    return True


def _requirement_errors(item: dict[str, Any]) -> Iterator[ValidationError]:
    """The schema's errors of `requirements[i]`, for the items not plainly valid; at most
    MAX_ERRORS_PER_MATCH items are looked at closely.
    """
    requirements = item.get("requirements")
    if not isinstance(requirements, list) or len(requirements) > 100:
        return  # the match's schema reports the wrong type or length
    doubtful = [i for i, r in enumerate(requirements) if not _plainly_valid(r)]
    for index in doubtful[:MAX_ERRORS_PER_MATCH]:
        for error in _requirement_validator().iter_errors(requirements[index]):
            error.path.extendleft([index, "requirements"])  # as if validated in place
            yield error


def _load(doc: Document) -> tuple[str, Any]:
    """The document's text and its JSON; _Invalid with one line saying why not."""
    try:
        text = doc.data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _Invalid(
            [
                InputError(
                    doc.source,
                    f"not UTF-8 text (byte 0x{doc.data[exc.start]:02x} at offset {exc.start})",
                )
            ]
        ) from None
    if not text.strip():
        raise _Invalid(
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
    raise _Invalid([InputError(doc.source, message)])


def _items(source: str, data: Any) -> tuple[list[Any], str | None]:
    """The matches of a document (one, a list, or a cycle) and its cycle id."""
    cycle_id: str | None = None
    cycle = isinstance(data, dict) and "matches" in data
    if isinstance(data, dict) and "matches" in data:
        cycle_id = data.get("cycle_id")
        if cycle_id is not None and (
            not isinstance(cycle_id, str) or not cycle_id.strip() or len(cycle_id) > MAX_CYCLE_ID
        ):
            raise _Invalid(
                [
                    InputError(
                        source, f"must be text of 1 to {MAX_CYCLE_ID} characters", field="cycle_id"
                    )
                ]
            )
        data = data["matches"]
        if not isinstance(data, list):
            raise _Invalid([InputError(source, "must be a list of matches", field="matches")])
    items = data if isinstance(data, list) else [data]
    if len(items) > MAX_MATCHES:
        # refused whole: validating and staging 10,000 matches would hold the CI lock for hours
        raise _Invalid(
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
    except _Invalid as invalid:
        return [], invalid.errors
    matches: list[Match] = []
    errors: list[InputError] = []
    nan = "NaN" in text  # the walk for NaN is needed only if the literal is there
    for position, item in enumerate(items, start=1):
        try:
            matches.append(_match(doc.source, position, item, cycle_id, nan=nan))
        except _Invalid as invalid:
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


class _Invalid(Exception):
    def __init__(self, errors: list[InputError]) -> None:
        self.errors = errors


def _describe(position: int, item: Any) -> str:
    title = item.get("title") if isinstance(item, dict) else None
    if isinstance(title, str) and title.strip():
        short = clean_text(title[:200], single_line=True)  # a title may be megabytes long
        return f"match {position} ({truncate(short, 60)!r})"
    return f"match {position}"


def _field(error: ValidationError) -> str:
    parts = list(error.absolute_path)
    if error.validator == "required" and "'" in error.message:
        parts.append(error.message.split("'")[1])  # name the missing field itself
    elif error.validator == "anyOf" and not parts:
        parts.append("url")
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(match)"


def _message(error: ValidationError) -> str:
    """Jsonschema's messages repeat the whole value (a 100 kB draft); say it briefly."""
    kind = str(error.validator)
    if kind in _FIXED_MESSAGES:
        return _FIXED_MESSAGES[kind]
    if kind == "anyOf" and not list(error.absolute_path):
        return "is missing: a match needs its source 'url' (or 'source_url')"
    if (describe := _DESCRIBE.get(kind)) is not None:
        return describe(error)
    return error.message if len(error.message) < 200 else error.message[:200] + "…"


def _type_message(error: ValidationError) -> str:
    names = {
        "number": "a number",
        "string": "text",
        "integer": "a whole number",
        "array": "a list",
        "object": "an object",
    }
    limit: Any = error.validator_value
    wanted = [limit] if isinstance(limit, str) else list(limit)
    return (
        f"must be {' or '.join(names.get(w, w) for w in wanted)}, "
        f"got {_json_type(error.instance)} {_preview(error.instance)}"
    )


def _bound_message(error: ValidationError) -> str:
    value: Any = error.instance
    if _field(error).endswith("score"):
        return f"must be between 0 and 100, got {value}"
    word = "at least" if error.validator == "minimum" else "at most"
    return f"must be {word} {error.validator_value}, got {value}"


def _size(error: ValidationError) -> int:
    value: Any = error.instance
    return len(value)


def _pattern_message(error: ValidationError) -> str:
    what = "address" if "email" in _field(error) else "http(s) URL"
    return f"is not a valid {what}: {_preview(error.instance)}"


_FIXED_MESSAGES = {
    "required": "is missing (a required field)",
    "minLength": "must not be empty",
    "oneOf": 'must be an address or {"email", "url", "subject"}',
}
_DESCRIBE: dict[str, Callable[[ValidationError], str]] = {
    "type": _type_message,
    "minimum": _bound_message,
    "maximum": _bound_message,
    "maxLength": lambda e: f"is too long ({_size(e):,} characters, at most {e.validator_value:,})",
    "maxItems": lambda e: f"has {_size(e)} entries, at most {e.validator_value}",
    "pattern": _pattern_message,
    "additionalProperties": lambda e: "unknown field " + e.message.split("(")[-1].rstrip(")"),
}


def _json_type(value: Any) -> str:
    names = {
        bool: "boolean",
        int: "number",
        float: "number",
        str: "text",
        list: "list",
        dict: "object",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


def _preview(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return truncate(text, 40)


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
        raise _Invalid(
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
        raise _Invalid([InputError(source, "must not be empty", match=where, field=blank)])
    apply = _apply_of(source, where, item.get("apply"))
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
    )


def _check(source: str, where: str, item: Any, *, nan: bool) -> None:
    """_Invalid with every problem of one match the schema and the size limits find."""
    if not isinstance(item, dict):
        raise _Invalid(
            [InputError(source, f"must be an object, got {_json_type(item)}", match=where)]
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
        raise _Invalid(too_long)
    found = sorted(
        [*_validator().iter_errors(item), *_requirement_errors(item)],
        key=lambda e: list(e.absolute_path),
    )
    errors = [
        InputError(source, _message(e), match=where, field=_field(e))
        for e in found[:MAX_ERRORS_PER_MATCH]
    ]
    # Python's JSON reads NaN, and no schema bound refuses it (every comparison is false)
    errors += [
        InputError(source, "must be a number, got NaN", match=where, field=path)
        for path in (_nan(item, "") if nan else ())
    ]
    if errors:
        raise _Invalid(errors)


def _apply_of(source: str, where: str, apply: Any) -> Any:
    """`apply` as an object: a bare address or URL becomes `{email}` or `{url}`; an address
    a mailer would read differently is refused.
    """
    if isinstance(apply, str):
        apply = {"email": apply} if "@" in apply and "://" not in apply else {"url": apply}
    if apply and apply.get("email"):
        problem = _address_problem(apply["email"])
        if problem:
            raise _Invalid(
                [
                    InputError(
                        source,
                        f"is not an address a mailer accepts: "
                        f"{_preview(apply['email'])} ({problem})",
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


def read_batch(
    paths: Iterable[str],
    env: Mapping[str, str] | None = None,
    inbox: str = "matches-inbox",
    secrets: Iterable[Secret | str] | None = None,
) -> Batch:
    """Read and parse every input of a run; problems are collected, never raised.
    `secrets`: the values no match may carry on (default: the secret variables in `env`).
    """
    env = os.environ if env is None else env
    scrubber = Scrubber(secrets_of(None, env) if secrets is None else secrets)
    batch = Batch()
    for doc in documents_from(paths, env, inbox):
        if isinstance(doc, InputError):
            batch.errors.append(doc)
            continue
        batch.sources.append(doc.source)
        found, errors = parse(doc)
        for match in found:
            clean, fields = scrub(match, scrubber)
            batch.matches.append(clean)
            batch.scrubbed += [
                f"{clean.source}: {clean.label}: field '{name}' held the "
                f"value of {' and '.join(secrets)}"
                for name, secrets in fields
            ]
        batch.errors.extend(errors)
    return batch


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


def where_looked(paths: Sequence[str], env: Mapping[str, str], inbox: str) -> str:
    """Where a run that found nothing looked: the paths, else the first input variable set
    (in the order `documents_from` prefers them), else the inbox.
    """
    variables = (B64_VARIABLE, "TRIGGER_PAYLOAD", "MATCHES_JSON", "MATCHES_FILE")
    return ", ".join(paths) or next(
        (f"${name}" for name in variables if env.get(name)), f"{inbox}/"
    )

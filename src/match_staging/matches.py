"""Read match documents from files, folders and CI variables; validate each match against
the published JSON Schema; clean its texts. Pure apart from reading the named inputs.

Every match is validated on its own, so one bad match never hides the good ones beside it."""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.errors import HeaderParseError
from email.headerregistry import Address
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from match_staging.errors import InputError
from match_staging.keys import match_keys
from match_staging.model import Match, Requirement
from match_staging.render import one_line
from match_staging.resources import schema_path

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
# the pipeline's match document, base64 of its UTF-8 JSON: the variable and the input
B64_VARIABLE = "MATCHES_JSON_B64"
B64_INPUT = "matches_b64"
MAX_ERRORS_PER_MATCH = 5
MAX_CYCLE_ID = 200  # as in match.schema.json

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
    source: str   # how messages name it: a path, or the variable it came from
    data: bytes


@dataclass
class Batch:
    """Everything one run read: the usable matches and the reasons for the rest."""

    matches: list[Match] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


def clean_text(value: str, *, single_line: bool = False) -> str:
    """NFC, no control or invisible characters; single-line fields lose their breaks."""
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    text = _SURROGATE.sub("\ufffd", _INVISIBLE.sub("", text))
    text = "".join(c for c in text if c == "\u200d" or unicodedata.category(c) != "Cf")
    text = _LONE_JOINER.sub("", text)
    if single_line:
        return " ".join(_CONTROL.sub(" ", text.replace("\t", " ")).split())
    return _CONTROL.sub("", text.replace("\t", "    ")).strip("\n")


# --------------------------------------------------------------------------- inputs

def documents_from(paths: Iterable[str], env: Mapping[str, str],
                   inbox: str) -> list[Document | InputError]:
    """The inputs of one run (interface.md, "Which inputs a run reads"); an input that
    cannot be read is returned as its error, so the others are still staged.

    A document from the pipeline comes, in this order of preference, from
    `MATCHES_JSON_B64` (base64 of the JSON: the `matches_b64` pipeline input lands there
    through a job variable with `expand: false`, and `scripts/submit-matches` sends it as a
    variable where inputs are missing; the runner's `$NAME` expansion cannot touch base64),
    from the raw `TRIGGER_PAYLOAD` of a trigger-API call (never expanded, gitlab MR 146242),
    and last from `MATCHES_JSON` (expanded by the runner when sent as a pipeline variable,
    gitlab issue 362539: a warning says so in CI)."""
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
        if env.get("CI", "").lower() == "true":
            print("warning: MATCHES_JSON came from a pipeline variable, which the runner "
                  "expands ($NAME, ${NAME}, $$): send the document as the matches_b64 input "
                  f"or as {B64_VARIABLE} (scripts/submit-matches does)", file=sys.stderr)
        docs.append(Document("MATCHES_JSON", env["MATCHES_JSON"].encode("utf-8", "replace")))
    if env.get("MATCHES_FILE"):
        docs.extend(_matches_file(env["MATCHES_FILE"], env))
    if docs:
        return docs
    return list(_read_path(Path(inbox), explicit=False))


def _matches_file(name: str, env: Mapping[str, str]) -> Iterator[Document | InputError]:
    """MATCHES_FILE; in CI only a file of the checkout: a pipeline variable must not make
    the job read (and quote in its errors) another file, a credentials file say."""
    path = Path(name)
    if env.get("CI", "").lower() == "true":
        try:
            path.resolve().relative_to(Path.cwd().resolve())
        except (ValueError, OSError):
            yield InputError("MATCHES_FILE", "in CI only a file of the repository is read "
                             "(a relative path inside the checkout)")
            return
    yield from _read_path(path, explicit=True)


def _from_base64(source: str, text: str) -> Document | InputError:
    """A document sent as base64 (standard alphabet, padding optional, whitespace ignored)."""
    compact = "".join(text.split())
    if len(compact) > MAX_DOCUMENT_BYTES * 4 // 3 + 4:
        return InputError(source, f"{len(compact):,} characters of base64, more than a "
                          f"{MAX_DOCUMENT_BYTES:,}-byte match document may have")
    try:
        data = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        return InputError(source, "not base64: send the document's UTF-8 JSON encoded with "
                          "base64 (base64 -w0 matches.json), as scripts/submit-matches does")
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
            return InputError(str(path), f"file is {size:,} bytes, more than the "
                              f"{MAX_DOCUMENT_BYTES:,} a match document may have")
        return Document(str(path), path.read_bytes())
    except OSError as exc:
        return InputError(str(path), f"cannot be read: {exc.strerror or exc}")


def _from_trigger_payload(path: Path) -> Document | InputError | None:
    """A trigger-API call may carry a match document: as `matches` in its body, or as
    `variables.MATCHES_JSON_B64` / `inputs.matches_b64` (base64), `variables.MATCHES_JSON`
    / `inputs.matches_json`. Webhook payloads carry none."""
    try:
        if path.stat().st_size > MAX_DOCUMENT_BYTES * 2:
            return None
        payload = json.loads(path.read_bytes())
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(payload, dict) or "object_kind" in payload:
        return None
    source = f"TRIGGER_PAYLOAD ({path})"
    for holder in (payload.get("variables"), payload.get("inputs")):
        if isinstance(holder, dict):
            for name in (B64_VARIABLE, B64_INPUT):
                if isinstance(holder.get(name), str) and holder[name].strip():
                    return _from_base64(source, holder[name])
            for name in ("MATCHES_JSON", "matches_json"):
                if isinstance(holder.get(name), str):
                    return Document(source, holder[name].encode("utf-8", "replace"))
    if "matches" in payload:
        body = {k: payload[k] for k in ("cycle_id", "matches") if k in payload}
        return Document(source, json.dumps(body).encode())
    return None


# --------------------------------------------------------------------------- parsing

@cache
def _validator() -> Draft202012Validator:
    schema = json.loads(schema_path().read_text(encoding="utf-8"))
    match_schema = dict(schema["$defs"]["match"], **{"$defs": schema["$defs"]})
    return Draft202012Validator(match_schema)


def parse(doc: Document) -> tuple[list[Match], list[InputError]]:
    """Parse one document into matches; each unusable match becomes one error per field."""
    try:
        text = doc.data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [InputError(doc.source, f"not UTF-8 text (byte 0x{doc.data[exc.start]:02x} "
                                           f"at offset {exc.start})")]
    if not text.strip():
        return [], [InputError(doc.source, "empty document: expected a match, a list of "
                                           "matches or {\"cycle_id\": ..., \"matches\": [...]}")]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return [], [InputError(doc.source, f"not valid JSON: {exc.msg} at line {exc.lineno}, "
                                           f"column {exc.colno}")]
    except RecursionError:
        return [], [InputError(doc.source, "not valid JSON: nested too deeply")]
    except ValueError as exc:  # an integer of thousands of digits
        return [], [InputError(doc.source, f"not valid JSON: {one_line(str(exc), 120)}")]
    cycle_id: str | None = None
    if isinstance(data, dict) and "matches" in data:
        cycle_id = data.get("cycle_id")
        if cycle_id is not None and (not isinstance(cycle_id, str) or not cycle_id.strip()
                                     or len(cycle_id) > MAX_CYCLE_ID):
            return [], [InputError(doc.source, f"must be text of 1 to {MAX_CYCLE_ID} "
                                   "characters", field="cycle_id")]
        data = data["matches"]
        if not isinstance(data, list):
            return [], [InputError(doc.source, "must be a list of matches",
                                   field="matches")]
    items = data if isinstance(data, list) else [data]
    matches: list[Match] = []
    errors: list[InputError] = []
    for position, item in enumerate(items, start=1):
        try:
            matches.append(_match(doc.source, position, item, cycle_id))
        except _Invalid as invalid:
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
        short = clean_text(title, single_line=True)
        short = short if len(short) <= 60 else short[:59] + "…"
        return f"match {position} ({short!r})"
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
    """jsonschema's messages repeat the whole value (a 100 kB draft); say it briefly."""
    kind = error.validator
    value: Any = error.instance
    limit: Any = error.validator_value
    if kind == "required":
        return "is missing (a required field)"
    if kind == "anyOf" and not list(error.absolute_path):
        return "is missing: a match needs its source 'url' (or 'source_url')"
    if kind == "type":
        names = {"number": "a number", "string": "text", "integer": "a whole number",
                 "array": "a list", "object": "an object"}
        wanted = [limit] if isinstance(limit, str) else list(limit)
        return (f"must be {' or '.join(names.get(w, w) for w in wanted)}, "
                f"got {_json_type(value)} {_preview(value)}")
    if kind in ("minimum", "maximum"):
        if _field(error).endswith("score"):
            return f"must be between 0 and 100, got {value}"
        return f"must be {'at least' if kind == 'minimum' else 'at most'} {limit}, got {value}"
    if kind == "maxLength":
        return f"is too long ({len(value):,} characters, at most {limit:,})"
    if kind == "minLength":
        return "must not be empty"
    if kind == "maxItems":
        return f"has {len(value)} entries, at most {limit}"
    if kind == "pattern":
        return f"is not a valid {'address' if 'email' in _field(error) else 'http(s) URL'}: " \
               f"{_preview(value)}"
    if kind == "additionalProperties":
        return "unknown field " + error.message.split("(")[-1].rstrip(")")
    if kind == "oneOf":
        return "must be an address or {\"email\", \"url\", \"subject\"}"
    return error.message if len(error.message) < 200 else error.message[:200] + "…"


def _json_type(value: Any) -> str:
    names = {bool: "boolean", int: "number", float: "number", str: "text", list: "list",
             dict: "object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _preview(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:39] + "…"


def _match(source: str, position: int, item: Any, cycle_id: str | None) -> Match:
    where = _describe(position, item)
    if not isinstance(item, dict):
        raise _Invalid([InputError(source, f"must be an object, got {_json_type(item)}",
                                   match=where)])
    found = sorted(_validator().iter_errors(item), key=lambda e: list(e.absolute_path))
    errors = [InputError(source, _message(e), match=where, field=_field(e))
              for e in found[:MAX_ERRORS_PER_MATCH]]
    # Python's JSON reads NaN, and no schema bound refuses it (every comparison is false)
    errors += [InputError(source, "must be a number, got NaN", match=where, field=path)
               for path in _nan(item, "")]
    if errors:
        raise _Invalid(errors)

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
        raise _Invalid([InputError(source, f"is not a valid http(s) URL: {exc}", match=where,
                                   field="url" if item.get("url") else "source_url")]) from None
    match_id = line("id")
    title = line("title")
    provider = line("provider")
    if not title or not provider:
        blank = "title" if not title else "provider"
        raise _Invalid([InputError(source, "must not be empty", match=where, field=blank)])
    apply = item.get("apply")
    if isinstance(apply, str):
        apply = {"email": apply} if "@" in apply and "://" not in apply else {"url": apply}
    if apply and apply.get("email"):
        try:  # the schema's pattern is loose; the address must be one a mailer accepts
            Address(addr_spec=apply["email"])
        except (ValueError, IndexError, TypeError, HeaderParseError):
            raise _Invalid([InputError(source, f"is not an address a mailer accepts: "
                                       f"{_preview(apply['email'])}", match=where,
                                       field="apply")]) from None
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
            ) for r in item.get("requirements") or ()
        ),
        notes=block("notes"),
        draft=block("draft"),
        attachments=tuple(item.get("attachments") or ()),
        apply={k: clean_text(v, single_line=True) for k, v in (apply or {}).items()},
        cycle_id=cycle_id,
    )


def _rate(value: Any) -> str | None:
    """OPS-004 writes `{rate} EUR/h`: a bare number is an hourly rate in euros."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g} EUR/h"
    if isinstance(value, str) and clean_text(value, single_line=True):
        text = clean_text(value, single_line=True)
        return f"{text} EUR/h" if text.replace(".", "", 1).isdigit() else text
    return None


def read_batch(paths: Iterable[str], env: Mapping[str, str] | None = None,
               inbox: str = "matches-inbox") -> Batch:
    """Read and parse every input of a run; problems are collected, never raised."""
    env = os.environ if env is None else env
    batch = Batch()
    for doc in documents_from(paths, env, inbox):
        if isinstance(doc, InputError):
            batch.errors.append(doc)
            continue
        batch.sources.append(doc.source)
        found, errors = parse(doc)
        batch.matches.extend(found)
        batch.errors.extend(errors)
    return batch

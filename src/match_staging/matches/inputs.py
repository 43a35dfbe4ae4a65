"""Where a run's match documents come from: files, folders, CI variables and a trigger
request's body (docs/interface.md, "Which inputs a run reads"). Read, not parsed.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from match_staging.config import in_ci
from match_staging.errors import InputError
from match_staging.limits import TooDeep, load_json

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
# A trigger request's body (TRIGGER_PAYLOAD) with the largest document in base64 (4/3 of it)
MAX_PAYLOAD_BYTES = MAX_DOCUMENT_BYTES * 2
# the pipeline's match document, base64 of its UTF-8 JSON: the variable and the input
B64_VARIABLE = "MATCHES_JSON_B64"
B64_INPUT = "matches_b64"


@dataclass(frozen=True)
class Document:
    """One match document as read, before it is parsed."""

    source: str  # how messages name it: a path, or the variable it came from
    data: bytes


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


def where_looked(paths: Sequence[str], env: Mapping[str, str], inbox: str) -> str:
    """Where a run that found nothing looked: the paths, else the first input variable set
    (in the order `documents_from` prefers them), else the inbox.
    """
    variables = (B64_VARIABLE, "TRIGGER_PAYLOAD", "MATCHES_JSON", "MATCHES_FILE")
    return ", ".join(paths) or next(
        (f"${name}" for name in variables if env.get(name)), f"{inbox}/"
    )

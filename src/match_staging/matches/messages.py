"""What a schema error says, briefly: jsonschema's own messages repeat the whole value
(a 100 kB draft).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from jsonschema.exceptions import ValidationError

from match_staging.render import truncate


def field_of(error: ValidationError) -> str:
    """The field an error is about, as the messages name it (`apply.email`, `requirements[2]`)."""
    parts = list(error.absolute_path)
    if error.validator == "required" and "'" in error.message:
        parts.append(error.message.split("'")[1])  # name the missing field itself
    elif error.validator == "anyOf" and not parts:
        parts.append("url")
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(match)"


def error_message(error: ValidationError) -> str:
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
        f"got {json_type(error.instance)} {preview(error.instance)}"
    )


def _bound_message(error: ValidationError) -> str:
    value: Any = error.instance
    if field_of(error).endswith("score"):
        return f"must be between 0 and 100, got {value}"
    word = "at least" if error.validator == "minimum" else "at most"
    return f"must be {word} {error.validator_value}, got {value}"


def _size(error: ValidationError) -> int:
    value: Any = error.instance
    return len(value)


def _pattern_message(error: ValidationError) -> str:
    if field_of(error) == "apply_by":
        return (
            f"is not a date (2026-12-03) or date-time (2026-12-03T17:00): {preview(error.instance)}"
        )
    what = "address" if "email" in field_of(error) else "http(s) URL"
    return f"is not a valid {what}: {preview(error.instance)}"


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


def json_type(value: Any) -> str:
    """A JSON value's type as the error messages name it."""
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


def preview(value: Any) -> str:
    """A value shown in an error, cut short: never the whole of a long text."""
    text = json.dumps(value, ensure_ascii=False)
    return truncate(text, 40)

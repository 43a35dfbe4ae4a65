"""The published JSON Schema of a match, and the fast path for the requirements a 5 MB
document holds by the 100,000 (never more lenient than the schema).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from match_staging.resources import schema_path

MAX_ERRORS_PER_MATCH = 5


@cache
def _schema() -> dict[str, Any]:
    """The published schema, read once per process for both validators."""
    schema: dict[str, Any] = json.loads(schema_path().read_text(encoding="utf-8"))
    return schema


@cache
def match_validator() -> Draft202012Validator:
    """The schema of one match, its requirements' items left to `requirement_errors`."""
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


def requirement_errors(item: dict[str, Any]) -> Iterator[ValidationError]:
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

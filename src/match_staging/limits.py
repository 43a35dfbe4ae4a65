"""Bounds on what a run reads, so any input of a few megabytes is answered within seconds
(issue 10, "Hostile sizes"): how deep JSON may nest and how many matches a document holds.
Every JSON input (match documents, MATCHES_JSON, TRIGGER_PAYLOAD) is read with `load_json`.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

MAX_DEPTH = 64  # a match document nests 5 levels, a GitLab webhook payload about 6
MAX_MATCHES = 1000  # per document, as match.schema.json's maxItems


class TooDeep(ValueError):
    """JSON nested deeper than MAX_DEPTH (or than Python's parser can go)."""

    def __init__(self, limit: int = MAX_DEPTH) -> None:
        super().__init__(f"nested more than {limit} levels deep")


@contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic garbage collection while a parser may be a thousand calls deep in hostile
    input. A collection starts when an allocation crosses its threshold, wherever that is; a
    finalizer (`__del__`) of the garbage it frees then runs out of stack too, and Python
    prints that as "Exception ignored in ..." with a traceback (seen in the suite: once in
    about 60 runs). The collection comes after, at the next threshold.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def load_json(data: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads`, refusing deep nesting with TooDeep (a ValueError) instead of a
    RecursionError now or in whatever walks the value later.
    """
    with collection_paused():
        try:
            value = json.loads(data)
        except RecursionError:
            raise TooDeep(max_depth) from None
    if depth(value, max_depth) > max_depth:
        raise TooDeep(max_depth)
    return value


def depth(value: Any, stop: int = MAX_DEPTH) -> int:
    """How deep lists and objects nest (a scalar is 0), counted level by level without
    recursion; stops counting once past `stop`.
    """
    level = [value] if isinstance(value, dict | list) else []
    deepest = 0
    while level and deepest <= stop:
        deepest += 1
        children: list[Any] = []
        for item in level:
            inner = item.values() if type(item) is dict else item
            children += [c for c in inner if type(c) is list or type(c) is dict]
        level = children
    return deepest

"""`bootstrap` records GitLab ids in the committed configuration: `workflow.label_ids` and
`workflow.reviewer_ids` (docs/interface.md, "Reviewers"). The file is the user's, with their
comments: only those keys' lines under `workflow:` are replaced, one line each, and the
result must read back as the same configuration plus exactly those values, or nothing is
written and the caller says which lines to add by hand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from match_staging.config import safe_load
from match_staging.errors import ConfigError

_TOP = re.compile(r"^[^\s#][^:]*:")  # a top-level key line


def line(key: str, values: Mapping[str, int]) -> str:
    """`  key: {a: 1, b: 2}`: one flow-style line under `workflow:`."""
    items = ", ".join(f"{_name(k)}: {v}" for k, v in values.items())
    return f"  {key}: {{{items}}}"


def _name(text: str) -> str:
    """A mapping key YAML reads back as this text (a username or a state name)."""
    return text if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", text) else f'"{text}"'


def record(path: Path, values: Mapping[str, Mapping[str, int]]) -> None:
    """Set `workflow.<key>` to each mapping of `values` in the file at `path` (created when
    missing). ConfigError, writing nothing, when the file cannot be edited that simply.
    """
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    before = safe_load(text) if text.strip() else {}
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if re.match(r"^workflow:\s*(#.*)?$", ln)), None)
    if start is None:
        lines += ["", "workflow:"] if lines else ["workflow:"]
        start = len(lines) - 1
    end = next((i for i in range(start + 1, len(lines)) if _TOP.match(lines[i])), len(lines))
    body = [ln for ln in lines[start + 1 : end] if not re.match(rf"^\s+({'|'.join(values)}):", ln)]
    new = [line(k, v) for k, v in values.items()]
    edited = [*lines[: start + 1], *new, *body, *lines[end:]]
    out = "\n".join(edited) + "\n"
    want = dict(before or {})
    want["workflow"] = {**(want.get("workflow") or {}), **{k: dict(v) for k, v in values.items()}}
    try:
        ok = safe_load(out) == want
    except Exception:  # whatever the edit broke, the answer is: by hand
        ok = False
    if not ok:
        raise ConfigError(
            f"{path}: cannot record the ids there safely; add under workflow: "
            + " and ".join(x.strip() for x in new)
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(out, encoding="utf-8")

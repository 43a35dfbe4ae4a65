"""`bootstrap` writes what it learned into the committed configuration file: `gitlab.url`
(in CI the only source of the URL: issue 20, item 10) and the GitLab ids of the state labels
and reviewers, `workflow.label_ids` and `workflow.reviewer_ids` (docs/interface.md,
"Reviewers"). The one writer of that file.

The file is the user's, with their comments: only the given keys' lines under their
top-level section change, one line each (a key already there keeps its place and its trailing
comment), and the result must read back as the same configuration plus exactly those values,
or nothing is written and ConfigError says which lines to add by hand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from match_staging.config import DEFAULT_PATH, Config
from match_staging.config_parse import safe_load
from match_staging.errors import ConfigError

_TOP = re.compile(r"^[^\s#][^:]*:")  # a top-level key line
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")  # a mapping key YAML reads back as itself


def config_path(cfg: Config) -> Path:
    """The file bootstrap writes into: the one loaded, else the default path (created)."""
    loaded = cfg.source and not cfg.source.startswith("(")  # "(built-in defaults)"
    return Path(cfg.source) if loaded else Path(DEFAULT_PATH)


def line(key: str, value: Any) -> str:
    """`  key: VALUE` on one line: a mapping in flow style (`{a: 1, b: 2}`), anything else
    as a JSON scalar (which YAML reads back as the same value).
    """
    if isinstance(value, Mapping):
        items = ", ".join(f"{_name(str(k))}: {json.dumps(v)}" for k, v in value.items())
        return f"  {key}: {{{items}}}"
    return f"  {key}: {json.dumps(value)}"


def _name(text: str) -> str:
    return text if _PLAIN.fullmatch(text) else json.dumps(text)


def record(path: Path, values: Mapping[str, Mapping[str, int]]) -> None:
    """Set `workflow.<key>` to each mapping of `values` (created with the file when missing)."""
    write(path, "workflow", values)


def write(path: Path, section: str, values: Mapping[str, Any], *, create: bool = True) -> None:
    """Set `<section>.<key>` to each of `values` in the file at `path`. ConfigError, writing
    nothing, when the file cannot be edited that simply (or is missing and not `create`).
    """
    new = {key: line(key, value) for key, value in values.items()}
    by_hand = f"add under {section}: " + " and ".join(x.strip() for x in new.values())
    if not path.is_file() and not create:
        raise ConfigError(f"{path} does not exist: {by_hand}")
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    try:
        before = safe_load(text) if text.strip() else {}
    except Exception:  # the loader's own errors: the file is not this tool's to repair
        raise ConfigError(f"{path}: cannot be read back: {by_hand}") from None
    out = _edited(text.splitlines(), section, new)
    want = dict(before) if isinstance(before, dict) else {}
    want[section] = {**(want.get(section) or {}), **values}
    try:
        ok = _plain(safe_load(out)) == _plain(want)
    except Exception:  # whatever the edit broke, the answer is: by hand
        ok = False
    if not ok:
        raise ConfigError(f"{path}: cannot write it there safely; {by_hand}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(out, encoding="utf-8")


def _edited(lines: list[str], section: str, new: Mapping[str, str]) -> str:
    """The file's lines with `new` set under the top-level `section:` (added at the end when
    there is none): a key already there replaced in place, keeping its trailing comment.
    """
    header = re.compile(rf"^{re.escape(section)}:\s*(#.*)?$")
    start = next((i for i, ln in enumerate(lines) if header.match(ln)), None)
    if start is None:
        lines = [*lines, *([""] if lines else []), f"{section}:"]
        start = len(lines) - 1
    end = next((i for i in range(start + 1, len(lines)) if _TOP.match(lines[i])), len(lines))
    body, added = list(lines[start + 1 : end]), []
    for key, text in new.items():
        at = next((i for i, ln in enumerate(body) if re.match(rf"^\s+{re.escape(key)}:", ln)), None)
        if at is None:
            added.append(text)
            continue
        comment = re.search(r"\s#\s.*$", body[at])  # a value holding " # " is checked below
        body[at] = text + (f"  {comment.group(0).strip()}" if comment else "")
    return "\n".join([*lines[: start + 1], *added, *body, *lines[end:]]) + "\n"


def _plain(value: Any) -> Any:
    """A loaded value compared as data (ints and strings as they are)."""
    return json.loads(json.dumps(value, default=str))

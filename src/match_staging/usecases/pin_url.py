"""`bootstrap` writes the GitLab URL it set the project up on into the committed
configuration file: in CI that file is the only source of the URL, since a pipeline variable
outranks GitLab's predefined CI_SERVER_URL and would receive the token (issue 20). One line
is written or replaced (`url:` under `gitlab:`); comments and everything else stay as they
are. The user commits the change.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from match_staging.config import DEFAULT_PATH, Config

_SECTION = re.compile(r"^gitlab:[ \t]*(#.*)?$")
_URL = re.compile(r"^(?P<indent>[ \t]+)url:[ \t]*(?:\"\"|'')?[ \t]*(?P<comment>#.*)?$")


def pin_url(cfg: Config, *, dry_run: bool) -> str:
    """What bootstrap says about `gitlab.url` in the file ("" when it already holds this
    URL); the file is changed unless `dry_run`.
    """
    path = Path(cfg.source)
    url = cfg.gitlab.url
    if not path.is_file():  # no file was read: none is made here
        return (
            f"add `gitlab:` with `url: {json.dumps(url)}` to {DEFAULT_PATH} and commit it: {_WHY}"
        )
    text = path.read_text(encoding="utf-8")
    current = _url_in(text)
    if current:
        if current.rstrip("/") == url:
            return ""
        return (
            f"gitlab.url in {path} is {current}, but bootstrap ran against {url}: the CI jobs "
            "use the file's"
        )
    line = f"url: {json.dumps(url)}"
    changed = _with_url(text, url)
    if changed is None or _url_in(changed) != url:
        return f"add `{line}` under `gitlab:` in {path} and commit it: {_WHY}"
    if not dry_run:
        path.write_text(changed, encoding="utf-8")
    # the same line in a dry run and a real one, as every line of bootstrap's plan
    return f"`{line}` goes under `gitlab:` in {path} (not in a dry run): commit it; {_WHY}"


_WHY = (
    "in CI the GitLab URL comes only from that file (a pipeline variable outranks "
    "CI_SERVER_URL), and without it the jobs refuse to run"
)


def _url_in(text: str) -> str:
    try:
        raw = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError:
        return ""
    section = raw.get("gitlab") if isinstance(raw, dict) else None
    url = section.get("url") if isinstance(section, dict) else None
    return url if isinstance(url, str) else ""


def _with_url(text: str, url: str) -> str | None:
    """`text` with `url:` set under the top-level `gitlab:`; None when its layout is not
    the plain one this edits (the user adds the line).
    """
    lines = text.splitlines(keepends=True)
    value = json.dumps(url)  # a YAML double-quoted scalar
    start = next((i for i, line in enumerate(lines) if _SECTION.match(line.rstrip("\r\n"))), None)
    if start is None:
        tail = "" if not text or text.endswith("\n") else "\n"
        return f"{text}{tail}gitlab:\n  url: {value}\n"
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i][:1] not in (" ", "\t", "\n", "#")),
        len(lines),
    )
    for i in range(start + 1, end):
        found = _URL.match(lines[i].rstrip("\r\n"))
        if found:
            comment = f"  {found['comment']}" if found["comment"] else ""
            lines[i] = f"{found['indent']}url: {value}{comment}\n"
            return "".join(lines)
        if re.match(r"^[ \t]+url:", lines[i]):
            return None  # a value this does not recognise: leave it to the user
    body = [re.match(r"^([ \t]+)\S", lines[i]) for i in range(start + 1, end)]
    indent = next((m.group(1) for m in body if m is not None), "  ")
    lines.insert(start + 1, f"{indent}url: {value}\n")
    return "".join(lines)

"""`bootstrap` writes the GitLab URL it set the project up on into the committed
configuration file: in CI that file is the only source of the URL, since a pipeline variable
outranks GitLab's predefined CI_SERVER_URL and would receive the token (issue 20). One line
is written or replaced (`url:` under `gitlab:`) by `config_write`, the file's one writer;
comments and everything else stay as they are. The user commits the change.
"""

from __future__ import annotations

import json

import yaml

from match_staging import config_write
from match_staging.config import Config
from match_staging.errors import ConfigError


def pin_url(cfg: Config, *, dry_run: bool) -> str:
    """What bootstrap says about `gitlab.url` in the file ("" when it already holds this
    URL); the file is changed unless `dry_run`.
    """
    path = config_write.config_path(cfg)
    url = cfg.gitlab.url
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    current = _url_in(text)
    if current:
        if current.rstrip("/") == url:
            return ""
        return (
            f"gitlab.url in {path} is {current}, but bootstrap ran against {url}: the CI jobs "
            "use the file's"
        )
    line = f"url: {json.dumps(url)}"
    if dry_run:
        # the same line in a dry run and a real one, as every line of bootstrap's plan
        return f"`{line}` goes under `gitlab:` in {path} (not in a dry run): commit it; {_WHY}"
    try:
        config_write.write(path, "gitlab", {"url": url})  # made when missing, as for the ids
    except ConfigError:
        return f"add `{line}` under `gitlab:` in {path} and commit it: {_WHY}"
    except OSError as exc:
        why = exc.strerror or exc
        return f"{path} cannot be written ({why}): add `{line}` under `gitlab:`, commit it"
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

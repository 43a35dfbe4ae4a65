"""`bootstrap` writes the GitLab URL and the project it set up into the committed
configuration file: in CI that file is the only source of the URL, since a pipeline variable
outranks GitLab's predefined CI_SERVER_URL and would receive the token (issue 20), and the
project it names outranks CI_PROJECT_ID, which a pipeline variable could point at another
project the bot may write. `url:` and `project:` under `gitlab:` are written by
`config_write`, the file's one writer, where they are empty; comments and everything else
stay as they are. The user commits the change.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from match_staging import config_write
from match_staging.config import Config
from match_staging.config_parse import safe_load
from match_staging.errors import ConfigError


def pin_url(cfg: Config, *, dry_run: bool, project_id: int | None = None) -> str:
    """What bootstrap says about `gitlab.url` (and `gitlab.project`, the project's id) in
    the file ("" when it already holds them); the file is changed unless `dry_run`.
    """
    path = config_write.config_path(cfg)
    url = cfg.gitlab.url
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    current = _gitlab_in(text)
    have = current.get("url") if isinstance(current.get("url"), str) else ""
    if have and have.rstrip("/") != url:
        return (
            f"gitlab.url in {path} is {have}, but bootstrap ran against {url}: the CI jobs "
            "use the file's"
        )
    values: dict[str, str] = {} if have else {"url": url}
    if project_id and not current.get("project"):
        values["project"] = str(project_id)
    if not values:
        return ""
    lines = ", ".join(f"`{key}: {json.dumps(value)}`" for key, value in values.items())
    if dry_run:
        # the same line in a dry run and a real one, as every line of bootstrap's plan
        return f"{lines} go under `gitlab:` in {path} (not in a dry run): commit it; {_WHY}"
    try:
        config_write.write(path, "gitlab", values)  # made when missing, as for the ids
    except ConfigError:
        return f"add {lines} under `gitlab:` in {path} and commit it: {_WHY}"
    except OSError as exc:
        why = exc.strerror or exc
        return f"{path} cannot be written ({why}): add {lines} under `gitlab:`, commit it"
    return f"{lines} go under `gitlab:` in {path} (not in a dry run): commit it; {_WHY}"


_WHY = (
    "in CI the GitLab URL comes only from that file (a pipeline variable outranks "
    "CI_SERVER_URL), and without it the jobs refuse to run"
)


def _gitlab_in(text: str) -> dict[str, Any]:
    try:
        raw = safe_load(text) if text.strip() else {}  # libyaml's, where there is one
    except yaml.YAMLError:
        return {}
    section = raw.get("gitlab") if isinstance(raw, dict) else None
    return section if isinstance(section, dict) else {}

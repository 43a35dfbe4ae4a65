"""Shared fixtures: a clean working directory shaped like the user's repository."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the deployment layout (config, inbox, cv) as the job's working directory."""
    for name in ("config", "matches-inbox", "cv"):
        shutil.copytree(ROOT / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    for var in ("GITLAB_TOKEN", "CI", "GITLAB_CI", "CI_JOB_ID", "MATCHES_JSON", "MATCHES_FILE",
                "TRIGGER_PAYLOAD", "MATCH_STAGING_CONFIG", "GITLAB_URL", "GITLAB_PROJECT"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def match(**overrides: Any) -> dict[str, Any]:
    """A valid match; tests override what they are about."""
    base: dict[str, Any] = {
        "score": 92, "title": "Senior DevOps Engineer", "provider": "Acme GmbH",
        "url": "https://jobs.example.com/p/1",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def owed(gitlab: Any) -> list[tuple[int, str]]:
    """(iid, channel) pairs the newest delivery queue in a fake GitLab's run log still owes:
    what the next `stage` or `digest` will announce."""
    from datetime import UTC, datetime

    from match_staging.delivery import LOG_KIND, Queue
    from match_staging.trackers import ledger

    newest = None
    for notes in gitlab.notes.values():
        for note in notes:
            if note["author"]["username"] != "bot" or note.get("system"):
                continue
            record = ledger.parse_note(note["body"], datetime.now(UTC))
            if record is not None and record.kind == LOG_KIND:
                newest = record
    if newest is None:
        return []
    queue = Queue.from_data(newest.data)
    return sorted((iid, channel) for channel, iids in queue.pending.items() for iid in iids)


def job_matches(gitlab: Any) -> dict[int, Any]:
    """The fake's staged issues (without the run-log issue)."""
    return {iid: i for iid, i in gitlab.issues.items() if "job-match" in i["labels"]}

"""The embedded local tracker: a JSON file under `.match-staging/`, so every command can
be tried on a laptop without a GitLab project (docs/interface.md, "Without GITLAB_TOKEN").
Each issue's description is also written as a Markdown file a person can open.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast

from match_staging.errors import TrackerError
from match_staging.model import (
    IssueDraft,
    IssueRef,
    LabelEvent,
    LabelSpec,
    Note,
    State,
    StateEvent,
)
from match_staging.trackers import ledger
from match_staging.trackers.base import LogRecord, TokenInfo, Upload, WebhookState

FORMAT_VERSION = 1
MAX_LOG_RECORDS = 1000  # the oldest records go first; readers want the latest few


class LocalTracker:
    """The issues in a JSON file; nothing leaves the machine."""

    kind: Literal["local"] = "local"
    sends = False
    requests = 0  # nothing leaves the machine
    user = "local"  # who the local tracker says made its changes

    def __init__(self, state_dir: Path, *, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self.dir = state_dir
        self.file = state_dir / "tracker.json"
        self.location = str(self.file)
        self._data = self._load()

    def _load(self) -> dict[str, Any]:
        if not self.file.exists():
            return {"version": FORMAT_VERSION, "next_iid": 1, "labels": {}, "issues": []}
        try:
            data: dict[str, Any] = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TrackerError(
                f"{self.file}: cannot be read ({exc}); move it away to start a fresh local tracker"
            ) from None
        return data

    def _save(self) -> None:
        # One line: json's C encoder, which `indent` turns off. The pure-Python one took 4 ms
        # a save at 40 matches, and every change saves the whole file. People read the
        # pages under issues/, not this file.
        _write_atomically(self.file, json.dumps(self._data, ensure_ascii=False))

    def prepare(self, labels: Sequence[LabelSpec], count_label: str) -> int:
        """Labels are names in the file; no colours are shown anywhere."""
        known = self._data["labels"]
        missing = [spec for spec in labels if spec.name not in known]
        for spec in missing:
            known[spec.name] = {"color": spec.color, "description": spec.description}
        if missing:
            self._save()
        return sum(1 for i in self._data["issues"] if count_label in i["labels"])

    def find_by_keys(
        self, keys: Sequence[str], *, label: str, expected: int, editors: Collection[str] = ()
    ) -> dict[str, IssueRef]:
        """Every issue is in memory: one pass, whatever `expected` says."""
        wanted = set(keys)
        found: dict[str, IssueRef] = {}
        for issue in self._data["issues"]:
            ref = self._ref(issue)
            found.update({k: ref for k in ref.keys if k in wanted})
        return found

    def create_issue(self, draft: IssueDraft) -> IssueRef:
        """A new issue and its page; the labels count as added by the local user."""
        iid = int(self._data["next_iid"])
        now = self._now()
        issue = {
            "iid": iid,
            "title": draft.title,
            "description": draft.description,
            "labels": list(draft.labels),
            "state": "opened",
            "keys": list(draft.keys),
            "assignee_ids": list(draft.assignee_ids),
            "created_at": now,
            "updated_at": now,
            "notes": [],
            "label_events": [
                {"user": self.user, "label": lb, "action": "add", "created_at": now}
                for lb in draft.labels
            ],
        }
        self._data["issues"].append(issue)
        self._data["next_iid"] = iid + 1
        self._save()
        self._write_page(issue)
        return self._ref(issue)

    def upload(self, path: Path) -> Upload:
        """A copy under uploads/, named by content so the same file is stored once."""
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:32]
        target = self.dir / "uploads" / digest / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        return Upload(name=path.name, url=f"../uploads/{digest}/{path.name}")

    def list_issues(
        self, labels: Sequence[str], *, state: str = "all", created_before: datetime | None = None
    ) -> list[IssueRef]:
        """Issues carrying every label of `labels`, oldest first."""
        return [
            self._ref(i)
            for i in self._data["issues"]
            if all(lb in i["labels"] for lb in labels)
            and state in ("all", i["state"])
            and (created_before is None or datetime.fromisoformat(i["created_at"]) < created_before)
        ]

    def issues_by_iids(self, iids: Sequence[int]) -> list[IssueRef]:
        """The issues of the file numbered `iids`."""
        wanted = set(iids)
        return [self._ref(i) for i in self._data["issues"] if int(i["iid"]) in wanted]

    def staged_after(self, iid: int) -> list[IssueRef]:
        """Every issue of the file numbered above `iid` (the run log is not an issue here)."""
        return [self._ref(i) for i in reversed(self._data["issues"]) if int(i["iid"]) > iid]

    def get_issue(self, iid: int) -> IssueRef | None:
        """The issue, or None when the file has no such number."""
        try:
            return self._ref(self._issue(iid))
        except TrackerError:
            return None

    def update_issue(
        self,
        iid: int,
        *,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        description: str | None = None,
        state_event: StateEvent | None = None,
    ) -> IssueRef:
        """Labels, description and open/closed at once, with label events as GitLab keeps."""
        issue = self._issue(iid)
        before = list(issue["labels"])
        issue["labels"] = [lb for lb in before if lb not in remove]
        issue["labels"] += [lb for lb in add if lb not in issue["labels"]]
        now = self._now()
        events = issue.setdefault("label_events", [])
        events += [
            {"user": self.user, "label": lb, "action": "remove", "created_at": now}
            for lb in before
            if lb not in issue["labels"]
        ]
        events += [
            {"user": self.user, "label": lb, "action": "add", "created_at": now}
            for lb in issue["labels"]
            if lb not in before
        ]
        if description is not None:
            issue["description"] = description
        if state_event is not None:
            issue["state"] = "closed" if state_event == "close" else "opened"
        self._touch(issue)
        return self._ref(issue)

    def label_events(self, iid: int) -> list[LabelEvent]:
        """Label events as the local tracker recorded them (user id 0)."""
        return [
            LabelEvent(
                user=e["user"],
                user_id=0,
                label=e["label"],
                action=e["action"],
                created_at=e["created_at"],
            )
            for e in self._issue(iid).get("label_events", [])
        ]

    def label_ids(self) -> dict[str, int] | None:
        """None: a label here is its name, and nobody else renames it."""
        return None

    def changed_issues(
        self, labels: Sequence[str], since: datetime, *, staged_only: bool = False
    ) -> list[IssueRef]:
        """Issues carrying every label of `labels` updated after `since` (every issue of
        the file is the tool's).
        """
        return [
            self._ref(i)
            for i in self._data["issues"]
            if all(lb in i["labels"] for lb in labels)
            and datetime.fromisoformat(i["updated_at"]) > since
        ]

    def webhook_problems(self) -> list[str]:
        """No webhooks on a laptop."""
        return []

    def variables_role(self) -> str | None:
        """No pipelines on a laptop."""
        return None

    def disabled_webhooks(self) -> list[WebhookState] | None:
        """No webhooks on a laptop."""
        return []

    def token_info(self) -> TokenInfo | None:
        """No token, nothing expires."""
        return None

    def add_note(self, iid: int, body: str) -> None:
        """Append a note by the local user; the page shows it."""
        issue = self._issue(iid)
        issue["notes"].append({"body": body, "created_at": self._now(), "author": self.user})
        self._touch(issue)

    def append_log(self, kind: str, data: dict[str, Any]) -> None:
        """The run log is a JSON list in the state file, oldest first."""
        ledger.check_kind(kind)
        record = {"kind": kind, "data": json.loads(json.dumps(data)), "created_at": self._now()}
        log = self._data.setdefault("log", [])
        log.append(record)
        if len(log) > MAX_LOG_RECORDS:  # the oldest go, but never a kind's newest record
            newest = set({r.get("kind"): i for i, r in enumerate(log)}.values())
            older = [i for i in range(len(log)) if i not in newest]
            gone = set(older[: len(log) - MAX_LOG_RECORDS])
            log[:] = [r for i, r in enumerate(log) if i not in gone]
        self._save()

    def read_log(self, kind: str, *, since: datetime, limit: int = 100) -> list[LogRecord]:
        """The records of `kind` written after `since`, newest first."""
        found = [r for r in self._log_of(kind) if r.created_at >= since]
        return found[: max(limit, 0)]

    def check_log(self) -> None:
        """The run log is a list in the state file: nobody else edits it."""

    def latest_log(self, kind: str) -> LogRecord | None:
        """The newest record of `kind` (trimming keeps the newest of every kind)."""
        return next(iter(self._log_of(kind)), None)

    def _log_of(self, kind: str) -> list[LogRecord]:
        ledger.check_kind(kind)
        return [
            LogRecord(
                kind=r["kind"],
                data=dict(r["data"]),
                created_at=ledger.parse_time(r["created_at"], self._clock()),
            )
            for r in reversed(self._data.get("log", []))
            if r.get("kind") == kind
        ]

    def bot_user(self) -> str:
        """Everything in the local file is the tool's own writing."""
        return self.user

    def notes(self, iid: int) -> list[Note]:
        """The issue's notes, oldest first; there are no system notes locally."""
        return [
            Note(
                id=n,
                author=str(note.get("author") or self.user),
                body=str(note["body"]),
                system=False,
                created_at=str(note["created_at"]),
            )
            for n, note in enumerate(self._issue(iid).get("notes", []), start=1)
        ]

    def _issue(self, iid: int) -> dict[str, Any]:
        for issue in self._data["issues"]:
            if issue["iid"] == iid:
                return cast(dict[str, Any], issue)
        raise TrackerError(f"{self.file}: no issue #{iid}")

    def _touch(self, issue: dict[str, Any]) -> None:
        issue["updated_at"] = self._now()
        self._save()
        self._write_page(issue)

    # --- the page a person reads -----------------------------------------------------------

    # machine records (keys, notice, state and sending marks): HTML comments on lines of
    # their own, whatever their format; a person's page has no use for them
    _RECORD = re.compile(r"^<!--.*?-->[ \t]*\n?", re.MULTILINE | re.DOTALL)
    _BOARD = " Review it on the board."  # issue.md.j2's footer: the local tracker has none
    _STATES = tuple(s.value for s in State)

    def _write_page(self, issue: dict[str, Any]) -> None:
        """Rewrite .match-staging/issues/N.md from the issue as it stands: state, labels,
        open or closed, the description without the machine records, and every note.
        """
        from markupsafe import Markup

        from match_staging import render

        description = self._RECORD.sub("", str(issue["description"])).replace(self._BOARD, "")
        labels = [str(lb) for lb in issue["labels"]]
        state = next(
            (
                lb.rpartition("/")[2]
                for lb in labels
                if "/" in lb and lb.rpartition("/")[2] in self._STATES
            ),
            "",
        )
        notes = [
            {
                "when": n.get("created_at", ""),
                "author": n.get("author") or "match-staging",
                # notes are the Markdown the tool rendered, already escaped
                "body": Markup(self._RECORD.sub("", str(n.get("body", ""))).strip()),  # noqa: S704
            }
            for n in issue.get("notes", [])
        ]
        page = render.render(
            "local_issue.md.j2",
            None,
            iid=issue["iid"],
            title=issue["title"],
            state=state,
            opened=issue["state"] == "opened",
            labels=labels,
            updated_at=issue["updated_at"],
            notes=notes,
            description=Markup(description.strip()),  # noqa: S704  (rendered and escaped)
        )
        _write_atomically(self.dir / "issues" / f"{issue['iid']}.md", page)

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="seconds")

    def _ref(self, issue: dict[str, Any]) -> IssueRef:
        return IssueRef(
            iid=int(issue["iid"]),
            title=str(issue["title"]),
            web_url=str(self.dir / "issues" / f"{issue['iid']}.md"),
            labels=tuple(issue["labels"]),
            state=str(issue["state"]),
            keys=tuple(issue["keys"]),
            description=str(issue["description"]),
            updated_at=str(issue["updated_at"]),
            created_at=str(issue["created_at"]),
            author=self.user,
            notes_count=len(issue.get("notes", [])),
        )


def _write_atomically(path: Path, text: str) -> None:
    """A crash never leaves half a file: write beside it, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)

"""An in-memory tracker for use-case tests: the `Tracker` interface without HTTP or files.

As strict as the local tracker (tests/trackers/test_contract.py runs the same checks against
both, and against the GitLab tracker on the HTTP fake): an unknown issue is None from
`get_issue` and a `TrackerError` everywhere else; every note and label change has an author;
only records the bot wrote are run-log records. People act through `as_user`, the way a
reviewer moves a card or comments on the board.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from match_staging.clock import system_now
from match_staging.errors import TrackerError
from match_staging.model import IssueDraft, IssueRef, LabelEvent, LabelSpec, Note, StateEvent
from match_staging.trackers import ledger
from match_staging.trackers.base import LogRecord, TokenInfo, Upload, WebhookState

BOT = "bot"


@dataclass
class _Issue:
    ref: IssueRef
    assignee_ids: tuple[int, ...]
    notes: list[Note] = field(default_factory=list)
    events: list[LabelEvent] = field(default_factory=list)


@dataclass(frozen=True)
class _Record:
    author: str
    kind: str
    data: dict[str, Any]
    created_at: datetime


class MemoryTracker:
    """A stateful tracker in plain containers; `clock` is the tracker's own time."""

    # it stands in for GitLab in the use-case tests: what it records "reaches people"
    kind: Literal["gitlab"] = "gitlab"
    sends = True
    location = "memory"

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock or system_now
        self.user = BOT  # who acts now: the bot, or a person inside `as_user`
        self.labels: dict[str, LabelSpec] = {}
        self.issues: dict[int, _Issue] = {}
        self.uploads: list[Path] = []
        self.log: list[_Record] = []
        self.webhook_failures: list[str] = []  # what webhook_problems reports
        self.calls = 0  # every call of the interface, like GitLab's request count

    @property
    def requests(self) -> int:
        return self.calls

    @contextmanager
    def as_user(self, username: str) -> Iterator[None]:
        """Act as a person (a reviewer on the board, a member commenting)."""
        before, self.user = self.user, username
        try:
            yield
        finally:
            self.user = before

    # --- the interface --------------------------------------------------------------------

    def prepare(self, labels: Sequence[LabelSpec], count_label: str) -> int:
        self.calls += 1
        for spec in labels:
            self.labels.setdefault(spec.name, spec)
        return sum(1 for i in self.issues.values() if count_label in i.ref.labels)

    def find_by_keys(
        self, keys: Sequence[str], *, label: str, expected: int, editors: Collection[str] = ()
    ) -> dict[str, IssueRef]:
        self.calls += 1
        wanted = set(keys)
        return {
            key: issue.ref
            for issue in self.issues.values()
            for key in issue.ref.keys
            if key in wanted
        }

    def create_issue(self, draft: IssueDraft) -> IssueRef:
        self.calls += 1
        iid = len(self.issues) + 1
        now = self._now()
        ref = IssueRef(
            iid=iid,
            title=draft.title,
            web_url=f"memory://issues/{iid}",
            labels=tuple(dict.fromkeys(draft.labels)),
            state="opened",
            keys=tuple(draft.keys),
            description=draft.description,
            updated_at=now,
            created_at=now,
            author=self.user,
            notes_count=0,
        )
        self.issues[iid] = _Issue(
            ref,
            tuple(draft.assignee_ids),
            events=[self._event(label, "add", now) for label in ref.labels],
        )
        return ref

    def upload(self, path: Path) -> Upload:
        self.calls += 1
        if not path.is_file():
            raise TrackerError(f"cannot upload {path}: no such file")
        self.uploads.append(path)
        return Upload(name=path.name, url=f"/uploads/{len(self.uploads)}/{path.name}")

    def list_issues(
        self, labels: Sequence[str], *, state: str = "all", created_before: datetime | None = None
    ) -> list[IssueRef]:
        self.calls += 1
        return [
            i.ref
            for i in self.issues.values()
            if set(labels) <= set(i.ref.labels)
            and state in ("all", i.ref.state)
            and (
                created_before is None or datetime.fromisoformat(i.ref.created_at) < created_before
            )
        ]

    def issues_by_iids(self, iids: Sequence[int]) -> list[IssueRef]:
        self.calls += 1
        return [i.ref for iid, i in self.issues.items() if iid in set(iids)]

    def staged_after(self, iid: int) -> list[IssueRef]:
        self.calls += 1
        return [
            i.ref
            for n, i in sorted(self.issues.items(), reverse=True)
            if n > iid and i.ref.author == BOT
        ]

    def get_issue(self, iid: int) -> IssueRef | None:
        self.calls += 1
        issue = self.issues.get(iid)
        return issue.ref if issue else None

    def update_issue(
        self,
        iid: int,
        *,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        description: str | None = None,
        state_event: StateEvent | None = None,
    ) -> IssueRef:
        self.calls += 1
        issue = self._issue(iid)
        if state_event not in (None, "close", "reopen"):
            raise TrackerError(f"#{iid}: unknown state_event {state_event!r}")
        now = self._now()
        before = issue.ref.labels
        after = tuple(lb for lb in before if lb not in remove)
        after += tuple(dict.fromkeys(lb for lb in add if lb not in after))
        issue.events += [self._event(lb, "remove", now) for lb in before if lb not in after]
        issue.events += [self._event(lb, "add", now) for lb in after if lb not in before]
        state = {"close": "closed", "reopen": "opened"}.get(state_event or "", issue.ref.state)
        issue.ref = replace(
            issue.ref,
            labels=after,
            state=state,
            updated_at=now,
            description=issue.ref.description if description is None else description,
        )
        return issue.ref

    def label_events(self, iid: int) -> list[LabelEvent]:
        self.calls += 1
        return list(self._issue(iid).events)

    def label_ids(self) -> dict[str, int] | None:
        return None  # like the local tracker: labels are names, nobody renames them

    def changed_issues(
        self, labels: Sequence[str], since: datetime, *, staged_only: bool = False
    ) -> list[IssueRef]:
        self.calls += 1
        return [
            i.ref
            for i in self.issues.values()
            if set(labels) <= set(i.ref.labels)
            and datetime.fromisoformat(i.ref.updated_at) > since
            and (not staged_only or i.ref.author == BOT)
        ]

    def webhook_problems(self) -> list[str]:
        self.calls += 1
        return list(self.webhook_failures)

    def disabled_webhooks(self) -> list[WebhookState] | None:
        return []  # webhook_failures are reported as text by webhook_problems

    def variables_role(self) -> str | None:
        self.calls += 1
        return None

    def token_info(self) -> TokenInfo | None:
        return None

    def add_note(self, iid: int, body: str) -> None:
        self.calls += 1
        issue = self._issue(iid)
        now = self._now()
        issue.notes.append(
            Note(
                id=sum(len(i.notes) for i in self.issues.values()) + 1,
                author=self.user,
                body=body,
                system=False,
                created_at=now,
            )
        )
        issue.ref = replace(issue.ref, updated_at=now, notes_count=len(issue.notes))

    def append_log(self, kind: str, data: dict[str, Any]) -> None:
        self.calls += 1
        ledger.check_kind(kind)
        copied = json.loads(json.dumps(data))  # JSON-serialisable, and no shared state
        self.log.append(_Record(self.user, kind, copied, self._clock().astimezone(UTC)))

    def read_log(self, kind: str, *, since: datetime, limit: int = 100) -> list[LogRecord]:
        self.calls += 1
        return [r for r in self._log_of(kind) if r.created_at >= since][: max(limit, 0)]

    def check_log(self) -> None:
        return None  # like the local tracker: nobody else edits the log

    def latest_log(self, kind: str) -> LogRecord | None:
        self.calls += 1
        return next(iter(self._log_of(kind)), None)

    def _log_of(self, kind: str) -> list[LogRecord]:
        ledger.check_kind(kind)
        return [
            LogRecord(kind=r.kind, data=json.loads(json.dumps(r.data)), created_at=r.created_at)
            for r in reversed(self.log)
            if r.author == BOT and r.kind == kind
        ]

    def bot_user(self) -> str:
        return BOT

    def notes(self, iid: int) -> list[Note]:
        self.calls += 1
        return list(self._issue(iid).notes)

    # --- helpers --------------------------------------------------------------------------

    def _issue(self, iid: int) -> _Issue:
        issue = self.issues.get(iid)
        if issue is None:
            raise TrackerError(f"no issue #{iid}")
        return issue

    def _event(self, label: str, action: Literal["add", "remove"], now: str) -> LabelEvent:
        return LabelEvent(user=self.user, user_id=0, label=label, action=action, created_at=now)

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="seconds")

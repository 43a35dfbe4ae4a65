"""The GitLab tracker: issues are records, labels are state. python-gitlab over one
counting session, so every run can say what it cost in GitLab's rate-limit budget.

Retry lives in one place: python-gitlab waits out 429s honouring Retry-After
(`obey_rate_limit`, docs/platform-facts.md "Rate limits"); we never let it re-send a POST after a
5xx or a dropped connection, because that can create a second issue. `create_issue` instead
looks the match up before it tries again.

Its parts, by job: gitlab_http (the connection, paces, errors), gitlab_base (the reads they
all share), gitlab_lookup (staged matches by key), gitlab_runlog (the run log's requests)
and gitlab_health (webhooks, the token's expiry, the variables setting).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import gitlab

from match_staging import clock as clocks
from match_staging.config import GitLabSettings
from match_staging.errors import TrackerError
from match_staging.model import IssueDraft, IssueRef, LabelEvent, LabelSpec, Note, StateEvent
from match_staging.trackers.base import Upload, WebhookState
from match_staging.trackers.gitlab_health import ProjectHealth
from match_staging.trackers.gitlab_http import PER_PAGE, Pace, _translate, connect
from match_staging.trackers.gitlab_lookup import KeyLookup
from match_staging.trackers.gitlab_runlog import RunLog

CREATE_ATTEMPTS = 2  # one retry, after a pause and a lookup
RETRY_PAUSE_SECONDS = 5.0  # lets a create GitLab was still committing show up first
RECENT_MARGIN = timedelta(minutes=10)  # GitLab's clock may differ from ours


class GitLabTracker(KeyLookup, RunLog, ProjectHealth):
    """The Tracker on a GitLab project (python-gitlab; see trackers/base.py)."""

    kind: Literal["gitlab"] = "gitlab"
    sends = True  # what it records and what the channels send reaches GitLab and people

    def __init__(
        self,
        settings: GitLabSettings,
        token: str,
        *,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        """`settings` name the project and the paces; `clock` and `sleep` are the run's
        (MATCH_STAGING_NOW honoured). Two readings are real time whatever the run's clock
        says: the paces (`_pace`) and the lookup after a lost create (GitLab's clock).
        """
        # lazy: no request until the first real call (economy)
        self._project, self._counter = connect(
            settings.url, token, settings.project, settings.timeout
        )
        self._sleep = sleep or clocks.system_sleep
        self._clock = clock or clocks.system_now
        self._bot_user: tuple[int, str] | None = None  # GET /user, once per run
        self._ledger_iid: int | None = None  # the run-log issue, once found
        # the project's labels as GitLab's JSON, as last listed
        self._labels: list[dict[str, Any]] | None = None
        self._labels_unused = False  # listed for the id check, not yet used by `prepare`
        self._disabled_hooks: list[WebhookState] | None = None  # GET hooks, once per run
        self._hooks_visible = True
        self.token_expires: date | None = None  # when GitLab said so this run (token_info)
        self._ledger_looked = False  # and whether it was looked for (None: not yet started)
        self.lookup_path = "none"  # how the last find_by_keys looked: listing or search
        self.lookups = 0  # and how many requests that took
        self.create_pace = self._pace(settings.issue_creates_per_minute)
        self.note_pace = self._pace(settings.notes_per_minute)
        self.write_pace = self._pace(settings.issue_writes_per_minute)  # each write: a pipeline
        self.location = f"{settings.url} project {settings.project}"

    def _pace(self, per_minute: int) -> Pace:
        # paced by the time that really passes (clock.monotonic), never by the run's clock,
        # which MATCH_STAGING_NOW stops: a minute's wait per window however slow the calls
        return Pace(per_minute, self._sleep)

    @property
    def requests(self) -> int:
        """Requests sent so far, retries included: GitLab's rate-limit budget."""
        return self._counter.sent

    @_translate("list or create labels")
    def prepare(self, labels: Sequence[LabelSpec], count_label: str) -> int:
        """Create missing labels; return how many issues carry `count_label`."""
        listing = self._labels if self._labels_unused and self._labels is not None else None
        self._labels_unused = False
        existing = {str(lb["name"]): lb for lb in (listing or self._list_labels())}
        for spec in labels:
            if spec.name not in existing:
                created = self._project.labels.create(
                    {"name": spec.name, "color": spec.color, "description": spec.description}
                )
                self._labels = [*(self._labels or []), dict(created.attributes)]
        found = existing.get(count_label)
        if found is None:
            return 0
        return int(found.get("open_issues_count") or 0) + int(found.get("closed_issues_count") or 0)

    def _list_labels(self) -> list[dict[str, Any]]:
        """The project's labels with their counts (100 a page): the id check's listing is
        the one `prepare` uses next, so a staging run pays nothing for the check. Read as
        GitLab's JSON (`_pages`), as every other listing: python-gitlab's ProjectLabel
        objects cost about 0.4 ms of a listing of 13 labels.
        """
        self._labels = list(self._pages("/labels", {"with_counts": True, "per_page": PER_PAGE}))
        return self._labels

    @_translate("list the project's labels")
    def label_ids(self) -> dict[str, int] | None:
        """Every label's id by its current name (a Reporter may rename a label: PUT
        /projects/:id/labels/:label_id with new_name, docs/platform-facts.md "Label events").
        """
        if self._labels is None:
            self._list_labels()
            self._labels_unused = True
        return {str(lb["name"]): int(lb["id"]) for lb in self._labels or []}

    def create_issue(self, draft: IssueDraft) -> IssueRef:
        """Create once: after an answer that got lost, look before creating again."""
        # GitLab stamps created_at with its own clock: the lookup asks by the real time,
        # never by the run's (MATCH_STAGING_NOW may be days off and miss the new issue)
        since = clocks.system_now() - RECENT_MARGIN
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                return self._create(draft)
            except TrackerError as exc:
                if not exc.transient:
                    raise
                # The create may have happened before the connection broke: give GitLab
                # a moment to finish it, then look before creating again. Not by search:
                # its index is written after the issue and may not hold it yet.
                self._sleep(RETRY_PAUSE_SECONDS)
                found = self._created_since(draft, since)
                if found is not None:
                    return found
                if attempt == CREATE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    @_translate("look up a staged match")
    def _created_since(self, draft: IssueDraft, since: datetime) -> IssueRef | None:
        """The issue holding the draft's keys among those created since `since`, newest
        first: one page, unless more than 100 issues were created meanwhile.
        """
        bot_id = self._bot_identity()[0]  # only the bot's own create
        for issue in self._bot_issues(bot_id, newest_first=True, created_after=since):
            ref = self._ref(issue)
            if set(draft.keys) & set(ref.keys):
                return ref
        return None

    @_translate("create an issue")
    def _create(self, draft: IssueDraft) -> IssueRef:
        self.create_pace()
        self.write_pace()
        data: dict[str, Any] = {
            "title": draft.title,
            "description": draft.description,
            "labels": ",".join(draft.labels),
        }
        if draft.assignee_ids:
            data["assignee_ids"] = list(draft.assignee_ids)
        issue = self._project.issues.create(data)
        return self._ref(issue)

    @_translate("upload an attachment")
    def upload(self, path: Path) -> Upload:
        """Upload a file to the project (by numeric id: docs/platform-facts.md)."""
        # Not Project.upload(): on a project handle made lazily from a path it sends the
        # path encoded twice (`group%252Fname`), which GitLab answers with 404
        # (docs/platform-facts.md, "Project ids in paths"). ProjectApi.path encodes it once.
        target = self._project.path("/uploads")
        result = self._project.client.http_post(
            target, files={"file": (path.name, path.read_bytes())}
        )
        if not isinstance(result, dict):
            raise TrackerError("GitLab could not upload an attachment: unexpected answer")
        return Upload(name=path.name, url=str(result["url"]))

    @_translate("list issues")
    def list_issues(
        self, labels: Sequence[str], *, state: str = "all", created_before: datetime | None = None
    ) -> list[IssueRef]:
        """Every issue carrying all `labels`, oldest first, 100 a page."""
        query: dict[str, Any] = {
            "labels": ",".join(labels),
            "state": state,
            "per_page": PER_PAGE,
            "order_by": "created_at",
            "sort": "asc",
        }
        if created_before is not None:
            query["created_before"] = created_before.astimezone(UTC).isoformat()
        return [self._ref(issue) for issue in self._pages("/issues", query)]

    @_translate("look up owed matches")
    def issues_by_iids(self, iids: Sequence[int]) -> list[IssueRef]:
        """The issues numbered `iids` in any state, whatever their labels (a renamed or
        removed label hides nothing): `iids[]` (lib/api/helpers/issues_helpers.rb), 100 a
        request, the most one page holds.
        """
        wanted = sorted(set(iids))
        found: list[IssueRef] = []
        for start in range(0, len(wanted), PER_PAGE):
            chunk = wanted[start : start + PER_PAGE]
            issues = self._project.issues.list(
                iids=chunk, state="all", per_page=PER_PAGE, get_all=False, iterator=False
            )
            found += [ref for ref in map(self._ref, issues) if ref.iid in chunk]
        return found

    @_translate("look up matches staged since the delivery queue")
    def staged_after(self, iid: int) -> list[IssueRef]:
        """Every issue the bot created with a number above `iid`, in any state and whatever
        its labels, except the run log; newest first. Pages of 100 until one reaches `iid`
        (a number is given once, at creation: gitlabhq app/models/internal_id.rb), usually
        one request. The run log is the one the run's queue read found (`read_log` comes
        first), never an issue that merely looks like it.
        """
        bot_id, _ = self._bot_identity()
        ledger_iid = self._ledger_iid
        listing = self._bot_issues(bot_id, newest_first=True)
        found: list[IssueRef] = []
        reached = False
        for index, issue in enumerate(listing):
            ref = self._ref(issue)
            reached = reached or ref.iid <= iid
            if ref.iid > iid and ref.iid != ledger_iid:
                found.append(ref)
            if reached and (index + 1) % PER_PAGE == 0:
                break  # the page that reached `iid` is read to its end: nothing newer is left
        return found

    @_translate("read an issue")
    def get_issue(self, iid: int) -> IssueRef | None:
        """One issue with its description; None when there is none."""
        try:
            return self._ref(self._project.issues.get(iid))
        except gitlab.exceptions.GitlabGetError as exc:
            if exc.response_code == 404:
                return None
            raise

    @_translate("update an issue")
    def update_issue(
        self,
        iid: int,
        *,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        description: str | None = None,
        state_event: StateEvent | None = None,
    ) -> IssueRef:
        """Labels, description and open/closed state in one request."""
        data: dict[str, Any] = {}
        if add:
            data["add_labels"] = ",".join(add)
        if remove:
            data["remove_labels"] = ",".join(remove)
        if description is not None:
            data["description"] = description
        if state_event:
            data["state_event"] = state_event
        self.write_pace()
        # the same request again is harmless: labels, text and state are set, not toggled
        return self._ref_from(self._project.issues.update(iid, data, retry_transient_errors=True))

    @_translate("read label events")
    def label_events(self, iid: int) -> list[LabelEvent]:
        """Who added and removed which label, oldest first."""
        out = []
        for attrs in self._pages(f"/issues/{iid}/resource_label_events", {"per_page": PER_PAGE}):
            action = attrs.get("action")
            if action not in ("add", "remove"):
                continue  # GitLab knows no other; a label event is one or the other
            # `label` is the label as it is now (LabelBasic of the event's label_id: gitlabhq
            # lib/api/entities/resource_label_event.rb): its current name, and its id
            label = attrs.get("label") or {}
            user = attrs.get("user") or {}
            out.append(
                LabelEvent(
                    user=str(user.get("username", "")),
                    user_id=int(user.get("id") or 0),
                    label=str(label.get("name", "")),
                    action=action,
                    created_at=str(attrs.get("created_at", "")),
                    label_id=int(label.get("id") or 0),
                )
            )
        return sorted(out, key=lambda e: e.created_at)

    @_translate("list changed issues")
    def changed_issues(
        self, labels: Sequence[str], since: datetime, *, staged_only: bool = False
    ) -> list[IssueRef]:
        """Issues carrying all `labels` updated after `since`; `staged_only`: created by the
        bot (`author_id`), whatever their labels.
        """
        query: dict[str, Any] = {
            "state": "all",
            "per_page": PER_PAGE,
            "updated_after": since.astimezone(UTC).isoformat(),
            "order_by": "updated_at",
            "sort": "asc",
        }
        if labels:
            query["labels"] = ",".join(labels)
        if staged_only:
            query["author_id"] = self._bot_identity()[0]
        return [self._ref(issue) for issue in self._pages("/issues", query)]

    def add_note(self, iid: int, body: str) -> None:
        """Write once: after a failure that may have written it, look before writing again
        (a note is the audit trail: neither lost nor doubled).
        """
        try:
            self._note(iid, body)
        except TrackerError as exc:
            if not exc.transient:
                raise
            if self._has_note(iid, body):
                return
            self._sleep(RETRY_PAUSE_SECONDS)
            self._note(iid, body)

    @_translate("write a note")
    def _note(self, iid: int, body: str) -> None:
        self.note_pace()
        issue = self._project.issues.get(iid, lazy=True)
        issue.notes.create({"body": body})

    @_translate("read the latest notes")
    def _has_note(self, iid: int, body: str) -> bool:
        issue = self._project.issues.get(iid, lazy=True)
        latest = issue.notes.list(
            sort="desc", order_by="created_at", per_page=20, get_all=False, iterator=False
        )
        return any(str(n.attributes.get("body", "")).strip() == body.strip() for n in latest)

    def _pause_before_retry(self) -> None:
        """The pause before a write is tried again (the run log's create among them)."""
        self._sleep(RETRY_PAUSE_SECONDS)

    def bot_user(self) -> str:
        """The username the tool writes as: only its notes and descriptions are records."""
        return self._bot_identity()[1]

    @_translate("read the notes of an issue")
    def notes(self, iid: int) -> list[Note]:
        """Every note with its author, system notes included, oldest first."""
        found = self._pages(
            f"/issues/{iid}/notes", {"per_page": PER_PAGE, "sort": "asc", "order_by": "created_at"}
        )
        out = [self._note_of(note) for note in found]
        return sorted(out, key=lambda n: (n.created_at, n.id))

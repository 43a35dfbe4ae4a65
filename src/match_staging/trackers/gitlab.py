"""The GitLab tracker: issues are records, labels are state. python-gitlab over one
counting session, so every run can say what it cost in GitLab's rate-limit budget.

Retry lives in one place: python-gitlab waits out 429s honouring Retry-After
(`obey_rate_limit`, platform-facts.md "Rate limits"); we never let it re-send a POST after a
5xx or a dropped connection, because that can create a second issue. `create_issue` instead
looks the match up before it tries again."""

from __future__ import annotations

import functools
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import gitlab
import requests
from gitlab.v4.objects import Project, ProjectIssue
from requests.adapters import HTTPAdapter

from match_staging.errors import TrackerError
from match_staging.model import IssueDraft, IssueRef, LabelEvent, LabelSpec
from match_staging.render import parse_marker
from match_staging.trackers.base import Upload

PER_PAGE = 100           # GitLab's maximum page size
CREATE_ATTEMPTS = 2        # one retry, after a pause and a lookup
RETRY_PAUSE_SECONDS = 5.0  # lets a create GitLab was still committing show up first

P = ParamSpec("P")
R = TypeVar("R")


class Pace:
    """At most `per_minute` calls in any 60 seconds: waits instead of running into GitLab's
    per-action limits (issue creation 200/min, notes 60/min on GitLab.com), which a 429
    would enforce anyway, later and with a retry (platform-facts.md, "Rate limits")."""

    def __init__(self, per_minute: int, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._sleep = sleep
        self._clock = clock
        self._recent: deque[float] = deque()
        self.waited = 0.0

    def __call__(self) -> None:
        if self.per_minute <= 0:
            return
        now = self._clock()
        while self._recent and now - self._recent[0] >= 60:
            self._recent.popleft()
        if len(self._recent) >= self.per_minute:
            wait = 60 - (now - self._recent[0])
            self._sleep(wait)
            self.waited += wait
            self._recent.popleft()
            now = self._clock()
        self._recent.append(now)


class _CountingAdapter(HTTPAdapter):
    """Counts every request that leaves, including retries and ones that never got an answer."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    def send(self, request: requests.PreparedRequest, *args: Any,
             **kwargs: Any) -> requests.Response:
        self.sent += 1
        return super().send(request, *args, **kwargs)


def connect(url: str, token: str, project: str,
            timeout: float) -> tuple[Project, _CountingAdapter]:
    """A lazy handle on the project (no request yet) and the counter of every request."""
    client = gitlab.Gitlab(url, private_token=token, timeout=timeout,
                           retry_transient_errors=False,
                           user_agent="match-staging (+python-gitlab)")
    counter = _CountingAdapter()
    client.session.mount("http://", counter)
    client.session.mount("https://", counter)
    return client.projects.get(project, lazy=True), counter


def _translate(what: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Turn python-gitlab and requests exceptions into TrackerError, once, at the boundary."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except gitlab.exceptions.GitlabError as exc:
                code = exc.response_code
                message = " ".join(str(exc.error_message).split())[:300]
                if code and not message.startswith(str(code)):
                    message = f"{code} {message}"  # GitLab's own messages often start with it
                raise TrackerError(f"GitLab could not {what}: {message}",
                                   status=code, transient=code is None or code >= 500) from None
            except requests.RequestException as exc:
                raise TrackerError(f"GitLab could not {what}: no answer{_from(exc)} "
                                   f"({type(exc).__name__})", transient=True) from None

        return inner

    return wrap


def _from(exc: requests.RequestException) -> str:
    """ " from https://host" for a request that got no answer: which URL was tried, without
    its path and query (they may carry search terms)."""
    from urllib.parse import urlsplit

    url = getattr(exc.request, "url", None) if exc.request is not None else None
    if not url:
        return ""
    parts = urlsplit(str(url))
    host = parts.netloc.rpartition("@")[2]  # never user:password@
    return f" from {parts.scheme}://{host}" if host else ""


class GitLabTracker:
    kind = "gitlab"

    def __init__(self, url: str, token: str, project: str, *, timeout: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep, creates_per_minute: int = 200,
                 notes_per_minute: int = 60, writes_per_minute: int = 0) -> None:
        # lazy: no request until the first real call (economy)
        self._project, self._counter = connect(url, token, project, timeout)
        self._sleep = sleep
        self.create_pace = Pace(creates_per_minute, sleep)
        self.note_pace = Pace(notes_per_minute, sleep)
        self.write_pace = Pace(writes_per_minute, sleep)  # each write starts a pipeline
        self.location = f"{url} project {project}"

    @property
    def requests(self) -> int:
        return self._counter.sent

    @_translate("list or create labels")
    def prepare(self, labels: Sequence[LabelSpec], count_label: str) -> int:
        existing = {lb.name: lb for lb in self._project.labels.list(
            get_all=True, with_counts=True, per_page=PER_PAGE)}
        for spec in labels:
            if spec.name not in existing:
                self._project.labels.create({"name": spec.name, "color": spec.color,
                                             "description": spec.description})
        found = existing.get(count_label)
        if found is None:
            return 0
        attrs = found.attributes
        return int(attrs.get("open_issues_count") or 0) + int(attrs.get("closed_issues_count")
                                                            or 0)

    @_translate("look up staged matches")
    def find_by_keys(self, keys: Sequence[str], *, label: str,
                     expected: int) -> dict[str, IssueRef]:
        """Search one key at a time, or list every staged issue, whichever costs fewer
        requests: len(keys) searches against ceil(expected / 100) pages."""
        wanted = set(keys)
        if not wanted or expected <= 0:
            return {}
        found: dict[str, IssueRef] = {}
        if len(wanted) < math.ceil(expected / PER_PAGE):
            for key in sorted(wanted):
                if key not in found:
                    for ref in self._search(key):
                        found.update({k: ref for k in ref.keys if k in wanted})
            return found
        pages = self._project.issues.list(labels=[label], state="all", per_page=PER_PAGE,
                                          iterator=True)
        for issue in pages:
            ref = self._ref(issue)
            found.update({k: ref for k in ref.keys if k in wanted})
        return found

    def _search(self, key: str) -> list[IssueRef]:
        query: dict[str, Any] = {"search": key, "in": "description", "state": "all",
                                 "per_page": PER_PAGE, "get_all": False}
        issues = self._project.issues.list(iterator=False, **query)
        # Only the marker line counts: untrusted text elsewhere could quote a key.
        return [ref for ref in map(self._ref, issues) if key in ref.keys]

    def create_issue(self, draft: IssueDraft) -> IssueRef:
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                return self._create(draft)
            except TrackerError as exc:
                if not exc.transient:
                    raise
                # The create may have happened before the connection broke: give GitLab
                # a moment to finish it, then look before creating again.
                self._sleep(RETRY_PAUSE_SECONDS)
                found = self._translated_search(draft.keys[0])
                if found:
                    return found[0]
                if attempt == CREATE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    @_translate("look up a staged match")
    def _translated_search(self, key: str) -> list[IssueRef]:
        return self._search(key)

    @_translate("create an issue")
    def _create(self, draft: IssueDraft) -> IssueRef:
        self.create_pace()
        self.write_pace()
        data: dict[str, Any] = {"title": draft.title, "description": draft.description,
                                "labels": ",".join(draft.labels)}
        if draft.assignee_ids:
            data["assignee_ids"] = list(draft.assignee_ids)
        issue = self._project.issues.create(data)
        return self._ref(issue)

    @_translate("upload an attachment")
    def upload(self, path: Path) -> Upload:
        result = self._project.upload(path.name, filepath=str(path))
        return Upload(name=path.name, url=str(result["url"]))

    @_translate("list issues")
    def list_issues(self, labels: Sequence[str], *, state: str = "all",
                    created_before: datetime | None = None) -> list[IssueRef]:
        query: dict[str, Any] = {"labels": list(labels), "state": state,
                                 "per_page": PER_PAGE, "order_by": "created_at", "sort": "asc"}
        if created_before is not None:
            query["created_before"] = created_before.astimezone(UTC).isoformat()
        pages: Iterable[ProjectIssue] = self._project.issues.list(iterator=True, **query)
        return [self._ref(issue) for issue in pages]

    def update_labels(self, iid: int, *, add: Sequence[str] = (),
                      remove: Sequence[str] = ()) -> IssueRef:
        return self.update_issue(iid, add=add, remove=remove)

    @_translate("read an issue")
    def get_issue(self, iid: int) -> IssueRef | None:
        try:
            return self._ref(self._project.issues.get(iid))
        except gitlab.exceptions.GitlabGetError as exc:
            if exc.response_code == 404:
                return None
            raise

    @_translate("update an issue")
    def update_issue(self, iid: int, *, add: Sequence[str] = (), remove: Sequence[str] = (),
                     description: str | None = None,
                     state_event: str | None = None) -> IssueRef:
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
        return self._ref_from(self._project.issues.update(iid, data,
                                                          retry_transient_errors=True))

    @_translate("read label events")
    def label_events(self, iid: int) -> list[LabelEvent]:
        issue = self._project.issues.get(iid, lazy=True)
        events = issue.resourcelabelevents.list(iterator=True, per_page=PER_PAGE)
        out = []
        for event in events:
            attrs = event.attributes
            label = attrs.get("label") or {}
            user = attrs.get("user") or {}
            out.append(LabelEvent(user=str(user.get("username", "")),
                                  user_id=int(user.get("id") or 0),
                                  label=str(label.get("name", "")),
                                  action=str(attrs.get("action", "")),
                                  created_at=str(attrs.get("created_at", ""))))
        return sorted(out, key=lambda e: e.created_at)

    @_translate("list changed issues")
    def changed_issues(self, labels: Sequence[str], since: datetime) -> list[IssueRef]:
        pages: Iterable[ProjectIssue] = self._project.issues.list(
            iterator=True, labels=list(labels), state="all", per_page=PER_PAGE,
            updated_after=since.astimezone(UTC).isoformat(), order_by="updated_at",
            sort="asc")
        return [self._ref(issue) for issue in pages]

    @_translate("read the project's webhooks")
    def webhook_problems(self) -> list[str]:
        # Hooks are auto-disabled after repeated failures (platform-facts.md, MR 166329).
        problems = []
        try:
            hooks = self._project.hooks.list(get_all=True)
        except gitlab.exceptions.GitlabListError as exc:
            if exc.response_code in (401, 403):  # reading hooks needs the Maintainer role
                return []
            raise
        for hook in hooks:
            attrs = hook.attributes
            url = str(attrs.get("url", ""))
            if "/trigger/pipeline" not in url or not attrs.get("issues_events"):
                continue
            status = str(attrs.get("alert_status") or "executable")
            where = url.split("?", 1)[0]  # the query holds the trigger token
            if status != "executable":
                until = attrs.get("disabled_until")
                problems.append(f"the issue webhook to {where} is {status.replace('_', ' ')}"
                                + (f" until {until}" if until else "")
                                + ": review events are not reaching the pipeline")
        return problems

    def add_note(self, iid: int, body: str) -> None:
        """Write once: after a failure that may have written it, look before writing again
        (a note is the audit trail: neither lost nor doubled)."""
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
        latest = issue.notes.list(sort="desc", order_by="created_at", per_page=20,
                                  get_all=False, iterator=False)
        return any(str(n.attributes.get("body", "")).strip() == body.strip() for n in latest)

    @classmethod
    def _ref(cls, issue: Any) -> IssueRef:
        return cls._ref_from(issue.attributes)

    @staticmethod
    def _ref_from(attrs: dict[str, Any]) -> IssueRef:
        return IssueRef(iid=int(attrs["iid"]), title=str(attrs["title"]),
                        web_url=str(attrs.get("web_url", "")),
                        labels=tuple(attrs.get("labels") or ()),
                        state=str(attrs.get("state", "opened")),
                        keys=parse_marker(attrs.get("description")),
                        description=str(attrs.get("description") or ""),
                        updated_at=str(attrs.get("updated_at") or ""),
                        created_at=str(attrs.get("created_at") or ""))

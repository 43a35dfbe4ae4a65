"""The GitLab connection the GitLab adapters share (trackers/gitlab.py, trackers/
gitlab_project.py): one counting session, the paces, and python-gitlab's and requests'
errors translated into the tool's (TrackerError; a 401 is TokenError, in one line).
"""

from __future__ import annotations

import functools
import json
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from typing import Any, ParamSpec, TypeVar, cast
from urllib.parse import urlsplit

import gitlab
import requests
from gitlab.base import RESTManager, RESTObject
from gitlab.utils import EncodedId
from gitlab.v4.objects import (
    ProjectBoardManager,
    ProjectHookManager,
    ProjectIssueManager,
    ProjectLabelManager,
    ProjectPipelineScheduleManager,
    ProjectTriggerManager,
)
from requests.adapters import HTTPAdapter

from match_staging import clock as clocks
from match_staging import render
from match_staging.errors import TokenError, TrackerError

PER_PAGE = 100  # GitLab's maximum page size

P = ParamSpec("P")
R = TypeVar("R")
# a string: RESTManager takes a type argument only from python-gitlab 6 on (we allow 4.4)
M = TypeVar("M", bound="RESTManager[Any]")


class Pace:
    """At most `per_minute` calls in any 60 seconds: waits instead of running into GitLab's
    per-action limits (issue creation 200/min, notes 60/min on GitLab.com), which a 429
    would enforce anyway, later and with a retry (docs/platform-facts.md, "Rate limits").
    """

    def __init__(
        self,
        per_minute: int,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.per_minute = per_minute
        self._sleep = sleep or clocks.system_sleep
        self._clock = clock or clocks.monotonic  # seconds
        self._recent: deque[float] = deque()
        self._slept_until = float("-inf")

    def __call__(self) -> None:
        """Wait, if need be, so this call stays within the limit."""
        if self.per_minute <= 0:
            return
        # A clock that does not move while a (test's) sleep returns at once still moves by
        # what was slept, so a window is never waited out twice; a real clock is ahead of that.
        now = max(self._clock(), self._slept_until)
        while self._recent and now - self._recent[0] >= 60:
            self._recent.popleft()
        if len(self._recent) >= self.per_minute:
            wait = 60 - (now - self._recent[0])
            self._sleep(wait)
            self._recent.popleft()
            now = self._slept_until = max(self._clock(), now + wait)
        self._recent.append(now)


class _CountingAdapter(HTTPAdapter):
    """Counts every request that leaves, including retries and ones that never got an answer."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        self.sent += 1
        return super().send(request, *args, **kwargs)


class ProjectApi:
    """The project's endpoints the tool uses: python-gitlab's managers, each made when first
    used, and the client for the rest (raw JSON reads, uploads).

    `gl.projects.get(ref, lazy=True)` would make a Project, and a Project makes all of its
    121 managers at once: 0.5 ms of CPU on every run, for the six the tool uses. A manager
    needs only its parent's `id` to compute its path (gitlab/base.py,
    RESTManager._compute_path: `_from_parent_attrs = {"project_id": "id"}`).
    """

    def __init__(self, client: gitlab.Gitlab, ref: str) -> None:
        self.client = client
        self.id = ref  # as configured: a number or a path (group/name)
        self.encoded_id = EncodedId(ref)  # as it goes into a URL: group%2Fname

    def path(self, suffix: str = "") -> str:
        """`/projects/:id{suffix}`, the project's path encoded once (a path encoded twice,
        `group%252Fname`, GitLab answers with 404: docs/platform-facts.md, "Project ids in
        paths").
        """
        return f"/projects/{self.encoded_id}{suffix}"

    def get(self, path: str = "") -> dict[str, Any]:
        """GET `/projects/:id{path}` as GitLab's JSON object."""
        found = self.client.http_get(self.path(path))
        if not isinstance(found, dict):
            raise gitlab.exceptions.GitlabParsingError(
                error_message=f"GET {path or 'the project'} is not an object"
            )
        return found

    def pages(self, path: str, query: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """GET `/projects/:id{path}`, every page, as GitLab's JSON objects: python-gitlab's
        own pagination (`http_list`, the `next` links), without a RESTObject per item. One
        builds about 20 sub-managers, and `attributes` deep-copies it on every read: 70 and
        22 us an issue, and the tool reads a thousand issues a run in a large project.
        """
        found = self.client.http_list(self.path(path), query_data=dict(query), iterator=True)
        for item in found:
            if not isinstance(item, dict):  # what a RESTObject refused: an error, not nothing
                raise gitlab.exceptions.GitlabParsingError(
                    error_message=f"an item of GET {path} is not an object"
                )
            yield item

    def _manager(self, cls: type[M]) -> M:
        return cls(self.client, parent=cast(RESTObject, self))  # a parent by its id alone

    @functools.cached_property
    def issues(self) -> ProjectIssueManager:
        """`/projects/:id/issues`."""
        return self._manager(ProjectIssueManager)

    @functools.cached_property
    def labels(self) -> ProjectLabelManager:
        """`/projects/:id/labels`."""
        return self._manager(ProjectLabelManager)

    @functools.cached_property
    def boards(self) -> ProjectBoardManager:
        """`/projects/:id/boards`."""
        return self._manager(ProjectBoardManager)

    @functools.cached_property
    def hooks(self) -> ProjectHookManager:
        """`/projects/:id/hooks`."""
        return self._manager(ProjectHookManager)

    @functools.cached_property
    def triggers(self) -> ProjectTriggerManager:
        """`/projects/:id/triggers`."""
        return self._manager(ProjectTriggerManager)

    @functools.cached_property
    def pipelineschedules(self) -> ProjectPipelineScheduleManager:
        """`/projects/:id/pipeline_schedules`."""
        return self._manager(ProjectPipelineScheduleManager)


def connect(
    url: str, token: str, project: str, timeout: float
) -> tuple[ProjectApi, _CountingAdapter]:
    """The project's endpoints (no request yet) and the counter of every request."""
    client = gitlab.Gitlab(
        url,
        private_token=token,
        timeout=timeout,
        retry_transient_errors=False,
        user_agent="match-staging (+python-gitlab)",
    )
    counter = _CountingAdapter()
    client.session.mount("http://", counter)
    client.session.mount("https://", counter)
    return ProjectApi(client, project), counter


def _translate(what: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Turn python-gitlab and requests exceptions into TrackerError, once, at the boundary."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except gitlab.exceptions.GitlabError as exc:
                code = exc.response_code
                if code == 401:  # python-gitlab: GitlabAuthenticationError
                    known = getattr(args[0], "token_expires", None) if args else None
                    raise token_refused(exc.response_body, known) from None
                message = " ".join(str(exc.error_message).split())[:300]
                if code and not message.startswith(str(code)):
                    message = f"{code} {message}"  # GitLab's own messages often start with it
                raise TrackerError(
                    f"GitLab could not {what}: {message}",
                    status=code,
                    transient=code is None or code >= 500,
                ) from None
            except requests.RequestException as exc:
                raise TrackerError(
                    f"GitLab could not {what}: no answer{_from(exc)} ({type(exc).__name__})",
                    transient=True,
                ) from None

        return inner

    return wrap


# How to replace the bot's token: one sentence, on every command (README "Running unattended").
REPLACE_HOW = (
    "replace it: as the token's user (the bot), User settings > Access tokens > add a new "
    "token with the api scope (or rotate this one), then put it into the project's "
    'Settings > CI/CD > Variables > GITLAB_TOKEN (masked); README, "Running unattended"'
)


def token_refused(body: Any, expires: date | None = None) -> TokenError:
    """The one line for a 401. GitLab answers an expired, revoked or unknown token on every
    request with 401: `{"error": "invalid_token", "error_description": ...}` for an expired or
    revoked one (lib/api/api_guard.rb, oauth2_bearer_token_error_handler, raised from
    lib/gitlab/auth/auth_finders.rb validate_and_save_access_token!), `{"message": "401
    Unauthorized"}` for an unknown one. The token itself is never part of the line.
    """
    data: Any = None
    try:
        data = json.loads(body) if isinstance(body, bytes | str) and body else None
    except ValueError:
        data = None
    data = data if isinstance(data, dict) else {}
    said = " ".join(
        str(data.get(k)) for k in ("error", "error_description", "message") if data.get(k)
    )
    said = render.one_line(said, 160) or "401 Unauthorized"
    lowered = said.lower()
    if "expired" in lowered:
        what = "has expired" + (f" (on {expires.isoformat()})" if expires else "")
    elif "revoked" in lowered:
        what = "was revoked"
    else:
        what = "is not valid (expired, revoked or unknown)"
    return TokenError(
        f"GitLab refused GITLAB_TOKEN: the token {what} (GitLab: {said}); {REPLACE_HOW}"
    )


def _date(value: Any) -> date | None:
    """`2027-01-31` (GitLab's date fields) as a date; None when it is none."""
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _from(exc: requests.RequestException) -> str:
    """The suffix ` from https://host` for a request that got no answer.

    It names which URL was tried, without its path and query (they may carry search terms).
    """
    url = getattr(exc.request, "url", None) if exc.request is not None else None
    if not url:
        return ""
    parts = urlsplit(str(url))
    host = parts.netloc.rpartition("@")[2]  # never user:password@
    return f" from {parts.scheme}://{host}" if host else ""

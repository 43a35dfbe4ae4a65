"""What every part of the GitLab tracker shares (trackers/gitlab.py and the parts it is
made of: gitlab_lookup, gitlab_runlog, gitlab_health): the connection, the bot and its
issues, an issue's system notes, and GitLab's answers as the tool's typed values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from match_staging import record
from match_staging.errors import TrackerError
from match_staging.model import IssueRef, Note
from match_staging.trackers.gitlab_http import PER_PAGE, ProjectApi, _CountingAdapter, _translate


class GitLabBase:
    """The connection and the reads every part of GitLabTracker shares; GitLabTracker
    sets the attributes up.
    """

    _project: ProjectApi
    _counter: _CountingAdapter
    _clock: Callable[[], datetime]
    _sleep: Callable[[float], None]
    _bot_user: tuple[int, str] | None

    def _pages(self, path: str, query: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """GET `/projects/:id{path}`, every page, as GitLab's JSON objects."""
        return self._project.pages(path, query)

    @_translate("read the token's user")
    def _bot_identity(self) -> tuple[int, str]:
        """(id, username) of the token's user, the bot: `GET /user`, once per run."""
        if self._bot_user is None:
            user = self._project.client.http_get("/user")
            if not isinstance(user, dict):
                raise TrackerError("GitLab could not read the token's user: no user in the answer")
            self._bot_user = (int(user["id"]), str(user.get("username", "")))
        return self._bot_user

    def _bot_issues(
        self,
        bot_id: int,
        *,
        confidential: bool | None = None,
        newest_first: bool = False,
        created_after: datetime | None = None,
    ) -> Iterable[dict[str, Any]]:
        """The bot's issues in any state, oldest first (or newest), 100 a page. `author_id`
        is an IssuesFinder filter like any other (lib/api/issues.rb `issues_params`;
        app/finders/issuable_finder.rb `by_author`), as are `confidential`
        (IssuesFinder#by_confidential) and `created_after` (by_created_at).
        """
        query: dict[str, Any] = {
            "author_id": bot_id,
            "state": "all",
            "order_by": "created_at",
            "sort": "desc" if newest_first else "asc",
            "per_page": PER_PAGE,
        }
        if confidential is not None:
            query["confidential"] = confidential
        if created_after is not None:
            query["created_after"] = created_after.isoformat()
        return self._pages("/issues", query)

    def _system_notes(self, iid: int) -> list[Note]:
        """The issue's system notes ("changed the description" among them), oldest first:
        `activity_filter=only_activity` leaves members' comments out (lib/api/notes.rb,
        UserPreference::NOTES_FILTERS), so a flood of comments does not make this dearer.
        """
        found = self._pages(
            f"/issues/{iid}/notes",
            {
                "per_page": PER_PAGE,
                "sort": "asc",
                "order_by": "created_at",
                "activity_filter": "only_activity",
            },
        )
        return [self._note_of(n) for n in found if n.get("system")]

    @staticmethod
    def _note_of(attrs: dict[str, Any]) -> Note:
        author = attrs.get("author") or {}
        return Note(
            id=int(attrs.get("id") or 0),
            author=str(author.get("username", "")),
            body=str(attrs.get("body") or ""),
            system=bool(attrs.get("system")),
            created_at=str(attrs.get("created_at", "")),
        )

    @classmethod
    def _ref(cls, issue: Any) -> IssueRef:
        return cls._ref_from(fields(issue))

    @staticmethod
    def _ref_from(attrs: dict[str, Any]) -> IssueRef:
        return IssueRef(
            iid=int(attrs["iid"]),
            title=str(attrs["title"]),
            web_url=str(attrs.get("web_url", "")),
            labels=tuple(attrs.get("labels") or ()),
            state=str(attrs.get("state", "opened")),
            keys=record.description_keys(attrs.get("description")),
            description=str(attrs.get("description") or ""),
            updated_at=str(attrs.get("updated_at") or ""),
            created_at=str(attrs.get("created_at") or ""),
            author=str((attrs.get("author") or {}).get("username") or ""),
            notes_count=attrs.get("user_notes_count")
            if isinstance(attrs.get("user_notes_count"), int)
            else None,
            closed_by=str((attrs.get("closed_by") or {}).get("username") or ""),
        )


def fields(item: Any) -> dict[str, Any]:
    """An item's fields: a listing's JSON object as it is, a python-gitlab object's copy."""
    return item if isinstance(item, dict) else dict(item.attributes)

"""The run log's requests on GitLab (trackers/gitlab.py mixes them into GitLabTracker;
trackers/ledger.py holds the format; docs/design.md "Records"): found by its author and
first line, trusted only while nobody else changed it, created on the first write.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import gitlab

from match_staging.errors import RunLogLost, TrackerError
from match_staging.model import IssueRef, StateEvent
from match_staging.trackers import ledger
from match_staging.trackers.base import LogRecord
from match_staging.trackers.gitlab_base import GitLabBase
from match_staging.trackers.gitlab_http import PER_PAGE, Pace, _translate
from match_staging.workflow import description_edit


class RunLog(GitLabBase):
    """The run-log requests of GitLabTracker, which supplies the writes (declared here for
    the type checker only).
    """

    _ledger_iid: int | None
    _ledger_looked: bool
    create_pace: Pace
    write_pace: Pace

    if TYPE_CHECKING:

        def _pause_before_retry(self) -> None: ...

        def add_note(self, iid: int, body: str) -> None:
            """GitLabTracker's: written once, looked for after a lost answer."""

        def update_issue(
            self,
            iid: int,
            *,
            add: Sequence[str] = (),
            remove: Sequence[str] = (),
            description: str | None = None,
            state_event: StateEvent | None = None,
        ) -> IssueRef:
            """GitLabTracker's."""

    def append_log(self, kind: str, data: dict[str, Any]) -> None:
        """One note by the bot on the run-log issue, which the first record creates (never a
        second one while the first is missing or untrusted: RunLogLost).
        """
        body = ledger.note_body(kind, data, self._clock())  # checks kind and data first
        iid = self._find_ledger()
        if iid is None:
            iid = self._create_ledger()
        self.add_note(iid, body)  # looks before writing again after a lost answer

    def read_log(self, kind: str, *, since: datetime, limit: int = 100) -> list[LogRecord]:
        """The records of `kind` written after `since`, newest first, at most `limit`: a window
        in which none is a normal answer (the reminders of the last day). Costs the bot and
        run-log lookups (once per run) and the pages of notes newer than `since`.
        """
        return self._records(kind, since, limit)

    def check_log(self) -> None:
        """The run-log lookup (`_find_ledger`, cached for the run's reads and writes)."""
        self._find_ledger()

    def latest_log(self, kind: str) -> LogRecord | None:
        """The newest record of `kind`; None only when no run log was ever started or it
        holds no such record: the notes are read, newest first, until the record or the
        end, so a flood of members' comments costs pages, never the record (issue 20).
        A run log that is missing or untrusted raises RunLogLost.
        """
        found = self._records(kind, None, 1)
        return found[0] if found else None

    @_translate("read the run log")
    def _records(self, kind: str, since: datetime | None, limit: int) -> list[LogRecord]:
        """Only comments by the bot count, so a copy of a record posted by anyone else
        changes nothing; system notes are left out by GitLab (`activity_filter`,
        lib/api/notes.rb) and skipped here too.
        """
        ledger.check_kind(kind)
        iid = self._find_ledger()
        if iid is None or limit <= 0:
            return []
        bot_id, _ = self._bot_identity()
        notes = self._pages(
            f"/issues/{iid}/notes",
            {
                "sort": "desc",
                "order_by": "created_at",
                "activity_filter": "only_comments",
                "per_page": PER_PAGE,
            },
        )
        found: list[LogRecord] = []
        for attrs in notes:
            when = ledger.parse_time(attrs.get("created_at"), self._clock())
            if since is not None and when < since:
                break
            author = attrs.get("author") or {}
            if attrs.get("system") or int(author.get("id") or 0) != bot_id:
                continue
            logged = ledger.parse_note(str(attrs.get("body") or ""), when)
            if logged is not None and logged.kind == kind:
                found.append(logged)
                if len(found) >= limit:
                    break
        found.sort(key=lambda r: r.created_at, reverse=True)
        return found[:limit]

    @_translate("look up the run-log issue")
    def _find_ledger(self, *, again: bool = False) -> int | None:
        """The oldest issue the bot created whose description starts with the run log's
        first line, whatever its label, title, state or confidentiality (any Reporter can
        change those): one page of the bot's confidential issues; only when it is not among
        them, every issue of the bot. Found but moved, or with a description someone else
        edited: RunLogLost. Not found while there are signs that it was lost
        (`_never_written`): RunLogLost too, never a new log that would start the delivery
        queue afresh and drop what it owes. Otherwise no run log was ever written (a first
        run, or one whose first record failed).
        """
        if self._ledger_looked and not again:
            return self._ledger_iid
        bot_id, bot = self._bot_identity()
        found = next(
            (i for i in self._bot_issues(bot_id, confidential=True) if self._is_ledger(i)), None
        )
        touched: list[IssueRef] = []  # issues of the bot changed since their creation
        if found is None:
            for issue in self._bot_issues(bot_id):
                if self._is_ledger(issue):
                    found = issue
                    break
                ref = self._ref(issue)
                if ref.updated_at != ref.created_at:
                    touched.append(ref)
        if found is None:
            self._never_written(bot, touched)
            self._ledger_looked = True  # none yet: the first record creates it
            return None
        self._check_ledger(found, bot)
        self._ledger_iid = int(found["iid"])
        self._ledger_looked = True
        return self._ledger_iid

    def _never_written(self, bot: str, touched: Sequence[IssueRef]) -> None:
        """No run log found: a first run (or one whose first record failed), unless its
        label remains (made with it, left behind by a deletion) or an issue of the bot
        carries a description someone else wrote (the run log, rewritten to look like
        something else, could be among them): then RunLogLost. One request for the label,
        one per issue of the bot changed since its creation: only on this path.
        """
        if self._label_exists(ledger.LABEL):
            raise RunLogLost(
                f"the run log is missing: no issue of match-staging starts with its first "
                f"line, but its label {ledger.LABEL} remains (was the issue deleted?)"
            )
        for ref in touched:
            why = description_edit(ref, self._system_notes(ref.iid), bot)
            if why:
                raise RunLogLost(f"the run log is missing, and {why}: it may have been the log")

    def _label_exists(self, name: str) -> bool:
        """GET /projects/:id/labels/:name: 404 when there is none (lib/api/labels.rb)."""
        try:
            self._project.labels.get(name)
        except gitlab.exceptions.GitlabGetError as exc:
            if exc.response_code == 404:
                return False
            raise
        return True

    @staticmethod
    def _is_ledger(issue: dict[str, Any]) -> bool:
        return ledger.is_run_log(issue.get("description"))

    def _check_ledger(self, attrs: dict[str, Any], bot: str) -> None:
        """A moved run log is closed here and copied elsewhere (Issues::MoveService,
        `mark_as_moved`; Issuable::Clone::BaseService closes the original); an edited one
        may say anything: neither is the log the bot kept.
        """
        iid = int(attrs["iid"])
        if attrs.get("moved_to_id"):
            raise RunLogLost(f"the run log (issue #{iid}) was moved to another project")
        why = description_edit(self._ref_from(attrs), self._system_notes(iid), bot)
        if why:
            raise RunLogLost(f"the run log (issue #{iid}) is not the bot's any more: {why}")

    def _create_ledger(self) -> int:
        """Created on the first write, once per project. Creating it fires one issue event
        to the `confidential_issues_events` hooks (gitlabhq app/services/issues/
        base_service.rb, execute_hooks), which bootstrap's webhook subscribes (a confidential
        approval must reach the gate): one pipeline, ended by the prefilter (not a job
        match). Its notes fire `confidential_note_events` (app/services/notes/
        post_process_service.rb, execute_note_hooks), which stays off: records start none.
        """
        try:
            return self._post_ledger()
        except TrackerError as exc:
            if not exc.transient:
                raise
            # The create may have happened before the connection broke: look first.
            self._pause_before_retry()
            found = self._find_ledger(again=True)
            return found if found is not None else self._post_ledger()

    @_translate("create the run-log issue")
    def _post_ledger(self) -> int:
        self.create_pace()
        self.write_pace()
        issue = self._project.issues.create(
            {
                "title": ledger.TITLE,
                "description": ledger.DESCRIPTION,
                "labels": ledger.LABEL,
                "confidential": True,
            }
        )
        self._ledger_iid = int(issue.attributes["iid"])
        self._ledger_looked = True
        return self._ledger_iid

    @_translate("start a new run log")
    def restart_log(self) -> tuple[int, list[int]] | None:
        """The way out of RunLogLost, on the operator's word (`digest --new-run-log`): every
        run log of the bot is retired (its description rewritten by the bot, so its first
        line is no longer the run log's), then a new one is started. Returns the new iid
        and the retired ones; None, changing nothing, when the run log is sound or was
        never started (a sound log is never replaced by mistake).
        """
        try:
            self._find_ledger(again=True)
            return None
        except RunLogLost:
            pass
        bot_id, _ = self._bot_identity()
        retired = [
            int(issue["iid"]) for issue in self._bot_issues(bot_id) if self._is_ledger(issue)
        ]
        when = self._clock().astimezone(UTC).isoformat(timespec="seconds")
        for iid in retired:
            self.update_issue(iid, description=ledger.RETIRED.format(when=when))
        return self._post_ledger(), retired

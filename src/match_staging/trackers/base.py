"""The narrow interface every tracker implements. Use cases see only this."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from match_staging.model import IssueDraft, IssueRef, LabelEvent, LabelSpec, Note, StateEvent


@dataclass(frozen=True)
class Upload:
    """A file made available to issues: its name and the URL an issue links."""

    name: str
    url: str


@dataclass(frozen=True)
class LogRecord:
    """One record of the run log: what a run wants the next runs to know (a check's
    watermark, which reminders went out), as opposed to what belongs to one issue.
    """

    kind: str
    data: dict[str, Any]
    created_at: datetime  # when the tracker stored it (GitLab's clock on GitLab), aware UTC


@dataclass(frozen=True)
class TokenInfo:
    """The token's expiry as GitLab tells it (`GET /personal_access_tokens/self`)."""

    expires_at: date | None  # None: the token never expires, or GitLab did not say
    known: bool = True  # False: GitLab would not say (older GitLab, not a personal token)
    answer: str = ""  # when not known: what GitLab answered, for the one line that says so


@dataclass(frozen=True)
class WebhookState:
    """A webhook to this project's pipeline trigger that GitLab switched off after failed
    deliveries (`alert_status`: temporarily_disabled, disabled).
    """

    url: str  # without its query: that holds the trigger token
    alert_status: str
    disabled_until: str | None = None


TrackerKind = Literal["gitlab", "local"]


class Tracker(Protocol):
    """Where staged matches live."""

    location: str  # where it writes, for the first line a user sees

    @property
    def kind(self) -> TrackerKind:
        """Which tracker, for the summary line."""

    @property
    def sends(self) -> bool:
        """True when what the tool records and sends leaves the machine (GitLab); False on
        the local tracker, where channels and the mailer write to outbox/ instead.
        """

    @property
    def requests(self) -> int:
        """Requests made so far (GitLab's rate-limit budget); 0 for the local file."""

    def prepare(self, labels: Sequence[LabelSpec], count_label: str) -> int:
        """Create missing labels; return how many issues carry `count_label`."""

    def find_by_keys(
        self, keys: Sequence[str], *, label: str, expected: int, editors: Collection[str] = ()
    ) -> dict[str, IssueRef]:
        """Staged issues holding any of `keys`, by key, in any state. `expected` is how
        many issues carry `label`, so the tracker can pick its cheapest way to look. An issue
        whose description somebody edited counts only when each editor is the bot or among
        `editors` (the reviewers: a freelancer who polishes a draft on the board must not
        get the match staged a second time when the matcher finds it again).
        """

    def create_issue(self, draft: IssueDraft) -> IssueRef:
        """Create once: if the create fails in a way that may have succeeded, look again."""

    def upload(self, path: Path) -> Upload:
        """Make a repository file available to issues (the caller uploads it once)."""

    def list_issues(
        self, labels: Sequence[str], *, state: str = "all", created_before: datetime | None = None
    ) -> list[IssueRef]:
        """Every issue carrying all `labels`, in `state` (all, opened, closed)."""

    def issues_by_iids(self, iids: Sequence[int]) -> list[IssueRef]:
        """The issues numbered `iids` that exist, in any state, whatever their labels."""

    def staged_after(self, iid: int) -> list[IssueRef]:
        """Every issue the tool created (matches, not its run log) numbered above `iid`, in
        any state, whatever its labels: what a delivery queue up to `iid` cannot know of.
        """

    def get_issue(self, iid: int) -> IssueRef | None:
        """One issue with its description; None when there is no such issue."""

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

    def label_events(self, iid: int) -> list[LabelEvent]:
        """Who added and removed which label, oldest first."""

    def label_ids(self) -> dict[str, int] | None:
        """Every project label's id by its current name (GitLab: one listing, read once per
        run); None where labels have no ids and cannot be renamed (the local tracker).
        """

    def changed_issues(
        self, labels: Sequence[str], since: datetime, *, staged_only: bool = False
    ) -> list[IssueRef]:
        """Issues carrying all `labels` updated after `since`, any state; `staged_only`:
        only issues the tool created, whatever their labels.
        """

    def webhook_problems(self) -> list[str]:
        """Why a trigger webhook of the project would not deliver (disabled, failing)."""

    def disabled_webhooks(self) -> list[WebhookState] | None:
        """This project's trigger webhooks GitLab switched off; None when the token may not
        see webhooks (a Developer). Read once per run, with `webhook_problems`.
        """

    def token_info(self) -> TokenInfo | None:
        """When the token expires; None where there is no token (the local tracker)."""

    def variables_role(self) -> str | None:
        """The project's `ci_pipeline_variables_minimum_override_role` (who may set pipeline
        variables); None where it cannot be read or there are no pipelines (local).
        """

    def add_note(self, iid: int, body: str) -> None:
        """Append a note (the audit trail). `body` must already be safe GitLab Markdown."""

    def append_log(self, kind: str, data: dict[str, Any]) -> None:
        """Add one record to the run log. `kind` is a short name such as "whatsapp-status"
        (lower case, digits and '-'); `data` must be JSON-serialisable.
        """

    def read_log(self, kind: str, *, since: datetime, limit: int = 100) -> list[LogRecord]:
        """The records of `kind` written after `since`, newest first, at most `limit`: a
        window, in which finding none is a normal answer (no reminder in the last day).
        Only records the tool itself wrote count (on GitLab: notes by the bot user on the
        bot's own run-log issue); anything else that looks like one is ignored.
        """

    def check_log(self) -> None:
        """Find the run log (once per run) and raise RunLogLost when it exists, or existed,
        but cannot be trusted; nothing when it is sound or was never started.
        """

    def latest_log(self, kind: str) -> LogRecord | None:
        """The newest record of `kind`, however old; None only when none was ever written
        (the delivery queue: "no queue yet"). A run log that exists, or existed, but cannot
        be read or trusted raises TrackerError (RunLogLost), never None.
        """

    def bot_user(self) -> str:
        """The username the tool writes as (GitLab: the token's user, `GET /user`, read once
        per run): only its notes and its descriptions are the tool's records.
        """

    def notes(self, iid: int) -> list[Note]:
        """Every note of an issue with its author, system notes included, oldest first."""

"""One error hierarchy. Adapters translate library exceptions into these once, at the
boundary; the CLI maps each to a one-line message and an exit code (docs/interface.md).
"""

from __future__ import annotations


class StagingError(Exception):
    """Root of every error match-staging raises on purpose."""

    exit_code = 1


class ConfigError(StagingError):
    """Configuration or usage is wrong: nothing was changed (exit 2)."""

    exit_code = 2


class InputError(StagingError):
    """A match document, or one match in it, is unusable. Names file, match and field."""

    def __init__(
        self,
        source: str,
        message: str,
        *,
        match: str | None = None,
        field: str | None = None,
        position: int = 0,
    ) -> None:
        self.source = source
        self.match = match
        self.position = position  # the match's place in its document; 0: the whole document
        self.field = field
        self.detail = message
        where = source
        if match is not None:
            where += f": {match}"
        if field is not None:
            where += f": field '{field}'"
        super().__init__(f"{where}: {message}")


class TrackerError(StagingError):
    """The tracker (GitLab or the local file) could not be read or written."""

    def __init__(self, message: str, *, status: int | None = None, transient: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient


class TokenError(StagingError):
    """GitLab refused the token itself (401: expired, revoked or unknown). Not a TrackerError:
    no step can succeed without a token, so no use case catches it and carries on; every
    command stops with this one line (exit 1, like any GitLab failure: docs/interface.md).
    """


class RunLogLost(TrackerError):
    """The run log exists (or existed) but cannot be trusted: moved, edited by someone else,
    or gone while the bot's staged issues remain. What each channel owes is unknown, so
    nothing is sent and no new log is started on its own (`digest --new-run-log` does).
    """

    RECOVER = (
        "nothing was sent; check what happened, then start a new run log with "
        "`match-staging digest --new-run-log` (the matches staged so far then count as "
        "announced)"
    )

    def __init__(self, why: str) -> None:
        super().__init__(f"{why}: {self.RECOVER}")


class Refused(StagingError):
    """A request the issue's state does not allow, or for an issue that does not exist: it
    was refused before anything changed, so it is not a partial success (exit 2).
    """

    exit_code = 2

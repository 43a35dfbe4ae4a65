"""`rotate-token`: replace the bot's token with a new one and write it into the project's
CI/CD variable GITLAB_TOKEN, never showing either.

GitLab revokes the old token in the same moment it returns the new one
(`POST /personal_access_tokens/self/rotate`), so "update the variable first" is impossible
and a variable update that fails afterwards leaves the jobs with a dead token. So nothing is
rotated until everything the update needs is known to work: the token is a personal access
token, this token's user may read and write the project's variables (Maintainer: the same
permission covers both, lib/api/ci/variables.rb), the project has one GITLAB_TOKEN variable
and it holds this very token. The update is then retried while GitLab does not answer; if it
still fails, the line says exactly how to recover by hand (the new token is lost: it is
never printed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from match_staging.config import Config
from match_staging.environment import Environment
from match_staging.errors import ConfigError, Refused, StagingError, TokenError, TrackerError

VARIABLE = "GITLAB_TOKEN"
MAX_DAYS = 365  # GitLab's cap on a personal access token's lifetime
UPDATE_ATTEMPTS = 3
RECOVER = (
    "the old token is revoked and the new one is not shown: as the token's user, User "
    "settings > Access tokens: revoke the token rotated just now, add a new one with the api "
    "scope, and paste it into Settings > CI/CD > Variables > GITLAB_TOKEN"
)


class TokenAdmin(Protocol):
    """What rotating needs from GitLab (trackers.gitlab_project.GitLabProject)."""

    def token_self(self) -> dict[str, Any]:
        """GET /personal_access_tokens/self."""

    def variable(self, key: str) -> dict[str, Any] | None:
        """GET /projects/:id/variables/:key; None when there is none."""

    def rotate_token(self, expires_at: date) -> tuple[str, str]:
        """POST /personal_access_tokens/self/rotate: (new token, its expiry)."""

    def set_variable(self, key: str, value: str) -> None:
        """PUT /projects/:id/variables/:key."""


@dataclass
class RotateReport:
    """What was checked and done; `secrets` for the CLI's redaction (the new token)."""

    lines: list[str] = field(default_factory=list)
    ok: bool = True
    secrets: list[str] = field(default_factory=list)


def rotate(
    token: str,
    old: TokenAdmin,
    with_token: Callable[[str], TokenAdmin],
    *,
    today: date,
    days: int,
    dry_run: bool,
) -> RotateReport:
    """Check, rotate, write the variable with the new token (`with_token` makes the handle
    that uses it: the old one is revoked by then).
    """
    if not 1 <= days <= MAX_DAYS:
        raise ConfigError(f"--days: between 1 and {MAX_DAYS} (GitLab's cap), got {days}")
    report = RotateReport()
    _check(token, old)
    expires = today + timedelta(days=days)
    if dry_run:
        report.lines.append(
            f"dry run: would rotate the token (the old one is revoked at once) to expire on "
            f"{expires.isoformat()} and write the new one into {VARIABLE}; nothing was changed"
        )
        return report
    try:  # the same value written back: the write works, while the old token still does
        old.set_variable(VARIABLE, token)
    except TrackerError as exc:
        raise Refused(
            f"{VARIABLE} cannot be written ({exc}): nothing was rotated, the token still "
            'works; try again, or rotate by hand (README, "Running unattended")'
        ) from None
    new, new_expiry = old.rotate_token(expires)  # a failure here changed nothing
    report.secrets.append(new)
    admin = with_token(new)
    error: StagingError | None = None
    for _ in range(UPDATE_ATTEMPTS):
        try:
            admin.set_variable(VARIABLE, new)
            error = None
            break
        except (TrackerError, TokenError) as exc:  # never lose the way back in one line
            error = exc
            if not isinstance(exc, TrackerError) or not exc.transient:
                break
    if error is not None and not _written(admin, new):
        report.ok = False
        report.lines.append(
            f"failed    rotated, but {VARIABLE} could not be updated ({error}): {RECOVER}"
        )
        return report
    report.lines.append(
        f"rotated   {VARIABLE} now holds a new token that expires on "
        f"{new_expiry or expires.isoformat()}; the old one is revoked. Jobs use it from their "
        "next start; the token is not shown"
    )
    return report


def _check(token: str, admin: TokenAdmin) -> None:
    """Everything the variable update will need, before anything changes (Refused: exit 2)."""
    try:
        info = admin.token_self()
    except TrackerError as exc:
        if exc.status in (400, 404):
            raise Refused(
                f"GitLab does not show this token ({exc}): only a personal access token on "
                "GitLab 15.5 or later can be rotated here; replace it by hand (README, "
                '"Running unattended")'
            ) from None
        raise
    if info.get("active") is False or info.get("revoked"):
        raise Refused("this token is no longer active: replace it by hand")
    try:
        variable = admin.variable(VARIABLE)
    except TrackerError as exc:
        if exc.status in (401, 403):
            raise Refused(
                f"{exc}: writing CI/CD variables needs the Maintainer role, which this token's "
                'user lacks; nothing was rotated. Rotate by hand (README, "Running '
                'unattended"), or run this once with the bot given Maintainer'
            ) from None
        if exc.status == 409:
            raise Refused(
                f"{exc}: the project has several {VARIABLE} variables (environment scopes); "
                "nothing was rotated: rotate by hand"
            ) from None
        raise
    if variable is None:
        raise Refused(
            f"the project has no CI/CD variable {VARIABLE} (a group's or an instance's "
            "cannot be written here); nothing was rotated: rotate by hand"
        )
    value = variable.get("value")
    if value is None:  # a hidden variable (masked and hidden, GitLab 17.4): its value is not shown
        raise Refused(
            f"the project's {VARIABLE} is hidden, so this run cannot tell that it holds the "
            "token it would rotate (run with another token, the jobs would run as its user); "
            "nothing was rotated: rotate by hand"
        )
    if value != token:
        raise Refused(
            f"the project's {VARIABLE} holds another token than the one this run uses; "
            "nothing was rotated: run it with the jobs' token, or rotate by hand"
        )


def _written(admin: TokenAdmin, value: str) -> bool:
    """Whether an update whose answer got lost went through anyway."""
    try:
        variable = admin.variable(VARIABLE)
    except (TrackerError, TokenError):
        return False
    return variable is not None and variable.get("value") == value


def run(
    cfg: Config, env: Mapping[str, str], now: datetime, days: int, dry_run: bool
) -> RotateReport:
    """Connect as every command does (GITLAB_URL, GITLAB_TOKEN, project) and rotate."""
    token = Environment.of(env).token
    if not token or not cfg.gitlab.url or not cfg.gitlab.project:
        raise ConfigError(
            "rotate-token needs GITLAB_URL, GITLAB_TOKEN and GITLAB_PROJECT (or gitlab.url "
            "and gitlab.project): it rotates the bot's token and writes the project's "
            "CI/CD variable GITLAB_TOKEN"
        )
    from match_staging.trackers.gitlab_project import GitLabProject

    def handle(value: str) -> GitLabProject:
        return GitLabProject(cfg.gitlab.url, value, cfg.gitlab.project, timeout=cfg.gitlab.timeout)

    today = now.astimezone(UTC).date()
    return rotate(token, handle(token), handle, today=today, days=days, dry_run=dry_run)

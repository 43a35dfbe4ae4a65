"""Where staged matches live: GitLab, or the embedded local tracker outside CI."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from match_staging import clock as clocks
from match_staging.config import Config
from match_staging.environment import Environment
from match_staging.errors import ConfigError
from match_staging.trackers.base import Tracker

LOCAL_NOTICE = (
    "running on the embedded local tracker ({where}): GITLAB_TOKEN is not set, "
    "so nothing goes to GitLab and notifications are written to {outbox}/"
)


URL_IN_CI = (
    "gitlab.url is not set in {file}: in CI the GitLab URL comes only from that file (a "
    "pipeline variable outranks CI_SERVER_URL and would receive the token): run "
    "`match-staging bootstrap`, which writes it there, and commit the file"
)


def _file_of(cfg: Config) -> str:
    return cfg.source if cfg.source.endswith((".yml", ".yaml")) else "the configuration file"


def open_tracker(
    cfg: Config,
    env: Mapping[str, str],
    *,
    clock: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] | None = None,
    where: Environment | None = None,
) -> tuple[Tracker, str | None]:
    """GitLab when a token is set; the local tracker outside CI; a config error in CI
    (`Environment` decides which: the run's `where`, else read from `env`). `clock` and
    `sleep` default to the real ones (MATCH_STAGING_NOW honoured), looked up when called.
    """
    clock = clock or clocks.of_run(env)
    sleep = sleep or clocks.system_sleep
    where = where or Environment.of(env)
    if where.tracker == "gitlab" and where.ci and not cfg.gitlab.url:
        raise ConfigError(URL_IN_CI.format(file=_file_of(cfg)))
    if where.tracker == "gitlab":
        missing = [
            name
            for name, value in (
                ("GITLAB_URL", cfg.gitlab.url),
                ("GITLAB_PROJECT", cfg.gitlab.project),
            )
            if not value
        ]
        if missing:
            raise ConfigError(
                f"{' and '.join(missing)} not set (nor gitlab.url / "
                "gitlab.project in the configuration, nor CI_SERVER_URL / "
                "CI_PROJECT_ID)"
            )
        from match_staging.trackers.gitlab import GitLabTracker  # python-gitlab only when used

        return GitLabTracker(cfg.gitlab, where.token, clock=clock, sleep=sleep), None
    if where.ci:
        raise ConfigError(
            "GITLAB_TOKEN is not set: in CI the tool needs a project access "
            "token (or a bot user's token) with api scope as a masked CI/CD "
            "variable; CI_JOB_TOKEN cannot write issues"
        )
    from match_staging.trackers.local import LocalTracker

    local = LocalTracker(Path(cfg.staging.state_dir), clock=clock)
    return local, LOCAL_NOTICE.format(where=local.location, outbox=cfg.staging.outbox)

"""Where a run is, decided once: in a CI job or not, and on GitLab (a token is set) or on
the embedded local tracker. Everything else is handed an `Environment` (or asks `in_ci`)
rather than reading the raw variables that say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal


def in_ci(env: Mapping[str, str]) -> bool:
    """A CI job: settings come from the repository, not the job's environment, because
    whoever may run a pipeline with variables controls the latter. A pipeline variable can
    set CI=false, but not remove GitLab's own GITLAB_CI and CI_JOB_ID.
    """
    return env.get("CI", "").lower() == "true" or "GITLAB_CI" in env or "CI_JOB_ID" in env


@dataclass(frozen=True)
class Environment:
    """The facts about a run's surroundings that decide what it talks to.

    `token` is GITLAB_TOKEN (a secret: never shown, not in the repr); with one the run
    works on GitLab, without one on the embedded local tracker (outside CI only: in CI that
    is an error, `trackers.open_tracker`). `pipeline_url` and `pipeline_id` name the CI
    pipeline a step runs in ("" outside CI).
    """

    ci: bool = False
    token: str = field(default="", repr=False)
    pipeline_url: str = ""
    pipeline_id: str = ""

    @classmethod
    def of(cls, env: Mapping[str, str]) -> Environment:
        """The environment `env` (os.environ, or a test's mapping) describes."""
        return cls(
            ci=in_ci(env),
            token=env.get("GITLAB_TOKEN", ""),
            pipeline_url=env.get("CI_PIPELINE_URL", ""),
            pipeline_id=env.get("CI_PIPELINE_ID", ""),
        )

    @property
    def tracker(self) -> Literal["gitlab", "local"]:
        """Where staged matches live in this run: GitLab with a token, else locally."""
        return "gitlab" if self.token else "local"

"""One place decides the environment (issue 21): in CI or not, on GitLab or on the embedded
local tracker. The run's context and the tracker ask `Environment`, never the variables."""

from __future__ import annotations

import pytest

from match_staging import config, context
from match_staging.environment import Environment, in_ci

CI_MARKS = [{"CI": "true"}, {"CI": "TRUE"}, {"GITLAB_CI": "true"}, {"CI_JOB_ID": "7"}]


@pytest.mark.parametrize("env", CI_MARKS)
def test_gitlab_ci_is_ci_whatever_a_pipeline_variable_says_of_ci(env: dict[str, str]) -> None:
    assert in_ci(env) and Environment.of(env).ci
    # CI=false from a pipeline variable does not hide GitLab's own variables
    assert in_ci({**env, "CI": "false"}) == ("CI" not in env)


def test_a_laptop_is_not_ci_and_without_a_token_stays_local() -> None:
    where = Environment.of({"CI": "false", "HOME": "/home/max"})
    assert where == Environment() and not where.ci and where.tracker == "local"


def test_a_token_means_gitlab_and_is_never_shown() -> None:
    where = Environment.of({"GITLAB_TOKEN": "glpat-0123456789abcdef", "CI": "true"})
    assert where.tracker == "gitlab" and where.ci
    assert "glpat" not in repr(where) and "glpat" not in str(where)


def test_the_run_is_handed_the_environment_and_its_pipeline(tmp_path: object) -> None:
    env = {
        "CI_PIPELINE_URL": "https://gl.example/p/-/pipelines/9",
        "CI_PIPELINE_ID": "9",
    }
    ctx = context.build(config.Config(), env, context.Parts(tracker=False, channels=True))
    assert ctx.where == Environment.of(env) and ctx.where.tracker == "local"
    assert ctx.pipeline == context.Pipeline("https://gl.example/p/-/pipelines/9", "9")

"""`cli.main(argv, env, clock=, sleep=)`: a run waits on the sleep it is handed and stamps
its records with the clock it is handed, so no test waits and every time is the test's."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from match_staging.cli import main
from tests.conftest import FakeTime, match, write
from tests.fakes.gitlab import FakeGitLab

WHEN = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)


def test_a_retry_pause_waits_on_the_sleep_main_is_handed(repo: Path, fake_time: FakeTime) -> None:
    write(repo / "one.json", match())
    waits: list[float] = []
    with FakeGitLab() as fake:
        fake.drop_next("POST", r"/projects/1/issues$")  # lost before GitLab created it
        env = {"GITLAB_URL": fake.url, "GITLAB_TOKEN": fake.token, "GITLAB_PROJECT": "1"}
        assert main(["stage", "one.json"], env, sleep=waits.append) == 0
        assert len([i for i in fake.issues.values() if "job-match" in i["labels"]]) == 1
    assert waits == [5.0]  # the pause before looking for the lost create
    assert fake_time.waits == []  # handed a sleep, the run used no other


def test_the_local_tracker_stamps_with_the_clock_main_is_handed(repo: Path) -> None:
    write(repo / "one.json", match())
    assert main(["stage", "one.json"], {}, clock=lambda: WHEN) == 0
    state = json.loads((repo / ".match-staging" / "tracker.json").read_text(encoding="utf-8"))
    assert [i["created_at"] for i in state["issues"]] == ["2031-05-06T07:08:09+00:00"]


def test_without_a_sleep_the_shared_fake_records_the_wait(repo: Path, fake_time: FakeTime) -> None:
    write(repo / "one.json", match())
    with FakeGitLab() as fake:
        fake.drop_next("POST", r"/projects/1/issues$")
        env = {"GITLAB_URL": fake.url, "GITLAB_TOKEN": fake.token, "GITLAB_PROJECT": "1"}
        assert main(["stage", "one.json"], env) == 0
    assert fake_time.waits == [5.0]


def test_a_command_without_a_tracker_says_so_if_one_is_used(repo: Path) -> None:
    from match_staging import config
    from match_staging.context import Parts, build
    from match_staging.errors import StagingError

    ctx = build(config.load(None, {}), {}, Parts(tracker=False, channels=True))
    assert not ctx.tracker.sends and ctx.channels  # preview: channels that only render
    with pytest.raises(StagingError, match="runs without a tracker"):
        ctx.tracker.get_issue(1)
    assert not (repo / ".match-staging").exists()

"""The notifications' world, shared by the tests of notify and of the tool's own records:
the fake GitLab over HTTP, a real SMTP server and a local Slack webhook, and the times a run
stages, defers and digests at (tests/gate.py is the review gate's)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import owed
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.slack_server import SlackWebhook
from tests.fakes.smtp_sink import SmtpSink
from tests.gate import nothing_sent, staged_in

DAY = "2026-02-08T14:30:00+01:00"
NIGHT = "2026-02-08T23:00:00+01:00"
NIGHT_LATER = "2026-02-08T23:30:00+01:00"
MORNING = "2026-02-09T07:05:00+01:00"

EVER = datetime(2000, 1, 1, tzinfo=UTC)  # read_log takes a window: all of it


@dataclass
class World:
    gitlab: FakeGitLab
    slack: SlackWebhook
    smtp: SmtpSink

    def env(self, now: str = DAY) -> dict[str, str]:
        prefix = "MATCH_STAGING__NOTIFICATION__CHANNELS__"
        return {
            "GITLAB_URL": self.gitlab.url,
            "GITLAB_TOKEN": self.gitlab.token,
            "GITLAB_PROJECT": "1",
            "MATCH_STAGING_NOW": now,
            f"{prefix}SLACK__ENABLED": "true",
            "SLACK_WEBHOOK_URL": self.slack.url,
            f"{prefix}EMAIL__ENABLED": "true",
            "SMTP_HOST": "127.0.0.1",
            f"{prefix}EMAIL__SMTP__PORT": str(self.smtp.port),
            f"{prefix}EMAIL__SMTP__SECURITY": "none",
        }

    def slack_mentions(self, iid: int) -> int:
        return sum(len(re.findall(rf"/-/issues/{iid}\|", str(post))) for post in self.slack.posts)

    def plain(self, index: int) -> str:
        body = self.smtp.messages[index].get_body(("plain",))
        assert body is not None
        return str(body.get_content())

    def email_mentions(self, iid: int) -> int:
        return sum(
            len(re.findall(rf"/-/issues/{iid}\r?\n", self.plain(i)))
            for i in range(len(self.smtp.messages))
        )


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setattr("match_staging.trackers.gitlab.RETRY_PAUSE_SECONDS", 0)
    with FakeGitLab() as gitlab, SlackWebhook() as slack, SmtpSink() as smtp:
        yield World(gitlab, slack, smtp)


@pytest.fixture(scope="module")
def night_staging(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Any]]:
    """`stage` of matches-inbox/ in quiet hours, once per module, on a fresh project: five
    issues, nothing sent, every channel owes all five. The world, and the fake GitLab's
    state right after."""
    with FakeGitLab() as gitlab, SlackWebhook() as slack, SmtpSink() as smtp:
        world = World(gitlab, slack, smtp)
        out = staged_in(tmp_path_factory.mktemp("night"), world.env(NIGHT))
        assert owed(gitlab) == [(i, c) for i in range(1, 6) for c in ("email", "slack")], out
        yield world, gitlab.snapshot()


@pytest.fixture
def night(
    night_staging: tuple[World, dict[str, Any]], repo: Path, monkeypatch: pytest.MonkeyPatch
) -> World:
    """`world` after `stage` in quiet hours (staged once per module: `night_staging`)."""
    monkeypatch.setattr("match_staging.trackers.gitlab.RETRY_PAUSE_SECONDS", 0)
    world, state = night_staging
    nothing_sent(world.gitlab, state, world.slack, world.smtp)
    return world

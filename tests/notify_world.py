"""The notifications' world, shared by the tests of notify and of the tool's own records:
the fake GitLab over HTTP, a real SMTP server and a local Slack webhook, and the times a run
stages, defers and digests at (tests/gate.py is the review gate's)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from tests.fakes.gitlab import FakeGitLab
from tests.fakes.slack_server import SlackWebhook
from tests.fakes.smtp_sink import SmtpSink

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

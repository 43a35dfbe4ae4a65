"""The Slack channel against a local incoming-webhook server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from match_staging.channels.slack import Slack
from match_staging.channels.slack_settings import SlackChannel
from match_staging.errors import ConfigError
from match_staging.notices import Notice, Payload, build
from tests.fakes.slack_server import SlackWebhook


@pytest.fixture
def hook() -> Iterator[SlackWebhook]:
    with SlackWebhook() as server:
        yield server


def notice(
    iid: int,
    score: float,
    title: str,
    provider: str = "Amoria Bond",
    location: str | None = "Heilbronn Remote",
) -> Notice:
    return Notice(
        iid=iid,
        score=score,
        title=title,
        provider=provider,
        issue_url=f"https://gitlab.example.com/fl/backoffice/-/issues/{iid}",
        source_url=f"https://jobs.example/{iid}",
        location=location,
        duration="3 Mo+",
    )


def cycle(*items: Notice) -> Payload:
    return build("new", "c1", list(items), "job-match/pending", summary="2 neue Matches: …")


class FakeTime:
    """A clock that only the recorded waits move: nothing sleeps for real."""

    def __init__(self, waits: list[float]) -> None:
        self.now = datetime(2026, 2, 8, 13, 30, tzinfo=UTC)
        self.waits = waits

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += timedelta(seconds=seconds)


def slack(hook: SlackWebhook, waits: list[float] | None = None) -> Slack:
    fake = FakeTime(waits if waits is not None else [])
    return Slack(
        SlackChannel(enabled=True, webhook_url=hook.url), clock=fake.clock, sleep=fake.sleep
    )


def test_ops004_tree_with_fallback_text(hook: SlackWebhook) -> None:
    result = slack(hook).send(
        cycle(notice(1, 97, "Cloud Architect"), notice(2, 83, "Energy IoT", "GULP", "Essen"))
    )
    assert result.ok and result.detail == "ok"
    (post,) = hook.posts
    assert post["text"] == "2 neue Matches: …"  # mobile notifications show only this
    text = post["blocks"][0]["text"]["text"]
    assert post["blocks"][0]["text"]["type"] == "mrkdwn"
    assert text.splitlines() == [
        "🎯 *2 neue Job-Matches*",
        "├ 🔥 <https://gitlab.example.com/fl/backoffice/-/issues/1|97% Cloud Architect> "
        "(Amoria Bond) — Heilbronn Remote 3 Mo+",
        "└ ✅ <https://gitlab.example.com/fl/backoffice/-/issues/2|83% Energy IoT> (GULP) — "
        "Essen 3 Mo+",
        "👉 Review: <https://gitlab.example.com/fl/backoffice/-/issues?label_name%5B%5D="
        "job-match%2Fpending|alle offenen Matches>",
    ]


def test_untrusted_text_cannot_mention_or_link(hook: SlackWebhook) -> None:
    evil = notice(
        1, 95, "<!channel> Architect <@U123> <https://evil.example|click>", provider="<!here> & Co"
    )
    payload = build(
        "new", "c", [evil], "job-match/pending", summary="1 neue Matches: <!channel> & <@U1>"
    )
    assert slack(hook).send(payload).ok
    post = hook.posts[0]
    blob = post["text"] + post["blocks"][0]["text"]["text"]
    for forbidden in ("<!channel>", "<!here>", "<@U123>", "<@U1>", "<https://evil.example"):
        assert forbidden not in blob
    assert "&lt;!channel&gt; Architect &lt;@U123&gt;" in blob
    assert "&lt;!here&gt; &amp; Co" in blob


def test_long_batch_stays_within_block_limits(hook: SlackWebhook) -> None:
    items = [notice(i, 70 + i % 30, "Very long title " + "x" * 300) for i in range(1, 501)]
    assert slack(hook).send(cycle(*items)).ok
    post = hook.posts[0]
    assert len(post["blocks"]) <= Slack.max_blocks
    assert all(len(b["text"]["text"]) <= Slack.section_maxlen for b in post["blocks"])
    assert "+460 weitere" in post["blocks"][-1]["text"]["text"]


def test_rate_limit_is_waited_out(hook: SlackWebhook) -> None:
    hook.answer(429, "rate_limited", Retry_After="7")
    waits: list[float] = []
    result = slack(hook, waits).send(cycle(notice(1, 91, "K8s")))
    assert result.ok
    assert 7.0 in waits
    assert len(hook.posts) == 1


def test_error_body_is_reported_and_not_retried(hook: SlackWebhook) -> None:
    hook.answer(400, "invalid_payload")
    result = slack(hook).send(cycle(notice(1, 91, "K8s")))
    assert not result.ok and not result.transient
    assert result.detail == "Slack refused the message: HTTP 400 invalid_payload"
    assert hook.answers == []


def test_server_errors_are_transient_after_three_tries(hook: SlackWebhook) -> None:
    hook.answer(503, "service unavailable", times=3)
    result = slack(hook).send(cycle(notice(1, 91, "K8s")))
    assert not result.ok and result.transient
    assert "HTTP 503" in result.detail


def test_dead_endpoint_never_reveals_the_webhook_secret() -> None:
    channel = Slack(
        SlackChannel(enabled=True, webhook_url="http://127.0.0.1:9/services/T/B/CANARY"),
        sleep=FakeTime([]).sleep,
    )
    result = channel.send(cycle(notice(1, 91, "K8s")))
    assert not result.ok and result.transient
    assert "CANARY" not in result.detail and "127.0.0.1:9" in result.detail


def test_per_match_messages_keep_one_per_second(hook: SlackWebhook) -> None:
    waits: list[float] = []
    channel = slack(hook, waits)
    for n in range(3):
        assert channel.send(cycle(notice(n + 1, 90, f"T{n}"))).ok
    assert len(hook.posts) == 3
    assert waits == [1.0, 1.0]  # the run's clock, not a second read of its own


def test_pacing_counts_the_time_already_gone(hook: SlackWebhook) -> None:
    fake = FakeTime([])
    channel = Slack(
        SlackChannel(enabled=True, webhook_url=hook.url), clock=fake.clock, sleep=fake.sleep
    )
    assert channel.send(cycle(notice(1, 90, "T1"))).ok
    fake.now += timedelta(seconds=0.75)
    assert channel.send(cycle(notice(2, 90, "T2"))).ok
    fake.now += timedelta(seconds=5)
    assert channel.send(cycle(notice(3, 90, "T3"))).ok
    fake.now -= timedelta(hours=1)  # a clock set back never waits longer than the pace
    assert channel.send(cycle(notice(4, 90, "T4"))).ok
    assert fake.waits == [0.25, 1.0]


@pytest.mark.parametrize("url", ["", "not a url", "ftp://x/y"])
def test_webhook_url_is_validated_when_built(url: str) -> None:
    with pytest.raises(ConfigError, match=r"notification\.channels\.slack\.webhook_url"):
        Slack(SlackChannel(enabled=True, webhook_url=url))

"""The Slack channel against a local incoming-webhook server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import responses

from match_staging import notices
from match_staging.channels.slack import Slack
from match_staging.channels.slack_settings import SlackChannel
from match_staging.errors import ConfigError
from match_staging.notices import build
from tests.channels.cycles import cycle, notice
from tests.channels.faults import after_sending, before_sending
from tests.fakes.slack_server import SlackWebhook


@pytest.fixture
def hook() -> Iterator[SlackWebhook]:
    with SlackWebhook() as server:
        yield server


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


# --- exactly once: every failure point of the post (issue 26) ------------------------------

URL = "https://hooks.slack.com/services/T000/B000/CANARYSLACKSECRET"


def offline(waits: list[float]) -> Slack:
    fake = FakeTime(waits)
    return Slack(SlackChannel(enabled=True, webhook_url=URL), clock=fake.clock, sleep=fake.sleep)


@pytest.mark.parametrize("failure", before_sending(URL, "hooks.slack.com"))
def test_a_post_that_never_left_is_tried_again(failure: Exception) -> None:
    waits: list[float] = []
    with responses.RequestsMock() as mock:
        mock.post(URL, body=failure)
        result = offline(waits).send(cycle(notice(1, 91, "K8s")))
        assert len(mock.calls) == Slack.attempts  # safe: nothing reached Slack
    assert (result.ok, result.transient, result.maybe_delivered) == (False, True, False)
    assert result.detail == (
        f"could not connect to hooks.slack.com ({type(failure).__name__}): nothing was sent"
    )
    assert waits == [1.0, 1.0]  # paced, like any post
    assert "CANARY" not in result.detail


@pytest.mark.parametrize("failure", after_sending(URL))
def test_a_post_that_went_out_is_never_repeated(failure: Exception) -> None:
    with responses.RequestsMock() as mock:
        mock.post(URL, body=failure)
        result = offline([]).send(cycle(notice(1, 91, "K8s")))
        assert len(mock.calls) == 1  # Slack may have posted it: once is all
    assert (result.ok, result.transient, result.maybe_delivered) == (False, True, True)
    assert result.detail == (
        f"no answer from hooks.slack.com ({type(failure).__name__}): it may have been posted"
    )
    assert "CANARY" not in result.detail


def test_a_refusal_is_final_and_a_retry_after_5xx_then_ok_delivers() -> None:
    with responses.RequestsMock() as mock:
        mock.post(URL, status=503, body="busy")
        mock.post(URL, status=200, body="ok")
        waits: list[float] = []
        result = offline(waits).send(cycle(notice(1, 91, "K8s")))
        assert len(mock.calls) == 2
    assert (result.ok, result.detail, result.transient) == (True, "ok", False)
    with responses.RequestsMock() as mock:
        mock.post(URL, status=404, body=f"no_service {URL}")
        result = offline([]).send(cycle(notice(1, 91, "K8s")))
        assert len(mock.calls) == 1
    assert (result.ok, result.transient, result.maybe_delivered) == (False, False, False)
    assert result.detail == "Slack refused the message: HTTP 404 no_service ***"


def test_the_exact_request_slack_gets() -> None:
    with responses.RequestsMock() as mock:
        mock.post(URL, status=200, body="ok")
        assert offline([]).send(cycle(notice(1, 91, "K8s"))).ok
        (call,) = mock.calls
    assert call.request.url == URL and call.request.method == "POST"
    assert call.request.headers["Content-Type"] == "application/json"
    body = json.loads(call.request.body or b"")
    assert set(body) == {"text", "blocks"}
    assert body["text"] == "2 neue Matches: …"
    (block,) = body["blocks"]
    assert block["type"] == "section" and block["text"]["type"] == "mrkdwn"
    assert block["text"]["text"].splitlines() == [
        "🎯 *1 neue Job-Matches*",
        "└ 🔥 <https://gitlab.example.com/fl/backoffice/-/issues/1|91% K8s> (Amoria Bond) — "
        "Heilbronn Remote 3 Mo+",
        "👉 Review: <https://gitlab.example.com/fl/backoffice/-/issues?label_name%5B%5D="
        "job-match%2Fpending|alle offenen Matches>",
    ]


def test_sections_are_packed_up_to_the_limit_and_long_lines_cut() -> None:
    channel = offline([])
    channel.section_maxlen = 60
    lines = ["a" * 30, "b" * 29, "c" * 100, "d"]
    payload = cycle(notice(1, 91, "K8s"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("match_staging.render.render", lambda *a, **k: "\n".join(lines))
        message = channel.message(payload)
    texts = [b["text"]["text"] for b in message["blocks"]]
    # 30 + 1 + 29 = 60 fits one section; the long line is cut to 60 with "…"
    assert texts == ["a" * 30 + "\n" + "b" * 29, "c" * 59 + "…", "d"]


def test_five_server_errors_in_a_row_wait_between_tries_only() -> None:
    with responses.RequestsMock() as mock:
        for _ in range(Slack.attempts):
            mock.post(URL, status=503, body="x" * 300, headers={"Retry-After": "4"})
        waits: list[float] = []
        result = offline(waits).send(cycle(notice(1, 91, "K8s")))
        assert len(mock.calls) == Slack.attempts
        sent = [c.request.req_kwargs for c in mock.calls]  # type: ignore[attr-defined]
        assert all(kwargs["timeout"] == Slack.timeout for kwargs in sent)
    assert waits == [4.0, 4.0]  # as told (the pace is kept by then), never after the last
    assert (result.channel, result.ok, result.transient, result.maybe_delivered) == (
        "slack",
        False,
        True,
        False,
    )
    assert result.detail == "Slack answered HTTP 503 " + "x" * 200  # at most 200 characters


@pytest.mark.parametrize(
    ("url", "text", "masked"),
    [
        (URL, f"bad {URL} and /services/T000/B000/CANARYSLACKSECRET", "bad *** and ***"),
        ("https://hooks.example/", "a/b c", "a/b c"),  # a bare "/" path is no secret
        ("https://hooks.example/s", "a/s b", "a*** b"),  # a path of 2 characters is
    ],
)
def test_an_echo_of_the_webhook_is_masked(url: str, text: str, masked: str) -> None:
    with responses.RequestsMock() as mock:
        mock.post(url, status=400, body=text)
        channel = Slack(SlackChannel(enabled=True, webhook_url=url), sleep=FakeTime([]).sleep)
        result = channel.send(cycle(notice(1, 91, "K8s")))
    assert result.detail == f"Slack refused the message: HTTP 400 {masked}"
    assert result.channel == "slack"


def test_no_wait_when_a_second_has_passed_exactly() -> None:
    fake = FakeTime([])
    channel = Slack(SlackChannel(enabled=True, webhook_url=URL), clock=fake.clock, sleep=fake.sleep)
    with responses.RequestsMock() as mock:
        mock.post(URL, body="ok")
        mock.post(URL, body="ok")
        assert channel.send(cycle(notice(1, 90, "T1"))).ok
        fake.now += timedelta(seconds=1)
        assert channel.send(cycle(notice(2, 90, "T2"))).ok
    assert fake.waits == []


def test_render_is_the_exact_json_posted_and_templates_can_be_overridden(
    tmp_path: Path,
) -> None:
    channel = offline([])
    payload = cycle(notice(1, 91, "Küche"))
    (rendered,) = channel.render(payload)
    assert rendered.name == "slack.json"
    assert (
        rendered.content
        == json.dumps(channel.message(payload), ensure_ascii=False, indent=2).encode()
    )
    assert "Küche".encode() in rendered.content  # as text, not \\u escapes
    (tmp_path / "slack.md.j2").write_text("Eigene Vorlage: {{ shown|length }}", encoding="utf-8")
    own = Slack(SlackChannel(enabled=True, webhook_url=URL), str(tmp_path))
    assert own.message(payload)["blocks"] == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Eigene Vorlage: 1"}}
    ]


def test_an_alert_uses_the_alert_template() -> None:
    alert = notices.Alert(token_expires=date(2026, 3, 1), days_left=3, variables_url=URL)
    payload = notices.alert_payload(alert, "alert-1", "token expires")
    text = offline([]).message(payload)["blocks"][0]["text"]["text"]
    assert text != offline([]).message(cycle(notice(1, 91, "K8s")))["blocks"][0]["text"]["text"]
    assert "2026-03-01" in text or "01.03.2026" in text


def test_the_configuration_error_names_the_variable() -> None:
    with pytest.raises(ConfigError) as raised:
        Slack(SlackChannel(enabled=True, webhook_url="hooks.slack.com/x"))
    assert str(raised.value) == (
        "notification.channels.slack.webhook_url: must be the incoming webhook URL "
        "(set SLACK_WEBHOOK_URL as a masked CI/CD variable)"
    )


def test_slack_text_is_escaped_for_slack_not_for_gitlab() -> None:
    text = offline([]).message(cycle(notice(1, 91, "snake_case *Lead*")))["blocks"][0]
    assert "snake_case *Lead*" in text["text"]["text"]  # Markdown for GitLab would be \_ and \*


@pytest.mark.parametrize("failure", after_sending(URL))
def test_a_maybe_posted_message_is_slacks(failure: Exception) -> None:
    with responses.RequestsMock() as mock:
        mock.post(URL, body=failure)
        result = offline([]).send(cycle(notice(1, 91, "K8s")))
    assert result.channel == "slack"

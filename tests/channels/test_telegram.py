"""The Telegram channel against a local Bot API server that checks what Telegram checks
(tests/fakes/telegram_server.py): the adapter alone, then through the CLI against the fake
GitLab (stage, digest, per-match, quiet hours, refusals, rate limits, timeouts, the local
outbox and preview)."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
import requests

from match_staging import config
from match_staging.channels.base import MAX_RETRY_AFTER_SECONDS, Delivery
from match_staging.channels.http import Retry
from match_staging.channels.telegram import WORD_JOINER, Telegram
from match_staging.channels.telegram_settings import TelegramChannel
from match_staging.cli import main
from match_staging.errors import ConfigError
from match_staging.notices import Alert, WebhookAlert, alert_payload
from match_staging.redaction import secrets_of
from tests.channels.cycles import cycle, notice
from tests.conftest import HUNG_TIMEOUT, FakeTime, bootstrapped_label_ids, match, owed, write
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.telegram_server import TOKEN, TelegramBotApi, parse

CHAT = "-1001234567890"  # a supergroup
SECRET = TOKEN.split(":", 1)[1]


@pytest.fixture
def api() -> Iterator[TelegramBotApi]:
    with TelegramBotApi() as server:
        yield server


def telegram(api: TelegramBotApi, fake: FakeTime | None = None, chat: str = CHAT) -> Telegram:
    fake = fake or FakeTime()
    settings = TelegramChannel(enabled=True, bot_token=TOKEN, chat_id=chat, api_url=api.url)
    return Telegram(settings, clock=fake.clock, sleep=fake.sleep)


# --- the adapter ------------------------------------------------------------------------


def test_sendmessage_in_telegrams_html_with_previews_off(api: TelegramBotApi) -> None:
    result = telegram(api).send(
        cycle(notice(1, 97, "Cloud Architect"), notice(2, 83, "Energy IoT", "GULP"))
    )
    assert result.ok and result.detail == "sent as message 1", result
    (sent,) = api.messages
    assert sent["chat_id"] == CHAT and sent["parse_mode"] == "HTML"
    assert sent["link_preview_options"] == {"is_disabled": True}
    assert sent["text"].splitlines()[0] == "🎯 <b>2 neue Job-Matches</b>"
    assert sent["plain"].splitlines() == [
        "🎯 2 neue Job-Matches",
        "├ 🔥 97% Cloud Architect (Amoria Bond) — Heilbronn Remote 3 Mo+",
        "└ ✅ 83% Energy IoT (GULP) — Heilbronn Remote 3 Mo+",
        "👉 Review: alle offenen Matches",
    ]
    assert sent["links"] == [
        "https://gitlab.example.com/fl/backoffice/-/issues/1",
        "https://gitlab.example.com/fl/backoffice/-/issues/2",
        "https://gitlab.example.com/fl/backoffice/-/issues?label_name%5B%5D=job-match%2Fpending",
    ]


HOSTILE = '<b>Boss</b> <a href="https://evil.example/x">click</a> &amp; @admin'


def test_a_hostile_posting_cannot_inject_a_tag_link_or_mention(api: TelegramBotApi) -> None:
    evil = dataclasses.replace(
        notice(1, 95, HOSTILE, provider='</a><i>"Co" & <pre>'),
        location="#promo /start https://evil.example/y",
        duration="evil.example",
    )
    result = telegram(api).send(cycle(evil, summary="1 neue Matches: @admin"))
    assert result.ok, result.detail  # Telegram parsed it: every < > & was escaped
    (sent,) = api.messages
    assert sent["links"] == [  # ours only: the posting's <a> is text
        "https://gitlab.example.com/fl/backoffice/-/issues/1",
        "https://gitlab.example.com/fl/backoffice/-/issues?label_name%5B%5D=job-match%2Fpending",
    ]
    plain = sent["plain"]
    visible = plain.replace(WORD_JOINER, "")
    assert f'95% {HOSTILE} (</a><i>"Co" & <pre>)' in visible  # shown as the text it is
    assert "&amp;amp;" in sent["text"]
    # Telegram finds @mentions, #hashtags, /commands and URLs in plain text itself: each
    # one is broken by an invisible word joiner
    for detected in ("@admin", "#promo", "/start", "https://evil.example/y", "evil.example"):
        assert detected in visible and detected not in plain


def test_a_long_batch_fits_in_4096_characters_with_the_rest_counted(
    api: TelegramBotApi,
) -> None:
    items = [notice(i, 70 + i % 30, "Very long title 🔥 " + "x" * 300) for i in range(1, 501)]
    assert telegram(api).send(cycle(*items)).ok
    (sent,) = api.messages
    assert len(sent["text"].encode("utf-16-le")) // 2 <= Telegram.max_chars
    shown = sent["plain"].count("% Very long title")
    assert 10 < shown < 40
    assert f"└ … +{500 - shown} weitere" in sent["plain"]


def test_an_operator_alert_in_telegrams_html(api: TelegramBotApi) -> None:
    alert = Alert(
        token_expires=date(2026, 3, 1),
        days_left=3,
        webhooks=(WebhookAlert("https://ci.example/trigger", "disabled"),),
        tokens_url="https://gitlab.example.com/-/user_settings/personal_access_tokens",
        variables_url="https://gitlab.example.com/fl/backoffice/-/settings/ci_cd",
        hooks_url="https://gitlab.example.com/fl/backoffice/-/hooks",
    )
    assert telegram(api).send(alert_payload(alert, "a1", "match-staging braucht dich")).ok
    (sent,) = api.messages
    assert sent["plain"].startswith("⚠️ match-staging braucht dich\n• Das GitLab-Token")
    assert "(in 3 Tagen)" in sent["plain"] and "Settings > Webhooks" in sent["plain"]
    assert sent["links"] == [alert.tokens_url, alert.variables_url, alert.hooks_url]


def test_429_waits_retry_after_and_retries(api: TelegramBotApi) -> None:
    api.answer(429, "Too Many Requests: retry after 7", retry_after=7)
    fake = FakeTime()
    result = telegram(api, fake).send(cycle(notice(1, 91, "K8s")))
    assert result.ok and fake.waits == [7.0]
    assert len(api.messages) == 1 and api.requests == 2


def test_429_longer_than_a_run_waits_is_left_to_the_next_run(api: TelegramBotApi) -> None:
    api.answer(429, "Too Many Requests: retry after 3600", retry_after=3600)
    fake = FakeTime()
    result = telegram(api, fake).send(cycle(notice(1, 91, "K8s")))
    assert not result.ok and result.transient and not result.maybe_delivered
    assert fake.waits == [] and api.requests == 1
    assert MAX_RETRY_AFTER_SECONDS < 3600
    assert result.detail == ("Telegram rate limit (HTTP 429, retry after 3600 s): nothing was sent")


def test_403_says_what_to_do_once_per_run(api: TelegramBotApi) -> None:
    api.answer(403, "Forbidden: bot was blocked by the user")
    channel = telegram(api)
    first = channel.send(cycle(notice(1, 91, "K8s")))
    assert not first.ok and first.transient and not first.maybe_delivered
    assert first.detail == (
        "Telegram refused the message: HTTP 403 Forbidden: bot was blocked by the user: "
        "nothing was sent; the bot was blocked or is not in the chat: send it /start, or add "
        "it to the group or channel (as an admin for a channel)"
    )
    assert channel.send(cycle(notice(2, 91, "K9s"))) == first
    assert api.requests == 1  # the chat will not take it in this run


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        ((400, "Bad Request: chat not found", {}), "a user must send the bot /start first"),
        (
            (
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": -1009876},
            ),
            "set notification.channels.telegram.chat_id to -1009876",
        ),
        ((401, "Unauthorized", {}), "check TELEGRAM_BOT_TOKEN"),
    ],
)
def test_refusals_name_the_fix(
    api: TelegramBotApi, answer: tuple[int, str, dict[str, int]], hint: str
) -> None:
    status, description, parameters = answer
    api.answer(status, description, **parameters)
    result = telegram(api).send(cycle(notice(1, 91, "K8s")))
    assert not result.ok and result.transient and not result.maybe_delivered
    assert f"HTTP {status} {description}: nothing was sent; " in result.detail
    assert result.detail.endswith(hint) or hint in result.detail
    assert api.messages == []


def test_ok_false_in_a_200_answer_is_a_failure(api: TelegramBotApi) -> None:
    api.answers.append((200, {"ok": False, "error_code": 400, "description": "Bad Request"}))
    result = telegram(api).send(cycle(notice(1, 91, "K8s")))
    assert not result.ok and result.transient and not result.maybe_delivered
    assert result.detail.startswith("Telegram refused the message: HTTP 200 Bad Request")


def test_a_server_error_may_have_sent_it(api: TelegramBotApi) -> None:
    api.answers.append((502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}))
    result = telegram(api).send(cycle(notice(1, 91, "K8s")))
    assert not result.ok and result.maybe_delivered and api.requests == 1
    assert result.detail == "Telegram answered HTTP 502 Bad Gateway: it may have been sent"


def test_the_token_never_appears_in_a_failure(api: TelegramBotApi) -> None:
    api.answer(400, f"Bad Request: POST /bot{TOKEN}/sendMessage")
    result = telegram(api).send(cycle(notice(1, 91, "K8s")))
    assert SECRET not in result.detail and "/bot***/sendMessage" in result.detail
    dead = TelegramChannel(
        enabled=True, bot_token=TOKEN, chat_id=CHAT, api_url="http://127.0.0.1:9"
    )
    fake = FakeTime()
    result = Telegram(dead, clock=fake.clock, sleep=fake.sleep).send(cycle(notice(1, 91, "K8s")))
    assert not result.ok and result.transient and not result.maybe_delivered
    assert SECRET not in result.detail and "127.0.0.1:9" in result.detail


def test_a_timeout_may_have_sent_it(api: TelegramBotApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Telegram, "timeout", HUNG_TIMEOUT)
    api.slow(0.6)
    result = telegram(api).send(cycle(notice(1, 91, "K8s")))
    assert not result.ok and result.maybe_delivered and api.requests == 1
    assert result.detail.endswith("(ReadTimeout): it may have been sent")
    assert SECRET not in result.detail and len(api.messages) == 1  # and so it was


def test_messages_to_a_group_keep_twenty_a_minute(api: TelegramBotApi) -> None:
    fake = FakeTime()
    group = telegram(api, fake)
    for n in range(3):
        assert group.send(cycle(notice(n + 1, 90, f"T{n}"))).ok
    assert fake.waits == [3.0, 3.0]
    person = FakeTime()
    private = telegram(api, person, chat="424242")
    for n in range(2):
        assert private.send(cycle(notice(n + 1, 90, f"T{n}"))).ok
    assert person.waits == [1.0]


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"bot_token": ""}, "bot_token"),
        ({"bot_token": "not a token CANARY"}, "bot_token"),
        ({"chat_id": ""}, "chat_id"),
        ({"chat_id": "12; DROP"}, "chat_id"),
        ({"api_url": "ftp://api.telegram.org"}, "api_url"),
    ],
)
def test_settings_are_checked_when_built(change: dict[str, str], key: str) -> None:
    settings = {"enabled": True, "bot_token": TOKEN, "chat_id": CHAT, **change}
    with pytest.raises(ConfigError, match=rf"notification\.channels\.telegram\.{key}") as exc:
        Telegram(TelegramChannel(**settings))  # type: ignore[arg-type]
    assert "CANARY" not in str(exc.value)


def test_the_token_is_masked_and_in_ci_its_server_is_written_in_the_file(
    tmp_path: Path,
) -> None:
    file = tmp_path / "c.yml"
    file.write_text(
        "notification:\n  channels:\n    telegram:\n      enabled: true\n"
        "      bot_token: ${TELEGRAM_BOT_TOKEN}\n      chat_id: '-100'\n"
        "      api_url: ${TELEGRAM_API}\n",
        encoding="utf-8",
    )
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API": "https://evil.example"}
    cfg = config.load(str(file), env)
    assert SECRET not in str(config.masked(cfg))
    assert TOKEN in {s.value for s in secrets_of(cfg, env)}
    # in CI a pipeline variable could set TELEGRAM_API and receive the token
    with pytest.raises(ConfigError, match=r"telegram\.api_url: in CI write the value itself"):
        config.load(str(file), {**env, "CI": "true"})


def test_the_fake_is_as_strict_as_telegram() -> None:
    assert parse("<b>a</b> &lt; &#34;").error == ""
    assert parse("<b>a").error and parse("a < b").error and parse("a & b").error
    assert parse("<p>x</p>").error and parse('<a href="x" onclick="y">z</a>').error
    assert parse("&nbsp;").error


# --- through the CLI ----------------------------------------------------------------------

DAY = "2026-02-08T14:30:00+01:00"
LATER = "2026-02-08T16:30:00+01:00"
NIGHT = "2026-02-08T23:00:00+01:00"
MORNING = "2026-02-09T07:05:00+01:00"
CHANNELS = "MATCH_STAGING__NOTIFICATION__CHANNELS__"


@dataclass
class World:
    gitlab: FakeGitLab
    api: TelegramBotApi
    capsys: pytest.CaptureFixture[str]
    sleeps: list[float]
    extra: dict[str, str] = field(default_factory=dict)

    def env(self, now: str) -> dict[str, str]:
        return {
            "GITLAB_URL": self.gitlab.url,
            "GITLAB_TOKEN": self.gitlab.token,
            "GITLAB_PROJECT": "1",
            "MATCH_STAGING_NOW": now,
            f"{CHANNELS}TELEGRAM__ENABLED": "true",
            "TELEGRAM_BOT_TOKEN": TOKEN,
            f"{CHANNELS}TELEGRAM__CHAT_ID": CHAT,
            f"{CHANNELS}TELEGRAM__API_URL": self.api.url,
            **self.extra,
        }

    def run(self, *argv: str, now: str = DAY) -> tuple[int, str]:
        self.capsys.readouterr()
        code = main(list(argv), self.env(now))
        captured = self.capsys.readouterr()
        out = captured.out + captured.err
        assert "Traceback" not in out and SECRET not in out, out
        return code, out


@pytest.fixture
def world(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    sleeps: list[float] = []
    monkeypatch.setattr(time, "sleep", sleeps.append)  # the channel's waits, recorded
    monkeypatch.setattr("match_staging.trackers.gitlab.RETRY_PAUSE_SECONDS", 0)
    with FakeGitLab() as gitlab, TelegramBotApi() as api:
        bootstrapped_label_ids(gitlab)  # labels first, as bootstrap leaves a project
        yield World(gitlab, api, capsys, sleeps)


def line(out: str, state: str) -> str:
    found = [x for x in out.splitlines() if x.startswith(f"{state:<9} telegram")]
    assert len(found) == 1, out
    return found[0]


def test_stage_sends_one_batch_once(world: World) -> None:
    code, out = world.run("stage")
    assert code == 0, out
    assert line(out, "notified") == "notified  telegram  #1 #2 #3 #4 #5  sent as message 1"
    (sent,) = world.api.messages
    assert sent["plain"].startswith("🎯 5 neue Job-Matches\n├ 🔥 97% Cloud Architect")
    assert owed(world.gitlab) == []
    code, out = world.run("stage")
    assert code == 0 and "notified" not in out and len(world.api.messages) == 1


def test_per_match_messages_are_paced_for_a_group(world: World) -> None:
    world.extra = {"MATCH_STAGING__NOTIFICATION__PREFERENCES__BATCH_MODE": "false"}
    code, out = world.run("stage")
    assert code == 0, out
    assert len(world.api.messages) == 5
    assert all(m["plain"].count("\n├") + m["plain"].count("\n└") == 1 for m in world.api.messages)
    assert world.sleeps.count(Telegram.group_interval) == 4  # 20 a minute in one group


def test_quiet_hours_wait_for_digest(world: World) -> None:
    code, out = world.run("stage", now=NIGHT)
    assert code == 0 and "deferred  #1 #2 #3 #4 #5  quiet hours until 07:00 CET" in out, out
    assert world.api.requests == 0
    code, out = world.run("digest", now=MORNING)
    assert code == 0 and "notified  telegram" in out, out
    (sent,) = world.api.messages
    assert "(während der Ruhezeit)" in sent["plain"]
    code, out = world.run("digest", now=MORNING)
    assert "notified" not in out and len(world.api.messages) == 1


def test_a_reminder_for_matches_left_pending_once_a_day(world: World) -> None:
    world.run("stage")
    for issue in world.gitlab.issues.values():  # staged two days ago, untouched since
        issue["created_at"] = "2026-02-06T10:00:00Z"
        issue["updated_at"] = "2026-02-06T10:00:05Z"
    code, out = world.run("digest")
    assert code == 0 and "reminded  #1 #2 #3 #4 #5" in out, out
    assert world.api.messages[-1]["plain"].startswith("⏰ 5 Job-Matches warten auf Review")
    world.run("digest", now=LATER)
    assert len(world.api.messages) == 2  # not again the same day


def test_a_hostile_posting_through_stage(world: World, repo: Path) -> None:
    write(repo / "in" / "evil.json", [match(title=HOSTILE, provider="<i>@everyone</i>")])
    code, out = world.run("stage", "in/evil.json")
    assert code == 0, out
    (sent,) = world.api.messages  # accepted: Telegram parsed it
    assert len(sent["links"]) == 2 and not any("evil" in link for link in sent["links"])
    assert "<i>@" in sent["plain"] and "@everyone" not in sent["plain"]


def test_403_is_reported_once_and_retried_by_the_next_run(world: World) -> None:
    world.api.answer(403, "Forbidden: bot is not a member of the supergroup chat")
    code, out = world.run("stage")
    assert code == 1, out
    assert line(out, "failed") == (
        "failed    telegram  #1 #2 #3 #4 #5  Telegram refused the message: HTTP 403 Forbidden: "
        "bot is not a member of the supergroup chat: nothing was sent; the bot was blocked "
        "or is not in the chat: send it /start, or add it to the group or channel (as an "
        "admin for a channel) (retried by the next run)"
    )
    assert owed(world.gitlab) == [(i, "telegram") for i in range(1, 6)]
    code, out = world.run("digest", now=LATER)
    assert code == 0 and "failed" not in out, out
    assert line(out, "notified").startswith("notified  telegram  #1 #2 #3 #4 #5  sent as")
    code, out = world.run("digest", now=LATER)
    assert "notified" not in out and len(world.api.messages) == 1 and owed(world.gitlab) == []


def test_429_is_waited_out_within_the_run(world: World) -> None:
    world.api.answer(429, "Too Many Requests: retry after 12", retry_after=12)
    code, out = world.run("stage")
    assert code == 0, out
    assert 12.0 in world.sleeps and len(world.api.messages) == 1 and world.api.requests == 2


def test_a_timeout_is_never_repeated(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Telegram, "timeout", HUNG_TIMEOUT)
    world.api.slow(0.6)
    code, out = world.run("stage")
    assert code == 1
    assert line(out, "failed").endswith(
        "no answer from "
        f"{world.api.url.removeprefix('http://')} (ReadTimeout): it may have been sent "
        "(not repeated)"
    )
    assert owed(world.gitlab) == []
    code, out = world.run("digest", now=LATER)
    assert code == 0 and "notified" not in out, out
    assert world.api.requests == 1


def test_the_local_outbox_and_preview(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = {f"{CHANNELS}TELEGRAM__ENABLED": "true", "MATCH_STAGING_NOW": DAY}
    assert main(["stage"], env) == 0
    out = capsys.readouterr().out
    assert "notified  telegram  #1 #2 #3 #4 #5  written to outbox/" in out
    written = repo / "outbox" / "2026-02-08T14-30-00Z" / "new-telegram.html"
    text = written.read_text(encoding="utf-8")
    assert text.startswith("🎯 <b>5 neue Job-Matches</b>\n") and parse(text).error == ""
    assert main(["preview"], env) == 0
    assert "nothing was created or sent" in capsys.readouterr().out
    previewed = repo / "outbox" / "preview" / "2026-02-08T14-30-00Z" / "new-telegram.html"
    shown = previewed.read_text(encoding="utf-8")  # preview links to the GitLab project
    assert shown.startswith("🎯 <b>5 neue Job-Matches</b>\n") and parse(shown).error == ""
    assert '<a href="https://' in shown and "<a href" not in text  # no link to a file


def response(status: int, body: str, headers: dict[str, str] | None = None) -> requests.Response:
    """A response as `requests` hands it to the channel, without a server."""
    answer = requests.Response()
    answer.status_code, answer._content, answer.encoding = status, body.encode(), "utf-8"
    answer.headers.update(headers or {})
    return answer


SENT = '{"ok": true, "result": {"message_id": 42}}'
REFUSED = '{"ok": false, "error_code": 400, "description": "Bad Request: nope"}'
PROXY = "<html>Bad Gateway</html>"  # not the Bot API's answer


def test_every_status_and_answer_is_judged_sent_retried_maybe_sent_or_refused(
    api: TelegramBotApi,
) -> None:
    """Every status with each kind of body (issue 26: the exactly-once table): only 200
    with `ok: true` was sent; 429 took nothing (waited out); a 5xx, or a 200 that is not an
    `ok: false` answer, may have been sent (never repeated); any other `ok: false` or page
    was refused (the next run sends it)."""
    for status in range(100, 600):
        for body in (SENT, REFUSED, PROXY):
            judged = telegram(api)._judge(response(status, body))
            case = (status, body)
            if status == 200 and body == SENT:
                assert judged == Delivery("telegram", True, "sent as message 42"), case
            elif status == 429:
                assert isinstance(judged, Retry), case
            elif status >= 500 or (status == 200 and body != REFUSED):
                said = "Bad Request: nope" if body == REFUSED else body
                assert judged == Delivery(
                    "telegram",
                    False,
                    f"Telegram answered HTTP {status} {said}: it may have been sent",
                    transient=True,
                    maybe_delivered=True,
                ), case
            else:
                assert isinstance(judged, Delivery), case
                assert (judged.ok, judged.transient, judged.maybe_delivered) == (
                    False,
                    True,
                    False,
                ), case
                said = " Bad Request: nope" if body == REFUSED else ""
                assert judged.detail.startswith(
                    f"Telegram refused the message: HTTP {status}{said}: nothing was sent"
                ), case
    assert telegram(api)._judge(response(200, '{"ok": true}')) == Delivery("telegram", True, "ok")


@pytest.mark.parametrize(
    ("body", "headers", "wait"),
    [
        ('{"ok": false, "parameters": {"retry_after": 7}}', {"Retry-After": "9"}, 7.0),
        ('{"ok": false, "parameters": {"retry_after": 0}}', {"Retry-After": "9"}, 0.0),
        ('{"ok": false, "parameters": {"retry_after": 2.5}}', {}, 2.5),
        ('{"ok": false, "parameters": {"retry_after": -1}}', {"Retry-After": "9"}, 9.0),
        ('{"ok": false, "parameters": {"retry_after": true}}', {"Retry-After": "9"}, 9.0),
        ('{"ok": false, "parameters": {"retry_after": "7"}}', {"Retry-After": "9"}, 9.0),
        ('{"ok": false, "parameters": [7]}', {"Retry-After": "9"}, 9.0),
        (PROXY, {"Retry-After": "9"}, 9.0),
    ],
)
def test_429_waits_the_answers_retry_after_else_the_header(
    api: TelegramBotApi, body: str, headers: dict[str, str], wait: float
) -> None:
    judged = telegram(api)._judge(response(429, body, headers))
    assert isinstance(judged, Retry) and judged.wait == wait
    assert judged.detail == (
        f"Telegram rate limit (HTTP 429, retry after {wait:g} s): nothing was sent"
    )


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413])
def test_only_a_token_or_chat_refusal_holds_back_the_runs_other_messages(
    api: TelegramBotApi, status: int
) -> None:
    """401, 403 and 404 are the same for every message of the run (the token, the chat):
    sent once; another refusal is about that message only, the next one is still sent."""
    api.answer(status, "Refused")
    channel = telegram(api)
    first = channel.send(cycle(notice(1, 91, "K8s")))
    second = channel.send(cycle(notice(2, 91, "K9s")))
    assert not first.ok and first.detail.startswith(f"Telegram refused the message: HTTP {status}")
    if status in (401, 403, 404):
        assert second == first and api.requests == 1
    else:
        assert second.ok and api.requests == 2 and len(api.messages) == 1


def test_a_refusal_without_a_hint_ends_at_nothing_sent_and_answers_are_cut_at_200(
    api: TelegramBotApi,
) -> None:
    channel = telegram(api)
    assert channel._judge(response(400, REFUSED)) == Delivery(
        "telegram",
        False,
        "Telegram refused the message: HTTP 400 Bad Request: nope: nothing was sent",
        transient=True,
    )
    long = "x" * 300
    refused = channel._judge(response(400, json.dumps({"ok": False, "description": long})))
    assert f"HTTP 400 {'x' * 199}…: nothing was sent" in refused.detail
    page = channel._judge(response(502, long))
    assert f"HTTP 502 {'x' * 199}…: it may have been sent" in page.detail

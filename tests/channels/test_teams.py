"""The Microsoft Teams channel against a local Workflows webhook that checks the request
shape (tests/fakes/teams_server.py): the adapter alone, then through the CLI against the
fake GitLab (stage, digest, quiet hours, per match) and on the local tracker (outbox,
preview). Exactly once: a refusal is retried by the next run, a timeout never repeated."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests

from match_staging.channels.base import Delivery
from match_staging.channels.http import Retry
from match_staging.channels.teams import Teams
from match_staging.channels.teams_settings import TeamsChannel
from match_staging.cli import main
from match_staging.errors import ConfigError
from match_staging.notices import Alert, Notice, WebhookAlert, alert_payload, build
from tests.channels.cycles import cycle, notice
from tests.conftest import HUNG_TIMEOUT, FakeTime, bootstrapped_label_ids, owed
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.teams_server import SIG, TeamsWorkflow

DAY = "2026-02-08T14:30:00+01:00"
NIGHT = "2026-02-08T23:00:00+01:00"
MORNING = "2026-02-09T07:05:00+01:00"
CHANNELS = "MATCH_STAGING__NOTIFICATION__CHANNELS__"
HOSTILE = "<at>Ada</at> [Bonus](https://evil.example/x) **jetzt**\n- https://evil.example"


@pytest.fixture
def hook() -> Iterator[TeamsWorkflow]:
    with TeamsWorkflow() as server:
        yield server


def teams(hook: TeamsWorkflow, fake: FakeTime | None = None) -> Teams:
    fake = fake or FakeTime(datetime(2026, 2, 8, 13, 30, tzinfo=UTC))
    return Teams(
        TeamsChannel(enabled=True, webhook_url=hook.url), clock=fake.clock, sleep=fake.sleep
    )


# ------------------------------------------------------------------------ the adapter


def test_an_adaptive_card_with_a_fact_set_per_match(hook: TeamsWorkflow) -> None:
    result = teams(hook).send(
        cycle(notice(1, 97, "Cloud Architect"), notice(2, 83, "Energy IoT", "GULP"))
    )
    assert result.ok and result.detail == "ok"
    (post,) = hook.posts  # the fake refuses any other shape with 400
    assert hook.content_types == ["application/json; charset=utf-8"]
    assert post["type"] == "message"
    (attachment,) = post["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert [e["type"] for e in card["body"]] == ["TextBlock"] + ["TextBlock", "FactSet"] * 2
    assert hook.texts() == [
        "🎯 2 neue Job-Matches",
        "🔥 [97% Cloud Architect](https://gitlab.example.com/fl/backoffice/-/issues/1)",
        "Anbieter: Amoria Bond",
        "Ort: Heilbronn Remote",
        "Dauer: 3 Mo\\+",
        "✅ [83% Energy IoT](https://gitlab.example.com/fl/backoffice/-/issues/2)",
        "Anbieter: GULP",
        "Ort: Heilbronn Remote",
        "Dauer: 3 Mo\\+",
        "https://gitlab.example.com/fl/backoffice/-/issues?label_name%5B%5D=job-match%2Fpending",
    ]
    assert card["actions"][0]["type"] == "Action.OpenUrl"


def test_a_hostile_posting_cannot_link_mention_or_format(hook: TeamsWorkflow) -> None:
    evil = Notice(
        iid=1,
        score=95,
        title=HOSTILE,
        provider="[A](https://e.example) <at>B</at> _x_",
        issue_url="javascript:alert(1)",  # not http(s): no link at all
        source_url="https://jobs.example/1",
        location="{{DATE(2026-02-08T06:00:00Z, SHORT)}}\n1. Liste",
    )
    assert teams(hook).send(cycle(evil)).ok
    texts = hook.texts()
    blob = "\n".join(texts)
    # the only links are the ones the tool builds: Markdown links, autolinks, mentions,
    # emphasis, list markers and the card's date functions all arrive escaped
    assert "](" not in blob and "javascript" not in blob
    for raw in ("<at>", "[Bonus]", "**", "https://evil", "{{DATE", "\n- ", "\n1. ", " _x_"):
        assert raw not in blob, raw
    assert texts[1] == (
        "🔥 95% \\<at\\>Ada\\</at\\> \\[Bonus\\]\\(https\\://evil\\.example/x\\) "
        "\\*\\*jetzt\\*\\* \\- https\\://evil\\.example"
    )
    assert texts[2] == "Anbieter: \\[A\\]\\(https\\://e\\.example\\) \\<at\\>B\\</at\\> \\_x\\_"
    assert texts[3] == ("Ort: \\{\\{DATE\\(2026\\-02\\-08T06\\:00\\:00Z, SHORT\\)\\}\\} 1\\. Liste")
    assert "msteams" not in hook.cards()[0] or "entities" not in hook.cards()[0]["msteams"]


def test_an_operator_alert_is_a_card_too(hook: TeamsWorkflow) -> None:
    alert = Alert(
        token_expires=date(2026, 3, 1),
        days_left=1,
        webhooks=(WebhookAlert(url="https://ci.example/hook", status="disabled"),),
        tokens_url="https://gitlab.example.com/-/user_settings/personal_access_tokens",
        variables_url="javascript:alert(1)",  # never a link
        hooks_url="https://gitlab.example.com/fl/backoffice/-/hooks",
    )
    assert teams(hook).send(alert_payload(alert, "c1", "match-staging braucht dich")).ok
    texts = hook.texts()
    assert texts[0] == "⚠️ match-staging braucht dich"
    assert "am 2026\\-03\\-01 ab (in 1 Tag)" in texts[1] and "javascript" not in texts[1]
    assert "[ein neues Token anlegen oder rotieren](https://gitlab.example.com/" in texts[1]
    assert "abgeschaltet" in texts[2] and "hooks)" in texts[2]


def test_a_long_batch_is_cut_to_teams_size_with_more(hook: TeamsWorkflow) -> None:
    items = [notice(i, 70 + i % 30, "Very long title " + "ü" * 300) for i in range(1, 501)]
    assert teams(hook).send(cycle(*items)).ok  # the fake refuses over 28,000 bytes (413)
    body = json.dumps(hook.posts[0], ensure_ascii=False, separators=(",", ":")).encode()
    assert len(body) <= Teams.max_bytes
    shown = sum(1 for e in hook.cards()[0]["body"] if e["type"] == "FactSet")
    assert 10 < shown <= Teams.max_matches
    assert hook.texts()[-2] == f"… +{500 - shown} weitere"


def test_a_rate_limit_is_waited_out_and_retried(hook: TeamsWorkflow) -> None:
    hook.answer(429, "WorkflowTriggeredTooFrequently", Retry_After="7")
    fake = FakeTime(datetime(2026, 2, 8, 13, 30, tzinfo=UTC))
    result = teams(hook, fake).send(cycle(notice(1, 91, "K8s")))
    assert result.ok
    assert fake.waits == [7.0]
    assert hook.requests == 2 and len(hook.posts) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413])
def test_a_refusal_is_nothing_sent_and_never_shows_the_signature(
    hook: TeamsWorkflow, status: int
) -> None:
    hook.answer(status, "DirectApiAuthorizationRequired")  # its message echoes the URL
    result = teams(hook).send(cycle(notice(1, 91, "K8s")))
    assert not result.ok and result.transient and not result.maybe_delivered
    assert result.detail.startswith(
        f"Teams refused the message: HTTP {status} DirectApiAuthorizationRequired"
    )
    assert "nothing was sent" in result.detail
    assert SIG not in result.detail and "/workflows/" not in result.detail
    assert hook.requests == 1  # reported once: a refusal is not retried within the run


def test_an_error_echoing_the_url_is_masked_before_it_is_cut(hook: TeamsWorkflow) -> None:
    hook.answer(400, "InvalidTemplate" * 10)  # the URL and its signature cross the cut
    result = teams(hook).send(cycle(notice(1, 91, "K8s")))
    assert not result.ok and "CANARY" not in result.detail and "api-version" not in result.detail


def test_a_timeout_may_have_been_posted(
    hook: TeamsWorkflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Teams, "timeout", HUNG_TIMEOUT)
    hook.delay = 0.6
    hook.hang()
    result = teams(hook).send(cycle(notice(1, 91, "K8s")))
    assert not result.ok and result.maybe_delivered
    assert result.detail.endswith("(ReadTimeout): it may have been posted")
    assert SIG not in result.detail
    assert hook.requests == 1


@pytest.mark.parametrize("status", [502, 504])
def test_a_gateway_error_may_have_been_posted(hook: TeamsWorkflow, status: int) -> None:
    hook.answer(status, "BadGateway")
    result = teams(hook).send(cycle(notice(1, 91, "K8s")))
    assert not result.ok and result.maybe_delivered and hook.requests == 1


def test_a_dead_endpoint_never_reveals_the_signature() -> None:
    fake = FakeTime()
    channel = Teams(
        TeamsChannel(enabled=True, webhook_url=f"http://127.0.0.1:9/workflows/x?sig={SIG}"),
        clock=fake.clock,
        sleep=fake.sleep,
    )
    result = channel.send(cycle(notice(1, 91, "K8s")))
    assert not result.ok and result.transient and not result.maybe_delivered
    assert SIG not in result.detail and "127.0.0.1:9" in result.detail


def test_per_match_messages_keep_one_per_second(hook: TeamsWorkflow) -> None:
    fake = FakeTime(datetime(2026, 2, 8, 13, 30, tzinfo=UTC))
    channel = teams(hook, fake)
    for n in range(3):
        assert channel.send(cycle(notice(n + 1, 90, f"T{n}"))).ok
        fake.now += timedelta(seconds=0.25)
    assert len(hook.posts) == 3 and fake.waits == [0.75, 0.75]


@pytest.mark.parametrize("url", ["", "not a url", "ftp://x/y"])
def test_webhook_url_is_validated_when_built(url: str) -> None:
    with pytest.raises(ConfigError, match=r"notification\.channels\.teams\.webhook_url"):
        Teams(TeamsChannel(enabled=True, webhook_url=url))


# ------------------------------------------------------------------ through the CLI


@dataclass
class World:
    gitlab: FakeGitLab
    teams: TeamsWorkflow

    def env(self, now: str = DAY, **extra: str) -> dict[str, str]:
        return {
            "GITLAB_URL": self.gitlab.url,
            "GITLAB_TOKEN": self.gitlab.token,
            "GITLAB_PROJECT": "1",
            "MATCH_STAGING_NOW": now,
            f"{CHANNELS}TEAMS__ENABLED": "true",
            "TEAMS_WEBHOOK_URL": self.teams.url,
            **extra,
        }


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setattr("match_staging.trackers.gitlab.RETRY_PAUSE_SECONDS", 0)
    with FakeGitLab() as gitlab, TeamsWorkflow() as hook:
        bootstrapped_label_ids(gitlab)  # labels first, as bootstrap leaves a project
        yield World(gitlab, hook)


def run(
    world: World, capsys: pytest.CaptureFixture[str], *argv: str, now: str = DAY, **extra: str
) -> tuple[int, str]:
    code = main(list(argv), world.env(now, **extra))
    captured = capsys.readouterr()
    assert SIG not in captured.out + captured.err
    return code, captured.out + captured.err


def test_stage_posts_one_card_once(
    repo: Path, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(world, capsys, "stage")
    assert code == 0, out
    assert "notified  teams     #1 #2 #3 #4 #5  ok" in out
    assert len(world.teams.posts) == 1
    assert world.teams.texts()[0] == "🎯 5 neue Job-Matches"
    assert owed(world.gitlab) == []
    code, out = run(world, capsys, "stage")
    assert code == 0 and "notified" not in out and len(world.teams.posts) == 1


def test_per_match_one_card_each(
    repo: Path, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(
        world, capsys, "stage", MATCH_STAGING__NOTIFICATION__PREFERENCES__BATCH_MODE="false"
    )
    assert code == 0, out
    assert len(world.teams.posts) == 5
    assert all(texts(world, i)[0] == "🎯 1 neue Job-Matches" for i in range(5))


def texts(world: World, index: int) -> list[str]:
    return world.teams.texts(index)


def test_a_refusal_is_reported_once_and_sent_by_the_next_run(
    repo: Path, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.teams.answer(403, "DirectApiAuthorizationRequired")
    code, out = run(world, capsys, "stage")
    assert code == 1
    failed = [line for line in out.splitlines() if line.startswith("failed")]
    assert failed == [
        "failed    teams     #1 #2 #3 #4 #5  Teams refused the message: HTTP 403 "
        "DirectApiAuthorizationRequired DirectApiAuthorizationRequired (***): nothing was "
        "sent; the workflow is off, deleted or lost its owner, or its URL is wrong: copy the "
        "URL of its trigger into TEAMS_WEBHOOK_URL (retried by the next run)"
    ]
    assert world.teams.requests == 1 and world.teams.posts == []
    assert owed(world.gitlab) == [(i, "teams") for i in range(1, 6)]

    code, out = run(world, capsys, "digest")
    assert code == 0, out
    assert "notified  teams     #1 #2 #3 #4 #5  ok" in out
    assert len(world.teams.posts) == 1 and owed(world.gitlab) == []


def test_a_timeout_is_never_repeated(
    repo: Path, world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Teams, "timeout", HUNG_TIMEOUT)
    world.teams.delay = 0.6
    world.teams.hang()
    code, out = run(world, capsys, "stage")
    assert code == 1
    assert re.search(
        r"failed    teams     #1 #2 #3 #4 #5  no answer from 127\.0\.0\.1:\d+ \(ReadTimeout\): "
        r"it may have been posted \(not repeated\)",
        out,
    ), out
    assert len(world.teams.posts) == 1 and owed(world.gitlab) == []
    code, out = run(world, capsys, "digest")
    assert world.teams.requests == 1 and "teams" not in out


def test_a_rate_limit_is_waited_out_within_the_run(
    repo: Path, world: World, capsys: pytest.CaptureFixture[str], fake_time: FakeTime
) -> None:
    world.teams.answer(429, "WorkflowTriggeredTooFrequently", Retry_After="9")
    code, out = run(world, capsys, "stage")
    assert code == 0, out
    assert 9.0 in fake_time.waits
    assert world.teams.requests == 2 and len(world.teams.posts) == 1


def test_quiet_hours_defer_the_card_to_digest(
    repo: Path, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(world, capsys, "stage", now=NIGHT)
    assert code == 0
    assert "deferred  #1 #2 #3 #4 #5  quiet hours until 07:00 CET" in out
    assert world.teams.requests == 0
    code, out = run(world, capsys, "digest", now=MORNING)
    assert code == 0, out
    assert len(world.teams.posts) == 1 and world.teams.texts()[0] == "🎯 5 neue Job-Matches"


def test_local_outbox_and_preview_write_the_card(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {f"{CHANNELS}TEAMS__ENABLED": "true", "MATCH_STAGING_NOW": DAY}
    assert main(["stage"], env) == 0
    card = repo / "outbox" / "2026-02-08T14-30-00Z" / "new-teams.json"
    posted = json.loads(card.read_text(encoding="utf-8"))
    assert posted["attachments"][0]["content"]["body"][0]["text"] == "🎯 5 neue Job-Matches"
    assert main(["preview"], env) == 0
    preview = repo / "outbox" / "preview" / "2026-02-08T14-30-00Z" / "new-teams.json"
    previewed = json.loads(preview.read_text(encoding="utf-8"))
    assert (
        previewed["attachments"][0]["content"]["body"][0]
        == posted["attachments"][0]["content"]["body"][0]
    )
    assert "PREVIEW" not in preview.read_text(encoding="utf-8")  # the placeholder URL
    capsys.readouterr()


def test_a_users_card_template_that_is_not_json_is_one_clear_failure(
    hook: TeamsWorkflow, tmp_path: Path
) -> None:
    (tmp_path / "teams.json.j2").write_text('{"type": "AdaptiveCard",', encoding="utf-8")
    channel = Teams(TeamsChannel(enabled=True, webhook_url=hook.url), str(tmp_path))
    result = channel.send(cycle(notice(1, 91, "K8s")))
    assert not result.ok and not result.maybe_delivered and hook.requests == 0
    assert result.detail.startswith("templates/teams.json.j2: does not render JSON")


def test_a_reminder_says_the_matches_wait(hook: TeamsWorkflow) -> None:
    payload = build("reminder", "c1", [notice(1, 91, "K8s")], "job-match/pending")
    assert teams(hook).send(payload).ok
    assert hook.texts()[0] == "🎯 1 Job-Matches warten auf Review"


def test_config_masks_the_workflow_url(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"https://prod.westeurope.logic.azure.com/workflows/abc/triggers/manual?sig={SIG}"
    assert main(["config"], {"TEAMS_WEBHOOK_URL": url, f"{CHANNELS}TEAMS__ENABLED": "true"}) == 0
    out = capsys.readouterr().out
    assert "webhook_url: '***'" in out and SIG not in out and "logic.azure" not in out


def answer(status: int, body: str = "", headers: dict[str, str] | None = None) -> requests.Response:
    """A response as `requests` hands it to the channel, without a server."""
    response = requests.Response()
    response.status_code, response._content, response.encoding = status, body.encode(), "utf-8"
    response.headers.update(headers or {})
    return response


def test_every_status_is_judged_taken_retried_maybe_posted_or_refused(
    hook: TeamsWorkflow,
) -> None:
    """Every HTTP status a workflow could answer (issue 26: the exactly-once table): 2xx
    was taken; 429, 500 and 503 took nothing (retried in the run); another 5xx may have
    been posted (never repeated); anything else was refused (sent by the next run)."""
    channel = teams(hook)
    for status in range(100, 600):
        judged = channel._judge(answer(status, '{"error": {"code": "X", "message": "m"}}'))
        if 200 <= status <= 299:
            assert judged == Delivery("teams", True, "ok"), status
        elif status in (429, 500, 503):
            assert isinstance(judged, Retry), status
            assert judged.detail == f"Teams answered HTTP {status} X m: nothing was sent"
        elif status >= 500:
            assert judged == Delivery(
                "teams",
                False,
                f"Teams answered HTTP {status} X m: it may have been posted",
                transient=True,
                maybe_delivered=True,
            ), status
        else:
            assert isinstance(judged, Delivery), status
            assert (judged.ok, judged.transient, judged.maybe_delivered) == (False, True, False)
            assert judged.detail.startswith(
                f"Teams refused the message: HTTP {status} X m: nothing was sent; "
            ), judged.detail
    waited = channel._judge(answer(429, "", {"Retry-After": "7"}))
    assert isinstance(waited, Retry) and waited.wait == 7.0


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        ('{"error": {"code": "X", "message": "m"}}', "X m"),
        ('{"error": {"message": "m"}}', "m"),  # no code: nothing in its place
        ('{"error": {"code": "X"}}', "X"),
        ('{"other": 1}', ""),  # JSON, but no error: nothing of it
        ("[1]", "[1]"),  # not Power Automate's answer: the text itself
        ("Bad <b>Gateway</b>", "Bad <b>Gateway</b>"),
        ('{"error": {"code": "X", "message": "' + "m" * 300 + '"}}', "X " + "m" * 197 + "…"),
    ],
)
def test_the_answer_shown_of_a_refusal(hook: TeamsWorkflow, body: str, shown: str) -> None:
    """Power Automate's error code and message, one line of at most 200 characters."""
    judged = teams(hook)._judge(answer(400, body))
    assert isinstance(judged, Delivery)
    assert judged.detail.startswith(f"Teams refused the message: {f'HTTP 400 {shown}'.strip()}:")


def test_a_card_template_that_is_not_json_sends_nothing_exactly(
    hook: TeamsWorkflow, tmp_path: Path
) -> None:
    (tmp_path / "teams.json.j2").write_text('{"type": "AdaptiveCard",', encoding="utf-8")
    channel = Teams(TeamsChannel(enabled=True, webhook_url=hook.url), str(tmp_path))
    result = channel.send(cycle(notice(1, 91, "K8s")))
    assert result == Delivery("teams", False, result.detail) and hook.requests == 0
    assert result.detail.endswith(": nothing was sent")

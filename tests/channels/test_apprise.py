"""Apprise through the CLI: real `json://` URLs (Apprise's Custom JSON plugin, its real HTTP
code) pointed at a local endpoint, against the fake GitLab. Each URL is its own channel in
the delivery queue; a URL that failed is never posted again (Apprise says only yes or no);
the URLs never appear in any output."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from match_staging.channels.apprise import Apprise
from match_staging.channels.apprise_settings import AppriseChannel
from match_staging.channels.base import Delivery
from match_staging.cli import main
from match_staging.errors import ConfigError
from match_staging.notices import Notice, build
from tests.conftest import match, owed, write
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.json_server import JsonEndpoint

DAY = "2026-02-08T14:30:00+01:00"
HOSTILE = "Lead <b>Dev</b> @everyone <!channel> see https://evil.example/x"


@pytest.fixture
def endpoint() -> Iterator[JsonEndpoint]:
    pytest.importorskip("apprise")
    with JsonEndpoint() as server:
        yield server


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    with FakeGitLab() as server:
        yield server


def env(gitlab: FakeGitLab, urls: str, now: str = DAY) -> dict[str, str]:
    return {
        "GITLAB_URL": gitlab.url,
        "GITLAB_TOKEN": gitlab.token,
        "GITLAB_PROJECT": "1",
        "MATCH_STAGING_NOW": now,
        "MATCH_STAGING__NOTIFICATION__CHANNELS__APPRISE__ENABLED": "true",
        "APPRISE_URLS": urls,
    }


def run(
    capsys: pytest.CaptureFixture[str], argv: list[str], environ: dict[str, str]
) -> tuple[int, str]:
    capsys.readouterr()
    code = main(argv, environ)
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert "Traceback" not in out and "CANARY" not in out, out  # the URLs are secrets
    return code, out


def test_each_json_url_gets_one_post_per_cycle_and_a_rerun_sends_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str], endpoint: JsonEndpoint, gitlab: FakeGitLab
) -> None:
    write(
        repo / "in.json",
        [match(title=HOSTILE), match(title="Cloud Architect", url="https://j.example/2")],
    )
    first = endpoint.url("hook/CANARY-one", "CANARYuser:CANARYpass")
    urls = f"{first}, {endpoint.url('hook/CANARY-two')}"
    code, out = run(capsys, ["stage", "in.json"], env(gitlab, urls))
    assert code == 0, out
    assert len([li for li in out.splitlines() if li.startswith("notified  apprise-json-")]) == 2
    one, two = endpoint.received("/hook/CANARY-one"), endpoint.received("/hook/CANARY-two")
    assert len(one) == 1 and len(two) == 1 and one == two
    post = one[0]
    assert post["version"] == "1.0" and post["type"] == "info" and post["attachments"] == []
    assert post["title"].startswith("2 neue")
    body = post["message"]
    assert "2 neue Job-Matches" in body and f"Review: {gitlab.url}/" in body
    # the posting's mention and autolink are broken; Apprise escapes the rest per service
    assert "@everyone" not in body and "https://evil.example" not in body
    assert [u for _, u, _ in endpoint.posts].count("CANARYuser") == 1  # basic auth went out
    assert owed(gitlab) == []

    code, out = run(capsys, ["stage", "in.json"], env(gitlab, urls))
    code, out = run(capsys, ["digest"], env(gitlab, urls, "2026-02-08T16:30:00+01:00"))
    assert len(endpoint.posts) == 2  # nothing twice


def test_a_failed_url_is_never_posted_again_and_holds_back_no_other(
    repo: Path, capsys: pytest.CaptureFixture[str], endpoint: JsonEndpoint, gitlab: FakeGitLab
) -> None:
    endpoint.answers["/CANARY-down"] = [500]
    urls = f"{endpoint.url('CANARY-down')} {endpoint.url('CANARY-up')}"
    code, out = run(capsys, ["stage"], env(gitlab, urls))
    assert code == 1, out
    (failed,) = [li for li in out.splitlines() if li.startswith("failed")]
    assert "Apprise (json://) reported a failure" in failed and "not repeated" in failed
    assert len(endpoint.received("/CANARY-up")) == 1
    assert len(endpoint.received("/CANARY-down")) == 1  # it arrived: a 500 may follow a post
    assert owed(gitlab) == []  # at-most-once: not queued again
    run(capsys, ["digest"], env(gitlab, urls, "2026-02-08T16:30:00+01:00"))
    assert len(endpoint.received("/CANARY-down")) == 1


def test_urls_are_split_masked_and_named_by_key_never_by_value(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    environ = {
        "MATCH_STAGING__NOTIFICATION__CHANNELS__APPRISE__ENABLED": "true",
        "APPRISE_URLS": "tgram://CANARY1/chat,  discord://CANARY2/tok",
    }
    code, out = run(capsys, ["config"], environ)
    assert code == 0 and "urls: '***'" in out, out
    settings = AppriseChannel(enabled=True, urls=["tgram://CANARY1/chat, discord://CANARY2/tok"])
    names = [c.name for c in Apprise(settings).each()]
    assert len(names) == 2 and names[0].startswith("apprise-tgram-")
    assert names[1].startswith("apprise-discord-") and "CANARY" not in "".join(names)
    with pytest.raises(ConfigError) as bad:
        Apprise(AppriseChannel(enabled=True, urls=["not-a-url-CANARY"]))
    assert "urls[0]" in str(bad.value) and "CANARY" not in str(bad.value)


def test_every_outcome_of_a_send_and_what_apprise_was_handed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each point a send can fail at (issue 26: the exactly-once table): before anything
    left (no library: sent by the next run; a URL Apprise does not know: nothing to retry
    until the settings change), or after the body was handed to Apprise (it answered no or
    raised: it may have arrived, never repeated); and the exact title and body handed over."""
    apprise = pytest.importorskip("apprise")
    url = "json://127.0.0.1:9/CANARY"
    channel = Apprise(AppriseChannel(enabled=True, urls=[url]))
    notice = Notice(1, 91, "K8s", "Acme", "https://gl.example/i/1", "https://jobs.example/1")
    payload = build("new", "c1", [notice], "job-match/pending", summary="1 neuer Match")
    title, body = channel.message(payload)
    handed: list[dict[str, object]] = []
    answers: list[object] = []

    def notify(self: object, **kwargs: object) -> object:
        handed.append(kwargs)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(apprise.Apprise, "notify", notify)
    answers[:] = [True, False, ConnectionError("refused"), 0]
    sent, said_no, raised, falsy = (channel.send(payload) for _ in range(4))
    assert sent == Delivery(channel.name, True, "ok")
    assert handed == [{"body": body, "title": title, "body_format": apprise.NotifyFormat.TEXT}] * 4
    for failed, why in ((said_no, "it answered failure"), (raised, "ConnectionError")):
        assert failed == Delivery(
            channel.name,
            False,
            f"Apprise (json://) reported a failure ({why}): it may have been sent (Apprise "
            "says only yes or no), so it is not repeated",
            maybe_delivered=True,
        )
    assert falsy == said_no

    unknown = Apprise(AppriseChannel(enabled=True, urls=["nosuchservice://CANARY/x"]))
    assert unknown.send(payload) == Delivery(
        unknown.name,
        False,
        "Apprise does not know this nosuchservice:// URL (or it is malformed): nothing was "
        "sent; check notification.channels.apprise.urls",
    )
    monkeypatch.setitem(sys.modules, "apprise", None)  # the extra is not installed
    missing = channel.send(payload)
    assert missing == Delivery(
        channel.name,
        False,
        "the Apprise library is not installed (pip install 'match-staging[apprise]'): "
        "nothing was sent",
        transient=True,
    )
    assert len(handed) == 4  # neither reached Apprise's notify

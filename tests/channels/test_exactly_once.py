"""Issue 14 through the CLI: on the Gmail and WhatsApp paths too, a notification arrives once
and is never lost. A failure before anything left the machine is retried by the next run; a
failure after the request may have been received is never repeated; and WhatsApp's late
refusals (63016) are reported by the next `digest`, once.

The real CLI against the fake GitLab; Gmail through the real google-auth and httplib2 (the
token endpoint a real socket on 127.0.0.1, the Gmail API answered by a scripted
httplib2.Http); Twilio through its real client with `responses` as the HTTP layer. No test
sleeps: time.sleep is replaced and every wait is recorded."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
import responses

from match_staging.cli import main
from match_staging.trackers import ledger
from tests.conftest import bootstrapped_label_ids, owed
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.google import OK, Google, TokenEndpoint, unresolvable

DAY = "2026-02-08T14:30:00+01:00"
LATER = "2026-02-08T16:30:00+01:00"
ACCOUNT = "AC" + "0123456789abcdef" * 2
TWILIO_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
CHANNELS = "MATCH_STAGING__NOTIFICATION__CHANNELS__"
MATCHES = 5  # in matches-inbox/


class Twilio:
    """Twilio's Messages API behind `responses`: `answers` script the creates (an
    exception to raise, else the message is queued), `statuses` what the listing says
    about each message later. GitLab and the token endpoint (127.0.0.1) pass."""

    def __init__(self) -> None:
        # an exception to raise, or an HTTP answer (status, JSON body, headers)
        self.answers: list[Exception | tuple[int, dict[str, object], dict[str, str]]] = []
        self.created: list[dict[str, list[str]]] = []
        self.statuses: dict[str, tuple[str, int | None]] = {}
        self.listings: list[dict[str, list[str]]] = []
        self.mock = responses.RequestsMock(
            assert_all_requests_are_fired=False, passthru_prefixes=("http://127.0.0.1",)
        )
        self.mock.add_callback(
            responses.POST, TWILIO_URL, callback=self._create, content_type="application/json"
        )
        self.mock.add_callback(
            responses.GET, TWILIO_URL, callback=self._list, content_type="application/json"
        )

    def _create(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, Exception):
            raise answer
        if answer is not None:
            status, data, headers = answer
            return status, headers, json.dumps(data)
        body = request.body
        self.created.append(parse_qs(body.decode() if isinstance(body, bytes) else str(body or "")))
        sid = f"SM{len(self.created):032x}"
        self.statuses[sid] = ("queued", None)
        return 201, {}, json.dumps({"sid": sid, "status": "queued", "account_sid": ACCOUNT})

    def _list(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        self.listings.append(parse_qs(str(request.url).split("?", 1)[1]))
        messages = [
            {
                "sid": sid,
                "status": status,
                "error_code": code,
                "error_message": None,
                "direction": "outbound-api",
                "to": "whatsapp:+436644011521",
                "from": "whatsapp:+14155238886",
                "messaging_service_sid": None,
                "account_sid": ACCOUNT,
                "date_sent": "Sun, 08 Feb 2026 13:30:05 +0000",
            }
            for sid, (status, code) in reversed(self.statuses.items())
        ]
        return (
            200,
            {},
            json.dumps({"messages": messages, "next_page_uri": None, "page": 0, "page_size": 1000}),
        )


@dataclass
class World:
    gitlab: FakeGitLab
    twilio: Twilio
    google: Google
    token: TokenEndpoint
    repo: Path
    capsys: pytest.CaptureFixture[str]
    sleeps: list[float]
    channels: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)

    def env(self, now: str) -> dict[str, str]:
        env = {
            "GITLAB_URL": self.gitlab.url,
            "GITLAB_TOKEN": self.gitlab.token,
            "GITLAB_PROJECT": "1",
            "MATCH_STAGING_NOW": now,
        }
        if "gmail" in self.channels:
            credentials = self.repo / "gmail.json"
            credentials.write_text(
                json.dumps(
                    {
                        "type": "authorized_user",
                        "client_id": "id.apps.googleusercontent.com",
                        "client_secret": "gmail-client-secret",
                        "refresh_token": "1//refresh",
                    }
                ),
                encoding="utf-8",
            )
            env.update(
                {
                    f"{CHANNELS}EMAIL__ENABLED": "true",
                    f"{CHANNELS}EMAIL__TRANSPORT": "gmail",
                    "GMAIL_CREDENTIALS_FILE": str(credentials),
                }
            )
        if "whatsapp" in self.channels:
            env.update(
                {
                    f"{CHANNELS}WHATSAPP__ENABLED": "true",
                    "TWILIO_ACCOUNT_SID": ACCOUNT,
                    "TWILIO_AUTH_TOKEN": "CANARY-twilio-token",
                    f"{CHANNELS}WHATSAPP__FROM_NUMBER": "+14155238886",
                }
            )
        return {**env, **self.extra}

    def run(self, *argv: str, now: str = DAY) -> tuple[int, str]:
        self.capsys.readouterr()
        code = main(list(argv), self.env(now))
        captured = self.capsys.readouterr()
        out = captured.out + captured.err
        self.outputs.append(f"$ match-staging {' '.join(argv)} -> {code}\n{out}")
        assert "Traceback" not in out and "CANARY" not in out, out
        return code, out

    def queued(self) -> list[tuple[int, str]]:
        return owed(self.gitlab)

    def ledger_notes(self) -> list[str]:
        """The WhatsApp status records in the run log (the delivery queue has its own)."""
        iids = [i["iid"] for i in self.gitlab.issues.values() if ledger.LABEL in i["labels"]]
        return [
            n["body"]
            for iid in iids
            for n in self.gitlab.notes.get(iid, [])
            if "`whatsapp-status` record" in n["body"]
        ]


@pytest.fixture
def world(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    pytest.importorskip("twilio")
    pytest.importorskip("googleapiclient")
    sleeps: list[float] = []
    monkeypatch.setattr(time, "sleep", sleeps.append)  # the channels' waits, recorded
    monkeypatch.setattr("match_staging.trackers.gitlab.RETRY_PAUSE_SECONDS", 0)
    token = TokenEndpoint()
    google = Google([], token.url)
    google.install(monkeypatch)
    twilio = Twilio()
    with FakeGitLab() as gitlab, twilio.mock:
        bootstrapped_label_ids(gitlab)  # labels first, as bootstrap leaves a project
        yield World(gitlab, twilio, google, token, repo, capsys, sleeps)
    token.stop()


def issues_line(out: str, state: str, channel: str) -> str:
    lines = [line for line in out.splitlines() if line.startswith(f"{state:<9} {channel}")]
    assert len(lines) == 1, out
    return lines[0]


# --- Gmail: the token endpoint down, then up ---------------------------------------------


@pytest.mark.parametrize("down", ["closed port", "unknown host"])
def test_gmail_token_endpoint_down_then_up_delivers_on_the_next_run_once(
    world: World, monkeypatch: pytest.MonkeyPatch, down: str
) -> None:
    world.channels = ("gmail",)
    world.google.gmail = [OK]
    with monkeypatch.context() as during:
        if down == "unknown host":
            world.google.token_url = ""  # to oauth2.googleapis.com, which does not resolve
            unresolvable(during, "oauth2.googleapis.com")
        code, out = world.run("stage")
    assert code == 1, out
    failed = issues_line(out, "failed", "email")
    name = "ConnectionRefusedError" if down == "closed port" else "TransportError"
    assert failed.endswith(
        f"no answer from Google's token endpoint ({name}): nothing was "
        "sent (retried by the next run)"
    ), failed
    assert "may have" not in out
    assert world.google.sent == []
    assert [channel for _, channel in world.queued()] == ["email"] * MATCHES

    world.token.start()
    world.google.token_url = world.token.url
    code, out = world.run("digest", now=LATER)
    assert code == 0, out
    assert "sent through the Gmail API as message 18c0ffee" in issues_line(out, "notified", "email")
    assert len(world.google.sent) == 1 and world.token.hits == 1
    assert world.queued() == []

    code, out = world.run("digest", now=LATER)
    assert code == 0 and "notified" not in out, out
    assert len(world.google.sent) == 1
    assert world.sleeps == []


def test_gmail_dropped_connection_after_sending_is_not_repeated(world: World) -> None:
    world.channels = ("gmail",)
    world.token.start()
    world.google.gmail = [ConnectionResetError(104, "Connection reset by peer"), OK]
    code, out = world.run("stage")
    assert code == 1
    assert issues_line(out, "failed", "email").endswith(
        "no answer from the Gmail API (ConnectionResetError): it may have been sent (not repeated)"
    )
    assert world.queued() == []
    code, out = world.run("digest", now=LATER)
    assert code == 0 and "notified" not in out, out
    assert world.google.gmail == [OK]  # the scripted OK was never asked for


# --- WhatsApp: before and after the request left ------------------------------------------


def test_twilio_read_timeout_is_not_repeated(world: World) -> None:
    world.channels = ("whatsapp",)
    world.twilio.answers = [requests.ReadTimeout("read timed out")]
    code, out = world.run("stage")
    assert code == 1
    assert issues_line(out, "failed", "whatsapp").endswith(
        "no answer from api.twilio.com (ReadTimeout): it may have been queued (not repeated)"
    )
    assert world.queued() == []
    code, out = world.run("digest", now=LATER)
    assert code == 0, out
    assert "notified" not in out and world.twilio.created == []
    assert len(world.twilio.listings) == 1  # the status check looked, found nothing failed


def test_twilio_connection_refused_is_sent_by_the_next_run_once(world: World) -> None:
    from urllib3.connection import HTTPSConnection
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    refused = NewConnectionError(
        HTTPSConnection("api.twilio.com"), "Failed to establish a new connection: [Errno 111]"
    )
    world.channels = ("whatsapp",)
    gave_up = MaxRetryError(None, TWILIO_URL, refused)  # type: ignore[arg-type]
    world.twilio.answers = [requests.ConnectionError(gave_up)]
    code, out = world.run("stage")
    assert code == 1
    assert issues_line(out, "failed", "whatsapp").endswith(
        "could not connect to api.twilio.com (ConnectionError): nothing was sent "
        "(retried by the next run)"
    )
    assert [channel for _, channel in world.queued()] == ["whatsapp"] * MATCHES
    code, out = world.run("digest", now=LATER)
    assert code == 0, out
    assert "queued as SM" in issues_line(out, "notified", "whatsapp")
    code, out = world.run("digest", now=LATER)
    assert code == 0 and "notified" not in out
    assert len(world.twilio.created) == 1


def test_twilio_429_names_its_code_and_waits_as_told(world: World) -> None:
    world.channels = ("whatsapp",)
    busy = (
        429,
        {"code": 20429, "message": "Too Many Requests", "status": 429},
        {"Retry-After": "2"},
    )
    world.twilio.answers = [busy, busy, busy]
    code, out = world.run("stage")
    assert code == 1
    assert issues_line(out, "failed", "whatsapp").endswith(
        "Twilio rate limit (HTTP 429, error 20429) after 3 attempt(s): nothing was sent "
        "(retried by the next run)"
    )
    assert world.sleeps == [2.0, 2.0]  # as Twilio asked; recorded, never slept
    assert world.run("digest", now=LATER)[0] == 0
    assert len(world.twilio.created) == 1


# --- WhatsApp: a refusal that comes later -------------------------------------------------


def test_undelivered_63016_is_reported_by_the_next_digest_once(world: World) -> None:
    world.channels = ("whatsapp",)
    code, out = world.run("stage")
    assert code == 0, out
    [sid] = world.twilio.statuses
    assert issues_line(out, "notified", "whatsapp").endswith(f"queued as {sid}")
    world.twilio.statuses[sid] = ("undelivered", 63016)  # WhatsApp refused it, later

    code, out = world.run("digest", now=LATER)
    assert code == 1, out
    [line] = [li for li in out.splitlines() if li.startswith("undelivered whatsapp")]
    assert line == (
        f"undelivered whatsapp  message {sid} of 2026-02-08 13:30 UTC was "
        "undelivered, Twilio error 63016: outside WhatsApp's 24-hour window "
        "free-form text fails: configure notification.channels.whatsapp."
        "content_sid, an approved WhatsApp template the tool then sends instead "
        "of free text"
    )
    assert world.twilio.listings[-1] == {
        "To": ["whatsapp:+436644011521"],
        "From": ["whatsapp:+14155238886"],
        "DateSent>": ["2026-02-06"],
        "PageSize": ["1000"],
    }
    assert len(world.ledger_notes()) == 1

    code, out = world.run("digest", now=LATER)
    assert code == 0, out
    assert "undelivered" not in out
    assert len(world.ledger_notes()) == 1  # nothing new, nothing written
    assert len(world.twilio.listings) == 2 and len(world.twilio.created) == 1


def test_a_second_failure_is_reported_alone(world: World) -> None:
    world.channels = ("whatsapp",)
    world.run("stage")
    [first] = world.twilio.statuses
    world.twilio.statuses[first] = ("failed", 63016)
    assert world.run("digest", now=LATER)[0] == 1
    world.twilio.statuses["SM" + "e" * 32] = ("failed", 63003)  # another message, later
    code, out = world.run("digest", now=LATER)
    assert code == 1
    reported = [li for li in out.splitlines() if li.startswith("undelivered")]
    assert len(reported) == 1 and "SM" + "e" * 32 in reported[0] and "63003" in reported[0]
    assert world.run("digest", now=LATER)[0] == 0


def test_the_status_check_costs_no_gitlab_request_when_all_arrived(world: World) -> None:
    world.channels = ("whatsapp",)
    world.run("stage")
    world.twilio.statuses = {sid: ("delivered", None) for sid in world.twilio.statuses}
    world.run("digest", now=LATER)  # the first digest takes the queue over once
    world.gitlab.reset_log()
    code, out = world.run("digest", now=LATER)
    assert code == 0, out
    # nothing written; the reads are the delivery queue's, which digest reads anyway
    assert world.gitlab.count("POST") == world.gitlab.count("PUT") == 0
    assert world.ledger_notes() == []


# --- send: the application ------------------------------------------------------------------


def test_send_with_the_token_endpoint_down_sent_nothing_and_can_send_later(world: World) -> None:
    """Issue 14: `send` said "it may have gone out" when only the token refresh failed."""
    world.channels = ("gmail",)
    world.extra = {f"{CHANNELS}EMAIL__ENABLED": "false"}  # the transport, no notification
    assert world.run("stage")[0] == 0
    code, out = world.run("review", "1", "--approve")
    assert code == 0, out
    code, out = world.run("send", "1")
    assert code == 1
    assert out.startswith(
        "failed    #1: no answer from Google's token endpoint "
        "(ConnectionRefusedError): nothing was sent"
    ), out
    assert "may have" not in out and "--force" not in out
    assert world.google.sent == []

    world.token.start()
    world.google.gmail = [OK]
    code, out = world.run("send", "1")  # no --force needed: nothing went out before
    assert code == 0, out
    assert out.startswith("sent      #1: application sent to projekte@amoriabond.example"), out
    [application] = world.google.sent
    assert application["To"] == "projekte@amoriabond.example"


def test_a_forged_run_log_record_cannot_hide_a_failure(world: World) -> None:
    world.channels = ("whatsapp",)
    world.run("stage")
    [first] = world.twilio.statuses
    world.twilio.statuses[first] = ("failed", 63016)
    assert world.run("digest", now=LATER)[0] == 1  # creates the run-log issue
    [log] = [i for i in world.gitlab.issues.values() if ledger.LABEL in i["labels"]]
    assert log["confidential"] and log["author"]["id"] == 1
    second = "SM" + "e" * 32
    world.twilio.statuses[second] = ("undelivered", 63016)
    forged = ledger.note_body(
        "whatsapp-status", {"reported": [first, second]}, datetime(2026, 2, 8, 15, 0, tzinfo=UTC)
    )
    world.gitlab.acting_user_id = 2  # a Reporter comments a perfect-looking record
    try:
        answer = requests.post(
            f"{world.gitlab.url}/api/v4/projects/1/issues/{log['iid']}/notes",
            headers={"PRIVATE-TOKEN": world.gitlab.token},
            json={"body": forged},
            timeout=10,
        )
        assert answer.status_code == 201
    finally:
        world.gitlab.acting_user_id = 1
    code, out = world.run("digest", now=LATER)
    assert code == 1
    assert [li.split()[3] for li in out.splitlines() if li.startswith("undelivered")] == [second]


def test_quiet_hours_still_report_and_the_local_tracker_does_not_ask(world: World) -> None:
    world.channels = ("whatsapp",)
    world.run("stage")
    [sid] = world.twilio.statuses
    world.twilio.statuses[sid] = ("undelivered", 63016)
    code, out = world.run("digest", now="2026-02-08T23:30:00+01:00")
    assert code == 1 and "quiet hours" in out and f"message {sid}" in out
    listings = len(world.twilio.listings)
    local = dict(world.env(LATER), GITLAB_TOKEN="")
    world.capsys.readouterr()
    assert main(["digest"], local) == 0
    assert len(world.twilio.listings) == listings  # outbox only: Twilio is never asked

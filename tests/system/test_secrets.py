"""No secret ever leaves through what a run prints, logs or writes.

A canary value sits in every secret setting (GitLab token, the Slack webhook's path, the SMTP
password, Twilio's auth token and account SID, the pipeline trigger token, CI_JOB_TOKEN, the
Gmail credentials); `stage`, `digest`, `list`, `config`, `preview` and `validate` run against
the fakes, on the paths that succeed and on the ones that fail (Slack 500, SMTP refusing,
Twilio refusing, GitLab 401), including servers that echo what they were sent. After every
command: no canary in standard output or error, in the log records, or in any file the run
wrote (outbox/, .match-staging/, previews), decoded .eml parts included. Each scenario also
asserts that its failure path was really taken, so it cannot pass by not getting there."""

from __future__ import annotations

import base64
import contextlib
import email
import email.policy
import importlib.util
import json
import logging
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import requests
import responses
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from match_staging import config
from match_staging.cli import main
from match_staging.output import Output
from match_staging.redaction import Scrubber, Secret, secrets_of
from tests.conftest import bootstrapped_label_ids, match, write
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.slack_server import PATH as SLACK_PATH
from tests.fakes.slack_server import SlackWebhook

# The WhatsApp channel needs the `whatsapp` extra; without it the rest still runs.
TWILIO = importlib.util.find_spec("twilio") is not None
needs_twilio = pytest.mark.skipif(not TWILIO, reason="the whatsapp extra is not installed")

GITLAB_TOKEN = "glpat-CANARY1-gitlab-token"
SLACK_SECRET = SLACK_PATH.rsplit("/", 1)[1]  # the fake webhook's last path segment
SMTP_PASSWORD = "CANARY3-smtp-password"
TWILIO_TOKEN = "CANARY4twilioauthtoken"
TWILIO_SID = "AC" + "ca4a7e57" * 4  # a well-formed account SID, still a canary
TRIGGER_TOKEN = "glptt-CANARY5-trigger-token"
CI_JOB_TOKEN = "CANARY6-ci-job-token"
GMAIL_SECRET = "CANARY7-gmail-client-secret"
GMAIL_REFRESH = "CANARY8-gmail-refresh-token"
CANARIES = {
    "GITLAB_TOKEN": GITLAB_TOKEN,
    "Slack webhook path": SLACK_SECRET,
    "SMTP password": SMTP_PASSWORD,
    "Twilio auth token": TWILIO_TOKEN,
    "Twilio account SID": TWILIO_SID,
    "trigger token": TRIGGER_TOKEN,
    "CI_JOB_TOKEN": CI_JOB_TOKEN,
    "Gmail client secret": GMAIL_SECRET,
    "Gmail refresh token": GMAIL_REFRESH,
}
SLACK_URL = f"http://127.0.0.1:8080{SLACK_PATH}"
TWILIO_URL = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
DAY = "2026-02-08T14:30:00+01:00"
CHANNELS = "MATCH_STAGING__NOTIFICATION__CHANNELS__"
PAYLOAD = "trigger-payload.json"
GMAIL_FILE = "gmail-authorized-user.json"


def forms(value: str) -> set[str]:
    """A secret as it could appear: plain, URL-encoded, in HTTP basic auth."""
    found = {value, quote(value, safe="")}
    for user, password in ((TWILIO_SID, TWILIO_TOKEN), ("bot@example.org", SMTP_PASSWORD)):
        if value in (user, password):
            found.add(base64.b64encode(f"{user}:{password}".encode()).decode())
    return found


def leaks(where: str, text: str) -> list[str]:
    return [
        f"{name} in {where}"
        for name, value in CANARIES.items()
        if any(form in text for form in forms(value))
    ]


# --------------------------------------------------------------------------- servers


class Mailbox:
    """A real SMTP server (aiosmtpd) that requires a login and can refuse it, or the message;
    a refusal can echo what the client sent, as some servers' diagnostics do."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.refuse_login = False
        self.refuse_data = False
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            auth_require_tls=False,
            authenticator=self._login,
        )

    def _login(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if self.refuse_login:
            said = f"{auth_data.login.decode()}/{auth_data.password.decode()}"
            return AuthResult(
                success=False, handled=False, message=f"535 5.7.8 credentials {said} rejected"
            )
        return AuthResult(success=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_data:
            return f"451 4.3.0 try again later (bot@example.org/{SMTP_PASSWORD})"
        self.messages.append(envelope.original_content)
        return "250 OK"

    def __enter__(self) -> Mailbox:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


@dataclass
class Twilio:
    """Answers for Twilio's Messages API, served through `responses`."""

    status: int = 201
    body: dict[str, Any] = field(
        default_factory=lambda: {
            "sid": "SM" + "f" * 32,
            "status": "queued",
            "account_sid": TWILIO_SID,
        }
    )
    calls: int = 0
    bodies: list[str] = field(default_factory=list)

    def answer(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        self.calls += 1
        body = request.body or ""
        self.bodies.append(body.decode() if isinstance(body, bytes) else body)
        return self.status, {"Content-Type": "application/json"}, json.dumps(self.body)


@dataclass
class World:
    repo: Path
    gitlab: FakeGitLab
    slack: SlackWebhook
    mailbox: Mailbox
    twilio: Twilio
    token: str = GITLAB_TOKEN  # the one the tool is given
    gitlab_mode: bool = True
    gmail: bool = False
    smtp_port: int = 0  # another port than the mailbox's
    extra: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = {
            "GITLAB_URL": self.gitlab.url,
            "GITLAB_PROJECT": "1",
            "MATCH_STAGING_NOW": DAY,
            "MATCH_STAGING__NOTIFICATION__CHANNELS__GITLAB_TODO__ASSIGNEE_ID": "2",
            "CI_JOB_TOKEN": CI_JOB_TOKEN,
            "TRIGGER_TOKEN": TRIGGER_TOKEN,
            "TRIGGER_PAYLOAD": str(self.repo / PAYLOAD),
            f"{CHANNELS}SLACK__ENABLED": "true",
            "SLACK_WEBHOOK_URL": self.slack.url,
            f"{CHANNELS}EMAIL__ENABLED": "true",
            "SMTP_HOST": "127.0.0.1",
            f"{CHANNELS}EMAIL__SMTP__PORT": str(self.smtp_port or self.mailbox.port),
            f"{CHANNELS}EMAIL__SMTP__SECURITY": "none",
            f"{CHANNELS}EMAIL__SMTP__TIMEOUT": "5",
            "SMTP_USERNAME": "bot@example.org",
            "SMTP_PASSWORD": SMTP_PASSWORD,
            f"{CHANNELS}WHATSAPP__ENABLED": str(TWILIO).lower(),
            "TWILIO_ACCOUNT_SID": TWILIO_SID,
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            f"{CHANNELS}WHATSAPP__FROM_NUMBER": "+14155238886",
        }
        if self.gitlab_mode:
            env["GITLAB_TOKEN"] = self.token
        if self.gmail:
            env[f"{CHANNELS}EMAIL__TRANSPORT"] = "gmail"
            env["GMAIL_CREDENTIALS_FILE"] = str(self.repo / GMAIL_FILE)
        return {**env, **self.extra}


@pytest.fixture
def world(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setattr("match_staging.trackers.gitlab.RETRY_PAUSE_SECONDS", 0)
    monkeypatch.setattr("match_staging.channels.slack.Slack.min_interval", 0)
    # the channels' waits (Slack's retries, Gmail's backoff) are recorded, never slept: they
    # wait through time.sleep, looked up when called (cli.main(sleep=...) once it takes one)
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    write(
        repo / PAYLOAD,
        {
            "token": TRIGGER_TOKEN,
            "ref": "main",
            "variables": {
                "MATCHES_JSON": json.dumps(
                    {
                        "cycle_id": "trigger-1",
                        "matches": [
                            match(
                                title="From the trigger", url="https://jobs.example.com/trigger/1"
                            ),
                            match(title="Broken in the trigger", score="high"),
                        ],
                    }
                )
            },
        },
    )
    write(
        repo / GMAIL_FILE,
        {
            "type": "authorized_user",
            "client_id": "id.apps.example",
            "client_secret": GMAIL_SECRET,
            "refresh_token": GMAIL_REFRESH,
        },
    )
    twilio = Twilio()
    with (
        FakeGitLab(token=GITLAB_TOKEN) as gitlab,
        SlackWebhook() as slack,
        Mailbox() as mailbox,
        responses.RequestsMock(assert_all_requests_are_fired=False) as mock,
    ):
        mock.add_passthru(re.compile(r"http://127\.0\.0\.1[:/]"))
        bootstrapped_label_ids(gitlab)  # labels first, as bootstrap leaves a project
        mock.add_callback(responses.POST, TWILIO_URL, callback=twilio.answer)
        mock.add_callback(
            responses.GET,
            TWILIO_URL,
            callback=lambda _: (  # digest's check
                200,
                {},
                json.dumps({"messages": [], "next_page_uri": None}),
            ),
        )
        yield World(repo, gitlab, slack, mailbox, twilio)


# --------------------------------------------------------------------------- running


@dataclass
class Result:
    code: int
    out: str


class Runner:
    """Runs commands and collects every leak: output, log records, files written."""

    def __init__(
        self, world: World, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
    ) -> None:
        self.world = world
        self.capsys = capsys
        self.caplog = caplog
        self.problems: list[str] = []
        caplog.set_level(logging.INFO)

    def __call__(self, *argv: str) -> Result:
        before = self._files()
        self.caplog.clear()
        code = main(list(argv), self.world.env())
        captured = self.capsys.readouterr()
        label = " ".join(argv)
        self.problems += leaks(f"`{label}` stdout", captured.out)
        self.problems += leaks(f"`{label}` stderr", captured.err)
        self.problems += leaks(f"`{label}` log records", self.caplog.text)
        if "Traceback" in captured.out + captured.err:
            self.problems.append(f"`{label}` printed a traceback")
        for path, stamp in self._files().items():
            if before.get(path) != stamp:
                self.problems += leaks(f"`{label}` wrote {path}", _readable(self.world.repo / path))
        return Result(code, captured.out + captured.err)

    def _files(self) -> dict[str, tuple[int, int]]:
        root = self.world.repo
        mine = {PAYLOAD, GMAIL_FILE}
        return {
            str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in root.rglob("*")
            if p.is_file() and p.name not in mine
        }

    def check(self) -> None:
        """Also what went out: a secret must not travel inside a message either."""
        world = self.world
        self.problems += leaks("a Slack post", json.dumps(world.slack.posts))
        self.problems += leaks("a Twilio request body", "\n".join(world.twilio.bodies))
        for raw in world.mailbox.messages:
            self.problems += leaks("an email", _decoded(raw))
        assert not self.problems, "\n".join(self.problems)


def _readable(path: Path) -> str:
    raw = path.read_bytes()
    return _decoded(raw) if path.suffix == ".eml" else raw.decode("utf-8", "replace")


def _decoded(raw: bytes) -> str:
    """A message's text with every part decoded (base64 would hide a secret) and headers."""
    text = raw.decode("utf-8", "replace")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            text += "\n" + payload.decode("utf-8", "replace")
    return text + "\n" + "\n".join(f"{k}: {v}" for k, v in message.items())


@pytest.fixture
def run(
    world: World, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Runner:
    return Runner(world, capsys, caplog)


# --------------------------------------------------------------------------- scenarios


def test_canaries_are_where_the_tool_looks_for_secrets(world: World, run: Runner) -> None:
    """The premise: the canaries are in force, so their absence from output means masking.
    `config` shows a mask where each secret is, and the channels really received them."""
    result = run("config")
    assert result.code == 0, result.out
    assert result.out.count("***") >= 4  # webhook_url, password, account_sid, auth_token
    staged = run("stage", "matches-inbox")
    assert world.gitlab.issues and world.slack.posts and world.mailbox.messages, staged.out
    assert world.twilio.calls == (1 if TWILIO else 0)
    run.check()


def test_every_read_command_on_the_happy_path(world: World, run: Runner) -> None:
    first = run("stage", "matches-inbox")
    assert first.code == 0, first.out
    assert "notified  email" in first.out and "notified  slack" in first.out
    assert ("notified  whatsapp" in first.out) == TWILIO
    for argv in (
        ("digest",),
        ("list",),
        ("list", "--state", "pending"),
        ("config",),
        ("preview", "matches-inbox"),
        ("validate", "matches-inbox"),
    ):
        result = run(*argv)
        assert result.code == 0, (argv, result.out)
    assert any(world.repo.joinpath("outbox", "preview").rglob("*.eml"))
    run.check()


def test_matches_from_the_trigger_payload_that_carries_the_trigger_token(
    world: World, run: Runner
) -> None:
    result = run("stage")  # no paths: the match document in TRIGGER_PAYLOAD
    assert result.code == 1
    assert "From the trigger" in result.out and "must be a number" in result.out
    for argv in (("validate",), ("preview",)):
        assert run(*argv).code == 1
    run.check()


def test_slack_failing_then_recovering(world: World, run: Runner) -> None:
    world.slack.answer(500, "internal_error", times=3)
    result = run("stage", "matches-inbox")
    assert result.code == 1 and "failed    slack" in result.out
    assert run("digest").code == 0
    assert world.slack.posts
    run.check()


def test_slack_unreachable(world: World, run: Runner) -> None:
    """requests' exception text names the URL's path (the secret), not the whole URL."""
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    world.extra = {"SLACK_WEBHOOK_URL": f"http://127.0.0.1:{port}{SLACK_PATH}"}
    result = run("stage", "matches-inbox")
    assert result.code == 1 and "failed    slack" in result.out and "not connect" in result.out
    assert run("digest").code == 1
    run.check()


def test_slack_error_echoing_the_webhook_path(world: World, run: Runner) -> None:
    world.slack.answer(403, f"Forbidden: POST {SLACK_PATH}", times=4)
    result = run("stage", "matches-inbox")
    assert result.code == 1 and "Slack refused the message: HTTP 403" in result.out
    run.check()


def test_slack_server_errors_echoing_the_webhook_path(world: World, run: Runner) -> None:
    world.slack.answer(500, f"upstream {world.slack.url} failed", times=6)
    result = run("stage", "matches-inbox")
    assert result.code == 1 and "Slack answered HTTP 500" in result.out
    assert run("digest").code == 1
    run.check()


def test_smtp_refusing_the_login_and_echoing_the_password(world: World, run: Runner) -> None:
    world.mailbox.refuse_login = True
    result = run("stage", "matches-inbox")
    assert result.code == 1 and "SMTP login refused for user bot@example.org" in result.out
    assert run("digest").code == 1
    assert world.mailbox.messages == []
    run.check()


def test_smtp_refusing_the_message(world: World, run: Runner) -> None:
    world.mailbox.refuse_data = True
    result = run("stage", "matches-inbox")
    assert result.code == 1 and "refused the message: 451" in result.out
    run.check()


def test_smtp_server_gone(world: World, run: Runner) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        world.smtp_port = int(probe.getsockname()[1])
    result = run("stage", "matches-inbox")
    assert result.code == 1 and "could not connect to 127.0.0.1" in result.out
    run.check()


@pytest.mark.parametrize(
    ("status", "body", "shown"),
    [
        (401, {"code": 20003, "message": "Authenticate", "status": 401}, "Twilio error 20003"),
        (
            404,
            {
                "code": 20404,
                "status": 404,
                "message": f"The requested resource "
                f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json was not found",
            },
            "Twilio error 20404",
        ),
        (
            400,
            {
                "code": 21211,
                "status": 400,
                "message": f"Invalid 'To' for {TWILIO_SID} using {TWILIO_TOKEN}",
            },
            "Twilio error 21211",
        ),
        (503, {"code": 20500, "status": 503, "message": f"down ({TWILIO_SID})"}, "HTTP 503"),
    ],
    ids=["401", "404-echoing-the-sid", "400-echoing-both", "503"],
)
@needs_twilio
def test_twilio_refusing(
    world: World, run: Runner, status: int, body: dict[str, Any], shown: str
) -> None:
    world.twilio.status, world.twilio.body = status, body
    result = run("stage", "matches-inbox")
    assert result.code == 1 and shown in result.out
    assert run("digest").code == 1
    run.check()


def test_gitlab_refusing_the_token(world: World, run: Runner) -> None:
    world.gitlab.token = "the-right-token"
    for argv in (("stage", "matches-inbox"), ("digest",), ("list",)):
        result = run(*argv)
        assert result.code == 1 and "401" in result.out, (argv, result.out)
    assert world.gitlab.issues == {}
    assert run("config").code == 0 and run("validate", "matches-inbox").code == 0
    run.check()


def test_gitlab_failing_mid_run(world: World, run: Runner) -> None:
    world.gitlab.fail_next(
        "POST",
        r"/issues$",
        status=500,
        times=9,
        body=json.dumps({"message": f"boom {GITLAB_TOKEN}"}),
    )
    world.gitlab.drop_next("PUT", r"/issues/\d+$", times=2)
    result = run("stage", "matches-inbox")
    assert result.code == 1 and "GitLab could not create an issue" in result.out
    run("digest")
    run.check()


def test_configuration_errors_with_every_secret_set(world: World, run: Runner) -> None:
    world.extra = {f"{CHANNELS}WHATSAPP__TO_NUMBER": "0664 401 15 21"}
    for argv in (("stage", "matches-inbox"), ("digest",), ("preview",)):
        result = run(*argv)
        assert result.code == 2 and "to_number" in result.out, (argv, result.out)
    # secrets that YAML would read as something else than text
    for value in ("[" + SMTP_PASSWORD, "{" + SMTP_PASSWORD + "}", "- " + SMTP_PASSWORD):
        world.extra = {"SMTP_PASSWORD": value, f"{CHANNELS}EMAIL__SMTP__PASSWORD": value}
        result = run("config")
        assert "Traceback" not in result.out
    run.check()


def test_local_tracker_writes_outbox_files_without_secrets(world: World, run: Runner) -> None:
    world.gitlab_mode = False
    for argv in (
        ("stage", "matches-inbox"),
        ("digest",),
        ("list",),
        ("preview", "matches-inbox"),
        ("config",),
    ):
        result = run(*argv)
        assert result.code == 0, (argv, result.out)
    written = list(world.repo.joinpath("outbox").rglob("*"))
    assert any(p.suffix == ".eml" for p in written) and any(p.suffix == ".json" for p in written)
    assert any(p.suffix == ".txt" for p in written) == TWILIO  # WhatsApp
    assert world.repo.joinpath(".match-staging", "tracker.json").is_file()
    run.check()


def test_gmail_credentials_never_shown(world: World, run: Runner) -> None:
    pytest.importorskip("googleapiclient")
    world.gmail = True
    world.gitlab_mode = False  # the Gmail API is never called: outbox and preview only
    for argv in (
        ("config",),
        ("stage", "matches-inbox"),
        ("preview", "matches-inbox"),
        ("validate", "matches-inbox"),
    ):
        result = run(*argv)
        assert result.code == 0, (argv, result.out)
    run.check()


# --------------------------------------------------------------------------- outgoing text

_MARKER_DATA = re.compile(r"<!-- match-staging v1 [a-z]+: ([A-Za-z0-9+/=]+) -->")


def _gitlab_texts(gitlab: FakeGitLab) -> str:
    """Everything stored in the fake GitLab: titles, descriptions, the base64 records in
    them decoded, notes."""
    texts: list[str] = []
    for issue in gitlab.issues.values():
        texts += [str(issue["title"]), str(issue["description"])]
        for encoded in _MARKER_DATA.findall(str(issue["description"])):
            with contextlib.suppress(ValueError):  # a marker of plain words ("pending")
                texts.append(base64.b64decode(encoded, validate=True).decode("utf-8", "replace"))
    for notes in gitlab.notes.values():
        texts += [str(note.get("body", "")) for note in notes]
    return "\n".join(texts)


def test_secrets_in_a_posting_never_leave_the_tool(world: World, run: Runner) -> None:
    """Issue 15: a runner expands `$GITLAB_TOKEN` in MATCHES_JSON before the job starts, so
    a posting can arrive holding the token itself. Its value (and the other secrets the tool
    can see) is replaced before the issue, the notifications, the application email and the
    audit notes are built, and the run names the fields, never the values."""
    said = (
        f"Token {GITLAB_TOKEN}, job token {CI_JOB_TOKEN}, mail {SMTP_PASSWORD}, "
        f"encoded {quote(GITLAB_TOKEN + '/', safe='')}, cut {GITLAB_TOKEN[:20]}."
    )
    posting = match(
        title=f"DevOps {GITLAB_TOKEN}",
        provider=f"Acme {SMTP_PASSWORD}",
        location=f"Wien {CI_JOB_TOKEN}",
        draft=said,
        notes=said,
        url="https://jobs.example.com/secret/1",
        apply={"email": "jobs@example.com", "subject": f"Re: {CI_JOB_TOKEN}"},
    )
    world.extra = {
        "MATCHES_JSON": json.dumps({"cycle_id": f"cycle {GITLAB_TOKEN}", "matches": [posting]}),
        "TRIGGER_PAYLOAD": "",
    }  # a trigger payload's document would come first
    before = run.capsys.readouterr()
    del before
    code = main(["stage"], world.env())
    captured = run.capsys.readouterr()
    assert code == 0, captured.out + captured.err
    run.problems += leaks("`stage` output", captured.out + captured.err)
    for field_name in (
        "title",
        "provider",
        "location",
        "notes",
        "draft",
        "apply.subject",
        "cycle_id",
    ):
        assert f"field '{field_name}' held the value of " in captured.err, field_name
    assert (
        "field 'draft' held the value of GITLAB_TOKEN and SMTP_PASSWORD and CI_JOB_TOKEN"
        in captured.err
    )  # names, never values
    assert world.gitlab.issues and world.slack.posts and world.mailbox.messages
    assert world.twilio.calls == (1 if TWILIO else 0)
    assert "[secret removed]" in _gitlab_texts(world.gitlab)

    # the reviewer approves; `send` mails the application built from the staged record
    iid = next(iter(world.gitlab.issues))
    world.extra["GITLAB_USER_LOGIN"] = "reviewer"
    assert run("review", str(iid), "--approve").code == 0
    sent = run("send", str(iid))
    assert sent.code == 0, sent.out
    assert len(world.mailbox.messages) == 2  # the notification, then the application
    stored = _gitlab_texts(world.gitlab)
    run.problems += leaks("the fake GitLab's issues and notes", stored)
    outgoing = [
        stored,
        json.dumps(world.slack.posts),
        *world.twilio.bodies,
        *(_decoded(raw) for raw in world.mailbox.messages),
    ]
    assert not [text for text in outgoing if GITLAB_TOKEN[:20] in text]  # the cut echo
    run.check()


def test_output_masks_encoded_and_cut_echoes_of_a_secret() -> None:
    """A server may echo a secret percent-encoded, or only its first characters."""
    out = Output(secrets=[GITLAB_TOKEN, "p@ss word/€-long-enough", SLACK_URL])
    shown = out.redact(
        f"401 for token={quote(GITLAB_TOKEN)} and {GITLAB_TOKEN[:20]}… "
        f"pw={quote('p@ss word/€-long-enough', safe='')} "
        f"pw+={quote_plus('p@ss word/€-long-enough')} url={SLACK_URL}"
    )
    assert "CANARY1" not in shown and "word" not in shown, shown
    assert "127.0.0.1" not in shown and shown.count("***") == 5, shown
    # a URL's public start is not a secret: an issue link on the same host stays readable
    assert out.redact(SLACK_URL[:25] + "/issues/1") == SLACK_URL[:25] + "/issues/1"


def test_debug_traceback_is_masked(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """MATCH_STAGING_DEBUG=1 shows the traceback, through the same masking as every line."""

    def boom(*_: Any) -> Any:
        raise RuntimeError(f"boom with {GITLAB_TOKEN} and {quote(SMTP_PASSWORD + '+')}")

    monkeypatch.setattr("match_staging.config.masked", boom)
    code = main(["config"], {**world.env(), "MATCH_STAGING_DEBUG": "1"})
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" in captured.err and "RuntimeError: boom with ***" in captured.err
    assert not leaks("the debug traceback", captured.out + captured.err)


def test_the_secrets_a_run_scrubs() -> None:
    """Its own tokens and passwords, what GitLab puts into every job, and the values of the
    configuration's secret settings; nothing else, and nothing shorter than 6 characters."""
    env = {
        "GITLAB_TOKEN": GITLAB_TOKEN,
        "CI_JOB_TOKEN": CI_JOB_TOKEN,
        "CI_REGISTRY_PASSWORD": "registry-pass",
        "CI_JOB_JWT_V2": "eyJhbGciOi.jwt.v2",
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "SMTP_PASSWORD": SMTP_PASSWORD,
        "SLACK_WEBHOOK_URL": SLACK_URL,
        "TRIGGER_TOKEN": TRIGGER_TOKEN,
        "HOME": "/root/home-dir",
        "SMTP_HOST": "smtp.example.org",
        "CI_PIPELINE_ID": "1234567",
    }
    cfg = config.load(
        None, {**env, "MATCH_STAGING__NOTIFICATION__CHANNELS__WHATSAPP__ACCOUNT_SID": TWILIO_SID}
    )
    named = {s.name: s.value for s in secrets_of(cfg, env)}
    assert set(named) == {
        "GITLAB_TOKEN",
        "CI_JOB_TOKEN",
        "CI_REGISTRY_PASSWORD",
        "CI_JOB_JWT_V2",
        "TWILIO_AUTH_TOKEN",
        "SMTP_PASSWORD",
        "SLACK_WEBHOOK_URL",
        "TRIGGER_TOKEN",
        "notification.channels.whatsapp.account_sid",
    }
    text = " ".join(f"<{v}>" for v in env.values())
    scrubbed, found = Scrubber([*secrets_of(cfg, env), Secret("short", "12345")]).scrub(
        text + " 12345"
    )
    assert scrubbed.count("[secret removed]") == 8 and scrubbed.endswith(
        "</root/home-dir> <smtp.example.org> <1234567> 12345"
    )
    assert len(found) == 8

"""The email channel: validation, a hostile-proof message, SMTP against a real aiosmtpd
server, and the Gmail API through googleapiclient's own HTTP mocks (no network)."""

from __future__ import annotations

import base64
import email
import email.message
import email.policy
import json
import re
import smtplib
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from match_staging.channels import email as email_channel
from match_staging.channels.base import Channel, Delivery
from match_staging.channels.email import Email
from match_staging.channels.email.gmail import GmailTransport
from match_staging.channels.email.smtp import SmtpTransport
from match_staging.channels.email_settings import EmailChannel, GmailSettings, SmtpSettings
from match_staging.errors import ConfigError
from match_staging.notices import Kind, Notice, Payload, build
from tests.fakes.google import GOOGLE_TOKEN_URI, OK, Google, TokenEndpoint, unresolvable
from tests.fakes.smtp_faults import FailingSmtp

ROOT = Path(__file__).resolve().parents[2]
ISSUE_1 = "https://gitlab.example.com/freelancer/backoffice/-/issues/41"
ISSUE_2 = "https://gitlab.example.com/freelancer/backoffice/-/issues/42"
SOURCE_1 = "https://jobs.example.com/p/cloud-architect?ref=1&x=2"
HOSTILE_TITLE = "Cloud Architect <script>alert(1)</script>"
HOSTILE_PROVIDER = "Evil <img src=x onerror=alert(1)> GmbH"
PASSWORD = "s3cr3t-App-Passw0rd"
REFRESH_TOKEN = "1//refresh-token-secret"
CLIENT_SECRET = "client-secret-value"


def gmail_email(service: Any, sleep: Any = None) -> Email:
    """The Gmail transport with an injected service (googleapiclient's HTTP mocks)."""
    return Email(
        gmail_settings(), transport=GmailTransport(GmailSettings(), service=service, sleep=sleep)
    )


def smtp_email(smtp: SmtpSettings, factory: Any) -> Email:
    """The SMTP transport with an injected client factory."""
    return Email(settings(smtp=smtp), transport=SmtpTransport(smtp, factory))


def payload(kind: Kind = "new", title: str = HOSTILE_TITLE) -> Payload:
    return build(
        kind,
        "cycle-1",
        [
            Notice(
                iid=42,
                score=81.5,
                title="Platform Engineer",
                provider="Beta AG",
                issue_url=ISSUE_2,
                source_url="javascript:alert(document.cookie)",
            ),
            Notice(
                iid=41,
                score=97,
                title=title,
                provider=HOSTILE_PROVIDER,
                issue_url=ISSUE_1,
                source_url=SOURCE_1,
                location="Wien / Remote",
                start="ASAP",
                duration="6 Monate",
                rate="95 €/h",
            ),
        ],
        "job-match/pending",
        summary="2 neue Job-Matches",
    )


def settings(**overrides: Any) -> EmailChannel:
    smtp = overrides.pop("smtp", None) or SmtpSettings(
        host="127.0.0.1", port=2525, security="none", timeout=5
    )
    base = EmailChannel(
        enabled=True,
        recipients=["Max Muster <max@example.org>", "ops@example.org"],
        sender="Match Staging <bot@example.com>",
        subject_prefix="[Blauweiss]",
        smtp=smtp,
    )
    for name, value in overrides.items():
        setattr(base, name, value)
    return base


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def parts(msg: email.message.EmailMessage) -> tuple[str, str]:
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert isinstance(plain, email.message.EmailMessage)
    assert isinstance(html, email.message.EmailMessage)
    return str(plain.get_content()), str(html.get_content())


EXPECTED_SUBJECT = (
    "[Blauweiss] 2 neue Job-Matches — Top: 97% Cloud Architect <script>alert(1)</script>"
)


def assert_summary_mail(msg: email.message.EmailMessage) -> None:
    """What every transport must deliver for payload()."""
    assert msg["Subject"] == EXPECTED_SUBJECT
    assert msg["From"] == "Match Staging <bot@example.com>"
    assert [a.addr_spec for a in msg["To"].addresses] == ["max@example.org", "ops@example.org"]
    assert msg["Date"] and msg["Message-ID"].endswith("@example.com>")
    assert msg.get_content_type() == "multipart/alternative"
    text, html = parts(msg)
    assert "97% — Cloud Architect <script>alert(1)</script>" in text  # plain text stays text
    assert f"Issue: {ISSUE_1}" in text and f"Ausschreibung: {SOURCE_1}" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script" not in html and "<img" not in html
    assert f'href="{ISSUE_1}"' in html
    assert 'href="https://jobs.example.com/p/cloud-architect?ref=1&amp;x=2"' in html
    assert "javascript:" not in html
    assert "label_name%5B%5D=job-match%2Fpending" in html


# --- validation -----------------------------------------------------------------------

K = "notification.channels.email"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"recipients": []}, f"{K}.recipients: at least one address is needed"),
        ({"recipients": ["not-an-address"]}, f"{K}.recipients[0]: not an email address"),
        (
            {"recipients": ["ok@example.org", "a@example.org, b@example.org"]},
            f"{K}.recipients[1]: must be one email address",
        ),
        (
            {"recipients": ["a@example.org\r\nBcc: x@evil.example"]},
            f"{K}.recipients[0]: must be one email address",
        ),
        ({"sender": ""}, f"{K}.from: must be set"),
        ({"sender": "bot"}, f"{K}.from: not an email address"),
        ({"smtp": SmtpSettings(host="")}, f"{K}.smtp.host: must be set (SMTP_HOST)"),
        (
            {"smtp": SmtpSettings(host="mail.example.com", username="u")},
            f"{K}.smtp.password: must be set",
        ),
        ({"template": "nope"}, f"{K}.template: no template nope.txt.j2"),
        ({"template": "../issue"}, f"{K}.template: must be a template name"),
        (
            {"transport": "gmail", "gmail": GmailSettings(credentials_file="")},
            f"{K}.gmail.credentials_file: must be set",
        ),
    ],
)
def test_settings_are_checked_when_built(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Email(settings(**overrides))
    assert str(raised.value).startswith(message)


def test_is_a_channel() -> None:
    channel: Channel = Email(settings())  # mypy checks the Protocol
    assert channel.name == "email"


def test_importing_the_channel_loads_no_google_library() -> None:
    code = (
        "import sys, match_staging.channels.email\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('google', 'googleapiclient', 'httplib2', 'google_auth_httplib2'))\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "src")},
        check=False,
    )
    assert done.returncode == 0, done.stderr


# --- the message ----------------------------------------------------------------------


def test_message_is_a_hostile_proof_multipart_alternative() -> None:
    msg = Email(settings()).message(payload())
    assert_summary_mail(parse(bytes(msg)))
    assert msg["Auto-Submitted"] == "auto-generated"


def test_subject_is_one_line_whatever_the_title() -> None:
    title = "Cloud\r\nBcc: victim@example.org\n\n  Architect\u2028x\tend"
    channel = Email(settings())
    subject = channel.subject(payload(title=title))
    assert subject == (
        "[Blauweiss] 2 neue Job-Matches — Top: 97% Cloud Bcc: victim@example.org Architect x end"
    )
    msg = parse(bytes(channel.message(payload(title=title))))
    assert msg["Subject"] == subject
    assert msg["Bcc"] is None
    text, _ = parts(msg)
    assert "Cloud Bcc: victim@example.org Architect" in text  # no forged lines in the body


def test_subject_is_cut_at_the_limit() -> None:
    channel = Email(settings())
    channel.subject_maxlen = 40
    subject = channel.subject(payload())
    assert len(subject) == 40 and subject.endswith("…")


def test_reminder_subject_and_template_context() -> None:
    channel = Email(settings(), reminder_hours=36)
    msg = parse(bytes(channel.message(payload(kind="reminder"))))
    assert msg["Subject"] == "[Blauweiss] Erinnerung: 2 Job-Matches warten auf Review"
    text, html = parts(msg)
    assert "seit mehr als 36 Stunden" in text and "Seit mehr als 36 Stunden" in html


def test_render_gives_the_eml_and_the_html_part() -> None:
    files = Email(settings()).render(payload())
    assert [f.name for f in files] == ["email.eml", "email.html"]
    msg = parse(files[0].content)
    assert_summary_mail(msg)
    assert files[1].content.decode() == parts(msg)[1].replace("\r\n", "\n")


def test_user_templates_override_the_shipped_ones(tmp_path: Path) -> None:
    (tmp_path / "short.txt.j2").write_text("{{ payload.top.title }}\n", encoding="utf-8")
    (tmp_path / "short.html.j2").write_text("<p>{{ payload.top.title }}</p>\n", encoding="utf-8")
    msg = Email(settings(template="short"), str(tmp_path)).message(payload())
    text, html = parts(msg)
    assert text == f"{HOSTILE_TITLE}\n"
    assert html == "<p>Cloud Architect &lt;script&gt;alert(1)&lt;/script&gt;</p>\n"


def test_a_broken_user_template_is_a_failed_delivery(tmp_path: Path) -> None:
    (tmp_path / "broken.txt.j2").write_text("{{ no_such_value }}\n", encoding="utf-8")
    (tmp_path / "broken.html.j2").write_text("<p></p>\n", encoding="utf-8")
    result = Email(settings(template="broken"), str(tmp_path)).send(payload())
    assert not result.ok and not result.transient
    assert result.detail == (
        "could not render the email (UndefinedError: 'no_such_value' is undefined)"
    )


# --- SMTP against a real server -------------------------------------------------------


class Collector:
    """An aiosmtpd handler keeping what it received; refuses the addresses in `refuse`."""

    def __init__(self, refuse: tuple[str, ...] = ()) -> None:
        self.envelopes: list[Any] = []
        self.refuse = refuse
        self.port = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 2.0.0 queued"


def free_port() -> int:
    # aiosmtpd 1.4.6 cannot listen on port 0: its start-up probe connects to self.port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def smtp_server(refuse: tuple[str, ...] = (), **smtp_parameters: Any) -> Iterator[Collector]:
    handler = Collector(refuse)
    handler.port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port, **smtp_parameters)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


def smtp_settings(port: int, **fields: Any) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, security="none", timeout=5, **fields)


def test_smtp_delivers_to_a_real_server() -> None:
    with smtp_server() as server:
        result = Email(settings(smtp=smtp_settings(server.port))).send(payload())
    assert result.ok and result.channel == "email", result
    assert result.detail == f"sent to 2 recipients via 127.0.0.1:{server.port}"
    (envelope,) = server.envelopes
    assert envelope.mail_from == "bot@example.com"
    assert envelope.rcpt_tos == ["max@example.org", "ops@example.org"]
    assert_summary_mail(parse(envelope.original_content))


def refuse_everyone(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> Any:
    return AuthResult(success=False, handled=False)


def accept_everyone(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> Any:
    return AuthResult(success=True)


def test_smtp_login_refused_names_the_user_never_the_password() -> None:
    with smtp_server(auth_require_tls=False, authenticator=refuse_everyone) as server:
        cfg = settings(
            smtp=smtp_settings(server.port, username="max@example.org", password=PASSWORD)
        )
        result = Email(cfg).send(payload())
    assert not result.ok and not result.transient
    assert result.detail.startswith(
        f"SMTP login refused for user max@example.org by 127.0.0.1:{server.port}: 535"
    )
    assert PASSWORD not in result.detail
    assert server.envelopes == []


def test_smtp_logs_in_when_a_username_is_set() -> None:
    with smtp_server(auth_require_tls=False, authenticator=accept_everyone) as server:
        cfg = settings(
            smtp=smtp_settings(server.port, username="max@example.org", password=PASSWORD)
        )
        result = Email(cfg).send(payload())
    assert result.ok, result
    assert len(server.envelopes) == 1


def test_smtp_every_recipient_refused_is_not_transient() -> None:
    with smtp_server(refuse=("max@example.org", "ops@example.org")) as server:
        result = Email(settings(smtp=smtp_settings(server.port))).send(payload())
    assert not result.ok and not result.transient
    assert "refused every recipient" in result.detail
    assert "max@example.org (550 5.1.1 no such mailbox here)" in result.detail


def test_smtp_one_recipient_refused_still_delivers_to_the_other() -> None:
    with smtp_server(refuse=("ops@example.org",)) as server:
        result = Email(settings(smtp=smtp_settings(server.port))).send(payload())
    assert result.ok
    assert "sent to 1 recipient via" in result.detail
    assert "refused: ops@example.org (550 5.1.1 no such mailbox here)" in result.detail
    assert server.envelopes[0].rcpt_tos == ["max@example.org"]


def test_smtp_connection_refused_is_transient() -> None:
    port = free_port()  # nothing listens there
    result = Email(settings(smtp=smtp_settings(port))).send(payload())
    assert not result.ok and result.transient
    assert result.detail.startswith(f"could not connect to 127.0.0.1:{port}")


def test_smtp_silent_server_times_out_as_transient() -> None:
    with socket.socket() as silent:  # accepts the connection, never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = int(silent.getsockname()[1])
        cfg = settings(smtp=SmtpSettings(host="127.0.0.1", port=port, security="none", timeout=0.1))
        result = Email(cfg).send(payload())
    assert not result.ok and result.transient
    assert result.detail.startswith(f"no answer from 127.0.0.1:{port} within 0.1 s")


# --- SMTP security modes, without a TLS server ----------------------------------------


class FakeClient:
    def __init__(self, log: list[Any]) -> None:
        self.log = log

    def starttls(self, *, context: ssl.SSLContext) -> tuple[int, bytes]:
        self.log.append(("starttls", isinstance(context, ssl.SSLContext)))
        return 220, b"ready"

    def login(self, user: str, password: str) -> tuple[int, bytes]:
        self.log.append(("login", user))
        return 235, b"ok"

    def send_message(self, msg: Any, from_addr: str, to_addrs: list[str]) -> dict[str, Any]:
        self.log.append(("send", from_addr, tuple(to_addrs)))
        return {}

    def quit(self) -> tuple[int, bytes]:
        self.log.append(("quit",))
        return 221, b"bye"


@pytest.mark.parametrize(
    ("security", "username", "expected"),
    [
        ("ssl", "max", ["connect ssl", ("login", "max"), "send", "quit"]),
        (
            "starttls",
            "max",
            ["connect starttls", ("starttls", True), ("login", "max"), "send", "quit"],
        ),
        ("none", "", ["connect none", "send", "quit"]),
    ],
)
def test_security_mode_decides_tls_not_the_port(
    security: Any, username: str, expected: list[Any]
) -> None:
    log: list[Any] = []

    def factory(
        mode: Any, host: str, port: int, timeout: float, context: ssl.SSLContext
    ) -> smtplib.SMTP:
        assert (host, port, timeout) == ("mail.example.com", 587, 7.5)
        log.append(f"connect {mode}")
        return cast(smtplib.SMTP, FakeClient(log))

    smtp = SmtpSettings(
        host="mail.example.com",
        port=587,
        security=security,
        username=username,
        password=PASSWORD if username else "",
        timeout=7.5,
    )
    result = smtp_email(smtp, factory).send(payload())
    assert result.ok, result
    assert [
        e[0] if isinstance(e, tuple) and e[0] in ("send", "quit") else e for e in log
    ] == expected
    assert ("send", "bot@example.com", ("max@example.org", "ops@example.org")) in log


def test_default_factory_uses_smtp_ssl_only_for_ssl(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[tuple[str, Any]] = []

    class FakeSSL:
        def __init__(
            self, host: str, port: int, *, timeout: float, context: ssl.SSLContext
        ) -> None:
            assert (host, port, timeout) == ("h", 465, 1.0)
            made.append(("SMTP_SSL", context))

    class FakePlain:
        def __init__(self, host: str, port: int, *, timeout: float) -> None:
            assert (host, port, timeout) == ("h", 465, 1.0)
            made.append(("SMTP", None))

    monkeypatch.setattr(smtplib, "SMTP_SSL", FakeSSL)
    monkeypatch.setattr(smtplib, "SMTP", FakePlain)
    context = ssl.create_default_context()
    for mode in ("ssl", "starttls", "none"):
        email_channel.connect_smtp(mode, "h", 465, 1.0, context)
    assert made == [("SMTP_SSL", context), ("SMTP", None), ("SMTP", None)]


def test_smtp_errors_never_raise_and_mask_the_password() -> None:
    def factory(*args: Any) -> smtplib.SMTP:
        raise smtplib.SMTPDataError(451, f"temporary failure for {PASSWORD}".encode())

    smtp = SmtpSettings(host="mail.example.com", security="ssl", username="u", password=PASSWORD)
    result = smtp_email(smtp, factory).send(payload())
    assert not result.ok and result.transient
    assert PASSWORD not in result.detail and "451 temporary failure for ***" in result.detail


# --- Gmail API ------------------------------------------------------------------------


def gmail_settings(credentials_file: str = "/run/secrets/gmail.json") -> EmailChannel:
    return settings(transport="gmail", gmail=GmailSettings(credentials_file=credentials_file))


def gmail_service(responses: list[tuple[dict[str, str], str]]) -> tuple[Any, Any]:
    discovery = pytest.importorskip("googleapiclient.discovery")
    mocks = pytest.importorskip("googleapiclient.http")
    http = mocks.HttpMockSequence(responses)
    return discovery.build("gmail", "v1", http=http, static_discovery=True), http


def sent_message(http: Any, index: int = 0) -> email.message.EmailMessage:
    uri, method, body, _ = http.request_sequence[index]
    assert method == "POST" and "/gmail/v1/users/me/messages/send" in uri
    raw = json.loads(body)["raw"]
    return parse(base64.urlsafe_b64decode(raw))


def test_gmail_sends_the_raw_message() -> None:
    service, http = gmail_service([OK])
    result = gmail_email(service).send(payload())
    assert result.ok, result
    assert "18c0ffee" in result.detail
    assert_summary_mail(sent_message(http))


def test_gmail_retries_once_after_429_honouring_retry_after() -> None:
    busy = (
        {"status": "429", "retry-after": "7"},
        '{"error": {"code": 429, "message": "Too many concurrent requests for user.",'
        ' "status": "RESOURCE_EXHAUSTED"}}',
    )
    service, http = gmail_service([busy, OK])
    sleeps: list[float] = []
    result = gmail_email(service, sleeps.append).send(payload())
    assert result.ok, result
    assert sleeps == [7.0]
    assert len(http.request_sequence) == 2


def test_gmail_still_busy_after_the_retry_is_transient() -> None:
    down = (
        {"status": "503"},
        '{"error": {"code": 503, "message": "The service is '
        'currently unavailable.", "status": "UNAVAILABLE"}}',
    )
    service, _ = gmail_service([down, down])
    sleeps: list[float] = []
    result = gmail_email(service, sleeps.append).send(payload())
    assert not result.ok and result.transient
    assert result.detail == "Gmail API answered HTTP 503 The service is currently unavailable."
    assert sleeps == [1.0]


def test_gmail_400_is_not_transient_and_quotes_google() -> None:
    bad = (
        {"status": "400"},
        '{"error": {"code": 400, "message": "Invalid To header", "status": "INVALID_ARGUMENT"}}',
    )
    service, _ = gmail_service([bad])
    result = gmail_email(service).send(payload())
    assert not result.ok and not result.transient
    assert result.detail == "Gmail refused the message: HTTP 400 Invalid To header"


def test_gmail_refused_refresh_token_explains_the_7_days() -> None:
    credentials = pytest.importorskip("google.oauth2.credentials")
    authorized = pytest.importorskip("google_auth_httplib2")
    discovery = pytest.importorskip("googleapiclient.discovery")
    mocks = pytest.importorskip("googleapiclient.http")
    creds = credentials.Credentials(
        token=None,
        refresh_token=REFRESH_TOKEN,
        client_id="id.apps.googleusercontent.com",
        client_secret=CLIENT_SECRET,
        token_uri="https://oauth2.googleapis.com/token",
        scopes=email_channel.GMAIL_SCOPES,
    )
    token_endpoint = mocks.HttpMockSequence(
        [
            (
                {"status": "400"},
                '{"error": "invalid_grant", '
                '"error_description": "Token has been expired or revoked."}',
            )
        ]
    )
    http = authorized.AuthorizedHttp(creds, http=token_endpoint)
    service = discovery.build("gmail", "v1", http=http, static_discovery=True)
    result = gmail_email(service).send(payload())
    assert not result.ok and not result.transient
    assert "refused the refresh token" in result.detail
    assert "Token has been expired or revoked" in result.detail
    assert '"Testing"' in result.detail and "7 days" in result.detail
    assert REFRESH_TOKEN not in result.detail and CLIENT_SECRET not in result.detail
    assert "oauth2.googleapis.com/token" in token_endpoint.request_sequence[0][0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{not json", "is not JSON"),
        ('["a"]', "must hold a JSON object"),
        (
            '{"client_id": "x", "client_secret": "' + CLIENT_SECRET + '"}',
            "is not an authorized-user JSON (missing refresh_token)",
        ),
    ],
)
def test_gmail_unusable_credentials_file_is_a_delivery_not_a_traceback(
    tmp_path: Path, content: str | None, message: str
) -> None:
    pytest.importorskip("googleapiclient")
    path = tmp_path / "gmail.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = Email(gmail_settings(str(path))).send(payload())
    assert not result.ok and not result.transient
    assert result.detail.startswith(f"{K}.gmail.credentials_file: ")
    assert message in result.detail
    assert CLIENT_SECRET not in result.detail


def credentials_file(tmp_path: Path) -> Path:
    path = tmp_path / "gmail.json"
    path.write_text(
        json.dumps(
            {
                "client_id": "id.apps.googleusercontent.com",
                "client_secret": CLIENT_SECRET,
                "refresh_token": REFRESH_TOKEN,
                "type": "authorized_user",
            }
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def token_endpoint() -> Iterator[TokenEndpoint]:
    endpoint = TokenEndpoint()
    yield endpoint
    endpoint.stop()


def test_gmail_builds_the_service_from_the_credentials_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token_endpoint: TokenEndpoint
) -> None:
    pytest.importorskip("googleapiclient.discovery")
    google = Google([OK], token_endpoint.start().url)
    google.install(monkeypatch)
    result = Email(gmail_settings(str(credentials_file(tmp_path)))).send(payload())
    assert result.ok, result
    assert token_endpoint.hits == 1
    [sent] = google.sent
    assert sent["Subject"] == EXPECTED_SUBJECT
    [(_, _, refresh)] = [r for r in google.requests if r[1] == GOOGLE_TOKEN_URI]
    assert b"grant_type=refresh_token" in refresh and b"gmail.send" in refresh


@pytest.mark.parametrize("down", ["closed port", "unknown host"])
def test_gmail_token_endpoint_unreachable_sent_nothing_and_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token_endpoint: TokenEndpoint, down: str
) -> None:
    """httplib2 raises ConnectionRefusedError for a closed port and ServerNotFoundError for
    a host it cannot resolve; google-auth passes the first on as it is and wraps the second
    in TransportError (google_auth_httplib2.Request). Either way Gmail got nothing."""
    pytest.importorskip("googleapiclient.discovery")
    google = Google([OK], token_endpoint.url if down == "closed port" else "")
    google.install(monkeypatch)
    if down == "unknown host":
        unresolvable(monkeypatch, "oauth2.googleapis.com")
    result = Email(gmail_settings(str(credentials_file(tmp_path)))).send(payload())
    assert not result.ok and result.transient and not result.maybe_delivered
    assert result.detail.startswith("no answer from Google's token endpoint (")
    assert result.detail.endswith("): nothing was sent")
    assert "7 days" not in result.detail
    assert google.sent == []
    assert google.token_requests(GOOGLE_TOKEN_URI) == 1


def test_gmail_refused_client_gets_no_7_day_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token_endpoint: TokenEndpoint
) -> None:
    pytest.importorskip("googleapiclient.discovery")
    Google([], token_endpoint.start().url).install(monkeypatch)
    token_endpoint.error = (
        401,
        {"error": "invalid_client", "error_description": "The OAuth client was not found."},
    )
    result = Email(gmail_settings(str(credentials_file(tmp_path)))).send(payload())
    assert not result.ok and not result.transient and not result.maybe_delivered
    assert "invalid_client" in result.detail and "7 days" not in result.detail
    assert CLIENT_SECRET not in result.detail and REFRESH_TOKEN not in result.detail


def test_gmail_expired_refresh_token_gets_the_7_day_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token_endpoint: TokenEndpoint
) -> None:
    pytest.importorskip("googleapiclient.discovery")
    Google([], token_endpoint.start().url).install(monkeypatch)
    token_endpoint.error = (
        400,
        {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
    )
    result = Email(gmail_settings(str(credentials_file(tmp_path)))).send(payload())
    assert not result.ok and not result.transient
    assert '"Testing"' in result.detail and "7 days" in result.detail


@pytest.mark.parametrize(
    ("failure", "never_sent"),
    [
        (ConnectionRefusedError(111, "Connection refused"), True),
        (TimeoutError("timed out"), False),
        (ConnectionResetError(104, "Connection reset by peer"), False),
    ],
)
def test_gmail_send_request_failures(failure: Exception, never_sent: bool) -> None:
    httplib2 = pytest.importorskip("httplib2")
    for raised in (
        (failure, httplib2.ServerNotFoundError("Unable to find the server"))
        if never_sent
        else (failure,)
    ):
        service, _ = gmail_service([])
        service._http.request = _raising(raised)  # the Gmail request itself fails
        result = gmail_email(service).send(payload())
        assert not result.ok and result.transient
        assert result.maybe_delivered is not never_sent
        assert result.detail.endswith("nothing was sent" if never_sent else "it may have been sent")


def _raising(exc: Exception) -> Any:
    def request(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return request


@pytest.mark.parametrize("reason", ["userRateLimitExceeded", "rateLimitExceeded"])
def test_gmail_403_rate_limit_is_retried_with_backoff(reason: str) -> None:
    limited = (
        {"status": "403"},
        json.dumps(
            {
                "error": {
                    "code": 403,
                    "message": "User-rate limit exceeded.",
                    "errors": [
                        {
                            "message": "User-rate limit exceeded.",
                            "domain": "usageLimits",
                            "reason": reason,
                        }
                    ],
                }
            }
        ),
    )
    service, http = gmail_service([limited, OK])
    sleeps: list[float] = []
    result = gmail_email(service, sleeps.append).send(payload())
    assert result.ok, result
    assert sleeps == [1.0] and len(http.request_sequence) == 2


def test_gmail_403_other_reasons_are_refusals() -> None:
    denied = (
        {"status": "403"},
        json.dumps(
            {
                "error": {
                    "code": 403,
                    "message": "Delegation denied.",
                    "errors": [{"domain": "global", "reason": "forbidden"}],
                }
            }
        ),
    )
    service, _ = gmail_service([denied])
    sleeps: list[float] = []
    result = gmail_email(service, sleeps.append).send(payload())
    assert not result.ok and not result.transient and sleeps == []


class Dropper:
    """A server on 127.0.0.1 that reads each request and hangs up without answering: the
    message arrived, the answer was lost."""

    def __init__(self) -> None:
        import threading

        self.received: list[bytes] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                data = self._whole_request(conn)
                if data:
                    self.received.append(data.split(b"\r\n", 1)[0])

    @staticmethod
    def _whole_request(conn: socket.socket) -> bytes:
        """Head and body read to the end before hanging up: a close with bytes unread sends
        a reset instead of an end of stream (Linux; RFC 2525 2.17), and the request may come
        in two segments (head, then body) on a busy machine."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(1 << 16)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = conn.recv(1 << 16)
            if not chunk:
                break
            body += chunk
        return data

    def close(self) -> None:
        self._sock.close()


def test_httplib2_would_send_twice_the_channel_s_transport_once() -> None:
    """httplib2 re-sends a request whose connection closed before the status line (its
    `_conn_request`, "BadStatusLine on the first try"): a second email. gmail_http()
    never sends a request twice."""
    httplib2 = pytest.importorskip("httplib2")
    dropper = Dropper()
    try:
        with pytest.raises(ConnectionError):
            httplib2.Http(timeout=5).request(dropper.url + "/send", "POST", body="m1")
        assert len(dropper.received) == 2  # the library's own behaviour
        with pytest.raises(email_channel.RequestNotRepeated):
            email_channel.gmail_http(5).request(dropper.url + "/send", "POST", body="m2")
        assert len(dropper.received) == 3
    finally:
        dropper.close()


def test_gmail_answer_lost_after_sending_is_not_sent_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token_endpoint: TokenEndpoint
) -> None:
    """From the credentials file to the wire: the Gmail API at 127.0.0.1 takes the message
    and hangs up; exactly one request reached it, and the delivery says it may be sent."""
    discovery = pytest.importorskip("googleapiclient.discovery")
    Google([], token_endpoint.start().url).install(monkeypatch)
    dropper = Dropper()
    real_build = discovery.build

    def local_build(*args: Any, **kwargs: Any) -> Any:
        return real_build(*args, client_options={"api_endpoint": dropper.url}, **kwargs)

    monkeypatch.setattr(discovery, "build", local_build)
    try:
        result = Email(gmail_settings(str(credentials_file(tmp_path)))).send(payload())
    finally:
        dropper.close()
    assert not result.ok and result.maybe_delivered
    # a hang-up reads as a close or a reset, as the kernel happens to order them
    assert re.fullmatch(
        r"no answer from the Gmail API \((RemoteDisconnected|"
        r"ConnectionResetError)\): it may have been sent",
        result.detail,
    ), result.detail
    assert dropper.received == [b"POST /gmail/v1/users/me/messages/send?alt=json HTTP/1.1"]


# --- the transport interface ------------------------------------------------------------


class RecordingTransport:
    def __init__(self) -> None:
        self.sent: list[tuple[email.message.EmailMessage, str, list[str], bool]] = []

    def send(
        self, msg: email.message.EmailMessage, sender: Any, to: Any, *, once: bool = False
    ) -> Delivery:
        self.sent.append((msg, sender.addr_spec, [a.addr_spec for a in to], once))
        return Delivery("email", True, f"carried, password {PASSWORD}")


def test_the_channel_composes_and_its_transport_carries() -> None:
    transport = RecordingTransport()
    channel = Email(settings(smtp=SmtpSettings(host="h", password=PASSWORD)), transport=transport)
    result = channel.send(payload())
    assert result == Delivery("email", True, "carried, password ***")
    ((msg, sender, to, once),) = transport.sent
    assert_summary_mail(msg)
    assert (sender, to, once) == ("bot@example.com", ["max@example.org", "ops@example.org"], False)
    # an application: to whom `send` says, and never retried after an unclear answer
    channel.deliver(msg, [channel.sender])
    assert transport.sent[1][2:] == (["bot@example.com"], True)


def test_the_transport_is_picked_and_checked_by_the_settings() -> None:
    assert isinstance(email_channel.make_transport(settings()), SmtpTransport)
    with pytest.raises(ConfigError, match=r"email\.smtp\.host: must be set"):
        email_channel.make_transport(settings(smtp=SmtpSettings(host="")))
    pytest.importorskip("googleapiclient")
    assert isinstance(email_channel.make_transport(gmail_settings()), GmailTransport)


# --- SMTP exactly once: every failure point, on a real socket (issue 26) --------------------
# Before the message went out nothing was taken: transient, sent again by the next run.
# After the whole message went out and before the server's answer, the server may have it:
# maybe_delivered, never sent again (a timeout during DATA is not "nothing was sent").

SMTP_FAULTS = [
    # (point, fault, transient, maybe delivered, detail)
    ("greeting", "silent", True, False, "no answer from {where} within 0.3 s (connect)"),
    ("greeting", "close", True, False, "{where} closed the connection (connect)"),
    # an RST reads as a reset or, when it races the read, as the end of the stream: either
    # way nothing was sent
    (
        "greeting",
        "reset",
        True,
        False,
        "could not connect to {where} (Connection reset by peer)"
        "|{where} closed the connection (connect)",
    ),
    ("greeting", "421 4.3.2 busy", True, False, "{where} refused the connection (connect): 421"),
    ("greeting", "554 5.7.1 go away", False, False, "{where} refused the connection (connect)"),
    ("message", "silent", True, True, "no answer from {where} within 0.3 s (send)"),
    ("message", "close", True, True, "{where} closed the connection (send)"),
    (
        "message",
        "reset",
        True,
        True,
        "{where} closed the connection (send)"
        "|connection to {where} failed while sending (Connection reset by peer)",
    ),
    ("message", "451 4.3.0 try later", True, False, "{where} refused the message: 451"),
    ("message", "554 5.6.0 no thanks", False, False, "{where} refused the message: 554"),
]


@pytest.mark.parametrize(("point", "fault", "transient", "maybe", "detail"), SMTP_FAULTS)
def test_smtp_every_failure_point(
    point: str, fault: str, transient: bool, maybe: bool, detail: str
) -> None:
    with FailingSmtp(point, fault) as server:
        smtp = SmtpSettings(host="127.0.0.1", port=server.port, security="none", timeout=0.3)
        result = Email(settings(smtp=smtp)).send(payload())
    assert (result.ok, result.transient, result.maybe_delivered) == (False, transient, maybe)
    said = tuple(d.format(where=f"127.0.0.1:{server.port}") for d in detail.split("|"))
    assert result.detail.startswith(said), result
    assert server.messages == (1 if point == "message" else 0)


def test_smtp_nobody_listening_is_nothing_sent() -> None:
    port = free_port()
    smtp = SmtpSettings(host="127.0.0.1", port=port, security="none", timeout=0.3)
    result = Email(settings(smtp=smtp)).send(payload())
    assert (result.ok, result.transient, result.maybe_delivered) == (False, True, False)
    assert result.detail == f"could not connect to 127.0.0.1:{port} (Connection refused)"


# --- every answer an SMTP exchange can end with, exactly (issue 26) ------------------------

WHERE = "mail.example.com:587"
HINT = "check notification.channels.email.smtp.security (starttls on 587, ssl on 465)"


@pytest.fixture
def no_ca_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """These clients never use the TLS context: no need to load the CA store for them."""
    monkeypatch.setattr(
        "match_staging.channels.email.smtp.tls_context",
        lambda: ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT),
    )


class Failing(FakeClient):
    """The FakeClient, failing at one stage with `error`."""

    def __init__(self, log: list[Any], stage: str, error: BaseException) -> None:
        super().__init__(log)
        self.stage, self.error = stage, error

    def starttls(self, *, context: ssl.SSLContext) -> tuple[int, bytes]:
        if self.stage == "starttls":
            raise self.error
        return super().starttls(context=context)

    def login(self, user: str, password: str) -> tuple[int, bytes]:
        if self.stage == "login":
            raise self.error
        return super().login(user, password)

    def send_message(self, msg: Any, from_addr: str, to_addrs: list[str]) -> dict[str, Any]:
        if self.stage == "send":
            raise self.error
        return super().send_message(msg, from_addr, to_addrs)


def _tls(reason: str | None) -> ssl.SSLError:
    """As the ssl module raises it: `reason` set (None when OpenSSL names none)."""
    error = ssl.SSLError(1, f"[SSL: {reason}] handshake failed")
    error.reason = reason  # type: ignore[assignment]
    return error


def _dns() -> socket.gaierror:
    return socket.gaierror(socket.EAI_NONAME, "Name or service not known")


SMTP_ANSWERS: list[Any] = [
    # (stage, error, detail, transient, maybe delivered)
    (
        "login",
        smtplib.SMTPAuthenticationError(535, b"5.7.8 bad"),
        "SMTP login refused for user max by mail.example.com:587: 535 5.7.8 bad",
        False,
        False,
    ),
    (
        "login",
        smtplib.SMTPAuthenticationError(454, b"4.7.0 later"),
        "SMTP login refused for user max by mail.example.com:587: 454 4.7.0 later",
        True,
        False,
    ),
    (
        "starttls",
        smtplib.SMTPNotSupportedError(),
        f"{WHERE} does not offer STARTTLS: {HINT}",
        False,
        False,
    ),
    (
        "login",
        smtplib.SMTPNotSupportedError(),
        f"{WHERE} does not offer AUTH (login): {HINT}",
        False,
        False,
    ),
    (
        "send",
        smtplib.SMTPNotSupportedError(),
        f"{WHERE} does not offer a command: {HINT}",
        False,
        False,
    ),
    (
        "send",
        smtplib.SMTPRecipientsRefused(
            {"b@x.example": (450, b"later"), "a@x.example": (550, b"no")}
        ),
        f"{WHERE} refused every recipient: a@x.example (550 no); b@x.example (450 later)",
        False,
        False,
    ),
    (
        "send",
        smtplib.SMTPRecipientsRefused({"a@x.example": (451, b"later"), "b@x.example": (499, b"x")}),
        f"{WHERE} refused every recipient: a@x.example (451 later); b@x.example (499 x)",
        True,
        False,
    ),
    ("send", smtplib.SMTPRecipientsRefused({}), f"{WHERE} refused every recipient: ", False, False),
    (
        "send",
        smtplib.SMTPSenderRefused(553, b"not yours", "bot@example.com"),
        f"{WHERE} refused the sender bot@example.com: 553 not yours",
        False,
        False,
    ),
    (
        "send",
        smtplib.SMTPDataError(400, b"edge"),
        f"{WHERE} refused the message: 400 edge",
        True,
        False,
    ),
    (
        "send",
        smtplib.SMTPDataError(500, b"edge"),
        f"{WHERE} refused the message: 500 edge",
        False,
        False,
    ),
    (
        "starttls",
        smtplib.SMTPResponseException(454, b"TLS not available"),
        f"{WHERE} refused the connection (starttls): 454 TLS not available",
        True,
        False,
    ),
    (
        "starttls",
        _tls("WRONG_VERSION_NUMBER"),
        f"TLS with {WHERE} failed (WRONG_VERSION_NUMBER): {HINT}",
        False,
        False,
    ),
    ("starttls", _tls(None), f"TLS with {WHERE} failed (SSLError): {HINT}", False, False),
    (
        "login",
        smtplib.SMTPServerDisconnected("gone"),
        f"{WHERE} closed the connection (login)",
        True,
        False,
    ),
    (
        "send",
        smtplib.SMTPServerDisconnected("gone"),
        f"{WHERE} closed the connection (send)",
        True,
        True,
    ),
    (
        "login",
        TimeoutError("timed out"),
        f"no answer from {WHERE} within 7.5 s (login)",
        True,
        False,
    ),
    ("send", TimeoutError("timed out"), f"no answer from {WHERE} within 7.5 s (send)", True, True),
    (
        "send",
        ConnectionResetError(104, "Connection reset by peer"),
        f"connection to {WHERE} failed while sending (Connection reset by peer)",
        True,
        True,
    ),
    (
        "login",
        ConnectionResetError(104, "Connection reset by peer"),
        f"could not connect to {WHERE} (Connection reset by peer)",
        True,
        False,
    ),
    ("send", OSError(), f"connection to {WHERE} failed while sending (OSError)", True, True),
    ("send", ValueError("odd"), f"SMTP failed with {WHERE} at send (ValueError)", False, False),
]


@pytest.mark.parametrize(("stage", "error", "detail", "transient", "maybe"), SMTP_ANSWERS)
@pytest.mark.usefixtures("no_ca_store")
def test_smtp_every_answer_exactly(
    stage: str, error: BaseException, detail: str, transient: bool, maybe: bool
) -> None:
    log: list[Any] = []

    def factory(*_: Any) -> smtplib.SMTP:
        return cast(smtplib.SMTP, Failing(log, stage, error))

    smtp = SmtpSettings(
        host="mail.example.com",
        port=587,
        security="starttls",
        username="max",
        password=PASSWORD,
        timeout=7.5,
    )
    result = smtp_email(smtp, factory).send(payload())
    assert result.detail == detail
    assert (result.channel, result.ok, result.transient, result.maybe_delivered) == (
        "email",
        False,
        transient,
        maybe,
    )
    assert ("quit",) in log  # the connection is always closed


@pytest.mark.parametrize(
    ("error", "detail", "transient"),
    [
        (
            _dns(),
            f"could not resolve the host of {WHERE} (notification.channels.email.smtp.host)",
            True,
        ),
        (
            ConnectionRefusedError(111, "Connection refused"),
            f"could not connect to {WHERE} (Connection refused)",
            True,
        ),
        (
            smtplib.SMTPConnectError(421, b"busy"),
            f"{WHERE} refused the connection (connect): 421 busy",
            True,
        ),
        (
            smtplib.SMTPConnectError(554, b"no"),
            f"{WHERE} refused the connection (connect): 554 no",
            False,
        ),
    ],
)
@pytest.mark.usefixtures("no_ca_store")
def test_smtp_failing_to_connect(error: BaseException, detail: str, transient: bool) -> None:
    def factory(*_: Any) -> smtplib.SMTP:
        raise error

    smtp = SmtpSettings(host="mail.example.com", port=587, security="none", timeout=7.5)
    result = smtp_email(smtp, factory).send(payload())
    assert (result.detail, result.transient, result.maybe_delivered) == (detail, transient, False)


@pytest.mark.usefixtures("no_ca_store")
def test_smtp_a_quit_that_fails_closes_and_changes_nothing() -> None:
    class BadQuit(FakeClient):
        def quit(self) -> tuple[int, bytes]:
            raise smtplib.SMTPServerDisconnected("gone")

        def close(self) -> None:
            self.log.append(("close",))
            raise OSError("already closed")

    log: list[Any] = []
    smtp = SmtpSettings(host="mail.example.com", port=587, security="none", timeout=7.5)
    result = smtp_email(smtp, lambda *_: cast(smtplib.SMTP, BadQuit(log))).send(payload())
    assert result.ok and result.detail == f"sent to 2 recipients via {WHERE}"
    assert ("close",) in log


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"host": " "}, "notification.channels.email.smtp.host: must be set (SMTP_HOST)"),
        (
            {"host": "mail example"},
            "notification.channels.email.smtp.host: must be a host name, got 'mail example'",
        ),
        (
            {"host": "mail/x"},
            "notification.channels.email.smtp.host: must be a host name, got 'mail/x'",
        ),
        ({"port": 0}, "notification.channels.email.smtp.port: no such port: 0"),
        ({"port": 65536}, "notification.channels.email.smtp.port: no such port: 65536"),
        ({"timeout": 0}, "notification.channels.email.smtp.timeout: must be positive"),
        (
            {"username": "u"},
            "notification.channels.email.smtp.password: must be set when smtp.username is "
            "(SMTP_PASSWORD; for Gmail an App Password)",
        ),
    ],
)
def test_smtp_settings_each_refusal_exactly(fields: dict[str, Any], message: str) -> None:
    smtp = replace(SmtpSettings(host="mail.example.com", port=587), **fields)
    with pytest.raises(ConfigError) as raised:
        SmtpTransport(smtp)
    assert str(raised.value) == message
    for port in (1, 65535):  # the edges that are ports
        SmtpTransport(SmtpSettings(host="mail.example.com", port=port))


def test_the_factory_gets_a_context_that_verifies_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """smtplib.SMTP_SSL without a context would not check the certificate at all."""
    seen: list[ssl.SSLContext] = []

    def factory(mode: Any, host: str, port: int, timeout: float, context: Any) -> smtplib.SMTP:
        seen.append(context)
        return cast(smtplib.SMTP, FakeClient([]))

    smtp = SmtpSettings(host="mail.example.com", port=465, security="ssl", timeout=7.5)
    assert smtp_email(smtp, factory).send(payload()).ok
    (context,) = seen
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_the_ca_store_is_loaded_once_per_process_not_per_run() -> None:
    """Two runs in one process (the tests; `stage` then its auto-send) build two channels:
    they share one context, so the system's CA store (20 to 30 ms of CPU) is read once."""
    seen: list[ssl.SSLContext] = []

    def factory(mode: Any, host: str, port: int, timeout: float, context: Any) -> smtplib.SMTP:
        seen.append(context)
        return cast(smtplib.SMTP, FakeClient([]))

    for security in ("ssl", "starttls"):
        smtp = SmtpSettings(host="mail.example.com", port=465, security=security)
        assert smtp_email(smtp, factory).send(payload()).ok
    first, second = seen
    assert first is second
    assert first.verify_mode == ssl.CERT_REQUIRED and first.check_hostname


def test_an_unknown_security_mode_is_named() -> None:
    with pytest.raises(ConfigError) as raised:
        SmtpTransport(SmtpSettings(host="mail.example.com", security="tls"))  # type: ignore[arg-type]
    assert str(raised.value) == (
        "notification.channels.email.smtp.security: must be one of starttls, ssl, none, got 'tls'"
    )


@pytest.mark.usefixtures("no_ca_store")
def test_an_unresolvable_host_is_a_failure_of_the_email_channel() -> None:
    def factory(*_: Any) -> smtplib.SMTP:
        raise _dns()

    smtp = SmtpSettings(host="mail.example.com", port=587, security="none", timeout=7.5)
    result = smtp_email(smtp, factory).send(payload())
    assert (result.channel, result.ok, result.transient) == ("email", False, True)


@pytest.mark.usefixtures("no_ca_store")
def test_a_login_refusal_that_echoes_the_password_masks_it() -> None:
    error = smtplib.SMTPAuthenticationError(535, f"bad password {PASSWORD}".encode())
    smtp = SmtpSettings(
        host="mail.example.com",
        port=587,
        security="none",
        username="max",
        password=PASSWORD,
        timeout=7.5,
    )
    log: list[Any] = []
    result = smtp_email(smtp, lambda *_: cast(smtplib.SMTP, Failing(log, "login", error))).send(
        payload()
    )
    assert result.detail == f"SMTP login refused for user max by {WHERE}: 535 bad password ***"

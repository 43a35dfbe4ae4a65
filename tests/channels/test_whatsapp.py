"""The WhatsApp channel against Twilio's real client, with the HTTP layer intercepted by
`responses` (docs/platform-facts.md, "Twilio WhatsApp")."""

from __future__ import annotations

import base64
import json
import logging
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
import responses

from match_staging.channels.base import Delivery
from match_staging.channels.whatsapp import WhatsApp
from match_staging.channels.whatsapp_settings import WhatsAppChannel
from match_staging.errors import ConfigError
from match_staging.notices import Notice, Payload, build

pytest.importorskip("twilio")

ACCOUNT = "AC" + "c0ffee" * 5 + "ab"
TOKEN = "CANARY-TOKEN-5f1d3c9e"
CONTENT = "HX" + "1" * 32
SERVICE = "MG" + "2" * 32
URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
ISSUES = "https://gitlab.com/wolfram.laube/backoffice/-/issues"
REVIEW = f"{ISSUES}?label_name%5B%5D=job-match%2Fpending"


def settings(**overrides: Any) -> WhatsAppChannel:
    base = WhatsAppChannel(
        enabled=True,
        account_sid=ACCOUNT,
        auth_token=TOKEN,
        from_number="+14155238886",
        to_number="+436644011521",
    )
    return replace(base, **overrides)


def template_settings() -> WhatsAppChannel:
    return settings(content_sid=CONTENT, messaging_service_sid=SERVICE)


def notice(iid: int, score: float, title: str, **extra: Any) -> Notice:
    return Notice(
        iid=iid,
        score=score,
        title=title,
        provider="Acme GmbH",
        issue_url=f"{ISSUES}/{iid}",
        source_url=f"https://jobs.example.com/{iid}",
        **extra,
    )


def payload(top_title: str = "Cloud Architect") -> Payload:
    notices = [
        notice(11, 93, "DevOps GCP", location="Remote", start="2026-03"),
        notice(10, 97, top_title, location="Remote", start="ASAP"),
        notice(12, 91, "K8s D4A", location="FFM/Berlin"),
        notice(13, 83, "Energy IoT", location="Essen"),
        notice(14, 80, "Platform Engineer"),
    ]
    return build("new", "cycle-1", notices, "job-match/pending", summary="5 neue Job-Matches")


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def created(sid: str = "SM" + "f" * 32) -> dict[str, object]:
    return {"sid": sid, "status": "queued", "account_sid": ACCOUNT}


def error(code: int, message: str, status: int) -> dict[str, object]:
    return {
        "code": code,
        "message": message,
        "status": status,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
    }


def form(call_index: int = 0) -> dict[str, list[str]]:
    body = responses.calls[call_index].request.body
    text = body.decode() if isinstance(body, bytes) else str(body)
    return parse_qs(text, keep_blank_values=True)


def assert_no_secret(delivery: Delivery) -> None:
    assert TOKEN not in delivery.detail
    assert ACCOUNT not in delivery.detail


# --- rendering -----------------------------------------------------------------------------


def test_text_is_ops004_message() -> None:
    text = WhatsApp(settings()).text(payload())
    assert text.splitlines() == [
        "🎯 5 neue Job-Matches!",
        "Top: 97% Cloud Architect (Remote, ASAP)",
        f"Review: {REVIEW}",
    ]


def test_very_long_title_stays_within_limit() -> None:
    text = WhatsApp(settings()).text(payload("Cloud Architect " * 500))
    assert len(text) <= WhatsApp.body_maxlen
    assert text.endswith(f"Review: {REVIEW}")


def test_long_custom_template_is_cut_keeping_review_link(tmp_path: Path) -> None:
    (tmp_path / "whatsapp.txt.j2").write_text(
        "🎯 {{ payload.top.title }}\nReview: {{ payload.review_url }}\n", encoding="utf-8"
    )
    channel = WhatsApp(settings(), str(tmp_path))
    text = channel.text(payload("🚀 Cloud Architect " * 400))
    assert len(text.encode("utf-16-le")) // 2 <= WhatsApp.body_maxlen  # as Twilio counts
    assert text.endswith(f"…\nReview: {REVIEW}")


def test_render_free_form() -> None:
    files = WhatsApp(settings()).render(payload())
    assert [f.name for f in files] == ["whatsapp.txt"]
    assert files[0].content.decode().startswith("🎯 5 neue Job-Matches!\n")


def test_render_template_mode_has_content_variables() -> None:
    files = WhatsApp(template_settings()).render(payload())
    assert [f.name for f in files] == ["whatsapp.txt", "whatsapp.content-variables.json"]
    assert json.loads(files[1].content) == {
        "1": "5",
        "2": "97% Cloud Architect (Remote, ASAP)",
        "3": REVIEW,
    }


def test_template_variables_are_single_lines() -> None:
    variables = WhatsApp(template_settings()).variables(payload("Cloud\n\tArchitect     x" * 50))
    assert "\n" not in variables["2"] and "\t" not in variables["2"]
    assert "  " not in variables["2"]
    assert len(variables["2"]) <= WhatsApp.variable_maxlen


def test_import_does_not_import_twilio() -> None:
    code = (
        "import sys, match_staging.channels.whatsapp; "
        "assert 'twilio' not in sys.modules, sorted(m for m in sys.modules if 'twilio' in m)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- sending -------------------------------------------------------------------------------


@responses.activate
def test_send_free_form_posts_form_fields() -> None:
    responses.post(URL, json=created(), status=201)
    delivery = WhatsApp(settings()).send(payload())
    assert delivery == Delivery("whatsapp", True, "queued as SM" + "f" * 32)
    fields = form()
    assert fields["To"] == ["whatsapp:+436644011521"]
    assert fields["From"] == ["whatsapp:+14155238886"]
    assert fields["Body"] == [
        f"🎯 5 neue Job-Matches!\nTop: 97% Cloud Architect (Remote, ASAP)\nReview: {REVIEW}"
    ]
    assert "ContentSid" not in fields and "MessagingServiceSid" not in fields


@responses.activate
def test_send_template_mode_has_no_body() -> None:
    responses.post(URL, json=created(), status=201)
    delivery = WhatsApp(template_settings()).send(payload())
    assert delivery.ok
    fields = form()
    assert "Body" not in fields
    assert fields["To"] == ["whatsapp:+436644011521"]
    assert fields["ContentSid"] == [CONTENT]
    assert fields["MessagingServiceSid"] == [SERVICE]
    assert json.loads(fields["ContentVariables"][0]) == {
        "1": "5",
        "2": "97% Cloud Architect (Remote, ASAP)",
        "3": REVIEW,
    }


@responses.activate
def test_template_mode_without_from_number_lets_service_pick_sender() -> None:
    responses.post(URL, json=created(), status=201)
    channel = WhatsApp(replace(template_settings(), from_number=""))
    assert channel.send(payload()).ok
    assert "From" not in form()


@responses.activate
def test_429_waits_retry_after_then_sends() -> None:
    responses.post(
        URL, json=error(20429, "Too Many Requests", 429), status=429, headers={"Retry-After": "2"}
    )
    responses.post(URL, json=created(), status=201)
    sleeps = Sleeps()
    delivery = WhatsApp(settings(), sleep=sleeps).send(payload())
    assert delivery.ok, delivery
    assert sleeps.waits == [2.0]
    assert len(responses.calls) == 2


@responses.activate
def test_429_three_times_is_transient() -> None:
    for _ in range(3):
        responses.post(
            URL,
            json=error(20429, "Too Many Requests", 429),
            status=429,
            headers={"Retry-After": "1"},
        )
    sleeps = Sleeps()
    delivery = WhatsApp(settings(), sleep=sleeps).send(payload())
    assert not delivery.ok and delivery.transient and not delivery.maybe_delivered
    assert delivery.detail == (
        "Twilio rate limit (HTTP 429, error 20429) after 3 attempt(s): nothing was sent"
    )
    assert sleeps.waits == [1.0, 1.0]
    assert len(responses.calls) == 3
    assert_no_secret(delivery)


@responses.activate
def test_invalid_to_is_permanent_with_code() -> None:
    message = (
        f"The 'To' number whatsapp:+436644011521 is not a valid phone number (account {ACCOUNT})"
    )
    responses.post(URL, json=error(21211, message, 400), status=400)
    delivery = WhatsApp(settings(), sleep=Sleeps()).send(payload())
    assert not delivery.ok and not delivery.transient
    assert delivery.detail.startswith("Twilio error 21211: The 'To' number")
    assert "to_number" in delivery.detail
    assert len(responses.calls) == 1
    assert_no_secret(delivery)


@responses.activate
def test_outside_window_hints_at_content_sid() -> None:
    responses.post(
        URL,
        json=error(
            63016,
            "Failed to send freeform message because you are outside the allowed window.",
            400,
        ),
        status=400,
    )
    delivery = WhatsApp(settings()).send(payload())
    assert not delivery.ok and not delivery.transient
    assert "63016" in delivery.detail and "content_sid" in delivery.detail


@responses.activate
def test_auth_failure_names_settings_not_secrets() -> None:
    responses.post(URL, json=error(20003, "Authenticate", 401), status=401)
    delivery = WhatsApp(settings()).send(payload())
    assert not delivery.ok and not delivery.transient
    assert "20003" in delivery.detail and "TWILIO_AUTH_TOKEN" in delivery.detail
    assert_no_secret(delivery)


@responses.activate
def test_503_sent_nothing_and_is_retried_by_the_next_run() -> None:
    responses.post(URL, json=error(20503, "Service Unavailable", 503), status=503)
    sleeps = Sleeps()
    delivery = WhatsApp(settings(), sleep=sleeps).send(payload())
    assert not delivery.ok and delivery.transient and not delivery.maybe_delivered
    assert delivery.detail == "Twilio answered HTTP 503 (error 20503): nothing was sent"
    assert len(responses.calls) == 1 and sleeps.waits == []


@responses.activate
def test_500_may_have_been_queued_so_is_never_repeated() -> None:
    responses.post(URL, body="upstream broke", status=500)
    sleeps = Sleeps()
    delivery = WhatsApp(settings(), sleep=sleeps).send(payload())
    assert not delivery.ok and delivery.maybe_delivered
    assert delivery.detail == "Twilio answered HTTP 500: it may have been queued"
    assert len(responses.calls) == 1 and sleeps.waits == []
    assert_no_secret(delivery)


def _connection_error(reason: Exception) -> requests.ConnectionError:
    """As requests raises it: urllib3's MaxRetryError around the reason."""
    from urllib3.exceptions import MaxRetryError

    return requests.ConnectionError(MaxRetryError(None, URL, reason))  # type: ignore[arg-type]


def _never_sent() -> list[Exception]:
    from urllib3.connection import HTTPSConnection
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    conn = HTTPSConnection("api.twilio.com")
    return [
        _connection_error(NewConnectionError(conn, "[Errno 111] Connection refused")),
        _connection_error(
            NameResolutionError(
                "api.twilio.com",
                conn,
                socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
            )
        ),
        requests.ConnectTimeout(f"connect to {URL} timed out"),
    ]


def _maybe_sent() -> list[Exception]:
    from http.client import RemoteDisconnected

    from urllib3.exceptions import ProtocolError

    return [
        requests.ReadTimeout(f"read from {URL} timed out"),
        requests.ConnectionError(
            ProtocolError("Connection aborted.", RemoteDisconnected("closed"))
        ),
        requests.exceptions.ChunkedEncodingError("Connection broken"),
    ]


@pytest.mark.parametrize("failure", _never_sent(), ids=type)
def test_failure_before_sending_is_retried_by_the_next_run(failure: Exception) -> None:
    with responses.RequestsMock() as mock:
        mock.post(URL, body=failure)
        delivery = WhatsApp(settings()).send(payload())
    assert not delivery.ok and delivery.transient and not delivery.maybe_delivered
    assert delivery.detail.endswith("): nothing was sent")
    assert type(failure).__name__ in delivery.detail
    assert_no_secret(delivery)


@pytest.mark.parametrize("failure", _maybe_sent(), ids=type)
def test_failure_after_sending_may_have_been_queued(failure: Exception) -> None:
    with responses.RequestsMock() as mock:
        mock.post(URL, body=failure)
        delivery = WhatsApp(settings()).send(payload())
        assert len(mock.calls) == 1  # not sent again
    assert not delivery.ok and delivery.maybe_delivered
    assert delivery.detail.endswith("): it may have been queued")
    assert_no_secret(delivery)


@responses.activate
def test_template_with_a_from_sender_needs_no_messaging_service() -> None:
    """Twilio changelog 2024-09-04: Content templates no longer need a Messaging Service."""
    responses.post(URL, json=created(), status=201)
    assert WhatsApp(settings(content_sid=CONTENT)).send(payload()).ok
    fields = form()
    assert fields["ContentSid"] == [CONTENT] and fields["From"] == ["whatsapp:+14155238886"]
    assert "MessagingServiceSid" not in fields and "Body" not in fields


# --- late failures -------------------------------------------------------------------------


def listed(
    sid: str, status: str, code: int | None = None, service: str | None = None
) -> dict[str, object]:
    return {
        "sid": sid,
        "status": status,
        "error_code": code,
        "error_message": None,
        "to": "whatsapp:+436644011521",
        "from": "whatsapp:+14155238886",
        "messaging_service_sid": service,
        "direction": "outbound-api",
        "date_sent": "Sun, 08 Feb 2026 13:30:05 +0000",
        "date_created": "Sun, 08 Feb 2026 13:30:04 +0000",
        "account_sid": ACCOUNT,
    }


def page(*messages: dict[str, object]) -> dict[str, object]:
    return {
        "messages": list(messages),
        "page": 0,
        "page_size": 1000,
        "next_page_uri": None,
        "first_page_uri": "/2010-04-01/Accounts/x/Messages.json?PageSize=1000&Page=0",
        "previous_page_uri": None,
        "start": 0,
        "end": len(messages) - 1,
        "uri": "/2010-04-01/Accounts/x/Messages.json?PageSize=1000&Page=0",
    }


@responses.activate
def test_failed_messages_lists_once_and_keeps_the_failures() -> None:
    responses.get(
        URL,
        json=page(
            listed("SM1", "delivered"),
            listed("SM2", "undelivered", 63016),
            listed("SM3", "failed", 63003),
            listed("SM4", "queued"),
        ),
    )
    from datetime import date

    check = WhatsApp(settings()).failed_messages(date(2026, 2, 7))
    assert check.error == ""
    assert [(f.sid, f.status, f.error_code) for f in check.failures] == [
        ("SM2", "undelivered", 63016),
        ("SM3", "failed", 63003),
    ]
    assert "content_sid" in check.failures[0].describe()
    assert (
        check.failures[0]
        .describe()
        .startswith("message SM2 of 2026-02-08 13:30 UTC was undelivered, Twilio error 63016: ")
    )
    assert check.failures[1].describe() == (
        "message SM3 of 2026-02-08 13:30 UTC failed, Twilio error 63003 "
        "(twilio.com/docs/api/errors/63003)"
    )
    [call] = responses.calls
    query = str(call.request.url).split("?", 1)[1]
    assert parse_qs(query) == {
        "To": ["whatsapp:+436644011521"],
        "From": ["whatsapp:+14155238886"],
        "DateSent>": ["2026-02-07"],
        "PageSize": ["1000"],
    }


@responses.activate
def test_failed_messages_through_a_messaging_service_are_its_own() -> None:
    responses.get(
        URL,
        json=page(
            listed("SM1", "failed", 63016, SERVICE), listed("SM2", "failed", 63016, "MG" + "9" * 32)
        ),
    )
    from datetime import date

    channel = WhatsApp(settings(from_number="", content_sid=CONTENT, messaging_service_sid=SERVICE))
    check = channel.failed_messages(date(2026, 2, 7))
    assert [f.sid for f in check.failures] == ["SM1"]
    assert "From" not in parse_qs(str(responses.calls[0].request.url).split("?", 1)[1])


@responses.activate
def test_failed_messages_never_raises() -> None:
    responses.get(URL, body=requests.ReadTimeout(f"read from {URL} timed out"))
    from datetime import date

    check = WhatsApp(settings()).failed_messages(date(2026, 2, 7))
    assert check.failures == [] and check.error == "no answer from api.twilio.com (ReadTimeout)"


@responses.activate
def test_basic_auth_uses_configured_credentials() -> None:
    responses.post(URL, json=created(), status=201)
    WhatsApp(settings()).send(payload())
    auth = responses.calls[0].request.headers["Authorization"]
    scheme, _, encoded = auth.partition(" ")
    # Twilio: HTTP Basic with the account SID as the user and the auth token as the password
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == f"{ACCOUNT}:{TOKEN}"
    call = responses.calls[0].request
    assert call.method == "POST" and call.url == URL
    assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_injected_client_is_used() -> None:
    class Messages:
        def __init__(self) -> None:
            self.calls: list[dict[str, str]] = []

        def create(self, **params: str) -> object:
            self.calls.append(params)
            return type("Message", (), {"sid": "SM1"})()

    class Client:
        messages = Messages()

    client = Client()
    assert WhatsApp(settings(), client=client).send(payload()).detail == "queued as SM1"
    assert client.messages.calls[0]["to"] == "whatsapp:+436644011521"


# --- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"account_sid": ""}, "account_sid: must be set (TWILIO_ACCOUNT_SID)"),
        ({"account_sid": "not-a-sid"}, "account_sid: must be a Twilio account SID"),
        ({"auth_token": ""}, "auth_token: must be set (TWILIO_AUTH_TOKEN)"),
        ({"to_number": ""}, "to_number: must be set"),
        ({"to_number": "0664 4011521"}, "to_number: must be in E.164 form"),
        ({"from_number": ""}, "from_number: must be set"),
        ({"from_number": "+43 664"}, "from_number: must be in E.164 form"),
        ({"content_sid": "HXshort", "messaging_service_sid": SERVICE}, "content_sid: must be"),
        ({"content_sid": CONTENT, "from_number": ""}, "from_number: must be set"),
        (
            {"content_sid": CONTENT, "messaging_service_sid": "SK" + "2" * 32},
            "messaging_service_sid: must be a Messaging Service SID",
        ),
    ],
)
def test_config_errors_name_the_key(overrides: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        WhatsApp(settings(**overrides))
    message = str(raised.value)
    assert message.startswith("notification.channels.whatsapp.")
    assert expected in message
    assert TOKEN not in message and ACCOUNT not in message


def test_whatsapp_prefix_in_config_is_accepted() -> None:
    channel = WhatsApp(settings(to_number="whatsapp:+436644011521"))
    assert channel.message(payload())["to"] == "whatsapp:+436644011521"


# --- every answer Twilio can give to one send, exactly (issue 26) ---------------------------

HINT_TO = "check notification.channels.whatsapp.to_number"


@pytest.mark.parametrize(
    ("status", "body", "detail", "transient", "maybe"),
    [
        (
            400,
            error(21211, f"bad 'To' (account {ACCOUNT})", 400),
            "Twilio error 21211: bad 'To' (account ***) (" + HINT_TO + ")",
            False,
            False,
        ),
        (
            400,
            error(21999, "odd", 400),
            "Twilio error 21999: odd",
            False,
            False,
        ),
        (404, {"message": "gone", "status": 404}, "Twilio error 404: gone", False, False),
        (
            500,
            error(20500, "boom", 500),
            "Twilio answered HTTP 500 (error 20500): it may have been queued",
            True,
            True,
        ),
        (
            502,
            {"message": "bad gateway", "status": 502},
            "Twilio answered HTTP 502: it may have been queued",
            True,
            True,
        ),
        (503, error(503, "down", 503), "Twilio answered HTTP 503: nothing was sent", True, False),
    ],
)
def test_every_kind_of_refusal_exactly(
    status: int, body: dict[str, object], detail: str, transient: bool, maybe: bool
) -> None:
    with responses.RequestsMock() as mock:
        mock.post(URL, json=body, status=status)
        sleeps = Sleeps()
        delivery = WhatsApp(settings(), sleep=sleeps).send(payload())
        assert len(mock.calls) == 1 and sleeps.waits == []  # only a 429 is tried again
    assert delivery.detail == detail
    assert (delivery.ok, delivery.transient, delivery.maybe_delivered) == (False, transient, maybe)
    assert_no_secret(delivery)


def test_an_error_without_a_code_from_an_injected_client() -> None:
    from twilio.base.exceptions import TwilioRestException

    class Messages:
        def create(self, **params: str) -> object:
            raise TwilioRestException(404, URL, f"gone {TOKEN}")

    class Client:
        messages = Messages()

    delivery = WhatsApp(settings(), client=Client()).send(payload())
    assert delivery.detail == "Twilio answered HTTP 404: gone ***"
    assert (delivery.ok, delivery.transient, delivery.maybe_delivered) == (False, False, False)


@pytest.mark.parametrize(
    ("text", "limit", "cut"),
    [
        ("abc", 3, "abc"),
        ("abcd", 3, "ab…"),
        ("a😀b", 4, "a😀b"),  # 😀 is 2 UTF-16 units: 4 in all
        ("a😀bc", 4, "a😀…"),  # 5 units: "a😀" (3) and "…" (1)
        ("ab cd", 4, "ab…"),  # no space before the "…"
        ("😀😀", 3, "😀…"),
        ("😀😀", 2, "…"),  # never half an emoji
    ],
)
def test_cut_counts_utf16_units_as_twilio_does(text: str, limit: int, cut: str) -> None:
    from match_staging.channels.whatsapp import _cut, _units

    assert _cut(text, limit) == cut
    assert _units(cut) <= limit
    assert _units("a😀") == 3 and _units("") == 0


# --- an injected client, message statuses, and each way a check fails (issue 26) -----------


class Raising:
    """A client whose messages.create / page raise `error`."""

    def __init__(self, error: BaseException) -> None:
        outer = self

        class Messages:
            def create(self, **params: str) -> object:
                raise outer.error

            def page(self, **query: object) -> object:
                raise outer.error

        self.error = error
        self.messages = Messages()


def service(status: int, code: int | None, detail: str | None = None, title: str = "") -> Any:
    """Twilio's RFC 9457 error (TwilioServiceException): detail and title, no msg."""
    from twilio.base.exceptions import TwilioServiceException

    return TwilioServiceException("about:blank", title, status, code, detail)


def test_a_stock_client_passed_in_still_waits_as_twilio_says() -> None:
    from twilio.rest import Client

    with responses.RequestsMock() as mock:
        mock.post(
            URL, json=error(20429, "slow down", 429), status=429, headers={"Retry-After": "3"}
        )
        mock.post(URL, json=created(), status=201)
        sleeps = Sleeps()
        delivery = WhatsApp(settings(), client=Client(ACCOUNT, TOKEN), sleep=sleeps).send(payload())
    assert delivery.ok and sleeps.waits == [3.0]


def test_a_client_without_headers_waits_the_default() -> None:
    from twilio.base.exceptions import TwilioRestException

    sleeps = Sleeps()
    rate = TwilioRestException(429, URL, "slow down", code=None)
    delivery = WhatsApp(settings(), client=Raising(rate), sleep=sleeps).send(payload())
    assert sleeps.waits == [1.0, 1.0]
    assert delivery.detail == (
        "Twilio rate limit (HTTP 429, error 20429) after 3 attempt(s): nothing was sent"
    )
    assert (delivery.ok, delivery.transient, delivery.maybe_delivered) == (False, True, False)


def test_our_own_client_has_the_timeout_and_keeps_the_headers() -> None:
    channel = WhatsApp(settings())
    with responses.RequestsMock() as mock:
        mock.post(URL, json=error(20429, "x", 429), status=429, headers={"Retry-After": "2"})
        mock.post(URL, json=created(), status=201)
        sleeps = Sleeps()
        channel._sleep = sleeps
        assert channel.send(payload()).ok
        kwargs = [c.request.req_kwargs for c in mock.calls]  # type: ignore[attr-defined]
    assert {k["timeout"] for k in kwargs} == {WhatsApp.timeout}
    assert sleeps.waits == [2.0]


@pytest.mark.parametrize(
    ("error", "detail", "transient", "maybe"),
    [
        (
            service(400, 21211, detail=f"bad To {TOKEN}"),
            "Twilio error 21211: bad To *** (" + HINT_TO + ")",
            False,
            False,
        ),
        (
            service(400, 21999, title="Bad Request"),
            "Twilio error 21999: Bad Request",
            False,
            False,
        ),
        (service(400, 21999), "Twilio error 21999: ", False, False),
        (
            service(502, 502, detail="gateway"),
            "Twilio answered HTTP 502: it may have been queued",
            True,
            True,
        ),
        (
            service(503, 20503),
            "Twilio answered HTTP 503 (error 20503): nothing was sent",
            True,
            False,
        ),
        (ValueError("odd"), "sending failed (ValueError)", False, False),
    ],
)
def test_each_error_a_client_raises(
    error: Exception, detail: str, transient: bool, maybe: bool
) -> None:
    delivery = WhatsApp(settings(), client=Raising(error), sleep=Sleeps()).send(payload())
    assert delivery.detail.strip() == detail.strip()
    assert (delivery.channel, delivery.ok, delivery.transient, delivery.maybe_delivered) == (
        "whatsapp",
        False,
        transient,
        maybe,
    )


def test_without_twilio_installed_both_say_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys
    from datetime import date

    monkeypatch.setitem(sys.modules, "twilio.base.exceptions", None)  # import fails
    channel = WhatsApp(settings(), client=Raising(ValueError()))
    want = "the whatsapp channel needs the twilio package: pip install 'match-staging[whatsapp]'"
    delivery = channel.send(payload())
    assert (delivery.ok, delivery.detail, delivery.transient) == (False, want, False)
    assert channel.failed_messages(date(2026, 2, 7)).error == want


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (
            service(401, 20003, detail="Authenticate"),
            "Twilio answered error 20003: Authenticate",
        ),
        (service(500, None, detail="boom"), "Twilio answered HTTP 500: boom"),
        (requests.ConnectTimeout("x"), "no answer from api.twilio.com (ConnectTimeout)"),
        (ValueError("x"), "reading message statuses failed (ValueError)"),
    ],
)
def test_each_way_the_status_check_fails(error: Exception, said: str) -> None:
    from datetime import date

    check = WhatsApp(settings(), client=Raising(error)).failed_messages(date(2026, 2, 7))
    assert (check.failures, check.error) == ([], said)


def test_message_statuses_every_field() -> None:
    from datetime import date

    later = {**listed("SM2", "failed", None), "date_sent": None}  # no send date: when created
    bare = {**listed("SM3", "undelivered", None), "date_sent": None, "date_created": None}
    with responses.RequestsMock() as mock:
        mock.get(URL, json=page(listed("SM1", "failed", 21211), later, bare, listed("SM4", "read")))
        check = WhatsApp(settings()).failed_messages(date(2026, 2, 7))
    assert [f.describe() for f in check.failures] == [
        f"message SM1 of 2026-02-08 13:30 UTC failed, Twilio error 21211: {HINT_TO}",
        "message SM2 of 2026-02-08 13:30 UTC failed, no error code",
        "message SM3 was undelivered, no error code",
    ]
    assert [(f.error_code, f.hint) for f in check.failures] == [
        (21211, HINT_TO),
        (None, ""),
        (None, ""),
    ]


def test_the_free_text_is_cut_only_past_the_limit_keeping_the_link(tmp_path: Path) -> None:
    for size, cut in ((1600, False), (1601, True)):
        (tmp_path / "whatsapp.txt.j2").write_text(
            "x" * (size - len(REVIEW) - 1) + "\n{{ payload.review_url }}", encoding="utf-8"
        )
        text = WhatsApp(settings(), str(tmp_path)).text(payload())
        assert text.endswith("\n" + REVIEW) and ("…" in text) is cut
        assert len(text) == min(size, 1600)
    # a last line as long as half the limit is no link to keep: the whole text is cut
    (tmp_path / "whatsapp.txt.j2").write_text("a\n" + "y" * 1700, encoding="utf-8")
    assert WhatsApp(settings(), str(tmp_path)).text(payload()) == "a\n" + "y" * 1597 + "…"


def test_template_variables_keep_umlauts_as_text() -> None:
    channel = WhatsApp(template_settings())
    params = channel.message(payload(top_title="Küchenplaner"))
    assert "Küchenplaner" in params["content_variables"]


def test_no_request_url_with_the_account_sid_reaches_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The stock client logs every request URL at INFO; the URL carries the account SID."""
    caplog.set_level(logging.DEBUG)
    with responses.RequestsMock() as mock:
        mock.post(URL, json=created(), status=201)
        assert WhatsApp(settings()).send(payload()).ok
    assert ACCOUNT not in caplog.text and TOKEN not in caplog.text


def test_the_rendered_text_is_the_message_and_one_line_break() -> None:
    channel = WhatsApp(settings())
    (text,) = channel.render(payload())
    assert (text.name, text.content) == ("whatsapp.txt", (channel.text(payload()) + "\n").encode())


def test_an_error_message_is_one_line_of_at_most_300_characters() -> None:
    delivery = WhatsApp(settings(), client=Raising(service(400, 21999, "x " * 400))).send(payload())
    assert delivery.detail == "Twilio error 21999: " + ("x " * 150)[:299].rstrip() + "…"
    assert delivery.channel == "whatsapp"


def test_only_the_channels_own_failures_are_listed_in_any_order() -> None:
    from datetime import date

    other = "MG" + "9" * 32
    with responses.RequestsMock() as mock:
        mock.get(
            URL,
            json=page(
                listed("SM1", "failed", 63016, other), listed("SM2", "failed", 63016, SERVICE)
            ),
        )
        channel = WhatsApp(
            settings(from_number="", content_sid=CONTENT, messaging_service_sid=SERVICE)
        )
        check = channel.failed_messages(date(2026, 2, 7))
    assert [f.sid for f in check.failures] == ["SM2"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"account_sid": "AC123"},
            "account_sid: must be a Twilio account SID, 'AC' and 32 hex digits "
            "(TWILIO_ACCOUNT_SID)",
        ),
        (
            {"messaging_service_sid": "MGxyz"},
            "messaging_service_sid: must be a Messaging Service SID, 'MG' and 32 hex digits",
        ),
        (
            {"to_number": ""},
            "to_number: must be set, a WhatsApp number in E.164 form such as +436641234567",
        ),
        (
            {"from_number": ""},
            "from_number: must be set, a WhatsApp number in E.164 form such as +436641234567 "
            "(or set messaging_service_sid)",
        ),
        (
            {"to_number": "+43 664"},
            "to_number: must be in E.164 form, '+' and 7 to 15 digits without spaces, such as "
            "+436641234567",
        ),
    ],
)
def test_each_settings_refusal_exactly(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        WhatsApp(settings(**overrides))
    assert str(raised.value) == f"notification.channels.whatsapp.{message}"

"""An operator alert (usecases/health.py) on every channel: its own templates, escaped per
channel as the match messages are, links only http(s), no match list needed."""

from __future__ import annotations

import json
from datetime import date

from match_staging import notices, render
from match_staging.channels.email import Email
from match_staging.channels.email_settings import EmailChannel
from match_staging.channels.slack import Slack
from match_staging.channels.slack_settings import SlackChannel
from match_staging.channels.whatsapp import WhatsApp
from match_staging.channels.whatsapp_settings import WhatsAppChannel

HOOK = "https://gl.example/api/v4/projects/1/ref/main/trigger/pipeline"


def payload(**changes: object) -> notices.Payload:
    fields: dict[str, object] = {
        "token_expires": date(2026, 3, 21),
        "days_left": 20,
        "webhooks": (notices.WebhookAlert(HOOK, "temporarily_disabled", "2026-03-02T09:00Z"),),
        "tokens_url": "https://gl.example/-/user_settings/personal_access_tokens",
        "variables_url": "https://gl.example/g/p/-/settings/ci_cd",
        "hooks_url": "https://gl.example/g/p/-/hooks",
    }
    alert = notices.Alert(**{**fields, **changes})  # type: ignore[arg-type]
    bare = notices.alert_payload(alert, "alert-1", "")
    line = render.render("alert_summary.txt.j2", None, target="text", payload=bare)
    return notices.alert_payload(alert, "alert-1", " ".join(line.split()))


def test_email_has_both_parts_with_the_date_the_pages_and_the_subject() -> None:
    mail = Email(
        EmailChannel(enabled=True, recipients=["f@example.com"], sender="m <m@example.com>"),
        transport=object(),  # type: ignore[arg-type]  # composing sends nothing
    ).message(payload())
    assert "läuft am 2026-03-21 ab (in 20 Tagen)" in str(mail["Subject"])
    text = str(mail.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    html = str(mail.get_body(("html",)).get_content())  # type: ignore[union-attr]
    for part in (text, html):
        assert "2026-03-21" in part and "GITLAB_TOKEN" in part and "bootstrap" in part
    assert 'href="https://gl.example/g/p/-/settings/ci_cd"' in html


def test_html_blanks_a_link_that_is_not_http() -> None:
    mail = Email(
        EmailChannel(enabled=True, recipients=["f@example.com"], sender="m <m@example.com>"),
        transport=object(),  # type: ignore[arg-type]
    ).message(payload(hooks_url="javascript:alert(1)"))
    html = str(mail.get_body(("html",)).get_content())  # type: ignore[union-attr]
    assert "javascript:" not in html and "Settings &gt; Webhooks" in html


def test_slack_escapes_and_links_only_what_the_template_builds() -> None:
    body = Slack(SlackChannel(enabled=True, webhook_url="https://hooks.slack.com/x")).message(
        payload(webhooks=(notices.WebhookAlert(HOOK, "temporarily_disabled", "<!channel> &"),))
    )
    text = json.dumps(body, ensure_ascii=False)
    assert "<!channel>" not in text and "(bis &lt;!channel&gt; &amp;)" in text
    assert "<https://gl.example/g/p/-/hooks|Settings &gt; Webhooks>" in text
    assert "läuft am 2026-03-21 ab" in body["text"]


def test_whatsapp_sends_an_alert_as_text_even_in_template_mode() -> None:
    channel = WhatsApp(
        WhatsAppChannel(
            enabled=True,
            account_sid="AC" + "1" * 32,
            auth_token="t",
            from_number="+14155238886",
            to_number="+436644011521",
            content_sid="HX" + "1" * 32,
        )
    )
    params = channel.message(payload(webhooks=()))
    assert "content_sid" not in params and "2026-03-21" in params["body"]
    assert params["body"].endswith("https://gl.example/g/p/-/settings/ci_cd")
    webhook_only = channel.message(payload(token_expires=None, days_left=None))
    assert webhook_only["body"].endswith("https://gl.example/g/p/-/hooks")

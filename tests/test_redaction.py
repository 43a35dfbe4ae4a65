"""Finding secrets in text (redaction.py), as plain functions: whole, percent-encoded and cut
echoes are all found, ordinary text is left alone (issue 15; issue 26: its own tests)."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import pytest

from match_staging.channels.slack_settings import SlackChannel
from match_staging.config import Config
from match_staging.redaction import (
    CUT_LENGTH,
    PLACEHOLDER,
    Scrubber,
    Secret,
    forms,
    mask,
    secrets_of,
)

TOKEN = "glpat-AbCdEfGhIjKlMnOpQrStUv"  # 26 characters: cut echoes count
HOOK = "https://hooks.slack.com/services/T0/B0/SECRETSECRETSECRET"


def test_secrets_of_every_source_named_by_its_variable_first() -> None:
    cfg = Config()
    cfg.notification.channels.by_name["slack"] = SlackChannel(enabled=True, webhook_url=HOOK)
    env = {
        "GITLAB_TOKEN": TOKEN,
        "CI_JOB_TOKEN": "job-token-1",
        "CI_JOB_JWT_V2": "jwt-value-2",  # by prefix
        "SLACK_WEBHOOK_URL": HOOK,  # a channel's variable: named by it, not by the key
        "TWILIO_AUTH_TOKEN": "   ",  # blank: nothing to find
        "HOME": "/root",  # not a secret
        "CI_JOB_ID": "77",
    }
    found = secrets_of(cfg, env)
    assert sorted(found, key=lambda s: s.name) == [
        Secret("CI_JOB_JWT_V2", "jwt-value-2"),
        Secret("CI_JOB_TOKEN", "job-token-1"),
        Secret("GITLAB_TOKEN", TOKEN),
        Secret("SLACK_WEBHOOK_URL", HOOK),
    ]
    assert secrets_of(cfg, {}) == [Secret("notification.channels.slack.webhook_url", HOOK)]
    assert secrets_of(None, {"TRIGGER_TOKEN": "t0ken-x"}) == [Secret("TRIGGER_TOKEN", "t0ken-x")]


def test_the_forms_of_a_value() -> None:
    value = "a b/c+d=ÄÖ-1234567890123"
    whole, cut = forms(value)
    assert set(whole) == {value, quote(value, safe=""), quote(value), quote_plus(value)}
    assert [len(f) for f in whole] == sorted((len(f) for f in whole), reverse=True)
    assert cut == tuple(f for f in whole if len(f) > CUT_LENGTH)
    assert forms(HOOK)[1] == ()  # a URL's first characters are its public host
    assert forms("short-token")[1] == ()  # 11 characters: only whole


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"token {TOKEN}.", "token X."),
        (f"echo {TOKEN[:CUT_LENGTH]} end", "echo X end"),  # the first 20 characters
        (f"echo {TOKEN[: CUT_LENGTH + 3]}zz", "echo Xzz"),  # and as far as it goes on
        (f"echo {TOKEN[: CUT_LENGTH - 1]} end", f"echo {TOKEN[: CUT_LENGTH - 1]} end"),
        (f"{TOKEN[:CUT_LENGTH]}|{TOKEN}|{TOKEN[:CUT_LENGTH]}", "X|X|X"),
        ("nothing here", "nothing here"),
    ],
)
def test_mask_whole_encoded_and_cut_echoes(text: str, masked: str) -> None:
    assert mask(text, TOKEN, "X") == (masked, masked != text)


def test_every_encoded_form_is_masked() -> None:
    value = "pa ss/wörd+1"
    text = f"{quote(value, safe='')} {quote(value)} {quote_plus(value)} {value}"
    assert mask(text, value, "X") == ("X X X X", True)


def test_a_cut_url_is_not_a_secret_but_the_whole_one_is() -> None:
    text = f"posted to {HOOK[:30]}... and {HOOK}"
    assert mask(text, HOOK, "X") == (f"posted to {HOOK[:30]}... and X", True)


def test_the_scrubber_longest_first_names_once_short_values_never() -> None:
    long_one = Secret("SMTP_PASSWORD", "hunter2-and-more")
    inner = Secret("CI_JOB_TOKEN", "hunter2")  # inside the longer one
    scrubber = Scrubber([inner, long_one, Secret("x", "12345"), "abcdef"])
    assert scrubber
    text, names = scrubber.scrub("pw hunter2-and-more, hunter2, hunter2, 12345, abcdef")
    assert text == f"pw {PLACEHOLDER}, {PLACEHOLDER}, {PLACEHOLDER}, 12345, {PLACEHOLDER}"
    assert names == ["SMTP_PASSWORD", "CI_JOB_TOKEN", "a secret"]
    assert scrubber.scrub("clean") == ("clean", [])
    assert not Scrubber([Secret("x", "12345")])  # 5 characters: left alone
    assert Scrubber(["123456"]).scrub("id 123456")[0] == f"id {PLACEHOLDER}"  # 6: scrubbed


def test_a_cut_echo_of_a_later_form_is_masked_when_an_earlier_forms_is_absent() -> None:
    """The forms are scanned longest first: a percent-encoded form whose head is not in the
    text must not end the scan before the plain value's cut echo is found."""
    value = "pa ss/wort-1234567890abcdef"  # encoded: pa%20ss%2Fwort-..., the longest form
    cut = forms(value)[1]
    assert cut[0] != value and cut[0][:CUT_LENGTH] not in value
    assert mask(f"echo {value[:22]}!", value, "X") == ("echo X!", True)
    assert mask(f"echo {quote_plus(value)[:21]}!", value, "X") == ("echo X!", True)


def test_an_echo_the_replacement_completes_again_is_masked_and_nothing_raises() -> None:
    """One `str.replace` pass can leave the whole value again where the replacement and the
    text after it meet (a value starting with what the replacement ends with); the cut scan
    then meets the whole form and must stop at its end, not read past it."""
    value = "Xabcdefghijklmnopqrstuvw"  # 24 characters, starts with the replacement
    text = f"{value}{value[1:]}!"  # replaced once: "X" + value[1:] + "!" is value + "!"
    assert mask(text, value, "X") == ("X!", True)

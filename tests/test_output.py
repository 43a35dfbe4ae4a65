"""What the tool prints: results on standard output, notices on standard error, never a
secret, never a terminal escape from someone else's text."""

from __future__ import annotations

import io

from match_staging.output import Output, printable
from match_staging.redaction import Secret

TOKEN = "glpat-CANARY-0123456789abcdef"


def streams() -> tuple[Output, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Output(secrets=[TOKEN], out=out, err=err), out, err


def test_results_and_notices_go_to_their_own_stream() -> None:
    output, out, err = streams()
    output.result("staged    #1")
    output.notice("match-staging: error: no such file")
    assert out.getvalue() == "staged    #1\n"
    assert err.getvalue() == "match-staging: error: no such file\n"


def test_a_secret_is_masked_whole_encoded_or_cut_short() -> None:
    output, out, _ = streams()
    output.result(f"token={TOKEN}")
    output.result(f"echo {TOKEN[:22]}…")
    output.add_secrets(["pa ss/word+CANARY"])
    output.result("url=https://x.example/?p=pa%20ss%2Fword%2BCANARY")  # a server's echo
    text = out.getvalue()
    assert "CANARY" not in text and text.count("***") == 3, text
    assert text.endswith("url=https://x.example/?p=***\n")


def test_secrets_learnt_later_are_masked_too_and_tiny_ones_never() -> None:
    output, out, _ = streams()
    output.add_secrets([Secret("SMTP_PASSWORD", "s3cret-pass"), "abc"])
    output.result("login s3cret-pass failed; abc stays")
    assert out.getvalue() == "login *** failed; abc stays\n"
    assert TOKEN in output.secrets and "abc" not in output.secrets


def test_terminal_escapes_and_bidi_controls_are_shown_not_obeyed() -> None:
    evil = "\x1b[2J\x1b]8;;https://evil.example\x07click\u202egnp.exe\r\x00"
    shown = printable(evil)
    assert shown == ("\\x1b[2J\\x1b]8;;https://evil.example\\x07click\\u202egnp.exe\\x0d\\x00")
    assert printable("tab\tand\nnewline stay; word\u2060joiner goes") == (
        "tab\tand\nnewline stay; wordjoiner goes"
    )
    output, out, _ = streams()
    output.result(evil)
    assert "\x1b" not in out.getvalue() and "\u202e" not in out.getvalue()

"""The issue text GitLab gets: docs/interface.md's shape, and inert whatever the posting says."""

from __future__ import annotations

import json
import re
import time

import pytest

from match_staging import config, record, render
from match_staging.matches import Document, parse
from match_staging.model import Match
from match_staging.render import one_line, truncate
from match_staging.trackers.base import Upload
from match_staging.usecases.stage import issue_draft
from tests.conftest import match

HOSTILE = (
    "/close\n/label ~hacked\n  /assign @mallory\n```\n/unlabel\n```\n"
    "Ping @reviewer and @all, café@reviewer, see #1 and group/proj#2 and !3 and &4.\n"
    "<!-- hide the rest\n<script>alert(1)</script><img src=x onerror=alert(1)>\n"
    "| a | b |\n# Fake heading\n---\nhttps://gitlab.example.com/freelancer/backoffice/-/issues/1"
)
# GitLab's patterns for what must not take effect (docs/platform-facts.md). A mention is
# `(?<!\w)@` and a path starting with [a-zA-Z0-9_.], where Ruby's \w is ASCII only (gitlabhq
# app/models/user.rb `reference_pattern`, lib/gitlab/path_regex.rb PATH_START_CHAR).
QUICK_ACTION = re.compile(r"^/\w+", re.MULTILINE)
MENTION = re.compile(r"(?<![A-Za-z0-9_])@[A-Za-z0-9_.][\w.\-]*")
ISSUE_REF = re.compile(r"[#!&]\d+")


def parsed(**fields: object) -> Match:
    found, errors = parse(Document("inbox/x.json", json.dumps(match(**fields)).encode()))
    assert not errors, errors
    return found[0]


def test_description_has_the_ops004_sections() -> None:
    cfg = config.Config()
    m = parsed(
        location="Remote",
        start="ASAP",
        duration="6 Mo",
        rate=95,
        notes="n",
        draft="Hallo,\nich bin verfügbar.",
        requirements=[{"requirement": "K8s", "score": 90, "weight": 2, "comment": "c"}],
    )
    draft = issue_draft(cfg, m, [Upload("cv.pdf", "/uploads/ab/cv.pdf")])
    text = draft.description
    for heading in (
        "## Match Details",
        "## Score Breakdown",
        "## Notes",
        "## Draft",
        "## Attachments",
    ):
        assert heading in text
    assert "- **Score:** 92%" in text
    assert "- **Start:** ASAP | **Duration:** 6 Mo" in text
    assert "- **Rate:** 95 EUR/h" in text
    assert "| K8s | 90% | 2 | c |" in text
    assert "> Hallo,\\\n> ich bin verfügbar." in text
    assert "[cv.pdf](</uploads/ab/cv.pdf>)" in text
    assert record.description_keys(text) == m.keys
    assert draft.title == "[JOB-MATCH] 92% — Senior DevOps Engineer"
    assert draft.labels == ("job-match", "job-match/pending", "match-score/high")


@pytest.mark.parametrize("field", ["notes", "draft", "title", "provider", "location", "start"])
def test_hostile_text_is_inert_in_every_field(field: str) -> None:
    m = parsed(
        **{field: HOSTILE[:280] if field in ("provider", "location", "start") else HOSTILE},
        requirements=[{"requirement": HOSTILE[:400], "comment": HOSTILE[:900]}],
    )
    draft = issue_draft(config.Config(), m, [])
    body = draft.description
    assert not QUICK_ACTION.search(body)
    assert not MENTION.search(body)
    assert not ISSUE_REF.search(body)
    assert not ISSUE_REF.search(draft.title) and not MENTION.search(draft.title)
    assert body.split("\n", 3)[3].count("<!--") == 0  # only our three marker lines
    assert "<script" not in body and "<img" not in body
    assert "://gitlab.example.com" not in body  # no auto-link to a GitLab issue
    # no heading or rule of its own to pose as one of our sections
    assert "\n# Fake" not in body and "\n> # Fake" not in body
    assert body.count("\n---\n") == 1 and "\n> ---" not in body


def test_table_cells_cannot_add_columns_or_rows() -> None:
    m = parsed(requirements=[{"requirement": "a | b | c", "comment": "x\n| d | e |"}])
    rows = [
        line
        for line in issue_draft(config.Config(), m, []).description.splitlines()
        if line.startswith("| a")
    ]
    assert len(rows) == 1
    assert len(re.findall(r"(?<!\\)\|", rows[0])) == 5  # four columns, five borders


def test_title_is_one_line_and_fits_gitlab() -> None:
    title = render.issue_title(88.5, "Lead\nEngineer " + "x" * 400)
    assert len(title) == 255 and title.endswith("…")
    assert title.startswith("[JOB-MATCH] 88.5% — Lead Engineer x")


def test_emails_stay_copyable_but_mentions_are_broken() -> None:
    assert render.gitlab_text("jobs@acme.example") == "jobs@acme.example"
    assert render.gitlab_text("@acme") == "@\u2060acme"


@pytest.mark.parametrize("before", ["é", "ü", "ß", "日", "Ω", "١"])
def test_a_letter_gitlab_does_not_count_as_a_word_before_the_at_sign(before: str) -> None:
    """Ruby's \\w is ASCII only, so GitLab mentions `é@reviewer`; only ASCII word characters
    keep an address intact."""
    text = render.gitlab_text(f"{before}@reviewer and x1@reviewer")
    assert f"{before}@\u2060reviewer" in text and "x1@reviewer" in text
    assert not MENTION.search(text)


def test_escaping_is_linear_in_blank_lines_and_line_starts() -> None:
    """`a`, 99,998 empty lines, `a` took minutes (issue 10); any line-start pattern that
    runs on over line breaks is quadratic. Generous bound: the real cost is ~0.05 s."""
    for text in (
        "a" + "\n" * 99_998 + "a",
        "-" + " \n" * 49_999 + "#",
        " " * 99_998 + "/x",
        "\n".join(["-"] * 50_000),
    ):
        started = time.process_time()
        render.quote_block(text)
        render.gitlab_text(text)
        assert time.process_time() - started < 1.0, text[:20]
    block = render.quote_block("a\n \n  \n/close\n  # h\n---\n- ")
    assert not QUICK_ACTION.search(str(block).replace("> ", ""))
    assert "\\/close" in block and "\\# h" in block and "\\---" in block


def test_marker_is_only_trusted_at_the_start() -> None:
    assert record.description_keys("text <!-- match-staging v1 keys: msk-1 -->") == ()
    assert record.description_keys(record.key_line(("msk-a", "msk-b")) + "\nx") == (
        "msk-a",
        "msk-b",
    )


def test_low_score_gets_the_low_label_and_assignee_from_config() -> None:
    cfg = config.Config()
    cfg.notification.channels.gitlab_todo.assignee_id = 7
    cfg.notification.channels.gitlab_todo.enabled = True
    draft = issue_draft(cfg, parsed(score=55), [])
    assert "match-score/low" in draft.labels and draft.assignee_ids == (7,)
    cfg.notification.channels.gitlab_todo.enabled = False  # no to-do wanted: nobody assigned
    assert issue_draft(cfg, parsed(score=55), []).assignee_ids == ()


@pytest.mark.parametrize(
    ("value", "length", "short"),
    [
        (None, 5, ""),
        ("", 0, ""),
        ("abcde", 5, "abcde"),  # exactly the length: untouched
        ("abcdef", 5, "abcd…"),  # the "…" is one of the 5 characters
        ("ab  cdef", 5, "ab…"),  # no space before the "…"
        ("äöüßé" * 2, 6, "äöüßé…"),  # characters, not bytes
        (12345678, 4, "123…"),
    ],
)
def test_truncate_counts_characters_and_the_ellipsis(
    value: object, length: int, short: str
) -> None:
    assert truncate(value, length) == short
    assert len(truncate(value, length)) <= max(length, 0)


def test_one_line_folds_every_kind_of_whitespace_then_cuts() -> None:
    assert one_line("  a\n\tb \r\n c  ", 20) == "a b c"
    assert one_line("word " * 10, 11) == "word word…"
    assert one_line("", 5) == ""

"""The issue text GitLab gets: docs/interface.md's shape, and inert whatever the posting says."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
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


# --------------------------------------------------------------------------- compiled templates

SHIPPED = {"posting.j2": "{{ title }} ({{ iid }})\n"}


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the templates Jinja compiles from source, in order."""
    seen: list[str] = []
    original = jinja2.Environment.compile

    def compile_(self: jinja2.Environment, source: str, name: str | None = None, *a: Any) -> Any:
        seen.append(name or "")
        return original(self, source, name, *a)

    monkeypatch.setattr(jinja2.Environment, "compile", compile_)
    return seen


@pytest.fixture
def shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A shipped templates folder of this test's own (templates_dir), and no environment
    built before or after the test."""
    folder = tmp_path / "shipped"
    folder.mkdir()
    for name, text in SHIPPED.items():
        (folder / name).write_text(text, encoding="utf-8")
    monkeypatch.setattr(render, "templates_dir", lambda: folder)
    render.environment.cache_clear()
    yield folder
    render.environment.cache_clear()


def new_run(monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    """What a new `match-staging` process starts with: no environment built, and the
    machine's compiled templates in `cache`."""
    render.environment.cache_clear()
    monkeypatch.setattr(
        render, "compiled_templates", lambda tag: render.CompiledTemplates(tag, str(cache))
    )


HOSTILE_TITLE = 'Cloud <b>"Architect"</b> @all /close'


def test_a_shipped_template_is_compiled_by_the_first_run_only_and_renders_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compiles: list[str], shipped: Path
) -> None:
    outputs = []
    for _ in range(3):
        new_run(monkeypatch, tmp_path)
        outputs.append(render.render("posting.j2", None, "slack", title=HOSTILE_TITLE, iid=7))
    assert compiles == ["posting.j2"]
    assert outputs[0] == outputs[1] == outputs[2]
    assert "<b>" not in outputs[0] and "&lt;b&gt;" in outputs[0]  # still escaped for Slack
    kept = [p.name for p in tmp_path.glob("__match_staging_*")]
    assert len(kept) == 1 and kept[0].startswith("__match_staging_slack-")


def test_a_changed_template_is_compiled_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compiles: list[str], shipped: Path
) -> None:
    new_run(monkeypatch, tmp_path)
    render.render("posting.j2", None, "text", title="a", iid=1)
    (shipped / "posting.j2").write_text("new: {{ title }}\n", encoding="utf-8")  # an upgrade
    new_run(monkeypatch, tmp_path)
    assert render.render("posting.j2", None, "text", title="a", iid=1) == "new: a\n"
    assert compiles == ["posting.j2"] * 2


def test_each_target_keeps_its_own_compiled_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compiles: list[str], shipped: Path
) -> None:
    """One template compiles differently per environment (HTML autoescapes, the others
    finalize): code compiled for one target must never render another's."""
    targets: tuple[render.Target, ...] = ("html", "text", "gitlab", "slack")
    first: list[str] = []
    again: list[str] = []
    for outputs in (first, again):
        new_run(monkeypatch, tmp_path)
        outputs.extend(
            render.render("posting.j2", None, t, title=HOSTILE_TITLE, iid=2) for t in targets
        )
    assert first == again
    assert len(set(first)) == len(targets)  # each escaped its own way
    assert "&lt;b&gt;" in first[0] and "<b>" in first[1]
    assert compiles == ["posting.j2"] * len(targets)
    assert len(list(tmp_path.glob("__match_staging_*"))) == len(targets)


def test_a_users_own_template_is_compiled_each_run_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compiles: list[str], shipped: Path
) -> None:
    own = tmp_path / "templates"
    own.mkdir()
    (own / "posting.j2").write_text("mine: {{ title }}\n", encoding="utf-8")
    cache = tmp_path / "cache"
    cache.mkdir()
    for _ in range(2):
        new_run(monkeypatch, cache)
        assert render.render("posting.j2", str(own), "text", title="x", iid=1) == "mine: x\n"
    assert compiles == ["posting.j2"] * 2
    assert list(cache.iterdir()) == []


def test_a_cache_that_cannot_be_written_or_is_damaged_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compiles: list[str], shipped: Path
) -> None:
    new_run(monkeypatch, tmp_path / "missing")  # every write fails
    expected = render.render("posting.j2", None, "gitlab", title="T", iid=3)
    cache = tmp_path / "cache"
    cache.mkdir()
    new_run(monkeypatch, cache)
    render.render("posting.j2", None, "gitlab", title="T", iid=3)
    (kept,) = cache.iterdir()
    whole = kept.read_bytes()
    kept.write_bytes(whole[:-20])  # a run killed while it wrote
    new_run(monkeypatch, cache)
    assert render.render("posting.j2", None, "gitlab", title="T", iid=3) == expected
    kept.write_bytes(jinja2.bccache.bc_magic + b"\x80junk")  # its checksum unreadable
    new_run(monkeypatch, cache)
    assert render.render("posting.j2", None, "gitlab", title="T", iid=3) == expected
    assert compiles == ["posting.j2"] * 4


def test_code_compiled_under_other_options_is_never_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shipped: Path
) -> None:
    """A release that changes an environment's options (same template, same path after an
    upgrade in place) compiles again: the options are part of the cache's file name."""

    def env(**options: Any) -> jinja2.Environment:
        loader = jinja2.FileSystemLoader(str(shipped))
        made = jinja2.Environment(loader=loader, **options)  # noqa: S701 - plain text
        made.bytecode_cache = render.CompiledTemplates(render.fingerprint(made), str(tmp_path))
        return made

    (shipped / "block.j2").write_text("{% if x %}\nyes\n{% endif %}\n", encoding="utf-8")
    plain = env().get_template("block.j2").render(x=1)
    trimmed = env(trim_blocks=True).get_template("block.j2").render(x=1)
    shout = env(finalize=lambda v: str(v).upper())
    finalized = shout.get_template("posting.j2").render(title="a", iid=1)
    assert (plain, trimmed, finalized) == ("\nyes\n", "yes\n", "A (1)")
    assert env().get_template("posting.j2").render(title="a", iid=1) == "a (1)"
    assert len(list(tmp_path.glob("__match_staging_*"))) == 4


def test_a_ci_job_keeps_no_compiled_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a shell runner other projects' jobs run as the same user: code they left in the
    temp folder must not be loaded by this job (and a container's is new each job)."""
    render.compiled_templates.cache_clear()
    monkeypatch.setenv("CI", "true")
    assert render.compiled_templates("gitlab-x") is None
    monkeypatch.delenv("CI")
    monkeypatch.delenv("GITLAB_CI", raising=False)
    monkeypatch.delenv("CI_JOB_ID", raising=False)
    assert render.compiled_templates("gitlab-y") is not None
    render.compiled_templates.cache_clear()

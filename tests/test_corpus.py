"""Every file of tests/corpus/ through `match-staging stage FILE`, against the fake GitLab with
Slack and email enabled: one hostile or broken case per file, its outcome in expected.json.

For each file: the expected outcome (exit 1 and the named one-line errors for rejections; N
issues for staged matches, the good ones beside bad ones included), no traceback, nothing
executed in GitLab (no quick action, mention, reference, state or label change, assignee),
nothing unescaped in the issue, the Slack post or the email, and nothing twice on a re-run.

expected.json maps a file name to any of:
  "rejected": [substrings]   each must appear in a `rejected` line; exit code 1
  "staged": N                issues created (default 0)
  "repeated": N, "below": N  as counted in the run's summary line
  "title_length": N          every staged issue's title has exactly N characters
  "uploads": N               attachments uploaded
"""

from __future__ import annotations

import html.parser
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from match_staging import config
from match_staging.cli import main
from match_staging.labels import label_specs
from match_staging.resources import templates_dir
from match_staging.trackers import ledger
from tests.conftest import job_matches
from tests.fakes.gitlab_server import FakeGitLab
from tests.fakes.slack_server import SlackWebhook
from tests.fakes.smtp_sink import SmtpSink

CORPUS = Path(__file__).resolve().parent / "corpus"
EXPECTED: dict[str, dict[str, Any]] = json.loads(
    (CORPUS / "expected.json").read_text(encoding="utf-8"))
DAY = "2026-02-08T14:30:00+01:00"   # outside quiet hours: notifications go out at once
ASSIGNEE = 2                        # the configured reviewer; the fake's user "reviewer"

# Product bugs the corpus finds, file -> what goes wrong, until they are fixed: such a case
# runs as a strict xfail, so the fix turns it into a failure until its entry is removed.
# (Empty: everything the first run found, in 1a44448, is fixed.)
KNOWN_PRODUCT_BUGS: dict[str, str] = {}

STATE_LABELS = ("job-match", "job-match/pending")
SCORE_LABELS = ("match-score/high", "match-score/medium", "match-score/low")
TOOL_LABELS = {spec.name for spec in label_specs(config.Labels())} | {ledger.LABEL}
TEMPLATE_HEADINGS = {line.strip() for line in (templates_dir() / "issue.md.j2").read_text(
    encoding="utf-8").splitlines() if line.startswith("#")}
OUTPUT_LINE = re.compile(r"^(staged|existing|repeated|below|rejected|failed|notified|deferred"
                         r"|unrecorded) |^\d+ staged, \d+ already staged, ")
# Invisible and bidirectional characters; the tool inserts U+2060 itself to break references
# in GitLab text, so that one is allowed there and nowhere else.
INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2061-\u2064\u2066-\u2069\ufeff\u061c]")
TERMINAL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# The tool's own marker comments (keys, notice, state, ...): each one whole line.
MARKER = re.compile(r"<!-- match-staging v1 [a-z]+: [A-Za-z0-9+/= \-]+ -->")
# The only '<' a staged description may hold: the markers, the footer and the destinations
# of the links the tool builds itself.
OWN_MARKUP = re.compile(MARKER.pattern + r"|</?sub>|(?<=\]\()<(?:https?://|/uploads/)[^<>\s]*>")


def cases() -> list[Any]:
    return [pytest.param(name, id=name,
                         marks=[pytest.mark.xfail(strict=True, reason=KNOWN_PRODUCT_BUGS[name])]
                         if name in KNOWN_PRODUCT_BUGS else [])
            for name in sorted(EXPECTED)]


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def slack() -> Iterator[SlackWebhook]:
    with SlackWebhook() as server:
        yield server


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


@dataclass
class World:
    gitlab: FakeGitLab
    slack: SlackWebhook
    smtp: SmtpSink

    def env(self) -> dict[str, str]:
        prefix = "MATCH_STAGING__NOTIFICATION__CHANNELS__"
        return {
            "GITLAB_URL": self.gitlab.url, "GITLAB_TOKEN": self.gitlab.token,
            "GITLAB_PROJECT": "1", "MATCH_STAGING_NOW": DAY,
            "MATCH_STAGING_ASSIGNEE_ID": str(ASSIGNEE),
            f"{prefix}SLACK__ENABLED": "true", "SLACK_WEBHOOK_URL": self.slack.url,
            f"{prefix}EMAIL__ENABLED": "true", "SMTP_HOST": "127.0.0.1",
            f"{prefix}EMAIL__SMTP__PORT": str(self.smtp.port),
            f"{prefix}EMAIL__SMTP__SECURITY": "none",
        }


@pytest.fixture
def world(slack: SlackWebhook, smtp: SmtpSink,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setattr("match_staging.trackers.gitlab.RETRY_PAUSE_SECONDS", 0)
    slack.posts.clear()
    slack.answers.clear()
    smtp.messages.clear()
    with FakeGitLab() as gitlab:
        yield World(gitlab, slack, smtp)


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def summary(self) -> str:
        lines = self.out.strip().splitlines()
        return lines[-1] if lines else ""

    def lines(self, kind: str) -> list[str]:
        return [line for line in self.out.splitlines() if line.startswith(kind + " ")]


def stage(world: World, name: str, capsys: pytest.CaptureFixture[str]) -> Run:
    code = main(["stage", name], world.env())
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


# --------------------------------------------------------------------------- checks

def escaped(text: str, index: int) -> bool:
    """True when the character at `index` follows an odd number of backslashes."""
    count = 0
    while index - count - 1 >= 0 and text[index - count - 1] == "\\":
        count += 1
    return count % 2 == 1


def unescaped(text: str, needle: str) -> list[int]:
    return [m.start() for m in re.finditer(re.escape(needle), text)
            if not escaped(text, m.start())]


def output_problems(run: Run) -> list[str]:
    problems = []
    if "Traceback" in run.out + run.err:
        problems.append("a traceback was printed")
    for line in run.err.splitlines():   # notices may come; errors may not
        if re.search(r"(?i)\berror\b", line):
            problems.append(f"error on standard error: {line[:300]!r}")
    for line in run.out.splitlines():
        if not OUTPUT_LINE.match(line):
            problems.append(f"stdout line of no known kind (a message broke its line?): "
                            f"{line[:120]!r}")
    for line in (run.out + run.err).splitlines():
        if TERMINAL.search(line) or INVISIBLE.search(line):
            problems.append(f"control, escape or bidi character printed: {line[:120]!r}")
    return problems


def description_problems(description: str) -> list[str]:
    problems = []
    if not re.match(r"<sub>match-staging keys: msk[0-9a-f]{24}( msk[0-9a-f]{24})*</sub>\n",
                    description):
        problems.append("the key line is not the description's first line")
    markers = [line for line in description.splitlines() if MARKER.fullmatch(line)]
    for needle in ("<!--", "-->"):
        if description.count(needle) != len(markers):
            problems.append(f"{needle!r} appears {description.count(needle)} times, "
                            f"but the tool wrote {len(markers)} marker lines")
    for found in re.finditer("<", description):
        if not OWN_MARKUP.match(description, found.start()):
            problems.append(f"raw '<' in the description: "
                            f"{description[found.start():found.start() + 40]!r}")
    for index in unescaped(description, "]("):
        if not re.match(r"\]\(<(?:https?://|/uploads/)", description[index:]):
            problems.append(f"link to a non-web destination: {description[index:index + 40]!r}")
    for found in re.finditer("://", description):
        if not re.search(r"\(<https?$", description[:found.start()]):
            problems.append(f"bare URL GitLab would autolink: "
                            f"{description[max(found.start() - 20, 0):found.end() + 20]!r}")
    previous = ""
    for line in description.splitlines():
        bare = re.sub(r"^(?:>\s?)*", "", line)
        if re.match(r"^ {0,3}#{1,6}(?:\s|$)", bare) and line not in TEMPLATE_HEADINGS:
            problems.append(f"heading from untrusted text: {line[:60]!r}")
        underline = re.match(r"^ {0,3}(?:=+|-+)\s*$", bare)
        if underline and re.sub(r"^(?:>\s?)*", "", previous).strip() and line != "---":
            problems.append(f"setext heading underline below {previous[:60]!r}: {line!r}")
        previous = line
    table = False
    for line in description.splitlines():
        if line.startswith("| Requirement |"):
            table = True
        elif table and not line.startswith("|"):
            table = False
        if table and len(unescaped(line, "|")) != 5:
            problems.append(f"table row with {len(unescaped(line, '|'))} cell separators: "
                            f"{line[:100]!r}")
    return problems


def gitlab_problems(world: World) -> list[str]:
    fake = world.gitlab
    problems = []
    if fake.executed_quick_actions:
        problems.append(f"quick actions executed: {fake.executed_quick_actions[:5]}")
    # GitLab gives the assignee an "assigned" to-do; any other to-do came from a mention.
    others = [(t["action_name"], t["_user_id"]) for t in fake.todos
              if (t["action_name"], t["_user_id"]) != ("assigned", ASSIGNEE)]
    if others:
        problems.append(f"to-dos other than the assignee's: {others[:5]}")
    foreign = set(fake.labels) - TOOL_LABELS
    if foreign:
        problems.append(f"labels the tool does not own were created: {sorted(foreign)}")
    for iid, issue in job_matches(fake).items():
        where = f"issue #{iid}"
        if issue.get("_mentions"):
            problems.append(f"{where} mentions {issue['_mentions']}")
        if issue.get("_references"):
            problems.append(f"{where} references {issue['_references']}")
        if issue["state"] != "opened":
            problems.append(f"{where} is {issue['state']}")
        labels = sorted(issue["labels"])
        scores = [lb for lb in labels if lb in SCORE_LABELS]
        if len(scores) != 1 or sorted(set(labels) - set(scores)) != sorted(STATE_LABELS):
            problems.append(f"{where} labels are not the tool's: {labels}")
        if [a["id"] for a in issue["assignees"]] != [ASSIGNEE]:
            problems.append(f"{where} assignees {[a['username'] for a in issue['assignees']]}")
        title = str(issue["title"])
        if not title.startswith("[JOB-MATCH] ") or len(title) > 255 or "\n" in title:
            problems.append(f"{where} title is not one line of the tool's form: {title[:80]!r}")
        if INVISIBLE.search(title) or TERMINAL.search(title):
            problems.append(f"{where} title keeps invisible or control characters: {title!r}")
        problems += [f"{where}: {p}" for p in description_problems(str(issue["description"]))]
    return problems


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def slack_problems(world: World) -> list[str]:
    own_link = re.compile(re.escape("<" + world.gitlab.url + "/") + r"[^<>|\s]*\|[^<>]*>")
    problems = []
    for post in world.slack.posts:
        for text in strings(post):
            for token in ("<!channel>", "<!here>", "<!everyone>", "<@U", "<#C", "<!subteam"):
                if token in text:
                    problems.append(f"Slack text holds {token!r}")
            rest = own_link.sub("", text)
            if "<" in rest or ">" in rest:
                at = rest.find("<") if "<" in rest else rest.find(">")
                problems.append(f"Slack text holds markup other than links to GitLab: "
                                f"{rest[max(at - 20, 0):at + 40]!r}")
            if INVISIBLE.search(text) or "\u2060" in text or TERMINAL.search(text.replace(
                    "\n", "")):
                problems.append(f"Slack text keeps invisible or control characters: "
                                f"{text[:80]!r}")
    return problems


class _Markup(html.parser.HTMLParser):
    """The elements and attributes of an HTML text, its comments and its link targets."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.hrefs: list[str] = []
        self.comments: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            self.attributes.add(name)
            if name == "href" and value:
                self.hrefs.append(value)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def _template_markup() -> tuple[set[str], set[str]]:
    """The elements and attributes of the shipped HTML email template: all an email may hold,
    since untrusted text only ever fills its values."""
    found = _Markup((templates_dir() / "match_summary.html.j2").read_text(encoding="utf-8"))
    return found.tags, found.attributes


EMAIL_TAGS, EMAIL_ATTRIBUTES = _template_markup()
assert "a" in EMAIL_TAGS and "href" in EMAIL_ATTRIBUTES
assert not {"script", "img", "details"} & EMAIL_TAGS and not [
    a for a in EMAIL_ATTRIBUTES if a.startswith("on")]


def email_problems(world: World) -> list[str]:
    problems = []
    for message in world.smtp.messages:
        assert isinstance(message, EmailMessage)
        subject = str(message["Subject"])
        if "\n" in subject or "\r" in subject or INVISIBLE.search(subject):
            problems.append(f"email subject is not one clean line: {subject!r}")
        html_part = message.get_body(("html",))
        plain_part = message.get_body(("plain",))
        assert html_part is not None and plain_part is not None
        body = str(html_part.get_content())
        lowered = body.lower()
        for raw in ("<script", "<img", "<details", "<iframe", "<svg", "<style", "<!--"):
            if raw in lowered:
                problems.append(f"email HTML holds a raw {raw!r}")
        found = _Markup(body)
        problems += [f"email HTML has a <{tag}> element" for tag in found.tags - EMAIL_TAGS]
        problems += [f"email HTML has a {name}= attribute"
                     for name in found.attributes - EMAIL_ATTRIBUTES]
        problems += [f"email HTML has a comment: {c[:40]!r}" for c in found.comments]
        problems += [f"email link to a non-web destination: {href[:60]!r}"
                     for href in found.hrefs if not re.match(r"https?://", href)]
        for part in (body, str(plain_part.get_content())):
            if INVISIBLE.search(part) or "\u2060" in part or TERMINAL.search(
                    re.sub(r"[\r\n\t]", "", part)):
                problems.append("email keeps invisible or control characters")
    return problems


# --------------------------------------------------------------------------- tests

def test_corpus_is_large_complete_and_well_formed() -> None:
    files = {p.name for p in CORPUS.iterdir() if p.name != "expected.json"}
    assert files == set(EXPECTED), (sorted(files - set(EXPECTED)),
                                    sorted(set(EXPECTED) - files))
    assert len(files) >= 40
    allowed = {"rejected", "staged", "repeated", "below", "title_length", "uploads"}
    for name, outcome in EXPECTED.items():
        assert set(outcome) <= allowed and ("rejected" in outcome or "staged" in outcome), name
        assert all(isinstance(s, str) and s for s in outcome.get("rejected", [])), name
    assert set(KNOWN_PRODUCT_BUGS) <= set(EXPECTED)


@pytest.mark.parametrize("name", cases())
def test_corpus_file(name: str, repo: Path, world: World, capsys: pytest.CaptureFixture[str],
                     tmp_path_factory: pytest.TempPathFactory) -> None:
    expected = EXPECTED[name]
    shutil.copyfile(CORPUS / name, repo / name)
    outside = tmp_path_factory.mktemp("outside") / "secret.pdf"
    outside.write_bytes(b"%PDF-1.4 not part of the repository")
    (repo / "cv" / "outside-link.pdf").symlink_to(outside)

    run = stage(world, name, capsys)
    staged = expected.get("staged", 0)
    problems = output_problems(run)
    rejected_lines = run.lines("rejected")
    for wanted in expected.get("rejected", []):
        if not any(wanted in line for line in rejected_lines):
            problems.append(f"no rejected line contains {wanted!r}; stdout: {run.out[:600]!r}")
    if "rejected" not in expected and rejected_lines:
        problems.append(f"unexpected rejection: {rejected_lines[:3]}")
    if run.lines("failed"):
        problems.append(f"failed lines: {[line[:200] for line in run.lines('failed')]}")
    wanted_code = 1 if "rejected" in expected else 0
    if run.code != wanted_code:
        problems.append(f"exit code {run.code}, expected {wanted_code}")
    if len(job_matches(world.gitlab)) != staged:
        problems.append(f"{len(job_matches(world.gitlab))} issues created, expected {staged}")
    counts = {"staged": staged, "repeated": expected.get("repeated", 0),
              "below threshold": expected.get("below", 0)}
    for what, number in counts.items():
        if f" {number} {what}" not in f" {run.summary}":
            problems.append(f"summary does not say '{number} {what}': {run.summary!r}")
    if "title_length" in expected:
        lengths = [len(str(i["title"])) for i in job_matches(world.gitlab).values()]
        if lengths != [expected["title_length"]] * staged:
            problems.append(f"title lengths {lengths}, expected {expected['title_length']}")
    if "uploads" in expected and len(world.gitlab.uploads) != expected["uploads"]:
        problems.append(f"{len(world.gitlab.uploads)} uploads, expected {expected['uploads']}")
    messages = 1 if staged else 0
    if len(world.slack.posts) != messages or len(world.smtp.messages) != messages:
        problems.append(f"{len(world.slack.posts)} Slack posts and {len(world.smtp.messages)} "
                        f"emails, expected {messages} each")
    problems += gitlab_problems(world) + slack_problems(world) + email_problems(world)

    # One issue per match, ever: the same file again creates and sends nothing.
    issues, posts, mails = len(job_matches(world.gitlab)), len(world.slack.posts), len(
        world.smtp.messages)
    again = stage(world, name, capsys)
    problems += [f"second run: {p}" for p in output_problems(again)]
    if (len(job_matches(world.gitlab)), len(world.slack.posts), len(world.smtp.messages)) != (
            issues, posts, mails):
        problems.append("the second run created an issue or sent a message again")
    if again.code != wanted_code or f"0 staged, {staged} already staged" not in again.summary:
        problems.append(f"second run: exit {again.code}, summary {again.summary!r}")
    if world.gitlab.executed_quick_actions:
        problems.append("second run executed quick actions")

    assert not problems, f"{name}:\n  " + "\n  ".join(problems)

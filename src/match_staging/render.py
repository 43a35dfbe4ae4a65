"""Rendering: one Jinja2 environment per target, each escaping untrusted text by default.

Every `{{ value }}` in a GitLab template is escaped by `gitlab_text` unless the code marked
it `Markup` (our own links and uploads). That makes forgetting to escape impossible rather
than unlikely. Why each rule exists: docs/platform-facts.md, "Quick actions run on API text".
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import os
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import jinja2
from markupsafe import Markup

from match_staging import __version__
from match_staging.environment import in_ci
from match_staging.resources import templates_dir

TITLE_MAXLEN = 255  # GitLab: title is too long (maximum is 255 characters)
TITLE_PREFIX = "[JOB-MATCH]"
WORD_JOINER = "\u2060"  # invisible; breaks GitLab's reference patterns without a visible mark

# GitLab turns these into references with side effects: @user notifies the user; #12, !12,
# &12 (also group/project#12) add "mentioned in" notes to other issues, MRs and epics.
# GitLab's mention is `(?<!\w)@` + a path starting with [a-zA-Z0-9_.] (gitlabhq
# app/models/user.rb `User.reference_pattern`, lib/gitlab/path_regex.rb PATH_START_CHAR), and
# Ruby's \w is ASCII only: `é@user` mentions. So only an ASCII word character before the `@`
# spares it (Python's \w would count `é`).
_MENTION = re.compile(r"(?<![A-Za-z0-9_])@(?=[\w.\-])")
_REFERENCE = re.compile(r"(?<=[#!&])(?=\d)")
_AUTOLINK = re.compile(r"(?i)(?<=[a-z])://")
# Markdown's punctuation, each backslash-escaped; a translation table runs in C, where a
# regex replacement template costs a Python call per character of a hostile text.
_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_[]|~${}"})
# A line GitLab could read as a quick action, heading, setext underline, rule or list item.
# The indentation is whitespace other than a line break: `\s*` would run on over blank lines
# from every line start, which made a draft of many empty lines quadratic (issue 10).
_LINE_START = re.compile(r"^([^\S\n]*)([/#=+]|-+[^\S\n]*$)", re.MULTILINE)


def neutralise_references(text: str) -> str:
    """Break @mentions, #/!/& references and autolinks; the text still reads the same.

    A pattern runs only where its character is: a table of 100,000 cells is rendered.
    """
    if "@" in text:
        text = _MENTION.sub("@" + WORD_JOINER, text)
    if "#" in text or "!" in text or "&" in text:
        text = _REFERENCE.sub(WORD_JOINER, text)
    return _AUTOLINK.sub(":" + WORD_JOINER + "//", text) if "://" in text else text


def _escaped(value: Any) -> str:
    text = neutralise_references(str(value))
    text = html.escape(text, quote=False)
    text = text.translate(_MARKDOWN)
    return _LINE_START.sub(_escape_line_start, text)


def _escape_line_start(found: re.Match[str]) -> str:
    return f"{found.group(1)}\\{found.group(2)}"


def _hard_breaks(lines: list[str], prefix: str) -> str:
    """Join lines keeping each break: a trailing backslash is a hard break, except before a
    blank line or at the end, where CommonMark would show it literally.
    """
    filled = [bool(line.strip()) for line in lines] + [False]
    bare = prefix.rstrip()
    return "\n".join(
        prefix + line + ("\\" if filled[index + 1] else "") if filled[index] else bare
        for index, line in enumerate(lines)
    )


def gitlab_text(value: Any) -> str:
    """Untrusted text as inert GitLab Markdown: no HTML, no comment, no table break-out, no
    quick action, no mention, no reference. Line breaks are kept as hard breaks.
    """
    if isinstance(value, Markup):
        return str(value)
    if value is None:
        return ""
    text = _escaped(value)
    if "\n" not in text:
        return text if text.strip() else ""
    return _hard_breaks(text.split("\n"), prefix="")


def quote_block(value: Any) -> Markup:
    """Untrusted multi-line text as a Markdown block quote, escaped line by line."""
    return Markup(_hard_breaks(_escaped(value).split("\n"), prefix="> ")) if value else Markup("")


def table_cell(value: Any) -> Markup:
    """A value for one Markdown table cell: escaped, one line, no `|`."""
    return Markup(gitlab_text(" ".join(str(value or "").split())) or " ")


def link(url: str, label: str | None = None) -> Markup:
    """A link we build ourselves: destination percent-encoded, label escaped."""
    safe = quote(url, safe=":/?&=%#@+,;~!$'*[]")
    safe = safe.replace("(", "%28").replace(")", "%29")
    if label is None:
        parts = urlsplit(url)
        label = parts.netloc + parts.path
    return Markup(f"[{gitlab_text(label)}](<{safe}>)")


def issue_title(score: float, title: str) -> str:
    """`[JOB-MATCH] {score}% — {title}`, one line, references broken, at most 255 chars."""
    one_line = " ".join(neutralise_references(title).split())
    text = f"{TITLE_PREFIX} {fmt_score(score)}% — {one_line}"
    return truncate(text, TITLE_MAXLEN)


def parse_issue_title(title: str) -> tuple[str, str] | None:
    """(score, title) from a title `issue_title` wrote; None for any other title."""
    found = re.match(rf"^{re.escape(TITLE_PREFIX)} ([\d.]+)% — (.*)$", title)
    return (found.group(1), found.group(2)) if found else None


def fmt_score(score: float | None) -> str:
    """A score as shown: no decimals for a whole number."""
    if score is None:
        return ""
    return f"{score:.0f}" if float(score).is_integer() else f"{score:.1f}".rstrip("0")


def slack_text(value: Any) -> str:
    """Slack mrkdwn: escape exactly &, < and > (docs/platform-facts.md, "Slack incoming
    webhooks"); that disarms <!channel>, <!here>, <@U…> and fake links.
    """
    if isinstance(value, Markup):
        return str(value)
    if value is None:
        return ""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_link(url: str, label: str) -> Markup:
    """A Slack link we build ourselves, after escaping its label."""
    target = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    return Markup(f"<{target}|{slack_text(label)}>")


def plain_text(value: Any) -> str:
    """Plain-text target: the value as it is."""
    return "" if value is None else str(value)


def truncate(value: Any, length: int) -> str:
    """The one way text is shortened: at most `length` characters, "…" when cut."""
    text = "" if value is None else str(value)
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def one_line(text: str, length: int) -> str:
    """Whitespace folded, then cut: a server's answer or an error for a one-line report."""
    return truncate(" ".join(text.split()), length)


Target = Literal["gitlab", "slack", "text", "html"]
_FINALIZE: dict[Target, Callable[[Any], str]] = {
    "gitlab": gitlab_text,
    "slack": slack_text,
    "text": plain_text,
}


class CompiledTemplates(jinja2.FileSystemBytecodeCache):
    """The shipped templates compiled once per machine, not once per run: compiling the 11
    templates of a `stage` was a fifth of the run's CPU. Jinja's per-user folder in the temp
    directory (made 0700 and its owner checked: what it loads is marshalled code); Jinja
    recompiles a template whose source changed (the checksum in each file). `tag` names the
    environment the code was compiled for (`fingerprint`): its options change the code. A
    user's own templates (`templates_dir`) are compiled each run, so a folder of them per
    project leaves no files behind. A cache that cannot be written or read is no cache: the
    run goes on.
    """

    def __init__(self, tag: str, directory: str | None = None) -> None:
        super().__init__(directory, f"__match_staging_{tag}_%s.cache")
        self._shipped = templates_dir().resolve()
        self._keys: set[str] = set()  # the cache keys of shipped templates seen

    def get_bucket(
        self, environment: jinja2.Environment, name: str, filename: str | None, source: str
    ) -> jinja2.bccache.Bucket:
        """Jinja's bucket; a shipped template's key is noted as one to load and keep."""
        # resolved: a checkout's `templates_dir: templates` is the shipped folder, relative
        if filename is not None and Path(filename).resolve().parent == self._shipped:
            self._keys.add(self.get_cache_key(name, filename))
        return super().get_bucket(environment, name, filename, source)

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        """The compiled code of a shipped template, when its file is there, whole and current."""
        if bucket.key in self._keys:
            try:
                super().load_bytecode(bucket)
            except Exception:  # a damaged file: Jinja unpickles its checksum unguarded
                bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        """Keep a shipped template's compiled code; a failed write is ignored."""
        if bucket.key in self._keys:
            with contextlib.suppress(OSError):
                super().dump_bytecode(bucket)


def fingerprint(env: jinja2.Environment) -> str:
    """What an environment's compiled code depends on besides the template: its syntax,
    whitespace and autoescape options, its `finalize` and how that is called, `undefined`,
    its extensions, and this release (an upgrade in place keeps the templates' paths).
    """
    finalize = env.finalize
    facts = (
        __version__,
        jinja2.__version__,
        env.block_start_string,
        env.block_end_string,
        env.variable_start_string,
        env.variable_end_string,
        env.comment_start_string,
        env.comment_end_string,
        env.line_statement_prefix,
        env.line_comment_prefix,
        env.trim_blocks,
        env.lstrip_blocks,
        env.newline_sequence,
        env.keep_trailing_newline,
        env.optimized,
        env.autoescape if isinstance(env.autoescape, bool) else _name(env.autoescape),
        None if finalize is None else (_name(finalize), getattr(finalize, "jinja_pass_arg", 0)),
        _name(env.undefined),
        sorted(env.extensions),
    )
    return hashlib.sha256(repr(facts).encode()).hexdigest()[:16]


def _name(thing: Any) -> str:
    return f"{getattr(thing, '__module__', '')}.{getattr(thing, '__qualname__', repr(thing))}"


@cache
def compiled_templates(tag: str) -> CompiledTemplates | None:
    """The bytecode cache of environments tagged `tag`. None in a CI job: its temp folder
    is new each job (nothing to gain), and on a shell runner other projects' jobs run as the
    same user and could leave code there for this job to load. None too without a usable
    temp folder.
    """
    if in_ci(os.environ):
        return None
    try:
        return CompiledTemplates(tag)
    except (OSError, RuntimeError):  # Jinja: RuntimeError when the folder is not safe
        return None


@cache
def environment(override_dir: str | None = None, target: Target = "gitlab") -> jinja2.Environment:
    """Templates from the user's folder first, then the shipped ones. Each target escapes
    every value by default: GitLab Markdown, Slack mrkdwn, HTML; plain text does not.
    """
    dirs = [Path(override_dir)] if override_dir and Path(override_dir).is_dir() else []
    dirs.append(templates_dir())
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in dirs]),
        undefined=jinja2.StrictUndefined,
        finalize=_FINALIZE.get(target),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=target == "html",  # noqa: S701 - the other targets escape in finalize
    )
    env.filters.update(
        quote_block=quote_block,
        cell=table_cell,
        link=link,
        score=fmt_score,
        slack_link=slack_link,
        truncate_to=truncate,
    )
    env.bytecode_cache = compiled_templates(f"{target}-{fingerprint(env)}")
    return env


def render(
    name: str, override_dir: str | None = None, target: Target = "gitlab", **context: Any
) -> str:
    """Render template `name` for `target` (escaping per target)."""
    return environment(override_dir, target).get_template(name).render(**context)

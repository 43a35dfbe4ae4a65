"""`match-staging notify`: one message from any pipeline (a CI failure, a billing alert)
through the configured channels, with their templates, escaping, limits and quiet hours.

Exactly once by key: the run log keeps a record (kind `notifications`, a snapshot written
whole, like the delivery queue) of each key and what each channel still owes it. A run
writes the record with the channels "in flight" before it sends and the outcome after: a
failed write before sending sends nothing; a run that stopped in between leaves them in
flight, and the next run counts them as maybe delivered (never sent again). Outside
`critical`, quiet hours leave a message owed; `digest` sends everything owed after them,
one message per channel. A key is remembered for `KEEP_DAYS` after it was first asked for.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from match_staging import clock, notices, quiet, render
from match_staging.channels.base import Channel, Delivery
from match_staging.context import Context
from match_staging.errors import ConfigError, Refused, TrackerError
from match_staging.notices import LEVELS, Message

LOG_KIND = "notifications"
KEEP_DAYS = 90  # a key sent longer ago than this may be sent again
# `digest` looks for the record this far back only: a run log's notes are read newest first,
# and a daily digest must not page through a year of them when `notify` is never used
DIGEST_WINDOW = timedelta(days=7)
TITLE_MAXLEN = 250  # what is kept of a message (the channels cut further)
BODY_MAXLEN = 10_000


KEY = re.compile(r"[\w.:/@+-]{1,200}", re.ASCII)  # what a job log line can show as it is


def checked_key(key: str) -> str:
    """A `--key` as given, or a clear error (ConfigError, exit 2, nothing changed)."""
    if not KEY.fullmatch(key):
        raise ConfigError(
            "notify: --key must be 1 to 200 letters, digits or . : / @ + - _ (e.g. "
            "build-$CI_PIPELINE_ID)"
        )
    return key


def derived_key(title: str, body: str, link: str) -> str:
    """The key of a message sent without `--key`: the same text is the same message."""
    return "auto-" + hashlib.sha256(f"{title}\0{body}\0{link}".encode()).hexdigest()[:16]


def message(title: str, body: str, link: str, level: str) -> Message:
    """A message as it is kept: one-line title, bounded text, an http(s) link or a clear
    error (ConfigError: a usage error, exit 2, nothing changed).
    """
    title = " ".join(title.split())
    if not title:
        raise ConfigError("notify: --title must not be empty")
    if link and not notices.web_url(link):
        raise ConfigError("notify: --link must be an http(s) URL")
    if level not in LEVELS:
        raise ConfigError(f"notify: --level must be one of {', '.join(LEVELS)}")
    return Message(
        title=render.truncate(title, TITLE_MAXLEN),
        body=render.truncate(body.strip(), BODY_MAXLEN),
        link=link.strip(),
        level=level,
    )


@dataclass
class Entry:
    """One key: its message while some channel still owes it, and what each owes."""

    at: str  # when it was first asked for (UTC, ISO 8601)
    message: Message | None = None
    owed: set[str] = field(default_factory=set)
    inflight: set[str] = field(default_factory=set)


@dataclass
class Book:
    """Every key remembered: the run log's `notifications` snapshot."""

    entries: dict[str, Entry] = field(default_factory=dict)

    def settle_stranded(self) -> dict[str, list[str]]:
        """Channels a stopped run left in flight: maybe delivered, never sent again."""
        stranded = {k: sorted(e.inflight) for k, e in self.entries.items() if e.inflight}
        for entry in self.entries.values():
            entry.inflight = set()
            if not entry.owed:
                entry.message = None
        return stranded

    def prune(self, now: datetime) -> None:
        """Forget keys owed nowhere that were first asked for over `KEEP_DAYS` ago."""
        horizon = now - timedelta(days=KEEP_DAYS)
        self.entries = {
            k: e
            for k, e in self.entries.items()
            if e.owed or e.inflight or (clock.parse(e.at) or now) >= horizon
        }

    def to_data(self) -> dict[str, Any]:
        """The snapshot as JSON."""
        out: dict[str, Any] = {}
        for key, e in sorted(self.entries.items()):
            item: dict[str, Any] = {"at": e.at}
            if e.owed:
                item["owed"] = sorted(e.owed)
            if e.inflight:
                item["inflight"] = sorted(e.inflight)
            if e.message is not None and (e.owed or e.inflight):
                kept = dataclasses.asdict(e.message)
                item["message"] = {k: v for k, v in kept.items() if k != "chart"}  # bytes
            out[key] = item
        return {"keys": out}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Book:
        """Tolerant: what it cannot read it leaves out (only the bot's records reach this)."""
        book = cls()
        keys = data.get("keys")
        for key, item in (keys if isinstance(keys, dict) else {}).items():
            if not isinstance(item, dict):
                continue
            raw = item.get("message")
            found = None
            if isinstance(raw, dict) and isinstance(raw.get("title"), str):
                level = raw.get("level")
                found = Message(
                    title=raw["title"],
                    body=str(raw.get("body") or ""),
                    link=notices.web_url(str(raw.get("link") or "")),
                    level=level if level in LEVELS else "info",
                )
            book.entries[str(key)] = Entry(
                at=str(item.get("at") or ""),
                message=found,
                owed=_names(item.get("owed")),
                inflight=_names(item.get("inflight")),
            )
        return book


def _names(value: Any) -> set[str]:
    return {v for v in value if isinstance(v, str)} if isinstance(value, list) else set()


@dataclass
class MessageReport:
    """What became of a message (or of the owed ones, for `digest`)."""

    key: str = ""
    before: bool = False  # sent (or maybe sent) by an earlier run: nothing sent now
    delivered: list[Delivery] = field(default_factory=list)
    failed: list[Delivery] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)  # channels waiting for `digest`
    deferred_until: datetime | None = None
    stranded: dict[str, list[str]] = field(default_factory=dict)
    unrecorded: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing failed and everything was recorded."""
        return not self.failed and not self.unrecorded


def selected(channels: Sequence[Channel], names: Sequence[str]) -> list[Channel]:
    """The channels named (`apprise` names every Apprise URL), all when none is; a name
    that matches no enabled channel is a refusal before anything changes.
    """
    if not names:
        return list(channels)
    chosen = []
    for name in names:
        found = [c for c in channels if c.name == name or c.name.startswith(f"{name}-")]
        if not found:
            enabled = ", ".join(c.name for c in channels) or "none"
            raise Refused(f"notify: --channel {name}: no such channel is enabled ({enabled})")
        chosen += [c for c in found if c not in chosen]
    return chosen


def notify(ctx: Context, msg: Message, key: str, names: Sequence[str] = ()) -> MessageReport:
    """Send `msg` once per key on the chosen channels (quiet hours defer all but critical)."""
    channels = selected(ctx.channels, names)
    if not channels:
        raise Refused("notify: no notification channel is enabled: nothing to send")
    report = MessageReport(key=key)
    now = ctx.clock()
    book = _read(ctx)
    report.stranded = book.settle_stranded()
    book.prune(now)
    entry = book.entries.get(key)
    if entry is not None and not entry.owed:
        report.before = True
        if report.stranded:
            _write(ctx, book, report, "the settled record could not be written")
        return report
    if entry is None:
        entry = book.entries[key] = Entry(
            at=now.astimezone(UTC).isoformat(), message=msg, owed={c.name for c in channels}
        )
    entry.message = entry.message or msg  # what was asked for first is what goes out
    todo = [c for c in channels if c.name in entry.owed]
    window = ctx.cfg.notification.preferences.quiet_hours
    if msg.level != "critical" and quiet.is_quiet(now, window):
        report.deferred = sorted(entry.owed)
        report.deferred_until = quiet.quiet_until(now, window)
        _write(ctx, book, report, "nothing was sent and the message is not queued for digest")
        return report
    _send(ctx, book, [(c, [key]) for c in todo], f"notify-{key}", report)
    return report


def send_owed(ctx: Context) -> MessageReport:
    """`digest`, outside quiet hours: every message a channel still owes, in one message
    per channel, as the record of the last `DIGEST_WINDOW` says (each digest that sends
    writes it anew; the next `notify` with a key sends what an older record owes). Nothing
    is written when nothing was owed or stranded.
    """
    report = MessageReport()
    now = ctx.clock()
    book = _recent(ctx)
    report.stranded = book.settle_stranded()
    todo = []  # (channel, its keys in the order they were asked for); channels are not hashable
    for channel in ctx.channels:
        keys = [k for k, e in book.entries.items() if channel.name in e.owed and e.message]
        if keys:
            todo.append((channel, sorted(keys, key=lambda k: book.entries[k].at)))
    if not todo:
        if report.stranded:
            _write(ctx, book, report, "the settled record could not be written")
        return report
    book.prune(now)
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _send(ctx, book, todo, f"notify-digest-{stamp}", report)
    return report


def _send(
    ctx: Context,
    book: Book,
    todo: Sequence[tuple[Channel, Sequence[str]]],
    cycle_id: str,
    report: MessageReport,
) -> None:
    """Written in flight first, then sent, then the outcome written."""
    for channel, keys in todo:
        for key in keys:
            book.entries[key].owed.discard(channel.name)
            book.entries[key].inflight.add(channel.name)
    if not _write(
        ctx,
        book,
        report,
        "nothing was sent: the record could not be written, and nothing goes out that is "
        "not written down first; the next run sends it",
    ):
        return
    for channel, keys in todo:
        batch = tuple(m for k in keys if (m := book.entries[k].message) is not None)
        result = channel.send(_payload(ctx, batch, cycle_id))
        (report.delivered if result.ok else report.failed).append(result)
        for key in keys:
            entry = book.entries[key]
            entry.inflight.discard(channel.name)
            if not (result.ok or result.maybe_delivered):
                entry.owed.add(channel.name)  # nothing left: the next run sends it
    _write(
        ctx,
        book,
        report,
        "the outcome could not be written: the next run counts these as maybe delivered "
        "and never sends them again",
    )


def _payload(ctx: Context, batch: tuple[Message, ...], cycle_id: str) -> notices.Payload:
    payload = notices.message_payload(batch, cycle_id, "")
    summary = render.render(
        "alert_summary.txt.j2", ctx.cfg.staging.templates_dir, target="text", payload=payload
    )
    return notices.message_payload(batch, cycle_id, " ".join(summary.split()))


def known(ctx: Context, key: str) -> bool:
    """A message under `key` is in the record of the last `DIGEST_WINDOW` (sent, or owed:
    `send_owed` sends it): what a caller checks before building an expensive message.
    """
    return key in _recent(ctx).entries


def _recent(ctx: Context) -> Book:
    """The record of the last `DIGEST_WINDOW` (one page of the run log at most)."""
    found = ctx.tracker.read_log(LOG_KIND, since=ctx.clock() - DIGEST_WINDOW, limit=1)
    return Book.from_data(found[0].data) if found else Book()


def _read(ctx: Context) -> Book:
    found = ctx.tracker.latest_log(LOG_KIND)  # TrackerError: nothing counts as sent
    return Book.from_data(found.data) if found else Book()


def _write(ctx: Context, book: Book, report: MessageReport, consequence: str) -> bool:
    try:
        ctx.tracker.append_log(LOG_KIND, book.to_data())
    except TrackerError as exc:
        report.unrecorded.append(f"{exc}: {consequence}")
        return False
    return True

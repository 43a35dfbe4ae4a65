"""`stats`: the reviewer's decisions read back from the tracker as `stats.History`, then
summarised by the pure core (stats.py).

What counts is what only the bot wrote (docs/design.md, "Who may move what"): the issues it
created, the score in its match record (while nobody but a reviewer, polishing the draft,
edited the description), and the states and reasons in its audit notes. A label a Reporter
moved is no decision until the gate applied it and noted so. Cost on GitLab: the bot's
identity, ceil(N / 100) listings of the `job-match` issues, and one notes listing per match
that has notes or was changed since it was staged (a match nobody touched is pending, and
costs nothing more); README, "Calibrating the threshold".
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from match_staging import clock, record, render, stats, workflow
from match_staging.context import Context
from match_staging.model import IssueRef, Note
from match_staging.usecases import message

DEFAULT_BAND = 5


@dataclass
class Gathered:
    """The histories of the window's matches, and the matches left out and why."""

    histories: list[stats.History] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)


def report(ctx: Context, *, since: datetime | None, band: int = DEFAULT_BAND) -> stats.Report:
    """The decisions of the matches staged since `since` (all when None), summarised."""
    found = gather(ctx, since)
    summary = stats.summarise(
        found.histories,
        width=band,
        threshold=ctx.cfg.threshold,
        since=since,
        until=ctx.clock(),
        settings=ctx.cfg.stats,
    )
    return replace(summary, skipped=tuple(sorted(found.skipped)))


def gather(ctx: Context, since: datetime | None) -> Gathered:
    """Each match the bot staged since `since`, as its own records tell it."""
    tracker, cfg = ctx.tracker, ctx.cfg
    bot = tracker.bot_user()
    found = Gathered()
    for issue in tracker.list_issues([cfg.labels.match], state="all"):
        staged = clock.parse(issue.created_at)
        if issue.author != bot or staged is None or (since is not None and staged < since):
            continue  # another's issue is no match (a copied record included)
        data = record.decode_record(issue.description)
        if data is None:
            found.skipped[issue.iid] = "no match record"
            continue
        notes = tracker.notes(issue.iid) if _touched(issue) else []
        # a reviewer polishing the draft is no outsider's score (as the key lookup: stage.py)
        if distrust := workflow.description_edit(issue, notes, bot, cfg.workflow.reviewers):
            found.skipped[issue.iid] = distrust
            continue
        found.histories.append(
            stats.History(
                iid=issue.iid,
                score=data.score,
                staged_at=staged,
                steps=tuple(_steps(notes, bot)),
                requirements=data.requirements,
            )
        )
    return found


def _touched(issue: IssueRef) -> bool:
    """Whether its notes can hold anything: a note was written (audit notes are), or it
    changed since it was staged (a description edit writes a system note, which GitLab's
    `user_notes_count` leaves out).
    """
    return issue.notes_count != 0 or issue.updated_at != issue.created_at


def _steps(notes: list[Note], bot: str) -> list[stats.Step]:
    """The states the bot's audit notes recorded, oldest first, with their reasons."""
    steps = []
    for note, mark in workflow.bot_marks(notes, bot):
        at = clock.parse(note.created_at)
        if isinstance(mark, record.StateMark) and at is not None:
            steps.append(stats.Step(mark.state, at, record.note_reason(note.body)))
    return steps


WEEKLY_CELLS = 8  # the digest's bars: six bands stay within WhatsApp's 300 characters


def weekly_key(ctx: Context) -> str | None:
    """The key of this week's stats message when today is `stats.weekly_on` in the
    configured time zone (`stats-2026-W06`); None on the other days.
    """
    today = ctx.clock().astimezone(ZoneInfo(ctx.cfg.timezone))
    if today.weekday() != ctx.cfg.stats.weekday:
        return None
    year, week, _ = today.isocalendar()
    return f"stats-{year}-W{week:02d}"


def weekly(ctx: Context) -> message.MessageReport | None:
    """`digest`'s weekly section (issue 24): the band table and the suggestion as one
    `notify` message on every channel, once per week by its key (the run log's
    `notifications` record: a digest that runs three times on that day sends it once, a
    channel that failed is sent the next time, as any owed message). The email carries the
    band chart as an inline PNG when the extra `charts` is installed. None: not today, no
    channel, sent already this week (then the matches are not read at all), or no decision
    recorded yet.
    """
    key = weekly_key(ctx)
    if key is None or not ctx.channels:
        return None
    if message.known(ctx, key):
        return None  # this week's went out (or is owed: `send_owed` sends it)
    summary = report(ctx, since=None)
    if not summary.decided:
        return None  # no decision yet: nothing to calibrate, no message (read again next run)
    settings, templates = ctx.cfg.stats, ctx.cfg.staging.templates_dir
    body = render.render(
        "stats_section.txt.j2",
        templates,
        target="text",
        rows=stats.text_rows(summary, WEEKLY_CELLS),
        s=summary.suggestion,
        decided=summary.decided,
        min_decisions=settings.min_decisions,
        goal=settings.target_approval_rate,
    )
    title = render.render(
        "stats_title.txt.j2",
        templates,
        target="text",
        staged=summary.staged,
        decided=summary.decided,
    )
    msg = message.message(title, body, "", "info")
    return message.notify(ctx, replace(msg, chart=_chart(summary)), key)


def _chart(summary: stats.Report) -> bytes:
    """The band chart for the email, or nothing without the extra `charts` (Pillow)."""
    try:
        from match_staging.chart import png
    except ImportError:
        return b""
    return png(summary)

"""After the gate (issue 23): the scheduled run expires pending matches whose time is up,
ghosts sent applications nobody answered, names the matches that expire within a day in its
reminder, and reminds once to follow up on a sent application.

Time comes only from what nobody but the bot can change: the issue's created_at (the
staging), the bot's own audit notes (when each state was entered: workflow.entries) and the
bot's record of the match (its apply_by, believed only while nobody else edited the
description). Each expiry or ghosting is one step of the gate (Gate.record_step: at most one
issue update and one note, paced as the gate's writes are), and a re-run finds the state
already moved. Follow-ups are recorded in the run log, like reminders, not as a note on the
issue (a note would email every participant).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from match_staging import clock, identity, record, render, workflow
from match_staging.channels.base import Delivery
from match_staging.context import Context
from match_staging.errors import TrackerError
from match_staging.labels import state_label, states_in
from match_staging.model import IssueRef, Note, State
from match_staging.notices import Message, message_payload, web_url
from match_staging.usecases.audit import AuditEntry
from match_staging.usecases.gate import Gate, StepResult
from match_staging.usecases.moves import DIGEST_ACTOR

FOLLOW_UP_KIND = "follow-ups"
WARN_BEFORE = timedelta(days=1)  # "läuft morgen ab"


@dataclass(frozen=True)
class FollowUp:
    """A sent application to follow up on: where it went, so the reply joins its thread."""

    iid: int
    title: str
    issue_url: str
    address: str  # "" when it went through a portal
    message_id: str
    sent_at: datetime


@dataclass
class LifecycleReport:
    """What the scheduled run moved, and what it owes the freelancer's channels."""

    results: list[StepResult] = field(default_factory=list)  # expired and ghosted
    expiring: dict[int, datetime] = field(default_factory=dict)  # pending, within a day
    follow_ups: list[FollowUp] = field(default_factory=list)
    followed_up: list[int] = field(default_factory=list)  # reminded now, and recorded
    deliveries: list[Delivery] = field(default_factory=list)
    notice: str = ""  # bootstrap must run again: nothing expires or is ghosted until then
    errors: list[str] = field(default_factory=list)


def unrecorded_notice(ctx: Context) -> str:
    """The one line a digest prints while the later states' label ids are not recorded."""
    missing = identity.unrecorded_states(ctx.cfg)
    if not missing:
        return ""
    return (
        "workflow.label_ids has no id for "
        + ", ".join(s.value for s in missing)
        + ": no match expires or is ghosted until then; "
        + identity.BOOTSTRAP_HINT
    )


def advance(
    ctx: Context, gate: Gate, pending: Sequence[IssueRef]
) -> tuple[LifecycleReport, list[IssueRef]]:
    """Expire what is due of `pending` (the open pending issues), ghost what is due of the
    sent ones, and find the expiring and the follow-ups due. Returns the report and the
    matches still pending.
    """
    report = LifecycleReport(notice=unrecorded_notice(ctx))
    bot = ctx.tracker.bot_user()
    left: list[IssueRef] = []
    try:
        for issue in pending:
            if issue.author != bot or report.notice or not _expire(ctx, gate, issue, report):
                left.append(issue)
    except TrackerError as exc:  # what was moved stays reported; the rest waits for the next run
        report.errors.append(str(exc))
        done = {r.iid for r in report.results}
        left = [i for i in pending if i.iid not in done]
    try:
        _sent(ctx, gate, report)
    except TrackerError as exc:
        report.errors.append(str(exc))
    return report, left


def _expire(ctx: Context, gate: Gate, issue: IssueRef, report: LifecycleReport) -> bool:
    """Expire `issue` when its time is up (True), or note it expires within a day. Its notes
    are read only when the earliest it could expire is within a day.
    """
    cfg, now = ctx.cfg, ctx.clock()
    wf = cfg.workflow
    staged = record.decode_record(issue.description)
    apply_by = staged.apply_by if staged else None
    earliest = workflow.earliest_expiry(
        issue.created_at, apply_by, cfg.timezone, wf.pending_ttl_days, now
    )
    if earliest > now + WARN_BEFORE:  # nothing is read before that
        return False
    notes, bot = ctx.tracker.notes(issue.iid), ctx.tracker.bot_user()
    trail = workflow.audit(issue, notes, bot)
    if trail.state != State.PENDING or states_in(cfg.labels, issue.labels) != [State.PENDING]:
        return False  # a move the repair judges, not a clock's business
    if not trail.trusted:
        apply_by = None  # the description was edited: its record is not the bot's any more
    entered = workflow.entries(issue, notes, bot)
    at = workflow.expires_at(entered, apply_by, cfg.timezone, wf.pending_ttl_days)
    if at is None:
        return False
    if at > now:
        if at - now <= WARN_BEFORE:
            report.expiring[issue.iid] = at
        return False
    revived = len(entered) > 1  # pending again after an expiry: the clock restarted
    why = (
        f"the application deadline (apply_by {apply_by}) passed"
        if apply_by and not revived and clock.deadline(apply_by, cfg.timezone) is not None
        else f"{'revived' if revived else 'staged'} and not reviewed within "
        f"workflow.pending_ttl_days ({wf.pending_ttl_days:g})"
    )
    step = _step(gate, issue, trail, State.EXPIRED, f"{why}; due {_shown(ctx, at)}")
    report.results.append(step)
    return True


def _sent(ctx: Context, gate: Gate, report: LifecycleReport) -> None:
    """Ghost the sent applications without an outcome for workflow.ghosted_after_days; find
    those due a follow-up (workflow.follow_up_days) not yet reminded.
    """
    cfg, tracker, now = ctx.cfg, ctx.tracker, ctx.clock()
    wf = cfg.workflow
    first = timedelta(days=min(wf.follow_up_days, wf.ghosted_after_days))
    sent = tracker.list_issues([cfg.labels.match, state_label(cfg.labels, State.SENT)])
    bot = tracker.bot_user()
    # sent after it was created: one created too lately cannot be due (nothing read)
    due = [i for i in sent if i.author == bot and (clock.parse(i.created_at) or now) + first <= now]
    if not due:
        return
    followed = _followed_up(ctx, now) if ctx.channels else {}
    for issue in due:
        known = followed.get(issue.iid)
        if known is not None and known + timedelta(days=wf.ghosted_after_days) > now:
            continue  # reminded already, not yet ghosted: the run log says when it was sent
        notes = tracker.notes(issue.iid)
        trail = workflow.audit(issue, notes, bot)
        if trail.state != State.SENT or states_in(cfg.labels, issue.labels) != [State.SENT]:
            continue
        entered = workflow.entries(issue, notes, bot)
        at = workflow.sent_at(entered)
        if at is None:
            continue
        if now >= at + timedelta(days=wf.ghosted_after_days):
            if report.notice:
                continue
            why = (
                f"no outcome recorded for workflow.ghosted_after_days ({wf.ghosted_after_days:g}) "
                f"after it was sent at {_shown(ctx, at)}"
            )
            report.results.append(_step(gate, issue, trail, State.GHOSTED, why))
        elif now >= at + timedelta(days=wf.follow_up_days) and issue.iid not in followed:
            report.follow_ups.append(_follow_up(issue, notes, trail, bot, at))


def _step(gate: Gate, issue: IssueRef, trail: workflow.Audit, after: State, why: str) -> StepResult:
    """One move of the scheduled run: the gate's step (one update, one audit note)."""
    decision = workflow.Decision(
        "apply", trail.state, after, f"{trail.state.value} -> {after.value}: {why}"
    )
    gate.record_step(
        issue, trail, AuditEntry(decision, DIGEST_ACTOR, why=f"{why[0].upper()}{why[1:]}.")
    )
    return StepResult("applied", f"#{issue.iid}: {decision.reason}", issue.iid, after)


def _follow_up(
    issue: IssueRef, notes: Sequence[Note], trail: workflow.Audit, bot: str, at: datetime
) -> FollowUp:
    """Where the application went: the bot's note of the send (address, Message-ID); else
    (a note template of the user's own, which the codec cannot read) the address of the
    bot's record while nobody else edited it. Its title is the record's, or the issue's.
    """
    address = message_id = ""
    for note in reversed(notes):
        if not note.system and note.author == bot:
            address, message_id = record.sent_details(note.body)
            if address:
                break
    staged = record.decode_record(issue.description) if trail.trusted else None
    address = address or (staged.apply.email if staged else "")
    title = staged.title if staged and staged.title else issue.title
    return FollowUp(issue.iid, title, issue.web_url, address, message_id, at)


def _followed_up(ctx: Context, now: datetime) -> dict[int, datetime]:
    """The sent applications a follow-up covered, with when each was sent: only those sent
    within workflow.ghosted_after_days can still be due anything but the ghosting.
    """
    days = max(ctx.cfg.workflow.ghosted_after_days, ctx.cfg.workflow.follow_up_days) + 1
    found: dict[int, datetime] = {}
    for entry in ctx.tracker.read_log(FOLLOW_UP_KIND, since=now - timedelta(days=days)):
        sent = entry.data.get("sent")
        if isinstance(sent, dict):
            for iid, when in sent.items():
                at = clock.parse(when)
                if str(iid).isdigit() and at is not None:
                    found.setdefault(int(iid), at)
    return found


def remind_follow_ups(ctx: Context, report: LifecycleReport, stamp: str) -> list[str]:
    """Send the follow-ups due on every channel, once: recorded in the run log when one
    channel took them (a record that fails to be written may let them repeat once, and
    the error returned says so).
    """
    if not report.follow_ups or not ctx.channels:
        return []
    messages = tuple(_message(ctx, f) for f in report.follow_ups)
    summary = render.render(
        "follow_up_summary.txt.j2",
        ctx.cfg.staging.templates_dir,
        target="text",
        follow_ups=report.follow_ups,
    )
    payload = message_payload(messages, f"follow-up-{stamp}", " ".join(summary.split()))
    report.deliveries = [channel.send(payload) for channel in ctx.channels]
    sent_on = sorted({d.channel for d in report.deliveries if d.ok})
    if not sent_on:
        return []  # nothing went out: the next run tries again
    data = {
        "iids": sorted(f.iid for f in report.follow_ups),
        "sent": {str(f.iid): f.sent_at.isoformat() for f in report.follow_ups},
        "channels": sent_on,
    }
    try:
        ctx.tracker.append_log(FOLLOW_UP_KIND, data)
    except TrackerError as exc:
        return [f"follow-up reminder sent but not recorded ({exc}): the next run may remind again"]
    report.followed_up = sorted(f.iid for f in report.follow_ups)
    return []


def _message(ctx: Context, follow_up: FollowUp) -> Message:
    body = render.render(
        "follow_up.txt.j2",
        ctx.cfg.staging.templates_dir,
        target="text",
        f=follow_up,
        sent=_shown(ctx, follow_up.sent_at),
        days=(ctx.clock() - follow_up.sent_at).days,
    )
    title = render.render(
        "follow_up_title.txt.j2", ctx.cfg.staging.templates_dir, target="text", f=follow_up
    )
    return Message(
        title=" ".join(title.split()), body=body.strip(), link=web_url(follow_up.issue_url)
    )


def _shown(ctx: Context, at: datetime) -> str:
    return at.astimezone(ZoneInfo(ctx.cfg.timezone)).strftime("%Y-%m-%d %H:%M %Z")

"""The scheduled run: repair review events the webhook never delivered, send what quiet
hours deferred or a failed channel still owes, and remind of matches still waiting for review.

Reminders are recorded once per run in the run log (which issues, on which channels), not as a
note on each issue: a note per issue would email every participant of every pending issue,
every day. The next run reads the day's reminder records to remind each match at most once a
day. Any activity on an issue (a comment, an edit) postpones its reminder: the reviewer is
nagged only about matches nobody touched for a day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from match_staging import clock, delivery, notices, quiet, workflow
from match_staging.channels.base import Delivery
from match_staging.context import Context
from match_staging.errors import TrackerError
from match_staging.labels import state_label
from match_staging.model import IssueRef, State
from match_staging.record import fingerprint
from match_staging.trackers.base import Tracker
from match_staging.usecases import (
    health,
    lifecycle,
    message,
    pipeline_variables,
    whatsapp_status,
)
from match_staging.usecases.gate import Gate, ReconcileReport
from match_staging.usecases.notify import (
    NotifyReport,
    altered_notice,
    announced,
    deliver,
    gather,
    payloads,
    read_queue,
)
from match_staging.usecases.stats import weekly as weekly_stats

REMINDER_KIND = "reminders"
REMIND_AT_MOST_EVERY = timedelta(days=1)


@dataclass
class DigestReport:
    """What the scheduled run repaired, sent, reminded of, and what went wrong."""

    quiet_until: datetime | None = None
    deferred: NotifyReport = field(default_factory=NotifyReport)
    stranded: dict[str, list[int]] = field(default_factory=dict)  # a stopped run's messages
    reminded: list[int] = field(default_factory=list)
    reminder_deliveries: list[Delivery] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # printed; the run still succeeds
    reconciled: ReconcileReport = field(default_factory=ReconcileReport)
    whatsapp: whatsapp_status.WhatsAppStatusReport = field(
        default_factory=whatsapp_status.WhatsAppStatusReport
    )
    health: health.HealthReport = field(default_factory=health.HealthReport)
    messages: message.MessageReport = field(default_factory=message.MessageReport)  # notify's
    stats: message.MessageReport | None = None  # the weekly stats section (usecases/stats.py)
    # expired, ghosted, expiring within a day, follow-ups (issue 23)
    lifecycle: lifecycle.LifecycleReport = field(default_factory=lifecycle.LifecycleReport)

    @property
    def ok(self) -> bool:
        """Everything went out and was recorded; the webhook delivers."""
        return (
            self.deferred.ok
            and not self.errors
            and not self.reconciled.webhook_problems
            and all(d.ok for d in self.reminder_deliveries)
            and self.whatsapp.ok
            and self.health.ok
            and self.messages.ok
            and (self.stats is None or self.stats.ok)
            and all(d.ok for d in self.lifecycle.deliveries)
        )


def digest(ctx: Context) -> DigestReport:
    """Repair missed review events, then, outside quiet hours, send what the delivery queue
    owes and remind of matches waiting for review (`ctx.channels`).
    """
    cfg, tracker, channels = ctx.cfg, ctx.tracker, ctx.channels
    now = ctx.clock()
    checked = health.check(ctx)  # the token first: an expired one stops the run at once
    if channels:
        # the run log before the repair, which looks at every issue of the bot: one that is
        # lost (moved, edited, disguised as a match) stops the run here (RunLogLost), before
        # the repair could take it for a match; the lookup is the queue read's, cached
        tracker.check_log()
    gate = Gate(ctx)
    report = DigestReport(reconciled=gate.reconcile(), health=checked)
    waiting: list[IssueRef] | None = None
    try:  # after the repair: the clock's moves start from the states as reviewers left them
        waiting = tracker.list_issues(
            [cfg.labels.match, state_label(cfg.labels, State.PENDING)], state="opened"
        )
        report.lifecycle, waiting = lifecycle.advance(ctx, gate, waiting)
        report.errors += report.lifecycle.errors
    except TrackerError as exc:
        report.errors.append(str(exc))
    if variables := pipeline_variables.warning(tracker):  # every run until it is fixed
        report.warnings.append(variables)
    # reported even in quiet hours: the check reads statuses and messages nobody
    report.whatsapp = whatsapp_status.check(tracker, channels, now)
    window = cfg.notification.preferences.quiet_hours
    if quiet.is_quiet(now, window):
        report.quiet_until = quiet.quiet_until(now, window)
        return report  # an alert waits for the first digest after quiet hours
    health.alert(ctx, report.health)
    if not channels:
        return report
    if waiting is None:
        return report  # the pending matches could not be listed (an error says so)
    try:
        owed, records = _send_owed(ctx, waiting, now, report)
        bot = tracker.bot_user()  # only the bot's issues are matches: others' are not reminded
        due = [r for r in waiting if r.iid not in owed and r.author == bot]
        _remind(ctx, due, now, report, records)
        report.errors += lifecycle.remind_follow_ups(ctx, report.lifecycle, _stamp(now))
        report.messages = message.send_owed(ctx)  # `notify` messages quiet hours deferred
        report.stats = weekly_stats(ctx)  # on stats.weekly_on, once a week (issue 24)
    except TrackerError as exc:
        report.errors.append(str(exc))
    return report


def new_run_log(tracker: Tracker) -> tuple[int, list[int]] | None:
    """`digest --new-run-log`: replace a run log that is lost or untrusted (RunLogLost).
    The new log's first record is a queue under which every match staged so far counts as
    announced, as the error says (without it every match of the bot would be owed again).
    Returns the new log's iid and the retired ones; None when there was nothing to replace.
    """
    restart = getattr(tracker, "restart_log", None)  # the GitLab tracker's alone
    started = restart() if restart is not None else None
    if started is not None:
        new, _ = started
        tracker.append_log(delivery.LOG_KIND, delivery.Queue(through=new).to_data())
    return started


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _send_owed(
    ctx: Context, waiting: Sequence[IssueRef], now: datetime, report: DigestReport
) -> tuple[set[int], dict[int, str]]:
    """Everything the delivery queue still owes: deferred by quiet hours, failed before, or
    staged by a run that stopped before it wrote the queue. Returns the iids still owed
    or announced now, and the fingerprints of the bot's records of the waiting matches.
    A queue that cannot be read stops here (TrackerError): nothing counts as announced.
    """
    found = read_queue(ctx.tracker)
    before = found.to_data() if found else None
    queue = found or delivery.Queue()  # none yet: every match the bot staged is owed
    report.stranded = {c: sorted(i) for c, i in queue.settle_stranded().items()}
    owed = gather(ctx, queue, {}, seen=waiting)
    queue.keep_records(r.iid for r in waiting)
    sent = deliver(
        ctx,
        queue,
        owed.notices,
        kind="deferred",
        cycle_id=f"digest-{_stamp(now)}",
        dirty=queue.to_data() != before,  # `through` moves only over new issues
    )
    report.deferred = announced(sent, owed, queued=False)
    # what this run announced is not reminded of in the same run
    still = queue.owing() | set[int]().union(*queue.inflight.values()) | owed.notices.keys()
    return still, dict(queue.records)


def _remind(
    ctx: Context,
    waiting: Sequence[IssueRef],
    now: datetime,
    report: DigestReport,
    records: Mapping[int, str],
) -> None:
    cfg, tracker, channels = ctx.cfg, ctx.tracker, ctx.channels
    after = timedelta(hours=cfg.notification.preferences.reminder_after_hours)
    recently, warned = _reminded_since(tracker, now - REMIND_AT_MOST_EVERY)
    # expiring within a day and not yet said so: in this reminder, whatever else holds
    # (issue 23; "läuft morgen ab", once)
    expiring = {i for i in report.lifecycle.expiring if i not in warned}
    due = [
        ref
        for ref in waiting
        if ref.iid in expiring
        or (
            _time(ref.created_at, now) <= now - after
            and ref.iid not in recently
            and _idle(ref, now)
        )
    ]
    if not due:
        return
    items = [
        replace(_reminder(ctx, ref, records.get(ref.iid)), expiring=ref.iid in expiring)
        for ref in due
    ]
    for payload in payloads(cfg, "reminder", f"reminder-{_stamp(now)}", items):
        report.reminder_deliveries += [channel.send(payload) for channel in channels]
    sent_on = sorted({d.channel for d in report.reminder_deliveries if d.ok})
    if not sent_on:
        return  # nothing went out: the next run tries again
    iids = sorted(ref.iid for ref in due)
    try:
        data: dict[str, object] = {"iids": iids, "channels": sent_on}
        if told := sorted(expiring & set(iids)):
            data["expiring"] = told
        tracker.append_log(REMINDER_KIND, data)
        report.reminded = iids
    except TrackerError as exc:
        report.errors.append(
            f"reminder sent but not recorded ({exc}): the next run may "
            "remind of the same matches again"
        )


def _reminder(ctx: Context, ref: IssueRef, expected: str | None) -> notices.Notice:
    """What a reminder shows of a pending match: the bot's record while the issue still holds
    it (the queue's fingerprint), else none of its text. An issue staged before the queue
    kept fingerprints is believed while nobody else edited its description (its notes).
    """
    now = fingerprint(ref.description)
    if expected is None:
        notes = ctx.tracker.notes(ref.iid)
        trusted = bool(now) and not workflow.description_edit(ref, notes, ctx.tracker.bot_user())
    else:
        trusted = bool(expected) and now == expected
    if trusted:
        return notices.notice_from_issue(ref, ref.description)
    return altered_notice(ctx, ref)


def _reminded_since(tracker: Tracker, since: datetime) -> tuple[set[int], set[int]]:
    """Issues a reminder covered after `since` (a day of records fits on one page), and
    those it said expire within a day (the warning window is a day: one record suffices).
    """
    found: set[int] = set()
    warned: set[int] = set()
    for record in tracker.read_log(REMINDER_KIND, limit=100, since=since):
        if record.created_at < since:
            break
        for key, into in (("iids", found), ("expiring", warned)):
            iids = record.data.get(key)
            if isinstance(iids, list):
                into.update(i for i in iids if isinstance(i, int))
    return found, warned


def _time(value: str, default: datetime) -> datetime:
    return clock.parse(value) or default


def _idle(ref: IssueRef, now: datetime) -> bool:
    """Untouched since it was staged, or for a day."""
    updated, created = _time(ref.updated_at, now), _time(ref.created_at, now)
    untouched_since_staging = updated - created < timedelta(minutes=10)
    return untouched_since_staging or now - updated >= REMIND_AT_MOST_EVERY

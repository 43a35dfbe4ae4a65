"""The scheduled run: repair review events the webhook never delivered, send what quiet
hours deferred or a failed channel still owes, and remind of matches still waiting for review.

Reminders are recorded once per run in the run log (which issues, on which channels), not as a
note on each issue: a note per issue would email every participant of every pending issue,
every day. The next run reads the day's reminder records to remind each match at most once a
day. Any activity on an issue (a comment, an edit) postpones its reminder: the reviewer is
nagged only about matches nobody touched for a day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from match_staging import clock, delivery, notices, quiet
from match_staging.channels.base import Delivery
from match_staging.context import Context
from match_staging.errors import TrackerError
from match_staging.labels import queue_label, state_label
from match_staging.model import IssueRef, State
from match_staging.trackers.base import Tracker
from match_staging.usecases import pipeline_variables, whatsapp_status
from match_staging.usecases.notify import NotifyReport, deliver, payloads, read_queue
from match_staging.usecases.review import ReconcileReport, reconcile

REMINDER_KIND = "reminders"
COMPACT_AFTER = 200  # settled issues listed in the queue record before digest rewrites it
REMIND_AT_MOST_EVERY = timedelta(days=1)


@dataclass
class DigestReport:
    """What the scheduled run repaired, sent, reminded of, and what went wrong."""

    quiet_until: datetime | None = None
    deferred: NotifyReport = field(default_factory=NotifyReport)
    dropped: list[int] = field(default_factory=list)  # reviewed before they were announced
    stranded: dict[str, list[int]] = field(default_factory=dict)  # a stopped run's messages
    reminded: list[int] = field(default_factory=list)
    reminder_deliveries: list[Delivery] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # printed; the run still succeeds
    reconciled: ReconcileReport = field(default_factory=ReconcileReport)
    whatsapp: whatsapp_status.WhatsAppStatusReport = field(
        default_factory=whatsapp_status.WhatsAppStatusReport
    )

    @property
    def ok(self) -> bool:
        """Everything went out and was recorded; the webhook delivers."""
        return (
            self.deferred.ok
            and not self.errors
            and not self.reconciled.webhook_problems
            and all(d.ok for d in self.reminder_deliveries)
            and self.whatsapp.ok
        )


def digest(ctx: Context) -> DigestReport:
    """Repair missed review events, then, outside quiet hours, send what the delivery queue
    owes and remind of matches waiting for review (`ctx.channels`).
    """
    cfg, tracker, channels = ctx.cfg, ctx.tracker, ctx.channels
    now = ctx.clock()
    report = DigestReport(reconciled=reconcile(ctx))
    if variables := pipeline_variables.warning(tracker):  # every run until it is fixed
        report.warnings.append(variables)
    # reported even in quiet hours: the check reads statuses and messages nobody
    report.whatsapp = whatsapp_status.check(tracker, channels, now)
    window = cfg.notification.preferences.quiet_hours
    if quiet.is_quiet(now, window):
        report.quiet_until = quiet.quiet_until(now, window)
        return report
    if not channels:
        return report
    try:
        waiting = tracker.list_issues(
            [cfg.labels.match, state_label(cfg.labels, State.PENDING)], state="opened"
        )
        owed = _send_owed(ctx, waiting, now, report)
        _remind(ctx, [r for r in waiting if r.iid not in owed], now, report)
    except TrackerError as exc:
        report.errors.append(str(exc))
    return report


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _send_owed(
    ctx: Context, waiting: Sequence[IssueRef], now: datetime, report: DigestReport
) -> set[int]:
    """Everything the delivery queue still owes: deferred by quiet hours, failed before, or
    staged by a run that stopped before it wrote the queue. Returns the iids still owed.
    """
    cfg, tracker = ctx.cfg, ctx.tracker
    names = [c.name for c in ctx.channels]
    queue = read_queue(tracker)
    before = queue.to_data() if queue else None
    if queue is None:  # the first queue: issues staged before it were announced (or queued
        queue = delivery.Queue(through=max((r.iid for r in waiting), default=0))  # by label)
    if not queue.legacy_done:
        # the first release queued by label (one label write per match and channel): owed
        # messages under those labels are taken over once; the labels themselves stay
        for channel in names:
            label = queue_label(cfg.labels, channel)
            queue.pending.setdefault(channel, set()).update(
                r.iid for r in waiting if label in r.labels
            )
        queue.legacy_done = True
    report.stranded = {c: sorted(i) for c, i in queue.settle_stranded().items()}
    _, report.dropped = queue.advance([r.iid for r in waiting], names)
    known = {r.iid: notices.notice_from_issue(r, r.description) for r in waiting}
    report.deferred = deliver(
        ctx,
        queue,
        known,
        kind="deferred",
        cycle_id=f"digest-{_stamp(now)}",
        dirty=_material(queue.to_data()) != _material(before),
    )
    return set[int]().union(*queue.pending.values(), *queue.inflight.values())


def _material(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """What is owed; moving `through` over settled issues alone is not worth a write until
    the list of them grows long (the next run computes the same).
    """
    if data is None:
        return None
    small = len(data.get("accounted", [])) <= COMPACT_AFTER
    return {k: v for k, v in data.items() if not (small and k in ("through", "accounted"))}


def _remind(ctx: Context, waiting: Sequence[IssueRef], now: datetime, report: DigestReport) -> None:
    cfg, tracker, channels = ctx.cfg, ctx.tracker, ctx.channels
    after = timedelta(hours=cfg.notification.preferences.reminder_after_hours)
    recently = _reminded_since(tracker, now - REMIND_AT_MOST_EVERY)
    due = [
        ref
        for ref in waiting
        if _time(ref.created_at, now) <= now - after and ref.iid not in recently and _idle(ref, now)
    ]
    if not due:
        return
    items = [notices.notice_from_issue(ref, ref.description) for ref in due]
    for payload in payloads(cfg, "reminder", f"reminder-{_stamp(now)}", items):
        report.reminder_deliveries += [channel.send(payload) for channel in channels]
    sent_on = sorted({d.channel for d in report.reminder_deliveries if d.ok})
    if not sent_on:
        return  # nothing went out: the next run tries again
    iids = sorted(ref.iid for ref in due)
    try:
        tracker.append_log(REMINDER_KIND, {"iids": iids, "channels": sent_on})
        report.reminded = iids
    except TrackerError as exc:
        report.errors.append(
            f"reminder sent but not recorded ({exc}): the next run may "
            "remind of the same matches again"
        )


def _reminded_since(tracker: Tracker, since: datetime) -> set[int]:
    """Issues a reminder covered after `since` (a day of records fits on one page)."""
    found: set[int] = set()
    for record in tracker.read_log(REMINDER_KIND, limit=100, since=since):
        if record.created_at < since:
            break
        iids = record.data.get("iids")
        if isinstance(iids, list):
            found.update(i for i in iids if isinstance(i, int))
    return found


def _time(value: str, default: datetime) -> datetime:
    return clock.parse(value) or default


def _idle(ref: IssueRef, now: datetime) -> bool:
    """Untouched since it was staged, or for a day."""
    updated, created = _time(ref.updated_at, now), _time(ref.created_at, now)
    untouched_since_staging = updated - created < timedelta(minutes=10)
    return untouched_since_staging or now - updated >= REMIND_AT_MOST_EVERY

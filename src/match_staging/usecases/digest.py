"""The scheduled run: repair review events the webhook never delivered, send what quiet
hours deferred, and remind of matches still waiting for review.

Reminders are recorded as a note on each reminded issue: the note is the audit trail and
moves the issue's `updated_at`, which is how the next run knows it reminded less than a day
ago. Any other activity on the issue (a comment, an edit) postpones the reminder the same
way: the reviewer is nagged only about matches nobody touched for a day."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from match_staging import notices, quiet, render
from match_staging.channels.base import Channel, Delivery
from match_staging.config import Config
from match_staging.errors import TrackerError
from match_staging.labels import queue_label, state_label, state_of
from match_staging.model import IssueRef, State
from match_staging.trackers.base import Tracker
from match_staging.usecases.notify import NotifyReport, deliver, payloads
from match_staging.usecases.review import Context, ReconcileReport, reconcile

REMIND_AT_MOST_EVERY = timedelta(days=1)


@dataclass
class DigestReport:
    quiet_until: datetime | None = None
    deferred: NotifyReport = field(default_factory=NotifyReport)
    dropped: list[int] = field(default_factory=list)   # reviewed before they were announced
    reminded: list[int] = field(default_factory=list)
    reminder_deliveries: list[Delivery] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: int = 0
    reconciled: ReconcileReport = field(default_factory=ReconcileReport)

    @property
    def ok(self) -> bool:
        return (self.deferred.ok and not self.errors and not self.reconciled.webhook_problems
                and all(d.ok for d in self.reminder_deliveries))


def digest(cfg: Config, tracker: Tracker, channels: Sequence[Channel],
           ctx: Context) -> DigestReport:
    now = ctx.now
    report = DigestReport(reconciled=reconcile(cfg, tracker, ctx))
    window = cfg.notification.preferences.quiet_hours
    if quiet.is_quiet(now, window):
        report.quiet_until = quiet.quiet_until(now, window)
        report.requests = tracker.requests
        return report
    if channels:
        _send_deferred(cfg, tracker, channels, now, report)
        _remind(cfg, tracker, channels, now, report)
    report.requests = tracker.requests
    return report


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _send_deferred(cfg: Config, tracker: Tracker, channels: Sequence[Channel],
                   now: datetime, report: DigestReport) -> None:
    """Everything still queued on any channel: deferred by quiet hours or failed before."""
    queued: dict[int, IssueRef] = {}
    for channel in channels:
        for ref in tracker.list_issues([cfg.labels.match, queue_label(cfg.labels, channel.name)]):
            queued[ref.iid] = ref
    waiting = []
    for ref in queued.values():
        if state_of(cfg.labels, ref.labels) == State.PENDING:
            waiting.append((notices.notice_from_issue(ref, ref.description), ref))
            continue
        # reviewed before anyone was told: announcing it now would only be noise
        stale = [queue_label(cfg.labels, c.name) for c in channels]
        try:
            tracker.update_labels(ref.iid, remove=[lb for lb in stale if lb in ref.labels])
            report.dropped.append(ref.iid)
        except TrackerError as exc:
            report.errors.append(f"#{ref.iid}: {exc}")
    report.deferred = deliver(cfg, tracker, channels, waiting, kind="deferred",
                              cycle_id=f"digest-{_stamp(now)}", now=now)


def _remind(cfg: Config, tracker: Tracker, channels: Sequence[Channel], now: datetime,
            report: DigestReport) -> None:
    after = timedelta(hours=cfg.notification.preferences.reminder_after_hours)
    queues = {queue_label(cfg.labels, c.name) for c in channels}
    candidates = tracker.list_issues([cfg.labels.match, state_label(cfg.labels, State.PENDING)],
                                     state="opened", created_before=now - after)
    due = [ref for ref in candidates
           if not queues & set(ref.labels) and _idle(ref, now)]
    if not due:
        return
    items = [notices.notice_from_issue(ref, ref.description) for ref in due]
    for payload in payloads(cfg, "reminder", f"reminder-{_stamp(now)}", items):
        report.reminder_deliveries += [channel.send(payload) for channel in channels]
    sent_on = sorted({d.channel for d in report.reminder_deliveries if d.ok})
    if not sent_on:
        return  # nothing went out: the next run tries again
    hours = int(after.total_seconds() // 3600)
    for ref in due:
        body = render.render("reminder_note.md.j2", cfg.staging.templates_dir,
                             channels=sent_on, hours=hours).strip()
        try:
            tracker.add_note(ref.iid, body)
            report.reminded.append(ref.iid)
        except TrackerError as exc:
            report.errors.append(f"#{ref.iid}: reminder sent but not recorded ({exc})")


def _idle(ref: IssueRef, now: datetime) -> bool:
    """Untouched for a day, or never touched since it was staged."""
    try:
        updated = datetime.fromisoformat(ref.updated_at.replace("Z", "+00:00"))
        created = datetime.fromisoformat(ref.created_at.replace("Z", "+00:00"))
    except ValueError:
        return True
    untouched_since_staging = updated - created < timedelta(minutes=10)
    return untouched_since_staging or now - updated >= REMIND_AT_MOST_EVERY

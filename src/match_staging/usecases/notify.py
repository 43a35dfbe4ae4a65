"""Deliver notifications for staged matches, exactly once per match and channel.

What each channel still owes is the delivery queue (`delivery.py`), a record in the run log:
one write before the messages go out (they are "in flight") and one after (the outcome).
Neither fires an Issue Hook, so notifying costs no pipeline however many matches a cycle
has. A failed write before sending sends nothing; a channel that failed without sending
stays queued and the next `stage` or `digest` retries it; a message that may have arrived
is never sent again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from match_staging import delivery, notices, quiet, render
from match_staging.channels.base import Delivery
from match_staging.config import Config
from match_staging.context import Context
from match_staging.errors import TrackerError
from match_staging.notices import Kind, Notice, Payload
from match_staging.trackers.base import Tracker


@dataclass
class NotifyReport:
    """What went out on which channel for which issues, and what waits or went unrecorded."""

    delivered: list[tuple[Delivery, tuple[int, ...]]] = field(default_factory=list)
    failed: list[tuple[Delivery, tuple[int, ...]]] = field(default_factory=list)
    deferred: tuple[int, ...] = ()
    deferred_until: datetime | None = None
    unrecorded: list[str] = field(default_factory=list)  # the queue could not be written

    @property
    def ok(self) -> bool:
        """Nothing failed and everything was recorded."""
        return not self.failed and not self.unrecorded


def payloads(cfg: Config, kind: Kind, cycle_id: str, items: Sequence[Notice]) -> list[Payload]:
    """One summary per cycle, or one message per match (preferences.batch_*)."""
    prefs = cfg.notification.preferences
    groups = [list(items)] if prefs.batch_mode and prefs.batch_summary else [[n] for n in items]
    built = []
    for group in groups:
        payload = notices.build(kind, cycle_id, group, cfg.labels.pending)
        summary = render.render(
            "summary.txt.j2", cfg.staging.templates_dir, target="text", payload=payload
        )
        built.append(dataclasses.replace(payload, summary=" ".join(summary.split())))
    return built


def read_queue(tracker: Tracker) -> delivery.Queue | None:
    """The newest delivery queue; None only when no queue was ever written
    (`Tracker.latest_log`: a run log that cannot be read or trusted is a TrackerError).
    """
    record = tracker.latest_log(delivery.LOG_KIND)
    return delivery.Queue.from_data(record.data) if record else None


def write_queue(tracker: Tracker, queue: delivery.Queue) -> None:
    """Record the queue as the newest run-log record: it replaces every earlier one."""
    tracker.append_log(delivery.LOG_KIND, queue.to_data())


def deliver(
    ctx: Context,
    queue: delivery.Queue,
    known: Mapping[int, Notice],
    *,
    kind: Kind,
    cycle_id: str,
    dirty: bool = False,
) -> NotifyReport:
    """Send what `queue` owes among the `known` issues on each of `ctx.channels`, unless it
    is quiet now; record it. `dirty`: the queue changed before this call and must be written
    even if nothing is sent.
    """
    cfg, tracker, channels, now = ctx.cfg, ctx.tracker, ctx.channels, ctx.clock()
    report = NotifyReport()
    owed = {c.name: sorted(queue.owed(c.name) & known.keys()) for c in channels}
    waiting = sorted(set[int]().union(*owed.values()))
    window = cfg.notification.preferences.quiet_hours
    if not waiting or quiet.is_quiet(now, window):
        if waiting:
            report.deferred = tuple(waiting)
            report.deferred_until = quiet.quiet_until(now, window)
        if dirty:
            _record(tracker, queue, report, "the delivery queue could not be written")
        return report
    for name, iids in owed.items():
        queue.start(name, iids)
    if not _record(
        tracker,
        queue,
        report,
        "nothing was sent: the delivery queue could not be "
        "written, and nothing goes out that is not written down first; the next "
        "run sends it",
    ):
        return report
    for channel in channels:
        todo = [known[i] for i in owed[channel.name]]
        for payload in payloads(cfg, kind, cycle_id, todo) if todo else []:
            result = channel.send(payload)
            sent = tuple(n.iid for n in payload.matches)
            (report.delivered if result.ok else report.failed).append((result, sent))
            # No answer after the message left: it may have arrived. Sending it again
            # could repeat it, so it is done; a reminder follows if nobody reviews.
            queue.finish(channel.name, sent, retry=not (result.ok or result.maybe_delivered))
    _record(
        tracker,
        queue,
        report,
        "the outcome could not be written: the next run reports "
        "these messages as maybe delivered and never sends them again",
    )
    return report


def _record(
    tracker: Tracker, queue: delivery.Queue, report: NotifyReport, consequence: str
) -> bool:
    try:
        write_queue(tracker, queue)
    except TrackerError as exc:
        report.unrecorded.append(f"{exc}: {consequence}")
        return False
    return True

"""Deliver notifications for staged matches, exactly once per match and channel.

Delivery state lives on the issue: a staged issue is created with one queue label per
enabled channel (`job-match/notify-slack`, ...). After a channel delivered a message, the
labels of the matches it covered are removed, one request per issue for all channels that
delivered. A run that dies before that repeats only what it had not recorded; a channel
that failed keeps its label and is retried by the next `stage` or `digest`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from match_staging import notices, quiet, render
from match_staging.channels.base import Channel, Delivery
from match_staging.config import Config
from match_staging.errors import TrackerError
from match_staging.labels import queue_label
from match_staging.model import IssueRef
from match_staging.notices import Kind, Notice, Payload
from match_staging.trackers.base import Tracker


@dataclass
class NotifyReport:
    delivered: list[tuple[Delivery, tuple[int, ...]]] = field(default_factory=list)
    failed: list[tuple[Delivery, tuple[int, ...]]] = field(default_factory=list)
    deferred: tuple[int, ...] = ()
    deferred_until: datetime | None = None
    unrecorded: list[str] = field(default_factory=list)  # delivered, but not written down

    @property
    def ok(self) -> bool:
        return not self.failed and not self.unrecorded

    def extend(self, other: NotifyReport) -> None:
        self.delivered += other.delivered
        self.failed += other.failed
        self.unrecorded += other.unrecorded


def payloads(cfg: Config, kind: Kind, cycle_id: str, items: Sequence[Notice]) -> list[Payload]:
    """One summary per cycle, or one message per match (preferences.batch_*)."""
    prefs = cfg.notification.preferences
    groups = [list(items)] if prefs.batch_mode and prefs.batch_summary else [[n] for n in items]
    built = []
    for group in groups:
        payload = notices.build(kind, cycle_id, group, cfg.labels.pending)
        summary = render.render("summary.txt.j2", cfg.staging.templates_dir, target="text",
                                payload=payload)
        built.append(dataclasses.replace(payload, summary=" ".join(summary.split())))
    return built


def deliver(cfg: Config, tracker: Tracker, channels: Sequence[Channel],
            pending: Sequence[tuple[Notice, IssueRef]], *, kind: Kind, cycle_id: str,
            now: datetime) -> NotifyReport:
    """Send what is queued for each channel, unless it is quiet now; then record it."""
    report = NotifyReport()
    unique = {ref.iid: (n, ref) for n, ref in pending}  # two keys may lead to one issue
    queued = [(n, ref) for n, ref in unique.values()
              if any(queue_label(cfg.labels, c.name) in ref.labels for c in channels)]
    if not queued:
        return report
    window = cfg.notification.preferences.quiet_hours
    if quiet.is_quiet(now, window):
        report.deferred = tuple(ref.iid for _, ref in queued)
        report.deferred_until = quiet.quiet_until(now, window)
        return report
    done: dict[int, list[str]] = {}
    for channel in channels:
        label = queue_label(cfg.labels, channel.name)
        todo = [n for n, ref in queued if label in ref.labels]
        for payload in payloads(cfg, kind, cycle_id, todo) if todo else []:
            delivery = channel.send(payload)
            iids = tuple(n.iid for n in payload.matches)
            (report.delivered if delivery.ok else report.failed).append((delivery, iids))
            # No answer after the message left: it may have arrived. Sending it again could
            # repeat it, so it counts as delivered; a reminder follows if nobody reviews.
            if delivery.ok or delivery.maybe_delivered:
                for iid in iids:
                    done.setdefault(iid, []).append(label)
    for iid, labels in done.items():
        try:
            tracker.update_labels(iid, remove=labels)
        except TrackerError as exc:
            report.unrecorded.append(f"#{iid}: delivered but not recorded ({exc}); the next "
                                     "run may send it again")
    return report

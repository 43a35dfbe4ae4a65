"""digest's look at the WhatsApp messages Twilio accepted: WhatsApp refuses some only
later, on the message's status (63016 outside the 24-hour window, an unknown number), so a
"queued" answer at send time proves nothing. Each failure is reported once: the SIDs
already reported are kept in the run log (Tracker.append_log, kind "whatsapp-status").

Cost: one Twilio request per digest; the run log is read only when Twilio lists a failure,
and written only when there is a new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from match_staging.channels.whatsapp import MessageFailure, StatusCheck
from match_staging.errors import TrackerError
from match_staging.trackers.base import Tracker

LOG_KIND = "whatsapp-status"
# Messages sent in this window are checked. Twilio gives up on a queued message after its
# validity period (at most 36,000 s, Message resource `ValidityPeriod`), so a message's
# final status is known well within it; a digest runs at least daily.
LOOKBACK = timedelta(days=2)


@runtime_checkable
class StatusSource(Protocol):
    """A channel that can list its undelivered messages (channels.whatsapp.WhatsApp)."""

    def failed_messages(self, since: date) -> StatusCheck:
        """Messages sent since `since` that WhatsApp refused later."""


@dataclass
class WhatsAppStatusReport:
    """What digest's look at Twilio found and reported."""

    failures: list[MessageFailure] = field(default_factory=list)  # new ones only
    error: str = ""  # the check failed: the next digest checks again
    unrecorded: str = ""  # reported, but the run log could not be written

    @property
    def ok(self) -> bool:
        """Whether the check itself worked."""
        return not self.failures and not self.error and not self.unrecorded

    def lines(self) -> list[str]:
        """The report's lines for the digest output."""
        out = [f"undelivered whatsapp  {f.describe()}" for f in self.failures]
        if self.error:
            out.append(
                f"failed    whatsapp  could not check the status of sent messages: "
                f"{self.error} (checked again by the next digest)"
            )
        if self.unrecorded:
            out.append(f"unrecorded whatsapp  {self.unrecorded}")
        return out


def check(tracker: Tracker, channels: Sequence[Any], now: datetime) -> WhatsAppStatusReport:
    """New failures of messages sent in the last LOOKBACK; nothing when no channel can
    tell (WhatsApp disabled, or the local tracker's outbox).
    """
    report = WhatsAppStatusReport()
    source = next((c for c in channels if isinstance(c, StatusSource)), None)
    if source is None:
        return report
    since = (now.astimezone(UTC) - LOOKBACK).date()
    result = source.failed_messages(since)
    if result.error or not result.failures:
        report.error = result.error
        return report
    try:
        # a record older than the window lists only messages no check lists any more
        latest = tracker.read_log(LOG_KIND, since=now - LOOKBACK - timedelta(days=1), limit=1)
    except TrackerError as exc:
        report.error = f"the run log could not be read ({exc}), so nothing is reported now"
        return report
    before = latest[0].data.get("reported") if latest else []
    reported = {str(sid) for sid in before} if isinstance(before, list) else set()
    report.failures = [f for f in result.failures if f.sid not in reported]
    if not report.failures:
        return report
    listed = {f.sid for f in result.failures}
    # only what the next check can still list needs remembering
    keep = sorted((reported & listed) | {f.sid for f in report.failures})
    try:
        tracker.append_log(
            LOG_KIND,
            {
                "checked_at": now.astimezone(UTC).isoformat(),
                "since": since.isoformat(),
                "reported": keep,
            },
        )
    except TrackerError as exc:
        report.unrecorded = (
            f"{len(report.failures)} failure(s) reported but not recorded "
            f"({exc}): the next digest may report them again"
        )
    return report

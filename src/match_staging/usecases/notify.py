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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from match_staging import clock, delivery, identity, notices, quiet, record, render, workflow
from match_staging.channels.base import Delivery
from match_staging.config import Config
from match_staging.context import Context
from match_staging.errors import TrackerError
from match_staging.labels import states_in
from match_staging.model import IssueRef, Note, State
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
    earlier: tuple[int, ...] = ()  # announced now, owed by an earlier run
    dropped: tuple[int, ...] = ()  # reviewed before they were announced (a bot audit note)
    expired: tuple[int, ...] = ()  # expired before they were announced (a bot audit note)
    held: tuple[int, ...] = ()  # owed, but due to expire: the next digest expires them
    gone: tuple[int, ...] = ()  # owed, but deleted
    altered: tuple[int, ...] = ()  # announced without their text: somebody else edited them

    @property
    def ok(self) -> bool:
        """Nothing failed and everything was recorded."""
        return not self.failed and not self.unrecorded


@dataclass
class Owed:
    """Everything the delivery queue owes, looked up in GitLab: a notice for each issue
    still owed, and what became of the others.
    """

    notices: dict[int, Notice] = field(default_factory=dict)
    earlier: set[int] = field(default_factory=set)  # queued by an earlier run
    strays: set[int] = field(default_factory=set)  # staged by a run that never queued them
    dropped: list[int] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)  # still queued: see `Verdict.due`
    gone: list[int] = field(default_factory=list)
    altered: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Verdict:
    """What an owed issue is owed: `notice`, announced from the record whose fingerprint is
    `vouched` ("" for none); or nothing, because the bot's audit note says it left pending
    (`ended`: reviewed, or expired), or because its expiry is due (`due`): the next digest
    expires it, and an announcement now would tell of a match that is about to go.
    """

    notice: Notice | None = None
    vouched: str = ""
    ended: State | None = None
    due: bool = False


Fresh = Mapping[int, tuple[Notice, str]]  # this run's issues: notice, record fingerprint


def gather(
    ctx: Context, queue: delivery.Queue, fresh: Fresh, seen: Iterable[IssueRef] = ()
) -> Owed:
    """Account this run's new issues, find every match the bot staged that no queue record
    accounted for (a run stopped between creating and recording), and look up what earlier
    runs still owe, by number, in any state and whatever its labels: closing an issue or
    taking its labels off hides nothing. An owed match is dropped only when the bot's own
    audit note says it was reviewed (or GitLab no longer has it); it is announced from the
    match record the bot wrote, and without any text when somebody else changed that
    record. `seen`: issues the caller listed already (saves the lookup).
    """
    names = [c.name for c in ctx.channels]
    queue.account(fresh.keys(), names, {i: fp for i, (_, fp) in fresh.items()})
    tracker = ctx.tracker
    listed = tracker.staged_after(queue.through)
    strays = [r for r in listed if not queue.known(r.iid)]
    before = queue.owing() - fresh.keys()
    found = {r.iid: r for r in [*seen, *listed]}
    if missing := sorted(before - found.keys()):
        found.update({r.iid: r for r in tracker.issues_by_iids(missing)})
    owed = Owed(notices={i: n for i, (n, _) in fresh.items()})
    bot = tracker.bot_user() if strays or before else ""
    for iid in sorted(before):
        ref = found.get(iid)
        if ref is None:
            owed.gone.append(iid)
            continue
        verdict = _examine(ctx, ref, queue.records.get(iid), bot)
        if verdict.due:
            owed.held.append(iid)
            continue
        if verdict.notice is None:
            (owed.expired if verdict.ended == State.EXPIRED else owed.dropped).append(iid)
            continue
        owed.notices[iid] = verdict.notice
        # a record from before fingerprints were kept
        queue.records.setdefault(iid, verdict.vouched)
        owed.earlier.add(iid)
    taken: dict[int, str] = {}
    for ref in strays:
        verdict = _examine(ctx, ref, None, bot)
        if verdict.due:  # queued unannounced, so that the digest's expiry settles it
            taken[ref.iid] = verdict.vouched
            owed.held.append(ref.iid)
        elif verdict.notice is not None:
            owed.notices[ref.iid], taken[ref.iid] = verdict.notice, verdict.vouched
            owed.strays.add(ref.iid)
    queue.forget([*owed.dropped, *owed.expired, *owed.gone])
    queue.account(taken, names, taken)
    queue.pass_over(max((r.iid for r in listed), default=0))
    owed.altered = sorted(i for i, n in owed.notices.items() if n.altered)
    return owed


def _examine(ctx: Context, ref: IssueRef, expected: str | None, bot: str) -> Verdict:
    """What is owed of an owed issue (`Verdict`). Nothing when the bot's audit note says it
    was reviewed or expired, or when it was staged by the first release (keys in an HTML
    comment, queued by labels nobody can vouch for: its pending matches come up in the
    reminder); nothing yet when its expiry is due. `expected`: the fingerprint the queue
    holds, None when it holds none.

    Reads the issue's notes only when the issue is not as staged (open, pending, not a
    note on it) or the queue holds no fingerprint to check its record against.
    """
    names = ctx.cfg.labels
    as_staged = (
        ref.state == "opened"
        and names.match in ref.labels
        and states_in(names, ref.labels) == [State.PENDING]
        and ref.notes_count == 0
    )
    now = record.fingerprint(ref.description)
    trusted = bool(expected) and now == expected
    notes: Sequence[Note] | None = None  # not read: as staged, nobody wrote one
    if not as_staged or expected is None:
        notes = ctx.tracker.notes(ref.iid)
        trail = workflow.audit(ref, notes, bot)
        if trail.state != State.PENDING:
            return Verdict(ended=trail.state)  # the bot's audit note says so
        if expected is None:
            trusted = trail.trusted and bool(now)
            if trail.trusted and record.old_key_marker(ref.description):
                return Verdict()  # the first release's: announced, or queued by a label
    vouched = now if trusted else ""
    if _expiry_due(ctx, ref, notes, bot, trusted):
        return Verdict(vouched=vouched, due=True)  # no notice: it is not announced
    if trusted:
        return Verdict(notices.notice_from_issue(ref, ref.description), vouched)
    return Verdict(altered_notice(ctx, ref), vouched)


def _expiry_due(
    ctx: Context, ref: IssueRef, notes: Sequence[Note] | None, bot: str, trusted: bool
) -> bool:
    """Whether the next digest expires `ref`, by `lifecycle._expire`'s rule: an open issue
    of the bot, a job match pending by its labels (what the digest lists), whose
    `workflow.expires_at` has passed. The record's apply_by counts only when the record is
    the bot's (`trusted`) and nobody else edited the description (the audit, from the
    notes: read here, when `_examine` did not, only once the earliest the match could
    expire has passed). Never while bootstrap has not recorded the later states' label
    ids: then nothing expires, and the match is announced as before.
    """
    cfg, now = ctx.cfg, ctx.clock()
    if (
        ref.author != bot
        or ref.state != "opened"
        or cfg.labels.match not in ref.labels
        or states_in(cfg.labels, ref.labels) != [State.PENDING]
        or identity.unrecorded_states(cfg)
    ):
        return False
    staged = record.decode_record(ref.description) if trusted else None
    apply_by = staged.apply_by if staged else None
    # `_expire`'s shortcut, which counts a created_at GitLab did not send from now
    earliest = workflow.earliest_expiry(
        ref.created_at, apply_by, cfg.timezone, cfg.workflow.pending_ttl_days, now
    )
    if earliest > now:
        return False
    # an apply_by is believed only while nobody else edited the description
    if clock.deadline(apply_by, cfg.timezone) is not None:
        notes = ctx.tracker.notes(ref.iid) if notes is None else notes
        if not workflow.audit(ref, notes, bot).trusted:
            apply_by = None
    entered = workflow.entries(ref, notes or (), bot)
    at = workflow.expires_at(entered, apply_by, cfg.timezone, cfg.workflow.pending_ttl_days)
    return at is not None and at <= now


def altered_notice(ctx: Context, ref: IssueRef) -> Notice:
    """A match announced without any of its text (altered_title.txt.j2): somebody else
    changed the record the bot wrote, or none can be vouched for.
    """
    title = render.render(
        "altered_title.txt.j2", ctx.cfg.staging.templates_dir, target="text", iid=ref.iid
    )
    return notices.altered(ref, " ".join(title.split()))


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


def announced(report: NotifyReport, owed: Owed, *, queued: bool = True) -> NotifyReport:
    """`report` saying what became of what earlier runs owed: the matches no run had
    queued, and with `queued` also those an earlier run queued (`digest` sends those as
    its daily work, `stage` only after a failure).
    """
    sent = {i for _, iids in report.delivered for i in iids}
    earlier = (owed.earlier if queued else set()) | owed.strays
    return dataclasses.replace(
        report,
        earlier=tuple(sorted(earlier & sent)),
        dropped=tuple(owed.dropped),
        expired=tuple(owed.expired),
        held=tuple(owed.held),
        gone=tuple(owed.gone),
        altered=tuple(sorted(set(owed.altered) & sent)),
    )


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

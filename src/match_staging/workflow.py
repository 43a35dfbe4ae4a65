"""The review state machine (docs/design.md): pending -> approved | rejected, approved -> sent,
and after the gate (issue 23) pending -> expired -> pending, sent -> interview | offer |
declined | ghosted.
Pure: given what GitLab shows and who changed it, decide what the tool does.

The last state the tool audited is the state marker of the newest note the bot wrote (the
audit note of each step). Members can edit descriptions and write notes, but not the bot's
notes: so nothing a member can edit decides the state (issue 10). Comparing the audited
state with the state label tells a new change from a replayed or duplicated event: when they
agree there is nothing to do.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from match_staging import clock, record
from match_staging.config import Labels
from match_staging.labels import state_label, states_in
from match_staging.model import IssueRef, LabelEvent, Note, State, StateEvent

# The moves a reviewer makes (docs/design.md, "Who may move what"): the review, the send
# by hand (a portal), the revival of an expired match, and what came of a sent application.
TRANSITIONS: frozenset[tuple[State, State]] = frozenset(
    {
        (State.PENDING, State.APPROVED),
        (State.PENDING, State.REJECTED),
        (State.APPROVED, State.SENT),
        (State.EXPIRED, State.PENDING),  # revive, within workflow.revive_days, once
        (State.SENT, State.INTERVIEW),
        (State.SENT, State.OFFER),
        (State.SENT, State.DECLINED),
        (State.INTERVIEW, State.OFFER),
        (State.INTERVIEW, State.DECLINED),
        (State.GHOSTED, State.INTERVIEW),  # the answer came late
        (State.GHOSTED, State.OFFER),
        (State.GHOSTED, State.DECLINED),
    }
)
# The moves only the scheduled run makes, when time is up (nobody's label move counts).
DIGEST_TRANSITIONS: frozenset[tuple[State, State]] = frozenset(
    {(State.PENDING, State.EXPIRED), (State.SENT, State.GHOSTED)}
)
# Kept open, so they stay on the board: under review, or an interview under way.
KEPT_OPEN = (State.PENDING, State.APPROVED, State.INTERVIEW)
# The system notes GitLab writes, authored by the editor, when a description changes:
# SystemNotes::IssuablesService#change_description ("changed the description") and, when
# the edit also toggled a checklist item, #change_task_status instead ("marked the
# checklist item ... as completed"): Issuable::CommonSystemNotesService (gitlabhq
# app/services/issuable/common_system_notes_service.rb, CE code: GitLab Free writes both).
DESCRIPTION_CHANGED = "changed the description"
CHECKLIST_CHANGED = "marked the checklist item "

Verdict = Literal["apply", "revert", "none"]


@dataclass(frozen=True)
class Decision:
    """What the gate does about an issue's labels, and why."""

    verdict: Verdict
    before: State  # the audited state
    after: State  # the state the issue ends in
    reason: str  # one line, for the job log and the note


@dataclass(frozen=True)
class Audit:
    """What the bot's own records say about an issue."""

    state: State  # the audited state
    sending: record.SendingMark | None  # a send that started and may have gone out
    trusted: bool  # the description is as the bot wrote it
    distrust: str = ""  # why not, naming who and when
    stepped: bool = False  # the state comes from a step the bot recorded (a note)


def description_edit(
    issue: IssueRef, notes: Sequence[Note], bot: str, editors: Collection[str] = ()
) -> str:
    """Why the description cannot be trusted ("" when it can): not created by the bot, or
    changed since by someone else (`editors` excepted: the key lookup trusts the reviewers'
    edits of a draft).
    """
    if issue.author and issue.author != bot:
        return f"issue #{issue.iid} was created by {issue.author}, not by match-staging ({bot})"
    for note in reversed(notes):
        if (
            note.system
            and note.author != bot
            and note.author not in editors
            and (note.body == DESCRIPTION_CHANGED or note.body.startswith(CHECKLIST_CHANGED))
        ):
            return f"{note.author} changed the description of #{issue.iid} at {note.created_at}"
    return ""


def bot_marks(notes: Iterable[Note], bot: str) -> Iterator[tuple[Note, record.NoteMark]]:
    """The marks of the notes the bot wrote, in the order given: the only records of a step
    (nobody else can write or edit the bot's notes; a copy of a marker anywhere else counts
    for nothing).
    """
    for note in notes:
        if note.system or note.author != bot:
            continue
        if (mark := record.parse_note(note.body)) is not None:
            yield note, mark


def audit(issue: IssueRef, notes: Sequence[Note], bot: str) -> Audit:
    """The audited state: the newest state marker in a note the bot wrote; before the first
    step, the description's (the initial `pending`, or the state the previous release kept
    there), when nobody but the bot changed the description; else pending.
    """
    distrust = description_edit(issue, notes, bot)
    state: State | None = None
    sending: record.SendingMark | None = None
    stepped = False
    for _, mark in bot_marks(reversed(notes), bot):  # newest first
        if isinstance(mark, record.SendingMark) and sending is None:
            sending = mark
        elif isinstance(mark, record.StateMark):
            state, stepped = mark.state, True
            break  # a later state step settles any earlier send
    if state is None and not distrust:  # before the first step, or staged by 0.x
        state = record.description_state(issue.description)
        sending = sending or record.description_sending(issue.description)
    state = state or State.PENDING
    return Audit(state, sending, not distrust, distrust, stepped)


def decide(
    names: Labels,
    labels: Sequence[str],
    audited: State | None,
    actor: str,
    authorised: bool,
    *,
    refusal: str = "",
) -> Decision:
    """What to do about the issue's current labels, changed last by `actor`.

    A new state label beside the audited one is a move (without scoped labels, on Free, a
    reviewer adds `approved` in the sidebar and leaves `pending` on): the old one goes.
    Ambiguous is only two new state labels, or none at all. `refusal`: why `actor` may not
    (default: not in workflow.reviewers).
    """
    present = states_in(names, labels)
    before = audited or State.PENDING
    if present == [before]:
        return Decision("none", before, before, f"already {before.value}: nothing to do")
    new = [s for s in present if s != before]
    if len(new) != 1:
        what = (
            "no state label"
            if not present
            else "two new state labels at once (" + ", ".join(s.value for s in new) + ")"
        )
        return Decision("revert", before, before, f"{what}: back to {before.value}")
    after = new[0]
    if not authorised:
        return Decision(
            "revert",
            before,
            before,
            f"{refusal or f'{actor} may not review job matches (workflow.reviewers)'}: "
            f"back to {before.value}",
        )
    if (before, after) not in TRANSITIONS:
        return Decision(
            "revert",
            before,
            before,
            f"{before.value} -> {after.value} is not a transition: back to {before.value}",
        )
    return Decision("apply", before, after, f"{before.value} -> {after.value}")


def moved_to(names: Labels, labels: Sequence[str], audited: State) -> State | None:
    """The one new state label beside the audited state, if there is exactly one."""
    new = [s for s in states_in(names, labels) if s != audited]
    return new[0] if len(new) == 1 else None


def is_state(
    names: Labels, event: LabelEvent, state: State, ids: Mapping[State, int] | None = None
) -> bool:
    """Is the event about `state`'s label? By the label's id when `ids` (bootstrap's record,
    identity.state_ids) has it and the tracker gives ids: an event shows a label by its
    *current* name, and a Reporter may rename labels. Else by name (the local tracker).
    """
    wanted = (ids or {}).get(state)
    if wanted is not None and event.label_id:
        return event.label_id == wanted
    return event.label == state_label(names, state)


def actor_of(
    names: Labels,
    events: Sequence[LabelEvent],
    target: State | None,
    ids: Mapping[State, int] | None = None,
) -> LabelEvent | None:
    """Who made the change: whoever added `target`'s label last (None when GitLab shows
    nobody adding it); without a target, whoever changed a state label last. From GitLab's
    label events, never from a webhook payload; labels known by id (`is_state`).
    """
    if target is not None:
        added = [e for e in events if e.action == "add" and is_state(names, e, target, ids)]
        return added[-1] if added else None
    changed = [e for e in events if any(is_state(names, e, s, ids) for s in State)]
    return changed[-1] if changed else None


def approved_at(notes: Sequence[Note], bot: str) -> str | None:
    """When the bot recorded the approval: its first note marking the state approved (the
    states only move forward, so that is the step pending -> approved). None: none yet.
    """
    for note, mark in bot_marks(notes, bot):
        if isinstance(mark, record.StateMark) and mark.state == State.APPROVED:
            return note.created_at
    return None


def must_close(
    state: State, close_rejected: bool, close_sent: bool, close_expired: bool = True
) -> bool:
    """Whether the tool keeps an issue in `state` closed (workflow.close_rejected,
    close_sent, which covers what came of a sent application but an interview under way,
    close_expired).
    """
    return (
        (state == State.REJECTED and close_rejected)
        or (state in (State.SENT, State.OFFER, State.DECLINED, State.GHOSTED) and close_sent)
        or (state == State.EXPIRED and close_expired)
    )


def open_close(
    state: State,
    issue_state: str,
    close_rejected: bool,
    close_sent: bool,
    close_expired: bool = True,
) -> StateEvent | None:
    """Closing or reopening an issue that ends in `state`: closed when the tool keeps that
    state closed (workflow.close_rejected, close_sent, close_expired); reopened when under
    review or in an interview (KEPT_OPEN), so it stays on the board; else nothing.
    """
    if must_close(state, close_rejected, close_sent, close_expired) and issue_state != "closed":
        return "close"
    if state in KEPT_OPEN and issue_state == "closed":
        return "reopen"
    return None


def tampered(
    names: Labels,
    issue: IssueRef,
    audited: State,
    close_rejected: bool,
    close_sent: bool,
    close_expired: bool = True,
) -> str:
    """What somebody changed on a staged match besides its state label ("" when nothing):
    closed while under review, reopened while the tool keeps it closed, or the job-match
    label taken off. Each would take the match off the board or out of the tool's view, so
    each is reverted like any unauthorised move (issue 20).
    """
    changes = []
    if names.match not in issue.labels:
        changes.append(f"the {names.match} label was removed (it marks a staged match)")
    if issue.state == "closed" and audited in KEPT_OPEN:
        closer = f" by {issue.closed_by}" if issue.closed_by else ""
        changes.append(f"closed{closer} while {audited.value} (move the card instead)")
    elif issue.state != "closed" and must_close(audited, close_rejected, close_sent, close_expired):
        changes.append(f"reopened while {audited.value} (move the card instead)")
    return "; ".join(changes)


def label_changes(
    names: Labels, labels: Sequence[str], target: State
) -> tuple[list[str], list[str]]:
    """(add, remove) leaving exactly the state label of `target` (scoped labels need
    Premium, so the tool keeps state labels exclusive itself: docs/platform-facts.md).
    """
    wanted = state_label(names, target)
    remove = [state_label(names, s) for s in states_in(names, labels) if s != target]
    add = [] if wanted in labels else [wanted]
    return add, remove


# ------------------------------------------------------------------ after the gate (issue 23)


@dataclass(frozen=True)
class Entered:
    """A state the match entered, and when (GitLab's time of the bot's note recording it)."""

    state: State
    at: str


def entries(issue: IssueRef, notes: Sequence[Note], bot: str) -> list[Entered]:
    """Each state the match entered, oldest first: pending when the issue was created (the
    staging), then each note of the bot whose state mark differs from the one before (a
    revert repeats the mark and enters nothing). Only the bot's notes count: nobody else
    can write or edit them, nor the issue's created_at.
    """
    found = [Entered(State.PENDING, issue.created_at)]
    for note, mark in bot_marks(notes, bot):
        if isinstance(mark, record.StateMark) and mark.state != found[-1].state:
            found.append(Entered(mark.state, note.created_at))
    return found


def expires_at(
    entered: Sequence[Entered], apply_by: str | None, zone: str, ttl_days: float
) -> datetime | None:
    """When a pending match expires: at its `apply_by` (from the bot's record), else
    `ttl_days` (workflow.pending_ttl_days) after it was staged; a revived match `ttl_days`
    after its revival, whatever its apply_by (the clock restarts once). None: not pending.
    """
    last = entered[-1]
    since = clock.parse(last.at)
    if last.state != State.PENDING or since is None:
        return None
    revived = any(e.state == State.EXPIRED for e in entered)
    deadline = None if revived else clock.deadline(apply_by, zone)
    return deadline or since + timedelta(days=ttl_days)


def earliest_expiry(
    created_at: str, apply_by: str | None, zone: str, ttl_days: float, now: datetime
) -> datetime:
    """The earliest a pending match can expire (`expires_at`; a revival only postpones):
    `ttl_days` after its staging (counted from `now` when created_at cannot be read), or
    its apply_by when that is sooner. Before it, none of its notes need be read.
    """
    earliest = (clock.parse(created_at) or now) + timedelta(days=ttl_days)
    deadline = clock.deadline(apply_by, zone)
    return earliest if deadline is None else min(earliest, deadline)


def revive_refusal(entered: Sequence[Entered], now: datetime, revive_days: float) -> str:
    """Why an expired match may not be revived now ("" when it may): only within
    `revive_days` (workflow.revive_days) of its expiry, and only once.
    """
    expiries = [e for e in entered if e.state == State.EXPIRED]
    if len(expiries) > 1:
        return "it was revived once already and expired again (a match is revived once)"
    at = clock.parse(expiries[-1].at) if expiries else None
    if at is not None and now > at + timedelta(days=revive_days):
        return (
            f"it expired at {at:%Y-%m-%d %H:%M} UTC, more than workflow.revive_days "
            f"({revive_days:g}) ago"
        )
    return ""


def unfinished_step(
    audited: State, target: State | None, event: LabelEvent | None, notes: Sequence[Note], bot: str
) -> bool:
    """Whether the labels show a move of the scheduled run (DIGEST_TRANSITIONS) whose one
    update went through and whose audit note did not (GitLab failed, the job died while the
    note pacing waited): the bot added `target`'s label after the newest note it wrote.
    Nobody else writes as the bot, and every other step of the bot is followed by its note.
    """
    if event is None or event.user != bot or (audited, target) not in DIGEST_TRANSITIONS:
        return False
    at = clock.parse(event.created_at)
    written = [clock.parse(n.created_at) for n in notes if not n.system and n.author == bot]
    last = max((w for w in written if w is not None), default=None)
    return at is not None and (last is None or at > last)


def sent_at(entered: Sequence[Entered]) -> datetime | None:
    """When a match still sent was sent (None: not sent now)."""
    last = entered[-1]
    return clock.parse(last.at) if last.state == State.SENT else None

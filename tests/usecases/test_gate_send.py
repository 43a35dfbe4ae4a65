"""The gate's send step (`Gate.send`) on the in-memory tracker and the local one: an
application goes out once, and the audit trail says exactly what happened at each outcome of
the delivery: the "sending" mark written before the email, a delivery that may have gone out
keeping it, a refused one settled by a "not sent" note, the sent step with its transport and
Message-ID (issue 26: the mutants of `usecases/gate.py` these tests kill).
(The same sends over HTTP, through the CLI, are in test_review.py beside it.)"""

from __future__ import annotations

import email
from pathlib import Path

import pytest

from match_staging import config, record, render, workflow
from match_staging.channels.base import Delivery, OutboxMailer
from match_staging.config import Config, Workflow
from match_staging.context import Context
from match_staging.errors import InputError
from match_staging.matches import read_batch
from match_staging.model import IssueDraft, LabelEvent, Note, State
from match_staging.trackers.local import LocalTracker
from match_staging.usecases.gate import Gate, StepResult, check_approver
from match_staging.usecases.stage import stage
from tests.conftest import FakeTime, match, write
from tests.fakes.mailbox import ACCEPTED, Mailbox
from tests.fakes.memory_tracker import MemoryTracker

TO = "projekte@amoriabond.example"  # #1 of matches-inbox/, Cloud Architect: apply by email
FORCE = "check the sent mail, then mark it sent on the board, or run `match-staging send --force`"


@pytest.fixture
def world(repo: Path, fake_time: FakeTime) -> tuple[Context, MemoryTracker, Mailbox]:
    """The five matches of matches-inbox/ staged on the in-memory tracker (it stands in for
    GitLab: what it records reaches people), #1 approved from the shell."""
    cfg = config.load(None, {})
    tracker, mailbox = MemoryTracker(clock=fake_time.clock), Mailbox()
    ctx = Context(
        cfg, tracker, mailer=mailbox, clock=fake_time.clock, sleep=fake_time.sleep, root=repo
    )
    assert stage(ctx, read_batch([], {}, cfg.staging.inbox)).ok
    assert Gate(ctx).review(1, State.APPROVED, "ada", "").step.outcome == "applied"
    return ctx, tracker, mailbox


def bodies(tracker: MemoryTracker | LocalTracker, iid: int) -> list[str]:
    return [n.body for n in tracker.notes(iid)]


def sending(address: str, transport: str) -> str:
    return (
        f"**Sending:** the application to {address} by {transport} is going out now. If no "
        "note follows, it may have gone out: check the sent mail before "
        "`match-staging send --force`.\n"
    )


def test_a_sent_application_leaves_the_sending_mark_then_the_sent_step(
    world: tuple[Context, MemoryTracker, Mailbox], fake_time: FakeTime
) -> None:
    ctx, tracker, mailbox = world
    before = len(tracker.notes(1))
    result = Gate(ctx).send(1, "ada")
    assert result == StepResult("sent", f"#1: application sent to {TO} (250 OK)", 1, State.SENT)
    [msg] = mailbox.messages
    started, sent = bodies(tracker, 1)[before:]
    # the mark first, with the run's time: a run that dies now leaves it, and no later
    # run sends again without --force
    assert started.startswith(sending(TO, "smtp"))
    assert record.parse_note(started) == record.SendingMark(fake_time.now.isoformat())
    message_id = str(msg["Message-ID"])
    assert message_id.startswith("<") and message_id.endswith(">")
    assert sent.startswith(
        f"**Sent:** the application went to {TO} by smtp "
        f"(Message-ID {render.gitlab_text(message_id)}); approved → **sent**\n"
    )
    assert record.parse_note(sent) == record.StateMark(State.SENT)
    issue = tracker.get_issue(1)
    assert issue is not None and "job-match/sent" in issue.labels and issue.state == "closed"


def test_a_refused_delivery_is_settled_by_a_not_sent_note_and_may_be_sent_again(
    world: tuple[Context, MemoryTracker, Mailbox], fake_time: FakeTime
) -> None:
    ctx, tracker, mailbox = world
    mailbox.answer = Delivery("email", False, "550 5.1.1 mailbox unavailable")
    before = len(tracker.notes(1))
    result = Gate(ctx).send(1, "ada")
    assert result == StepResult("failed", "#1: 550 5.1.1 mailbox unavailable", 1)
    started, unsent = bodies(tracker, 1)[before:]
    assert started.startswith(sending(TO, "smtp"))
    assert unsent.startswith(
        f"**Not sent:** 550 5.1.1 mailbox unavailable; nothing went to {TO}, the match stays "
        "approved.\n"
    )
    # the state marker settles the "sending" mark: nothing went out, no --force needed
    assert record.parse_note(unsent) == record.StateMark(State.APPROVED)
    issue = tracker.get_issue(1)
    assert issue is not None and "job-match/approved" in issue.labels
    mailbox.answer = ACCEPTED
    assert Gate(ctx).send(1, "ada").outcome == "sent"
    assert len(mailbox.messages) == 2


def test_a_delivery_that_may_have_gone_out_keeps_the_mark_and_says_to_check(
    world: tuple[Context, MemoryTracker, Mailbox], fake_time: FakeTime
) -> None:
    ctx, tracker, mailbox = world
    mailbox.answer = Delivery("email", False, "no answer after the final dot", maybe_delivered=True)
    started_at = fake_time.now.isoformat()
    before = len(tracker.notes(1))
    result = Gate(ctx).send(1, "ada")
    assert result == StepResult(
        "failed", f"#1: no answer after the final dot; it may have gone out: {FORCE}", 1
    )
    # no note settles the mark: the next run must not send again
    [started] = bodies(tracker, 1)[before:]
    assert record.parse_note(started) == record.SendingMark(started_at)
    fake_time.advance(hours=1)
    with pytest.raises(InputError) as refused:
        Gate(ctx).send(1, "ada")
    assert str(refused.value) == (
        f"#1: a send started at {started_at} and may have gone out: check the sent mail, "
        "then mark it sent on the board, or run `match-staging send --force` to send it again"
    )
    assert len(mailbox.messages) == 1 and len(tracker.notes(1)) == before + 1
    mailbox.answer = ACCEPTED
    assert Gate(ctx).send(1, "ada", force=True).outcome == "sent"
    assert len(mailbox.messages) == 2


def test_the_local_tracker_writes_the_application_to_outbox_and_says_it_sent_nothing(
    repo: Path, fake_time: FakeTime
) -> None:
    cfg = config.load(None, {})
    cfg.notification.preferences.quiet_hours = None
    tracker = LocalTracker(repo / ".match-staging", clock=fake_time.clock)
    outbox = repo / "outbox"
    mailer = OutboxMailer(outbox, "Me <me@example.com>", clock=fake_time.clock)
    ctx = Context(
        cfg, tracker, mailer=mailer, clock=fake_time.clock, sleep=fake_time.sleep, root=repo
    )
    write(repo / "one.json", [match(apply="jobs@acme.example")])
    [(_, issue)] = stage(ctx, read_batch(["one.json"], {}, "matches-inbox")).staged
    iid = issue.iid
    Gate(ctx).review(iid, State.APPROVED, "me", "")
    before = len(tracker.notes(iid))
    result = Gate(ctx).send(iid, "me")
    [eml] = outbox.glob("*.eml")
    assert result == StepResult(
        "sent",
        f"#{iid}: application to jobs@acme.example written to {eml} "
        "(the local tracker sends nothing)",
        iid,
        State.SENT,
    )
    started, sent = bodies(tracker, iid)[before:]
    # no note may claim smtp or gmail: nothing left the machine
    assert started.startswith(
        "**Sending:** the application to jobs@acme.example is being written to outbox/ now "
        "(the local tracker sends nothing).\n"
    )
    assert record.parse_note(started) == record.SendingMark(fake_time.now.isoformat())
    message_id = str(email.message_from_bytes(eml.read_bytes())["Message-ID"])
    assert sent.startswith(
        "**Sent:** the application to jobs@acme.example was written to outbox/, not sent (the "
        f"local tracker; Message-ID {render.gitlab_text(message_id)}); approved → **sent**\n"
    )
    assert record.parse_note(sent) == record.StateMark(State.SENT)


# --- who approved what is sent: GitLab's label events, judged by `check_approver` before
# anything goes out, for every shape of history a send may find (issue 26). The approval
# note the bot wrote is at minute 10; events are (user, user id, label, label id, action,
# minute). ann is the reviewer bootstrap recorded as user 11, the approved label as id 5.
ANN, APPROVED_ID = 11, 5
A, LOOK_ALIKE = "job-match/approved", 6
WHO_MAY = Config(
    workflow=Workflow(
        reviewers=["ann"], reviewer_ids={"ann": ANN}, label_ids={"approved": APPROVED_ID}
    )
)
ANN_LEFT = Config(workflow=Workflow(reviewers=["ben"], label_ids={"approved": APPROVED_ID}))
ADDED_BY = "the approved label was added by "
NOT_LISTED = ", who may not review job matches (workflow.reviewers)"
MUST = ": nothing sent; a reviewer must approve it on the board"
BOARD_MOVE = [("ann", ANN, A, APPROVED_ID, "add", 9)]
REVERTED = [  # ann approved; mallory moved it on; the gate put approved back
    *BOARD_MOVE,
    ("mallory", 40, A, APPROVED_ID, "remove", 20),
    ("bot", 1, A, APPROVED_ID, "add", 21),
]


@pytest.mark.parametrize(
    ("cfg", "events", "refused"),
    [
        (WHO_MAY, BOARD_MOVE, None),
        # a member tagging the approved card later changes nothing
        (WHO_MAY, [*BOARD_MOVE, ("mallory", 40, "urgent", 9, "add", 12)], None),
        (WHO_MAY, [("bot", 1, A, APPROVED_ID, "add", 10)], None),  # `review` from the shell
        # the bot's revert is no approval: the approval it restored is judged
        (WHO_MAY, REVERTED, None),
        (ANN_LEFT, REVERTED, f"ann{NOT_LISTED}"),
        (WHO_MAY, [("bot", 1, A, APPROVED_ID, "add", 21)], f"nobody GitLab shows{NOT_LISTED}"),
        (WHO_MAY, [], f"nobody GitLab shows{NOT_LISTED}"),
        (WHO_MAY, [("mallory", 40, A, APPROVED_ID, "add", 9)], f"mallory{NOT_LISTED}"),
        (
            WHO_MAY,  # somebody took the name of a renamed reviewer
            [("ann", 99, A, APPROVED_ID, "add", 9)],
            "ann: ann is user 99, not user 11 whom bootstrap recorded as the reviewer ann "
            "(workflow.reviewer_ids): a renamed account may not review",
        ),
        # a label by the approved label's name is not it: its id says so
        (WHO_MAY, [("ann", ANN, A, LOOK_ALIKE, "add", 9)], f"nobody GitLab shows{NOT_LISTED}"),
        (WHO_MAY, [("ann", ANN, "job-match/ok", APPROVED_ID, "add", 9)], None),  # renamed
    ],
)
def test_only_a_reviewers_approval_is_sent(
    cfg: Config, events: list[tuple[str, int, str, int, str, int]], refused: str | None
) -> None:
    tracker = MemoryTracker()
    iid = tracker.create_issue(IssueDraft("t", "body", ("job-match", A), ("k",))).iid
    tracker.issues[iid].events = [
        LabelEvent(user, user_id, label, action, at(minute), label_id)  # type: ignore[arg-type]
        for user, user_id, label, label_id, action, minute in events
    ]
    approval = record.with_mark("**Review:** …", record.StateMark(State.APPROVED))
    notes = [Note(1, "bot", approval, False, at(10))]
    if refused is None:
        check_approver(Context(cfg, tracker), iid, notes)
        return
    with pytest.raises(InputError) as error:
        check_approver(Context(cfg, tracker), iid, notes)
    assert str(error.value) == f"#{iid}: {ADDED_BY}{refused}{MUST}"


def at(minute: int) -> str:
    return f"2026-02-08T13:{minute:02d}:00Z"


# --- what `send` refuses, in the words the user reads (the matches of the `world` fixture)


def test_send_names_what_is_not_an_approved_match(
    world: tuple[Context, MemoryTracker, Mailbox],
) -> None:
    ctx, tracker, mailbox = world
    other = tracker.create_issue(IssueDraft("a bug", "body", ("bug",), ())).iid
    unlabelled = tracker.create_issue(IssueDraft("t", "body", ("job-match",), ())).iid
    tracker.update_issue(2, add=["job-match/rejected"])  # two state labels
    refusals = {
        99: "#99: no job-match issue with that number",
        other: f"#{other}: no job-match issue with that number",
        unlabelled: f"#{unlabelled}: is no state label: only approved matches are sent",
        2: "#2: is pending, rejected: only approved matches are sent",
    }
    for iid, said in refusals.items():
        with pytest.raises(InputError) as refused:
            Gate(ctx).send(iid, "ada")
        assert str(refused.value) == said
    assert mailbox.messages == []


def test_send_without_a_mailer_says_what_to_configure(
    world: tuple[Context, MemoryTracker, Mailbox],
) -> None:
    ctx, tracker, _ = world
    ctx.mailer = None
    with pytest.raises(InputError) as refused:
        Gate(ctx).send(1, "ada")
    assert str(refused.value) == (
        "#1: sending needs notification.channels.email configured (transport, from, and "
        "smtp or gmail settings)"
    )
    assert not [n for n in bodies(tracker, 1) if n.startswith("**Sending:**")]


def test_send_without_an_address_points_to_the_portal(
    world: tuple[Context, MemoryTracker, Mailbox],
) -> None:
    ctx, _, mailbox = world
    assert Gate(ctx).review(3, State.APPROVED, "ada", "").step.outcome == "applied"
    assert Gate(ctx).send(3, "ada") == StepResult(
        "portal",
        "#3 has no application address: apply on the portal "
        "(https://jobs.c4-energy.example/devops-gcp), then move the card to sent on the board",
        3,
    )
    assert mailbox.messages == []


# --- settle: what the bot keeps closed (workflow.close_*), and issues that are no match


def bot_issue(tracker: MemoryTracker, state: State, labels: tuple[str, ...] = ()) -> int:
    """An open issue the bot staged and took to `state` with its own audit note."""
    draft = IssueDraft("t", "body", labels or ("job-match", f"job-match/{state.value}"), ())
    iid = tracker.create_issue(draft).iid
    tracker.add_note(iid, record.with_mark("**Review:** …", record.StateMark(state)))
    return iid


@pytest.mark.parametrize(
    ("state", "kept_open"),
    [
        (State.REJECTED, "close_rejected"),
        (State.SENT, "close_sent"),
        (State.EXPIRED, "close_expired"),
    ],
)
def test_an_open_issue_is_reopened_tampering_only_where_the_bot_closes(
    state: State, kept_open: str
) -> None:
    tracker = MemoryTracker()
    iid = bot_issue(tracker, state)
    issue = tracker.get_issue(iid)
    assert issue is not None
    kept = Config(workflow=Workflow(reviewers=["ann"]))
    setattr(kept.workflow, kept_open, False)
    assert Gate(Context(kept, tracker)).settle(issue) == StepResult(
        "unchanged", f"#{iid}: already {state.value}: nothing to do", iid, state
    )
    closes = Config(workflow=Workflow(reviewers=["ann"]))
    assert Gate(Context(closes, tracker)).settle(issue, reconciled=True) == StepResult(
        "reverted",
        f"#{iid}: reopened while {state.value} (move the card instead): back to {state.value}",
        iid,
        state,
    )
    found = tracker.get_issue(iid)
    assert found is not None and found.state == "closed"
    note = bodies(tracker, iid)[-1]
    assert "\n_The webhook never delivered this change; the scheduled run applied it._\n" in note


def test_a_staged_match_that_lost_its_label_keeps_its_trail(
    world: tuple[Context, MemoryTracker, Mailbox],
) -> None:
    ctx, tracker, _ = world
    with tracker.as_user("mallory"):
        tracker.update_issue(2, remove=["job-match"])
    issue = tracker.get_issue(2)
    assert issue is not None
    result = Gate(ctx).settle(issue)
    assert (result.outcome, result.after) == ("reverted", State.PENDING)
    found = tracker.get_issue(2)
    assert found is not None and "job-match" in found.labels
    assert "_The webhook never delivered" not in bodies(tracker, 2)[-1]  # the webhook's step


def test_the_scheduled_runs_move_without_its_note_is_completed_not_reverted(
    fake_time: FakeTime,
) -> None:
    tracker = MemoryTracker(clock=fake_time.clock)
    iid = bot_issue(tracker, State.PENDING)
    fake_time.advance(minutes=1)  # the expiry's update went through, its note did not
    tracker.update_issue(
        iid, add=["job-match/expired"], remove=["job-match/pending"], state_event="close"
    )
    issue = tracker.get_issue(iid)
    assert issue is not None
    cfg = Config(workflow=Workflow(reviewers=["ann"]))
    assert Gate(Context(cfg, tracker, clock=fake_time.clock)).settle(issue) == StepResult(
        "applied",
        f"#{iid}: pending -> expired: the scheduled run's move, its note written now",
        iid,
        State.EXPIRED,
        completed=True,
    )
    assert record.parse_note(bodies(tracker, iid)[-1]) == record.StateMark(State.EXPIRED)


def test_auto_send_sends_only_an_approval_just_applied_and_only_with_a_mailer(
    world: tuple[Context, MemoryTracker, Mailbox],
) -> None:
    ctx, _, mailbox = world
    ctx.cfg.workflow.auto_send = True
    gate = Gate(ctx)
    replayed = StepResult("unchanged", "#1: already approved: nothing to do", 1, State.APPROVED)
    assert gate.auto_send(replayed, "ada") is None
    applied = StepResult("applied", "#1: pending -> approved", 1, State.APPROVED)
    ctx.mailer = None
    assert gate.auto_send(applied, "ada") is None
    assert mailbox.messages == []
    ctx.mailer = mailbox
    sent = gate.auto_send(applied, "ada")
    assert sent is not None and sent.outcome == "sent" and len(mailbox.messages) == 1


def test_an_issue_of_the_bots_without_the_label_and_edited_by_a_member_is_no_match() -> None:
    tracker = MemoryTracker()
    iid = tracker.create_issue(IssueDraft("t", "body", ("other",), ())).iid
    # the system note GitLab writes on a description change (the in-memory tracker does not)
    edited = Note(99, "mallory", workflow.DESCRIPTION_CHANGED, True, at(5))
    tracker.issues[iid].notes.append(edited)
    issue = tracker.get_issue(iid)
    assert issue is not None
    assert Gate(Context(Config(), tracker)).settle(issue) == StepResult(
        "ignored",
        f"#{iid} is not a job match (no job-match label, and mallory changed the description "
        f"of #{iid} at {at(5)})",
        iid,
    )
    assert tracker.notes(iid) == [edited]


def test_an_auto_send_refused_after_an_approval_is_kept_for_the_caller(
    world: tuple[Context, MemoryTracker, Mailbox],
) -> None:
    ctx, tracker, mailbox = world
    ctx.cfg.workflow.auto_send = True
    edited = Note(99, "mallory", workflow.DESCRIPTION_CHANGED, True, at(5))
    tracker.issues[2].notes.append(edited)
    gated = Gate(ctx).review(2, State.APPROVED, "ada", "")
    # the step is applied and printed first; the send's refusal is raised after it
    assert gated.step == StepResult("applied", "#2: pending -> approved", 2, State.APPROVED)
    assert gated.requests == tracker.calls  # the send refused on what the step kept
    assert gated.sent is None and isinstance(gated.refused, InputError)
    assert str(gated.refused).startswith(
        f"#2: mallory changed the description of #2 at {at(5)}: nothing sent."
    )
    assert mailbox.messages == []


@pytest.mark.parametrize("kept_open", ["close_rejected", "close_sent", "close_expired"])
def test_a_step_leaves_the_issue_open_where_the_config_keeps_it_open(
    world: tuple[Context, MemoryTracker, Mailbox], fake_time: FakeTime, kept_open: str
) -> None:
    ctx, tracker, _ = world
    ctx.cfg.workflow.reviewers = ["ann"]
    setattr(ctx.cfg.workflow, kept_open, False)
    if kept_open == "close_rejected":
        iid, after = 2, Gate(ctx).review(2, State.REJECTED, "ada", "too far").step.after
    elif kept_open == "close_sent":
        iid, after = 1, Gate(ctx).send(1, "ada").after
    else:  # the scheduled run's expiry, its note written by the next run
        iid = 2
        fake_time.advance(minutes=1)
        tracker.update_issue(2, add=["job-match/expired"], remove=["job-match/pending"])
        issue = tracker.get_issue(2)
        assert issue is not None
        after = Gate(ctx).settle(issue).after
    found = tracker.get_issue(iid)
    assert after is not None and found is not None
    assert (f"job-match/{after.value}" in found.labels, found.state) == (True, "opened")


# --- the scheduled repair (`reconcile`): what the webhook never delivered, repaired


def test_the_repair_puts_back_what_the_webhook_never_delivered_and_reads_only_what_changed(
    world: tuple[Context, MemoryTracker, Mailbox], fake_time: FakeTime
) -> None:
    ctx, tracker, _ = world
    ctx.cfg.workflow.reviewers = ["ann"]
    fake_time.advance(minutes=5)
    with tracker.as_user("mallory"):  # on the board, each webhook event lost
        tracker.update_issue(1, add=["job-match/pending"], remove=["job-match/approved"])
        tracker.update_issue(2, remove=["job-match"])  # no note on #2 yet
        tracker.update_issue(3, state_event="close")  # nor on #3
    changed = fake_time.now.isoformat()
    fake_time.advance(minutes=5)
    calls = tracker.calls
    report = Gate(ctx).reconcile()
    assert [(r.outcome, r.iid, r.after) for r in report.results] == [
        ("reverted", 1, State.APPROVED),
        ("reverted", 2, State.PENDING),
        ("reverted", 3, State.PENDING),
    ]
    assert report.missed_since == changed
    assert report.refused is None and report.sent == {}
    for iid in (1, 2, 3):
        issue = tracker.get_issue(iid)
        assert issue is not None and "job-match" in issue.labels and issue.state == "opened"
    # the listing, then per repaired issue its notes, label events, one update and one
    # note; #4 and #5, pending as staged with no note, cost nothing
    assert tracker.calls - calls == 1 + 3 * 4 + 2  # + the bot's user, the webhook check

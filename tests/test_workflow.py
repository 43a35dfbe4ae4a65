"""The state machine as plain functions: no server."""

from __future__ import annotations

import pytest

from match_staging import record
from match_staging.config import Labels
from match_staging.model import IssueRef, LabelEvent, Note, State
from match_staging.record import state_marker
from match_staging.workflow import (
    TRANSITIONS,
    actor_of,
    approved_at,
    audit,
    decide,
    is_state,
    label_changes,
    moved_to,
    must_close,
    tampered,
)

NAMES = Labels()
P, A, R, S = (f"job-match/{s}" for s in ("pending", "approved", "rejected", "sent"))


@pytest.mark.parametrize(
    ("audited", "labels", "verdict", "after"),
    [
        (State.PENDING, [P], "none", State.PENDING),
        (State.PENDING, [A], "apply", State.APPROVED),
        (State.PENDING, [R], "apply", State.REJECTED),
        (State.APPROVED, [S], "apply", State.SENT),
        (State.PENDING, [S], "revert", State.PENDING),
        (State.APPROVED, [R], "revert", State.APPROVED),
        (State.REJECTED, [P], "revert", State.REJECTED),
        (State.SENT, [A], "revert", State.SENT),
        (State.PENDING, [P, A], "apply", State.APPROVED),  # the sidebar on Free: a move
        (State.APPROVED, [A, S], "apply", State.SENT),
        (State.PENDING, [P, R], "apply", State.REJECTED),
        (State.PENDING, [P, A, R], "revert", State.PENDING),  # two new ones: ambiguous
        (State.PENDING, [A, R], "revert", State.PENDING),
        (State.APPROVED, [A, R], "revert", State.APPROVED),  # approved -> rejected: no
        (State.PENDING, [P, S], "revert", State.PENDING),
        (State.PENDING, [], "revert", State.PENDING),
        (None, [A], "apply", State.APPROVED),  # no marker yet: staged issues start pending
    ],
)
def test_transitions(audited: State | None, labels: list[str], verdict: str, after: State) -> None:
    decision = decide(NAMES, ["job-match", *labels], audited, "reviewer", authorised=True)
    assert (decision.verdict, decision.after) == (verdict, after)


def test_an_unauthorised_actor_is_reverted_even_for_a_valid_transition() -> None:
    decision = decide(NAMES, [A], State.PENDING, "mallory", authorised=False)
    assert decision.verdict == "revert" and decision.after == State.PENDING
    assert decision.reason.startswith("mallory may not review")


def test_label_changes_leave_exactly_one_state_label() -> None:
    assert label_changes(NAMES, ["job-match", P, A], State.PENDING) == ([], [A])
    assert label_changes(NAMES, ["job-match"], State.PENDING) == ([P], [])
    assert label_changes(NAMES, ["job-match", A], State.SENT) == ([S], [A])


def _note(n: int, author: str, body: str, system: bool = False) -> Note:
    return Note(id=n, author=author, body=body, system=system, created_at=f"2026-02-08T10:0{n}Z")


STAGED = "<!-- match-staging v1 keys: msk-1 -->\n" + state_marker(State.PENDING) + "\n## Match"
ISSUE = IssueRef(
    iid=1, title="t", web_url="", labels=(), state="opened", description=STAGED, author="bot"
)


def test_the_audited_state_is_the_newest_marker_in_a_note_by_the_bot() -> None:
    assert audit(ISSUE, [], "bot").state == State.PENDING  # as staged
    approved = _note(1, "bot", "**Review:** …\n\n" + state_marker(State.APPROVED))
    trail = audit(ISSUE, [approved], "bot")
    assert (trail.state, trail.trusted, trail.sending) == (State.APPROVED, True, None)
    # a perfect copy of a marker in anybody else's note, or a quoted one, counts for nothing
    copy = _note(2, "mallory", "**Review:** …\n\n" + state_marker(State.SENT))
    quoted = _note(3, "bot", state_marker(State.SENT) + "\n\nsomething after it")
    assert audit(ISSUE, [approved, copy, quoted], "bot").state == State.APPROVED
    sending = _note(4, "bot", "**Sending:**\n\n" + record.sending_marker("2026-02-08T10:04Z"))
    assert audit(ISSUE, [approved, sending], "bot").sending == record.SendingMark(
        "2026-02-08T10:04Z"
    )
    settled = _note(5, "bot", "**Not sent:**\n\n" + state_marker(State.APPROVED))
    assert audit(ISSUE, [approved, sending, settled], "bot").sending is None


def test_an_edited_description_is_not_trusted_and_its_marker_not_read() -> None:
    legacy = IssueRef(
        iid=1,
        title="t",
        web_url="",
        labels=(),
        state="opened",
        author="bot",
        description=STAGED.replace("state: pending", "state: approved"),
    )
    assert audit(legacy, [], "bot").state == State.APPROVED  # staged by 0.x, untouched
    edit = _note(1, "mallory", "changed the description", system=True)
    trail = audit(legacy, [edit], "bot")
    assert (trail.state, trail.trusted) == (State.PENDING, False)
    assert trail.distrust == "mallory changed the description of #1 at 2026-02-08T10:01Z"
    tasks = _note(2, "mallory", "marked the checklist item **x** as completed", system=True)
    assert not audit(legacy, [tasks], "bot").trusted  # an edit that also ticked a box
    own = _note(3, "bot", "changed the description", system=True)  # 0.x's state updates
    assert audit(legacy, [own], "bot").trusted
    theirs = IssueRef(
        iid=1,
        title="t",
        web_url="",
        labels=(),
        state="opened",
        description=legacy.description,
        author="mallory",
    )
    assert audit(theirs, [], "bot").state == State.PENDING
    assert not audit(theirs, [], "bot").trusted


def test_the_actor_is_who_added_the_new_state_label() -> None:
    events = [LabelEvent("reviewer", 2, A, "add", "1"), LabelEvent("mallory", 3, P, "remove", "2")]
    assert actor_of(NAMES, events, State.APPROVED) == events[0]
    assert actor_of(NAMES, events, None) == events[1]
    assert actor_of(NAMES, [], State.APPROVED) is None
    assert actor_of(NAMES, events, State.SENT) is None  # nobody added it: nobody is credited


def test_the_record_codec_round_trip() -> None:
    from match_staging.model import Match

    match = Match(
        score=91.5,
        title="T",
        provider="P",
        url="https://x.example/1",
        source="s",
        position=1,
        keys=("k",),
        draft="Hallo",
        attachments=("cv/a.pdf",),
        apply={"email": "a@b.example", "subject": "S"},
    )
    found = record.decode_record("x\n" + str(record.record_marker(match)) + "\ny")
    assert found == record.MatchRecord(
        score=91.5,
        title="T",
        provider="P",
        source_url="https://x.example/1",
        draft="Hallo",
        apply=record.ApplyTo(email="a@b.example", subject="S"),
        attachments=("cv/a.pdf",),
    )
    assert record.decode_record("> " + str(record.record_marker(match))) is None
    assert record.description_state("<!-- match-staging v1 state: bogus -->") is None
    assert record.parse_note("x\n" + record.state_marker(State.SENT)) == record.StateMark(
        State.SENT
    )


def test_a_send_the_previous_release_started_still_blocks_a_second_one() -> None:
    marked = (
        STAGED.replace("state: pending", "state: approved")
        + "\n"
        + record.sending_marker("2026-02-08T13:00Z")
    )
    legacy = IssueRef(
        iid=1, title="t", web_url="", labels=(), state="opened", author="bot", description=marked
    )
    assert audit(legacy, [], "bot").sending == record.SendingMark("2026-02-08T13:00Z")
    edit = _note(1, "mallory", "changed the description", system=True)
    assert audit(legacy, [edit], "bot").sending is None  # untrusted: and nothing is sent


@pytest.mark.parametrize(
    ("labels", "state", "audited", "says"),
    [
        (("job-match", "job-match/pending"), "opened", State.PENDING, ""),
        (("job-match", "job-match/pending"), "closed", State.PENDING, "closed by mallory"),
        (("job-match/pending",), "opened", State.PENDING, "the job-match label was removed"),
        (("job-match", "job-match/rejected"), "opened", State.REJECTED, "reopened while"),
        (("job-match", "job-match/rejected"), "closed", State.REJECTED, ""),
        (("job-match", "job-match/approved"), "closed", State.APPROVED, "closed by mallory"),
    ],
)
def test_closing_reopening_and_unlabelling_are_moves_too(
    labels: tuple[str, ...], state: str, audited: State, says: str
) -> None:
    issue = IssueRef(1, "t", "u", labels, state, closed_by="mallory" if state == "closed" else "")
    found = tampered(Labels(), issue, audited, close_rejected=True, close_sent=True)
    assert (says in found) if says else found == ""


# The gate, exhaustively (issue 26): every audited state x every state label a member can
# set, alone or beside the audited one (the sidebar on Free), by an authorised reviewer and
# by anybody else. Only these moves exist; everything else goes back, with one reason.
MOVES = {
    (State.PENDING, State.APPROVED),
    (State.PENDING, State.REJECTED),
    (State.APPROVED, State.SENT),
    # after the gate (issue 23): revive, and what came of a sent application
    (State.EXPIRED, State.PENDING),
    (State.SENT, State.INTERVIEW),
    (State.SENT, State.OFFER),
    (State.SENT, State.DECLINED),
    (State.INTERVIEW, State.OFFER),
    (State.INTERVIEW, State.DECLINED),
    (State.GHOSTED, State.INTERVIEW),
    (State.GHOSTED, State.OFFER),
    (State.GHOSTED, State.DECLINED),
}
LABEL = {s: f"job-match/{s.value}" for s in State}
PAIRS = [(before, after) for before in State for after in State]


@pytest.mark.parametrize(("before", "after"), PAIRS)
@pytest.mark.parametrize("beside", [False, True], ids=["moved", "added beside"])
@pytest.mark.parametrize("authorised", [True, False], ids=["reviewer", "not a reviewer"])
def test_every_pair_of_states_by_every_kind_of_actor(
    before: State, after: State, beside: bool, authorised: bool
) -> None:
    labels = ["job-match", LABEL[after]] + ([LABEL[before]] if beside else [])
    decision = decide(NAMES, labels, before, "ann", authorised, refusal="ann is not listed")
    assert decision.before == before
    if before == after:
        assert (decision.verdict, decision.after) == ("none", before)
        assert decision.reason == f"already {before.value}: nothing to do"
    elif not authorised:
        assert (decision.verdict, decision.after) == ("revert", before)
        assert decision.reason == f"ann is not listed: back to {before.value}"
    elif (before, after) in MOVES:
        assert (decision.verdict, decision.after) == ("apply", after)
        assert decision.reason == f"{before.value} -> {after.value}"
    else:
        assert (decision.verdict, decision.after) == ("revert", before)
        assert decision.reason == (
            f"{before.value} -> {after.value} is not a transition: back to {before.value}"
        )
    # what the tool then leaves on the issue: exactly the state label it ends in
    add, remove = label_changes(NAMES, labels, decision.after)
    assert sorted(set(labels) - set(remove) | set(add)) == sorted(
        {"job-match", LABEL[decision.after]}
    )


def test_the_transition_table_is_exactly_the_documented_one() -> None:
    assert set(TRANSITIONS) == MOVES


@pytest.mark.parametrize("audited", list(State))
def test_no_state_label_or_two_new_ones_go_back_to_the_audited_state(audited: State) -> None:
    gone = decide(NAMES, ["job-match"], audited, "ann", authorised=True)
    assert (gone.verdict, gone.after) == ("revert", audited)
    assert gone.reason == f"no state label: back to {audited.value}"
    others = [s for s in State if s != audited]
    two = decide(NAMES, [LABEL[s] for s in others[:2]], audited, "ann", authorised=True)
    assert (two.verdict, two.after) == ("revert", audited)
    assert two.reason == (
        f"two new state labels at once ({others[0].value}, {others[1].value}): "
        f"back to {audited.value}"
    )


def test_the_default_refusal_names_the_actor_and_the_setting() -> None:
    decision = decide(NAMES, [A], State.PENDING, "mallory", authorised=False)
    assert decision.reason == (
        "mallory may not review job matches (workflow.reviewers): back to pending"
    )


def test_moved_to_is_the_one_new_state_label_only() -> None:
    assert moved_to(NAMES, [P, A], State.PENDING) == State.APPROVED
    assert moved_to(NAMES, [A], State.PENDING) == State.APPROVED
    assert moved_to(NAMES, [P], State.PENDING) is None
    assert moved_to(NAMES, [A, R], State.PENDING) is None
    assert moved_to(NAMES, [], State.PENDING) is None


# Labels known by id (issue 20): an event names a label by its *current* name; the id stays.
IDS = {State.PENDING: 1, State.APPROVED: 2, State.REJECTED: 3, State.SENT: 4}


def _event(user: str, label: str, action: str = "add", label_id: int = 0) -> LabelEvent:
    return LabelEvent(user, 7, label, action, "t", label_id)  # type: ignore[arg-type]


def test_is_state_by_id_when_known_else_by_name() -> None:
    renamed = _event("ann", "approved-ish", label_id=2)  # the approved label, renamed
    impostor = _event("mallory", A, label_id=9)  # another label renamed to approved's name
    assert is_state(NAMES, renamed, State.APPROVED, IDS)
    assert not is_state(NAMES, impostor, State.APPROVED, IDS)
    assert not is_state(NAMES, renamed, State.PENDING, IDS)
    assert is_state(NAMES, impostor, State.APPROVED)  # no recorded ids: the name decides
    assert is_state(NAMES, _event("ann", A), State.APPROVED, IDS)  # no id from the tracker
    assert not is_state(NAMES, _event("ann", P), State.APPROVED, IDS)


def test_the_actor_by_label_id_and_the_last_of_several() -> None:
    events = [
        _event("ann", "approved-ish", label_id=2),
        _event("mallory", A, label_id=9),  # not the approved label, whatever its name
        _event("ben", "job-match", label_id=8),  # not a state label
    ]
    assert actor_of(NAMES, events, State.APPROVED, IDS) == events[0]
    assert actor_of(NAMES, events, None, IDS) == events[0]
    assert actor_of(NAMES, events, State.APPROVED) == events[1]  # by name: mallory
    several = [_event("a", P), _event("b", A, "remove"), _event("c", R), _event("d", "x")]
    assert actor_of(NAMES, several, None) == several[2]  # the last state change, not the 2nd
    assert actor_of(NAMES, several, State.REJECTED) == several[2]
    assert actor_of(NAMES, [_event("d", "x")], None) is None
    assert actor_of(NAMES, [], None) is None


def test_approved_at_is_the_bots_first_approval_only() -> None:
    approved = "**Review:** …\n\n" + state_marker(State.APPROVED)
    notes = [
        _note(1, "mallory", approved),  # somebody else's copy
        _note(2, "bot", approved, system=True),  # a system note is never the bot's record
        _note(3, "bot", "**Review:** …\n\n" + state_marker(State.PENDING)),
        _note(4, "bot", approved),
        _note(5, "bot", approved),
    ]
    assert approved_at(notes, "bot") == "2026-02-08T10:04Z"
    assert approved_at(notes[:4], "mallory") == "2026-02-08T10:01Z"
    assert approved_at(notes[:3], "bot") is None


@pytest.mark.parametrize(
    ("labels", "state", "audited", "rejected", "sent", "says"),
    [
        ((), "closed", State.APPROVED, True, True, "closed while approved (move the card"),
        (("job-match",), "opened", State.SENT, True, True, "reopened while sent (move the"),
        (("job-match",), "opened", State.SENT, True, False, ""),  # close_sent off
        (("job-match",), "opened", State.REJECTED, False, True, ""),  # close_rejected off
        (("job-match",), "closed", State.SENT, False, False, ""),  # closed by hand: fine
    ],
)
def test_tampered_says_exactly_what_changed(
    labels: tuple[str, ...],
    state: str,
    audited: State,
    rejected: bool,
    sent: bool,
    says: str,
) -> None:
    issue = IssueRef(1, "t", "u", labels, state)  # closed, GitLab not saying by whom
    found = tampered(NAMES, issue, audited, rejected, sent)
    if not labels:
        assert found == (
            "the job-match label was removed (it marks a staged match); "
            "closed while approved (move the card instead)"
        )
    else:
        assert found.startswith(says) if says else found == ""


@pytest.mark.parametrize("state", list(State))
def test_must_close(state: State) -> None:
    # close_sent covers what came of a sent application, but an interview under way
    after_sent = (State.SENT, State.OFFER, State.DECLINED, State.GHOSTED)
    assert must_close(state, True, True) is (state in (State.REJECTED, *after_sent, State.EXPIRED))
    assert must_close(state, False, True) is (state in (*after_sent, State.EXPIRED))
    assert must_close(state, True, False) is (state in (State.REJECTED, State.EXPIRED))
    assert must_close(state, False, False, False) is False
    assert must_close(state, False, False, True) is (state == State.EXPIRED)

"""The review gate against the fake GitLab, with payloads shaped like GitLab's Issue Hook."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gitlab
import pytest

from match_staging import record, render, workflow
from match_staging.config import (
    Channels,
    Config,
    GitLabSettings,
    Notification,
    TodoAssignee,
    Workflow,
)
from match_staging.context import Context, Pipeline
from match_staging.errors import ConfigError, InputError
from match_staging.identity import check_reviewers, is_reviewer
from match_staging.labels import state_label, states_in
from match_staging.model import IssueDraft, IssueRef, LabelEvent, Note, State
from match_staging.usecases import gate as the_gate
from match_staging.usecases.gate import ReconcileReport, StepResult, missed_events_notice, refusal
from match_staging.usecases.review import Event, parse_event, webhook_event
from tests.fakes.memory_tracker import MemoryTracker
from tests.gate import (
    BOT,
    FIXTURES,
    MALLORY,
    REVIEWER,
    Gate,
    Staged,
    hook,
    label_objects,
    staged_once,
)


def settle(ctx: Context, issue: IssueRef, *, reconciled: bool = False) -> StepResult:
    """The gate's decision on one issue (`usecases/gate.Gate.settle`)."""
    return the_gate.Gate(ctx).settle(issue, reconciled=reconciled)


def transition(ctx: Context, payload: Any) -> StepResult:
    """One webhook event's step, without its auto-send (`Gate.transition`)."""
    event = parse_event(payload, ctx.cfg)
    if isinstance(event, str):
        return StepResult("ignored", event)
    return the_gate.Gate(ctx).transition(event).step


def review(ctx: Context, iid: int, target: State, actor: str, reason: str) -> StepResult:
    """The reviewer's step from the shell, without its auto-send (`Gate.review`)."""
    return the_gate.Gate(ctx).review(iid, target, actor, reason).step


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Staged]:
    with staged_once(tmp_path_factory.mktemp("staged"), ("stage",)) as world:
        yield world


@pytest.fixture
def gate(staged: Staged, repo: Path, capsys: pytest.CaptureFixture[str]) -> Gate:
    """The five matches of matches-inbox/ staged (once per module: `staged_once`)."""
    return staged.gate(repo, capsys)


def test_authorised_approval_is_applied_with_an_audit_note(gate: Gate) -> None:
    event = gate.move(1, REVIEWER, add="job-match/approved", remove="job-match/pending")
    gate.fake.reset_log()
    code, out = gate.run("transition", "--payload", gate.payload(event))
    assert code == 0
    # the user (once per run), the issue, its notes, its label events, one note: the labels
    # are already as they should be, so no update (and no description write, no pipeline)
    assert "applied   #1: pending -> approved · 5 GitLab requests" in out
    assert [r.method for r in gate.fake.requests] == ["GET"] * 4 + ["POST"]
    assert gate.labels(1) == ["job-match/approved"]
    assert "state: approved" not in gate.fake.issues[1]["description"]
    (note,) = gate.notes(1)
    assert note.startswith("**Review:** pending → **approved** by reviewer")
    assert note.endswith("\n<!-- match-staging v1 state: approved -->")
    assert "- When: 2026-02-08 14:30 CET" in note
    assert "[pipeline 77](<https://gl.example/p/-/pipelines/77>)" in note
    assert gate.fake.issues[1]["state"] == "opened"

    # the same event again (a replay, or GitLab's retry) changes nothing
    gate.fake.reset_log()
    code, out = gate.run("transition", "--payload", gate.payload(event))
    assert code == 0 and "unchanged #1: already approved: nothing to do · 3 GitLab" in out
    assert len(gate.notes(1)) == 1
    assert [r.method for r in gate.fake.requests] == ["GET"] * 3


def test_rejection_closes_the_issue(gate: Gate) -> None:
    event = gate.move(2, REVIEWER, add="job-match/rejected", remove="job-match/pending")
    code, out = gate.run("transition", "--payload", gate.payload(event))
    assert code == 0, out
    assert gate.labels(2) == ["job-match/rejected"]
    assert gate.fake.issues[2]["state"] == "closed"


def test_unauthorised_change_is_reverted_with_a_reason(gate: Gate) -> None:
    event = gate.move(1, MALLORY, add="job-match/approved", remove="job-match/pending")
    code, out = gate.run("transition", "--payload", gate.payload(event))
    assert code == 0
    assert "reverted  #1: mallory may not review job matches" in out
    assert gate.labels(1) == ["job-match/pending"]
    assert gate.notes(1)[0].startswith(
        "**Reverted:** mallory may not review job matches (workflow.reviewers): back to pending"
    )
    assert gate.fake.issues[1].get("_mentions") in (None, [])  # the note mentions nobody


@pytest.mark.parametrize(
    ("add", "remove", "reason"),
    [
        ("job-match/sent", "job-match/pending", "pending -> sent is not a transition"),
        (
            "job-match/approved,job-match/rejected",
            "",
            "two new state labels at once (approved, rejected)",
        ),
        ("", "job-match/pending", "no state label"),
    ],
)
def test_invalid_changes_are_reverted(gate: Gate, add: str, remove: str, reason: str) -> None:
    event = gate.move(3, REVIEWER, add=add, remove=remove)
    code, out = gate.run("transition", "--payload", gate.payload(event))
    assert code == 0
    assert f"reverted  #3: {reason}: back to pending" in out
    assert gate.labels(3) == ["job-match/pending"]


def test_approved_then_sent_on_the_board_is_a_transition(gate: Gate) -> None:
    gate.run(
        "transition",
        "--payload",
        gate.payload(gate.move(4, REVIEWER, add="job-match/approved", remove="job-match/pending")),
    )
    event = gate.move(4, REVIEWER, add="job-match/sent", remove="job-match/approved")
    code, out = gate.run("transition", "--payload", gate.payload(event))
    assert code == 0
    assert "applied   #4: approved -> sent" in out
    assert gate.fake.issues[4]["state"] == "closed"


def test_events_that_are_not_ours_end_quietly_without_requests(gate: Gate) -> None:
    note_event = json.loads((FIXTURES / "note_hook_issue_example.json").read_text())
    own = gate.move(1, BOT, add="job-match/approved", remove="job-match/pending")
    other = hook(
        gate.fake, gate.fake.add_issue("Printer broken", labels=["bug"])["iid"], REVIEWER, []
    )
    cases = {
        "a note event: only issue events change a match's state": note_event,
        "issue #1: the tool's own change": own,
        "is not a job match": other,
        "the payload is not a JSON object": [1, 2],
        "no object_kind: not a GitLab webhook payload": {"hello": "world"},
        "the issue event has no usable iid or user.username": {
            "object_kind": "issue",
            "user": {"username": 5},
            "object_attributes": {"iid": "1"},
        },
        "the issue event has no object_attributes or user": {"object_kind": "issue"},
        "no label change in this event": {**own, "changes": {"title": {}}},
        # tasks and other work items (GitLab 17.2+: object_attributes.type)
        "a work item of type Task, never a job match": {
            **own,
            "object_attributes": {**own["object_attributes"], "type": "Task"},
        },
        "a work_item event: only issue events": {**own, "object_kind": "work_item"},
    }
    for reason, payload in cases.items():
        gate.fake.reset_log()
        code, out = gate.run("transition", "--payload", gate.payload(payload))
        assert code == 0, out
        assert out.startswith("ignored   ") and reason in out, out
        assert gate.fake.requests == [], reason
    assert gate.run("transition", "--payload", gate.payload({}))[0] == 0
    (gate.repo / "garbage.json").write_bytes(b"\xff{")
    assert gate.run("transition", "--payload", str(gate.repo / "garbage.json"))[0] == 0


def test_forged_actor_cannot_approve_what_gitlab_does_not_show(gate: Gate) -> None:
    forged = hook(gate.fake, 1, REVIEWER, ["job-match", "job-match/pending"])
    forged["changes"]["labels"]["current"] = label_objects(["job-match", "job-match/approved"])
    code, out = gate.run("transition", "--payload", gate.payload(forged))
    assert code == 0 and "unchanged #1: already pending" in out
    assert gate.labels(1) == ["job-match/pending"] and gate.notes(1) == []


def test_transition_without_a_payload_is_a_usage_error(gate: Gate) -> None:
    code, out = gate.run("transition")
    assert code == 2 and "no payload" in out


def test_gitlab_unreachable_exits_1(gate: Gate) -> None:
    event = gate.move(1, REVIEWER, add="job-match/approved", remove="job-match/pending")
    gate.fake.fail_next("GET", r"/issues/1$", status=503)
    code, out = gate.run("transition", "--payload", gate.payload(event))
    assert code == 1 and "GitLab could not read an issue: 503" in out


def approve(gate: Gate, iid: int) -> None:
    code, out = gate.run(
        "transition",
        "--payload",
        gate.payload(
            gate.move(iid, REVIEWER, add="job-match/approved", remove="job-match/pending")
        ),
    )
    assert code == 0, out


def test_send_emails_the_application_once_then_marks_it_sent(gate: Gate) -> None:
    approve(gate, 1)  # Cloud Architect: apply by email, one attachment
    code, out = gate.run("send", "1")
    assert code == 0, out
    assert "sent      #1: application sent to projekte@amoriabond.example" in out
    (mail,) = gate.smtp.messages
    assert mail["To"] == "projekte@amoriabond.example"
    assert mail["Subject"] == "Cloud Architect – Wolfram Laube"
    body = mail.get_body(("plain",))
    assert body is not None
    assert "Sehr geehrte Damen und Herren," in str(body.get_content())
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_filename() == "Profil_Laube_w_Summary_DE.pdf"
    assert attachment.get_content().startswith(b"%PDF")
    assert gate.labels(1) == ["job-match/sent"]
    assert gate.fake.issues[1]["state"] == "closed"
    assert (
        "**Sent:** the application went to projekte@amoriabond.example by smtp" in gate.notes(1)[-1]
    )

    code, out = gate.run("send", "1")
    assert code == 2 and "is sent: only approved matches are sent" in out
    assert len(gate.smtp.messages) == 1


def test_nothing_is_sent_from_pending(gate: Gate) -> None:
    code, out = gate.run("send", "1")
    assert code == 2 and "#1: is pending: only approved matches are sent" in out
    assert gate.smtp.messages == []


def test_send_without_an_address_points_to_the_portal(gate: Gate) -> None:
    approve(gate, 3)  # DevOps Engineer GCP: no apply address
    code, out = gate.run("send", "3")
    assert code == 0
    assert (
        "portal    #3 has no application address: apply on the portal "
        "(https://jobs.c4-energy.example/devops-gcp)" in out
    )
    assert gate.smtp.messages == [] and gate.labels(3) == ["job-match/approved"]


def test_a_send_that_may_have_gone_out_is_not_repeated(gate: Gate) -> None:
    approve(gate, 1)
    gate.smtp.fail_next = 1
    code, out = gate.run("send", "1")
    assert code == 1 and "451" in out
    assert gate.labels(1) == ["job-match/approved"]
    # a run that died after handing the email over leaves the mark behind
    assert gate.notes(1)[-1].startswith("**Not sent:** ")
    gate.note(1, "bot", "**Sending:** …\n\n<!-- match-staging v1 sending: 2026-02-08T13:00Z -->")
    code, out = gate.run("send", "1")
    assert code == 2 and "a send started at 2026-02-08T13:00Z and may have gone out" in out
    assert gate.smtp.messages == []
    assert gate.run("send", "1", "--force")[0] == 0
    assert len(gate.smtp.messages) == 1
    assert "sending" not in gate.fake.issues[1]["description"]
    # the tool never wrote a description: every description update would start a pipeline
    assert not [
        r for r in gate.fake.requests if r.method == "PUT" and "description" in (r.json or {})
    ]


def test_auto_send_on_approval(gate: Gate) -> None:
    event = gate.move(1, REVIEWER, add="job-match/approved", remove="job-match/pending")
    code, out = gate.run(
        "transition", "--payload", gate.payload(event), MATCH_STAGING__WORKFLOW__AUTO_SEND="true"
    )
    assert code == 0, out
    assert len(gate.smtp.messages) == 1 and gate.labels(1) == ["job-match/sent"]


def test_an_approval_auto_sent_reads_the_issue_its_notes_and_label_events_once(
    gate: Gate,
) -> None:
    event = gate.move(1, REVIEWER, add="job-match/approved", remove="job-match/pending")
    gate.fake.reset_log()
    code, out = gate.run(
        "transition", "--payload", gate.payload(event), MATCH_STAGING__WORKFLOW__AUTO_SEND="true"
    )
    assert code == 0, out
    # the step's line counts the step's requests; the send follows on its own line
    assert "applied   #1: pending -> approved · 5 GitLab requests" in out
    assert "sent      #1: application sent to " in out
    # the user, the issue, its notes, its label events, the approval's note; then the
    # "sending" note, the move to sent, the Sent note: the gate judged the approval in this
    # run, so the send reads nothing again (issue 21)
    assert [r.method for r in gate.fake.requests] == ["GET"] * 4 + ["POST", "POST", "PUT", "POST"]
    assert len(gate.smtp.messages) == 1 and gate.labels(1) == ["job-match/sent"]
    assert gate.notes(1)[-1].endswith("<!-- match-staging v1 state: sent -->")


def test_the_repair_auto_sends_an_approval_without_reading_the_issue_again(gate: Gate) -> None:
    gate.move(1, REVIEWER, add="job-match/approved", remove="job-match/pending")
    gate.fake.reset_log()
    code, out = gate.run("digest", MATCH_STAGING__WORKFLOW__AUTO_SEND="true")
    assert code == 0, out
    assert "applied   #1: pending -> approved (missed by the webhook)\nsent      #1: " in out
    assert len(gate.smtp.messages) == 1 and gate.labels(1) == ["job-match/sent"]
    # the repair read #1's notes and label events; the auto-send after it reads neither
    assert gate.fake.count("GET", r"/issues/1/notes$") == 1
    assert gate.fake.count("GET", r"/issues/1/resource_label_events$") == 1
    assert gate.fake.count("GET", r"/issues/1$") == 0


def test_review_from_the_shell(gate: Gate) -> None:
    code, out = gate.run(
        "review", "5", "--reject", "--reason", "80% on site: too far", GITLAB_USER_LOGIN="reviewer"
    )
    assert code == 0 and "applied   #5: pending -> rejected" in out
    assert gate.labels(5) == ["job-match/rejected"]
    assert "> 80% on site: too far" in gate.notes(5)[0]
    code, out = gate.run("review", "5", "--approve")
    assert code == 2 and "is rejected, not pending" in out


def test_digest_repairs_events_the_webhook_never_delivered(gate: Gate) -> None:
    gate.move(1, REVIEWER, add="job-match/approved", remove="job-match/pending")
    gate.move(2, MALLORY, add="job-match/rejected", remove="job-match/pending")
    code, out = gate.run("digest")
    assert code == 0, out
    assert "applied   #1: pending -> approved (missed by the webhook)" in out
    assert "reverted  #2: mallory may not review job matches" in out
    assert gate.labels(1) == ["job-match/approved"] and gate.labels(2) == ["job-match/pending"]
    assert "The webhook never delivered this change" in gate.notes(1)[0]
    code, out = gate.run("digest")
    assert "missed by the webhook" not in out


def test_digest_reports_a_disabled_webhook(gate: Gate) -> None:
    gate.fake.hooks.append(
        {
            "id": 9,
            "url": f"{gate.fake.url}/api/v4/projects/1/ref/main/"
            "trigger/pipeline?token=CANARY-TRIGGER",
            "issues_events": True,
            "alert_status": "temporarily_disabled",
            "disabled_until": "2026-02-08T15:00:00Z",
        }
    )
    code, out = gate.run("digest")
    assert code == 1
    assert (
        "webhook   the issue webhook to " in out
        and "is temporarily disabled until 2026-02-08T15:00:00Z" in out
    )
    assert "CANARY-TRIGGER" not in out


def test_rate_limited_note_is_waited_out(gate: Gate) -> None:
    event = gate.move(1, REVIEWER, add="job-match/approved", remove="job-match/pending")
    gate.fake.fail_next("POST", r"/issues/1/notes$", status=429, retry_after=1)
    code, out = gate.run("transition", "--payload", gate.payload(event))
    assert code == 0, out
    assert len(gate.notes(1)) == 1


def test_an_event_is_never_credited_with_a_change_it_did_not_make(gate: Gate) -> None:
    gate.move(1, MALLORY, add="job-match/approved", remove="job-match/pending")  # event lost
    gate.fake.add_label("priority")
    unrelated = gate.move(1, REVIEWER, add="priority")  # the reviewer's own event is harmless
    code, out = gate.run("transition", "--payload", gate.payload(unrelated))
    assert code == 0
    assert "reverted  #1: mallory may not review job matches" in out
    assert gate.labels(1) == ["job-match/pending"]


def test_a_queued_unauthorised_event_does_not_undo_an_approval(gate: Gate) -> None:
    approval = gate.move(2, REVIEWER, add="job-match/approved", remove="job-match/pending")
    gate.fake.add_label("priority")
    meddling = gate.move(2, MALLORY, add="priority")  # handled first: the jobs raced
    code, out = gate.run("transition", "--payload", gate.payload(meddling))
    assert code == 0 and "applied   #2: pending -> approved" in out
    assert "by reviewer" in gate.notes(2)[0]
    code, out = gate.run("transition", "--payload", gate.payload(approval))
    assert "unchanged #2: already approved" in out
    assert gate.labels(2) == ["job-match/approved"] and len(gate.notes(2)) == 1


def test_digest_with_a_developer_token_cannot_read_hooks_and_carries_on(gate: Gate) -> None:
    gate.move(1, REVIEWER, add="job-match/approved", remove="job-match/pending")
    gate.fake.fail_next("GET", r"/hooks$", status=403)  # GET hooks needs Maintainer
    code, out = gate.run("digest")
    assert code == 0, out
    assert "applied   #1: pending -> approved (missed by the webhook)" in out


# ------------------------------------------- issue 10: nothing a member can edit decides

ATTACKER = "loot@attacker.example"


def tampered(description: str, **apply: Any) -> str:
    """The description with its match record rewritten as a Reporter could."""
    lines = description.split("\n")
    for n, line in enumerate(lines):
        if line.startswith("<!-- match-staging v1 notice: "):
            data = json.loads(base64.b64decode(line.split(": ", 1)[1].removesuffix(" -->")))
            data["apply"] = {**data.get("apply", {}), **apply}
            data["attachments"] = [*data.get("attachments", []), "config/notification-channels.yml"]
            encoded = base64.b64encode(json.dumps(data).encode()).decode()
            lines[n] = f"<!-- match-staging v1 notice: {encoded} -->"
    return "\n".join(lines).replace("projekte@amoriabond.example", ATTACKER)


def test_a_forged_payload_after_a_non_reviewers_move_is_reverted_naming_the_real_actor(
    gate: Gate,
) -> None:
    event = gate.move(1, MALLORY, add="job-match/approved", remove="job-match/pending")
    event["user"].update(id=REVIEWER, username="reviewer", name="Rita Reviewer")  # forged
    code, out = gate.run("transition", "--payload", gate.payload(event))
    assert code == 0
    assert "reverted  #1: mallory may not review job matches" in out
    assert gate.labels(1) == ["job-match/pending"]
    (note,) = gate.notes(1)
    assert "mallory may not review" in note and "reviewer" not in note.replace(
        "may not review", ""
    ).replace("workflow.reviewers", "")
    code, out = gate.run("send", "1")
    assert code == 2 and gate.smtp.messages == []


def test_with_no_reviewers_listed_a_forged_user_id_gets_nothing(gate: Gate) -> None:
    only_the_assignee = {
        "MATCH_STAGING__WORKFLOW__REVIEWERS": "[]",
        "MATCH_STAGING__NOTIFICATION__CHANNELS__GITLAB_TODO__ASSIGNEE_ID": str(REVIEWER),
    }
    event = gate.move(1, MALLORY, add="job-match/approved", remove="job-match/pending")
    event["user"]["id"] = REVIEWER  # the assignee's id, mallory's name
    code, out = gate.run("transition", "--payload", gate.payload(event), **only_the_assignee)
    assert code == 0 and "reverted  #1: mallory may not review" in out
    assert gate.labels(1) == ["job-match/pending"]
    # the assignee's own move is applied: the id comes from GitLab's label events
    event = gate.move(2, REVIEWER, add="job-match/approved", remove="job-match/pending")
    event["user"].update(id=MALLORY, username="mallory")
    code, out = gate.run("transition", "--payload", gate.payload(event), **only_the_assignee)
    assert code == 0 and "applied   #2: pending -> approved" in out
    assert "by reviewer" in gate.notes(2)[0]


def test_a_reporter_who_edits_the_state_marker_changes_nothing(gate: Gate) -> None:
    description = gate.fake.issues[1]["description"]
    gate.edit(1, "mallory", description.replace("state: pending", "state: approved"))
    code, out = gate.run(
        "transition",
        "--payload",
        gate.payload(gate.move(1, MALLORY, add="job-match/approved", remove="job-match/pending")),
    )
    assert (
        code == 0
        and "reverted  #1: mallory may not review job matches (workflow.reviewers): back to pending"
        in out
    )
    code, out = gate.run("send", "1")
    assert code == 2 and "is pending: only approved matches are sent" in out
    assert gate.smtp.messages == []


@pytest.mark.parametrize("when", ["before", "after"])
def test_send_refuses_after_a_reporter_edits_the_address_or_attachments(
    gate: Gate, when: str
) -> None:
    if when == "after":
        approve(gate, 1)
    gate.edit(1, "mallory", tampered(gate.fake.issues[1]["description"], email=ATTACKER))
    if when == "before":
        approve(gate, 1)  # the reviewer approves without noticing the edit: the note warns
        assert "⚠️ mallory changed the description of #" in gate.notes(1)[0]
    assert gate.labels(1) == ["job-match/approved"]
    code, out = gate.run("send", "1")
    assert code == 2, out
    assert re.search(
        r"#1: mallory changed the description of #1 at 20\d\d-[-\d]+T[\d:.]+Z: "
        r"nothing sent\. `send` sends only what match-staging staged",
        out,
    ), out
    assert (
        "nothing sent. `send` sends only what match-staging staged, and an edited description "
        "no longer proves what that was; compare the edit in the issue's history, then apply "
        "by hand, or close the issue and stage the match again\n" in out
    ), out
    assert gate.smtp.messages == []
    assert gate.labels(1) == ["job-match/approved"]


def test_a_copied_state_marker_in_a_members_note_changes_nothing(gate: Gate) -> None:
    copy = (
        "**Review:** pending → **approved** by reviewer\n\n"
        "<!-- match-staging v1 state: approved -->"
    )
    gate.note(1, "mallory", copy)
    gate.move(1, MALLORY, add="job-match/approved", remove="job-match/pending")  # event lost
    code, out = gate.run("send", "1")
    assert code == 2 and "approved on the board, but the review pipeline has not recorded" in out
    code, out = gate.run("digest")
    assert "reverted  #1: mallory may not review job matches" in out
    assert gate.labels(1) == ["job-match/pending"] and gate.smtp.messages == []


def test_send_checks_who_added_the_approved_label(gate: Gate) -> None:
    approve(gate, 1)
    # mallory takes the label off and puts it back; both webhook events are lost
    gate.move(1, MALLORY, remove="job-match/approved")
    gate.move(1, MALLORY, add="job-match/approved")
    code, out = gate.run("send", "1")
    assert code == 2
    assert (
        "#1: the approved label was added by mallory, who may not review job matches "
        "(workflow.reviewers): nothing sent" in out
    )
    assert gate.smtp.messages == []


def test_sidebar_approval_leaving_pending_on_is_a_move(gate: Gate) -> None:
    event = gate.move(1, REVIEWER, add="job-match/approved")  # pending stays on
    gate.fake.reset_log()
    code, out = gate.run("transition", "--payload", gate.payload(event))
    assert code == 0 and "applied   #1: pending -> approved" in out
    assert gate.labels(1) == ["job-match/approved"]
    assert [r.method for r in gate.fake.requests] == ["GET"] * 4 + ["PUT", "POST"]
    (put,) = [r for r in gate.fake.requests if r.method == "PUT"]
    assert put.json == {"remove_labels": "job-match/pending"}
    assert gate.notes(1)[0].startswith("**Review:** pending → **approved** by reviewer")
    assert gate.run("send", "1")[0] == 0 and len(gate.smtp.messages) == 1


def test_an_issue_staged_by_the_previous_release_still_works(gate: Gate) -> None:
    # 0.x kept the audited state in the description: the board move, then the bot's update
    # of the description and an audit note without a marker
    gate.move(1, REVIEWER, add="job-match/approved", remove="job-match/pending")
    description = gate.fake.issues[1]["description"]
    gate.edit(1, "bot", description.replace("state: pending", "state: approved"))
    gate.note(1, "bot", "**Review:** pending → **approved** by reviewer")
    code, out = gate.run("send", "1")
    assert code == 0, out
    assert "sent      #1: application sent to projekte@amoriabond.example" in out
    (mail,) = gate.smtp.messages
    assert mail["To"] == "projekte@amoriabond.example"
    assert [a.get_filename() for a in mail.iter_attachments()] == ["Profil_Laube_w_Summary_DE.pdf"]
    assert gate.labels(1) == ["job-match/sent"]


def test_a_legacy_issue_edited_by_a_member_is_not_believed(gate: Gate) -> None:
    gate.move(1, MALLORY, add="job-match/approved", remove="job-match/pending")  # event lost
    description = gate.fake.issues[1]["description"]
    gate.edit(
        1,
        "mallory",
        tampered(description.replace("state: pending", "state: approved"), email=ATTACKER),
    )
    code, out = gate.run("send", "1")
    assert code == 2 and "is approved (approved on the board, but the review pipeline" in out
    code, out = gate.run("digest")
    assert "reverted  #1: mallory may not review job matches" in out
    assert gate.labels(1) == ["job-match/pending"] and gate.smtp.messages == []


def test_a_member_cannot_rewrite_the_bots_audit_note(gate: Gate) -> None:
    event = gate.move(1, MALLORY, add="job-match/approved", remove="job-match/pending")
    gate.run("transition", "--payload", gate.payload(event))  # reverted, noted
    (note,) = gate.fake.user_notes(1)
    client = gitlab.Gitlab(gate.fake.url, private_token=gate.fake.token)
    issue = client.projects.get(1, lazy=True).issues.get(1, lazy=True)
    forged = {"body": "<!-- match-staging v1 state: approved -->"}
    with gate.fake.act_as("mallory"), pytest.raises(gitlab.GitlabUpdateError) as refused:
        issue.notes.update(note["id"], forged)
    assert refused.value.response_code == 403
    gate.move(1, MALLORY, add="job-match/approved", remove="job-match/pending")
    code, _ = gate.run("send", "1")
    assert code == 2 and gate.smtp.messages == []


def test_a_bad_match_staging_now_changes_nothing(gate: Gate) -> None:
    """MATCH_STAGING_NOW is checked before the first write (exit 2), not when the audit
    note is written after the labels already changed."""
    before = gate.labels(1)
    gate.fake.reset_log()
    code, out = gate.run("review", "1", "--reject", MATCH_STAGING_NOW="yesterday")
    assert code == 2 and "MATCH_STAGING_NOW: not an ISO-8601 timestamp" in out
    assert gate.labels(1) == before and gate.notes(1) == []
    assert [r.method for r in gate.fake.requests if r.method != "GET"] == []


# Who may move a card, for every kind of actor (issue 26: with workflow.reviewers set, the
# gitlab_todo assignee who is not in the list could review). Plain data, no server.
ANN, BEN = 11, 12  # the reviewers' user ids bootstrap recorded
ASSIGNEE = 30
LISTED = Config(
    workflow=Workflow(reviewers=["ann", "ben"], reviewer_ids={"ann": ANN}),
    notification=Notification(
        channels=Channels(gitlab_todo=TodoAssignee(enabled=True, assignee_id=ASSIGNEE))
    ),
)
NOBODY_LISTED = Config(
    notification=Notification(
        channels=Channels(gitlab_todo=TodoAssignee(enabled=True, assignee_id=ASSIGNEE))
    ),
)
RENAMED = "user 11 was recorded as the reviewer ann but is called anna now"
TAKEN = "ann is user 99, not user 11 whom bootstrap recorded as the reviewer ann"
SELF = "the state label was added by match-staging itself (bot), not by a reviewer"


@pytest.mark.parametrize(
    ("cfg", "actor", "actor_id", "kind", "why"),
    [
        (LISTED, "ann", ANN, "gitlab", None),  # listed, the id bootstrap recorded
        (LISTED, "ben", BEN, "gitlab", None),  # listed, no id recorded for the name yet
        (LISTED, "ann", 99, "gitlab", TAKEN),  # somebody took a renamed reviewer's name
        (LISTED, "anna", ANN, "gitlab", RENAMED),  # the reviewer renamed: not listed
        (LISTED, "carl", ASSIGNEE, "gitlab", "carl may not review job matches"),  # assignee
        (LISTED, "mallory", 40, "gitlab", "mallory may not review job matches"),
        (LISTED, "bot", 1, "gitlab", SELF),
        (LISTED, "bot", 1, "local", None),  # on the laptop the tool is its one user
        (LISTED, "unknown", 0, "gitlab", "unknown may not review job matches"),
        (NOBODY_LISTED, "carl", ASSIGNEE, "gitlab", None),  # then the assignee, by id
        (NOBODY_LISTED, "carl", 31, "gitlab", "carl may not review job matches"),
        (NOBODY_LISTED, "mallory", 40, "gitlab", "mallory may not review job matches"),
        (NOBODY_LISTED, "bot", 1, "gitlab", SELF),
        (NOBODY_LISTED, "unknown", 0, "gitlab", "unknown may not review job matches"),
    ],
)
def test_who_may_review_every_kind_of_actor(
    cfg: Config,
    actor: str,
    actor_id: int,
    kind: str,
    why: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tracker = MemoryTracker()
    monkeypatch.setattr(tracker, "kind", kind)
    found = refusal(Context(cfg, tracker), actor, actor_id)
    if why is None:
        assert found is None
    else:
        assert found is not None and found.startswith(why), found
    listed = actor in cfg.workflow.reviewers and not found
    assigned = not cfg.workflow.reviewers and actor_id == ASSIGNEE
    assert is_reviewer(cfg, actor, actor_id) is (listed or assigned)


def test_nobody_may_review_is_a_config_error_before_any_change() -> None:
    with pytest.raises(ConfigError, match="nobody may review job matches"):
        is_reviewer(Config(), "ann", ANN)
    with pytest.raises(ConfigError, match="nobody may review job matches"):
        check_reviewers(Config())
    check_reviewers(LISTED)
    check_reviewers(NOBODY_LISTED)


# --- the gate end to end on the in-memory tracker: every pair of states x every kind of
# actor (issue 26). What the issue ends as: labels, open or closed, one note by the bot.

MOVES = workflow.TRANSITIONS  # every move a reviewer makes (tests/test_workflow.py lists them)
GATE = Config(workflow=Workflow(reviewers=["ann"]))
ACTORS = ["ann", "mallory", "bot", "nobody shown"]


def staged_as(tracker: MemoryTracker, state: State, closed: bool = False) -> IssueRef:
    """An issue the bot staged and took to `state` with its own audit note."""
    draft = IssueDraft("t", "body", ("job-match", state_label(GATE.labels, state)), ("k",))
    ref = tracker.create_issue(draft)
    tracker.add_note(ref.iid, record.with_mark("**Review:** …", record.StateMark(state)))
    if closed:
        tracker.update_issue(ref.iid, state_event="close")
    return ref


def moved_by(tracker: MemoryTracker, iid: int, actor: str, labels: list[str]) -> IssueRef:
    """`actor` leaves the issue with `labels` ("nobody shown": GitLab shows no event)."""
    ref = tracker.issues[iid].ref
    if actor == "nobody shown":
        tracker.issues[iid].ref = dataclasses.replace(ref, labels=tuple(labels))
    else:
        with tracker.as_user(actor):
            add = [lb for lb in labels if lb not in ref.labels]
            tracker.update_issue(iid, add=add, remove=[lb for lb in ref.labels if lb not in labels])
    found = tracker.get_issue(iid)
    assert found is not None
    return found


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize(("before", "after"), [(b, a) for b in State for a in State if b != a])
def test_settle_every_move_by_every_kind_of_actor(actor: str, before: State, after: State) -> None:
    tracker = MemoryTracker()
    closed = workflow.must_close(before, True, True)  # as the tool keeps them
    iid = staged_as(tracker, before, closed=closed).iid
    issue = moved_by(tracker, iid, actor, ["job-match", state_label(GATE.labels, after)])
    result = settle(Context(GATE, tracker), issue)

    applied = actor == "ann" and (before, after) in MOVES
    ends = after if applied else before
    assert (result.outcome, result.iid, result.after) == (
        "applied" if applied else "reverted",
        iid,
        ends,
    )
    final = tracker.get_issue(iid)
    assert final is not None
    assert final.labels.count("job-match") == 1
    assert states_in(GATE.labels, final.labels) == [ends]
    assert final.state == ("closed" if workflow.must_close(ends, True, True) else "opened")
    *_, note = tracker.notes(iid)
    assert note.author == "bot" and record.parse_note(note.body) == record.StateMark(ends)
    who = "unknown" if actor == "nobody shown" else actor
    if applied:
        assert result.message == f"#{iid}: {before.value} -> {after.value}"
        assert note.body.startswith(f"**Review:** {before.value} → **{after.value}** by ann")
    else:
        assert result.message.endswith(f": back to {before.value}")
        reason = result.message.split(": ", 1)[1]
        assert note.body.startswith(f"**Reverted:** {render.gitlab_text(reason)}\n")
        if actor == "ann":
            assert f"{before.value} -> {after.value} is not a transition" in result.message
        elif actor == "bot":
            assert "added by match-staging itself (bot)" in result.message
        else:
            assert result.message == (
                f"#{iid}: {who} may not review job matches (workflow.reviewers): "
                f"back to {before.value}"
            )


@pytest.mark.parametrize("state", list(State))
def test_settle_an_issue_as_the_bot_left_it_changes_nothing(state: State) -> None:
    tracker = MemoryTracker()
    iid = staged_as(tracker, state, closed=workflow.must_close(state, True, True)).iid
    issue = tracker.get_issue(iid)
    assert issue is not None
    notes, calls = len(tracker.notes(iid)), tracker.calls
    result = settle(Context(GATE, tracker), issue)
    assert result == StepResult(
        "unchanged", f"#{iid}: already {state.value}: nothing to do", iid, state
    )
    assert len(tracker.notes(iid)) == notes and tracker.calls == calls + 2  # user, notes


@pytest.mark.parametrize(
    ("state", "change", "says"),
    [
        (State.PENDING, "close", "closed while pending (move the card instead)"),
        (State.APPROVED, "close", "closed while approved (move the card instead)"),
        (State.REJECTED, "reopen", "reopened while rejected (move the card instead)"),
        (State.SENT, "reopen", "reopened while sent (move the card instead)"),
        (State.PENDING, "unlabel", "the job-match label was removed (it marks a staged match)"),
    ],
)
def test_closing_reopening_or_unlabelling_is_put_back_by_anyone(
    state: State, change: str, says: str
) -> None:
    tracker = MemoryTracker()
    closed = state in (State.REJECTED, State.SENT)
    iid = staged_as(tracker, state, closed=closed).iid
    with tracker.as_user("ann"):  # even a reviewer: the card is moved, not closed
        if change == "unlabel":
            tracker.update_issue(iid, remove=["job-match"])
        else:
            tracker.update_issue(iid, state_event=change)  # type: ignore[arg-type]
    issue = tracker.get_issue(iid)
    assert issue is not None
    result = settle(Context(GATE, tracker), issue)
    assert result == StepResult("reverted", f"#{iid}: {says}: back to {state.value}", iid, state)
    final = tracker.get_issue(iid)
    assert final is not None and set(final.labels) == {"job-match", state_label(GATE.labels, state)}
    assert final.state == ("closed" if closed else "opened")
    *_, note = tracker.notes(iid)
    assert note.body.startswith(f"**Reverted:** {says}: back to {state.value}")
    assert record.parse_note(note.body) == record.StateMark(state)


def test_settle_ignores_an_issue_somebody_else_created() -> None:
    tracker = MemoryTracker()
    with tracker.as_user("mallory"):
        ref = tracker.create_issue(IssueDraft("t", "b", ("job-match", "job-match/approved"), ()))
    result = settle(Context(GATE, tracker), ref)
    assert result == StepResult(
        "ignored", f"#{ref.iid} was not staged by match-staging (created by mallory)", ref.iid
    )
    assert tracker.notes(ref.iid) == []


def test_settle_warns_when_an_approved_description_was_edited() -> None:
    tracker = MemoryTracker()
    iid = staged_as(tracker, State.PENDING).iid
    tracker.issues[iid].notes.append(
        Note(id=99, author="mallory", body="changed the description", system=True, created_at="t")
    )
    issue = moved_by(tracker, iid, "ann", ["job-match", "job-match/approved"])
    assert settle(Context(GATE, tracker), issue).outcome == "applied"
    *_, note = tracker.notes(iid)
    warning = render.gitlab_text("mallory changed the description of #1 at t")
    assert f"\n\n⚠️ {warning}: `match-staging send` will not send from this issue." in note.body


@pytest.mark.parametrize(
    ("payload", "said"),
    [
        ([], "the payload is not a JSON object"),
        ({}, "no object_kind: not a GitLab webhook payload"),
        ({"object_kind": 7}, "no object_kind: not a GitLab webhook payload"),
        ({"object_kind": " note\n"}, "a note event: only issue events change a match's state"),
        ({"object_kind": "x" * 50}, f"a {'x' * 40} event: only issue events change a match"),
        ({"object_kind": "issue"}, "the issue event has no object_attributes or user"),
        ({"object_kind": "issue", "user": {}}, "the issue event has no object_attributes or"),
        ({"object_kind": "issue", "object_attributes": {}}, "the issue event has no object_att"),
    ],
)
def test_parse_event_says_why_a_payload_is_not_an_event(payload: object, said: str) -> None:
    found = parse_event(payload, GATE)
    assert isinstance(found, str) and found.startswith(said), found


def hook_payload(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "object_kind": "issue",
        "user": {"username": fields.pop("actor", "ann")},
        "object_attributes": {"iid": fields.pop("iid", 3), "labels": fields.pop("attrs", [])},
        "labels": fields.pop("labels", []),
        "changes": fields.pop("changes", {"labels": {"previous": [], "current": []}}),
    }
    body["object_attributes"].update(fields)
    return body


JM = [{"title": "job-match"}]


@pytest.mark.parametrize(
    ("payload", "found"),
    [
        (hook_payload(labels=JM), Event(3)),
        (hook_payload(attrs=JM), Event(3)),
        (hook_payload(changes={"labels": {"previous": JM, "current": []}}), Event(3)),
        (hook_payload(changes={"labels": {"previous": [], "current": JM}}), Event(3)),
        (hook_payload(labels=JM, changes={}, action="close"), Event(3)),
        (hook_payload(labels=JM, changes=None, action="reopen"), Event(3)),
        (hook_payload(labels=JM, changes={}, action="update"), "issue #3: no label change in"),
        (hook_payload(labels=JM, changes={"labels": []}), "issue #3: no label change in this"),
        (
            hook_payload(labels=[{"title": "other"}, "job-match", {"name": "job-match"}]),
            "issue #3 is",
        ),
        (hook_payload(labels=JM, iid=0), "the issue event has no usable iid or user.username"),
        (hook_payload(labels=JM, iid=True), "the issue event has no usable iid or user.username"),
        (hook_payload(labels=JM, iid="3"), "the issue event has no usable iid or user.username"),
        (hook_payload(labels=JM, actor=""), "the issue event has no usable iid or user.username"),
        (hook_payload(labels=JM, actor=7), "the issue event has no usable iid or user.username"),
        (hook_payload(labels=JM, actor="bot"), "issue #3: the tool's own change"),
        (hook_payload(labels=JM, iid=1), Event(1)),
    ],
)
def test_parse_event_every_shape_of_an_issue_event(
    payload: dict[str, Any], found: Event | str
) -> None:
    cfg = Config(workflow=Workflow(reviewers=["ann"]), gitlab=GitLabSettings(bot_username="bot"))
    event = parse_event(payload, cfg)
    if isinstance(found, Event):
        assert event == found
    else:
        assert isinstance(event, str) and event.startswith(found), event
    if found == "issue #3 is":
        assert event == "issue #3 is not a job match"
    assert parse_event(hook_payload(labels=JM, actor="bot"), GATE) == Event(3)  # no bot named


@pytest.mark.parametrize(
    ("labels", "note", "refusal"),
    [
        (("job-match", "job-match/approved"), State.APPROVED, "#1: is approved, not pending"),
        (("job-match",), State.PENDING, "#1: is no state, not pending"),
        (("job-match", "job-match/pending", "job-match/approved"), State.PENDING, "#1: is pend"),
        (("job-match", "job-match/pending"), State.REJECTED, "#1: is pending, not pending"),
        (("job-match/pending",), State.PENDING, "#1: no job-match issue with that number"),
    ],
)
def test_review_from_the_shell_only_from_pending(
    labels: tuple[str, ...], note: State, refusal: str
) -> None:
    tracker = MemoryTracker()
    ref = tracker.create_issue(IssueDraft("t", "b", labels, ()))
    tracker.add_note(ref.iid, record.with_mark("x", record.StateMark(note)))
    with pytest.raises(InputError) as raised:
        review(Context(GATE, tracker), 1, State.APPROVED, "ann", "fits")
    assert str(raised.value).startswith(refusal), str(raised.value)
    assert len(tracker.notes(1)) == 1
    with pytest.raises(InputError, match="#5: no job-match issue with that number"):
        review(Context(GATE, tracker), 5, State.APPROVED, "ann", "")


@pytest.mark.parametrize("target", [State.APPROVED, State.REJECTED])
def test_review_from_the_shell_applies_with_the_reason(target: State) -> None:
    tracker = MemoryTracker()
    iid = staged_as(tracker, State.PENDING).iid
    result = review(Context(GATE, tracker), iid, target, "ann", "fits well")
    assert result == StepResult("applied", f"#{iid}: pending -> {target.value}", iid, target)
    final = tracker.get_issue(iid)
    assert final is not None
    assert set(final.labels) == {"job-match", state_label(GATE.labels, target)}
    assert final.state == ("closed" if target == State.REJECTED else "opened")
    *_, note = tracker.notes(iid)
    assert note.body.startswith(f"**Review:** pending → **{target.value}** by ann\n\n> fits well")
    assert record.parse_note(note.body) == record.StateMark(target)


def test_the_actor_is_who_added_the_new_label_not_who_tidied_up_after() -> None:
    tracker = MemoryTracker()
    iid = staged_as(tracker, State.PENDING).iid
    with tracker.as_user("ann"):  # the sidebar on Free: approved added, pending left on
        tracker.update_issue(iid, add=["job-match/approved"])
    with tracker.as_user("mallory"):  # somebody else takes pending off afterwards
        tracker.update_issue(iid, remove=["job-match/pending"])
    issue = tracker.get_issue(iid)
    assert issue is not None
    result = settle(Context(GATE, tracker), issue)
    assert (result.outcome, result.message) == ("applied", f"#{iid}: pending -> approved")
    *_, note = tracker.notes(iid)
    assert note.body.startswith("**Review:** pending → **approved** by ann")


def test_a_renamed_state_label_is_known_by_its_id(monkeypatch: pytest.MonkeyPatch) -> None:
    """GitLab names a label by its current name on every event; the id stays (issue 20)."""
    ids = {"pending": 1, "approved": 2, "rejected": 3, "sent": 4}
    cfg = Config(workflow=Workflow(reviewers=["ann"], label_ids=ids))
    tracker = MemoryTracker()
    iid = staged_as(tracker, State.PENDING).iid
    issue = moved_by(tracker, iid, "ann", ["job-match", "job-match/approved"])
    shown = [
        LabelEvent("ann", 11, "approved (renamed since)", "add", "t", 2),
        LabelEvent("mallory", 40, "job-match/approved", "add", "t", 9),  # another label
    ]
    monkeypatch.setattr(tracker, "label_events", lambda _: shown)
    result = settle(Context(cfg, tracker), issue)
    assert (result.outcome, result.after) == ("applied", State.APPROVED)
    assert tracker.notes(iid)[-1].body.startswith("**Review:** pending → **approved** by ann")


def test_nobody_may_review_says_what_to_set() -> None:
    with pytest.raises(ConfigError) as raised:
        check_reviewers(Config())
    assert str(raised.value) == (
        "workflow.reviewers is empty and notification.channels.gitlab_todo.assignee_id is "
        "not set: nobody may review job matches"
    )


def test_the_credit_goes_to_who_added_the_new_label_beside_the_old_one() -> None:
    tracker = MemoryTracker()
    iid = staged_as(tracker, State.PENDING).iid
    with tracker.as_user("ann"):  # approved added in the sidebar, pending left on
        tracker.update_issue(iid, add=["job-match/approved"])
    with tracker.as_user("mallory"):  # a later change of another state label
        tracker.update_issue(iid, add=["job-match/rejected"])
        tracker.update_issue(iid, remove=["job-match/rejected"])
    issue = tracker.get_issue(iid)
    assert issue is not None and set(issue.labels) >= {"job-match/pending", "job-match/approved"}
    assert settle(Context(GATE, tracker), issue).outcome == "applied"


def test_a_user_called_unknown_is_not_the_nobody_of_a_missing_event() -> None:
    cfg = Config(workflow=Workflow(reviewers=["unknown"]))
    tracker = MemoryTracker()
    iid = staged_as(tracker, State.PENDING).iid
    issue = moved_by(tracker, iid, "nobody shown", ["job-match", "job-match/approved"])
    result = settle(Context(cfg, tracker), issue)
    assert (result.outcome, result.after) == ("reverted", State.PENDING)


def test_only_an_approval_carries_the_edited_description_warning() -> None:
    tracker = MemoryTracker()
    iid = staged_as(tracker, State.PENDING).iid
    tracker.issues[iid].notes.append(
        Note(id=99, author="mallory", body="changed the description", system=True, created_at="t")
    )
    issue = moved_by(tracker, iid, "ann", ["job-match", "job-match/rejected"])
    assert settle(Context(GATE, tracker), issue).outcome == "applied"
    assert "⚠️" not in tracker.notes(iid)[-1].body


def test_transition_looks_only_at_the_issue_the_event_names() -> None:
    tracker = MemoryTracker()
    iid = staged_as(tracker, State.PENDING).iid
    ctx = Context(GATE, tracker)
    assert transition(ctx, []) == StepResult("ignored", "the payload is not a JSON object")
    event = hook_payload(iid=9, labels=JM)
    assert transition(ctx, event) == StepResult("ignored", "issue #9 is not a job match", 9)
    with tracker.as_user("mallory"):
        other = tracker.create_issue(IssueDraft("t", "b", ("bug",), ()))
    plain = hook_payload(iid=other.iid, labels=JM)  # the payload's labels are not believed
    assert transition(ctx, plain) == StepResult(
        "ignored", f"issue #{other.iid} is not a job match", other.iid
    )
    moved_by(tracker, iid, "ann", ["job-match", "job-match/approved"])
    result = transition(ctx, hook_payload(iid=iid, labels=JM))
    assert (result.outcome, result.after) == ("applied", State.APPROVED)


def test_the_audit_note_links_the_pipeline_and_says_when_repaired() -> None:
    tracker = MemoryTracker()
    iid = staged_as(tracker, State.PENDING).iid
    issue = moved_by(tracker, iid, "ann", ["job-match", "job-match/approved"])
    ctx = Context(GATE, tracker, pipeline=Pipeline("https://gl.example/p/-/pipelines/7", "7"))
    settle(ctx, issue, reconciled=True)
    body = tracker.notes(iid)[-1].body
    assert "- By: match-staging, [pipeline 7](<https://gl.example/p/-/pipelines/7>)" in body
    assert "_The webhook never delivered this change; the scheduled run applied it._" in body
    iid2 = staged_as(tracker, State.PENDING).iid
    issue2 = moved_by(tracker, iid2, "ann", ["job-match", "job-match/approved"])
    settle(Context(GATE, tracker), issue2)
    plain = tracker.notes(iid2)[-1].body
    assert "- By: match-staging\n" in plain and "scheduled run" not in plain


@pytest.mark.parametrize(
    ("outcomes", "problems", "since", "said"),
    [
        (["unchanged"], [], "", None),
        (["applied"], ["the hook is disabled"], "", None),
        (["applied"], [], "", "1 review event never reached the pipeline (repaired now)"),
        (
            ["applied", "reverted", "unchanged"],
            [],
            "2026-02-08T10:15:33Z",
            "2 review events since 2026-02-08 10:15 UTC never reached the pipeline",
        ),
    ],
)
def test_missed_events_notice(
    outcomes: list[str], problems: list[str], since: str, said: str | None
) -> None:
    report = ReconcileReport(
        results=[StepResult(o, "m") for o in outcomes],  # type: ignore[arg-type]
        webhook_problems=problems,
        missed_since=since,
    )
    found = missed_events_notice(report)
    if said is None:
        assert found is None
    else:
        assert found is not None and found.startswith(said)
        assert found.endswith(
            ": GitLab may have disabled the issue webhook after failed deliveries. Check it at "
            "Settings > Webhooks (Maintainers only; a Developer token cannot see it): Test > "
            "Issue events re-enables it, or run `match-staging bootstrap` with a Maintainer's "
            "token"
        )


@pytest.mark.parametrize(
    ("payload", "said"),
    [
        ({"object_kind": "merge  request\n"}, "a merge request event: only issue events"),
        (
            {"object_kind": "issue", "user": {}, "object_attributes": {"type": "Test\n Case"}},
            "a work item of type Test Case, never a job match",
        ),
        (
            {"object_kind": "issue", "user": {}, "object_attributes": {"type": "y" * 50}},
            f"a work item of type {'y' * 40}, never a job match",
        ),
    ],
)
def test_parse_event_shows_a_kind_on_one_line_of_at_most_40(payload: object, said: str) -> None:
    found = parse_event(payload, GATE)
    assert isinstance(found, str) and found.split(": only")[0] == said.split(": only")[0]
    assert found.startswith(said)


def test_webhook_event_reads_its_payload_file_and_says_what_it_cannot(tmp_path: Path) -> None:
    """--payload, else $TRIGGER_PAYLOAD (GitLab's file of the webhook's body); a UTF-8 BOM
    is read past; no file or an unreadable one is a clear error (issue 26)."""
    payload = tmp_path / "payload.json"
    payload.write_bytes(b"\xef\xbb\xbf" + json.dumps({"object_kind": "pipeline"}).encode())
    ignored = "a pipeline event: only issue events change a match's state · 0 GitLab requests"
    assert webhook_event(None, {"TRIGGER_PAYLOAD": str(payload)}, GATE) == ignored
    assert webhook_event(str(payload), {"TRIGGER_PAYLOAD": "elsewhere"}, GATE) == ignored
    with pytest.raises(ConfigError) as nothing:
        webhook_event(None, {}, GATE)
    assert str(nothing.value) == "no payload: pass --payload FILE or set TRIGGER_PAYLOAD"
    gone = tmp_path / "gone.json"
    with pytest.raises(ConfigError) as unreadable:
        webhook_event(None, {"TRIGGER_PAYLOAD": str(gone)}, GATE)
    assert str(unreadable.value) == f"{gone}: cannot be read: No such file or directory"

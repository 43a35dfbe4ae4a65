"""Issue 20, items 1 and 11: the review gate knows the state labels and the reviewers by
GitLab id, through the CLI against the fake GitLab. A Reporter may rename project labels
(GitLab shows every old label event by the label's new name) and anyone may rename their own
account (the freed name is anyone's to take): neither approves a match."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gitlab
import pytest

from match_staging import config
from match_staging.model import State
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.smtp_sink import SmtpSink
from tests.gate import MALLORY, REVIEWER, Gate, Staged, staged_once

AUTO_SEND = {"MATCH_STAGING__WORKFLOW__AUTO_SEND": "true"}
STATES = tuple(f"job-match/{s.value}" for s in State)


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Staged]:
    where = tmp_path_factory.mktemp("staged")
    with staged_once(where, ("stage",), ("bootstrap",)) as done:
        yield done


@pytest.fixture
def gate(staged: Staged, repo: Path, capsys: pytest.CaptureFixture[str]) -> Gate:
    """Five staged matches, then `bootstrap` (a Maintainer's, once), which records the ids
    in the configuration (once per module: `staged_once`)."""
    return staged.gate(repo, capsys)


def ids(gate: Gate) -> dict[str, int]:
    return {name: label["id"] for name, label in gate.fake.labels.items()}


def rename(gate: Gate, old: str, new: str) -> None:
    """Mallory (a Reporter) renames a project label: PUT /projects/:id/labels/:label_id."""
    client = gitlab.Gitlab(gate.fake.url, private_token=gate.fake.token_for("mallory"))
    client.projects.get(1, lazy=True).labels.update(str(ids(gate)[old]), {"new_name": new})


def errors(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("match-staging: error:")]


def test_bootstrap_records_the_state_labels_and_the_reviewers_ids(gate: Gate) -> None:
    cfg = config.load(None, gate.env())
    known = ids(gate)
    assert cfg.workflow.label_ids == {name.split("/")[1]: known[name] for name in STATES}
    assert cfg.workflow.reviewer_ids == {"reviewer": REVIEWER}
    text = Path("config/notification-channels.yml").read_text(encoding="utf-8")
    assert "# GitLab usernames allowed to change a match's state" in text  # comments stay
    # recorded once: the next run changes nothing and says so
    code, out = gate.run("bootstrap")
    assert code == 0 and "nothing to change: the project is set up" in out
    assert "ok     reviewer reviewer (user 2)" in out


@pytest.mark.parametrize(
    ("renamed", "added_by"),
    [
        ("match-score/high", "the bot, at staging"),
        ("needs-info", "the reviewer, once"),
    ],
)
def test_renaming_another_label_to_approved_approves_nothing(
    gate: Gate, renamed: str, added_by: str
) -> None:
    if renamed == "needs-info":
        gate.move(1, REVIEWER, add="needs-info")  # a label the reviewer once added
    rename(gate, "job-match/approved", "job-match/approved-old")
    rename(gate, renamed, "job-match/approved")
    hooks = len(gate.fake.issue_hook_events)
    event = gate.move(1, MALLORY, add="touched")  # any change fires the webhook
    assert len(gate.fake.issue_hook_events) == hooks + 1  # renaming fired none
    code, out = gate.run("transition", "--payload", gate.payload(event), **AUTO_SEND)
    assert code == 2, out
    (line,) = errors(out)
    assert "the approved label bootstrap recorded, is now called 'job-match/approved-old'" in line
    assert "nothing was done; run `match-staging bootstrap`" in line
    assert gate.smtp.messages == [] and gate.notes(1) == []
    # every command stops, not only the gate's
    for argv in (("list",), ("send", "1"), ("digest",), ("stage",)):
        code, out = gate.run(*argv)
        assert code == 2 and len(errors(out)) == 1, (argv, out)
    # bootstrap puts the state labels back by id; a name another label holds, it does not
    # take: it says what to do, and changes no other label meanwhile
    code, out = gate.run("bootstrap")
    assert code == 1, out
    squatter = ids(gate)["job-match/approved"]
    approved = config.load(None, gate.env()).workflow.label_ids["approved"]
    assert (
        f"failed label job-match/approved: label {approved}, the state label recorded in "
        f"workflow.label_ids, is called 'job-match/approved-old', and 'job-match/approved' "
        f"is label {squatter}: rename or delete label {squatter}, then run bootstrap again"
    ) in out
    assert "create label" not in out and "update label" not in out
    with gate.fake.act_as("bot"):  # the Maintainer does what it said
        client = gitlab.Gitlab(gate.fake.url, private_token=gate.fake.token)
        client.projects.get(1, lazy=True).labels.update(str(squatter), {"new_name": renamed})
    code, out = gate.run("bootstrap")
    assert code == 0, out
    assert (
        f"update label job-match/approved (label {approved}, renamed to "
        "'job-match/approved-old', gets its name back)"
    ) in out
    assert gate.fake.labels["job-match/approved"]["id"] == approved
    code, out = gate.run("transition", "--payload", gate.payload(event), **AUTO_SEND)
    assert code == 0 and "unchanged #1: already pending" in out
    assert gate.smtp.messages == [] and "job-match/pending" in gate.fake.issues[1]["labels"]


def test_swapping_pending_and_approved_approves_nothing(gate: Gate) -> None:
    before = ids(gate)
    hooks = len(gate.fake.issue_hook_events)
    rename(gate, "job-match/pending", "swap")
    rename(gate, "job-match/approved", "job-match/pending")
    rename(gate, "swap", "job-match/approved")
    assert len(gate.fake.issue_hook_events) == hooks  # no issue event at all
    assert all(gate.labels(i) == ["job-match/approved"] for i in range(1, 6))
    code, out = gate.run("digest", **AUTO_SEND)
    assert code == 2 and len(errors(out)) == 1, out
    assert gate.smtp.messages == []
    assert all(gate.notes(i) == [] for i in range(1, 6))
    code, out = gate.run("bootstrap")
    assert code == 0, out
    assert ids(gate) == before
    assert all(gate.labels(i) == ["job-match/pending"] for i in range(1, 6))
    code, out = gate.run("digest", **AUTO_SEND)
    assert gate.smtp.messages == [] and "applied" not in out, out
    assert all(gate.labels(i) == ["job-match/pending"] for i in range(1, 6))


def test_the_bots_own_label_change_without_its_note_approves_nothing(gate: Gate) -> None:
    """`review` from the shell changes the labels as the bot; its note failed. The bot's
    label event alone is no reviewer's approval: the next repair reverts it."""
    gate.fake.fail_next("POST", r"/issues/1/notes$", status=403)
    code, out = gate.run("review", "1", "--approve", **AUTO_SEND)
    assert code == 1 and gate.labels(1) == ["job-match/approved"] and gate.notes(1) == []
    code, out = gate.run("digest", **AUTO_SEND)
    assert "reverted  #1: the state label was added by match-staging itself (bot)" in out
    assert gate.smtp.messages == [] and gate.labels(1) == ["job-match/pending"]
    # with its note, in one run, the shell's approval is one and goes out
    code, out = gate.run("review", "1", "--approve", **AUTO_SEND)
    assert code == 0, out
    assert len(gate.smtp.messages) == 1 and gate.labels(1) == ["job-match/sent"]


def test_a_reviewers_old_name_taken_by_someone_else_approves_nothing(gate: Gate) -> None:
    gate.fake.rename_user(REVIEWER, "rita")
    gate.fake.rename_user(MALLORY, "reviewer")  # the freed name, taken
    event = gate.move(1, MALLORY, add="job-match/approved", remove="job-match/pending")
    assert event["user"]["username"] == "reviewer"
    code, out = gate.run("transition", "--payload", gate.payload(event), **AUTO_SEND)
    assert code == 0, out
    assert (
        "reverted  #1: reviewer is user 3, not user 2 whom bootstrap recorded as the "
        "reviewer reviewer (workflow.reviewer_ids): a renamed account may not review: "
        "back to pending" in out
    )
    assert gate.labels(1) == ["job-match/pending"] and gate.smtp.messages == []
    # the reviewer under the new name is not the reviewer either until the config says so
    event = gate.move(2, REVIEWER, add="job-match/approved", remove="job-match/pending")
    code, out = gate.run("transition", "--payload", gate.payload(event))
    assert "reverted  #2: user 2 was recorded as the reviewer reviewer but is called rita" in out
    # bootstrap says what happened and what to do
    code, out = gate.run("bootstrap")
    assert code == 1
    assert "reviewer is user 3 now, not user 2 as workflow.reviewer_ids records" in out


def test_without_recorded_ids_the_gate_says_what_is_open(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeGitLab() as fake, SmtpSink() as smtp:
        gate = Gate(fake, smtp, repo, capsys)
        assert gate.run("stage")[0] == 0
        event = gate.move(1, REVIEWER, add="job-match/approved", remove="job-match/pending")
        code, out = gate.run("transition", "--payload", gate.payload(event))
        assert code == 0 and "applied   #1: pending -> approved" in out
        assert "not recorded: workflow.label_ids" in out
        assert "workflow.reviewer_ids for reviewer" in out


def test_the_id_check_costs_one_listing_a_run_and_none_per_issue(gate: Gate) -> None:
    event = gate.move(1, REVIEWER, add="job-match/approved", remove="job-match/pending")
    gate.fake.reset_log()
    code, out = gate.run("transition", "--payload", gate.payload(event))
    assert code == 0 and "applied   #1: pending -> approved · 6 GitLab requests" in out
    assert "not recorded" not in out
    # staging lists the labels anyway: the check uses that listing
    gate.fake.reset_log()
    assert gate.run("stage")[0] == 0
    assert gate.fake.count("GET", r"/labels$") == 1
    # the shell's approval, sent by a later run: the bot's label change, then its note
    assert gate.run("review", "2", "--approve")[0] == 0
    code, out = gate.run("send", "2")
    assert code == 0 and "portal    #2 has no application address" in out, out


def test_bootstrap_puts_shifted_state_labels_back_in_any_order(gate: Gate) -> None:
    before = ids(gate)
    rename(gate, "job-match/approved", "x")
    rename(gate, "job-match/pending", "job-match/approved")
    rename(gate, "job-match/sent", "job-match/pending")
    code, out = gate.run("list")
    assert code == 2 and len(errors(out)) == 1
    code, out = gate.run("bootstrap")
    assert code == 0, out
    assert ids(gate) == before
    assert gate.run("list")[0] == 0

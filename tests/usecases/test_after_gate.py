"""After the gate (issue 23), through the CLI against the fake GitLab with the run clock
moved (MATCH_STAGING_NOW, and GitLab's own clock with it): pending matches expire, a
reviewer revives one, a sent application gets one follow-up and is ghosted, and a
reviewer's outcome stops both."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gitlab
import pytest

from tests.conftest import FakeTime, match, owed, write
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.smtp_sink import SmtpSink
from tests.gate import BOT, MALLORY, REVIEWER, Gate, Staged, hook, staged_once

DAY0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday, 11:00 in Vienna
WRITES = ("POST", "PUT", "DELETE", "PATCH")


class World(Gate):
    """The gate's world with one clock for the run and for GitLab."""

    day: float = 0

    def at(self, day: float, hour: float = 0) -> None:
        when = DAY0 + timedelta(days=day, hours=hour)
        self.fake.clock = lambda: when
        self.now = when

    def env(self, **extra: str) -> dict[str, str]:
        return super().env(
            MATCH_STAGING_NOW=self.now.isoformat(),
            MATCH_STAGING__NOTIFICATION__CHANNELS__EMAIL__ENABLED="true",
            **extra,
        )

    def digest(self, day: float, hour: float = 0) -> str:
        self.at(day, hour)
        code, out = self.run("digest")
        assert code == 0, out
        return out

    def board(self, iid: int, user: int, add: str, remove: str) -> tuple[int, str]:
        """`user` moves the card; the webhook's pipeline runs `transition`."""
        event = self.move(iid, user, add=f"job-match/{add}", remove=f"job-match/{remove}")
        return self.run("transition", "--payload", self.payload(event))

    def writes_to(self, iid: int) -> list[str]:
        return [
            f"{r.method} {r.path}"
            for r in self.fake.requests
            if r.method in WRITES and f"/issues/{iid}" in r.path
        ]

    def mails(self, words: str) -> list[str]:
        found = []
        for mail in self.smtp.messages:
            body = mail.get_body(("plain",))
            text = f"{mail['Subject']}\n{body.get_content() if body else ''}"
            if words in text:
                found.append(text)
        return found


def day_0(
    fake: FakeGitLab, smtp: SmtpSink, repo: Path, capsys: pytest.CaptureFixture[str]
) -> World:
    world = World(fake, smtp, repo, capsys)
    world.at(0)
    return world


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Staged]:
    with staged_once(tmp_path_factory.mktemp("staged"), ("stage",), world=day_0) as done:
        yield done


@pytest.fixture
def world(staged: Staged, repo: Path, capsys: pytest.CaptureFixture[str]) -> World:
    """The five matches of matches-inbox/ staged on day 0 (once per module: `staged_once`)."""
    gate = staged.gate(repo, capsys)
    return day_0(gate.fake, gate.smtp, repo, capsys)


def test_a_pending_match_expires_on_day_15_not_13_then_a_reviewer_revives_it(
    world: World,
) -> None:
    out = world.digest(13)
    assert "expired" not in out and world.labels(1) == ["job-match/pending"]
    assert world.notes(1) == []

    world.fake.reset_log()
    out = world.digest(15)
    assert "applied   #1: pending -> expired: staged and not reviewed within " in out
    assert world.labels(1) == ["job-match/expired"]
    assert world.fake.issues[1]["state"] == "closed"
    (note,) = world.notes(1)
    assert note.startswith("**Review:** pending → **expired** by match-staging (digest)")
    assert "workflow.pending\\_ttl\\_days (14)" in note  # Markdown-escaped
    assert note.endswith("<!-- match-staging v1 state: expired -->")
    # one issue write (labels and close together) and one note
    assert world.writes_to(1) == [
        "PUT /api/v4/projects/1/issues/1",
        "POST /api/v4/projects/1/issues/1/notes",
    ]

    # exactly once: the next digest neither writes nor notes again
    world.fake.reset_log()
    out = world.digest(15, 5)
    assert "expired" not in out and world.writes_to(1) == [] and len(world.notes(1)) == 1

    code, out = world.run("send", "1")
    assert code == 2 and "#1: is expired (it expired unreviewed" in out
    assert world.smtp.messages == [] or not world.mails("Sehr geehrte")

    # day 16: an outsider cannot revive it, the reviewer can
    world.at(16)
    code, out = world.board(1, MALLORY, add="pending", remove="expired")
    assert code == 0 and "reverted  #1: mallory may not review job matches" in out
    assert world.labels(1) == ["job-match/expired"]
    code, out = world.board(1, REVIEWER, add="pending", remove="expired")
    assert code == 0 and "applied   #1: expired -> pending" in out
    assert world.labels(1) == ["job-match/pending"] and world.fake.issues[1]["state"] == "opened"

    # the clock restarted at the revival: not expired on day 29, expired on day 31
    assert "expired" not in world.digest(29)
    assert "applied   #1: pending -> expired: revived and not reviewed" in world.digest(31)
    # revived once: a second revival is refused, whoever asks
    code, out = world.board(1, REVIEWER, add="pending", remove="expired")
    assert "reverted  #1: expired -> pending (revive) refused: it was revived once" in out
    assert world.labels(1) == ["job-match/expired"]


def test_a_revival_after_workflow_revive_days_is_reverted(world: World) -> None:
    world.digest(15)
    world.at(22, 1)  # expired at day 15 00:00 + 7 days is day 22 00:00
    code, out = world.board(2, REVIEWER, add="pending", remove="expired")
    assert code == 0 and "reverted  #2: expired -> pending (revive) refused: it expired at " in out
    assert "more than workflow.revive_days (7) ago" in out
    assert world.labels(2) == ["job-match/expired"] and world.fake.issues[2]["state"] == "closed"


def test_apply_by_on_day_3_expires_it_on_day_3_with_a_warning_the_day_before(
    world: World,
) -> None:
    deadline = (DAY0 + timedelta(days=3)).strftime("%Y-%m-%dT09:00:00")  # Vienna time
    doc = write(
        world.repo / "apply-by.json",
        [match(apply_by=deadline), match(url="https://jobs.example.com/p/2", title="Later")],
    )
    code, out = world.run("stage", str(doc))
    assert code == 0, out
    iid = max(world.fake.issues)
    before = len(world.smtp.messages)
    world.digest(2, 1)  # day 2, 11:00 UTC: within a day of day 3, 08:00 UTC
    soon = world.mails("läuft morgen ab")
    assert len(soon) == 1 and "Senior DevOps Engineer" in soon[0]
    assert len(world.smtp.messages) > before
    world.digest(2, 5)  # said once: not in the next reminder
    assert len(world.mails("läuft morgen ab")) == 1
    assert world.labels(iid - 1) == ["job-match/pending"]

    out = world.digest(3, 1)
    assert f"applied   #{iid - 1}: pending -> expired: the application deadline (apply_by " in out
    assert world.labels(iid - 1) == ["job-match/expired"]
    assert world.labels(iid) == ["job-match/pending"]  # no apply_by: 14 days


def test_an_apply_by_written_into_the_description_by_someone_else_counts_for_nothing(
    world: World,
) -> None:
    """Only the bot's record counts: a Reporter who edits the description (record line and
    all) to an earlier apply_by expires nothing."""
    from match_staging import record

    issue = world.fake.issues[3]
    line = next(x for x in issue["description"].splitlines() if "notice: " in x)
    data = record.decode_json(line.split("notice: ")[1].removesuffix(" -->"))
    data["apply_by"] = "2026-03-02"
    forged = f"{record.PREFIX}notice: {record.encode_json(data)} -->"
    world.edit(3, "mallory", issue["description"].replace(line, forged))
    out = world.digest(5)
    assert "expired" not in out and world.labels(3) == ["job-match/pending"]


def test_a_match_owed_its_announcement_is_not_announced_once_its_expiry_is_due(
    world: World,
) -> None:
    """A match staged while email failed is owed its announcement. A `stage` after its
    expiry is due (the next cycle, a late CI retry) holds that announcement back instead of
    telling of a match about to expire; the next digest expires it and drops it from the
    queue as expired, not as reviewed. The day before, a retry still announces it."""

    def doc(name: str, title: str) -> str:
        one = match(url=f"https://jobs.example.com/{name}", title=title, provider=name)
        return str(write(world.repo / f"{name}.json", [one]))

    late, later, fresh = doc("late", "Late Match"), doc("later", "Later Match"), doc("new", "New")
    world.smtp.fail_next = 100  # every attempt of day 0 fails
    code, out = world.run("stage", late)
    assert code == 1 and "failed    email" in out, out
    first = max(world.fake.issues)
    assert owed(world.fake) == [(first, "email")]
    world.smtp.fail_next = 0

    world.at(13, 23)  # day 14, 09:00: a retry an hour before its expiry still announces it
    code, out = world.run("stage", late)
    assert code == 0 and f"announced #{first}  (owed by an earlier run)" in out, out
    assert len(world.mails("Late Match")) == 1

    world.smtp.fail_next = 100
    code, out = world.run("stage", later)  # staged on day 14, 09:00; its email failed
    second = max(world.fake.issues)
    assert code == 1 and owed(world.fake) == [(second, "email")], out
    world.smtp.fail_next = 0

    world.at(28, 1)  # day 28, 11:00: its expiry is due, and no digest has run since
    code, out = world.run("stage", fresh)
    assert code == 0, out
    assert f"held      #{second}  due to expire: not announced; the next digest expires it" in out
    assert f"announced #{second}" not in out
    assert world.mails("New") and not world.mails("Later Match")
    assert owed(world.fake) == [(second, "email")]  # still queued, for the digest to settle

    out = world.digest(28, 2)
    assert f"applied   #{second}: pending -> expired" in out
    assert f"dropped   #{second}  expired before they were announced" in out
    assert "reviewed before" not in out and not world.mails("Later Match")
    assert owed(world.fake) == []


def test_an_owed_match_past_its_apply_by_is_held_unless_someone_else_edited_it(
    world: World,
) -> None:
    """The apply_by counts for holding an announcement back as it counts for the expiry:
    only from the bot's record in a description nobody else edited."""
    deadline = (DAY0 + timedelta(days=3)).strftime("%Y-%m-%dT09:00:00")  # Vienna time
    one, two = (
        match(apply_by=deadline, url=f"https://jobs.example.com/{n}", title=t, provider=n)
        for n, t in (("due", "Due Match"), ("edited", "Edited Match"))
    )
    doc = write(world.repo / "due.json", [one, two])
    world.smtp.fail_next = 100
    code, out = world.run("stage", str(doc))
    assert code == 1, out
    due, edited = (
        next(i for i, x in world.fake.issues.items() if t in x["title"])
        for t in ("Due Match", "Edited Match")
    )
    world.edit(edited, "mallory", world.fake.issues[edited]["description"] + "\n\nP.S.")
    world.smtp.fail_next = 0

    world.at(3, 1)  # day 3, 11:00 UTC: past 09:00 in Vienna, 11 days before the 14 are up
    code, out = world.run("stage", str(doc))  # the CI retry
    assert code == 0, out
    assert f"held      #{due}  due to expire" in out and f"announced #{edited}" in out
    assert not world.mails("Due Match")
    out = world.digest(3, 2)
    assert f"applied   #{due}: pending -> expired: the application deadline" in out
    assert f"dropped   #{due}  expired before they were announced" in out
    assert world.labels(edited) == ["job-match/pending"]


def sent(world: World, iid: int = 1) -> None:
    """Approved and sent on day 0."""
    code, out = world.board(iid, REVIEWER, add="approved", remove="pending")
    assert code == 0, out
    code, out = world.run("send", str(iid))
    assert code == 0 and "application sent to" in out, out


def test_a_sent_application_gets_one_follow_up_on_day_8_and_is_ghosted_on_day_22(
    world: World,
) -> None:
    sent(world)
    application = world.smtp.messages[-1]
    world.digest(6)
    assert world.mails("Nachfassen") == []

    out = world.digest(8)
    (follow_up,) = world.mails("Nachfassen")
    assert "Nachfassen: Cloud Architect" in follow_up
    assert "projekte@amoriabond.example" in follow_up
    assert str(application["Message-ID"]) in follow_up
    assert "follow-up #1" in out
    notes = len(world.notes(1))
    assert notes == 3  # the approval, sending, sent: the follow-up is no note

    out = world.digest(9)
    assert len(world.mails("Nachfassen")) == 1 and "follow-up #1" not in out

    world.fake.reset_log()
    out = world.digest(22)
    assert "applied   #1: sent -> ghosted: no outcome recorded" in out
    assert world.labels(1) == ["job-match/ghosted"]
    note = world.notes(1)[-1]
    assert note.startswith("**Review:** sent → **ghosted** by match-staging (digest)")
    assert note.endswith("<!-- match-staging v1 state: ghosted -->")
    # already closed (sent): the labels alone, one write, one note
    assert world.writes_to(1) == [
        "PUT /api/v4/projects/1/issues/1",
        "POST /api/v4/projects/1/issues/1/notes",
    ]
    out = world.digest(23)
    assert "ghosted" not in out and len(world.notes(1)) == notes + 1

    # a late answer: the reviewer may still move it on
    code, out = world.board(1, REVIEWER, add="interview", remove="ghosted")
    assert code == 0 and "applied   #1: ghosted -> interview" in out


def test_a_reviewers_interview_on_day_5_stops_the_follow_up_and_the_ghosting(
    world: World,
) -> None:
    sent(world)
    world.at(5)
    code, out = world.board(1, REVIEWER, add="interview", remove="sent")
    assert code == 0 and "applied   #1: sent -> interview" in out
    assert world.labels(1) == ["job-match/interview"]
    assert world.fake.issues[1]["state"] == "opened"  # an interview under way: on the board
    for day in (8, 22):
        out = world.digest(day)
        assert "ghosted" not in out and "follow-up" not in out
    assert world.mails("Nachfassen") == [] and world.labels(1) == ["job-match/interview"]
    code, out = world.board(1, REVIEWER, add="offer", remove="interview")
    assert "applied   #1: interview -> offer" in out
    assert world.fake.issues[1]["state"] == "closed"


@pytest.mark.parametrize(
    ("user", "before", "after", "says"),
    [
        (REVIEWER, "pending", "interview", "pending -> interview is not a transition"),
        (REVIEWER, "pending", "expired", "pending -> expired is not a transition"),
        (MALLORY, "sent", "interview", "mallory may not review job matches"),
        (REVIEWER, "sent", "ghosted", "sent -> ghosted is not a transition"),
    ],
)
def test_moves_nobody_or_only_the_digest_may_make_are_reverted(
    world: World, user: int, before: str, after: str, says: str
) -> None:
    if before == "sent":
        sent(world)
    code, out = world.board(1, user, add=after, remove=before)
    assert code == 0 and f"reverted  #1: {says}" in out
    assert world.labels(1) == [f"job-match/{before}"]
    assert world.notes(1)[-1].startswith("**Reverted:**")


def test_a_project_bootstrapped_before_expires_nothing_until_bootstrap_records_the_ids(
    world: World,
) -> None:
    """workflow.label_ids without the later states (committed before issue 23): nothing
    breaks, the digest says once per run what to do and neither expires nor ghosts; a move
    into a state whose label id is unknown is reverted. bootstrap records the ids."""
    from match_staging import config_write

    path = world.repo / "config" / "notification-channels.yml"
    first = {s: world.fake.labels[f"job-match/{s}"]["id"] for s in ("pending", "approved")}
    first |= {s: world.fake.labels[f"job-match/{s}"]["id"] for s in ("rejected", "sent")}
    config_write.record(path, {"label_ids": first})
    sent(world, 1)

    out = world.digest(15)
    lines = [line for line in out.splitlines() if "bootstrap" in line and "label_ids" in line]
    assert lines == [
        "bootstrap workflow.label_ids has no id for expired, interview, offer, declined, "
        "ghosted: no match expires or is ghosted until then; run `match-staging bootstrap` "
        "with a Maintainer's token and commit the configuration it writes"
    ]
    assert "expired" not in out.replace("no id for expired", "")
    assert world.labels(2) == ["job-match/pending"]
    code, out = world.board(1, REVIEWER, add="interview", remove="sent")
    assert code == 0 and "reverted  #1: the interview label's id is not recorded" in out
    assert world.labels(1) == ["job-match/sent"]

    code, out = world.run("bootstrap")
    assert code == 0, out
    assert "update config workflow.label_ids (the ids of the new state labels expired" in out
    out = world.digest(15, 1)
    assert "bootstrap workflow.label_ids" not in out
    assert "applied   #2: pending -> expired" in out and "ghosted" not in out


@pytest.mark.parametrize(
    ("apply_by", "says"),
    [
        ("2026-02-30", "field 'apply_by': is not a real date or date-time: \"2026-02-30\""),
        ("next friday", "'apply_by': is not a date (2026-12-03) or date-time (2026-12-03T17:00)"),
        (20260302, "field 'apply_by': must be"),
        # past the last date Python can hold once the day ends or the offset is applied:
        # a line, not an internal error that stops the whole batch
        ("9999-12-31", "field 'apply_by': is not a real date or date-time: \"9999-12-31\""),
        ("0001-01-01T00:00:00+05:00", "field 'apply_by': is not a real date or date-time"),
    ],
)
def test_a_bad_apply_by_is_one_clear_line_naming_file_and_field(
    world: World, apply_by: object, says: str
) -> None:
    doc = write(world.repo / "bad.json", [match(apply_by=apply_by)])
    code, out = world.run("stage", str(doc))
    assert code != 0
    (line,) = [x for x in out.splitlines() if "apply_by" in x]
    assert "bad.json" in line and says in line, out


def test_list_shows_each_state_and_its_age(world: World) -> None:
    sent(world)
    world.at(9, 1)
    code, out = world.run("list")
    assert code == 0
    lines = {line.split()[0]: line.split()[1:3] for line in out.splitlines() if line[:1] == "#"}
    assert lines["#1"] == ["sent", "9d"] and lines["#2"] == ["pending", "9d"]
    world.digest(15)
    world.at(17, 6)
    code, out = world.run("list", "--state", "expired")
    assert [line.split()[:3] for line in out.splitlines() if line[:1] == "#"] == [
        ["#2", "expired", "2d"],
        ["#3", "expired", "2d"],
        ["#4", "expired", "2d"],
        ["#5", "expired", "2d"],
    ]


def test_the_local_tracker_expires_and_its_issue_page_says_so(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without GITLAB_TOKEN: the embedded tracker, the same digest."""
    from match_staging.cli import main

    def at(day: int) -> dict[str, str]:
        return {"MATCH_STAGING_NOW": (DAY0 + timedelta(days=day)).isoformat()}

    assert main(["stage"], at(0)) == 0
    assert main(["digest"], at(13)) == 0
    assert "**State:** pending" in (repo / ".match-staging" / "issues" / "1.md").read_text()
    capsys.readouterr()
    assert main(["digest"], at(15)) == 0
    assert "applied   #1: pending -> expired" in capsys.readouterr().out
    page = (repo / ".match-staging" / "issues" / "1.md").read_text(encoding="utf-8")
    assert "**State:** expired · closed" in page
    assert (
        "revive it within `workflow.revive_days` with `match-staging review 1 --to pending`" in page
    )
    assert "**Review:** pending → **expired** by match-staging (digest)" in page


def test_preview_shows_the_deadline_a_match_expires_at(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from match_staging import record
    from match_staging.cli import main

    write(repo / "c.json", {"cycle_id": "c1", "matches": [match(apply_by="2026-03-05")]})
    assert main(["preview", "c.json"], {}) == 0
    (page,) = (repo / "outbox" / "preview" / "c1").glob("issue-*.md")
    text = page.read_text(encoding="utf-8")
    assert "- **Apply by:** 2026-03-05 (unreviewed by then, the match expires)" in text
    staged = record.decode_record(text)
    assert staged is not None and staged.apply_by == "2026-03-05"  # the bot's record holds it


def test_expiring_many_matches_at_once_keeps_to_the_write_pacing(
    world: World, fake_time: FakeTime
) -> None:
    """Four expiries in one digest: each one update and one note, at most two of each a
    minute (gitlab.issue_writes_per_minute, notes_per_minute): the run waits instead."""
    fake_time.waits.clear()
    world.at(15)
    code, out = world.run(
        "digest",
        MATCH_STAGING__GITLAB__ISSUE_WRITES_PER_MINUTE="2",
        MATCH_STAGING__GITLAB__NOTES_PER_MINUTE="2",
    )
    assert code == 0 and out.count("pending -> expired") == 5
    issue_writes = [r for r in world.fake.requests if r.method == "PUT" and "/issues/" in r.path]
    assert len(issue_writes) == 5  # one per expiry
    assert fake_time.waits and all(0 < w <= 60 for w in fake_time.waits)
    assert len(fake_time.waits) >= 3  # the 3rd to 5th write, and the notes after the 2nd


def test_an_application_made_on_a_portal_gets_a_follow_up_without_an_address(
    world: World,
) -> None:
    """#2 has no application address: the reviewer applied on the portal and moved the card
    to sent. The follow-up says so, with no address and no Message-ID to invent."""
    assert world.board(2, REVIEWER, add="approved", remove="pending")[0] == 0
    assert world.board(2, REVIEWER, add="sent", remove="approved")[0] == 0
    out = world.digest(8)
    assert "follow-up #2" in out
    (mail,) = world.mails("Nachfassen")
    assert "über das Portal" in mail and "Message-ID" not in mail.split("\n", 1)[1]


def test_on_the_local_tracker_review_makes_the_later_moves_from_the_shell(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No board without GitLab: `review IID --to STATE` makes the reviewer's other moves,
    under the same rules (revive within revive_days, once; outcomes only after sent)."""
    from match_staging.cli import main

    def run(day: float, *argv: str) -> tuple[int, str]:
        capsys.readouterr()
        env = {"MATCH_STAGING_NOW": (DAY0 + timedelta(days=day)).isoformat()}
        code = main(list(argv), env)
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    assert run(0, "stage")[0] == 0
    assert "pending -> expired" in run(15, "digest")[1]
    code, out = run(16, "review", "1", "--to", "interview")
    assert code == 2 and "#1: is expired: expired -> interview is not a reviewer's move" in out
    code, out = run(16, "review", "1", "--approve")
    assert code == 2 and "is expired, not pending: only pending matches are approved" in out
    code, out = run(16, "review", "1", "--to", "pending")
    assert code == 0 and "applied   #1: expired -> pending" in out
    page = (repo / ".match-staging" / "issues" / "1.md").read_text(encoding="utf-8")
    assert "**State:** pending · open" in page
    code, out = run(23, "review", "2", "--to", "pending")
    assert code == 2 and "more than workflow.revive_days (7) ago: nothing changed" in out

    assert run(16, "review", "1", "--approve")[0] == 0
    assert run(16, "send", "1")[0] == 0
    code, out = run(17, "review", "1", "--to", "interview", "--reason", "Call on Friday")
    assert code == 0 and "applied   #1: sent -> interview" in out
    code, out = run(17, "list", "--state", "interview")
    assert out.split()[:3] == ["#1", "interview", "0h"]


@pytest.mark.parametrize("move", ["expired", "ghosted"])
def test_a_digest_that_failed_between_the_move_and_its_note_completes_the_move_next_run(
    world: World, move: str
) -> None:
    """The expiry's (or ghosting's) one update went through, its note did not (GitLab
    failed, or the job died while the note pacing waited): the next digest writes the note
    and nothing else. It does not revert the bot's own move as a reviewer's, nor move
    it twice (one write, one note each).
    """
    if move == "ghosted":
        sent(world)
    day = 15 if move == "expired" else 22
    before = "pending" if move == "expired" else "sent"
    notes = len(world.notes(1))
    world.at(day)
    world.fake.fail_next("POST", r"/issues/1/notes$", status=403)  # not retried
    code, out = world.run("digest")
    assert code != 0, out
    assert world.labels(1) == [f"job-match/{move}"] and len(world.notes(1)) == notes
    world.fake.reset_log()
    out = world.digest(day, 2)
    assert "reverted" not in out, out
    assert world.labels(1) == [f"job-match/{move}"]
    assert world.fake.issues[1]["state"] == "closed"
    assert world.writes_to(1) == ["POST /api/v4/projects/1/issues/1/notes"]
    new = world.notes(1)[notes:]
    assert len(new) == 1, new
    assert new[0].startswith(f"**Review:** {before} → **{move}** by match-staging (digest)")
    assert new[0].endswith(f"<!-- match-staging v1 state: {move} -->")


def test_a_revival_in_time_that_the_webhook_missed_is_applied_by_a_later_digest(
    world: World,
) -> None:
    """The reviewer revived within workflow.revive_days; the webhook never delivered it, and
    the digest's repair comes after the window: the move counts when the reviewer made it
    (GitLab's label event), not when the repair got to it.
    """
    world.digest(15)
    world.at(21)  # six days after the expiry: in time
    world.move(2, REVIEWER, add="job-match/pending", remove="job-match/expired")
    out = world.digest(23)  # the repair, eight days after the expiry
    assert "applied   #2: expired -> pending" in out, out
    assert world.labels(2) == ["job-match/pending"] and world.fake.issues[2]["state"] == "opened"


@pytest.mark.parametrize(("user", "says"), [(REVIEWER, "applied"), (MALLORY, "reverted")])
def test_a_card_dragged_from_the_closed_list_to_pending_revives_only_for_a_reviewer(
    world: World, user: int, says: str
) -> None:
    """An expired match is closed, and a board's label lists show open issues only
    (gitlabhq app/services/boards/issues/list_service.rb, set_state): the reviewer drags it
    from the Closed list, which reopens it and adds the list's label in one update, the
    expired label left on (app/services/boards/issues/move_service.rb, issue_state,
    remove_label_ids).
    """
    world.digest(15)
    world.at(16)
    world.fake.acting_user_id = user
    try:
        client = gitlab.Gitlab(world.fake.url, private_token=world.fake.token)
        update = {"add_labels": "job-match/pending", "state_event": "reopen"}
        client.projects.get(1, lazy=True).issues.update(1, update)
    finally:
        world.fake.acting_user_id = BOT
    code, out = world.run("transition", "--payload", world.payload(hook(world.fake, 1, user, [])))
    assert code == 0 and f"{says:<9} #1: " in out, out
    state = ("pending", "opened") if user == REVIEWER else ("expired", "closed")
    assert (world.labels(1), world.fake.issues[1]["state"]) == ([f"job-match/{state[0]}"], state[1])

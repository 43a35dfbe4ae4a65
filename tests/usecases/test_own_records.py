"""Only the bot's own records count (issue 20, items 4 to 7): what a Reporter can do to the
run log and to key lines, through the CLI against the fake GitLab. The run log is found by
its author and its unedited first line, read until the record is found, and never started
afresh on its own; a key line counts only in an issue the bot wrote and nobody else edited.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gitlab
import pytest

from match_staging import keys, record
from match_staging.cli import main
from match_staging.trackers import ledger
from tests.conftest import job_matches, match, owed, write
from tests.fakes.gitlab import FakeGitLab
from tests.notify_world import DAY, MORNING, World
from tests.notify_world import night as night  # the fixtures
from tests.notify_world import night_staging as night_staging
from tests.notify_world import world as world

FIRST_LINE = "<!-- match-staging v1 ledger -->"  # ledger.FIRST_LINE, as every release wrote it


def run(
    world: World, *argv: str, now: str = DAY, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    """The CLI as a job runs it; what it printed on both streams."""
    capsys.readouterr()
    code = main(list(argv), world.env(now))
    printed = capsys.readouterr()
    assert "Traceback" not in printed.out + printed.err
    return code, printed.out + printed.err


def api(fake: FakeGitLab, username: str) -> Any:
    """The project as `username` sees it through the API (mallory: a Reporter)."""
    return gitlab.Gitlab(fake.url, private_token=fake.token_for(username)).projects.get(
        1, lazy=True
    )


def run_log(fake: FakeGitLab) -> dict[str, Any]:
    [issue] = [i for i in fake.issues.values() if (i["description"] or "").startswith(FIRST_LINE)]
    return issue


def announced(world: World) -> bool:
    return len(world.smtp.messages) == 1 and len(world.slack.posts) == 1


# --- 4: flooding the run log ----------------------------------------------------------------


def test_a_flood_of_comments_on_the_run_log_hides_nothing(
    repo: Path, night: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world = night  # five matches staged in quiet hours: every channel owes all five
    log = run_log(world.gitlab)
    assert log["confidential"]
    # any Reporter may comment on a confidential issue (IssuePolicy: read_confidential_issues
    # is Reporter and up, create_note follows read_issue)
    api(world.gitlab, "mallory").issues.get(log["iid"], lazy=True).notes.create({"body": "hi"})
    fake = world.gitlab
    with fake.lock:  # 1,000 more, seeded (1.4 s through the API; 17 minutes on GitLab.com)
        template = fake.notes[log["iid"]][-1]
        for n in range(1000):
            fake.notes[log["iid"]].append(
                {**template, "id": 800_000 + n, "created_at": fake._now()}
            )
    code, out = run(world, "digest", now=MORNING, capsys=capsys)
    assert code == 0, out
    assert announced(world)  # today's ten-page read gave up: a fresh queue, all dropped
    assert owed(world.gitlab) == []


# --- 5: the run log is found by its author and first line, not its label ------------------


def test_the_run_log_without_its_label_title_or_confidentiality_is_still_the_run_log(
    repo: Path, night: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world = night  # five matches staged in quiet hours: every channel owes all five
    log = run_log(world.gitlab)
    mallory = api(world.gitlab, "mallory")
    mallory.issues.update(
        log["iid"], {"remove_labels": ledger.LABEL, "title": "notes", "confidential": False}
    )
    mallory.labels.delete(ledger.LABEL)  # gone from the project too
    code, out = run(world, "digest", now=MORNING, capsys=capsys)
    assert code == 0, out
    assert announced(world)
    assert owed(world.gitlab) == []
    assert len(world.gitlab.issues) == 6  # the five matches and the one run log


def test_an_older_bot_issue_dressed_as_the_run_log_is_not_it(
    repo: Path, night: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world = night  # five matches staged in quiet hours: every channel owes all five
    api(world.gitlab, "mallory").issues.update(
        1, {"title": ledger.TITLE, "add_labels": ledger.LABEL, "confidential": True}
    )
    code, out = run(world, "digest", now=MORNING, capsys=capsys)
    assert code == 0, out
    assert announced(world)
    assert world.gitlab.user_notes(1) == []  # no record was written on #1


@pytest.mark.parametrize("what", ["edited", "disguised", "moved", "deleted"])
def test_a_run_log_that_disappears_stops_every_run_until_replaced(
    what: str, repo: Path, night: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world = night  # five matches staged in quiet hours: every channel owes all five
    fake = world.gitlab
    log = run_log(fake)
    mallory = api(fake, "mallory")
    if what == "edited":  # the first line kept, the rest a Reporter's
        mallory.issues.update(log["iid"], {"description": FIRST_LINE + "\nmine now"})
    elif what == "disguised":  # made to look like a staged match, and every label trace gone
        key_line = fake.issues[1]["description"].split("\n", 1)[0]
        mallory.issues.update(
            log["iid"],
            {"description": key_line, "confidential": False, "remove_labels": ledger.LABEL},
        )
        mallory.labels.delete(ledger.LABEL)
    elif what == "moved":  # to a project of the Reporter's own
        mallory.issues.get(log["iid"], lazy=True).move(2)
    else:  # an Owner deletes it (a Reporter may not: destroy_issue)
        with pytest.raises(gitlab.exceptions.GitlabDeleteError):
            mallory.issues.delete(log["iid"])
        fake.roles[2] = "owner"
        api(fake, "reviewer").issues.delete(log["iid"])
    issues_before = len(fake.issues)
    code, out = run(world, "digest", now=MORNING, capsys=capsys)
    assert code == 1
    [line] = [x for x in out.splitlines() if "run log" in x]
    assert "digest --new-run-log" in line and "nothing was sent" in line
    assert world.smtp.messages == [] and world.slack.posts == []
    assert len(fake.issues) == issues_before  # no fresh log started on its own
    later = write(repo / "later.json", later_match())
    code, out = run(world, "stage", str(later), now=MORNING, capsys=capsys)
    assert code == 1  # staged, but not announced: the run log decides what is owed
    assert "staged    #" in out and "digest --new-run-log" in out
    assert "`digest` announces these matches" not in out  # it will not: they count as announced
    assert world.smtp.messages == [] and world.slack.posts == []

    code, out = run(world, "digest", "--new-run-log", now=MORNING, capsys=capsys)
    assert "run log   started #" in out, out
    assert code == 0, out
    assert (
        len([i for i in fake.issues.values() if (i["description"] or "").startswith(FIRST_LINE)])
        == 1
    )
    code, out = run(world, "digest", "--new-run-log", now=MORNING, capsys=capsys)
    assert "run log   sound (or not started yet): nothing replaced" in out


# --- 6 and 7: key lines count only in the bot's own, unedited issues --------------------------


def later_match() -> dict[str, Any]:
    return match(id="later-1", url="https://jobs.example.com/p/later", title="Platform Lead")


def key_line(data: dict[str, Any]) -> str:
    return str(record.key_line(keys.match_keys(data.get("id"), data["url"])))


def test_a_reporter_s_issue_with_a_future_match_s_key_line_suppresses_nothing(
    repo: Path, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    later = later_match()
    api(world.gitlab, "mallory").issues.create(
        {
            "title": "[JOB-MATCH] 99% — Platform Lead",
            "description": key_line(later) + "\nnothing to see",
            "labels": "job-match,job-match/pending",
        }
    )
    code, out = run(world, "stage", str(write(repo / "later.json", later)), capsys=capsys)
    assert code == 0, out
    assert [i["author"]["username"] for i in job_matches(world.gitlab).values()] == [
        "mallory",
        "bot",
    ]


def test_a_key_line_a_reporter_wrote_into_a_bot_issue_suppresses_nothing(
    repo: Path, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    first = write(repo / "first.json", match())
    assert run(world, "stage", str(first), capsys=capsys)[0] == 0
    later = later_match()
    api(world.gitlab, "mallory").issues.update(1, {"description": key_line(later) + "\nx"})
    code, out = run(world, "stage", str(write(repo / "later.json", later)), capsys=capsys)
    assert code == 0, out
    assert sorted(job_matches(world.gitlab)) == [1, 3]  # #2 is the run log


@pytest.mark.parametrize("how", ["removed", "renamed"])
def test_a_match_whose_job_match_label_went_is_not_staged_twice(
    how: str, repo: Path, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = write(repo / "one.json", match())
    assert run(world, "stage", str(batch), capsys=capsys)[0] == 0
    mallory = api(world.gitlab, "mallory")
    if how == "removed":
        mallory.issues.update(1, {"remove_labels": "job-match"})
    else:
        label = mallory.labels.get("job-match")
        label.new_name = "old-match"
        label.save()
    code, out = run(world, "stage", str(batch), capsys=capsys)
    assert code == 0, out
    bots = [i for i in world.gitlab.issues.values() if i["author"]["username"] == "bot"]
    assert len(bots) == 2  # the match and the run log: no second issue


def test_a_reviewer_who_polished_the_draft_gets_no_second_issue(
    repo: Path, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """The freelancer edits a draft on the board, and the matcher finds the posting again
    the next day: still staged once (a reviewer's edit keeps the key; a Reporter's does not,
    above)."""
    batch = write(repo / "one.json", match())
    assert run(world, "stage", str(batch), capsys=capsys)[0] == 0
    description = world.gitlab.issues[1]["description"]
    api(world.gitlab, "reviewer").issues.update(1, {"description": description + "\nBesser."})
    capsys.readouterr()
    env = {**world.env(DAY), "MATCH_STAGING__WORKFLOW__REVIEWERS": "[reviewer]"}
    code = main(["stage", str(batch)], env)
    out = "".join(capsys.readouterr())
    assert code == 0 and "0 staged, 1 already staged" in out, out
    assert sorted(job_matches(world.gitlab)) == [1]

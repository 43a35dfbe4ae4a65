"""The embedded local tracker's pages, `.match-staging/issues/N.md`: what a person opens to see
an issue, so they show it as it stands after every change, and nothing meant for machines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from match_staging.model import IssueDraft
from match_staging.trackers.local import LocalTracker

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # read_log's window: every record

NOW = datetime(2026, 2, 8, 14, 30, tzinfo=UTC)
DESCRIPTION = (
    "<!-- match-staging v1 keys: msk-1 -->\n<!-- match-staging v1 notice: eyJhIjoxfQ== "
    "-->\n## Match Details\n- **Score:** 92%\n\n---\n<sub>Staged by match-staging from "
    "m.json. Review it on the board.</sub>\n"
)


def tracker(tmp_path: Path) -> LocalTracker:
    return LocalTracker(tmp_path / ".match-staging", clock=lambda: NOW)


def draft(title: str = "T") -> IssueDraft:
    """A pending job match, as staging drafts it."""
    return IssueDraft(
        title=title,
        description=DESCRIPTION,
        labels=("job-match", "job-match/pending"),
        keys=("msk-1",),
    )


def page(tmp_path: Path, iid: int = 1) -> str:
    return (tmp_path / ".match-staging" / "issues" / f"{iid}.md").read_text(encoding="utf-8")


def test_the_page_follows_every_change(tmp_path: Path) -> None:
    local = tracker(tmp_path)
    local.create_issue(draft("[JOB-MATCH] 92% — DevOps"))
    first = page(tmp_path)
    assert "**State:** pending · open" in first
    assert "- **Labels:** job-match, job-match/pending" in first
    assert "`match-staging review 1 --approve`" in first
    assert "## Notes (0)" in first

    local.update_issue(1, add=["job-match/approved"], remove=["job-match/pending"])
    local.add_note(1, "**Review:** pending → **approved** by ada")
    second = page(tmp_path)
    assert "**State:** approved · open" in second and "job-match/pending" not in second
    assert "`match-staging send 1`" in second
    assert "## Notes (1)" in second and "**Review:** pending → **approved** by ada" in second

    local.update_issue(
        1, add=["job-match/rejected"], remove=["job-match/approved"], state_event="close"
    )
    assert "**State:** rejected · closed" in page(tmp_path)


def test_the_page_has_no_machine_record_and_no_board(tmp_path: Path) -> None:
    local = tracker(tmp_path)
    local.create_issue(draft())
    local.add_note(1, "<!-- match-staging v1 state: approved -->\nA note")
    local.add_note(1, '<!-- match-staging:state {"to": "approved"}\n-->\nAnother')
    text = page(tmp_path)
    assert "<!--" not in text and "eyJhIjoxfQ" not in text
    assert "board" not in text
    assert "<sub>Staged by match-staging from m.json.</sub>" in text
    assert "\nA note\n" in text and "\nAnother\n" in text
    # the tracker's own record keeps everything
    assert local.get_issue(1) is not None
    assert "v1 notice" in local.get_issue(1).description  # type: ignore[union-attr]


def test_every_time_it_writes_comes_from_the_injected_clock(tmp_path: Path) -> None:
    clock = [NOW]
    local = LocalTracker(tmp_path / ".match-staging", clock=lambda: clock[0])
    local.create_issue(draft())
    clock[0] = NOW + timedelta(hours=3)
    local.update_issue(1, add=["job-match/approved"], remove=["job-match/pending"])
    local.append_log("reminders", {"iids": [1]})
    issue = local.get_issue(1)
    assert issue is not None
    assert (issue.created_at, issue.updated_at) == (
        "2026-02-08T14:30:00+00:00",
        "2026-02-08T17:30:00+00:00",
    )
    assert [e.created_at for e in local.label_events(1)] == ["2026-02-08T14:30:00+00:00"] * 2 + [
        "2026-02-08T17:30:00+00:00"
    ] * 2
    [record] = local.read_log("reminders", since=EPOCH)
    assert record.created_at == NOW + timedelta(hours=3) and record.data == {"iids": [1]}
    assert local.read_log("reminders", since=NOW + timedelta(hours=4)) == []
    assert [i.iid for i in local.changed_issues(["job-match"], NOW + timedelta(hours=1))] == [1]
    assert local.changed_issues(["job-match"], NOW + timedelta(hours=3)) == []


def test_close_and_reopen_and_a_state_that_survives_a_new_process(tmp_path: Path) -> None:
    local = tracker(tmp_path)
    local.create_issue(draft())
    assert local.update_issue(1, state_event="close").state == "closed"
    assert local.list_issues(["job-match"], state="opened") == []
    assert local.update_issue(1, state_event="reopen").state == "opened"
    again = tracker(tmp_path)  # the next command reads the same file
    assert [i.iid for i in again.list_issues(["job-match"], state="opened")] == [1]
    assert again.find_by_keys(["msk-1", "msk-2"], label="job-match", expected=1)["msk-1"].iid == 1
    assert again.get_issue(2) is None

"""The embedded local tracker's pages, `.match-staging/issues/N.md`: what a person opens to see
an issue, so they show it as it stands after every change, and nothing meant for machines."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from match_staging.model import IssueDraft
from match_staging.trackers.local import LocalTracker

NOW = datetime(2026, 2, 8, 14, 30, tzinfo=UTC)
DESCRIPTION = ("<!-- match-staging v1 keys: msk-1 -->\n<!-- match-staging v1 notice: eyJhIjoxfQ== "
               "-->\n## Match Details\n- **Score:** 92%\n\n---\n<sub>Staged by match-staging from "
               "m.json. Review it on the board.</sub>\n")


def tracker(tmp_path: Path) -> LocalTracker:
    return LocalTracker(tmp_path / ".match-staging", clock=lambda: NOW)


def page(tmp_path: Path, iid: int = 1) -> str:
    return (tmp_path / ".match-staging" / "issues" / f"{iid}.md").read_text(encoding="utf-8")


def test_the_page_follows_every_change(tmp_path: Path) -> None:
    local = tracker(tmp_path)
    local.create_issue(IssueDraft(title="[JOB-MATCH] 92% — DevOps", description=DESCRIPTION,
                                  labels=("job-match", "job-match/pending"), keys=("msk-1",)))
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

    local.update_issue(1, add=["job-match/rejected"], remove=["job-match/approved"],
                       state_event="close")
    assert "**State:** rejected · closed" in page(tmp_path)


def test_the_page_has_no_machine_record_and_no_board(tmp_path: Path) -> None:
    local = tracker(tmp_path)
    local.create_issue(IssueDraft(title="T", description=DESCRIPTION,
                                  labels=("job-match", "job-match/pending"), keys=("msk-1",)))
    local.add_note(1, "<!-- match-staging v1 state: approved -->\nA note")
    local.add_note(1, "<!-- match-staging:state {\"to\": \"approved\"}\n-->\nAnother")
    text = page(tmp_path)
    assert "<!--" not in text and "eyJhIjoxfQ" not in text
    assert "board" not in text
    assert "<sub>Staged by match-staging from m.json.</sub>" in text
    assert "\nA note\n" in text and "\nAnother\n" in text
    # the tracker's own record keeps everything
    assert local.get_issue(1) is not None
    assert "v1 notice" in local.get_issue(1).description  # type: ignore[union-attr]

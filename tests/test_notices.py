"""The notification payload every channel renders from: best match first, the review link,
and the notice a staged issue keeps so `digest` can announce it later."""

from __future__ import annotations

from match_staging.model import IssueRef, Match
from match_staging.notices import Notice, build, notice_from_issue, review_url
from match_staging.record import record_marker

URL = "https://gitlab.example.com/freelancer/backoffice/-/issues"


def notice(iid: int, score: float) -> Notice:
    return Notice(
        iid=iid,
        score=score,
        title=f"T{iid}",
        provider="P",
        issue_url=f"{URL}/{iid}",
        source_url="https://jobs.example.com/1",
    )


def test_the_payload_lists_the_best_match_first_ties_by_issue() -> None:
    payload = build("new", "c1", [notice(3, 80), notice(1, 95), notice(2, 95)], "job-match/pending")
    assert [n.iid for n in payload.matches] == [1, 2, 3]
    assert payload.top.iid == 1 and payload.kind == "new" and payload.cycle_id == "c1"
    assert [n.hot for n in payload.matches] == [True, True, False]


def test_the_review_link_is_the_pending_list_or_the_local_folder() -> None:
    assert review_url(f"{URL}/7", "job-match/pending") == (
        "https://gitlab.example.com/freelancer/backoffice/-/issues"
        "?label_name%5B%5D=job-match%2Fpending"
    )
    assert review_url("/home/u/repo/.match-staging/issues/7.md", "job-match/pending") == (
        "/home/u/repo/.match-staging/issues/"
    )


def test_a_staged_issue_keeps_its_notice_and_an_old_one_falls_back_to_its_title() -> None:
    match = Match(
        score=91.5,
        title="Cloud Architect",
        provider="Acme",
        url="https://jobs.example.com/9",
        source="cycle.json",
        position=1,
        keys=("msk-9",),
        location="Berlin",
        rate="100 €/h",
    )
    issue = IssueRef(
        iid=4,
        title="[JOB-MATCH] 91.5% — Cloud Architect",
        web_url=f"{URL}/4",
        labels=(),
        state="opened",
    )
    stored = notice_from_issue(issue, f"intro\n{record_marker(match)}\n## Details")
    assert stored == Notice.of(match, issue)
    assert (stored.score, stored.location, stored.rate) == (91.5, "Berlin", "100 €/h")
    old = notice_from_issue(issue, "## Match Details\n- **Score:** 91.5%")
    assert old.title == issue.title and old.score == 0 and old.issue_url == f"{URL}/4"


def test_every_link_of_a_payload_is_http_or_nothing() -> None:
    """A `javascript:` link was blanked in the email's HTML part only, and printed in its
    text part (issue 20): now no part of any channel receives one."""
    import dataclasses

    from match_staging import render

    bad = dataclasses.replace(notice(1, 95), source_url="javascript:alert(1)")
    other = dataclasses.replace(notice(2, 90), issue_url="data:text/html,hi")
    payload = build("new", "c1", [bad, other], "job-match/pending")
    assert [(n.source_url, n.issue_url) for n in payload.matches] == [
        ("", f"{URL}/1"),
        ("https://jobs.example.com/1", ""),
    ]
    text = render.render("match_summary.txt.j2", None, target="text", payload=payload)
    assert "javascript:" not in text and "data:" not in text

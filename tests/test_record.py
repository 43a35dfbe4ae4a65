"""The issue-text codec (record.py): every line the bot writes for itself reads back as
written, from one list of fields (issue 21, item 3).
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

from match_staging import notices, record
from match_staging.model import IssueRef, Match, State
from match_staging.trackers import ledger

MATCH = Match(
    score=87.5,
    title="Platform engineer",
    provider="Acme",
    url="https://jobs.example/1",
    source="inbox/a.json",
    position=1,
    keys=("msk-0a1b", "msk-2c3d"),
    location="Berlin",
    start="2026-03",
    duration="6 months",
    rate="100 EUR/h",
    draft="Hallo,\n--> <!-- not a comment end",
    attachments=("cv.pdf", "refs.pdf"),
    apply={"email": "jobs@acme.example", "subject": "Platform"},
)


def test_every_record_field_is_written_from_the_match_and_read_back() -> None:
    head = str(record.description_head(MATCH))
    staged = record.decode_record("## Match\n" + head + "\ntext")
    assert staged == record.MatchRecord(
        score=87.5,
        title="Platform engineer",
        provider="Acme",
        source_url="https://jobs.example/1",
        location="Berlin",
        start="2026-03",
        duration="6 months",
        rate="100 EUR/h",
        draft="Hallo,\n--> <!-- not a comment end",
        apply=record.ApplyTo(email="jobs@acme.example", subject="Platform"),
        attachments=("cv.pdf", "refs.pdf"),
    )
    for f in fields(record.MatchRecord):  # one list: each field names its Match attribute
        assert hasattr(MATCH, f.metadata["match"]), f.name


def test_the_description_head_is_key_line_state_and_record() -> None:
    lines = str(record.description_head(MATCH)).split("\n")
    assert lines[0] == "<sub>match-staging keys: msk0a1b msk2c3d</sub>"
    assert record.description_keys("\n".join(lines)) == MATCH.keys
    assert record.description_state("\n".join(lines)) is State.PENDING
    assert len(lines) == 3 and lines[2].startswith(record.PREFIX + "notice: ")


def test_a_record_of_wrong_types_reads_as_defaults() -> None:
    encoded = record.encode_json({"score": True, "title": 3, "apply": "x", "attachments": "a"})
    staged = record.decode_record(f"{record.PREFIX}notice: {encoded} -->")
    assert staged == record.MatchRecord()


def test_a_run_log_record_reads_back_as_written() -> None:
    at = datetime(2026, 2, 8, 10, 4, tzinfo=UTC)
    body = ledger.note_body("reminder", {"iids": [1, 2]}, at)
    assert body.split("\n")[0] == record.log_marker(
        {"kind": "reminder", "at": "2026-02-08T10:04:00+00:00", "data": {"iids": [1, 2]}}
    )
    found = ledger.parse_note(body, datetime(2000, 1, 1, tzinfo=UTC))
    assert found is not None and (found.kind, found.data, found.created_at) == (
        "reminder",
        {"iids": [1, 2]},
        at,
    )
    assert record.parse_log_marker(f"{record.PREFIX}log: bm90IGpzb24= -->") is None


def test_a_new_notice_is_what_the_record_gives_later() -> None:
    """`Notice.of` (this run) and `notice_from_issue` (a later run) read one record."""
    head = str(record.description_head(MATCH))
    assert record.MatchRecord.of(MATCH) == record.decode_record(head)
    issue = IssueRef(7, "t", "https://gitlab.example/i/7", labels=(), state="opened")
    assert notices.Notice.of(MATCH, issue) == notices.notice_from_issue(issue, head)

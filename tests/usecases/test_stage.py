"""`stage` against a stateful fake GitLab over real HTTP, through unmodified python-gitlab."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest

from match_staging import config, record
from match_staging.channels.base import Delivery, Rendered
from match_staging.cli import main
from match_staging.config import Config, GitLabSettings, QuietHours, TodoAssignee
from match_staging.context import Context
from match_staging.delivery import LOG_KIND
from match_staging.errors import InputError, RunLogLost, TrackerError
from match_staging.keys import match_keys
from match_staging.labels import label_specs
from match_staging.matches import Batch, read_batch
from match_staging.model import IssueRef, Match, Requirement
from match_staging.notices import Payload
from match_staging.trackers.base import Upload
from match_staging.trackers.gitlab import GitLabTracker
from match_staging.usecases.stage import (
    DESCRIPTION_MAXBYTES,
    StageReport,
    _cut,
    issue_draft,
    stage,
)
from tests.conftest import FakeTime, match, write
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.memory_tracker import MemoryTracker
from tests.notify_world import EVER

ISSUES = r"/projects/[^/]+/issues$"


@pytest.fixture
def fake() -> Iterator[FakeGitLab]:
    with FakeGitLab() as server:
        yield server


def env_for(fake: FakeGitLab, **extra: str) -> dict[str, str]:
    return {
        "GITLAB_URL": fake.url,
        "GITLAB_TOKEN": fake.token,
        "GITLAB_PROJECT": "1",
        "MATCH_STAGING__NOTIFICATION__CHANNELS__GITLAB_TODO__ASSIGNEE_ID": "2",
        **extra,
    }


def run_stage(fake: FakeGitLab, *paths: str) -> tuple[StageReport, int]:
    """One staging run as the CLI makes it; returns the report and the requests it made."""
    env = env_for(fake)
    cfg = config.load(None, env)
    tracker = GitLabTracker(
        GitLabSettings(url=fake.url, project="1"), fake.token, sleep=lambda _: None
    )
    report = stage(Context(cfg, tracker), read_batch(paths, env, "matches-inbox"))
    return report, tracker.requests


def staged_issue(fake: FakeGitLab, title_part: str) -> dict[str, Any]:
    found = [i for i in fake.issues.values() if title_part in str(i["title"])]
    assert len(found) == 1, [i["title"] for i in fake.issues.values()]
    return found[0]


def test_example_cycle_becomes_five_issues_as_ops004_describes(
    repo: Path, fake: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["stage"], env_for(fake))
    out = capsys.readouterr().out
    assert code == 0
    assert len(fake.issues) == 5
    issue = staged_issue(fake, "Cloud Architect")
    assert issue["title"] == "[JOB-MATCH] 97% — Cloud Architect - Cloud-Transformation"
    assert sorted(issue["labels"]) == ["job-match", "job-match/pending", "match-score/high"]
    assert [a["id"] for a in issue["assignees"]] == [2]
    # GitLab To-Do: the reviewer has one "assigned" to-do per new issue
    assert sorted((t["_user_id"], t["action_name"], t["_iid"]) for t in fake.todos) == [
        (2, "assigned", iid) for iid in range(1, 6)
    ]
    assert "## Score Breakdown" in str(issue["description"])
    assert "| Kubernetes / OpenShift | 95% | 2 |" in str(issue["description"])
    medium = staged_issue(fake, "Energy IoT")
    assert "match-score/medium" in medium["labels"]
    # the CV is shared by two matches: uploaded once, linked from both
    assert len(fake.uploads) == 1
    link = fake.uploads[0]["url"]
    assert str(link) in str(issue["description"])
    assert str(link) in str(staged_issue(fake, "Platform-Engineer")["description"])
    # labels were created with colours and descriptions
    assert fake.labels["job-match/pending"]["description"] == "Job match waiting for review"
    assert out.rstrip().endswith(f"· {len(fake.requests)} GitLab requests")
    for line in out.splitlines()[:5]:
        assert (
            line.startswith("staged    #") and f"{fake.url}/freelancer/backoffice/-/issues/" in line
        )


def test_first_and_second_run_cost(repo: Path, fake: FakeGitLab) -> None:
    report, requests = run_stage(fake)
    # 1 label listing + 13 label creates (first run only) + 1 upload + 5 creates; the lookup:
    # the bot (GET /user) and one page of its issues, even when the label counts say no match
    # was ever staged (a Reporter can rename the label away: issue 20)
    assert len(report.staged) == 5
    assert len(label_specs(config.Labels())) == 13
    assert requests == 1 + 13 + 1 + 5 + 2
    assert fake.count("POST", ISSUES) == 5

    fake.reset_log()
    report, requests = run_stage(fake)
    assert len(report.existing) == 5 and not report.staged
    # label listing + the bot + one page of its issues; none changed since it was created,
    # so none needs its system notes read (nobody edited it)
    assert requests == 3
    assert fake.count("POST") == 0


def test_restaging_finds_the_match_in_any_state(repo: Path, fake: FakeGitLab) -> None:
    run_stage(fake)
    issue = staged_issue(fake, "Cloud Architect")
    issue["labels"] = ["job-match", "job-match/rejected", "match-score/high"]
    issue["state"] = "closed"
    # the same posting again: other id, URL with tracking parameters and another case
    again = match(
        id="another-id",
        score=97,
        title="Cloud Architect (re-posted)",
        url="https://WWW.freelancermap.de/projekt/"
        "cloud-architect-cloud-transformation-2871934/?utm_campaign=x#top",
    )
    same_id = match(id="gulp-energy-iot", url="https://elsewhere.example/iot")
    write(repo / "again.json", [again, same_id])
    report, _ = run_stage(fake, "again.json")
    assert not report.staged
    assert [ref.iid for _, ref in report.existing] == [
        int(str(issue["iid"])),
        int(str(staged_issue(fake, "Energy IoT")["iid"])),
    ]
    assert len(fake.issues) == 5


def test_many_existing_issues_are_searched_by_key_not_listed(repo: Path, fake: FakeGitLab) -> None:
    for n in range(1000):
        keys = match_keys(f"old-{n}", f"https://old.example/{n}")
        fake.add_issue(
            f"[JOB-MATCH] 80% — old {n}",
            record.key_line(keys) + "\nold",
            labels=["job-match", "job-match/sent"],
            state="closed" if n % 2 else "opened",
        )
    write(
        repo / "new.json",
        [match(url=f"https://new.example/{n}", title=f"New {n}") for n in range(4)]
        + [match(url="https://old.example/7/")],
    )
    report, requests = run_stage(fake, "new.json")
    assert len(report.staged) == 4
    assert [m.url for m, _ in report.existing] == ["https://old.example/7/"]
    searches = fake.count("GET", ISSUES)
    assert searches == 5  # one per key: fewer than the 10 pages a listing would take
    created_labels = fake.count("POST", r"/labels$")
    assert created_labels == 11  # seeding made job-match and job-match/sent
    assert requests == 1 + created_labels + 1 + searches + 4  # 1: the bot, GET /user


def test_crash_after_create_before_answer_does_not_duplicate(repo: Path, fake: FakeGitLab) -> None:
    write(repo / "one.json", match())
    fake.drop_next("POST", ISSUES, after_commit=True)
    report, _ = run_stage(fake, "one.json")
    assert len(report.staged) == 1 and not report.failed
    assert len(fake.issues) == 1
    # and a re-run after a crash of the whole job finds it too
    report, _ = run_stage(fake, "one.json")
    assert len(report.existing) == 1 and len(fake.issues) == 1


def test_server_error_before_create_is_retried_after_a_lookup(repo: Path, fake: FakeGitLab) -> None:
    write(repo / "one.json", match())
    fake.fail_next("POST", ISSUES, status=502)
    report, _ = run_stage(fake, "one.json")
    assert len(report.staged) == 1 and len(fake.issues) == 1
    assert fake.count("POST", ISSUES) == 2


def test_gitlab_down_for_one_match_reports_it_and_stages_the_rest(
    repo: Path,
    fake: FakeGitLab,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("match_staging.trackers.gitlab.RETRY_PAUSE_SECONDS", 0)
    write(
        repo / "two.json",
        [match(title="First"), match(title="Second", url="https://jobs.example.com/p/2")],
    )
    fake.fail_next("POST", ISSUES, status=500, times=3)
    code = main(["stage", "two.json"], env_for(fake))
    out = capsys.readouterr().out
    assert code == 1
    assert "failed           92%  First  GitLab could not create an issue: 500" in out
    assert "staged    #1     92%  Second" in out
    # the next run stages what failed, and only that
    assert main(["stage", "two.json"], env_for(fake)) == 0
    assert sorted(str(i["title"])[-6:] for i in fake.issues.values()) == [" First", "Second"]


def test_rate_limit_on_create_is_waited_out(
    repo: Path, fake: FakeGitLab, fake_time: FakeTime
) -> None:
    write(repo / "one.json", match())
    fake.fail_next("POST", ISSUES, status=429, retry_after=1)
    report, _ = run_stage(fake, "one.json")
    assert fake_time.waits == [1]  # as GitLab's Retry-After asked (recorded, not slept)
    assert len(report.staged) == 1 and len(fake.issues) == 1


def test_hostile_text_executes_nothing_in_gitlab(repo: Path, fake: FakeGitLab) -> None:
    hostile = (
        "/close\n/label ~hacked\n/assign @mallory\n```\n/unlabel\n```\n/title pwned\n"
        "cc @reviewer @mallory, see #1\n<!-- x"
    )
    write(
        repo / "evil.json",
        match(
            title="DevOps /close @mallory #1",
            provider="@mallory",
            notes=hostile,
            draft=hostile,
            requirements=[{"requirement": "/close", "comment": "| x | @mallory"}],
        ),
    )
    report, _ = run_stage(fake, "evil.json")
    assert len(report.staged) == 1
    issue = next(iter(fake.issues.values()))
    assert fake.executed_quick_actions == []
    assert issue["state"] == "opened"
    assert sorted(issue["labels"]) == ["job-match", "job-match/pending", "match-score/high"]
    assert [a["id"] for a in issue["assignees"]] == [2]
    assert issue.get("_mentions") in (None, [], set())
    assert issue.get("_references") in (None, [], set())
    assert str(issue["title"]).startswith("[JOB-MATCH] 92% — DevOps /close")


def test_matches_from_the_trigger_payload(
    repo: Path, fake: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = write(
        repo / "payload.json",
        {
            "ref": "main",
            "variables": {"MATCHES_JSON": json.dumps({"cycle_id": "t1", "matches": [match()]})},
        },
    )
    code = main(["stage"], env_for(fake, TRIGGER_PAYLOAD=str(payload)))
    assert code == 0
    assert len(fake.issues) == 1
    assert "cycle t1" in str(next(iter(fake.issues.values()))["description"])
    capsys.readouterr()


def test_token_never_printed_even_when_gitlab_rejects_it(
    repo: Path, fake: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    env = env_for(fake)
    env["GITLAB_TOKEN"] = "glpat-WRONG-CANARY"
    code = main(["stage"], env)
    captured = capsys.readouterr()
    assert code == 1
    assert "401" in captured.err and "Traceback" not in captured.err
    assert "glpat-WRONG-CANARY" not in captured.out + captured.err


def test_creates_are_paced_under_the_per_minute_limit() -> None:
    """GitLab.com allows 200 issue creations a minute: the tool waits rather than 429s."""
    from match_staging.trackers.gitlab_http import Pace

    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    pace = Pace(3, sleep, clock=lambda: now[0])
    for _ in range(3):
        pace()
        now[0] += 1.0  # each create takes a second
    assert waits == []
    pace()  # the 4th within the minute waits until the 1st is a minute old
    assert waits == [57.0]
    now[0] += 1.0
    pace()  # t=61: only the creates at t=2 and t=60 are within the last minute
    assert waits == [57.0]
    pace()  # a third one now waits until t=62, when the one at t=2 is a minute old
    assert waits == [57.0, 1.0]
    assert Pace(0, sleep)() is None  # 0: no pacing


def test_issue_writes_are_paced_for_the_webhook_pipelines(repo: Path, fake: FakeGitLab) -> None:
    """Each issue write starts a webhook pipeline (GitLab.com: 25 a minute per project)."""
    from match_staging.trackers import open_tracker

    waits: list[float] = []
    tracker, _ = open_tracker(config.load(None, env_for(fake)), env_for(fake))
    assert isinstance(tracker, GitLabTracker)
    assert tracker.write_pace.per_minute == 20 and tracker.create_pace.per_minute == 200
    tracker.write_pace = type(tracker.write_pace)(2, waits.append)
    write(repo / "three.json", [match(url=f"https://jobs.example.com/p/{n}") for n in range(3)])
    report = stage(
        Context(config.load(None, env_for(fake)), tracker),
        read_batch(["three.json"], {}, "matches-inbox"),
    )
    assert len(report.staged) == 3
    assert len(waits) == 1 and waits[0] > 59  # the third write waited for the minute


# --- the threshold, and shortening a description that GitLab would refuse (issue 26) -------
# Plain data and the in-memory tracker: no server.


def a_match(n: int, score: float, **fields: Any) -> Match:
    url = f"https://jobs.example/{n}"
    return Match(
        score=score,
        title=f"Match {n}",
        provider="Acme",
        url=url,
        source="in.json",
        position=n,
        keys=match_keys(None, url),
        **fields,
    )


@pytest.mark.parametrize(
    ("threshold", "staged"),
    [(70, ["Match 2", "Match 3"]), (69.99, ["Match 1", "Match 2", "Match 3"]), (100, [])],
)
def test_a_match_exactly_at_the_threshold_is_staged(threshold: float, staged: list[str]) -> None:
    cfg = Config()
    cfg.notification.preferences.threshold = threshold
    tracker = MemoryTracker()
    batch = Batch(matches=[a_match(1, 69.99), a_match(2, 70), a_match(3, 70.01)])
    report = stage(Context(cfg, tracker), batch)
    assert [m.title for m, _ in report.staged] == staged
    assert [m.title for m in report.below] == [
        m.title for m in batch.matches if m.title not in staged
    ]
    assert report.threshold == threshold
    assert len(tracker.issues) == len(staged)


def test_a_match_twice_in_one_batch_is_staged_once() -> None:
    tracker = MemoryTracker()
    first, twin = a_match(1, 90), dataclasses.replace(a_match(1, 80), position=2)
    report = stage(Context(Config(), tracker), Batch(matches=[first, twin]))
    assert [m.position for m, _ in report.staged] == [1]
    assert report.repeated == [(twin, first)]
    assert len(tracker.issues) == 1


def size(text: str) -> int:
    return len(text.encode("utf-8"))


@pytest.mark.parametrize(
    ("text", "limit", "cut"),
    [
        (None, 10, None),
        ("", 0, ""),
        ("abc", 3, "abc"),  # exactly at the limit: untouched
        ("abcd", 3, "…"),  # no room for a character beside the ellipsis's 3 bytes
        ("abcd", 2, ""),  # no room for the ellipsis itself: nothing (issue 26: "abc…" was
        ("abcd", 1, ""),  # 6 bytes for a 2-byte limit)
        ("a", 1, "a"),  # fits: untouched at any limit
        ("abcdef", 5, "ab…"),  # 2 bytes + 3 for "…"
        ("abcdef", 0, ""),
        ("ä" * 10, 20, "ä" * 10),  # 10 characters, 20 bytes: fits
        ("ä" * 10, 19, "ä" * 8 + "…"),  # 16 bytes + 3: a byte limit, not a character one
        ("ä" * 10, 18, "ä" * 7 + "…"),  # never half a character
        ("😀" * 5, 10, "😀…"),
        ("😀" * 5, 6, "…"),
        ("word    " * 4, 19, "word    word…"),  # spaces before the ellipsis go
    ],
)
def test_cut_counts_utf8_bytes_and_the_ellipsis(text: str | None, limit: int, cut: str) -> None:
    found = _cut(text, limit)
    assert found == cut
    assert found is None or size(found) <= max(limit, 0)


def cells(description: str) -> list[str]:
    """The requirement and comment cells of the score-breakdown table."""
    rows = [line for line in description.splitlines() if line.startswith("| &")]
    return [c.strip() for row in rows for c in row.strip("|").split(" | ")[::3]]


def test_a_long_valid_match_is_shortened_to_fit_cells_included() -> None:
    """The longest match the schema allows, in the text that grows most when escaped ("&"
    is 5 bytes): shortened at the first step, every cell to 200 characters, the draft and
    notes to 40,000 bytes each; the record marker keeps the full draft for `send`."""
    rows = tuple(Requirement("&" * 500, 90, 1, "&" * 1000) for _ in range(100))
    match = a_match(1, 90, requirements=rows, draft="&" * 100_000, notes="&" * 20_000)
    description = issue_draft(Config(), match, []).description
    assert DESCRIPTION_MAXBYTES // 2 < size(description) <= DESCRIPTION_MAXBYTES
    shown = cells(description)
    assert len(shown) == 200
    assert all(c == "&amp;" * 199 + "…" for c in shown), {c[-20:] for c in shown}
    assert "> " + "&amp;" * 39_997 + "…" in description  # 39,997 bytes + "…" (3 bytes)
    assert "> " + "&amp;" * 20_000 + "\n" in description  # the notes fit whole
    assert "_Shortened here to fit GitLab's description limit" in description
    assert record.decode_record(description) is not None
    found = record.decode_record(description)
    assert found is not None and found.draft == "&" * 100_000


def test_the_limit_is_in_bytes_not_characters() -> None:
    """300,000 emoji: 300,000 characters (fits a character count), 1.2 MB (does not)."""
    match = a_match(1, 90, notes="😀" * 300_000)
    description = issue_draft(Config(), match, []).description
    assert size(description) <= DESCRIPTION_MAXBYTES
    assert "> " + "😀" * 9_999 + "…\n" in description  # 40,000 bytes: 9,999 emoji + "…"


def test_a_match_that_fits_is_not_shortened_and_one_that_cannot_is_refused() -> None:
    small = issue_draft(Config(), a_match(1, 90, draft="Hallo", notes="n"), []).description
    assert "Shortened" not in small and "> Hallo" in small
    # the record marker keeps the full draft: 300,000 emoji do not fit however it is shown
    with pytest.raises(InputError, match="more than GitLab's 1,048,576: shorten the draft"):
        issue_draft(Config(), a_match(1, 90, draft="😀" * 300_000), [])


@pytest.mark.parametrize(
    ("score", "level"), [(69.99, "low"), (70, "medium"), (89.99, "medium"), (90, "high")]
)
def test_the_issue_a_match_becomes(score: float, level: str) -> None:
    draft = issue_draft(Config(), a_match(7, score), [])
    assert draft.labels == ("job-match", "job-match/pending", f"match-score/{level}")
    assert draft.keys == match_keys(None, "https://jobs.example/7")
    assert draft.assignee_ids == ()
    todo = Config()
    todo.notification.channels.gitlab_todo = TodoAssignee(enabled=True, assignee_id=5)
    assert issue_draft(todo, a_match(7, score), []).assignee_ids == (5,)


class Quiet:
    """A channel stage may only queue for: it is night in Vienna (the tests' quiet hours)."""

    name: ClassVar[str] = "slack"

    def render(self, payload: Payload) -> list[Rendered]:
        return []

    def send(self, payload: Payload) -> Delivery:
        raise AssertionError("nothing is sent in quiet hours")


def test_the_queue_keeps_each_new_issues_record_and_a_rerun_writes_nothing() -> None:
    """The delivery queue holds the fingerprint of the record line each new issue got (a
    later run announces the record only while the issue still holds it); a run that stages
    nothing new and owes nothing new writes no queue (issue 26: the cost, one request)."""
    cfg = Config()
    cfg.notification.preferences.quiet_hours = QuietHours("22:00", "07:00", "Europe/Vienna")
    night = datetime(2026, 2, 9, 22, 30, tzinfo=UTC)  # 23:30 in Vienna
    tracker = MemoryTracker(clock=lambda: night)
    ctx = Context(cfg, tracker, channels=[Quiet()], clock=lambda: night)
    batch = Batch(matches=[a_match(1, 90), a_match(2, 95)])

    first = stage(ctx, batch)
    assert [ref.iid for _, ref in first.staged] == [1, 2] and first.notify.deferred == (1, 2)
    [queue] = [r.data for r in tracker.read_log(LOG_KIND, since=EVER)]
    assert queue["pending"] == {"slack": [1, 2]}
    assert queue["records"] == {
        str(iid): record.fingerprint(tracker.issues[iid].ref.description) for iid in (1, 2)
    }
    assert all(queue["records"].values())

    again = stage(ctx, batch)
    assert again.staged == [] and len(again.existing) == 2 and again.notify.deferred == (1, 2)
    assert len(tracker.read_log(LOG_KIND, since=EVER)) == 1  # nothing changed: not written


class Sent:
    """A channel that delivers everything, and keeps what it was asked to send."""

    name: ClassVar[str] = "slack"

    def __init__(self) -> None:
        self.sent: list[Payload] = []

    def render(self, payload: Payload) -> list[Rendered]:
        return []

    def send(self, payload: Payload) -> Delivery:
        self.sent.append(payload)
        return Delivery(self.name, True, "ok")


@pytest.mark.parametrize(
    ("failure", "said"),
    [
        (
            RunLogLost("the run log was moved"),
            f"the run log was moved: {RunLogLost.RECOVER}",
        ),
        (
            TrackerError("GitLab answered 503"),
            "GitLab answered 503: nothing was sent; the next `stage` or `digest` announces "
            "these matches",
        ),
    ],
)
def test_a_queue_that_cannot_be_read_sends_nothing_and_says_so(
    monkeypatch: pytest.MonkeyPatch, failure: TrackerError, said: str
) -> None:
    tracker = MemoryTracker()
    channel = Sent()

    def unreadable(kind: str) -> None:
        raise failure

    monkeypatch.setattr(tracker, "latest_log", unreadable)
    report = stage(Context(Config(), tracker, channels=[channel]), Batch([a_match(1, 90)]))
    assert [ref.iid for _, ref in report.staged] == [1]  # the issue stays staged
    assert channel.sent == [] and report.notify.unrecorded == [said] and not report.ok


def test_the_reviewers_edits_keep_a_matchs_key() -> None:
    """A reviewer's edit of a draft keeps the issue the holder of its key: the lookup is
    told who they are (`workflow.reviewers`; the GitLab tracker trusts only their edits)."""
    asked: list[object] = []

    class Lookup(MemoryTracker):
        def find_by_keys(
            self, keys: Sequence[str], *, label: str, expected: int, editors: Collection[str] = ()
        ) -> dict[str, IssueRef]:
            asked.append(editors)
            return super().find_by_keys(keys, label=label, expected=expected, editors=editors)

    cfg = Config()
    cfg.workflow.reviewers = ["anna", "ben"]
    stage(Context(cfg, Lookup()), Batch([a_match(1, 90)]))
    assert asked == [["anna", "ben"]]


def test_a_match_whose_attachment_is_missing_is_refused_by_name_and_the_rest_staged(
    tmp_path: Path,
) -> None:
    """Refused with the match named (its place in the document and its title), before
    anything was uploaded or created; the next match is still staged."""
    tracker = MemoryTracker()
    missing = a_match(1, 90, attachments=("cv/gone.pdf",))
    ctx = Context(Config(), tracker, root=tmp_path)
    report = stage(ctx, Batch([missing, a_match(2, 90)]))
    [refused] = report.rejected
    assert str(refused).startswith("in.json: match 1 ('Match 1'): ")
    assert (refused.match, refused.position) == (missing.label, 1)
    assert [m.title for m, _ in report.staged] == ["Match 2"] and tracker.uploads == []


def test_every_reason_a_match_is_not_staged_is_reported_and_the_rest_are_staged() -> None:
    """A document's errors, a match too large for GitLab and a match twice in the batch
    are each reported; the matches after each are still staged (issue 26)."""
    tracker = MemoryTracker()
    unreadable = InputError("broken.json", "not JSON")
    huge = a_match(1, 90, draft="😀" * 300_000)  # 1.2 MB: more than a description may hold
    first, third = a_match(2, 90), a_match(3, 90)
    twin = dataclasses.replace(a_match(2, 80), position=4)
    batch = Batch(matches=[huge, first, twin, third], errors=[unreadable])
    report = stage(Context(Config(), tracker), batch)
    assert [m.title for m, _ in report.staged] == ["Match 2", "Match 3"]
    assert report.repeated == [(twin, first)]
    [document, too_large] = report.rejected
    assert document is unreadable
    assert isinstance(too_large, InputError) and "more than GitLab's 1,048,576" in str(too_large)
    assert not report.ok and len(tracker.issues) == 2


def test_the_cycle_a_run_announces_is_the_matches_own_else_the_time_in_utc() -> None:
    """The cycle id names the run's messages: the batch's own, else the run's time in UTC
    on any machine (issue 26)."""
    vienna = datetime(2026, 2, 9, 10, 0, tzinfo=ZoneInfo("Europe/Vienna"))  # 09:00 UTC
    cycles = []
    for cycle_id in (None, "c-7"):
        channel = Sent()
        ctx = Context(Config(), MemoryTracker(), channels=[channel], clock=lambda: vienna)
        zone = os.environ.get("TZ")
        os.environ["TZ"] = "Asia/Tokyo"  # a machine 9 hours east of UTC
        time.tzset()
        try:
            stage(ctx, Batch([a_match(1, 90, cycle_id=cycle_id)]))
        finally:
            if zone is None:
                del os.environ["TZ"]
            else:
                os.environ["TZ"] = zone
            time.tzset()
        cycles += [p.cycle_id for p in channel.sent]
    assert cycles == ["2026-02-09T09:00:00Z", "c-7"]


def test_the_description_is_rendered_from_the_users_template(tmp_path: Path) -> None:
    (tmp_path / "issue.md.j2").write_text("Eigene Vorlage: {{ m.title }}\n{{ marker }}\n")
    cfg = Config()
    cfg.staging.templates_dir = str(tmp_path)
    description = issue_draft(cfg, a_match(1, 90), []).description
    assert description.startswith("Eigene Vorlage: Match 1\n")
    assert record.decode_record(description) is not None


def test_a_description_of_exactly_the_limit_is_not_shortened_one_byte_more_is() -> None:
    """GitLab takes 1,048,576 bytes (`bytesize: { maximum: }`): exactly that fits whole."""

    def described(draft: int, notes: int = 1) -> str:
        match = a_match(1, 90, draft="a" * draft, notes="b" * notes)
        return issue_draft(Config(), match, []).description

    # The sizes that fill the limit exactly are found, not written down: the template's own
    # size changes with the record (the draft is in it twice: as text and in the record).
    # The size grows with the draft by the same bytes a character on average (the record's
    # base64 in groups of three): two drafts 300,000 characters apart tell where the limit
    # is to within a few characters; a bracket around that is bisected.
    one, two = size(described(1_000)), size(described(301_000))
    guess = 1_000 + (DESCRIPTION_MAXBYTES - one) * 300_000 // (two - one)
    low, high = guess - 64, guess + 64  # unshortened; shortened
    assert "Shortened" not in described(low) and "Shortened" in described(high)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if "Shortened" not in described(middle) else (low, middle)
    exact = next(
        (
            (draft, notes)
            for draft in (low - 2, low - 1, low)
            for notes in range(1, 8)
            if size(described(draft, notes)) == DESCRIPTION_MAXBYTES
        ),
        None,
    )
    assert exact, "no draft and notes length fill the limit exactly"
    draft, notes = exact
    fits = described(draft, notes)
    assert size(fits) == DESCRIPTION_MAXBYTES and "Shortened" not in fits
    over = described(draft + 1, notes)
    assert size(over) <= DESCRIPTION_MAXBYTES and "Shortened" in over


def test_a_shortened_description_keeps_the_users_template_and_the_attachments() -> None:
    match = a_match(1, 90, draft="&" * 180_000)  # 900 kB escaped: shortened
    upload = Upload("cv.pdf", "/uploads/abc/cv.pdf")
    description = issue_draft(Config(), match, [upload]).description
    assert "_Shortened here to fit" in description
    assert "[cv.pdf](</uploads/abc/cv.pdf>)" in description


def test_the_users_template_is_used_when_shortened_too(tmp_path: Path) -> None:
    template = "Eigene Vorlage{% if shortened %}, gekürzt{% endif %}\n{{ m.draft }}\n{{ marker }}\n"
    (tmp_path / "issue.md.j2").write_text(template, encoding="utf-8")
    cfg = Config()
    cfg.staging.templates_dir = str(tmp_path)
    description = issue_draft(cfg, a_match(1, 90, draft="&" * 180_000), []).description
    assert description.startswith("Eigene Vorlage, gekürzt&amp;&amp;")  # trim_blocks


def test_a_match_too_large_even_shortened_is_refused_by_its_name() -> None:
    match = a_match(1, 90, draft="😀" * 300_000)
    with pytest.raises(InputError) as refused:
        issue_draft(Config(), match, [])
    assert (refused.value.source, refused.value.match) == ("in.json", match.label)

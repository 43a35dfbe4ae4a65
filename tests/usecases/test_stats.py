"""`match-staging stats` through the CLI on a known history (issue 24, "Done when"): 40
matches over the bands, staged, decided by the reviewer on the board (the webhook's
`transition`, `digest`'s repair) and with `review` (some rejected with reasons), some sent;
every number of the JSON checked against values worked out by hand below. Once on the fake
GitLab, once on the local tracker: the same history, the same JSON.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest
from PIL import Image

from match_staging.chart import APPROVED, REJECTED
from match_staging.cli import main
from tests.conftest import deployment, match, patch_time, write
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.smtp_sink import SmtpSink
from tests.gate import REVIEWER, Gate, Staged, printed, staged_once

T0 = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Vienna: no quiet hours

Fate = Literal["pending", "approved", "rejected", "sent"]
Via = Literal["", "review", "board", "repair"]


@dataclass(frozen=True)
class Planned:
    score: float
    fate: Fate
    via: Via = ""  # how the reviewer decides: `review`, the board (webhook), the board (repair)
    reason: str = ""


# The history, band by band: (score, what the reviewer does, how, the reason given).
HISTORY = [
    # 70-74: 1 approved, 5 rejected, 2 pending
    Planned(70, "rejected", "review", "Rate too low"),
    Planned(71, "rejected", "review", "Rate too low"),
    Planned(72, "rejected", "review", " Rate  too low"),  # counted with the two above
    Planned(73, "rejected", "review", "Too far"),
    Planned(74, "rejected", "board"),  # a card moved: no reason
    Planned(74.5, "approved", "review"),
    Planned(70.5, "pending"),
    Planned(73.5, "pending"),
    # 75-79: 2 approved, 3 rejected, 2 pending
    Planned(75, "rejected", "review", "Rate too low"),
    Planned(76, "rejected", "review", "Wrong stack"),
    Planned(77, "rejected", "review", "Wrong stack"),
    Planned(78, "approved", "board"),
    Planned(79.9, "approved", "review"),
    Planned(76.5, "pending"),
    Planned(78.5, "pending"),
    # 80-84: 4 approved, 2 rejected, 1 pending
    Planned(80, "rejected", "review", "Wrong stack"),
    Planned(81, "rejected", "repair"),
    Planned(82, "approved", "review"),
    Planned(83, "approved", "board"),
    Planned(84, "approved", "repair"),
    Planned(84.9, "approved", "review"),
    Planned(80.5, "pending"),
    # 85-89: 4 approved, 1 rejected, 1 pending
    Planned(85, "rejected", "review", "Too far"),
    Planned(86, "approved", "review"),
    Planned(87, "approved", "review"),
    Planned(88, "approved", "board"),
    Planned(89, "approved", "review"),
    Planned(85.5, "pending"),
    # 90-94: 5 approved (1 then sent), 1 pending
    Planned(90, "sent", "review"),
    Planned(91, "approved", "review"),
    Planned(92, "approved", "board"),
    Planned(93, "approved", "review"),
    Planned(94, "approved", "review"),
    Planned(92.5, "pending"),
    # 95-100: 5 approved (2 then sent), 1 rejected
    Planned(95, "rejected", "review", "Rate too low"),
    Planned(96, "sent", "review"),
    Planned(97, "approved", "board"),
    Planned(98, "approved", "review"),
    Planned(99, "approved", "review"),
    Planned(100, "sent", "review"),
]
assert len(HISTORY) == 40


def requirements(plan: Planned) -> list[dict[str, Any]]:
    """Python on every match: 90 where the reviewer approves, 50 where they reject, 70 on
    the pending ones; Kubernetes from 85 on: 80 approved, 60 and 70 on the two rejected.
    """
    python = {"approved": 90, "sent": 90, "rejected": 50, "pending": 70}[plan.fate]
    found = [{"requirement": "Python", "score": python, "weight": 2}]
    if plan.score >= 85:
        kube = {85: 60, 95: 70}.get(int(plan.score), 80)
        found.append({"requirement": "Kubernetes", "score": kube, "weight": 1})
    return found


# Worked out by hand from HISTORY (the state columns of issue 23 are all 0 here).
ZERO = {"expired": 0, "interview": 0, "offer": 0, "declined": 0, "ghosted": 0}


def band(low: int, high: int, counts: tuple[int, int, int, int, int], rate: float | None) -> Any:
    """A band's JSON: staged, pending, approved, rejected, sent, then its rate."""
    names = ("staged", "pending", "approved", "rejected", "sent")
    head = {"band": f"{low}-{high}", "low": low, "high": high}
    return head | dict(zip(names, counts, strict=True)) | ZERO | {"approval_rate": rate}


EXPECTED_BANDS = [
    band(70, 74, (8, 2, 1, 5, 0), 0.1667),  # 1 / 6
    band(75, 79, (7, 2, 2, 3, 0), 0.4),  # 2 / 5
    band(80, 84, (7, 1, 4, 2, 0), 0.6667),  # 4 / 6
    band(85, 89, (6, 1, 4, 1, 0), 0.8),  # 4 / 5
    band(90, 94, (6, 1, 5, 0, 1), 1.0),  # 5 / 5, 90 sent too
    band(95, 100, (6, 0, 5, 1, 2), 0.8333),  # 5 / 6, 96 and 100 (the top band) sent too
]
# The 33 decisions are made an hour apart, the n-th n hours after staging: 1 .. 33 h.
# Median: the 17th of 33 = 17 h. 90th percentile, nearest rank: ceil(0.9 * 33) = 30th = 30 h.
EXPECTED_HOURS = {"median": 17.0, "p90": 30.0}
# Rate too low: 70, 71, 72 (whitespace collapsed), 75, 95; Wrong stack: 76, 77, 80; Too far:
# 73, 85. The rejections on the board (74, 81) carry no reason.
EXPECTED_REASONS = [["Rate too low", 5], ["Wrong stack", 3], ["Too far", 2]]
# Python: 21 approved at 90, 12 rejected at 50, n = 33 decided (pending ones left out).
# Kubernetes: from 85 on, 14 approved (4 + 5 + 5) at 80, rejected 85 (60) and 95 (70): 65.
EXPECTED_REQUIREMENTS = [
    {"requirement": "Kubernetes", "approved_mean": 80.0, "rejected_mean": 65.0, "n": 16},
    {"requirement": "Python", "approved_mean": 90.0, "rejected_mean": 50.0, "n": 33},
]
# With stats.target_approval_rate 0.75 and 10 decisions: from 70, 21 of 33 (64 %); from 75,
# 20 of 27 (74 %); from 80, 18 of 22 (82 %): 80.
EXPECTED_THRESHOLD = 80


class World:
    """Runs the CLI at a given hour after staging and moves cards as the reviewer does."""

    kind: str

    def run(self, hour: float, *argv: str, **env: str) -> tuple[int, str]:
        raise NotImplementedError

    def board(self, iid: int, hour: float, add: str, remove: str, *, webhook: bool) -> None:
        raise NotImplementedError


class OnGitLab(World):
    kind = "gitlab"

    def __init__(self, gate: Gate) -> None:
        self.gate, self.hour = gate, 0.0
        gate.fake.clock = lambda: T0 + timedelta(hours=self.hour)  # GitLab's clock

    def run(self, hour: float, *argv: str, **env: str) -> tuple[int, str]:
        self.hour = hour
        now = (T0 + timedelta(hours=hour)).isoformat()
        return self.gate.run(*argv, MATCH_STAGING_NOW=now, **env)

    def board(self, iid: int, hour: float, add: str, remove: str, *, webhook: bool) -> None:
        self.hour = hour
        event = self.gate.move(iid, REVIEWER, add=f"job-match/{add}", remove=f"job-match/{remove}")
        if webhook:
            code, out = self.run(hour, "transition", "--payload", self.gate.payload(event))
        else:
            code, out = self.run(hour, "digest")
        assert code == 0 and f"applied   #{iid}: {remove} -> {add}" in out, out


class Local(World):
    kind = "local"

    def __init__(self, repo: Path, capsys: pytest.CaptureFixture[str] | None) -> None:
        """`capsys` None: for a module's fixture (capsys is a test's), which catches what a
        run prints itself."""
        self.repo, self.capsys = repo, capsys

    def run(self, hour: float, *argv: str, **extra: str) -> tuple[int, str]:
        env = {
            "MATCH_STAGING_NOW": (T0 + timedelta(hours=hour)).isoformat(),
            "MATCH_STAGING__WORKFLOW__REVIEWERS": "[reviewer]",
            "GITLAB_USER_LOGIN": "reviewer",
            **extra,
        }
        if self.capsys is None:
            code, out, err = printed(list(argv), env)
            out += err
        else:
            self.capsys.readouterr()
            code = main(list(argv), env)
            captured = self.capsys.readouterr()
            out = captured.out + captured.err
        assert "Traceback" not in out
        return code, out

    def board(self, iid: int, hour: float, add: str, remove: str, *, webhook: bool) -> None:
        """The reviewer moves the card in the local tracker's file (no webhook here: the
        scheduled `digest` applies it, as it repairs a missed event on GitLab).
        """
        path = self.repo / ".match-staging" / "tracker.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        (issue,) = [i for i in data["issues"] if i["iid"] == iid]
        at = (T0 + timedelta(hours=hour)).isoformat(timespec="seconds")
        issue["labels"] = [lb for lb in issue["labels"] if lb != f"job-match/{remove}"]
        issue["labels"].append(f"job-match/{add}")
        issue["label_events"] = [
            *issue.get("label_events", []),
            *(
                {"user": "reviewer", "label": f"job-match/{lb}", "action": act, "created_at": at}
                for lb, act in ((remove, "remove"), (add, "add"))
            ),
        ]
        issue["updated_at"] = at
        path.write_text(json.dumps(data), encoding="utf-8")
        code, out = self.run(hour, "digest")
        assert code == 0 and f"applied   #{iid}: {remove} -> {add}" in out, out


@pytest.fixture(params=["gitlab", "local"])
def world(
    request: pytest.FixtureRequest, repo: Path, capsys: pytest.CaptureFixture[str]
) -> Iterator[World]:
    if request.param == "local":
        yield Local(repo, capsys)
        return
    with FakeGitLab() as fake, SmtpSink() as smtp:
        yield OnGitLab(Gate(fake, smtp, repo, capsys))


def play(world: World, repo: Path) -> dict[int, Planned]:
    """Stage HISTORY at hour 0, then make each decision an hour after the one before, then
    move three approved cards on to sent. Returns each planned match by its issue number.
    """
    document = {
        "cycle_id": "stats-1",
        "matches": [
            match(
                id=f"m-{n}",
                score=plan.score,
                title=f"Rolle {n}",
                url=f"https://jobs.example.com/p/{n}",
                requirements=requirements(plan),
            )
            for n, plan in enumerate(HISTORY)
        ],
    }
    write(repo / "batch" / "stats.json", document)  # named as in the repository (copied)
    code, out = world.run(0, "stage", "batch/stats.json")
    assert code == 0 and "40 staged" in out, out
    # stage makes the issues best first: the issue of each planned match by its title
    by_iid = _issues(world, repo)
    hour = 0
    for iid, plan in sorted(by_iid.items(), key=lambda item: HISTORY.index(item[1])):
        if plan.fate == "pending":
            continue
        hour += 1
        target = "rejected" if plan.fate == "rejected" else "approved"
        if plan.via == "review":
            reason = ("--reason", plan.reason) if plan.reason else ()
            verdict = {"approved": "--approve", "rejected": "--reject"}[target]
            code, out = world.run(hour, "review", str(iid), verdict, *reason)
            assert code == 0 and f"applied   #{iid}: pending -> {target}" in out, out
        else:
            world.board(iid, hour, target, "pending", webhook=plan.via == "board")
    assert hour == 33
    for iid, plan in by_iid.items():
        if plan.fate == "sent":  # applied on a portal by hand: the card moves on to sent
            hour += 1
            world.board(iid, hour, "sent", "approved", webhook=True)
    return by_iid


@pytest.fixture(scope="module")
def played_local(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A deployment where `play` ran once on the local tracker (its assertions included),
    for the module's local tests to copy: its 80 commands were most of what each cost."""
    where = tmp_path_factory.mktemp("played")
    with pytest.MonkeyPatch.context() as patch:
        deployment(where, patch)
        patch_time(patch)
        play(Local(where, None), where)
    return where


def played(world: World, repo: Path, request: pytest.FixtureRequest) -> None:
    """`play` on `world`; on the local tracker, a copy of where it was played once (the
    tracker's file, its issue pages and outbox/: all the history there is). A test on
    GitLab does not ask for the local play."""
    if world.kind == "local":
        played_local = request.getfixturevalue("played_local")
        shutil.copytree(played_local, repo, symlinks=True, dirs_exist_ok=True)
    else:
        play(world, repo)


def _issues(world: World, repo: Path) -> dict[int, Planned]:
    code, out = world.run(0, "list")
    assert code == 0, out
    found = {}
    for line in out.splitlines():
        if line.startswith("#"):
            iid, title = int(line.split()[0][1:]), line.rsplit("Rolle ", 1)[1]
            found[iid] = HISTORY[int(title)]
    assert len(found) == 40, out
    return found


def document(out: str) -> Any:
    """The JSON document standard output holds (the local tracker's notice beside it)."""
    return json.JSONDecoder().raw_decode(out, out.index("{"))[0]


def test_stats_json_is_the_history_counted_by_hand(
    world: World, repo: Path, request: pytest.FixtureRequest
) -> None:
    played(world, repo, request)
    code, out = world.run(
        60, "stats", "--format", "json", MATCH_STAGING__STATS__TARGET_APPROVAL_RATE="0.75"
    )
    assert code == 0, out
    found = document(out)
    assert found == {
        "since": None,
        "until": (T0 + timedelta(hours=60)).isoformat(),
        "bands": EXPECTED_BANDS,
        "time_to_review_hours": EXPECTED_HOURS,
        "rejection_reasons": EXPECTED_REASONS,
        "requirements": EXPECTED_REQUIREMENTS,
        "suggested_threshold": EXPECTED_THRESHOLD,
    }
    # the default bar (10 decisions at 50 %) is met from the lowest edge on: 21 of 33
    code, out = world.run(60, "stats", "--format", "json")
    assert document(out)["suggested_threshold"] == 70
    # requests: the bot's user, one page of 40 issues, the notes of the 33 decided; the 7
    # pending ones were never touched and cost nothing
    code, out = world.run(60, "stats")
    requests = "35 GitLab requests" if world.kind == "gitlab" else "0 GitLab requests (local)"
    assert code == 0 and f"stats     40 matches · {requests}" in out, out


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Staged]:
    with staged_once(tmp_path_factory.mktemp("staged"), ("stage",)) as done:
        yield done


@pytest.fixture
def gate(staged: Staged, repo: Path, capsys: pytest.CaptureFixture[str]) -> Gate:
    """The repository's five matches staged on the fake GitLab (once per module:
    `staged_once`)."""
    return staged.gate(repo, capsys)


def test_only_the_bots_records_count_and_what_it_costs(gate: Gate) -> None:
    """A Reporter's issue with the labels and a copied record is no match, a copied reason
    or state marker in their note is no decision, and a match whose description they edited
    is left out (its score could be theirs). Requests: the bot's identity, one listing of
    the matches, the notes of each match that has notes or changed since it was staged.
    """
    code, out = gate.run(
        "review", "1", "--reject", "--reason", "Rate too low", GITLAB_USER_LOGIN="reviewer"
    )
    assert code == 0, out
    bot_note = gate.notes(1)[0]
    reason_line = next(ln for ln in bot_note.splitlines() if "v1 reason:" in ln)
    copied = gate.fake.issues[2]["description"]
    gate.fake.add_issue("[JOB-MATCH] 99% — copy", copied, labels=["job-match"], author_id=3)
    gate.note(2, "mallory", f"rejected\n\n{reason_line}\n<!-- match-staging v1 state: rejected -->")
    gate.edit(3, "mallory", gate.fake.issues[3]["description"] + "\nedited")
    gate.fake.reset_log()
    code, out = gate.run("stats", "--format", "json")
    assert code == 0, out
    found = document(out)
    assert sum(b["staged"] for b in found["bands"]) == 4  # #1, #2, #4, #5; not #3, not the copy
    assert sum(b["rejected"] for b in found["bands"]) == 1
    assert found["rejection_reasons"] == [["Rate too low", 1]]
    # GET /user, one page of issues, the notes of #1 (decided), #2 (a note), #3 (edited);
    # #4 and #5 are as staged and cost nothing (where bootstrap recorded the label ids, the
    # label check of every run adds one)
    assert gate.fake.count("GET", r"/issues/\d+/notes$") == 3
    assert len(gate.fake.requests) == 5, [r.path for r in gate.fake.requests]
    code, out = gate.run("stats")
    assert code == 0 and "left out (record not the bot's): #3\n" in out, out  # not the copy
    assert "stats     4 matches · 5 GitLab requests" in out


def test_a_match_whose_draft_the_reviewer_polished_still_counts(gate: Gate) -> None:
    """The freelancer polishing a draft on the board (docs/design.md: a reviewer's edit
    keeps the match's key) and then approving it is the usual way: that decision counts, as
    the reviewer's edit is no outsider's score. Only others' edits leave a match out.
    """
    gate.edit(4, "reviewer", gate.fake.issues[4]["description"] + "\nMit freundlichen Grüßen")
    code, out = gate.run("review", "4", "--approve", GITLAB_USER_LOGIN="reviewer")
    assert code == 0, out
    code, out = gate.run("stats", "--format", "json")
    assert code == 0, out
    found = document(out)
    assert sum(b["staged"] for b in found["bands"]) == 5
    assert sum(b["approved"] for b in found["bands"]) == 1
    code, out = gate.run("stats")
    assert code == 0 and "left out" not in out, out


def test_stats_and_its_text_without_the_charts_extra(
    gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The core install has no Pillow: `stats` works, `--chart` says what it needs."""
    monkeypatch.setitem(sys.modules, "PIL", None)  # `import PIL` fails as if not installed
    monkeypatch.delitem(sys.modules, "match_staging.chart", raising=False)
    code, out = gate.run("stats", "--chart", "chart.png", "--since", "2000-01-01")
    assert code == 0, out
    assert "no chart: it needs the extra `charts`" in out
    assert not (gate.repo / "chart.png").exists()
    assert "95-100" in out and "stats     5 matches" in out
    code, out = gate.run("stats", "--since", "2999-01-01")  # staged before
    assert code == 0 and "stats     0 matches" in out, out
    code, out = gate.run("stats", "--since", "8.2.2026")
    assert code == 2 and "--since '8.2.2026': not a date (YYYY-MM-DD)" in out, out
    # the weekly digest: the email has the text table and no image
    code, out = gate.run("review", "1", "--approve", GITLAB_USER_LOGIN="reviewer")
    assert code == 0, out
    code, out = gate.run("digest", MATCH_STAGING_NOW=MONDAY, **EMAIL)
    assert code == 0 and "sent      email     key stats-2026-W07: " in out, out
    (mail,) = [m for m in gate.smtp.messages if "Wochenstatistik" in str(m["Subject"])]
    assert "95-100 ████░░░░ 1/1" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert [p.get_content_type() for p in mail.walk() if p.get_content_maintype() == "image"] == []
    assert "cid:" not in mail.get_body(("html",)).get_content()  # type: ignore[union-attr]


MONDAY = "2026-02-09T10:00:00+01:00"  # stats.weekly_on: monday (the default)
EMAIL = {"MATCH_STAGING__NOTIFICATION__CHANNELS__EMAIL__ENABLED": "true"}


def test_the_weekly_digest_mails_the_table_and_the_chart_once(gate: Gate) -> None:
    for iid, verdict in ((1, "--approve"), (2, "--reject"), (4, "--reject")):
        code, out = gate.run("review", str(iid), verdict, GITLAB_USER_LOGIN="reviewer")
        assert code == 0, out
    code, out = gate.run("digest", MATCH_STAGING_NOW=MONDAY, **EMAIL)
    assert code == 0 and "sent      email     key stats-2026-W07: " in out, out
    (mail,) = [m for m in gate.smtp.messages if "Wochenstatistik" in str(m["Subject"])]
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # the repository's five, best first: #1 (97) approved and #2 rejected in 95-100, #3
    # pending and #4 rejected in 90-94, #5 pending in 80-84; two in the widest band: 4 cells
    # a match
    lines = [ln for ln in text.splitlines() if ln[:2].isdigit()]
    assert lines == ["95-100 ████▒▒▒▒ 1/2", "90-94 ▒▒▒▒░░░░ 0/1", "80-84 ░░░░ –"]
    html = mail.get_body(("html",))
    (image,) = [p for p in mail.walk() if p.get_content_type() == "image/png"]
    cid = str(image["Content-ID"]).strip("<>")
    assert f'src="cid:{cid}"' in html.get_content()  # type: ignore[union-attr]
    chart = Image.open(io.BytesIO(image.get_content()))
    chart.load()  # it decodes
    assert chart.size == (640, 360) and chart.format == "PNG"
    heights = [column_height(chart, x) for x in bar_columns(chart)]
    assert len(set(heights)) > 1, heights  # the bars differ
    colours = {chart.getpixel((x, y)) for x in range(640) for y in range(0, 360, 4)}
    assert {APPROVED, REJECTED} <= colours  # approved and rejected stacked

    # the digest runs three times a day: the week's section goes out once
    count = len(gate.smtp.messages)
    code, out = gate.run("digest", MATCH_STAGING_NOW="2026-02-09T13:00:00+01:00", **EMAIL)
    assert code == 0 and "stats-" not in out and len(gate.smtp.messages) == count, out
    code, out = gate.run("digest", MATCH_STAGING_NOW="2026-02-10T10:00:00+01:00", **EMAIL)
    assert code == 0 and "stats-" not in out and len(gate.smtp.messages) == count, out


def bar_columns(chart: Image.Image) -> list[int]:
    """The x of each band's bar centre: the chart's plot split into equal slots."""
    from match_staging.chart import LEFT, RIGHT, WIDTH

    bands = 6  # 70-74 .. 95-100
    slot = (WIDTH - LEFT - RIGHT) / bands
    return [int(LEFT + (i + 0.5) * slot) for i in range(bands)]


def column_height(chart: Image.Image, x: int) -> int:
    return sum(chart.getpixel((x, y)) != (255, 255, 255) for y in range(40, 320))


def test_the_weekly_section_fits_every_channel_on_the_local_tracker(
    repo: Path, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    """The 40 matches' six bands, every channel's message written to outbox/: the whole
    table in WhatsApp's 300 characters of a message body and in Slack's section, nothing cut.
    """
    world = Local(repo, capsys)
    played(world, repo, request)
    code, out = world.run(7 * 24 + 1, "digest")  # the next Monday, 10:00 in Vienna
    assert code == 0 and "key stats-2026-W07" in out, out
    folder = repo / "outbox" / "notify-stats-2026-W07"
    whatsapp = (folder / "alert-whatsapp.txt").read_text(encoding="utf-8")
    slack = json.loads((folder / "alert-slack.json").read_text(encoding="utf-8"))
    # worked out by hand: the widest band (70-74, 8 staged) is 8 cells, a cell a match
    table = [
        "95-100 █████▒ 83% (5/6)",
        "90-94 █████░ 100% (5/5)",
        "85-89 ████▒░ 80% (4/5)",
        "80-84 ████▒▒░ 67% (4/6)",
        "75-79 ██▒▒▒░░ 40% (2/5)",
        "70-74 █▒▒▒▒▒░░ 17% (1/6)",
    ]
    for text in (whatsapp, slack["blocks"][0]["text"]["text"]):
        assert "…" not in text
        assert "Vorschlag: Schwelle 70 (21 von 33 ab 70 freigegeben, 64 %)" in text
        assert [ln for ln in text.splitlines() if ln[:2].isdigit()] == table
    assert len(whatsapp) <= 300  # the section's lines and the title


def test_no_weekly_section_before_the_first_decision(gate: Gate) -> None:
    """Nothing to calibrate yet: the Monday digest sends no stats message; after the first
    decision the next digest that day does.
    """
    code, out = gate.run("digest", MATCH_STAGING_NOW=MONDAY, **EMAIL)
    assert code == 0 and "stats-" not in out, out
    assert not [m for m in gate.smtp.messages if "Wochenstatistik" in str(m["Subject"])]
    code, out = gate.run("review", "3", "--approve", GITLAB_USER_LOGIN="reviewer")
    assert code == 0, out
    code, out = gate.run("digest", MATCH_STAGING_NOW="2026-02-09T13:00:00+01:00", **EMAIL)
    assert code == 0 and "sent      email     key stats-2026-W07: " in out, out


def test_band_width_and_csv_through_the_cli(gate: Gate) -> None:
    code, out = gate.run("review", "2", "--reject", GITLAB_USER_LOGIN="reviewer")
    assert code == 0, out
    code, out = gate.run("stats", "--band", "10", "--format", "csv")
    assert code == 0, out
    rows = [ln for ln in out.splitlines() if ln[:1].isdigit()]
    # the repository's five: 97 and 95 (rejected), 93 and 91, 83; bands of 10 from 70
    assert [r.split(",")[:6] for r in rows] == [
        ["70-79", "70", "79", "0", "0", "0"],
        ["80-89", "80", "89", "1", "1", "0"],
        ["90-100", "90", "100", "4", "3", "0"],
    ]
    assert rows[-1].split(",")[6] == "1" and rows[-1].endswith(",0.0000")  # 0 of 1 approved
    with pytest.raises(SystemExit) as refused:  # argparse: a usage error, exit 2
        gate.run("stats", "--band", "7")
    assert refused.value.code == 2
    assert (
        "invalid choice: 7 (choose from 1, 2, 4, 5, 10, 20, 25, 50)" in gate.capsys.readouterr().err
    )

"""What `match-staging stats` costs: GitLab requests and the tool's CPU for N staged matches.

    python benchmarks/bench_stats.py [N ...]        (default: 100 1000)

Figures, not timed tests (issue 24: under 2 s of CPU for 1,000 matches). The fake GitLab of
tests/fakes is seeded with N issues of the bot, each holding the match record the tool
writes, 70 % of them decided by a reviewer (one audit note each, a rejection with its
reason marker; every tenth also sent: a second note), the rest untouched and pending. The
real command then runs in-process over real HTTP. CPU is the command's thread only
(`time.thread_time`): the fake serves from its own threads in the same process.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes.gitlab import FakeGitLab  # noqa: E402

from match_staging import record  # noqa: E402
from match_staging.cli import main  # noqa: E402
from match_staging.model import Match, Requirement, State  # noqa: E402


def seed(fake: FakeGitLab, n: int) -> int:
    """N staged matches, scores spread over 70..100; returns how many were decided."""
    decided = 0
    for i in range(n):
        score = 70 + (i * 7919 % 3001) / 100  # 70.00 .. 100.00, spread
        match = Match(
            score=score,
            title=f"Role {i}",
            provider="Acme",
            url=f"https://jobs.example.com/{i}",
            source="bench",
            position=i + 1,
            keys=(f"msk-{i:024x}",),
            requirements=(
                Requirement("Python", 60 + i % 40),
                Requirement("Kubernetes", 50 + i % 50),
            ),
        )
        head = record.description_head(match)
        issue = fake.add_issue(
            f"[JOB-MATCH] {score:g}% — Role {i}", f"{head}\n\n## Match Details", ["job-match"]
        )
        if i % 10 >= 7:
            continue  # pending, untouched: costs no request
        decided += 1
        state = State.APPROVED if i % 3 else State.REJECTED
        marks = [state] + ([State.SENT] if state == State.APPROVED and i % 10 == 0 else [])
        for mark in marks:
            body = "**Review:** pending → **x** by reviewer"
            if mark == State.REJECTED:
                body += "\n\n" + record.reason_marker(["Rate too low", "Too far"][i % 2])
            note(fake, issue["iid"], record.with_mark(body, record.StateMark(mark)))
    return decided


def note(fake: FakeGitLab, iid: int, body: str) -> None:
    """A note by the bot, as the notes API would have stored it."""
    with fake.lock:
        now = fake._now()
        fake.notes.setdefault(iid, []).append(
            {
                "id": fake._next_id("note"),
                "type": None,
                "body": body,
                "attachment": None,
                "author": fake._user(1),
                "created_at": now,
                "updated_at": now,
                "system": False,
                "noteable_id": fake.issues[iid]["id"],
                "noteable_type": "Issue",
                "project_id": fake.project_id,
                "noteable_iid": iid,
                "resolvable": False,
                "confidential": False,
                "internal": False,
            }
        )
        fake.issues[iid]["updated_at"] = now


def measure(n: int) -> tuple[int, int, float, float]:
    """(decided, requests, CPU seconds of the command, wall seconds) for N matches."""
    before = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="bench-stats-") as tmp, FakeGitLab() as fake:
        shutil.copytree(ROOT / "config", Path(tmp) / "config")
        os.chdir(tmp)
        try:
            decided = seed(fake, n)
            fake.reset_log()
            env = {
                "GITLAB_URL": fake.url,
                "GITLAB_TOKEN": fake.token,
                "GITLAB_PROJECT": "1",
                "MATCH_STAGING_NOW": "2026-03-02T10:00:00+01:00",
            }
            out = io.StringIO()
            cpu, wall = time.thread_time(), time.perf_counter()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
                code = main(["stats", "--format", "json"], env)
            cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
            assert code == 0, out.getvalue()
            return decided, len(fake.requests), cpu, wall
        finally:
            os.chdir(before)


def main_(sizes: list[int]) -> int:
    """Print a row per size."""
    print("| matches | decided | requests | 1 + ceil(N / 100) + decided | CPU (s) | wall (s) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        decided, requests, cpu, wall = measure(n)
        bound = 1 + -(-n // 100) + decided
        print(f"| {n:,} | {decided:,} | {requests:,} | {bound:,} | {cpu:.2f} | {wall:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main_([int(a) for a in sys.argv[1:]] or [100, 1000]))

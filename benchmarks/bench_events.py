"""What the tool costs in pipelines: the Issue Hook events it causes itself (each one starts a
pipeline when the project's webhook points at the trigger URL), per staged match through
notification, and what the daily reminder costs with many matches pending.

    python benchmarks/bench_events.py [--matches 200]

Figures, not timed tests: the real CLI in-process against the fake GitLab of tests/fakes over
real HTTP (it records the Issue Hook events GitLab would deliver), a local Slack webhook and an
SMTP sink. Pacing is off here (`gitlab.issue_writes_per_minute: 0`) so the run is quick; the
pipelines-per-minute row says what the default pacing makes of the same events.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes.gitlab import FakeGitLab  # noqa: E402
from tests.fakes.slack_server import SlackWebhook  # noqa: E402
from tests.fakes.smtp_sink import SmtpSink  # noqa: E402

from match_staging.cli import main  # noqa: E402
from match_staging.config import GitLabSettings  # noqa: E402

DAY = "2026-02-08T14:30:00+01:00"
NEXT_DAY = "2026-02-09T14:35:00+01:00"
CHANNELS = "MATCH_STAGING__NOTIFICATION__CHANNELS__"


@contextlib.contextmanager
def world() -> Iterator[tuple[FakeGitLab, SlackWebhook, SmtpSink, Path]]:
    """A fake GitLab, Slack webhook and SMTP sink, and a working folder."""
    before = Path.cwd()
    with (
        tempfile.TemporaryDirectory(prefix="bench-events-") as tmp,
        FakeGitLab() as fake,
        SlackWebhook() as slack,
        SmtpSink() as smtp,
    ):
        root = Path(tmp)
        for name in ("config", "cv", "matches-inbox"):
            shutil.copytree(ROOT / name, root / name)
        os.chdir(root)
        try:
            yield fake, slack, smtp, root
        finally:
            os.chdir(before)


def env(fake: FakeGitLab, slack: SlackWebhook, smtp: SmtpSink, now: str) -> dict[str, str]:
    """The environment a job would have against the fakes."""
    return {
        "GITLAB_URL": fake.url,
        "GITLAB_TOKEN": fake.token,
        "GITLAB_PROJECT": "1",
        "MATCH_STAGING_NOW": now,
        "MATCH_STAGING__WORKFLOW__REVIEWERS": "[reviewer]",
        "MATCH_STAGING__GITLAB__ISSUE_WRITES_PER_MINUTE": "0",
        "MATCH_STAGING__GITLAB__ISSUE_CREATES_PER_MINUTE": "0",
        "MATCH_STAGING__GITLAB__NOTES_PER_MINUTE": "0",
        f"{CHANNELS}SLACK__ENABLED": "true",
        "SLACK_WEBHOOK_URL": slack.url,
        f"{CHANNELS}EMAIL__ENABLED": "true",
        "SMTP_HOST": "127.0.0.1",
        f"{CHANNELS}EMAIL__SMTP__PORT": str(smtp.port),
        f"{CHANNELS}EMAIL__SMTP__SECURITY": "none",
    }


def run(
    fake: FakeGitLab, slack: SlackWebhook, smtp: SmtpSink, now: str, *argv: str
) -> tuple[int, int, int]:
    """(requests, Issue Hook events the bot caused, notes written on staged issues)."""
    fake.reset_log()
    events = len(fake.issue_hook_events)
    notes = _match_notes(fake)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        main(list(argv), env(fake, slack, smtp, now))
    caused = sum(1 for e in fake.issue_hook_events[events:] if e.actor == "bot")
    return len(fake.requests), caused, _match_notes(fake) - notes


def _match_notes(fake: FakeGitLab) -> int:
    return sum(
        len(fake.notes.get(iid, []))
        for iid, issue in fake.issues.items()
        if "job-match" in issue["labels"]
    )


def cycle(count: int) -> dict[str, object]:
    """A match document of `count` new matches."""
    return {
        "cycle_id": "bench",
        "matches": [
            {
                "id": f"m{i}",
                "score": 80 + i % 20,
                "title": f"Engineer {i}",
                "provider": "Acme",
                "url": f"https://jobs.example.com/p/{i}",
                "draft": "Sehr geehrte Damen und Herren",
            }
            for i in range(count)
        ],
    }


def main_() -> int:
    """Print the Issue Hook events and pipelines the tool causes per match."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matches", type=int, default=200)
    args = parser.parse_args()
    rows: list[tuple[str, int, int, int, str]] = []
    with world() as (fake, slack, smtp, root):
        reqs, events, notes = run(fake, slack, smtp, DAY, "stage")
        rows.append(
            (
                "stage + notify the example cycle (5 matches)",
                reqs,
                events,
                notes,
                "before: 10 events (5 creates + 5 queue-label removals)",
            )
        )
        (root / "big.json").write_text(json.dumps(cycle(args.matches)), encoding="utf-8")
        reqs, events, notes = run(fake, slack, smtp, DAY, "stage", "big.json")
        rows.append(
            (
                f"stage + notify {args.matches} matches",
                reqs,
                events,
                notes,
                f"before: {2 * args.matches} events",
            )
        )
        pending = 0
        for issue in fake.issues.values():  # staged the day before, untouched since
            if "job-match/pending" in issue["labels"]:
                issue.update(created_at="2026-02-08T13:30:00Z", updated_at="2026-02-08T13:30:05Z")
                pending += 1
        reqs, events, notes = run(fake, slack, smtp, NEXT_DAY, "digest")
        rows.append(
            (
                f"digest a day later, reminding of {pending} pending",
                reqs,
                events,
                notes,
                f"before: {pending} notes, {pending + 7} requests",
            )
        )
        reqs, events, notes = run(fake, slack, smtp, NEXT_DAY, "digest")
        rows.append(("the same digest again (reminded today)", reqs, events, notes, ""))
        posts = len(slack.posts)
        log = [i for i in fake.issues.values() if i["title"] == "match-staging run log"]
        records = len(fake.notes.get(log[0]["iid"], [])) if log else 0
    width = max(len(r[0]) for r in rows)
    print("Issue Hook events the tool causes (fake GitLab; Slack and email enabled)\n")
    print(f"{'run':<{width}}  requests  events  notes  before")
    print("-" * (width + 60))
    for name, reqs, events, notes, before in rows:
        print(f"{name:<{width}}  {reqs:>8}  {events:>6}  {notes:>5}  {before}")
    pace = GitLabSettings().issue_writes_per_minute
    print(f"\nSlack messages in all: {posts} (one summary per cycle, one reminder per day)")
    print(
        f"run-log records written in all: {records} (notes on one confidential issue: no "
        "Issue Hook, no email to the reviewer)"
    )
    print(
        f"events: the bot's Issue Hook events, one pipeline each; notes: notes on staged "
        f"issues.\nWith the default pacing (gitlab.issue_writes_per_minute: {pace}) the "
        f"creates of a {args.matches}-match cycle start at most {pace} pipelines a minute "
        f"({args.matches / pace:.0f} minutes), 5 under GitLab.com's 25 a minute for the "
        "reviewer's moves;\nnotification and reminders start none."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main_())

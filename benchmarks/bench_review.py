"""What the review gate costs in GitLab requests: per webhook event, per `send`, per digest.

    python benchmarks/bench_review.py

Figures, not timed tests. Each row runs the real command in-process against the fake GitLab
of tests/fakes over real HTTP (an SMTP sink takes the application) and counts the requests,
beside the budget it is judged by (issue 10: a handled event reads the issue, its notes
and its label events, makes at most one update, only when labels need tidying or the issue
must close or reopen, and writes one note; the token's user is read once per run).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import gitlab  # noqa: E402
from tests.fakes.gitlab import FakeGitLab  # noqa: E402
from tests.fakes.smtp_sink import SmtpSink  # noqa: E402

from match_staging.cli import main  # noqa: E402

REVIEWER, MALLORY, BOT = 2, 3, 1
HOOK = json.loads((ROOT / "tests/fixtures/gitlab/issue_hook_example.json").read_text())


@contextlib.contextmanager
def world() -> Iterator[tuple[FakeGitLab, SmtpSink, Path]]:
    """A fake GitLab and SMTP sink, and a working folder."""
    before = Path.cwd()
    with (
        tempfile.TemporaryDirectory(prefix="bench-review-") as tmp,
        FakeGitLab() as fake,
        SmtpSink() as smtp,
    ):
        root = Path(tmp)
        for name in ("config", "cv", "matches-inbox"):
            shutil.copytree(ROOT / name, root / name)
        os.chdir(root)
        try:
            yield fake, smtp, root
        finally:
            os.chdir(before)


def env(fake: FakeGitLab, smtp: SmtpSink) -> dict[str, str]:
    """The environment a job would have against the fakes."""
    return {
        "GITLAB_URL": fake.url,
        "GITLAB_TOKEN": fake.token,
        "GITLAB_PROJECT": "1",
        "MATCH_STAGING_NOW": "2026-02-08T14:30:00+01:00",
        "MATCH_STAGING__WORKFLOW__REVIEWERS": "[reviewer]",
        "MATCH_STAGING__GITLAB__BOT_USERNAME": "bot",
        "SMTP_HOST": "127.0.0.1",
        "MATCH_STAGING__NOTIFICATION__CHANNELS__EMAIL__SMTP__PORT": str(smtp.port),
        "MATCH_STAGING__NOTIFICATION__CHANNELS__EMAIL__SMTP__SECURITY": "none",
    }


EVENTS: list[int] = []  # Issue Hook events the tool caused, per row (issue 11)


def run(fake: FakeGitLab, smtp: SmtpSink, *argv: str) -> int:
    """Run the CLI against the fakes; its exit code."""
    fake.reset_log()
    before = len(fake.issue_hook_events)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        main(list(argv), env(fake, smtp))
    EVENTS.append(sum(1 for e in fake.issue_hook_events[before:] if e.actor == "bot"))
    return len(fake.requests)


def move(fake: FakeGitLab, iid: int, user: int, add: str, remove: str) -> dict[str, Any]:
    """Move a card as a reviewer would: one label event, one Issue Hook payload."""
    previous = list(fake.issues[iid]["labels"])
    fake.acting_user_id = user
    try:
        client = gitlab.Gitlab(fake.url, private_token=fake.token)
        data = {k: v for k, v in (("add_labels", add), ("remove_labels", remove)) if v}
        client.projects.get(1, lazy=True).issues.update(iid, data)
    finally:
        fake.acting_user_id = BOT
    payload: dict[str, Any] = json.loads(json.dumps(HOOK))
    person = fake.users[user]
    payload["user"].update(id=person["id"], username=person["username"])
    labels = [{"title": name} for name in fake.issues[iid]["labels"]]
    payload["object_attributes"].update(iid=iid, labels=labels)
    payload["labels"] = labels
    payload["changes"]["labels"] = {"previous": [{"title": n} for n in previous], "current": labels}
    return payload


def transition(fake: FakeGitLab, smtp: SmtpSink, root: Path, payload: Any) -> int:
    """Run `transition` on `payload`."""
    path = root / "payload.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    return run(fake, smtp, "transition", "--payload", str(path))


def main_() -> int:
    """Print the requests each review step costs."""
    rows: list[tuple[str, int, str]] = []
    with world() as (fake, smtp, root):
        run(fake, smtp, "stage")
        step: Callable[[Any], int] = lambda p: transition(fake, smtp, root, p)  # noqa: E731
        approve = move(fake, 1, REVIEWER, "job-match/approved", "job-match/pending")
        reads = "user, issue, notes, label events"
        rows.append(("approval applied (board move)", step(approve), f"5: {reads}, note"))
        rows.append(("the same event replayed", step(approve), "3: user, issue, notes"))
        forged = move(fake, 2, MALLORY, "job-match/approved", "job-match/pending")
        forged["user"].update(id=REVIEWER, username="reviewer")
        rows.append(
            (
                "unauthorised change, forged payload, reverted",
                step(forged),
                f"6: {reads}, update, note",
            )
        )
        rows.append(
            (
                "rejection applied and closed",
                step(move(fake, 3, REVIEWER, "job-match/rejected", "job-match/pending")),
                f"6: {reads}, close, note",
            )
        )
        rows.append(
            (
                "the tool's own change",
                step(move(fake, 4, BOT, "job-match/approved", "job-match/pending")),
                "0",
            )
        )
        move(fake, 4, BOT, "job-match/pending", "job-match/approved")  # as it was
        rows.append(
            (
                "sidebar: approved added, pending left on",
                step(move(fake, 4, REVIEWER, "job-match/approved", "")),
                f"6: {reads}, update, note",
            )
        )
        note = json.loads((ROOT / "tests/fixtures/gitlab/note_hook_issue_example.json").read_text())
        rows.append(("a note event", step(note), "0"))
        rows.append(
            (
                "send (email with attachment)",
                run(fake, smtp, "send", "1"),
                f"7: {reads}, sending note, mark sent, note",
            )
        )
        rows.append(
            (
                "review --reject from the shell",
                run(fake, smtp, "review", "5", "--reject"),
                "5: user, issue, notes, update, note",
            )
        )
        rows.append(
            (
                "digest, nothing to repair, no channel",
                run(fake, smtp, "digest"),
                "token expiry, project (pipeline variables), hooks, changed issues, user, "
                "notes of each changed issue, open pending and sent matches (issue 23)",
            )
        )
        move(fake, 2, REVIEWER, "job-match/rejected", "job-match/pending")
        rows.append(
            (
                "digest repairing one missed event",
                run(fake, smtp, "digest"),
                "the above + label events, update, note",
            )
        )
    width = max(len(r[0]) for r in rows)
    print("GitLab requests per review step (fake GitLab, example cycle staged first)\n")
    events = EVENTS[-len(rows) :]
    print(f"{'step':<{width}}  requests  events  budget")
    print("-" * (width + 38))
    for (name, count, budget), caused in zip(rows, events, strict=True):
        print(f"{name:<{width}}  {count:>8}  {caused:>6}  {budget}")
    print(
        "\nevents: Issue Hook events the tool itself caused (each one a pipeline on the "
        "webhook);\nthe reviewer's own move is not counted. Goal: at most 1 per move, 0 "
        "when there is nothing to tidy or close."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main_())

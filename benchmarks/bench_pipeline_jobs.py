"""Job time of the `transition` job under gitlab-ci-local (shell executor): an event that is
not ours (the bot's own change, ended by ci/prefilter.py before the install) against a
handled one (a reviewer's approval: install from the warm cache, then the full check).

    python benchmarks/bench_pipeline_jobs.py [--runs 3]

Needs what tests/system/test_pipeline.py needs (Node 22 and gitlab-ci-local 4.75.1 under .ci/node,
git, rsync). The jobs install the checkout into `.venv-ci` as on a runner (the component's
input `install: checkout`); the first stage run warms that cache and is not counted.
Figures, not a test: it prints the job time gitlab-ci-local reports ("finished in") and the
wall time of the whole gitlab-ci-local call, as medians.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes.gitlab import FakeGitLab  # noqa: E402
from tests.fakes.slack_server import SlackWebhook  # noqa: E402
from tests.fakes.smtp_sink import SmtpSink  # noqa: E402
from tests.system import test_pipeline as tp  # noqa: E402

FINISHED = re.compile(r"^transition\s+finished in ([0-9.]+) (m?s)", re.MULTILINE)


def job_seconds(output: str) -> float:
    """The job's duration as gitlab-ci-local reports it."""
    match = FINISHED.search(output)
    if match is None:
        raise SystemExit(f"no job time in the output:\n{output[-2000:]}")
    value = float(match.group(1))
    return value / 1000 if match.group(2) == "ms" else value


def checkout(base: Path) -> Path:
    """A copy of the repository to run the pipeline in."""
    repo = base / "repo"
    for name in tp._repository_files():
        if name.startswith(".ci/node/"):
            continue
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    tp._configure(repo)
    tp.install(repo, "checkout")  # pip installs the checkout into .venv-ci, as on a runner
    tp._git(repo, "init", "-q", "-b", "main")
    tp._git(repo, "add", "-A")
    tp._git(repo, "commit", "-q", "-m", "base")
    tp._git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    tp._git(repo, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    return repo


def event(
    issue: dict[str, object], user: dict[str, object], before: list[str], after: list[str]
) -> dict[str, object]:
    """An Issue Hook payload for a label change."""
    labels = [{"title": name} for name in after]
    return {
        "object_kind": "issue",
        "event_type": "issue",
        "user": {"id": user["id"], "name": user["name"], "username": user["username"]},
        "project": {"id": 1},
        "labels": labels,
        "object_attributes": {
            "iid": issue["iid"],
            "id": issue["id"],
            "state": "opened",
            "action": "update",
            "labels": labels,
        },
        "changes": {"labels": {"previous": [{"title": n} for n in before], "current": labels}},
    }


def run_transition(repo: Path, world: tp.World, body: dict[str, object]) -> tuple[float, float]:
    """Run the transition job on `body`; its wall time and job time."""
    started = time.perf_counter()
    run = tp.gitlab_ci_local(
        repo,
        variables=world.variables(
            CI_PIPELINE_SOURCE="trigger", TRIGGER_PAYLOAD=tp.trigger_payload(repo, body)
        ),
        timeout=tp.INSTALL_TIMEOUT,
    )
    wall = time.perf_counter() - started
    if run.code != 0 or run.passed() != ["transition"]:
        raise SystemExit(run.output[-3000:])
    return job_seconds(run.output), wall


def main() -> int:
    """Print the job times of the webhook pipeline's paths."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if (why := tp.missing()) is not None:
        raise SystemExit(f"cannot run: {why}")
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeGitLab() as gitlab,
        SlackWebhook() as slack,
        SmtpSink() as smtp,
    ):
        world = tp.World(gitlab, slack, smtp)
        repo = checkout(Path(tmp))
        matches = [tp.new_match(url=f"https://jobs.example.org/{n}") for n in range(args.runs)]
        body = {
            "ref": "main",
            "inputs": {"job": "stage"},
            "matches_b64": tp.b64(json.dumps(matches)),
        }
        warm = tp.gitlab_ci_local(
            repo,
            variables=world.variables(
                CI_PIPELINE_SOURCE="trigger", TRIGGER_PAYLOAD=tp.trigger_payload(repo, body)
            ),
            inputs={"job": "stage"},
            timeout=tp.INSTALL_TIMEOUT,
        )  # the document in the trigger body, as submit-matches sends it; creates .venv-ci
        if warm.code != 0:
            raise SystemExit(warm.output[-3000:])
        bot, reviewer = gitlab.users[1], gitlab.users[2]
        ours: list[tuple[float, float]] = []
        not_ours: list[tuple[float, float]] = []
        for issue in list(gitlab.issues.values())[: args.runs]:
            labels = list(issue["labels"])
            not_ours.append(run_transition(repo, world, event(issue, bot, [], labels)))
            with gitlab.lock:
                issue["labels"] = sorted(n.replace("/pending", "/approved") for n in labels)
                after = list(issue["labels"])
            ours.append(run_transition(repo, world, event(issue, reviewer, labels, after)))
        print(
            f"transition job under gitlab-ci-local {tp.GCL_VERSION} (shell executor), "
            f"median of {args.runs}:"
        )
        print(f"{'event':<44} {'job s':>7} {'wall s':>7}  bound")
        for name, rows, bound in (
            ("not ours (the bot's own change, prefilter)", not_ours, "3 s"),
            ("handled (reviewer approves, cache warm)", ours, "15 s"),
        ):
            job = statistics.median(r[0] for r in rows)
            wall = statistics.median(r[1] for r in rows)
            print(f"{name:<44} {job:>7.2f} {wall:>7.2f}  {bound}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What a staging run costs: GitLab requests, wall time, start-up time and install size.

    python benchmarks/bench_stage.py            # requests and wall time, cold starts (~1 min)
    python benchmarks/bench_stage.py --sizes    # also the installed sizes (minutes: pip)

Figures, not timed tests: each is printed beside the lower bound or floor it is judged by.

Staging: cycles of 5, 50 and 500 new matches (each with an `id` and a source URL, so two match
keys, and the same CV attached) against the fake GitLab of tests/fakes over real HTTP, with a
fixed latency added to every request and 0 or 2,000 job-match issues already in the project
(seeded with real key markers). The project's labels exist already (as after `bootstrap` or a
first run), and no notification channel is enabled: these figures are staging alone (a
queued channel adds one label update per issue once it delivered, by design). Each cycle is
staged twice: `first` creates every match, `again` finds every match staged.

Lower bound of requests, for a tool that knows nothing before it asks:
    1 label listing (its counts tell how many staged issues exist: E)
  + 1 for the bot (GET /user): only its own issues hold keys (issue 20)
  + lookups: min(K, max(1, ceil(E / 100))), the fewer of one search per key or one listing
    page per 100 staged issues; at least one even when E = 0, since a Reporter can rename
    the label the counts are of (issue 20). K counts the searches a perfect searcher needs:
    every key of a match not staged yet (2 here: its id and its URL, each must come back
    empty), but 1 for a match already staged (the first key finds the issue, whose marker
    lists the other keys)
  + 1 upload per distinct attachment (1 here) on the first run, 0 again
  + 1 create per new match
The tool meets it with listing; where it searches it spends one request more: listing page
1 (oldest first) comes first, to prove search exact (no issue there keeps its keys only in an
HTML comment, which older GitLab leaves out of its search index) and to settle the matches
on it; `path` says which way each run looked, `lookups` what that cost.
Wall-time floors: the lower bound times the latency (a sequential client); and GitLab.com's
limit of 200 issue creations per minute per user: N / 200 minutes for N creates.

Dedupe (a second table): 3 matches staged again beside 1,000 issues, staged by this release
(key line) or by the first one (keys in an HTML comment), on a GitLab whose search indexes
HTML comments or not; and one new match whose create response is lost while the search
index lags. Every row must create nothing twice.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes.gitlab import FakeGitLab  # noqa: E402

from match_staging import config, record  # noqa: E402
from match_staging.cli import main  # noqa: E402
from match_staging.keys import match_keys  # noqa: E402
from match_staging.labels import label_specs  # noqa: E402

PER_PAGE = 100
CREATES_PER_MINUTE = 200  # GitLab.com: issue creation, per user
CV = "cv/Profil_Laube_w_Summary_DE.pdf"
CLEAN_ENV = (
    "GITLAB_TOKEN",
    "GITLAB_URL",
    "GITLAB_PROJECT",
    "CI",
    "MATCHES_JSON",
    "MATCHES_FILE",
    "TRIGGER_PAYLOAD",
    "MATCH_STAGING_CONFIG",
    "CI_SERVER_URL",
    "CI_PROJECT_ID",
)


# --------------------------------------------------------------------------- workload


def cycle(n: int, tag: str) -> dict[str, object]:
    """A cycle of `n` new matches, shaped like matches-inbox/ (breakdown, notes, draft)."""
    draft = (
        "Sehr geehrte Damen und Herren,\n\nmit großem Interesse habe ich Ihre "
        "Ausschreibung gelesen. " * 8 + "\n\nMit freundlichen Grüßen"
    )
    return {
        "cycle_id": f"bench-{tag}",
        "matches": [
            {
                "id": f"bench-{tag}-{i}",
                "score": 70 + i % 30,
                "title": f"Platform Engineer {i} (m/w/d)",
                "provider": "Acme GmbH",
                "location": "Remote",
                "start": "ASAP",
                "duration": "6 Mo",
                "rate": 100,
                "url": f"https://jobs.example.com/{tag}/{i}?utm_source=newsletter",
                "requirements": [
                    {"requirement": f"Skill {k}", "score": 90, "weight": 2, "comment": "ok"}
                    for k in range(4)
                ],
                "notes": "Remote-first.",
                "draft": draft,
                "attachments": [CV],
            }
            for i in range(n)
        ],
    }


def seed(fake: FakeGitLab, existing: int, legacy: bool = False) -> None:
    """Labels, and `existing` staged issues: with the key line, or (`legacy`) with the keys
    in an HTML comment as the first release wrote them.
    """
    for spec in label_specs(config.Labels()):
        fake.add_label(spec.name, spec.color, spec.description)
    for n in range(existing):
        keys = match_keys(f"old-{n}", f"https://old.example/{n}")
        marker = (
            f"<!-- match-staging v1 keys: {' '.join(keys)} -->"
            if legacy
            else str(record.key_line(keys))
        )
        fake.add_issue(
            f"[JOB-MATCH] 80% — old {n}",
            marker + "\nold",
            labels=["job-match", "job-match/sent"],
            state="closed" if n % 2 else "opened",
        )


def lower_bound(new: int, keys: int, existing: int, uploads: int) -> int:
    """The fewest requests a run can make: labels, the bot, lookups, uploads, creates."""
    lookups = min(keys, max(1, math.ceil(existing / PER_PAGE)))
    return 1 + 1 + lookups + uploads + new


@dataclass
class Row:
    """One staging run's figures."""

    matches: int
    existing: int
    run: str
    created: int
    requests: int
    bound: int
    wall: float
    latency: float
    server: float  # seconds the fake spent answering, its latency included
    path: str = ""  # how the run looked staged matches up: none, listing or search
    lookups: int = 0  # requests that lookup made

    @property
    def latency_floor(self) -> float:
        """Seconds the requests' latency alone takes."""
        return self.bound * self.latency

    @property
    def rate_floor(self) -> float:
        """Seconds GitLab.com's create limit alone takes."""
        return self.created / CREATES_PER_MINUTE * 60


class ServerClock:
    """Adds up the time the fake spends on each request, so the tool's own share of the
    wall time can be told from the fake's (which lists 2,000 issues per page in Python).
    """

    def __init__(self, fake: FakeGitLab) -> None:
        self.seconds = 0.0
        dispatch = fake._dispatch

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return dispatch(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        fake._dispatch = timed  # type: ignore[method-assign]

    def take(self) -> float:
        """Seconds the fake spent since the last call."""
        seconds, self.seconds = self.seconds, 0.0
        return seconds


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    """A checkout-shaped working directory (config/, cv/) for the tool to run in."""
    before = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="bench-stage-") as tmp:
        root = Path(tmp)
        for name in ("config", "cv"):
            shutil.copytree(ROOT / name, root / name)
        os.chdir(root)
        try:
            yield root
        finally:
            os.chdir(before)


def lookup_of(fake: FakeGitLab) -> tuple[str, int]:
    """Which way the last run looked staged matches up, and how many requests it took
    (every GET of the issue list before the first create).
    """
    gets = []
    for r in fake.requests:
        if r.method == "POST" and r.path.endswith("/issues"):
            break
        if r.method == "GET" and r.path.endswith("/issues"):
            gets.append(r)
    path = "search" if any("search" in r.query for r in gets) else "listing" if gets else "none"
    return path, len(gets)


def stage_once(fake: FakeGitLab, path: Path) -> tuple[int, float, int]:
    """One `match-staging stage PATH` in-process: exit code, seconds, requests."""
    env = {
        "GITLAB_URL": fake.url,
        "GITLAB_TOKEN": fake.token,
        "GITLAB_PROJECT": "1",
        "MATCH_STAGING_NOW": "2026-02-08T14:30:00+01:00",
        "MATCH_STAGING_ASSIGNEE_ID": "2",
        # no webhook in this project: no pipeline per write to pace for (see README)
        "MATCH_STAGING__GITLAB__ISSUE_WRITES_PER_MINUTE": "0",
    }
    fake.reset_log()
    sink = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        code = main(["stage", str(path)], env)
    wall = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"stage failed ({code}):\n{sink.getvalue()}")
    return code, wall, len(fake.requests)


def bench_staging(sizes: Sequence[int], existing: Sequence[int], latency: float) -> list[Row]:
    """Stage each size beside each number of existing issues."""
    rows = []
    keys_per_match = 2  # an id and a source URL
    for n in sizes:
        for e in existing:
            with workdir() as root, FakeGitLab(latency=latency) as fake:
                seed(fake, e)
                path = root / f"cycle-{n}.json"
                path.write_text(json.dumps(cycle(n, f"n{n}e{e}")), encoding="utf-8")
                served = ServerClock(fake)
                _, wall, made = stage_once(fake, path)
                created = len(fake.issues) - e
                rows.append(
                    Row(
                        n,
                        e,
                        "first",
                        created,
                        made,
                        lower_bound(created, keys_per_match * n, e, uploads=1),
                        wall,
                        latency,
                        served.take(),
                        *lookup_of(fake),
                    )
                )
                _, wall, made = stage_once(fake, path)
                rows.append(
                    Row(
                        n,
                        e,
                        "again",
                        0,
                        made,
                        lower_bound(0, n, e + created, uploads=0),
                        wall,
                        latency,
                        served.take(),
                        *lookup_of(fake),
                    )
                )
            print(f"  staged {n:>3} matches beside {e:>4} issues", file=sys.stderr)
    return rows


# --------------------------------------------------------------------------- start-up


@dataclass
class Start:
    """The median start-up time of one command."""

    seconds: float  # median
    code: int  # exit code of the last run
    error: str  # its last line of standard error when it failed


def median_seconds(
    argv: Sequence[str],
    runs: int,
    env: dict[str, str],
    cwd: Path | None = None,
    before_each: Path | None = None,
) -> Start:
    """Run `argv` `runs` times; the median wall time."""
    times = []
    done = None
    for _ in range(runs):
        if before_each is not None:  # a fresh local tracker: every run stages the 5 matches
            shutil.rmtree(before_each / ".match-staging", ignore_errors=True)
            shutil.rmtree(before_each / "outbox", ignore_errors=True)
        started = time.perf_counter()
        done = subprocess.run(
            argv,
            env=env,
            cwd=cwd,
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        times.append(time.perf_counter() - started)
    assert done is not None
    last = (done.stderr.strip().splitlines() or [""])[-1] if done.returncode else ""
    return Start(statistics.median(times), done.returncode, last)


def command() -> list[str]:
    """How to run this venv's match-staging."""
    script = Path(sys.executable).parent / "match-staging"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "match_staging"]


def bench_startup(runs: int) -> dict[str, Start]:
    """Start-up times: the interpreter, --help, a small local stage."""
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    results = {
        "python -c pass": median_seconds([sys.executable, "-c", "pass"], runs, env),
        "match-staging --help": median_seconds([*command(), "--help"], runs, env),
        "match-staging stage --help": median_seconds([*command(), "stage", "--help"], runs, env),
    }
    with tempfile.TemporaryDirectory(prefix="bench-start-") as tmp:
        root = Path(tmp)
        for name in ("config", "cv"):
            shutil.copytree(ROOT / name, root / name)
        (root / "five.json").write_text(json.dumps(cycle(5, "cold")), encoding="utf-8")
        results["match-staging stage (5, local)"] = median_seconds(
            [*command(), "stage", "five.json"], runs, env, cwd=root, before_each=root
        )
    return results


# --------------------------------------------------------------------------- sizes


def tree_bytes(path: Path) -> int:
    """Bytes of the files under `path`."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def site_packages(venv: Path) -> Path:
    """A venv's site-packages folder."""
    found = sorted(venv.glob("lib/python*/site-packages")) + sorted(venv.glob("Lib/site-packages"))
    if not found:
        raise SystemExit(f"no site-packages under {venv}")
    return found[0]


def bench_sizes(project: Path) -> list[tuple[str, int, list[tuple[str, int]]]]:
    """Bytes each install adds to a fresh venv's site-packages, and its five largest parts."""
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-sizes-") as tmp:
        for extra in ("", "gmail", "whatsapp"):
            venv = Path(tmp) / (extra or "core")
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            packages = site_packages(venv)
            empty = {p.name for p in packages.iterdir()}
            base = tree_bytes(packages)
            spec = f"{project}[{extra}]" if extra else str(project)
            pip = venv / ("Scripts" if os.name == "nt" else "bin") / "pip"
            print(f"  pip install {spec}", file=sys.stderr)
            subprocess.run(
                [
                    str(pip),
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-compile",
                    spec,
                ],
                check=True,
            )
            parts = sorted(
                (
                    (p.name, tree_bytes(p) if p.is_dir() else p.stat().st_size)
                    for p in packages.iterdir()
                    if p.name not in empty
                ),
                key=lambda item: -item[1],
            )
            results.append(
                (
                    f"match-staging{f'[{extra}]' if extra else ''}",
                    tree_bytes(packages) - base,
                    parts[:5],
                )
            )
    return results


# --------------------------------------------------------------------------- report


def print_staging(rows: list[Row]) -> None:
    """Print the staging rows as a table."""
    print(
        f"\nStaging against the fake GitLab, {rows[0].latency * 1000:g} ms per request "
        "(labels exist; no channel enabled)\n"
    )
    head = (
        f"{'matches':>7} {'existing':>8} {'run':<5} {'created':>7} {'requests':>8} "
        f"{'bound':>5} {'path':<7} {'lookups':>7} {'wall s':>7} {'floor s':>7} "
        f"{'200/min s':>9} {'fake s':>7} {'tool s':>7}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r.matches:>7} {r.existing:>8} {r.run:<5} {r.created:>7} {r.requests:>8} "
            f"{r.bound:>5} {r.path:<7} {r.lookups:>7} {r.wall:>7.2f} "
            f"{r.latency_floor:>7.2f} {r.rate_floor:>9.1f} {r.server:>7.2f} "
            f"{r.wall - r.server:>7.2f}"
        )
    over = [r for r in rows if r.requests > r.bound]
    print(
        "\nrequests = bound in every run"
        if not over
        else "\nrequests above the bound (by design only on the search path: +1 for listing "
        "page 1): "
        + "; ".join(
            f"{r.matches} matches/{r.existing} existing/{r.run}: {r.requests} > {r.bound} "
            f"({r.path})"
            for r in over
        )
    )
    print(
        "floor s = bound x latency; 200/min s = GitLab.com's issue-creation limit alone;\n"
        "fake s = time the fake spent answering (latency included); tool s = wall - fake s "
        "(the tool's own work, HTTP client included)"
    )


@dataclass
class Dedupe:
    """One dedupe case: which lookup path it took and what it cost."""

    case: str
    created: int
    path: str
    lookups: int
    keys: int
    existing: int

    @property
    def ideal(self) -> int:
        """The fewest lookup requests for this case."""
        return min(self.keys, math.ceil(self.existing / PER_PAGE))


def bench_dedupe(latency: float, existing: int = 1000) -> list[Dedupe]:
    """Re-staging 3 matches beside `existing` issues, each way GitLab's search may behave."""
    rows = []
    again = [5, existing // 2, existing - 1]
    for legacy in (False, True):
        for indexed in (False, True):
            with workdir() as root, FakeGitLab(latency=latency) as fake:
                fake.search_indexes_comments = indexed
                seed(fake, existing, legacy=legacy)
                path = root / "again.json"
                path.write_text(
                    json.dumps(
                        {
                            "matches": [
                                {
                                    "id": f"old-{n}",
                                    "score": 90,
                                    "title": f"old {n}",
                                    "provider": "Acme",
                                    "url": f"https://old.example/{n}",
                                }
                                for n in again
                            ]
                        }
                    ),
                    encoding="utf-8",
                )
                stage_once(fake, path)
                rows.append(
                    Dedupe(
                        f"{'first-release' if legacy else 'key-line'} issues, comments "
                        f"{'indexed' if indexed else 'not indexed'}",
                        len(fake.issues) - existing,
                        *lookup_of(fake),
                        len(again),
                        existing,
                    )
                )
    with workdir() as root, FakeGitLab(latency=latency) as fake:
        fake.search_lag_seconds = 3600  # the index has not caught up with any create
        seed(fake, existing)
        path = root / "lost.json"
        path.write_text(
            json.dumps(
                {
                    "matches": [
                        {
                            "id": "new-1",
                            "score": 90,
                            "title": "new",
                            "provider": "Acme",
                            "url": "https://new.example/1",
                        }
                    ]
                }
            ),
            encoding="utf-8",
        )
        fake.drop_next("POST", r"/issues$", after_commit=True)
        stage_once(fake, path)
        recovery = [
            r
            for r in fake.requests
            if r.method == "GET" and r.path.endswith("/issues") and "created_after" in r.query
        ]
        rows.append(
            Dedupe(
                "lost create response, index lagging (lookup after it)",
                len(fake.issues) - existing,
                "listing (created_after, newest first)"
                if recovery and not any("search" in r.query for r in recovery)
                else "search",
                len(recovery),
                1,
                existing,
            )
        )
    return rows


def print_dedupe(rows: list[Dedupe]) -> None:
    """Print the dedupe rows as a table."""
    print(
        f"\nDedupe: 3 matches staged again beside {rows[0].existing:,} issues (and a lost create)\n"
    )
    for r in rows:
        print(
            f"  {r.case:<56} created {r.created}  path {r.path:<7} lookups {r.lookups:>2}  "
            f"(min(K, ceil(E/100)) = {r.ideal}, ceil(E/100) = "
            f"{math.ceil(r.existing / PER_PAGE)})"
        )
    doubled = [r for r in rows if r.created > (1 if r.case.startswith("lost") else 0)]
    print(
        "\nno match created twice"
        if not doubled
        else "\nCREATED TWICE: " + "; ".join(r.case for r in doubled)
    )


def print_startup(results: dict[str, Start], runs: int) -> None:
    """Print the start-up times as a table."""
    bare = results["python -c pass"].seconds
    print(f"\nCold start (subprocess, median of {runs})\n")
    for name, start in results.items():
        failed = f"  EXIT {start.code}: {start.error[:90]}" if start.code else ""
        print(
            f"  {name:<32} {start.seconds * 1000:>7.0f} ms  {start.seconds / bare:>5.1f}x "
            f"bare{failed}"
        )
    for name in ("match-staging --help", "match-staging stage --help"):
        start = results[name]
        ratio = start.seconds / bare
        verdict = "MISSED (it fails)" if start.code else ("met" if ratio <= 3 else "MISSED")
        print(f"  target {name[14:]} <= 3x bare interpreter: {verdict} ({ratio:.1f}x)")


def print_sizes(results: list[tuple[str, int, list[tuple[str, int]]]]) -> None:
    """Print the install sizes as a table."""
    print("\nInstalled size (added to a fresh venv's site-packages, without .pyc)\n")
    for name, size, parts in results:
        largest = ", ".join(f"{part} {bytes_ / 1e6:.1f}" for part, bytes_ in parts)
        print(f"  {name:<26} {size / 1e6:>7.1f} MB   largest: {largest}")
    core = results[0][1]
    print(f"  target core < 30 MB: {'met' if core < 30e6 else 'MISSED'} ({core / 1e6:.1f} MB)")


def main_(argv: Sequence[str] | None = None) -> int:
    """Print the figures the README and benchmarks/README.md quote."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        action="store_true",
        help="also measure installed sizes in throwaway venvs (minutes)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.02,
        help="seconds added to every GitLab request (default 0.02)",
    )
    parser.add_argument("--matches", type=int, nargs="+", default=[5, 50, 500])
    parser.add_argument("--existing", type=int, nargs="+", default=[0, 2000])
    parser.add_argument("--runs", type=int, default=9, help="runs per cold-start figure")
    parser.add_argument(
        "--project", type=Path, default=ROOT, help="what --sizes installs (default: this checkout)"
    )
    args = parser.parse_args(argv)
    print(f"match-staging benchmarks · Python {sys.version.split()[0]} · {sys.platform}")
    print_staging(bench_staging(args.matches, args.existing, args.latency))
    print_dedupe(bench_dedupe(args.latency))
    print_startup(bench_startup(args.runs), args.runs)
    if args.sizes:
        print_sizes(bench_sizes(args.project))
    return 0


if __name__ == "__main__":
    sys.exit(main_())

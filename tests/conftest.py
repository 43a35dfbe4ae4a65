"""Shared fixtures: a clean working directory shaped like the user's repository, and a
clock and sleep no test waits on (BRIEF contract 2: time and sleep are injected)."""

from __future__ import annotations

import gc
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import match_staging.channels.registry  # noqa: F401  (hands config the channels' sections)

pytest_plugins = ["pytester"]  # test_cli runs pytest on pyproject.toml's options in-process

ROOT = Path(__file__).resolve().parents[1]
# Where PYTHONDONTWRITEBYTECODE is set (this machine), every run would compile each module and
# rewrite each test module's asserts again: 3 s of CPU per process, per xdist worker too.
sys.dont_write_bytecode = False
REAL_SLEEP = time.sleep
# Every fake server listens on 127.0.0.1: no proxy of a developer's shell may stand between it
# and the tool. With the loopback in no_proxy, requests also answers "no proxy" at once instead
# of scanning os.environ twice per request (urllib's getproxies: 0.25 ms of CPU a request, in
# a run of 12,900 requests). Subprocesses (the fresh-clone examples) inherit it.
for _name in ("no_proxy", "NO_PROXY"):
    os.environ[_name] = ",".join(filter(None, (os.environ.get(_name), "127.0.0.1,localhost")))
START = datetime(2026, 2, 8, 13, 30, tzinfo=UTC)  # the matches-inbox cycle, 14:30 in Berlin
# A channel test's hung request (Telegram, Teams) times out after this: a real wait (the
# socket's), so short. Only that request uses it: the fake accepts at once (the kernel
# completes a loopback connect) and answers nothing within it, so a slow machine cannot
# turn it into another outcome.
HUNG_TIMEOUT = 0.05

# Scratch in memory where the machine has room for it. A run creates about 5,000 folders and
# 5,000 files in tmp_path and deletes them as each test passes; on ext4 each new inode is a
# search past the recently deleted ones (ext4's find_inode_bit/recently_deleted, 5 % of the
# run's CPU in `perf`), and the quick loop's system time was 7 to 12 s of about 55 s. In
# /dev/shm (tmpfs) it is 4 to 7 s. Only where tmpfs has room for the whole run (the pipeline
# tests' clones and the image test's venv: well under 1 GiB) and nobody chose a place
# already (TMPDIR, PYTEST_DEBUG_TEMPROOT, --basetemp wins anyway); a container's 64 MB
# /dev/shm keeps the default. pytest reads tempfile's choice when it makes the session's
# folder, after this (tempfile.gettempdir(), _pytest/tmpdir.py); xdist's workers get theirs
# from it.
MEMORY_SCRATCH = Path("/dev/shm")
MEMORY_SCRATCH_ROOM = 4 * 1024**3


def _memory_scratch_fits(place: Path = MEMORY_SCRATCH) -> bool:
    try:
        room = os.statvfs(place)
    except OSError:
        return False
    return os.access(place, os.W_OK | os.X_OK) and room.f_bavail * room.f_frsize >= (
        MEMORY_SCRATCH_ROOM
    )


if not ({"TMPDIR", "PYTEST_DEBUG_TEMPROOT"} & os.environ.keys()) and _memory_scratch_fits():
    tempfile.tempdir = str(MEMORY_SCRATCH)


class FakeTime:
    """A settable clock and a sleep that records each wait and advances the clock by it
    instead of waiting. Pass `clock` and `sleep` to `cli.main` (or a constructor); what the
    tool waited is `waits`, in order."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now
        self.waits: list[float] = []

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += timedelta(seconds=max(seconds, 0.0))

    def advance(self, **delta: float) -> datetime:
        """Let time pass (`advance(hours=25)`); the new time."""
        self.now += timedelta(**delta)
        return self.now


# The tests that take seconds each (fault matrices, subprocess chains), measured: run first,
# so that under `-n auto` two workers do not end the run waiting on one of them. A test whose
# name starts with an entry counts (test_first_run's two entries named no test before).
SLOW_FIRST = (
    "test_image_install_step_gives_a_working_core_only_cli",  # slow: pip install, ~20 s
    "test_a_5_mb_document_is_answered_within_the_bound",  # slow
    "test_stage_notifies_each_match_once_whatever_gitlab_request_fails",
    "test_5_mb_of_any_shape_is_parsed_within_the_bound",  # slow
    "test_exactly_once_whatever_gitlab_request_fails",
    "test_readme_first_command_shows_every_channel",
    "test_every_help_example_runs_as_written",
    "test_secrets_in_a_posting_never_leave_the_tool",
    "test_failed_message_is_sent_by_digest_and_nothing_repeats",
    "test_the_document_is_one_string_for_gitlabs_json_limits",
    "test_corpus_file",
)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Python's cyclic GC, tuned for a test process: what exists after collection (modules,
    test items) lives to the end, so it is frozen out of every later collection; and a young
    collection every 5,000 allocations, not 700. Measured over 450 gate, corpus and
    reliability tests: 1,591 young and 12 full collections, 1.7 s of CPU; after, 313 and 2,
    0.9 s. The tool's own processes keep Python's defaults."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(5000, 20, 20)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: a worker per usable core. One more used to pay off while tests waited on
    the disk; with scratch in memory (above) the tests wait on nothing but CPU, and a third
    worker on 2 cores only adds its start-up and the contention. Two sets of 5 alternate
    runs, medians: 2 workers 27.4 and 25.8 s wall, 48.9 and 46.2 s CPU; 3 workers 29.2 and
    27.8 s, 55.8 and 53.0 s.
    PYTEST_XDIST_AUTO_NUM_WORKERS still decides when set, as in pytest-xdist."""
    chosen = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "")
    if chosen.isdigit():
        return int(chosen)
    usable = getattr(os, "sched_getaffinity", None)  # Linux; elsewhere every core counts
    return len(usable(0)) if usable else os.cpu_count() or 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slowest tests first (stable otherwise): `--dist worksteal` shares out the rest."""

    def rank(item: pytest.Item) -> int:
        name = item.name.partition("[")[0]
        return next((i for i, s in enumerate(SLOW_FIRST) if name.startswith(s)), len(SLOW_FIRST))

    items.sort(key=rank)


@pytest.fixture(autouse=True)
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    """No test sleeps for real. The one real sleep of the tool (`clock.system_sleep`, the
    default of the run's context, the trackers and the channels, looked up when called) and
    python-gitlab's backoff before a retry sleep on this fake instead; a test reads
    `fake_time.waits` to see what was waited."""
    return patch_time(monkeypatch)


def patch_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    """fake_time's patch, for a fixture of a wider scope too (tests/gate.py's `staged_once`)."""
    fake = FakeTime()

    def sleep(seconds: float) -> None:
        if time.sleep is not REAL_SLEEP:  # a test replaced time.sleep itself: its recorder
            time.sleep(seconds)
        else:
            fake.sleep(seconds)

    patched = SimpleNamespace(sleep=sleep, time=time.time, monotonic=time.monotonic)
    for module in ("match_staging.clock", *GITLAB_SLEEPS):
        monkeypatch.setattr(f"{module}.time", patched)
    return fake


def _gitlab_sleeps() -> tuple[str, ...]:
    """Where python-gitlab sleeps before a retry: `gitlab.client` (`http_request`) in 4.4,
    the declared minimum; `gitlab.utils` (its `Retry`) in later releases. Each of them that
    imports `time`: no test waits, whichever release the suite runs against."""
    import gitlab.client
    import gitlab.utils

    return tuple(m.__name__ for m in (gitlab.utils, gitlab.client) if hasattr(m, "time"))


GITLAB_SLEEPS = _gitlab_sleeps()
# none found would leave python-gitlab's real sleep in place: every retry test would wait
assert GITLAB_SLEEPS, "python-gitlab imports `time` in neither gitlab.utils nor gitlab.client"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the deployment layout (config, inbox, cv) as the job's working directory."""
    return deployment(tmp_path, monkeypatch)


def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The `repo` fixture's work, for a fixture of a wider scope too."""
    for name in ("config", "matches-inbox", "cv"):
        shutil.copytree(ROOT / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    for var in (
        "GITLAB_TOKEN",
        "CI",
        "GITLAB_CI",
        "CI_JOB_ID",
        "MATCHES_JSON",
        "MATCHES_FILE",
        "TRIGGER_PAYLOAD",
        "MATCH_STAGING_CONFIG",
        "GITLAB_URL",
        "GITLAB_PROJECT",
    ):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def cli(
    capsys: pytest.CaptureFixture[str], *argv: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """`match-staging ARGV` in this process with `env` as its whole environment: the exit
    code and what it printed on each stream."""
    from match_staging.cli import main

    code = main(list(argv), env if env is not None else {})
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def match(**overrides: Any) -> dict[str, Any]:
    """A valid match; tests override what they are about."""
    base: dict[str, Any] = {
        "score": 92,
        "title": "Senior DevOps Engineer",
        "provider": "Acme GmbH",
        "url": "https://jobs.example.com/p/1",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def owed(gitlab: Any) -> list[tuple[int, str]]:
    """(iid, channel) pairs the newest delivery queue in a fake GitLab's run log still owes:
    what the next `stage` or `digest` will announce."""
    from datetime import UTC, datetime

    from match_staging.delivery import LOG_KIND, Queue
    from match_staging.trackers import ledger

    newest = None
    for notes in gitlab.notes.values():
        for note in notes:
            if note["author"]["username"] != "bot" or note.get("system"):
                continue
            record = ledger.parse_note(note["body"], datetime.now(UTC))
            if record is not None and record.kind == LOG_KIND:
                newest = record
    if newest is None:
        return []
    queue = Queue.from_data(newest.data)
    return sorted((iid, channel) for channel, iids in queue.pending.items() for iid in iids)


def job_matches(gitlab: Any) -> dict[int, Any]:
    """The fake's staged issues (without the run-log issue)."""
    return {iid: i for iid, i in gitlab.issues.items() if "job-match" in i["labels"]}


# --------------------------------------------------------------- fault matrices over GitLab

FAULT_PARTS = ["representatives", pytest.param("the-rest", marks=pytest.mark.slow)]


def shape(request: Any) -> str:
    """What a logged request of the fake GitLab does, whichever issue it is about:
    `POST /issues/N/notes`."""
    path = str(request.path).removeprefix("/api/v4/projects/1").removeprefix("/api/v4")
    return f"{request.method} " + re.sub(r"/\d+(/|$)", r"/N\1", path)


def lost_get(fault: str, method: str) -> bool:
    """A dropped answer to a GET: the `slow` run's, in a fault matrix that also fails each
    request with a 500. A GET changes nothing, so its lost answer leaves the project as the
    500 does, and the tool takes the same path after either: both are a transient
    TrackerError at the boundary (trackers/gitlab_http.py `_translate`). A dropped write,
    applied but unanswered, is the fault only `drop` makes: it stays in the quick loop.
    For the stage, transition and send matrices. Not for bootstrap's: it stops at a request
    without an answer but records a 500 as a failed step and goes on
    (usecases/bootstrap/apply.py), so there the two faults take different paths."""
    return fault == "drop" and method == "GET"


def fault_matrix(requests: Sequence[Any], part: str) -> list[int]:
    """Where to inject one fault into a run that made `requests`. "representatives": the
    first and the last request of every run of requests of one shape (the fourth of ten
    creates takes the code path of the fifth; the first has none staged before it, the
    last none after); "the-rest" (the `slow` run): every other index."""
    chosen: set[int] = set()
    start = 0
    for end in range(1, len(requests) + 1):
        if end == len(requests) or shape(requests[end]) != shape(requests[start]):
            chosen.update((start, end - 1))
            start = end
    if part == "representatives":
        return sorted(chosen)
    return sorted(set(range(len(requests))) - chosen)


def bootstrapped_label_ids(gitlab: Any) -> dict[str, int]:
    """The project's labels as `bootstrap` (or a first `stage`) makes them on a fake GitLab,
    and the state labels' ids as bootstrap records them (`workflow.label_ids`): what a CI
    job's committed configuration holds before any gate command runs there.
    """
    from match_staging.config import Config
    from match_staging.labels import label_specs, state_label
    from match_staging.model import State

    names = Config().labels
    for spec in label_specs(names):
        gitlab.add_label(spec.name, spec.color, spec.description)
    return {s.value: gitlab.labels[state_label(names, s)]["id"] for s in State}


def one_message_per_channel(names: list[str]) -> None:
    """Each registered channel wrote its "new" message (email as .eml and .html), and no
    other file but the previewed issues is there: a new channel changes no test here.
    """
    from match_staging.channels.registry import specs

    messages = sorted(n for n in names if not n.startswith("issue-"))
    assert {"new-email.eml", "new-email.html"} <= set(messages)
    stems = sorted(n.split(".")[0] for n in messages)
    files = {spec.name: 1 for spec in specs()} | {"email": 2}
    assert stems == sorted(f"new-{name}" for name, n in files.items() for _ in range(n)), names

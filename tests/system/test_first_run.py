"""A newcomer's first hour, on a fresh copy of the repository: the README's first command shows
every channel's message in outbox/, a review and a send keep the local issue pages current,
and every `Example:` of every `--help` runs as written."""

from __future__ import annotations

import compileall
import os
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from match_staging.channels import registry
from match_staging.cli import COMMANDS, subcommand_parser
from tests.conftest import ROOT, one_message_per_channel
from tests.fakes.gitlab import FakeGitLab

# what a user's shell may carry that would change where the tool works
FOREIGN = (
    "GITLAB_TOKEN",
    "GITLAB_URL",
    "GITLAB_PROJECT",
    "CI",
    "GITLAB_CI",
    "CI_JOB_ID",
    "MATCHES_JSON",
    "MATCHES_FILE",
    "TRIGGER_PAYLOAD",
    "MATCH_STAGING_CONFIG",
    "MATCH_STAGING_NOW",
    "CI_SERVER_URL",
    "CI_PROJECT_ID",
    "GITLAB_USER_LOGIN",
)


def fresh_copy(target: Path) -> Path:
    """The files a clone has: tracked ones, and new ones not ignored (this branch's)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file() and not name.startswith((".venv/", ".ci/node/")):
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.fixture(scope="session")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[Path, tuple[int, int]]]:
    """The files a clone has, copied once per session (per worker), and each one's
    modification time and size. Its modules are compiled once too: every `match-staging`
    in a clone compiled them again (PYTHONDONTWRITEBYTECODE, or a clone's first run),
    0.13 s of its 0.27 s. The bytecode is Python's own cache, checked against each source
    file's time and size, so what runs is the clone's code all the same. A warning while
    compiling (a SyntaxWarning a newcomer's first run would print) fails here instead."""
    source = fresh_copy(tmp_path_factory.mktemp("tracked") / "clone")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compileall.compile_dir(source / "src", quiet=1), "compiling src/ warned or failed"
    files = (p for p in source.rglob("*") if p.is_file())
    return source, {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in files}


@pytest.fixture
def clone(tmp_path: Path, tracked: tuple[Path, dict[Path, tuple[int, int]]]) -> Iterator[Path]:
    """A fresh clone: links to the session's copy (copying 360 files took 0.15 s a test).
    The tool replaces a file it writes, which leaves the copy as it was; a write into a
    tracked file in place would change it for every later test, so it fails this test."""
    source, stamps = tracked
    target = tmp_path / "clone"
    shutil.copytree(source, target, copy_function=os.link)
    yield target
    changed = [
        str(p.relative_to(source))
        for p, stamp in stamps.items()
        if (p.stat().st_mtime_ns, p.stat().st_size) != stamp
    ]
    assert changed == [], f"written in place (a user's checkout would change): {changed}"


@pytest.fixture
def shell_env(tmp_path: Path, clone: Path) -> dict[str, str]:
    """`match-staging` on PATH running the copy's own code; a git user for audit notes."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "match-staging"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m match_staging "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Ada Lovelace\n\temail = ada@example.org\n", encoding="utf-8"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in FOREIGN and not k.startswith("MATCH_STAGING__")
    }
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(clone / "src"),
        GIT_CONFIG_GLOBAL=str(gitconfig),
        GIT_CONFIG_NOSYSTEM="1",
        # a daytime clock: the run must not depend on when the test runs
        MATCH_STAGING_NOW="2026-02-08T15:00:00+01:00",
    )
    return env


def sh(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def first_command() -> str:
    """The README's first command, after the install: what a newcomer runs first in a clone.
    It is "Try it"'s, the first section: it needs no GitLab and no package registry ("Use it
    in your project", below it, installs from the registry a release publishes to).
    """
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\n(.*?)\n```", readme, re.DOTALL)
    assert block, "the README has no first command"
    assert readme.index("\n## Try it\n") < block.start() < readme.index("\n## Use it in"), (
        "the README's first command is not the one of Try it, its first section"
    )
    steps = [s.strip() for s in block.group(1).split("&&")]
    assert steps[-1].startswith("match-staging "), steps
    return steps[-1]


def test_readme_first_command_shows_every_channel_then_review_and_send_keep_pages_current(
    clone: Path, shell_env: dict[str, str]
) -> None:
    env = {k: v for k, v in shell_env.items() if k != "MATCH_STAGING_NOW"}  # as a user runs it
    # ...at night too: on the local tracker quiet hours hold no outbox/ file back
    env["MATCH_STAGING_NOW"] = "2026-02-08T23:30:00+01:00"
    done = sh(first_command(), clone, env)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("running on the embedded local tracker")
    folder = clone / "outbox" / "2026-02-08T14-30-00Z"
    one_message_per_channel(sorted(p.name for p in folder.iterdir()))
    for channel in (s.name for s in registry.specs()):  # the run says where each message is
        assert re.search(
            rf"^notified  {channel}\S* +#1 #2 #3 #4 #5  written to outbox/",
            done.stdout,
            re.MULTILINE,
        ), done.stdout
    assert "deferred" not in done.stdout

    page = clone / ".match-staging" / "issues" / "1.md"
    before = page.read_text(encoding="utf-8")
    assert "**State:** pending · open" in before
    for command in (
        "match-staging review 1 --approve --reason 'Passt gut'",
        "match-staging send 1",
        "match-staging review 2 --reject",
    ):
        done = sh(command, clone, env)
        assert done.returncode == 0, done.stderr

    first = page.read_text(encoding="utf-8")
    assert "**State:** sent · closed" in first
    assert "job-match/sent" in first and "job-match/pending" not in first
    assert "## Notes (3)" in first
    assert "pending → **approved** by Ada Lovelace" in first
    assert "> Passt gut" in first
    assert "written to outbox/, not sent" in first and "by smtp" not in first
    assert "is being written to outbox/ now" in first  # the sending mark, then the outcome
    second = (clone / ".match-staging" / "issues" / "2.md").read_text(encoding="utf-8")
    assert "**State:** rejected · closed" in second and "## Notes (1)" in second
    for text in (before, first, second):
        assert "v1 notice:" not in text and "<!--" not in text  # no machine record
        assert "on the board" not in text  # the local tracker has no board
    (application,) = (clone / "outbox" / "applications").glob("*.eml")
    assert application.stat().st_size > 0


def examples() -> Iterator[tuple[str, str]]:
    for name in COMMANDS:
        epilog = subcommand_parser(name).epilog or ""
        found = re.findall(r"^Example:\n  (.+)$", epilog, re.MULTILINE)
        assert found, f"{name} --help has no example"
        yield from ((name, example) for example in found)


@pytest.mark.parametrize(("name", "example"), list(examples()))
def test_every_help_example_runs_as_written_on_a_fresh_clone(
    name: str, example: str, clone: Path, shell_env: dict[str, str]
) -> None:
    env = dict(shell_env)
    if name in ("bootstrap", "rotate-token"):  # these need a GitLab project, as help says
        assert "GITLAB_TOKEN" in (subcommand_parser(name).description or "")
        with FakeGitLab() as fake:
            fake.variables["GITLAB_TOKEN"] = {"key": "GITLAB_TOKEN", "value": fake.token}
            env.update(GITLAB_URL=fake.url, GITLAB_TOKEN=fake.token, GITLAB_PROJECT="1")
            done = sh(example, clone, env)
    else:
        if name == "init":  # a clone is a git checkout, which init insists on; the copy is not
            subprocess.run(["git", "init", "-q", str(clone)], check=True)
        done = sh(example, clone, env)
    assert done.returncode == 0, f"{example}\n{done.stdout}\n{done.stderr}"
    assert "error" not in done.stderr.lower(), done.stderr


def test_no_tracked_file_is_a_link_leading_outside_the_repository() -> None:
    """A clone must not carry a symbolic link to a developer's machine (issue 19: a
    `.venv-main` pointing at /work/main/.venv was committed): it dangles everywhere else, and
    a tool that follows it reads or writes outside the checkout.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "-s"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    links = [
        entry.split("\t", 1)[1]
        for entry in filter(None, listed.split("\0"))
        if entry.startswith("120000 ")  # git's mode for a symbolic link
    ]
    root = ROOT.resolve()
    outside = [
        name
        for name in links
        # an absolute target leads to one machine's folder even where it happens to resolve
        # inside this checkout (the committed link did, on the machine that made it)
        if os.path.isabs(os.readlink(ROOT / name))
        or not (ROOT / name).resolve().is_relative_to(root)
    ]
    assert outside == [], f"links leading outside the repository: {outside}"

"""What a user installs (issue 25): the wheel, built from the sdist as `.ci/run` and the tag
pipeline build it, holds the templates, the match schema and `init`'s scaffold files, and
the tool runs from it alone: `init` in an empty repository writes its files, `--version`
names the wheel's version.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from match_staging import __version__
from tests.conftest import ROOT

PACKAGE = ROOT / "src" / "match_staging"


def _build(out: Path) -> Path:
    """`python -m build` as .ci/run runs it (the sdist, then the wheel built from it), but
    with the installed backend: no network."""
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (wheel,) = out.glob("*.whl")
    return wheel


@pytest.mark.slow  # a wheel build (~4 s)
def test_the_wheel_holds_what_the_tool_reads_and_runs_init_alone(tmp_path: Path) -> None:
    wheel = _build(tmp_path / "dist")
    assert wheel.name == f"match_staging-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = Parser().parsestr(
            archive.read(f"match_staging-{__version__}.dist-info/METADATA").decode()
        )
        archive.extractall(tmp_path / "site")
    assert metadata["Version"] == __version__
    shipped = {
        *(f"match_staging/templates/{p.name}" for p in (ROOT / "templates").iterdir()),
        "match_staging/match.schema.json",
        *(f"match_staging/scaffold/{p.name}" for p in (PACKAGE / "scaffold").iterdir()),
    }
    assert {
        "match_staging/templates/issue.md.j2",
        "match_staging/scaffold/gitlab-ci.yml",
    } <= shipped
    assert shipped - names == set()
    assert not [n for n in names if n.startswith(("tests/", "matches-inbox/", "config/"))]

    # the unpacked wheel, first on the path, is all of match-staging there is
    repo = tmp_path / "backoffice"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("GITLAB_", "MATCH_STAGING", "CI"))
    }
    env["PYTHONPATH"] = str(tmp_path / "site")

    def tool(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "match_staging", *argv],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    where = subprocess.run(
        [sys.executable, "-c", "import match_staging; print(match_staging.__file__)"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(tmp_path / "site"))
    assert tool("--version").stdout.strip() == f"match-staging {__version__}"
    done = tool("init")
    assert done.returncode == 0, done.stderr
    assert (repo / "matches-inbox" / "match.schema.json").read_bytes() == (
        ROOT / "matches-inbox" / "match.schema.json"
    ).read_bytes()
    assert (repo / "config" / "notification-channels.yml").read_bytes() == (
        PACKAGE / "scaffold" / "notification-channels.yml"
    ).read_bytes()
    assert f"review-gate@{__version__}" in (repo / ".gitlab-ci.yml").read_text(encoding="utf-8")
    # and the templates it renders with: the example is staged on the local tracker
    done = tool("stage")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("staged    #") == 2

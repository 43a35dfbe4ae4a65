"""The version has one place, `match_staging.__version__` (hatch reads it into the wheel),
and everything that names it agrees: `--version`, CHANGELOG.md's newest release and, in a
tag pipeline, the tag (issue 25).
"""

from __future__ import annotations

import os
import re
import tomllib

import pytest

from match_staging import __version__
from match_staging.cli import main
from tests.conftest import ROOT

# the CI/CD Catalog takes semantic versions only, and users pin `@1.2.3` (README)
SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
RELEASE = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - (?P<date>\S+))?\s*$", re.MULTILINE)


def test_version_prints_the_packages_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"], {})
    assert done.value.code == 0
    assert capsys.readouterr().out == f"match-staging {__version__}\n"
    assert SEMVER.fullmatch(__version__)


def test_the_version_is_written_in_one_place() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"] and project["project"]["dynamic"] == ["version"]
    source = project["tool"]["hatch"]["version"]["path"]
    text = (ROOT / source).read_text(encoding="utf-8")
    assert re.findall(r'^__version__ = "(.*)"$', text, re.MULTILINE) == [__version__]


def test_the_changelogs_newest_release_is_the_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog\n")
    headings = [(m["version"], m["date"]) for m in RELEASE.finditer(text)]
    assert headings[0] == ("Unreleased", None)  # Keep a Changelog: what the next one brings
    version, date = headings[1]
    assert version == __version__
    assert date and re.fullmatch(r"\d{4}-\d{2}-\d{2}", date)
    for version, _ in headings:  # every heading links to its release or comparison
        assert re.search(rf"^\[{re.escape(version)}\]: https://", text, re.MULTILINE), version


@pytest.mark.skipif(
    not os.environ.get("CI_COMMIT_TAG"), reason="not a tag pipeline (CI_COMMIT_TAG is not set)"
)
def test_a_tag_pipelines_tag_is_the_version() -> None:
    tag = os.environ["CI_COMMIT_TAG"]
    assert tag in (__version__, f"v{__version__}"), (
        f"tag {tag} but the package says {__version__}: set __version__ in "
        "src/match_staging/__init__.py and CHANGELOG.md's release heading, then tag again"
    )


def test_no_pipeline_file_reads_the_version_from_pyproject() -> None:
    """The jobs compare the job image's `--version` with the checkout's version; a `sed` for
    `version = "..."` in pyproject.toml would find nothing there now, and the jobs would
    silently pip install although the image ships that very version."""
    files = [ROOT / ".gitlab-ci.yml", ROOT / "Containerfile", *(ROOT / "ci").iterdir()]
    files += (ROOT / "templates").glob("*.yml")  # the CI/CD component
    stale = [
        str(f.relative_to(ROOT))
        for f in files
        if f.is_file() and "^version = " in f.read_text(encoding="utf-8", errors="replace")
    ]
    assert stale == []

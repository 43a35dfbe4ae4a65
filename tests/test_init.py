"""`match-staging init` in a repository that holds nothing of ours (issue 25): what it
writes works with the other commands as they are, it never overwrites a file, and the
pipeline it writes passes GitLab's CI schema.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
import yaml

import match_staging.channels.registry  # noqa: F401  (the channels' configuration sections)
from match_staging import __version__, config
from match_staging.cli import main
from match_staging.usecases.init import DEFAULT_COMPONENT_PROJECT
from tests import ci_schema
from tests.conftest import ROOT, cli
from tests.fakes.gitlab import FakeGitLab

WRITTEN = (
    ".gitlab-ci.yml",
    "matches-inbox/match.schema.json",
    "matches-inbox/example-cycle.json",
    "config/notification-channels.yml",
)
COMPONENT = f"{DEFAULT_COMPONENT_PROJECT}/review-gate@{__version__}"
WRITES = ("POST", "PUT", "DELETE", "PATCH")


@pytest.fixture
def empty_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new git repository, nothing in it, as the job's (and the user's) working directory."""
    repo = tmp_path / "backoffice"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    monkeypatch.chdir(repo)
    for var in ("GITLAB_TOKEN", "CI", "GITLAB_CI", "CI_JOB_ID", "MATCH_STAGING_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    return repo


@pytest.fixture
def fake() -> Iterator[FakeGitLab]:
    with FakeGitLab() as server:
        yield server


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def assert_includes_the_component(documents: list[Any]) -> None:
    """The pipeline (its last document) includes this version's component, and every input
    it passes through is one its `spec:` header (the first document) declares.
    """
    *header, body = documents
    (include,) = [i for i in body["include"] if isinstance(i, dict) and "component" in i]
    assert include["component"] == COMPONENT
    passed = re.findall(r"\$\[\[\s*inputs\.(\w+)", json.dumps(include.get("inputs", {})))
    declared = header[0]["spec"]["inputs"] if header else {}
    assert set(passed) <= set(declared)
    assert {"job", "send_iid"} <= set(passed)  # the contract with the component: passed through


def test_init_then_stage_then_bootstrap_dry_run_in_an_empty_repository(
    empty_repo: Path, fake: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "init")
    assert code == 0, err
    assert sorted(snapshot(empty_repo)) == sorted(WRITTEN)
    for name in WRITTEN:
        assert f"create    {name} (" in out
    assert f"create    .gitlab-ci.yml (includes {COMPONENT})" in out
    assert "4 file(s) created, 0 already there" in out
    steps = [line for line in out.splitlines() if line.startswith("next ")]
    assert len(steps) == 2 and "match-staging bootstrap" in steps[0]
    assert "CI/CD > Variables" in steps[1] and "GITLAB_TOKEN" in steps[1]
    assert out.splitlines()[-2:] == steps  # the next steps come last

    # the example is staged on the local tracker as the README's first run is
    code, out, err = cli(capsys, "stage")
    assert code == 0, err
    assert out.count("staged    #") == 2 and "1 below threshold" in out
    assert "Platform Engineer Kubernetes (Beispiel)" in out

    # and the configuration is one bootstrap works with
    code, out, err = cli(
        capsys,
        "bootstrap",
        "--dry-run",
        env={"GITLAB_URL": fake.url, "GITLAB_TOKEN": fake.token, "GITLAB_PROJECT": "1"},
    )
    assert code == 0, err
    assert 'create board "Job matches"' in out and "create label job-match/pending" in out
    assert out.splitlines()[-1].startswith("dry run: ")
    assert [r for r in fake.requests if r.method in WRITES] == []


@pytest.mark.skipif(ci_schema.missing() is not None, reason=str(ci_schema.missing()))
def test_the_written_pipeline_passes_gitlabs_ci_schema(
    empty_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "init")[0] == 0
    text = (empty_repo / ".gitlab-ci.yml").read_text(encoding="utf-8")
    assert "{{" not in text and "}}" not in text  # every placeholder filled
    documents = list(yaml.safe_load_all(text))
    validator = jsonschema.Draft7Validator(ci_schema.gitlab_ci_schema())
    for document in documents:
        problems = [
            f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)
        ]
        assert problems == []
    assert_includes_the_component(documents)
    # the validator does check: a broken include is reported
    assert list(validator.iter_errors({"include": [{"component": 5}]}))


def test_the_written_configuration_loads_and_enables_no_channel(empty_repo: Path) -> None:
    assert main(["init"], {}) == 0
    path = "config/notification-channels.yml"
    for env in ({}, {"CI": "true"}):  # in CI too, where ${NAME} is refused for some keys
        cfg = config.load(path, env)
        assert [c for c in cfg.notification.channels.by_name.values() if c.enabled] == []
        assert cfg.notification.channels.gitlab_todo.enabled is False
    text = (empty_repo / path).read_text(encoding="utf-8")
    secrets = ("SMTP_PASSWORD", "SLACK_WEBHOOK_URL", "TELEGRAM_BOT_TOKEN", "TWILIO_AUTH_TOKEN")
    for name in secrets:
        assert f"${{{name}}}" in text
    assert "blauweiss" not in text.lower() and "laube" not in text.lower()  # nobody's data


def test_the_written_configuration_shows_the_later_clocks_and_stats_with_defaults(
    empty_repo: Path,
) -> None:
    """The configuration a user adopts is the one init writes: it names what issues 23 and
    24 made configurable (the clocks after the gate, the stats section), with the values
    the tool uses when they are left out, as this repository's configuration does.
    """
    assert main(["init"], {}) == 0
    data = yaml.safe_load((empty_repo / "config/notification-channels.yml").read_text("utf-8"))
    defaults = config.Config()
    for key in (
        "pending_ttl_days",
        "close_expired",
        "revive_days",
        "follow_up_days",
        "ghosted_after_days",
    ):
        assert data["workflow"][key] == getattr(defaults.workflow, key), key
    stats = defaults.stats
    assert data["stats"] == {
        "min_decisions": stats.min_decisions,
        "target_approval_rate": stats.target_approval_rate,
        "weekly_on": stats.weekly_on,
    }


def test_the_example_is_a_valid_document_of_realistic_size(empty_repo: Path) -> None:
    assert main(["init"], {}) == 0
    example = empty_repo / "matches-inbox" / "example-cycle.json"
    assert 1_500 < example.stat().st_size < 20_000
    assert main(["validate", str(example)], {}) == 0  # schema and attachments
    matches = json.loads(example.read_text(encoding="utf-8"))["matches"]
    assert all(m.get("draft") and m.get("requirements") for m in matches if m["score"] >= 70)
    shipped = json.loads((ROOT / "matches-inbox" / "match.schema.json").read_text("utf-8"))
    written = json.loads((empty_repo / "matches-inbox" / "match.schema.json").read_text("utf-8"))
    assert written == shipped


def test_init_never_overwrites_and_prints_the_include_for_an_existing_pipeline(
    empty_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (empty_repo / ".gitlab-ci.yml").write_text("build:\n  script: [make]\n", encoding="utf-8")
    (empty_repo / "config").mkdir()
    (empty_repo / "config" / "notification-channels.yml").write_text(
        "notification:\n  preferences:\n    threshold: 85\n", encoding="utf-8"
    )
    before = snapshot(empty_repo)
    code, out, _ = cli(capsys, "init")
    assert code == 0
    after = snapshot(empty_repo)
    assert {k: after[k] for k in before} == before  # not a byte changed
    assert sorted(set(after) - set(before)) == [
        "matches-inbox/example-cycle.json",
        "matches-inbox/match.schema.json",
    ]
    assert "exists    .gitlab-ci.yml: left as it is; add these lines to it" in out
    assert "exists    config/notification-channels.yml: left as it is" in out
    assert "2 file(s) created, 2 already there" in out
    # the printed lines are the YAML to add: the include and the header its inputs need
    lines = out.split("add these lines to it", 1)[1].splitlines()[1:]
    block = [line[10:] for line in lines if line.startswith(" " * 10)]
    assert_includes_the_component(list(yaml.safe_load_all("\n".join(block))))

    # a second run finds everything, its own pipeline included, and changes nothing
    (empty_repo / ".gitlab-ci.yml").unlink()
    assert cli(capsys, "init")[0] == 0
    again = snapshot(empty_repo)
    code, out, _ = cli(capsys, "init")
    assert code == 0 and snapshot(empty_repo) == again
    assert "exists    .gitlab-ci.yml: it includes review-gate already; left as it is" in out
    assert "0 file(s) created, 4 already there" in out


def test_dry_run_lists_what_it_would_write_and_writes_nothing(
    empty_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "init", "--dry-run")
    assert code == 0
    assert snapshot(empty_repo) == {}
    assert [line.split()[1] for line in out.splitlines() if line.startswith("create ")] == list(
        WRITTEN
    )
    assert "dry run: 4 file(s) would be created, 0 already there; nothing was written" in out
    assert len([line for line in out.splitlines() if line.startswith("next ")]) == 2


def test_component_project_names_where_the_component_is_published(
    empty_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(
        capsys, "init", "--component-project", "gitlab.example.com:8443/ops/ci/gate/"
    )
    assert code == 0 and "review-gate@" in out
    text = (empty_repo / ".gitlab-ci.yml").read_text(encoding="utf-8")
    assert f"component: gitlab.example.com:8443/ops/ci/gate/review-gate@{__version__}" in text
    assert f'"{__version__}"' in text  # the version the component's jobs install

    (empty_repo / ".gitlab-ci.yml").unlink()  # the instance the pipeline runs on
    assert cli(capsys, "init", "--component-project", "$CI_SERVER_FQDN/ops/gate")[0] == 0
    text = (empty_repo / ".gitlab-ci.yml").read_text(encoding="utf-8")
    assert f"component: $CI_SERVER_FQDN/ops/gate/review-gate@{__version__}" in text


@pytest.mark.parametrize(
    "project",
    [
        "https://gitlab.com/group/project",
        "gitlab.com/project",
        "gitlab.com/group/project@1.0.0",
        "gitlab.com/group/project\ninclude: evil",
        "$CI_PROJECT_PATH/x/y",
    ],
)
def test_a_component_project_that_is_no_project_path_is_refused(
    empty_repo: Path, capsys: pytest.CaptureFixture[str], project: str
) -> None:
    code, out, err = cli(capsys, "init", "--component-project", project)
    assert code == 2 and out == ""
    assert err.startswith("match-staging: error: --component-project ")
    assert "HOST/GROUP/PROJECT" in err and len(err.splitlines()) == 1
    assert snapshot(empty_repo) == {}


def test_init_outside_the_top_of_a_git_checkout_is_refused(
    empty_repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (empty_repo / "sub").mkdir()
    monkeypatch.chdir(empty_repo / "sub")  # GitLab reads .gitlab-ci.yml at the top only
    code, _, err = cli(capsys, "init")
    assert code == 2 and f"at the top of the git checkout ({empty_repo})" in err
    assert list((empty_repo / "sub").iterdir()) == []

    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.chdir(plain)
    code, _, err = cli(capsys, "init", "--dry-run")
    assert code == 2 and "is not a git checkout" in err and "nothing was written" in err
    assert list(plain.iterdir()) == []


def test_a_file_that_cannot_be_written_is_one_line_and_exit_1(
    empty_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (empty_repo / "matches-inbox").write_text("not a folder", encoding="utf-8")
    code, out, err = cli(capsys, "init")
    assert code == 1 and "Traceback" not in err
    assert "failed    matches-inbox/match.schema.json: could not create its folder" in out
    assert "create    config/notification-channels.yml" in out  # the others still written
    assert "2 file(s) created, 2 failed, 0 already there" in out


def test_the_component_installs_from_the_registry_of_the_project_init_names() -> None:
    """init names the component's project; the component's jobs pip install from a package
    registry: by default the same project's, or a user gets a component from one place and
    match-staging from another (or nowhere)."""
    template = ROOT / "templates" / "review-gate.yml"
    if not template.exists():
        pytest.skip("the component templates/review-gate.yml is not in this checkout")
    spec = next(yaml.safe_load_all(template.read_text(encoding="utf-8")))
    default = spec["spec"]["inputs"]["pip_index_url"]["default"]
    host, path = DEFAULT_COMPONENT_PROJECT.split("/", 1)
    assert default == f"https://{host}/api/v4/projects/{quote(path, safe='')}/packages/pypi/simple"


def test_a_pipeline_that_pins_another_version_is_left_as_it_is_and_says_so(
    empty_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pinned = COMPONENT.replace(f"@{__version__}", "@0.0.9")
    text = f'include:\n  - component: {pinned}\n    inputs: {{version: "0.0.9"}}\n'
    (empty_repo / ".gitlab-ci.yml").write_text(text, encoding="utf-8")
    code, out, _ = cli(capsys, "init")
    assert code == 0
    assert (empty_repo / ".gitlab-ci.yml").read_text(encoding="utf-8") == text
    assert "exists    .gitlab-ci.yml: it includes review-gate@0.0.9; left as it is" in out
    assert f"this match-staging is {__version__}" in out and "add these lines" not in out

"""The review-gate CI/CD component (templates/review-gate.yml) in a project that is not this
one (issue 25): a scratch repository with what `match-staging init` writes and no source of
ours, whose pipeline includes the component by its Catalog address at a version, as a user's
does. Its jobs install match-staging from a package index at that version: here a local
folder holding the wheel built once per session, named by the component's `pip_index_url`
input (the input a user points at a mirror); on GitLab the PyPI registry the release
publishes to.

gitlab-ci-local resolves `component: gitlab.com/<group>/<project>/review-gate@<version>` from
its include cache (`.gitlab-ci-local/includes/<host>/<project>/<version>/templates/`) before
it would fetch it over the network: the tests put the component there ("a local copy").
Also the tag pipeline of this repository (ci/release.yml), listed, not run: it uploads.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

from tests.conftest import job_matches
from tests.system.test_pipeline import (
    PIPELINE_TIMEOUT,
    ROOT,
    Run,
    World,
    _git,
    channels_on,
    gitlab_ci_local,
    install,
    listed,
    pipeline_tools,
    reviewer_approves,
    settle,
    trigger_payload,
    world,
)

pytestmark = pytest.mark.pipeline
# the fixtures, imported so that this module's tests get them: the skip where gitlab-ci-local
# cannot run (autouse) and the world
__all__ = ["pipeline_tools", "world"]

VERSION = version("match-staging")
PROJECT = "freelancer/match-staging"  # where the component and the package are published
COMPONENT = f"gitlab.com/{PROJECT}/review-gate@{VERSION}"
SCAFFOLD = ROOT / "src" / "match_staging" / "scaffold" / "gitlab-ci.yml"
HOST_PROJECT = f"gitlab.com/{PROJECT}"  # init's --component-project
INSTALL_TIMEOUT = 900


def what_init_writes(repo: Path) -> None:
    """`match-staging init` run in the project, as a user runs it: the scaffold's
    .gitlab-ci.yml with the component and the version filled in, the inbox's JSON Schema and
    example, the configuration (every channel off: channels_on enables two)."""
    done = subprocess.run(
        [sys.executable, "-m", "match_staging", "init", "--component-project", HOST_PROJECT],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 file(s) created" in done.stdout


@pytest.fixture(scope="session")
def package_index(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A PEP 503 index in a local folder holding this checkout's wheel, built once: what the
    release publishes to the project's PyPI registry (dependencies come from pip's own
    configuration, as GitLab's registry forwards them to pypi.org)."""
    root = tmp_path_factory.mktemp("index")
    wheels = root / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        timeout=INSTALL_TIMEOUT,
    )
    (wheel,) = wheels.glob("match_staging-*.whl")
    project = root / "simple" / "match-staging"
    project.mkdir(parents=True)
    (project / "index.html").write_text(
        f'<!DOCTYPE html><html><body><a href="{wheel.as_uri()}">{wheel.name}</a></body></html>',
        encoding="utf-8",
    )
    return (root / "simple").as_uri()


def forwarding(home: Path) -> None:
    """What GitLab's registry does for what it lacks (it forwards to pypi.org): the job's
    pip finds the dependencies where this machine's pip does, by a user configuration in
    the jobs' HOME (the job's `--index-url` names the index with match-staging)."""
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    found: dict[str, list[str]] = {}
    for line in listed.splitlines():
        key, _, value = line.partition("=")
        name = key.rsplit(".", 1)[-1]
        found.setdefault(name, []).extend(value.strip("'\"").split())
    indexes = found.get("index-url") or ["https://pypi.org/simple"]
    lines = [
        "[global]",
        "extra-index-url = " + " ".join(indexes + found.get("extra-index-url", [])),
    ]
    if found.get("find-links"):
        lines.append("find-links = " + " ".join(found["find-links"]))
    config = home / ".config" / "pip" / "pip.conf"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")


def scratch(base: Path, index: str) -> Path:
    """A project of its own: an empty first commit (origin/main: the push pipeline's
    `changes` compare with it), then what init writes, the channels a user enables, and the
    component's address cached for gitlab-ci-local. Its pipeline names `index`."""
    repo = base / "backoffice"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.name", "Test")
    _git(repo, "config", "user.email", "test@example.com")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "the backoffice before match-staging")
    _git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    _git(repo, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    what_init_writes(repo)
    channels_on(repo)
    ci = repo / ".gitlab-ci.yml"
    ci.write_text(
        ci.read_text(encoding="utf-8").replace(
            f'version: "{VERSION}"', f'version: "{VERSION}"\n      pip_index_url: {index}'
        ),
        encoding="utf-8",
    )
    cached = repo / ".gitlab-ci-local" / "includes" / "gitlab.com" / PROJECT / VERSION
    (cached / "templates").mkdir(parents=True)
    shutil.copy2(ROOT / "templates" / "review-gate.yml", cached / "templates")
    return repo


@pytest.fixture
def backoffice(tmp_path: Path, package_index: str) -> Path:
    forwarding(tmp_path / "home")  # gitlab_ci_local's HOME for the jobs
    return scratch(tmp_path, package_index)


def shown(run: Run) -> str:
    """The end of a run's output without pip's notes on the index (a folder per project:
    it holds match-staging only), and the job's summary."""
    lines = [line for line in run.output.splitlines() if "WARNING: Location" not in line]
    summaries = sorted((run.repo / ".gitlab-ci-local" / "artifacts").glob("*/summary.txt"))
    return "\n".join(lines[-60:] + [path.read_text(encoding="utf-8") for path in summaries])


def commit_all(repo: Path, message: str) -> None:
    _git(repo, "add", "-A", ".")  # .gitlab-ci-local/ is gitlab-ci-local's, never committed
    _git(repo, "reset", "-q", ".gitlab-ci-local")
    _git(repo, "commit", "-q", "-m", message)


def test_a_project_without_our_source_stages_reviews_and_digests_through_the_component(
    backoffice: Path, world: World
) -> None:
    """Done when (issue 25): init, then a push pipeline stages the example cycle against the
    fake GitLab; the webhook's and the schedule's pipelines work as in this repository."""
    commit_all(backoffice, "match-staging init")
    tracked = _git(backoffice, "ls-files").split()
    assert not [name for name in tracked if name.split("/")[0] in ("src", "ci", "templates")]
    assert "pyproject.toml" not in tracked
    settle(backoffice, world)  # bootstrap's gitlab.url and label ids, committed
    _git(backoffice, "update-ref", "refs/remotes/origin/main", "HEAD~2")  # the push: init

    push = gitlab_ci_local(backoffice, variables=world.variables(), timeout=INSTALL_TIMEOUT)
    assert push.code == 0, shown(push)
    assert "json schema validated" in push.output  # the written file passes GitLab's schema
    assert push.passed() == ["stage"] and push.failed() == []
    venv = backoffice / ".venv-ci"
    assert f"match-staging {VERSION}" in push.output  # the job's `match-staging --version`
    assert f"{venv}/bin/match-staging" in push.output  # installed from the index, not ours
    assert (venv / "bin" / "match-staging").is_file()
    # init's example: three matches, two of them at or above the threshold
    assert "2 staged, 0 already staged" in push.artifact("stage")
    issues = job_matches(world.gitlab)
    assert len(issues) == 2 and len(world.slack.posts) == 1 and len(world.smtp.messages) == 1

    issue = min(issues.values(), key=lambda found: int(found["iid"]))
    event = reviewer_approves(world, issue)
    webhook = gitlab_ci_local(
        backoffice,
        variables=world.variables(
            CI_PIPELINE_SOURCE="trigger", TRIGGER_PAYLOAD=trigger_payload(backoffice, event)
        ),
        timeout=INSTALL_TIMEOUT,
    )
    assert webhook.code == 0, shown(webhook)
    assert webhook.passed() == ["transition"] and webhook.failed() == []
    labels = world.gitlab.issues[issue["iid"]]["labels"]
    assert "job-match/approved" in labels and "job-match/pending" not in labels
    assert len(world.gitlab.notes.get(issue["iid"], [])) == 1  # the audit note

    bots_own = {**event, "user": {**event["user"], "username": "bot"}}
    ended = gitlab_ci_local(
        backoffice,
        variables=world.variables(
            CI_PIPELINE_SOURCE="trigger", TRIGGER_PAYLOAD=trigger_payload(backoffice, bots_own)
        ),
    )
    assert ended.code == 0, shown(ended)
    assert "not ours, nothing to do: issue #" in ended.artifact("transition")  # the prefilter

    schedule = gitlab_ci_local(
        backoffice,
        variables=world.variables(CI_PIPELINE_SOURCE="schedule"),
        timeout=INSTALL_TIMEOUT,
    )
    assert schedule.code == 0, shown(schedule)
    assert schedule.passed() == ["digest"] and schedule.failed() == []
    assert world.queued() == []
    assert world.gitlab.token not in push.output + webhook.output + schedule.output


def test_the_components_inputs_name_the_jobs_stages_paths_and_install(
    backoffice: Path, world: World
) -> None:
    """A user's choices reach the jobs: the job-name prefix and resource group, the stages,
    the image, the configuration and inbox paths, the version and extras pip installs."""
    ci = backoffice / ".gitlab-ci.yml"
    text = ci.read_text(encoding="utf-8").replace(
        "      job: $[[ inputs.job ]]\n",
        "      job: $[[ inputs.job ]]\n"
        "      job_prefix: gate-\n"
        "      stage_stage: intake\n"
        "      image: registry.example.com/backoffice/match-staging:1.2.3\n"
        "      config: ops/match-staging.yml\n"
        "      inbox: drafts\n"
        "      extras: whatsapp,apprise\n",
    )
    ci.write_text(text.replace("workflow:", "stages: [test, intake]\n\nworkflow:"), "utf-8")
    commit_all(backoffice, "match-staging init, configured")
    preview = gitlab_ci_local(backoffice, "--preview")
    assert preview.code == 0, preview.output
    jobs = yaml.safe_load(preview.stdout)
    assert {"gate-stage", "gate-transition", "gate-send", "gate-digest"} <= set(jobs)
    assert not {"stage", "transition", "send", "digest"} & set(jobs)
    assert "default" not in jobs  # the user's other jobs keep their own defaults
    stage = jobs["gate-stage"]
    assert stage["stage"] == "intake" and jobs["gate-digest"]["stage"] == "test"
    assert stage["resource_group"] == "gate-match-staging"
    assert stage["image"]["name"] == "registry.example.com/backoffice/match-staging:1.2.3"
    assert "--config 'ops/match-staging.yml'" in json.dumps(stage["script"])
    install_lines = "\n".join(stage["before_script"])
    assert f"extras='whatsapp,apprise' version='{VERSION}'" in install_lines
    assert "--index-url 'file://" in install_lines
    (backoffice / "drafts").mkdir()
    (backoffice / "drafts" / "new.json").write_text("[]", encoding="utf-8")
    commit_all(backoffice, "a draft")
    assert listed(backoffice) == {"gate-stage": "on_success"}  # a push to the inbox input


@pytest.mark.parametrize(
    ("inputs", "problem"),
    [
        ({"pip_index_url": "https://x.example/simple'; curl evil #"}, "does not match"),
        ({"extras": "whatsapp]; rm -rf ."}, "does not match"),
        ({"version": "1.2.3; true"}, "does not match"),
        ({"install": "git+https://evil.example/x"}, "not in the list of allowed options"),
    ],
)
def test_inputs_that_reach_a_shell_line_are_checked_before_they_are_interpolated(
    backoffice: Path, inputs: dict[str, str], problem: str
) -> None:
    ci = backoffice / ".gitlab-ci.yml"
    ((key, value),) = inputs.items()
    lines = ci.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(f"      {key}:")]
    at = kept.index("    inputs:\n") + 1  # the include's inputs
    kept.insert(at, f"      {key}: {json.dumps(value)}\n")
    ci.write_text("".join(kept), "utf-8")
    run = gitlab_ci_local(backoffice, "--list-json")
    assert run.code != 0 and problem in run.output, run.output[-2000:]


# --------------------------------------------------------------------------- this repository


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """This repository as git would commit it (its own .gitlab-ci.yml, the component at
    $CI_COMMIT_SHA), origin/main at that commit."""
    from tests.system.test_pipeline import _repository_files

    base = tmp_path / "repo"
    for name in _repository_files():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, base / name)
    install(base, "none")
    _git(base, "init", "-q", "-b", "main")
    _git(base, "add", "-A")
    _git(base, "commit", "-q", "-m", "base")
    _git(base, "update-ref", "refs/remotes/origin/main", "HEAD")
    return base


RELEASE = ["build-image", "build-package", "publish-package", "release"]


@pytest.mark.parametrize(
    ("tag", "expected"), [("1.2.3", RELEASE), ("v1.2.3", []), ("1.2", []), ("nightly", [])]
)
def test_a_semantic_version_tag_releases_after_the_tests(
    repo: Path, tag: str, expected: list[str]
) -> None:
    run = gitlab_ci_local(
        repo, "--list-json", variables={"CI_COMMIT_TAG": tag}, timeout=PIPELINE_TIMEOUT
    )
    assert run.code == 0, run.output
    jobs = [
        job for job in json.loads(run.stdout[run.stdout.index("[") :]) if job["when"] != "never"
    ]
    assert sorted(job["name"] for job in jobs if job["stage"] == "release") == expected
    assert "test: [3.11]" in [job["name"] for job in jobs]  # a tag pipeline tests first
    if expected:
        needs = {job["name"]: [need["job"] for need in job.get("needs") or []] for job in jobs}
        assert needs["build-package"] == ["test"] and needs["build-image"] == ["test"]
        assert needs["publish-package"] == ["build-package"]


@pytest.mark.parametrize("matches", [True, False], ids=["the-version", "another-tag"])
def test_build_package_builds_checks_and_installs_the_tags_version(
    repo: Path, tmp_path: Path, matches: bool
) -> None:
    """The release's first job, run: wheel and sdist, `twine check`, and the wheel installed
    in a fresh venv says the tag's version; a tag that is not the package's version fails
    before anything is published. (Its pip runs in a venv of its own, not the tests'.)"""
    tools = tmp_path / "tools"
    subprocess.run([sys.executable, "-m", "venv", str(tools)], check=True, timeout=120)
    forwarding(tmp_path / "home")  # build, twine and hatchling from where this pip finds them
    tag = VERSION if matches else "99.0.0"
    run = gitlab_ci_local(
        repo,
        "build-package",
        variables={"CI_COMMIT_TAG": tag},
        timeout=INSTALL_TIMEOUT,
        path_first=(tools / "bin",),
    )
    dist = repo / ".gitlab-ci-local" / "artifacts" / "build-package" / "dist"
    if matches:
        assert run.code == 0, shown(run)
        assert "PASSED" in run.output  # twine check
        assert sorted(path.name for path in dist.iterdir()) == [
            f"match_staging-{VERSION}-py3-none-any.whl",
            f"match_staging-{VERSION}.tar.gz",
        ]
    else:
        assert run.code != 0
        assert "tag 99.0.0: no dist/match_staging-99.0.0-py3-none-any.whl" in run.output


def test_the_package_goes_to_the_projects_pypi_registry_with_the_job_token(repo: Path) -> None:
    preview = gitlab_ci_local(repo, "--preview", variables={"CI_COMMIT_TAG": "1.2.3"})
    assert preview.code == 0, preview.output
    jobs = yaml.safe_load(preview.stdout)
    upload = " ".join(jobs["publish-package"]["script"])
    assert 'TWINE_PASSWORD="${CI_JOB_TOKEN}"' in upload
    assert '"${CI_API_V4_URL}/projects/${CI_PROJECT_ID}/packages/pypi" dist/*' in upload
    assert jobs["publish-package"]["variables"]["TWINE_USERNAME"] == "gitlab-ci-token"
    build = " ".join(jobs["build-package"]["script"])
    assert "python -m build" in build and "twine check --strict dist/*" in build
    assert jobs["release"]["release"]["tag_name"] == "$CI_COMMIT_TAG"
    assert "default" not in jobs and "variables" not in jobs

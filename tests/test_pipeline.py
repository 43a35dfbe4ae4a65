"""The real `.gitlab-ci.yml` under gitlab-ci-local (npm `gitlab-ci-local@4.70.1`): which job
each kind of pipeline runs, and the jobs end to end against the fake GitLab, a local Slack
webhook and an SMTP sink started in this process.

Each test copies the repository (the files git would commit: tracked plus untracked ones
that are not ignored) into a temporary directory, commits it on `main` with `origin/main`
pointing at that commit (gitlab-ci-local evaluates `rules:changes` as
`git diff --name-only origin/main`), and runs gitlab-ci-local there with
`--force-shell-executor` (no Docker here: jobs that name an image run in the local shell).

Test affordance: the jobs get MATCH_STAGING_INSTALL=none, so they use the `match-staging`
of the venv running the tests instead of a pip install into `.venv-ci` per job; one test
runs the real install path once.

Skipped, with the reason, where Node, rsync, git or the installed gitlab-ci-local is
missing (.ci/run installs them)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gitlab
import pytest
import yaml

from tests.fakes.gitlab_server import FakeGitLab
from tests.fakes.slack_server import SlackWebhook
from tests.fakes.smtp_sink import SmtpSink

ROOT = Path(__file__).resolve().parents[1]
GCL_VERSION = "4.70.1"
LOCAL_GCL = ROOT / ".ci" / "node" / "node_modules" / ".bin" / "gitlab-ci-local"
VENV_BIN = Path(sys.executable).parent
JOBS = ("test", "stage", "transition", "send", "digest")
DAY = "2026-02-08T14:30:00+01:00"
NIGHT = "2026-02-08T23:00:00+01:00"
MORNING = "2026-02-09T07:05:00+01:00"
PIPELINE_TIMEOUT = 300
INSTALL_TIMEOUT = 900


def _gitlab_ci_local() -> str | None:
    return os.environ.get("GITLAB_CI_LOCAL") or (
        str(LOCAL_GCL) if LOCAL_GCL.exists() else shutil.which("gitlab-ci-local"))


def _missing() -> str | None:
    """Why the module cannot run here, or None."""
    for tool in ("node", "git", "rsync"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (.ci/run installs it)"
    gcl = _gitlab_ci_local()
    if gcl is None:
        return (f"gitlab-ci-local is not installed: npm install --no-save --prefix .ci/node "
                f"gitlab-ci-local@{GCL_VERSION}")
    try:
        version = subprocess.run([gcl, "--version"], capture_output=True, text=True,
                                 timeout=60, check=False).stdout.strip()
    except OSError as exc:
        return f"gitlab-ci-local at {gcl} does not run: {exc}"
    if version != GCL_VERSION:
        return f"gitlab-ci-local {version or '?'} found, the tests pin {GCL_VERSION}"
    if not (VENV_BIN / "match-staging").exists():
        return f"match-staging is not installed in {VENV_BIN}"
    return None


MISSING = _missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=str(MISSING))


# --------------------------------------------------------------------------- the checkout

def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.com",
                           "-c", "commit.gpgsign=false", *args], cwd=repo, check=True,
                          capture_output=True, text=True).stdout


def _repository_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")
    return sorted(name for name in set(listed) if name and (ROOT / name).is_file())


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository as git would commit it, on `main`, with origin/main at that commit."""
    base = tmp_path_factory.mktemp("checkout") / "repo"
    for name in _repository_files():
        target = base / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    _git(base, "init", "-q", "-b", "main")
    _git(base, "config", "user.name", "Test")  # gitlab-ci-local reads these
    _git(base, "config", "user.email", "test@example.com")
    _git(base, "add", "-A")
    _git(base, "commit", "-q", "-m", "base")
    _git(base, "update-ref", "refs/remotes/origin/main", "HEAD")
    _git(base, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    return base


@pytest.fixture
def repo(checkout: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(checkout, copy, symlinks=True)
    return copy


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


def gitlab_ci_local(repo: Path, *args: str, variables: Mapping[str, str] = {},
                    timeout: float = PIPELINE_TIMEOUT) -> Run:
    gcl = _gitlab_ci_local()
    assert gcl is not None
    home = repo.parent / "home"
    home.mkdir(exist_ok=True)
    command = [gcl, "--force-shell-executor", "--no-color", "--home", str(home),
               "--ignore-predefined-vars", "CI_PIPELINE_SOURCE,CI_COMMIT_BRANCH"]
    for key, value in variables.items():
        command += ["--variable", f"{key}={value}"]
    # A clean environment: the jobs inherit it in the shell executor, so nothing of the
    # developer's (GITLAB_TOKEN, CI, ...) may leak in; the venv running the tests comes first.
    env = {"PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
           "HOME": str(home), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    done = subprocess.run([*command, *args], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    return Run(done.returncode, done.stdout, done.stderr, repo)


def listed(repo: Path, **variables: str) -> dict[str, str]:
    """job -> `when` of every job the pipeline would hold (when:never left out)."""
    run = gitlab_ci_local(repo, "--list-json", variables=variables)
    assert run.code == 0, run.output
    jobs = json.loads(run.stdout[run.stdout.index("["):])
    return {job["name"]: job["when"] for job in jobs if job["when"] != "never"}


@dataclass
class World:
    gitlab: FakeGitLab
    slack: SlackWebhook
    smtp: SmtpSink

    def variables(self, now: str = DAY, **extra: str) -> dict[str, str]:
        channels = "MATCH_STAGING__NOTIFICATION__CHANNELS__"
        return {
            "GITLAB_URL": self.gitlab.url, "GITLAB_TOKEN": self.gitlab.token,
            "GITLAB_PROJECT": "1", "MATCH_STAGING_NOW": now, "MATCH_STAGING_INSTALL": "none",
            f"{channels}SLACK__ENABLED": "true", "SLACK_WEBHOOK_URL": self.slack.url,
            f"{channels}EMAIL__ENABLED": "true", "SMTP_HOST": "127.0.0.1",
            f"{channels}EMAIL__SMTP__PORT": str(self.smtp.port),
            f"{channels}EMAIL__SMTP__SECURITY": "none",
            "MATCH_STAGING__GITLAB__BOT_USERNAME": "bot",
            "MATCH_STAGING__WORKFLOW__REVIEWERS": "[reviewer]",
            **extra,
        }

    def queued(self) -> list[str]:
        return sorted(lb for issue in self.gitlab.issues.values() for lb in issue["labels"]
                      if "/notify-" in lb)


@pytest.fixture
def world() -> Iterator[World]:
    with FakeGitLab() as gitlab, SlackWebhook() as slack, SmtpSink() as smtp:
        yield World(gitlab, slack, smtp)


def new_match(title: str = "Platform Engineer", url: str = "https://jobs.example.org/42",
              score: int = 93) -> dict[str, Any]:
    return {"id": f"pipeline-{url.rsplit('/', 1)[-1]}", "score": score, "title": title,
            "provider": "Example AG", "url": url}


def trigger_payload(repo: Path, body: Mapping[str, Any]) -> str:
    """The file GitLab hands a triggered job as TRIGGER_PAYLOAD (a file-type variable)."""
    path = repo.parent / "trigger_payload.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    return str(path)


# --------------------------------------------------------------------------- the file

def test_list_all_validates_the_file_and_lists_every_job(repo: Path) -> None:
    run = gitlab_ci_local(repo, "--list-all")
    assert run.code == 0, run.output
    assert "json schema validated" in run.output
    rows = [line.split()[0] for line in run.output.splitlines() if line.split()]
    assert [job for job in rows if job in JOBS] == list(JOBS)


def test_state_changing_jobs_share_one_resource_group_and_are_not_interruptible(
        repo: Path) -> None:
    run = gitlab_ci_local(repo, "--preview")
    assert run.code == 0, run.output
    expanded = yaml.safe_load(run.stdout)
    for job in ("stage", "transition", "send", "digest"):
        spec = expanded[job]
        assert spec["resource_group"] == "match-staging", job
        assert spec["interruptible"] is False, job
        assert spec["image"]["name"] == "python:3.12.7-slim", job
        assert spec["cache"][0]["paths"] == [".cache/pip", ".venv-ci"], job
        assert spec["artifacts"]["when"] == "always" and spec["artifacts"]["expire_in"], job
        assert "summary.txt" in spec["artifacts"]["paths"], job
        assert "GITLAB_TOKEN" not in json.dumps(spec.get("variables", {})), job
    assert expanded["workflow"]["auto_cancel"]["on_new_commit"] == "none"


# --------------------------------------------------------------------------- rules

@pytest.mark.parametrize(("variables", "expected"), [
    ({}, {}),  # a push that changes nothing the rules watch
    ({"CI_PIPELINE_SOURCE": "merge_request_event"}, {"test": "on_success"}),
    ({"CI_PIPELINE_SOURCE": "trigger", "MATCHES_JSON": "{}"}, {"stage": "on_success"}),
    ({"CI_PIPELINE_SOURCE": "api", "MATCHES_FILE": "m.json"}, {"stage": "on_success"}),
    ({"CI_PIPELINE_SOURCE": "web", "MATCHES_JSON": "{}"}, {"stage": "on_success"}),
    ({"CI_PIPELINE_SOURCE": "trigger", "TRIGGER_PAYLOAD": "/tmp/payload.json"},
     {"transition": "on_success"}),
    ({"CI_PIPELINE_SOURCE": "trigger", "TRIGGER_PAYLOAD": "/tmp/payload.json",
      "MATCHES_JSON": "{}"}, {"stage": "on_success"}),
    ({"CI_PIPELINE_SOURCE": "trigger", "TRIGGER_PAYLOAD": "/tmp/payload.json",
      "MATCH_STAGING_JOB": "stage"}, {"stage": "on_success"}),
    ({"CI_PIPELINE_SOURCE": "schedule"}, {"digest": "on_success"}),
    ({"CI_PIPELINE_SOURCE": "schedule", "MATCH_STAGING_JOB": "digest"},
     {"digest": "on_success"}),
    ({"CI_PIPELINE_SOURCE": "schedule", "MATCH_STAGING_JOB": "stage"},
     {"stage": "on_success"}),
    ({"CI_PIPELINE_SOURCE": "web", "SEND_IID": "7"}, {"send": "manual"}),
    ({"CI_PIPELINE_SOURCE": "trigger", "TRIGGER_PAYLOAD": "/tmp/p.json", "SEND_IID": "7"},
     {"send": "manual"}),
    ({"CI_PIPELINE_SOURCE": "web", "MATCH_STAGING_JOB": "digest"}, {"digest": "on_success"}),
])
def test_each_pipeline_source_runs_its_job(repo: Path, variables: dict[str, str],
                                           expected: dict[str, str]) -> None:
    assert listed(repo, **variables) == expected


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
    titles = sorted(issue["title"] for issue in world.gitlab.issues.values())
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
    assert len(world.gitlab.issues) == 6 and len(world.slack.posts) == 1
    assert "0 staged, 6 already staged" in again.artifact("stage")


def test_a_rejected_match_fails_the_job_and_keeps_the_summary(repo: Path,
                                                              world: World) -> None:
    commit(repo, "matches-inbox/broken.json", [new_match(url="https://jobs.example.org/7"),
                                               {**new_match(), "score": "high"}])
    run = gitlab_ci_local(repo, variables=world.variables())
    assert run.code != 0  # exit 1 (partial) must reach the runner: the pipeline turns red
    assert run.failed() == ["stage"]
    summary = run.artifact("stage")
    assert "rejected  matches-inbox/broken.json: match 2" in summary
    assert "1 rejected" in summary
    assert len(world.gitlab.issues) == 6  # the good match beside it, and the example cycle


def test_trigger_with_inline_matches_json_stages_it(repo: Path, world: World) -> None:
    document = json.dumps({"cycle_id": "c-1", "matches": [new_match()]})
    payload = trigger_payload(repo, {"ref": "main", "id": "1",
                                     "variables": {"MATCHES_JSON": document}})
    run = gitlab_ci_local(repo, variables=world.variables(
        CI_PIPELINE_SOURCE="trigger", MATCHES_JSON=document, TRIGGER_PAYLOAD=payload))
    assert run.code == 0, run.output
    assert run.passed() == ["stage"]
    (issue,) = world.gitlab.issues.values()  # the document only, not matches-inbox/
    assert issue["title"] == "[JOB-MATCH] 93% — Platform Engineer"
    assert "job-match/pending" in issue["labels"]
    assert len(world.slack.posts) == 1
    assert "1 staged" in run.artifact("stage")


def test_schedule_runs_the_digest_that_sends_what_quiet_hours_deferred(
        repo: Path, world: World) -> None:
    document = json.dumps([new_match()])
    night = gitlab_ci_local(repo, variables=world.variables(
        now=NIGHT, CI_PIPELINE_SOURCE="trigger", MATCHES_JSON=document))
    assert night.code == 0, night.output
    assert len(world.gitlab.issues) == 1 and world.slack.posts == []
    assert world.queued() == ["job-match/notify-email", "job-match/notify-slack"]

    run = gitlab_ci_local(repo, variables=world.variables(
        now=MORNING, CI_PIPELINE_SOURCE="schedule", MATCH_STAGING_JOB="digest"))
    assert run.code == 0, run.output
    assert run.passed() == ["digest"]
    assert len(world.slack.posts) == 1 and len(world.smtp.messages) == 1
    assert world.queued() == []
    assert "2 deferred message(s) sent" in run.artifact("digest")


def stage_and_approve(repo: Path, world: World) -> tuple[int, Run]:
    """Stage one match through the trigger API, then let the reviewer's board move reach the
    pipeline as the issue webhook would: returns the issue's iid and the transition run."""
    match = new_match() | {"apply": "jobs@example.org", "draft": "Sehr geehrte Damen und "
                                                                 "Herren, ..."}
    staged = gitlab_ci_local(repo, variables=world.variables(
        CI_PIPELINE_SOURCE="trigger", MATCHES_JSON=json.dumps(match)))
    assert staged.code == 0, staged.output
    (issue,) = world.gitlab.issues.values()
    # The reviewer drags the card from the pending list to the approved list (through the
    # API, so GitLab's label events show who did it: the gate reads the actor from there).
    before = [{"title": name} for name in issue["labels"]]
    with world.gitlab.act_as("reviewer"):
        gitlab.Gitlab(world.gitlab.url, private_token=world.gitlab.token).projects.get(
            1, lazy=True).issues.update(issue["iid"], {"add_labels": "job-match/approved",
                                                       "remove_labels": "job-match/pending"})
    after = [{"title": name} for name in world.gitlab.issues[issue["iid"]]["labels"]]
    reviewer = world.gitlab.users[2]
    event = {
        "object_kind": "issue", "event_type": "issue",
        "user": {"id": reviewer["id"], "name": reviewer["name"],
                 "username": reviewer["username"]},
        "project": {"id": 1, "path_with_namespace": "freelancer/backoffice"},
        "object_attributes": {"iid": issue["iid"], "id": issue["id"], "state": "opened",
                              "action": "update", "labels": after},
        "labels": after,
        "changes": {"labels": {"previous": before, "current": after}},
        "ref": "main", "id": "1", "variables": {},
    }
    run = gitlab_ci_local(repo, variables=world.variables(
        CI_PIPELINE_SOURCE="trigger", TRIGGER_PAYLOAD=trigger_payload(repo, event)))
    return int(issue["iid"]), run


def test_issue_webhook_trigger_applies_the_reviewers_transition(
        repo: Path, world: World) -> None:
    iid, run = stage_and_approve(repo, world)
    assert run.code == 0, run.output
    assert run.passed() == ["transition"]
    labels = world.gitlab.issues[iid]["labels"]
    assert "job-match/approved" in labels and "job-match/pending" not in labels
    assert len(world.gitlab.notes.get(iid, [])) == 1  # the audit note
    assert run.artifact("transition").strip()


def test_send_is_a_manual_job_that_sends_the_approved_application(
        repo: Path, world: World) -> None:
    iid, approved = stage_and_approve(repo, world)
    assert approved.code == 0, approved.output
    mails = len(world.smtp.messages)
    variables = world.variables(CI_PIPELINE_SOURCE="web", SEND_IID=str(iid))

    waiting = gitlab_ci_local(repo, variables=variables)  # nobody pressed play
    assert waiting.code == 0, waiting.output
    assert waiting.passed() == [] and len(world.smtp.messages) == mails

    run = gitlab_ci_local(repo, "--manual", "send", variables=variables)
    assert run.code == 0, run.output
    assert run.passed() == ["send"]
    application = world.smtp.messages[-1]
    assert application["To"] == "jobs@example.org"
    assert "job-match/sent" in world.gitlab.issues[iid]["labels"]
    assert run.artifact("send").startswith("sent")


def test_a_job_installs_match_staging_into_its_own_cached_venv(
        repo: Path, world: World) -> None:
    """The real install path: `.venv-ci` in the checkout, created once and reused by the
    next pipeline; the venv running the tests is left alone."""
    developer_script = (VENV_BIN / "match-staging").stat().st_mtime_ns
    variables = world.variables(CI_PIPELINE_SOURCE="trigger",
                                MATCHES_JSON=json.dumps(new_match()))
    del variables["MATCH_STAGING_INSTALL"]
    run = gitlab_ci_local(repo, "stage", variables=variables, timeout=INSTALL_TIMEOUT)
    assert run.code == 0, run.output
    venv = repo / ".venv-ci"
    assert f"{venv}/bin/match-staging" in run.stdout  # `command -v match-staging`
    assert (venv / "bin" / "match-staging").read_text().startswith(f"#!{venv}/bin/python")
    assert len(world.gitlab.issues) == 1
    created = (venv / "pyvenv.cfg").stat().st_mtime_ns

    variables["MATCHES_JSON"] = json.dumps(new_match("SRE", "https://jobs.example.org/43"))
    again = gitlab_ci_local(repo, "stage", variables=variables, timeout=INSTALL_TIMEOUT)
    assert again.code == 0, again.output
    assert (venv / "pyvenv.cfg").stat().st_mtime_ns == created  # reused, not rebuilt
    assert len(world.gitlab.issues) == 2
    assert (VENV_BIN / "match-staging").stat().st_mtime_ns == developer_script

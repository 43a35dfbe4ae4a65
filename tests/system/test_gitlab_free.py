"""The tool on a GitLab.com Free project as GitLab really behaves (docs/platform-facts.md,
"Realities found after the first release"): dedupe that does not depend on what issue
search sees, descriptions measured in bytes, projects named by path, a bootstrap that does
every step it can under restricted pipeline variables or a Developer's token, and a digest
that says when the webhook stopped delivering."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gitlab
import pytest

from match_staging import config, record
from match_staging.cli import main
from match_staging.config import GitLabSettings
from match_staging.context import Context
from match_staging.keys import match_keys
from match_staging.matches import read_batch
from match_staging.trackers.gitlab import GitLabTracker
from match_staging.trackers.gitlab_http import Pace
from match_staging.usecases.stage import StageReport, stage
from tests.conftest import match, write
from tests.fakes.gitlab import FakeGitLab

ISSUES = r"/projects/[^/]+/issues$"
WRITES = ("POST", "PUT", "DELETE", "PATCH")
GITLAB_LIMIT = 1_048_576  # bytes of a description (Issuable, BytesizeValidator)


@pytest.fixture
def fake() -> Iterator[FakeGitLab]:
    with FakeGitLab() as server:
        yield server


def env_for(fake: FakeGitLab, project: str = "1", **extra: str) -> dict[str, str]:
    return {"GITLAB_URL": fake.url, "GITLAB_TOKEN": fake.token, "GITLAB_PROJECT": project, **extra}


def run_stage(fake: FakeGitLab, *paths: str) -> tuple[StageReport, GitLabTracker]:
    env = env_for(fake)
    tracker = GitLabTracker(
        GitLabSettings(url=fake.url, project="1"), fake.token, sleep=lambda _: None
    )
    report = stage(
        Context(config.load(None, env), tracker), read_batch(paths, env, "matches-inbox")
    )
    return report, tracker


def seed(fake: FakeGitLab, count: int, *, legacy: bool = False) -> None:
    """`count` staged issues, by this release (key line) or the first one (HTML comment)."""
    for n in range(count):
        keys = match_keys(None, f"https://old.example/{n}")
        marker = (
            f"<!-- match-staging v1 keys: {' '.join(keys)} -->"
            if legacy
            else str(record.key_line(keys))
        )
        fake.add_issue(
            f"[JOB-MATCH] 80% — old {n}",
            f"{marker}\n## Match Details",
            labels=["job-match", "job-match/sent"],
            state="closed" if n % 2 else "opened",
        )


def writes(fake: FakeGitLab) -> list[str]:
    return [f"{r.method} {r.path}" for r in fake.requests if r.method in WRITES]


# --------------------------------------------------------------------------- dedupe

AGAIN = [5, 450, 999]  # one on listing page 1, two far beyond it


@pytest.mark.parametrize("indexed", [False, True], ids=["comments-not-indexed", "comments-indexed"])
def test_restaging_beside_1000_issues_creates_nothing_and_searches(
    repo: Path, fake: FakeGitLab, indexed: bool
) -> None:
    fake.search_indexes_comments = indexed
    seed(fake, 1000)
    write(repo / "again.json", [match(url=f"https://old.example/{n}/") for n in AGAIN])
    fake.reset_log()
    report, tracker = run_stage(fake, "again.json")
    assert not report.staged and len(report.existing) == 3
    assert fake.count("POST", ISSUES) == 0 and len(fake.issues) == 1000
    # K = 3 keys, E = 1,000: page 1 (which also shows search can be trusted and settles
    # the match on it), then one search per key still unknown
    assert tracker.lookup_path == "search"
    # (and the bot, GET /user, once per run: only its own issues count)
    assert tracker.lookups == 1 + 1 + 2 <= 1 + min(3 + 1, math.ceil(1000 / 100))


@pytest.mark.parametrize("indexed", [False, True], ids=["comments-not-indexed", "comments-indexed"])
def test_issues_of_the_first_release_are_found_by_listing(
    repo: Path, fake: FakeGitLab, indexed: bool
) -> None:
    fake.search_indexes_comments = indexed
    seed(fake, 1000, legacy=True)
    write(repo / "again.json", [match(url=f"https://old.example/{n}/") for n in AGAIN])
    fake.reset_log()
    report, tracker = run_stage(fake, "again.json")
    assert not report.staged and len(report.existing) == 3
    assert fake.count("POST", ISSUES) == 0 and len(fake.issues) == 1000
    # the bot (GET /user), then every page
    assert tracker.lookup_path == "listing" and tracker.lookups == 1 + math.ceil(1000 / 100)
    assert not [r for r in fake.requests if "search" in r.query]


def test_many_new_keys_list_rather_than_search(repo: Path, fake: FakeGitLab) -> None:
    seed(fake, 300)
    write(repo / "new.json", [match(url=f"https://new.example/{n}") for n in range(3)])
    report, tracker = run_stage(fake, "new.json")
    assert len(report.staged) == 3
    # K + 1 > 3 pages: the bot (GET /user), then the 3 pages
    assert tracker.lookup_path == "listing" and tracker.lookups == 1 + 3


def test_a_lost_create_response_is_looked_up_without_search(repo: Path, fake: FakeGitLab) -> None:
    fake.search_lag_seconds = 3600  # the search index has not caught up with the create
    seed(fake, 1000)
    write(repo / "one.json", match(url="https://new.example/lost"))
    fake.drop_next("POST", ISSUES, after_commit=True)
    fake.reset_log()
    report, _ = run_stage(fake, "one.json")
    assert len(report.staged) == 1 and not report.failed
    assert len(fake.issues) == 1001 and fake.count("POST", ISSUES) == 1
    after = [r for r in fake.requests if r.method == "GET"][-1]
    assert "search" not in after.query and after.query["sort"] == ["desc"]
    assert "created_after" in after.query


def test_a_lost_create_is_found_whatever_match_staging_now_says(
    repo: Path, fake: FakeGitLab
) -> None:
    """GitLab stamps created_at with its own clock: the lookup after a lost create asks
    by real time, not by MATCH_STAGING_NOW (a replayed or future cycle), or it misses the
    issue it just created and creates it a second time."""
    fake.search_lag_seconds = 3600
    write(repo / "one.json", match(url="https://new.example/lost-later"))
    fake.drop_next("POST", ISSUES, after_commit=True)
    env = env_for(fake, MATCH_STAGING_NOW="2099-01-01T09:00:00+00:00")
    assert main(["stage", "one.json"], env, sleep=lambda _: None) == 0
    assert len(fake.issues) == 1 and fake.count("POST", ISSUES) == 1


# --------------------------------------------------------------------------- bytes

GERMAN = "Äöüß 😀🚀🎉🍎 "  # 2.6 bytes a character: over 1 MiB in bytes, not in characters


def german(length: int) -> str:
    return (GERMAN * (length // len(GERMAN) + 1))[:length]


def schema_sized(**overrides: Any) -> dict[str, Any]:
    """Every text at the published schema's maximum, in German with emoji."""
    return match(
        id=german(200),
        title=german(2000),
        provider=german(300),
        location=german(300),
        start=german(300),
        duration=german(300),
        rate=german(100),
        notes=german(20_000),
        draft=german(100_000),
        requirements=[
            {"requirement": german(500), "score": 80, "weight": 1, "comment": german(1000)}
            for _ in range(100)
        ],
        **overrides,
    )


def test_a_schema_sized_multibyte_match_is_staged_as_one_issue(
    repo: Path, fake: FakeGitLab
) -> None:
    write(repo / "big.json", schema_sized())
    report, _ = run_stage(fake, "big.json")
    assert len(report.staged) == 1 and not report.failed and not report.rejected
    (issue,) = fake.issues.values()
    description = str(issue["description"])
    assert len(description.encode()) <= GITLAB_LIMIT < len(description.encode()) * 2
    assert "Shortened here to fit GitLab's description limit" in description
    staged = record.decode_record(description)
    assert staged is not None and staged.draft == german(100_000)  # what send uses
    report, _ = run_stage(fake, "big.json")
    assert len(report.existing) == 1 and len(fake.issues) == 1


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize("path", ["group/name", "group/sub/name"])
@pytest.mark.parametrize("named", [True, False], ids=["by-path", "by-id"])
def test_every_command_works_with_a_project_named_by_path(
    repo: Path, path: str, named: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeGitLab(project_path=path) as fake:
        env = env_for(fake, path if named else "1")
        assert main(["bootstrap"], env) == 0, capsys.readouterr().out
        assert main(["stage"], env) == 0, capsys.readouterr().out  # with the CV upload
        assert len(fake.issues) == 5 and len(fake.uploads) == 1
        assert main(["digest"], env) == 0, capsys.readouterr().out
        assert main(["stage"], env) == 0 and len(fake.issues) == 5
        assert main(["review", "2", "--reject", "--reason", "too far"], env) == 0
        assert main(["review", "3", "--approve"], env) == 0
        assert main(["list"], env) == 0
        assert "job-match/rejected" in fake.issues[2]["labels"]
        assert not [r for r in fake.requests if "%25" in r.path or r.status == 404]


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_under_restricted_pipeline_variables_exits_0_and_then_writes_nothing(
    repo: Path, fake: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.project["ci_pipeline_variables_minimum_override_role"] = "no_one_allowed"
    fake.fail_next("POST", r"/variables$", status=403, times=5)  # as GitLab refuses them
    assert main(["bootstrap"], env_for(fake)) == 0
    out = capsys.readouterr().out
    assert len(fake.schedules) == 1 and fake.schedules[0]["variables"] == []
    assert len(fake.hooks) == 1 and len(fake.triggers) == 1 and len(fake.boards) == 1
    assert "no_one_allowed" in out and "pipeline inputs" in out
    assert "Minimum role to use pipeline variables" in out
    fake.reset_log()
    assert main(["bootstrap"], env_for(fake)) == 0
    assert writes(fake) == []
    assert "nothing to change" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("version", "warned"),
    [("18.3.2-ee", True), ("17.11.0", True), ("18.5.0", False), ("18.6.1-ee", False)],
)
def test_bootstrap_says_when_this_gitlab_refuses_every_trigger_pipeline(
    repo: Path, fake: FakeGitLab, capsys: pytest.CaptureFixture[str], version: str, warned: bool
) -> None:
    """Issue 19: before the fix (gitlab MR 204230) GitLab counts TRIGGER_PAYLOAD as a
    pipeline variable, so under "No one allowed" the webhook's pipelines and
    submit-matches' trigger path all fail: bootstrap reads GET /version and says so."""
    fake.project["ci_pipeline_variables_minimum_override_role"] = "no_one_allowed"
    fake.version = version
    assert main(["bootstrap", "--dry-run"], env_for(fake)) == 0
    out = capsys.readouterr().out
    said = [line for line in out.splitlines() if "older than 18.5" in line]
    assert bool(said) is warned, out
    if warned:
        (line,) = said
        assert f"GitLab {version}" in line and "MR 204230" in line and "--via commit" in line
    assert [r.path for r in fake.requests].count("/api/v4/version") == 1


def test_bootstrap_asks_no_version_where_pipeline_variables_are_allowed(
    repo: Path, fake: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.version = "17.0.0"  # too old to matter: variables are allowed (to the bot)
    fake.project["ci_pipeline_variables_minimum_override_role"] = "maintainer"
    assert main(["bootstrap", "--dry-run"], env_for(fake)) == 0
    assert "older than" not in capsys.readouterr().out
    assert "/api/v4/version" not in [r.path for r in fake.requests]


def test_bootstrap_with_a_developer_token_does_what_it_can_and_says_what_to_do(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeGitLab(bot_role="developer") as fake:
        assert main(["bootstrap"], env_for(fake)) == 1
        out = capsys.readouterr().out
        assert len(fake.labels) == 13 and len(fake.boards) == 1
        assert len(fake.boards[0]["lists"]) == 9  # a list per state
        failed = [line for line in out.splitlines() if line.startswith("failed")]
        assert [line.split(" ")[1] for line in failed] == ["trigger", "hook", "schedule"]
        assert all(
            "Maintainer" in line and "Manage > Members" in line for line in (failed[0], failed[2])
        )
        assert "24 of 24 changes made, 3 failed" in out  # the labels' ids recorded too

        fake.roles[1] = "maintainer"  # done as the failed lines said
        assert main(["bootstrap"], env_for(fake)) == 0
        assert len(fake.hooks) == len(fake.triggers) == len(fake.schedules) == 1


# --------------------------------------------------------------------------- webhook


def test_digest_with_a_developer_token_says_the_webhook_missed_events(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeGitLab(bot_role="developer") as fake:
        env = env_for(
            fake,
            MATCH_STAGING__WORKFLOW__REVIEWERS="[reviewer]",
            MATCH_STAGING__GITLAB__BOT_USERNAME="bot",
        )
        assert main(["stage"], env) == 0
        fake.hooks.append(
            {
                "id": 9,
                "url": f"{fake.url}/api/v4/projects/1/ref/main/trigger/pipeline?token=x",
                "issues_events": True,
                "alert_status": "disabled",
                "disabled_until": None,
            }
        )
        reviewer = gitlab.Gitlab(fake.url, private_token=fake.token_for("reviewer"))
        for iid in (1, 2):
            reviewer.projects.get(1, lazy=True).issues.update(
                iid, {"add_labels": "job-match/approved", "remove_labels": "job-match/pending"}
            )
        since = min(str(fake.issues[i]["updated_at"]) for i in (1, 2))
        capsys.readouterr()
        assert main(["digest"], env) == 0
        out = capsys.readouterr().out
        (line,) = [x for x in out.splitlines() if x.startswith("webhook")]
        assert re.search(
            r"2 review events since \d{4}-\d\d-\d\d \d\d:\d\d UTC never "
            r"reached the pipeline",
            line,
        )
        assert since[:16].replace("T", " ") in line
        assert "Settings > Webhooks" in line


@pytest.mark.parametrize(
    ("setting", "role", "variable"),
    [
        ("developer", "maintainer", True),
        ("maintainer", "maintainer", True),
        ("owner", "maintainer", False),
        ("no_one_allowed", "owner", False),
    ],
)
def test_bootstrap_says_what_the_variables_setting_allows_and_sets_no_variable(
    repo: Path, capsys: pytest.CaptureFixture[str], setting: str, role: str, variable: bool
) -> None:
    insisted = setting == "developer"  # issue 20: a variable outranks CI_SERVER_URL & co.
    with FakeGitLab(bot_role=role) as fake:
        fake.project["ci_pipeline_variables_minimum_override_role"] = setting
        assert main(["bootstrap"], env_for(fake)) == (1 if insisted else 0)
        out = capsys.readouterr().out
        assert fake.schedules[0]["variables"] == []  # digest needs no variable: never set
        assert ("pipeline inputs and variables both work" in out) is variable
        assert ("failed pipeline variables: Developers may set them" in out) is insisted
        fake.reset_log()
        assert main(["bootstrap"], env_for(fake)) == (1 if insisted else 0)
        assert writes(fake) == []


# --------------------------------------------------------------------------- pipelines


def test_a_burst_over_the_pipeline_limit_pauses_the_webhook_and_digest_says_so(
    repo: Path, fake: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each issue create fires the webhook, each delivery a pipeline: without pacing, 30
    matches at once exceed GitLab.com's 25 pipeline creations a minute, the refused
    deliveries pause the webhook, and review events are lost until `digest` repairs them."""
    assert main(["bootstrap"], env_for(fake)) == 0
    write(
        repo / "burst.json",
        [match(title=f"T{i}", url=f"https://jobs.example.com/b/{i}") for i in range(30)],
    )
    unpaced = env_for(fake, MATCH_STAGING__GITLAB__ISSUE_WRITES_PER_MINUTE="0")
    assert main(["stage", "burst.json"], unpaced) == 0
    (hook,) = fake.hooks
    assert len(fake.pipeline_creations) == 25 and fake.lost_deliveries == 5
    assert hook["alert_status"] == "temporarily_disabled"
    capsys.readouterr()
    assert main(["digest"], env_for(fake)) == 1  # a Maintainer's token sees the hook
    out = capsys.readouterr().out
    assert re.search(
        r"^webhook   the issue webhook to \S+/trigger/pipeline is temporarily "
        r"disabled until \S+: review events are not reaching the pipeline",
        out,
        re.MULTILINE,
    ), out


def test_the_default_pacing_keeps_the_tools_pipelines_under_the_limit(
    repo: Path, fake: FakeGitLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `gitlab.issue_writes_per_minute` (20) the same burst starts at most 20 pipelines
    in any minute: the clock and the sleep are simulated, the creates are real requests."""
    assert main(["bootstrap"], env_for(fake)) == 0
    clock = [0.0]
    starts: list[float] = []

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    real_init, real_create = GitLabTracker.__init__, GitLabTracker._create

    def simulated(self: GitLabTracker, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        for name in ("create_pace", "note_pace", "write_pace"):
            pace = getattr(self, name)
            setattr(self, name, Pace(pace.per_minute, sleep, clock=lambda: clock[0]))

    monkeypatch.setattr(GitLabTracker, "__init__", simulated)

    def timed(self: GitLabTracker, draft: Any) -> Any:
        result = real_create(self, draft)
        starts.append(clock[0])
        return result

    monkeypatch.setattr(GitLabTracker, "_create", timed)
    write(
        repo / "burst.json",
        [match(title=f"T{i}", url=f"https://jobs.example.com/b/{i}") for i in range(45)],
    )
    assert main(["stage", "burst.json"], env_for(fake)) == 0
    assert len(starts) == 45
    busiest = max(sum(1 for t in starts if start <= t < start + 60) for start in starts)
    assert busiest == config.GitLabSettings().issue_writes_per_minute == 20


def test_bootstrap_says_when_the_bot_is_not_named(
    repo: Path, fake: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without gitlab.bot_username the prefilter cannot end the tool's own events early.
    In a copy of the repository: bootstrap records ids in its configuration file."""
    assert main(["bootstrap"], env_for(fake)) == 0
    assert "note   gitlab.bot_username is not set" in capsys.readouterr().out
    named = env_for(fake, MATCH_STAGING__GITLAB__BOT_USERNAME="bot")
    assert main(["bootstrap"], named) == 0
    assert "bot_username" not in capsys.readouterr().out

"""In CI the job's environment cannot change settings (issue 10): whoever may run a pipeline
with variables (a trigger-token holder, where the project allows variables) must not turn on
auto_send, swap labels, or point GitLab elsewhere. Outside CI the overrides keep working
(docs/interface.md). Also ci/prefilter.py's decisions, without gitlab-ci-local."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from match_staging import config, matches
from match_staging.errors import ConfigError, InputError

ROOT = Path(__file__).resolve().parents[1]
PREFILTER = ROOT / "ci" / "prefilter.py"
OVERRIDES = {
    "MATCH_STAGING__WORKFLOW__AUTO_SEND": "true",
    "MATCH_STAGING__GITLAB__URL": "https://evil.example",
    "GITLAB_URL": "https://evil.example",
    "GITLAB_PROJECT": "666",
}


def test_outside_ci_the_environment_overrides_settings(tmp_path: Path) -> None:
    cfg = config.load(str(ROOT / "config" / "notification-channels.yml"), OVERRIDES)
    assert cfg.workflow.auto_send is True
    assert cfg.gitlab.url == "https://evil.example" and cfg.gitlab.project == "666"


def test_in_ci_overrides_are_ignored_and_gitlab_is_only_the_files(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 20: a pipeline variable outranks GitLab's predefined CI_SERVER_URL too, so in
    CI the URL is the committed file's or none (the tracker then refuses to run)."""
    env = {
        "CI": "true",
        "CI_SERVER_URL": "https://gitlab.example.com/",
        "CI_PROJECT_ID": "42",
        **OVERRIDES,
    }
    cfg = config.load(str(ROOT / "config" / "notification-channels.yml"), env)
    assert cfg.workflow.auto_send is False
    assert cfg.gitlab.url == "" and cfg.gitlab.project == "42"
    err = capsys.readouterr().err
    assert "in CI these variables are ignored" in err
    assert "GITLAB_URL" in err and "MATCH_STAGING__WORKFLOW__AUTO_SEND" in err
    config.load(str(ROOT / "config" / "notification-channels.yml"), env)
    assert capsys.readouterr().err == ""  # said once


def test_in_ci_the_repositorys_file_still_decides(tmp_path: Path) -> None:
    file = tmp_path / "c.yml"
    file.write_text(
        "gitlab:\n  url: https://gitlab.internal\n  project: group/name\n", encoding="utf-8"
    )
    env = {
        "CI": "true",
        "CI_SERVER_URL": "https://gitlab.example.com",
        "CI_PROJECT_ID": "42",
        "MATCH_STAGING_CONFIG": "/nonexistent.yml",
    }
    cfg = config.load(str(file), env)
    assert (cfg.gitlab.url, cfg.gitlab.project) == ("https://gitlab.internal", "group/name")
    assert config.load(None, env).source != "/nonexistent.yml"  # MATCH_STAGING_CONFIG ignored


def test_a_pipeline_variable_cannot_switch_ci_off() -> None:
    """CI=false set by a pipeline variable: GitLab's own GITLAB_CI is still there."""
    env = {
        "CI": "false",
        "GITLAB_CI": "",
        "CI_SERVER_URL": "https://gitlab.example.com",
        "CI_PROJECT_ID": "42",
        **OVERRIDES,
    }
    cfg = config.load(str(ROOT / "config" / "notification-channels.yml"), env)
    assert cfg.workflow.auto_send is False and cfg.gitlab.url == ""


@pytest.mark.parametrize(
    "line",
    [
        "workflow:\n  reviewers: ['${REVIEWER}']\n",
        "notification:\n  channels:\n    gitlab_todo:\n      assignee_id: ${ASSIGNEE:-}\n",
        "gitlab:\n  url: ${GITLAB_HOST}\n",
    ],
)
def test_in_ci_who_may_approve_and_where_the_token_goes_are_never_variables(
    tmp_path: Path, line: str
) -> None:
    """A trigger holder must not make themselves the reviewer or receive the token."""
    file = tmp_path / "c.yml"
    file.write_text(line, encoding="utf-8")
    env = {
        "CI": "true",
        "REVIEWER": "mallory",
        "ASSIGNEE": "3",
        "GITLAB_HOST": "https://evil.example",
    }
    with pytest.raises(ConfigError, match=r"in CI write the value itself"):
        config.load(str(file), env)
    outside = config.load(str(file), {k: v for k, v in env.items() if k != "CI"})
    assert (
        "mallory" in outside.workflow.reviewers
        or outside.notification.channels.gitlab_todo.assignee_id == 3
        or outside.gitlab.url == "https://evil.example"
    )  # on your machine, as before


# --------------------------------------------------------------------------- documents

DOLLARS = '[{"title": "$GITLAB_TOKEN ${CI_JOB_TOKEN} $HOME ${ $$ $"}]'


def test_a_base64_document_is_read_exactly() -> None:
    encoded = base64.b64encode(DOLLARS.encode()).decode()
    (doc,) = matches.documents_from([], {"MATCHES_JSON_B64": encoded}, "/nonexistent")
    assert isinstance(doc, matches.Document) and doc.data.decode() == DOLLARS
    assert doc.source == "MATCHES_JSON_B64"


def test_bad_base64_is_one_clear_error() -> None:
    (error,) = matches.documents_from([], {"MATCHES_JSON_B64": DOLLARS}, "/nonexistent")
    assert isinstance(error, InputError)
    assert "MATCHES_JSON_B64" in str(error) and "not base64" in str(error)


def test_the_raw_trigger_payload_wins_over_an_expanded_variable(tmp_path: Path) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text(
        json.dumps({"ref": "main", "variables": {"MATCHES_JSON": DOLLARS}}), encoding="utf-8"
    )
    env = {
        "MATCHES_JSON": '[{"title": "secret-value  /root  $"}]',  # as the runner made it
        "TRIGGER_PAYLOAD": str(payload),
    }
    (doc,) = matches.documents_from([], env, "/nonexistent")
    assert isinstance(doc, matches.Document) and doc.data.decode() == DOLLARS


# --------------------------------------------------------------------------- prefilter


def prefilter(
    tmp_path: Path, payload: object | str, config_text: str | None = None, *, process: bool = False
) -> tuple[int, str]:
    """ci/prefilter.py on `payload`, as the job runs it: by default in this process (runpy,
    as `__main__`, its exception guard included), with `process` as a program of its own,
    with nothing in its environment but PATH and TRIGGER_PAYLOAD (one test does)."""
    path = tmp_path / "payload.json"
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload), encoding="utf-8")
    if config_text is not None:
        (tmp_path / "config").mkdir(exist_ok=True)
        (tmp_path / "config" / "notification-channels.yml").write_text(config_text, "utf-8")
    if process:
        done = subprocess.run(
            [sys.executable, str(PREFILTER)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env={"PATH": os.environ["PATH"], "TRIGGER_PAYLOAD": str(path)},
        )
        code, out, err = done.returncode, done.stdout, done.stderr
    else:
        out_io, err_io = io.StringIO(), io.StringIO()
        with (
            pytest.MonkeyPatch.context() as patch,
            contextlib.redirect_stdout(out_io),
            contextlib.redirect_stderr(err_io),
        ):
            patch.chdir(tmp_path)
            patch.setenv("TRIGGER_PAYLOAD", str(path))
            patch.setattr(sys, "argv", [str(PREFILTER)])
            try:
                runpy.run_path(str(PREFILTER), run_name="__main__")
            except SystemExit as exit_:
                code = int(exit_.code or 0)
            else:
                raise AssertionError("ci/prefilter.py ended without an exit code")
        out, err = out_io.getvalue(), err_io.getvalue()
    assert err == "" and len(out.splitlines()) == 1, (out, err)
    return code, out


def event(
    user: str = "reviewer",
    labels: tuple[str, ...] = ("job-match",),
    previous: tuple[str, ...] | None = (),
    kind: str = "issue",
) -> dict[str, object]:
    after = [{"title": n} for n in labels]
    changes = (
        {}
        if previous is None
        else {"labels": {"previous": [{"title": n} for n in previous], "current": after}}
    )
    return {
        "object_kind": kind,
        "user": {"username": user},
        "labels": after,
        "object_attributes": {"iid": 3, "labels": after},
        "changes": changes,
    }


def closed(action: str, user: str = "reviewer") -> dict[str, object]:
    """A close or reopen event: `action` says so, `changes` has `state_id`, no labels."""
    payload = event(user=user, previous=None)
    payload["object_attributes"] = {"iid": 3, "action": action, "labels": [{"title": "job-match"}]}
    payload["changes"] = {"state_id": {"previous": 1, "current": 2}}
    return payload


BOT_CONFIG = (
    "gitlab:\n  url: ''\n  bot_username: \"match-bot\"  # the token's user\n"
    "labels:\n  match: job-match\n"
)


@pytest.mark.parametrize(
    ("payload", "code", "says"),
    [
        (event(user="match-bot"), 0, "the tool's own change"),
        (event(kind="note"), 0, "a note event"),
        (event(previous=None), 0, "no label change"),
        (event(labels=("bug",), previous=("feature",)), 0, "is not a job match"),
        (event(), 3, "checking it against GitLab"),
        # closing and reopening come without a label change: gate events all the same
        (closed("close"), 3, "checking it against GitLab"),
        (closed("reopen"), 3, "checking it against GitLab"),
        (closed("close", user="match-bot"), 0, "the tool's own change"),
        ({"ref": "main", "inputs": {"job": "stage", "matches_b64": "e30="}}, 4, "staging it"),
        # scripts/submit-matches: the document in the body (GitLab ignored job=stage)
        ({"ref": "main", "inputs": {"job": "stage"}, "matches_b64": "e30="}, 4, "staging it"),
        ({"ref": "main", "matches_b64": "e30="}, 4, "staging it"),
        # tasks, incidents and other work items (issue 19): object_kind "work_item", or
        # "issue" with the work item type in object_attributes.type (GitLab 17.2+)
        (event(kind="work_item"), 0, "a work_item event"),
        ({**event(), "object_attributes": {"iid": 3, "type": "Task"}}, 0, "type Task, never"),
        (
            {**event(), "object_attributes": {"iid": 3, "type": "Incident"}},
            0,
            "type Incident, never",
        ),
        ({**event(), "object_attributes": {"iid": 3, "type": "Issue"}}, 3, "checking it"),
        # every form matches/inputs.py reads from a trigger body is staged, none ignored
        ({"ref": "main", "matches": [{"title": "x"}]}, 4, "staging it"),
        ({"ref": "main", "variables": {"MATCHES_JSON": "{}"}}, 4, "staging it"),
        ({"ref": "main", "inputs": {"matches_json": "[]"}}, 4, "staging it"),
        ("[" * 50_000 + "]" * 50_000, 3, "nested too deep"),
        ("{not json", 3, "not JSON"),
        ({"object_kind": "\x1b]0;pwned\x07note\u202e"}, 0, "a ]0;pwnednote event"),
    ],
)
def test_prefilter_decides_from_the_payload(
    tmp_path: Path, payload: object, code: int, says: str
) -> None:
    got, out = prefilter(tmp_path, payload, BOT_CONFIG)
    assert (got, says in out) == (code, True), out
    assert "\x1b" not in out and "\u202e" not in out


def test_prefilter_takes_no_bot_name_from_an_interpolated_value(tmp_path: Path) -> None:
    config_text = "gitlab:\n  bot_username: ${BOT}\n"
    code, _ = prefilter(tmp_path, event(user="x"), config_text, process=True)
    assert code == 3


def test_prefilter_bounds_the_payload(tmp_path: Path) -> None:
    code, out = prefilter(tmp_path, " " * (20 * 1024 * 1024 + 1))
    assert code == 3 and "over 20,971,520 bytes" in out


def test_prefilter_stages_the_largest_document_a_trigger_body_carries(tmp_path: Path) -> None:
    """A 10 MiB document (the most `stage` reads) in base64 in the request body: 8 MiB was
    the bound before, and such a trigger call went on to `transition`, not `stage`."""
    body = {"ref": "main", "matches_b64": "A" * (10 * 1024 * 1024 * 4 // 3 + 4)}
    code, out = prefilter(tmp_path, body)
    assert code == 4 and "staging it" in out


def test_in_ci_matches_file_reads_only_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "credentials.json"
    secret.write_text('{"refresh_token": "1//secret"}', encoding="utf-8")
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "m.json").write_text("[]", encoding="utf-8")
    monkeypatch.chdir(tmp_path / "repo")
    for name in (str(secret), "../credentials.json"):
        (error,) = matches.documents_from([], {"CI": "true", "MATCHES_FILE": name}, "x")
        assert isinstance(error, InputError) and "only a file of the repository" in str(error)
        (doc,) = matches.documents_from([], {"MATCHES_FILE": name}, "x")  # locally: any file
        assert isinstance(doc, matches.Document)
    (doc,) = matches.documents_from([], {"CI": "true", "MATCHES_FILE": "m.json"}, "x")
    assert isinstance(doc, matches.Document)

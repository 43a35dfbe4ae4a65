"""scripts/submit-matches against a tiny local GitLab API (standard library HTTP server):
what it sends on each path (the trigger request's body, a commit to matches-inbox/), which
path it picks for a document's size and the tokens set, how it reports GitLab's errors, what
it refuses to send, and that no token reaches its output; then against the fake GitLab, whose
trigger API refuses pipeline variables under no_one_allowed (and, before gitlab MR 204230,
every trigger call) and whose commits API adds files to the repository."""

from __future__ import annotations

import ast
import base64
import contextlib
import importlib.machinery
import importlib.util
import io
import json
import os
import subprocess
import sys
import unittest.mock
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.documents import realistic_document
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.serving import Serving

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "submit-matches"
TOKEN = "glptt-0123456789abcdef0123456789abcdef01234567"
COMMIT_TOKEN = "glpat-commit-0123456789abcdef0123"
EXAMPLE = ROOT / "matches-inbox" / "2026-02-08T1430Z.json"
MAX_BYTES = 10 * 1024 * 1024  # what `stage` reads from one document
KB8, MB2 = 8 * 1024, 2 * 1024 * 1024


@dataclass
class Received:
    method: str
    path: str
    content_type: str
    body: dict[str, Any]
    private_token: str = ""

    def document(self) -> str:
        """The match document sent: the trigger body's `matches_b64`, or the one file of a
        commit (both base64)."""
        if "actions" in self.body:
            (action,) = self.body["actions"]
            encoded = str(action["content"])
        else:
            encoded = str(self.body.get("matches_b64") or "")
        return base64.b64decode(encoded, validate=True).decode("utf-8")

    def files(self) -> dict[str, bytes]:
        """A commit's files: path -> content."""
        return {
            a["file_path"]: base64.b64decode(a["content"], validate=True)
            for a in self.body["actions"]
        }


COMMITTED = {
    "id": "c0ffee" * 6 + "c0ff",
    "short_id": "c0ffeec0",
    "web_url": "https://gitlab.example.com/g/p/-/commit/c0ffee",
}


@dataclass
class TriggerApi:
    """Answers POST .../trigger/pipeline and .../repository/commits from a queue (default:
    201 with a pipeline, or a commit)."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    answers: list[tuple[int, str]] = field(default_factory=list)


@pytest.fixture
def api() -> Iterator[TriggerApi]:
    state = TriggerApi()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append(
                Received(
                    "POST",
                    self.path,
                    self.headers.get("Content-Type", ""),
                    json.loads(raw),
                    self.headers.get("PRIVATE-TOKEN", ""),
                )
            )
            pipeline = {
                "id": 4711,
                "status": "created",
                "ref": "main",
                "web_url": "https://gitlab.example.com/g/p/-/pipelines/4711",
            }
            default = COMMITTED if self.path.endswith("/repository/commits") else pipeline
            status, body = state.answers.pop(0) if state.answers else (201, json.dumps(default))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body.encode())))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    serving = Serving(server)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        serving.stop()
        server.server_close()


@dataclass
class Result:
    code: int
    out: str
    err: str


def submit(
    *args: str,
    token: str | None = TOKEN,
    commit_token: str | None = None,
    stdin: str | None = None,
    process: bool = False,
    **env: str,
) -> Result:
    """The script run with `args` and an environment holding only PATH, the tokens and
    `env`: in this process by default (its `main(argv, env)`), or as a process of its own
    (`process=True`: the tests that say so check what a shell sees, the exit status of
    `sys.exit(main())` and the locale's encoding). A run started 70 ms of CPU a test."""
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", **env}
    if token is not None:
        environment["MATCH_STAGING_TRIGGER_TOKEN"] = token
    if commit_token is not None:
        environment["MATCH_STAGING_COMMIT_TOKEN"] = commit_token
    if process:
        done = subprocess.run(
            [sys.executable, str(SCRIPT), *args],
            env=environment,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        result = Result(done.returncode, done.stdout, done.stderr)
    else:
        result = _in_this_process(list(args), environment, stdin)
    assert TOKEN not in result.out + result.err
    assert COMMIT_TOKEN not in result.out + result.err
    return result


@cache
def _script() -> Any:
    """The script as a module (its file has no .py suffix)."""
    loader = importlib.machinery.SourceFileLoader("submit_matches", str(SCRIPT))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _in_this_process(args: list[str], env: dict[str, str], stdin: str | None) -> Result:
    out, err = io.StringIO(), io.StringIO()
    given = io.TextIOWrapper(io.BytesIO((stdin or "").encode()), encoding="utf-8")
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        unittest.mock.patch.object(sys, "stdin", given),
    ):
        try:
            code = _script().main(args, env)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 1
    return Result(code, out.getvalue(), err.getvalue())


def document(tmp_path: Path, data: Any, name: str = "doc.json", *, indent: int | None = 2) -> str:
    """`data` as a document on disk, indented as an assistant writes it (`indent=None`: on
    one line, for a test that needs no more: json indents in Python, 0.4 s for 10 MB)."""
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=indent, ensure_ascii=False), encoding="utf-8")
    return str(path)


def a_match(**extra: Any) -> dict[str, Any]:
    return {
        "score": 91,
        "title": "Cloud Architect",
        "provider": "Acme",
        "url": "https://jobs.example.com/1",
        **extra,
    }


# --------------------------------------------------------------------------- sending


def test_posts_the_minified_document_in_the_trigger_request_body(api: TriggerApi) -> None:
    """The document is a field of the body (TRIGGER_PAYLOAD in the job), never an input:
    GitLab's schema caps an include input at 1,024 characters (issue 19)."""
    result = submit(str(EXAMPLE), "--url", api.url, "--project", "1", "--ref", "main", process=True)
    assert result.code == 0, result.err
    assert result.out.startswith(
        "pipeline 4711 created on main: https://gitlab.example.com/g/p/-/pipelines/4711"
    )
    assert "trigger path" in result.out and "in the request body" in result.out
    (request,) = api.received
    assert request.path == "/api/v4/projects/1/trigger/pipeline"
    assert request.content_type == "application/json"
    assert request.body["token"] == TOKEN and request.body["ref"] == "main"
    assert set(request.body) == {"token", "ref", "inputs", "matches_b64"}
    assert request.body["inputs"] == {"job": "stage"}  # no document among the inputs
    original = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    minified = json.dumps(original, ensure_ascii=False, separators=(",", ":"))
    assert request.document() == minified


@pytest.mark.parametrize("size", [KB8, MB2])
def test_8_kb_and_2_mb_documents_go_whole_in_the_trigger_body(
    api: TriggerApi, tmp_path: Path, size: int
) -> None:
    """The script before refused anything over 90 KiB; inputs failed over ~760 bytes."""
    doc = realistic_document(size, history=size > KB8)
    path = tmp_path / "cycle.json"
    path.write_bytes(doc)
    result = submit(str(path), "--url", api.url, "--project", "1", commit_token=COMMIT_TOKEN)
    assert result.code == 0, result.err
    (request,) = api.received
    assert request.path.endswith("/trigger/pipeline")
    assert request.document().encode() == doc
    assert f"(trigger path: {len(doc):,} bytes" in result.out


def test_defaults_come_from_the_environment_and_paths_are_encoded(
    api: TriggerApi, tmp_path: Path
) -> None:
    path = document(tmp_path, [a_match(title="Ünïcödé — ok")])
    result = submit(
        path,
        GITLAB_URL=api.url + "/",
        GITLAB_PROJECT="group/sub/project",
        MATCH_STAGING_REF="release/2026",
    )
    assert result.code == 0, result.err
    (request,) = api.received
    assert request.path == "/api/v4/projects/group%2Fsub%2Fproject/trigger/pipeline"
    assert request.body["ref"] == "release/2026"
    assert json.loads(request.document())[0]["title"] == "Ünïcödé — ok"


def test_ci_variables_are_the_last_defaults(api: TriggerApi, tmp_path: Path) -> None:
    result = submit(document(tmp_path, a_match()), CI_SERVER_URL=api.url, CI_PROJECT_ID="77")
    assert result.code == 0, result.err
    assert api.received[0].path == "/api/v4/projects/77/trigger/pipeline"
    assert api.received[0].body["ref"] == "main"


def test_reads_standard_input(api: TriggerApi) -> None:
    result = submit(
        "-",
        "--url",
        api.url,
        "--project",
        "1",
        stdin=json.dumps({"cycle_id": "c", "matches": [a_match()]}),
        process=True,
    )
    assert result.code == 0, result.err
    assert json.loads(api.received[0].document())["cycle_id"] == "c"


# --------------------------------------------------------------------------- GitLab's errors


RESTRICTED = json.dumps(
    {"message": {"base": ["Insufficient permissions to set pipeline variables"]}}
)


def test_a_gitlab_that_refuses_every_trigger_under_no_one_allowed_is_explained(
    api: TriggerApi, tmp_path: Path
) -> None:
    """Before gitlab MR 204230 the request body itself (TRIGGER_PAYLOAD) counts as a
    pipeline variable: no trigger call succeeds under "No one allowed"."""
    api.answers.append((400, RESTRICTED))
    result = submit(document(tmp_path, a_match()), "--url", api.url, "--project", "1")
    assert result.code == 1
    assert (
        "GitLab answered HTTP 400: Insufficient permissions to set pipeline variables" in result.err
    )
    assert "MR 204230" in result.err and "MATCH_STAGING_COMMIT_TOKEN" in result.err
    assert result.out == "" and len(api.received) == 1


def test_there_it_commits_instead_when_a_commit_token_is_set(
    api: TriggerApi, tmp_path: Path
) -> None:
    api.answers.append((400, RESTRICTED))
    result = submit(
        document(tmp_path, [a_match()]),
        "--url",
        api.url,
        "--project",
        "1",
        commit_token=COMMIT_TOKEN,
    )
    assert result.code == 0, result.err
    assert "committing the document to matches-inbox/ instead" in result.err
    trigger, commit = api.received
    assert trigger.path.endswith("/trigger/pipeline")
    assert commit.path == "/api/v4/projects/1/repository/commits"
    assert commit.private_token == COMMIT_TOKEN
    assert json.loads(commit.document()) == [a_match()]
    assert result.out.startswith("committed matches-inbox/submitted-")


@pytest.mark.parametrize(
    ("status", "body", "shown", "hint"),
    [
        (404, '{"message":"404 Not Found"}', "HTTP 404: 404 Not Found", "check --project"),
        (429, '{"message":"Retry later"}', "HTTP 429: Retry later", "25 a minute"),
        (400, '{"message":{"ref":["is invalid"]}}', "HTTP 400: ref: is invalid", None),
        (400, '{"error":"variables is invalid"}', "HTTP 400: variables is invalid", None),
        (502, "<html>Bad gateway</html>", "HTTP 502: <html>Bad gateway</html>", None),
    ],
)
def test_gitlab_errors_are_one_clear_line(
    api: TriggerApi, tmp_path: Path, status: int, body: str, shown: str, hint: str | None
) -> None:
    api.answers.append((status, body))
    result = submit(document(tmp_path, a_match()), "--url", api.url, "--project", "1")
    assert result.code == 1
    assert f"submit-matches: error: GitLab answered {shown}" in result.err
    assert (hint in result.err) if hint else ("hint:" not in result.err)


def test_a_token_echoed_by_the_server_is_masked(api: TriggerApi, tmp_path: Path) -> None:
    api.answers.append((400, json.dumps({"message": f"token {TOKEN} is invalid"})))
    result = submit(document(tmp_path, a_match()), "--url", api.url, "--project", "1")
    assert result.code == 1
    assert "token *** is invalid" in result.err  # submit() also asserts the token is absent


def test_an_unreachable_gitlab_is_exit_1(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = submit(
        document(tmp_path, a_match()),
        "--url",
        f"http://127.0.0.1:{port}",
        "--project",
        "1",
        process=True,
    )
    assert result.code == 1
    assert f"GitLab at http://127.0.0.1:{port} could not be reached" in result.err


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "not valid JSON"),
        ("42", "must hold a match object, a list of them, or a cycle"),
        ("[]", "holds no match"),
        ('["a"]', "match 1 is not a JSON object"),
        ('{"cycle_id": "c", "matches": {}}', "'matches' must be a list"),
    ],
)
def test_invalid_documents_are_not_sent(
    api: TriggerApi, tmp_path: Path, content: str, reason: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    result = submit(str(path), "--url", api.url, "--project", "1")
    assert result.code == 2
    assert reason in result.err and "nothing was sent" in result.err
    assert api.received == []


def test_non_utf8_and_missing_files_are_not_sent(api: TriggerApi, tmp_path: Path) -> None:
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"title": "Köln"}'.encode("latin-1"))
    assert "not UTF-8" in submit(str(latin), "--url", api.url, "--project", "1").err
    missing = submit(str(tmp_path / "nope.json"), "--url", api.url, "--project", "1")
    assert missing.code == 2 and "cannot be read" in missing.err
    assert api.received == []


def _sized(size: int) -> dict[str, Any]:
    """A match whose minified JSON is exactly `size` bytes."""
    base = a_match(notes="")
    empty = len(json.dumps(base, separators=(",", ":")).encode())
    return a_match(notes="x" * (size - empty))


def test_one_document_goes_by_trigger_up_to_what_stage_reads_from_one(
    api: TriggerApi, tmp_path: Path
) -> None:
    """10 MiB once minified (indented on disk) is one document: the trigger path."""
    at_limit = document(tmp_path, _sized(MAX_BYTES), "limit.json")
    assert Path(at_limit).stat().st_size > MAX_BYTES
    result = submit(at_limit, "--url", api.url, "--project", "1", commit_token=COMMIT_TOKEN)
    assert result.code == 0, result.err
    assert api.received[0].path.endswith("/trigger/pipeline")
    assert len(api.received[0].document().encode()) == MAX_BYTES


def test_a_larger_batch_is_committed_in_parts_that_each_fit(
    api: TriggerApi, tmp_path: Path
) -> None:
    """Over 1,000 matches (or 10 MiB): one commit of several files, each a document
    `stage` reads whole, the cycle's id in each; the same names when sent again."""
    data = {
        "cycle_id": "c-big",
        "matches": [a_match(url=f"https://j.example/{i}") for i in range(2500)],
    }
    path = document(tmp_path, data)
    result = submit(path, "--url", api.url, "--project", "1", commit_token=COMMIT_TOKEN)
    assert result.code == 0, result.err
    (commit,) = api.received
    assert commit.path.endswith("/repository/commits") and commit.body["branch"] == "main"
    files = commit.files()
    assert len(files) == 3 and all("-part-" in name for name in files)
    parts = [json.loads(content) for content in files.values()]
    assert [len(part["matches"]) for part in parts] == [1000, 1000, 500]
    assert {part["cycle_id"] for part in parts} == {"c-big"}
    assert [m for part in parts for m in part["matches"]] == data["matches"]
    assert "commit path" in result.out and "3 files" in result.out
    again = submit(path, "--url", api.url, "--project", "1", commit_token=COMMIT_TOKEN)
    assert again.code == 0 and set(api.received[1].files()) == set(files)


def test_a_larger_batch_without_a_commit_token_is_not_sent(api: TriggerApi, tmp_path: Path) -> None:
    over = submit(
        document(tmp_path, _sized(MAX_BYTES + 1), "over.json"), "--url", api.url, "--project", "1"
    )
    assert over.code == 2
    assert "10,485,761 bytes, 1 match(es): more than one document may hold" in over.err
    assert "MATCH_STAGING_COMMIT_TOKEN" in over.err and "nothing was sent" in over.err
    forced = submit(
        document(tmp_path, _sized(MAX_BYTES + 1), "over.json"),
        "--url",
        api.url,
        "--project",
        "1",
        "--via",
        "trigger",
        commit_token=COMMIT_TOKEN,
    )
    assert forced.code == 2 and "--via commit" in forced.err
    assert api.received == []


def test_a_match_too_large_for_any_document_is_refused(api: TriggerApi, tmp_path: Path) -> None:
    result = submit(
        document(tmp_path, [_sized(MAX_BYTES + 10)]),
        "--url",
        api.url,
        "--project",
        "1",
        commit_token=COMMIT_TOKEN,
    )
    assert result.code == 2 and "match 1 alone is" in result.err
    assert api.received == []


def test_via_commit_sends_one_file_named_by_its_content(api: TriggerApi, tmp_path: Path) -> None:
    path = document(tmp_path, [a_match()])
    result = submit(
        path, "--url", api.url, "--project", "1", "--via", "commit", commit_token=COMMIT_TOKEN
    )
    assert result.code == 0, result.err
    (commit,) = api.received
    assert commit.private_token == COMMIT_TOKEN and "token" not in commit.body
    (name,) = commit.files()
    assert name.startswith("matches-inbox/submitted-") and name.endswith(".json")
    assert commit.body["actions"][0]["encoding"] == "base64"
    assert json.loads(commit.document()) == [a_match()]


def test_the_same_document_committed_again_is_nothing_to_do(
    api: TriggerApi, tmp_path: Path
) -> None:
    api.answers.append((400, json.dumps({"message": "A file with this name already exists"})))
    result = submit(
        document(tmp_path, [a_match()]),
        "--url",
        api.url,
        "--project",
        "1",
        token=None,
        commit_token=COMMIT_TOKEN,
    )
    assert result.code == 0, result.err
    assert "committed earlier): nothing to do" in result.out


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (403, "403 Forbidden"),
        (400, "You are not allowed to push into this branch"),
    ],
)
def test_a_commit_gitlab_refuses_says_which_token_is_needed(
    api: TriggerApi, tmp_path: Path, status: int, message: str
) -> None:
    api.answers.append((status, json.dumps({"message": message})))
    result = submit(
        document(tmp_path, [a_match()]),
        "--url",
        api.url,
        "--project",
        "1",
        "--via",
        "commit",
        commit_token=COMMIT_TOKEN,
    )
    assert result.code == 1
    assert f"HTTP {status}: {message}" in result.err and "api scope" in result.err


def test_without_a_token_nothing_is_sent(api: TriggerApi, tmp_path: Path) -> None:
    result = submit(document(tmp_path, a_match()), "--url", api.url, "--project", "1", token=None)
    assert result.code == 2
    assert "neither MATCH_STAGING_TRIGGER_TOKEN" in result.err
    forced = submit(
        document(tmp_path, a_match()),
        "--url",
        api.url,
        "--project",
        "1",
        "--via",
        "trigger",
        token=None,
        commit_token=COMMIT_TOKEN,
    )
    assert forced.code == 2 and "MATCH_STAGING_TRIGGER_TOKEN is not set" in forced.err
    commit = submit(
        document(tmp_path, a_match()), "--url", api.url, "--project", "1", "--via", "commit"
    )
    assert commit.code == 2 and "MATCH_STAGING_COMMIT_TOKEN is not set" in commit.err
    assert api.received == []


@pytest.mark.parametrize(
    "args",
    [
        (),  # no FILE
        ("doc.json", "--project", "1"),  # no URL anywhere
        ("doc.json", "--url", "http://x"),  # no project anywhere
        ("doc.json", "--url", "ftp://x", "--project", "1"),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    result = submit(*args)
    assert result.code == 2
    assert "usage: submit-matches" in result.err


def test_plain_http_to_another_host_is_warned_about(api: TriggerApi, tmp_path: Path) -> None:
    path = document(tmp_path, a_match())
    assert "unencrypted" not in submit(path, "--url", api.url, "--project", "1").err
    other = api.url.replace("127.0.0.1", "127.0.0.2")  # loopback still, but not "localhost"
    result = submit(path, "--url", other, "--project", "1")
    assert "plain http sends the token unencrypted" in result.err


# --------------------------------------------------------------------------- the file


def test_the_script_is_executable_and_uses_the_standard_library_only() -> None:
    assert os.access(SCRIPT, os.X_OK)
    source = SCRIPT.read_text(encoding="utf-8")
    assert source.startswith("#!/usr/bin/env python3\n")
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module.split(".")[0])
    assert modules and modules <= set(sys.stdlib_module_names) | {"__future__"}


def test_help_explains_the_token_and_exit_codes() -> None:
    result = submit("--help", token=None)
    assert result.code == 0
    assert "MATCH_STAGING_TRIGGER_TOKEN" in result.out and "Exit codes" in result.out


# --------------------------------------------------------------------------- the fake GitLab


@pytest.fixture
def gitlab() -> Iterator[tuple[FakeGitLab, str]]:
    """The fake GitLab with one pipeline trigger; yields it and the trigger's token."""
    with FakeGitLab() as fake:
        with fake.lock:
            fake.triggers.append(
                {
                    "id": 1,
                    "description": "producer",
                    "token": TOKEN,
                    "owner": fake.users[1],
                    "last_used": None,
                }
            )
        yield fake, fake.url


HOSTILE_TEXT = "90k $ p.a.; $GITLAB_TOKEN ${CI_JOB_TOKEN} $HOME ${ und $$ bleiben"


def test_under_restricted_variables_the_document_goes_in_the_trigger_body(
    gitlab: tuple[FakeGitLab, str], tmp_path: Path
) -> None:
    """GitLab.com's default for new projects: variables refused, the body (TRIGGER_PAYLOAD)
    allowed since gitlab MR 204230; every `$` arrives as written (base64 holds none)."""
    fake, url = gitlab
    fake.project["ci_pipeline_variables_minimum_override_role"] = "no_one_allowed"
    data = [a_match(notes=HOSTILE_TEXT)]
    result = submit(document(tmp_path, data), "--url", url, "--project", "1")
    assert result.code == 0, result.err
    (pipeline,) = fake.pipelines
    assert pipeline["variables"] == {} and pipeline["inputs"] == {"job": "stage"}
    sent = base64.b64decode(pipeline["trigger_payload"]["matches_b64"], validate=True)
    assert json.loads(sent) == data
    assert "$" not in pipeline["trigger_payload"]["matches_b64"]


def test_a_2_mb_document_reaches_the_trigger_payload_whole(
    gitlab: tuple[FakeGitLab, str], tmp_path: Path
) -> None:
    fake, url = gitlab
    doc = realistic_document(MB2, history=True)
    (tmp_path / "big.json").write_bytes(doc)
    result = submit(str(tmp_path / "big.json"), "--url", url, "--project", "1")
    assert result.code == 0, result.err
    (pipeline,) = fake.pipelines
    assert base64.b64decode(pipeline["trigger_payload"]["matches_b64"]) == doc


def test_the_document_is_one_string_for_gitlabs_json_limits(
    gitlab: tuple[FakeGitLab, str], tmp_path: Path
) -> None:
    """GitLab's JSON validation counts a body's elements (100,000 at most): 300 matches
    with 100 requirements each (121,803 elements in the body) as a JSON `matches` list would be
    refused with 400; as `matches_b64` the document is one string."""
    fake, url = gitlab
    row = {"requirement": "Kubernetes", "score": 90, "weight": 2}
    data = [a_match(url=f"https://j.example/{i}", requirements=[row] * 100) for i in range(300)]
    as_list = json.dumps({"token": TOKEN, "ref": "main", "matches": data}).encode()
    request = urllib.request.Request(
        f"{url}/api/v4/projects/1/trigger/pipeline",
        data=as_list,
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 400
    result = submit(document(tmp_path, data, indent=None), "--url", url, "--project", "1")
    assert result.code == 0, result.err
    (pipeline,) = fake.pipelines
    assert json.loads(base64.b64decode(pipeline["trigger_payload"]["matches_b64"])) == data


def test_before_the_fix_it_commits_to_the_inbox_instead(
    gitlab: tuple[FakeGitLab, str], tmp_path: Path
) -> None:
    """A GitLab without MR 204230 under no_one_allowed refuses the trigger call itself;
    with a commit token the document goes to matches-inbox/ in one commit."""
    fake, url = gitlab
    fake.project["ci_pipeline_variables_minimum_override_role"] = "no_one_allowed"
    fake.trigger_payload_exempt = False
    path = document(tmp_path, [a_match()])
    refused = submit(path, "--url", url, "--project", "1")
    assert refused.code == 1 and "MR 204230" in refused.err and fake.pipelines == []
    result = submit(path, "--url", url, "--project", "1", commit_token=fake.token)
    assert result.code == 0, result.err
    (commit,) = fake.commits
    (name,) = commit["files"]
    assert commit["branch"] == "main" and name.startswith("matches-inbox/submitted-")
    assert json.loads(fake.repository_files[name]) == [a_match()]
    again = submit(path, "--url", url, "--project", "1", "--via", "commit", commit_token=fake.token)
    assert again.code == 0 and "nothing to do" in again.out and len(fake.commits) == 1


def test_a_developer_may_not_commit_to_the_protected_default_branch(
    gitlab: tuple[FakeGitLab, str], tmp_path: Path
) -> None:
    fake, url = gitlab
    result = submit(
        document(tmp_path, [a_match()]),
        "--url",
        url,
        "--project",
        "1",
        "--via",
        "commit",
        commit_token=fake.token_for("reviewer"),  # a Developer
    )
    assert result.code == 1 and "not allowed to push into this branch" in result.err
    assert fake.commits == []


def test_without_inputs_in_the_pipeline_the_body_goes_alone(
    gitlab: tuple[FakeGitLab, str], tmp_path: Path
) -> None:
    """A project whose .gitlab-ci.yml has no spec:inputs: GitLab refuses the input
    job=stage; the script sends the body without it (the transition job stages it)."""
    fake, url = gitlab
    fake.config_has_inputs = False
    fake.project["ci_pipeline_variables_minimum_override_role"] = "developer"  # variables ok
    data = [a_match(notes=HOSTILE_TEXT)]
    result = submit(document(tmp_path, data), "--url", url, "--project", "1")
    assert result.code == 0, result.err
    assert "did not take the input job=stage" in result.err
    (pipeline,) = fake.pipelines
    assert pipeline["inputs"] == {} and pipeline["variables"] == {}
    encoded = pipeline["trigger_payload"]["matches_b64"]
    assert json.loads(base64.b64decode(encoded, validate=True)) == data


def test_an_instance_that_ignores_inputs_still_carries_the_body(
    gitlab: tuple[FakeGitLab, str], tmp_path: Path
) -> None:
    """Before 17.10 GitLab ignores `inputs` (an undeclared API param): the pipeline is
    created, and TRIGGER_PAYLOAD (raw) holds the document; the transition job stages it."""
    fake, url = gitlab
    fake.inputs_supported = False
    result = submit(document(tmp_path, [a_match()]), "--url", url, "--project", "1")
    assert result.code == 0, result.err
    (pipeline,) = fake.pipelines
    assert pipeline["inputs"] == {}
    assert pipeline["trigger_payload"]["inputs"]["job"] == "stage"
    assert pipeline["trigger_payload"]["matches_b64"]


def test_a_wrong_trigger_token_is_404(gitlab: tuple[FakeGitLab, str], tmp_path: Path) -> None:
    fake, url = gitlab
    result = submit(
        document(tmp_path, [a_match()]), "--url", url, "--project", "1", token="glptt-" + "0" * 40
    )
    assert result.code == 1 and "HTTP 404" in result.err and "check --project" in result.err
    assert fake.pipelines == []


def test_schedule_variables_are_forbidden_under_no_one_allowed(
    gitlab: tuple[FakeGitLab, str],
) -> None:
    import gitlab as python_gitlab

    fake, url = gitlab
    client = python_gitlab.Gitlab(url, private_token=fake.token)
    project = client.projects.get(1, lazy=True)
    schedule = project.pipelineschedules.create(
        {"description": "match-staging digest", "ref": "main", "cron": "5 7,12,17 * * *"}
    )
    fake.project["ci_pipeline_variables_minimum_override_role"] = "no_one_allowed"
    with pytest.raises(python_gitlab.exceptions.GitlabCreateError) as refused:
        schedule.variables.create({"key": "MATCH_STAGING_JOB", "value": "digest"})
    assert refused.value.response_code == 403
    pipeline = project.pipelines.create({"ref": "main", "inputs": {"job": "digest"}})
    assert fake.pipelines[-1]["inputs"] == {"job": "digest"} and pipeline.id
    with pytest.raises(python_gitlab.exceptions.GitlabCreateError) as also:
        project.pipelines.create({"ref": "main", "variables": [{"key": "SEND_IID", "value": "7"}]})
    assert also.value.response_code == 400
    assert "Insufficient permissions to set pipeline variables" in str(also.value)

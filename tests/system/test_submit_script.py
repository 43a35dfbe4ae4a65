"""scripts/submit-matches against a tiny local trigger API (standard library HTTP server):
what it sends, how it reports GitLab's errors, what it refuses to send, and that the trigger
token never reaches its output; then against the fake GitLab, whose trigger API refuses
pipeline variables under ci_pipeline_variables_minimum_override_role = no_one_allowed and
takes inputs."""

from __future__ import annotations

import ast
import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.gitlab_server import FakeGitLab

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "submit-matches"
TOKEN = "glptt-0123456789abcdef0123456789abcdef01234567"
EXAMPLE = ROOT / "matches-inbox" / "2026-02-08T1430Z.json"
MAX_BYTES = 90 * 1024


@dataclass
class Received:
    method: str
    path: str
    content_type: str
    body: dict[str, Any]

    def document(self) -> str:
        """The match document sent, decoded from its base64 input or variable."""
        holder = self.body.get("inputs") or self.body.get("variables") or {}
        encoded = str(holder.get("matches_b64") or holder.get("MATCHES_JSON_B64") or "")
        return base64.b64decode(encoded, validate=True).decode("utf-8")


@dataclass
class TriggerApi:
    """Answers POST .../trigger/pipeline from a queue (default: 201 with a pipeline)."""

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
                Received("POST", self.path, self.headers.get("Content-Type", ""), json.loads(raw))
            )
            status, body = (
                state.answers.pop(0)
                if state.answers
                else (
                    201,
                    json.dumps(
                        {
                            "id": 4711,
                            "status": "created",
                            "ref": "main",
                            "web_url": "https://gitlab.example.com/g/p/-/pipelines/4711",
                        }
                    ),
                )
            )
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body.encode())))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Result:
    code: int
    out: str
    err: str


def submit(*args: str, token: str | None = TOKEN, stdin: str | None = None, **env: str) -> Result:
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", **env}
    if token is not None:
        environment["MATCH_STAGING_TRIGGER_TOKEN"] = token
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert TOKEN not in done.stdout + done.stderr
    return Result(done.returncode, done.stdout, done.stderr)


def document(tmp_path: Path, data: Any, name: str = "doc.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
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


def test_posts_the_minified_document_as_base64_pipeline_inputs(api: TriggerApi) -> None:
    result = submit(str(EXAMPLE), "--url", api.url, "--project", "1", "--ref", "main")
    assert result.code == 0, result.err
    assert result.out.startswith(
        "pipeline 4711 created on main: https://gitlab.example.com/g/p/-/pipelines/4711"
    )
    (request,) = api.received
    assert request.path == "/api/v4/projects/1/trigger/pipeline"
    assert request.content_type == "application/json"
    assert request.body["token"] == TOKEN and request.body["ref"] == "main"
    assert set(request.body) == {"token", "ref", "inputs"}
    assert request.body["inputs"]["job"] == "stage"
    original = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    minified = json.dumps(original, ensure_ascii=False, separators=(",", ":"))
    assert request.document() == minified


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
    )
    assert result.code == 0, result.err
    assert json.loads(api.received[0].document())["cycle_id"] == "c"


# --------------------------------------------------------------------------- GitLab's errors


def test_insufficient_permissions_is_explained_with_the_project_setting(
    api: TriggerApi, tmp_path: Path
) -> None:
    api.answers.append(
        (
            400,
            json.dumps(
                {"message": {"base": ["Insufficient permissions to set pipeline variables"]}}
            ),
        )
    )
    result = submit(
        document(tmp_path, a_match()), "--url", api.url, "--project", "1", "--variables"
    )
    assert result.code == 1
    assert (
        "GitLab answered HTTP 400: Insufficient permissions to set pipeline variables" in result.err
    )
    assert "ci_pipeline_variables_minimum_override_role" in result.err
    assert "inputs" in result.err
    assert "matches-inbox/" in result.err
    assert result.out == ""


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
        document(tmp_path, a_match()), "--url", f"http://127.0.0.1:{port}", "--project", "1"
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


def test_the_size_limit_applies_to_the_minified_document(api: TriggerApi, tmp_path: Path) -> None:
    at_limit = document(tmp_path, _sized(MAX_BYTES), "limit.json")
    assert Path(at_limit).stat().st_size > MAX_BYTES  # indented on disk, minified when sent
    assert submit(at_limit, "--url", api.url, "--project", "1").code == 0
    assert len(api.received[0].document().encode()) == MAX_BYTES

    over = submit(
        document(tmp_path, _sized(MAX_BYTES + 1), "over.json"), "--url", api.url, "--project", "1"
    )
    assert over.code == 2
    assert "92,161 bytes once minified, more than the 92,160" in over.err
    assert "matches-inbox/" in over.err
    assert len(api.received) == 1


def test_without_a_token_nothing_is_sent(api: TriggerApi, tmp_path: Path) -> None:
    result = submit(document(tmp_path, a_match()), "--url", api.url, "--project", "1", token=None)
    assert result.code == 2
    assert "MATCH_STAGING_TRIGGER_TOKEN is not set" in result.err
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
    assert "plain http sends the trigger token unencrypted" in result.err


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


def test_under_restricted_variables_the_document_goes_as_inputs(
    gitlab: tuple[FakeGitLab, str], tmp_path: Path
) -> None:
    """GitLab.com's default for new projects: variables refused (400), inputs accepted. The
    script before inputs sent variables[MATCHES_JSON] and failed here."""
    fake, url = gitlab
    fake.project["ci_pipeline_variables_minimum_override_role"] = "no_one_allowed"
    data = [a_match(notes=HOSTILE_TEXT)]
    result = submit(document(tmp_path, data), "--url", url, "--project", "1")
    assert result.code == 0, result.err
    (pipeline,) = fake.pipelines
    assert pipeline["variables"] == {} and pipeline["inputs"]["job"] == "stage"
    sent = base64.b64decode(pipeline["inputs"]["matches_b64"], validate=True).decode()
    assert json.loads(sent) == data  # every `$` as written: base64 holds none to expand
    assert "$" not in pipeline["inputs"]["matches_b64"]


def test_variables_are_refused_under_no_one_allowed(
    gitlab: tuple[FakeGitLab, str], tmp_path: Path
) -> None:
    fake, url = gitlab
    fake.project["ci_pipeline_variables_minimum_override_role"] = "no_one_allowed"
    result = submit(document(tmp_path, [a_match()]), "--url", url, "--project", "1", "--variables")
    assert result.code == 1
    assert "HTTP 400: Insufficient permissions to set pipeline variables" in result.err
    assert fake.pipelines == []


def test_without_inputs_in_the_pipeline_it_falls_back_to_a_base64_variable(
    gitlab: tuple[FakeGitLab, str], tmp_path: Path
) -> None:
    """A project whose .gitlab-ci.yml has no spec:inputs (not updated yet): GitLab refuses
    the inputs; the script says so and sends the same base64 as MATCHES_JSON_B64."""
    fake, url = gitlab
    fake.config_has_inputs = False
    fake.project["ci_pipeline_variables_minimum_override_role"] = "developer"  # variables ok
    data = [a_match(notes=HOSTILE_TEXT)]
    result = submit(document(tmp_path, data), "--url", url, "--project", "1")
    assert result.code == 0, result.err
    assert "did not take the pipeline inputs" in result.err
    assert "MATCHES_JSON_B64" in result.err and "sent as MATCHES_JSON_B64" in result.out
    (pipeline,) = fake.pipelines
    encoded = pipeline["variables"]["MATCHES_JSON_B64"]
    assert json.loads(base64.b64decode(encoded, validate=True)) == data
    assert "$" not in encoded  # what the runner expands: nothing in base64


def test_an_instance_that_ignores_inputs_still_carries_them_in_the_trigger_payload(
    gitlab: tuple[FakeGitLab, str], tmp_path: Path
) -> None:
    """Before 17.10 GitLab ignores `inputs` (an undeclared API param): the pipeline is
    created, and TRIGGER_PAYLOAD (raw) holds them; the transition job stages from it."""
    fake, url = gitlab
    fake.inputs_supported = False
    result = submit(document(tmp_path, [a_match()]), "--url", url, "--project", "1")
    assert result.code == 0, result.err
    (pipeline,) = fake.pipelines
    assert pipeline["inputs"] == {}
    assert pipeline["trigger_payload"]["inputs"]["job"] == "stage"


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

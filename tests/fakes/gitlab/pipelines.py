"""Pipelines and what starts them: the trigger and pipeline APIs, commits, and the variables of
pipeline schedules."""

from __future__ import annotations

import base64
import hashlib
import json
import re

from tests.fakes.gitlab.notes import NotesMixin
from tests.fakes.gitlab.wire import (
    PROJECT_ROUTE,
    Json,
    Route,
    _HttpError,
    _Req,
    _Resp,
)


class PipelinesMixin(NotesMixin):
    """POST /trigger/pipeline, POST /pipeline, GET /pipelines, POST /repository/commits, and the
    variables of pipeline schedules."""

    # POST /projects/:id/trigger/pipeline (trigger token) and POST /projects/:id/pipeline
    # (api token), with `variables` and `inputs`, and the project setting
    # ci_pipeline_variables_minimum_override_role. Sources: lib/api/ci/triggers.rb,
    # lib/api/ci/pipelines.rb (inputs: 17.10 behind ci_inputs_for_pipelines, on by default
    # in 17.11, GA in 18.1; before, Grape ignores the undeclared param),
    # Gitlab::Ci::Pipeline::Chain::Validate (the setting), Interpolation::TextInterpolator
    # and Interpolation::Inputs (input errors), Chain::Populate ("will not run").
    def _init_pipelines(self) -> None:
        # GitLab.com's default for new projects since 17.7 (docs/platform-facts.md)
        self.project.setdefault("ci_pipeline_variables_minimum_override_role", "no_one_allowed")
        self.inputs_supported = True  # False: GitLab before 17.10 ignores `inputs`
        self.config_has_inputs = True  # False: a .gitlab-ci.yml without spec:inputs
        # False: GitLab without MR 204230 counts TRIGGER_PAYLOAD as a pipeline variable, so
        # under no_one_allowed every trigger call fails (gitlab issue 557381)
        self.trigger_payload_exempt = True
        self.version = "18.6.0"  # GET /version
        self.pipelines: list[Json] = []
        self.branches = {"main"}
        self.protected_branches = {"main"}  # the default branch: Maintainers push
        self.repository_files: dict[str, bytes] = {}
        self.commits: list[Json] = []

    def _trigger_token_ok(
        self, method: str, path: str, body: Json, query: dict[str, list[str]]
    ) -> bool:
        """The trigger API authenticates with the trigger's token, not a header."""
        if method != "POST" or not re.fullmatch(
            r"/api/v4/projects/[^/]+/(ref/[^/]+/)?"
            r"trigger/pipeline",
            path,
        ):
            return False
        token = body.get("token") or (query.get("token") or [""])[0]
        if not any(t["token"] == token for t in self.triggers):
            raise _HttpError(404, {"message": "404 Not Found"})
        return True

    def _pipeline_routes(self) -> list[Route]:
        p = PROJECT_ROUTE
        variables = p + r"/pipeline_schedules/(?P<sid>\d+)/variables"
        return [
            ("POST", p + "/repository/commits", self._create_commit),
            ("POST", p + "/trigger/pipeline", lambda r: self._create_pipeline(r, "trigger")),
            ("POST", p + "/pipeline", lambda r: self._create_pipeline(r, "api")),
            ("GET", p + "/pipelines", lambda r: self._paginate(r, self.pipelines)),
            ("POST", variables, self._create_variable),
            ("PUT", variables + "/(?P<key>[^/]+)", self._update_variable),
            ("DELETE", variables + "/(?P<key>[^/]+)", self._delete_variable),
        ]

    def _variables_restricted(self) -> bool:
        """Under no_one_allowed (or owner: the bot is a Maintainer) nobody may set them."""
        role = self.project.get("ci_pipeline_variables_minimum_override_role", "no_one_allowed")
        return role in ("no_one_allowed", "owner")

    def _check_schedule_variables(self) -> None:
        if self._variables_restricted():
            raise _HttpError(403, {"message": "403 Forbidden"})

    @staticmethod
    def _nested(req: _Req, name: str) -> Json:
        """`name` as a hash: a JSON object, or form/query keys `name[key]`."""
        value = req.body.get(name)
        if isinstance(value, dict):
            return dict(value)
        if isinstance(value, list):  # the pipeline API's [{key, value}, ...]
            return {str(v.get("key")): v.get("value") for v in value if isinstance(v, dict)}
        found: Json = {}
        pattern = re.compile(re.escape(name) + r"\[([^\]]+)\]")
        for key, val in [*req.body.items(), *((k, v[0]) for k, v in req.query.items())]:
            match = pattern.fullmatch(key)
            if match:
                found[match.group(1)] = val
        return found

    def _create_pipeline(self, req: _Req, source: str) -> _Resp:
        ref = str(req.required("ref"))
        variables = self._nested(req, "variables")
        inputs = self._nested(req, "inputs") if self.inputs_supported else {}
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in variables.items()):
            raise _HttpError(400, {"error": "variables needs to be a map of key-valued strings"})
        if ref not in self.branches:
            raise _HttpError(400, {"message": {"base": ["Reference not found"]}})
        trigger_payload = source == "trigger" and not self.trigger_payload_exempt
        if (variables or trigger_payload) and self._variables_restricted():
            raise _HttpError(
                400, {"message": {"base": ["Insufficient permissions to set pipeline variables"]}}
            )
        problem = self._input_problem(inputs)
        if problem:
            raise _HttpError(400, {"message": {"base": [problem]}})
        payload = {k: v for k, v in req.body.items() if k != "token"}
        if not self._would_run(source, variables, inputs):
            raise _HttpError(
                400,
                {
                    "message": {
                        "base": [
                            "Pipeline will not run for the selected trigger. The rules "
                            "configuration prevented any jobs from being added to the "
                            "pipeline."
                        ]
                    }
                },
            )
        pipeline = {
            "id": self._next_id("pipeline") + 4000,
            "iid": len(self.pipelines) + 1,
            "project_id": self.project_id,
            "ref": ref,
            "status": "created",
            "source": source,
            "sha": "0" * 40,
            "created_at": self._now(),
            "web_url": f"{self.project['web_url']}/-/pipelines/{len(self.pipelines) + 1}",
            "variables": variables,
            "inputs": inputs,
            "trigger_payload": payload if source == "trigger" else None,
        }
        self.pipelines.append(pipeline)
        return _Resp(
            201,
            {
                k: v
                for k, v in pipeline.items()
                if k not in ("variables", "inputs", "trigger_payload")
            },
        )

    # POST /projects/:id/repository/commits: lib/api/commits.rb (authorize! :push_code:
    # Developer), Commits::CreateService#validate_permissions! (a protected branch: "You are
    # not allowed to push into this branch", answered 400), Files::MultiService and Gitaly's
    # UserCommitFiles ("A file with this name already exists" for a create on an existing
    # path; content `encoding: base64` decoded). Only `create` actions: what the script sends.
    def _create_commit(self, req: _Req) -> _Resp:
        branch = str(req.required("branch"))
        message = str(req.required("commit_message"))
        actions = req.body.get("actions")
        if not isinstance(actions, list) or not actions:
            raise _HttpError(400, {"error": "actions is missing"})
        if branch not in self.branches:
            raise _HttpError(
                400, {"message": "You can only create or edit files when you are on a branch"}
            )
        if (
            branch in self.protected_branches
            and self.role_of(self.acting_user_id) < self.ROLE_LEVELS["maintainer"]
        ):
            raise _HttpError(400, {"message": "You are not allowed to push into this branch"})
        added: dict[str, bytes] = {}
        for action in actions:
            if not isinstance(action, dict) or action.get("action") != "create":
                raise _HttpError(400, {"message": "the fake commits API creates files only"})
            path = str(action.get("file_path") or "")
            if not path or path in self.repository_files or path in added:
                raise _HttpError(400, {"message": "A file with this name already exists"})
            content = str(action.get("content") or "")
            added[path] = (
                base64.b64decode(content)
                if action.get("encoding") == "base64"
                else content.encode("utf-8")
            )
        self.repository_files.update(added)
        sha = hashlib.sha1(  # noqa: S324 (an id, as git's)
            json.dumps([message, sorted(added)]).encode()
        ).hexdigest()
        commit = {
            "id": sha,
            "short_id": sha[:8],
            "title": message.splitlines()[0],
            "message": message,
            "created_at": self._now(),
            "web_url": f"{self.project['web_url']}/-/commit/{sha}",
        }
        self.commits.append({**commit, "branch": branch, "files": sorted(added)})
        return _Resp(201, commit)

    def _input_problem(self, inputs: Json) -> str:
        """Checked as GitLab checks this repository's spec:inputs (.gitlab-ci.yml header)."""
        if not inputs:
            return ""
        if not self.config_has_inputs:
            return (
                "Given inputs not defined in the `spec` section of the included configuration file"
            )
        spec = {
            "job": ("auto", "stage", "transition", "send", "digest"),
            "matches_b64": r"[A-Za-z0-9+/]*={0,2}",
            "send_iid": r"[0-9]{0,10}",
        }
        unknown = sorted(set(inputs) - set(spec))
        if unknown:
            return f"unknown input arguments: {', '.join(unknown)}"
        for name, value in inputs.items():
            rule = spec[name]
            if not isinstance(value, str):
                return f"`{name}` input: provided value is not a string"
            if isinstance(rule, tuple) and value not in rule:
                return (
                    f"`{name}` input: `{value}` cannot be used because it is not in "
                    "the list of allowed options"
                )
            if isinstance(rule, str) and not re.fullmatch(rule, value):
                return f"`{name}` input: provided value does not match required RegEx {rule}"
        return ""

    @staticmethod
    def _would_run(source: str, variables: Json, inputs: Json) -> bool:
        """Whether this repository's .gitlab-ci.yml creates a job for an API or trigger
        pipeline (tests/system/test_pipeline.py checks the real rules under gitlab-ci-local). A
        trigger call always carries TRIGGER_PAYLOAD, so `transition` runs on it."""
        if inputs.get("job", "auto") != "auto" or inputs.get("send_iid"):
            return True  # matches_b64 alone selects no job: it is read from TRIGGER_PAYLOAD
        if any(
            variables.get(n)
            for n in ("MATCHES_JSON_B64", "MATCHES_JSON", "MATCHES_FILE", "SEND_IID")
        ):
            return True
        return source == "trigger"

    def _variable(self, req: _Req) -> tuple[Json, Json | None]:
        schedule = self._item("schedules", req.params["sid"])
        key = req.params.get("key") or str(req.required("key"))
        return schedule, next((v for v in schedule["variables"] if v["key"] == key), None)

    def _create_variable(self, req: _Req) -> _Resp:
        self._check_schedule_variables()
        schedule, existing = self._variable(req)
        if existing is not None:
            taken = f"({existing['key']}) has already been taken"
            raise _HttpError(400, {"message": {"key": [taken]}})
        variable = {
            "key": str(req.required("key")),
            "value": str(req.required("value")),
            "variable_type": str(req.value("variable_type") or "env_var"),
            "raw": False,
        }
        schedule["variables"].append(variable)
        return _Resp(201, dict(variable))

    def _update_variable(self, req: _Req) -> _Resp:
        self._check_schedule_variables()
        _, variable = self._variable(req)
        if variable is None:
            raise _HttpError(404, {"message": "404 Variable Not Found"})
        variable["value"] = str(req.required("value"))
        return _Resp(200, dict(variable))

    def _delete_variable(self, req: _Req) -> _Resp:
        schedule, variable = self._variable(req)
        if variable is None:
            raise _HttpError(404, {"message": "404 Variable Not Found"})
        schedule["variables"].remove(variable)
        return _Resp(204)

"""The project: its settings and path, CI/CD variables, uploads, and the collections of boards,
pipeline triggers, webhooks and pipeline schedules."""

from __future__ import annotations

import re
import secrets
from typing import ClassVar

from tests.fakes.gitlab.search import (
    SearchMixin,
)
from tests.fakes.gitlab.wire import (
    PROJECT_ROUTE,
    Handler,
    Json,
    Route,
    _as_bool,
    _as_int,
    _HttpError,
    _public,
    _Req,
    _Resp,
)

EMBEDDABLE_EXTENSIONS = frozenset(
    (
        "png",
        "jpg",
        "jpeg",
        "gif",
        "bmp",
        "tiff",
        "ico",
        "webp",
        "svg",
        "mp4",
        "m4v",
        "mov",
        "webm",
        "ogv",
    )
)
BOOL_FIELDS = frozenset(
    (
        "issues_events",
        "note_events",
        "push_events",
        "enable_ssl_verification",
        "active",
        "merge_requests_events",
        "tag_push_events",
        "confidential_issues_events",
        "confidential_note_events",
        "hide_backlog_list",
        "hide_closed_list",
    )
)


class ProjectMixin(SearchMixin):
    """GET /projects/:id, project variables, uploads; boards, triggers, hooks and schedules."""

    # What GET /projects/:id shows only to who may admin the project (Maintainer):
    # lib/api/entities/project.rb, `with_options if: ... :admin_project`.
    _ADMIN_PROJECT_FIELDS: ClassVar[frozenset[str]] = frozenset(
        (
            "ci_default_git_depth",
            "ci_delete_pipelines_in_seconds",
            "ci_forward_deployment_enabled",
            "ci_forward_deployment_rollback_allowed",
            "ci_job_token_scope_enabled",
            "ci_separated_caches",
            "ci_allow_fork_pipelines_to_run_in_parent_project",
            "ci_id_token_sub_claim_components",
            "build_git_strategy",
            "keep_latest_artifact",
            "restrict_user_defined_variables",
            "ci_pipeline_variables_minimum_override_role",
            "runners_token",
            "runner_token_expiration_interval",
            "group_runners_enabled",
            "auto_cancel_pending_pipelines",
            "build_timeout",
            "auto_devops_enabled",
            "auto_devops_deploy_strategy",
            "ci_push_repository_for_job_token_allowed",
        )
    )

    def _project_routes(self) -> list[Route]:
        p = PROJECT_ROUTE
        table: list[Route] = [
            ("GET", p, lambda r: _Resp(200, self._project_view())),
            ("GET", p + "/variables/(?P<key>[^/]+)", self._get_variable),
            ("PUT", p + "/variables/(?P<key>[^/]+)", self._put_variable),
            ("POST", p + "/uploads", self._upload),
            (
                "GET",
                p + r"/boards/(?P<bid>\d+)/lists",
                lambda r: self._paginate(r, self._item("boards", r.params["bid"])["lists"]),
            ),
            ("POST", p + r"/boards/(?P<bid>\d+)/lists", self._create_board_list),
        ]
        for kind, segment in [
            ("boards", "boards"),
            ("triggers", "triggers"),
            ("hooks", "hooks"),
            ("schedules", "pipeline_schedules"),
        ]:
            table += self._collection_routes(kind, f"{p}/{segment}")
        return table

    def _project_view(self) -> Json:
        view = _public(self.project)
        level = self.role_of(self.acting_user_id)
        if level < self.ROLE_LEVELS["maintainer"]:
            view = {k: v for k, v in view.items() if k not in self._ADMIN_PROJECT_FIELDS}
        view["permissions"] = {
            "project_access": {"access_level": level, "notification_level": 3},
            "group_access": None,
        }
        return view

    def _move_project(self, path: str) -> None:
        """Put the project at `path` (group/name or group/sub/name)."""
        namespace, _, name = path.rpartition("/")
        self.project.update(
            path=name,
            name=name,
            path_with_namespace=path,
            name_with_namespace=" / ".join(path.split("/")),
            web_url=f"{self.url}/{path}",
        )
        self.project["namespace"] = {
            "id": 7,
            "name": namespace.rsplit("/", 1)[-1],
            "path": namespace.rsplit("/", 1)[-1],
            "full_path": namespace,
            "kind": "group",
        }
        self.project.setdefault("ci_pipeline_variables_minimum_override_role", "no_one_allowed")

    def _project_ids(self) -> tuple[str, str]:
        """The project's id or full path, after the one decoding GitLab does of the path
        segment (`group%2Fname`): `group%252Fname` stays encoded and is not found (404)."""
        return str(self.project_id), str(self.project["path_with_namespace"])

    def _get_variable(self, req: _Req) -> _Resp:
        """lib/api/ci/variables.rb: Maintainer (admin_build); 404 "Variable Not Found". A
        hidden variable (masked and hidden, 17.4) shows no value: app/models/ci/
        variable_value.rb, `variable.hidden? ? nil : variable.value`."""
        variable = self.variables.get(req.params["key"])
        if variable is None:
            raise _HttpError(404, {"message": "404 Variable Not Found"})
        shown = dict(variable)
        if shown.get("hidden"):
            shown["value"] = None
        return _Resp(200, shown)

    def _put_variable(self, req: _Req) -> _Resp:
        """PUT /projects/:id/variables/:key: value and flags; the key itself stays."""
        variable = self.variables.get(req.params["key"])
        if variable is None:
            raise _HttpError(404, {"message": "404 Variable Not Found"})
        for key in ("value", "protected", "masked", "raw", "description"):
            if req.value(key) is not None:
                value = req.value(key)
                variable[key] = value if key in ("value", "description") else _as_bool(value)
        return _Resp(200, dict(variable))

    def _upload(self, req: _Req) -> _Resp:
        if "file" not in req.files:
            raise _HttpError(400, {"error": "file is missing"})
        original, content = req.files["file"]
        if len(content) > self.max_upload_bytes:
            raise _HttpError(413, {"message": "413 Request Entity Too Large"})
        filename = re.sub(r"[^\w.\-+]", "_", original, flags=re.ASCII) or "file"
        stem, _, ext = filename.rpartition(".")
        embeddable = bool(stem) and ext.lower() in EMBEDDABLE_EXTENSIONS
        alt = stem if embeddable else filename
        secret = secrets.token_hex(16)
        url = f"/uploads/{secret}/{filename}"
        markdown = f"[{alt.replace(']', chr(92) + ']')}]({url})"
        upload: Json = {
            "id": self._next_id("upload"),
            "alt": alt,
            "url": url,
            "full_path": f"/-/project/{self.project_id}/uploads/{secret}/{filename}",
            "markdown": ("!" if embeddable else "") + markdown,
        }
        self.uploads.append(
            {**upload, "filename": filename, "original_filename": original, "content": content}
        )
        return _Resp(201, upload)

    def _collection_routes(self, kind: str, base: str) -> list[tuple[str, str, Handler]]:
        one = base + r"/(?P<item_id>\d+)"
        return [
            (
                "GET",
                base,
                lambda r: self._paginate(
                    r, [self._item_view(kind, i, listing=True) for i in getattr(self, kind)]
                ),
            ),
            ("POST", base, lambda r: self._create_item(kind, r)),
            (
                "GET",
                one,
                lambda r: _Resp(200, self._item_view(kind, self._item(kind, r.params["item_id"]))),
            ),
            ("PUT", one, lambda r: self._update_item(kind, r)),
            ("DELETE", one, lambda r: self._delete_item(kind, r)),
        ]

    def _item(self, kind: str, item_id: str) -> Json:
        item = next((i for i in getattr(self, kind) if i["id"] == int(item_id)), None)
        if item is None:
            raise _HttpError(404, {"message": f"404 {kind.rstrip('s').title()} Not Found"})
        assert isinstance(item, dict)
        return item

    @staticmethod
    def _item_view(kind: str, item: Json, listing: bool = False) -> Json:
        hidden = {"hooks": ["token"], "schedules": ["variables"] if listing else []}.get(kind, [])
        return _public(item, hidden)

    _UPDATABLE: ClassVar[dict[str, tuple[str, ...]]] = {
        "boards": ("name", "hide_backlog_list", "hide_closed_list"),
        "triggers": ("description",),
        "hooks": (
            "url",
            "token",
            "name",
            "description",
            "issues_events",
            "note_events",
            "push_events",
            "merge_requests_events",
            "tag_push_events",
            "confidential_issues_events",
            "confidential_note_events",
            "enable_ssl_verification",
        ),
        "schedules": ("description", "ref", "cron", "cron_timezone", "active"),
    }

    def _new_item(self, kind: str, req: _Req) -> Json:
        now, owner = self._now(), self._user(self.acting_user_id)
        if kind == "boards":
            return {
                "name": str(req.required("name")),
                "project": {k: self.project[k] for k in ("id", "name", "path_with_namespace")},
                "milestone": None,
                "lists": [],
                "hide_backlog_list": False,
                "hide_closed_list": False,
            }
        if kind == "triggers":
            return {
                "description": str(req.required("description")),
                "token": "glptt-" + secrets.token_hex(20),
                "created_at": now,
                "updated_at": now,
                "last_used": None,
                "owner": owner,
            }
        if kind == "hooks":
            url = str(req.required("url"))
            if not re.match(r"https?://", url):
                raise _HttpError(422, {"error": "Invalid url given"})
            item: Json = {
                "url": url,
                "project_id": self.project_id,
                "token": None,
                "created_at": now,
                "alert_status": "executable",
                "disabled_until": None,
                "push_events": True,
                "enable_ssl_verification": True,
            }
            item |= {
                k: False
                for k in self._UPDATABLE["hooks"]
                if k.endswith("_events") and k != "push_events"
            }
            return item
        for key in ("description", "ref", "cron"):
            req.required(key)
        return {
            "cron_timezone": "UTC",
            "active": True,
            "next_run_at": None,
            "created_at": now,
            "updated_at": now,
            "owner": owner,
            "last_pipeline": None,
            "variables": [],
        }

    def _set_fields(self, kind: str, item: Json, req: _Req) -> None:
        for key in self._UPDATABLE[kind]:
            value = req.value(key)
            if value is not None:
                item[key] = _as_bool(value) if key in BOOL_FIELDS else value
        if "updated_at" in item:
            item["updated_at"] = self._now()

    def _create_item(self, kind: str, req: _Req) -> _Resp:
        item = {"id": self._next_id(kind), **self._new_item(kind, req)}
        self._set_fields(kind, item, req)
        getattr(self, kind).append(item)
        return _Resp(201, self._item_view(kind, item))

    def _update_item(self, kind: str, req: _Req) -> _Resp:
        item = self._item(kind, req.params["item_id"])
        self._set_fields(kind, item, req)
        return _Resp(200, self._item_view(kind, item))

    def _delete_item(self, kind: str, req: _Req) -> _Resp:
        getattr(self, kind).remove(self._item(kind, req.params["item_id"]))
        return _Resp(204)

    def _create_board_list(self, req: _Req) -> _Resp:
        board = self._item("boards", req.params["bid"])
        label_id = _as_int(req.required("label_id"), -1)
        label = next((lb for lb in self.labels.values() if lb["id"] == label_id), None)
        if label is None:
            raise _HttpError(404, {"message": "404 Label Not Found"})
        if any(bl["label"]["id"] == label_id for bl in board["lists"]):
            raise _HttpError(400, {"message": {"label": ["has already been taken"]}})
        board_list = {
            "id": self._next_id("board_list"),
            "position": len(board["lists"]),
            "label": self._label_view(label),
            "max_issue_count": 0,
            "max_issue_weight": 0,
            "limit_metric": None,
        }
        board["lists"].append(board_list)
        return _Resp(201, dict(board_list))

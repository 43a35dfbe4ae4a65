"""Project labels and the label events of issues."""

from __future__ import annotations

import re

from tests.fakes.gitlab.users import UsersMixin
from tests.fakes.gitlab.wire import (
    PROJECT_ROUTE,
    Json,
    Route,
    _as_bool,
    _as_int,
    _HttpError,
    _public,
    _Req,
    _Resp,
)

DEFAULT_LABEL_COLOR = "#6699cc"
_HEX_COLOR_RE = re.compile(r"#([0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})")


def _text_color(color: str) -> str:
    match = _HEX_COLOR_RE.fullmatch(color)
    if not match:
        return "#FFFFFF"
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    total = sum(int(digits[i : i + 2], 16) for i in (0, 2, 4))
    return "#1F1E24" if total > 500 else "#FFFFFF"


class LabelsMixin(UsersMixin):
    """Labels: find by id or title, create, update, rename, delete; an issue's label events."""

    def add_label(self, name: str, color: str = DEFAULT_LABEL_COLOR, description: str = "") -> Json:
        with self.lock:
            return self._ensure_label(name, color, description)

    def _label_routes(self) -> list[Route]:
        p, label = PROJECT_ROUTE, PROJECT_ROUTE + "/labels/(?P<label>[^/]+)"
        return [
            ("GET", p + "/labels", self._list_labels),
            ("POST", p + "/labels", self._create_label),
            ("PUT", p + "/labels", self._update_label),
            ("DELETE", p + "/labels", self._delete_label),
            ("GET", label, lambda r: _Resp(200, self._label_view(self._find_label(r)))),
            ("PUT", label, self._update_label),
            ("DELETE", label, self._delete_label),
        ]

    def _ensure_label(
        self, name: str, color: str = DEFAULT_LABEL_COLOR, description: str = ""
    ) -> Json:
        if name not in self.labels:
            self.labels[name] = {
                "id": self._next_id("label"),
                "name": name,
                "color": color,
                "description": description or None,
                "description_html": "",
                "text_color": _text_color(color),
                "priority": None,
                "is_project_label": True,
                "subscribed": False,
            }
        return self.labels[name]

    def _label_view(self, label: Json, with_counts: bool = False) -> Json:
        view = _public(label)
        if with_counts:
            tagged = [i for i in self.issues.values() if label["name"] in i["labels"]]
            view["open_issues_count"] = sum(1 for i in tagged if i["state"] == "opened")
            view["closed_issues_count"] = sum(1 for i in tagged if i["state"] == "closed")
            view["open_merge_requests_count"] = 0
        return view

    def _find_label(self, req: _Req) -> Json:
        """By id first, then by title, as GitLab does (`labels.find_by_id(id_or_title) ||
        labels.find_by_title(id_or_title)`: gitlabhq lib/api/helpers/label_helpers.rb)."""
        key = req.params.get("label") or str(req.value("name") or "")
        label = None
        if key.isdigit():
            label = next((lb for lb in self.labels.values() if lb["id"] == int(key)), None)
        label = label or self.labels.get(key)
        if label is None:
            raise _HttpError(404, {"message": "404 Label Not Found"})
        return label

    @staticmethod
    def _validate_label(name: str | None, color: str | None) -> None:
        if name is not None and (not name.strip() or "," in name or len(name) > 255):
            raise _HttpError(400, {"message": {"title": ["is invalid"]}})
        if color is not None and not (_HEX_COLOR_RE.fullmatch(color) or color.isalpha()):
            raise _HttpError(400, {"message": {"color": ["must be a valid color code"]}})

    def _list_labels(self, req: _Req) -> _Resp:
        labels = sorted(self.labels.values(), key=lambda lb: str(lb["name"]))
        if (search := req.value("search")) is not None:
            needle = str(search).lower()
            labels = [
                lb for lb in labels if needle in f"{lb['name']}\n{lb['description'] or ''}".lower()
            ]
        with_counts = _as_bool(req.value("with_counts"))
        return self._paginate(req, labels, lambda lb: self._label_view(lb, with_counts))

    def _create_label(self, req: _Req) -> _Resp:
        name, color = str(req.required("name")).strip(), str(req.required("color"))
        self._validate_label(name, color)
        if name in self.labels:
            raise _HttpError(409, {"message": "Label already exists"})
        label = self._ensure_label(name, color, str(req.value("description") or ""))
        if req.value("priority") is not None:
            label["priority"] = _as_int(req.value("priority"), 0)
        return _Resp(201, self._label_view(label))

    def _update_label(self, req: _Req) -> _Resp:
        label = self._find_label(req)
        new_name, color = req.value("new_name"), req.value("color")
        description = req.value("description")
        if new_name is None and color is None and description is None:
            raise _HttpError(
                400,
                {
                    "error": "new_name, color, description are missing, "
                    "at least one parameter must be provided"
                },
            )
        self._validate_label(new_name, color)
        if color is not None:
            label.update(color=str(color), text_color=_text_color(str(color)))
        if description is not None:
            label["description"] = str(description) or None
        if new_name is not None and new_name != label["name"]:
            self._rename_label(label, str(new_name))
        return _Resp(200, self._label_view(label))

    def _rename_label(self, label: Json, new_name: str) -> None:
        """A rename changes the label only (Labels::UpdateService: `label.update(params)`,
        new_name becoming its title; gitlabhq app/services/labels/update_service.rb): issues
        and board lists link labels by id, so they show the new name at once, with no label
        event, no issue update and no Issue Hook; the label's old events show it by the new
        name too (`_label_event_view`). A Reporter may do it (admin_label)."""
        if new_name in self.labels:
            raise _HttpError(400, {"message": {"title": ["has already been taken"]}})
        old = label["name"]
        label["name"] = new_name
        self.labels[new_name] = self.labels.pop(old)
        for issue in self.issues.values():
            if old in issue["labels"]:
                issue["labels"] = sorted(new_name if n == old else n for n in issue["labels"])
        for board in self.boards:
            for bl in board["lists"]:
                if bl["label"]["id"] == label["id"]:
                    bl["label"] = self._label_view(label)

    def _delete_label(self, req: _Req) -> _Resp:
        label = self.labels.pop(self._find_label(req)["name"])
        for issue in self.issues.values():
            if label["name"] in issue["labels"]:
                issue["labels"] = [n for n in issue["labels"] if n != label["name"]]
        return _Resp(204)

    def _label_event_view(self, event: Json) -> Json:
        """A label event as GitLab answers it: the event belongs to the label (`belongs_to
        :label`, gitlabhq app/models/resource_label_event.rb) and the API shows that label as
        it is now (`expose :label, using: Entities::LabelBasic`, lib/api/entities/
        resource_label_event.rb): renamed, the old event shows the new name; deleted, the
        label_id is nullified and `label` is null."""
        view = dict(event)
        label_id = (event.get("label") or {}).get("id")
        current = next((lb for lb in self.labels.values() if lb["id"] == label_id), None)
        view["label"] = (
            {k: current[k] for k in ("id", "name", "color", "description")}
            if current is not None
            else (None if label_id is not None else event.get("label"))
        )
        return view

    def _label_event(self, issue: Json, name: str, action: str) -> None:
        label = self.labels.get(name) or {
            "id": None,
            "name": name,
            "color": None,
            "description": None,
        }
        user = self._user(self.acting_user_id)
        self.label_events.setdefault(issue["iid"], []).append(
            {
                "id": self._next_id("label_event"),
                "user": {k: user[k] for k in ("id", "username", "name", "avatar_url", "web_url")},
                "created_at": self._now(),
                "resource_type": "Issue",
                "resource_id": issue["id"],
                "label": {k: label[k] for k in ("id", "name", "color", "description")},
                "action": action,
            }
        )

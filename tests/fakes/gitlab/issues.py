"""Issues: create, read, list, update (labels, state, assignees, text), move and delete, with
what GitLab does alongside (label events, system notes, to-dos, Issue Hook events)."""

from __future__ import annotations

import operator
from collections.abc import Sequence

from tests.fakes.gitlab.base import PROJECT_PATH
from tests.fakes.gitlab.quick_actions import (
    QuickActionsMixin,
    _Changes,
    extract_quick_actions,
)
from tests.fakes.gitlab.text import (
    find_mentions,
    find_references,
)
from tests.fakes.gitlab.wire import (
    ISSUE_ROUTE,
    PROJECT_ROUTE,
    Json,
    Route,
    _as_bool,
    _as_int,
    _as_ints,
    _as_list,
    _HttpError,
    _parse_time,
    _public,
    _Req,
    _Resp,
)

MAX_TITLE_LENGTH = 255
MAX_DESCRIPTION_LENGTH = 1_048_576
ISSUE_UPDATE_PARAMS = (
    "title",
    "description",
    "labels",
    "add_labels",
    "remove_labels",
    "state_event",
    "assignee_ids",
    "assignee_id",
    "confidential",
)


def _human_size(size: int) -> str:
    """ActiveSupport::NumberHelper.number_to_human_size: 3 significant digits, 1024s."""
    units = ["Bytes", "KB", "MB", "GB"]
    value, unit = float(size), 0
    while value >= 1024 and unit < len(units) - 1:
        value, unit = value / 1024, unit + 1
    if unit == 0:
        return f"{size} Byte" + ("" if size == 1 else "s")
    digits = max(0, 3 - len(str(int(value))))
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"
    return f"{text} {units[unit]}"


def _too_long(description: str) -> str:
    """app/validators/bytesize_validator.rb: the description is measured in bytes."""
    size = len(description.encode())
    return (
        f"is too long ({_human_size(size)}). The maximum size is "
        f"{_human_size(MAX_DESCRIPTION_LENGTH)}."
    )


class IssuesMixin(QuickActionsMixin):
    """The issues API, and the effects of an issue's change."""

    def _issue_routes(self) -> list[Route]:
        p, issue = PROJECT_ROUTE, ISSUE_ROUTE
        return [
            ("GET", p + "/issues", self._list_issues),
            ("POST", p + "/issues", self._create_issue),
            ("GET", issue, lambda r: _Resp(200, self._issue_view(self._issue(r), r))),
            ("PUT", issue, self._update_issue),
            ("POST", issue + "/move", self._move_issue),
            ("DELETE", issue, self._delete_issue),
            (
                "GET",
                issue + "/resource_label_events",
                lambda r: self._paginate(
                    r, self.label_events.get(self._issue(r)["iid"], []), self._label_event_view
                ),
            ),
        ]

    def add_issue(
        self,
        title: str,
        description: str = "",
        labels: Sequence[str] = (),
        state: str = "opened",
        author_id: int = 1,
    ) -> Json:
        """Seed an issue directly (no request log, quick actions or label events)."""
        with self.lock:
            issue = self._new_issue(title, description, author_id)
            issue["labels"] = sorted({self._ensure_label(n)["name"] for n in labels})
            if state == "closed":
                issue.update(state="closed", closed_at=issue["created_at"])
            self.issues[issue["iid"]] = issue
            return issue

    def _new_issue(self, title: str, description: str | None, author_id: int) -> Json:
        iid = max(self.issues, default=0) + 1
        now = self._now()
        return {
            "id": self._next_id("issue"),
            "iid": iid,
            "project_id": self.project_id,
            "title": title,
            "description": description,
            "state": "opened",
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
            "closed_by": None,
            "labels": [],
            "milestone": None,
            "assignees": [],
            "assignee": None,
            "author": self._user(author_id),
            "type": "ISSUE",
            "issue_type": "issue",
            "user_notes_count": 0,
            "merge_requests_count": 0,
            "upvotes": 0,
            "downvotes": 0,
            "due_date": None,
            "confidential": False,
            "discussion_locked": None,
            "moved_to_id": None,
            "web_url": f"{self.project['web_url']}/-/issues/{iid}",
            "references": {
                "short": f"#{iid}",
                "relative": f"#{iid}",
                "full": f"{PROJECT_PATH}#{iid}",
            },
            "_mentions": [],
            "_references": [],
        }

    def _issue(self, req: _Req) -> Json:
        issue = self.issues.get(int(req.params["iid"]))
        if issue is None:
            raise _HttpError(404, {"message": "404 Issue Not Found"})
        return issue

    def _issue_view(self, issue: Json, req: _Req | None = None) -> Json:
        view = _public(issue)
        view["labels"] = sorted(issue["labels"])
        view["user_notes_count"] = len(
            [n for n in self.notes.get(issue["iid"], []) if not n["system"]]
        )  # GitLab: no system notes
        if req is not None and _as_bool(req.value("with_labels_details")):
            view["labels"] = [
                self._label_view(self.labels[n]) for n in view["labels"] if n in self.labels
            ]
        return view

    def _param_changes(self, req: _Req) -> _Changes:
        changes = _Changes(create_labels=True)
        if req.value("labels") is not None:
            changes.labels = _as_list(req.value("labels"))
        changes.add_labels = _as_list(req.value("add_labels"))
        changes.remove_labels = _as_list(req.value("remove_labels"))
        for name in (changes.labels or []) + changes.add_labels:
            self._validate_label(name, None)
        if req.value("title") is not None:
            changes.title = str(req.value("title"))
        if (event := req.value("state_event")) is not None:
            if event not in ("close", "reopen"):
                raise _HttpError(400, {"error": "state_event does not have a valid value"})
            changes.state_event = str(event)
        if req.value("assignee_ids") is not None:
            changes.assignee_ids = _as_ints(req.value("assignee_ids"))
        elif req.value("assignee_id") is not None:
            changes.assignee_ids = _as_ints(req.value("assignee_id"))
        return changes

    @staticmethod
    def _validate_text(title: str, description: str | None) -> None:
        if not title.strip():
            raise _HttpError(400, {"message": {"title": ["can't be blank"]}})
        if len(title) > MAX_TITLE_LENGTH:
            raise _HttpError(
                400,
                {"message": {"title": [f"is too long (maximum is {MAX_TITLE_LENGTH} characters)"]}},
            )
        if description is not None and len(description.encode()) > MAX_DESCRIPTION_LENGTH:
            raise _HttpError(400, {"message": {"description": [_too_long(description)]}})

    def _create_issue(self, req: _Req) -> _Resp:
        title = str(req.required("title"))
        issue = self._new_issue(title, None, self.acting_user_id)
        commands: list[tuple[str, str, str]] = []
        if req.value("description") is not None:
            issue["description"], commands = extract_quick_actions(str(req.value("description")))
        params = self._param_changes(req)
        quick, _, _ = self._interpret(commands, persisted=False)
        self._validate_text(title, issue["description"])
        self.issues[issue["iid"]] = issue
        self._apply(issue, params, quick)
        self._after_text_change(issue, commands, issue["title"], issue["description"] or "")
        for assignee in issue.get("assignees") or []:  # GitLab: assignees get a to-do,
            if assignee["id"] != self.acting_user_id:  # except who assigned themselves
                self._add_todo(issue, assignee["id"], "assigned")
        issue["updated_at"] = issue["created_at"]
        self._set_confidential(issue, req)
        self._issue_hook(issue, "open")
        return _Resp(201, self._issue_view(issue))

    # ---- confidential issues (helper "channels": the run-log issue is one) ----
    def _set_confidential(self, issue: Json, req: _Req) -> None:
        """POST /issues takes `confidential` (doc/api/issues.md, "New issue")."""
        if req.value("confidential") is not None:
            issue["confidential"] = _as_bool(req.value("confidential"))

    def _update_issue(self, req: _Req) -> _Resp:
        issue = self._issue(req)
        if all(req.value(key) is None for key in ISSUE_UPDATE_PARAMS):
            raise _HttpError(
                400,
                {
                    "error": ", ".join(ISSUE_UPDATE_PARAMS) + " are missing, "
                    "at least one parameter must be provided"
                },
            )
        params = self._param_changes(req)
        description: str | None = None
        commands: list[tuple[str, str, str]] = []
        raw = req.value("description")
        if raw is not None and str(raw) != issue["description"]:
            description, commands = extract_quick_actions(str(raw))
        quick, _, _ = self._interpret(commands)
        new_title = quick.title or params.title or issue["title"]
        self._validate_text(new_title, description)
        old_title, old_state = issue["title"], issue["state"]
        changed = self._apply(issue, params, quick)
        was_confidential = bool(issue.get("confidential"))
        self._set_confidential(issue, req)  # PUT takes it too (lib/api/issues.rb issue_params)
        changed |= bool(issue.get("confidential")) != was_confidential
        if description is not None and description != issue["description"]:
            issue["description"] = description
            changed = True
            self._description_system_note(issue)
        if req.value("confidential") is not None:  # PUT /issues/:iid takes it (doc/api/issues.md)
            confidential = _as_bool(req.value("confidential"))
            changed |= confidential != bool(issue.get("confidential"))
            issue["confidential"] = confidential
        scanned = issue["title"] if issue["title"] != old_title else ""
        self._after_text_change(issue, commands, scanned, description or "")
        if changed:
            issue["updated_at"] = self._now()
            # Closing or reopening is one Issue Hook event whose action says so, `close` or
            # `reopen`, with `state_id` in its changes (gitlabhq spec/support/shared_examples/
            # services/issuable/issuable_update_service_shared_examples.rb, "executes
            # hooks"; app/services/issues/close_service.rb, `execute_hooks(issue, 'close')`)
            moved = issue["state"] != old_state
            action = ("close" if issue["state"] == "closed" else "reopen") if moved else "update"
            self._issue_hook(issue, action)
        return _Resp(200, self._issue_view(issue))

    def _apply(self, issue: Json, *changesets: _Changes) -> bool:
        """Apply changes (labels: replace, then add, then remove); record label events."""
        old_labels = list(issue["labels"])
        labels = list(old_labels)
        changed = False
        for ch in changesets:
            if ch.create_labels:
                for name in (ch.labels or []) + ch.add_labels:
                    self._ensure_label(name)
            if ch.labels is not None:
                labels = list(ch.labels)
            labels += [n for n in ch.add_labels if n not in labels]
            labels = [n for n in labels if n not in ch.remove_labels]
            if ch.title is not None and ch.title != issue["title"]:
                issue["title"], changed = ch.title, True
            if ch.state_event is not None:
                changed |= self._set_state(issue, ch.state_event)
            ids = [u["id"] for u in issue["assignees"]]
            new_ids = ch.assignee_ids if ch.assignee_ids is not None else ids
            new_ids = [
                i
                for i in dict.fromkeys(new_ids + ch.add_assignees)
                if i in self.users and i not in ch.remove_assignees
            ]
            if new_ids != ids:
                issue["assignees"] = [self._user(i) for i in new_ids]
                issue["assignee"] = issue["assignees"][0] if new_ids else None
                changed = True
        new_labels = sorted(set(labels))
        for name in (n for n in new_labels if n not in old_labels):
            self._label_event(issue, name, "add")
        for name in (n for n in old_labels if n not in new_labels):
            self._label_event(issue, name, "remove")
        issue["labels"] = new_labels
        return changed or new_labels != sorted(old_labels)

    def _set_state(self, issue: Json, event: str) -> bool:
        if event == "close" and issue["state"] == "opened":
            issue.update(
                state="closed", closed_at=self._now(), closed_by=self._user(self.acting_user_id)
            )
            return True
        if event == "reopen" and issue["state"] == "closed":
            issue.update(state="opened", closed_at=None, closed_by=None)
            return True
        return False

    def _after_text_change(
        self, issue: Json, commands: list[tuple[str, str, str]], *texts: str
    ) -> None:
        """Record executed quick actions, mentions, references and mention to-dos."""
        self.executed_quick_actions += [(issue["iid"], line) for _, _, line in commands]
        usernames = [u["username"] for u in self.users.values()]
        for text in texts:
            mentioned = find_mentions(text, usernames)
            known, refs = issue.setdefault("_mentions", []), issue.setdefault("_references", [])
            known += [m for m in mentioned if m not in known]
            refs += [r for r in find_references(text) if r not in refs]
            for name in mentioned:
                user = self._user_by_name(name) if name != "all" else None
                if user is not None and user["id"] != self.acting_user_id:
                    self._add_todo(issue, user["id"], "mentioned")

    def _filter_issues(self, issues: list[Json], req: _Req) -> list[Json]:
        """The list filters other than time: state, labels, search, iids, people."""
        state = str(req.value("state") or "all")
        if state != "all":
            issues = [i for i in issues if i["state"] == state]
        wanted = _as_list(req.value("labels"))
        if wanted == ["None"]:
            issues = [i for i in issues if not i["labels"]]
        elif wanted == ["Any"]:
            issues = [i for i in issues if i["labels"]]
        elif wanted:
            issues = [i for i in issues if all(n in i["labels"] for n in wanted)]
        if (search := req.value("search")) is not None:
            issues = self._search_issues(issues, str(search), _as_list(req.value("in")))
        if (iids := req.value("iids")) is not None:
            issues = [i for i in issues if i["iid"] in _as_ints(iids)]
        if (author := req.value("author_id")) is not None:
            # by_author narrows the same relation as by_search (app/finders/
            # issuable_finder.rb, filter_items): author_id and search combine
            issues = [i for i in issues if i["author"]["id"] == _as_int(author, -1)]
        if (confidential := req.value("confidential")) is not None:
            # IssuesFinder#by_confidential (app/finders/issues_finder.rb); the API's
            # `confidential` Boolean (lib/api/issues.rb, issues_params)
            issues = [i for i in issues if bool(i.get("confidential")) == _as_bool(confidential)]
        if (assignee := req.value("assignee_id")) is not None:
            issues = [
                i for i in issues if _as_int(assignee, -1) in [u["id"] for u in i["assignees"]]
            ]
        return issues

    def _list_issues(self, req: _Req) -> _Resp:
        issues = self._filter_issues(list(self.issues.values()), req)
        for key, compare in [
            ("updated_after", operator.ge),
            ("updated_before", operator.le),
            ("created_after", operator.ge),
            ("created_before", operator.le),
        ]:
            if (value := req.value(key)) is not None:
                limit, attr = _parse_time(str(value), key), key.split("_")[0] + "_at"
                issues = [i for i in issues if compare(_parse_time(i[attr]), limit)]
        order_by = "updated_at" if req.value("order_by") == "updated_at" else "created_at"
        issues.sort(
            key=lambda i: (_parse_time(i[order_by]), i["id"]), reverse=req.value("sort") != "asc"
        )
        return self._paginate(req, issues, lambda i: self._issue_view(i, req))

    # ---- the to-dos an issue's change makes (assigned, mentioned); their API: todos.py ----
    def _add_todo(self, issue: Json, user_id: int, action: str) -> Json:
        now = self._now()
        todo: Json = {
            "id": self._next_id("todo"),
            "project": {
                k: self.project[k]
                for k in ("id", "name", "name_with_namespace", "path", "path_with_namespace")
            },
            "author": self._user(self.acting_user_id),
            "action_name": action,
            "target_type": "Issue",
            "target_url": issue["web_url"],
            "body": issue["title"],
            "state": "pending",
            "created_at": now,
            "updated_at": now,
            "_user_id": user_id,
            "_iid": issue["iid"],
        }
        self.todos.append(todo)
        return todo

    def _move_issue(self, req: _Req) -> _Resp:
        """POST /issues/:iid/move (lib/api/issues.rb): Issues::MoveService copies the issue
        and its notes to the other project (the copy keeps the author) and leaves the
        original here, closed (Issuable::Clone::BaseService#update_old_entity, close_issue)
        with `moved_to_id` set (`mark_as_moved`) and a system note by the mover. Reporter on
        both sides is enough (Issue#can_move?: admin_issue). The other project is outside
        this fake: any id of `other_project_ids`; this one's own is a 400, others a 404."""
        issue = self._issue(req)
        target = _as_int(req.required("to_project_id"), -1)
        if target == self.project_id:
            raise _HttpError(400, {"message": "Cannot move issue to project it originates from!"})
        if target not in self.other_project_ids:
            raise _HttpError(404, {"message": "404 Project Not Found"})
        self._set_state(issue, "close")
        issue["moved_to_id"] = self._next_id("issue")
        now = self._now()
        issue["updated_at"] = now
        self.notes.setdefault(issue["iid"], []).append(
            {
                **self._system_note(issue, now),
                "body": f"moved to other/project#{issue['moved_to_id']}",
            }
        )
        return _Resp(201, {**self._issue_view(issue), "id": issue["moved_to_id"], "iid": 1})

    def _delete_issue(self, req: _Req) -> _Resp:
        """DELETE /issues/:iid (lib/api/issues.rb, `authorize!(:destroy_issue, issue)`):
        the issue goes with its notes and events (Issuable::DestroyService); its labels and
        their ids stay in the project."""
        iid = self._issue(req)["iid"]
        del self.issues[iid]
        self.notes.pop(iid, None)
        self.label_events.pop(iid, None)
        return _Resp(204)

    def _system_note(self, issue: Json, now: str) -> Json:
        return {
            "id": self._next_id("note"),
            "type": None,
            "body": "",
            "attachment": None,
            "author": self._user(self.acting_user_id),
            "created_at": now,
            "updated_at": now,
            "system": True,
            "noteable_id": issue["id"],
            "noteable_type": "Issue",
            "project_id": self.project_id,
            "noteable_iid": issue["iid"],
            "resolvable": False,
            "confidential": False,
            "internal": False,
        }

    def _description_system_note(self, issue: Json) -> None:
        """GitLab's system note for a description edit, authored by the editor:
        SystemNotes::IssuablesService#change_description, called from
        Issuable::CommonSystemNotesService (gitlabhq app/services/issuable/
        common_system_notes_service.rb; CE, so on Free too). It does not touch the issue's
        updated_at (`no_touching`)."""
        now = self._now()
        self.notes.setdefault(issue["iid"], []).append(
            {
                "id": self._next_id("note"),
                "type": None,
                "body": "changed the description",
                "attachment": None,
                "author": self._user(self.acting_user_id),
                "created_at": now,
                "updated_at": now,
                "system": True,
                "noteable_id": issue["id"],
                "noteable_type": "Issue",
                "project_id": self.project_id,
                "noteable_iid": issue["iid"],
                "resolvable": False,
                "confidential": False,
                "internal": False,
            }
        )

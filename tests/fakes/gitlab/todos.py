"""To-dos: GitLab's to-do list of each user (a mention or an assignment makes one)."""

from __future__ import annotations

from tests.fakes.gitlab.issues import (
    IssuesMixin,
)
from tests.fakes.gitlab.wire import (
    ISSUE_ROUTE,
    Json,
    Route,
    _HttpError,
    _public,
    _Req,
    _Resp,
)


class TodosMixin(IssuesMixin):
    """GET /todos, POST /issues/:iid/todo, marking to-dos done."""

    def _todo_routes(self) -> list[Route]:
        return [
            ("POST", ISSUE_ROUTE + "/todo", self._create_todo),
            ("GET", "/todos", self._list_todos),
            ("POST", r"/todos/(?P<todo_id>\d+)/mark_as_done", self._mark_todo_done),
            ("POST", "/todos/mark_as_done", self._mark_all_todos_done),
        ]

    def _todo_view(self, todo: Json) -> Json:
        issue = self.issues.get(todo["_iid"])
        return {**_public(todo), "target": self._issue_view(issue) if issue else None}

    def _create_todo(self, req: _Req) -> _Resp:
        issue = self._issue(req)
        if any(
            t["_user_id"] == self.acting_user_id
            and t["_iid"] == issue["iid"]
            and t["state"] == "pending"
            for t in self.todos
        ):
            return _Resp(304)
        return _Resp(201, self._todo_view(self._add_todo(issue, self.acting_user_id, "marked")))

    def _list_todos(self, req: _Req) -> _Resp:
        state = str(req.value("state") or "pending")
        todos = [
            t
            for t in reversed(self.todos)
            if t["_user_id"] == self.acting_user_id
            and t["state"] == state
            and req.value("action") in (None, t["action_name"])
            and req.value("type") in (None, t["target_type"])
        ]
        return self._paginate(req, todos, self._todo_view)

    def _mark_todo_done(self, req: _Req) -> _Resp:
        todo = next(
            (
                t
                for t in self.todos
                if t["id"] == int(req.params["todo_id"]) and t["_user_id"] == self.acting_user_id
            ),
            None,
        )
        if todo is None:
            raise _HttpError(404, {"message": "404 Todo Not Found"})
        todo["state"] = "done"
        return _Resp(200, self._todo_view(todo))

    def _mark_all_todos_done(self, req: _Req) -> _Resp:
        for todo in self.todos:
            if todo["_user_id"] == self.acting_user_id:
                todo["state"] = "done"
        return _Resp(204)

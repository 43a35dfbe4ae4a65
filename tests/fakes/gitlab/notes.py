"""Notes on issues: list, create (quick actions run, commands-only notes answer 202), edit."""

from __future__ import annotations

from tests.fakes.gitlab.quick_actions import (
    extract_quick_actions,
)
from tests.fakes.gitlab.todos import TodosMixin
from tests.fakes.gitlab.wire import (
    ISSUE_ROUTE,
    Json,
    Route,
    _HttpError,
    _Req,
    _Resp,
)

MAX_NOTE_LENGTH = 1_000_000


class NotesMixin(TodosMixin):
    """The notes API of issues."""

    def _note_routes(self) -> list[Route]:
        note = ISSUE_ROUTE + r"/notes/(?P<note_id>\d+)"
        return [
            ("GET", ISSUE_ROUTE + "/notes", self._list_notes),
            ("POST", ISSUE_ROUTE + "/notes", self._create_note),
            ("GET", note, lambda r: _Resp(200, dict(self._note(r)))),
            ("PUT", note, self._update_note),
        ]

    def _note(self, req: _Req) -> Json:
        notes = self.notes.get(self._issue(req)["iid"], [])
        note = next((n for n in notes if n["id"] == int(req.params["note_id"])), None)
        if note is None:
            raise _HttpError(404, {"message": "404 Note Not Found"})
        return note

    def _check_note(self, text: str, commands: list[tuple[str, str, str]]) -> None:
        if not text and not commands:
            raise _HttpError(400, {"message": "400 Bad request - Note can't be blank"})
        if len(text) > MAX_NOTE_LENGTH:
            raise _HttpError(
                400,
                {
                    "message": "400 Bad request - Note is too long "
                    f"(maximum is {MAX_NOTE_LENGTH} characters)"
                },
            )

    def _list_notes(self, req: _Req) -> _Resp:
        notes = list(self.notes.get(self._issue(req)["iid"], []))
        # activity_filter: all_notes (default), only_comments, only_activity
        # (lib/api/notes.rb; UserPreference::NOTES_FILTERS, Note.with_notes_filter:
        # user notes only, system notes only); any other value is a 400 from Grape
        activity = str(req.value("activity_filter") or "all_notes")
        if activity not in ("all_notes", "only_comments", "only_activity"):
            raise _HttpError(400, {"error": "activity_filter does not have a valid value"})
        if activity != "all_notes":
            notes = [n for n in notes if n["system"] == (activity == "only_activity")]
        order_by = "updated_at" if req.value("order_by") == "updated_at" else "created_at"
        notes.sort(key=lambda n: (n[order_by], n["id"]), reverse=req.value("sort") != "asc")
        return self._paginate(req, notes)

    def _create_note(self, req: _Req) -> _Resp:
        issue = self._issue(req)
        text, commands = extract_quick_actions(str(req.required("body")))
        self._check_note(text, commands)
        quick, summary, changes = self._interpret(commands)
        changed = self._apply(issue, quick)
        self._after_text_change(issue, commands, text)
        if not text:
            if changed:
                issue["updated_at"] = self._now()
            return _Resp(202, {"commands_changes": changes, "summary": summary})
        now = self._now()
        note = {
            "id": self._next_id("note"),
            "type": None,
            "body": text,
            "attachment": None,
            "author": self._user(self.acting_user_id),
            "created_at": now,
            "updated_at": now,
            "system": False,
            "noteable_id": issue["id"],
            "noteable_type": "Issue",
            "project_id": self.project_id,
            "noteable_iid": issue["iid"],
            "resolvable": False,
            "confidential": False,
            "internal": False,
        }
        self.notes.setdefault(issue["iid"], []).append(note)
        issue["updated_at"] = now
        return _Resp(201, dict(note))

    def _update_note(self, req: _Req) -> _Resp:
        issue, note = self._issue(req), self._note(req)
        self._check_note_author(note)
        text, commands = extract_quick_actions(str(req.required("body")))
        self._check_note(text, commands)
        quick, _, _ = self._interpret(commands)
        self._apply(issue, quick)
        self._after_text_change(issue, commands, text)
        note.update(body=text, updated_at=self._now())
        return _Resp(200, dict(note))

    def user_notes(self, iid: int) -> list[Json]:
        """The notes people (and the bot) wrote, without GitLab's system notes."""
        with self.lock:
            return [n for n in self.notes.get(iid, []) if not n["system"]]

    def _check_note_author(self, note: Json) -> None:
        """Only a note's author may edit it (NotePolicy: `is_author` enables `admin_note`;
        gitlabhq app/policies/note_policy.rb). GitLab also lets Maintainers; this fake has
        no roles here, so it is stricter, never more lenient. System notes: nobody."""
        if note["system"] or note["author"]["id"] != self.acting_user_id:
            raise _HttpError(403, {"message": "403 Forbidden"})

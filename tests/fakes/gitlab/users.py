"""Users, roles and tokens: who a request is, and what their role lets them do."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from tests.fakes.gitlab.base import FakeBase
from tests.fakes.gitlab.wire import (
    Json,
    Route,
    _HttpError,
    _Req,
    _Resp,
)

# A token GitLab refuses: every request answers 401 with this body (lib/api/api_guard.rb,
# oauth2_bearer_token_error_handler, for Gitlab::Auth::ExpiredError and RevokedError, raised by
# lib/gitlab/auth/auth_finders.rb validate_and_save_access_token!). A PAT is expired from the
# first moment of its `expires_at` date (app/models/concerns/expirable.rb: `expires_at <=
# Time.current`). Issue 19 quotes "Token has expired." (older wording); tests cover both.
EXPIRED_TOKEN_BODY = {
    "error": "invalid_token",
    "error_description": "Token is expired. You can either do re-authorization or token refresh.",
}
REVOKED_TOKEN_BODY = {
    "error": "invalid_token",
    "error_description": "Token was revoked. You have to re-authorize from the user.",
}


class UsersMixin(FakeBase):
    """Users (lookups, renames, GET /users), roles, personal access tokens and their expiry."""

    def _current_users(self, payload: Any) -> Any:
        """Every user in an answer as the user is now: GitLab stores the user's id and
        renders the entity (UserBasic) from the current record, so a renamed user shows the
        new name on every old note, issue and label event (a username is the user's to
        change: doc/user/profile/_index.md, "Change your username")."""
        if isinstance(payload, list):
            return [self._current_users(item) for item in payload]
        if not isinstance(payload, dict):
            return payload
        out = {k: self._current_users(v) for k, v in payload.items()}
        uid = out.get("id")
        if "username" in out and isinstance(uid, int) and uid in self.users:
            now = self.users[uid]
            out.update({k: now[k] for k in ("username", "name", "web_url") if k in out})
        return out

    def rename_user(self, uid: int, username: str) -> None:
        """User `uid` changes their username (Settings > Account; no project role needed).
        The old name is free at once for anyone to take (gitlab-foss MR 17521: no
        permanent redirect reserves it; issue gitlab-foss#44925); a taken one is refused
        (User validates the username's uniqueness, case-insensitively)."""
        with self.lock:
            if any(
                u["username"].lower() == username.lower() and i != uid
                for i, u in self.users.items()
            ):
                raise ValueError(f"username {username!r} has already been taken")
            user = self.users[uid]
            user.update(username=username, web_url=f"{self.url}/{username}")
            self.users_renamed = True

    def _user_routes(self) -> list[Route]:
        return [
            ("GET", "/user", lambda r: _Resp(200, self._user(self.acting_user_id))),
            ("GET", "/personal_access_tokens/self", self._token_self),
            ("POST", "/personal_access_tokens/self/rotate", self._rotate_token),
            ("GET", "/users", self._list_users),
            ("GET", r"/users/(?P<uid>\d+)", lambda r: _Resp(200, self._user(int(r.params["uid"])))),
        ]

    def _list_users(self, req: _Req) -> _Resp:
        users = list(self.users.values())
        if (username := req.value("username")) is not None:
            users = [u for u in users if u["username"].lower() == str(username).lower()]
        if (search := req.value("search")) is not None:
            needle = str(search).lower()
            users = [
                u for u in users if needle in u["username"].lower() or needle in u["name"].lower()
            ]
        return self._paginate(req, users)

    @contextlib.contextmanager
    def act_as(self, username: str) -> Iterator[Json]:
        """Requests made inside the block are made by `username` (as if with their token):
        a Reporter editing a description, moving a card or writing a note."""
        user = self._user_by_name(username)
        if user is None:
            raise KeyError(username)
        with self.lock:
            before, self.acting_user_id = self.acting_user_id, user["id"]
        try:
            yield user
        finally:
            with self.lock:
                self.acting_user_id = before

    # GitLab's roles as access levels (Gitlab::Access). What each route needs follows
    # ProjectPolicy and the API's `authorize!` calls: hooks need admin_project (Maintainer,
    # lib/api/project_hooks.rb), triggers admin_trigger and schedules admin_pipeline_schedule
    # (Maintainer, as docs/platform-facts.md "Roles" says); labels and boards Reporter (Planner);
    # an issue's edit Reporter or its author; a note's edit only its author (NotePolicy).
    ROLE_LEVELS: ClassVar[dict[str, int]] = {
        "guest": 10,
        "planner": 15,
        "reporter": 20,
        "developer": 30,
        "maintainer": 40,
        "owner": 50,
    }
    _ROLE_RULES: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("*", r"/hooks(/.*)?", "maintainer"),
        ("*", r"/triggers(/.*)?", "maintainer"),
        ("*", r"/pipeline_schedules(/.*)?", "maintainer"),
        ("*", r"/variables(/.*)?", "maintainer"),  # lib/api/ci/variables.rb: admin_build
        ("POST", r"/pipeline", "developer"),
        ("POST", r"/repository/commits", "developer"),
        ("PUT", r"/issues/\d+", "reporter"),
        ("POST", r"/issues/\d+/move", "reporter"),
        # destroy_issue: the project's Owner (app/policies/project_policy.rb; newer GitLab
        # gives it to the Planner role too, which this fake does not model: stricter)
        ("DELETE", r"/issues/\d+", "owner"),
        ("POST|PUT|DELETE", r"/labels(/.*)?", "reporter"),
        ("POST|PUT|DELETE", r"/boards(/.*)?", "reporter"),
    )

    def _init_access(self, bot_role: str) -> None:
        """bot: `bot_role` (Maintainer unless a test says otherwise); reviewer: Developer;
        mallory: Reporter. `fake.token` acts as `acting_user_id`; `token_for(name)` as that
        user whatever `acting_user_id` says."""
        self.roles: dict[int, str] = {1: bot_role, 2: "developer", 3: "reporter"}
        self.tokens: dict[str, int] = {}

    def token_for(self, username: str) -> str:
        """A personal access token of `username` (made on first use)."""
        with self.lock:
            user = self._user_by_name(username)
            if user is None:
                raise KeyError(username)
            for token, uid in self.tokens.items():
                if uid == user["id"]:
                    return token
            token = f"glpat-{user['username']}-{secrets.token_hex(8)}"
            self.tokens[token] = int(user["id"])
            return token

    def role_of(self, user_id: int) -> int:
        return self.ROLE_LEVELS.get(self.roles.get(user_id, ""), 0)

    # ---- personal access tokens: expiry and GET /personal_access_tokens/self ----
    def _init_tokens(self) -> None:
        """Tokens never expire unless a test sets `token_expires_at[token]` (a date), judged
        by `clock` (the fake's clock: real time unless a test moves it). With
        `token_self_status` set, GET /personal_access_tokens/self answers that instead (404:
        a GitLab before 15.5; 400: not a personal access token)."""
        self.token_expires_at: dict[str, date | None] = {}
        self.revoked_tokens: set[str] = set()
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.token_self_status: int | None = None
        self._request_token = ""
        # the project's CI/CD variables by key (one environment scope each, "*")
        self.variables: dict[str, Json] = {}

    def _token_self(self, req: _Req) -> _Resp:
        """lib/api/personal_access_tokens/self_information.rb: the token the request
        authenticated with (Entities::PersonalAccessTokenWithLastUsedIps); `expires_at` is
        a date or null; 400 for a token that is no personal access token."""
        if self.token_self_status == 404:
            raise _HttpError(404, {"error": "404 Not Found"})
        if self.token_self_status is not None:
            raise _HttpError(
                self.token_self_status,
                {
                    "message": "400 Bad request - This endpoint requires token type to be a "
                    "personal access token"
                },
            )
        expires = self.token_expires_at.get(self._request_token)
        uid = self.acting_user_id
        return _Resp(
            200,
            {
                "id": 4000 + uid,
                "name": "match-staging",
                "revoked": False,
                "created_at": "2026-01-01T00:00:00.000Z",
                "description": None,
                "scopes": ["api"],
                "user_id": uid,
                "last_used_at": None,
                "active": True,
                "expires_at": expires.isoformat() if expires else None,
                "last_used_ips": [],
            },
        )

    def _rotate_token(self, req: _Req) -> _Resp:
        """lib/api/personal_access_tokens/self_rotation.rb with app/services/
        personal_access_tokens/rotate_service.rb: in one transaction the request's token is
        revoked and a new one made for its user (same name and scopes), expiring on
        `expires_at`, else a week from now when the instance requires an expiry (as
        GitLab.com does; EXPIRATION_PERIOD); the answer carries the new token once
        (Entities::PersonalAccessTokenWithToken). Over a year ahead: 400, nothing changes."""
        old, uid = self._request_token, self.acting_user_id
        today = self.clock().astimezone(UTC).date()
        raw = req.value("expires_at")
        try:
            expires = date.fromisoformat(str(raw)) if raw else today + timedelta(days=7)
        except ValueError:
            raise _HttpError(400, {"error": "expires_at is invalid"}) from None
        if expires > today + timedelta(days=365) or expires <= today:
            raise _HttpError(
                400, {"message": "400 Bad request - Expiration date must be within a year"}
            )
        self.revoked_tokens.add(old)
        new = f"glpat-rotated-{secrets.token_hex(10)}"
        self.tokens[new] = uid
        self.token_expires_at[new] = expires
        return _Resp(
            200,
            {
                "id": 5000 + len(self.revoked_tokens),
                "name": "match-staging",
                "revoked": False,
                "scopes": ["api"],
                "user_id": uid,
                "active": True,
                "expires_at": expires.isoformat(),
                "token": new,
            },
        )

    def _authenticate(self, auth: str) -> int:
        if auth in self.revoked_tokens:
            raise _HttpError(401, REVOKED_TOKEN_BODY)
        expires = self.token_expires_at.get(auth)
        if expires is not None and expires <= self.clock().astimezone(UTC).date():
            raise _HttpError(401, EXPIRED_TOKEN_BODY)
        if auth == self.token:
            return self.acting_user_id
        if auth in self.tokens:
            return self.tokens[auth]
        raise _HttpError(401, {"message": "401 Unauthorized"})

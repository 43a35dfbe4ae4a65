"""What digest's health check asks GitLab about the project (trackers/gitlab.py mixes it
into GitLabTracker): the trigger webhooks GitLab switched off, the token's expiry, and who
may set pipeline variables.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import unquote, urlsplit

import gitlab

from match_staging import render
from match_staging.trackers.base import TokenInfo, WebhookState
from match_staging.trackers.gitlab_base import GitLabBase
from match_staging.trackers.gitlab_http import PER_PAGE, _date, _translate

_TRIGGER_PATH = re.compile(r"/api/v4/projects/([^/]+)/ref/.+/trigger/pipeline/?$")


class ProjectHealth(GitLabBase):
    """The webhook and token requests of GitLabTracker."""

    _disabled_hooks: list[WebhookState] | None
    _hooks_visible: bool
    token_expires: date | None

    def webhook_problems(self) -> list[str]:
        """Why a trigger webhook would not deliver: paused or disabled by GitLab."""
        return [
            f"the issue webhook to {hook.url} is {hook.alert_status.replace('_', ' ')}"
            + (f" until {hook.disabled_until}" if hook.disabled_until else "")
            + ": review events are not reaching the pipeline"
            for hook in self.disabled_webhooks() or []
        ]

    @_translate("read the project's webhooks")
    def disabled_webhooks(self) -> list[WebhookState] | None:
        """This project's trigger webhooks GitLab switched off; None when this token may not
        list webhooks (Maintainer only). `GET /projects/:id/hooks` once per run: digest's
        health check and its reconcile both ask.
        """
        # Hooks are auto-disabled after repeated failures (docs/platform-facts.md, MR 166329).
        if self._disabled_hooks is not None:
            return list(self._disabled_hooks) if self._hooks_visible else None
        try:
            hooks = self._project.hooks.list(get_all=True, per_page=PER_PAGE)
        except gitlab.exceptions.GitlabListError as exc:
            if exc.response_code not in (403, 404):  # reading hooks needs the Maintainer role
                raise
            self._disabled_hooks, self._hooks_visible = [], False
            return None
        found = []
        for hook in hooks:
            attrs = hook.attributes
            url = str(attrs.get("url", ""))
            if not self._our_trigger(url, attrs.get("project_id")) or not (
                attrs.get("issues_events") or attrs.get("confidential_issues_events")
            ):
                continue
            status = str(attrs.get("alert_status") or "executable")
            if status != "executable":
                until = attrs.get("disabled_until")
                # the query holds the trigger token: never shown
                found.append(WebhookState(url.split("?", 1)[0], status, str(until or "") or None))
        self._disabled_hooks, self._hooks_visible = found, True
        return list(found)

    def _our_trigger(self, url: str, project_id: Any) -> bool:
        """A hook URL that starts this project's pipelines: `.../api/v4/projects/<this
        project, by id or path>/ref/<ref>/trigger/pipeline` (what bootstrap creates).
        """
        found = _TRIGGER_PATH.search(urlsplit(url).path)
        if found is None:
            return False
        target = unquote(found.group(1))
        ref = self._project.id
        return target in {str(project_id), ref, unquote(ref)}

    @_translate("read the token's expiry")
    def token_info(self) -> TokenInfo | None:
        """`GET /personal_access_tokens/self` (lib/api/personal_access_tokens/
        self_information.rb, GitLab 15.5 and later): `expires_at`, a date, or null. An older
        GitLab answers 404, a token that is no personal access token 400; then the expiry is
        simply not known, said once, and the run goes on. A 401 `invalid_token` is the token
        itself refused (`_translate`: TokenError).
        """
        try:
            data = self._project.client.http_get("/personal_access_tokens/self")
        except (
            gitlab.exceptions.GitlabHttpError,
            gitlab.exceptions.GitlabAuthenticationError,
        ) as exc:
            refused = exc.response_code == 401 and b"invalid_token" in (exc.response_body or b"")
            if refused or exc.response_code not in (400, 401, 403, 404, 405):
                raise  # the token itself refused (TokenError), or GitLab failing
            # not this endpoint's to answer: an unknown token fails the next request anyway
            answer = render.one_line(str(exc.error_message), 80)
            if not answer.startswith(str(exc.response_code)):
                answer = f"{exc.response_code} {answer}"
            return TokenInfo(None, known=False, answer=answer)
        raw = data.get("expires_at") if isinstance(data, dict) else None
        expires = _date(raw) if raw else None
        if raw and expires is None:
            return TokenInfo(
                None, known=False, answer=f"expires_at {render.one_line(str(raw), 40)}"
            )
        self.token_expires = expires
        return TokenInfo(expires)

    @_translate("read the project")
    def variables_role(self) -> str | None:
        """One GET of the project: who may set pipeline variables. GitLab shows the setting
        to Maintainers only (lib/api/entities/project.rb, `if: ... :admin_project`): None
        for a Developer's token.
        """
        attrs = self._project.client.http_get(self._project.path())
        role = (
            attrs.get("ci_pipeline_variables_minimum_override_role")
            if isinstance(attrs, dict)
            else None
        )
        return str(role) if role else None

"""Webhook deliveries: Issue Hook events, a hook's test, and GitLab's auto-disabling of hooks
whose deliveries fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.fakes.gitlab.base import IssueHookEvent
from tests.fakes.gitlab.project import ProjectMixin
from tests.fakes.gitlab.wire import (
    PROJECT_ROUTE,
    Json,
    Route,
    _HttpError,
    _Req,
    _Resp,
)

PIPELINES_PER_MINUTE = 25  # GitLab.com: pipeline creations per project, user and commit
# The triggers a hook test takes (ProjectHook.triggers, lib/api/hooks/trigger_test.rb)
HOOK_TEST_TRIGGERS = frozenset(
    (
        "push_events",
        "tag_push_events",
        "issues_events",
        "confidential_issues_events",
        "note_events",
        "confidential_note_events",
        "merge_requests_events",
        "job_events",
        "pipeline_events",
        "wiki_page_events",
        "releases_events",
        "emoji_events",
        "resource_access_token_events",
    )
)
HOOK_PAUSED_AFTER = 4  # consecutive failed deliveries: temporarily disabled
HOOK_DISABLED_AFTER = 40  # ... and for good


class HooksMixin(ProjectMixin):
    """Issue Hook events and their deliveries to the pipeline trigger URL."""

    def _hook_routes(self) -> list[Route]:
        test = PROJECT_ROUTE + r"/hooks/(?P<hook_id>\d+)/test/(?P<trigger>[a-z_]+)"
        return [("POST", test, self._test_hook)]

    def _issue_hook(self, issue: Json, action: str) -> None:
        """An issue's event goes to the hooks of one scope: a confidential issue's to those
        with `confidential_issues_events` (hooks_scope :confidential_issue_hooks, event_type
        "confidential_issue"), any other to those with `issues_events` (app/services/issues/
        base_service.rb#execute_hooks; Gitlab::HookData::IssueBuilder for the event_type)."""
        confidential = bool(issue.get("confidential"))
        scope = "confidential_issues_events" if confidential else "issues_events"
        kind = "confidential_issue" if confidential else "issue"
        actor = self._user(self.acting_user_id)["username"]
        at = datetime.now(UTC)
        event = IssueHookEvent(issue["iid"], actor, action, at, confidential)
        (self.confidential_issue_events if confidential else self.issue_hook_events).append(event)
        for hook in self.hooks:
            wanted = hook.get(scope) and "/trigger/pipeline" in str(hook["url"])
            if wanted and self._deliver(hook, at):
                self.deliveries.append((int(hook["id"]), kind, int(issue["iid"])))

    def _test_hook(self, req: _Req) -> _Resp:
        """POST /projects/:id/hooks/:hook_id/test/:trigger (lib/api/hooks/trigger_test.rb):
        sends sample data of the trigger's kind even to a disabled hook
        (app/services/test_hooks/base_service.rb: `hook.execute(data, trigger_key, force:
        true)`); a 2xx answer re-enables it (app/services/web_hooks/log_execution_service.rb:
        `hook.enable!` on :ok, app/models/concerns/web_hooks/auto_disabling.rb). 201 when the
        receiver answered 2xx, else 422. Issue events need an issue to show
        (TestHooks::ProjectService#issues_events_data). Updating a hook (PUT) does NOT
        re-enable it: lib/api/helpers/web_hooks_helpers.rb saves it and nothing else."""
        hook = self._item("hooks", req.params["hook_id"])
        trigger = req.params["trigger"]
        if trigger not in HOOK_TEST_TRIGGERS:
            raise _HttpError(400, {"error": "trigger does not have a valid value"})
        if trigger in ("issues_events", "confidential_issues_events") and not self.issues:
            raise _HttpError(422, {"message": "Ensure the project has issues."})
        at = datetime.now(UTC)
        if "/trigger/pipeline" in str(hook["url"]) and self._deliver(hook, at, force=True):
            self.deliveries.append((int(hook["id"]), f"test:{trigger}", 0))
            return _Resp(201, {"message": "201 Created"})
        raise _HttpError(422, {"message": "Hook execution failed"})

    # ---- webhook deliveries to the trigger URL (issue 11) ----
    def _deliver(self, hook: Json, at: datetime, *, force: bool = False) -> bool:
        """One Issue Hook delivery to a trigger URL: a pipeline, unless GitLab.com's
        pipeline-creation limit refuses it (429, a failed delivery). Failed deliveries
        disable the hook: for a while after 4 in a row, for good after 40, with the back-off
        doubling from one minute (gitlab MR 166329, app/models/concerns/web_hooks/
        auto_disabling.rb). A delivery to a disabled hook is not made: the event is lost,
        unless `force` (a test delivery). True when a pipeline was created."""
        until = hook.get("disabled_until")
        if not force and (
            hook["alert_status"] == "disabled"
            or (
                hook["alert_status"] == "temporarily_disabled"
                and until
                and at < datetime.fromisoformat(str(until).replace("Z", "+00:00"))
            )
        ):
            self.lost_deliveries += 1
            return False
        recent = [t for t in self.pipeline_creations if (at - t).total_seconds() < 60]
        if len(recent) < PIPELINES_PER_MINUTE:
            self.pipeline_creations.append(at)
            hook.update(alert_status="executable", disabled_until=None, _failures=0)
            return True
        failures = int(hook.get("_failures") or 0) + 1
        hook["_failures"] = failures
        self.lost_deliveries += 1
        if failures >= HOOK_DISABLED_AFTER:
            hook.update(alert_status="disabled", disabled_until=None)
        elif failures >= HOOK_PAUSED_AFTER:
            backoff = timedelta(minutes=2 ** (failures - HOOK_PAUSED_AFTER))
            hook.update(
                alert_status="temporarily_disabled",
                disabled_until=(at + min(backoff, timedelta(days=1))).isoformat(),
            )
        return False

    def pipelines_per_minute(self) -> int:
        """The most Issue Hook events in any 60 s: each starts a pipeline when the webhook
        points at the trigger URL (GitLab.com allows 25 pipeline creations a minute)."""
        times = sorted(e.at for e in self.issue_hook_events)
        return max(
            (
                sum(1 for t in times[i:] if (t - start).total_seconds() < 60)
                for i, start in enumerate(times)
            ),
            default=0,
        )

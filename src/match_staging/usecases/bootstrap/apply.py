"""Apply the plan: every step that can be done is done; one GitLab refuses is reported with
what to do about it. `bootstrap` and `run` are the use case.
"""

from __future__ import annotations

from collections.abc import Mapping

from match_staging.config import Config
from match_staging.errors import ConfigError, TrackerError
from match_staging.usecases.bootstrap.desired import desired
from match_staging.usecases.bootstrap.model import ApplyContext, BootstrapReport, ProjectAdmin
from match_staging.usecases.bootstrap.observed import find_schedule, observe
from match_staging.usecases.bootstrap.plan import plan_by_ids
from match_staging.usecases.bootstrap.settings import (
    trigger_payload_note,
    unrestricted_variables,
    variables_setting,
    why_refused,
)
from match_staging.usecases.pin_url import pin_url


def bootstrap(cfg: Config, admin: ProjectAdmin, *, dry_run: bool) -> BootstrapReport:
    """Every step that can be done is done; each one that cannot is reported with what to
    do about it, and the run fails only then (a refusal never leaves later steps undone).
    """
    project = admin.settings()
    allowed, notes = variables_setting(project)
    if not allowed or project.variables_role is None:
        notes += trigger_payload_note(admin)
    want = desired(cfg, project.id, variables=allowed)
    actual = observe(admin, want)
    actions = plan_by_ids(cfg, admin, want, actual)
    if (insist := unrestricted_variables(project)) is not None:
        actions.append(insist)
    trigger = next((t for t in actual.triggers if t.description == want.trigger), None)
    schedule = find_schedule(actual.schedules, want)
    report = BootstrapReport(
        actions=actions,
        dry_run=dry_run,
        location=admin.location,
        project_id=project.id,
        notes=notes,
        secrets=[trigger.token] if trigger and trigger.token else [],
    )
    report.failed = {i: a.detail for i, a in enumerate(actions) if a.kind == "failed"}
    if not dry_run:
        ctx = ApplyContext(
            admin=admin,
            label_ids={lb.name: lb.id for lb in actual.labels},
            board_ids={b.name: b.id for b in actual.boards},
            trigger_token=trigger.token if trigger else None,
            schedule_id=schedule.id if schedule else None,
        )
        for index, action in enumerate(actions):
            if action.apply is None:
                continue
            try:
                action.apply(ctx)
            except TrackerError as exc:
                if exc.transient and exc.status is None:
                    raise  # no answer from GitLab: the next steps would not get one either
                report.failed[index] = why_refused(exc, action.what)
                continue
            report.applied += 1
        if ctx.trigger_token and ctx.trigger_token not in report.secrets:
            report.secrets.append(ctx.trigger_token)
    if not cfg.gitlab.bot_username:
        report.notes.append(
            "gitlab.bot_username is not set: set it in the configuration file to the user of "
            "the jobs' GITLAB_TOKEN (the bot), so that the webhook pipeline each of the tool's "
            "own issue changes starts ends before any install (ci/prefilter.py)"
        )
    report.requests = admin.requests
    return report


def run(cfg: Config, env: Mapping[str, str], dry_run: bool) -> BootstrapReport:
    """Connect to GitLab the way every command does (GITLAB_URL, GITLAB_TOKEN, project) and
    bootstrap. There is no local tracker to set up: without a token this is a usage error.
    """
    token = env.get("GITLAB_TOKEN", "")
    if not token:
        raise ConfigError(
            "GITLAB_TOKEN is not set: bootstrap sets up a GitLab project and "
            "needs an api token of a Maintainer (webhooks, triggers and "
            "schedules need that role)"
        )
    missing = [
        name
        for name, value in (("GITLAB_URL", cfg.gitlab.url), ("GITLAB_PROJECT", cfg.gitlab.project))
        if not value
    ]
    if missing:
        raise ConfigError(
            f"{' and '.join(missing)} not set (nor gitlab.url / gitlab.project "
            "in the configuration, nor CI_SERVER_URL / CI_PROJECT_ID)"
        )
    from match_staging.trackers.gitlab_project import GitLabProject

    admin = GitLabProject(cfg.gitlab.url, token, cfg.gitlab.project, timeout=cfg.gitlab.timeout)
    report = bootstrap(cfg, admin, dry_run=dry_run)
    # in CI the URL comes only from the file, and the project it names outranks CI_PROJECT_ID
    if pinned := pin_url(cfg, dry_run=dry_run, project_id=report.project_id):
        report.notes.append(pinned)
    return report

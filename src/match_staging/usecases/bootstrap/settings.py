"""What the project's settings mean for the flow: the token's role, the pipeline-variables
setting and GitLab's version (notes and failed steps of the report).
"""

from __future__ import annotations

import re

from match_staging.errors import TrackerError
from match_staging.render import truncate
from match_staging.trackers.gitlab_project import ProjectSettings
from match_staging.usecases.bootstrap.model import Action, ProjectAdmin

ROLES = {
    10: "Guest",
    15: "Planner",
    20: "Reporter",
    30: "Developer",
    40: "Maintainer",
    50: "Owner",
}  # Gitlab::Access
VARIABLE_ROLES = {"developer": 30, "maintainer": 40, "owner": 50}  # and "no_one_allowed"
VARIABLES_SETTING = 'Settings > CI/CD > Variables > "Minimum role to use pipeline variables"'
MEMBERS = "Manage > Members"
NEEDS_MAINTAINER = ("hooks", "hook ", "trigger", "schedule")


def variables_setting(project: ProjectSettings) -> tuple[bool, list[str]]:
    """Whether the bot may set pipeline variables, and what the project's
    `ci_pipeline_variables_minimum_override_role` means for the flow
    (new GitLab.com projects: `no_one_allowed`, since 17.7; docs/platform-facts.md).
    """
    role = project.variables_role
    name = ROLES.get(project.access_level, "no member")
    if role is None:
        return True, [
            f"pipeline variables: the setting is shown to Maintainers only (this "
            f"token's user is {name}); check it at {VARIABLES_SETTING}"
        ]
    level = VARIABLE_ROLES.get(role)
    if level is not None and project.access_level >= level:
        return True, [
            f"pipeline variables: allowed from {role.title()} up ({VARIABLES_SETTING}"
            f"); pipeline inputs and variables both work. Safer: no_one_allowed, "
            "since a pipeline variable overrides the CI/CD variables the "
            "configuration reads (such as SMTP_HOST); match-staging needs none"
        ]
    who = "nobody" if level is None else f"{role.title()}s and up only"
    return False, [
        f"pipeline variables: {who} may set them ({VARIABLES_SETTING}: {role}; this token's "
        f"user is {name}). Works: the digest schedule (it needs no variable), the webhook, "
        "and `submit-matches` and `send` through pipeline inputs (GitLab 18.1 or later)",
        "pipeline variables: refused: MATCHES_JSON and SEND_IID as variables (an older GitLab "
        "without inputs), and on a GitLab without the webhook fix (MR 204230) even the "
        "webhook's pipelines, which GitLab then disables. If that is your GitLab, set "
        f"{VARIABLES_SETTING} to Maintainer (the trigger bootstrap made is a Maintainer's; "
        "Developer would let every Developer redirect the jobs)",
    ]


# Until gitlab MR 204230 (issue 557381) the restriction counts a trigger pipeline's
# TRIGGER_PAYLOAD as a pipeline variable: under it every trigger pipeline fails, the issue
# webhook's (which GitLab then disables) and scripts/submit-matches' trigger path alike. The
# release that carries the fix: docs/platform-facts.md, "Restricted pipeline variables".
TRIGGER_PAYLOAD_FIXED_IN = (18, 5)


def trigger_payload_note(admin: ProjectAdmin) -> list[str]:
    """What the GitLab version means for trigger pipelines under restricted pipeline
    variables (asked only when they are restricted for the bot, or not shown).
    """
    fixed = ".".join(map(str, TRIGGER_PAYLOAD_FIXED_IN))
    try:
        version = admin.version()
    except TrackerError as exc:
        return [
            f"GitLab's version could not be read ({exc}): before {fixed} no trigger "
            "pipeline runs while pipeline variables are restricted"
        ]
    match = re.match(r"(\d+)\.(\d+)", version)
    if match is None:
        return [
            f"GitLab's version {truncate(version, 40)!r} is not a version number: "
            f"before {fixed} no trigger pipeline runs while pipeline variables are "
            "restricted"
        ]
    if (int(match.group(1)), int(match.group(2))) >= TRIGGER_PAYLOAD_FIXED_IN:
        return []
    return [
        f"GitLab {truncate(version, 40)} is older than {fixed}: while pipeline variables "
        "are restricted it refuses every trigger pipeline (gitlab MR 204230): the issue "
        "webhook's, which GitLab then disables, and scripts/submit-matches' trigger path. "
        f"Set {VARIABLES_SETTING} to Maintainer (the trigger bootstrap made is a "
        "Maintainer's; Developer would let every Developer redirect the jobs), upgrade "
        "GitLab, or send documents with "
        "`submit-matches --via commit`"
    ]


def unrestricted_variables(project: ProjectSettings) -> Action | None:
    """A failed step while Developers may set pipeline variables: a pipeline variable
    outranks every CI/CD variable and GitLab's predefined ones (CI_SERVER_URL,
    GITLAB_TOKEN, SMTP_HOST, GITLAB_USER_LOGIN), so whoever may set one decides where the
    token and the mail go (issue 20). Maintainer and up, or nobody, is restricted.
    """
    if project.variables_role != "developer":
        return None
    return Action(
        "failed",
        "pipeline variables",
        f"Developers may set them ({VARIABLES_SETTING}: developer), and a pipeline variable "
        "outranks every CI/CD variable and GitLab's own (CI_SERVER_URL, GITLAB_TOKEN, "
        "SMTP_HOST): set it to No one allowed (pipeline inputs keep working) or Maintainer",
    )


def why_refused(exc: TrackerError, what: str) -> str:
    """The error, and what the user can do about it."""
    text = str(exc)
    if exc.status in (401, 403):
        if what.startswith("schedule variable"):
            return (
                f"{text}: pipeline variables are restricted here; the schedule works "
                f"without it, or allow them: {VARIABLES_SETTING}"
            )
        if any(what.startswith(p) or p in what for p in NEEDS_MAINTAINER):
            return (
                f"{text}: needs the Maintainer role (Developers may not see or change "
                f"webhooks, triggers or schedules): give the token's user Maintainer at "
                f"{MEMBERS}, or run bootstrap once with a Maintainer's token"
            )
        return f"{text}: needs at least the Reporter role: {MEMBERS}"
    if what.startswith("hook ") and exc.status == 422:
        return text + HOOK_REFUSED_HINT
    return text


HOOK_REFUSED_HINT = (
    "; a self-managed GitLab refuses webhooks to its own address unless an "
    "administrator allows requests to the local network (Admin > Settings > "
    "Network > Outbound requests)"
)

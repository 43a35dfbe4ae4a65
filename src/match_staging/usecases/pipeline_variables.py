"""digest's look at the project setting that decides who may set pipeline variables: a
pipeline variable outranks every CI/CD variable and GitLab's predefined ones (CI_SERVER_URL,
GITLAB_TOKEN, SMTP_HOST, GITLAB_USER_LOGIN), so while Developers may set them, any Developer
(or whoever holds a trigger token they made) decides where the jobs send the token and the
mail (issue 20). `bootstrap` refuses to finish then; digest says so on every run until it is
fixed. One GET of the project.
"""

from __future__ import annotations

from match_staging.errors import TrackerError
from match_staging.trackers.base import Tracker

SETTING = 'Settings > CI/CD > Variables > "Minimum role to use pipeline variables"'


def warning(tracker: Tracker) -> str:
    """A line to print while pipeline variables are not restricted; "" when they are, or
    when the token may not see the setting (a Developer's: `bootstrap` checked it).
    """
    try:
        role = tracker.variables_role()
    except TrackerError as exc:
        return f"pipeline variables: the project setting could not be read ({exc})"
    if role != "developer":
        return ""
    return (
        f"pipeline variables: Developers may set them ({SETTING}: developer), and a pipeline "
        "variable outranks CI_SERVER_URL, GITLAB_TOKEN and SMTP_HOST: set it to No one "
        "allowed (pipeline inputs keep working); `match-staging bootstrap` checks it"
    )

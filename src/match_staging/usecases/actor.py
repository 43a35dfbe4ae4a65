"""Who runs a shell or manual-job step, named in its audit note."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping

from match_staging.config import in_ci
from match_staging.trackers.base import Tracker


def shell_actor(env: Mapping[str, str], tracker: Tracker) -> str:
    """In CI the token's user (the job's GITLAB_USER_LOGIN is not believed there: a
    pipeline variable outranks it); elsewhere GITLAB_USER_LOGIN when set, on the local
    tracker the git user (as in the user's commits), else the login name.
    """
    if in_ci(env):
        return tracker.bot_user()
    if env.get("GITLAB_USER_LOGIN"):
        return env["GITLAB_USER_LOGIN"]
    if not tracker.sends:
        git_user = _git_user()
        if git_user:
            return git_user
    return _login_name(env)


def _git_user() -> str:
    """`git config user.name`, else `user.email`; empty without git or without either."""
    for key in ("user.name", "user.email"):
        try:
            done = subprocess.run(
                ["git", "config", "--get", key],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()
    return ""


def _login_name(env: Mapping[str, str]) -> str:
    """The login name: LOGNAME or USER (as getpass reads them), else the account's name."""
    name = env.get("LOGNAME") or env.get("USER") or env.get("USERNAME")
    if name:
        return name
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError, AttributeError):
        return "unknown user"

"""Who and which label, by GitLab id: names are what a Reporter can change.

GitLab shows a label by its current name wherever it appears (an issue's labels, every old
label event: ResourceLabelEvent belongs to the label, gitlabhq app/models/
resource_label_event.rb), and any Reporter may rename a project label. A user's name is
theirs to change, and a freed name can be taken by someone else. So the review gate knows
the state labels and the reviewers by the ids `bootstrap` recorded in the committed
configuration (`workflow.label_ids`, `workflow.reviewer_ids`): something only who may push
to the repository can change. Pure: the caller reads GitLab.
"""

from __future__ import annotations

from collections.abc import Mapping

from match_staging.config import Config
from match_staging.errors import ConfigError
from match_staging.labels import state_label
from match_staging.model import State

BOOTSTRAP_HINT = (
    "run `match-staging bootstrap` with a Maintainer's token and commit the configuration it writes"
)


def state_ids(cfg: Config) -> dict[State, int]:
    """The recorded id of each state label; empty when bootstrap has not recorded them."""
    return {State(name): value for name, value in cfg.workflow.label_ids.items()}


def label_problem(cfg: Config, current: Mapping[str, int] | None) -> str | None:
    """Why the state labels cannot be trusted now, in one line (None: they can): a state
    label's name no longer belongs to the id bootstrap recorded for it. `current` is every
    label's id by its name (None: a tracker without ids, where nobody renames labels).
    """
    recorded = state_ids(cfg)
    if not recorded or current is None:
        return None
    names = {value: name for name, value in current.items()}
    for state in State:
        if state not in recorded:
            continue  # a later state bootstrap has not recorded yet (unrecorded_states)
        want, name = recorded[state], state_label(cfg.labels, state)
        if current.get(name) == want:
            continue
        now = names.get(want)
        where = (
            f"label {want}, the {state.value} label bootstrap recorded, is now called {now!r}"
            if now is not None
            else f"label {want}, the {state.value} label bootstrap recorded, no longer exists"
        )
        holder = f" and {name!r} is label {current[name]}" if name in current else ""
        return (
            f"{where}{holder} (workflow.label_ids): somebody renamed or deleted project "
            "labels, so no state label can be trusted and nothing was done; run "
            "`match-staging bootstrap`, which renames them back by id (or says what to do)"
        )
    return None


def unrecorded_states(cfg: Config) -> list[State]:
    """The states whose label ids bootstrap has not recorded though it recorded the others:
    a project bootstrapped before issue 23 added expired, interview, offer, declined and
    ghosted. Until it runs again, nothing moves an issue into one of them (a label the
    gate cannot know by id) and the digest neither expires nor ghosts.
    """
    recorded = cfg.workflow.label_ids
    return [s for s in State if recorded and s.value not in recorded]


def unrecorded(cfg: Config) -> str | None:
    """The notice for a gate run without the recorded ids (None: all recorded)."""
    missing = []
    if not cfg.workflow.label_ids:
        missing.append("workflow.label_ids (renaming project labels can approve a match)")
    names = [n for n in cfg.workflow.reviewers if n not in cfg.workflow.reviewer_ids]
    if names:
        missing.append(
            "workflow.reviewer_ids for " + ", ".join(names) + " (whoever takes a reviewer's "
            "name after a rename could approve)"
        )
    if not missing:
        return None
    return f"not recorded: {'; '.join(missing)}: {BOOTSTRAP_HINT}"


def reviewer_problem(cfg: Config, username: str, user_id: int) -> str | None:
    """Why `username` (user `user_id`) is not the reviewer of that name bootstrap recorded
    (None: no objection by id). GitLab frees a name when its user renames and lets anyone
    take it (gitlab-foss MR 17521): the id says who it is.
    """
    recorded = cfg.workflow.reviewer_ids
    if username in recorded and user_id and recorded[username] != user_id:
        return (
            f"{username} is user {user_id}, not user {recorded[username]} whom bootstrap "
            f"recorded as the reviewer {username} (workflow.reviewer_ids): a renamed account "
            "may not review"
        )
    renamed = [n for n, i in recorded.items() if i == user_id and n != username]
    if user_id and renamed:
        return (
            f"user {user_id} was recorded as the reviewer {renamed[0]} but is called "
            f"{username} now (workflow.reviewer_ids): a renamed account may not review until "
            "workflow.reviewers names it and bootstrap records it"
        )
    return None


def check_reviewers(cfg: Config) -> None:
    """Somebody must be allowed to review: checked before any change is made (exit 2)."""
    if not cfg.workflow.reviewers and cfg.notification.channels.gitlab_todo.assignee_id is None:
        raise ConfigError(
            "workflow.reviewers is empty and notification.channels.gitlab_todo."
            "assignee_id is not set: nobody may review job matches"
        )


def is_reviewer(cfg: Config, username: str, user_id: int) -> bool:
    """workflow.reviewers, each the user id bootstrap recorded for the name
    (workflow.reviewer_ids); when empty, the user of gitlab_todo.assignee_id
    (docs/interface.md).
    """
    check_reviewers(cfg)
    if cfg.workflow.reviewers:
        return (
            username in cfg.workflow.reviewers and reviewer_problem(cfg, username, user_id) is None
        )
    return user_id == cfg.notification.channels.gitlab_todo.assignee_id

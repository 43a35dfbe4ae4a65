"""`bootstrap`: set a GitLab project up so the whole flow works, idempotently.

Desired state comes from the configuration; actual state from GitLab (a few listings). The
reconcile is pure: `plan(desired, actual)` returns one Action per object, in order, each
`ok`, `create` or `update`, matched by natural key (label name, board name, list label,
trigger description, hook URL without its token or by the token it carries, schedule
description). Only what differs is written; nothing is ever deleted, so whatever else lives
in the project (other hooks, boards, labels) is left as it is. A dry run prints the same
actions and writes nothing.

The webhook URL carries the trigger token, a secret: no action, line or error shows it
(`...?token=***`).

The rooms, by job: `model` (what bootstrap needs from GitLab, the state, the plan's steps,
the report), `desired`, `observed`, `plan` (pure), `steps` (how each change is made),
`ids` (state labels and reviewers known by GitLab id), `settings` (what the project's
settings mean) and `apply` (the use case: `bootstrap`, `run`).
"""

from match_staging.usecases.bootstrap.apply import bootstrap, run
from match_staging.usecases.bootstrap.model import Action, BootstrapReport, ProjectAdmin

__all__ = ["Action", "BootstrapReport", "ProjectAdmin", "bootstrap", "run"]

"""Desired state: what the project should hold, from the configuration alone."""

from __future__ import annotations

from urllib.parse import quote

from match_staging.config import Config
from match_staging.labels import label_specs, state_label
from match_staging.model import State
from match_staging.usecases.bootstrap.model import Desired

TRIGGER_DESCRIPTION = "match-staging webhook"
SCHEDULE_DESCRIPTION = "match-staging digest"
SCHEDULE_VARIABLES: dict[str, str] = {}  # a schedule pipeline runs `digest` (review-gate.yml)
BOARD_STATES = tuple(State)  # a list per state, in the order of model.State


def desired(cfg: Config, project_id: int, *, variables: bool = True) -> Desired:
    """The labels, board, trigger, hook and schedule the configuration asks for."""
    ref = cfg.gitlab.ref
    base = (
        f"{cfg.gitlab.url.rstrip('/')}/api/v4/projects/{project_id}/ref/"
        f"{quote(ref, safe='')}/trigger/pipeline"
    )
    return Desired(
        labels=tuple(label_specs(cfg.labels)),
        board=cfg.gitlab.board,
        board_lists=tuple(state_label(cfg.labels, s) for s in BOARD_STATES),
        trigger=TRIGGER_DESCRIPTION,
        hook_base=base,
        schedule={
            "description": SCHEDULE_DESCRIPTION,
            "ref": ref,
            "cron": cfg.gitlab.digest_cron,
            "cron_timezone": cfg.timezone,
            "active": True,
        },
        schedule_variables=dict(SCHEDULE_VARIABLES) if variables else {},
    )

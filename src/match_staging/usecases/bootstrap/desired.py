"""Desired state: what the project should hold, from the configuration alone."""

from __future__ import annotations

from urllib.parse import quote

from match_staging.config import Config
from match_staging.labels import label_specs, state_label
from match_staging.usecases.bootstrap.model import (
    BOARD_STATES,
    SCHEDULE_DESCRIPTION,
    SCHEDULE_VARIABLES,
    TRIGGER_DESCRIPTION,
    Desired,
)


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

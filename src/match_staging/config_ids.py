"""The ids `bootstrap` records in the configuration (`workflow.label_ids`,
`workflow.reviewer_ids`): which keys and values `config.load` accepts. Plain names, not
`model.State`: the configuration imports no model.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from match_staging.errors import ConfigError

STATE_NAMES = ("pending", "approved", "rejected", "sent")  # model.State, without importing it
# The states issue 23 added: a project bootstrapped before has no ids for them, which is no
# error (the digest says to run bootstrap again, which records them).
LATER_STATE_NAMES = ("expired", "interview", "offer", "declined", "ghosted")


def validate_ids(
    label_ids: Mapping[str, int], reviewer_ids: Mapping[str, int], reviewers: Collection[str]
) -> None:
    """The ids `bootstrap` records: positive, for the four states (and the later ones, when
    recorded), for named reviewers.
    """
    given = set(label_ids)
    if given and not set(STATE_NAMES) <= given <= set(STATE_NAMES + LATER_STATE_NAMES):
        raise ConfigError(
            "workflow.label_ids: must give the id of each state label (pending, approved, "
            "rejected, sent, and expired, interview, offer, declined, ghosted once bootstrap "
            f"recorded them), as bootstrap writes it; got {', '.join(sorted(label_ids))}"
        )
    for key, ids in (("label_ids", label_ids), ("reviewer_ids", reviewer_ids)):
        for name, value in ids.items():
            if value <= 0:
                raise ConfigError(f"workflow.{key}.{name}: must be a GitLab id, got {value}")
    for name in reviewer_ids:
        if name not in reviewers:
            raise ConfigError(
                f"workflow.reviewer_ids.{name}: not in workflow.reviewers (remove the entry, "
                "or add the name; bootstrap records the ids of the reviewers)"
            )

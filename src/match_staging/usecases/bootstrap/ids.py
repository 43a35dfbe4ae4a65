"""`bootstrap`'s part of issue 20: state labels and reviewers known by GitLab id.

A Reporter may rename project labels, and users rename themselves (the freed name is
anyone's to take), while GitLab shows both by their current name everywhere. bootstrap
records the ids in the committed configuration (`workflow.label_ids`,
`workflow.reviewer_ids`; `config_write`) when it creates or adopts the state labels and
first resolves the reviewers, and on later runs puts state labels somebody renamed back by
id, and says what to do about a reviewer whose name now belongs to another user.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path

from match_staging import config_write, identity
from match_staging.config import Config
from match_staging.errors import ConfigError, TrackerError
from match_staging.labels import state_label
from match_staging.model import State
from match_staging.trackers.gitlab_project import BoardState, LabelState
from match_staging.usecases.bootstrap.model import Action, ApplyContext, ProjectAdmin

config_path = config_write.config_path  # the file the ids go into


def label_renames(
    cfg: Config, labels: list[LabelState], *, unreadable: bool
) -> tuple[list[Action], list[LabelState], bool]:
    """The renames that put each recorded state label back under its configured name, the
    labels as they will be then (what the rest of the plan compares with), and whether a
    state label cannot be put back: a name held by a label that is not a state label is not
    taken from it (that step fails, saying what to do), and no other label or board list is
    created or changed until it is sorted out (the squatter would be adopted).
    """
    recorded = identity.state_ids(cfg)
    if not recorded or unreadable:
        return [], labels, False
    by_id = {lb.id: lb for lb in labels}
    by_name = {lb.name: lb for lb in labels}
    actions: list[Action] = []
    moves: list[tuple[LabelState, str]] = []
    for state in State:
        if state not in recorded:
            continue  # a later state, recorded by `recordings`
        want, name = recorded[state], state_label(cfg.labels, state)
        label = by_id.get(want)
        if label is None:
            actions.append(
                Action(
                    "failed",
                    f"label {name}",
                    f"label {want}, the {state.value} label recorded in "
                    "workflow.label_ids, was deleted (with it, the state of every issue "
                    f"that had it): remove workflow.label_ids from {config_path(cfg)} and "
                    "run bootstrap again to record the label it creates",
                )
            )
        elif label.name != name:
            moves.append((label, name))
    ours = {lb.id for lb, _ in moves}
    valid: list[tuple[LabelState, str]] = []
    for label, name in moves:
        holder = by_name.get(name)
        if holder is not None and holder.id not in ours:
            actions.append(
                Action(
                    "failed",
                    f"label {name}",
                    f"label {label.id}, the state label recorded in workflow.label_ids, "
                    f"is called {label.name!r}, and {name!r} is label {holder.id}: rename "
                    f"or delete label {holder.id}, then run bootstrap again",
                )
            )
        else:
            valid.append((label, name))
    parked: set[int] = set()
    for label, name in valid:
        actions.append(
            Action(
                "update",
                f"label {name}",
                f"label {label.id}, renamed to {label.name!r}, gets its name back",
                _rename(label, name, valid, parked),
            )
        )
    renamed = {lb.id: name for lb, name in valid}
    view = [dataclasses.replace(lb, name=renamed.get(lb.id, lb.name)) for lb in labels]
    return actions, view, any(a.kind == "failed" for a in actions)


def boards_after(
    boards: list[BoardState], before: list[LabelState], after: list[LabelState]
) -> list[BoardState]:
    """The boards as they will be once the labels are renamed: a list belongs to its label
    (by id), so it shows the label's name, whatever that is at the time.
    """
    names = {b.name: a.name for b, a in zip(before, after, strict=True) if b.name != a.name}
    return [
        dataclasses.replace(board, lists=tuple(names.get(n, n) for n in board.lists))
        for board in boards
    ]


def _rename(
    label: LabelState, name: str, moves: list[tuple[LabelState, str]], parked: set[int]
) -> Callable[[ApplyContext], None]:
    """Rename one label back. The first rename first parks, under a name of its own, every
    moving label whose name another one is to get, so that names swapped (pending and
    approved exchanged) or shifted come apart, in whatever order the renames run.
    """

    def step(ctx: ApplyContext) -> None:
        if not parked:
            wanted = {target for _, target in moves}
            for other, _ in moves:
                if other.name in wanted:
                    ctx.admin.rename_label(other.id, f"match-staging-renaming-{other.id}")
                parked.add(other.id)
        ctx.admin.rename_label(label.id, name)
        ctx.label_ids[name] = label.id

    return step


def recordings(cfg: Config, admin: ProjectAdmin, labels: list[LabelState]) -> list[Action]:
    """Record the state labels' ids once (when bootstrap creates or adopts them) and each
    reviewer's user id when first resolved; a reviewer whose name now belongs to another
    user fails, saying what to do. One user lookup per reviewer.
    """
    path = config_path(cfg)
    actions: list[Action] = []
    if not cfg.workflow.label_ids:
        actions.append(
            Action(
                "create",
                "config workflow.label_ids",
                f"the state labels' ids, in {path}: commit it",
                _record_labels(cfg, path),
            )
        )
    elif later := identity.unrecorded_states(cfg):
        actions.append(
            Action(
                "update",
                "config workflow.label_ids",
                "the ids of the new state labels "
                + ", ".join(s.value for s in later)
                + f", in {path}: commit it",
                _record_labels(cfg, path),
            )
        )
    found: dict[str, int] = {}
    for name in cfg.workflow.reviewers:
        what = f"reviewer {name}"
        try:
            now = admin.user_id(name)
        except TrackerError as exc:
            actions.append(Action("failed", what, str(exc)))
            continue
        had = cfg.workflow.reviewer_ids.get(name)
        if now is None:
            actions.append(
                Action(
                    "failed",
                    what,
                    f"no GitLab user is called {name} now: if the reviewer renamed the "
                    "account, put the new name in workflow.reviewers (and remove "
                    f"workflow.reviewer_ids.{name}), then run bootstrap again",
                )
            )
        elif had is None:
            found[name] = now
        elif had != now:
            actions.append(
                Action(
                    "failed",
                    what,
                    f"{name} is user {now} now, not user {had} as workflow.reviewer_ids "
                    "records: the reviewer renamed the account and someone else took the "
                    f"name. Put the reviewer's new name in workflow.reviewers, or, if user "
                    f"{now} is the reviewer, set workflow.reviewer_ids.{name} to {now}",
                )
            )
        else:
            actions.append(Action("ok", what, f"user {now}"))
    if found:
        merged = {**cfg.workflow.reviewer_ids, **found}
        shown = ", ".join(f"{n}: user {i}" for n, i in found.items())
        actions.append(
            Action(
                "update" if cfg.workflow.reviewer_ids else "create",
                "config workflow.reviewer_ids",
                f"{shown}, in {path}: commit it",
                lambda _ctx: _write(path, {"reviewer_ids": merged}),
            )
        )
    return actions


def _record_labels(cfg: Config, path: Path) -> Callable[[ApplyContext], None]:
    def step(ctx: ApplyContext) -> None:
        # the ids recorded stay as they are (renames went back to them); the rest are the
        # labels created or adopted by name in this run
        recorded = cfg.workflow.label_ids
        ids = {
            s.value: recorded.get(s.value) or ctx.label_ids.get(state_label(cfg.labels, s))
            for s in State
        }
        missing = [s for s, i in ids.items() if i is None]
        if missing:
            raise TrackerError(f"not recorded: the {missing[0]} label is missing")
        _write(path, {"label_ids": {s: i for s, i in ids.items() if i is not None}})

    return step


def _write(path: Path, values: Mapping[str, Mapping[str, int]]) -> None:
    try:
        config_write.record(path, values)
    except ConfigError as exc:
        raise TrackerError(str(exc)) from None
    except OSError as exc:
        raise TrackerError(f"{path}: cannot be written: {exc.strerror or exc}") from None

"""What one run is wired with, built once, before anything changes.

Every part a command needs is built (and so validated) by `build` up front: a bad setting
is a configuration error (exit 2) before the first write. A command asks only for the parts
it uses (`Parts`), so a bad Slack setting never stops `transition`, which sends no
notification. Time and sleep come from here and nowhere else: tests pass fake ones.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NoReturn, Protocol, cast

from match_staging import clock as clocks
from match_staging import identity
from match_staging.channels import email_settings
from match_staging.channels.base import Channel, Mailer
from match_staging.channels.registry import specs
from match_staging.clock import Clock, Sleep
from match_staging.config import Config
from match_staging.environment import Environment
from match_staging.errors import Refused, StagingError
from match_staging.trackers.base import Tracker


@dataclass(frozen=True)
class Pipeline:
    """The CI pipeline a step runs in, linked from its audit note ("" outside CI)."""

    url: str = ""
    id: str = ""

    @classmethod
    def of(cls, where: Environment) -> Pipeline:
        """GitLab CI's predefined variables, as the run's environment read them."""
        return cls(url=where.pipeline_url, id=where.pipeline_id)


@dataclass(frozen=True)
class Parts:
    """What a command uses besides the configuration. Without a tracker (preview) the
    channels only render: the configured ones with GITLAB_TOKEN, else every one.
    """

    tracker: bool = True
    channels: bool = False
    mailer: bool = False
    gate: bool = False  # the command judges review moves: say when ids are not recorded


@dataclass
class Context:
    """One run's wiring: what a use case reads and writes through, and when it runs."""

    cfg: Config
    tracker: Tracker
    channels: Sequence[Channel] = ()
    mailer: Mailer | None = None
    clock: Clock = clocks.system_now
    sleep: Sleep = clocks.system_sleep
    pipeline: Pipeline = field(default_factory=Pipeline)
    root: Path = field(default_factory=Path.cwd)  # attachments are read below it
    where: Environment = field(default_factory=Environment)  # CI or not, GitLab or local


class Notices(Protocol):
    """Where `build` says what a user should know (`output.Output`)."""

    def notice(self, text: str) -> None:
        """Say it now (standard error)."""

    def advise(self, text: str) -> None:
        """Say it at the end of a run that got there."""


def _quiet(_: str) -> None:
    """No one listens (a library call without an `out`)."""


def build(
    cfg: Config,
    env: Mapping[str, str],
    parts: Parts,
    *,
    clock: Clock | None = None,
    sleep: Sleep | None = None,
    out: Notices | None = None,
) -> Context:
    """The context of one run: tracker, channels and mailer as `parts` asks, validated
    now, in that order. `out` hears what a user should know about the wiring (the local
    tracker, a to-do nobody gets) as notices, and what can wait for the end of a run that got
    there (the setup left open) as advice.
    """
    notice = out.notice if out else _quiet
    where = Environment.of(env)  # the one reading of CI or not, GitLab or local
    clock = clock or clocks.of_run(env)  # MATCH_STAGING_NOW (docs/interface.md)
    clock()  # read once now: a bad MATCH_STAGING_NOW is an error before the first change
    sleep = sleep or clocks.system_sleep
    tracker = cast(Tracker, _Offline())  # preview: no tracker at all
    if parts.tracker:
        from match_staging.trackers import open_tracker

        tracker, said = open_tracker(cfg, env, clock=clock, sleep=sleep, where=where)
        if said:
            notice(said)
        _check_identity(cfg, tracker, parts, out.advise if out else _quiet, ci=where.ci)
    ctx = Context(
        cfg=cfg,
        tracker=tracker,
        clock=clock,
        sleep=sleep,
        pipeline=Pipeline.of(where),
        root=Path.cwd(),
        where=where,
    )
    if parts.channels:
        ctx.cfg = _channel_cfg(
            cfg, local=not tracker.sends if parts.tracker else where.tracker == "local"
        )
        ctx.channels = _channels(ctx, wrap=parts.tracker)
        todo = ctx.cfg.notification.channels.gitlab_todo
        if tracker.sends and todo.enabled and todo.assignee_id is None:  # not on a laptop
            notice(
                "gitlab_todo is enabled but notification.channels.gitlab_todo.assignee_id "
                "is not set: nobody is assigned, so nobody gets a to-do"
            )
    if parts.mailer:
        ctx.mailer = _mailer(ctx)
    return ctx


def _check_identity(
    cfg: Config, tracker: Tracker, parts: Parts, notice: Callable[[str], None], *, ci: bool
) -> None:
    """Before anything changes: the state labels still carry the ids bootstrap recorded
    (one label listing per run, shared with staging's; none per issue), else every
    command stops (exit 2). In CI a gate run without the labels' ids stops too: a Reporter
    could approve by renaming labels, and the jobs read the file `bootstrap` writes them into
    anyway (`gitlab.url`). Outside CI it says what that leaves open.
    """
    if cfg.workflow.label_ids and tracker.sends:
        problem = identity.label_problem(cfg, tracker.label_ids())
        if problem:
            raise Refused(problem)
    if not (parts.gate and tracker.kind == "gitlab"):
        return
    if ci and not cfg.workflow.label_ids:
        raise Refused(
            "workflow.label_ids is not recorded in the configuration file, so a Reporter "
            f"could approve a match by renaming project labels: {identity.BOOTSTRAP_HINT}"
        )
    if said := identity.unrecorded(cfg):
        notice(said)


def _channel_cfg(cfg: Config, *, local: bool) -> Config:
    """The configuration the channels see. On the embedded local tracker nothing leaves the
    machine, so (staging.local_channels: all) every channel writes its message to outbox/,
    enabled or not, without credentials, and quiet hours hold nothing back: a first run shows
    every message at once. Against GitLab the channels stay as configured.
    """
    if not local or cfg.staging.local_channels != "all":
        return cfg
    shown = copy.deepcopy(cfg)
    channels = shown.notification.channels
    for spec in specs():
        channels.by_name[spec.name].enabled = True
    email = email_settings.of(shown)
    if not email.recipients:
        email.recipients = ["you@example.invalid"]  # a placeholder: nothing is sent
    shown.notification.preferences.quiet_hours = None
    return shown


def _channels(ctx: Context, *, wrap: bool) -> list[Channel]:
    """The enabled channels; on the local tracker (`wrap`) each writes to outbox/ instead
    of sending; without a tracker (preview) they only render.
    """
    from match_staging import channels as registry

    sending = ctx.tracker.sends
    built = registry.build(ctx.cfg, sending=sending, clock=ctx.clock, sleep=ctx.sleep)
    if wrap and not sending:
        outbox = Path(ctx.cfg.staging.outbox)
        built = [registry.Outbox(c, outbox) for c in built]
    return built


def _mailer(ctx: Context) -> Mailer | None:
    """How applications go out: the email transport, or outbox/ on the local tracker;
    None when no sender is configured (`send` says so when it needs one).
    """
    from match_staging.channels.base import OutboxMailer
    from match_staging.channels.email import Email

    settings = email_settings.of(ctx.cfg)
    if not ctx.tracker.sends:
        return OutboxMailer(Path(ctx.cfg.staging.outbox) / "applications", settings.sender)
    if not settings.sender:
        return None
    return Email(settings, ctx.cfg.staging.templates_dir, clock=ctx.clock, sleep=ctx.sleep)


class _Offline:
    """The tracker of a command that uses none (preview): it sends nothing, and any use of
    it is a programming error, said as such rather than as an AttributeError.
    """

    kind: Literal["local"] = "local"
    sends = False
    location = "(no tracker)"
    requests = 0

    def __getattr__(self, name: str) -> NoReturn:
        raise StagingError(f"internal: this command runs without a tracker ({name})")

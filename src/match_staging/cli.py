"""The command line: parse arguments, call one use case, print, map errors to exit codes."""

from __future__ import annotations

import argparse
import os

from match_staging.cli_args import COMMANDS, DEFAULT_CONFIG, build_parser, subcommand_parser
from match_staging.cli_stats import cmd_stats  # noqa: F401  (a handler, found by name)

__all__ = ["COMMANDS", "DEFAULT_CONFIG", "build_parser", "main", "subcommand_parser"]

TYPE_CHECKING = False
if TYPE_CHECKING:  # everything else loads after argument parsing: --help stays fast
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from datetime import datetime
    from typing import TypeVar

    from match_staging import config
    from match_staging.context import Context, Parts
    from match_staging.output import Output
    from match_staging.usecases.gate import Gated

    Handler = Callable[[argparse.Namespace, "Run"], int]
    T = TypeVar("T")


class Run:
    """One invocation: its configuration, where it prints, its environment, and the
    clock and sleep everything it builds is handed. A plain class: `dataclasses` imports
    `inspect`, which `match-staging --help` would pay for.
    """

    def __init__(
        self,
        cfg: config.Config,
        out: Output,
        env: Mapping[str, str],
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.cfg, self.out, self.env = cfg, out, env
        self.clock, self.sleep = clock, sleep

    def context(self, parts: Parts) -> Context:
        """The run's wiring (`context.build`), built once per command, before any change."""
        from match_staging import context

        return context.build(
            self.cfg, self.env, parts, clock=self.clock, sleep=self.sleep, out=self.out
        )

    def print(self, lines: Iterable[str]) -> None:
        """Each line to standard output (a line per result)."""
        for line in lines:
            self.out.result(line)


def _gated(run: Run, done: Gated, suffix: str = "") -> int:
    """A step's line, then its auto-send's (or the refusal that stopped it); 1: one failed."""
    from match_staging.cli_lines import step

    run.out.result(step(done.step, suffix))
    if done.refused is not None:
        raise done.refused
    sent = [done.sent] if done.sent else []
    run.print(step(result) for result in sent)
    return int(any(result.outcome == "failed" for result in [done.step, *sent]))


def _refusal(step: Callable[[], T]) -> T:
    """Run a step that refuses with InputError before it changes anything (an unknown issue,
    a state that does not allow the step): a refusal, exit 2 (docs/interface.md), not partial.
    """
    from match_staging.errors import InputError, Refused

    try:
        return step()
    except InputError as exc:
        raise Refused(str(exc)) from None


def cmd_stage(args: argparse.Namespace, run: Run) -> int:
    """Stage a batch; a line per match, the notifications, the summary."""
    from match_staging import cli_args, cli_lines
    from match_staging.context import Parts
    from match_staging.usecases.stage import stage

    ctx = run.context(Parts(channels=True))
    batch = cli_args.read_batch(args, run.env, run.out, ctx.cfg)
    report = stage(ctx, batch)
    run.print(cli_lines.stage(ctx.cfg, report))
    if not batch.matches and not batch.errors:  # standard error: stdout is a line per result
        run.out.notice(cli_lines.nothing_staged(batch, args.paths, run.env, ctx.cfg))
    run.out.result(cli_lines.stage_summary(report, ctx.tracker))
    return 0 if report.ok else 1


def cmd_digest(args: argparse.Namespace, run: Run) -> int:
    """The scheduled run: repairs (each approval auto-sent), deliveries, reminders."""
    from match_staging import cli_lines
    from match_staging.context import Parts
    from match_staging.usecases.digest import digest, new_run_log

    ctx = run.context(Parts(channels=True, mailer=run.cfg.workflow.auto_send, gate=True))
    if args.new_run_log:  # replace a run log that is lost or untrusted (RunLogLost)
        run.out.result(cli_lines.new_run_log(new_run_log(ctx.tracker)))
    report = digest(ctx)
    run.print(cli_lines.digest_repairs(report))
    if report.reconciled.refused is not None:  # the auto-send after the last line printed
        raise report.reconciled.refused[1]
    run.print(cli_lines.digest(report, bool(ctx.channels), ctx.tracker))
    failed = any(s.outcome == "failed" for s in report.reconciled.sent.values())
    return 0 if report.ok and not failed else 1


def cmd_transition(args: argparse.Namespace, run: Run) -> int:
    """Apply one webhook event; an approval it applies is auto-sent."""
    from match_staging.cli_lines import requests
    from match_staging.context import Parts
    from match_staging.usecases.gate import Gate
    from match_staging.usecases.review import webhook_event

    event = webhook_event(args.payload, run.env, run.cfg)
    if isinstance(event, str):  # not ours: ignored before GitLab is asked anything
        run.out.result(f"ignored   {event}")
        return 0
    ctx = run.context(Parts(mailer=run.cfg.workflow.auto_send, gate=True))
    done = Gate(ctx).transition(event)
    return _gated(run, done, f" · {requests(ctx.tracker, done.requests)}")


def cmd_review(args: argparse.Namespace, run: Run) -> int:
    """Approve or reject from the shell; an approval is auto-sent."""
    from match_staging.cli_lines import requests
    from match_staging.context import Parts
    from match_staging.model import State
    from match_staging.usecases.actor import shell_actor
    from match_staging.usecases.gate import Gate

    target = State(args.to) if args.to else State.APPROVED if args.approve else State.REJECTED
    auto_send = target == State.APPROVED and run.cfg.workflow.auto_send
    ctx = run.context(Parts(mailer=auto_send, gate=True))
    actor = shell_actor(run.env, ctx.tracker)
    done = _refusal(lambda: Gate(ctx).review(args.iid, target, actor, args.reason or ""))
    return _gated(run, done, f" · {requests(ctx.tracker, done.requests)}")


def cmd_send(args: argparse.Namespace, run: Run) -> int:
    """Send one approved application."""
    from match_staging.context import Parts
    from match_staging.usecases.actor import shell_actor
    from match_staging.usecases.gate import Gate, Gated

    ctx = run.context(Parts(mailer=True, gate=True))
    actor = shell_actor(run.env, ctx.tracker)
    sent = _refusal(lambda: Gate(ctx).send(args.iid, actor, force=args.force))
    return _gated(run, Gated(sent))


def cmd_bootstrap(args: argparse.Namespace, run: Run) -> int:
    """Create what the project needs, idempotently."""
    from match_staging.usecases.bootstrap import run as bootstrap

    report = bootstrap(run.cfg, run.env, dry_run=args.dry_run)
    run.out.add_secrets(report.secrets)  # the webhook URL carries the trigger token
    run.print(report.lines())
    run.out.result(report.summary())
    return 0 if report.ok else 1


def cmd_rotate_token(args: argparse.Namespace, run: Run) -> int:
    """Rotate the bot's token into GITLAB_TOKEN; neither token is ever printed."""
    from match_staging import clock
    from match_staging.usecases.rotate import run as rotate

    now = run.clock() if run.clock else clock.now(run.env)
    report = rotate(run.cfg, run.env, now, args.days, args.dry_run)
    run.out.add_secrets(report.secrets)
    run.print(report.lines)
    return 0 if report.ok else 1


def cmd_preview(args: argparse.Namespace, run: Run) -> int:
    """Render issues and messages to outbox/preview/."""
    from match_staging import cli_args, cli_lines
    from match_staging.context import Parts
    from match_staging.usecases.preview import preview

    # like the tracker: every channel without GITLAB_TOKEN, the configured ones with it
    ctx = run.context(Parts(tracker=False, channels=True))
    batch = cli_args.read_batch(args, run.env, run.out, cfg := ctx.cfg)
    project = cfg.gitlab.project if not cfg.gitlab.project.isdigit() else "project"
    project_url = f"{cfg.gitlab.url or 'https://gitlab.example.com'}/{project or 'project'}"
    report = preview(ctx, batch, project_url)
    run.print(cli_lines.preview(batch, report))
    return 1 if batch.errors or report.rejected else 0


def cmd_validate(args: argparse.Namespace, run: Run) -> int:
    """Check match files and their attachments; change nothing."""
    from pathlib import Path

    from match_staging import cli_args
    from match_staging.usecases.validate import validate

    batch = cli_args.read_batch(args, run.env, run.out, run.cfg)
    report = validate(batch, Path.cwd(), run.cfg.staging.max_attachment_bytes)
    run.print([*report.lines, report.summary()])
    return 1 if report.errors else 0


def cmd_list(args: argparse.Namespace, run: Run) -> int:
    """A line per staged match."""
    from match_staging.context import Parts
    from match_staging.model import State
    from match_staging.usecases.list import list_matches, nothing_listed

    state = State(args.state) if args.state else None
    lines = list_matches(run.context(Parts()), state)
    if not lines:
        run.out.notice(nothing_listed(state))  # stdout stays a line per match
    run.print(lines)
    return 0


def cmd_notify(args: argparse.Namespace, run: Run) -> int:
    """One message through the channels, once per key (usecases/message.py)."""
    from match_staging import cli_args, cli_lines, context
    from match_staging.usecases.message import notify

    request = cli_args.notify_request(args)  # checked before anything is built
    report = notify(run.context(context.Parts(channels=True)), *request)
    run.print(cli_lines.messages(report))
    return 0 if report.ok else 1


def cmd_init(args: argparse.Namespace, run: Run) -> int:
    """The gate's files in this repository, none overwritten (usecases/init.py)."""
    from match_staging.usecases.init import init

    run.print((report := init(os.getcwd(), args.component_project, dry_run=args.dry_run)).lines)
    return 0 if report.ok else 1


def cmd_config(args: argparse.Namespace, run: Run) -> int:
    """The effective configuration, secrets masked."""
    from match_staging import cli_lines

    run.print(cli_lines.config(run.cfg))
    return 0


def main(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> int:
    """Run one command; its exit code. `clock` and `sleep` (None: the real ones, the clock
    honouring MATCH_STAGING_NOW) reach everything the command builds.
    """
    env = os.environ if env is None else env
    args = build_parser().parse_args(argv)
    import match_staging.channels.registry  # noqa: F401  (hands config the channels' sections)
    from match_staging import config
    from match_staging.errors import StagingError
    from match_staging.output import Output
    from match_staging.redaction import secrets_of

    out = Output(secrets=secrets_of(None, env))  # the environment's, before the file is read
    try:
        cfg = config.load(args.config, env)
        out.add_secrets(secrets_of(cfg, env))
        handler: Handler = globals()[COMMANDS[args.command][0]]
        code = handler(args, Run(cfg, out, env, clock=clock, sleep=sleep))
        out.flush_advice()
        return code
    except StagingError as exc:
        out.notice(f"match-staging: error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        out.notice("match-staging: interrupted")
        return 130
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if env.get("MATCH_STAGING_DEBUG"):
            import traceback

            # through Output like every other line: the traceback's values are masked too
            out.notice(traceback.format_exc().rstrip())
            return 1
        out.notice(
            f"match-staging: internal error: {type(exc).__name__}: {exc} "
            "(set MATCH_STAGING_DEBUG=1 for the traceback)"
        )
        return 1

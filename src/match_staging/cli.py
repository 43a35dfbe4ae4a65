"""The command line: parse arguments, call one use case, print, map errors to exit codes.
Exit codes (docs/interface.md): 0 all done, 1 partial (input rejected, a channel or GitLab
failed), 2 usage or configuration error, or a refused request (an unknown issue, a step the
issue's state does not allow), with nothing changed.
"""

from __future__ import annotations

import argparse
import os
import sys

from match_staging import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:  # everything else loads after argument parsing: --help stays fast
    from collections.abc import Callable, Mapping, Sequence
    from datetime import datetime
    from typing import Any, TypeVar

    from match_staging import config
    from match_staging.context import Context, Parts
    from match_staging.matches import Batch
    from match_staging.model import Match
    from match_staging.output import Output
    from match_staging.trackers.base import Tracker
    from match_staging.usecases.digest import DigestReport
    from match_staging.usecases.notify import NotifyReport
    from match_staging.usecases.review import StepResult
    from match_staging.usecases.stage import StageReport

    Handler = Callable[[argparse.Namespace, "Run"], int]
    T = TypeVar("T")

DEFAULT_CONFIG = "config/notification-channels.yml"
STATES = ("pending", "approved", "rejected", "sent")  # model.State, without importing it


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
            self.cfg,
            self.env,
            parts,
            clock=self.clock,
            sleep=self.sleep,
            out=self.out,
        )


def _short(match: Match) -> str:
    from match_staging.render import fmt_score

    return f"{fmt_score(match.score):>3}%  {match.title[:70]}"


def _actor(env: Mapping[str, str], tracker: Tracker) -> str:
    """Who runs a shell or manual-job step, for its audit note: in CI the token's user (the
    job's GITLAB_USER_LOGIN is not believed there: a pipeline variable outranks it);
    elsewhere GITLAB_USER_LOGIN when set, on the local tracker the git user (as in the
    user's commits), else the login name.
    """
    from match_staging.config import in_ci

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
    import subprocess

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


def _print_notify(out: Output, report: NotifyReport) -> None:
    for delivery, iids in report.delivered:
        out.result(f"notified  {delivery.channel:<9} {_iids(iids)}  {delivery.detail}")
    for delivery, iids in report.failed:
        again = (
            " (not repeated)"
            if delivery.maybe_delivered
            else " (retried by the next run)"
            if delivery.transient
            else ""
        )
        out.result(f"failed    {delivery.channel:<9} {_iids(iids)}  {delivery.detail}{again}")
    if report.deferred:
        until = f" until {report.deferred_until:%H:%M %Z}" if report.deferred_until else ""
        out.result(
            f"deferred  {_iids(report.deferred)}  quiet hours{until}: "
            "`match-staging digest` sends them then"
        )
    if report.earlier:
        out.result(f"announced {_iids(report.earlier)}  (owed by an earlier run)")
    if report.altered:
        out.result(
            f"announced {_iids(report.altered)}  without their text: somebody else changed "
            "the match record the tool wrote (see the issue's history)"
        )
    if report.dropped:
        out.result(f"dropped   {_iids(report.dropped)}  reviewed before they were announced")
    if report.gone:
        out.result(f"dropped   {_iids(report.gone)}  deleted before they were announced")
    for line in report.unrecorded:
        out.result(f"unrecorded {line}")


def _requests(tracker: Tracker) -> str:
    local = "" if tracker.sends else f" ({tracker.kind})"
    return f"{tracker.requests} GitLab requests{local}"


def _read_batch(args: argparse.Namespace, run: Run, cfg: config.Config) -> Batch:
    """The run's match documents, every secret value of `cfg` removed from their texts
    (said on standard error, field by field).
    """
    from match_staging.matches import read_batch, scrubbed_notice
    from match_staging.redaction import secrets_of

    batch = read_batch(args.paths, run.env, cfg.staging.inbox, secrets=secrets_of(cfg, run.env))
    for where in batch.scrubbed:
        run.out.notice(scrubbed_notice(where))
    return batch


def _iids(iids: Sequence[int]) -> str:
    return " ".join(f"#{i}" for i in iids)


def _step(out: Output, result: StepResult, suffix: str = "") -> int:
    """Print a step's line; 1 when it failed."""
    out.result(f"{result.outcome:<9} {result.message}{suffix}")
    return 1 if result.outcome == "failed" else 0


def _auto_send(ctx: Context, out: Output, result: StepResult, actor: str) -> int:
    """workflow.auto_send after a step (`send.after_review`), printed."""
    from match_staging.usecases.send import after_review

    sent = after_review(ctx, result, actor)
    return _step(out, sent) if sent is not None else 0


# --------------------------------------------------------------------------- commands


def cmd_stage(args: argparse.Namespace, run: Run) -> int:
    """Stage a batch; a line per match, the notifications, the summary."""
    from match_staging.context import Parts
    from match_staging.usecases.stage import stage

    ctx = run.context(Parts(channels=True))
    batch = _read_batch(args, run, ctx.cfg)
    report = stage(ctx, batch)
    _print_stage(run.out, ctx.cfg, report)
    if not batch.matches and not batch.errors:
        looked = ", ".join(args.paths) or next(
            (
                f"${name}"
                for name in (
                    "MATCHES_JSON_B64",
                    "TRIGGER_PAYLOAD",
                    "MATCHES_JSON",
                    "MATCHES_FILE",
                )  # the order matches.py reads them
                if run.env.get(name)
            ),
            f"{ctx.cfg.staging.inbox}/",
        )
        found = "no match documents" if not batch.sources else "no matches"
        run.out.notice(f"nothing to stage: {found} in {looked}")  # stdout: a line per result
    run.out.result(
        f"{len(report.staged)} staged, {len(report.existing)} already staged, "
        f"{len(report.repeated)} repeated, {len(report.below)} below threshold, "
        f"{len(report.rejected)} rejected, {len(report.failed)} failed · "
        f"{_requests(ctx.tracker)}"
    )
    return 0 if report.ok else 1


def _print_stage(out: Output, cfg: config.Config, report: StageReport) -> None:
    from match_staging.labels import state_of
    from match_staging.render import fmt_score

    for match, issue in report.staged:
        out.result(f"staged    #{issue.iid:<4} {_short(match)}  {issue.web_url}")
    for match, issue in report.existing:
        out.result(
            f"existing  #{issue.iid:<4} {_short(match)}  (already staged as "
            f"#{issue.iid}, {state_of(cfg.labels, issue.labels) or issue.state})"
        )
    for match, twin in report.repeated:
        out.result(f"repeated        {_short(match)}  (same match as {twin.source} {twin.label})")
    for match in report.below:
        out.result(f"below           {_short(match)}  (threshold {fmt_score(report.threshold)}%)")
    for error in report.rejected:
        out.result(f"rejected  {error}")
    for match, reason in report.failed:
        out.result(f"failed          {_short(match)}  {reason}")
    _print_notify(out, report.notify)


def cmd_digest(args: argparse.Namespace, run: Run) -> int:
    """The scheduled run: repairs (each approval auto-sent), deliveries, reminders."""
    from match_staging.context import Parts
    from match_staging.usecases.digest import digest
    from match_staging.usecases.review import missed_events_notice
    from match_staging.usecases.send import AUTO_SEND_ACTOR

    out = run.out
    ctx = run.context(Parts(channels=True, mailer=run.cfg.workflow.auto_send, gate=True))
    if args.new_run_log:
        _new_run_log(out, ctx.tracker)
    report = digest(ctx)
    code = 0
    for result in report.reconciled.results:
        _step(out, result, " (missed by the webhook)")
        code |= _auto_send(ctx, out, result, AUTO_SEND_ACTOR)
    for problem in report.reconciled.webhook_problems:
        out.result(
            f"webhook   {problem}; `match-staging bootstrap` with a Maintainer's token "
            "switches it back on"
        )
    for warning in report.warnings:
        out.result(f"warning   {warning}")
    for line in report.whatsapp.lines():
        out.result(line)
    for line in report.health.lines():
        out.result(line)
    if (missed := missed_events_notice(report.reconciled)) is not None:
        out.result(f"webhook   {missed}")
    if report.quiet_until is not None:
        out.result(f"quiet hours until {report.quiet_until:%Y-%m-%d %H:%M %Z}: nothing sent")
        return code if report.ok else 1
    if not ctx.channels:
        out.result("no notification channel is enabled: nothing to send")
    _print_digest(out, report)
    out.result(
        f"{len(report.deferred.delivered)} deferred message(s) sent, "
        f"{len(report.reminded)} reminded · {_requests(ctx.tracker)}"
    )
    return code if report.ok else 1


def _new_run_log(out: Output, tracker: Tracker) -> None:
    """`digest --new-run-log`: replace a run log that is lost or untrusted (RunLogLost)."""
    restart = getattr(tracker, "restart_log", None)
    started = restart() if restart is not None else None
    if started is None:
        out.result("run log   sound (or not started yet): nothing replaced")
        return
    new, retired = started
    out.result(
        f"run log   started #{new}, retired {_iids(retired) or 'none'}: what the old log "
        "owed is not announced; the review board lists every pending match"
    )


def _print_digest(out: Output, report: DigestReport) -> None:
    _print_notify(out, report.deferred)
    for channel, iids in report.stranded.items():
        out.result(
            f"maybe     {channel:<9} {_iids(iids)}  a run stopped while sending these: "
            "they may have arrived, so they are not sent again"
        )
    for delivery in report.reminder_deliveries:
        state = "reminded " if delivery.ok else "failed   "
        out.result(f"{state} {delivery.channel:<9} {delivery.detail}")
    if report.reminded:
        out.result(f"reminded  {_iids(report.reminded)}  (recorded in the run log)")
    for error in report.errors:
        out.result(f"error     {error}")


def cmd_transition(args: argparse.Namespace, run: Run) -> int:
    """Apply one webhook event; an approval it applies is auto-sent."""
    from match_staging.context import Parts
    from match_staging.errors import ConfigError
    from match_staging.limits import TooDeep, load_json
    from match_staging.usecases.review import StepResult, parse_event, transition
    from match_staging.usecases.send import AUTO_SEND_ACTOR

    path = args.payload or run.env.get("TRIGGER_PAYLOAD")
    if not path:
        raise ConfigError("no payload: pass --payload FILE or set TRIGGER_PAYLOAD")
    try:
        with open(path, "rb") as file:
            payload = load_json(file.read())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except TooDeep as exc:  # not ours, like any payload that is no webhook event: exit 0
        run.out.result(f"ignored   {path}: not a webhook payload: {exc}")
        return 0
    except ValueError:
        run.out.result(f"ignored   {path} is not JSON: not a webhook event")
        return 0
    # An event that is not ours ends here, before the wiring asks GitLab anything (the
    # label-id check lists labels); check_reviewers runs before the first change (in
    # is_reviewer), so such an event is ignored even before reviewers are configured
    if isinstance(event := parse_event(payload, run.cfg), str):
        return _step(run.out, StepResult("ignored", event), " · 0 GitLab requests")
    ctx = run.context(Parts(mailer=run.cfg.workflow.auto_send, gate=True))
    result = transition(ctx, payload)
    _step(run.out, result, f" · {_requests(ctx.tracker)}")
    return _auto_send(ctx, run.out, result, AUTO_SEND_ACTOR)


def cmd_review(args: argparse.Namespace, run: Run) -> int:
    """Approve or reject from the shell; an approval is auto-sent."""
    from match_staging.context import Parts
    from match_staging.model import State
    from match_staging.usecases.review import review

    target = State.APPROVED if args.approve else State.REJECTED
    ctx = run.context(
        Parts(mailer=target == State.APPROVED and run.cfg.workflow.auto_send, gate=True)
    )
    actor = _actor(run.env, ctx.tracker)
    result = _refusal(lambda: review(ctx, args.iid, target, actor, args.reason or ""))
    _step(run.out, result, f" · {_requests(ctx.tracker)}")
    return _auto_send(ctx, run.out, result, actor)


def cmd_send(args: argparse.Namespace, run: Run) -> int:
    """Send one approved application."""
    from match_staging.context import Parts
    from match_staging.usecases.send import send

    ctx = run.context(Parts(mailer=True, gate=True))
    actor = _actor(run.env, ctx.tracker)
    return _step(run.out, _refusal(lambda: send(ctx, args.iid, actor, force=args.force)))


def _refusal(step: Callable[[], T]) -> T:
    """Run a step that refuses with InputError before it changes anything (an unknown issue,
    a state that does not allow the step): a refusal, exit 2 (docs/interface.md), not partial.
    """
    from match_staging.errors import InputError, Refused

    try:
        return step()
    except InputError as exc:
        raise Refused(str(exc)) from None


def cmd_bootstrap(args: argparse.Namespace, run: Run) -> int:
    """Create what the project needs, idempotently."""
    from match_staging.usecases.bootstrap import run as bootstrap

    report = bootstrap(run.cfg, run.env, dry_run=args.dry_run)
    run.out.add_secrets(report.secrets)  # the webhook URL carries the trigger token
    for line in report.lines():
        run.out.result(line)
    run.out.result(report.summary())
    return 0 if report.ok else 1


def cmd_rotate_token(args: argparse.Namespace, run: Run) -> int:
    """Rotate the bot's token into GITLAB_TOKEN; neither token is ever printed."""
    from match_staging import clock
    from match_staging.usecases.rotate import run as rotate

    now = run.clock() if run.clock else clock.now(run.env)
    report = rotate(run.cfg, run.env, now, args.days, args.dry_run)
    run.out.add_secrets(report.secrets)
    for line in report.lines:
        run.out.result(line)
    return 0 if report.ok else 1


def cmd_preview(args: argparse.Namespace, run: Run) -> int:
    """Render issues and messages to outbox/preview/."""
    from match_staging.context import Parts
    from match_staging.usecases.preview import preview

    # like the tracker: every channel without GITLAB_TOKEN, the configured ones with it
    ctx = run.context(Parts(tracker=False, channels=True))
    cfg = ctx.cfg
    batch = _read_batch(args, run, cfg)
    project = cfg.gitlab.project if not cfg.gitlab.project.isdigit() else "project"
    project_url = f"{cfg.gitlab.url or 'https://gitlab.example.com'}/{project or 'project'}"
    report = preview(ctx, batch, project_url)
    for path in report.issues:
        run.out.result(f"issue     {path}")
    for delivery in report.messages:
        run.out.result(f"{delivery.channel:<9} {delivery.detail}")
    for error in [*batch.errors, *report.rejected]:
        run.out.result(f"rejected  {error}")
    run.out.result(
        f"{len(report.issues)} issue(s) and {len(report.messages)} message(s) "
        f"rendered to {report.folder}; nothing was created or sent"
    )
    return 1 if batch.errors or report.rejected else 0


def cmd_validate(args: argparse.Namespace, run: Run) -> int:
    """Check match files and their attachments; change nothing."""
    from pathlib import Path

    from match_staging import attachments
    from match_staging.errors import InputError
    from match_staging.render import fmt_score

    batch = _read_batch(args, run, run.cfg)
    errors: list[InputError] = list(batch.errors)
    valid = 0
    # (source, position, line): printed in the order of the files and the matches in them
    lines: list[tuple[str, int, str]] = []
    for match in batch.matches:
        _, problems = attachments.check(
            Path.cwd(),
            match.attachments,
            run.cfg.staging.max_attachment_bytes,
            source=match.source,
            match=match,
        )
        errors.extend(problems)
        if not problems:
            valid += 1
            lines.append(
                (
                    match.source,
                    match.position,
                    f"ok        {match.source}: {match.label}  {fmt_score(match.score)}%",
                )
            )
    lines += [(error.source, error.position, f"invalid   {error}") for error in errors]
    order = {source: rank for rank, source in enumerate(batch.sources)}
    for _, _, line in sorted(lines, key=lambda x: (order.get(x[0], len(order)), x[1])):
        run.out.result(line)
    run.out.result(
        f"{valid} valid match(es), {len(errors)} problem(s) in {len(batch.sources)} document(s)"
    )
    return 1 if errors else 0


def cmd_list(args: argparse.Namespace, run: Run) -> int:
    """A line per staged match."""
    from match_staging.context import Parts
    from match_staging.labels import state_label, state_of
    from match_staging.model import State
    from match_staging.render import parse_issue_title

    cfg = run.cfg
    ctx = run.context(Parts())
    labels = [cfg.labels.match]
    if args.state:
        labels.append(state_label(cfg.labels, State(args.state)))
    issues = ctx.tracker.list_issues(labels)
    if not issues:
        which = f"{args.state} " if args.state else ""
        hint = "" if args.state else ": `match-staging stage` stages the matches-inbox/ ones"
        run.out.notice(f"no {which}matches staged{hint}")  # stdout stays a line per match
    for issue in issues:
        state = state_of(cfg.labels, issue.labels)
        score, title = parse_issue_title(issue.title) or ("?", issue.title)
        run.out.result(f"#{issue.iid:<5} {(state or 'unknown'):<9} {score:>4}%  {title}")
    return 0


def cmd_config(args: argparse.Namespace, run: Run) -> int:
    """The effective configuration, secrets masked."""
    import yaml

    from match_staging import config

    cfg, out = run.cfg, run.out
    out.result(f"# effective configuration, from {cfg.source}; secrets masked")
    out.result(yaml.safe_dump(config.masked(cfg), sort_keys=False, allow_unicode=True).rstrip())
    email = cfg.notification.channels.email
    if email.sender_origin:
        out.result(
            f"# notification.channels.email.from is not set: {email.sender} is used, "
            f"{email.sender_origin}"
        )
    if cfg.staging.local_channels == "all":
        out.result(
            "# on the embedded local tracker (no GITLAB_TOKEN) every channel writes to "
            f"{cfg.staging.outbox}/, enabled or not (staging.local_channels: all)"
        )
    return 0


# --------------------------------------------------------------------------- parser

COMMANDS: dict[str, tuple[Handler, str, str]] = {
    "stage": (
        cmd_stage,
        "stage every new match at or above the threshold as a GitLab issue",
        "match-staging stage matches-inbox/2026-02-08T1430Z.json",
    ),
    "digest": (
        cmd_digest,
        "scheduled run: send deferred notifications and the reminder summary",
        "MATCH_STAGING_NOW=2026-02-09T07:05:00+01:00 match-staging digest",
    ),
    "preview": (
        cmd_preview,
        "render the issues and every notification to outbox/ without sending or creating anything",
        "match-staging preview matches-inbox/",
    ),
    "transition": (
        cmd_transition,
        "apply one issue-webhook event (a review on the board)",
        "match-staging transition --payload tests/fixtures/gitlab/issue_hook_example.json",
    ),
    "review": (
        cmd_review,
        "approve or reject a pending match from the shell",
        "match-staging stage && match-staging review 2 --reject --reason 'Rate too low'",
    ),
    "send": (
        cmd_send,
        "submit an approved application by email, then mark it sent",
        "match-staging stage && match-staging review 1 --approve && match-staging send 1",
    ),
    "bootstrap": (
        cmd_bootstrap,
        "idempotently create labels, the review board, the pipeline "
        "trigger, the issue webhook and the digest schedule",
        "match-staging bootstrap --dry-run",
    ),
    "rotate-token": (
        cmd_rotate_token,
        "replace the bot's token with a new one and write it into the CI/CD variable GITLAB_TOKEN",
        "match-staging rotate-token --dry-run",
    ),
    "validate": (
        cmd_validate,
        "check match files against the schema; no side effects",
        "match-staging validate matches-inbox/",
    ),
    "list": (
        cmd_list,
        "staged matches, a line each: #IID  STATE  SCORE%  TITLE",
        "match-staging list --state pending",
    ),
    "config": (
        cmd_config,
        "print the effective configuration, secrets masked",
        "MATCH_STAGING__NOTIFICATION__PREFERENCES__THRESHOLD=80 match-staging config",
    ),
}


class _Subcommands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Builds a subcommand's parser only when that command is used: creating all of them
    costs more than the rest of `match-staging --help` (benchmarks/README.md).
    """

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        name = values[0] if values else None
        if name in COMMANDS and self._name_parser_map[name] is None:
            self._name_parser_map[name] = subcommand_parser(name, prog=self._prog_prefix)
        super().__call__(parser, namespace, values, option_string)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser; a subcommand's own parser is built only when it is used."""
    parser = argparse.ArgumentParser(
        prog="match-staging",
        description="A review gate for job-match drafts that lives inside GitLab.",
        epilog="Without GITLAB_TOKEN (outside CI) every command runs on the embedded local "
        "tracker under .match-staging/.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", action=_Subcommands
    )
    for name, (_, summary, _) in COMMANDS.items():
        # argparse %-formats help strings: a literal % must be doubled
        sub._choices_actions.append(sub._ChoicesPseudoAction(name, (), summary.replace("%", "%%")))
        sub._name_parser_map[name] = None  # type: ignore[assignment]  # built when used
    return parser


def subcommand_parser(name: str, prog: str = "match-staging") -> argparse.ArgumentParser:
    """The parser of one subcommand, with its example in the epilog."""
    handler, summary, example = COMMANDS[name]
    needs = (
        "\nIt needs a GitLab project: GITLAB_URL, GITLAB_TOKEN (Maintainer, api scope) and "
        "GITLAB_PROJECT."
        if name in ("bootstrap", "rotate-token")
        else ""
    )
    cmd = argparse.ArgumentParser(
        prog=f"{prog} {name}",
        description=summary + needs,
        epilog=f"Example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument(
        "--config",
        metavar="FILE",
        help=f"configuration file (default: $MATCH_STAGING_CONFIG, else {DEFAULT_CONFIG})",
    )
    if name in ("stage", "validate", "preview"):
        cmd.add_argument(
            "paths",
            nargs="*",
            metavar="PATH",
            help="match files or folders (default: $MATCHES_JSON, "
            "$MATCHES_FILE, $TRIGGER_PAYLOAD, else matches-inbox/)",
        )
    if name == "list":
        cmd.add_argument("--state", choices=STATES)
    if name == "transition":
        cmd.add_argument(
            "--payload", metavar="FILE", help="the webhook payload (default: $TRIGGER_PAYLOAD)"
        )
    if name in ("review", "send"):
        cmd.add_argument("iid", type=int, metavar="IID", help="the issue's number")
    if name == "review":
        verdict = cmd.add_mutually_exclusive_group(required=True)
        verdict.add_argument(
            "--approve", action="store_true", help="pending -> approved: ready for `send IID`"
        )
        verdict.add_argument(
            "--reject",
            action="store_true",
            help="pending -> rejected: closed (workflow.close_rejected)",
        )
        cmd.add_argument("--reason", metavar="TEXT", help="noted on the issue with the step")
    if name in ("bootstrap", "rotate-token"):
        cmd.add_argument(
            "--dry-run", action="store_true", help="print what a real run would do; change nothing"
        )
    if name == "rotate-token":
        cmd.add_argument(
            "--days",
            type=int,
            default=365,
            metavar="N",
            help="the new token expires N days from today (at most 365, the default)",
        )
    if name == "digest":
        cmd.add_argument(
            "--new-run-log",
            action="store_true",
            help="replace a run log that was moved, edited or deleted (the error says so); "
            "what it owed is not announced",
        )
    if name == "send":
        cmd.add_argument(
            "--force", action="store_true", help="send although an earlier send may have gone out"
        )
    cmd.set_defaults(handler=handler)
    return cmd


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
        handler: Handler = args.handler
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

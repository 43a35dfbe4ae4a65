"""The command line's arguments: each command's summary, example and options. Only what
`match-staging --help` needs loads here; a subcommand's parser is built when it is used.
"""

from __future__ import annotations

import argparse
import functools
from typing import TYPE_CHECKING, Any

from match_staging import __version__

if TYPE_CHECKING:
    from collections.abc import Mapping

    from match_staging.config import Config
    from match_staging.matches import Batch
    from match_staging.output import Output

DEFAULT_CONFIG = "config/notification-channels.yml"

# name: (the handler in match_staging.cli, the summary, an example)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "stage": (
        "cmd_stage",
        "stage every new match at or above the threshold as a GitLab issue",
        "match-staging stage matches-inbox/2026-02-08T1430Z.json",
    ),
    "digest": (
        "cmd_digest",
        "scheduled run: send deferred notifications and the reminder summary",
        "MATCH_STAGING_NOW=2026-02-09T07:05:00+01:00 match-staging digest",
    ),
    "preview": (
        "cmd_preview",
        "render the issues and every notification to outbox/ without sending or creating anything",
        "match-staging preview matches-inbox/",
    ),
    "transition": (
        "cmd_transition",
        "apply one issue-webhook event (a review on the board)",
        "match-staging transition --payload tests/fixtures/gitlab/issue_hook_example.json",
    ),
    "review": (
        "cmd_review",
        "approve or reject a pending match, or make any other reviewer's move, from the shell",
        "match-staging stage && match-staging review 2 --reject --reason 'Rate too low'",
    ),
    "send": (
        "cmd_send",
        "submit an approved application by email, then mark it sent",
        "match-staging stage && match-staging review 1 --approve && match-staging send 1",
    ),
    "bootstrap": (
        "cmd_bootstrap",
        "idempotently create labels, the review board, the pipeline "
        "trigger, the issue webhook and the digest schedule",
        "match-staging bootstrap --dry-run",
    ),
    "rotate-token": (
        "cmd_rotate_token",
        "replace the bot's token with a new one and write it into the CI/CD variable GITLAB_TOKEN",
        "match-staging rotate-token --dry-run",
    ),
    "validate": (
        "cmd_validate",
        "check match files against the schema; no side effects",
        "match-staging validate matches-inbox/",
    ),
    "list": (
        "cmd_list",
        "staged matches, a line each: #IID  STATE  SCORE%  TITLE",
        "match-staging list --state pending",
    ),
    "notify": (
        "cmd_notify",
        "send one message (a CI failure, a billing alert) through the configured channels, "
        "once per key",
        "match-staging notify --title 'Nightly build failed' --link \"$CI_PIPELINE_URL\" "
        '--level warning --key "build-$CI_PIPELINE_ID"',
    ),
    "init": (
        "cmd_init",
        "set up your own repository for the review gate: the pipeline (the CI/CD component), "
        "matches-inbox/ and the configuration; never overwrites a file",
        "match-staging init --dry-run",
    ),
    "stats": (
        "cmd_stats",
        "decisions per score band, review times, rejection reasons and a suggested threshold",
        "match-staging stats --since 2026-01-01 --format json > stats.json",
    ),
    "config": (
        "cmd_config",
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


@functools.cache
def build_parser() -> argparse.ArgumentParser:
    """The top-level parser; a subcommand's own parser is built only when it is used. One
    per process: parsing leaves a parser as it was, and `main` called again (a library
    user, the tests' 1,100 runs) would build the same one again, argparse's gettext
    lookups included.
    """
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
    _, summary, example = COMMANDS[name]
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
        from match_staging.model import State

        cmd.add_argument("--state", choices=[state.value for state in State])
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
        verdict.add_argument(
            "--to",
            choices=["pending", "sent", "interview", "offer", "declined"],
            help="any other move a reviewer makes on the board: pending revives an expired "
            "match, sent after applying on a portal, interview, offer or declined record "
            "what came of a sent application",
        )
        cmd.add_argument("--reason", metavar="TEXT", help="noted on the issue with the step")
    if name in ("bootstrap", "rotate-token", "init"):
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
    _EXTRA_ARGUMENTS.get(name, _no_arguments)(cmd)
    if name == "send":
        cmd.add_argument(
            "--force", action="store_true", help="send although an earlier send may have gone out"
        )
    return cmd


def _notify_arguments(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--title", required=True, metavar="TEXT", help="the message's title")
    body = cmd.add_mutually_exclusive_group()
    body.add_argument("--body", metavar="TEXT", help="the message's text")
    body.add_argument(
        "--body-file", metavar="FILE", help="the message's text from a file (UTF-8; - for stdin)"
    )
    cmd.add_argument("--link", metavar="URL", default="", help="an http(s) link to the details")
    cmd.add_argument(
        "--key",
        metavar="KEY",
        help="sent once per key (default: derived from title, body and link)",
    )
    cmd.add_argument(
        "--level",
        choices=["info", "warning", "critical"],
        default="info",
        help="critical goes out in quiet hours too; the others wait for `digest`",
    )
    cmd.add_argument(
        "--channel",
        action="append",
        default=[],
        metavar="NAME",
        help="only this channel (repeatable; default: every enabled one)",
    )


def _init_arguments(cmd: argparse.ArgumentParser) -> None:
    from match_staging.usecases.init import DEFAULT_COMPONENT_PROJECT

    cmd.add_argument(
        "--component-project",
        metavar="PATH",
        default=DEFAULT_COMPONENT_PROJECT,
        help="where the component is published: HOST/GROUP/PROJECT (default: %(default)s)",
    )


def _no_arguments(cmd: argparse.ArgumentParser) -> None:
    """A command without arguments of its own beyond those above."""


def _stats_arguments(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "--since", metavar="DATE", help="only matches staged from DATE on (YYYY-MM-DD)"
    )
    cmd.add_argument(
        "--band",
        type=int,
        default=5,
        choices=(1, 2, 4, 5, 10, 20, 25, 50),  # stats.BAND_WIDTHS: they divide 100
        metavar="POINTS",
        help="band width in score points, a divisor of 100 (default: 5)",
    )
    cmd.add_argument("--format", choices=["text", "json", "csv"], default="text")
    cmd.add_argument(
        "--chart", metavar="FILE", help="also write the band chart as PNG (extra `charts`)"
    )


_EXTRA_ARGUMENTS = {
    "notify": _notify_arguments,
    "init": _init_arguments,
    "stats": _stats_arguments,
}


def read_batch(args: argparse.Namespace, env: Mapping[str, str], out: Output, cfg: Config) -> Batch:
    """The match documents the arguments name, secrets removed (said on standard error,
    field by field).
    """
    from match_staging.matches import read_batch as read
    from match_staging.matches import scrubbed_notice
    from match_staging.redaction import secrets_of

    batch = read(args.paths, env, cfg.staging.inbox, secrets=secrets_of(cfg, env))
    for where in batch.scrubbed:
        out.notice(scrubbed_notice(where))
    return batch


def notify_request(args: argparse.Namespace) -> tuple[Any, str, list[str]]:
    """`notify`'s message, key and channels from its arguments; a body file that cannot be
    read is a usage error (exit 2) before anything is built.
    """
    import sys

    from match_staging.errors import ConfigError
    from match_staging.usecases.message import checked_key, derived_key, message

    body = args.body or ""
    if args.body_file:
        try:
            if args.body_file == "-":
                body = sys.stdin.read()
            else:
                with open(args.body_file, encoding="utf-8") as file:
                    body = file.read()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise ConfigError(f"notify: --body-file {args.body_file}: {reason}") from None
    msg = message(args.title, body, args.link, args.level)
    if args.key is None:
        return msg, derived_key(msg.title, msg.body, msg.link), list(args.channel)
    key = checked_key(args.key)
    return msg, key, list(args.channel)

"""`match-staging stats`: the handler and the lines it prints (text, JSON or CSV). Its own
module beside cli_lines, so cli.py stays the dispatcher; loads nothing until it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterable, Iterator
    from datetime import datetime

    from match_staging.config import Config
    from match_staging.context import Context, Parts
    from match_staging.output import Output
    from match_staging.stats import Report


class _Run(Protocol):
    """What the handler uses of `cli.Run` (the CLI above this module)."""

    cfg: Config
    out: Output

    def context(self, parts: Parts) -> Context: ...

    def print(self, lines: Iterable[str]) -> None: ...


def cmd_stats(args: argparse.Namespace, run: _Run) -> int:
    """The decisions per score band, the review times, the reasons and a suggestion."""
    import json

    from match_staging import cli_lines, stats
    from match_staging.context import Parts
    from match_staging.usecases.stats import report

    since = _since(args.since, run.cfg) if args.since else None
    ctx = run.context(Parts())
    found = report(ctx, since=since, band=args.band)
    if args.chart:
        _chart(found, args.chart, run.out)
    if args.format == "json":
        run.out.result(json.dumps(stats.to_json(found), ensure_ascii=False, indent=2))
    elif args.format == "csv":
        run.print(stats.to_csv(found).splitlines())
    else:
        run.print(text(found))
        run.out.result(f"stats     {found.staged} matches · {cli_lines.requests(ctx.tracker)}")
    return 0


def _since(value: str, cfg: Config) -> datetime:
    """`--since DATE`: midnight of that day in the configured time zone."""
    from datetime import date, datetime, time
    from zoneinfo import ZoneInfo

    from match_staging.errors import ConfigError

    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"stats: --since {value!r}: not a date (YYYY-MM-DD)") from None
    return datetime.combine(day, time(), ZoneInfo(cfg.timezone))


def _chart(found: Report, path: str, out: Output) -> None:
    """The band chart as a PNG; without the extra `charts` (Pillow) a notice, no file."""
    from match_staging.errors import ConfigError

    try:
        from match_staging.chart import png
    except ImportError:
        out.notice(
            "stats: no chart: it needs the extra `charts` (pip install 'match-staging[charts]')"
        )
        return
    try:
        with open(path, "wb") as file:
            file.write(png(found))
    except OSError as exc:
        raise ConfigError(f"stats: --chart {path}: {exc.strerror or exc}") from None


def text(found: Report) -> Iterator[str]:
    """The report for people: the band table with bars, review times, reasons, requirement
    means, the suggestion with its evidence.
    """
    from match_staging import stats

    rows = stats.text_rows(found)
    if not rows:
        yield "no matches staged in the window"
    else:
        yield f"{'band':<7} {'staged':>6} {'pending':>7} {'approved':>8} {'rejected':>8}  rate"
    for row in rows:
        yield (
            f"{row.band:<7} {row.staged:>6} {row.pending:>7} {row.approved:>8} "
            f"{row.rejected:>8}  {row.rate:<12} {row.bar}"
        )
    median, p90 = found.median_hours, found.p90_hours
    if median is not None and p90 is not None:
        yield f"time to review: median {median:.1f} h, 90th percentile {p90:.1f} h"
    if found.reasons:
        yield "rejection reasons: " + ", ".join(f"{r!r} {n}" for r, n in found.reasons)
    for req in found.requirements:
        yield (
            f"requirement {req.requirement!r}: approved {_mean(req.approved_mean)}, "
            f"rejected {_mean(req.rejected_mean)} (n={req.n})"
        )
    if found.skipped:
        yield "left out (record not the bot's): " + " ".join(f"#{i}" for i in found.skipped)
    yield stats.evidence(found)


def _mean(value: Any) -> str:
    return "–" if value is None else f"{value:.1f}"

"""The job log's lines for the reports that take more than a loop to print: what staging,
notifying and the scheduled run did. One result a line, in the order the CLI prints them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from match_staging.labels import state_of
from match_staging.render import fmt_score

TYPE_CHECKING = False
if TYPE_CHECKING:  # the reports' types only: a command loads the one use case it runs
    from match_staging.config import Config
    from match_staging.matches import Batch
    from match_staging.model import Match
    from match_staging.trackers.base import Tracker
    from match_staging.usecases.digest import DigestReport
    from match_staging.usecases.gate import StepResult
    from match_staging.usecases.message import MessageReport
    from match_staging.usecases.notify import NotifyReport
    from match_staging.usecases.preview import PreviewReport
    from match_staging.usecases.stage import StageReport


def iids(numbers: Sequence[int]) -> str:
    """`#1 #2`."""
    return " ".join(f"#{i}" for i in numbers)


def requests(tracker: Tracker, count: int | None = None) -> str:
    """How many GitLab requests the run made (`count`: up to a step), the local tracker
    named.
    """
    local = "" if tracker.sends else f" ({tracker.kind})"
    return f"{tracker.requests if count is None else count} GitLab requests{local}"


def step(result: StepResult, suffix: str = "") -> str:
    """A review or send step's line."""
    return f"{result.outcome:<9} {result.message}{suffix}"


def short(match: Match) -> str:
    """A match's score and title, for its line."""
    return f"{fmt_score(match.score):>3}%  {match.title[:70]}"


def notify(report: NotifyReport) -> Iterator[str]:
    """What a notification cycle delivered, failed, deferred or dropped."""
    for delivery, numbers in report.delivered:
        yield f"notified  {delivery.channel:<9} {iids(numbers)}  {delivery.detail}"
    for delivery, numbers in report.failed:
        again = (
            " (not repeated)"
            if delivery.maybe_delivered
            else " (retried by the next run)"
            if delivery.transient
            else ""
        )
        yield f"failed    {delivery.channel:<9} {iids(numbers)}  {delivery.detail}{again}"
    if report.deferred:
        until = f" until {report.deferred_until:%H:%M %Z}" if report.deferred_until else ""
        yield (
            f"deferred  {iids(report.deferred)}  quiet hours{until}: "
            "`match-staging digest` sends them then"
        )
    if report.earlier:
        yield f"announced {iids(report.earlier)}  (owed by an earlier run)"
    if report.altered:
        yield (
            f"announced {iids(report.altered)}  without their text: somebody else changed "
            "the match record the tool wrote (see the issue's history)"
        )
    for numbers, before in (
        (report.dropped, "reviewed"),
        (report.expired, "expired"),
        (report.gone, "deleted"),
    ):
        if numbers:
            yield f"dropped   {iids(numbers)}  {before} before they were announced"
    if report.held:
        yield (
            f"held      {iids(report.held)}  due to expire: not announced; the next digest "
            "expires " + ("it" if len(report.held) == 1 else "them")
        )
    for line in report.unrecorded:
        yield f"unrecorded {line}"


def stage(cfg: Config, report: StageReport) -> Iterator[str]:
    """A line per match staged, found staged, repeated, below, rejected or failed; then
    the notifications.
    """
    for match, issue in report.staged:
        yield f"staged    #{issue.iid:<4} {short(match)}  {issue.web_url}"
    for match, issue in report.existing:
        yield (
            f"existing  #{issue.iid:<4} {short(match)}  (already staged as "
            f"#{issue.iid}, {state_of(cfg.labels, issue.labels) or issue.state})"
        )
    for match, twin in report.repeated:
        yield f"repeated        {short(match)}  (same match as {twin.source} {twin.label})"
    for match in report.below:
        yield f"below           {short(match)}  (threshold {fmt_score(report.threshold)}%)"
    for error in report.rejected:
        yield f"rejected  {error}"
    for match, reason in report.failed:
        yield f"failed          {short(match)}  {reason}"
    yield from notify(report.notify)


def nothing_staged(batch: Batch, paths: Sequence[str], env: Mapping[str, str], cfg: Config) -> str:
    """Why a staging run staged nothing: no documents, or none with a match, and where it
    looked.
    """
    from match_staging.matches import where_looked  # stage's alone, which loaded it

    found = "no match documents" if not batch.sources else "no matches"
    return f"nothing to stage: {found} in {where_looked(paths, env, cfg.staging.inbox)}"


def stage_summary(report: StageReport, tracker: Tracker) -> str:
    """The last line of a staging run."""
    return (
        f"{len(report.staged)} staged, {len(report.existing)} already staged, "
        f"{len(report.repeated)} repeated, {len(report.below)} below threshold, "
        f"{len(report.rejected)} rejected, {len(report.failed)} failed · "
        f"{requests(tracker)}"
    )


def digest_repairs(report: DigestReport) -> Iterator[str]:
    """The repairs of the scheduled run, each with its auto-send, and its warnings; up to
    the repair whose auto-send refused, when one did (the CLI raises that refusal next).
    """
    reconciled = report.reconciled
    for result in reconciled.results:
        yield step(result, " (missed by the webhook)")
        if result.iid is not None and result.iid in reconciled.sent:
            yield step(reconciled.sent[result.iid])
        if reconciled.refused is not None and reconciled.refused[0] == result.iid:
            return
    for problem in reconciled.webhook_problems:
        yield (
            f"webhook   {problem}; `match-staging bootstrap` with a Maintainer's token "
            "switches it back on"
        )
    # after the gate (issue 23): the clock's moves, and why there are none
    yield from (step(result) for result in report.lifecycle.results)
    if report.lifecycle.notice:
        yield f"bootstrap {report.lifecycle.notice}"


def new_run_log(started: tuple[int, Sequence[int]] | None) -> str:
    """What `digest --new-run-log` did: the new log and the retired ones, or nothing."""
    if started is None:
        return "run log   sound (or not started yet): nothing replaced"
    new, retired = started
    return (
        f"run log   started #{new}, retired {iids(retired) or 'none'}: what the old log "
        "owed is not announced; the review board lists every pending match"
    )


def digest(report: DigestReport, channels: bool, tracker: Tracker) -> Iterator[str]:
    """After the repairs: warnings, the checks, then (outside quiet hours) what the
    scheduled run sent, found stranded and reminded of, and the summary.
    """
    from match_staging.usecases.gate import missed_events_notice  # digest's alone

    yield from (f"warning   {warning}" for warning in report.warnings)
    yield from report.whatsapp.lines()
    yield from report.health.lines()
    if (missed := missed_events_notice(report.reconciled)) is not None:
        yield f"webhook   {missed}"
    if report.quiet_until is not None:
        yield f"quiet hours until {report.quiet_until:%Y-%m-%d %H:%M %Z}: nothing sent"
        return
    if not channels:
        yield "no notification channel is enabled: nothing to send"
    yield from notify(report.deferred)
    for channel, numbers in report.stranded.items():
        yield (
            f"maybe     {channel:<9} {iids(numbers)}  a run stopped while sending these: "
            "they may have arrived, so they are not sent again"
        )
    yield from messages(report.messages)
    yield from messages(report.stats) if report.stats else ()  # the weekly stats section
    for delivery in report.reminder_deliveries:
        state = "reminded " if delivery.ok else "failed   "
        yield f"{state} {delivery.channel:<9} {delivery.detail}"
    if report.reminded:
        yield f"reminded  {iids(report.reminded)}  (recorded in the run log)"
    for delivery in report.lifecycle.deliveries:
        state = "follow-up" if delivery.ok else "failed   "
        yield f"{state} {delivery.channel:<9} {delivery.detail}"
    if report.lifecycle.followed_up:
        yield (
            f"follow-up {iids(report.lifecycle.followed_up)}  sent applications without an "
            "answer (recorded in the run log)"
        )
    for error in report.errors:
        yield f"error     {error}"
    yield (
        f"{len(report.deferred.delivered)} deferred message(s) sent, "
        f"{len(report.reminded)} reminded · {requests(tracker)}"
    )


def messages(report: MessageReport) -> Iterator[str]:
    """What became of `notify` messages: sent, failed, deferred, or sent before."""
    key = f"key {report.key}: " if report.key else ""
    for stranded, names in report.stranded.items():
        yield (
            f"maybe     {', '.join(names)}  key {stranded}: a run stopped while sending it: "
            "it may have arrived, so it is not sent again"
        )
    if report.before:
        yield f"sent before  {key}nothing is sent again"
    if report.deferred:
        until = f" until {report.deferred_until:%Y-%m-%d %H:%M %Z}" if report.deferred_until else ""
        yield (
            f"deferred  {', '.join(report.deferred)}  {key}quiet hours{until}: the first "
            "`digest` after them sends it"
        )
    for delivery in report.delivered:
        yield f"sent      {delivery.channel:<9} {key}{delivery.detail}"
    for delivery in report.failed:
        retried = "" if delivery.maybe_delivered else " (sent by the next notify or digest)"
        yield f"failed    {delivery.channel:<9} {key}{delivery.detail}{retried}"
    yield from (f"error     {problem}" for problem in report.unrecorded)


def preview(batch: Batch, report: PreviewReport) -> Iterator[str]:
    """What `preview` rendered, what it rejected, and where it wrote them."""
    yield from (f"issue     {path}" for path in report.issues)
    yield from (f"{delivery.channel:<9} {delivery.detail}" for delivery in report.messages)
    yield from (f"rejected  {error}" for error in [*batch.errors, *report.rejected])
    yield (
        f"{len(report.issues)} issue(s) and {len(report.messages)} message(s) "
        f"rendered to {report.folder}; nothing was created or sent"
    )


def config(cfg: Config) -> Iterator[str]:
    """The effective configuration, secrets masked, with what was chosen for the user."""
    import yaml

    from match_staging.config import masked

    yield f"# effective configuration, from {cfg.source}; secrets masked"
    yield yaml.safe_dump(masked(cfg), sort_keys=False, allow_unicode=True).rstrip()
    email = cfg.notification.channels.email
    if email.sender_origin:
        yield (
            f"# notification.channels.email.from is not set: {email.sender} is used, "
            f"{email.sender_origin}"
        )
    if cfg.staging.local_channels == "all":
        yield (
            "# on the embedded local tracker (no GITLAB_TOKEN) every channel writes to "
            f"{cfg.staging.outbox}/, enabled or not (staging.local_channels: all)"
        )

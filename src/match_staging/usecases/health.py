"""Running unattended: the bot's token and the issue webhook, checked by every `digest`.

GitLab caps a personal access token at a year and then answers every request with 401; it
switches a webhook off after failed deliveries (docs/platform-facts.md). Either stops the
gate without a word. So `digest` reads the token's expiry (`GET /personal_access_tokens/self`)
and this project's trigger webhooks (`GET /projects/:id/hooks`, the read reconcile shares)
once per run, says what it found in the job log, and tells the freelancer on the enabled
channels, at most once a week per problem: a run-log record (kind `alerts`, as reminders are
recorded), never a note on an issue. In the token's last week the run exits 1, so the
scheduled pipeline turns red; a switched-off webhook does that already (`ReconcileReport`).
During quiet hours the alert waits for the first digest after them; the job log and the exit
code say it at once. On the local tracker there is no token and no webhook: nothing to check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from match_staging import notices, render
from match_staging.channels.base import Delivery
from match_staging.context import Context
from match_staging.errors import TrackerError
from match_staging.trackers.base import TokenInfo, Tracker, WebhookState

ALERT_KIND = "alerts"
WARN_DAYS = 30  # from this many days before the token expires, the freelancer is told
URGENT_DAYS = 7  # ... and in the last ones the run fails
ALERT_AT_MOST_EVERY = timedelta(days=7)


@dataclass
class HealthReport:
    """The token's expiry, the switched-off webhooks, and what the freelancer was told."""

    token: TokenInfo | None = None  # None: no token (the local tracker)
    days_left: int | None = None  # until the token expires (GitLab refuses it that day)
    webhooks: list[WebhookState] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    told: list[str] = field(default_factory=list)  # problems told on the channels now
    errors: list[str] = field(default_factory=list)

    @property
    def expiring(self) -> bool:
        """The token expires within WARN_DAYS."""
        return self.days_left is not None and self.days_left <= WARN_DAYS

    @property
    def urgent(self) -> bool:
        """The token's last week: the run fails, so the scheduled pipeline turns red."""
        return self.days_left is not None and self.days_left <= URGENT_DAYS

    @property
    def ok(self) -> bool:
        """Not in the token's last week, and every alert went out and was recorded."""
        return not self.urgent and not self.errors and all(d.ok for d in self.deliveries)

    def lines(self) -> list[str]:
        """What the job log says, one line each."""
        out = []
        token = self.token
        if token is not None and not token.known:
            out.append(
                "token     GitLab does not say when GITLAB_TOKEN expires "
                f"(GET /personal_access_tokens/self answered {token.answer}: a GitLab before "
                "15.5, or not a personal access token): check its date under the token "
                "user's User settings > Access tokens"
            )
        if token is not None and token.expires_at and self.expiring:
            last = "; in its last week every digest fails until it is replaced" * self.urgent
            out.append(
                f"token     GITLAB_TOKEN expires on {token.expires_at.isoformat()} (in "
                f"{self.days_left} day{'' if self.days_left == 1 else 's'}){last}: create a "
                "new one as the token's user (User settings > Access tokens) and put it into "
                "Settings > CI/CD > Variables > GITLAB_TOKEN, or run `match-staging "
                'rotate-token` (a Maintainer bot): README, "Running unattended"'
            )
        for d in self.deliveries:
            out.append(f"{'alerted' if d.ok else 'failed':<9} {d.channel:<9} {d.detail}")
        if self.told:
            out.append(
                f"alerted   {', '.join(self.told)} (recorded in the run log: "
                "told again in a week at the earliest)"
            )
        out += [f"error     {e}" for e in self.errors]
        return out


def check(ctx: Context) -> HealthReport:
    """Read the token's expiry and the switched-off webhooks (one request each). GitLab
    failing to answer the first is said and the run goes on to its real work (exit 1).
    """
    tracker = ctx.tracker
    report = HealthReport()
    try:
        report.token = tracker.token_info()
    except TrackerError as exc:  # a refused token is a TokenError: that one stops the run
        report.errors.append(f"{exc}: the token's expiry is checked again by the next digest")
    if report.token is not None and report.token.expires_at is not None:
        today = ctx.clock().astimezone(UTC).date()  # GitLab compares in UTC (Expirable)
        report.days_left = (report.token.expires_at - today).days
    report.webhooks = tracker.disabled_webhooks() or []
    return report


def alert(ctx: Context, report: HealthReport) -> None:
    """Tell the freelancer on every enabled channel what needs doing, each problem at most
    once a week; recorded after it went out on one channel at least (a record that fails
    to be written may let the alert repeat once, and says so).
    """
    problems = _problems(report)
    if not problems or not ctx.channels:
        return
    now = ctx.clock()
    try:
        recent = _told_since(ctx.tracker, now - ALERT_AT_MOST_EVERY)
    except TrackerError as exc:
        report.errors.append(f"the run log could not be read ({exc}): no alert sent")
        return
    due = [key for key in problems if key not in recent]
    if not due:
        return
    payload = _payload(ctx, report, due, now)
    report.deliveries = [channel.send(payload) for channel in ctx.channels]
    sent_on = sorted({d.channel for d in report.deliveries if d.ok})
    if not sent_on:
        return  # nothing went out: the next run tries again
    try:
        ctx.tracker.append_log(ALERT_KIND, {"problems": due, "channels": sent_on})
        report.told = due
    except TrackerError as exc:
        report.errors.append(f"alert sent but not recorded ({exc}): the next run may send it again")


def _problems(report: HealthReport) -> list[str]:
    """A key per problem: the same problem is told once a week, a new one at once (a new
    token's date, another webhook or status). No key holds a secret: URLs lack the query.
    """
    keys = []
    if report.token is not None and report.token.expires_at and report.expiring:
        keys.append(f"token-expires:{report.token.expires_at.isoformat()}")
    keys += [f"webhook:{w.alert_status}:{w.url}" for w in report.webhooks]
    return keys


def _told_since(tracker: Tracker, since: datetime) -> set[str]:
    """Problems an alert told of after `since` (a week of records fits on one page)."""
    told: set[str] = set()
    for record in tracker.read_log(ALERT_KIND, limit=100, since=since):
        if record.created_at < since:
            break
        problems = record.data.get("problems")
        if isinstance(problems, list):
            told.update(p for p in problems if isinstance(p, str))
    return told


def _payload(ctx: Context, report: HealthReport, due: list[str], now: datetime) -> notices.Payload:
    """The alert of the problems `due`, with the settings pages to fix them."""
    cfg = ctx.cfg
    base = cfg.gitlab.url.rstrip("/")
    project = cfg.gitlab.project
    project_url = f"{base}/projects/{project}" if project.isdigit() else f"{base}/{project}"
    token = report.token
    expires = token.expires_at if token is not None else None
    tell_token = expires is not None and f"token-expires:{expires.isoformat()}" in due
    hooks = tuple(
        notices.WebhookAlert(w.url, w.alert_status, w.disabled_until)
        for w in report.webhooks
        if f"webhook:{w.alert_status}:{w.url}" in due
    )
    item = notices.Alert(
        token_expires=expires if tell_token else None,
        days_left=report.days_left if tell_token else None,
        webhooks=hooks,
        tokens_url=f"{base}/-/user_settings/personal_access_tokens" if base else "",
        variables_url=f"{project_url}/-/settings/ci_cd" if base and project else "",
        hooks_url=f"{project_url}/-/hooks" if base and project else "",
    )
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = notices.alert_payload(item, f"alert-{stamp}", "")
    line = render.render(
        "alert_summary.txt.j2", cfg.staging.templates_dir, target="text", payload=payload
    )
    return notices.alert_payload(item, f"alert-{stamp}", " ".join(line.split()))

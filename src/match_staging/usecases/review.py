"""The review gate: apply a reviewer's change of state label, or revert it, with an audit
note. Driven by the issue webhook (`transition`), by `review` from the shell, and by the
scheduled `digest`, which repairs what a lost webhook event never delivered.

The payload only says which issue to look at (issue 10): who moved the card comes from the
issue's label events, the audited state from the notes the bot wrote. A handled event costs
the token's user (once per run), the issue, its notes, its label events, at most one update
(only when labels need tidying or the issue must close or reopen) and one note. A replayed
event costs the reads of the user, the issue and its notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from match_staging import identity, record, render, workflow
from match_staging.config import Config
from match_staging.context import Context
from match_staging.errors import ConfigError, InputError
from match_staging.labels import states_in
from match_staging.model import IssueRef, State, StateEvent
from match_staging.trackers import ledger

# what a review step or a send did: the first word of its line in the job log
Outcome = Literal["applied", "reverted", "unchanged", "ignored", "sent", "portal", "failed"]


@dataclass(frozen=True)
class Event:
    """The part of an Issue Hook payload the gate uses: which issue to look at. Nothing
    else in a payload is believed (anyone with the trigger token can post one).
    """

    iid: int


@dataclass(frozen=True)
class StepResult:
    """What one step on one issue did (a review, a repair, a send), in one line."""

    outcome: Outcome
    message: str
    iid: int | None = None
    after: State | None = None  # the state the issue is in afterwards, when known


@dataclass(frozen=True)
class AuditEntry:
    """One step of the audit trail, as its note shows it. `verdict` defaults to the
    decision's; `send` writes "sending", "unsent" and "sent" with the address, transport
    and Message-ID; `warning` tells the approver that `send` will refuse (an edited
    description); `reconciled`: the scheduled run applied what the webhook never delivered.
    """

    decision: workflow.Decision
    actor: str
    verdict: Literal["", "sending", "unsent", "sent"] = ""
    comment: str = ""
    warning: str = ""
    reconciled: bool = False
    address: str = ""
    transport: str = ""
    message_id: str = ""


@dataclass
class ReconcileReport:
    """The steps the scheduled run repaired, and why the webhook may not deliver."""

    results: list[StepResult] = field(default_factory=list)
    webhook_problems: list[str] = field(default_factory=list)
    missed_since: str = ""  # when the oldest change the webhook never delivered was made


def parse_event(payload: Any, cfg: Config) -> Event | str:
    """The event, or the one-line reason it is not one the gate handles."""
    if not isinstance(payload, dict):
        return "the payload is not a JSON object"
    kind = payload.get("object_kind")
    if kind != "issue":
        shown = " ".join(kind.split())[:40] if isinstance(kind, str) else ""  # one line
        return (
            f"a {shown} event: only issue events change a match's state"
            if isinstance(kind, str)
            else "no object_kind: not a GitLab webhook payload"
        )
    attrs, user = payload.get("object_attributes"), payload.get("user")
    if not isinstance(attrs, dict) or not isinstance(user, dict):
        return "the issue event has no object_attributes or user"
    # Tasks and other work items fire Issue Hooks too: object_kind "work_item", or "issue"
    # with `type` naming the work item type since 17.2 (gitlab MR 156760, 180959)
    kind_of = attrs.get("type")
    if kind_of is not None and kind_of != "Issue":
        shown = " ".join(str(kind_of).split())[:40]
        return f"a work item of type {shown}, never a job match"
    iid, actor = attrs.get("iid"), user.get("username")
    if (
        isinstance(iid, bool)
        or not isinstance(iid, int)
        or iid <= 0
        or not isinstance(actor, str)
        or not actor
    ):
        return "the issue event has no usable iid or user.username"
    changes = payload.get("changes")
    diff = changes.get("labels") if isinstance(changes, dict) else None
    # closing and reopening are gate events too: GitLab sends them as their own event,
    # `action` close or reopen, without a label change (gitlabhq spec/support/
    # shared_examples/services/issuable/issuable_update_service_shared_examples.rb)
    if not isinstance(diff, dict) and attrs.get("action") not in ("close", "reopen"):
        return f"issue #{iid}: no label change in this event"
    diff = diff if isinstance(diff, dict) else {}
    titles = _titles(payload.get("labels")) | _titles(attrs.get("labels"))
    titles |= _titles(diff.get("previous")) | _titles(diff.get("current"))
    if cfg.labels.match not in titles:
        return f"issue #{iid} is not a job match"
    if cfg.gitlab.bot_username and actor == cfg.gitlab.bot_username:
        # skipping costs nothing; a forged skip only leaves the change to `digest`
        return f"issue #{iid}: the tool's own change"
    return Event(iid=iid)


def _titles(labels: Any) -> set[str]:
    if not isinstance(labels, list):
        return set()
    return {str(lb["title"]) for lb in labels if isinstance(lb, dict) and "title" in lb}


def check_reviewers(cfg: Config) -> None:
    """Somebody must be allowed to review: checked before any change is made (exit 2)."""
    if not cfg.workflow.reviewers and cfg.notification.channels.gitlab_todo.assignee_id is None:
        raise ConfigError(
            "workflow.reviewers is empty and notification.channels.gitlab_todo."
            "assignee_id is not set: nobody may review job matches"
        )


def is_reviewer(cfg: Config, username: str, user_id: int) -> bool:
    """workflow.reviewers, each the user id bootstrap recorded for the name
    (workflow.reviewer_ids); when empty, the user of gitlab_todo.assignee_id
    (docs/interface.md).
    """
    check_reviewers(cfg)
    if cfg.workflow.reviewers:
        return (
            username in cfg.workflow.reviewers
            and identity.reviewer_problem(cfg, username, user_id) is None
        )
    return user_id == cfg.notification.channels.gitlab_todo.assignee_id


def refusal(ctx: Context, actor: str, actor_id: int) -> str | None:
    """Why the user who made a move may not make it (None: a reviewer). The bot's own label
    events never count as a reviewer's: `review` from the shell approves as the bot, but
    records that step itself with its note, in the same run (issue 20).
    """
    if actor != "unknown" and actor == ctx.tracker.bot_user():
        if ctx.tracker.kind == "local":
            return None  # on the laptop the tool and the one person using it are one user
        return (
            f"the state label was added by match-staging itself ({actor}), not by a "
            "reviewer; only a reviewer's move, or `match-staging review`, approves"
        )
    if actor != "unknown" and is_reviewer(ctx.cfg, actor, actor_id):
        return None
    if actor != "unknown" and (why := identity.reviewer_problem(ctx.cfg, actor, actor_id)):
        return why
    return f"{actor} may not review job matches (workflow.reviewers)"


def transition(ctx: Context, payload: Any) -> StepResult:
    """Apply one issue-webhook event. The payload only names the issue: who changed what is
    read from GitLab (label events), so a forged payload can make the tool look, not act.
    """
    event = parse_event(payload, ctx.cfg)
    if isinstance(event, str):
        return StepResult("ignored", event)
    issue = ctx.tracker.get_issue(event.iid)
    if issue is None or not is_match(ctx.cfg, issue):
        return StepResult("ignored", f"issue #{event.iid} is not a job match", event.iid)
    return settle(ctx, issue)


def is_match(cfg: Config, issue: IssueRef) -> bool:
    """A staged match: it carries the job-match label, or its description still starts with
    the key line the tool wrote (the label taken off does not make it somebody else's;
    `settle` checks the author).
    """
    if ledger.was_run_log(issue.description):
        return False  # the bot's run log, however labelled (issue 20)
    return cfg.labels.match in issue.labels or bool(issue.keys)


def last_state_change(ctx: Context, iid: int, target: State | None = None) -> tuple[str, int]:
    """Who made the change (added `target`'s label last, else changed a state label last),
    from the issue's label events; ("unknown", 0) when GitLab shows nobody.
    """
    found = workflow.actor_of(
        ctx.cfg.labels, ctx.tracker.label_events(iid), target, identity.state_ids(ctx.cfg)
    )
    return (found.user, found.user_id) if found else ("unknown", 0)


def settle(ctx: Context, issue: IssueRef, *, reconciled: bool = False) -> StepResult:
    """Decide on the issue as it is, then apply or revert with at most one update and one
    note. Reads: the bot's user (once per run), the notes, the label events (only when the
    labels differ from the audited state). `reconciled`: the scheduled run repairs it.
    """
    cfg, tracker = ctx.cfg, ctx.tracker
    bot = tracker.bot_user()
    if issue.author and issue.author != bot:
        return StepResult(
            "ignored",
            f"#{issue.iid} was not staged by match-staging (created by {issue.author})",
            issue.iid,
        )
    trail = workflow.audit(issue, tracker.notes(issue.iid), bot)
    if cfg.labels.match not in issue.labels and not (trail.trusted or trail.stepped):
        # no label, no key line of the bot's own and no step it recorded: nothing says this
        # issue of the bot was ever a staged match (the run log, rewritten by a Reporter to
        # look like one: issue 20); a match keeps its trail however it is relabelled
        return StepResult(
            "ignored",
            f"#{issue.iid} is not a job match (no {cfg.labels.match} label, and "
            f"{trail.distrust or 'no step recorded'})",
            issue.iid,
        )
    wf = cfg.workflow
    tamper = workflow.tampered(cfg.labels, issue, trail.state, wf.close_rejected, wf.close_sent)
    if states_in(cfg.labels, issue.labels) == [trail.state]:
        if not tamper:
            return StepResult(
                "unchanged",
                f"#{issue.iid}: already {trail.state.value}: nothing to do",
                issue.iid,
                trail.state,
            )
        # closed, reopened or unlabelled: no review step, whoever did it (a reviewer moves
        # the card instead); put back as the audited state has it
        decision = workflow.Decision(
            "revert",
            trail.state,
            trail.state,
            f"{tamper}: back to {trail.state.value}",
        )
        record_step(ctx, issue, AuditEntry(decision, "unknown", reconciled=reconciled))
        return StepResult("reverted", f"#{issue.iid}: {decision.reason}", issue.iid, trail.state)
    check_reviewers(cfg)  # before the first change: a config error changes nothing
    target = workflow.moved_to(cfg.labels, issue.labels, trail.state)
    actor, actor_id = last_state_change(ctx, issue.iid, target)
    why = refusal(ctx, actor, actor_id)
    decision = workflow.decide(
        cfg.labels, issue.labels, trail.state, actor, why is None, refusal=why or ""
    )
    warning = trail.distrust if decision.after == State.APPROVED else ""
    record_step(ctx, issue, AuditEntry(decision, actor, reconciled=reconciled, warning=warning))
    outcome: Outcome = "applied" if decision.verdict == "apply" else "reverted"
    return StepResult(outcome, f"#{issue.iid}: {decision.reason}", issue.iid, decision.after)


def record_step(ctx: Context, issue: IssueRef, entry: AuditEntry) -> None:
    """Labels and open/closed in one update, only when they need it; then the audit note,
    which carries the audited state (the description is never written after creation:
    every description update is an Issue Hook event and so a pipeline).
    """
    cfg, after = ctx.cfg, entry.decision.after
    add, remove = workflow.label_changes(cfg.labels, issue.labels, after)
    if cfg.labels.match not in issue.labels:
        add.append(cfg.labels.match)  # a staged match keeps its label (issue 20)
    closes = workflow.must_close(after, cfg.workflow.close_rejected, cfg.workflow.close_sent)
    state_event: StateEvent | None = "close" if closes and issue.state != "closed" else None
    if after in (State.PENDING, State.APPROVED) and issue.state == "closed":
        state_event = "reopen"  # a match under review stays on the board
    if add or remove or state_event:
        ctx.tracker.update_issue(issue.iid, add=add, remove=remove, state_event=state_event)
    ctx.tracker.add_note(
        issue.iid, record.with_mark(audit_note(ctx, entry), record.StateMark(after))
    )


def audit_note(ctx: Context, entry: AuditEntry) -> str:
    """The note of one step: audit_note.md.j2 with the entry, the time in the configured
    zone and a link to the pipeline.
    """
    cfg, decision = ctx.cfg, entry.decision
    when = ctx.clock().astimezone(ZoneInfo(cfg.timezone)).strftime("%Y-%m-%d %H:%M %Z")
    pipeline = ctx.pipeline
    link = render.link(pipeline.url, f"pipeline {pipeline.id}".strip()) if pipeline.url else ""
    return render.render(
        "audit_note.md.j2",
        cfg.staging.templates_dir,
        verdict=entry.verdict or decision.verdict,
        before=decision.before.value,
        after=decision.after.value,
        reason=decision.reason,
        actor=entry.actor,
        when=when,
        pipeline=link,
        reconciled=entry.reconciled,
        comment=entry.comment,
        warning=entry.warning,
        address=entry.address,
        transport=entry.transport,
        message_id=entry.message_id,
    )


def review(ctx: Context, iid: int, target: State, actor: str, reason: str) -> StepResult:
    """The reviewer's step from the shell: the token's holder is the reviewer. Refused
    (InputError, nothing changed) unless the issue is a pending job match.
    """
    cfg, tracker = ctx.cfg, ctx.tracker
    issue = tracker.get_issue(iid)
    if issue is None or cfg.labels.match not in issue.labels:
        raise InputError(f"#{iid}", "no job-match issue with that number")
    current = states_in(cfg.labels, issue.labels)
    audited = workflow.audit(issue, tracker.notes(iid), tracker.bot_user()).state
    if current != [State.PENDING] or audited != State.PENDING:
        shown = ", ".join(s.value for s in current) or "no state"
        raise InputError(
            f"#{iid}", f"is {shown}, not pending: only pending matches are approved or rejected"
        )
    decision = workflow.Decision(
        "apply", State.PENDING, target, f"{State.PENDING.value} -> {target.value}"
    )
    record_step(ctx, issue, AuditEntry(decision, actor, comment=reason))
    return StepResult("applied", f"#{iid}: {decision.reason}", iid, target)


def reconcile(ctx: Context) -> ReconcileReport:
    """Apply or revert what lost webhook events never delivered, using label events to
    know who changed the state label. Costs one notes read per issue changed lately, except
    pending issues nobody has written a note on yet.
    """
    cfg, tracker = ctx.cfg, ctx.tracker
    report = ReconcileReport(webhook_problems=tracker.webhook_problems())
    since = ctx.clock() - timedelta(days=cfg.workflow.reconcile_days)
    # the bot's issues, whatever their labels: taking the job-match label off hides nothing
    for issue in tracker.changed_issues([], since, staged_only=True):
        if not is_match(cfg, issue):
            continue  # the run log
        if (
            issue.notes_count == 0
            and states_in(cfg.labels, issue.labels) == [State.PENDING]
            and cfg.labels.match in issue.labels
            and issue.state == "opened"
        ):
            continue  # no note, so no step the bot recorded: pending as staged (no request)
        result = settle(ctx, issue, reconciled=True)  # ignores others' issues
        if result.outcome in ("applied", "reverted"):
            report.results.append(result)
            report.missed_since = min(filter(None, (report.missed_since, issue.updated_at)))
    return report


def missed_events_notice(report: ReconcileReport) -> str | None:
    """Repairs mean the webhook did not deliver. A Developer token cannot list hooks, so
    `webhook_problems` may be empty although GitLab disabled the hook: say so plainly.
    """
    missed = [r for r in report.results if r.outcome in ("applied", "reverted")]
    if not missed or report.webhook_problems:
        return None
    since = (
        f" since {report.missed_since[:16].replace('T', ' ')} UTC" if report.missed_since else ""
    )
    count = f"{len(missed)} review event{'' if len(missed) == 1 else 's'}"
    return (
        f"{count}{since} never reached the pipeline (repaired now): GitLab may have "
        "disabled the issue webhook after failed deliveries. Check it at Settings > "
        "Webhooks (Maintainers only; a Developer token cannot see it): Test > Issue events "
        "re-enables it, or run `match-staging bootstrap` with a Maintainer's token"
    )

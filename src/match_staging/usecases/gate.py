"""The review gate: the one place that moves a match from state to state (docs/design.md;
after the gate, the scheduled run's expiry and ghosting: usecases/lifecycle.py).

pending -> approved | rejected (a reviewer's move on the board, judged here; or `review`
from the shell), approved -> sent (`send`, or auto-send right after an approval), and the
close/reopen that goes with each state (workflow.open_close). Who may make a move is decided
here too (`refusal`). The webhook (`transition`), the shell (`review`, `send`) and the
scheduled repair (`digest`) all ask a `Gate`.

The payload only says which issue to look at (issue 10): who moved the card comes from the
issue's label events, the audited state from the notes the bot wrote. A handled event costs
the token's user (once per run), the issue, its notes, its label events, at most one update
(only when labels need tidying or the issue must close or reopen) and one note. A replayed
event costs the reads of the user, the issue and its notes. An approval auto-sent in the
same run reads nothing again: the gate keeps what it judged (issue 21).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from email.headerregistry import Address
from typing import Literal

from match_staging import clock, identity, record, workflow
from match_staging.channels.base import Mailer
from match_staging.config import Config
from match_staging.context import Context
from match_staging.errors import InputError, StagingError
from match_staging.labels import states_in
from match_staging.model import IssueRef, Note, State
from match_staging.trackers import ledger
from match_staging.usecases import moves
from match_staging.usecases.audit import AuditEntry, audit_note
from match_staging.usecases.review import Event
from match_staging.usecases.send import application

# what a review step or a send did: the first word of its line in the job log
Outcome = Literal["applied", "reverted", "unchanged", "ignored", "sent", "portal", "failed"]
AUTO_SEND_ACTOR = "match-staging (auto_send)"


@dataclass(frozen=True)
class StepResult:
    """What one step on one issue did (a review, a repair, a send), in one line."""

    outcome: Outcome
    message: str
    iid: int | None = None
    after: State | None = None  # the state the issue is in afterwards, when known
    completed: bool = False  # the scheduled run's own move, its missing note written now


@dataclass(frozen=True)
class Gated:
    """A review step and the auto-send it led to. `requests`: GitLab requests made up to
    the step (its line says so); `refused`: why the auto-send refused, after the step.
    """

    step: StepResult
    requests: int = 0
    sent: StepResult | None = None
    refused: StagingError | None = None


@dataclass
class ReconcileReport:
    """The steps the scheduled run repaired (each approval auto-sent: `sent` by iid), and
    why the webhook may not deliver.
    """

    results: list[StepResult] = field(default_factory=list)
    webhook_problems: list[str] = field(default_factory=list)
    missed_since: str = ""  # when the oldest change the webhook never delivered was made
    sent: dict[int, StepResult] = field(default_factory=dict)
    # the repair whose auto-send refused, and why: no later one was tried
    refused: tuple[int | None, StagingError] | None = None


def is_match(cfg: Config, issue: IssueRef) -> bool:
    """A staged match: it carries the job-match label, or its description still starts with
    the key line the tool wrote (the label taken off does not make it somebody else's;
    `settle` checks the author).
    """
    if ledger.was_run_log(issue.description):
        return False  # the bot's run log, in use or retired, however labelled (issue 20)
    return cfg.labels.match in issue.labels or bool(issue.keys)


def missed_events_notice(report: ReconcileReport) -> str | None:
    """Repairs mean the webhook did not deliver. A Developer token cannot list hooks, so
    `webhook_problems` may be empty although GitLab disabled the hook: say so plainly.
    """
    missed = [r for r in report.results if r.outcome in ("applied", "reverted") and not r.completed]
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


def refusal(ctx: Context, actor: str, actor_id: int) -> str | None:
    """Why the user who made a move may not make it (None: a reviewer). The bot's own
    label events never count as a reviewer's: `review` from the shell approves as the
    bot, but records that step itself with its note, in the same run (issue 20).
    """
    if actor != "unknown" and actor == ctx.tracker.bot_user():
        if ctx.tracker.kind == "local":
            return None  # on the laptop the tool and the one person using it are one user
        return (
            f"the state label was added by match-staging itself ({actor}), not by a "
            "reviewer; only a reviewer's move, or `match-staging review`, approves"
        )
    if actor != "unknown" and identity.is_reviewer(ctx.cfg, actor, actor_id):
        return None
    if actor != "unknown" and (why := identity.reviewer_problem(ctx.cfg, actor, actor_id)):
        return why
    return f"{actor} may not review job matches (workflow.reviewers)"


def check_approver(ctx: Context, iid: int, notes: list[Note]) -> None:
    """GitLab's label events must show the approved label (by its id) added last by a
    reviewer, whatever the notes say: the gate's own rule. The bot's own adding counts
    only where its note recording the approval follows it (the step `review` from the
    shell records, in one run); a later one by the bot is a revert restoring the
    approved state, and the approval it restored is judged instead.
    """
    cfg, tracker = ctx.cfg, ctx.tracker
    bot = tracker.bot_user()
    recorded = clock.parse(workflow.approved_at(notes, bot))
    added = [
        e
        for e in tracker.label_events(iid)
        if e.action == "add"
        and workflow.is_state(cfg.labels, e, State.APPROVED, identity.state_ids(cfg))
    ]
    if added and added[-1].user == bot and recorded is not None:
        before = [e for e in added if (clock.parse(e.created_at) or recorded) <= recorded]
        if before and before[-1].user == bot:
            return  # `review` from the shell: the bot's label change, then its audit note
        added = before
    event = added[-1] if added else None
    why = refusal(ctx, event.user, event.user_id) if event else None
    if event is not None and why is None:
        return
    who = event.user if event else "nobody GitLab shows"
    plain = f"{who} may not review job matches (workflow.reviewers)"
    detail = (
        f"{who}, who may not review job matches (workflow.reviewers)"
        if why in (None, plain)
        else f"{who}: {why}"
    )
    raise InputError(
        f"#{iid}",
        f"the approved label was added by {detail}: nothing sent; a reviewer must "
        "approve it on the board",
    )


class Gate:
    """One run's gate. It remembers each issue it moved to approved (the issue as updated,
    its audit), so the auto-send that follows reads neither the notes nor the label events
    again.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._approved: dict[int, tuple[IssueRef, workflow.Audit]] = {}

    # ------------------------------------------------------------------ pending -> reviewed

    def transition(self, event: Event) -> Gated:
        """Apply one issue-webhook event, then auto-send an approval it applied. The payload
        only names the issue: who changed what is read from GitLab (label events), so a
        forged payload can make the tool look, not act.
        """
        issue = self.ctx.tracker.get_issue(event.iid)
        if issue is None or not is_match(self.ctx.cfg, issue):
            return Gated(StepResult("ignored", f"issue #{event.iid} is not a job match", event.iid))
        return self._then_send(self.settle(issue), AUTO_SEND_ACTOR)

    def review(self, iid: int, target: State, actor: str, reason: str) -> Gated:
        """The reviewer's step from the shell (the token's holder is the reviewer), then
        auto-send an approval. Refused (InputError, nothing changed) unless the issue is a
        job match in the state the move starts from (moves.shell_refusal).
        """
        cfg, tracker = self.ctx.cfg, self.ctx.tracker
        issue = tracker.get_issue(iid)
        if issue is None or cfg.labels.match not in issue.labels:
            raise InputError(f"#{iid}", "no job-match issue with that number")
        current, notes = states_in(cfg.labels, issue.labels), tracker.notes(iid)
        trail = workflow.audit(issue, notes, tracker.bot_user())
        before = trail.state
        decision = workflow.Decision("apply", before, target, f"{before.value} -> {target.value}")
        if why := moves.shell_refusal(self.ctx, issue, notes, current, decision):
            raise InputError(f"#{iid}", why)
        self.record_step(issue, trail, AuditEntry(decision, actor, comment=reason))
        return self._then_send(
            StepResult("applied", f"#{iid}: {decision.reason}", iid, target), actor
        )

    def settle(self, issue: IssueRef, *, reconciled: bool = False) -> StepResult:
        """Decide on the issue as it is, then apply or revert with at most one update and
        one note. Reads: the bot's user (once per run), the notes, the label events (only
        when the labels differ from the audited state). `reconciled`: the scheduled run
        repairs it.
        """
        cfg, tracker = self.ctx.cfg, self.ctx.tracker
        bot = tracker.bot_user()
        if issue.author and issue.author != bot:
            return StepResult(
                "ignored",
                f"#{issue.iid} was not staged by match-staging (created by {issue.author})",
                issue.iid,
            )
        notes = tracker.notes(issue.iid)
        trail = workflow.audit(issue, notes, bot)
        if cfg.labels.match not in issue.labels and not (trail.trusted or trail.stepped):
            # no label, no key line of the bot's own and no step it recorded: nothing says
            # this issue of the bot was ever a staged match (the run log, rewritten by a
            # Reporter to look like one: issue 20); a match keeps its trail however it is
            # relabelled
            return StepResult(
                "ignored",
                f"#{issue.iid} is not a job match (no {cfg.labels.match} label, and "
                f"{trail.distrust or 'no step recorded'})",
                issue.iid,
            )
        wf = cfg.workflow
        tamper = workflow.tampered(
            cfg.labels, issue, trail.state, wf.close_rejected, wf.close_sent, wf.close_expired
        )
        if states_in(cfg.labels, issue.labels) == [trail.state]:
            if not tamper:
                return StepResult(
                    "unchanged",
                    f"#{issue.iid}: already {trail.state.value}: nothing to do",
                    issue.iid,
                    trail.state,
                )
            # closed, reopened or unlabelled: no review step, whoever did it (a reviewer
            # moves the card instead); put back as the audited state has it
            decision = workflow.Decision(
                "revert", trail.state, trail.state, f"{tamper}: back to {trail.state.value}"
            )
            self.record_step(issue, trail, AuditEntry(decision, "unknown", reconciled=reconciled))
            return StepResult(
                "reverted", f"#{issue.iid}: {decision.reason}", issue.iid, trail.state
            )
        identity.check_reviewers(cfg)  # before the first change: a config error changes nothing
        target = workflow.moved_to(cfg.labels, issue.labels, trail.state)
        found = workflow.actor_of(
            cfg.labels, tracker.label_events(issue.iid), target, identity.state_ids(cfg)
        )
        if done := moves.completion(self.ctx, trail, target, notes, found):
            self.record_step(issue, trail, AuditEntry(done, moves.DIGEST_ACTOR))
            return StepResult("applied", f"#{issue.iid}: {done.reason}", issue.iid, target, True)
        actor, actor_id = (found.user, found.user_id) if found else ("unknown", 0)
        why = refusal(self.ctx, actor, actor_id)
        decision = workflow.decide(
            cfg.labels, issue.labels, trail.state, actor, why is None, refusal=why or ""
        )
        if decision.verdict == "apply" and (
            later := moves.refusal(
                self.ctx, issue, notes, decision, clock.parse(found.created_at) if found else None
            )
        ):
            decision = replace(decision, verdict="revert", after=decision.before, reason=later)
        warning = trail.distrust if decision.after == State.APPROVED else ""
        entry = AuditEntry(decision, actor, reconciled=reconciled, warning=warning)
        self.record_step(issue, trail, entry)
        outcome: Outcome = "applied" if decision.verdict == "apply" else "reverted"
        return StepResult(outcome, f"#{issue.iid}: {decision.reason}", issue.iid, decision.after)

    def reconcile(self) -> ReconcileReport:
        """Apply or revert what lost webhook events never delivered, using label events to
        know who changed the state label; each approval is auto-sent. Costs one notes read
        per issue changed lately, except pending issues nobody has written a note on yet.
        """
        cfg, tracker = self.ctx.cfg, self.ctx.tracker
        report = ReconcileReport(webhook_problems=tracker.webhook_problems())
        since = self.ctx.clock() - timedelta(days=cfg.workflow.reconcile_days)
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
            result = self.settle(issue, reconciled=True)  # ignores others' issues
            if result.outcome in ("applied", "reverted"):
                report.results.append(result)
                report.missed_since = min(filter(None, (report.missed_since, issue.updated_at)))
        for result in report.results:  # after every repair, as the job log prints them
            done = self._then_send(result, AUTO_SEND_ACTOR)
            if done.sent is not None and result.iid is not None:
                report.sent[result.iid] = done.sent
            if done.refused is not None:
                report.refused = (result.iid, done.refused)
                break
        return report

    # ------------------------------------------------------------------ approved -> sent

    def auto_send(self, result: StepResult, actor: str) -> StepResult | None:
        """workflow.auto_send: an approval just applied goes out at once (the one place that
        decides so, for the webhook, the shell and the scheduled repair). None: nothing to
        send (not an approval, auto_send off, or no mailer configured).
        """
        ctx = self.ctx
        if (
            not ctx.cfg.workflow.auto_send
            or ctx.mailer is None
            or result.iid is None
            or result.outcome != "applied"
            or result.after != State.APPROVED
        ):
            return None
        known = self._approved.get(result.iid)
        if known is None:  # approved by another run: judged again from GitLab
            return self.send(result.iid, actor)
        issue, trail = known
        return self._send_trusted(issue, trail, actor)

    def send(self, iid: int, actor: str, *, force: bool = False) -> StepResult:
        """Send the approved match's application through `ctx.mailer`, then mark it sent.
        Refused (InputError, nothing sent) unless the labels, the audit trail and the label
        events agree it is approved and its description is as the bot wrote it.
        """
        cfg, tracker = self.ctx.cfg, self.ctx.tracker
        issue = tracker.get_issue(iid)
        if issue is None or cfg.labels.match not in issue.labels:
            raise InputError(f"#{iid}", "no job-match issue with that number")
        current = states_in(cfg.labels, issue.labels)
        notes = tracker.notes(iid)
        trail = workflow.audit(issue, notes, tracker.bot_user())
        if current != [State.APPROVED] or trail.state != State.APPROVED:
            shown = ", ".join(s.value for s in current) or "no state label"
            hint = (
                " (approved on the board, but the review pipeline has not recorded it yet)"
                if current == [State.APPROVED]
                else ""
            )
            hint = moves.EXPIRED_HINT if current == [State.EXPIRED] else hint
            raise InputError(f"#{iid}", f"is {shown}{hint}: only approved matches are sent")
        check_approver(self.ctx, iid, notes)
        return self._send_trusted(issue, trail, actor, force=force)

    def _send_trusted(
        self, issue: IssueRef, trail: workflow.Audit, actor: str, *, force: bool = False
    ) -> StepResult:
        """Send an issue judged approved: only what the bot staged, never over a send that
        may have gone out (unless `force`), to the application address or not at all.
        """
        iid = issue.iid
        if not trail.trusted:
            raise InputError(
                f"#{iid}",
                f"{trail.distrust}: nothing sent. `send` sends only "
                "what match-staging staged, and an edited description no longer "
                "proves what that was; compare the edit in the issue's history, "
                "then apply by hand, or close the issue and stage the match again",
            )
        if trail.sending and not force:
            raise InputError(
                f"#{iid}",
                f"a send started at {trail.sending.started} and may have "
                "gone out: check the sent mail, then mark it sent on the board, or "
                "run `match-staging send --force` to send it again",
            )
        staged = record.decode_record(issue.description) or record.MatchRecord()
        if not staged.apply.email:
            where = staged.apply.url or staged.source_url or issue.web_url
            return StepResult(
                "portal",
                f"#{iid} has no application address: apply on the "
                f"portal ({where}), then move the card to sent on the board",
                iid,
            )
        if self.ctx.mailer is None:
            raise InputError(
                f"#{iid}",
                "sending needs notification.channels.email configured "
                "(transport, from, and smtp or gmail settings)",
            )
        return self._deliver(self.ctx.mailer, issue, trail, staged, actor)

    def _deliver(
        self,
        mailer: Mailer,
        issue: IssueRef,
        trail: workflow.Audit,
        staged: record.MatchRecord,
        actor: str,
    ) -> StepResult:
        """Write the "sending" mark, hand the email over, and record what happened: the
        step approved -> sent, or a note that settles the mark when nothing went out.
        """
        ctx, tracker = self.ctx, self.ctx.tracker
        iid, address = issue.iid, staged.apply.email
        # the local tracker's mailer writes to outbox/: no note may claim smtp or gmail
        transport = ctx.cfg.notification.channels.email.transport if tracker.sends else "outbox"
        to = Address(addr_spec=address)
        now = ctx.clock()
        msg = application(ctx.cfg, mailer, staged, to, ctx.root, now)
        approved = workflow.Decision("apply", State.APPROVED, State.APPROVED, "")
        started = AuditEntry(
            approved, actor, verdict="sending", address=address, transport=transport
        )
        tracker.add_note(
            iid,
            record.with_mark(audit_note(self.ctx, started), record.SendingMark(now.isoformat())),
        )
        delivery = mailer.deliver(msg, [to])
        if not delivery.ok and delivery.maybe_delivered:  # keep the mark: never send twice
            return StepResult(
                "failed",
                f"#{iid}: {delivery.detail}; it may have gone out: check "
                "the sent mail, then mark it sent on the board, or run "
                "`match-staging send --force`",
                iid,
            )
        if not delivery.ok:  # refused, or never connected: nothing went out
            unsent = AuditEntry(
                replace(approved, reason=delivery.detail), actor, verdict="unsent", address=address
            )
            note = record.with_mark(audit_note(self.ctx, unsent), record.StateMark(State.APPROVED))
            tracker.add_note(iid, note)
            return StepResult("failed", f"#{iid}: {delivery.detail}", iid)
        decision = workflow.Decision("apply", State.APPROVED, State.SENT, "approved -> sent")
        sent = AuditEntry(
            decision,
            actor,
            verdict="sent",
            address=address,
            transport=transport,
            message_id=str(msg["Message-ID"]),
        )
        self.record_step(issue, trail, sent)
        if not tracker.sends:
            return StepResult(
                "sent",
                f"#{iid}: application to {address} {delivery.detail} "
                "(the local tracker sends nothing)",
                iid,
                State.SENT,
            )
        return StepResult(
            "sent", f"#{iid}: application sent to {address} ({delivery.detail})", iid, State.SENT
        )

    def _then_send(self, step: StepResult, actor: str) -> Gated:
        """The step, and the auto-send it leads to; a refused send is kept for the caller
        to raise once the step is printed.
        """
        requests = self.ctx.tracker.requests
        try:
            sent = self.auto_send(step, actor)
        except StagingError as exc:
            return Gated(step, requests, refused=exc)
        return Gated(step, requests, sent)

    # ------------------------------------------------------------------ the record

    def record_step(self, issue: IssueRef, trail: workflow.Audit, entry: AuditEntry) -> None:
        """Labels and open/closed in one update, only when they need it; then the audit
        note, which carries the audited state (the description is never written after
        creation: every description update is an Issue Hook event and so a pipeline).
        """
        cfg, tracker, after = self.ctx.cfg, self.ctx.tracker, entry.decision.after
        add, remove = workflow.label_changes(cfg.labels, issue.labels, after)
        if cfg.labels.match not in issue.labels:
            add.append(cfg.labels.match)  # a staged match keeps its label (issue 20)
        wf = cfg.workflow
        state_event = workflow.open_close(
            after, issue.state, wf.close_rejected, wf.close_sent, wf.close_expired
        )
        if add or remove or state_event:
            issue = tracker.update_issue(issue.iid, add=add, remove=remove, state_event=state_event)
        tracker.add_note(
            issue.iid, record.with_mark(audit_note(self.ctx, entry), record.StateMark(after))
        )
        if after == State.APPROVED and entry.decision.verdict == "apply":
            # this run's approval: a state step settles any earlier send
            self._approved[issue.iid] = (issue, replace(trail, state=after, sending=None))

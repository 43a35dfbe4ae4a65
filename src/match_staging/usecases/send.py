"""Send: submit an approved application by email, then mark the match sent.

Nothing is ever sent from any state but `approved` (the labels, the bot's audit notes and
GitLab's label events all say so), only what was staged (the description as the bot wrote
it: refused when anyone else edited it), and nothing twice: before the email goes out the
bot writes a "sending" note; a run that finds that mark refuses to send again until the user
has checked the outbox and passes --force. A failure that certainly sent nothing (the server
refused) is noted, which settles the mark.
"""

from __future__ import annotations

import dataclasses
import mimetypes
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from match_staging import attachments, clock, identity, record, render, workflow
from match_staging.channels.base import Mailer
from match_staging.config import Config
from match_staging.context import Context
from match_staging.errors import InputError
from match_staging.labels import states_in
from match_staging.model import IssueRef, Note, State
from match_staging.usecases.review import AuditEntry, StepResult, audit_note, refusal

AUTO_SEND_ACTOR = "match-staging (auto_send)"


def application(
    cfg: Config, email: Mailer, staged: record.MatchRecord, to: Address, root: Path, now: datetime
) -> EmailMessage:
    """The application email: the draft cover letter, with the match's attachments."""
    subject = staged.apply.subject or render.render(
        "application_subject.txt.j2", cfg.staging.templates_dir, target="text", title=staged.title
    )
    msg = EmailMessage()
    msg["Subject"] = " ".join(subject.split())[:200]
    msg["From"] = email.sender
    msg["To"] = to
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid("application", domain=email.sender.domain)
    msg.set_content(staged.draft)
    files, errors = attachments.check(
        root,
        [str(a) for a in staged.attachments],
        cfg.staging.max_attachment_bytes,
        source="the staged match",
    )
    if errors:
        raise errors[0]
    for found in files:
        kind, _ = mimetypes.guess_type(found.name)
        main, _, sub = (kind or "application/octet-stream").partition("/")
        msg.add_attachment(found.read_bytes(), maintype=main, subtype=sub, filename=found.name)
    # The bodies are encoded (78-character lines) by now. Headers fold when the message is
    # written: at 78 the Message-ID went onto a continuation line and readers saw it with a
    # leading space; RFC 5322 allows 998, and no header here is longer.
    msg.policy = msg.policy.clone(max_line_length=998)
    return msg


def after_review(ctx: Context, result: StepResult, actor: str) -> StepResult | None:
    """workflow.auto_send: an approval just applied goes out at once (the one place that
    decides so, for the webhook, the shell and the scheduled repair). None: nothing to send
    (not an approval, auto_send off, or no mailer configured).
    """
    if (
        not ctx.cfg.workflow.auto_send
        or ctx.mailer is None
        or result.iid is None
        or result.outcome != "applied"
        or result.after != State.APPROVED
    ):
        return None
    return send(ctx, result.iid, actor)


def send(ctx: Context, iid: int, actor: str, *, force: bool = False) -> StepResult:
    """Send the approved match's application through `ctx.mailer`, then mark it sent.
    Refused (InputError, nothing sent) unless the labels, the audit trail and the label
    events agree it is approved and its description is as the bot wrote it.
    """
    cfg, tracker = ctx.cfg, ctx.tracker
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
        raise InputError(f"#{iid}", f"is {shown}{hint}: only approved matches are sent")
    check_approver(ctx, iid, notes)
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
    if ctx.mailer is None:
        raise InputError(
            f"#{iid}",
            "sending needs notification.channels.email configured "
            "(transport, from, and smtp or gmail settings)",
        )
    return _deliver(ctx, ctx.mailer, issue, staged, actor)


def _deliver(
    ctx: Context, mailer: Mailer, issue: IssueRef, staged: record.MatchRecord, actor: str
) -> StepResult:
    """Write the "sending" mark, hand the email over, and record what happened."""
    cfg, tracker = ctx.cfg, ctx.tracker
    iid, address = issue.iid, staged.apply.email
    # the local tracker's mailer writes to outbox/: no note may claim smtp or gmail
    transport = cfg.notification.channels.email.transport if tracker.sends else "outbox"
    to = Address(addr_spec=address)
    now = ctx.clock()
    msg = application(cfg, mailer, staged, to, ctx.root, now)
    approved = workflow.Decision("apply", State.APPROVED, State.APPROVED, "")
    started = audit_note(
        ctx, AuditEntry(approved, actor, verdict="sending", address=address, transport=transport)
    )
    tracker.add_note(iid, record.with_mark(started, record.SendingMark(now.isoformat())))
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
        unsent = dataclasses.replace(approved, reason=delivery.detail)
        tracker.add_note(
            iid,
            record.with_mark(
                audit_note(ctx, AuditEntry(unsent, actor, verdict="unsent", address=address)),
                record.StateMark(State.APPROVED),
            ),
        )
        return StepResult("failed", f"#{iid}: {delivery.detail}", iid)
    decision = workflow.Decision("apply", State.APPROVED, State.SENT, "approved -> sent")
    add, remove = workflow.label_changes(cfg.labels, issue.labels, State.SENT)
    tracker.update_issue(
        iid, add=add, remove=remove, state_event="close" if cfg.workflow.close_sent else None
    )
    tracker.add_note(
        iid,
        record.with_mark(
            audit_note(
                ctx,
                AuditEntry(
                    decision,
                    actor,
                    verdict="sent",
                    address=address,
                    transport=transport,
                    message_id=str(msg["Message-ID"]),
                ),
            ),
            record.StateMark(State.SENT),
        ),
    )
    if not tracker.sends:
        return StepResult(
            "sent",
            f"#{iid}: application to {address} {delivery.detail} (the local tracker sends nothing)",
            iid,
            State.SENT,
        )
    return StepResult(
        "sent", f"#{iid}: application sent to {address} ({delivery.detail})", iid, State.SENT
    )


def check_approver(ctx: Context, iid: int, notes: list[Note]) -> None:
    """GitLab's label events must show the approved label (by its id) added last by a
    reviewer, whatever the notes say: the gate's own rule. The bot's own adding counts only
    where its note recording the approval follows it (the step `review` from the shell
    records, in one run); a later one by the bot is a revert restoring the approved state,
    and the approval it restored is judged instead.
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

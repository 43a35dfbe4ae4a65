"""Send: submit an approved application by email, then mark the match sent.

Nothing is ever sent from any state but `approved` (the labels, the bot's audit notes and
GitLab's label events all say so), only what was staged (the description as the bot wrote
it: refused when anyone else edited it), and nothing twice: before the email goes out the
bot writes a "sending" note; a run that finds that mark refuses to send again until the user
has checked the outbox and passes --force. A failure that certainly sent nothing (the server
refused) is noted, which settles the mark."""

from __future__ import annotations

import dataclasses
import mimetypes
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Literal

from match_staging import attachments, record, render, workflow
from match_staging.channels.base import Mailer
from match_staging.config import Config
from match_staging.errors import InputError
from match_staging.labels import states_in
from match_staging.model import State
from match_staging.trackers.base import Tracker
from match_staging.usecases.review import (
    Context,
    audit_note,
    last_state_change,
    may_review,
)

Outcome = Literal["sent", "portal", "failed"]


@dataclass
class SendResult:
    outcome: Outcome
    message: str


def application(cfg: Config, email: Mailer, staged: record.MatchRecord, to: Address,
                root: Path, now: datetime) -> EmailMessage:
    """The application email: the draft cover letter, with the match's attachments."""
    subject = staged.apply.subject or render.render(
        "application_subject.txt.j2", cfg.staging.templates_dir, target="text",
        title=staged.title)
    msg = EmailMessage()
    msg["Subject"] = " ".join(subject.split())[:200]
    msg["From"] = email.sender
    msg["To"] = to
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid("application", domain=email.sender.domain)
    msg.set_content(staged.draft)
    max_bytes = int(cfg.staging.max_attachment_mb * 1024 * 1024)
    for index, rel in enumerate(staged.attachments):
        found = attachments.resolve(root, str(rel), max_bytes)
        if isinstance(found, str):
            raise InputError("the staged match", f"{rel!r} {found}",
                             field=f"attachments[{index}]")
        kind, _ = mimetypes.guess_type(found.name)
        main, _, sub = (kind or "application/octet-stream").partition("/")
        msg.add_attachment(found.read_bytes(), maintype=main, subtype=sub,
                           filename=found.name)
    # The bodies are encoded (78-character lines) by now. Headers fold when the message is
    # written: at 78 the Message-ID went onto a continuation line and readers saw it with a
    # leading space; RFC 5322 allows 998, and no header here is longer.
    msg.policy = msg.policy.clone(max_line_length=998)
    return msg


def send(cfg: Config, tracker: Tracker, email: Mailer | None, iid: int, actor: str,
         ctx: Context, root: Path, *, force: bool = False) -> SendResult:
    issue = tracker.get_issue(iid)
    if issue is None or cfg.labels.match not in issue.labels:
        raise InputError(f"#{iid}", "no job-match issue with that number")
    current = states_in(cfg.labels, issue.labels)
    bot = tracker.bot_user()
    trail = workflow.audit(issue, tracker.notes(iid), bot)
    if current != [State.APPROVED] or trail.state != State.APPROVED:
        shown = ", ".join(s.value for s in current) or "no state label"
        hint = " (approved on the board, but the review pipeline has not recorded it yet)" \
            if current == [State.APPROVED] else ""
        raise InputError(f"#{iid}", f"is {shown}{hint}: only approved matches are sent")
    check_approver(cfg, tracker, iid)
    if not trail.trusted:
        raise InputError(f"#{iid}", f"{trail.distrust}: nothing sent. `send` sends only "
                         "what match-staging staged, and an edited description no longer "
                         "proves what that was; compare the edit in the issue's history, "
                         "then apply by hand, or close the issue and stage the match again")
    if trail.sending and not force:
        raise InputError(f"#{iid}", f"a send started at {trail.sending.started} and may have "
                         "gone out: check the sent mail, then mark it sent on the board, or "
                         "run `match-staging send --force` to send it again")
    staged = record.decode_record(issue.description) or record.MatchRecord()
    address = staged.apply.email
    # the local tracker's mailer writes to outbox/: no note may claim smtp or gmail
    transport = "outbox" if tracker.kind == "local" else \
        cfg.notification.channels.email.transport
    if not address:
        where = staged.apply.url or staged.source_url or issue.web_url
        return SendResult("portal", f"#{iid} has no application address: apply on the "
                          f"portal ({where}), then move the card to sent on the board")
    if email is None:
        raise InputError(f"#{iid}", "sending needs notification.channels.email configured "
                         "(transport, from, and smtp or gmail settings)")
    to = Address(addr_spec=address)
    msg = application(cfg, email, staged, to, root, ctx.now)
    approved = workflow.Decision("apply", State.APPROVED, State.APPROVED, "")
    started = audit_note(cfg, approved, actor, ctx, verdict="sending", address=address,
                         transport=transport)
    tracker.add_note(iid, record.with_mark(started, record.SendingMark(ctx.now.isoformat())))
    delivery = email.deliver(msg, [to])
    if not delivery.ok and delivery.maybe_delivered:  # keep the mark: never send twice
        return SendResult("failed", f"#{iid}: {delivery.detail}; it may have gone out: check "
                          "the sent mail, then mark it sent on the board, or run "
                          "`match-staging send --force`")
    if not delivery.ok:  # refused, or never connected: nothing went out
        unsent = dataclasses.replace(approved, reason=delivery.detail)
        tracker.add_note(iid, record.with_mark(
            audit_note(cfg, unsent, actor, ctx, verdict="unsent", address=address),
            record.StateMark(State.APPROVED)))
        return SendResult("failed", f"#{iid}: {delivery.detail}")
    decision = workflow.Decision("apply", State.APPROVED, State.SENT, "approved -> sent")
    add, remove = workflow.label_changes(cfg.labels, issue.labels, State.SENT)
    tracker.update_issue(iid, add=add, remove=remove,
                         state_event="close" if cfg.workflow.close_sent else None)
    tracker.add_note(iid, record.with_mark(
        audit_note(cfg, decision, actor, ctx, verdict="sent", address=address,
                   transport=transport, message_id=str(msg["Message-ID"])),
        record.StateMark(State.SENT)))
    if transport == "outbox":
        return SendResult("sent", f"#{iid}: application to {address} {delivery.detail} "
                          "(the local tracker sends nothing)")
    return SendResult("sent", f"#{iid}: application sent to {address} ({delivery.detail})")


def check_approver(cfg: Config, tracker: Tracker, iid: int) -> None:
    """GitLab's label events must show the approved label added by a reviewer (or by the
    tool, as `review` from the shell does), whatever the notes say: the gate's own rule."""
    actor, actor_id = last_state_change(cfg, tracker, iid, State.APPROVED)
    if may_review(cfg, tracker, actor, actor_id):
        return
    who = "nobody GitLab shows" if actor == "unknown" else actor
    raise InputError(f"#{iid}", f"the approved label was added by {who}, who may not review "
                     "job matches (workflow.reviewers): nothing sent; a reviewer must "
                     "approve it on the board")

"""Send: submit an approved application by email, then mark the match sent.

Nothing is ever sent from any state but `approved`, and nothing is sent twice: before the
email goes out the issue is marked "sending" (in its description); a run that finds that
mark refuses to send again until the user has checked the outbox and passes --force. A
failure that certainly sent nothing (the server refused) removes the mark again."""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, Literal

from match_staging import attachments, notices, render, workflow
from match_staging.channels.base import Mailer
from match_staging.config import Config
from match_staging.errors import InputError
from match_staging.labels import states_in
from match_staging.model import State
from match_staging.trackers.base import Tracker
from match_staging.usecases.review import Context, audit_note

_SENDING = re.compile(r"^<!-- match-staging v1 sending: ([^ ]+) -->\n?", re.MULTILINE)
Outcome = Literal["sent", "portal", "failed"]


@dataclass
class SendResult:
    outcome: Outcome
    message: str


def _with_sending(description: str, stamp: str) -> str:
    first, _, rest = description.partition("\n")
    return f"{first}\n<!-- match-staging v1 sending: {stamp} -->\n{rest}"


def _without_sending(description: str) -> str:
    return _SENDING.sub("", description)


def application(cfg: Config, email: Mailer, record: dict[str, Any], to: Address,
                root: Path, now: datetime) -> EmailMessage:
    """The application email: the draft cover letter, with the match's attachments."""
    apply: dict[str, Any] = record.get("apply") or {}
    title = str(record.get("title") or "")
    subject = str(apply.get("subject") or render.render(
        "application_subject.txt.j2", cfg.staging.templates_dir, target="text", title=title))
    msg = EmailMessage()
    msg["Subject"] = " ".join(subject.split())[:200]
    msg["From"] = email.sender
    msg["To"] = to
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid("application", domain=email.sender.domain)
    msg.set_content(str(record.get("draft") or ""))
    max_bytes = int(cfg.staging.max_attachment_mb * 1024 * 1024)
    files: list[Any] = record.get("attachments") or []
    for index, rel in enumerate(files):
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
    audited = workflow.audited_state(issue.description)
    if current != [State.APPROVED] or audited != State.APPROVED:
        shown = ", ".join(s.value for s in current) or "no state label"
        hint = " (approved on the board, but the review pipeline has not recorded it yet)" \
            if current == [State.APPROVED] else ""
        raise InputError(f"#{iid}", f"is {shown}{hint}: only approved matches are sent")
    started = _SENDING.search(issue.description)
    if started and not force:
        raise InputError(f"#{iid}", f"a send started at {started.group(1)} and may have gone "
                         "out: check the sent mail, then mark it sent on the board, or run "
                         "`match-staging send --force` to send it again")
    record = notices.record(issue.description)
    found = record.get("apply")
    apply: dict[str, Any] = found if isinstance(found, dict) else {}
    record["apply"] = apply
    if not isinstance(record.get("attachments"), list):
        record["attachments"] = []
    address = str(apply.get("email") or "")
    if not address:
        where = apply.get("url") or record.get("source_url") or issue.web_url
        return SendResult("portal", f"#{iid} has no application address: apply on the "
                          f"portal ({where}), then move the card to sent on the board")
    if email is None:
        raise InputError(f"#{iid}", "sending needs notification.channels.email configured "
                         "(transport, from, and smtp or gmail settings)")
    to = Address(addr_spec=address)
    msg = application(cfg, email, record, to, root, ctx.now)
    clean = _without_sending(issue.description)
    tracker.update_issue(iid, description=_with_sending(clean, ctx.now.isoformat()))
    delivery = email.deliver(msg, [to])
    if not delivery.ok and delivery.maybe_delivered:  # keep the mark: never send twice
        return SendResult("failed", f"#{iid}: {delivery.detail}; it may have gone out: check "
                          "the sent mail, then mark it sent on the board, or run "
                          "`match-staging send --force`")
    if not delivery.ok:  # refused, or never connected: nothing went out
        tracker.update_issue(iid, description=clean)
        return SendResult("failed", f"#{iid}: {delivery.detail}")
    decision = workflow.Decision("apply", State.APPROVED, State.SENT, "approved -> sent")
    add, remove = workflow.label_changes(cfg.labels, issue.labels, State.SENT)
    tracker.update_issue(iid, add=add, remove=remove,
                         description=workflow.with_audited_state(clean, State.SENT),
                         state_event="close" if cfg.workflow.close_sent else None)
    # the local tracker's mailer writes to outbox/: the note must not claim smtp or gmail
    transport = "outbox" if tracker.kind == "local" else cfg.notification.channels.email.transport
    tracker.add_note(iid, audit_note(cfg, decision, actor, ctx, verdict="sent",
                                     address=address, transport=transport,
                                     message_id=str(msg["Message-ID"])))
    if transport == "outbox":
        return SendResult("sent", f"#{iid}: application to {address} {delivery.detail} "
                          "(the local tracker sends nothing)")
    return SendResult("sent", f"#{iid}: application sent to {address} ({delivery.detail})")

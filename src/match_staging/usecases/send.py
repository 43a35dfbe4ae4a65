"""The application email a send hands over: the draft cover letter with the match's
attachments, from the record the bot staged.

Nothing is ever sent from any state but `approved` (the labels, the bot's audit notes and
GitLab's label events all say so), only what was staged (the description as the bot wrote
it: refused when anyone else edited it), and nothing twice: before the email goes out the
bot writes a "sending" note; a run that finds that mark refuses to send again until the user
has checked the outbox and passes --force. A failure that certainly sent nothing (the server
refused) is noted, which settles the mark. The gate (usecases/gate.py) decides and records
all of that; this module only builds the email.
"""

from __future__ import annotations

import mimetypes
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from match_staging import attachments, record, render
from match_staging.channels.base import Mailer
from match_staging.config import Config


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

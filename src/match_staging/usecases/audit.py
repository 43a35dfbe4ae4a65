"""The audit trail: the note each step of the gate writes on its issue (who, when, what,
in which pipeline), rendered from audit_note.md.j2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from match_staging import record, render, workflow
from match_staging.context import Context


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
    why: str = ""  # why the scheduled run moved it (expired, ghosted: issue 23)


def audit_note(ctx: Context, entry: AuditEntry) -> str:
    """The note of one step: audit_note.md.j2 with the entry, the time in the configured
    zone and a link to the pipeline.
    """
    cfg, decision = ctx.cfg, entry.decision
    when = ctx.clock().astimezone(ZoneInfo(cfg.timezone)).strftime("%Y-%m-%d %H:%M %Z")
    pipeline = ctx.pipeline
    link = render.link(pipeline.url, f"pipeline {pipeline.id}".strip()) if pipeline.url else ""
    note = render.render(
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
        why=entry.why,
    )
    # the reason once more as a record of the bot's, which `stats` counts (record.note_reason)
    return f"{note.rstrip()}\n\n{record.reason_marker(entry.comment)}" if entry.comment else note

"""Preview: render the issues and every notification of a cycle into outbox/, without
creating or sending anything, so a user can see exactly what would go out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

from match_staging import notices
from match_staging.channels import Outbox, safe_folder_name
from match_staging.channels.base import Delivery
from match_staging.context import Context
from match_staging.errors import InputError
from match_staging.matches import Batch
from match_staging.model import IssueRef
from match_staging.trackers.base import Upload
from match_staging.usecases.notify import payloads
from match_staging.usecases.stage import issue_draft


@dataclass
class PreviewReport:
    """Where the preview went and what it holds."""

    folder: Path
    issues: list[Path] = field(default_factory=list)
    messages: list[Delivery] = field(default_factory=list)
    rejected: list[InputError] = field(default_factory=list)


def preview(ctx: Context, batch: Batch, project_url: str) -> PreviewReport:
    """Write each eligible match's issue and every channel's message for the cycle to
    outbox/preview/CYCLE/; nothing is created or sent (`ctx.channels` only render).
    """
    cfg, now = ctx.cfg, ctx.clock()
    eligible = [m for m in batch.matches if m.score >= cfg.threshold]
    cycle = next(
        (m.cycle_id for m in eligible if m.cycle_id),
        now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    folder = Path(cfg.staging.outbox) / "preview" / safe_folder_name(cycle)
    folder.mkdir(parents=True, exist_ok=True)
    report = PreviewReport(folder=folder)
    items = []
    for number, match in enumerate(eligible, start=1):
        uploads = [
            Upload(Path(a).name, f"/uploads/(preview)/{Path(a).name}") for a in match.attachments
        ]
        try:
            draft = issue_draft(cfg, match, uploads)
        except InputError as exc:
            report.rejected.append(exc)
            continue
        path = folder / f"issue-{number}.md"
        path.write_text(
            f"# {draft.title}\n\nLabels: {', '.join(draft.labels)}\n\n{draft.description}",
            encoding="utf-8",
        )
        report.issues.append(path)
        ref = IssueRef(
            iid=number,
            title=draft.title,
            labels=draft.labels,
            state="opened",
            web_url=f"{project_url}/-/issues/{number}",
        )
        items.append(notices.Notice.of(match, ref))
    if items:
        for channel in ctx.channels:
            writer = Outbox(channel, folder.parent)
            report.messages += [writer.send(p) for p in payloads(cfg, "new", cycle, items)]
    return report

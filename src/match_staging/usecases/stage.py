"""Stage: turn every new match at or above the threshold into exactly one issue.

Cost per run (issue #2, "Economy"): one label listing (plus one create per missing label,
once per project), the cheaper of per-key searches or one listing page per 100 staged
issues, one upload per distinct attachment, one create per new match. Nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from match_staging import attachments, render
from match_staging.config import Config
from match_staging.errors import InputError, TrackerError
from match_staging.labels import label_specs, score_label, state_label
from match_staging.matches import Batch
from match_staging.model import IssueDraft, IssueRef, Match, State
from match_staging.trackers.base import Tracker, Upload


@dataclass
class StageReport:
    tracker: str = ""
    staged: list[tuple[Match, IssueRef]] = field(default_factory=list)
    existing: list[tuple[Match, IssueRef]] = field(default_factory=list)
    repeated: list[tuple[Match, Match]] = field(default_factory=list)  # same match twice now
    below: list[Match] = field(default_factory=list)
    rejected: list[InputError] = field(default_factory=list)
    failed: list[tuple[Match, str]] = field(default_factory=list)
    requests: int = 0
    threshold: float = 0

    @property
    def ok(self) -> bool:
        return not self.rejected and not self.failed


def issue_draft(cfg: Config, match: Match, uploads: Sequence[Upload]) -> IssueDraft:
    """The issue a match becomes (pure: no I/O)."""
    names = cfg.labels
    rate = match.rate
    if rate and rate.replace(".", "", 1).isdigit():
        rate = f"{rate} EUR/h"  # OPS-004 writes bare numbers as hourly euros
    description = render.render(
        "issue.md.j2", cfg.staging.templates_dir, m=match, rate=rate,
        marker=render.key_marker(match.keys),
        attachments=[render.link(u.url, u.name) for u in uploads],
    )
    assignee = cfg.notification.channels.gitlab_todo.assignee_id
    return IssueDraft(
        title=render.issue_title(match.score, match.title),
        description=description,
        labels=(names.match, state_label(names, State.PENDING),
                score_label(names, match.score)),
        keys=match.keys,
        assignee_ids=(assignee,) if assignee else (),
    )


def stage(cfg: Config, tracker: Tracker, batch: Batch, root: Path) -> StageReport:
    report = StageReport(tracker=tracker.kind, rejected=list(batch.errors),
                         threshold=cfg.threshold)
    eligible: list[Match] = []
    first_seen: dict[str, Match] = {}
    for match in batch.matches:
        if match.score < cfg.threshold:
            report.below.append(match)
            continue
        twin = next((first_seen[k] for k in match.keys if k in first_seen), None)
        if twin is not None:
            report.repeated.append((match, twin))
            continue
        first_seen.update({k: match for k in match.keys})
        eligible.append(match)

    if eligible:
        _stage_new(cfg, tracker, eligible, root, report)
    report.requests = tracker.requests
    return report


def _stage_new(cfg: Config, tracker: Tracker, eligible: list[Match], root: Path,
               report: StageReport) -> None:
    expected = tracker.prepare(label_specs(cfg.labels), cfg.labels.match)
    known = tracker.find_by_keys([k for m in eligible for k in m.keys],
                                 label=cfg.labels.match, expected=expected)
    max_bytes = int(cfg.staging.max_attachment_mb * 1024 * 1024)
    uploaded: dict[Path, Upload] = {}  # one upload per file per run, markdown reused
    for match in eligible:
        holder = next((known[k] for k in match.keys if k in known), None)
        if holder is not None:
            report.existing.append((match, holder))
            continue
        files: list[Path] = []
        for index, rel in enumerate(match.attachments):
            found = attachments.resolve(root, rel, max_bytes)
            if isinstance(found, str):
                report.rejected.append(InputError(match.source, f"{rel!r} {found}",
                                                  match=match.label,
                                                  field=f"attachments[{index}]"))
            else:
                files.append(found)
        if len(files) != len(match.attachments):
            continue
        try:
            for path in files:
                if path not in uploaded:
                    uploaded[path] = tracker.upload(path)
            issue = tracker.create_issue(issue_draft(cfg, match, [uploaded[p] for p in files]))
        except TrackerError as exc:
            report.failed.append((match, str(exc)))
            continue
        known.update({k: issue for k in match.keys})
        report.staged.append((match, issue))

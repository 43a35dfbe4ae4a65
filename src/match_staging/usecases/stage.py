"""Stage: turn every new match at or above the threshold into exactly one issue.

Cost per run (issue #2, "Economy"): one label listing (plus one create per missing label,
once per project), the cheaper of per-key searches or one listing page per 100 staged
issues, one upload per distinct attachment, one create per new match; with channels on, the
delivery queue (usecases/notify.py): what it owes is read, sent and recorded once per run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

from match_staging import attachments, delivery, notices, record, render
from match_staging.config import Config
from match_staging.context import Context
from match_staging.errors import InputError, RunLogLost, TrackerError
from match_staging.labels import label_specs, score_label, state_label
from match_staging.matches import Batch
from match_staging.model import IssueDraft, IssueRef, Match, State
from match_staging.trackers.base import Tracker, Upload
from match_staging.usecases.notify import (
    NotifyReport,
    announced,
    deliver,
    gather,
    read_queue,
)

DESCRIPTION_MAXBYTES = 1_048_576  # GitLab counts bytes: Issuable, `bytesize: { maximum: }`
# What is shown of the draft and notes (each, in UTF-8 bytes) and of each score-breakdown
# cell (characters) when the full text does not fit; tried in turn until the issue fits.
# The notice marker always keeps the full match, which is what `send` uses.
SHORTENED = ((40_000, 200), (10_000, 100), (2_000, 50), (500, 20))


@dataclass
class StageReport:
    """What became of each match of the batch, and of the notifications about them."""

    staged: list[tuple[Match, IssueRef]] = field(default_factory=list)
    existing: list[tuple[Match, IssueRef]] = field(default_factory=list)
    repeated: list[tuple[Match, Match]] = field(default_factory=list)  # same match twice now
    below: list[Match] = field(default_factory=list)
    rejected: list[InputError] = field(default_factory=list)
    failed: list[tuple[Match, str]] = field(default_factory=list)
    threshold: float = 0
    notify: NotifyReport = field(default_factory=NotifyReport)

    @property
    def ok(self) -> bool:
        """Nothing rejected or failed."""
        return not self.rejected and not self.failed and self.notify.ok


def issue_draft(cfg: Config, match: Match, uploads: Sequence[Upload]) -> IssueDraft:
    """The issue a match becomes (pure: no I/O)."""
    names = cfg.labels
    marker = record.description_head(match)  # the full match, always
    links = [render.link(u.url, u.name) for u in uploads]
    description = render.render(
        "issue.md.j2",
        cfg.staging.templates_dir,
        m=match,
        marker=marker,
        attachments=links,
        shortened=False,
    )
    for shown_bytes, cell in SHORTENED:
        if _size(description) <= DESCRIPTION_MAXBYTES:
            break
        # Escaping and multi-byte text (umlauts: 2 bytes, emoji: 4) can make a schema-valid
        # match larger than GitLab takes: show less of it
        rows = tuple(
            dataclasses.replace(
                r,
                requirement=render.truncate(r.requirement, cell),
                comment=render.truncate(r.comment, cell) if r.comment else None,
            )
            for r in match.requirements
        )
        shown = dataclasses.replace(
            match,
            draft=_cut(match.draft, shown_bytes),
            notes=_cut(match.notes, shown_bytes),
            requirements=rows,
        )
        description = render.render(
            "issue.md.j2",
            cfg.staging.templates_dir,
            m=shown,
            marker=marker,
            attachments=links,
            shortened=True,
        )
    if _size(description) > DESCRIPTION_MAXBYTES:
        raise InputError(
            match.source,
            f"the issue would be {_size(description):,} bytes, "
            f"more than GitLab's {DESCRIPTION_MAXBYTES:,}: shorten the draft",
            match=match.label,
        )
    todo = cfg.notification.channels.gitlab_todo
    assignee = todo.assignee_id if todo.enabled else None
    return IssueDraft(
        title=render.issue_title(match.score, match.title),
        description=description,
        labels=(names.match, state_label(names, State.PENDING), score_label(names, match.score)),
        keys=match.keys,
        assignee_ids=(assignee,) if assignee else (),
    )


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _cut(text: str | None, max_bytes: int) -> str | None:
    """At most `max_bytes` of UTF-8, cut at a character boundary, "…" when cut."""
    if text is None or _size(text) <= max_bytes:
        return text
    if max_bytes < 3:  # no room even for the ellipsis
        return ""
    kept = text.encode("utf-8")[: max_bytes - 3].decode("utf-8", "ignore")
    return kept.rstrip() + "…"


def stage(ctx: Context, batch: Batch) -> StageReport:
    """Stage new matches, then notify on every channel about them (and about matches of
    this run that an earlier run staged but could not notify).
    """
    cfg, tracker, channels = ctx.cfg, ctx.tracker, ctx.channels
    report = StageReport(rejected=list(batch.errors), threshold=cfg.threshold)
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
        _stage_new(cfg, tracker, eligible, ctx.root, report)
        now = ctx.clock()
        cycle = next(
            (m.cycle_id for m in eligible if m.cycle_id),
            now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        if channels:  # this run's matches, and whatever earlier runs still owe
            report.notify = _notify(ctx, report, cycle)
    return report


def _notify(ctx: Context, report: StageReport, cycle: str) -> NotifyReport:
    """Queue the new issues on every channel, and send them together with everything the
    queue owes from earlier runs (a run that stopped after creating issues, a channel that
    failed, quiet hours): a retried job finishes what the failed one owed.
    """
    fresh = {
        ref.iid: (notices.Notice.of(m, ref), record.fingerprint(ref.description))
        for m, ref in report.staged
    }
    try:
        found = read_queue(ctx.tracker)
        before = found.to_data() if found else None
        queue = found or delivery.Queue()  # none yet: every match the bot staged is owed
        owed = gather(ctx, queue, fresh)
    except RunLogLost as exc:  # says itself what was sent (nothing) and what to do
        return NotifyReport(unrecorded=[str(exc)])
    except TrackerError as exc:
        return NotifyReport(
            unrecorded=[
                f"{exc}: nothing was sent; the next `stage` or `digest` announces these matches"
            ]
        )
    dirty = queue.to_data() != before
    return announced(
        deliver(ctx, queue, owed.notices, kind="new", cycle_id=cycle, dirty=dirty), owed
    )


def _stage_new(
    cfg: Config, tracker: Tracker, eligible: list[Match], root: Path, report: StageReport
) -> None:
    expected = tracker.prepare(label_specs(cfg.labels), cfg.labels.match)
    known = tracker.find_by_keys(
        [k for m in eligible for k in m.keys],
        label=cfg.labels.match,
        expected=expected,
        editors=cfg.workflow.reviewers,  # a reviewer's edit of a draft keeps the match's key
    )
    uploaded: dict[Path, Upload] = {}  # one upload per file per run, markdown reused
    for match in eligible:
        holder = next((known[k] for k in match.keys if k in known), None)
        if holder is not None:
            report.existing.append((match, holder))
            continue
        files, problems = attachments.check(
            root,
            match.attachments,
            cfg.staging.max_attachment_bytes,
            source=match.source,
            match=match,
        )
        if problems:
            report.rejected.extend(problems)
            continue
        try:
            for path in files:
                if path not in uploaded:
                    uploaded[path] = tracker.upload(path)
            draft = issue_draft(cfg, match, [uploaded[p] for p in files])
            issue = tracker.create_issue(draft)
        except InputError as exc:
            report.rejected.append(exc)
            continue
        except TrackerError as exc:
            report.failed.append((match, str(exc)))
            continue
        known.update({k: issue for k in match.keys})
        report.staged.append((match, issue))

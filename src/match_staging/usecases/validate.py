"""`validate`: check match documents and their attachments; change nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from match_staging import attachments
from match_staging.errors import InputError
from match_staging.matches import Batch
from match_staging.render import fmt_score


@dataclass
class ValidateReport:
    """A line per match and per problem, in the order of the documents and the matches in
    them; the counts for the summary.
    """

    lines: list[str] = field(default_factory=list)
    valid: int = 0
    errors: list[InputError] = field(default_factory=list)
    documents: int = 0

    def summary(self) -> str:
        """The last line of the run."""
        return (
            f"{self.valid} valid match(es), {len(self.errors)} problem(s) in "
            f"{self.documents} document(s)"
        )


def validate(batch: Batch, root: Path, max_attachment_bytes: int) -> ValidateReport:
    """Each match of `batch` with its attachments (read below `root`) checked."""
    report = ValidateReport(errors=list(batch.errors), documents=len(batch.sources))
    # (source, position, line): printed in the order of the files and the matches in them
    lines: list[tuple[str, int, str]] = []
    for match in batch.matches:
        _, problems = attachments.check(
            root, match.attachments, max_attachment_bytes, source=match.source, match=match
        )
        report.errors.extend(problems)
        if not problems:
            report.valid += 1
            lines.append(
                (
                    match.source,
                    match.position,
                    f"ok        {match.source}: {match.label}  {fmt_score(match.score)}%",
                )
            )
    lines += [(error.source, error.position, f"invalid   {error}") for error in report.errors]
    order = {source: rank for rank, source in enumerate(batch.sources)}
    report.lines = [
        line for _, _, line in sorted(lines, key=lambda x: (order.get(x[0], len(order)), x[1]))
    ]
    return report

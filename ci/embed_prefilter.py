#!/usr/bin/env python3
"""Copy ci/prefilter.py into the review-gate component (templates/review-gate.yml), where the
transition job runs it from a heredoc: a CI/CD component brings only its YAML into the
including project's pipeline, never a file beside it, and the prefilter must run before
anything is installed (issue 11).

    python3 ci/embed_prefilter.py          # rewrite the component's copy
    python3 ci/embed_prefilter.py --check  # exit 1 when the copy differs (a test runs it)
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PREFILTER = ROOT / "ci" / "prefilter.py"
COMPONENT = ROOT / "templates" / "review-gate.yml"
MARKER = "MATCH_STAGING_PREFILTER"
INDENT = " " * 6  # the literal block of the transition job's before_script


def embedded(component: str, prefilter: str) -> str:
    """The component's text with `prefilter` between the heredoc's two marker lines."""
    lines = component.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if f"<<'{MARKER}'" in line)
    end = next(i for i in range(start + 1, len(lines)) if lines[i].strip() == MARKER)
    body = [INDENT + line if line.strip() else "\n" for line in prefilter.splitlines(True)]
    if MARKER in prefilter or "$[[" in prefilter:
        raise ValueError(f"{PREFILTER.name} may not hold {MARKER} or $[[ (an interpolation)")
    return "".join([*lines[: start + 1], *body, *lines[end:]])


def main(argv: list[str]) -> int:
    """Rewrite the component, or with --check say whether its copy is current."""
    current = COMPONENT.read_text(encoding="utf-8")
    wanted = embedded(current, PREFILTER.read_text(encoding="utf-8"))
    if "--check" in argv:
        if wanted != current:
            print(f"{COMPONENT.name}: its prefilter differs from ci/prefilter.py: run {__file__}")
            return 1
        return 0
    COMPONENT.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

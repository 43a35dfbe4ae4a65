"""The mutation score per module, from the results `mutmut run` left in mutants/.

    mutmut run --max-children 1 "match_staging.quiet*"   # one module at a time
    python benchmarks/mutation_score.py                   # a Markdown table, one row a module
    python benchmarks/mutation_score.py --survivors       # and every mutant that lived

A mutant counts as killed when a test failed, timed out or the type checker refused it; a
mutant no selected test reaches ("no tests") counts as a survivor: nothing would catch it.
Mutants not run yet are left out, so a partial run scores what it ran.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

KILLED = {1, 3, 24, -24, 152, 255, 36, 37}  # mutmut's stats.py: killed, timeout, type check
SURVIVED = {0}
NO_TESTS = {5, 33}


def _module(meta: Path, root: Path) -> str:
    return str(meta.relative_to(root).with_suffix("")).removeprefix("src/")


def scores(root: Path) -> dict[str, Counter[str]]:
    """Counts of killed / survived / no tests per module, from mutmut's .meta files."""
    table: dict[str, Counter[str]] = {}
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        counts: Counter[str] = Counter()
        for code in codes.values():
            if code is None:
                continue  # not run (yet)
            if code in KILLED:
                counts["killed"] += 1
            elif code in SURVIVED:
                counts["survived"] += 1
            elif code in NO_TESTS:
                counts["no tests"] += 1
            else:
                counts["suspicious"] += 1
        if counts:
            table[_module(meta, root)] = counts
    return table


def survivors(root: Path) -> list[str]:
    """The names of the mutants that lived or that no test reached (`mutmut show NAME`)."""
    names = []
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        names += [k for k, v in sorted(codes.items()) if v in SURVIVED | NO_TESTS]
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=Path, default=Path("mutants"))
    parser.add_argument("--survivors", action="store_true")
    args = parser.parse_args()
    table = scores(args.mutants)
    total: Counter[str] = Counter()
    print("| module | mutants | killed | survived | no tests | score |")
    print("|---|---:|---:|---:|---:|---:|")
    for module, counts in table.items():
        total += counts
        run = sum(counts.values())
        print(
            f"| {module} | {run} | {counts['killed']} | {counts['survived']} "
            f"| {counts['no tests']} | {100 * counts['killed'] / run:.1f} % |"
        )
    run = sum(total.values())
    if run:
        print(
            f"| **all** | {run} | {total['killed']} | {total['survived']} "
            f"| {total['no tests']} | **{100 * total['killed'] / run:.1f} %** |"
        )
    if args.survivors:
        print()
        print("\n".join(survivors(args.mutants)))


if __name__ == "__main__":
    main()

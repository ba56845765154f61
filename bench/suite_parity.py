"""Whether two versions of the hidden suites grade alike: the reference and every mutant,
check by check.

``record`` grades, with the fast checks and grading seed 0, the reference and every mutant of
each homework, as ``rlhw audit`` does, and writes every check's score; ``compare`` reads two
such files and prints every check whose score differs, with the count of checks compared.
Run ``record`` in each tree (the older one from a worktree: ``git worktree add /tmp/old
<commit>``, then ``PYTHONPATH=/tmp/old`` so that its ``autograder`` is the one imported)::

    PYTHONPATH=/tmp/old python bench/suite_parity.py record hw1 hw2 hw3 --out old.json
    python bench/suite_parity.py record hw1 hw2 hw3 --out new.json
    python bench/suite_parity.py compare old.json new.json    # exits 1 on any difference
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

from autograder import audit
from autograder.sandbox import PROJECT_ROOT

SEED = 0


def _grade(hw: str, name: str) -> tuple[str, dict[str, float]]:
    """Every fast check's score of the reference (``name`` ``reference``) or a mutant."""
    if name == "reference":
        graded = audit.grade_one(hw, "reference", name, SEED, None, True)
    else:
        (mutant,) = [m for m in audit.load_mutants(hw) if m.name == name]
        graded = audit.grade_one(hw, "mutant", name, SEED, mutant, True)
    return name, {row.check: row.score for row in graded.rows}


def record(hws: list[str], jobs: int) -> dict[str, Any]:
    """``{hw: {"reference" or mutant name: {check name: score}}}``, with the tree graded."""
    results: dict[str, Any] = {"tree": str(PROJECT_ROOT), "seed": SEED, "homeworks": {}}
    context = multiprocessing.get_context("spawn")
    for hw in hws:
        started = time.monotonic()
        names = ["reference", *(m.name for m in audit.load_mutants(hw))]
        with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context) as pool:
            graded = dict(pool.map(_grade, [hw] * len(names), names))
        results["homeworks"][hw] = {name: graded[name] for name in names}
        seconds = time.monotonic() - started
        print(f"{hw}: the reference and {len(names) - 1} mutants graded in {seconds:.0f} s")
    return results


def compare(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """One line per difference between two records: a submission or a check that one of them
    lacks, or a score that differs."""
    lines = []
    for hw in sorted(set(old["homeworks"]) | set(new["homeworks"])):
        before, after = old["homeworks"].get(hw, {}), new["homeworks"].get(hw, {})
        for name in sorted(set(before) | set(after)):
            if name not in before or name not in after:
                lines.append(f"{hw} {name}: only in {'new' if name in after else 'old'}")
                continue
            checks = set(before[name]) | set(after[name])
            for check in sorted(checks):
                a, b = before[name].get(check), after[name].get(check)
                if a != b:
                    lines.append(f"{hw} {name} / {check}: {a} -> {b}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("record", help="grade and write every check's score")
    rec.add_argument("hws", nargs="+", help="homeworks, e.g. hw1 hw2 hw3")
    rec.add_argument("--out", type=Path, required=True)
    rec.add_argument("--jobs", type=int, default=2)
    cmp = commands.add_parser("compare", help="print the checks whose scores differ")
    cmp.add_argument("old", type=Path)
    cmp.add_argument("new", type=Path)
    args = parser.parse_args(argv)
    if args.command == "record":
        args.out.write_text(json.dumps(record(args.hws, args.jobs), indent=1) + "\n")
        print(f"wrote {args.out}")
        return 0
    old, new = (json.loads(path.read_text()) for path in (args.old, args.new))
    differences = compare(old, new)
    checks = sum(len(scores) for hw in old["homeworks"].values() for scores in hw.values())
    print(f"{old['tree']} against {new['tree']}: {checks} check scores compared")
    print("\n".join(differences) if differences else "no difference")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())

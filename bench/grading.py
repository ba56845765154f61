"""The autograder's budgets for hw2 (DESIGN.md §7): one submission's fast checks, the whole
suite with its learning curves, and a batch in parallel.

    python bench/grading.py [--submissions 20] [--jobs 2]

Grades the reference with the fast checks (budget 60 s, worker start-up included) and with the
whole suite (budget 10 min), then a batch of submissions (the reference, three mutants and the
bare starter, in turn: ``cluster_grading.make_submissions``) on the fast checks, one after
another and with ``--jobs`` processes, and prints the ratio parallel / sequential (the goal is
< 0.6 with 2 jobs on 2 cores).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cluster_grading import make_submissions

from autograder.grade import grade_many, grade_submission


def timed(fn: Callable[..., object], *args: Any, **kwargs: Any) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--skip-whole", action="store_true", help="leave out the whole-suite grading (minutes)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        submissions = make_submissions(folder / "in", args.submissions)
        one = timed(grade_submission, submissions[0], "hw2", folder / "one", fast=True)
        print(f"fast checks of hw2, one submission (worker start-up included): {one:.1f} s")
        if not args.skip_whole:
            whole = timed(grade_submission, submissions[0], "hw2", folder / "whole")
            print(f"whole hw2 suite, learning curves included, one submission: {whole:.1f} s")
        sequential = timed(grade_many, submissions, "hw2", folder / "seq", jobs=1, fast=True)
        parallel = timed(grade_many, submissions, "hw2", folder / "par", jobs=args.jobs, fast=True)
    print(
        f"{args.submissions} submissions, fast checks: {sequential:.1f} s one after another, "
        f"{parallel:.1f} s with --jobs {args.jobs} (ratio {parallel / sequential:.2f})"
    )


if __name__ == "__main__":
    main()

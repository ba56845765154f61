"""How close the reference comes to a learning check's bar: the check graded on the reference
under several grading seeds (each draws its own training seed and secret evaluation seeds).

Prints each grading's score and mean return at each milestone, with the thresholds::

    python bench/learning_reliability.py hw3 "learning curve: CartPole-v1" --seeds 1 2 3 4
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from autograder.grade import run_checks, suite_of, suite_sandbox_options
from autograder.mutants import copy_homework
from autograder.sandbox import PROJECT_ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("hw")
    parser.add_argument("check", help="the learning check's name")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    args = parser.parse_args()
    suite = suite_of(args.hw)
    (check,) = [c for c in suite.all_checks if c.name == args.check]
    with tempfile.TemporaryDirectory() as folder:
        root = copy_homework(PROJECT_ROOT, suite.package, Path(folder))
        for seed in args.seeds:
            started = time.monotonic()
            (result,) = run_checks(
                root, [check], seed, sandbox_options=suite_sandbox_options(args.hw)
            )
            milestones = [line.strip() for line in result.output.splitlines() if " steps: " in line]
            seconds = time.monotonic() - started
            print(f"seed {seed}: {result.score:g}/{check.points:g} in {seconds:.0f} s")
            for line in milestones:
                print(f"    {line}")


if __name__ == "__main__":
    main()

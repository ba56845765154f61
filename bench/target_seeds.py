"""How many seeds of a learning check's reference reach its target, as calibration judges them.

    python bench/target_seeds.py hw3 CartPole-v1 --seeds 0-15 --jobs 2
    python bench/target_seeds.py hw3 CartPole-v1 --seeds 0-15 --set learning_rate_end=0.0

Trains the reference of the homework's learning task (``rlhw calibrate``'s runs: the preset
over the check's milestones, judged on the grader's own evaluation episodes) on every seed,
with each ``--set FIELD=VALUE`` (a Python literal) applied to the preset, and prints each seed's
mean return per milestone, then how many seeds reach the target (the preset's ``Target``:
``return_mean`` within ``within`` steps) and the lowest return per milestone, which sets the
grading bar. Nothing is written. Use it before changing a preset or a target: ``rlhw calibrate``
refuses a calibration in which more seeds miss the target than the target allows.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses

import numpy as np

from autograder.learning import _reference_runs, learning_tasks, target_shortfalls


def seed_range(text: str) -> list[int]:
    """``0-15`` or ``0,3,7``."""
    if "-" in text:
        first, last = text.split("-")
        return list(range(int(first), int(last) + 1))
    return [int(seed) for seed in text.split(",")]


def setting(text: str) -> tuple[str, object]:
    """``FIELD=VALUE``, the value a Python literal."""
    field, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected FIELD=VALUE, got {text!r}")
    try:
        return field, ast.literal_eval(value)
    except (ValueError, SyntaxError) as error:
        raise argparse.ArgumentTypeError(f"expected a Python literal, got {value!r}") from error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("hw", help="homework, e.g. hw3")
    parser.add_argument("task", help="learning task, e.g. CartPole-v1")
    parser.add_argument("--seeds", type=seed_range, default=list(range(8)), help="0-15 or 0,3")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (default 1)")
    parser.add_argument("--set", type=setting, action="append", default=[], metavar="FIELD=VALUE")
    args = parser.parse_args()
    tasks = {task.name: task for task in learning_tasks(args.hw)}
    if args.task not in tasks:
        parser.error(f"expected one of {sorted(tasks)}, got {args.task!r}")
    task = tasks[args.task]
    unknown = [field for field, _ in args.set if field not in task.config]
    if unknown:
        parser.error(f"expected fields of the preset ({sorted(task.config)}), got {unknown}")
    task = dataclasses.replace(task, config={**task.config, **dict(args.set)})
    returns = _reference_runs([task], args.seeds, args.jobs, print)[task.name]
    missed = target_shortfalls(task, args.seeds, returns)
    print(*missed, sep="\n")
    if task.target is not None:
        reached = len(args.seeds) - len(missed)
        print(
            f"{reached}/{len(args.seeds)} seeds reach {task.target.return_mean:g} within "
            f"{task.target.within} steps (the target asks for {task.target.share_of_seeds:g})"
        )
    lowest = np.round(returns.min(axis=1), 1).tolist()
    print(f"lowest return at milestones {list(task.milestones)}: {lowest}")


if __name__ == "__main__":
    main()

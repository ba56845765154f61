"""What grading a course costs, and what a cluster buys (DESIGN.md §7 and §8).

    python bench/cluster_grading.py [--submissions 40] [--full hw1 hw2 hw3 hw4 hw5]
                                    [--students 500 --hours 2 --cores-per-node 16]

1. A batch of ``--submissions`` hw2 submissions (the reference, three mutants and the bare
   starter, in turn), ``--fast``: one after another (one grader process), ``--jobs 2`` on this
   machine, and on a Ray cluster of 2 CPUs started on this machine (its start is timed apart:
   a standing cluster does not pay it per batch). Wall times and their ratios to the first.
2. One full grading (learning-curve checks included) of each homework of ``--full``: the
   reference, graded in a process of its own, whose CPU time (its own and its sandboxes',
   all of it: :func:`full_grading`) is the cost in core-minutes. The reference trains to the
   last milestone of each learning-curve check, so a student's grading costs at most about as
   much.
3. From 2, the core-hours one homework costs a course of ``--students``, and the cores (and
   nodes of ``--cores-per-node``) that grade it within ``--hours``.

Wall times depend on the machine's load: say what else ran.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.audit import starter_root
from autograder.batch import Backend, grade_batch
from autograder.grade import suite_of
from autograder.mutants import apply_mutant, copy_homework
from autograder.mutants.hw2 import MUTANTS

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "hw2_policy_gradient"


def make_submissions(folder: Path, count: int) -> list[Path]:
    """``count`` hw2 submissions: the reference, three mutants and the bare starter, in turn."""
    submissions = []
    for i in range(count):
        dest = folder / f"submission{i:02d}"
        kind = i % 5
        if kind == 0:
            copy_homework(ROOT, PACKAGE, dest)
        elif kind == 4:
            starter_root(ROOT, PACKAGE, dest)
        else:
            apply_mutant(ROOT, MUTANTS[(i // 5 * 3 + kind) % len(MUTANTS)], dest)
        submissions.append(dest)
    return submissions


def batches(count: int) -> None:
    import ray

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        subs = make_submissions(folder / "in", count)
        times = {}
        for label, backend in [
            ("one after another", Backend(jobs=1)),
            ("--jobs 2", Backend(jobs=2)),
        ]:
            started = time.perf_counter()
            batch = grade_batch(subs, "hw2", folder / label, backend, fast=True, progress=False)
            times[label] = time.perf_counter() - started
            assert len(batch.graded) == count, batch.failed
        started = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        ray_start = time.perf_counter() - started
        try:
            started = time.perf_counter()
            batch = grade_batch(
                subs, "hw2", folder / "ray", Backend("ray"), fast=True, progress=False
            )
            times["Ray, 2 CPUs"] = time.perf_counter() - started
            assert len(batch.graded) == count, batch.failed
        finally:
            ray.shutdown()
    base = times["one after another"]
    print(f"{count} hw2 submissions, --fast:")
    for label, seconds in times.items():
        print(f"  {label:<18} {seconds:7.1f} s  (ratio {seconds / base:.2f})")
    print(f"  (starting the Ray cluster of 2 CPUs, apart: {ray_start:.1f} s)")


_GRADE_ONE = """
import sys, tempfile
from pathlib import Path
from autograder.grade import grade_submission
from autograder.mutants import copy_homework
hw, package = sys.argv[1], sys.argv[2]
with tempfile.TemporaryDirectory() as tmp:
    root = copy_homework(Path(sys.argv[3]), package, Path(tmp) / "reference")
    results = grade_submission(root, hw, Path(tmp) / "out")
print(results["score"], results["max_score"], len(results["tests"]))
"""


CPUACCT = Path("/sys/fs/cgroup/cpuacct")  # cgroup v1's CPU accounting, where mounted


def full_grading(hw: str) -> tuple[float, float, str, str]:
    """``(wall seconds, CPU seconds, score line, how the CPU was counted)`` of one full grading
    of ``hw``'s reference, in a process of its own.

    The CPU time is that of every process the grading started: counted by a cgroup of its own
    where cgroup v1's ``cpuacct`` can be written (as root); else by the process's rusage, which
    misses the sandboxes' inits that outlive the process that waited for them (an
    undercount, said so)."""
    package = suite_of(hw).package
    argv = [sys.executable, "-c", _GRADE_ONE, hw, package, str(ROOT)]
    path = CPUACCT / f"rlhw-bench-{os.getpid()}-{hw}"
    try:
        path.mkdir()
        group: Path | None = path
    except OSError:
        group = None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    join = None if group is None else (lambda: (group / "cgroup.procs").write_text("0"))
    done = subprocess.run(
        argv, capture_output=True, text=True, check=True, cwd=ROOT, preexec_fn=join
    )
    wall = time.perf_counter() - started
    if group is not None:
        cpu, how = int((group / "cpuacct.usage").read_text()) / 1e9, "cgroup cpuacct"
        with contextlib.suppress(OSError):  # busy only if a process outlived its grading
            group.rmdir()
    else:
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        how = "rusage (an undercount)"
    return wall, cpu, done.stdout.strip().splitlines()[-1], how


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--submissions", type=int, default=40, help="0: no batch")
    parser.add_argument("--full", nargs="*", default=["hw1", "hw2", "hw3", "hw4", "hw5"])
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--cores-per-node", type=int, default=16)
    args = parser.parse_args()
    print(f"load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.submissions:
        batches(args.submissions)
    for hw in args.full:
        learning = len(suite_of(hw).learning)
        wall, cpu, line, how = full_grading(hw)
        core_minutes = cpu / 60
        core_hours = args.students * core_minutes / 60
        cores = math.ceil(core_hours / args.hours)
        nodes = math.ceil(cores / args.cores_per_node)
        print(
            f"{hw}: full grading ({learning} learning-curve checks; score, max, checks: {line}) "
            f"{wall:.0f} s wall, {core_minutes:.1f} core-minutes ({how}); "
            f"{args.students} students: "
            f"{core_hours:.1f} core-hours, {cores} cores ({nodes} nodes of "
            f"{args.cores_per_node}) to grade within {args.hours:g} h"
        )
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

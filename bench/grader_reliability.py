"""The grader's reliability on the reference: graded many times with the fast checks, full
marks every time, valid reports every time, and nothing left on the machine afterwards.

    python bench/grader_reliability.py [--hw hw1 hw2 hw3] [--times 100] [--jobs 2]

Each homework's reference is graded ``--times`` times (``grade_many`` with ``--jobs``
processes, each submission in its own sandbox, as ``rlhw grade`` does), and the script prints,
per homework: how many gradings got full marks, how many ``results.json`` files validate
against ``autograder/results_schema.json``, how many grader errors there were, and what the
gradings left behind that was not there before: processes of a sandbox user or with a sandbox
folder on their command line, System V IPC objects (``/proc/sysvipc``) and entries of the
shared temporary folders (``/tmp``, ``/var/tmp``, ``/dev/shm``, ``/run/lock``) outside the
output folder. It exits 1 if any grading fell short of full marks or left something behind.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import jsonschema

from autograder import report
from autograder.grade import grade_many, load_suite
from autograder.mutants import copy_homework
from autograder.sandbox import UID_RANGE

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "autograder" / "results_schema.json").read_text())
SHARED = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")


def sandbox_processes() -> list[str]:
    """``pid: command line`` of every process of a sandbox user or of a sandbox folder."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            uid = os.stat(f"/proc/{entry}").st_uid
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # ended meanwhile
        if uid in UID_RANGE or "rlhw-sandbox-" in command:
            found.append(f"{entry}: {command[:120]}")
    return found


def ipc_objects() -> set[str]:
    """Every System V shared memory segment, message queue and semaphore set, by kind and id."""
    objects = set()
    for kind in ("shm", "msg", "sem"):
        try:
            lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        except OSError:
            continue
        objects |= {f"{kind} {line.split()[1]}" for line in lines if line.split()}
    return objects


def shared_entries(exclude: Path) -> set[str]:
    """The entries of the shared temporary folders, but ``exclude`` and what lies in it."""
    entries = set()
    for folder in SHARED:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            if not (Path(path) == exclude or exclude.is_relative_to(path)):
                entries.add(path)
    return entries


def measure(hw: str, times: int, jobs: int) -> bool:
    """Grade ``hw``'s reference ``times`` times; print the figures; True if all held."""
    package, _ = load_suite(hw)
    with tempfile.TemporaryDirectory(prefix="rlhw-reliability-") as tmp:
        folder = Path(tmp)
        reference = folder / "reference"
        copy_homework(ROOT, package, reference)
        submissions = []
        for i in range(times):
            submission = folder / "in" / f"run{i:03d}"
            shutil.copytree(reference, submission)
            submissions.append(submission)
        before_files = shared_entries(folder)
        before_ipc = ipc_objects()
        started = time.perf_counter()
        staff = grade_many(submissions, hw, folder / "out", jobs=jobs, fast=True)
        seconds = time.perf_counter() - started
        full = valid = errors = 0
        for name in staff:
            results = json.loads((folder / "out" / name / "results.json").read_text())
            try:
                jsonschema.validate(results, SCHEMA)
                valid += 1
            except jsonschema.ValidationError:
                pass
            full += results["score"] == results["max_score"]
            errors += bool(report.grader_errors(staff[name]))
        time.sleep(1.0)  # a killed worker's init takes a moment to be reaped
        processes = sandbox_processes()
        ipc = sorted(ipc_objects() - before_ipc)
        files = sorted(shared_entries(folder) - before_files)
    print(
        f"{hw}: {times} gradings of the reference (--fast, --jobs {jobs}) in {seconds:.0f} s: "
        f"{full}/{times} full marks, {valid}/{times} valid results.json, {errors} with a grader "
        f"error; left behind: {len(processes)} processes, {len(ipc)} IPC objects, "
        f"{len(files)} files in {', '.join(SHARED)}"
    )
    for line in processes + ipc + files:
        print(f"  left: {line}")
    return full == times and valid == times and not (processes or ipc or files)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--hw", nargs="+", default=["hw1", "hw2", "hw3"])
    parser.add_argument("--times", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    held = [measure(hw, args.times, args.jobs) for hw in args.hw]
    sys.exit(0 if all(held) else 1)


if __name__ == "__main__":
    main()

"""The ``rlhw`` command: ``rlhw --help`` lists what it can do."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def _version() -> str:
    try:
        return version("rlhw")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlhw",
        description="Deep RL homework in a box: release homework, check and grade submissions.",
        epilog="Grading commands (check, grade, calibrate, audit) arrive with the rest of the "
        "autograder; see README.md.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"rlhw {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    release = commands.add_parser(
        "release",
        help="(instructors) write the student starter tree of a homework",
        description="Write OUT/hwN/student/: the homework with every solution region replaced "
        "by a stub, the shared infrastructure and the public tests. Refuses to leave a tree "
        "that leaks a solution line, a hidden test, calibration data or reference weights.",
    )
    release.add_argument("hw", help="homework, e.g. hw2 or hw2_policy_gradient")
    release.add_argument("--out", default="dist", help="output folder (default: dist)")
    return parser


def _release(hw: str, out: str) -> int:
    # Imported here: the student tree ships this file but not the engine.
    from autograder.release import ReleaseError, release_student

    try:
        student = release_student(hw, Path(out))
    except ReleaseError as error:
        print(f"rlhw release: {error}", file=sys.stderr)
        return 1
    print(f"wrote {student}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "release":
        return _release(args.hw, args.out)
    parser.print_help()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

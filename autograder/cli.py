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
        epilog="More commands (check, calibrate, audit) arrive with the rest of the "
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
    grade = commands.add_parser(
        "grade",
        help="(TAs) grade submissions with a homework's hidden suite",
        description="Grade each SUBMISSION (a folder or a .zip holding the homework package) in "
        "a sandbox. One submission: OUT/results.json (Gradescope's format) and a table. "
        "Several: OUT/<name>/results.json for each, OUT/grades.csv and a summary. Exits 0 "
        "once grading is done, whatever the scores.",
    )
    grade.add_argument("hw", help="homework, e.g. hw2 or hw2_policy_gradient")
    grade.add_argument("submissions", nargs="+", metavar="SUBMISSION", help="folder or .zip")
    grade.add_argument("--out", default="grading", help="output folder (default: grading)")
    grade.add_argument(
        "--jobs", type=_positive_int, default=1, help="submissions graded at once (default: 1)"
    )
    grade.add_argument("--seed", type=int, default=0, help="grading seed (default: 0)")
    # For the engine's own tests only: a suite module (dotted name or .py file) defining
    # PACKAGE and SUITE, used instead of autograder/suites/hwN.py.
    grade.add_argument("--suite", default=None, help=argparse.SUPPRESS)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


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


def _grade(args: argparse.Namespace) -> int:
    # Imported here: the student tree ships this file but not the engine.
    from autograder import report
    from autograder.grade import SuiteError, grade_many, grade_submission

    missing = [s for s in args.submissions if not Path(s).exists()]
    if missing:
        print(f"rlhw grade: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    out = Path(args.out)
    try:
        if len(args.submissions) == 1:
            results = grade_submission(
                Path(args.submissions[0]), args.hw, out, args.seed, suite=args.suite
            )
            print(report.format_table(results))
            print(f"wrote {out / 'results.json'}")
        else:
            batch = grade_many(
                [Path(s) for s in args.submissions],
                args.hw,
                out,
                jobs=args.jobs,
                seed=args.seed,
                suite=args.suite,
            )
            print(report.format_batch(batch))
            print(f"wrote {len(batch)} results.json under {out}/ and {out / 'grades.csv'}")
    except SuiteError as error:
        print(f"rlhw grade: {error}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "release":
        return _release(args.hw, args.out)
    if args.command == "grade":
        return _grade(args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

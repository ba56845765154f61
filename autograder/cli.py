"""The ``rlhw`` command: ``rlhw --help`` lists what it can do."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeAlias


def _version() -> str:
    try:
        return version("rlhw")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "unknown"


# The engine's modules that each staff command needs. A student's tree ships this package
# without them (autograder/release.py: STUDENT_AUTOGRADER_FILES), so there only `check` is
# offered.
STAFF_COMMANDS: dict[str, tuple[str, ...]] = {
    "release": ("release", "bundle"),
    "grade": ("grade",),
    "audit": ("audit",),
    "calibrate": ("learning",),
}


def ships(module: str) -> bool:
    """Whether this copy of the ``autograder`` package holds its module ``module``. (Looked up
    as a file next to this one, not with ``importlib``: an editable install of another copy
    would answer for that copy.)"""
    return (Path(__file__).resolve().parent / f"{module}.py").is_file()


def available_commands(shipped: Callable[[str], bool] = ships) -> list[str]:
    """The commands this copy of ``rlhw`` can run: ``check`` always, each staff command when
    its modules are here."""
    staff = [name for name, modules in STAFF_COMMANDS.items() if all(map(shipped, modules))]
    return [*staff, "check"]


def build_parser(commands_offered: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``rlhw`` parser with the commands ``commands_offered`` (default: those
    :func:`available_commands` finds)."""
    offered = available_commands() if commands_offered is None else list(commands_offered)
    missing = [name for name in STAFF_COMMANDS if name not in offered]
    parser = argparse.ArgumentParser(
        prog="rlhw",
        description="Deep RL homework in a box: release homework, check and grade submissions."
        if not missing
        else "Deep RL homework: check your homework with its public tests.",
        epilog=f"{', '.join(missing)}: the course staff's commands, not in this tree."
        if missing
        else None,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"rlhw {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    if "release" in offered:
        _add_release(commands)
    if "grade" in offered:
        _add_grade(commands)
    if "audit" in offered:
        _add_audit(commands)
    if "calibrate" in offered:
        _add_calibrate(commands)
    _add_check(commands)
    return parser


_Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _add_release(commands: _Commands) -> None:
    release = commands.add_parser(
        "release",
        help="(instructors) write a homework's student tree and Gradescope bundle",
        description="Write OUT/hwN/student/: the homework with every solution region replaced "
        "by a stub, the shared infrastructure and the public tests; refuses to leave a tree "
        "that leaks a solution line, a hidden test, calibration data or reference weights. "
        "Then OUT/hwN/autograder/autograder.zip: Gradescope's setup.sh and run_autograder, "
        "the engine, the hidden suite, the reference and its calibration data.",
    )
    release.add_argument("hw", help="homework, e.g. hw2 or hw2_policy_gradient")
    release.add_argument("--out", default="dist", help="output folder (default: dist)")
    release.add_argument(
        "--give",
        action="append",
        default=[],
        metavar="HW",
        help="also ship the reference code of HW, a homework this one imports (hw4 --give hw3: "
        "hw3's SAC, for a term past hw3's deadline); without it the student brings their own. "
        "Repeat for several",
    )


def _add_grade(commands: _Commands) -> None:
    grade = commands.add_parser(
        "grade",
        help="(TAs) grade submissions with a homework's hidden suite",
        description="Grade each SUBMISSION (a folder or a .zip) in a sandbox. The homework is "
        "found at any depth: its package folder, or its files uploaded flat (pg.py and "
        "policies.py for hw2), each found once; the report says which file was taken from "
        "where. One submission: OUT/results.json (Gradescope's format, what the student sees) "
        "and OUT/staff.json (the same grading with every check's whole feedback), and a table "
        "of staff's view. Several (or --backend ray): both files in OUT/<name>/ for each, "
        "OUT/grades.csv (rewritten as each submission ends) and a summary; run again, a batch "
        "keeps what it graded before (see --regrade), and a submission whose grading process "
        "died twice (a machine failure) is listed with no score, never 0. A check the grader "
        "could not judge (a grader error, such as a stale "
        "calibration: not the student's fault) counts 0 until graded again: it shows as "
        "GRADER ERROR in the tables, in grades.csv's grader_errors column and in staff.json "
        "with what to fix, while the student reads that it will be graded again. Exits 0 once "
        "grading is done, whatever the scores; 3 when a grader error or a machine failure left "
        "checks or submissions to grade again (they are listed on stderr); 2 on bad arguments, "
        "where the submissions' code cannot be confined (see --unconfined), when OUT is taken "
        "by another batch, and when the Ray cluster cannot be reached or cannot grade; 130 when "
        "stopped (Ctrl-C): run it again to resume.",
    )
    grade.add_argument("hw", help="homework, e.g. hw2 or hw2_policy_gradient")
    grade.add_argument("submissions", nargs="+", metavar="SUBMISSION", help="folder or .zip")
    grade.add_argument("--out", default="grading", help="output folder (default: grading)")
    grade.add_argument(
        "--jobs",
        type=_positive_int,
        default=None,
        help="submissions graded at once by --backend local (default: 1)",
    )
    grade.add_argument("--seed", type=int, default=0, help="grading seed (default: 0)")
    _add_backend(grade, "submission")
    grade.add_argument(
        "--regrade",
        action="store_true",
        help="grade every submission again; without it, a batch keeps each submission whose "
        "reports in OUT/<name>/ are complete and were made by the same suite (its digest), seed "
        "and checks, so that a batch stopped halfway is resumed by running it again",
    )
    grade.add_argument(
        "--fast",
        action="store_true",
        help="only the checks that take seconds: leave out the learning-curve checks (the "
        "reports and grades.csv's left_out column say so, with their points)",
    )
    grade.add_argument(
        "--unconfined",
        action="store_true",
        help="grade even where the submissions' code cannot be confined (no user namespaces, "
        "not Linux): it then runs with your account's access to this machine, and the reports "
        "say the grading was unconfined. Only for a machine that is itself a sandbox",
    )
    # For the engine's own tests only: a suite module (dotted name or .py file) defining a
    # SUITE (an autograder.kit.Suite), used instead of autograder/suites/hwN.py.
    grade.add_argument("--suite", default=None, help=argparse.SUPPRESS)


def _add_audit(commands: _Commands) -> None:
    audit = commands.add_parser(
        "audit",
        help="(instructors) test a homework's hidden suite on the reference, starter and mutants",
        description="Grade the reference under each seed (full marks every time: a lost point "
        "is a false failure), the bare starter (near zero, every check failing with a message), "
        "every mutant, a realistic bug (must lose points on a check of the buggy function), and "
        "every correct alternative under each seed (full marks, like the reference). "
        "Prints the mutant table, the kill rate and the false failures, and writes "
        "OUT/audit.json. Exits 0 only when every mutant is killed, no false failure occurred "
        "and the starter check holds.",
    )
    audit.add_argument("hw", help="homework, e.g. hw2 or hw2_policy_gradient")
    audit.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0, 1, 2],
        metavar="SEED",
        help="grading seeds of the reference (default: 0 1 2)",
    )
    audit.add_argument(
        "--mutants",
        nargs="*",
        default=None,
        metavar="NAME",
        help="only these mutants (none with no NAME)",
    )
    audit.add_argument(
        "--alternatives",
        nargs="*",
        default=None,
        metavar="NAME",
        help="only these correct alternatives (none with no NAME)",
    )
    audit.add_argument(
        "--jobs",
        type=_positive_int,
        default=None,
        help="submissions graded at once by --backend local (default: 2)",
    )
    _add_backend(audit, "grading")
    audit.add_argument(
        "--fast",
        action="store_true",
        help="leave out the learning-curve checks (mutants always skip them)",
    )
    audit.add_argument("--out", default="audit", help="output folder (default: audit)")


def _add_calibrate(commands: _Commands) -> None:
    calibrate = commands.add_parser(
        "calibrate",
        help="(instructors) run the reference to set the bands of the learning-curve checks",
        description="Train the reference on each SEED for every learning-curve check of the "
        "homework, evaluate it at the check's milestones exactly as grading does, and write "
        "autograder/calibration/hwN.json: the reference's returns and each milestone's "
        "threshold (a quarter of the worst seed's improvement over random play). Grading reads "
        "this file and never retrains the reference.",
    )
    calibrate.add_argument("hw", help="homework, e.g. hw2 or hw2_policy_gradient")
    calibrate.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0, 1, 2, 3, 4, 5],
        metavar="SEED",
        help="training seeds of the reference (default: 0 1 2 3 4 5)",
    )
    calibrate.add_argument(
        "--jobs",
        type=_positive_int,
        default=None,
        help="runs at once with --backend local (default: 2)",
    )
    _add_backend(calibrate, "seed's run")
    calibrate.add_argument(
        "--tasks",
        nargs="+",
        default=None,
        metavar="TASK",
        help="recalibrate only these learning-curve checks (by task name, e.g. CartPole-v1) "
        "and keep the file's entries of the others (default: all of them)",
    )


def _add_check(commands: _Commands) -> None:
    check = commands.add_parser(
        "check",
        help="(students) run a homework's public tests and summarise them",
        description="Run the public tests of a homework (hwN_*/tests) with pytest from the "
        "tree's root and summarise them per file: passed, failed, not implemented yet. The "
        "autograder's hidden checks are not run: passing the public tests is not a grade. "
        "Exits 0 when every public test passes.",
    )
    check.add_argument("hw", help="homework, e.g. hw2 or hw2_policy_gradient")
    check.add_argument("--root", default=None, help="the tree's root (default: the current folder)")


def _add_backend(parser: argparse.ArgumentParser, task: str) -> None:
    parser.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help=f"where the work runs: local, a pool of --jobs processes on this machine "
        f"(default); ray, one Ray task per {task} on a Ray cluster (needs the cluster extra: "
        'pip install -e ".[cluster]")',
    )
    parser.add_argument(
        "--address",
        default=None,
        metavar="HOST:PORT",
        help="with --backend ray: the cluster's head node (default: the cluster RAY_ADDRESS "
        "names, or else one started on this machine's cores)",
    )


def _backend(args: argparse.Namespace, command: str, jobs: int) -> Any:
    """The :class:`~autograder.batch.Backend` the options ask for; ``None`` after printing
    why they do not fit together."""
    from autograder.batch import Backend

    if args.backend == "ray" and args.jobs is not None:
        print(
            f"rlhw {command}: --jobs is for --backend local; on Ray each task takes one CPU of "
            "the cluster, as many at once as it has",
            file=sys.stderr,
        )
        return None
    if args.backend != "ray" and args.address is not None:
        print(f"rlhw {command}: --address needs --backend ray", file=sys.stderr)
        return None
    if args.backend == "ray":
        return Backend("ray", address=args.address)
    return Backend("local", jobs=args.jobs or jobs)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _release(hw: str, out: str, give: Sequence[str] = ()) -> int:
    # Imported here: the student tree ships this file but not the engine.
    from autograder.bundle import bundle_files, write_bundle
    from autograder.release import ReleaseError, release_student

    try:
        bundle_files(hw)  # a homework without a suite stops here, before anything is written
        student = release_student(hw, Path(out), give=give)
        bundle = write_bundle(hw, Path(out))
    except ReleaseError as error:  # BundleError included
        print(f"rlhw release: {error}", file=sys.stderr)
        return 1
    print(f"wrote {student}/ (for students)")
    print(f"wrote {bundle} (for Gradescope)")
    return 0


_CANNOT_CONFINE = """\
rlhw grade: this machine cannot confine the submissions' code: {problem}
Grading runs each submission in a root file system of its own, in namespaces of its own: as
root, or as an ordinary user where the kernel allows unprivileged user namespaces (on Linux,
user.max_user_namespaces > 0; on Ubuntu 23.10 and later, also
kernel.apparmor_restrict_unprivileged_userns = 0). Grade where that holds: on Gradescope (the
bundle `rlhw release` writes), in a container (docker run ...), or on such a Linux machine.
To grade here anyway, pass --unconfined: the code then runs with your account's access to
this machine, and the reports say the grading was unconfined."""


def _grade(args: argparse.Namespace) -> int:
    # Imported here: the student tree ships this file but not the engine.
    from autograder import report
    from autograder.batch import BatchError, grade_batch
    from autograder.grade import SuiteError, grade_submission
    from autograder.sandbox import confinement_problem

    missing = [s for s in args.submissions if not Path(s).exists()]
    if missing:
        print(f"rlhw grade: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    if not args.unconfined:
        problem = confinement_problem()
        if problem is not None:
            print(_CANNOT_CONFINE.format(problem=problem), file=sys.stderr)
            return 2
    options = {"confine": False} if args.unconfined else None
    out = Path(args.out)
    backend = _backend(args, "grade", 1)
    if backend is None:
        return 2
    failed: dict[str, str] = {}
    try:
        if len(args.submissions) == 1 and backend.kind == "local":
            results = grade_submission(
                Path(args.submissions[0]),
                args.hw,
                out,
                args.seed,
                suite=args.suite,
                fast=args.fast,
                sandbox_options=options,
            )
            print(report.format_table(results))
            print(f"wrote {out / 'results.json'} and {out / report.STAFF_FILE}")
            staff = {args.submissions[0]: results}
        else:
            batch = grade_batch(
                [Path(s) for s in args.submissions],
                args.hw,
                out,
                backend,
                args.seed,
                suite=args.suite,
                fast=args.fast,
                sandbox_options=options,
                regrade=args.regrade,
            )
            print(report.format_batch(batch.graded))
            kept = f" ({len(batch.kept)} kept from before: --regrade grades them again)"
            print(
                f"wrote results.json and {report.STAFF_FILE} of {len(batch.graded)} submissions "
                f"under {out}/{kept if batch.kept else ''}, and {out / 'grades.csv'}"
            )
            staff, failed = batch.graded, batch.failed
            if failed:
                print(
                    f"rlhw grade: {len(batch.failed)} submission(s) not graded: the machine "
                    "broke their grading twice (grades.csv says so, with no score). Run the "
                    "same command again to grade them:",
                    file=sys.stderr,
                )
                for name, why in batch.failed.items():
                    print(f"  {name}: {why}", file=sys.stderr)
    except (SuiteError, BatchError) as error:
        print(f"rlhw grade: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"rlhw grade: stopped; {out / 'grades.csv'} lists what was graded. Run the same "
            "command again to grade the rest",
            file=sys.stderr,
        )
        return 130
    code = _report_grader_errors(staff)
    return 3 if failed else code


def _report_grader_errors(staff: dict[str, dict[str, Any]]) -> int:
    """Tell the TA, on stderr, which checks a grader error left to grade again: 3 if any."""
    from autograder import report

    errors = {name: report.grader_errors(results) for name, results in staff.items()}
    errors = {name: checks for name, checks in errors.items() if checks}
    if not errors:
        return 0
    print(
        f"rlhw grade: grader errors in {len(errors)} submission(s); their students read that "
        "these checks will be graded again. Fix what each says, then grade them again:",
        file=sys.stderr,
    )
    for name, checks in errors.items():
        for check, what in checks:
            first = what.strip().splitlines()[0] if what.strip() else "(no detail)"
            print(f"  {name}: {check}: {first}", file=sys.stderr)
    return 3


def _audit(args: argparse.Namespace) -> int:
    # Imported here: the student tree ships this file but not the engine.
    from autograder import audit
    from autograder.batch import BatchError
    from autograder.grade import SuiteError

    backend = _backend(args, "audit", 2)
    if backend is None:
        return 2
    try:
        mutants = audit.select_mutants(audit.load_mutants(args.hw), args.mutants)
        alternatives = audit.select_mutants(
            audit.load_alternatives(args.hw), args.alternatives, "alternative"
        )
        result = audit.audit_homework(
            args.hw,
            args.seeds,
            mutants,
            alternatives=alternatives,
            backend=backend,
            fast=args.fast,
        )
    except (SuiteError, audit.AuditError, BatchError) as error:
        print(f"rlhw audit: {error}", file=sys.stderr)
        return 2
    print(audit.format_report(result))
    print(f"wrote {audit.write_report(result, Path(args.out))}")
    return result.exit_code


def _calibrate(args: argparse.Namespace) -> int:
    # Imported here: the student tree ships this file but not the engine.
    from autograder import learning
    from autograder.batch import BatchError
    from autograder.grade import SuiteError

    backend = _backend(args, "calibrate", 2)
    if backend is None:
        return 2
    try:
        tasks = learning.learning_tasks(args.hw)
    except SuiteError as error:
        print(f"rlhw calibrate: {error}", file=sys.stderr)
        return 2
    if not tasks:
        print(f"rlhw calibrate: {args.hw} has no learning-curve checks", file=sys.stderr)
        return 2
    if args.tasks is not None:
        names = [task.name for task in tasks]
        unknown = [name for name in args.tasks if name not in names]
        if unknown:
            print(
                f"rlhw calibrate: {args.hw} has no learning-curve check {unknown[0]!r}; "
                f"expected one of {', '.join(names)}",
                file=sys.stderr,
            )
            return 2
    chosen = [task for task in tasks if args.tasks is None or task.name in args.tasks]
    kept = [task.name for task in tasks if task not in chosen]
    try:
        data = learning.calibrate(args.hw, chosen, args.seeds, backend=backend, keep=kept)
    except BatchError as error:
        print(f"rlhw calibrate: {error}", file=sys.stderr)
        return 2
    except learning.CalibrationError as error:
        print(f"rlhw calibrate: {error}", file=sys.stderr)
        return 1
    for name, entry in data["tasks"].items():
        pairs = zip(entry["milestones"], entry["thresholds"], strict=True)
        print(f"{name}: " + ", ".join(f"{m} steps >= {t:g}" for m, t in pairs))
    print(f"wrote {learning.calibration_path(args.hw)} in {data['seconds']:.0f} s")
    return 0


def _suite_counts(hw: str) -> dict[str, Any] | None:
    """The hidden suite's counts, in the instructor's copy (a student tree has no engine)."""
    try:
        from autograder.checks import summarize_checks
        from autograder.grade import SuiteError, load_suite
    except ImportError:
        return None
    try:
        _, checks = load_suite(hw)
    except SuiteError:
        return None
    return summarize_checks(checks)


def _check(args: argparse.Namespace) -> int:
    from autograder import student_check

    root = Path(args.root) if args.root else None
    return student_check.main(args.hw, root, suite_counts=_suite_counts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "release":
        return _release(args.hw, args.out, args.give)
    if args.command == "grade":
        return _grade(args)
    if args.command == "audit":
        return _audit(args)
    if args.command == "check":
        return _check(args)
    if args.command == "calibrate":
        return _calibrate(args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The grader's own test: ``rlhw audit hwN`` grades the reference, the bare starter and every
mutant of a homework with its hidden suite, and says whether the suite can be trusted.

::

    report = audit_homework("hw2", seeds=(0, 1, 2), jobs=2)
    print(format_report(report))  # table, kill rate, false failures, starter line
    report.ok                     # what the exit code of ``rlhw audit`` says
    write_report(report, Path("audit"))  # audit/audit.json, written atomically

- The reference, graded under each grading seed, must get full marks every time: any lost
  point is a *false failure*, listed with its check and feedback.
- The bare starter (every solution region stripped as :func:`~autograder.release.strip_solutions`
  does for a release) must score at most :data:`STARTER_MAX_SHARE` of the points, and every
  check must fail with a message of its own, never an internal grader error.
- Every mutant (:mod:`autograder.mutants`) must lose points, and one of its failing checks must
  test the function the bug is in; otherwise it *survived* or was *caught by the wrong check*.
- Every correct alternative (:mod:`autograder.alternatives`: the same functions written
  another correct way), graded under each seed, must get full marks: a lost point is a false
  failure too.

Each submission is graded by :func:`~autograder.grade.run_checks` in its own sandbox, in a pool
of ``jobs`` grader processes (a sandbox stays in the one process that started it), or as one
Ray task on a cluster (:mod:`autograder.cluster`).
"""

from __future__ import annotations

import importlib
import tempfile
import textwrap
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from autograder import learning, report
from autograder.alternatives import Alternative
from autograder.batch import Backend, Done, run_tasks
from autograder.checks import Check, fast_checks
from autograder.grade import load_suite, run_checks, suite_sandbox_options
from autograder.mutants import Mutant, apply_mutant, copy_homework
from autograder.release import strip_solutions
from autograder.sandbox import PROJECT_ROOT

DEFAULT_SEEDS = (0, 1, 2)
STARTER_MAX_SHARE = 0.05
"""The bare starter may score at most this share of the points."""
INTERNAL_ERROR = "internal grader error"

Role = Literal["reference", "starter", "mutant", "alternative"]
Verdict = Literal["killed", "survived", "caught by the wrong check", "grader error"]


class AuditError(Exception):
    """A usage error: an unknown homework or mutant name."""


@dataclass(frozen=True)
class Row:
    """One check's result on one submission (what the audit keeps of a ``CheckResult``)."""

    check: str
    function: str
    points: float
    score: float
    feedback: str
    seconds: float

    @property
    def lost(self) -> float:
        return round(self.points - self.score, 4)


@dataclass(frozen=True)
class Graded:
    """One submission of the audit, graded: the reference under one seed, the starter or a
    mutant. ``error`` is set when grading it broke down (the pool's process died)."""

    role: Role
    name: str
    seed: int
    rows: list[Row]
    seconds: float
    error: str = ""

    @property
    def score(self) -> float:
        return round(sum(r.score for r in self.rows), 4)

    @property
    def max_score(self) -> float:
        return round(sum(r.points for r in self.rows), 4)

    @property
    def failed(self) -> list[Row]:
        return [r for r in self.rows if r.score < r.points]


@dataclass(frozen=True)
class MutantResult:
    name: str
    function: str
    points_lost: float
    failing: list[str]
    """The failing checks' names."""
    failing_functions: list[str]
    verdict: Verdict
    feedback: dict[str, str] = field(default_factory=dict)
    """Failing check name -> its feedback."""
    share_of_function: float = 0.0
    """The share of its own function's points the mutant lost (those of the checks of
    ``function`` it was graded on): a real bug should cost most of them."""


@dataclass(frozen=True)
class AuditReport:
    hw: str
    package: str
    seeds: list[int]
    max_score: float
    false_failures: list[dict[str, Any]]
    """``{"submission", "seed", "check", "function", "points_lost", "feedback"}`` for each
    check the reference or a correct alternative lost points on (or an ``"error"`` entry when
    its grading broke down)."""
    reference: list[Graded]
    starter: Graded
    starter_problems: list[str]
    mutants: list[MutantResult]
    seconds: float
    alternatives: list[Graded] = field(default_factory=list)
    """Each correct alternative under each seed."""

    @property
    def killed(self) -> int:
        return sum(m.verdict == "killed" for m in self.mutants)

    @property
    def starter_ok(self) -> bool:
        return not self.starter_problems

    @property
    def ok(self) -> bool:
        """Every mutant killed, no false failure, and the starter scores near zero cleanly."""
        return self.killed == len(self.mutants) and not self.false_failures and self.starter_ok

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


# ------------------------------------------------------------------------------- mutants


def _catalog(hw: str, kind: str, name: str) -> list[Any]:
    """The list ``name`` of ``autograder/<kind>/hwN.py`` for homework ``hw``; empty when the
    homework has no such file."""
    package, _ = load_suite(hw)
    module_name = f"autograder.{kind}.{package.split('_')[0]}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        return []
    return list(getattr(module, name))


def load_mutants(hw: str) -> list[Mutant]:
    """The mutants of homework ``hw`` (``autograder/mutants/hwN.py``, ``MUTANTS``)."""
    return _catalog(hw, "mutants", "MUTANTS")


def load_alternatives(hw: str) -> list[Alternative]:
    """The correct alternatives of homework ``hw`` (``autograder/alternatives/hwN.py``,
    ``ALTERNATIVES``)."""
    return _catalog(hw, "alternatives", "ALTERNATIVES")


def select_mutants(
    mutants: Sequence[Mutant], names: Sequence[str] | None, what: str = "mutant"
) -> list[Mutant]:
    """``mutants`` (or alternatives) narrowed to ``names`` (all of them when ``names`` is None),
    in catalog order.

    Raises:
        AuditError: a name that is not one of theirs, listing the known ones.
    """
    if names is None:
        return list(mutants)
    known = {m.name for m in mutants}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise AuditError(
            f"unknown {what}(s) {', '.join(unknown)}; expected some of: {', '.join(sorted(known))}"
        )
    return [m for m in mutants if m.name in set(names)]


# ------------------------------------------------------------------------------- grading


def starter_root(reference_root: Path, package: str, dest: Path) -> Path:
    """A submission root holding ``package`` with every solution region stripped, as
    ``rlhw release`` strips it."""
    root = copy_homework(reference_root, package, dest)
    for path in sorted((root / package).rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        path.write_text(strip_solutions(path.read_text(encoding="utf-8"), relative))
    return root


def audited_checks(checks: Sequence[Check], role: Role, fast: bool) -> list[Check]:
    """The checks a submission of the audit is graded on: all of them, except the
    learning-curve checks for a mutant or an alternative (its change sits in one function,
    which the fast checks test; training each would take an hour and prove nothing more) or
    with ``fast``."""
    return fast_checks(checks) if fast or role in ("mutant", "alternative") else list(checks)


def own_checks(checks: Sequence[Check], mutant: Mutant) -> list[Check]:
    """The checks of ``checks`` that test ``mutant.function``.

    A mutant is killed only by a failing check of its own function (:func:`judge_mutant`), so
    grading it on these alone gives the same verdict as grading it on all of them, in a
    fraction of the time (``make test`` audits this way). What it cannot show: a mutant
    *caught by the wrong check* reads as *survived*, and its points lost count these checks
    only.
    """
    return [check for check in checks if check.function == mutant.function]


def grade_one(
    hw: str,
    role: Role,
    name: str,
    seed: int,
    mutant: Mutant | None = None,
    fast: bool = False,
    own_checks_only: bool = False,
) -> Graded:
    """Grade one submission of the audit in this process (its own sandbox, its own folder); a
    mutant or an alternative (``mutant``: its patch) on :func:`own_checks` only with
    ``own_checks_only``."""
    package, checks = load_suite(hw)
    checks = audited_checks(checks, role, fast)
    if own_checks_only and mutant is not None:
        checks = own_checks(checks, mutant)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"rlhw-audit-{role}-") as scratch:
        dest = Path(scratch)
        if role in ("mutant", "alternative"):
            if mutant is None:
                raise ValueError(f"expected a patch to grade as {role}, got None")
            root = apply_mutant(PROJECT_ROOT, mutant, dest)
        elif role == "starter":
            root = starter_root(PROJECT_ROOT, package, dest)
        else:
            root = copy_homework(PROJECT_ROOT, package, dest)
        results = run_checks(root, checks, seed, sandbox_options=suite_sandbox_options(hw))
    rows = [
        Row(r.check.name, r.check.function, r.check.points, r.score, r.output, r.seconds)
        for r in results
    ]
    return Graded(role, name, seed, rows, time.monotonic() - started)


def _grade_all(
    hw: str,
    tasks: Sequence[tuple[Role, str, int, Mutant | None]],
    backend: Backend,
    fast: bool,
    own_checks_only: bool,
) -> list[Graded]:
    """Grade ``tasks`` on ``backend`` (a local pool of grader processes, or Ray tasks: each
    task with its own sandboxes), in order. A task whose process died on each attempt, or
    whose grading raised, comes back with ``error`` set and no rows."""
    calls = [(hw, *task, fast, own_checks_only) for task in tasks]
    graded: dict[int, Graded] = {}
    for index, ended in run_tasks(grade_one, calls, backend, hw=hw):
        if isinstance(ended, Done):
            graded[index] = ended.value
        else:
            role, name, seed, _ = tasks[index]
            kind = "the machine" if ended.machine else "the grader"
            message = f"grading broke down ({kind}): {ended.why}"
            graded[index] = Graded(role, name, seed, [], 0.0, error=message)
    return [graded[index] for index in range(len(tasks))]


# ------------------------------------------------------------------------------- judging


def false_failures(correct: Sequence[Graded]) -> list[dict[str, Any]]:
    """Every point a correct submission (the reference, an alternative) lost, with the
    submission, seed, check and feedback."""
    found: list[dict[str, Any]] = []
    for graded in correct:
        submission = "reference" if graded.role == "reference" else graded.name
        if graded.error:
            found.append(
                {
                    "submission": submission,
                    "seed": graded.seed,
                    "check": None,
                    "error": graded.error,
                }
            )
        for row in graded.failed:
            found.append(
                {
                    "submission": submission,
                    "seed": graded.seed,
                    "check": row.check,
                    "function": row.function,
                    "points_lost": row.lost,
                    "feedback": row.feedback,
                }
            )
    return found


def starter_problems(starter: Graded) -> list[str]:
    """What is wrong with the bare starter's grading: a score above
    :data:`STARTER_MAX_SHARE` of the points, a check that passed, failed silently or broke."""
    if starter.error:
        return [starter.error]
    problems = []
    if starter.score > STARTER_MAX_SHARE * starter.max_score:
        problems.append(
            f"scored {starter.score:g}/{starter.max_score:g}, more than "
            f"{STARTER_MAX_SHARE:.0%} of the points"
        )
    for row in starter.rows:
        if row.score >= row.points:
            problems.append(f"{row.check}: passed on the bare starter")
        elif INTERNAL_ERROR in row.feedback:
            problems.append(f"{row.check}: {row.feedback.strip()}")
        elif not row.feedback.strip():
            problems.append(f"{row.check}: failed without a message")
    return problems


def judge_mutant(mutant: Mutant, graded: Graded) -> MutantResult:
    """Killed when the mutant loses points and a failing check tests ``mutant.function``."""
    failed = graded.failed
    lost = round(sum(r.lost for r in failed), 4)
    functions = list(dict.fromkeys(r.function for r in failed))
    verdict: Verdict
    if graded.error:
        verdict = "grader error"
    elif lost <= 0:
        verdict = "survived"
    elif mutant.function in functions:
        verdict = "killed"
    else:
        verdict = "caught by the wrong check"
    feedback = {r.check: r.feedback for r in failed}
    if graded.error:
        feedback["(grader)"] = graded.error
    names = [r.check for r in failed]
    own = [r for r in graded.rows if r.function == mutant.function]
    own_points = sum(r.points for r in own)
    share = round(sum(r.lost for r in own) / own_points, 4) if own_points else 0.0
    return MutantResult(
        mutant.name, mutant.function, lost, names, functions, verdict, feedback, share
    )


def audit_homework(
    hw: str,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    mutants: Sequence[Mutant] | None = None,
    *,
    alternatives: Sequence[Alternative] | None = None,
    jobs: int = 2,
    backend: Backend | None = None,
    fast: bool = False,
    own_checks_only: bool = False,
) -> AuditReport:
    """Grade the reference under each of ``seeds``, the bare starter (seed ``seeds[0]``), each
    mutant (default: the homework's whole catalog; seed ``seeds[0]``) and each correct
    alternative (default: the whole corpus; every seed), ``jobs`` at a time in a local pool
    (or on ``backend``: :class:`~autograder.batch.Backend`, Ray included). Mutants and
    alternatives skip the learning-curve checks; with ``fast``, everyone does
    (:func:`audited_checks`). With ``own_checks_only``, each mutant and alternative is graded
    on the checks of its own function only (:func:`own_checks`: the same verdicts, in a
    fraction of the time); the reference and the starter still get every check.

    Raises:
        AuditError: no seed, ``jobs`` < 1, or a stale calibration (refused with or without
            ``fast``, before any grading: the audit would prove a suite that grading cannot run).
        SuiteError: an unknown homework.
    """
    if not seeds:
        raise AuditError("expected at least one grading seed")
    if jobs < 1:
        raise AuditError(f"expected jobs >= 1, got {jobs}")
    backend = backend or Backend("local", jobs=jobs)
    started = time.monotonic()
    package, checks = load_suite(hw)
    if stale := learning.stale_calibration_message(hw):
        raise AuditError(stale)
    catalog = load_mutants(hw) if mutants is None else list(mutants)
    corpus = load_alternatives(hw) if alternatives is None else list(alternatives)
    first = seeds[0]
    tasks: list[tuple[Role, str, int, Mutant | None]] = [
        # the long ones first (the reference trains), so that the pool stays full to the end
        *(("reference", f"reference (seed {s})", s, None) for s in seeds),
        *(("mutant", m.name, first, m) for m in catalog),
        *(("alternative", a.name, s, a) for a in corpus for s in seeds),
        ("starter", "bare starter", first, None),
    ]
    graded = _grade_all(hw, tasks, backend, fast, own_checks_only)
    by_role: dict[str, list[Graded]] = {
        "reference": [],
        "starter": [],
        "mutant": [],
        "alternative": [],
    }
    for item in graded:
        by_role[item.role].append(item)
    starter = by_role["starter"][0]
    return AuditReport(
        hw=hw,
        package=package,
        seeds=list(seeds),
        max_score=round(sum(c.points for c in audited_checks(checks, "reference", fast)), 4),
        false_failures=false_failures([*by_role["reference"], *by_role["alternative"]]),
        reference=by_role["reference"],
        alternatives=by_role["alternative"],
        starter=starter,
        starter_problems=starter_problems(starter),
        mutants=[judge_mutant(m, g) for m, g in zip(catalog, by_role["mutant"], strict=True)],
        seconds=time.monotonic() - started,
    )


# ------------------------------------------------------------------------------- reports


def kill_rate_line(audit: AuditReport) -> str:
    total = len(audit.mutants)
    share = f"{audit.killed / total:.0%}" if total else "n/a"
    return f"{audit.killed}/{total} mutants killed ({share})"


def false_failures_line(audit: AuditReport) -> str:
    n, seeds = len(audit.false_failures), len(audit.seeds)
    alternatives = len({g.name for g in audit.alternatives})
    return (
        f"{n} false {'failure' if n == 1 else 'failures'} over {seeds} "
        f"{'seed' if seeds == 1 else 'seeds'} (the reference and {alternatives} correct "
        f"{'alternative' if alternatives == 1 else 'alternatives'})"
    )


def starter_line(audit: AuditReport) -> str:
    starter = audit.starter
    head = f"bare starter: {starter.score:g}/{audit.max_score:g} points"
    if audit.starter_ok:
        return f"{head}, every check fails with a message (ok)"
    return f"{head}: NOT OK\n" + "\n".join(f"  - {p}" for p in audit.starter_problems)


def _failing_cell(m: MutantResult) -> str:
    """``"4 of compute_gae"``: how many checks failed, and which functions they test."""
    if not m.failing:
        return "-"
    return f"{len(m.failing)} of {', '.join(m.failing_functions)}"


def separated(audit: AuditReport) -> dict[str, list[str]]:
    """For each function, the plausible wrong variants (mutants) its own checks tell from the
    right one: what the cases of its checks were chosen to separate."""
    found: dict[str, list[str]] = {}
    for m in audit.mutants:
        if m.verdict == "killed":
            found.setdefault(m.function, []).append(m.name)
    return found


def format_report(audit: AuditReport) -> str:
    """The table of mutants (points lost, and the share of their own function's points), then
    the kill rate, false failures and starter lines."""
    name_width = max([len("mutant"), *(len(m.name) for m in audit.mutants)])
    failing = [_failing_cell(m) for m in audit.mutants]
    fail_width = max([len("failing checks"), *map(len, failing)])
    lines = [
        f"{'mutant':<{name_width}}  {'lost':>6}  {'of fn':>5}  {'failing checks':<{fail_width}}  "
        "verdict"
    ]
    for m, cell in zip(audit.mutants, failing, strict=True):
        lines.append(
            f"{m.name:<{name_width}}  {m.points_lost:>6.2f}  {m.share_of_function:>5.0%}  "
            f"{cell:<{fail_width}}  {m.verdict}"
        )
    lines.append("")
    lines.append("variants each function's checks separate from the right one:")
    for function, names in separated(audit).items():
        lines.append(
            textwrap.fill(
                ", ".join(names), 100, initial_indent=f"  {function}: ", subsequent_indent="    "
            )
        )
    lines.append("")
    lines.append(kill_rate_line(audit))
    for m in audit.mutants:
        if m.verdict != "killed":
            where = ", ".join(m.failing_functions) or "no check"
            lines.append(f"  - {m.name} ({m.function}): {m.verdict}; failing: {where}")
    lines.append(false_failures_line(audit))
    for f in audit.false_failures:
        if f.get("error"):
            lines.append(f"  - {f['submission']}, seed {f['seed']}: {f['error']}")
        else:
            feedback = textwrap.indent(f["feedback"].strip(), "      ")
            lines.append(
                f"  - {f['submission']}, seed {f['seed']}: {f['check']} lost "
                f"{f['points_lost']:g}\n{feedback}"
            )
    lines.append(starter_line(audit))
    lines.append(f"audit of {audit.hw} took {audit.seconds:.0f} s")
    return "\n".join(lines)


def report_json(audit: AuditReport) -> dict[str, Any]:
    """What ``audit.json`` holds."""
    return {
        "hw": audit.hw,
        "package": audit.package,
        "ok": audit.ok,
        "seeds": audit.seeds,
        "max_score": audit.max_score,
        "seconds": round(audit.seconds, 1),
        "kill_rate": {
            "killed": audit.killed,
            "total": len(audit.mutants),
            "line": kill_rate_line(audit),
        },
        "false_failures": audit.false_failures,
        "reference": [
            {"seed": g.seed, "score": g.score, "max_score": g.max_score, "error": g.error}
            for g in audit.reference
        ],
        "starter": {
            "score": audit.starter.score,
            "max_score": audit.starter.max_score,
            "ok": audit.starter_ok,
            "problems": audit.starter_problems,
        },
        "mutants": [asdict(m) for m in audit.mutants],
        "separated": separated(audit),
        "alternatives": [
            {"name": g.name, "seed": g.seed, "score": g.score, "max_score": g.max_score}
            for g in audit.alternatives
        ],
    }


def write_report(audit: AuditReport, out_dir: Path) -> Path:
    """Write ``out_dir/audit.json`` atomically and return its path."""
    path = Path(out_dir) / "audit.json"
    report.write_json_atomic(path, report_json(audit))
    return path

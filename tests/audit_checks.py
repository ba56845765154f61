"""What the audit test of every hidden suite asserts (``tests/test_suite_hwN.py``): the
reference gets full marks, the bare starter zero with clear feedback, and every mutant patches
one place of a solution region and is killed by a check of its function, losing at least half
of that function's points; the whole audit also grades every correct alternative, which must
lose nothing.

``make test`` reads an audit that grades the reference under one seed and each mutant on the
checks of its own function only (:func:`make_test_audit`: the same verdicts, in about half the
time); the whole audit, every mutant on every check and the reference under every seed, is
:func:`assert_whole_audit_passes`'s, in ``make test-slow``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from autograder.audit import AuditReport, audit_homework, load_alternatives
from autograder.checks import Check
from autograder.mutants import Mutant, patch_source
from autograder.release import find_regions

REPO_ROOT = Path(__file__).resolve().parents[1]
SEEDS = (0, 1, 12345)
"""The whole audit's grading seeds; ``make test`` grades the reference under the first."""


def make_test_audit(hw: str) -> AuditReport:
    """``make test``'s audit of ``hw``, without the learning-curve checks (the
    ``tests/test_hwN_learning.py`` files grade those): the reference under ``SEEDS[0]``, each
    mutant on the checks of its own function only. The correct alternatives are graded by
    the whole audit (:func:`assert_whole_audit_passes`): about a hundred submissions under
    three seeds, too long for ``make test``, which checks that they cover every function
    (``tests/test_alternatives.py``)."""
    return audit_homework(
        hw, seeds=SEEDS[:1], alternatives=[], jobs=2, fast=True, own_checks_only=True
    )


def assert_reference_full_marks(audited: AuditReport, seed: int, checks: int) -> None:
    (graded,) = [g for g in audited.reference if g.seed == seed]
    assert not graded.error
    assert len(graded.rows) == checks
    for row in graded.rows:
        assert row.score == row.points, f"{row.check}:\n{row.feedback}"
        assert row.feedback.startswith("Compared"), row.feedback
    assert [f for f in audited.false_failures if f["seed"] == seed] == []


def assert_starter_gets_zero(audited: AuditReport, checks: int) -> None:
    starter = audited.starter
    assert not starter.error and len(starter.rows) == checks
    for row in starter.rows:
        assert row.score == 0.0, f"{row.check}:\n{row.feedback}"
        assert "NotImplementedError" in row.feedback, row.feedback
        assert "TODO(" in row.feedback and "Hint:" in row.feedback
    assert audited.starter_ok, audited.starter_problems


def solution_lines(relative: str) -> set[int]:
    """The lines strictly inside the solution regions of the repository file ``relative``."""
    source = (REPO_ROOT / relative).read_text()
    return {
        line
        for region in find_regions(source, relative)
        for line in range(region.begin + 1, region.end)
    }


def assert_patches_one_solution_place(mutant: Mutant, suite: Sequence[Check]) -> None:
    source = (REPO_ROOT / mutant.file).read_text()
    assert source.count(mutant.old) == 1
    first = source[: source.index(mutant.old)].count("\n") + 1
    lines = range(first, first + mutant.old.count("\n") + 1)
    assert set(lines) <= solution_lines(mutant.file), f"{mutant.name} patches given code"
    assert patch_source(source, mutant) != source
    assert mutant.function in {check.function for check in suite}


def assert_killed(audited: AuditReport, mutant: Mutant) -> None:
    (result,) = [m for m in audited.mutants if m.name == mutant.name]
    print(f"{mutant.name}: lost {result.points_lost:g} points on {result.failing}")
    assert result.points_lost > 0
    assert result.verdict == "killed", (
        f"{mutant.name} {result.verdict}: failing checks {result.failing_functions}"
    )
    # a real bug costs most of its function's points (the credit policy, judging.CREDIT_POLICY)
    assert result.share_of_function >= 0.5, (
        f"{mutant.name} lost only {result.share_of_function:.0%} of {mutant.function}'s points"
    )
    for feedback in result.feedback.values():  # feedback names what went wrong, never the source
        assert "First mismatch" in feedback and "Hint:" in feedback
        assert "### BEGIN SOLUTION" not in feedback


def assert_whole_audit_passes(hw: str, mutants: Sequence[Mutant], checks: int) -> None:
    """The whole audit of ``hw`` less its learning-curve checks: the reference and every
    correct alternative under every one of :data:`SEEDS` with full marks, and every mutant
    graded on every check, killed by one of its function's (never only by another
    function's) with clear feedback from every check it fails."""
    audited = audit_homework(hw, seeds=SEEDS, jobs=2, fast=True)
    for seed in SEEDS:
        assert_reference_full_marks(audited, seed, checks)
    assert len(audited.alternatives) == len(load_alternatives(hw)) * len(SEEDS)
    assert audited.false_failures == []
    assert_starter_gets_zero(audited, checks)
    assert len(audited.mutants) == len(mutants)
    for mutant in mutants:
        assert_killed(audited, mutant)
    assert audited.ok and audited.exit_code == 0

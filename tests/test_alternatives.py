"""The correct alternatives (:mod:`autograder.alternatives`): every graded function of
every homework is written at least two other correct ways, each a patch inside a solution
region. Grading them, under every seed, is the whole audit's (``make test-slow``,
:func:`audit_checks.assert_whole_audit_passes`; ``rlhw audit hwN``)."""

from __future__ import annotations

import pytest
from audit_checks import assert_patches_one_solution_place
from conftest import fast_suite_checks, suite_checks

from autograder.audit import load_alternatives

HOMEWORKS = ("hw1", "hw2", "hw3", "hw4", "hw5")
LEAST = 2
"""Alternatives each graded function must have at least."""


@pytest.mark.parametrize("hw", HOMEWORKS)
def test_every_graded_function_has_correct_alternatives(hw: str) -> None:
    corpus = load_alternatives(hw)
    counts = {check.function: 0 for check in fast_suite_checks(hw)}
    for alternative in corpus:
        assert alternative.function in counts, f"{alternative.name}: no check of its function"
        counts[alternative.function] += 1
    short = {function: n for function, n in counts.items() if n < LEAST}
    assert not short, f"{hw}: functions with fewer than {LEAST} correct alternatives: {short}"
    assert len({alternative.name for alternative in corpus}) == len(corpus)


@pytest.mark.parametrize("hw", HOMEWORKS)
def test_each_alternative_patches_one_place_inside_a_solution_region(hw: str) -> None:
    checks = suite_checks(hw)
    for alternative in load_alternatives(hw):
        assert_patches_one_solution_place(alternative, checks)

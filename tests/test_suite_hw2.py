"""The hidden suite of homework 2, audited: the reference gets full marks, the bare starter
gets zero with clear feedback, and every mutant (a realistic student bug,
:mod:`autograder.mutants.hw2`) loses points on a check that names the buggy function.

The grading is ``rlhw audit``'s (:func:`autograder.audit.audit_homework`, one sandbox per
submission, two at a time), run once for the module as :func:`audit_checks.make_test_audit`
says; the tests below read its report. The whole audit is ``slow``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from audit_checks import (
    SEEDS,
    assert_killed,
    assert_patches_one_solution_place,
    assert_reference_full_marks,
    assert_starter_gets_zero,
    assert_whole_audit_passes,
    make_test_audit,
)
from conftest import fast_suite_checks, suite_checks, suite_package

from autograder.audit import AuditReport
from autograder.mutants import patch_source
from autograder.mutants.hw2 import MUTANTS
from autograder.suites import hw2

REPO_ROOT = Path(__file__).resolve().parents[1]


FAST = fast_suite_checks("hw2")


def test_the_suite_is_well_formed():
    assert suite_package("hw2") == "hw2_policy_gradient"
    assert sum(check.points for check in FAST) == pytest.approx(100.0)
    assert sum(check.points for check in suite_checks("hw2")) == pytest.approx(120.0)
    assert len({check.name for check in suite_checks("hw2")}) == len(suite_checks("hw2"))
    kinds = {check.kind for check in suite_checks("hw2")}
    assert kinds == {"value", "gradient", "statistical", "learning"}
    learning = [check for check in suite_checks("hw2") if check.kind == "learning"]
    assert [check.name for check in learning] == [
        "learning curve: CartPole-v1",
        "learning curve: InvertedPendulum-v5",
    ]


@pytest.fixture(scope="module")
def audited() -> AuditReport:
    return make_test_audit("hw2")


def test_the_reference_gets_full_marks(audited):
    assert_reference_full_marks(audited, SEEDS[0], len(FAST))


def test_the_bare_starter_gets_zero_with_clear_feedback(audited):
    assert_starter_gets_zero(audited, len(FAST))


def test_mutant_names_are_unique():
    assert (
        len({mutant.name for mutant in MUTANTS}) == len(MUTANTS) >= 36
    )  # 24 when issue 19 was filed, and half more


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_each_mutant_patches_one_place_inside_a_solution_region(mutant):
    assert_patches_one_solution_place(mutant, suite_checks("hw2"))


def test_a_patch_whose_old_text_is_not_unique_is_refused():
    mutant = MUTANTS[0]
    with pytest.raises(ValueError, match="exactly once"):
        patch_source(mutant.old + mutant.old, mutant)


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_each_mutant_loses_points_on_a_check_of_its_function(audited, mutant):
    assert_killed(audited, mutant)


def test_kill_rate(audited, capsys):
    with capsys.disabled():
        print(f"\nhw2 mutants killed: {audited.killed}/{len(audited.mutants)}")
    assert len(audited.mutants) == len(MUTANTS)
    assert audited.killed == len(MUTANTS)
    assert audited.ok and audited.exit_code == 0


@pytest.mark.slow
def test_the_whole_audit_passes():
    assert_whole_audit_passes("hw2", MUTANTS, len(FAST))


def test_the_exact_gradient_of_the_tabular_mdp_matches_finite_differences():
    exact = hw2._exact_gradient(0.9)
    theta, step = hw2._S_THETA.copy(), 1e-6
    numeric = np.zeros(4)
    for k in range(4):
        for sign in (1.0, -1.0):
            shifted = theta.copy()
            shifted.flat[k] += sign * step
            numeric[k] += sign * _objective(shifted, 0.9) / (2 * step)
    np.testing.assert_allclose(exact, numeric, atol=1e-7)


def _objective(theta: np.ndarray, gamma: float) -> float:
    """J(theta) by enumeration, written independently of the suite (NumPy, no autograd)."""
    pi = np.exp(theta) / np.exp(theta).sum(axis=1, keepdims=True)
    total = 0.0
    for path in np.ndindex(*(2,) * (2 * hw2._S_H)):
        states, actions = path[0::2], path[1::2]
        p = float(hw2._S_RHO[states[0]])
        for t in range(hw2._S_H):
            p *= pi[states[t], actions[t]]
            if t + 1 < hw2._S_H:
                p1 = hw2._S_P1[states[t], actions[t]]
                p *= p1 if states[t + 1] == 1 else 1.0 - p1
        total += p * sum(gamma**t * float(hw2._S_R[states[t], actions[t]]) for t in range(hw2._S_H))
    return float(total)


def test_the_sampled_scores_are_the_gradients_of_the_log_probabilities():
    rewards, log_probs, scores = hw2._sample_trajectories(np.random.default_rng(0), 5)
    theta = torch.tensor(hw2._S_THETA, requires_grad=True)
    pi = hw2._policy_probs()
    for i in range(5):
        for t in range(hw2._S_H):
            (s, a), *_ = np.argwhere(np.isclose(np.log(pi), log_probs[i, t]))
            (grad,) = torch.autograd.grad(torch.log_softmax(theta, dim=1)[s, a], theta)
            np.testing.assert_allclose(scores[i, t], grad.numpy().ravel(), atol=1e-12)
            assert rewards[i, t] == hw2._S_R[s, a]

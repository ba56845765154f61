"""The hidden suite of homework 3, audited: the reference gets full marks, the bare starter
gets zero with clear feedback, and every mutant (a realistic student bug,
:mod:`autograder.mutants.hw3`) loses points on a check that names the buggy function.

The grading is ``rlhw audit``'s (:func:`autograder.audit.audit_homework`, one sandbox per
submission, two at a time), run once for the module as :func:`audit_checks.make_test_audit`
says; the tests below read its report. The whole audit is ``slow``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

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
from autograder.kit import bernstein_half_width, frequencies_problem
from autograder.mutants.hw3 import MUTANTS
from autograder.sandbox import Success
from autograder.suites import hw3

REPO_ROOT = Path(__file__).resolve().parents[1]


FAST = fast_suite_checks("hw3")


def test_the_suite_is_well_formed():
    assert suite_package("hw3") == "hw3_q_learning"
    assert sum(check.points for check in FAST) == pytest.approx(100.0)
    assert sum(check.points for check in suite_checks("hw3")) == pytest.approx(120.0)
    assert len({check.name for check in suite_checks("hw3")}) == len(suite_checks("hw3"))
    kinds = {check.kind for check in suite_checks("hw3")}
    assert kinds == {"value", "gradient", "update", "statistical", "learning"}
    learning = [check for check in suite_checks("hw3") if check.kind == "learning"]
    assert [(check.name, check.function) for check in learning] == [
        ("learning curve: CartPole-v1", "DQNTrainer"),
        ("learning curve: InvertedPendulum-v5", "SACTrainer"),
    ]


@pytest.fixture(scope="module")
def audited() -> AuditReport:
    return make_test_audit("hw3")


def test_the_reference_gets_full_marks(audited):
    assert_reference_full_marks(audited, SEEDS[0], len(FAST))


def test_the_bare_starter_gets_zero_with_clear_feedback(audited):
    assert_starter_gets_zero(audited, len(FAST))


def test_mutant_names_are_unique():
    assert (
        len({mutant.name for mutant in MUTANTS}) == len(MUTANTS) >= 47
    )  # 31 when issue 19 was filed, and half more


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_each_mutant_patches_one_place_inside_a_solution_region(mutant):
    assert_patches_one_solution_place(mutant, suite_checks("hw3"))


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_each_mutant_loses_points_on_a_check_of_its_function(audited, mutant):
    assert_killed(audited, mutant)


def test_kill_rate(audited, capsys):
    with capsys.disabled():
        print(f"\nhw3 mutants killed: {audited.killed}/{len(audited.mutants)}")
    assert len(audited.mutants) == len(MUTANTS)
    assert audited.killed == len(MUTANTS)
    assert audited.ok and audited.exit_code == 0


@pytest.mark.slow
def test_the_whole_audit_passes():
    assert_whole_audit_passes("hw3", MUTANTS, len(FAST))


# ------------------------------------------------------------------------------- the bounds


def test_the_reference_density_integrates_to_one_and_the_uncorrected_one_does_not():
    """What the statistical check of tanh_gaussian_log_prob relies on, by quadrature."""
    grid = np.linspace(-1.0, 1.0, 400_001)[1:-1]
    for mu, log_sigma in hw3._DENSITY_CASES:
        density = hw3._reference_density(grid, mu, log_sigma)
        assert np.trapezoid(density, grid) == pytest.approx(1.0, abs=1e-4)
        u = np.arctanh(grid)
        gaussian = np.exp(-0.5 * ((u - mu) / math.exp(log_sigma)) ** 2) / (
            math.exp(log_sigma) * math.sqrt(2 * math.pi)
        )
        assert np.trapezoid(gaussian, grid) < 0.9  # no tanh correction: not a density


def test_the_bernstein_bound_holds_for_the_reference_and_catches_a_small_bias():
    rng = np.random.default_rng(0)
    grid = np.linspace(-1.0, 1.0, 200_001)[1:-1]
    mu, log_sigma = hw3._DENSITY_CASES[1]
    value_range = 3.0 * float(hw3._reference_density(grid, mu, log_sigma).max())
    for _ in range(20):
        actions = rng.uniform(-1.0, 1.0, size=hw3._DENSITY_N)
        samples = 2.0 * hw3._reference_density(actions, mu, log_sigma)
        bound = float(bernstein_half_width(samples, value_range, tests=4))
        assert abs(samples.mean() - 1.0) <= bound
        assert bound < 0.1


class _Density:
    """A sandbox whose ``tanh_gaussian_log_prob`` is ``log_prob``, called in the grader."""

    def __init__(self, log_prob: Any) -> None:
        self.log_prob = log_prob

    def call(self, module: str, function: str, args: tuple[Any, ...], **kwargs: Any) -> Success:
        assert function == "tanh_gaussian_log_prob"
        return Success(self.log_prob(*args))


def test_the_uniform_density_integrates_to_one_but_earns_nothing():
    """A constant log-probability of -log 2, the uniform density on (-1, 1), integrates to 1:
    the mean action is what tells it from the squashed Gaussian."""
    reference = _Density(hw3.ref_sac.tanh_gaussian_log_prob)
    outcome = hw3.TANH_DENSITY.run(reference, np.random.default_rng(0))  # type: ignore[arg-type]
    assert outcome.fraction == 1.0, outcome.feedback
    uniform = _Density(lambda u, mu, log_sigma: torch.full((len(u),), -math.log(2.0)))
    outcome = hw3.TANH_DENSITY.run(uniform, np.random.default_rng(0))  # type: ignore[arg-type]
    assert outcome.fraction == 0.0, outcome.feedback
    assert re.search(r"the mean action is estimated at -?0\.00\d\d, expected", outcome.feedback)


def test_the_epsilon_greedy_judge_accepts_the_reference_and_refuses_one_coin_per_batch():
    rng = np.random.default_rng(1)
    greedy = rng.integers(3, size=hw3._EPS_N)
    half_width = 0.02

    def probabilities(epsilon: float) -> np.ndarray:
        return (1.0 - epsilon) * np.eye(3)[greedy] + epsilon / 3

    for epsilon in hw3._EPSILONS:
        explore = rng.random(hw3._EPS_N) < epsilon
        actions = np.where(explore, rng.integers(3, size=hw3._EPS_N), greedy)
        assert frequencies_problem(actions, probabilities(epsilon), half_width) is None
    one_coin = np.full(hw3._EPS_N, 1) if rng.random() < 0.3 else greedy
    assert frequencies_problem(one_coin, probabilities(0.3), half_width) is not None
    assert "shape" in str(frequencies_problem(greedy[:5], probabilities(0.3), half_width))
    floats = torch.as_tensor(greedy).float().numpy()
    assert "outside the integers" in str(
        frequencies_problem(floats, probabilities(0.3), half_width)
    )

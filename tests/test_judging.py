"""Comparison against the reference (:func:`autograder.judging.compare`): a correct result
computed in single precision passes whatever tolerance its check asks of double precision,
a result that is wrong by more than rounding still fails in single precision, and a mismatch
shows the entry that differs with enough digits to tell the two numbers apart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import hw2_policy_gradient.pg as ref
from autograder.checks import Outcome
from autograder.judging import compare, loss_value_check
from autograder.sandbox import Success

RETURNS_TOL = {"rtol": 1e-6, "atol": 1e-8}  # hw2's, for discounted returns in NumPy


def reward_to_go_float32(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """A correct reward-to-go that works in float32 throughout."""
    out = np.zeros(len(rewards), np.float32)
    running = np.float32(0.0)
    for t in reversed(range(len(rewards))):
        running = np.float32(rewards[t]) + np.float32(gamma) * running
        out[t] = running
    return out


def test_a_correct_float32_reward_to_go_passes_the_float64_tolerance() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        for length, gamma in [(1, 0.99), (2, 1.0), (17, 0.99), (40, 0.95), (9, 1.0)]:
            rewards = rng.normal(size=length) * 2.0 + 0.5
            expected = ref.reward_to_go(rewards.copy(), gamma)
            got = reward_to_go_float32(rewards, gamma)
            assert compare(got, expected, tensor=False, **RETURNS_TOL) is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_result_off_by_more_than_rounding_fails_in_either_precision(dtype: type) -> None:
    expected = np.linspace(-3.0, 5.0, 40)
    got = expected.copy()
    got[7] *= 1.0 + 1e-3  # a gamma of 0.99 where 0.989 was meant shows about this much
    assert compare(got.astype(dtype), expected, tensor=False, **RETURNS_TOL) is not None


def test_a_float32_tensor_off_by_one_percent_fails() -> None:
    expected = torch.tensor([10.0, -20.0, 30.0])
    got = expected * torch.tensor([1.0, 1.01, 1.0])
    assert compare(got, expected, tensor=True, rtol=1e-5, atol=1e-6) is not None


def test_a_mismatch_shows_the_entry_that_differs_with_its_digits() -> None:
    expected = np.array([1.0, 2.0, 3.123456789, 4.0])
    got = expected.copy()
    got[2] = 3.123466789
    problem = compare(got, expected, tensor=False, **RETURNS_TOL)
    assert problem is not None
    assert "largest difference at index (2,)" in problem
    assert "at index (2,): expected 3.123456789, got 3.123466789 (a difference of 1e-05" in problem


class _Answers:
    """A stand-in for the sandbox: each call returns what ``answer`` computes from its inputs."""

    def __init__(self, answer: Callable[..., Any]) -> None:
        self.answer = answer

    def call(self, module: str, function: str, args: tuple[Any, ...], **_: Any) -> Success:
        return Success(self.answer(*args))


def normalize_float32(values: np.ndarray) -> np.ndarray:
    """A correct normalisation computed in float32 throughout."""
    single = values.astype(np.float32)
    return (single - single.mean()) / (single.std() + np.float32(1e-8))


def normalize_sample_std(values: np.ndarray) -> np.ndarray:
    """A plausible wrong one: the sample standard deviation (ddof=1) instead of NumPy's."""
    return (values - values.mean()) / (values.std(ddof=1) + 1e-8)


def discounted_return_float32(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """A correct discounted return computed in float32 throughout, discounts included."""
    discounts = np.float32(gamma) ** np.arange(len(rewards), dtype=np.float32)
    return np.full(len(rewards), np.dot(discounts, rewards.astype(np.float32)), np.float32)


def _graded(
    function: str, reference: Callable[..., Any], answer: Callable[..., Any], cases: Any
) -> Outcome:
    run = loss_value_check(
        "pg",
        function,
        reference,
        cases,
        (),
        "cases",
        "hint",
        "the result",
        tensor=False,
        tolerance={"rtol": 1e-6, "atol": 1e-6},
    )
    return run(_Answers(answer), np.random.default_rng(0))


def test_float32_results_pass_ill_conditioned_cases_that_a_wrong_formula_fails() -> None:
    """Normalising values of mean -2 and spread 0.1 multiplies float32's rounding by 20, and
    a discounted sum whose terms of size 5 cancel to 0.006 keeps their rounding: a correct
    float32 computation must pass such cases (it lost 5 points under 1 grading seed in 20
    before the tolerance followed them), a wrong formula must not."""

    def ill_conditioned(rng: np.random.Generator) -> list[tuple[str, tuple[Any, ...]]]:
        return [("spread 0.1 around -2", (rng.normal(size=257) * 0.1 - 2.0,)) for _ in range(300)]

    assert _graded("normalize", ref.normalize, normalize_float32, ill_conditioned).fraction == 1.0
    assert (
        _graded("normalize", ref.normalize, normalize_sample_std, ill_conditioned).fraction == 0.0
    )

    def cancelling(rng: np.random.Generator) -> list[tuple[str, tuple[Any, ...]]]:
        return [("T=40", (rng.normal(size=40) * 2.0 + 0.5, 0.95)) for _ in range(3000)]

    reference = ref.discounted_return
    assert (
        _graded("discounted_return", reference, discounted_return_float32, cancelling).fraction
        == 1.0
    )
    off_by_one = lambda rewards, gamma: reference(rewards, gamma) * gamma  # noqa: E731
    assert _graded("discounted_return", reference, off_by_one, cancelling).fraction == 0.0

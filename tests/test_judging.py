"""Comparison against the reference (:func:`autograder.judging.compare`): a correct result
computed in single precision passes whatever tolerance its check asks of double precision,
a result that is wrong by more than rounding still fails in single precision, and a mismatch
shows the entry that differs with enough digits to tell the two numbers apart."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import hw2_policy_gradient.pg as ref
from autograder.judging import compare

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

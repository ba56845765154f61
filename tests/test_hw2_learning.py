"""The hw2 reference learns: its plain preset commands reach the handout's targets.

CartPole (about 25 s) runs in ``make test``; the others are ``slow`` (``make test-slow``).
"""

from __future__ import annotations

import dataclasses

import pytest

from hw2_policy_gradient.config import preset
from hw2_policy_gradient.run import train
from infrastructure.logger import read_progress


def run_preset(env: str, seed: int, logdir) -> tuple[float, float]:
    """(last evaluation mean, environment steps) of the preset run."""
    config = dataclasses.replace(preset(env), seed=seed, logdir=str(logdir))
    result = train(config, progress=False)
    return result["return_mean"], read_progress(logdir)["env_steps"][-1]


def test_cartpole_preset_reaches_475_within_100k_steps(tmp_path):
    final, steps = run_preset("CartPole-v1", 0, tmp_path)
    assert steps <= 100_000
    assert final >= 475


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cartpole_preset_over_seeds(tmp_path, seed):
    final, steps = run_preset("CartPole-v1", seed, tmp_path)
    assert steps <= 100_000 and final >= 475


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_inverted_pendulum_preset_reaches_950_within_150k_steps(tmp_path, seed):
    final, steps = run_preset("InvertedPendulum-v5", seed, tmp_path)
    assert steps <= 150_000 and final >= 950

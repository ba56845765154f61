"""Sampler: every batch below is written out by hand from ``CounterEnv`` (see conftest.py).

Reminder of the env: observation ``[t]``, reward ``t + 1`` for the step from ``t``, so
``next_observations == rewards`` and an episode of ``L`` steps returns ``L (L + 1) / 2``.
"""

from __future__ import annotations

import math
import re

import gymnasium as gym
import numpy as np
import pytest

from infrastructure.envs import make_env
from infrastructure.sampler import Batch, Sampler, evaluate, evaluate_side_by_side

T, F = True, False


def assert_batch(
    batch: Batch,
    observations: list[float],
    terminated: list[bool],
    truncated: list[bool],
    episode_returns: list[float],
    episode_lengths: list[int],
    next_observations: list[float] | None = None,
) -> None:
    """Compare a CounterEnv batch with the values written in the test."""
    if next_observations is None:  # no time limit and no batch cut inside an episode
        next_observations = [o + 1 for o in observations]
    np.testing.assert_array_equal(batch.observations, np.array(observations)[:, None])
    np.testing.assert_array_equal(batch.next_observations, np.array(next_observations)[:, None])
    # reward of the step t -> t + 1 is t + 1
    np.testing.assert_array_equal(batch.rewards, np.array(next_observations, dtype=np.float64))
    np.testing.assert_array_equal(batch.terminated, np.array(terminated, dtype=bool))
    np.testing.assert_array_equal(batch.truncated, np.array(truncated, dtype=bool))
    np.testing.assert_array_equal(batch.episode_returns, np.array(episode_returns, np.float64))
    np.testing.assert_array_equal(batch.episode_lengths, np.array(episode_lengths, np.int64))
    assert batch.observations.dtype == np.float32
    assert batch.rewards.dtype == np.float64
    assert batch.terminated.dtype == bool and batch.truncated.dtype == bool
    assert len(batch) == len(observations)


# --------------------------------------------------------------------------- one environment


def test_sample_steps_episode_boundaries(counter_env, constant_policy):
    sampler = Sampler(counter_env(terminate_at=3), seed=0)
    batch = sampler.sample_steps(constant_policy(0), num_steps=7)
    # two whole episodes 0,1,2 (terminal at t=3), then one step of a third, cut by the batch
    assert_batch(
        batch,
        observations=[0, 1, 2, 0, 1, 2, 0],
        terminated=[F, F, T, F, F, T, F],
        truncated=[F, F, F, F, F, F, T],
        episode_returns=[6, 6],
        episode_lengths=[3, 3],
    )
    assert batch.trajectory_slices() == [slice(0, 3), slice(3, 6), slice(6, 7)]
    np.testing.assert_array_equal(batch.dones, [F, F, T, F, F, T, T])
    np.testing.assert_array_equal(batch.actions, np.zeros(7))
    assert sampler.total_steps == 7


def test_sample_steps_continues_the_cut_episode_in_the_next_call(counter_env, constant_policy):
    sampler = Sampler(counter_env(terminate_at=3), seed=0)
    sampler.sample_steps(constant_policy(0), num_steps=7)  # ends one step into an episode
    batch = sampler.sample_steps(constant_policy(0), num_steps=2)
    # the episode goes on from t=1 (not from a reset), and its return counts all 3 steps
    assert_batch(
        batch,
        observations=[1, 2],
        terminated=[F, T],
        truncated=[F, F],
        episode_returns=[1 + 2 + 3],
        episode_lengths=[3],
    )
    assert sampler.total_steps == 9


def test_sample_steps_with_no_episode_ending_reports_no_returns(counter_env, constant_policy):
    sampler = Sampler(counter_env(), seed=0)
    batch = sampler.sample_steps(constant_policy(0), num_steps=4)
    assert_batch(batch, [0, 1, 2, 3], [F, F, F, F], [F, F, F, T], [], [])
    assert batch.trajectory_slices() == [slice(0, 4)]


def test_time_limit_is_truncation_with_the_true_final_observation(counter_env, constant_policy):
    sampler = Sampler(counter_env(max_episode_steps=3), seed=0)
    batch = sampler.sample_steps(constant_policy(0), num_steps=7)
    assert_batch(
        batch,
        observations=[0, 1, 2, 0, 1, 2, 0],
        # after t=2 the env was reset to 0, but s_{t+1} must be the final observation 3
        next_observations=[1, 2, 3, 1, 2, 3, 1],
        terminated=[F] * 7,
        truncated=[F, F, T, F, F, T, T],
        episode_returns=[6, 6],
        episode_lengths=[3, 3],
    )
    assert batch.trajectory_slices() == [slice(0, 3), slice(3, 6), slice(6, 7)]


def test_terminated_and_truncated_kept_apart(counter_env, stop_policy):
    # episodes that want 2, 5, 2 steps under a time limit of 3: terminal, cut, terminal
    sampler = Sampler(counter_env(max_episode_steps=3), seed=0)
    batch = sampler.sample_trajectories(stop_policy([2, 5]), num_trajectories=3)
    assert_batch(
        batch,
        observations=[0, 1, 0, 1, 2, 0, 1],
        terminated=[F, T, F, F, F, F, T],
        truncated=[F, F, F, F, T, F, F],
        episode_returns=[3, 6, 3],
        episode_lengths=[2, 3, 2],
    )
    # the stop action is what terminated those episodes
    np.testing.assert_array_equal(batch.actions, batch.terminated.astype(np.int64))


def test_sample_trajectories_min_steps(counter_env, constant_policy):
    sampler = Sampler(counter_env(terminate_at=3), seed=0)
    for min_steps, episodes in [(1, 1), (3, 1), (4, 2), (6, 2), (7, 3)]:
        batch = sampler.sample_trajectories(constant_policy(0), min_steps=min_steps)
        assert len(batch) == 3 * episodes, min_steps
        np.testing.assert_array_equal(batch.episode_lengths, [3] * episodes)
        np.testing.assert_array_equal(batch.observations[:, 0], [0, 1, 2] * episodes)
        assert not batch.truncated.any()  # whole episodes only
    assert sampler.total_steps == 3 * (1 + 1 + 2 + 2 + 3)


def test_sample_trajectories_num_trajectories(counter_env, stop_policy):
    sampler = Sampler(counter_env(), seed=0)
    batch = sampler.sample_trajectories(stop_policy([1, 2, 3]), num_trajectories=3)
    assert_batch(
        batch,
        observations=[0, 0, 1, 0, 1, 2],
        terminated=[T, F, T, F, F, T],
        truncated=[F] * 6,
        episode_returns=[1, 3, 6],
        episode_lengths=[1, 2, 3],
    )
    assert batch.trajectory_slices() == [slice(0, 1), slice(1, 3), slice(3, 6)]


def test_sample_trajectories_starts_fresh_episodes(counter_env, constant_policy):
    sampler = Sampler(counter_env(terminate_at=3), seed=0)
    sampler.sample_steps(constant_policy(0), num_steps=2)  # now in the middle of an episode
    batch = sampler.sample_trajectories(constant_policy(0), num_trajectories=1)
    assert_batch(batch, [0, 1, 2], [F, F, T], [F, F, F], [6], [3])
    # and sample_steps after it starts a fresh episode too
    batch = sampler.sample_steps(constant_policy(0), num_steps=1)
    assert_batch(batch, [0], [F], [T], [], [])
    assert sampler.total_steps == 2 + 3 + 1


def test_policy_with_the_wrong_number_of_actions_is_an_error(counter_env):
    sampler = Sampler(counter_env(), seed=0)
    message = (
        "expected the policy to return one action per environment, shape (1, ...), "
        "got an array of shape (2,)"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        sampler.sample_steps(lambda obs: np.zeros(2, dtype=np.int64), num_steps=3)
    with pytest.raises(ValueError, match=re.escape("got an array of shape ()")):
        sampler.sample_trajectories(lambda obs: 0, num_trajectories=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {},
            "expected exactly one of min_steps and num_trajectories, got min_steps=None, "
            "num_trajectories=None",
        ),
        (
            {"min_steps": 5, "num_trajectories": 2},
            "expected exactly one of min_steps and num_trajectories, got min_steps=5, "
            "num_trajectories=2",
        ),
        ({"min_steps": 0}, "expected a target >= 1, got 0"),
        ({"num_trajectories": 0}, "expected a target >= 1, got 0"),
    ],
)
def test_sample_trajectories_argument_errors(counter_env, constant_policy, kwargs, message):
    sampler = Sampler(counter_env(), seed=0)
    with pytest.raises(ValueError, match=re.escape(message)):
        sampler.sample_trajectories(constant_policy(0), **kwargs)
    assert sampler.total_steps == 0


def test_sample_steps_rejects_a_non_positive_count(counter_env, constant_policy):
    with pytest.raises(ValueError, match=re.escape("expected num_steps >= 1, got 0")):
        Sampler(counter_env(), seed=0).sample_steps(constant_policy(0), num_steps=0)


def test_evaluate_summarises_whole_episodes(counter_env, stop_policy):
    # episodes of 1, 2 and 3 steps: returns 1, 3, 6
    stats = evaluate(Sampler(counter_env(), seed=0), stop_policy([1, 2, 3]), num_episodes=3)
    assert stats["return_mean"] == pytest.approx(10 / 3)
    # deviations -7/3, -1/3, 8/3: variance (49 + 1 + 64) / 27 = 38 / 9
    assert stats["return_std"] == pytest.approx(math.sqrt(38) / 3)
    assert stats["return_min"] == 1.0
    assert stats["return_max"] == 6.0
    assert stats["length_mean"] == 2.0
    assert set(stats) == {"return_mean", "return_std", "return_min", "return_max", "length_mean"}


def test_evaluate_side_by_side_runs_one_whole_episode_per_env(counter_env):
    # episodes of 1, 3 and 2 steps: returns 1, 6, 3; the policy sees the running ones only
    envs = [counter_env(terminate_at=n) for n in (1, 3, 2)]
    seen: list[list[float]] = []

    def policy(obs: np.ndarray) -> np.ndarray:
        seen.append(obs[:, 0].tolist())
        return np.zeros(len(obs), dtype=np.int64)

    stats = evaluate_side_by_side(envs, policy, seed=7)
    assert seen == [[0, 0, 0], [1, 1], [2]]
    assert stats == {
        "return_mean": 10 / 3,
        "return_std": pytest.approx(math.sqrt(38) / 3),
        "return_min": 1.0,
        "return_max": 6.0,
        "length_mean": 2.0,
    }
    assert [env.unwrapped.np_random_seed for env in envs] == [7, 8, 9]
    evaluate_side_by_side(envs, policy)  # no seed: each env goes on with its own generator
    assert [env.unwrapped.np_random_seed for env in envs] == [7, 8, 9]


def test_evaluate_side_by_side_is_reproducible_on_cartpole():
    def run() -> dict[str, float]:
        envs = [make_env("CartPole-v1", seed=3 + i) for i in range(4)]
        policy = lambda obs: (obs[:, 2] > 0).astype(np.int64)  # noqa: E731  push toward the tilt
        return evaluate_side_by_side(envs, policy, seed=3) | evaluate_side_by_side(envs, policy)

    first, second = run(), run()
    assert first == second
    assert first["return_min"] < first["return_max"]  # the four episodes differ


@pytest.mark.parametrize(
    ("envs", "policy", "message"),
    [
        (0, lambda obs: np.zeros(len(obs), dtype=np.int64), "expected at least one environment"),
        (2, lambda obs: np.zeros(3, dtype=np.int64), "shape (2, ...), got an array of shape (3,)"),
        (2, lambda obs: np.int64(0), "got an array of shape ()"),
    ],
)
def test_evaluate_side_by_side_errors(counter_env, envs, policy, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        evaluate_side_by_side([counter_env() for _ in range(envs)], policy)


class InPlaceCounterEnv(gym.Env):
    """CounterEnv terminating at t=3 that returns the same array object every time, updated in
    place. Gymnasium allows it (its SyncVectorEnv copies observations by default for this)."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(0.0, 10.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self._buffer = np.zeros(1, dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._buffer[0] = 0.0
        return self._buffer, {}

    def step(self, action):
        self._buffer[0] += 1.0
        return self._buffer, float(self._buffer[0]), bool(self._buffer[0] >= 3), False, {}


def test_sampler_copies_observations_the_env_may_reuse(constant_policy):
    batch = Sampler(InPlaceCounterEnv(), seed=0).sample_steps(constant_policy(0), num_steps=4)
    assert_batch(batch, [0, 1, 2, 0], [F, F, T, F], [F, F, F, T], [6], [3])


# -------------------------------------------------------------------------------- determinism


def _cartpole_batches(seed: int) -> list[Batch]:
    sampler = Sampler(make_env("CartPole-v1", seed=seed), seed=seed)
    rng = np.random.default_rng(seed)

    def policy(obs: np.ndarray) -> np.ndarray:
        return rng.integers(0, 2, size=len(obs))

    return [
        sampler.sample_steps(policy, num_steps=150),
        sampler.sample_steps(policy, num_steps=50),
        sampler.sample_trajectories(policy, num_trajectories=2),
    ]


def _assert_same_batches(first: list[Batch], second: list[Batch]) -> None:
    for a, b in zip(first, second, strict=True):
        for field in (
            "observations",
            "actions",
            "rewards",
            "next_observations",
            "terminated",
            "truncated",
            "episode_returns",
            "episode_lengths",
        ):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


def test_same_seed_same_batches_on_cartpole():
    first = _cartpole_batches(seed=7)
    _assert_same_batches(first, _cartpole_batches(seed=7))
    assert first[0].terminated.any()  # random play drops the pole within 150 steps


def test_different_seeds_different_batches_on_cartpole():
    first = _cartpole_batches(seed=7)
    second = _cartpole_batches(seed=8)
    assert not np.array_equal(first[0].observations, second[0].observations)
    assert not np.array_equal(first[0].actions, second[0].actions)

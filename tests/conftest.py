"""Fixtures shared by the tests of ``infrastructure/``.

The sampler and replay-buffer tests run on :class:`CounterEnv`, an environment small enough
that every batch it produces can be written down by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

COUNTER_ENV_ID = "RlhwTestCounter-v0"


class CounterEnv(gym.Env):
    """Observation ``[t]`` (float32, shape ``(1,)``): the number of steps taken in this episode.

    Each step moves ``t`` to ``t + 1`` and pays reward ``t + 1``, so an episode of ``L`` steps
    returns ``L (L + 1) / 2``. Action 1 ends the episode (``terminated``), and so does
    reaching ``t == terminate_at``. The env never truncates by itself: time limits come from
    ``gymnasium.wrappers.TimeLimit`` (or ``max_episode_steps``).
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, terminate_at: int = 10**6):
        self.observation_space = gym.spaces.Box(0.0, 1e7, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.terminate_at = terminate_at
        self._t = 0

    def _obs(self) -> np.ndarray:
        return np.array([self._t], dtype=np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._t = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._t += 1
        terminated = int(action) == 1 or self._t >= self.terminate_at
        return self._obs(), float(self._t), terminated, False, {}


if COUNTER_ENV_ID not in gym.registry:
    gym.register(id=COUNTER_ENV_ID, entry_point=CounterEnv)


def make_stop_policy(*lengths: Sequence[int]) -> Callable[[np.ndarray], np.ndarray]:
    """A policy for ``CounterEnv`` that wants the episodes of sub-environment ``i`` to last
    ``lengths[i][0]``, then ``lengths[i][1]``, ... steps (cycling). It plays action 1 (stop)
    on the step that reaches the wanted length and 0 otherwise; an episode cut earlier by a
    time limit still moves it on to the next length (a new episode starts at ``t == 0``).
    """
    episode = [-1] * len(lengths)

    def policy(obs: np.ndarray) -> np.ndarray:
        assert obs.shape == (len(lengths), 1), obs.shape
        actions = np.zeros(len(lengths), dtype=np.int64)
        for i, schedule in enumerate(lengths):
            t = int(obs[i, 0])
            if t == 0:
                episode[i] += 1
            if t + 1 >= schedule[episode[i] % len(schedule)]:
                actions[i] = 1
        return actions

    return policy


def always(action: int) -> Callable[[np.ndarray], np.ndarray]:
    """A policy that plays ``action`` in every sub-environment."""
    return lambda obs: np.full(len(obs), action, dtype=np.int64)


@pytest.fixture
def counter_env_id() -> str:
    """The Gymnasium id of :class:`CounterEnv` (registered once, for the tests only)."""
    return COUNTER_ENV_ID


@pytest.fixture
def counter_env() -> Callable[..., gym.Env]:
    """``counter_env(terminate_at=..., max_episode_steps=...)`` builds a bare ``CounterEnv``,
    wrapped in a ``TimeLimit`` when ``max_episode_steps`` is given."""

    def make(terminate_at: int = 10**6, max_episode_steps: int | None = None) -> gym.Env:
        env: gym.Env = CounterEnv(terminate_at)
        if max_episode_steps is not None:
            env = gym.wrappers.TimeLimit(env, max_episode_steps)
        return env

    return make


@pytest.fixture
def stop_policy() -> Callable[..., Callable[[np.ndarray], np.ndarray]]:
    """:func:`make_stop_policy`, as a fixture."""
    return make_stop_policy


@pytest.fixture
def constant_policy() -> Callable[[int], Callable[[np.ndarray], np.ndarray]]:
    """:func:`always`, as a fixture."""
    return always

"""Collect experience from a policy: N steps, or whole trajectories, from one environment.

A *policy* here is any callable that maps a batch of observations, shape ``(n, *obs_shape)``,
to a batch of actions, shape ``(n, *action_shape)``: the sampler calls it on one observation
(``n = 1``), :func:`evaluate_side_by_side` on one per episode still running.

Every batch keeps ``terminated`` and ``truncated`` apart and stores the true next observation of
each step, including the final observation of an episode cut by its time limit. Steps of one
trajectory are contiguous and in time order; a trajectory ends at the first step whose
``terminated`` or ``truncated`` flag is set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

Policy = Callable[[np.ndarray], Any]

# One stored step: (observation, action, reward, next_observation, terminated, truncated).
_Step = tuple[np.ndarray, Any, float, np.ndarray, bool, bool]


@dataclass(frozen=True)
class Batch:
    """Transitions laid out trajectory after trajectory.

    ============================  ==========================  ================================
    field                         shape                       meaning
    ============================  ==========================  ================================
    ``observations``              ``(B, *obs_shape)``         :math:`s_t`
    ``actions``                   ``(B, *action_shape)``      :math:`a_t`
    ``rewards``                   ``(B,)``                    :math:`r(s_t, a_t)`
    ``next_observations``         ``(B, *obs_shape)``         :math:`s_{t+1}`, the true one
    ``terminated``                ``(B,)`` bool               :math:`s_{t+1}` is terminal
    ``truncated``                 ``(B,)`` bool               the trajectory stops here without
                                                              a terminal state (time limit, or
                                                              the end of the batch)
    ``episode_returns``           ``(E,)``                    undiscounted returns of the E
                                                              episodes that ended in this batch
    ``episode_lengths``           ``(E,)``                    their lengths
    ============================  ==========================  ================================
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_observations: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    episode_returns: np.ndarray
    episode_lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.rewards)

    @property
    def dones(self) -> np.ndarray:
        """Where a trajectory ends, shape ``(B,)``: ``terminated | truncated``. An episode
        boundary, never a bootstrap mask (that is ``1 - terminated``)."""
        return self.terminated | self.truncated

    def trajectory_slices(self) -> list[slice]:
        """One slice per trajectory, in order; they cover the batch."""
        ends = np.flatnonzero(self.dones) + 1
        starts = np.concatenate([[0], ends[:-1]])
        return [slice(int(s), int(e)) for s, e in zip(starts, ends, strict=True)]


class Sampler:
    """Runs a policy in an environment and returns :class:`Batch` es.

    Args:
        env: the environment; the sampler resets it when an episode ends, in the same step,
            and keeps the episode's true final observation.
        seed: the seed of the first ``reset``; later resets continue the env's own generator,
            so a run is reproducible and episodes still differ.
    """

    def __init__(self, env: gym.Env, seed: int | None = None):
        self.env = env
        self.total_steps = 0
        """Environment steps taken so far."""
        self._seed = seed
        self._obs: np.ndarray | None = None  # the observation the policy sees next
        self._current: list[_Step] = []  # the steps of the running trajectory
        self._episode_return = 0.0
        self._episode_length = 0
        self._ended: list[tuple[float, int]] = []

    def _reset(self) -> None:
        self._obs = np.array(self.env.reset(seed=self._seed)[0])  # a copy: an env may reuse it
        self._seed = None
        self._current = []
        self._episode_return = 0.0
        self._episode_length = 0

    def _step(self, policy: Policy) -> bool:
        """Step the environment once; whether its episode ended (it is then reset)."""
        assert self._obs is not None, "reset first"
        obs = self._obs
        actions = np.asarray(policy(obs[None]))
        if actions.ndim == 0 or actions.shape[0] != 1:
            raise ValueError(
                "expected the policy to return one action per environment, shape (1, ...), "
                f"got an array of shape {actions.shape}"
            )
        action = actions[0]
        # The reward as the env gives it: a NumPy float keeps its dtype in the episode's return.
        outcome: tuple[Any, ...] = self.env.step(action)
        next_obs, reward, terminated, truncated, _ = outcome
        next_obs = np.array(next_obs)
        self.total_steps += 1
        self._current.append((obs, action, reward, next_obs, terminated, truncated))
        self._episode_return += reward
        self._episode_length += 1
        if not (terminated or truncated):
            self._obs = next_obs
            return False
        self._ended.append((float(self._episode_return), self._episode_length))
        self._episode_return = 0.0
        self._episode_length = 0
        self._obs = np.array(self.env.reset()[0])
        return True

    def sample_steps(self, policy: Policy, num_steps: int) -> Batch:
        """Take ``num_steps`` steps.

        Episodes go on across calls. A trajectory still running at the end of the batch is
        returned with ``truncated=True`` on its last step (bootstrap from its next observation);
        it continues in the next batch.
        """
        if num_steps < 1:
            raise ValueError(f"expected num_steps >= 1, got {num_steps}")
        if self._obs is None:
            self._reset()
        self._ended = []
        pieces: list[list[_Step]] = []
        for _ in range(num_steps):
            if self._step(policy):
                pieces.append(self._current)
                self._current = []
        if self._current:
            o, a, r, o2, term, _ = self._current[-1]
            self._current[-1] = (o, a, r, o2, term, True)  # cut by the end of the batch
            pieces.append(self._current)
            self._current = []
        return self._build(pieces)

    def sample_trajectories(
        self, policy: Policy, min_steps: int | None = None, num_trajectories: int | None = None
    ) -> Batch:
        """Whole trajectories from fresh episodes, until they hold at least ``min_steps`` steps
        or number ``num_trajectories`` (give exactly one of the two)."""
        if (min_steps is None) == (num_trajectories is None):
            raise ValueError(
                "expected exactly one of min_steps and num_trajectories, got "
                f"min_steps={min_steps}, num_trajectories={num_trajectories}"
            )
        target = min_steps if min_steps is not None else num_trajectories
        assert target is not None
        if target < 1:
            raise ValueError(f"expected a target >= 1, got {target}")
        self._reset()
        self._ended = []
        pieces: list[list[_Step]] = []
        collected = 0
        while collected < target:
            if self._step(policy):
                pieces.append(self._current)
                collected += len(self._current) if min_steps is not None else 1
                self._current = []
        self._obs = None  # the next call starts fresh episodes too
        return self._build(pieces)

    def _build(self, pieces: list[list[_Step]]) -> Batch:
        obs, actions, rewards, next_obs, terminated, truncated = zip(
            *(step for piece in pieces for step in piece), strict=True
        )
        returns = np.array([r for r, _ in self._ended], dtype=np.float64)
        lengths = np.array([n for _, n in self._ended], dtype=np.int64)
        self._ended = []
        return Batch(
            observations=np.array(obs),
            actions=np.array(actions),
            rewards=np.array(rewards, dtype=np.float64),
            next_observations=np.array(next_obs),
            terminated=np.array(terminated, dtype=bool),
            truncated=np.array(truncated, dtype=bool),
            episode_returns=returns,
            episode_lengths=lengths,
        )


def evaluate(sampler: Sampler, policy: Policy, num_episodes: int) -> dict[str, float]:
    """Run ``num_episodes`` whole episodes and summarise their undiscounted returns.

    Keys: ``return_mean``, ``return_std``, ``return_min``, ``return_max``, ``length_mean``.
    Give it a sampler over its own environment, not the training one.
    """
    batch = sampler.sample_trajectories(policy, num_trajectories=num_episodes)
    return _summarise(batch.episode_returns, batch.episode_lengths)


def _summarise(returns: np.ndarray, lengths: np.ndarray) -> dict[str, float]:
    return {
        "return_mean": float(returns.mean()),
        "return_std": float(returns.std()),
        "return_min": float(returns.min()),
        "return_max": float(returns.max()),
        "length_mean": float(lengths.mean()),
    }


def evaluate_side_by_side(
    envs: Sequence[gym.Env], policy: Policy, seed: int | None = None
) -> dict[str, float]:
    """Run one whole episode in each of ``envs`` side by side, one ``policy`` call per step for
    the batch of episodes still running, and summarise their undiscounted returns as
    :func:`evaluate` does.

    Every episode runs to its own end, so short episodes are not favoured, and the policy sees
    batches of up to ``len(envs)`` observations instead of one: for a neural-network policy on a
    CPU, ten episodes cost little more than one. Give it environments of its own, not the
    training one.

    Args:
        envs: one environment per episode, all of the same kind.
        policy: maps observations ``(n, *obs_shape)`` to actions ``(n, *action_shape)``.
        seed: environment ``i`` is reset with ``seed + i``; None continues each environment's
            own generator (pass the seed on the first call only, as :class:`Sampler` does).
    """
    if not envs:
        raise ValueError("expected at least one environment, got none")
    observations = [
        np.array(env.reset(seed=None if seed is None else seed + i)[0])
        for i, env in enumerate(envs)
    ]
    returns = np.zeros(len(envs))
    lengths = np.zeros(len(envs), dtype=np.int64)
    running = list(range(len(envs)))
    while running:
        actions = np.asarray(policy(np.stack([observations[i] for i in running])))
        if actions.ndim == 0 or actions.shape[0] != len(running):
            raise ValueError(
                f"expected the policy to return one action per observation, shape "
                f"({len(running)}, ...), got an array of shape {actions.shape}"
            )
        still = []
        for i, action in zip(running, actions, strict=True):
            obs, reward, terminated, truncated, _ = envs[i].step(action)
            observations[i] = np.array(obs)  # a copy: an env may reuse its array
            returns[i] += float(reward)
            lengths[i] += 1
            if not (terminated or truncated):
                still.append(i)
        running = still
    return _summarise(returns, lengths)

"""Environment factory: classic control, Box2D, MuJoCo (v5) and Atari, with seeding.

Gymnasium's contract, which every homework keeps from ``env.step`` to the loss:

* ``terminated``: the episode reached a terminal state of the MDP (the pole fell, the
  lander crashed). The value of what comes after is zero, so targets do **not** bootstrap.
* ``truncated``: the episode was cut for a reason outside the MDP, usually a time limit.
  The state still has a future, so targets **do** bootstrap from ``V(s_{t+1})``, using the
  true final observation (never the first observation of the next episode).
"""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium as gym
import numpy as np

ATARI_PREFIX = "ALE/"


def is_atari(env_id: str) -> bool:
    """Whether ``env_id`` names an Arcade Learning Environment game (``ALE/Breakout-v5``)."""
    return env_id.startswith(ATARI_PREFIX)


def _route_mujoco_warnings() -> None:
    """MuJoCo prints its warnings and appends them to ``MUJOCO_LOG.TXT`` in the working
    directory (MuJoCo 3.3+ warns about an attribute of Gymnasium's own model files). Send them
    to Python's ``warnings`` instead, which shows each one once."""
    import mujoco

    def warn(message: str) -> None:
        warnings.warn(f"MuJoCo: {message.strip()}", RuntimeWarning, stacklevel=2)

    mujoco.set_mju_user_warning(warn)


def _register_atari() -> None:
    import ale_py  # ships its ROMs; imported lazily because it prints a banner

    gym.register_envs(ale_py)


def make_env(
    env_id: str,
    seed: int | None = None,
    *,
    max_episode_steps: int | None = None,
    frame_stack: int = 4,
    **kwargs: Any,
) -> gym.Env:
    """Make one environment.

    Atari games get the standard DQN preprocessing (no-op starts, frame skip 4 with max-pooling,
    84x84 grayscale) and a stack of the last ``frame_stack`` frames, so observations are
    ``uint8`` arrays of shape ``(frame_stack, 84, 84)``.

    Args:
        env_id: a Gymnasium id such as ``CartPole-v1``, ``HalfCheetah-v5`` or ``ALE/Pong-v5``.
        seed: seeds the action space; pass the same seed to the first ``reset(seed=...)``.
        max_episode_steps: overrides the environment's time limit (episodes then end with
            ``truncated=True`` after that many steps).
        frame_stack: number of stacked frames for Atari games (ignored otherwise).
        **kwargs: passed to ``gymnasium.make`` (for instance ``continuous=True``).
    """
    if max_episode_steps is not None and max_episode_steps <= 0:
        raise ValueError(f"expected max_episode_steps > 0, got {max_episode_steps}")
    if is_atari(env_id):
        _register_atari()
        # Frame skipping is done by AtariPreprocessing, so the raw env must not skip as well.
        env = gym.make(env_id, frameskip=1, **kwargs)
        env = gym.wrappers.AtariPreprocessing(env, noop_max=30, frame_skip=4, screen_size=84)
        env = gym.wrappers.FrameStackObservation(env, frame_stack)
        if max_episode_steps is not None:  # on top, so that it counts agent steps, not frames
            env = gym.wrappers.TimeLimit(env, max_episode_steps)
    else:
        entry_point = str(gym.spec(env_id).entry_point)
        if entry_point.startswith("gymnasium.envs.mujoco"):
            _route_mujoco_warnings()
        env = gym.make(env_id, max_episode_steps=max_episode_steps, **kwargs)
    if seed is not None:
        env.action_space.seed(seed)
    return env


def space_shape(space: gym.Space) -> tuple[int, ...]:
    """Shape of one element of ``space`` (``()`` for a ``Discrete`` space)."""
    if isinstance(space, gym.spaces.Discrete):
        return ()
    if space.shape is None:
        raise TypeError(f"expected a Box or Discrete space, got {space}")
    return tuple(space.shape)


def is_discrete(space: gym.Space) -> bool:
    """Whether actions are integers (``Discrete``) rather than real vectors (``Box``)."""
    if isinstance(space, gym.spaces.Discrete):
        return True
    if isinstance(space, gym.spaces.Box):
        return False
    raise TypeError(f"expected a Box or Discrete action space, got {space}")


def action_dim(space: gym.Space) -> int:
    """Number of discrete actions, or the length of a continuous action vector."""
    if isinstance(space, gym.spaces.Discrete):
        return int(space.n)
    return int(np.prod(space_shape(space)))

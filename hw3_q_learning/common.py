"""Small helpers that DQN and SAC share (given code)."""

from __future__ import annotations

import gymnasium as gym


def observation_dim(observation_space: gym.Space) -> int:
    """The length of a flat observation; any other observation space is an error."""
    if observation_space.shape is None or len(observation_space.shape) != 1:
        raise ValueError(f"expected a flat observation space, got {observation_space}")
    return int(observation_space.shape[0])

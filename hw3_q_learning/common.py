"""Small helpers that DQN and SAC share (given code)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch


def check_shape(x: torch.Tensor | np.ndarray, shape: tuple[int, ...], name: str) -> None:
    """Raise a clear error when ``x`` (an array or tensor) does not have ``shape``."""
    if tuple(x.shape) != tuple(shape):
        raise ValueError(f"{name} returned shape {tuple(x.shape)}, expected {tuple(shape)}")


def observation_dim(observation_space: gym.Space) -> int:
    """The length of a flat observation; any other observation space is an error."""
    if observation_space.shape is None or len(observation_space.shape) != 1:
        raise ValueError(f"expected a flat observation space, got {observation_space}")
    return int(observation_space.shape[0])

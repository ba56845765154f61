"""A tiny stand-in expert, made afresh for the tests: a random 1-hidden-layer MLP for
InvertedPendulum-v5 and two short episodes of it (the real experts are too slow to imitate
in a test)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hw1_imitation.expert import (
    Demonstrations,
    ExpertPolicy,
    demos_path,
    expert_path,
    save_demos,
    save_expert,
)
from infrastructure.envs import make_env
from infrastructure.sampler import Sampler
from infrastructure.torch_utils import build_mlp

ENV = "InvertedPendulum-v5"


def random_expert(env_id: str, obs_dim: int, action_dim: int, seed: int = 0) -> ExpertPolicy:
    torch.manual_seed(seed)
    net = build_mlp(obs_dim, action_dim, 1, 8, "relu")
    weights = {k: v.numpy() for k, v in net.state_dict().items()}
    low, high = -np.ones(action_dim, np.float32), np.ones(action_dim, np.float32)
    return ExpertPolicy(env_id, obs_dim, action_dim, weights, 1, "relu", low, high)


@pytest.fixture(scope="session")
def expert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ``InvertedPendulum-v5.npz`` and ``InvertedPendulum-v5_demos.npz`` (no
    manifest)."""
    directory = tmp_path_factory.mktemp("experts")
    expert = random_expert(ENV, 4, 1)
    expert.action_low, expert.action_high = (
        np.array([-3.0], np.float32),
        np.array([3.0], np.float32),
    )
    save_expert(expert, expert_path(ENV, directory))
    env = make_env(ENV, 0, max_episode_steps=50)
    batch = Sampler(env, seed=0).sample_trajectories(expert, num_trajectories=2)
    demos = Demonstrations(
        ENV,
        batch.observations,
        batch.actions,
        batch.rewards,
        batch.episode_lengths,
        batch.episode_returns,
    )
    save_demos(demos, demos_path(ENV, directory))
    return directory

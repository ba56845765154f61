"""A trained SAC actor as a policy for other homeworks (homework 1's experts are made so).

A SAC run ends by writing ``LOGDIR/policy.pt`` with :func:`export_policy`: the actor's weights
and what it takes to rebuild it. :class:`SavedPolicy` loads that file (with
``torch.load(..., weights_only=True)``: tensors, numbers and strings only) as a deterministic
policy, ready for a sampler.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from hw3_q_learning.sac import SACAgent, TanhGaussianActor, rescale_actions
from infrastructure.torch_utils import to_numpy, to_torch


def export_policy(agent: SACAgent, action_space: gym.spaces.Box, env: str, path: Path) -> None:
    """Save the actor's weights with what it takes to rebuild it (see :class:`SavedPolicy`)."""
    cfg = agent.config
    torch.save(
        {
            "env": env,
            "obs_dim": agent.actor.net[0].in_features,
            "action_dim": int(np.prod(action_space.shape)),
            "n_layers": cfg.n_layers,
            "layer_size": cfg.layer_size,
            "activation": cfg.activation,
            "action_low": torch.as_tensor(action_space.low),
            "action_high": torch.as_tensor(action_space.high),
            "actor": agent.actor.state_dict(),
        },
        path,
    )


class SavedPolicy:
    """A SAC actor exported by :func:`export_policy`, as a deterministic policy: a batch of
    observations ``(B, obs_dim)`` in, actions ``(B, action_dim)`` within the environment's
    bounds out (:math:`\\tanh(\\mu_\\theta(s))`, rescaled).

    Args:
        path: the file :func:`export_policy` wrote (``LOGDIR/policy.pt`` of a SAC run).
        device: where the actor lives.
    """

    def __init__(self, path: str | Path, device: torch.device | str = "cpu"):
        saved = torch.load(path, map_location=device, weights_only=True)
        self.env: str = saved["env"]
        self.device = torch.device(device)
        self.actor = TanhGaussianActor(
            saved["obs_dim"],
            saved["action_dim"],
            saved["n_layers"],
            saved["layer_size"],
            saved["activation"],
        ).to(device)
        self.actor.load_state_dict(saved["actor"])
        self.actor.eval()
        self.low = saved["action_low"].numpy()
        self.high = saved["action_high"].numpy()

    @torch.no_grad()
    def __call__(self, observations: np.ndarray) -> np.ndarray:
        actions = to_numpy(self.actor.mode(to_torch(observations, self.device)))
        return rescale_actions(actions, self.low, self.high).astype(np.float32)

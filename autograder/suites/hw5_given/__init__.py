"""Given to every sandbox of hw5's hidden suite (as the package ``hw5_grader``, over anything
the submission holds under that name): what the checks of the continuous part need in the
worker that the student's package does not offer.

* :class:`ContinuousAgents` builds the student's ``BCAgent`` or ``ContinuousIQLAgent`` on
  Box spaces of Hopper-v5's sizes, from a plain config dict. The agents are built from
  ``gym.Space`` objects, which cannot cross the sandbox's wire, and the student's
  ``OfflineTrainer`` would make Hopper-v5 (MuJoCo) and read a Hopper dataset to get them. It
  also runs one of the agent's losses backward: the methods return tuples, which the sandbox's
  steps cannot index.
* :func:`weighted_log_prob` turns the student's ``gaussian_log_prob``, one log-density per
  action, into the single number that a gradient check differentiates.

It is grader code that runs where the submission does: it holds no hidden input, and the grader
checks what comes back from it as it checks any answer of the student's code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import torch

OBS_DIM, ACTION_DIM = 11, 3
"""Hopper-v5's spaces: 11 unbounded observations, 3 actions in [-1, 1]."""
AGENT_CLASSES = ("BCAgent", "ContinuousIQLAgent")


def continuous_spaces(obs_dim: int, action_dim: int) -> tuple[gym.spaces.Box, gym.spaces.Box]:
    """Box spaces of Hopper-v5's kind: ``obs_dim`` unbounded observations (float64, as MuJoCo
    gives them), ``action_dim`` actions in [-1, 1] (float32)."""
    return (
        gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float64),
        gym.spaces.Box(-1.0, 1.0, (action_dim,), np.float32),
    )


class ContinuousAgents:
    """The student's agent of the class ``config["agent"]`` (one of :data:`AGENT_CLASSES`),
    on :func:`continuous_spaces` of ``config["obs_dim"]`` and ``config["action_dim"]``, with
    the student's ``OfflineConfig`` of the other fields, on the CPU: kept in the worker as a
    trainer whose ``agent`` the checks reach."""

    def __init__(self, config: Mapping[str, Any]):
        from hw5_offline import continuous
        from hw5_offline.config import OfflineConfig

        fields = dict(config)
        name = fields.pop("agent")
        if name not in AGENT_CLASSES:
            raise ValueError(f"expected an agent among {AGENT_CLASSES}, got {name!r}")
        spaces = continuous_spaces(int(fields.pop("obs_dim")), int(fields.pop("action_dim")))
        agent_class = getattr(continuous, name)
        self.agent = agent_class(*spaces, OfflineConfig(**fields), torch.device("cpu"))

    def loss_backward(self, method: str, *inputs: Any) -> torch.Tensor:
        """The loss that the agent's ``method`` (``actor_loss``, ``critic_loss``, ...) returns
        first, after its backward pass from gradients cleared in every network: what a
        gradient check then fetches from each network's parameters is that loss's gradient
        alone."""
        for value in vars(self.agent).values():
            if isinstance(value, torch.nn.Module):
                value.zero_grad(set_to_none=True)
        loss = getattr(self.agent, method)(*inputs)[0]
        loss.backward()
        return loss.detach()


def weighted_log_prob(
    means: torch.Tensor, log_stds: torch.Tensor, actions: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """:math:`\\sum_i w_i \\log \\pi(a_i)` of the student's ``gaussian_log_prob``: a weight
    per row, so that a gradient that mixes rows, or one row's and the batch's, shows."""
    from hw5_offline.continuous import gaussian_log_prob

    return (weights * gaussian_log_prob(actions, means, log_stds)).sum()

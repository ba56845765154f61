"""The networks of homework 2: stochastic policies and the value baseline.

Network *construction* is given (layer names must match the reference so that the
autograder can load reference weights into your modules). You write what the networks
compute: the action distribution :math:`\\pi_\\theta(a \\mid s)` for a batch of states.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import distributions, nn

from infrastructure.torch_utils import GaussianMLP, build_mlp, to_numpy, to_torch


class Policy(nn.Module):
    """A stochastic policy :math:`\\pi_\\theta(a \\mid s)` over a batch of observations."""

    def distribution(self, observations: torch.Tensor) -> distributions.Distribution:
        """The action distribution for each observation.

        Args:
            observations: shape ``(B, obs_dim)``.

        Returns:
            A distribution with ``batch_shape == (B,)``: its ``log_prob(actions)`` has shape
            ``(B,)``, one log-probability per state, whatever the action dimension.
        """
        raise NotImplementedError

    def mode(self, distribution: distributions.Distribution) -> torch.Tensor:
        """The most likely action, used for deterministic evaluation."""
        raise NotImplementedError

    @torch.no_grad()
    def get_action(self, observations: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Actions for a batch of observations, shape ``(B,)`` (discrete) or
        ``(B, action_dim)`` (continuous). Sampled from the policy unless ``deterministic``."""
        device = next(self.parameters()).device
        dist = self.distribution(to_torch(observations, device))
        actions = self.mode(dist) if deterministic else dist.sample()
        return to_numpy(actions)


class CategoricalPolicy(Policy):
    """:math:`\\pi_\\theta(a \\mid s) = \\mathrm{softmax}(f_\\theta(s))_a` for discrete actions.

    Parameters: ``logits_net`` (an MLP from ``obs_dim`` to ``num_actions`` logits).
    """

    def __init__(
        self, obs_dim: int, num_actions: int, n_layers: int, size: int, activation: str = "tanh"
    ):
        super().__init__()
        self.logits_net = build_mlp(obs_dim, num_actions, n_layers, size, activation)

    def distribution(self, observations: torch.Tensor) -> distributions.Categorical:
        ### BEGIN SOLUTION
        return distributions.Categorical(logits=self.logits_net(observations))
        ### END SOLUTION

    def mode(self, distribution: distributions.Distribution) -> torch.Tensor:
        assert isinstance(distribution, distributions.Categorical)
        return distribution.probs.argmax(dim=-1)


class GaussianPolicy(GaussianMLP, Policy):
    """A diagonal Gaussian :math:`\\pi_\\theta(a \\mid s) = \\mathcal{N}(\\mu_\\theta(s),
    \\mathrm{diag}(\\sigma^2))` for continuous actions, with a state-independent,
    learned :math:`\\log \\sigma`.

    Parameters (built by :class:`~infrastructure.torch_utils.GaussianMLP`, given): ``mean_net``
    (an MLP from ``obs_dim`` to ``action_dim``) and ``log_std`` (shape ``(action_dim,)``).
    Arguments: ``GaussianPolicy(obs_dim, action_dim, n_layers, size, activation="tanh",
    log_std_init=0.0)``.
    """

    def distribution(self, observations: torch.Tensor) -> distributions.Distribution:
        # Hint: a Normal over the action vector treats each dimension as its own batch entry;
        # the policy's log-probability of an action vector is the sum over its dimensions.
        ### BEGIN SOLUTION
        mean = self.mean_net(observations)
        std = torch.exp(self.log_std)
        return distributions.Independent(distributions.Normal(mean, std), 1)
        ### END SOLUTION

    def mode(self, distribution: distributions.Distribution) -> torch.Tensor:
        return distribution.mean


class ValueCritic(nn.Module):
    """The baseline :math:`V_\\phi(s)`: an MLP from ``obs_dim`` to one number.

    Parameters: ``value_net``.
    """

    def __init__(self, obs_dim: int, n_layers: int, size: int, activation: str = "tanh"):
        super().__init__()
        self.value_net = build_mlp(obs_dim, 1, n_layers, size, activation)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """Values of a batch of observations: ``(B, obs_dim)`` -> ``(B,)``."""
        return self.value_net(observations).squeeze(-1)

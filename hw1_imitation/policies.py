"""The learner of homework 1: a Gaussian policy whose mean is an MLP.

Network *construction* is given (layer names must match the reference so that the autograder
can load reference weights into your module). You write what the policy computes: the action
distribution :math:`\\pi_\\theta(a \\mid s)` for a batch of observations, and actions for the
sampler.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import distributions

from infrastructure.torch_utils import GaussianMLP, to_numpy, to_torch


class GaussianMLPPolicy(GaussianMLP):
    """A diagonal Gaussian :math:`\\pi_\\theta(a \\mid s) = \\mathcal{N}(\\mu_\\theta(s),
    \\mathrm{diag}(\\sigma^2))` with a state-independent, learned :math:`\\log \\sigma`.

    Parameters (built by :class:`~infrastructure.torch_utils.GaussianMLP`, given): ``mean_net``
    (an MLP from ``obs_dim`` to ``action_dim``) and ``log_std`` (shape ``(action_dim,)``).
    Arguments: ``GaussianMLPPolicy(obs_dim, action_dim, n_layers, size, activation="tanh",
    log_std_init=0.0)``.
    """

    def distribution(self, observations: torch.Tensor) -> distributions.Distribution:
        """The action distribution for each observation.

        Args:
            observations: shape ``(B, obs_dim)``.

        Returns:
            A distribution with ``batch_shape == (B,)`` and ``event_shape == (action_dim,)``:
            its ``log_prob(actions)`` has shape ``(B,)``, the log-density of each action vector
            (the sum over its dimensions), and its ``mean`` is :math:`\\mu_\\theta(s)`,
            shape ``(B, action_dim)``.
        """
        # Hint: a Normal over the action vector treats each dimension as its own batch entry;
        # torch.distributions.Independent turns the last dimension into the event.
        ### BEGIN SOLUTION
        mean = self.mean_net(observations)
        std = torch.exp(self.log_std)
        return distributions.Independent(distributions.Normal(mean, std), 1)
        ### END SOLUTION

    @torch.no_grad()
    def get_action(self, observations: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Actions for a batch of observations, as the sampler calls a policy.

        Args:
            observations: shape ``(B, obs_dim)``, a NumPy array.
            deterministic: return the mean :math:`\\mu_\\theta(s)` instead of a sample of
                :math:`\\pi_\\theta(\\cdot \\mid s)`.

        Returns:
            shape ``(B, action_dim)``, a NumPy array (no gradient).
        """
        ### BEGIN SOLUTION
        dist = self.distribution(to_torch(observations, self.log_std.device))
        actions = dist.mean if deterministic else dist.sample()
        return to_numpy(actions)
        ### END SOLUTION

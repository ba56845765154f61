"""Behaviour cloning: supervised learning of the expert's actions.

Notation (lecture): the expert :math:`\\pi^*`, the learner :math:`\\pi_\\theta(a \\mid s)`, a
dataset :math:`\\mathcal D = \\{(s_i, a_i)\\}` of states and the expert's actions in them.
Behaviour cloning maximises the likelihood of the expert's actions,

.. math::

    \\max_\\theta \\; \\mathbb{E}_{(s, a) \\sim \\mathcal D} \\log \\pi_\\theta(a \\mid s),

which is supervised learning: it is only as good as the states in :math:`\\mathcal D`. The
states the learner visits drift away from the expert's, where it has no data (DAgger fixes
that, see ``dagger.py``).

The functions between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` are yours to write;
everything else is given.
"""

from __future__ import annotations

from typing import Literal

import torch

from hw1_imitation.policies import GaussianMLPPolicy
from infrastructure.torch_utils import check_shape

BCLoss = Literal["nll", "mse"]


def bc_loss(
    policy: GaussianMLPPolicy,
    observations: torch.Tensor,
    expert_actions: torch.Tensor,
    loss: BCLoss = "nll",
) -> torch.Tensor:
    """The behaviour-cloning loss of one minibatch, a scalar to minimise.

    .. math::

        L_{\\text{nll}}(\\theta) = -\\frac{1}{B} \\sum_{i=1}^{B} \\log \\pi_\\theta(a_i \\mid s_i)
        \\qquad
        L_{\\text{mse}}(\\theta) = \\frac{1}{B \\, d} \\sum_{i=1}^{B} \\lVert \\mu_\\theta(s_i)
            - a_i \\rVert^2

    with :math:`d` = ``action_dim``: the mean squared error averages over the batch *and* the
    action dimensions, as ``torch.nn.functional.mse_loss`` does. It trains the mean only; the
    negative log-likelihood also trains :math:`\\log \\sigma`.

    Args:
        policy: the learner.
        observations: shape ``(B, obs_dim)``.
        expert_actions: shape ``(B, action_dim)``, :math:`a_i = \\pi^*(s_i)`.
        loss: ``"nll"`` or ``"mse"``.

    Returns:
        shape ``()``.
    """
    ### BEGIN SOLUTION
    dist = policy.distribution(observations)
    if loss == "nll":
        return -dist.log_prob(expert_actions).mean()
    if loss == "mse":
        return torch.mean((dist.mean - expert_actions) ** 2)
    raise ValueError(f"expected loss 'nll' or 'mse', got {loss!r}")
    ### END SOLUTION


def bc_update(
    policy: GaussianMLPPolicy,
    optimizer: torch.optim.Optimizer,
    observations: torch.Tensor,
    expert_actions: torch.Tensor,
    loss: BCLoss = "nll",
) -> dict[str, float]:
    """One gradient step of ``optimizer`` on :func:`bc_loss` of one minibatch (the loss is
    given; you write the step).

    Args:
        policy: the learner, whose parameters ``optimizer`` updates.
        optimizer: e.g. ``torch.optim.Adam(policy.parameters())``.
        observations: shape ``(B, obs_dim)``.
        expert_actions: shape ``(B, action_dim)``.
        loss: ``"nll"`` or ``"mse"``.

    Returns:
        ``{"train/loss": the loss before the step}``.
    """
    value = bc_loss(policy, observations, expert_actions, loss)
    check_shape(value, (), "bc_loss")
    ### BEGIN SOLUTION
    optimizer.zero_grad()
    value.backward()
    optimizer.step()
    ### END SOLUTION
    return {"train/loss": float(value.item())}

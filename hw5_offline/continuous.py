"""Offline RL with continuous actions: behaviour cloning and IQL with a Gaussian actor, on
MuJoCo's ``Hopper-v5`` datasets (``hopper/medium-v0``, ``hopper/expert-v0``; made by
``python -m hw5_offline.hopper_data``).

Notation as in :mod:`hw5_offline.offline`: a policy :math:`\\pi_\\theta(a \\mid s)`, now a
Gaussian over :math:`\\mathbb{R}^{|A|}` with a diagonal covariance, two Q-networks
:math:`Q_{\\phi_1}, Q_{\\phi_2}` of :math:`(s, a)` and their slowly moving target copies
:math:`Q_{\\bar\\phi_1}, Q_{\\bar\\phi_2}`, a value network :math:`V_\\psi(s)`.

* **Behaviour cloning** maximises the likelihood of the dataset's actions,
  :math:`L(\\theta) = -\\mathbb{E}_{(s, a) \\sim \\mathcal{D}}[\\log \\pi_\\theta(a \\mid s)]`:
  it imitates the data as it is, good and bad actions alike.

* **IQL** is the discrete agent's (:class:`~hw5_offline.offline.IQLAgent`) with the same three
  losses, :func:`~hw5_offline.offline.expectile_loss`, :func:`~hw5_offline.offline.iql_target`
  and :func:`~hw5_offline.offline.advantage_weighted_loss` (yours, from the discrete part), and
  what continuous control needs around them, as in the IQL paper's locomotion setting: a
  Gaussian actor whose log-likelihood of the dataset's actions the advantages weight, two
  Q-networks (:math:`V` regresses toward the smaller of the two target values, which keeps an
  overestimate of one from lifting :math:`V`), and targets that follow their networks by Polyak
  averaging, :math:`\\bar\\phi \\leftarrow (1 - \\rho) \\bar\\phi + \\rho \\phi`.

  With the advantage :math:`A(s, a) = \\min_k Q_{\\bar\\phi_k}(s, a) - V_\\psi(s)`, the actor
  clones the dataset's actions weighted by :math:`\\exp(A / \\lambda)`: where the data hold
  better and worse actions, as a medium policy's do, it keeps the better ones.

The actor, as the IQL paper's: means squashed into ``[-1, 1]`` by tanh, a standard deviation per
action dimension that does not depend on the state (a learned parameter, its log clamped to
``[LOG_STD_MIN, LOG_STD_MAX]``), evaluated by the log-density of the *unsquashed* Gaussian at
the dataset's actions (scaled to ``[-1, 1]``); it acts with its means. The hyperparameters
(:class:`~hw5_offline.config.OfflineConfig`, Hopper's presets in ``hw5_offline/config.py``)
are the paper's for locomotion: networks of two hidden layers of 256 units, :math:`\\gamma` =
0.99, :math:`\\tau` = 0.7, :math:`1 / \\lambda` = 3, :math:`\\rho` = 0.005
(:data:`TARGET_UPDATE_RATE`), minibatches of 256. Left out: the paper's cosine decay of the
actor's step size and its scaling of the rewards by the dataset's spread of returns.

The functions between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` are yours to write;
everything else is given.
"""

from __future__ import annotations

import copy
import math

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from hw5_offline.config import OfflineConfig
from hw5_offline.offline import (
    OfflineAgent,
    ValueNetwork,
    _adam,
    _gradient_step,
    advantage_weighted_loss,
    expectile_loss,
    iql_target,
    loss_step,
)
from infrastructure.torch_utils import build_mlp, check_shape, to_numpy, to_torch

LOG_STD_MIN = -5.0
LOG_STD_MAX = 2.0
TARGET_UPDATE_RATE = 0.005
"""The Polyak rate :math:`\\rho` of IQL's target Q-networks, moved after every update (the
discrete agents copy theirs every ``target_update_period`` updates instead)."""

# ---------------------------------------------------------------------------------------------
# The Gaussian's log-density
# ---------------------------------------------------------------------------------------------


def gaussian_log_prob(
    actions: torch.Tensor, means: torch.Tensor, log_stds: torch.Tensor
) -> torch.Tensor:
    """The log-density of each action under a Gaussian with a diagonal covariance: the sum over
    the action's dimensions of each one's univariate log-density.

    .. math:: \\log \\pi(a \\mid s) = \\sum_{j=1}^{|A|} \\Big[ -\\frac{(a_j - \\mu_j)^2}
        {2 \\sigma_j^2} - \\log \\sigma_j - \\frac{1}{2} \\log 2\\pi \\Big]

    Args:
        actions: shape ``(B, action_dim)``, :math:`a`.
        means: shape ``(B, action_dim)``, :math:`\\mu_\\theta(s)`, differentiable.
        log_stds: shape ``(B, action_dim)``, :math:`\\log \\sigma_\\theta(s)`, differentiable.

    Returns:
        log-densities, shape ``(B,)``.
    """
    ### BEGIN SOLUTION
    z = (actions - means) * torch.exp(-log_stds)
    per_dimension = -0.5 * z**2 - log_stds - 0.5 * math.log(2.0 * math.pi)
    return per_dimension.sum(dim=-1)
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Networks (given)
# ---------------------------------------------------------------------------------------------


class GaussianActor(nn.Module):
    """:math:`\\pi_\\theta(\\cdot \\mid s) = \\mathcal{N}(\\tanh(\\mu_\\theta(s)),
    \\mathrm{diag}(\\sigma_\\theta^2))` over actions scaled to ``[-1, 1]``, with a standard
    deviation per action dimension that does not depend on the state.

    Parameters: ``mean_net`` (an MLP from ``obs_dim`` to ``action_dim``) and ``log_std``
    (``(action_dim,)``).
    """

    def __init__(self, obs_dim: int, action_dim: int, config: OfflineConfig):
        super().__init__()
        self.mean_net = build_mlp(
            obs_dim, action_dim, config.n_layers, config.layer_size, config.activation
        )
        self.log_std = nn.Parameter(torch.zeros(action_dim))

    def forward(self, observations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, obs_dim)`` -> ``(means, log_stds)``, each ``(B, action_dim)``."""
        means = torch.tanh(self.mean_net(observations))
        log_stds = self.log_std.clamp(LOG_STD_MIN, LOG_STD_MAX).expand_as(means)
        return means, log_stds

    def log_prob(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """:math:`\\log \\pi_\\theta(a \\mid s)` of ``actions`` ``(B, action_dim)``, ``(B,)``."""
        return gaussian_log_prob(actions, *self(observations))


class TwinQNetwork(nn.Module):
    """Two Q-networks of a state and an action, :math:`Q_{\\phi_1}(s, a)` and
    :math:`Q_{\\phi_2}(s, a)`, each an MLP of the two concatenated.

    Parameters: ``q1_net``, ``q2_net``.
    """

    def __init__(self, obs_dim: int, action_dim: int, config: OfflineConfig):
        super().__init__()
        self.q1_net, self.q2_net = (
            build_mlp(
                obs_dim + action_dim, 1, config.n_layers, config.layer_size, config.activation
            )
            for _ in range(2)
        )

    def forward(
        self, observations: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, obs_dim)``, ``(B, action_dim)`` -> :math:`(Q_{\\phi_1}(s, a), Q_{\\phi_2}(s,
        a))`, ``(B,)`` each."""
        inputs = torch.cat([observations, actions], dim=-1)
        return self.q1_net(inputs).squeeze(-1), self.q2_net(inputs).squeeze(-1)


@torch.no_grad()
def soft_update(target: nn.Module, source: nn.Module, rate: float) -> None:
    """Polyak averaging in place: :math:`\\bar\\phi \\leftarrow (1 - \\rho) \\bar\\phi + \\rho
    \\phi` with :math:`\\rho` = ``rate``."""
    for target_param, param in zip(target.parameters(), source.parameters(), strict=True):
        target_param.lerp_(param, rate)


def _continuous_spaces(
    observation_space: gym.Space, action_space: gym.Space
) -> tuple[int, np.ndarray, np.ndarray]:
    """``(obs_dim, low, high)`` of a flat Box observation space and a bounded Box action
    space."""
    shape = observation_space.shape
    if not isinstance(observation_space, gym.spaces.Box) or shape is None or len(shape) != 1:
        raise ValueError(f"expected a 1-D Box observation space, got {observation_space}")
    if not isinstance(action_space, gym.spaces.Box) or len(action_space.shape) != 1:
        raise ValueError(f"expected a 1-D Box action space, got {action_space}")
    if not (np.all(np.isfinite(action_space.low)) and np.all(np.isfinite(action_space.high))):
        raise ValueError(f"expected a bounded action space, got {action_space}")
    return shape[0], action_space.low.astype(np.float32), action_space.high.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# The agents
# ---------------------------------------------------------------------------------------------


class BCAgent(OfflineAgent):
    """Behaviour cloning of the dataset's actions by maximum likelihood under a
    :class:`GaussianActor`.

    The interface of the discrete agents (:class:`~hw5_offline.offline.DQNAgent`):
    ``update(batch)`` takes a minibatch of the dataset (a dict of arrays ``observations``,
    ``actions``, ``rewards``, ``next_observations``, ``terminated``) and returns training
    metrics; ``act(observations)`` returns the actions of the learned policy (its means, in the
    environment's bounds). Actions are scaled from the environment's bounds to ``[-1, 1]`` on the
    way in and back on the way out.

    Args:
        observation_space: a 1-D ``Box``.
        action_space: a bounded 1-D ``Box``.
        config: the hyperparameters.
        device: where the networks live.
    """

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: OfflineConfig,
        device: torch.device,
    ):
        self.obs_dim, self.low, self.high = _continuous_spaces(observation_space, action_space)
        self.action_dim = len(self.low)
        self.config = config
        self.device = device
        self.actor = GaussianActor(self.obs_dim, self.action_dim, config).to(device)
        self.actor_optimizer = _adam(self.actor.parameters(), config.actor_learning_rate)
        self.num_updates = 0

    def action_tensor(self, actions: np.ndarray) -> torch.Tensor:
        """The dataset's actions scaled from the environment's bounds to ``[-1, 1]``."""
        scaled = 2.0 * (np.asarray(actions) - self.low) / (self.high - self.low) - 1.0
        return to_torch(np.clip(scaled, -1.0, 1.0), self.device)

    @torch.no_grad()
    def act(self, observations: np.ndarray) -> np.ndarray:
        """The actor's means for a batch of observations, in the environment's bounds,
        ``(B, action_dim)``."""
        means, _ = self.actor(to_torch(observations, self.device))
        scaled = to_numpy(means)
        return (self.low + 0.5 * (scaled + 1.0) * (self.high - self.low)).astype(np.float32)

    def actor_loss(
        self, observations: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The negative mean log-likelihood of the dataset's actions under the actor,
        :math:`-\\frac{1}{B} \\sum_i \\log \\pi_\\theta(a_i \\mid s_i)`.

        Args:
            observations: shape ``(B, obs_dim)``.
            actions: shape ``(B, action_dim)``, scaled to ``[-1, 1]``.

        Returns:
            ``(loss, log_probs)``: the scalar loss and :math:`\\log \\pi_\\theta(a_i \\mid
            s_i)`, ``(B,)``.
        """
        ### BEGIN SOLUTION
        log_probs = self.actor.log_prob(observations, actions)
        return -log_probs.mean(), log_probs
        ### END SOLUTION

    def update_actor(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One gradient step of the actor on ``actor_loss``."""
        result = self.actor_loss(batch["observations"], batch["actions"])
        return loss_step(self.actor_optimizer, result, len(batch["actions"]), "actor", "log_probs")

    def update(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        """One gradient step of the actor."""
        metrics = self.update_actor(self.to_tensors(batch))
        self.num_updates += 1
        return metrics


class ContinuousIQLAgent(BCAgent):
    """Implicit Q-learning with a Gaussian actor: :math:`V_\\psi` by expectile regression toward
    the smaller target value :math:`\\min_k Q_{\\bar\\phi_k}(s, a)` of the dataset's action, both
    Q-networks toward :func:`~hw5_offline.offline.iql_target`, and the actor by
    :func:`~hw5_offline.offline.advantage_weighted_loss` of its log-likelihood.

    Each update takes a step of :math:`V`, then of the actor and of the Q-networks with the new
    :math:`V` (the order of the paper's code), then moves the targets by
    :data:`TARGET_UPDATE_RATE`.
    """

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: OfflineConfig,
        device: torch.device,
    ):
        super().__init__(observation_space, action_space, config, device)
        self.q_network = TwinQNetwork(self.obs_dim, self.action_dim, config).to(device)
        self.target_network = copy.deepcopy(self.q_network)
        self.target_network.requires_grad_(False)
        self.critic_optimizer = _adam(self.q_network.parameters(), config.learning_rate)
        self.value_network = ValueNetwork(self.obs_dim, config).to(device)
        self.value_optimizer = _adam(self.value_network.parameters(), config.learning_rate)

    def value_loss(
        self, observations: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:func:`~hw5_offline.offline.expectile_loss` (``config.expectile``) of
        :math:`V_\\psi(s)` against :math:`\\min_k Q_{\\bar\\phi_k}(s, a)`, the smaller of the two
        target networks' values of the dataset's actions (without gradient).

        Returns:
            ``(loss, values)``: the scalar loss and :math:`V_\\psi(s)`, ``(B,)``.
        """
        ### BEGIN SOLUTION
        with torch.no_grad():
            target_q_values = torch.minimum(*self.target_network(observations, actions))
        values = self.value_network(observations)
        loss = expectile_loss(target_q_values - values, self.config.expectile)
        return loss, values
        ### END SOLUTION

    def critic_loss(
        self,
        observations: torch.Tensor,
        actions: torch.Tensor,
        rewards: torch.Tensor,
        next_observations: torch.Tensor,
        terminated: torch.Tensor,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The sum of both Q-networks' mean squared errors against
        :func:`~hw5_offline.offline.iql_target`, with :math:`V_\\psi(s')` from the value network
        (without gradient): :math:`\\sum_k \\frac{1}{B} \\sum_i (Q_{\\phi_k}(s_i, a_i) -
        y_i)^2`.

        Returns:
            ``(loss, tensors)``: the scalar loss, and ``q_values`` (:math:`Q_{\\phi_1}(s, a)`)
            and ``targets``, ``(B,)`` each.
        """
        ### BEGIN SOLUTION
        q1_values, q2_values = self.q_network(observations, actions)
        with torch.no_grad():
            next_values = self.value_network(next_observations)
            targets = iql_target(rewards, next_values, terminated, self.config.gamma)
        loss = F.mse_loss(q1_values, targets) + F.mse_loss(q2_values, targets)
        return loss, {"q_values": q1_values, "targets": targets}
        ### END SOLUTION

    def actor_loss(
        self, observations: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:func:`~hw5_offline.offline.advantage_weighted_loss` of the actor's log-likelihood
        of the dataset's actions, with the advantages :math:`\\min_k Q_{\\bar\\phi_k}(s, a) -
        V_\\psi(s)` (target networks, value network, without gradient), ``config.temperature``
        and ``config.max_weight``.

        Returns:
            ``(loss, advantages)``: the scalar loss and the advantages, ``(B,)``.
        """
        ### BEGIN SOLUTION
        with torch.no_grad():
            target_q_values = torch.minimum(*self.target_network(observations, actions))
            advantages = target_q_values - self.value_network(observations)
        log_probs = self.actor.log_prob(observations, actions)
        loss = advantage_weighted_loss(
            log_probs, advantages, self.config.temperature, self.config.max_weight
        )
        return loss, advantages
        ### END SOLUTION

    def update_value(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One gradient step of the value network on ``value_loss``."""
        result = self.value_loss(batch["observations"], batch["actions"])
        return loss_step(self.value_optimizer, result, len(batch["actions"]), "value", "values")

    def update_actor(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One gradient step of the actor on ``actor_loss``."""
        result = self.actor_loss(batch["observations"], batch["actions"])
        return loss_step(self.actor_optimizer, result, len(batch["actions"]), "actor", "advantages")

    def update_critic(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One gradient step of both Q-networks on ``critic_loss``."""
        loss, tensors = self.critic_loss(**batch)
        check_shape(loss, (), "critic_loss (loss)")
        check_shape(tensors["q_values"], (len(batch["rewards"]),), "critic_loss (q_values)")
        _gradient_step(self.critic_optimizer, loss)
        return {
            "train/loss_critic": loss.item(),
            "train/q_values": tensors["q_values"].mean().item(),
            "train/target_values": tensors["targets"].mean().item(),
        }

    def update(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        """A gradient step of :math:`V`, of the actor, of the Q-networks, then the targets'
        Polyak update."""
        tensors = self.to_tensors(batch)
        metrics = self.update_value(tensors)
        metrics |= self.update_actor(tensors)
        metrics |= self.update_critic(tensors)
        soft_update(self.target_network, self.q_network, TARGET_UPDATE_RATE)
        self.num_updates += 1
        return metrics


CONTINUOUS_AGENTS: dict[str, type[BCAgent]] = {"bc": BCAgent, "iql": ContinuousIQLAgent}

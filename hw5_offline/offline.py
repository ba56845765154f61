"""Offline RL with discrete actions, top to bottom: DQN as the baseline, then CQL, AWAC and IQL,
each learning from a fixed dataset of transitions without ever acting in the environment.

Notation (lecture): the Q-network :math:`Q_\\phi(s, a)` and its target network
:math:`Q_{\\bar\\phi}`, a policy :math:`\\pi_\\theta(a \\mid s)` (a categorical distribution over
the actions), a value network :math:`V_\\psi(s)`, a transition :math:`(s, a, r, s', d)` from the
dataset with :math:`d` = ``terminated``, the discount :math:`\\gamma`.

Why offline RL needs more than DQN: the Bellman target's :math:`\\max_{a'} Q(s', a')` queries
actions the dataset never took, whose values nothing corrects, so the maximum picks out the
overestimated ones and the errors compound. Each method below keeps the learned policy close to
the data in its own way:

* **CQL** (Kumar et al., 2020) adds to the TD loss a term that pushes down the values of all
  actions (a soft maximum) and pushes up those of the dataset's actions:

  .. math:: R(\\phi) = \\alpha \\, \\mathbb{E}_{(s, a) \\sim \\mathcal{D}} \\Big[
      \\tau \\log \\sum_{a'} \\exp\\big(Q_\\phi(s, a') / \\tau\\big) - Q_\\phi(s, a) \\Big]

* **AWAC** (Nair et al., 2020) evaluates its own policy, :math:`y = r + \\gamma (1 - d)
  \\sum_{a'} \\pi(a' \\mid s') Q_{\\bar\\phi}(s', a')`, and improves it by weighted behaviour
  cloning of the dataset's actions, each weighted by :math:`\\exp(A(s, a) / \\lambda)` with the
  advantage :math:`A(s, a) = Q_\\phi(s, a) - \\sum_{a'} \\pi(a' \\mid s) Q_\\phi(s, a')`.

* **IQL** (Kostrikov et al., 2021) never evaluates an action outside the dataset: an upper
  expectile of :math:`Q_{\\bar\\phi}(s, a)` over the dataset's actions stands in for the maximum,

  .. math::

      L_V(\\psi) = \\mathbb{E}\\big[L_2^\\tau\\big(Q_{\\bar\\phi}(s, a) - V_\\psi(s)\\big)\\big],
      \\quad L_2^\\tau(u) = |\\tau - \\mathbb{1}(u < 0)| \\, u^2
      \\qquad
      L_Q(\\phi) = \\mathbb{E}\\big[\\big(r + \\gamma (1 - d) V_\\psi(s')
          - Q_\\phi(s, a)\\big)^2\\big]

  and extracts its policy with AWAC's weighted cloning, :math:`A = Q_{\\bar\\phi}(s, a) -
  V_\\psi(s)`.

The hyperparameters' defaults (:class:`~hw5_offline.config.OfflineConfig`) are those of
Berkeley's CS 285 homework 5 (2023): networks of two hidden layers of 64 units,
:math:`\\gamma` = 0.95, a mean-squared TD error, double-Q targets for DQN and CQL, hard target
updates every 300 steps, a categorical actor for AWAC and IQL. The advantage weights are clipped
at 100 as in the IQL paper's code (Berkeley's homework does not clip them), which keeps one large
advantage from dominating a minibatch.

The functions between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` are yours to write;
everything else is given.
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from hw5_offline.config import OfflineConfig
from infrastructure.torch_utils import build_mlp, check_shape, to_numpy, to_torch

# ---------------------------------------------------------------------------------------------
# CQL's regulariser
# ---------------------------------------------------------------------------------------------


def cql_regularizer(
    q_values: torch.Tensor, actions: torch.Tensor, alpha: float, temperature: float
) -> torch.Tensor:
    """CQL's conservative term for discrete actions: a soft maximum of :math:`Q` over *all*
    actions minus :math:`Q` of the dataset's action, averaged over the batch.

    .. math:: R = \\alpha \\frac{1}{B} \\sum_{i} \\Big[ \\tau \\log \\sum_{a'}
        \\exp\\big(Q_\\phi(s_i, a') / \\tau\\big) - Q_\\phi(s_i, a_i) \\Big]

    Minimising it lowers the values of actions the data did not take relative to those it did.
    The soft maximum is over the actions of each state (dimension 1), never over the batch;
    ``torch.logsumexp`` computes it without overflow.

    Args:
        q_values: shape ``(B, num_actions)``, :math:`Q_\\phi(s, \\cdot)`, differentiable.
        actions: shape ``(B,)``, the dataset's actions (``torch.long``).
        alpha: :math:`\\alpha \\ge 0`.
        temperature: :math:`\\tau > 0`.

    Returns:
        a scalar tensor.
    """
    ### BEGIN SOLUTION
    soft_maximum = temperature * torch.logsumexp(q_values / temperature, dim=1)
    data_q_values = q_values.gather(1, actions.unsqueeze(1)).squeeze(1)
    return alpha * (soft_maximum - data_q_values).mean()
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# AWAC: the critic of the policy, advantages, and the advantage-weighted actor loss
# ---------------------------------------------------------------------------------------------


def awac_target(
    rewards: torch.Tensor,
    next_q_values: torch.Tensor,
    next_action_probs: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    """The target of AWAC's critic: the expectation of the next value over the *policy's*
    actions (it evaluates :math:`\\pi`, not the greedy policy).

    .. math:: y = r + \\gamma (1 - d) \\sum_{a'} \\pi(a' \\mid s') \\, Q_{\\bar\\phi}(s', a')

    Only ``terminated`` stops the bootstrap: a transition cut by a time limit still has a
    future, and its ``next_observations`` is the true final observation.

    Args:
        rewards: shape ``(B,)``, :math:`r`.
        next_q_values: shape ``(B, num_actions)``, :math:`Q_{\\bar\\phi}(s', \\cdot)` from the
            target network.
        next_action_probs: shape ``(B, num_actions)``, :math:`\\pi(\\cdot \\mid s')`, each row
            summing to 1.
        terminated: shape ``(B,)``, 1.0 where :math:`s'` is terminal, else 0.0 (float).
        gamma: discount factor.

    Returns:
        targets, shape ``(B,)``.
    """
    ### BEGIN SOLUTION
    next_values = (next_action_probs * next_q_values).sum(dim=1)
    return rewards + gamma * (1.0 - terminated) * next_values
    ### END SOLUTION


def awac_advantages(
    q_values: torch.Tensor, actions: torch.Tensor, action_probs: torch.Tensor
) -> torch.Tensor:
    """The advantage of the dataset's actions over the policy's average action.

    .. math:: A(s, a) = Q(s, a) - V(s), \\qquad V(s) = \\sum_{a'} \\pi(a' \\mid s) \\, Q(s, a')

    Args:
        q_values: shape ``(B, num_actions)``, :math:`Q(s, \\cdot)`.
        actions: shape ``(B,)``, the dataset's actions (``torch.long``).
        action_probs: shape ``(B, num_actions)``, :math:`\\pi(\\cdot \\mid s)`.

    Returns:
        advantages, shape ``(B,)``.
    """
    ### BEGIN SOLUTION
    values = (action_probs * q_values).sum(dim=1)
    data_q_values = q_values.gather(1, actions.unsqueeze(1)).squeeze(1)
    return data_q_values - values
    ### END SOLUTION


def advantage_weighted_loss(
    log_probs: torch.Tensor, advantages: torch.Tensor, temperature: float, max_weight: float
) -> torch.Tensor:
    """The actor loss of AWAC and IQL: behaviour cloning of the dataset's actions, each weighted
    by how much better than average it is.

    .. math:: L(\\theta) = -\\frac{1}{B} \\sum_i w_i \\log \\pi_\\theta(a_i \\mid s_i),
        \\qquad w_i = \\min\\big(\\exp(A(s_i, a_i) / \\lambda), w_{\\max}\\big)

    The weights are constants: no gradient flows through them into the critic (or whatever
    computed the advantages); the actor's loss moves the actor only.

    Args:
        log_probs: shape ``(B,)``, :math:`\\log \\pi_\\theta(a_i \\mid s_i)` of the dataset's
            actions, differentiable.
        advantages: shape ``(B,)``, :math:`A(s_i, a_i)`.
        temperature: :math:`\\lambda > 0`.
        max_weight: :math:`w_{\\max} > 0`.

    Returns:
        a scalar tensor.
    """
    ### BEGIN SOLUTION
    weights = torch.exp(advantages.detach() / temperature).clamp(max=max_weight)
    return -(weights * log_probs).mean()
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# IQL: expectile regression for V, and Q's target from V
# ---------------------------------------------------------------------------------------------


def expectile_loss(differences: torch.Tensor, expectile: float) -> torch.Tensor:
    """The mean asymmetric squared loss whose minimiser is the :math:`\\tau`-expectile.

    .. math:: L_2^\\tau(u) = |\\tau - \\mathbb{1}(u < 0)| \\, u^2

    with :math:`u = Q_{\\bar\\phi}(s, a) - V_\\psi(s)`, target minus prediction: for
    :math:`\\tau > 0.5` a :math:`V` below its target (:math:`u > 0`) costs more than one above it
    (weight :math:`\\tau` against :math:`1 - \\tau`), so :math:`V` settles above the mean of its
    targets, towards their maximum. :math:`\\tau = 0.5` gives half the mean squared error.

    Args:
        differences: shape ``(B,)``, :math:`u`, differentiable.
        expectile: :math:`\\tau \\in (0, 1)`.

    Returns:
        a scalar tensor, the mean over the batch.
    """
    ### BEGIN SOLUTION
    weights = torch.where(differences < 0, 1.0 - expectile, expectile)
    return (weights * differences**2).mean()
    ### END SOLUTION


def iql_target(
    rewards: torch.Tensor, next_values: torch.Tensor, terminated: torch.Tensor, gamma: float
) -> torch.Tensor:
    """The target of IQL's Q-network: bootstrapped from the value network, so that no action
    outside the dataset is ever evaluated.

    .. math:: y = r + \\gamma (1 - d) V_\\psi(s')

    Args:
        rewards: shape ``(B,)``, :math:`r`.
        next_values: shape ``(B,)``, :math:`V_\\psi(s')`.
        terminated: shape ``(B,)``, 1.0 where :math:`s'` is terminal, else 0.0 (float).
        gamma: discount factor.

    Returns:
        targets, shape ``(B,)``.
    """
    ### BEGIN SOLUTION
    bootstrap = (1.0 - terminated) * next_values
    return rewards + gamma * bootstrap
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Networks (given)
# ---------------------------------------------------------------------------------------------


class QNetwork(nn.Module):
    """:math:`Q_\\phi(s, \\cdot)`: an MLP from an observation to one value per action.

    Parameters: ``q_net``.
    """

    def __init__(self, obs_dim: int, num_actions: int, config: OfflineConfig):
        super().__init__()
        self.q_net = build_mlp(
            obs_dim, num_actions, config.n_layers, config.layer_size, config.activation
        )

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """``(B, obs_dim)`` -> ``(B, num_actions)``."""
        return self.q_net(observations)


class ValueNetwork(nn.Module):
    """:math:`V_\\psi(s)`: an MLP from an observation to one value.

    Parameters: ``v_net``.
    """

    def __init__(self, obs_dim: int, config: OfflineConfig):
        super().__init__()
        self.v_net = build_mlp(obs_dim, 1, config.n_layers, config.layer_size, config.activation)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """``(B, obs_dim)`` -> ``(B,)``."""
        return self.v_net(observations).squeeze(-1)


class CategoricalActor(nn.Module):
    """:math:`\\pi_\\theta(\\cdot \\mid s)`: a categorical distribution over the actions, from an
    MLP's logits.

    Parameters: ``logits_net``.
    """

    def __init__(self, obs_dim: int, num_actions: int, config: OfflineConfig):
        super().__init__()
        self.logits_net = build_mlp(
            obs_dim, num_actions, config.n_layers, config.layer_size, config.activation
        )

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """``(B, obs_dim)`` -> log-probabilities :math:`\\log \\pi_\\theta(\\cdot \\mid s)`,
        ``(B, num_actions)``."""
        return torch.log_softmax(self.logits_net(observations), dim=-1)


@torch.no_grad()
def hard_update(target: nn.Module, source: nn.Module) -> None:
    """Copy every parameter of ``source`` into ``target`` in place: :math:`\\bar\\phi \\leftarrow
    \\phi`."""
    for target_param, param in zip(target.parameters(), source.parameters(), strict=True):
        target_param.copy_(param)


def gather_actions(values: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """``values[i, actions[i]]`` for each row ``i``: ``(B, num_actions)``, ``(B,)`` -> ``(B,)``."""
    return values.gather(1, actions.unsqueeze(1)).squeeze(1)


@torch.no_grad()
def dqn_targets(
    rewards: torch.Tensor,
    next_q_values: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float,
    chooser_q_values: torch.Tensor | None = None,
) -> torch.Tensor:
    """DQN's Bellman target, double DQN's when ``chooser_q_values`` is given: the target
    network values the next action that :math:`Q` chooses.

    .. math:: y = r + \\gamma (1 - d) \\, Q_{\\bar\\phi}\\big(s', \\arg\\max_{a'} Q(s', a')\\big)

    with :math:`Q` the online network :math:`Q_\\phi` (double DQN) or :math:`Q_{\\bar\\phi}`
    itself (DQN). Only ``terminated`` stops the bootstrap: a transition cut by a time limit
    still has a future, and its next observation is the true final one. The offline
    :class:`DQNAgent` and the RND explorer's DQN (``hw5_offline.exploration``) share it.

    Args:
        rewards: shape ``(B,)``, :math:`r`.
        next_q_values: shape ``(B, num_actions)``, :math:`Q_{\\bar\\phi}(s', \\cdot)`.
        terminated: shape ``(B,)``, 1.0 where :math:`s'` is terminal, else 0.0 (float).
        gamma: discount factor.
        chooser_q_values: shape ``(B, num_actions)``, :math:`Q_\\phi(s', \\cdot)`; None
            chooses with ``next_q_values``.

    Returns:
        targets, shape ``(B,)``, without gradient.
    """
    chooser = next_q_values if chooser_q_values is None else chooser_q_values
    next_values = gather_actions(next_q_values, chooser.argmax(dim=1))
    return rewards + gamma * (1.0 - terminated) * next_values


def _adam(parameters: Any, learning_rate: float) -> torch.optim.Adam:
    # Fused Adam is about 20% faster per update of these small networks on a CPU (measured on
    # each agent's update, 1000 minibatches of 128).
    return torch.optim.Adam(parameters, learning_rate, fused=True)


def _gradient_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def loss_step(
    optimizer: torch.optim.Optimizer,
    result: tuple[torch.Tensor, torch.Tensor],
    batch_size: int,
    network: str,
    quantity: str,
) -> dict[str, float]:
    """One gradient step of ``optimizer`` on the loss of ``result``, what a ``NETWORK_loss``
    method returns: the scalar loss and a tensor of one value per transition (``quantity``),
    both checked for shape first. Returns the metrics ``train/loss_NETWORK`` and the mean of
    ``train/QUANTITY``."""
    loss, per_transition = result
    check_shape(loss, (), f"{network}_loss (loss)")
    check_shape(per_transition, (batch_size,), f"{network}_loss ({quantity})")
    _gradient_step(optimizer, loss)
    return {f"train/loss_{network}": loss.item(), f"train/{quantity}": per_transition.mean().item()}


def _spaces(observation_space: gym.Space, action_space: gym.Space) -> tuple[int, int]:
    """``(obs_dim, num_actions)`` of a flat Box observation space and a Discrete action
    space, the only kind the offline agents learn on."""
    if not isinstance(action_space, gym.spaces.Discrete):
        raise ValueError(f"expected a Discrete action space, got {action_space}")
    shape = observation_space.shape
    if not isinstance(observation_space, gym.spaces.Box) or shape is None or len(shape) != 1:
        raise ValueError(f"expected a 1-D Box observation space, got {observation_space}")
    return shape[0], int(action_space.n)


# ---------------------------------------------------------------------------------------------
# The agents
# ---------------------------------------------------------------------------------------------


class OfflineAgent:
    """What every offline agent (here and in ``hw5_offline.continuous``) shares: a minibatch of
    the dataset as tensors, and saving and restoring its networks, optimizers and update count
    for a checkpoint."""

    device: torch.device
    num_updates: int

    def to_tensors(self, batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        """A minibatch of arrays as tensors on the agent's device (actions by
        :meth:`action_tensor`, ``terminated`` as 0.0 or 1.0)."""
        missing = {"observations", "actions", "rewards", "next_observations", "terminated"}
        missing -= set(batch)
        if missing:
            raise KeyError(f"expected a batch with {sorted(missing)}, got keys {sorted(batch)}")
        return {
            "observations": to_torch(batch["observations"], self.device),
            "actions": self.action_tensor(batch["actions"]),
            "rewards": to_torch(batch["rewards"], self.device),
            "next_observations": to_torch(batch["next_observations"], self.device),
            "terminated": to_torch(batch["terminated"], self.device),
        }

    def action_tensor(self, actions: np.ndarray) -> torch.Tensor:
        """The dataset's actions as the agent's losses take them."""
        raise NotImplementedError

    def _stateful(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        return {
            name: value
            for name, value in vars(self).items()
            if isinstance(value, nn.Module | torch.optim.Optimizer)
        }

    def state_dict(self) -> dict[str, Any]:
        """Everything a checkpoint needs to resume this agent: every network and optimizer
        (by attribute name) and the update count, copied (an optimizer's state loaded from
        tensors it shares with another optimizer would be updated by both)."""
        state: dict[str, Any] = {
            name: copy.deepcopy(value.state_dict()) for name, value in self._stateful().items()
        }
        state["num_updates"] = self.num_updates
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        expected = {*self._stateful(), "num_updates"}
        if set(state) != expected:
            raise KeyError(
                f"expected a {type(self).__name__} state with {sorted(expected)}, got "
                f"{sorted(state)}"
            )
        for name, value in self._stateful().items():
            value.load_state_dict(state[name])
        self.num_updates = int(state["num_updates"])


class DQNAgent(OfflineAgent):
    """Double DQN trained on a fixed dataset: the baseline that shows why offline RL needs
    more (given code).

    Every agent here has the same interface: ``update(batch)`` takes a minibatch of the
    dataset (a dict of arrays ``observations``, ``actions``, ``rewards``,
    ``next_observations``, ``terminated``) and returns training metrics; ``act(observations)``
    returns the actions of its learned policy, greedy.

    Args:
        observation_space: a 1-D ``Box``.
        action_space: a ``Discrete`` space.
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
        self.obs_dim, self.num_actions = _spaces(observation_space, action_space)
        self.config = config
        self.device = device
        self.q_network = QNetwork(self.obs_dim, self.num_actions, config).to(device)
        self.target_network = copy.deepcopy(self.q_network)
        self.target_network.requires_grad_(False)
        self.critic_optimizer = _adam(self.q_network.parameters(), config.learning_rate)
        self.num_updates = 0

    def action_tensor(self, actions: np.ndarray) -> torch.Tensor:
        """The dataset's action indices as ``torch.long``."""
        return to_torch(actions, self.device, torch.long)

    @torch.no_grad()
    def act(self, observations: np.ndarray) -> np.ndarray:
        """:math:`\\arg\\max_a Q_\\phi(s, a)` for a batch of observations, shape ``(B,)``."""
        q_values = self.q_network(to_torch(observations, self.device))
        return to_numpy(q_values.argmax(dim=1))

    def critic_loss(
        self,
        observations: torch.Tensor,
        actions: torch.Tensor,
        rewards: torch.Tensor,
        next_observations: torch.Tensor,
        terminated: torch.Tensor,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The mean squared TD error of a minibatch, with the double-DQN target (or DQN's when
        ``config.double_q`` is False).

        .. math:: y = r + \\gamma (1 - d)
            Q_{\\bar\\phi}\\big(s', \\arg\\max_{a'} Q_\\phi(s', a')\\big)

        Returns:
            ``(loss, tensors)``: the scalar loss, and ``q_values_all`` (:math:`Q_\\phi(s,
            \\cdot)`, ``(B, num_actions)``), ``q_values`` and ``targets`` (``(B,)`` each).
        """
        q_values_all = self.q_network(observations)
        q_values = gather_actions(q_values_all, actions)
        with torch.no_grad():
            next_q_values = self.target_network(next_observations)
            chooser = self.q_network(next_observations) if self.config.double_q else None
            targets = dqn_targets(rewards, next_q_values, terminated, self.config.gamma, chooser)
        loss = F.mse_loss(q_values, targets)
        return loss, {"q_values_all": q_values_all, "q_values": q_values, "targets": targets}

    def update_critic(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One gradient step of the Q-network on ``critic_loss``."""
        loss, tensors = self.critic_loss(**batch)
        batch_size = len(batch["rewards"])
        check_shape(loss, (), "critic_loss (loss)")
        check_shape(tensors["q_values"], (batch_size,), "critic_loss (q_values)")
        _gradient_step(self.critic_optimizer, loss)
        metrics = {
            "train/loss_critic": loss.item(),
            "train/q_values": tensors["q_values"].mean().item(),
            "train/target_values": tensors["targets"].mean().item(),
        }
        if "cql_regularizer" in tensors:
            metrics["train/cql_regularizer"] = tensors["cql_regularizer"].item()
        return metrics

    def update_target(self) -> None:
        """Count one update; copy the Q-network into the target every
        ``target_update_period`` updates."""
        self.num_updates += 1
        if self.num_updates % self.config.target_update_period == 0:
            hard_update(self.target_network, self.q_network)

    def update(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        """One gradient step of the Q-network, then the target network's update."""
        metrics = self.update_critic(self.to_tensors(batch))
        self.update_target()
        return metrics


class CQLAgent(DQNAgent):
    """Conservative Q-learning: DQN's loss plus :func:`cql_regularizer` (``config.cql_alpha``,
    ``config.cql_temperature``). Everything else is DQN's."""

    def critic_loss(
        self,
        observations: torch.Tensor,
        actions: torch.Tensor,
        rewards: torch.Tensor,
        next_observations: torch.Tensor,
        terminated: torch.Tensor,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """DQN's loss (:meth:`DQNAgent.critic_loss`) plus CQL's regulariser on the same
        :math:`Q_\\phi(s, \\cdot)`; the tensors also hold ``cql_regularizer``, the term added."""
        ### BEGIN SOLUTION
        loss, tensors = super().critic_loss(
            observations, actions, rewards, next_observations, terminated
        )
        regularizer = cql_regularizer(
            tensors["q_values_all"], actions, self.config.cql_alpha, self.config.cql_temperature
        )
        return loss + regularizer, {**tensors, "cql_regularizer": regularizer}
        ### END SOLUTION


class AWACAgent(DQNAgent):
    """Advantage-weighted actor-critic: a critic of the actor's policy (:func:`awac_target`) and
    an actor trained by :func:`advantage_weighted_loss`. Acting takes the actor's most likely
    action."""

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: OfflineConfig,
        device: torch.device,
    ):
        super().__init__(observation_space, action_space, config, device)
        self.actor = CategoricalActor(self.obs_dim, self.num_actions, config).to(device)
        self.actor_optimizer = _adam(self.actor.parameters(), config.actor_learning_rate)

    @torch.no_grad()
    def act(self, observations: np.ndarray) -> np.ndarray:
        """:math:`\\arg\\max_a \\pi_\\theta(a \\mid s)` for a batch of observations, ``(B,)``."""
        return to_numpy(self.actor(to_torch(observations, self.device)).argmax(dim=1))

    def critic_loss(
        self,
        observations: torch.Tensor,
        actions: torch.Tensor,
        rewards: torch.Tensor,
        next_observations: torch.Tensor,
        terminated: torch.Tensor,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The mean squared TD error of :math:`Q_\\phi(s, a)` against :func:`awac_target`, with
        the target network's values and the actor's probabilities at :math:`s'`, neither
        carrying a gradient.

        Returns:
            ``(loss, tensors)``: the scalar loss, and ``q_values`` and ``targets``, ``(B,)``
            each.
        """
        ### BEGIN SOLUTION
        q_values = gather_actions(self.q_network(observations), actions)
        with torch.no_grad():
            next_q_values = self.target_network(next_observations)
            next_action_probs = self.actor(next_observations).exp()
            targets = awac_target(
                rewards, next_q_values, next_action_probs, terminated, self.config.gamma
            )
        loss = F.mse_loss(q_values, targets)
        return loss, {"q_values": q_values, "targets": targets}
        ### END SOLUTION

    def actor_loss(
        self, observations: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:func:`advantage_weighted_loss` of the dataset's actions, with the advantages of
        :func:`awac_advantages` from the Q-network and the actor's own probabilities (both
        without gradient), ``config.temperature`` and ``config.max_weight``.

        Returns:
            ``(loss, advantages)``: the scalar loss and the advantages, ``(B,)``.
        """
        ### BEGIN SOLUTION
        log_probs_all = self.actor(observations)
        with torch.no_grad():
            advantages = awac_advantages(self.q_network(observations), actions, log_probs_all.exp())
        log_probs = gather_actions(log_probs_all, actions)
        loss = advantage_weighted_loss(
            log_probs, advantages, self.config.temperature, self.config.max_weight
        )
        return loss, advantages
        ### END SOLUTION

    def update_actor(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One gradient step of the actor on ``actor_loss``."""
        result = self.actor_loss(batch["observations"], batch["actions"])
        return loss_step(self.actor_optimizer, result, len(batch["actions"]), "actor", "advantages")

    def update(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        """A gradient step of the critic, one of the actor, then the target network's
        update."""
        tensors = self.to_tensors(batch)
        metrics = self.update_critic(tensors)
        metrics |= self.update_actor(tensors)
        self.update_target()
        return metrics


class IQLAgent(AWACAgent):
    """Implicit Q-learning: a value network fitted by expectile regression to the target
    network's :math:`Q` of the dataset's actions, a Q-network fitted to :func:`iql_target`, and
    AWAC's actor with the advantage :math:`Q_{\\bar\\phi}(s, a) - V_\\psi(s)`.

    Each update takes a step of :math:`V`, then of the actor and of :math:`Q` with the new
    :math:`V` (the order of the paper's code), then the target network's update. :math:`Q`'s
    target takes :math:`V_\\psi(s')` from the value network itself, as the paper does (Berkeley's
    homework keeps a target copy of :math:`V`).
    """

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: OfflineConfig,
        device: torch.device,
    ):
        super().__init__(observation_space, action_space, config, device)
        self.value_network = ValueNetwork(self.obs_dim, config).to(device)
        self.value_optimizer = _adam(self.value_network.parameters(), config.learning_rate)

    def value_loss(
        self, observations: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:func:`expectile_loss` (``config.expectile``) of :math:`V_\\psi(s)` against the target
        network's :math:`Q_{\\bar\\phi}(s, a)` of the dataset's actions (without gradient),
        not against a Bellman target.

        Returns:
            ``(loss, values)``: the scalar loss and :math:`V_\\psi(s)`, ``(B,)``.
        """
        ### BEGIN SOLUTION
        with torch.no_grad():
            target_q_values = gather_actions(self.target_network(observations), actions)
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
        """The mean squared error of :math:`Q_\\phi(s, a)` against :func:`iql_target`, with
        :math:`V_\\psi(s')` from the value network (without gradient).

        Returns:
            ``(loss, tensors)``: the scalar loss, and ``q_values`` and ``targets``, ``(B,)``
            each.
        """
        ### BEGIN SOLUTION
        q_values = gather_actions(self.q_network(observations), actions)
        with torch.no_grad():
            next_values = self.value_network(next_observations)
            targets = iql_target(rewards, next_values, terminated, self.config.gamma)
        loss = F.mse_loss(q_values, targets)
        return loss, {"q_values": q_values, "targets": targets}
        ### END SOLUTION

    def actor_loss(
        self, observations: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:func:`advantage_weighted_loss` of the dataset's actions with the advantages
        :math:`Q_{\\bar\\phi}(s, a) - V_\\psi(s)` (target network, value network, without
        gradient), ``config.temperature`` and ``config.max_weight``.

        Returns:
            ``(loss, advantages)``: the scalar loss and the advantages, ``(B,)``.
        """
        ### BEGIN SOLUTION
        with torch.no_grad():
            target_q_values = gather_actions(self.target_network(observations), actions)
            advantages = target_q_values - self.value_network(observations)
        log_probs = gather_actions(self.actor(observations), actions)
        loss = advantage_weighted_loss(
            log_probs, advantages, self.config.temperature, self.config.max_weight
        )
        return loss, advantages
        ### END SOLUTION

    def update_value(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One gradient step of the value network on ``value_loss``."""
        result = self.value_loss(batch["observations"], batch["actions"])
        return loss_step(self.value_optimizer, result, len(batch["actions"]), "value", "values")

    def update(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        """A gradient step of :math:`V`, of the actor, of :math:`Q`, then the target network's
        update."""
        tensors = self.to_tensors(batch)
        metrics = self.update_value(tensors)
        metrics |= self.update_actor(tensors)
        metrics |= self.update_critic(tensors)
        self.update_target()
        return metrics


AGENTS: dict[str, type[DQNAgent]] = {
    "dqn": DQNAgent,
    "cql": CQLAgent,
    "awac": AWACAgent,
    "iql": IQLAgent,
}

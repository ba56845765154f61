"""Soft actor-critic (Haarnoja et al., 2018), top to bottom: the squashed Gaussian policy, the
entropy-regularised critic target, the actor and temperature losses, and soft target updates.

Notation (lecture): the actor :math:`\\pi_\\theta(a \\mid s)`, critics :math:`Q_{\\phi_i}(s, a)`
and their target networks :math:`Q_{\\bar\\phi_i}`, the temperature :math:`\\alpha`, a transition
:math:`(s, a, r, s', d)` with :math:`d` = ``terminated``. SAC maximises the return plus
:math:`\\alpha` times the policy's entropy:

.. math::

    y = r + \\gamma (1 - d) \\big( \\min_i Q_{\\bar\\phi_i}(s', a') - \\alpha \\log
        \\pi_\\theta(a' \\mid s') \\big), \\quad a' \\sim \\pi_\\theta(\\cdot \\mid s')

    L(\\theta) = \\mathbb{E}_{s, a \\sim \\pi_\\theta}\\big[\\alpha \\log \\pi_\\theta(a \\mid s)
        - Q_\\phi(s, a)\\big]

Actions live in :math:`[-1, 1]^{\\text{action\\_dim}}` (a tanh squashes the Gaussian); the
training loop rescales them to the environment's bounds.

The functions between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` are yours to write;
everything else is given.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from hw3_q_learning.common import observation_dim
from hw3_q_learning.config import SACConfig
from infrastructure.envs import action_dim
from infrastructure.torch_utils import build_mlp, check_shape, to_numpy, to_torch

Reduction = Literal["min", "mean", "single"]

# ---------------------------------------------------------------------------------------------
# The squashed Gaussian's log-probability
# ---------------------------------------------------------------------------------------------


def tanh_gaussian_log_prob(
    pre_tanh_actions: torch.Tensor, means: torch.Tensor, log_stds: torch.Tensor
) -> torch.Tensor:
    """The log-density of :math:`a = \\tanh(u)` where :math:`u \\sim \\mathcal N(\\mu,
    \\mathrm{diag}(\\sigma^2))`, by the change of variables:

    .. math::

        \\log \\pi(a \\mid s) = \\sum_{j} \\Big[ \\log \\mathcal N(u_j; \\mu_j, \\sigma_j^2)
            - \\log\\big(1 - \\tanh^2(u_j)\\big) \\Big]

    Compute :math:`\\log(1 - \\tanh^2 u) = 2 (\\log 2 - u - \\mathrm{softplus}(-2u))`, an identity
    that stays finite where :math:`\\tanh^2 u` rounds to 1.

    Args:
        pre_tanh_actions: shape ``(B, action_dim)``, :math:`u`.
        means: shape ``(B, action_dim)``, :math:`\\mu`.
        log_stds: shape ``(B, action_dim)``, :math:`\\log \\sigma`.

    Returns:
        log-probabilities, shape ``(B,)`` (summed over action dimensions).
    """
    ### BEGIN SOLUTION
    normalized = (pre_tanh_actions - means) * torch.exp(-log_stds)
    gaussian = -0.5 * normalized**2 - log_stds - 0.5 * math.log(2.0 * math.pi)
    log_det = 2.0 * (
        math.log(2.0) - pre_tanh_actions - nn.functional.softplus(-2.0 * pre_tanh_actions)
    )
    return (gaussian - log_det).sum(dim=-1)
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Critic target, actor loss, temperature loss, soft update (PyTorch, for a minibatch)
# ---------------------------------------------------------------------------------------------


def reduce_q_values(q_values: torch.Tensor, reduction: Reduction) -> torch.Tensor:
    """Combine the values of several critics into one per state-action pair.

    ``"min"`` is clipped double-Q (Fujimoto et al., 2018), which counters the overestimation a
    maximising actor exploits; ``"mean"`` averages the critics; ``"single"`` uses the first one.

    Args:
        q_values: shape ``(num_critics, B)``.
        reduction: ``"min"``, ``"mean"`` or ``"single"``.

    Returns:
        shape ``(B,)``.
    """
    ### BEGIN SOLUTION
    if reduction == "min":
        return q_values.min(dim=0).values
    if reduction == "mean":
        return q_values.mean(dim=0)
    if reduction == "single":
        return q_values[0]
    raise ValueError(f"expected reduction 'min', 'mean' or 'single', got {reduction!r}")
    ### END SOLUTION


def sac_target(
    rewards: torch.Tensor,
    next_q_values: torch.Tensor,
    next_log_probs: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float,
    alpha: float,
    reduction: Reduction = "min",
) -> torch.Tensor:
    """The entropy-regularised (soft) Bellman target of the critics.

    .. math::

        y = r + \\gamma (1 - d) \\Big( \\mathrm{reduce}_i\\, Q_{\\bar\\phi_i}(s', a')
            - \\alpha \\log \\pi_\\theta(a' \\mid s') \\Big)

    Only ``terminated`` stops the bootstrap (a time limit is not a terminal state).

    Args:
        rewards: shape ``(B,)``, :math:`r`.
        next_q_values: shape ``(num_critics, B)``, :math:`Q_{\\bar\\phi_i}(s', a')` of the target
            critics, for :math:`a' \\sim \\pi_\\theta(\\cdot \\mid s')`.
        next_log_probs: shape ``(B,)``, :math:`\\log \\pi_\\theta(a' \\mid s')`.
        terminated: shape ``(B,)``, 1.0 where :math:`s'` is terminal, else 0.0 (float).
        gamma: discount factor.
        alpha: the temperature :math:`\\alpha`.
        reduction: how to combine the critics, see :func:`reduce_q_values`.

    Returns:
        targets, shape ``(B,)``.
    """
    ### BEGIN SOLUTION
    next_values = reduce_q_values(next_q_values, reduction) - alpha * next_log_probs
    return rewards + gamma * (1.0 - terminated) * next_values
    ### END SOLUTION


def actor_loss_reparameterize(
    log_probs: torch.Tensor, q_values: torch.Tensor, alpha: float
) -> torch.Tensor:
    """The actor loss with the reparameterisation trick: actions are
    :math:`a = \\tanh(\\mu_\\theta(s) + \\sigma_\\theta(s) \\odot \\varepsilon)`, so the gradient
    flows through them into :math:`Q_\\phi(s, a)` and into :math:`\\log \\pi_\\theta(a \\mid s)`.

    .. math::

        L(\\theta) = \\frac1B \\sum [\\alpha \\log \\pi_\\theta(a \\mid s) - Q_\\phi(s, a)]

    Args:
        log_probs: shape ``(B,)``, :math:`\\log \\pi_\\theta(a \\mid s)`, differentiable.
        q_values: shape ``(B,)``, :math:`Q_\\phi(s, a)`, differentiable through :math:`a`.
        alpha: the temperature.

    Returns:
        a scalar tensor.
    """
    ### BEGIN SOLUTION
    return (alpha * log_probs - q_values).mean()
    ### END SOLUTION


def actor_loss_reinforce(
    log_probs: torch.Tensor, q_values: torch.Tensor, alpha: float
) -> torch.Tensor:
    """The actor loss with the score-function (REINFORCE) estimator: actions are samples that
    carry no gradient, and the gradient comes from their log-probability alone.

    .. math::

        \\nabla_\\theta \\mathbb{E}_{a \\sim \\pi_\\theta}\\big[\\alpha \\log \\pi_\\theta - Q\\big]
        = \\mathbb{E}\\big[\\nabla_\\theta \\log \\pi_\\theta(a \\mid s) \\,
            (\\alpha \\log \\pi_\\theta(a \\mid s) - Q_\\phi(s, a))\\big]

    (the term :math:`\\alpha\\,\\mathbb{E}[\\nabla_\\theta \\log \\pi_\\theta] = 0` drops out), so
    the loss is :math:`\\frac1B \\sum \\log \\pi_\\theta(a \\mid s)\\, w` with the weight
    :math:`w = \\alpha \\log \\pi_\\theta(a \\mid s) - Q_\\phi(s, a)` held constant.

    Args:
        log_probs: shape ``(B,)``, :math:`\\log \\pi_\\theta(a \\mid s)`, differentiable in
            :math:`\\theta` (not through :math:`a`).
        q_values: shape ``(B,)``, :math:`Q_\\phi(s, a)`.
        alpha: the temperature.

    Returns:
        a scalar tensor.
    """
    ### BEGIN SOLUTION
    weights = (alpha * log_probs - q_values).detach()
    return (log_probs * weights).mean()
    ### END SOLUTION


def temperature_loss(
    log_alpha: torch.Tensor, log_probs: torch.Tensor, target_entropy: float
) -> torch.Tensor:
    """The loss whose minimisation tunes :math:`\\alpha` so that the policy's entropy
    :math:`-\\mathbb{E}[\\log \\pi]` tracks the target entropy :math:`\\bar{\\mathcal H}`.

    .. math:: L(\\log\\alpha) = -\\frac1B \\sum \\log\\alpha \\,\\big(\\log \\pi_\\theta(a \\mid s)
        + \\bar{\\mathcal H}\\big)

    It is written in :math:`\\log \\alpha` (which keeps :math:`\\alpha > 0`): when the entropy is
    below the target, the gradient step raises :math:`\\alpha`, and lowers it when above.

    Args:
        log_alpha: a scalar tensor, :math:`\\log \\alpha`, differentiable.
        log_probs: shape ``(B,)``, :math:`\\log \\pi_\\theta(a \\mid s)`, constants.
        target_entropy: :math:`\\bar{\\mathcal H}` (usually ``-action_dim``).

    Returns:
        a scalar tensor.
    """
    ### BEGIN SOLUTION
    return -(log_alpha * (log_probs.detach() + target_entropy)).mean()
    ### END SOLUTION


@torch.no_grad()
def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """Polyak averaging of every parameter, in place:
    :math:`\\bar\\phi \\leftarrow \\tau \\phi + (1 - \\tau) \\bar\\phi`.

    Args:
        target: the target network, :math:`\\bar\\phi` (updated in place).
        source: the online network, :math:`\\phi` (same architecture; unchanged).
        tau: :math:`\\tau \\in (0, 1]`; 1 copies ``source``.
    """
    ### BEGIN SOLUTION
    for target_param, param in zip(target.parameters(), source.parameters(), strict=True):
        target_param.lerp_(param, tau)
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------------


class TanhGaussianActor(nn.Module):
    """:math:`\\pi_\\theta(a \\mid s)`: :math:`a = \\tanh(u)` with
    :math:`u \\sim \\mathcal N(\\mu_\\theta(s), \\mathrm{diag}(\\sigma_\\theta(s)^2))`, a
    state-dependent standard deviation.

    Parameters: ``net`` (an MLP from ``obs_dim`` to ``2 * action_dim``: the means, then the
    unbounded log standard deviations).
    """

    LOG_STD_MIN = -5.0
    LOG_STD_MAX = 2.0

    def __init__(
        self, obs_dim: int, action_dim: int, n_layers: int, size: int, activation: str = "relu"
    ):
        super().__init__()
        self.net = build_mlp(obs_dim, 2 * action_dim, n_layers, size, activation)

    def forward(self, observations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, obs_dim)`` -> ``(means, log_stds)``, each ``(B, action_dim)``; the log standard
        deviations are squashed smoothly into ``[LOG_STD_MIN, LOG_STD_MAX]``."""
        means, raw = self.net(observations).chunk(2, dim=-1)
        log_stds = self.LOG_STD_MIN + 0.5 * (self.LOG_STD_MAX - self.LOG_STD_MIN) * (
            torch.tanh(raw) + 1.0
        )
        return means, log_stds

    def sample(
        self, observations: torch.Tensor, reparameterize: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Actions and their log-probabilities, ``(B, action_dim)`` and ``(B,)``.

        With ``reparameterize`` the actions are a differentiable function of the parameters
        (:math:`u = \\mu + \\sigma \\odot \\varepsilon`); without, they are constants and only
        the log-probabilities carry a gradient (for REINFORCE).
        """
        means, log_stds = self(observations)
        pre_tanh = means + torch.exp(log_stds) * torch.randn_like(means)
        if not reparameterize:
            pre_tanh = pre_tanh.detach()
        log_probs = tanh_gaussian_log_prob(pre_tanh, means, log_stds)
        check_shape(log_probs, (len(observations),), "tanh_gaussian_log_prob")
        return torch.tanh(pre_tanh), log_probs

    def mode(self, observations: torch.Tensor) -> torch.Tensor:
        """The deterministic action :math:`\\tanh(\\mu_\\theta(s))`, for evaluation."""
        return torch.tanh(self(observations)[0])


class QCritic(nn.Module):
    """:math:`Q_\\phi(s, a)`: an MLP from the concatenated observation and action to one value.

    Parameters: ``q_net``.
    """

    def __init__(
        self, obs_dim: int, action_dim: int, n_layers: int, size: int, activation: str = "relu"
    ):
        super().__init__()
        self.q_net = build_mlp(obs_dim + action_dim, 1, n_layers, size, activation)

    def forward(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``(B, obs_dim)``, ``(B, action_dim)`` -> ``(B,)``."""
        return self.q_net(torch.cat([observations, actions], dim=-1)).squeeze(-1)


# ---------------------------------------------------------------------------------------------
# The agent
# ---------------------------------------------------------------------------------------------


class SACAgent:
    """A SAC agent: the actor, two critics (one with ``critic_target="single"``), their target
    networks, the temperature, and an optimizer for each.

    Args:
        observation_space: the environment's observation space (a 1-D ``Box``).
        action_space: a ``Box``; the agent's actions are in ``[-1, 1]`` (rescale them).
        config: the run's configuration.
        device: where the networks live.
    """

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: SACConfig,
        device: torch.device,
    ):
        obs_dim = observation_dim(observation_space)
        if not isinstance(action_space, gym.spaces.Box):
            raise ValueError(f"expected a Box action space for SAC, got {action_space}")
        self.config = config
        self.device = device
        act_dim = action_dim(action_space)
        sizes = (config.n_layers, config.layer_size, config.activation)
        self.actor = TanhGaussianActor(obs_dim, act_dim, *sizes).to(device)
        num_critics = 1 if config.critic_target == "single" else 2
        self.critics = nn.ModuleList(
            [QCritic(obs_dim, act_dim, *sizes) for _ in range(num_critics)]
        ).to(device)
        self._critic_params = list(self.critics.parameters())
        self.target_critics = copy.deepcopy(self.critics)
        self.target_critics.requires_grad_(False)
        self.log_alpha = torch.tensor(
            math.log(config.init_temperature), device=device, requires_grad=True
        )
        self.target_entropy = (
            float(-act_dim) if config.target_entropy is None else config.target_entropy
        )
        # Fused Adam is several times faster than the default for small networks on a CPU.
        self.actor_optimizer = torch.optim.Adam(
            self.actor.parameters(), config.actor_learning_rate, fused=True
        )
        self.critic_optimizer = torch.optim.Adam(
            self.critics.parameters(), config.critic_learning_rate, fused=True
        )
        self.temperature_optimizer = torch.optim.Adam(
            [self.log_alpha], config.temperature_learning_rate, fused=True
        )

    @property
    def alpha(self) -> float:
        """The temperature :math:`\\alpha = \\exp(\\log \\alpha)`."""
        return math.exp(self.log_alpha.item())

    @torch.no_grad()
    def act(self, observations: np.ndarray) -> np.ndarray:
        """Sampled actions in ``[-1, 1]`` for a batch of observations, ``(B, action_dim)``."""
        return to_numpy(self.actor.sample(to_torch(observations, self.device))[0])

    @torch.no_grad()
    def act_deterministic(self, observations: np.ndarray) -> np.ndarray:
        """:math:`\\tanh(\\mu_\\theta(s))` for a batch of observations, ``(B, action_dim)``."""
        return to_numpy(self.actor.mode(to_torch(observations, self.device)))

    def critic_loss(
        self,
        observations: torch.Tensor,
        actions: torch.Tensor,
        rewards: torch.Tensor,
        next_observations: torch.Tensor,
        terminated: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The critics' loss: the sum over critics of the mean squared error to the soft target.

        Sample :math:`a' \\sim \\pi_\\theta(\\cdot \\mid s')`, value it with every target critic,
        and build the target with :func:`sac_target` (``self.config.critic_target`` as the
        reduction, the current ``self.alpha``); the target carries no gradient.

        Args:
            observations: shape ``(B, obs_dim)``.
            actions: shape ``(B, action_dim)``, in ``[-1, 1]``.
            rewards: shape ``(B,)``.
            next_observations: shape ``(B, obs_dim)``.
            terminated: shape ``(B,)``, 0.0 or 1.0 (float).

        Returns:
            ``(loss, q_values)``: the scalar loss and :math:`Q_{\\phi_i}(s, a)`, shape
            ``(num_critics, B)``.
        """
        ### BEGIN SOLUTION
        cfg = self.config
        alpha = self.alpha
        with torch.no_grad():
            next_actions, next_log_probs = self.actor.sample(next_observations)
            next_q_values = torch.stack(
                [critic(next_observations, next_actions) for critic in self.target_critics]
            )
            targets = sac_target(
                rewards,
                next_q_values,
                next_log_probs,
                terminated,
                cfg.gamma,
                alpha,
                cfg.critic_target,
            )
        q_values = torch.stack([critic(observations, actions) for critic in self.critics])
        loss = ((q_values - targets) ** 2).mean(dim=1).sum()
        return loss, q_values
        ### END SOLUTION

    def actor_loss(self, observations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The actor's loss on a batch of states, with ``self.config.num_actor_samples`` actions
        sampled per state.

        With ``self.config.actor_gradient == "reparameterize"`` use reparameterised samples and
        :func:`actor_loss_reparameterize`; with ``"reinforce"`` samples without a gradient and
        :func:`actor_loss_reinforce`. The critics' values are combined by
        :func:`reduce_q_values` with ``self.config.critic_target``.

        Args:
            observations: shape ``(B, obs_dim)``.

        Returns:
            ``(loss, log_probs)``: the scalar loss and the log-probabilities of the sampled
            actions, shape ``(num_actor_samples * B,)`` (for the temperature's update), sample
            ``k`` of state ``i`` at index ``k * B + i``: the batch repeated whole
            ``num_actor_samples`` times (``observations.repeat(num_actor_samples, 1)``), and
            one call of the actor's ``sample`` on it.
        """
        ### BEGIN SOLUTION
        cfg = self.config
        alpha = self.alpha
        repeated = observations.repeat(cfg.num_actor_samples, 1)
        reparameterize = cfg.actor_gradient == "reparameterize"
        actions, log_probs = self.actor.sample(repeated, reparameterize=reparameterize)
        q_values = reduce_q_values(
            torch.stack([critic(repeated, actions) for critic in self.critics]), cfg.critic_target
        )
        if reparameterize:
            loss = actor_loss_reparameterize(log_probs, q_values, alpha)
        else:
            loss = actor_loss_reinforce(log_probs, q_values, alpha)
        return loss, log_probs
        ### END SOLUTION

    def update(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        """One gradient step of the critics, the actor and the temperature on a replay
        minibatch, then the soft update of the target critics; returns training metrics."""
        cfg, device = self.config, self.device
        observations = to_torch(batch["observations"], device)
        rewards = to_torch(batch["rewards"], device)
        critic_loss, q_values = self.critic_loss(
            observations,
            to_torch(batch["actions"], device),
            rewards,
            to_torch(batch["next_observations"], device),
            to_torch(batch["terminated"], device),
        )
        check_shape(critic_loss, (), "critic_loss (loss)")
        check_shape(q_values, (len(self.critics), len(rewards)), "critic_loss (q_values)")
        self.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_optimizer.step()

        # The actor's gradient flows through the critics; they need no gradient of their own.
        for param in self._critic_params:
            param.requires_grad_(False)
        actor_loss, log_probs = self.actor_loss(observations)
        for param in self._critic_params:
            param.requires_grad_(True)
        check_shape(actor_loss, (), "actor_loss (loss)")
        check_shape(log_probs, (cfg.num_actor_samples * len(rewards),), "actor_loss (log_probs)")
        self.actor_optimizer.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_optimizer.step()

        metrics = {
            "train/loss_critic": critic_loss.item(),
            "train/loss_actor": actor_loss.item(),
            "train/q_values": q_values.mean().item(),
            "train/entropy": -log_probs.mean().item(),
        }
        if cfg.auto_temperature:
            loss = temperature_loss(self.log_alpha, log_probs, self.target_entropy)
            check_shape(loss, (), "temperature_loss")
            self.temperature_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.temperature_optimizer.step()
            metrics["train/loss_temperature"] = loss.item()
        metrics["train/alpha"] = self.alpha
        soft_update(self.target_critics, self.critics, cfg.tau)
        return metrics

    def state_dict(self) -> dict[str, Any]:
        """Everything a checkpoint needs to resume this agent."""
        return {
            "actor": self.actor.state_dict(),
            "critics": self.critics.state_dict(),
            "target_critics": self.target_critics.state_dict(),
            "log_alpha": self.log_alpha.detach().clone(),
            "actor_optimizer": self.actor_optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "temperature_optimizer": self.temperature_optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critics.load_state_dict(state["critics"])
        self.target_critics.load_state_dict(state["target_critics"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.actor_optimizer.load_state_dict(state["actor_optimizer"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        self.temperature_optimizer.load_state_dict(state["temperature_optimizer"])


def rescale_actions(actions: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Map actions from ``[-1, 1]`` (where the squashed Gaussian acts) to the environment's box
    ``[low, high]``."""
    return low + 0.5 * (actions + 1.0) * (high - low)

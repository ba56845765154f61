"""Policy gradients, top to bottom: returns, advantages, losses, and the agent's update.

Notation (lecture): a trajectory :math:`\\tau = (s_0, a_0, r_0, \\dots, s_{T-1}, a_{T-1}, r_{T-1})`,
policy :math:`\\pi_\\theta`, baseline :math:`V_\\phi`, discount :math:`\\gamma`.

.. math::

    \\nabla_\\theta J(\\theta) \\approx \\frac{1}{N} \\sum_i \\sum_t
        \\nabla_\\theta \\log \\pi_\\theta(a_{i,t} \\mid s_{i,t}) \\, A_{i,t}

The functions between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` are yours to write;
everything else is given.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from hw2_policy_gradient.config import PGConfig
from hw2_policy_gradient.policies import CategoricalPolicy, GaussianPolicy, Policy, ValueCritic
from infrastructure.envs import action_dim, is_discrete
from infrastructure.sampler import Batch
from infrastructure.torch_utils import check_shape, to_numpy, to_torch

# ---------------------------------------------------------------------------------------------
# Returns and advantages (NumPy, one trajectory or one batch at a time)
# ---------------------------------------------------------------------------------------------


def discounted_return(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """The discounted return of a whole trajectory, at every one of its steps.

    .. math:: G(\\tau) = \\sum_{t'=0}^{T-1} \\gamma^{t'} r_{t'}

    Args:
        rewards: shape ``(T,)``, the rewards of one trajectory.
        gamma: discount factor.

    Returns:
        shape ``(T,)``, every entry equal to :math:`G(\\tau)`.
    """
    ### BEGIN SOLUTION
    discounts = gamma ** np.arange(len(rewards))
    return np.full(len(rewards), np.sum(discounts * rewards), dtype=np.float64)
    ### END SOLUTION


def reward_to_go(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """The discounted reward-to-go of each step of one trajectory.

    .. math:: \\hat Q_t = \\sum_{t'=t}^{T-1} \\gamma^{t'-t} r_{t'}

    Args:
        rewards: shape ``(T,)``, the rewards of one trajectory.
        gamma: discount factor.

    Returns:
        shape ``(T,)``.
    """
    ### BEGIN SOLUTION
    q_values = np.zeros(len(rewards), dtype=np.float64)
    running = 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running
        q_values[t] = running
    return q_values
    ### END SOLUTION


def normalize(values: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Standardise a batch to mean 0 and standard deviation 1.

    ``(values - mean) / (std + eps)`` with the population standard deviation, NumPy's
    ``values.std()`` (not ``torch.std``'s default, which divides by B - 1).

    Args:
        values: shape ``(B,)``.
        eps: added to the standard deviation so that a constant batch gives zeros.

    Returns:
        shape ``(B,)``.
    """
    ### BEGIN SOLUTION
    return (values - values.mean()) / (values.std() + eps)
    ### END SOLUTION


def compute_gae(
    rewards: np.ndarray,
    values: np.ndarray,
    next_values: np.ndarray,
    terminated: np.ndarray,
    dones: np.ndarray,
    gamma: float,
    lam: float,
) -> np.ndarray:
    """Generalised advantage estimation over a batch of trajectories laid end to end.

    .. math::

        \\delta_t = r_t + \\gamma (1 - \\mathrm{terminated}_t) V(s_{t+1}) - V(s_t)

        \\hat A_t = \\delta_t + \\gamma \\lambda (1 - \\mathrm{done}_t) \\hat A_{t+1}

    A terminated step has no future, so its TD error does not bootstrap. A truncated step
    (time limit, end of batch) does bootstrap from :math:`V(s_{t+1})`, but like a terminated
    step it ends its trajectory: the sum must not run into the next trajectory.

    Args:
        rewards: shape ``(B,)``, :math:`r_t`.
        values: shape ``(B,)``, :math:`V(s_t)`.
        next_values: shape ``(B,)``, :math:`V(s_{t+1})` of the true next observation.
        terminated: shape ``(B,)`` bool, :math:`s_{t+1}` is terminal.
        dones: shape ``(B,)`` bool, the trajectory ends at step t (terminated or truncated).
        gamma: discount factor.
        lam: GAE's :math:`\\lambda` (0 gives the one-step TD error, 1 Monte Carlo minus V).

    Returns:
        advantages, shape ``(B,)``.
    """
    ### BEGIN SOLUTION
    deltas = rewards + gamma * (1.0 - terminated) * next_values - values
    advantages = np.zeros(len(rewards), dtype=np.float64)
    running = 0.0
    for t in reversed(range(len(rewards))):
        running = deltas[t] + gamma * lam * (1.0 - dones[t]) * running
        advantages[t] = running
    return advantages
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Losses (PyTorch)
# ---------------------------------------------------------------------------------------------


def policy_gradient_loss(log_probs: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
    """The surrogate loss whose gradient is minus the policy-gradient estimate.

    .. math:: L(\\theta) = -\\frac{1}{B} \\sum_t \\log \\pi_\\theta(a_t \\mid s_t) \\hat A_t

    Args:
        log_probs: shape ``(B,)``, :math:`\\log \\pi_\\theta(a_t \\mid s_t)`, differentiable.
        advantages: shape ``(B,)``, :math:`\\hat A_t`, constants.

    Returns:
        a scalar tensor.
    """
    ### BEGIN SOLUTION
    return -(log_probs * advantages.detach()).mean()
    ### END SOLUTION


def ppo_clip_loss(
    log_probs: torch.Tensor,
    old_log_probs: torch.Tensor,
    advantages: torch.Tensor,
    clip: float,
) -> torch.Tensor:
    """Extension: PPO's clipped surrogate loss (Schulman et al., 2017).

    .. math::

        \\rho_t = \\frac{\\pi_\\theta(a_t \\mid s_t)}{\\pi_{\\theta_\\text{old}}(a_t \\mid s_t)}
        \\qquad
        L(\\theta) = -\\frac{1}{B} \\sum_t \\min\\big(\\rho_t \\hat A_t,\\;
            \\mathrm{clip}(\\rho_t, 1 - \\epsilon, 1 + \\epsilon) \\hat A_t\\big)

    Args:
        log_probs: shape ``(B,)``, under the current policy, differentiable.
        old_log_probs: shape ``(B,)``, under the policy that collected the data, constants.
        advantages: shape ``(B,)``, constants.
        clip: :math:`\\epsilon`.

    Returns:
        a scalar tensor.
    """
    ### BEGIN SOLUTION
    ratio = torch.exp(log_probs - old_log_probs.detach())
    advantages = advantages.detach()
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - clip, 1.0 + clip) * advantages
    return -torch.min(unclipped, clipped).mean()
    ### END SOLUTION


def value_loss(values: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the baseline, regressing :math:`V_\\phi(s_t)` on its targets.

    Args:
        values: shape ``(B,)``, :math:`V_\\phi(s_t)`, differentiable.
        targets: shape ``(B,)``, constants.

    Returns:
        a scalar tensor.
    """
    ### BEGIN SOLUTION
    return ((values - targets.detach()) ** 2).mean()
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# The agent
# ---------------------------------------------------------------------------------------------


class PGAgent:
    """A policy-gradient agent: a policy, an optional baseline, and their optimizers.

    Args:
        observation_space: the environment's observation space (a 1-D ``Box``).
        action_space: ``Discrete`` (categorical policy) or ``Box`` (Gaussian policy).
        config: the run's configuration.
        device: where the networks live.
    """

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: PGConfig,
        device: torch.device,
    ):
        if observation_space.shape is None or len(observation_space.shape) != 1:
            raise ValueError(f"expected a flat observation space, got {observation_space}")
        obs_dim = observation_space.shape[0]
        self.config = config
        self.device = device
        self.policy: Policy
        if is_discrete(action_space):
            self.policy = CategoricalPolicy(
                obs_dim,
                action_dim(action_space),
                config.n_layers,
                config.layer_size,
                config.activation,
            )
        else:
            self.policy = GaussianPolicy(
                obs_dim,
                action_dim(action_space),
                config.n_layers,
                config.layer_size,
                config.activation,
                config.log_std_init,
            )
        self.policy.to(device)
        self.policy_optimizer = torch.optim.Adam(self.policy.parameters(), config.learning_rate)
        self.critic: ValueCritic | None = None
        if config.use_baseline:
            self.critic = ValueCritic(
                obs_dim, config.n_layers, config.layer_size, config.activation
            ).to(device)
            self.critic_optimizer = torch.optim.Adam(
                self.critic.parameters(), config.baseline_learning_rate
            )

    def act(self, observations: np.ndarray) -> np.ndarray:
        """Sampled actions for a batch of observations (for the sampler)."""
        return self.policy.get_action(observations)

    def act_deterministic(self, observations: np.ndarray) -> np.ndarray:
        """Most likely actions for a batch of observations (for evaluation)."""
        return self.policy.get_action(observations, deterministic=True)

    @torch.no_grad()
    def _values(self, observations: np.ndarray) -> np.ndarray:
        assert self.critic is not None
        return to_numpy(self.critic(to_torch(observations, self.device))).astype(np.float64)

    def estimate_advantages(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        """Advantages :math:`\\hat A_t` for the policy and regression targets for the baseline.

        Returns:
            ``(advantages, value_targets)``, each of shape ``(B,)``.
        """
        cfg = self.config
        returns_fn = reward_to_go if cfg.reward_to_go else discounted_return
        q_values = np.zeros(len(batch))
        for piece in batch.trajectory_slices():
            rewards = batch.rewards[piece]
            q_values[piece] = check_shape(
                returns_fn(rewards, cfg.gamma), rewards.shape, returns_fn.__name__
            )
        if self.critic is None:
            advantages = q_values
        elif cfg.gae_lambda is None:
            advantages = q_values - self._values(batch.observations)
        else:
            values = self._values(batch.observations)
            advantages = check_shape(
                compute_gae(
                    batch.rewards,
                    values,
                    self._values(batch.next_observations),
                    batch.terminated,
                    batch.dones,
                    cfg.gamma,
                    cfg.gae_lambda,
                ),
                (len(batch),),
                "compute_gae",
            )
            q_values = advantages + values  # lambda-returns: the baseline's targets
        if cfg.normalize_advantages:
            advantages = check_shape(normalize(advantages), (len(batch),), "normalize")
        return advantages, q_values

    def update(self, batch: Batch) -> dict[str, float]:
        """One policy update (and baseline updates) from a batch; returns training metrics."""
        advantages, value_targets = self.estimate_advantages(batch)
        obs = to_torch(batch.observations, self.device)
        actions = to_torch(
            batch.actions,
            self.device,
            torch.long if isinstance(self.policy, CategoricalPolicy) else torch.float32,
        )
        adv = to_torch(advantages, self.device)
        metrics = (
            self._update_policy(obs, actions, adv)
            if self.config.ppo_clip is None
            else self._update_policy_ppo(obs, actions, adv)
        )
        if self.critic is not None:
            metrics.update(self.update_baseline(obs, to_torch(value_targets, self.device)))
        return metrics

    def _step(
        self, loss: torch.Tensor, module: nn.Module, optimizer: torch.optim.Optimizer
    ) -> float:
        optimizer.zero_grad()
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(
            module.parameters(),
            self.config.max_grad_norm if self.config.max_grad_norm is not None else float("inf"),
        )
        optimizer.step()
        return float(grad_norm)

    def _update_policy(
        self, obs: torch.Tensor, actions: torch.Tensor, advantages: torch.Tensor
    ) -> dict[str, float]:
        dist = self.policy.distribution(obs)
        log_probs = check_shape(dist.log_prob(actions), (len(obs),), "log_prob")
        loss = check_shape(policy_gradient_loss(log_probs, advantages), (), "policy_gradient_loss")
        grad_norm = self._step(loss, self.policy, self.policy_optimizer)
        return {
            "train/loss_policy": loss.item(),
            "train/grad_norm_policy": grad_norm,
            "train/entropy": dist.entropy().mean().item(),
        }

    def _update_policy_ppo(
        self, obs: torch.Tensor, actions: torch.Tensor, advantages: torch.Tensor
    ) -> dict[str, float]:
        cfg = self.config
        assert cfg.ppo_clip is not None
        with torch.no_grad():
            old_log_probs = self.policy.distribution(obs).log_prob(actions)
        losses, fractions = [], []
        for _ in range(cfg.ppo_epochs):
            for index in torch.randperm(len(obs), device=self.device).split(cfg.ppo_minibatch_size):
                log_probs = self.policy.distribution(obs[index]).log_prob(actions[index])
                loss = check_shape(
                    ppo_clip_loss(log_probs, old_log_probs[index], advantages[index], cfg.ppo_clip),
                    (),
                    "ppo_clip_loss",
                )
                self._step(loss, self.policy, self.policy_optimizer)
                losses.append(loss.item())
                ratio = torch.exp(log_probs.detach() - old_log_probs[index])
                fractions.append(((ratio - 1.0).abs() > cfg.ppo_clip).float().mean().item())
        with torch.no_grad():
            dist = self.policy.distribution(obs)
            kl = (old_log_probs - dist.log_prob(actions)).mean().item()
        return {
            "train/loss_policy": float(np.mean(losses)),
            "train/clip_fraction": float(np.mean(fractions)),
            "train/approx_kl": kl,
            "train/entropy": dist.entropy().mean().item(),
        }

    def update_baseline(
        self, observations: torch.Tensor, targets: torch.Tensor
    ) -> dict[str, float]:
        """``baseline_gradient_steps`` full-batch steps of the baseline towards ``targets``."""
        assert self.critic is not None
        loss = torch.zeros(())
        for _ in range(self.config.baseline_gradient_steps):
            values = check_shape(self.critic(observations), (len(observations),), "ValueCritic")
            loss = check_shape(value_loss(values, targets), (), "value_loss")
            self._step(loss, self.critic, self.critic_optimizer)
        return {"train/loss_baseline": loss.item()}

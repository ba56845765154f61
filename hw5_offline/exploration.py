"""Exploration without rewards: random network distillation (RND) driving a DQN, and a uniformly
random explorer, each collecting a dataset of transitions for the offline algorithms.

Notation (lecture): a state :math:`s`, a target network :math:`f^*(s)` whose weights are drawn at
random once and never trained, a predictor :math:`\\hat f_\\theta(s)` trained to match it, both
mapping a state to a vector of ``rnd_output_size`` numbers.

RND (Burda et al., 2018) measures novelty by how badly the predictor matches the target: on the
states it was trained on the error is small, on states unlike any of them it stays large. With
:math:`e(s)` the prediction error of a state and a minibatch of :math:`B` states:

.. math::

    e(s) = \\lVert \\hat f_\\theta(s) - f^*(s) \\rVert^2
    \\qquad
    L(\\theta) = \\frac{1}{B} \\sum_{i=1}^{B} e(s_i)
    \\qquad
    b(s) = \\frac{e(s)}{\\sigma}, \\quad
    \\sigma \\leftarrow \\lambda \\sigma + (1 - \\lambda)\\, \\mathrm{std}_{i}\\, e(s_i)

The errors shrink as the predictor learns, so the bonus :math:`b(s)` is the error divided by a
running estimate :math:`\\sigma` of its spread (an exponential moving average, decay
:math:`\\lambda`, of each minibatch's standard deviation), as Berkeley's CS 285 homework 5
normalises it: the explorer's rewards then keep one scale over the whole run. The bonus is a
reward, a constant to the explorer's critic: no gradient flows from it into the predictor.

The RND explorer is a DQN whose reward is the bonus of the state it reaches,
:math:`r_\\text{explore} = b(s')`, and nothing else: the data is collected reward-free, as in
Berkeley's homework, so that it serves any task in the maze. The dataset still stores the
environment's own rewards, untouched, for the offline algorithms.

The functions between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` are yours to write;
everything else (the DQN, the explorers, the collection loop) is given.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Protocol

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from hw5_offline.config import ExploreConfig
from hw5_offline.datasets import Episode
from hw5_offline.offline import dqn_targets, hard_update
from infrastructure.envs import action_dim
from infrastructure.replay_buffer import ReplayBuffer
from infrastructure.torch_utils import build_mlp, check_shape, to_torch

# ---------------------------------------------------------------------------------------------
# RND: the prediction error, its loss, and the normalised bonus
# ---------------------------------------------------------------------------------------------


def rnd_error(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The prediction error of each state, summed over the networks' outputs.

    .. math:: e(s) = \\lVert \\hat f_\\theta(s) - f^*(s) \\rVert^2
        = \\sum_{k} \\big(\\hat f_\\theta(s)_k - f^*(s)_k\\big)^2

    Args:
        predictions: shape ``(B, output_size)``, :math:`\\hat f_\\theta(s)`.
        targets: shape ``(B, output_size)``, :math:`f^*(s)`.

    Returns:
        errors, shape ``(B,)``, differentiable through ``predictions``.
    """
    ### BEGIN SOLUTION
    return ((predictions - targets) ** 2).sum(dim=1)
    ### END SOLUTION


def rnd_loss(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The predictor's loss: the mean prediction error over the batch.

    .. math:: L(\\theta) = \\frac{1}{B} \\sum_{i=1}^{B} \\lVert \\hat f_\\theta(s_i) -
        f^*(s_i) \\rVert^2

    Only the predictor learns: no gradient may reach the target network through ``targets``,
    even if they were computed with gradients on.

    Args:
        predictions: shape ``(B, output_size)``, :math:`\\hat f_\\theta(s)`.
        targets: shape ``(B, output_size)``, :math:`f^*(s)`.

    Returns:
        a scalar tensor.
    """
    ### BEGIN SOLUTION
    return rnd_error(predictions, targets.detach()).mean()
    ### END SOLUTION


def update_running_std(running_std: float, errors: torch.Tensor, decay: float) -> float:
    """The running estimate of the errors' spread after one more minibatch.

    .. math:: \\sigma \\leftarrow \\lambda \\sigma + (1 - \\lambda)\\, \\mathrm{std}_i\\, e(s_i)

    with the standard deviation of the minibatch's errors over its :math:`B` states, divided by
    :math:`B` (not :math:`B - 1`).

    Args:
        running_std: :math:`\\sigma` so far, > 0.
        errors: shape ``(B,)``, :math:`e(s_i)` of the minibatch.
        decay: :math:`\\lambda` in ``(0, 1]``; 1 keeps :math:`\\sigma` as it is.

    Returns:
        the new :math:`\\sigma`, a float.
    """
    ### BEGIN SOLUTION
    batch_std = errors.detach().std(correction=0).item()
    return decay * running_std + (1.0 - decay) * batch_std
    ### END SOLUTION


def normalized_bonus(errors: torch.Tensor, running_std: float) -> torch.Tensor:
    """The exploration bonus: the prediction errors divided by their running spread, as
    constants (a reward carries no gradient).

    .. math:: b(s) = e(s) / \\sigma

    Args:
        errors: shape ``(B,)``, :math:`e(s)`, possibly differentiable.
        running_std: :math:`\\sigma > 0`.

    Returns:
        bonuses, shape ``(B,)``, detached from every graph.
    """
    ### BEGIN SOLUTION
    return errors.detach() / running_std
    ### END SOLUTION


class RND(nn.Module):
    """The two networks of random network distillation, MLPs of the same shape from a state to
    ``output_size`` numbers.

    Parameters: ``target`` (:math:`f^*`, frozen: ``requires_grad`` is off and no optimizer holds
    it) and ``predictor`` (:math:`\\hat f_\\theta`). Their weights are independent draws, so
    the predictor starts away from the target everywhere.
    """

    def __init__(self, obs_dim: int, output_size: int, n_layers: int, size: int):
        super().__init__()
        self.target = build_mlp(obs_dim, output_size, n_layers, size, "relu")
        self.predictor = build_mlp(obs_dim, output_size, n_layers, size, "relu")
        self.target.requires_grad_(False)

    def errors(self, observations: torch.Tensor) -> torch.Tensor:
        """``(B, obs_dim)`` -> :math:`e(s)`, ``(B,)``, differentiable through the predictor."""
        errors = rnd_error(self.predictor(observations), self.target(observations))
        return check_shape(errors, (len(observations),), "rnd_error")


# ---------------------------------------------------------------------------------------------
# The DQN the RND explorer learns with (given; hw3's algorithm)
# ---------------------------------------------------------------------------------------------


def linear_epsilon(step: int, start: float, end: float, duration: int) -> float:
    """Epsilon after ``step`` environment steps: from ``start`` to ``end`` linearly over
    ``duration`` steps, then ``end``."""
    return start + min(step / duration, 1.0) * (end - start)


class DQN:
    """Deep Q-learning on whatever rewards it is given: a Q-network :math:`Q_\\phi(s, \\cdot)`,
    its target network :math:`Q_{\\bar\\phi}` copied from it every ``target_update_period``
    updates, the Huber loss of the TD errors, and epsilon-greedy actions.

    .. math:: y = r + \\gamma (1 - d) Q_{\\bar\\phi}\\big(s', \\arg\\max_{a'} Q(s', a')\\big)

    with :math:`Q = Q_\\phi` choosing :math:`a'` (double DQN, ``double=True``) or
    :math:`Q_{\\bar\\phi}` (DQN). Only ``terminated`` (:math:`d`) stops the bootstrap.

    The target (:func:`~hw5_offline.offline.dqn_targets`) and the target network's copy are
    those of the offline :class:`~hw5_offline.offline.DQNAgent`; the loss is not. It is hw3's,
    the Huber loss with the gradient norm clipped, which bounds how far a few large TD errors
    move one step: the rewards here, RND bonuses, are large where the explorer has not been yet
    and change scale with the running :math:`\\sigma`. The offline baseline fits fixed rewards
    with Berkeley's mean squared error.
    """

    def __init__(
        self,
        obs_dim: int,
        num_actions: int,
        config: ExploreConfig,
        device: torch.device,
        rng: np.random.Generator,
    ):
        self.config = config
        self.device = device
        self.rng = rng
        self.num_actions = num_actions
        self.q_network = build_mlp(
            obs_dim, num_actions, config.n_layers, config.layer_size, "relu"
        ).to(device)
        self.target_network = copy.deepcopy(self.q_network).requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.q_network.parameters(), lr=config.learning_rate)
        self.num_updates = 0

    @torch.no_grad()
    def act(self, observation: np.ndarray, epsilon: float) -> int:
        """An epsilon-greedy action for one observation."""
        if self.rng.random() < epsilon:
            return int(self.rng.integers(self.num_actions))
        q_values = self.q_network(to_torch(observation[None], self.device))
        return int(q_values.argmax(dim=1).item())

    def update(
        self,
        observations: torch.Tensor,
        actions: torch.Tensor,
        rewards: torch.Tensor,
        next_observations: torch.Tensor,
        terminated: torch.Tensor,
    ) -> dict[str, float]:
        """One gradient step on a minibatch of ``B`` transitions (``actions`` long, the rest
        float, ``rewards`` and ``terminated`` of shape ``(B,)``); returns its metrics."""
        cfg = self.config
        q_values = self.q_network(observations).gather(1, actions[:, None]).squeeze(1)
        with torch.no_grad():
            next_q_target = self.target_network(next_observations)
            chooser = self.q_network(next_observations) if cfg.double else None
            # Bellman backup: a truncated transition still bootstraps from its true s'.
            targets = dqn_targets(rewards, next_q_target, terminated, cfg.gamma, chooser)
        loss = nn.functional.huber_loss(q_values, targets)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.q_network.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        self.num_updates += 1
        if self.num_updates % cfg.target_update_period == 0:
            hard_update(self.target_network, self.q_network)
        return {"train/loss_critic": loss.item(), "train/q_values": q_values.mean().item()}


# ---------------------------------------------------------------------------------------------
# The explorers
# ---------------------------------------------------------------------------------------------


class Explorer(Protocol):
    """What the collection loop needs of an explorer."""

    def act(self, observation: np.ndarray, step: int) -> int:
        """The action for one observation, ``step`` environment steps into the run."""
        ...

    def update(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        """Learn from a replay minibatch (the buffer's fields); returns metrics."""
        ...


class RandomExplorer:
    """Uniformly random actions: the baseline every explorer is compared with."""

    def __init__(self, num_actions: int, rng: np.random.Generator):
        self.num_actions = num_actions
        self.rng = rng

    def act(self, observation: np.ndarray, step: int) -> int:
        return int(self.rng.integers(self.num_actions))

    def update(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        return {}


class RNDExplorer:
    """A DQN rewarded only by the RND bonus of the state it reaches, :math:`r = b(s')`; the
    predictor learns on the same minibatches, so states the DQN keeps visiting stop paying.

    Args:
        obs_dim: the length of an observation.
        num_actions: the number of discrete actions.
        config: the run's configuration (the DQN's and RND's fields).
        device: where the networks live.
        rng: the generator of epsilon-greedy's draws.
    """

    def __init__(
        self,
        obs_dim: int,
        num_actions: int,
        config: ExploreConfig,
        device: torch.device,
        rng: np.random.Generator,
    ):
        self.config = config
        self.device = device
        self.dqn = DQN(obs_dim, num_actions, config, device, rng)
        self.rnd = RND(obs_dim, config.rnd_output_size, config.rnd_n_layers, config.rnd_layer_size)
        self.rnd.to(device)
        self.rnd_optimizer = torch.optim.Adam(
            self.rnd.predictor.parameters(), lr=config.rnd_learning_rate
        )
        self.running_std = 1.0  # sigma; the first minibatches move it toward the errors' spread

    def act(self, observation: np.ndarray, step: int) -> int:
        cfg = self.config
        epsilon = linear_epsilon(step, cfg.epsilon_start, cfg.epsilon_end, cfg.epsilon_steps)
        return self.dqn.act(observation, epsilon)

    def update(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        device = self.device
        observations = to_torch(batch["observations"], device)
        next_observations = to_torch(batch["next_observations"], device)
        # One forward pass of each network on s' gives the bonus (as constants) and the loss.
        predictions = self.rnd.predictor(next_observations)
        targets = self.rnd.target(next_observations)
        errors = check_shape(rnd_error(predictions, targets), (len(targets),), "rnd_error")
        self.running_std = update_running_std(self.running_std, errors, self.config.bonus_decay)
        bonuses = check_shape(
            normalized_bonus(errors, self.running_std), (len(errors),), "normalized_bonus"
        )
        loss = check_shape(rnd_loss(predictions, targets), (), "rnd_loss")
        self.rnd_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.rnd_optimizer.step()
        # With bootstrap_at_goal, the goal is just another state to the explorer: an episode
        # ending there is the environment's reset, not the end of the bonuses to come.
        metrics = self.dqn.update(
            observations,
            to_torch(batch["actions"], device, torch.long),
            bonuses,
            next_observations,
            to_torch(batch["terminated"], device) * float(not self.config.bootstrap_at_goal),
        )
        return metrics | {
            "train/loss_rnd": loss.item(),
            "train/bonus_mean": bonuses.mean().item(),
            "train/error_std": self.running_std,
        }


def make_explorer(
    config: ExploreConfig, env: gym.Env, device: torch.device, rng: np.random.Generator
) -> Explorer:
    """The explorer ``config.explorer`` names, for ``env``'s spaces."""
    num_actions = action_dim(env.action_space)
    if config.explorer == "random":
        return RandomExplorer(num_actions, rng)
    assert env.observation_space.shape is not None
    obs_dim = int(np.prod(env.observation_space.shape))
    return RNDExplorer(obs_dim, num_actions, config, device, rng)


# ---------------------------------------------------------------------------------------------
# Collection: flat transitions, then episodes for the dataset
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transitions:
    """:math:`N` transitions in the order they were collected, episodes one after another."""

    observations: np.ndarray
    """``(N, *obs_shape)``: :math:`s_t`."""
    actions: np.ndarray
    """``(N,)`` int64: :math:`a_t`."""
    rewards: np.ndarray
    """``(N,)`` float64: the environment's :math:`r_t` (not the bonus)."""
    next_observations: np.ndarray
    """``(N, *obs_shape)``: :math:`s_{t+1}`, the true final observation at an episode's end."""
    terminated: np.ndarray
    """``(N,)`` bool."""
    truncated: np.ndarray
    """``(N,)`` bool: the time limit cut the episode here."""

    def __len__(self) -> int:
        return len(self.rewards)


class Collector:
    """Runs an explorer in an environment, one step at a time, keeping every transition and
    training the explorer on replay minibatches as it goes.

    The loop steps the environment itself rather than through ``infrastructure.sampler``: the
    sampler marks the end of each of its batches truncated, which a dataset could not tell
    from the time limit.

    Args:
        env: the environment, reset here with ``seed``.
        explorer: acts, and learns from the replay buffer.
        config: ``total_steps``, ``learning_starts``, ``batch_size``, ``buffer_size`` and
            ``seed``.
    """

    def __init__(self, env: gym.Env, explorer: Explorer, config: ExploreConfig):
        self.env = env
        self.explorer = explorer
        self.config = config
        self.buffer = ReplayBuffer(min(config.buffer_size, config.total_steps), seed=config.seed)
        self.steps = 0
        self.episodes = 0
        self._observation = np.array(env.reset(seed=config.seed)[0])
        self._columns: dict[str, list] = {
            key: [] for key in ("obs", "action", "reward", "next_obs", "terminated", "truncated")
        }

    def collect(self, num_steps: int) -> dict[str, float]:
        """Take ``num_steps`` more steps (fewer if the budget ends first); the mean of the
        explorer's metrics over the updates made."""
        cfg = self.config
        metrics: dict[str, list[float]] = {}
        for _ in range(min(num_steps, cfg.total_steps - self.steps)):
            observation = self._observation
            action = self.explorer.act(observation, self.steps)
            next_observation, reward, terminated, truncated, _ = self.env.step(action)
            next_observation = np.array(next_observation)
            for key, value in zip(
                self._columns,
                (observation, action, reward, next_observation, terminated, truncated),
                strict=True,
            ):
                self._columns[key].append(value)
            self.buffer.add(
                observation[None],
                np.array([action]),
                np.array([reward], dtype=np.float64),
                next_observation[None],
                np.array([terminated]),
            )
            self.steps += 1
            if terminated or truncated:
                self.episodes += 1
                self._observation = np.array(self.env.reset()[0])
            else:
                self._observation = next_observation
            if self.steps > cfg.learning_starts:
                for key, value in self.explorer.update(self.buffer.sample(cfg.batch_size)).items():
                    metrics.setdefault(key, []).append(value)
        return {key: float(np.mean(values)) for key, values in metrics.items()}

    def positions(self) -> np.ndarray:
        """``(M, *obs_shape)``: every observation seen so far, first ones of episodes included."""
        columns = self._columns
        if not columns["obs"]:
            return np.array([self._observation])
        return np.concatenate([np.array(columns["obs"][:1]), np.array(columns["next_obs"])])

    def transitions(self) -> Transitions:
        """The transitions collected so far."""
        columns = self._columns
        if not columns["obs"]:
            raise ValueError("no transitions collected yet: call collect first")
        return Transitions(
            observations=np.array(columns["obs"]),
            actions=np.array(columns["action"], dtype=np.int64),
            rewards=np.array(columns["reward"], dtype=np.float64),
            next_observations=np.array(columns["next_obs"]),
            terminated=np.array(columns["terminated"], dtype=bool),
            truncated=np.array(columns["truncated"], dtype=bool),
        )


def split_episodes(transitions: Transitions) -> list[Episode]:
    """Cut flat transitions into episodes at their ``terminated`` or ``truncated`` flags.

    Each episode's observations are its :math:`s_t` followed by the last step's :math:`s_{t+1}`
    (its true final observation). The last episode, if the step budget cut it short without a
    flag, gets ``truncated`` on its last step: its state still had a future.
    """
    if len(transitions) == 0:
        raise ValueError("expected at least one transition, got none")
    ends = np.flatnonzero(transitions.terminated | transitions.truncated) + 1
    if len(ends) == 0 or ends[-1] != len(transitions):
        ends = np.append(ends, len(transitions))
    episodes = []
    start = 0
    for end in ends.tolist():
        truncated = transitions.truncated[start:end].copy()
        truncated[-1] = not transitions.terminated[end - 1]
        episodes.append(
            Episode(
                observations=np.concatenate(
                    [
                        transitions.observations[start:end],
                        transitions.next_observations[end - 1 : end],
                    ]
                ),
                actions=transitions.actions[start:end],
                rewards=transitions.rewards[start:end],
                terminations=transitions.terminated[start:end],
                truncations=truncated,
            )
        )
        start = end
    return episodes

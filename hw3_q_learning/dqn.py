"""Deep Q-learning, top to bottom: exploration, Bellman targets, the loss, and the agent's update.

Notation (lecture): the Q-network :math:`Q_\\phi(s, a)`, its target network
:math:`Q_{\\bar\\phi}`, a transition :math:`(s, a, r, s', d)` with :math:`d` = ``terminated``,
the discount :math:`\\gamma`.

.. math::

    y = r + \\gamma (1 - d) \\max_{a'} Q_{\\bar\\phi}(s', a')
    \\qquad
    L(\\phi) = \\frac{1}{B} \\sum \\ell_\\delta\\big(Q_\\phi(s, a) - y\\big)

The functions between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` are yours to write;
everything else is given.
"""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from hw3_q_learning.common import observation_dim
from hw3_q_learning.config import DQNConfig
from infrastructure.envs import action_dim
from infrastructure.torch_utils import build_mlp, check_shape, mlp_forward, to_numpy, to_torch

# ---------------------------------------------------------------------------------------------
# Exploration
# ---------------------------------------------------------------------------------------------


def linear_schedule(step: int, start: float, end: float, duration: int) -> float:
    """A value that goes linearly from ``start`` (at step 0) to ``end`` (at step ``duration``)
    and stays at ``end`` after.

    .. math:: \\epsilon_t = \\epsilon_0 + \\min(t / T, 1) (\\epsilon_T - \\epsilon_0)

    Args:
        step: :math:`t \\ge 0`, environment steps taken so far.
        start: :math:`\\epsilon_0`.
        end: :math:`\\epsilon_T`.
        duration: :math:`T > 0`.

    Returns:
        :math:`\\epsilon_t`, a float.
    """
    ### BEGIN SOLUTION
    fraction = min(step / duration, 1.0)
    return start + fraction * (end - start)
    ### END SOLUTION


def epsilon_greedy(q_values: torch.Tensor, epsilon: float, rng: np.random.Generator) -> np.ndarray:
    """Epsilon-greedy actions for a batch of states.

    Each state independently: with probability :math:`\\epsilon` an action drawn uniformly from
    all actions (the greedy one included), else :math:`\\arg\\max_a Q(s, a)`.

    Args:
        q_values: shape ``(B, num_actions)``, :math:`Q_\\phi(s, \\cdot)`.
        epsilon: probability of a random action, in ``[0, 1]``.
        rng: the generator of every random draw (for reproducible runs).

    Returns:
        actions, shape ``(B,)``, integers in ``[0, num_actions)``.
    """
    ### BEGIN SOLUTION
    batch_size, num_actions = q_values.shape
    actions = to_numpy(q_values.argmax(dim=1))
    explore = rng.random(batch_size) < epsilon
    actions[explore] = rng.integers(num_actions, size=int(explore.sum()))
    return actions
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Bellman targets and the loss (PyTorch, computed for a minibatch)
# ---------------------------------------------------------------------------------------------


def dqn_target(
    rewards: torch.Tensor,
    next_q_values: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    """The one-step Q-learning target, bootstrapped from the target network.

    .. math:: y = r + \\gamma (1 - d) \\max_{a'} Q_{\\bar\\phi}(s', a')

    Only ``terminated`` stops the bootstrap: a transition cut by a time limit (truncated) still
    has a future, and its ``next_observations`` is the true final observation.

    Args:
        rewards: shape ``(B,)``, :math:`r`.
        next_q_values: shape ``(B, num_actions)``, :math:`Q_{\\bar\\phi}(s', \\cdot)` from the
            target network.
        terminated: shape ``(B,)``, 1.0 where :math:`s'` is terminal, else 0.0 (float).
        gamma: discount factor.

    Returns:
        targets, shape ``(B,)``.
    """
    ### BEGIN SOLUTION
    next_values = next_q_values.max(dim=1).values
    return rewards + gamma * (1.0 - terminated) * next_values
    ### END SOLUTION


def double_dqn_target(
    rewards: torch.Tensor,
    next_q_values_online: torch.Tensor,
    next_q_values_target: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    """The double-DQN target (van Hasselt et al., 2016): the online network *chooses* the next
    action, the target network *values* it, which reduces the max operator's overestimation.

    .. math::

        a^* = \\arg\\max_{a'} Q_\\phi(s', a')
        \\qquad
        y = r + \\gamma (1 - d) Q_{\\bar\\phi}(s', a^*)

    Args:
        rewards: shape ``(B,)``, :math:`r`.
        next_q_values_online: shape ``(B, num_actions)``, :math:`Q_\\phi(s', \\cdot)`.
        next_q_values_target: shape ``(B, num_actions)``, :math:`Q_{\\bar\\phi}(s', \\cdot)`.
        terminated: shape ``(B,)``, 1.0 where :math:`s'` is terminal, else 0.0 (float).
        gamma: discount factor.

    Returns:
        targets, shape ``(B,)``.
    """
    ### BEGIN SOLUTION
    next_actions = next_q_values_online.argmax(dim=1, keepdim=True)
    next_values = next_q_values_target.gather(1, next_actions).squeeze(1)
    return rewards + gamma * (1.0 - terminated) * next_values
    ### END SOLUTION


def huber_loss(q_values: torch.Tensor, targets: torch.Tensor, delta: float = 1.0) -> torch.Tensor:
    """The mean Huber loss of the TD errors :math:`x = Q_\\phi(s, a) - y`.

    .. math::

        \\ell_\\delta(x) = \\begin{cases} \\frac12 x^2 & |x| \\le \\delta \\\\
            \\delta (|x| - \\frac12 \\delta) & |x| > \\delta \\end{cases}

    Quadratic near zero, linear far from it: a large TD error gives a bounded gradient
    (:math:`\\pm\\delta`) instead of one proportional to the error.

    Args:
        q_values: shape ``(B,)``, :math:`Q_\\phi(s, a)`, differentiable.
        targets: shape ``(B,)``, :math:`y`, constants (no gradient may flow into them).
        delta: :math:`\\delta > 0`.

    Returns:
        a scalar tensor, the mean over the batch.
    """
    ### BEGIN SOLUTION
    return nn.functional.huber_loss(q_values, targets.detach(), delta=delta)
    ### END SOLUTION


@torch.no_grad()
def hard_update(target: nn.Module, source: nn.Module) -> None:
    """Copy every parameter of ``source`` into ``target`` in place: :math:`\\bar\\phi \\leftarrow
    \\phi`. The two modules have the same architecture; ``target`` keeps its own tensors (an
    optimizer or another reference to them stays valid)."""
    ### BEGIN SOLUTION
    for target_param, param in zip(target.parameters(), source.parameters(), strict=True):
        target_param.copy_(param)
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# The network and the agent
# ---------------------------------------------------------------------------------------------


class QNetwork(nn.Module):
    """:math:`Q_\\phi(s, \\cdot)`: an MLP from an observation to one value per action.

    Parameters: ``q_net``.
    """

    def __init__(
        self, obs_dim: int, num_actions: int, n_layers: int, size: int, activation: str = "relu"
    ):
        super().__init__()
        self.q_net = build_mlp(obs_dim, num_actions, n_layers, size, activation)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """``(B, obs_dim)`` -> ``(B, num_actions)``."""
        return self.q_net(observations)


class ConvQNetwork(nn.Module):
    """:math:`Q_\\phi(s, \\cdot)` for Atari: the convolutional network of the Nature DQN paper
    (Mnih et al., 2015), from a stack of frames to one value per action.

    Three convolutions (32 filters 8x8 with stride 4, 64 4x4 with stride 2, 64 3x3 with stride
    1), each followed by a ReLU, then a hidden layer of 512 units. Frames come in as ``uint8``
    pixels and are scaled to ``[0, 1]`` here, so the replay buffer keeps them as bytes.

    Parameters: ``q_net``.

    Args:
        frame_stack: frames per observation (the input channels).
        frame_shape: ``(height, width)`` of a frame, at least 36x36 (84x84 for Atari).
        num_actions: number of actions.
    """

    def __init__(self, frame_stack: int, frame_shape: tuple[int, int], num_actions: int):
        super().__init__()
        height, width = (_conv_output_size(size) for size in frame_shape)
        if height < 1 or width < 1:
            raise ValueError(f"expected frames of at least 36x36 pixels, got {frame_shape}")
        self.q_net = nn.Sequential(
            nn.Conv2d(frame_stack, 32, kernel_size=8, stride=4),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=4, stride=2),
            nn.ReLU(),
            nn.Conv2d(64, 64, kernel_size=3, stride=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(64 * height * width, 512),
            nn.ReLU(),
            nn.Linear(512, num_actions),
        )

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """``(B, frame_stack, height, width)`` pixels in ``[0, 255]`` -> ``(B, num_actions)``."""
        return self.q_net(observations / 255.0)


def _conv_output_size(size: int) -> int:
    """The side of the last convolution's output for an input of side ``size``."""
    for kernel, stride in ((8, 4), (4, 2), (3, 1)):
        size = (size - kernel) // stride + 1
    return size


def make_q_network(
    observation_space: gym.Space, num_actions: int, config: DQNConfig
) -> QNetwork | ConvQNetwork:
    """The Q-network an observation space calls for: :class:`ConvQNetwork` for stacks of frames
    (shape ``(frame_stack, height, width)``, Atari), else the MLP :class:`QNetwork`."""
    shape = observation_space.shape
    if shape is not None and len(shape) == 3:
        return ConvQNetwork(shape[0], (shape[1], shape[2]), num_actions)
    obs_dim = observation_dim(observation_space)
    return QNetwork(obs_dim, num_actions, config.n_layers, config.layer_size, config.activation)


class DQNAgent:
    """A DQN agent: a Q-network, its target network and their optimizer.

    Args:
        observation_space: the environment's observation space: a 1-D ``Box``, or stacks of
            frames of shape ``(frame_stack, height, width)`` (Atari).
        action_space: a ``Discrete`` space.
        config: the run's configuration.
        device: where the networks live.
        rng: the generator of epsilon-greedy's random draws.
    """

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: DQNConfig,
        device: torch.device,
        rng: np.random.Generator,
    ):
        if not isinstance(action_space, gym.spaces.Discrete):
            raise ValueError(f"expected a Discrete action space for DQN, got {action_space}")
        self.config = config
        self.device = device
        self.rng = rng
        self.num_actions = action_dim(action_space)
        self.q_network = make_q_network(observation_space, self.num_actions, config).to(device)
        self.target_network = copy.deepcopy(self.q_network)
        self.target_network.requires_grad_(False)
        # Fused Adam is several times faster than the default for small networks on a CPU.
        self.optimizer = torch.optim.Adam(
            self.q_network.parameters(), config.learning_rate, fused=True
        )
        self.num_updates = 0
        # Acting sees one observation per environment step, where calling the modules costs as
        # much as the arithmetic: the MLP's layers are called directly (the same operations;
        # None for the convolutional network, which is called as a module).
        self._q_net_forward = (
            mlp_forward(self.q_network.q_net) if isinstance(self.q_network, QNetwork) else None
        )

    @torch.no_grad()
    def acting_q_values(self, observations: np.ndarray) -> torch.Tensor:
        """:math:`Q_\\phi(s, \\cdot)` for a batch of observations, shape ``(B, num_actions)``,
        without gradients: the Q-network's output (see ``mlp_forward``)."""
        x = to_torch(observations, self.device)
        if self._q_net_forward is not None:
            return self._q_net_forward(x)
        return self.q_network(x)

    def act(
        self, observations: np.ndarray, epsilon: float, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """Epsilon-greedy actions for a batch of observations, shape ``(B,)``; the random draws
        come from ``rng``, the agent's own generator when None."""
        q_values = self.acting_q_values(observations)
        actions = epsilon_greedy(q_values, epsilon, self.rng if rng is None else rng)
        check_shape(actions, (len(observations),), "epsilon_greedy")
        return actions

    def act_greedy(self, observations: np.ndarray) -> np.ndarray:
        """:math:`\\arg\\max_a Q_\\phi(s, a)` for a batch of observations, shape ``(B,)``."""
        return to_numpy(self.acting_q_values(observations).argmax(dim=1))

    def compute_loss(
        self,
        observations: torch.Tensor,
        actions: torch.Tensor,
        rewards: torch.Tensor,
        next_observations: torch.Tensor,
        terminated: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The TD loss of a minibatch.

        Use :func:`double_dqn_target` when ``self.config.double``, else :func:`dqn_target`;
        the Huber loss with ``self.config.huber_delta``. Targets carry no gradient.

        Args:
            observations: shape ``(B, obs_dim)``.
            actions: shape ``(B,)``, integers (``torch.long``).
            rewards: shape ``(B,)``.
            next_observations: shape ``(B, obs_dim)``.
            terminated: shape ``(B,)``, 0.0 or 1.0 (float).

        Returns:
            ``(loss, q_values, targets)``: the scalar loss, :math:`Q_\\phi(s, a)` of the actions
            taken and the targets :math:`y`, each of shape ``(B,)``.
        """
        ### BEGIN SOLUTION
        cfg = self.config
        q_values = self.q_network(observations).gather(1, actions.unsqueeze(1)).squeeze(1)
        with torch.no_grad():
            next_q_values_target = self.target_network(next_observations)
            if cfg.double:
                next_q_values_online = self.q_network(next_observations)
                targets = double_dqn_target(
                    rewards, next_q_values_online, next_q_values_target, terminated, cfg.gamma
                )
            else:
                targets = dqn_target(rewards, next_q_values_target, terminated, cfg.gamma)
        loss = huber_loss(q_values, targets, cfg.huber_delta)
        return loss, q_values, targets
        ### END SOLUTION

    def gradient_step(self, loss: torch.Tensor) -> float:
        """One optimizer step on ``loss``, with the gradient norm clipped to
        ``self.config.max_grad_norm`` (not clipped when it is None).

        Returns:
            the gradient norm before clipping, a float.
        """
        ### BEGIN SOLUTION
        max_norm = self.config.max_grad_norm
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(
            self.q_network.parameters(), max_norm if max_norm is not None else float("inf")
        )
        self.optimizer.step()
        return float(grad_norm)
        ### END SOLUTION

    def update(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        """One gradient step on a replay minibatch, then the target network's hard update
        every ``target_update_period`` steps; returns training metrics."""
        device = self.device
        observations = to_torch(batch["observations"], device)
        actions = to_torch(batch["actions"], device, torch.long)
        rewards = to_torch(batch["rewards"], device)
        next_observations = to_torch(batch["next_observations"], device)
        terminated = to_torch(batch["terminated"], device)
        loss, q_values, targets = self.compute_loss(
            observations, actions, rewards, next_observations, terminated
        )
        check_shape(loss, (), "compute_loss (loss)")
        check_shape(q_values, (len(rewards),), "compute_loss (q_values)")
        check_shape(targets, (len(rewards),), "compute_loss (targets)")
        grad_norm = self.gradient_step(loss)
        self.num_updates += 1
        if self.num_updates % self.config.target_update_period == 0:
            hard_update(self.target_network, self.q_network)
        return {
            "train/loss_critic": loss.item(),
            "train/q_values": q_values.mean().item(),
            "train/target_values": targets.mean().item(),
            "train/grad_norm": grad_norm,
        }

    def state_dict(self) -> dict[str, object]:
        """Everything a checkpoint needs to resume this agent."""
        return {
            "q_network": self.q_network.state_dict(),
            "target_network": self.target_network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "num_updates": self.num_updates,
        }

    def load_state_dict(self, state: dict) -> None:
        self.q_network.load_state_dict(state["q_network"])
        self.target_network.load_state_dict(state["target_network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.num_updates = int(state["num_updates"])

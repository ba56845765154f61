"""The configurations of homework-3 runs, and a tuned preset per environment.

``python -m hw3_q_learning.run dqn --env ENV`` starts from ``DQN_PRESETS[ENV]`` and
``python -m hw3_q_learning.run sac --env ENV`` from ``SAC_PRESETS[ENV]``; every option given on
the command line overrides the preset. ``--help`` after the algorithm lists them all.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from infrastructure.config import (
    Check,
    CheckedConfig,
    Target,
    in_zero_one,
    non_negative,
    positive,
    positive_or_none,
)


@dataclass(frozen=True)
class OffPolicyConfig(CheckedConfig):
    """What every homework-3 run has: environment, replay, schedule, evaluation, checkpoints."""

    env: str = "CartPole-v1"
    """Gymnasium environment id."""
    seed: int = 0
    """Seed of every random number generator of the run (networks, sampling, environments)."""
    logdir: str = "runs/hw3"
    """Folder the run writes progress.csv, config.json, TensorBoard logs and checkpoints to."""
    total_steps: int = 50_000
    """Environment steps to train for."""
    max_episode_steps: int | None = None
    """Time limit of an episode; None keeps the environment's own."""
    gamma: float = 0.99
    """Discount factor."""
    buffer_size: int = 50_000
    """Transitions the replay buffer keeps."""
    batch_size: int = 128
    """Transitions per gradient step."""
    learning_starts: int = 1000
    """Environment steps taken before the first gradient step."""
    train_frequency: int = 1
    """Environment steps between two rounds of gradient steps (one call of Trainer.step)."""
    gradient_steps: int = 1
    """Gradient steps per round."""
    n_layers: int = 2
    """Hidden layers of every network."""
    layer_size: int = 128
    """Width of each hidden layer."""
    activation: Literal["tanh", "relu"] = "relu"
    """Activation of the hidden layers."""
    eval_every: int = 5000
    """Evaluate every this many environment steps (and after the last one)."""
    eval_episodes: int = 10
    """Episodes per evaluation, with deterministic actions."""
    log_every: int = 1000
    """Write a row of training metrics every this many environment steps."""
    checkpoint_every: int | None = None
    """Save LOGDIR/checkpoint.pt every this many environment steps (and at the end); None
    never does."""
    resume: bool = False
    """Resume from LOGDIR/checkpoint.pt when there is one."""
    num_threads: int = 1
    """PyTorch intra-op threads; one is fastest for these small networks."""
    device: str = "cpu"
    """Torch device."""

    def checks(self) -> list[Check]:
        return [
            positive(self, "total_steps"),
            in_zero_one(self, "gamma"),
            positive(self, "buffer_size"),
            positive(self, "batch_size"),
            non_negative(self, "learning_starts"),
            positive(self, "train_frequency"),
            non_negative(self, "gradient_steps"),
            positive(self, "eval_every"),
            positive(self, "eval_episodes"),
            positive(self, "log_every"),
            positive_or_none(self, "checkpoint_every"),
        ]


@dataclass(frozen=True)
class DQNConfig(OffPolicyConfig):
    env: str = "CartPole-v1"
    """Gymnasium environment id (discrete actions)."""
    # Defaults that differ from OffPolicyConfig's, whose docstrings describe them:
    logdir: str = "runs/hw3_dqn"
    train_frequency: int = 4

    double: bool = False
    """Double DQN: the online network picks the next action, the target network values it."""
    learning_rate: float = 1e-3
    """Adam step size for the Q-network."""
    learning_rate_end: float | None = None
    """Anneal the step size linearly from learning_rate to this value over total_steps (the
    last policy is then one the updates have settled on); None keeps it constant."""
    target_update_period: int = 50
    """Gradient steps between two hard updates of the target network."""
    huber_delta: float = 1.0
    """Where the Huber loss turns from quadratic to linear."""
    max_grad_norm: float | None = 10.0
    """Clip the gradient norm of each step to this value; None does not clip."""
    epsilon_start: float = 1.0
    """Exploration rate of epsilon-greedy at the first step."""
    epsilon_end: float = 0.02
    """Exploration rate after the decay."""
    epsilon_decay_steps: int = 5000
    """Environment steps over which epsilon decays linearly from start to end."""
    eval_epsilon: float = 0.0
    """Exploration rate of the evaluation episodes; 0 evaluates the greedy policy. On Atari the
    DQN paper evaluates with 0.05: a deterministic policy can repeat the same moves in every
    episode (Ms. Pac-Man's greedy policy scored the same 60 in all 10 episodes at 50k steps)."""
    clip_rewards: bool = False
    """Store the sign of each reward in the replay buffer (-1, 0 or 1, as the DQN paper does on
    Atari, so that one learning rate suits every game's score scale); the logged returns stay
    the game's score."""

    def checks(self) -> list[Check]:
        return super().checks() + [
            positive(self, "learning_rate"),
            (
                self.learning_rate_end is None or self.learning_rate_end >= 0,
                "learning_rate_end >= 0 or None",
                self.learning_rate_end,
            ),
            positive(self, "target_update_period"),
            positive(self, "huber_delta"),
            (
                0.0 <= self.epsilon_end <= self.epsilon_start <= 1.0,
                "0 <= epsilon_end <= epsilon_start <= 1",
                (self.epsilon_start, self.epsilon_end),
            ),
            positive(self, "epsilon_decay_steps"),
            (0.0 <= self.eval_epsilon <= 1.0, "0 <= eval_epsilon <= 1", self.eval_epsilon),
        ]


@dataclass(frozen=True)
class SACConfig(OffPolicyConfig):
    env: str = "InvertedPendulum-v5"
    """Gymnasium environment id (continuous actions)."""
    learning_starts: int = 1000
    """Environment steps with uniformly random actions before the first gradient step."""
    # Defaults that differ from OffPolicyConfig's, whose docstrings describe them (SAC's
    # networks are the actor and each critic):
    logdir: str = "runs/hw3_sac"
    total_steps: int = 20_000
    buffer_size: int = 1_000_000
    batch_size: int = 256
    layer_size: int = 256
    eval_every: int = 2000
    checkpoint_every: int | None = 50_000

    critic_target: Literal["min", "mean", "single"] = "min"
    """How the target reduces the target critics: clipped double-Q ("min"), their "mean", or one
    critic only ("single", which trains one critic)."""
    actor_gradient: Literal["reparameterize", "reinforce"] = "reparameterize"
    """Gradient estimator of the actor loss: the reparameterisation trick or REINFORCE."""
    num_actor_samples: int = 1
    """Actions sampled per state for the actor loss (REINFORCE needs more than one)."""
    actor_learning_rate: float = 3e-4
    """Adam step size for the actor."""
    critic_learning_rate: float = 3e-4
    """Adam step size for the critics."""
    temperature_learning_rate: float = 3e-4
    """Adam step size for log alpha (automatic temperature tuning)."""
    init_temperature: float = 1.0
    """Initial entropy temperature alpha."""
    auto_temperature: bool = True
    """Tune alpha so that the policy's entropy tracks target_entropy; False keeps it fixed."""
    target_entropy: float | None = None
    """Entropy the temperature tuning aims at; None uses -action_dim."""
    tau: float = 0.005
    """Polyak coefficient of the soft target update: target <- tau * online + (1 - tau) * target."""

    def checks(self) -> list[Check]:
        return super().checks() + [
            positive(self, "num_actor_samples"),
            positive(self, "init_temperature"),
            in_zero_one(self, "tau"),
        ]


DQN_PRESETS: dict[str, DQNConfig] = {
    "CartPole-v1": DQNConfig(env="CartPole-v1"),
    # The RL Baselines3 Zoo's tuned DQN for LunarLander (a gradient step per environment step
    # for 100k steps) with double DQN and a quarter of the gradient steps. The step size
    # anneals to 0 so that the greedy policy settles: with a constant one it keeps moving, and
    # a seed can end below the target.
    "LunarLander-v3": DQNConfig(
        env="LunarLander-v3",
        double=True,
        total_steps=300_000,
        learning_rate=6.3e-4,
        learning_rate_end=0.0,
        buffer_size=50_000,
        batch_size=128,
        learning_starts=1000,
        train_frequency=4,
        gradient_steps=1,
        target_update_period=250,
        epsilon_end=0.1,
        epsilon_decay_steps=12_000,
        layer_size=256,
        eval_every=10_000,
        checkpoint_every=50_000,
    ),
    # The Nature DQN paper's Atari setup (Mnih et al., 2015) shortened for a CPU: its network,
    # rewards clipped, Adam at 1e-4 as in CleanRL, a replay buffer of 100k transitions (each frame
    # stored once: about 1 GB), epsilon decaying over 100k steps instead of 1M, the target
    # network refreshed every 1000 environment steps, evaluation at epsilon 0.05 as in the
    # paper. Hours per million steps: see the handout.
    "ALE/MsPacman-v5": DQNConfig(
        env="ALE/MsPacman-v5",
        total_steps=1_000_000,
        buffer_size=100_000,
        batch_size=32,
        learning_rate=1e-4,
        learning_starts=20_000,
        train_frequency=4,
        gradient_steps=1,
        target_update_period=250,
        epsilon_end=0.01,
        epsilon_decay_steps=100_000,
        clip_rewards=True,
        eval_epsilon=0.05,
        eval_every=50_000,
        log_every=5000,
        checkpoint_every=50_000,
    ),
}

# The paper's hyperparameters for MuJoCo, with networks of 128 units instead of 256 (3 times
# faster on a CPU); 300k steps take hours, so these runs checkpoint.
_SAC_MUJOCO = SACConfig(
    total_steps=300_000,
    buffer_size=300_000,
    learning_starts=5000,
    layer_size=128,
    eval_every=10_000,
    eval_episodes=5,
    checkpoint_every=25_000,
)

SAC_PRESETS: dict[str, SACConfig] = {
    # Small networks and larger steps for the critics and the temperature: the pendulum is easy,
    # and a CPU is slow. The actor keeps the paper's 3e-4: with 1e-3 a balancing policy can
    # lose its balance again.
    "InvertedPendulum-v5": SACConfig(
        env="InvertedPendulum-v5",
        layer_size=64,
        batch_size=128,
        actor_learning_rate=3e-4,
        critic_learning_rate=1e-3,
        temperature_learning_rate=1e-3,
    ),
    "HalfCheetah-v5": dataclasses.replace(_SAC_MUJOCO, env="HalfCheetah-v5"),
    "Hopper-v5": dataclasses.replace(_SAC_MUJOCO, env="Hopper-v5"),
    # The SAC paper's networks of 256 units and replay buffer of 1M transitions: with the 128
    # units and 300k transitions above, Ant's training returns stall at about 2000 (its
    # deterministic policy jumps above the healthy height of 1.0, which ends the episode).
    "Ant-v5": dataclasses.replace(
        _SAC_MUJOCO, env="Ant-v5", total_steps=1_000_000, buffer_size=1_000_000, layer_size=256
    ),
}

# What each preset is tuned to reach: the handout's "Results to reach". The reference solution
# is held to these numbers, and the autograder's calibration refuses a reference run that misses
# them.
DQN_TARGETS: dict[str, Target] = {
    # DQN on CartPole fails on some seeds at 50k steps whatever the preset (annealed step size,
    # slower target updates, double DQN, other batch and layer sizes: bench/target_seeds.py
    # measures them), so a share of the seeds is held to the target.
    "CartPole-v1": Target(475.0, within=50_000, share_of_seeds=0.75),
    "LunarLander-v3": Target(200.0, within=300_000),
}
SAC_TARGETS: dict[str, Target] = {
    "InvertedPendulum-v5": Target(1000.0, within=20_000),
    "HalfCheetah-v5": Target(4000.0, within=300_000),
    "Hopper-v5": Target(2500.0, within=300_000),
}

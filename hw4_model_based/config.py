"""The configurations of homework-4 runs, and a tuned preset per environment.

``python -m hw4_model_based.run mpc --env ENV`` starts from ``MPC_PRESETS[ENV]``; every option
given on the command line overrides the preset. ``--help`` after the algorithm lists them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hw4_model_based.envs import ENVS
from hw4_model_based.planning import STRATEGIES
from infrastructure.config import (
    Check,
    CheckedConfig,
    Target,
    in_zero_one,
    non_negative,
    one_of,
    positive,
    positive_or_none,
)


@dataclass(frozen=True)
class MPCConfig(CheckedConfig):
    """Model-based RL with MPC: collect data, fit the ensemble to all of it, plan with it."""

    env: str = "Obstacles-v0"
    """Environment id, one of hw4's: Obstacles-v0, Reacher-v5, HalfCheetah-v5."""
    seed: int = 0
    """Seed of every random number generator of the run (networks, sampling, planning,
    environments)."""
    logdir: str = "runs/hw4_mpc"
    """Folder the run writes progress.csv, config.json, TensorBoard logs and the ensemble to."""
    max_episode_steps: int | None = None
    """Time limit of an episode; None keeps the environment's own."""
    total_steps: int = 10_000
    """Environment steps to collect in all (the random ones included)."""
    initial_steps: int = 5000
    """Environment steps with uniformly random actions, collected before the first model is
    trained."""
    steps_per_iteration: int = 1000
    """Environment steps collected with the MPC policy in each later iteration."""
    buffer_size: int = 1_000_000
    """Transitions the replay buffer keeps (the model trains on all of them)."""

    ensemble_size: int = 5
    """Dynamics models in the ensemble, each trained on its own bootstrapped minibatches."""
    n_layers: int = 2
    """Hidden layers of each model."""
    layer_size: int = 250
    """Width of each hidden layer."""
    activation: Literal["tanh", "relu"] = "relu"
    """Activation of the hidden layers."""
    learning_rate: float = 1e-3
    """Adam step size for the ensemble."""
    batch_size: int = 512
    """Transitions per member in each gradient step."""
    train_steps: int = 1000
    """Gradient steps on the ensemble after each round of data collection."""
    min_std: float = 1e-6
    """Floor of the normalisation statistics' standard deviations."""

    strategy: Literal["random", "cem"] = "random"
    """How MPC picks the action sequence: random shooting or the cross-entropy method."""
    horizon: int = 10
    """Planning horizon H: actions in each candidate sequence."""
    num_sequences: int = 1000
    """Candidate action sequences N scored per plan (per CEM iteration with --strategy cem)."""
    cem_iterations: int = 4
    """CEM: sample-and-refit iterations per plan."""
    cem_num_elites: int = 5
    """CEM: sequences of highest predicted return each refit keeps."""
    cem_alpha: float = 1.0
    """CEM: weight of the elites' fit in each refit, new = alpha * fit + (1 - alpha) * old;
    1 replaces the distribution by the fit."""

    eval_every: int = 1
    """Evaluate every this many iterations (and after the last one)."""
    eval_episodes: int = 5
    """Episodes per evaluation, with the MPC policy."""
    checkpoint_every: int | None = None
    """Save LOGDIR/checkpoint.pt every this many iterations (and at the end); None never
    does."""
    resume: bool = False
    """Resume from LOGDIR/checkpoint.pt when there is one."""
    num_threads: int = 1
    """PyTorch intra-op threads."""
    device: str = "cpu"
    """Torch device; only "cpu" for now (the planner draws its candidates with a CPU
    generator)."""

    def checks(self) -> list[Check]:
        return [
            one_of(self, "env", ENVS),
            one_of(self, "strategy", STRATEGIES),
            positive_or_none(self, "max_episode_steps"),
            positive(self, "initial_steps"),
            (
                self.total_steps >= self.initial_steps,
                "total_steps >= initial_steps",
                (self.total_steps, self.initial_steps),
            ),
            positive(self, "steps_per_iteration"),
            positive(self, "buffer_size"),
            positive(self, "ensemble_size"),
            non_negative(self, "n_layers"),
            positive(self, "layer_size"),
            positive(self, "learning_rate"),
            positive(self, "batch_size"),
            non_negative(self, "train_steps"),
            positive(self, "min_std"),
            positive(self, "horizon"),
            positive(self, "num_sequences"),
            positive(self, "cem_iterations"),
            (
                0 < self.cem_num_elites <= self.num_sequences,
                "0 < cem_num_elites <= num_sequences",
                (self.cem_num_elites, self.num_sequences),
            ),
            in_zero_one(self, "cem_alpha"),
            positive(self, "eval_every"),
            positive(self, "eval_episodes"),
            (self.device == "cpu", "device 'cpu'", self.device),
            positive_or_none(self, "checkpoint_every"),
        ]


MPC_PRESETS: dict[str, MPCConfig] = {
    # Berkeley CS 285's obstacles setup (random steps first, then 1000 MPC steps per
    # iteration, horizon 10, 5 members), made cheaper for a CPU: 2000 random steps instead of
    # 5000, networks of 128 units and 500 sequences per plan: 2 to 4 minutes on the 2-core
    # machine, and evaluations of -19.5, -16.6 and -14.2 at the end on seeds 0, 1 and 2.
    "Obstacles-v0": MPCConfig(
        env="Obstacles-v0",
        total_steps=6000,
        initial_steps=2000,
        steps_per_iteration=1000,
        train_steps=1000,
        layer_size=128,
        num_sequences=500,
        horizon=10,
    ),
    # Random shooting at horizon 3 over 2000 sequences (14 ms a plan with 128-unit networks):
    # 1000 MPC steps per iteration after 5000 random ones, 3.2 minutes a run. It ends at -13.3
    # and -12.8 on seeds 0 and 1 (every evaluation between -11.3 and -14.6), about the return of
    # never moving the arm (-12.0 over seeds 0-99): uniform candidates always pay Reacher's
    # control cost |a|^2, the more so the longer the horizon (-19.5 at horizon 10). Random play
    # gets -43.3 and hw3's SAC -3.8 at 100k steps, so the issue's bar (80% of that gap, -11.7)
    # is missed; CEM on the same data (--strategy cem --horizon 10 --num-sequences 500 --total-
    # steps 6000 --eval-episodes 10) gets -6.2, -6.1 and -5.9 on seeds 0-2 in 2.3 minutes.
    "Reacher-v5": MPCConfig(
        env="Reacher-v5",
        total_steps=10_000,
        initial_steps=5000,
        steps_per_iteration=1000,
        layer_size=128,
        num_sequences=2000,
        horizon=3,
        eval_episodes=20,
    ),
    # Random shooting on 500-step episodes: 5000 random steps, then 2000 MPC steps per
    # iteration, 5 members of 128 units, 500 sequences of horizon 10 (13 ms a plan on one core),
    # an evaluation every 2 iterations. Seed 0 reaches 264 at 31k steps (9 minutes) and ends at
    # 301 at 45k (13.3 minutes); seeds 1 and 2 reach 250 at 23k and 31k steps (6 and 9 minutes;
    # runs stopped at 39k and 35k). Measured with another training on the second core.
    # The cross-entropy method on the same preset (--strategy cem: 4 iterations of 500 sequences,
    # 5 elites, alpha 1; 4 times random shooting's cost per plan) reaches 485 at 15k steps, 614
    # at 19k, 652 at 27k (30 minutes of CPU time) and 683 at 29k on seed 0, short of the issue's
    # 800.
    "HalfCheetah-v5": MPCConfig(
        env="HalfCheetah-v5",
        max_episode_steps=500,
        total_steps=45_000,
        initial_steps=5000,
        steps_per_iteration=2000,
        train_steps=1000,
        layer_size=128,
        num_sequences=500,
        horizon=10,
        eval_every=2,
        eval_episodes=2,
        checkpoint_every=1,
    ),
}

# What each preset is tuned to reach: the handout's "Results to reach" (the targets;
# the reference is held to them, and the autograder's calibration refuses a run that misses).
MPC_TARGETS: dict[str, Target] = {
    "Obstacles-v0": Target(-25.0, within=MPC_PRESETS["Obstacles-v0"].total_steps),
    "HalfCheetah-v5": Target(250.0, within=MPC_PRESETS["HalfCheetah-v5"].total_steps),
}


@dataclass(frozen=True)
class MBPOConfig(CheckedConfig):
    """MBPO: SAC trained on real transitions mixed with short rollouts of a learned ensemble,
    branched from real states (``hw4_model_based/mbpo.py``)."""

    env: str = "HalfCheetah-v5"
    """Environment id, one of hw4's: Obstacles-v0, Reacher-v5, HalfCheetah-v5."""
    seed: int = 0
    """Seed of every random number generator of the run (networks, sampling, rollouts,
    environments)."""
    logdir: str = "runs/hw4_mbpo"
    """Folder the run writes progress.csv, config.json, TensorBoard logs and checkpoints to."""
    max_episode_steps: int | None = None
    """Time limit of an episode; None keeps the environment's own."""
    total_steps: int = 20_000
    """Real environment steps to train for (the random ones included)."""
    learning_starts: int = 5000
    """Environment steps with uniformly random actions before the first fit of the ensemble and
    the first SAC update."""
    buffer_size: int = 1_000_000
    """Real transitions the replay buffer keeps (the ensemble trains on all of them)."""

    rollout_length: int = 1
    """Model steps k of each rollout; 0 makes no model data (SAC on real data only)."""
    num_rollouts: int = 10_000
    """Rollouts M started from real states each time the model buffer is refilled."""
    model_buffer_size: int = 400_000
    """Model transitions the model buffer keeps; the oldest rollouts are overwritten first."""
    real_ratio: float = 0.05
    """Fraction of each SAC minibatch drawn from the real buffer, the rest from the model buffer
    (ignored with rollout_length 0, which trains on real data only)."""

    ensemble_size: int = 5
    """Dynamics models in the ensemble, each trained on its own bootstrapped minibatches."""
    model_n_layers: int = 2
    """Hidden layers of each dynamics model."""
    model_layer_size: int = 200
    """Width of each hidden layer of the dynamics models."""
    model_activation: Literal["tanh", "relu"] = "relu"
    """Activation of the dynamics models' hidden layers."""
    model_learning_rate: float = 1e-3
    """Adam step size for the ensemble."""
    model_batch_size: int = 256
    """Transitions per member in each gradient step of the ensemble."""
    model_train_steps: int = 200
    """Gradient steps on the ensemble each time it is fitted."""
    model_train_every: int = 250
    """Environment steps between two fits of the ensemble, each followed by new rollouts."""
    min_std: float = 1e-6
    """Floor of the normalisation statistics' standard deviations."""

    batch_size: int = 256
    """Transitions per SAC gradient step (real and model together)."""
    gradient_steps: int = 10
    """SAC gradient steps per environment step."""
    n_layers: int = 2
    """Hidden layers of SAC's actor and critics."""
    layer_size: int = 128
    """Width of each hidden layer of SAC's actor and critics."""
    activation: Literal["tanh", "relu"] = "relu"
    """Activation of SAC's hidden layers."""
    gamma: float = 0.99
    """Discount factor."""
    tau: float = 0.005
    """Polyak coefficient of SAC's soft target update."""
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

    eval_every: int = 5000
    """Evaluate every this many environment steps (and after the last one)."""
    eval_episodes: int = 5
    """Episodes per evaluation, with SAC's deterministic actor."""
    log_every: int = 1000
    """Write a row of training metrics every this many environment steps."""
    checkpoint_every: int | None = None
    """Save LOGDIR/checkpoint.pt every this many environment steps (and at the end); None never
    does."""
    resume: bool = False
    """Resume from LOGDIR/checkpoint.pt when there is one."""
    num_threads: int = 1
    """PyTorch intra-op threads."""
    device: str = "cpu"
    """Torch device; only "cpu" for now (the rollouts draw members with a CPU generator)."""

    def checks(self) -> list[Check]:
        return [
            one_of(self, "env", ENVS),
            positive_or_none(self, "max_episode_steps"),
            positive(self, "learning_starts"),
            (
                self.total_steps >= self.learning_starts,
                "total_steps >= learning_starts",
                (self.total_steps, self.learning_starts),
            ),
            positive(self, "buffer_size"),
            non_negative(self, "rollout_length"),
            positive(self, "num_rollouts"),
            positive(self, "model_buffer_size"),
            in_zero_one(self, "real_ratio"),
            positive(self, "ensemble_size"),
            non_negative(self, "model_n_layers"),
            positive(self, "model_layer_size"),
            positive(self, "model_learning_rate"),
            positive(self, "model_batch_size"),
            non_negative(self, "model_train_steps"),
            positive(self, "model_train_every"),
            positive(self, "min_std"),
            positive(self, "batch_size"),
            non_negative(self, "gradient_steps"),
            non_negative(self, "n_layers"),
            positive(self, "layer_size"),
            in_zero_one(self, "gamma"),
            in_zero_one(self, "tau"),
            positive(self, "init_temperature"),
            positive(self, "eval_every"),
            positive(self, "eval_episodes"),
            positive(self, "log_every"),
            (self.device == "cpu", "device 'cpu'", self.device),
            positive_or_none(self, "checkpoint_every"),
        ]


MBPO_PRESETS: dict[str, MBPOConfig] = {
    # MBPO's HalfCheetah setup (Janner et al., 2019: 5000 random steps, the ensemble refitted and
    # the rollouts refilled every 250 steps, 5% real data in each SAC minibatch), on the 500-step
    # episodes of hw4's planning runs and made cheaper for a CPU: 10k rollouts per refill instead
    # of 100k, 200 gradient steps per fit instead of fitting to convergence, 10 SAC updates per
    # environment step instead of 20 to 40, and hw3's 128-unit SAC networks. Rollouts of length
    # 10 as in Berkeley CS 285's MBPO experiment; the paper uses 1 on this environment. Seed 0
    # evaluates 851 at 10k steps, 1534 at 15k (10 minutes of CPU time) and 2571 at 30k (24
    # minutes); with --rollout-length 0 (SAC alone) 292, 765 and 2465. Seeds 1 and 2 and the
    # margins are in the handout's results.
    "HalfCheetah-v5": MBPOConfig(
        env="HalfCheetah-v5",
        max_episode_steps=500,
        total_steps=30_000,
        learning_starts=5000,
        rollout_length=10,
        num_rollouts=10_000,
        model_buffer_size=400_000,
        eval_every=5000,
        eval_episodes=2,
        checkpoint_every=5000,
    ),
}

"""Train a dynamics ensemble and control with it by MPC::

    python -m hw4_model_based.run mpc --env Obstacles-v0 --seed 0 --logdir runs/mpc_obstacles_seed0
    python -m hw4_model_based.run mpc --env HalfCheetah-v5 --strategy cem --logdir runs/mpc_cheetah

The run starts from the environment's tuned preset (``hw4_model_based/config.py``); every option
given here overrides it. Each iteration collects environment steps (uniformly random actions
in the first, the MPC policy's afterwards) into a replay buffer, fits the ensemble's
normalisation statistics and weights to all of it, and evaluates the MPC policy. It writes
``LOGDIR/progress.csv``, ``LOGDIR/config.json``, TensorBoard logs, a checkpoint every
``--checkpoint-every`` iterations that ``--resume true`` continues from, the trained ensemble as
``LOGDIR/ensemble.pt`` (load it into a ``DynamicsEnsemble`` of the run's sizes) and, on
Obstacles-v0, a picture of an evaluation episode's executed and planned paths,
``LOGDIR/paths.png``.

Or train SAC on real and model data with MBPO (``hw4_model_based/mbpo.py``)::

    python -m hw4_model_based.run mbpo --env HalfCheetah-v5 --seed 0 --logdir runs/mbpo_cheetah
    python -m hw4_model_based.run mbpo --env HalfCheetah-v5 --rollout-length 0  # plain SAC

Each environment step goes into the real replay buffer; from ``--learning-starts`` on, every
``--model-train-every`` steps the ensemble is fitted to the real buffer and refills the model
buffer with short rollouts, and every step takes ``--gradient-steps`` SAC updates on minibatches
mixed from both buffers. It writes the same logs and checkpoints as MPC (no ensemble file).
MBPO trains homework 3's SAC, imported from ``hw3_q_learning``.

A bad option, or a missing or unfinished homework 3 for MBPO, stops a run before it writes
anything. A NaN or infinity from the model (its loss, its weights, its predictions) stops it
with the step where it happened; the rows and the checkpoint written before stay whole.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
import torch

from hw4_model_based.config import MBPO_PRESETS, MPC_PRESETS, MBPOConfig, MPCConfig
from hw4_model_based.envs import (
    OBSTACLES_ID,
    make_env,
    plot_paths,
    reward_fn,
    termination_fn,
)
from hw4_model_based.mbpo import (
    SACMissingError,
    SACUnfinishedError,
    branch_rollouts,
    check_batch,
    check_rollouts,
    check_sac_implemented,
    load_sac,
    mixed_batch,
)
from hw4_model_based.models import DynamicsEnsemble, bootstrap_indices, update_ensemble
from hw4_model_based.planning import MPCPolicy
from infrastructure.config import config_from_dict, config_to_dict, parse_with_presets
from infrastructure.logger import Logger, print_final
from infrastructure.replay_buffer import ReplayBuffer
from infrastructure.sampler import Sampler, evaluate_side_by_side
from infrastructure.seeding import seed_everything
from infrastructure.torch_utils import set_num_threads, to_torch
from infrastructure.training import (
    CHECKPOINT,
    EVAL_SEED_OFFSET,
    buffer_state,
    load_buffers,
    make_eval_envs,
    resume,
    resumed_sampler,
    save_atomically,
    train_off_policy,
)

if TYPE_CHECKING:
    from hw3_q_learning.config import SACConfig

ENSEMBLE = "ensemble.pt"
PATHS = "paths.png"
COLLECT_CHUNK = 100  # environment steps between two updates of the progress bar
MODEL_BUFFER_SEED_OFFSET = 20_000  # the model buffer draws its minibatches apart from the real one


def episode_length(config: MPCConfig) -> int:
    """The number of steps after which an episode of ``config.env`` is truncated."""
    if config.max_episode_steps is not None:
        return config.max_episode_steps
    env = make_env(config.env)
    try:
        assert env.spec is not None and env.spec.max_episode_steps is not None
        return int(env.spec.max_episode_steps)
    finally:
        env.close()


def check_horizon(config: MPCConfig) -> None:
    """A plan longer than an episode would score steps that never come."""
    steps = episode_length(config)
    if config.horizon > steps:
        raise ValueError(
            f"expected horizon <= {steps}, the length of a {config.env} episode "
            f"(max_episode_steps), got horizon={config.horizon}"
        )


def planned_actions(policy: MPCPolicy, observations: np.ndarray, when: str) -> np.ndarray:
    """``policy(observations)``. A return the ensemble predicts as NaN or infinite stops the
    run with the planner's message and ``when`` the plan was made, which the planner does not
    know (the environment step, the iteration)."""
    try:
        return policy(observations)
    except FloatingPointError as error:
        raise FloatingPointError(f"{error}; this happened {when}") from error


def fit_ensemble(
    ensemble: DynamicsEnsemble,
    optimizer: torch.optim.Optimizer,
    buffer: ReplayBuffer,
    train_steps: int,
    batch_size: int,
    generator: torch.Generator,
    *,
    when: str,
    option: str,
) -> dict[str, float]:
    """Fit the ensemble's normalisation statistics to the whole replay buffer, then take
    ``train_steps`` gradient steps, each on a bootstrapped minibatch per member; the mean loss.
    A loss, or weights after the last step, that are not finite stop the run with the gradient
    step, ``when`` it happened and the ``option`` of the step size to lower."""
    device = ensemble.obs_mean.device
    data = buffer.state_dict()
    observations, actions, next_observations = (
        to_torch(data[f"data.{name}"], device)
        for name in ("observations", "actions", "next_observations")
    )
    ensemble.update_statistics(observations, actions, next_observations)
    losses = []
    for step in range(1, train_steps + 1):
        indices = bootstrap_indices(
            len(observations), ensemble.ensemble_size, batch_size, generator
        )
        loss = update_ensemble(
            ensemble, optimizer, observations, actions, next_observations, indices
        )
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"training the ensemble: expected a finite loss, got {loss} at gradient step "
                f"{step} of {when}; try a smaller {option}"
            )
        losses.append(loss)
    # Each loss above checks the weights the step before it left; the last step's are checked
    # here, so that a checkpoint or a plan never starts from weights that are not finite.
    if losses and not all(torch.isfinite(p).all() for p in ensemble.parameters()):
        raise FloatingPointError(
            f"training the ensemble: expected finite weights, got NaN or infinity after "
            f"gradient step {train_steps} of {when}; try a smaller {option}"
        )
    return {"train/loss_model": float(np.mean(losses))} if losses else {}


class MPCTrainer:
    """Model-based RL with MPC, one iteration per :meth:`step`: collect environment steps, then
    fit the ensemble to all the data so far.

    :func:`train` loops over :meth:`step`, evaluates and logs; the autograder drives the same
    object in its sandbox and evaluates the ensemble's weights (``trainer.ensemble``) with a
    planner of its own.

    Args:
        config: the run's configuration, or a dict of its fields (how the autograder passes it).
    """

    def __init__(self, config: MPCConfig | Mapping[str, Any]):
        if not isinstance(config, MPCConfig):
            config = config_from_dict(MPCConfig, dict(config))
        self.config = config
        check_horizon(config)
        self.rng = seed_everything(config.seed)
        set_num_threads(config.num_threads)
        self.device = torch.device(config.device)
        self.env = self.make_eval_env(config.seed)
        space = self.env.action_space
        assert isinstance(space, gym.spaces.Box) and space.shape is not None
        assert self.env.observation_space.shape is not None
        self.action_space = space
        self.sampler = Sampler(self.env, seed=config.seed)
        self.buffer = ReplayBuffer(config.buffer_size, seed=config.seed)
        self.ensemble = DynamicsEnsemble(
            self.env.observation_space.shape[0],
            space.shape[0],
            config.ensemble_size,
            config.n_layers,
            config.layer_size,
            config.activation,
            config.min_std,
        ).to(self.device)
        self.optimizer = torch.optim.Adam(self.ensemble.parameters(), lr=config.learning_rate)
        # The minibatches and the training plans draw from one generator, the evaluation plans
        # from another: evaluating leaves training as it was.
        self.generator = torch.Generator().manual_seed(config.seed)
        self.policy = self.make_policy(self.generator)
        self.eval_policy = self.make_policy(
            torch.Generator().manual_seed(config.seed + EVAL_SEED_OFFSET)
        )
        self.iteration = 0
        self._episode_returns: list[float] = []  # episodes ended since the last log row

    def make_eval_env(self, seed: int) -> gym.Env:
        """An environment of the kind the run trains in."""
        return make_env(self.config.env, seed, max_episode_steps=self.config.max_episode_steps)

    def make_policy(self, generator: torch.Generator) -> MPCPolicy:
        """An MPC policy over this run's ensemble whose planner draws from ``generator``."""
        cfg = self.config
        return MPCPolicy(
            self.ensemble,
            reward_fn(cfg.env),
            self.action_space.low,
            self.action_space.high,
            cfg.strategy,
            cfg.horizon,
            cfg.num_sequences,
            generator,
            cfg.cem_iterations,
            cfg.cem_num_elites,
            cfg.cem_alpha,
        )

    @property
    def total_steps(self) -> int:
        """Environment steps taken so far."""
        return self.sampler.total_steps

    def random_actions(self, observations: np.ndarray) -> np.ndarray:
        """Actions drawn uniformly in the action space's bounds, one per observation."""
        space = self.action_space
        shape = (len(observations), *space.shape)
        return self.rng.uniform(space.low, space.high, size=shape).astype(space.dtype)

    def act(self, observations: np.ndarray) -> np.ndarray:
        """Evaluation actions: the first action of a fresh plan from each observation."""
        when = f"in an evaluation after {self.total_steps} environment steps"
        return planned_actions(self.eval_policy, observations, when)

    def mpc_actions(self, observations: np.ndarray) -> np.ndarray:
        """Training actions after the first iteration: the MPC policy's."""
        when = f"at environment step {self.total_steps + 1} (iteration {self.iteration + 1})"
        return planned_actions(self.policy, observations, when)

    def step(self, on_steps: Callable[[int], object] | None = None) -> dict[str, float]:
        """One iteration: collect ``initial_steps`` random steps (the first iteration) or
        ``steps_per_iteration`` MPC steps (the others) into the replay buffer, then fit the
        ensemble to the whole buffer; the metrics of the fit. ``on_steps(n)`` is called after
        every ``n`` steps collected (a progress bar's ``update``)."""
        cfg = self.config
        wanted = cfg.initial_steps if self.iteration == 0 else cfg.steps_per_iteration
        wanted = min(wanted, cfg.total_steps - self.total_steps)
        policy = self.random_actions if self.iteration == 0 else self.mpc_actions
        collected = 0
        while collected < wanted:
            batch = self.sampler.sample_steps(policy, min(COLLECT_CHUNK, wanted - collected))
            self.buffer.add_batch(batch)
            self._episode_returns.extend(batch.episode_returns.tolist())
            collected += len(batch)
            if on_steps is not None:
                on_steps(len(batch))
        self.iteration += 1
        return self.fit_model()

    def fit_model(self) -> dict[str, float]:
        """Fit the normalisation statistics to the whole replay buffer, then take
        ``train_steps`` gradient steps, each on a bootstrapped minibatch per member."""
        cfg = self.config
        return fit_ensemble(
            self.ensemble,
            self.optimizer,
            self.buffer,
            cfg.train_steps,
            cfg.batch_size,
            self.generator,
            when=f"iteration {self.iteration} ({self.total_steps} environment steps)",
            option="--learning-rate",
        )

    def train_metrics(self) -> dict[str, float]:
        """The mean return of the training episodes that ended since the previous call."""
        if not self._episode_returns:
            return {}
        metrics = {"train/return_mean": float(np.mean(self._episode_returns))}
        self._episode_returns = []
        return metrics

    @torch.no_grad()
    def record_paths(self, seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """One evaluation episode from ``seed``: the observations visited ``(T + 1, obs_dim)``
        and, from each, the observations the ensemble predicts for its plan, averaged over
        members (``(H + 1, obs_dim)``, the observation planned from first)."""
        env = self.make_eval_env(seed)
        observation = np.array(env.reset(seed=seed)[0])
        executed, planned = [observation], []
        ensemble_size = self.config.ensemble_size
        while True:
            plan = self.eval_policy.plan(observation)
            states = to_torch(observation, self.device).expand(ensemble_size, 1, -1)
            predicted = [states.mean(dim=0)[0]]
            for action in to_torch(plan, self.device):
                states = self.ensemble.predict(states, action.expand(ensemble_size, 1, -1))
                predicted.append(states.mean(dim=0)[0])
            planned.append(torch.stack(predicted).cpu().numpy())
            observation, _, terminated, truncated, _ = env.step(plan[0])
            executed.append(np.array(observation))
            if terminated or truncated:
                break
        env.close()
        return np.stack(executed), planned

    # -- checkpoints ------------------------------------------------------------------------

    def save_checkpoint(self, path: Path) -> None:
        """Save what resuming needs: the ensemble and its optimizer, the replay buffer, the
        generators' states.

        The environment's own state is not saved: a resumed run starts a fresh episode, so it is
        not bit-for-bit the run that was not interrupted.
        """
        state = {
            "config": config_to_dict(self.config),
            "total_steps": self.total_steps,
            "iteration": self.iteration,
            "ensemble": self.ensemble.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "buffer": buffer_state(self.buffer),
            "rng": self.rng.bit_generator.state,
            "generator": self.generator.get_state(),
            "eval_generator": self.eval_policy.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
        }
        save_atomically(state, path)

    def load_checkpoint(self, path: Path) -> None:
        """Continue from a checkpoint written by :meth:`save_checkpoint` for the same config."""
        state = torch.load(path, map_location=self.device, weights_only=True)
        load_buffers(state, path, {"buffer": self.buffer})
        self.ensemble.load_state_dict(state["ensemble"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        self.generator.set_state(state["generator"])
        self.eval_policy.generator.set_state(state["eval_generator"])
        torch.set_rng_state(state["torch_rng"])
        self.sampler = resumed_sampler(self.env, self.config.seed, int(state["total_steps"]))
        self.iteration = int(state["iteration"])
        self._episode_returns = []

    def close(self) -> None:
        self.env.close()


# ---------------------------------------------------------------------------------------------
# The training loop
# ---------------------------------------------------------------------------------------------


def train(
    config: MPCConfig | MBPOConfig, progress: bool = True, *, evaluate_first: bool = True
) -> dict[str, float]:
    """Train with ``config``; returns the metrics of the last evaluation. An MBPO config goes
    to :func:`train_mbpo`.

    Evaluations run every ``eval_every`` iterations, after the last one and, unless
    ``evaluate_first`` is false, before the first (MPC with the untrained ensemble), so the
    learning curve starts at step 0.
    """
    if isinstance(config, MBPOConfig):
        return train_mbpo(config, progress, evaluate_first=evaluate_first)
    logdir = Path(config.logdir)
    checkpoint = logdir / CHECKPOINT
    trainer = MPCTrainer(config)  # bad options stop here, before anything is written
    resume_at = resume(trainer, config)
    first_eval_seed = config.seed + EVAL_SEED_OFFSET + trainer.total_steps
    eval_envs = make_eval_envs(trainer, first_eval_seed, config.eval_episodes)
    eval_seed: int | None = first_eval_seed
    last_eval: dict[str, float] = {}
    with (
        Logger(logdir, config, resume_at=resume_at) as logger,
        logger.progress(config.total_steps, disable=not progress) as bar,
    ):

        def evaluate() -> dict[str, float]:
            nonlocal eval_seed
            result = evaluate_side_by_side(eval_envs, trainer.act, eval_seed)
            eval_seed = None
            bar.set_postfix(eval_return=f"{result['return_mean']:.1f}")
            return {f"eval/{key}": value for key, value in result.items()}

        if evaluate_first and trainer.total_steps == 0:
            last_eval = evaluate()
            logger.log(last_eval, 0)
        bar.update(trainer.total_steps)
        while trainer.total_steps < config.total_steps:
            start, before = time.perf_counter(), trainer.total_steps
            metrics = trainer.step(on_steps=bar.update)
            metrics |= trainer.train_metrics()
            metrics["time/sps"] = (trainer.total_steps - before) / (time.perf_counter() - start)
            done = trainer.total_steps >= config.total_steps
            if done or trainer.iteration % config.eval_every == 0:
                last_eval = evaluate()
                metrics |= last_eval
            logger.log(metrics, trainer.total_steps)
            every = config.checkpoint_every
            if every is not None and (done or trainer.iteration % every == 0):
                trainer.save_checkpoint(checkpoint)
    save_atomically(trainer.ensemble.state_dict(), logdir / ENSEMBLE)
    if config.env == OBSTACLES_ID:
        executed, planned = trainer.record_paths(first_eval_seed)
        plot_paths(
            eval_envs[0],
            executed,
            planned,
            logdir / PATHS,
            title=f"{config.strategy} MPC after {trainer.total_steps} steps",
        )
    trainer.close()
    for env in eval_envs:
        env.close()
    return {key.removeprefix("eval/"): value for key, value in last_eval.items()}


# ---------------------------------------------------------------------------------------------
# MBPO
# ---------------------------------------------------------------------------------------------


class MBPOTrainer:
    """MBPO, one environment step per :meth:`step`: the step goes into the real buffer; then,
    from ``learning_starts`` on, every ``model_train_every`` steps the ensemble is fitted to the
    real buffer and :func:`~hw4_model_based.mbpo.branch_rollouts` adds ``num_rollouts`` new
    rollouts to the model buffer, and every step takes ``gradient_steps`` SAC updates on
    :func:`~hw4_model_based.mbpo.mixed_batch` minibatches.

    With ``rollout_length = 0`` the ensemble is neither fitted nor used, and every minibatch is
    real: the same loop, with the same SAC and the same updates per real step, is plain SAC.

    :func:`train_mbpo` loops over :meth:`step`, evaluates and logs; the autograder can drive the
    same object and evaluate ``trainer.agent.actor``.

    Args:
        config: the run's configuration, or a dict of its fields (how the autograder passes it).
    """

    def __init__(self, config: MBPOConfig | Mapping[str, Any]):
        if not isinstance(config, MBPOConfig):
            config = config_from_dict(MBPOConfig, dict(config))
        self.config = config
        agent_class, sac_config_class = load_sac()  # before anything else: says what to do
        self.rng = seed_everything(config.seed)
        set_num_threads(config.num_threads)
        self.device = torch.device(config.device)
        self.env = self.make_eval_env(config.seed)
        space = self.env.action_space
        assert isinstance(space, gym.spaces.Box) and space.shape is not None
        assert self.env.observation_space.shape is not None
        # SAC's actions are in [-1, 1]; hw4's environments take exactly these, so the replay
        # buffers, the ensemble and the reward functions all see the actions SAC chose.
        if not (np.all(space.low == -1.0) and np.all(space.high == 1.0)):
            raise ValueError(
                f"MBPO expects an action space of [-1, 1] (SAC's), got {config.env}'s "
                f"[{space.low}, {space.high}]"
            )
        obs_dim, action_dim = self.env.observation_space.shape[0], space.shape[0]
        self.sampler = Sampler(self.env, seed=config.seed)
        self.buffer = ReplayBuffer(config.buffer_size, seed=config.seed)
        self.model_buffer = ReplayBuffer(
            config.model_buffer_size, seed=config.seed + MODEL_BUFFER_SEED_OFFSET
        )
        self.ensemble = DynamicsEnsemble(
            obs_dim,
            action_dim,
            config.ensemble_size,
            config.model_n_layers,
            config.model_layer_size,
            config.model_activation,
            config.min_std,
        ).to(self.device)
        self.model_optimizer = torch.optim.Adam(
            self.ensemble.parameters(), lr=config.model_learning_rate
        )
        self.generator = torch.Generator().manual_seed(config.seed)  # minibatches and members
        self.agent = agent_class(
            self.env.observation_space, space, self.sac_config(sac_config_class), self.device
        )
        check_sac_implemented(self.agent, obs_dim, action_dim)
        self.reward_fn = reward_fn(config.env)
        self.termination_fn = termination_fn(config.env)
        self.update_metrics: dict[str, float] = {}
        self.model_metrics: dict[str, float] = {}
        self._episode_returns: list[float] = []  # episodes ended since the last log row

    def sac_config(self, sac_config_class: type[SACConfig]) -> SACConfig:
        """hw3's config of the SAC agent, from this run's SAC fields."""
        cfg = self.config
        return sac_config_class(
            env=cfg.env,
            seed=cfg.seed,
            total_steps=cfg.total_steps,
            gamma=cfg.gamma,
            batch_size=cfg.batch_size,
            gradient_steps=cfg.gradient_steps,
            n_layers=cfg.n_layers,
            layer_size=cfg.layer_size,
            activation=cfg.activation,
            tau=cfg.tau,
            actor_learning_rate=cfg.actor_learning_rate,
            critic_learning_rate=cfg.critic_learning_rate,
            temperature_learning_rate=cfg.temperature_learning_rate,
            init_temperature=cfg.init_temperature,
            auto_temperature=cfg.auto_temperature,
            target_entropy=cfg.target_entropy,
            device=cfg.device,
        )

    def make_eval_env(self, seed: int) -> gym.Env:
        """An environment of the kind the run trains in."""
        return make_env(self.config.env, seed, max_episode_steps=self.config.max_episode_steps)

    @property
    def total_steps(self) -> int:
        """Real environment steps taken so far."""
        return self.sampler.total_steps

    @property
    def real_ratio(self) -> float:
        """The fraction of real transitions in each minibatch: all of them without rollouts."""
        return self.config.real_ratio if self.config.rollout_length > 0 else 1.0

    def explore(self, observations: np.ndarray) -> np.ndarray:
        """Uniformly random actions before ``learning_starts``, SAC's sampled ones after."""
        if self.total_steps < self.config.learning_starts:
            shape = (len(observations), *self.env.action_space.shape)  # type: ignore[misc]
            return self.rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)
        return self.agent.act(observations)

    def act(self, observations: np.ndarray) -> np.ndarray:
        """Evaluation actions: SAC's deterministic ones."""
        return self.agent.act_deterministic(observations)

    def sample_actions(self, observations: torch.Tensor) -> torch.Tensor:
        """SAC's sampled actions for model states, the rollouts' policy."""
        return self.agent.actor.sample(observations)[0]

    def step(self) -> dict[str, float]:
        """One environment step into the real buffer; from ``learning_starts`` on, the model's
        fit and rollouts when they are due, then ``gradient_steps`` SAC updates. The metrics of
        the last update."""
        cfg = self.config
        batch = self.sampler.sample_steps(self.explore, 1)
        self.buffer.add_batch(batch)
        self._episode_returns.extend(batch.episode_returns.tolist())
        if self.total_steps < cfg.learning_starts:
            return self.update_metrics
        due = (self.total_steps - cfg.learning_starts) % cfg.model_train_every == 0
        if cfg.rollout_length > 0 and due:
            self.model_metrics = self.fit_model() | self.add_rollouts()
        for _ in range(cfg.gradient_steps):
            minibatch = mixed_batch(self.buffer, self.model_buffer, cfg.batch_size, self.real_ratio)
            check_batch(minibatch, cfg.batch_size)
            self.update_metrics = self.agent.update(minibatch)
        return self.update_metrics

    def train_until(self, steps: int) -> int:
        """Call :meth:`step` until ``total_steps`` reaches ``steps``; returns ``total_steps``."""
        while self.total_steps < steps:
            self.step()
        return self.total_steps

    def fit_model(self) -> dict[str, float]:
        """Fit the ensemble to the whole real buffer (:func:`fit_ensemble`)."""
        cfg = self.config
        return fit_ensemble(
            self.ensemble,
            self.model_optimizer,
            self.buffer,
            cfg.model_train_steps,
            cfg.model_batch_size,
            self.generator,
            when=f"the fit after {self.total_steps} environment steps",
            option="--model-learning-rate",
        )

    def add_rollouts(self) -> dict[str, float]:
        """Refill the model buffer with ``num_rollouts`` rollouts branched from real states; a
        prediction that is not finite stops the run, naming the environment step."""
        cfg = self.config
        rollouts = branch_rollouts(
            self.buffer,
            self.model_buffer,
            self.ensemble,
            self.sample_actions,
            self.reward_fn,
            self.termination_fn,
            cfg.num_rollouts,
            cfg.rollout_length,
            self.generator,
        )
        check_rollouts(
            rollouts,
            cfg.num_rollouts,
            self.ensemble.obs_dim,
            self.ensemble.action_dim,
            cfg.rollout_length,
        )
        for key in ("next_observations", "rewards"):
            if not torch.isfinite(rollouts[key]).all():
                raise FloatingPointError(
                    f"model rollouts: expected finite {key}, got NaN or infinity from the "
                    f"ensemble in the rollouts after {self.total_steps} environment steps; try a "
                    "smaller --model-learning-rate or --rollout-length"
                )
        return {
            "train/rollout_steps_mean": len(rollouts["rewards"]) / cfg.num_rollouts,
            "train/model_reward_mean": rollouts["rewards"].mean().item(),
            "train/model_buffer_size": float(len(self.model_buffer)),
        }

    def train_metrics(self) -> dict[str, float]:
        """The last update's and the last fit's metrics, and the mean return of the training
        episodes that ended since the previous call."""
        metrics = self.update_metrics | self.model_metrics
        if self._episode_returns:
            metrics["train/return_mean"] = float(np.mean(self._episode_returns))
            self._episode_returns = []
        return metrics

    # -- checkpoints ------------------------------------------------------------------------

    def save_checkpoint(self, path: Path) -> None:
        """Save what resuming needs: SAC, the ensemble and its optimizer, both replay buffers,
        the generators' states. As for MPC, a resumed run starts a fresh episode."""
        state = {
            "config": config_to_dict(self.config),
            "total_steps": self.total_steps,
            "agent": self.agent.state_dict(),
            "ensemble": self.ensemble.state_dict(),
            "model_optimizer": self.model_optimizer.state_dict(),
            "buffer": buffer_state(self.buffer),
            "model_buffer": buffer_state(self.model_buffer),
            "rng": self.rng.bit_generator.state,
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
        }
        save_atomically(state, path)

    def load_checkpoint(self, path: Path) -> None:
        """Continue from a checkpoint written by :meth:`save_checkpoint` for the same config."""
        state = torch.load(path, map_location=self.device, weights_only=True)
        load_buffers(state, path, {"buffer": self.buffer, "model_buffer": self.model_buffer})
        self.agent.load_state_dict(state["agent"])
        self.ensemble.load_state_dict(state["ensemble"])
        self.model_optimizer.load_state_dict(state["model_optimizer"])
        self.rng.bit_generator.state = state["rng"]
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        self.sampler = resumed_sampler(self.env, self.config.seed, int(state["total_steps"]))
        self.update_metrics, self.model_metrics = {}, {}
        self._episode_returns = []

    def close(self) -> None:
        self.env.close()


def train_mbpo(
    config: MBPOConfig, progress: bool = True, *, evaluate_first: bool = True
) -> dict[str, float]:
    """Train with MBPO; returns the metrics of the last evaluation.

    Evaluations run every ``eval_every`` environment steps, at the end and, unless
    ``evaluate_first`` is false, once before the first step of a run that starts afresh (with
    every generator put back afterwards, so the training is that of a run without it); the
    loop is homework 3's, :func:`~infrastructure.training.train_off_policy`.
    """
    trainer = MBPOTrainer(config)  # bad options and an unfinished SAC stop here
    last_eval = train_off_policy(
        trainer, config, progress, evaluate_first=evaluate_first, kept=[trainer.rng]
    )
    trainer.close()
    return last_eval


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

ALGORITHMS = ("mpc", "mbpo")


def parse_args(argv: Sequence[str] | None = None) -> MPCConfig | MBPOConfig:
    """The config of a run: ``ALGORITHM`` first, then the preset of ``--env`` overridden by
    the other options. A bad value (an unknown environment, a horizon longer than an episode,
    a negative rollout length) is an error that names the option."""
    argv = list(sys.argv[1:] if argv is None else argv)
    top = argparse.ArgumentParser(
        prog="python -m hw4_model_based.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("algorithm", choices=ALGORITHMS, help="then --help for its options")
    algorithm = top.parse_args(argv[:1]).algorithm
    config: MPCConfig | MBPOConfig
    try:
        if algorithm == "mbpo":
            config = parse_with_presets(
                MBPOConfig,
                MBPO_PRESETS,
                argv[1:],
                "MBPO: SAC on real data and short model rollouts.",
                "python -m hw4_model_based.run mbpo",
            )
        else:
            config = parse_with_presets(
                MPCConfig,
                MPC_PRESETS,
                argv[1:],
                "Model-based RL with MPC.",
                "python -m hw4_model_based.run mpc",
            )
            check_horizon(config)
    except ValueError as error:  # checks that need the environment or its preset
        # reported as the algorithm's own options are, under its name
        command = argparse.ArgumentParser(
            prog=f"{top.prog} {algorithm}", usage="%(prog)s [OPTION ...] (--help lists them)"
        )
        command.error(str(error))
    return config


def main(argv: Sequence[str] | None = None) -> None:
    """Train as the command line says. A run that homework 3's SAC keeps from starting, or that
    the model's NaNs stop, exits with the message alone: it names the step and what to do, and
    the traceback would only point into the given code that checks."""
    config = parse_args(argv)
    try:
        result = train(config)
    except (SACMissingError, SACUnfinishedError, FloatingPointError) as error:
        algorithm = "mbpo" if isinstance(config, MBPOConfig) else "mpc"
        sys.exit(f"python -m hw4_model_based.run {algorithm}: error: {error}")
    print_final(result, config.eval_episodes, config.logdir)


if __name__ == "__main__":
    main()

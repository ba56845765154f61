"""Imitate an expert: ``python -m hw1_imitation.run --env Hopper-v5 --seed 0 [--dagger]``.

Behaviour cloning by default; ``--dagger`` (or ``--dagger true``) runs DAgger. The run starts
from the environment's preset (``hw1_imitation/config.py``); every option given here overrides
it. It writes ``LOGDIR/progress.csv``, ``LOGDIR/config.json`` and TensorBoard logs;
``python -m infrastructure.plot LOGDIR --x train/iteration`` draws its learning curve.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from hw1_imitation.bc import bc_update
from hw1_imitation.config import PRESETS, ImitationConfig
from hw1_imitation.dagger import Dataset, collect_and_relabel
from hw1_imitation.expert import demos_path, expert_path, expert_return, load_demos, load_expert
from hw1_imitation.policies import GaussianMLPPolicy
from infrastructure.config import config_from_dict, parse_with_presets
from infrastructure.envs import action_dim, make_env
from infrastructure.logger import Logger, print_final
from infrastructure.sampler import Sampler, evaluate
from infrastructure.seeding import generators_kept, seed_everything
from infrastructure.torch_utils import (
    check_shape,
    set_num_threads,
    to_torch,
    without_distribution_validation,
)

EVAL_SEED_OFFSET = 10_000


def make_imitation_env(config: ImitationConfig, seed: int) -> gym.Env:
    """The training or evaluation environment of a run. The learner's Gaussian samples are
    unbounded; the environment sees them clipped to its bounds."""
    env = make_env(config.env, seed, max_episode_steps=config.max_episode_steps)
    return gym.wrappers.ClipAction(env)


class Trainer:
    """One imitation run, one iteration at a time.

    An iteration trains ``train_steps_per_iter`` gradient steps of behaviour cloning on the
    dataset; with DAgger, every iteration after the first starts by rolling out the learner,
    labelling its states with the expert's actions and aggregating them into the dataset.
    :func:`train` loops over :meth:`step` and logs; the autograder drives the same object in its
    sandbox and, between iterations, evaluates the weights of :attr:`policy` with this class's
    :meth:`act`, in a copy of its own and in environments of its own.

    Args:
        config: the run's configuration, or a dict of its fields (how the autograder passes it).
    """

    def __init__(self, config: ImitationConfig | Mapping[str, Any]):
        if not isinstance(config, ImitationConfig):
            config = config_from_dict(ImitationConfig, dict(config))
        self.config = config
        self.rng = seed_everything(config.seed)
        set_num_threads(config.num_threads)
        self.device = torch.device(config.device)
        self.env = make_imitation_env(config, config.seed)
        self.expert = load_expert(expert_path(config.env, config.expert_dir), self.env)
        demos = load_demos(demos_path(config.env, config.expert_dir), self.env)
        self.demos = demos.first(config.num_demos)
        self.dataset = Dataset(self.demos.observations, self.demos.actions)
        self.action_dim = action_dim(self.env.action_space)
        self.policy = GaussianMLPPolicy(
            self.expert.obs_dim,
            self.action_dim,
            config.n_layers,
            config.layer_size,
            config.activation,
            config.log_std_init,
        ).to(self.device)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=config.learning_rate)
        self.sampler = Sampler(self.env, seed=config.seed)
        self.iteration = 0
        self.gradient_steps = 0

    @property
    def total_steps(self) -> int:
        """Gradient steps taken so far: the run's clock (behaviour cloning takes no steps in
        the environment; the learner's environment steps are :attr:`env_steps`)."""
        return self.gradient_steps

    @property
    def env_steps(self) -> int:
        """Environment steps the learner took in DAgger's rollouts so far (0 for BC)."""
        return self.sampler.total_steps

    @without_distribution_validation
    def explore(self, observations: np.ndarray) -> np.ndarray:
        """The learner's sampled actions, for DAgger's rollouts."""
        actions = self.policy.get_action(observations)
        check_shape(actions, (len(observations), self.action_dim), "get_action")
        return actions

    @without_distribution_validation
    def act(self, observations: np.ndarray) -> np.ndarray:
        """Evaluation actions for a batch of observations: the policy's mean."""
        actions = self.policy.get_action(observations, deterministic=True)
        check_shape(actions, (len(observations), self.action_dim), "get_action")
        return actions

    @without_distribution_validation
    def update(self, observations: np.ndarray, expert_actions: np.ndarray) -> dict[str, float]:
        """One gradient step of :func:`~hw1_imitation.bc.bc_update` on a minibatch: observations
        ``(B, obs_dim)`` and the expert's actions ``(B, action_dim)``, NumPy arrays."""
        return bc_update(
            self.policy,
            self.optimizer,
            to_torch(observations, self.device),
            to_torch(expert_actions, self.device),
            self.config.loss,
        )

    def collect(self) -> dict[str, float]:
        """DAgger's steps 2 to 4: roll out the learner for ``dagger_batch_size`` steps or more,
        label its states with the expert's actions and aggregate them into :attr:`dataset`;
        the mean return of the rollouts."""
        size = len(self.dataset)
        self.dataset, rollouts = collect_and_relabel(
            self.sampler, self.explore, self.expert, self.dataset, self.config.dagger_batch_size
        )
        expected = (size + len(rollouts), self.action_dim)
        check_shape(self.dataset.actions, expected, "collect_and_relabel's dataset.actions")
        return {"train/return_mean": float(np.mean(rollouts.episode_returns))}

    def step(self) -> dict[str, float]:
        """One iteration: (DAgger, after the first) collect, relabel and aggregate; then
        ``train_steps_per_iter`` gradient steps. The iteration's metrics."""
        cfg = self.config
        metrics = self.collect() if cfg.dagger and self.iteration > 0 else {}
        losses = []
        for _ in range(cfg.train_steps_per_iter):
            observations, actions = self.dataset.sample(cfg.batch_size, self.rng)
            losses.append(self.update(observations, actions)["train/loss"])
        self.gradient_steps += cfg.train_steps_per_iter
        self.iteration += 1
        metrics["train/loss"] = float(np.mean(losses))
        metrics["train/iteration"] = self.iteration
        metrics["train/gradient_steps"] = self.gradient_steps
        metrics["train/dataset_size"] = len(self.dataset)
        metrics["train/std_mean"] = float(self.policy.log_std.detach().exp().mean())
        return metrics

    def close(self) -> None:
        self.env.close()


def train(
    config: ImitationConfig, progress: bool = True, *, evaluate_first: bool = True
) -> dict[str, float]:
    """Train with ``config``; returns the metrics of the last evaluation, with the expert's
    return (``expert_return``) and the share of it reached (``expert_fraction``).

    Evaluations run every ``eval_every`` iterations, after the last one and, unless
    ``evaluate_first`` is false, once before the first (iteration 0), so the learning curve
    starts from the untrained policy.
    """
    trainer = Trainer(config)
    eval_seed = config.seed + EVAL_SEED_OFFSET
    eval_env = make_imitation_env(config, eval_seed)
    eval_sampler = Sampler(eval_env, seed=eval_seed)
    reference = expert_return(config.env, config.expert_dir)
    if reference is None:  # no manifest entry: measure the expert on episodes of its own
        expert_env = make_imitation_env(config, eval_seed + 1)
        reference = evaluate(Sampler(expert_env, seed=eval_seed + 1), trainer.expert, 10)[
            "return_mean"
        ]
        expert_env.close()

    def evaluate_against_expert(sampler: Sampler) -> dict[str, float]:
        result = evaluate(sampler, trainer.act, config.eval_episodes)
        result["expert_return"] = reference
        result["expert_fraction"] = result["return_mean"] / reference
        return result

    last_eval: dict[str, float] = {}
    with (
        Logger(config.logdir, config) as logger,
        logger.progress(
            config.n_iter, desc="iterations", unit="iteration", disable=not progress
        ) as bar,
    ):
        if evaluate_first:
            # The untrained policy, in an environment of its own seeded like the first
            # evaluation's, with every generator put back afterwards: the training and the
            # later evaluations are exactly those of a run without this one.
            with generators_kept(trainer.rng):
                first_env = make_imitation_env(config, eval_seed)
                last_eval = evaluate_against_expert(Sampler(first_env, seed=eval_seed))
                first_env.close()
            metrics: dict[str, float] = {
                "train/iteration": 0,
                "train/gradient_steps": 0,
                "train/dataset_size": len(trainer.dataset),
            }
            logger.log(metrics | {f"eval/{k}": v for k, v in last_eval.items()}, 0)
            bar.set_postfix(eval_return=f"{last_eval['return_mean']:.1f}")
        while trainer.iteration < config.n_iter:
            metrics = trainer.step()
            if trainer.iteration % config.eval_every == 0 or trainer.iteration == config.n_iter:
                last_eval = evaluate_against_expert(eval_sampler)
                metrics.update({f"eval/{k}": v for k, v in last_eval.items()})
                bar.set_postfix(eval_return=f"{last_eval['return_mean']:.1f}")
            logger.log(metrics, trainer.env_steps)
            bar.update(1)
    trainer.close()
    eval_env.close()
    return last_eval


def parse_args(argv: Sequence[str] | None = None) -> ImitationConfig:
    """The config of a run: the preset of ``--env``, overridden by the other options."""
    argv = sys.argv[1:] if argv is None else argv
    return parse_with_presets(
        ImitationConfig, PRESETS, argv, __doc__ or "", "python -m hw1_imitation.run"
    )


def main(argv: Sequence[str] | None = None) -> None:
    config = parse_args(argv)
    result = train(config)
    expert = (
        f", {100 * result['expert_fraction']:.0f}% of the expert's {result['expert_return']:.1f}"
    )
    print_final(result, config.eval_episodes, config.logdir, expert, " --x train/iteration")


if __name__ == "__main__":
    main()

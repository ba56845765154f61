"""Train a policy-gradient agent: ``python -m hw2_policy_gradient.run --env CartPole-v1 --seed 0``.

The run starts from the environment's tuned preset (``hw2_policy_gradient/config.py``); every
option given here overrides it. It writes ``LOGDIR/progress.csv``, ``LOGDIR/config.json`` and
TensorBoard logs; ``python -m infrastructure.plot LOGDIR`` draws its learning curve.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from hw2_policy_gradient.config import PRESETS, PGConfig
from hw2_policy_gradient.pg import PGAgent
from infrastructure.config import config_from_dict, parse_with_presets
from infrastructure.envs import is_discrete, make_env
from infrastructure.logger import Logger, print_final
from infrastructure.sampler import Sampler, evaluate
from infrastructure.seeding import generators_kept, seed_everything
from infrastructure.torch_utils import set_num_threads, without_distribution_validation

EVAL_SEED_OFFSET = 10_000


def make_pg_env(config: PGConfig, seed: int) -> gym.Env:
    """The training or evaluation environment of a run."""
    env = make_env(config.env, seed, max_episode_steps=config.max_episode_steps)
    if not is_discrete(env.action_space):
        # The Gaussian policy's samples are unbounded: the env sees them clipped to its bounds,
        # while the batch keeps the sampled action, whose log-probability the gradient needs.
        env = gym.wrappers.ClipAction(env)
    return env


class Trainer:
    """One training run, one policy update at a time.

    :func:`train` loops over :meth:`step` and logs; the autograder drives the same object in
    its sandbox and, between updates, evaluates the weights of ``agent.policy`` with this
    class's :meth:`act`, in a copy of its own and in environments of its own.

    Args:
        config: the run's configuration, or a dict of its fields (how the autograder passes it).
    """

    def __init__(self, config: PGConfig | Mapping[str, Any]):
        if not isinstance(config, PGConfig):
            config = config_from_dict(PGConfig, dict(config))
        self.config = config
        seed_everything(config.seed)
        set_num_threads(config.num_threads)
        self.env = make_pg_env(config, config.seed)
        self.agent = PGAgent(
            self.env.observation_space, self.env.action_space, config, torch.device(config.device)
        )
        self.sampler = Sampler(self.env, seed=config.seed)
        self.iteration = 0

    @property
    def total_steps(self) -> int:
        """Environment steps sampled so far."""
        return self.sampler.total_steps

    @without_distribution_validation
    def step(self) -> dict[str, float]:
        """Sample one batch, update the agent on it; the update's metrics."""
        batch = self.sampler.sample_trajectories(self.agent.act, min_steps=self.config.batch_size)
        metrics = self.agent.update(batch)
        self.iteration += 1
        metrics["train/iteration"] = self.iteration
        metrics["train/return_mean"] = float(np.mean(batch.episode_returns))
        metrics["train/episode_length"] = float(np.mean(batch.episode_lengths))
        return metrics

    @without_distribution_validation
    def act(self, observations: np.ndarray) -> np.ndarray:
        """Evaluation actions for a batch of observations: the most likely ones, or sampled
        ones when ``config.eval_deterministic`` is false."""
        if self.config.eval_deterministic:
            return self.agent.act_deterministic(observations)
        return self.agent.act(observations)

    def close(self) -> None:
        self.env.close()


def train(
    config: PGConfig, progress: bool = True, *, evaluate_first: bool = True
) -> dict[str, float]:
    """Train with ``config``; returns the metrics of the last evaluation.

    Evaluations run every ``eval_every`` updates, after the last one and, unless
    ``evaluate_first`` is false, once before any update, so the learning curve starts at step 0.
    """
    trainer = Trainer(config)
    eval_seed = config.seed + EVAL_SEED_OFFSET
    eval_env = make_pg_env(config, eval_seed)
    eval_sampler = Sampler(eval_env, seed=eval_seed)
    last_eval: dict[str, float] = {}
    with (
        Logger(config.logdir, config) as logger,
        logger.progress(config.total_steps, disable=not progress) as bar,
    ):
        if evaluate_first:
            # The untrained policy, in an environment of its own seeded like the first
            # evaluation's, with every generator put back afterwards: the training and the
            # later evaluations are exactly those of a run without this one.
            with generators_kept():
                first_env = make_pg_env(config, eval_seed)
                last_eval = evaluate(
                    Sampler(first_env, seed=eval_seed), trainer.act, config.eval_episodes
                )
                first_env.close()
            logger.log({f"eval/{k}": v for k, v in last_eval.items()}, 0)
            bar.set_postfix(eval_return=f"{last_eval['return_mean']:.1f}")
        while trainer.total_steps < config.total_steps:
            before = trainer.total_steps
            metrics = trainer.step()
            done = trainer.total_steps >= config.total_steps
            if trainer.iteration % config.eval_every == 0 or done:
                last_eval = evaluate(eval_sampler, trainer.act, config.eval_episodes)
                metrics.update({f"eval/{k}": v for k, v in last_eval.items()})
                bar.set_postfix(eval_return=f"{last_eval['return_mean']:.1f}")
            logger.log(metrics, trainer.total_steps)
            bar.update(trainer.total_steps - before)
    trainer.close()
    eval_env.close()
    return last_eval


def parse_args(argv: Sequence[str] | None = None) -> PGConfig:
    """The config of a run: the preset of ``--env``, overridden by the other options."""
    argv = sys.argv[1:] if argv is None else argv
    return parse_with_presets(
        PGConfig, PRESETS, argv, __doc__ or "", "python -m hw2_policy_gradient.run"
    )


def main(argv: Sequence[str] | None = None) -> None:
    config = parse_args(argv)
    result = train(config)
    print_final(result, config.eval_episodes, config.logdir)


if __name__ == "__main__":
    main()

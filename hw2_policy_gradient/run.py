"""Train a policy-gradient agent: ``python -m hw2_policy_gradient.run --env CartPole-v1 --seed 0``.

The run starts from the environment's tuned preset (``hw2_policy_gradient/config.py``); every
option given here overrides it. It writes ``LOGDIR/progress.csv``, ``LOGDIR/config.json`` and
TensorBoard logs; ``python -m infrastructure.plot LOGDIR`` draws its learning curve.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import gymnasium as gym
import numpy as np
import torch

from hw2_policy_gradient.config import PRESETS, PGConfig, preset
from hw2_policy_gradient.pg import PGAgent
from infrastructure.config import parse_config
from infrastructure.envs import is_discrete, make_env
from infrastructure.logger import Logger
from infrastructure.sampler import Sampler, evaluate
from infrastructure.seeding import seed_everything
from infrastructure.torch_utils import set_num_threads

# Sampling a torch distribution validates its arguments by default, which costs more than the
# network itself for one observation at a time.
torch.distributions.Distribution.set_default_validate_args(False)


def make_pg_env(config: PGConfig, seed: int) -> gym.Env:
    """The training or evaluation environment of a run."""
    env = make_env(config.env, seed, max_episode_steps=config.max_episode_steps)
    if not is_discrete(env.action_space):
        # The Gaussian policy's samples are unbounded: the env sees them clipped to its bounds,
        # while the batch keeps the sampled action, whose log-probability the gradient needs.
        env = gym.wrappers.ClipAction(env)
    return env


def train(config: PGConfig, progress: bool = True) -> dict[str, float]:
    """Train with ``config``; returns the metrics of the last evaluation."""
    seed_everything(config.seed)
    set_num_threads(config.num_threads)
    device = torch.device(config.device)
    env = make_pg_env(config, config.seed)
    eval_env = make_pg_env(config, config.seed + 10_000)
    agent = PGAgent(env.observation_space, env.action_space, config, device)
    sampler = Sampler(env, seed=config.seed)
    eval_sampler = Sampler(eval_env, seed=config.seed + 10_000)

    last_eval: dict[str, float] = {}
    iteration = 0
    with (
        Logger(config.logdir, config) as logger,
        logger.progress(config.total_steps, disable=not progress) as bar,
    ):
        while sampler.total_steps < config.total_steps:
            before = sampler.total_steps
            batch = sampler.sample_trajectories(agent.act, min_steps=config.batch_size)
            metrics = agent.update(batch)
            iteration += 1
            metrics["train/iteration"] = iteration
            metrics["train/return_mean"] = float(np.mean(batch.episode_returns))
            metrics["train/episode_length"] = float(np.mean(batch.episode_lengths))
            done = sampler.total_steps >= config.total_steps
            if iteration % config.eval_every == 0 or done:
                policy = agent.act_deterministic if config.eval_deterministic else agent.act
                last_eval = evaluate(eval_sampler, policy, config.eval_episodes)
                metrics.update({f"eval/{k}": v for k, v in last_eval.items()})
                bar.set_postfix(eval_return=f"{last_eval['return_mean']:.1f}")
            logger.log(metrics, sampler.total_steps)
            bar.update(sampler.total_steps - before)
    env.close()
    eval_env.close()
    return last_eval


def parse_args(argv: Sequence[str] | None = None) -> PGConfig:
    """The config of a run: the preset of ``--env``, overridden by the other options."""
    argv = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--env", default=PGConfig.env)
    env = pre.parse_known_args(argv)[0].env
    description = (__doc__ or "") + "\nPresets exist for: " + ", ".join(PRESETS)
    return parse_config(
        PGConfig,
        argv,
        defaults=preset(env),
        description=description,
        prog="python -m hw2_policy_gradient.run",
    )


def main(argv: Sequence[str] | None = None) -> None:
    config = parse_args(argv)
    result = train(config)
    print(
        f"final evaluation: return {result['return_mean']:.1f} ± {result['return_std']:.1f} "
        f"over {config.eval_episodes} episodes"
    )
    print(
        f"logs: {config.logdir}/progress.csv   plot: python -m infrastructure.plot {config.logdir}"
    )


if __name__ == "__main__":
    main()

"""Throughput of hw3's DQN on Atari, and the score of random play to compare a run with.

    python bench/hw3_atari.py [--env ALE/MsPacman-v5] [--threads 1 2] [--steps 2000]

Training speed: the preset of ``--env`` (convolutional Q-network, a gradient step on 32
transitions every 4 environment steps, frames stored once), timed over ``--steps`` environment
steps once learning has started, for each number of PyTorch threads; wall and CPU seconds, and
the hours a million environment steps would take at that speed (evaluations not included).

Random play: the mean score of ``--episodes`` episodes of uniformly random actions in the
evaluation environments of a training run (the same preprocessing, the game's own score).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from hw3_q_learning.config import DQN_PRESETS
from hw3_q_learning.run import EVAL_SEED_OFFSET, DQNTrainer
from infrastructure.sampler import evaluate_side_by_side

WARMUP_STEPS = 1000  # random steps before learning starts, so the buffer can fill a minibatch


def training_speed(env: str, threads: int, steps: int, seed: int) -> tuple[float, float]:
    """Environment steps per second of training, in wall time and in CPU time."""
    config = dataclasses.replace(
        DQN_PRESETS[env], seed=seed, num_threads=threads, learning_starts=WARMUP_STEPS
    )
    trainer = DQNTrainer(config)
    trainer.train_until(WARMUP_STEPS + 4 * config.train_frequency)  # the first updates' set-up
    start_steps = trainer.total_steps
    wall, cpu = time.perf_counter(), time.process_time()
    trainer.train_until(start_steps + steps)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    taken = trainer.total_steps - start_steps
    trainer.close()
    return taken / wall, taken / cpu


def random_play(env: str, episodes: int, seed: int) -> dict[str, float]:
    """Scores of uniformly random play, one episode per evaluation environment."""
    trainer = DQNTrainer(dataclasses.replace(DQN_PRESETS[env], seed=seed))
    first = seed + EVAL_SEED_OFFSET
    envs = [trainer.make_eval_env(first + i) for i in range(episodes)]
    space = envs[0].action_space
    space.seed(seed)
    stats = evaluate_side_by_side(envs, lambda obs: np.array([space.sample() for _ in obs]), first)
    for eval_env in envs:
        eval_env.close()
    trainer.close()
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="ALE/MsPacman-v5", choices=sorted(DQN_PRESETS))
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-random", action="store_true", help="only time training")
    args = parser.parse_args()

    print(f"{args.env}: DQN training, {args.steps} environment steps once learning has started")
    for threads in args.threads:
        wall_sps, cpu_sps = training_speed(args.env, threads, args.steps, args.seed)
        print(
            f"  {threads} thread(s): {wall_sps:6.1f} steps/s wall ({1e6 / wall_sps / 3600:.1f} h "
            f"per 1M steps), {cpu_sps:6.1f} steps per CPU second"
        )
    if not args.skip_random:
        stats = random_play(args.env, args.episodes, args.seed)
        print(
            f"  random play over {args.episodes} episodes: mean {stats['return_mean']:.1f}, "
            f"std {stats['return_std']:.1f}, min {stats['return_min']:.0f}, "
            f"max {stats['return_max']:.0f}"
        )


if __name__ == "__main__":
    main()

"""Sampler throughput as a ratio to stepping the same environment by hand.

Both loops run the same seeded random policy for the same number of steps; the ratio is
sampler steps/s over hand-written-loop steps/s (the goal is >= 0.8). Usage:

    python bench/sampler.py [--steps 50000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np

from infrastructure.envs import make_env
from infrastructure.sampler import Sampler

ENVS = ["CartPole-v1", "InvertedPendulum-v5", "HalfCheetah-v5"]


def random_policy(space: gym.Space) -> Callable[[np.ndarray], np.ndarray]:
    """A uniformly random policy with the sampler's signature: a batch of one observation in,
    a batch of one action out. Both loops call it the same way."""

    def policy(obs: np.ndarray) -> np.ndarray:
        return np.asarray(space.sample())[None]

    return policy


def by_hand(env_id: str, steps: int, seed: int) -> float:
    """Steps per second of the plain Gymnasium loop."""
    env = make_env(env_id, seed)
    obs, _ = env.reset(seed=seed)
    policy = random_policy(env.action_space)
    start = time.perf_counter()
    for _ in range(steps):
        action = policy(obs[None])[0]
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            obs, _ = env.reset()
    return steps / (time.perf_counter() - start)


def with_sampler(env_id: str, steps: int, seed: int) -> float:
    """Steps per second of ``Sampler.sample_steps`` with the same random policy."""
    env = make_env(env_id, seed)
    policy = random_policy(env.action_space)
    sampler = Sampler(env, seed=seed)
    start = time.perf_counter()
    batch = sampler.sample_steps(policy, steps)
    elapsed = time.perf_counter() - start
    return len(batch) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    print(f"{'environment':<22}{'by hand (steps/s)':>19}{'sampler (steps/s)':>19}{'ratio':>8}")
    for env_id in ENVS:
        hand = max(by_hand(env_id, args.steps, s) for s in range(args.repeats))
        ours = max(with_sampler(env_id, args.steps, s) for s in range(args.repeats))
        print(f"{env_id:<22}{hand:>19,.0f}{ours:>19,.0f}{ours / hand:>8.2f}")


if __name__ == "__main__":
    main()

"""Returns on Obstacles-v0 of four hand-written policies: the scale its module docstring gives.

    python bench/hw4_obstacles.py [--episodes 50] [--mpc-episodes 20]
                                  [--num-sequences 1000] [--horizon 10]

Episode ``s`` starts where ``reset(seed=s)`` puts it, for s = 0 .. episodes - 1, and runs to the
goal or to the 100-step time limit of ``hw4_model_based.envs.make_env``:

* "random": uniformly random actions, drawn by the action space (seeded with 0, one stream over
  all episodes).
* "straight at the goal": the action towards the goal, as long as one step allows; it stops
  against the first obstacle in the way.
* "exact-model MPC": random shooting with the true dynamics ``ObstaclesEnv.move`` in place of a
  learned model: at every step, ``--num-sequences`` uniformly random sequences of ``--horizon``
  actions, scored by the sum of their rewards up to the goal; the best one's first action is
  taken. It is the best a learned model's planner can hope for at these settings, over the
  first ``--mpc-episodes`` starts (it is the slow one).
* "hand-made path": one episode from ``GOOD_PATH_START``, heading for each of
  ``GOOD_PATH_WAYPOINTS`` in turn.

The table gives each policy's mean, lowest and highest return, the episodes that reached the
goal, and the mean episode length. All of it is seeded: a rerun prints the same numbers.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import gymnasium as gym
import numpy as np

from hw4_model_based.envs import (
    GOOD_PATH_START,
    GOOD_PATH_WAYPOINTS,
    OBSTACLES_ID,
    ObstaclesEnv,
    make_env,
)

Policy = Callable[[np.ndarray], np.ndarray]
Episode = tuple[float, int, bool]  # return, steps, reached the goal

GOAL = np.array(ObstaclesEnv.GOAL)


def run_episode(env: gym.Env, policy: Policy, seed: int, options: dict | None = None) -> Episode:
    """One episode of ``policy`` from ``reset(seed=seed, options=options)``."""
    observation, _ = env.reset(seed=seed, options=options)
    total, steps = 0.0, 0
    while True:
        observation, reward, terminated, truncated, _ = env.step(policy(observation))
        total += float(reward)
        steps += 1
        if terminated or truncated:
            return total, steps, bool(terminated)


def straight_at_goal(observation: np.ndarray) -> np.ndarray:
    """The action towards the goal, of the length that reaches it if one step can."""
    return np.clip((GOAL - observation) / ObstaclesEnv.STEP_SIZE, -1.0, 1.0)


def waypoint_follower() -> Policy:
    """A policy heading for each of ``GOOD_PATH_WAYPOINTS`` in turn (the last is the goal).

    Each action is the largest step towards the current waypoint, shortened to land on it when
    it is less than a step away; once there, the next waypoint is the target.
    """
    remaining = [np.array(waypoint) for waypoint in GOOD_PATH_WAYPOINTS]

    def policy(observation: np.ndarray) -> np.ndarray:
        while len(remaining) > 1 and np.allclose(observation, remaining[0]):
            remaining.pop(0)
        offset = remaining[0] - observation
        return offset / max(np.abs(offset).max(), ObstaclesEnv.STEP_SIZE)

    return policy


def exact_model_mpc(num_sequences: int, horizon: int, rng: np.random.Generator) -> Policy:
    """Random shooting under the true dynamics: the first action of the best of
    ``num_sequences`` random sequences, each scored by its rewards until it reaches the goal."""

    def policy(observation: np.ndarray) -> np.ndarray:
        actions = rng.uniform(-1.0, 1.0, size=(num_sequences, horizon, 2))
        positions = np.broadcast_to(observation, (num_sequences, 2))
        returns = np.zeros(num_sequences)
        running = np.ones(num_sequences, dtype=bool)  # not yet at the goal
        for t in range(horizon):
            positions, _ = ObstaclesEnv.move(positions, actions[:, t])
            distances = ObstaclesEnv.distance_to_goal(positions)
            returns += np.where(running, -distances, 0.0)
            running &= distances >= ObstaclesEnv.GOAL_RADIUS
        return actions[np.argmax(returns), 0]

    return policy


def print_row(name: str, episodes: list[Episode]) -> None:
    returns = [episode[0] for episode in episodes]
    reached = sum(episode[2] for episode in episodes)
    steps = np.mean([episode[1] for episode in episodes])
    print(
        f"{name:<32}{len(episodes):>9}{np.mean(returns):>8.1f}{min(returns):>8.1f}"
        f"{max(returns):>8.1f}{reached:>9}{steps:>7.1f}"
    )


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--episodes", type=positive_int, default=50)
    parser.add_argument("--mpc-episodes", type=positive_int, default=20)
    parser.add_argument("--num-sequences", type=positive_int, default=1000)
    parser.add_argument("--horizon", type=positive_int, default=10)
    args = parser.parse_args()

    env = make_env(OBSTACLES_ID, seed=0)
    starts = range(args.episodes)

    def random_policy(observation: np.ndarray) -> np.ndarray:
        return env.action_space.sample()

    print(f"{OBSTACLES_ID}, 100-step episodes from reset(seed=s)")
    print(f"{'policy':<32}{'episodes':>9}{'mean':>8}{'min':>8}{'max':>8}{'reached':>9}{'steps':>7}")
    print_row("random", [run_episode(env, random_policy, s) for s in starts])
    print_row("straight at the goal", [run_episode(env, straight_at_goal, s) for s in starts])
    mpc = exact_model_mpc(args.num_sequences, args.horizon, np.random.default_rng(0))
    print_row(
        f"exact-model MPC N={args.num_sequences} H={args.horizon}",
        [run_episode(env, mpc, s) for s in range(args.mpc_episodes)],
    )
    path = run_episode(env, waypoint_follower(), 0, {"start": GOOD_PATH_START})
    print_row("hand-made path", [path])


if __name__ == "__main__":
    main()

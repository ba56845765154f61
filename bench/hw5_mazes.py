"""Returns and coverage of hand-written policies in hw5's mazes: the "Measured" table of
``hw5_offline/envs.py``.

    python bench/hw5_mazes.py [--episodes 100] [--random-episodes 200] [--seeds 0 1 2]
                              [--coverage-steps 1000 10000] [--bins 1 4] [--speed-steps 50000]

For each maze of ``hw5_offline.envs.ENVS``, through ``make_env`` (so with the time limit):

* "start's cell": :func:`~hw5_offline.envs.steps_to_goal` at the start's cell.
* "optimal, no noise": with ``action_noise=0``, the shortest-path policy below from the start,
  its return and steps. "BFS" checks it is optimal: a breadth-first search over the positions a
  noise-free point can reach from the start (each expanded by ``reset(options={"start": ...})``
  and one step per action) gives the fewest steps to the goal region.
* "shortest path, noise": the same policy under the maze's own noise, episode ``s`` from
  ``reset(seed=s)`` for s = 0 .. episodes - 1: mean and standard deviation of the return, and
  the episodes that reached the goal. The policy moves to the neighbouring cell with the fewest
  :func:`~hw5_offline.envs.steps_to_goal` (the first such in action order), and once in a goal
  cell, along the axis on which the goal is farthest.
* "random": uniformly random actions (the action space, seeded with 0, one stream over all
  episodes), ``--random-episodes`` episodes from ``reset(seed=s)``.

Then the random policy's :func:`~hw5_offline.envs.coverage` after each of ``--coverage-steps``
steps, episodes restarting at the start, at each of ``--bins`` bins per cell: for each seed in
``--seeds`` the environment and its action space are seeded with it; the mean over the seeds,
and the lowest and highest. Last, environment steps per second of CPU time through ``make_env``
(its wrappers included) under a fixed sequence of random actions, the one number here that
depends on the machine.
"""

from __future__ import annotations

import argparse
import collections
import time
from collections.abc import Callable, Sequence

import gymnasium as gym
import numpy as np

from hw5_offline.envs import (
    ACTIONS,
    ENVS,
    PointmassEnv,
    cells_of,
    coverage,
    get_maze,
    make_env,
    steps_to_goal,
)

Policy = Callable[[np.ndarray], int]
Episode = tuple[float, int, bool]  # return, steps, reached the goal


def shortest_path_policy(env_id: str) -> Policy:
    """The policy following :func:`steps_to_goal` (see the module docstring)."""
    maze = get_maze(env_id)
    steps = steps_to_goal(maze)
    size = np.array(maze.shape)

    def policy(observation: np.ndarray) -> int:
        cell = cells_of(maze, observation)
        if steps[tuple(cell)] == 0:  # in a goal cell, not yet in the goal region
            offset = np.array(maze.goal) - observation * size
            axis = int(np.argmax(np.abs(offset)))
            towards = offset[axis] > 0
            return (1 if towards else 2) if axis == 0 else (3 if towards else 4)
        best_action, best_steps = 0, steps[tuple(cell)]
        for action in range(1, len(ACTIONS)):
            neighbour = cell + ACTIONS[action].astype(np.int64)
            inside = np.all((neighbour >= 0) & (neighbour < size))
            if inside and steps[tuple(neighbour)] < best_steps:
                best_action, best_steps = action, steps[tuple(neighbour)]
        return best_action

    return policy


def random_policy(env: gym.Env) -> Policy:
    """Uniformly random actions, drawn by ``env``'s action space."""

    def policy(observation: np.ndarray) -> int:
        return int(env.action_space.sample())

    return policy


def run_episode(env: gym.Env, policy: Policy, seed: int) -> Episode:
    """One episode of ``policy`` from ``reset(seed=seed)``."""
    observation, _ = env.reset(seed=seed)
    total, steps = 0.0, 0
    while True:
        observation, reward, terminated, truncated, _ = env.step(policy(observation))
        total += float(reward)
        steps += 1
        if terminated or truncated:
            return total, steps, bool(terminated)


def fewest_noise_free_steps(env_id: str) -> int | None:
    """Breadth-first search over the noise-free positions reachable from the start: the fewest
    steps into the goal region, or None if it cannot be reached.

    Positions are expanded through the public API, ``reset(options={"start": observation})``
    then one step; an observation times the grid's size can be off the position it came from by
    a rounding error, so positions count as seen to 1e-9 cells.
    """
    env = PointmassEnv(env_id, action_noise=0.0)
    size = np.array(env.maze.shape)
    start, _ = env.reset(seed=0)
    depth = {tuple(np.round(start * size, 9)): 0}
    queue = collections.deque([start])
    while queue:
        observation = queue.popleft()
        steps = depth[tuple(np.round(observation * size, 9))] + 1
        for action in range(1, len(ACTIONS)):
            env.reset(options={"start": observation})
            next_observation, _, terminated, _, _ = env.step(action)
            if terminated:
                return steps
            key = tuple(np.round(next_observation * size, 9))
            if key not in depth:
                depth[key] = steps
                queue.append(next_observation)
    return None


def random_positions(env_id: str, seed: int, num_steps: int) -> np.ndarray:
    """The observations of ``num_steps`` uniformly random steps, the episodes restarting at the
    start, resets included; the environment and its action space seeded with ``seed``."""
    env = make_env(env_id, seed=seed)
    observation, _ = env.reset(seed=seed)
    positions = [observation]
    for _ in range(num_steps):
        observation, _, terminated, truncated, _ = env.step(env.action_space.sample())
        positions.append(observation)
        if terminated or truncated:
            observation, _ = env.reset()
            positions.append(observation)
    return np.array(positions)


def steps_per_second(env_id: str, num_steps: int) -> float:
    """Steps per second of this process's CPU time (so that waiting for a core shared with
    other work does not count), under a fixed sequence of random actions."""
    env = make_env(env_id, seed=0)
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(len(ACTIONS), size=num_steps).tolist()
    start = time.process_time()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return num_steps / (time.process_time() - start)


RETURNS_HEADER = (
    "maze",
    "start's cell",
    "optimal, no noise",
    "BFS",
    "shortest path, noise",
    "reached",
    "random",
    "reached",
)
RETURNS_WIDTHS = (20, 14, 19, 5, 22, 9, 10, 9)


def returns_row(env_id: str, episodes: int, random_episodes: int) -> list[str]:
    """The cells of ``env_id``'s row in the table of returns (see the module docstring)."""
    maze = get_maze(env_id)
    start_cell_steps = steps_to_goal(maze)[maze.cell(maze.start)]
    policy = shortest_path_policy(env_id)
    optimal, optimal_steps, _ = run_episode(make_env(env_id, action_noise=0.0), policy, 0)
    env = make_env(env_id, seed=0)
    noisy = [run_episode(env, policy, s) for s in range(episodes)]
    noisy_returns = np.array([episode[0] for episode in noisy])
    env = make_env(env_id, seed=0)
    random = [run_episode(env, random_policy(env), s) for s in range(random_episodes)]
    return [
        env_id,
        f"{start_cell_steps:.0f}",
        f"{optimal:.0f} ({optimal_steps} steps)",
        str(fewest_noise_free_steps(env_id)),
        f"{noisy_returns.mean():.1f} +- {noisy_returns.std():.1f}",
        f"{sum(episode[2] for episode in noisy)}/{episodes}",
        f"{np.mean([episode[0] for episode in random]):.1f}",
        f"{sum(episode[2] for episode in random)}/{random_episodes}",
    ]


def print_row(cells: Sequence[str], widths: Sequence[int]) -> None:
    """One row of a table: the first cell aligned left, the others right."""
    first, *rest = cells
    aligned = (f"{cell:>{width}}" for cell, width in zip(rest, widths[1:], strict=True))
    print(f"{first:<{widths[0]}}" + "".join(aligned))


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
    parser.add_argument("--episodes", type=positive_int, default=100)
    parser.add_argument("--random-episodes", type=positive_int, default=200)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--coverage-steps", type=positive_int, nargs="+", default=[1000, 10000])
    parser.add_argument("--bins", type=positive_int, nargs="+", default=[1, 4])
    parser.add_argument("--speed-steps", type=positive_int, default=50000)
    args = parser.parse_args()

    print_row(RETURNS_HEADER, RETURNS_WIDTHS)
    for env_id in ENVS:
        print_row(returns_row(env_id, args.episodes, args.random_episodes), RETURNS_WIDTHS)

    print(f"\nrandom policy's coverage, mean (lowest to highest) over seeds {args.seeds}")
    widths = (20, 7) + (22,) * len(args.bins)
    print_row(["maze", "steps"] + [f"{k} x {k} bins" for k in args.bins], widths)
    for env_id in ENVS:
        for num_steps in args.coverage_steps:
            runs = [random_positions(env_id, seed, num_steps) for seed in args.seeds]
            row = [env_id, str(num_steps)]
            for k in args.bins:
                values = np.array([coverage(env_id, positions, k) for positions in runs])
                row.append(f"{values.mean():.2f} ({values.min():.2f} to {values.max():.2f})")
            print_row(row, widths)

    print(f"\nsteps per second of CPU time through make_env, {args.speed_steps} random steps")
    for env_id in ENVS:
        print_row([env_id, f"{steps_per_second(env_id, args.speed_steps):.0f}"], (20, 9))


if __name__ == "__main__":
    main()

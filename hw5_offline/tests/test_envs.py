"""Tests of homework 5's mazes (given code): the point mass behaves as the module docstring says,
and the shortest paths, coverage and heatmaps built on the mazes are right."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from hw5_offline.envs import (
    ACTIONS,
    ENVS,
    Maze,
    PointmassEnv,
    cell_centres,
    cells_of,
    coverage,
    get_maze,
    make_env,
    plot_cell_values,
    plot_visitation,
    reachable_cells,
    steps_to_goal,
)

# A maze small enough to solve by hand: the goal is the centre of cell (2, 1); the right-hand
# column is free but walled off, so unreachable.
TINY = Maze(
    name="tiny",
    layout=(
        "...#.",
        ".#.#.",
        "...#.",
    ),
    start=(0.5, 0.5),
    goal=(2.5, 1.5),
    goal_radius=0.5,
    max_episode_steps=20,
)
INF = np.inf
# Steps to the goal, drawn as the maze looks (top row first): around the wall in the middle.
TINY_STEPS_PICTURE = [
    [3, 2, 1, INF, INF],
    [4, INF, 0, INF, INF],
    [3, 2, 1, INF, INF],
]
LIMITS = {"PointmassEasy-v0": 50, "PointmassMedium-v0": 150, "PointmassHard-v0": 100}
STARTS = {
    "PointmassEasy-v0": (0.1, 0.1),
    "PointmassMedium-v0": (0.5 / 6, 0.5 / 6),
    "PointmassHard-v0": (2 / 22, 2 / 22),
}
# The module docstring's table: optimal returns without noise, steps from the start's cell.
OPTIMAL_RETURNS = {"PointmassEasy-v0": -13, "PointmassMedium-v0": -19, "PointmassHard-v0": -33}
START_CELL_STEPS = {"PointmassEasy-v0": 13, "PointmassMedium-v0": 20, "PointmassHard-v0": 33}
FREE_CELLS = {"PointmassEasy-v0": 36, "PointmassMedium-v0": 21, "PointmassHard-v0": 416}
STAY, PLUS_X, MINUS_X, PLUS_Y, MINUS_Y = 0, 1, 2, 3, 4


def _picture_to_cells(picture: list[list[float]]) -> np.ndarray:
    """A grid drawn top row first, as an array indexed [x, y]."""
    return np.array(picture, dtype=np.float64)[::-1].T


def _shortest_path_action(maze: Maze, steps: np.ndarray, obs: np.ndarray) -> int:
    """Towards the neighbouring cell with the fewest steps to go; in a goal cell, straight for
    the goal point (needed from a cell's corner, where the goal region may still be a step off)."""
    cell = cells_of(maze, obs)
    if steps[tuple(cell)] == 0:
        offset = np.array(maze.goal) - obs * maze.shape
        axis = int(np.argmax(np.abs(offset)))
        return [[PLUS_X, MINUS_X], [PLUS_Y, MINUS_Y]][axis][int(offset[axis] < 0)]
    best_action, best_steps = STAY, steps[tuple(cell)]
    for action in range(1, 5):
        neighbour = cell + ACTIONS[action].astype(int)
        inside = np.all((neighbour >= 0) & (neighbour < maze.shape))
        if inside and steps[tuple(neighbour)] < best_steps:
            best_action, best_steps = action, steps[tuple(neighbour)]
    return best_action


def _episode(
    env: gym.Env, policy: Callable[[np.ndarray], int], **reset_kwargs: Any
) -> tuple[np.ndarray, list[float], bool]:
    """Observations (the first included), rewards, and whether the episode terminated."""
    obs, _ = env.reset(**reset_kwargs)
    visited, rewards = [obs], []
    while True:
        obs, reward, terminated, truncated, _ = env.step(policy(obs))
        visited.append(obs)
        rewards.append(float(reward))
        if terminated or truncated:
            return np.array(visited), rewards, terminated


# ---- the environment --------------------------------------------------------------------------


@pytest.mark.parametrize("env_id", ENVS)
def test_registered_mazes_have_the_documented_spaces_start_and_time_limit(env_id):
    env = gym.make(env_id)
    assert env.spec is not None and env.spec.max_episode_steps == LIMITS[env_id]
    assert env.observation_space == gym.spaces.Box(0.0, 1.0, shape=(2,), dtype=np.float64)
    assert env.action_space == gym.spaces.Discrete(5)
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.float64
    np.testing.assert_array_equal(obs, STARTS[env_id])


def test_passes_gymnasiums_env_checker():
    from gymnasium.utils.env_checker import check_env

    check_env(gym.make("PointmassHard-v0").unwrapped, skip_render_check=True)


def test_same_seed_same_episode_other_seed_other_episode():
    actions = np.random.default_rng(0).integers(5, size=60).tolist()

    def episode(env: gym.Env, seed: int) -> np.ndarray:
        visited = [env.reset(seed=seed)[0]]
        visited += [env.step(action)[0] for action in actions]
        return np.array(visited)

    env = make_env("PointmassHard-v0")
    first = episode(env, 3)
    np.testing.assert_array_equal(first, episode(make_env("PointmassHard-v0"), 3))
    np.testing.assert_array_equal(first, episode(env, 3))  # reset(seed=...) reseeds the noise
    assert not np.array_equal(first, episode(env, 4))


@pytest.mark.parametrize("env_id", ENVS)
def test_random_actions_never_enter_a_wall_nor_leave_the_square(env_id):
    maze = get_maze(env_id)
    env = make_env(env_id, seed=0)
    obs, _ = env.reset(seed=0)
    for _ in range(3000):
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        assert np.all((obs >= 0.0) & (obs <= 1.0)), obs
        assert not maze.walls[tuple(cells_of(maze, obs))], obs
        if terminated or truncated:
            obs, _ = env.reset()


def test_even_huge_noise_never_carries_the_point_through_a_wall():
    # Moves of tens of cells: only the walled-off column of TINY would show a jump over a wall.
    env = PointmassEnv(TINY, action_noise=30.0)
    reachable = reachable_cells(TINY)
    obs, _ = env.reset(seed=0)
    for _ in range(2000):
        obs, _, terminated, _, _ = env.step(int(env.np_random.integers(5)))
        assert reachable[tuple(cells_of(TINY, obs))], obs
        if terminated:
            obs, _ = env.reset()


def test_a_noise_free_move_is_one_cell_and_stops_short_of_a_wall_or_the_edge():
    env = PointmassEnv(TINY, action_noise=0.0)
    size = np.array(TINY.shape)  # (5, 3)
    for start, action, end in [
        ((0.5, 0.5), PLUS_X, (1.5, 0.5)),  # into the free cell (1, 0), centre to centre
        ((0.5, 0.5), PLUS_Y, (0.5, 1.5)),
        ((0.5, 0.5), STAY, (0.5, 0.5)),
        ((0.5, 0.5), MINUS_X, (0.0, 0.5)),  # half a cell to the square's edge, which is free
        ((0.5, 1.5), PLUS_X, (0.9, 1.5)),  # the 5th substep would end on the wall cell (1, 1)
        ((2.5, 0.5), PLUS_X, (2.9, 0.5)),  # the wall column x = 3
    ]:
        env.reset(options={"start": np.array(start) / size})
        obs, reward, terminated, truncated, _ = env.step(action)
        np.testing.assert_allclose(obs * size, end, atol=1e-12, err_msg=f"{start}, {action}")
        assert (reward, terminated, truncated) == (-1.0, False, False)


def test_the_step_into_the_goal_earns_zero_and_terminates():
    env = PointmassEnv(TINY, action_noise=0.0)
    size = np.array(TINY.shape)
    env.reset(options={"start": np.array([1.5, 0.5]) / size})
    assert env.step(PLUS_X)[1:4] == (-1.0, False, False)  # to (2, 0): next to the goal
    assert env.step(PLUS_Y)[1:4] == (0.0, True, False)  # to (2, 1): the goal's centre
    with pytest.raises(ValueError, match="outside the goal region of tiny"):
        env.reset(options={"start": np.array([2.6, 1.4]) / size})


@pytest.mark.parametrize("env_id", ENVS)
def test_time_limit_truncates_at_the_documented_step(env_id):
    env = make_env(env_id, action_noise=0.0)
    env.reset(seed=0)
    for step in range(1, LIMITS[env_id] + 1):
        _, reward, terminated, truncated, _ = env.step(STAY)
        assert reward == -1.0 and not terminated
        assert truncated == (step == LIMITS[env_id])


# ---- shortest paths ---------------------------------------------------------------------------


def test_steps_to_goal_on_a_tiny_layout_equal_the_hand_counted_ones():
    np.testing.assert_array_equal(steps_to_goal(TINY), _picture_to_cells(TINY_STEPS_PICTURE))


def test_reachable_cells_of_a_tiny_layout_leave_out_walls_and_the_walled_off_column():
    expected = np.isfinite(_picture_to_cells(TINY_STEPS_PICTURE))
    np.testing.assert_array_equal(reachable_cells(TINY), expected)
    # scale 2: each character becomes 2 x 2 cells, the steps count the finer cells
    tiny2 = Maze("tiny2", TINY.layout, (1.0, 1.0), (5.0, 3.0), 1.0, 20, scale=2)
    assert tiny2.shape == (10, 6)
    np.testing.assert_array_equal(tiny2.walls[::2, ::2], TINY.walls)
    # goal cells (4, 2), (4, 3), (5, 2), (5, 3); the wall takes cells x 2..3, y 2..3
    assert steps_to_goal(tiny2)[0, 0] == 6  # 4 along x, 2 along y, below the wall
    assert steps_to_goal(tiny2)[1, 2] == 5  # 1 down, 3 along x under the wall, 1 up


@pytest.mark.parametrize("env_id", ENVS)
def test_steps_to_goal_are_consistent(env_id):
    maze = get_maze(env_id)
    steps = steps_to_goal(maze)
    free = ~maze.walls
    assert free.sum() == FREE_CELLS[env_id]
    np.testing.assert_array_equal(reachable_cells(maze), free)  # no walled-off cell in these
    assert np.all(np.isfinite(steps[free])) and np.all(np.isinf(steps[~free]))
    np.testing.assert_array_equal(steps == 0, maze.goal_cells)
    assert steps[maze.cell(maze.start)] == START_CELL_STEPS[env_id]
    width, height = maze.shape
    for x, y in zip(*np.nonzero(free), strict=True):
        neighbours = [
            steps[x + dx, y + dy]
            for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))
            if 0 <= x + dx < width and 0 <= y + dy < height and free[x + dx, y + dy]
        ]
        assert all(abs(n - steps[x, y]) <= 1 for n in neighbours), (x, y)
        if steps[x, y] > 0:
            assert min(neighbours) == steps[x, y] - 1, (x, y)


@pytest.mark.parametrize("env_id", ENVS)
def test_following_the_shortest_path_from_any_cell_takes_its_steps_to_goal(env_id):
    # Noise off: each step goes from a cell's centre to the next cell's centre.
    maze = get_maze(env_id)
    steps = steps_to_goal(maze)
    env = make_env(env_id, action_noise=0.0)
    centres = cell_centres(maze)

    def policy(obs: np.ndarray) -> int:
        return _shortest_path_action(maze, steps, obs)

    for x, y in zip(*np.nonzero(np.isfinite(steps) & (steps > 0)), strict=True):
        _, rewards, terminated = _episode(env, policy, options={"start": centres[x, y]})
        assert terminated and len(rewards) == steps[x, y], (x, y)
        assert sum(rewards) == -(steps[x, y] - 1)


@pytest.mark.parametrize("env_id", ENVS)
def test_the_shortest_path_from_the_start_earns_the_documented_optimal_return(env_id):
    maze = get_maze(env_id)
    steps = steps_to_goal(maze)
    env = make_env(env_id, action_noise=0.0)
    _, rewards, terminated = _episode(env, lambda obs: _shortest_path_action(maze, steps, obs))
    assert terminated and sum(rewards) == OPTIMAL_RETURNS[env_id]
    assert rewards[-1] == 0.0 and set(rewards[:-1]) == {-1.0}


# ---- coverage and heatmaps --------------------------------------------------------------------


def test_coverage_of_known_positions():
    positions = np.array(
        [
            [0.05, 0.1],  # cell (0, 0)
            [0.1, 0.2],  # cell (0, 0) again
            [0.5, 0.5],  # cell (2, 1)
            [0.9, 0.5],  # cell (4, 1): walled off, not counted
            [1.0, 1.0],  # the far corner belongs to cell (4, 2): walled off
            [0.0, 1.0],  # cell (0, 2)
        ]
    )
    assert coverage(TINY, positions) == 3 / 8  # of the 8 reachable cells
    # 2 x 2 bins per cell: bins (0, 0), (1, 1), (5, 3) and (0, 5) of 32 reachable ones
    assert coverage(TINY, positions, bins_per_cell=2) == 4 / 32
    assert coverage(TINY, np.zeros((0, 2))) == 0.0
    assert coverage(TINY, positions[None]) == 3 / 8  # any leading dimensions
    hard = get_maze("PointmassHard-v0")
    assert coverage(hard, cell_centres(hard)[~hard.walls]) == 1.0


def test_heatmaps_write_pngs_of_what_they_are_given(tmp_path):
    env_id = "PointmassMedium-v0"
    png = b"\x89PNG\r\n\x1a\n"
    positions = np.random.default_rng(0).uniform(0.0, 1.0, size=(500, 2))
    positions = positions[~get_maze(env_id).walls[tuple(cells_of(env_id, positions).T)]]
    first = plot_visitation(env_id, positions, tmp_path / "figures" / "visits.png", title="a")
    assert first == tmp_path / "figures" / "visits.png"  # its folder made
    assert first.read_bytes()[:8] == png
    # Two piles of 20 in different cells: same title and colour bar, only the picture differs.
    centres = cell_centres(env_id)[~get_maze(env_id).walls]
    here = plot_visitation(env_id, np.repeat(centres[:1], 20, 0), tmp_path / "here.png", title="")
    there = plot_visitation(
        env_id, np.repeat(centres[-1:], 20, 0), tmp_path / "there.png", title=""
    )
    assert here.read_bytes() != there.read_bytes()
    finer = plot_visitation(env_id, positions, tmp_path / "finer.png", bins_per_cell=4)
    assert finer.read_bytes()[:8] == png

    steps = steps_to_goal(env_id)  # infinite on walls: left blank
    drawn = plot_cell_values(env_id, steps, tmp_path / "steps.png", label="steps", title="b")
    assert drawn.read_bytes()[:8] == png
    other = plot_cell_values(env_id, -steps, tmp_path / "minus.png", label="steps", title="b")
    assert other.read_bytes() != drawn.read_bytes()


# ---- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        get_maze,
        steps_to_goal,
        make_env,
        PointmassEnv,
        lambda name: coverage(name, np.zeros((1, 2))),
        lambda name: gym.make("PointmassEasy-v0", maze=name),
    ],
)
def test_an_unknown_maze_is_named_with_the_known_ones(call):
    with pytest.raises(ValueError, match="unknown maze 'PointmassHuge-v0': expected one of Poin"):
        call("PointmassHuge-v0")


@pytest.mark.parametrize(
    ("positions", "message"),
    [
        ([[0.5, 0.5], [0.5, 1.2]], r"got 1 outside it, the first \[0.5, 1.2\]"),
        ([[-0.1, 0.5]], r"expected positions in \[0, 1\]\^2 \(observations of PointmassEasy"),
        ([[np.nan, 0.5]], r"got 1 outside it, the first \[nan, 0.5\]"),
        ([0.5, 0.5, 0.5], r"expected positions of shape \(\.\.\., 2\), got \(3,\)"),
    ],
)
def test_positions_outside_the_square_or_of_the_wrong_shape_are_refused(positions, message):
    positions = np.array(positions)
    for call in (
        lambda: cells_of("PointmassEasy-v0", positions),
        lambda: coverage("PointmassEasy-v0", positions),
        lambda: plot_visitation("PointmassEasy-v0", positions, "unused.png"),
    ):
        with pytest.raises(ValueError, match=message):
            call()


def test_bad_values_actions_starts_and_mazes_are_refused():
    with pytest.raises(ValueError, match=r"expected values of shape \(6, 6\) \(one per cell"):
        plot_cell_values("PointmassMedium-v0", np.zeros((5, 5)), "unused.png")
    env = make_env("PointmassEasy-v0").unwrapped
    env.reset(seed=0)
    for action in (5, -1, 1.5):
        with pytest.raises(ValueError, match=r"expected an action in 0..4 \(stay, \+x"):
            env.step(action)
    with pytest.raises(ValueError, match=r"in a free cell .* got \[0.5, 0.5\] \(cell \(5, 5\)\)"):
        env.reset(options={"start": (0.5, 0.5)})  # a wall
    with pytest.raises(ValueError, match=r"an \(x, y\) in \[0, 1\]\^2, got \[1.5, 0.5\]"):
        env.reset(options={"start": (1.5, 0.5)})
    with pytest.raises(ValueError, match="expected a finite action_noise >= 0, got -0.5"):
        PointmassEnv("PointmassEasy-v0", action_noise=-0.5)
    with pytest.raises(ValueError, match=r"expected layout rows of one non-zero length, got le"):
        Maze("ragged", ("...", ".."), (0.5, 0.5), (1.5, 0.5), 0.5, 10)
    with pytest.raises(ValueError, match=r"expected layout characters '#' and '\.', got \['G'\]"):
        Maze("letters", ("..G",), (0.5, 0.5), (1.5, 0.5), 0.5, 10)
    with pytest.raises(ValueError, match=r"expected the start in a free cell of the 3 x 1 grid"):
        Maze("walled", (".#.",), (1.5, 0.5), (2.5, 0.5), 0.5, 10)
    with pytest.raises(ValueError, match=r"expected a free cell whose centre is within 0.2 of t"):
        Maze("no goal cell", ("...",), (0.5, 0.5), (2.0, 0.5), 0.2, 10)

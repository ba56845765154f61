"""Tests of homework 4's environments (given code): the batched rewards a planner scores imagined
transitions with must be the rewards the environments pay, and ``Obstacles-v0`` must behave as
its docstring says."""

from __future__ import annotations

import functools

import gymnasium as gym
import numpy as np
import pytest
import torch

from hw4_model_based.envs import (
    ENVS,
    GOOD_PATH_START,
    GOOD_PATH_WAYPOINTS,
    ObstaclesEnv,
    make_env,
    plot_paths,
    reward_fn,
    termination_fn,
)

NEAR_GOAL = (0.7, -0.55)  # free space 0.25 above the goal, below the obstacle at x 0.6..0.72


# ---- real transitions ----------------------------------------------------------------------


def _toward_goal(observation: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A noisy step towards the goal of Obstacles-v0, so that some episodes terminate."""
    heading = (np.array(ObstaclesEnv.GOAL) - observation) / ObstaclesEnv.STEP_SIZE
    return np.clip(heading + rng.normal(0.0, 0.5, size=2), -1.0, 1.0).astype(np.float32)


@functools.cache
def _transitions(env_id: str) -> dict[str, np.ndarray]:
    """About 300 transitions of ``env_id`` over several episodes, with random actions (and, on
    Obstacles-v0, episodes started near the goal and heading for it, which terminate)."""
    episodes = {"Obstacles-v0": 8, "Reacher-v5": 6, "HalfCheetah-v5": 3}[env_id]
    env = make_env(env_id, seed=0, max_episode_steps=100 if env_id == "HalfCheetah-v5" else None)
    rng = np.random.default_rng(0)
    steps: dict[str, list] = {k: [] for k in ("obs", "action", "reward", "next_obs", "terminated")}
    for episode in range(episodes):
        near_goal = env_id == "Obstacles-v0" and episode % 2 == 1
        options = {"start": NEAR_GOAL} if near_goal else None
        obs, _ = env.reset(seed=episode, options=options)
        while True:
            action = _toward_goal(obs, rng) if near_goal else env.action_space.sample()
            next_obs, reward, terminated, truncated, _ = env.step(action)
            for key, value in zip(steps, (obs, action, reward, next_obs, terminated), strict=True):
                steps[key].append(value)
            obs = next_obs
            if terminated or truncated:
                break
    return {key: np.array(values) for key, values in steps.items()}


def _tensors(env_id: str, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    data = _transitions(env_id)
    obs, action, next_obs = (data[k] for k in ("obs", "action", "next_obs"))
    return (
        torch.as_tensor(obs, dtype=dtype),
        torch.as_tensor(action, dtype=dtype),
        torch.as_tensor(next_obs, dtype=dtype),
    )


@pytest.mark.parametrize("env_id", ENVS)
def test_reward_fn_equals_the_environments_reward(env_id):
    data = _transitions(env_id)
    assert len(data["reward"]) >= 300
    rewards = reward_fn(env_id)(*_tensors(env_id, torch.float64))
    assert rewards.shape == data["reward"].shape and rewards.dtype == torch.float64
    # The environments add a float32 control cost: equal to float32 rounding.
    np.testing.assert_allclose(rewards.numpy(), data["reward"], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("env_id", ENVS)
def test_reward_fn_in_float32(env_id):
    rewards = reward_fn(env_id)(*_tensors(env_id, torch.float32))
    assert rewards.dtype == torch.float32
    np.testing.assert_allclose(
        rewards.numpy(), _transitions(env_id)["reward"], rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("env_id", ENVS)
def test_reward_and_termination_are_batched_over_leading_dimensions(env_id):
    obs, action, next_obs = _tensors(env_id, torch.float64)
    for fn in (reward_fn(env_id), termination_fn(env_id)):
        flat = fn(obs, action, next_obs)
        # (3, 100, dim): every leading dimension is a batch dimension
        grid = fn(*(t[:300].reshape(3, 100, -1) for t in (obs, action, next_obs)))
        assert grid.shape == (3, 100)
        assert torch.equal(grid.reshape(-1), flat[:300])
        # (2, N, obs_dim) states under one (N, act_dim) set of actions, as for an ensemble of 2
        members = fn(obs.expand(2, *obs.shape), action, next_obs.expand(2, *next_obs.shape))
        assert members.shape == (2, len(obs))
        assert torch.equal(members[0], flat) and torch.equal(members[1], flat)


@pytest.mark.parametrize("env_id", ENVS)
def test_termination_fn_equals_terminated(env_id):
    data = _transitions(env_id)
    terminal = termination_fn(env_id)(*_tensors(env_id, torch.float64))
    assert terminal.dtype == torch.bool
    np.testing.assert_array_equal(terminal.numpy(), data["terminated"])
    if env_id == "Obstacles-v0":  # the transitions do include terminations
        assert 0 < data["terminated"].sum() < len(data["terminated"])


def test_reward_fn_says_which_shape_it_expected():
    obs = torch.zeros(5, 17)  # HalfCheetah's own observation, without the appended velocity
    with pytest.raises(ValueError, match=r"expected obs of shape \(\.\.\., 18\), got \(5, 17\)"):
        reward_fn("HalfCheetah-v5")(obs, torch.zeros(5, 6), obs)
    obs = torch.zeros(5, 2)
    with pytest.raises(ValueError, match="leading dimensions that broadcast"):
        reward_fn("Obstacles-v0")(obs, torch.zeros(4, 2), obs)


@pytest.mark.parametrize("make", [make_env, reward_fn, termination_fn])
def test_an_unknown_environment_is_named_with_the_supported_ones(make):
    with pytest.raises(ValueError, match="unknown environment 'Hopper-v5': hw4 supports Obstacles"):
        make("Hopper-v5")


# ---- HalfCheetah's appended forward velocity ---------------------------------------------


def test_cheetah_observation_ends_with_the_forward_velocity_of_the_step():
    env = make_env("HalfCheetah-v5", seed=0)
    data = env.unwrapped.data  # type: ignore[attr-defined]
    dt = env.unwrapped.dt  # type: ignore[attr-defined]
    assert env.observation_space.shape == (18,)
    obs, _ = env.reset(seed=0)
    assert obs[-1] == data.qvel[0]  # no step yet: the torso's velocity
    for _ in range(20):
        x_before = data.qpos[0]
        obs, *_ = env.step(env.action_space.sample())
        assert obs[-1] == pytest.approx((data.qpos[0] - x_before) / dt, rel=1e-12)
        assert obs[-1] != pytest.approx(data.qvel[0], rel=1e-6)  # not the end-of-step velocity
        np.testing.assert_array_equal(obs[:8], data.qpos[1:])  # no absolute x position


# ---- Obstacles-v0 -------------------------------------------------------------------------


def _in_any_obstacle(points: np.ndarray) -> np.ndarray:
    """Whether each point ``(..., 2)`` lies in a rectangle, edges included, one by one."""
    inside = np.zeros(points.shape[:-1], dtype=bool)
    for x_min, y_min, x_max, y_max in ObstaclesEnv.OBSTACLES:
        x, y = points[..., 0], points[..., 1]
        inside |= (x >= x_min) & (x <= x_max) & (y >= y_min) & (y <= y_max)
    return inside


def test_obstacles_passes_gymnasiums_env_checker():
    from gymnasium.utils.env_checker import check_env

    check_env(gym.make("Obstacles-v0").unwrapped, skip_render_check=True)


def test_obstacles_same_seed_same_episode():
    def episode(seed: int) -> np.ndarray:
        env = make_env("Obstacles-v0", seed=seed)
        obs, _ = env.reset(seed=seed)
        visited = [obs]
        for _ in range(30):
            visited.append(env.step(env.action_space.sample())[0])
        return np.array(visited)

    np.testing.assert_array_equal(episode(3), episode(3))
    assert not np.array_equal(episode(3)[0], episode(4)[0])


def test_obstacles_point_never_enters_an_obstacle_nor_leaves_the_arena():
    env = make_env("Obstacles-v0", seed=0)
    collisions = 0
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        assert not _in_any_obstacle(obs)
        for _ in range(100):
            action = env.action_space.sample()
            next_obs, _, terminated, truncated, info = env.step(action)
            if info["collided"]:
                collisions += 1
                np.testing.assert_array_equal(next_obs, obs)  # stays where it was
            else:
                np.testing.assert_allclose(
                    next_obs, obs + 0.1 * action.astype(np.float64), atol=1e-12
                )
            # the whole segment, not only its end, stays outside every obstacle
            t = np.linspace(0.0, 1.0, 51)[:, None]
            assert not _in_any_obstacle(obs + t * (next_obs - obs)).any()
            assert np.all(np.abs(next_obs) <= 1.0)
            obs = next_obs
            if terminated or truncated:
                break
    assert collisions > 0  # the random walks did run into obstacles or walls


def test_obstacles_a_step_into_an_obstacle_or_a_wall_stays_in_place():
    env = make_env("Obstacles-v0")
    for start, action in [
        ((0.55, -0.3), (1.0, 0.0)),  # into the rectangle x 0.6..0.72, y -0.5..-0.1
        ((0.95, 0.9), (1.0, 0.0)),  # out through the right wall
    ]:
        env.reset(seed=0, options={"start": start})
        obs, reward, *_, info = env.step(np.array(action, dtype=np.float32))
        np.testing.assert_array_equal(obs, start)
        assert info["collided"]
        assert reward == pytest.approx(-np.hypot(start[0] - 0.7, start[1] + 0.8))


def test_obstacles_a_step_cutting_an_obstacles_corner_is_refused():
    # From (0.56, -0.16) to (0.66, -0.06): both ends are free, but the segment passes through
    # (0.6, -0.12), inside the rectangle x 0.6..0.72, y -0.5..-0.1, near its top-left corner.
    start, end = np.array([0.56, -0.16]), np.array([0.66, -0.06])
    assert not _in_any_obstacle(start) and not _in_any_obstacle(end)
    env = make_env("Obstacles-v0")
    env.reset(seed=0, options={"start": start})
    obs, *_, info = env.step(np.array([1.0, 1.0], dtype=np.float32))
    np.testing.assert_array_equal(obs, start)
    assert info["collided"]


def test_obstacles_reaching_the_goal_terminates():
    env = make_env("Obstacles-v0")
    env.reset(seed=0, options={"start": NEAR_GOAL})
    down = np.array([0.0, -1.0], dtype=np.float32)
    # (0.7, -0.65): 0.15 from the goal, not yet within its radius of 0.1
    obs, reward, terminated, truncated, _ = env.step(down)
    np.testing.assert_allclose(obs, [0.7, -0.65])
    assert reward == pytest.approx(-0.15) and not terminated and not truncated
    # (0.7, -0.75): 0.05 from the goal, the episode ends there with that last reward
    obs, reward, terminated, truncated, _ = env.step(down)
    assert reward == pytest.approx(-0.05) and terminated and not truncated


def test_obstacles_time_limit_truncates_after_100_steps():
    env = make_env("Obstacles-v0")
    env.reset(seed=0, options={"start": (0.55, -0.3)})
    push = np.array([1.0, 0.0], dtype=np.float32)  # against an obstacle: never moves
    for step in range(1, 101):
        _, _, terminated, truncated, _ = env.step(push)
        assert not terminated and truncated == (step == 100)


def test_obstacles_hand_made_path_reaches_the_goal_with_the_documented_return():
    env = make_env("Obstacles-v0")
    obs, _ = env.reset(seed=0, options={"start": GOOD_PATH_START})
    waypoints, total, terminated = list(GOOD_PATH_WAYPOINTS), 0.0, False
    for _ in range(100):
        if len(waypoints) > 1 and np.allclose(obs, waypoints[0]):
            waypoints.pop(0)
        offset = np.array(waypoints[0]) - obs  # full speed along the straight line to it
        action = offset / max(np.abs(offset).max(), ObstaclesEnv.STEP_SIZE)
        obs, reward, terminated, _, _ = env.step(action.astype(np.float32))
        total += float(reward)
        if terminated:
            break
    assert terminated
    assert -20.0 < total < -19.5  # -19.8 in the module docstring


def test_obstacles_reset_rejects_a_start_inside_an_obstacle():
    env = make_env("Obstacles-v0")
    with pytest.raises(ValueError, match=r"outside the obstacles, got \[0.0, 0.0\]"):
        env.reset(options={"start": (0.0, 0.0)})


def test_obstacles_step_rejects_an_action_of_the_wrong_shape_or_nan():
    env = make_env("Obstacles-v0").unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"expected an action of shape \(2,\), got shape \(3,\)"):
        env.step(np.zeros(3))
    with pytest.raises(ValueError, match="expected a finite action"):
        env.step(np.array([np.nan, 0.0]))


def test_plot_paths_writes_a_png(tmp_path):
    env = make_env("Obstacles-v0")
    executed = np.array([GOOD_PATH_START, *GOOD_PATH_WAYPOINTS])
    planned = [executed[:3] + 0.05, executed[1:] - 0.05]
    path = plot_paths(env, executed, planned, tmp_path / "plans" / "paths.png", title="plan")
    assert path == tmp_path / "plans" / "paths.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plot_paths(env, executed, None, tmp_path / "executed_only.png")
    assert (tmp_path / "executed_only.png").stat().st_size > 0


def test_plot_paths_says_what_it_expected():
    env = make_env("Obstacles-v0")
    with pytest.raises(ValueError, match=r"expected executed positions of shape \(T, 2\)"):
        plot_paths(env, np.zeros((5, 3)), None, "unused.png")
    with pytest.raises(TypeError, match="expected an Obstacles-v0 environment"):
        plot_paths(make_env("Reacher-v5"), np.zeros((5, 2)), None, "unused.png")

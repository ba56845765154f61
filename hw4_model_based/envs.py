"""Homework 4's environments, and their rewards as batched functions of ``(s, a, s')`` (given code).

A planner scores thousands of imagined action sequences under a learned dynamics model, so it
needs the reward of a transition it never executed: :func:`reward_fn` gives
:math:`r(s_t, a_t, s_{t+1})` in torch, over any leading batch dimensions, equal to what the
environment itself returns on real transitions. :func:`termination_fn` says which imagined
next states are terminal, for MBPO's model rollouts (a truncation is never a property of a
state, so it has no such function).

``Obstacles-v0`` (defined here, pure NumPy)
    A point in the square arena :math:`[-1, 1]^2` moves towards a fixed goal past five
    rectangular obstacles: the role of the "obstacles" environment of Berkeley's CS 285 homework
    4, with its obstacles, goal, step size and time limit.

    * Observation: the position :math:`(x, y)`, float64. The goal never moves, so the position
      alone is Markov, and a constant goal in the observation would only give the model's
      normaliser inputs of zero variance.
    * Action: a direction in :math:`[-1, 1]^2` (clipped to it); the point tries to move by
      ``STEP_SIZE`` (0.1) times the action.
    * Collisions: a move whose segment touches an obstacle (rectangles are closed) or whose end
      leaves the arena is refused, and the point **stays where it was**. The whole segment is
      checked, not only its end as in Berkeley's version, so a diagonal step cannot cut the corner
      of an obstacle.
    * Reward: :math:`r = -\\lVert s_{t+1} - g \\rVert` with :math:`g` = ``GOAL`` = (0.7, -0.8),
      the distance after the move, whatever the action.
    * Termination: ``terminated`` once :math:`\\lVert s_{t+1} - g \\rVert <` ``GOAL_RADIUS``
      (0.1); the last reward is that small distance, and nothing follows. Otherwise the episode
      is truncated after 100 steps.
    * Start: uniform in the upper-left region ``START_LOW``..``START_HIGH`` (outside obstacles),
      drawn by ``reset(seed=...)``; ``reset(options={"start": (x, y)})`` starts at a given point.

    Return scale (``python bench/hw4_obstacles.py``; 100-step episodes, starts drawn by
    ``reset(seed=s)``, s = 0..49): a uniformly random policy gets -165 on average (-230 to -100: it
    wanders near its start, 1 to 2.5 away from the goal); heading straight for the goal gets -107
    and never arrives (it stops against an obstacle); random-shooting MPC with the *exact* dynamics
    (1000 sequences, horizon 10) gets -19 on average (-34 to -9 over s = 0..19, every one reaching
    the goal); the hand-made path through :data:`GOOD_PATH_WAYPOINTS` from :data:`GOOD_PATH_START`
    gets -19.8 in 20 steps. So an eval return of -25 to -20 means going round the obstacles to the
    goal.

``Reacher-v5`` and ``HalfCheetah-v5`` (Gymnasium's)
    Reacher's reward is :math:`-\\lVert \\text{fingertip} - \\text{target} \\rVert - \\lVert a
    \\rVert^2`, with the distance *after* the step; the observation's last two entries are that
    vector (its third, vertical, component is always zero), so the reward is a function of
    ``(a, s')`` as it is.

    HalfCheetah's reward is :math:`\\dot{x} - 0.1 \\lVert a \\rVert^2` where :math:`\\dot{x} =
    (x_{t+1} - x_t) / dt` is the *finite difference* of the torso's position over the step, which
    the default observation cannot give: it leaves out :math:`x` (rightly: a model would see an
    ever-growing input), and its ``qvel[0]`` is the velocity at the end of the step, not the
    mean over it. :class:`ForwardVelocityObservation` appends :math:`\\dot{x}` of the step just
    taken as an 18th entry, so :math:`r = s'_{17} - 0.1 \\lVert a \\rVert^2` exactly. Gymnasium's
    time limit stays 1000 steps; planning runs pass ``max_episode_steps=500``.

In both MuJoCo environments the control cost is of the action as given; MuJoCo clamps it to the
actuators' range only for the physics, so a planner should propose actions inside the action
space.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from gymnasium.utils import RecordConstructorArgs

from infrastructure.envs import make_env as make_base_env

OBSTACLES_ID = "Obstacles-v0"
ENVS: tuple[str, ...] = (OBSTACLES_ID, "Reacher-v5", "HalfCheetah-v5")

RewardFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
TerminationFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

# Gymnasium's v5 defaults (reacher_v5.py: reward_control_weight=1, its docstring's 0.1 is not
# what the code uses; half_cheetah_v5.py: forward_reward_weight=1, ctrl_cost_weight=0.1).
REACHER_CONTROL_WEIGHT = 1.0
CHEETAH_FORWARD_WEIGHT = 1.0
CHEETAH_CONTROL_WEIGHT = 0.1
# HalfCheetah's observation is qpos[1:] (8 entries) then qvel (9): qvel[0] sits at index 8.
_CHEETAH_QVEL_X_INDEX = 8

# A path round the obstacles from (-0.5, 0.75) to the goal: the corners it heads for in turn.
GOOD_PATH_START = (-0.5, 0.75)
GOOD_PATH_WAYPOINTS = ((-0.45, 0.45), (0.15, 0.25), (0.5, -0.6), (0.7, -0.8))


class ObstaclesEnv(gym.Env[np.ndarray, np.ndarray]):
    """A point moving among rectangular obstacles towards a fixed goal: see the module docstring.

    The geometry is in class attributes, which :func:`plot_paths` and the tests read:
    ``OBSTACLES`` holds one row ``(x_min, y_min, x_max, y_max)`` per rectangle.
    """

    ARENA_LOW: ClassVar[float] = -1.0
    ARENA_HIGH: ClassVar[float] = 1.0
    STEP_SIZE: ClassVar[float] = 0.1
    GOAL: ClassVar[tuple[float, float]] = (0.7, -0.8)
    GOAL_RADIUS: ClassVar[float] = 0.1
    START_LOW: ClassVar[tuple[float, float]] = (-0.95, 0.3)
    START_HIGH: ClassVar[tuple[float, float]] = (0.55, 0.95)
    OBSTACLES: ClassVar[np.ndarray] = np.array(
        [
            [-0.4, 0.5, 0.0, 0.8],
            [-0.9, -0.3, -0.7, 0.3],
            [0.6, -0.5, 0.72, -0.1],
            [-0.1, -0.2, 0.05, 0.2],
            [0.1, -0.85, 0.4, -0.7],
        ]
    )
    MAX_EPISODE_STEPS: ClassVar[int] = 100

    metadata = {"render_modes": []}

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(
            self.ARENA_LOW, self.ARENA_HIGH, shape=(2,), dtype=np.float64
        )
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.position = np.zeros(2)

    # ---- geometry, batched over leading dimensions ----------------------------------------

    @classmethod
    def in_obstacle(cls, positions: np.ndarray) -> np.ndarray:
        """Whether each point of ``positions`` ``(..., 2)`` lies in an obstacle (edges included);
        returns ``(...)`` bool."""
        p = np.asarray(positions, dtype=np.float64)[..., None, :]  # (..., 1, 2) against (K, 2)
        inside = (p >= cls.OBSTACLES[:, :2]) & (p <= cls.OBSTACLES[:, 2:])
        return np.any(np.all(inside, axis=-1), axis=-1)

    @classmethod
    def segment_hits_obstacle(cls, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Whether each segment from ``starts`` to ``ends`` (both ``(..., 2)``) touches an
        obstacle; returns ``(...)`` bool.

        Slab test: the segment is ``p + t d`` for ``t`` in [0, 1]; on each axis it is between a
        rectangle's two edges for ``t`` in one interval, and it touches the rectangle when the
        intervals of both axes and [0, 1] overlap.
        """
        p = np.asarray(starts, dtype=np.float64)[..., None, :]  # (..., 1, 2)
        d = np.asarray(ends, dtype=np.float64)[..., None, :] - p
        low, high = cls.OBSTACLES[:, :2], cls.OBSTACLES[:, 2:]  # (K, 2)
        moving = d != 0.0
        safe_d = np.where(moving, d, 1.0)
        t_low, t_high = (low - p) / safe_d, (high - p) / safe_d
        # Along an axis the segment does not move on, it is between the edges always or never.
        between = (p >= low) & (p <= high)
        t_enter = np.where(moving, np.minimum(t_low, t_high), np.where(between, -np.inf, np.inf))
        t_exit = np.where(moving, np.maximum(t_low, t_high), np.where(between, np.inf, -np.inf))
        enter = np.maximum(np.max(t_enter, axis=-1), 0.0)
        leave = np.minimum(np.min(t_exit, axis=-1), 1.0)
        return np.any(enter <= leave, axis=-1)

    @classmethod
    def move(cls, positions: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The true dynamics, batched over leading dimensions.

        Args:
            positions: ``(..., 2)`` points.
            actions: ``(..., 2)`` actions, clipped to [-1, 1].

        Returns:
            next positions ``(..., 2)``, and ``(...)`` bool: whether the move was refused (the
            point then stays where it was).
        """
        positions = np.asarray(positions, dtype=np.float64)
        proposed = positions + cls.STEP_SIZE * np.clip(actions, -1.0, 1.0)
        outside = np.any((proposed < cls.ARENA_LOW) | (proposed > cls.ARENA_HIGH), axis=-1)
        blocked = outside | cls.segment_hits_obstacle(positions, proposed)
        return np.where(blocked[..., None], positions, proposed), blocked

    @classmethod
    def distance_to_goal(cls, positions: np.ndarray) -> np.ndarray:
        """:math:`\\lVert s - g \\rVert` for ``positions`` ``(..., 2)``; returns ``(...)``."""
        return np.linalg.norm(np.asarray(positions, dtype=np.float64) - cls.GOAL, axis=-1)

    # ---- the Gymnasium API ----------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start uniformly in the start region (outside obstacles), or at ``options["start"]``."""
        super().reset(seed=seed)
        if options is not None and "start" in options:
            start = np.asarray(options["start"], dtype=np.float64)
            if start.shape != (2,) or not np.all(np.isfinite(start)):
                raise ValueError(f"expected options['start'] to be a finite (x, y), got {start}")
            in_arena = np.all((start >= self.ARENA_LOW) & (start <= self.ARENA_HIGH))
            if not in_arena or self.in_obstacle(start):
                raise ValueError(
                    f"expected options['start'] inside the arena [{self.ARENA_LOW}, "
                    f"{self.ARENA_HIGH}]^2 and outside the obstacles, got {start.tolist()}"
                )
        else:
            start = self.np_random.uniform(self.START_LOW, self.START_HIGH)
            while self.in_obstacle(start):  # rejection sampling: about one draw in eight is redrawn
                start = self.np_random.uniform(self.START_LOW, self.START_HIGH)
        self.position = start
        return self.position.copy(), {"distance": float(self.distance_to_goal(start))}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Move (or stay, if the move is refused); ``info`` holds ``distance``, the distance to the
        goal after the step, and ``collided``, whether the move was refused."""
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (2,):
            raise ValueError(f"expected an action of shape (2,), got shape {action.shape}")
        if not np.all(np.isfinite(action)):
            raise ValueError(f"expected a finite action, got {action.tolist()}")
        self.position, blocked = self.move(self.position, action)
        distance = float(self.distance_to_goal(self.position))
        terminated = distance < self.GOAL_RADIUS
        info = {"distance": distance, "collided": bool(blocked)}
        # truncated=False: the time limit is the TimeLimit wrapper's, added by gym.make.
        return self.position.copy(), -distance, terminated, False, info


if OBSTACLES_ID not in gym.registry:
    gym.register(
        id=OBSTACLES_ID,
        entry_point=f"{__name__}:ObstaclesEnv",
        max_episode_steps=ObstaclesEnv.MAX_EPISODE_STEPS,
    )


class ForwardVelocityObservation(gym.Wrapper, RecordConstructorArgs):
    """HalfCheetah's observation with the step's forward velocity appended (last entry).

    After a step the new entry is :math:`(x_{t+1} - x_t) / dt`, the very number HalfCheetah's
    forward reward is made of (``info["x_velocity"]``). After ``reset`` there was no step: the
    entry is then the torso's velocity ``qvel[0]``, the nearest thing to it, so that the first
    observation looks like every other to a dynamics model.
    """

    def __init__(self, env: gym.Env) -> None:
        RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        space = env.observation_space
        if not isinstance(space, gym.spaces.Box) or space.shape != (17,):
            raise ValueError(f"expected HalfCheetah's Box observation of shape (17,), got {space}")
        self.observation_space = gym.spaces.Box(
            np.append(space.low, -np.inf), np.append(space.high, np.inf), dtype=np.float64
        )

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        observation, info = self.env.reset(seed=seed, options=options)
        return np.append(observation, observation[_CHEETAH_QVEL_X_INDEX]), info

    def step(self, action: Any) -> tuple[np.ndarray, Any, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        return np.append(observation, info["x_velocity"]), reward, terminated, truncated, info


def _check_env_id(env_id: str) -> None:
    if env_id not in ENVS:
        raise ValueError(f"unknown environment {env_id!r}: hw4 supports {', '.join(ENVS)}")


def make_env(
    env_id: str, seed: int | None = None, *, max_episode_steps: int | None = None
) -> gym.Env:
    """Make one of hw4's environments (:data:`ENVS`) with the observation :func:`reward_fn`
    expects.

    Args:
        env_id: ``Obstacles-v0``, ``Reacher-v5`` or ``HalfCheetah-v5``.
        seed: seeds the action space; pass the same seed to the first ``reset(seed=...)``.
        max_episode_steps: overrides the time limit (100, 50 and 1000 steps by default).
    """
    _check_env_id(env_id)
    env = make_base_env(env_id, seed, max_episode_steps=max_episode_steps)
    if env_id == "HalfCheetah-v5":
        env = ForwardVelocityObservation(env)
    return env


# ---- rewards and terminations in torch ---------------------------------------------------

_DIMS = {OBSTACLES_ID: (2, 2), "Reacher-v5": (10, 2), "HalfCheetah-v5": (18, 6)}


def _batch_shape(
    env_id: str, obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor
) -> torch.Size:
    """The leading shape ``(...)`` of a batch of transitions, after checking their last
    dimensions; leading dimensions broadcast (one action sequence for every ensemble member)."""
    obs_dim, act_dim = _DIMS[env_id]
    for name, tensor, dim in (("obs", obs, obs_dim), ("action", action, act_dim)):
        if tensor.ndim == 0 or tensor.shape[-1] != dim:
            raise ValueError(
                f"{env_id}: expected {name} of shape (..., {dim}), got {tuple(tensor.shape)}"
            )
    if next_obs.shape[-1:] != obs.shape[-1:]:
        raise ValueError(
            f"{env_id}: expected next_obs of shape (..., {obs_dim}), got {tuple(next_obs.shape)}"
        )
    try:
        return torch.broadcast_shapes(obs.shape[:-1], action.shape[:-1], next_obs.shape[:-1])
    except RuntimeError:
        raise ValueError(
            f"{env_id}: expected leading dimensions that broadcast, got obs "
            f"{tuple(obs.shape)}, action {tuple(action.shape)}, next_obs {tuple(next_obs.shape)}"
        ) from None


def _obstacles_reward(
    obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor
) -> torch.Tensor:
    shape = _batch_shape(OBSTACLES_ID, obs, action, next_obs)
    goal = torch.tensor(ObstaclesEnv.GOAL, dtype=next_obs.dtype, device=next_obs.device)
    return -torch.linalg.vector_norm(next_obs - goal, dim=-1).expand(shape)


def _obstacles_termination(
    obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor
) -> torch.Tensor:
    shape = _batch_shape(OBSTACLES_ID, obs, action, next_obs)
    goal = torch.tensor(ObstaclesEnv.GOAL, dtype=next_obs.dtype, device=next_obs.device)
    distance = torch.linalg.vector_norm(next_obs - goal, dim=-1)
    return (distance < ObstaclesEnv.GOAL_RADIUS).expand(shape)


def _reacher_reward(
    obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor
) -> torch.Tensor:
    _batch_shape("Reacher-v5", obs, action, next_obs)
    # next_obs[..., 8:10]: fingertip minus target after the step
    distance = torch.linalg.vector_norm(next_obs[..., 8:10], dim=-1)
    return -distance - REACHER_CONTROL_WEIGHT * action.square().sum(-1)


def _cheetah_reward(
    obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor
) -> torch.Tensor:
    _batch_shape("HalfCheetah-v5", obs, action, next_obs)
    # next_obs[..., -1]: (x_{t+1} - x_t) / dt, appended by ForwardVelocityObservation
    forward_reward = CHEETAH_FORWARD_WEIGHT * next_obs[..., -1]
    return forward_reward - CHEETAH_CONTROL_WEIGHT * action.square().sum(-1)


def _never_terminates(env_id: str) -> TerminationFn:
    def termination(
        obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor
    ) -> torch.Tensor:
        shape = _batch_shape(env_id, obs, action, next_obs)
        return torch.zeros(shape, dtype=torch.bool, device=next_obs.device)

    return termination


def reward_fn(env_id: str) -> RewardFn:
    """The reward :math:`r(s_t, a_t, s_{t+1})` of ``env_id`` as a batched torch function.

    The function takes ``obs`` ``(..., obs_dim)``, ``action`` ``(..., act_dim)`` and
    ``next_obs`` ``(..., obs_dim)`` whose leading dimensions broadcast (for instance
    ``(E, N, obs_dim)`` states under one ``(N, act_dim)`` set of actions) and returns the rewards
    ``(...)``, in float32 or float64 as its inputs are, on their device. On real transitions it
    equals the environment's own reward (to float32 rounding).
    """
    _check_env_id(env_id)
    rewards: dict[str, RewardFn] = {
        OBSTACLES_ID: _obstacles_reward,
        "Reacher-v5": _reacher_reward,
        "HalfCheetah-v5": _cheetah_reward,
    }
    return rewards[env_id]


def termination_fn(env_id: str) -> TerminationFn:
    """Whether each ``next_obs`` is a terminal state of ``env_id``'s MDP (``terminated``, never
    ``truncated``), as a batched torch function returning ``(...)`` bool.

    Same arguments as :func:`reward_fn`'s. Only ``Obstacles-v0`` terminates (at the goal);
    Reacher and HalfCheetah never do, so their function is all False.
    """
    _check_env_id(env_id)
    if env_id == OBSTACLES_ID:
        return _obstacles_termination
    return _never_terminates(env_id)


# ---- the picture -------------------------------------------------------------------------


def plot_paths(
    env: gym.Env,
    executed: np.ndarray,
    planned: Sequence[np.ndarray] | None,
    path: str | Path,
    *,
    title: str | None = None,
) -> Path:
    """Draw an ``Obstacles-v0`` episode to a PNG: arena, obstacles, goal, the executed path and,
    optionally, paths a planner predicted. Returns the file's path.

    Args:
        env: an ``Obstacles-v0`` environment (wrapped or not).
        executed: ``(T, 2)`` positions visited, the start first.
        planned: ``(H, 2)`` arrays of predicted positions (start each with the position it was
            planned from to draw it from there), or None.
        path: the PNG to write; its folder is made if missing.
        title: the picture's title.
    """
    # Matplotlib's object API without pyplot: no global backend or figure state is touched.
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle, Rectangle

    if not isinstance(env.unwrapped, ObstaclesEnv):
        raise TypeError(f"expected an {OBSTACLES_ID} environment, got {env.unwrapped}")
    executed = np.asarray(executed, dtype=np.float64)
    if executed.ndim != 2 or executed.shape[1] != 2 or len(executed) == 0:
        raise ValueError(f"expected executed positions of shape (T, 2), got {executed.shape}")
    planned_paths = [np.asarray(p, dtype=np.float64) for p in planned or ()]
    for plan in planned_paths:
        if plan.ndim != 2 or plan.shape[1] != 2:
            raise ValueError(f"expected planned paths of shape (H, 2), got {plan.shape}")

    figure = Figure(figsize=(5, 5))
    ax = figure.subplots()
    low, high = ObstaclesEnv.ARENA_LOW, ObstaclesEnv.ARENA_HIGH
    ax.add_patch(Rectangle((low, low), high - low, high - low, fill=False, color="black"))
    for x_min, y_min, x_max, y_max in ObstaclesEnv.OBSTACLES:
        ax.add_patch(Rectangle((x_min, y_min), x_max - x_min, y_max - y_min, color="0.6"))
    ax.add_patch(Circle(ObstaclesEnv.GOAL, ObstaclesEnv.GOAL_RADIUS, color="tab:green", alpha=0.4))
    for i, plan in enumerate(planned_paths):
        label = "planned" if i == 0 else None
        ax.plot(plan[:, 0], plan[:, 1], color="tab:orange", alpha=0.5, lw=0.8, label=label)
    ax.plot(executed[:, 0], executed[:, 1], ".-", color="tab:blue", lw=1.5, label="executed")
    ax.plot(*executed[0], "o", color="black", label="start")
    ax.plot(*ObstaclesEnv.GOAL, "*", color="tab:green", markersize=12, label="goal")
    margin = 0.05
    ax.set_xlim(low - margin, high + margin)
    ax.set_ylim(low - margin, high + margin)
    ax.set_aspect("equal")
    ax.legend(loc="lower left", fontsize="small")
    if title is not None:
        ax.set_title(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path

"""Fixtures shared by the tests.

The sampler and replay-buffer tests run on :class:`CounterEnv`, an environment small enough
that every batch it produces can be written down by hand. The release tests share
:func:`released`: each homework's student tree is released once per test run.

``make test`` runs the tests on pytest-xdist's workers, one per core (``-n auto --dist
loadgroup``): most tests keep at most one core busy (small networks on one thread, a grader
and its sandbox taking turns, a fresh environment installing), so the workers run them side by
side. :class:`ModuleScheduling` keeps each module's tests on one worker, so that its
module-scoped fixtures (a grading, an audit) are set up once, and the tests of one
``xdist_group`` together, whichever modules they are in; each worker computes on one thread
(:func:`pytest_configure`).

The tests read the hidden suites through :func:`suite_checks`, :func:`fast_suite_checks`,
:func:`learning_tasks` and :func:`suite_package` only, and change their learning tasks through
:func:`set_learning_tasks` (``from conftest import ...``), so that how a suite is written can
change in one place.
"""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from xdist.scheduler import LoadGroupScheduling

from autograder import learning
from autograder.checks import Check, fast_checks
from autograder.grade import suite_of
from autograder.learning import LearningTask
from autograder.release import release_student

COUNTER_ENV_ID = "RlhwTestCounter-v0"


class CounterEnv(gym.Env):
    """Observation ``[t]`` (float32, shape ``(1,)``): the number of steps taken in this episode.

    Each step moves ``t`` to ``t + 1`` and pays reward ``t + 1``, so an episode of ``L`` steps
    returns ``L (L + 1) / 2``. Action 1 ends the episode (``terminated``), and so does
    reaching ``t == terminate_at``. The env never truncates by itself: time limits come from
    ``gymnasium.wrappers.TimeLimit`` (or ``max_episode_steps``).
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, terminate_at: int = 10**6):
        self.observation_space = gym.spaces.Box(0.0, 1e7, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.terminate_at = terminate_at
        self._t = 0

    def _obs(self) -> np.ndarray:
        return np.array([self._t], dtype=np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._t = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._t += 1
        terminated = int(action) == 1 or self._t >= self.terminate_at
        return self._obs(), float(self._t), terminated, False, {}


def suite_checks(hw: str) -> list[Check]:
    """Every check of homework ``hw``'s hidden suite, in grading order: the fast ones, then
    the learning-curve ones."""
    return list(suite_of(hw).all_checks)


def fast_suite_checks(hw: str) -> list[Check]:
    """The checks of ``hw``'s suite that ``--fast`` grades: all but the learning-curve ones."""
    return fast_checks(suite_checks(hw))


def learning_tasks(hw: str) -> list[LearningTask]:
    """The runs of ``hw``'s learning-curve checks, which ``rlhw calibrate hw`` calibrates."""
    return list(suite_of(hw).tasks)


def set_learning_tasks(
    monkeypatch: pytest.MonkeyPatch, hw: str, tasks: Sequence[LearningTask]
) -> None:
    """For one test, the engine sees ``tasks`` as ``hw``'s learning tasks (as calibration and
    the stale-calibration check read them); the other homeworks keep theirs."""
    read = learning.learning_tasks
    monkeypatch.setattr(
        learning, "learning_tasks", lambda name: list(tasks) if name == hw else read(name)
    )


def suite_package(hw: str) -> str:
    """The student's package that ``hw``'s suite grades, e.g. ``hw2_policy_gradient``."""
    return suite_of(hw).package


if COUNTER_ENV_ID not in gym.registry:
    gym.register(id=COUNTER_ENV_ID, entry_point=CounterEnv)


def make_stop_policy(*lengths: Sequence[int]) -> Callable[[np.ndarray], np.ndarray]:
    """A policy for ``CounterEnv`` that wants the episodes of sub-environment ``i`` to last
    ``lengths[i][0]``, then ``lengths[i][1]``, ... steps (cycling). It plays action 1 (stop)
    on the step that reaches the wanted length and 0 otherwise; an episode cut earlier by a
    time limit still moves it on to the next length (a new episode starts at ``t == 0``).
    """
    episode = [-1] * len(lengths)

    def policy(obs: np.ndarray) -> np.ndarray:
        assert obs.shape == (len(lengths), 1), obs.shape
        actions = np.zeros(len(lengths), dtype=np.int64)
        for i, schedule in enumerate(lengths):
            t = int(obs[i, 0])
            if t == 0:
                episode[i] += 1
            if t + 1 >= schedule[episode[i] % len(schedule)]:
                actions[i] = 1
        return actions

    return policy


def always(action: int) -> Callable[[np.ndarray], np.ndarray]:
    """A policy that plays ``action`` in every sub-environment."""
    return lambda obs: np.full(len(obs), action, dtype=np.int64)


@pytest.fixture
def counter_env_id() -> str:
    """The Gymnasium id of :class:`CounterEnv` (registered once, for the tests only)."""
    return COUNTER_ENV_ID


@pytest.fixture
def counter_env() -> Callable[..., gym.Env]:
    """``counter_env(terminate_at=..., max_episode_steps=...)`` builds a bare ``CounterEnv``,
    wrapped in a ``TimeLimit`` when ``max_episode_steps`` is given."""

    def make(terminate_at: int = 10**6, max_episode_steps: int | None = None) -> gym.Env:
        env: gym.Env = CounterEnv(terminate_at)
        if max_episode_steps is not None:
            env = gym.wrappers.TimeLimit(env, max_episode_steps)
        return env

    return make


@pytest.fixture
def stop_policy() -> Callable[..., Callable[[np.ndarray], np.ndarray]]:
    """:func:`make_stop_policy`, as a fixture."""
    return make_stop_policy


@pytest.fixture
def constant_policy() -> Callable[[int], Callable[[np.ndarray], np.ndarray]]:
    """:func:`always`, as a fixture."""
    return always


@pytest.fixture()
def calibration_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty calibration folder that :mod:`autograder.learning` reads and writes instead of
    ``autograder/calibration/`` for the test."""
    folder = tmp_path / "calibration"
    folder.mkdir()
    monkeypatch.setattr(learning, "CALIBRATION_DIR", folder)
    return folder


@pytest.fixture(scope="session")
def released(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Path]:
    """``released("hw2")``: the student tree of a homework as ``rlhw release`` writes it,
    ``DIST/hw2/student``, in a folder of its own for the caller to change at will.

    Each homework is released once per test run (hw2's release takes seconds: nbgrader, the
    stale-calibration check, the leak check), by the first xdist worker that asks for it: the
    others wait on its lock and copy its tree. Each call gets a copy of its whole ``DIST/hw2``
    folder, so that what the release left next to the tree shows too.
    """
    # a worker's temporary folder is popen-gwN in the run's own, which all its workers share
    shared = tmp_path_factory.getbasetemp()
    if hasattr(request.config, "workerinput"):
        shared = shared.parent

    def release(hw: str) -> Path:
        out = shared / f"release-{hw}"
        with open(shared / f"release-{hw}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            trees = sorted(out.glob("*/student"))
            tree = trees[0] if trees else release_student(hw, out)
        copy = tmp_path_factory.mktemp("dist") / tree.parent.name
        shutil.copytree(tree.parent, copy, symlinks=True)
        return copy / tree.name

    return release


# --------------------------------------------------------------------- pytest-xdist's workers


class ModuleScheduling(LoadGroupScheduling):
    """xdist's ``loadgroup`` with each module as a group of its own: a test marked
    ``xdist_group(name)`` goes with the others of that name, any other test with its module's."""

    def _split_scope(self, nodeid: str) -> str:
        group = super()._split_scope(nodeid)
        return group if group != nodeid else nodeid.split("::", 1)[0]


@pytest.hookimpl(optionalhook=True)  # xdist's hook: none without xdist (-p no:xdist)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> ModuleScheduling | None:
    """``--dist loadgroup`` schedules by :class:`ModuleScheduling`; other modes as xdist does."""
    return ModuleScheduling(config, log) if config.getvalue("dist") == "loadgroup" else None


def pytest_configure(config: pytest.Config) -> None:
    """An xdist worker computes on one thread: the workers already keep every core busy, and
    PyTorch's default of a thread per core in each would have them contend for the cores."""
    if hasattr(config, "workerinput"):
        torch.set_num_threads(1)

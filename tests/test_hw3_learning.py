"""The hw3 reference passes the hidden suite's learning-curve checks against the calibrated
bands (DQN on CartPole, SAC on InvertedPendulum), and its plain preset commands reach the
handout's targets.

``make test`` checks that the calibration file is up to date with the suite (and
``tests/test_learning.py`` grades the reference through the engine's path for hw3 on a tiny
budget); the checks themselves (DQN about 30 s, SAC about 80 s) and the presets' targets (DQN on
CartPole, SAC on InvertedPendulum, double DQN on LunarLander: about 8 minutes a seed) are
``slow`` (``make test-slow``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from conftest import learning_tasks, suite_checks, suite_package

from autograder.grade import run_checks
from autograder.learning import load_calibration
from autograder.mutants import copy_homework
from hw3_q_learning.config import DQN_PRESETS, DQN_TARGETS, SAC_PRESETS, SAC_TARGETS
from hw3_q_learning.run import train

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_the_calibration_file_matches_the_suite():
    """Grading reads autograder/calibration/hw3.json; a changed preset or milestone makes it
    stale, and `rlhw calibrate hw3` must be run again."""
    for task in learning_tasks("hw3"):
        entry = load_calibration("hw3", task)
        assert entry["milestones"] == list(task.milestones)
        assert len(entry["thresholds"]) == len(task.milestones)
        assert all(t > entry["random_return"] for t in entry["thresholds"])


def test_the_learning_tasks_train_to_each_milestone_in_one_call():
    for task in learning_tasks("hw3"):
        assert task.train_until == "train_until"
        assert task.config["total_steps"] == task.milestones[-1]


def grade_learning(tmp_path: Path, env: str, seed: int) -> tuple[float, float, str]:
    (check,) = [c for c in suite_checks("hw3") if c.name == f"learning curve: {env}"]
    root = copy_homework(REPO_ROOT, suite_package("hw3"), tmp_path / "reference")
    (result,) = run_checks(root, [check], seed)
    return result.score, check.points, result.output


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env", "seed"),
    [
        ("CartPole-v1", 0),
        ("CartPole-v1", 1),
        ("InvertedPendulum-v5", 0),
        ("InvertedPendulum-v5", 1),
    ],
)
def test_the_reference_passes_the_learning_checks(tmp_path, env, seed):
    score, points, feedback = grade_learning(tmp_path, env, seed)
    assert score == points, feedback


# ------------------------------------------------------------------------------- the targets

TARGETS = [  # (algorithm presets, environment, target of the last evaluation)
    (DQN_PRESETS, "CartPole-v1", DQN_TARGETS["CartPole-v1"].return_mean),
    (SAC_PRESETS, "InvertedPendulum-v5", SAC_TARGETS["InvertedPendulum-v5"].return_mean),
    (DQN_PRESETS, "LunarLander-v3", DQN_TARGETS["LunarLander-v3"].return_mean),
]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("presets", "env", "target"), TARGETS, ids=[t[1] for t in TARGETS])
def test_the_preset_reaches_the_handouts_target(tmp_path, presets, env, target, seed):
    config = dataclasses.replace(presets[env], seed=seed, logdir=str(tmp_path))
    assert train(config, progress=False)["return_mean"] >= target

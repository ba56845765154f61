"""The hw1 reference passes the hidden suite's learning-curve checks against the calibrated
bands (behaviour cloning on HalfCheetah-v5, DAgger on Hopper-v5), and the calibration follows
the experts.

``make test`` checks that the calibration file is up to date with the suite and with the
experts it was made with; grading the learning checks (about a minute each) is ``slow``
(``make test-slow``). After new experts, recalibrate with the command the file records::

    python -m autograder.cli calibrate hw1 --seeds 0 1 2 3 4 5 6 7
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from conftest import learning_tasks, suite_checks, suite_package

from autograder import learning
from autograder.grade import run_checks, suite_sandbox_options
from autograder.learning import LearningTask, load_calibration
from autograder.mutants import copy_homework
from hw1_imitation.expert import expert_path

REPO_ROOT = Path(__file__).resolve().parents[1]
needs_experts = pytest.mark.skipif(
    not all(expert_path(task.env).is_file() for task in learning_tasks("hw1")),
    reason="the learning checks' experts are not in hw1_imitation/experts yet",
)


@needs_experts
def test_the_calibration_file_matches_the_suite_and_the_experts():
    """Grading reads autograder/calibration/hw1.json; a changed preset, milestone, expert or
    set of demonstrations makes it stale, and `rlhw calibrate hw1` must be run again."""
    for task in learning_tasks("hw1"):
        entry = load_calibration("hw1", task)
        assert entry["milestones"] == list(task.milestones)
        assert len(entry["thresholds"]) == len(task.milestones)
        assert all(t > entry["random_return"] for t in entry["thresholds"])
        assert len(entry["seeds"]) >= 6


def test_the_learning_tasks_train_from_the_graders_experts():
    for task in learning_tasks("hw1"):
        assert task.config["expert_dir"] is None  # the package's own: the grader's copy
        assert task.data == (
            f"hw1_imitation/experts/{task.env}.npz",
            f"hw1_imitation/experts/{task.env}_demos.npz",
        )
    assert [task.config["dagger"] for task in learning_tasks("hw1")] == [False, True]


def test_a_tasks_fingerprint_changes_with_its_data_files(tmp_path, monkeypatch):
    monkeypatch.setattr(learning, "PROJECT_ROOT", tmp_path)
    (tmp_path / "expert.npz").write_bytes(b"one expert")
    task = LearningTask("t", "m", "Trainer", {"a": 1}, "Hopper-v5", (10,), data=("expert.npz",))
    before = task.fingerprint()
    assert task.fingerprint() == before
    (tmp_path / "expert.npz").write_bytes(b"another expert")
    assert task.fingerprint() != before
    (tmp_path / "expert.npz").unlink()
    assert task.fingerprint() not in (before, "")
    # a task without data files keeps the digest it had before the field existed
    plain = dataclasses.replace(task, data=())
    assert plain.fingerprint() == dataclasses.replace(plain, train_until=None).fingerprint()


def grade_learning(tmp_path: Path, name: str, seed: int) -> tuple[float, float, str]:
    (check,) = [c for c in suite_checks("hw1") if c.name == f"learning curve: {name}"]
    root = copy_homework(REPO_ROOT, suite_package("hw1"), tmp_path / "reference")
    options = suite_sandbox_options("hw1")
    (result,) = run_checks(root, [check], seed, sandbox_options=options)
    return result.score, check.points, result.output


@needs_experts
@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", [task.name for task in learning_tasks("hw1")])
def test_the_reference_passes_the_learning_checks(tmp_path, name, seed):
    score, points, feedback = grade_learning(tmp_path, name, seed)
    assert score == points, feedback

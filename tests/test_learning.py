"""Learning-curve checks (:mod:`autograder.learning`): the worker keeps a trainer between calls,
the grader evaluates in its own environments and validates every action, calibration follows
its rule, and the check gives credit by milestones met, failing cleanly on a broken trainer.

The end-to-end cases train hw2's reference on CartPole for a few thousand steps only.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from autograder import cli, learning
from autograder.grade import run_checks
from autograder.learning import LearningTask, check_actions, evaluate
from autograder.mutants import copy_homework
from autograder.release import strip_solutions
from autograder.sandbox import Attr, Failure, Method, Sandbox, Success
from hw2_policy_gradient.config import PRESETS

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "hw2_policy_gradient"
RUN = f"{PACKAGE}.run"


def tiny_task(milestones: tuple[int, ...] = (1000, 2000), episodes: int = 3) -> LearningTask:
    config = {
        **dataclasses.asdict(PRESETS["CartPole-v1"]),
        "batch_size": 500,
        "total_steps": milestones[-1],
    }
    return LearningTask(
        "CartPole-tiny", RUN, "Trainer", config, "CartPole-v1", milestones, episodes=episodes
    )


def write_calibration(folder: Path, task: LearningTask, thresholds: list[float]) -> None:
    entry = {
        "fingerprint": task.fingerprint(),
        "milestones": list(task.milestones),
        "seeds": [0],
        "returns": [[100.0] for _ in task.milestones],
        "random_return": 20.0,
        "thresholds": thresholds,
    }
    (folder / "hwtest.json").write_text(json.dumps({"tasks": {task.name: entry}}))


@pytest.fixture()
def calibration_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "calibration"
    folder.mkdir()
    monkeypatch.setattr(learning, "CALIBRATION_DIR", folder)
    return folder


def reference_root(tmp_path: Path) -> Path:
    return copy_homework(REPO_ROOT, PACKAGE, tmp_path / "reference")


def starter_root(tmp_path: Path) -> Path:
    root = copy_homework(REPO_ROOT, PACKAGE, tmp_path / "starter")
    for path in (root / PACKAGE).glob("*.py"):
        path.write_text(strip_solutions(path.read_text(), path.name))
    return root


def grade(
    root: Path, task: LearningTask, seed: int = 0, timeout_s: float = 120
) -> tuple[float, str]:
    check = learning.learning_check_of("hwtest", task, points=10, timeout_s=timeout_s)
    (result,) = run_checks(root, [check], seed)
    return result.score, result.output


# ------------------------------------------------------------------------------- the worker


def test_the_worker_keeps_a_trainer_between_calls(tmp_path: Path) -> None:
    config = {**tiny_task().config, "seed": 3}
    with Sandbox(reference_root(tmp_path)) as sandbox:
        built = sandbox.call_method(RUN, "Trainer", (config,), keep="trainer")
        assert isinstance(built, Success) and built.value is None
        assert sandbox.on("trainer", [Attr("total_steps")]).value == 0  # type: ignore[union-attr]
        metrics = sandbox.on("trainer", [Method("step")])
        assert isinstance(metrics, Success) and metrics.value["train/iteration"] == 1
        steps = sandbox.on("trainer", [Attr("total_steps")])
        assert isinstance(steps, Success) and steps.value >= 500
        actions = sandbox.on("trainer", [Method("act", (np.zeros((4, 4), np.float32),))])
        assert isinstance(actions, Success) and actions.value.shape == (4,)
        sandbox.restart()
        lost = sandbox.on("trainer", [Attr("total_steps")])
        assert isinstance(lost, Failure) and lost.kind == "missing"
        assert "restarted" in lost.message


# ------------------------------------------------------------------------------- evaluation


def test_actions_are_validated_before_any_env_sees_them() -> None:
    discrete = gym.spaces.Discrete(2)
    good, why = check_actions(np.array([0, 1, 1]), discrete, 3)
    assert good is not None and why == ""
    cases = [
        (np.array([0, 1]), "shape (2,)"),
        (np.array([0.0, 1.0, 1.0]), "integer"),
        (np.array([0, 1, 2]), "outside"),
        ([0, 1, 1], "list"),
    ]
    for actions, expected in cases:
        got, why = check_actions(actions, discrete, 3)
        assert got is None and expected in why, why
    box = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    clipped, _ = check_actions(np.array([[3.0, -0.5]]), box, 1)
    assert clipped is not None and clipped.tolist() == [[1.0, -0.5]]
    got, why = check_actions(np.array([[np.nan, 0.0]]), box, 1)
    assert got is None and "non-finite" in why


def test_evaluate_runs_each_episode_to_its_end() -> None:
    task = tiny_task(episodes=4)
    calls = []

    def push_left(observations: np.ndarray) -> tuple[Any, str]:
        calls.append(len(observations))
        return np.zeros(len(observations), dtype=np.int64), ""

    returns, why = evaluate(task, push_left, seed=5)
    assert returns is not None and why == ""
    # the same episodes, played one at a time in a plain loop
    expected = []
    for i in range(4):
        env = gym.make("CartPole-v1")
        env.reset(seed=5 + i)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(0)
            total += float(reward)
            done = terminated or truncated
        expected.append(total)
    assert returns.tolist() == expected
    # one call per step, for the episodes still running
    assert calls == [sum(length > t for length in expected) for t in range(int(max(expected)))]


def test_evaluate_stops_at_the_first_bad_answer() -> None:
    def broken(observations: np.ndarray) -> tuple[Any, str]:
        return np.zeros((len(observations), 2)), ""

    returns, why = evaluate(tiny_task(), broken, seed=0)
    assert returns is None and "expected (3,)" in why


# ------------------------------------------------------------------------------- calibration


def test_calibration_follows_its_rule(calibration_dir: Path) -> None:
    task = tiny_task(milestones=(500, 1000), episodes=2)
    data = learning.calibrate("hwtest", [task], seeds=[0, 1], jobs=1, log=lambda line: None)
    written = json.loads((calibration_dir / "hwtest.json").read_text())
    assert written == json.loads(json.dumps(data))
    entry = written["tasks"][task.name]
    assert entry["fingerprint"] == task.fingerprint() and entry["seeds"] == [0, 1]
    returns = np.array(entry["returns"])
    assert returns.shape == (2, 2)  # (milestones, seeds)
    floor = entry["random_return"]
    expected = floor + learning.FRACTION * (returns.min(axis=1) - floor)
    np.testing.assert_allclose(entry["thresholds"], expected, atol=0.011)
    # a calibration made for another config is refused, naming the command that fixes it
    other = dataclasses.replace(task, milestones=(500, 1500))
    with pytest.raises(LookupError, match="rlhw calibrate hwtest"):
        learning.load_calibration("hwtest", other)


def test_recalibrating_one_task_keeps_the_others(calibration_dir: Path) -> None:
    kept = tiny_task()
    write_calibration(calibration_dir, kept, [1.0, 2.0])
    other = dataclasses.replace(tiny_task(milestones=(500,), episodes=1), name="CartPole other")
    data = learning.calibrate(
        "hwtest", [other], seeds=[0], jobs=1, keep=[kept.name], log=lambda line: None
    )
    assert set(data["tasks"]) == {kept.name, other.name}
    assert data["tasks"][kept.name]["thresholds"] == [1.0, 2.0]  # untouched
    assert data["tasks"][other.name]["command"].endswith("--seeds 0 --tasks 'CartPole other'")
    assert learning.load_calibration("hwtest", kept)["thresholds"] == [1.0, 2.0]
    assert learning.load_calibration("hwtest", other)["seeds"] == [0]
    # an entry the suite no longer has (not kept) is dropped
    data = learning.calibrate("hwtest", [other], seeds=[0], jobs=1, log=lambda line: None)
    assert set(data["tasks"]) == {other.name}


def test_calibrate_names_the_tasks_it_knows(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["calibrate", "hw2", "--tasks", "CartPole-v9"]) == 2
    error = capsys.readouterr().err
    assert "no learning-curve check 'CartPole-v9'" in error and "CartPole-v1" in error


# ------------------------------------------------------------------------------- the check


def test_credit_is_the_share_of_milestones_met(tmp_path: Path, calibration_dir: Path) -> None:
    task = tiny_task()
    root = reference_root(tmp_path)
    write_calibration(calibration_dir, task, [0.0, 0.0])
    score, feedback = grade(root, task)
    assert score == 10.0, feedback
    assert feedback.count(" met") == 2 and "NOT met" not in feedback
    write_calibration(calibration_dir, task, [0.0, 1e6])
    score, feedback = grade(root, task)
    assert score == 5.0, feedback
    assert "needs 1000000.0" in feedback and "NOT met" in feedback and "Hint:" in feedback


def test_a_stale_calibration_is_the_graders_error(tmp_path: Path, calibration_dir: Path) -> None:
    score, feedback = grade(reference_root(tmp_path), tiny_task())
    assert score == 0.0
    assert "internal grader error" in feedback and "rlhw calibrate hwtest" in feedback


def test_the_starter_fails_at_its_first_todo(tmp_path: Path, calibration_dir: Path) -> None:
    task = tiny_task()
    write_calibration(calibration_dir, task, [0.0, 0.0])
    score, feedback = grade(starter_root(tmp_path), task)
    assert score == 0.0
    assert "NotImplementedError" in feedback and "TODO(" in feedback, feedback


def sabotaged(tmp_path: Path, old: str, new: str) -> Path:
    """The reference with ``old`` replaced by ``new`` in its run.py (which must hold it once)."""
    root = reference_root(tmp_path)
    run = root / PACKAGE / "run.py"
    source = run.read_text()
    assert source.count(old) == 1
    run.write_text(source.replace(old, new))
    return root


ACT = "return self.agent.act_deterministic(observations)"
STEP = "batch = self.sampler.sample_trajectories("


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (ACT, ACT + "[:1]", "act returned shape (1,)"),
        (ACT, "import os; os._exit(0)", "exited"),
        (STEP, "import time; time.sleep(60); " + STEP, "timed out in `Trainer.step`"),
        (
            "        return self.sampler.total_steps",
            "        return 'many'",
            "total_steps is 'many', expected a non-negative int",
        ),
    ],
    ids=["wrong-shape", "exit-in-act", "step-hangs", "steps-not-a-number"],
)
def test_a_trainer_that_misbehaves_gets_nothing_and_grading_goes_on(
    tmp_path: Path, calibration_dir: Path, old: str, new: str, message: str
) -> None:
    task = tiny_task()
    write_calibration(calibration_dir, task, [0.0, 0.0])
    score, feedback = grade(sabotaged(tmp_path, old, new), task, timeout_s=8)
    assert score == 0.0
    assert message in feedback, feedback


def test_grading_the_same_run_twice_gives_the_same_returns(
    tmp_path: Path, calibration_dir: Path
) -> None:
    task = tiny_task()
    write_calibration(calibration_dir, task, [0.0, 0.0])
    root = reference_root(tmp_path)
    first, second, other = grade(root, task, 4), grade(root, task, 4), grade(root, task, 5)
    assert first == second
    assert first[1] != other[1]  # another grading seed trains with another seed


def test_a_task_that_trains_to_each_milestone_in_one_call_has_its_own_fingerprint() -> None:
    task = tiny_task()
    assert dataclasses.replace(task, train_until=None).fingerprint() == task.fingerprint()
    assert dataclasses.replace(task, train_until="train_until").fingerprint() != task.fingerprint()

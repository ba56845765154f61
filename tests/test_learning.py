"""Learning-curve checks (:mod:`autograder.learning`): the worker keeps a trainer between calls
and hands out its network's weights, the grader evaluates them in its own copy of the network
and its own environments (the reference's returns unchanged) and validates every action,
calibration follows its rule and refuses a reference seed below its target, a stale calibration
names the command that remakes it, and the check gives credit by milestones met over the
policy before training, failing cleanly on a broken trainer or weights that do not fit.

The end-to-end cases train hw2's reference on CartPole for a few thousand steps only, and hw1's
and hw3's on budgets as small, once each, through their own paths of the engine.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import shutil
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from conftest import learning_tasks, set_learning_tasks, suite_package

from autograder import cli, learning
from autograder.grade import run_checks, suite_sandbox_options
from autograder.learning import LearningTask, check_actions, evaluate
from autograder.mutants import copy_homework
from autograder.release import strip_solutions
from autograder.sandbox import Attr, Failure, Method, Sandbox, Success
from hw2_policy_gradient.config import PRESETS
from infrastructure.config import Target

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED = REPO_ROOT / "autograder" / "calibration"
PACKAGE = "hw2_policy_gradient"
RUN = f"{PACKAGE}.run"


def tiny_task(milestones: tuple[int, ...] = (1000, 2000), episodes: int = 3) -> LearningTask:
    config = {
        **dataclasses.asdict(PRESETS["CartPole-v1"]),
        "batch_size": 500,
        "total_steps": milestones[-1],
    }
    return LearningTask(
        "CartPole-tiny",
        RUN,
        "Trainer",
        config,
        "CartPole-v1",
        milestones,
        episodes=episodes,
        policy="agent.policy",
    )


def write_calibration(
    folder: Path, task: LearningTask, thresholds: list[float], random_return: float = 0.0
) -> None:
    entry = {
        "fingerprint": task.fingerprint(),
        "milestones": list(task.milestones),
        "seeds": [0],
        "returns": [[100.0] for _ in task.milestones],
        "random_return": random_return,
        "thresholds": thresholds,
    }
    (folder / "hwtest.json").write_text(json.dumps({"tasks": {task.name: entry}}))


@pytest.fixture()
def fixed_eval_seeds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every evaluation of a grading on the same seeds (grading draws them from a secret)."""
    seeds: list[int] = []

    def draw(count: int) -> list[int]:
        seeds.extend([4_242_424] * count)
        return [4_242_424] * count

    monkeypatch.setattr(learning, "draw_eval_seeds", draw)
    return seeds


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


def test_evaluation_seeds_are_drawn_from_a_secret() -> None:
    """Not from the grading seed: two gradings alike draw other seeds, above the training
    seeds' range."""
    first, second = learning.draw_eval_seeds(3), learning.draw_eval_seeds(3)
    assert first != second
    assert all(1_000_000 <= seed < 2**31 - 1 for seed in first + second)


def test_weights_that_do_not_fit_the_graders_copy_are_refused_with_what_is_wrong() -> None:
    policy = learning.GraderPolicy(tiny_task(), {**tiny_task().config, "seed": 0})
    good = {name: value.clone() for name, value in policy.module.state_dict().items()}
    as_arrays = {name: value.numpy() for name, value in good.items()}
    assert policy.load(as_arrays) == ""
    assert policy.load([1, 2]) == "the weights came as a list, expected a dict of tensors"
    fits = "the weights of agent.policy do not fit the network the homework's given code builds: "
    cases = [
        (
            {**good, "logits_net.4.bias": torch.zeros(3)},
            "'logits_net.4.bias' has shape (3,), expected (2,)",
        ),
        (
            {**good, "logits_net.4.bias": torch.zeros(2, dtype=torch.int64)},
            "'logits_net.4.bias' has dtype torch.int64, expected torch.float32",
        ),
        (
            {**good, "logits_net.4.bias": [0.0, 0.0]},
            "'logits_net.4.bias' is a list, expected a tensor",
        ),
        ({**good, "extra": torch.zeros(1)}, "unexpected 'extra'"),
        (
            {},
            "missing 'logits_net.0.weight', 'logits_net.0.bias', 'logits_net.2.weight' and 3 more",
        ),
    ]
    for weights, why in cases:
        assert policy.load(weights) == fits + why
    nan = {**good, "logits_net.0.bias": torch.full((64,), float("nan"))}
    assert (
        policy.load(nan) == "the weights of agent.policy hold NaN or infinity: 'logits_net.0.bias'"
    )
    # nothing refused was loaded
    assert all(torch.equal(value, good[name]) for name, value in policy.module.state_dict().items())
    policy.close()


ALL_TASKS = [(hw, task) for hw in ("hw1", "hw2", "hw3") for task in learning_tasks(hw)]


@pytest.mark.parametrize(("hw", "task"), ALL_TASKS, ids=[f"{hw}-{t.name}" for hw, t in ALL_TASKS])
def test_the_graders_copy_acts_as_the_trainer_with_the_same_weights(
    hw: str, task: LearningTask
) -> None:
    """The calibration stays valid: the reference's weights, loaded into the grader's copy of
    the network, give the very returns the reference trainer's own ``act`` gives."""
    task = dataclasses.replace(task, episodes=3, max_episode_steps=200)
    config = {**task.config, "seed": 5}
    trainer = learning.GraderPolicy(task, config)  # stands for the student's trained one
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in trainer.module.parameters():  # weights that do something
            parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator))
    weights = {name: value.clone() for name, value in trainer.module.state_dict().items()}
    grader = learning.GraderPolicy(task, {**config, "seed": 6})  # other initial weights
    assert grader.load(weights) == ""
    own, _ = evaluate(task, trainer.act, seed=1_234_567)
    copied, _ = grader.evaluate(seed=1_234_567)
    assert own is not None and copied is not None
    assert copied.tolist() == own.tolist()
    trainer.close()
    grader.close()


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


# ------------------------------------------------------------------------------- targets


def test_a_seed_meets_its_target_at_any_milestone_within_its_steps() -> None:
    task = dataclasses.replace(
        tiny_task(milestones=(1000, 2000, 3000)), target=Target(475.0, within=2000)
    )
    returns = np.array(
        [
            [500.0, 82.8, 100.0],  # 1000 steps: seed 1 has not learned yet
            [480.0, 475.0, 470.0],  # 2000 steps: the last milestone the target is judged at
            [500.0, 500.0, 500.0],  # 3000 steps: beyond `within`, seed 2 comes too late
        ]
    )
    assert learning.target_misses(task, [0, 1, 2], returns) == [
        "CartPole-tiny seed 2: 100.0 at 1000 steps, 470.0 at 2000 steps; "
        "the target is 475 within 2000 steps"
    ]
    assert learning.target_misses(dataclasses.replace(task, target=None), [0, 1, 2], returns) == []


def test_a_target_met_by_a_share_of_seeds_allows_only_that_many_misses() -> None:
    task = dataclasses.replace(
        tiny_task(milestones=(1000, 2000)), target=Target(475.0, within=2000, share_of_seeds=0.75)
    )
    # 8 seeds: 0.75 of them must reach 475, so 2 may miss it and a third may not
    two_miss = np.array([[500.0] * 6 + [100.0, 393.2], [500.0] * 6 + [357.8, 469.3]])
    assert len(learning.target_shortfalls(task, range(8), two_miss)) == 2
    assert learning.target_misses(task, range(8), two_miss) == []
    three_miss = two_miss.copy()
    three_miss[:, 0] = [168.0, 168.0]
    misses = learning.target_misses(task, range(8), three_miss)
    assert len(misses) == 3
    assert misses[0] == (
        "CartPole-tiny seed 0: 168.0 at 1000 steps, 168.0 at 2000 steps; the target is 475 "
        "within 2000 steps (3 of 8 seeds miss it, 2 may)"
    )
    # a share that leaves no room for a miss over 3 seeds (0.75 of 3 rounds up to all 3)
    assert len(learning.target_misses(task, range(3), three_miss[:, :3])) == 1
    with pytest.raises(ValueError, match=r"expected 0 < share_of_seeds <= 1, got 0.0"):
        Target(475.0, within=2000, share_of_seeds=0.0)


def test_a_target_is_judged_at_a_milestone_and_is_not_part_of_the_fingerprint() -> None:
    task = tiny_task()
    with pytest.raises(ValueError, match=r"within >= 1000\), got within=500"):
        dataclasses.replace(task, target=Target(475.0, within=500))
    assert dataclasses.replace(task, target=Target(1.0, 1000)).fingerprint() == task.fingerprint()


@pytest.fixture()
def hw2_calibration(calibration_dir: Path) -> Path:
    """A copy of the shipped hw2.json in the test's calibration folder."""
    path = calibration_dir / "hw2.json"
    shutil.copy(SHIPPED / "hw2.json", path)
    return path


def fake_runs(returns: list[list[float]]):
    """A stand-in for the reference's training: every task gets ``returns``, shape
    ``(milestones, seeds)``."""

    def runs(tasks, seeds, jobs, log):  # the signature of _reference_runs
        return {task.name: np.array(returns) for task in tasks}

    return runs


def test_calibrate_refuses_a_seed_below_its_target_and_keeps_the_old_file(
    hw2_calibration: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = hw2_calibration.read_bytes()
    # seed 1 ends at 168 where the handout says >= 475 within 100k steps on every seed
    monkeypatch.setattr(learning, "_reference_runs", fake_runs([[500.0, 312.4], [500.0, 168.0]]))
    argv = ["calibrate", "hw2", "--seeds", "0", "1", "--tasks", "CartPole-v1"]
    assert cli.main(argv) == 1
    error = capsys.readouterr().err
    assert error.startswith("rlhw calibrate: the reference missed its target on 1 run(s)")
    assert (
        "  - CartPole-v1 seed 1: 312.4 at 40000 steps, 168.0 at 50000 steps; "
        "the target is 475 within 100000 steps\n"
    ) in error
    assert "seed 0" not in error
    assert hw2_calibration.read_bytes() == before  # the bar stays where it was


def test_calibrate_writes_the_bands_when_every_seed_meets_its_target(
    hw2_calibration: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(learning, "_reference_runs", fake_runs([[500.0, 475.0], [300.0, 500.0]]))
    argv = ["calibrate", "hw2", "--seeds", "0", "1", "--tasks", "CartPole-v1"]
    assert cli.main(argv) == 0
    assert "CartPole-v1: 40000 steps >=" in capsys.readouterr().out
    data = json.loads(hw2_calibration.read_text())
    assert data["tasks"]["CartPole-v1"]["returns"] == [[500.0, 475.0], [300.0, 500.0]]
    assert data["tasks"]["CartPole-v1"]["seeds"] == [0, 1]
    assert data["tasks"]["InvertedPendulum-v5"]["seeds"] == list(range(10))  # kept


# ------------------------------------------------------------------------------- staleness


def parsed_fix(command: str) -> tuple[list[int] | None, list[str]]:
    """The ``--seeds`` and ``--tasks`` that ``rlhw`` reads from a printed fix command."""
    argv = shlex.split(command)
    assert argv[:3] == ["rlhw", "calibrate", "hw1"], command
    args = cli.build_parser().parse_args(argv[1:])
    seeds = None if "--seeds" not in argv else args.seeds
    return seeds, args.tasks


def test_stale_tasks_are_named_with_the_commands_that_remake_only_them(
    calibration_dir: Path,
) -> None:
    bc, dagger = (task.name for task in learning_tasks("hw1"))
    assert " " in bc  # names a shell would split
    data = json.loads((SHIPPED / "hw1.json").read_text())
    (calibration_dir / "hw1.json").write_text(json.dumps(data))
    assert learning.stale_calibration("hw1") == []
    assert learning.stale_calibration_message("hw1") is None

    data["tasks"][bc]["fingerprint"] = "made for another config"
    (calibration_dir / "hw1.json").write_text(json.dumps(data))
    assert learning.stale_calibration("hw1") == [
        learning.Stale(bc, f"hw1.json was made for another config of {bc!r}", tuple(range(8)))
    ]
    message = learning.stale_calibration_message("hw1")
    assert message is not None
    lines = message.splitlines()
    assert lines[:3] == [
        "the calibration of 1 learning-curve check(s) of hw1 is stale:",
        f"  - {bc}: hw1.json was made for another config of {bc!r}",
        "remake it with:",
    ]
    # the seeds it was made with (hw3's InvertedPendulum needs its 24), only the stale task
    assert [parsed_fix(line.strip()) for line in lines[3:]] == [(list(range(8)), [bc])]

    del data["tasks"][dagger]  # and one the file lacks: the default seeds
    (calibration_dir / "hw1.json").write_text(json.dumps(data))
    commands = learning.fix_commands("hw1", learning.stale_calibration("hw1"))
    assert [parsed_fix(command) for command in commands] == [
        (list(range(8)), [bc]),
        (None, [dagger]),
    ]
    (calibration_dir / "hw1.json").unlink()
    assert [s.why for s in learning.stale_calibration("hw1")] == [
        "no calibration file hw1.json"
    ] * 2
    commands = learning.fix_commands("hw1", learning.stale_calibration("hw1"))
    assert [parsed_fix(command) for command in commands] == [(None, [bc, dagger])]


def test_a_homework_without_learning_tasks_is_never_stale(
    calibration_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_learning_tasks(monkeypatch, "hw2", [])
    assert not (calibration_dir / "hw2.json").exists()
    assert learning.stale_calibration("hw2") == []
    assert learning.stale_calibration_message("hw2") is None


# ------------------------------------------------------------------------------- the check


def test_credit_is_the_share_of_milestones_met(
    tmp_path: Path, calibration_dir: Path, fixed_eval_seeds: list[int]
) -> None:
    task = tiny_task()
    root = reference_root(tmp_path)
    write_calibration(calibration_dir, task, [-1e6, -1e6])
    score, feedback = grade(root, task)
    assert score == 10.0, feedback
    assert feedback.count(")  met") == 2 and "NOT met" not in feedback
    assert "(before training)" in feedback
    write_calibration(calibration_dir, task, [-1e6, 1e6])
    score, feedback = grade(root, task)
    assert score == 5.0, feedback
    assert "needs 1000000.0" in feedback and "NOT met" in feedback and "Hint:" in feedback
    # before training, then at each milestone, always on seeds from draw_eval_seeds
    assert len(fixed_eval_seeds) == 2 * (1 + len(task.milestones))


def test_a_milestone_needs_an_improvement_over_the_policy_before_training(
    tmp_path: Path, calibration_dir: Path, fixed_eval_seeds: list[int]
) -> None:
    """The bar is as high over the return before training as the threshold is over random
    play: an untrained policy meets a threshold it reaches by chance, not the improvement."""
    task = tiny_task()
    root = sabotaged(tmp_path, "metrics = self.agent.update(batch)", "metrics = {}")
    write_calibration(calibration_dir, task, [5.0, 5.0], random_return=0.0)
    score, feedback = grade(root, task)
    assert score == 0.0, feedback
    lines = feedback.splitlines()
    start = float(lines[1].split()[2])  # "        0 steps:     9.4  (before training)"
    assert start >= 8.0  # a CartPole episode lasts 8 steps at least: above the threshold
    assert f"needs 5.0, and {start + 5.0:.1f} to improve on step 0" in feedback, feedback


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


INIT = "self.sampler = Sampler(self.env, seed=config.seed)"
STEP = "batch = self.sampler.sample_trajectories("
UPDATE = "metrics = self.agent.update(batch)"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            INIT,
            INIT + "; self.agent.policy.logits_net = torch.nn.Linear(4, 2)",
            "the weights of agent.policy do not fit the network the homework's given code builds: "
            "missing 'logits_net.0.weight', 'logits_net.0.bias', 'logits_net.2.weight' and 3 "
            "more; unexpected 'logits_net.weight', 'logits_net.bias'",
        ),
        (
            UPDATE,
            UPDATE + "; self.total_steps >= 1000 and "
            "self.agent.policy.logits_net[0].weight.data.fill_(float('nan'))",
            "evaluation stopped: the weights of agent.policy hold NaN or infinity: "
            "'logits_net.0.weight'",
        ),
        (INIT, INIT + "; del self.agent", "could not fetch the weights"),
        (STEP, "import os; os._exit(0); " + STEP, "exited"),
        (STEP, "import time; time.sleep(60); " + STEP, "timed out in `Trainer.step`"),
    ],
    ids=["other-network", "nan-weights", "no-network", "exit-in-step", "step-hangs"],
)
def test_a_trainer_that_misbehaves_gets_nothing_and_grading_goes_on(
    tmp_path: Path, calibration_dir: Path, old: str, new: str, message: str
) -> None:
    task = tiny_task()
    write_calibration(calibration_dir, task, [0.0, 0.0])
    score, feedback = grade(sabotaged(tmp_path, old, new), task, timeout_s=8)
    assert score == 0.0
    assert message in feedback, feedback


def test_a_trainer_clock_that_is_not_a_number_gets_nothing(
    tmp_path: Path, calibration_dir: Path
) -> None:
    task = dataclasses.replace(tiny_task(), env_steps=False)  # hw1's clock: total_steps
    write_calibration(calibration_dir, task, [0.0, 0.0])
    root = sabotaged(tmp_path, "        return self.sampler.total_steps", "        return 'many'")
    score, feedback = grade(root, task, timeout_s=8)
    assert score == 0.0
    assert "total_steps is 'many', expected a non-negative int" in feedback, feedback


# ------------------------------------------------------------------------------- step counting


def milestone_steps(feedback: str) -> list[int]:
    """The step counts of the milestone lines of a learning check's feedback."""
    return [int(line.split()[0]) for line in feedback.splitlines() if "improve on step 0" in line]


def test_the_grader_counts_exactly_the_steps_the_reference_takes(tmp_path: Path) -> None:
    config = {**tiny_task().config, "seed": 3}
    with Sandbox(reference_root(tmp_path), serve_envs=("CartPole-v1",)) as sandbox:
        assert sandbox.call_method(RUN, "Trainer", (config,), keep="trainer").ok
        assert sandbox.env_service is not None and sandbox.env_service.steps == 0
        for _ in range(3):
            assert isinstance(sandbox.on("trainer", [Method("step")]), Success)
            total = sandbox.on("trainer", [Attr("total_steps")])
            assert isinstance(total, Success) and total.value >= 500
            assert sandbox.env_service.steps == total.value


def test_milestones_count_the_steps_served_not_the_steps_claimed(
    tmp_path: Path, calibration_dir: Path
) -> None:
    task = tiny_task()
    write_calibration(calibration_dir, task, [0.0, 0.0])
    claims = sabotaged(tmp_path, "        return self.sampler.total_steps", "        return 10**9")
    score, feedback = grade(claims, task)
    first, second = milestone_steps(feedback)
    assert 1000 <= first < 1500 and 2000 <= second < 2500, feedback  # batches of >= 500 steps
    assert "counted by the grader" in feedback
    assert score == 10.0  # it did train: the claim only cost it nothing


def test_steps_in_an_environment_of_the_trainers_own_are_not_counted(
    tmp_path: Path, calibration_dir: Path
) -> None:
    task = tiny_task()
    write_calibration(calibration_dir, task, [0.0, 0.0])
    own = sabotaged(
        tmp_path,
        "self.env = make_pg_env(config, config.seed)",
        "self.env = gym.make(config.env)",
    )
    score, feedback = grade(own, task)
    assert score == 0.0
    assert "3 calls of Trainer.step() in a row took no step in the grader's CartPole-v1" in (
        feedback
    ), feedback


# hw1: milestones on the trainer's clock (gradient steps), DAgger relabelling with the grader's
# expert; hw3: one train_until call per milestone. hw2's path (step() until a milestone, the
# steps counted by the grader) is the tiny task's above.
ENGINE_PATHS = {
    "hw1": (
        "DAgger on Hopper-v5",
        {"n_iter": 2, "train_steps_per_iter": 100, "dagger_batch_size": 200},
        (100, 200),
    ),
    "hw3": ("CartPole-v1", {"total_steps": 1500, "eval_every": 1500}, (1000, 1500)),
}


@pytest.mark.parametrize("hw", sorted(ENGINE_PATHS))
def test_each_engine_path_grades_the_reference_on_a_tiny_budget(
    tmp_path: Path, calibration_dir: Path, hw: str
) -> None:
    """The suite's own task, on a budget of seconds and a bar any policy clears: the path from
    the trainer to the grader's evaluation works; that the reference learns is ``slow``'s
    (``tests/test_hwN_learning.py``)."""
    name, config, milestones = ENGINE_PATHS[hw]
    (real,) = [task for task in learning_tasks(hw) if task.name == name]
    task = dataclasses.replace(
        real,
        name=f"{name} (tiny)",
        config={**real.config, **config},
        milestones=milestones,
        episodes=2,
        target=None,
    )
    write_calibration(calibration_dir, task, [-1e9] * len(milestones))
    check = learning.learning_check_of("hwtest", task, points=10, timeout_s=120)
    root = copy_homework(REPO_ROOT, suite_package(hw), tmp_path / "reference")
    (result,) = run_checks(root, [check], 0, sandbox_options=suite_sandbox_options(hw))
    assert result.score == 10.0, result.output
    assert milestone_steps(result.output) == list(milestones), result.output


def test_grading_the_same_run_twice_gives_the_same_returns(
    tmp_path: Path, calibration_dir: Path, fixed_eval_seeds: list[int]
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

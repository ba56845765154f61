"""A stale calibration is caught before it costs a student a point, and the shipped calibrations
keep the handouts' promises.

- ``rlhw release`` and ``rlhw audit`` (``--fast`` too) refuse a homework whose learning-curve
  check was calibrated for another config, before any work, naming the command that remakes
  only that check; the repository's own calibrations are fresh.
- Every calibrated reference seed reaches its preset's target (what ``rlhw calibrate`` now
  demands), and the targets the suites hold the reference to are the ones the handouts state.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import learning_tasks, set_learning_tasks

import hw1_imitation.config as hw1_config
import hw2_policy_gradient.config as hw2_config
import hw3_q_learning.config as hw3_config
import hw4_model_based.config as hw4_config
from autograder import audit, cli, learning
from hw1_imitation.expert import expert_return
from infrastructure.config import Target

REPO_ROOT = Path(__file__).resolve().parents[1]
HOMEWORKS = ("hw1", "hw2", "hw3", "hw4", "hw5")

# ------------------------------------------------------------------------------- staleness


@pytest.fixture()
def cartpole_retuned(monkeypatch: pytest.MonkeyPatch) -> str:
    """hw2's CartPole preset with another learning rate, as an instructor might retune it;
    returns the command that remakes its calibration."""
    cartpole, pendulum = learning_tasks("hw2")
    config = {**cartpole.config, "learning_rate": 2 * cartpole.config["learning_rate"]}
    retuned = dataclasses.replace(cartpole, config=config)
    set_learning_tasks(monkeypatch, "hw2", [retuned, pendulum])
    seeds = " ".join(map(str, range(10)))  # those its stale entry was made with
    return f"rlhw calibrate hw2 --seeds {seeds} --tasks CartPole-v1"


def assert_refused(error: str, command: str) -> None:
    assert "the calibration of 1 learning-curve check(s) of hw2 is stale:" in error
    assert "  - CartPole-v1: hw2.json was made for another config of 'CartPole-v1'" in error
    assert f"remake it with:\n  {command}\n" in error
    assert "InvertedPendulum-v5" not in error  # fresh: not recalibrated


def test_release_refuses_a_stale_calibration_before_writing_anything(
    cartpole_retuned: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["release", "hw2", "--out", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert error.startswith("rlhw release: the calibration of")
    assert_refused(error, cartpole_retuned)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fast", [["--fast"], []], ids=["fast", "full"])
def test_audit_refuses_a_stale_calibration_before_grading(
    cartpole_retuned: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fast: list[str],
) -> None:
    def no_grading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the audit graded a suite whose calibration is stale")

    monkeypatch.setattr(audit, "_grade_all", no_grading)
    assert cli.main(["audit", "hw2", *fast, "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("rlhw audit: the calibration of")
    assert_refused(error, cartpole_retuned)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("hw", HOMEWORKS)
def test_the_shipped_calibrations_are_fresh(hw: str) -> None:
    """What lets ``rlhw release`` and ``rlhw audit`` of every homework go on."""
    assert learning.stale_calibration(hw) == []
    assert learning.stale_calibration_message(hw) is None


def test_hw5s_calibration_follows_its_dataset_and_not_where_the_grader_keeps_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hw5's learning checks train on the grader's dataset: other bytes there make their
    calibration stale, while the tree the grader reads it from (the bundle's, on Gradescope)
    does not."""
    tasks = learning_tasks("hw5")
    fingerprints = [task.fingerprint() for task in tasks]
    for name in {name for task in tasks for name in task.data}:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / name, tmp_path / name)
    monkeypatch.setattr(learning, "PROJECT_ROOT", tmp_path)
    for task, fingerprint in zip(tasks, fingerprints, strict=True):
        moved = dataclasses.replace(task, grader_config={"datasets_dir": str(tmp_path)})
        assert moved.fingerprint() == fingerprint
    (tmp_path / tasks[0].data[-1]).write_bytes(b"another dataset")
    for task, fingerprint in zip(tasks, fingerprints, strict=True):
        assert task.fingerprint() != fingerprint


# ------------------------------------------------------------------------------- targets


def shipped_runs() -> list[tuple[str, learning.LearningTask]]:
    """The learning checks held to a handout's target: hw4's Obstacles-v0 check trains half
    the preset's steps, so no target of the handout applies to it (its bands do); hw5's
    presets hold no target in its config."""
    return [
        (hw, task) for hw in HOMEWORKS for task in learning_tasks(hw) if task.target is not None
    ]


@pytest.mark.parametrize(
    ("hw", "task"),
    shipped_runs(),
    ids=[f"{hw}-{task.name}" for hw, task in shipped_runs()],
)
def test_every_shipped_calibration_meets_its_target(hw: str, task: learning.LearningTask) -> None:
    assert task.target is not None
    entry = learning.load_calibration(hw, task)
    misses = learning.target_misses(task, entry["seeds"], np.array(entry["returns"]))
    assert misses == [], "\n".join(misses)


def test_the_suites_hold_the_reference_to_the_presets_targets() -> None:
    for task in learning_tasks("hw2"):
        assert task.target == hw2_config.TARGETS[task.env]
    dqn, sac = learning_tasks("hw3")
    assert dqn.target == hw3_config.DQN_TARGETS[dqn.env]
    assert sac.target == hw3_config.SAC_TARGETS[sac.env]
    shares = hw1_config.EXPERT_SHARE_TARGETS
    bc, dagger = learning_tasks("hw1")
    for task, share in ((bc, shares["behaviour cloning"]), (dagger, shares["DAgger"])):
        preset = hw1_config.preset(task.env)
        within = preset.n_iter * preset.train_steps_per_iter  # the preset's 10 iterations
        expert = expert_return(task.env)
        assert expert is not None
        assert task.target == Target(share * expert, within=within)


def handout(package: str) -> str:
    return (REPO_ROOT / package / "README.md").read_text(encoding="utf-8")


def target_cell(text: str, env: str) -> str:
    """The target cell ("≥ 475 within 100k steps") of the one results-table row of ``env``
    (its first cell ``env``, ``ALGORITHM, env`` or ``env, SETTINGS``)."""
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("|")
    ]
    matching = [row for row in rows if env in (part.strip() for part in row[0].split(","))]
    cells = [cell for row in matching for cell in row if cell.startswith("≥")]
    assert len(cells) == 1, f"expected one target for {env} in the handout, got {cells}"
    return cells[0]


def stated(target: Target, budget: int) -> set[str]:
    """How a handout states ``target`` of a preset training ``budget`` steps: with its
    steps, or without them when they are the preset's budget."""
    steps = target.within
    short = f"{steps // 1_000_000}M" if steps % 1_000_000 == 0 else f"{steps // 1000}k"
    value = f"≥ {target.return_mean:g}"
    within = {f"{value} within {short} steps", f"{value} within {steps} steps"}
    return within | ({value} if steps == budget else set())


@pytest.mark.parametrize(
    ("package", "targets", "presets"),
    [
        ("hw2_policy_gradient", hw2_config.TARGETS, hw2_config.PRESETS),
        ("hw3_q_learning", hw3_config.DQN_TARGETS, hw3_config.DQN_PRESETS),
        ("hw3_q_learning", hw3_config.SAC_TARGETS, hw3_config.SAC_PRESETS),
    ],
    ids=["hw2", "hw3-dqn", "hw3-sac"],
)
def test_the_handouts_state_the_presets_targets(
    package: str, targets: dict[str, Target], presets: dict[str, object]
) -> None:
    text = handout(package)
    for env, target in targets.items():
        budget = presets[env].total_steps  # type: ignore[attr-defined]
        assert target_cell(text, env) in stated(target, budget), env


def test_the_hw4_handout_states_the_random_shooting_targets() -> None:
    """hw4's results table has several rows per environment (random shooting, CEM, MBPO) and
    writes minus signs as such: the row of each target is random shooting's."""
    rows = [
        [cell.strip().replace("−", "-") for cell in line.strip("|").split("|")]
        for line in handout("hw4_model_based").splitlines()
        if line.startswith("|")
    ]
    for env, target in hw4_config.MPC_TARGETS.items():
        matching = [row for row in rows if row[0] == f"MPC random shooting, {env}"]
        cells = [cell for row in matching for cell in row if cell.startswith("≥")]
        assert len(cells) == 1, f"expected one random-shooting target for {env}, got {cells}"
        assert cells[0] in stated(target, hw4_config.MPC_PRESETS[env].total_steps), env


def test_the_hw1_handout_states_the_shares_of_the_experts_return() -> None:
    text = re.sub(r"\s+", " ", handout("hw1_imitation"))
    shares = hw1_config.EXPERT_SHARE_TARGETS
    iterations = hw1_config.preset("Hopper-v5").n_iter
    assert (
        f"behaviour cloning reaches at least {shares['behaviour cloning']:.0%} of the "
        "expert's return on at least one environment"
    ) in text
    assert (
        f"DAgger reaches at least {shares['DAgger']:.0%} of the expert's return on Hopper-v5 "
        f"and Walker2d-v5 within {iterations} iterations"
    ) in text

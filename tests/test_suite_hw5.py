"""The hidden suite of homework 5: its shape, the reference's full marks and the bare starter's
zero with clear feedback (one grading of each, ``make test``), what its cases must hold to
separate the bugs they are there for (proved here on the reference, in the grader), and the
audit against the mutant catalog (:mod:`autograder.mutants.hw5`) and the correct alternatives,
which is ``slow``.

The learning checks: their tasks and the grader's datasets they train on, the calibration file,
and the engine's path on a budget of seconds in ``make test``; the reference passing them on
their real budget, and broken learners failing them, are ``slow`` (about a minute a grading).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from audit_checks import (
    SEEDS,
    assert_killed,
    assert_patches_one_solution_place,
    assert_reference_full_marks,
    assert_starter_gets_zero,
    assert_whole_audit_passes,
    make_test_audit,
)
from conftest import fast_suite_checks, learning_tasks, suite_checks, suite_package
from torch.nn import functional as F

from autograder import learning
from autograder.audit import AuditReport, audit_homework
from autograder.data.make_hw5 import make_datasets
from autograder.grade import run_checks, suite_sandbox_options
from autograder.judging import LOSS_TOL, compare
from autograder.mutants import Mutant, apply_mutant, copy_homework
from autograder.mutants.hw5 import MUTANTS
from autograder.suites import hw5
from hw5_offline.datasets import load_dataset

REPO_ROOT = Path(__file__).resolve().parents[1]
FAST = fast_suite_checks("hw5")
CASE_SEEDS = range(6)
"""Generators the cases are drawn from below, as a grading draws them from its seed."""
ref = hw5.ref_offline


def test_the_suite_is_well_formed():
    assert suite_package("hw5") == "hw5_offline"
    assert sum(check.points for check in FAST) == pytest.approx(130.0)
    assert len({check.name for check in FAST}) == len(FAST)
    assert {check.kind for check in FAST} == {"value", "gradient", "update"}
    assert {check.function for check in FAST} == {
        "rnd_error",
        "rnd_loss",
        "update_running_std",
        "normalized_bonus",
        "cql_regularizer",
        "CQLAgent.critic_loss",
        "awac_target",
        "awac_advantages",
        "advantage_weighted_loss",
        "AWACAgent.critic_loss",
        "AWACAgent.actor_loss",
        "expectile_loss",
        "iql_target",
        "IQLAgent.value_loss",
        "IQLAgent.critic_loss",
        "IQLAgent.actor_loss",
        "gaussian_log_prob",
        "BCAgent.actor_loss",
        "ContinuousIQLAgent.value_loss",
        "ContinuousIQLAgent.critic_loss",
        "ContinuousIQLAgent.actor_loss",
    }


def test_the_learning_checks_train_the_presets_on_the_graders_dataset():
    """IQL and CQL, 20 points on top of the fast checks' 130, each training its handout preset
    on the grader's dataset: the sandbox reads it from its scratch folder, where every sandbox
    of the suite gets it, and the grader's own copies of the trainer from the grader's tree."""
    checks = [check for check in suite_checks("hw5") if check.kind == "learning"]
    assert [(check.name, check.function, check.points) for check in checks] == [
        ("learning curve: IQL on PointmassEasy-v0", "OfflineTrainer", 10),
        ("learning curve: CQL on PointmassEasy-v0", "OfflineTrainer", 10),
    ]
    assert (hw5.PROJECT_ROOT / "infrastructure") in hw5.SANDBOX["given"]
    assert (hw5.DATA_DIR, hw5.DATASETS_DIR) in hw5.SANDBOX["given"]
    assert hw5.SUITE.sandbox is hw5.SANDBOX
    iql, cql = learning_tasks("hw5")
    for task, algorithm, policy in ((iql, "iql", "agent.actor"), (cql, "cql", "agent.q_network")):
        preset = dataclasses.asdict(hw5.ref_config.OFFLINE_PRESETS[algorithm][hw5.ENV])
        changed = {key: value for key, value in task.config.items() if preset[key] != value}
        assert changed == {
            "dataset": hw5.LEARNING_DATASET,
            "datasets_dir": hw5.DATASETS_DIR,
            "total_steps": task.milestones[-1],
            "eval_every": task.milestones[-1],
        }
        assert task.grader_config == {"datasets_dir": str(hw5.DATA_DIR)}
        assert (task.env, task.policy, task.env_steps) == (hw5.ENV, policy, False)
        assert task.train_until == "train_until"
        folder = hw5.DATA_DIR / hw5.LEARNING_DATASET / "data"
        assert sorted(hw5.PROJECT_ROOT / name for name in task.data) == sorted(folder.iterdir())


def test_the_learning_checks_grade_the_reference_on_a_tiny_budget(tmp_path, calibration_dir):
    """Both tasks on 200 gradient steps and a bar any policy clears, through the engine's
    path: the trainer in the sandbox finds the given dataset, the grader's copy finds its own
    and takes the fetched actor or Q-network; that the reference learns is ``slow``'s."""
    milestones = (100, 200)
    tasks = [
        dataclasses.replace(
            task,
            name=f"{task.name} (tiny)",
            config={**task.config, "total_steps": milestones[-1]},
            milestones=milestones,
            episodes=2,
        )
        for task in learning_tasks("hw5")
    ]
    entries = {
        task.name: {
            "fingerprint": task.fingerprint(),
            "milestones": list(milestones),
            "seeds": [0],
            "returns": [[-15.0]] * len(milestones),
            "random_return": -50.0,
            "thresholds": [-1e9] * len(milestones),
        }
        for task in tasks
    }
    (calibration_dir / "hwtest.json").write_text(json.dumps({"tasks": entries}))
    checks = [
        learning.learning_check_of("hwtest", task, points=10, timeout_s=120) for task in tasks
    ]
    root = copy_homework(REPO_ROOT, "hw5_offline", tmp_path / "reference")
    results = run_checks(root, checks, 0, sandbox_options=suite_sandbox_options("hw5"))
    for result in results:
        assert result.score == 10.0, result.output
        steps = [
            int(line.split()[0]) for line in result.output.splitlines() if "improve on" in line
        ]
        assert steps == list(milestones), result.output


def test_the_calibration_file_matches_the_suite():
    """Grading reads autograder/calibration/hw5.json; each bar lies above random play, and the
    reference's worst calibrated seed clears it."""
    for task in learning_tasks("hw5"):
        entry = learning.load_calibration("hw5", task)
        assert entry["milestones"] == list(task.milestones)
        assert len(entry["seeds"]) == 10
        for threshold, returns in zip(entry["thresholds"], entry["returns"], strict=True):
            assert entry["random_return"] < threshold < min(returns)


def _grade_learning(tmp_path: Path, algorithm: str, seed: int, mutant: Mutant | None = None):
    (check,) = [
        c for c in suite_checks("hw5") if c.name == f"learning curve: {algorithm} on {hw5.ENV}"
    ]
    if mutant is None:
        root = copy_homework(REPO_ROOT, "hw5_offline", tmp_path / "submission")
    else:
        root = apply_mutant(REPO_ROOT, mutant, tmp_path / "submission")
    (result,) = run_checks(root, [check], seed, sandbox_options=suite_sandbox_options("hw5"))
    return result.score, check.points, result.output


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("algorithm", ["IQL", "CQL"])
def test_the_reference_passes_the_learning_checks(tmp_path, algorithm, seed):
    score, points, feedback = _grade_learning(tmp_path, algorithm, seed)
    assert score == points, feedback


BROKEN_LEARNERS = [("IQL", "expectile_weights_swapped"), ("CQL", "cql_wrong_sign")]
"""Bugs that the fast checks catch and that stop learning too: V regressed to the 0.1
expectile, and a regulariser that raises the Q-values of the data's actions (each returned -50,
the time limit, at both milestones of seed 0)."""


@pytest.mark.slow
@pytest.mark.parametrize(("algorithm", "name"), BROKEN_LEARNERS)
def test_a_broken_learner_fails_the_learning_check(tmp_path, algorithm, name):
    (mutant,) = [mutant for mutant in MUTANTS if mutant.name == name]
    score, _, feedback = _grade_learning(tmp_path, algorithm, 0, mutant)
    assert score == 0.0, feedback


@pytest.mark.parametrize("name", sorted(hw5.DATASETS))
def test_the_graders_datasets_are_what_their_recipes_make(name):
    """Each dataset in ``autograder/data/hw5`` loads for the maze, and holds what its recipe
    in the suite says: the steps, the explorer, the seed (``python -m
    autograder.data.make_hw5`` remakes them; the slow test below, transition for transition)."""
    recipe = hw5.DATASETS[name]
    data = load_dataset(name, recipe["env"], root=hw5.DATA_DIR)
    assert len(data) == recipe["total_steps"]
    metadata = json.loads((hw5.DATA_DIR / name / "data" / "metadata.json").read_text())
    assert metadata["dataset_id"] == name
    assert metadata["algorithm_name"] == f"{recipe['explorer']} explorer"
    assert f"on {recipe['env']}, seed {recipe['seed']} " in metadata["description"]


@pytest.mark.slow
def test_the_make_script_writes_the_committed_datasets(tmp_path):
    for folder in make_datasets(tmp_path):
        name = folder.relative_to(tmp_path).as_posix()
        env = hw5.DATASETS[name]["env"]
        made, committed = (load_dataset(name, env, root=root) for root in (tmp_path, hw5.DATA_DIR))
        for field in dataclasses.fields(made):
            assert np.array_equal(getattr(made, field.name), getattr(committed, field.name))


@pytest.mark.slow
def test_the_released_student_tree_holds_none_of_the_graders_data(released):
    """``rlhw release hw5`` (its leak check refuses any file of ``autograder/``): no file of
    the student tree is, byte for byte, one of the grader's datasets' files."""
    student = released("hw5")
    shipped = {path.read_bytes() for path in student.rglob("*") if path.is_file()}
    assert not (student / "autograder" / "data").exists()
    for path in hw5.DATA_DIR.rglob("*"):
        assert not (path.is_file() and path.read_bytes() in shipped), path


# ------------------------------------------------------------------------------- the cases


def _differs(wrong: Any, right: Any) -> bool:
    return compare(wrong, right, tensor=True, **LOSS_TOL) is not None


def _inputs(cases: Callable[[np.random.Generator], Any], seed: int) -> list[tuple[Any, ...]]:
    return [inputs for _, inputs in cases(np.random.default_rng(seed))]


@pytest.mark.parametrize("seed", CASE_SEEDS)
def test_the_cql_cases_tell_the_actions_from_the_batch_and_need_logsumexp(seed):
    """A soft maximum over the batch (dim 0) gives another value, or fails, in every case;
    and one case overflows a plain log(sum(exp))."""
    overflows = False
    for q_values, actions, alpha, temperature in _inputs(hw5._cql_cases, seed):
        assert q_values.shape[0] != q_values.shape[1]
        with torch.no_grad():
            naive = (
                alpha
                * (
                    temperature * torch.log(torch.exp(q_values / temperature).sum(1))
                    - q_values.gather(1, actions[:, None]).squeeze(1)
                ).mean()
            )
        overflows |= not bool(torch.isfinite(naive))
    assert overflows


@pytest.mark.parametrize("seed", CASE_SEEDS)
def test_some_advantage_weights_are_clipped_and_some_are_below_one(seed):
    for _, advantages, temperature, max_weight in _inputs(hw5._weighted_loss_cases, seed):
        weights = torch.exp(advantages / temperature)
        assert bool((weights > max_weight).any()) and bool((weights < 1.0).any())


@pytest.mark.parametrize("seed", CASE_SEEDS)
def test_the_expectile_cases_swap_weights_visibly(seed):
    """Weights tau and 1 - tau swapped change the loss wherever tau is not 0.5 (both signs
    of the differences are in every batch); the cases hold expectiles on both sides of 0.5."""
    expectiles = set()
    for differences, expectile in _inputs(hw5._expectile_cases, seed):
        expectiles.add(expectile)
        right = ref.expectile_loss(differences, expectile)
        if expectile != 0.5:
            assert _differs(ref.expectile_loss(differences, 1.0 - expectile), right)
    assert min(expectiles) < 0.5 < max(expectiles)


@pytest.mark.parametrize("seed", CASE_SEEDS)
def test_the_running_std_cases_carry_sigma_and_need_the_population_std(seed):
    cases = _inputs(hw5._running_std_cases, seed)
    update = hw5.ref_exploration.update_running_std
    for (running, errors, decay), (following, *_) in zip(cases[:3], cases[1:4], strict=True):
        assert following == pytest.approx(update(running, errors, decay))
    assert any(
        abs(
            update(running, errors, decay)
            - (decay * running + (1 - decay) * errors.std(correction=1).item())
        )
        > 1e-4
        for running, errors, decay in cases
        if len(errors) > 1 and decay < 1.0
    )


def _agent(seed: int, algorithm: str, case: tuple[Any, ...]) -> tuple[Any, tuple[Any, ...]]:
    made = hw5._agent_setup(np.random.default_rng(seed), algorithm, case)
    return made.agent, hw5.batch_tensors(made.batch)


@pytest.mark.parametrize("seed", CASE_SEEDS)
def test_the_target_network_differs_from_the_online_one_in_every_loss(seed):
    """IQL's V and advantages from the online network instead of the target network, and
    AWAC's next values from the online network, give other losses in every agent case."""
    for case in hw5._AGENT_CASES:
        agent, (observations, actions, rewards, next_observations, terminated) = _agent(
            seed, "iql", case
        )
        with torch.no_grad():
            values = agent.value_network(observations)
            online = ref.gather_actions(agent.q_network(observations), actions)
            target = ref.gather_actions(agent.target_network(observations), actions)
            expectile = agent.config.expectile
            assert _differs(
                ref.expectile_loss(online - values, expectile),
                ref.expectile_loss(target - values, expectile),
            )
        awac, (observations, actions, rewards, next_observations, terminated) = _agent(
            seed, "awac", case
        )
        with torch.no_grad():
            probs = awac.actor(next_observations).exp()
            gamma = awac.config.gamma
            right = ref.awac_target(
                rewards, awac.target_network(next_observations), probs, terminated, gamma
            )
            wrong = ref.awac_target(
                rewards, awac.q_network(next_observations), probs, terminated, gamma
            )
            assert _differs(F.mse_loss(wrong, right), torch.zeros(()))


# ------------------------------------------------------------------------------- grading


@pytest.fixture(scope="module")
def graded() -> AuditReport:
    """The reference and the bare starter, once each, on the fast checks."""
    return audit_homework("hw5", seeds=SEEDS[:1], mutants=[], alternatives=[], jobs=2, fast=True)


def test_the_reference_gets_full_marks(graded):
    assert_reference_full_marks(graded, SEEDS[0], len(FAST))


def test_the_bare_starter_gets_zero_with_clear_feedback(graded):
    assert_starter_gets_zero(graded, len(FAST))


# ------------------------------------------------------------------------------- the audit


@pytest.fixture(scope="module")
def audited() -> AuditReport:
    return make_test_audit("hw5")


def test_mutant_names_are_unique():
    assert len({mutant.name for mutant in MUTANTS}) == len(MUTANTS) >= 15  # the floor


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_each_mutant_patches_one_place_inside_a_solution_region(mutant):
    assert_patches_one_solution_place(mutant, suite_checks("hw5"))


@pytest.mark.slow
@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_each_mutant_loses_points_on_a_check_of_its_function(audited, mutant):
    assert_killed(audited, mutant)


@pytest.mark.slow
def test_the_whole_audit_passes():
    assert_whole_audit_passes("hw5", MUTANTS, len(FAST))

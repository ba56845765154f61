"""The hidden suite of homework 4: its shape, the reference's full marks and the bare starter's
zero with clear feedback (one grading of each, ``make test``), what its cases must hold to
separate the bugs they are there for (proved here on the reference, in the grader), and the
audit against the mutant catalog (:mod:`autograder.mutants.hw4`) and the correct alternatives,
which is ``slow``.
"""

from __future__ import annotations

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

from autograder.audit import AuditReport, audit_homework
from autograder.judging import compare
from autograder.mutants.hw4 import MUTANTS
from autograder.suites import hw4

FAST = fast_suite_checks("hw4")
CASE_SEEDS = range(6)
"""Generators the cases are drawn from below, as a grading draws them from its seed."""


def test_the_suite_is_well_formed():
    assert suite_package("hw4") == "hw4_model_based"
    assert sum(check.points for check in FAST) == pytest.approx(100.0)
    assert sum(check.points for check in suite_checks("hw4")) == pytest.approx(120.0)
    assert len({check.name for check in suite_checks("hw4")}) == len(suite_checks("hw4"))
    kinds = {check.kind for check in suite_checks("hw4")}
    assert kinds == {"value", "gradient", "update", "learning"}
    functions = {check.function for check in FAST}
    assert functions == {
        "mean_and_std",
        "DynamicsEnsemble.update_statistics",
        "DynamicsEnsemble.forward",
        "DynamicsEnsemble.predict",
        "DynamicsEnsemble.loss",
        "bootstrap_indices",
        "update_ensemble",
        "cem_refit",
        "random_shooting",
        "predicted_returns",
        "cem",
        "step_members",
        "model_rollouts",
        "branch_rollouts",
        "mixed_batch",
    }
    learning = [check for check in suite_checks("hw4") if check.kind == "learning"]
    assert [(check.name, check.function) for check in learning] == [
        ("learning curve: Obstacles-v0", "MPCTrainer")
    ]
    (task,) = learning_tasks("hw4")
    assert task.policy == "ensemble" and task.milestones == (2000, 3000)
    # the grader's SAC, whatever the submission holds in hw3_q_learning
    assert [path.name for path in hw4.SUITE.sandbox["given"]] == [
        "infrastructure",
        "hw3_q_learning",
    ]


def test_the_ensembles_statistics_are_in_its_state_dict():
    """What the learning check loads into the grader's ensemble: the trained statistics."""
    _, _, ensemble = hw4._ensemble(np.random.default_rng(0), (2, 2, 3, 1, 8, "relu"))
    state = ensemble.state_dict()
    for name in hw4.STATISTICS:
        assert torch.equal(state[name], getattr(ensemble, name))


# ------------------------------------------------------------------------------- the cases


def _rollout_steps(case: Any) -> list[tuple[int, int]]:
    """``(running, terminated)`` at each step of the reference's rollouts of a rollout case."""
    real = hw4.ReplayBuffer(case.config["buffer_size"])
    real.load_state_dict(case.real)
    starts = hw4.f32(real.sample(case.config["num_rollouts"])["observations"])
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(case.torch_seed)
        rollouts = hw4.ref_mbpo.model_rollouts(
            case.ensemble,
            lambda observations: case.actor.sample(observations)[0],
            hw4._REWARD,
            hw4._TERMINATION,
            starts,
            case.config["rollout_length"],
            torch.Generator().manual_seed(case.seed),
        )
    terminated = rollouts["terminated"].tolist()
    steps, running = [], len(starts)
    while terminated:
        ended = sum(terminated[:running])
        steps.append((running, ended))
        terminated, running = terminated[running:], running - ended
    return steps


@pytest.mark.parametrize("seed", CASE_SEEDS)
def test_the_rollouts_end_at_the_goal_before_their_last_step_and_some_run_it_all(seed):
    """A rollout that goes on after a terminal state, or a terminal transition dropped, shows
    only where a terminal comes before the last step; a rollout one step short, only where
    some run all k."""
    rng = np.random.default_rng(seed)
    for shape in hw4._ROLLOUT_CASES:
        case = hw4._rollouts_setup(rng, shape)
        steps = _rollout_steps(case)
        assert len(steps) == case.config["rollout_length"], steps
        assert sum(ended for _, ended in steps[:-1]) > 0, steps
        assert steps[-1][0] - steps[-1][1] > 0, steps


WRONG_RETURNS = (
    "mean of the states",
    "first member only",
    "sum over the members",
    "discounted",
    "one step short",
)
"""Wrong ways of computing predicted returns, as :mod:`autograder.mutants.hw4` writes them."""


def _returns(case: Any, observation: np.ndarray, candidates: torch.Tensor, how: str) -> Any:
    """Predicted returns of ``candidates``: the reference's, or one of :data:`WRONG_RETURNS`."""
    ensemble, start = case.ensemble, hw4.f32(observation)
    if how == "reference":
        return hw4.ref_planning.predicted_returns(ensemble, hw4._REWARD, start, candidates)
    members, (n, horizon, _) = ensemble.ensemble_size, candidates.shape
    states = start.expand(members, n, -1)
    returns = torch.zeros(members, n)
    for t in range(horizon - 1 if how == "one step short" else horizon):
        actions = candidates[:, t].expand(members, n, -1)
        next_states = ensemble.predict(states, actions)
        if how == "mean of the states":
            next_states = next_states.mean(0).expand(members, n, -1)
        reward = hw4._REWARD(states, actions, next_states)
        returns = returns + (0.99**t if how == "discounted" else 1.0) * reward
        states = next_states
    if how == "first member only":
        return returns[0]
    return returns.sum(0) if how == "sum over the members" else returns.mean(0)


def _chosen(case: Any, how: str) -> list[int]:
    """The candidate random shooting picks in each plan of a planning case: of the highest
    (``argmax``) or lowest (``argmin``) predicted return, or the ``first``."""
    generator = torch.Generator().manual_seed(case.seed)
    config = case.config
    shape = (config["num_sequences"], config["horizon"], 2)
    low, high = hw4._BOUNDS
    picks = []
    with torch.no_grad():
        for observation in case.observations:
            candidates = low + (high - low) * torch.rand(shape, generator=generator)
            returns = _returns(case, observation, candidates, "reference")
            if how == "argmin":
                picks.append(int(returns.argmin()))
            elif how == "first":
                picks.append(0)
            else:
                picks.append(int(returns.argmax()))
    return picks


@pytest.mark.parametrize("seed", CASE_SEEDS)
def test_the_random_shooting_cases_tell_the_best_candidate_from_the_worst_and_the_first(seed):
    rng = np.random.default_rng(seed)
    for shape in hw4._RANDOM_SHOOTING_CASES:
        case = hw4._plans_setup(rng, shape)
        best = _chosen(case, "argmax")
        assert best != _chosen(case, "argmin")
        assert best != _chosen(case, "first")


def test_the_predicted_returns_cases_hold_several_members_horizons_and_batch_sizes():
    """A sum over one member is its mean; a horizon of 1 and a batch of one sequence are the
    edge cases a loop or a reshape gets wrong."""
    shapes = [
        (members, *shape)
        for members, *_, batches in hw4._PREDICTED_RETURNS_CASES
        for shape in batches
    ]
    assert all(members >= 2 for members, *_ in shapes)
    horizons, sizes = {horizon for _, horizon, _ in shapes}, {n for *_, n in shapes}
    assert 1 in horizons and max(horizons) > 1 and 1 in sizes and max(sizes) > 1


@pytest.mark.parametrize("seed", CASE_SEEDS)
def test_the_predicted_returns_cases_tell_every_wrong_return_from_the_right_one(seed):
    """Each wrong way of computing the returns (averaging the members' states before the
    reward, the first member alone, a sum over members, a discount, a step short) misses
    the reference's returns by more than the check's tolerance in some batch of the check's
    cases (a check fails on any case that fails)."""
    rng = np.random.default_rng(seed)
    cases = [hw4._returns_setup(rng, shape) for shape in hw4._PREDICTED_RETURNS_CASES]
    batches = [
        (case, observation, torch.from_numpy(sequences))
        for case in cases
        for observation, sequences in case.batches
    ]
    with torch.no_grad():
        for wrong in WRONG_RETURNS:
            assert any(
                compare(
                    _returns(*batch, wrong),
                    _returns(*batch, "reference"),
                    tensor=True,
                    **hw4.PLAN_TOL,
                )
                is not None
                for batch in batches
            ), wrong


def test_every_mixed_minibatch_takes_from_both_buffers_and_some_share_needs_rounding():
    shares = [(ratio, size) for ratio, size, *_ in hw4._MIXED_CASES]
    for real_ratio, batch_size in shares:
        assert 0 < round(real_ratio * batch_size) < batch_size
        assert round(real_ratio * batch_size) != round((1 - real_ratio) * batch_size)
    assert any(round(ratio * size) != int(ratio * size) for ratio, size in shares)


# ------------------------------------------------------------------------------- grading


@pytest.fixture(scope="module")
def graded() -> AuditReport:
    """The reference and the bare starter, once each, on the fast checks."""
    return audit_homework("hw4", seeds=SEEDS[:1], mutants=[], alternatives=[], jobs=2, fast=True)


def test_the_reference_gets_full_marks(graded):
    assert_reference_full_marks(graded, SEEDS[0], len(FAST))


def test_the_bare_starter_gets_zero_with_clear_feedback(graded):
    assert_starter_gets_zero(graded, len(FAST))


# ------------------------------------------------------------------------------- the audit


@pytest.fixture(scope="module")
def audited() -> AuditReport:
    return make_test_audit("hw4")


def test_mutant_names_are_unique():
    assert len({mutant.name for mutant in MUTANTS}) == len(MUTANTS) >= 15  # the floor


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_each_mutant_patches_one_place_inside_a_solution_region(mutant):
    assert_patches_one_solution_place(mutant, suite_checks("hw4"))


@pytest.mark.slow
@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_each_mutant_loses_points_on_a_check_of_its_function(audited, mutant):
    assert_killed(audited, mutant)


@pytest.mark.slow
def test_the_whole_audit_passes():
    assert_whole_audit_passes("hw4", MUTANTS, len(FAST))

"""The hidden suite of homework 5: its shape, the reference's full marks and the bare starter's
zero with clear feedback (one grading of each, ``make test``), what its cases must hold to
separate the bugs they are there for (proved here on the reference, in the grader), and the
audit against the mutant catalog (:mod:`autograder.mutants.hw5`) and the correct alternatives,
which is ``slow``.
"""

from __future__ import annotations

from collections.abc import Callable
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
from conftest import fast_suite_checks, suite_checks, suite_package
from torch.nn import functional as F

from autograder.audit import AuditReport, audit_homework
from autograder.judging import LOSS_TOL, compare
from autograder.mutants.hw5 import MUTANTS
from autograder.suites import hw5

FAST = fast_suite_checks("hw5")
CASE_SEEDS = range(6)
"""Generators the cases are drawn from below, as a grading draws them from its seed."""
ref = hw5.ref_offline


def test_the_suite_is_well_formed():
    assert suite_package("hw5") == "hw5_offline"
    assert sum(check.points for check in FAST) == pytest.approx(100.0)
    assert len(suite_checks("hw5")) == len(FAST)  # no learning check yet
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
    }


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

"""The check kit (:mod:`autograder.kit`): a :class:`Suite` refuses what the engine could not
grade (a package that is no name, an unknown feedback level, entries that are not checks, two
checks of one name, learning included), and builds one learning check per :class:`Learning`
entry, named by its task, graded by its trainer, in a sandbox that serves the task's
environment when its milestones count environment steps. Its statistical judges accept a
correct sampler and refuse the joint-law bugs they are for; its update judges leave alone
gradients that an update cleared after its step, and compare them otherwise."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from autograder.checks import Check, Outcome
from autograder.kit import (
    Learning,
    Suite,
    gaussian_sample_tests,
    gaussian_samples_problem,
    tensors_problem,
)
from autograder.learning import LearningTask

TASK = LearningTask(
    "CartPole-v1",
    "hw2_policy_gradient.run",
    "Trainer",
    {},
    "CartPole-v1",
    (1000,),
    policy="agent.policy",
)


def check(name: str, kind: str = "value") -> Check:
    return Check(name, "f", kind, 1.0, lambda sandbox, rng: Outcome(1.0, "ok"))  # type: ignore[arg-type]


def test_a_suite_builds_a_learning_check_per_entry_after_its_fast_checks() -> None:
    dagger = dataclasses.replace(TASK, name="DAgger", trainer="DAggerTrainer", env_steps=False)
    suite = Suite(
        hw="hw2",
        package="hw2_policy_gradient",
        checks=[check("a"), check("b")],
        learning=[Learning(TASK, points=10, timeout_s=150), Learning(dagger, 5, 60)],
    )
    names = [(c.name, c.function, c.kind, c.points) for c in suite.all_checks]
    assert names == [
        ("a", "f", "value", 1.0),
        ("b", "f", "value", 1.0),
        ("learning curve: CartPole-v1", "Trainer", "learning", 10),
        ("learning curve: DAgger", "DAggerTrainer", "learning", 5),
    ]
    cartpole, dagger_check = suite.all_checks[2:]
    assert cartpole.timeout_s == 150 and cartpole.sandbox is not None
    assert cartpole.sandbox["serve_envs"] == ("CartPole-v1",)
    assert dagger_check.sandbox is not None and dagger_check.sandbox["serve_envs"] == ()
    assert suite.tasks == [TASK, dagger]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"package": "not a name"}, "expected a package name, got 'not a name'"),
        ({"feedback": "everything"}, "feedback to be one of full, property, got 'everything'"),
        ({"checks": [check("a"), "b"]}, "expected checks to be a list of Check"),
        ({"learning": [TASK]}, "expected learning to be a list of Learning"),
        ({"checks": [check("a"), check("a")]}, r"expected unique check names, got \['a'\]"),
        (
            {"checks": [check("learning curve: CartPole-v1")], "learning": [Learning(TASK, 1, 1)]},
            r"unique check names, got \['learning curve: CartPole-v1'\]",
        ),
    ],
    ids=["package", "feedback", "not-a-check", "not-learning", "twice", "twice-with-learning"],
)
def test_a_suite_refuses_what_the_engine_could_not_grade(
    fields: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {"hw": "hw2", "package": "hw2_policy_gradient", "checks": []}
    with pytest.raises(ValueError, match=message):
        Suite(**{**arguments, **fields})  # type: ignore[arg-type]


MEANS = np.array([[0.5, -1.0, 2.0], [0.0, 0.3, -0.2]])
SIGMAS = np.array([0.4, 1.5, 0.8])
N = 5_000  # draws per state and call


def draws(rng: np.random.Generator, noise: np.ndarray) -> np.ndarray:
    """Rows of N(mu, sigma^2) for each state of MEANS, from standard ``noise`` (2 N, 3)."""
    return (np.repeat(MEANS, N, axis=0) + noise * SIGMAS).astype(np.float32)


def test_the_gaussian_judge_accepts_independent_draws_and_refuses_shared_ones() -> None:
    tests = gaussian_sample_tests(len(MEANS), len(SIGMAS))
    for seed in range(20):
        rng = np.random.default_rng(seed)
        calls = {c: draws(rng, rng.standard_normal((2 * N, 3))) for c in ("first", "second")}
        assert gaussian_samples_problem(calls, MEANS, SIGMAS, tests) is None
    rng = np.random.default_rng(100)
    one = rng.standard_normal((2 * N, 1))
    shared = draws(rng, np.repeat(one, 3, axis=1))  # one noise for every dimension
    problem = gaussian_samples_problem({"first": shared, "second": shared}, MEANS, SIGMAS, tests)
    assert "dimensions 0 and 1" in str(problem) and "correlated" in str(problem)
    first = draws(rng, rng.standard_normal((2 * N, 3)))
    problem = gaussian_samples_problem({"first": first, "second": first}, MEANS, SIGMAS, tests)
    assert "in two calls" in str(problem)  # the same draw on every call
    wide = {c: draws(rng, 1.1 * rng.standard_normal((2 * N, 3))) for c in ("first", "second")}
    assert "variance" in str(gaussian_samples_problem(wide, MEANS, SIGMAS, tests))
    assert "shape" in str(
        gaussian_samples_problem({"first": first[:, :2], "second": first}, MEANS, SIGMAS, tests)
    )


def test_gradients_cleared_after_a_step_are_not_compared_but_present_ones_are() -> None:
    weight = torch.tensor([1.0, 2.0])
    expected = {"w": weight, "grad w": torch.tensor([0.5, -0.5])}
    for cleared in (None, torch.zeros(2)):
        assert tensors_problem({"w": weight.clone(), "grad w": cleared}, expected, "after") is None
    wrong_value = {"w": weight + 1.0, "grad w": None}
    assert "`w`" in str(tensors_problem(wrong_value, expected, "after"))
    wrong_grad = {"w": weight.clone(), "grad w": torch.tensor([1.0, -1.0])}  # a loss doubled
    assert "`grad w`" in str(tensors_problem(wrong_grad, expected, "after"))

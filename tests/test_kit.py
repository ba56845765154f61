"""The check kit (:mod:`autograder.kit`): a :class:`Suite` refuses what the engine could not
grade (a package that is no name, an unknown feedback level, entries that are not checks, two
checks of one name, learning included), and builds one learning check per :class:`Learning`
entry, named by its task, graded by its trainer, in a sandbox that serves the task's
environment when its milestones count environment steps."""

from __future__ import annotations

import dataclasses

import pytest

from autograder.checks import Check, Outcome
from autograder.kit import Learning, Suite
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

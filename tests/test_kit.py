"""The check kit (:mod:`autograder.kit`): a :class:`Suite` refuses what the engine could not
grade (a package that is no name, an unknown feedback level, entries that are not checks, two
checks of one name, learning included), and builds one learning check per :class:`Learning`
entry, named by its task, graded by its trainer, in a sandbox that serves the task's
environment when its milestones count environment steps. Its statistical judges accept a
correct sampler and refuse the joint-law bugs they are for; its update judges leave alone
gradients that an update cleared after its step, and compare them otherwise. A statistical
check judges each call's draws, fails the rest after a trainer that cannot be built, and
refuses cases that a wrong function passes too; a pure function's check calls the student's
function of the reference's module and name; cases and learning tasks are made from named
inputs and presets."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np
import pytest
import torch

from autograder.checks import Check, GraderError, Outcome
from autograder.kit import (
    AgentCase,
    Learning,
    ModuleCase,
    Sampled,
    Suite,
    Trainer,
    distribution_case,
    function_check,
    gaussian_sample_tests,
    gaussian_samples_problem,
    gradient_check,
    module_check,
    named_case,
    preset_task,
    statistical_check,
    tensors_problem,
)
from autograder.learning import LearningTask
from autograder.sandbox import Failure, Success

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


def sampled(summary: str, value: Any, problem: str | None = None, **fields: Any) -> Sampled:
    """A case whose call returns ``value`` (a Failure: the call failed), judged ``problem``."""
    result = value if isinstance(value, Failure) else Success(value)
    return Sampled(summary, lambda sandbox: result, lambda got: problem, **fields)


def graded(cases: list[Sampled], sandbox: Any = None, trainer: Trainer | None = None) -> Outcome:
    check = statistical_check(
        "draws",
        function="f",
        cases=lambda rng: cases,
        points=1,
        what="the draws",
        hint="h",
        trainer=trainer,
    )
    assert check.kind == "statistical"
    return check.run(sandbox, np.random.default_rng(0))


def test_a_statistical_check_records_each_judge_and_each_failed_call() -> None:
    assert graded([sampled("a", 1), sampled("b", 2)]).fraction == 1.0
    outcome = graded(
        [
            sampled("a", 1),
            sampled("b", Failure("error", "raised ValueError in `f`")),
            sampled("c", 3, "the mean is 3, expected 0"),
        ]
    )
    assert outcome.fraction == 0.0
    assert "1/3 cases match" in outcome.feedback
    assert "First mismatch: b\nraised ValueError in `f`" in outcome.feedback
    outcome = graded([sampled("a", 1), sampled("c", 3, "the mean is 3, expected 0")])
    assert "First mismatch: c\nthe mean is 3, expected 0" in outcome.feedback


def test_a_statistical_check_refuses_cases_that_a_wrong_function_passes_too() -> None:
    assert graded([sampled("a", 1, trivial=True), sampled("b", 2)]).fraction == 1.0
    with pytest.raises(GraderError, match="every one of the 2 cases"):
        graded([sampled("a", 1, trivial=True), sampled("b", 2, trivial=True)])


class Trainers:
    """A sandbox that builds trainers (or fails to: ``fails``) and records each call made."""

    def __init__(self, fails: bool) -> None:
        self.fails = fails
        self.calls: list[str] = []

    def call_method(self, module: str, cls: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(f"build {cls}")
        return Failure("error", "raised in __init__") if self.fails else Success(None)

    def on(self, kept: str, steps: Any, **kwargs: Any) -> Any:
        self.calls.append(f"load {kwargs['label']}")
        return Success(None)


def test_a_statistical_case_with_an_agent_builds_the_trainer_first() -> None:
    trainer = Trainer("hw3_q_learning.run", "DQNTrainer", "kept", 1.0)
    agent = AgentCase("Acrobot", {"env": "Acrobot-v1"}, {("agent", "q_network"): {}}, None, ())

    def case(summary: str, sandbox: Trainers, built: AgentCase | None) -> Sampled:
        def call(sandbox: Any) -> Any:
            sandbox.calls.append(summary)
            return Success(summary)

        return Sampled(summary, call, lambda got: None, agent=built)

    sandbox = Trainers(fails=False)
    cases = [case("first", sandbox, agent), case("second", sandbox, None)]
    assert graded(cases, sandbox, trainer).fraction == 1.0
    assert sandbox.calls == [
        "build DQNTrainer",
        "load agent.q_network.load_state_dict",
        "first",
        "second",
    ]
    sandbox = Trainers(fails=True)
    outcome = graded(
        [case("first", sandbox, agent), case("second", sandbox, None)], sandbox, trainer
    )
    assert sandbox.calls == ["build DQNTrainer"]  # no call runs on a trainer that is not there
    assert outcome.fraction == 0.0 and "0/2 cases match" in outcome.feedback
    with pytest.raises(ValueError, match="draws: expected a trainer for the cases with an agent"):
        graded([case("first", sandbox, agent)], sandbox)


def test_a_pure_function_check_calls_the_function_of_the_reference_s_module_and_name() -> None:
    from hw2_policy_gradient import pg

    value = function_check(
        "v", reference=pg.reward_to_go, cases=lambda rng: [], points=1, describe="d", hint="h"
    )
    assert (value.function, value.kind) == ("reward_to_go", "value")
    grad = gradient_check(
        "g",
        reference=pg.value_loss,
        cases=lambda rng: [],
        wrt=("values",),
        points=1,
        describe="d",
        hint="h",
        function="other_name",
    )
    assert (grad.function, grad.kind) == ("other_name", "gradient")
    nameless = functools.partial(pg.reward_to_go, gamma=0.9)
    with pytest.raises(ValueError, match="expected function= for a reference without a name"):
        function_check(
            "n", reference=nameless, cases=lambda rng: [], points=1, describe="d", hint="h"
        )


def test_a_named_case_shows_each_input_and_keeps_their_order() -> None:
    rewards = np.array([1.0, 0.5])
    summary, inputs = named_case("B=2", rewards=rewards, gamma=0.9, reduction="min")
    assert summary == "B=2: rewards=[1. , 0.5], gamma=0.9, reduction='min'"
    assert inputs[0] is rewards and inputs[1:] == (0.9, "min")
    summary, inputs = named_case(values=torch.zeros(1))  # no note: the inputs alone
    assert summary == "values=[0.]" and len(inputs) == 1


@dataclasses.dataclass
class Preset:
    env: str = "CartPole-v1"
    total_steps: int = 100
    gamma: float = 0.99


def test_a_preset_task_trains_the_preset_with_its_overrides() -> None:
    task = preset_task(
        "CartPole-v1",
        preset=Preset(),
        module="hw2_policy_gradient.run",
        trainer="Trainer",
        milestones=(1000,),
        overrides={"total_steps": 1000},
        policy="agent.policy",
    )
    assert task == LearningTask(
        "CartPole-v1",
        "hw2_policy_gradient.run",
        "Trainer",
        {"env": "CartPole-v1", "total_steps": 1000, "gamma": 0.99},
        "CartPole-v1",
        (1000,),
        policy="agent.policy",
    )
    other = preset_task(
        "BC", preset=Preset(), module="m", trainer="T", milestones=(5,), env="Hopper-v5"
    )
    assert (other.name, other.env, other.config["total_steps"]) == ("BC", "Hopper-v5", 100)


def test_a_distribution_case_fetches_the_values_asked_and_fills_the_reference_s_gradients() -> None:
    from hw2_policy_gradient.policies import GaussianPolicy

    torch.manual_seed(0)
    policy = GaussianPolicy(3, 2, 1, 8, "tanh")
    observations, actions = torch.randn(4, 3), torch.randn(4, 2)
    case = distribution_case("B=4", (3, 2, 1, 8, "tanh"), policy, observations, actions)
    assert list(case.fetch) == ["log_prob(actions)", "entropy()"] and case.items == 3
    distribution = policy.distribution(observations)
    assert torch.equal(case.expected["log_prob(actions)"], distribution.log_prob(actions))
    assert all(parameter.grad is not None for parameter in policy.parameters())
    policy.zero_grad(set_to_none=True)
    case = distribution_case("B=4", (), policy, observations, actions, values=("mean",), grad=False)
    assert torch.equal(case.expected["mean"], distribution.mean) and case.items == 1
    assert not case.grad_steps and all(p.grad is None for p in policy.parameters())
    with pytest.raises(ValueError, match=r"expected values among mean, stddev, .*got \['median'\]"):
        distribution_case("B=4", (), policy, observations, actions, values=("median",))


class Modules:
    """A sandbox whose classes return 3 from every method chain, and that records each class."""

    def __init__(self) -> None:
        self.classes: list[tuple[str, str]] = []

    def call_method(self, module: str, cls: str, *args: Any, **kwargs: Any) -> Success:
        self.classes.append((module, cls))
        return Success(torch.full((1,), 3.0))


def test_a_module_check_builds_the_class_of_the_reference_s_module_and_name() -> None:
    from hw2_policy_gradient.policies import ValueCritic

    def cases(rng: np.random.Generator) -> list[ModuleCase]:
        return [ModuleCase("s", (), None, (), returns=torch.full((1,), 3.0))]

    fields: dict[str, Any] = {"function": "f", "cases": cases, "kind": "value", "points": 1}
    sandbox = Modules()
    check = module_check("m", reference=ValueCritic, what="w", hint="h", **fields)
    assert check.run(sandbox, np.random.default_rng(0)).fraction == 1.0  # type: ignore[arg-type]
    by_name = module_check("n", module="pkg.mod", cls="Other", what="w", hint="h", **fields)
    by_name.run(sandbox, np.random.default_rng(0))  # type: ignore[arg-type]
    assert sandbox.classes == [
        ("hw2_policy_gradient.policies", "ValueCritic"),
        ("pkg.mod", "Other"),
    ]
    with pytest.raises(
        ValueError, match="m: expected reference= \\(a class\\), or module= and cls="
    ):
        module_check("m", what="w", hint="h", **fields)

"""The check kit: what every hidden suite is made of.

A homework's hidden suite (``autograder/suites/hwN.py``) defines one :class:`Suite`, named
``SUITE``: its package, its fast checks in order, its learning-curve checks as
:class:`Learning` specifications (the engine builds their checks), how much of a failure its
students see, and the options of its sandboxes::

    SUITE = Suite(hw="hw2", package="hw2_policy_gradient", checks=[REWARD_TO_GO, ...],
                  learning=[Learning(cartpole_task, points=10, timeout_s=150.0)])

Every check judges in the grader: the reference (the homework's package, imported here)
computes what is expected, the student's code is reached only through the
:class:`~autograder.sandbox.Sandbox`, and every value that comes back is type-, dtype-, shape-
and finiteness-checked before it is compared (:mod:`autograder.judging`).

Each kind of check is a function that returns a :class:`~autograder.checks.Check` from keyword
arguments: the cases, the reference, what is compared, the hint, the points. The engine's
loop (cases, skipping after a failure that leaves the worker unusable, the tally, the
feedback) is written once, here and in :mod:`autograder.judging`:

==========================  ===========================================================
:func:`function_check`      a pure function's value against the reference's, per case
:func:`gradient_check`      its gradient w.r.t. named inputs (some must get none)
:func:`module_check`        a module's methods with the reference's weights loaded: fetched
                            values, the value they end in, the parameters' gradients
:func:`agent_method_check`  a method of the student's agent, built by its trainer with the
                            reference's weights, against the reference agent's
:func:`agent_update_check`  one ``update`` of that agent: what it reports, the networks'
                            parameters and gradients after it
:func:`statistical_check`   code that samples: what each :class:`Sampled` call drew,
                            against a law known exactly, within a bound that a correct
                            submission misses less than once in a million gradings
==========================  ===========================================================

A pure function's cases are ``(summary, inputs)`` pairs, which :func:`named_case` makes from
the inputs named as the function's parameters; :func:`preset_task` makes a learning task from
the handout's preset.

A check that fits none of these is a ``Check`` with a ``run`` of its own, built from the
pieces below: :meth:`Trainer.build`, :func:`expect_fetched`, :func:`parameter_grads_problem`,
:func:`tensors_problem`, :func:`network_step_problem` (an update's usual judge),
:func:`replay_batch`, :func:`perturbed`, and for statistics :data:`FAILURE_RATE`,
:func:`bernstein_half_width`, :func:`hoeffding_half_width`, :func:`chi_square_bounds`,
:func:`mean_problem` (an estimator's mean), :func:`frequencies_problem` (a categorical
sampler) and :func:`gaussian_samples_problem` (a Gaussian sampler's joint law over two calls).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from autograder.checks import (
    DEFAULT_FEEDBACK,
    DEFAULT_TIMEOUT_S,
    FEEDBACK_LEVELS,
    Check,
    Feedback,
    Kind,
    Outcome,
)
from autograder.judging import (
    CALL_TIMEOUT_S,
    LOSS_TOL,
    Cases,
    Tally,
    Tolerance,
    compare,
    f32,
    fmt,
    loss_grad_check,
    loss_value_check,
    no_gradient,
    returned,
    state_dict_of,
    torch_seed,
)
from autograder.learning import LearningTask, learning_check_of
from autograder.sandbox import Attr, Method, Result, Sandbox, Step

FAILURE_RATE = 1e-6
"""How often a statistical check may fail a correct submission, at most, over all its tests
together: less than once in a million gradings."""


@dataclass(frozen=True)
class Learning:
    """A learning-curve check of a suite: its task, points and wall-clock limit."""

    task: LearningTask
    points: float
    timeout_s: float
    """The whole run's limit (the check's sandbox gets CPU time for twice as long)."""


def preset_task(
    name: str,
    *,
    preset: Any,
    module: str,
    trainer: str,
    milestones: tuple[int, ...],
    env: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    **fields: Any,
) -> LearningTask:
    """The learning task that trains the handout's ``preset`` (its config dataclass, as the
    student runs it) with ``overrides`` on top (the run's length, its evaluations), by
    ``module.trainer``, judged in ``env`` (by default ``name``) at ``milestones``; ``fields``
    are the task's others (:class:`~autograder.learning.LearningTask`: ``target``,
    ``policy``, ...)."""
    config = {**dataclasses.asdict(preset), **(overrides or {})}
    return LearningTask(name, module, trainer, config, env or name, milestones, **fields)


@dataclass(frozen=True)
class Suite:
    """A homework's hidden suite: what the engine grades and how."""

    hw: str
    """The homework, e.g. ``hw2``: its calibration file is ``autograder/calibration/hw2.json``."""
    package: str
    """The student's package, e.g. ``hw2_policy_gradient``."""
    checks: Sequence[Check]
    """The fast checks, in the order they run and are reported."""
    learning: Sequence[Learning] = ()
    """The learning-curve checks, run after the fast ones (left out by ``--fast``)."""
    feedback: Feedback = DEFAULT_FEEDBACK
    """How much of a failed check the student's ``results.json`` shows
    (:data:`~autograder.checks.Feedback`): ``"property"``, which property failed and how many
    cases matched; ``"full"`` adds the first mismatch's inputs, expected and got values and
    the hint. Staff always see everything (``staff.json``, ``rlhw grade``'s table)."""
    sandbox: Mapping[str, Any] = field(default_factory=dict)
    """Options of every sandbox of the suite (:class:`~autograder.sandbox.Sandbox`), e.g.
    ``given``: the grader's own data copied over the submission's."""

    def __post_init__(self) -> None:
        if not self.package.isidentifier():
            raise ValueError(f"expected a package name, got {self.package!r}")
        if self.feedback not in FEEDBACK_LEVELS:
            raise ValueError(
                f"expected feedback to be one of {', '.join(FEEDBACK_LEVELS)}, got "
                f"{self.feedback!r}"
            )
        if not all(isinstance(check, Check) for check in self.checks):
            raise ValueError("expected checks to be a list of Check")
        if not all(isinstance(spec, Learning) for spec in self.learning):
            raise ValueError("expected learning to be a list of Learning")
        names = [check.name for check in self.all_checks]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"expected unique check names, got {duplicates}")

    @functools.cached_property
    def all_checks(self) -> list[Check]:
        """The fast checks, then one learning-curve check per :attr:`learning` entry, graded
        by the trainer's class (the function a failure names)."""
        return [
            *self.checks,
            *(
                learning_check_of(
                    self.hw,
                    spec.task,
                    points=spec.points,
                    timeout_s=spec.timeout_s,
                    function=spec.task.trainer,
                )
                for spec in self.learning
            ),
        ]

    @property
    def tasks(self) -> list[LearningTask]:
        """What ``rlhw calibrate`` runs: the learning checks' tasks."""
        return [spec.task for spec in self.learning]


# ------------------------------------------------------------------------------- statistics


def bernstein_half_width(samples: np.ndarray, value_range: float, tests: int) -> np.ndarray:
    """Half-width, per component of ``samples`` (n, ...), that their mean stays within around
    its expectation, with probability at least 1 - :data:`FAILURE_RATE` over all ``tests``
    components together (the empirical Bernstein bound of Maurer and Pontil, 2009, both
    sides, a union bound over the tests); ``value_range`` bounds each sample's range."""
    n = len(samples)
    log_term = math.log(4.0 * tests / FAILURE_RATE)
    variance = samples.var(axis=0, ddof=1)
    return np.sqrt(2.0 * variance * log_term / n) + 7.0 * value_range * log_term / (3.0 * (n - 1))


def hoeffding_half_width(n: int, tests: int) -> float:
    """Half-width that the mean of ``n`` independent indicators (values in [0, 1]) stays
    within around its expectation, with probability at least 1 - :data:`FAILURE_RATE` over
    all ``tests`` such means together (Hoeffding, both sides, a union bound)."""
    return math.sqrt(math.log(2.0 * tests / FAILURE_RATE) / (2.0 * n))


def chi_square_bounds(n: int, tests: int) -> tuple[float, float, float]:
    """``(z, low, high)`` for ``n`` draws of a Gaussian, over ``tests`` tests together: the
    sample mean stays within ``z`` standard errors of mu, and the sample variance S^2 within
    ``[low, high]`` times sigma^2, each with probability at least 1 - :data:`FAILURE_RATE` /
    ``tests``. The mean is exactly N(mu, sigma^2 / n), so |mean - mu| > z sigma / sqrt(n)
    with probability at most 2 exp(-z^2 / 2); (n - 1) S^2 / sigma^2 is chi-square with k =
    n - 1 degrees of freedom, and for X of that law (Laurent and Massart, 2000, Lemma 1)
    P(X >= k + 2 sqrt(k x) + 2 x) <= exp(-x) and P(X <= k - 2 sqrt(k x)) <= exp(-x)."""
    x = math.log(2.0 * tests / FAILURE_RATE)
    k = n - 1
    return (
        math.sqrt(2.0 * x),
        (k - 2.0 * math.sqrt(k * x)) / k,
        (k + 2.0 * math.sqrt(k * x) + 2.0 * x) / k,
    )


def mean_problem(
    estimates: np.ndarray, expected: np.ndarray, half_width: np.ndarray, what: str
) -> str | None:
    """What is wrong with the mean of ``estimates`` (n, ...) against ``expected`` within
    ``half_width`` (a bound of :func:`bernstein_half_width` or its kind); None when it is
    within."""
    mean = estimates.mean(axis=0)
    if np.all(np.abs(mean - expected) <= half_width):
        return None
    return (
        f"{what}: the mean over {len(estimates)} samples is {fmt(mean)}, expected "
        f"{fmt(expected)} within +-{fmt(half_width)} (a correct submission is outside these "
        "bounds less than once in a million gradings)"
    )


def gaussian_sample_tests(states: int, action_dim: int) -> int:
    """The bounds :func:`gaussian_samples_problem` tests for ``states`` states of
    ``action_dim`` dimensions: in each state, each dimension's mean and variance in each of
    the two calls, and the variance of the standardised sum and difference of each pair of
    dimensions (first call) and of each dimension across the two calls."""
    pairs = action_dim * (action_dim - 1) // 2
    return states * (2 * 2 * action_dim + 2 * pairs + 2 * action_dim)


def gaussian_samples_problem(
    value: Any, means: np.ndarray, sigmas: np.ndarray, tests: int
) -> str | None:
    """What is wrong with two calls' samples of N(mu, diag(sigma^2)) (``value``: ``first`` and
    ``second``, each ``(S * n, D)``: ``n`` rows for each of the ``S`` states of ``means``
    (S, D); ``sigmas`` (D,)): each call's marginals, the first call's dimensions pairwise,
    and the two calls against each other, within :func:`chi_square_bounds` over ``tests``
    tests in all (:func:`gaussian_sample_tests` per network). Standardised with the true mu
    and sigma, independent N(0, 1) variables u and v have (u + v) / sqrt(2) and (u - v) /
    sqrt(2) independent N(0, 1) too, so their sample variances obey the same chi-square
    bounds as a dimension's: shared noise (v = u) makes the difference's variance 0, a
    repeated draw makes the calls' 0."""
    states, dims = means.shape
    if type(value) is not dict or set(value) != {"first", "second"}:
        return "the sampling calls returned an unexpected value"
    standardised = []
    for call in ("first", "second"):
        samples = value[call]
        if type(samples) is not np.ndarray or samples.dtype.kind != "f":
            kind = f"dtype {samples.dtype}" if type(samples) is np.ndarray else type(samples)
            return f"the samples are {kind}, expected a floating-point NumPy array"
        if samples.ndim != 2 or samples.shape[1] != dims or len(samples) % states:
            return f"the samples have shape {samples.shape}, expected (N, {dims})"
        if not np.all(np.isfinite(samples)):
            return "the samples hold non-finite values"
        n = len(samples) // states
        standardised.append((samples - np.repeat(means, n, axis=0)) / sigmas)
    z, low, high = chi_square_bounds(n, tests)
    first, second = standardised
    for state in range(states):
        rows = slice(state * n, (state + 1) * n)
        for call, samples in (("first", first), ("second", second)):
            mean, variance = samples[rows].mean(axis=0), samples[rows].var(axis=0, ddof=1)
            for j in range(dims):
                where = f"{call} call, state {state}, dimension {j}"
                if abs(mean[j]) > z / math.sqrt(n):
                    mu, width = means[state, j], z * sigmas[j] / math.sqrt(n)
                    got = mu + mean[j] * sigmas[j]
                    return (
                        f"{where}: the mean of the samples is {got:.4f}, expected mu = "
                        f"{mu:.4f} within +-{width:.4f}"
                    )
                if not low <= variance[j] <= high:
                    s2 = sigmas[j] ** 2
                    return (
                        f"{where}: the variance of the samples is {variance[j] * s2:.4f}, "
                        f"expected sigma^2 = {s2:.4f} within [{low * s2:.4f}, {high * s2:.4f}]"
                    )
        pairs = [
            (f"dimensions {j} and {k}", first, j, k)
            for j in range(dims)
            for k in range(j + 1, dims)
        ]
        calls = [(f"dimension {j} in two calls", second, j, j) for j in range(dims)]
        combinations = [
            (
                where,
                "the same noise in both" if other is first else "the same draw in both calls",
                first[rows, j],
                other[rows, k],
            )
            for where, other, j, k in pairs + calls
        ]
        for where, cause, u, v in combinations:
            for sign, name in ((1.0, "sum"), (-1.0, "difference")):
                variance = float(((u + sign * v) / math.sqrt(2.0)).var(ddof=1))
                if not low <= variance <= high:
                    return (
                        f"state {state}, {where}: the variance of the standardised {name} is "
                        f"{variance:.4f}, expected 1 within [{low:.4f}, {high:.4f}] for "
                        f"independent draws ({'correlated' if variance else cause})"
                    )
    return None


def frequencies_problem(samples: Any, probabilities: np.ndarray, half_width: float) -> str | None:
    """What is wrong with ``samples`` (N,), one draw per row of a categorical law whose
    probabilities are ``probabilities`` (N, A): the frequency of each action, and of each
    row's most likely action, against their expectations within ``half_width``
    (:func:`hoeffding_half_width` over A + 1 tests per call)."""
    rows, actions = probabilities.shape
    if type(samples) is not np.ndarray or samples.shape != (rows,):
        got = f"{type(samples).__name__} {getattr(samples, 'shape', '')}"
        return f"the call returned {got}, expected an array of shape {(rows,)}"
    if samples.dtype.kind not in "iu" or np.any(samples < 0) or np.any(samples >= actions):
        return f"the call returned {samples.dtype} values outside the integers [0, {actions})"
    likeliest = probabilities.argmax(axis=1)
    tests = [("the most likely action", samples == likeliest, probabilities.max(axis=1).mean())]
    tests += [(f"action {a}", samples == a, probabilities[:, a].mean()) for a in range(actions)]
    for what, hits, expected in tests:
        frequency = float(hits.mean())
        if abs(frequency - expected) > half_width:
            return (
                f"{what} was drawn {frequency:.4f} of the time, expected {expected:.4f} "
                f"+- {half_width:.4f} (a correct sampler is outside these bounds less than "
                "once in a million gradings)"
            )
    return None


# ------------------------------------------------------------------------------- minibatches


def replay_batch(
    rng: np.random.Generator, size: int, obs_dim: int, actions: int | None, act_dim: int = 0
) -> dict[str, np.ndarray]:
    """A replay minibatch of ``size`` transitions, NumPy arrays: ``actions`` discrete
    actions, or continuous ones of ``act_dim`` in [-1, 1]; the first transition terminated,
    the last not, so that both kinds of end are in every batch."""
    if actions is not None:
        action_array = rng.integers(actions, size=size).astype(np.int64)
    else:
        action_array = rng.uniform(-1.0, 1.0, size=(size, act_dim)).astype(np.float32)
    terminated = rng.random(size) < 0.3
    terminated[0], terminated[-1] = True, False
    return {
        "observations": rng.normal(size=(size, obs_dim)).astype(np.float32),
        "actions": action_array,
        "rewards": rng.normal(size=size).astype(np.float32),
        "next_observations": rng.normal(size=(size, obs_dim)).astype(np.float32),
        "terminated": terminated.astype(np.float32),
    }


def batch_tensors(batch: Mapping[str, np.ndarray]) -> tuple[torch.Tensor, ...]:
    """``(observations, actions, rewards, next_observations, terminated)`` of a
    :func:`replay_batch`, as tensors (continuous actions float32, discrete int64)."""
    actions = torch.as_tensor(batch["actions"])
    return (
        torch.as_tensor(batch["observations"]),
        actions if actions.dtype == torch.int64 else actions.float(),
        torch.as_tensor(batch["rewards"]),
        torch.as_tensor(batch["next_observations"]),
        torch.as_tensor(batch["terminated"]),
    )


def perturbed(
    state: Mapping[str, torch.Tensor], rng: np.random.Generator, scale: float = 0.1
) -> dict[str, torch.Tensor]:
    """Other weights of the same shapes as ``state``: a target network that differs from its
    online network."""
    return {
        name: (tensor + f32(rng.normal(size=tuple(tensor.shape)) * scale)).detach().clone()
        for name, tensor in state.items()
    }


# ------------------------------------------------------------------------------- trainers


def load_states(
    sandbox: Sandbox,
    tally: Tally,
    summary: str,
    *,
    kept: str,
    states: Mapping[tuple[str, ...], Mapping[str, Any]],
) -> bool:
    """Load each of ``states`` (see :meth:`Trainer.build`) into the trainer kept under
    ``kept``; False, recorded in ``tally``, at the first that fails."""
    for path, state in states.items():
        result = sandbox.on(
            kept,
            [*(Attr(p) for p in path), Method("load_state_dict", (dict(state),))],
            fetch={},
            timeout_s=CALL_TIMEOUT_S,
            label=f"{'.'.join(path)}.load_state_dict",
        )
        ok, _ = returned(result, tally, f"{summary} (loading the reference's weights)")
        if not ok:
            return False
    return True


# ------------------------------------------------------------------------------- fetched values


def expect_fetched(
    tally: Tally,
    summary: str,
    value: Any,
    expected: Mapping[str, Any],
    *,
    inputs: Sequence[Any] = (),
    call: str = "the call",
    tensor: bool = True,
) -> None:
    """One case per entry of ``expected`` (a name, such as ``log_prob(actions)``, to the
    reference's tensor, or NumPy array unless ``tensor``) against the same entry of ``value``,
    a dict the sandbox fetched; when ``value`` is not such a dict, the first case fails
    (``call`` returned an unexpected value) and the others are skipped."""
    if type(value) is not dict or set(value) != set(expected):
        tally.record(summary, f"{call} returned an unexpected value")
        tally.skip(len(expected) - 1)
        return
    for name, want in expected.items():
        tally.expect(
            summary, value[name], want, inputs=inputs, tensor=tensor, what=name, **LOSS_TOL
        )


def parameter_grads_problem(
    value: Any, module: nn.Module, constants: Sequence[str] = ()
) -> str | None:
    """What differs between the gradients a ``module_grad`` call returned (``value``) and the
    ``.grad`` of ``module``'s parameters after the reference's backward pass; None when
    nothing does. Parameters named in ``constants`` must get no gradient."""
    if (
        type(value) is not dict
        or set(value) != {"loss", "grads"}
        or type(value["grads"]) is not dict
    ):
        return "the gradient call returned an unexpected value"
    grads = value["grads"]
    for name, parameter in module.named_parameters():
        got = grads.get(name)
        if name in constants:
            problem = no_gradient(got, what=f"`{name}`")
        elif got is None:
            problem = f"no gradient reached parameter `{name}`"
        else:
            what = f"the gradient w.r.t. `{name}`"
            problem = compare(got, parameter.grad, tensor=True, what=what, **LOSS_TOL)
        if problem is not None:
            return problem
    return None


# ------------------------------------------------------------------------------- kinds of check


def _student_function(
    reference: Callable[..., Any], module: str | None, function: str | None
) -> tuple[str, str]:
    """``(module, function)`` of the student's code that a check of ``reference`` calls: by
    default the function of the same name in the same module as the reference's (the
    reference is the homework's package, imported in the grader)."""
    name = function or getattr(reference, "__name__", None)
    if name is None:
        raise ValueError(f"expected function= for a reference without a name, got {reference!r}")
    return module or reference.__module__, name


def named_case(note: str = "", /, **inputs: Any) -> tuple[str, tuple[Any, ...]]:
    """One case of :func:`function_check` or :func:`gradient_check`: ``inputs`` in the
    function's order, named as its parameters, and a summary that shows each (``name=value``,
    arrays and tensors by :func:`~autograder.judging.fmt`, strings quoted) after ``note``
    (what the case is for: "B=8, 3 actions, terminated and not")::

        named_case("B=2", rewards=np.array([1.0, 0.5]), gamma=0.9)
        # ("B=2: rewards=[1. , 0.5], gamma=0.9", (array([1. , 0.5]), 0.9))
    """
    shown = ", ".join(f"{name}={_shown(value)}" for name, value in inputs.items())
    return f"{note}: {shown}" if note else shown, tuple(inputs.values())


def _shown(value: Any) -> str:
    """``value`` as a case's summary shows it."""
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return fmt(value)
    return repr(value) if isinstance(value, str) else str(value)


def function_check(
    name: str,
    *,
    reference: Callable[..., Any],
    cases: Callable[[np.random.Generator], Cases],
    points: float,
    describe: str,
    hint: str,
    module: str | None = None,
    function: str | None = None,
    extra: tuple[Any, ...] = (),
    what: str = "the loss",
    tensor: bool = True,
    number: bool = False,
    tolerance: Tolerance = LOSS_TOL,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Check:
    """A value check of a pure function: the student's ``module.function(*inputs, *extra)``
    (by default, the reference's own module and name) against ``reference`` on each of
    ``cases(rng)`` (``(summary, inputs)`` pairs, such as :func:`named_case` makes); the result
    is a tensor (``tensor``), a number (``number``) or a NumPy array, compared within
    ``tolerance`` (float32's by default); ``what`` names it in the feedback, ``describe`` the
    cases."""
    module, function = _student_function(reference, module, function)
    run = loss_value_check(
        module,
        function,
        reference,
        cases,
        extra,
        describe,
        hint,
        what,
        tensor=tensor,
        number=number,
        tolerance=tolerance,
    )
    return Check(name, function, "value", points, run, timeout_s=timeout_s)


def gradient_check(
    name: str,
    *,
    reference: Callable[..., Any],
    cases: Callable[[np.random.Generator], Cases],
    wrt: tuple[str, ...],
    points: float,
    describe: str,
    hint: str,
    module: str | None = None,
    function: str | None = None,
    constants: tuple[str, ...] = (),
    extra: tuple[Any, ...] = (),
    compare_loss: bool = False,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Check:
    """A gradient check of a pure function: the gradient of the student's
    ``module.function`` (by default, the reference's own module and name) w.r.t. each input
    named in ``wrt`` (the first ``len(wrt)`` inputs of a case) against ``reference``'s; those
    in ``constants`` must get none. With ``compare_loss``, the value is compared too."""
    module, function = _student_function(reference, module, function)
    run = loss_grad_check(
        module, function, reference, cases, extra, wrt, constants, describe, hint, compare_loss
    )
    return Check(name, function, "gradient", points, run, timeout_s=timeout_s)


@dataclass(frozen=True)
class Trainer:
    """Where a suite's agent checks build the student's trainer: ``module.cls(config)``, kept
    in the worker under ``kept``, its agent at the attributes ``agent`` (none: the trainer is
    the agent, its ``update`` the one checked)."""

    module: str
    cls: str
    kept: str
    timeout_s: float
    """Building one may make an environment (MuJoCo's import included) or read an expert."""
    agent: tuple[str, ...] = ("agent",)

    def on_agent(self, *steps: Step) -> list[Step]:
        """``steps`` from the kept trainer's agent."""
        return [*(Attr(name) for name in self.agent), *steps]

    def build(
        self,
        sandbox: Sandbox,
        tally: Tally,
        summary: str,
        config: Mapping[str, Any],
        states: Mapping[tuple[str, ...], Mapping[str, Any]],
    ) -> bool:
        """Build the student's trainer from ``config``, keep it in the worker, and load each
        of ``states`` (a path of attributes from the trainer, such as ``("agent",
        "critics")``, to the reference's state dict) into it; False, recorded in ``tally``,
        when any of it fails."""
        result = sandbox.call_method(
            self.module,
            self.cls,
            (dict(config),),
            keep=self.kept,
            timeout_s=self.timeout_s,
            label=self.cls,
        )
        ok, _ = returned(result, tally, f"{summary} (building {self.cls})")
        return ok and load_states(sandbox, tally, summary, kept=self.kept, states=states)


@dataclass(frozen=True)
class AgentCase:
    """One case of an agent check: the trainer's config, the reference's weights to load into
    it, the reference's agent holding the same weights, and the method's inputs."""

    summary: str
    config: Mapping[str, Any]
    states: Mapping[tuple[str, ...], Mapping[str, Any]]
    agent: Any
    inputs: tuple[Any, ...]
    more_inputs: tuple[tuple[Any, ...], ...] = ()
    """For an update check, the inputs of the updates that follow the first, in order: state
    that an update carries to the next (the optimizer's moments, a clipped gradient's scale)
    shows only from the second on."""


def _built(
    sandbox: Sandbox,
    rng: np.random.Generator,
    tally: Tally,
    trainer: Trainer,
    cases: Sequence[Any],
    setup: Callable[[np.random.Generator, Any], AgentCase],
    seeded: bool,
) -> Iterator[tuple[AgentCase, int | None]]:
    """Each of ``cases`` that ``tally`` still runs, made by ``setup``, with the student's
    trainer built and loaded for it (a build that fails is recorded and its case skipped),
    and the torch seed its calls run under (None unless ``seeded``)."""
    for case in tally.each(cases):
        agent_case = setup(rng, case)
        if trainer.build(sandbox, tally, agent_case.summary, agent_case.config, agent_case.states):
            yield agent_case, torch_seed(rng) if seeded else None


@contextlib.contextmanager
def _torch_seeded(seed: int | None) -> Iterator[None]:
    """Torch's generator seeded with ``seed`` (left alone when None) inside, restored after."""
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        yield


def tuple_problem(got: Any, expected: Sequence[torch.Tensor], names: Sequence[str]) -> str | None:
    """What differs between ``got`` and the reference's tuple of tensors ``expected`` (named
    ``names`` in the feedback); None when nothing does."""
    if type(got) is not tuple or len(got) != len(expected):
        kind = f"a tuple of {len(got)}" if type(got) is tuple else f"a {type(got).__name__}"
        return f"returned {kind}, expected a tuple ({', '.join(names)})"
    for value, want, name in zip(got, expected, names, strict=True):
        problem = compare(value, want, tensor=True, what=name, **LOSS_TOL)
        if problem is not None:
            return problem
    return None


def agent_method_check(
    name: str,
    *,
    function: str,
    trainer: Trainer,
    method: str,
    cases: Sequence[Any],
    setup: Callable[[np.random.Generator, Any], AgentCase],
    outputs: tuple[str, ...],
    points: float,
    what: str,
    hint: str,
    seeded: bool = False,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Check:
    """A value check of an agent's method: for each of ``cases``, ``setup`` makes an
    :class:`AgentCase`; the student's trainer is built with its config and the reference's
    weights, and ``agent.method(*inputs)`` returns a tuple of tensors (named ``outputs``)
    compared with the reference agent's. ``seeded``: both run under the same torch seed (a
    method that samples). ``what`` says what was compared, for the feedback."""

    def run(sandbox: Sandbox, rng: np.random.Generator) -> Outcome:
        tally = Tally(what, hint)
        for agent_case, seed in _built(sandbox, rng, tally, trainer, cases, setup, seeded):
            summary = agent_case.summary
            with _torch_seeded(seed):
                expected = getattr(agent_case.agent, method)(*agent_case.inputs)
            result = sandbox.on(
                trainer.kept,
                trainer.on_agent(Method(method, agent_case.inputs)),
                seed=seed,
                timeout_s=CALL_TIMEOUT_S,
                label=function,
            )
            ok, value = returned(result, tally, summary)
            if ok:
                tally.record(summary, tuple_problem(value, expected, outputs))
        return tally.outcome()

    return Check(name, function, "value", points, run, timeout_s=timeout_s)


# ------------------------------------------------------------------------------- sampling


@dataclass(frozen=True)
class Sampled:
    """One case of a :func:`statistical_check`: the sandbox call that makes the student's code
    draw (``call(sandbox)``, under a seed of its own), and the judge of what came back: what
    is wrong with it, None when nothing is. A call may chain several sandbox calls, a later
    one made from what an earlier one returned; it then returns the first that failed, or an
    ``invalid`` :class:`~autograder.sandbox.Failure` for a value the next one cannot use."""

    summary: str
    call: Callable[[Sandbox], Result]
    judge: Callable[[Any], str | None]
    trivial: bool = False
    """Whether a wrong function passes it too (the mean of a law symmetric about 0, which any
    symmetric density has; the difference of two estimators, zero for any two that agree): it
    must pass like any other, but a check needs a case that is not."""
    agent: AgentCase | None = None
    """When given, the student's trainer (the check's ``trainer``) is built first with this
    case's config and weights, and kept for this call and the later cases' (a build that
    fails fails the rest); its ``agent`` and ``inputs`` are not used."""


def statistical_check(
    name: str,
    *,
    function: str,
    cases: Callable[[np.random.Generator], Sequence[Sampled]],
    points: float,
    what: str,
    hint: str,
    trainer: Trainer | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Check:
    """A statistical check of code that samples: each of ``cases(rng)`` (all made first, so
    that the draws of ``rng`` do not depend on the student's answers) makes one sandbox call,
    and its judge holds what came back to a law the grader knows exactly, within bounds that
    a correct submission misses less than once in a million gradings: the judge's bound,
    with a union bound over every test of the check (:data:`FAILURE_RATE`,
    :func:`bernstein_half_width`, :func:`hoeffding_half_width`, :func:`chi_square_bounds`),
    is what proves it. Judges that compare calls with each other (independence) may keep
    what the earlier cases returned: the cases run in order. A case with an ``agent`` first
    builds the student's ``trainer``."""

    def run(sandbox: Sandbox, rng: np.random.Generator) -> Outcome:
        tally = Tally(what, hint)
        made = cases(rng)
        for index, case in enumerate(tally.each(made)):
            built = case.agent
            if built is not None:
                if trainer is None:
                    raise ValueError(f"{name}: expected a trainer for the cases with an agent")
                if not trainer.build(sandbox, tally, built.summary, built.config, built.states):
                    tally.skip(len(made) - index - 1)
                    break
            ok, value = returned(case.call(sandbox), tally, case.summary)
            if ok:
                tally.record(case.summary, case.judge(value), trivial=case.trivial)
        return tally.outcome()

    return Check(name, function, "statistical", points, run, timeout_s=timeout_s)


# ------------------------------------------------------------------------------- updates


def fetch_parameters(
    sandbox: Sandbox, kept: str, path: Sequence[str], names: Sequence[str], grads: bool
) -> Result:
    """``{name: parameter}`` (and ``{"grad " + name: its .grad}``) of the network at ``path``
    (attributes from the trainer kept under ``kept``)."""
    fetch: dict[str, list[Step]] = {}
    for name in names:
        fetch[name] = [Method("get_parameter", (name,)), Method("detach")]
        if grads:
            fetch[f"grad {name}"] = [Method("get_parameter", (name,)), Attr("grad")]
    return sandbox.on(
        kept, [Attr(p) for p in path], fetch=fetch, timeout_s=CALL_TIMEOUT_S, label="parameters"
    )


def parameters(module: nn.Module, grads: bool = False) -> dict[str, torch.Tensor | None]:
    """``module``'s parameters as :func:`fetch_parameters` fetches them, for comparison."""
    out: dict[str, torch.Tensor | None] = {}
    for name, parameter in module.named_parameters():
        out[name] = parameter.detach().clone()
        if grads:
            out[f"grad {name}"] = None if parameter.grad is None else parameter.grad.clone()
    return out


def without_grads(fetched: Mapping[str, Any]) -> dict[str, Any]:
    """A fetch of :func:`fetch_parameters` without its gradients."""
    return {name: value for name, value in fetched.items() if not name.startswith("grad ")}


def tensors_problem(got: Any, expected: Mapping[str, torch.Tensor | None], what: str) -> str | None:
    """The first of ``expected`` (name -> tensor; None: must have no gradient) that ``got``
    (a fetched dict) does not match; None when all do. Gradients (``"grad "`` entries) that
    the student's update cleared after its step, all None or all zero, are not compared:
    clearing them after the step is as correct as before the backward pass, and the
    parameters after the step show the gradients it took."""
    if type(got) is not dict or set(got) != set(expected):
        return f"{what}: the call returned an unexpected value"
    grads = [got[name] for name in got if name.startswith("grad ")]
    if grads and all(g is None or (type(g) is torch.Tensor and not g.any()) for g in grads):
        got, expected = without_grads(got), without_grads(expected)
    for name, want in expected.items():
        label = f"{what} `{name}`"
        if want is None:
            if got[name] is not None:
                return f"{label} should be None"
            continue
        if got[name] is None:
            return f"{label} is None: no gradient reached it"
        problem = compare(got[name], want, tensor=True, what=label, **LOSS_TOL)
        if problem is not None:
            return problem
    return None


def metrics_problem(got: Any, expected: Mapping[str, float], keys: Sequence[str]) -> str | None:
    """What differs between the metrics dict an update returned and the reference's, on
    ``keys``; None when nothing does."""
    if type(got) is not dict:
        return f"update returned a {type(got).__name__}, expected a dict of metrics"
    for key in keys:
        value = got.get(key)
        if type(value) is not float or not math.isclose(
            value, expected[key], rel_tol=1e-4, abs_tol=1e-6
        ):
            return f"the metric {key!r} is {value!r}, expected {expected[key]:.6g}"
    return None


@dataclass
class Stepped:
    """One ``update`` of the student's agent and of the reference's, from the same state."""

    summary: str
    metrics: Any
    """What the student's ``update`` returned."""
    expected_metrics: Any
    """What the reference's returned."""
    fetched: dict[str, Any]
    """Network name -> what :func:`fetch_parameters` returned after the update, and each of
    the check's ``fetch`` entries -> what it fetched from the agent."""
    before: Mapping[tuple[str, ...], Any]
    """The student's networks before this update, by the paths of the case's ``states``: those
    loaded before the first, then what the update before left (so that a judge of one rule,
    such as a target network's, sees the student's own state, whatever the rest did)."""
    agent: Any
    """The reference agent after its update."""


def network_step_problem(
    stepped: Stepped, metrics: Sequence[str], network: str, what: str = "after the step,"
) -> str | None:
    """The usual judge of an update: the ``metrics`` it reported against the reference's,
    then every parameter of the agent's ``network`` and its gradient against the reference
    agent's (``what`` begins each mismatch's message); None when all match."""
    problem = metrics_problem(stepped.metrics, stepped.expected_metrics, metrics)
    expected = parameters(getattr(stepped.agent, network), grads=True)
    return problem or tensors_problem(stepped.fetched[network], expected, what)


def agent_update_check(
    name: str,
    *,
    function: str,
    trainer: Trainer,
    cases: Sequence[Any],
    setup: Callable[[np.random.Generator, Any], AgentCase],
    networks: Callable[[Any], Mapping[str, Sequence[str]]],
    judge: Callable[[Stepped], str | None],
    points: float,
    what: str,
    hint: str,
    seeded: bool = False,
    fetch: Mapping[str, Mapping[str, Sequence[Step]]] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Check:
    """An update check of an agent: for each of ``cases``, the student's trainer is built
    with the config and weights of ``setup``'s :class:`AgentCase`, and its agent's
    ``update(*inputs)`` runs, then once more for each of ``more_inputs`` (each under the same
    torch seed as the reference's when ``seeded``). After every update the grader fetches the
    parameters of every loaded network (with their gradients for those ``networks(reference
    agent)`` names: network -> parameter names) and each of ``fetch`` (name -> steps on the
    agent), and ``judge`` compares that :class:`Stepped` with the reference's after the same
    update: the whole state, after each one, so that what an update leaves to the next (the
    optimizer's moments, a target network, a learned temperature) is judged as it goes."""

    def run(sandbox: Sandbox, rng: np.random.Generator) -> Outcome:
        tally = Tally(what, hint)
        for agent_case, seed in _built(sandbox, rng, tally, trainer, cases, setup, seeded):
            judged = _updates(sandbox, tally, trainer, agent_case, networks, fetch, judge, seed)
            if judged is not None:
                tally.record(*judged)
        return tally.outcome()

    return Check(name, function, "update", points, run, timeout_s=timeout_s)


def _updates(
    sandbox: Sandbox,
    tally: Tally,
    trainer: Trainer,
    case: AgentCase,
    networks: Callable[[Any], Mapping[str, Sequence[str]]],
    fetch: Mapping[str, Mapping[str, Sequence[Step]]] | None,
    judge: Callable[[Stepped], str | None],
    seed: int | None,
) -> tuple[str, str | None] | None:
    """Each ``update`` of ``case`` on the kept trainer's agent and on the reference's, judged
    after each: the summary and the first problem (None when every update matched); None when
    a call failed (recorded in ``tally``)."""
    updates = [case.inputs, *case.more_inputs]
    with_grads = networks(case.agent)
    before: Mapping[tuple[str, ...], Any] = case.states
    wanted = [(n, (*trainer.agent, n), list(names), True) for n, names in with_grads.items()]
    wanted += [
        (p[-1], p, list(state), False)
        for p, state in case.states.items()
        if p[-1] not in with_grads
    ]
    for index, inputs in enumerate(updates):
        summary = case.summary if len(updates) == 1 else f"{case.summary}; update {index + 1}"
        update_seed = None if seed is None else seed + index
        result = sandbox.on(
            trainer.kept,
            trainer.on_agent(Method("update", inputs)),
            seed=update_seed,
            timeout_s=CALL_TIMEOUT_S,
            label="update",
        )
        ok, metrics = returned(result, tally, summary)
        fetched: dict[str, Any] = {}
        for network, path, names, grads in wanted:
            if ok:
                result = fetch_parameters(sandbox, trainer.kept, path, names, grads)
                ok, fetched[network] = returned(result, tally, summary)
        for key, steps in (fetch or {}).items():
            if ok:
                result = sandbox.on(
                    trainer.kept,
                    trainer.on_agent(),
                    fetch={k: list(v) for k, v in steps.items()},
                    timeout_s=CALL_TIMEOUT_S,
                    label=key,
                )
                ok, fetched[key] = returned(result, tally, summary)
        if not ok:
            return None
        with _torch_seeded(update_seed):
            expected_metrics = case.agent.update(*inputs)
        problem = judge(Stepped(summary, metrics, expected_metrics, fetched, before, case.agent))
        if problem is not None:
            return summary, problem
        before = {path: without_grads(fetched[path[-1]]) for path in case.states}
    return case.summary, None


# ------------------------------------------------------------------------------- modules


@dataclass(frozen=True)
class ModuleCase:
    """One case of a module check: the student's ``cls(*init_args, **init_kwargs)`` gets the
    weights of ``reference`` (the reference's module; None: an object without weights, built
    by its arguments alone), runs ``steps``, and each of ``fetch`` (a name, such as
    ``log_prob(actions)``, to steps from there) is compared with ``expected``'s entry; then,
    when ``grad_steps`` is given, the gradient of the number they end in w.r.t. every
    parameter is compared with ``reference``'s ``.grad`` (filled by the case's maker)."""

    summary: str
    init_args: tuple[Any, ...]
    reference: nn.Module | None
    inputs: tuple[Any, ...]
    """The inputs of ``steps``: a case whose answer is one of them unchanged is trivial."""
    steps: Sequence[Step] = ()
    fetch: Mapping[str, Sequence[Step]] = field(default_factory=dict)
    expected: Mapping[str, Any] = field(default_factory=dict)
    returns: Any = None
    """Without ``fetch``: what ``steps`` must end in (a tensor, or with ``tensor`` False a
    NumPy array), named ``what`` in the feedback; None compares no value."""
    what: str = "the result"
    tensor: bool = True
    dtype: str | None = None
    """The dtype the docstring asks ``returns`` in (or each fetched value in), if any."""
    init_kwargs: Mapping[str, Any] = field(default_factory=dict)
    grad_steps: Sequence[Step] = ()
    constants: tuple[str, ...] = ()
    """Parameters that must get no gradient (the log-std under a loss of the mean only)."""

    @property
    def items(self) -> int:
        """How many cases of the check's tally this one makes."""
        return len(self.fetch) + (self.returns is not None) + bool(self.grad_steps)


def distribution_case(
    summary: str,
    init_args: tuple[Any, ...],
    reference: nn.Module,
    observations: torch.Tensor,
    actions: torch.Tensor,
    *,
    values: Sequence[str] = ("log_prob(actions)", "entropy()"),
    grad: bool = True,
) -> ModuleCase:
    """A :class:`ModuleCase` of a policy's ``distribution(observations)`` with the weights of
    ``reference`` (the reference's policy): each of ``values`` (``mean``, ``stddev``,
    ``log_prob(actions)``, ``entropy()``) against the reference distribution's, and with
    ``grad`` the gradient of ``log_prob(actions).mean()`` w.r.t. every parameter (the
    reference's backward pass runs here)."""
    distribution = reference.distribution(observations)  # type: ignore[operator]
    known: dict[str, tuple[Step, Callable[[], torch.Tensor]]] = {
        "mean": (Attr("mean"), lambda: distribution.mean),
        "stddev": (Attr("stddev"), lambda: distribution.stddev),
        "log_prob(actions)": (
            Method("log_prob", (actions,)),
            lambda: distribution.log_prob(actions),
        ),
        "entropy()": (Method("entropy"), distribution.entropy),
    }
    unknown = [name for name in values if name not in known]
    if unknown:
        raise ValueError(f"expected values among {', '.join(known)}, got {unknown}")
    expected = {name: known[name][1]().detach() for name in values}
    grad_steps: list[Step] = []
    if grad:
        distribution.log_prob(actions).mean().backward()
        grad_steps = [
            Method("distribution", (observations,)),
            Method("log_prob", (actions,)),
            Method("mean"),
        ]
    return ModuleCase(
        summary,
        init_args,
        reference,
        (observations, actions),
        steps=[Method("distribution", (observations,))] if values else (),
        fetch={name: [known[name][0]] for name in values},
        expected=expected,
        grad_steps=grad_steps,
    )


def module_check(
    name: str,
    *,
    function: str,
    cases: Callable[[np.random.Generator], Sequence[ModuleCase]],
    kind: Kind,
    points: float,
    what: str,
    hint: str,
    reference: type[Any] | None = None,
    module: str | None = None,
    cls: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Check:
    """A check of a module's methods with the reference's weights loaded into the student's
    ``module.cls`` (by default, the class of the same name in the same module as
    ``reference``, the reference's class): one case per fetched value and one for the
    parameters' gradients of each :class:`ModuleCase` (all made first, from ``cases(rng)``).
    ``{count}`` in ``what`` becomes the number of cases."""
    module = module or getattr(reference, "__module__", None)
    cls = cls or getattr(reference, "__name__", None)
    if module is None or cls is None:
        raise ValueError(f"{name}: expected reference= (a class), or module= and cls=")

    def run(sandbox: Sandbox, rng: np.random.Generator) -> Outcome:
        made = cases(rng)
        tally = Tally(what.replace("{count}", str(len(made))), hint)
        per_case = made[0].items if made else 1
        for case in tally.each(made, per_case):
            state = None if case.reference is None else state_dict_of(case.reference)
            if case.fetch or case.returns is not None:
                result = sandbox.call_method(
                    module,
                    cls,
                    case.init_args,
                    dict(case.init_kwargs),
                    state_dict=state,
                    steps=case.steps,
                    fetch=case.fetch or None,
                    timeout_s=CALL_TIMEOUT_S,
                    label=function,
                )
                ok, value = returned(result, tally, case.summary)
                if not ok:
                    tally.skip(case.items - 1)
                    continue
                if case.fetch:
                    expect_fetched(
                        tally,
                        case.summary,
                        value,
                        case.expected,
                        inputs=case.inputs,
                        tensor=case.tensor,
                    )
                else:
                    tally.expect(
                        case.summary,
                        value,
                        case.returns,
                        inputs=case.inputs,
                        tensor=case.tensor,
                        what=case.what,
                        dtype=case.dtype,
                        **LOSS_TOL,
                    )
            if case.grad_steps and case.reference is not None:
                result = sandbox.module_grad(
                    module,
                    cls,
                    case.init_args,
                    state_dict=state,
                    steps=case.grad_steps,
                    timeout_s=CALL_TIMEOUT_S,
                    label=function,
                )
                ok, value = returned(result, tally, case.summary)
                if ok:
                    problem = parameter_grads_problem(value, case.reference, case.constants)
                    tally.record(case.summary, problem)
        return tally.outcome()

    return Check(name, function, kind, points, run, timeout_s=timeout_s)

"""Judging helpers that every hidden suite shares: compare what the sandbox returned with what
the reference computed, in the grader, and turn the cases of a check into an :class:`Outcome`
whose feedback says what was compared and the first mismatch (input, expected, got), with a
hint, never the reference's source.

Every value from the worker is type-, dtype-, shape- and finiteness-checked before an
``np.allclose`` comparison, so no ``__eq__`` trick can pass.

No point for nothing: a case that a function doing nothing would also pass (its right answer is
zeros, ones or one of its inputs unchanged; an input that must get no gradient) is *trivial*
(:func:`matched_by_nothing`). It stays, since it catches real bugs (a batch of one normalised to
NaN, a terminal transition that bootstraps), and must pass for full marks, but a :class:`Tally`
gives credit only for the cases that take work: a submission that returns zeros, a constant or
its input earns nothing.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypedDict, TypeVar

import numpy as np
import torch
from torch import nn

from autograder.checks import GraderError, Outcome
from autograder.sandbox import Failure, Result, Sandbox

T = TypeVar("T")
CALL_TIMEOUT_S = 10.0
"""Wall-clock limit of one sandbox call of a fast check."""


class Tolerance(TypedDict):
    """The ``rtol`` and ``atol`` of an ``np.allclose`` comparison."""

    rtol: float
    atol: float


LOSS_TOL: Tolerance = {"rtol": 1e-5, "atol": 1e-6}
"""Tolerances for float32 losses and gradients."""
SINGLE_TOL: Tolerance = {"rtol": 1e-5, "atol": 1e-6}
"""The least tolerance a single-precision result is held to; ``atol`` is per unit of the
largest expected magnitude (see :func:`compare`)."""
Cases = list[tuple[str, tuple[Any, ...]]]
"""``(summary, inputs)`` of a loss check's cases: tensors, then any plain arguments."""
CREDIT_POLICY = (
    "A check is one property of one function (its value on the cases, its gradient, an "
    "update, a statistic) and earns its points only when every one of its cases passes."
)
"""How a fast check scores, said in every failed check's feedback and in each handout: all or
nothing per property. A function with a real bug loses the points of every property the bug
breaks, however few cases show it; a partly right function keeps the points of the properties
it gets right (a GAE that leaks across trajectory boundaries keeps those of terminated and
truncated ends)."""

# After one of these, the worker is gone or the code cannot run: the remaining cases are skipped.
FATAL_KINDS = frozenset(
    {"timeout", "memory", "cpu", "exit", "crash", "channel", "start", "import", "missing"}
)


def fmt(x: Any) -> str:
    """A short, readable print of an array, tensor or number."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    array = np.asarray(x, dtype=np.float64)
    return np.array2string(
        array, precision=4, threshold=12, edgeitems=4, max_line_width=96, separator=", "
    )


def as_float_array(got: Any, *, tensor: bool, what: str) -> tuple[np.ndarray | None, str]:
    """``got`` as a float64 array, or ``(None, why not)`` when it is not what was asked."""
    if tensor:
        if type(got) is not torch.Tensor:
            return None, f"{what} is a {type(got).__name__}, expected a torch.Tensor"
        if not got.is_floating_point():
            return None, f"{what} has dtype {got.dtype}, expected a floating-point tensor"
        return got.detach().cpu().numpy().astype(np.float64), ""
    if type(got) is not np.ndarray:
        return None, f"{what} is a {type(got).__name__}, expected a NumPy array"
    if got.dtype.kind != "f":
        return None, f"{what} has dtype {got.dtype}, expected a floating-point array"
    return got.astype(np.float64), ""


def compare(
    got: Any,
    expected: Any,
    *,
    tensor: bool,
    rtol: float,
    atol: float,
    what: str = "the result",
    dtype: str | None = None,
    number: bool = False,
) -> str | None:
    """``None`` when ``got`` matches ``expected``; otherwise what is wrong, for the feedback.
    ``got`` is a tensor (``tensor``), a NumPy array, or with ``number`` a real number (a
    Python or NumPy float or int). ``dtype`` (e.g. ``"float32"``): the dtype the docstring
    asks for, which ``got`` must have.

    A result in single precision (float32 or float16) is held to at least single precision's
    tolerances (:data:`SINGLE_TOL`, ``atol`` scaled by the largest expected magnitude): a
    correct computation in float32 rounds every step, and a check that asks for no dtype
    must accept it. A mismatch names the entry that differs most, with enough digits to
    show the difference."""
    expected = np.asarray(
        expected.detach().cpu().numpy() if isinstance(expected, torch.Tensor) else expected,
        dtype=np.float64,
    )
    if _single_precision(got):
        scale = float(np.max(np.abs(expected), initial=1.0))
        rtol, atol = max(rtol, SINGLE_TOL["rtol"]), max(atol, SINGLE_TOL["atol"] * scale)
    if number:
        if type(got) not in (float, int) and not isinstance(got, np.floating | np.integer):
            return f"{what} is a {type(got).__name__}, expected a number"
        got = np.asarray(got, dtype=np.float64)
        tensor = False
    array, why = as_float_array(got, tensor=tensor, what=what)
    if array is None:
        return why
    if dtype is not None and str(got.dtype).removeprefix("torch.") != dtype:
        return f"{what} has dtype {got.dtype}, expected {dtype} (as the docstring asks)"
    if array.shape != expected.shape:
        return f"{what} has shape {array.shape}, expected {expected.shape}"
    if not np.all(np.isfinite(array)):
        return f"{what} holds non-finite values: {fmt(array)}"
    if not np.allclose(array, expected, rtol=rtol, atol=atol):
        excess = np.abs(array - expected) - (atol + rtol * np.abs(expected))
        where = np.unravel_index(int(np.argmax(excess)), excess.shape) if excess.ndim else ()
        index = tuple(int(i) for i in where)
        at = f" (largest difference at index {index})" if where else ""
        want, have = float(expected[index]), float(array[index])
        return (
            f"{what} differs{at}:\n  expected {fmt(expected)}\n  got      {fmt(array)}\n"
            f"  {f'at index {index}: ' if where else ''}expected {want:.10g}, got {have:.10g} "
            f"(a difference of {abs(have - want):.3g}, more than the "
            f"{atol + rtol * abs(want):.3g} allowed)"
        )
    return None


def _single_precision(x: Any) -> bool:
    dtype = x.dtype if isinstance(x, torch.Tensor | np.ndarray | np.generic) else None
    return dtype in (np.float32, np.float16, torch.float32, torch.float16, torch.bfloat16)


def _numbers(x: Any) -> np.ndarray | None:
    """``x`` as a float64 array when it is a tensor, an array or a number; None otherwise."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if isinstance(x, bool | int | float | np.number):
        x = np.asarray(x)
    if isinstance(x, np.ndarray) and x.dtype.kind in "biuf":
        return x.astype(np.float64)
    return None


def matched_by_nothing(
    expected: Any, inputs: Sequence[Any] = (), *, rtol: float, atol: float
) -> bool:
    """Whether a function that does nothing would match ``expected`` within ``rtol``/``atol``
    too: zeros or ones of its shape (constants that need no input), or one of ``inputs``
    returned unchanged. A case where it would (a batch of one normalised to 0, a terminal
    transition whose target is its reward, a schedule at its start) is *trivial*: it cannot
    tell work from none, so :class:`Tally` gives it no credit of its own."""
    target = _numbers(expected)
    if target is None:
        return False
    candidates = [np.zeros_like(target), np.ones_like(target)]
    for x in inputs:
        array = _numbers(x)
        if array is not None and array.shape == target.shape:
            candidates.append(array)
    return any(np.allclose(c, target, rtol=rtol, atol=atol) for c in candidates)


def no_gradient(got: Any, *, what: str) -> str | None:
    """``None`` when no gradient reached an input that must be a constant."""
    if got is None:
        return None
    array, why = as_float_array(got, tensor=True, what=f"the gradient w.r.t. {what}")
    if array is None:
        return why
    if np.any(array != 0.0):
        return (
            f"a gradient flows into {what} ({fmt(array)}); they are constants: "
            f"use `{what}.detach()`"
        )
    return None


# What a ``property`` suite says of a sandbox call that did not return, per kind: fixed words,
# because the worker's own text (an exception's message, a type's name) is the submission's and
# could carry the hidden inputs out.
_FAILURE_BRIEFS = {
    "timeout": "it ran out of time",
    "memory": "it ran out of memory",
    "cpu": "it used up its CPU time",
    "exit": "it exited the worker process",
    "crash": "the worker process crashed",
    "channel": "it wrote garbage to the grader's channel",
    "start": "the sandboxed worker could not start",
    "unsupported": "it returned a type the grader cannot check",
    "too_large": "it returned a result too large to send",
    "invalid": "it returned something the check cannot use (e.g. a loss that is not one number)",
}
_BUILTIN_ERRORS = frozenset(
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
)
PROPERTY_NOTE = (
    "This course shows which property failed, not the inputs, values or hints of its hidden "
    "cases: the public tests are there to debug with."
)


def failure_brief(failure: Failure) -> str:
    """What went wrong in a call that did not return, in words that hold nothing the
    submission wrote: for a ``property`` suite (:class:`~autograder.checks.Outcome`)."""
    if failure.kind in ("import", "missing"):
        # import-time code sees no hidden input: its SyntaxError or missing name is the student's
        return failure.message
    if failure.kind == "error":
        name = failure.error_type if failure.error_type in _BUILTIN_ERRORS else "an exception"
        return f"your code raised {name}"
    return _FAILURE_BRIEFS.get(failure.kind, "the call did not return")


@dataclass
class Tally:
    """Cases of one check: how many passed, and the first mismatch for the feedback."""

    what: str
    """What was compared, e.g. "reward_to_go against the reference on 7 trajectories"."""
    hint: str
    passed: int = 0
    total: int = 0
    trivial: int = 0
    """Cases that a function doing nothing would also pass (:func:`matched_by_nothing`)."""
    first: str | None = None
    first_brief: str | None = None
    """The first failure in a ``property`` suite's words, when it was a call that did not
    return (a value that differs says no more than the count of cases that match)."""
    skipped_after: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def stopped(self) -> bool:
        return self.skipped_after is not None

    def record(self, summary: str, problem: str | None, *, trivial: bool = False) -> bool:
        """One case: ``problem`` None when it passed. A ``trivial`` case is one that a function
        doing nothing passes too (a right answer of zeros or its input, an input that must get
        no gradient): it must pass like any other, but a check needs a case that is not."""
        self.total += 1
        self.trivial += trivial
        if problem is None:
            self.passed += 1
            return True
        if self.first is None:
            self.first = f"{summary}\n{problem}"
        return False

    def expect(
        self,
        summary: str,
        got: Any,
        expected: Any,
        *,
        inputs: Sequence[Any] = (),
        tensor: bool,
        rtol: float,
        atol: float,
        what: str = "the result",
        dtype: str | None = None,
    ) -> bool:
        """Record one case: ``got`` against ``expected`` (:func:`compare`), trivial when
        zeros, ones or one of the call's ``inputs`` unchanged would match it too."""
        problem = compare(
            got, expected, tensor=tensor, rtol=rtol, atol=atol, what=what, dtype=dtype
        )
        trivial = matched_by_nothing(expected, inputs, rtol=rtol, atol=atol)
        return self.record(summary, problem, trivial=trivial)

    def failure(self, summary: str, result: Failure) -> None:
        """A sandbox call that did not return; stop the check when the worker is unusable."""
        if self.first is None:
            self.first_brief = failure_brief(result)
        self.record(summary, result.message)
        if result.kind in FATAL_KINDS:
            self.skipped_after = result.kind

    def skip(self, count: int) -> None:
        self.total += count

    def each(self, items: Sequence[T], per_item: int = 1) -> Iterator[T]:
        """``items`` one by one until the check stops (the worker is unusable); each one left
        then counts as ``per_item`` skipped cases."""
        for index, item in enumerate(items):
            if self.stopped:
                self.skip(per_item * (len(items) - index))
                return
            yield item

    def fraction(self) -> float:
        """The share of the points earned, all or nothing (:data:`CREDIT_POLICY`): 1 when
        every case passed, else 0. Raises :class:`GraderError` when every case passed and none
        takes work: such a check cannot tell a solution from nothing."""
        if self.passed < self.total:
            return 0.0
        if self.trivial == self.total:
            raise GraderError(
                f"{self.what}: every one of the {self.total} cases would also match a "
                "function that does nothing; the check needs a case that takes work"
            )
        return 1.0

    def outcome(self) -> Outcome:
        if self.total == 0:
            text = f"{self.what}: nothing was compared."
            return Outcome(0.0, text, brief=text)
        fraction = self.fraction()
        if self.passed == self.total:
            text = f"Compared {self.what}: all {self.total} cases match."
            return Outcome(1.0, text, brief=text)
        lines = [f"Compared {self.what}: {self.passed}/{self.total} cases match."]
        brief = lines.copy()
        if self.first is not None:
            lines.append(f"First mismatch: {self.first}")
        if self.first_brief is not None:
            brief.append(f"At the first mismatch {self.first_brief}.")
        if self.skipped_after is not None:
            lines.append("The remaining cases were not run.")
            brief.append("The remaining cases were not run.")
        lines.append(CREDIT_POLICY)
        brief.append(CREDIT_POLICY)
        lines.extend(self.notes)
        lines.append(f"Hint: {self.hint}")
        brief.append(PROPERTY_NOTE)
        return Outcome(fraction, "\n".join(lines), brief="\n".join(brief))


def returned(result: Result, tally: Tally, summary: str) -> tuple[bool, Any]:
    """``(True, value)`` for a call that returned; records the failure otherwise."""
    if isinstance(result, Failure):
        tally.failure(summary, result)
        return False, None
    return True, result.value


def grad_value(
    value: Any, tally: Tally, summary: str, n_grads: int | None
) -> tuple[Any, Any] | None:
    """The ``(loss, grads)`` of a ``grad`` answer, or ``None`` (recorded) when malformed."""
    ok = type(value) is dict and set(value) == {"loss", "grads"}
    if ok and n_grads is not None:
        ok = type(value["grads"]) is list and len(value["grads"]) == n_grads
    elif ok:
        ok = type(value["grads"]) is dict
    if not ok:
        tally.record(summary, "the gradient call returned an unexpected value")
        return None
    return value["loss"], value["grads"]


class Planned(NamedTuple):
    """One case of :func:`run_cases`."""

    summary: str
    call: Callable[..., Result]
    """Called with no argument (a lambda may bind its inputs as defaults)."""
    judge: Callable[..., str | None]
    """Called with the value the call returned: what is wrong with it, None when nothing is."""
    trivial: bool
    """Whether a function that does nothing passes it too (:func:`matched_by_nothing`)."""


def run_cases(sandbox: Sandbox, tally: Tally, cases: Sequence[Planned]) -> Outcome:
    """Run the cases in order, each judged by its ``judge``."""
    for index, case in enumerate(cases):
        if tally.stopped:
            tally.skip(len(cases) - index)
            break
        ok, value = returned(case.call(), tally, case.summary)
        if ok:
            tally.record(case.summary, case.judge(value), trivial=case.trivial)
    return tally.outcome()


def torch_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31 - 1))


def reference_module(cls: type[nn.Module], args: tuple[Any, ...], seed: int) -> nn.Module:
    """The reference module, initialised from ``seed`` without touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(*args)


def state_dict_of(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in module.state_dict().items()}


def f32(array: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(array, dtype=np.float32))


def input_grads(
    function: Callable[..., torch.Tensor], tensors: Sequence[torch.Tensor], extra: tuple[Any, ...]
) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    leaves = [t.clone().requires_grad_(True) for t in tensors]
    loss = function(*leaves, *extra)
    loss.backward()
    return loss.detach(), [leaf.grad for leaf in leaves]


def _clone(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.clone()
    return x.copy() if isinstance(x, np.ndarray) else x


SINGLE_PRECISION_MARGIN = 8.0
"""How many times the change that rounding a case's inputs to float32 makes in the reference's
answer a float32 computation may be off by, beyond its sums' rounding
(:func:`_single_precision_slack`)."""


def _is_float(x: Any) -> bool:
    """Whether ``x`` is a floating-point number, array or tensor (not a count or an index)."""
    if isinstance(x, torch.Tensor):
        return x.is_floating_point()
    if isinstance(x, np.ndarray):
        return x.dtype.kind == "f"
    return isinstance(x, float | np.floating)


def _rounded_to_single(x: Any) -> Any:
    """A float64 array or tensor rounded to float32's precision, kept in float64."""
    if isinstance(x, np.ndarray):
        return x.astype(np.float32).astype(np.float64)
    return x.float().double()


def _single_precision_slack(
    reference: Callable[..., Any], inputs: Sequence[Any], extra: tuple[Any, ...], expected: Any
) -> float:
    """The absolute error a correct computation in float32 may make on this case, beyond the
    usual tolerance, from two sources. Its sums round in proportion to the numbers they add,
    not to their total: single precision's ``atol`` per unit of the largest input (a
    discounted sum of rewards of size 5 that cancel to 0.006 keeps the rounding of the 5s).
    Its inputs round too, and the case's conditioning can magnify that:
    :data:`SINGLE_PRECISION_MARGIN` times how far the reference's answer moves when its
    float64 inputs are rounded to float32 (normalising values of mean -2 and spread 0.1
    multiplies their rounding by 20). A wrong formula moves the answer by far more than
    either, and still fails."""
    floats = [_numbers(x) for x in (*inputs, *extra) if _is_float(x)]
    largest = max(
        (float(np.max(np.abs(a), initial=0.0)) for a in floats if a is not None), default=0.0
    )
    slack = SINGLE_TOL["atol"] * largest
    wide = [
        (isinstance(x, np.ndarray) and x.dtype == np.float64)
        or (isinstance(x, torch.Tensor) and x.dtype == torch.float64)
        for x in inputs
    ]
    if not any(wide):
        return slack
    rounded = [
        _rounded_to_single(x) if is_wide else _clone(x)
        for x, is_wide in zip(inputs, wide, strict=True)
    ]
    moved, target = _numbers(reference(*rounded, *extra)), _numbers(expected)
    if moved is None or target is None or moved.shape != target.shape:
        return slack
    return slack + SINGLE_PRECISION_MARGIN * float(np.max(np.abs(moved - target), initial=0.0))


def loss_value_check(
    module: str,
    function: str,
    reference: Callable[..., Any],
    make_cases: Callable[[np.random.Generator], Cases],
    extra: tuple[Any, ...],
    describe: str,
    hint: str,
    what: str = "the loss",
    *,
    tensor: bool = True,
    number: bool = False,
    tolerance: Tolerance = LOSS_TOL,
) -> Callable[[Sandbox, np.random.Generator], Outcome]:
    """The student's ``module.function(*inputs, *extra)`` against ``reference`` on each case
    (``reference`` gets copies of the inputs); ``what`` names the result in the feedback, a
    tensor when ``tensor``, a number with ``number``, else a NumPy array, compared within
    ``tolerance``."""

    def run(sandbox: Sandbox, rng: np.random.Generator) -> Outcome:
        cases = make_cases(rng)
        tally = Tally(f"`{function}` with the reference on {len(cases)} {describe}", hint)
        plan = []
        for summary, inputs in cases:
            args = (*inputs, *extra)
            with torch.no_grad():
                expected = reference(*(_clone(x) for x in inputs), *extra)
                slack = _single_precision_slack(reference, inputs, extra, expected)
            plan.append(
                Planned(
                    summary,
                    lambda a=args: sandbox.call(module, function, a, timeout_s=CALL_TIMEOUT_S),
                    lambda got, e=expected, slack=slack: compare(
                        got,
                        e,
                        tensor=tensor,
                        number=number,
                        what=what,
                        rtol=tolerance["rtol"],
                        atol=tolerance["atol"] + slack,
                    ),
                    matched_by_nothing(expected, args, **tolerance),
                )
            )
        return run_cases(sandbox, tally, plan)

    return run


def loss_grad_check(
    module: str,
    function: str,
    reference: Callable[..., Any],
    make_cases: Callable[[np.random.Generator], Cases],
    extra: tuple[Any, ...],
    names: tuple[str, ...],
    constants: tuple[str, ...],
    describe: str,
    hint: str,
    compare_loss: bool = False,
) -> Callable[[Sandbox, np.random.Generator], Outcome]:
    """The gradient of the student's ``module.function`` w.r.t. each input in ``names`` (the
    first ``len(names)`` of a case's inputs; any others pass as they are); those in
    ``constants`` must get none. With ``compare_loss``, the loss itself is compared too.

    A loss with no gradient at all passes the ``constants`` part, and one with zero gradients
    passes a gradient the reference has zero: those parts are trivial (:class:`Tally`)."""

    def run(sandbox: Sandbox, rng: np.random.Generator) -> Outcome:
        cases = make_cases(rng)
        tally = Tally(
            f"the gradient of `{function}` w.r.t. {', '.join(names)} with the reference on "
            f"{len(cases)} {describe}",
            hint,
        )
        per_case = len(names) + compare_loss
        for summary, inputs in tally.each(cases, per_case):
            tensors, rest = inputs[: len(names)], (*inputs[len(names) :], *extra)
            expected_loss, expected = input_grads(reference, tensors, rest)
            result = sandbox.grad(
                module,
                function,
                (*inputs, *extra),
                wrt=list(range(len(names))),
                timeout_s=CALL_TIMEOUT_S,
            )
            ok, value = returned(result, tally, summary)
            if not ok:
                tally.skip(per_case - 1)
                continue
            parsed = grad_value(value, tally, summary, len(names))
            if parsed is None:
                tally.skip(per_case - 1)
                continue
            loss, grads = parsed
            if compare_loss:
                tally.expect(
                    summary,
                    loss,
                    expected_loss,
                    inputs=inputs,
                    tensor=True,
                    what="the loss",
                    **LOSS_TOL,
                )
            for name, got, want in zip(names, grads, expected, strict=True):
                if name in constants:
                    tally.record(summary, no_gradient(got, what=name), trivial=True)
                elif got is None:
                    trivial = matched_by_nothing(want, **LOSS_TOL)
                    tally.record(summary, f"no gradient reached {name}", trivial=trivial)
                else:
                    what = f"the gradient w.r.t. {name}"
                    tally.expect(summary, got, want, tensor=True, what=what, **LOSS_TOL)
        return tally.outcome()

    return run

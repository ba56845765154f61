"""Hostile submissions that do nothing: every graded function of a homework returns zeros, a
constant or its first input unchanged, and must earn no point of the hidden suite.

Each submission is a copy of the reference package made at test time in which every function
and method that holds a solution region (what a student writes, and what the checks grade) is
wrapped by :func:`nothing`: the wrapper runs the reference on a copy of the arguments only to
learn the type and shape of its answer, then answers with

* ``zeros``: zeros of that type and shape (tensors and arrays of its dtype, ``0`` and ``0.0``,
  a standard normal or uniform categorical distribution, the same containers and datasets);
* ``constant``: 0.5 (1 for integers; -log 2 for a log-density) in the same way, a
  distribution that ignores its input;
* ``identity``: its first input (after ``self``), unchanged.

A function that works by its effect (an optimizer step, a target network's update) does
nothing at all. Such a submission is what a student could write knowing only each function's
signature and return type: no share of a check may reward it. The learning-curve checks are
left out (:func:`~autograder.checks.fast_checks`): their own tests train.

The engine's side is tested here too: a case that doing nothing passes as well (zeros, ones, an
input unchanged, an input that must get no gradient) is trivial, and a :class:`Tally` gives
credit only for the others.
"""

from __future__ import annotations

import ast
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from autograder.checks import GraderError, fast_checks
from autograder.grade import grade_submission, load_suite
from autograder.judging import CREDIT_POLICY, LOSS_TOL, Tally, loss_grad_check, matched_by_nothing
from autograder.mutants import copy_homework
from autograder.sandbox import Success

REPO_ROOT = Path(__file__).resolve().parents[1]
KINDS = ("zeros", "constant", "identity")
HOMEWORKS = ("hw1", "hw2", "hw3")

NOTHING = '''
def rlhw_nothing(kind, effect_only, constant):
    """Wrap a graded function so that it answers ``kind`` of nothing (see the test's module)."""
    import copy
    import dataclasses
    import functools

    import numpy as np
    import torch

    def fill(x):
        integer = 0 if kind == "zeros" else 1
        real = 0.0 if kind == "zeros" else constant
        if isinstance(x, torch.distributions.Independent):
            return torch.distributions.Independent(fill(x.base_dist), x.reinterpreted_batch_ndims)
        if isinstance(x, torch.distributions.Normal):
            loc = torch.full_like(x.loc, real)
            return torch.distributions.Normal(loc, torch.full_like(x.scale, 1.0 + abs(real)))
        if isinstance(x, torch.distributions.Categorical):
            return torch.distributions.Categorical(logits=torch.zeros_like(x.logits))
        if isinstance(x, torch.Tensor):
            value = real if x.is_floating_point() else integer
            return torch.full_like(x.detach(), value)
        if isinstance(x, np.ndarray):
            return np.full_like(x, real if x.dtype.kind == "f" else integer)
        if isinstance(x, bool):
            return kind != "zeros"
        if isinstance(x, (int, np.integer)):
            return type(x)(integer)
        if isinstance(x, (float, np.floating)):
            return type(x)(real)
        if isinstance(x, dict):
            return {key: fill(value) for key, value in x.items()}
        if isinstance(x, tuple) and hasattr(x, "_fields"):
            return type(x)(*(fill(value) for value in x))
        if isinstance(x, (tuple, list)):
            return type(x)(fill(value) for value in x)
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            fields = {f.name: fill(getattr(x, f.name)) for f in dataclasses.fields(x) if f.init}
            return dataclasses.replace(x, **fields)
        return x

    def wrap(function):
        @functools.wraps(function)
        def answer(*args, **kwargs):
            if kind == "identity":
                inputs = args[1:] if "." in function.__qualname__ else args
                return inputs[0] if inputs else next(iter(kwargs.values()), None)
            if effect_only is not None:
                return fill(effect_only)
            try:
                args, kwargs = copy.deepcopy((args, kwargs))
            except Exception:
                pass
            with torch.random.fork_rng(devices=[]):
                state = np.random.get_state()
                try:
                    return fill(function(*args, **kwargs))
                finally:
                    np.random.set_state(state)

        return answer

    return wrap
'''
"""The wrapper, written into each rewritten module (a submission's modules are all it has)."""

EFFECT_ONLY: dict[str, str] = {
    "bc_update": '{"train/loss": 1.0}',
    "hard_update": "None",
    "soft_update": "None",
    "DQNAgent.gradient_step": "1.0",
}
"""Functions whose work is their effect on their arguments (an optimizer's step, a target
network's update): doing nothing is not running them, and the answer is of this type."""
CONSTANT = 0.5
"""What ``constant`` answers with (1 for integers), but for the functions of :data:`CONSTANTS`."""
CONSTANTS: dict[str, float] = {"tanh_gaussian_log_prob": -math.log(2.0)}
"""Constants that fit a property check: -log 2 is the log-density of the uniform density on
(-1, 1), which integrates to 1 like the squashed Gaussian's."""


def graded_functions(tree: ast.Module, source: str) -> list[tuple[str, ast.FunctionDef]]:
    """``(qualified name, node)`` of every function or method of ``tree`` that holds a solution
    region."""
    lines = source.splitlines()
    regions = [number for number, line in enumerate(lines, 1) if "### BEGIN SOLUTION" in line]
    found = []
    scopes: list[tuple[str, list[ast.stmt]]] = [("", tree.body)]
    while scopes:
        prefix, body = scopes.pop()
        for node in body:
            if isinstance(node, ast.ClassDef):
                scopes.append((f"{prefix}{node.name}.", node.body))
            elif isinstance(node, ast.FunctionDef):
                assert node.end_lineno is not None
                if any(node.lineno <= line <= node.end_lineno for line in regions):
                    found.append((prefix + node.name, node))
    return found


def do_nothing(source: str, kind: str) -> tuple[str, list[str]]:
    """``source`` with every graded function wrapped to answer ``kind`` of nothing, and their
    qualified names."""
    tree = ast.parse(source)
    functions = graded_functions(tree, source)
    for name, node in functions:
        effect = EFFECT_ONLY.get(name, "None")
        constant = CONSTANTS.get(name, CONSTANT)
        decorator = ast.parse(f"rlhw_nothing({kind!r}, {effect}, {constant!r})", mode="eval").body
        node.decorator_list.insert(0, decorator)
    helper = ast.parse(NOTHING).body
    future = [
        i
        for i, node in enumerate(tree.body)
        if isinstance(node, ast.ImportFrom) and node.module == "__future__"
    ]
    at = future[-1] + 1 if future else 0  # before any decorator uses it
    tree.body[at:at] = helper
    return ast.unparse(tree) + "\n", [name for name, _ in functions]


def nothing_submission(hw: str, kind: str, dest: Path) -> tuple[Path, list[str]]:
    """A copy of ``hw``'s reference in which every graded function answers ``kind`` of
    nothing; the submission root, and the functions rewritten."""
    package, _ = load_suite(hw)
    root = copy_homework(REPO_ROOT, package, dest)
    shutil.rmtree(root / package / "tests", ignore_errors=True)
    shutil.rmtree(root / package / "figures", ignore_errors=True)
    rewritten: list[str] = []
    for path in sorted((root / package).glob("*.py")):
        source = path.read_text()
        if "### BEGIN SOLUTION" in source:
            new, names = do_nothing(source, kind)
            path.write_text(new)
            rewritten += names
    return root, rewritten


def points_earned(hw: str, kind: str, tmp: Path) -> tuple[list[str], dict[str, float]]:
    """Grade the ``kind`` submission of ``hw`` on the suite without its learning checks: the
    functions rewritten, and the score of each check that earned any."""
    root, rewritten = nothing_submission(hw, kind, tmp / "submission")
    staff = grade_submission(root, hw, tmp / "out", fast=True)
    earned = {t["name"]: t["score"] for t in staff["tests"] if t.get("score", 0.0) > 0}
    return rewritten, earned


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("hw", HOMEWORKS)
def test_a_submission_that_does_nothing_earns_no_point(hw, kind, tmp_path):
    rewritten, earned = points_earned(hw, kind, tmp_path)
    _, suite = load_suite(hw)
    graded = {check.function for check in fast_checks(suite)}
    assert graded <= set(rewritten), f"not rewritten: {graded - set(rewritten)}"
    assert earned == {}, f"{hw}, {kind}: {sum(earned.values()):g} points from {earned}"


# ------------------------------------------------------------------------------- the engine


def test_an_answer_that_zeros_ones_or_an_input_match_is_trivial():
    rewards = np.array([0.5, -1.5, 2.0])
    assert matched_by_nothing(np.zeros(3), (rewards,), rtol=1e-6, atol=1e-8)
    assert matched_by_nothing(torch.ones(()), (), **LOSS_TOL)
    assert matched_by_nothing(rewards.copy(), (0.99, rewards), rtol=1e-6, atol=1e-8)
    assert matched_by_nothing(1.0, (7, 1.0, 0.05, 10), rtol=1e-6, atol=1e-9)
    # an answer that takes work, and an input of another shape
    assert not matched_by_nothing(np.array([2.0, 1.5, 2.0]), (rewards,), rtol=1e-6, atol=1e-8)
    assert not matched_by_nothing(torch.zeros(3) + 0.5, (torch.zeros(1) + 0.5,), **LOSS_TOL)


def test_a_tally_gives_no_credit_for_trivial_cases():
    nothing = Tally("`f` on 3 cases", "hint")
    nothing.record("batch of one: 0", None, trivial=True)
    nothing.record("random batch", "differs")
    nothing.record("constant batch: 0", None, trivial=True)
    outcome = nothing.outcome()
    assert outcome.fraction == 0.0
    assert CREDIT_POLICY in outcome.feedback and CREDIT_POLICY in str(outcome.brief)
    # a failed trivial case costs as much as any other; passing them all earns full marks
    buggy = Tally("`f` on 3 cases", "hint")
    buggy.record("batch of one: NaN", "non-finite", trivial=True)
    buggy.record("random batch", None)
    buggy.record("other random batch", None)
    assert buggy.outcome().fraction == 0.0
    right = Tally("`f` on 2 cases", "hint")
    right.record("batch of one: 0", None, trivial=True)
    right.record("random batch", None)
    assert right.outcome().fraction == 1.0


def test_a_check_is_all_or_nothing_however_few_cases_fail():
    """The credit policy: one failed case of many costs the check's points, so a bug that
    shows on one input in ten (a schedule that never clamps, a minimum over two critics
    hard-coded) loses as much as one that shows on all."""
    tally = Tally("`f` on 10 cases", "hint")
    for case in range(10):
        tally.record(f"case {case}", "differs" if case == 7 else None)
    outcome = tally.outcome()
    assert outcome.fraction == 0.0
    assert "9/10 cases match" in outcome.feedback and CREDIT_POLICY in outcome.feedback


def test_a_check_whose_every_case_is_trivial_is_the_graders_error():
    tally = Tally("`f` on 2 cases", "hint")
    tally.record("batch of one", None, trivial=True)
    tally.record("constant batch", None, trivial=True)
    with pytest.raises(GraderError, match="does nothing"):
        tally.outcome()


class _NoGradient:
    """A sandbox whose student's loss is a constant: no gradient reaches any input."""

    def grad(self, *args: Any, **kwargs: Any) -> Success:
        return Success({"loss": torch.tensor(0.0), "grads": [None, None]})


def test_a_loss_with_no_gradient_earns_nothing_from_its_constant_inputs():
    def reference(log_probs: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
        return -(log_probs * advantages.detach()).mean()

    def cases(rng: np.random.Generator) -> list[tuple[str, tuple[Any, ...]]]:
        return [(f"B={b}", (torch.randn(b), torch.randn(b))) for b in (1, 8)]

    run = loss_grad_check(
        "pg", "loss", reference, cases, (), ("log_probs", "advantages"), ("advantages",), "", ""
    )
    outcome = run(_NoGradient(), np.random.default_rng(0))  # type: ignore[arg-type]
    assert outcome.fraction == 0.0, outcome.feedback
    assert "no gradient reached log_probs" in outcome.feedback

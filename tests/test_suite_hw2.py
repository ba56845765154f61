"""The hidden suite of homework 2, audited: the reference gets full marks under several grading
seeds, the bare starter gets zero with clear feedback, and every mutant (a realistic student
bug, :mod:`autograder.mutants.hw2`) loses points on a check that names the buggy function.

Each submission gets one sandbox, and the checks run directly (``check.run(sandbox, rng)``).
The submission root is a copy of the homework package only: the sandbox copies the whole
folder it is given, and the repository root would bring ``.venv`` along.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from autograder.checks import Check, Outcome
from autograder.mutants import apply_mutant, copy_homework, patch_source
from autograder.mutants.hw2 import MUTANTS
from autograder.release import find_regions, strip_solutions
from autograder.sandbox import Sandbox
from autograder.suites import hw2

REPO_ROOT = Path(__file__).resolve().parents[1]
STUDENT_FILES = ("hw2_policy_gradient/pg.py", "hw2_policy_gradient/policies.py")
KILLS: dict[str, bool] = {}


def grade(sandbox: Sandbox, seed: int) -> list[tuple[Check, Outcome, float]]:
    """Every check of the suite, with a generator seeded by the grading seed and its name."""
    results = []
    for check in hw2.SUITE:
        rng = np.random.default_rng([seed, zlib.crc32(check.name.encode())])
        started = time.monotonic()
        outcome = check.run(sandbox, rng)
        results.append((check, outcome, time.monotonic() - started))
    return results


def test_the_suite_is_well_formed():
    assert hw2.PACKAGE == "hw2_policy_gradient"
    assert sum(check.points for check in hw2.SUITE) == pytest.approx(100.0)
    assert len({check.name for check in hw2.SUITE}) == len(hw2.SUITE)
    kinds = {check.kind for check in hw2.SUITE}
    assert kinds == {"value", "gradient", "update", "statistical"}


@pytest.fixture(scope="module")
def reference_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    root = copy_homework(REPO_ROOT, hw2.PACKAGE, tmp_path_factory.mktemp("reference"))
    with Sandbox(root) as box:
        yield box


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_the_reference_gets_full_marks(reference_box, seed):
    for check, outcome, seconds in grade(reference_box, seed):
        assert outcome.fraction == 1.0, f"{check.name}:\n{outcome.feedback}"
        assert outcome.feedback.startswith("Compared"), outcome.feedback
        assert seconds < 5.0, f"{check.name} took {seconds:.1f} s"


def test_the_bare_starter_gets_zero_with_clear_feedback(tmp_path):
    root = copy_homework(REPO_ROOT, hw2.PACKAGE, tmp_path)
    for relative in STUDENT_FILES:
        source = (REPO_ROOT / relative).read_text()
        (root / relative).write_text(strip_solutions(source, relative))
    with Sandbox(root) as box:
        for check, outcome, _ in grade(box, 0):
            assert outcome.fraction == 0.0, f"{check.name}:\n{outcome.feedback}"
            assert "NotImplementedError" in outcome.feedback, outcome.feedback
            assert "TODO(" in outcome.feedback, outcome.feedback
            assert "Hint:" in outcome.feedback


def solution_lines(relative: str) -> set[int]:
    source = (REPO_ROOT / relative).read_text()
    return {
        line
        for region in find_regions(source, relative)
        for line in range(region.begin + 1, region.end)
    }


def test_mutant_names_are_unique():
    assert len({mutant.name for mutant in MUTANTS}) == len(MUTANTS) >= 12


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_each_mutant_patches_one_place_inside_a_solution_region(mutant):
    source = (REPO_ROOT / mutant.file).read_text()
    assert source.count(mutant.old) == 1
    first = source[: source.index(mutant.old)].count("\n") + 1
    lines = range(first, first + mutant.old.count("\n") + 1)
    assert set(lines) <= solution_lines(mutant.file), f"{mutant.name} patches given code"
    assert patch_source(source, mutant) != source
    functions = {check.function for check in hw2.SUITE}
    assert mutant.function in functions


def test_a_patch_whose_old_text_is_not_unique_is_refused():
    mutant = MUTANTS[0]
    with pytest.raises(ValueError, match="exactly once"):
        patch_source(mutant.old + mutant.old, mutant)


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_each_mutant_loses_points_on_a_check_of_its_function(mutant, tmp_path):
    root = apply_mutant(REPO_ROOT, mutant, tmp_path)
    with Sandbox(root) as box:
        results = grade(box, 0)
    failed = [(check, outcome) for check, outcome, _ in results if outcome.fraction < 1.0]
    lost = sum(check.points * (1.0 - outcome.fraction) for check, outcome in failed)
    killed = lost > 0 and any(check.function == mutant.function for check, _ in failed)
    KILLS[mutant.name] = killed
    print(f"{mutant.name}: lost {lost:.1f} points on {[c.name for c, _ in failed]}")
    assert killed, f"{mutant.name} survived: failing checks {[c.function for c, _ in failed]}"
    for _, outcome in failed:  # feedback names what went wrong, never the source
        assert "First mismatch" in outcome.feedback and "Hint:" in outcome.feedback
        assert "### BEGIN SOLUTION" not in outcome.feedback


def test_kill_rate(capsys):
    if not KILLS:
        pytest.skip("no mutant was graded in this run")
    killed = sum(KILLS.values())
    with capsys.disabled():
        print(f"\nhw2 mutants killed: {killed}/{len(KILLS)} ({killed / len(KILLS):.0%})")
    assert killed == len(KILLS)


def test_the_exact_gradient_of_the_tabular_mdp_matches_finite_differences():
    exact = hw2._exact_gradient(0.9)
    theta, step = hw2._S_THETA.copy(), 1e-6
    numeric = np.zeros(4)
    for k in range(4):
        for sign in (1.0, -1.0):
            shifted = theta.copy()
            shifted.flat[k] += sign * step
            numeric[k] += sign * _objective(shifted, 0.9) / (2 * step)
    np.testing.assert_allclose(exact, numeric, atol=1e-7)


def _objective(theta: np.ndarray, gamma: float) -> float:
    """J(theta) by enumeration, written independently of the suite (NumPy, no autograd)."""
    pi = np.exp(theta) / np.exp(theta).sum(axis=1, keepdims=True)
    total = 0.0
    for path in np.ndindex(*(2,) * (2 * hw2._S_H)):
        states, actions = path[0::2], path[1::2]
        p = float(hw2._S_RHO[states[0]])
        for t in range(hw2._S_H):
            p *= pi[states[t], actions[t]]
            if t + 1 < hw2._S_H:
                p1 = hw2._S_P1[states[t], actions[t]]
                p *= p1 if states[t + 1] == 1 else 1.0 - p1
        total += p * sum(gamma**t * float(hw2._S_R[states[t], actions[t]]) for t in range(hw2._S_H))
    return float(total)


def test_the_sampled_scores_are_the_gradients_of_the_log_probabilities():
    rewards, log_probs, scores = hw2._sample_trajectories(np.random.default_rng(0), 5)
    theta = torch.tensor(hw2._S_THETA, requires_grad=True)
    pi = hw2._policy_probs()
    for i in range(5):
        for t in range(hw2._S_H):
            (s, a), *_ = np.argwhere(np.isclose(np.log(pi), log_probs[i, t]))
            (grad,) = torch.autograd.grad(torch.log_softmax(theta, dim=1)[s, a], theta)
            np.testing.assert_allclose(scores[i, t], grad.numpy().ravel(), atol=1e-12)
            assert rewards[i, t] == hw2._S_R[s, a]

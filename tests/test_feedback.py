"""What a grading tells whom: the student's ``results.json`` shows as much of a failed check as
its suite's ``FEEDBACK`` allows, staff see everything, and the terminal table shows the whole
feedback in the suite's order.

The reports are built from hand-made :class:`~autograder.checks.CheckResult` s where grading
itself is not the point; two tests grade a homework 2 mutant for real.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import suite_checks, suite_package

from autograder import report
from autograder.audit import load_mutants
from autograder.checks import Check, CheckResult, Outcome
from autograder.grade import SuiteError, grade_submission, suite_feedback
from autograder.judging import CREDIT_POLICY, PROPERTY_NOTE, Tally
from autograder.mutants import apply_mutant
from autograder.sandbox import PROJECT_ROOT, Failure


def _never(sandbox: Any, rng: np.random.Generator) -> Outcome:
    raise AssertionError("not run: the results are made by hand")


def check(name: str, function: str, points: float = 1.0, kind: Any = "value") -> Check:
    return Check(name, function, kind, points, _never)


def result(c: Check, output: str, *, passed: bool = False, brief: str | None = None) -> CheckResult:
    return CheckResult(
        c, c.points if passed else 0.0, "passed" if passed else "failed", output, 0.1, brief
    )


# ------------------------------------------------------------------------------- the setting


def test_a_tally_says_which_property_failed_without_inputs_values_or_hints() -> None:
    tally = Tally("`f` with the reference on 3 cases", "multiply by (1 - done_t)")
    tally.record("case 1", None)
    tally.record(
        "rewards [0.25, 4.5], gamma 0.9", "the result differs:\n  expected [1.]\n  got [2.]"
    )
    tally.failure(
        "case 3", Failure("error", "raised Leak123 in `f`: [0.25, 4.5]", error_type="Leak123")
    )
    outcome = tally.outcome()
    assert "rewards [0.25, 4.5]" in outcome.feedback and "Hint: multiply" in outcome.feedback
    assert outcome.brief == (
        f"Compared `f` with the reference on 3 cases: 1/3 cases match.\n{CREDIT_POLICY}\n"
        f"{PROPERTY_NOTE}"
    )
    # a call that did not return: its kind in fixed words, never the submission's own text
    first = Tally("`f` on 2 cases", "hint")
    first.failure("case 1", Failure("error", "raised Leak123: [0.25]", error_type="Leak123"))
    first.failure("case 2", Failure("error", "raised ValueError: [0.25]", error_type="ValueError"))
    assert "At the first mismatch your code raised an exception." in str(first.outcome().brief)
    builtin = Tally("`f` on 1 case", "hint")
    builtin.failure("case 1", Failure("error", "raised ValueError: x", error_type="ValueError"))
    builtin.skip(1)
    timeout = Tally("`f` on 1 case", "hint")
    timeout.failure("case 1", Failure("timeout", "timed out in `f`: the check's 2 s ran out"))
    assert "your code raised ValueError." in str(builtin.outcome().brief)
    assert "At the first mismatch it ran out of time.\nThe remaining cases were not run." in str(
        timeout.outcome().brief
    )


def test_every_suite_shows_only_which_property_failed(tmp_path: Path) -> None:
    assert [suite_feedback(hw) for hw in ("hw1", "hw2", "hw3")] == ["property"] * 3
    suite = tmp_path / "suite.py"
    make = "from autograder.kit import Suite\nSUITE = Suite(hw='fake', package='fakehw', checks=[]"
    suite.write_text(make + ", feedback='everything')\n")
    with pytest.raises(SuiteError, match="feedback to be one of full, property, got 'everything'"):
        suite_feedback("fake", str(suite))
    suite.write_text(make + ")\n")
    assert suite_feedback("fake", str(suite)) == "property"  # the default


def test_the_student_sees_the_property_staff_see_the_first_mismatch_and_hint(
    tmp_path: Path,
) -> None:
    mutant = next(m for m in load_mutants("hw2") if m.name == "gae_leaks_across_truncation")
    boundary = next(
        c for c in suite_checks("hw2") if c.name.startswith("compute_gae: two trajectories")
    )
    submission = apply_mutant(PROJECT_ROOT, mutant, tmp_path / "mutant")
    staff = grade_submission(
        submission, "hw2", tmp_path / "out", checks=[boundary], package=suite_package("hw2")
    )
    student = json.loads((tmp_path / "out" / "results.json").read_text())
    seen, full = student["tests"][0]["output"], staff["tests"][0]["output"]
    assert student["extra_data"]["feedback"] == "property"
    assert student["tests"][0]["score"] == staff["tests"][0]["score"] < boundary.points
    assert seen.startswith("Compared `compute_gae` with the reference on ")
    assert "cases match" in seen and PROPERTY_NOTE in seen
    for hidden in ("First mismatch", "expected", "Hint:", "(1 - done_t)"):
        assert hidden not in seen and hidden in full, hidden
    # an instructor who wants the details shown says so
    full_view = grade_submission(
        submission,
        "hw2",
        tmp_path / "full",
        checks=[boundary],
        package=suite_package("hw2"),
        feedback="full",
    )
    shown = json.loads((tmp_path / "full" / "results.json").read_text())
    assert shown["tests"][0]["output"] == full_view["tests"][0]["output"] == full


def test_a_check_without_a_brief_shows_only_pass_or_fail() -> None:
    a, b = check("a", "f"), check("b", "g")
    rows = [result(a, "the input was [1, 2]", passed=True), result(b, "expected [3] for [1, 2]")]
    student = report.build_results(
        rows, hw="hw9", seed=0, execution_time=1.0, view="student", feedback="property"
    )
    assert [t["output"] for t in student["tests"]] == [
        "Passed.",
        "Failed: this course shows which checks fail, not their details.",
    ]


# ------------------------------------------------------------------------------- the table


def test_the_table_keeps_the_suite_order_and_the_whole_feedback() -> None:
    checks = [
        check("reward_to_go: values", "reward_to_go"),
        check("compute_gae: terminated", "compute_gae"),
        check("compute_gae: truncated", "compute_gae"),
        check("reward_to_go: unbiased", "reward_to_go", kind="statistical"),
    ]
    long = (
        "Compared `compute_gae` with the reference on 3 batches: 0/3 cases match.\n"
        "First mismatch: one trajectory of length 12, truncated, gamma 0.99, lambda 0.95\n"
        "the result differs (largest difference at index (11,)):\n"
        "  expected [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, "
        "1.6, 1.7, 1.8, 1.9, 2.0, 2.1, 2.2, 2.3]\n"
        "Hint: a truncated step still bootstraps: the END"
    )
    rows = [
        result(checks[0], "ok", passed=True),
        result(checks[1], long),
        result(checks[2], "ok", passed=True),
        result(checks[3], "short"),
    ]
    data = report.build_results(rows, hw="hw9", seed=0, execution_time=1.0)
    assert [t["number"] for t in data["tests"]] == ["1.1", "2.1", "2.2", "3.1"]
    table = report.format_table(data)
    lines = table.splitlines()
    listed = [line.split()[0] for line in lines if line[:1].isdigit()]
    assert listed == ["1.1", "2.1", "2.2", "3.1"]
    assert " ".join(long.split()) in " ".join(table.split())  # wrapped, not cut
    assert max(len(line) for line in lines) <= 105
    assert "  expected [0.1" in table  # the mismatch keeps its own indent


# ------------------------------------------------------------------------------- --fast


def test_fast_grading_says_what_it_left_out(tmp_path: Path) -> None:
    value, learning = (
        check("v", "f", 2.0),
        check("learning curve: CartPole", "Trainer", 8.0, "learning"),
    )
    rows = [result(value, "ok", passed=True)]
    data = report.build_results(rows, hw="hw9", seed=0, execution_time=1.0, left_out=[learning])
    line = (
        "Left out (--fast: learning-curve checks): 1 check (8 points), so this grade is out of 2, "
        "not 10."
    )
    assert data["extra_data"]["left_out"] == {
        "checks": ["learning curve: CartPole"],
        "points": 8.0,
        "why": "--fast: learning-curve checks",
    }
    assert line in data["output"]
    assert line in " ".join(report.format_table(data).split())
    table = list(csv.reader(report.grades_csv({"s": data}, ["v"]).splitlines()))
    assert table == [
        ["submission", "score", "max_score", "left_out", "grader_errors", "v"],
        ["s", "2", "2", "learning curve: CartPole (8 points)", "", "2"],
    ]


# ------------------------------------------------------------------------------- safe text


def test_every_text_written_is_safe_and_capped() -> None:
    assert report.clean("a\ud800b\x1b[31mc\x00d\n\te") == "a\ufffdb\ufffd[31mc\ufffdd\n\te"
    long = report.clean("x" * (report.MAX_OUTPUT_CHARS + 5))
    assert long.endswith("\n[5 more characters cut]")
    c = check("a", "f")
    data = report.build_results(
        [result(c, "\ud800" + "y" * 50_000)], hw="hw9", seed=0, execution_time=0.0
    )
    json.dumps(data, ensure_ascii=False).encode("utf-8")  # writable as UTF-8
    assert len(data["tests"][0]["output"]) < report.MAX_OUTPUT_CHARS + 100

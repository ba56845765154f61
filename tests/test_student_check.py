"""``rlhw check hwN``: the student's self-check on the public tests, in a released tree (with
no engine, only ``GRADING.json``) and in the instructor's repository (counts from the suite)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import suite_checks

from autograder import student_check
from autograder.checks import summarize_checks
from autograder.release import GRADING_FILE, ReleaseError, check_no_leaks

REPO_ROOT = Path(__file__).resolve().parents[1]
HIDDEN_LINE = (
    "The autograder also runs 20 hidden checks (120 points) that this command does not: "
    "passing the public tests is not a grade."
)


def rlhw_check(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-c", "import sys, autograder.cli as c; sys.exit(c.main(sys.argv[1:]))"]
        + ["check", "hw2", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def student(released) -> Path:
    return released("hw2")


def test_the_release_ships_the_counts_and_nothing_else(student):
    grading = json.loads((student / "hw2_policy_gradient" / GRADING_FILE).read_text())
    assert grading == summarize_checks(suite_checks("hw2"))
    assert grading == {
        "hidden_checks": 20,
        "hidden_points": 120.0,
        "kinds": {"gradient": 6, "learning": 2, "statistical": 2, "value": 10},
    }
    assert (student / "autograder" / "student_check.py").is_file()
    assert not (student / "autograder" / "grade.py").exists()


def test_the_check_on_the_bare_starter(student):
    result = rlhw_check(student)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert out.rstrip().endswith(HIDDEN_LINE)
    # every test that hit a stub is counted as not implemented yet, per file and in total
    per_file = {
        m["file"]: (int(m["passed"]), int(m["failed"]), int(m["todo"]))
        for m in re.finditer(
            r"^hw2_policy_gradient/tests/(?P<file>\w+\.py): (?P<passed>\d+) passed, "
            r"(?P<failed>\d+) failed, (?P<todo>\d+) not implemented yet$",
            out,
            re.MULTILINE,
        )
    }
    assert set(per_file) == {"test_pg.py", "test_run.py"}
    stub_hits = stub_hit_tests(student)
    todo = sum(t for _, _, t in per_file.values())
    passed = sum(p for p, _, _ in per_file.values())
    assert todo == len(stub_hits) >= 20
    assert sum(f for _, f, _ in per_file.values()) == 0
    total = passed + todo
    assert f"Public tests: {passed}/{total} passed, 0 failed, {todo} not implemented yet." in out
    # the stub's function and file, not a line number that the student's edits make stale
    assert "waiting on: discounted_return (hw2_policy_gradient/pg.py), " in out


def test_a_failed_test_shows_what_was_compared_and_how_to_rerun_it(student, tmp_path):
    copy = tmp_path / "student"
    shutil.copytree(student, copy)
    pg = copy / "hw2_policy_gradient" / "pg.py"
    stub = 'NotImplementedError("TODO(reward_to_go)'
    lines = pg.read_text().splitlines(keepends=True)
    (index,) = [i for i, line in enumerate(lines) if stub in line]
    lines[index] = "    return np.cumsum(rewards[::-1])[::-1].copy()  # forgot to discount\n"
    pg.write_text("".join(lines))
    out = rlhw_check(copy).stdout
    test = "test_reward_to_go_discounts_from_each_step"
    statement = "np.testing.assert_allclose(got, [3.0, 4.0, 4.0])"
    public = (copy / "hw2_policy_gradient" / "tests" / "test_pg.py").read_text().splitlines()
    (line,) = [n for n, text in enumerate(public, 1) if text.strip() == statement]
    # np.testing's report starts on the line after "AssertionError:": all of it is shown
    expected = f"""\
  FAILED {test} (hw2_policy_gradient/tests/test_pg.py:{line})
    {statement}
    AssertionError: Not equal to tolerance rtol=1e-07, atol=0
    Mismatched elements: 2 / 3 (66.7%)
"""
    assert expected in out, out
    assert " [0]: 7.0 (ACTUAL), 3.0 (DESIRED)\n" in out
    assert (
        f"    rerun it alone: python -m pytest hw2_policy_gradient/tests/test_pg.py::{test}\n"
        in out
    )


def stub_hit_tests(student: Path) -> list[str]:
    """The public tests whose failure is a stub's NotImplementedError, by pytest's own count."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rf"]
        + ["hw2_policy_gradient/tests"],
        cwd=student,
        env={**os.environ, "PYTHONPATH": str(student), "COLUMNS": "1000"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    return re.findall(r"^FAILED (\S+) - NotImplementedError: TODO\(", result.stdout, re.MULTILINE)


def test_the_check_in_the_instructors_repository_counts_from_the_suite():
    assert not (REPO_ROOT / "hw2_policy_gradient" / GRADING_FILE).exists()
    result = rlhw_check(REPO_ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(
        r"Public tests: (\d+)/\1 passed, 0 failed, 0 not implemented yet\.", result.stdout
    )
    assert result.stdout.rstrip().endswith(HIDDEN_LINE)


def test_a_root_without_the_homework_is_an_error(student):
    result = rlhw_check(student, "--root", str(student / "infrastructure"))
    assert result.returncode == 1
    assert "no hw2_*/ folder in" in result.stderr


def test_the_leak_check_allows_only_counts_in_grading_json(student, tmp_path):
    copy = tmp_path / "student"
    shutil.copytree(student, copy)
    grading = copy / "hw2_policy_gradient" / GRADING_FILE
    check_no_leaks(copy, REPO_ROOT, "hw2")
    grading.write_text(
        json.dumps({**summarize_checks(suite_checks("hw2")), "names": ["reward_to_go"]})
    )
    with pytest.raises(ReleaseError, match="grading summary with other fields than counts"):
        check_no_leaks(copy, REPO_ROOT, "hw2")
    grading.write_text(
        json.dumps({**summarize_checks(suite_checks("hw2")), "kinds": {"value": "ten"}})
    )
    with pytest.raises(ReleaseError, match="grading summary holding more than counts"):
        check_no_leaks(copy, REPO_ROOT, "hw2")
    grading.unlink()
    (copy / GRADING_FILE).write_text(json.dumps(summarize_checks(suite_checks("hw2"))))
    with pytest.raises(ReleaseError, match="a grading summary outside"):
        check_no_leaks(copy, REPO_ROOT, "hw2")


def test_a_skipped_test_shows_why(tmp_path):
    """A public test that skips itself (hw4's MBPO tests until the student brings homework 3)
    is counted with its reason, once per reason."""
    reason = "homework 3's SAC is missing: copy your hw3_q_learning/ here"
    xml = tmp_path / "report.xml"
    xml.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="hw4_model_based.tests.test_run" name="test_mbpo_runs">'
        f'<skipped type="pytest.skip" message="Skipped: {reason}">where</skipped></testcase>'
        '<testcase classname="hw4_model_based.tests.test_run" name="test_mbpo_resumes">'
        f'<skipped type="pytest.skip" message="Skipped: {reason}">where</skipped></testcase>'
        '<testcase classname="hw4_model_based.tests.test_run" name="test_mpc_runs"/>'
        "</testsuite></testsuites>"
    )
    summaries = student_check.parse_junit(xml)
    assert summaries[0].skipped == [("test_mbpo_runs", reason), ("test_mbpo_resumes", reason)]
    lines = student_check.format_summary(summaries, None).splitlines()
    assert lines[:2] == [
        "hw4_model_based/tests/test_run.py: 1 passed, 0 failed, 0 not implemented yet, 2 skipped",
        f"  2 tests skipped: {reason}",
    ]

"""The grading engine and its reports, on a fake homework: a correct submission gets full
marks, broken ones fail check by check with plain messages, and every ``results.json`` written
is valid against ``autograder/results_schema.json``.

The fake homework is the package ``fakehw`` (one module, ``core``) and a suite of four value
checks written to a temporary file; the engine loads it the way it loads ``suites/hwN.py``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from conftest import suite_checks, suite_package

from autograder import grade, learning, report
from autograder.checks import Check, GraderError, Outcome
from autograder.grade import (
    SubmissionError,
    SuiteError,
    find_package,
    grade_many,
    grade_submission,
    load_suite,
)
from autograder.learning import LearningTask
from autograder.sandbox import PROJECT_ROOT

# no torch in the worker: these tests start many workers
FAST = {"preload": ("numpy",), "start_timeout_s": 120.0}

SUITE_SOURCE = """
import numpy as np

from autograder.checks import Check, GraderError, Outcome
from autograder.kit import Suite


def _value(function, reference, timeout_s):
    def run(sandbox, rng):
        x = rng.normal(size=5)
        result = sandbox.call("fakehw.core", function, (x,), timeout_s=timeout_s)
        if not result.ok:
            return Outcome(0.0, result.message)
        got, expected = np.asarray(result.value), reference(x)
        if got.shape != expected.shape or not np.allclose(got, expected):
            return Outcome(0.0, f"`{function}` on {x}: expected {expected}, got {got}")
        return Outcome(1.0, f"`{function}` matches on 5 inputs from {x[0]:.6f}")

    return run


CHECKS = [
    Check("double: twice the input", "double", "value", 2.0, _value("double", lambda x: 2 * x, 60)),
    Check("square: elementwise", "square", "value", 3.0, _value("square", np.square, 60)),
    Check(
        "slow_identity: returns its input", "slow_identity", "value", 1.0,
        _value("slow_identity", lambda x: x, 60), timeout_s=2.0,
    ),
    Check(
        "square: hidden case", "square", "value", 4.0, _value("square", np.square, 60),
        visibility="after_due_date",
    ),
]
SUITE = Suite(hw="fake", package="fakehw", checks=CHECKS, feedback="full")
"""

CORRECT = """
import numpy as np


def double(x):
    return 2 * x


def square(x):
    return x**2


def slow_identity(x):
    return x
"""

BROKEN = {
    "syntax": CORRECT + "\ndef oops(:\n",
    "import": "import no_such_module_for_rlhw\n" + CORRECT,
    "loop": CORRECT.replace("    return x\n", "    while True:\n        pass\n"),
    "exit": "import os\nos._exit(3)\n" + CORRECT,
}
CHECK_NAMES = [
    "double: twice the input",
    "square: elementwise",
    "slow_identity: returns its input",
    "square: hidden case",
]


@pytest.fixture(scope="module")
def suite_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("suite") / "fake_suite.py"
    path.write_text(SUITE_SOURCE)
    return str(path)


def make_submission(folder: Path, core: str = CORRECT) -> Path:
    """A student tree holding ``fakehw/``; returns ``folder``."""
    package = folder / "fakehw"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "core.py").write_text(core)
    (folder / "README.md").write_text("my homework\n")
    return folder


def validated(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    jsonschema.validate(data, report.load_schema(), cls=jsonschema.Draft202012Validator)
    return data


def rows(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in data["tests"]}


def without_timing(data: dict[str, Any]) -> dict[str, Any]:
    data = json.loads(json.dumps(data))
    data.pop("execution_time")
    for test in data["tests"]:
        test["extra_data"].pop("seconds")
    return data


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(report.load_schema())


def test_correct_submission_gets_full_marks(tmp_path: Path, suite_file: str) -> None:
    submission = make_submission(tmp_path / "alice")
    results = grade_submission(
        submission, "fake", tmp_path / "out", suite=suite_file, sandbox_options=FAST
    )
    data = validated(tmp_path / "out" / "results.json")
    assert validated(tmp_path / "out" / "staff.json") == results
    assert data["extra_data"]["view"] == "student" and results["extra_data"]["view"] == "staff"
    assert (data["score"], data["max_score"]) == (10.0, 10.0)
    assert [t["status"] for t in data["tests"]] == ["passed"] * 4
    # numbered in the suite's order: a new group at each change of function
    assert [t["number"] for t in data["tests"]] == ["1.1", "2.1", "3.1", "4.1"]
    assert data["tests"][0]["tags"] == ["value", "double"]
    # one check is hidden: the summary says so, and never that all checks passed
    assert "3 of 3 visible checks passed" in data["output"]
    assert "1 hidden check (4 points) is pending" in data["output"]
    assert "All" not in data["output"]
    table = report.format_table(data)
    assert "total: 10/10 points (4 of 4 checks passed)" in table
    assert "hidden from students" in table
    student_view = report.format_table(data, show_hidden=False)
    assert "square: hidden case" not in student_view
    assert "1 hidden check (4 points) is pending" in student_view


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_submission_fails_check_by_check(tmp_path: Path, suite_file: str, kind: str) -> None:
    submission = make_submission(tmp_path / kind, BROKEN[kind])
    started = time.monotonic()
    grade_submission(submission, "fake", tmp_path / "out", suite=suite_file, sandbox_options=FAST)
    assert time.monotonic() - started < 40
    data = validated(tmp_path / "out" / "results.json")
    by_name = rows(data)
    if kind == "loop":
        # only the function that hangs fails, on its check's own 2 s limit
        assert data["score"] == 9.0
        loop = by_name["slow_identity: returns its input"]
        assert loop["status"] == "failed"
        assert loop["output"] == "timed out in `slow_identity`: the check's 2 s ran out"
        assert by_name["square: hidden case"]["status"] == "passed"
        return
    assert data["score"] == 0.0
    assert data["max_score"] == 10.0
    expected = {
        "syntax": "SyntaxError",
        "import": "no_such_module_for_rlhw",
        "exit": "exit",
    }[kind]
    for test in data["tests"]:
        assert test["status"] == "failed"
        assert expected in test["output"], test["output"]


def test_checks_that_break_are_grader_errors_told_to_staff_not_the_student(
    tmp_path: Path,
) -> None:
    def raises(sandbox: Any, rng: np.random.Generator) -> Outcome:
        raise KeyError("reference_table")

    def hangs(sandbox: Any, rng: np.random.Generator) -> Outcome:
        time.sleep(30)
        return Outcome(1.0, "never")

    def not_an_outcome(sandbox: Any, rng: np.random.Generator) -> Outcome:
        return 1.0  # type: ignore[return-value]

    def stale(sandbox: Any, rng: np.random.Generator) -> Outcome:
        raise GraderError("fake.json was made for another config: run `rlhw calibrate fake`")

    def bad_request(sandbox: Any, rng: np.random.Generator) -> Outcome:
        result = sandbox.call("fakehw.core", "_private", (3,))  # a bug in the check
        return Outcome(0.0, f"your code failed: {result.message}")

    def works(sandbox: Any, rng: np.random.Generator) -> Outcome:
        result = sandbox.call("fakehw.core", "double", (3,))
        return Outcome(1.0 if result.ok and result.value == 6 else 0.0, "double(3)")

    checks = [
        Check("raises", "f", "value", 1.0, raises),
        Check("hangs", "f", "value", 1.0, hangs, timeout_s=0.5),
        Check("not an outcome", "f", "value", 1.0, not_an_outcome),
        Check("stale", "f", "learning", 1.0, stale),
        Check("bad request", "f", "value", 1.0, bad_request),
        Check("works after", "double", "value", 1.0, works),
    ]
    out = tmp_path / "out"
    data = grade_submission(
        make_submission(tmp_path / "s"),
        "fake",
        out,
        checks=checks,
        package="fakehw",
        sandbox_options=FAST,
        watchdog_grace_s=0.5,
    )
    assert validated(out / "staff.json") == data
    # staff read what went wrong
    by_name = rows(data)
    assert by_name["raises"]["output"] == (
        "internal grader error in check 'raises': KeyError: 'reference_table'"
    )
    assert (
        by_name["hangs"]["output"]
        == "internal grader error in check 'hangs': did not finish within 1 s"
    )
    assert "returned float, not an Outcome" in by_name["not an outcome"]["output"]
    assert by_name["stale"]["output"] == (
        "internal grader error in check 'stale': fake.json was made for another config: run "
        "`rlhw calibrate fake`"
    )
    assert by_name["bad request"]["output"].startswith(
        "internal grader error in check 'bad request': the worker could not run its request: "
        "could not run `_private`: bad request: names are identifiers"
    )
    broken = ["raises", "hangs", "not an outcome", "stale", "bad request"]
    assert data["extra_data"]["grader_errors"] == broken
    assert "Grader error in 5 checks (5 points), not the student's fault" in data["output"]
    table = report.format_table(data)
    assert table.count("GRADER ERROR") == 5 and "rlhw calibrate fake" in " ".join(table.split())
    gradebook = list(
        csv.reader(report.grades_csv({"s": data}, [c.name for c in checks]).split("\n"))
    )
    assert gradebook[1][4] == "; ".join(broken)
    # the student reads that these checks will be graded again; the other one stands
    student = validated(out / "results.json")
    for name, row in rows(student).items():
        if name in broken:
            assert row["output"] == report.GRADER_ERROR_TEXT
            assert (row["score"], row["status"], row["extra_data"]["grader_error"]) == (
                0.0,
                "failed",
                True,
            )
    assert (
        "5 checks (5 points) are not graded yet because of a problem on the grader's side, "
        "not in your code" in student["output"]
    )
    assert rows(student)["works after"]["status"] == "passed" and student["score"] == 1.0
    text = json.dumps(student)
    for staff_only in ("internal grader error", "rlhw calibrate", "KeyError", "your code failed"):
        assert staff_only not in text


def test_an_engine_that_breaks_is_a_grader_error(
    tmp_path: Path, suite_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the engine broke")

    monkeypatch.setattr(grade, "run_checks", broken)
    out = tmp_path / "out"
    data = grade_submission(
        make_submission(tmp_path / "s"), "fake", out, suite=suite_file, sandbox_options=FAST
    )
    assert data["tests"][0]["output"] == "internal grader error: RuntimeError: the engine broke"
    student = validated(out / "results.json")
    assert (student["score"], student["max_score"]) == (0.0, 10.0)
    assert student["tests"][0]["output"] == report.GRADER_ERROR_TEXT
    assert "the engine broke" not in json.dumps(student)
    assert "1 check (10 points) is not graded yet" in student["output"]


def test_a_stale_calibration_costs_the_student_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autograder.mutants import copy_homework
    from hw2_policy_gradient.config import PRESETS

    monkeypatch.setattr(learning, "CALIBRATION_DIR", tmp_path / "calibration")  # no file there
    config = {**dataclasses.asdict(PRESETS["CartPole-v1"]), "total_steps": 1000}
    task = LearningTask(
        "CartPole-tiny", f"{suite_package('hw2')}.run", "Trainer", config, "CartPole-v1", (1000,)
    )
    normalize = next(c for c in suite_checks("hw2") if c.function == "normalize")
    checks = [normalize, learning.learning_check_of("hwtest", task, points=10, timeout_s=60)]
    reference = copy_homework(PROJECT_ROOT, suite_package("hw2"), tmp_path / "reference")
    out = tmp_path / "out"

    data = grade_submission(reference, "hwtest", out, checks=checks, package=suite_package("hw2"))

    learning_row = rows(data)["learning curve: CartPole-tiny"]
    assert learning_row["extra_data"]["grader_error"] is True
    assert "rlhw calibrate hwtest" in learning_row["output"]
    student = validated(out / "results.json")
    assert [t["output"] for t in student["tests"]][1] == report.GRADER_ERROR_TEXT
    assert student["tests"][0]["status"] == "passed"  # the other check stands
    assert student["score"] == normalize.points
    assert "rlhw calibrate" not in json.dumps(student)


def test_same_seed_same_results(tmp_path: Path, suite_file: str) -> None:
    submission = make_submission(tmp_path / "s")
    runs = [
        grade_submission(
            submission,
            "fake",
            tmp_path / f"out{i}",
            seed=seed,
            suite=suite_file,
            sandbox_options=FAST,
        )
        for i, seed in enumerate([7, 7, 8])
    ]
    assert without_timing(runs[0]) == without_timing(runs[1])
    assert without_timing(runs[0]) != without_timing(runs[2])  # the inputs depend on the seed
    assert runs[0]["tests"][0]["output"] != runs[2]["tests"][0]["output"]


def _zip(path: Path, entries: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in entries.items():
            zf.writestr(name, text)
    return path


def test_zip_submissions(tmp_path: Path, suite_file: str) -> None:
    nested = _zip(
        tmp_path / "bob.zip",
        {"bob-hw/fakehw/__init__.py": "", "bob-hw/fakehw/core.py": CORRECT, "bob-hw/x.md": ""},
    )
    data = grade_submission(nested, "fake", tmp_path / "o1", suite=suite_file, sandbox_options=FAST)
    assert data["score"] == 10.0
    # the package's files alone, at the top of the zip
    bare = _zip(tmp_path / "carol.zip", {"__init__.py": "", "core.py": CORRECT})
    found = find_package(bare, "fakehw", scratch=tmp_path / "scratch1")
    assert (found.root / "fakehw" / "core.py").read_text() == CORRECT


def test_unsafe_zips_are_refused(tmp_path: Path, suite_file: str, monkeypatch: Any) -> None:
    slip = _zip(tmp_path / "slip.zip", {"fakehw/__init__.py": "", "../../evil.py": "x = 1"})
    data = grade_submission(slip, "fake", tmp_path / "out", suite=suite_file, sandbox_options=FAST)
    validated(tmp_path / "out" / "results.json")
    assert data["score"] == 0.0 and data["max_score"] == 10.0
    assert data["tests"][0]["output"] == (
        "refused slip.zip: the entry '../../evil.py' points outside the zip"
    )
    assert not list(tmp_path.parent.glob("evil.py")) and not (tmp_path / "evil.py").exists()

    absolute = _zip(tmp_path / "abs.zip", {"/etc/evil.py": ""})
    with pytest.raises(SubmissionError, match="is an absolute path"):
        find_package(absolute, "fakehw", scratch=tmp_path / "s1")

    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as zf:
        info = zipfile.ZipInfo("fakehw/core.py")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(SubmissionError, match="is a symbolic link"):
        find_package(link, "fakehw", scratch=tmp_path / "s2")

    many = _zip(tmp_path / "many.zip", {f"fakehw/m{i}.py": "" for i in range(5)})
    monkeypatch.setattr(grade, "MAX_ZIP_FILES", 4)
    with pytest.raises(SubmissionError, match="5 entries, more than the 4 allowed"):
        find_package(many, "fakehw", scratch=tmp_path / "s3")
    monkeypatch.setattr(grade, "MAX_ZIP_BYTES", 10)
    big = _zip(tmp_path / "big.zip", {"fakehw/core.py": CORRECT})
    with pytest.raises(SubmissionError, match="MiB allowed"):
        find_package(big, "fakehw", scratch=tmp_path / "s4")

    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"not a zip")
    with pytest.raises(SubmissionError, match="could not read the zip file garbage.zip"):
        find_package(garbage, "fakehw", scratch=tmp_path / "s5")


def test_missing_package_says_what_was_expected(tmp_path: Path, suite_file: str) -> None:
    submission = tmp_path / "dave"
    (submission / "b").mkdir(parents=True)
    (submission / "a.py").write_text("")
    data = grade_submission(
        submission, "fake", tmp_path / "out", suite=suite_file, sandbox_options=FAST
    )
    validated(tmp_path / "out" / "results.json")
    assert (data["score"], data["max_score"]) == (0.0, 10.0)
    assert len(data["tests"]) == 1
    assert data["tests"][0]["output"] == "expected a folder fakehw/; found: a.py, b/"
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "core.py").write_text("### BEGIN SOLUTION\n### END SOLUTION\n")
    with pytest.raises(
        SubmissionError,
        match=r"^expected a folder fakehw/ with core.py, or those files at any depth; found: a",
    ):
        find_package(submission, "fakehw", scratch=tmp_path / "s", reference=reference)


def test_load_suite(tmp_path: Path, suite_file: str) -> None:
    package, checks = load_suite("fake", suite_file)
    assert package == "fakehw" and [c.name for c in checks] == CHECK_NAMES
    with pytest.raises(SuiteError, match=r"^unknown homework 'hw9'; expected one of "):
        load_suite("hw9")
    twice = tmp_path / "twice.py"
    twice.write_text(
        SUITE_SOURCE + "\nSUITE = Suite(hw='fake', package='fakehw', checks=CHECKS * 2)\n"
    )
    with pytest.raises(SuiteError, match="expected unique check names"):
        load_suite("fake", str(twice))
    a_list = tmp_path / "a_list.py"
    a_list.write_text(SUITE_SOURCE + "\nSUITE = CHECKS\n")
    with pytest.raises(SuiteError, match=r"SUITE to be an autograder.kit.Suite, got list$"):
        load_suite("fake", str(a_list))


def test_expected_files_come_from_the_reference() -> None:
    if (PROJECT_ROOT / "hw2_policy_gradient" / "pg.py").is_file():
        assert "pg.py" in grade.expected_files("hw2_policy_gradient")
    assert grade.expected_files("no_such_package") == []


def test_grade_many_in_parallel(tmp_path: Path, suite_file: str) -> None:
    subs = [
        make_submission(tmp_path / "subs" / "erin"),
        _zip(tmp_path / "subs" / "erin.zip", {"fakehw/__init__.py": "", "fakehw/core.py": "("}),
        tmp_path / "subs" / "empty",
    ]
    subs[2].mkdir()
    out = tmp_path / "out"
    results = grade_many(subs, "fake", out, jobs=2, seed=3, suite=suite_file, sandbox_options=FAST)
    assert list(results) == ["erin", "erin-2", "empty"]
    for name in results:
        assert validated(out / name / "staff.json") == results[name]
        assert validated(out / name / "results.json")["extra_data"]["view"] == "student"
    assert [results[n]["score"] for n in results] == [10.0, 0.0, 0.0]
    with open(out / "grades.csv", newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == [
        "submission",
        "score",
        "max_score",
        "left_out",
        "grader_errors",
        *CHECK_NAMES,
    ]
    assert table[1] == ["erin", "10", "10", "", "", "2", "3", "1", "4"]
    assert table[2][:5] == ["erin-2", "0", "10", "", ""]
    assert table[3] == ["empty", "0", "10", "", "", "0", "0", "0", "0"]
    assert "erin-2" in report.format_batch(results)


def test_submission_names_are_unique_and_safe() -> None:
    names = grade.submission_names(
        [Path("a/x.zip"), Path("b/x"), Path("c/x.ZIP"), Path("d/we ird!"), Path("grades.csv")]
    )
    assert names == ["x", "x-2", "x-3", "we_ird", "grades.csv-2"]


def _rlhw(*args: str) -> subprocess.CompletedProcess[str]:
    rlhw = Path(sys.executable).parent / "rlhw"
    return subprocess.run(
        [str(rlhw), *args], capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT
    )


def test_cli_end_to_end(tmp_path: Path, suite_file: str) -> None:
    submission = make_submission(tmp_path / "frank", BROKEN["syntax"])
    out = tmp_path / "grading"
    done = _rlhw("grade", "fake", str(submission), "--out", str(out), "--suite", suite_file)
    assert done.returncode == 0, done.stderr
    data = validated(out / "results.json")
    assert data["score"] == 0.0
    assert "total: 0/10 points (0 of 4 checks passed)" in done.stdout
    assert "SyntaxError" in done.stdout


GRADER_ERROR_SUITE = """
from autograder.checks import Check, GraderError, Outcome
from autograder.kit import Suite


def stale(sandbox, rng):
    raise GraderError("fake.json was made for another config: run `rlhw calibrate fake`")


def works(sandbox, rng):
    result = sandbox.call("fakehw.core", "double", (3,))
    return Outcome(1.0 if result.ok and result.value == 6 else 0.0, "double(3)")


SUITE = Suite(
    hw="fake",
    package="fakehw",
    checks=[
        Check("learns", "f", "learning", 5.0, stale),
        Check("doubles", "double", "value", 1.0, works),
    ],
)
"""


def test_cli_exits_3_and_tells_the_ta_which_checks_to_grade_again(tmp_path: Path) -> None:
    suite = tmp_path / "broken_suite.py"
    suite.write_text(GRADER_ERROR_SUITE)
    one, two = make_submission(tmp_path / "ann"), make_submission(tmp_path / "bob")
    done = _rlhw("grade", "fake", str(one), "--out", str(tmp_path / "g1"), "--suite", str(suite))
    assert done.returncode == 3, done.stderr
    assert "rlhw grade: grader errors in 1 submission(s)" in done.stderr
    assert "ann: learns: internal grader error in check 'learns': fake.json was made" in done.stderr
    assert "staff.json" in done.stdout
    student = validated(tmp_path / "g1" / "results.json")
    assert "rlhw calibrate" not in json.dumps(student)
    assert rows(student)["doubles"]["score"] == 1.0
    done = _rlhw(
        "grade", "fake", str(one), str(two), "--out", str(tmp_path / "g2"), "--suite", str(suite)
    )
    assert done.returncode == 3, done.stderr
    assert "grader errors in 2 submission(s)" in done.stderr
    assert "  ann: learns:" in done.stderr and "  bob: learns:" in done.stderr


def test_cli_usage_errors(tmp_path: Path) -> None:
    done = _rlhw("grade", "hw9", str(tmp_path))
    assert done.returncode == 2
    assert "unknown homework 'hw9'; expected one of" in done.stderr
    done = _rlhw("grade", "hw9", str(tmp_path / "nope"))
    assert done.returncode == 2 and "no such file or folder" in done.stderr
    done = _rlhw("grade", "hw2", str(tmp_path), "--jobs", "0")
    assert done.returncode == 2 and "expected a number >= 1, got 0" in done.stderr
    assert "--suite" not in _rlhw("grade", "--help").stdout
    assert os.path.exists(Path(sys.executable).parent / "rlhw")


def test_a_check_may_have_a_sandbox_of_its_own_and_fast_leaves_learning_out(
    tmp_path: Path,
) -> None:
    def cpu_limit(sandbox: Any, rng: np.random.Generator) -> Outcome:
        limit = sandbox.ping().value and sandbox.isolation.limits["RLIMIT_CPU"][0]
        return Outcome(1.0, f"RLIMIT_CPU {limit}")

    checks = [
        Check("shared", "f", "value", 1.0, cpu_limit),
        Check("own", "f", "learning", 2.0, cpu_limit, sandbox={"cpu_seconds": 77}),
        Check("shared again", "f", "value", 1.0, cpu_limit),
    ]
    submission = make_submission(tmp_path / "s")
    options = {**FAST, "cpu_seconds": 33}
    data = grade_submission(
        submission,
        "fake",
        tmp_path / "all",
        checks=checks,
        package="fakehw",
        sandbox_options=options,
    )
    outputs = [test["output"] for test in data["tests"]]
    assert outputs == ["RLIMIT_CPU 33", "RLIMIT_CPU 77", "RLIMIT_CPU 33"]
    fast = grade_submission(
        submission,
        "fake",
        tmp_path / "fast",
        checks=checks,
        package="fakehw",
        sandbox_options=options,
        fast=True,
    )
    assert [test["name"] for test in fast["tests"]] == ["shared", "shared again"]
    assert fast["max_score"] == 2.0
    student = validated(tmp_path / "fast" / "results.json")
    assert student["extra_data"]["left_out"] == fast["extra_data"]["left_out"]
    assert fast["extra_data"]["left_out"]["checks"] == ["own"]
    assert "1 check (2 points), so this grade is out of 2, not 4." in student["output"]

"""Tests of ``autograder/release.py``: stripping solutions, the student tree, the leak check.

The hw2 release is built once per module; every test that changes a tree works on a copy.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from autograder.cli import main as cli_main
from autograder.release import (
    REPO_ROOT,
    STAFF_BEGIN,
    STAFF_END,
    ReleaseError,
    check_no_leaks,
    find_regions,
    given_files,
    homework_dependencies,
    release_student,
    strip_solutions,
    strip_staff_sections,
)

# Public hw2 tests that pass on the bare starter because they never reach student code.
TRIVIALLY_PASSING = {"test_a_misspelled_option_is_an_error"}


def strip(source: str, path: str = "demo.py") -> str:
    return strip_solutions(textwrap.dedent(source), path)


def run_stub(source: str, call: str) -> str:
    """The message of the NotImplementedError that ``call`` raises in stripped ``source``."""
    namespace: dict = {}
    exec(compile(source, "demo.py", "exec"), namespace)
    with pytest.raises(NotImplementedError) as raised:
        eval(call, namespace)
    return str(raised.value)


# ---- strip_solutions ----------------------------------------------------------------------


def test_a_region_becomes_one_stub_at_its_indentation():
    source = """\
        def reward_to_go(rewards, gamma):
            \"\"\"Doc.\"\"\"
            ### BEGIN SOLUTION
            running = 0.0
            return running
            ### END SOLUTION
        """
    assert strip(source) == textwrap.dedent(
        """\
        def reward_to_go(rewards, gamma):
            \"\"\"Doc.\"\"\"
            raise NotImplementedError("TODO(reward_to_go): not implemented yet (demo.py)")
        """
    )


def test_stubs_name_the_qualified_function_and_their_own_line():
    source = textwrap.dedent(
        """\
        class GaussianPolicy:
            def distribution(self, obs):
                # Hint: stays.
                ### BEGIN SOLUTION
                mean = obs * 2
                return mean
                ### END SOLUTION


        def outer(x):
            def inner(y):
                if y:
                    # BEGIN SOLUTION
                    return y
                    # END SOLUTION
                return 0

            ### BEGIN SOLUTION
            a = inner(x)
            b = a + 1
            return b
            ### END SOLUTION
        """
    )
    stripped = strip_solutions(source, "p.py")
    lines = stripped.splitlines()
    assert "# Hint: stays." in stripped and "mean = obs" not in stripped
    stub = 'raise NotImplementedError("TODO({}): not implemented yet (p.py)")'
    assert lines[3] == " " * 8 + stub.format("GaussianPolicy.distribution")
    assert lines[9] == " " * 12 + stub.format("outer.inner")
    assert lines[12] == " " * 4 + stub.format("outer")
    message = run_stub(stripped, "GaussianPolicy().distribution(1)")
    assert message == "TODO(GaussianPolicy.distribution): not implemented yet (p.py)"
    assert run_stub(stripped, "outer(1)") == "TODO(outer): not implemented yet (p.py)"


def test_a_long_stub_is_laid_out_as_ruff_format_would_and_still_points_at_its_line():
    name = "a_function_with_a_name_long_enough_to_push_the_stub_past_one_hundred_columns"
    source = f"class C:\n    def {name}(self):\n        ### BEGIN SOLUTION\n        return 1\n"
    source += "        ### END SOLUTION\n"
    stripped = strip_solutions(source, "hw9_demo/deeply/nested/module.py")
    assert max(len(line) for line in stripped.splitlines()) <= 100
    assert stripped.splitlines()[2] == "        raise NotImplementedError("
    assert run_stub(stripped, f"C().{name}()") == (
        f"TODO(C.{name}): not implemented yet (hw9_demo/deeply/nested/module.py)"
    )


def test_a_file_without_regions_comes_back_unchanged():
    source = "def f():\n    return 1  # ### BEGIN SOLUTION is only mentioned here\n"
    assert strip_solutions(source, "demo.py") == source


def test_an_empty_region_at_the_end_of_a_body_is_stubbed():
    stripped = strip('def f():\n    """Doc."""\n    ### BEGIN SOLUTION\n    ### END SOLUTION\n')
    assert run_stub(stripped, "f()") == "TODO(f): not implemented yet (demo.py)"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f():\n    return 1\n    ### END SOLUTION\n", "demo.py:3: `### END SOLUTION` without"),
        (
            "def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    pass\n"
            "    ### END SOLUTION\n",
            "demo.py:3: nested `### BEGIN SOLUTION`: the region opened at line 2",
        ),
        ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", "demo.py:2: `### BEGIN SOLUTION` is"),
        (
            "def f():\n    if True:\n        ### BEGIN SOLUTION\n        x = 1\n    y = 2\n"
            "        ### END SOLUTION\n",
            "demo.py:5: a line of the solution region opened at line 3 is less indented than its "
            "markers; expected at least 8 columns, got 4",
        ),
        (
            "def f():\n    ### BEGIN SOLUTION\n    return 1\n        ### END SOLUTION\n",
            "demo.py:4: expected `### END SOLUTION` at the indentation of its `### BEGIN SOLUTION`"
            " (line 2, 4 columns), got 8 columns",
        ),
        (
            "def f():\n    ### BEGIN SOLUTION: use numpy\n    return 1\n    ### END SOLUTION\n",
            "demo.py:2: expected `### BEGIN SOLUTION` or `### END SOLUTION` alone on its line",
        ),
        (
            "### BEGIN SOLUTION\nX = 1\n### END SOLUTION\n",
            "demo.py:1: solution region at module level; expected it inside a function",
        ),
        (
            "class C:\n    ### BEGIN SOLUTION\n    X = 1\n    ### END SOLUTION\n",
            "demo.py:2: solution region in the body of class `C`; expected it inside a function",
        ),
        (
            "def f():\n    x = max(\n        ### BEGIN SOLUTION\n        1,\n"
            "        ### END SOLUTION\n        2,\n    )\n",
            "demo.py:3: `### BEGIN SOLUTION` inside the statement at lines 2-7",
        ),
    ],
    ids=[
        "end-without-begin",
        "nested-begin",
        "unclosed",
        "less-indented-line",
        "end-indentation",
        "marker-with-text",
        "module-level",
        "class-body",
        "inside-a-statement",
    ],
)
def test_bad_markers_are_refused_with_file_and_line(source, expected):
    with pytest.raises(ReleaseError) as raised:
        strip_solutions(source, "demo.py")
    assert expected in str(raised.value)


def test_a_name_assigned_only_in_the_region_and_used_after_it_is_refused():
    source = """\
        def f(x):
            scale = 2
            ### BEGIN SOLUTION
            y = x * scale
            ### END SOLUTION
            return check(y)
        """
    with pytest.raises(ReleaseError, match=r"demo.py:6: `y` is used outside the solution region"):
        strip(source)


def test_names_also_bound_outside_the_region_are_fine():
    source = """\
        def f(x, y=None):
            z = 0
            ### BEGIN SOLUTION
            y = x
            z = [x for x in range(3)]
            ### END SOLUTION
            return y, z
        """
    assert "raise NotImplementedError" in strip(source)


def test_a_name_shared_by_two_regions_of_one_function_is_fine():
    source = """\
        def f(x):
            ### BEGIN SOLUTION
            y = x + 1
            ### END SOLUTION
            x = x * 2
            ### BEGIN SOLUTION
            return y * x
            ### END SOLUTION
        """
    assert strip(source).count("raise NotImplementedError") == 2


def test_markers_shown_in_a_docstring_are_text():
    source = '''\
        """Write your code between

            ### BEGIN SOLUTION
            ### END SOLUTION
        """


        def f():
            ### BEGIN SOLUTION
            return 1
            ### END SOLUTION
        '''
    stripped = strip(source)
    assert stripped.count("### BEGIN SOLUTION") == 1
    assert stripped.splitlines()[8].endswith('"TODO(f): not implemented yet (demo.py)")')


# ---- strip_staff_sections ----------------------------------------------------------------


def test_staff_markers_alone_on_their_lines_take_the_lines_with_them():
    text = f"# Handout\n\nFor you.\n\n{STAFF_BEGIN}\n## For instructors\n\nTools.\n{STAFF_END}\n"
    assert strip_staff_sections(text, "README.md") == "# Handout\n\nFor you.\n\n"


def test_staff_markers_inside_lines_cut_only_what_lies_between_them():
    text = (
        f"Plot it beside random play{STAFF_BEGIN} (`python bench/atari.py`\n"
        f"measures it){STAFF_END}. Then {STAFF_BEGIN}secret {STAFF_END}answer.\n"
    )
    assert strip_staff_sections(text, "README.md") == "Plot it beside random play. Then answer.\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"a\n{STAFF_END}\n", f"README.md:2: `{STAFF_END}` without a `{STAFF_BEGIN}` before it"),
        (
            f"{STAFF_BEGIN}\na\n{STAFF_BEGIN}\nb\n{STAFF_END}\n",
            f"README.md:3: `{STAFF_BEGIN}` inside the staff-only part opened at line 1",
        ),
        (f"a\n\n{STAFF_BEGIN}\nb\n", f"README.md:3: `{STAFF_BEGIN}` is never closed"),
    ],
    ids=["end-without-begin", "nested", "unclosed"],
)
def test_unbalanced_staff_markers_are_refused_with_file_and_line(text, expected):
    with pytest.raises(ReleaseError) as raised:
        strip_staff_sections(text, "README.md")
    assert expected in str(raised.value)


def test_multi_line_strings_inside_a_region_may_start_at_column_zero():
    source = 'def f():\n    ### BEGIN SOLUTION\n    s = """\ntext\n"""\n    return s\n'
    source += "    ### END SOLUTION\n"
    assert "text" not in strip_solutions(source, "demo.py")


# ---- the hw2 release ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def student(released) -> Path:
    return released("hw2")


def student_env(student_dir: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(student_dir), "PYTHONDONTWRITEBYTECODE": "1"}


def reference_solution_lines() -> list[str]:
    lines = []
    for name in ("pg.py", "policies.py"):
        source = (REPO_ROOT / "hw2_policy_gradient" / name).read_text()
        for region in find_regions(source, name):
            lines += source.splitlines()[region.begin : region.end - 1]
    return [line.strip() for line in lines if len(line.strip()) >= 12]


def test_the_student_tree_holds_what_it_should(student):
    files = {p.relative_to(student).as_posix() for p in student.rglob("*") if p.is_file()}
    assert student == student.parent / "student" and student.parent.name == "hw2"
    for name in ["pyproject.toml", "Makefile", "README.md", "environment.yml", ".gitignore"]:
        assert name in files
    assert {f for f in files if f.startswith("autograder/")} == {
        "autograder/__init__.py",
        "autograder/cli.py",
        "autograder/student_check.py",
    }
    assert "hw2_policy_gradient/tests/test_pg.py" in files
    assert "infrastructure/sampler.py" in files
    assert {f for f in files if f.startswith("hw3_")} <= {
        "hw3_q_learning/README.md",
        "hw3_q_learning/__init__.py",
    }
    assert not [f for f in files if f.split("/")[0] in ("tests", "bench") or "__pycache__" in f]
    assert [p.name for p in student.parent.iterdir()] == ["student"]  # no temporary left


def test_no_solution_line_or_marker_is_left(student):
    solution = reference_solution_lines()
    assert len(solution) >= 15
    for file in student.rglob("*.py"):
        lines = {line.strip() for line in file.read_text().splitlines()}
        assert not lines & set(solution), file
        assert "### BEGIN SOLUTION" not in lines and "### END SOLUTION" not in lines
    pg = (student / "hw2_policy_gradient" / "pg.py").read_text()
    assert pg.count("raise NotImplementedError") == 7
    check_no_leaks(student, REPO_ROOT, "hw2")


def test_the_student_tree_imports_and_has_the_rlhw_command(student):
    code = (
        "import hw2_policy_gradient.pg, hw2_policy_gradient.policies, hw2_policy_gradient.run\n"
        "import autograder.cli\n"
        "print(hw2_policy_gradient.pg.__file__)\n"
        "autograder.cli.main(['--help'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=student,
        env=student_env(student),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.splitlines()[0]).is_relative_to(student)
    assert "usage: rlhw" in result.stdout
    # only what works without the engine, which the tree does not ship
    commands = re.findall(r"^    (\w+)", result.stdout, re.MULTILINE)
    assert commands == ["check"], result.stdout
    assert "release, grade, audit, calibrate: the course staff's commands" in result.stdout


def test_staff_commands_are_refused_by_the_student_rlhw_without_an_import_error(student):
    result = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "grade", "hw2", "."],
        cwd=student,
        env=student_env(student),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert re.search(r"invalid choice: '?grade'? \(choose from '?check'?\)", result.stderr)
    assert "Error" not in result.stderr and "Traceback" not in result.stderr


def test_the_student_tree_has_its_own_readme_makefile_and_environment(student):
    readme = (student / "README.md").read_text()
    assert readme.startswith("# Homework 2: policy gradients\n")
    assert "make check" in readme
    assert "jupyter notebook hw2_policy_gradient/analysis.ipynb" in readme
    assert "python -m hw2_policy_gradient.run --env CartPole-v1 --seed 0" in readme
    for staff in ("instructor", "TA", "rlhw grade", "rlhw release", "bench/", ".ci/", "tests/"):
        assert staff not in readme.replace("hw2_policy_gradient/tests", ""), staff
    makefile = (student / "Makefile").read_text()
    assert "rlhw check hw2" in makefile and 'pip install --quiet -e ".[check,notebook]"' in makefile
    assert "autograder.cli release" not in makefile and "demo" not in makefile
    assert "- -e .[check,notebook]\n" in (student / "environment.yml").read_text()
    placeholder = (student / "hw3_q_learning" / "README.md").read_text()
    assert placeholder.startswith("# Homework 3: Q-learning and actor-critic\n\nNot part of this")


def test_a_homework_without_a_notebook_installs_no_jupyter(released):
    student = released("hw3")
    assert 'pip install --quiet -e ".[check]"' in (student / "Makefile").read_text()
    assert "jupyter" not in (student / "README.md").read_text().lower()
    handout = (student / "hw3_q_learning" / "README.md").read_text()
    assert "bench/" not in handout and STAFF_BEGIN not in handout


def test_the_hw1_handout_ships_without_its_staff_section(released):
    student = released("hw1")
    handout = (student / "hw1_imitation" / "README.md").read_text()
    assert "For instructors" not in handout and "hw1_imitation/tools" not in handout
    assert "STAFF ONLY" not in handout
    assert handout.rstrip().endswith("and your answers to the questions above.")


def test_public_tests_fail_with_not_implemented_only(student, tmp_path):
    report = tmp_path / "junit.xml"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--junitxml={report}"]
        + ["hw2_policy_gradient/tests"],
        cwd=student,
        env=student_env(student),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout[-3000:]  # 1: tests failed; 2+: crashed
    cases = ET.parse(report).getroot().iter("testcase")
    failed, passed, other = [], [], []
    for case in cases:
        problems = case.findall("failure") + case.findall("error") + case.findall("skipped")
        if not problems:
            passed.append(case.get("name"))
        for problem in problems:
            message = problem.get("message", "")
            if problem.tag == "failure" and message.startswith("NotImplementedError: TODO("):
                assert "not implemented" in message
                failed.append(case.get("name"))
            else:
                other.append(f"{case.get('name')}: {problem.tag}: {message}")
    assert other == []
    assert len(failed) >= 20
    assert set(passed) <= TRIVIALLY_PASSING, "a public test passes on the bare starter"


def test_the_stripped_homework_is_lint_clean(student):
    ruff = [sys.executable, "-m", "ruff"]
    homework = str(student / "hw2_policy_gradient")
    check = subprocess.run(
        [*ruff, "check", "--no-cache", "--select", "F821,F841,E501", homework],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout
    formatted = subprocess.run(
        [*ruff, "format", "--no-cache", "--check", homework], capture_output=True, text=True
    )
    assert formatted.returncode == 0, formatted.stdout


def test_the_student_tree_builds_a_wheel(student, tmp_path):
    pytest.importorskip("setuptools")
    tree = Path(shutil.copytree(student, tmp_path / "student"))  # the build writes into it
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(tmp_path / "wheels"), str(tree)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert [p.name for p in (tmp_path / "wheels").iterdir()][0].startswith("rlhw-")
    # `license` as an SPDX string (PEP 639): setuptools warns about the old table form
    assert "Warning" not in result.stderr, result.stderr[-3000:]


# ---- the leak check -----------------------------------------------------------------------


@pytest.fixture
def student_copy(student, tmp_path) -> Path:
    return Path(shutil.copytree(student, tmp_path / "student"))


def test_a_planted_solution_line_is_caught(student_copy):
    line = "for t in reversed(range(len(rewards))):"
    assert line in reference_solution_lines()
    with (student_copy / "infrastructure" / "envs.py").open("a") as f:
        f.write(f"\n# {line}\n    {line}\n")
    with pytest.raises(ReleaseError) as raised:
        check_no_leaks(student_copy, REPO_ROOT, "hw2")
    assert "infrastructure/envs.py:" in str(raised.value)
    assert "solution line from hw2_policy_gradient/pg.py:" in str(raised.value)
    assert f"{line!r}" in str(raised.value)


def test_a_solution_line_quoted_inside_a_handout_line_is_caught(student_copy):
    line = "q_values[t] = running"
    assert line in reference_solution_lines()
    with (student_copy / "hw2_policy_gradient" / "README.md").open("a") as f:
        f.write(f"\nHint: write `{line}` in the loop.\n")
    with pytest.raises(ReleaseError, match=r"hw2_policy_gradient/README.md:\d+: solution line"):
        check_no_leaks(student_copy, REPO_ROOT, "hw2")


def test_a_handout_pointing_at_what_the_tree_lacks_is_caught(student_copy):
    with (student_copy / "hw2_policy_gradient" / "README.md").open("a") as f:
        f.write(
            "\n![curve](figures/missing.png) and [a link](../tests/test_sampler.py).\n"
            "Run `python bench/hw2_targets.py`, see `hw2_policy_gradient/tools/`, or\n\n"
            "```bash\npython -m hw2_policy_gradient.train_expert --env Hopper-v5\n```\n"
            "Fine: `runs/x/progress.csv`, [the handout](#1-background), <https://gymnasium.dev>.\n"
        )
    with pytest.raises(ReleaseError) as raised:
        check_no_leaks(student_copy, REPO_ROOT, "hw2")
    leaks = [line for line in str(raised.value).splitlines() if line.startswith("  - ")]
    missing = [
        "figures/missing.png",
        "../tests/test_sampler.py",
        "bench/hw2_targets.py",
        "hw2_policy_gradient/tools/",
        "hw2_policy_gradient.train_expert",
    ]
    assert len(leaks) == len(missing)
    for leak, target in zip(leaks, missing, strict=True):
        assert f"points at `{target}`, which the student tree does not have" in leak
        assert leak.startswith("  - hw2_policy_gradient/README.md:")


def test_a_staff_marker_left_in_a_handout_is_caught(student_copy):
    with (student_copy / "hw2_policy_gradient" / "README.md").open("a") as f:
        f.write(f"\n{STAFF_BEGIN}\n")
    with pytest.raises(ReleaseError, match=r"README.md:\d+: a staff-only marker left"):
        check_no_leaks(student_copy, REPO_ROOT, "hw2")


def test_a_marker_left_is_caught(student_copy):
    with (student_copy / "hw2_policy_gradient" / "config.py").open("a") as f:
        f.write("\n    ### BEGIN SOLUTION\n")
    with pytest.raises(ReleaseError, match=r"config.py:\d+: a solution marker left"):
        check_no_leaks(student_copy, REPO_ROOT, "hw2")


FORBIDDEN = [
    "tests/test_sampler.py",
    "bench/threads.py",
    "autograder/sandbox.py",
    "autograder/suites/hw2/test_hidden.py",
    "hw2_policy_gradient/reference.calib.json",
    "hw2_policy_gradient/calibration/bands.json",
    "hw2_policy_gradient/reference.pt",
    "infrastructure/weights.safetensors",
    "hw2_policy_gradient/demos.npz",
    "hw2_policy_gradient/datasets/main_data.hdf5",
    "runs/demo/progress.csv",
    "dist/hw2/x.txt",
    ".venv/pyvenv.cfg",
    "hw2_policy_gradient/__pycache__/pg.cpython-311.pyc",
    ".git/HEAD",
    "hw3_q_learning/dqn.py",
]


def test_forbidden_files_are_caught_and_allow_data_lets_weights_through(student_copy):
    for relative in FORBIDDEN:
        (student_copy / relative).parent.mkdir(parents=True, exist_ok=True)
        (student_copy / relative).write_text("x\n")
    with pytest.raises(ReleaseError) as raised:
        check_no_leaks(student_copy, REPO_ROOT, "hw2")
    message = str(raised.value)
    for relative in FORBIDDEN:
        assert f"  - {relative}: " in message
    for relative in FORBIDDEN:
        if not relative.endswith((".pt", ".npz")):
            (student_copy / relative).unlink()
    for folder in ["tests", "bench", "autograder/suites", "runs", "dist", ".venv", ".git"]:
        shutil.rmtree(student_copy / folder, ignore_errors=True)
    shutil.rmtree(student_copy / "hw2_policy_gradient" / "__pycache__")
    shutil.rmtree(student_copy / "hw2_policy_gradient" / "calibration")
    allow = ["hw2_policy_gradient/*.pt", "hw2_policy_gradient/*.npz"]
    check_no_leaks(student_copy, REPO_ROOT, "hw2", allow_data=allow)


# ---- releases of a small made-up repository -----------------------------------------------

SOLUTION = "    squared = [value * value for value in values]\n"


HANDOUT = "# Demo\n\n```bash\npython -m hw9_demo.run --seed 0\n```\n"


def make_repo(root: Path, readme: str = "") -> Path:
    files = {
        "pyproject.toml": "[project]\nname = 'demo'\ndependencies = [\"torch==2.13.0\"]\n",
        "Makefile": "test:\n\tpytest\n",
        "README.md": "# Course\n",
        "environment.yml": "name: demo\ndependencies:\n  - pip:\n      - -e .[dev]\n",
        ".gitignore": "runs/\n",
        "infrastructure/__init__.py": "",
        "infrastructure/plot.py": "",
        "infrastructure/__pycache__/x.cpython-311.pyc": "junk",
        "autograder/__init__.py": "",
        "autograder/cli.py": "def main():\n    return 0\n",
        "autograder/grade.py": "SECRET = 1\n",
        "autograder/suites/hw9.py": "HIDDEN = 1\n",
        "hw9_demo/__init__.py": "",
        "hw9_demo/README.md": HANDOUT + readme,
        "hw9_demo/run.py": "",
        "hw9_demo/algo.py": "def squares(values):\n    ### BEGIN SOLUTION\n"
        + SOLUTION
        + "    return squared\n    ### END SOLUTION\n",
        "hw9_demo/tests/__init__.py": "",
        "hw9_demo/tests/test_algo.py": "def test_squares():\n    pass\n",
        "hw9_demo/expert.pt": "weights",
        "hw9_demo/reference.calib.json": "{}",
        "hw8_other/__init__.py": "",
        "hw8_other/README.md": "# Other\n",
        "hw8_other/other.py": "def other():\n    return 8\n",
        "tests/test_project.py": "",
        "bench/b.py": "",
        "runs/x/progress.csv": "",
    }
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def test_a_release_holds_exactly_the_student_files(tmp_path, caplog):
    root = make_repo(tmp_path / "repo")
    with caplog.at_level("WARNING", logger="autograder.release"):
        student = release_student("hw9_demo", tmp_path / "dist", root)
    assert "left out of the student tree: hw9_demo/expert.pt (reference weights" in caplog.text
    assert "hw9_demo/reference.calib.json (calibration data)" in caplog.text
    files = sorted(p.relative_to(student).as_posix() for p in student.rglob("*") if p.is_file())
    assert files == [
        ".gitignore",
        "Makefile",
        "README.md",
        "autograder/__init__.py",
        "autograder/cli.py",
        "environment.yml",
        "hw8_other/README.md",
        "hw8_other/__init__.py",
        "hw9_demo/README.md",
        "hw9_demo/__init__.py",
        "hw9_demo/algo.py",
        "hw9_demo/run.py",
        "hw9_demo/tests/__init__.py",
        "hw9_demo/tests/test_algo.py",
        "infrastructure/__init__.py",
        "infrastructure/plot.py",
        "pyproject.toml",
    ]
    stub = "TODO(squares): not implemented yet (hw9_demo/algo.py)"
    assert stub in (student / "hw9_demo/algo.py").read_text()


def test_allow_data_ships_named_weights_and_a_new_release_replaces_the_old(tmp_path):
    root = make_repo(tmp_path / "repo")
    first = release_student("hw9", tmp_path / "dist", root)
    (first / "stale.txt").write_text("from the last release")
    second = release_student("hw9", tmp_path / "dist", root, allow_data=["hw9_demo/*.pt"])
    assert second == first and (second / "hw9_demo" / "expert.pt").is_file()
    assert not (second / "stale.txt").exists()
    assert [p.name for p in (tmp_path / "dist" / "hw9").iterdir()] == ["student"]


def test_a_leaking_release_leaves_nothing_on_disk(tmp_path):
    root = make_repo(tmp_path / "repo", readme=f"Hint:\n\n{SOLUTION}")
    with pytest.raises(ReleaseError, match=r"hw9_demo/README.md:8: solution line from"):
        release_student("hw9", tmp_path / "dist", root)
    assert list((tmp_path / "dist" / "hw9").iterdir()) == []


def test_an_unknown_homework_is_refused(tmp_path):
    root = make_repo(tmp_path / "repo")
    with pytest.raises(ReleaseError, match=r"unknown homework 'hw7': expected one of hw8, hw9"):
        release_student("hw7", tmp_path / "dist", root)


def test_notebooks_go_through_nbgrader(tmp_path):
    # No importorskip: nbgrader comes with `make test` (the `release` extra), and a release
    # without it must fail here, loudly, rather than skip.
    root = make_repo(tmp_path / "repo")
    cell = {"cell_type": "code", "execution_count": 1, "metadata": {}}
    ids = [{"id": "solution"}, {"id": "tests"}]
    notebook = {
        "cells": [
            {
                **cell,
                **ids[0],
                "source": "def cube(x):\n    ### BEGIN SOLUTION\n"
                + SOLUTION
                + "    return x ** 3\n    ### END SOLUTION\n",
                "outputs": [{"output_type": "stream", "name": "stdout", "text": "27\n"}],
            },
            {
                **cell,
                **ids[1],
                "source": "assert cube(1) == 1\n### BEGIN HIDDEN TESTS\n"
                "assert cube(3) == 27, 'hidden check'\n### END HIDDEN TESTS\n",
                "outputs": [],
            },
        ],
        "metadata": {"kernelspec": {"language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (root / "hw9_demo" / "intro.ipynb").write_text(json.dumps(notebook))
    student = release_student("hw9", tmp_path / "dist", root)
    released = json.loads((student / "hw9_demo" / "intro.ipynb").read_text())
    sources = ["".join(c["source"]) for c in released["cells"]]
    assert "raise NotImplementedError()" in sources[0] and "value * value" not in sources[0]
    assert "hidden check" not in sources[1] and "assert cube(1) == 1" in sources[1]
    assert all(c.get("outputs") == [] for c in released["cells"])
    ast.parse(sources[0])


# ---- another homework's code: the student's own, or given --------------------------------

OTHER_SOLUTION = "    eight = sum(value for value in (3, 5))\n"


def make_repo_with_a_dependency(root: Path) -> Path:
    """:func:`make_repo` whose hw9 imports hw8's package, as hw4 imports hw3's SAC; hw8 has a
    solution region, public tests and a figure."""
    make_repo(root)
    files = {
        "hw9_demo/uses.py": "from hw8_other.other import other\n",
        "hw8_other/other.py": "def other():\n    ### BEGIN SOLUTION\n"
        + OTHER_SOLUTION
        + "    return eight\n    ### END SOLUTION\n",
        "hw8_other/tests/__init__.py": "",
        "hw8_other/tests/test_other.py": "def test_other():\n    pass\n",
        "hw8_other/figures/curve.png": "png",
        "hw7_unused/__init__.py": "",
    }
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def files_under(tree: Path, folder: str) -> list[str]:
    return sorted(p.relative_to(tree / folder).as_posix() for p in (tree / folder).rglob("*.*"))


def test_a_dependency_is_the_students_own_by_default_and_its_reference_is_refused(tmp_path):
    root = make_repo_with_a_dependency(tmp_path / "repo")
    student = release_student("hw9", tmp_path / "dist", root)
    assert files_under(student, "hw8_other") == ["README.md", "__init__.py"]
    readme = (student / "hw8_other" / "README.md").read_text()  # wrapped at 96 columns
    assert readme.startswith("# Other\n\n`hw9_demo/` imports `hw8_other`, which this release")
    assert "copy your finished `hw8_other/` folder over this one" in " ".join(readme.split())
    # the unrelated homework keeps the plain placeholder
    assert "only keeps the project installable" in (student / "hw7_unused/README.md").read_text()
    # the tree's own README says so too, before the student runs anything
    top = " ".join((student / "README.md").read_text().split())
    assert "`hw9_demo/` imports `hw8_other`, your own hw8: before running, copy" in top
    assert "hw7_unused" not in top
    shutil.copy(root / "hw8_other" / "other.py", student / "hw8_other" / "other.py")
    with pytest.raises(ReleaseError) as raised:
        check_no_leaks(student, root, "hw9")
    assert "  - hw8_other/other.py: another homework's file" in str(raised.value)
    assert "hw8_other/other.py:3: solution line from hw8_other/other.py:3" in str(raised.value)


def test_give_ships_exactly_the_dependencys_reference_code(tmp_path):
    root = make_repo_with_a_dependency(tmp_path / "repo")
    student = release_student("hw9", tmp_path / "dist", root, give=["hw8", "hw8_other"])
    assert files_under(student, "hw8_other") == ["README.md", "__init__.py", "other.py"]
    assert (student / "hw8_other/other.py").read_text() == (root / "hw8_other/other.py").read_text()
    readme = (student / "hw8_other" / "README.md").read_text()
    assert readme.startswith("# Other\n\nThe reference solution of hw8's code, given with this")
    top = " ".join((student / "README.md").read_text().split())
    assert "its folder here holds the reference solution of hw8, given with this release" in top
    assert "your own hw8" not in top
    check_no_leaks(student, root, "hw9", give=["hw8"])
    with pytest.raises(ReleaseError, match=r"  - hw8_other/other.py: another homework's file"):
        check_no_leaks(student, root, "hw9")  # the same tree, hw8 not given
    (student / "hw8_other/other.py").write_text("def other():\n    return 9\n")
    (student / "hw8_other/tests").mkdir()
    (student / "hw8_other/tests/test_other.py").write_text("def test_other():\n    pass\n")
    with pytest.raises(ReleaseError) as raised:
        check_no_leaks(student, root, "hw9", give=["hw8"])
    message = str(raised.value)
    assert "  - hw8_other/other.py: differs from the reference's" in message
    assert "  - hw8_other/tests: another homework's file" in message
    assert "  - hw8_other/tests/test_other.py: another homework's file" in message


@pytest.mark.parametrize(
    ("give", "expected"),
    [
        (
            "hw7",
            "cannot give hw7 with hw9: hw9's code does not import hw7_unused; expected one "
            "of its dependencies: hw8",
        ),
        ("hw6", "cannot give hw6 with hw9: unknown homework 'hw6': expected one of hw7, hw8, hw9"),
        ("hw9", "cannot give hw9 with hw9: hw9's code does not import hw9_demo"),
    ],
)
def test_give_refuses_what_is_not_a_dependency_before_writing_anything(tmp_path, give, expected):
    root = make_repo_with_a_dependency(tmp_path / "repo")
    with pytest.raises(ReleaseError) as raised:
        release_student("hw9", tmp_path / "dist", root, give=[give])
    assert str(raised.value).startswith(expected)
    assert not (tmp_path / "dist").exists()


def test_hw4_depends_on_hw3_only_and_the_command_says_so_in_one_line(tmp_path, capsys):
    assert homework_dependencies(REPO_ROOT, REPO_ROOT / "hw4_model_based") == [
        REPO_ROOT / "hw3_q_learning"
    ]
    # hw1's tools import hw3 too, but stay with the staff (INSTRUCTOR_ONLY)
    assert homework_dependencies(REPO_ROOT, REPO_ROOT / "hw1_imitation") == []
    names = [p.name for p in given_files(REPO_ROOT, REPO_ROOT / "hw3_q_learning")]
    assert "sac.py" in names and "config.py" in names and "__init__.py" in names
    assert not [
        p for p in given_files(REPO_ROOT, REPO_ROOT / "hw3_q_learning") if "tests" in p.parts
    ]
    out = tmp_path / "dist"
    assert cli_main(["release", "hw4", "--give", "hw2", "--out", str(out)]) == 1
    assert capsys.readouterr().err == (
        "rlhw release: cannot give hw2 with hw4: hw4's code does not import "
        "hw2_policy_gradient; expected one of its dependencies: hw3\n"
    )
    assert not out.exists()


def test_a_suite_that_does_not_load_stops_the_release_in_one_line(tmp_path, capsys, monkeypatch):
    from autograder import grade, learning

    def broken(hw: str) -> str | None:
        raise grade.SuiteError(f"could not load the suite of {hw}: SyntaxError('oops')")

    monkeypatch.setattr(learning, "stale_calibration_message", broken)
    out = tmp_path / "dist"
    assert cli_main(["release", "hw2", "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert error == "rlhw release: could not load the suite of hw2: SyntaxError('oops')\n"
    assert not out.exists()

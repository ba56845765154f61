"""Finding the homework in an upload (:func:`autograder.grade.find_package`): the package
folder at any depth, or its files uploaded flat, as students often do on Gradescope.

Most tests use a made-up reference package, ``fakehw``: ``core.py`` holds a solution region
(the student writes it), ``helpers.py`` and ``__init__.py`` are given code. The last two grade
homework 2 uploaded flat, with ``rlhw grade`` and with the Gradescope bundle.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import suite_checks, suite_package
from test_bundle import run_autograder, unpack, validate

from autograder import report
from autograder.bundle import write_bundle
from autograder.grade import STARTER, SubmissionError, find_package, grade_submission
from autograder.sandbox import PROJECT_ROOT

CORE = "def double(x):\n    return 2 * x\n"
HELPERS = "SCALE = 2  # given\n"


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    package = tmp_path / "reference" / "fakehw"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""The fake homework."""\n')
    (package / "core.py").write_text(
        "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n"
    )
    (package / "helpers.py").write_text(HELPERS)
    return package


def upload(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def found_files(root: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((root / "fakehw").iterdir())}


def test_flat_files_at_the_top(tmp_path: Path, reference: Path) -> None:
    submission = upload(tmp_path / "up", {"core.py": CORE, "notes.txt": "my notes"})
    found = find_package(submission, "fakehw", scratch=tmp_path / "s", reference=reference)
    assert found_files(found.root) == {
        "__init__.py": '"""The fake homework."""\n',
        "core.py": CORE,
        "helpers.py": HELPERS,
    }
    assert found.sources == (
        ("core.py", "core.py"),
        ("__init__.py", STARTER),
        ("helpers.py", STARTER),
    )
    assert found.describe() == (
        "Graded `core.py` from `core.py` of your upload as `fakehw/`. Not in your upload, so "
        "the starter's copies were used: `__init__.py` and `helpers.py`."
    )


def test_flat_files_nested_deeper_bring_their_neighbours(tmp_path: Path, reference: Path) -> None:
    mine = "SCALE = 2  # mine\n"
    submission = upload(
        tmp_path / "up",
        {"hw/work/core.py": CORE, "hw/work/helpers.py": mine, "hw/work/extra.py": "X = 1\n"},
    )
    found = find_package(submission, "fakehw", scratch=tmp_path / "s", reference=reference)
    files = found_files(found.root)
    assert files["helpers.py"] == mine and files["extra.py"] == "X = 1\n"
    assert ("helpers.py", "hw/work/helpers.py") in found.sources
    assert "`core.py` from `hw/work/core.py`" in found.describe()


def test_a_zip_of_flat_files_with_junk(tmp_path: Path, reference: Path) -> None:
    archive = tmp_path / "alice.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("core.py", CORE)
        zf.writestr("__MACOSX/._core.py", "resource fork")
        zf.writestr("__MACOSX/core.py", "junk")
        zf.writestr(".ipynb_checkpoints/core.py", "an old copy")
        zf.writestr("__pycache__/core.py", "junk")
        zf.writestr("venv/pyvenv.cfg", "home = /usr/bin\n")
        zf.writestr("venv/lib/python3.11/site-packages/fakehw/core.py", "installed")
        zf.writestr("build/lib/fakehw/core.py", "built")
    found = find_package(archive, "fakehw", scratch=tmp_path / "s", reference=reference)
    assert found_files(found.root)["core.py"] == CORE


def test_a_module_found_twice_is_an_error_naming_both(tmp_path: Path, reference: Path) -> None:
    submission = upload(tmp_path / "up", {"core.py": CORE, "old/core.py": "old"})
    with pytest.raises(
        SubmissionError,
        match=r"^expected one core.py, found 2: `core.py` and `old/core.py`; hand in only",
    ):
        find_package(submission, "fakehw", scratch=tmp_path / "s", reference=reference)


def test_two_package_folders_are_an_error_naming_both(tmp_path: Path, reference: Path) -> None:
    submission = upload(
        tmp_path / "up", {"v1/fakehw/core.py": CORE, "v2/fakehw/core.py": CORE, "core.py": CORE}
    )
    with pytest.raises(
        SubmissionError, match=r"^expected one folder fakehw/, found 2: `v1/fakehw/`, `v2/fakehw/`$"
    ):
        find_package(submission, "fakehw", scratch=tmp_path / "s", reference=reference)


def test_the_package_folder_wins_at_any_depth(tmp_path: Path, reference: Path) -> None:
    submission = upload(
        tmp_path / "up",
        {
            "course/hw/fakehw/core.py": CORE,
            "course/hw/fakehw/helpers.py": HELPERS,
            "course/other_hw/core.py": "another homework's core.py",
            "course/empty/fakehw/README.md": "no code here",
        },
    )
    found = find_package(submission, "fakehw", scratch=tmp_path / "s", reference=reference)
    assert found_files(found.root)["core.py"] == CORE
    assert found.describe() == (
        "Graded `course/hw/fakehw/` as `fakehw/`. Not in your upload, so the starter's copies "
        "were used: `__init__.py`."
    )


def test_a_module_left_out_is_named_and_the_others_are_graded(
    tmp_path: Path, reference: Path
) -> None:
    (reference / "more.py").write_text("def f():\n    ### BEGIN SOLUTION\n    ### END SOLUTION\n")
    flat = upload(tmp_path / "flat", {"core.py": CORE})
    found = find_package(flat, "fakehw", scratch=tmp_path / "s1", reference=reference)
    assert found.missing == ("more.py",) and not (found.root / "fakehw" / "more.py").exists()
    assert "Not found in your upload: `more.py`, so its checks cannot pass." in found.describe()
    # the same in a package folder (with an empty folder of the same name, not a candidate)
    folder = upload(tmp_path / "tree", {"hw/fakehw/core.py": CORE, "old/fakehw/notes.md": ""})
    found = find_package(folder, "fakehw", scratch=tmp_path / "s2", reference=reference)
    assert found.folder == "hw/fakehw" and found.missing == ("more.py",)


def test_what_is_missing_is_named(tmp_path: Path, reference: Path) -> None:
    submission = upload(tmp_path / "up", {"helpers.py": HELPERS})
    with pytest.raises(
        SubmissionError,
        match=r"^expected a folder fakehw/ with core.py, or those files at any depth; "
        r"found: helpers.py$",
    ):
        find_package(submission, "fakehw", scratch=tmp_path / "s", reference=reference)


# ------------------------------------------------------------------------------- homework 2


def flat_reference(folder: Path) -> Path:
    """Homework 2's reference as a student would upload it to Gradescope: the two files."""
    folder.mkdir(parents=True)
    for name in ("pg.py", "policies.py"):
        shutil.copyfile(PROJECT_ROOT / suite_package("hw2") / name, folder / name)
    return folder


def test_rlhw_grade_takes_flat_files_and_says_from_where(tmp_path: Path) -> None:
    checks = [
        c
        for c in suite_checks("hw2")
        if c.function in ("reward_to_go", "CategoricalPolicy.distribution")
    ]
    archive = tmp_path / "bob.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in flat_reference(tmp_path / "flat").iterdir():
            zf.write(path, path.name)
    staff = grade_submission(
        archive, "hw2", tmp_path / "out", checks=checks, package=suite_package("hw2")
    )
    assert staff["score"] == staff["max_score"] > 0, staff["output"]
    student = json.loads((tmp_path / "out" / "results.json").read_text())
    graded = (
        "Graded `pg.py` from `pg.py` and `policies.py` from `policies.py` of your upload as "
        "`hw2_policy_gradient/`. Not in your upload, so the starter's copies were used: "
        "`__init__.py`, `config.py` and `run.py`."
    )
    assert graded in student["output"] and student["extra_data"]["found"] == graded
    assert graded in " ".join(report.format_table(staff).split())  # the TA's table says it too


def test_the_gradescope_bundle_takes_flat_files(
    tmp_path: Path, released: Callable[[str], Path]
) -> None:
    # the bare starter's two files, uploaded flat: graded check by check, not refused
    ag = tmp_path / "ag"
    unpack(write_bundle("hw2", tmp_path / "dist"), ag / "source")
    student_tree = released("hw2")
    (ag / "submission").mkdir()
    for name in ("pg.py", "policies.py"):
        shutil.copyfile(student_tree / suite_package("hw2") / name, ag / "submission" / name)
    done = run_autograder(ag)
    assert done.returncode == 0, done.stdout + done.stderr
    data = validate(ag / "results" / "results.json")
    assert data["max_score"] == 120 and len(data["tests"]) == len(suite_checks("hw2"))
    assert "Graded `pg.py` from `pg.py` and `policies.py` from `policies.py`" in data["output"]
    for test in data["tests"]:
        assert "NotImplementedError" in test["output"], test["output"]

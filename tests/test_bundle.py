"""The Gradescope bundle (``autograder/bundle.py``): what the zip holds, and a simulation of
Gradescope end to end.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once, then
``run_autograder`` per submission. Here the zip is unpacked into ``tmp/ag/source``, a submission
goes into ``tmp/ag/submission``, and ``run_autograder`` runs with ``RLHW_AUTOGRADER_ROOT=tmp/ag``
and ``RLHW_PYTHON`` set to this virtualenv's Python instead of the ``/autograder/venv`` that
``setup.sh`` would make (``setup.sh`` needs the network: it is only parsed, with ``bash -n``).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import jsonschema
import pytest

from autograder import report
from autograder.bundle import BundleError, bundle_files, write_bundle

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ("setup.sh", "run_autograder")


@pytest.fixture(scope="module")
def zip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_bundle("hw2", tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def names(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as zf:
        return zf.namelist()


def unpack(zip_path: Path, target: Path) -> Path:
    """Unzip as Gradescope does, keeping the permissions recorded in the zip."""
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(target)
        for info in zf.infolist():
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(target / info.filename, mode)
    return target


def validate(results_json: Path) -> dict:
    data = json.loads(results_json.read_text(encoding="utf-8"))
    jsonschema.validate(data, report.load_schema())
    return data


def run_autograder(
    ag: Path, python: str = sys.executable, **env: str
) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "RLHW_AUTOGRADER_ROOT": str(ag),
        "RLHW_PYTHON": python,
        **env,
    }
    return subprocess.run(
        [str(ag / "source" / "run_autograder")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


# ------------------------------------------------------------------------------- contents


def test_the_bundle_is_at_its_place_with_the_scripts_at_the_zip_root(tmp_path: Path) -> None:
    path = write_bundle("hw2_policy_gradient", tmp_path)
    assert path == tmp_path / "hw2" / "autograder" / "autograder.zip"
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        infos = {info.filename: info for info in zf.infolist()}
    for script in SCRIPTS:
        assert stat.S_IMODE(infos[script].external_attr >> 16) == 0o755
    assert list(path.parent.iterdir()) == [path]  # no temporary file left


def test_the_bundle_holds_what_grading_needs(names: list[str]) -> None:
    for needed in (
        *SCRIPTS,
        "pyproject.toml",
        "README.md",
        "infrastructure/__init__.py",
        "infrastructure/envs.py",
        "autograder/__init__.py",
        "autograder/cli.py",
        "autograder/grade.py",
        "autograder/sandbox.py",
        "autograder/worker.py",
        "autograder/protocol.py",
        "autograder/report.py",
        "autograder/checks.py",
        "autograder/results_schema.json",
        "autograder/suites/__init__.py",
        "autograder/suites/hw2.py",
        "hw2_policy_gradient/__init__.py",
        "hw2_policy_gradient/pg.py",
        "hw2_policy_gradient/policies.py",
    ):
        assert needed in names, needed


def test_the_bundle_leaves_out_junk_tests_and_other_homeworks(names: list[str]) -> None:
    assert names[:2] == list(SCRIPTS) and names[2:] == sorted(names[2:])
    for name in names:
        parts = PurePosixPath(name).parts
        assert not {".venv", "runs", "dist", "__pycache__", ".git", "tests"} & set(parts), name
        assert not name.endswith((".pyc", ".egg-info")), name
        assert parts[0] in {*SCRIPTS, "pyproject.toml", "README.md", "infrastructure",
                            "autograder", "hw2_policy_gradient"}, name  # fmt: skip
        if parts[:2] in {("autograder", "suites"), ("autograder", "mutants")}:
            assert parts[2] in {"__init__.py", "hw2.py"}, name
    assert len(names) == len(set(names))


def test_a_homework_that_imports_another_carries_its_reference_code() -> None:
    """hw4's suite gives hw3's reference SAC to every sandbox: the bundle must hold that code
    (and only its code: not hw3's public tests, handout or figures)."""
    hw3 = {name for name in bundle_files("hw4") if name.startswith("hw3_q_learning/")}
    assert {"hw3_q_learning/__init__.py", "hw3_q_learning/sac.py"} <= hw3
    assert all(name.endswith(".py") and "/tests/" not in name for name in hw3), sorted(hw3)
    assert not any(name.startswith("hw3_") for name in bundle_files("hw2"))


def test_the_graders_datasets_ship_with_their_homework_only() -> None:
    """hw5's suite gives its datasets (``autograder/data/hw5``) to every sandbox and its
    learning checks' trainers in the grader read them: hw5's bundle carries every file of
    theirs, as it is, and no other homework's bundle carries any; the script that makes them
    stays out of every bundle."""
    data = REPO_ROOT / "autograder" / "data"
    datasets = {
        path.relative_to(REPO_ROOT).as_posix(): path
        for path in sorted((data / "hw5").rglob("*"))
        if path.is_file()
    }
    assert len(datasets) == 4  # metadata.json and main_data.hdf5 of each of two datasets
    hw5 = bundle_files("hw5")
    for name, path in datasets.items():
        assert hw5[name] == path, name
    for hw in ("hw2", "hw4"):
        shipped = [name for name in bundle_files(hw) if name.startswith("autograder/data/")]
        assert shipped == ["autograder/data/__init__.py"], hw
    assert (data / "make_hw5.py").is_file()
    assert "autograder/data/make_hw5.py" not in hw5


def test_other_homeworks_suites_and_calibration_stay_out(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    files = {
        "pyproject.toml": '[project]\ndependencies = ["torch==2.13.0"]\n',
        "README.md": "",
        "infrastructure/__init__.py": "",
        "autograder/__init__.py": "",
        "autograder/grade.py": "",
        "autograder/results_schema.json": "{}",
        "autograder/suites/__init__.py": "",
        "autograder/suites/hw2.py": "",
        "autograder/suites/hw3.py": "",
        "autograder/suites/hw21.py": "",
        "autograder/mutants/__init__.py": "",
        "autograder/mutants/hw2.py": "",
        "autograder/mutants/hw3.py": "",
        "autograder/calibration/hw2.json": "{}",
        "autograder/calibration/hw2_cartpole.npz": "",
        "autograder/calibration/hw3.json": "{}",
        "autograder/__pycache__/grade.cpython-311.pyc": "",
        "hw2_policy_gradient/__init__.py": "",
        "hw2_policy_gradient/pg.py": "",
        "hw2_policy_gradient/tests/test_pg.py": "",
        "hw2_policy_gradient/__pycache__/pg.cpython-311.pyc": "",
        "hw3_q_learning/__init__.py": "",
        "tests/test_bundle.py": "",
        "runs/x/progress.csv": "",
        ".venv/bin/python": "",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    path = write_bundle("hw2", tmp_path / "dist", root)
    with zipfile.ZipFile(path) as zf:
        got = zf.namelist()
    assert got == [
        *SCRIPTS,
        "README.md",
        "autograder/__init__.py",
        "autograder/calibration/hw2.json",
        "autograder/calibration/hw2_cartpole.npz",
        "autograder/grade.py",
        "autograder/mutants/__init__.py",
        "autograder/mutants/hw2.py",
        "autograder/results_schema.json",
        "autograder/suites/__init__.py",
        "autograder/suites/hw2.py",
        "hw2_policy_gradient/__init__.py",
        "hw2_policy_gradient/pg.py",
        "infrastructure/__init__.py",
        "pyproject.toml",
    ]
    with pytest.raises(BundleError, match="unknown homework"):
        write_bundle("hw9", tmp_path / "dist", root)
    (root / "autograder/suites/hw3.py").unlink()
    with pytest.raises(BundleError, match="no hidden suite"):
        write_bundle("hw3", tmp_path / "dist", root)
    (root / "pyproject.toml").write_text("[project]\ndependencies = []\n")
    with pytest.raises(BundleError, match=r'expected one "torch==VERSION" dependency'):
        write_bundle("hw2", tmp_path / "dist", root)


def test_a_new_bundle_replaces_the_old_one_byte_for_byte(tmp_path: Path, zip_path: Path) -> None:
    again = write_bundle("hw2", tmp_path)
    assert again.read_bytes() == zip_path.read_bytes()  # deterministic
    again.write_bytes(b"stale")
    assert write_bundle("hw2", tmp_path).read_bytes() == zip_path.read_bytes()


def test_the_scripts_parse_and_only_setup_names_the_torch_index(
    zip_path: Path, tmp_path: Path
) -> None:
    source = unpack(zip_path, tmp_path / "source")
    for script in SCRIPTS:
        text = (source / script).read_text()
        assert text.startswith("#!/usr/bin/env bash\n")
        subprocess.run(["bash", "-n", str(source / script)], check=True)
    setup = (source / "setup.sh").read_text()
    # the whole route, torch before the project: tests/test_install_routes.py
    assert '--no-deps --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0"' in setup
    assert 'pip install "$SOURCE"' in setup and "pip install -e" not in setup
    assert "/autograder/venv" in setup and "python3-venv" in setup
    assert "https://" not in (source / "run_autograder").read_text()
    assert 'HW="hw2"' in (source / "run_autograder").read_text()
    assert 'MAX_SCORE="120"' in (source / "run_autograder").read_text()


# ------------------------------------------------------------------------------- end to end


@pytest.fixture
def ag(zip_path: Path, tmp_path: Path) -> Path:
    """A simulated ``/autograder``: the bundle unpacked in ``source``, an empty
    ``submission``."""
    root = tmp_path / "ag"
    unpack(zip_path, root / "source")
    (root / "submission").mkdir()
    return root


def test_the_bundle_grades_with_its_own_engine(ag: Path) -> None:
    found = subprocess.run(
        [sys.executable, "-c", "import autograder.grade as g; print(g.PROJECT_ROOT)"],
        cwd=ag / "source",
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(found.stdout.strip()) == (ag / "source").resolve()


def reference_submission(ag: Path) -> None:
    """The reference solution, uploaded as Gradescope unpacks it."""
    shutil.copytree(
        REPO_ROOT / "hw2_policy_gradient",
        ag / "submission" / "hw2_policy_gradient",
        ignore=shutil.ignore_patterns("__pycache__", "figures"),
    )


def test_the_bundles_engine_gives_the_reference_full_marks_on_the_fast_checks(ag: Path) -> None:
    # what run_autograder runs, less the learning-curve checks (the slow test below has them)
    reference_submission(ag)
    out = ag / "results"
    done = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "grade", "hw2", str(ag / "submission")]
        + ["--out", str(out), "--fast"],
        cwd=ag / "source",
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    data = validate(out / "results.json")
    failed = [t["name"] + ": " + t["output"] for t in data["tests"] if t["status"] != "passed"]
    assert not failed, "\n".join(failed)
    assert data["score"] == data["max_score"] == 100


# slow: its learning-curve checks train hw2's reference for their real budgets (about a minute)
@pytest.mark.slow
def test_gradescope_end_to_end_reference_gets_full_marks(ag: Path) -> None:
    reference_submission(ag)
    done = run_autograder(ag)
    assert done.returncode == 0, done.stdout + done.stderr
    data = validate(ag / "results" / "results.json")
    failed = [t["name"] + ": " + t["output"] for t in data["tests"] if t["status"] != "passed"]
    assert not failed, "\n".join(failed)
    assert data["score"] == data["max_score"] == 120  # learning-curve checks included
    assert data["extra_data"]["hw"] == "hw2"


def test_gradescope_end_to_end_starter_gets_zero(ag: Path, released: Callable[[str], Path]) -> None:
    student = released("hw2")
    # a student who uploads the whole starter tree, as Gradescope unpacks it
    shutil.copytree(student, ag / "submission", dirs_exist_ok=True)
    done = run_autograder(ag)
    assert done.returncode == 0, done.stdout + done.stderr
    data = validate(ag / "results" / "results.json")
    assert data["score"] == 0
    assert data["max_score"] == 120
    assert len(data["tests"]) > 1  # graded check by check, not refused
    for test in data["tests"]:
        assert test["status"] == "failed"
        assert "NotImplementedError" in test["output"], test["output"]


def test_a_broken_grader_still_leaves_a_valid_results_json(ag: Path) -> None:
    stale = ag / "results" / "results.json"
    stale.parent.mkdir()
    stale.write_text('{"score": 100, "max_score": 100, "tests": [{}]}')
    # the grader breaks before it writes anything: the Python fallback writes score 0, tells
    # the student it is the grader's fault, and leaves the grader's output to the staff's log
    (ag / "source" / "autograder" / "cli.py").write_text('raise RuntimeError("grader broke")\n')
    done = run_autograder(ag)
    assert done.returncode == 0
    assert "grader broke" in done.stdout
    data = validate(stale)
    assert data["score"] == 0 and data["max_score"] == 120
    assert data["extra_data"]["grader_error"] is True
    for shown in (data["output"], data["tests"][0]["output"]):
        assert "the grader itself failed (exit status 1)" in shown
        assert "not a verdict on your code" in shown and "graded again" in shown
        assert "grader broke" not in shown and "Traceback" not in shown


def test_without_python_the_shell_fallback_writes_a_valid_results_json(ag: Path) -> None:
    done = run_autograder(ag, python=str(ag / "no-such-python"))
    assert done.returncode == 0
    data = validate(ag / "results" / "results.json")
    assert data["score"] == 0 and data["max_score"] == 120
    assert "Python could not run" in data["output"]


def test_run_autograder_defaults_to_the_gradescope_paths(ag: Path) -> None:
    text = (ag / "source" / "run_autograder").read_text()
    assert 'ROOT="${RLHW_AUTOGRADER_ROOT:-/autograder}"' in text
    assert 'PYTHON="${RLHW_PYTHON:-$ROOT/venv/bin/python}"' in text
    assert '--out "$RESULTS"' in text and 'RESULTS="${RLHW_RESULTS:-$ROOT/results}"' in text


def test_rlhw_release_writes_the_student_tree_and_the_bundle(
    tmp_path: Path, zip_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from autograder import cli

    out = tmp_path / "dist"
    assert cli.main(["release", "hw2", "--out", str(out)]) == 0
    assert (out / "hw2" / "student" / "hw2_policy_gradient" / "pg.py").is_file()
    bundle_zip = out / "hw2" / "autograder" / "autograder.zip"
    assert bundle_zip.read_bytes() == zip_path.read_bytes()
    printed = capsys.readouterr().out
    assert str(bundle_zip) in printed and "student" in printed
    assert cli.main(["release", "hw9", "--out", str(out)]) == 1
    assert "unknown homework 'hw9'" in capsys.readouterr().err

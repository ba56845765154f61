"""The hidden suite of homework 1, audited: the reference gets full marks, the bare starter
gets zero with clear feedback, and every mutant (a realistic student bug,
:mod:`autograder.mutants.hw1`) loses points on a check that names the buggy function.

Also: the experts the checks use are the grader's, whatever a submission ships; the released
student tree ships the experts but not the instructor tools, and its bare starter, graded as a
student would hand it in, scores zero (the worker imports the student's copy of the package,
never the reference's).

The grading is ``rlhw audit``'s (:func:`autograder.audit.audit_homework`), run once for the
module as :func:`audit_checks.make_test_audit` says (the whole audit is ``slow``). Everything
here needs the experts in ``hw1_imitation/experts/``: skipped until they are installed.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
import torch
from audit_checks import (
    SEEDS,
    assert_killed,
    assert_patches_one_solution_place,
    assert_reference_full_marks,
    assert_starter_gets_zero,
    assert_whole_audit_passes,
    make_test_audit,
)
from conftest import fast_suite_checks, suite_checks, suite_package

from autograder.audit import AuditReport
from autograder.bundle import write_bundle
from autograder.grade import grade_submission, run_checks, suite_sandbox_options
from autograder.mutants import copy_homework
from autograder.mutants.hw1 import MUTANTS
from autograder.release import (
    ReleaseError,
    check_no_leaks,
    forbidden_reason,
    release_settings,
)
from autograder.sandbox import Sandbox
from autograder.suites import hw1
from hw1_imitation.expert import ExpertPolicy, expert_path, load_expert, save_expert

REPO_ROOT = Path(__file__).resolve().parents[1]
EXPERT_FILE = expert_path(hw1.EXPERT_ENV)
pytestmark = pytest.mark.skipif(
    not EXPERT_FILE.is_file(),
    reason=f"no {hw1.EXPERT_ENV} expert in hw1_imitation/experts yet (installed with the experts)",
)

FAST = fast_suite_checks("hw1")


def test_the_suite_is_well_formed():
    assert suite_package("hw1") == "hw1_imitation"
    assert sum(check.points for check in FAST) == pytest.approx(100.0)
    assert sum(check.points for check in suite_checks("hw1")) == pytest.approx(120.0)
    assert len({check.name for check in suite_checks("hw1")}) == len(suite_checks("hw1"))
    kinds = {check.kind for check in suite_checks("hw1")}
    assert kinds == {"value", "gradient", "update", "statistical", "learning"}
    learning = [check for check in suite_checks("hw1") if check.kind == "learning"]
    assert [check.name for check in learning] == [
        "learning curve: behaviour cloning on HalfCheetah-v5",
        "learning curve: DAgger on Hopper-v5",
    ]
    given = suite_sandbox_options("hw1")["given"]
    assert (hw1.ref_expert.EXPERT_DIR, "hw1_imitation/experts") in given


@pytest.fixture(scope="module")
def audited() -> AuditReport:
    return make_test_audit("hw1")


def test_the_reference_gets_full_marks(audited):
    assert_reference_full_marks(audited, SEEDS[0], len(FAST))


def test_the_bare_starter_gets_zero_with_clear_feedback(audited):
    assert_starter_gets_zero(audited, len(FAST))


def test_mutant_names_are_unique():
    assert (
        len({mutant.name for mutant in MUTANTS}) == len(MUTANTS) >= 30
    )  # 20 when issue 19 was filed, and half more


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_each_mutant_patches_one_place_inside_a_solution_region(mutant):
    assert_patches_one_solution_place(mutant, suite_checks("hw1"))


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_each_mutant_loses_points_on_a_check_of_its_function(audited, mutant):
    assert_killed(audited, mutant)


def test_kill_rate(audited, capsys):
    with capsys.disabled():
        print(f"\nhw1 mutants killed: {audited.killed}/{len(audited.mutants)}")
    assert len(audited.mutants) == len(MUTANTS)
    assert audited.killed == len(MUTANTS)
    assert audited.ok and audited.exit_code == 0


@pytest.mark.slow
def test_the_whole_audit_passes():
    assert_whole_audit_passes("hw1", MUTANTS, len(FAST))


# ------------------------------------------------------------------------------- the experts


def test_a_submission_that_ships_its_own_expert_is_graded_with_the_graders(tmp_path):
    """A submission whose expert acts otherwise: DAgger's relabelling in the sandbox must still
    use the grader's expert (copied over the submission's), so the reference code passes."""
    root = copy_homework(REPO_ROOT, suite_package("hw1"), tmp_path / "submission")
    swapped = expert_path(hw1.EXPERT_ENV, root / suite_package("hw1") / "experts")
    expert = load_expert(swapped)
    with torch.no_grad():
        for parameter in expert.mean_net.parameters():
            parameter.mul_(-1.0)
    save_expert(expert, swapped)
    assert swapped.read_bytes() != EXPERT_FILE.read_bytes()
    (check,) = [
        c for c in suite_checks("hw1") if c.function == "collect_and_relabel" and c.kind == "value"
    ]
    (result,) = run_checks(root, [check], 0, sandbox_options=suite_sandbox_options("hw1"))
    assert result.score == check.points, result.output
    # without the grader's copy, the sandbox relabels with the swapped expert: the check fails
    options = {k: v for k, v in suite_sandbox_options("hw1").items() if k != "given"}
    (result,) = run_checks(root, [check], 0, sandbox_options=options)
    assert result.score < check.points and "the new actions" in result.output, result.output


def test_the_relabel_judge_uses_the_graders_expert():
    observations = np.random.default_rng(0).normal(size=(5, 11)).astype(np.float32)
    assert isinstance(hw1.grader_expert(), ExpertPolicy)
    np.testing.assert_array_equal(
        hw1.grader_expert()(observations), load_expert(EXPERT_FILE)(observations)
    )


# ------------------------------------------------------------------------------- the release


@pytest.fixture(scope="module")
def student_tree(released: Callable[[str], Path]) -> Path:
    return released("hw1")


def test_the_release_ships_the_experts_but_not_the_instructor_tools(student_tree):
    package = student_tree / "hw1_imitation"
    shipped = sorted(p.name for p in (package / "experts").iterdir())
    assert shipped == sorted(p.name for p in hw1.ref_expert.EXPERT_DIR.iterdir())
    assert (package / "experts" / EXPERT_FILE.name).read_bytes() == EXPERT_FILE.read_bytes()
    assert not (package / "tools").exists()
    assert not (package / "tests" / "test_tools.py").exists()
    assert (package / "tests" / "test_dagger.py").is_file()


def test_the_package_declares_its_data_and_instructor_only_files():
    settings = release_settings(REPO_ROOT / "hw1_imitation")
    assert settings.data == ("hw1_imitation/experts/*",)
    assert "hw1_imitation/tools/*" in settings.instructor_only
    tool = PurePosixPath("hw1_imitation/tools/train_expert.py")
    assert "instructor-only" in str(
        forbidden_reason(tool, "hw1_imitation", (), ("hw1_imitation/tools/*",))
    )


def test_a_student_tree_holding_a_tool_leaks(student_tree, tmp_path):
    tree = tmp_path / "student"
    shutil.copytree(student_tree, tree)
    check_no_leaks(tree, REPO_ROOT, "hw1")
    (tree / "hw1_imitation" / "tools").mkdir()
    shutil.copy(
        REPO_ROOT / "hw1_imitation" / "tools" / "train_expert.py", tree / "hw1_imitation" / "tools"
    )
    with pytest.raises(ReleaseError, match="tools/train_expert.py: an instructor-only file"):
        check_no_leaks(tree, REPO_ROOT, "hw1")


def test_the_released_bare_starter_scores_zero(student_tree, tmp_path):
    """Graded as handed in, the released starter fails every fast check at its own stub: the
    worker imports the submission's hw1_imitation, not the reference installed for the grader."""
    results = grade_submission(student_tree, "hw1", tmp_path / "out", fast=True)
    assert results["score"] == 0.0
    assert len(results["tests"]) == len(FAST)
    for test in results["tests"]:
        assert "NotImplementedError" in test["output"], test["output"]


@pytest.mark.parametrize("target", ["../experts", "/abs/experts", ""])
def test_a_given_folder_must_land_inside_the_scratch_folder(tmp_path, target):
    with pytest.raises(ValueError, match="expected a relative place inside the scratch folder"):
        Sandbox(tmp_path, given=[(hw1.ref_expert.EXPERT_DIR, target)])


def test_the_gradescope_bundle_holds_the_graders_experts_and_calibration(tmp_path):
    with zipfile.ZipFile(write_bundle("hw1", tmp_path)) as bundle:
        names = set(bundle.namelist())
        shipped = bundle.read(f"hw1_imitation/experts/{EXPERT_FILE.name}")
    assert shipped == EXPERT_FILE.read_bytes()
    assert {
        "hw1_imitation/experts/Hopper-v5_demos.npz",
        "autograder/calibration/hw1.json",
        "autograder/suites/hw1.py",
        "autograder/mutants/hw1.py",
    } <= names

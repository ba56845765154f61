"""Tests of ``hw2_policy_gradient/analysis.ipynb``: what its release keeps and clears, and that
both the reference and the released notebook run (nbclient, one kernel each) on made-up runs.

The notebook reads its runs from ``HW2_RUNS``; the kernel inherits the test's environment.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from autograder.release import REPO_ROOT
from infrastructure.logger import Logger

NOTEBOOK = Path("hw2_policy_gradient") / "analysis.ipynb"
# What nbgrader leaves of a solution region (here inside a function body).
NBGRADER_STUB = "    # YOUR CODE HERE\n    raise NotImplementedError()"
# Evaluation returns of each made-up run, one per policy update of 1000 steps (None: no
# evaluation at that update). exp2 and the batch of 4000 are left out: not run yet.
RUNS = {
    "exp1/b1000_rtg_seed0": [10.0, None, 480.0, 500.0],
    "exp1/b1000_rtg_seed1": [20.0, None, 300.0, 300.0],
    "exp1/b1000_reinforce_seed0": [10.0, 30.0, 40.0],
    "exp3/baseline_seed0": [-50.0, 0.0, 120.0],
    "exp3/nobaseline_seed0": [-50.0, -40.0, 10.0],
    "exp4/lambda0.98_seed0": [-200.0, None, 190.0],
}
FIGURES = ["exp1_batch1000", "exp3", "exp3_baseline_loss", "exp4"]
SUMMARY = [
    "exp1/b1000_reinforce: final return 40.0 ± 0.0 over 1 seeds; steps to reach 475: never",
    "exp1/b1000_rtg: final return 400.0 ± 100.0 over 2 seeds; steps to reach 475: 3000, never",
    "exp3/baseline: final return 120.0 ± 0.0 over 1 seeds; steps to reach 300: never",
    "exp4/lambda0.98: final return 190.0 ± 0.0 over 1 seeds; steps to reach 180: 3000",
]


@pytest.fixture(scope="module")
def student_notebook(released) -> Path:
    return released("hw2") / NOTEBOOK


@pytest.fixture
def runs(tmp_path, monkeypatch) -> Path:
    """Runs as ``hw2_policy_gradient.run`` logs them; only the baseline run logs its loss."""
    root = tmp_path / "runs"
    for name, returns in RUNS.items():
        with Logger(root / name, tensorboard=False) as logger:
            for update, value in enumerate(returns, start=1):
                metrics = {"train/return_mean": 0.0}
                if value is not None:
                    metrics["eval/return_mean"] = value
                if name.startswith("exp3/baseline"):
                    metrics["train/loss_baseline"] = 1.0 / update
                logger.log(metrics, env_steps=1000 * update)
    monkeypatch.setenv("HW2_RUNS", str(root))
    return root


def execute(path: Path) -> nbformat.NotebookNode:
    """Run the notebook at ``path`` top to bottom in a fresh kernel, in its own folder."""
    notebook = nbformat.read(path, as_version=4)
    resources = {"metadata": {"path": str(path.parent)}}
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources=resources).execute()
    return notebook


def printed(notebook: nbformat.NotebookNode) -> str:
    return "".join(
        output.get("text", "")
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output["output_type"] == "stream"
    )


def test_the_released_notebook_has_stubs_and_nothing_else_to_give_away(student_notebook):
    reference = nbformat.read(REPO_ROOT / NOTEBOOK, as_version=4)
    released = nbformat.read(student_notebook, as_version=4)
    assert [c.cell_type for c in released.cells] == [c.cell_type for c in reference.cells]
    text = student_notebook.read_text()
    for gone in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "return math.nan"):
        assert gone not in text
    solution = next(c for c in released.cells if c.metadata.get("nbgrader", {}).get("solution"))
    assert solution.source.count(NBGRADER_STUB) == 2
    checks = next(c for c in released.cells if "steps_to_threshold(run, 475)" in c.source)
    # nothing grades the checks, so all of them are shown
    assert "assert steps_to_threshold(exact, 475) == 500" in checks.source
    for cell in released.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_the_reference_notebook_draws_every_figure_and_prints_the_numbers(runs):
    notebook = execute(REPO_ROOT / NOTEBOOK)
    drawn = sorted(p.stem for p in (runs / "figures").iterdir())
    assert drawn == sorted(FIGURES)
    shown = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert len(shown) == len(FIGURES)
    text = printed(notebook)
    assert "exp1_batch4000: no runs yet, skipped" in text
    assert "exp2: no runs yet, skipped" in text
    assert "both functions pass the checks" in text
    for line in SUMMARY:
        assert line in text


def test_the_released_notebook_draws_the_figures_then_stops_at_the_stub(
    student_notebook, runs, tmp_path, monkeypatch
):
    # The kernel imports the student's tree, as a student's installed checkout would.
    monkeypatch.setenv("PYTHONPATH", str(student_notebook.parents[1]))
    with pytest.raises(CellExecutionError) as raised:
        execute(student_notebook)
    assert raised.value.ename == "NotImplementedError", str(raised.value)[-2000:]
    assert "steps_to_threshold(run, 475)" in str(raised.value)  # the graded cell's first call
    assert sorted(p.stem for p in (runs / "figures").iterdir()) == sorted(FIGURES)


def test_the_committed_notebook_has_no_outputs_and_valid_nbgrader_metadata():
    notebook = json.loads((REPO_ROOT / NOTEBOOK).read_text())
    nbformat.validate(nbformat.from_dict(notebook))
    nbgrader_cells = []
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
        meta = cell["metadata"].get("nbgrader")
        if meta is not None:
            assert meta["schema_version"] == 3
            nbgrader_cells.append(meta)
    # The solution cell only: no cell carries points, since nothing grades the notebook (the
    # hidden suite grades the homework's modules).
    assert nbgrader_cells == [
        {
            "grade": False,
            "grade_id": "report_numbers",
            "locked": False,
            "schema_version": 3,
            "solution": True,
        }
    ]

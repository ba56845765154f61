"""Reports of a grading: Gradescope's ``results.json``, a terminal table, a CSV gradebook.

``results.json`` follows Gradescope's autograder format (its JSON Schema is
``autograder/results_schema.json``)::

    {"score": 7.5, "max_score": 10.0, "output": "...", "output_format": "md",
     "visibility": "visible", "stdout_visibility": "hidden", "execution_time": 12.3,
     "tests": [{"name": "...", "number": "1.1", "score": 2.0, "max_score": 2.0,
                "status": "passed", "output": "...", "output_format": "md",
                "visibility": "visible", "tags": ["value", "reward_to_go"],
                "extra_data": {"seconds": 0.4}}, ...],
     "extra_data": {"hw": "hw2", "seed": 0}}

Timing lives in ``execution_time`` and each test's ``extra_data.seconds`` only: everything
else is the same when the same submission is graded again with the same seed.

When some checks are not visible to students, the summary says how many are pending and what
they are worth: a student never reads "all checks passed" about the visible ones only.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from autograder.checks import CheckResult

SCHEMA_PATH = Path(__file__).with_name("results_schema.json")
_NAME_WIDTH = 52
_FEEDBACK_WIDTH = 60


def _points(x: float) -> str:
    return f"{x:g}"


def _round(x: float) -> float:
    return round(x, 4)


# ------------------------------------------------------------------------------- results.json


def build_results(
    results: Sequence[CheckResult], *, hw: str, seed: int, execution_time: float
) -> dict[str, Any]:
    """The ``results.json`` of graded checks. Tests are numbered ``group.position``, one group
    per student function, in the suite's order."""
    groups: dict[str, int] = {}
    positions: dict[str, int] = {}
    tests = []
    for result in results:
        check = result.check
        group = groups.setdefault(check.function, len(groups) + 1)
        positions[check.function] = positions.get(check.function, 0) + 1
        tests.append(
            {
                "name": check.name,
                "number": f"{group}.{positions[check.function]}",
                "score": _round(result.score),
                "max_score": _round(check.points),
                "status": result.status,
                "output": result.output,
                "output_format": "md",
                "visibility": check.visibility,
                "tags": [check.kind, check.function],
                "extra_data": {"seconds": round(result.seconds, 3)},
            }
        )
    return _wrap(tests, hw=hw, seed=seed, execution_time=execution_time)


def error_results(
    name: str,
    message: str,
    max_score: float,
    *,
    hw: str,
    seed: int,
    execution_time: float,
) -> dict[str, Any]:
    """A ``results.json`` with score 0 and one failed row saying why (no package found, an
    unsafe zip, a grader that broke)."""
    test = {
        "name": name,
        "number": "0.1",
        "score": 0.0,
        "max_score": _round(max_score),
        "status": "failed",
        "output": message,
        "output_format": "text",
        "visibility": "visible",
        "tags": ["submission"],
        "extra_data": {"seconds": 0.0},
    }
    return _wrap([test], hw=hw, seed=seed, execution_time=execution_time)


def _wrap(
    tests: list[dict[str, Any]], *, hw: str, seed: int, execution_time: float
) -> dict[str, Any]:
    return {
        "score": _round(sum(t["score"] for t in tests)),
        "max_score": _round(sum(t["max_score"] for t in tests)),
        "output": summary(tests),
        "output_format": "md",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "execution_time": round(execution_time, 3),
        "tests": tests,
        "extra_data": {"hw": hw, "seed": seed},
    }


def summary(tests: Sequence[Mapping[str, Any]]) -> str:
    """The student-facing summary: what passed among the visible checks, and how many hidden
    checks are pending (never "all checks passed" when some are hidden)."""
    visible = [t for t in tests if t["visibility"] == "visible"]
    hidden = [t for t in tests if t["visibility"] != "visible"]
    passed = sum(t["status"] == "passed" for t in visible)
    score = _round(sum(t["score"] for t in visible))
    max_score = _round(sum(t["max_score"] for t in visible))
    if not hidden:
        if passed == len(visible):
            return (
                f"All {len(visible)} checks passed: {_points(score)}/{_points(max_score)} points."
            )
        return (
            f"{passed} of {len(visible)} checks passed: {_points(score)}/{_points(max_score)} "
            "points. Each failed check below says what was compared and what differed."
        )
    return (
        f"{passed} of {len(visible)} visible checks passed: {_points(score)}/"
        f"{_points(max_score)} points. {pending_line(tests)}"
    )


def pending_line(tests: Sequence[Mapping[str, Any]]) -> str:
    """``"3 hidden checks (12 points) are pending: ..."``, or ``""`` when none are hidden."""
    hidden = [t for t in tests if t["visibility"] != "visible"]
    if not hidden:
        return ""
    points = _round(sum(t["max_score"] for t in hidden))
    one = len(hidden) == 1
    return (
        f"{len(hidden)} hidden {'check' if one else 'checks'} ({_points(points)} points) "
        f"{'is' if one else 'are'} pending: {'it is' if one else 'they are'} graded but not "
        "shown before the due date, so this is not your final score."
    )


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as JSON to ``path``: to a temporary file first, then renamed over it, so
    a reader never sees half a file."""
    _write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # keep the original error; only tidy up
            os.unlink(tmp)
        raise


def load_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) every ``results.json`` follows."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


# ------------------------------------------------------------------------------- terminal


# Lines of a suite's feedback that set the scene rather than say what went wrong.
_PREAMBLE = ("Compared", "First mismatch", "Hint:")


def _headline(text: str, width: int) -> str:
    """The line of a failed check's feedback that says what went wrong: the first one that is
    not the "Compared ..." summary, the mismatching input (indented) or the hint (else the
    first line)."""
    lines = [s for s in text.splitlines() if s.strip()]
    # indented lines list the inputs of the mismatch
    found = (s for s in lines if not s.startswith(_PREAMBLE) and not s[0].isspace())
    return _fit(next(found, lines[0] if lines else "").strip(), width)


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def format_table(results: Mapping[str, Any], *, show_hidden: bool = True) -> str:
    """A plain-text table of a ``results.json``: number, check, points, status and, for a
    failed check, the feedback line that says what went wrong; then the total and the
    pending-hidden-checks line.

    ``show_hidden=False`` is the student's view: hidden checks are counted, not listed.
    """
    tests = results["tests"]
    shown = [t for t in tests if show_hidden or t["visibility"] == "visible"]
    rows = []
    for t in shown:
        name = t["name"] + ("" if t["visibility"] == "visible" else f" [{t['visibility']}]")
        rows.append(
            (
                t["number"],
                _fit(name, _NAME_WIDTH),
                f"{_points(t['score'])}/{_points(t['max_score'])}",
                t["status"],
                "" if t["status"] == "passed" else _headline(t["output"], _FEEDBACK_WIDTH),
            )
        )
    header = ("#", "check", "points", "status", "feedback")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]

    def line(row: Sequence[str]) -> str:
        cells = [row[i].ljust(widths[i]) for i in range(4)]
        return "  ".join([*cells, row[4]]).rstrip()

    out = [line(header), line(["-" * w for w in widths] + ["-" * 8])]
    out += [line(r) for r in rows]
    visible = [t for t in tests if t["visibility"] == "visible"]
    if show_hidden:
        total = f"total: {_points(results['score'])}/{_points(results['max_score'])} points"
    else:
        score = _round(sum(t["score"] for t in visible))
        max_score = _round(sum(t["max_score"] for t in visible))
        total = f"total of the visible checks: {_points(score)}/{_points(max_score)} points"
    passed = sum(t["status"] == "passed" for t in shown)
    out.append(f"{total} ({passed} of {len(shown)} checks passed)")
    pending = pending_line(tests)
    if pending and show_hidden:
        hidden = len(tests) - len(visible)
        verb = "is" if hidden == 1 else "are"
        out.append(f"{hidden} of these checks {verb} hidden from students, who read: {pending}")
    elif pending:
        out.append(pending)
    return "\n".join(out)


def format_batch(results: Mapping[str, Mapping[str, Any]]) -> str:
    """A short table of a batch: submission, score and checks passed, and the first failure."""
    rows = []
    for name, data in results.items():
        tests = data["tests"]
        failed = [t for t in tests if t["status"] != "passed"]
        note = f"{failed[0]['name']}: {_headline(failed[0]['output'], 50)}" if failed else ""
        rows.append(
            (
                name,
                f"{_points(data['score'])}/{_points(data['max_score'])}",
                f"{len(tests) - len(failed)}/{len(tests)}",
                _fit(note, 90),
            )
        )
    header = ("submission", "score", "passed", "first failure")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    lines = [
        "  ".join([*(r[i].ljust(widths[i]) for i in range(3)), r[3]]).rstrip()
        for r in [header, *rows]
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------- gradebook


def grades_csv(results: Mapping[str, Mapping[str, Any]], check_names: Sequence[str]) -> str:
    """The gradebook: ``submission, score, max_score`` and one column per check (its score;
    0 where the check did not run, as for a submission without the package)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["submission", "score", "max_score", *check_names])
    for name, data in results.items():
        scores = {t["name"]: t["score"] for t in data["tests"]}
        writer.writerow(
            [
                name,
                _points(data["score"]),
                _points(data["max_score"]),
                *(_points(scores.get(c, 0.0)) for c in check_names),
            ]
        )
    return buffer.getvalue()


def write_grades_csv(
    path: Path, results: Mapping[str, Mapping[str, Any]], check_names: Sequence[str]
) -> None:
    """Write :func:`grades_csv` to ``path`` atomically."""
    _write_atomic(path, grades_csv(results, check_names))

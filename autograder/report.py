"""Reports of a grading: Gradescope's ``results.json``, staff's ``staff.json``, a terminal
table, a CSV gradebook.

``results.json`` follows Gradescope's autograder format (its JSON Schema is
``autograder/results_schema.json``)::

    {"score": 7.5, "max_score": 10.0, "output": "...", "output_format": "md",
     "visibility": "visible", "stdout_visibility": "hidden", "execution_time": 12.3,
     "tests": [{"name": "...", "number": "1.1", "score": 2.0, "max_score": 2.0,
                "status": "passed", "output": "...", "output_format": "md",
                "visibility": "visible", "tags": ["value", "reward_to_go"],
                "extra_data": {"seconds": 0.4}}, ...],
     "extra_data": {"hw": "hw2", "seed": 0, "view": "student", "feedback": "property"}}

Each grading gives two *views* of the same rows. The student's (``results.json``) shows each
failed check's feedback as the suite's ``feedback`` allows (:data:`~autograder.checks.Feedback`),
and a check the grader could not judge (a grader error: a stale calibration, a check that broke)
as "not graded yet", never as the student's failure. Staff's (``staff.json``, the terminal
table, the gradebook) has the whole feedback and what went wrong in the grader.

Tests are numbered ``group.position`` in the suite's order: a group is a run of consecutive
checks of one function. Timing lives in ``execution_time`` and each test's
``extra_data.seconds`` only: everything else is the same when the same submission is graded
again with the same seed. Every text is made safe to write and to show in a terminal (no
control characters such as ESC or CR, no lone surrogates; see
:func:`~autograder.protocol.safe_text`) and capped at :data:`MAX_OUTPUT_CHARS`, whatever the
submission sent; :func:`write_json_atomic` does it again on every string it writes, and writes
a grader error in place of a document it still cannot write, so no submission can leave a
grading without its ``results.json``.

When some checks are not visible to students, the summary says how many are pending and what
they are worth: a student never reads "all checks passed" about the visible ones only.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import math
import os
import tempfile
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from autograder.checks import Check, CheckResult, Feedback
from autograder.protocol import safe_text

log = logging.getLogger(__name__)

View = Literal["student", "staff"]
SCHEMA_PATH = Path(__file__).with_name("results_schema.json")
STAFF_FILE = "staff.json"
"""Next to each ``results.json``: staff's view of the same grading."""
MAX_OUTPUT_CHARS = 20_000
"""Longest text of one test (a student's traceback is a few thousand characters)."""
GRADER_ERROR_TEXT = (
    "Not graded yet: a problem on the grader's side, not in your code, stopped this check. "
    "The course staff have been told and will grade it again; until then it counts 0 points."
)
_WIDTH = 100
_PASSED_TEXT = "Passed."
_FAILED_TEXT = "Failed: this course shows which checks fail, not their details."


def _points(x: float) -> str:
    return f"{x:g}"


def _round(x: float) -> float:
    return round(x, 4)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def clean(text: str) -> str:
    """``text`` safe to write and to show: lone surrogates and control characters (ANSI
    escapes, CR, NUL) replaced, tabs and newlines kept, at most :data:`MAX_OUTPUT_CHARS` long
    (and a note of how many characters were cut)."""
    if len(text) > MAX_OUTPUT_CHARS:
        cut = len(text) - MAX_OUTPUT_CHARS
        text = text[:MAX_OUTPUT_CHARS] + f"\n[{cut} more characters cut]"
    return safe_text(text)


# ------------------------------------------------------------------------------- results.json


def build_results(
    results: Sequence[CheckResult],
    *,
    hw: str,
    seed: int,
    execution_time: float,
    view: View = "staff",
    feedback: Feedback = "full",
    left_out: Sequence[Check] = (),
    found: str = "",
    unconfined: bool = False,
) -> dict[str, Any]:
    """The ``results.json`` of graded checks, in ``view``: ``staff`` shows every check's whole
    feedback; ``student`` shows what ``feedback`` allows (:attr:`CheckResult.brief` for
    ``property``) and a grader error as :data:`GRADER_ERROR_TEXT`. ``left_out`` are the checks
    ``--fast`` did not run; ``found`` says which files were graded (for the summary);
    ``unconfined``: the worker ran without confinement (``rlhw grade --unconfined``)."""
    numbers = _numbers([result.check for result in results])
    tests = []
    for result, number in zip(results, numbers, strict=True):
        check = result.check
        extra: dict[str, Any] = {"seconds": round(result.seconds, 3)}
        if result.grader_error:
            extra["grader_error"] = True
        tests.append(
            {
                "name": check.name,
                "number": number,
                "score": _round(result.score),
                "max_score": _round(check.points),
                "status": result.status,
                "output": clean(_output(result, view, feedback)),
                "output_format": "md",
                "visibility": check.visibility,
                "tags": [check.kind, check.function],
                "extra_data": extra,
            }
        )
    return _wrap(
        tests,
        hw=hw,
        seed=seed,
        execution_time=execution_time,
        view=view,
        feedback=feedback,
        left_out=left_out,
        found=found,
        unconfined=unconfined,
    )


def _numbers(checks: Sequence[Check]) -> list[str]:
    """``group.position`` per check, increasing in the suite's order (Gradescope sorts by it):
    a new group at each change of function."""
    numbers = []
    group = position = 0
    previous = None
    for check in checks:
        if check.function != previous:
            group, position, previous = group + 1, 0, check.function
        position += 1
        numbers.append(f"{group}.{position}")
    return numbers


def _output(result: CheckResult, view: View, feedback: Feedback) -> str:
    if view == "staff":
        return result.output
    if result.grader_error:
        return GRADER_ERROR_TEXT
    if feedback == "full":
        return result.output
    if result.brief is not None:
        return result.brief
    return _PASSED_TEXT if result.status == "passed" else _FAILED_TEXT


def error_results(
    name: str,
    message: str,
    max_score: float,
    *,
    hw: str,
    seed: int,
    execution_time: float,
    view: View = "staff",
    grader_error: bool = False,
    left_out: Sequence[Check] = (),
    unconfined: bool = False,
) -> dict[str, Any]:
    """A ``results.json`` with score 0 and one failed row saying why: no package found, an
    unsafe zip (``message`` is for the student) or, with ``grader_error``, a grader that broke
    (``message`` is for staff; the student's view says the submission will be graded again)."""
    shown = GRADER_ERROR_TEXT if grader_error and view == "student" else message
    test = {
        "name": name,
        "number": "0.1",
        "score": 0.0,
        "max_score": _round(max_score),
        "status": "failed",
        "output": clean(shown),
        "output_format": "text",
        "visibility": "visible",
        "tags": ["submission"],
        "extra_data": {"seconds": 0.0, **({"grader_error": True} if grader_error else {})},
    }
    return _wrap(
        [test],
        hw=hw,
        seed=seed,
        execution_time=execution_time,
        view=view,
        left_out=left_out,
        unconfined=unconfined,
    )


def _wrap(
    tests: list[dict[str, Any]],
    *,
    hw: str,
    seed: int,
    execution_time: float,
    view: View,
    feedback: Feedback | None = None,
    left_out: Sequence[Check] = (),
    found: str = "",
    unconfined: bool = False,
) -> dict[str, Any]:
    extra: dict[str, Any] = {"hw": hw, "seed": seed, "view": view}
    if unconfined:
        extra["unconfined"] = True
    if feedback is not None:
        extra["feedback"] = feedback
    if found:
        extra["found"] = clean(found)
    errors = [t["name"] for t in tests if t.get("extra_data", {}).get("grader_error")]
    if errors:
        extra["grader_errors"] = errors
    if left_out:
        extra["left_out"] = {
            "checks": [check.name for check in left_out],
            "points": _round(sum(check.points for check in left_out)),
            "why": "--fast: learning-curve checks",
        }
    data = {
        "score": _round(sum(t["score"] for t in tests)),
        "max_score": _round(sum(t["max_score"] for t in tests)),
        "output": "",
        "output_format": "md",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "execution_time": round(execution_time, 3),
        "tests": tests,
        "extra_data": extra,
    }
    lines = [
        summary(tests),
        grader_error_line(data),
        left_out_line(data),
        unconfined_line(data),
        clean(found),
    ]
    data["output"] = "\n\n".join(line for line in lines if line)
    return data


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
            "points. Each failed check below says what it compared."
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


def grader_errors(results: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(check, what went wrong)`` for each check of a grading that hit a grader error (the
    text is staff's when ``results`` is staff's view)."""
    return [
        (t["name"], t["output"])
        for t in results["tests"]
        if t.get("extra_data", {}).get("grader_error")
    ]


def grader_error_line(results: Mapping[str, Any]) -> str:
    """The summary's line about checks the grader could not judge, in the results' view;
    ``""`` when there are none."""
    tests = [t for t in results["tests"] if t.get("extra_data", {}).get("grader_error")]
    if not tests:
        return ""
    points = _points(_round(sum(t["max_score"] for t in tests)))
    what = f"{_plural(len(tests), 'check')} ({points} points)"
    if results["extra_data"].get("view") == "staff":
        return (
            f"Grader error in {what}, not the student's fault: fix what the check says, then "
            "grade this submission again. The student reads that it will be graded again."
        )
    verb = "is" if len(tests) == 1 else "are"
    return (
        f"{what} {verb} not graded yet because of a problem on the grader's side, not in your "
        "code: the course staff will grade again, so this is not your final score."
    )


def left_out_line(results: Mapping[str, Any]) -> str:
    """``"Left out (--fast): 2 learning-curve checks (20 points) ..."``, or ``""``."""
    left = results["extra_data"].get("left_out")
    if not left:
        return ""
    total = _points(_round(results["max_score"] + left["points"]))
    return (
        f"Left out ({left['why']}): {_plural(len(left['checks']), 'check')} "
        f"({_points(left['points'])} points), so this grade is out of "
        f"{_points(results['max_score'])}, not {total}."
    )


def unconfined_line(results: Mapping[str, Any]) -> str:
    """What a grading without confinement says of itself (``rlhw grade --unconfined``), or
    ``""``."""
    if not results["extra_data"].get("unconfined"):
        return ""
    return (
        "Graded unconfined (--unconfined): the submission's code ran with the grader's own "
        "access to this machine, so this grade is only as trustworthy as the submission."
    )


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> dict[str, Any]:
    """Write ``data`` as JSON to ``path``: to a temporary file first, then renamed over it, so
    a reader never sees half a file. Returns the document written (what a table of it should
    show).

    Whatever ``data`` holds, a valid document is written: every string (keys too) made safe
    and capped first (:func:`safe_document`); and if it still cannot be written (a number
    that is not finite, a value JSON has no form for), a grader error for the whole
    submission in its place (:func:`unwritable_results`), which staff grade again.
    """
    try:
        document = safe_document(data)
        text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as error:
        log.error("could not write %s as it was: %s", path, safe_text(repr(error), 400))
        document = unwritable_results(data, error)
        text = json.dumps(document, indent=2, ensure_ascii=False)
    _write_atomic(path, text + "\n")
    return document


def safe_document(value: Any) -> Any:
    """``value`` (a JSON document) with every string in it, keys included, made safe to write
    and to show and capped (:func:`~autograder.protocol.safe_text`, at twice
    :data:`MAX_OUTPUT_CHARS`, so a text :func:`clean` made stays as it is)."""
    if type(value) is str:
        return safe_text(value, 2 * MAX_OUTPUT_CHARS)
    if isinstance(value, Mapping):
        return {safe_document(key): safe_document(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [safe_document(v) for v in value]
    return value


def unwritable_results(data: Mapping[str, Any], error: BaseException) -> dict[str, Any]:
    """The document written in place of ``data`` (a ``results.json`` or ``staff.json``) that
    could not be written: a grader error with score 0, out of ``data``'s maximum when that is
    a number, in the view ``data`` was in."""
    extra = data.get("extra_data") if isinstance(data, Mapping) else None
    extra = extra if isinstance(extra, Mapping) else {}
    given = data.get("max_score") if isinstance(data, Mapping) else None
    max_score = 0.0
    if isinstance(given, int | float) and math.isfinite(given) and given >= 0:
        max_score = float(given)
    hw, seed, view = extra.get("hw"), extra.get("seed"), extra.get("view")
    return error_results(
        "grader",
        f"the grader could not write this grading's results: {type(error).__name__}: "
        + safe_text(str(error), 400),
        max_score,
        hw=safe_text(hw, 40) if type(hw) is str else "?",
        seed=seed if type(seed) is int else 0,
        execution_time=0.0,
        view="student" if view == "student" else "staff",
        grader_error=True,
        unconfined=extra.get("unconfined") is True,
    )


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


def _wrapped(text: str, indent: str, width: int = _WIDTH) -> list[str]:
    """``text`` line by line, each wrapped at ``width`` (never cut), keeping its own indent."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        own = line[: len(line) - len(line.lstrip())]
        out += textwrap.wrap(
            line.strip(),
            width,
            initial_indent=indent + own,
            subsequent_indent=indent + own + "  ",
            break_long_words=False,
            break_on_hyphens=False,
        ) or [indent + own]
    return out


def format_table(results: Mapping[str, Any], *, show_hidden: bool = True) -> str:
    """A plain-text table of a ``results.json``, in the suite's order: number, check, points
    and status; under each check that did not pass, its whole feedback (wrapped, never cut);
    then the total, what ``--fast`` left out, the grader errors, which files were graded and
    the pending hidden checks.

    ``show_hidden=False`` is the student's view: hidden checks are counted, not listed.
    """
    tests = results["tests"]
    shown = [t for t in tests if show_hidden or t["visibility"] == "visible"]
    rows = []
    for t in shown:
        name = t["name"] + ("" if t["visibility"] == "visible" else f" [{t['visibility']}]")
        name = safe_text(name, 200)  # the table trusts no text it is given
        error = t.get("extra_data", {}).get("grader_error")
        status = "GRADER ERROR" if error else t["status"]
        rows.append(
            (t, (t["number"], name, f"{_points(t['score'])}/{_points(t['max_score'])}", status))
        )
    header = ("#", "check", "points", "status")
    widths = [max(len(r[i]) for r in [header, *(cells for _, cells in rows)]) for i in range(4)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cells[i].ljust(widths[i]) for i in range(4)).rstrip()

    out = [line(header), line(["-" * w for w in widths])]
    for t, cells in rows:
        out.append(line(cells))
        if t["status"] != "passed":
            out += _wrapped(safe_text(t["output"]), " " * (widths[0] + 2))
    visible = [t for t in tests if t["visibility"] == "visible"]
    if show_hidden:
        total = f"total: {_points(results['score'])}/{_points(results['max_score'])} points"
    else:
        score = _round(sum(t["score"] for t in visible))
        max_score = _round(sum(t["max_score"] for t in visible))
        total = f"total of the visible checks: {_points(score)}/{_points(max_score)} points"
    passed = sum(t["status"] == "passed" for t in shown)
    out.append(f"{total} ({passed} of {len(shown)} checks passed)")
    found = safe_text(results["extra_data"].get("found", ""))
    notes = (left_out_line(results), grader_error_line(results), unconfined_line(results))
    for note in (*notes, found):
        if note:
            out += _wrapped(note, "")
    pending = pending_line(tests)
    if pending and show_hidden:
        hidden = len(tests) - len(visible)
        verb = "is" if hidden == 1 else "are"
        pending = f"{hidden} of these checks {verb} hidden from students, who read: {pending}"
    if pending:
        out += _wrapped(pending, "")
    return "\n".join(out)


def format_batch(results: Mapping[str, Mapping[str, Any]]) -> str:
    """A short table of a batch: submission, score, checks passed, and the checks that hit a
    grader error or else the first that failed (its feedback is in the submission's files)."""
    rows = []
    for name, data in results.items():
        tests = data["tests"]
        failed = [t for t in tests if t["status"] != "passed"]
        errors = [check for check, _ in grader_errors(data)]
        if errors:
            note = "GRADER ERROR in " + ", ".join(errors)
        else:
            note = f"first failure: {failed[0]['name']}" if failed else ""
        rows.append(
            (
                name,
                f"{_points(data['score'])}/{_points(data['max_score'])}",
                f"{len(tests) - len(failed)}/{len(tests)}",
                note,
            )
        )
    header = ("submission", "score", "passed", "")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    lines = [
        "  ".join([*(r[i].ljust(widths[i]) for i in range(3)), r[3]]).rstrip()
        for r in [header, *rows]
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------- gradebook


@dataclass(frozen=True)
class Ungraded:
    """A gradebook row without a grade: a submission not graded yet (its batch still runs, or
    stopped before it) or one whose grading the machine broke twice. Its score stays empty,
    never 0, and ``why`` goes in the ``grader_errors`` column."""

    why: str


def grades_csv(
    results: Mapping[str, Mapping[str, Any] | Ungraded], check_names: Sequence[str]
) -> str:
    """The gradebook: ``submission, score, max_score``, ``left_out`` (what ``--fast`` did not
    grade, with its points: empty when every check ran), ``grader_errors`` (the checks to grade
    again once the grader is fixed: empty when none), then one column per check (its score; 0
    where the check did not run, as for a submission without the package). An
    :class:`Ungraded` submission has empty scores and says why in ``grader_errors``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["submission", "score", "max_score", "left_out", "grader_errors", *check_names])
    for name, data in results.items():
        if isinstance(data, Ungraded):
            writer.writerow([name, "", "", "", data.why, *("" for _ in check_names)])
            continue
        scores = {t["name"]: t["score"] for t in data["tests"]}
        left = data.get("extra_data", {}).get("left_out")
        left_out = f"{', '.join(left['checks'])} ({_points(left['points'])} points)" if left else ""
        writer.writerow(
            [
                name,
                _points(data["score"]),
                _points(data["max_score"]),
                left_out,
                "; ".join(check for check, _ in grader_errors(data)),
                *(_points(scores.get(c, 0.0)) for c in check_names),
            ]
        )
    return buffer.getvalue()


def write_grades_csv(
    path: Path, results: Mapping[str, Mapping[str, Any] | Ungraded], check_names: Sequence[str]
) -> None:
    """Write :func:`grades_csv` to ``path`` atomically."""
    _write_atomic(path, grades_csv(results, check_names))

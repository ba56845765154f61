"""``rlhw check hwN``: run a homework's public tests and say plainly where the student stands.

This module ships to students: it uses only the standard library, runs pytest in a subprocess
from the tree's root, and reads the student's own tree. It prints, per test file, how many
public tests passed, failed, or hit a ``NotImplementedError`` stub ("not implemented yet"), and
always ends by saying how many checks the autograder runs that it does not: passing the public
tests is not a grade. Those counts come from ``<package>/GRADING.json``, which ``rlhw release``
writes (counts only); in the instructor's repository they come from the hidden suite itself.

A failed test is shown with the line that failed, what it compared and the first mismatch (as
pytest and ``np.testing`` word them, whole: ``np.testing``'s message starts on its second
line), and the command that reruns that test alone.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GRADING_FILE = "GRADING.json"
_HW = re.compile(r"^(hw\d+)(_\w+)?$")
_TODO = re.compile(r"TODO\((?P<name>[\w.]+)\): not implemented yet \((?P<where>[^)\s]+)\)")
_OUTPUT_TAIL = 3000
_MESSAGE_LINES = 16
"""Lines of a failure's message shown (np.testing's whole report of a small array fits)."""
_LOCATION = re.compile(r"^(?P<path>\S+\.py):(?P<line>\d+): ")


class CheckError(Exception):
    """The homework cannot be found or its tests cannot be run; the message says why."""


@dataclass
class FailedTest:
    """A public test that failed other than on a stub: enough to act on without rerunning."""

    name: str
    node: str
    """pytest's id of the test, e.g. ``hw2_policy_gradient/tests/test_pg.py::test_x``."""
    where: str = ""
    """``path:line`` of the failing line in the test file, when pytest's report gives it."""
    statement: str = ""
    """That line of code, e.g. ``np.testing.assert_allclose(got, [3.0, 4.0, 4.0])``."""
    message: list[str] = field(default_factory=list)
    """What was compared and the first mismatch: the failure's message, line by line."""

    @property
    def rerun(self) -> str:
        return f"python -m pytest {shlex.quote(self.node)}"


@dataclass
class FileSummary:
    """The public tests of one file, by outcome."""

    path: str
    passed: list[str] = field(default_factory=list)
    failed: list[FailedTest] = field(default_factory=list)
    not_implemented: list[tuple[str, str]] = field(default_factory=list)
    """``(test, the stub it hit)``."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """``(test, why it was skipped)``."""

    @property
    def total(self) -> int:
        return len(self.passed) + len(self.failed) + len(self.not_implemented) + len(self.skipped)


def find_package(root: Path, hw: str) -> Path:
    """The homework folder of ``hw`` (``hw2`` or ``hw2_policy_gradient``) under ``root``."""
    match = _HW.match(hw)
    if match is None:
        raise CheckError(f"expected a homework like hw2 or hw2_policy_gradient, got {hw!r}")
    short = match.group(1)
    candidates = sorted(
        d
        for d in root.iterdir()
        if d.is_dir() and _HW.match(d.name) and hw in (d.name, d.name.split("_")[0])
    )
    for directory in candidates:
        if (directory / "tests").is_dir():
            return directory
    if candidates:
        raise CheckError(f"{candidates[0].name}/ has no tests/ folder in {root}")
    raise CheckError(
        f"no {short}_*/ folder in {root}; run `rlhw check {hw}` from the root of your homework "
        "tree (the folder with pyproject.toml), or pass --root"
    )


def default_root() -> Path:
    """The current folder when it holds a homework, else the tree this module is in."""
    cwd = Path.cwd()
    if any(_HW.match(d.name) for d in cwd.iterdir() if d.is_dir()):
        return cwd
    return Path(__file__).resolve().parents[1]


def read_grading_file(package_dir: Path) -> dict[str, Any] | None:
    """The counts of ``<package>/GRADING.json``, or None when there is none (or it is broken)."""
    path = package_dir / GRADING_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    checks, points = data.get("hidden_checks"), data.get("hidden_points")
    if not isinstance(checks, int) or not isinstance(points, int | float):
        return None
    return data


def run_public_tests(root: Path, package_dir: Path) -> tuple[int, list[FileSummary], str]:
    """Run ``<package>/tests`` with pytest from ``root``; ``(pytest's exit code, summaries,
    its output)``."""
    tests = package_dir.relative_to(root) / "tests"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH", "")]))
    with tempfile.TemporaryDirectory(prefix="rlhw-check-") as scratch:
        xml = Path(scratch) / "junit.xml"
        command = [
            *(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rN"),
            *("-o", "junit_family=xunit1", f"--junitxml={xml}", tests.as_posix()),
        ]
        done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
        output = done.stdout + done.stderr
        summaries = parse_junit(xml) if xml.is_file() else []
    return done.returncode, summaries, output


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _node(path: str, classname: str, name: str) -> str:
    """pytest's id of a test from its JUnit fields: ``path[::Class]::name``."""
    module = path.removesuffix(".py").replace("/", ".")
    cls = classname[len(module) + 1 :] if classname.startswith(module + ".") else ""
    return "::".join([path, *filter(None, cls.split(".")), name])


def _message_lines(message: str) -> list[str]:
    """A failure's message, blank lines left out, capped at :data:`_MESSAGE_LINES`; a bare
    ``AssertionError:`` joins the line after it (np.testing starts its report on a new line)."""
    lines = [line.rstrip() for line in message.splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].endswith(":") and " " not in lines[0].strip():
        lines[:2] = [f"{lines[0]} {lines[1].strip()}"]
    if len(lines) > _MESSAGE_LINES:
        more = len(lines) - _MESSAGE_LINES + 1
        lines = [*lines[: _MESSAGE_LINES - 1], f"... ({more} more lines: rerun the test)"]
    return lines


def _failure(path: str, classname: str, name: str, message: str, text: str) -> FailedTest:
    """The failing line of the test file in pytest's report (``>`` marks it, and the frame
    ends with ``path:line: ExceptionType``), falling back on the innermost frame."""
    located: list[tuple[str, str]] = []
    statement = ""
    for line in text.splitlines():
        if line.startswith(">"):
            statement = line[1:].strip()
        elif match := _LOCATION.match(line):
            located.append((f"{match['path']}:{match['line']}", statement))
    own = [pair for pair in located if pair[0].startswith(path + ":")]
    where, statement = (own or located or [("", "")])[-1]
    lines = _message_lines(message) or _message_lines(text)[-1:]
    return FailedTest(name, _node(path, classname, name), where, statement, lines)


def parse_junit(xml: Path) -> list[FileSummary]:
    """Per test file, in the order pytest ran them."""
    files: dict[str, FileSummary] = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        classname = case.get("classname") or "?"
        path = case.get("file") or classname.replace(".", "/") + ".py"
        summary = files.setdefault(path, FileSummary(path))
        name = case.get("name", "?")
        problems = [p for p in case if p.tag in ("failure", "error", "skipped")]
        if not problems:
            summary.passed.append(name)
            continue
        problem = problems[0]
        if problem.tag == "skipped":
            summary.skipped.append((name, _skip_reason(problem.get("message", ""))))
            continue
        message = problem.get("message", "")
        text = problem.text or ""
        stub = _TODO.search(message) or _TODO.search(text)
        if "NotImplementedError" in message and stub is not None:
            summary.not_implemented.append((name, f"{stub['name']} ({stub['where']})"))
        elif message.startswith("NotImplementedError"):
            summary.not_implemented.append((name, _first_line(message)))
        else:
            summary.failed.append(_failure(path, classname, name, message, text))
    return list(files.values())


def _skip_reason(message: str) -> str:
    """pytest's skip message without its ``Skipped:`` prefix, or a plain word when empty."""
    reason = message.removeprefix("Skipped:").strip()
    return reason or "no reason given"


def hidden_line(counts: Mapping[str, Any] | None) -> str:
    """The closing line: how many checks the autograder runs that ``rlhw check`` does not."""
    if counts is None:
        what = "hidden checks"
    else:
        n, points = counts["hidden_checks"], counts["hidden_points"]
        what = f"{n} hidden {'check' if n == 1 else 'checks'} ({points:g} points)"
    return (
        f"The autograder also runs {what} that this command does not: passing the public "
        "tests is not a grade."
    )


def format_summary(summaries: Sequence[FileSummary], counts: Mapping[str, Any] | None) -> str:
    lines: list[str] = []
    for s in summaries:
        parts = [f"{len(s.passed)} passed", f"{len(s.failed)} failed"]
        parts.append(f"{len(s.not_implemented)} not implemented yet")
        if s.skipped:
            parts.append(f"{len(s.skipped)} skipped")
        lines.append(f"{s.path}: {', '.join(parts)}")
        for failure in s.failed:
            lines.append(
                f"  FAILED {failure.name}" + (f" ({failure.where})" if failure.where else "")
            )
            if failure.statement:
                lines.append(f"    {failure.statement}")
            lines.extend(f"    {line}" for line in failure.message)
            lines.append(f"    rerun it alone: {failure.rerun}")
        reasons: dict[str, int] = {}
        for _, reason in s.skipped:
            reasons[reason] = reasons.get(reason, 0) + 1
        for reason, count in reasons.items():
            tests = f"{count} {'test' if count == 1 else 'tests'}"
            lines.append(
                textwrap.fill(
                    f"{tests} skipped: {reason}", 96, initial_indent="  ", subsequent_indent="    "
                )
            )
        stubs = list(dict.fromkeys(stub for _, stub in s.not_implemented))
        if stubs:
            waiting = textwrap.fill(
                ", ".join(stubs), 96, initial_indent="  waiting on: ", subsequent_indent="    "
            )
            lines.append(waiting)
    total = sum(s.total for s in summaries)
    passed = sum(len(s.passed) for s in summaries)
    failed = sum(len(s.failed) for s in summaries)
    todo = sum(len(s.not_implemented) for s in summaries)
    lines.append("")
    lines.append(
        f"Public tests: {passed}/{total} passed, {failed} failed, {todo} not implemented yet."
    )
    lines.append(hidden_line(counts))
    return "\n".join(lines)


def main(
    hw: str,
    root: Path | None = None,
    suite_counts: Callable[[str], Mapping[str, Any] | None] | None = None,
) -> int:
    """Run and summarise the public tests of ``hw``; 0 when all pass, 1 otherwise.

    ``suite_counts`` (the instructor's copy only) gives the hidden suite's counts when the
    homework has no ``GRADING.json``.
    """
    root = (Path(root) if root is not None else default_root()).resolve()
    try:
        package_dir = find_package(root, hw)
    except (CheckError, OSError) as error:
        print(f"rlhw check: {error}", file=sys.stderr)
        return 1
    counts: Mapping[str, Any] | None = read_grading_file(package_dir)
    if counts is None and suite_counts is not None:
        counts = suite_counts(hw)
    print(f"Running the public tests of {package_dir.name} (pytest {package_dir.name}/tests)...")
    code, summaries, output = run_public_tests(root, package_dir)
    if code not in (0, 1) or not summaries:
        # 2: interrupted or a collection error, 3: internal error, 4: usage, 5: no tests
        print(output[-_OUTPUT_TAIL:])
        print(f"pytest could not run the public tests (exit code {code}); see its output above.")
        print(hidden_line(counts))
        return 1
    print(format_summary(summaries, counts))
    return 0 if code == 0 else 1

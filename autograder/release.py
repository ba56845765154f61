"""Release: turn the instructor's repository into the starter tree a student downloads.

The repository holds every homework as its reference solution; code a student must write sits
between nbgrader's markers::

    def reward_to_go(rewards: np.ndarray, gamma: float) -> np.ndarray:
        \"\"\"...\"\"\"
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

:func:`strip_solutions` replaces each such region of a ``.py`` file by one stub that fails
loudly at its own line; notebooks go through nbgrader's own preprocessors
(:func:`strip_notebook`). :func:`release_student` writes ``OUT/hwN/student/`` and refuses to
leave a tree on disk that :func:`check_no_leaks` finds leaking: a solution line, a solution
marker, a hidden test, calibration data or reference weights; or a handout that keeps a
staff-only part (between ``<!-- BEGIN STAFF ONLY -->`` and ``<!-- END STAFF ONLY -->``, left
out by :func:`strip_staff_sections`) or points at a path the tree does not have. The tree's
README.md and Makefile are the student's own (:func:`write_student_files`).

A homework may build on another one's code (hw4's MBPO trains hw3's SAC): the student brings
their own, and the tree holds only that homework's placeholder folder, whose README says so.
For a term past the other homework's deadline, ``rlhw release hw4 --give hw3`` ships its
reference code instead (:func:`given_dependencies`, :func:`given_files`), and the leak check
accepts exactly those files.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import logging
import os
import re
import shutil
import tempfile
import textwrap
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]

# Files at the top of the repository that every student tree gets as they are. Its README.md,
# Makefile and environment.yml are the student's own (:func:`write_student_files`).
TOP_LEVEL_FILES = ("pyproject.toml", ".gitignore")
# Where the student's README.md and Makefile come from, filled in per homework.
TEMPLATES = Path(__file__).resolve().parent / "templates"
# PyTorch's own index of CPU builds: every install route takes torch from there, never PyPI,
# whose torch for Linux is a CUDA build of several GB.
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
# The only autograder modules a student gets: enough for the ``rlhw`` console script.
STUDENT_AUTOGRADER_FILES = (
    "autograder/__init__.py",
    "autograder/cli.py",
    "autograder/student_check.py",
)
# What ``rlhw check`` reads in the student's package: the hidden suite's counts, nothing else.
GRADING_FILE = "GRADING.json"
_GRADING_KEYS = frozenset({"hidden_checks", "hidden_points", "kinds"})
# What the other homeworks contribute: placeholders that keep ``pip install -e .`` working (their
# README.md is written for the student tree, not copied: the handout is not released yet).
PLACEHOLDER_FILES = ("README.md", "__init__.py")
# Never in a student tree, wherever they are.
FORBIDDEN_DIRS = frozenset({"runs", "dist", ".venv", "__pycache__", ".git", ".ipynb_checkpoints"})
# Reference weights and data: left out unless ``allow_data`` names them.
WEIGHT_SUFFIXES = frozenset({".pt", ".pth", ".safetensors", ".npz", ".hdf5", ".h5"})
"""Files of weights or data (hw5's Minari datasets are HDF5): none ships unless allow_data says."""
# Build and tool leftovers that a copy skips silently (they are not the instructor's files).
JUNK = (
    *("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", ".mypy_cache", ".ruff_cache"),
    *("*.egg-info", ".DS_Store", ".ipynb_checkpoints"),
)
# ruff's line length in pyproject.toml: a longer stub is written the way ``ruff format`` would.
STUB_LINE_LENGTH = 100

_BEGIN = re.compile(r"^(?P<indent>[ \t]*)#+[ \t]*BEGIN SOLUTION[ \t]*\r?\n?$")
_END = re.compile(r"^(?P<indent>[ \t]*)#+[ \t]*END SOLUTION[ \t]*\r?\n?$")
# Anything that looks like a marker: one that is not exactly a marker is an error, not code.
_MARKER_LIKE = re.compile(r"^[ \t]*#.*\b(BEGIN|END)[ \t]+SOLUTION\b")
# What must never be left in a released code file (nbgrader's markers, hidden tests included).
_ANY_MARKER = re.compile(r"^[ \t]*#+[ \t]*(BEGIN|END)[ \t]+(SOLUTION|HIDDEN TESTS)\b")
# nbgrader's own rule for notebooks: the delimiter anywhere in a line.
_NB_BEGIN = re.compile(r"BEGIN (SOLUTION|HIDDEN TESTS)")
_NB_END = re.compile(r"END (SOLUTION|HIDDEN TESTS)")
_HOMEWORK_DIR = re.compile(r"^(hw\d+)_\w+$")
# The staff-only parts of a handout: HTML comments, which Markdown does not show.
STAFF_BEGIN, STAFF_END = "<!-- BEGIN STAFF ONLY -->", "<!-- END STAFF ONLY -->"
_STAFF_MARKER = re.compile(r"<!--[ \t]*(?P<kind>BEGIN|END)[ \t]+STAFF[ \t]+ONLY[ \t]*-->")
# What a Markdown file points at: link and image targets, and in code (fenced or inline)
# paths and the modules of `python -m`.
_FENCE = re.compile(r"^[ \t]*(```|~~~)")
_MD_LINK = re.compile(r"\]\(\s*<?(?P<target>[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_INLINE_CODE = re.compile(r"`(?P<code>[^`]+)`")
_CODE_TOKEN_SEPARATORS = re.compile(r"[\s\"'(),;=\[\]{}<>|`]+")
_PYTHON_M = re.compile(r"\bpython3?\s+-m\s+(?P<module>[A-Za-z_][\w.]*)")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


class ReleaseError(Exception):
    """The reference cannot be released as it stands, or a student tree leaks."""


@dataclass(frozen=True)
class SolutionRegion:
    """One ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region of a file (1-based lines)."""

    begin: int
    end: int
    indent: str


# ---------------------------------------------------------------------------------------------
# Solution regions of one .py file
# ---------------------------------------------------------------------------------------------


def find_regions(source: str, path: str) -> list[SolutionRegion]:
    """The solution regions of ``source``, checked for balance and indentation.

    Raises:
        ReleaseError: a marker not alone on its line, a nested BEGIN, an END without BEGIN, a
            BEGIN without END, an END at another indentation than its BEGIN, or a line of the
            region less indented than its markers.
    """
    lines = split_lines(source)
    in_string = _string_continuation_lines(source, path)
    regions: list[SolutionRegion] = []
    open_at: int | None = None
    indent = ""
    for number, line in enumerate(lines, start=1):
        if number in in_string:
            continue  # text inside a multi-line string (a docstring may show the markers)
        begin, end = _BEGIN.match(line), _END.match(line)
        if begin is None and end is None and _MARKER_LIKE.match(line):
            raise ReleaseError(
                f"{path}:{number}: expected `### BEGIN SOLUTION` or `### END SOLUTION` alone on "
                f"its line, got {line.strip()!r}"
            )
        if begin is not None:
            if open_at is not None:
                raise ReleaseError(
                    f"{path}:{number}: nested `### BEGIN SOLUTION`: the region opened at line "
                    f"{open_at} is not closed; expected `### END SOLUTION` first"
                )
            open_at, indent = number, begin["indent"]
        elif end is not None:
            if open_at is None:
                raise ReleaseError(
                    f"{path}:{number}: `### END SOLUTION` without a `### BEGIN SOLUTION` before it"
                )
            if end["indent"] != indent:
                raise ReleaseError(
                    f"{path}:{number}: expected `### END SOLUTION` at the indentation of its "
                    f"`### BEGIN SOLUTION` (line {open_at}, {len(indent)} columns), "
                    f"got {len(end['indent'])} columns"
                )
            regions.append(SolutionRegion(open_at, number, indent))
            open_at = None
        elif open_at is not None and line.strip() and not line.startswith(indent):
            raise ReleaseError(
                f"{path}:{number}: a line of the solution region opened at line {open_at} "
                f"is less indented than its markers; expected at least {len(indent)} "
                f"columns, got {len(line) - len(line.lstrip())}"
            )
    if open_at is not None:
        raise ReleaseError(
            f"{path}:{open_at}: `### BEGIN SOLUTION` is never closed; "
            f"expected `### END SOLUTION` before the end of the file (line {len(lines)})"
        )
    return regions


def split_lines(source: str) -> list[str]:
    """Lines with their endings, numbered as ``ast`` numbers them (``str.splitlines`` would
    also split at form feeds and other separators that may sit inside a string literal)."""
    pieces = source.split("\n")
    lines = [piece + "\n" for piece in pieces[:-1]]
    return lines + [pieces[-1]] if pieces[-1] else lines


def _parse(source: str, path: str, what: str) -> ast.Module:
    try:
        return ast.parse(source, filename=path)
    except SyntaxError as error:
        raise ReleaseError(f"{path}:{error.lineno}: {what} does not parse: {error.msg}") from error


def _string_continuation_lines(source: str, path: str) -> set[int]:
    """Lines inside a multi-line string after its first: text there is not code."""
    lines: set[int] = set()
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError:
        return lines  # the markers are checked first; the parse error is reported after
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant | ast.JoinedStr) and node.end_lineno is not None:
            lines.update(range(node.lineno + 1, node.end_lineno + 1))
    return lines


_Scope = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def _enclosing_scopes(tree: ast.Module, region: SolutionRegion, n_lines: int) -> list[_Scope]:
    """The ``def``/``class`` statements around ``region``, outermost first.

    A scope's extent runs to the line before the next statement at its own indentation or less,
    so that a region at the very end of a body (even an empty one) still belongs to it.
    """
    statements = [node for node in ast.walk(tree) if isinstance(node, ast.stmt)]
    chain: list[_Scope] = []
    for node in ast.walk(tree):
        if not isinstance(node, _Scope) or node.end_lineno is None:
            continue
        later = [
            s.lineno
            for s in statements
            if s.lineno > node.end_lineno and s.col_offset <= node.col_offset
        ]
        extent_end = min(later) - 1 if later else n_lines
        if (
            node.lineno < region.begin
            and region.end <= extent_end
            and len(region.indent) > node.col_offset
        ):
            chain.append(node)
    chain.sort(key=lambda node: node.lineno)
    return chain


def _check_whole_statements(tree: ast.Module, region: SolutionRegion, path: str) -> None:
    """A region must hold whole statements: no statement may cross one of its markers."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt) or node.end_lineno is None:
            continue
        if region.begin < node.lineno < region.end < node.end_lineno:
            raise ReleaseError(
                f"{path}:{node.lineno}: the statement at lines {node.lineno}-{node.end_lineno} "
                f"starts inside the solution region at lines {region.begin}-{region.end} and "
                f"ends after it; expected the region to hold whole statements"
            )
        compound = hasattr(node, "body")
        if not compound and node.lineno < region.begin <= node.end_lineno:
            raise ReleaseError(
                f"{path}:{region.begin}: `### BEGIN SOLUTION` inside the statement at lines "
                f"{node.lineno}-{node.end_lineno}; expected the region to hold whole statements"
            )


def _bound_names(nodes: list[ast.AST]) -> dict[str, list[int]]:
    """Names bound in the scope that holds ``nodes`` (not in nested scopes), with their lines."""
    bound: dict[str, list[int]] = {}

    def bind(name: str, line: int) -> None:
        bound.setdefault(name, []).append(line)

    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bind(node.name, node.lineno)
            # Decorators and defaults run in this scope; the body is another scope.
            stack.extend(node.decorator_list)
            if not isinstance(node, ast.ClassDef):
                stack.extend(node.args.defaults)
                stack.extend(d for d in node.args.kw_defaults if d is not None)
            continue
        if isinstance(node, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp):
            continue
        if isinstance(node, ast.GeneratorExp):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bind(node.id, node.lineno)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                bind((alias.asname or alias.name).split(".")[0], node.lineno)
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            bind(node.name, node.lineno)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bind(node.rest, node.lineno)
        stack.extend(ast.iter_child_nodes(node))
    return bound


def _check_defined_after_region(
    function: ast.FunctionDef | ast.AsyncFunctionDef, regions: list[SolutionRegion], path: str
) -> None:
    """Refuse a name that ``function`` uses outside its solution regions but assigns only
    inside them.

    Once the regions are stubs, such a name is undefined (ruff F821, and a NameError if the
    code were reached): the reference must assign it before the region, or use it only inside.
    """

    def region_of(line: int) -> SolutionRegion | None:
        return next((r for r in regions if r.begin < line < r.end), None)

    arguments = function.args
    parameters = {
        a.arg
        for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        + [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
    }
    declared = {
        name
        for node in ast.walk(function)
        if isinstance(node, ast.Global | ast.Nonlocal)
        for name in node.names
    }
    only_inside = {
        name: lines[0]
        for name, lines in _bound_names(list(function.body)).items()
        if all(region_of(line) is not None for line in lines)
        and name not in parameters
        and name not in declared
    }
    uses = sorted(
        (node.lineno, node.id)
        for node in ast.walk(function)
        if isinstance(node, ast.Name)
        and isinstance(node.ctx, ast.Load)
        and node.id in only_inside
        and region_of(node.lineno) is None
    )
    if uses:
        line, name = uses[0]
        region = region_of(only_inside[name])
        assert region is not None
        raise ReleaseError(
            f"{path}:{line}: `{name}` is used outside the solution region at lines "
            f"{region.begin}-{region.end} of `{function.name}` but assigned only inside it, so "
            f"the student's stub would leave it undefined; assign it before "
            f"`### BEGIN SOLUTION` or use it only inside the region"
        )


def _stub_lines(indent: str, qualname: str, path: str, newline: str) -> list[str]:
    """The stub, on one line when it fits in ``STUB_LINE_LENGTH`` columns, else laid out as
    ``ruff format`` lays out a long call (the message split in two where it must be).

    The message names the function and file, not a line number: the student's edits above
    the stub would make a number stale, and the traceback gives the line anyway."""

    def literal(text: str) -> str:
        return json.dumps(text) if text.isascii() else repr(text)

    head, tail = f"TODO({qualname}): ", f"not implemented yet ({path})"
    one_line = f"{indent}raise NotImplementedError({literal(head + tail)})"
    if len(one_line) <= STUB_LINE_LENGTH:
        return [one_line + newline]
    inner = indent + "    "
    if len(inner + literal(head + tail)) <= STUB_LINE_LENGTH:
        arguments = [inner + literal(head + tail)]
    else:
        arguments = [inner + literal(head), inner + literal(tail)]
    return [
        f"{indent}raise NotImplementedError({newline}",
        *(argument + newline for argument in arguments),
        f"{indent}){newline}",
    ]


def strip_solutions(source: str, path: str) -> str:
    """``source`` with every solution region replaced by a stub that fails at its own line.

    Each region, markers included, becomes ``raise NotImplementedError("TODO(<name>): not
    implemented yet (<path>)")`` at the markers' indentation, where ``<name>`` is the
    qualified name of the enclosing function (``GaussianPolicy.distribution``). A file without
    regions comes back unchanged.

    Args:
        source: the reference source of one ``.py`` file.
        path: its path as the student sees it (``hw2_policy_gradient/pg.py``), for messages.

    Raises:
        ReleaseError: unbalanced or badly indented markers, a region outside a function or
            cutting through a statement, a name assigned only inside a region but used after
            it, or a result that does not parse; each with the file and line.
    """
    regions = find_regions(source, path)
    if not regions:
        return source
    tree = _parse(source, path, "the reference")
    lines = split_lines(source)
    out: list[str] = []
    next_line = 1
    for region in regions:
        scopes = _enclosing_scopes(tree, region, len(lines))
        function = scopes[-1] if scopes else None
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            where = f"in the body of class `{function.name}`" if function else "at module level"
            raise ReleaseError(
                f"{path}:{region.begin}: solution region {where}; expected it inside a "
                f"function, where a stub fails when called rather than on import"
            )
        _check_whole_statements(tree, region, path)
        _check_defined_after_region(function, regions, path)
        out.extend(lines[next_line - 1 : region.begin - 1])
        marker = lines[region.begin - 1]
        newline = marker[len(marker.rstrip("\r\n")) :] or "\n"
        qualname = ".".join(scope.name for scope in scopes)
        stub = _stub_lines(region.indent, qualname, path, newline)
        out.extend(stub)
        next_line = region.end + 1
    out.extend(lines[next_line - 1 :])
    stripped = "".join(out)
    _parse(stripped, path, "the stripped file")
    return stripped


def strip_notebook(source: str, path: str) -> str:
    """A notebook (JSON text) through nbgrader's ``ClearSolutions``, ``ClearHiddenTests`` and
    ``ClearOutput`` preprocessors. Markers need no nbgrader cell metadata.

    Raises:
        ReleaseError: nbgrader is not installed, or rejects a cell (unbalanced markers).
    """
    try:
        import nbformat
        from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions
    except ImportError as error:
        raise ReleaseError(
            f"{path}: releasing a notebook needs nbgrader (`pip install nbgrader`): {error}"
        ) from error
    notebook = nbformat.reads(source, as_version=4)
    resources: dict = {}
    preprocessors = [
        ClearSolutions(enforce_metadata=False),
        ClearHiddenTests(enforce_metadata=False),
        ClearOutput(),
    ]
    try:
        for preprocessor in preprocessors:
            notebook, resources = preprocessor.preprocess(notebook, resources)
    except (RuntimeError, ValueError) as error:
        raise ReleaseError(f"{path}: nbgrader could not clear the notebook: {error}") from error
    return str(nbformat.writes(notebook))


def strip_staff_sections(text: str, path: str) -> str:
    """``text``, a Markdown handout, without its staff-only parts.

    A part runs from ``<!-- BEGIN STAFF ONLY -->`` to ``<!-- END STAFF ONLY -->``, markers
    included. Markers alone on their lines take those lines with them (a section, a
    paragraph); markers inside a line cut only what lies between them (a sentence, a
    parenthesis). In the instructor's copy they are HTML comments, which Markdown does not show.

    Raises:
        ReleaseError: an END without a BEGIN before it, a BEGIN inside another part, or a BEGIN
            never closed; with the file and line.
    """
    kept: list[str] = []
    position = 0
    begin: re.Match[str] | None = None
    for marker in _STAFF_MARKER.finditer(text):
        line = text.count("\n", 0, marker.start()) + 1
        if marker["kind"] == "BEGIN":
            if begin is not None:
                opened = text.count("\n", 0, begin.start()) + 1
                raise ReleaseError(
                    f"{path}:{line}: `{STAFF_BEGIN}` inside the staff-only part opened at line "
                    f"{opened}; expected `{STAFF_END}` first"
                )
            begin = marker
            continue
        if begin is None:
            raise ReleaseError(f"{path}:{line}: `{STAFF_END}` without a `{STAFF_BEGIN}` before it")
        start, end = begin.start(), marker.end()
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", end)
        line_end = len(text) if line_end < 0 else line_end + 1
        if not text[line_start:start].strip() and not text[end:line_end].strip():
            start, end = line_start, line_end  # markers alone on their lines: whole lines go
        kept.append(text[position:start])
        position, begin = end, None
    if begin is not None:
        opened = text.count("\n", 0, begin.start()) + 1
        raise ReleaseError(
            f"{path}:{opened}: `{STAFF_BEGIN}` is never closed; expected `{STAFF_END}` "
            f"before the end of the file"
        )
    return "".join(kept) + text[position:]


# ---------------------------------------------------------------------------------------------
# What may ship
# ---------------------------------------------------------------------------------------------


def find_homework(root: Path, hw: str) -> tuple[str, Path]:
    """``("hw2", root / "hw2_policy_gradient")`` for ``hw`` = ``hw2`` or ``hw2_policy_gradient``."""
    homeworks = sorted(
        d for d in root.iterdir() if d.is_dir() and _HOMEWORK_DIR.match(d.name) is not None
    )
    for directory in homeworks:
        short = directory.name.split("_")[0]
        if hw in (short, directory.name):
            return short, directory
    known = ", ".join(d.name.split("_")[0] for d in homeworks)
    raise ReleaseError(f"unknown homework {hw!r}: expected one of {known} (in {root})")


def _allowed(relative: PurePosixPath, allow_data: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(relative.as_posix(), pattern) for pattern in allow_data)


@dataclass(frozen=True)
class ReleaseSettings:
    """What a homework package declares about its own release, in its ``__init__.py``, as
    literals (read without importing the package)::

        RELEASE_DATA = ("experts/*",)          # weights or data that ship to students
        INSTRUCTOR_ONLY = ("tools/*",)         # files that stay with the staff

    Patterns are globs relative to the package folder; here they are relative to the root.
    """

    data: tuple[str, ...] = ()
    instructor_only: tuple[str, ...] = ()


def release_settings(hw_dir: Path) -> ReleaseSettings:
    """The :class:`ReleaseSettings` of the homework package ``hw_dir``.

    Raises:
        ReleaseError: a setting that is not a tuple or list of strings.
    """
    init = hw_dir / "__init__.py"
    if not init.is_file():
        return ReleaseSettings()
    tree = _parse(init.read_text(encoding="utf-8"), init.as_posix(), "the package's __init__.py")
    found: dict[str, tuple[str, ...]] = {}
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            if isinstance(target, ast.Name) and target.id in ("RELEASE_DATA", "INSTRUCTOR_ONLY"):
                try:
                    value = ast.literal_eval(node.value)
                except ValueError:
                    value = None
                if not isinstance(value, tuple | list) or not all(
                    isinstance(v, str) for v in value
                ):
                    raise ReleaseError(
                        f"{init}:{node.lineno}: expected {target.id} to be a tuple of glob "
                        f"patterns (strings), got {ast.unparse(node.value)}"
                    )
                found[target.id] = tuple(f"{hw_dir.name}/{pattern}" for pattern in value)
    return ReleaseSettings(found.get("RELEASE_DATA", ()), found.get("INSTRUCTOR_ONLY", ()))


def homework_dependencies(root: Path, hw_dir: Path) -> list[Path]:
    """The other homeworks whose packages the released files of ``hw_dir`` import, sorted
    (``[root / "hw3_q_learning"]`` for hw4, whose MBPO trains homework 3's SAC).

    Read from the code, not declared: an ``import`` of another homework's package in any
    ``.py`` file that ships (its ``INSTRUCTOR_ONLY`` files stay with the staff and do not count).
    """
    homeworks = {
        d.name: d
        for d in root.iterdir()
        if d.is_dir() and _HOMEWORK_DIR.match(d.name) and d != hw_dir
    }
    instructor_only = release_settings(hw_dir).instructor_only
    found: set[str] = set()
    for file in _walk_files(hw_dir):
        relative = PurePosixPath(file.relative_to(root).as_posix())
        if file.suffix != ".py" or _allowed(relative, instructor_only):
            continue
        tree = _parse(file.read_text(encoding="utf-8"), relative.as_posix(), "the reference")
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            found.update(name.split(".")[0] for name in modules if name.split(".")[0] in homeworks)
    return [homeworks[name] for name in sorted(found)]


def given_files(root: Path, dependency_dir: Path) -> list[Path]:
    """What a dependency given with a release (``rlhw release hw4 --give hw3``) ships: its
    package's ``.py`` files as they are in the reference, solutions included; not its
    ``tests/`` (another homework's public tests are not this one's), its handout, figures or
    data, nor its ``INSTRUCTOR_ONLY`` files. Its ``README.md`` is written for the student tree
    (:func:`write_student_files`)."""
    instructor_only = release_settings(dependency_dir).instructor_only
    return [
        file
        for file in _walk_files(dependency_dir)
        if file.suffix == ".py"
        and file.relative_to(dependency_dir).parts[0] != "tests"
        and not _allowed(PurePosixPath(file.relative_to(root).as_posix()), instructor_only)
    ]


def given_dependencies(root: Path, hw_dir: Path, give: Sequence[str]) -> list[Path]:
    """The package folders of the homeworks ``give`` names (``hw3`` or ``hw3_q_learning``),
    each once, sorted.

    Raises:
        ReleaseError: an unknown homework, or one that ``hw_dir``'s code does not import
            (:func:`homework_dependencies`).
    """
    dependencies = homework_dependencies(root, hw_dir)
    short = hw_dir.name.split("_")[0]
    chosen: set[Path] = set()
    for hw in give:
        try:
            _, directory = find_homework(root, hw)
        except ReleaseError as error:
            raise ReleaseError(f"cannot give {hw} with {short}: {error}") from None
        if directory not in dependencies:
            expected = (
                f"expected one of its dependencies: "
                f"{', '.join(d.name.split('_')[0] for d in dependencies)}"
                if dependencies
                else "it depends on no other homework"
            )
            raise ReleaseError(
                f"cannot give {hw} with {short}: {short}'s code does not import "
                f"{directory.name}; {expected}"
            )
        chosen.add(directory)
    return sorted(chosen)


def forbidden_reason(
    relative: PurePosixPath,
    hw_dirname: str,
    allow_data: Sequence[str] = (),
    instructor_only: Sequence[str] = (),
    given: Collection[str] = (),
) -> str | None:
    """Why the file or folder ``relative`` (to the student tree's root) must not ship, or None.

    Args:
        relative: a path inside the student tree.
        hw_dirname: the released homework's folder (``hw2_policy_gradient``).
        allow_data: glob patterns (``hw1_imitation/experts/*.pt``) of weights or data that ship.
        instructor_only: glob patterns (``hw1_imitation/tools/*``) of the homework's files
            that stay with the staff.
        given: the files of other homeworks given with the release
            (``hw3_q_learning/sac.py``; :func:`given_files`), and their folders.
    """
    parts = relative.parts
    text = relative.as_posix()
    if _allowed(relative, instructor_only):
        return "an instructor-only file (INSTRUCTOR_ONLY of its package)"
    if parts[0] == "tests":
        return "the project's own tests"
    if parts[0] == "bench":
        return "the project's benchmarks"
    if parts[0] == "autograder" and len(parts) > 1 and text not in STUDENT_AUTOGRADER_FILES:
        return "the autograder's engine or hidden suites"
    if relative.name == GRADING_FILE and text != f"{hw_dirname}/{GRADING_FILE}":
        return f"a grading summary outside {hw_dirname}/{GRADING_FILE}"
    for part in parts:
        if part in FORBIDDEN_DIRS:
            return f"a {part}/ folder"
    if "calibration" in text.lower() or relative.name.endswith(".calib.json"):
        return "calibration data"
    if relative.suffix in WEIGHT_SUFFIXES and not _allowed(relative, allow_data):
        return f"reference weights or data ({relative.suffix}; not in allow_data)"
    other_homework = _HOMEWORK_DIR.match(parts[0]) and parts[0] != hw_dirname
    placeholder = len(parts) == 2 and parts[1] in PLACEHOLDER_FILES
    if other_homework and len(parts) > 1 and not placeholder and text not in given:
        return (
            "another homework's file (only its README.md and __init__.py ship, and the code of "
            "a dependency given with the release)"
        )
    return None


def _is_junk(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in JUNK)


def _walk_files(directory: Path) -> Iterator[Path]:
    """Files under ``directory``, sorted, skipping junk folders and files; links not followed."""
    for current, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(d for d in dirnames if not _is_junk(d))
        for name in sorted(filenames):
            if not _is_junk(name):
                yield Path(current, name)


# ---------------------------------------------------------------------------------------------
# Leak check
# ---------------------------------------------------------------------------------------------


def _is_trivial(line: str) -> bool:
    """Lines too short or too generic to betray a solution (``return``, ``pass``, comments)."""
    stripped = line.strip()
    return len(stripped) < 12 or stripped.startswith("#") or stripped in ("return", "pass")


def _notebook_cells(text: str) -> list[tuple[list[str], bool]]:
    """Each cell's source lines, and whether nbgrader marks it a solution cell."""
    cells = []
    for cell in json.loads(text).get("cells", []):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        solution = bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution", False))
        cells.append((source.splitlines(), solution))
    return cells


def _notebook_regions(lines: list[str], solution_cell: bool) -> list[bool]:
    """For each line of a notebook cell, whether it is solution or hidden test: nbgrader's
    rule (a marker anywhere in a line; a solution cell without markers is all solution)."""
    marked = [False] * len(lines)
    has_markers = any(_NB_BEGIN.search(line) for line in lines)
    inside = False
    for index, line in enumerate(lines):
        if _NB_BEGIN.search(line):
            inside = True
        elif _NB_END.search(line):
            inside = False
        else:
            marked[index] = inside or (solution_cell and not has_markers)
    return marked


def _py_regions(text: str, path: str) -> list[bool]:
    """For each line of a ``.py`` file, whether it is inside a solution region (markers too)."""
    lines = split_lines(text)
    marked = [False] * len(lines)
    for region in find_regions(text, path):
        for index in range(region.begin - 1, region.end):
            marked[index] = True
    return marked


def _reference_lines(reference_root: Path) -> tuple[dict[str, str], set[str]]:
    """Non-trivial solution lines of every homework, each with where it comes from, and the
    lines that the reference gives away anyway (outside regions, or in ``infrastructure/``)."""
    secret: dict[str, str] = {}
    given: set[str] = set()
    homeworks = [d for d in reference_root.iterdir() if _HOMEWORK_DIR.match(d.name) and d.is_dir()]
    for directory in sorted(homeworks):
        for file in _walk_files(directory):
            relative = file.relative_to(reference_root).as_posix()
            if file.suffix == ".py":
                text = file.read_text(encoding="utf-8")
                cells = [(split_lines(text), _py_regions(text, relative), "")]
            elif file.suffix == ".ipynb":
                cells = [
                    (lines, _notebook_regions(lines, solution), f" cell {index} line")
                    for index, (lines, solution) in enumerate(
                        _notebook_cells(file.read_text(encoding="utf-8"))
                    )
                ]
            else:
                continue
            for lines, marked, cell in cells:
                for index, line in enumerate(lines):
                    if not marked[index]:
                        given.add(line.strip())
                    elif not _is_trivial(line):
                        secret.setdefault(line.strip(), f"{relative}{cell}:{index + 1}")
    infrastructure = reference_root / "infrastructure"
    if infrastructure.is_dir():
        for file in _walk_files(infrastructure):
            if file.suffix == ".py":
                given.update(line.strip() for line in file.read_text(encoding="utf-8").split("\n"))
    return {line: where for line, where in secret.items() if line not in given}, given


def _student_lines(file: Path, relative: str) -> Iterator[tuple[str, str, bool]]:
    """``(location, line, is_code)`` for each line of a text file. A notebook's cells are
    decoded; text inside a ``.py`` file's multi-line strings is not code."""
    data = file.read_bytes()
    if b"\0" in data:
        return
    text = data.decode("utf-8", errors="replace")
    in_string = _string_continuation_lines(text, relative) if file.suffix == ".py" else set()
    for number, line in enumerate(split_lines(text), start=1):
        yield f":{number}", line, file.suffix == ".py" and number not in in_string
    if file.suffix == ".ipynb":
        try:
            cells = _notebook_cells(text)
        except (json.JSONDecodeError, AttributeError):
            return
        for index, (lines, _) in enumerate(cells):
            for number, line in enumerate(lines, start=1):
                yield f" cell {index} line {number}", line, True


def check_no_leaks(
    student_dir: Path,
    reference_root: Path,
    hw: str,
    *,
    allow_data: Sequence[str] = (),
    give: Sequence[str] = (),
) -> None:
    """Refuse a student tree that gives anything away.

    Looks for: any non-trivial line (12 characters or more, not a comment, ``return`` or
    ``pass``) of a solution or hidden-test region of the reference, in any file, as a whole
    line or, from 20 characters on, inside a longer one (a handout's inline code); a solution
    marker left in a ``.py`` file or notebook; a forbidden path (the project's tests, bench,
    autograder engine and suites, calibration data, weights not in ``allow_data`` or the
    package's ``RELEASE_DATA``, files of its ``INSTRUCTOR_ONLY``, run logs, caches, another
    homework's code, symbolic links). A line that the reference also has outside its regions
    is given code, not a leak. In Markdown files, also: a staff-only marker left (see
    :func:`strip_staff_sections`), and a link, path or ``python -m`` module that the tree does
    not have (``hw1_imitation/tools/``, ``bench/``: what release leaves out).

    The homeworks ``give`` names (``["hw3"]``: dependencies given with the release, see
    :func:`given_dependencies`) may ship exactly their :func:`given_files`, each the same as in
    the reference: those are not scanned for solution lines, and any other file of theirs, or
    a changed one, is a leak.

    Raises:
        ReleaseError: listing every leak, one per line; also a ``give`` that is unknown or not
            a dependency of ``hw``.
    """
    student_dir, reference_root = Path(student_dir), Path(reference_root)
    _, hw_dir = find_homework(reference_root, hw)
    settings = release_settings(hw_dir)
    allow_data = [*allow_data, *settings.data]
    given_copies = {
        file.relative_to(reference_root).as_posix(): file
        for dependency in given_dependencies(reference_root, hw_dir, give)
        for file in given_files(reference_root, dependency)
    }
    given_paths = set(given_copies) | {
        parent.as_posix() for path in given_copies for parent in PurePosixPath(path).parents
    }
    secret, given = _reference_lines(reference_root)
    long_secrets = sorted((line for line in secret if len(line) >= 20), key=len, reverse=True)
    inside = re.compile("|".join(map(re.escape, long_secrets))) if long_secrets else None
    top_names = _top_names(reference_root)
    leaks: list[str] = []
    for current, dirnames, filenames in os.walk(student_dir):
        for name in sorted(dirnames) + sorted(filenames):
            path = Path(current, name)
            relative = PurePosixPath(path.relative_to(student_dir).as_posix())
            if path.is_symlink():
                leaks.append(f"{relative}: a symbolic link (a release holds copies only)")
                continue
            reason = forbidden_reason(
                relative, hw_dir.name, allow_data, settings.instructor_only, given_paths
            )
            if reason is not None:
                leaks.append(f"{relative}: {reason}")
            if path.is_dir():
                continue
            if relative.as_posix() in given_copies:
                if path.read_bytes() != given_copies[relative.as_posix()].read_bytes():
                    leaks.append(
                        f"{relative}: differs from the reference's, which a dependency given "
                        f"with the release ships as it is"
                    )
                continue
            if relative.name == GRADING_FILE and reason is None:
                problem = _grading_file_problem(path)
                if problem is not None:
                    leaks.append(f"{relative}: {problem}")
                continue
            for location, line, is_code in _student_lines(path, relative.as_posix()):
                stripped = line.strip()
                found = stripped if stripped in secret else None
                if found is None and inside is not None and stripped not in given:
                    match = inside.search(stripped)
                    found = match.group(0) if match else None
                if found is not None:
                    leaks.append(
                        f"{relative}{location}: solution line from {secret[found]}: {found!r}"
                    )
                if is_code and _ANY_MARKER.match(line):
                    leaks.append(f"{relative}{location}: a solution marker left: {stripped!r}")
                if relative.suffix == ".md" and _STAFF_MARKER.search(line):
                    leaks.append(f"{relative}{location}: a staff-only marker left: {stripped!r}")
            if relative.suffix == ".md":
                leaks.extend(_missing_references(path, relative, student_dir, top_names))
    if leaks:
        listing = "\n".join(f"  - {leak}" for leak in dict.fromkeys(leaks))
        raise ReleaseError(f"the student tree {student_dir} leaks:\n{listing}")


def _markdown_references(text: str) -> Iterator[tuple[int, str, str]]:
    """``(line, kind, target)`` for what a Markdown text points at: each link or image target
    (``link``), each path-like token of its code, fenced or inline, an inline span possibly
    running over lines (``code``: ``hw1_imitation/tools/``, ``bench/x.py``), and each module run
    with ``python -m`` (``module``: ``hw1_imitation.tools.train_expert``)."""
    lines = text.split("\n")
    prose: list[str] = []  # the text outside fences, with fenced lines blanked (same numbers)
    code: list[tuple[int, str]] = []
    in_fence = False
    for number, line in enumerate(lines, start=1):
        fence = _FENCE.match(line) is not None
        if in_fence and not fence:
            code.append((number, line))
        in_fence = in_fence != fence
        prose.append("" if in_fence or fence else line)
    outside = "\n".join(prose)
    for match in _INLINE_CODE.finditer(outside):
        code.append((outside.count("\n", 0, match.start()) + 1, match["code"]))
    for match in _MD_LINK.finditer(outside):
        yield outside.count("\n", 0, match.start()) + 1, "link", match["target"]
    for number, piece in sorted(code, key=lambda item: item[0]):  # stable: in line order
        for token in _CODE_TOKEN_SEPARATORS.split(piece):
            if "/" in token and "://" not in token:
                yield number, "code", token
        for match in _PYTHON_M.finditer(piece):
            yield number, "module", match["module"]


def _top_names(root: Path) -> frozenset[str]:
    """The names at the top of the instructor's repository that a handout's paths may start
    with: what is there, less outputs and caches (its ``.gitignore``, runs, caches)."""
    ignore_file = root / ".gitignore"
    ignored = [
        line.strip().strip("/")
        for line in (
            ignore_file.read_text(encoding="utf-8").splitlines() if ignore_file.is_file() else []
        )
        if line.strip() and not line.startswith("#") and "/" not in line.strip().strip("/")
    ]
    return frozenset(
        entry.name
        for entry in root.iterdir()
        if entry.name not in FORBIDDEN_DIRS
        and not _is_junk(entry.name)
        and not any(fnmatch.fnmatchcase(entry.name, pattern) for pattern in ignored)
    )


def _missing_references(
    file: Path, relative: PurePosixPath, tree: Path, top_names: frozenset[str]
) -> Iterator[str]:
    """What the Markdown ``file`` (``relative`` in the student ``tree``) points at that the tree
    does not have: link targets, relative to the file; code paths and ``python -m`` modules
    whose first part is a name at the top of the instructor's repository (``bench/``,
    ``tests/``, ``hw1_imitation/tools/``), relative to the tree. Run folders (``runs/``) are
    outputs, not looked for."""
    text = file.read_text(encoding="utf-8", errors="replace")
    for line, kind, target in _markdown_references(text):
        if kind == "link":
            if target.startswith("#") or _URL_SCHEME.match(target):
                continue
            path, base = target.split("#")[0].split("?")[0], tree / relative.parent
        elif kind == "module":
            path, base = target.replace(".", "/"), tree
        else:
            path, base = target, tree
        parts = PurePosixPath(path).parts
        if not parts or (kind != "link" and parts[0] not in top_names):
            continue
        if any(char in path for char in "*?["):
            found = any(base.glob(path.rstrip("/")))
        else:
            candidate = Path(os.path.normpath(base / path))
            found = candidate.is_relative_to(tree) and (
                candidate.exists() or (kind == "module" and candidate.with_suffix(".py").exists())
            )
        if not found:
            yield (
                f"{relative}:{line}: points at `{target}`, which the student tree does not have "
                f"(leave it out, or mark it {STAFF_BEGIN} ... {STAFF_END})"
            )


def _grading_file_problem(path: Path) -> str | None:
    """Why ``GRADING.json`` says more than counts, or None: exactly ``hidden_checks`` (a
    whole number), ``hidden_points`` (a number) and ``kinds`` (check kind -> whole number)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return f"a grading summary that is not JSON ({error})"
    if not isinstance(data, dict) or set(data) != _GRADING_KEYS:
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        return f"a grading summary with other fields than counts: {keys}"
    checks, points, kinds = data["hidden_checks"], data["hidden_points"], data["kinds"]
    counts_ok = (
        _is_count(checks)
        and isinstance(points, int | float)
        and not isinstance(points, bool)
        and isinstance(kinds, dict)
        and all(re.fullmatch(r"[a-z_]{1,20}", k) and _is_count(v) for k, v in kinds.items())
    )
    if not counts_ok:
        return "a grading summary holding more than counts"
    return None


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def grading_summary(hw: str) -> dict[str, Any] | None:
    """What ``<package>/GRADING.json`` holds for homework ``hw``: its hidden suite's counts,
    or None when it has no suite yet."""
    from autograder.checks import summarize_checks  # the engine: not needed to strip files
    from autograder.grade import SuiteError, known_homeworks, load_suite

    if hw.split("_")[0] not in known_homeworks():
        return None
    try:
        _, checks = load_suite(hw)
    except SuiteError as error:
        raise ReleaseError(f"could not count the hidden checks of {hw}: {error}") from error
    return summarize_checks(checks)


# ---------------------------------------------------------------------------------------------
# The student's own README, Makefile and environment.yml
# ---------------------------------------------------------------------------------------------


def torch_pin(root: Path) -> str:
    """The project's torch requirement, ``torch==2.13.0``: the one pin in ``root``'s
    ``pyproject.toml`` that every install route follows.

    Raises:
        ReleaseError: the file has no ``"torch==VERSION"`` dependency, or several.
    """
    pyproject = Path(root) / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8") if pyproject.is_file() else ""
    pins = re.findall(r'"(torch==[^"\s;]+)"', text)
    if len(pins) != 1:
        raise ReleaseError(
            f'expected one "torch==VERSION" dependency in {pyproject}, found {len(pins)}'
        )
    return pins[0]


def fill_template(name: str, values: dict[str, str]) -> str:
    """The template ``autograder/templates/<name>`` with each ``__KEY__`` replaced by
    ``values["KEY"]``.

    Raises:
        ReleaseError: a placeholder of the template that ``values`` does not give.
    """
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace(f"__{key}__", value)
    left = sorted(set(re.findall(r"__([A-Z][A-Z_]*)__", text)))
    if left:
        raise ReleaseError(f"template {name}: expected a value for {', '.join(left)}")
    return text


def _handout_title(handout: str, path: str) -> str:
    first = handout.split("\n", 1)[0]
    if not first.startswith("# "):
        raise ReleaseError(f"{path}:1: expected the handout's title (`# ...`), got {first!r}")
    return first[2:].strip()


def _run_example(handout: str, package: str, path: str) -> str:
    """The handout's first training command: its first ``python -m <package>.run`` line in a
    fenced block, not ``--help`` and not continued on the next line."""
    in_fence = False
    for line in handout.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif (
            in_fence
            and line.startswith(f"python -m {package}.run ")
            and "--help" not in line
            and not line.rstrip().endswith("\\")
        ):
            return line.split("  #")[0].rstrip()
    raise ReleaseError(
        f"{path}: expected a training command (`python -m {package}.run ...`) in a code block "
        f"of the handout, for the student's README"
    )


def _notebooks(hw_dir: Path) -> list[str]:
    """The notebooks the homework ships, relative to the repository (``hw2_.../analysis.ipynb``)."""
    return [
        file.relative_to(hw_dir.parent).as_posix()
        for file in _walk_files(hw_dir)
        if file.suffix == ".ipynb"
    ]


def student_extras(hw_dir: Path) -> list[str]:
    """The extras of ``pyproject.toml`` that a student of ``hw_dir`` installs: the public tests'
    (``check``), and Jupyter (``notebook``) when the homework ships a notebook; never the
    staff's (``dev``, ``release``: nbgrader, ``bench``)."""
    return ["check", "notebook"] if _notebooks(hw_dir) else ["check"]


def _notebook_section(hw_dir: Path) -> str:
    notebooks = _notebooks(hw_dir)
    if not notebooks:
        return ""
    commands = "\n".join(f"jupyter notebook {notebook}" for notebook in notebooks)
    return (
        "\n## Notebook\n\n"
        f"```bash\n{commands}\n```\n\n"
        "opens it in your browser, on this folder's Python (`make` installed Jupyter).\n"
        "The handout says when to run it; its cells say which parts are yours.\n"
    )


def _dependencies_section(
    hw_dir: Path, dependencies: Sequence[Path], given: Collection[Path]
) -> str:
    """The student README's paragraph on the other homeworks ``hw_dir`` imports (empty when it
    imports none): whose code each folder holds, and what to do before running."""
    if not dependencies:
        return ""
    lines = []
    for directory in dependencies:
        package, short = directory.name, directory.name.split("_")[0]
        if directory in given:
            lines.append(
                f"`{hw_dir.name}/` imports `{package}`: its folder here holds the reference "
                f"solution of {short}, given with this release (you may replace it with your own)."
            )
        else:
            lines.append(
                f"`{hw_dir.name}/` imports `{package}`, your own {short}: before running, copy "
                f"your finished `{package}/` folder over the one here "
                f"(`cp -r PATH/TO/YOUR/{package} .`); `{package}/README.md` says more."
            )
    return "\n" + "\n\n".join(textwrap.fill(line, 96) for line in lines) + "\n"


def _student_environment(text: str, extras: Sequence[str], path: str) -> str:
    """The instructor's ``environment.yml`` with the project installed with ``extras``."""
    project = re.compile(r"^(?P<head>[ \t]*-[ \t]+-e[ \t]+\.)\[[^\]\n]*\][ \t]*$", re.MULTILINE)
    if len(project.findall(text)) != 1:
        raise ReleaseError(f"{path}: expected one `- -e .[EXTRAS]` line in its pip list")
    return project.sub(lambda match: f"{match['head']}[{','.join(extras)}]", text)


def placeholder_readme(hw_dir: Path, other_dir: Path, dependency: bool, given: bool) -> str:
    """The ``README.md`` of another homework's folder in ``hw_dir``'s student tree: what the
    folder is for, under that homework's title. A dependency of ``hw_dir`` that is not
    ``given`` is the student's own to bring; a ``given`` one holds the reference's code."""
    readme = other_dir / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    title = text.split("\n", 1)[0] if text.startswith("# ") else f"# {other_dir.name}"
    package, short = other_dir.name, other_dir.name.split("_")[0]
    if given:
        body = (
            f"The reference solution of {short}'s code, given with this release because "
            f"`{hw_dir.name}/` imports `{package}`. Its handout and tests are not here: they "
            f"are {short}'s own. You may replace this folder with your own `{package}/`."
        )
    elif dependency:
        body = (
            f"`{hw_dir.name}/` imports `{package}`, which this release does not include: put "
            f"your own {short} here. From the folder that holds `{hw_dir.name}/`, copy your "
            f"finished `{package}/` folder over this one (`cp -r PATH/TO/YOUR/{package} .`). "
            f"Until then, what needs it stops with a message saying so; the rest works."
        )
    else:
        body = (
            f"Not part of this release: this folder only keeps the project installable. Your "
            f"homework is in `{hw_dir.name}/`."
        )
    return f"{title}\n\n{textwrap.fill(body, 96)}\n"


def write_student_files(root: Path, hw_dir: Path, tree: Path, given: Collection[Path] = ()) -> None:
    """Write the student tree's own ``README.md`` and ``Makefile`` (from
    ``autograder/templates/``, with the homework's names, its handout's title and first
    training command), its ``environment.yml`` (the instructor's, with the student's extras)
    and a short ``README.md`` in each other homework's folder (:func:`placeholder_readme`;
    ``given`` are the dependencies whose code ships).

    Raises:
        ReleaseError: no torch pin in ``pyproject.toml``, a handout without a title or a
            training command, an ``environment.yml`` without its ``-e .[...]`` line.
    """
    short = hw_dir.name.split("_")[0]
    handout_path = f"{hw_dir.name}/README.md"
    handout = (hw_dir / "README.md").read_text(encoding="utf-8")
    extras = student_extras(hw_dir)
    dependencies = homework_dependencies(root, hw_dir)
    values = {
        "TITLE": _handout_title(handout, handout_path),
        "HW": short,
        "PACKAGE": hw_dir.name,
        "EXTRAS": ",".join(extras),
        "TORCH": torch_pin(root),
        "TORCH_INDEX": TORCH_INDEX,
        "RUN_EXAMPLE": _run_example(handout, hw_dir.name, handout_path),
        "NEEDS": ", Jupyter" if "notebook" in extras else "",
        "NOTEBOOKS": _notebook_section(hw_dir),
        "DEPENDENCIES": _dependencies_section(hw_dir, dependencies, given),
    }
    tree.mkdir(parents=True, exist_ok=True)
    (tree / "README.md").write_text(fill_template("student_README.md", values), encoding="utf-8")
    (tree / "Makefile").write_text(fill_template("student_Makefile", values), encoding="utf-8")
    environment = root / "environment.yml"
    if environment.is_file():
        text = _student_environment(
            environment.read_text(encoding="utf-8"), extras, "environment.yml"
        )
        (tree / "environment.yml").write_text(text, encoding="utf-8")
    for directory in sorted(root.iterdir()):
        if directory.is_dir() and _HOMEWORK_DIR.match(directory.name) and directory != hw_dir:
            text = placeholder_readme(
                hw_dir, directory, directory in dependencies, directory in given
            )
            target = tree / directory.name / "README.md"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# The student release
# ---------------------------------------------------------------------------------------------


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


def _build_student_tree(
    root: Path,
    hw_dir: Path,
    tree: Path,
    allow_data: Sequence[str],
    instructor_only: Sequence[str],
    given: Sequence[Path] = (),
) -> None:
    for name in TOP_LEVEL_FILES:
        if (root / name).is_file():
            _copy(root / name, tree / name)
    for name in STUDENT_AUTOGRADER_FILES:
        if (root / name).is_file():
            _copy(root / name, tree / name)
    write_student_files(root, hw_dir, tree, given)
    for directory in sorted(root.iterdir()):
        if directory.is_dir() and _HOMEWORK_DIR.match(directory.name) and directory != hw_dir:
            init = directory / "__init__.py"
            if init.is_file():
                _copy(init, tree / directory.name / init.name)
    for dependency in given:
        for file in given_files(root, dependency):
            _copy(file, tree / file.relative_to(root))
    for source_dir in (root / "infrastructure", hw_dir):
        for file in _walk_files(source_dir):
            relative = PurePosixPath(file.relative_to(root).as_posix())
            if _allowed(relative, instructor_only):
                log.info("left out of the student tree: %s (instructor-only)", relative)
                continue
            reason = forbidden_reason(relative, hw_dir.name, allow_data)
            if reason is not None:
                log.warning("left out of the student tree: %s (%s)", relative, reason)
                continue
            target = tree / relative
            if source_dir == hw_dir and file.suffix == ".py":
                text = file.read_text(encoding="utf-8")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(strip_solutions(text, relative.as_posix()), encoding="utf-8")
                shutil.copymode(file, target)
            elif source_dir == hw_dir and file.suffix == ".ipynb":
                text = file.read_text(encoding="utf-8")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(strip_notebook(text, relative.as_posix()), encoding="utf-8")
            elif source_dir == hw_dir and file.suffix == ".md":
                text = file.read_text(encoding="utf-8")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(strip_staff_sections(text, relative.as_posix()), encoding="utf-8")
            else:
                _copy(file, target)


def release_student(
    hw: str,
    out: Path,
    root: Path = REPO_ROOT,
    *,
    allow_data: Sequence[str] = (),
    give: Sequence[str] = (),
) -> Path:
    """Write the student's starter tree of homework ``hw`` to ``out/<hwN>/student/``.

    The tree holds the homework with its solutions stripped (public tests included),
    ``infrastructure/``, the ``rlhw`` command (the :data:`STUDENT_AUTOGRADER_FILES` only), the
    hidden suite's counts in ``<package>/GRADING.json`` (for ``rlhw check``; only when ``root``
    is this repository, whose suites they are), the other homeworks as placeholders, the
    handout without its staff-only parts (:func:`strip_staff_sections`), ``pyproject.toml``
    and the student's own ``README.md``, ``Makefile`` and ``environment.yml``
    (:func:`write_student_files`). Another homework that this one imports (hw4 imports hw3's
    SAC) is the student's own to bring, unless ``give`` names it: its reference code then
    ships too (:func:`given_files`). It is built in a temporary folder
    next to its destination, checked with :func:`check_no_leaks`, and only then renamed into
    place (replacing an earlier release); a tree that fails is deleted.

    Args:
        hw: ``hw2`` or ``hw2_policy_gradient``.
        out: the release folder (``dist``).
        root: the instructor's repository.
        allow_data: glob patterns, relative to ``root``, of weights or data files
            (``*.pt``, ``*.npz``...) that the homework ships besides those its package
            declares (:func:`release_settings`: ``RELEASE_DATA``; its ``INSTRUCTOR_ONLY``
            files are left out).
        give: homeworks (``hw3``) whose reference code ships with this one, for a term past
            their deadline: each must be one that ``hw`` imports (:func:`given_dependencies`).

    Returns:
        the student tree, ``out/<hwN>/student``.

    Raises:
        ReleaseError: an unknown homework or ``give``, a ``give`` that ``hw`` does not import,
            a suite that does not load, a stale calibration of a learning-curve check (all
            checked first), a reference that cannot be stripped, or a tree that would leak.
    """
    root = Path(root).resolve()
    short, hw_dir = find_homework(root, hw)
    given = given_dependencies(root, hw_dir, give)
    if root == REPO_ROOT:  # this repository's suites, whose calibration the bundle ships
        from autograder.grade import SuiteError, known_homeworks
        from autograder.learning import stale_calibration_message  # imports torch: only here

        if short in known_homeworks():  # a homework without a suite has nothing to calibrate
            try:
                stale = stale_calibration_message(short)
            except SuiteError as error:
                raise ReleaseError(str(error)) from error
            if stale:
                raise ReleaseError(stale)
    parent = Path(out) / short
    parent.mkdir(parents=True, exist_ok=True)
    final = parent / "student"
    tree = Path(tempfile.mkdtemp(prefix=".student-", dir=parent))
    try:
        tree.chmod(0o755)
        settings = release_settings(hw_dir)
        allow_data = [*allow_data, *settings.data]
        _build_student_tree(root, hw_dir, tree, allow_data, settings.instructor_only, given)
        summary = grading_summary(short) if root == REPO_ROOT else None
        if summary is not None:
            grading = tree / hw_dir.name / GRADING_FILE
            grading.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        check_no_leaks(tree, root, short, allow_data=allow_data, give=give)
        if final.exists():
            trash = Path(tempfile.mkdtemp(prefix=".student-old-", dir=parent))
            final.rename(trash / "student")
            tree.rename(final)
            shutil.rmtree(trash)
        else:
            tree.rename(final)
    except BaseException:
        shutil.rmtree(tree, ignore_errors=True)
        raise
    return final

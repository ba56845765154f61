"""Hostile submissions: homework 2 submissions that attack the grader instead of solving the
homework, each graded end to end with :func:`~autograder.grade.grade_submission`.

Every submission is a copy of the reference package made at test time with one sabotage
(:data:`CASES`): a function's body replaced or prefixed, or code added at module level. Each is
graded on three checks of the real hidden suite: ``reward_to_go`` (the function sabotaged),
``normalize`` (same module, untouched) and ``CategoricalPolicy.distribution`` (another module,
untouched). For every case:

* a ``results.json`` is written and valid against ``autograder/results_schema.json``;
* the sabotaged check earns 0 with a plain message ("timed out", "ran out of memory", ...);
* the untouched checks still pass, where the sabotage leaves the module importable;
* the grader is unaffected: its ``numpy.allclose`` and ``torch.Tensor.__eq__`` still work, no
  file appears outside the sandbox's scratch folder (``/tmp``, ``/var/tmp``, ``/dev/shm``, the
  output folder, the repository), the scratch folders are gone, and no process the submission
  started is left running.

A submission that misbehaves without being wrong (printing 100 MB) keeps the check's points
instead. A gap of the sandbox found here is marked ``xfail(strict=True)``, with a reason saying
which, until it is closed (none is open now).

All sandboxes of a test live under one folder whose name holds a random token, so the worker's
command line, and any process it forks, carries the token: that is how leftovers are found
(and, for a test that expects them, killed, by pid).
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import json
import os
import re
import shutil
import signal
import site
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import torch
from conftest import suite_checks, suite_package

from autograder import report
from autograder.checks import Check
from autograder.grade import grade_submission
from autograder.mutants import copy_homework
from autograder.release import strip_solutions
from autograder.sandbox import PROJECT_ROOT, UID_RANGE, Sandbox, Success

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = suite_package("hw2")
NOBODY = 65534
SHARED_TMP = ("/tmp", "/var/tmp", "/dev/shm")
GRADER_ALLCLOSE = np.allclose
GRADER_TENSOR_EQ = torch.Tensor.__eq__


def _check(function: str) -> Check:
    return next(
        c for c in suite_checks("hw2") if c.function == function and c.kind in {"value", "gradient"}
    )


RTG = _check("reward_to_go")
NORMALIZE = _check("normalize")
CATEGORICAL = _check("CategoricalPolicy.distribution")


@dataclass(frozen=True)
class Edit:
    """One change to ``file`` of the package: ``code`` replaces the body of ``function``
    (``replace``), goes before its first statement (``prepend``), or is appended to the module
    (``module``, with ``function`` None). ``{token}``, ``{base}``, ``{out}``, ``{repo}``,
    ``{package}``, ``{suite}``, ``{reference}`` and ``{peer_pid}`` in ``code`` are filled in at
    test time (so a literal brace is doubled)."""

    code: str
    function: str | None = "reward_to_go"
    mode: str = "replace"
    file: str = "pg.py"


@dataclass(frozen=True)
class Case:
    edits: tuple[Edit, ...]
    message: str | None
    """A regular expression the sabotaged check's output must match; None for a submission that
    must still get the check's points (it misbehaves without being wrong)."""
    breaks_import: bool = False
    """``pg.py`` does not import: its checks all fail, the other module's still passes."""
    untouched: tuple[Check, ...] = (NORMALIZE, CATEGORICAL)
    timeout_s: float | None = None
    """A shorter time limit for the sabotaged check (the suite's default is 30 s)."""
    forbidden: tuple[str, ...] = ()
    """Paths (templates, as in :class:`Edit`) the submission tries to write and must not."""
    peer: bool = False
    """Start another submission's sandbox first (the reference plus a file
    ``secret-<token>.txt``), as in a parallel batch; it must be unaffected."""
    marks: tuple[pytest.MarkDecorator, ...] = ()
    student_hides: str | None = None
    """A regular expression the student's view of the sabotaged check must not match: a
    ``property`` suite shows none of the submission's own words, which could carry the hidden
    inputs out."""


def module(code: str) -> Edit:
    return Edit(code, None, "module")


def body(code: str) -> Edit:
    return Edit(code)


def write_to(folders: tuple[str, ...], *, checked: tuple[str, ...]) -> Case:
    """A case whose sabotaged function writes a file into each of ``folders`` (where it can)
    and returns zeros; no such file may be left in the ``checked`` ones."""
    code = f"""\
for folder in {folders!r}:
    try:
        with open(folder + "/rlhw-pwned-{{token}}", "w") as f:
            f.write("pwned")
    except OSError:
        pass
return np.zeros(len(rewards))
"""
    return Case(
        (body(code),), r"differs", forbidden=tuple(f"{f}/rlhw-pwned-{{token}}" for f in checked)
    )


ZEROS = "return np.zeros(len(rewards))\n"
# the worker's system call filter: a sandbox is one process, with threads
NO_PROCESS = r"raised PermissionError in `reward_to_go`: \[Errno 1\] Operation not permitted"

CASES: dict[str, Case] = {
    "syntax_error": Case((module("def broken(:\n    pass\n"),), r"SyntaxError", breaks_import=True),
    "import_error": Case(
        (module("import rlhw_no_such_module_4711\n"),),
        r"could not import `hw2_policy_gradient.pg`.*ModuleNotFoundError.*rlhw_no_such_module",
        breaks_import=True,
    ),
    "infinite_loop": Case(
        (body("while True:\n    pass\n"),), r"timed out in `reward_to_go`", timeout_s=3.0
    ),
    "memory_20_gb": Case(
        (body("hog = np.ones(20 * 2**30 // 8)\nreturn hog[: len(rewards)]\n"),),
        r"ran out of memory \(2048 MiB\) in `reward_to_go`",
    ),
    "sys_exit_in_function": Case(
        (body("import sys\n\nsys.exit(0)\n"),), r"exited with status 0 during `reward_to_go`"
    ),
    "os_exit_in_function": Case(
        (body("import os\n\nos._exit(0)\n"),), r"exited with status 0 during `reward_to_go`"
    ),
    "sys_exit_at_import": Case(
        (module("import sys\n\nsys.exit(0)\n"),),
        r"exited with status 0 during `\w+` while importing `hw2_policy_gradient.pg`",
        breaks_import=True,
    ),
    "os_exit_at_import": Case(
        (module("import os\n\nos._exit(0)\n"),),
        r"exited with status 0 during `\w+`",
        breaks_import=True,
    ),
    # printing is not wrong: the check keeps its points, and the 100 MB go nowhere
    "print_100_mb": Case((Edit('print("x" * 100_000_000)\n', mode="prepend"),), None),
    "write_100_mb_to_fd_1": Case(
        (Edit('import os\n\nos.write(1, b"x" * 100_000_000)\n', mode="prepend"),), None
    ),
    "wrong_shape": Case((body("return np.zeros(len(rewards) + 1)\n"),), r"has shape \(\d+,\)"),
    # the hidden inputs, in the exception's message and its type's name: staff read them, the
    # student does not (the suite's FEEDBACK is "property")
    "leak_the_inputs_in_an_exception": Case(
        (body('raise type("Leaked", (ValueError,), {{}})("LEAKED " + repr(rewards.tolist()))\n'),),
        r"raised Leaked in `reward_to_go`: LEAKED \[",
        student_hides=r"(?i:leaked)|First mismatch:|Hint:",
    ),
    # text that cannot be written as UTF-8 (a lone surrogate) or shown (escape codes, NUL)
    "unwritable_text_in_an_exception": Case(
        (body('raise ValueError("\\ud800 \\x1b[31m \\x00")\n'),),
        r"raised ValueError in `reward_to_go`: \ufffd \ufffd\[31m \ufffd",
    ),
    "wrong_dtype": Case(
        (body("return np.zeros(len(rewards), dtype=np.int64)\n"),),
        r"has dtype int64, expected a floating-point array",
    ),
    "nan": Case((body("return np.full(len(rewards), np.nan)\n"),), r"non-finite values"),
    "list_instead_of_array": Case(
        (body("return [0.0] * len(rewards)\n"),), r"is a list, expected a NumPy array"
    ),
    "eq_override_ndarray_subclass": Case(
        (
            body(
                """\
class AlwaysEqual(np.ndarray):
    def __eq__(self, other):
        return np.ones(self.shape, dtype=bool)

    def __array_ufunc__(self, *args, **kwargs):
        return np.zeros(self.shape)

return np.zeros(len(rewards)).view(AlwaysEqual)
"""
            ),
        ),
        r"unsupported type.*AlwaysEqual",
    ),
    "eq_override_custom_class": Case(
        (
            body(
                """\
class Anything:
    shape = property(lambda self: (len(rewards),))
    dtype = np.dtype("float64")

    def __eq__(self, other):
        return True

    def __array__(self, dtype=None, copy=None):
        return np.zeros(len(rewards))

return Anything()
"""
            ),
        ),
        r"unsupported type.*Anything",
    ),
    # the submission gets the right answers only if it could read the file: 0 points means
    # the read failed, and the -1 it returns then shows in the feedback
    "read_hidden_suite": Case(
        (
            Edit(
                """\
try:
    with open({suite!r}) as f:
        leaked = float(len(f.read()))
except OSError:
    return np.full(len(rewards), -1.0)
""",
                mode="prepend",
            ),
        ),
        r"got +\[-1\.\]",
    ),
    "read_reference": Case(
        (
            Edit(
                """\
import os

try:
    with open({reference!r}) as f:
        leaked = float(len(f.read()))
    os.listdir(os.path.dirname({reference!r}))
except OSError:
    return np.full(len(rewards), -1.0)
""",
                mode="prepend",
            ),
        ),
        r"got +\[-1\.\]",
    ),
    "write_results_json": Case(
        (
            body(
                """\
import json

fake = {{"score": 100.0, "max_score": 100.0, "tests": []}}
for path in ({out!r} + "/results.json", "results.json", {out!r} + "/pwned-{token}"):
    try:
        with open(path, "w") as f:
            json.dump(fake, f)
    except OSError:
        pass
return np.zeros(len(rewards))
"""
            ),
        ),
        r"differs",
        forbidden=("{out}/pwned-{token}",),
    ),
    "write_to_the_grader_tree": Case(
        (
            body(
                """\
for path in ({base!r} + "/pwned-{token}", {repo!r} + "/pwned-{token}", {suite!r} + ".pwned"):
    try:
        with open(path, "w") as f:
            f.write("pwned")
    except OSError:
        pass
return np.zeros(len(rewards))
"""
            ),
        ),
        r"differs",
        forbidden=("{base}/pwned-{token}", "{repo}/pwned-{token}", "{suite}.pwned"),
    ),
    "write_to_shared_tmp": write_to(
        ("/tmp", "/var/tmp", "/dev/shm"), checked=("/tmp", "/var/tmp", "/dev/shm")
    ),
    "garbage_on_the_result_channel": Case(
        (
            body(
                """\
import os

for fd in range(3, 64):
    try:
        os.write(fd, b"RLHW" + b"\\xff" * 64)
    except OSError:
        pass
return np.zeros(len(rewards))
"""
            ),
        ),
        r"wrote garbage to the result channel in `reward_to_go`",
    ),
    # another submission's sandbox, graded at the same time (grade_many with jobs > 1)
    "read_a_peer_submission": Case(
        (
            Edit(
                """\
import glob

found = glob.glob({base!r} + "/tmp/rlhw-sandbox-*/work/{package}/secret-{token}.txt")
found += glob.glob({base!r} + "/tmp/rlhw-sandbox-*/submission/{package}/secret-{token}.txt")
try:
    with open(found[0]) as f:
        leaked = f.read()
except (IndexError, OSError):
    return np.full(len(rewards), -1.0)
""",
                mode="prepend",
            ),
        ),
        r"got +\[-1\.\]",
        peer=True,
    ),
    "kill_a_peer_worker": Case(
        (
            body(
                """\
import os
import signal

try:
    os.kill({peer_pid}, signal.SIGKILL)
except OSError:
    pass
return np.zeros(len(rewards))
"""
            ),
        ),
        r"differs",
        peer=True,
    ),
    "monkeypatch_numpy_and_torch_at_import": Case(
        (
            module(
                """\
import numpy
import numpy.testing
import torch as _torch

numpy.allclose = lambda *args, **kwargs: True
numpy.isfinite = lambda x, *args, **kwargs: numpy.ones(numpy.shape(x), dtype=bool)
numpy.testing.assert_allclose = lambda *args, **kwargs: None
_torch.allclose = lambda *args, **kwargs: True
_torch.Tensor.__eq__ = lambda self, other: True
"""
            ),
            body(ZEROS),
        ),
        r"differs",
        untouched=(),  # the worker's own torch is broken now: other checks may fail too
    ),
    "background_process": Case(
        (
            body(
                """\
import subprocess
import sys

subprocess.Popen([sys.executable, "-c", "import time; time.sleep(90)", "{token}"])
return np.zeros(len(rewards))
"""
            ),
        ),
        NO_PROCESS,
    ),
    "background_process_new_session": Case(
        (
            body(
                """\
import subprocess
import sys

subprocess.Popen(
    [sys.executable, "-c", "import time; time.sleep(90)", "{token}"],
    start_new_session=True,
)
return np.zeros(len(rewards))
"""
            ),
        ),
        NO_PROCESS,
    ),
    "fork_bomb_200": Case(
        (
            body(
                """\
import os
import time

for _ in range(200):
    if os.fork() == 0:
        time.sleep(60)
        os._exit(0)
return np.zeros(len(rewards))
"""
            ),
        ),
        NO_PROCESS,
    ),
    # resources a sandbox could keep after its check
    "write_to_run_lock_and_var_tmp": write_to(
        ("/run/lock", "/var/tmp", "/var/lock"), checked=("/run/lock", "/var/tmp")
    ),
    "fill_the_scratch_folder_with_1_gb": Case(
        (
            body(
                """\
chunk = b"x" * 2**25
for i in range(32):
    with open(f"fill-{{i}}.bin", "wb") as f:
        f.write(chunk)
return np.zeros(len(rewards))
"""
            ),
        ),
        r"raised OSError in `reward_to_go`: \[Errno 28\] No space left on device",
    ),
    "four_children_hold_memory": Case(
        (
            body(
                """\
import os
import time

for _ in range(4):
    if os.fork() == 0:
        held = bytearray(b"x" * 2**30)
        time.sleep(60)
        os._exit(0)
return np.zeros(len(rewards))
"""
            ),
        ),
        NO_PROCESS,
    ),
}


# ------------------------------------------------------------------------------- helpers


def _function_node(tree: ast.Module, name: str) -> ast.FunctionDef:
    scope: list[ast.stmt] = tree.body
    *classes, function = name.split(".")
    for cls in classes:
        scope = next(n for n in scope if isinstance(n, ast.ClassDef) and n.name == cls).body
    return next(n for n in scope if isinstance(n, ast.FunctionDef) and n.name == function)


def apply_edit(source: str, edit: Edit, fill: dict[str, str]) -> str:
    code = edit.code.format(**fill)
    if edit.function is None:
        return source.rstrip("\n") + "\n\n\n" + code
    node = _function_node(ast.parse(source), edit.function)
    statements = node.body
    if isinstance(statements[0], ast.Expr) and isinstance(statements[0].value, ast.Constant):
        statements = statements[1:]  # keep the docstring
    first, last = statements[0], statements[-1]
    indent = " " * first.col_offset
    lines = source.splitlines(keepends=True)
    new = textwrap.indent(code, indent).splitlines(keepends=True)
    if edit.mode == "replace":
        assert last.end_lineno is not None
        lines[first.lineno - 1 : last.end_lineno] = new
    elif edit.mode == "prepend":
        lines[first.lineno - 1 : first.lineno - 1] = new
    else:
        raise ValueError(f"unknown mode {edit.mode!r}")
    return "".join(lines)


def make_submission(case: Case, dest: Path, fill: dict[str, str]) -> Path:
    root = copy_homework(REPO_ROOT, PACKAGE, dest)
    shutil.rmtree(root / PACKAGE / "tests", ignore_errors=True)
    shutil.rmtree(root / PACKAGE / "figures", ignore_errors=True)
    for edit in case.edits:
        path = root / PACKAGE / edit.file
        path.write_text(apply_edit(path.read_text(), edit, fill))
    return root


def processes_with(token: str) -> dict[int, str]:
    """The live (not zombie) processes whose command line holds ``token``, with their user."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            uid = entry.stat().st_uid
        except (OSError, IndexError):
            continue
        if token.encode() in cmdline and state != "Z":
            shown = cmdline.replace(b"\0", b" ")[:200]
            found[int(entry.name)] = f"uid {uid}: {shown!r}"
    return found


def leftovers(token: str, wait_s: float = 5.0) -> dict[int, str]:
    """Processes still carrying ``token`` after up to ``wait_s`` (a SIGKILL takes a moment)."""
    deadline = time.monotonic() + wait_s
    while True:
        found = processes_with(token)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def nobody_files() -> set[str]:
    """Entries of the shared temporary folders owned by a sandbox user (``nobody``, or a uid
    of the range the sandboxes take theirs from)."""
    found = set()
    for folder in SHARED_TMP:
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    uid = entry.stat(follow_symlinks=False).st_uid
                    if uid == NOBODY or uid in UID_RANGE:
                        found.add(entry.path)
    return found


@pytest.fixture
def base(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder for this test's sandboxes and output, reachable by the sandbox user, whose
    name holds a random token; its sandboxes' scratch folders go in ``base/tmp``."""
    token = f"rlhwhostile{uuid.uuid4().hex[:12]}"
    folder = Path(tempfile.gettempdir()) / token
    (folder / "tmp").mkdir(parents=True)
    for path in (folder, folder / "tmp"):
        path.chmod(0o755)
    monkeypatch.setattr(tempfile, "tempdir", str(folder / "tmp"))
    try:
        yield folder
    finally:
        for pid in processes_with(token):  # only what this test's submission started
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)
        for folder_ in (*SHARED_TMP, "/run/lock"):
            Path(folder_, "rlhw-pwned-" + token).unlink(missing_ok=True)
        Path(REPO_ROOT, "pwned-" + token).unlink(missing_ok=True)
        Path(PROJECT_ROOT, "autograder", "suites", "hw2.py.pwned").unlink(missing_ok=True)


# ------------------------------------------------------------------------------- the test


# On the same xdist worker as test_confinement.py's grader run as nobody, never beside it: that
# test's own folders in /tmp belong to nobody, which this test reads as its submission's writes.
@pytest.mark.xdist_group("nobody_tmp")
@pytest.mark.parametrize(
    "name", [pytest.param(name, marks=case.marks) for name, case in CASES.items()]
)
def test_hostile_submission(name: str, base: Path) -> None:
    case = CASES[name]
    token = base.name
    out = base / "out"
    out.mkdir()
    out.chmod(0o755)
    fill = {
        "token": token,
        "base": str(base),
        "out": str(out),
        "repo": str(REPO_ROOT),
        "package": PACKAGE,
        "suite": str(PROJECT_ROOT / "autograder" / "suites" / "hw2.py"),
        "reference": str(PROJECT_ROOT / PACKAGE / "pg.py"),
        "peer_pid": "-1",
    }
    with contextlib.ExitStack() as stack:
        peer = peer_pid = None
        if case.peer:
            peer_root = copy_homework(REPO_ROOT, PACKAGE, Path(tempfile.mkdtemp(dir=base)))
            (peer_root / PACKAGE / f"secret-{token}.txt").write_text("the peer's answers")
            # the peer only answers pings: NumPy is all its worker needs to import
            peer = stack.enter_context(Sandbox(peer_root, preload=("numpy",)))
            hello = peer.ping()
            assert isinstance(hello, Success), hello
            peer_pid = hello.value["pid"]
            fill["peer_pid"] = str(peer_pid)
        # the submission lives outside the sandbox user's reach, as on Gradescope
        submission = make_submission(case, Path(tempfile.mkdtemp(dir=base)), fill)
        sabotaged = RTG
        if case.timeout_s is not None:
            sabotaged = dataclasses.replace(RTG, timeout_s=case.timeout_s)
        checks = [sabotaged, NORMALIZE, CATEGORICAL]
        cwd_before = set(os.listdir())
        shared_before = nobody_files()

        results = grade_submission(submission, "hw2", out, checks=checks, package=PACKAGE)
        shutil.rmtree(submission)

        if peer is not None:  # the other submission's worker lives on, undisturbed
            assert peer_pid is not None
            assert peer_pid in processes_with(token), "the peer's worker was killed"
            again = peer.ping()
            assert isinstance(again, Success) and again.value["pid"] == peer_pid, again

    # valid reports, the grader's own: staff's view (returned) and the student's
    written = json.loads((out / report.STAFF_FILE).read_text(encoding="utf-8"))
    jsonschema.validate(written, report.load_schema())
    assert written == results
    student = json.loads((out / "results.json").read_text(encoding="utf-8"))
    jsonschema.validate(student, report.load_schema())
    assert [t["score"] for t in student["tests"]] == [t["score"] for t in written["tests"]]
    rows = {row["name"]: row for row in written["tests"]}
    assert list(rows) == [c.name for c in checks], written
    assert written["max_score"] == sum(c.points for c in checks)

    # the sabotaged check (and, when pg.py does not import, every check of it) earns 0
    if case.message is None:
        assert rows[RTG.name]["status"] == "passed", rows[RTG.name]["output"]
        assert len(json.dumps(written)) < 100_000  # what was printed did not come back whole
    else:
        assert written["score"] < written["max_score"]
        for check in [RTG, NORMALIZE] if case.breaks_import else [RTG]:
            row = rows[check.name]
            assert row["score"] == 0 and row["status"] == "failed", row
            assert re.search(case.message, row["output"], re.DOTALL), row["output"]
        if case.student_hides is not None:
            seen = {row["name"]: row["output"] for row in student["tests"]}[RTG.name]
            assert not re.search(case.student_hides, seen), seen
    untouched = [CATEGORICAL] if case.breaks_import else list(case.untouched)
    for check in untouched:
        assert rows[check.name]["status"] == "passed", rows[check.name]["output"]

    # the grader is unaffected
    assert np.allclose is GRADER_ALLCLOSE and not np.allclose(0.0, 1.0)
    assert torch.Tensor.__eq__ is GRADER_TENSOR_EQ
    assert not bool(torch.tensor(1.0) == torch.tensor(2.0))
    assert set(os.listdir()) == cwd_before
    assert sorted(p.name for p in out.iterdir()) == ["results.json", report.STAFF_FILE]
    assert list((base / "tmp").iterdir()) == []  # every scratch folder was deleted
    forbidden = {t.format(**fill) for t in case.forbidden}
    written_outside = sorted({p for p in forbidden if os.path.lexists(p)} | nobody_files())
    written_outside = [p for p in written_outside if p not in shared_before]
    assert not written_outside, f"the submission wrote {written_outside}"
    left = leftovers(token)
    assert not left, f"processes left running: {left}"


def test_a_starter_without_init_py_does_not_import_an_installed_reference(
    base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a non-editable install: the reference package sits in a site-packages folder the worker
    # gets on its path (the grader's tree, hidden from the worker, stays out of it)
    installed = base / "site-packages"
    copy_homework(REPO_ROOT, PACKAGE, installed)
    real = site.getsitepackages
    monkeypatch.setattr(site, "getsitepackages", lambda: [*real(), str(installed)])
    # the bare starter, handed in without its __init__.py
    submission = copy_homework(REPO_ROOT, PACKAGE, Path(tempfile.mkdtemp(dir=base)))
    for name in ("pg.py", "policies.py"):
        path = submission / PACKAGE / name
        path.write_text(strip_solutions(path.read_text(), f"{PACKAGE}/{name}"))
    (submission / PACKAGE / "__init__.py").unlink()
    out = base / "out"

    results = grade_submission(submission, "hw2", out, checks=[RTG], package=PACKAGE)

    jsonschema.validate(results, report.load_schema())
    row = results["tests"][0]
    assert row["score"] == 0, "the starter got the points of the installed reference"
    assert "NotImplementedError" in row["output"], row["output"]

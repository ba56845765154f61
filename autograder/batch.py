"""Grade a batch of submissions, on this machine or on a Ray cluster, so that a batch stopped
at any point can be taken up again with nothing lost or doubled.

::

    batch = grade_batch(paths, "hw2", Path("grading"), Backend("local", jobs=2), fast=True)
    batch.graded  # {name: staff's results}: every submission graded, now or by an earlier run
    batch.failed  # {name: why}: the machine broke their grading twice; not graded, not zero
    grade_batch(paths, "hw2", Path("grading"), Backend("ray", address="head:6379"))

Each submission is one task that runs :func:`~autograder.grade.grade_submission`, the sandboxed
grading of a single submission, in a grader process: one of ``jobs`` processes of the local
pool, each reused across submissions, or a Ray worker anywhere on the cluster
(:mod:`autograder.cluster`), which gets the submission's bytes rather than its path, since its
node need not share this machine's files. Either way the task returns the two reports and only
this process writes into the output folder. What a batch promises:

* **Resumable.** A submission whose ``results.json`` and ``staff.json`` are complete (the same
  grading in both, made under the suite's digest (:func:`~autograder.grade.suite_digest`) with
  the same seed and the same checks, and no grader error) is kept, not graded again
  (:func:`finished`); ``regrade`` grades everything again.
* **Nothing half-written.** Each report is written atomically, and ``grades.csv`` is written
  again, atomically, after every submission: each submission once, graded or not (an empty
  score saying why: not graded yet, or a machine failure). Whatever stops the batch (Ctrl-C, a
  killed process, a lost node), the folder holds complete reports and a gradebook of them.
* **Machine failures are not zeros.** A task whose process dies (a grader process killed, a
  Ray node lost) runs once more; one that dies twice is a machine failure, shown as such in
  ``grades.csv``, with no report written. A task that raises (a bug in the engine) gets the
  reports of a grader error, as a single grading would.
* **One batch per folder.** A lock on ``OUT/.rlhw-batch.lock`` (``flock``: the kernel lets go
  of it when its process dies) turns a second batch into the same folder away, naming the
  first.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import logging
import multiprocessing
import os
import socket
import tarfile
import tempfile
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Literal, TextIO

from tqdm.auto import tqdm

from autograder import report
from autograder.checks import fast_checks
from autograder.grade import (
    SUITE_DIGEST_KEY,
    _engine_error,
    _views,
    grade_submission,
    load_suite,
    submission_names,
    suite_digest,
)

log = logging.getLogger(__name__)

ATTEMPTS = 2
"""Times a task is run before the deaths of its process make it a machine failure."""
LOCK_FILE = ".rlhw-batch.lock"
NOT_YET = "not graded yet"
_STOP_S = 10.0  # how long the local pool's processes get to finish before they are killed

BackendKind = Literal["local", "ray"]


class BatchError(Exception):
    """A batch that cannot start: its folder is taken by another batch, Ray is missing, the
    cluster cannot be reached or cannot grade. The message says what to do."""


@dataclass(frozen=True)
class Backend:
    """Where a batch's tasks run: ``local``, a pool of ``jobs`` grader processes on this
    machine; ``ray``, one Ray task per submission on the cluster at ``address`` (``None``: the
    one ``RAY_ADDRESS`` names, or else a cluster of this machine's cores started for the
    batch)."""

    kind: BackendKind = "local"
    jobs: int = 1
    address: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("local", "ray"):
            raise ValueError(f"expected a backend 'local' or 'ray', got {self.kind!r}")
        if self.jobs < 1:
            raise ValueError(f"expected jobs >= 1, got {self.jobs}")
        if self.address is not None and self.kind != "ray":
            raise ValueError(f"expected an address with the 'ray' backend only, got {self.kind!r}")


# ------------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class Done:
    """A task that returned ``value``."""

    value: Any


@dataclass(frozen=True)
class Broken:
    """A task that did not return: ``machine`` when its process died every time it ran (the
    machine's fault), else it raised (the engine's), and ``why`` says how."""

    why: str
    machine: bool


Ended = Done | Broken


def run_tasks(
    fn: Callable[..., Any],
    calls: Sequence[tuple[Any, ...]],
    backend: Backend,
    *,
    hw: str,
    suite: str | None = None,
    confined: bool = True,
) -> Iterator[tuple[int, Ended]]:
    """Run ``fn(*call)`` for each of ``calls`` on ``backend``; yield ``(index, how it ended)``
    as each ends, each index once. ``fn`` is a module-level function of the project (a Ray
    worker imports it from its own copy, which must grade homework ``hw`` as this one does,
    and confine submissions when ``confined``: :func:`autograder.cluster.connect` checks it
    before any task starts)."""
    if backend.kind == "ray":
        from autograder import cluster

        yield from cluster.run_tasks(
            fn, calls, backend.address, hw=hw, suite=suite, confined=confined
        )
    else:
        yield from _run_local(fn, calls, backend.jobs)


@dataclass
class _Slot:
    """One grader process of the local pool and the task it runs (``None``: idle)."""

    process: multiprocessing.process.BaseProcess
    conn: Connection
    task: int | None = None


def _serve(conn: Connection) -> None:
    """A grader process of the local pool: runs the tasks it is sent, one at a time, until it
    is sent ``None`` or its pipe closes."""
    with contextlib.suppress(EOFError, OSError, KeyboardInterrupt):
        while (task := conn.recv()) is not None:
            fn, args = task
            try:
                answer: tuple[bool, Any] = (True, fn(*args))
            except Exception as error:
                answer = (False, f"{type(error).__name__}: {error}\n{traceback.format_exc()}")
            try:
                conn.send(answer)
            except (TypeError, ValueError, AttributeError) as error:  # could not be pickled
                conn.send((False, f"its result could not be sent back: {error!r}"))


def _start(context: multiprocessing.context.SpawnContext) -> _Slot:
    ours, theirs = context.Pipe()
    process = context.Process(target=_serve, args=(theirs,), name="rlhw grader")
    process.start()
    theirs.close()
    return _Slot(process, ours)


def _death(process: multiprocessing.process.BaseProcess) -> str:
    process.join(timeout=1.0)
    code = process.exitcode
    if code is not None and code < 0:
        import signal

        return f"its grader process was killed ({signal.Signals(-code).name})"
    return f"its grader process died (exit code {code})"


def _run_local(
    fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]], jobs: int
) -> Iterator[tuple[int, Ended]]:
    """:func:`run_tasks` on ``jobs`` grader processes of this machine, each reused across
    tasks (spawned: a fresh interpreter, not a fork of a grader that may hold torch threads).
    A process that dies is replaced, and only the task it was running is charged for it."""
    context = multiprocessing.get_context("spawn")
    queue = deque(range(len(calls)))
    attempts = [0] * len(calls)
    slots = [_start(context) for _ in range(min(jobs, len(calls)))]
    try:
        while queue or any(slot.task is not None for slot in slots):
            for k, slot in enumerate(slots):
                if slot.task is None and queue:
                    index = queue.popleft()
                    try:
                        slot.conn.send((fn, calls[index]))
                    except OSError:  # it died while idle: a fresh one takes the task next
                        queue.appendleft(index)
                        slot.conn.close()
                        slots[k] = _start(context)
                        continue
                    attempts[index] += 1
                    slot.task = index
            busy = [slot for slot in slots if slot.task is not None]
            wait([s.conn for s in busy] + [s.process.sentinel for s in busy])
            for k, slot in enumerate(slots):
                if slot.task is None:
                    continue
                index = slot.task
                answer: tuple[bool, Any] | None = None
                try:
                    if slot.conn.poll():
                        answer = slot.conn.recv()
                    elif slot.process.is_alive():
                        continue
                except (EOFError, OSError):
                    answer = None
                if answer is not None:
                    slot.task = None
                    ok, value = answer
                    yield index, Done(value) if ok else Broken(str(value), machine=False)
                    continue
                why = _death(slot.process)
                log.warning("task %d: %s (attempt %d of %d)", index, why, attempts[index], ATTEMPTS)
                slot.conn.close()
                slots[k] = _start(context)
                if attempts[index] < ATTEMPTS:
                    queue.appendleft(index)
                else:
                    yield index, Broken(f"{why}, on each of its {ATTEMPTS} attempts", True)
    finally:
        _stop(slots)


def _stop(slots: Sequence[_Slot]) -> None:
    """End the pool's processes: idle ones are asked to, busy ones (a batch stopped halfway)
    get :data:`_STOP_S` together, then are killed."""
    for slot in slots:
        with contextlib.suppress(OSError, ValueError):
            slot.conn.send(None)
    deadline = time.monotonic() + _STOP_S
    for slot in slots:
        slot.process.join(timeout=max(0.0, deadline - time.monotonic()))
        if slot.process.is_alive():
            slot.process.terminate()
            slot.process.join(timeout=5.0)
        if slot.process.is_alive():
            slot.process.kill()
            slot.process.join()
        slot.conn.close()


# ------------------------------------------------------------------------------- submissions


@dataclass(frozen=True)
class Packed:
    """A submission carried to another machine: a ``.zip`` as it is, or a folder as a tar of
    everything in it (links kept as links, as grading a folder sees them) but the caches that
    grading leaves out (``__pycache__``, ``.git``, ``*.pyc``); ``name`` is the file's or
    folder's own name, which grading's messages and package search use."""

    name: str
    kind: Literal["zip", "folder"]
    data: bytes = field(repr=False)


_LEFT_OUT = frozenset({"__pycache__", ".git"})


def pack_submission(path: Path) -> Packed:
    """``path`` (a folder or a ``.zip``) as :class:`Packed` bytes."""
    path = Path(path)
    if path.is_file():
        return Packed(path.name, "zip", path.read_bytes())

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        name = Path(info.name).name
        return None if name in _LEFT_OUT or name.endswith(".pyc") else info

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(path, arcname=path.name, filter=keep)
    return Packed(path.name, "folder", buffer.getvalue())


def unpack_submission(packed: Packed, folder: Path) -> Path:
    """Write ``packed`` into ``folder`` under its own name; the path to grade."""
    folder.mkdir(parents=True, exist_ok=True)
    if packed.kind == "zip":
        target = folder / packed.name
        target.write_bytes(packed.data)
        return target
    with tarfile.open(fileobj=io.BytesIO(packed.data)) as tar:
        tar.extractall(folder, filter="tar")  # no path out of folder; links kept as they were
    return folder / packed.name


def grade_task(
    source: Path | Packed,
    hw: str,
    seed: int,
    suite: str | None,
    sandbox_options: Mapping[str, Any] | None,
    fast: bool,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Grade one submission in this process, into a scratch folder: ``(results.json,
    staff.json)``, for the batch to write. What one task of a batch runs, locally or on Ray."""
    with tempfile.TemporaryDirectory(prefix="rlhw-batch-") as scratch:
        path = source if isinstance(source, Path) else unpack_submission(source, Path(scratch))
        out = Path(scratch) / "reports"
        staff = grade_submission(
            path, hw, out, seed, suite=suite, sandbox_options=sandbox_options, fast=fast
        )
        student = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return student, staff


# ------------------------------------------------------------------------------- the batch


@dataclass(frozen=True)
class BatchReport:
    """What a batch left in its folder."""

    names: list[str]
    """Every submission's folder name, in the order given."""
    graded: dict[str, dict[str, Any]]
    """Staff's results of each submission graded, now or kept from before, in that order."""
    failed: dict[str, str]
    """Why each machine failure was not graded."""
    kept: list[str]
    """The submissions whose results were kept from an earlier run (:func:`finished`)."""
    seconds: float


def finished(
    folder: Path, digest: str, seed: int, left_out: Sequence[str]
) -> dict[str, Any] | None:
    """Staff's results in ``folder`` when its grading is complete and still stands: both
    reports there and of one grading (same score, same checks), made under ``digest`` with
    ``seed`` and with the checks ``left_out`` left out, and without a grader error (those are
    to be graded again). ``None`` otherwise."""
    try:
        student = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        staff = json.loads((folder / report.STAFF_FILE).read_text(encoding="utf-8"))
        views = (student["extra_data"], staff["extra_data"])
        for extra in views:
            if extra.get(SUITE_DIGEST_KEY) != digest or extra.get("seed") != seed:
                return None
            if (extra.get("left_out") or {}).get("checks", []) != list(left_out):
                return None
        if student["score"] != staff["score"] or staff["extra_data"].get("grader_errors"):
            return None
        if [t["name"] for t in student["tests"]] != [t["name"] for t in staff["tests"]]:
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return dict(staff)


@contextlib.contextmanager
def batch_lock(out_dir: Path) -> Iterator[None]:
    """Hold ``out_dir/.rlhw-batch.lock`` for a batch; :class:`BatchError` naming the holder
    when another batch has it. (``flock``: on a network file system, take one folder per
    machine.)"""
    out_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(out_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 300, 0).decode("utf-8", "replace").strip() or "unknown"
            raise BatchError(
                f"another batch is grading into {out_dir}/ ({holder}); wait for it to end or "
                "grade into another --out (a batch stopped halfway is resumed by running it "
                "again)"
            ) from None
        since = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        holder = f"process {os.getpid()} on {socket.gethostname()}, since {since}"
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.encode(), 0)
        yield
    finally:
        os.close(fd)  # lets go of the lock


class _Progress:
    """The batch's progress bar (tqdm, on stderr when it is a terminal): submissions done,
    failed and left, and the time left."""

    def __init__(self, hw: str, total: int, enabled: bool, file: TextIO | None = None):
        self.done = self.failed = 0
        self.total = total
        self.bar = tqdm(
            total=total,
            desc=f"grading {hw}",
            unit="submission",
            file=file,
            # on a terminal only, unless a file is given
            disable=True if not enabled else (False if file is not None else None),
            dynamic_ncols=True,
            bar_format="{desc}: {bar} {n_fmt}/{total_fmt}{postfix} [{elapsed}, {remaining} left]",
        )
        self._show()
        self.bar.refresh()

    def _show(self) -> None:
        left = self.total - self.done - self.failed
        counts = f"done {self.done}, failed {self.failed}, left {left}"
        self.bar.set_postfix_str(counts, refresh=False)  # tqdm writes it after ", "

    def update(self, failed: bool) -> None:
        if failed:
            self.failed += 1
        else:
            self.done += 1
        self._show()
        self.bar.update(1)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def grade_batch(
    submissions: Sequence[Path],
    hw: str,
    out_dir: Path,
    backend: Backend | None = None,
    seed: int = 0,
    *,
    suite: str | None = None,
    sandbox_options: Mapping[str, Any] | None = None,
    fast: bool = False,
    regrade: bool = False,
    progress: bool = True,
) -> BatchReport:
    """Grade each submission into ``out_dir/<name>/`` (:func:`~autograder.grade.submission_names`)
    on ``backend`` (default: one local grader process), keeping those :func:`finished` before
    unless ``regrade``, and keep ``out_dir/grades.csv`` up to date as they end. ``progress``
    shows a progress bar on a terminal.

    Raises:
        BatchError: ``out_dir`` is taken by another batch, or the backend cannot grade.
        SuiteError: an unknown homework.
    """
    started = time.monotonic()
    backend = backend or Backend()
    _, checks = load_suite(hw, suite)  # an unknown homework stops here, before any file
    graded_checks = fast_checks(checks) if fast else list(checks)
    left_out = [check for check in checks if check not in graded_checks]
    check_names = [check.name for check in graded_checks]
    max_score = sum(check.points for check in graded_checks)
    digest = suite_digest(hw, suite)
    names = submission_names(submissions)
    out_dir = Path(out_dir)
    options = dict(sandbox_options or {})
    confined = options.get("confine") is not False  # not --unconfined
    rows: dict[str, dict[str, Any] | report.Ungraded] = dict.fromkeys(
        names, report.Ungraded(NOT_YET)
    )
    failed: dict[str, str] = {}
    kept: list[str] = []

    def write(name: str, student: Mapping[str, Any], staff: Mapping[str, Any]) -> dict[str, Any]:
        report.write_json_atomic(out_dir / name / "results.json", student)
        return report.write_json_atomic(out_dir / name / report.STAFF_FILE, staff)

    def gradebook() -> None:
        report.write_grades_csv(out_dir / "grades.csv", rows, check_names)

    with contextlib.ExitStack() as stack:
        if backend.kind == "ray":  # a cluster that cannot grade stops the batch here
            from autograder import cluster

            stack.enter_context(
                cluster.session(backend.address, hw=hw, suite=suite, confined=confined)
            )
        stack.enter_context(batch_lock(out_dir))
        if not regrade:
            for name in names:
                staff = finished(out_dir / name, digest, seed, [c.name for c in left_out])
                if staff is not None:
                    rows[name] = staff
                    kept.append(name)
        todo = [k for k, name in enumerate(names) if name not in kept]
        gradebook()
        paths = [Path(submissions[k]) for k in todo]
        # a Ray node need not share this machine's files: it gets the submission's bytes
        sources = paths if backend.kind == "local" else [pack_submission(p) for p in paths]
        calls = [(source, hw, seed, suite, options, fast) for source in sources]
        bar = _Progress(hw, len(todo), progress)
        try:
            ended_tasks = run_tasks(
                grade_task, calls, backend, hw=hw, suite=suite, confined=confined
            )
            for k, ended in ended_tasks:
                name = names[todo[k]]
                if isinstance(ended, Done):
                    rows[name] = write(name, *ended.value)
                elif ended.machine:
                    failed[name] = ended.why
                    rows[name] = report.Ungraded(f"machine failure: {ended.why}; grade it again")
                else:  # the engine broke: a grader error, as a single grading reports one
                    log.error("grading %s failed: %s", name, ended.why)
                    make = _engine_error(
                        RuntimeError(ended.why), max_score, hw=hw, seed=seed, left_out=left_out
                    )
                    rows[name] = write(name, *_views(make, 0.0))
                bar.update(failed=not isinstance(ended, Done))
                gradebook()
        finally:
            bar.close()
            gradebook()
    graded = {name: row for name, row in rows.items() if not isinstance(row, report.Ungraded)}
    return BatchReport(names, graded, failed, kept, time.monotonic() - started)

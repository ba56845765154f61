"""The grading engine: find the student's package in a submission, run a homework's checks on
it in a sandbox, and write the reports.

::

    results = grade_submission(Path("submissions/alice.zip"), "hw2", Path("grading/alice"))
    results["score"], results["max_score"]  # also in grading/alice/results.json

    grade_many(paths, "hw2", Path("grading"), jobs=4)  # grading/<name>/results.json, grades.csv

A homework's checks are its hidden suite, ``autograder/suites/hwN.py`` (``PACKAGE`` and
``SUITE``; see :func:`load_suite`). Each check runs in the grader process with a generator
seeded by the grading seed and the check's name, against one :class:`~autograder.sandbox.Sandbox`
per submission, so the same submission graded twice with the same seed gets the same
``results.json`` (timing fields aside).

Nothing a submission does gets out of the engine as an exception: a missing package, an unsafe
zip, code that hangs or exits, even a check that breaks, all end as failed rows of a valid
``results.json`` with a plain message.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import importlib.util
import logging
import multiprocessing
import pkgutil
import re
import shutil
import stat
import tempfile
import threading
import time
import traceback
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any

import numpy as np

from autograder import report
from autograder.checks import Check, CheckResult, Outcome, Status, fast_checks
from autograder.sandbox import PROJECT_ROOT, Failure, Result, Sandbox

log = logging.getLogger(__name__)

MAX_ZIP_FILES = 2000
MAX_ZIP_BYTES = 200 * 2**20
WATCHDOG_GRACE_S = 120.0
"""How long past its own time limit a check may run in the grader before the engine gives up
on it (a bug in the check, not in the submission: the student's calls are capped anyway)."""
_START_TIMEOUT_S = 120.0  # a worker importing torch on a loaded machine
_IGNORED_ENTRIES = frozenset({"__MACOSX", ".DS_Store", "Thumbs.db", "__pycache__"})
_COPY_IGNORE = shutil.ignore_patterns("__pycache__", ".git", "*.pyc")
_HW_NAME = re.compile(r"^(hw\d+)(_\w+)?$")


class SuiteError(Exception):
    """A homework or suite that cannot be loaded: a usage error, not the submission's fault."""


class SubmissionError(Exception):
    """A submission that cannot be graded as handed in; the message is for the student."""


# ------------------------------------------------------------------------------- suites


def known_homeworks() -> list[str]:
    """The homeworks with a hidden suite (``autograder/suites/hwN.py``), e.g. ``["hw2"]``."""
    suites = PROJECT_ROOT / "autograder" / "suites"
    names = [m.name for m in pkgutil.iter_modules([str(suites)]) if re.fullmatch(r"hw\d+", m.name)]
    return sorted(names, key=lambda n: int(n[2:]))


def load_suite(hw: str, spec: str | None = None) -> tuple[str, list[Check]]:
    """The package name and checks of homework ``hw`` (``hw2`` or ``hw2_policy_gradient``).

    ``spec`` (for the engine's own tests only) loads another suite module instead: a dotted
    module name or a ``.py`` file path, holding ``PACKAGE`` and ``SUITE`` like a real suite.
    """
    return _suite_of(_suite_module(hw, spec))


def suite_sandbox_options(hw: str, spec: str | None = None) -> dict[str, Any]:
    """Options of the sandboxes a homework's suite grades in (its optional ``SANDBOX``, e.g.
    ``given``: the grader's own data copied over the submission's); ``{}`` when none."""
    options = getattr(_suite_module(hw, spec), "SANDBOX", None) or {}
    if not isinstance(options, Mapping):
        raise SuiteError(f"expected the suite's SANDBOX to be a dict of options, got {options!r}")
    return dict(options)


def _suite_module(hw: str, spec: str | None) -> ModuleType:
    if spec is not None:
        module = _import_spec(spec)
    else:
        match = _HW_NAME.match(hw)
        known = known_homeworks()
        if match is None or match.group(1) not in known:
            expected = ", ".join(known) if known else "(none yet)"
            raise SuiteError(f"unknown homework {hw!r}; expected one of {expected}")
        try:
            module = importlib.import_module(f"autograder.suites.{match.group(1)}")
        except Exception as error:
            raise SuiteError(f"could not load the suite of {hw}: {error!r}") from error
    return module


def _import_spec(spec: str) -> ModuleType:
    try:
        if spec.endswith(".py"):
            path = Path(spec).resolve()
            name = f"_rlhw_suite_{zlib.crc32(str(path).encode()):08x}"
            loader_spec = importlib.util.spec_from_file_location(name, path)
            if loader_spec is None or loader_spec.loader is None:
                raise SuiteError(f"could not load the suite file {spec!r}")
            module = importlib.util.module_from_spec(loader_spec)
            loader_spec.loader.exec_module(module)
            return module
        return importlib.import_module(spec)
    except SuiteError:
        raise
    except Exception as error:
        raise SuiteError(f"could not load the suite {spec!r}: {error!r}") from error


def _suite_of(module: ModuleType) -> tuple[str, list[Check]]:
    package = getattr(module, "PACKAGE", None)
    checks = getattr(module, "SUITE", None)
    if not isinstance(package, str) or not package.isidentifier():
        raise SuiteError(
            f"expected {module.__name__}.PACKAGE to be a package name, got {package!r}"
        )
    if checks is None or not all(isinstance(c, Check) for c in checks):
        raise SuiteError(f"expected {module.__name__}.SUITE to be a list of Check")
    checks = list(checks)
    names = [c.name for c in checks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SuiteError(f"expected unique check names in {module.__name__}, got {duplicates}")
    return package, checks


def stable_hash(text: str) -> int:
    """A hash of ``text`` that is the same in every process (unlike ``hash``)."""
    return zlib.crc32(text.encode("utf-8"))


# ------------------------------------------------------------------------------- submissions


def expected_files(package: str) -> list[str]:
    """The files a student must hand in: the reference package's modules that hold solution
    regions (``pg.py`` for hw2); empty when the reference is not in this tree."""
    reference = PROJECT_ROOT / package
    if not reference.is_dir():
        return []
    found = []
    for path in sorted(reference.glob("*.py")):
        try:
            if "BEGIN SOLUTION" in path.read_text(encoding="utf-8"):
                found.append(path.name)
        except (OSError, UnicodeDecodeError):
            continue
    return found


def find_package(
    submission: Path,
    package: str,
    *,
    scratch: Path | None = None,
    expected: Sequence[str] = (),
) -> Path:
    """A folder holding a copy of the submission's ``<package>/`` and nothing else: the root
    the sandbox copies.

    A submission is a folder or a ``.zip`` holding the whole student tree, the package folder
    alone, or one top folder holding either. Zips are extracted (safely) under ``scratch``,
    and the package is copied to ``scratch/package-root/<package>/`` (``scratch`` defaults to
    a new temporary folder that the caller deletes). ``expected`` names files the package must have
    (:func:`expected_files`). Raises :class:`SubmissionError` saying what was expected.
    """
    submission = Path(submission)
    if scratch is None:
        scratch = Path(tempfile.mkdtemp(prefix="rlhw-submission-"))
    if submission.is_file() and submission.suffix.lower() == ".zip":
        folder = scratch / "unzipped"
        extract_zip(submission, folder)
    elif submission.is_dir():
        folder = submission
    elif not submission.exists():
        raise SubmissionError(f"no such file or folder: {str(submission)!r}")
    else:
        raise SubmissionError(f"expected a folder or a .zip file, got {submission.name!r}")

    candidates = [folder]
    top = _single_top_folder(folder)
    if top is not None:
        candidates.append(top)
    found = _package_folder(candidates, package, expected)
    if found is None:
        raise SubmissionError(_not_found_message(folder, top, package, expected))
    # only the package goes to the sandbox: not a student's virtualenv or training runs
    root = scratch / "package-root"
    shutil.copytree(found, root / package, symlinks=True, ignore=_COPY_IGNORE)
    # without it the folder is only a namespace portion, and a regular package of the same
    # name later on the worker's path (the reference, installed in site-packages) would win
    init = root / package / "__init__.py"
    if not init.exists() and not init.is_symlink():
        init.write_text("")
    return root


def extract_zip(archive: Path, target: Path) -> None:
    """Extract ``archive`` into ``target``, refusing anything unsafe: absolute paths, ``..``,
    symbolic links, more than :data:`MAX_ZIP_FILES` entries or :data:`MAX_ZIP_BYTES` bytes."""
    name = archive.name
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_ZIP_FILES:
                raise SubmissionError(
                    f"refused {name}: {len(infos)} entries, more than the {MAX_ZIP_FILES} allowed"
                )
            total = sum(info.file_size for info in infos)
            if total > MAX_ZIP_BYTES:
                raise SubmissionError(
                    f"refused {name}: {total / 2**20:.0f} MiB uncompressed, more than the "
                    f"{MAX_ZIP_BYTES // 2**20} MiB allowed"
                )
            plan = [(info, _safe_parts(name, info)) for info in infos]
            target.mkdir(parents=True, exist_ok=True)
            written = 0
            for info, parts in plan:
                if not parts:
                    continue
                path = target.joinpath(*parts)
                if info.is_dir():
                    path.mkdir(parents=True, exist_ok=True)
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as source, open(path, "wb") as out:
                    while chunk := source.read(2**20):
                        written += len(chunk)
                        if written > MAX_ZIP_BYTES:  # sizes in the header can lie
                            raise SubmissionError(
                                f"refused {name}: more than {MAX_ZIP_BYTES // 2**20} MiB "
                                "uncompressed"
                            )
                        out.write(chunk)
    except SubmissionError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError) as error:
        # RuntimeError: an encrypted entry
        raise SubmissionError(f"could not read the zip file {name} ({error})") from error


def _safe_parts(archive: str, info: zipfile.ZipInfo) -> tuple[str, ...]:
    entry = info.filename
    normalised = entry.replace("\\", "/")
    if normalised.startswith("/") or re.match(r"^[A-Za-z]:", normalised):
        raise SubmissionError(f"refused {archive}: the entry {entry!r} is an absolute path")
    parts = tuple(p for p in PurePosixPath(normalised).parts if p not in ("", "."))
    if ".." in parts:
        raise SubmissionError(f"refused {archive}: the entry {entry!r} points outside the zip")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise SubmissionError(f"refused {archive}: the entry {entry!r} is a symbolic link")
    return parts


def _entries(folder: Path) -> list[Path]:
    try:
        children = sorted(folder.iterdir())
    except OSError:
        return []
    return [c for c in children if c.name not in _IGNORED_ENTRIES and not c.name.startswith(".")]


def _single_top_folder(folder: Path) -> Path | None:
    entries = _entries(folder)
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return None


def _package_folder(candidates: list[Path], package: str, expected: Sequence[str]) -> Path | None:
    for candidate in candidates:  # a tree holding the package
        inside = candidate / package
        if inside.is_dir() and not inside.is_symlink():
            return inside
    for candidate in candidates:  # the package's own files
        if _is_package_contents(candidate, package, expected):
            return candidate
    return None


def _is_package_contents(folder: Path, package: str, expected: Sequence[str]) -> bool:
    if not (folder / "__init__.py").is_file():
        return False
    if folder.name == package:
        return True
    return all((folder / name).is_file() for name in expected)


def _listing(folder: Path, limit: int = 12) -> str:
    names = [e.name + ("/" if e.is_dir() else "") for e in _entries(folder)]
    if not names:
        return "nothing"
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def _not_found_message(
    folder: Path, top: Path | None, package: str, expected: Sequence[str]
) -> str:
    want = f"a folder {package}/" + (f" with {', '.join(expected)}" if expected else "")
    found = _listing(folder)
    if top is not None:
        found += f" (in {top.name}/: {_listing(top)})"
    return f"expected {want}; found: {found}"


# ------------------------------------------------------------------------------- grading


class _GradingSandbox(Sandbox):
    """A :class:`Sandbox` whose calls, during a check, share that check's time limit.

    The start-up of a fresh worker is not charged to the check: the deadline moves by it.
    """

    deadline: float | None = None
    limit_s: float = 0.0

    def begin_check(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.deadline = time.monotonic() + limit_s

    def end_check(self) -> None:
        self.deadline = None

    def request(
        self,
        message: dict[str, Any],
        *,
        label: str,
        timeout_s: float | None = None,
        seed: int | None = None,
    ) -> Result:
        deadline = self.deadline
        if deadline is None:
            return super().request(message, label=label, timeout_s=timeout_s, seed=seed)
        asked = self.timeout_s if timeout_s is None else timeout_s
        started = time.monotonic()
        remaining = deadline - started
        if remaining <= 0:
            return Failure(
                "timeout", f"timed out in `{label}`: the check's {self.limit_s:g} s ran out"
            )
        timeout = min(asked, remaining)
        starts = self.starts
        result = super().request(message, label=label, timeout_s=timeout, seed=seed)
        if self.starts != starts and self.deadline is not None:
            # a fresh worker's start-up (importing torch) is not the student's time
            self.deadline += max(0.0, time.monotonic() - started - result.seconds)
        if isinstance(result, Failure) and result.kind == "timeout" and timeout < asked:
            return Failure(
                "timeout",
                f"timed out in `{label}`: the check's {self.limit_s:g} s ran out",
                output=result.output,
                seconds=result.seconds,
            )
        return result


def _internal_error(check: Check, what: str) -> Outcome:
    return Outcome(0.0, f"internal grader error in check {check.name!r}: {what}")


def _run_check(
    check: Check, sandbox: _GradingSandbox, seed: int, grace_s: float
) -> tuple[Outcome, bool]:
    """Run one check under its time limit and a watchdog; ``(outcome, abandoned)``, where
    ``abandoned`` means the check's thread is still running and its sandbox must be dropped."""
    rng = np.random.default_rng([seed, stable_hash(check.name)])
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["outcome"] = check.run(sandbox, rng)
        except BaseException as error:  # the check's own bug: a failed row, never a crash
            box["error"] = error
            box["traceback"] = traceback.format_exc()

    # the worker is started here, in the grading thread, not in the check's short-lived one
    if not sandbox.ping(timeout_s=30.0).ok:
        sandbox.ping(timeout_s=30.0)
    thread = threading.Thread(target=target, name=f"rlhw check {check.name}", daemon=True)
    sandbox.begin_check(check.timeout_s)
    thread.start()
    while thread.is_alive():
        deadline = sandbox.deadline or time.monotonic()
        left = deadline + grace_s - time.monotonic()
        if left <= 0:
            break
        thread.join(min(left, 1.0))
    sandbox.end_check()
    if thread.is_alive():
        log.error("check %r did not finish within %g s; abandoned", check.name, grace_s)
        limit = check.timeout_s + grace_s
        return _internal_error(check, f"did not finish within {limit:g} s"), True
    if "error" in box:
        error = box["error"]
        log.error("check %r raised:\n%s", check.name, box["traceback"])
        return _internal_error(check, f"{type(error).__name__}: {error}"), False
    outcome = box.get("outcome")
    if not isinstance(outcome, Outcome):
        return _internal_error(check, f"returned {type(outcome).__name__}, not an Outcome"), False
    return outcome, False


def run_checks(
    root: Path,
    checks: Sequence[Check],
    seed: int = 0,
    *,
    sandbox_options: Mapping[str, Any] | None = None,
    watchdog_grace_s: float = WATCHDOG_GRACE_S,
) -> list[CheckResult]:
    """Run ``checks`` in order on the submission folder ``root`` (which holds the package);
    one :class:`CheckResult` per check, whatever happens."""
    options: dict[str, Any] = {"start_timeout_s": _START_TIMEOUT_S, **(sandbox_options or {})}
    results: list[CheckResult] = []
    shared: _GradingSandbox | None = None
    try:
        for check in checks:
            started = time.monotonic()
            own = check.sandbox is not None  # a sandbox of its own, for this check only
            sandbox = None if own else shared
            if sandbox is None:
                try:
                    sandbox = _GradingSandbox(root, **{**options, **(check.sandbox or {})})
                except Exception as error:
                    log.exception("could not set up the sandbox")
                    outcome = _internal_error(check, f"could not set up the sandbox: {error!r}")
                    results.append(_result(check, outcome, time.monotonic() - started))
                    continue
                if not own:
                    shared = sandbox
            outcome, abandoned = _run_check(check, sandbox, seed, watchdog_grace_s)
            if abandoned:  # its thread may still use the sandbox: leave it to it
                if not own:
                    shared = None
            elif own:
                sandbox.close()
            results.append(_result(check, outcome, time.monotonic() - started))
    finally:
        if shared is not None:
            shared.close()
    return results


def _result(check: Check, outcome: Outcome, seconds: float) -> CheckResult:
    score = round(check.points * outcome.fraction, 4)
    status: Status = "passed" if outcome.fraction == 1.0 else "failed"
    return CheckResult(check, score, status, outcome.feedback, seconds)


def grade_submission(
    submission: Path,
    hw: str,
    out_dir: Path,
    seed: int = 0,
    checks: Sequence[Check] | None = None,
    *,
    package: str | None = None,
    suite: str | None = None,
    sandbox_options: Mapping[str, Any] | None = None,
    watchdog_grace_s: float = WATCHDOG_GRACE_S,
    fast: bool = False,
) -> dict[str, Any]:
    """Grade one submission (folder or ``.zip``) and write ``out_dir/results.json``.

    The checks are homework ``hw``'s suite (:func:`load_suite`, or the ``suite`` spec), or
    ``checks`` with their ``package``; ``fast`` leaves out the learning-curve checks. Returns
    what was written. Raises :class:`SuiteError` for a homework that does not exist; never for
    anything the submission does.
    """
    if checks is None:
        package, checks = load_suite(hw, suite)
        sandbox_options = {**suite_sandbox_options(hw, suite), **(sandbox_options or {})}
    elif package is None:
        raise ValueError("expected the package name along with the checks, got package=None")
    if fast:
        checks = fast_checks(checks)
    started = time.monotonic()
    max_score = sum(c.points for c in checks)
    try:
        with tempfile.TemporaryDirectory(prefix="rlhw-grade-") as scratch:
            try:
                root = find_package(
                    Path(submission),
                    package,
                    scratch=Path(scratch),
                    expected=expected_files(package),
                )
            except SubmissionError as error:
                results = report.error_results(
                    "submission: homework package found",
                    str(error),
                    max_score,
                    hw=hw,
                    seed=seed,
                    execution_time=time.monotonic() - started,
                )
            else:
                rows = run_checks(
                    root,
                    checks,
                    seed,
                    sandbox_options=sandbox_options,
                    watchdog_grace_s=watchdog_grace_s,
                )
                results = report.build_results(
                    rows, hw=hw, seed=seed, execution_time=time.monotonic() - started
                )
    except Exception as error:  # a bug in the engine: the student still gets a valid report
        log.exception("grading %s failed", submission)
        results = report.error_results(
            "grader",
            f"internal grader error: {type(error).__name__}: {error}",
            max_score,
            hw=hw,
            seed=seed,
            execution_time=time.monotonic() - started,
        )
    report.write_json_atomic(Path(out_dir) / "results.json", results)
    return results


# ------------------------------------------------------------------------------- batches


def submission_names(submissions: Sequence[Path]) -> list[str]:
    """One folder name per submission: its folder name or zip stem, made safe and unique."""
    names: list[str] = []
    taken: set[str] = {"grades.csv"}
    for path in submissions:
        path = Path(path)
        stem = path.stem if path.suffix.lower() == ".zip" else path.name
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "submission"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name)
        names.append(name)
    return names


def _grade_in_worker(
    submission: str,
    hw: str,
    out_dir: str,
    seed: int,
    suite: str | None,
    sandbox_options: dict[str, Any] | None,
    fast: bool,
) -> dict[str, Any]:
    return grade_submission(
        Path(submission),
        hw,
        Path(out_dir),
        seed,
        suite=suite,
        sandbox_options=sandbox_options,
        fast=fast,
    )


def grade_many(
    submissions: Sequence[Path],
    hw: str,
    out_dir: Path,
    jobs: int = 1,
    seed: int = 0,
    *,
    suite: str | None = None,
    sandbox_options: Mapping[str, Any] | None = None,
    fast: bool = False,
) -> dict[str, dict[str, Any]]:
    """Grade each submission into ``out_dir/<name>/results.json`` (``jobs`` at a time, each in
    its own process with its own sandbox) and write ``out_dir/grades.csv``; ``fast`` leaves
    out the learning-curve checks.

    Returns ``{name: results}`` in the order given. A submission whose grading breaks in any
    way still gets a valid ``results.json`` with score 0 and a message.
    """
    if jobs < 1:
        raise ValueError(f"expected jobs >= 1, got {jobs}")
    package, checks = load_suite(hw, suite)  # fails early on an unknown homework
    del package
    if fast:
        checks = fast_checks(checks)
    max_score = sum(c.points for c in checks)
    out_dir = Path(out_dir)
    names = submission_names(submissions)
    options = dict(sandbox_options or {})
    results: dict[str, dict[str, Any]] = {}

    def broken(name: str, error: BaseException) -> dict[str, Any]:
        log.error("grading %s failed: %r", name, error)
        data = report.error_results(
            "grader",
            f"internal grader error: {type(error).__name__}: {error}",
            max_score,
            hw=hw,
            seed=seed,
            execution_time=0.0,
        )
        report.write_json_atomic(out_dir / name / "results.json", data)
        return data

    # spawn: a fresh interpreter per worker, not a fork of a grader that may hold torch threads
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context) as pool:
        futures = {
            name: pool.submit(
                _grade_in_worker, str(path), hw, str(out_dir / name), seed, suite, options, fast
            )
            for name, path in zip(names, submissions, strict=True)
        }
        retry: list[str] = []
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except BrokenProcessPool:
                retry.append(name)  # one dead worker breaks the whole pool: regrade alone
            except Exception as error:  # an engine bug
                results[name] = broken(name, error)
    for name in retry:
        path = submissions[names.index(name)]
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as alone:
            future = alone.submit(
                _grade_in_worker, str(path), hw, str(out_dir / name), seed, suite, options, fast
            )
            try:
                results[name] = future.result()
            except Exception as error:
                results[name] = broken(name, error)
    results = {name: results[name] for name in names}
    report.write_grades_csv(out_dir / "grades.csv", results, [c.name for c in checks])
    return results

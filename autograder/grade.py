"""The grading engine: find the student's package in a submission, run a homework's checks on
it in a sandbox, and write the reports.

::

    results = grade_submission(Path("submissions/alice.zip"), "hw2", Path("grading/alice"))
    results["score"], results["max_score"]  # also in grading/alice/results.json

    grade_many(paths, "hw2", Path("grading"), jobs=4)  # grading/<name>/results.json, grades.csv

A homework's checks are its hidden suite, the ``SUITE`` of ``autograder/suites/hwN.py`` (an
:class:`~autograder.kit.Suite`; see :func:`suite_of`). Each check runs in the grader process
with a generator seeded by the grading seed and the check's name, against one
:class:`~autograder.sandbox.Sandbox` per submission, so the same submission graded twice with
the same seed gets the same ``results.json`` (timing fields aside).

Nothing a submission does gets out of the engine as an exception: a missing package, an unsafe
zip, code that hangs or exits, even a check that breaks, all end as failed rows of a valid
``results.json`` with a plain message.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import os
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
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from autograder import report
from autograder.checks import (
    DEFAULT_FEEDBACK,
    INTERNAL_ERROR,
    Check,
    CheckResult,
    Feedback,
    GraderError,
    Outcome,
    Status,
    fast_checks,
)
from autograder.kit import Suite
from autograder.sandbox import PROJECT_ROOT, Failure, Result, Sandbox

log = logging.getLogger(__name__)

MAX_ZIP_FILES = 2000
MAX_ZIP_BYTES = 200 * 2**20
MAX_SCAN_ENTRIES = 20_000
"""Files and folders a search of an upload for the homework looks through (a released student
tree holds a few hundred) before it refuses, say, a home folder handed in by mistake."""
WATCHDOG_GRACE_S = 120.0
"""How long past its own time limit a check may run in the grader before the engine gives up
on it (a bug in the check, not in the submission: the student's calls are capped anyway)."""
_START_TIMEOUT_S = 120.0  # a worker importing torch on a loaded machine
_IGNORED_ENTRIES = frozenset({"__MACOSX", ".DS_Store", "Thumbs.db", "__pycache__"})
_INSTALL_DIRS = frozenset({"site-packages", "build"})  # installed or built copies of the package
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


def suite_of(hw: str, spec: str | None = None) -> Suite:
    """The :class:`~autograder.kit.Suite` of homework ``hw`` (``hw2`` or
    ``hw2_policy_gradient``): the ``SUITE`` of ``autograder/suites/hw2.py``.

    ``spec`` (for the engine's own tests only) loads another suite module instead: a dotted
    module name or a ``.py`` file path, holding a ``SUITE`` like a real suite.
    """
    module = _suite_module(hw, spec)
    suite = getattr(module, "SUITE", None)
    if not isinstance(suite, Suite):
        raise SuiteError(
            f"expected {module.__name__}.SUITE to be an autograder.kit.Suite, got "
            f"{type(suite).__name__}"
        )
    return suite


def load_suite(hw: str, spec: str | None = None) -> tuple[str, list[Check]]:
    """The package name and every check (fast, then learning) of homework ``hw``'s suite
    (:func:`suite_of`)."""
    suite = suite_of(hw, spec)
    return suite.package, list(suite.all_checks)


def suite_sandbox_options(hw: str, spec: str | None = None) -> dict[str, Any]:
    """Options of the sandboxes a homework's suite grades in (:attr:`Suite.sandbox
    <autograder.kit.Suite.sandbox>`); ``{}`` when none."""
    return dict(suite_of(hw, spec).sandbox)


def suite_feedback(hw: str, spec: str | None = None) -> Feedback:
    """How much of a failed check a homework's students see in ``results.json``
    (:attr:`Suite.feedback <autograder.kit.Suite.feedback>`). Staff always see everything."""
    return suite_of(hw, spec).feedback


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


SUITE_DIGEST_KEY = "suite_digest"
"""Where ``results.json`` and ``staff.json`` record :func:`suite_digest` (in ``extra_data``)."""
_ENGINE_DIRS = ("autograder", "infrastructure")


def suite_digest(hw: str, spec: str | None = None) -> str:
    """A digest of everything that makes a grading of homework ``hw`` what it is: the suite's
    module (or the ``spec`` file), the reference package that judges (every file of it), the
    calibration file, and the engine and the given infrastructure (their top-level ``.py``
    files). A batch keeps a submission's ``results.json`` only when it was made under the same
    digest (:mod:`autograder.batch`), and a cluster whose nodes hold another copy of the course
    is told apart by it (:mod:`autograder.cluster`).
    """
    module = _suite_module(hw, spec)
    suite = getattr(module, "SUITE", None)
    files: list[Path] = [Path(module.__file__ or "")]
    if isinstance(suite, Suite):
        reference = PROJECT_ROOT / suite.package
        if reference.is_dir():
            files += sorted(
                path for path in reference.rglob("*.py") if "__pycache__" not in path.parts
            )
    files += [PROJECT_ROOT / "autograder" / "calibration" / f"{hw.split('_')[0]}.json"]
    for folder in _ENGINE_DIRS:
        files += sorted((PROJECT_ROOT / folder).glob("*.py"))
    digest = hashlib.sha256()
    for path in files:
        name = path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path.name
        digest.update(f"{PurePosixPath(name)}\0".encode())
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"(missing)")
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def stable_hash(text: str) -> int:
    """A hash of ``text`` that is the same in every process (unlike ``hash``)."""
    return zlib.crc32(text.encode("utf-8"))


# ------------------------------------------------------------------------------- submissions


def package_modules(reference: Path) -> tuple[list[str], list[str]]:
    """``(required, given)``: the reference package's top-level modules that hold solution
    regions (what a student must hand in: ``pg.py``, ``policies.py`` for hw2) and the others
    (``__init__.py``, ``config.py``, ``run.py``: given code, released as they are). Both empty
    when the reference is not in this tree."""
    required: list[str] = []
    given: list[str] = []
    if not reference.is_dir():
        return required, given
    for path in sorted(reference.glob("*.py")):
        try:
            solution = "BEGIN SOLUTION" in path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        (required if solution else given).append(path.name)
    return required, given


def expected_files(package: str) -> list[str]:
    """The files a student must hand in: the reference package's modules that hold solution
    regions (``pg.py`` for hw2); empty when the reference is not in this tree."""
    return package_modules(PROJECT_ROOT / package)[0]


STARTER = "the starter"
"""Where a given module came from when the upload did not have it (:class:`FoundPackage`)."""


@dataclass(frozen=True)
class FoundPackage:
    """Where a submission's homework package was found, copied for the sandbox."""

    root: Path
    """A folder holding only ``<package>/``: the root the sandbox copies."""
    package: str
    folder: str | None
    """The package folder that was graded, relative to the upload (``.`` for the upload
    itself), or None when the package was put together from files found in the upload."""
    sources: tuple[tuple[str, str], ...]
    """``(module, where it came from)`` for each module taken from its own place: a path
    relative to the upload, or :data:`STARTER` for a given module the upload did not have."""
    missing: tuple[str, ...] = ()
    """Modules the student writes that the upload lacks: their checks cannot pass."""

    def describe(self) -> str:
        """A few sentences for the report: which file was taken from where."""
        starter = [name for name, source in self.sources if source == STARTER]
        taken = [(name, source) for name, source in self.sources if source != STARTER]
        if self.folder is not None:
            where = "the folder you handed in" if self.folder == "." else f"`{self.folder}/`"
            text = f"Graded {where} as `{self.package}/`."
        else:
            pairs = [f"`{name}` from `{source}`" for name, source in taken]
            text = f"Graded {_and(pairs)} of your upload as `{self.package}/`."
        if self.missing:
            names = _and([f"`{name}`" for name in self.missing])
            text += f" Not found in your upload: {names}, so its checks cannot pass."
        if starter:
            names = _and([f"`{name}`" for name in starter])
            text += f" Not in your upload, so the starter's copies were used: {names}."
        return text


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def find_package(
    submission: Path,
    package: str,
    *,
    scratch: Path | None = None,
    reference: Path | None = None,
) -> FoundPackage:
    """The submission's ``<package>/``, copied to ``scratch/package-root/<package>/``.

    A submission is a folder or a ``.zip`` (extracted safely under ``scratch``, which defaults
    to a new temporary folder that the caller deletes). Its homework is found at any depth,
    junk left out (``__MACOSX/``, hidden folders such as ``.ipynb_checkpoints/``, caches,
    virtualenvs, ``build/``):

    1. a folder named ``<package>`` holding modules the reference makes students write (the
       whole student tree, the package alone, either inside another folder); or else
    2. those modules as files, anywhere (a flat upload: ``pg.py`` and ``policies.py`` at the
       top), each found at most once, with the other ``.py`` files next to them.

    A module the student writes that is not there is left out (its checks fail, the others
    stand); one that is there twice, or two such package folders, is an error.

    ``reference`` is the reference package (default: this tree's ``<package>/``): which
    modules are the student's (:func:`package_modules`), and the given ones that the upload
    lacks, copied from it as the starter has them. Raises :class:`SubmissionError` saying what
    was expected and what was found, naming both candidates when a module is there twice.
    """
    submission = Path(submission)
    if scratch is None:
        scratch = Path(tempfile.mkdtemp(prefix="rlhw-submission-"))
    if submission.is_file() and submission.suffix.lower() == ".zip":
        upload = scratch / "unzipped"
        extract_zip(submission, upload)
    elif submission.is_dir():
        upload = submission
    elif not submission.exists():
        raise SubmissionError(f"no such file or folder: {str(submission)!r}")
    else:
        raise SubmissionError(f"expected a folder or a .zip file, got {submission.name!r}")
    if reference is None:
        reference = PROJECT_ROOT / package
    required, given = package_modules(reference)
    folders, files = _scan(upload)
    target = scratch / "package-root" / package

    named = [d for d in [upload, *folders] if d.name == package]
    if required:  # a folder of that name without the student's code is not the homework
        named = [d for d in named if any((d / name).is_file() for name in required)]
    if len(named) > 1:
        shown = ", ".join(f"`{_relative(d, upload)}/`" for d in named[:3])
        raise SubmissionError(f"expected one folder {package}/, found {len(named)}: {shown}")
    if named:
        # only the package goes to the sandbox: not a student's virtualenv or training runs
        shutil.copytree(named[0], target, symlinks=True, ignore=_COPY_IGNORE)
        folder: str | None = _relative(named[0], upload)
        sources: list[tuple[str, str]] = []
    elif required:
        folder = None
        sources = _copy_modules(upload, files, required, package, target)
    else:  # no reference here (the engine's tests): a folder with __init__.py at the top
        top = _single_top_folder(upload)
        found = next((d for d in [upload, top] if d and (d / "__init__.py").is_file()), None)
        if found is None:
            raise SubmissionError(_not_found_message(upload, package, required))
        shutil.copytree(found, target, symlinks=True, ignore=_COPY_IGNORE)
        folder, sources = _relative(found, upload), []
    for name in given:
        if not (target / name).exists() and not (target / name).is_symlink():
            shutil.copyfile(reference / name, target / name)
            sources.append((name, STARTER))
    # without it the folder is only a namespace portion, and a regular package of the same
    # name later on the worker's path (the reference, installed in site-packages) would win
    init = target / "__init__.py"
    if not init.exists() and not init.is_symlink():
        init.write_text("")
    missing = tuple(name for name in required if not (target / name).is_file())
    return FoundPackage(target.parent, package, folder, tuple(sources), missing)


def extract_zip(archive: Path, target: Path) -> None:
    """Extract ``archive`` into ``target``, refusing anything unsafe: absolute paths, ``..``,
    symbolic links, more than :data:`MAX_ZIP_FILES` entries or :data:`MAX_ZIP_BYTES` bytes.

    A zip that cannot be read (damaged, encrypted, an entry's name marked UTF-8 that is not,
    a compression method Python lacks) is the submission's problem, never the grader's: each
    raises :class:`SubmissionError` saying what is wrong with it."""
    name = _shown(archive.name)
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
    except UnicodeDecodeError as error:  # flag 0x800 (UTF-8 names) on a name that is not
        raise SubmissionError(
            f"refused {name}: an entry's name is marked as UTF-8 but is not (byte "
            f"{error.object[error.start : error.start + 1]!r} at {error.start}); zip the "
            "folder again with your system's zip tool"
        ) from error
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        EOFError,
        RuntimeError,  # an encrypted entry
        NotImplementedError,  # a compression method this Python lacks
        ValueError,
        zlib.error,  # damaged compressed data
    ) as error:
        shown = _shown(str(error) or type(error).__name__, 300)
        raise SubmissionError(f"could not read the zip file {name} ({shown})") from error


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


def _copy_modules(
    upload: Path, files: Sequence[Path], required: Sequence[str], package: str, target: Path
) -> list[tuple[str, str]]:
    """Put ``target`` together from a flat upload: each of ``required`` that is there, found
    once, then the other ``.py`` files of the folders those are in (a module twice is an
    error, and so is an upload with none of ``required``)."""
    found = {name: [f for f in files if f.name == name] for name in required}
    for name, candidates in found.items():
        if len(candidates) > 1:
            shown = " and ".join(f"`{_relative(f, upload)}`" for f in candidates[:3])
            raise SubmissionError(
                f"expected one {name}, found {len(candidates)}: {shown}; hand in only the one "
                f"to grade (or the folder {package}/)"
            )
    if not any(found.values()):
        raise SubmissionError(_not_found_message(upload, package, required))
    chosen = {name: candidates[0] for name, candidates in found.items() if candidates}
    homes = {path.parent for path in chosen.values()}
    for path in files:
        if path.parent not in homes or path.suffix != ".py" or path in chosen.values():
            continue
        other = chosen.get(path.name)
        if other is not None:  # e.g. pg.py and policies.py in two folders, each with a run.py
            raise SubmissionError(
                f"expected one {path.name} next to {_and(list(required))}, found 2: "
                f"`{_relative(other, upload)}` and `{_relative(path, upload)}`"
            )
        chosen[path.name] = path
    target.mkdir(parents=True)
    for name, path in chosen.items():
        shutil.copyfile(path, target / name)
    return [(name, _relative(path, upload)) for name, path in sorted(chosen.items())]


def _junk(name: str) -> bool:
    """Folders and files a search for the homework leaves out: a Mac's ``__MACOSX``, hidden
    ones (``.ipynb_checkpoints``, ``.git``, ``.venv``), caches and build or install trees
    (which hold copies of the package)."""
    return (
        name in _IGNORED_ENTRIES
        or name.startswith(".")
        or name in _INSTALL_DIRS
        or name.endswith(".egg-info")
    )


def _scan(upload: Path) -> tuple[list[Path], list[Path]]:
    """``(folders, files)`` under ``upload``, junk, symbolic links and virtualenvs left out,
    shallowest first; at most :data:`MAX_SCAN_ENTRIES` entries are looked at."""
    folders: list[Path] = []
    files: list[Path] = []
    seen = 0
    for current, dirnames, filenames in os.walk(upload):
        here = Path(current)
        seen += len(dirnames) + len(filenames)
        if seen > MAX_SCAN_ENTRIES:
            raise SubmissionError(
                f"refused the upload: more than {MAX_SCAN_ENTRIES} files and folders to look "
                "through; hand in the homework's folder or files only"
            )
        if (here / "pyvenv.cfg").is_file():  # a virtualenv: an installed copy, not the work
            dirnames[:] = []
            continue
        dirnames[:] = sorted(d for d in dirnames if not _junk(d) and not (here / d).is_symlink())
        folders.extend(here / d for d in dirnames)
        for name in sorted(filenames):
            path = here / name
            if not _junk(name) and not path.is_symlink() and path.is_file():
                files.append(path)

    def shallowest(path: Path) -> tuple[int, str]:
        return len(path.relative_to(upload).parts), str(path)

    return sorted(folders, key=shallowest), sorted(files, key=shallowest)


def _relative(path: Path, upload: Path) -> str:
    """``path`` as the student named it, from the top of the upload, made safe to print."""
    return _shown(path.relative_to(upload).as_posix())


def _shown(name: str, limit: int = 120) -> str:
    """A file name from a submission, for a message: printable, without backticks, capped."""
    text = "".join(c if c.isprintable() and c != "`" else "?" for c in name)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _entries(folder: Path) -> list[Path]:
    try:
        children = sorted(folder.iterdir())
    except OSError:
        return []
    return [c for c in children if not _junk(c.name)]


def _single_top_folder(folder: Path) -> Path | None:
    entries = _entries(folder)
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return None


def _listing(folder: Path, limit: int = 12) -> str:
    names = [_shown(e.name) + ("/" if e.is_dir() else "") for e in _entries(folder)]
    if not names:
        return "nothing"
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def _not_found_message(upload: Path, package: str, required: Sequence[str]) -> str:
    found = _listing(upload)
    top = _single_top_folder(upload)
    if top is not None:
        found += f" (in {_shown(top.name)}/: {_listing(top)})"
    if not required:
        return f"expected a folder {package}/; found: {found}"
    want = _and(list(required))
    return f"expected a folder {package}/ with {want}, or those files at any depth; found: {found}"


# ------------------------------------------------------------------------------- grading


class _GradingSandbox(Sandbox):
    """A :class:`Sandbox` whose calls, during a check, share that check's time limit.

    The start-up of a fresh worker is not charged to the check: the deadline moves by it.
    """

    deadline: float | None = None
    limit_s: float = 0.0
    bad_requests: tuple[str, ...] = ()
    """The current check's calls that the worker could not run as asked (``bad_request``:
    a bug in the check, not in the submission)."""

    def begin_check(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.deadline = time.monotonic() + limit_s
        self.bad_requests = ()

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
        result = self._request(message, label=label, timeout_s=timeout_s, seed=seed)
        if isinstance(result, Failure) and result.kind == "bad_request":
            self.bad_requests = (*self.bad_requests, result.message)
        return result

    def _request(
        self, message: dict[str, Any], *, label: str, timeout_s: float | None, seed: int | None
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


class _Ran(NamedTuple):
    """What running one check gave: its outcome, whether that is a grader error (the outcome's
    feedback then says what went wrong, for staff), and whether its thread was abandoned
    (still running: its sandbox must be dropped)."""

    outcome: Outcome
    grader_error: bool = False
    abandoned: bool = False


def _grader_error(check: Check, what: str, *, abandoned: bool = False) -> _Ran:
    outcome = Outcome(0.0, f"{INTERNAL_ERROR} in check {check.name!r}: {what}")
    return _Ran(outcome, grader_error=True, abandoned=abandoned)


def _run_check(check: Check, sandbox: _GradingSandbox, seed: int, grace_s: float) -> _Ran:
    """Run one check under its time limit and a watchdog.

    Whatever stops the check from judging is the grader's error, never the submission's: a
    :class:`GraderError` (a stale calibration), any other exception or a result that is not an
    :class:`Outcome` (a bug in the check), a call the worker could not run as asked, or a check
    still running past its limit and the watchdog's grace."""
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
        return _grader_error(check, f"did not finish within {limit:g} s", abandoned=True)
    if "error" in box:
        error = box["error"]
        if isinstance(error, GraderError):
            log.error("check %r cannot judge: %s", check.name, report.clean(_error_text(error)))
            return _grader_error(check, _error_text(error))
        log.error("check %r raised:\n%s", check.name, report.clean(box["traceback"]))
        return _grader_error(check, f"{type(error).__name__}: {_error_text(error)}")
    outcome = box.get("outcome")
    if not isinstance(outcome, Outcome):
        return _grader_error(check, f"returned {type(outcome).__name__}, not an Outcome")
    if sandbox.bad_requests:
        log.error("check %r sent bad requests: %s", check.name, sandbox.bad_requests)
        return _grader_error(
            check, f"the worker could not run its request: {sandbox.bad_requests[0]}"
        )
    return _Ran(outcome)


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
                    ran = _grader_error(check, f"could not set up the sandbox: {error!r}")
                    results.append(_result(check, ran, time.monotonic() - started))
                    continue
                if not own:
                    shared = sandbox
            ran = _run_check(check, sandbox, seed, watchdog_grace_s)
            if ran.abandoned:  # its thread may still use the sandbox: leave it to it
                if not own:
                    shared = None
            elif own:
                sandbox.close()
            results.append(_result(check, ran, time.monotonic() - started))
    finally:
        if shared is not None:
            shared.close()
    return results


def _result(check: Check, ran: _Ran, seconds: float) -> CheckResult:
    outcome = ran.outcome
    score = round(check.points * outcome.fraction, 4)
    status: Status = "passed" if outcome.fraction == 1.0 else "failed"
    return CheckResult(
        check, score, status, outcome.feedback, seconds, outcome.brief, ran.grader_error
    )


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
    feedback: Feedback | None = None,
) -> dict[str, Any]:
    """Grade one submission (folder or ``.zip``) and write its two reports to ``out_dir``:

    * ``results.json``, the student's (Gradescope reads it): each failed check's feedback as
      the suite's feedback level allows (:func:`suite_feedback`), and a check the grader could
      not judge said to be graded again, not failed;
    * ``staff.json``, the same fields with the whole feedback and, for a grader error, what
      went wrong: what this function returns.

    The checks are homework ``hw``'s suite (:func:`load_suite`, or the ``suite`` spec), or
    ``checks`` with their ``package`` (then ``feedback`` defaults to
    :data:`~autograder.checks.DEFAULT_FEEDBACK`); ``fast`` leaves out the learning-curve
    checks, and both reports say so. When the checks are a suite's, both reports record its
    :func:`suite_digest` in ``extra_data.suite_digest``. Raises :class:`SuiteError` for a
    homework that does not exist; never for anything the submission does.
    """
    digest = None
    if checks is None:
        package, checks = load_suite(hw, suite)
        sandbox_options = {**suite_sandbox_options(hw, suite), **(sandbox_options or {})}
        if feedback is None:
            feedback = suite_feedback(hw, suite)
        digest = suite_digest(hw, suite)
    elif package is None:
        raise ValueError("expected the package name along with the checks, got package=None")
    level: Feedback = DEFAULT_FEEDBACK if feedback is None else feedback
    graded = fast_checks(checks) if fast else list(checks)
    left_out = [check for check in checks if check not in graded]
    started = time.monotonic()
    max_score = sum(c.points for c in graded)
    common: dict[str, Any] = {"hw": hw, "seed": seed, "left_out": left_out}
    common["unconfined"] = (sandbox_options or {}).get("confine") is False  # --unconfined
    try:
        with tempfile.TemporaryDirectory(prefix="rlhw-grade-") as scratch:
            try:
                found = find_package(Path(submission), package, scratch=Path(scratch))
            except SubmissionError as error:
                make = partial(
                    report.error_results,
                    "submission: homework package found",
                    str(error),
                    max_score,
                    **common,
                )
            else:
                rows = run_checks(
                    found.root,
                    graded,
                    seed,
                    sandbox_options=sandbox_options,
                    watchdog_grace_s=watchdog_grace_s,
                )
                make = partial(
                    report.build_results, rows, feedback=level, found=found.describe(), **common
                )
        views = _views(make, time.monotonic() - started)
    except Exception as error:  # a bug in the engine: the student still gets a valid report
        log.exception("grading %s failed", submission)
        views = _views(_engine_error(error, max_score, **common), time.monotonic() - started)
    student, staff = views
    if digest is not None:  # what a resumed batch compares (autograder.batch)
        for view in views:
            view["extra_data"][SUITE_DIGEST_KEY] = digest
    report.write_json_atomic(Path(out_dir) / "results.json", student)
    return report.write_json_atomic(Path(out_dir) / report.STAFF_FILE, staff)


def _engine_error(error: BaseException, max_score: float, **common: Any) -> partial[dict]:
    """The reports of a grading that broke in the engine: a grader error for the whole
    submission (staff read the exception; the student, that it will be graded again)."""
    message = f"{INTERNAL_ERROR}: {type(error).__name__}: {_error_text(error)}"
    return partial(report.error_results, "grader", message, max_score, grader_error=True, **common)


def _error_text(error: BaseException) -> str:
    """``str(error)``, or a note when even that fails (an exception can carry any object)."""
    try:
        return str(error)
    except Exception as inner:
        return f"<its text could not be made: {type(inner).__name__}>"


def _views(make: partial[dict], seconds: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(results.json, staff.json)`` from one of :mod:`autograder.report`'s builders."""
    return make(view="student", execution_time=seconds), make(view="staff", execution_time=seconds)


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
    """Grade each submission into ``out_dir/<name>/`` (``results.json`` and ``staff.json``, as
    :func:`grade_submission` writes them; ``jobs`` at a time, in a pool of grader processes
    each reused across submissions) and write the gradebook ``out_dir/grades.csv``; ``fast``
    leaves out the learning-curve checks, and the gradebook says so. Every submission is
    graded again (:func:`autograder.batch.grade_batch` resumes, and runs on Ray).

    Returns ``{name: staff's results}`` in the order given, for the submissions graded: one
    whose grading process died twice (the machine's fault, not its code's) has no results and
    shows as a machine failure in ``grades.csv``. A submission whose grading breaks in the
    engine still gets valid reports: a grader error, score 0 until it is graded again.
    """
    from autograder.batch import Backend, grade_batch

    if jobs < 1:
        raise ValueError(f"expected jobs >= 1, got {jobs}")
    batch = grade_batch(
        submissions,
        hw,
        out_dir,
        Backend("local", jobs=jobs),
        seed,
        suite=suite,
        sandbox_options=sandbox_options,
        fast=fast,
        regrade=True,
        progress=False,
    )
    return batch.graded

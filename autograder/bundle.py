"""The Gradescope autograder bundle of a homework: ``dist/hwN/autograder/autograder.zip``.

::

    write_bundle("hw2", Path("dist"))  # dist/hw2/autograder/autograder.zip

Gradescope unpacks the zip into ``/autograder/source`` and runs ``setup.sh`` from it once, as
root, when it builds the autograder image (Ubuntu). Then, for each submission, it puts the
student's files in ``/autograder/submission``, runs ``run_autograder`` (a copy of it in
``/autograder``: the script does not rely on where it sits) and reads
``/autograder/results/results.json``. The zip holds, at its root:

* ``setup.sh``: Python 3.11 (installed with apt when missing; the system's ``python3`` when
  3.11 cannot be had and it is 3.10 or later), a virtualenv in ``/autograder/venv``, the CPU
  build of torch alone from PyTorch's CPU index at ``pyproject.toml``'s pin, then the
  project itself (``pip install /autograder/source``, not editable). It then makes the
  hidden parts readable by root only: the source folder, and the installed copies of the
  hidden suite, the mutants, the calibration data and the reference package, which the
  sandboxed worker (an unprivileged uid of its own) could otherwise read from the virtualenv
  it needs for numpy and torch. (A package without ``__init__.py`` can no longer import the
  reference's modules from ``site-packages``: the engine adds the file and the worker
  refuses a module from outside the submission; ``tests/test_hostile.py``.)
* ``run_autograder``: ``python -m autograder.cli grade hwN /autograder/submission --out
  /autograder/results``, run from ``/autograder/source`` so that the engine, the suite and the
  reference used are the bundle's own (whose folder the sandbox hides from the worker). It
  always leaves a valid ``results.json``: when the grader itself fails, one with score 0 that
  says so, not what went wrong (that stays in the log, which students do not see). Every path
  is an environment variable, for a local simulation of Gradescope (``tests/test_bundle.py``):

  ======================== ===============================================================
  ``RLHW_AUTOGRADER_ROOT`` the Gradescope folder (default ``/autograder``)
  ``RLHW_SOURCE``          the unpacked bundle (default ``$RLHW_AUTOGRADER_ROOT/source``)
  ``RLHW_SUBMISSION``      the student's files (default ``$RLHW_AUTOGRADER_ROOT/submission``)
  ``RLHW_RESULTS``         where results.json goes (default ``$RLHW_AUTOGRADER_ROOT/results``)
  ``RLHW_PYTHON``          the Python with rlhw's dependencies (default
                           ``$RLHW_AUTOGRADER_ROOT/venv/bin/python``), e.g. a development
                           ``.venv/bin/python`` to run the bundle without ``setup.sh``
  ======================== ===============================================================

* the project's source needed to grade: ``pyproject.toml`` and ``README.md`` (pip needs both),
  ``infrastructure/``, the ``autograder/`` package with only this homework's suite and mutants
  (no other homework's), the reference package (the suite imports it; its public tests and
  caches left out), the ``.py`` files of the homeworks it imports (hw3's for hw4: the suite
  gives their reference to the sandboxes), ``autograder/calibration/hwN*`` when it exists and
  the grader's own data of the homework, ``autograder/data/hwN/`` (hw5's datasets), when it
  has some; the scripts that make that data stay out.

The zip is deterministic (sorted entries, fixed timestamps) and written atomically: to a
temporary file next to it, then renamed over any earlier bundle.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from autograder import release

REPO_ROOT = Path(__file__).resolve().parents[1]
TORCH_INDEX = release.TORCH_INDEX
"""PyTorch's CPU index, where setup.sh takes torch from: Gradescope's image builder reaches it."""

TOP_LEVEL_FILES = ("pyproject.toml", "README.md")
SKIP_DIRS = frozenset(
    {
        "__pycache__",
        ".git",
        ".venv",
        "runs",
        "dist",
        "build",
        "tests",
        ".ipynb_checkpoints",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
    }
)
SKIP_FILES = ("*.pyc", "*.pyo", ".DS_Store", "Thumbs.db", "*.egg-info", "MUJOCO_LOG.TXT")
_ZIP_DATE = (2020, 1, 1, 0, 0, 0)
# subfolders of autograder/ that hold one file (or folder) per homework
_PER_HOMEWORK = ("suites", "mutants", "calibration", "data")


class BundleError(release.ReleaseError):
    """A bundle that cannot be written: an unknown homework, a missing file."""


def find_homework(root: Path, hw: str) -> tuple[str, Path]:
    """``("hw2", root / "hw2_policy_gradient")`` for ``hw`` = ``hw2`` or
    ``hw2_policy_gradient`` (:func:`autograder.release.find_homework`)."""
    try:
        return release.find_homework(Path(root), hw)
    except release.ReleaseError as error:
        raise BundleError(str(error)) from None


def _skipped(name: str, is_dir: bool) -> bool:
    if is_dir:
        return name in SKIP_DIRS or name.endswith(".egg-info")
    return any(PurePosixPath(name).match(pattern) for pattern in SKIP_FILES)


def _walk(root: Path, directory: Path) -> Iterator[tuple[str, Path]]:
    """``(path in the zip, file)`` for the files under ``directory``, sorted; junk folders,
    caches and links left out."""
    for current, dirnames, filenames in os.walk(directory):
        here = Path(current)
        dirnames[:] = sorted(
            d for d in dirnames if not _skipped(d, True) and not (here / d).is_symlink()
        )
        for name in sorted(filenames):
            path = here / name
            if _skipped(name, False) or path.is_symlink() or not path.is_file():
                continue
            yield path.relative_to(root).as_posix(), path


def _autograder_files(root: Path, short: str) -> Iterator[tuple[str, Path]]:
    """The ``autograder/`` package with only homework ``short``'s suite, mutants, calibration
    and data."""
    package = root / "autograder"
    for arcname, path in _walk(root, package):
        parts = PurePosixPath(arcname).parts
        if len(parts) > 2 and parts[1] in _PER_HOMEWORK:
            name = parts[2]
            if name != "__init__.py" and re.match(rf"^{short}(?!\d)", name) is None:
                continue  # another homework's
        yield arcname, path


def bundle_files(hw: str, root: Path = REPO_ROOT) -> dict[str, Path]:
    """What :func:`write_bundle` puts in the zip besides the two scripts: ``{path in the zip:
    file}``, sorted."""
    root = Path(root).resolve()
    short, hw_dir = find_homework(root, hw)
    files: dict[str, Path] = {}
    for name in TOP_LEVEL_FILES:
        path = root / name
        if not path.is_file():
            raise BundleError(f"expected {path} (pip needs it to install the bundle)")
        files[name] = path
    for directory in (root / "infrastructure", root / "autograder", hw_dir):
        if not directory.is_dir():
            raise BundleError(f"expected the folder {directory}")
    if not (root / "autograder" / "suites" / f"{short}.py").is_file():
        raise BundleError(f"{short} has no hidden suite (autograder/suites/{short}.py)")
    files.update(_walk(root, root / "infrastructure"))
    files.update(_autograder_files(root, short))
    files.update(_walk(root, hw_dir))
    # the homeworks this one's code imports (hw4's MBPO trains hw3's SAC): the suite gives their
    # reference code to every sandbox, so the bundle carries it
    for dependency in release.homework_dependencies(root, hw_dir):
        files.update(
            (file.relative_to(root).as_posix(), file)
            for file in release.given_files(root, dependency)
        )
    return dict(sorted(files.items()))


def _max_score(short: str, root: Path) -> float:
    """The homework's total points, for the results.json written when the grader fails; 0 when
    the suite cannot be loaded here (a bundle of another tree than this one)."""
    if root != REPO_ROOT:
        return 0.0
    try:
        from autograder.grade import load_suite

        _, checks = load_suite(short)
    except Exception:
        return 0.0
    return float(sum(check.points for check in checks))


SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu): Python,
# a virtualenv with the CPU build of torch and the rlhw project, then the hidden files made
# readable by root only. Written by `autograder/bundle.py`; do not edit by hand.
set -euo pipefail

SOURCE=/autograder/source
VENV=/autograder/venv
PACKAGE="__PACKAGE__"
export DEBIAN_FRONTEND=noninteractive PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1

usable_python() {  # prints the first Python >= 3.10 there is, 3.11 first
    local candidate
    for candidate in python3.11 python3 python3.12 python3.10; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

# Python 3.11 when the image has it (with venv); otherwise install it with apt, or settle for
# the system's python3 when it is 3.10 or later
PYTHON="$(command -v python3.11 || true)"
if [ -z "$PYTHON" ] || ! "$PYTHON" -m venv "$VENV"; then
    rm -rf "$VENV"
    apt-get update
    apt-get install -y --no-install-recommends python3 python3-venv python3-pip
    if apt-cache show python3.11-venv >/dev/null 2>&1; then
        apt-get install -y --no-install-recommends python3.11 python3.11-venv
    fi
    PYTHON="$(usable_python)" || { echo "setup.sh: no Python >= 3.10" >&2; exit 1; }
    "$PYTHON" -m venv "$VENV"
fi
echo "setup.sh: $("$PYTHON" --version) at $PYTHON, virtualenv $VENV"

"$VENV/bin/python" -m pip install --upgrade pip
# the CPU build first, torch alone: a plain `torch` from PyPI is a CUDA build of several GB;
# its dependencies come from PyPI with the project's, and pip keeps the torch it finds
"$VENV/bin/python" -m pip install --no-deps --index-url __TORCH_INDEX__ "__TORCH__"
"$VENV/bin/python" -m pip install "$SOURCE"

# The sandboxed worker runs as an unprivileged uid and needs the virtualenv (numpy, torch),
# so hide the rest from it: the bundle itself, and the installed copies of the hidden suite,
# the mutants, the calibration data and the reference package.
chmod -R go-rwx "$SOURCE"
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
for private in autograder/suites autograder/mutants autograder/calibration "$PACKAGE"; do
    if [ -e "$SITE/$private" ]; then
        chmod -R go-rwx "$SITE/$private"
    fi
done
"$VENV/bin/python" -c 'import numpy, torch; print("setup.sh: torch", torch.__version__)'
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this once per submission: it grades /autograder/submission with the hidden
# suite of __HW__ and writes /autograder/results/results.json, always, and always valid (score
# 0 and a word that the grader failed, when it does; what went wrong is in this script's
# output, which students do not see). Written by `autograder/bundle.py`.
#
# Every path can be overridden, to simulate Gradescope locally (tests/test_bundle.py does):
#   RLHW_AUTOGRADER_ROOT  the Gradescope folder (default /autograder)
#   RLHW_SOURCE           the unpacked bundle (default $RLHW_AUTOGRADER_ROOT/source)
#   RLHW_SUBMISSION       the student's files (default $RLHW_AUTOGRADER_ROOT/submission)
#   RLHW_RESULTS          where results.json goes (default $RLHW_AUTOGRADER_ROOT/results)
#   RLHW_PYTHON           the Python with rlhw's dependencies
#                         (default $RLHW_AUTOGRADER_ROOT/venv/bin/python, made by setup.sh)
set -u

HW="__HW__"
MAX_SCORE="__MAX_SCORE__"
ROOT="${RLHW_AUTOGRADER_ROOT:-/autograder}"
SOURCE="${RLHW_SOURCE:-$ROOT/source}"
SUBMISSION="${RLHW_SUBMISSION:-$ROOT/submission}"
RESULTS="${RLHW_RESULTS:-$ROOT/results}"
PYTHON="${RLHW_PYTHON:-$ROOT/venv/bin/python}"
RESULTS_JSON="$RESULTS/results.json"

mkdir -p "$RESULTS"
rm -f "$RESULTS_JSON"  # a results.json left from before must not pass for this run's

# `python -m` from the bundle: the engine, suite and reference used are the bundle's own
status=0
if cd "$SOURCE"; then
    "$PYTHON" -m autograder.cli grade "$HW" "$SUBMISSION" --out "$RESULTS" 2>&1
    status=$?
else
    echo "run_autograder: cannot enter $SOURCE"
    status=1
fi

valid() {
    "$PYTHON" - "$RESULTS_JSON" <<'EOF' >/dev/null 2>&1
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    data = json.load(f)
assert isinstance(data, dict) and isinstance(data.get("tests"), list) and data["tests"]
for key in ("score", "max_score"):
    assert isinstance(data.get(key), (int, float))
EOF
}

if valid; then
    exit 0
fi

echo "run_autograder: the grader failed (status $status); writing a results.json with score 0" >&2
# the fallback: score 0 and the grader's fault, from a few lines of Python... The grader's
# output went to stdout above, which Gradescope shows to the staff only (stdout_visibility):
# it may hold the staff's view of the hidden checks, so it is not repeated here.
"$PYTHON" - "$RESULTS_JSON" "$HW" "$MAX_SCORE" "$status" "$SECONDS" <<'EOF' \
    && valid && exit 0
import json, os, sys
path, hw, max_score, status, seconds = sys.argv[1:6]
message = (
    f"The autograder could not grade this submission: the grader itself failed (exit status "
    f"{status}) before writing its results. This is not a verdict on your code: the course "
    "staff can see what went wrong, and this submission will be graded again."
)
results = {
    "score": 0.0,
    "max_score": float(max_score),
    "output": message,
    "output_format": "text",
    "visibility": "visible",
    "stdout_visibility": "hidden",
    "execution_time": float(seconds),
    "tests": [
        {
            "name": "grader",
            "number": "0.1",
            "score": 0.0,
            "max_score": float(max_score),
            "status": "failed",
            "output": message,
            "output_format": "text",
            "visibility": "visible",
            "tags": ["submission"],
        }
    ],
    "extra_data": {"hw": hw, "seed": 0, "grader_error": True},
}
tmp = path + ".tmp"
with open(tmp, "w", encoding="utf-8") as f:
    json.dump(results, f, indent=2)
os.replace(tmp, path)
EOF

# ... or, when even Python cannot run, a fixed one from the shell
MESSAGE="The autograder could not grade this submission: the grader exited with status $status"
MESSAGE="$MESSAGE and Python could not run. This is not a verdict on your code: the course"
MESSAGE="$MESSAGE staff can see what went wrong, and this submission will be graded again."
cat >"$RESULTS_JSON.tmp" <<EOF
{
  "score": 0,
  "max_score": $MAX_SCORE,
  "output": "$MESSAGE",
  "output_format": "text",
  "visibility": "visible",
  "stdout_visibility": "hidden",
  "execution_time": $SECONDS,
  "tests": [
    {
      "name": "grader",
      "number": "0.1",
      "score": 0,
      "max_score": $MAX_SCORE,
      "status": "failed",
      "output": "$MESSAGE",
      "output_format": "text",
      "visibility": "visible",
      "tags": ["submission"]
    }
  ],
  "extra_data": {"hw": "$HW", "seed": 0}
}
EOF
mv -f "$RESULTS_JSON.tmp" "$RESULTS_JSON"
exit 0
"""


def setup_script(hw: str, root: Path = REPO_ROOT) -> str:
    """The text of ``setup.sh`` for homework ``hw``: torch at ``root``'s ``pyproject.toml`` pin.

    Raises:
        BundleError: an unknown homework, or no torch pin in ``pyproject.toml``.
    """
    root = Path(root).resolve()
    _, hw_dir = find_homework(root, hw)
    try:
        torch = release.torch_pin(root)
    except release.ReleaseError as error:
        raise BundleError(str(error)) from None
    return (
        SETUP_SH.replace("__PACKAGE__", hw_dir.name)
        .replace("__TORCH__", torch)
        .replace("__TORCH_INDEX__", TORCH_INDEX)
    )


def run_script(hw: str, root: Path = REPO_ROOT) -> str:
    """The text of ``run_autograder`` for homework ``hw``."""
    root = Path(root).resolve()
    short, _ = find_homework(root, hw)
    return RUN_AUTOGRADER.replace("__HW__", short).replace(
        "__MAX_SCORE__", f"{_max_score(short, root):g}"
    )


def _add(zf: zipfile.ZipFile, arcname: str, data: bytes, mode: int) -> None:
    info = zipfile.ZipInfo(arcname, date_time=_ZIP_DATE)
    info.external_attr = (0o100000 | mode) << 16  # a regular file with these permissions
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def write_bundle(hw: str, out: Path, root: Path = REPO_ROOT) -> Path:
    """Write the Gradescope bundle of homework ``hw`` to ``out/<hwN>/autograder/autograder.zip``
    (atomically, replacing an earlier one) and return its path.

    Raises:
        BundleError: an unknown homework, or a file the bundle needs is missing.
    """
    root = Path(root).resolve()
    short, _ = find_homework(root, hw)
    files = bundle_files(hw, root)
    scripts = {"setup.sh": setup_script(hw, root), "run_autograder": run_script(hw, root)}
    target_dir = Path(out) / short / "autograder"
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / "autograder.zip"
    fd, tmp = tempfile.mkstemp(prefix=".autograder-", suffix=".zip.tmp", dir=target_dir)
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w") as zf:
            for name, text in scripts.items():
                _add(zf, name, text.encode("utf-8"), 0o755)
            for arcname, path in files.items():
                mode = 0o755 if os.access(path, os.X_OK) else 0o644
                _add(zf, arcname, path.read_bytes(), mode)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target

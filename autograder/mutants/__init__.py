"""Mutants: realistic student bugs, written as small textual patches to the reference.

``rlhw audit hwN`` grades each mutant of ``autograder/mutants/hwN.py`` (``MUTANTS``) as if it
were a submission: every mutant must lose points, and a failing check must name the function
the bug is in. A mutant only changes code inside a ``### BEGIN SOLUTION`` region, since that
is all a student writes.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


@dataclass(frozen=True)
class Mutant:
    """One bug: replace ``old`` (which occurs exactly once in ``file``) by ``new``."""

    name: str
    file: str
    """Path of the patched file relative to the repository root, e.g.
    ``hw2_policy_gradient/pg.py``; its first component is the homework package."""
    old: str
    new: str
    function: str
    """The student function or method the bug is in, as checks name it (``compute_gae``,
    ``GaussianPolicy.distribution``)."""

    @property
    def package(self) -> str:
        return PurePosixPath(self.file).parts[0]


_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache")


def copy_homework(reference_root: str | Path, package: str, dest: str | Path) -> Path:
    """Copy the homework ``package`` of ``reference_root`` into ``dest`` (a submission root:
    the sandbox gives ``infrastructure`` itself) and return ``dest``."""
    source = Path(reference_root) / package
    if not source.is_dir():
        raise ValueError(f"expected a homework package at {source}, found none")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, dest / package, ignore=_SKIP, dirs_exist_ok=True)
    return dest


def patch_source(source: str, mutant: Mutant) -> str:
    """``source`` with the mutant's patch applied; ``old`` must occur exactly once."""
    count = source.count(mutant.old)
    if count != 1:
        raise ValueError(
            f"mutant {mutant.name!r}: expected its old text exactly once in {mutant.file}, "
            f"found it {count} times"
        )
    return source.replace(mutant.old, mutant.new)


def apply_mutant(reference_root: str | Path, mutant: Mutant, dest: str | Path) -> Path:
    """Copy the mutant's homework package from ``reference_root`` to ``dest``, apply the
    patch there, and return ``dest`` (the submission root to grade)."""
    reference_file = Path(reference_root) / mutant.file
    patched = patch_source(reference_file.read_text(), mutant)
    dest = copy_homework(reference_root, mutant.package, dest)
    (dest / mutant.file).write_text(patched)
    return dest

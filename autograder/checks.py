"""What a check is, and what it returns: the vocabulary shared by the engine and the suites.

A homework's hidden suite (``autograder/suites/hwN.py``) is a list of :class:`Check` s. The
engine runs each one in the grader process with a :class:`~autograder.sandbox.Sandbox` that
holds the student's code; all judging happens in the grader, never in the sandbox.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from autograder.sandbox import Sandbox

Kind = Literal["value", "gradient", "update", "statistical", "learning"]
Visibility = Literal["visible", "hidden", "after_due_date", "after_published"]
Status = Literal["passed", "failed"]


@dataclass(frozen=True)
class Outcome:
    """What a check found. ``fraction`` in [0, 1] is the share of its points it earns."""

    fraction: float
    feedback: str
    """What was compared and, on failure, the first mismatch (input, expected, got) and a hint.
    Never hidden test code or reference source."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"expected a fraction in [0, 1], got {self.fraction}")


@dataclass(frozen=True)
class Check:
    """One graded check of a homework."""

    name: str
    """Shown to the student, e.g. ``reward_to_go: discounted sums on random trajectories``."""
    function: str
    """The student function or method it tests, e.g. ``reward_to_go`` or
    ``GaussianPolicy.distribution``: what a failure names."""
    kind: Kind
    points: float
    run: Callable[[Sandbox, np.random.Generator], Outcome]
    """Judges the student's code through the sandbox; given a generator seeded by the grading
    seed and the check's name, so a regrade with the same seed is identical."""
    visibility: Visibility = "visible"
    timeout_s: float = 30.0
    """Wall-clock limit of the whole check (each sandbox call gets at most this)."""
    sandbox: Mapping[str, Any] | None = None
    """Options of a sandbox of its own for this check (``cpu_seconds``, ``memory_mb``, ...;
    see :class:`~autograder.sandbox.Sandbox`), for a check that needs more than the shared
    one allows, such as a training run; None shares the submission's sandbox."""

    def __post_init__(self) -> None:
        if self.points < 0:
            raise ValueError(f"expected points >= 0 for check {self.name!r}, got {self.points}")
        if self.timeout_s <= 0:
            raise ValueError(
                f"expected timeout_s > 0 for check {self.name!r}, got {self.timeout_s}"
            )


@dataclass(frozen=True)
class CheckResult:
    """A check after grading: the row of ``results.json`` it becomes."""

    check: Check
    score: float
    status: Status
    output: str
    seconds: float


FAST_KINDS = frozenset({"value", "gradient", "update", "statistical"})
"""Kinds of check that run in seconds; a learning-curve check trains for minutes."""


def fast_checks(checks: Sequence[Check]) -> list[Check]:
    """``checks`` without the learning-curve ones (``rlhw grade --fast``, the CI audit)."""
    return [check for check in checks if check.kind in FAST_KINDS]


def summarize_checks(checks: Sequence[Check]) -> dict[str, Any]:
    """Counts only, safe to ship to students (``<package>/GRADING.json``)::

    {"hidden_checks": 17, "hidden_points": 100.0, "kinds": {"value": 10, ...}}
    """
    kinds = Counter(check.kind for check in checks)
    return {
        "hidden_checks": len(checks),
        "hidden_points": round(float(sum(check.points for check in checks)), 4),
        "kinds": dict(sorted(kinds.items())),
    }

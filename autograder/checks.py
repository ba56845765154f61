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
Feedback = Literal["full", "property"]
"""How much of a failed check the student's ``results.json`` shows, a suite's ``feedback``:
``full``, what was compared, the first mismatch (input, expected, got) and a hint; ``property``,
what was compared and how many cases matched (the property that failed), with no input,
value, hint or text the submission's code produced. Staff always see ``full``."""
FEEDBACK_LEVELS: tuple[Feedback, ...] = ("full", "property")
DEFAULT_FEEDBACK: Feedback = "property"
"""For a suite that does not say: a student who sees the hidden inputs and the one-token fix
of a hint tunes the code to the grader instead of finding the bug (the public tests are there
to debug with)."""


DEFAULT_TIMEOUT_S = 30.0
"""Wall-clock limit of a check that does not say (a fast check: seconds of work)."""

INTERNAL_ERROR = "internal grader error"
"""How staff's view of a grader error begins (``results.json`` tells the student otherwise)."""


class GraderError(Exception):
    """A check that cannot judge because of the grader, not the submission: a stale
    calibration, a bug in the check. The message is for staff (what to fix); the student only
    reads that this check will be graded again, and keeps the other checks' points."""


@dataclass(frozen=True)
class Outcome:
    """What a check found. ``fraction`` in [0, 1] is the share of its points it earns."""

    fraction: float
    feedback: str
    """What was compared and, on failure, the first mismatch (input, expected, got) and a hint.
    Never hidden test code or reference source."""
    brief: str | None = None
    """What a ``property`` suite shows the student instead (:data:`Feedback`): which property
    failed and how many cases matched, without inputs, values, hints or any text the
    submission produced. None: only the check's name and score are shown."""

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
    timeout_s: float = DEFAULT_TIMEOUT_S
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
    """The whole feedback (staff's view), or for a grader error what went wrong, for staff."""
    seconds: float
    brief: str | None = None
    """:attr:`Outcome.brief`: what a ``property`` suite shows the student."""
    grader_error: bool = False
    """The check could not judge because of the grader (:class:`GraderError`, a check that
    broke, hung or could not get a sandbox): it earns nothing yet, staff are told, and the
    student reads that it will be graded again."""


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

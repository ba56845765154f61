"""Correct alternatives: the graded functions written another correct way.

A hidden suite must give full marks to every correct solution, not only to the reference's
way of writing it. ``autograder/alternatives/hwN.py`` holds ``ALTERNATIVES``: for every graded
function, at least two correct implementations that differ from the reference's in how they
compute (a loop against vectorised code, float32 against float64, ``torch.distributions``
against the hand-written formula, in place against functional, another valid order of
reductions). Each is a patch to the reference, written like a mutant
(:class:`~autograder.mutants.Mutant`: ``old`` replaced by ``new`` inside a solution region),
and ``rlhw audit hwN`` grades each one under every seed: a point lost is a false failure, and
one false failure fails the audit.
"""

from __future__ import annotations

from autograder.mutants import Mutant

Alternative = Mutant
"""A correct rewrite of ``function``: the same patch as a mutant's, which must lose nothing."""

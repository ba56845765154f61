"""Hidden suites, one module per homework: ``hw2.py`` defines ``SUITE``, an
:class:`autograder.kit.Suite` (the student package it grades, its checks, its learning-curve
checks)."""

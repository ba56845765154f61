"""Hidden suites, one module per homework: ``hw2.py`` defines ``PACKAGE`` (the student package
it grades) and ``SUITE`` (a list of :class:`autograder.checks.Check`)."""

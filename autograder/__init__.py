"""The autograder: release, sandboxed grading, checks, reports."""

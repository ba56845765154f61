"""Homework 1: imitation learning: behaviour cloning and DAgger from MuJoCo experts."""

RELEASE_DATA = ("experts/*",)
"""What ``rlhw release hw1`` ships besides code: the experts and their demonstrations."""
INSTRUCTOR_ONLY = ("tools/*", "tests/test_tools.py")
"""What stays with the staff: the tools that train the experts (they need homework 3's
reference) and their test."""

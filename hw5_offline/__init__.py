"""Homework 5: exploration and offline reinforcement learning: RND, CQL, AWAC and IQL on
PointMass mazes, and offline-to-online fine-tuning."""

RELEASE_DATA = ("behaviour/*",)
"""What ``rlhw release hw5`` ships besides code: the behaviour policies that make the Hopper
datasets on first use (``hopper_data.py``)."""
INSTRUCTOR_ONLY = ("tools/*", "tests/test_tools.py")
"""What stays with the staff: the tool that makes the Hopper datasets (it needs homework 3's
reference) and its test."""

"""Shared plumbing for every homework: environments, sampling, replay, logging, plots, seeding.

Nothing in here is an algorithm: the update maths of each method lives in its homework.
"""

"""Homework 3: Q-learning and actor-critic: not released yet."""

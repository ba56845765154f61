"""Homework 4: model-based reinforcement learning: not released yet."""

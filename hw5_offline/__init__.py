"""Homework 5: exploration and offline reinforcement learning: not released yet."""

"""Homework 1: imitation learning: not released yet."""

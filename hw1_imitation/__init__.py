"""Homework 1: imitation learning: behaviour cloning and DAgger from MuJoCo experts."""

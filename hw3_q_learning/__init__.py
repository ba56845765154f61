"""Homework 3: Q-learning (DQN, double DQN) and actor-critic (SAC)."""

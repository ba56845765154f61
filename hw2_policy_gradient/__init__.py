"""Homework 2: policy gradients (REINFORCE, reward-to-go, baselines, GAE; PPO as an extension)."""

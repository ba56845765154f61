"""Instructor tools: make the Hopper datasets of homework 5's continuous part from homework 1's
expert and a SAC run of homework 3's reference. Students get the datasets these write, not these
tools (they need homework 3's reference)."""

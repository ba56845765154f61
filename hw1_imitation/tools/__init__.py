"""Instructor tools: train the experts with the homework-3 SAC reference and record their
demonstrations. Students get what these write (``hw1_imitation/experts/``), not these tools."""

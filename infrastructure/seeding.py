"""One place that seeds every random number generator a run uses."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python's, NumPy's and PyTorch's global generators with ``seed``.

    Environments are *not* seeded here: seed them once with ``env.reset(seed=...)``
    (``infrastructure.envs.make_env`` does it for you) and seed their action spaces.

    Returns:
        A fresh ``numpy.random.Generator`` seeded with ``seed``, for code that prefers an
        explicit generator to the global one.
    """
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool):
        raise TypeError(f"expected an integer seed, got {seed!r}")
    if seed < 0:
        raise ValueError(f"expected a seed >= 0, got {seed}")
    seed = int(seed)  # random.seed rejects NumPy integers
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (code that uses the global generator)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)

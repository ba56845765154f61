"""One place that seeds every random number generator a run uses."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

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


@contextmanager
def generators_kept(*generators: np.random.Generator) -> Iterator[None]:
    """Run a block, then put back the state of Python's, NumPy's and PyTorch's global
    generators and of ``generators``: whatever the block draws, the code after it draws the
    same numbers as without it (for an evaluation that must not change the training).
    """
    python_state, numpy_state = random.getstate(), np.random.get_state()  # noqa: NPY002
    states = [generator.bit_generator.state for generator in generators]
    try:
        with torch.random.fork_rng():
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)  # noqa: NPY002
        for generator, state in zip(generators, states, strict=True):
            generator.bit_generator.state = state

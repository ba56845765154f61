"""A ring buffer of transitions for off-policy methods (hw3, hw4, hw5)."""

from __future__ import annotations

import numpy as np

from infrastructure.sampler import Batch


class ReplayBuffer:
    """Fixed-capacity storage of ``(s, a, r, s', terminated)``; the oldest transitions are
    overwritten first, so ``len(buffer)`` never exceeds ``capacity``.

    Only ``terminated`` is stored as the end-of-episode information, because it is the only
    flag a Bellman target needs: ``y = r + gamma * (1 - terminated) * V(s')``. Time-limit
    truncation needs no flag since ``s'`` is the true final observation.

    Storage is allocated on the first ``add`` from the shapes and dtypes it sees. Subclasses
    that store observations differently (a frame buffer for Atari) override ``_write`` and
    ``_read``.

    Args:
        capacity: maximum number of transitions kept.
        seed: seeds the generator that draws minibatches.
    """

    def __init__(self, capacity: int, seed: int | None = None):
        if capacity < 1:
            raise ValueError(f"expected capacity >= 1, got {capacity}")
        self.capacity = capacity
        self.rng = np.random.default_rng(seed)
        self._next = 0  # index the next transition is written to
        self._size = 0
        self._arrays: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return self._size

    def _shape_text(self, shape: tuple[int, ...]) -> str:
        return "(n" + "".join(f", {d}" for d in shape) + ")"

    def _check(self, fields: dict[str, np.ndarray]) -> None:
        """Validate every field before anything is written, so a bad call changes nothing."""
        n = len(fields["rewards"])
        for name, values in fields.items():
            if values.ndim == 0 or len(values) != n:
                raise ValueError(
                    f"expected {n} {name} (one per reward), got "
                    f"{'a scalar' if values.ndim == 0 else len(values)}"
                )
            if name in self._arrays and values.shape[1:] != self._arrays[name].shape[1:]:
                raise ValueError(
                    f"expected {name} of shape "
                    f"{self._shape_text(self._arrays[name].shape[1:])}, "
                    f"got {values.shape}"
                )

    def _write(self, index: np.ndarray, fields: dict[str, np.ndarray]) -> None:
        """Store ``fields`` at ``index``; storage is allocated on the first call. A frame
        buffer for Atari overrides this and :meth:`_read`."""
        for name, values in fields.items():
            if name not in self._arrays:
                self._arrays[name] = np.zeros((self.capacity, *values.shape[1:]), values.dtype)
            self._arrays[name][index] = values

    def _read(self, index: np.ndarray) -> dict[str, np.ndarray]:
        return {name: array[index] for name, array in self._arrays.items()}

    def add(
        self,
        observations: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_observations: np.ndarray,
        terminated: np.ndarray,
    ) -> None:
        """Add ``n`` transitions; every argument has a leading dimension ``n``."""
        fields = {
            "observations": np.asarray(observations),
            "actions": np.asarray(actions),
            "rewards": np.asarray(rewards, dtype=np.float32),
            "next_observations": np.asarray(next_observations),
            "terminated": np.asarray(terminated, dtype=bool),
        }
        self._check(fields)
        n = len(fields["rewards"])
        if n > self.capacity:  # only the newest `capacity` transitions would survive
            fields = {name: values[n - self.capacity :] for name, values in fields.items()}
            n = self.capacity
        index = (self._next + np.arange(n)) % self.capacity
        self._write(index, fields)
        self._next = int((self._next + n) % self.capacity)
        self._size = min(self._size + n, self.capacity)

    def add_batch(self, batch: Batch) -> None:
        """Add every transition of a sampler :class:`Batch`."""
        self.add(
            batch.observations,
            batch.actions,
            batch.rewards,
            batch.next_observations,
            batch.terminated,
        )

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        """A minibatch drawn uniformly with replacement: ``observations``, ``actions``,
        ``rewards`` (float32), ``next_observations``, ``terminated`` (bool)."""
        if self._size == 0:
            raise ValueError("cannot sample from an empty replay buffer; add transitions first")
        if batch_size < 1:
            raise ValueError(f"expected batch_size >= 1, got {batch_size}")
        return self._read(self.rng.integers(0, self._size, size=batch_size))

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
        return self._read(self._draw(batch_size))

    def _draw(self, batch_size: int) -> np.ndarray:
        """Indices of a minibatch, uniform over the stored transitions."""
        return self.rng.integers(0, self._size, size=batch_size)


class FrameBuffer(ReplayBuffer):
    """A replay buffer for stacked-frame observations (Atari) that stores each frame once.

    An observation is a stack of the last ``k`` frames, shape ``(k, *frame_shape)``, as
    ``FrameStackObservation`` makes it (an episode starts with its first frame repeated ``k``
    times). Consecutive transitions of one episode share ``k - 1`` frames, and a transition's
    next observation is the following transition's observation, so storing stacks would keep
    every frame ``2k`` times. Here each transition stores the number of its newest frame in a
    ring of frames, and :meth:`sample` rebuilds both stacks from that ring: the same arrays a
    plain :class:`ReplayBuffer` returns, for about ``1 / (2k)`` of the memory.

    The saving needs transitions added in the order they were played, one environment at a
    time (a sampler over one environment does this). A transition that does not continue the
    one added before it costs its whole stack, so any order is stored correctly.

    Args:
        capacity: maximum number of transitions kept.
        seed: seeds the generator that draws minibatches.
        frame_capacity: frames kept; a transition whose frames were overwritten is never drawn.
            The default, ``1.5 * capacity``, is plenty for episodes longer than a few steps.
    """

    def __init__(self, capacity: int, seed: int | None = None, frame_capacity: int | None = None):
        super().__init__(capacity, seed)
        self.frame_capacity = (
            capacity + capacity // 2 + 16 if frame_capacity is None else frame_capacity
        )
        if self.frame_capacity < 8:
            raise ValueError(f"expected frame_capacity >= 8, got {self.frame_capacity}")
        self._frames: np.ndarray | None = None
        self._k = 0  # frames per stack, known from the first add
        self._frames_written = 0  # frames ever written; frame number n sits at n % frame_capacity
        self._frame_no = np.zeros(capacity, dtype=np.int64)  # newest frame of each observation
        self._history = np.zeros(capacity, dtype=np.int64)  # older frames of it in the episode
        self._last: tuple[np.ndarray, int, int] | None = None  # next obs, frame no., history

    @property
    def frames_stored(self) -> int:
        """Frames in the ring (at most ``frame_capacity``): what the memory holds."""
        return min(self._frames_written, self.frame_capacity)

    def _check(self, fields: dict[str, np.ndarray]) -> None:
        super()._check(fields)
        observations, next_observations = fields["observations"], fields["next_observations"]
        if observations.ndim < 2 or next_observations.shape != observations.shape:
            raise ValueError(
                "expected stacked observations of shape (n, k, *frame) and next observations "
                f"of the same shape, got {observations.shape} and {next_observations.shape}"
            )
        if self._frames is not None and observations.shape[1:] != self._stack_shape:
            raise ValueError(
                f"expected observations of shape {self._shape_text(self._stack_shape)}, "
                f"got {observations.shape}"
            )

    @property
    def _stack_shape(self) -> tuple[int, ...]:
        assert self._frames is not None
        return (self._k, *self._frames.shape[1:])

    def _push(self, frame: np.ndarray) -> int:
        assert self._frames is not None
        number = self._frames_written
        self._frames[number % self.frame_capacity] = frame
        self._frames_written += 1
        return number

    def _write(self, index: np.ndarray, fields: dict[str, np.ndarray]) -> None:
        fields = dict(fields)
        observations = fields.pop("observations")
        next_observations = fields.pop("next_observations")
        super()._write(index, fields)  # actions, rewards, terminated
        if self._frames is None:
            self._k = observations.shape[1]
            shape = (self.frame_capacity, *observations.shape[2:])
            self._frames = np.zeros(shape, dtype=observations.dtype)
        for i, obs, next_obs in zip(index, observations, next_observations, strict=True):
            if self._last is not None and np.array_equal(obs, self._last[0]):
                number, history = self._last[1] + 1, min(self._last[2] + 1, self._k - 1)
            elif (obs == obs[0]).all():  # an episode's start: one frame, repeated
                number, history = self._push(obs[-1]), 0
            else:  # not the continuation of the transition before: the whole stack
                number = [self._push(frame) for frame in obs][-1]
                history = self._k - 1
            self._push(next_obs[-1])
            self._frame_no[i], self._history[i] = number, history
            self._last = (next_obs.copy(), number, history)

    def _stack_numbers(self, newest: np.ndarray, history: np.ndarray) -> np.ndarray:
        """Frame numbers of the stacks, oldest first: position ``j`` holds the frame
        ``k - 1 - j`` steps back, or the episode's first one."""
        back = np.arange(self._k - 1, -1, -1)
        return newest[:, None] - np.minimum(back[None, :], history[:, None])

    def _read(self, index: np.ndarray) -> dict[str, np.ndarray]:
        assert self._frames is not None
        fields = super()._read(index)
        newest, history = self._frame_no[index], self._history[index]
        observations = self._stack_numbers(newest, history)
        next_observations = self._stack_numbers(newest + 1, history + 1)
        fields["observations"] = self._frames[observations % self.frame_capacity]
        fields["next_observations"] = self._frames[next_observations % self.frame_capacity]
        return fields

    def _draw(self, batch_size: int) -> np.ndarray:
        index = super()._draw(batch_size)
        oldest_kept = self._frames_written - self.frame_capacity
        for _ in range(100):
            stale = self._frame_no[index] - self._history[index] < oldest_kept
            if not stale.any():
                return index
            index[stale] = super()._draw(int(stale.sum()))
        raise RuntimeError(
            "could not draw transitions whose frames are still stored: add transitions in the "
            "order they were played, one environment at a time, or raise frame_capacity"
        )

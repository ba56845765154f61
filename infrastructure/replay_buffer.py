"""A ring buffer of transitions for off-policy methods (hw3, hw4, hw5)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

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

    :meth:`state_dict` and :meth:`load_state_dict` save and restore everything a resumed run
    needs, as arrays, numbers and one string, so that a checkpoint holds no pickled object.

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

    def state_dict(self) -> dict[str, Any]:
        """The buffer's contents and position, and the state of the generator that draws its
        minibatches: what :meth:`load_state_dict` needs to go on exactly where this buffer is.

        Values are NumPy arrays (``data.NAME``, one per stored field, the stored transitions
        only), integers, and the generator's state as a JSON string: ``np.savez`` writes them
        without pickle, and so does ``torch.save`` once the arrays are tensors (then
        ``torch.load(..., weights_only=True)`` reads them). The arrays are views of the
        buffer's storage: save them before adding more.
        """
        state: dict[str, Any] = {
            "capacity": self.capacity,
            "next": self._next,
            "size": self._size,
            "rng": json.dumps(self.rng.bit_generator.state),
        }
        for name, array in self._arrays.items():
            state[f"data.{name}"] = array[: self._size]
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (values may be arrays, tensors on the CPU,
        or 0-d arrays where numbers were saved, as ``np.load`` gives them back). The buffer
        must have the same capacity; a state that does not fit is refused before anything
        changes."""
        _require(state, ("capacity", "next", "size", "rng"), type(self).__name__)
        if int(state["capacity"]) != self.capacity:
            raise ValueError(
                f"expected a replay buffer state of capacity {self.capacity}, "
                f"got capacity {int(state['capacity'])}"
            )
        size, next_index = int(state["size"]), int(state["next"])
        if not (0 <= size <= self.capacity and 0 <= next_index < self.capacity):
            raise ValueError(
                f"expected 0 <= size <= {self.capacity} and 0 <= next < {self.capacity}, "
                f"got size={size}, next={next_index}"
            )
        arrays: dict[str, np.ndarray] = {}
        for key, value in state.items():
            if key.startswith("data."):
                arrays[key.removeprefix("data.")] = _in_ring(
                    np.asarray(value), size, self.capacity, key
                )
        rng = np.random.default_rng()
        rng.bit_generator.state = json.loads(str(state["rng"]))
        self._arrays, self._size, self._next = arrays, size, next_index
        self.rng.bit_generator.state = rng.bit_generator.state


def _require(state: Mapping[str, Any], keys: tuple[str, ...], what: str) -> None:
    missing = [key for key in keys if key not in state]
    if missing:
        raise ValueError(
            f"expected a {what} state (from its state_dict) with keys {', '.join(keys)}; "
            f"missing {', '.join(missing)}, got keys {', '.join(sorted(state)) or 'none'}"
        )


def _in_ring(values: np.ndarray, size: int, capacity: int, name: str) -> np.ndarray:
    """``values``, the first ``size`` rows of a ring of ``capacity`` rows, in a new ring."""
    if values.ndim == 0 or len(values) != size:
        got = "a scalar" if values.ndim == 0 else f"{len(values)} rows"
        raise ValueError(f"expected {size} rows in {name} (the state's size), got {got}")
    ring = np.zeros((capacity, *values.shape[1:]), values.dtype)
    ring[:size] = values
    return ring


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

    def state_dict(self) -> dict[str, Any]:
        """:meth:`ReplayBuffer.state_dict` and the frames: the ring of frames (``frames``, the
        stored ones only), each transition's newest frame number and history, and the last
        transition added, which the next one may continue."""
        state = super().state_dict()
        state |= {
            "frame_capacity": self.frame_capacity,
            "frames_per_stack": self._k,
            "frames_written": self._frames_written,
            "frame_numbers": self._frame_no[: self._size],
            "histories": self._history[: self._size],
        }
        if self._frames is not None:
            state["frames"] = self._frames[: self.frames_stored]
        if self._last is not None:
            next_observation, number, history = self._last
            state |= {
                "last.next_observation": next_observation,
                "last.frame_number": number,
                "last.history": history,
            }
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        keys = ("size", "frame_capacity", "frames_per_stack", "frames_written", "frame_numbers")
        _require(state, (*keys, "histories"), type(self).__name__)
        if int(state["frame_capacity"]) != self.frame_capacity:
            raise ValueError(
                f"expected a frame buffer state of frame_capacity {self.frame_capacity}, "
                f"got frame_capacity {int(state['frame_capacity'])}"
            )
        size, written = int(state["size"]), int(state["frames_written"])
        frame_numbers = _in_ring(
            np.asarray(state["frame_numbers"]), size, self.capacity, "frame_numbers"
        )
        histories = _in_ring(np.asarray(state["histories"]), size, self.capacity, "histories")
        frames = None
        if "frames" in state:
            stored = min(written, self.frame_capacity)
            frames = _in_ring(np.asarray(state["frames"]), stored, self.frame_capacity, "frames")
        last = None
        if "last.next_observation" in state:
            last = (
                np.array(state["last.next_observation"]),
                int(state["last.frame_number"]),
                int(state["last.history"]),
            )
        super().load_state_dict(state)
        self._k, self._frames_written = int(state["frames_per_stack"]), written
        self._frame_no, self._history, self._frames, self._last = (
            frame_numbers,
            histories,
            frames,
            last,
        )

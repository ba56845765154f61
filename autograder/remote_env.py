"""Environments that live in the grader: the steps a learning check counts are steps it took.

A learning check must know how many environment steps a student's trainer took before it
judges the policy, and a count kept in the student's process can say anything. So, in the
sandbox of a learning check, ``infrastructure.envs.make_env`` returns a :class:`RemoteEnv`: a
``gym.Env`` whose ``reset`` and ``step`` are requests on a pipe of their own to an
:class:`EnvService` in the grader, which runs the real environment, made by the grader's own
``make_env``, and counts every step it serves. The milestones of the check are that count.

What the count proves is a floor, not a ceiling: the student's process can still simulate an
environment of its own (Gymnasium is importable there) and learn from it. What binds that is
the sandbox's CPU and wall-clock limits, enforced from outside; what the check credits is the
weights it fetches and evaluates itself.

Wire format, both ways: ``HEADER`` (op or status, environment handle, payload length),
then the payload. Requests, from the worker:

=========  ==================================================================================
``MAKE``   JSON ``{"env_id", "seed", "max_episode_steps", "frame_stack", "kwargs"}``; the
           reply is JSON ``{"handle", "observation_space", "action_space"}``
``RESET``  JSON ``{"seed"}``; the reply is the observation's bytes, then the info as JSON
``STEP``   the action's bytes (the action space's dtype and shape, little-endian); the reply
           is the observation's bytes, ``REWARD`` (reward, terminated, truncated), then the
           info as JSON
``CLOSE``  nothing; the reply is empty
=========  ==================================================================================

A reply's status is ``OK`` or ``ERROR`` (its payload: the message, UTF-8). The grader decodes
nothing but fixed-size numbers and small JSON (strictly, with :mod:`autograder.protocol`); a
request it cannot use gets an ``ERROR``, one over :data:`MAX_REQUEST_BYTES` closes the channel,
and the worker's environments raise from then on.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import struct
import threading
from collections.abc import Collection
from typing import Any

import numpy as np

from autograder import protocol

HEADER = struct.Struct("<BHI")  # op or status, handle, payload length
REWARD = struct.Struct("<d??")  # reward, terminated, truncated
MAKE, RESET, STEP, CLOSE = 1, 2, 3, 4
OK, ERROR = 0, 1
MAX_REQUEST_BYTES = 2**16
"""The largest request the grader reads (a ``MAKE``'s JSON, an action): actions are small."""
MAX_ENVS = 64
"""Environments a sandbox may have open at once."""
_MESSAGE_CHARS = 500
_SPACE_DTYPES = frozenset({"float32", "float64", "uint8", "int64", "int32"})


# ------------------------------------------------------------------------------- both sides


class _Reader:
    """Reads messages from a pipe, most in one system call."""

    def __init__(self, fd: int):
        self.fd = fd
        self.buffer = b""

    def read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = os.read(self.fd, max(n - len(self.buffer), 2**16))
            if not chunk:
                raise EOFError("the environment channel was closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def message(self, max_length: int) -> tuple[int, int, bytes]:
        """The next message's op or status, handle and payload; a payload over
        ``max_length`` bytes raises :class:`EOFError` (the channel cannot go on)."""
        code, handle, length = HEADER.unpack(self.read(HEADER.size))
        if length > max_length:
            raise EOFError(f"a message of {length} bytes, over the {max_length}-byte limit")
        return code, handle, self.read(length)


def _write(fd: int, code: int, handle: int, payload: bytes = b"") -> None:
    view = memoryview(HEADER.pack(code, handle, len(payload)) + payload)
    while view:
        view = view[os.write(fd, view) :]


def describe_space(space: Any) -> dict[str, Any]:
    """A Box or Discrete space as plain JSON values."""
    import gymnasium as gym

    if isinstance(space, gym.spaces.Discrete):
        return {"type": "discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, gym.spaces.Box) and str(space.dtype) in _SPACE_DTYPES:
        return {
            "type": "box",
            "shape": list(space.shape),
            "dtype": str(space.dtype),
            "low": [_plain_number(x) for x in space.low.ravel().tolist()],
            "high": [_plain_number(x) for x in space.high.ravel().tolist()],
        }
    raise TypeError(f"expected a Box or Discrete space, got {space}")


def _plain_number(x: float | int) -> float | int | str:
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)  # "inf", "-inf", "nan": json.loads gives them back through float()
    return x


def build_space(description: dict[str, Any]) -> Any:
    """The space :func:`describe_space` described."""
    import gymnasium as gym

    if description["type"] == "discrete":
        return gym.spaces.Discrete(description["n"], start=description["start"])
    shape, dtype = tuple(description["shape"]), np.dtype(description["dtype"])
    low = np.array([float(x) for x in description["low"]], dtype=dtype).reshape(shape)
    high = np.array([float(x) for x in description["high"]], dtype=dtype).reshape(shape)
    return gym.spaces.Box(low, high, shape, dtype)


def _wire_layout(space: Any) -> tuple[np.dtype, tuple[int, ...]]:
    """How an element of ``space`` travels: dtype (little-endian) and shape."""
    import gymnasium as gym

    if isinstance(space, gym.spaces.Discrete):
        return np.dtype("<i8"), ()
    return np.dtype(space.dtype).newbyteorder("<"), tuple(space.shape)


# ------------------------------------------------------------------------------- the grader


class _Served:
    """One environment of the service, with what its observations and actions look like."""

    def __init__(self, env: Any):
        self.env = env
        self.spaces = {  # as the MAKE reply describes them to the worker
            "observation_space": describe_space(env.observation_space),
            "action_space": describe_space(env.action_space),
        }
        self.obs_dtype, self.obs_shape = _wire_layout(env.observation_space)
        self.act_dtype, self.act_shape = _wire_layout(env.action_space)
        self.act_bytes = self.act_dtype.itemsize * math.prod(self.act_shape)
        self.discrete = self.spaces["action_space"]["type"] == "discrete"

    def observation(self, obs: Any) -> bytes:
        array = np.asarray(obs, dtype=self.obs_dtype)
        if array.shape != self.obs_shape:
            raise ValueError(f"observation of shape {array.shape}, expected {self.obs_shape}")
        return array.tobytes()

    def action(self, payload: bytes) -> Any:
        if len(payload) != self.act_bytes:
            raise ValueError(f"an action of {len(payload)} bytes, expected {self.act_bytes}")
        array = np.frombuffer(payload, dtype=self.act_dtype).reshape(self.act_shape).copy()
        return int(array) if self.discrete else array


class EnvService:
    """Serves a sandbox's environments from the grader's process and counts their steps.

    Args:
        env_ids: the environments a worker may make (anything else is refused); each is made
            by the grader's own ``infrastructure.envs.make_env``.

    :meth:`serve` runs in a thread of its own for each worker, until the worker's end of
    the channel closes; :attr:`steps` counts the steps served to every worker so far.
    """

    def __init__(self, env_ids: Collection[str]):
        self.env_ids = frozenset(env_ids)
        self.steps = 0
        self._lock = threading.Lock()

    def start(self, request_fd: int, reply_fd: int) -> threading.Thread:
        """Serve one worker on these descriptors (the service closes them when done)."""
        thread = threading.Thread(
            target=self.serve, args=(request_fd, reply_fd), name="rlhw-env-service", daemon=True
        )
        thread.start()
        return thread

    def serve(self, request_fd: int, reply_fd: int) -> None:
        envs: dict[int, _Served] = {}
        requests = _Reader(request_fd)
        try:
            while True:  # a request over the limit ends it: the worker's envs raise from then
                op, handle, payload = requests.message(MAX_REQUEST_BYTES)
                try:
                    reply = self._handle(op, handle, payload, envs)
                except Exception as error:  # a bad request, or the environment refused it
                    _write(reply_fd, ERROR, handle, _error_text(error))
                    continue
                _write(reply_fd, OK, handle, reply)
        except (EOFError, OSError, struct.error):
            return  # the worker is gone, or its end of the pipe is
        finally:
            for served in envs.values():
                _close_quietly(served.env)
            for fd in (request_fd, reply_fd):
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _handle(self, op: int, handle: int, payload: bytes, envs: dict[int, _Served]) -> bytes:
        if op == MAKE:
            return self._make_env(payload, envs)
        if op not in (RESET, STEP, CLOSE):
            raise ValueError(f"no such request: {op}")
        served = envs.get(handle)
        if served is None:
            raise ValueError(f"no open environment {handle}")
        if op == STEP:
            action = served.action(payload)
            obs, reward, terminated, truncated, info = served.env.step(action)
            with self._lock:
                self.steps += 1
            return (
                served.observation(obs)
                + REWARD.pack(float(reward), bool(terminated), bool(truncated))
                + _info_bytes(info)
            )
        if op == RESET:
            seed = _json_object(payload).get("seed")
            _check_count("seed", seed)
            obs, info = served.env.reset(seed=seed)
            return served.observation(obs) + _info_bytes(info)
        del envs[handle]  # CLOSE
        _close_quietly(served.env)
        return b""

    def _make_env(self, payload: bytes, envs: dict[int, _Served]) -> bytes:
        request = _json_object(payload)
        env_id = request.get("env_id")
        if env_id not in self.env_ids:
            allowed = ", ".join(sorted(self.env_ids))
            raise ValueError(f"this check's environments are {allowed}; got {env_id!r}")
        if len(envs) >= MAX_ENVS:
            raise ValueError(f"at most {MAX_ENVS} environments may be open at once")
        seed, steps = request.get("seed"), request.get("max_episode_steps")
        frame_stack, kwargs = request.get("frame_stack", 4), request.get("kwargs", {})
        _check_count("seed", seed)
        _check_count("max_episode_steps", steps)
        if type(frame_stack) is not int or not 1 <= frame_stack <= 16:
            raise ValueError(f"expected frame_stack from 1 to 16, got {frame_stack!r}")
        if type(kwargs) is not dict or any(
            type(v) not in (bool, int, float, str) or k.startswith("render")
            for k, v in kwargs.items()
        ):
            raise ValueError("expected keyword arguments with plain values, and no render mode")
        from infrastructure.envs import make_env  # the grader's own

        env = make_env(env_id, seed, max_episode_steps=steps, frame_stack=frame_stack, **kwargs)
        try:
            served = _Served(env)
        except Exception:
            _close_quietly(env)
            raise
        handle = next(h for h in range(1, MAX_ENVS + 2) if h not in envs)
        envs[handle] = served
        return json.dumps({"handle": handle, **served.spaces}).encode()


def _check_count(name: str, value: Any) -> None:
    """Refuse ``value`` unless it is None or an int from 0 to 2^63 - 1 (a seed, a limit)."""
    if value is not None and (type(value) is not int or not 0 <= value < 2**63):
        raise ValueError(f"expected {name} to be None or an int >= 0, got {value!r}")


def _json_object(payload: bytes) -> dict[str, Any]:
    value = protocol.decode_body(protocol.JSON_LENGTH.pack(len(payload)) + payload)
    if type(value) is not dict:
        raise TypeError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _info_bytes(info: Any) -> bytes:
    return json.dumps(info, default=_plain_info, allow_nan=True).encode() if info else b""


def _plain_info(value: Any) -> Any:
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    return repr(value)


def _error_text(error: BaseException) -> bytes:
    text = protocol.safe_text(f"{type(error).__name__}: {error}", _MESSAGE_CHARS)
    return text.encode("utf-8", "replace")


def _close_quietly(env: Any) -> None:
    with contextlib.suppress(Exception):
        env.close()


# ------------------------------------------------------------------------------- the worker


class _Channel:
    """The worker's end: one request and its reply at a time, whatever thread asks."""

    def __init__(self, request_fd: int, reply_fd: int):
        self.request_fd, self.replies = request_fd, _Reader(reply_fd)
        self.lock = threading.Lock()

    def ask(self, op: int, handle: int, payload: bytes = b"") -> bytes:
        with self.lock:
            try:
                _write(self.request_fd, op, handle, payload)
                status, _, reply = self.replies.message(2**31)
            except (OSError, EOFError) as error:
                raise ConnectionError(
                    "the grader's environment service hung up (after a malformed request?)"
                ) from error
        if status != OK:
            raise RuntimeError(f"the grader's environment: {reply.decode('utf-8', 'replace')}")
        return reply


def _gym_env_class() -> type:
    import gymnasium as gym

    class RemoteEnv(gym.Env):  # type: ignore[type-arg]
        """A ``gym.Env`` whose simulator runs in the grader (see the module docstring)."""

        def __init__(self, channel: _Channel, request: dict[str, Any]):
            reply = json.loads(channel.ask(MAKE, 0, json.dumps(request).encode()))
            self._channel, self._handle = channel, int(reply["handle"])
            self.observation_space = build_space(reply["observation_space"])
            self.action_space = build_space(reply["action_space"])
            self._obs_dtype, self._obs_shape = _wire_layout(self.observation_space)
            self._act_dtype, self._act_shape = _wire_layout(self.action_space)
            self._obs_bytes = self._obs_dtype.itemsize * math.prod(self._obs_shape)
            self._closed = False

        def _observation(self, reply: bytes) -> tuple[np.ndarray, bytes]:
            obs = np.frombuffer(reply[: self._obs_bytes], dtype=self._obs_dtype)
            dtype = self.observation_space.dtype
            return obs.reshape(self._obs_shape).astype(dtype), reply[self._obs_bytes :]

        def reset(
            self, *, seed: int | None = None, options: dict[str, Any] | None = None
        ) -> tuple[np.ndarray, dict[str, Any]]:
            if options:
                raise ValueError("reset options are not supported in grading")
            reply = self._channel.ask(RESET, self._handle, json.dumps({"seed": seed}).encode())
            obs, rest = self._observation(reply)
            return obs, json.loads(rest) if rest else {}

        def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
            array = np.asarray(action).astype(self._act_dtype).reshape(self._act_shape)
            reply = self._channel.ask(STEP, self._handle, array.tobytes())
            obs, rest = self._observation(reply)
            reward, terminated, truncated = REWARD.unpack(rest[: REWARD.size])
            info = json.loads(rest[REWARD.size :]) if len(rest) > REWARD.size else {}
            return obs, reward, terminated, truncated, info

        def close(self) -> None:
            if not self._closed:
                self._closed = True
                with contextlib.suppress(ConnectionError, RuntimeError):
                    self._channel.ask(CLOSE, self._handle)

    return RemoteEnv


def install(request_fd: int, reply_fd: int) -> None:
    """In the worker: make ``infrastructure.envs.make_env`` return environments served by
    the grader on these descriptors (call it before any student module is imported, so that
    ``from infrastructure.envs import make_env`` binds the served one)."""
    import infrastructure.envs as envs

    channel = _Channel(request_fd, reply_fd)
    remote_env = _gym_env_class()

    def make_env(
        env_id: str,
        seed: int | None = None,
        *,
        max_episode_steps: int | None = None,
        frame_stack: int = 4,
        **kwargs: Any,
    ) -> Any:
        request = {
            "env_id": env_id,
            "seed": seed,
            "max_episode_steps": max_episode_steps,
            "frame_stack": frame_stack,
            "kwargs": kwargs,
        }
        env = remote_env(channel, request)
        if seed is not None:
            env.action_space.seed(seed)
        return env

    make_env.__doc__ = envs.make_env.__doc__
    envs.make_env = make_env  # type: ignore[assignment]

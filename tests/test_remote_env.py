"""Environments served by the grader (:mod:`autograder.remote_env`): in a learning check's
sandbox, ``infrastructure.envs.make_env`` gives environments that run in the grader, which
counts their steps. A served environment behaves as the local one (same observations, rewards
and ends, under the homeworks' wrappers), only the check's environments are served, a bad
request gets an error and leaves the count alone, and a forged message closes the channel.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autograder.sandbox import Failure, Sandbox, Success

SERVED = ("CartPole-v1", "InvertedPendulum-v5")

STUDENT = '''
import os
import gymnasium as gym
import numpy as np
from infrastructure import envs
from infrastructure.envs import make_env


def rollout(env_id, steps, wrapper=None):
    """Observations, rewards and ends of ``steps`` steps of seeded random play."""
    env = make_env(env_id, 0)
    if wrapper == "clip":
        env = gym.wrappers.ClipAction(env)
    elif wrapper == "rescale":
        env = gym.wrappers.RescaleAction(env, np.float32(-1.0), np.float32(1.0))
    env.action_space.seed(1)
    obs, _ = env.reset(seed=2)
    seen = [obs]
    for _ in range(steps):
        action = env.action_space.sample() * (3 if wrapper == "clip" else 1)
        obs, reward, terminated, truncated, _ = env.step(action)
        seen.append(np.concatenate([obs, [reward, terminated, truncated]]))
        if terminated or truncated:
            seen.append(env.reset()[0])
    env.close()
    return [np.asarray(x, dtype=np.float64) for x in seen]


def kind(env_id):
    return type(make_env(env_id, 0)).__name__


def step_after_close():
    env = make_env("CartPole-v1", 0)
    env.reset(seed=0)
    env.close()
    env.step(0)


def bad_action():
    env = make_env("CartPole-v1", 0)
    env.reset(seed=0)
    try:
        env.step(7)
    except RuntimeError as error:
        message = str(error)
    env.step(1)  # the channel goes on
    return message


def forge(header_length):
    """Write a request of ``header_length`` bytes' payload straight onto the channel."""
    import struct
    from autograder import remote_env  # the worker's trusted copy

    env = make_env("CartPole-v1", 0)
    env.reset(seed=0)
    channel = env.unwrapped._channel
    os.write(channel.request_fd, struct.pack("<BHI", remote_env.STEP, 1, header_length))
    env.step(0)
'''


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    folder = tmp_path_factory.mktemp("submission")
    (folder / "student.py").write_text(STUDENT)
    with Sandbox(folder, serve_envs=SERVED, preload=("numpy",), timeout_s=60) as box:
        yield box


def local_rollout(env_id: str, steps: int, wrapper: str | None = None) -> list:
    """The same rollout, the student's own code, run in the grader with its own environments."""
    namespace: dict[str, Any] = {}
    exec(STUDENT, namespace)
    return namespace["rollout"](env_id, steps, wrapper)


@pytest.mark.parametrize(
    ("env_id", "wrapper"),
    [("CartPole-v1", None), ("InvertedPendulum-v5", "clip"), ("InvertedPendulum-v5", "rescale")],
)
def test_a_served_environment_behaves_as_the_local_one_and_every_step_is_counted(
    sandbox: Sandbox, env_id: str, wrapper: str | None
) -> None:
    assert sandbox.env_service is not None
    before = sandbox.env_service.steps
    served = sandbox.call("student", "rollout", (env_id, 300, wrapper))
    assert isinstance(served, Success), served
    assert sandbox.env_service.steps - before == 300
    local = local_rollout(env_id, 300, wrapper)
    assert len(served.value) == len(local) > 301  # episodes ended and were reset
    for got, want in zip(served.value, local, strict=True):
        assert got.tolist() == want.tolist()


def test_make_env_in_a_learning_checks_sandbox_gives_a_served_environment(
    sandbox: Sandbox,
) -> None:
    assert sandbox.call("student", "kind", ("CartPole-v1",)).value == "RemoteEnv"  # type: ignore[union-attr]


def test_only_the_checks_environments_are_served(sandbox: Sandbox) -> None:
    refused = sandbox.call("student", "kind", ("Pendulum-v1",))
    assert isinstance(refused, Failure)
    assert "this check's environments are CartPole-v1, InvertedPendulum-v5; got 'Pendulum-v1'" in (
        refused.message
    )


def test_a_bad_request_gets_an_error_and_counts_nothing(sandbox: Sandbox) -> None:
    assert sandbox.env_service is not None
    before = sandbox.env_service.steps
    message = sandbox.call("student", "bad_action", ())
    assert isinstance(message, Success), message
    assert "AssertionError" in message.value  # CartPole's own check of the action
    assert sandbox.env_service.steps - before == 1  # the good step after it
    closed = sandbox.call("student", "step_after_close", ())
    assert isinstance(closed, Failure) and "no open environment" in closed.message
    assert sandbox.env_service.steps - before == 1


def test_a_forged_message_closes_the_channel_and_counts_nothing(sandbox: Sandbox) -> None:
    assert sandbox.env_service is not None
    before = sandbox.env_service.steps
    forged = sandbox.call("student", "forge", (2**31,))
    assert isinstance(forged, Failure) and "hung up" in forged.message, forged
    assert sandbox.env_service.steps == before
    after = sandbox.call("student", "kind", ("CartPole-v1",))  # this worker's channel is gone
    assert isinstance(after, Failure) and "hung up" in after.message


def test_no_service_thread_outlives_its_worker(tmp_path: Path) -> None:
    (tmp_path / "student.py").write_text(STUDENT)
    with Sandbox(tmp_path, serve_envs=SERVED, preload=("numpy",), timeout_s=60) as box:
        assert isinstance(box.call("student", "kind", ("CartPole-v1",)), Success)
        assert any(t.name == "rlhw-env-service" for t in threading.enumerate())
    deadline = time.monotonic() + 5
    while any(t.name == "rlhw-env-service" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "a service thread is left after the sandbox closed"
        time.sleep(0.05)


def test_a_sandbox_without_served_environments_makes_them_locally(tmp_path: Path) -> None:
    (tmp_path / "student.py").write_text(STUDENT)
    with Sandbox(tmp_path, preload=("numpy",), timeout_s=60) as box:
        assert box.env_service is None
        assert box.call("student", "kind", ("CartPole-v1",)).value == "TimeLimit"  # type: ignore[union-attr]

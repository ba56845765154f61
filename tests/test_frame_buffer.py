"""The frame buffer (:class:`infrastructure.replay_buffer.FrameBuffer`): the same minibatches as a
plain :class:`ReplayBuffer` holding whole stacks, for a fraction of the memory.

Frames come from :class:`FrameEnv`, whose every frame is filled with its own serial number, so
a stack rebuilt from the wrong frame cannot look right by chance.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from infrastructure.replay_buffer import FrameBuffer, ReplayBuffer
from infrastructure.sampler import Sampler

K = 4


class FrameEnv(gym.Env):
    """Frames of shape ``(2, 3)`` (int32), each filled with a number no other frame has.
    Episodes last 1 to 7 steps and end ``terminated``; a time limit can cut them first."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(0, 2**30, shape=(2, 3), dtype=np.int32)
        self.action_space = gym.spaces.Discrete(2)
        self._serial = 0
        self._left = 0

    def _frame(self) -> np.ndarray:
        self._serial += 1
        return np.full((2, 3), self._serial, dtype=np.int32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._left = int(self.np_random.integers(1, 8))
        return self._frame(), {}

    def step(self, action: Any):
        self._left -= 1
        return self._frame(), 1.0, self._left == 0, False, {}


def stacked_env(max_episode_steps: int | None = 5) -> gym.Env:
    env: gym.Env = FrameEnv()
    if max_episode_steps is not None:
        env = gym.wrappers.TimeLimit(env, max_episode_steps)
    return gym.wrappers.FrameStackObservation(env, K)


def played(steps: int, seed: int = 0, max_episode_steps: int | None = 5):
    sampler = Sampler(stacked_env(max_episode_steps), seed=seed)
    return sampler.sample_steps(lambda obs: np.zeros(len(obs), dtype=np.int64), steps)


def filled(capacity: int, steps: int, **kwargs: Any) -> tuple[FrameBuffer, ReplayBuffer]:
    frames, plain = FrameBuffer(capacity, seed=3, **kwargs), ReplayBuffer(capacity, seed=3)
    batch = played(steps)
    frames.add_batch(batch)
    plain.add_batch(batch)
    return frames, plain


def assert_same(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert set(got) == set(expected)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
        assert got[name].dtype == expected[name].dtype, name


def test_minibatches_match_a_buffer_of_whole_stacks() -> None:
    frames, plain = filled(capacity=500, steps=300)
    for _ in range(5):
        assert_same(frames.sample(64), plain.sample(64))
    # the episode ends are in there: terminated and truncated (time limit 5) both
    batch = played(300)
    assert batch.terminated.any() and batch.truncated.any()


def test_each_frame_is_stored_about_once() -> None:
    frames, _ = filled(capacity=500, steps=300)
    dones = played(300).dones
    episodes = 1 + int(dones[:-1].sum())  # those that started within the 300 steps
    # one frame per step, plus each episode's first frame
    assert frames.frames_stored == 300 + episodes
    assert frames._frames is not None
    whole_stacks = 300 * 2 * K  # what a plain buffer holds: obs and next obs, k frames each
    assert frames.frames_stored < whole_stacks / 6


def test_after_wrapping_around_only_stored_transitions_are_drawn() -> None:
    frames, plain = filled(capacity=40, steps=300, frame_capacity=50)
    assert len(frames) == 40
    newest = plain._read(np.arange(40))  # the plain buffer's 40 slots: the newest transitions
    stored = {
        o.tobytes() + n.tobytes()
        for o, n in zip(newest["observations"], newest["next_observations"], strict=True)
    }
    drawn = set()
    for _ in range(20):
        batch = frames.sample(32)
        pairs = zip(batch["observations"], batch["next_observations"], strict=True)
        drawn |= {o.tobytes() + n.tobytes() for o, n in pairs}
    assert drawn <= stored
    assert len(drawn) > 30  # most of them are still drawable with 50 frames


def test_transitions_out_of_order_are_stored_correctly() -> None:
    batch = played(60)
    order = np.random.default_rng(0).permutation(60)
    # out of order, most transitions cost their whole stack: k + 1 frames
    frames, plain = FrameBuffer(100, seed=1, frame_capacity=60 * (K + 1)), ReplayBuffer(100, seed=1)
    for buffer in (frames, plain):
        buffer.add(
            batch.observations[order],
            batch.actions[order],
            batch.rewards[order],
            batch.next_observations[order],
            batch.terminated[order],
        )
    assert_same(frames.sample(100), plain.sample(100))


def test_bad_shapes_are_refused_and_change_nothing() -> None:
    frames, _ = filled(capacity=100, steps=20)
    before = (frames.frames_stored, len(frames))
    batch = played(5)
    with pytest.raises(ValueError, match=r"expected observations of shape \(n, 4, 2, 3\)"):
        frames.add(
            batch.observations[:, :2],
            batch.actions,
            batch.rewards,
            batch.next_observations[:, :2],
            batch.terminated,
        )
    with pytest.raises(ValueError, match="stacked observations"):
        frames.add(
            batch.observations,
            batch.actions,
            batch.rewards,
            batch.next_observations[:, :2],
            batch.terminated,
        )
    assert (frames.frames_stored, len(frames)) == before


def test_an_atari_game_round_trips() -> None:
    from infrastructure.envs import make_env

    env = make_env("ALE/Pong-v5", seed=0)
    batch = Sampler(env, seed=0).sample_steps(
        lambda obs: np.random.default_rng(0).integers(0, 6, len(obs)), 300
    )
    frames, plain = FrameBuffer(1000, seed=0), ReplayBuffer(1000, seed=0)
    frames.add_batch(batch)
    plain.add_batch(batch)
    assert_same(frames.sample(128), plain.sample(128))
    assert frames.frames_stored <= 301 + int(batch.dones.sum()) + 1
    env.close()


@pytest.mark.parametrize("steps", [30, 300])  # frames not yet wrapped, and wrapped
def test_state_dict_round_trips_without_pickle(tmp_path, steps: int) -> None:
    sampler = Sampler(stacked_env(), seed=0)

    def policy(obs: np.ndarray) -> np.ndarray:
        return np.zeros(len(obs), dtype=np.int64)

    frames = FrameBuffer(40, seed=3, frame_capacity=50)
    frames.add_batch(sampler.sample_steps(policy, steps))
    frames.sample(8)  # the generator has moved on
    np.savez(tmp_path / "frames.npz", **frames.state_dict())
    with np.load(tmp_path / "frames.npz", allow_pickle=False) as data:
        state = dict(data)
    assert len(state["frames"]) == frames.frames_stored  # the stored frames only

    resumed = FrameBuffer(40, seed=11, frame_capacity=50)
    resumed.load_state_dict(state)
    assert (len(resumed), resumed.frames_stored) == (len(frames), frames.frames_stored)
    for _ in range(3):
        assert_same(resumed.sample(32), frames.sample(32))
    # the episode that was running goes on: its next transition costs one frame in both
    more = sampler.sample_steps(policy, 10)
    frames.add_batch(more)
    resumed.add_batch(more)
    assert resumed._frames_written == frames._frames_written
    for _ in range(3):
        assert_same(resumed.sample(32), frames.sample(32))


def test_a_frame_state_that_does_not_fit_is_refused() -> None:
    frames, _ = filled(capacity=40, steps=30)
    other = FrameBuffer(40, seed=0, frame_capacity=100)
    with pytest.raises(ValueError, match="expected a frame buffer state of frame_capacity 100"):
        other.load_state_dict(frames.state_dict())
    state = ReplayBuffer(40, seed=0).state_dict()  # a plain buffer's state has no frames
    with pytest.raises(ValueError, match="expected a FrameBuffer state .* missing frame_capacity"):
        other.load_state_dict(state)
    assert len(other) == 0

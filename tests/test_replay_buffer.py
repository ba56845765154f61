"""ReplayBuffer: ring-buffer contents after wrap-around, seeded sampling, argument errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

from infrastructure.replay_buffer import ReplayBuffer
from infrastructure.sampler import Sampler


def transitions(first: int, last: int) -> dict[str, np.ndarray]:
    """Transitions numbered ``first .. last - 1``. Transition ``k`` has observation
    ``[k, -k]``, action ``k % 3``, reward ``10 k``, next observation ``[k + 1, -k - 1]`` and is
    terminal when ``k`` is a multiple of 4, so every field tells which transition it came from.
    """
    k = np.arange(first, last)
    return {
        "observations": np.stack([k, -k], axis=1).astype(np.float32),
        "actions": k % 3,
        "rewards": 10.0 * k,
        "next_observations": np.stack([k + 1, -k - 1], axis=1).astype(np.float32),
        "terminated": k % 4 == 0,
    }


def stored_ids(buffer: ReplayBuffer, draws: int = 2000) -> set[int]:
    """Which transitions the buffer holds, seen through ``sample`` (each draw is checked for
    consistency across fields)."""
    batch = buffer.sample(draws)
    k = batch["observations"][:, 0].astype(np.int64)
    np.testing.assert_array_equal(batch["observations"][:, 1], -k)
    np.testing.assert_array_equal(batch["actions"], k % 3)
    np.testing.assert_array_equal(batch["rewards"], 10.0 * k)
    np.testing.assert_array_equal(batch["next_observations"][:, 0], k + 1)
    np.testing.assert_array_equal(batch["terminated"], k % 4 == 0)
    return set(k.tolist())


def test_length_grows_to_capacity_and_stays_there():
    buffer = ReplayBuffer(capacity=5, seed=0)
    assert len(buffer) == 0
    lengths = []
    for first in range(0, 12, 3):  # four adds of 3 transitions
        buffer.add(**transitions(first, first + 3))
        lengths.append(len(buffer))
    assert lengths == [3, 5, 5, 5]


def test_wrap_around_overwrites_the_oldest():
    buffer = ReplayBuffer(capacity=5, seed=0)
    buffer.add(**transitions(0, 3))
    assert stored_ids(buffer) == {0, 1, 2}
    buffer.add(**transitions(3, 7))  # 7 transitions in 5 slots: 0 and 1 are overwritten
    assert len(buffer) == 5
    assert stored_ids(buffer) == {2, 3, 4, 5, 6}
    buffer.add(**transitions(7, 8))  # next to go is 2, the oldest left
    assert stored_ids(buffer) == {3, 4, 5, 6, 7}


def test_adding_more_than_capacity_at_once_keeps_the_newest():
    buffer = ReplayBuffer(capacity=3, seed=0)
    buffer.add(**transitions(0, 1))
    buffer.add(**transitions(1, 8))
    assert len(buffer) == 3
    assert stored_ids(buffer) == {5, 6, 7}
    buffer.add(**transitions(8, 9))  # and the ring goes on from there: 5 is the oldest
    assert stored_ids(buffer) == {6, 7, 8}


def test_sample_shapes_and_dtypes():
    buffer = ReplayBuffer(capacity=10, seed=0)
    buffer.add(**transitions(0, 4))
    batch = buffer.sample(6)
    assert batch["observations"].shape == (6, 2) and batch["observations"].dtype == np.float32
    assert batch["next_observations"].shape == (6, 2)
    assert batch["actions"].shape == (6,)
    assert batch["rewards"].shape == (6,) and batch["rewards"].dtype == np.float32
    assert batch["terminated"].shape == (6,) and batch["terminated"].dtype == bool


def test_seeded_sampling_is_reproducible():
    def draws(seed: int) -> list[np.ndarray]:
        buffer = ReplayBuffer(capacity=100, seed=seed)
        buffer.add(**transitions(0, 50))
        return [buffer.sample(32)["observations"] for _ in range(3)]

    for a, b in zip(draws(3), draws(3), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(draws(3)[0], draws(4)[0])


def test_shape_mismatch_error_says_what_was_expected():
    buffer = ReplayBuffer(capacity=10)
    buffer.add(**transitions(0, 2))
    data = transitions(2, 4)
    data["observations"] = np.zeros((2, 3), dtype=np.float32)
    with pytest.raises(
        ValueError, match=re.escape("expected observations of shape (n, 2), got (2, 3)")
    ):
        buffer.add(**data)


def test_one_value_per_reward_or_an_error():
    data = transitions(0, 3)
    data["actions"] = data["actions"][:2]
    with pytest.raises(ValueError, match=re.escape("expected 3 actions (one per reward), got 2")):
        ReplayBuffer(capacity=10).add(**data)


def test_empty_buffer_and_bad_arguments():
    with pytest.raises(ValueError, match="cannot sample from an empty replay buffer"):
        ReplayBuffer(capacity=4).sample(1)
    with pytest.raises(ValueError, match=re.escape("expected capacity >= 1, got 0")):
        ReplayBuffer(capacity=0)
    buffer = ReplayBuffer(capacity=4)
    buffer.add(**transitions(0, 1))
    with pytest.raises(ValueError, match=re.escape("expected batch_size >= 1, got 0")):
        buffer.sample(0)


def test_rejected_add_leaves_the_buffer_unchanged():
    buffer = ReplayBuffer(capacity=2, seed=0)
    buffer.add(**transitions(0, 2))  # full: the next add would go to slot 0
    bad = transitions(2, 3)
    bad["actions"] = np.zeros((1, 2), dtype=np.int64)  # actions were stored as scalars
    with pytest.raises(ValueError, match="expected actions of shape"):
        buffer.add(**bad)
    assert len(buffer) == 2
    assert stored_ids(buffer) == {0, 1}  # fails: slot 0 now mixes transition 2's observations
    # with transition 0's action, reward and flag


def test_add_batch_from_a_sampler_batch(counter_env, constant_policy):
    # CounterEnv with a time limit of 3: 0 -> 1 -> 2 -> 3 (truncated), reward t + 1
    batch = Sampler(counter_env(max_episode_steps=3), seed=0).sample_steps(
        constant_policy(0), num_steps=5
    )
    buffer = ReplayBuffer(capacity=100, seed=0)
    buffer.add_batch(batch)
    assert len(buffer) == 5
    sample = buffer.sample(500)
    obs, next_obs = sample["observations"][:, 0], sample["next_observations"][:, 0]
    assert set(obs.tolist()) == {0.0, 1.0, 2.0}
    # the truncated step keeps its true next observation 3, and is not a terminal state
    np.testing.assert_array_equal(next_obs, obs + 1)
    np.testing.assert_array_equal(sample["rewards"], obs + 1)
    assert not sample["terminated"].any()


def test_add_batch_keeps_terminal_flags(counter_env, constant_policy):
    batch = Sampler(counter_env(terminate_at=2), seed=0).sample_steps(
        constant_policy(0), num_steps=4
    )
    buffer = ReplayBuffer(capacity=100, seed=0)
    buffer.add_batch(batch)
    sample = buffer.sample(500)
    # step 1 -> 2 is terminal, step 0 -> 1 is not
    np.testing.assert_array_equal(sample["terminated"], sample["observations"][:, 0] == 1)
    assert sample["terminated"].any() and not sample["terminated"].all()


def saved_and_loaded(state: dict, path) -> dict[str, np.ndarray]:
    """``state`` written by ``np.savez`` and read back with pickle refused."""
    np.savez(path, **state)
    with np.load(path, allow_pickle=False) as data:
        return dict(data)


def assert_same_batches(a: ReplayBuffer, b: ReplayBuffer, draws: int = 3) -> None:
    for _ in range(draws):
        got, expected = a.sample(16), b.sample(16)
        assert set(got) == set(expected)
        for name in expected:
            np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
            assert got[name].dtype == expected[name].dtype, name


@pytest.mark.parametrize("added", [3, 7, 12])  # not full, wrapped once, wrapped twice
def test_state_dict_round_trips_without_pickle(tmp_path, added):
    buffer = ReplayBuffer(capacity=5, seed=0)
    buffer.add(**transitions(0, added))
    buffer.sample(4)  # the generator has moved on: the state must carry where it is now
    state = saved_and_loaded(buffer.state_dict(), tmp_path / "buffer.npz")
    assert len(state["data.rewards"]) == min(added, 5)  # the stored transitions only

    resumed = ReplayBuffer(capacity=5, seed=99)
    resumed.load_state_dict(state)
    assert len(resumed) == len(buffer)
    assert_same_batches(resumed, buffer)  # same transitions, same generator state
    # and the ring goes on from the same place: the next add overwrites the same slots
    buffer.add(**transitions(100, 103))
    resumed.add(**transitions(100, 103))
    assert stored_ids(resumed) == stored_ids(buffer)
    assert_same_batches(resumed, buffer)


def test_an_empty_buffer_round_trips(tmp_path):
    state = saved_and_loaded(ReplayBuffer(capacity=5, seed=0).state_dict(), tmp_path / "b.npz")
    resumed = ReplayBuffer(capacity=5, seed=1)
    resumed.load_state_dict(state)
    assert len(resumed) == 0
    resumed.add(**transitions(0, 3))
    assert stored_ids(resumed) == {0, 1, 2}


def test_a_state_that_does_not_fit_is_refused_and_changes_nothing():
    source = ReplayBuffer(capacity=5, seed=0)
    source.add(**transitions(0, 4))
    buffer = ReplayBuffer(capacity=8, seed=0)
    buffer.add(**transitions(50, 52))
    with pytest.raises(
        ValueError, match=re.escape("expected a replay buffer state of capacity 8, got capacity 5")
    ):
        buffer.load_state_dict(source.state_dict())
    state = dict(ReplayBuffer(capacity=8, seed=0).state_dict(), size=3)
    state["data.rewards"] = np.zeros(2, dtype=np.float32)
    with pytest.raises(
        ValueError,
        match=re.escape("expected 3 rows in data.rewards (the state's size), got 2 rows"),
    ):
        buffer.load_state_dict(state)
    with pytest.raises(ValueError, match="missing rng"):
        buffer.load_state_dict({"capacity": 8, "next": 0, "size": 0})
    assert stored_ids(buffer) == {50, 51}

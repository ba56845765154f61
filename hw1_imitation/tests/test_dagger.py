"""DAgger's pieces: relabelling, aggregation, and one round of both on the learner's states."""

from __future__ import annotations

import numpy as np
import pytest

from hw1_imitation.dagger import Dataset, aggregate, collect_and_relabel, relabel
from infrastructure.envs import make_env
from infrastructure.sampler import Sampler


def double_the_first_coordinate(observations: np.ndarray) -> np.ndarray:
    """A stand-in expert: pi*(s) = 2 s_0."""
    return 2.0 * observations[:, :1]


def test_relabel_takes_the_expert_actions_for_the_learner_states():
    observations = np.array([[1.0, 5.0], [-0.5, 7.0], [0.0, 0.0]])
    actions = relabel(double_the_first_coordinate, observations)
    assert actions.dtype == np.float32
    np.testing.assert_array_equal(actions, [[2.0], [-1.0], [0.0]])


def test_aggregate_appends_the_new_pairs_and_leaves_the_old_dataset_alone():
    dataset = Dataset(np.zeros((3, 2)), np.ones((3, 1)))
    grown = aggregate(dataset, np.full((2, 2), 7.0), np.full((2, 1), 9.0))
    assert len(grown) == 5 and len(dataset) == 3
    np.testing.assert_array_equal(grown.observations, [[0, 0]] * 3 + [[7, 7]] * 2)
    np.testing.assert_array_equal(grown.actions, [[1]] * 3 + [[9]] * 2)


def test_collect_and_relabel_labels_the_states_the_learner_visited():
    env = make_env("InvertedPendulum-v5", 0, max_episode_steps=20)
    sampler = Sampler(env, seed=0)
    learner_action = 0.3

    def learner(observations: np.ndarray) -> np.ndarray:
        return np.full((len(observations), 1), learner_action, np.float32)

    dataset = Dataset(np.zeros((4, 4), np.float32), np.zeros((4, 1), np.float32))
    grown, rollouts = collect_and_relabel(
        sampler, learner, double_the_first_coordinate, dataset, min_steps=30
    )
    assert len(rollouts) >= 30 and np.all(rollouts.actions == learner_action)  # the learner acted
    assert len(grown) == 4 + len(rollouts)
    np.testing.assert_array_equal(grown.observations[4:], rollouts.observations)
    np.testing.assert_allclose(grown.actions[4:], 2.0 * rollouts.observations[:, :1], rtol=1e-6)


def test_a_dataset_says_what_it_expected():
    with pytest.raises(ValueError, match="expected one action per observation, got 3 obs"):
        Dataset(np.zeros((3, 2)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match=r"expected observations \(N, obs_dim\)"):
        Dataset(np.zeros(3), np.zeros((3, 1)))


def test_minibatches_are_drawn_from_the_dataset():
    dataset = Dataset(np.arange(10.0)[:, None], 2 * np.arange(10.0)[:, None])
    observations, actions = dataset.sample(64, np.random.default_rng(0))
    assert observations.shape == (64, 1) and actions.shape == (64, 1)
    np.testing.assert_array_equal(actions, 2 * observations)  # pairs stay together

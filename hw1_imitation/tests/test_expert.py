"""The expert loader: files round-trip, and the wrong environment or a damaged file is an error
that says what was expected."""

from __future__ import annotations

import numpy as np
import pytest

from hw1_imitation.expert import (
    expert_path,
    load_demos,
    load_expert,
    read_manifest,
    save_expert,
    update_manifest,
)
from hw1_imitation.tests.conftest import ENV, random_expert
from infrastructure.envs import make_env


def test_an_expert_round_trips_and_acts_within_the_bounds(expert_dir):
    expert = load_expert(expert_path(ENV, expert_dir), make_env(ENV))
    assert (expert.env_id, expert.obs_dim, expert.action_dim) == (ENV, 4, 1)
    observations = np.random.default_rng(0).normal(size=(6, 4)) * 10
    actions = expert(observations)
    assert actions.shape == (6, 1) and actions.dtype == np.float32
    assert np.all(np.abs(actions) <= 3.0)  # InvertedPendulum's bounds
    again = random_expert(ENV, 4, 1)  # the same seed: the same weights, bounds of ±1
    np.testing.assert_allclose(actions / 3.0, again(observations), rtol=1e-5)


def test_the_wrong_environment_is_an_error_that_names_both(expert_dir):
    with pytest.raises(ValueError) as error:
        load_expert(expert_path(ENV, expert_dir), make_env("Hopper-v5"))
    message = str(error.value)
    assert (
        "was made for InvertedPendulum-v5 (observations of shape (4,), actions of shape (1,))"
        in message
    )
    assert (
        "got the environment Hopper-v5 (observations of shape (11,), actions of shape (3,))"
        in message
    )


def test_environments_with_the_same_shapes_are_told_apart(tmp_path):
    # HalfCheetah and Walker2d both observe 17 numbers and take 6 actions.
    save_expert(random_expert("HalfCheetah-v5", 17, 6), tmp_path / "cheetah.npz")
    with pytest.raises(
        ValueError, match="made for HalfCheetah-v5 .* got the environment Walker2d-v5"
    ):
        load_expert(tmp_path / "cheetah.npz", make_env("Walker2d-v5"))
    load_expert(tmp_path / "cheetah.npz", make_env("HalfCheetah-v5"))  # the right one loads


def test_an_unregistered_environment_is_checked_by_its_shapes(expert_dir):
    env = make_env("Hopper-v5").unwrapped  # no spec left to name it
    env.spec = None
    with pytest.raises(ValueError, match=r"got an environment with observations of shape \(11,\)"):
        load_expert(expert_path(ENV, expert_dir), env)


def test_observations_of_the_wrong_length_are_an_error(expert_dir):
    expert = load_expert(expert_path(ENV, expert_dir))
    with pytest.raises(ValueError, match=r"expects observations of shape \(B, 4\), got \(2, 11\)"):
        expert(np.zeros((2, 11)))


def test_a_missing_expert_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_expert"):
        load_expert(tmp_path / "Ant-v5.npz")


def test_damaged_weights_are_an_error(expert_dir, tmp_path):
    with np.load(expert_path(ENV, expert_dir)) as data:
        arrays = dict(data)
    arrays["mean_net.0.weight"] = arrays["mean_net.0.weight"][:, :3]  # 3 inputs instead of 4
    np.savez(tmp_path / "damaged.npz", **arrays)
    with pytest.raises(ValueError, match="expected the weights of a 1-hidden-layer MLP"):
        load_expert(tmp_path / "damaged.npz")


def test_a_file_with_pickled_objects_is_refused(expert_dir, tmp_path):
    with np.load(expert_path(ENV, expert_dir)) as data:
        arrays = dict(data)
    arrays["env"] = np.array([{"payload": 1}], dtype=object)
    np.savez(tmp_path / "pickled.npz", **arrays)
    with pytest.raises(ValueError, match="allow_pickle"):
        load_expert(tmp_path / "pickled.npz")


def test_demonstrations_load_and_check_their_environment(expert_dir):
    demos = load_demos(expert_dir / f"{ENV}_demos.npz", make_env(ENV))
    assert demos.num_episodes == 2
    assert demos.observations.shape == (demos.episode_lengths.sum(), 4)
    first = demos.first(1)
    assert len(first.observations) == demos.episode_lengths[0] and first.num_episodes == 1
    with pytest.raises(ValueError, match="expected between 1 and 2 demonstration episodes, got 3"):
        demos.first(3)
    with pytest.raises(ValueError, match="got the environment Hopper-v5"):
        load_demos(expert_dir / f"{ENV}_demos.npz", make_env("Hopper-v5"))


def test_the_manifest_keeps_each_section(tmp_path):
    update_manifest("Hopper-v5", "expert", {"return_mean": 3000.0}, tmp_path)
    update_manifest("Hopper-v5", "demos", {"episodes": 5}, tmp_path)
    assert read_manifest(tmp_path) == {
        "Hopper-v5": {"expert": {"return_mean": 3000.0}, "demos": {"episodes": 5}}
    }

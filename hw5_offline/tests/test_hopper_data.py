"""Tests of the Hopper datasets' given code: the behaviour policies compute what their docstring
says on cases worked out by hand, the shipped ones load and fit Hopper-v5, a damaged or foreign
file is refused with a message that says why, recording and the normalised score are right, and
a dataset is made reproducibly, all of it or nothing (on budgets of a few hundred steps)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from minari.dataset._storages.hdf5_storage import HDF5Storage

from hw5_offline import hopper_data
from hw5_offline.datasets import DatasetError, list_datasets, load_dataset, save_dataset
from hw5_offline.hopper_data import (
    BEHAVIOUR_DIR,
    EXPERT_RETURN,
    HOPPER_DATASETS,
    RANDOM_RETURN,
    BehaviourPolicy,
    load_behaviour,
    make_hopper_dataset,
    normalized_score,
    record,
    save_behaviour,
)
from infrastructure.envs import make_env

ENV = "Hopper-v5"
MEDIUM = "hopper/medium-v0"


def one_number_policy(kind: str, bias: list[float], low: float, high: float) -> BehaviourPolicy:
    """A policy on one observation and one action whose network (no hidden layer, zero weights)
    outputs ``bias`` whatever the observation, so its actions can be worked out by hand."""
    constants = (
        {"log_std_min": -5.0, "log_std_max": 2.0} if kind == "tanh_gaussian" else {"noise_std": 0.1}
    )
    return BehaviourPolicy(
        kind=kind,
        env_id="Test-v0",
        about="a test",
        obs_dim=1,
        action_dim=1,
        n_layers=0,
        activation="relu",
        weights={"0.weight": np.zeros((len(bias), 1), np.float32), "0.bias": np.array(bias)},
        action_low=np.array([low]),
        action_high=np.array([high]),
        constants=constants,
        rng=np.random.default_rng(0),
    )


def random_actions(seed: int = 0):
    rng = np.random.default_rng(seed)
    return lambda obs: rng.uniform(-1.0, 1.0, size=(len(obs), 3)).astype(np.float32)


def small(monkeypatch: pytest.MonkeyPatch, name: str = MEDIUM, transitions: int = 300) -> None:
    """Make ``name`` a dataset of ``transitions`` steps for the test's length."""
    spec = dataclasses.replace(HOPPER_DATASETS[name], transitions=transitions)
    monkeypatch.setitem(HOPPER_DATASETS, name, spec)


# ---- the behaviour policies, by hand ------------------------------------------------------


def test_a_tanh_gaussian_policy_samples_tanh_of_mean_plus_sigma_times_noise():
    # Raw log-std 0 squashes to the middle of [-5, 2]: log sigma = -1.5. Bounds [0, 4].
    policy = one_number_policy("tanh_gaussian", [0.3, 0.0], 0.0, 4.0)
    actions = policy(np.zeros((1000, 1)))
    noise = np.random.default_rng(0).standard_normal((1000, 1))
    expected = 0.0 + 0.5 * (np.tanh(0.3 + math.exp(-1.5) * noise) + 1.0) * 4.0
    assert actions.shape == (1000, 1) and actions.dtype == np.float32
    np.testing.assert_allclose(actions, expected, rtol=1e-6)


def test_a_noisy_mean_policy_adds_clipped_noise_of_a_tenth_of_the_half_range():
    # tanh(atanh(0.9)) = 0.9 is 3.8 in [0, 4]; the noise's std is 0.1 * 2 = 0.2; about one
    # action in six would pass 4 and is clipped to it.
    policy = one_number_policy("noisy_mean", [math.atanh(0.9)], 0.0, 4.0)
    actions = policy(np.zeros((1000, 1)))
    noise = np.random.default_rng(0).standard_normal((1000, 1))
    np.testing.assert_allclose(actions, np.clip(3.8 + 0.2 * noise, 0.0, 4.0), rtol=1e-6)
    assert actions.dtype == np.float32 and 0.1 < np.mean(actions == 4.0) < 0.25


def test_a_policy_needs_the_constants_of_its_kind():
    with pytest.raises(ValueError, match="expected the constants noise_std for a noisy_mean poli"):
        BehaviourPolicy(
            kind="noisy_mean",
            env_id="Test-v0",
            about="a test",
            obs_dim=1,
            action_dim=1,
            n_layers=0,
            activation="relu",
            weights={"0.weight": np.zeros((1, 1), np.float32), "0.bias": np.zeros(1)},
            action_low=np.array([-1.0]),
            action_high=np.array([1.0]),
            constants={"log_std_min": -5.0, "log_std_max": 2.0},
            rng=np.random.default_rng(0),
        )


def test_a_policy_round_trips_through_its_file(tmp_path):
    policy = one_number_policy("tanh_gaussian", [0.3, -0.2], -1.0, 1.0)
    save_behaviour(policy, tmp_path / "test.npz")
    again = load_behaviour(tmp_path / "test.npz", np.random.default_rng(0))
    observations = np.zeros((50, 1))
    np.testing.assert_array_equal(
        again(observations),
        one_number_policy("tanh_gaussian", [0.3, -0.2], -1.0, 1.0)(observations),
    )
    assert (again.kind, again.env_id, again.about) == ("tanh_gaussian", "Test-v0", "a test")
    assert [p.name for p in tmp_path.iterdir()] == ["test.npz"]  # no partial file left


@pytest.mark.parametrize("name", ["hopper-medium.npz", "hopper-expert.npz"])
def test_the_shipped_policies_fit_hopper_and_act_within_its_bounds(name):
    policy = load_behaviour(BEHAVIOUR_DIR / name, np.random.default_rng(0), env_id=ENV)
    assert (policy.env_id, policy.obs_dim, policy.action_dim) == (ENV, 11, 3)
    observations = np.random.default_rng(1).normal(size=(200, 11))
    actions = policy(observations)
    assert actions.shape == (200, 3) and actions.dtype == np.float32
    assert np.all(np.abs(actions) <= 1.0)
    again = load_behaviour(BEHAVIOUR_DIR / name, np.random.default_rng(0))(observations)
    np.testing.assert_array_equal(actions, again)  # its noise comes from its generator
    assert not np.array_equal(actions, policy(observations))  # and it is noisy


def test_the_datasets_name_shipped_policies_and_seeds_of_their_own():
    assert sorted(HOPPER_DATASETS) == ["hopper/expert-v0", "hopper/medium-v0"]
    assert all((BEHAVIOUR_DIR / spec.behaviour).is_file() for spec in HOPPER_DATASETS.values())
    assert len({spec.seed for spec in HOPPER_DATASETS.values()}) == len(HOPPER_DATASETS)


# ---- damaged and foreign files ---------------------------------------------------------------


def shipped_arrays() -> dict[str, Any]:
    with np.load(BEHAVIOUR_DIR / "hopper-medium.npz") as data:
        return dict(data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format_version": np.array(7)}, "expected a behaviour policy of format version 1"),
        ({"obs_dim": np.array([11, 12])}, r"expected single values for obs_dim .*\(2,\)"),
        ({"kind": np.array("greedy")}, r"expected a behaviour kind in \['noisy_mean'"),
        ({"kind": np.array("noisy_mean")}, r"missing \['noise_std'\]"),
        (
            {"kind": np.array("noisy_mean"), "noise_std": np.array(0.1)},
            r"expected the weights of a 2-hidden-layer MLP from 11 to 3 \(noisy_mean\)",
        ),
        ({"net.0.weight": np.zeros((128, 10), np.float32)}, "expected the weights of a 2-hidden"),
        ({"action_low": -np.ones(2, np.float32)}, r"expected action bounds of shape \(3,\)"),
        ({"env": np.array([{"payload": 1}], dtype=object)}, "Object arrays cannot be loaded"),
    ],
)
def test_a_damaged_file_is_refused_with_what_was_expected(change, message, tmp_path):
    np.savez(tmp_path / "damaged.npz", **{**shipped_arrays(), **change})
    with pytest.raises(ValueError, match=message):
        load_behaviour(tmp_path / "damaged.npz", np.random.default_rng(0))


def test_a_file_missing_arrays_names_them(tmp_path):
    arrays = shipped_arrays()
    del arrays["action_high"], arrays["log_std_max"]
    np.savez(tmp_path / "short.npz", **arrays)
    with pytest.raises(ValueError, match=r"missing \['action_high', 'log_std_max'\]"):
        load_behaviour(tmp_path / "short.npz", np.random.default_rng(0))


def test_a_file_that_is_not_an_npz_is_refused(tmp_path):
    (tmp_path / "text.npz").write_text("not an archive\n")
    with pytest.raises(ValueError, match="an .npz file of plain arrays, got a file that is not"):
        load_behaviour(tmp_path / "text.npz", np.random.default_rng(0))
    np.save(tmp_path / "array.npy", np.zeros(3))
    with pytest.raises(ValueError, match=r"a single array of shape \(3,\)"):
        load_behaviour(tmp_path / "array.npy", np.random.default_rng(0))
    with pytest.raises(FileNotFoundError, match="found none .made by `python -m hw5_offline.tools"):
        load_behaviour(tmp_path / "missing.npz", np.random.default_rng(0))


def test_a_policy_for_another_environment_is_refused(tmp_path):
    with pytest.raises(ValueError, match="hopper-medium.npz was made for Hopper-v5 .* got the "):
        load_behaviour(BEHAVIOUR_DIR / "hopper-medium.npz", np.random.default_rng(0), "Ant-v5")
    # Named Hopper-v5, but with other bounds than Hopper-v5's.
    arrays = {**shipped_arrays(), "action_high": np.full(3, 2.0, np.float32)}
    np.savez(tmp_path / "wide.npz", **arrays)
    with pytest.raises(ValueError, match=r"in \[\[-1.0, -1.0, -1.0\], \[2.0, 2.0, 2.0\]\]\), got"):
        load_behaviour(tmp_path / "wide.npz", np.random.default_rng(0), ENV)


# ---- recording and the score -----------------------------------------------------------------


def test_recorded_transitions_load_back_as_a_dataset_of_hoppers_spaces(tmp_path):
    episodes, returns = record(ENV, random_actions(), 300, seed=0)
    save_dataset("hopper/test-v0", ENV, episodes, root=tmp_path)
    data = load_dataset("hopper/test-v0", ENV, root=tmp_path)

    assert len(data) == 300 and sum(len(e) for e in episodes) == 300
    assert data.observations.shape == data.next_observations.shape == (300, 11)
    assert data.actions.shape == (300, 3) and data.actions.dtype == np.float32
    assert len(data.episode_starts) == len(episodes) == len(returns) + 1
    # Random hoppers fall: every episode but the last ends terminated; the budget cuts the last.
    ends = np.append(data.episode_starts[1:], 300) - 1
    assert data.terminated[ends[:-1]].all() and not data.truncated[ends[:-1]].any()
    assert data.truncated[-1] and not data.terminated[-1]
    assert data.terminated.sum() + data.truncated.sum() == len(episodes)
    # Within an episode s_{t+1} is the next step's s_t; complete episodes' returns are theirs.
    inner = np.setdiff1d(np.arange(299), ends)
    np.testing.assert_array_equal(data.next_observations[inner], data.observations[inner + 1])
    assert not np.any(np.all(data.next_observations[ends] == data.observations[ends], axis=1))
    sums = [data.rewards[s : e + 1].sum() for s, e in zip(data.episode_starts, ends, strict=True)]
    np.testing.assert_allclose(returns, sums[:-1])


def test_recording_is_reproducible_and_seeded():
    first, first_returns = record(ENV, random_actions(0), 100, seed=0)
    again, again_returns = record(ENV, random_actions(0), 100, seed=0)
    other, _ = record(ENV, random_actions(1), 100, seed=1)
    np.testing.assert_array_equal(first_returns, again_returns)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.observations, b.observations)
        np.testing.assert_array_equal(a.actions, b.actions)
    assert not np.array_equal(first[0].observations, other[0].observations)


def test_recording_without_a_complete_episode_is_refused():
    with pytest.raises(ValueError, match="expected at least one complete episode in 3 transitions"):
        record(ENV, random_actions(), 3, seed=0)
    with pytest.raises(ValueError, match="expected a number of transitions >= 1, got 0"):
        record(ENV, random_actions(), 0, seed=0)


def test_normalized_score_is_0_for_random_and_100_for_the_expert():
    assert normalized_score(RANDOM_RETURN) == 0.0 and normalized_score(EXPERT_RETURN) == 100.0
    assert normalized_score(1580.0, -20.0, 3180.0) == pytest.approx(50.0)
    assert normalized_score(-180.0, -20.0, 3180.0) == pytest.approx(-5.0)
    middle = (RANDOM_RETURN + EXPERT_RETURN) / 2
    assert normalized_score(middle) == pytest.approx(50.0)
    with pytest.raises(ValueError, match="expert's return above the random policy's, got expert 5"):
        normalized_score(1.0, 10.0, 5.0)


# ---- making a dataset ------------------------------------------------------------------------


def test_a_dataset_is_made_reproducibly_from_its_behaviour_policy(tmp_path, monkeypatch):
    small(monkeypatch)
    path = make_hopper_dataset(MEDIUM, tmp_path / "a", progress=False)
    assert path == (tmp_path / "a" / MEDIUM).resolve()
    data = load_dataset(MEDIUM, ENV, root=tmp_path / "a")
    assert len(data) == 300 and data.truncated[-1]
    assert np.all(np.abs(data.actions) <= 1.0)
    # The first state is reset(seed=...) of the dataset's seed, and its first action the medium
    # policy's, drawn from a generator of that seed.
    seed = HOPPER_DATASETS[MEDIUM].seed
    env = make_env(ENV)
    np.testing.assert_array_equal(data.observations[0], env.reset(seed=seed)[0])
    env.close()
    policy = load_behaviour(BEHAVIOUR_DIR / "hopper-medium.npz", np.random.default_rng(seed))
    np.testing.assert_array_equal(data.actions[0], policy(data.observations[:1])[0])

    make_hopper_dataset(MEDIUM, tmp_path / "b", progress=False)
    again = load_dataset(MEDIUM, ENV, root=tmp_path / "b")
    np.testing.assert_array_equal(data.observations, again.observations)
    np.testing.assert_array_equal(data.actions, again.actions)
    with pytest.raises(DatasetError, match="'hopper/medium-v0' exists already at"):
        make_hopper_dataset(MEDIUM, tmp_path / "a", progress=False)


def test_an_unknown_dataset_is_an_error_that_lists_the_known_ones(tmp_path):
    with pytest.raises(ValueError, match="among hopper/medium-v0, hopper/expert-v0, got 'hop"):
        make_hopper_dataset("hopper/random-v0", tmp_path)
    assert not (tmp_path / "hopper").exists()


def test_an_interrupted_recording_leaves_nothing(tmp_path, monkeypatch):
    small(monkeypatch)
    act = BehaviourPolicy.__call__
    calls = []

    def interrupted(self: BehaviourPolicy, observations: np.ndarray) -> np.ndarray:
        calls.append(1)
        if len(calls) == 100:
            raise KeyboardInterrupt
        return act(self, observations)

    monkeypatch.setattr(BehaviourPolicy, "__call__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        make_hopper_dataset(MEDIUM, tmp_path, progress=False)
    assert len(calls) == 100 and list(tmp_path.iterdir()) == []


def test_an_interrupted_save_leaves_nothing(tmp_path, monkeypatch):
    small(monkeypatch)

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(HDF5Storage, "update_episodes", interrupted)
    with pytest.raises(KeyboardInterrupt):
        make_hopper_dataset(MEDIUM, tmp_path, progress=False)
    leftovers = [p.relative_to(tmp_path).as_posix() for p in Path(tmp_path).rglob("*")]
    assert list_datasets(tmp_path) == [] and leftovers == []


def test_the_command_makes_the_missing_datasets_and_keeps_the_others(tmp_path, monkeypatch, capsys):
    small(monkeypatch)
    args = ["--datasets-dir", str(tmp_path), MEDIUM]
    hopper_data.main(args)
    output = capsys.readouterr().out
    assert list_datasets(tmp_path) == [MEDIUM]
    assert output.startswith(f"{MEDIUM}: return ") and "normalised score" in output
    hopper_data.main(args)
    assert "hopper/medium-v0 exists already at" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        hopper_data.main(["--datasets-dir", str(tmp_path), "hopper/random-v0"])
    assert "expected datasets among hopper/medium-v0, hopper/expert-v0" in capsys.readouterr().err

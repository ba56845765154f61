"""Tests of homework 5's datasets (given code): a saved dataset loads back as it was, a save is
all or nothing, bad datasets stop with a message naming the dataset and the problem, nothing
runs code from a dataset file, and nothing is written outside the datasets folder or fetched
from the network."""

from __future__ import annotations

import json
import os
import socket
import sys
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import h5py
import minari
import numpy as np
import pytest

from hw5_offline.datasets import (
    DATASETS_VARIABLE,
    DEFAULT_ROOT,
    DatasetError,
    Episode,
    datasets_root,
    list_datasets,
    load_dataset,
    save_dataset,
)

NAME = "pointmass/easy-test-v0"
EASY = "PointmassEasy-v0"


def _episode(start: float, actions: list[int], end: str) -> Episode:
    """An episode of ``len(actions)`` steps on the maze whose positions count up from ``start``
    by 0.01, so every observation is distinct, ending ``terminated`` or ``truncated``."""
    steps = len(actions)
    positions = start + 0.01 * np.arange(steps + 1)
    flags = np.zeros(steps, dtype=bool)
    last = flags.copy()
    last[-1] = True
    return Episode(
        observations=np.stack([positions, positions + 0.5], axis=1),
        actions=np.array(actions, dtype=np.int64),
        rewards=-np.ones(steps) + np.arange(steps) * 0.25,
        terminations=last if end == "terminated" else flags,
        truncations=last if end == "truncated" else flags,
    )


# Three episodes: one reaching the goal, one cut by the time limit, one of a single step.
EPISODES = (
    _episode(0.1, [1, 3, 0], "terminated"),
    _episode(0.2, [2, 4], "truncated"),
    _episode(0.3, [4], "truncated"),
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "datasets"


@pytest.fixture
def saved(root: Path) -> Path:
    """The folder of ``EPISODES`` saved as ``NAME``."""
    return save_dataset(NAME, EASY, EPISODES, root=root)


# ---- round trip ---------------------------------------------------------------------------


def test_a_saved_dataset_loads_back_as_flat_transitions(root: Path, saved: Path):
    data = load_dataset(NAME, EASY, root=root)
    assert len(data) == 3 + 2 + 1
    np.testing.assert_array_equal(
        data.observations, np.concatenate([e.observations[:-1] for e in EPISODES])
    )
    np.testing.assert_array_equal(data.actions, [1, 3, 0, 2, 4, 4])
    np.testing.assert_array_equal(data.rewards, [-1.0, -0.75, -0.5, -1.0, -0.75, -1.0])
    np.testing.assert_array_equal(data.episode_starts, [0, 3, 5])
    assert data.observations.dtype == np.float64 and data.actions.dtype == np.int64
    assert (data.name, data.env_id) == (NAME, EASY)


def test_next_observations_end_each_episode_with_its_own_final_observation(root: Path, saved: Path):
    data = load_dataset(NAME, EASY, root=root)
    np.testing.assert_array_equal(
        data.next_observations, np.concatenate([e.observations[1:] for e in EPISODES])
    )
    # At the end of the first episode: its last observation, not the next episode's first.
    np.testing.assert_array_equal(data.next_observations[2], EPISODES[0].observations[3])
    assert not np.array_equal(data.next_observations[2], data.observations[3])


def test_terminated_and_truncated_stay_apart(root: Path, saved: Path):
    data = load_dataset(NAME, EASY, root=root)
    np.testing.assert_array_equal(data.terminated, [0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(data.truncated, [0, 0, 0, 0, 1, 1])
    assert data.terminated.dtype == bool and data.truncated.dtype == bool


def test_minari_reads_the_dataset_with_its_own_functions(
    root: Path, saved: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    assert list(minari.list_local_datasets()) == [NAME]
    dataset = minari.load_dataset(NAME)
    assert dataset.env_spec is not None and dataset.env_spec.id == EASY
    episode = next(dataset.iterate_episodes([1]))
    np.testing.assert_array_equal(episode.observations, EPISODES[1].observations)
    np.testing.assert_array_equal(episode.truncations, [False, True])


def test_the_datasets_folder_is_the_variable_or_the_course_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv(DATASETS_VARIABLE, raising=False)
    assert datasets_root() == DEFAULT_ROOT == Path(__file__).resolve().parents[2] / "datasets"
    monkeypatch.setenv(DATASETS_VARIABLE, str(tmp_path / "elsewhere"))
    assert datasets_root() == tmp_path / "elsewhere"
    assert datasets_root(tmp_path / "given") == tmp_path / "given"
    assert list_datasets() == [] and not (tmp_path / "elsewhere").exists()


def test_load_finds_the_dataset_through_the_variable(
    root: Path, saved: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(DATASETS_VARIABLE, str(root))
    assert list_datasets() == [NAME]
    assert len(load_dataset(NAME, EASY)) == 6


# ---- saving -------------------------------------------------------------------------------


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, RuntimeError])
def test_an_interrupted_save_leaves_nothing_behind(
    root: Path, monkeypatch: pytest.MonkeyPatch, interruption: type[BaseException]
):
    from minari.dataset._storages.hdf5_storage import HDF5Storage

    write_episodes = HDF5Storage.update_episodes

    def write_one_then_stop(self: HDF5Storage, episodes: list[Any]) -> None:
        write_episodes(self, episodes[:1])
        assert any(root.rglob("main_data.hdf5")), "the first episode should be on disk"
        raise interruption()

    monkeypatch.setattr(HDF5Storage, "update_episodes", write_one_then_stop)
    with pytest.raises(interruption):
        save_dataset(NAME, EASY, EPISODES, root=root)
    assert list(root.iterdir()) == []
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(NAME, EASY, root=root)


def test_a_dataset_is_never_overwritten(root: Path, saved: Path):
    with pytest.raises(DatasetError, match=r"exists already .* 'pointmass/easy-test-v1'"):
        save_dataset(NAME, EASY, EPISODES[:1], root=root)
    assert len(load_dataset(NAME, EASY, root=root)) == 6


@pytest.mark.parametrize(
    ("name", "episodes", "message"),
    [
        ("../outside-v0", EPISODES, r"expected a dataset name .* got '../outside-v0'"),
        ("pointmass/no-version", EPISODES, r"expected a dataset name"),
        (NAME, (), r"expected at least one episode, got none"),
        (
            NAME,
            (EPISODES[0], replace(EPISODES[1], observations=EPISODES[1].observations[:-1])),
            r"episode 1: expected observations of shape \(3, 2\) \(2 steps\), got \(2, 2\)",
        ),
        (
            NAME,
            (_episode(0.1, [1, 5], "terminated"),),
            r"episode 0: actions: expected values in Discrete\(5\), got 5 at step 1",
        ),
        (
            NAME,
            # y = x + 0.5 leaves the square at step 6: 0.95 + 0.06
            (_episode(0.45, [1, 1, 1, 1, 1, 1], "truncated"),),
            r"observations: expected values in Box\(0.0, 1.0, \(2,\), float64\), got "
            r"\[0\.51\d*, 1\.01\d*\] at step 6",
        ),
        (
            NAME,
            (_episode(0.1, [1, 1], "neither"),),
            r"expected a terminated or truncated last step .* got flags at steps \[\] of 2",
        ),
    ],
    ids=["outside", "no-version", "empty", "no-final-observation", "action", "observation", "end"],
)
def test_save_refuses_bad_input_and_writes_nothing(
    root: Path, name: str, episodes: tuple[Episode, ...], message: str
):
    with pytest.raises(DatasetError, match=message):
        save_dataset(name, EASY, episodes, root=root)
    assert not root.exists() or list(root.iterdir()) == []
    assert not (root.parent / "outside-v0").exists()


# ---- bad datasets -------------------------------------------------------------------------


def test_a_missing_dataset_is_named_with_the_ones_that_exist(root: Path, saved: Path):
    with pytest.raises(
        DatasetError,
        match=r"dataset 'pointmass/easy-rnd-v0' not found in .*datasets; the datasets there: "
        r"pointmass/easy-test-v0\.",
    ):
        load_dataset("pointmass/easy-rnd-v0", EASY, root=root)


def test_a_dataset_of_another_maze_is_refused(root: Path, saved: Path):
    # Same spaces (all three mazes share them), another environment.
    with pytest.raises(
        DatasetError,
        match=r"'pointmass/easy-test-v0' does not match PointmassMedium-v0: it was collected on "
        r"'PointmassEasy-v0'",
    ):
        load_dataset(NAME, "PointmassMedium-v0", root=root)


def test_a_dataset_of_other_spaces_is_refused(root: Path):
    cartpole = Episode(
        observations=np.zeros((3, 4), dtype=np.float32),
        actions=np.array([0, 1]),
        rewards=np.ones(2),
        terminations=np.array([False, True]),
        truncations=np.array([False, False]),
    )
    save_dataset("cartpole/test-v0", "CartPole-v1", [cartpole], root=root)
    with pytest.raises(
        DatasetError,
        match=r"'cartpole/test-v0' does not match PointmassEasy-v0: its observation space is "
        r"Box\(.*\(4,\), float32\), the environment's is Box\(0.0, 1.0, \(2,\), float64\)",
    ):
        load_dataset("cartpole/test-v0", EASY, root=root)


def _hdf5(saved: Path) -> Path:
    return saved / "data" / "main_data.hdf5"


def _edit_metadata(saved: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    path = saved / "data" / "metadata.json"
    metadata = json.loads(path.read_text())
    edit(metadata)
    path.write_text(json.dumps(metadata))


def _truncate_file(saved: Path) -> None:
    path = _hdf5(saved)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _replace(key: str, episode: int, value: np.ndarray) -> Callable[[Path], None]:
    def replace(saved: Path) -> None:
        with h5py.File(_hdf5(saved), "a") as file:
            del file[f"episode_{episode}/{key}"]
            file[f"episode_{episode}/{key}"] = value

    return replace


def _delete(key: str, episode: int) -> Callable[[Path], None]:
    def delete(saved: Path) -> None:
        with h5py.File(_hdf5(saved), "a") as file:
            del file[f"episode_{episode}/{key}"]

    return delete


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (_truncate_file, r"is corrupt: main_data.hdf5: .*"),
        (lambda saved: _hdf5(saved).unlink(), r"is corrupt: main_data.hdf5: .*"),
        (
            lambda saved: (saved / "data" / "metadata.json").write_text("{not json"),
            r"is corrupt: metadata.json: Expecting property name",
        ),
        (
            lambda saved: _edit_metadata(saved, lambda m: m.pop("total_steps")),
            r"is corrupt: metadata.json lacks or mistypes total_steps \(expected int, got "
            r"nothing\)",
        ),
        (
            lambda saved: _edit_metadata(saved, lambda m: m.update(total_steps=7)),
            r"is corrupt: its metadata says 3 episodes of 7 steps, its data holds 3 of 6",
        ),
        (
            lambda saved: _edit_metadata(saved, lambda m: m.update(dataset_id="other-v0")),
            r"is corrupt: its metadata names it 'other-v0'",
        ),
        (_delete("rewards", 1), r"is corrupt: .*rewards"),
        (
            _replace("actions", 0, np.array([1, 3])),
            r"episode 0: expected actions of shape \(3,\) \(3 steps\), got \(2,\)",
        ),
        (
            _replace("observations", 1, np.array([[0.2, 0.7], [np.nan, 0.71], [0.22, 0.72]])),
            r"episode 1: expected finite observations, got NaN",
        ),
        (
            _replace("rewards", 2, np.array([np.inf])),
            r"episode 2: expected finite rewards, got NaN or infinity",
        ),
        (
            _replace("actions", 2, np.array([9])),
            r"episode 2: actions: expected values in Discrete\(5\), got 9 at step 0",
        ),
        (
            _replace("terminations", 0, np.array([True, False, True])),
            r"episode 0: expected a terminated or truncated last step and no such flag before, "
            r"got flags at steps \[0, 2\] of 3",
        ),
    ],
    ids=[
        "truncated-file",
        "no-file",
        "bad-json",
        "missing-metadata",
        "wrong-total",
        "renamed",
        "missing-key",
        "wrong-length",
        "nan",
        "infinity",
        "action-range",
        "flags",
    ],
)
def test_a_corrupt_dataset_is_refused_with_what_is_wrong(
    root: Path, saved: Path, corrupt: Callable[[Path], None], message: str
):
    corrupt(saved)
    with pytest.raises(DatasetError, match=rf"dataset 'pointmass/easy-test-v0'.*{message}"):
        load_dataset(NAME, EASY, root=root)


def test_a_link_to_another_file_is_refused(tmp_path: Path, root: Path, saved: Path):
    other = tmp_path / "other.hdf5"
    with h5py.File(other, "w") as file:
        file["rewards"] = np.zeros(2)
    with h5py.File(_hdf5(saved), "a") as file:
        del file["episode_1/rewards"]
        file["episode_1/rewards"] = h5py.ExternalLink(str(other), "rewards")
    with pytest.raises(
        DatasetError, match=r"expected every object stored in main_data.hdf5 itself, got "
    ):
        load_dataset(NAME, EASY, root=root)


# ---- a dataset is data, never code --------------------------------------------------------


def test_a_dataset_that_would_make_minari_run_code_is_refused_without_running_it(
    tmp_path: Path, root: Path, saved: Path, monkeypatch: pytest.MonkeyPatch
):
    # A spec naming a module of the attacker's whose import leaves a mark, and no spaces, so
    # that Minari rebuilds them with gym.make(spec), which imports the module.
    module = f"crafted_{uuid.uuid4().hex}"
    mark = tmp_path / "ran"
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / f"{module}.py").write_text(
        f"from pathlib import Path\nPath({str(mark)!r}).touch()\nEnv = None\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "code"))

    def craft(metadata: dict[str, Any]) -> None:
        del metadata["observation_space"], metadata["action_space"]
        spec = json.loads(metadata["env_spec"])
        spec.update(id="Crafted-v0", entry_point=f"{module}:Env")
        metadata["env_spec"] = json.dumps(spec)

    _edit_metadata(saved, craft)
    try:
        with pytest.raises(
            DatasetError, match=r"lacks or mistypes observation_space .*, action_space"
        ):
            load_dataset(NAME, EASY, root=root)
        assert not mark.exists()
        # The danger is real: Minari itself imports the module.
        with pytest.raises(Exception):  # noqa: B017 (Env = None cannot make an environment)
            minari.MinariDataset(saved / "data")
        assert mark.exists()
    finally:
        sys.modules.pop(module, None)


# ---- no writes elsewhere, no network ------------------------------------------------------


def test_nothing_is_written_outside_the_datasets_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    home, cwd, root = tmp_path / "home", tmp_path / "cwd", tmp_path / "datasets"
    home.mkdir()
    cwd.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("MINARI_DATASETS_PATH", raising=False)
    monkeypatch.chdir(cwd)
    environment = dict(os.environ)
    save_dataset(NAME, EASY, EPISODES, root=root)
    load_dataset(NAME, EASY, root=root)
    with pytest.raises(DatasetError):
        load_dataset("pointmass/missing-v0", EASY, root=root)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd", "datasets", "home"]
    assert list(home.iterdir()) == [] and list(cwd.iterdir()) == []
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == [
        "pointmass",
        "pointmass/easy-test-v0",
        "pointmass/easy-test-v0/data",
        "pointmass/easy-test-v0/data/main_data.hdf5",
        "pointmass/easy-test-v0/data/metadata.json",
    ]
    assert dict(os.environ) == environment


def test_no_network_access_is_attempted(root: Path, monkeypatch: pytest.MonkeyPatch):
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the network was used")

    for owner, attribute in [
        (socket.socket, "connect"),
        (socket, "create_connection"),
        (socket, "getaddrinfo"),
        (minari, "download_dataset"),
        (minari, "list_remote_datasets"),
        (minari.storage.hosting, "download_dataset"),
        (minari.storage.hosting, "get_cloud_storage"),
    ]:
        monkeypatch.setattr(owner, attribute, refuse)
    save_dataset(NAME, EASY, EPISODES, root=root)
    assert len(load_dataset(NAME, EASY, root=root)) == 6
    with pytest.raises(DatasetError, match="not found"):
        load_dataset("pointmass/easy-remote-v0", EASY, root=root)

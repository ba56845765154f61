"""Homework 5's offline datasets (given code): saved in Minari's format, loaded as NumPy arrays.

An offline algorithm learns from a fixed set of transitions :math:`(s, a, r, s', \\text{done})`
collected beforehand by some behaviour policy (here hw5's explorers). The datasets are stored in
`Minari <https://minari.farama.org>`_'s format, the Farama Foundation's successor to D4RL, so
any Minari tool reads them; they are made by the homework's own exploration command and live in
a local folder: nothing is downloaded and nothing remote is ever contacted.

Where they live
    ``<root>/<name>/data/`` holds ``metadata.json`` and ``main_data.hdf5``, with ``<root>`` the
    folder named by the environment variable ``RLHW_DATASETS`` if it is set, else ``datasets/``
    at the top of the course tree, and ``<name>`` a Minari dataset id such as
    ``pointmass/easy-random-v0`` (namespace, name, version). Minari's own functions find this
    folder through ``MINARI_DATASETS_PATH`` (``MINARI_DATASETS_PATH=datasets minari list
    local``); the functions here pass the path to Minari explicitly instead, so the process's
    environment is never changed. :func:`load_dataset` opens the dataset as
    ``minari.load_dataset`` does, with ``minari.MinariDataset(<root>/<name>/data)``.

What is stored, per episode of :math:`T` steps
    ``observations`` :math:`(T + 1, \\ldots)`, the first observation and the one after every
    step, so an episode's last transition keeps its true final observation; ``actions``,
    ``rewards``, ``terminations`` and ``truncations``, each :math:`(T, \\ldots)`. Every episode
    ends with a terminated or a truncated step and has neither flag before; a collection cut
    short by its step budget marks its last step truncated (the state still has a future).
    ``terminated`` and ``truncated`` stay apart: an offline target bootstraps through a
    truncated step and not through a terminated one, as online.

Safety: a dataset is data, never code
    Nothing here or in Minari unpickles: the metadata is JSON, the spaces are JSON
    (``minari.serialization``), and h5py reads numbers and strings. Minari does run code for one
    kind of dataset, though: when ``metadata.json`` lacks ``observation_space`` or
    ``action_space``, it rebuilds them with ``gym.make`` on the recorded environment spec, which
    imports the spec's ``entry_point`` module and calls it. :func:`load_dataset` checks the
    metadata itself first and refuses such a file, as it refuses HDF5 links to other objects or
    files, before Minari opens it.

Writing is all or nothing
    :func:`save_dataset` writes into a hidden folder of ``<root>`` (``.partial-*``, which Minari
    and :func:`list_datasets` skip) and renames it into place only when complete, so an
    interrupted exploration run (Ctrl-C, an exception) leaves nothing behind. Only a process
    killed outright (``kill -9``) can leave its hidden folder, never a dataset.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import h5py
import minari
import numpy as np
from minari.dataset.minari_storage import MinariStorage
from minari.serialization import deserialize_space

import hw5_offline.envs  # noqa: F401  (registers the mazes with Gymnasium)

DATASETS_VARIABLE = "RLHW_DATASETS"
DEFAULT_ROOT = Path(__file__).resolve().parents[1] / "datasets"
# Minari's dataset ids, with the version required: (namespace/)name-vN.
NAME_PATTERN = re.compile(r"(?:[-\w][-\w/]*[-\w]/)?[-\w]+?-v\d+")
EPISODE_KEYS = ("observations", "actions", "rewards", "terminations", "truncations")
_STAGING_PREFIX = ".partial-"


class DatasetError(ValueError):
    """A dataset that is missing, made for another environment, or corrupt."""


@dataclasses.dataclass(frozen=True)
class Episode:
    """One episode of :math:`T` steps, as collected and as stored.

    ``observations[t + 1]`` is the observation after ``actions[t]``, so ``observations[T]`` is
    the true final observation, which a truncated episode's last target bootstraps from.
    """

    observations: np.ndarray
    """``(T + 1, *obs_shape)``."""
    actions: np.ndarray
    """``(T, *action_shape)``: ``(T,)`` integers for a discrete action space."""
    rewards: np.ndarray
    """``(T,)``."""
    terminations: np.ndarray
    """``(T,)`` bool: the step reached a terminal state (the goal). Only the last may be True."""
    truncations: np.ndarray
    """``(T,)`` bool: the episode was cut after the step (time limit, or the collection's step
    budget). Only the last may be True, and the last has one of the two flags."""

    def __len__(self) -> int:
        return len(self.rewards)


@dataclasses.dataclass(frozen=True)
class OfflineData:
    """A dataset as flat arrays of :math:`N` transitions, episodes one after another."""

    name: str
    env_id: str
    observations: np.ndarray
    """``(N, *obs_shape)``: :math:`s_t`."""
    actions: np.ndarray
    """``(N, *action_shape)``: :math:`a_t`, int64 for a discrete action space."""
    rewards: np.ndarray
    """``(N,)`` float64: :math:`r_t`."""
    next_observations: np.ndarray
    """``(N, *obs_shape)``: :math:`s_{t+1}`, the true final observation at an episode's end."""
    terminated: np.ndarray
    """``(N,)`` bool: no bootstrap from ``next_observations`` (the bootstrap mask is ``1 -
    terminated``)."""
    truncated: np.ndarray
    """``(N,)`` bool: the episode was cut here; its target still bootstraps."""
    episode_starts: np.ndarray
    """``(E,)`` int64: the index of each episode's first transition."""

    def __len__(self) -> int:
        return len(self.rewards)


def datasets_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The datasets folder: ``root`` if given, else ``$RLHW_DATASETS``, else ``datasets/`` at the
    top of the course tree. Reading it creates nothing."""
    if root is None:
        root = os.environ.get(DATASETS_VARIABLE) or DEFAULT_ROOT
    return Path(root).expanduser().resolve()


def list_datasets(root: str | os.PathLike[str] | None = None) -> list[str]:
    """The names of the complete datasets under the datasets folder, sorted."""
    base = datasets_root(root)
    if not base.is_dir():
        return []
    names = []
    for metadata_file in base.glob("**/data/metadata.json"):
        name = metadata_file.parent.parent.relative_to(base).as_posix()
        if not any(part.startswith(".") for part in Path(name).parts):
            names.append(name)
    return sorted(names)


def save_dataset(
    name: str,
    env_id: str,
    episodes: Sequence[Episode],
    *,
    root: str | os.PathLike[str] | None = None,
    algorithm_name: str = "",
    description: str = "",
) -> Path:
    """Write ``episodes`` as the Minari dataset ``name``, collected on ``env_id``.

    The environment's id, spec and spaces are recorded with the data. Nothing is written
    outside the datasets folder, and nothing at all unless the whole dataset is written.

    Returns:
        The dataset's folder, ``<root>/<name>``.

    Raises:
        DatasetError: the dataset exists already (datasets are never overwritten: bump the
            version), or the episodes do not fit the environment's spaces or are malformed.
    """
    _check_name(name)
    base = datasets_root(root)
    target = base / name
    if target.exists():
        raise DatasetError(
            f"dataset {name!r} exists already at {target}: delete it or save under a new "
            f"version (e.g. {_next_version(name)!r})"
        )
    observation_space, action_space = _spaces_of(env_id)
    if not episodes:
        raise DatasetError(f"dataset {name!r}: expected at least one episode, got none")
    buffers = [
        _episode_buffer(name, index, episode, observation_space, action_space)
        for index, episode in enumerate(episodes)
    ]

    base.mkdir(parents=True, exist_ok=True)
    staging = base / f"{_STAGING_PREFIX}{uuid.uuid4().hex}"
    try:
        staging.mkdir()
        storage = MinariStorage.new(
            staging / "data",
            observation_space=observation_space,
            action_space=action_space,
            env_spec=gym.spec(env_id),
            data_format="hdf5",
        )
        storage.update_metadata(
            {
                "dataset_id": name,
                "minari_version": minari.__version__,
                "algorithm_name": algorithm_name,
                "description": description,
            }
        )
        storage.update_episodes(buffers)
        target.parent.mkdir(parents=True, exist_ok=True)
        # A rename within one file system is atomic: the dataset appears whole or not at all.
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def load_dataset(
    name: str, env_id: str, *, root: str | os.PathLike[str] | None = None
) -> OfflineData:
    """Load the dataset ``name`` for training on ``env_id``, after checking it.

    Raises:
        DatasetError: naming the dataset and what is wrong, when it does not exist (the message
            lists those that do), was made on another environment or with other spaces, or is
            corrupt (unreadable or truncated files, missing keys, wrong lengths, values outside
            the spaces, NaNs).
    """
    _check_name(name)
    base = datasets_root(root)
    data_path = base / name / "data"
    if not (data_path / "metadata.json").is_file():
        available = list_datasets(base)
        raise DatasetError(
            f"dataset {name!r} not found in {base}; the datasets there: "
            f"{', '.join(available) if available else '(none)'}. Make it with the exploration "
            "command, or point RLHW_DATASETS at the folder that holds it"
        )
    observation_space, action_space = _spaces_of(env_id)
    metadata = _read_metadata(name, data_path)
    _check_metadata(name, env_id, metadata, observation_space, action_space)
    _check_hdf5_links(name, data_path / "main_data.hdf5")

    episodes = []
    try:
        dataset = minari.MinariDataset(data_path)
        for index, stored in enumerate(dataset.iterate_episodes()):
            episode = Episode(
                observations=stored.observations,
                actions=stored.actions,
                rewards=stored.rewards,
                terminations=stored.terminations,
                truncations=stored.truncations,
            )
            episodes.append(_checked_episode(name, index, episode, observation_space, action_space))
    except DatasetError:
        raise
    except (OSError, KeyError, ValueError, TypeError, AssertionError) as error:
        raise DatasetError(f"dataset {name!r} is corrupt: {error}") from error

    steps = sum(len(episode) for episode in episodes)
    if len(episodes) != metadata["total_episodes"] or steps != metadata["total_steps"]:
        raise DatasetError(
            f"dataset {name!r} is corrupt: its metadata says {metadata['total_episodes']} "
            f"episodes of {metadata['total_steps']} steps, its data holds {len(episodes)} of "
            f"{steps}"
        )
    return OfflineData(
        name=name,
        env_id=env_id,
        observations=np.concatenate([episode.observations[:-1] for episode in episodes]),
        actions=np.concatenate([episode.actions for episode in episodes]),
        rewards=np.concatenate([episode.rewards for episode in episodes]).astype(np.float64),
        next_observations=np.concatenate([episode.observations[1:] for episode in episodes]),
        terminated=np.concatenate([episode.terminations for episode in episodes]),
        truncated=np.concatenate([episode.truncations for episode in episodes]),
        episode_starts=np.cumsum([0] + [len(episode) for episode in episodes[:-1]]).astype(
            np.int64
        ),
    )


# ---- checks -------------------------------------------------------------------------------


def _check_name(name: str) -> None:
    if not isinstance(name, str) or NAME_PATTERN.fullmatch(name) is None:
        raise DatasetError(
            "expected a dataset name of the form (namespace/)name-vN, e.g. "
            f"'pointmass/easy-random-v0', got {name!r}"
        )


def _next_version(name: str) -> str:
    stem, version = name.rsplit("-v", 1)
    return f"{stem}-v{int(version) + 1}"


def _spaces_of(env_id: str) -> tuple[gym.Space[Any], gym.Space[Any]]:
    env = gym.make(env_id)
    try:
        return env.observation_space, env.action_space
    finally:
        env.close()


def _read_metadata(name: str, data_path: Path) -> dict[str, Any]:
    try:
        metadata = json.loads((data_path / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DatasetError(f"dataset {name!r} is corrupt: metadata.json: {error}") from error
    if not isinstance(metadata, dict):
        raise DatasetError(
            f"dataset {name!r} is corrupt: expected a JSON object in metadata.json, got "
            f"{type(metadata).__name__}"
        )
    return metadata


def _check_metadata(
    name: str,
    env_id: str,
    metadata: dict[str, Any],
    observation_space: gym.Space[Any],
    action_space: gym.Space[Any],
) -> None:
    """Refuse metadata that would make Minari build an environment (and so import and run the
    module its spec names), or that belongs to another environment."""
    expected = {
        "dataset_id": str,
        "data_format": str,
        "minari_version": str,
        "observation_space": str,
        "action_space": str,
        "env_spec": str,
        "total_episodes": int,
        "total_steps": int,
    }
    wrong = [
        f"{key} (expected {kind.__name__}, got "
        f"{type(metadata[key]).__name__ if key in metadata else 'nothing'})"
        for key, kind in expected.items()
        if not isinstance(metadata.get(key), kind)
    ]
    if wrong:
        raise DatasetError(
            f"dataset {name!r} is corrupt: metadata.json lacks or mistypes {', '.join(wrong)}"
        )
    if metadata["dataset_id"] != name:
        raise DatasetError(
            f"dataset {name!r} is corrupt: its metadata names it {metadata['dataset_id']!r}"
        )
    if metadata["data_format"] != "hdf5":
        raise DatasetError(
            f"dataset {name!r}: expected data_format 'hdf5', got {metadata['data_format']!r}"
        )
    try:
        stored_env_id = json.loads(metadata["env_spec"])["id"]
        stored_spaces = {
            "observation": deserialize_space(metadata["observation_space"]),
            "action": deserialize_space(metadata["action_space"]),
        }
    except (ValueError, KeyError, TypeError, AssertionError) as error:
        raise DatasetError(
            f"dataset {name!r} is corrupt: unreadable env_spec or spaces in metadata.json: "
            f"{error!r}"
        ) from error
    for kind, space in (("observation", observation_space), ("action", action_space)):
        if stored_spaces[kind] != space:
            raise DatasetError(
                f"dataset {name!r} does not match {env_id}: its {kind} space is "
                f"{stored_spaces[kind]}, the environment's is {space}"
            )
    if stored_env_id != env_id:
        raise DatasetError(
            f"dataset {name!r} does not match {env_id}: it was collected on {stored_env_id!r}"
        )


def _check_hdf5_links(name: str, file_path: Path) -> None:
    """Refuse a file that is not HDF5 (a truncated one included), and one whose objects point
    elsewhere (soft and external links, external or virtual datasets): a dataset's numbers
    come from its own file."""
    problems: list[str] = []

    def visit(path: str, link: h5py.HardLink | h5py.SoftLink | h5py.ExternalLink) -> None:
        if not isinstance(link, h5py.HardLink):
            problems.append(f"{path} is a {type(link).__name__}")

    try:
        with h5py.File(file_path, "r") as file:
            file.visititems_links(visit)
            datasets: list[h5py.Dataset] = []
            file.visititems(
                lambda _, item: datasets.append(item) if isinstance(item, h5py.Dataset) else None
            )
            problems += [d.name for d in datasets if d.external is not None or d.is_virtual]
    except OSError as error:
        raise DatasetError(f"dataset {name!r} is corrupt: {file_path.name}: {error}") from error
    if problems:
        raise DatasetError(
            f"dataset {name!r}: expected every object stored in {file_path.name} itself, got "
            f"{', '.join(problems[:3])}"
        )


def _checked_episode(
    name: str,
    index: int,
    episode: Episode,
    observation_space: gym.Space[Any],
    action_space: gym.Space[Any],
) -> Episode:
    """``episode`` as arrays of the spaces' dtypes, after checking its lengths, flags and
    values."""
    where = f"dataset {name!r}, episode {index}"
    arrays = {}
    for key in EPISODE_KEYS:
        value = np.asarray(getattr(episode, key))
        kinds = "biu" if key in ("terminations", "truncations") else "iuf"
        if value.dtype.kind not in kinds:
            raise DatasetError(f"{where}: expected numeric {key}, got dtype {value.dtype}")
        arrays[key] = value
    steps = len(arrays["rewards"])
    expected_shapes = {
        "observations": (steps + 1, *(observation_space.shape or ())),
        "actions": (steps, *(action_space.shape or ())),
        "rewards": (steps,),
        "terminations": (steps,),
        "truncations": (steps,),
    }
    for key, shape in expected_shapes.items():
        if arrays[key].shape != shape:
            raise DatasetError(
                f"{where}: expected {key} of shape {shape} ({steps} steps), got {arrays[key].shape}"
            )
    if steps == 0:
        raise DatasetError(f"{where}: expected at least one step, got none")
    for key in ("observations", "rewards"):
        if not np.all(np.isfinite(arrays[key])):
            raise DatasetError(f"{where}: expected finite {key}, got NaN or infinity")
    ends = arrays["terminations"].astype(bool) | arrays["truncations"].astype(bool)
    if np.any(ends[:-1]) or not ends[-1]:
        raise DatasetError(
            f"{where}: expected a terminated or truncated last step and no such flag before, "
            f"got flags at steps {np.flatnonzero(ends).tolist()} of {steps}"
        )
    observations = _in_space(arrays["observations"], observation_space, f"{where}: observations")
    actions = _in_space(arrays["actions"], action_space, f"{where}: actions")
    return Episode(
        observations=observations,
        actions=actions,
        rewards=arrays["rewards"].astype(np.float64),
        terminations=arrays["terminations"].astype(bool),
        truncations=arrays["truncations"].astype(bool),
    )


def _in_space(values: np.ndarray, space: gym.Space[Any], what: str) -> np.ndarray:
    """``values`` (a batch of elements of ``space``) as the space's dtype, after checking that
    each lies in it. Box and Discrete spaces only, which every hw5 environment uses."""
    if isinstance(space, gym.spaces.Discrete):
        inside = (values == np.round(values)) & (values >= space.start)
        inside &= values < space.start + space.n
        converted = values.astype(np.int64)
    elif isinstance(space, gym.spaces.Box):
        converted = values.astype(space.dtype)
        axes = tuple(range(1, converted.ndim))
        inside = np.all((converted >= space.low) & (converted <= space.high), axis=axes)
    else:
        raise DatasetError(f"{what}: expected a Box or Discrete space, got {space}")
    if not np.all(inside):
        first = int(np.flatnonzero(~inside)[0])
        raise DatasetError(
            f"{what}: expected values in {space}, got {values[first].tolist()} at step {first}"
        )
    return converted


def _episode_buffer(
    name: str,
    index: int,
    episode: Episode,
    observation_space: gym.Space[Any],
    action_space: gym.Space[Any],
) -> minari.data_collector.EpisodeBuffer:
    episode = _checked_episode(name, index, episode, observation_space, action_space)
    return minari.data_collector.EpisodeBuffer(
        id=index,
        observations=episode.observations,
        actions=episode.actions,
        rewards=episode.rewards,
        terminations=episode.terminations,
        truncations=episode.truncations,
    )

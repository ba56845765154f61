"""Homework 5's continuous datasets, ``hopper/medium-v0`` and ``hopper/expert-v0`` (given code):
made on first use from the two behaviour policies that ship with the homework::

    python -m hw5_offline.hopper_data [--datasets-dir DIR] [NAME ...]

makes the named datasets (by default both) that are not in the datasets folder yet, and prints
each one's return and normalised score. ``python -m hw5_offline.run`` does the same for a Hopper
dataset it needs and does not find.

The behaviour policies, in the manner of D4RL's
    *medium*: a SAC actor stopped at about a quarter of the expert's return, sampled as SAC acts
    while it trains: :math:`a = \\tanh(\\mu(s) + \\sigma(s) \\odot \\varepsilon)`,
    :math:`\\varepsilon \\sim \\mathcal N(0, I)`, rescaled to the action bounds.

    *expert*: homework 1's Hopper-v5 expert, deterministic, :math:`\\tanh(\\mu(s))` rescaled to
    the bounds, plus Gaussian noise of standard deviation 0.1 times half the action range,
    clipped to the bounds: without the noise the dataset would be nearly one trajectory over
    and over, with no action that is not the expert's.

    Each lives in ``hw5_offline/behaviour/`` as a small ``.npz`` file of plain arrays (read with
    ``allow_pickle=False``: loading one runs no code), written by the staff's tool
    (``hw5_offline/tools/make_hopper_datasets.py``). Its arrays:

    ===================================  =========================================================
    key                                  what it holds
    ===================================  =========================================================
    ``format_version``                   ``FORMAT_VERSION``
    ``kind``                             ``"tanh_gaussian"`` or ``"noisy_mean"`` (see ``KINDS``)
    ``env``                              the Gymnasium id it acts in, ``"Hopper-v5"``
    ``about``                            a line on where it comes from, for the dataset's
                                         description
    ``obs_dim``, ``action_dim``          the network's input length and the action's length
    ``n_layers``, ``activation``         the MLP's hidden layers and their activation
                                         (``infrastructure.torch_utils.build_mlp``)
    ``net.0.weight``, ``net.0.bias``...  the MLP's weights, float32: ``obs_dim`` to
                                         ``2 * action_dim`` (means, then raw log standard
                                         deviations) for ``tanh_gaussian``, to ``action_dim``
                                         for ``noisy_mean``
    ``action_low``, ``action_high``      the bounds, ``(action_dim,)`` float32
    ``log_std_min``, ``log_std_max``     ``tanh_gaussian``: the range its log standard
                                         deviations are squashed into
    ``noise_std``                        ``noisy_mean``: the noise's standard deviation, in
                                         units of half the action range
    ===================================  =========================================================

The datasets
    Each policy acts for ``transitions`` steps (50k) of Hopper-v5 from ``reset(seed=...)`` (a
    seed of its own, which seeds its noise too), saved with
    :func:`hw5_offline.datasets.save_dataset`, which writes all of the dataset or nothing: an
    interrupted recording leaves no dataset behind. The last episode, cut by the budget, ends
    truncated. The same code on the same versions of MuJoCo, NumPy and PyTorch makes the same
    dataset, transition for transition.

The normalised score
    D4RL's, :func:`normalized_score`: 0 for the uniformly random policy, 100 for the expert,
    from the returns ``RANDOM_RETURN`` and ``EXPERT_RETURN`` measured by the staff's tool.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tqdm.auto import tqdm

from hw5_offline.datasets import DatasetError, Episode, datasets_root, save_dataset
from infrastructure.envs import make_env
from infrastructure.sampler import Batch, Policy, Sampler
from infrastructure.torch_utils import build_mlp, set_num_threads, to_numpy, to_torch

ENV_ID = "Hopper-v5"
BEHAVIOUR_DIR = Path(__file__).resolve().parent / "behaviour"
FORMAT_VERSION = 1
KINDS: dict[str, tuple[str, ...]] = {
    "tanh_gaussian": ("log_std_min", "log_std_max"),
    "noisy_mean": ("noise_std",),
}
"""The kinds of behaviour policy, each with the constants its file holds besides its network."""
MADE_BY = "python -m hw5_offline.tools.make_hopper_datasets"
TRANSITIONS = 50_000
# The two ends of the normalised score on Hopper-v5, measured by `python -m
# hw5_offline.tools.make_hopper_datasets` (its scores.json): the mean returns of 100 episodes of
# uniformly random actions and of 10 episodes of hw1's noiseless expert, from reset(seed=1000).
RANDOM_RETURN = 16.6
EXPERT_RETURN = 2830.0


# ---------------------------------------------------------------------------------------------
# The behaviour policies: a batch of observations (B, 11) in, actions (B, 3) in the bounds out
# ---------------------------------------------------------------------------------------------


class BehaviourPolicy:
    """A behaviour policy of a Hopper dataset, stochastic: a batch of observations ``(B,
    obs_dim)`` in, actions ``(B, action_dim)`` within ``[action_low, action_high]`` out, float32,
    their noise drawn from ``rng``.

    ``kind`` ``"tanh_gaussian"`` (SAC's actor): ``net`` maps :math:`s` to the means
    :math:`\\mu(s)` and raw log standard deviations :math:`\\ell(s)`, squashed smoothly into
    ``[log_std_min, log_std_max]`` as homework 3's ``TanhGaussianActor`` does; the action is
    :math:`\\tanh(\\mu + \\sigma \\odot \\varepsilon)` rescaled to the bounds.

    ``kind`` ``"noisy_mean"`` (a deterministic policy with noise): ``net`` maps :math:`s` to
    :math:`\\mu(s)`; the action is :math:`\\tanh(\\mu)` rescaled to the bounds, plus
    :math:`\\varepsilon` times ``noise_std`` times half the action range, clipped to the bounds.

    Raises:
        ValueError: an unknown kind, constants that are not the kind's, weights that are not
            those of the MLP described, or bounds of the wrong shape.
    """

    def __init__(
        self,
        *,
        kind: str,
        env_id: str,
        about: str,
        obs_dim: int,
        action_dim: int,
        n_layers: int,
        activation: str,
        weights: Mapping[str, np.ndarray],
        action_low: np.ndarray,
        action_high: np.ndarray,
        constants: Mapping[str, float],
        rng: np.random.Generator,
    ):
        if kind not in KINDS:
            raise ValueError(f"expected a behaviour kind in {sorted(KINDS)}, got {kind!r}")
        if sorted(constants) != sorted(KINDS[kind]):
            raise ValueError(
                f"expected the constants {', '.join(KINDS[kind])} for a {kind} policy, got "
                f"{', '.join(sorted(constants)) or 'none'}"
            )
        self.kind, self.env_id, self.about = kind, env_id, about
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.n_layers, self.activation = n_layers, activation
        self.constants = {key: float(value) for key, value in constants.items()}
        self.rng = rng
        outputs = 2 * action_dim if kind == "tanh_gaussian" else action_dim
        first = weights.get("0.weight")
        size = int(first.shape[0]) if first is not None and np.ndim(first) == 2 else 1
        self.net = build_mlp(obs_dim, outputs, n_layers, size, activation)
        expected = {k: tuple(v.shape) for k, v in self.net.state_dict().items()}
        got = {k: tuple(np.shape(v)) for k, v in weights.items()}
        if expected != got:
            raise ValueError(
                f"expected the weights of a {n_layers}-hidden-layer MLP from {obs_dim} to "
                f"{outputs} ({kind}) with shapes {expected}, got {got}"
            )
        self.net.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in weights.items()})
        self.net.eval()
        self.action_low = np.asarray(action_low, dtype=np.float32)
        self.action_high = np.asarray(action_high, dtype=np.float32)
        bounds = (self.action_low.shape, self.action_high.shape)
        if bounds != ((action_dim,), (action_dim,)):
            raise ValueError(f"expected action bounds of shape ({action_dim},), got {bounds}")
        if not np.all(self.action_low < self.action_high):
            raise ValueError(
                f"expected action_low < action_high, got {self.action_low} and {self.action_high}"
            )

    @torch.no_grad()
    def __call__(self, observations: np.ndarray) -> np.ndarray:
        observations = np.asarray(observations)
        if observations.ndim != 2 or observations.shape[1] != self.obs_dim:
            raise ValueError(
                f"the {self.env_id} behaviour policy expects observations of shape (B, "
                f"{self.obs_dim}), got {observations.shape}"
            )
        # The operations, their order and their dtypes are those the datasets were first
        # recorded with (float32 network, float64 noise): the same code makes the same datasets.
        outputs = self.net(to_torch(observations, "cpu"))
        low, high = self.action_low, self.action_high
        if self.kind == "tanh_gaussian":
            means, raw = outputs.chunk(2, dim=-1)
            log_min, log_max = self.constants["log_std_min"], self.constants["log_std_max"]
            log_stds = log_min + 0.5 * (log_max - log_min) * (torch.tanh(raw) + 1.0)
            noise = self.rng.standard_normal(means.shape)
            squashed = np.tanh(to_numpy(means) + np.exp(to_numpy(log_stds)) * noise)
            return (low + 0.5 * (squashed + 1.0) * (high - low)).astype(np.float32)
        squashed = np.tanh(to_numpy(outputs))
        actions = (low + 0.5 * (squashed + 1.0) * (high - low)).astype(np.float32)
        noise = self.constants["noise_std"] * 0.5 * (high - low)
        noise = noise * self.rng.standard_normal(actions.shape)
        return np.clip(actions + noise, low, high).astype(np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        """What :func:`save_behaviour` writes (the table of the module's docstring)."""
        return {
            "format_version": np.array(FORMAT_VERSION),
            "kind": np.array(self.kind),
            "env": np.array(self.env_id),
            "about": np.array(self.about),
            "obs_dim": np.array(self.obs_dim),
            "action_dim": np.array(self.action_dim),
            "n_layers": np.array(self.n_layers),
            "activation": np.array(self.activation),
            "action_low": self.action_low,
            "action_high": self.action_high,
            **{key: np.array(value) for key, value in self.constants.items()},
            **{
                f"net.{k}": to_numpy(v).astype(np.float32) for k, v in self.net.state_dict().items()
            },
        }


def save_behaviour(policy: BehaviourPolicy, path: str | os.PathLike[str]) -> None:
    """Write ``policy`` to ``path`` (an ``.npz`` file), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial.npz")  # np.savez adds .npz to other names
    try:
        np.savez_compressed(partial, **policy.arrays())  # type: ignore[arg-type]
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


_COMMON_KEYS = ("kind", "env", "about", "obs_dim", "action_dim", "n_layers", "activation")


def load_behaviour(
    path: str | os.PathLike[str], rng: np.random.Generator, env_id: str | None = None
) -> BehaviourPolicy:
    """The behaviour policy saved at ``path``, drawing its noise from ``rng``; when ``env_id`` is
    given, checked against that environment's id and spaces.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: saying what was expected and what came in, for a file that is not an
            ``.npz`` of plain arrays, of another format version, missing arrays, with weights or
            bounds of the wrong shapes, or made for another environment.
    """
    path = Path(path)
    if not path.is_file():
        present = sorted(p.name for p in path.parent.glob("*.npz")) if path.parent.is_dir() else []
        raise FileNotFoundError(
            f"expected a behaviour policy at {path}, found none (made by `{MADE_BY}`); files "
            f"there: {', '.join(present) or 'none'}"
        )
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError(f"a single array of shape {np.shape(data)} (an .npy file)")
        with data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"expected a behaviour policy in {path}, an .npz file of plain arrays, got a file "
            f"that is not one: {error}"
        ) from error
    version = arrays["format_version"].tolist() if "format_version" in arrays else None
    if version != FORMAT_VERSION:
        raise ValueError(
            f"expected a behaviour policy of format version {FORMAT_VERSION} in {path}, got "
            f"{version if version is not None else 'no format_version'}"
        )
    kind = str(arrays["kind"]) if "kind" in arrays else None
    required = (*_COMMON_KEYS, "action_low", "action_high", *KINDS.get(kind or "", ()))
    missing = [key for key in required if key not in arrays]
    if missing:
        raise ValueError(f"expected the arrays {', '.join(required)} in {path}, missing {missing}")
    scalars = [*_COMMON_KEYS, *KINDS.get(kind or "", ())]
    shaped = {key: arrays[key].shape for key in scalars if arrays[key].ndim != 0}
    if shaped:
        raise ValueError(f"expected single values for {', '.join(shaped)} in {path}, got {shaped}")
    prefix = "net."
    try:
        policy = BehaviourPolicy(
            kind=str(arrays["kind"]),
            env_id=str(arrays["env"]),
            about=str(arrays["about"]),
            obs_dim=int(arrays["obs_dim"]),
            action_dim=int(arrays["action_dim"]),
            n_layers=int(arrays["n_layers"]),
            activation=str(arrays["activation"]),
            weights={k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)},
            action_low=arrays["action_low"],
            action_high=arrays["action_high"],
            constants={key: float(arrays[key]) for key in KINDS.get(kind or "", ())},
            rng=rng,
        )
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
    if env_id is not None:
        _check_env(path, policy, env_id)
    return policy


def _check_env(path: Path, policy: BehaviourPolicy, env_id: str) -> None:
    made_for = (
        f"{path.name} was made for {policy.env_id} (observations ({policy.obs_dim},), actions "
        f"({policy.action_dim},) in [{policy.action_low.tolist()}, {policy.action_high.tolist()}])"
    )
    if policy.env_id != env_id:
        raise ValueError(f"{made_for}, got the environment {env_id}")
    env = gym.make(env_id)
    try:
        observation_space, action_space = env.observation_space, env.action_space
    finally:
        env.close()
    fits = (
        isinstance(action_space, gym.spaces.Box)
        and observation_space.shape == (policy.obs_dim,)
        and action_space.shape == (policy.action_dim,)
        and np.array_equal(action_space.low, policy.action_low)
        and np.array_equal(action_space.high, policy.action_high)
    )
    if not fits:
        raise ValueError(
            f"{made_for}, got {env_id} with observations {observation_space} and actions "
            f"{action_space}"
        )


# ---------------------------------------------------------------------------------------------
# Recording and scoring
# ---------------------------------------------------------------------------------------------


def episodes_of(batch: Batch) -> list[Episode]:
    """``batch``'s trajectories as dataset episodes: each one's observations are its
    :math:`s_t` followed by its last :math:`s_{t+1}`, the true final observation."""
    return [
        Episode(
            observations=np.concatenate(
                [batch.observations[piece], batch.next_observations[piece][-1:]]
            ),
            actions=batch.actions[piece],
            rewards=batch.rewards[piece],
            terminations=batch.terminated[piece],
            truncations=batch.truncated[piece],
        )
        for piece in batch.trajectory_slices()
    ]


class _Ticking:
    """``policy``, ticking ``bar`` once per call: the sampler calls it once per step."""

    def __init__(self, policy: Policy, bar: tqdm):
        self.policy, self.bar = policy, bar

    def __call__(self, observations: np.ndarray) -> Any:
        self.bar.update(1)
        return self.policy(observations)


def record(
    env_id: str, policy: Policy, transitions: int, seed: int, progress: bool = False
) -> tuple[list[Episode], np.ndarray]:
    """``transitions`` steps of ``policy`` from ``reset(seed=seed)`` on, as episodes (the last
    one truncated where the budget cuts it), and the returns of the complete episodes among
    them, ``(E,)``.

    Raises:
        ValueError: no episode ends within the budget (its return would say nothing).
    """
    if transitions < 1:
        raise ValueError(f"expected a number of transitions >= 1, got {transitions}")
    env = make_env(env_id, seed)
    bar = tqdm(total=transitions, desc=f"recording {env_id}", unit="step", disable=not progress)
    try:
        batch = Sampler(env, seed=seed).sample_steps(_Ticking(policy, bar), transitions)
    finally:
        bar.close()
        env.close()
    if len(batch.episode_returns) == 0:
        raise ValueError(
            f"expected at least one complete episode in {transitions} transitions on {env_id}, "
            "got none: record more transitions"
        )
    return episodes_of(batch), batch.episode_returns


def normalized_score(
    ret: float, random_return: float = RANDOM_RETURN, expert_return: float = EXPERT_RETURN
) -> float:
    """D4RL's normalised score, :math:`100 \\, (R - R_\\text{random}) / (R_\\text{expert} -
    R_\\text{random})`: 0 for the random policy, 100 for the expert (by default Hopper-v5's)."""
    if not expert_return > random_return:
        raise ValueError(
            f"expected the expert's return above the random policy's, got expert "
            f"{expert_return} and random {random_return}"
        )
    return 100.0 * (ret - random_return) / (expert_return - random_return)


# ---------------------------------------------------------------------------------------------
# The datasets
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class HopperDataset:
    """How one Hopper dataset is made."""

    behaviour: str
    """The behaviour policy's file in ``BEHAVIOUR_DIR``."""
    seed: int
    """The seed of the first ``reset`` and of the policy's noise."""
    transitions: int = TRANSITIONS


HOPPER_DATASETS = {
    "hopper/medium-v0": HopperDataset("hopper-medium.npz", seed=2_000),
    "hopper/expert-v0": HopperDataset("hopper-expert.npz", seed=3_000),
}


@dataclasses.dataclass(frozen=True)
class HopperRecording:
    """A Hopper dataset just made."""

    path: Path
    """Its folder, ``<root>/<name>``."""
    about: str
    """Its behaviour policy, in a line."""
    episodes: int
    returns: np.ndarray
    """``(E,)``: the returns of its complete episodes (all but one cut by the budget)."""

    @property
    def return_mean(self) -> float:
        return float(self.returns.mean())


def hopper_spec(name: str) -> HopperDataset:
    """How the Hopper dataset ``name`` is made.

    Raises:
        ValueError: ``name`` is not one of ``HOPPER_DATASETS``, which the message lists.
    """
    if name not in HOPPER_DATASETS:
        raise ValueError(
            f"expected a Hopper dataset among {', '.join(HOPPER_DATASETS)}, got {name!r}"
        )
    return HOPPER_DATASETS[name]


def record_hopper_dataset(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    progress: bool = True,
    behaviour_dir: str | os.PathLike[str] | None = None,
    transitions: int | None = None,
) -> HopperRecording:
    """Record the Hopper dataset ``name`` with its behaviour policy and save it in ``root``
    (the datasets folder by default), all of it or nothing.

    Args:
        name: one of ``HOPPER_DATASETS``.
        root: the datasets folder (see :func:`hw5_offline.datasets.datasets_root`).
        progress: show a progress bar over the steps recorded.
        behaviour_dir: where the behaviour policies are (``BEHAVIOUR_DIR`` by default).
        transitions: the dataset's steps, if not its own number (for a quick test).

    Raises:
        ValueError: an unknown name, or a behaviour policy that is not Hopper-v5's.
        DatasetError: the dataset exists already.
    """
    spec = hopper_spec(name)
    target = datasets_root(root) / name
    if target.exists():
        raise DatasetError(
            f"dataset {name!r} exists already at {target}: delete it to make it anew"
        )
    transitions = spec.transitions if transitions is None else transitions
    rng = np.random.default_rng(spec.seed)
    directory = Path(behaviour_dir) if behaviour_dir is not None else BEHAVIOUR_DIR
    policy = load_behaviour(directory / spec.behaviour, rng, env_id=ENV_ID)
    episodes, returns = record(ENV_ID, policy, transitions, spec.seed, progress)
    complete = len(returns)
    ret = float(returns.mean())
    path = save_dataset(
        name,
        ENV_ID,
        episodes,
        root=root,
        algorithm_name=policy.about,
        description=(
            f"{transitions} transitions of {policy.about} on {ENV_ID} from reset(seed="
            f"{spec.seed}), {len(episodes)} episodes ({len(episodes) - complete} cut by the "
            f"budget); mean return {ret:.1f} over its {complete} complete episodes, normalised "
            f"score {normalized_score(ret):.1f} (python -m hw5_offline.hopper_data)."
        ),
    )
    return HopperRecording(path=path, about=policy.about, episodes=len(episodes), returns=returns)


def make_hopper_dataset(
    name: str, root: str | os.PathLike[str] | None = None, progress: bool = True
) -> Path:
    """Record the Hopper dataset ``name`` and save it in ``root``; its folder. See
    :func:`record_hopper_dataset`, which this is with the dataset's own budget."""
    return record_hopper_dataset(name, root, progress=progress).path


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m hw5_offline.hopper_data",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument(
        "--datasets-dir", type=Path, default=None, help="default: $RLHW_DATASETS, else datasets/"
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"the datasets to make, among {', '.join(HOPPER_DATASETS)} (default: both)",
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in HOPPER_DATASETS]
    if unknown:
        parser.error(f"expected datasets among {', '.join(HOPPER_DATASETS)}, got {unknown}")
    # One step's forward pass is a tiny product: a second thread only waits for the first (on a
    # busy 2-core machine, 15 times slower per step); the actions are the same bit for bit.
    set_num_threads(1)
    root = datasets_root(args.datasets_dir)
    for name in args.names or list(HOPPER_DATASETS):
        if (root / name).exists():
            print(f"{name} exists already at {root / name}: kept")
            continue
        start = time.perf_counter()
        made = record_hopper_dataset(name, root)
        ret = made.return_mean
        print(
            f"{name}: return {ret:.1f} ± {float(made.returns.std()):.1f} over "
            f"{len(made.returns)} complete episodes, normalised score {normalized_score(ret):.1f}; "
            f"made in {time.perf_counter() - start:.0f} s at {made.path}",
            flush=True,
        )


if __name__ == "__main__":
    main()

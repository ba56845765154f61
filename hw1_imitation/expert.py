"""The experts of homework 1 and their demonstrations (given code).

Each environment's expert was trained by the course staff with the homework-3 SAC reference
(``hw1_imitation/tools/train_expert.py``) and ships as data in ``hw1_imitation/experts/``:

=====================  ==========================================================================
file                   what it holds
=====================  ==========================================================================
``ENV.npz``            the expert policy :math:`\\pi^*`: the weights of an MLP :math:`\\mu(s)` and
                       the action bounds; :math:`\\pi^*(s) = \\tanh(\\mu(s))`, rescaled to the
                       bounds. Deterministic, and loaded without homework 3's code.
``ENV_demos.npz``      a few expert episodes, the demonstrations :math:`\\mathcal D` that
                       behaviour cloning learns from
``manifest.json``      the expert's mean return over 10 evaluation episodes, and the returns of
                       the demonstrations
=====================  ==========================================================================

Both ``.npz`` files are plain NumPy arrays, read with ``allow_pickle=False``: loading one
cannot run code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from infrastructure.torch_utils import build_mlp, to_numpy, to_torch

EXPERT_DIR = Path(__file__).resolve().parent / "experts"
MANIFEST = "manifest.json"
FORMAT_VERSION = 1


def expert_path(env_id: str, expert_dir: str | Path | None = None) -> Path:
    """Where the expert of ``env_id`` lives: ``EXPERT_DIR/ENV.npz`` unless ``expert_dir``."""
    return Path(expert_dir if expert_dir is not None else EXPERT_DIR) / f"{env_id}.npz"


def demos_path(env_id: str, expert_dir: str | Path | None = None) -> Path:
    """Where the demonstrations of ``env_id`` live: ``EXPERT_DIR/ENV_demos.npz``."""
    return Path(expert_dir if expert_dir is not None else EXPERT_DIR) / f"{env_id}_demos.npz"


def _read_npz(path: Path, what: str, made_by: str) -> dict[str, np.ndarray]:
    if not path.is_file():
        present = sorted(p.name for p in path.parent.glob("*.npz")) if path.parent.is_dir() else []
        raise FileNotFoundError(
            f"expected {what} at {path}, found none (made by `{made_by}`); "
            f"files there: {', '.join(present) or 'none'}"
        )
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    version = int(arrays.get("format_version", -1))
    if version != FORMAT_VERSION:
        raise ValueError(
            f"expected {what} of format version {FORMAT_VERSION} in {path}, got {version}"
        )
    return arrays


def _require(arrays: Mapping[str, np.ndarray], keys: tuple[str, ...], path: Path) -> None:
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise ValueError(f"expected the arrays {', '.join(keys)} in {path}, missing {missing}")


def check_env(
    path: Path, file_env: str, obs_dim: int, action_dim: int, env: gym.Env | None
) -> None:
    """Raise a ValueError that says what was expected when ``env`` is not the environment the
    file at ``path`` was made for (``file_env``, with these observation and action lengths)."""
    if env is None:
        return
    env_id = env.spec.id if env.spec is not None else None
    obs_shape, action_shape = env.observation_space.shape, env.action_space.shape
    made_for = (
        f"{path.name} was made for {file_env} (observations of shape ({obs_dim},), actions of "
        f"shape ({action_dim},))"
    )
    got = f"observations of shape {obs_shape}, actions of shape {action_shape}"
    if env_id is not None and env_id != file_env:
        raise ValueError(f"{made_for}, got the environment {env_id} ({got})")
    if obs_shape != (obs_dim,) or action_shape != (action_dim,):
        raise ValueError(f"{made_for}, got an environment with {got}")


# ---------------------------------------------------------------------------------------------
# The expert policy
# ---------------------------------------------------------------------------------------------


class ExpertPolicy:
    """The expert :math:`\\pi^*`, deterministic: a batch of observations ``(B, obs_dim)`` in,
    actions ``(B, action_dim)`` within the environment's bounds out.

    Parameters: ``mean_net``, an MLP from ``obs_dim`` to ``action_dim`` built by
    ``infrastructure.torch_utils.build_mlp``; the action is :math:`\\tanh(\\mu(s))` mapped
    from ``[-1, 1]`` to ``[action_low, action_high]``.
    """

    def __init__(
        self,
        env_id: str,
        obs_dim: int,
        action_dim: int,
        weights: Mapping[str, np.ndarray],
        n_layers: int,
        activation: str,
        action_low: np.ndarray,
        action_high: np.ndarray,
    ):
        self.env_id, self.obs_dim, self.action_dim = env_id, obs_dim, action_dim
        self.n_layers, self.activation = n_layers, activation
        first = weights.get("0.weight")
        size = int(first.shape[0]) if first is not None and n_layers > 0 else 1
        self.mean_net = build_mlp(obs_dim, action_dim, n_layers, size, activation)
        expected = {k: tuple(v.shape) for k, v in self.mean_net.state_dict().items()}
        got = {k: tuple(np.shape(v)) for k, v in weights.items()}
        if expected != got:
            raise ValueError(
                f"expected the weights of a {n_layers}-hidden-layer MLP from {obs_dim} to "
                f"{action_dim} with shapes {expected}, got {got}"
            )
        self.mean_net.load_state_dict({k: torch.as_tensor(v) for k, v in weights.items()})
        self.mean_net.eval()
        self.action_low = np.asarray(action_low, dtype=np.float32)
        self.action_high = np.asarray(action_high, dtype=np.float32)
        bounds = (self.action_low.shape, self.action_high.shape)
        if bounds != ((action_dim,), (action_dim,)):
            raise ValueError(f"expected action bounds of shape ({action_dim},), got {bounds}")

    @torch.no_grad()
    def __call__(self, observations: np.ndarray) -> np.ndarray:
        observations = np.asarray(observations)
        if observations.ndim != 2 or observations.shape[1] != self.obs_dim:
            raise ValueError(
                f"the {self.env_id} expert expects observations of shape (B, {self.obs_dim}), "
                f"got {observations.shape}"
            )
        squashed = np.tanh(to_numpy(self.mean_net(to_torch(observations, "cpu"))))
        actions = self.action_low + 0.5 * (squashed + 1.0) * (self.action_high - self.action_low)
        return actions.astype(np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        """What :func:`save_expert` writes."""
        weights = {k: to_numpy(v) for k, v in self.mean_net.state_dict().items()}
        return {
            "format_version": np.array(FORMAT_VERSION),
            "env": np.array(self.env_id),
            "obs_dim": np.array(self.obs_dim),
            "action_dim": np.array(self.action_dim),
            "n_layers": np.array(self.n_layers),
            "activation": np.array(self.activation),
            "action_low": self.action_low,
            "action_high": self.action_high,
            **{f"mean_net.{k}": v.astype(np.float32) for k, v in weights.items()},
        }


def save_expert(expert: ExpertPolicy, path: str | Path) -> None:
    """Write ``expert`` to ``path`` (an ``.npz`` file), atomically."""
    _save_npz(Path(path), expert.arrays())


def load_expert(path: str | Path, env: gym.Env | None = None) -> ExpertPolicy:
    """The expert saved at ``path``; when ``env`` is given, check that the expert was made
    for it (a ValueError says what was expected and what came in)."""
    path = Path(path)
    made_by = "python -m hw1_imitation.tools.train_expert"
    arrays = _read_npz(path, "an expert policy", made_by)
    _require(arrays, ("env", "obs_dim", "action_dim", "n_layers", "activation"), path)
    _require(arrays, ("action_low", "action_high"), path)  # the weights are checked by shape
    prefix = "mean_net."
    weights = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
    expert = ExpertPolicy(
        str(arrays["env"]),
        int(arrays["obs_dim"]),
        int(arrays["action_dim"]),
        weights,
        int(arrays["n_layers"]),
        str(arrays["activation"]),
        arrays["action_low"],
        arrays["action_high"],
    )
    check_env(path, expert.env_id, expert.obs_dim, expert.action_dim, env)
    return expert


# ---------------------------------------------------------------------------------------------
# Demonstrations
# ---------------------------------------------------------------------------------------------


def check_pairs(observations: np.ndarray, actions: np.ndarray) -> None:
    """Raise a ValueError unless ``observations`` ``(N, obs_dim)`` and ``actions``
    ``(N, action_dim)`` pair up, one action per observation."""
    if observations.ndim != 2 or actions.ndim != 2:
        raise ValueError(
            "expected observations (N, obs_dim) and actions (N, action_dim), got shapes "
            f"{observations.shape} and {actions.shape}"
        )
    if len(observations) != len(actions):
        raise ValueError(
            f"expected one action per observation, got {len(observations)} observations "
            f"and {len(actions)} actions"
        )


@dataclass(frozen=True)
class Demonstrations:
    """Expert episodes laid end to end.

    ======================  ===================  ====================================
    field                   shape                meaning
    ======================  ===================  ====================================
    ``observations``        ``(N, obs_dim)``     :math:`s_t`
    ``actions``             ``(N, action_dim)``  :math:`a_t = \\pi^*(s_t)`
    ``rewards``             ``(N,)``             :math:`r(s_t, a_t)`
    ``episode_lengths``     ``(E,)``             steps of each episode, in order
    ``episode_returns``     ``(E,)``             undiscounted return of each episode
    ======================  ===================  ====================================
    """

    env_id: str
    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    episode_lengths: np.ndarray
    episode_returns: np.ndarray

    def __post_init__(self) -> None:
        check_pairs(self.observations, self.actions)
        n = int(np.sum(self.episode_lengths))
        if len(self.observations) != n or len(self.rewards) != n:
            raise ValueError(
                f"expected {n} steps (the sum of the episode lengths), got "
                f"{len(self.observations)} observations and {len(self.rewards)} rewards"
            )
        if len(self.episode_returns) != len(self.episode_lengths):
            raise ValueError(
                f"expected one return per episode ({len(self.episode_lengths)}), "
                f"got {len(self.episode_returns)}"
            )

    @property
    def num_episodes(self) -> int:
        return len(self.episode_lengths)

    def first(self, num_episodes: int | None) -> Demonstrations:
        """The first ``num_episodes`` episodes (all of them for None)."""
        if num_episodes is None:
            return self
        if not 1 <= num_episodes <= self.num_episodes:
            raise ValueError(
                f"expected between 1 and {self.num_episodes} demonstration episodes, "
                f"got {num_episodes}"
            )
        n = int(np.sum(self.episode_lengths[:num_episodes]))
        return Demonstrations(
            self.env_id,
            self.observations[:n],
            self.actions[:n],
            self.rewards[:n],
            self.episode_lengths[:num_episodes],
            self.episode_returns[:num_episodes],
        )


_DEMO_ARRAYS = ("observations", "actions", "rewards", "episode_lengths", "episode_returns")


def save_demos(demos: Demonstrations, path: str | Path) -> None:
    """Write ``demos`` to ``path`` (a compressed ``.npz`` file), atomically."""
    arrays = {name: getattr(demos, name) for name in _DEMO_ARRAYS}
    arrays["observations"] = arrays["observations"].astype(np.float32)
    arrays["actions"] = arrays["actions"].astype(np.float32)
    arrays["rewards"] = arrays["rewards"].astype(np.float32)
    meta = {"format_version": np.array(FORMAT_VERSION), "env": np.array(demos.env_id)}
    _save_npz(Path(path), {**meta, **arrays})


def load_demos(path: str | Path, env: gym.Env | None = None) -> Demonstrations:
    """The demonstrations saved at ``path``; when ``env`` is given, check that they were
    recorded in it (a ValueError says what was expected and what came in)."""
    path = Path(path)
    made_by = "python -m hw1_imitation.tools.record_demos"
    arrays = _read_npz(path, "expert demonstrations", made_by)
    _require(arrays, ("env", *_DEMO_ARRAYS), path)
    demos = Demonstrations(str(arrays["env"]), *(arrays[name] for name in _DEMO_ARRAYS))
    obs_dim, action_dim = demos.observations.shape[1], demos.actions.shape[1]
    check_env(path, demos.env_id, obs_dim, action_dim, env)
    return demos


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")  # np.savez adds .npz to a name without it
    np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]
    tmp.replace(path)


# ---------------------------------------------------------------------------------------------
# The manifest: what the staff measured
# ---------------------------------------------------------------------------------------------


def read_manifest(expert_dir: str | Path | None = None) -> dict[str, Any]:
    """``manifest.json`` of ``expert_dir`` (``EXPERT_DIR`` by default): per environment, the
    expert's evaluation (``expert``) and its demonstrations (``demos``); ``{}`` if missing."""
    path = Path(expert_dir if expert_dir is not None else EXPERT_DIR) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else {}


def update_manifest(
    env_id: str, section: str, entry: dict[str, Any], expert_dir: str | Path | None = None
) -> None:
    """Set ``manifest[env_id][section] = entry`` and write the manifest back (atomically)."""
    directory = Path(expert_dir if expert_dir is not None else EXPERT_DIR)
    manifest = read_manifest(directory)
    manifest.setdefault(env_id, {})[section] = entry
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    tmp.replace(directory / MANIFEST)


def expert_return(env_id: str, expert_dir: str | Path | None = None) -> float | None:
    """The expert's mean evaluation return recorded in the manifest, or None."""
    entry = read_manifest(expert_dir).get(env_id, {}).get("expert")
    return float(entry["return_mean"]) if entry else None

"""Make homework 5's continuous datasets, ``hopper/medium-v0`` and ``hopper/expert-v0``, in the
manner of D4RL's (instructor tool; it needs ``hw3_q_learning``'s reference)::

    python -m hw5_offline.tools.make_hopper_datasets

The behaviour policies
    *expert*: homework 1's shipped Hopper-v5 expert (``hw1_imitation/experts/Hopper-v5.npz``),
    the mean head of a SAC actor, with Gaussian noise of standard deviation ``EXPERT_NOISE``
    (in units of half the action range) added to each action and clipped to the bounds: the file
    keeps no standard deviation, and a noiseless expert would give a dataset of nearly one
    trajectory repeated, with no action that is not the expert's.

    *medium*: a SAC run of homework 3's reference (Hopper-v5's preset, seed ``SAC_SEED``)
    stopped early, at about one third of the expert's return, as D4RL's "medium" policies are.
    It trains in rounds of ``--round-steps`` (each ends on a checkpoint in ``--run-dir``, so the
    same command resumes an interrupted run); after each round the actor is kept
    (``policy_STEPS.pt``) and measured, and :func:`choose_round` decides whether to stop. The
    policy measured and recorded is SAC's stochastic one, :math:`a = \\tanh(\\mu(s) + \\sigma(s)
    \\varepsilon)`, as D4RL's medium data come from their SAC policy's samples.

The datasets
    Each policy runs for ``--transitions`` steps from ``reset(seed=...)`` (its own seed, which
    also seeds its noise), saved with :func:`hw5_offline.datasets.save_dataset` in the datasets
    folder (``$RLHW_DATASETS``, else ``datasets/``): the last episode, cut by the budget, ends
    truncated. A dataset that exists already is kept, not recorded again; ``--datasets expert``
    makes the expert's alone, without the SAC run.

The scores
    ``<datasets>/hopper/scores.json`` records each dataset's return (the mean over its complete
    episodes) and the returns of the uniformly random policy and of the noiseless expert
    (``REFERENCE_EPISODES`` and ``EVAL_EPISODES`` episodes from ``reset(seed=EVAL_SEED)``), the
    two ends of D4RL's normalised score :func:`normalized_score`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from hw1_imitation.expert import expert_path, expert_return, load_expert
from hw1_imitation.tools.train_expert import measure, sac_config
from hw3_q_learning.export import SavedPolicy
from hw3_q_learning.run import POLICY, checkpoint_steps, train
from hw3_q_learning.sac import rescale_actions
from hw5_offline.datasets import Episode, datasets_root, save_dataset
from infrastructure.envs import make_env
from infrastructure.sampler import Batch, Policy, Sampler
from infrastructure.torch_utils import to_numpy, to_torch

ENV_ID = "Hopper-v5"
DATASETS = {"medium": "hopper/medium-v0", "expert": "hopper/expert-v0"}
SCORES = "hopper/scores.json"  # in the datasets folder, beside the datasets
# Minari's HDF5 file (uncompressed: Minari offers no compression) takes about 120 bytes per
# Hopper transition (float64 observations, float32 actions) and 14 KB per episode (its chunked
# arrays): 50k transitions stay under MAX_BYTES for episodes of 175 steps on average and more
# (measured: 8.6 MB for the medium policy's 213 episodes, 6.6 MB for the expert's 50).
TRANSITIONS = 50_000
MAX_BYTES = 10_000_000  # per dataset, to ship it small
RECORD_SEEDS = {"medium": 2_000, "expert": 3_000}
EXPERT_NOISE = 0.1
# "medium": a return of about MEDIUM_FRACTION of the expert's, accepted within MEDIUM_BAND.
MEDIUM_FRACTION = 1.0 / 3.0
MEDIUM_BAND = (0.25, 0.45)
SAC_SEED = 1  # not the expert's run (seed 0): a policy of its own, as D4RL's medium
ROUND_STEPS = 10_000
MAX_STEPS = 300_000  # hw3's preset for Hopper-v5
EVAL_EPISODES = 10
EVAL_SEED = 1_000  # hw1's evaluation seed, apart from the recording seeds
REFERENCE_EPISODES = 100  # random episodes are short and their returns spread
RUN_DIR = Path("runs/hopper_medium")
ROUNDS = "rounds.json"


# ---------------------------------------------------------------------------------------------
# Behaviour policies: a batch of observations (B, 11) in, actions (B, 3) in the bounds out
# ---------------------------------------------------------------------------------------------


class SACBehaviour:
    """A SAC actor exported by homework 3 (``policy.pt``), sampling: :math:`a = \\tanh(\\mu(s) +
    \\sigma(s) \\odot \\varepsilon)`, :math:`\\varepsilon \\sim \\mathcal N(0, I)` drawn from
    ``rng``, rescaled to the environment's bounds."""

    def __init__(self, path: str | Path, rng: np.random.Generator):
        self.saved = SavedPolicy(path)
        self.rng = rng

    @torch.no_grad()
    def __call__(self, observations: np.ndarray) -> np.ndarray:
        means, log_stds = self.saved.actor(to_torch(observations, "cpu"))
        noise = self.rng.standard_normal(means.shape)
        squashed = np.tanh(to_numpy(means) + np.exp(to_numpy(log_stds)) * noise)
        return rescale_actions(squashed, self.saved.low, self.saved.high).astype(np.float32)


class NoisyPolicy:
    """``policy``'s actions plus Gaussian noise of standard deviation ``std`` times half the
    action range, clipped to the bounds ``[low, high]``."""

    def __init__(
        self,
        policy: Policy,
        low: np.ndarray,
        high: np.ndarray,
        std: float,
        rng: np.random.Generator,
    ):
        if std < 0:
            raise ValueError(f"expected a noise standard deviation >= 0, got {std}")
        self.policy, self.low, self.high, self.std, self.rng = policy, low, high, std, rng

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        actions = np.asarray(self.policy(observations))
        noise = self.std * 0.5 * (self.high - self.low) * self.rng.standard_normal(actions.shape)
        return np.clip(actions + noise, self.low, self.high).astype(np.float32)


class RandomPolicy:
    """Actions drawn uniformly from the box ``[low, high]``: the low end of the normalised
    score."""

    def __init__(self, low: np.ndarray, high: np.ndarray, rng: np.random.Generator):
        self.low, self.high, self.rng = low, high, rng

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        shape = (len(observations), *self.low.shape)
        return self.rng.uniform(self.low, self.high, size=shape).astype(np.float32)


def action_bounds(env_id: str) -> tuple[np.ndarray, np.ndarray]:
    env = gym.make(env_id)
    space = env.action_space
    env.close()
    if not isinstance(space, gym.spaces.Box):
        raise ValueError(f"expected {env_id} to have a Box action space, got {space}")
    return space.low, space.high


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


def record(
    env_id: str, policy: Policy, transitions: int, seed: int
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
    try:
        batch = Sampler(env, seed=seed).sample_steps(policy, transitions)
    finally:
        env.close()
    if len(batch.episode_returns) == 0:
        raise ValueError(
            f"expected at least one complete episode in {transitions} transitions on {env_id}, "
            "got none: record more transitions"
        )
    return episodes_of(batch), batch.episode_returns


def normalized_score(ret: float, random_return: float, expert_return: float) -> float:
    """D4RL's normalised score, :math:`100 \\, (R - R_\\text{random}) / (R_\\text{expert} -
    R_\\text{random})`: 0 for the random policy, 100 for the expert."""
    if not expert_return > random_return:
        raise ValueError(
            f"expected the expert's return above the random policy's, got expert "
            f"{expert_return} and random {random_return}"
        )
    return 100.0 * (ret - random_return) / (expert_return - random_return)


# ---------------------------------------------------------------------------------------------
# The medium policy: SAC in rounds, stopped at about a third of the expert's return
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Round:
    """One round of the medium run: its actor after ``steps`` SAC steps, and that actor's
    (stochastic) mean return over ``EVAL_EPISODES`` episodes."""

    steps: int
    return_mean: float
    return_std: float
    policy: str
    """The actor's file in the run folder, ``policy_STEPS.pt``."""


def choose_round(
    rounds: Sequence[Round],
    expert_return: float,
    *,
    finished: bool = False,
    band: tuple[float, float] = MEDIUM_BAND,
    fraction: float = MEDIUM_FRACTION,
) -> Round | None:
    """The round whose actor becomes the medium policy, or None to train another round.

    Rounds are read in order of training. The first whose return lies within ``band`` times
    the expert's is chosen. A round above the band (SAC on Hopper can jump a long way in one
    round) stops the run too, as does the last round (``finished``): then the round closest to
    ``fraction`` of the expert's return among those trained is chosen, outside the band.
    """
    low, high = band
    if not 0 < low < fraction < high:
        raise ValueError(f"expected 0 < band[0] < fraction < band[1], got {band} and {fraction}")
    if expert_return <= 0:
        raise ValueError(f"expected a positive expert return, got {expert_return}")
    target = fraction * expert_return

    def closest(candidates: Sequence[Round]) -> Round:
        return min(candidates, key=lambda r: abs(r.return_mean - target))

    ordered = sorted(rounds, key=lambda r: r.steps)
    for index, entry in enumerate(ordered):
        if low * expert_return <= entry.return_mean <= high * expert_return:
            return entry
        if entry.return_mean > high * expert_return:
            return closest(ordered[: index + 1])
    return closest(ordered) if finished and ordered else None


def read_rounds(run_dir: Path) -> list[Round]:
    """The rounds measured so far in ``run_dir`` (none for a new run)."""
    path = run_dir / ROUNDS
    if not path.is_file():
        return []
    return [Round(**entry) for entry in json.loads(path.read_text(encoding="utf-8"))["rounds"]]


def write_rounds(run_dir: Path, rounds: Sequence[Round], **info: Any) -> None:
    """Record ``rounds`` in ``run_dir``; written whole or not at all."""
    _write_json(run_dir / ROUNDS, {**info, "rounds": [dataclasses.asdict(r) for r in rounds]})


def train_medium(
    run_dir: Path,
    expert_mean: float,
    *,
    seed: int = SAC_SEED,
    max_steps: int = MAX_STEPS,
    round_steps: int = ROUND_STEPS,
    eval_episodes: int = EVAL_EPISODES,
    progress: bool = True,
) -> Round:
    """Train SAC in rounds in ``run_dir`` (resuming what is there) until :func:`choose_round`
    chooses a round for ``expert_mean``; returns it."""
    if round_steps <= 0:
        raise ValueError(f"expected a positive number of steps per round, got {round_steps}")
    config = sac_config(ENV_ID, run_dir, max_steps, seed)
    rounds = read_rounds(run_dir)
    done = checkpoint_steps(run_dir) or 0
    chosen = choose_round(rounds, expert_mean, finished=done >= max_steps)
    # Rounds end on multiples of round_steps. A checkpoint on a round's end that was not
    # measured (the run stopped while measuring) is exported and measured, not trained on.
    steps = max(-(-done // round_steps), 1) * round_steps
    while chosen is None:
        steps = min(steps, max_steps)
        train(dataclasses.replace(config, total_steps=steps), progress)
        policy = run_dir / f"policy_{steps}.pt"
        shutil.copyfile(run_dir / POLICY, policy)
        behaviour = SACBehaviour(policy, np.random.default_rng(EVAL_SEED))
        result = measure(behaviour, ENV_ID, eval_episodes, EVAL_SEED)
        entry = Round(steps, result["return_mean"], result["return_std"], policy.name)
        rounds = [r for r in rounds if r.steps != steps] + [entry]
        write_rounds(
            run_dir,
            rounds,
            env=ENV_ID,
            sac_seed=seed,
            expert_return=expert_mean,
            band=list(MEDIUM_BAND),
        )
        print(
            f"medium run, {steps} SAC steps: stochastic return {entry.return_mean:.1f} ± "
            f"{entry.return_std:.1f} over {eval_episodes} episodes "
            f"({entry.return_mean / expert_mean:.2f} of the expert's {expert_mean:.1f})",
            flush=True,
        )
        chosen = choose_round(rounds, expert_mean, finished=steps >= max_steps)
        steps += round_steps
    return chosen


# ---------------------------------------------------------------------------------------------
# The datasets
# ---------------------------------------------------------------------------------------------


def make_dataset(
    kind: str,
    policy: Policy,
    about: str,
    *,
    transitions: int,
    seed: int,
    root: Path,
    references: dict[str, Any],
    max_bytes: int = MAX_BYTES,
) -> dict[str, Any]:
    """Record ``policy`` (described by ``about``) as the dataset of ``kind`` and save it; its
    entry for the scores file.

    Raises:
        ValueError: the dataset takes more than ``max_bytes`` on disk (it is deleted).
    """
    name = DATASETS[kind]
    episodes, returns = record(ENV_ID, policy, transitions, seed)
    ret = float(returns.mean())
    score = normalized_score(
        ret, references["random"]["return_mean"], references["expert"]["return_mean"]
    )
    path = save_dataset(
        name,
        ENV_ID,
        episodes,
        root=root,
        algorithm_name=f"{kind} policy",
        description=(
            f"{transitions} transitions ({len(episodes)} episodes, the last cut by the budget) "
            f"of {about} on {ENV_ID}, seed {seed}; mean return {ret:.1f} over its "
            f"{len(returns)} complete episodes, normalised score {score:.1f} (python -m "
            "hw5_offline.tools.make_hopper_datasets)."
        ),
    )
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    if size > max_bytes:
        shutil.rmtree(path)
        raise ValueError(
            f"dataset {name!r}: expected at most {max_bytes} bytes, got {size} for "
            f"{transitions} transitions ({len(episodes)} episodes): deleted; record fewer"
        )
    print(f"{name}: return {ret:.1f} (score {score:.1f}), {size / 2**20:.2f} MiB at {path}")
    return {
        "policy": about,
        "seed": seed,
        "transitions": transitions,
        "episodes": len(episodes),
        "complete_episodes": len(returns),
        "return_mean": round(ret, 1),
        "return_std": round(float(returns.std()), 1),
        "normalized_score": round(score, 1),
        "bytes": size,
    }


def _write_json(path: Path, content: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(partial, path)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m hw5_offline.tools.make_hopper_datasets",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR, help="default: %(default)s")
    parser.add_argument(
        "--datasets-dir", type=Path, default=None, help="default: $RLHW_DATASETS, else datasets/"
    )
    parser.add_argument("--transitions", type=int, default=TRANSITIONS, help="per dataset")
    parser.add_argument("--seed", type=int, default=SAC_SEED, help="the medium run's SAC seed")
    parser.add_argument("--max-steps", type=int, default=MAX_STEPS, help="SAC steps at most")
    parser.add_argument("--round-steps", type=int, default=ROUND_STEPS)
    parser.add_argument("--eval-episodes", type=int, default=EVAL_EPISODES)
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=list(DATASETS),
        default=list(DATASETS),
        help="which to make (default: both); the expert's needs no SAC run",
    )
    parser.add_argument(
        "--train-only", action="store_true", help="choose the medium policy, record nothing"
    )
    args = parser.parse_args(argv)
    if args.train_only and "medium" not in args.datasets:
        parser.error("--train-only trains the medium policy: expected --datasets with medium")
    for option in ("transitions", "max_steps", "round_steps", "eval_episodes"):
        if getattr(args, option) <= 0:
            parser.error(f"--{option.replace('_', '-')}: expected > 0, got {getattr(args, option)}")
    expert_mean = expert_return(ENV_ID)
    if expert_mean is None:
        parser.error(f"no {ENV_ID} expert in hw1's manifest: train it with hw1's train_expert")
    medium: Round | None = None
    if "medium" in args.datasets:
        medium = train_medium(
            args.run_dir,
            expert_mean,
            seed=args.seed,
            max_steps=args.max_steps,
            round_steps=args.round_steps,
            eval_episodes=args.eval_episodes,
        )
        print(f"medium policy: {medium}", flush=True)
        if args.train_only:
            return {"medium": dataclasses.asdict(medium)}

    root = datasets_root(args.datasets_dir)
    low, high = action_bounds(ENV_ID)
    expert = load_expert(expert_path(ENV_ID), gym.make(ENV_ID))
    uniform = RandomPolicy(low, high, np.random.default_rng(EVAL_SEED))
    references = {
        "random": measure(uniform, ENV_ID, REFERENCE_EPISODES, EVAL_SEED),
        "expert": measure(expert, ENV_ID, args.eval_episodes, EVAL_SEED),
    }

    def behaviour(kind: str, rng: np.random.Generator) -> tuple[Policy, str]:
        """The policy that records ``kind``'s dataset, and its description."""
        if kind == "expert":
            return (
                NoisyPolicy(expert, low, high, EXPERT_NOISE, rng),
                f"hw1's expert with Gaussian action noise of std {EXPERT_NOISE}",
            )
        assert medium is not None
        return (
            SACBehaviour(args.run_dir / medium.policy, rng),
            f"SAC's stochastic policy after {medium.steps} steps (seed {args.seed})",
        )

    scores_file = root / SCORES
    scores = json.loads(scores_file.read_text(encoding="utf-8")) if scores_file.is_file() else {}
    entries = scores.get("datasets", {})
    for kind in args.datasets:
        name = DATASETS[kind]
        if (root / name).exists():
            print(f"{name} exists already at {root / name}: kept")
            continue
        seed = RECORD_SEEDS[kind]
        policy, about = behaviour(kind, np.random.default_rng(seed))
        entries[name] = make_dataset(
            kind,
            policy,
            about,
            transitions=args.transitions,
            seed=seed,
            root=root,
            references=references,
        )
    scores = {"env": ENV_ID, **references, "datasets": entries}
    _write_json(scores_file, scores)
    return scores


if __name__ == "__main__":
    main()

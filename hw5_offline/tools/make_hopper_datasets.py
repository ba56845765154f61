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
    \\varepsilon)`, as D4RL's medium data come from their SAC policy's samples. SAC resumed in
    rounds does not repeat itself bit for bit, so the chosen actor is the one to keep.

    Both are exported by :func:`export_behaviour` to ``--behaviour-dir``
    (``hw5_offline/behaviour/``, which ships with the homework) in the format of
    :mod:`hw5_offline.hopper_data`, whose code records the datasets, here as on a student's
    machine.

The datasets
    :func:`hw5_offline.hopper_data.record_hopper_dataset` runs each policy for
    ``--transitions`` steps from ``reset(seed=...)`` (its own seed, which also seeds its noise)
    and saves the dataset in the datasets folder (``$RLHW_DATASETS``, else ``datasets/``). A
    dataset that exists already is kept, not recorded again; ``--datasets expert`` makes the
    expert's alone, without the SAC run.

The scores
    ``<datasets>/hopper/scores.json`` records each dataset's return (the mean over its complete
    episodes) and the returns of the uniformly random policy and of the noiseless expert
    (``REFERENCE_EPISODES`` and ``EVAL_EPISODES`` episodes from ``reset(seed=EVAL_SEED)``), the
    two ends of D4RL's normalised score: :mod:`hw5_offline.hopper_data` keeps them as
    ``RANDOM_RETURN`` and ``EXPERT_RETURN``, and this tool says when it measures others.
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
from hw3_q_learning.run import POLICY, checkpoint_steps, train
from hw3_q_learning.sac import TanhGaussianActor
from hw5_offline import hopper_data
from hw5_offline.datasets import datasets_root
from hw5_offline.hopper_data import (
    BEHAVIOUR_DIR,
    ENV_ID,
    HOPPER_DATASETS,
    TRANSITIONS,
    BehaviourPolicy,
    normalized_score,
    record_hopper_dataset,
    save_behaviour,
)
from infrastructure.torch_utils import to_numpy

DATASETS = {"medium": "hopper/medium-v0", "expert": "hopper/expert-v0"}
SCORES = "hopper/scores.json"  # in the datasets folder, beside the datasets
# Minari's HDF5 file (uncompressed: Minari offers no compression) takes about 120 bytes per
# Hopper transition (float64 observations, float32 actions) and 14 KB per episode (its chunked
# arrays): 50k transitions stay under MAX_BYTES for episodes of 175 steps on average and more
# (measured: 8.6 MB for the medium policy's 213 episodes, 6.6 MB for the expert's 50).
MAX_BYTES = 10_000_000  # per dataset, to ship it small
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
# The behaviour policies, in hopper_data's format
# ---------------------------------------------------------------------------------------------


def behaviour_of(
    source: Path, about: str, rng: np.random.Generator, noise_std: float = EXPERT_NOISE
) -> BehaviourPolicy:
    """The behaviour policy made of ``source``, drawing its noise from ``rng``: a SAC actor
    exported by homework 3 (``policy.pt``: it samples, ``tanh_gaussian``), or an expert of
    homework 1 (``ENV.npz``: its actions plus noise of standard deviation ``noise_std``,
    ``noisy_mean``)."""
    if source.suffix == ".pt":
        saved = torch.load(source, map_location="cpu", weights_only=True)
        return BehaviourPolicy(
            kind="tanh_gaussian",
            env_id=saved["env"],
            about=about,
            obs_dim=saved["obs_dim"],
            action_dim=saved["action_dim"],
            n_layers=saved["n_layers"],
            activation=saved["activation"],
            weights={k.removeprefix("net."): to_numpy(v) for k, v in saved["actor"].items()},
            action_low=saved["action_low"].numpy(),
            action_high=saved["action_high"].numpy(),
            constants={
                "log_std_min": TanhGaussianActor.LOG_STD_MIN,
                "log_std_max": TanhGaussianActor.LOG_STD_MAX,
            },
            rng=rng,
        )
    if source.suffix == ".npz":
        expert = load_expert(source)
        return BehaviourPolicy(
            kind="noisy_mean",
            env_id=expert.env_id,
            about=about,
            obs_dim=expert.obs_dim,
            action_dim=expert.action_dim,
            n_layers=expert.n_layers,
            activation=expert.activation,
            weights={k: to_numpy(v) for k, v in expert.mean_net.state_dict().items()},
            action_low=expert.action_low,
            action_high=expert.action_high,
            constants={"noise_std": noise_std},
            rng=rng,
        )
    raise ValueError(
        f"expected a SAC actor (policy.pt) or a homework-1 expert (ENV.npz), got {source}"
    )


def export_behaviour(source: Path, path: Path, about: str) -> BehaviourPolicy:
    """Write the behaviour policy made of ``source`` (see :func:`behaviour_of`) to ``path``, in
    the format :func:`hw5_offline.hopper_data.load_behaviour` reads; the policy."""
    policy = behaviour_of(source, about, np.random.default_rng(0))
    save_behaviour(policy, path)
    print(f"behaviour policy: {about}, {path.stat().st_size / 1024:.0f} KiB at {path}")
    return policy


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
        behaviour = behaviour_of(policy, policy.name, np.random.default_rng(EVAL_SEED))
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
    *,
    transitions: int,
    root: Path,
    references: dict[str, Any],
    behaviour_dir: Path = BEHAVIOUR_DIR,
    max_bytes: int = MAX_BYTES,
) -> dict[str, Any]:
    """Record the dataset of ``kind`` with its behaviour policy in ``behaviour_dir`` and save
    it; its entry for the scores file.

    Raises:
        ValueError: the dataset takes more than ``max_bytes`` on disk (it is deleted).
    """
    name = DATASETS[kind]
    made = record_hopper_dataset(name, root, behaviour_dir=behaviour_dir, transitions=transitions)
    returns = made.returns
    score = normalized_score(
        made.return_mean, references["random"]["return_mean"], references["expert"]["return_mean"]
    )
    size = sum(f.stat().st_size for f in made.path.rglob("*") if f.is_file())
    if size > max_bytes:
        shutil.rmtree(made.path)
        raise ValueError(
            f"dataset {name!r}: expected at most {max_bytes} bytes, got {size} for "
            f"{transitions} transitions ({made.episodes} episodes): deleted; record fewer"
        )
    print(
        f"{name}: return {made.return_mean:.1f} (score {score:.1f}), {size / 2**20:.2f} MiB "
        f"at {made.path}"
    )
    return {
        "policy": made.about,
        "seed": HOPPER_DATASETS[name].seed,
        "transitions": transitions,
        "episodes": made.episodes,
        "complete_episodes": len(returns),
        "return_mean": round(made.return_mean, 1),
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
    parser.add_argument(
        "--behaviour-dir",
        type=Path,
        default=BEHAVIOUR_DIR,
        help="where the behaviour policies are written (default: hw5_offline/behaviour/)",
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
        "--train-only",
        action="store_true",
        help="choose and export the medium policy, record nothing",
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

    def behaviour_path(kind: str) -> Path:
        return args.behaviour_dir / HOPPER_DATASETS[DATASETS[kind]].behaviour

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
        export_behaviour(
            args.run_dir / medium.policy,
            behaviour_path("medium"),
            f"SAC's stochastic policy after {medium.steps} steps (seed {args.seed})",
        )
        if args.train_only:
            return {"medium": dataclasses.asdict(medium)}
    if "expert" in args.datasets:
        export_behaviour(
            expert_path(ENV_ID),
            behaviour_path("expert"),
            f"hw1's expert with Gaussian action noise of std {EXPERT_NOISE}",
        )

    root = datasets_root(args.datasets_dir)
    low, high = action_bounds(ENV_ID)
    expert = load_expert(expert_path(ENV_ID), gym.make(ENV_ID))
    uniform = RandomPolicy(low, high, np.random.default_rng(EVAL_SEED))
    references = {
        "random": measure(uniform, ENV_ID, REFERENCE_EPISODES, EVAL_SEED),
        "expert": measure(expert, ENV_ID, args.eval_episodes, EVAL_SEED),
    }
    kept = {"random": hopper_data.RANDOM_RETURN, "expert": hopper_data.EXPERT_RETURN}
    for end, value in kept.items():
        if references[end]["return_mean"] != value:
            print(
                f"note: the {end} return measured here, {references[end]['return_mean']}, is "
                f"not hw5_offline.hopper_data's {end.upper()}_RETURN ({value}): update it if "
                "these are the datasets that ship"
            )

    scores_file = root / SCORES
    scores = json.loads(scores_file.read_text(encoding="utf-8")) if scores_file.is_file() else {}
    entries = scores.get("datasets", {})
    for kind in args.datasets:
        name = DATASETS[kind]
        if (root / name).exists():
            print(f"{name} exists already at {root / name}: kept")
            continue
        entries[name] = make_dataset(
            kind,
            transitions=args.transitions,
            root=root,
            references=references,
            behaviour_dir=args.behaviour_dir,
        )
    scores = {"env": ENV_ID, **references, "datasets": entries}
    _write_json(scores_file, scores)
    return scores


if __name__ == "__main__":
    main()

"""Record demonstrations of an exported expert (instructor tool)::

    python -m hw1_imitation.tools.record_demos --env Hopper-v5 --episodes 5

Runs ``hw1_imitation/experts/ENV.npz`` for whole episodes from ``reset(seed=SEED)`` on and
writes them, compressed, to ``hw1_imitation/experts/ENV_demos.npz``, with their returns in
``manifest.json``. The demonstrations' seed differs from the seed of the expert's evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hw1_imitation.expert import (
    Demonstrations,
    ExpertPolicy,
    demos_path,
    expert_path,
    load_expert,
    save_demos,
    update_manifest,
)
from hw1_imitation.tools import tool_parser
from infrastructure.envs import make_env
from infrastructure.sampler import Sampler


def record(
    expert: ExpertPolicy,
    env_id: str,
    episodes: int,
    seed: int = 0,
    max_episode_steps: int | None = None,
) -> Demonstrations:
    """``episodes`` whole episodes of ``expert`` in ``env_id``."""
    env = make_env(env_id, seed, max_episode_steps=max_episode_steps)
    batch = Sampler(env, seed=seed).sample_trajectories(expert, num_trajectories=episodes)
    env.close()
    return Demonstrations(
        env_id,
        batch.observations.astype(np.float32),
        batch.actions.astype(np.float32),
        batch.rewards.astype(np.float32),
        batch.episode_lengths,
        batch.episode_returns,
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = tool_parser("record_demos", __doc__)
    parser.add_argument("--episodes", type=int, default=5, help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    parser.add_argument(
        "--max-episode-steps", type=int, default=None, help="default: the environment's own"
    )
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error(f"expected --episodes >= 1, got {args.episodes}")
    expert = load_expert(expert_path(args.env, args.expert_dir), make_env(args.env))
    demos = record(expert, args.env, args.episodes, args.seed, args.max_episode_steps)
    out = demos_path(args.env, args.expert_dir)
    save_demos(demos, out)
    entry = {
        "file": out.name,
        "episodes": demos.num_episodes,
        "steps": int(np.sum(demos.episode_lengths)),
        "seed": args.seed,
        "return_mean": round(float(demos.episode_returns.mean()), 1),
        "returns": [round(float(r), 1) for r in demos.episode_returns],
    }
    update_manifest(args.env, "demos", entry, args.expert_dir)
    print(
        f"{args.env}: {entry['episodes']} episodes, {entry['steps']} steps, mean return "
        f"{entry['return_mean']:.1f}; written to {out} ({out.stat().st_size / 1024:.0f} KiB)"
    )
    return entry


if __name__ == "__main__":
    main()

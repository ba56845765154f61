"""Mean return of the last policy of hw3 runs over many fresh episodes.

    python bench/hw3_final_policy.py RUN_DIR... [--episodes 100]

A run's last evaluation is the mean of 10 episodes, which varies from one evaluation to the next
even for a policy that no longer changes. This loads each run's ``checkpoint.pt`` (a preset with
checkpoints saves one at its last step) and plays ``--episodes`` greedy episodes side by side,
from seeds apart from those of training and of the run's own evaluations.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from hw3_q_learning.run import CHECKPOINT, DQNTrainer, SACTrainer
from infrastructure.sampler import evaluate_side_by_side

FIRST_SEED = 50_000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (--logdir of each run)")
    parser.add_argument("--episodes", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for run in args.runs:
        checkpoint = run / CHECKPOINT
        if not checkpoint.is_file():
            raise SystemExit(f"{run}: expected a checkpoint at {checkpoint}, found none")
        config = json.loads((run / "config.json").read_text())
        trainer = (SACTrainer if "critic_target" in config else DQNTrainer)(config)
        trainer.load_checkpoint(checkpoint)
        envs = [trainer.make_eval_env(FIRST_SEED + i) for i in range(args.episodes)]
        result = evaluate_side_by_side(envs, trainer.act, FIRST_SEED)
        print(
            f"{run}: after {trainer.total_steps} steps, {result['return_mean']:.1f} "
            f"± {result['return_std']:.1f} over {args.episodes} episodes "
            f"(min {result['return_min']:.1f}, max {result['return_max']:.1f})"
        )


if __name__ == "__main__":
    main()

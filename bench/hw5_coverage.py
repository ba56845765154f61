"""Coverage of hw5's exploration datasets, and their visitation heatmaps: the coverage figures
of ``hw5_offline/README.md``.

    python bench/hw5_coverage.py [--seed 0] [--datasets-dir DIR] [--out hw5_offline/figures]

For each maze of ``hw5_offline.envs.ENVS`` and each explorer (random, RND), reads the dataset
that ``python -m hw5_offline.run explore --env ENV --explorer EXPLORER --seed SEED`` writes
(``pointmass/MAZE-EXPLORER-seedSEED-v0``; a missing one is skipped, with a line saying how to
make it), prints its :func:`~hw5_offline.envs.coverage` at one and at 4 x 4 bins per cell, and
draws it with :func:`~hw5_offline.envs.plot_visitation` to ``OUT/coverage_MAZE_EXPLORER.png``.

The positions are each episode's first observation and every next observation, the
positions the explore command's own coverage counts, so the numbers are those of the run's
``progress.csv`` (``explore/coverage``, ``explore/coverage_fine``). The datasets are seeded:
the same command gives the same numbers and pictures.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from hw5_offline.config import EXPLORERS, default_dataset_name, maze_name
from hw5_offline.datasets import OfflineData, datasets_root, load_dataset
from hw5_offline.envs import ENVS, coverage, plot_visitation
from hw5_offline.run import FINE_BINS

EXPLORER_NAMES = {"random": "random", "rnd": "RND"}


def positions(data: OfflineData) -> np.ndarray:
    """``(E + N, 2)``: the first observation of each of the ``E`` episodes and the ``N`` next
    observations, every position the explorer was at."""
    return np.concatenate([data.observations[data.episode_starts], data.next_observations])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--datasets-dir", default=None, help="default: as the explore command")
    parser.add_argument("--out", type=Path, default=Path("hw5_offline/figures"))
    args = parser.parse_args()

    root = datasets_root(args.datasets_dir)
    print(f"coverage of the reachable cells, and of their {FINE_BINS} x {FINE_BINS} bins")
    for env_id in ENVS:
        for explorer in EXPLORERS:
            name = default_dataset_name(env_id, explorer, args.seed)
            if not (root / name).exists():
                print(
                    f"{name}: not in {root}; make it with python -m hw5_offline.run explore "
                    f"--env {env_id} --explorer {explorer} --seed {args.seed}"
                )
                continue
            visited = positions(load_dataset(name, env_id, root=root))
            cells, bins = coverage(env_id, visited), coverage(env_id, visited, FINE_BINS)
            maze = maze_name(env_id)
            path = plot_visitation(
                env_id,
                visited,
                args.out / f"coverage_{maze}_{explorer}.png",
                bins_per_cell=FINE_BINS,
                title=(
                    f"{EXPLORER_NAMES[explorer]} on {maze}: {cells:.2f} of cells, "
                    f"{bins:.2f} of bins"
                ),
            )
            print(f"{name:<36} {cells:.3f}  {bins:.3f}  {path}")


if __name__ == "__main__":
    main()

"""Remake the datasets of hw5's hidden suite, :data:`autograder.suites.hw5.DATASETS`, in
``autograder/data/hw5``::

    python -m autograder.data.make_hw5

Each is written by homework 5's own explore command (its code, with the recipe's options, as
``python -m hw5_offline.run explore --explorer random --seed 0 ...`` would), replacing the one
there. The random explorer is given code and draws every action from the seed, so a rerun
writes the same transitions. The learning checks' calibration holds the digests of the files
(``LearningTask.data``): a dataset whose bytes change makes it stale, and ``rlhw calibrate hw5``
must be run again.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from autograder.suites.hw5 import DATA_DIR, DATASETS
from hw5_offline.config import ExploreConfig
from hw5_offline.run import explore


def make_datasets(root: Path = DATA_DIR) -> list[Path]:
    """Write every dataset of :data:`~autograder.suites.hw5.DATASETS` under ``root`` (the
    explore command's logs go to a temporary folder); returns their folders."""
    folders = []
    for name, options in DATASETS.items():
        with tempfile.TemporaryDirectory(prefix="rlhw-explore-") as logdir:
            config = ExploreConfig(**options, datasets_dir=str(root), logdir=logdir, overwrite=True)
            explore(config, progress=False)
        folders.append(Path(root) / name)
    return folders


def main() -> None:
    for folder in make_datasets():
        sizes = ", ".join(
            f"{path.name} {path.stat().st_size / 1024:.0f} KiB"
            for path in sorted((folder / "data").iterdir())
        )
        print(f"wrote {folder}: {sizes}")


if __name__ == "__main__":
    main()

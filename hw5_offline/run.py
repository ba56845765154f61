"""Homework 5's commands. ``explore`` collects a dataset, reward-free, with a random or an RND
explorer::

    python -m hw5_offline.run explore --env PointmassMedium-v0 --explorer rnd --seed 0 \\
        --logdir runs/explore_medium_rnd_seed0

The run starts from the maze's preset (``hw5_offline/config.py``); every option given here
overrides it. It takes ``--total-steps`` environment steps (10k), training the explorer as it
goes, and writes the transitions, with the environment's own rewards, as the Minari dataset
``--dataset`` (by default ``pointmass/MAZE-EXPLORER-seedS-v0``) in the datasets folder. An
existing dataset stops the run before it starts, unless ``--overwrite true``; an interrupted run
writes no dataset at all. ``LOGDIR/progress.csv`` holds ``explore/coverage`` (the fraction of
reachable cells visited) and ``explore/coverage_fine`` (of 4 x 4 bins per cell) over
``env_steps``; ``LOGDIR/visitation.png`` shows where the explorer went.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from hw5_offline.config import EXPLORE_PRESETS, ExploreConfig
from hw5_offline.datasets import (
    NAME_PATTERN,
    DatasetError,
    Episode,
    datasets_root,
    save_dataset,
)
from hw5_offline.envs import coverage, make_env, plot_visitation
from hw5_offline.exploration import Collector, make_explorer, split_episodes
from infrastructure.config import parse_with_presets
from infrastructure.logger import Logger
from infrastructure.seeding import seed_everything
from infrastructure.torch_utils import set_num_threads

VISITATION = "visitation.png"
FINE_BINS = 4  # bins per cell along each axis for explore/coverage_fine


# ---------------------------------------------------------------------------------------------
# explore
# ---------------------------------------------------------------------------------------------


def check_dataset(config: ExploreConfig) -> Path:
    """The folder the run's dataset will be written to, after checking its name and that it
    does not exist already (unless ``overwrite``); raises :class:`DatasetError` otherwise."""
    name = config.dataset_name
    if NAME_PATTERN.fullmatch(name) is None:
        raise DatasetError(
            "expected a dataset name of the form (namespace/)name-vN, e.g. "
            f"'pointmass/medium-rnd-seed0-v0', got {name!r}"
        )
    target = datasets_root(config.datasets_dir) / name
    if target.exists() and not config.overwrite:
        raise DatasetError(
            f"dataset {name!r} exists already at {target}: pass --overwrite true to replace it, "
            "or --dataset with another name"
        )
    return target


def write_dataset(config: ExploreConfig, episodes: Sequence[Episode]) -> Path:
    """Save ``episodes`` as the run's dataset; an existing one (``overwrite``) is replaced only
    once the new one is complete, and is kept if writing it fails."""
    target = check_dataset(config)
    root = datasets_root(config.datasets_dir)
    kept = root / f".replaced-{uuid.uuid4().hex}" if target.exists() else None
    if kept is not None:
        target.rename(kept)  # within the datasets folder: one file system, atomic
    try:
        path = save_dataset(
            config.dataset_name,
            config.env,
            episodes,
            root=root,
            algorithm_name=f"{config.explorer} explorer",
            description=(
                f"{len(episodes)} episodes, {sum(len(e) for e in episodes)} steps of reward-free "
                f"exploration by the {config.explorer} explorer on {config.env}, seed "
                f"{config.seed} (python -m hw5_offline.run explore); rewards are the "
                "environment's."
            ),
        )
    except BaseException:
        if kept is not None:
            kept.rename(target)
        raise
    if kept is not None:
        shutil.rmtree(kept)
    return path


def explore(config: ExploreConfig, progress: bool = True) -> dict[str, float]:
    """Collect ``total_steps`` transitions with ``config.explorer``, log coverage, draw the
    visitation heatmap and write the dataset; returns the final ``coverage`` and
    ``coverage_fine``, ``episodes`` and ``seconds``.

    Nothing is written (no log folder, no dataset) when the dataset exists already.
    """
    check_dataset(config)
    started = time.perf_counter()
    seed_everything(config.seed)
    set_num_threads(config.num_threads)
    rng = np.random.default_rng(config.seed)
    env = make_env(config.env, config.seed)
    collector = Collector(env, make_explorer(config, env, torch.device(config.device), rng), config)
    logdir = Path(config.logdir)

    def coverages() -> dict[str, float]:
        positions = collector.positions()
        return {
            "explore/coverage": coverage(config.env, positions),
            "explore/coverage_fine": coverage(config.env, positions, bins_per_cell=FINE_BINS),
            "explore/episodes": float(collector.episodes),
        }

    with (
        Logger(logdir, config) as logger,
        logger.progress(config.total_steps, disable=not progress) as bar,
    ):
        logger.log(coverages(), 0)
        while collector.steps < config.total_steps:
            start, before = time.perf_counter(), collector.steps
            metrics = collector.collect(config.log_every)
            metrics |= coverages()
            metrics["time/sps"] = (collector.steps - before) / (time.perf_counter() - start)
            logger.log(metrics, collector.steps)
            bar.update(collector.steps - before)
            bar.set_postfix(coverage=f"{metrics['explore/coverage']:.2f}")
    env.close()
    result = coverages()
    plot_visitation(
        config.env,
        collector.positions(),
        logdir / VISITATION,
        bins_per_cell=FINE_BINS,
        title=(
            f"{config.explorer}, {config.env}, seed {config.seed}: coverage "
            f"{result['explore/coverage']:.2f} (cells), {result['explore/coverage_fine']:.2f} "
            f"({FINE_BINS}x{FINE_BINS} bins)"
        ),
    )
    write_dataset(config, split_episodes(collector.transitions()))
    return {
        "coverage": result["explore/coverage"],
        "coverage_fine": result["explore/coverage_fine"],
        "episodes": result["explore/episodes"],
        "seconds": time.perf_counter() - started,
    }


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

COMMANDS = ("explore",)


def parse_args(argv: Sequence[str] | None = None) -> ExploreConfig:
    """The config of a run: ``COMMAND`` first, then the preset of ``--env`` overridden by the
    other options. A bad value (an unknown environment or explorer, a dataset that exists) is
    an error that names it, before anything is written."""
    argv = list(sys.argv[1:] if argv is None else argv)
    top = argparse.ArgumentParser(
        prog="python -m hw5_offline.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("command", choices=COMMANDS, help="then --help for its options")
    top.parse_args(argv[:1])
    try:
        config = parse_with_presets(
            ExploreConfig,
            EXPLORE_PRESETS,
            argv[1:],
            "Reward-free exploration: collect a dataset.",
            "python -m hw5_offline.run explore",
        )
        check_dataset(config)
    except ValueError as error:  # checks that need the environment, its preset or the disk
        top.error(str(error))
    return config


def main(argv: Sequence[str] | None = None) -> None:
    config = parse_args(argv)
    result = explore(config)
    root = datasets_root(config.datasets_dir)
    print(
        f"coverage after {config.total_steps} steps: {result['coverage']:.2f} of the reachable "
        f"cells, {result['coverage_fine']:.2f} of their {FINE_BINS}x{FINE_BINS} bins "
        f"({result['seconds']:.0f} s)"
    )
    print(f"dataset: {config.dataset_name} in {root}")
    print(f"logs: {config.logdir}/progress.csv   heatmap: {config.logdir}/{VISITATION}")


if __name__ == "__main__":
    main()

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

``dqn``, ``cql``, ``awac`` and ``iql`` train that agent on a dataset, never acting in the maze
but to be evaluated::

    python -m hw5_offline.run cql --env PointmassEasy-v0 --dataset pointmass/easy-random-seed0-v0 \\
        --seed 0 --logdir runs/cql_easy_seed0

Each starts from its preset for the maze, ``OFFLINE_PRESETS[ALGORITHM][ENV]``. Given no
``--dataset``, it learns from the maze's exploration dataset by ``--explorer`` (seed 0), and
makes it first with the explore command's code where it is not there yet (its logs go to
``LOGDIR/explore``). A dataset that is missing, corrupt or made on another maze stops the run
before anything is written. The run takes ``--total-steps`` gradient steps on minibatches drawn
uniformly from the dataset and evaluates the greedy policy in the maze every ``--eval-every``.

``finetune`` trains offline for ``--offline-steps`` gradient steps, then acts in the maze for
``--online-steps`` environment steps (epsilon-greedy for DQN and CQL, sampling the actor for AWAC
and IQL), adding each transition to the replay buffer that holds the dataset (the dataset's
transitions stay) and taking ``--updates-per-step`` gradient steps after each::

    python -m hw5_offline.run finetune --env PointmassHard-v0 --algorithm cql --seed 0 \\
        --logdir runs/finetune_hard_seed0

The offline and fine-tuning runs write ``LOGDIR/progress.csv``, ``LOGDIR/config.json`` and
TensorBoard logs, and a checkpoint every ``--checkpoint-every`` gradient steps that
``--resume true`` continues from. Their clock is the gradient step: ``progress.csv``'s step column
is ``grad_steps`` (plot with ``python -m infrastructure.plot RUNS --x grad_steps``) and the
progress bar counts gradient steps; fine-tuning logs the environment steps of its online phase
as ``train/env_steps``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import shutil
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from hw5_offline.config import (
    ALGORITHMS,
    CONTINUOUS_DATASETS,
    CONTINUOUS_ENVS,
    DATASET_SEED,
    EXPLORE_PRESETS,
    FINETUNE_PRESETS,
    OFFLINE_PRESETS,
    ExploreConfig,
    FinetuneConfig,
    RunConfig,
    TrainConfig,
)
from hw5_offline.continuous import CONTINUOUS_AGENTS, BCAgent
from hw5_offline.datasets import (
    NAME_PATTERN,
    DatasetError,
    Episode,
    OfflineData,
    datasets_root,
    load_dataset,
    save_dataset,
)
from hw5_offline.envs import coverage, make_env, plot_visitation
from hw5_offline.exploration import Collector, make_explorer, split_episodes
from hw5_offline.hopper_data import make_hopper_dataset
from hw5_offline.offline import AGENTS, AWACAgent, DQNAgent
from infrastructure.config import (
    config_from_dict,
    config_to_dict,
    parse_with_presets,
    preset_for,
)
from infrastructure.envs import make_env as make_base_env
from infrastructure.logger import Logger, print_final
from infrastructure.replay_buffer import ReplayBuffer
from infrastructure.sampler import Sampler
from infrastructure.seeding import seed_everything
from infrastructure.torch_utils import set_num_threads, to_torch
from infrastructure.training import (
    buffer_state,
    load_buffers,
    resumed_sampler,
    save_atomically,
    train_off_policy,
)

VISITATION = "visitation.png"
FINE_BINS = 4  # bins per cell along each axis for explore/coverage_fine
GRAD_STEPS = "grad_steps"  # the step column of the offline and fine-tuning runs' progress.csv


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
            f"{config.explorer}, {config.env}, seed {config.seed}\ncoverage "
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
# Offline RL and fine-tuning
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _dataset_lock(root: Path, name: str) -> Iterator[None]:
    """Hold the lock on making dataset ``name`` in ``root``: of two runs that find it missing at
    once, the second waits for the first to finish it (``flock``; the kernel lets go of it when
    its process ends, however it ends)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{name.replace('/', '--')}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"dataset {name!r} is being made by another run: waiting for it", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _make_dataset(config: RunConfig, root: Path, progress: bool) -> None:
    """Make the dataset ``config`` reads by default: the maze's exploration dataset, as the
    explore command with the maze's preset and seed :data:`DATASET_SEED` would, or a Hopper
    dataset from its behaviour policy."""
    name = config.dataset_name
    if config.env in CONTINUOUS_ENVS:
        print(
            f"dataset {name!r} is not in {root} yet: making it first, as python -m "
            f"hw5_offline.hopper_data {name} would"
        )
        make_hopper_dataset(name, root, progress)
        return
    explore_config = dataclasses.replace(
        preset_for(ExploreConfig, EXPLORE_PRESETS, config.env),
        explorer=config.explorer,
        seed=DATASET_SEED,
        dataset=None,
        datasets_dir=config.datasets_dir,
        logdir=str(Path(config.logdir) / "explore"),
    )
    print(
        f"dataset {name!r} is not in {root} yet: making it first, as python -m "
        f"hw5_offline.run explore --env {config.env} --explorer {config.explorer} --seed "
        f"{DATASET_SEED} would (logs in {explore_config.logdir})"
    )
    explore(explore_config, progress)


def dataset_for(config: RunConfig, progress: bool = True) -> OfflineData:
    """The dataset ``config`` learns from, loaded and checked. A run given no ``dataset`` on a
    maze reads the maze's exploration dataset by ``config.explorer``, and one on Hopper-v5 a
    Hopper dataset: each is made first where it is not there yet (:func:`_make_dataset`), by
    one run at a time. Raises :class:`DatasetError` (naming the dataset) for a dataset that is
    missing, corrupt or made for another environment."""
    name = config.dataset_name
    root = datasets_root(config.datasets_dir)
    if config.env in CONTINUOUS_ENVS:
        made_here = name in CONTINUOUS_DATASETS
    else:
        made_here = config.dataset is None
    if made_here and not (root / name).exists():
        with _dataset_lock(root, name):
            if not (root / name).exists():  # another run may have made it while this one waited
                _make_dataset(config, root, progress)
    return load_dataset(name, config.env, root=config.datasets_dir)


class OfflineTrainer:
    """Offline RL, one gradient step per :meth:`step`, on minibatches drawn uniformly from a
    replay buffer that holds the whole dataset; the maze is used for evaluation only.

    :func:`train` loops over :meth:`step` with homework 3's loop
    (:func:`~infrastructure.training.train_off_policy`), whose clock, :attr:`total_steps`,
    counts gradient steps here. The autograder can drive the same object and evaluate
    ``trainer.agent``'s networks.

    Args:
        config: the run's configuration, or a dict of its fields.
        data: the dataset, already loaded; None loads ``config.dataset_name``.
    """

    config_class: type[TrainConfig | FinetuneConfig] = TrainConfig
    resume_keys: tuple[str, ...] = ("algorithm", "env", "dataset", "explorer")
    """The config fields a checkpoint must share with the run that resumes from it."""

    def __init__(
        self,
        config: TrainConfig | FinetuneConfig | Mapping[str, Any],
        data: OfflineData | None = None,
    ):
        if not isinstance(config, self.config_class):
            config = config_from_dict(self.config_class, dict(config))  # type: ignore[arg-type]
        self.config: TrainConfig | FinetuneConfig = config  # type: ignore[assignment]
        self.rng = seed_everything(config.seed)
        set_num_threads(config.num_threads)
        self.device = torch.device(config.device)
        if data is None:
            data = load_dataset(config.dataset_name, config.env, root=config.datasets_dir)
        self.dataset_size = len(data)
        env = self.make_eval_env(config.seed)
        agents: dict[str, type[DQNAgent] | type[BCAgent]] = (
            dict(CONTINUOUS_AGENTS) if config.env in CONTINUOUS_ENVS else dict(AGENTS)
        )
        self.agent = agents[config.algorithm](
            env.observation_space, env.action_space, config, self.device
        )
        env.close()
        self.buffer = ReplayBuffer(self.dataset_size + self.online_capacity(), seed=config.seed)
        self.buffer.add(
            data.observations, data.actions, data.rewards, data.next_observations, data.terminated
        )
        self.grad_steps = 0
        self.update_metrics: dict[str, float] = {}

    def online_capacity(self) -> int:
        """Room in the replay buffer for transitions beyond the dataset's (none offline)."""
        return 0

    def make_eval_env(self, seed: int) -> gym.Env:
        """The maze (or Hopper-v5), for an evaluation episode."""
        if self.config.env in CONTINUOUS_ENVS:
            return make_base_env(self.config.env, seed)
        return make_env(self.config.env, seed)

    @property
    def total_steps(self) -> int:
        """Gradient steps taken so far: the run's clock."""
        return self.grad_steps

    def act(self, observations: np.ndarray) -> np.ndarray:
        """Evaluation actions for a batch of observations: the agent's greedy ones."""
        return self.agent.act(observations)

    def update(self) -> dict[str, float]:
        """One gradient step on a minibatch of the replay buffer; its metrics."""
        self.update_metrics = self.agent.update(self.buffer.sample(self.config.batch_size))
        self.grad_steps += 1
        return self.update_metrics

    def step(self) -> dict[str, float]:
        """One gradient step on the dataset; its metrics."""
        return self.update()

    def train_until(self, steps: int) -> int:
        """Call :meth:`step` until ``total_steps`` reaches ``steps``; returns ``total_steps``."""
        while self.total_steps < steps:
            self.step()
        return self.total_steps

    def train_metrics(self) -> dict[str, float]:
        """The last update's metrics."""
        return dict(self.update_metrics)

    # -- checkpoints ------------------------------------------------------------------------

    def checkpoint_state(self) -> dict[str, Any]:
        """What resuming needs: the agent, the replay buffer, the generators' states."""
        return {
            "config": config_to_dict(self.config),
            "grad_steps": self.grad_steps,
            "agent": self.agent.state_dict(),
            "buffer": buffer_state(self.buffer),
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
        }

    def save_checkpoint(self, path: Path) -> None:
        save_atomically(self.checkpoint_state(), path)

    def load_checkpoint(self, path: Path) -> None:
        """Continue from a checkpoint written by :meth:`save_checkpoint` for the same algorithm
        and dataset."""
        self.load_checkpoint_state(path)

    def load_checkpoint_state(self, path: Path) -> dict[str, Any]:
        """:meth:`load_checkpoint`, returning the checkpoint's state."""
        state = torch.load(path, map_location=self.device, weights_only=True)
        saved = state["config"]
        for key in self.resume_keys:
            if saved.get(key) != getattr(self.config, key):
                raise ValueError(
                    f"cannot resume from {path}: expected a checkpoint of {key} "
                    f"{getattr(self.config, key)!r}, got {saved.get(key)!r}; start the run again "
                    "without --resume, or with another --logdir"
                )
        load_buffers(state, path, {"buffer": self.buffer})
        self.agent.load_state_dict(state["agent"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        self.grad_steps = int(state["grad_steps"])
        self.update_metrics = {}
        return state

    def close(self) -> None:
        """Nothing to release offline; fine-tuning closes its environment."""


class FinetuneTrainer(OfflineTrainer):
    """Offline-to-online fine-tuning: :class:`OfflineTrainer`'s gradient steps until
    ``offline_steps``, then, per :meth:`step`, one environment step whose transition joins the
    dataset's in the same replay buffer, and ``updates_per_step`` gradient steps on minibatches
    of all of it. The buffer has room for every online transition, so none of the dataset's is
    ever dropped.

    Online, DQN and CQL act epsilon-greedily (``epsilon``) and AWAC and IQL sample their actor:
    the greedy policy alone would never try what the data did not. Evaluations stay greedy.
    """

    config_class = FinetuneConfig
    config: FinetuneConfig
    # The replay buffer's capacity is the dataset's size plus online_steps.
    resume_keys = (*OfflineTrainer.resume_keys, "online_steps")

    def __init__(self, config: FinetuneConfig | Mapping[str, Any], data: OfflineData | None = None):
        super().__init__(config, data)
        self.env = make_env(self.config.env, self.config.seed)
        self.sampler = Sampler(self.env, seed=self.config.seed)
        self._episode_returns: list[float] = []  # online episodes ended since the last log row

    def online_capacity(self) -> int:
        return self.config.online_steps

    @property
    def env_steps(self) -> int:
        """Environment steps of the online phase so far."""
        return self.sampler.total_steps

    def explore(self, observations: np.ndarray) -> np.ndarray:
        """The online phase's actions for a batch of observations."""
        agent = self.agent
        assert isinstance(agent, DQNAgent), "fine-tuning runs on the mazes (FinetuneConfig)"
        if isinstance(agent, AWACAgent):
            with torch.no_grad():
                log_probs = agent.actor(to_torch(observations, self.device)).cpu().numpy()
            # Gumbel-max: the argmax of log-probabilities plus Gumbel noise is a sample.
            return np.argmax(log_probs + self.rng.gumbel(size=log_probs.shape), axis=1)
        actions = agent.act(observations)
        at_random = self.rng.random(len(actions)) < self.config.epsilon
        random_actions = self.rng.integers(agent.num_actions, size=len(actions))
        return np.where(at_random, random_actions, actions)

    def step(self) -> dict[str, float]:
        """A gradient step on the dataset (offline phase), or one environment step into the
        replay buffer and ``updates_per_step`` gradient steps (online phase); the metrics of the
        last update."""
        cfg = self.config
        if self.grad_steps < cfg.offline_steps:
            return self.update()
        batch = self.sampler.sample_steps(self.explore, 1)
        self.buffer.add_batch(batch)
        self._episode_returns.extend(batch.episode_returns.tolist())
        for _ in range(cfg.updates_per_step):
            self.update()
        return self.update_metrics

    def train_metrics(self) -> dict[str, float]:
        """The last update's metrics, the online environment steps and the buffer's size so far,
        and the mean return of the online episodes that ended since the previous call."""
        metrics = super().train_metrics()
        metrics["train/env_steps"] = self.env_steps
        metrics["train/buffer_size"] = len(self.buffer)
        if self._episode_returns:
            metrics["train/return_mean"] = float(np.mean(self._episode_returns))
            self._episode_returns = []
        return metrics

    def checkpoint_state(self) -> dict[str, Any]:
        """:class:`OfflineTrainer`'s, and the online environment steps. The environment's own
        state is not saved: a run resumed online starts a fresh episode."""
        return super().checkpoint_state() | {"env_steps": self.env_steps}

    def load_checkpoint_state(self, path: Path) -> dict[str, Any]:
        state = super().load_checkpoint_state(path)
        self.sampler = resumed_sampler(self.env, self.config.seed, int(state["env_steps"]))
        self._episode_returns = []
        return state

    def close(self) -> None:
        self.env.close()


def make_trainer(
    config: TrainConfig | FinetuneConfig, data: OfflineData | None = None
) -> OfflineTrainer:
    """The trainer of ``config``'s kind: fine-tuning for a :class:`FinetuneConfig`."""
    if isinstance(config, FinetuneConfig):
        return FinetuneTrainer(config, data)
    return OfflineTrainer(config, data)


def train(
    config: TrainConfig | FinetuneConfig,
    progress: bool = True,
    *,
    evaluate_first: bool = True,
    data: OfflineData | None = None,
) -> dict[str, float]:
    """Train with ``config`` on ``data`` (None: :func:`dataset_for` it); returns the metrics of
    the last evaluation.

    Evaluations run every ``eval_every`` gradient steps, at the end and, unless
    ``evaluate_first`` is false, once before the first step of a run that starts afresh;
    :func:`~infrastructure.training.train_off_policy` runs the loop.
    """
    if data is None:
        data = dataset_for(config, progress)
    trainer = make_trainer(config, data)
    last_eval = train_off_policy(
        trainer,
        config,
        progress,
        evaluate_first=evaluate_first,
        kept=[trainer.rng],
        step_key=GRAD_STEPS,
    )
    trainer.close()
    return last_eval


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

COMMANDS = ("explore", *ALGORITHMS, "finetune")


def command_parser() -> argparse.ArgumentParser:
    """The parser of the command word; ``--help`` after it gives the command's options."""
    top = argparse.ArgumentParser(
        prog="python -m hw5_offline.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("command", choices=COMMANDS, help="then --help for its options")
    return top


def parse_args(argv: Sequence[str] | None = None) -> ExploreConfig | TrainConfig | FinetuneConfig:
    """The config of a run: ``COMMAND`` first, then the preset of ``--env`` (and, for the
    offline commands, of the algorithm) overridden by the other options. A bad value (an
    unknown environment, explorer or algorithm, a dataset that exists for explore) is an error
    that names it, before anything is written."""
    argv = list(sys.argv[1:] if argv is None else argv)
    top = command_parser()
    command = top.parse_args(argv[:1]).command
    prog = f"python -m hw5_offline.run {command}"
    config: ExploreConfig | TrainConfig | FinetuneConfig
    presets: Mapping[str, RunConfig] | None = (
        FINETUNE_PRESETS if command == "finetune" else OFFLINE_PRESETS.get(command)
    )
    peek = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    peek.add_argument("--env", default=None)
    env = peek.parse_known_args(argv[1:])[0].env
    if presets is not None and env is not None and env not in presets:
        top.error(
            f"{command} runs on {', '.join(presets)}: expected --env one of them, got {env!r}"
        )
    try:
        if command == "explore":
            config = parse_with_presets(
                ExploreConfig,
                EXPLORE_PRESETS,
                argv[1:],
                "Reward-free exploration: collect a dataset.",
                prog,
            )
            check_dataset(config)
        elif command == "finetune":
            config = parse_with_presets(
                FinetuneConfig,
                FINETUNE_PRESETS,
                argv[1:],
                "Offline-to-online fine-tuning: offline updates on a dataset, then online "
                "collection into the same replay buffer.",
                prog,
            )
        else:
            config = parse_with_presets(
                TrainConfig,
                OFFLINE_PRESETS[command],
                argv[1:],
                f"Offline RL with {command.upper()} on a dataset.",
                prog,
            )
            if config.algorithm != command:
                raise ValueError(
                    f"expected --algorithm {command} (the command's) or none, got "
                    f"{config.algorithm!r}; run python -m hw5_offline.run {config.algorithm} "
                    "for that agent"
                )
    except ValueError as error:  # checks that need the environment, its preset or the disk
        top.error(str(error))
    return config


def main(argv: Sequence[str] | None = None) -> None:
    config = parse_args(argv)
    if isinstance(config, ExploreConfig):
        result = explore(config)
        root = datasets_root(config.datasets_dir)
        print(
            f"coverage after {config.total_steps} steps: {result['coverage']:.2f} of the "
            f"reachable cells, {result['coverage_fine']:.2f} of their {FINE_BINS}x{FINE_BINS} "
            f"bins ({result['seconds']:.0f} s)"
        )
        print(f"dataset: {config.dataset_name} in {root}")
        print(f"logs: {config.logdir}/progress.csv   heatmap: {config.logdir}/{VISITATION}")
        return
    try:
        data = dataset_for(config)
    except DatasetError as error:  # missing, corrupt, or of another maze: nothing written
        command_parser().error(str(error))
    print(f"dataset: {data.name}, {len(data)} transitions")
    result = train(config, data=data)
    print_final(result, config.eval_episodes, config.logdir)


if __name__ == "__main__":
    main()

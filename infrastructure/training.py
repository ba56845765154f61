"""The training loop of the off-policy runs (homework 3's DQN and SAC, homework 4's MBPO): a
trainer takes a round of environment steps and updates at each :meth:`~OffPolicyTrainer.step`;
the loop around it evaluates, logs, checkpoints and resumes.

Each thing happens when the environment steps cross a multiple of its period, since a round
may take more than one step: a round that takes steps 999 to 1004 logs the row of step 1000,
at step 1004. Homework 4's MPC, whose periods count iterations, has a loop of its own and
shares the pieces around it: resuming, the evaluation environments, the checkpoint helpers.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch

from infrastructure.logger import Logger
from infrastructure.replay_buffer import ReplayBuffer
from infrastructure.sampler import Sampler, evaluate_side_by_side
from infrastructure.seeding import generators_kept

CHECKPOINT = "checkpoint.pt"
EVAL_SEED_OFFSET = 10_000  # evaluation environments are seeded apart from the training one


class RunConfig(Protocol):
    """The fields of a run's config that resuming and evaluating read."""

    @property
    def seed(self) -> int: ...
    @property
    def logdir(self) -> str: ...
    @property
    def eval_episodes(self) -> int: ...
    @property
    def resume(self) -> bool: ...


class LoopConfig(RunConfig, Protocol):
    """The fields of a run's config that :func:`train_off_policy` reads."""

    @property
    def total_steps(self) -> int: ...
    @property
    def eval_every(self) -> int | None: ...
    @property
    def log_every(self) -> int | None: ...
    @property
    def checkpoint_every(self) -> int | None: ...


class OffPolicyTrainer(Protocol):
    """What the loop drives: a trainer that steps, reports and saves itself."""

    @property
    def total_steps(self) -> int:
        """Environment steps taken so far."""
        ...

    def step(self) -> dict[str, float]:
        """One round of environment steps and updates."""
        ...

    def train_metrics(self) -> dict[str, float]:
        """The metrics of a log row: the last update's, and the mean return of the training
        episodes ended since the previous call."""
        ...

    def act(self, observations: np.ndarray) -> np.ndarray:
        """Deterministic evaluation actions for a batch of raw observations."""
        ...

    def make_eval_env(self, seed: int) -> gym.Env:
        """An environment of the training kind, in the action space :meth:`act` returns."""
        ...

    def save_checkpoint(self, path: Path) -> None: ...

    def load_checkpoint(self, path: Path) -> None: ...


def save_atomically(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` ``state`` to ``path`` through a temporary file: a crash while saving
    leaves the previous file as it was."""
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def buffer_state(buffer: ReplayBuffer) -> dict[str, Any]:
    """A replay buffer's state with its arrays as tensors, what ``torch.save`` writes and
    ``torch.load(..., weights_only=True)`` reads back (the tensors share the arrays' memory)."""
    return {
        key: torch.from_numpy(value) if isinstance(value, np.ndarray) else value
        for key, value in buffer.state_dict().items()
    }


def load_buffers(state: Mapping[str, Any], path: Path, buffers: Mapping[str, ReplayBuffer]) -> None:
    """Load each of ``buffers`` from ``state[name]``, saved by :func:`buffer_state` in the
    checkpoint ``path``. A buffer of another config (another capacity, other shapes) stops the
    run with what to do."""
    try:
        for name, buffer in buffers.items():
            buffer.load_state_dict(
                {
                    key: value.cpu().numpy() if isinstance(value, torch.Tensor) else value
                    for key, value in state[name].items()
                }
            )
    except ValueError as error:
        raise ValueError(
            f"cannot resume from {path}: {error}; start the run again without --resume"
        ) from None


def resumed_sampler(env: gym.Env, seed: int, total_steps: int) -> Sampler:
    """The sampler of a run resumed at ``total_steps``: it counts on from there, in a fresh
    episode seeded with ``seed + total_steps`` (the environment's state is not saved)."""
    sampler = Sampler(env, seed=seed + total_steps)
    sampler.total_steps = total_steps
    return sampler


def crossed(before: int, now: int, every: int | None) -> bool:
    """Whether going from ``before`` to ``now`` steps crosses a multiple of ``every`` (never,
    when ``every`` is None)."""
    return every is not None and now // every > before // every


def resume(trainer: OffPolicyTrainer, config: RunConfig) -> int | None:
    """With ``config.resume``, load ``LOGDIR/checkpoint.pt`` into ``trainer`` where there is
    one; returns its environment steps (the ``resume_at`` of the run's :class:`Logger`), or
    None when the run starts afresh."""
    checkpoint = Path(config.logdir) / CHECKPOINT
    if not (config.resume and checkpoint.is_file()):
        return None
    trainer.load_checkpoint(checkpoint)
    print(f"resumed from {checkpoint} at {trainer.total_steps} environment steps")
    return trainer.total_steps


def make_eval_envs(trainer: OffPolicyTrainer, first_seed: int, count: int) -> list[gym.Env]:
    """``count`` evaluation environments for ``first_seed``, ``first_seed + 1``, ...: their
    episodes run side by side, so that each ``act`` call is one forward pass for all of them.
    The seeds are passed on the first evaluation only; later ones go on with each
    environment's own generator."""
    return [trainer.make_eval_env(first_seed + i) for i in range(count)]


def train_off_policy(
    trainer: OffPolicyTrainer,
    config: LoopConfig,
    progress: bool = True,
    *,
    evaluate_first: bool = True,
    kept: Sequence[np.random.Generator] = (),
    step_key: str = "env_steps",
) -> dict[str, float]:
    """Train ``trainer`` to ``config.total_steps`` environment steps; returns the metrics of
    the last evaluation (without the ``eval/`` prefix of the log).

    With ``config.resume`` and a ``LOGDIR/checkpoint.pt``, training goes on from it and the
    log keeps the rows up to its steps. Evaluations run every ``eval_every`` steps, at the end
    and, unless ``evaluate_first`` is false, once before the first step of a run that starts
    afresh, so the learning curve starts at step 0 (a resumed run logged that row before it
    stopped). That first evaluation puts back the global generators and those in ``kept``
    (the trainer's own, which :meth:`~OffPolicyTrainer.act` may draw from): the training and
    the later evaluations are exactly those of a run without it. A row is logged every
    ``log_every`` steps and at each evaluation; a checkpoint is saved every
    ``checkpoint_every`` steps and, when that is set, at the end. ``step_key`` names what the
    trainer's steps count, in ``progress.csv`` and on the progress bar (``grad_steps`` for a
    trainer whose clock is its gradient steps). The caller closes ``trainer``.
    """
    resume_at = resume(trainer, config)
    first_eval_seed = config.seed + EVAL_SEED_OFFSET + trainer.total_steps
    eval_envs = make_eval_envs(trainer, first_eval_seed, config.eval_episodes)
    eval_seed: int | None = first_eval_seed  # None after the first evaluation
    checkpoint = Path(config.logdir) / CHECKPOINT

    last_eval: dict[str, float] = {}
    with (
        Logger(config.logdir, config, resume_at=resume_at, step_key=step_key) as logger,
        logger.progress(
            config.total_steps, desc=step_key.replace("_", " "), disable=not progress
        ) as bar,
    ):
        if evaluate_first and trainer.total_steps == 0:
            # The untrained agent, in environments of their own seeded like the first
            # evaluation's.
            with generators_kept(*kept):
                first_envs = make_eval_envs(trainer, first_eval_seed, config.eval_episodes)
                last_eval = evaluate_side_by_side(first_envs, trainer.act, first_eval_seed)
                for env in first_envs:
                    env.close()
            logger.log({f"eval/{k}": v for k, v in last_eval.items()}, 0)
            bar.set_postfix(eval_return=f"{last_eval['return_mean']:.1f}")
        last_time, last_steps = time.perf_counter(), trainer.total_steps
        bar.update(trainer.total_steps)
        while trainer.total_steps < config.total_steps:
            before = trainer.total_steps
            trainer.step()
            now = trainer.total_steps
            done = now >= config.total_steps
            evaluate_now = crossed(before, now, config.eval_every) or done
            if evaluate_now or crossed(before, now, config.log_every):
                metrics = trainer.train_metrics()
                elapsed = time.perf_counter() - last_time
                metrics["time/sps"] = (now - last_steps) / max(elapsed, 1e-9)
                if evaluate_now:
                    last_eval = evaluate_side_by_side(eval_envs, trainer.act, eval_seed)
                    eval_seed = None
                    metrics.update({f"eval/{k}": v for k, v in last_eval.items()})
                    bar.set_postfix(eval_return=f"{last_eval['return_mean']:.1f}")
                logger.log(metrics, now)
                last_time, last_steps = time.perf_counter(), now
            if crossed(before, now, config.checkpoint_every) or (
                done and config.checkpoint_every is not None
            ):
                trainer.save_checkpoint(checkpoint)
            bar.update(now - before)
    for env in eval_envs:
        env.close()
    return last_eval

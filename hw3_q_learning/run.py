"""Train a DQN or SAC agent::

    python -m hw3_q_learning.run dqn --env CartPole-v1 --seed 0 --logdir runs/dqn_cartpole_seed0
    python -m hw3_q_learning.run sac --env InvertedPendulum-v5 --seed 0 --logdir runs/sac_ip_seed0

The run starts from the environment's tuned preset (``hw3_q_learning/config.py``); every option
given here overrides it (``--double`` alone means ``--double true``). It writes
``LOGDIR/progress.csv``, ``LOGDIR/config.json`` and TensorBoard logs, a checkpoint every
``--checkpoint-every`` steps that ``--resume true`` continues from, and, for SAC, the trained
actor as ``LOGDIR/policy.pt`` (load it with ``hw3_q_learning.export.SavedPolicy``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

import gymnasium as gym
import numpy as np
import torch

from hw3_q_learning.config import DQN_PRESETS, SAC_PRESETS, DQNConfig, SACConfig
from hw3_q_learning.dqn import DQNAgent, linear_schedule
from hw3_q_learning.export import export_policy
from hw3_q_learning.sac import SACAgent, rescale_actions
from infrastructure.config import config_from_dict, config_to_dict, parse_with_presets
from infrastructure.envs import is_atari, make_env
from infrastructure.logger import print_final
from infrastructure.replay_buffer import FrameBuffer, ReplayBuffer
from infrastructure.sampler import Batch, Sampler
from infrastructure.seeding import seed_everything
from infrastructure.torch_utils import set_num_threads
from infrastructure.training import (
    CHECKPOINT,
    EVAL_SEED_OFFSET,
    buffer_state,
    load_buffers,
    resumed_sampler,
    save_atomically,
    train_off_policy,
)

POLICY = "policy.pt"

C = TypeVar("C", DQNConfig, SACConfig)


# ---------------------------------------------------------------------------------------------
# Trainers: one environment step round at a time
# ---------------------------------------------------------------------------------------------


class _OffPolicyTrainer(Generic[C]):
    """What DQN and SAC training share: an environment, a sampler, a replay buffer, and a
    round of ``train_frequency`` environment steps followed by ``gradient_steps`` updates.

    :func:`train` loops over :meth:`step`, evaluates and logs; the autograder drives the same
    object in its sandbox and evaluates the weights of the agent's network (``agent.q_network``,
    ``agent.actor``) with this class's :meth:`act`, in a copy of its own and in environments of
    its own.
    """

    config_class: type[C]
    agent: DQNAgent | SACAgent

    def __init__(self, config: C | Mapping[str, Any]):
        if not isinstance(config, self.config_class):
            config = config_from_dict(self.config_class, dict(config))  # type: ignore[arg-type]
        self.config: C = config
        self.rng = seed_everything(config.seed)
        set_num_threads(config.num_threads)
        self.device = torch.device(config.device)
        self.env = self.make_env(config.seed)
        self.sampler = Sampler(self.env, seed=config.seed)
        # Atari observations are stacks of frames: a FrameBuffer stores each frame once.
        buffer_class = FrameBuffer if is_atari(config.env) else ReplayBuffer
        self.buffer = buffer_class(config.buffer_size, seed=config.seed)
        self.update_metrics: dict[str, float] = {}
        self._episode_returns: list[float] = []  # episodes ended since the last log row

    def make_env(self, seed: int) -> gym.Env:
        """The training environment."""
        return self.make_eval_env(seed)

    def make_eval_env(self, seed: int) -> gym.Env:
        """An environment of the same kind as training, with the raw action space :meth:`act`
        returns actions for."""
        return make_env(self.config.env, seed, max_episode_steps=self.config.max_episode_steps)

    # To be given by each algorithm.
    def explore(self, observations: np.ndarray) -> np.ndarray:
        """Actions of the behaviour policy that collects the data."""
        raise NotImplementedError

    def act(self, observations: np.ndarray) -> np.ndarray:
        """Evaluation actions for a batch of raw environment observations: deterministic, and
        in the environment's own action space."""
        raise NotImplementedError

    def to_store(self, batch: Batch) -> Batch:
        """What of a batch of experience goes into the replay buffer (all of it, by default)."""
        return batch

    @property
    def total_steps(self) -> int:
        """Environment steps taken so far."""
        return self.sampler.total_steps

    def step(self) -> dict[str, float]:
        """Take ``train_frequency`` environment steps into the replay buffer, then, once
        ``learning_starts`` steps are taken, ``gradient_steps`` updates; the metrics of the
        last update."""
        cfg = self.config
        batch = self.sampler.sample_steps(self.explore, cfg.train_frequency)
        self.buffer.add_batch(self.to_store(batch))
        self._episode_returns.extend(batch.episode_returns.tolist())
        if self.total_steps >= cfg.learning_starts:
            for _ in range(cfg.gradient_steps):
                self.update_metrics = self.agent.update(self.buffer.sample(cfg.batch_size))
        return self.update_metrics

    def train_until(self, steps: int) -> int:
        """Call :meth:`step` until ``total_steps`` reaches ``steps``; returns ``total_steps``
        (the autograder trains to each milestone in one call)."""
        while self.total_steps < steps:
            self.step()
        return self.total_steps

    def train_metrics(self) -> dict[str, float]:
        """The last update's metrics and the mean return of the training episodes that ended
        since the previous call."""
        metrics = dict(self.update_metrics)
        if self._episode_returns:
            metrics["train/return_mean"] = float(np.mean(self._episode_returns))
            self._episode_returns = []
        return metrics

    # -- checkpoints ------------------------------------------------------------------------

    def save_checkpoint(self, path: Path) -> None:
        """Save what resuming needs: the agent, the replay buffer, the generators' states.

        The environment's own state is not saved: a resumed run starts a fresh episode, so it is
        not bit-for-bit the run that was not interrupted.
        """
        state = {
            "config": config_to_dict(self.config),
            "total_steps": self.total_steps,
            "agent": self.agent.state_dict(),
            "buffer": buffer_state(self.buffer),
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
        }
        save_atomically(state, path)  # a crash while saving leaves the previous checkpoint

    def load_checkpoint(self, path: Path) -> None:
        """Continue from a checkpoint written by :meth:`save_checkpoint` for the same config."""
        state = torch.load(path, map_location=self.device, weights_only=True)
        load_buffers(state, path, {"buffer": self.buffer})
        self.agent.load_state_dict(state["agent"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        total_steps = int(state["total_steps"])
        self.sampler = resumed_sampler(self.env, self.config.seed, total_steps)
        self.update_metrics = {}
        self._episode_returns = []

    def close(self) -> None:
        self.env.close()


def checkpoint_steps(logdir: str | Path) -> int | None:
    """The environment steps of ``LOGDIR/checkpoint.pt``; None when there is none. The file is
    memory-mapped: its replay buffer is not read."""
    path = Path(logdir) / CHECKPOINT
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    return int(state["total_steps"])


class DQNTrainer(_OffPolicyTrainer[DQNConfig]):
    """DQN training, one round of ``train_frequency`` environment steps per :meth:`step`.

    Args:
        config: the run's configuration, or a dict of its fields (how the autograder passes it).
    """

    config_class = DQNConfig
    agent: DQNAgent

    def __init__(self, config: DQNConfig | Mapping[str, Any]):
        super().__init__(config)
        self.agent = DQNAgent(
            self.env.observation_space, self.env.action_space, self.config, self.device, self.rng
        )
        # Evaluation's epsilon-greedy draws its own numbers: evaluating leaves training as it was.
        self.eval_rng = np.random.default_rng(self.config.seed + EVAL_SEED_OFFSET)

    @property
    def epsilon(self) -> float:
        cfg = self.config
        return linear_schedule(
            self.total_steps, cfg.epsilon_start, cfg.epsilon_end, cfg.epsilon_decay_steps
        )

    def explore(self, observations: np.ndarray) -> np.ndarray:
        return self.agent.act(observations, self.epsilon)

    def act(self, observations: np.ndarray) -> np.ndarray:
        if self.config.eval_epsilon == 0.0:
            return self.agent.act_greedy(observations)
        return self.agent.act(observations, self.config.eval_epsilon, self.eval_rng)

    def step(self) -> dict[str, float]:
        cfg = self.config
        if cfg.learning_rate_end is not None:
            learning_rate = linear_schedule(
                self.total_steps, cfg.learning_rate, cfg.learning_rate_end, cfg.total_steps
            )
            for group in self.agent.optimizer.param_groups:
                group["lr"] = learning_rate
        return super().step()

    def to_store(self, batch: Batch) -> Batch:
        if not self.config.clip_rewards:
            return batch
        return dataclasses.replace(batch, rewards=np.sign(batch.rewards))

    def train_metrics(self) -> dict[str, float]:
        return super().train_metrics() | {"train/epsilon": self.epsilon}


class SACTrainer(_OffPolicyTrainer[SACConfig]):
    """SAC training, one round of ``train_frequency`` environment steps per :meth:`step`.

    The agent acts in ``[-1, 1]``; the training environment rescales its actions to the
    environment's bounds, and :meth:`act` returns actions already rescaled.

    Args:
        config: the run's configuration, or a dict of its fields (how the autograder passes it).
    """

    config_class = SACConfig
    agent: SACAgent

    def __init__(self, config: SACConfig | Mapping[str, Any]):
        super().__init__(config)
        raw = self.env.unwrapped.action_space
        assert isinstance(raw, gym.spaces.Box)
        self.action_space = raw
        self.agent = SACAgent(
            self.env.observation_space, self.env.action_space, self.config, self.device
        )

    def make_env(self, seed: int) -> gym.Env:
        env = self.make_eval_env(seed)
        return gym.wrappers.RescaleAction(env, np.float32(-1.0), np.float32(1.0))

    def explore(self, observations: np.ndarray) -> np.ndarray:
        if self.total_steps < self.config.learning_starts:  # uniformly random actions first
            shape = (len(observations), *self.env.action_space.shape)  # type: ignore[misc]
            return self.rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)
        return self.agent.act(observations)

    def act(self, observations: np.ndarray) -> np.ndarray:
        actions = self.agent.act_deterministic(observations)
        return rescale_actions(actions, self.action_space.low, self.action_space.high)

    def export_policy(self, path: Path) -> None:
        """Save the actor for other homeworks (load it with
        ``hw3_q_learning.export.SavedPolicy``)."""
        export_policy(self.agent, self.action_space, self.config.env, path)


def make_trainer(config: DQNConfig | SACConfig) -> DQNTrainer | SACTrainer:
    return DQNTrainer(config) if isinstance(config, DQNConfig) else SACTrainer(config)


# ---------------------------------------------------------------------------------------------
# The training loop
# ---------------------------------------------------------------------------------------------


def train(
    config: DQNConfig | SACConfig, progress: bool = True, *, evaluate_first: bool = True
) -> dict[str, float]:
    """Train with ``config``; returns the metrics of the last evaluation.

    Evaluations run every ``eval_every`` environment steps, at the end and, unless
    ``evaluate_first`` is false, once before the first step of a run that starts afresh, so
    the learning curve starts at step 0 (a resumed run logged that row before it stopped);
    :func:`~infrastructure.training.train_off_policy` runs the loop.
    """
    trainer = make_trainer(config)
    kept = [trainer.rng]
    if isinstance(trainer, DQNTrainer):
        kept.append(trainer.eval_rng)  # epsilon-greedy evaluations draw from it
    last_eval = train_off_policy(
        trainer, config, progress, evaluate_first=evaluate_first, kept=kept
    )
    if isinstance(trainer, SACTrainer):
        trainer.export_policy(Path(config.logdir) / POLICY)
    trainer.close()
    return last_eval


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

ALGORITHMS = ("dqn", "sac")


def parse_args(argv: Sequence[str] | None = None) -> DQNConfig | SACConfig:
    """The config of a run: ``ALGORITHM`` first, then the preset of ``--env`` overridden by
    the other options."""
    argv = list(sys.argv[1:] if argv is None else argv)
    top = argparse.ArgumentParser(
        prog="python -m hw3_q_learning.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("algorithm", choices=ALGORITHMS, help="then --help for its options")
    algorithm = top.parse_args(argv[:1]).algorithm
    if algorithm == "dqn":
        return parse_with_presets(
            DQNConfig, DQN_PRESETS, argv[1:], "Train DQN.", "python -m hw3_q_learning.run dqn"
        )
    return parse_with_presets(
        SACConfig, SAC_PRESETS, argv[1:], "Train SAC.", "python -m hw3_q_learning.run sac"
    )


def main(argv: Sequence[str] | None = None) -> None:
    config = parse_args(argv)
    result = train(config)
    print_final(result, config.eval_episodes, config.logdir)


if __name__ == "__main__":
    main()

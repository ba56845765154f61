"""The shared off-policy training loop: when it evaluates, logs and checkpoints for rounds of
several steps, how it resumes, and the checkpoint helpers' round trip and error."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from infrastructure.logger import read_progress
from infrastructure.replay_buffer import ReplayBuffer
from infrastructure.training import buffer_state, load_buffers, train_off_policy


@dataclasses.dataclass(frozen=True)
class LoopOptions:
    logdir: str
    seed: int = 0
    total_steps: int = 10
    eval_every: int | None = 6
    eval_episodes: int = 1
    log_every: int | None = 4
    checkpoint_every: int | None = 7
    resume: bool = False


class RoundsOf3:
    """A trainer whose every step is a round of 3 environment steps; its checkpoint is the
    text of its step count."""

    def __init__(self) -> None:
        self.total_steps = 0
        self.rounds_ended_at: list[int] = []
        self.saved_at: list[int] = []

    def step(self) -> dict[str, float]:
        self.total_steps += 3
        self.rounds_ended_at.append(self.total_steps)
        return {}

    def train_metrics(self) -> dict[str, float]:
        return {"train/rounds": float(len(self.rounds_ended_at))}

    def act(self, observations: np.ndarray) -> np.ndarray:
        return np.zeros(len(observations), dtype=np.int64)

    def make_eval_env(self, seed: int) -> gym.Env:
        return gym.make("CartPole-v1")

    def save_checkpoint(self, path: Path) -> None:
        self.saved_at.append(self.total_steps)
        path.write_text(str(self.total_steps))

    def load_checkpoint(self, path: Path) -> None:
        self.total_steps = int(path.read_text())


def logged(logdir: Path) -> list[tuple[int, bool]]:
    """The ``(env_steps, evaluated)`` of each row of ``progress.csv``."""
    columns = read_progress(logdir)
    return [
        (int(steps), not math.isnan(value))
        for steps, value in zip(columns["env_steps"], columns["eval/return_mean"], strict=True)
    ]


def test_rounds_evaluate_log_and_checkpoint_where_they_cross_a_period(tmp_path):
    # Rounds end at 3, 6, 9, 12. Evaluations: before the first step, at 6 (3 -> 6 crosses 6)
    # and at the end (12 >= 10); a log row without evaluation at 9 (6 -> 9 crosses 8, a
    # multiple of log_every that no round ends on). Checkpoints: at 9 (6 -> 9 crosses 7) and
    # at the end, though 9 -> 12 crosses no multiple of 7.
    trainer = RoundsOf3()
    result = train_off_policy(trainer, LoopOptions(logdir=str(tmp_path)), progress=False)
    assert logged(tmp_path) == [(0, True), (6, True), (9, False), (12, True)]
    assert trainer.saved_at == [9, 12]
    assert result["return_mean"] == read_progress(tmp_path)["eval/return_mean"][-1]


def test_a_resumed_run_goes_on_from_the_checkpoint_and_logs_as_an_uninterrupted_one(
    tmp_path, capsys
):
    options = LoopOptions(logdir=str(tmp_path))
    train_off_policy(RoundsOf3(), options, progress=False)
    (tmp_path / "checkpoint.pt").write_text("6")  # as though the run had stopped at 6
    resumed = RoundsOf3()
    train_off_policy(resumed, dataclasses.replace(options, resume=True), progress=False)
    assert f"resumed from {tmp_path / 'checkpoint.pt'} at 6 environment steps" in (
        capsys.readouterr().out
    )
    assert resumed.rounds_ended_at == [9, 12]  # no first evaluation, no step taken again
    assert logged(tmp_path) == [(0, True), (6, True), (9, False), (12, True)]


def filled_buffer(capacity: int) -> ReplayBuffer:
    buffer = ReplayBuffer(capacity, seed=0)
    k = np.arange(5, dtype=np.float32)
    buffer.add(k[:, None], k.astype(np.int64), k, k[:, None] + 1, k % 2 == 0)
    return buffer


def test_a_buffer_comes_back_from_its_checkpoint_state(tmp_path):
    saved = filled_buffer(8)
    loaded = ReplayBuffer(8, seed=1)
    load_buffers({"buffer": buffer_state(saved)}, tmp_path / "checkpoint.pt", {"buffer": loaded})
    assert len(loaded) == 5
    expected, batch = saved.sample(16), loaded.sample(16)  # the generator's state came too
    for key, value in expected.items():
        np.testing.assert_array_equal(batch[key], value)


def test_a_buffer_of_another_capacity_says_to_start_again(tmp_path):
    path = tmp_path / "checkpoint.pt"
    with pytest.raises(ValueError) as raised:
        load_buffers({"buffer": buffer_state(filled_buffer(8))}, path, {"buffer": ReplayBuffer(4)})
    assert str(raised.value) == (
        f"cannot resume from {path}: expected a replay buffer state of capacity 4, got "
        "capacity 8; start the run again without --resume"
    )

"""Every homework's run loop evaluates the untrained policy at step 0, so that its learning
curve starts there, and changes nothing else: the training and every later evaluation are
those of a run without it, bit for bit (the handouts' tables and the autograder's calibrations
were measured without it)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from hw1_imitation import run as hw1_run
from hw2_policy_gradient import run as hw2_run
from hw3_q_learning import run as hw3_run
from infrastructure.logger import read_progress

HW1 = ["--env", "Hopper-v5", "--dagger", "--n-iter", "3", "--train-steps-per-iter", "50"]
HW1 += ["--eval-episodes", "2", "--dagger-batch-size", "100", "--max-episode-steps", "50"]
HW2 = ["--total-steps", "600", "--batch-size", "200", "--eval-every", "1", "--eval-episodes", "2"]
DQN = ["dqn", "--total-steps", "400", "--learning-starts", "100", "--eval-every", "200"]
DQN += ["--eval-episodes", "2", "--log-every", "100", "--target-update-period", "20"]
SAC = ["sac", "--total-steps", "300", "--learning-starts", "100", "--eval-every", "150"]
SAC += ["--eval-episodes", "2", "--log-every", "100", "--batch-size", "32", "--layer-size", "16"]

RUNS = {
    # module, the trainer class whose act() evaluates, options, a metric of the training
    "hw1 DAgger": (hw1_run, hw1_run.Trainer, HW1, "train/loss"),
    # sampled evaluation actions draw from torch's generator, which the training draws from too
    "hw2, sampled evaluation actions": (
        hw2_run,
        hw2_run.Trainer,
        [*HW2, "--eval-deterministic", "false"],
        "train/loss_policy",
    ),
    # epsilon-greedy evaluations draw from a generator of their own, which must not shift
    "hw3 DQN, epsilon-greedy evaluations": (
        hw3_run,
        hw3_run.DQNTrainer,
        [*DQN, "--eval-epsilon", "0.5"],
        "train/loss_critic",
    ),
    "hw3 SAC": (hw3_run, hw3_run.SACTrainer, SAC, "train/loss_critic"),
}


@pytest.mark.parametrize("name", RUNS)
def test_the_first_evaluation_is_at_step_0_and_changes_nothing_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    module, trainer_class, options, training_metric = RUNS[name]
    assert isinstance(module, ModuleType)
    seen: list[np.ndarray] = []  # every observation evaluated, in order
    act = trainer_class.act

    def act_and_record(self: object, observations: np.ndarray) -> np.ndarray:
        seen.append(observations)
        return act(self, observations)

    monkeypatch.setattr(trainer_class, "act", act_and_record)
    config = module.parse_args([*options, "--seed", "3", "--logdir", str(tmp_path / "a")])
    first = module.train(config, progress=False)
    seen_first, seen[:] = list(seen), []
    config = module.parse_args([*options, "--seed", "3", "--logdir", str(tmp_path / "b")])
    assert first == module.train(config, progress=False, evaluate_first=False)

    # The later evaluations see the same states; the first one starts where they start.
    later = seen_first[len(seen_first) - len(seen) :]
    assert len(seen) < len(seen_first) and np.array_equal(seen_first[0], seen[0])
    assert all(np.array_equal(x, y) for x, y in zip(later, seen, strict=True))
    # Its row comes first, before any update; every later row is as it was.
    a, b = read_progress(tmp_path / "a"), read_progress(tmp_path / "b")
    assert a["env_steps"][0] == 0 and a["eval/return_mean"][0] > 0
    assert np.isnan(a[training_metric][0])
    assert a.keys() == b.keys() and len(a["env_steps"]) == len(b["env_steps"]) + 1
    for key in b.keys() - {"time_s", "time/sps"}:
        np.testing.assert_array_equal(a[key][1:], b[key], err_msg=key)

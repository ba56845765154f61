"""End-to-end smoke tests of ``python -m hw2_policy_gradient.run`` (a few seconds each)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from hw2_policy_gradient.run import Trainer, main, parse_args, train
from infrastructure.logger import read_progress

TINY = ["--total-steps", "600", "--batch-size", "200", "--eval-every", "1", "--eval-episodes", "2"]


@pytest.mark.parametrize("env", ["CartPole-v1", "InvertedPendulum-v5"])
def test_a_short_run_writes_its_logs(tmp_path, env):
    main(["--env", env, "--logdir", str(tmp_path), *TINY])
    columns = read_progress(tmp_path)
    assert columns["env_steps"][-1] >= 600
    assert "eval/return_mean" in columns and "train/loss_policy" in columns
    assert json.loads((tmp_path / "config.json").read_text())["env"] == env


def test_the_ppo_extension_runs(tmp_path):
    main(["--logdir", str(tmp_path), "--ppo-clip", "0.2", "--ppo-epochs", "2", *TINY])
    columns = read_progress(tmp_path)
    assert "train/clip_fraction" in columns and "train/approx_kl" in columns


def test_monte_carlo_without_baseline_runs(tmp_path):
    args = ["--use-baseline", "false", "--gae-lambda", "none", "--reward-to-go", "false"]
    main(["--logdir", str(tmp_path), *args, *TINY])
    assert "train/loss_baseline" not in read_progress(tmp_path)


def test_the_same_seed_gives_the_same_run(tmp_path):
    a = train(parse_args(["--logdir", str(tmp_path / "a"), "--seed", "3", *TINY]), progress=False)
    b = train(parse_args(["--logdir", str(tmp_path / "b"), "--seed", "3", *TINY]), progress=False)
    assert a == b
    rows_a, rows_b = read_progress(tmp_path / "a"), read_progress(tmp_path / "b")
    assert rows_a["train/loss_policy"] == rows_b["train/loss_policy"]


def test_the_first_evaluation_is_at_step_0_and_changes_nothing_after_it(tmp_path, monkeypatch):
    # Sampled evaluation actions draw from torch's generator, which the training samples from
    # too: the step-0 evaluation must leave it, and the evaluation episodes, as they were.
    seen: list[np.ndarray] = []  # every observation evaluated, in order
    act = Trainer.act

    def act_and_record(self, observations: np.ndarray) -> np.ndarray:
        seen.append(observations)
        return act(self, observations)

    monkeypatch.setattr(Trainer, "act", act_and_record)
    args = [*TINY, "--seed", "3", "--eval-deterministic", "false"]
    first = train(parse_args([*args, "--logdir", str(tmp_path / "a")]), progress=False)
    seen_first, seen[:] = list(seen), []
    config = parse_args([*args, "--logdir", str(tmp_path / "b")])
    assert first == train(config, progress=False, evaluate_first=False)
    # the later evaluations see the same states; the first starts where they start
    later = seen_first[len(seen_first) - len(seen) :]
    assert len(seen) < len(seen_first) and np.array_equal(seen_first[0], seen[0])
    assert all(np.array_equal(x, y) for x, y in zip(later, seen, strict=True))
    a, b = read_progress(tmp_path / "a"), read_progress(tmp_path / "b")
    assert a["env_steps"][0] == 0 and a["eval/return_mean"][0] > 0
    assert math.isnan(a["train/loss_policy"][0])  # no update before it
    assert a.keys() == b.keys() and len(a["env_steps"]) == len(b["env_steps"]) + 1
    for key in b.keys() - {"time_s"}:
        np.testing.assert_array_equal(a[key][1:], b[key], err_msg=key)


def test_a_misspelled_option_is_an_error(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--learning-rat", "0.1"])
    assert "unrecognized arguments: --learning-rat" in capsys.readouterr().err

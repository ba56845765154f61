"""End-to-end smoke tests of ``python -m hw2_policy_gradient.run`` (a few seconds each)."""

from __future__ import annotations

import json

import pytest

from hw2_policy_gradient.run import main, parse_args, train
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


def test_a_misspelled_option_is_an_error(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--learning-rat", "0.1"])
    assert "unrecognized arguments: --learning-rat" in capsys.readouterr().err

"""End-to-end smoke tests of ``python -m hw1_imitation.run`` with the tiny stand-in expert."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hw1_imitation.expert import update_manifest
from hw1_imitation.run import Trainer, main, parse_args, train
from hw1_imitation.tests.conftest import ENV
from infrastructure.logger import read_progress

TINY = ["--env", ENV, "--n-iter", "3", "--train-steps-per-iter", "100", "--batch-size", "32"]
TINY += ["--eval-episodes", "2", "--dagger-batch-size", "100", "--max-episode-steps", "50"]


def test_behaviour_cloning_writes_its_logs(tmp_path, expert_dir, capsys):
    main([*TINY, "--expert-dir", str(expert_dir), "--logdir", str(tmp_path)])
    columns = read_progress(tmp_path)
    assert columns["train/iteration"] == [0.0, 1.0, 2.0, 3.0]  # 0: before training
    assert len(columns["eval/return_mean"]) == 4 and not np.isnan(columns["eval/return_mean"]).any()
    assert columns["train/dataset_size"][0] == columns["train/dataset_size"][-1]  # demos only
    assert columns["env_steps"][-1] == 0  # behaviour cloning never acts in the environment
    for key in ("eval/return_mean", "eval/expert_return", "eval/expert_fraction", "train/loss"):
        assert key in columns
    assert json.loads((tmp_path / "config.json").read_text())["dagger"] is False
    bar = capsys.readouterr().err  # the progress bar counts iterations, not steps
    assert "iterations: 100%" in bar and "3/3" in bar and "iteration/s" in bar
    assert "step" not in bar


def test_dagger_grows_the_dataset_with_the_learner_states(tmp_path, expert_dir):
    main([*TINY, "--dagger", "--expert-dir", str(expert_dir), "--logdir", str(tmp_path)])
    columns = read_progress(tmp_path)
    sizes = columns["train/dataset_size"]  # before training, then after each iteration
    assert sizes[0] == sizes[1] and sizes[2] >= sizes[1] + 100 and sizes[3] >= sizes[2] + 100
    assert columns["env_steps"][-1] >= 200  # two rounds of at least 100 learner steps
    assert "train/return_mean" in columns


def test_the_expert_return_comes_from_the_manifest(tmp_path, expert_dir):
    directory = tmp_path / "experts"
    directory.mkdir()
    for path in expert_dir.iterdir():
        (directory / path.name).write_bytes(path.read_bytes())
    update_manifest(ENV, "expert", {"return_mean": 500.0}, directory)
    config = parse_args([*TINY, "--expert-dir", str(directory), "--logdir", str(tmp_path / "run")])
    result = train(config, progress=False)
    assert result["expert_return"] == 500.0
    assert result["expert_fraction"] == pytest.approx(result["return_mean"] / 500.0)


def test_the_trainer_counts_gradient_steps_and_acts_on_a_batch(expert_dir):
    trainer = Trainer({"env": ENV, "expert_dir": str(expert_dir), "train_steps_per_iter": 20})
    assert trainer.total_steps == 0
    trainer.step()
    trainer.step()
    assert trainer.total_steps == 40 and isinstance(trainer.total_steps, int)
    actions = trainer.act(np.zeros((5, 4), np.float32))
    assert actions.shape == (5, 1) and actions.dtype == np.float32
    trainer.close()


def test_the_same_seed_gives_the_same_run(tmp_path, expert_dir):
    args = [*TINY, "--dagger", "--seed", "3", "--expert-dir", str(expert_dir)]
    a = train(parse_args([*args, "--logdir", str(tmp_path / "a")]), progress=False)
    b = train(parse_args([*args, "--logdir", str(tmp_path / "b")]), progress=False)
    assert a == b
    assert (
        read_progress(tmp_path / "a")["train/loss"] == read_progress(tmp_path / "b")["train/loss"]
    )


def test_dagger_is_a_flag_and_the_presets_apply():
    assert parse_args(["--dagger"]).dagger is True
    assert parse_args(["--dagger", "false"]).dagger is False
    assert parse_args(["--dagger", "--n-iter", "4"]).n_iter == 4
    assert parse_args(["--env", "Walker2d-v5"]).env == "Walker2d-v5"


def test_a_misspelled_option_is_an_error(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--n-iters", "5"])
    assert "unrecognized arguments: --n-iters" in capsys.readouterr().err


def test_a_misspelled_config_key_is_an_error(expert_dir):
    with pytest.raises(
        ValueError, match="unknown config key.*'n_iters' \\(did you mean 'n_iter'\\?\\)"
    ):
        Trainer({"env": ENV, "expert_dir": str(expert_dir), "n_iters": 5})


def test_an_invalid_value_says_what_was_expected(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--loss", "l1"])
    assert "invalid choice: 'l1'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--num-demos", "0"])
    assert "expected num_demos > 0 or None, got 0" in capsys.readouterr().err

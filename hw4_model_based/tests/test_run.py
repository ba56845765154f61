"""End-to-end smoke tests of ``python -m hw4_model_based.run mpc`` (a few seconds each)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hw4_model_based.config import MPCConfig
from hw4_model_based.models import DynamicsEnsemble
from hw4_model_based.run import MPCTrainer, main, parse_args, train
from infrastructure.logger import read_progress

TINY = ["--total-steps", "300", "--initial-steps", "200", "--steps-per-iteration", "100"]
TINY += ["--train-steps", "20", "--batch-size", "32", "--ensemble-size", "2"]
TINY += ["--layer-size", "16", "--num-sequences", "50", "--horizon", "5", "--eval-episodes", "2"]


@pytest.mark.parametrize("strategy", ["random", "cem"])
def test_a_short_obstacles_run_writes_its_logs_ensemble_and_picture(tmp_path, strategy):
    main(["mpc", "--env", "Obstacles-v0", "--logdir", str(tmp_path), "--strategy", strategy, *TINY])
    columns = read_progress(tmp_path)
    assert columns["env_steps"] == [0, 200, 300]  # before training, then once per iteration
    assert "eval/return_mean" in columns and "train/loss_model" in columns
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["env"] == "Obstacles-v0" and config["strategy"] == strategy
    ensemble = DynamicsEnsemble(2, 2, ensemble_size=2, n_layers=2, size=16)
    ensemble.load_state_dict(torch.load(tmp_path / "ensemble.pt", weights_only=True))
    assert ensemble.delta_std.min() < 1.0  # the fitted statistics were saved with the weights
    assert (tmp_path / "paths.png").stat().st_size > 0


@pytest.mark.parametrize("env", ["Reacher-v5", "HalfCheetah-v5"])
def test_a_short_mujoco_run_starts_and_logs(tmp_path, env):
    args = ["mpc", "--env", env, "--logdir", str(tmp_path), "--max-episode-steps", "20", *TINY]
    train(parse_args([*args, "--eval-episodes", "1"]), progress=False)
    columns = read_progress(tmp_path)
    assert columns["env_steps"][-1] == 300 and np.isfinite(columns["eval/return_mean"]).all()


def test_the_same_seed_gives_the_same_run(tmp_path):
    args = ["mpc", "--seed", "3", *TINY]
    a = train(parse_args([*args, "--logdir", str(tmp_path / "a")]), progress=False)
    b = train(parse_args([*args, "--logdir", str(tmp_path / "b")]), progress=False)
    assert a == b
    rows_a, rows_b = read_progress(tmp_path / "a"), read_progress(tmp_path / "b")
    assert rows_a["train/loss_model"][1:] == rows_b["train/loss_model"][1:]


def test_a_resumed_run_continues_from_its_checkpoint(tmp_path, capsys):
    args = ["mpc", "--logdir", str(tmp_path), "--checkpoint-every", "1", *TINY]
    train(parse_args([*args, "--total-steps", "200"]), progress=False)
    assert (tmp_path / "checkpoint.pt").is_file()
    first_part = read_progress(tmp_path)
    train(parse_args([*args, "--total-steps", "300", "--resume", "true"]), progress=False)
    assert "resumed from" in capsys.readouterr().out
    rows = read_progress(tmp_path)
    assert rows["env_steps"] == [0, 200, 300]  # rows of both parts, none twice
    # the rows of the first part are kept as they were logged, not logged again
    assert rows["time_s"][:2] == first_part["time_s"]
    trainer = MPCTrainer(parse_args(args))
    trainer.load_checkpoint(tmp_path / "checkpoint.pt")
    assert trainer.total_steps == 300 and trainer.iteration == 2 and len(trainer.buffer) == 300


def test_the_first_iteration_acts_at_random_and_the_later_ones_plan():
    config = {"env": "Obstacles-v0", "total_steps": 30, "initial_steps": 20}
    config |= {"steps_per_iteration": 10, "train_steps": 1, "num_sequences": 10, "horizon": 3}
    trainer = MPCTrainer(config)
    trainer.step()
    assert trainer.total_steps == 20 and len(trainer.buffer) == 20
    assert trainer.policy.last_plan is None, "no plan before the model is trained"
    trainer.step()
    assert trainer.total_steps == 30 and trainer.policy.last_plan is not None


def test_a_nan_in_training_names_the_step(tmp_path):
    trainer = MPCTrainer({"env": "Obstacles-v0", "initial_steps": 20, "train_steps": 3})
    with torch.no_grad():
        trainer.ensemble.weights[0].fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="at gradient step 1 of iteration 1"):
        trainer.step()


def test_presets_and_the_strategy_option():
    config = parse_args(["mpc", "--env", "HalfCheetah-v5", "--strategy", "cem"])
    assert config.max_episode_steps == 500 and config.strategy == "cem"
    assert parse_args(["mpc"]).env == "Obstacles-v0"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "Pong-v5"], "expected env in ('Obstacles-v0', 'Reacher-v5', 'HalfCheetah-v5')"),
        (["--strategy", "mppi"], "argument --strategy: invalid choice: 'mppi'"),
        (["--ensemble-size", "0"], "expected ensemble_size > 0, got 0"),
        (["--horizon", "101"], "expected horizon <= 100, the length of a Obstacles-v0 episode"),
        (["--cem-alpha", "0"], "expected 0 < cem_alpha <= 1, got 0.0"),
        (["--device", "cuda"], "expected device 'cpu', got 'cuda'"),
    ],
)
def test_bad_options_stop_with_a_message_before_anything_is_written(
    tmp_path, capsys, args, message
):
    logdir = tmp_path / "run"
    with pytest.raises(SystemExit):
        main(["mpc", "--logdir", str(logdir), *args])
    assert message in capsys.readouterr().err
    assert not logdir.exists()


def test_a_config_dict_with_an_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="config key 'strategy': expected one of"):
        MPCTrainer({"strategy": "mppi"})
    with pytest.raises(ValueError, match="expected horizon <= 50"):
        MPCTrainer({"env": "Reacher-v5", "horizon": 51})
    with pytest.raises(ValueError, match="expected strategy in"):
        MPCConfig(strategy="mppi")  # type: ignore[arg-type]

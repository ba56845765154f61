"""End-to-end smoke tests of ``python -m hw4_model_based.run mpc`` and ``mbpo`` (a few seconds
each), and MBPO's training loop on tiny settings."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hw4_model_based.config import MBPO_PRESETS, MBPOConfig, MPCConfig
from hw4_model_based.models import DynamicsEnsemble
from hw4_model_based.run import MBPOTrainer, MPCTrainer, main, parse_args, train, train_mbpo
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
    train(parse_args([*args, "--eval-episodes", "1", "--eval-every", "1"]), progress=False)
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
    config = parse_args(args)
    assert isinstance(config, MPCConfig)
    trainer = MPCTrainer(config)
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
    assert isinstance(config, MPCConfig)
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


# -- MBPO ---------------------------------------------------------------------------------------

MBPO_TINY = ["--learning-starts", "200", "--num-rollouts", "50", "--model-train-every", "50"]
MBPO_TINY += ["--model-train-steps", "10", "--model-layer-size", "16", "--ensemble-size", "2"]
MBPO_TINY += ["--gradient-steps", "1", "--batch-size", "32", "--layer-size", "16"]
MBPO_TINY += ["--eval-every", "100", "--eval-episodes", "1", "--max-episode-steps", "50"]


def tiny_mbpo(**fields: object) -> dict[str, object]:
    """A config dict for an MBPOTrainer that learns after 10 steps, on small networks."""
    config: dict[str, object] = {"env": "HalfCheetah-v5", "learning_starts": 10}
    config |= {"num_rollouts": 10, "rollout_length": 2, "model_train_every": 5}
    config |= {"model_train_steps": 2, "model_layer_size": 8, "ensemble_size": 2}
    config |= {"batch_size": 16, "layer_size": 8, "gradient_steps": 1}
    return config | fields


@pytest.mark.parametrize("rollout_length", [0, 10])
def test_a_short_mbpo_run_logs_and_resumes(tmp_path, capsys, rollout_length):
    args = ["mbpo", "--env", "HalfCheetah-v5", "--logdir", str(tmp_path), *MBPO_TINY]
    args += ["--rollout-length", str(rollout_length), "--checkpoint-every", "100"]
    train(parse_args([*args, "--total-steps", "250"]), progress=False)
    main([*args, "--total-steps", "300", "--resume", "true"])
    assert "resumed from" in capsys.readouterr().out
    rows = read_progress(tmp_path)
    assert rows["env_steps"] == [0, 100, 200, 250, 300]  # rows of both parts, none twice
    assert np.isfinite(rows["eval/return_mean"]).all()
    assert np.isfinite(rows["train/loss_critic"][2:]).all()  # SAC learns from step 200 on
    assert ("train/loss_model" in rows) == (rollout_length > 0)
    config = parse_args(args)
    assert isinstance(config, MBPOConfig)
    trainer = MBPOTrainer(config)
    trainer.load_checkpoint(tmp_path / "checkpoint.pt")
    assert trainer.total_steps == 300 and len(trainer.buffer) == 300
    assert len(trainer.model_buffer) == (0 if rollout_length == 0 else 3 * 50 * 10)


def test_the_model_buffer_is_refilled_on_schedule_and_sampled():
    trainer = MBPOTrainer(tiny_mbpo())
    sampled: list[int] = []
    sample = trainer.model_buffer.sample

    def counted(batch_size: int) -> dict[str, np.ndarray]:
        sampled.append(batch_size)
        return sample(batch_size)

    trainer.model_buffer.sample = counted  # type: ignore[method-assign]
    trainer.train_until(9)
    assert len(trainer.model_buffer) == 0 and not trainer.update_metrics  # random steps only
    trainer.train_until(10)  # the first fit and 10 rollouts of 2 steps (HalfCheetah never ends)
    assert len(trainer.model_buffer) == 20 and "train/loss_model" in trainer.train_metrics()
    trainer.train_until(14)
    assert len(trainer.model_buffer) == 20
    trainer.train_until(15)
    assert len(trainer.model_buffer) == 40
    assert sampled == [15] * 6  # one minibatch per step from step 10: 16 * 95% from the model


def test_without_rollouts_mbpo_is_sac_on_real_data_only():
    trainer = MBPOTrainer(tiny_mbpo(rollout_length=0))
    weights = [w.clone() for w in trainer.ensemble.parameters()]

    def untouchable(batch_size: int) -> dict[str, np.ndarray]:
        raise AssertionError("the model buffer was sampled")

    trainer.model_buffer.sample = untouchable  # type: ignore[method-assign]
    trainer.train_until(20)
    assert "train/loss_critic" in trainer.update_metrics and len(trainer.model_buffer) == 0
    assert all(
        torch.equal(w, v) for w, v in zip(weights, trainer.ensemble.parameters(), strict=True)
    )
    assert trainer.real_ratio == 1.0


def test_the_same_seed_gives_the_same_mbpo_run():
    a = MBPOTrainer(tiny_mbpo(seed=4))  # SAC samples from PyTorch's global generator, which
    a.train_until(16)  # each trainer seeds: train one before making the other
    b = MBPOTrainer(tiny_mbpo(seed=4))
    b.train_until(16)
    assert a.update_metrics == b.update_metrics and a.model_metrics == b.model_metrics


def test_a_nan_from_the_model_names_the_step():
    trainer = MBPOTrainer(tiny_mbpo())
    with torch.no_grad():
        trainer.ensemble.weights[0].fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="at gradient step 1 of the fit after 10 env"):
        trainer.train_until(10)
    trainer = MBPOTrainer(tiny_mbpo(model_train_steps=0))  # no fit: the rollouts see the NaN
    with torch.no_grad():
        trainer.ensemble.weights[0].fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="rollouts after 10 environment steps"):
        trainer.train_until(10)


def test_mbpo_presets_and_the_rollout_length_option():
    config = parse_args(["mbpo", "--env", "HalfCheetah-v5", "--rollout-length", "0"])
    assert isinstance(config, MBPOConfig) and config.rollout_length == 0
    assert config.max_episode_steps == 500 and config.real_ratio == 0.05
    assert parse_args(["mbpo"]) == MBPO_PRESETS["HalfCheetah-v5"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "Pong-v5"], "expected env in ('Obstacles-v0', 'Reacher-v5', 'HalfCheetah-v5')"),
        (["--rollout-length", "-1"], "expected rollout_length >= 0, got -1"),
        (["--real-ratio", "0"], "expected 0 < real_ratio <= 1, got 0.0"),
        (["--real-ratio", "1.5"], "expected 0 < real_ratio <= 1, got 1.5"),
        (["--ensemble-size", "0"], "expected ensemble_size > 0, got 0"),
        (["--num-rollouts", "0"], "expected num_rollouts > 0, got 0"),
    ],
)
def test_bad_mbpo_options_stop_with_a_message_before_anything_is_written(
    tmp_path, capsys, args, message
):
    logdir = tmp_path / "run"
    # a short run, so that code that accepted the bad value fails fast instead of training
    short = ["--total-steps", "2", "--learning-starts", "1", "--eval-episodes", "1"]
    with pytest.raises(SystemExit):
        main(["mbpo", "--logdir", str(logdir), *short, "--num-rollouts", "10", *args])
    assert message in capsys.readouterr().err
    assert not logdir.exists()


def test_an_unfinished_hw3_stops_an_mbpo_run_before_anything_is_written(tmp_path, monkeypatch):
    from hw3_q_learning import sac

    def stub(*args: object, **kwargs: object) -> None:
        raise NotImplementedError("tanh_gaussian_log_prob")

    monkeypatch.setattr(sac, "tanh_gaussian_log_prob", stub)
    logdir = tmp_path / "run"
    with pytest.raises(NotImplementedError, match="Complete hw3_q_learning/sac.py"):
        train_mbpo(MBPOConfig(logdir=str(logdir)), progress=False)
    assert not logdir.exists()

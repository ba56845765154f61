"""End-to-end smoke tests of ``python -m hw4_model_based.run mpc`` and ``mbpo`` (a few seconds
each), MBPO's training loop on tiny settings, and how bad options and NaNs stop a run.

MBPO trains homework 3's SAC: where ``hw3_q_learning`` cannot be imported (a student tree of
hw4 before its student brings their homework 3), the tests that train it are skipped with what
to do."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import numpy as np
import pytest
import torch

from hw4_model_based import run
from hw4_model_based.config import MBPO_PRESETS, MBPOConfig, MPCConfig
from hw4_model_based.mbpo import SACMissingError, SACUnfinishedError, load_sac
from hw4_model_based.models import DynamicsEnsemble, update_ensemble
from hw4_model_based.run import MBPOTrainer, MPCTrainer, main, parse_args, train, train_mbpo
from infrastructure.logger import read_progress
from infrastructure.training import CHECKPOINT

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


def test_weights_the_last_gradient_step_leaves_not_finite_stop_the_fit(monkeypatch):
    def update_then_overflow(ensemble: DynamicsEnsemble, *args: Any) -> float:
        loss = update_ensemble(ensemble, *args)
        with torch.no_grad():
            ensemble.weights[0].fill_(float("inf"))
        return loss

    monkeypatch.setattr(run, "update_ensemble", update_then_overflow)
    trainer = MPCTrainer({"env": "Obstacles-v0", "initial_steps": 20, "train_steps": 1})
    # the only loss is finite: only the weights after the step show the overflow
    expected = "expected finite weights, got NaN or infinity after gradient step 1 of iteration 1"
    with pytest.raises(FloatingPointError, match=expected):
        trainer.step()


def test_a_nan_in_planning_names_the_environment_step():
    config = {"env": "Obstacles-v0", "initial_steps": 20, "steps_per_iteration": 10}
    trainer = MPCTrainer(config | {"train_steps": 1, "num_sequences": 10, "horizon": 3})
    trainer.step()  # random actions, then a fit: the next iteration plans
    with torch.no_grad():
        trainer.ensemble.weights[0].fill_(float("nan"))
    expected = r"planning: expected finite predicted returns, got 10 of 10 NaN or infinite"
    with pytest.raises(
        FloatingPointError, match=rf"{expected}.*at environment step 21 \(iteration 2\)"
    ):
        trainer.step()
    observation = trainer.env.observation_space.sample()[None]
    with pytest.raises(FloatingPointError, match="in an evaluation after 20 environment steps"):
        trainer.act(observation)


def test_a_nan_mid_run_stops_it_naming_the_step_and_keeps_complete_logs(tmp_path, monkeypatch):
    fits = 0

    def nan_from_the_second_fit(ensemble: DynamicsEnsemble, *args: Any) -> float:
        nonlocal fits
        fits += 1
        if fits > 20:  # TINY's --train-steps: the second iteration's first gradient step
            with torch.no_grad():
                ensemble.weights[0].fill_(float("nan"))
        return update_ensemble(ensemble, *args)

    monkeypatch.setattr(run, "update_ensemble", nan_from_the_second_fit)
    logdir = tmp_path / "run"
    with pytest.raises(SystemExit) as exited:
        main(["mpc", "--logdir", str(logdir), "--checkpoint-every", "1", *TINY])
    assert exited.value.code == (
        "python -m hw4_model_based.run mpc: error: training the ensemble: expected a finite "
        "loss, got nan at gradient step 1 of iteration 2 (300 environment steps); try a "
        "smaller --learning-rate"
    )
    # the rows and the checkpoint of the first iteration, whole; nothing half-written
    assert read_progress(logdir)["env_steps"] == [0, 200]
    assert (logdir / "progress.csv").read_text().endswith("\n")
    state = torch.load(logdir / CHECKPOINT, weights_only=True)
    assert state["iteration"] == 1 and state["total_steps"] == 200
    assert json.loads((logdir / "config.json").read_text())["checkpoint_every"] == 1
    assert not [p.name for p in logdir.rglob("*") if p.name.endswith(".tmp")]


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
        (
            ["--max-episode-steps", "10", "--horizon", "11"],
            "expected horizon <= 10, the length of a Obstacles-v0 episode (max_episode_steps), "
            "got horizon=11",
        ),
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
    assert f"python -m hw4_model_based.run mpc: error: {message}" in capsys.readouterr().err
    assert not logdir.exists()


def test_a_config_dict_with_an_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="config key 'strategy': expected one of"):
        MPCTrainer({"strategy": "mppi"})
    with pytest.raises(ValueError, match="expected horizon <= 50"):
        MPCTrainer({"env": "Reacher-v5", "horizon": 51})
    with pytest.raises(ValueError, match="expected strategy in"):
        MPCConfig(strategy="mppi")  # type: ignore[arg-type]


# -- MBPO ---------------------------------------------------------------------------------------


@pytest.fixture
def hw3_sac() -> None:
    """Skip the test, saying what to do, where homework 3's SAC cannot be imported."""
    try:
        load_sac()
    except SACMissingError as error:
        pytest.skip(str(error))


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
@pytest.mark.usefixtures("hw3_sac")
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


@pytest.mark.usefixtures("hw3_sac")
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


@pytest.mark.usefixtures("hw3_sac")
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


@pytest.mark.usefixtures("hw3_sac")
def test_the_same_seed_gives_the_same_mbpo_run():
    a = MBPOTrainer(tiny_mbpo(seed=4))  # SAC samples from PyTorch's global generator, which
    a.train_until(16)  # each trainer seeds: train one before making the other
    b = MBPOTrainer(tiny_mbpo(seed=4))
    b.train_until(16)
    assert a.update_metrics == b.update_metrics and a.model_metrics == b.model_metrics


@pytest.mark.usefixtures("hw3_sac")
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
    assert f"python -m hw4_model_based.run mbpo: error: {message}" in capsys.readouterr().err
    assert not logdir.exists()


@pytest.mark.usefixtures("hw3_sac")
def test_an_unfinished_hw3_stops_an_mbpo_run_before_anything_is_written(tmp_path, monkeypatch):
    from hw3_q_learning import sac

    def stub(*args: object, **kwargs: object) -> None:
        raise NotImplementedError("tanh_gaussian_log_prob")

    monkeypatch.setattr(sac, "tanh_gaussian_log_prob", stub)
    logdir = tmp_path / "run"
    with pytest.raises(SACUnfinishedError, match="Complete hw3_q_learning/sac.py"):
        train_mbpo(MBPOConfig(logdir=str(logdir)), progress=False)
    with pytest.raises(SystemExit) as exited:  # the command line: the message, no traceback
        main(["mbpo", "--logdir", str(logdir)])
    assert str(exited.value.code).startswith(
        "python -m hw4_model_based.run mbpo: error: MBPO trains homework 3's SAC, and yours is "
        "not finished: tanh_gaussian_log_prob"
    )
    assert not logdir.exists()


def test_without_hw3_an_mbpo_run_stops_with_what_to_do_before_anything_is_written(
    tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "hw3_q_learning.sac", None)  # makes its import fail
    logdir = tmp_path / "run"
    with pytest.raises(SystemExit) as exited:
        main(["mbpo", "--logdir", str(logdir)])
    message = str(exited.value.code)
    assert message.startswith("python -m hw4_model_based.run mbpo: error: MBPO trains homework")
    # (in a student tree without hw3, its config is the first module found missing)
    assert re.search(r"importing it failed \(hw3_q_learning\.(sac|config) is missing\)", message)
    assert "Put your hw3_q_learning folder (with your finished sac.py) next to" in message
    assert not logdir.exists()

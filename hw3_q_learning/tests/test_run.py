"""End-to-end smoke tests of ``python -m hw3_q_learning.run`` (a few seconds each)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from hw3_q_learning.config import DQNConfig, SACConfig
from hw3_q_learning.export import SavedPolicy
from hw3_q_learning.run import DQNTrainer, SACTrainer, main, parse_args, train
from infrastructure.logger import read_progress

DQN_TINY = ["--total-steps", "400", "--learning-starts", "100", "--eval-every", "200"]
DQN_TINY += ["--eval-episodes", "2", "--log-every", "100", "--target-update-period", "20"]
SAC_TINY = ["--total-steps", "300", "--learning-starts", "100", "--eval-every", "150"]
SAC_TINY += ["--eval-episodes", "2", "--log-every", "100", "--batch-size", "32"]
SAC_TINY += ["--layer-size", "16", "--max-episode-steps", "100"]


@pytest.mark.parametrize("double", [[], ["--double"]])
def test_a_short_dqn_run_writes_its_logs(tmp_path, double):
    main(["dqn", "--env", "CartPole-v1", "--logdir", str(tmp_path), *double, *DQN_TINY])
    columns = read_progress(tmp_path)
    assert columns["env_steps"][-1] >= 400
    assert "eval/return_mean" in columns and "train/loss_critic" in columns
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["env"] == "CartPole-v1" and config["double"] == bool(double)


def test_a_short_sac_run_writes_its_logs_and_its_policy(tmp_path):
    main(["sac", "--env", "InvertedPendulum-v5", "--logdir", str(tmp_path), *SAC_TINY])
    columns = read_progress(tmp_path)
    assert columns["env_steps"][-1] >= 300
    assert "eval/return_mean" in columns and "train/alpha" in columns
    policy = SavedPolicy(tmp_path / "policy.pt")
    actions = policy(np.zeros((5, 4)))
    assert actions.shape == (5, 1) and np.all(np.abs(actions) <= 3.0)  # the env's bounds: ±3


def test_the_reinforce_actor_and_the_mean_target_run(tmp_path):
    options = ["--actor-gradient", "reinforce", "--num-actor-samples", "4"]
    main(["sac", "--logdir", str(tmp_path), "--critic-target", "mean", *options, *SAC_TINY])
    assert "train/loss_actor" in read_progress(tmp_path)


def test_the_same_seed_gives_the_same_run(tmp_path):
    args = ["dqn", "--seed", "3", *DQN_TINY]
    a = train(parse_args([*args, "--logdir", str(tmp_path / "a")]), progress=False)
    b = train(parse_args([*args, "--logdir", str(tmp_path / "b")]), progress=False)
    assert a == b
    rows_a, rows_b = read_progress(tmp_path / "a"), read_progress(tmp_path / "b")
    assert rows_a["train/loss_critic"] == rows_b["train/loss_critic"]


def test_a_resumed_sac_run_continues_from_its_checkpoint(tmp_path):
    args = ["sac", "--logdir", str(tmp_path), "--checkpoint-every", "200", *SAC_TINY]
    train(parse_args([*args, "--total-steps", "200"]), progress=False)
    assert (tmp_path / "checkpoint.pt").is_file()
    train(parse_args([*args, "--total-steps", "300", "--resume", "true"]), progress=False)
    steps = read_progress(tmp_path)["env_steps"]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == 300
    # rows of both parts, none twice: the resumed part does not evaluate at its start again
    assert 200 in steps and len(steps) == len(set(steps))


def test_a_checkpoint_of_another_buffer_size_is_refused(tmp_path):
    config = {"env": "CartPole-v1", "learning_starts": 4, "train_frequency": 4}
    trainer = DQNTrainer(config)
    trainer.step()
    trainer.save_checkpoint(tmp_path / "checkpoint.pt")
    other = DQNTrainer({**config, "buffer_size": 100})
    message = (
        "checkpoint.pt: expected a replay buffer state of capacity 100, got capacity 50000; "
        "start the run again without --resume"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        other.load_checkpoint(tmp_path / "checkpoint.pt")
    assert other.total_steps == 0 and len(other.buffer) == 0


def test_trainers_are_built_from_a_dict_and_act_on_a_batch():
    dqn = DQNTrainer({"env": "CartPole-v1", "learning_starts": 4, "train_frequency": 4})
    dqn.step()
    assert dqn.total_steps == 4
    assert dqn.act(np.zeros((3, 4), np.float32)).shape == (3,)
    sac = SACTrainer({"env": "InvertedPendulum-v5", "layer_size": 16, "batch_size": 8})
    sac.step()
    actions = sac.act(np.zeros((3, 4)))
    assert actions.shape == (3, 1) and np.all(np.abs(actions) <= 3.0)


def test_evaluation_explores_at_eval_epsilon_with_its_own_generator():
    observations = np.random.default_rng(0).normal(size=(2000, 4)).astype(np.float32)
    greedy = DQNTrainer({"env": "CartPole-v1"})
    assert np.array_equal(greedy.act(observations), greedy.agent.act_greedy(observations))
    dqn = DQNTrainer({"env": "CartPole-v1", "eval_epsilon": 0.5})
    training_rng = dqn.agent.rng.bit_generator.state
    differ = np.mean(dqn.act(observations) != dqn.agent.act_greedy(observations))
    assert 0.2 < differ < 0.3  # half explore, and half of those pick the other of 2 actions
    assert dqn.agent.rng.bit_generator.state == training_rng  # training's draws untouched
    with pytest.raises(ValueError, match="eval_epsilon"):
        DQNConfig(eval_epsilon=1.5)


def test_the_step_size_anneals_linearly_to_its_end_value():
    config = {"env": "CartPole-v1", "learning_starts": 8, "train_frequency": 4}
    config |= {"total_steps": 40, "learning_rate": 1e-3, "learning_rate_end": 0.0}
    dqn = DQNTrainer(config)
    rates = []
    while dqn.total_steps < 40:
        dqn.step()  # the step size of the updates after total_steps environment steps
        rates.append(dqn.agent.optimizer.param_groups[0]["lr"])
    np.testing.assert_allclose(rates, [1e-3 * (1 - s / 40) for s in range(0, 40, 4)])
    constant = DQNTrainer({**config, "learning_rate_end": None})
    constant.train_until(40)
    assert constant.agent.optimizer.param_groups[0]["lr"] == 1e-3


def test_presets_and_the_double_flag():
    config = parse_args(["dqn", "--env", "LunarLander-v3"])
    assert isinstance(config, DQNConfig) and config.double and config.total_steps == 300_000
    assert parse_args(["dqn", "--double", "--seed", "1"]).double  # type: ignore[union-attr]
    assert not parse_args(["dqn", "--double", "false"]).double  # type: ignore[union-attr]
    config = parse_args(["sac", "--env", "Hopper-v5"])
    assert isinstance(config, SACConfig) and config.total_steps == 300_000


def test_a_misspelled_option_is_an_error(capsys):
    with pytest.raises(SystemExit):
        parse_args(["dqn", "--learning-rat", "0.1"])
    assert "unrecognized arguments: --learning-rat" in capsys.readouterr().err


def test_an_unknown_algorithm_is_an_error(capsys):
    with pytest.raises(SystemExit):
        parse_args(["ddpg", "--env", "Hopper-v5"])
    assert "invalid choice: 'ddpg'" in capsys.readouterr().err


def test_a_bad_value_says_what_was_expected(capsys):
    with pytest.raises(SystemExit):
        parse_args(["sac", "--tau", "0"])
    assert "expected 0 < tau <= 1, got 0.0" in capsys.readouterr().err

"""End-to-end tests of ``python -m hw5_offline.run`` (a few seconds each): for ``explore``, the
dataset, the logs and the heatmap it writes; for the offline commands and ``finetune``, the
agent each trains, the rows it logs, resuming, the dataset made when none is named, and for all,
what they refuse before writing anything."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import time

import gymnasium as gym
import numpy as np
import pytest
from minari.dataset._storages.hdf5_storage import HDF5Storage

from hw5_offline import run
from hw5_offline.config import (
    ALGORITHMS,
    FINETUNE_PRESETS,
    OFFLINE_PRESETS,
    FinetuneConfig,
    default_dataset_name,
)
from hw5_offline.datasets import Episode, list_datasets, load_dataset, save_dataset
from hw5_offline.envs import ENVS
from infrastructure.logger import read_progress

TINY = ["--total-steps", "200", "--log-every", "100", "--learning-starts", "50"]
TINY += ["--batch-size", "16", "--layer-size", "16", "--rnd-layer-size", "16"]


def explore_args(tmp_path, *extra: str, env: str = "PointmassEasy-v0") -> list[str]:
    logdir, datasets = tmp_path / "run", tmp_path / "datasets"
    return ["explore", "--env", env, "--logdir", str(logdir), "--datasets-dir", str(datasets)]


@pytest.mark.parametrize("explorer", ["random", "rnd"])
def test_explore_writes_a_loadable_dataset_its_logs_and_a_heatmap(tmp_path, capsys, explorer):
    run.main([*explore_args(tmp_path), "--explorer", explorer, "--seed", "3", *TINY])
    name = default_dataset_name("PointmassEasy-v0", explorer, 3)
    assert name == f"pointmass/easy-{explorer}-seed3-v0"
    data = load_dataset(name, "PointmassEasy-v0", root=tmp_path / "datasets")
    assert len(data) == 200
    assert set(np.unique(data.rewards)) <= {-1.0, 0.0}  # the environment's, not the bonus
    assert data.truncated[-1] or data.terminated[-1]
    columns = read_progress(tmp_path / "run")
    assert columns["env_steps"] == [0, 100, 200]
    assert 0 < columns["explore/coverage"][-1] <= 1
    assert 0 < columns["explore/coverage_fine"][-1] < columns["explore/coverage"][-1]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["explorer"] == explorer and config["total_steps"] == 200
    heatmap = (tmp_path / "run" / run.VISITATION).read_bytes()
    assert heatmap.startswith(b"\x89PNG")
    assert name in capsys.readouterr().out


def test_explore_names_the_dataset_it_is_given_and_replaces_one_only_when_asked(tmp_path, capsys):
    args = [*explore_args(tmp_path), "--explorer", "random", "--dataset", "mine/easy-v2", *TINY]
    run.main(args)
    first = load_dataset("mine/easy-v2", "PointmassEasy-v0", root=tmp_path / "datasets")
    run.main([*args, "--overwrite", "true", "--seed", "1", "--total-steps", "150"])
    second = load_dataset("mine/easy-v2", "PointmassEasy-v0", root=tmp_path / "datasets")
    assert (len(first), len(second)) == (200, 150)
    assert list_datasets(tmp_path / "datasets") == ["mine/easy-v2"]  # nothing else left behind
    assert not any(p.name.startswith(".") for p in (tmp_path / "datasets").iterdir())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--env", "PointmassHuge-v0"], "expected env in"),
        (["--explorer", "curious"], "invalid choice: 'curious'"),
        (["--dataset", "no version"], "expected a dataset name of the form"),
        (["--total-steps", "0"], "expected total_steps > 0, got 0"),
    ],
)
def test_bad_options_stop_with_a_message_before_anything_is_written(
    tmp_path, capsys, options, message
):
    with pytest.raises(SystemExit):
        run.main([*explore_args(tmp_path), *TINY, *options])
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists() and not (tmp_path / "datasets").exists()


def test_an_existing_dataset_stops_the_run_before_it_starts(tmp_path, capsys):
    args = [*explore_args(tmp_path), "--explorer", "random", *TINY]
    run.main(args)
    dataset = tmp_path / "datasets" / "pointmass" / "easy-random-seed0-v0"
    before = (dataset / "data" / "main_data.hdf5").read_bytes()
    (tmp_path / "run" / "progress.csv").unlink()
    capsys.readouterr()
    with pytest.raises(SystemExit):
        run.main([*args, "--seed", "0"])
    err = capsys.readouterr().err
    assert "'pointmass/easy-random-seed0-v0' exists already" in err and "--overwrite" in err
    assert not (tmp_path / "run" / "progress.csv").exists()  # no run was started
    assert (dataset / "data" / "main_data.hdf5").read_bytes() == before


def test_an_interrupted_collection_writes_no_dataset(tmp_path, monkeypatch):
    calls = []

    def interrupt(self, num_steps):
        calls.append(num_steps)
        raise KeyboardInterrupt

    monkeypatch.setattr(run.Collector, "collect", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run.main([*explore_args(tmp_path), "--explorer", "rnd", *TINY])
    assert calls == [100]
    datasets = tmp_path / "datasets"
    assert not datasets.exists() or not any(datasets.iterdir())


def test_an_interrupted_write_keeps_the_dataset_it_was_replacing(tmp_path, monkeypatch):
    args = [*explore_args(tmp_path), "--explorer", "random", *TINY]
    run.main(args)
    name = "pointmass/easy-random-seed0-v0"

    def interrupt(self, episodes):
        raise KeyboardInterrupt

    # Minari's HDF5 writer, stopped halfway through writing the new dataset
    monkeypatch.setattr(HDF5Storage, "update_episodes", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run.main([*args, "--overwrite", "true", "--total-steps", "150"])
    kept = load_dataset(name, "PointmassEasy-v0", root=tmp_path / "datasets")
    assert len(kept) == 200  # the old one, whole
    assert [p.name for p in (tmp_path / "datasets").iterdir()] == ["pointmass"]


def test_the_same_seed_gives_the_same_dataset(tmp_path):
    datasets = []
    for label in ("a", "b"):
        args = [*explore_args(tmp_path / label), "--explorer", "rnd", *TINY]
        run.main(args)
        datasets.append(
            load_dataset(
                "pointmass/easy-rnd-seed0-v0",
                "PointmassEasy-v0",
                root=tmp_path / label / "datasets",
            )
        )
    a, b = datasets
    np.testing.assert_array_equal(a.actions, b.actions)
    np.testing.assert_array_equal(a.observations, b.observations)


# ---- the offline commands and fine-tuning -------------------------------------------------

EASY = "PointmassEasy-v0"
DATA = "tiny/easy-random-v0"
OFFLINE_TINY = ["--batch-size", "16", "--layer-size", "16", "--eval-episodes", "2"]
OFFLINE_TINY += ["--total-steps", "60", "--eval-every", "30", "--log-every", "20"]


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    """A folder holding DATA: 300 steps of the random explorer on Easy."""
    tmp = tmp_path_factory.mktemp("offline")
    run.main(
        [*explore_args(tmp), "--explorer", "random", "--dataset", DATA, "--total-steps", "300"]
    )
    return tmp / "datasets"


def offline_args(command: str, datasets, logdir) -> list[str]:
    return [command, "--env", EASY, "--datasets-dir", str(datasets), "--logdir", str(logdir)]


# the metrics that only the named algorithm's update logs
OWN_METRICS = {
    "dqn": set(),
    "cql": {"train/cql_regularizer"},
    "awac": {"train/loss_actor"},
    "iql": {"train/loss_actor", "train/loss_value"},
}


@pytest.mark.parametrize("algorithm", ["dqn", "cql", "awac", "iql"])
def test_each_offline_command_trains_its_agent_and_logs_over_gradient_steps(
    tmp_path, capsys, datasets, algorithm
):
    logdir = tmp_path / "run"
    run.main([*offline_args(algorithm, datasets, logdir), "--dataset", DATA, *OFFLINE_TINY])
    columns = read_progress(logdir)
    # the first evaluation, then a row every 20 gradient steps and at each evaluation
    assert columns["grad_steps"] == [0, 20, 30, 40, 60]
    returns = columns["eval/return_mean"]
    assert [np.isnan(value) for value in returns] == [False, True, False, True, False]
    assert all(-50 <= value <= 0 for value in returns if not np.isnan(value))  # Easy: 50 steps
    logged = {key for key in columns if not np.isnan(columns[key][-1])}
    all_own = set().union(*OWN_METRICS.values())
    assert logged & all_own == OWN_METRICS[algorithm]
    assert {"train/loss_critic", "train/q_values"} <= logged
    config = json.loads((logdir / "config.json").read_text())
    assert config["algorithm"] == algorithm and config["dataset"] == DATA
    assert (logdir / "tb").is_dir()
    out = capsys.readouterr().out
    assert f"dataset: {DATA}, 300 transitions" in out and "final evaluation: return" in out


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--dataset", "tiny/none-v0"], "dataset 'tiny/none-v0' not found in"),
        (["--dataset", DATA, "--env", "PointmassMedium-v0"], "does not match PointmassMedium-v0"),
        (["--dataset", "no version"], "expected a dataset name of the form"),
        (["--dataset", DATA, "--alpha", "2"], "unrecognized arguments: --alpha 2"),
        (["--dataset", DATA, "--algorithm", "iql"], "expected --algorithm cql (the command's)"),
        (["--dataset", DATA, "--total-steps", "0"], "expected total_steps > 0, got 0"),
    ],
)
def test_bad_offline_input_stops_with_a_message_before_anything_is_written(
    tmp_path, capsys, datasets, options, message
):
    with pytest.raises(SystemExit):
        run.main([*offline_args("cql", datasets, tmp_path / "run"), *OFFLINE_TINY, *options])
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_every_algorithm_and_environment_has_its_preset():
    for algorithm, presets in OFFLINE_PRESETS.items():
        mazes = [] if algorithm == "bc" else list(ENVS)
        hopper = ["Hopper-v5"] if algorithm in ("bc", "iql") else []
        assert list(presets) == mazes + hopper
        assert all((p.algorithm, p.env) == (algorithm, env) for env, p in presets.items())
    assert list(OFFLINE_PRESETS) == list(ALGORITHMS)
    assert all(preset.env == env for env, preset in FINETUNE_PRESETS.items())
    assert list(FINETUNE_PRESETS) == list(ENVS)


def test_an_unknown_command_is_refused(capsys):
    with pytest.raises(SystemExit):
        run.main(["bcq", "--env", EASY])
    assert "invalid choice: 'bcq'" in capsys.readouterr().err


def test_without_a_dataset_the_presets_one_is_made_first_then_reused(tmp_path, capsys, monkeypatch):
    # the explore preset, shortened to keep the test fast
    tiny = dataclasses.replace(run.EXPLORE_PRESETS[EASY], total_steps=150, log_every=50)
    monkeypatch.setitem(run.EXPLORE_PRESETS, EASY, tiny)
    datasets = tmp_path / "datasets"
    args = [*offline_args("iql", datasets, tmp_path / "run"), "--explorer", "random"]
    run.main([*args, *OFFLINE_TINY])
    out = capsys.readouterr().out
    name = "pointmass/easy-random-seed0-v0"
    assert f"dataset {name!r} is not in " in out
    command = "python -m hw5_offline.run explore --env PointmassEasy-v0 --explorer random --seed 0"
    assert f"yet: making it first, as {command} would" in out
    assert list_datasets(datasets) == [name]
    assert len(load_dataset(name, EASY, root=datasets)) == 150
    assert read_progress(tmp_path / "run" / "explore")["env_steps"][-1] == 150
    run.main([*args, *OFFLINE_TINY, "--logdir", str(tmp_path / "again")])
    assert "making it first" not in capsys.readouterr().out


def test_a_resumed_offline_run_ends_as_the_uninterrupted_one(tmp_path, datasets):
    def args(logdir, steps: int, *extra: str) -> list[str]:
        options = [*OFFLINE_TINY, "--total-steps", str(steps), "--checkpoint-every", "30"]
        return [*offline_args("awac", datasets, logdir), "--dataset", DATA, *options, *extra]

    run.main(args(tmp_path / "whole", 60))
    run.main(args(tmp_path / "parts", 30))
    assert (tmp_path / "parts" / "checkpoint.pt").is_file()
    run.main(args(tmp_path / "parts", 60, "--resume", "true"))
    whole, parts = read_progress(tmp_path / "whole"), read_progress(tmp_path / "parts")
    assert parts["grad_steps"] == whole["grad_steps"] == [0, 20, 30, 40, 60]  # none twice
    # the agent, its optimizers, the minibatches' generator: all as if never stopped (the
    # evaluations are not: a resumed run's evaluation episodes start from seeds of their own)
    for key in ("train/loss_critic", "train/loss_actor", "train/advantages"):
        np.testing.assert_array_equal(parts[key], whole[key])


def test_a_checkpoint_of_another_algorithm_is_refused(tmp_path, datasets):
    logdir = tmp_path / "run"
    options = [*OFFLINE_TINY, "--dataset", DATA, "--checkpoint-every", "30"]
    run.main([*offline_args("dqn", datasets, logdir), *options])
    with pytest.raises(ValueError, match="expected a checkpoint of algorithm 'cql', got 'dqn'"):
        run.main([*offline_args("cql", datasets, logdir), *options, "--resume", "true"])


FINETUNE_TINY = ["--dataset", DATA, "--batch-size", "16", "--layer-size", "16"]
FINETUNE_TINY += ["--offline-steps", "40", "--online-steps", "30", "--updates-per-step", "2"]


@pytest.mark.parametrize("algorithm", ["cql", "iql"])
def test_finetuning_adds_online_transitions_to_the_datasets_in_one_buffer(datasets, algorithm):
    args = offline_args("finetune", datasets, "unused")[1:] + FINETUNE_TINY
    config = run.parse_args(["finetune", *args, "--algorithm", algorithm])
    assert isinstance(config, FinetuneConfig) and config.total_steps == 40 + 30 * 2
    data = load_dataset(DATA, EASY, root=datasets)
    trainer = run.FinetuneTrainer(config, data)
    assert trainer.train_until(40) == 40 and trainer.env_steps == 0  # offline: no env step
    assert len(trainer.buffer) == len(data)
    trainer.train_until(config.total_steps)
    assert trainer.env_steps == 30 and trainer.total_steps == 100
    stored = trainer.buffer.state_dict()
    assert len(trainer.buffer) == len(data) + 30
    # the dataset's transitions, first and untouched, then the online ones
    np.testing.assert_array_equal(stored["data.observations"][: len(data)], data.observations)
    np.testing.assert_array_equal(stored["data.actions"][: len(data)], data.actions)
    online = stored["data.observations"][len(data) :]
    assert online.shape == (30, 2) and np.all((online >= 0) & (online <= 1))
    trainer.close()


def test_the_finetune_command_logs_both_phases_and_resumes_online(tmp_path, datasets, monkeypatch):
    logdir = tmp_path / "run"
    args = [*offline_args("finetune", datasets, logdir), *FINETUNE_TINY, "--eval-episodes", "2"]
    args += ["--eval-every", "40", "--log-every", "20", "--checkpoint-every", "20"]
    step = run.FinetuneTrainer.step

    def interrupted(self):
        if self.total_steps >= 70:  # online, after the checkpoint of gradient step 60
            raise KeyboardInterrupt
        return step(self)

    monkeypatch.setattr(run.FinetuneTrainer, "step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run.main(args)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="expected a checkpoint of online_steps 20, got 30"):
        run.main([*args, "--online-steps", "20", "--resume", "true"])
    run.main([*args, "--resume", "true"])
    columns = read_progress(logdir)
    assert columns["grad_steps"] == [0, 20, 40, 60, 80, 100]
    # two gradient steps per environment step once the 40 offline ones are done
    assert columns["train/env_steps"][1:] == [0, 0, 10, 20, 30]
    assert columns["train/buffer_size"][1:] == [300, 300, 310, 320, 330]
    assert not np.isnan(columns["eval/return_mean"][-1])


# ---- two runs that make the same dataset, and Hopper ----------------------------------------


def test_two_runs_that_find_the_dataset_missing_make_it_once(tmp_path, monkeypatch):
    made: list[str] = []

    def slow_make(config, root, progress):  # stands in for the explore command
        made.append(config.dataset_name)
        time.sleep(0.5)  # long enough for the other run to find the dataset missing too
        (root / config.dataset_name).mkdir(parents=True)

    monkeypatch.setattr(run, "_make_dataset", slow_make)
    monkeypatch.setattr(run, "load_dataset", lambda name, env, root: name)
    config = FinetuneConfig(env=EASY, explorer="random", datasets_dir=str(tmp_path))
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        names = list(pool.map(lambda _: run.dataset_for(config, progress=False), range(2)))
    assert names == ["pointmass/easy-random-seed0-v0"] * 2
    assert made == ["pointmass/easy-random-seed0-v0"]  # the second waited, then found it


@pytest.mark.parametrize(
    ("command", "options", "message"),
    [
        ("bc", ["--env", EASY], f"bc runs on Hopper-v5: expected --env one of them, got {EASY!r}"),
        ("cql", ["--env", "Hopper-v5"], "cql runs on PointmassEasy-v0, PointmassMedium-v0, "),
        ("finetune", ["--env", "Hopper-v5"], "finetune runs on PointmassEasy-v0, "),
    ],
)
def test_an_algorithm_on_an_environment_it_has_no_variant_for_is_refused(
    tmp_path, capsys, command, options, message
):
    with pytest.raises(SystemExit):
        run.main([command, *options, "--logdir", str(tmp_path / "run")])
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def hopper_datasets(tmp_path_factory):
    """A folder holding tiny/hopper-random-v0: 300 steps of random actions on Hopper-v5."""
    root = tmp_path_factory.mktemp("hopper")
    env = gym.make("Hopper-v5")
    rng = np.random.default_rng(0)
    episodes, steps = [], 0
    while steps < 300:
        observations, actions, rewards, terminations = [env.reset(seed=steps)[0]], [], [], []
        done = False
        while not done and steps < 300:
            action = rng.uniform(-1, 1, size=3).astype(np.float32)
            observation, reward, terminated, truncated, _ = env.step(action)
            observations.append(observation)
            actions.append(action)
            rewards.append(reward)
            terminations.append(terminated)
            done, steps = terminated or truncated, steps + 1
        episodes.append(
            Episode(
                observations=np.array(observations),
                actions=np.array(actions),
                rewards=np.array(rewards),
                terminations=np.array(terminations),
                truncations=np.array([False] * (len(actions) - 1) + [not terminations[-1]]),
            )
        )
    env.close()
    save_dataset("tiny/hopper-random-v0", "Hopper-v5", episodes, root=root)
    return root


@pytest.mark.parametrize("algorithm", ["bc", "iql"])
def test_bc_and_iql_train_on_a_hopper_dataset(tmp_path, capsys, hopper_datasets, algorithm):
    logdir = tmp_path / "run"
    args = [algorithm, "--env", "Hopper-v5", "--dataset", "tiny/hopper-random-v0"]
    args += ["--datasets-dir", str(hopper_datasets), "--logdir", str(logdir), *OFFLINE_TINY]
    run.main(args)
    columns = read_progress(logdir)
    assert columns["grad_steps"] == [0, 20, 30, 40, 60]
    logged = {key for key in columns if not np.isnan(columns[key][-1])}
    assert "train/loss_actor" in logged
    assert ("train/loss_value" in logged) == ("train/q_values" in logged) == (algorithm == "iql")
    returns = [value for value in columns["eval/return_mean"] if not np.isnan(value)]
    assert len(returns) == 3 and all(np.isfinite(returns))
    assert "dataset: tiny/hopper-random-v0, 300 transitions" in capsys.readouterr().out

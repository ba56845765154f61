"""End-to-end tests of ``python -m hw5_offline.run explore`` (a few seconds each): the dataset,
the logs and the heatmap it writes, and what it refuses before writing anything."""

from __future__ import annotations

import json

import numpy as np
import pytest
from minari.dataset._storages.hdf5_storage import HDF5Storage

from hw5_offline import run
from hw5_offline.config import default_dataset_name
from hw5_offline.datasets import list_datasets, load_dataset
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

"""Logger (progress.csv, config.json, TensorBoard) and learning-curve plots."""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib.figure
import numpy as np
import pytest

from infrastructure import plot
from infrastructure.config import load_config
from infrastructure.logger import Logger, read_progress
from infrastructure.plot import align, curve, find_runs, group_runs, main, mean_band, plot_runs


@dataclass
class RunConfig:
    seed: int = 0
    """Random seed."""
    learning_rate: float = 1e-3
    """Step size."""


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))


def write_run(run_dir: Path, rows: list[dict[str, float]]) -> Path:
    """A fake run: ``rows`` of metrics logged at env_steps 100, 200, ..."""
    with Logger(run_dir, tensorboard=False) as logger:
        for i, metrics in enumerate(rows):
            logger.log(metrics, env_steps=100 * (i + 1))
    return run_dir


# ------------------------------------------------------------------------------------ logger


def test_progress_csv_has_env_steps_and_time(tmp_path):
    logger = Logger(tmp_path / "run", tensorboard=False)
    assert read_rows(logger.csv_path) == [["env_steps", "time_s"]]  # header from the start
    logger.log({"train/loss": 1.5}, env_steps=100)
    logger.log({"train/loss": 0.5}, env_steps=250)
    logger.close()
    rows = read_rows(tmp_path / "run" / "progress.csv")
    assert rows[0] == ["env_steps", "time_s", "train/loss"]
    assert [(r[0], r[2]) for r in rows[1:]] == [("100", "1.5"), ("250", "0.5")]
    times = [float(r[1]) for r in rows[1:]]
    assert 0.0 <= times[0] <= times[1] < 60.0


def test_new_keys_widen_the_header_and_earlier_rows_get_empty_cells(tmp_path):
    run = write_run(
        tmp_path / "run",
        [
            {"train/loss": 3.0},
            {"train/loss": 2.0, "eval/return_mean": 20.0},
            {"eval/return_mean": 30.0},  # no train/loss in this row: an empty cell
            {"train/loss": 1.0},
        ],
    )
    rows = read_rows(run / "progress.csv")
    assert rows[0] == ["env_steps", "time_s", "train/loss", "eval/return_mean"]
    assert [[r[0], r[2], r[3]] for r in rows[1:]] == [
        ["100", "3.0", ""],
        ["200", "2.0", "20.0"],
        ["300", "", "30.0"],
        ["400", "1.0", ""],
    ]
    columns = read_progress(run)
    assert list(columns) == rows[0]
    assert columns["env_steps"] == [100.0, 200.0, 300.0, 400.0]
    loss, returns = columns["train/loss"], columns["eval/return_mean"]
    assert loss[:2] == [3.0, 2.0] and math.isnan(loss[2]) and loss[3] == 1.0
    assert math.isnan(returns[0]) and returns[1:3] == [20.0, 30.0] and math.isnan(returns[3])


@pytest.mark.parametrize("key", ["loss", "Train/loss", "train/", "/loss", "train loss/x"])
def test_metric_keys_must_be_namespaced(tmp_path, key):
    logger = Logger(tmp_path, tensorboard=False)
    with pytest.raises(
        ValueError,
        match=re.escape(f"expected a namespaced metric key like 'train/loss', got {key!r}"),
    ):
        logger.log({"train/ok": 1.0, key: 1.0}, env_steps=1)
    assert read_rows(logger.csv_path) == [["env_steps", "time_s"]]  # nothing was written


def test_metric_values_must_be_numbers(tmp_path):
    logger = Logger(tmp_path, tensorboard=False)
    with pytest.raises(TypeError, match="expected a number for metric 'train/loss', got 'abc'"):
        logger.log({"train/loss": "abc"}, env_steps=1)  # type: ignore[dict-item]
    logger.log({"train/loss": np.float32(0.25), "time/sps": 7}, env_steps=2)
    assert read_progress(tmp_path)["train/loss"] == [0.25]


def test_config_json_is_written(tmp_path):
    config = RunConfig(seed=3, learning_rate=0.5)
    Logger(tmp_path / "run", config=config, tensorboard=False).close()
    assert load_config(RunConfig, tmp_path / "run" / "config.json") == config


def test_read_progress_of_a_run_that_logged_nothing(tmp_path):
    Logger(tmp_path, tensorboard=False).close()
    assert read_progress(tmp_path) == {}
    with pytest.raises(FileNotFoundError, match="expected a progress.csv in"):
        read_progress(tmp_path / "missing")


def test_the_progress_bar_ends_full_when_the_count_passes_its_total(tmp_path, capsys):
    # The last batch of a run overshoots total_steps; tqdm alone then prints "120step".
    logger = Logger(tmp_path, tensorboard=False)
    with logger.progress(100) as bar:
        bar.update(60)
        bar.update(60)
    last = capsys.readouterr().err.replace("\r", "\n").split("\n")
    last = [line for line in last if line.strip()][-1]
    assert re.match(r"env steps: 100%\|█+\| 120/120 \[", last), last
    assert "step/s" in last


def test_the_progress_bar_counts_in_its_unit(tmp_path, capsys):
    with Logger(tmp_path, tensorboard=False).progress(2, "iterations", unit="iteration") as bar:
        bar.update(2)
    text = capsys.readouterr().err
    assert "2/2" in text and "iteration/s" in text and "step" not in text


def test_a_resumed_logger_keeps_the_rows_up_to_its_checkpoint(tmp_path):
    run = tmp_path / "run"
    with Logger(run, tensorboard=False) as logger:
        logger.log({"eval/return_mean": 1.0}, env_steps=0)
        logger.log({"train/loss": 0.5}, env_steps=100)
        logger._start -= 7.0  # as if the run had trained for 7 s more
        logger.log({"train/loss": 0.4, "eval/return_mean": 3.0}, env_steps=200)
        logger.log({"train/loss": 0.3}, env_steps=300)  # after the checkpoint: dropped

    with Logger(run, tensorboard=False, resume_at=200) as resumed:
        logged = read_progress(run)
        assert logged["env_steps"] == [0.0, 100.0, 200.0]
        assert logged["train/loss"][1:] == [0.5, 0.4] and math.isnan(logged["train/loss"][0])
        assert logged["eval/return_mean"][0] == 1.0 and math.isnan(logged["eval/return_mean"][1])
        resumed.log({"train/loss": 0.2}, env_steps=300)
    rows = read_rows(run / "progress.csv")
    assert rows[0] == ["env_steps", "time_s", "eval/return_mean", "train/loss"]
    assert [row[0] for row in rows[1:]] == ["0", "100", "200", "300"]
    assert rows[4][2:] == ["", "0.2"]
    # time_s goes on from the last row kept
    assert float(rows[4][1]) >= float(rows[3][1]) >= 7.0

    Logger(run, tensorboard=False).close()  # not resumed: a fresh progress.csv
    assert read_rows(run / "progress.csv") == [["env_steps", "time_s"]]


def test_a_run_that_counts_gradient_steps_names_its_step_column_so(tmp_path):
    run = tmp_path / "run"
    with Logger(run, tensorboard=False, step_key="grad_steps") as logger:
        logger.log({"train/loss": 0.5}, env_steps=10)
        logger.log({"train/loss": 0.4}, env_steps=20)
    with Logger(run, tensorboard=False, resume_at=10, step_key="grad_steps") as resumed:
        resumed.log({"train/loss": 0.3}, env_steps=30)
    assert read_rows(run / "progress.csv") == [
        ["grad_steps", "time_s", "train/loss"],
        ["10", rows_time(run, 1), "0.5"],
        ["30", rows_time(run, 2), "0.3"],
    ]
    with pytest.raises(ValueError, match="columns env_steps, time_s .* got columns grad_steps"):
        Logger(run, tensorboard=False, resume_at=10)  # an env_steps run cannot resume it


def rows_time(run: Path, row: int) -> str:
    return read_rows(run / "progress.csv")[row][1]


def test_a_logger_resumed_without_a_progress_file_starts_one(tmp_path):
    with Logger(tmp_path / "run", tensorboard=False, resume_at=500) as logger:
        logger.log({"train/loss": 1.0}, env_steps=600)
    assert read_progress(tmp_path / "run")["env_steps"] == [600.0]


def test_resuming_a_file_that_is_not_a_progress_file_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "progress.csv").write_text("step,loss\n1,2\n")
    with pytest.raises(ValueError, match="expected a progress.csv with columns env_steps, time_s"):
        Logger(tmp_path / "run", tensorboard=False, resume_at=10)


def test_tensorboard_event_file(tmp_path):
    with Logger(tmp_path / "run", tensorboard=True) as logger:
        logger.log({"train/loss": 1.0, "eval/return_mean": float("nan")}, env_steps=10)
    events = list((tmp_path / "run" / "tb").glob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].stat().st_size > 0
    assert read_progress(tmp_path / "run")["train/loss"] == [1.0]


# -------------------------------------------------------------------------------------- plot


@pytest.fixture
def runs(tmp_path) -> Path:
    """``runs/x_seed0`` and ``runs/x_seed1`` (one group), and ``runs/y`` (another)."""
    root = tmp_path / "runs"
    write_run(
        root / "x_seed0",
        [{"eval/return_mean": 0.0}, {"eval/return_mean": 2.0}, {"train/loss": 1.0}],
    )
    write_run(root / "x_seed1", [{"eval/return_mean": 2.0}, {"eval/return_mean": 4.0}])
    write_run(root / "y", [{"eval/return_mean": 5.0}])
    return root


def test_seed_folders_form_one_group(runs):
    found = find_runs([runs])
    assert [p.name for p in found] == ["x_seed0", "x_seed1", "y"]
    groups = group_runs(found)
    assert {k: [p.name for p in v] for k, v in groups.items()} == {
        "x": ["x_seed0", "x_seed1"],
        "y": ["y"],
    }
    # a run folder given directly counts as itself
    assert find_runs([runs / "y"]) == [runs / "y"]


@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("cartpole_rtg_seed12", "cartpole_rtg"),
        ("a-seed-3", "a"),
        ("seed4", "seed4"),
        ("lr_1e-3", "lr_1e-3"),
    ],
)
def test_seed_suffix_is_dropped(name, group):
    assert list(group_runs([Path("/runs") / name])) == [group]


def test_curve_keeps_the_rows_where_the_key_was_logged(runs):
    x, y = curve(runs / "x_seed0", "eval/return_mean", "env_steps")
    np.testing.assert_array_equal(x, [100.0, 200.0])
    np.testing.assert_array_equal(y, [0.0, 2.0])


def test_mean_band_on_the_same_x_values():
    x = np.array([0.0, 1.0, 2.0])
    grid, mean, low, high = mean_band(
        [(x, np.array([0.0, 2.0, 4.0])), (x, np.array([2.0, 4.0, 6.0])), (x, np.ones(3))]
    )
    np.testing.assert_allclose(grid, [0.0, 1.0, 2.0])
    np.testing.assert_allclose(mean, [1.0, 7 / 3, 11 / 3])
    np.testing.assert_allclose(low, [0.0, 1.0, 1.0])
    np.testing.assert_allclose(high, [2.0, 4.0, 6.0])


def test_the_curve_ends_with_every_seeds_last_evaluation():
    # The second seed's last batch ends one step later: its final evaluation (42) is at x=21.
    first = (np.array([0.0, 10.0, 20.0]), np.array([0.0, 10.0, 20.0]))
    second = (np.array([0.0, 10.0, 21.0]), np.array([0.0, 20.0, 42.0]))
    grid, mean, low, high = mean_band([first, second])
    np.testing.assert_allclose(grid, [0.0, 10.0, 20.0, 21.0])
    # x=20: the second seed interpolated, 20 + 22 * 10/11 = 40; x=21: the first held at 20
    np.testing.assert_allclose(mean, [0.0, 15.0, 30.0, 31.0])
    np.testing.assert_allclose(low, [0.0, 10.0, 20.0, 20.0])
    np.testing.assert_allclose(high, [0.0, 20.0, 40.0, 42.0])


def test_a_run_that_stopped_early_is_not_held_to_the_end():
    finished = (np.array([0.0, 10.0, 20.0, 30.0]), np.array([0.0, 1.0, 2.0, 3.0]))
    stopped = (np.array([0.0, 10.0]), np.array([5.0, 7.0]))  # held for one gap, to x=20
    grid, values = align([finished, stopped])
    np.testing.assert_allclose(grid, [0.0, 10.0, 20.0, 30.0])
    np.testing.assert_allclose(values, [[0.0, 1.0, 2.0, 3.0], [5.0, 7.0, 7.0, np.nan]])
    _, mean, low, high = mean_band([finished, stopped])
    np.testing.assert_allclose(mean, [2.5, 4.0, 4.5, 3.0])  # at x=30: the finished run alone
    assert low[-1] == high[-1] == 3.0


def test_the_band_stays_within_what_the_seeds_reached():
    # CartPole's returns end at 500: mean + std would be 525 here (the old figure's band).
    x = np.array([0.0, 1.0])
    curves = [(x, np.array([9.0, 500.0])), (x, np.array([9.0, 500.0])), (x, np.array([9.0, 447.0]))]
    grid, mean, low, high = mean_band(curves)
    assert high.max() == 500.0 and low.min() == 9.0
    np.testing.assert_allclose(mean, [9.0, 1447 / 3])


def test_the_legend_says_what_the_band_is(runs, tmp_path, monkeypatch):
    figures: list[matplotlib.figure.Figure] = []
    monkeypatch.setattr(plot.plt, "close", figures.append)  # keep the figure to read it
    plot_runs([runs], tmp_path / "out.png")
    labels = [text.get_text() for text in figures[0].axes[0].get_legend().get_texts()]
    assert labels == ["x (mean of 2 seeds, band min–max)", "y (1 seed)"]


def test_main_writes_a_png(runs, tmp_path, capsys):
    out = tmp_path / "plots" / "curves.png"
    main([str(runs), "--out", str(out), "--target", "3", "--title", "test"])
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000
    assert f"wrote {out}" in capsys.readouterr().out


def test_missing_run_folder(tmp_path, capsys):
    with pytest.raises(
        FileNotFoundError,
        match=re.escape(f"expected a run folder, got {tmp_path / 'nope'} (no such folder)"),
    ):
        plot_runs([tmp_path / "nope"], tmp_path / "out.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as exited:
        main([str(tmp_path / "empty"), "--out", str(tmp_path / "out.png")])
    assert exited.value.code == 2
    assert (
        f"error: expected run folders with a progress.csv in {tmp_path / 'empty'}, found none"
        in capsys.readouterr().err
    )
    assert not (tmp_path / "out.png").exists()


def test_a_run_stopped_before_its_first_evaluation_is_an_error_not_a_traceback(tmp_path, capsys):
    run = tmp_path / "stopped_seed0"
    run.mkdir()
    (run / "progress.csv").write_text("env_steps,train/loss,eval/return_mean\n0,1.0,\n")
    with pytest.raises(SystemExit) as exited:
        main([str(run), "--out", str(tmp_path / "out.png")])
    assert exited.value.code == 2
    assert (
        "error: expected a value of 'eval/return_mean' in at least one run, got none in "
        f"{run} (a run writes it at each evaluation: did it stop before its first?)"
    ) in capsys.readouterr().err
    (run / "progress.csv").write_text("env_steps,train/loss\n0,1.0\n")
    with pytest.raises(SystemExit):
        main([str(run), "--out", str(tmp_path / "out.png")])
    assert "has no column 'eval/return_mean'; it has ['env_steps', 'train/loss']" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "out.png").exists()


def test_missing_column_lists_the_columns(runs, tmp_path):
    message = (
        "progress.csv has no column 'eval/return_max'; it has "
        "['env_steps', 'eval/return_mean', 'time_s', 'train/loss']"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        plot_runs([runs / "x_seed0"], tmp_path / "out.png", key="eval/return_max")


def test_missing_x_column_lists_the_columns(runs):
    with pytest.raises(ValueError, match=re.escape("has no column 'steps'; it has ['env_steps'")):
        curve(runs / "x_seed0", "eval/return_mean", x_key="steps")

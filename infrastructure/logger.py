"""One logger for every homework: ``RUN_DIR/progress.csv`` always, TensorBoard when installed.

Metric keys are namespaced, ``section/name``: ``train/loss_policy``, ``eval/return_mean``,
``time/sps``. Each row also holds the run's step (``env_steps``, environment steps taken so far,
unless the run counts another step, such as ``grad_steps`` offline) and
``time_s`` (seconds since the logger was made), which the plots use as x-axes.
"""

from __future__ import annotations

import csv
import io
import math
import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from infrastructure.config import save_config

_KEY = re.compile(r"^[a-z0-9_]+/[a-z0-9_./-]+$")


class Logger:
    """Writes metrics of a run to ``run_dir``.

    A run resumed from a checkpoint passes ``resume_at``, the steps of the checkpoint: the rows
    ``progress.csv`` holds up to that step are kept (those logged after it belong to training
    the checkpoint does not have, and are logged again), and ``time_s`` goes on from the last
    row kept. Otherwise ``progress.csv`` starts afresh.

    Args:
        run_dir: the run's folder; made if missing.
        config: a config dataclass, saved as ``run_dir/config.json``.
        tensorboard: also write TensorBoard event files when ``tensorboard`` is installed.
        resume_at: keep the rows logged at ``step <= resume_at``; None keeps none.
        step_key: the name of the step column, what the run counts (``env_steps``; an offline
            run counts ``grad_steps``).
    """

    def __init__(
        self,
        run_dir: str | Path,
        config: Any = None,
        tensorboard: bool = True,
        *,
        resume_at: int | None = None,
        step_key: str = "env_steps",
    ):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = self.run_dir / "progress.csv"
        self._start = time.perf_counter()
        self.step_key = step_key
        self._reserved = (step_key, "time_s")
        self._columns: list[str] = list(self._reserved)
        self._rows: list[dict[str, float]] = []
        if resume_at is not None and self.csv_path.is_file():
            self._keep_rows(read_progress(self.run_dir), resume_at)
        self._rewrite()
        if config is not None:
            save_config(config, self.run_dir / "config.json")
        self._writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # TensorBoard is optional
                pass
            else:
                self._writer = SummaryWriter(log_dir=str(self.run_dir / "tb"))

    def _keep_rows(self, columns: dict[str, list[float]], until: int) -> None:
        """Start from the rows of ``columns`` (as :func:`read_progress` reads them) logged at
        ``step <= until``, with their empty cells left empty."""
        if not columns:
            return
        missing = [key for key in self._reserved if key not in columns]
        if missing:
            raise ValueError(
                f"expected a progress.csv with columns {', '.join(self._reserved)} in "
                f"{self.run_dir} to resume, got columns {', '.join(columns)}"
            )
        rows = [
            dict(zip(columns, values, strict=True))
            for values in zip(*columns.values(), strict=True)
        ]
        self._columns = list(columns)
        self._rows = [
            {key: value for key, value in row.items() if not math.isnan(value)}
            | {self.step_key: int(row[self.step_key])}  # written as the integer it was logged as
            for row in rows
            if row[self.step_key] <= until
        ]
        if self._rows:
            self._start -= self._rows[-1]["time_s"]

    def log(self, metrics: dict[str, float], env_steps: int) -> None:
        """Write one row: ``metrics`` measured after ``env_steps`` steps of the run's clock
        (environment steps, unless ``step_key`` names another)."""
        row: dict[str, float] = {
            self.step_key: env_steps,
            "time_s": round(time.perf_counter() - self._start, 3),
        }
        for key, value in metrics.items():
            if not _KEY.match(key):
                raise ValueError(f"expected a namespaced metric key like 'train/loss', got {key!r}")
            try:
                row[key] = float(value)
            except (TypeError, ValueError):
                raise TypeError(f"expected a number for metric {key!r}, got {value!r}") from None
        self._rows.append(row)
        new = [k for k in row if k not in self._columns]
        if new:
            self._columns += new
            self._rewrite()
        else:
            with self.csv_path.open("a", newline="") as f:
                f.write(self._format([row]))
        if self._writer is not None:
            for key, value in row.items():
                if key not in self._reserved and math.isfinite(value):
                    self._writer.add_scalar(key, value, env_steps)
            self._writer.flush()

    def _format(self, rows: Iterable[dict[str, float]], header: bool = False) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self._columns, restval="", lineterminator="\n")
        if header:
            writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue()

    def _rewrite(self) -> None:
        """Write the whole file again under a wider header (atomically)."""
        tmp = self.csv_path.with_suffix(".csv.tmp")
        tmp.write_text(self._format(self._rows, header=True))
        tmp.replace(self.csv_path)

    def progress(
        self, total: int, desc: str = "env steps", unit: str = "step", disable: bool = False
    ) -> tqdm:
        """A progress bar over ``total`` units of what the run's main loop counts (``unit``:
        ``step``, ``iteration``); a loop that ends past ``total`` (the last batch of
        environment steps overshoots it) ends on a full bar showing the count it reached."""
        return _Progress(
            total=total, desc=desc, unit=unit, dynamic_ncols=True, smoothing=0.05, disable=disable
        )

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def __enter__(self) -> Logger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Progress(tqdm):
    """A progress bar whose total grows to the count when the count passes it: tqdm draws a
    count past its total with no bar and no total at all (``50560step``)."""

    total: float | None
    n: float

    def update(self, n: float | None = 1) -> bool | None:
        if self.total is not None and n is not None and self.n + n > self.total:
            self.total = self.n + n
        return super().update(n)


def read_progress(run_dir: str | Path) -> dict[str, list[float]]:
    """The columns of ``run_dir/progress.csv`` as lists of floats (``nan`` where empty)."""
    path = Path(run_dir) / "progress.csv"
    if not path.is_file():
        raise FileNotFoundError(f"expected a progress.csv in {run_dir}, found none")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    return {
        key: [float(r[key]) if r[key] not in ("", None) else math.nan for r in rows]
        for key in rows[0]
    }


def print_final(
    result: Mapping[str, float], episodes: int, logdir: str, note: str = "", plot_options: str = ""
) -> None:
    """What a training command prints at its end: the last evaluation's ``return_mean`` and
    ``return_std`` over ``episodes`` episodes (then ``note``), and how to plot its logs."""
    print(
        f"final evaluation: return {result['return_mean']:.1f} ± {result['return_std']:.1f} "
        f"over {episodes} episodes{note}"
    )
    print(
        f"logs: {logdir}/progress.csv   plot: python -m infrastructure.plot {logdir}{plot_options}"
    )

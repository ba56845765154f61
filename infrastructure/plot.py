"""Learning curves: ``python -m infrastructure.plot RUN_DIR... --out curves.png``.

Runs whose folder names differ only by a trailing seed (``cartpole_rtg_seed0``,
``cartpole_rtg_seed1``) are one curve: the mean over seeds, with a band from the lowest to the
highest seed, so the band never leaves the values the runs reached (a band of one standard
deviation over three seeds goes past the highest possible return). A folder that holds run
folders stands for all of them.

Seeds evaluate at slightly different steps (a batch ends with its last episode): see
:func:`align` for how their curves are put on common x-values.
"""

from __future__ import annotations

import argparse
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from infrastructure.logger import read_progress  # noqa: E402

_SEED_SUFFIX = re.compile(r"[_-]?seed[_-]?\d+$")


def find_runs(paths: Sequence[str | Path]) -> list[Path]:
    """Run folders (those with a ``progress.csv``) named by ``paths`` or found inside them."""
    runs: list[Path] = []
    for path in map(Path, paths):
        if (path / "progress.csv").is_file():
            runs.append(path)
        elif path.is_dir():
            inside = sorted(p.parent for p in path.glob("**/progress.csv"))
            if not inside:
                raise FileNotFoundError(
                    f"expected run folders with a progress.csv in {path}, found none"
                )
            runs += inside
        else:
            raise FileNotFoundError(f"expected a run folder, got {path} (no such folder)")
    return runs


def group_runs(runs: Sequence[Path]) -> dict[str, list[Path]]:
    """Runs grouped by folder name less its seed suffix."""
    groups: dict[str, list[Path]] = defaultdict(list)
    for run in runs:
        groups[_SEED_SUFFIX.sub("", run.name) or run.name].append(run)
    return dict(groups)


def curve(run: Path, key: str, x_key: str) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``run`` where ``key`` was logged, as ``(x, y)`` arrays."""
    columns = read_progress(run)
    for name in (key, x_key):
        if name not in columns:
            raise ValueError(f"{run}/progress.csv has no column {name!r}; it has {sorted(columns)}")
    x, y = np.asarray(columns[x_key]), np.asarray(columns[key])
    keep = ~np.isnan(y)
    return x[keep], y[keep]


def align(curves: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The curves ``(x, y)`` of several seeds on common x-values.

    The grid is every x at which some curve has a value. Each curve is linearly interpolated
    between its own points and held at its first and last value for at most its longest gap
    between two points: seeds of one configuration evaluate on the same schedule a little
    apart and stop within one batch of the same budget, so every seed's last evaluation is
    part of the curve's last point. A curve that stops earlier than that (a shorter or
    unfinished run) has no value past it, and the mean there is over the seeds that do.

    Returns:
        ``grid`` of shape ``(n,)`` and ``values`` of shape ``(len(curves), n)``, ``nan`` where a
        curve has no value.
    """
    grid = np.unique(np.concatenate([x for x, _ in curves]))
    values = np.full((len(curves), len(grid)), np.nan)
    for row, (x, y) in zip(values, curves, strict=True):
        reach = float(np.max(np.diff(x))) if len(x) > 1 else 0.0
        inside = (grid >= x[0] - reach) & (grid <= x[-1] + reach)
        row[inside] = np.interp(grid[inside], x, y)
    return grid, values


def mean_band(
    curves: Sequence[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The curves of several seeds (:func:`align`) summed up at each x of the grid: ``(grid,
    mean, low, high)``, all of shape ``(n,)``, ``low`` and ``high`` the lowest and highest
    seed."""
    grid, values = align(curves)
    return grid, np.nanmean(values, axis=0), np.nanmin(values, axis=0), np.nanmax(values, axis=0)


def plot_runs(
    paths: Sequence[str | Path],
    out: str | Path,
    key: str = "eval/return_mean",
    x_key: str = "env_steps",
    title: str | None = None,
    target: float | None = None,
) -> Path:
    """Draw one learning curve per group of runs to the PNG file ``out``."""
    groups = group_runs(find_runs(paths))
    drawn = {
        label: curves
        for label, runs in sorted(groups.items())
        if (curves := [c for c in (curve(run, key, x_key) for run in runs) if len(c[0])])
    }
    if not drawn:
        names = ", ".join(str(run) for runs in groups.values() for run in runs)
        raise ValueError(
            f"expected a value of {key!r} in at least one run, got none in {names} (a run "
            "writes it at each evaluation: did it stop before its first?)"
        )
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for label, curves in drawn.items():
        grid, mean, low, high = mean_band(curves)
        seeds = f"mean of {len(curves)} seeds, band min–max" if len(curves) > 1 else "1 seed"
        (line,) = ax.plot(grid, mean, label=f"{label} ({seeds})")
        if len(curves) > 1:
            ax.fill_between(grid, low, high, alpha=0.2, color=line.get_color())
    if target is not None and math.isfinite(target):
        ax.axhline(target, color="grey", linestyle="--", linewidth=1, label=f"target {target:g}")
    ax.set_xlabel(x_key)
    ax.set_ylabel(key)
    ax.set_title(title or key)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m infrastructure.plot",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("runs", nargs="+", help="run folders, or folders that hold run folders")
    parser.add_argument("--out", default="curves.png", help="PNG file to write")
    parser.add_argument("--key", default="eval/return_mean", help="column to plot")
    parser.add_argument("--x", default="env_steps", help="column for the x-axis (or time_s)")
    parser.add_argument("--title", default=None, help="figure title (default: the key)")
    parser.add_argument("--target", type=float, default=None, help="draw a dashed target line")
    args = parser.parse_args(argv)
    try:
        out = plot_runs(
            args.runs, args.out, key=args.key, x_key=args.x, title=args.title, target=args.target
        )
    except (FileNotFoundError, ValueError) as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

"""Returns of hw5's offline agents and of fine-tuning from their presets: the numbers in the
comments above ``OFFLINE_PRESETS`` and ``FINETUNE_PRESETS`` in ``hw5_offline/config.py`` and in
the handout's results.

    python bench/hw5_offline_runs.py [--env PointmassEasy-v0]
                                     [--algorithms dqn cql awac iql finetune] [--seeds 0]
                                     [--logdir runs/bench_hw5_offline] [--summarize]

For each command and seed, one run of ``python -m hw5_offline.run COMMAND --env ENV --seed S
--logdir LOGDIR/COMMAND_ENV_seedS`` (the plain preset command, so with the preset's dataset,
made first where it is missing; ``finetune`` is the maze's fine-tuning preset, CQL), one after
the other, printing its wall and CPU seconds (the CPU time of this process, which is the run's
alone: the runs take one thread, and on a loaded machine their wall time counts the waits for
a core); then, for every run, the mean evaluation return (``eval/return_mean``, 10 episodes
unless the preset says otherwise) at each evaluation, the last one and the mean of the last
three, with the run's wall seconds. ``--summarize`` only reads the runs already in
``--logdir``. The returns are seeded (a rerun gives the same), the seconds depend on the machine
and its load.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from hw5_offline import run
from hw5_offline.config import ALGORITHMS
from hw5_offline.envs import ENVS
from infrastructure.logger import read_progress

COMMANDS = (*ALGORITHMS, "finetune")


def run_dir(logdir: Path, algorithm: str, env: str, seed: int) -> Path:
    return logdir / f"{algorithm}_{env}_seed{seed}"


def summarize(path: Path) -> str:
    """One line: the evaluations' returns over gradient steps, the last, and the run's time."""
    columns = read_progress(path)
    evaluations = [
        (int(step), value)
        for step, value in zip(columns[run.GRAD_STEPS], columns["eval/return_mean"], strict=True)
        if not math.isnan(value)
    ]
    last_three = [value for _, value in evaluations[-3:]]
    curve = " ".join(f"{value:.0f}" for _, value in evaluations)
    return (
        f"{path.name:<36} last {last_three[-1]:6.1f}  mean of the last 3 "
        f"{sum(last_three) / len(last_three):6.1f}  {columns['time_s'][-1]:4.0f} s  "
        f"curve ({evaluations[1][0] - evaluations[0][0]} steps apart): {curve}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--env", choices=ENVS, default="PointmassEasy-v0")
    parser.add_argument("--algorithms", nargs="+", choices=COMMANDS, default=list(ALGORITHMS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--logdir", type=Path, default=Path("runs/bench_hw5_offline"))
    parser.add_argument("--summarize", action="store_true", help="only read existing runs")
    args = parser.parse_args()

    for algorithm in args.algorithms:
        for seed in args.seeds:
            path = run_dir(args.logdir, algorithm, args.env, seed)
            if not args.summarize:
                started, cpu_started = time.perf_counter(), time.process_time()
                command = [algorithm, "--env", args.env, "--seed", str(seed)]
                run.main([*command, "--logdir", str(path)])
                print(
                    f"{path.name}: {time.perf_counter() - started:.0f} s, "
                    f"{time.process_time() - cpu_started:.0f} s of CPU",
                    flush=True,
                )
    for algorithm in args.algorithms:
        for seed in args.seeds:
            print(summarize(run_dir(args.logdir, algorithm, args.env, seed)))


if __name__ == "__main__":
    main()

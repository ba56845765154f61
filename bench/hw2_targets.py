"""The numbers and curves of the hw2 handout: each preset over several seeds.

    python bench/hw2_targets.py CartPole-v1 InvertedPendulum-v5 [--seeds 0 1 2] [--jobs 2]

Runs ``python -m hw2_policy_gradient.run --env ENV --seed S`` (the plain preset command) into
``runs/hw2_targets/<env>_seed<S>/``, then prints one row per run (final evaluation, steps,
wall time) and draws ``hw2_policy_gradient/figures/<env>.png``. Extra arguments after ``--``
go to every run (``-- --total-steps 20000``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hw2_policy_gradient.config import TARGETS
from infrastructure.logger import read_progress
from infrastructure.plot import plot_runs

ROOT = Path(__file__).resolve().parent.parent


def run_name(env: str, seed: int | None = None) -> str:
    """The run folder's name: ``cartpole_seed0``; without a seed, the prefix of all seeds."""
    prefix = env.split("-")[0].lower()
    return prefix if seed is None else f"{prefix}_seed{seed}"


def run(env: str, seed: int, out: Path, extra: list[str]) -> tuple[str, int, float]:
    logdir = out / run_name(env, seed)
    command = [
        sys.executable,
        "-m",
        "hw2_policy_gradient.run",
        "--env",
        env,
        "--seed",
        str(seed),
        "--logdir",
        str(logdir),
        *extra,
    ]
    start = time.perf_counter()
    subprocess.run(
        command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return env, seed, time.perf_counter() - start


def main() -> None:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(
        description=__doc__,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("envs", nargs="+")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2, help="runs at the same time")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "hw2_targets")
    parser.add_argument("--figures", type=Path, default=ROOT / "hw2_policy_gradient" / "figures")
    args = parser.parse_args(argv)

    jobs = [(env, seed) for env in args.envs for seed in args.seeds]
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda job: run(*job, args.out, extra), jobs))

    print(
        f"{'environment':<22}{'seed':>5}{'final eval':>12}{'env steps':>11}{'wall (s)':>10}  target"
    )
    for env, seed, seconds in results:
        rows = read_progress(args.out / run_name(env, seed))
        evals = [r for r in rows["eval/return_mean"] if r == r]
        target = TARGETS[env].return_mean if env in TARGETS else float("nan")
        print(
            f"{env:<22}{seed:>5}{evals[-1]:>12.1f}{rows['env_steps'][-1]:>11,.0f}"
            f"{seconds:>10.1f}  {'met' if evals[-1] >= target else 'missed'} ({target:g})"
        )
    for env in args.envs:
        prefix = run_name(env)
        runs = sorted(args.out.glob(f"{prefix}_seed*"))
        out = plot_runs(
            runs,
            args.figures / f"{prefix}.png",
            title=f"hw2 reference, {env}",
            target=TARGETS[env].return_mean if env in TARGETS else None,
        )
        print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    main()

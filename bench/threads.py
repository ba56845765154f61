"""How many PyTorch threads to use: wall time of the same hw2 training with 1 and 2 threads.

    python bench/threads.py [--steps 20000]

Small MLPs spend their time in per-operation overhead, not in arithmetic, so extra threads
only add synchronisation; this prints the numbers behind the default ``num_threads=1``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time

from hw2_policy_gradient.config import preset
from hw2_policy_gradient.run import train


def time_training(env: str, steps: int, threads: int) -> float:
    with tempfile.TemporaryDirectory() as logdir:
        config = dataclasses.replace(
            preset(env), total_steps=steps, num_threads=threads, logdir=logdir
        )
        start = time.perf_counter()
        train(config, progress=False)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--steps", type=int, default=20_000)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPU cores; hw2 reference, {args.steps} env steps, seed 0")
    print(f"{'environment':<22}{'1 thread (s)':>14}{'2 threads (s)':>15}{'speed-up':>10}")
    time_training("CartPole-v1", 2000, 1)  # warm-up: first-use imports are not the threads' cost
    for env in ("CartPole-v1", "HalfCheetah-v5"):
        two = time_training(env, args.steps, 2)
        one = time_training(env, args.steps, 1)
        print(f"{env:<22}{one:>14.1f}{two:>15.1f}{one / two:>10.2f}")


if __name__ == "__main__":
    main()

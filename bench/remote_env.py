"""What serving a learning check's environments from the grader costs per step.

Random play for ``--steps`` steps in each environment, timed inside a sandbox: once with the
environments served by the grader (as in a learning check, :mod:`autograder.remote_env`) and
once made locally in the worker::

    python bench/remote_env.py --steps 20000
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from autograder.sandbox import Sandbox, Success

ENVS = ("CartPole-v1", "InvertedPendulum-v5")
ROLLOUT = """
import time
from infrastructure.envs import make_env


def seconds_per_step(env_id, steps):
    env = make_env(env_id, 0)
    env.reset(seed=0)
    started = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    elapsed = time.perf_counter() - started
    env.close()
    return elapsed / steps
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "rollout.py").write_text(ROLLOUT)
        for served in (True, False):
            options = {"serve_envs": ENVS} if served else {}
            with Sandbox(folder, preload=("numpy",), timeout_s=600, **options) as sandbox:
                for env_id in ENVS:
                    result = sandbox.call("rollout", "seconds_per_step", (env_id, args.steps))
                    if not isinstance(result, Success):
                        raise SystemExit(f"{env_id}: {result}")
                    where = "served by the grader" if served else "local to the worker"
                    print(f"{env_id:22s} {where:22s} {result.value * 1e6:7.1f} us per step")


if __name__ == "__main__":
    main()

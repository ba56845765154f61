"""Wall time to the hw3 targets: the hw3 reference beside Stable-Baselines3.

    pip install -e ".[bench]" && python bench/hw3_vs_sb3.py [--tasks dqn sac] [--seeds 0 1 2]

Two tasks: DQN on CartPole-v1 to a mean return of 475 (within 50k steps) and SAC on
InvertedPendulum-v5 to 1000 (within 20k steps). Both sides run on one PyTorch thread and are
evaluated the same way: every 5000 (DQN) or 2000 (SAC) environment steps, 10 episodes with
the deterministic policy. "Time to target" is the wall time (training and evaluations, not
Python start-up) at the first evaluation that reaches the target. Stable-Baselines3 runs DQN
with the RL Zoo's tuned CartPole-v1 hyperparameters and SAC with its defaults (networks of
256 units), starting to learn after 1000 steps as the reference does.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import torch

from hw3_q_learning.config import DQN_PRESETS, SAC_PRESETS
from hw3_q_learning.run import train
from infrastructure.logger import read_progress

EVAL_EPISODES = 10


@dataclass(frozen=True)
class Task:
    algorithm: str
    env: str
    target: float
    total_steps: int
    eval_every: int


TASKS = {
    "dqn": Task("dqn", "CartPole-v1", 475.0, 50_000, 5000),
    "sac": Task("sac", "InvertedPendulum-v5", 1000.0, 20_000, 2000),
}

Result = tuple[float, float, float]  # steps to target, seconds to target, final evaluation


def ours(task: Task, seed: int) -> Result:
    """The hw3 preset of ``task``."""
    presets = DQN_PRESETS if task.algorithm == "dqn" else SAC_PRESETS
    with tempfile.TemporaryDirectory() as logdir:
        config = dataclasses.replace(
            presets[task.env],  # type: ignore[type-var]
            seed=seed,
            logdir=logdir,
            total_steps=task.total_steps,
            eval_every=task.eval_every,
            eval_episodes=EVAL_EPISODES,
            checkpoint_every=None,
        )
        final = train(config, progress=False)["return_mean"]
        rows = read_progress(logdir)
    for steps, seconds, ret in zip(
        rows["env_steps"], rows["time_s"], rows["eval/return_mean"], strict=True
    ):
        if not math.isnan(ret) and ret >= task.target:
            return steps, seconds, final
    return math.nan, math.nan, final


def sb3(task: Task, seed: int) -> Result:
    """Stable-Baselines3's DQN (RL Zoo settings) or SAC (defaults) on ``task``."""
    from stable_baselines3 import DQN, SAC
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    env = make_vec_env(task.env, n_envs=1, seed=seed)
    eval_env = make_vec_env(task.env, n_envs=1, seed=seed + 10_000)
    model: BaseAlgorithm
    if task.algorithm == "dqn":
        model = DQN(
            "MlpPolicy",
            env,
            learning_rate=2.3e-3,
            batch_size=64,
            buffer_size=100_000,
            learning_starts=1000,
            gamma=0.99,
            target_update_interval=10,
            train_freq=256,
            gradient_steps=128,
            exploration_fraction=0.16,
            exploration_final_eps=0.04,
            policy_kwargs={"net_arch": [256, 256]},
            seed=seed,
            device="cpu",
        )
    else:
        model = SAC("MlpPolicy", env, learning_starts=1000, seed=seed, device="cpu")

    class Evaluate(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.start = time.perf_counter()
            self.next_eval = task.eval_every
            self.hit: tuple[float, float] = (math.nan, math.nan)

        def _on_step(self) -> bool:
            if self.num_timesteps >= self.next_eval:
                self.next_eval += task.eval_every
                mean = cast(float, evaluate_policy(self.model, eval_env, EVAL_EPISODES)[0])
                if mean >= task.target and math.isnan(self.hit[0]):
                    self.hit = (self.num_timesteps, time.perf_counter() - self.start)
            return True

    callback = Evaluate()
    model.learn(total_timesteps=task.total_steps, callback=callback)
    final = cast(float, evaluate_policy(model, eval_env, EVAL_EPISODES)[0])
    return callback.hit[0], callback.hit[1], final


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    torch.set_num_threads(1)
    methods: tuple[tuple[str, Callable[[Task, int], Result]], ...] = (
        ("hw3 reference (preset)", ours),
        ("Stable-Baselines3", sb3),
    )
    for task in (TASKS[name] for name in args.tasks):
        print(f"{task.algorithm.upper()} on {task.env}, target {task.target:g}")
        print(f"{'method':<26}{'seed':>5}{'steps to target':>17}{'s to target':>13}{'final':>8}")
        medians = {}
        for name, run in methods:
            times = []
            for seed in args.seeds:
                steps, seconds, final = run(task, seed)
                times.append(seconds)
                print(f"{name:<26}{seed:>5}{steps:>17,.0f}{seconds:>13.1f}{final:>8.1f}")
            medians[name] = statistics.median(times)
        text = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in medians.items())
        print(f"median time to target: {text}\n")


if __name__ == "__main__":
    main()

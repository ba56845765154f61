"""Wall time to CartPole-v1 475: the hw2 reference beside Stable-Baselines3's PPO.

    pip install -e ".[bench]" && python bench/cartpole_vs_sb3.py [--seeds 0 1 2]

Both run on one PyTorch thread and are evaluated the same way: every ~10k environment steps,
10 episodes with the deterministic policy. "Time to 475" is the wall time (training and
evaluations, not Python start-up) at the first evaluation whose mean return is >= 475.
Stable-Baselines3 runs with the RL Zoo's tuned CartPole-v1 hyperparameters for PPO.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import tempfile
import time

import torch

from hw2_policy_gradient.config import preset
from hw2_policy_gradient.run import train
from infrastructure.logger import read_progress

TARGET = 475.0
EVAL_EVERY = 10_000
EVAL_EPISODES = 10


def ours(seed: int) -> tuple[float, float, float]:
    """(steps to target, seconds to target, final evaluation) of the hw2 preset."""
    with tempfile.TemporaryDirectory() as logdir:
        config = dataclasses.replace(
            preset("CartPole-v1"), seed=seed, logdir=logdir, eval_episodes=EVAL_EPISODES
        )
        final = train(config, progress=False)["return_mean"]
        rows = read_progress(logdir)
    for steps, seconds, ret in zip(
        rows["env_steps"], rows["time_s"], rows["eval/return_mean"], strict=True
    ):
        if not math.isnan(ret) and ret >= TARGET:
            return steps, seconds, final
    return math.nan, math.nan, final


def sb3_ppo(seed: int) -> tuple[float, float, float]:
    """(steps to target, seconds to target, final evaluation) of SB3's PPO, RL Zoo settings."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    n_envs = 8
    env = make_vec_env("CartPole-v1", n_envs=n_envs, seed=seed)
    eval_env = make_vec_env("CartPole-v1", n_envs=1, seed=seed + 10_000)

    def linear(start: float):  # the Zoo's lin_<x> schedules
        return lambda progress: progress * start

    model = PPO(
        "MlpPolicy",
        env,
        n_steps=32,
        batch_size=256,
        gae_lambda=0.8,
        gamma=0.98,
        n_epochs=20,
        ent_coef=0.0,
        learning_rate=linear(0.001),
        clip_range=linear(0.2),
        seed=seed,
        device="cpu",
        verbose=0,
    )

    class Evaluate(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.start = time.perf_counter()
            self.next_eval = EVAL_EVERY
            self.hit: tuple[float, float] = (math.nan, math.nan)

        def _on_step(self) -> bool:
            if self.num_timesteps >= self.next_eval:
                self.next_eval += EVAL_EVERY
                mean, _ = evaluate_policy(self.model, eval_env, EVAL_EPISODES, deterministic=True)
                if mean >= TARGET and math.isnan(self.hit[0]):
                    self.hit = (self.num_timesteps, time.perf_counter() - self.start)
            return True

    callback = Evaluate()
    model.learn(total_timesteps=100_000, callback=callback)
    final, _ = evaluate_policy(model, eval_env, EVAL_EPISODES, deterministic=True)
    return callback.hit[0], callback.hit[1], float(final)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'method':<28}{'seed':>5}{'steps to 475':>14}{'s to 475':>10}{'final':>8}")
    summary = {}
    for name, fn in (("hw2 reference (preset)", ours), ("SB3 PPO (RL Zoo settings)", sb3_ppo)):
        times = []
        for seed in args.seeds:
            steps, seconds, final = fn(seed)
            times.append(seconds)
            print(f"{name:<28}{seed:>5}{steps:>14,.0f}{seconds:>10.1f}{final:>8.1f}")
        summary[name] = statistics.median(times)
    (a, ta), (b, tb) = summary.items()
    print(f"median time to 475: {a} {ta:.1f} s, {b} {tb:.1f} s (ratio {ta / tb:.2f})")


if __name__ == "__main__":
    main()

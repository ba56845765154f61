"""Speed of the hw3 reference beside Stable-Baselines3, in two measurements.

    pip install -e ".[bench]" && python bench/hw3_vs_sb3.py [--tasks dqn sac] [--seeds 0 1 2]
    python bench/hw3_vs_sb3.py --throughput [--tasks dqn sac] [--repeats 3]

``--throughput``: both libraries train with the same hyperparameters (the hw3 preset's
networks, batch size, replay buffer, learning start, environment steps per gradient step, target
updates and exploration), one after the other in this process, for a fixed number of
environment steps without evaluations, ``--repeats`` times in turn; the table gives the median
environment steps per second of training (construction excluded), the ratio of the medians,
reference over Stable-Baselines3, and the ratio of each round.

Without it, wall time to the targets, each library with its own tuned settings. Two tasks: DQN
on CartPole-v1 to a mean return of 475 (within 50k steps) and SAC on InvertedPendulum-v5 to
1000 (within 20k steps). Both sides run on one PyTorch thread and are evaluated the same way:
every 5000 (DQN) or 2000 (SAC) environment steps, 10 episodes with the deterministic policy.
"Time to target" is the wall time (training and evaluations, not Python start-up) at the first
evaluation that reaches the target. Stable-Baselines3 runs DQN with the RL Zoo's tuned
CartPole-v1 hyperparameters and SAC with its defaults (networks of 256 units), starting to
learn after 1000 steps as the reference does.
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
from typing import Any, cast

import torch

from hw3_q_learning.config import DQN_PRESETS, SAC_PRESETS, DQNConfig, SACConfig
from hw3_q_learning.run import make_trainer, train
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


def preset_config(task: Task, seed: int, logdir: str, **changes: Any) -> DQNConfig | SACConfig:
    """The hw3 preset of ``task`` with ``seed``, ``logdir``, no checkpoints and ``changes``."""
    presets = DQN_PRESETS if task.algorithm == "dqn" else SAC_PRESETS
    return dataclasses.replace(
        presets[task.env],  # type: ignore[type-var]
        seed=seed,
        logdir=logdir,
        checkpoint_every=None,
        **changes,
    )


def ours(task: Task, seed: int) -> Result:
    """The hw3 preset of ``task``."""
    with tempfile.TemporaryDirectory() as logdir:
        config = preset_config(
            task,
            seed,
            logdir,
            total_steps=task.total_steps,
            eval_every=task.eval_every,
            eval_episodes=EVAL_EPISODES,
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


THROUGHPUT_STEPS = {"dqn": 20_000, "sac": 6000}


def throughput_ours(task: Task, seed: int) -> float:
    """Environment steps per second of the hw3 preset of ``task``, training only."""
    with tempfile.TemporaryDirectory() as logdir:
        trainer = make_trainer(preset_config(task, seed, logdir))
        start = time.perf_counter()
        while trainer.total_steps < THROUGHPUT_STEPS[task.algorithm]:
            trainer.step()
        return trainer.total_steps / (time.perf_counter() - start)


def throughput_sb3(task: Task, seed: int) -> float:
    """Environment steps per second of Stable-Baselines3 with the hw3 preset's
    hyperparameters, training only."""
    from stable_baselines3 import DQN, SAC
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env(task.env, n_envs=1, seed=seed)
    model: BaseAlgorithm
    if task.algorithm == "dqn":
        dqn = DQN_PRESETS[task.env]
        model = DQN(
            "MlpPolicy",
            env,
            learning_rate=dqn.learning_rate,
            batch_size=dqn.batch_size,
            buffer_size=dqn.buffer_size,
            learning_starts=dqn.learning_starts,
            gamma=dqn.gamma,
            # the reference counts gradient steps between target updates, SB3 environment steps
            target_update_interval=dqn.target_update_period
            * dqn.train_frequency
            // dqn.gradient_steps,
            train_freq=dqn.train_frequency,
            gradient_steps=dqn.gradient_steps,
            exploration_fraction=dqn.epsilon_decay_steps / THROUGHPUT_STEPS["dqn"],
            exploration_final_eps=dqn.epsilon_end,
            max_grad_norm=dqn.max_grad_norm or math.inf,
            policy_kwargs={"net_arch": [dqn.layer_size] * dqn.n_layers},
            seed=seed,
            device="cpu",
        )
    else:
        sac = SAC_PRESETS[task.env]
        model = SAC(
            "MlpPolicy",
            env,
            learning_rate=sac.critic_learning_rate,
            batch_size=sac.batch_size,
            buffer_size=sac.buffer_size,
            learning_starts=sac.learning_starts,
            gamma=sac.gamma,
            tau=sac.tau,
            train_freq=sac.train_frequency,
            gradient_steps=sac.gradient_steps,
            policy_kwargs={"net_arch": [sac.layer_size] * sac.n_layers},
            seed=seed,
            device="cpu",
        )
    start = time.perf_counter()
    model.learn(total_timesteps=THROUGHPUT_STEPS[task.algorithm])
    return THROUGHPUT_STEPS[task.algorithm] / (time.perf_counter() - start)


def compare_throughput(tasks: list[Task], seed: int, repeats: int) -> None:
    """Run the two libraries in turn ``repeats`` times per task (a shared machine's speed
    drifts by some 10% from one minute to the next) and print each one's median, the ratio of
    the medians and the range of the ratios of the rounds."""
    print(f"{'task':<32}{'hw3 steps/s':>13}{'SB3 steps/s':>13}{'ratio':>8}  ratio per round")
    for task in tasks:
        rounds = [(throughput_ours(task, seed), throughput_sb3(task, seed)) for _ in range(repeats)]
        ours_sps = statistics.median(o for o, _ in rounds)
        sb3_sps = statistics.median(s for _, s in rounds)
        ratios = ", ".join(f"{o / s:.2f}" for o, s in rounds)
        what = f"{task.algorithm.upper()} {task.env}, {THROUGHPUT_STEPS[task.algorithm] // 1000}k"
        print(f"{what:<32}{ours_sps:>13.1f}{sb3_sps:>13.1f}{ours_sps / sb3_sps:>7.2f}x  {ratios}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--throughput",
        action="store_true",
        help="steps per second with the same hyperparameters (first seed only)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="with --throughput: rounds of both libraries per task, medians reported (default 3)",
    )
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats: expected a positive number, got {args.repeats}")
    torch.set_num_threads(1)
    if args.throughput:
        compare_throughput([TASKS[name] for name in args.tasks], args.seeds[0], args.repeats)
        return
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

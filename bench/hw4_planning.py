"""Milliseconds per planned action: the batched ensemble against a loop over its members.

    python bench/hw4_planning.py [--ensemble-size 5] [--num-sequences 1000] [--horizon 15]

One plan of random shooting on HalfCheetah-v5's sizes (observation 18, action 6), as MPC makes
at every environment step: N candidate sequences of H actions, scored under every member with
the environment's batched reward. No environment runs: the ensemble is untrained (its weights
do not change the cost) and the reward is ``hw4_model_based.envs.reward_fn``'s.

"batched" is the homework's :func:`hw4_model_based.planning.predicted_returns`: one batched
matrix product per layer for all E members. "per-member loop" computes the same returns with
E separate ``nn.Sequential`` MLPs (the same weights) called one after the other, each on its N
sequences; both give the same numbers, which the script checks.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import torch
from torch import nn

from hw4_model_based.envs import reward_fn
from hw4_model_based.models import DynamicsEnsemble
from hw4_model_based.planning import RewardFn, predicted_returns

OBS_DIM, ACTION_DIM = 18, 6  # HalfCheetah-v5 with its forward velocity appended


def member_mlps(ensemble: DynamicsEnsemble) -> list[nn.Sequential]:
    """The ensemble's members as E separate MLPs with copies of its weights."""
    members = []
    for e in range(ensemble.ensemble_size):
        layers: list[nn.Module] = []
        for weight, bias in zip(ensemble.weights, ensemble.biases, strict=True):
            linear = nn.Linear(weight.shape[1], weight.shape[2])
            with torch.no_grad():
                linear.weight.copy_(weight[e].T)
                linear.bias.copy_(bias[e, 0])
            layers += [linear, nn.ReLU()]
        members.append(nn.Sequential(*layers[:-1]))  # no activation after the last layer
    return members


def loop_returns(
    ensemble: DynamicsEnsemble,
    members: list[nn.Sequential],
    reward: RewardFn,
    observation: torch.Tensor,
    action_sequences: torch.Tensor,
) -> torch.Tensor:
    """:func:`predicted_returns` with a Python loop over the members."""
    num_sequences, horizon, _ = action_sequences.shape
    member_returns = []
    for member in members:
        states = observation.expand(num_sequences, -1)
        returns = torch.zeros(num_sequences)
        for t in range(horizon):
            actions = action_sequences[:, t]
            inputs = torch.cat(
                [
                    (states - ensemble.obs_mean) / ensemble.obs_std,
                    (actions - ensemble.action_mean) / ensemble.action_std,
                ],
                dim=-1,
            )
            next_states = states + ensemble.delta_mean + ensemble.delta_std * member(inputs)
            returns += reward(states, actions, next_states)
            states = next_states
        member_returns.append(returns)
    return torch.stack(member_returns).mean(dim=0)


def milliseconds(plan: Callable[[], torch.Tensor], repeats: int) -> float:
    """The median wall time of ``plan()`` over ``repeats`` calls, after one warm-up call."""
    plan()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        plan()
        times.append(time.perf_counter() - start)
    return 1000 * sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--ensemble-size", type=int, default=5)
    parser.add_argument("--num-sequences", type=int, default=1000)
    parser.add_argument("--horizon", type=int, default=15)
    parser.add_argument("--layer-size", type=int, default=250)
    parser.add_argument("--n-layers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    args = parser.parse_args()

    torch.manual_seed(0)
    ensemble = DynamicsEnsemble(
        OBS_DIM, ACTION_DIM, args.ensemble_size, args.n_layers, args.layer_size
    )
    members = member_mlps(ensemble)
    reward = reward_fn("HalfCheetah-v5")
    observation = torch.randn(OBS_DIM)
    shape = (args.num_sequences, args.horizon, ACTION_DIM)
    sequences = 2 * torch.rand(shape) - 1

    def batched() -> torch.Tensor:
        return predicted_returns(ensemble, reward, observation, sequences)

    def looped() -> torch.Tensor:
        return loop_returns(ensemble, members, reward, observation, sequences)

    with torch.no_grad():
        torch.testing.assert_close(batched(), looped(), rtol=1e-4, atol=1e-4)
        print(
            f"{os.cpu_count()} CPU cores; E={args.ensemble_size}, N={args.num_sequences}, "
            f"H={args.horizon}, MLPs {args.n_layers}x{args.layer_size}, "
            f"obs {OBS_DIM}, action {ACTION_DIM}; median of {args.repeats} plans"
        )
        print(f"{'threads':<9}{'batched (ms)':>14}{'per-member loop (ms)':>22}{'speed-up':>10}")
        for threads in args.threads:
            torch.set_num_threads(threads)
            fast = milliseconds(batched, args.repeats)
            slow = milliseconds(looped, args.repeats)
            print(f"{threads:<9}{fast:>14.1f}{slow:>22.1f}{slow / fast:>10.2f}")


if __name__ == "__main__":
    main()

"""Tests of MBPO's pieces (``hw4_model_based/mbpo.py``) on hand-made ensembles whose
predictions can be written down: each member of a linear ensemble with zero weights adds its own
constant to the state, so every model transition is known in advance."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from hw4_model_based.mbpo import (
    branch_rollouts,
    check_sac_implemented,
    load_sac,
    mixed_batch,
    model_rollouts,
    step_members,
)
from hw4_model_based.models import DynamicsEnsemble
from infrastructure.replay_buffer import ReplayBuffer


def constant_steps(*steps: float, obs_dim: int = 1, action_dim: int = 1) -> DynamicsEnsemble:
    """An ensemble whose member ``e`` predicts ``s' = s + steps[e]`` whatever the action (no
    hidden layer, zero weights, the bias ``steps[e]``; the statistics are 0 and 1)."""
    ensemble = DynamicsEnsemble(obs_dim, action_dim, len(steps), n_layers=0, size=1)
    with torch.no_grad():
        ensemble.weights[0].zero_()
        for member, step in enumerate(steps):
            ensemble.biases[0][member].fill_(step)
    return ensemble


def halve(observations: torch.Tensor) -> torch.Tensor:
    """A stand-in for the actor: actions that can be told apart, a function of the state."""
    return observations[:, :1] / 2


def reward_of(obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    return 100 * next_obs[..., 0] + 10 * obs[..., 0] + action[..., 0]


def never(obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    return torch.zeros(next_obs.shape[:-1], dtype=torch.bool)


def at_least(threshold: float):
    def terminated(obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        return next_obs[..., 0] >= threshold

    return terminated


def test_each_row_steps_under_its_own_member():
    ensemble = constant_steps(1.0, 2.0, 3.0, obs_dim=2)
    observations = torch.tensor([[0.0, 0.0], [10.0, 10.0], [20.0, 20.0], [30.0, 30.0]])
    members = torch.tensor([2, 0, 1, 2])
    next_observations = step_members(ensemble, observations, torch.zeros(4, 1), members)
    expected = torch.tensor([[3.0, 3.0], [11.0, 11.0], [22.0, 22.0], [33.0, 33.0]])
    torch.testing.assert_close(next_observations, expected)


def test_rollouts_chain_model_steps_with_the_actors_actions_and_rewards():
    ensemble = constant_steps(1.0, 2.0)
    starts = torch.tensor([[0.0], [10.0], [20.0]])
    rollouts = model_rollouts(
        ensemble, halve, reward_of, never, starts, 4, torch.Generator().manual_seed(0)
    )
    assert len(rollouts["rewards"]) == 12  # 3 rollouts of 4 steps, none terminates
    observations, next_observations = rollouts["observations"], rollouts["next_observations"]
    torch.testing.assert_close(observations[:3], starts)  # step 0 branches from the starts
    # step t + 1 goes on from the states step t reached, rollout by rollout
    torch.testing.assert_close(observations[3:], next_observations[:-3])
    torch.testing.assert_close(rollouts["actions"], observations / 2)
    expected_rewards = reward_of(observations, rollouts["actions"], next_observations)
    torch.testing.assert_close(rollouts["rewards"], expected_rewards)
    assert not rollouts["terminated"].any()


def test_a_member_is_drawn_per_rollout_per_step_with_the_generator():
    ensemble = constant_steps(1.0, 2.0, 3.0)
    starts = torch.zeros(50, 1)
    rollouts = model_rollouts(
        ensemble, halve, reward_of, never, starts, 3, torch.Generator().manual_seed(7)
    )
    steps_taken = (rollouts["next_observations"] - rollouts["observations"])[:, 0]
    replay = torch.Generator().manual_seed(7)
    members = torch.cat([torch.randint(3, (50,), generator=replay) for _ in range(3)])
    torch.testing.assert_close(steps_taken, (members + 1).float())
    # the member changes along a rollout: one draw per rollout for all steps would not
    per_rollout = steps_taken.reshape(3, 50)
    assert (per_rollout != per_rollout[0]).any(dim=0).float().mean() > 0.5


def test_a_rollout_stops_at_its_terminal_transition():
    # each step adds 1; a next state >= 8 is terminal. From 0: 1..5, never terminal (5 steps).
    # From 3: 4..8, terminal at the 5th. From 6: 7, 8, terminal at the 2nd.
    ensemble = constant_steps(1.0)
    starts = torch.tensor([[0.0], [3.0], [6.0]])
    rollouts = model_rollouts(
        ensemble, halve, reward_of, at_least(8.0), starts, 5, torch.Generator().manual_seed(0)
    )
    expected_next = [1, 4, 7, 2, 5, 8, 3, 6, 4, 7, 5, 8]  # step by step, finished rollouts gone
    assert rollouts["next_observations"][:, 0].tolist() == expected_next
    expected_terminal = [next_state >= 8 for next_state in expected_next]
    assert rollouts["terminated"].tolist() == expected_terminal
    assert rollouts["terminated"].dtype == torch.bool


def test_rollouts_of_length_zero_or_from_terminal_starts_give_what_they_should():
    ensemble = constant_steps(1.0)
    generator = torch.Generator().manual_seed(0)
    none = model_rollouts(ensemble, halve, reward_of, never, torch.zeros(4, 1), 0, generator)
    assert all(len(values) == 0 for values in none.values())
    # every rollout ends at its first step: one transition each, and no second step
    one = model_rollouts(ensemble, halve, reward_of, at_least(0.0), torch.zeros(4, 1), 3, generator)
    assert len(one["rewards"]) == 4 and one["terminated"].all()


def filled_buffer(observations: np.ndarray, seed: int = 0) -> ReplayBuffer:
    buffer = ReplayBuffer(1000, seed=seed)
    n = len(observations)
    buffer.add(observations, np.zeros((n, 1)), np.zeros(n), observations + 1, np.zeros(n, bool))
    return buffer


def test_rollouts_branch_from_real_states_into_the_model_buffer():
    real = filled_buffer(np.arange(100.0)[:, None])  # states 0, 1, ..., 99
    model = filled_buffer(np.full((30, 1), -5.0), seed=1)  # older model data, never a start
    rollouts = branch_rollouts(
        real,
        model,
        constant_steps(0.25),
        halve,
        reward_of,
        never,
        num_rollouts=40,
        rollout_length=3,
        generator=torch.Generator().manual_seed(0),
    )
    starts = rollouts["observations"][:40, 0]
    assert torch.isin(starts, torch.arange(100.0)).all()  # each one a state of the real buffer
    assert len(torch.unique(starts)) > 20  # drawn across the buffer, not one state repeated
    assert len(model) == 30 + 120  # every model transition was added
    stored = model.state_dict()
    np.testing.assert_allclose(stored["data.observations"][30:], rollouts["observations"])
    np.testing.assert_allclose(stored["data.rewards"][30:], rollouts["rewards"])


def test_a_mixed_batch_takes_its_share_from_each_buffer_real_first():
    real = filled_buffer(np.ones((50, 1)))
    model = filled_buffer(np.full((50, 1), 2.0), seed=1)
    batch = mixed_batch(real, model, batch_size=20, real_ratio=0.25)
    assert batch["observations"][:, 0].tolist() == [1.0] * 5 + [2.0] * 15
    assert set(batch) == {"observations", "actions", "rewards", "next_observations", "terminated"}
    assert all(len(values) == 20 for values in batch.values())
    batch = mixed_batch(real, model, batch_size=256, real_ratio=0.05)  # MBPO's 5%: 12.8 real
    assert (batch["observations"][:, 0] == 1.0).sum() == 13


class UntouchableBuffer(ReplayBuffer):
    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        raise AssertionError("the model buffer was sampled")


def test_an_all_real_batch_never_touches_the_model_buffer():
    real = filled_buffer(np.ones((50, 1)))
    batch = mixed_batch(real, UntouchableBuffer(10), batch_size=32, real_ratio=1.0)
    assert (batch["observations"] == 1.0).all() and len(batch["rewards"]) == 32


def test_a_missing_or_unfinished_hw3_says_what_to_do(monkeypatch):
    monkeypatch.setitem(sys.modules, "hw3_q_learning.sac", None)  # makes its import fail
    with pytest.raises(ImportError, match="Put your hw3_q_learning folder"):
        load_sac()

    class StubAgent:
        def update(self, batch):
            raise NotImplementedError("critic_loss: your code here")

    with pytest.raises(NotImplementedError, match="Complete hw3_q_learning/sac.py"):
        check_sac_implemented(StubAgent(), obs_dim=2, action_dim=2)  # type: ignore[arg-type]

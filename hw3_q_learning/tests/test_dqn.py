"""Public tests of homework 3, DQN: run ``pytest hw3_q_learning/tests`` after each piece you write.

Each expected value below is worked out by hand in the comment beside it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hw3_q_learning.config import DQNConfig
from hw3_q_learning.dqn import (
    DQNAgent,
    double_dqn_target,
    dqn_target,
    epsilon_greedy,
    hard_update,
    huber_loss,
    linear_schedule,
)
from infrastructure.torch_utils import build_mlp

# ---- exploration --------------------------------------------------------------------------


def test_linear_schedule_endpoints_and_midpoint():
    assert linear_schedule(0, 1.0, 0.1, 100) == pytest.approx(1.0)
    assert linear_schedule(50, 1.0, 0.1, 100) == pytest.approx(0.55)  # 1 + 0.5 * (0.1 - 1)
    assert linear_schedule(100, 1.0, 0.1, 100) == pytest.approx(0.1)


def test_linear_schedule_stays_at_its_end_value():
    assert linear_schedule(10_000, 1.0, 0.05, 100) == pytest.approx(0.05)


def test_epsilon_zero_is_greedy():
    q_values = torch.tensor([[0.0, 2.0, 1.0], [5.0, -1.0, 4.0]])
    actions = epsilon_greedy(q_values, 0.0, np.random.default_rng(0))
    assert actions.shape == (2,)
    np.testing.assert_array_equal(actions, [1, 0])


def test_epsilon_greedy_frequencies():
    # epsilon = 0.3 over 3 actions: the greedy one with 0.7 + 0.3 / 3 = 0.8, the others 0.1 each.
    # With 20,000 draws a frequency's standard deviation is below 0.003; the bounds are 0.02.
    q_values = torch.tensor([[0.0, 1.0, 0.5]]).repeat(20_000, 1)
    actions = epsilon_greedy(q_values, 0.3, np.random.default_rng(0))
    frequencies = np.bincount(actions, minlength=3) / len(actions)
    np.testing.assert_allclose(frequencies, [0.1, 0.8, 0.1], atol=0.02)


# ---- targets ------------------------------------------------------------------------------
# Three transitions, gamma = 0.5:
#   0: an ordinary step;
#   1: a step into a *terminal* state (must not bootstrap);
#   2: the last step of an episode *truncated* by its time limit (must bootstrap).
REWARDS = torch.tensor([1.0, 2.0, 3.0])
TERMINATED = torch.tensor([0.0, 1.0, 0.0])
NEXT_Q_TARGET = torch.tensor([[10.0, 20.0], [30.0, 40.0], [5.0, 7.0]])  # Q_target(s', .)
NEXT_Q_ONLINE = torch.tensor([[1.0, 0.0], [0.0, 1.0], [3.0, 2.0]])  # Q_online(s', .)


def test_dqn_target_bootstraps_truncated_but_not_terminated_transitions():
    # y0 = 1 + 0.5 * max(10, 20) = 11;  y1 = 2 (terminal);  y2 = 3 + 0.5 * max(5, 7) = 6.5
    got = dqn_target(REWARDS, NEXT_Q_TARGET, TERMINATED, gamma=0.5)
    torch.testing.assert_close(got, torch.tensor([11.0, 2.0, 6.5]))


def test_double_dqn_picks_with_the_online_network_and_values_with_the_target():
    # argmax of the online network: actions 0, 1, 0, valued by the target network: 10, 40, 5.
    # y0 = 1 + 0.5 * 10 = 6;  y1 = 2 (terminal);  y2 = 3 + 0.5 * 5 = 5.5
    got = double_dqn_target(REWARDS, NEXT_Q_ONLINE, NEXT_Q_TARGET, TERMINATED, gamma=0.5)
    torch.testing.assert_close(got, torch.tensor([6.0, 2.0, 5.5]))


# ---- loss and target network --------------------------------------------------------------


def test_huber_loss_is_quadratic_near_zero_and_linear_far_from_it():
    q_values = torch.tensor([1.5, 4.0], requires_grad=True)
    targets = torch.tensor([1.0, 1.0], requires_grad=True)
    # errors 0.5 and 3: 0.5 * 0.5**2 = 0.125 and 1 * (3 - 0.5) = 2.5; mean 1.3125
    loss = huber_loss(q_values, targets, delta=1.0)
    assert loss.item() == pytest.approx(1.3125)
    loss.backward()
    # d/dq: error / B = 0.25 in the quadratic zone, delta / B = 0.5 in the linear one
    np.testing.assert_allclose(q_values.grad.numpy(), [0.25, 0.5])
    assert targets.grad is None or torch.all(targets.grad == 0), "targets must be constants"


def test_hard_update_copies_values_and_keeps_the_target_tensors():
    torch.manual_seed(0)
    source, target = build_mlp(3, 2, 1, 4), build_mlp(3, 2, 1, 4)
    tensors = [p for p in target.parameters()]
    hard_update(target, source)
    for t, s, kept in zip(target.parameters(), source.parameters(), tensors, strict=True):
        torch.testing.assert_close(t, s)
        assert t is kept and t.data_ptr() != s.data_ptr()


# ---- the agent ----------------------------------------------------------------------------


def make_agent(**overrides) -> DQNAgent:
    import gymnasium as gym

    torch.manual_seed(0)
    config = DQNConfig(n_layers=1, layer_size=8, **overrides)
    obs_space = gym.spaces.Box(-1.0, 1.0, (3,))
    agent = DQNAgent(
        obs_space, gym.spaces.Discrete(2), config, torch.device("cpu"), np.random.default_rng(0)
    )
    with torch.no_grad():  # a target network that differs from the online one
        for p in agent.target_network.parameters():
            p.add_(0.5)
    return agent


@pytest.mark.parametrize("double", [False, True])
def test_compute_loss_uses_the_right_target(double):
    agent = make_agent(double=double, gamma=0.9)
    obs, next_obs = torch.randn(5, 3), torch.randn(5, 3)
    actions, rewards = torch.tensor([0, 1, 1, 0, 1]), torch.randn(5)
    terminated = torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0])
    loss, q_values, targets = agent.compute_loss(obs, actions, rewards, next_obs, terminated)
    with torch.no_grad():
        next_target = agent.target_network(next_obs)
        if double:
            expected = double_dqn_target(
                rewards, agent.q_network(next_obs), next_target, terminated, 0.9
            )
        else:
            expected = dqn_target(rewards, next_target, terminated, 0.9)
        expected_q = agent.q_network(obs)[torch.arange(5), actions]
    torch.testing.assert_close(targets, expected)
    torch.testing.assert_close(q_values.detach(), expected_q)
    assert not targets.requires_grad, "targets are computed without a gradient"
    torch.testing.assert_close(loss, huber_loss(q_values, expected))


def test_gradient_step_clips_the_gradient_norm():
    agent = make_agent(max_grad_norm=0.01)
    obs = torch.randn(4, 3)
    loss = 1000.0 * agent.q_network(obs).sum()
    norm_before = agent.gradient_step(loss)
    grads = [p.grad for p in agent.q_network.parameters()]
    norm_after = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    assert norm_before > 1.0  # the unclipped norm is returned
    assert norm_after.item() == pytest.approx(0.01, rel=1e-3)


def test_the_target_network_is_updated_every_target_update_period_steps():
    agent = make_agent(target_update_period=2)
    batch = {
        "observations": np.zeros((4, 3), np.float32),
        "actions": np.array([0, 1, 0, 1]),
        "rewards": np.ones(4, np.float32),
        "next_observations": np.ones((4, 3), np.float32),
        "terminated": np.zeros(4, bool),
    }

    def same() -> bool:
        pairs = zip(agent.target_network.parameters(), agent.q_network.parameters(), strict=True)
        return all(torch.equal(t, s) for t, s in pairs)

    agent.update(batch)
    assert not same()
    agent.update(batch)
    assert same()

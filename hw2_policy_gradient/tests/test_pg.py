"""Public tests of homework 2: run ``pytest hw2_policy_gradient/tests`` after each piece you write.

Each expected value below is worked out by hand in the comment beside it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hw2_policy_gradient.pg import (
    compute_gae,
    discounted_return,
    normalize,
    policy_gradient_loss,
    ppo_clip_loss,
    reward_to_go,
    value_loss,
)
from hw2_policy_gradient.policies import CategoricalPolicy, GaussianPolicy

# ---- returns ------------------------------------------------------------------------------


def test_discounted_return_is_the_whole_trajectory_return_at_every_step():
    # 1 + 0.5 * 2 + 0.25 * 4 = 3
    got = discounted_return(np.array([1.0, 2.0, 4.0]), gamma=0.5)
    np.testing.assert_allclose(got, [3.0, 3.0, 3.0])


def test_discounted_return_without_discount_sums_rewards():
    np.testing.assert_allclose(discounted_return(np.array([1.0, -1.0, 5.0]), 1.0), [5.0] * 3)


def test_reward_to_go_discounts_from_each_step():
    # t=2: 4;  t=1: 2 + 0.5 * 4 = 4;  t=0: 1 + 0.5 * 4 = 3
    got = reward_to_go(np.array([1.0, 2.0, 4.0]), gamma=0.5)
    np.testing.assert_allclose(got, [3.0, 4.0, 4.0])


def test_reward_to_go_of_a_single_step_is_its_reward():
    np.testing.assert_allclose(reward_to_go(np.array([7.0]), 0.9), [7.0])


def test_reward_to_go_and_discounted_return_agree_at_the_first_step():
    rewards = np.random.default_rng(0).normal(size=20)
    assert reward_to_go(rewards, 0.95)[0] == pytest.approx(discounted_return(rewards, 0.95)[0])


def test_normalize_gives_zero_mean_unit_std():
    got = normalize(np.array([1.0, 2.0, 3.0, 4.0]))
    assert got.mean() == pytest.approx(0.0, abs=1e-7)
    assert got.std() == pytest.approx(1.0, rel=1e-6)


def test_normalize_of_a_constant_batch_is_zero_not_nan():
    np.testing.assert_allclose(normalize(np.full(5, 3.0)), np.zeros(5), atol=1e-6)


# ---- GAE ----------------------------------------------------------------------------------
# Two trajectories laid end to end, gamma = 0.5:
#   steps 0, 1: a trajectory that *terminates* after step 1;
#   step 2:     a trajectory *truncated* by a time limit after one step.
REWARDS = np.array([1.0, 1.0, 1.0])
VALUES = np.array([2.0, 4.0, 2.0])
NEXT_VALUES = np.array([4.0, 8.0, 6.0])  # V(s_1), V(s_2) (terminal: must be ignored), V(s')
TERMINATED = np.array([False, True, False])
DONES = np.array([False, True, True])


def test_gae_with_lambda_zero_is_the_td_error():
    # delta_0 = 1 + 0.5 * 4 - 2 = 1;  delta_1 = 1 + 0 - 4 = -3 (no bootstrap: terminated);
    # delta_2 = 1 + 0.5 * 6 - 2 = 2 (bootstrap: truncated)
    got = compute_gae(REWARDS, VALUES, NEXT_VALUES, TERMINATED, DONES, gamma=0.5, lam=0.0)
    np.testing.assert_allclose(got, [1.0, -3.0, 2.0])


def test_gae_with_lambda_one_sums_td_errors_within_each_trajectory():
    # A_1 = -3;  A_0 = 1 + 0.5 * 1 * (-3) = -0.5;  A_2 = 2: nothing flows across trajectories
    got = compute_gae(REWARDS, VALUES, NEXT_VALUES, TERMINATED, DONES, gamma=0.5, lam=1.0)
    np.testing.assert_allclose(got, [-0.5, -3.0, 2.0])


def test_gae_with_lambda_one_is_monte_carlo_minus_baseline_on_a_terminated_episode():
    rng = np.random.default_rng(0)
    rewards, values = rng.normal(size=6), rng.normal(size=6)
    next_values = np.append(values[1:], 123.0)  # the last one is terminal: ignored
    terminated = np.array([False] * 5 + [True])
    got = compute_gae(rewards, values, next_values, terminated, terminated, 0.9, 1.0)
    np.testing.assert_allclose(got, reward_to_go(rewards, 0.9) - values, rtol=1e-10)


def test_gae_bootstraps_a_truncated_end_but_not_a_terminated_one():
    one = np.array([1.0])
    kwargs = dict(
        rewards=one, values=np.zeros(1), next_values=np.array([10.0]), gamma=0.9, lam=0.95
    )
    truncated = compute_gae(terminated=np.array([False]), dones=np.array([True]), **kwargs)
    terminated = compute_gae(terminated=np.array([True]), dones=np.array([True]), **kwargs)
    np.testing.assert_allclose(truncated, [1.0 + 0.9 * 10.0])
    np.testing.assert_allclose(terminated, [1.0])


# ---- losses -------------------------------------------------------------------------------


def test_policy_gradient_loss_value_and_gradient():
    log_probs = torch.tensor([-1.0, -2.0], requires_grad=True)
    advantages = torch.tensor([3.0, -1.0])
    loss = policy_gradient_loss(log_probs, advantages)
    # -(-1 * 3 + -2 * -1) / 2 = 0.5;  d loss / d log_probs = -advantages / 2
    assert loss.item() == pytest.approx(0.5)
    loss.backward()
    np.testing.assert_allclose(log_probs.grad.numpy(), [-1.5, 0.5])


def test_policy_gradient_loss_does_not_differentiate_through_advantages():
    advantages = torch.tensor([1.0, 2.0], requires_grad=True)
    policy_gradient_loss(torch.tensor([-1.0, -1.0], requires_grad=True), advantages).backward()
    assert advantages.grad is None or torch.all(advantages.grad == 0)


def test_ppo_clip_loss_clips_the_ratio_in_the_direction_of_the_advantage():
    old = torch.zeros(2)
    # ratios e^0.5 ~ 1.65 (positive advantage: clipped to 1.2) and e^-0.5 ~ 0.61
    # (negative advantage: clipped to 0.8, and min(0.61 * -1, 0.8 * -1) = -0.8)
    log_probs = torch.tensor([0.5, -0.5], requires_grad=True)
    loss = ppo_clip_loss(log_probs, old, torch.tensor([1.0, -1.0]), clip=0.2)
    assert loss.item() == pytest.approx(-(1.2 * 1.0 + 0.8 * -1.0) / 2)
    loss.backward()  # both clipped: no gradient
    np.testing.assert_allclose(log_probs.grad.numpy(), [0.0, 0.0])


def test_ppo_clip_loss_equals_the_policy_gradient_at_ratio_one():
    log_probs = torch.tensor([-0.3, -1.2], requires_grad=True)
    advantages = torch.tensor([2.0, -1.0])
    ppo_clip_loss(log_probs, log_probs.detach(), advantages, clip=0.2).backward()
    # d/dθ ρ A = ρ A d log π = A d log π at ρ = 1
    np.testing.assert_allclose(log_probs.grad.numpy(), [-1.0, 0.5])


def test_value_loss_is_mean_squared_error():
    values = torch.tensor([1.0, 3.0], requires_grad=True)
    loss = value_loss(values, torch.tensor([2.0, 1.0]))
    assert loss.item() == pytest.approx((1.0 + 4.0) / 2)
    loss.backward()
    np.testing.assert_allclose(values.grad.numpy(), [-1.0, 2.0])


# ---- policies -----------------------------------------------------------------------------


def test_categorical_policy_probabilities_are_the_softmax_of_the_logits():
    torch.manual_seed(0)
    policy = CategoricalPolicy(obs_dim=3, num_actions=4, n_layers=1, size=8)
    obs = torch.randn(5, 3)
    dist = policy.distribution(obs)
    expected = torch.softmax(policy.logits_net(obs), dim=-1)
    torch.testing.assert_close(dist.probs, expected)
    assert dist.log_prob(torch.tensor([0, 1, 2, 3, 0])).shape == (5,)


def test_gaussian_policy_log_prob_sums_over_action_dimensions():
    torch.manual_seed(0)
    policy = GaussianPolicy(obs_dim=3, action_dim=2, n_layers=1, size=8, log_std_init=-0.5)
    obs, actions = torch.randn(4, 3), torch.randn(4, 2)
    log_probs = policy.distribution(obs).log_prob(actions)
    assert log_probs.shape == (4,)
    mean, std = policy.mean_net(obs), math.exp(-0.5)
    per_dim = -((actions - mean) ** 2) / (2 * std**2) - math.log(std) - 0.5 * math.log(2 * math.pi)
    torch.testing.assert_close(log_probs, per_dim.sum(dim=-1))


def test_gaussian_policy_learns_its_log_std():
    policy = GaussianPolicy(obs_dim=3, action_dim=2, n_layers=1, size=8)
    policy.distribution(torch.randn(4, 3)).log_prob(torch.randn(4, 2)).sum().backward()
    assert policy.log_std.grad is not None and torch.any(policy.log_std.grad != 0)


def test_get_action_shapes_and_determinism():
    policy = GaussianPolicy(obs_dim=3, action_dim=2, n_layers=1, size=8)
    obs = np.zeros((6, 3), dtype=np.float32)
    assert policy.get_action(obs).shape == (6, 2)
    mean = policy.mean_net(torch.zeros(6, 3)).detach().numpy()
    np.testing.assert_allclose(policy.get_action(obs, deterministic=True), mean, rtol=1e-6)
    discrete = CategoricalPolicy(obs_dim=3, num_actions=4, n_layers=1, size=8)
    assert discrete.get_action(obs).shape == (6,)

"""The Gaussian policy and behaviour cloning, on cases whose answers are written by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hw1_imitation.bc import bc_loss, bc_update
from hw1_imitation.policies import GaussianMLPPolicy

# log N(a; mu, sigma^2) = -(a - mu)^2 / (2 sigma^2) - log sigma - log(2 pi) / 2, per dimension.
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def constant_policy(mean: list[float], std: list[float], obs_dim: int = 3) -> GaussianMLPPolicy:
    """A policy whose mean is ``mean`` whatever the state (no hidden layer, zero weights)."""
    policy = GaussianMLPPolicy(obs_dim, len(mean), n_layers=0, size=1)
    with torch.no_grad():
        policy.mean_net[0].weight.zero_()
        policy.mean_net[0].bias.copy_(torch.tensor(mean))
        policy.log_std.copy_(torch.log(torch.tensor(std)))
    return policy


OBS = torch.randn(2, 3, generator=torch.Generator().manual_seed(0))
ACTIONS = torch.tensor([[0.0, 1.0], [1.0, 3.0]])


def test_the_distribution_is_a_diagonal_gaussian_over_the_action_vector():
    dist = constant_policy([0.0, 1.0], [1.0, 2.0]).distribution(OBS)
    assert tuple(dist.batch_shape) == (2,) and tuple(dist.event_shape) == (2,)
    # Row 1 sits on the mean: -log 2 - 2 c. Row 2 is one standard deviation off in each
    # dimension: -1/2 - 1/2 - log 2 - 2 c.
    expected = [-math.log(2) - 2 * HALF_LOG_2PI, -1.0 - math.log(2) - 2 * HALF_LOG_2PI]
    np.testing.assert_allclose(dist.log_prob(ACTIONS).detach().numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(dist.mean.detach().numpy(), [[0.0, 1.0], [0.0, 1.0]])


def test_the_nll_loss_is_the_mean_negative_log_likelihood():
    loss = bc_loss(constant_policy([0.0, 1.0], [1.0, 2.0]), OBS, ACTIONS, "nll")
    assert loss.shape == ()
    assert loss.item() == pytest.approx(0.5 + math.log(2) + 2 * HALF_LOG_2PI, rel=1e-6)


def test_the_mse_loss_averages_over_the_batch_and_the_action_dimensions():
    policy = constant_policy([0.0, 1.0], [1.0, 2.0])
    loss = bc_loss(policy, OBS, ACTIONS, "mse")
    assert loss.item() == pytest.approx((0 + 0 + 1 + 4) / 4)  # squared errors 0, 0, 1, 4
    loss.backward()
    # The mean squared error trains the mean only, never the standard deviation.
    assert policy.log_std.grad is None or torch.all(policy.log_std.grad == 0)
    assert policy.mean_net[0].bias.grad is not None


def test_the_nll_gradient_moves_the_mean_towards_the_actions_and_fits_sigma():
    policy = constant_policy([0.0, 1.0], [1.0, 2.0])
    bc_loss(policy, OBS, ACTIONS, "nll").backward()
    # d/dmu of -mean log N = -mean (a - mu) / sigma^2 = [-(0 + 1) / 2, -(0 + 2) / 4 / 2]
    np.testing.assert_allclose(policy.mean_net[0].bias.grad.numpy(), [-0.5, -0.25], rtol=1e-6)
    # d/dlog sigma = mean (1 - (a - mu)^2 / sigma^2) = [(1 + 0) / 2, (1 + 0) / 2]
    np.testing.assert_allclose(policy.log_std.grad.numpy(), [0.5, 0.5], rtol=1e-6)


def test_get_action_returns_the_mean_or_samples_of_the_right_spread():
    policy = constant_policy([0.5, -1.0], [0.1, 2.0])
    obs = np.zeros((4000, 3), np.float32)
    mean = policy.get_action(obs[:5], deterministic=True)
    assert isinstance(mean, np.ndarray) and mean.shape == (5, 2)
    np.testing.assert_allclose(mean, [[0.5, -1.0]] * 5)
    torch.manual_seed(0)
    samples = policy.get_action(obs)
    assert samples.shape == (4000, 2)
    # 4000 samples: the standard error of the mean is sigma / 63, of the std about sigma / 89.
    np.testing.assert_allclose(samples.mean(axis=0), [0.5, -1.0], atol=0.15)
    np.testing.assert_allclose(samples.std(axis=0), [0.1, 2.0], rtol=0.1)


def test_bc_update_takes_one_gradient_step_per_call():
    policy = constant_policy([0.0, 1.0], [1.0, 2.0])
    optimizer = torch.optim.SGD(policy.parameters(), lr=0.1)
    obs = torch.zeros(2, 3)  # so that the mean is the bias alone, before and after the step
    metrics = bc_update(policy, optimizer, obs, ACTIONS, "mse")
    assert metrics["train/loss"] == pytest.approx(1.25)
    # d/dmu of the mse = 2 mean over the batch of (mu - a) / action_dim = [-0.5, -1.0]
    np.testing.assert_allclose(policy.mean_net[0].bias.detach().numpy(), [0.05, 1.1], rtol=1e-6)
    # A second step starts from fresh gradients (a missing zero_grad would add up the two).
    bc_update(policy, optimizer, obs, ACTIONS, "mse")
    mu = np.array([0.05, 1.1])
    grad = (2 * (mu - ACTIONS.numpy())).mean(axis=0) / 2
    np.testing.assert_allclose(policy.mean_net[0].bias.detach().numpy(), mu - 0.1 * grad, rtol=1e-5)


def test_cloning_fits_a_linear_expert():
    torch.manual_seed(0)
    obs = torch.randn(256, 3)
    actions = obs @ torch.tensor([[1.0], [-2.0], [0.5]])
    policy = GaussianMLPPolicy(3, 1, n_layers=0, size=1, log_std_init=0.0)
    optimizer = torch.optim.Adam(policy.parameters(), lr=0.05)
    for _ in range(300):
        bc_update(policy, optimizer, obs, actions, "nll")
    np.testing.assert_allclose(
        policy.mean_net[0].weight.detach().numpy(), [[1.0, -2.0, 0.5]], atol=0.05
    )
    assert policy.log_std.exp().item() < 0.2  # the expert is deterministic: sigma shrinks

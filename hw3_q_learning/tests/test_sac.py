"""Public tests of homework 3, SAC: run ``pytest hw3_q_learning/tests`` after each piece you write.

Each expected value below is worked out by hand in the comment beside it.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from hw3_q_learning.config import SACConfig
from hw3_q_learning.sac import (
    SACAgent,
    TanhGaussianActor,
    actor_loss_reinforce,
    actor_loss_reparameterize,
    reduce_q_values,
    sac_target,
    soft_update,
    tanh_gaussian_log_prob,
    temperature_loss,
)
from infrastructure.torch_utils import build_mlp

# ---- the squashed Gaussian ----------------------------------------------------------------


def _numerical_log_density(a: float, mean: float, std: float, h: float = 1e-6) -> float:
    """log p(a) of a = tanh(u), u ~ N(mean, std^2), from the finite difference of its CDF
    P(tanh(u) <= a) = Phi((atanh(a) - mean) / std): no change-of-variables formula involved."""

    def cdf(x: float) -> float:
        return 0.5 * (1.0 + math.erf((math.atanh(x) - mean) / (std * math.sqrt(2.0))))

    return math.log((cdf(a + h) - cdf(a - h)) / (2.0 * h))


def test_tanh_gaussian_log_prob_matches_the_numerical_density():
    means = torch.tensor([[0.3], [-0.5], [1.0]], dtype=torch.float64)
    log_stds = torch.tensor([[-0.2], [0.4], [-1.0]], dtype=torch.float64)
    pre_tanh = torch.tensor([[0.1], [-1.2], [1.5]], dtype=torch.float64)
    got = tanh_gaussian_log_prob(pre_tanh, means, log_stds)
    assert got.shape == (3,)
    for i in range(3):
        expected = _numerical_log_density(
            math.tanh(pre_tanh[i, 0].item()), means[i, 0].item(), math.exp(log_stds[i, 0].item())
        )
        assert got[i].item() == pytest.approx(expected, rel=1e-5)


def test_tanh_gaussian_log_prob_sums_over_action_dimensions():
    torch.manual_seed(0)
    pre_tanh, means, log_stds = torch.randn(4, 2), torch.randn(4, 2), 0.3 * torch.randn(4, 2)
    both = tanh_gaussian_log_prob(pre_tanh, means, log_stds)
    first = tanh_gaussian_log_prob(pre_tanh[:, :1], means[:, :1], log_stds[:, :1])
    second = tanh_gaussian_log_prob(pre_tanh[:, 1:], means[:, 1:], log_stds[:, 1:])
    torch.testing.assert_close(both, first + second)


def test_tanh_gaussian_log_prob_is_finite_where_tanh_saturates():
    # tanh(20) rounds to 1 in float32: log(1 - tanh^2) computed naively is -inf.
    # The exact correction is 2 * (log 2 - 20 - softplus(-40)) = -38.6137...
    u = torch.tensor([[20.0]])
    got = tanh_gaussian_log_prob(u, torch.tensor([[20.0]]), torch.zeros(1, 1))
    expected = -0.5 * math.log(2 * math.pi) - 2.0 * (math.log(2.0) - 20.0)
    assert torch.isfinite(got).all()
    assert got.item() == pytest.approx(expected, rel=1e-4)


def test_actor_samples_are_reparameterised_or_not():
    torch.manual_seed(0)
    actor = TanhGaussianActor(obs_dim=3, action_dim=2, n_layers=1, size=8)
    obs = torch.randn(5, 3)
    actions, log_probs = actor.sample(obs, reparameterize=True)
    assert actions.shape == (5, 2) and log_probs.shape == (5,)
    assert actions.abs().max() < 1.0 and actions.requires_grad
    actions, log_probs = actor.sample(obs, reparameterize=False)
    assert not actions.requires_grad and log_probs.requires_grad


# ---- critic target ------------------------------------------------------------------------
# Three transitions, gamma = 0.5, alpha = 0.1, two target critics:
#   0: an ordinary step;  1: into a terminal state;  2: cut by the time limit (bootstraps).
REWARDS = torch.tensor([1.0, 2.0, 3.0])
NEXT_Q = torch.tensor([[4.0, 10.0, 6.0], [8.0, 20.0, 2.0]])  # (critics, B)
NEXT_LOG_PROBS = torch.tensor([-10.0, 5.0, 10.0])
TERMINATED = torch.tensor([0.0, 1.0, 0.0])


def test_reduce_q_values():
    torch.testing.assert_close(reduce_q_values(NEXT_Q, "min"), torch.tensor([4.0, 10.0, 2.0]))
    torch.testing.assert_close(reduce_q_values(NEXT_Q, "mean"), torch.tensor([6.0, 15.0, 4.0]))
    torch.testing.assert_close(reduce_q_values(NEXT_Q, "single"), torch.tensor([4.0, 10.0, 6.0]))


@pytest.mark.parametrize(
    ("reduction", "expected"),
    [
        # y0 = 1 + 0.5 * (4 - 0.1 * -10) = 3.5;  y1 = 2 (terminal);  y2 = 3 + 0.5 * (2 - 1) = 3.5
        ("min", [3.5, 2.0, 3.5]),
        # y0 = 1 + 0.5 * (6 + 1) = 4.5;  y2 = 3 + 0.5 * (4 - 1) = 4.5
        ("mean", [4.5, 2.0, 4.5]),
        # y0 = 1 + 0.5 * (4 + 1) = 3.5;  y2 = 3 + 0.5 * (6 - 1) = 5.5
        ("single", [3.5, 2.0, 5.5]),
    ],
)
def test_sac_target(reduction, expected):
    got = sac_target(REWARDS, NEXT_Q, NEXT_LOG_PROBS, TERMINATED, 0.5, 0.1, reduction)
    torch.testing.assert_close(got, torch.tensor(expected))


# ---- actor and temperature losses ---------------------------------------------------------


def test_actor_loss_reparameterize_value_and_gradients():
    log_probs = torch.tensor([-1.0, 2.0], requires_grad=True)
    q_values = torch.tensor([3.0, 5.0], requires_grad=True)
    loss = actor_loss_reparameterize(log_probs, q_values, alpha=0.5)
    # mean(0.5 * [-1, 2] - [3, 5]) = mean([-3.5, -4]) = -3.75
    assert loss.item() == pytest.approx(-3.75)
    loss.backward()
    np.testing.assert_allclose(log_probs.grad.numpy(), [0.25, 0.25])  # alpha / B
    np.testing.assert_allclose(q_values.grad.numpy(), [-0.5, -0.5])  # -1 / B


def test_actor_loss_reinforce_weights_the_log_probabilities():
    log_probs = torch.tensor([-1.0, 2.0], requires_grad=True)
    q_values = torch.tensor([3.0, 5.0], requires_grad=True)
    loss = actor_loss_reinforce(log_probs, q_values, alpha=0.5)
    # weights w = 0.5 * [-1, 2] - [3, 5] = [-3.5, -4], held constant: gradient w / B
    loss.backward()
    np.testing.assert_allclose(log_probs.grad.numpy(), [-1.75, -2.0])
    assert q_values.grad is None or torch.all(q_values.grad == 0)
    # value: mean(log_probs * w) = mean([3.5, -8]) = -2.25
    assert loss.item() == pytest.approx(-2.25)


def test_temperature_loss_raises_alpha_when_the_entropy_is_too_low():
    log_alpha = torch.tensor(math.log(2.0), requires_grad=True)
    log_probs = torch.tensor([-1.0, 1.0], requires_grad=True)
    # target entropy -1: mean(log_probs + target) = -1;  loss = -log 2 * -1 = log 2
    loss = temperature_loss(log_alpha, log_probs, target_entropy=-1.0)
    assert loss.item() == pytest.approx(math.log(2.0))
    loss.backward()
    assert log_alpha.grad.item() == pytest.approx(1.0)  # -mean(log_probs + target)
    assert log_probs.grad is None or torch.all(log_probs.grad == 0)
    # entropy -mean(log pi) = 0 is above the target -1 here, so gradient descent lowers alpha;
    # with log-probabilities of 3 (entropy -3, below the target) it raises it:
    log_alpha.grad = None
    temperature_loss(log_alpha, torch.tensor([3.0, 3.0]), -1.0).backward()
    assert log_alpha.grad.item() == pytest.approx(-2.0)


# ---- soft update --------------------------------------------------------------------------


def test_soft_update_arithmetic():
    source, target = build_mlp(2, 1, 0, 1), build_mlp(2, 1, 0, 1)
    with torch.no_grad():
        for p in source.parameters():
            p.fill_(1.0)
        for p in target.parameters():
            p.fill_(0.0)
    tensors = list(target.parameters())
    soft_update(target, source, tau=0.1)  # 0.1 * 1 + 0.9 * 0 = 0.1
    for p in target.parameters():
        torch.testing.assert_close(p, torch.full_like(p, 0.1))
    soft_update(target, source, tau=0.1)  # 0.1 * 1 + 0.9 * 0.1 = 0.19
    for p, kept in zip(target.parameters(), tensors, strict=True):
        torch.testing.assert_close(p, torch.full_like(p, 0.19))
        assert p is kept
    for p in source.parameters():
        torch.testing.assert_close(p, torch.ones_like(p))


# ---- the agent ----------------------------------------------------------------------------


def make_agent(**overrides) -> SACAgent:
    torch.manual_seed(0)
    config = SACConfig(n_layers=1, layer_size=8, **overrides)
    obs_space = gym.spaces.Box(-np.inf, np.inf, (3,))
    return SACAgent(obs_space, gym.spaces.Box(-1.0, 1.0, (2,)), config, torch.device("cpu"))


@pytest.mark.parametrize(("critic_target", "num_critics"), [("min", 2), ("single", 1)])
def test_critic_loss_regresses_every_critic_on_the_soft_target(critic_target, num_critics):
    agent = make_agent(critic_target=critic_target, gamma=0.9, init_temperature=0.5)
    obs, actions, next_obs = torch.randn(6, 3), torch.rand(6, 2) * 2 - 1, torch.randn(6, 3)
    rewards, terminated = torch.randn(6), torch.tensor([0.0, 1.0, 0.0, 0.0, 0.0, 1.0])
    torch.manual_seed(1)
    loss, q_values = agent.critic_loss(obs, actions, rewards, next_obs, terminated)
    assert q_values.shape == (num_critics, 6)
    torch.manual_seed(1)  # the same next actions a' ~ pi(. | s')
    with torch.no_grad():
        next_actions, next_log_probs = agent.actor.sample(next_obs)
        next_q = torch.stack([c(next_obs, next_actions) for c in agent.target_critics])
        targets = sac_target(rewards, next_q, next_log_probs, terminated, 0.9, 0.5, critic_target)
    expected = sum(((c(obs, actions) - targets) ** 2).mean() for c in agent.critics)
    torch.testing.assert_close(loss, expected)


def test_update_moves_the_target_critics_by_tau():
    agent = make_agent(tau=0.25)
    before = [p.clone() for p in agent.target_critics.parameters()]
    batch = {
        "observations": np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32),
        "actions": np.zeros((8, 2), np.float32),
        "rewards": np.ones(8, np.float32),
        "next_observations": np.zeros((8, 3), np.float32),
        "terminated": np.zeros(8, bool),
    }
    metrics = agent.update(batch)
    assert {"train/loss_critic", "train/loss_actor", "train/alpha"} <= set(metrics)
    for old, new, online in zip(
        before, agent.target_critics.parameters(), agent.critics.parameters(), strict=True
    ):
        torch.testing.assert_close(new, 0.25 * online + 0.75 * old)

"""Public tests of homework 5's continuous part (the Gaussian's log-density, behaviour cloning
and IQL with a Gaussian actor): run ``pytest hw5_offline/tests/test_continuous.py`` after each
piece you write.

Each expected value below is worked out by hand in the comment beside it. The agents' networks
are single linear layers (``n_layers=0``) whose weights the tests set, so that every value a
loss sees is known: Q_1(s, a) = s_0 + a and Q_2(s, a) = s_1 + a, V and the actor's means
constant.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from hw5_offline.config import OfflineConfig
from hw5_offline.continuous import BCAgent, ContinuousIQLAgent, gaussian_log_prob

LN2 = math.log(2.0)
E = math.e
C = 0.5 * math.log(2.0 * math.pi)  # the constant of each dimension's log-density

# ---- the Gaussian's log-density ------------------------------------------------------------
# Row 0: a - mu = (2, 1), sigma = (2, e^-1), log sigma = (ln 2, -1):
#   dimension 0: -(2^2) / (2 * 4) - ln 2 - C = -0.5 - ln 2 - C
#   dimension 1: -(1^2) / (2 e^-2) + 1 - C = -e^2 / 2 + 1 - C
#   their sum: 0.5 - ln 2 - e^2 / 2 - 2 C
# Row 1: the action at the mean, sigma = 1: -2 C.
# (A mean over the dimensions halves both; (a - mu)^2 / sigma instead of / sigma^2 gives -0.25
# for dimension 0; without log sigma, ln 2 - 1 more.)
ACTIONS = torch.tensor([[2.5, 0.0], [0.3, -0.4]])
MEANS = torch.tensor([[0.5, -1.0], [0.3, -0.4]])
LOG_STDS = torch.tensor([[LN2, -1.0], [0.0, 0.0]])


def test_gaussian_log_prob_sums_each_dimensions_log_density():
    log_probs = gaussian_log_prob(ACTIONS, MEANS, LOG_STDS)
    assert log_probs.shape == (2,)
    expected = [0.5 - LN2 - E**2 / 2 - 2 * C, -2 * C]
    np.testing.assert_allclose(log_probs.numpy(), expected, rtol=1e-5)


def test_gaussian_log_prob_gradients_of_the_means_and_log_stds():
    # d log pi / d mu_j = (a_j - mu_j) / sigma_j^2: row 0 (2 / 4, 1 / e^-2) = (0.5, e^2), row 1 0.
    # d log pi / d log sigma_j = (a_j - mu_j)^2 / sigma_j^2 - 1: row 0 (4 / 4 - 1, e^2 - 1) =
    # (0, e^2 - 1), row 1 (-1, -1).
    means, log_stds = MEANS.clone().requires_grad_(True), LOG_STDS.clone().requires_grad_(True)
    gaussian_log_prob(ACTIONS, means, log_stds).sum().backward()
    assert means.grad is not None and log_stds.grad is not None
    np.testing.assert_allclose(means.grad.numpy(), [[0.5, E**2], [0.0, 0.0]], rtol=1e-5)
    np.testing.assert_allclose(
        log_stds.grad.numpy(), [[0.0, E**2 - 1.0], [-1.0, -1.0]], rtol=1e-5, atol=1e-6
    )


# ---- the agents ----------------------------------------------------------------------------

OBSERVATION_SPACE = gym.spaces.Box(-np.inf, np.inf, (2,), np.float64)
LINEAR = OfflineConfig(n_layers=0, gamma=0.5, expectile=0.8, temperature=0.5, max_weight=E)


def make_agent(cls, action_dim, config=LINEAR, seed=0):
    torch.manual_seed(seed)
    action_space = gym.spaces.Box(-1.0, 1.0, (action_dim,), np.float32)
    return cls(OBSERVATION_SPACE, action_space, config, torch.device("cpu"))


def set_linear(mlp: nn.Module, weight, bias) -> None:
    """Make the single linear layer of ``mlp`` compute ``weight @ x + bias``."""
    (layer,) = [module for module in mlp.modules() if isinstance(module, nn.Linear)]
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
        layer.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))


def set_actor(agent, means, stds) -> None:
    """Constant means (through the actor's tanh) and the standard deviations ``stds``."""
    action_dim = len(means)
    set_linear(agent.actor.mean_net, np.zeros((action_dim, 2)), np.arctanh(means))
    with torch.no_grad():
        agent.actor.log_std.copy_(torch.log(torch.tensor(stds)))


def batch_of(size, action_dim, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "observations": rng.normal(size=(size, 2)),
        "actions": rng.uniform(-1.0, 1.0, size=(size, action_dim)),
        "rewards": rng.normal(size=size),
        "next_observations": rng.normal(size=(size, 2)),
        "terminated": np.arange(size) == size - 1,
    }


def test_bc_actor_loss_is_minus_the_mean_log_likelihood():
    # means (0.5, -0.2), sigma (0.5, 1):
    #   action (0.75, -0.2): z = (0.5, 0), log pi = -0.125 + ln 2 - 2 C
    #   action (0.5, 0.8):   z = (0, 1),   log pi = -0.5 + ln 2 - 2 C
    # loss = -mean = 0.3125 - ln 2 + 2 C.
    agent = make_agent(BCAgent, action_dim=2)
    set_actor(agent, [0.5, -0.2], [0.5, 1.0])
    observations = torch.tensor([[0.3, -1.0], [2.0, 0.5]])
    loss, log_probs = agent.actor_loss(observations, torch.tensor([[0.75, -0.2], [0.5, 0.8]]))
    np.testing.assert_allclose(
        log_probs.detach().numpy(), [-0.125 + LN2 - 2 * C, -0.5 + LN2 - 2 * C], rtol=1e-5
    )
    assert loss.shape == ()
    assert loss.item() == pytest.approx(0.3125 - LN2 + 2 * C, rel=1e-5)


def test_bc_updates_raise_the_likelihood_of_the_data():
    # Gradient descent on -log pi: the loss falls (with the sign wrong, it rises).
    config = OfflineConfig(n_layers=1, layer_size=16, actor_learning_rate=1e-2)
    agent = make_agent(BCAgent, action_dim=3, config=config)
    batch = batch_of(size=16, action_dim=3)
    first = agent.update(batch)["train/loss_actor"]
    for _ in range(20):
        last = agent.update(batch)["train/loss_actor"]
    assert last < first - 0.1


# Two states and actions, s = (0.3, 3.3) with a = 0.7 and s = (4.8, 1.8) with a = 0.2:
# Q_1 = s_0 + a = (1, 5), Q_2 = s_1 + a = (4, 2), so the smaller of the two is (1, 2), Q_1 on the
# first row and Q_2 on the second; their mean is (2.5, 3.5). At other actions (the actor's),
# other values.
OBS = torch.tensor([[0.3, 3.3], [4.8, 1.8]])
ACTION = torch.tensor([[0.7], [0.2]])
FIRST, SECOND = [[1.0, 0.0, 1.0]], [[0.0, 1.0, 1.0]]  # weights on (s_0, s_1, a)


def iql_agent(target=(FIRST, SECOND), online=([[0.0, 0.0, 0.0]], [[0.0, 0.0, 0.0]]), value=1.2):
    """Target networks of the weights ``target``, online ones of the weights ``online`` and a
    bias of 10 (so that the two never agree), V = ``value`` everywhere."""
    agent = make_agent(ContinuousIQLAgent, action_dim=1)
    set_linear(agent.target_network.q1_net, target[0], [0.0])
    set_linear(agent.target_network.q2_net, target[1], [0.0])
    set_linear(agent.q_network.q1_net, online[0], [10.0])
    set_linear(agent.q_network.q2_net, online[1], [10.0])
    set_linear(agent.value_network.v_net, [[0.0, 0.0]], [value])
    return agent


def test_iql_value_is_regressed_toward_the_smaller_target_q():
    # V = 1.2: u = min(Q_1, Q_2) - V = (-0.2, 0.8), tau = 0.8:
    # loss = (0.2 * 0.04 + 0.8 * 0.64) / 2 = 0.26. (The mean of the two gives u = (1.3, 2.3),
    # Q_1 alone (-0.2, 3.8), Q_2 alone (2.8, 0.8), the online networks (8.8, 8.8); u reversed
    # swaps the weights: 0.08.)
    agent = iql_agent()
    loss, values = agent.value_loss(OBS, ACTION)
    np.testing.assert_allclose(values.detach().numpy(), [1.2, 1.2], rtol=1e-6)
    assert loss.item() == pytest.approx(0.26, rel=1e-5)
    loss.backward()
    assert all(p.grad is None for p in agent.q_network.parameters())


def test_iql_critic_trains_both_q_networks_toward_r_plus_gamma_v_next():
    # V = 3: targets -1 + 0.5 * 3 = 0.5, and 0.5 (terminal: the reward alone; bootstrapping
    # would give 2). Online Q_1 = s_0 + a + 10 = (11, 15), Q_2 = s_1 + a + 10 = (14, 12): errors
    # (10.5, 14.5) and (13.5, 11.5), loss = (110.25 + 210.25) / 2 + (182.25 + 132.25) / 2 =
    # 317.5, the sum of the two networks' mean squared errors.
    agent = iql_agent(
        target=([[0.0, 0.0, 0.0]], [[0.0, 0.0, 0.0]]), online=(FIRST, SECOND), value=3
    )
    rewards, terminated = torch.tensor([-1.0, 0.5]), torch.tensor([0.0, 1.0])
    loss, tensors = agent.critic_loss(OBS, ACTION, rewards, OBS, terminated)
    np.testing.assert_allclose(tensors["targets"].numpy(), [0.5, 0.5], rtol=1e-6)
    np.testing.assert_allclose(tensors["q_values"].detach().numpy(), [11.0, 15.0], rtol=1e-6)
    assert loss.item() == pytest.approx(317.5, rel=1e-5)
    loss.backward()
    assert all(p.grad is not None for p in agent.q_network.parameters())
    assert all(p.grad is None for p in agent.value_network.parameters())


def test_iql_actor_weights_the_data_actions_by_clipped_advantages():
    # A = min(Q_1, Q_2) - V = (1, 2) - 1.2 = (-0.2, 0.8); temperature 0.5: exp(A / 0.5) =
    # (e^-0.4, e^1.6), the second clipped to max_weight = e.
    # Actor: mean 0.2, sigma 0.5: action 0.7 has z = 1, log pi = -0.5 + ln 2 - C; action 0.2
    # has z = 0, log pi = ln 2 - C. loss = -(e^-0.4 (-0.5 + ln 2 - C) + e (ln 2 - C)) / 2.
    agent = iql_agent()
    set_actor(agent, [0.2], [0.5])
    loss, advantages = agent.actor_loss(OBS, ACTION)
    np.testing.assert_allclose(advantages.numpy(), [-0.2, 0.8], rtol=1e-5)
    expected = -(math.exp(-0.4) * (-0.5 + LN2 - C) + E * (LN2 - C)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert all(p.grad is None for p in agent.value_network.parameters())
    assert all(p.grad is None for p in agent.q_network.parameters())


def test_iql_update_trains_every_network_and_moves_the_targets_part_way():
    agent = make_agent(ContinuousIQLAgent, action_dim=3, config=OfflineConfig(layer_size=16))
    before = {
        name: [p.detach().clone() for p in getattr(agent, name).parameters()]
        for name in ("actor", "q_network", "target_network", "value_network")
    }
    metrics = agent.update(batch_of(size=8, action_dim=3))
    assert {"train/loss_value", "train/loss_actor", "train/loss_critic"} <= set(metrics)
    for name, old in before.items():
        new = list(getattr(agent, name).parameters())
        assert not all(torch.equal(a, b) for a, b in zip(old, new, strict=True)), name
    # Polyak averaging: the targets move toward the Q-networks but stay apart from them
    for target, online in zip(
        agent.target_network.parameters(), agent.q_network.parameters(), strict=True
    ):
        assert not torch.equal(target, online)

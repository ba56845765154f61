"""Public tests of homework 5, offline RL: run ``pytest hw5_offline/tests/test_offline.py`` after
each piece you write.

Each expected value below is worked out by hand in the comment beside it. The agents' tests set
networks to constant outputs (a last layer of zero weights, its bias the outputs), so that every
value a loss sees is known.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from hw5_offline.offline import (
    AWACAgent,
    CQLAgent,
    DQNAgent,
    IQLAgent,
    OfflineConfig,
    advantage_weighted_loss,
    awac_advantages,
    awac_target,
    cql_regularizer,
    expectile_loss,
    iql_target,
)

LN2, LN3 = math.log(2.0), math.log(3.0)

# ---- CQL's regulariser --------------------------------------------------------------------


def test_cql_regularizer_takes_the_soft_maximum_over_each_states_actions():
    # Two states, three actions (B != num_actions, so the batch axis cannot pass for the actions).
    #   state 0: exp(Q) = 1, 3, 4 -> logsumexp = ln 8 = 3 ln 2; data action 0, Q = 0: 3 ln 2
    #   state 1: Q = 2, 2, 2 -> logsumexp = 2 + ln 3; data action 2, Q = 2: ln 3
    # alpha = 2: 2 * mean = 3 ln 2 + ln 3.
    q_values = torch.tensor([[0.0, LN3, 2 * LN2], [2.0, 2.0, 2.0]])
    actions = torch.tensor([0, 2])
    regularizer = cql_regularizer(q_values, actions, alpha=2.0, temperature=1.0)
    assert regularizer.shape == ()
    assert regularizer.item() == pytest.approx(3 * LN2 + LN3, rel=1e-6)


def test_cql_regularizer_temperature_scales_inside_and_outside():
    # tau = 2, Q = (0, 2 ln 3): Q / tau = (0, ln 3), logsumexp = ln 4, times tau = 4 ln 2.
    # Data action 0 (Q = 0), alpha = 1: 4 ln 2. (Without the division: ln 10; without the
    # factor tau: ln 4.)
    q_values = torch.tensor([[0.0, 2 * LN3]])
    regularizer = cql_regularizer(q_values, torch.tensor([0]), alpha=1.0, temperature=2.0)
    assert regularizer.item() == pytest.approx(4 * LN2, rel=1e-6)


def test_cql_regularizer_gradient_lowers_other_actions_and_raises_the_data_action():
    # d/dQ [logsumexp(Q) - Q(a)] = softmax(Q) - onehot(a); Q = (0, ln 3): softmax = (1/4, 3/4),
    # data action 0: (-3/4, 3/4). A gradient step lowers Q(s, 1) and raises Q(s, 0).
    q_values = torch.tensor([[0.0, LN3]], requires_grad=True)
    cql_regularizer(q_values, torch.tensor([0]), alpha=1.0, temperature=1.0).backward()
    assert q_values.grad is not None
    np.testing.assert_allclose(q_values.grad.numpy(), [[-0.75, 0.75]], rtol=1e-6)


# ---- AWAC ---------------------------------------------------------------------------------
# Three transitions, gamma = 0.5; the last one is terminal.
#   expected next values sum_a' pi(a'|s') Q(s', a'): 0.5 * 1 + 0.5 * 3 = 2,
#   0.25 * 2 + 0.75 * 4 = 3.5, 1 * 5 + 0 * 7 = 5
#   targets: -1 + 0.5 * 2 = 0, -1 + 0.5 * 3.5 = 0.75, 0 (terminal: no bootstrap)
# (a max over the next actions would give 0.5 and 1 for the first two).


def test_awac_target_takes_the_expectation_over_the_policys_actions():
    targets = awac_target(
        rewards=torch.tensor([-1.0, -1.0, 0.0]),
        next_q_values=torch.tensor([[1.0, 3.0], [2.0, 4.0], [5.0, 7.0]]),
        next_action_probs=torch.tensor([[0.5, 0.5], [0.25, 0.75], [1.0, 0.0]]),
        terminated=torch.tensor([0.0, 0.0, 1.0]),
        gamma=0.5,
    )
    assert targets.shape == (3,)
    np.testing.assert_allclose(targets.numpy(), [0.0, 0.75, 0.0], atol=1e-6)


def test_awac_advantages_subtract_the_policys_average_value():
    # V = 0.5 * 1 + 0.5 * 3 = 2 and 0.25 * 2 + 0.75 * 4 = 3.5; Q(s, a) = 3 and 2:
    # advantages 1 and -1.5 (a greedy V, max Q, would give 0 and -2).
    advantages = awac_advantages(
        q_values=torch.tensor([[1.0, 3.0], [2.0, 4.0]]),
        actions=torch.tensor([1, 0]),
        action_probs=torch.tensor([[0.5, 0.5], [0.25, 0.75]]),
    )
    assert advantages.shape == (2,)
    np.testing.assert_allclose(advantages.numpy(), [1.0, -1.5], atol=1e-6)


def test_advantage_weighted_loss_values_and_temperature():
    # Advantages (0, 2 ln 2) at temperature 2: weights exp(0) = 1 and exp(ln 2) = 2.
    # log-probs ln 0.5 = -ln 2 and ln 0.25 = -2 ln 2: loss = -(1 * -ln 2 + 2 * -2 ln 2) / 2
    # = 2.5 ln 2.
    log_probs = torch.tensor([math.log(0.5), math.log(0.25)])
    advantages = torch.tensor([0.0, 2 * LN2])
    loss = advantage_weighted_loss(log_probs, advantages, temperature=2.0, max_weight=100.0)
    assert loss.shape == ()
    assert loss.item() == pytest.approx(2.5 * LN2, rel=1e-6)


def test_advantage_weights_are_clipped():
    # Advantage ln 1000: weight min(1000, 100) = 100. With log-probs (-1, -1):
    # loss = -(1 * -1 + 100 * -1) / 2 = 50.5.
    loss = advantage_weighted_loss(
        torch.tensor([-1.0, -1.0]), torch.tensor([0.0, math.log(1000.0)]), 1.0, max_weight=100.0
    )
    assert loss.item() == pytest.approx(50.5, rel=1e-6)


def test_advantage_weights_carry_no_gradient():
    # The gradient reaches the log-probs only: d loss / d log pi_i = -w_i / B = (-1/2, -1);
    # the advantages get none.
    log_probs = torch.tensor([-1.0, -2.0], requires_grad=True)
    advantages = torch.tensor([0.0, LN2], requires_grad=True)
    advantage_weighted_loss(log_probs, advantages, 1.0, 100.0).backward()
    assert log_probs.grad is not None
    np.testing.assert_allclose(log_probs.grad.numpy(), [-0.5, -1.0], rtol=1e-6)
    assert advantages.grad is None or not advantages.grad.any()


# ---- IQL ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expectile", "expected"),
    [
        # u = (2, -1): weights tau for u > 0, 1 - tau for u < 0.
        (0.9, (0.9 * 4 + 0.1 * 1) / 2),  # 1.85
        (0.1, (0.1 * 4 + 0.9 * 1) / 2),  # 0.65
        (0.5, (0.5 * 4 + 0.5 * 1) / 2),  # 1.25, half the mean squared error
    ],
)
def test_expectile_loss_weights_each_side(expectile, expected):
    loss = expectile_loss(torch.tensor([2.0, -1.0]), expectile)
    assert loss.shape == ()
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_expectile_loss_is_minimised_at_the_expectile():
    # Targets 0 and 1, tau = 0.9: the expectile e solves 0.9 (1 - e) = 0.1 (e - 0), e = 0.9.
    # The loss's gradient in the prediction is zero there, and negative below it (a descent
    # step raises the prediction).
    targets = torch.tensor([0.0, 1.0])
    for prediction, sign in ((0.9, 0.0), (0.5, -1.0)):
        value = torch.tensor(prediction, requires_grad=True)
        expectile_loss(targets - value, 0.9).backward()
        assert value.grad is not None
        if sign == 0.0:
            assert value.grad.item() == pytest.approx(0.0, abs=1e-6)
        else:
            assert value.grad.item() < -0.1


def test_iql_target_bootstraps_from_v_unless_terminated():
    # gamma = 0.5, V(s') = 4: -1 + 0.5 * 4 = 1, and -1 for the terminal transition.
    targets = iql_target(
        torch.tensor([-1.0, -1.0]), torch.tensor([4.0, 4.0]), torch.tensor([0.0, 1.0]), 0.5
    )
    np.testing.assert_allclose(targets.numpy(), [1.0, -1.0], atol=1e-6)


# ---- the agents ---------------------------------------------------------------------------

OBSERVATION_SPACE = gym.spaces.Box(0.0, 1.0, shape=(2,), dtype=np.float64)
ACTION_SPACE = gym.spaces.Discrete(5)
SMALL = OfflineConfig(n_layers=1, layer_size=8, gamma=0.5, target_update_period=3)
# Probabilities of a constant actor over the 5 actions, and their expectation of Q = (1..5):
# 0.4 * 1 + 0.3 * 2 + 0.1 * (3 + 4 + 5) = 2.2.
PROBS = [0.4, 0.3, 0.1, 0.1, 0.1]
TARGET_Q = [1.0, 2.0, 3.0, 4.0, 5.0]


def make_agent(cls, config=SMALL, seed=0):
    torch.manual_seed(seed)
    return cls(OBSERVATION_SPACE, ACTION_SPACE, config, torch.device("cpu"))


def set_constant(mlp: nn.Module, outputs) -> None:
    """Make ``mlp`` output ``outputs`` whatever its input: its last layer's weights zero and
    its bias ``outputs``."""
    last = [module for module in mlp.modules() if isinstance(module, nn.Linear)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.as_tensor(outputs, dtype=torch.float32))


def batch_of(size=4, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "observations": rng.random((size, 2)),
        "actions": rng.integers(5, size=size),
        "rewards": -np.ones(size),
        "next_observations": rng.random((size, 2)),
        "terminated": np.arange(size) == size - 1,
    }


def parameters(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


OBS = torch.tensor([[0.1, 0.2], [0.7, 0.3]])
ACTIONS = torch.tensor([1, 4])
REWARDS = torch.tensor([-1.0, -1.0])
TERMINATED = torch.tensor([0.0, 1.0])


def test_cql_critic_loss_is_dqns_plus_the_regularizer():
    # Q(s, .) = (0, 0, 0, 0, ln 4) for every s; data actions 1 and 4:
    # logsumexp = ln(4 + 4) = 3 ln 2; terms 3 ln 2 - 0 and 3 ln 2 - ln 4 = ln 2: mean 2 ln 2,
    # alpha = 0.5: ln 2 on top of DQN's loss.
    config = SMALL.replace(cql_alpha=0.5)
    cql, dqn = make_agent(CQLAgent, config), make_agent(DQNAgent, config)
    for agent in (cql, dqn):
        set_constant(agent.q_network.q_net, [0.0, 0.0, 0.0, 0.0, 2 * LN2])
    args = (OBS, ACTIONS, REWARDS, OBS, TERMINATED)
    cql_loss, tensors = cql.critic_loss(*args)
    dqn_loss, _ = dqn.critic_loss(*args)
    assert tensors["cql_regularizer"].item() == pytest.approx(LN2, rel=1e-5)
    assert cql_loss.item() == pytest.approx(dqn_loss.item() + LN2, rel=1e-5)


def test_awac_critic_target_uses_the_actors_probabilities_and_the_target_network():
    # Target network Q = (1..5), actor pi = PROBS: E[Q(s', .)] = 2.2.
    # targets: -1 + 0.5 * 2.2 = 0.1, and -1 (terminal). The online network (10 everywhere)
    # must not appear; the loss is the mean squared error of Q(s, a) = 10 against them.
    agent = make_agent(AWACAgent)
    set_constant(agent.q_network.q_net, [10.0] * 5)
    set_constant(agent.target_network.q_net, TARGET_Q)
    set_constant(agent.actor.logits_net, np.log(PROBS))
    loss, tensors = agent.critic_loss(OBS, ACTIONS, REWARDS, OBS, TERMINATED)
    np.testing.assert_allclose(tensors["targets"].numpy(), [0.1, -1.0], atol=1e-5)
    assert loss.item() == pytest.approx((9.9**2 + 11.0**2) / 2, rel=1e-5)


def test_awac_actor_loss_weights_the_data_actions_by_their_advantage():
    # Q = (1..5), pi = PROBS: V = 2.2; data actions 1 and 4: A = 2 - 2.2 = -0.2 and 5 - 2.2
    # = 2.8; log pi = ln 0.3 and ln 0.1; temperature 1:
    # loss = -(exp(-0.2) ln 0.3 + exp(2.8) ln 0.1) / 2.
    agent = make_agent(AWACAgent)
    set_constant(agent.q_network.q_net, TARGET_Q)
    set_constant(agent.actor.logits_net, np.log(PROBS))
    loss, advantages = agent.actor_loss(OBS, ACTIONS)
    np.testing.assert_allclose(advantages.numpy(), [-0.2, 2.8], atol=1e-5)
    expected = -(math.exp(-0.2) * math.log(0.3) + math.exp(2.8) * math.log(0.1)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert all(p.grad is None for p in agent.q_network.parameters())


def test_iql_value_is_regressed_toward_the_target_q_of_the_data_action():
    # Target network Q = (1..5), V = 0: u = Q_target(s, a) - V = 2 and 5 for actions 1 and 4,
    # both above V: loss = 0.9 * (4 + 25) / 2 = 13.05. Not toward a Bellman target (rewards
    # play no part), nor toward the online network (10 everywhere), nor toward max_a Q (5, 5).
    agent = make_agent(IQLAgent, SMALL.replace(expectile=0.9))
    set_constant(agent.q_network.q_net, [10.0] * 5)
    set_constant(agent.target_network.q_net, TARGET_Q)
    set_constant(agent.value_network.v_net, [0.0])
    loss, values = agent.value_loss(OBS, ACTIONS)
    np.testing.assert_allclose(values.detach().numpy(), [0.0, 0.0], atol=1e-6)
    assert loss.item() == pytest.approx(13.05, rel=1e-5)


def test_iql_critic_target_bootstraps_from_v_not_from_q():
    # V = 3 everywhere: targets -1 + 0.5 * 3 = 0.5 and -1 (terminal). The target network's
    # (1..5) would give -1 + 0.5 * 5 = 1.5 with a max. Q(s, a) = 2: loss (1.5^2 + 3^2) / 2.
    agent = make_agent(IQLAgent)
    set_constant(agent.q_network.q_net, [2.0] * 5)
    set_constant(agent.target_network.q_net, TARGET_Q)
    set_constant(agent.value_network.v_net, [3.0])
    loss, tensors = agent.critic_loss(OBS, ACTIONS, REWARDS, OBS, TERMINATED)
    np.testing.assert_allclose(tensors["targets"].numpy(), [0.5, -1.0], atol=1e-5)
    assert loss.item() == pytest.approx((1.5**2 + 3.0**2) / 2, rel=1e-5)


def test_iql_actor_advantage_is_target_q_minus_v():
    # Target network Q = (1..5), V = 3: A = 2 - 3 = -1 and 5 - 3 = 2 for actions 1 and 4.
    # The online network (10 everywhere) must not appear.
    agent = make_agent(IQLAgent)
    set_constant(agent.q_network.q_net, [10.0] * 5)
    set_constant(agent.target_network.q_net, TARGET_Q)
    set_constant(agent.value_network.v_net, [3.0])
    set_constant(agent.actor.logits_net, np.log(PROBS))
    loss, advantages = agent.actor_loss(OBS, ACTIONS)
    np.testing.assert_allclose(advantages.numpy(), [-1.0, 2.0], atol=1e-5)
    expected = -(math.exp(-1.0) * math.log(0.3) + math.exp(2.0) * math.log(0.1)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert all(p.grad is None for p in agent.value_network.parameters())


@pytest.mark.parametrize(
    ("cls", "trained"),
    [
        (DQNAgent, ("q_network",)),
        (CQLAgent, ("q_network",)),
        (AWACAgent, ("q_network", "actor")),
        (IQLAgent, ("q_network", "actor", "value_network")),
    ],
)
def test_update_trains_its_networks_and_copies_the_target_every_period(cls, trained):
    agent = make_agent(cls)
    target_before = parameters(agent.target_network)
    before = {name: parameters(getattr(agent, name)) for name in trained}
    for step in range(1, SMALL.target_update_period + 1):
        metrics = agent.update(batch_of(seed=step))
        assert all(math.isfinite(value) for value in metrics.values())
        if step < SMALL.target_update_period:
            assert same(parameters(agent.target_network), target_before)
    for name in trained:
        assert not same(parameters(getattr(agent, name)), before[name]), name
    # After target_update_period updates the target network is the Q-network's copy.
    assert same(parameters(agent.target_network), parameters(agent.q_network))
    assert "train/loss_critic" in metrics
    if cls in (AWACAgent, IQLAgent):
        assert "train/loss_actor" in metrics


def test_cql_with_alpha_zero_is_dqn_and_with_alpha_changes_the_update():
    batch = batch_of(size=16)
    dqn = make_agent(DQNAgent)
    dqn.update(batch)
    for alpha, equal in ((0.0, True), (1.0, False)):
        cql = make_agent(CQLAgent, SMALL.replace(cql_alpha=alpha))
        cql.update(batch)
        assert same(parameters(cql.q_network), parameters(dqn.q_network)) is equal


def test_act_follows_the_q_network_or_the_actor():
    # Q prefers action 4, the actor action 0: DQN acts on Q, AWAC and IQL on their actor.
    observations = np.random.default_rng(0).random((3, 2))
    for cls, expected in ((DQNAgent, 4), (CQLAgent, 4), (AWACAgent, 0), (IQLAgent, 0)):
        agent = make_agent(cls)
        set_constant(agent.q_network.q_net, TARGET_Q)
        if isinstance(agent, AWACAgent):
            set_constant(agent.actor.logits_net, np.log(PROBS))
        actions = agent.act(observations)
        assert actions.shape == (3,)
        np.testing.assert_array_equal(actions, [expected] * 3)


def test_same_seed_same_updates():
    first, second = make_agent(IQLAgent, seed=3), make_agent(IQLAgent, seed=3)
    for agent in (first, second):
        for step in range(2):
            agent.update(batch_of(seed=step))
    for name in ("q_network", "actor", "value_network"):
        assert same(parameters(getattr(first, name)), parameters(getattr(second, name)))


# ---- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("expectile", 1.0, "expected 0 < expectile < 1, got 1.0"),
        ("temperature", 0.0, "expected temperature > 0, got 0.0"),
        ("cql_alpha", -1.0, "expected cql_alpha >= 0, got -1.0"),
    ],
)
def test_config_rejects_bad_values(field, value, message):
    with pytest.raises(ValueError, match=message):
        OfflineConfig(**{field: value})


def test_agents_reject_continuous_actions_and_incomplete_batches():
    with pytest.raises(ValueError, match="expected a Discrete action space, got Box"):
        DQNAgent(OBSERVATION_SPACE, gym.spaces.Box(-1, 1, (2,)), SMALL, torch.device("cpu"))
    batch = batch_of()
    del batch["terminated"]
    with pytest.raises(KeyError, match=r"expected a batch with \['terminated'\]"):
        make_agent(DQNAgent).update(batch)


def test_state_dict_round_trip_resumes_the_same_updates():
    # An agent restored from another's state makes the same update as the original.
    original = make_agent(IQLAgent, seed=0)
    original.update(batch_of(seed=1))
    restored = make_agent(IQLAgent, seed=5)
    restored.load_state_dict(original.state_dict())
    assert restored.num_updates == 1
    for agent in (original, restored):
        agent.update(batch_of(seed=2))
    for name in ("q_network", "target_network", "actor", "value_network"):
        assert same(parameters(getattr(original, name)), parameters(getattr(restored, name)))
    with pytest.raises(KeyError, match="expected a DQNAgent state with"):
        make_agent(DQNAgent).load_state_dict(original.state_dict())

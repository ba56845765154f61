"""Tests of RND's maths on cases worked out by hand, of the explorers, and of the collection loop
(a few seconds in all)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from hw5_offline.config import ExploreConfig
from hw5_offline.envs import make_env
from hw5_offline.exploration import (
    RND,
    Collector,
    RandomExplorer,
    RNDExplorer,
    Transitions,
    make_explorer,
    normalized_bonus,
    rnd_error,
    rnd_loss,
    split_episodes,
    update_running_std,
)

TINY = ExploreConfig(
    env="PointmassEasy-v0",
    total_steps=120,
    learning_starts=40,
    batch_size=16,
    layer_size=16,
    rnd_layer_size=16,
    epsilon_steps=50,
)


# ---- RND's maths --------------------------------------------------------------------------


def test_rnd_error_sums_the_squared_differences_over_the_outputs():
    predictions = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    targets = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    # (1 - 0)^2 + (2 - 0)^2 = 5 and (0 - 3)^2 + (0 - 4)^2 = 25
    torch.testing.assert_close(rnd_error(predictions, targets), torch.tensor([5.0, 25.0]))


def test_the_error_of_hand_made_networks():
    rnd = RND(obs_dim=2, output_size=1, n_layers=0, size=1)  # one linear layer each
    target, predictor = rnd.target[0], rnd.predictor[0]
    assert isinstance(target, nn.Linear) and isinstance(predictor, nn.Linear)
    with torch.no_grad():
        target.weight.copy_(torch.tensor([[1.0, 0.0]]))  # f*(s) = x
        target.bias.fill_(0.0)
        predictor.weight.copy_(torch.tensor([[0.0, 2.0]]))  # f^(s) = 2y + 1
        predictor.bias.fill_(1.0)
    observations = torch.tensor([[0.5, 0.25], [1.0, 0.0]])
    # (2 * 0.25 + 1 - 0.5)^2 = 1 and (0 + 1 - 1)^2 = 0
    torch.testing.assert_close(rnd.errors(observations), torch.tensor([1.0, 0.0]))


def test_rnd_loss_is_the_mean_error_and_its_gradient_reaches_only_the_predictions():
    predictions = torch.tensor([[1.0, 2.0], [0.0, 0.0]], requires_grad=True)
    targets = torch.tensor([[0.0, 0.0], [3.0, 4.0]], requires_grad=True)
    loss = rnd_loss(predictions, targets)
    torch.testing.assert_close(loss, torch.tensor(15.0))  # (5 + 25) / 2
    loss.backward()
    # d/dp of (1/B) sum (p - t)^2 is 2 (p - t) / B, with B = 2
    torch.testing.assert_close(predictions.grad, torch.tensor([[1.0, 2.0], [-3.0, -4.0]]))
    assert targets.grad is None


def test_the_running_std_moves_toward_the_batch_std_by_one_minus_the_decay():
    errors = torch.tensor([0.0, 4.0])  # mean 2, standard deviation 2 (divided by B)
    assert update_running_std(1.0, errors, decay=0.9) == pytest.approx(0.9 * 1.0 + 0.1 * 2.0)
    assert update_running_std(3.0, errors, decay=0.5) == pytest.approx(2.5)
    assert update_running_std(1.0, errors, decay=1.0) == pytest.approx(1.0)


def test_the_bonus_is_the_error_over_the_running_std_without_gradient():
    errors = torch.tensor([2.0, 4.0, 0.5], requires_grad=True)
    bonuses = normalized_bonus(errors * 1.0, running_std=2.0)
    torch.testing.assert_close(bonuses, torch.tensor([1.0, 2.0, 0.25]))
    assert not bonuses.requires_grad and bonuses.grad_fn is None


# ---- the RND explorer ---------------------------------------------------------------------


def batch_at(observation: list[float], size: int = 8) -> dict[str, np.ndarray]:
    """A replay minibatch of ``size`` copies of one transition from and to ``observation``."""
    repeated = np.tile(np.array(observation), (size, 1))
    return {
        "observations": repeated,
        "actions": np.zeros(size, dtype=np.int64),
        "rewards": -np.ones(size, dtype=np.float32),
        "next_observations": repeated,
        "terminated": np.zeros(size, dtype=bool),
    }


def rnd_explorer(config: ExploreConfig = TINY, seed: int = 0) -> RNDExplorer:
    torch.manual_seed(seed)
    explorer = RNDExplorer(2, 5, config, torch.device("cpu"), np.random.default_rng(seed))
    return explorer


def test_updates_train_the_predictor_and_never_the_target():
    explorer = rnd_explorer()
    target_before = {k: v.clone() for k, v in explorer.rnd.target.state_dict().items()}
    predictor_before = {k: v.clone() for k, v in explorer.rnd.predictor.state_dict().items()}
    for _ in range(5):
        metrics = explorer.update(batch_at([0.3, 0.7]))
    for key, value in explorer.rnd.target.state_dict().items():
        torch.testing.assert_close(value, target_before[key], rtol=0, atol=0)
    assert all(not p.requires_grad for p in explorer.rnd.target.parameters())
    changed = [
        not torch.equal(value, predictor_before[key])
        for key, value in explorer.rnd.predictor.state_dict().items()
    ]
    assert all(changed)
    assert {"train/loss_rnd", "train/bonus_mean", "train/loss_critic"} <= set(metrics)


def test_the_bonus_of_a_state_trained_on_goes_down_and_stays_high_elsewhere():
    config = dataclasses.replace(TINY, rnd_learning_rate=1e-2, bonus_decay=1.0)  # sigma = 1
    explorer = rnd_explorer(config)
    state, elsewhere = torch.tensor([[0.1, 0.1]]), torch.tensor([[0.9, 0.9]])
    with torch.no_grad():
        before, before_elsewhere = explorer.rnd.errors(state), explorer.rnd.errors(elsewhere)
    for _ in range(100):
        explorer.update(batch_at([0.1, 0.1]))
    with torch.no_grad():
        after, after_elsewhere = explorer.rnd.errors(state), explorer.rnd.errors(elsewhere)
    assert after.item() < 0.01 * before.item()
    assert after_elsewhere.item() > 10 * after.item()
    assert before_elsewhere.item() > 0


@pytest.mark.parametrize("bootstrap_at_goal", [True, False])
def test_the_dqn_is_rewarded_by_the_normalised_bonus_of_the_next_state_alone(bootstrap_at_goal):
    explorer = rnd_explorer(dataclasses.replace(TINY, bootstrap_at_goal=bootstrap_at_goal))
    batch = batch_at([0.5, 0.5]) | {
        "next_observations": np.tile([0.2, 0.9], (8, 1)),
        "terminated": np.ones(8, dtype=bool),
    }
    with torch.no_grad():
        errors = explorer.rnd.errors(torch.tensor(batch["next_observations"], dtype=torch.float32))
    given = {}
    dqn_update = explorer.dqn.update

    def spy(observations, actions, rewards, next_observations, terminated):
        given["rewards"], given["terminated"] = rewards, terminated
        return dqn_update(observations, actions, rewards, next_observations, terminated)

    explorer.dqn.update = spy  # type: ignore[method-assign]
    explorer.update(batch)
    # b(s') with sigma after this batch; the environment's -1 is not in it
    torch.testing.assert_close(given["rewards"], errors / explorer.running_std)
    assert explorer.running_std == pytest.approx(0.99 * 1.0 + 0.01 * errors.std(correction=0))
    # the goal stops the bootstrap only when the config says so
    expected_mask = torch.full((8,), 0.0 if bootstrap_at_goal else 1.0)
    torch.testing.assert_close(given["terminated"], expected_mask)


def test_the_random_explorer_draws_every_action_uniformly():
    explorer = RandomExplorer(5, np.random.default_rng(0))
    actions = [explorer.act(np.zeros(2), step) for step in range(5000)]
    counts = np.bincount(actions, minlength=5)
    assert counts.min() > 900 and counts.max() < 1100  # 1000 each, std about 28
    assert explorer.update(batch_at([0.5, 0.5])) == {}


# ---- collection and episodes --------------------------------------------------------------


def test_flat_transitions_become_episodes_at_their_flags():
    observations = np.arange(10.0).reshape(5, 2) / 10
    next_observations = observations + 0.01
    transitions = Transitions(
        observations=observations,
        actions=np.array([0, 1, 2, 3, 4]),
        rewards=np.array([-1.0, 0.0, -1.0, -1.0, -1.0]),
        next_observations=next_observations,
        terminated=np.array([False, True, False, False, False]),
        truncated=np.array([False, False, False, True, False]),
    )
    episodes = split_episodes(transitions)
    assert [len(e) for e in episodes] == [2, 2, 1]
    first, second, last = episodes
    np.testing.assert_array_equal(first.observations, [*observations[:2], next_observations[1]])
    assert first.terminations.tolist() == [False, True]
    assert first.truncations.tolist() == [False, False]
    assert second.truncations.tolist() == [False, True]
    # cut by the step budget: truncated, with the true final observation
    assert last.truncations.tolist() == [True] and last.terminations.tolist() == [False]
    np.testing.assert_array_equal(last.observations, [observations[4], next_observations[4]])
    np.testing.assert_array_equal(np.concatenate([e.actions for e in episodes]), range(5))


def collect(config: ExploreConfig) -> Collector:
    torch.manual_seed(config.seed)
    env = make_env(config.env, config.seed)
    rng = np.random.default_rng(config.seed)
    collector = Collector(env, make_explorer(config, env, torch.device("cpu"), rng), config)
    collector.collect(config.total_steps + 10)  # the budget stops it
    return collector


@pytest.mark.parametrize("explorer", ["random", "rnd"])
def test_the_collection_loop_keeps_every_transition_with_the_environments_rewards(explorer):
    config = dataclasses.replace(TINY, explorer=explorer)
    collector = collect(config)
    data = collector.transitions()
    assert len(data) == config.total_steps == collector.steps
    assert set(np.unique(data.rewards)) <= {-1.0, 0.0}
    ends = data.terminated | data.truncated
    assert ends.sum() == collector.episodes > 0  # 50-step episodes on Easy
    # within an episode, each step starts where the previous one ended
    np.testing.assert_array_equal(
        data.observations[1:][~ends[:-1]], data.next_observations[:-1][~ends[:-1]]
    )
    episodes = split_episodes(data)
    assert sum(len(e) for e in episodes) == config.total_steps
    assert len(collector.positions()) == config.total_steps + 1


def test_the_rnd_explorer_learns_during_collection_and_is_deterministic():
    config = dataclasses.replace(TINY, explorer="rnd")
    first, second = collect(config), collect(config)
    np.testing.assert_array_equal(first.transitions().actions, second.transitions().actions)
    assert isinstance(first.explorer, RNDExplorer)
    assert first.explorer.dqn.num_updates == config.total_steps - config.learning_starts

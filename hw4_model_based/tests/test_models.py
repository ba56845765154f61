"""Public tests of homework 4, the dynamics ensemble: run ``pytest hw4_model_based/tests`` after
each piece you write.

Most cases use an ensemble of 2 members on a 1-D observation and a 1-D action, with weights
set by hand, so that every expected value is worked out in the comment beside it.
"""

from __future__ import annotations

import pytest
import torch

from hw4_model_based.models import (
    DynamicsEnsemble,
    bootstrap_indices,
    mean_and_std,
    update_ensemble,
)


def hand_ensemble(n_layers: int = 0) -> DynamicsEnsemble:
    """2 members, obs_dim = action_dim = 1, statistics obs (1, 2), action (0, 0.5), delta
    (0.5, 2) as (mean, std).

    n_layers = 0 (one linear layer, input (s^, a^)):
        member 0: f = s^ + a^          member 1: f = 2 s^ - a^ + 0.5
    n_layers = 1 (hidden width 1, ReLU):
        member 0: f = 5 relu(s^ - a^) + 0.25     member 1: f = -relu(s^ + a^)
    """
    ensemble = DynamicsEnsemble(1, 1, ensemble_size=2, n_layers=n_layers, size=1)
    with torch.no_grad():
        ensemble.obs_mean.fill_(1.0)
        ensemble.obs_std.fill_(2.0)
        ensemble.action_mean.fill_(0.0)
        ensemble.action_std.fill_(0.5)
        ensemble.delta_mean.fill_(0.5)
        ensemble.delta_std.fill_(2.0)
        if n_layers == 0:
            ensemble.weights[0].copy_(torch.tensor([[[1.0], [1.0]], [[2.0], [-1.0]]]))
            ensemble.biases[0].copy_(torch.tensor([[[0.0]], [[0.5]]]))
        else:
            ensemble.weights[0].copy_(torch.tensor([[[1.0], [-1.0]], [[1.0], [1.0]]]))
            ensemble.biases[0].zero_()
            ensemble.weights[1].copy_(torch.tensor([[[5.0]], [[-1.0]]]))
            ensemble.biases[1].copy_(torch.tensor([[[0.25]], [[0.0]]]))
    return ensemble


# s = 3 and a = 1 for both members: s^ = (3 - 1) / 2 = 1, a^ = (1 - 0) / 0.5 = 2.
OBS = torch.tensor([[[3.0]], [[3.0]]])  # (E=2, B=1, obs_dim=1)
ACTIONS = torch.tensor([[[1.0]], [[1.0]]])


# ---- normalisation statistics -------------------------------------------------------------


def test_mean_and_std_divides_by_the_batch_size_and_floors_the_std():
    x = torch.tensor([[1.0, 5.0], [3.0, 5.0]])
    mean, std = mean_and_std(x, min_std=0.1)
    # column 0: mean 2, std sqrt(((1-2)^2 + (3-2)^2) / 2) = 1; column 1 never changes: std 0 -> 0.1
    torch.testing.assert_close(mean, torch.tensor([2.0, 5.0]))
    torch.testing.assert_close(std, torch.tensor([1.0, 0.1]))


def test_update_statistics_fits_observations_actions_and_state_changes():
    ensemble = DynamicsEnsemble(2, 1, ensemble_size=3, n_layers=1, size=4, min_std=1e-3)
    buffers = {name: tensor for name, tensor in ensemble.named_buffers()}
    obs = torch.tensor([[0.0, 1.0], [2.0, 1.0]])
    actions = torch.tensor([[1.0], [-1.0]])
    next_obs = torch.tensor([[1.0, 1.0], [5.0, 1.0]])
    ensemble.update_statistics(obs, actions, next_obs)
    # deltas: (1, 0) and (3, 0): mean (2, 0), std (1, 0 -> floor 1e-3)
    expected = {
        "obs_mean": [1.0, 1.0],
        "obs_std": [1.0, 1e-3],
        "action_mean": [0.0],
        "action_std": [1.0],
        "delta_mean": [2.0, 0.0],
        "delta_std": [1.0, 1e-3],
    }
    for name, values in expected.items():
        torch.testing.assert_close(getattr(ensemble, name), torch.tensor(values), msg=name)
        assert getattr(ensemble, name) is buffers[name], f"{name}: write into the buffer in place"


# ---- forward pass and predictions -----------------------------------------------------------


def test_forward_normalises_the_inputs_and_runs_every_member_with_its_own_weights():
    # member 0: s^ + a^ = 1 + 2 = 3;  member 1: 2 * 1 - 2 + 0.5 = 0.5
    out = hand_ensemble(n_layers=0)(OBS, ACTIONS)
    torch.testing.assert_close(out, torch.tensor([[[3.0]], [[0.5]]]))


def test_forward_applies_the_activation_after_hidden_layers_only():
    # member 0: 5 relu(1 - 2) + 0.25 = 0.25 (without the ReLU: -4.75)
    # member 1: -relu(1 + 2) = -3 (a ReLU after the last layer would give 0)
    out = hand_ensemble(n_layers=1)(OBS, ACTIONS)
    torch.testing.assert_close(out, torch.tensor([[[0.25]], [[-3.0]]]))


def test_forward_keeps_each_members_batch_apart():
    ensemble = DynamicsEnsemble(3, 2, ensemble_size=4, n_layers=2, size=8)
    obs, actions = torch.randn(4, 5, 3), torch.randn(4, 5, 2)
    out = ensemble(obs, actions)
    assert out.shape == (4, 5, 3)
    # changing member 2's inputs changes member 2's outputs only
    obs2 = obs.clone()
    obs2[2] += 1.0
    changed = (ensemble(obs2, actions) - out).abs().amax(dim=(1, 2))
    assert changed[2] > 0 and torch.all(changed[[0, 1, 3]] == 0)


def test_predict_un_normalises_the_state_change_and_adds_it_to_the_state():
    # s' = s + mu_delta + sigma_delta f:  3 + 0.5 + 2 * 3 = 9.5  and  3 + 0.5 + 2 * 0.5 = 4.5
    next_obs = hand_ensemble(n_layers=0).predict(OBS, ACTIONS)
    torch.testing.assert_close(next_obs, torch.tensor([[[9.5]], [[4.5]]]))


# ---- loss and training step ----------------------------------------------------------------


def test_loss_compares_with_the_normalised_state_change_and_has_its_gradient():
    ensemble = hand_ensemble(n_layers=0)
    next_obs = torch.tensor([[[4.5]], [[6.5]]])
    # targets (s' - s - 0.5) / 2: (4.5 - 3 - 0.5) / 2 = 0.5 and (6.5 - 3 - 0.5) / 2 = 1.5
    # errors f - target: 3 - 0.5 = 2.5 and 0.5 - 1.5 = -1;  loss (2.5^2 + 1^2) / 2 = 3.625
    loss = ensemble.loss(OBS, ACTIONS, next_obs)
    assert loss.item() == pytest.approx(3.625)
    loss.backward()
    # d loss / d bias_e = 2 * error_e / (E B d) = error_e: 2.5 and -1
    torch.testing.assert_close(ensemble.biases[0].grad, torch.tensor([[[2.5]], [[-1.0]]]))
    # d loss / d W_e = error_e * (s^, a^) = error_e * (1, 2)
    expected = torch.tensor([[[2.5], [5.0]], [[-1.0], [-2.0]]])
    torch.testing.assert_close(ensemble.weights[0].grad, expected)


def test_bootstrap_indices_are_drawn_with_replacement_for_each_member():
    indices = bootstrap_indices(5, 3, 200, torch.Generator().manual_seed(0))
    assert indices.shape == (3, 200) and indices.dtype == torch.long
    assert indices.min() >= 0 and indices.max() < 5
    expected = torch.randint(5, (3, 200), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(indices, expected)  # one call: reproducible from the seed
    assert not torch.equal(indices[0], indices[1]), "each member draws its own minibatch"
    assert len(indices[0].unique()) == 5  # 200 draws from 5 transitions repeat them all


def test_update_ensemble_steps_each_member_on_its_own_minibatch():
    ensemble = hand_ensemble(n_layers=0)
    # three transitions from s = 3, a = 1 with next states 4.5, 6.5 and 8.5
    obs, actions = torch.full((3, 1), 3.0), torch.full((3, 1), 1.0)
    next_obs = torch.tensor([[4.5], [6.5], [8.5]])
    indices = torch.tensor([[0], [1]])  # member 0 sees transition 0, member 1 transition 1
    optimizer = torch.optim.SGD(ensemble.parameters(), lr=0.1)
    for p in ensemble.parameters():  # stale gradients must be cleared, not added to
        p.grad = torch.full_like(p, 100.0)
    loss = update_ensemble(ensemble, optimizer, obs, actions, next_obs, indices)
    # the loss of test_loss_...: 3.625 before the step; bias gradients 2.5 and -1
    assert loss == pytest.approx(3.625)
    torch.testing.assert_close(ensemble.biases[0], torch.tensor([[[-0.25]], [[0.6]]]))
    # weights: (1, 1) - 0.1 * 2.5 * (1, 2) and (2, -1) - 0.1 * (-1) * (1, 2)
    expected = torch.tensor([[[0.75], [0.5]], [[2.1], [-0.8]]])
    torch.testing.assert_close(ensemble.weights[0], expected)


def test_an_ensemble_of_size_zero_is_refused():
    with pytest.raises(ValueError, match="expected ensemble_size >= 1, got 0"):
        DynamicsEnsemble(2, 1, ensemble_size=0, n_layers=1, size=4)

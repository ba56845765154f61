"""Public tests of homework 4, planning: predicted returns, random shooting, CEM and the MPC
policy. Each expected value below is worked out by hand in the comment beside it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hw4_model_based.models import DynamicsEnsemble
from hw4_model_based.planning import (
    MPCPolicy,
    cem,
    cem_refit,
    predicted_returns,
    random_shooting,
)


def line_ensemble() -> DynamicsEnsemble:
    """2 members on a 1-D state and action, statistics left at mean 0 and std 1, so that
    s' = s + f: member 0 moves by a (s' = s + a), member 1 by twice a (s' = s + 2a)."""
    ensemble = DynamicsEnsemble(1, 1, ensemble_size=2, n_layers=0, size=1)
    with torch.no_grad():
        ensemble.weights[0].copy_(torch.tensor([[[0.0], [1.0]], [[0.0], [2.0]]]))
        ensemble.biases[0].zero_()
    return ensemble


def reward(obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    """r(s, a, s') = s - s'^2, batched."""
    return obs[..., 0] - next_obs[..., 0] ** 2


def line_policy(ensemble: DynamicsEnsemble | None = None) -> MPCPolicy:
    """Random shooting (10 sequences of horizon 3, actions in [-1, 1]) on ``ensemble``, by
    default :func:`line_ensemble`, with :func:`reward`."""
    return MPCPolicy(
        line_ensemble() if ensemble is None else ensemble,
        reward,
        np.array([-1.0]),
        np.array([1.0]),
        "random",
        horizon=3,
        num_sequences=10,
        generator=torch.Generator(),
    )


# ---- predicted returns ------------------------------------------------------------------------


def test_predicted_returns_are_the_mean_over_members_of_each_members_return():
    # From s0 = 1, r = s - s'^2.
    # A1 = (1, -0.5):  member 0: s = 1 -> 2 -> 1.5, r = (1 - 4) + (2 - 2.25) = -3.25
    #                  member 1: s = 1 -> 3 -> 2,   r = (1 - 9) + (3 - 4) = -9;   mean -6.125
    #   (the mean of the members' *states*, 1 -> 2.5 -> 1.75, would give -5.8125)
    # A2 = (-0.5, 0):  member 0: s = 1 -> 0.5 -> 0.5, r = 0.75 + 0.25 = 1
    #                  member 1: s = 1 -> 0 -> 0,     r = 1 + 0 = 1;              mean 1
    sequences = torch.tensor([[[1.0], [-0.5]], [[-0.5], [0.0]]])  # (N=2, H=2, 1)
    returns = predicted_returns(line_ensemble(), reward, torch.tensor([1.0]), sequences)
    torch.testing.assert_close(returns, torch.tensor([-6.125, 1.0]))


# ---- random shooting ------------------------------------------------------------------------


class Recorder:
    """A returns function, J(A) = -sum (A - 0.3)^2, that keeps every batch it scores."""

    def __init__(self) -> None:
        self.calls: list[torch.Tensor] = []

    def __call__(self, action_sequences: torch.Tensor) -> torch.Tensor:
        self.calls.append(action_sequences.clone())
        return -((action_sequences - 0.3) ** 2).sum(dim=(1, 2))


LOW, HIGH = torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 2.0])


def test_random_shooting_returns_the_best_of_uniform_sequences():
    returns_fn = Recorder()
    best = random_shooting(returns_fn, LOW, HIGH, 500, 3, torch.Generator().manual_seed(0))
    assert len(returns_fn.calls) == 1, "one batch of N sequences, scored at once"
    candidates = returns_fn.calls[0]
    expected = LOW + (HIGH - LOW) * torch.rand(
        (500, 3, 2), generator=torch.Generator().manual_seed(0)
    )
    torch.testing.assert_close(candidates, expected)  # uniform in the bounds, one draw
    scores = returns_fn(candidates)
    torch.testing.assert_close(best, candidates[scores.argmax()])
    assert scores.max() > scores.min()


# ---- the cross-entropy method -----------------------------------------------------------------


def test_cem_refit_fits_the_elites_and_weighs_the_fit_by_alpha():
    sequences = torch.tensor([0.0, 1.0, 2.0, 3.0]).reshape(4, 1, 1)  # N=4, H=1, action_dim=1
    returns = torch.tensor([0.0, 3.0, 1.0, 2.0])
    old_mean, old_std = torch.zeros(1, 1), torch.full((1, 1), 4.0)
    # the 2 elites are the sequences of returns 3 and 2: values 1 and 3, mean 2, std 1
    mean, std = cem_refit(sequences, returns, 2, old_mean, old_std, alpha=1.0)
    torch.testing.assert_close(mean, torch.tensor([[2.0]]))
    torch.testing.assert_close(std, torch.tensor([[1.0]]))
    # alpha = 0.75: mean 0.75 * 2 + 0.25 * 0 = 1.5, std 0.75 * 1 + 0.25 * 4 = 1.75
    mean, std = cem_refit(sequences, returns, 2, old_mean, old_std, alpha=0.75)
    torch.testing.assert_close(mean, torch.tensor([[1.5]]))
    torch.testing.assert_close(std, torch.tensor([[1.75]]))


def test_cem_samples_in_the_bounds_and_refits_on_each_iteration():
    returns_fn = Recorder()
    mean = cem(returns_fn, LOW, HIGH, 50, 3, 1, 10, 1.0, torch.Generator().manual_seed(0))
    assert len(returns_fn.calls) == 1
    first = returns_fn.calls[0]
    assert first.shape == (50, 3, 2)
    assert torch.all(first >= LOW) and torch.all(first <= HIGH), "samples are clipped"
    # one iteration with alpha = 1: the plan is the mean of the 10 best of the first draw
    elites = first[returns_fn(first).topk(10).indices]
    torch.testing.assert_close(mean, elites.mean(dim=0))


def test_cem_converges_to_the_best_sequence():
    returns_fn = Recorder()
    mean = cem(returns_fn, LOW, HIGH, 200, 3, 6, 20, 1.0, torch.Generator().manual_seed(0))
    assert len(returns_fn.calls) == 6
    assert mean.shape == (3, 2)
    # J is largest at A = 0.3 everywhere (inside the bounds); the elites close in on it
    assert torch.all((mean - 0.3).abs() < 0.05), mean


# ---- the MPC policy ---------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["random", "cem"])
def test_the_policy_returns_one_action_in_the_bounds_per_observation(strategy):
    policy = MPCPolicy(
        line_ensemble(),
        reward,
        np.array([-1.0]),
        np.array([1.0]),
        strategy,
        horizon=3,
        num_sequences=100,
        generator=torch.Generator().manual_seed(0),
    )
    actions = policy(np.array([[0.5], [-0.2], [0.0]]))
    assert actions.shape == (3, 1) and np.all(np.abs(actions) <= 1.0)
    assert policy.last_plan is not None and policy.last_plan.shape == (3, 1)


def test_a_nan_from_the_model_stops_the_planner_with_a_message():
    ensemble = line_ensemble()
    with torch.no_grad():
        ensemble.biases[0][1] = float("nan")
    policy = line_policy(ensemble)
    with pytest.raises(FloatingPointError, match="planning: expected finite predicted returns"):
        policy(np.zeros((1, 1)))


def test_the_policy_gives_the_predicted_returns_of_given_sequences():
    policy = line_policy()
    # the two sequences of the predicted_returns test above, from s0 = 1: -6.125 and 1
    sequences = np.array([[[1.0], [-0.5]], [[-0.5], [0.0]]])
    np.testing.assert_allclose(policy.predicted_returns(np.array([1.0]), sequences), [-6.125, 1.0])
    # H = 1, N = 1, a = 0.5: member 0 goes to 1.5, r = 1 - 2.25 = -1.25; member 1 to 2,
    # r = 1 - 4 = -3; the mean -2.125 (their sum, -4.25, would rank plans the same)
    returns = policy.predicted_returns(np.array([1.0]), np.array([[[0.5]]]))
    assert returns.shape == (1,)
    np.testing.assert_allclose(returns, [-2.125])


def test_the_policys_predicted_returns_say_which_shape_they_expected():
    policy = line_policy()
    with pytest.raises(ValueError, match=r"expected action sequences of shape \(N, H, 1\)"):
        policy.predicted_returns(np.array([1.0]), np.zeros((4, 1)))
    with pytest.raises(ValueError, match=r"expected an observation of shape \(1,\)"):
        policy.predicted_returns(np.zeros((1, 1)), np.zeros((4, 2, 1)))

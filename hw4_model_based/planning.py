"""Model-predictive control with a learned ensemble: score candidate action sequences under
the models, pick one by random shooting or by the cross-entropy method, execute its first
action, and plan again at the next step.

Notation (lecture): the current observation :math:`s_0`, a candidate action sequence
:math:`A = (a_0, \\dots, a_{H-1})` of horizon :math:`H`, the ensemble's members
:math:`f_{\\theta_1}, \\dots, f_{\\theta_E}` and the environment's reward
:math:`r(s, a, s')`. Member :math:`e` predicts the states :math:`s^e_{t+1} = f_{\\theta_e}(s^e_t,
a_t)` from :math:`s^e_0 = s_0`, and the planner maximises

.. math::

    J(A) = \\frac1E \\sum_{e=1}^{E} \\sum_{t=0}^{H-1} r(s^e_t, a_t, s^e_{t+1})

the mean over members of each member's predicted return (averaging the returns, not the
states: a mean of the members' states can be a state none of them predicts).

MPC executes :math:`a_0` of the best sequence found, observes the true next state, and plans
again from it: the model's errors never compound past one step of real execution.

The functions between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` are yours to write;
everything else is given.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from hw4_model_based.models import DynamicsEnsemble
from infrastructure.torch_utils import check_shape, to_numpy, to_torch

STRATEGIES = ("random", "cem")
"""Action selection: random shooting or the cross-entropy method."""

RewardFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
"""``reward_fn(obs (..., o), action (..., a), next_obs (..., o)) -> reward (...)``."""
ReturnsFn = Callable[[torch.Tensor], torch.Tensor]
"""Predicted returns of candidate sequences: ``(N, H, a) -> (N,)``."""

# ---------------------------------------------------------------------------------------------
# Scoring candidate sequences under the ensemble
# ---------------------------------------------------------------------------------------------


def predicted_returns(
    ensemble: DynamicsEnsemble,
    reward_fn: RewardFn,
    observation: torch.Tensor,
    action_sequences: torch.Tensor,
) -> torch.Tensor:
    """:math:`J(A)` of each of N candidate sequences: every sequence under every member at
    once, then the mean over members of the predicted returns.

    Start every member and every sequence from ``observation`` (``expand`` it to
    ``(E, N, obs_dim)``), then for :math:`t = 0, \\dots, H-1`: predict the next states of all
    members with :meth:`DynamicsEnsemble.predict` on the actions :math:`a_t` of every sequence
    (the same actions for every member), add ``reward_fn(s_t, a_t, s_{t+1})``, shape
    ``(E, N)``, to each member's return, and go on from the predicted states. Only the loop over
    time steps is a Python loop.

    Rewards after a predicted terminal state still count, as in Berkeley CS 285's planner: of
    hw4's environments only Obstacles-v0 terminates, at its goal, where its reward (minus the
    distance to the goal) is already close to its best, so the best plans are the same.

    Args:
        ensemble: the dynamics models.
        reward_fn: the environment's reward, batched over any leading dimensions.
        observation: shape ``(obs_dim,)``, :math:`s_0`.
        action_sequences: shape ``(N, H, action_dim)``, the candidates :math:`A`.

    Returns:
        shape ``(N,)``, :math:`J(A)` of each sequence.
    """
    ### BEGIN SOLUTION
    num_sequences, horizon, _ = action_sequences.shape
    shape = (ensemble.ensemble_size, num_sequences)
    observations = observation.expand(*shape, -1)
    returns = torch.zeros(shape, dtype=observation.dtype, device=observation.device)
    for t in range(horizon):
        actions = action_sequences[:, t].expand(*shape, -1)
        next_observations = ensemble.predict(observations, actions)
        returns = returns + reward_fn(observations, actions, next_observations)
        observations = next_observations
    return returns.mean(dim=0)
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Random shooting
# ---------------------------------------------------------------------------------------------


def random_shooting(
    returns_fn: ReturnsFn,
    low: torch.Tensor,
    high: torch.Tensor,
    num_sequences: int,
    horizon: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """The best of N action sequences drawn uniformly in the action bounds ("guess and check").

    Draw the sequences with one call, ``low + (high - low) * torch.rand((num_sequences,
    horizon, action_dim), generator=generator)``, so that the same generator state gives the
    same candidates; score them with ``returns_fn``; return the one of highest predicted return.

    Args:
        returns_fn: :math:`J`, maps sequences ``(N, H, action_dim)`` to returns ``(N,)``.
        low: shape ``(action_dim,)``, the lower action bounds.
        high: shape ``(action_dim,)``, the upper action bounds.
        num_sequences: :math:`N`.
        horizon: :math:`H`.
        generator: the generator of the draw.

    Returns:
        shape ``(H, action_dim)``, :math:`\\arg\\max_A J(A)` over the candidates.
    """
    ### BEGIN SOLUTION
    shape = (num_sequences, horizon, low.shape[0])
    action_sequences = low + (high - low) * torch.rand(shape, generator=generator)
    returns = returns_fn(action_sequences)
    return action_sequences[returns.argmax()]
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# The cross-entropy method
# ---------------------------------------------------------------------------------------------


def cem_refit(
    action_sequences: torch.Tensor,
    returns: torch.Tensor,
    num_elites: int,
    mean: torch.Tensor,
    std: torch.Tensor,
    alpha: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One refit of CEM's sampling distribution: fit a Gaussian to the elites, the
    ``num_elites`` sequences of highest return, and blend it with the current one.

    .. math::

        \\mu \\leftarrow \\alpha \\, \\mathrm{mean}(\\text{elites}) + (1 - \\alpha) \\, \\mu,
        \\qquad
        \\sigma \\leftarrow \\alpha \\, \\mathrm{std}(\\text{elites}) + (1 - \\alpha) \\, \\sigma

    per time step and action dimension, the std over the elites dividing by their number
    (``unbiased=False``). :math:`\\alpha` weighs the *new* fit, as in Berkeley CS 285's
    ``cem_alpha``: :math:`\\alpha = 1` replaces the distribution by the elites' fit, a smaller
    :math:`\\alpha` moves it there more slowly.

    Args:
        action_sequences: shape ``(N, H, action_dim)``, the sequences sampled this iteration.
        returns: shape ``(N,)``, their predicted returns.
        num_elites: :math:`1 \\le k \\le N`.
        mean: shape ``(H, action_dim)``, :math:`\\mu` they were sampled with.
        std: shape ``(H, action_dim)``, :math:`\\sigma` they were sampled with.
        alpha: :math:`0 < \\alpha \\le 1`.

    Returns:
        ``(mean, std)``, each of shape ``(H, action_dim)``.
    """
    ### BEGIN SOLUTION
    elites = action_sequences[returns.topk(num_elites).indices]
    new_mean = alpha * elites.mean(dim=0) + (1 - alpha) * mean
    new_std = alpha * elites.std(dim=0, unbiased=False) + (1 - alpha) * std
    return new_mean, new_std
    ### END SOLUTION


def cem(
    returns_fn: ReturnsFn,
    low: torch.Tensor,
    high: torch.Tensor,
    num_sequences: int,
    horizon: int,
    iterations: int,
    num_elites: int,
    alpha: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """An action sequence found by the cross-entropy method: sample, keep the elites, refit,
    repeat; the plan is the final mean.

    Start from :math:`\\mu` in the middle of the bounds, ``(low + high) / 2``, and
    :math:`\\sigma` half their range, ``(high - low) / 2``, at every time step (shape
    ``(H, action_dim)``). Each of ``iterations`` iterations: draw N sequences with one call,
    ``mean + std * torch.randn((num_sequences, horizon, action_dim), generator=generator)``,
    clip them to the bounds, score them with ``returns_fn``, and refit with :func:`cem_refit`.

    Args:
        returns_fn: :math:`J`, maps sequences ``(N, H, action_dim)`` to returns ``(N,)``.
        low: shape ``(action_dim,)``, the lower action bounds.
        high: shape ``(action_dim,)``, the upper action bounds.
        num_sequences: :math:`N`, sequences per iteration.
        horizon: :math:`H`.
        iterations: number of sample-and-refit iterations, at least 1.
        num_elites: :math:`k`, sequences each refit keeps.
        alpha: the refit's :math:`\\alpha`.
        generator: the generator of the draws.

    Returns:
        shape ``(H, action_dim)``, the final mean :math:`\\mu`.
    """
    ### BEGIN SOLUTION
    shape = (num_sequences, horizon, low.shape[0])
    mean = ((low + high) / 2).expand(horizon, -1)
    std = ((high - low) / 2).expand(horizon, -1)
    for _ in range(iterations):
        noise = torch.randn(shape, generator=generator)
        action_sequences = torch.clamp(mean + std * noise, low, high)
        returns = returns_fn(action_sequences)
        mean, std = cem_refit(action_sequences, returns, num_elites, mean, std, alpha)
    return mean
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# The MPC policy
# ---------------------------------------------------------------------------------------------


class MPCPolicy:
    """Plans from each observation it is given and returns the first action of the plan.

    A policy in the sampler's sense: it maps observations ``(n, obs_dim)`` to actions
    ``(n, action_dim)``, one plan per observation. :attr:`last_plan` keeps the last plan
    (for pictures of planned paths).

    Args:
        ensemble: the dynamics models.
        reward_fn: the environment's batched reward.
        low: shape ``(action_dim,)``, the lower action bounds.
        high: shape ``(action_dim,)``, the upper action bounds.
        strategy: ``"random"`` (random shooting) or ``"cem"``.
        horizon: :math:`H`.
        num_sequences: :math:`N`.
        generator: the generator of every draw of the planner.
        cem_iterations: CEM's iterations.
        cem_num_elites: CEM's elites per refit.
        cem_alpha: CEM's :math:`\\alpha`.
    """

    def __init__(
        self,
        ensemble: DynamicsEnsemble,
        reward_fn: RewardFn,
        low: np.ndarray,
        high: np.ndarray,
        strategy: str,
        horizon: int,
        num_sequences: int,
        generator: torch.Generator,
        cem_iterations: int = 4,
        cem_num_elites: int = 5,
        cem_alpha: float = 1.0,
    ):
        if strategy not in STRATEGIES:
            raise ValueError(f"expected strategy in {STRATEGIES}, got {strategy!r}")
        self.ensemble = ensemble
        self.reward_fn = reward_fn
        self.device = next(ensemble.parameters()).device
        self.low = to_torch(low, self.device)
        self.high = to_torch(high, self.device)
        self.strategy = strategy
        self.horizon = horizon
        self.num_sequences = num_sequences
        self.generator = generator
        self.cem_iterations = cem_iterations
        self.cem_num_elites = cem_num_elites
        self.cem_alpha = cem_alpha
        self.last_plan: np.ndarray | None = None

    def _returns_fn(self, observation: torch.Tensor) -> ReturnsFn:
        """:func:`predicted_returns` from ``observation``, its result's shape and values
        checked: a NaN from the model stops the run here, with a message, rather than making
        every candidate look equally good."""

        def returns_fn(action_sequences: torch.Tensor) -> torch.Tensor:
            returns = predicted_returns(
                self.ensemble, self.reward_fn, observation, action_sequences
            )
            returns = check_shape(returns, (len(action_sequences),), "predicted_returns")
            if not torch.isfinite(returns).all():
                raise FloatingPointError(
                    "planning: expected finite predicted returns, got "
                    f"{int((~torch.isfinite(returns)).sum())} of {len(returns)} NaN or infinite; "
                    "the ensemble's weights or normalisation statistics are not finite (try a "
                    "smaller --learning-rate)"
                )
            return returns

        return returns_fn

    @torch.no_grad()
    def predicted_returns(
        self, observation: np.ndarray, action_sequences: np.ndarray
    ) -> np.ndarray:
        """:math:`J(A)` of given action sequences from one observation, shape ``(N,)``: the
        numbers the planner ranks, by the same :func:`predicted_returns` and checks.

        For looking at the model's optimism: print the predicted return of :attr:`last_plan`
        (``policy.predicted_returns(observation, policy.last_plan[None])``) beside the return
        the environment then gives. The grader calls it too, since only its values, not the
        ranking of a plan, show a return scaled by a constant.

        Args:
            observation: shape ``(obs_dim,)``, :math:`s_0`.
            action_sequences: shape ``(N, H, action_dim)``, the sequences :math:`A`.

        Returns:
            shape ``(N,)``, :math:`J(A)` of each sequence.
        """
        observation, action_sequences = np.asarray(observation), np.asarray(action_sequences)
        obs_dim = self.ensemble.obs_dim
        if observation.shape != (obs_dim,):
            raise ValueError(
                f"expected an observation of shape ({obs_dim},), got {observation.shape}"
            )
        if action_sequences.ndim != 3 or action_sequences.shape[2] != len(self.low):
            raise ValueError(
                f"expected action sequences of shape (N, H, {len(self.low)}), got "
                f"{action_sequences.shape}"
            )
        returns_fn = self._returns_fn(to_torch(observation, self.device))
        return to_numpy(returns_fn(to_torch(action_sequences, self.device)))

    @torch.no_grad()
    def plan(self, observation: np.ndarray) -> np.ndarray:
        """The action sequence planned from one observation, shape ``(H, action_dim)``."""
        returns_fn = self._returns_fn(to_torch(observation, self.device))
        if self.strategy == "random":
            plan = random_shooting(
                returns_fn, self.low, self.high, self.num_sequences, self.horizon, self.generator
            )
        else:
            plan = cem(
                returns_fn,
                self.low,
                self.high,
                self.num_sequences,
                self.horizon,
                self.cem_iterations,
                self.cem_num_elites,
                self.cem_alpha,
                self.generator,
            )
        name = "random_shooting" if self.strategy == "random" else "cem"
        plan = check_shape(plan, (self.horizon, len(self.low)), name)
        self.last_plan = to_numpy(plan)
        return self.last_plan

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        """The first action of a fresh plan from each observation, shape
        ``(n, action_dim)``: MPC executes one action, then plans again."""
        actions = [self.plan(observation)[0] for observation in observations]
        return np.stack(actions).astype(np.float32)

"""Model-based policy optimisation (MBPO; Janner et al., 2019, "When to trust your model",
algorithm 2), top to bottom: one model step under a member per rollout, short model rollouts
branched from real states, filling the model buffer, and SAC's minibatches mixed from real and
model data.

Notation (lecture): the real replay buffer :math:`\\mathcal D_{env}`, the model buffer
:math:`\\mathcal D_{model}`, the ensemble :math:`f_{\\theta_1}, \\dots, f_{\\theta_E}`, the SAC
actor :math:`\\pi_\\phi`. Every ``model_train_every`` environment steps the ensemble is fitted to
:math:`\\mathcal D_{env}`, then :math:`M` states are drawn from :math:`\\mathcal D_{env}` and from
each one the model plays :math:`k` steps with the actor:

.. math::

    s_0 \\sim \\mathcal D_{env}, \\quad a_t \\sim \\pi_\\phi(\\cdot \\mid s_t), \\quad
    e_t \\sim \\mathcal U\\{1, \\dots, E\\}, \\quad s_{t+1} = f_{\\theta_{e_t}}(s_t, a_t), \\quad
    r_t = r(s_t, a_t, s_{t+1})

Every model transition :math:`(s_t, a_t, r_t, s_{t+1}, d_t)` goes into
:math:`\\mathcal D_{model}`; a rollout whose :math:`s_{t+1}` is terminal stops there. SAC then
trains on minibatches of which a fraction ``real_ratio`` comes from :math:`\\mathcal D_{env}`
and the rest from :math:`\\mathcal D_{model}`.

Why short rollouts from real states: the model's error compounds with every step it
predicts, so a long rollout from the start of an episode drifts far from anything real. Many
short rollouts branched from states the agent really visited keep the model where its data is,
and still give SAC far more transitions than the environment did. Why a member per step: the
members disagree where data is scarce, and drawing one at random at every step carries that
disagreement into the rollouts instead of averaging it away. ``rollout_length = 0`` makes no
model data at all: SAC on real data only, the baseline MBPO is compared with.

SAC itself is homework 3's (``hw3_q_learning.sac``, your own unless your instructor gives the
reference): :func:`load_sac` imports it and :func:`check_sac_implemented` stops early, with what
to do, when it is missing or unfinished.

The functions between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` are yours to write;
everything else is given.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from hw4_model_based.envs import RewardFn, TerminationFn
from hw4_model_based.models import DynamicsEnsemble
from infrastructure.replay_buffer import ReplayBuffer
from infrastructure.torch_utils import check_shape, to_numpy, to_torch

if TYPE_CHECKING:
    from hw3_q_learning.config import SACConfig
    from hw3_q_learning.sac import SACAgent

ActionSampler = Callable[[torch.Tensor], torch.Tensor]
"""``observations (B, obs_dim) -> actions (B, action_dim)``: the actor's sampled actions."""

TRANSITION_KEYS = ("observations", "actions", "rewards", "next_observations", "terminated")

# ---------------------------------------------------------------------------------------------
# SAC from homework 3
# ---------------------------------------------------------------------------------------------

HW3_MISSING = (
    "MBPO trains homework 3's SAC, imported from the package hw3_q_learning, and importing it "
    "failed ({error}). Put your hw3_q_learning folder (with your finished sac.py) next to "
    "hw4_model_based, as the handout says, or ask your instructor for the reference one."
)
HW3_UNFINISHED = (
    "MBPO trains homework 3's SAC, and yours is not finished: {error} (raised from "
    "hw3_q_learning). Complete hw3_q_learning/sac.py and check it with hw3's tests "
    "(python -m pytest hw3_q_learning) before training MBPO."
)


class SACMissingError(ImportError):
    """Homework 3's SAC cannot be imported (:data:`HW3_MISSING`): a run stops with the message
    alone, since the traceback would only show where hw4 imports it."""


class SACUnfinishedError(NotImplementedError):
    """Homework 3's SAC stops at one of its stubs (:data:`HW3_UNFINISHED`, which names it)."""


def load_sac() -> tuple[type[SACAgent], type[SACConfig]]:
    """``(SACAgent, SACConfig)`` from homework 3; a :class:`SACMissingError` that says what to
    do when ``hw3_q_learning`` cannot be imported. Imported here, not at the top of the module,
    so that MPC runs without homework 3."""
    try:
        from hw3_q_learning.config import SACConfig
        from hw3_q_learning.sac import SACAgent
    except ImportError as error:
        # a module of hw3 not there is said as such; any other import error (one inside the
        # student's own hw3) as Python says it
        missing = isinstance(error, ModuleNotFoundError) and (error.name or "").startswith("hw3_")
        what = f"{error.name} is missing" if missing else str(error)
        raise SACMissingError(HW3_MISSING.format(error=what)) from error
    return SACAgent, SACConfig


def check_sac_implemented(agent: SACAgent, obs_dim: int, action_dim: int) -> None:
    """Take one update of a copy of ``agent`` on two made-up transitions, and sample actions
    from it: a ``NotImplementedError`` of a homework-3 stub becomes a
    :class:`SACUnfinishedError` that says what to do, before a run writes anything. The copy
    and PyTorch's generator are thrown away and put back, so the run is the same with or
    without this check."""
    probe = copy.deepcopy(agent)
    batch = {
        "observations": np.zeros((2, obs_dim), np.float32),
        "actions": np.zeros((2, action_dim), np.float32),
        "rewards": np.zeros(2, np.float32),
        "next_observations": np.zeros((2, obs_dim), np.float32),
        "terminated": np.zeros(2, bool),
    }
    with torch.random.fork_rng():
        try:
            probe.update(batch)
            probe.act(batch["observations"])
        except NotImplementedError as error:
            raise SACUnfinishedError(HW3_UNFINISHED.format(error=error)) from error


# ---------------------------------------------------------------------------------------------
# Model rollouts
# ---------------------------------------------------------------------------------------------


def step_members(
    ensemble: DynamicsEnsemble,
    observations: torch.Tensor,
    actions: torch.Tensor,
    members: torch.Tensor,
) -> torch.Tensor:
    """One model step of every rollout, rollout ``i`` under member ``members[i]``:
    :math:`s'_i = f_{\\theta_{e_i}}(s_i, a_i)`, in the environment's units.

    The ensemble predicts for all members at once from batches shaped ``(E, B, ...)``: give
    every member the same ``B`` rows (``observations.expand(E, -1, -1)``), call
    :meth:`DynamicsEnsemble.predict`, and pick row ``i`` of member ``members[i]`` with one
    indexing (``predictions[members, torch.arange(B)]``). No Python loop over rows or members.

    Args:
        ensemble: the dynamics models, :math:`E` members.
        observations: shape ``(B, obs_dim)``, :math:`s`.
        actions: shape ``(B, action_dim)``, :math:`a`.
        members: shape ``(B,)``, integers (``torch.long``) in ``[0, E)``.

    Returns:
        shape ``(B, obs_dim)``, :math:`s'`.
    """
    ### BEGIN SOLUTION
    ensemble_size = ensemble.ensemble_size
    predictions = ensemble.predict(
        observations.expand(ensemble_size, -1, -1), actions.expand(ensemble_size, -1, -1)
    )
    return predictions[members, torch.arange(len(members))]
    ### END SOLUTION


@torch.no_grad()
def model_rollouts(
    ensemble: DynamicsEnsemble,
    policy: ActionSampler,
    reward_fn: RewardFn,
    termination_fn: TerminationFn,
    start_observations: torch.Tensor,
    rollout_length: int,
    generator: torch.Generator,
) -> dict[str, torch.Tensor]:
    """Rollouts of at most ``rollout_length`` model steps from each start state, with the
    actor's sampled actions and a member drawn at random per rollout per step.

    At step :math:`t = 0, 1, \\dots, k - 1`, for the rollouts still running (all of them at
    first): actions ``policy(observations)``; the members with one call,
    ``torch.randint(ensemble.ensemble_size, (n,), generator=generator)`` where ``n`` is the
    number of rollouts still running (the tests and the grader rely on this draw); the next
    states with :func:`step_members`; the rewards and terminations of
    ``(observations, actions, next_observations)`` with ``reward_fn`` and ``termination_fn``.
    Keep every one of these ``n`` transitions, the terminal ones included; then only the
    rollouts whose next state is not terminal go on, from their next state. Stop early when
    none is left.

    Args:
        ensemble: the dynamics models.
        policy: ``observations (n, obs_dim) -> actions (n, action_dim)``, sampled (SAC's
            exploring actor, not its deterministic one).
        reward_fn: :math:`r(s, a, s')`, batched (``hw4_model_based.envs.reward_fn``).
        termination_fn: whether :math:`s'` is terminal, batched, bool
            (``hw4_model_based.envs.termination_fn``).
        start_observations: shape ``(M, obs_dim)``, :math:`s_0` of each rollout.
        rollout_length: :math:`k \\ge 0`; 0 gives no transition.
        generator: draws the members.

    Returns:
        ``observations``, ``actions``, ``rewards``, ``next_observations``, ``terminated``
        (bool): every model transition, shapes ``(N, obs_dim)``, ``(N, action_dim)``,
        ``(N,)``, ``(N, obs_dim)``, ``(N,)``; step 0's transitions first (one per start
        state, in their order), then step 1's (the rollouts still running, in the same order),
        and so on. ``N = M k`` when nothing terminates.
    """
    ### BEGIN SOLUTION
    steps: list[dict[str, torch.Tensor]] = []
    observations = start_observations
    for _ in range(rollout_length):
        if len(observations) == 0:
            break
        actions = policy(observations)
        members = torch.randint(ensemble.ensemble_size, (len(observations),), generator=generator)
        next_observations = step_members(ensemble, observations, actions, members)
        rewards = reward_fn(observations, actions, next_observations)
        terminated = termination_fn(observations, actions, next_observations)
        steps.append(
            {
                "observations": observations,
                "actions": actions,
                "rewards": rewards,
                "next_observations": next_observations,
                "terminated": terminated,
            }
        )
        observations = next_observations[~terminated]
    if not steps:
        action_dim = ensemble.action_dim
        empty = start_observations[:0]
        return {
            "observations": empty,
            "actions": empty.new_zeros((0, action_dim)),
            "rewards": empty.new_zeros(0),
            "next_observations": empty,
            "terminated": torch.zeros(0, dtype=torch.bool, device=empty.device),
        }
    return {key: torch.cat([step[key] for step in steps]) for key in TRANSITION_KEYS}
    ### END SOLUTION


def check_rollouts(
    rollouts: dict[str, torch.Tensor],
    num_rollouts: int,
    obs_dim: int,
    action_dim: int,
    rollout_length: int,
) -> None:
    """Check what :func:`branch_rollouts` returned: the five fields, one row per transition,
    at most ``M k`` of them."""
    missing = [key for key in TRANSITION_KEYS if key not in rollouts]
    if missing:
        raise ValueError(
            f"model_rollouts: expected the keys {', '.join(TRANSITION_KEYS)}, "
            f"missing {', '.join(missing)}"
        )
    n = len(rollouts["rewards"])
    most = num_rollouts * rollout_length
    if n > most:
        raise ValueError(
            f"model_rollouts: expected at most {most} transitions ({num_rollouts} rollouts of "
            f"at most {rollout_length} steps), got {n}"
        )
    check_shape(rollouts["observations"], (n, obs_dim), "model_rollouts (observations)")
    check_shape(rollouts["actions"], (n, action_dim), "model_rollouts (actions)")
    check_shape(rollouts["rewards"], (n,), "model_rollouts (rewards)")
    check_shape(rollouts["next_observations"], (n, obs_dim), "model_rollouts (next_observations)")
    check_shape(rollouts["terminated"], (n,), "model_rollouts (terminated)")


def branch_rollouts(
    real_buffer: ReplayBuffer,
    model_buffer: ReplayBuffer,
    ensemble: DynamicsEnsemble,
    policy: ActionSampler,
    reward_fn: RewardFn,
    termination_fn: TerminationFn,
    num_rollouts: int,
    rollout_length: int,
    generator: torch.Generator,
) -> dict[str, torch.Tensor]:
    """Draw ``num_rollouts`` start states from the *real* replay buffer (its ``sample``, whose
    ``observations`` are the states), play :func:`model_rollouts` from them, and add every
    model transition to the model buffer (its ``add``, with NumPy arrays: ``to_numpy``).

    Start states are drawn on the ensemble's device, in float32 (``to_torch(observations,
    device)`` with ``device = ensemble.obs_mean.device``).

    Args:
        real_buffer: :math:`\\mathcal D_{env}`, the environment's transitions.
        model_buffer: :math:`\\mathcal D_{model}`, where the rollouts go.
        ensemble, policy, reward_fn, termination_fn, rollout_length, generator: as for
            :func:`model_rollouts`.
        num_rollouts: :math:`M`, start states drawn.

    Returns:
        the rollouts as :func:`model_rollouts` returned them.
    """
    ### BEGIN SOLUTION
    starts = real_buffer.sample(num_rollouts)["observations"]
    rollouts = model_rollouts(
        ensemble,
        policy,
        reward_fn,
        termination_fn,
        to_torch(starts, ensemble.obs_mean.device),
        rollout_length,
        generator,
    )
    model_buffer.add(*(to_numpy(rollouts[key]) for key in TRANSITION_KEYS))
    return rollouts
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# SAC's minibatches
# ---------------------------------------------------------------------------------------------


def mixed_batch(
    real_buffer: ReplayBuffer, model_buffer: ReplayBuffer, batch_size: int, real_ratio: float
) -> dict[str, np.ndarray]:
    """A minibatch of ``batch_size`` transitions, ``round(real_ratio * batch_size)`` of them
    drawn from the real buffer and the rest from the model buffer, real ones first (each
    buffer's ``sample``, then ``np.concatenate`` field by field).

    A buffer that gives no transition is not sampled at all: with ``real_ratio = 1`` the model
    buffer may be empty (plain SAC), and it is never touched.

    Args:
        real_buffer: :math:`\\mathcal D_{env}`.
        model_buffer: :math:`\\mathcal D_{model}`.
        batch_size: transitions in all.
        real_ratio: fraction from the real buffer, in ``(0, 1]``.

    Returns:
        ``observations``, ``actions``, ``rewards``, ``next_observations``, ``terminated``, each
        with ``batch_size`` rows: what ``SACAgent.update`` takes.
    """
    ### BEGIN SOLUTION
    num_real = round(real_ratio * batch_size)
    parts = []
    if num_real > 0:
        parts.append(real_buffer.sample(num_real))
    if batch_size - num_real > 0:
        parts.append(model_buffer.sample(batch_size - num_real))
    return {key: np.concatenate([part[key] for part in parts]) for key in TRANSITION_KEYS}
    ### END SOLUTION


def check_batch(batch: dict[str, np.ndarray], batch_size: int) -> None:
    """Check what :func:`mixed_batch` returned: the five fields, ``batch_size`` rows each."""
    for key in TRANSITION_KEYS:
        if key not in batch:
            raise ValueError(f"mixed_batch: expected the key {key!r}, got {', '.join(batch)}")
        if len(batch[key]) != batch_size:
            raise ValueError(
                f"mixed_batch: expected {batch_size} rows of {key}, got {len(batch[key])}"
            )

"""Hidden suite of homework 2 (policy gradients): returns, advantages (GAE with terminal and
truncated ends), the losses' values and gradients, the policies' distributions and the
baseline's gradients with the reference's weights, the estimator's unbiasedness on a tabular
MDP, and learning curves (CartPole, InvertedPendulum).

Credit within a function: a check earns its points only when every case passes, so a
function's points are split among its checks by what each one separates. The value and
gradient checks separate every plausible wrong variant (a discount off by one step, a mean for
a sum, a factor of 2, a detached input); the statistical checks see only biases larger than
their bounds allow, so they carry the smaller share of their function's points; and a
gradient check that alone sees a constant left attached (the policy-gradient loss's
advantages, PPO's old log-probabilities, value_loss's targets) carries more than half of its
function's points.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

import hw2_policy_gradient.config as ref_config
import hw2_policy_gradient.pg as ref
import hw2_policy_gradient.policies as ref_policies
from autograder.checks import Check
from autograder.judging import (
    CALL_TIMEOUT_S,
    Cases,
    Tolerance,
    as_float_array,
    f32,
    fmt,
    reference_module,
    torch_seed,
)
from autograder.kit import (
    Learning,
    ModuleCase,
    Sampled,
    Suite,
    bernstein_half_width,
    distribution_case,
    function_check,
    gradient_check,
    mean_problem,
    module_check,
    named_case,
    statistical_check,
)
from autograder.learning import LearningTask
from autograder.sandbox import Apply, Failure, Method, Result, Sandbox, Step, Success

PACKAGE = "hw2_policy_gradient"
PG = f"{PACKAGE}.pg"

# ---------------------------------------------------------------------------------------------
# Returns
# ---------------------------------------------------------------------------------------------


def _return_cases(rng: np.random.Generator) -> Cases:
    cases = [(rng.normal(size=1), 0.99)]  # single-step episode
    for length, gamma in [(2, 1.0), (5, 0.9), (17, 0.99), (40, 0.95), (6, 0.5), (9, 1.0)]:
        cases.append((rng.normal(size=length) * 2.0 + 0.5, gamma))
    return [named_case(f"T={len(r)}", rewards=r, gamma=gamma) for r, gamma in cases]


_RETURNS_TOL: Tolerance = {"rtol": 1e-6, "atol": 1e-8}
_RETURNS = "trajectories (lengths 1 to 40, gamma in {0.5, 0.9, 0.95, 0.99, 1})"

DISCOUNTED_RETURN = function_check(
    "discounted_return: whole-trajectory discounted return",
    reference=ref.discounted_return,
    cases=_return_cases,
    points=7,
    describe=_RETURNS,
    hint=(
        "every entry is the whole trajectory's discounted return sum_t gamma^t r_t, with the "
        "first reward undiscounted."
    ),
    what="the result",
    tensor=False,
    tolerance=_RETURNS_TOL,
)
REWARD_TO_GO = function_check(
    "reward_to_go: discounted reward-to-go",
    reference=ref.reward_to_go,
    cases=_return_cases,
    points=10,
    describe=_RETURNS,
    hint=(
        "entry t sums the rewards from t to the end, discounted by gamma^(t'-t); run the sum "
        "backwards from the last step."
    ),
    what="the result",
    tensor=False,
    tolerance=_RETURNS_TOL,
)


def _normalize_cases(rng: np.random.Generator) -> Cases:
    cases = [
        ("random batch of 10", rng.normal(size=10) * 5.0 + 3.0),
        ("random batch of 257", rng.normal(size=257) * 0.1 - 2.0),
        ("batch of 1", rng.normal(size=1)),
        ("constant batch of 6", np.full(6, 2.5)),
    ]
    return [named_case(label, values=values) for label, values in cases]


NORMALIZE = function_check(
    "normalize: standardised advantages",
    reference=ref.normalize,
    cases=_normalize_cases,
    points=5,
    describe="batches (random, batch of 1, constant batch)",
    hint=(
        "subtract the batch mean, divide by the batch standard deviation (NumPy's default, "
        "ddof=0) plus eps."
    ),
    what="the result",
    tensor=False,
    tolerance={"rtol": 1e-6, "atol": 1e-6},
)


# ---------------------------------------------------------------------------------------------
# Generalised advantage estimation
# ---------------------------------------------------------------------------------------------


def _gae_case(
    rng: np.random.Generator, ends: Sequence[tuple[int, str]], gamma: float, lam: float
) -> tuple[str, tuple[Any, ...]]:
    """Trajectories laid end to end; each ``(length, "terminated" | "truncated")``. The value
    after each trajectory's last step is a random non-zero number (the true next observation's
    value, which a terminal step must ignore and a truncated step must bootstrap from)."""
    rewards, values, next_values, terminated, dones = [], [], [], [], []
    for length, end in ends:
        v = rng.normal(size=length + 1)
        v[-1] = np.sign(v[-1] + 1e-9) * (1.0 + abs(v[-1]))  # |V(s_T)| >= 1
        rewards.append(rng.normal(size=length))
        values.append(v[:-1])
        next_values.append(v[1:])
        term, done = np.zeros(length, bool), np.zeros(length, bool)
        done[-1] = True
        term[-1] = end == "terminated"
        terminated.append(term)
        dones.append(done)
    pieces = " + ".join(
        f"{length} step{'s' if length > 1 else ''} ending {end}" for length, end in ends
    )
    arrays = [np.concatenate(x) for x in (rewards, values, next_values, terminated, dones)]
    summary = (
        f"{pieces}; gamma={gamma}, lambda={lam}"
        f"\n  rewards={fmt(arrays[0])}\n  values={fmt(arrays[1])}"
        f"\n  next_values={fmt(arrays[2])}"
        f"\n  terminated={arrays[3].astype(int).tolist()}"
        f"\n  dones={arrays[4].astype(int).tolist()}"
    )
    return summary, (*arrays, gamma, lam)


def _gae_check(
    name: str,
    points: float,
    describe: str,
    hint: str,
    cases: Callable[[np.random.Generator], Cases],
) -> Check:
    return function_check(
        name,
        reference=ref.compute_gae,
        cases=cases,
        points=points,
        describe=describe,
        hint=hint,
        what="the result",
        tensor=False,
        tolerance=_RETURNS_TOL,
    )


GAE_TERMINATED = _gae_check(
    "compute_gae: terminated end (no bootstrap)",
    5,
    "trajectories that end in a terminal state",
    "a terminated step has no future: its TD error is r_t - V(s_t), without gamma V(s_{t+1}); "
    "mask with terminated, not with dones.",
    lambda rng: [
        _gae_case(rng, [(1, "terminated")], 0.99, 0.95),
        _gae_case(rng, [(4, "terminated")], 0.99, 0.95),
        _gae_case(rng, [(9, "terminated")], 1.0, 1.0),
    ],
)
GAE_TRUNCATED = _gae_check(
    "compute_gae: truncated end (bootstrap)",
    5,
    "trajectories cut by a time limit (truncated)",
    "a truncated step still bootstraps: delta_t = r_t + gamma V(s_{t+1}) - V(s_t) with the true "
    "next observation's value; only terminated removes that term.",
    lambda rng: [
        _gae_case(rng, [(1, "truncated")], 0.99, 0.95),
        _gae_case(rng, [(5, "truncated")], 0.99, 0.95),
        _gae_case(rng, [(12, "truncated")], 1.0, 0.95),
    ],
)
GAE_BOUNDARY = _gae_check(
    "compute_gae: two trajectories end to end (no leak)",
    5,
    "batches of two trajectories laid end to end",
    "the backward sum restarts at every trajectory end (terminated or truncated): multiply "
    "the running advantage by (1 - done_t), not by (1 - terminated_t).",
    lambda rng: [
        _gae_case(rng, [(3, "truncated"), (4, "truncated")], 0.99, 0.95),
        _gae_case(rng, [(5, "terminated"), (3, "truncated")], 0.99, 0.95),
        _gae_case(rng, [(1, "truncated"), (6, "terminated")], 0.99, 0.95),
        _gae_case(rng, [(6, "truncated"), (1, "truncated")], 1.0, 1.0),
    ],
)


def _lambda_cases(rng: np.random.Generator) -> Cases:
    cases = []
    for lam, gamma in [(0.0, 0.99), (0.95, 0.99), (1.0, 0.99), (0.0, 1.0), (0.95, 1.0), (1.0, 1.0)]:
        ends = [
            (int(rng.integers(1, 9)), "terminated" if rng.random() < 0.5 else "truncated")
            for _ in range(3)
        ]
        cases.append(_gae_case(rng, ends, gamma, lam))
    return cases


GAE_LAMBDA = _gae_check(
    "compute_gae: lambda in {0, 0.95, 1}",
    6,
    "batches with lambda in {0, 0.95, 1}",
    "A_t = delta_t + gamma * lambda * (1 - done_t) * A_{t+1}: lambda=0 gives the one-step TD "
    "error, lambda=1 the discounted Monte-Carlo return minus V(s_t).",
    _lambda_cases,
)


# ---------------------------------------------------------------------------------------------
# Losses: values
# ---------------------------------------------------------------------------------------------


def _pg_inputs(rng: np.random.Generator, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    log_probs = f32(-np.abs(rng.normal(size=batch)) - 0.1)
    advantages = f32(rng.normal(size=batch) * 2.0)
    return log_probs, advantages


def _pg_cases(rng: np.random.Generator) -> Cases:
    cases: Cases = []
    for batch in (1, 8, 64):
        log_probs, advantages = _pg_inputs(rng, batch)
        cases.append(named_case(f"B={batch}", log_probs=log_probs, advantages=advantages))
    return cases


PG_LOSS_VALUE = function_check(
    "policy_gradient_loss: value",
    reference=ref.policy_gradient_loss,
    cases=_pg_cases,
    points=3,
    describe="batches (B = 1, 8, 64)",
    hint="the loss is minus the batch mean of log_probs * advantages, a scalar (shape ()).",
)


def _value_loss_cases(rng: np.random.Generator) -> Cases:
    cases: Cases = []
    for batch in (1, 7, 50):
        values, targets = f32(rng.normal(size=batch)), f32(rng.normal(size=batch) * 3.0)
        cases.append(named_case(f"B={batch}", values=values, targets=targets))
    return cases


VALUE_LOSS_VALUE = function_check(
    "value_loss: value",
    reference=ref.value_loss,
    cases=_value_loss_cases,
    points=2,
    describe="batches (B = 1, 7, 50)",
    hint="the mean (not the sum) of the squared differences, a scalar (shape ()).",
)

_CLIP = 0.2


def _ppo_inputs(
    rng: np.random.Generator, batch: int, where: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Log-probabilities whose ratios lie inside the clip range, outside it, or both."""
    old = -np.abs(rng.normal(size=batch)) - 0.2
    inside = rng.uniform(-0.8, 0.8, size=batch) * math.log(1.0 + _CLIP)
    outside = rng.choice([-1.0, 1.0], size=batch) * rng.uniform(0.4, 1.0, size=batch)
    if where == "inside":
        shift = inside
    elif where == "outside":
        shift = outside
    else:
        shift = np.where(rng.random(batch) < 0.5, inside, outside)
    # both signs of advantage, so both sides of the clip range matter
    signs = np.where(np.arange(batch) % 2 == 0, 1.0, -1.0) * rng.choice([-1.0, 1.0])
    advantages = signs * (np.abs(rng.normal(size=batch)) * 2.0 + 0.1)
    return f32(old + shift), f32(old), f32(advantages)


def _ppo_cases(rng: np.random.Generator) -> Cases:
    cases: Cases = []
    for batch, where in [(6, "inside"), (8, "outside"), (1, "outside"), (40, "inside and outside")]:
        log_probs, old, advantages = _ppo_inputs(rng, batch, where)
        ratios = torch.exp(log_probs - old)
        summary = (
            f"B={batch}, ratios {where} [1 - clip, 1 + clip] (clip={_CLIP}): "
            f"ratios={fmt(ratios)}, advantages={fmt(advantages)}"
        )
        cases.append((summary, (log_probs, old, advantages)))
    return cases


PPO_LOSS_VALUE = function_check(
    "ppo_clip_loss: value inside and outside the clip range",
    reference=ref.ppo_clip_loss,
    cases=_ppo_cases,
    points=4,
    describe="batches with probability ratios inside and outside the clip range",
    hint=(
        "ratio = exp(log_probs - old_log_probs); the loss is minus the batch mean of "
        "min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A): the pessimistic (smaller) of the two."
    ),
    extra=(_CLIP,),
)


# ---------------------------------------------------------------------------------------------
# Losses: gradients
# ---------------------------------------------------------------------------------------------


PG_LOSS_GRAD = gradient_check(
    "policy_gradient_loss: gradient (log_probs only)",
    reference=ref.policy_gradient_loss,
    cases=_pg_cases,
    wrt=("log_probs", "advantages"),
    constants=("advantages",),
    points=6,
    describe="batches (B = 1, 8, 64)",
    hint="d loss / d log_probs_t = -advantages_t / B; the advantages are constants (detach them).",
)
PPO_LOSS_GRAD = gradient_check(
    "ppo_clip_loss: gradient",
    reference=ref.ppo_clip_loss,
    cases=_ppo_cases,
    wrt=("log_probs", "old_log_probs", "advantages"),
    constants=("old_log_probs", "advantages"),
    points=6,
    describe="batches with probability ratios inside and outside the clip range",
    hint=(
        "where the clipped term is the minimum, its gradient is zero; only log_probs carries a "
        "gradient (detach old_log_probs and advantages)."
    ),
    extra=(_CLIP,),
)


# ---------------------------------------------------------------------------------------------
# Policies: distributions with the reference's weights
# ---------------------------------------------------------------------------------------------


def _distribution_cases(
    cls_name: str, shapes: Sequence[tuple[int, int, int, int, str, int]]
) -> Callable[[np.random.Generator], list[ModuleCase]]:
    """The reference's ``cls_name`` of each of ``shapes`` (obs_dim, actions, n_layers, size,
    activation, batch; a non-zero log_std for the Gaussian, so that sigma matters) on a batch
    of observations and actions, its log-probabilities' mean backpropagated."""
    cls = getattr(ref_policies, cls_name)
    gaussian = cls_name == "GaussianPolicy"

    def cases(rng: np.random.Generator) -> list[ModuleCase]:
        batches = []
        for obs_dim, n_actions, *_, batch in shapes:
            observations = f32(rng.normal(size=(batch, obs_dim)))
            if gaussian:
                actions = f32(rng.normal(size=(batch, n_actions)))
            else:
                actions = torch.as_tensor(rng.integers(n_actions, size=batch), dtype=torch.long)
            batches.append((observations, actions))
        made = []
        for (obs_dim, n_actions, n_layers, size, activation, batch), (observations, actions) in zip(
            shapes, batches, strict=True
        ):
            init_args = (obs_dim, n_actions, n_layers, size, activation)
            module: Any = reference_module(cls, init_args, torch_seed(rng))
            if gaussian:
                with torch.no_grad():
                    module.log_std.copy_(f32(rng.uniform(-0.7, 0.5, size=module.log_std.shape)))
            summary = (
                f"{cls_name}(obs_dim={obs_dim}, {'action_dim' if gaussian else 'num_actions'}="
                f"{n_actions}, n_layers={n_layers}, size={size}, activation={activation!r}), "
                f"B={batch}, " + ("log_std non-zero" if gaussian else f"actions={actions.tolist()}")
            )
            made.append(distribution_case(summary, init_args, module, observations, actions))
        return made

    return cases


def _distribution_check(
    cls_name: str,
    points: float,
    shapes: Sequence[tuple[int, int, int, int, str, int]],
    hint: str,
) -> Check:
    return module_check(
        f"{cls_name}.distribution: log_prob, entropy, gradients",
        function=f"{cls_name}.distribution",
        reference=getattr(ref_policies, cls_name),
        cases=_distribution_cases(cls_name, shapes),
        kind="gradient",
        points=points,
        what=(
            f"`{cls_name}.distribution` with the reference's weights on {{count}} networks: "
            "log_prob(actions) (shape (B,)), entropy() and the gradient of "
            "log_prob(actions).mean() w.r.t. every parameter"
        ),
        hint=hint,
    )


CATEGORICAL = _distribution_check(
    "CategoricalPolicy",
    8,
    # obs_dim, num_actions, n_layers, size, activation, batch
    [(4, 3, 2, 16, "tanh", 9), (1, 2, 0, 8, "relu", 1), (6, 5, 1, 32, "relu", 17)],
    "build the Categorical from the network's logits (logits=..., not probs=...).",
)
GAUSSIAN = _distribution_check(
    "GaussianPolicy",
    10,
    # obs_dim, action_dim, n_layers, size, activation, batch
    [(3, 2, 2, 16, "tanh", 9), (2, 1, 0, 8, "tanh", 1), (5, 4, 1, 32, "relu", 13)],
    "mean from mean_net, standard deviation exp(log_std); the log-probability of an action "
    "vector sums over its dimensions (wrap the Normal in Independent(..., 1)), so log_prob "
    "has shape (B,).",
)


# ---------------------------------------------------------------------------------------------
# The baseline's loss: its gradients, judged directly (an optimizer's step would hide a scale:
# Adam's first step moves each parameter by about its learning rate, whatever the gradient's size)
# ---------------------------------------------------------------------------------------------


def _baseline_cases(rng: np.random.Generator) -> list[ModuleCase]:
    made = []
    for obs_dim, n_layers, size, activation, batch in [
        (3, 2, 16, "tanh", 12),
        (2, 1, 8, "relu", 1),
        (4, 0, 8, "tanh", 5),
    ]:
        init_args = (obs_dim, n_layers, size, activation)
        critic = reference_module(ref_policies.ValueCritic, init_args, torch_seed(rng))
        observations = f32(rng.normal(size=(batch, obs_dim)))
        targets = f32(rng.normal(size=batch) * 2.0)
        ref.value_loss(critic(observations), targets).backward()
        steps: list[Step] = [
            Method("forward", (observations,)),
            Apply(f"{PG}:value_loss", (targets,)),
        ]
        summary = (
            f"ValueCritic(obs_dim={obs_dim}, n_layers={n_layers}, size={size}, "
            f"activation={activation!r}), B={batch}"
        )
        made.append(ModuleCase(summary, init_args, critic, (), grad_steps=steps))
    return made


BASELINE_GRAD = module_check(
    "value_loss: the baseline's parameter gradients",
    function="value_loss",
    reference=ref_policies.ValueCritic,
    cases=_baseline_cases,
    kind="gradient",
    points=3,
    what=(
        "the gradient of your `value_loss` of ValueCritic's values w.r.t. every parameter of "
        "the critic, with the reference's weights, on {count} minibatches"
    ),
    hint=(
        "value_loss is the mean squared error (values - targets)^2 with the targets detached; "
        "a wrong sign, a sum instead of a mean or a missing square changes every gradient."
    ),
)


VALUE_LOSS_GRAD = gradient_check(
    "value_loss: gradient (values only)",
    reference=ref.value_loss,
    cases=_value_loss_cases,
    wrt=("values", "targets"),
    constants=("targets",),
    points=6,
    describe="batches (B = 1, 7, 50)",
    hint="d loss / d values_t = 2 (values_t - targets_t) / B; the targets are constants.",
)


# ---------------------------------------------------------------------------------------------
# Statistical: the policy-gradient estimator is unbiased on a tabular MDP
# ---------------------------------------------------------------------------------------------
#
# A 2-state, 2-action MDP with horizon H = 3, known transitions and rewards in [0, 1], and a
# tabular softmax policy pi(a | s) = softmax(theta[s])_a. The exact gradient of
#     J(theta) = E[sum_t gamma^t r_t]
# comes from enumerating all 2^(2H) = 64 trajectories (autograd through the enumeration).
# For each of n sampled trajectories i the estimator is
#     g_i = sum_t grad_theta log pi(a_t | s_t) * w_t,
# with w_t = gamma^t * reward_to_go_t (the student's reward_to_go; gamma^t makes it unbiased
# for the discounted objective) or w_t = G(tau) (the student's discounted_return); both have
# E[g_i] = grad J exactly. The student's policy_gradient_loss enters through its gradient: for
# L = -(1/B) sum_t log_prob_t * A_t, -B * dL/dlog_prob_t = A_t, so
#     g_i = -B * sum_{t in i} dL/dlog_prob_t * grad_theta log pi(a_t | s_t).
#
# Bound (valid for any n, no CLT): the empirical Bernstein inequality (Maurer & Pontil 2009,
# Theorem 4): for i.i.d. X_i in an interval of length R, with sample variance V_n (ddof=1),
# with probability at least 1 - delta,
#     E[X] - mean(X) <= sqrt(2 V_n ln(2/delta) / n) + 7 R ln(2/delta) / (3 (n - 1)).
# Applied to X and -X (two-sided: ln(4/delta)) and to each of the K components of the
# gradient (Bonferroni: delta = 1e-6 / K), the reference fails a check less than once in a
# million runs. R comes from the MDP: |d log pi / d theta| <= 1 and rewards in [0, 1] give
# |g_k| <= sum_t sum_{t' >= t} gamma^t' for reward-to-go weights and H * sum_t gamma^t for
# whole-return weights.

_S_RHO = np.array([0.7, 0.3])  # initial state distribution
_S_P1 = np.array([[0.1, 0.9], [0.2, 0.9]])  # P(s' = 1 | s, a)
_S_R = np.array([[0.4, 0.0], [1.0, 0.6]])  # r(s, a): action 1 gives up reward now for later
_S_THETA = np.array([[0.4, -0.3], [-0.5, 0.6]])
_S_H = 3
_S_GAMMA = 0.9
_S_N = 100_000


def _policy_probs() -> np.ndarray:
    e = np.exp(_S_THETA - _S_THETA.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _exact_gradient(gamma: float) -> np.ndarray:
    """grad_theta J by enumerating every trajectory (float64 autograd)."""
    theta = torch.tensor(_S_THETA, dtype=torch.float64, requires_grad=True)
    log_pi = torch.log_softmax(theta, dim=1)
    objective = torch.zeros((), dtype=torch.float64)
    for path in itertools.product((0, 1), repeat=2 * _S_H):
        states, actions = path[0::2], path[1::2]
        probability = torch.tensor(_S_RHO[states[0]], dtype=torch.float64)
        discounted = 0.0
        for t in range(_S_H):
            s, a = states[t], actions[t]
            probability = probability * torch.exp(log_pi[s, a])
            if t + 1 < _S_H:
                p1 = _S_P1[s, a]
                probability = probability * (p1 if states[t + 1] == 1 else 1.0 - p1)
            discounted += gamma**t * _S_R[s, a]
        objective = objective + probability * discounted
    objective.backward()
    assert theta.grad is not None
    return theta.grad.numpy().ravel()


def _sample_trajectories(
    rng: np.random.Generator, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rewards (n, H), log_probs (n, H), scores (n, H, 4))`` of n sampled trajectories;
    ``scores`` is grad_theta log pi(a_t | s_t), flattened over theta's 4 entries."""
    pi = _policy_probs()
    states = np.zeros((n, _S_H), dtype=np.int64)
    actions = np.zeros((n, _S_H), dtype=np.int64)
    states[:, 0] = rng.random(n) < _S_RHO[1]
    for t in range(_S_H):
        actions[:, t] = rng.random(n) < pi[states[:, t], 1]
        if t + 1 < _S_H:
            states[:, t + 1] = rng.random(n) < _S_P1[states[:, t], actions[:, t]]
    rewards = _S_R[states, actions]
    log_probs = np.log(pi[states, actions])
    scores = np.zeros((n, _S_H, 2, 2))
    rows = np.arange(n)
    for t in range(_S_H):
        scores[rows, t, states[:, t], :] -= pi[states[:, t]]
        scores[rows, t, states[:, t], actions[:, t]] += 1.0
    return rewards, log_probs, scores.reshape(n, _S_H, 4)


_TO_GO_DISCOUNTS = _S_GAMMA ** np.arange(_S_H)  # gamma^t, with which reward-to-go is unbiased
_TO_GO_RANGE = 2.0 * sum(_S_GAMMA**t * (t + 1) for t in range(_S_H))
_WHOLE_RANGE = 2.0 * _S_H * sum(_S_GAMMA**t for t in range(_S_H))


def _student_weights(sandbox: Sandbox, function: str, rewards: np.ndarray) -> Result:
    """The student's ``function(rewards_i, gamma)`` for every trajectory (n, H), one call per
    distinct reward sequence (at most 4^H = 64 of them): the first call that failed, or an
    ``invalid`` failure for a result that is not H finite numbers."""
    unique, inverse = np.unique(rewards, axis=0, return_inverse=True)
    out = np.zeros_like(unique)
    for row_index, row in enumerate(unique):
        call = f"`{function}`(rewards={fmt(row)}, gamma={_S_GAMMA})"
        result = sandbox.call(PG, function, (row.copy(), _S_GAMMA), timeout_s=CALL_TIMEOUT_S)
        if isinstance(result, Failure):
            return dataclasses.replace(result, message=f"{call}: {result.message}")
        array, why = as_float_array(result.value, tensor=False, what=f"the result of {call}")
        if array is None or array.shape != (_S_H,) or not np.all(np.isfinite(array)):
            shape = getattr(array, "shape", None)
            return Failure("invalid", why or f"{call} returned shape {shape} or non-finite values")
        out[row_index] = array
    return Success(out[np.asarray(inverse).reshape(-1)])


def _unbiased_cases(rng: np.random.Generator) -> list[Sampled]:
    """One estimate of grad_theta J from the student's reward-to-go weights and the gradient
    of their policy-gradient loss w.r.t. the log-probabilities."""
    rewards, log_probs, scores = _sample_trajectories(rng, _S_N)
    batch = _S_N * _S_H

    def call(sandbox: Sandbox) -> Result:
        to_go = _student_weights(sandbox, "reward_to_go", rewards)
        if isinstance(to_go, Failure):
            return to_go
        advantages = to_go.value * _TO_GO_DISCOUNTS
        inputs = (torch.as_tensor(log_probs.ravel()), torch.as_tensor(advantages.ravel()))
        return sandbox.grad(PG, "policy_gradient_loss", inputs, wrt=[0], timeout_s=CALL_TIMEOUT_S)

    def judge(value: Any) -> str | None:
        if type(value) is not dict or set(value) != {"loss", "grads"}:
            return "the gradient call returned an unexpected value"
        if type(value["grads"]) is not list or len(value["grads"]) != 1:
            return "the gradient call returned an unexpected value"
        if value["grads"][0] is None:
            return "no gradient reached log_probs"
        what = "the gradient w.r.t. log_probs"
        array, why = as_float_array(value["grads"][0], tensor=True, what=what)
        if array is None or array.shape != (batch,) or not np.all(np.isfinite(array)):
            return why or f"{what} has a wrong shape or NaNs"
        estimates = np.einsum("nt,ntk->nk", -batch * array.reshape(_S_N, _S_H), scores)
        bound = bernstein_half_width(estimates, _TO_GO_RANGE, tests=4)
        return mean_problem(estimates, _exact_gradient(_S_GAMMA), bound, "grad_theta J")

    summary = (
        f"the estimator from {_S_N} trajectories ({batch} steps; advantages gamma^t * "
        "reward_to_go_t, gradient of policy_gradient_loss w.r.t. log_probs)"
    )
    return [Sampled(summary, call, judge)]


def _same_expectation_cases(rng: np.random.Generator) -> list[Sampled]:
    """The estimate weighted by the student's discounted_return against the exact gradient,
    then its difference with the one weighted by their reward_to_go (two families of 4 tests
    each share the 1e-6 budget)."""
    rewards, _, scores = _sample_trajectories(rng, _S_N)
    whole: list[np.ndarray] = []  # the first case's estimates, for the second

    def judge_whole(weights: np.ndarray) -> str | None:
        whole.append(np.einsum("nt,ntk->nk", weights, scores))
        bound = bernstein_half_width(whole[0], _WHOLE_RANGE, tests=8)
        return mean_problem(whole[0], _exact_gradient(_S_GAMMA), bound, "grad_theta J")

    def judge_difference(to_go: np.ndarray) -> str | None:
        if not whole:
            return "skipped: `discounted_return` returned no weights (the case before)"
        difference = whole[0] - np.einsum("nt,ntk->nk", to_go * _TO_GO_DISCOUNTS, scores)
        bound = bernstein_half_width(difference, _WHOLE_RANGE + _TO_GO_RANGE, tests=8)
        return mean_problem(difference, np.zeros(4), bound, "the difference of the two estimators")

    return [
        Sampled(
            "weights G(tau) from `discounted_return`",
            lambda sandbox: _student_weights(sandbox, "discounted_return", rewards),
            judge_whole,
        ),
        Sampled(
            "G(tau) weights minus gamma^t * reward-to-go weights, same trajectories",
            lambda sandbox: _student_weights(sandbox, "reward_to_go", rewards),
            judge_difference,
            trivial=True,  # any two functions that give the same weights, zeros say, pass it
        ),
    ]


PG_UNBIASED = statistical_check(
    "reward_to_go + policy_gradient_loss: unbiased gradient estimator",
    function="reward_to_go",
    cases=_unbiased_cases,
    points=6,
    what=(
        f"the mean of the policy-gradient estimator built from your `reward_to_go` and "
        f"`policy_gradient_loss` over {_S_N} sampled trajectories of a 2-state, 2-action MDP "
        f"(horizon {_S_H}, gamma {_S_GAMMA}) with the exact gradient computed by enumeration"
    ),
    hint=(
        "the estimator is unbiased only if each log-probability is weighted by the rewards "
        "from its own step on (not the past ones) and the loss is minus the mean of "
        "log_probs * advantages."
    ),
)
SAME_EXPECTATION = statistical_check(
    "discounted_return vs reward_to_go: same expected gradient",
    function="discounted_return",
    cases=_same_expectation_cases,
    points=3,
    what=(
        f"on {_S_N} sampled trajectories of a tabular MDP (horizon {_S_H}, gamma {_S_GAMMA}): "
        "the policy-gradient estimator weighted by your `discounted_return` against the exact "
        "gradient, and against the same estimator weighted by your `reward_to_go` "
        "(the mean of their difference must be 0)"
    ),
    hint=(
        "both weightings estimate the same gradient: G(tau) = sum_t gamma^t r_t for every step "
        "of the trajectory, with the first reward undiscounted, and reward_to_go sums the "
        "rewards from step t on (if a reward_to_go check fails too, fix that one first)."
    ),
)


# ---------------------------------------------------------------------------------------------
# Learning curves: the student's Trainer trains, the grader evaluates in its own environments
# ---------------------------------------------------------------------------------------------


def _task(env: str, milestones: tuple[int, ...]) -> LearningTask:
    config = {**dataclasses.asdict(ref_config.PRESETS[env]), "total_steps": milestones[-1]}
    target = ref_config.TARGETS[env]
    run = f"{PACKAGE}.run"
    policy = "agent.policy"  # PGAgent's policy network
    return LearningTask(env, run, "Trainer", config, env, milestones, target=target, policy=policy)


LEARNING = [
    Learning(_task("CartPole-v1", (40_000, 50_000)), points=10, timeout_s=150.0),
    Learning(_task("InvertedPendulum-v5", (80_000, 120_000)), points=10, timeout_s=300.0),
]
"""What ``rlhw calibrate hw2`` runs; the bands are in ``autograder/calibration/hw2.json``."""


# ---------------------------------------------------------------------------------------------
# The suite
# ---------------------------------------------------------------------------------------------

CHECKS: list[Check] = [
    DISCOUNTED_RETURN,
    REWARD_TO_GO,
    NORMALIZE,
    GAE_TERMINATED,
    GAE_TRUNCATED,
    GAE_BOUNDARY,
    GAE_LAMBDA,
    PG_LOSS_VALUE,
    VALUE_LOSS_VALUE,
    PPO_LOSS_VALUE,
    PG_LOSS_GRAD,
    CATEGORICAL,
    GAUSSIAN,
    PPO_LOSS_GRAD,
    BASELINE_GRAD,
    VALUE_LOSS_GRAD,
    PG_UNBIASED,
    SAME_EXPECTATION,
]

SUITE = Suite(hw="hw2", package=PACKAGE, checks=CHECKS, learning=LEARNING, feedback="property")

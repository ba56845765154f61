"""Hidden suite of homework 3 (DQN, double DQN, SAC): the schedule, epsilon-greedy's law, the
Bellman, double-DQN and soft targets with terminal and truncated transitions, the losses and
their gradients, the squashed Gaussian's density, the agents' losses and updates from identical
state, the target networks' updates, and learning curves (DQN on CartPole, SAC on
InvertedPendulum).

The agents' methods (``DQNAgent.compute_loss``, ``SACAgent.critic_loss``, ...) are reached
through the student's own trainer (``DQNTrainer`` / ``SACTrainer`` built from a config dict in
the sandbox and kept there): the reference's weights are loaded into its networks by name, and
the method runs on the same batch, with the same torch seed, as the reference does here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import hw3_q_learning.config as ref_config
import hw3_q_learning.dqn as ref_dqn
import hw3_q_learning.sac as ref_sac
from autograder.checks import Check
from autograder.judging import (
    CALL_TIMEOUT_S,
    Cases,
    f32,
    fmt,
    state_dict_of,
    torch_seed,
)
from autograder.kit import (
    AgentCase,
    Learning,
    Sampled,
    Stepped,
    Suite,
    Trainer,
    agent_method_check,
    agent_update_check,
    batch_tensors,
    bernstein_half_width,
    frequencies_problem,
    function_check,
    gradient_check,
    hoeffding_half_width,
    named_case,
    network_step_problem,
    perturbed,
    preset_task,
    replay_batch,
    statistical_check,
    tensors_problem,
    without_grads,
)
from autograder.learning import LearningTask
from autograder.sandbox import Attr, Method, Step
from infrastructure.config import Target

PACKAGE = "hw3_q_learning"
DQN = f"{PACKAGE}.dqn"
SAC = f"{PACKAGE}.sac"
RUN = f"{PACKAGE}.run"
KEPT = "agent_trainer"  # the name the trainer of an agent check is kept under in the worker
TRAINER_TIMEOUT_S = 20.0  # building a trainer makes an environment (MuJoCo's import included)
DQN_TRAINER = Trainer(RUN, "DQNTrainer", KEPT, TRAINER_TIMEOUT_S)
SAC_TRAINER = Trainer(RUN, "SACTrainer", KEPT, TRAINER_TIMEOUT_S)
CPU = torch.device("cpu")


# ---------------------------------------------------------------------------------------------
# Exploration: the schedule
# ---------------------------------------------------------------------------------------------


def _schedule_cases(rng: np.random.Generator) -> Cases:
    duration = int(rng.integers(5_000, 20_000))
    steps = (0, duration // 4, duration // 2 + 1, duration, 3 * duration)
    arguments = [(step, 1.0, 0.05, duration) for step in steps]
    arguments += [(7, 0.5, 0.1, 10), (1, 1.0, 0.0, 1), (25, 0.0, 1.0, 100)]
    return [named_case(step=t, start=a, end=b, duration=d) for t, a, b, d in arguments]


LINEAR_SCHEDULE = function_check(
    "linear_schedule: epsilon decay",
    reference=ref_dqn.linear_schedule,
    cases=_schedule_cases,
    points=4,
    describe="steps (the start, inside the decay, its end, and long after)",
    hint=(
        "epsilon_t = start + min(t / T, 1) * (end - start): it decays every step until T, then "
        "stays at end."
    ),
    what="epsilon",
    number=True,
    tolerance={"rtol": 1e-6, "atol": 1e-9},
)


# ---------------------------------------------------------------------------------------------
# Bellman targets and the Huber loss (pure functions)
# ---------------------------------------------------------------------------------------------


def _next_values(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values with |v| >= 1, so that a wrongly masked bootstrap term always shows."""
    values = rng.normal(size=shape)
    return np.sign(values + 1e-9) * (1.0 + np.abs(values)) * 2.0


def _mask(batch: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "terminal":
        return np.ones(batch)
    if kind == "truncated":
        return np.zeros(batch)
    mask = rng.random(batch) < 0.5
    mask[0], mask[-1] = True, False  # both kinds of end in every mixed batch
    return mask.astype(np.float64)


_MASK_TEXT = {
    "terminal": "terminated (no bootstrap)",
    "truncated": "cut by a time limit (truncated: terminated = 0, bootstraps)",
    "mixed": "terminated and not",
}


def _dqn_target_cases(rng: np.random.Generator) -> Cases:
    cases: Cases = []
    for batch, actions, kind, gamma in [
        (1, 2, "terminal", 0.99),
        (1, 2, "truncated", 0.99),
        (8, 3, "mixed", 0.99),
        (12, 5, "mixed", 1.0),
        (6, 2, "truncated", 0.9),
    ]:
        rewards, terminated = f32(rng.normal(size=batch)), f32(_mask(batch, kind, rng))
        next_q = f32(_next_values(rng, (batch, actions)))
        note = f"B={batch}, {actions} actions, {_MASK_TEXT[kind]}"
        inputs = dict(rewards=rewards, next_q_values=next_q, terminated=terminated, gamma=gamma)
        cases.append(named_case(note, **inputs))
    return cases


def _double_dqn_cases(rng: np.random.Generator) -> Cases:
    """The target network's argmax differs from the online network's in every row, so that
    choosing with the wrong network always shows."""
    cases: Cases = []
    for batch, actions, kind, gamma in [
        (1, 2, "terminal", 0.99),
        (1, 3, "truncated", 0.99),
        (9, 3, "mixed", 0.99),
        (10, 4, "mixed", 1.0),
    ]:
        online = _next_values(rng, (batch, actions))
        target = _next_values(rng, (batch, actions))
        chosen = online.argmax(axis=1)
        target[np.arange(batch), chosen] = target.min(axis=1) - 1.0 - rng.random(batch)
        rewards, terminated = f32(rng.normal(size=batch)), f32(_mask(batch, kind, rng))
        note = f"B={batch}, {actions} actions, {_MASK_TEXT[kind]}"
        inputs = dict(next_q_values_online=f32(online), next_q_values_target=f32(target))
        cases.append(
            named_case(note, rewards=rewards, **inputs, terminated=terminated, gamma=gamma)
        )
    return cases


DQN_TARGET = function_check(
    "dqn_target: terminal vs truncated transitions",
    reference=ref_dqn.dqn_target,
    cases=_dqn_target_cases,
    points=6,
    describe="batches of transitions, terminal and truncated ones among them",
    hint=(
        "y = r + gamma * (1 - terminated) * max_a' Q_target(s', a'): the max over actions (dim 1), "
        "and only a terminal transition drops the bootstrap term; a truncated one keeps it."
    ),
    what="the targets",
)
DOUBLE_DQN_TARGET = function_check(
    "double_dqn_target: online network chooses, target network values",
    reference=ref_dqn.double_dqn_target,
    cases=_double_dqn_cases,
    points=6,
    describe="batches where the online and the target networks prefer different next actions",
    hint=(
        "the online network chooses a* = argmax_a' Q_online(s', a'), the target network values "
        "it: y = r + gamma * (1 - terminated) * Q_target(s', a*)."
    ),
    what="the targets",
)


def _huber_cases(rng: np.random.Generator) -> Cases:
    cases: Cases = []
    for batch, delta, spread in [(6, 1.0, 0.3), (8, 1.0, 4.0), (1, 0.5, 3.0), (40, 2.0, 2.5)]:
        q_values = f32(rng.normal(size=batch))
        targets = q_values + f32(rng.normal(size=batch) * spread)
        errors = (q_values - targets).abs()
        where = "all inside" if bool((errors <= delta).all()) else "some outside"
        if bool((errors > delta).all()):
            where = "all outside"
        note = f"B={batch}, TD errors {where} [-delta, delta]: {fmt(errors)}"
        cases.append(named_case(note, q_values=q_values, targets=targets, delta=delta))
    return cases


HUBER_VALUE = function_check(
    "huber_loss: value",
    reference=ref_dqn.huber_loss,
    cases=_huber_cases,
    points=3.5,
    describe="batches with TD errors inside and outside [-delta, delta]",
    hint=(
        "0.5 x^2 where |x| <= delta, delta * (|x| - 0.5 delta) beyond; the mean over the batch, a "
        "scalar."
    ),
)
HUBER_GRAD = gradient_check(
    "huber_loss: gradient (targets constant)",
    reference=ref_dqn.huber_loss,
    cases=_huber_cases,
    wrt=("q_values", "targets"),
    constants=("targets",),
    points=3.5,
    describe="batches with TD errors inside and outside [-delta, delta]",
    hint=(
        "d loss / d q_t = clip(q_t - y_t, -delta, delta) / B; the targets are constants (detach "
        "them), so no gradient may reach them."
    ),
)


# ---------------------------------------------------------------------------------------------
# SAC: the squashed Gaussian, targets and losses (pure functions)
# ---------------------------------------------------------------------------------------------


def _tanh_cases(rng: np.random.Generator, batches: Sequence[tuple[int, int, float]]) -> Cases:
    cases: Cases = []
    for batch, dim, scale in batches:
        means = f32(rng.normal(size=(batch, dim)))
        log_stds = f32(rng.uniform(-1.5, 0.7, size=(batch, dim)))
        pre_tanh = f32(rng.normal(size=(batch, dim)) * scale)
        inputs = dict(pre_tanh_actions=pre_tanh, means=means, log_stds=log_stds)
        cases.append(named_case(f"B={batch}, action_dim={dim}", **inputs))
    return cases


_TANH_HINT = (
    "sum over action dimensions of log N(u_j; mu_j, sigma_j^2) - log(1 - tanh(u_j)^2), with "
    "log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), which stays finite where tanh(u)^2 "
    "rounds to 1."
)
TANH_VALUE = function_check(
    "tanh_gaussian_log_prob: value (tanh correction)",
    reference=ref_sac.tanh_gaussian_log_prob,
    cases=lambda rng: _tanh_cases(rng, [(7, 1, 1.0), (5, 3, 1.5), (1, 2, 1.0), (6, 2, 6.0)]),
    points=4,
    describe="batches (action_dim 1 to 3; one with |u| up to about 15, where tanh saturates)",
    hint=_TANH_HINT,
    what="the log-probabilities",
)
TANH_GRAD = gradient_check(
    "tanh_gaussian_log_prob: gradient",
    reference=ref_sac.tanh_gaussian_log_prob,
    cases=lambda rng: _tanh_cases(rng, [(1, 1, 1.0), (1, 2, 1.5), (1, 3, 2.0)]),
    wrt=("pre_tanh_actions", "means", "log_stds"),
    points=4,
    describe="single actions (action_dim 1 to 3)",
    hint=_TANH_HINT,
    compare_loss=True,
)


def _reduce_cases(rng: np.random.Generator) -> Cases:
    cases: Cases = []
    for critics, batch, reduction in [
        (2, 6, "min"),
        (2, 6, "mean"),
        (2, 6, "single"),
        (3, 4, "min"),
        (1, 5, "min"),
        (1, 1, "single"),
    ]:
        q_values = f32(rng.normal(size=(critics, batch)) * 3.0)
        note = f"{critics} critics, B={batch}"
        cases.append(named_case(note, q_values=q_values, reduction=reduction))
    return cases


REDUCE_Q_VALUES = function_check(
    "reduce_q_values: min, mean, single",
    reference=ref_sac.reduce_q_values,
    cases=_reduce_cases,
    points=3,
    describe="stacks of critics' values, with each reduction",
    hint=(
        "reduce over the critics (dim 0): 'min' takes the smallest value of each column (clipped "
        "double-Q), 'mean' their average, 'single' the first critic's row."
    ),
    what="the reduced values",
)


def _sac_target_cases(rng: np.random.Generator) -> Cases:
    cases: Cases = []
    for batch, critics, reduction, kind, gamma, alpha in [
        (8, 2, "min", "mixed", 0.99, 0.2),
        (8, 2, "mean", "mixed", 0.99, 0.5),
        (8, 1, "single", "mixed", 0.99, 0.1),
        (1, 2, "min", "terminal", 0.99, 0.3),
        (1, 2, "min", "truncated", 0.99, 0.3),
        (6, 2, "min", "truncated", 1.0, 1.0),
        (5, 2, "min", "mixed", 0.9, 0.0),
    ]:
        rewards, terminated = f32(rng.normal(size=batch)), f32(_mask(batch, kind, rng))
        next_q = f32(_next_values(rng, (critics, batch)))
        log_probs = f32(rng.normal(size=batch) * 1.5 - 1.0)
        note = f"B={batch}, {critics} critic(s), {_MASK_TEXT[kind]}"
        inputs = dict(rewards=rewards, next_q_values=next_q, next_log_probs=log_probs)
        constants = dict(terminated=terminated, gamma=gamma, alpha=alpha, reduction=reduction)
        cases.append(named_case(note, **inputs, **constants))
    return cases


SAC_TARGET = function_check(
    "sac_target: soft targets with each backup strategy",
    reference=ref_sac.sac_target,
    cases=_sac_target_cases,
    points=6,
    describe="batches with each backup strategy (min, mean, single), terminal and truncated ends",
    hint=(
        "y = r + gamma * (1 - terminated) * (reduce_i Q_i(s', a') - alpha * log pi(a' | s')): the "
        "entropy bonus is minus alpha times the log-probability, inside the bootstrap term."
    ),
    what="the targets",
)


def _actor_cases(rng: np.random.Generator) -> Cases:
    cases: Cases = []
    for batch, alpha in [(1, 0.2), (8, 0.2), (32, 1.0), (5, 0.05)]:
        log_probs = f32(rng.normal(size=batch) - 1.0)
        q_values = f32(rng.normal(size=batch) * 5.0)
        cases.append(named_case(f"B={batch}", log_probs=log_probs, q_values=q_values, alpha=alpha))
    return cases


ACTOR_REPARAMETERIZE = gradient_check(
    "actor_loss_reparameterize: loss and gradient",
    reference=ref_sac.actor_loss_reparameterize,
    cases=_actor_cases,
    wrt=("log_probs", "q_values"),
    points=4,
    describe="batches (loss and gradients)",
    hint=(
        "L = mean(alpha * log_probs - q_values): d L / d log_probs = alpha / B and "
        "d L / d q = -1 / B; nothing is detached, the gradient flows through the sampled actions."
    ),
    compare_loss=True,
)
ACTOR_REINFORCE = gradient_check(
    "actor_loss_reinforce: loss and gradient (weights constant)",
    reference=ref_sac.actor_loss_reinforce,
    cases=_actor_cases,
    wrt=("log_probs", "q_values"),
    constants=("q_values",),
    points=4,
    describe="batches (loss and gradients)",
    hint=(
        "L = mean(log_probs * w) with the weight w = alpha * log_probs - q_values held constant "
        "(detached): d L / d log_probs = w / B, and no gradient reaches q_values."
    ),
    compare_loss=True,
)


def _temperature_cases(rng: np.random.Generator) -> Cases:
    cases: Cases = []
    for batch, target_entropy in [(1, -1.0), (16, -2.0), (7, -6.0), (64, 0.5)]:
        log_alpha = f32(np.array(rng.uniform(-3.0, 1.0)))
        log_probs = f32(rng.normal(size=batch) * 2.0 - target_entropy * rng.uniform(0.2, 1.8))
        inputs = dict(log_alpha=log_alpha, log_probs=log_probs, target_entropy=target_entropy)
        cases.append(named_case(f"B={batch}", **inputs))
    return cases


TEMPERATURE = gradient_check(
    "temperature_loss: loss and gradient",
    reference=ref_sac.temperature_loss,
    cases=_temperature_cases,
    wrt=("log_alpha", "log_probs"),
    constants=("log_probs",),
    points=4,
    describe="batches (loss and gradients)",
    hint=(
        "L = -mean(log_alpha * (log_probs + target_entropy)), in log_alpha itself (not alpha), "
        "with the log-probabilities detached: its gradient raises alpha when the entropy "
        "-mean(log_probs) is below the target."
    ),
    compare_loss=True,
)


# ---------------------------------------------------------------------------------------------
# Statistical: the squashed Gaussian's density integrates to one over [-1, 1]
# ---------------------------------------------------------------------------------------------
#
# For one action dimension, pi(a) = exp(tanh_gaussian_log_prob(atanh(a), mu, log_sigma)) is a
# density on (-1, 1), so with A ~ Uniform(-1, 1), X = 2 pi(A) has E[X] = 1. Without the tanh
# correction (or with its sign flipped) the integral is E_u[1 - tanh(u)^2] < 1 (or above 1).
# The uniform density, a constant log-probability of -log 2, integrates to 1 as well: its mean
# tells it apart, so E[X A] = E_pi[a] must be the reference's mean too (0 only for mu = 0).
# Bound (empirical Bernstein, Maurer & Pontil 2009, Theorem 4, two-sided, Bonferroni over the
# cases and both moments): X lies in [0, R] with R = 2 max pi, which the reference's density
# gives on a fine grid (times 1.5: the grid can miss the peak by a little), and X A in [-R, R].

_DENSITY_N = 100_000
_DENSITY_CASES = ((0.0, 0.0), (0.8, -0.7), (-1.2, -1.0), (0.3, 0.4))  # (mu, log sigma)


def _reference_density(actions: np.ndarray, mu: float, log_sigma: float) -> np.ndarray:
    u = torch.as_tensor(np.arctanh(actions), dtype=torch.float64).reshape(-1, 1)
    log_prob = ref_sac.tanh_gaussian_log_prob(
        u, torch.full_like(u, mu), torch.full_like(u, log_sigma)
    )
    return torch.exp(log_prob).numpy()


def _density_problem(value: Any, actions: np.ndarray, mu: float, log_sigma: float) -> str | None:
    """What is wrong with the log-probabilities ``value`` of ``atanh(actions)``: their
    density's integral and mean action, within the empirical Bernstein bounds."""
    if type(value) is not torch.Tensor or tuple(value.shape) != (_DENSITY_N,):
        shape = tuple(value.shape) if type(value) is torch.Tensor else type(value).__name__
        return f"the result is {shape}, expected a tensor of shape (N,)"
    samples = 2.0 * np.exp(value.detach().numpy().astype(np.float64))
    if not np.all(np.isfinite(samples)):
        return "the log-probabilities hold non-finite values"
    grid = np.linspace(-1.0, 1.0, 200_001)[1:-1]
    density = _reference_density(grid, mu, log_sigma)
    value_range = 1.5 * 2.0 * float(density.max())
    tests = 2 * len(_DENSITY_CASES)
    mean = float(np.sum(grid * density) * (grid[1] - grid[0]))
    for what, estimates, expected, spread in (
        ("the integral", samples, 1.0, value_range),
        ("the mean action", samples * actions, mean, 2.0 * value_range),
    ):
        bound = float(bernstein_half_width(estimates, spread, tests=tests))
        estimate = float(estimates.mean())
        if abs(estimate - expected) > bound:
            return (
                f"{what} is estimated at {estimate:.4f}, expected {expected:.4f} within "
                f"+-{bound:.4f} (a correct density is outside these bounds less than once "
                "in a million gradings)"
            )
    return None


def _density_case(rng: np.random.Generator, mu: float, log_sigma: float) -> Sampled:
    actions = np.clip(rng.uniform(-1.0, 1.0, size=_DENSITY_N), -1.0 + 1e-6, 1.0 - 1e-6)
    pre_tanh = f32(np.arctanh(actions).reshape(-1, 1))
    inputs = (pre_tanh, torch.full_like(pre_tanh, mu), torch.full_like(pre_tanh, log_sigma))
    return Sampled(
        f"mu={mu}, sigma={math.exp(log_sigma):.4f}",
        lambda sandbox: sandbox.call(
            SAC, "tanh_gaussian_log_prob", inputs, timeout_s=CALL_TIMEOUT_S
        ),
        lambda value: _density_problem(value, actions, mu, log_sigma),
        # a density symmetric about 0 has the uniform density's mean: only its integral shows
        trivial=mu == 0.0,
    )


TANH_DENSITY = statistical_check(
    "tanh_gaussian_log_prob: the squashed density integrates to 1",
    function="tanh_gaussian_log_prob",
    cases=lambda rng: [_density_case(rng, *case) for case in _DENSITY_CASES],
    points=3,
    what=(
        f"the integral over [-1, 1] of exp(`tanh_gaussian_log_prob`) for action_dim 1, "
        f"estimated from {_DENSITY_N} uniform actions, for {len(_DENSITY_CASES)} (mu, sigma): "
        "a density integrates to 1, with the reference's mean"
    ),
    hint=(
        "a = tanh(u) has density N(u; mu, sigma^2) / (1 - tanh(u)^2): subtract "
        "log(1 - tanh(u)^2) from the Gaussian's log-density (the change of variables)."
    ),
)


# ---------------------------------------------------------------------------------------------
# The agents, through the student's trainer
# ---------------------------------------------------------------------------------------------


_DIMS = {"CartPole-v1": (4, 2), "Acrobot-v1": (6, 3), "Pendulum-v1": (3, 1), "Reacher-v5": (10, 2)}
"""The observation dimension of each env of the agent checks, and its number of actions
(discrete) or action dimension (continuous)."""


def _reference_agent(
    rng: np.random.Generator, agent_class: type[Any], *agent_args: Any, **fields: Any
) -> tuple[dict[str, Any], Any]:
    """The config of ``fields`` (a small replay buffer unless given) and the reference's
    ``agent_class`` built from it, in the spaces of its env (without making the env) and under
    a torch seed drawn from ``rng``."""
    discrete = agent_class is ref_dqn.DQNAgent
    config_class = ref_config.DQNConfig if discrete else ref_config.SACConfig
    config = dataclasses.asdict(config_class(**{"buffer_size": 64, **fields}))
    obs_dim, actions = _DIMS[config["env"]]
    observation_space = gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
    if discrete:
        action_space: gym.Space = gym.spaces.Discrete(actions)
    else:
        action_space = gym.spaces.Box(-1.0, 1.0, (actions,), np.float32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed(rng))
        agent = agent_class(
            observation_space, action_space, config_class(**config), CPU, *agent_args
        )
    return config, agent


def _actions_shifted(state: dict[str, Any]) -> dict[str, Any]:
    """A Q-network's weights whose output for action a is the one for action a + 1 (mod the
    number of actions): the target network then prefers another next action than the online
    network in every state, so that choosing a* with the wrong network (or not with the
    online one) always shows in a double-DQN target."""
    weight = [name for name in state if name.endswith(".weight")][-1]  # the output layer's
    bias = weight.removesuffix("weight") + "bias"
    return {
        name: torch.roll(tensor, 1, dims=0) if name in (weight, bias) else tensor
        for name, tensor in state.items()
    }


# -- DQN ----------------------------------------------------------------------------------------

_DQN_FIELDS = [
    "env",
    "double",
    "n_layers",
    "layer_size",
    "activation",
    "max_grad_norm",
    "huber_delta",
]
_DQN_CASES = [
    # the config's _DQN_FIELDS, then the minibatch's size
    ("CartPole-v1", False, 2, 32, "relu", 0.01, 1.0, 16),
    ("Acrobot-v1", True, 1, 16, "tanh", None, 0.5, 9),
    ("CartPole-v1", True, 2, 16, "relu", 10.0, 2.0, 1),
    ("Acrobot-v1", False, 0, 8, "relu", 0.1, 1.0, 12),
]


def _dqn_setup(
    rng: np.random.Generator, case: tuple[Any, ...], **extra: Any
) -> tuple[str, dict[str, Any], ref_dqn.DQNAgent, dict[tuple[str, ...], Any], Any]:
    *fields, batch_size = case
    config, agent = _reference_agent(
        rng,
        ref_dqn.DQNAgent,
        np.random.default_rng(0),
        **dict(zip(_DQN_FIELDS, fields, strict=True)),
        gamma=float(rng.choice([0.9, 0.99, 1.0])),
        learning_rate=float(rng.uniform(1e-3, 1e-2)),
        seed=int(rng.integers(1_000)),
        **extra,
    )
    target = _actions_shifted(perturbed(agent.target_network.state_dict(), rng))
    agent.target_network.load_state_dict(target)
    states: dict[tuple[str, ...], Any] = {
        ("agent", "q_network"): state_dict_of(agent.q_network),
        ("agent", "target_network"): target,
    }
    obs_dim, actions = _DIMS[config["env"]]
    batch = replay_batch(rng, batch_size, obs_dim, actions)
    summary = (
        f"{config['env']} (obs_dim {obs_dim}, {actions} actions), "
        + ", ".join(f"{name}={config[name]}" for name in [*_DQN_FIELDS[1:], "gamma"])
        + f", B={batch_size}, terminated={batch['terminated'].astype(int).tolist()}"
    )
    return summary, config, agent, states, batch


def _dqn_case(rng: np.random.Generator, case: tuple[Any, ...]) -> AgentCase:
    summary, config, agent, states, batch = _dqn_setup(rng, case)
    return AgentCase(summary, config, states, agent, batch_tensors(batch))


DQN_COMPUTE_LOSS = agent_method_check(
    "DQNAgent.compute_loss: loss, Q(s, a) and targets",
    function="DQNAgent.compute_loss",
    trainer=DQN_TRAINER,
    method="compute_loss",
    cases=_DQN_CASES,
    setup=_dqn_case,
    outputs=("the loss", "q_values", "targets"),
    points=6,
    what=(
        f"`DQNAgent.compute_loss` with the reference's weights (online and target networks "
        f"differ) on {len(_DQN_CASES)} minibatches, double DQN on and off: the loss, "
        "Q(s, a) of the actions taken, and the targets"
    ),
    hint=(
        "Q(s, a) gathers each row's taken action; the targets come from the target network "
        "(double DQN: the online network picks a*, the target network values it) under "
        "torch.no_grad(); the loss is huber_loss with config.huber_delta."
    ),
    timeout_s=60.0,
)


def _dqn_update_case(
    rng: np.random.Generator, case: tuple[Any, ...], period: int = 1, updates: int = 2
) -> AgentCase:
    """``updates`` updates, each on a minibatch of its own, with a hard update every
    ``period`` gradient steps. Adam's first step hardly depends on the gradient's scale; the
    second weighs it against the first, so clipping in the wrong place shows."""
    summary, config, agent, states, batch = _dqn_setup(rng, case, target_update_period=period)
    obs_dim = batch["observations"].shape[1]
    more = tuple(
        (replay_batch(rng, len(batch["rewards"]), obs_dim, agent.num_actions),)
        for _ in range(updates - 1)
    )
    summary += f", target_update_period={period}, {updates} updates"
    return AgentCase(summary, config, states, agent, (batch,), more)


def _q_network(agent: Any) -> dict[str, list[str]]:
    return {"q_network": [name for name, _ in agent.q_network.named_parameters()]}


def _judge_dqn_update(stepped: Stepped) -> str | None:
    metrics = ("train/loss_critic", "train/grad_norm")
    return network_step_problem(stepped, metrics, "q_network", "after the step, parameter")


def _judge_hard_update(stepped: Stepped) -> str | None:
    """Isolated from the rest of the update: after a copy, the target network holds the
    student's own online weights, and the online network was not overwritten by the old
    target; between copies, the target network stays as it was (a target that shares the
    online network's tensors moves with every step)."""
    online = without_grads(stepped.fetched["q_network"])
    old_target = stepped.before["agent", "target_network"]
    agent = stepped.agent
    if agent.num_updates % agent.config.target_update_period != 0:
        return tensors_problem(
            stepped.fetched["target_network"],
            old_target,
            f"between copies (update {agent.num_updates}, period "
            f"{agent.config.target_update_period}), the target network's",
        )
    problem = tensors_problem(
        stepped.fetched["target_network"], online, "the target network's (expected: online)"
    )
    if problem is None and all(np.allclose(online[k], old_target[k]) for k in online):
        problem = (
            "the online network now holds the old target weights: the copy went the wrong "
            "way (the arguments are (target, source))"
        )
    return problem


DQN_UPDATE = agent_update_check(
    "DQNAgent.gradient_step: two DQN updates from identical state",
    function="DQNAgent.gradient_step",
    trainer=DQN_TRAINER,
    cases=_DQN_CASES,
    setup=_dqn_update_case,
    networks=_q_network,
    judge=_judge_dqn_update,
    points=6,
    what=(
        f"two `DQNAgent.update` calls (your compute_loss and gradient_step) from the reference's "
        f"weights on {len(_DQN_CASES)} pairs of minibatches: the loss and the gradient norm the "
        "second reports, every parameter's gradient after clipping, and the parameters after "
        "the second Adam step"
    ),
    hint=(
        "gradient_step zeroes the old gradients, backpropagates the loss, clips the gradient "
        "norm to config.max_grad_norm (not at all when None) before optimizer.step(), and "
        "returns the norm before clipping."
    ),
    timeout_s=60.0,
)
HARD_UPDATE = agent_update_check(
    "hard_update: the target network, copied every period and still between copies",
    function="hard_update",
    trainer=DQN_TRAINER,
    cases=_DQN_CASES[:2],
    setup=lambda rng, case: _dqn_update_case(rng, case, period=2, updates=3),
    networks=_q_network,
    judge=_judge_hard_update,
    points=3,
    what=(
        "the target network after each of three `DQNAgent.update` calls with "
        "target_update_period=2 on 2 networks: unchanged after the first, your own online "
        "network after the second (a copy), and still that copy after the third"
    ),
    hint=(
        "hard_update(target, source) copies every parameter of source into target in place "
        "(target_param.copy_(param)): target keeps tensors of its own, so that the online "
        "network's later steps leave it alone; source is left unchanged."
    ),
    timeout_s=60.0,
)


# -- epsilon-greedy: statistical ----------------------------------------------------------------
#
# The student's DQNAgent.act(observations, epsilon) (which calls epsilon_greedy) on N states whose
# greedy actions are known (the reference's weights): each action a has probability
# (1 - eps) [greedy(s_i) == a] + eps / A in row i, judged by kit.frequencies_problem.
# Every call runs under the same worker seed, which reseeds NumPy's, Python's and torch's global
# generators alike: the agent's own generator moves on from one call to the next, so the last two
# calls (all random) draw independently, and their actions' difference mod A is uniform. Draws
# from a global generator, or from one the function seeds itself, repeat: a difference of 0.

_EPS_N = 30_000
_EPSILONS = (0.0, 0.3, 1.0, 1.0)
_EPS_ACTIONS = 3  # Acrobot's
_EPS_HALF_WIDTH = hoeffding_half_width(_EPS_N, (len(_EPSILONS) + 1) * (_EPS_ACTIONS + 1))


def _repeated_draws_problem(first: np.ndarray, second: np.ndarray) -> str | None:
    """What shows that two calls' all-random actions are not independent draws; None when
    their difference mod the number of actions has the uniform law that independence gives
    it (:func:`~autograder.kit.frequencies_problem`)."""
    difference = (second - first) % _EPS_ACTIONS
    uniform = np.full((len(difference), _EPS_ACTIONS), 1.0 / _EPS_ACTIONS)
    problem = frequencies_problem(difference, uniform, _EPS_HALF_WIDTH)
    if problem is None:
        return None
    return (
        f"the second call's action minus the first's (mod {_EPS_ACTIONS}), uniform for "
        f"independent draws and 0 everywhere for the same draws in both calls: {problem}"
    )


def _epsilon_cases(rng: np.random.Generator) -> list[Sampled]:
    """One call of ``DQNAgent.act`` per epsilon of :data:`_EPSILONS`, each under the same worker
    seed, on an agent built with the reference's weights (greedy actions known)."""
    case = ("Acrobot-v1", False, 1, 16, "tanh", None, 1.0, 4)
    summary, config, agent, states, _ = _dqn_setup(rng, case)
    built = AgentCase(summary, config, states, agent, ())
    distinct = rng.normal(size=(8, 6)).astype(np.float32)
    observations = distinct[rng.integers(len(distinct), size=_EPS_N)]
    with torch.no_grad():
        greedy = agent.q_network(torch.as_tensor(observations)).argmax(dim=1).numpy()
    one_hot = np.eye(_EPS_ACTIONS)[greedy]
    seed = torch_seed(rng)
    drawn: dict[int, Any] = {}  # each call's actions: the last one is judged against the one before

    def sampled(call: int, epsilon: float) -> Sampled:
        def judge(actions: Any) -> str | None:
            drawn[call] = actions
            probabilities = (1.0 - epsilon) * one_hot + epsilon / _EPS_ACTIONS
            problem = frequencies_problem(actions, probabilities, _EPS_HALF_WIDTH)
            if problem is None and call == len(_EPSILONS) and call - 1 in drawn:
                problem = _repeated_draws_problem(drawn[call - 1], actions)
            return problem

        return Sampled(
            f"call {call}, epsilon={epsilon}",
            lambda sandbox: sandbox.on(
                KEPT,
                DQN_TRAINER.on_agent(Method("act", (observations, epsilon))),
                seed=seed,
                timeout_s=CALL_TIMEOUT_S,
                label="DQNAgent.act",
            ),
            judge,
            agent=built if call == 1 else None,
        )

    return [sampled(call, epsilon) for call, epsilon in enumerate(_EPSILONS, start=1)]


EPSILON_GREEDY = statistical_check(
    "epsilon_greedy: action frequencies, independent across calls (via DQNAgent.act)",
    function="epsilon_greedy",
    cases=_epsilon_cases,
    trainer=DQN_TRAINER,
    points=7,
    what=(
        f"the action frequencies of `DQNAgent.act` (your epsilon_greedy) on {_EPS_N} "
        f"observations ({_EPS_ACTIONS} actions, greedy actions known) in {len(_EPSILONS)} "
        f"calls with epsilon in {list(_EPSILONS)}, each under the same worker seed: each "
        "action's frequency and the greedy action's, and the last two calls' independence, "
        f"within +-{_EPS_HALF_WIDTH:.4f} of the exact ones"
    ),
    hint=(
        "each state on its own: with probability epsilon an action drawn uniformly from all "
        "actions (the greedy one included), else the argmax; one random draw per state, not "
        "one for the whole batch, and every draw from the generator passed in (rng), not from "
        "NumPy's global one or a generator of your own, so that each call draws afresh."
    ),
    timeout_s=60.0,
)


# -- SAC ----------------------------------------------------------------------------------------

_SAC_FIELDS = [
    "env",
    "critic_target",
    "actor_gradient",
    "num_actor_samples",
    "n_layers",
    "layer_size",
]
_SAC_CASES = [
    # the config's _SAC_FIELDS, then the minibatch's size
    ("Reacher-v5", "min", "reparameterize", 1, 2, 32, 12),
    ("Pendulum-v1", "mean", "reinforce", 1, 1, 16, 9),
    ("Pendulum-v1", "single", "reparameterize", 1, 2, 16, 1),
    ("Reacher-v5", "min", "reinforce", 4, 1, 16, 1),
    ("Pendulum-v1", "mean", "reparameterize", 3, 1, 16, 5),  # the samples' layout shows
]


def _sac_setup(
    rng: np.random.Generator, case: tuple[Any, ...]
) -> tuple[str, dict[str, Any], ref_sac.SACAgent, dict[tuple[str, ...], Any], Any]:
    *fields, batch_size = case
    config, agent = _reference_agent(
        rng,
        ref_sac.SACAgent,
        **dict(zip(_SAC_FIELDS, fields, strict=True)),
        activation=str(rng.choice(["relu", "tanh"])),
        gamma=float(rng.choice([0.9, 0.99])),
        init_temperature=float(rng.uniform(0.05, 1.0)),
        tau=float(rng.uniform(0.005, 0.5)),
        actor_learning_rate=float(rng.uniform(1e-3, 1e-2)),
        critic_learning_rate=float(rng.uniform(1e-3, 1e-2)),
        temperature_learning_rate=float(rng.uniform(1e-3, 1e-2)),
        seed=int(rng.integers(1_000)),
    )
    target = perturbed(agent.target_critics.state_dict(), rng)
    agent.target_critics.load_state_dict(target)
    states: dict[tuple[str, ...], Any] = {
        ("agent", "actor"): state_dict_of(agent.actor),
        ("agent", "critics"): state_dict_of(agent.critics),
        ("agent", "target_critics"): target,
    }
    obs_dim, act_dim = _DIMS[config["env"]]
    batch = replay_batch(rng, batch_size, obs_dim, None, act_dim)
    summary = (
        f"{config['env']} (obs_dim {obs_dim}, action_dim {act_dim}), "
        + ", ".join(f"{name}={config[name]!r}" for name in _SAC_FIELDS[1:])
        + f", {config['activation']}, gamma={config['gamma']}, "
        f"alpha={config['init_temperature']:.4f}, tau={config['tau']:.4f}, B={batch_size}, "
        f"terminated={batch['terminated'].astype(int).tolist()}"
    )
    return summary, config, agent, states, batch


def _sac_case(method: str) -> Callable[[np.random.Generator, tuple[Any, ...]], AgentCase]:
    def setup(rng: np.random.Generator, case: tuple[Any, ...]) -> AgentCase:
        summary, config, agent, states, batch = _sac_setup(rng, case)
        inputs = batch_tensors(batch)
        return AgentCase(
            summary, config, states, agent, inputs[:1] if method == "actor_loss" else inputs
        )

    return setup


def _sac_method_check(
    name: str, method: str, points: float, describe: str, outputs: tuple[str, ...], hint: str
) -> Check:
    return agent_method_check(
        name,
        function=f"SACAgent.{method}",
        trainer=SAC_TRAINER,
        method=method,
        cases=_SAC_CASES,
        setup=_sac_case(method),
        outputs=outputs,
        points=points,
        what=(
            f"`SACAgent.{method}` with the reference's weights (the target critics differ from "
            f"the critics) and the same torch seed on {len(_SAC_CASES)} minibatches "
            f"({describe}): {', '.join(outputs)}"
        ),
        hint=hint,
        seeded=True,
        timeout_s=60.0,
    )


SAC_CRITIC_LOSS = _sac_method_check(
    "SACAgent.critic_loss: loss and Q-values",
    "critic_loss",
    4,
    "min, mean and single backups",
    ("the loss", "q_values"),
    "sample a' from the actor at s', value it with every target critic, and build the target "
    "with sac_target (config.critic_target, the current alpha) under torch.no_grad(); the loss "
    "sums over the critics the mean squared error of each.",
)
SAC_ACTOR_LOSS = _sac_method_check(
    "SACAgent.actor_loss: loss and log-probabilities",
    "actor_loss",
    4,
    "reparameterised and REINFORCE, 1, 3 and 4 samples per state",
    ("the loss", "log_probs"),
    "repeat the observations num_actor_samples times, sample actions (reparameterised only for "
    "'reparameterize'), value them with the online critics reduced by config.critic_target, "
    "and use the matching actor loss with the current alpha.",
)


def _sac_update_case(rng: np.random.Generator, case: tuple[Any, ...]) -> AgentCase:
    """Two updates on two minibatches: what the first leaves to the second (Adam's moments,
    the learned temperature, the target critics) shows in the second."""
    summary, config, agent, states, batch = _sac_setup(rng, case)
    obs_dim, act_dim = batch["observations"].shape[1], batch["actions"].shape[1]
    second = replay_batch(rng, len(batch["rewards"]), obs_dim, None, act_dim)
    return AgentCase(summary + ", two updates", config, states, agent, (batch,), ((second,),))


def _critics_and_actor(agent: Any) -> dict[str, list[str]]:
    return {
        "critics": [name for name, _ in agent.critics.named_parameters()],
        "actor": [name for name, _ in agent.actor.named_parameters()],
    }


_LOG_ALPHA: dict[str, dict[str, list[Step]]] = {
    "log_alpha": {
        "log_alpha": [Attr("log_alpha"), Method("detach")],
        "grad log_alpha": [Attr("log_alpha"), Attr("grad")],
    }
}


def _sac_update_check(
    name: str,
    function: str,
    points: float,
    what: str,
    hint: str,
    judge: Callable[[Stepped], str | None],
) -> Check:
    return agent_update_check(
        name,
        function=function,
        trainer=SAC_TRAINER,
        cases=_SAC_CASES,
        setup=_sac_update_case,
        networks=_critics_and_actor,
        judge=judge,
        points=points,
        what=(
            "two `SACAgent.update` calls, each on a minibatch of its own, from the reference's "
            f"weights and the same torch seeds, in {len(_SAC_CASES)} cases; after each, {what}"
        ),
        hint=hint,
        seeded=True,
        fetch=_LOG_ALPHA,
        timeout_s=60.0,
    )


def _judge_critic_step(stepped: Stepped) -> str | None:
    metrics = ("train/loss_critic",)
    return network_step_problem(stepped, metrics, "critics", "after the step, critic parameter")


def _judge_actor_step(stepped: Stepped) -> str | None:
    agent = stepped.agent
    problem = network_step_problem(stepped, ("train/loss_actor",), "actor", "after the step, actor")
    log_alpha = {
        "log_alpha": agent.log_alpha.detach().clone(),
        "grad log_alpha": agent.log_alpha.grad,
    }
    return problem or tensors_problem(stepped.fetched["log_alpha"], log_alpha, "after the step,")


def _judge_soft_update(stepped: Stepped) -> str | None:
    """The target critics against tau * (the student's own critics after the step) + (1 - tau)
    * (the target critics before): soft_update alone, whatever the losses did."""
    tau = stepped.agent.config.tau
    online = without_grads(stepped.fetched["critics"])
    before = stepped.before["agent", "target_critics"]
    got = stepped.fetched["target_critics"]
    if type(online) is not dict or set(online) != set(before):
        return "the critics' parameters could not be read"
    expected = {
        name: torch.lerp(before[name], torch.as_tensor(online[name]), tau) for name in before
    }
    problem = tensors_problem(
        got, expected, "target critic (expected tau * critic + (1 - tau) * target)"
    )
    if problem is None:
        return None
    return f"{problem}\n  (tau={tau:.4f})"


SAC_CRITIC_STEP = _sac_update_check(
    "SACAgent.critic_loss: two SAC updates of the critics from identical state",
    "SACAgent.critic_loss",
    6,
    "the critic loss it reports, every critic parameter's gradient and value after the step",
    "the critics' gradient is that of your critic_loss: the targets (target critics, next "
    "actions from the actor, alpha) must carry no gradient.",
    _judge_critic_step,
)
SAC_ACTOR_STEP = _sac_update_check(
    "SACAgent.actor_loss: two SAC updates of the actor and temperature from identical state",
    "SACAgent.actor_loss",
    5,
    "the actor loss it reports, every actor parameter's gradient and value after the step, "
    "log alpha and its gradient after the temperature step",
    "with 'reparameterize' the gradient reaches the actor through the sampled actions and the "
    "critics; with 'reinforce' only through the log-probabilities; the temperature step uses "
    "the log-probabilities returned by actor_loss.",
    _judge_actor_step,
)
SOFT_UPDATE = _sac_update_check(
    "soft_update: Polyak averaging of the target critics",
    "soft_update",
    4,
    "the target critics, against tau * (your critics after the step) + (1 - tau) * (your "
    "target critics before it)",
    "Polyak averaging, in place: target <- tau * online + (1 - tau) * target, with tau the "
    "small weight of the online network (target.lerp_(online, tau)).",
    _judge_soft_update,
)


# ---------------------------------------------------------------------------------------------
# Learning curves: the student's trainers train, the grader evaluates in its own environments
# ---------------------------------------------------------------------------------------------


def _task(
    trainer: str,
    presets: Mapping[str, Any],
    targets: Mapping[str, Target],
    env: str,
    milestones: tuple[int, ...],
    policy: str,
) -> LearningTask:
    steps = milestones[-1]
    return preset_task(
        env,
        preset=presets[env],
        module=RUN,
        trainer=trainer,
        milestones=milestones,
        overrides={"total_steps": steps, "eval_every": steps, "checkpoint_every": None},
        train_until="train_until",
        target=targets[env],
        policy=policy,
    )


_DQN_TASK = ("DQNTrainer", ref_config.DQN_PRESETS, ref_config.DQN_TARGETS)
_SAC_TASK = ("SACTrainer", ref_config.SAC_PRESETS, ref_config.SAC_TARGETS)
LEARNING = [
    Learning(
        _task(*_DQN_TASK, "CartPole-v1", (40_000, 50_000), "agent.q_network"),
        points=10,
        timeout_s=300.0,
    ),
    Learning(
        _task(*_SAC_TASK, "InvertedPendulum-v5", (15_000, 20_000), "agent.actor"),
        points=10,
        timeout_s=420.0,
    ),
]
"""What ``rlhw calibrate hw3`` runs; the bands are in ``autograder/calibration/hw3.json``."""


# ---------------------------------------------------------------------------------------------
# The suite
# ---------------------------------------------------------------------------------------------

CHECKS: list[Check] = [
    # DQN
    LINEAR_SCHEDULE,
    EPSILON_GREEDY,
    DQN_TARGET,
    DOUBLE_DQN_TARGET,
    HUBER_VALUE,
    HUBER_GRAD,
    DQN_COMPUTE_LOSS,
    DQN_UPDATE,
    HARD_UPDATE,
    # SAC
    TANH_VALUE,
    TANH_GRAD,
    TANH_DENSITY,
    REDUCE_Q_VALUES,
    SAC_TARGET,
    ACTOR_REPARAMETERIZE,
    ACTOR_REINFORCE,
    TEMPERATURE,
    SAC_CRITIC_LOSS,
    SAC_ACTOR_LOSS,
    SAC_CRITIC_STEP,
    SAC_ACTOR_STEP,
    SOFT_UPDATE,
]

SUITE = Suite(hw="hw3", package=PACKAGE, checks=CHECKS, learning=LEARNING, feedback="property")

"""Hidden suite of homework 5 (exploration and offline RL): RND's prediction error, loss,
running spread and bonus; CQL's regulariser; AWAC's target, advantages and advantage-weighted
actor loss; IQL's expectile loss and Q target; the agents' losses and updates (CQL, AWAC and
IQL) from the reference's weights; the continuous part (the Gaussian's log-density, and BC's and
continuous IQL's losses and updates on Hopper-v5's spaces); and learning curves (IQL and CQL on
``PointmassEasy-v0``).

The pure functions are called with tensors across the sandbox's wire. The agents' methods
(``CQLAgent.critic_loss``, ``IQLAgent.value_loss``, ...) are reached through the student's own
``OfflineTrainer``, built from a config dict in the sandbox and kept there, as hw3's agent
checks do: the reference's weights are loaded into its networks by name, and the method (or
two ``update`` calls, the optimizers' moments and the target network carried from the first
to the second) runs on the same minibatches as the reference does here.

The continuous agents are built in the worker by the given package :data:`GIVEN_PACKAGE`
(:mod:`autograder.suites.hw5_given`) on Box spaces of Hopper-v5's sizes, from a plain config:
the student's trainer would make Hopper-v5 (MuJoCo) and read a Hopper dataset to build them, and
``gym.Space`` objects cannot cross the wire. What each continuous check's cases separate:

* ``gaussian_log_prob``: a mean over the dimensions (cases of 3 and 6 dimensions), the std where
  the variance belongs, log sigma or the constant left out, the quadratic term not halved
  (log-stds from -2 to 1, never 0 everywhere), a sum over the batch (never as many rows as
  dimensions); its gradient check weights each row differently.
* the agents' methods: every case has a log-std that is not 0, target networks that differ from
  the online ones and of which each is the smaller on some row (the minimum is neither of them
  nor their mean), the first transition terminal and the last not, ``max_weight`` between the
  middle two advantage weights (half clipped), expectiles above and below 0.5.
* the updates: three in a row, judged after each (Adam's moments, the targets' Polyak steps); the
  value network's gradients after the actor's and the critic's steps show a gradient that their
  losses leak into V.

The datasets are the grader's own (:data:`DATASETS`, in ``autograder/data/hw5``, made by the
homework's given explore command and its random explorer: ``python -m
autograder.data.make_hw5``). Every sandbox of the suite gets them in its scratch folder, over
anything the submission holds there (:data:`SANDBOX`); the student's code never writes them.
An ``OfflineTrainer`` loads its dataset when it is built: the agent checks' trainers read a
small one (they hand the agent their own minibatches), and the learning checks train the
handout's presets on the transitions that those presets learn from: the random explorer's 10k
steps, seed 0. The grader's copies of those trainers (calibration's, and the one that
evaluates the fetched weights) read the same files from the grader's tree
(``LearningTask.grader_config``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import hw5_offline.config as ref_config
import hw5_offline.continuous as ref_continuous
import hw5_offline.exploration as ref_exploration
import hw5_offline.offline as ref_offline
from autograder.checks import Check, Outcome
from autograder.judging import (
    CALL_TIMEOUT_S,
    LOSS_TOL,
    Cases,
    Tally,
    compare,
    f32,
    fmt,
    loss_grad_check,
    no_gradient,
    returned,
    state_dict_of,
    torch_seed,
)
from autograder.kit import (
    AgentCase,
    Learning,
    Stepped,
    Suite,
    Trainer,
    agent_method_check,
    agent_update_check,
    batch_tensors,
    fetch_parameters,
    function_check,
    gradient_check,
    named_case,
    network_step_problem,
    parameters,
    perturbed,
    preset_task,
    replay_batch,
    tensors_problem,
)
from autograder.learning import LearningTask
from autograder.sandbox import PROJECT_ROOT, Apply, Method, Sandbox
from autograder.suites.hw5_given import ACTION_DIM as HOPPER_ACTION_DIM
from autograder.suites.hw5_given import OBS_DIM as HOPPER_OBS_DIM
from autograder.suites.hw5_given import continuous_spaces, weighted_log_prob

PACKAGE = "hw5_offline"
EXPLORATION = f"{PACKAGE}.exploration"
OFFLINE = f"{PACKAGE}.offline"
CONFIG = f"{PACKAGE}.config"
RUN = f"{PACKAGE}.run"
KEPT = "offline_trainer"  # the name the trainer of an agent check is kept under in the worker
TRAINER_TIMEOUT_S = 30.0  # building a trainer makes the maze and reads the dataset
CPU = torch.device("cpu")

ENV = "PointmassEasy-v0"
OBS_DIM, NUM_ACTIONS = 2, 5  # the mazes' spaces: a position in [0, 1]^2, 5 moves


def _random_exploration(dataset: str, steps: int) -> dict[str, Any]:
    """The explore command's options that write ``dataset``: ``steps`` transitions of the random
    explorer (given code: no student's) on :data:`ENV`, seed 0."""
    return {
        "env": ENV,
        "explorer": "random",
        "seed": 0,
        "dataset": dataset,
        "total_steps": steps,
        "log_every": steps,
    }


DATA_DIR = PROJECT_ROOT / "autograder" / "data" / "hw5"
"""The grader's datasets, :data:`DATASETS` in Minari's format, made by ``python -m
autograder.data.make_hw5``; they ship in hw5's Gradescope bundle, never in a student tree."""
DATASETS_DIR = "grader_datasets"
"""Where every sandbox gets :data:`DATA_DIR`: in the worker's scratch folder, its working
directory (the trainers' configs name it as their ``datasets_dir``)."""
AGENT_DATASET = "grader/easy-random-60-v0"
LEARNING_DATASET = "grader/easy-random-v0"
DATASETS: dict[str, dict[str, Any]] = {
    # the agent checks hand the agent their own minibatches: their trainers' data does not matter
    AGENT_DATASET: _random_exploration(AGENT_DATASET, 60),
    # the learning checks': the very transitions of pointmass/easy-random-seed0-v0, which the
    # handout's presets on this maze learn from (the explore command's preset, seed 0)
    LEARNING_DATASET: _random_exploration(LEARNING_DATASET, 10_000),
}
"""The explore command's options that made each of the grader's datasets (``datasets_dir``
:data:`DATA_DIR`)."""

GIVEN_PACKAGE = "hw5_grader"
"""Where every sandbox gets :mod:`autograder.suites.hw5_given`: what the continuous part's
checks call in the worker (its agents built without MuJoCo, a log-density summed to one
number)."""
SANDBOX: dict[str, Any] = {
    "given": [
        PROJECT_ROOT / "infrastructure",
        (DATA_DIR, DATASETS_DIR),
        (PROJECT_ROOT / "autograder" / "suites" / "hw5_given", GIVEN_PACKAGE),
    ],
}
"""Options of every sandbox of this suite: the grader's infrastructure, its datasets in the
scratch folder, and the given package of the continuous checks, each over anything the
submission holds there."""

TRAINER = Trainer(RUN, "OfflineTrainer", KEPT, TRAINER_TIMEOUT_S)


# ---------------------------------------------------------------------------------------------
# RND: prediction errors, the predictor's loss, the running spread and the bonus
# ---------------------------------------------------------------------------------------------


def _rnd_cases(rng: np.random.Generator) -> Cases:
    cases = []
    for batch, outputs in [(6, 5), (1, 3), (9, 1), (4, 8)]:
        targets = f32(rng.normal(size=(batch, outputs)))
        predictions = targets + f32(rng.normal(size=(batch, outputs)) * rng.uniform(0.3, 2.0))
        note = f"B={batch}, {outputs} outputs"
        cases.append(named_case(note, predictions=predictions, targets=targets))
    return cases


RND_ERROR = function_check(
    "rnd_error: squared prediction error of each state",
    reference=ref_exploration.rnd_error,
    cases=_rnd_cases,
    points=4,
    describe="batches (1 to 8 outputs per state)",
    what="the errors",
    hint=(
        "e(s) = sum over the outputs k of (prediction_k - target_k)^2: the squared distance, "
        "summed over dim 1 (not averaged, not its square root), one number per state, (B,)."
    ),
)
RND_LOSS = gradient_check(
    "rnd_loss: the predictor's loss and gradient (no gradient into the target network)",
    reference=ref_exploration.rnd_loss,
    cases=_rnd_cases,
    wrt=("predictions", "targets"),
    constants=("targets",),
    compare_loss=True,
    points=5,
    describe="batches, targets given with gradients on (loss and gradients)",
    hint=(
        "L = mean over the batch of e(s); only the predictor learns, so the targets are "
        "constants (targets.detach()): d L / d predictions = 2 (predictions - targets) / B, "
        "and no gradient reaches the targets."
    ),
)


def _running_std_cases(rng: np.random.Generator) -> Cases:
    """A run of minibatches, each case starting from the running std the reference left after
    the one before (the state the explorer carries from call to call), then the edges: a
    decay of 1 (sigma kept), a batch of one (std 0)."""
    cases = []
    running, decay = 1.0, 0.9
    for index, batch in enumerate([8, 5, 12, 3]):
        errors = f32(rng.exponential(size=batch) * rng.uniform(0.5, 4.0))
        note = f"minibatch {index + 1} of a run (sigma carried from the one before), B={batch}"
        cases.append(named_case(note, running_std=running, errors=errors, decay=decay))
        running = ref_exploration.update_running_std(running, errors, decay)
    errors = f32(rng.exponential(size=6))
    cases.append(named_case("decay 1", running_std=2.5, errors=errors, decay=1.0))
    cases.append(named_case("B=1", running_std=0.7, errors=f32(np.array([3.0])), decay=0.6))
    errors = f32(rng.exponential(size=7) * 3.0)
    cases.append(named_case("decay 0.3", running_std=0.2, errors=errors, decay=0.3))
    return cases


UPDATE_RUNNING_STD = function_check(
    "update_running_std: the errors' running spread over a run of minibatches",
    reference=ref_exploration.update_running_std,
    cases=_running_std_cases,
    points=5,
    describe="minibatches of errors (a run of four carrying sigma, decay 1, a batch of one)",
    what="the new running std",
    tensor=False,
    number=True,
    hint=(
        "sigma <- decay * sigma + (1 - decay) * std(errors), the population std (dividing by "
        "B: correction=0), returned as a Python float; decay weighs the old sigma."
    ),
)


def _bonus_cases(rng: np.random.Generator) -> Cases:
    cases = []
    for batch, running in [(7, 2.5), (1, 0.4), (10, 13.0)]:
        errors = f32(rng.exponential(size=batch) * 3.0)
        cases.append(named_case(f"B={batch}", errors=errors, running_std=running))
    return cases


NORMALIZED_BONUS = function_check(
    "normalized_bonus: the errors over their running spread",
    reference=ref_exploration.normalized_bonus,
    cases=_bonus_cases,
    points=3.5,
    describe="batches of errors and running stds",
    what="the bonuses",
    hint="b(s) = e(s) / sigma for each state, (B,), detached.",
)

_RND_SHAPES = [
    # obs_dim, output_size, n_layers, size; batch, running std
    (2, 5, 2, 16, 6, 1.7),
    (3, 3, 1, 8, 4, 0.5),
]


def _check_bonus_detached(sandbox: Sandbox, rng: np.random.Generator) -> Outcome:
    tally = Tally(
        f"the gradient of the sum of `normalized_bonus(RND.errors(s), sigma)` w.r.t. the "
        f"RND's parameters on {len(_RND_SHAPES)} networks: none may reach the predictor",
        "the bonus is a reward, a constant to the explorer: normalized_bonus returns "
        "errors.detach() / running_std, whatever graph the errors carry.",
    )
    for obs_dim, outputs, n_layers, size, batch, running in tally.each(_RND_SHAPES):
        init_args = (obs_dim, outputs, n_layers, size)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(torch_seed(rng))
            rnd = ref_exploration.RND(*init_args)
        observations = f32(rng.uniform(0.0, 1.0, size=(batch, obs_dim)))
        summary = (
            f"RND(obs_dim={obs_dim}, output_size={outputs}, n_layers={n_layers}, size={size}), "
            f"B={batch}, sigma={running}"
        )
        result = sandbox.module_grad(
            EXPLORATION,
            "RND",
            init_args,
            state_dict=state_dict_of(rnd),
            steps=[
                Method("errors", (observations,)),
                Apply(f"{EXPLORATION}:normalized_bonus", (running,)),
                Method("sum"),
            ],
            timeout_s=CALL_TIMEOUT_S,
            label="normalized_bonus",
        )
        ok, value = returned(result, tally, summary)
        if ok:
            tally.record(summary, _no_grads_problem(value))
    return tally.outcome()


def _no_grads_problem(value: Any) -> str | None:
    """What is wrong with a ``module_grad`` result whose loss must carry no gradient: any
    parameter's gradient that is neither None nor zero."""
    if type(value) is not dict or type(value.get("grads")) is not dict:
        return "the gradient call returned an unexpected value"
    for name, grad in value["grads"].items():
        if grad is not None and (type(grad) is not torch.Tensor or grad.any()):
            return f"a gradient reached `{name}` through the bonus: it is not detached"
    return None


BONUS_DETACHED = Check(
    "normalized_bonus: no gradient into the predictor",
    "normalized_bonus",
    "gradient",
    3.5,
    _check_bonus_detached,
)


# ---------------------------------------------------------------------------------------------
# CQL's regulariser
# ---------------------------------------------------------------------------------------------


def _cql_cases(rng: np.random.Generator, overflow: bool = True) -> Cases:
    """Batches whose size is never the number of actions (a soft maximum over the wrong
    dimension fails its shapes or its values), values on scales where the temperature
    matters, and with ``overflow`` one large enough to overflow a plain log(sum(exp)).

    The gradient check leaves that one out: at values of a few hundred, float32 resolves the
    log-sum-exp only to about 3e-5, so that the softmax of a nearly greedy row, and with it the
    gradient, differs by more than float32's tolerance between correct ways of writing it."""
    shapes = [
        (6, 5, 1.0, 1.0, 2.0),
        (4, 3, 2.5, 0.5, 1.0),
        (1, 5, 0.7, 3.0, 4.0),
        (9, 4, 5.0, 0.2, 0.5),
    ]
    if overflow:
        shapes.append((3, 5, 1.5, 1.0, 200.0))
    cases = []
    for batch, actions, alpha, temperature, scale in shapes:
        q_values = f32(rng.normal(size=(batch, actions)) * scale)
        taken = torch.as_tensor(rng.integers(actions, size=batch), dtype=torch.int64)
        note = f"B={batch}, {actions} actions, Q on a scale of {scale}"
        cases.append(
            named_case(note, q_values=q_values, actions=taken, alpha=alpha, temperature=temperature)
        )
    return cases


CQL_REGULARIZER = function_check(
    "cql_regularizer: alpha times the soft maximum over actions minus Q of the data",
    reference=ref_offline.cql_regularizer,
    cases=_cql_cases,
    points=4.5,
    describe="batches (alpha from 0.7 to 5, temperatures from 0.2 to 3, Q up to about 600)",
    what="the regulariser",
    hint=(
        "alpha * mean_i [tau * logsumexp(Q(s_i, .) / tau over the ACTIONS, dim 1) - Q(s_i, "
        "a_i)]: the soft maximum minus the dataset action's value (that sign), torch.logsumexp "
        "for large values."
    ),
)
CQL_REGULARIZER_GRAD = gradient_check(
    "cql_regularizer: gradient w.r.t. the Q-values",
    reference=ref_offline.cql_regularizer,
    cases=lambda rng: _cql_cases(rng, overflow=False),
    wrt=("q_values",),
    points=4.5,
    describe="batches",
    hint=(
        "d R / d Q(s_i, a) = alpha / B * (softmax(Q(s_i, .) / tau)_a - [a == a_i]): pushed "
        "down everywhere by the soft maximum, up at the dataset's action."
    ),
)


# ---------------------------------------------------------------------------------------------
# AWAC: target, advantages, the advantage-weighted loss
# ---------------------------------------------------------------------------------------------


def _probabilities(rng: np.random.Generator, batch: int, actions: int) -> torch.Tensor:
    """Rows of a categorical distribution, far from uniform and from one-hot."""
    logits = rng.normal(size=(batch, actions)) * 1.5
    return torch.softmax(torch.as_tensor(logits, dtype=torch.float64), dim=1).float()


def _terminated(rng: np.random.Generator, batch: int) -> torch.Tensor:
    """0.0/1.0 flags, the first transition terminal and the last not."""
    flags = rng.random(batch) < 0.4
    flags[0], flags[-1] = True, False
    return f32(flags.astype(np.float32))


def _awac_target_cases(rng: np.random.Generator) -> Cases:
    cases = []
    for batch, actions, gamma in [(6, 5, 0.95), (2, 3, 0.5), (8, 4, 0.99)]:
        cases.append(
            named_case(
                f"B={batch}, {actions} actions",
                rewards=f32(rng.normal(size=batch)),
                next_q_values=f32(rng.normal(size=(batch, actions)) * 3.0),
                next_action_probs=_probabilities(rng, batch, actions),
                terminated=_terminated(rng, batch),
                gamma=gamma,
            )
        )
    return cases


AWAC_TARGET = function_check(
    "awac_target: r + gamma (1 - d) E_pi[Q(s', a')]",
    reference=ref_offline.awac_target,
    cases=_awac_target_cases,
    points=4,
    describe="batches (terminal and non-terminal transitions, policies far from greedy)",
    what="the targets",
    hint=(
        "y = r + gamma * (1 - terminated) * sum over a' of pi(a'|s') Q(s', a'): the policy's "
        "expectation of the next values, not their maximum."
    ),
)


def _awac_advantage_cases(rng: np.random.Generator) -> Cases:
    cases = []
    for batch, actions in [(6, 5), (1, 3), (7, 4)]:
        cases.append(
            named_case(
                f"B={batch}, {actions} actions",
                q_values=f32(rng.normal(size=(batch, actions)) * 2.0),
                actions=torch.as_tensor(rng.integers(actions, size=batch), dtype=torch.int64),
                action_probs=_probabilities(rng, batch, actions),
            )
        )
    return cases


AWAC_ADVANTAGES = function_check(
    "awac_advantages: Q(s, a) minus the policy's expected Q",
    reference=ref_offline.awac_advantages,
    cases=_awac_advantage_cases,
    points=3,
    describe="batches",
    what="the advantages",
    hint="A = Q(s, a) - sum over a' of pi(a'|s) Q(s, a'): the dataset action's value first.",
)


def _weighted_loss_cases(rng: np.random.Generator) -> Cases:
    """Advantages on both sides of zero: in every batch, one large enough that its weight is
    clipped and one negative (a weight below 1, which clipping from below would raise)."""
    cases = []
    for batch, temperature, max_weight in [(6, 1.0, 100.0), (5, 0.1, 20.0), (8, 3.0, 5.0)]:
        advantages = rng.normal(size=batch) * 2.0 * temperature
        advantages[0] = temperature * (np.log(max_weight) + 1.5)  # clipped
        advantages[1] = -abs(advantages[1]) - 0.5 * temperature  # a weight below 1
        log_probs = np.log(rng.uniform(0.05, 0.95, size=batch))
        cases.append(
            named_case(
                f"B={batch}, the first weight clipped",
                log_probs=f32(log_probs),
                advantages=f32(advantages),
                temperature=temperature,
                max_weight=max_weight,
            )
        )
    return cases


ADVANTAGE_WEIGHTED_LOSS = function_check(
    "advantage_weighted_loss: value (temperature, clipped weights)",
    reference=ref_offline.advantage_weighted_loss,
    cases=_weighted_loss_cases,
    points=4.5,
    describe="batches (temperatures 0.1 to 3, some weights above max_weight)",
    hint=(
        "-mean_i of w_i log pi(a_i|s_i) with w_i = min(exp(A_i / temperature), max_weight): "
        "the advantage divided by the temperature, the weight clipped from above."
    ),
)
ADVANTAGE_WEIGHTED_LOSS_GRAD = gradient_check(
    "advantage_weighted_loss: gradient (the weights constant)",
    reference=ref_offline.advantage_weighted_loss,
    cases=_weighted_loss_cases,
    wrt=("log_probs", "advantages"),
    constants=("advantages",),
    points=4.5,
    describe="batches (loss and gradients)",
    hint=(
        "d L / d log_probs_i = -w_i / B; the weights are constants (advantages.detach()), so "
        "no gradient reaches the advantages, nor the critic behind them."
    ),
)


# ---------------------------------------------------------------------------------------------
# IQL: the expectile loss and Q's target
# ---------------------------------------------------------------------------------------------


def _expectile_cases(rng: np.random.Generator) -> Cases:
    """Differences of both signs (and a zero) for expectiles above, at and below 0.5."""
    cases = []
    for batch, expectile in [(7, 0.9), (6, 0.2), (5, 0.5), (8, 0.7)]:
        differences = rng.normal(size=batch) * 2.0
        differences[0], differences[1] = abs(differences[0]) + 0.5, -abs(differences[1]) - 0.5
        cases.append(named_case(f"B={batch}", differences=f32(differences), expectile=expectile))
    cases.append(named_case("one negative", differences=f32(np.array([-1.5])), expectile=0.8))
    cases.append(named_case("one positive", differences=f32(np.array([2.0])), expectile=0.3))
    return cases


EXPECTILE_LOSS = function_check(
    "expectile_loss: value for expectiles above and below 0.5",
    reference=ref_offline.expectile_loss,
    cases=_expectile_cases,
    points=4.5,
    describe="batches of differences of both signs (expectiles 0.2 to 0.9)",
    hint=(
        "mean of |tau - 1(u < 0)| u^2: weight tau where u = target - V > 0 (V below its "
        "target), 1 - tau where u < 0; squared, not absolute."
    ),
)
EXPECTILE_LOSS_GRAD = gradient_check(
    "expectile_loss: gradient",
    reference=ref_offline.expectile_loss,
    cases=_expectile_cases,
    wrt=("differences",),
    points=4.5,
    describe="batches of differences of both signs",
    hint="d L / d u_i = 2 |tau - 1(u_i < 0)| u_i / B.",
)


def _iql_target_cases(rng: np.random.Generator) -> Cases:
    cases = []
    for batch, gamma in [(6, 0.95), (3, 0.5), (9, 0.99)]:
        cases.append(
            named_case(
                f"B={batch}",
                rewards=f32(rng.normal(size=batch)),
                next_values=f32(rng.normal(size=batch) * 3.0),
                terminated=_terminated(rng, batch),
                gamma=gamma,
            )
        )
    return cases


IQL_TARGET = function_check(
    "iql_target: r + gamma (1 - d) V(s')",
    reference=ref_offline.iql_target,
    cases=_iql_target_cases,
    points=3,
    describe="batches (terminal and non-terminal transitions)",
    what="the targets",
    hint="y = r + gamma * (1 - terminated) * V(s'): no bootstrap from a terminal state.",
)


# ---------------------------------------------------------------------------------------------
# The agents, through the student's OfflineTrainer
# ---------------------------------------------------------------------------------------------

_AGENT_FIELDS = ("n_layers", "layer_size", "activation", "gamma", "temperature", "expectile")
_AGENT_CASES = [
    # _AGENT_FIELDS, then the minibatch's size
    (2, 16, "relu", 0.95, 1.0, 0.9, 12),
    (1, 8, "tanh", 0.9, 0.3, 0.7, 7),
    (2, 8, "relu", 0.99, 3.0, 0.6, 1),
]
_AGENTS: dict[str, type[ref_offline.DQNAgent]] = {
    "cql": ref_offline.CQLAgent,
    "awac": ref_offline.AWACAgent,
    "iql": ref_offline.IQLAgent,
}


def _reference_agent(
    rng: np.random.Generator, algorithm: str, **fields: Any
) -> tuple[dict[str, Any], Any]:
    """The trainer's config of ``fields`` and the reference's agent built from it in the
    maze's spaces (without making the maze), under a torch seed drawn from ``rng``."""
    config = dataclasses.asdict(
        ref_config.TrainConfig(
            algorithm=algorithm,  # type: ignore[arg-type]
            env=ENV,
            dataset=AGENT_DATASET,
            datasets_dir=DATASETS_DIR,
            batch_size=8,
            **fields,
        )
    )
    observation_space = gym.spaces.Box(0.0, 1.0, (OBS_DIM,), np.float32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed(rng))
        agent = _AGENTS[algorithm](
            observation_space,
            gym.spaces.Discrete(NUM_ACTIONS),
            ref_config.TrainConfig(**config),
            CPU,
        )
    return config, agent


def _maze_batch(rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
    """A minibatch of the maze's transitions: positions in [0, 1]^2, rewards of -1 or 0."""
    batch = replay_batch(rng, size, OBS_DIM, NUM_ACTIONS)
    batch["observations"] = rng.uniform(0.0, 1.0, size=(size, OBS_DIM)).astype(np.float32)
    next_observations = batch["observations"] + rng.normal(size=(size, OBS_DIM)) * 0.05
    batch["next_observations"] = next_observations.clip(0.0, 1.0).astype(np.float32)
    batch["rewards"] = -(1.0 - batch["terminated"]).astype(np.float32)
    return batch


@dataclasses.dataclass(frozen=True)
class _Setup:
    summary: str
    config: dict[str, Any]
    agent: Any
    states: dict[tuple[str, ...], Any]
    batch: dict[str, np.ndarray]


def _agent_setup(
    rng: np.random.Generator, algorithm: str, case: tuple[Any, ...], **extra: Any
) -> _Setup:
    """The reference's agent of ``case``, its networks' weights (a target network that
    differs from the online one) and a minibatch."""
    *fields, batch_size = case
    named = dict(zip(_AGENT_FIELDS, fields, strict=True))
    config, agent = _reference_agent(
        rng,
        algorithm,
        **named,
        cql_alpha=float(rng.uniform(0.5, 3.0)),
        cql_temperature=float(rng.choice([0.5, 1.0, 2.0])),
        max_weight=float(rng.choice([3.0, 100.0])),
        learning_rate=float(rng.uniform(1e-3, 1e-2)),
        actor_learning_rate=float(rng.uniform(1e-3, 1e-2)),
        seed=int(rng.integers(1_000)),
        **extra,
    )
    target = perturbed(agent.target_network.state_dict(), rng, scale=0.3)
    agent.target_network.load_state_dict(target)
    states: dict[tuple[str, ...], Any] = {
        ("agent", "q_network"): state_dict_of(agent.q_network),
        ("agent", "target_network"): target,
    }
    for network in ("actor", "value_network"):
        if hasattr(agent, network):
            states["agent", network] = state_dict_of(getattr(agent, network))
    batch = _maze_batch(rng, batch_size)
    summary = (
        f"{algorithm} on {ENV}: "
        + ", ".join(f"{name}={config[name]}" for name in named)
        + f", cql_alpha={config['cql_alpha']:.3g}, cql_temperature={config['cql_temperature']}"
        + f", max_weight={config['max_weight']}, B={batch_size}, terminated="
        + f"{batch['terminated'].astype(int).tolist()}"
    )
    return _Setup(summary, config, agent, states, batch)


# -- the losses --------------------------------------------------------------------------------


def _method_case(algorithm: str, method: str) -> Callable[[np.random.Generator, Any], AgentCase]:
    def setup(rng: np.random.Generator, case: tuple[Any, ...]) -> AgentCase:
        made = _agent_setup(rng, algorithm, case)
        inputs = batch_tensors(made.batch)
        if method != "critic_loss":
            inputs = inputs[:2]  # observations, actions
        return AgentCase(made.summary, made.config, made.states, made.agent, inputs)

    return setup


def _critic_loss_check(
    name: str, algorithm: str, keys: Sequence[str], points: float, what: str, hint: str
) -> Check:
    """A value check of an agent's ``critic_loss``, whose ``(loss, tensors)`` holds a dict:
    the loss and each of ``keys`` of the dict against the reference agent's."""
    function = f"{_AGENTS[algorithm].__name__}.critic_loss"
    setup = _method_case(algorithm, "critic_loss")

    def run(sandbox: Sandbox, rng: np.random.Generator) -> Outcome:
        tally = Tally(what, hint)
        for case in tally.each(_AGENT_CASES):
            made = setup(rng, case)
            if not TRAINER.build(sandbox, tally, made.summary, made.config, made.states):
                continue
            expected_loss, expected = made.agent.critic_loss(*made.inputs)
            result = sandbox.on(
                KEPT,
                TRAINER.on_agent(Method("critic_loss", made.inputs)),
                timeout_s=CALL_TIMEOUT_S,
                label=function,
            )
            ok, value = returned(result, tally, made.summary)
            if ok:
                tally.record(made.summary, _critic_problem(value, expected_loss, expected, keys))
        return tally.outcome()

    return Check(name, function, "value", points, run, timeout_s=90.0)


def _critic_problem(
    got: Any, loss: torch.Tensor, tensors: Mapping[str, torch.Tensor], keys: Sequence[str]
) -> str | None:
    if type(got) is not tuple or len(got) != 2 or type(got[1]) is not dict:
        return "critic_loss returned something else than a tuple (loss, dict of tensors)"
    problem = compare(got[0], loss.detach(), tensor=True, what="the loss", **LOSS_TOL)
    for key in keys:
        if problem is not None:
            return problem
        if key not in got[1]:
            return f"the tensors returned hold no {key!r}"
        want = tensors[key].detach()
        problem = compare(got[1][key], want, tensor=True, what=key, **LOSS_TOL)
    return problem


CQL_CRITIC_LOSS = _critic_loss_check(
    "CQLAgent.critic_loss: DQN's loss plus the regulariser",
    "cql",
    ("q_values", "targets", "cql_regularizer"),
    points=5,
    what=(
        f"`CQLAgent.critic_loss` with the reference's weights (online and target networks "
        f"differ) on {len(_AGENT_CASES)} minibatches: the loss, Q(s, a), the targets and the "
        "regulariser"
    ),
    hint=(
        "DQN's loss and tensors (super().critic_loss) plus cql_regularizer of the ONLINE "
        "network's Q(s, .) (tensors['q_values_all']) with config.cql_alpha and "
        "config.cql_temperature, returned under 'cql_regularizer' too."
    ),
)
AWAC_CRITIC_LOSS = _critic_loss_check(
    "AWACAgent.critic_loss: the TD error against the policy's expected next value",
    "awac",
    ("q_values", "targets"),
    points=5,
    what=(
        f"`AWACAgent.critic_loss` with the reference's weights (online and target networks "
        f"differ) on {len(_AGENT_CASES)} minibatches: the loss, Q(s, a) and the targets"
    ),
    hint=(
        "targets = awac_target(r, target_network(s'), actor(s').exp(), terminated, gamma) "
        "without gradient (the actor returns LOG-probabilities, at the NEXT states); the loss "
        "is the mean squared error of Q_phi(s, a) against them."
    ),
)
IQL_CRITIC_LOSS = _critic_loss_check(
    "IQLAgent.critic_loss: the TD error against r + gamma (1 - d) V(s')",
    "iql",
    ("q_values", "targets"),
    points=4,
    what=(
        f"`IQLAgent.critic_loss` with the reference's weights on {len(_AGENT_CASES)} "
        "minibatches: the loss, Q(s, a) and the targets"
    ),
    hint=(
        "targets = iql_target(r, value_network(s'), terminated, gamma) without gradient (V of "
        "the NEXT states); the loss is the mean squared error of Q_phi(s, a) against them."
    ),
)

AWAC_ACTOR_LOSS = agent_method_check(
    "AWACAgent.actor_loss: weighted cloning with the critic's advantages",
    function="AWACAgent.actor_loss",
    trainer=TRAINER,
    method="actor_loss",
    cases=_AGENT_CASES,
    setup=_method_case("awac", "actor_loss"),
    outputs=("the loss", "advantages"),
    points=5,
    what=(
        f"`AWACAgent.actor_loss` with the reference's weights on {len(_AGENT_CASES)} "
        "minibatches (temperatures 0.3 to 3): the loss and the advantages"
    ),
    hint=(
        "advantages = awac_advantages(q_network(s), a, actor(s).exp()) without gradient (the "
        "online Q-network, the actor's probabilities); the loss is advantage_weighted_loss of "
        "the log-probabilities of the dataset's actions with config.temperature and "
        "config.max_weight."
    ),
    timeout_s=90.0,
)
IQL_VALUE_LOSS = agent_method_check(
    "IQLAgent.value_loss: expectile regression of V toward the target network's Q(s, a)",
    function="IQLAgent.value_loss",
    trainer=TRAINER,
    method="value_loss",
    cases=_AGENT_CASES,
    setup=_method_case("iql", "value_loss"),
    outputs=("the loss", "values"),
    points=5,
    what=(
        f"`IQLAgent.value_loss` with the reference's weights (online and target networks "
        f"differ) on {len(_AGENT_CASES)} minibatches (expectiles 0.6 to 0.9): the loss and "
        "V(s)"
    ),
    hint=(
        "expectile_loss(Q_target(s, a) - V(s), config.expectile), with Q from the TARGET "
        "network at the dataset's actions, without gradient; not a Bellman target."
    ),
    timeout_s=90.0,
)
IQL_ACTOR_LOSS = agent_method_check(
    "IQLAgent.actor_loss: weighted cloning with Q_target(s, a) - V(s)",
    function="IQLAgent.actor_loss",
    trainer=TRAINER,
    method="actor_loss",
    cases=_AGENT_CASES,
    setup=_method_case("iql", "actor_loss"),
    outputs=("the loss", "advantages"),
    points=4,
    what=(
        f"`IQLAgent.actor_loss` with the reference's weights (online and target networks "
        f"differ) on {len(_AGENT_CASES)} minibatches: the loss and the advantages"
    ),
    hint=(
        "advantages = Q_target(s, a) - V(s) (the TARGET network, the value network), without "
        "gradient; the loss is advantage_weighted_loss with config.temperature and "
        "config.max_weight."
    ),
    timeout_s=90.0,
)


# -- the updates -------------------------------------------------------------------------------


def _update_case(algorithm: str) -> Callable[[np.random.Generator, Any], AgentCase]:
    """Two updates, each on a minibatch of its own, with a copy into the target network
    after the first: Adam's moments and the new target carry into the second."""

    def setup(rng: np.random.Generator, case: tuple[Any, ...]) -> AgentCase:
        made = _agent_setup(rng, algorithm, case, target_update_period=1)
        second = _maze_batch(rng, len(made.batch["rewards"]))
        summary = f"{made.summary}, target_update_period=1, 2 updates"
        return AgentCase(summary, made.config, made.states, made.agent, (made.batch,), ((second,),))

    return setup


def _update_check(
    name: str,
    function: str,
    network: str,
    metrics: Sequence[str],
    points: float,
    what: str,
    hint: str,
) -> Check:
    """Two updates of the agent of ``function`` (``CQLAgent.critic_loss``, ...), judged on
    what that loss trains: ``network``'s gradients and parameters after each, and the
    ``metrics`` it reports."""
    algorithm = next(key for key, cls in _AGENTS.items() if function.startswith(cls.__name__))

    def named(agent: Any) -> dict[str, list[str]]:
        return {network: [n for n, _ in getattr(agent, network).named_parameters()]}

    def judge(stepped: Stepped) -> str | None:
        return network_step_problem(stepped, metrics, network, f"after the update, {network}")

    return agent_update_check(
        name,
        function=function,
        trainer=TRAINER,
        cases=_AGENT_CASES,
        setup=_update_case(algorithm),
        networks=named,
        judge=judge,
        points=points,
        what=what.replace("{count}", str(len(_AGENT_CASES))),
        hint=hint,
        timeout_s=120.0,
    )


CQL_UPDATE = _update_check(
    "CQLAgent.critic_loss: the Q-network after two updates",
    "CQLAgent.critic_loss",
    "q_network",
    ("train/loss_critic", "train/cql_regularizer"),
    points=4,
    what=(
        "two `CQLAgent.update` calls from the reference's weights on {count} pairs of "
        "minibatches (the target network copied after the first): the loss and regulariser "
        "each reports, the Q-network's gradients and its parameters after each Adam step"
    ),
    hint=(
        "critic_loss returns DQN's loss plus the regulariser, one scalar whose gradient w.r.t. "
        "the Q-network is DQN's plus the regulariser's."
    ),
)
AWAC_CRITIC_UPDATE = _update_check(
    "AWACAgent.critic_loss: the Q-network after two updates",
    "AWACAgent.critic_loss",
    "q_network",
    ("train/loss_critic",),
    points=2.5,
    what=(
        "two `AWACAgent.update` calls from the reference's weights on {count} pairs of "
        "minibatches: the critic's loss reported, the Q-network's gradients and parameters "
        "after each step (the second update's targets use the actor after the first)"
    ),
    hint=(
        "the critic's loss reaches the Q-network through Q_phi(s, a) only: the targets "
        "(target network, actor) carry no gradient, and the actor's loss none into the "
        "Q-network."
    ),
)
AWAC_ACTOR_UPDATE = _update_check(
    "AWACAgent.actor_loss: the actor after two updates",
    "AWACAgent.actor_loss",
    "actor",
    ("train/loss_actor", "train/advantages"),
    points=2.5,
    what=(
        "two `AWACAgent.update` calls from the reference's weights on {count} pairs of "
        "minibatches: the actor's loss and mean advantage reported, the actor's gradients and "
        "parameters after each step (the critic's step comes first in each update: this "
        "check needs critic_loss right too)"
    ),
    hint=(
        "the actor's loss reaches the actor through the log-probabilities of the dataset's "
        "actions only: the advantage weights are constants."
    ),
)
IQL_VALUE_UPDATE = _update_check(
    "IQLAgent.value_loss: the value network after two updates",
    "IQLAgent.value_loss",
    "value_network",
    ("train/loss_value", "train/values"),
    points=2,
    what=(
        "two `IQLAgent.update` calls from the reference's weights on {count} pairs of "
        "minibatches (the target network copied after the first): the value loss and mean "
        "V(s) reported, the value network's gradients and parameters after each step"
    ),
    hint=(
        "the value loss reaches the value network through V(s) only: Q_target(s, a) is a constant."
    ),
)
IQL_ACTOR_UPDATE = _update_check(
    "IQLAgent.actor_loss: the actor after two updates",
    "IQLAgent.actor_loss",
    "actor",
    ("train/loss_actor", "train/advantages"),
    points=1.5,
    what=(
        "two `IQLAgent.update` calls from the reference's weights on {count} pairs of "
        "minibatches: the actor's loss and mean advantage reported, the actor's gradients and "
        "parameters after each step (V's step comes first in each update: this check needs "
        "value_loss right too)"
    ),
    hint=(
        "the actor's loss reaches the actor through the log-probabilities only: the "
        "advantages Q_target(s, a) - V(s) are constants."
    ),
)
IQL_CRITIC_UPDATE = _update_check(
    "IQLAgent.critic_loss: the Q-network after two updates",
    "IQLAgent.critic_loss",
    "q_network",
    ("train/loss_critic",),
    points=1.5,
    what=(
        "two `IQLAgent.update` calls from the reference's weights on {count} pairs of "
        "minibatches: the critic's loss reported, the Q-network's gradients and parameters "
        "after each step (V's step comes first in each update: this check needs value_loss "
        "right too)"
    ),
    hint=(
        "the critic's loss reaches the Q-network through Q_phi(s, a) only: V(s') in the "
        "targets is a constant."
    ),
)


# ---------------------------------------------------------------------------------------------
# The continuous part: the Gaussian's log-density, BC and IQL with a Gaussian actor
# ---------------------------------------------------------------------------------------------


def _log_prob_cases(rng: np.random.Generator) -> Cases:
    """Batches of several action dimensions (a mean over them is not their sum) and of one,
    log-stds from -2 to 1 that differ per entry (sigma, sigma^2 and log sigma all differ from
    1 and 0), and actions up to a few sigma from the means; never as many rows as dimensions
    (a sum over the batch fails its shape)."""
    cases = []
    for batch, dims in [(7, 3), (1, 3), (5, 1), (4, 6)]:
        means = rng.uniform(-1.0, 1.0, size=(batch, dims))
        log_stds = rng.uniform(-2.0, 1.0, size=(batch, dims))
        actions = means + rng.normal(size=(batch, dims)) * np.exp(log_stds) * 1.5
        cases.append(
            named_case(
                f"B={batch}, {dims} action dimensions",
                actions=f32(actions),
                means=f32(means),
                log_stds=f32(log_stds),
            )
        )
    return cases


GAUSSIAN_LOG_PROB = function_check(
    "gaussian_log_prob: the diagonal Gaussian's log-density",
    reference=ref_continuous.gaussian_log_prob,
    cases=_log_prob_cases,
    points=3,
    describe="batches (1 to 6 action dimensions, log-stds from -2 to 1 per entry)",
    what="the log-densities",
    hint=(
        "sum over the action's dimensions (dim -1, not a mean) of -(a - mu)^2 / (2 sigma^2) - "
        "log sigma - log(2 pi) / 2, with sigma = exp(log_std): the variance in the quadratic "
        "term, one log sigma per dimension, the constant too."
    ),
)


def _log_prob_grad_cases(rng: np.random.Generator) -> Cases:
    """:func:`_log_prob_cases`' inputs in the order of the given
    :func:`~autograder.suites.hw5_given.weighted_log_prob` (what the gradient is taken w.r.t.
    first), with a weight per row of both signs."""
    cases = []
    for summary, (actions, means, log_stds) in _log_prob_cases(rng):
        weights = f32(rng.uniform(0.5, 2.0, size=len(actions)) * rng.choice([-1.0, 1.0]))
        cases.append((f"{summary}, weights={fmt(weights)}", (means, log_stds, actions, weights)))
    return cases


GAUSSIAN_LOG_PROB_GRAD = Check(
    "gaussian_log_prob: gradient w.r.t. the means and the log-stds",
    "gaussian_log_prob",
    "gradient",
    3,
    loss_grad_check(
        GIVEN_PACKAGE,
        "weighted_log_prob",
        weighted_log_prob,
        _log_prob_grad_cases,
        (),
        ("means", "log_stds"),
        (),
        "batches, sum_i w_i log pi(a_i) with a weight per row (loss and gradients)",
        (
            "d log pi / d mu_j = (a_j - mu_j) / sigma_j^2 and d log pi / d log sigma_j = "
            "(a_j - mu_j)^2 / sigma_j^2 - 1, each entry of its own row: both inputs must stay "
            "in the graph (no .detach(), no in-place change of them)."
        ),
        compare_loss=True,
    ),
)

CONTINUOUS_TRAINER = Trainer(GIVEN_PACKAGE, "ContinuousAgents", KEPT, CALL_TIMEOUT_S)
"""The student's continuous agents, built in the worker by the given
:class:`~autograder.suites.hw5_given.ContinuousAgents` on Box spaces of Hopper-v5's sizes:
no MuJoCo, no dataset."""

_CONTINUOUS_FIELDS = ("n_layers", "layer_size", "activation", "gamma", "temperature", "expectile")
_CONTINUOUS_CASES = [
    # _CONTINUOUS_FIELDS, then the minibatch's size
    (2, 16, "relu", 0.99, 1.0 / 3.0, 0.7, 12),
    (1, 8, "tanh", 0.9, 1.0, 0.3, 7),
    (2, 8, "relu", 0.95, 3.0, 0.9, 5),
    (1, 16, "relu", 0.99, 0.5, 0.6, 1),
]
"""Expectiles above and below 0.5, temperatures from 1/3 to 3, and a batch of one."""
_CONTINUOUS_AGENTS: dict[str, type[ref_continuous.BCAgent]] = {
    "bc": ref_continuous.BCAgent,
    "iql": ref_continuous.ContinuousIQLAgent,
}


def _hopper_batch(rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
    """A minibatch of Hopper-v5's kind: 11 observations, 3 actions in [-1, 1], the first
    transition terminated and the last not."""
    return replay_batch(rng, size, HOPPER_OBS_DIM, None, HOPPER_ACTION_DIM)


def _twin_minimum(agent: Any, batch: dict[str, np.ndarray]) -> tuple[torch.Tensor, ...]:
    """The reference agent's two target values of the batch's actions, and V(s)."""
    tensors = agent.to_tensors(batch)
    with torch.no_grad():
        q1, q2 = agent.target_network(tensors["observations"], tensors["actions"])
        return q1, q2, agent.value_network(tensors["observations"])


def _continuous_setup(rng: np.random.Generator, algorithm: str, case: tuple[Any, ...]) -> _Setup:
    """The reference's continuous agent of ``case`` on Hopper-v5's spaces and a minibatch:
    a log-std that is not 0 (sigma = 1 hides a missing log-sigma term); for IQL, target
    Q-networks that differ from the online ones, drawn again until each of the two is the
    smaller on some row of a batch of two or more (so that the minimum is neither of them,
    nor their mean), and ``max_weight`` between the middle two advantage weights exp(A /
    temperature) of the batch (half of them clipped; a batch of one is clipped)."""
    *fields, batch_size = case
    named = dict(zip(_CONTINUOUS_FIELDS, fields, strict=True))
    config = ref_config.OfflineConfig(
        **named,
        learning_rate=float(rng.uniform(1e-3, 1e-2)),
        actor_learning_rate=float(rng.uniform(1e-3, 1e-2)),
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed(rng))
        agent: Any = _CONTINUOUS_AGENTS[algorithm](
            *continuous_spaces(HOPPER_OBS_DIM, HOPPER_ACTION_DIM), config, CPU
        )
    actor = state_dict_of(agent.actor)
    actor["log_std"] = f32(rng.uniform(-1.5, 0.5, size=HOPPER_ACTION_DIM))
    agent.actor.load_state_dict(actor)
    states: dict[tuple[str, ...], Any] = {("agent", "actor"): actor}
    batch = _hopper_batch(rng, batch_size)
    if algorithm == "iql":
        online = state_dict_of(agent.q_network)
        for _ in range(100):
            agent.target_network.load_state_dict(perturbed(online, rng, scale=0.3))
            q1, q2, values = _twin_minimum(agent, batch)
            if batch_size == 1 or (bool((q1 < q2).any()) and bool((q2 < q1).any())):
                break
        weights = np.sort(torch.exp((torch.minimum(q1, q2) - values) / config.temperature).numpy())
        middle = batch_size // 2
        max_weight = (
            0.5 * weights[0] if batch_size == 1 else weights[middle - 1 : middle + 1].mean()
        )
        agent.config = config = config.replace(max_weight=float(max_weight))
        states["agent", "q_network"] = online
        states["agent", "target_network"] = state_dict_of(agent.target_network)
        states["agent", "value_network"] = state_dict_of(agent.value_network)
    plain = {
        "agent": type(agent).__name__,
        "obs_dim": HOPPER_OBS_DIM,
        "action_dim": HOPPER_ACTION_DIM,
        **dataclasses.asdict(config),
    }
    summary = (
        f"{type(agent).__name__} on Hopper-v5's spaces: "
        + ", ".join(f"{name}={config_value}" for name, config_value in named.items())
        + f", max_weight={config.max_weight:.4g}, log_std={fmt(actor['log_std'])}, "
        + f"B={batch_size}, terminated={batch['terminated'].astype(int).tolist()}"
    )
    return _Setup(summary, plain, agent, states, batch)


def _continuous_method_case(
    algorithm: str, method: str
) -> Callable[[np.random.Generator, Any], AgentCase]:
    def setup(rng: np.random.Generator, case: tuple[Any, ...]) -> AgentCase:
        made = _continuous_setup(rng, algorithm, case)
        inputs = tuple(made.agent.to_tensors(made.batch).values())
        if method != "critic_loss":
            inputs = inputs[:2]  # observations, actions
        return AgentCase(made.summary, made.config, made.states, made.agent, inputs)

    return setup


def _continuous_method_check(
    name: str,
    function: str,
    outputs: tuple[str, ...],
    points: float,
    what: str,
    hint: str,
) -> Check:
    """A value check of a continuous agent's method (``BCAgent.actor_loss``, ...) with the
    reference's weights, on :data:`_CONTINUOUS_CASES`."""
    cls, method = function.split(".")
    algorithm = next(key for key, agent in _CONTINUOUS_AGENTS.items() if agent.__name__ == cls)
    return agent_method_check(
        name,
        function=function,
        trainer=CONTINUOUS_TRAINER,
        method=method,
        cases=_CONTINUOUS_CASES,
        setup=_continuous_method_case(algorithm, method),
        outputs=outputs,
        points=points,
        what=what.replace("{count}", str(len(_CONTINUOUS_CASES))),
        hint=hint,
        timeout_s=90.0,
    )


BC_ACTOR_LOSS = _continuous_method_check(
    "BCAgent.actor_loss: the negative mean log-likelihood of the dataset's actions",
    "BCAgent.actor_loss",
    ("the loss", "log_probs"),
    points=2,
    what=(
        "`BCAgent.actor_loss` with the reference's weights (log-stds not 0) on {count} "
        "minibatches of Hopper-v5's kind: the loss and the log-probabilities"
    ),
    hint=(
        "log_probs = self.actor.log_prob(observations, actions), one per transition; the loss "
        "is minus their mean over the batch (maximum likelihood: the sign matters)."
    ),
)


def _iql_critic_loss_check() -> Check:
    """``ContinuousIQLAgent.critic_loss``: its loss, ``q_values`` and ``targets`` against
    the reference's, with :func:`_critic_problem`."""
    function = "ContinuousIQLAgent.critic_loss"
    setup = _continuous_method_case("iql", "critic_loss")
    what = (
        f"`ContinuousIQLAgent.critic_loss` with the reference's weights on "
        f"{len(_CONTINUOUS_CASES)} minibatches (terminal and non-terminal transitions): the "
        "loss, Q_phi1(s, a) and the targets"
    )
    hint = (
        "targets = iql_target(r, value_network(s'), terminated, gamma) without gradient; the "
        "loss is the SUM of both Q-networks' mean squared errors against them, and "
        "q_values is Q_phi1(s, a)."
    )

    def run(sandbox: Sandbox, rng: np.random.Generator) -> Outcome:
        tally = Tally(what, hint)
        for case in tally.each(_CONTINUOUS_CASES):
            made = setup(rng, case)
            if not CONTINUOUS_TRAINER.build(sandbox, tally, made.summary, made.config, made.states):
                continue
            expected_loss, expected = made.agent.critic_loss(*made.inputs)
            result = sandbox.on(
                KEPT,
                CONTINUOUS_TRAINER.on_agent(Method("critic_loss", made.inputs)),
                timeout_s=CALL_TIMEOUT_S,
                label=function,
            )
            ok, value = returned(result, tally, made.summary)
            if ok:
                problem = _critic_problem(value, expected_loss, expected, ("q_values", "targets"))
                tally.record(made.summary, problem)
        return tally.outcome()

    return Check(
        "ContinuousIQLAgent.critic_loss: both Q-networks toward r + gamma (1 - d) V(s')",
        function,
        "value",
        3,
        run,
        timeout_s=90.0,
    )


CONTINUOUS_VALUE_LOSS = _continuous_method_check(
    "ContinuousIQLAgent.value_loss: V toward the smaller of the two target Q-values",
    "ContinuousIQLAgent.value_loss",
    ("the loss", "values"),
    points=3,
    what=(
        "`ContinuousIQLAgent.value_loss` with the reference's weights (target networks that "
        "differ from the online ones; each of the two the smaller on some rows) on {count} "
        "minibatches (expectiles 0.3 to 0.9): the loss and V(s)"
    ),
    hint=(
        "expectile_loss(min(Q_target1(s, a), Q_target2(s, a)) - V(s), config.expectile): "
        "both TARGET networks at the dataset's actions, their elementwise minimum (not one of "
        "them, not their mean), without gradient."
    ),
)
CONTINUOUS_CRITIC_LOSS = _iql_critic_loss_check()
CONTINUOUS_ACTOR_LOSS = _continuous_method_check(
    "ContinuousIQLAgent.actor_loss: weighted likelihood with min Q_target(s, a) - V(s)",
    "ContinuousIQLAgent.actor_loss",
    ("the loss", "advantages"),
    points=3,
    what=(
        "`ContinuousIQLAgent.actor_loss` with the reference's weights on {count} minibatches "
        "(max_weight clips half of each batch's weights): the loss and the advantages"
    ),
    hint=(
        "advantages = min(Q_target1(s, a), Q_target2(s, a)) - V(s) without gradient; the loss "
        "is advantage_weighted_loss of the actor's log-probabilities of the DATASET's actions "
        "with config.temperature and config.max_weight (weights clipped)."
    ),
)


# -- the losses' gradients ---------------------------------------------------------------------


def _gradients_problem(fetched: Any, module: torch.nn.Module, network: str) -> str | None:
    """What differs between the gradients fetched from the student's ``network`` and those of
    the reference's ``module`` after the same loss's backward pass: a parameter that the
    reference's loss leaves without a gradient must get none (or zeros) in the student's."""
    if type(fetched) is not dict:
        return f"fetching {network}'s gradients returned an unexpected value"
    for name, parameter in module.named_parameters():
        got, label = fetched.get(f"grad {name}"), f"`{network}.{name}`"
        if parameter.grad is None:
            problem = no_gradient(got, what=label)
        elif got is None:
            problem = f"no gradient reached {label}"
        else:
            what = f"the gradient w.r.t. {label}"
            problem = compare(got, parameter.grad, tensor=True, what=what, **LOSS_TOL)
        if problem is not None:
            return problem
    return None


def _continuous_gradient_check(
    name: str, function: str, points: float, what: str, hint: str
) -> Check:
    """A gradient check of a continuous agent's loss (``ContinuousIQLAgent.actor_loss``, ...)
    with the reference's weights, on :data:`_CONTINUOUS_CASES`: the loss it returns first, run
    backward in the worker by the given ``loss_backward`` from cleared gradients, and then the
    gradient of every parameter of every network of the agent (those the loss must not reach
    included) against the reference's."""
    cls, method = function.split(".")
    algorithm = next(key for key, agent in _CONTINUOUS_AGENTS.items() if agent.__name__ == cls)
    setup = _continuous_method_case(algorithm, method)
    what = what.replace("{count}", str(len(_CONTINUOUS_CASES)))

    def run(sandbox: Sandbox, rng: np.random.Generator) -> Outcome:
        tally = Tally(what, hint)
        for case in tally.each(_CONTINUOUS_CASES):
            made = setup(rng, case)
            if not CONTINUOUS_TRAINER.build(sandbox, tally, made.summary, made.config, made.states):
                continue
            networks = {
                network: module
                for network, module in vars(made.agent).items()
                if isinstance(module, torch.nn.Module)
            }
            loss = getattr(made.agent, method)(*made.inputs)[0]
            loss.backward()
            result = sandbox.on(
                KEPT,
                [Method("loss_backward", (method, *made.inputs))],
                timeout_s=CALL_TIMEOUT_S,
                label=function,
            )
            ok, value = returned(result, tally, made.summary)
            problem = None
            if ok:
                problem = compare(value, loss.detach(), tensor=True, what="the loss", **LOSS_TOL)
            for network, module in networks.items():
                if not ok or problem is not None:
                    break
                names = [n for n, _ in module.named_parameters()]
                result = fetch_parameters(sandbox, KEPT, ("agent", network), names, grads=True)
                ok, fetched = returned(result, tally, made.summary)
                if ok:
                    problem = _gradients_problem(fetched, module, network)
            if ok:
                tally.record(made.summary, problem)
        return tally.outcome()

    return Check(name, function, "gradient", points, run, timeout_s=120.0)


BC_ACTOR_LOSS_GRAD = _continuous_gradient_check(
    "BCAgent.actor_loss: gradient w.r.t. the actor",
    "BCAgent.actor_loss",
    points=2,
    what=(
        "the gradient of `BCAgent.actor_loss` w.r.t. the actor's parameters (mean_net, log_std) "
        "with the reference's weights on {count} minibatches"
    ),
    hint=(
        "-mean_i d log pi(a_i | s_i) / d theta: a mean over the batch (not a sum), minus the "
        "log-likelihood (not plus)."
    ),
)
CONTINUOUS_VALUE_LOSS_GRAD = _continuous_gradient_check(
    "ContinuousIQLAgent.value_loss: gradient into V only",
    "ContinuousIQLAgent.value_loss",
    points=2,
    what=(
        "the gradient of `ContinuousIQLAgent.value_loss` w.r.t. every network's parameters "
        "with the reference's weights on {count} minibatches: V's, and none into the actor or "
        "the Q-networks"
    ),
    hint=(
        "only V(s) carries a gradient: the target Q-values are constants (torch.no_grad() or "
        ".detach())."
    ),
)
CONTINUOUS_CRITIC_LOSS_GRAD = _continuous_gradient_check(
    "ContinuousIQLAgent.critic_loss: gradient into both Q-networks, none into V",
    "ContinuousIQLAgent.critic_loss",
    points=2,
    what=(
        "the gradient of `ContinuousIQLAgent.critic_loss` w.r.t. every network's parameters "
        "with the reference's weights on {count} minibatches: both Q-networks', and none into "
        "V or the actor"
    ),
    hint=(
        "each Q-network gets the gradient of its own mean squared error, 2 (Q_k - y) / B; the "
        "targets y, V(s') included, are constants (torch.no_grad() or .detach())."
    ),
)
CONTINUOUS_ACTOR_LOSS_GRAD = _continuous_gradient_check(
    "ContinuousIQLAgent.actor_loss: gradient into the actor only",
    "ContinuousIQLAgent.actor_loss",
    points=2,
    what=(
        "the gradient of `ContinuousIQLAgent.actor_loss` w.r.t. every network's parameters "
        "with the reference's weights on {count} minibatches: the actor's, and none into V or "
        "the Q-networks"
    ),
    hint=(
        "-mean_i w_i d log pi(a_i | s_i) / d theta with the weights w_i constants: the "
        "advantages (target Q-networks and V) carry no gradient."
    ),
)


# -- the updates -------------------------------------------------------------------------------

CONTINUOUS_UPDATES = 3
"""Updates in a row of each continuous update check, each on a minibatch of its own."""


def _continuous_update_case(algorithm: str) -> Callable[[np.random.Generator, Any], AgentCase]:
    def setup(rng: np.random.Generator, case: tuple[Any, ...]) -> AgentCase:
        made = _continuous_setup(rng, algorithm, case)
        size = len(made.batch["rewards"])
        more = tuple((_hopper_batch(rng, size),) for _ in range(CONTINUOUS_UPDATES - 1))
        summary = f"{made.summary}, {CONTINUOUS_UPDATES} updates"
        return AgentCase(summary, made.config, made.states, made.agent, (made.batch,), more)

    return setup


def _continuous_update_check(
    name: str,
    function: str,
    judged: Mapping[str, bool],
    metrics: Sequence[str],
    points: float,
    what: str,
    hint: str,
) -> Check:
    """:data:`CONTINUOUS_UPDATES` updates of the agent of ``function``, judged after each on
    the ``metrics`` it reports and on every network of ``judged``: its parameters, and with
    True its gradients too (the first is the network that ``function``'s loss trains)."""
    cls = function.split(".")[0]
    algorithm = next(key for key, agent in _CONTINUOUS_AGENTS.items() if agent.__name__ == cls)
    trained = next(iter(judged))

    def named(agent: Any) -> dict[str, list[str]]:
        return {
            network: [n for n, _ in getattr(agent, network).named_parameters()]
            for network, grads in judged.items()
            if grads
        }

    def judge(stepped: Stepped) -> str | None:
        problem = network_step_problem(stepped, metrics, trained, f"after the update, {trained}")
        for network, grads in judged.items():
            if problem is None and network != trained:
                expected = parameters(getattr(stepped.agent, network), grads=grads)
                what = f"after the update, {network}"
                problem = tensors_problem(stepped.fetched[network], expected, what)
        return problem

    return agent_update_check(
        name,
        function=function,
        trainer=CONTINUOUS_TRAINER,
        cases=_CONTINUOUS_CASES,
        setup=_continuous_update_case(algorithm),
        networks=named,
        judge=judge,
        points=points,
        what=what.replace("{count}", str(len(_CONTINUOUS_CASES))),
        hint=hint,
        timeout_s=120.0,
    )


BC_UPDATE = _continuous_update_check(
    "BCAgent.actor_loss: the actor after three updates",
    "BCAgent.actor_loss",
    {"actor": True},
    ("train/loss_actor", "train/log_probs"),
    points=1,
    what=(
        f"{CONTINUOUS_UPDATES} `BCAgent.update` calls in a row from the reference's weights on "
        "{count} minibatches each: the loss and mean log-likelihood reported, the actor's "
        "gradients (mean_net and log_std) and parameters after each Adam step"
    ),
    hint=(
        "d L / d theta = -mean_i d log pi(a_i | s_i) / d theta: the loss is a mean (not a "
        "sum) over the batch, and both the means and the log-std get a gradient."
    ),
)
CONTINUOUS_VALUE_UPDATE = _continuous_update_check(
    "ContinuousIQLAgent.value_loss: the value network after three updates",
    "ContinuousIQLAgent.value_loss",
    {"value_network": True},
    ("train/loss_value", "train/values"),
    points=1,
    what=(
        f"{CONTINUOUS_UPDATES} `ContinuousIQLAgent.update` calls in a row from the reference's "
        "weights on {count} minibatches each (the targets moved by Polyak averaging after "
        "each): the value loss and mean V(s) reported, the value network's gradients and "
        "parameters after each step"
    ),
    hint=(
        "the value loss reaches the value network through V(s) only: the target Q-values are "
        "constants."
    ),
)
CONTINUOUS_ACTOR_UPDATE = _continuous_update_check(
    "ContinuousIQLAgent.actor_loss: the actor after three updates, no gradient into V",
    "ContinuousIQLAgent.actor_loss",
    {"actor": True, "value_network": True},
    ("train/loss_actor", "train/advantages"),
    points=1.5,
    what=(
        f"{CONTINUOUS_UPDATES} `ContinuousIQLAgent.update` calls in a row from the reference's "
        "weights on {count} minibatches each: the actor's loss and mean advantage reported, "
        "the actor's gradients and parameters after each step, and the value network's "
        "gradients, which V's own loss alone leaves (V's step comes first in each update: "
        "this check needs value_loss right too)"
    ),
    hint=(
        "the actor's loss reaches the actor through the log-probabilities only: the "
        "advantage weights are constants, so no gradient of the actor's loss reaches the "
        "value network (or the Q-networks)."
    ),
)
CONTINUOUS_CRITIC_UPDATE = _continuous_update_check(
    "ContinuousIQLAgent.critic_loss: both Q-networks and their targets after three updates",
    "ContinuousIQLAgent.critic_loss",
    {"q_network": True, "target_network": False, "value_network": True},
    ("train/loss_critic", "train/q_values", "train/target_values"),
    points=1.5,
    what=(
        f"{CONTINUOUS_UPDATES} `ContinuousIQLAgent.update` calls in a row from the reference's "
        "weights on {count} minibatches each: the critic's loss, mean Q and mean target "
        "reported; both Q-networks' gradients and parameters after each step; the target "
        "networks, which follow them by Polyak averaging; and the value network's gradients, "
        "which V's own loss alone leaves (V's step comes first in each update: this check "
        "needs value_loss right too)"
    ),
    hint=(
        "the critic's loss reaches both Q-networks (q1_net and q2_net) through Q_phi(s, a) "
        "only: V(s') in the targets is a constant, so no gradient of it reaches the value "
        "network."
    ),
)


# ---------------------------------------------------------------------------------------------
# The learning curves: IQL and CQL on the grader's dataset of PointmassEasy-v0
# ---------------------------------------------------------------------------------------------

MILESTONES = (10_000, 12_000)
"""Gradient steps at which the policies are judged. Up to 3k steps the reference returns -44 to
-50 (-50: every episode ends at the time limit), and until 8k a single evaluation may still
find it stuck at -50 (IQL's seed 3 at 8k, CQL's seed 0 at 6k), which would make a calibrated bar
of random play."""


def _learning_task(algorithm: str, policy: str) -> LearningTask:
    """The handout's preset of ``algorithm`` on :data:`ENV`, trained on the grader's
    :data:`LEARNING_DATASET` (in the sandbox's scratch folder, and in :data:`DATA_DIR` for the
    grader's own copies of the trainer) up to the last of :data:`MILESTONES`."""
    steps = MILESTONES[-1]
    folder = (DATA_DIR / LEARNING_DATASET / "data").relative_to(PROJECT_ROOT)
    return preset_task(
        f"{algorithm.upper()} on {ENV}",
        preset=ref_config.OFFLINE_PRESETS[algorithm][ENV],
        module=RUN,
        trainer="OfflineTrainer",
        milestones=MILESTONES,
        env=ENV,
        overrides={
            "dataset": LEARNING_DATASET,
            "datasets_dir": DATASETS_DIR,
            "total_steps": steps,
            "eval_every": steps,
        },
        train_until="train_until",
        data=tuple(f"{folder}/{name}" for name in ("metadata.json", "main_data.hdf5")),
        policy=policy,
        env_steps=False,  # milestones are gradient steps, the trainer's clock
        grader_config={"datasets_dir": str(DATA_DIR)},
    )


LEARNING = [
    Learning(_learning_task("iql", "agent.actor"), points=10, timeout_s=240.0),
    Learning(_learning_task("cql", "agent.q_network"), points=10, timeout_s=150.0),
]
"""What ``rlhw calibrate hw5`` runs; the bands are in ``autograder/calibration/hw5.json``. The
grader evaluates IQL's actor (its greedy action) and CQL's Q-network (the argmax) with the
reference's agent. DQN has none: it is given code. Nor has AWAC, to keep the whole suite within
a few minutes: its functions are the fast checks', and its actor's loss,
``advantage_weighted_loss``, is IQL's too, which IQL's curve trains."""


# ---------------------------------------------------------------------------------------------
# The suite
# ---------------------------------------------------------------------------------------------

CHECKS: list[Check] = [
    # RND
    RND_ERROR,
    RND_LOSS,
    UPDATE_RUNNING_STD,
    NORMALIZED_BONUS,
    BONUS_DETACHED,
    # CQL
    CQL_REGULARIZER,
    CQL_REGULARIZER_GRAD,
    CQL_CRITIC_LOSS,
    CQL_UPDATE,
    # AWAC
    AWAC_TARGET,
    AWAC_ADVANTAGES,
    ADVANTAGE_WEIGHTED_LOSS,
    ADVANTAGE_WEIGHTED_LOSS_GRAD,
    AWAC_CRITIC_LOSS,
    AWAC_ACTOR_LOSS,
    AWAC_CRITIC_UPDATE,
    AWAC_ACTOR_UPDATE,
    # IQL
    EXPECTILE_LOSS,
    EXPECTILE_LOSS_GRAD,
    IQL_TARGET,
    IQL_VALUE_LOSS,
    IQL_CRITIC_LOSS,
    IQL_ACTOR_LOSS,
    IQL_VALUE_UPDATE,
    IQL_ACTOR_UPDATE,
    IQL_CRITIC_UPDATE,
    # the continuous part: the Gaussian's log-density, BC and IQL with a Gaussian actor
    GAUSSIAN_LOG_PROB,
    GAUSSIAN_LOG_PROB_GRAD,
    BC_ACTOR_LOSS,
    BC_ACTOR_LOSS_GRAD,
    BC_UPDATE,
    CONTINUOUS_VALUE_LOSS,
    CONTINUOUS_VALUE_LOSS_GRAD,
    CONTINUOUS_VALUE_UPDATE,
    CONTINUOUS_CRITIC_LOSS,
    CONTINUOUS_CRITIC_LOSS_GRAD,
    CONTINUOUS_CRITIC_UPDATE,
    CONTINUOUS_ACTOR_LOSS,
    CONTINUOUS_ACTOR_LOSS_GRAD,
    CONTINUOUS_ACTOR_UPDATE,
]

SUITE = Suite(
    hw="hw5",
    package=PACKAGE,
    checks=CHECKS,
    learning=LEARNING,
    feedback="property",
    sandbox=SANDBOX,
)

"""Hidden suite of homework 4 (model-based RL): the normalisation statistics, the ensemble's
batched forward pass, predictions and loss (with its gradient), the bootstrapped training
steps, the predicted returns of action sequences, random shooting, CEM's refit and
iterations, MBPO's model steps, rollouts, branching from real states and mixed minibatches,
and a learning curve (MPC with random shooting on Obstacles-v0).

Functions that take a generator, a callable or a replay buffer cannot be called across the
sandbox's wire (it carries arrays and plain values only), so their checks reach them through
the student's own trainers, built from a config dict in the sandbox and kept there, as hw3's
agent checks do: ``MPCTrainer.fit_model`` (the statistics, ``bootstrap_indices`` and
``update_ensemble`` with the trainer's generator and Adam),
``MPCTrainer.policy.predicted_returns`` (the values of ``predicted_returns``: a plan, an
argmax of them, hides a return scaled by a constant), ``MPCTrainer.policy.plan``
(``random_shooting`` or ``cem``), ``MBPOTrainer.add_rollouts``
(``branch_rollouts`` and ``model_rollouts`` with the trainer's buffers and SAC actor) and
``MBPOTrainer.step`` (``mixed_batch``). The reference's weights, buffers and generator seeds
are loaded into them first, and the grader replays the same with the reference's functions.
Each such check judges what its own function decides as directly as the trainer shows it
(the generator's state after the draw, the candidate chosen among those drawn, the start
states of the rollouts), so that a bug elsewhere in the chain fails its own checks first.

MBPO trains homework 3's SAC: the sandbox holds the grader's own ``hw3_q_learning`` (the
reference), so a student's hw3 never matters here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

import hw4_model_based.config as ref_config
import hw4_model_based.envs as ref_envs
import hw4_model_based.mbpo as ref_mbpo
import hw4_model_based.models as ref_models
import hw4_model_based.planning as ref_planning
import hw4_model_based.run as ref_run
from autograder.checks import Check, Outcome
from autograder.judging import (
    CALL_TIMEOUT_S,
    LOSS_TOL,
    Planned,
    Tally,
    Tolerance,
    compare,
    f32,
    fmt,
    reference_module,
    returned,
    run_cases,
    state_dict_of,
    torch_seed,
)
from autograder.kit import (
    Learning,
    ModuleCase,
    Suite,
    Trainer,
    fetch_parameters,
    load_states,
    module_check,
    parameters,
    preset_task,
    tensors_problem,
    tuple_problem,
)
from autograder.sandbox import PROJECT_ROOT, Apply, Attr, Method, Sandbox, Step
from infrastructure.replay_buffer import ReplayBuffer
from infrastructure.seeding import generators_kept

PACKAGE = "hw4_model_based"
MODELS = f"{PACKAGE}.models"
PLANNING = f"{PACKAGE}.planning"
MBPO = f"{PACKAGE}.mbpo"
RUN = f"{PACKAGE}.run"
OBSTACLES = ref_envs.OBSTACLES_ID
KEPT = "model_based_trainer"  # the name the trainer of a check is kept under in the worker
TRAINER_TIMEOUT_S = 20.0  # building a trainer makes an environment (and for MBPO, SAC)
MPC_TRAINER = Trainer(RUN, "MPCTrainer", KEPT, TRAINER_TIMEOUT_S, agent=())
MBPO_TRAINER = Trainer(RUN, "MBPOTrainer", KEPT, TRAINER_TIMEOUT_S, agent=())
STATISTICS = ("obs_mean", "obs_std", "action_mean", "action_std", "delta_mean", "delta_std")
FIELDS = ref_mbpo.TRANSITION_KEYS
PLAN_TOL: Tolerance = {"rtol": 1e-4, "atol": 1e-5}
"""Plans and states after several model steps: float32 rounding, compounded."""

SANDBOX: dict[str, Any] = {
    "given": [PROJECT_ROOT / "infrastructure", PROJECT_ROOT / "hw3_q_learning"]
}
"""Options of every sandbox of this suite: the grader's infrastructure, and homework 3's
reference (MBPO's SAC) over whatever the submission holds in ``hw3_q_learning``."""


# ---------------------------------------------------------------------------------------------
# Shared pieces: reference ensembles, trainers' configs, calls of functions that return tuples
# ---------------------------------------------------------------------------------------------


def _ensemble(
    rng: np.random.Generator, shape: tuple[int, int, int, int, int, str], min_std: float = 1e-6
) -> tuple[str, tuple[Any, ...], Any]:
    """``(summary, init_args, reference ensemble)`` of ``shape`` (obs_dim, action_dim,
    ensemble_size, n_layers, size, activation), with random weights and normalisation
    statistics (every buffer its own values, so that using one for another shows)."""
    obs_dim, action_dim, members, n_layers, size, activation = shape
    init_args = (obs_dim, action_dim, members, n_layers, size, activation, min_std)
    ensemble: Any = reference_module(ref_models.DynamicsEnsemble, init_args, torch_seed(rng))
    with torch.no_grad():
        for name in STATISTICS:
            buffer = getattr(ensemble, name)
            if name.endswith("_std"):
                values = rng.uniform(0.3, 2.0, size=buffer.shape)
            else:
                values = rng.normal(size=buffer.shape)
            buffer.copy_(f32(values))
    summary = (
        f"DynamicsEnsemble(obs_dim={obs_dim}, action_dim={action_dim}, ensemble_size={members}, "
        f"n_layers={n_layers}, size={size}, activation={activation!r})"
    )
    return summary, init_args, ensemble


def _tuple_cases(
    reference: Callable[..., tuple[torch.Tensor, ...]],
    names: tuple[str, ...],
    make_cases: Callable[[np.random.Generator], list[tuple[str, tuple[Any, ...]]]],
) -> Callable[[Sandbox, np.random.Generator], list[Planned]]:
    """:class:`Planned` calls of the student's function of the same module and name as
    ``reference``, whose tuple of tensors (named ``names``) is compared with the reference's,
    on each of ``make_cases(rng)``."""
    module, function = reference.__module__, reference.__name__

    def cases(sandbox: Sandbox, rng: np.random.Generator) -> list[Planned]:
        planned = []
        for summary, inputs in make_cases(rng):
            expected = reference(*inputs)
            planned.append(
                Planned(
                    summary,
                    lambda inputs=inputs: sandbox.call(
                        module, function, inputs, timeout_s=CALL_TIMEOUT_S
                    ),
                    lambda value, expected=expected: tuple_problem(value, expected, names),
                    trivial=False,
                )
            )
        return planned

    return cases


def _tuple_check(
    name: str,
    function: str,
    cases: Callable[[Sandbox, np.random.Generator], list[Planned]],
    points: float,
    what: str,
    hint: str,
) -> Check:
    def run(sandbox: Sandbox, rng: np.random.Generator) -> Outcome:
        planned = cases(sandbox, rng)
        return run_cases(sandbox, Tally(what.replace("{count}", str(len(planned))), hint), planned)

    return Check(name, function, "value", points, run)


def _problem_of(
    got: Any, expected: Mapping[str, Any], tolerance: Tolerance = LOSS_TOL
) -> str | None:
    """The first entry of ``expected`` (name -> tensor) that the fetched dict ``got`` does not
    match; None when all do."""
    if type(got) is not dict or set(got) != set(expected):
        return "the call returned an unexpected value"
    for key, want in expected.items():
        problem = compare(got[key], want, tensor=True, what=key, **tolerance)
        if problem is not None:
            return problem
    return None


# ---------------------------------------------------------------------------------------------
# Normalisation statistics
# ---------------------------------------------------------------------------------------------


def _mean_and_std_cases(rng: np.random.Generator) -> list[tuple[str, tuple[Any, ...]]]:
    cases = []
    for note, batch, dims, min_std, constant in [
        ("B=9, 3 columns", 9, 3, 1e-6, False),
        ("B=40, 5 columns of different scales", 40, 5, 1e-6, False),
        ("B=12, a constant column (std floored)", 12, 4, 1e-3, True),
        ("B=1 (every std floored)", 1, 3, 0.05, False),
        ("B=25, min_std above some columns' std", 25, 4, 0.5, False),
    ]:
        scales = rng.uniform(0.1, 3.0, size=dims)
        x = rng.normal(size=(batch, dims)) * scales + rng.normal(size=dims) * 2.0
        if constant:
            x[:, 1] = 1.5
        cases.append((f"{note}, min_std={min_std:g}", (f32(x), min_std)))
    return cases


MEAN_AND_STD = _tuple_check(
    "mean_and_std: column means and floored stds",
    "mean_and_std",
    _tuple_cases(ref_models.mean_and_std, ("mean", "std"), _mean_and_std_cases),
    points=5,
    what=(
        "`mean_and_std(x, min_std)` on {count} batches (a constant column, a batch of one, a "
        "floor above some columns' spread): the mean and the std of each column"
    ),
    hint=(
        "the mean and the population std (dividing by B, unbiased=False) over the rows (dim 0), "
        "each of shape (d,); every std below min_std becomes min_std."
    ),
)

_STATISTICS_SHAPES = [
    # obs_dim, action_dim, ensemble_size, n_layers, size, activation; batch, min_std
    ((3, 2, 2, 1, 8, "relu"), 30, 1e-6),
    ((4, 1, 3, 2, 8, "tanh"), 17, 1e-6),
    ((2, 3, 1, 0, 4, "relu"), 9, 0.25),
]


def _check_update_statistics(sandbox: Sandbox, rng: np.random.Generator) -> Outcome:
    tally = Tally(
        f"`DynamicsEnsemble.update_statistics` on {len(_STATISTICS_SHAPES)} replay datasets "
        "(observations, actions and state changes on different scales; one with a state "
        "dimension that never changes): the six buffers after the call",
        "set obs_mean/obs_std from the observations, action_mean/action_std from the actions "
        "and delta_mean/delta_std from the state changes next_observations - observations (not "
        "from next_observations), each with mean_and_std(..., self.min_std), written into the "
        "buffers in place.",
    )
    for shape, batch, min_std in tally.each(_STATISTICS_SHAPES):
        summary, init_args, ensemble = _ensemble(rng, shape, min_std)
        obs_dim, action_dim = shape[:2]
        observations = rng.normal(size=(batch, obs_dim)) * 2.0 + 1.0
        deltas = rng.normal(size=(batch, obs_dim)) * 0.1 - 0.3
        deltas[:, 0] = 0.0  # a dimension that never moves: its delta std is floored
        actions = rng.uniform(-2.0, 1.0, size=(batch, action_dim))
        inputs = (f32(observations), f32(actions), f32(observations + deltas))
        summary = f"{summary}, min_std={min_std:g}, n={batch}"
        result = sandbox.call_method(
            MODELS,
            "DynamicsEnsemble",
            init_args,
            state_dict=state_dict_of(ensemble),
            keep=KEPT,
            timeout_s=CALL_TIMEOUT_S,
            label="DynamicsEnsemble",
        )
        ok, _ = returned(result, tally, summary)
        if ok:
            result = sandbox.on(
                KEPT,
                [Method("update_statistics", inputs)],
                timeout_s=CALL_TIMEOUT_S,
                label="DynamicsEnsemble.update_statistics",
            )
            ok, _ = returned(result, tally, summary)
        if ok:
            fetch = {name: [Attr(name)] for name in STATISTICS}
            result = sandbox.on(KEPT, [], fetch=fetch, timeout_s=CALL_TIMEOUT_S, label="buffers")
            ok, value = returned(result, tally, summary)
        if not ok:
            continue
        ensemble.update_statistics(*inputs)
        expected = {name: getattr(ensemble, name).clone() for name in STATISTICS}
        tally.record(summary, _problem_of(value, expected))
    return tally.outcome()


UPDATE_STATISTICS = Check(
    "DynamicsEnsemble.update_statistics: statistics of observations, actions and deltas",
    "DynamicsEnsemble.update_statistics",
    "value",
    7,
    _check_update_statistics,
)


# ---------------------------------------------------------------------------------------------
# The ensemble: forward, predict and loss with the reference's weights and statistics
# ---------------------------------------------------------------------------------------------

_ENSEMBLE_SHAPES = [
    # obs_dim, action_dim, ensemble_size, n_layers, size, activation; batch
    ((3, 2, 4, 2, 16, "relu"), 7),
    ((5, 1, 1, 1, 8, "tanh"), 5),
    ((2, 3, 3, 0, 8, "relu"), 6),
    ((4, 2, 5, 2, 8, "tanh"), 1),
]


def _member_batches(
    rng: np.random.Generator, shape: tuple[Any, ...], batch: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(observations, actions, next_observations)``, each ``(E, B, ...)``: every member's
    own batch, on the scales of the reference's statistics."""
    obs_dim, action_dim, members = shape[:3]
    observations = rng.normal(size=(members, batch, obs_dim)) * 1.5
    actions = rng.uniform(-1.0, 1.0, size=(members, batch, action_dim))
    next_observations = observations + rng.normal(size=observations.shape) * 0.5
    return f32(observations), f32(actions), f32(next_observations)


def _ensemble_cases(
    method: str, grad: bool = False
) -> Callable[[np.random.Generator], list[ModuleCase]]:
    """The ensembles of :data:`_ENSEMBLE_SHAPES` with the reference's weights and statistics:
    ``method``'s value (``forward``, ``predict`` or ``loss``) and, with ``grad``, the gradient
    of the loss w.r.t. every parameter."""

    def cases(rng: np.random.Generator) -> list[ModuleCase]:
        made = []
        for shape, batch in _ENSEMBLE_SHAPES:
            summary, init_args, ensemble = _ensemble(rng, shape)
            observations, actions, next_observations = _member_batches(rng, shape, batch)
            inputs = (observations, actions, next_observations)[: 3 if method == "loss" else 2]
            steps: list[Step] = [Method(method, inputs)]
            with torch.no_grad():
                expected = getattr(ensemble, method)(*inputs)
            grad_steps: list[Step] = []
            if grad:
                ensemble.loss(*inputs).backward()
                grad_steps = steps
            made.append(
                ModuleCase(
                    f"{summary}, B={batch} per member",
                    init_args,
                    ensemble,
                    inputs,
                    steps=steps,
                    returns=expected,
                    what="the loss" if method == "loss" else f"the result of {method}",
                    grad_steps=grad_steps,
                )
            )
        return made

    return cases


FORWARD = module_check(
    "DynamicsEnsemble.forward: normalised inputs, one batched pass over members",
    function="DynamicsEnsemble.forward",
    reference=ref_models.DynamicsEnsemble,
    cases=_ensemble_cases("forward"),
    kind="value",
    points=8,
    what=(
        "`DynamicsEnsemble.forward(observations, actions)` with the reference's weights and "
        "normalisation statistics on {count} ensembles (1 to 5 members, 0 to 2 hidden layers, "
        "each member its own batch): the normalised state changes, shape (E, B, obs_dim)"
    ),
    hint=(
        "normalise the observations with obs_mean/obs_std and the actions with "
        "action_mean/action_std, concatenate [observation, action] on the last dimension, then "
        "h = h @ weights[l] + biases[l] for every layer (member e with its own weights), the "
        "activation after every layer but the last."
    ),
)
PREDICT = module_check(
    "DynamicsEnsemble.predict: next states in the environment's units",
    function="DynamicsEnsemble.predict",
    reference=ref_models.DynamicsEnsemble,
    cases=_ensemble_cases("predict"),
    kind="value",
    points=6,
    what=(
        "`DynamicsEnsemble.predict(observations, actions)` with the reference's weights and "
        "statistics on {count} ensembles: the next observations, shape (E, B, obs_dim)"
    ),
    hint=(
        "un-normalise the predicted change and add it to the state: s' = s + delta_mean + "
        "delta_std * forward(s, a)."
    ),
)
LOSS = module_check(
    "DynamicsEnsemble.loss: value and gradient (normalised delta targets)",
    function="DynamicsEnsemble.loss",
    reference=ref_models.DynamicsEnsemble,
    cases=_ensemble_cases("loss", grad=True),
    kind="gradient",
    points=9,
    what=(
        "`DynamicsEnsemble.loss(observations, actions, next_observations)` with the "
        "reference's weights and statistics on {count} ensembles, each member on its own "
        "batch: the loss and its gradient w.r.t. every weight and bias"
    ),
    hint=(
        "the target is the normalised state change ((s' - s) - delta_mean) / delta_std, a "
        "constant; the loss is the mean over members, rows and dimensions of (forward(s, a) - "
        "target)^2."
    ),
)


# ---------------------------------------------------------------------------------------------
# Training through MPCTrainer.fit_model: the bootstrapped minibatches and the Adam steps
# ---------------------------------------------------------------------------------------------


def _mpc_config(**fields: Any) -> dict[str, Any]:
    """An MPCTrainer config on Obstacles-v0 (obs_dim 2, action_dim 2, its own 100-step
    episodes) with ``fields`` on top."""
    base = ref_config.MPCConfig(
        env=OBSTACLES, max_episode_steps=100, total_steps=1000, initial_steps=100
    )
    return {**dataclasses.asdict(base), **fields}


def _transitions(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """``n`` Obstacles-like transitions: positions, actions in [-1, 1], steps of 0.1."""
    observations = rng.uniform(-1.0, 1.0, size=(n, 2))
    actions = rng.uniform(-1.0, 1.0, size=(n, 2))
    next_observations = observations + 0.1 * actions + rng.normal(size=(n, 2)) * 0.01
    return {
        "observations": observations.astype(np.float64),
        "actions": actions.astype(np.float32),
        "rewards": -np.linalg.norm(next_observations, axis=1).astype(np.float32),
        "next_observations": next_observations.astype(np.float64),
        "terminated": np.zeros(n, dtype=bool),
    }


def _add(data: Mapping[str, np.ndarray]) -> list[Step]:
    """Steps from a trainer that add ``data`` to its replay buffer."""
    return [Attr("buffer"), Method("add", tuple(data[key] for key in FIELDS))]


_FIT_CASES = [
    # ensemble_size, n_layers, layer_size, activation, batch_size, learning_rate, transitions
    (3, 1, 16, "relu", 8, 1e-2, (40, 25)),
    (2, 2, 8, "tanh", 5, 3e-3, (12, 30)),
]


@dataclasses.dataclass(frozen=True)
class _Fit:
    """One case of the training checks: the student's trainer's config, the reference
    ensemble it starts from, the data added before each ``fit_model`` call and the seed of
    the trainer's generator."""

    summary: str
    config: dict[str, Any]
    ensemble: Any
    data: list[dict[str, np.ndarray]]
    seed: int


def _fit_setup(rng: np.random.Generator, case: tuple[Any, ...], train_steps: int) -> _Fit:
    members, n_layers, size, activation, batch_size, learning_rate, sizes = case
    config = _mpc_config(
        ensemble_size=members,
        n_layers=n_layers,
        layer_size=size,
        activation=activation,
        batch_size=batch_size,
        learning_rate=learning_rate,
        train_steps=train_steps,
        seed=int(rng.integers(1_000)),
    )
    summary, _, ensemble = _ensemble(rng, (2, 2, members, n_layers, size, activation))
    data = [_transitions(rng, n) for n in sizes]
    summary = (
        f"MPCTrainer on {OBSTACLES} with a {summary}, B={batch_size} per member, Adam "
        f"lr={learning_rate:g}, train_steps={train_steps}; fit_model after adding "
        + " then ".join(f"{n}" for n in sizes)
        + " transitions"
    )
    return _Fit(summary, config, ensemble, data, torch_seed(rng))


@dataclasses.dataclass(frozen=True)
class _Fitted:
    """What one ``fit_model`` call returned and left: its metrics, the ensemble's parameters
    (and gradients), its statistics and the state of the trainer's generator."""

    metrics: Any
    parameters: Any
    statistics: Any


def _student_fits(sandbox: Sandbox, tally: Tally, fit: _Fit) -> list[_Fitted] | None:
    """The student's trainer built with ``fit``'s config and reference ensemble, its
    generator seeded, then for each of ``fit.data``: the data added and ``fit_model``
    called; None (recorded) when a call fails."""
    states: dict[tuple[str, ...], Any] = {("ensemble",): state_dict_of(fit.ensemble)}
    if not MPC_TRAINER.build(sandbox, tally, fit.summary, fit.config, states):
        return None
    names = [name for name, _ in fit.ensemble.named_parameters()]
    seeded: list[Step] = [Attr("generator"), Method("manual_seed", (fit.seed,))]
    result = sandbox.on(KEPT, seeded, fetch={}, timeout_s=CALL_TIMEOUT_S, label="generator")
    ok, _ = returned(result, tally, fit.summary)
    fitted = []
    for data in fit.data:
        if ok:
            result = sandbox.on(KEPT, _add(data), fetch={}, timeout_s=CALL_TIMEOUT_S)
            ok, _ = returned(result, tally, fit.summary)
        if ok:
            result = sandbox.on(
                KEPT, [Method("fit_model")], timeout_s=CALL_TIMEOUT_S, label="fit_model"
            )
            ok, metrics = returned(result, tally, fit.summary)
        if ok:
            result = fetch_parameters(sandbox, KEPT, ("ensemble",), names, grads=True)
            ok, fetched = returned(result, tally, fit.summary)
        if ok:
            fetch: dict[str, list[Step]] = {
                name: [Attr("ensemble"), Attr(name)] for name in STATISTICS
            }
            fetch["generator"] = [Attr("generator"), Method("get_state")]
            result = sandbox.on(KEPT, [], fetch=fetch, timeout_s=CALL_TIMEOUT_S, label="state")
            ok, statistics = returned(result, tally, fit.summary)
        if not ok:
            return None
        fitted.append(_Fitted(metrics, fetched, statistics))
    return fitted


def _reference_fits(fit: _Fit) -> list[_Fitted]:
    """The reference's ``fit_ensemble`` on the same data, weights and generator seed."""
    config = ref_config.MPCConfig(**fit.config)
    ensemble: Any = reference_module(
        ref_models.DynamicsEnsemble,
        (2, 2, config.ensemble_size, config.n_layers, config.layer_size, config.activation),
        0,
    )
    ensemble.load_state_dict(state_dict_of(fit.ensemble))
    optimizer = torch.optim.Adam(ensemble.parameters(), lr=config.learning_rate)
    buffer = ReplayBuffer(config.buffer_size, seed=config.seed)
    generator = torch.Generator().manual_seed(fit.seed)
    fitted = []
    for data in fit.data:
        buffer.add(*(data[key] for key in FIELDS))
        metrics = ref_run.fit_ensemble(
            ensemble,
            optimizer,
            buffer,
            config.train_steps,
            config.batch_size,
            generator,
            when="the check",
            option="learning_rate",
        )
        statistics = {name: getattr(ensemble, name).clone() for name in STATISTICS}
        statistics["generator"] = generator.get_state()
        fitted.append(_Fitted(metrics, parameters(ensemble, grads=True), statistics))
    return fitted


def _loss_problem(got: Any, expected: Mapping[str, float]) -> str | None:
    """The loss ``fit_model`` reported against the reference's."""
    key = "train/loss_model"
    if type(got) is not dict or type(got.get(key)) is not float:
        return f"fit_model returned {got!r}, expected {{{key!r}: the mean loss}}"
    return compare(
        got[key],
        expected[key],
        tensor=False,
        number=True,
        rtol=1e-4,
        atol=1e-6,
        what="the loss before the steps (the mean of update_ensemble's returns)",
    )


def _generator_problem(got: Any, expected: torch.Tensor) -> str | None:
    """The trainer's generator after the draws against the reference's."""
    if type(got) is not torch.Tensor or not torch.equal(got, expected):
        return (
            "the trainer's generator is not where the draws leave it: bootstrap_indices must "
            "draw all the indices with one call of torch.randint(num_transitions, "
            "(ensemble_size, batch_size), generator=generator), and nothing else"
        )
    return None


def _fit_check(
    name: str,
    function: str,
    points: float,
    train_steps: int,
    judge: Callable[[_Fitted, _Fitted], str | None],
    what: str,
    hint: str,
) -> Check:
    def run(sandbox: Sandbox, rng: np.random.Generator) -> Outcome:
        tally = Tally(what.replace("{count}", str(len(_FIT_CASES))), hint)
        for case in tally.each(_FIT_CASES):
            fit = _fit_setup(rng, case, train_steps)
            fitted = _student_fits(sandbox, tally, fit)
            if fitted is None:
                continue
            problem = None
            for index, (got, want) in enumerate(
                zip(fitted, _reference_fits(fit), strict=True), start=1
            ):
                problem = judge(got, want)
                if problem is not None:
                    problem = f"after fit_model call {index}: {problem}"
                    break
            tally.record(fit.summary, problem)
        return tally.outcome()

    return Check(name, function, "update", points, run, timeout_s=60.0)


def _judge_bootstrap(got: _Fitted, want: _Fitted) -> str | None:
    statistics = got.statistics
    if type(statistics) is not dict or "generator" not in statistics:
        return "the trainer's state could not be read"
    generator = want.statistics["generator"]
    return _generator_problem(statistics["generator"], generator) or _loss_problem(
        got.metrics, want.metrics
    )


def _judge_update(got: _Fitted, want: _Fitted) -> str | None:
    expected = {name: value for name, value in want.statistics.items() if name != "generator"}
    statistics = got.statistics
    if type(statistics) is dict:
        statistics = {name: value for name, value in statistics.items() if name != "generator"}
    return (
        _loss_problem(got.metrics, want.metrics)
        or tensors_problem(got.parameters, want.parameters, "ensemble parameter")
        or _problem_of(statistics, expected)
    )


BOOTSTRAP_INDICES = _fit_check(
    "bootstrap_indices: one bootstrapped minibatch per member, from the given generator",
    "bootstrap_indices",
    6,
    1,
    _judge_bootstrap,
    what=(
        "`MPCTrainer.fit_model` (one gradient step after each of two data collections) with "
        "the reference's weights and a seeded generator, on {count} ensembles: the "
        "generator's state after the draws, and the loss of the drawn minibatches"
    ),
    hint=(
        "draw every member's indices at once, uniformly with replacement, with "
        "torch.randint(num_transitions, (ensemble_size, batch_size), generator=generator): "
        "row e is member e's minibatch (not the same row for all, not a permutation, not the "
        "global generator). If the checks of update_statistics, loss and update_ensemble fail "
        "too, fix those first."
    ),
)
UPDATE_ENSEMBLE = _fit_check(
    "update_ensemble: Adam steps of every member on its own minibatch",
    "update_ensemble",
    9,
    2,
    _judge_update,
    what=(
        "`MPCTrainer.fit_model` (two gradient steps after each of two data collections) with "
        "the reference's weights and a seeded generator, on {count} ensembles: the loss it "
        "reports, every parameter and its gradient, and the statistics after each call"
    ),
    hint=(
        "gather member e's minibatch with observations[indices] (shape (E, B, obs_dim)), "
        "compute ensemble.loss on it, then zero the old gradients, backpropagate and take one "
        "optimizer step; return the loss before the step as a float."
    ),
)


# ---------------------------------------------------------------------------------------------
# Planning through MPCTrainer.policy.plan: random shooting, CEM
# ---------------------------------------------------------------------------------------------

_REWARD = ref_envs.reward_fn(OBSTACLES)
_GOAL = np.asarray(ref_envs.ObstaclesEnv.GOAL)
_BOUNDS = (f32(np.array([-0.5, -1.0])), f32(np.array([1.0, 0.25])))
"""The planners' action bounds, written into the student's ``MPCPolicy.low`` and ``high`` in
place of Obstacles-v0's [-1, 1]: bounds not centred on 0, so that a plan drawn or started
around 0 instead of their middle shows."""


@dataclasses.dataclass(frozen=True)
class _Plans:
    """One case of the planning checks: the MPC config, the reference ensemble, the
    observations planned from (in order, one generator) and the generator's seed."""

    summary: str
    config: dict[str, Any]
    ensemble: Any
    observations: list[np.ndarray]
    seed: int

    def planner(self) -> Any:
        """The reference's MPC policy of this case, its generator seeded as the student's."""
        config = ref_config.MPCConfig(**self.config)
        low, high = _BOUNDS
        return ref_planning.MPCPolicy(
            self.ensemble,
            _REWARD,
            low.numpy(),
            high.numpy(),
            config.strategy,
            config.horizon,
            config.num_sequences,
            torch.Generator().manual_seed(self.seed),
            config.cem_iterations,
            config.cem_num_elites,
            config.cem_alpha,
        )


def _planning_ensemble(
    rng: np.random.Generator, members: int, n_layers: int, size: int
) -> tuple[str, Any]:
    """``(summary, reference ensemble)`` on Obstacles-v0's states and actions, whose members
    disagree by 0.2 to 0.5 a step near the goal, where the reward (minus the distance) bends
    most: a mean of their states is then far from a mean of their rewards."""
    summary, _, ensemble = _ensemble(rng, (2, 2, members, n_layers, size, "tanh"))
    with torch.no_grad():
        ensemble.obs_mean.copy_(f32(_GOAL))
        ensemble.obs_std.fill_(0.5)
        ensemble.delta_mean.copy_(f32(rng.normal(size=2) * 0.1))
        ensemble.delta_std.copy_(f32(rng.uniform(0.2, 0.5, size=2)))
    return summary, ensemble


def _near_the_goal(rng: np.random.Generator) -> np.ndarray:
    """An observation where the members of :func:`_planning_ensemble` disagree."""
    return _GOAL + rng.uniform(-0.4, 0.4, size=2)


def _plans_setup(rng: np.random.Generator, case: tuple[Any, ...]) -> _Plans:
    strategy, members, n_layers, size, horizon, num_sequences, plans, cem = case
    iterations, elites, alpha = cem
    config = _mpc_config(
        ensemble_size=members,
        n_layers=n_layers,
        layer_size=size,
        activation="tanh",
        strategy=strategy,
        horizon=horizon,
        num_sequences=num_sequences,
        cem_iterations=iterations,
        cem_num_elites=elites,
        cem_alpha=alpha,
        seed=int(rng.integers(1_000)),
    )
    summary, ensemble = _planning_ensemble(rng, members, n_layers, size)
    observations = [_near_the_goal(rng) for _ in range(plans)]
    summary = (
        f"MPC ({strategy}) on {OBSTACLES} with a {summary} and the reference's statistics, "
        f"action bounds low={fmt(_BOUNDS[0])}, high={fmt(_BOUNDS[1])}, H={horizon}, "
        f"N={num_sequences}"
        + (f", {iterations} iterations, {elites} elites, alpha={alpha}" * (strategy == "cem"))
        + f"; {plans} plans in a row from {fmt(np.stack(observations))}"
    )
    return _Plans(summary, config, ensemble, observations, torch_seed(rng))


def _student_plans(sandbox: Sandbox, tally: Tally, case: _Plans) -> Any:
    """The plans of the student's ``MPCTrainer.policy`` from ``case``'s observations, one
    after the other with its generator seeded first; None (recorded) when a call fails."""
    states: dict[tuple[str, ...], Any] = {("ensemble",): state_dict_of(case.ensemble)}
    if not MPC_TRAINER.build(sandbox, tally, case.summary, case.config, states):
        return None
    set_up: dict[str, list[Step]] = {
        "generator": [Attr("generator"), Method("manual_seed", (case.seed,))],
        "low": [Attr("policy"), Attr("low"), Method("copy_", (_BOUNDS[0],))],
        "high": [Attr("policy"), Attr("high"), Method("copy_", (_BOUNDS[1],))],
    }
    for name, steps in set_up.items():
        result = sandbox.on(KEPT, steps, fetch={}, timeout_s=CALL_TIMEOUT_S, label=name)
        ok, _ = returned(result, tally, case.summary)
        if not ok:
            return None
    fetch: dict[str, list[Step]] = {
        f"plan {index}": [Attr("policy"), Method("plan", (observation,))]
        for index, observation in enumerate(case.observations)
    }
    result = sandbox.on(KEPT, [], fetch=fetch, timeout_s=CALL_TIMEOUT_S, label="MPCPolicy.plan")
    ok, value = returned(result, tally, case.summary)
    if not ok:
        return None
    if type(value) is not dict or set(value) != set(fetch):
        tally.record(case.summary, "the plans could not be read")
        return None
    return [value[key] for key in fetch]


def _shooting_problem(case: _Plans, plans: Sequence[Any]) -> str | None:
    """Each plan against the candidates the reference draws with the same generator: it must
    be one of them, of the highest predicted return (the reference's)."""
    config = ref_config.MPCConfig(**case.config)
    generator = torch.Generator().manual_seed(case.seed)
    shape = (config.num_sequences, config.horizon, 2)
    low, high = _BOUNDS
    for index, (observation, plan) in enumerate(zip(case.observations, plans, strict=True)):
        candidates = low + (high - low) * torch.rand(shape, generator=generator)
        with torch.no_grad():
            returns = ref_planning.predicted_returns(
                case.ensemble, _REWARD, f32(observation), candidates
            )
        where = f"plan {index + 1} (from {fmt(observation)})"
        if type(plan) is not np.ndarray or plan.shape != shape[1:]:
            return f"{where} is not an array of shape {shape[1:]}"
        close = np.isclose(candidates.numpy(), plan[None].astype(np.float32), **LOSS_TOL)
        matches = np.flatnonzero(close.all(axis=(1, 2)))
        if len(matches) == 0:
            return (
                f"{where}: {fmt(plan)} is none of the {len(candidates)} candidates drawn with "
                "low + (high - low) * torch.rand((N, H, action_dim), generator=generator)"
            )
        best = float(returns.max())
        got = max(float(returns[row]) for row in matches)
        if got < best - 1e-4 * max(1.0, abs(best)):
            rank = int((returns > got).sum()) + 1
            return (
                f"{where}: the candidate chosen has a predicted return of {got:.6g} (rank "
                f"{rank} of {len(candidates)}, the reference's returns), the best one "
                f"{best:.6g}"
            )
    return None


def _cem_problem(case: _Plans, plans: Sequence[Any]) -> str | None:
    """Each plan against the reference's, planned with the same generator."""
    policy = case.planner()
    for index, (observation, plan) in enumerate(zip(case.observations, plans, strict=True)):
        expected = policy.plan(observation)
        what = f"plan {index + 1} (from {fmt(observation)})"
        problem = compare(plan, expected, tensor=False, what=what, **PLAN_TOL)
        if problem is not None:
            return problem
    return None


def _plan_check(
    name: str,
    function: str,
    points: float,
    cases: Sequence[tuple[Any, ...]],
    judge: Callable[[_Plans, Sequence[Any]], str | None],
    what: str,
    hint: str,
) -> Check:
    def run(sandbox: Sandbox, rng: np.random.Generator) -> Outcome:
        tally = Tally(what.replace("{count}", str(len(cases))), hint)
        for case in tally.each(cases):
            made = _plans_setup(rng, case)
            plans = _student_plans(sandbox, tally, made)
            if plans is not None:
                tally.record(made.summary, judge(made, plans))
        return tally.outcome()

    return Check(name, function, "value", points, run, timeout_s=60.0)


_NO_CEM = (1, 1, 1.0)
_RANDOM_SHOOTING_CASES = [
    # strategy, ensemble_size, n_layers, size, horizon, num_sequences, plans, cem
    ("random", 1, 1, 16, 1, 64, 5, _NO_CEM),
    ("random", 1, 2, 8, 2, 40, 5, _NO_CEM),
]
_CEM_CASES = [
    ("cem", 1, 1, 16, 2, 40, 3, (3, 6, 1.0)),
    ("cem", 2, 1, 8, 3, 30, 3, (2, 4, 0.6)),
]
RANDOM_SHOOTING = _plan_check(
    "random_shooting: the candidate of the highest predicted return",
    "random_shooting",
    6,
    _RANDOM_SHOOTING_CASES,
    _shooting_problem,
    what=(
        "the plans of `MPCTrainer.policy` (random shooting, one member, horizons 1 and 2) with "
        "the reference's weights and a seeded generator, on {count} cases of five plans each: "
        "each plan must be the candidate of the highest predicted return"
    ),
    hint=(
        "draw the candidates with one call, low + (high - low) * torch.rand((N, H, action_dim), "
        "generator=generator), score them with returns_fn, and return the one of the highest "
        "return (argmax, not argmin, not the first)."
    ),
)
CEM = _plan_check(
    "cem: sample, refit, repeat; the plan is the final mean",
    "cem",
    6,
    _CEM_CASES,
    _cem_problem,
    what=(
        "the plans of `MPCTrainer.policy` (CEM) with the reference's weights and a seeded "
        "generator, on {count} cases of three plans each: each plan against the reference's"
    ),
    hint=(
        "start from mean (low + high) / 2 and std (high - low) / 2 at every step; each "
        "iteration draws mean + std * torch.randn((N, H, action_dim), generator=generator) in "
        "one call, clips it to the bounds, scores it with returns_fn and refits with cem_refit; "
        "return the final mean."
    ),
)


def _refit_cases(rng: np.random.Generator) -> list[tuple[str, tuple[Any, ...]]]:
    cases = []
    for n, horizon, action_dim, elites, alpha in [
        (20, 3, 2, 5, 1.0),
        (12, 2, 1, 4, 0.7),
        (30, 4, 3, 6, 0.25),
        (8, 1, 2, 1, 0.5),
    ]:
        sequences = rng.uniform(-1.0, 1.0, size=(n, horizon, action_dim))
        returns = rng.permutation(n) + rng.uniform(0.0, 0.5, size=n)  # distinct: no ties
        mean = rng.uniform(-0.5, 0.5, size=(horizon, action_dim))
        std = rng.uniform(0.2, 1.0, size=(horizon, action_dim))
        note = f"N={n}, H={horizon}, action_dim={action_dim}, {elites} elites, alpha={alpha}"
        inputs = (f32(sequences), f32(returns), elites, f32(mean), f32(std), alpha)
        cases.append((note, inputs))
    return cases


CEM_REFIT = _tuple_check(
    "cem_refit: elites, refit of mean and std, smoothing alpha",
    "cem_refit",
    _tuple_cases(ref_planning.cem_refit, ("mean", "std"), _refit_cases),
    points=7,
    what=(
        "`cem_refit` on {count} sets of sampled sequences with distinct returns (one elite, "
        "alpha from 0.25 to 1): the new mean and std"
    ),
    hint=(
        "the elites are the num_elites sequences of HIGHEST return; fit their mean and std "
        "(unbiased=False) over the elites (dim 0), then new = alpha * fit + (1 - alpha) * old, "
        "for the mean and for the std."
    ),
)


# ---------------------------------------------------------------------------------------------
# Predicted returns through MPCTrainer.policy.predicted_returns: the values, not a ranking
# ---------------------------------------------------------------------------------------------

_PREDICTED_RETURNS_CASES = [
    # ensemble_size, n_layers, size; (horizon, num_sequences) of each batch of sequences
    (3, 1, 16, ((1, 1), (4, 30), (2, 5))),
    (5, 2, 8, ((6, 1), (1, 12), (3, 40))),
    (2, 0, 8, ((3, 8), (5, 20))),
]
"""Ensembles of 2 or more members (a sum over members then differs from their mean), each
scoring batches of horizons 1 to 6 and of 1 to 40 sequences, each from its own observation."""


@dataclasses.dataclass(frozen=True)
class _Returns:
    """One case of the predicted-returns check: the MPC config, the reference ensemble, and
    the batches scored, each ``(observation (2,), action sequences (N, H, 2))``."""

    summary: str
    config: dict[str, Any]
    ensemble: Any
    batches: list[tuple[np.ndarray, np.ndarray]]


def _returns_setup(rng: np.random.Generator, case: tuple[Any, ...]) -> _Returns:
    members, n_layers, size, shapes = case
    config = _mpc_config(
        ensemble_size=members,
        n_layers=n_layers,
        layer_size=size,
        activation="tanh",
        seed=int(rng.integers(1_000)),
    )
    summary, ensemble = _planning_ensemble(rng, members, n_layers, size)
    low, high = (bound.numpy() for bound in _BOUNDS)
    batches = []
    for horizon, num_sequences in shapes:
        observation = _near_the_goal(rng)
        uniform = rng.uniform(size=(num_sequences, horizon, 2))
        batches.append((observation, (low + (high - low) * uniform).astype(np.float32)))
    summary = (
        f"MPCTrainer on {OBSTACLES} with a {summary} and the reference's statistics; action "
        f"sequences in low={fmt(low)}, high={fmt(high)}"
    )
    return _Returns(summary, config, ensemble, batches)


def _check_predicted_returns(sandbox: Sandbox, rng: np.random.Generator) -> Outcome:
    batches = sum(len(shapes) for *_, shapes in _PREDICTED_RETURNS_CASES)
    tally = Tally(
        f"`MPCTrainer.policy.predicted_returns(observation, action_sequences)` with the "
        f"reference's ensemble (members that disagree) on {len(_PREDICTED_RETURNS_CASES)} "
        f"ensembles of 2 to 5 members, {batches} batches of sequences (horizons 1 to 6, 1 to "
        "40 sequences): each sequence's predicted return against the reference's",
        "start every member and every sequence from the observation, predict s_{t+1} with "
        "ensemble.predict for all members at once, add reward_fn(s_t, a_t, s_{t+1}) to each "
        "member's return (no discount: a plain sum over the horizon) and go on from the "
        "predicted states; at the end take the MEAN of the members' returns (not their sum, "
        "not the mean of their states).",
    )
    for case in tally.each(_PREDICTED_RETURNS_CASES):
        made = _returns_setup(rng, case)
        states: dict[tuple[str, ...], Any] = {("ensemble",): state_dict_of(made.ensemble)}
        if not MPC_TRAINER.build(sandbox, tally, made.summary, made.config, states):
            continue
        for observation, sequences in tally.each(made.batches):
            num_sequences, horizon, _ = sequences.shape
            summary = f"{made.summary}; H={horizon}, N={num_sequences} from {fmt(observation)}"
            result = sandbox.on(
                KEPT,
                [Attr("policy"), Method("predicted_returns", (observation, sequences))],
                timeout_s=CALL_TIMEOUT_S,
                label="MPCPolicy.predicted_returns",
            )
            ok, value = returned(result, tally, summary)
            if not ok:
                continue
            with torch.no_grad():
                expected = ref_planning.predicted_returns(
                    made.ensemble, _REWARD, f32(observation), torch.from_numpy(sequences)
                )
            tally.expect(
                summary, value, expected, tensor=False, what="the predicted returns", **PLAN_TOL
            )
    return tally.outcome()


PREDICTED_RETURNS = Check(
    "predicted_returns: mean over members of each member's summed rewards",
    "predicted_returns",
    "value",
    9,
    _check_predicted_returns,
    timeout_s=60.0,
)


# ---------------------------------------------------------------------------------------------
# MBPO: one model step per rollout, rollouts, branching from real states, mixed minibatches
# ---------------------------------------------------------------------------------------------


def _step_members_cases(rng: np.random.Generator) -> list[ModuleCase]:
    made = []
    for shape, batch in [
        ((3, 2, 4, 1, 16, "relu"), 12),
        ((2, 1, 3, 2, 8, "tanh"), 9),
        ((4, 2, 1, 1, 8, "relu"), 5),
    ]:
        summary, init_args, ensemble = _ensemble(rng, shape)
        drawn = rng.integers(shape[2], size=batch)
        drawn[: shape[2]] = np.arange(shape[2])  # every member draws at least one rollout
        members = torch.as_tensor(rng.permutation(drawn), dtype=torch.long)
        observations = f32(rng.normal(size=(batch, shape[0])))
        actions = f32(rng.uniform(-1.0, 1.0, size=(batch, shape[1])))
        inputs = (observations, actions, members)
        with torch.no_grad():
            expected = ref_mbpo.step_members(ensemble, *inputs)
        made.append(
            ModuleCase(
                f"{summary}, B={batch}, members={members.tolist()}",
                init_args,
                ensemble,
                inputs,
                steps=[Apply(f"{MBPO}:step_members", inputs)],
                returns=expected,
                what="the next states",
            )
        )
    return made


STEP_MEMBERS = module_check(
    "step_members: rollout i under member members[i]",
    function="step_members",
    module=MODELS,
    cls="DynamicsEnsemble",
    cases=_step_members_cases,
    kind="value",
    points=5,
    what=(
        "`step_members(ensemble, observations, actions, members)` with the reference's "
        "weights and statistics on {count} ensembles (every member drawn at least once): the "
        "next states, shape (B, obs_dim)"
    ),
    hint=(
        "predict with every member on the same B rows (expand to (E, B, ...)), then row i "
        "comes from member members[i]: predictions[members, torch.arange(B)]."
    ),
)

_ROLLOUT_CASES = [
    # ensemble_size, num_rollouts, rollout_length, real transitions, model transitions
    (3, 16, 4, 30, 10),
    (2, 10, 3, 12, 6),
]


def _rollout_ensemble(rng: np.random.Generator, members: int) -> tuple[str, Any]:
    """A reference ensemble whose members step about 0.1 a move, drifting towards
    Obstacles-v0's goal: from starts about 0.1 to 0.35 away, some rollouts reach it (terminal)
    at the first step, some later, some never."""
    summary, _, ensemble = _ensemble(rng, (2, 2, members, 1, 16, "tanh"))
    with torch.no_grad():
        ensemble.obs_mean.copy_(f32(_GOAL + np.array([0.0, 0.3])))
        ensemble.obs_std.fill_(0.2)
        ensemble.action_mean.zero_()
        ensemble.action_std.fill_(0.6)
        ensemble.delta_mean.copy_(f32(np.array([0.0, -0.07])))
        ensemble.delta_std.fill_(0.06)
    return summary, ensemble


def _plain(state: Any) -> Any:
    """``state`` with every mapping in it a plain dict (the wire carries no OrderedDict)."""
    if isinstance(state, Mapping):
        return {key: _plain(value) for key, value in state.items()}
    if isinstance(state, list | tuple):
        return type(state)(_plain(value) for value in state)
    return state


def _buffer_state(data: Mapping[str, np.ndarray], capacity: int, seed: int) -> dict[str, Any]:
    """The ``state_dict`` of a replay buffer of ``capacity`` holding ``data``, its generator
    seeded with ``seed``, with copies of its arrays."""
    buffer = ReplayBuffer(capacity, seed=seed)
    buffer.add(*(data[key] for key in FIELDS))
    return {
        key: np.array(value) if isinstance(value, np.ndarray) else value
        for key, value in buffer.state_dict().items()
    }


def _positions(rng: np.random.Generator, n: int, centre: np.ndarray, spread: float) -> np.ndarray:
    positions = centre + rng.uniform(-spread, spread, size=(n, 2))
    return np.clip(positions, -1.0, 1.0)


@dataclasses.dataclass(frozen=True)
class _Rollouts:
    """One case of the rollout checks: the MBPO config, the reference ensemble and actor,
    the two buffers' states, and the seeds of the trainer's generator and of torch."""

    summary: str
    config: dict[str, Any]
    ensemble: Any
    actor: Any
    real: dict[str, Any]
    model: dict[str, Any]
    seed: int
    torch_seed: int


def _mbpo_config(**fields: Any) -> dict[str, Any]:
    """An MBPOTrainer config on Obstacles-v0 with small networks, ``fields`` on top."""
    base = ref_config.MBPOConfig(
        env=OBSTACLES,
        total_steps=100,
        learning_starts=1,
        buffer_size=500,
        model_buffer_size=500,
        model_n_layers=1,
        model_layer_size=16,
        model_activation="tanh",
        n_layers=1,
        layer_size=16,
        batch_size=16,
        gradient_steps=1,
    )
    return {**dataclasses.asdict(base), **fields}


def _reference_mbpo(config: Mapping[str, Any]) -> Any:
    """The reference's MBPOTrainer of ``config``, built without touching the grader's
    generators (its SAC is homework 3's reference)."""
    with generators_kept():
        return ref_run.MBPOTrainer(dict(config))


def _rollouts_setup(rng: np.random.Generator, case: tuple[Any, ...]) -> _Rollouts:
    members, num_rollouts, rollout_length, n_real, n_model = case
    config = _mbpo_config(
        ensemble_size=members,
        num_rollouts=num_rollouts,
        rollout_length=rollout_length,
        seed=int(rng.integers(1_000)),
    )
    summary, ensemble = _rollout_ensemble(rng, members)
    trainer = _reference_mbpo(config)
    actor = trainer.agent.actor
    trainer.close()
    real = _transitions(rng, n_real)
    real["observations"] = _positions(rng, n_real, _GOAL + [0.0, 0.2], 0.12)
    model = _transitions(rng, n_model)
    model["observations"] = _positions(rng, n_model, np.array([-0.5, 0.6]), 0.3)
    summary = (
        f"MBPOTrainer on {OBSTACLES} with a {summary} stepping towards the goal, SAC's actor "
        f"at its initial weights, {num_rollouts} rollouts of length {rollout_length} from a "
        f"real buffer of {n_real} states near the goal; the model buffer holds {n_model} others"
    )
    return _Rollouts(
        summary,
        config,
        ensemble,
        actor,
        _buffer_state(real, config["buffer_size"], int(rng.integers(1_000))),
        _buffer_state(model, config["model_buffer_size"], int(rng.integers(1_000))),
        torch_seed(rng),
        torch_seed(rng),
    )


_TERMINATION = ref_envs.termination_fn(OBSTACLES)


def _student_rollouts(sandbox: Sandbox, tally: Tally, case: _Rollouts) -> Any:
    """The student's ``MBPOTrainer.add_rollouts`` with ``case``'s weights, buffers and seeds:
    ``{"metrics": what it returned, "model": the model buffer's state_dict after}``; None
    (recorded) when a call fails."""
    states = {
        ("ensemble",): state_dict_of(case.ensemble),
        ("agent", "actor"): state_dict_of(case.actor),
        ("buffer",): case.real,
        ("model_buffer",): case.model,
    }
    if not MBPO_TRAINER.build(sandbox, tally, case.summary, case.config, states):
        return None
    seeded: list[Step] = [Attr("generator"), Method("manual_seed", (case.seed,))]
    result = sandbox.on(KEPT, seeded, fetch={}, timeout_s=CALL_TIMEOUT_S, label="generator")
    ok, _ = returned(result, tally, case.summary)
    if not ok:
        return None
    result = sandbox.on(
        KEPT,
        [Method("add_rollouts")],
        seed=case.torch_seed,
        timeout_s=CALL_TIMEOUT_S,
        label="MBPOTrainer.add_rollouts (branch_rollouts)",
    )
    ok, metrics = returned(result, tally, case.summary)
    if not ok:
        return None
    result = sandbox.on(
        KEPT,
        [Attr("model_buffer"), Method("state_dict")],
        timeout_s=CALL_TIMEOUT_S,
        label="model_buffer.state_dict",
    )
    ok, model = returned(result, tally, case.summary)
    return {"metrics": metrics, "model": model} if ok else None


def _new_rows(state: Any, before: int) -> dict[str, np.ndarray] | str:
    """The transitions a buffer's ``state_dict`` holds after its first ``before``, or what is
    wrong with it."""
    if type(state) is not dict or type(state.get("size")) is not int:
        return "the model buffer's state could not be read"
    arrays = {key: state.get(f"data.{key}") for key in FIELDS}
    if not all(type(array) is np.ndarray for array in arrays.values()):
        return "the model buffer's state could not be read"
    return {key: np.asarray(array)[before : state["size"]] for key, array in arrays.items()}


def _rows_problem(got: Mapping[str, np.ndarray], expected: Mapping[str, Any]) -> str | None:
    """Model transitions, field by field, against the reference's."""
    n, want = len(got["rewards"]), len(expected["rewards"])
    if n != want:
        return (
            f"the rollouts made {n} transitions, expected {want} (step 0 of every rollout, then "
            "the next step of those whose last state was not terminal, up to rollout_length)"
        )
    for key in FIELDS:
        value = np.asarray(expected[key])
        if key == "terminated":
            if not np.array_equal(got[key].astype(bool), value.astype(bool)):
                return (
                    f"terminated differs:\n  expected {value.astype(int).tolist()}\n  got      "
                    f"{got[key].astype(int).tolist()}"
                )
            continue
        problem = compare(got[key].astype(np.float64), value, tensor=False, what=key, **PLAN_TOL)
        if problem is not None:
            return problem
    return None


def _judge_model_rollouts(case: _Rollouts, value: Any) -> str | None:
    """The model buffer's new transitions against the reference's model_rollouts from the
    student's own start states (the first ``num_rollouts`` new observations), with the same
    seeds: whatever branch_rollouts drew, the rollouts from there must be right."""
    rows = _new_rows(value["model"], int(case.model["size"]))
    if isinstance(rows, str):
        return rows
    num_rollouts = case.config["num_rollouts"]
    if len(rows["observations"]) < num_rollouts:
        return (
            f"the model buffer gained {len(rows['observations'])} transitions, expected at "
            f"least {num_rollouts} (step 0 of every rollout)"
        )
    starts = f32(rows["observations"][:num_rollouts])
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(case.torch_seed)
        expected = ref_mbpo.model_rollouts(
            case.ensemble,
            lambda observations: case.actor.sample(observations)[0],
            _REWARD,
            _TERMINATION,
            starts,
            case.config["rollout_length"],
            torch.Generator().manual_seed(case.seed),
        )
    return _rows_problem(rows, {key: tensor.numpy() for key, tensor in expected.items()})


def _judge_branch_rollouts(case: _Rollouts, value: Any) -> str | None:
    """The start states (the real buffer's draw), the model buffer's old contents kept, and
    every transition returned added."""
    before = int(case.model["size"])
    rows = _new_rows(value["model"], before)
    if isinstance(rows, str):
        return rows
    num_rollouts = case.config["num_rollouts"]
    old = _new_rows(value["model"], 0)
    assert not isinstance(old, str)
    for key in FIELDS:
        if not np.array_equal(old[key][:before], case.model[f"data.{key}"]):
            return f"the model buffer's {before} old transitions changed ({key})"
    if len(rows["observations"]) < num_rollouts:
        return (
            f"the model buffer gained {len(rows['observations'])} transitions, expected at "
            f"least {num_rollouts} (step 0 of every rollout)"
        )
    real = ReplayBuffer(case.config["buffer_size"])
    real.load_state_dict(case.real)
    starts = real.sample(num_rollouts)["observations"]
    problem = compare(
        rows["observations"][:num_rollouts].astype(np.float64),
        starts,
        tensor=False,
        what="the start states (step 0's observations, in the model buffer)",
        **PLAN_TOL,
    )
    if problem is not None:
        return (
            f"{problem}\n  (expected the observations of one real_buffer.sample(num_rollouts), "
            "the real buffer's own draw)"
        )
    metrics = value["metrics"]
    steps = metrics.get("train/rollout_steps_mean") if type(metrics) is dict else None
    if type(steps) is not float or abs(steps * num_rollouts - len(rows["rewards"])) > 1e-6:
        return (
            f"the rollouts returned hold {steps!r} transitions per rollout, but "
            f"{len(rows['rewards'])} / {num_rollouts} were added to the model buffer: add every "
            "transition of the rollouts, and return them"
        )
    return None


def _rollout_check(
    name: str,
    function: str,
    points: float,
    judge: Callable[[_Rollouts, Any], str | None],
    what: str,
    hint: str,
) -> Check:
    def run(sandbox: Sandbox, rng: np.random.Generator) -> Outcome:
        tally = Tally(what.replace("{count}", str(len(_ROLLOUT_CASES))), hint)
        for case in tally.each(_ROLLOUT_CASES):
            made = _rollouts_setup(rng, case)
            value = _student_rollouts(sandbox, tally, made)
            if value is not None:
                tally.record(made.summary, judge(made, value))
        return tally.outcome()

    return Check(name, function, "value", points, run, timeout_s=90.0)


MODEL_ROLLOUTS = _rollout_check(
    "model_rollouts: k model steps with the actor, a member per step, stopped by terminals",
    "model_rollouts",
    6,
    _judge_model_rollouts,
    what=(
        "`MBPOTrainer.add_rollouts` with the reference's ensemble and SAC actor and seeded "
        "generators, on {count} cases where rollouts reach the terminal goal at different "
        "steps: every model transition (observations, actions, rewards, next observations, "
        "terminated) against the reference's rollouts from the same start states"
    ),
    hint=(
        "at each step, for the rollouts still running: actions = policy(observations), members "
        "= torch.randint(E, (n,), generator=generator), next states with step_members, rewards "
        "and terminated from reward_fn and termination_fn; keep all n transitions, then only "
        "the non-terminal rollouts go on from their next states; step 0's transitions first."
    ),
)
BRANCH_ROLLOUTS = _rollout_check(
    "branch_rollouts: start states from the real buffer, rollouts into the model buffer",
    "branch_rollouts",
    6,
    _judge_branch_rollouts,
    what=(
        "`MBPOTrainer.add_rollouts` on {count} cases whose model buffer already holds other "
        "states: the rollouts' start states (one draw of the real buffer), the model buffer's "
        "old transitions kept, and every transition returned added to it"
    ),
    hint=(
        "draw the start states with real_buffer.sample(num_rollouts)['observations'] (the REAL "
        "buffer, not the model buffer), run model_rollouts from them, add all its transitions "
        "to model_buffer (model_buffer.add with NumPy arrays) and return them."
    ),
)


_MIXED_CASES = [
    # real_ratio, batch_size, real transitions, model transitions
    (0.25, 16, 20, 40),
    (0.37, 10, 15, 8),  # 3.7 real transitions: rounded, not truncated
    (0.05, 30, 30, 30),
]


@dataclasses.dataclass(frozen=True)
class _Mixed:
    """One case of the mixed-minibatch check: the MBPO config, the SAC agent's state (a
    fresh reference agent's, optimizers included), the two buffers' states and the torch
    seeds of the two ``step`` calls."""

    summary: str
    config: dict[str, Any]
    agent: dict[str, Any]
    real: dict[str, Any]
    model: dict[str, Any]
    seeds: tuple[int, int]


def _mixed_setup(rng: np.random.Generator, case: tuple[Any, ...]) -> _Mixed:
    real_ratio, batch_size, n_real, n_model = case
    config = _mbpo_config(
        real_ratio=real_ratio,
        batch_size=batch_size,
        rollout_length=1,
        num_rollouts=2,
        model_train_steps=0,
        model_train_every=1_000,
        seed=int(rng.integers(1_000)),
    )
    trainer = _reference_mbpo(config)
    agent = _plain(trainer.agent.state_dict())
    trainer.close()
    real, model = _transitions(rng, n_real), _transitions(rng, n_model)
    model["rewards"] = model["rewards"] - 5.0  # model data unlike the real data
    model["terminated"][::3] = True
    summary = (
        f"MBPOTrainer on {OBSTACLES}, real_ratio={real_ratio}, batch_size={batch_size}, one "
        f"SAC update per step; the second step's minibatch, from a real buffer of {n_real} "
        f"(+1) and a model buffer of {n_model} transitions"
    )
    return _Mixed(
        summary,
        config,
        agent,
        _buffer_state(real, config["buffer_size"], int(rng.integers(1_000))),
        _buffer_state(model, config["model_buffer_size"], int(rng.integers(1_000))),
        (torch_seed(rng), torch_seed(rng)),
    )


_MIXED_STATE: dict[str, list[Step]] = {
    "real rng": [Attr("buffer"), Method("state_dict")],
    "model rng": [Attr("model_buffer"), Method("state_dict")],
}


def _step_twice(
    case: _Mixed, step: Callable[[int], Any], load: Callable[[Mapping[tuple[str, ...], Any]], Any]
) -> Any:
    """The first ``step`` (the ensemble's first fit and rollouts, the first update), then the
    case's agent and buffers loaded, then the second ``step``, whose update is judged."""
    first = step(case.seeds[0])
    if first is None:
        return None
    states: dict[tuple[str, ...], Any] = {
        ("agent",): case.agent,
        ("buffer",): case.real,
        ("model_buffer",): case.model,
    }
    if load(states) is None:
        return None
    return step(case.seeds[1])


def _student_mixed(sandbox: Sandbox, tally: Tally, case: _Mixed) -> Any:
    """The student's trainer after two steps, the case's state loaded between them: the
    second update's metrics, the critics after it and the two buffers' generators."""
    if not MBPO_TRAINER.build(sandbox, tally, case.summary, case.config, {}):
        return None

    def step(seed: int) -> Any:
        result = sandbox.on(
            KEPT, [Method("step")], seed=seed, timeout_s=CALL_TIMEOUT_S, label="MBPOTrainer.step"
        )
        ok, value = returned(result, tally, case.summary)
        return value if ok else None

    def load(states: Mapping[tuple[str, ...], Any]) -> Any:
        ok = load_states(sandbox, tally, case.summary, kept=KEPT, states=states)
        return True if ok else None

    metrics = _step_twice(case, step, load)
    if metrics is None:
        return None
    names = [name for name, _ in _reference_mbpo(case.config).agent.critics.named_parameters()]
    result = fetch_parameters(sandbox, KEPT, ("agent", "critics"), names, grads=False)
    ok, critics = returned(result, tally, case.summary)
    if ok:
        result = sandbox.on(KEPT, [], fetch=_MIXED_STATE, timeout_s=CALL_TIMEOUT_S)
        ok, buffers = returned(result, tally, case.summary)
    return {"metrics": metrics, "critics": critics, "buffers": buffers} if ok else None


def _reference_mixed(case: _Mixed) -> dict[str, Any]:
    trainer = _reference_mbpo(case.config)

    def step(seed: int) -> Any:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return trainer.step()

    def load(states: Mapping[tuple[str, ...], Any]) -> Any:
        for (name,), state in states.items():
            getattr(trainer, name).load_state_dict(state)
        return True

    with generators_kept():
        metrics = _step_twice(case, step, load)
    trainer.close()
    return {
        "metrics": metrics,
        "critics": parameters(trainer.agent.critics),
        "buffers": {
            "real rng": trainer.buffer.state_dict()["rng"],
            "model rng": trainer.model_buffer.state_dict()["rng"],
        },
    }


def _judge_mixed(case: _Mixed, got: Mapping[str, Any]) -> str | None:
    want = _reference_mixed(case)
    buffers = got["buffers"]
    real_ratio, batch_size = case.config["real_ratio"], case.config["batch_size"]
    real = round(real_ratio * batch_size)
    for key, buffer in (("real rng", "real"), ("model rng", "model")):
        state = buffers.get(key) if type(buffers) is dict else None
        rng_state = state.get("rng") if type(state) is dict else None
        if rng_state != want["buffers"][key]:
            drawn = real if buffer == "real" else batch_size - real
            return (
                f"the {buffer} buffer was not sampled as expected: one sample({drawn}) of the "
                f"{buffer} buffer (round(real_ratio * batch_size) = {real} real transitions, "
                f"the other {batch_size - real} from the model buffer)"
            )
    problem = tensors_problem(got["critics"], want["critics"], "after the update, critic")
    if problem is not None:
        return f"{problem}\n  (the minibatch is not the real transitions, then the model ones)"
    return None


def _check_mixed_batch(sandbox: Sandbox, rng: np.random.Generator) -> Outcome:
    tally = Tally(
        f"the SAC update of `MBPOTrainer.step` on {len(_MIXED_CASES)} pairs of buffers (real "
        "ratios from 0.05 to 0.37): how many transitions it drew from each buffer, and the "
        "critics after the update on the minibatch",
        "draw round(real_ratio * batch_size) transitions with real_buffer.sample and the rest "
        "with model_buffer.sample, then concatenate each field, the real ones first; a buffer "
        "that gives no transition is not sampled. The first MBPOTrainer.step also fits the "
        "ensemble and makes rollouts: those must run before this check can.",
    )
    for case in tally.each(_MIXED_CASES):
        made = _mixed_setup(rng, case)
        value = _student_mixed(sandbox, tally, made)
        if value is not None:
            tally.record(made.summary, _judge_mixed(made, value))
    return tally.outcome()


MIXED_BATCH = Check(
    "mixed_batch: real_ratio of the minibatch from the real buffer, the rest from the model's",
    "mixed_batch",
    "value",
    5,
    _check_mixed_batch,
    timeout_s=90.0,
)


# ---------------------------------------------------------------------------------------------
# The learning curve: MPC with random shooting on Obstacles-v0
# ---------------------------------------------------------------------------------------------

LEARNING = [
    Learning(
        preset_task(
            OBSTACLES,
            preset=ref_config.MPC_PRESETS[OBSTACLES],
            module=RUN,
            trainer="MPCTrainer",
            milestones=(2000, 3000),
            # the preset's first two iterations (random steps, then one of MPC); the episodes'
            # own length given, which a trainer in the sandbox cannot read off its served env
            overrides={"total_steps": 3000, "max_episode_steps": 100},
            policy="ensemble",
        ),
        points=20,
        timeout_s=300.0,
    )
]
"""What ``rlhw calibrate hw4`` runs; the bands are in ``autograder/calibration/hw4.json``. The
grader evaluates the student's ensemble (its weights and normalisation statistics, all in its
``state_dict``) with the reference's planner."""


# ---------------------------------------------------------------------------------------------
# The suite
# ---------------------------------------------------------------------------------------------

CHECKS: list[Check] = [
    # the ensemble
    MEAN_AND_STD,
    UPDATE_STATISTICS,
    FORWARD,
    PREDICT,
    LOSS,
    BOOTSTRAP_INDICES,
    UPDATE_ENSEMBLE,
    # planning
    CEM_REFIT,
    RANDOM_SHOOTING,
    PREDICTED_RETURNS,
    CEM,
    # MBPO
    STEP_MEMBERS,
    MODEL_ROLLOUTS,
    BRANCH_ROLLOUTS,
    MIXED_BATCH,
]

SUITE = Suite(
    hw="hw4",
    package=PACKAGE,
    checks=CHECKS,
    learning=LEARNING,
    feedback="property",
    sandbox=SANDBOX,
)

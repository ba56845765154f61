"""Hidden suite of homework 1 (behaviour cloning and DAgger): the policy's distribution and
actions, both losses and their gradients, ``bc_update``'s Adam steps, relabelling, aggregation,
two rounds of DAgger's collection by the student's Trainer, the sampled actions' law, and
learning curves (behaviour cloning on HalfCheetah-v5, DAgger on Hopper-v5).

The experts are the grader's own. Every sandbox of the suite gets the grader's
``hw1_imitation/experts`` copied over whatever the submission holds there (:data:`SANDBOX`),
and every expert action that a check expects is computed here, with the grader's expert, on
the states the student's code returned: a submission that ships an expert of its own changes
nothing.
"""

from __future__ import annotations

import dataclasses
import functools
import random
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

import hw1_imitation.bc as ref_bc
import hw1_imitation.config as ref_config
import hw1_imitation.dagger as ref_dagger
import hw1_imitation.expert as ref_expert
import hw1_imitation.policies as ref_policies
import hw1_imitation.run as ref_run
from autograder.checks import Check, Outcome
from autograder.judging import (
    CALL_TIMEOUT_S,
    LOSS_TOL,
    Tally,
    Tolerance,
    compare,
    f32,
    fmt,
    reference_module,
    returned,
    state_dict_of,
    torch_seed,
)
from autograder.kit import (
    AgentCase,
    Learning,
    ModuleCase,
    Sampled,
    Stepped,
    Suite,
    Trainer,
    agent_update_check,
    distribution_case,
    gaussian_sample_tests,
    gaussian_samples_problem,
    load_states,
    module_check,
    network_step_problem,
    preset_task,
    statistical_check,
)
from autograder.learning import LearningTask
from autograder.sandbox import PROJECT_ROOT, Apply, Attr, Method, Sandbox
from infrastructure.config import Target

PACKAGE = "hw1_imitation"
POLICIES = f"{PACKAGE}.policies"
BC = f"{PACKAGE}.bc"
DAGGER = f"{PACKAGE}.dagger"
RUN = f"{PACKAGE}.run"
KEPT = "imitation_trainer"  # the name the trainer of a fast check is kept under in the worker
TRAINER_TIMEOUT_S = 20.0  # building a trainer makes a MuJoCo environment and reads the expert
TRAINER = Trainer(RUN, "Trainer", KEPT, TRAINER_TIMEOUT_S)
EXPERT_ENV = "Hopper-v5"
"""The environment of the checks that build the student's Trainer (its expert must ship)."""

SANDBOX: dict[str, Any] = {
    "given": [PROJECT_ROOT / "infrastructure", (ref_expert.EXPERT_DIR, f"{PACKAGE}/experts")]
}
"""Options of every sandbox of this suite: the grader's infrastructure, and the grader's
experts copied over whatever the submission holds in ``hw1_imitation/experts``."""

# ---------------------------------------------------------------------------------------------
# The policy: its distribution and actions, with the reference's weights loaded
# ---------------------------------------------------------------------------------------------

_POLICY_CASES = [
    # obs_dim, action_dim, n_layers, size, activation, batch
    (3, 2, 2, 16, "tanh", 9),
    (11, 3, 2, 32, "relu", 1),
    (5, 1, 0, 8, "tanh", 6),
    (4, 6, 1, 16, "relu", 13),
]


def _policy(rng: np.random.Generator, case: tuple[Any, ...]) -> tuple[str, tuple[Any, ...], Any]:
    """A reference policy of ``case`` with a log standard deviation away from 0 in every
    dimension (so that sigma, and exp(log_std) against log_std, always shows)."""
    obs_dim, action_dim, n_layers, size, activation, _ = case
    init_args = (obs_dim, action_dim, n_layers, size, activation)
    policy: Any = reference_module(ref_policies.GaussianMLPPolicy, init_args, torch_seed(rng))
    magnitudes = rng.uniform(0.3, 0.9, size=action_dim)
    signs = np.where(rng.random(action_dim) < 0.5, -1.0, 1.0)
    with torch.no_grad():
        policy.log_std.copy_(f32(signs * magnitudes))
    summary = (
        f"GaussianMLPPolicy(obs_dim={obs_dim}, action_dim={action_dim}, n_layers={n_layers}, "
        f"size={size}, activation={activation!r}), log_std={fmt(policy.log_std)}"
    )
    return summary, init_args, policy


def _distribution_cases(grad: bool) -> Callable[[np.random.Generator], list[ModuleCase]]:
    """The policies of :data:`_POLICY_CASES` on a batch each: their distribution's values, or
    (``grad``) the gradient of its mean log-likelihood."""
    values = () if grad else ("mean", "stddev", "log_prob(actions)", "entropy()")

    def cases(rng: np.random.Generator) -> list[ModuleCase]:
        made = []
        for case in _POLICY_CASES:
            summary, init_args, policy = _policy(rng, case)
            batch = case[-1]
            observations = f32(rng.normal(size=(batch, case[0])))
            actions = f32(rng.normal(size=(batch, case[1])))
            made.append(
                distribution_case(
                    f"{summary}, B={batch}",
                    init_args,
                    policy,
                    observations,
                    actions,
                    values=values,
                    grad=grad,
                )
            )
        return made

    return cases


DISTRIBUTION = module_check(
    "GaussianMLPPolicy.distribution: mean, stddev, log_prob, entropy",
    function="GaussianMLPPolicy.distribution",
    reference=ref_policies.GaussianMLPPolicy,
    cases=_distribution_cases(grad=False),
    kind="value",
    points=10,
    what=(
        "`GaussianMLPPolicy.distribution` with the reference's weights on {count} networks "
        "(log_std away from 0): its mean, stddev, log_prob(actions) (shape (B,)) and entropy()"
    ),
    hint=(
        "mean = mean_net(observations), standard deviation exp(log_std) (the parameter is the "
        "log of sigma); the log-probability of an action vector sums over its dimensions "
        "(wrap the Normal in Independent(..., 1)), so log_prob has shape (B,)."
    ),
)
DISTRIBUTION_GRAD = module_check(
    "GaussianMLPPolicy.distribution: gradient of the log-likelihood",
    function="GaussianMLPPolicy.distribution",
    reference=ref_policies.GaussianMLPPolicy,
    cases=_distribution_cases(grad=True),
    kind="gradient",
    points=10,
    what=(
        "the gradient of `GaussianMLPPolicy.distribution(observations).log_prob(actions)"
        ".mean()` w.r.t. every parameter (mean_net and log_std) with the reference's weights "
        "on {count} networks"
    ),
    hint=(
        "build the distribution from the parameters themselves: mean_net(observations) and "
        "exp(self.log_std), without .detach(), .data or NumPy on the way, so that the gradient "
        "reaches mean_net and log_std."
    ),
)


def _deterministic_cases(rng: np.random.Generator) -> list[ModuleCase]:
    made = []
    for case in _POLICY_CASES:
        summary, init_args, policy = _policy(rng, case)
        batch = case[-1]
        observations = rng.normal(size=(batch, case[0])).astype(np.float32)
        with torch.no_grad():
            expected = policy.mean_net(torch.as_tensor(observations))
        made.append(
            ModuleCase(
                f"{summary}, B={batch}",
                init_args,
                policy,
                (observations,),
                steps=[Method("get_action", (observations,), {"deterministic": True})],
                returns=expected,
                what="the actions",
                tensor=False,
            )
        )
    return made


GET_ACTION_DETERMINISTIC = module_check(
    "GaussianMLPPolicy.get_action: deterministic actions are the mean",
    function="GaussianMLPPolicy.get_action",
    reference=ref_policies.GaussianMLPPolicy,
    cases=_deterministic_cases,
    kind="value",
    points=6,
    what=(
        "`GaussianMLPPolicy.get_action(observations, deterministic=True)` with the "
        "reference's weights on {count} networks: a NumPy array, the mean mean_net(observations)"
    ),
    hint=(
        "with deterministic=True return the distribution's mean, as a NumPy array of shape "
        "(B, action_dim) (to_numpy), without a gradient."
    ),
)


_SAMPLES = 20_000
_STAT_CASES = [(4, 3, 1, 16, "tanh"), (2, 1, 2, 8, "relu")]
_STAT_TESTS = sum(gaussian_sample_tests(2, case[1]) for case in _STAT_CASES)


def _sampling_case(rng: np.random.Generator, case: tuple[Any, ...]) -> Sampled:
    """Two calls of ``get_action`` on ``_SAMPLES / 2`` copies of each of two states."""
    summary, init_args, policy = _policy(rng, (*case, 0))
    states = rng.normal(size=(2, case[0])).astype(np.float32)
    observations = np.repeat(states, _SAMPLES // 2, axis=0)
    with torch.no_grad():
        means = policy.mean_net(torch.as_tensor(states)).double().numpy()
        sigmas = policy.log_std.exp().double().numpy()
    draw = [Method("get_action", (observations,))]
    seed = torch_seed(rng)
    return Sampled(
        summary,
        lambda sandbox: sandbox.call_method(
            POLICIES,
            "GaussianMLPPolicy",
            init_args,
            state_dict=state_dict_of(policy),
            fetch={"first": draw, "second": draw},
            timeout_s=CALL_TIMEOUT_S,
            seed=seed,
            label="GaussianMLPPolicy.get_action",
        ),
        lambda value: gaussian_samples_problem(value, means, sigmas, _STAT_TESTS),
    )


GET_ACTION_SAMPLES = statistical_check(
    "GaussianMLPPolicy.get_action: sampled actions' mean and variance",
    function="GaussianMLPPolicy.get_action",
    cases=lambda rng: [_sampling_case(rng, case) for case in _STAT_CASES],
    points=6,
    what=(
        f"`GaussianMLPPolicy.get_action(observations)` (sampling) with the reference's weights, "
        f"called twice on {_SAMPLES // 2} copies of each of two states, for {len(_STAT_CASES)} "
        "networks: each dimension's mean and variance against mu and sigma^2, the dimensions "
        "uncorrelated, and the two calls independent (bounds a correct sampler misses less "
        "than once in a million gradings)"
    ),
    hint=(
        "without deterministic, draw a sample of N(mu, sigma^2) (distribution.sample()) with "
        "sigma = exp(log_std): every call a new draw, independent across rows and across "
        "action dimensions."
    ),
)


# ---------------------------------------------------------------------------------------------
# Behaviour cloning: the loss, its gradient, and the update
# ---------------------------------------------------------------------------------------------

_LOSS_CASES: list[tuple[int, int, int, int, str, int, ref_bc.BCLoss]] = [
    # obs_dim, action_dim, n_layers, size, activation, batch, loss
    (3, 2, 2, 16, "tanh", 9, "nll"),
    (11, 3, 1, 32, "relu", 1, "nll"),
    (4, 5, 2, 8, "relu", 12, "nll"),
    (3, 2, 2, 16, "tanh", 9, "mse"),
    (5, 1, 0, 8, "tanh", 1, "mse"),
    (4, 5, 1, 16, "relu", 12, "mse"),
    (6, 1, 1, 8, "relu", 7, "mse"),  # a (B, 1) mean squeezed to (B,) broadcasts to (B, B)
]
_LOSS_HINT = (
    "nll: minus the mean over the batch of distribution(observations).log_prob(expert_actions) "
    "(which already sums over the action dimensions); mse: the mean over the batch and the "
    "action dimensions of (mean - expert_actions)^2, which trains the mean only."
)


def _loss_cases(grad: bool) -> Callable[[np.random.Generator], list[ModuleCase]]:
    """The minibatches of :data:`_LOSS_CASES`: ``bc_loss``'s value, or (``grad``) its
    gradient w.r.t. every parameter (none for log_std under mse)."""

    def cases(rng: np.random.Generator) -> list[ModuleCase]:
        made = []
        for obs_dim, action_dim, n_layers, size, activation, batch, loss in _LOSS_CASES:
            shape = (obs_dim, action_dim, n_layers, size, activation, batch)
            summary, init_args, policy = _policy(rng, shape)
            observations = f32(rng.normal(size=(batch, obs_dim)))
            actions = f32(rng.normal(size=(batch, action_dim)))
            summary = f"{summary}, B={batch}, loss={loss!r}"
            steps = [Apply(f"{BC}:bc_loss", (observations, actions, loss))]
            if grad:
                ref_bc.bc_loss(policy, observations, actions, loss).backward()
                constants = ("log_std",) if loss == "mse" else ()
                case = ModuleCase(
                    summary, init_args, policy, (), grad_steps=steps, constants=constants
                )
            else:
                with torch.no_grad():
                    expected = ref_bc.bc_loss(policy, observations, actions, loss)
                inputs = (observations, actions)
                case = ModuleCase(
                    summary, init_args, policy, inputs, steps, returns=expected, what="the loss"
                )
            made.append(case)
        return made

    return cases


BC_LOSS = module_check(
    "bc_loss: negative log-likelihood and MSE",
    function="bc_loss",
    reference=ref_policies.GaussianMLPPolicy,
    cases=_loss_cases(grad=False),
    kind="value",
    points=10,
    what=(
        "`bc_loss` with the reference's weights on {count} minibatches (negative "
        "log-likelihood and mean squared error, batches of 1 included)"
    ),
    hint=_LOSS_HINT,
)
BC_LOSS_GRAD = module_check(
    "bc_loss: gradient",
    function="bc_loss",
    reference=ref_policies.GaussianMLPPolicy,
    cases=_loss_cases(grad=True),
    kind="gradient",
    points=10,
    what=(
        "the gradient of `bc_loss` w.r.t. every parameter with the reference's weights on "
        "{count} minibatches (with mse, log_std must get no gradient)"
    ),
    hint=_LOSS_HINT,
)


_UPDATE_CASES: list[tuple[int, int, str, ref_bc.BCLoss, float, int]] = [
    # n_layers, size, activation, loss, learning_rate, batch
    (2, 32, "tanh", "nll", 1e-2, 16),
    (1, 16, "relu", "mse", 3e-3, 1),
    (2, 16, "relu", "nll", 5e-3, 7),
]


def _trainer_config(**fields: Any) -> dict[str, Any]:
    """A config of the Trainer on :data:`EXPERT_ENV` whose expert is the package's own (in the
    sandbox, the grader's copy)."""
    config = ref_config.ImitationConfig(env=EXPERT_ENV, expert_dir=None, **fields)
    return dataclasses.asdict(config)


@dataclasses.dataclass
class _ReferenceLearner:
    """What ``Trainer.update`` does, with the reference's ``bc_update``."""

    policy: Any
    optimizer: torch.optim.Optimizer
    loss: ref_bc.BCLoss

    def update(self, observations: np.ndarray, actions: np.ndarray) -> dict[str, float]:
        return ref_bc.bc_update(
            self.policy, self.optimizer, f32(observations), f32(actions), self.loss
        )


def _update_case(rng: np.random.Generator, case: tuple[Any, ...]) -> AgentCase:
    n_layers, size, activation, loss, learning_rate, batch = case
    config = _trainer_config(
        n_layers=n_layers,
        layer_size=size,
        activation=activation,
        loss=loss,
        learning_rate=learning_rate,
        seed=int(rng.integers(1_000)),
    )
    obs_dim, action_dim = _env_dims()
    summary, _, policy = _policy(rng, (obs_dim, action_dim, n_layers, size, activation, batch))
    summary += f", loss={loss!r}, Adam lr={learning_rate}, B={batch}"
    state = state_dict_of(policy)
    batches = [
        (
            rng.normal(size=(batch, obs_dim)).astype(np.float32),
            rng.uniform(-1.0, 1.0, size=(batch, action_dim)).astype(np.float32),
        )
        for _ in range(2)
    ]
    optimizer = torch.optim.Adam(policy.parameters(), lr=learning_rate)
    learner = _ReferenceLearner(policy, optimizer, loss)
    return AgentCase(summary, config, {("policy",): state}, learner, batches[0], (batches[1],))


def _judge_bc_update(stepped: Stepped) -> str | None:
    return network_step_problem(stepped, ("train/loss",), "policy", "after the step, parameter")


BC_UPDATE = agent_update_check(
    "bc_update: two Adam steps from identical state",
    function="bc_update",
    trainer=dataclasses.replace(TRAINER, agent=()),
    cases=_UPDATE_CASES,
    setup=_update_case,
    networks=lambda learner: {"policy": [name for name, _ in learner.policy.named_parameters()]},
    judge=_judge_bc_update,
    points=12,
    what=(
        f"two `bc_update` steps of the Trainer's Adam optimizer (Trainer.update) from the "
        f"reference's weights on {len(_UPDATE_CASES)} pairs of minibatches: after each, the "
        "loss it reports (before the step), every parameter and its gradient (an Adam step "
        "hides a scaled loss; gradients cleared after the step are not compared)"
    ),
    hint=(
        "zero the old gradients, backpropagate the loss, then take the optimizer's step, once "
        "per call; report the loss computed before the step."
    ),
    timeout_s=90.0,
)


@functools.cache
def _env_dims() -> tuple[int, int]:
    expert = grader_expert()
    return expert.obs_dim, expert.action_dim


@functools.cache
def grader_expert() -> ref_expert.ExpertPolicy:
    """The grader's expert of :data:`EXPERT_ENV` (never the submission's)."""
    return ref_expert.load_expert(ref_expert.expert_path(EXPERT_ENV))


# ---------------------------------------------------------------------------------------------
# DAgger: relabelling, aggregation, and whole iterations of the student's Trainer
# ---------------------------------------------------------------------------------------------


def _random_expert(rng: np.random.Generator, obs_dim: int, action_dim: int) -> dict[str, Any]:
    """The constructor arguments of an ExpertPolicy with random weights and bounds."""
    n_layers, size = int(rng.integers(1, 3)), int(rng.choice([8, 16]))
    activation = str(rng.choice(["tanh", "relu"]))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed(rng))
        net = ref_expert.build_mlp(obs_dim, action_dim, n_layers, size, activation)
    low = -rng.uniform(0.5, 2.0, size=action_dim).astype(np.float32)
    return {
        "env_id": "Random-v0",
        "obs_dim": obs_dim,
        "action_dim": action_dim,
        "weights": {k: v.detach().numpy().copy() for k, v in net.state_dict().items()},
        "n_layers": n_layers,
        "activation": activation,
        "action_low": low,
        "action_high": -low,
    }


def _relabel_cases(rng: np.random.Generator) -> list[ModuleCase]:
    made = []
    for obs_dim, action_dim, batch in [(4, 2, 7), (11, 3, 1), (6, 1, 20)]:
        arguments = _random_expert(rng, obs_dim, action_dim)
        observations = rng.normal(size=(batch, obs_dim)).astype(np.float32)
        made.append(
            ModuleCase(
                f"an expert from {obs_dim} to {action_dim} dimensions, B={batch}",
                (),
                None,
                (observations,),
                steps=[Apply(f"{DAGGER}:relabel", (observations,))],
                returns=ref_expert.ExpertPolicy(**arguments)(observations),
                what="the actions",
                tensor=False,
                dtype="float32",
                init_kwargs=arguments,
            )
        )
    return made


RELABEL = module_check(
    "relabel: the expert's actions",
    function="relabel",
    reference=ref_expert.ExpertPolicy,
    cases=_relabel_cases,
    kind="value",
    points=6,
    what=(
        "`relabel` with {count} experts of random weights (ExpertPolicy) on batches of "
        "states: the expert's actions, float32"
    ),
    hint="ask the expert: actions = expert(observations), one row per state, as a float32 array.",
)


def _aggregate_cases(rng: np.random.Generator) -> list[ModuleCase]:
    made = []
    for old, new, obs_dim, action_dim in [(5, 3, 4, 2), (1, 1, 3, 1), (12, 7, 2, 4)]:
        shapes = ((old, obs_dim), (old, action_dim), (new, obs_dim), (new, action_dim))
        arrays = [rng.normal(size=shape).astype(np.float32) for shape in shapes]
        aggregated = Apply(f"{DAGGER}:aggregate", (arrays[2], arrays[3]))
        made.append(
            ModuleCase(
                f"{old} old pairs and {new} new ones, obs_dim={obs_dim}, action_dim={action_dim}",
                (arrays[0], arrays[1]),
                None,
                tuple(arrays),
                fetch={
                    "the new dataset's observations": [aggregated, Attr("observations")],
                    "the new dataset's actions": [aggregated, Attr("actions")],
                    "the old dataset's observations": [Attr("observations")],
                },
                expected={
                    "the new dataset's observations": np.concatenate([arrays[0], arrays[2]]),
                    "the new dataset's actions": np.concatenate([arrays[1], arrays[3]]),
                    "the old dataset's observations": arrays[0],
                },
                tensor=False,
            )
        )
    return made


AGGREGATE = module_check(
    "aggregate: old pairs, then new ones",
    function="aggregate",
    reference=ref_dagger.Dataset,
    cases=_aggregate_cases,
    kind="value",
    points=10,
    what=(
        "`aggregate` on {count} datasets and new pairs: the new dataset's observations and "
        "actions (the old pairs, then the new ones), and the old dataset afterwards"
    ),
    hint=(
        "return a new Dataset holding every old pair followed by every new one "
        "(np.concatenate along the first axis); leave the old dataset as it was."
    ),
)


# Two rounds of DAgger's collection (Trainer.collect: steps 2 to 4) of the student's Trainer,
# from the reference's state: the learner's weights are loaded before each, with log_std = -30,
# so that its sampled actions are its mean to float32 precision whatever way they are drawn.
# The first episode of the first round starts from the same reset as the reference's, so its
# states must be the reference's; later episodes may start elsewhere, as validly (a sampler
# called once per episode resets the environment once more per episode than one called once
# for them all), so they are judged by what must hold of any correct collection: whole
# rounds of at least dagger_batch_size new pairs after the old ones, unchanged, and the
# grader's expert's actions in the states the student's code returned.

_DAGGER_CASES = [
    # max_episode_steps, dagger_batch_size, n_layers, size, activation
    (25, 60, 1, 16, "tanh"),
    (40, 45, 2, 8, "relu"),
]
_LEARNER_LOG_STD = -30.0
_STATE_TOL: Tolerance = {"rtol": 1e-4, "atol": 1e-4}


def _dagger_setup(
    rng: np.random.Generator, case: tuple[Any, ...]
) -> tuple[str, dict[str, Any], dict[str, torch.Tensor]]:
    max_steps, batch_size, n_layers, size, activation = case
    config = _trainer_config(
        dagger=True,
        seed=int(rng.integers(1_000)),
        num_demos=1,
        dagger_batch_size=batch_size,
        max_episode_steps=max_steps,
        n_layers=n_layers,
        layer_size=size,
        activation=activation,
    )
    obs_dim, action_dim = _env_dims()
    learner: Any = reference_module(
        ref_policies.GaussianMLPPolicy,
        (obs_dim, action_dim, n_layers, size, activation, _LEARNER_LOG_STD),
        torch_seed(rng),
    )
    summary = (
        f"{EXPERT_ENV}, seed {config['seed']}, the first demonstration, {batch_size} learner "
        f"steps per iteration, episodes of at most {max_steps} steps, a learner with random "
        f"weights ({n_layers}x{size} {activation}) and log_std {_LEARNER_LOG_STD:g}"
    )
    return summary, config, state_dict_of(learner)


def _reference_first_episode(
    config: Mapping[str, Any], state: Mapping[str, torch.Tensor], seed: int
) -> np.ndarray:
    """The states of the first episode of the reference Trainer's first round of collection
    (the grader's expert), with the learner's weights loaded and torch seeded as the worker
    seeds it."""
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002 (seed_everything)
    try:
        with torch.random.fork_rng(devices=[]):
            trainer = ref_run.Trainer(dict(config))
            trainer.policy.load_state_dict(dict(state))
            rollouts: list[Any] = []
            sample = trainer.sampler.sample_trajectories

            def recorded(*args: Any, **kwargs: Any) -> Any:
                rollouts.append(sample(*args, **kwargs))
                return rollouts[-1]

            trainer.sampler.sample_trajectories = recorded  # type: ignore[method-assign]
            torch.manual_seed(seed)
            size = len(trainer.dataset)
            trainer.collect()
            trainer.close()
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)
    return trainer.dataset.observations[size:][rollouts[0].trajectory_slices()[0]]


def _judge_iteration(
    value: Any,
    before: tuple[np.ndarray, np.ndarray],
    first_episode: np.ndarray | None,
    min_steps: int,
) -> str | None:
    """The student's dataset ``value`` after one round, against its own dataset ``before``
    it; in the first round, its first new states against the reference's first episode's."""
    if type(value) is not dict or set(value) != {"observations", "actions"}:
        return "the Trainer's dataset could not be read"
    observations, actions = value["observations"], value["actions"]
    for name, array in (("observations", observations), ("actions", actions)):
        if type(array) is not np.ndarray or array.dtype.kind != "f" or array.ndim != 2:
            return f"the dataset's {name} are not a 2-D floating-point NumPy array"
    old = len(before[0])
    if len(observations) < old + min_steps or len(actions) != len(observations):
        return (
            f"the dataset holds {len(observations)} states and {len(actions)} actions after the "
            f"round, expected as many of each: the {old} pairs it held before plus at least "
            f"{min_steps} new ones"
        )
    for name, got, want in (
        ("observations", observations[:old], before[0]),
        ("actions", actions[:old], before[1]),
    ):
        problem = compare(got, want, tensor=False, what=f"the first {old} {name}", **LOSS_TOL)
        if problem is not None:
            return f"the old pairs must come first, unchanged: {problem}"
    new_observations = observations[old:]
    if first_episode is not None:
        got = new_observations[: len(first_episode)]
        problem = compare(got, first_episode, tensor=False, what="the new states", **_STATE_TOL)
        if problem is not None:
            return (
                f"{problem}\n  (expected the states of the learner's own rollout, first of "
                "all the episode the reference's Trainer plays with the same learner)"
            )
    expected = grader_expert()(new_observations.astype(np.float32))
    problem = compare(actions[old:], expected, tensor=False, what="the new actions", **_STATE_TOL)
    if problem is not None:
        return f"{problem}\n  (expected the expert's actions in the new states)"
    return None


def _collected(
    sandbox: Sandbox, tally: Tally, label: str, state: Mapping[str, torch.Tensor], seed: int
) -> Any:
    """One round of ``Trainer.collect`` of the kept trainer with the learner's weights loaded
    first, and the dataset after it; None (recorded) when a call fails."""
    if not load_states(sandbox, tally, label, kept=KEPT, states={("policy",): state}):
        return None
    result = sandbox.on(
        KEPT,
        [Method("collect")],
        seed=seed,
        timeout_s=CALL_TIMEOUT_S,
        label="Trainer.collect (collect_and_relabel)",
    )
    ok, _ = returned(result, tally, label)
    if not ok:
        return None
    result = sandbox.on(
        KEPT,
        [Attr("dataset")],
        fetch={"observations": [Attr("observations")], "actions": [Attr("actions")]},
        timeout_s=CALL_TIMEOUT_S,
        label="Trainer.dataset",
    )
    ok, value = returned(result, tally, label)
    return value if ok else None


def check_collect_and_relabel(sandbox: Sandbox, rng: np.random.Generator) -> Outcome:
    tally = Tally(
        f"two rounds of `Trainer.collect` (collect_and_relabel) with a learner whose weights "
        f"are loaded before each (its actions are its mean), on {len(_DAGGER_CASES)} runs: "
        "after each, the dataset's size, its old pairs (first, unchanged), its new states (the "
        "first episode the reference's, with the same learner) and their actions (the grader's "
        "expert's in those states)",
        "roll out the learner (sampler.sample_trajectories(learner, min_steps=...)), label its "
        "states with the expert's actions (relabel), and aggregate them after the old pairs.",
    )
    for case in tally.each(_DAGGER_CASES, per_item=2):
        summary, config, state = _dagger_setup(rng, case)
        seeds = [torch_seed(rng) for _ in range(2)]
        first_episode: np.ndarray | None = _reference_first_episode(config, state, seeds[0])
        if not TRAINER.build(sandbox, tally, summary, config, {("policy",): state}):
            tally.skip(1)
            continue
        demos = ref_expert.load_demos(ref_expert.demos_path(EXPERT_ENV)).first(1)
        before = (demos.observations, demos.actions)
        for round_, seed in enumerate(seeds, start=1):
            label = f"{summary}; round {round_}"
            value = _collected(sandbox, tally, label, state, seed) if not tally.stopped else None
            if value is None:
                tally.skip(2 - round_)
                break
            min_steps = int(config["dagger_batch_size"])
            tally.record(label, _judge_iteration(value, before, first_episode, min_steps))
            if type(value) is not dict or set(value) != {"observations", "actions"}:
                tally.skip(2 - round_)
                break
            before, first_episode = (value["observations"], value["actions"]), None
    return tally.outcome()


# ---------------------------------------------------------------------------------------------
# Learning curves: the student's Trainer trains with the grader's expert, the grader evaluates
# ---------------------------------------------------------------------------------------------

BC_ENV = "HalfCheetah-v5"
"""The environment of the behaviour-cloning learning check (DAgger's is Hopper-v5). Behaviour
cloning swings on Hopper (94 to 1907 at 10k steps over 8 seeds: a band just above random play),
and is steady on HalfCheetah, which never ends an episode early."""


def _task(name: str, env: str, dagger: bool) -> LearningTask:
    preset = ref_config.preset(env)
    # the handout's share of the expert's return, within the preset's iterations
    share = ref_config.EXPERT_SHARE_TARGETS["DAgger" if dagger else "behaviour cloning"]
    expert = ref_expert.expert_return(env)
    steps = preset.n_iter * preset.train_steps_per_iter
    return preset_task(
        name,
        preset=preset,
        module=RUN,
        trainer="Trainer",
        milestones=(10_000, 20_000),
        env=env,
        overrides={"dagger": dagger, "expert_dir": None},
        data=tuple(
            f"{PACKAGE}/experts/{path(env).name}"
            for path in (ref_expert.expert_path, ref_expert.demos_path)
        ),
        target=None if expert is None else Target(share * expert, within=steps),
        policy="policy",
        env_steps=False,  # milestones are gradient steps, the trainer's clock
    )


LEARNING = [
    Learning(_task(f"behaviour cloning on {BC_ENV}", BC_ENV, False), points=10, timeout_s=300.0),
    Learning(_task("DAgger on Hopper-v5", "Hopper-v5", True), points=10, timeout_s=300.0),
]
"""What ``rlhw calibrate hw1`` runs (milestones in gradient steps, the Trainer's clock); the
bands are in ``autograder/calibration/hw1.json``, made with the experts of the day: their
contents are in each task's fingerprint, so new experts ask for a new calibration."""


# ---------------------------------------------------------------------------------------------
# The suite
# ---------------------------------------------------------------------------------------------

CHECKS: list[Check] = [
    DISTRIBUTION,
    DISTRIBUTION_GRAD,
    GET_ACTION_DETERMINISTIC,
    GET_ACTION_SAMPLES,
    BC_LOSS,
    BC_LOSS_GRAD,
    BC_UPDATE,
    RELABEL,
    AGGREGATE,
    Check(
        "collect_and_relabel: two rounds of DAgger's collection",
        "collect_and_relabel",
        "value",
        20,
        check_collect_and_relabel,
        timeout_s=120.0,
    ),
]

SUITE = Suite(
    hw="hw1",
    package=PACKAGE,
    checks=CHECKS,
    learning=LEARNING,
    feedback="property",
    sandbox=SANDBOX,
)

"""Learning-curve checks: the student's whole algorithm trains, and the grader judges the
policy in environments of its own.

A :class:`LearningTask` names a homework's trainer (``hw2_policy_gradient.run:Trainer``), the
config it trains with, the milestones (environment steps) at which the policy is judged and
where the trainer keeps the policy's network (``agent.policy``). The check builds the trainer
in the sandbox, fetches the network's weights before the first update, calls ``step()`` (or
the task's ``train_until``) until the next milestone and fetches them again. Each time the
grader loads them into its own copy of the network (:class:`GraderPolicy`: the reference's
trainer, built in the grader) and runs the evaluation episodes itself, on seeds drawn from a
secret the worker never sees: the student's code never sees the evaluation environment, its
``act`` is never asked, and it cannot report its own returns.

A milestone is met when the mean evaluation return reaches its threshold and improves on the
return before training by the threshold's own improvement over random play (weights that
were good before any training, written by hand, earn nothing). Milestones are environment
steps that the grader counts itself, because the trainer's environments run in the grader's
process (:mod:`autograder.remote_env`; :func:`learning_check` says what that count proves).
Thresholds come from
``rlhw calibrate hwN`` (:func:`calibrate`), which runs the reference through the very same
:func:`evaluate` on several seeds and stores, per milestone, the reference's returns and::

    threshold = random + FRACTION * (min over seeds of the reference's return - random)

that is, a quarter of the improvement over random play that the worst calibrated seed made. Grading
never retrains the reference; it reads ``autograder/calibration/hwN.json``.

Two guards keep a bar from silently going wrong. A calibration made for another config,
other milestones or other data files is *stale* (:func:`stale_calibration`): release and
audit refuse it and name the ``rlhw calibrate`` command that remakes only the stale tasks. And
the reference must keep the handout's promise: a task's :attr:`LearningTask.target` is the
preset's target from the homework's config, and :func:`calibrate` refuses a reference seed
that misses it (:func:`target_misses`) instead of lowering the bar to what that seed reached.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import secrets
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
import torch

from autograder.checks import Check, GraderError, Outcome
from autograder.sandbox import PROJECT_ROOT, Attr, Failure, Method, Sandbox
from infrastructure.config import Target
from infrastructure.seeding import generators_kept

if TYPE_CHECKING:  # autograder.batch imports the engine, which imports this module
    from autograder.batch import Backend

CALIBRATION_DIR = PROJECT_ROOT / "autograder" / "calibration"
FRACTION = 0.25
"""Share of the worst calibrated seed's improvement over random play that a milestone asks
for. Policy-gradient curves dip and recover from one evaluation to the next (CartPole at 40k
steps: 235 to 500 over 18 seeds), so the bar is low: it tells learning from not learning; the
other checks find the bugs."""
TRAINER = "trainer"  # the name the trainer is kept under in the worker
_EVAL_SEED_LOW = 1_000_000  # evaluation seeds lie above every training seed
_PROBLEMS_SHOWN = 3  # what does not fit in a state_dict, at most this many named
_NAME_CHARS = 80
_IDLE_CALLS = 3  # training calls in a row that take no step: the trainer is stuck


@dataclass(frozen=True)
class LearningTask:
    """One learning-curve check's run: what trains, how long, and where it is judged."""

    name: str
    """Key of the task in the calibration file, e.g. ``CartPole-v1``."""
    module: str
    """The trainer's module, e.g. ``hw2_policy_gradient.run``."""
    trainer: str
    """Its class: built from a dict of config fields, with ``step()``, ``total_steps`` and
    ``act(observations)``, e.g. ``Trainer``."""
    config: Mapping[str, Any]
    """Config fields for the trainer; ``seed`` is set by the check."""
    env: str
    """Environment the grader evaluates in (its own instance)."""
    milestones: tuple[int, ...]
    """Environment steps after which the policy is judged (the first update that reaches
    each); the last one ends the run."""
    episodes: int = 10
    """Evaluation episodes per milestone."""
    max_episode_steps: int | None = None
    """Time limit of an evaluation episode; None keeps the environment's own."""
    train_until: str | None = None
    """A trainer method ``f(steps)`` that trains until ``total_steps`` reaches ``steps``, one
    call per milestone (for trainers whose ``step()`` is one environment step: tens of
    thousands of round trips otherwise); None calls ``step()`` until it does."""
    data: tuple[str, ...] = ()
    """Files, relative to the project root, that the reference trains from (an expert's
    weights, demonstrations): their contents are part of the fingerprint, so that calibration
    made with other files is stale."""
    target: Target | None = None
    """The preset's target from the homework's config, as the handout states it: every
    calibrated seed must reach it at a milestone at or before ``target.within``; None
    checks nothing."""
    policy: str | None = None
    """Where the trainer keeps the network whose weights are judged, as attributes from the
    trainer (``agent.policy``, ``agent.q_network``): the check fetches that module's
    ``state_dict`` from the student's trainer and loads it into the same attribute of the
    reference's trainer, built in the grader with the same config. None: the check cannot
    run (a grader error)."""

    env_steps: bool = True
    """Whether milestones count environment steps, which the grader then counts itself: the
    trainer's ``make_env`` environments run in the grader's process
    (:mod:`autograder.remote_env`). False: they count the trainer's own clock, read from its
    ``total_steps`` (hw1's gradient steps, which no one else can count)."""
    grader_config: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """Config fields that the grader's own trainers (calibration's reference runs and
    :class:`GraderPolicy`) take instead of ``config``'s: where the grader keeps a file that the
    sandbox gets at another place (hw5's dataset, given to the sandbox in its scratch folder).
    Not part of the fingerprint: ``data`` holds the files' digests."""

    def __post_init__(self) -> None:
        if self.target is not None and self.target.within < self.milestones[0]:
            raise ValueError(
                f"{self.name}: expected a target within reach of a milestone "
                f"(within >= {self.milestones[0]}), got within={self.target.within}"
            )

    def fingerprint(self) -> str:
        """A digest of everything calibration depends on: a calibration file made for another
        config, other milestones or other data files is stale. The target is left out: it is
        what the calibrated returns are held to, not what makes them."""
        fields = dataclasses.asdict(self)
        del fields["target"]
        del fields["policy"]  # where the weights are read, not how the reference trains
        del fields["env_steps"]  # who counts the steps, not how many the reference takes
        del fields["grader_config"]  # where the grader reads the files, not what they hold
        for name in ("train_until", "data"):
            # left out at their defaults: the calibration of a task without them stays valid
            if not fields[name]:
                del fields[name]
        if self.data:
            fields["data"] = {name: _file_digest(PROJECT_ROOT / name) for name in self.data}
        fields["config"] = {k: v for k, v in sorted(self.config.items()) if k != "seed"}
        text = json.dumps(fields, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, or ``"missing"``."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return "missing"


# ------------------------------------------------------------------------------- evaluation


def _make_env(task: LearningTask, seed: int) -> gym.Env:
    from infrastructure.envs import make_env

    return make_env(task.env, seed, max_episode_steps=task.max_episode_steps)


def check_actions(actions: Any, space: gym.Space, n: int) -> tuple[np.ndarray | None, str]:
    """``actions`` for ``n`` observations as an array the environments accept, or ``(None,
    what is wrong)``. Continuous actions are clipped to the bounds, as training envs do."""
    if isinstance(actions, torch.Tensor):
        actions = actions.detach().cpu().numpy()
    if type(actions) is not np.ndarray:
        return None, f"act returned a {type(actions).__name__}, expected a NumPy array"
    if isinstance(space, gym.spaces.Discrete):
        if actions.shape != (n,):
            return None, f"act returned shape {actions.shape} for {n} observations, expected ({n},)"
        if actions.dtype.kind not in "iu":
            return None, f"act returned dtype {actions.dtype}, expected integer actions"
        if np.any(actions < space.start) or np.any(actions >= space.start + space.n):
            return None, f"act returned {actions.tolist()}, outside the {space.n} actions"
        return actions.astype(np.int64), ""
    if isinstance(space, gym.spaces.Box):
        expected = (n, *space.shape)
        if actions.shape != expected:
            return None, f"act returned shape {actions.shape}, expected {expected}"
        if actions.dtype.kind != "f" or not np.all(np.isfinite(actions)):
            return None, "act returned non-finite or non-float actions"
        return np.clip(actions, space.low, space.high).astype(space.dtype), ""
    raise TypeError(f"unsupported action space {space}")


def evaluate(
    task: LearningTask,
    act: Callable[[np.ndarray], tuple[Any, str]],
    seed: int,
) -> tuple[np.ndarray | None, str]:
    """Run ``task.episodes`` episodes side by side in the grader's environments, one ``act``
    call per step for all unfinished ones; ``(returns, "")`` or ``(None, what went wrong)``.

    ``act(observations)`` returns ``(actions, "")`` or ``(None, why it failed)``.
    """
    envs = [_make_env(task, seed + i) for i in range(task.episodes)]
    try:
        observations = [env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]
        returns = np.zeros(task.episodes)
        running = list(range(task.episodes))
        while running:
            got, why = act(np.stack([observations[i] for i in running]))
            if got is None:
                return None, why
            actions, why = check_actions(got, envs[0].action_space, len(running))
            if actions is None:
                return None, why
            still = []
            for i, action in zip(running, actions, strict=True):
                observations[i], reward, terminated, truncated, _ = envs[i].step(action)
                returns[i] += float(reward)
                if not (terminated or truncated):
                    still.append(i)
            running = still
        return returns, ""
    finally:
        for env in envs:
            env.close()


def random_return(task: LearningTask, seed: int) -> float:
    """Mean return of uniformly random actions, under :func:`evaluate`."""
    space = _make_env(task, seed).action_space
    space.seed(seed)

    def act(observations: np.ndarray) -> tuple[Any, str]:
        return np.stack([space.sample() for _ in observations]), ""

    returns, _ = evaluate(task, act, seed)
    assert returns is not None
    return float(returns.mean())


# ------------------------------------------------------------------------------- calibration


def learning_tasks(hw: str) -> list[LearningTask]:
    """The tasks of homework ``hw``'s learning-curve checks (its suite's
    :attr:`~autograder.kit.Suite.tasks`).

    Raises:
        SuiteError: an unknown homework.
    """
    from autograder.grade import suite_of

    return suite_of(hw).tasks


def calibration_path(hw: str) -> Path:
    """``autograder/calibration/hwN.json`` (``hw`` as ``hw2`` or ``hw2_policy_gradient``)."""
    return CALIBRATION_DIR / f"{hw.split('_')[0]}.json"


class CalibrationError(Exception):
    """A calibration refused: a reference seed missed its task's target, or a run did not
    finish."""


def calibrate_command(
    hw: str, seeds: Sequence[int] | None = None, tasks: Sequence[str] | None = None
) -> str:
    """The ``rlhw calibrate`` command line for ``seeds`` (None: its default ones) and the
    tasks named (None: all of them), names quoted for a shell."""
    command = f"rlhw calibrate {hw}"
    if seeds is not None:
        command += " --seeds " + " ".join(map(str, seeds))
    if tasks is not None:
        command += " --tasks " + " ".join(shlex.quote(name) for name in tasks)
    return command


@dataclass(frozen=True)
class Stale:
    """A learning task whose calibration grading cannot use."""

    task: str
    """The task's name."""
    why: str
    """What is wrong, e.g. ``hw2.json was made for another config of 'CartPole-v1'``."""
    seeds: tuple[int, ...] | None
    """The seeds its stale entry was made with, to remake it alike (hw3's InvertedPendulum
    needs 24); None when there is no entry."""


def _read_calibration(hw: str) -> dict[str, Any] | None:
    """The calibration file of ``hw``, or None when there is none."""
    try:
        return dict(json.loads(calibration_path(hw).read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None


def _staleness(hw: str, data: dict[str, Any] | None, task: LearningTask) -> Stale | None:
    """What is wrong with ``task``'s entry in the calibration ``data`` of ``hw``; None when
    grading can use it."""
    name = calibration_path(hw).name
    if data is None:
        return Stale(task.name, f"no calibration file {name}", None)
    entry = data.get("tasks", {}).get(task.name)
    if entry is None:
        return Stale(task.name, f"{name} has no task {task.name!r}", None)
    if entry.get("fingerprint") != task.fingerprint():
        why = f"{name} was made for another config of {task.name!r}"
        return Stale(task.name, why, tuple(entry.get("seeds", ())) or None)
    return None


def stale_calibration(hw: str) -> list[Stale]:
    """The learning tasks of homework ``hw`` whose calibration is missing or was made for
    another config, milestones or data files; ``[]`` when grading can use every one (and for
    a homework without learning tasks).

    Raises:
        SuiteError: an unknown homework.
    """
    data = _read_calibration(hw)
    found = (_staleness(hw, data, task) for task in learning_tasks(hw))
    return [stale for stale in found if stale is not None]


def fix_commands(hw: str, stale: Sequence[Stale]) -> list[str]:
    """The ``rlhw calibrate`` commands that remake only the ``stale`` tasks, one per set of
    seeds their old entries were made with."""
    by_seeds: dict[tuple[int, ...] | None, list[str]] = {}
    for item in stale:
        by_seeds.setdefault(item.seeds, []).append(item.task)
    short = hw.split("_")[0]
    return [calibrate_command(short, seeds, names) for seeds, names in by_seeds.items()]


def stale_calibration_message(hw: str) -> str | None:
    """Why ``rlhw release`` and ``rlhw audit`` refuse homework ``hw`` before any work: every
    stale task and the commands that remake only those; None when grading can use them all.

    Raises:
        SuiteError: an unknown homework.
    """
    stale = stale_calibration(hw)
    if not stale:
        return None
    lines = [f"the calibration of {len(stale)} learning-curve check(s) of {hw} is stale:"]
    lines += [f"  - {item.task}: {item.why}" for item in stale]
    lines.append("remake it with:")
    lines += [f"  {command}" for command in fix_commands(hw, stale)]
    return "\n".join(lines)


def load_calibration(hw: str, task: LearningTask) -> dict[str, Any]:
    """The calibrated milestones of ``task``; raises ``LookupError`` saying what to run when
    there are none or they were made for another config."""
    data = _read_calibration(hw)
    stale = _staleness(hw, data, task)
    if stale is not None:
        raise LookupError(f"{stale.why}: run `{fix_commands(hw, [stale])[0]}`")
    assert data is not None  # not stale: the file has the task's entry
    return dict(data["tasks"][task.name])


def _reference_run(task: LearningTask, seed: int) -> list[float]:
    """Train the reference with ``seed``; its mean evaluation return at each milestone."""
    module = importlib.import_module(task.module)
    trainer = getattr(module, task.trainer)({**task.config, **task.grader_config, "seed": seed})

    def act(observations: np.ndarray) -> tuple[Any, str]:
        return trainer.act(observations), ""

    means = []
    eval_seeds = _eval_seeds(np.random.default_rng([seed, 7]), task)
    for milestone, eval_seed in zip(task.milestones, eval_seeds, strict=True):
        while trainer.total_steps < milestone:
            if task.train_until is None:
                trainer.step()
            else:
                getattr(trainer, task.train_until)(milestone)
        returns, why = evaluate(task, act, eval_seed)
        if returns is None:
            raise RuntimeError(f"the reference failed its own evaluation: {why}")
        means.append(float(returns.mean()))
    trainer.close()
    return means


def _eval_seeds(rng: np.random.Generator, task: LearningTask) -> list[int]:
    """Seeds of calibration's evaluation episodes, one per milestone, reproducible from the
    calibration seed. Grading draws its own with :func:`draw_eval_seeds`, from a secret."""
    return [int(s) for s in rng.integers(_EVAL_SEED_LOW, 2**31 - 1, size=len(task.milestones))]


def calibration_entry(
    task: LearningTask, seeds: Sequence[int], returns: np.ndarray, floor: float
) -> dict[str, Any]:
    """What the calibration file holds for ``task``, from the reference's mean returns,
    shape ``(milestones, seeds)``, and the random-play return ``floor``."""
    thresholds = floor + FRACTION * (returns.min(axis=1) - floor)
    return {
        "fingerprint": task.fingerprint(),
        "milestones": list(task.milestones),
        "seeds": list(seeds),
        "returns": returns.round(2).tolist(),
        "random_return": round(floor, 2),
        "thresholds": thresholds.round(2).tolist(),
    }


def target_shortfalls(task: LearningTask, seeds: Sequence[int], returns: np.ndarray) -> list[str]:
    """The seeds whose mean returns, shape ``(milestones, seeds)``, miss ``task.target``: no
    milestone at or before ``target.within`` reaches it. One line per seed missing it, naming
    the task, the seed, what it got at each of those milestones and the target."""
    target = task.target
    if target is None:
        return []
    judged = [k for k, milestone in enumerate(task.milestones) if milestone <= target.within]
    misses = []
    for column, seed in enumerate(seeds):
        got = returns[judged, column]
        if got.max() < target.return_mean:
            reached = ", ".join(
                f"{value:.1f} at {task.milestones[k]} steps"
                for k, value in zip(judged, got, strict=True)
            )
            misses.append(
                f"{task.name} seed {seed}: {reached}; the target is {target.return_mean:g} "
                f"within {target.within} steps"
            )
    return misses


def target_misses(task: LearningTask, seeds: Sequence[int], returns: np.ndarray) -> list[str]:
    """The lines of :func:`target_shortfalls` when more seeds miss ``task.target`` than its
    ``share_of_seeds`` allows (each line then says so), else none."""
    shortfalls = target_shortfalls(task, seeds, returns)
    if task.target is None or len(shortfalls) <= task.target.misses_allowed(len(seeds)):
        return []
    if task.target.share_of_seeds == 1.0:
        return shortfalls
    allowed = task.target.misses_allowed(len(seeds))
    share = f"{len(shortfalls)} of {len(seeds)} seeds miss it, {allowed} may"
    return [f"{line} ({share})" for line in shortfalls]


def _reference_runs(
    tasks: Sequence[LearningTask],
    seeds: Sequence[int],
    jobs: int | Backend,
    log: Callable[[str], None],
) -> dict[str, np.ndarray]:
    """Each task's mean returns, shape ``(milestones, seeds)``: the reference trained on every
    seed, each run in a grader process of its own: ``jobs`` at a time on this machine, or on
    the backend ``jobs`` names (one Ray task per run with ``Backend("ray")``).

    Raises:
        CalibrationError: a run that did not finish (its process died twice, or it raised).
    """
    from autograder.batch import Backend, Done, run_tasks

    backend = jobs if isinstance(jobs, Backend) else Backend("local", jobs=jobs)
    runs = [(task, seed) for task in tasks for seed in seeds]
    hw = tasks[0].module.split(".")[0] if tasks else ""
    means: dict[tuple[str, int], list[float]] = {}
    # the reference runs in the grader process: no sandbox, so no node need confine one
    for index, ended in run_tasks(_reference_run, runs, backend, hw=hw, confined=False):
        task, seed = runs[index]
        if not isinstance(ended, Done):
            raise CalibrationError(
                f"the reference's run of {task.name} with seed {seed} did not finish: "
                f"{ended.why}; {calibration_path(hw)} is left as it was"
            )
        means[task.name, seed] = ended.value
        log(f"{task.name} seed {seed}: " + ", ".join(f"{r:.1f}" for r in ended.value))
    return {task.name: np.array([means[task.name, seed] for seed in seeds]).T for task in tasks}


def calibrate(
    hw: str,
    tasks: Sequence[LearningTask],
    seeds: Sequence[int],
    *,
    jobs: int = 1,
    backend: Backend | None = None,
    keep: Sequence[str] = (),
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the reference on ``seeds`` for every task, write ``calibration/<hw>.json``
    atomically, and return what was written.

    The file's entries of the tasks named in ``keep`` stay as they are (recalibrating some tasks
    of a suite); every other entry is dropped. Each entry records the command that made it.

    Raises:
        CalibrationError: a seed that misses its task's target (:func:`target_misses`); the
            file is left as it was, since a bar made from that seed would be too low.
    """
    from autograder import report

    started = time.monotonic()
    command = calibrate_command(hw, seeds, [task.name for task in tasks] if keep else None)
    returns = _reference_runs(tasks, seeds, backend or jobs, log)
    misses = []
    for task in tasks:
        refused = target_misses(task, seeds, returns[task.name])
        misses += refused
        tolerated = [] if refused else target_shortfalls(task, seeds, returns[task.name])
        if tolerated:
            log(
                f"as its target allows, {len(tolerated)} seed(s) missed it: " + "; ".join(tolerated)
            )
    if misses:
        raise CalibrationError(
            f"the reference missed its target on {len(misses)} run(s); {calibration_path(hw)} "
            "is left as it was:\n"
            + "\n".join(f"  - {line}" for line in misses)
            + "\nThe targets are the presets' (the homework's config, as its handout states "
            "them): fix the reference or its preset, then calibrate again."
        )
    path = calibration_path(hw)
    entries: dict[str, Any] = {}
    if keep and path.is_file():
        old = json.loads(path.read_text(encoding="utf-8")).get("tasks", {})
        entries = {name: entry for name, entry in old.items() if name in keep}
    for task in tasks:
        floor = random_return(task, seed=123)
        entry = calibration_entry(task, seeds, returns[task.name], floor)
        entries[task.name] = entry | {"command": command}
    data = {
        "hw": hw,
        "command": command,
        "rule": f"threshold = random + {FRACTION} * (min over seeds - random)",
        "seconds": round(time.monotonic() - started, 1),
        "tasks": entries,
    }
    report.write_json_atomic(path, data)
    return data


# ------------------------------------------------------------------------------- the check


def draw_eval_seeds(count: int) -> list[int]:
    """Seeds of ``count`` evaluations of one grading, from the operating system's entropy.

    They are never sent to the worker and owe nothing to the grading seed, whose generator the
    training seed comes from: a submission cannot work out the episodes it will be judged on
    and replay them. The returns of the same submission therefore vary a little from one
    grading to the next; the thresholds, a quarter of the worst calibrated seed's improvement
    over random play, leave room for that."""
    return [_EVAL_SEED_LOW + secrets.randbelow(2**31 - 1 - _EVAL_SEED_LOW) for _ in range(count)]


class GraderPolicy:
    """The grader's own copy of the network a task judges, and the policy it acts with.

    The reference's trainer is built in the grader with the check's config (its construction,
    like the network's, is given code the student does not write), under
    :func:`~infrastructure.seeding.generators_kept` so that the grader's generators and thread
    count stay as they were. :meth:`load` copies weights fetched from the student's trainer
    into its module at ``task.policy``; :meth:`act` is the reference trainer's ``act`` (the
    greedy action, the mean), so the reference's own weights give the returns they give in
    calibration. :meth:`evaluate` runs it with the trainer's own thread count (one, for small
    networks: several threads make each call many times slower).

    Raises:
        GraderError: the task names no policy, or the reference has no module there.
    """

    def __init__(self, task: LearningTask, config: Mapping[str, Any]):
        if task.policy is None:
            raise GraderError(f"{task.name}: the task names no policy network to judge")
        self.task = task
        self.where = task.policy
        threads = torch.get_num_threads()
        with generators_kept():
            self.trainer = getattr(importlib.import_module(task.module), task.trainer)(config)
        self.threads = torch.get_num_threads()
        torch.set_num_threads(threads)
        module: Any = self.trainer
        for name in task.policy.split("."):
            module = getattr(module, name, None)
        if not isinstance(module, torch.nn.Module):
            raise GraderError(f"{task.name}: the reference's trainer has no module {task.policy}")
        self.module = module

    def load(self, weights: Any) -> str:
        """Copy ``weights``, a ``state_dict`` fetched from the worker, into the module: ``""``,
        or what does not fit (names, shapes, dtypes) or is not finite (training diverged)."""
        if type(weights) is not dict:
            return f"the weights came as a {type(weights).__name__}, expected a dict of tensors"
        expected = self.module.state_dict()
        problems = []
        missing = [name for name in expected if name not in weights]
        unexpected = [name for name in weights if name not in expected]
        if missing:
            problems.append(f"missing {_names(missing)}")
        if unexpected:
            problems.append(f"unexpected {_names(unexpected)}")
        tensors = {}
        for name, want in expected.items():
            if name in missing:
                continue
            got = weights[name]
            if isinstance(got, np.ndarray):  # every dtype the wire carries has a tensor
                got = torch.from_numpy(got)
            if not isinstance(got, torch.Tensor):
                problems.append(f"{name!r} is a {type(got).__name__}, expected a tensor")
            elif got.shape != want.shape:
                problems.append(
                    f"{name!r} has shape {tuple(got.shape)}, expected {tuple(want.shape)}"
                )
            elif got.is_floating_point() != want.is_floating_point() or (
                not want.is_floating_point() and got.dtype != want.dtype
            ):
                problems.append(f"{name!r} has dtype {got.dtype}, expected {want.dtype}")
            else:
                tensors[name] = got.to(want.dtype)
        if problems:
            return (
                f"the weights of {self.where} do not fit the network the homework's given code "
                "builds: " + "; ".join(problems[:_PROBLEMS_SHOWN])
            )
        diverged = [name for name, got in tensors.items() if not bool(torch.isfinite(got).all())]
        if diverged:
            return f"the weights of {self.where} hold NaN or infinity: {_names(diverged)}"
        with torch.no_grad():
            self.module.load_state_dict(tensors, strict=True)
        return ""

    def act(self, observations: np.ndarray) -> tuple[Any, str]:
        """The reference trainer's evaluation actions, as :func:`evaluate` asks for them."""
        return self.trainer.act(observations), ""

    def evaluate(self, seed: int) -> tuple[np.ndarray | None, str]:
        """:func:`evaluate` of the loaded weights on ``seed``, leaving the grader's generators
        and thread count as they were."""
        threads = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            with generators_kept():
                return evaluate(self.task, self.act, seed)
        finally:
            torch.set_num_threads(threads)

    def close(self) -> None:
        self.trainer.close()


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(repr(name[:_NAME_CHARS]) for name in names[:_PROBLEMS_SHOWN])
    return shown + (
        f" and {len(names) - _PROBLEMS_SHOWN} more" if len(names) > _PROBLEMS_SHOWN else ""
    )


def learning_check(
    hw: str, task: LearningTask
) -> Callable[[Sandbox, np.random.Generator], Outcome]:
    """The ``run`` of a learning-curve check of ``task``; credit is the share of milestones
    met.

    The student's trainer trains in the sandbox; before its first update and at each milestone
    the grader fetches the weights of its network at ``task.policy``, loads them into its own
    copy (:class:`GraderPolicy`) and runs the evaluation episodes itself, on seeds the worker
    never sees (:func:`draw_eval_seeds`). The student's ``act`` is never asked: a hand-written
    rule there earns nothing. A milestone is met when the mean return reaches its calibrated
    threshold *and* improves on the return before training by the threshold's own improvement
    over random play: weights that were good from the start (hand-written) earn nothing
    either.

    Milestones are environment steps that the grader counts itself: the trainer's
    environments (``infrastructure.envs.make_env``) run in the grader's process
    (:mod:`autograder.remote_env`), so a ``total_steps`` that claims more steps than were
    taken changes nothing. The count is a floor: a student's own simulator in the sandbox
    goes uncounted, and what bounds it is the sandbox's CPU and wall-clock limits, enforced
    from outside. Tasks whose clock is the trainer's (``env_steps=False``: hw1's gradient
    steps) read ``total_steps``, which can only bring the evaluations forward.
    """

    def run(sandbox: Sandbox, rng: np.random.Generator) -> Outcome:
        try:
            calibration = load_calibration(hw, task)
        except LookupError as error:
            raise GraderError(str(error)) from None  # staff must recalibrate, not the student
        seed = int(rng.integers(1_000, _EVAL_SEED_LOW))
        config = {**task.config, "seed": seed}
        label = f"{task.trainer}({task.name})"
        built = sandbox.call_method(task.module, task.trainer, (config,), keep=TRAINER, label=label)
        if isinstance(built, Failure):
            text = f"could not build the trainer: {_failure_text(built)}"
            return Outcome(0.0, text, brief=text)  # the config is public: nothing hidden
        policy = GraderPolicy(task, {**config, **task.grader_config})
        try:
            return _judge(sandbox, task, calibration, policy, seed)
        finally:
            policy.close()

    return run


def _judge(
    sandbox: Sandbox,
    task: LearningTask,
    calibration: Mapping[str, Any],
    policy: GraderPolicy,
    seed: int,
) -> Outcome:
    """Train the kept trainer milestone by milestone and judge its weights at each one."""
    eval_seeds = draw_eval_seeds(len(task.milestones) + 1)  # before training, then milestones

    def mean_return(eval_seed: int) -> float | str:
        fetched = sandbox.request(
            {
                "op": "weights",
                "kept": TRAINER,
                "steps": [Attr(name).to_wire() for name in policy.where.split(".")],
            },
            label=f"{task.trainer}.{policy.where}",
        )
        if isinstance(fetched, Failure):
            return f"could not fetch the weights: {_failure_text(fetched)}"
        why = policy.load(fetched.value)
        if why:
            return why
        returns, why = policy.evaluate(eval_seed)
        return why if returns is None else float(returns.mean())

    lines = [
        f"Before training and at each milestone, the grader fetched the weights of your "
        f"{task.trainer}'s {policy.where}, loaded them into its own copy of the network and ran "
        f"{task.episodes} episodes in its own {task.env} on seeds drawn afresh for this grading "
        "(returns vary a little from one grading to the next). A milestone is met when the mean "
        "return reaches the threshold calibrated on the reference and improves on the return "
        f"before training by as much as the threshold improves on random play; training seed "
        f"{seed}; "
        + (
            f"steps are those your trainer took in {task.env}, counted by the grader."
            if task.env_steps
            else "steps as your trainer counts them."
        )
    ]
    start = mean_return(eval_seeds[0])
    if isinstance(start, str):
        lines.append(f"before training, evaluation stopped: {start}")
        return _outcome(0, task, lines)
    lines.append(f"  {0:>7} steps: {start:8.1f}  (before training)")
    met = steps = idle = 0
    for k, milestone in enumerate(task.milestones):
        train = (
            Method("step") if task.train_until is None else Method(task.train_until, (milestone,))
        )
        while steps < milestone:
            step = sandbox.on(TRAINER, [train], label=f"{task.trainer}.{train.name}")
            if isinstance(step, Failure):
                why = _failure_text(step)
                lines.append(f"training stopped before {milestone} steps: {why}")
                return _outcome(met, task, lines)
            counted = _steps(sandbox, task)
            if isinstance(counted, str):
                lines.append(counted)
                return _outcome(met, task, lines)
            idle = 0 if counted > steps else idle + 1
            steps = counted
            if idle == _IDLE_CALLS:
                lines.append(
                    f"training stopped at {steps} steps: {_IDLE_CALLS} calls of "
                    f"{task.trainer}.{train.name}() in a row took no step"
                    + (
                        f" in the grader's {task.env} (make environments with "
                        "infrastructure.envs.make_env: in grading, they run in the grader, "
                        "which counts their steps)"
                        if task.env_steps
                        else " (total_steps did not grow)"
                    )
                )
                return _outcome(met, task, lines)
        got = mean_return(eval_seeds[k + 1])
        if isinstance(got, str):
            lines.append(f"at {steps} steps, evaluation stopped: {got}")
            return _outcome(met, task, lines)
        needed = calibration["thresholds"][k]
        improved = start + needed - calibration["random_return"]
        reference = calibration["returns"][k]
        passed = got >= needed and got >= improved
        met += passed
        lines.append(
            f"  {steps:>7} steps: {got:8.1f}  (needs {needed:.1f}, and {improved:.1f} to improve "
            f"on step 0; reference {min(reference):.1f} to {max(reference):.1f})  "
            f"{'met' if passed else 'NOT met'}"
        )
    return _outcome(met, task, lines)


def _steps(sandbox: Sandbox, task: LearningTask) -> int | str:
    """The steps a milestone counts: the grader's own count of the environment steps it
    served, or the trainer's ``total_steps`` when the task's clock is the trainer's."""
    if not task.env_steps:
        return _total_steps(sandbox)
    if sandbox.env_service is None:
        raise GraderError(f"{task.name}: a learning check's sandbox must serve {task.env}")
    return sandbox.env_service.steps


def _total_steps(sandbox: Sandbox) -> int | str:
    result = sandbox.on(TRAINER, [Attr("total_steps")], label="Trainer.total_steps")
    if isinstance(result, Failure):
        return f"could not read total_steps: {_failure_text(result)}"
    value = result.value
    if type(value) is not int or value < 0:
        return f"total_steps is {value!r}, expected a non-negative int"
    return value


def _outcome(met: int, task: LearningTask, lines: list[str]) -> Outcome:
    total = len(task.milestones)
    if met < total:
        lines.append(f"{met} of {total} milestones met.")
        lines.append(
            "Hint: the value, gradient and update checks above find most bugs that stop "
            "learning; fix those first."
        )
    # the student's own training judged on the grader's episodes: no hidden input shows
    return Outcome(met / total, "\n".join(lines), brief="\n".join(lines))


def _failure_text(failure: Failure) -> str:
    text = failure.message
    if failure.traceback:
        text += "\n" + failure.traceback.rstrip()
    return text


def learning_check_of(
    hw: str,
    task: LearningTask,
    *,
    points: float,
    timeout_s: float,
    function: str = "Trainer",
) -> Check:
    """A :class:`Check` of ``task``, with a sandbox of its own whose CPU limit covers the
    whole run (a shared worker would be replaced halfway through)."""
    return Check(
        f"learning curve: {task.name}",
        function,
        "learning",
        points,
        learning_check(hw, task),
        timeout_s=timeout_s,
        sandbox={
            "cpu_seconds": int(2 * timeout_s) + 10,
            "timeout_s": timeout_s,
            "serve_envs": (task.env,) if task.env_steps else (),
        },
    )

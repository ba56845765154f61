"""Hostile submissions against the learning-curve checks: homework 2 trainers that try to earn
the CartPole points without learning, each graded by the real check of the hidden suite
(``learning curve: CartPole-v1``, with the shipped calibration) or, where a run would be long,
by the same check on a budget of a few thousand steps.

Every submission is a copy of the reference package with its ``run.py`` edited (:func:`hostile`):

1. the issue's attack: ``step()`` trains nothing and claims 10^9 steps, ``act()`` is a
   hand-written balancing rule (push towards the side the pole falls to);
2. replaying: the trainer works out the evaluation seeds as a grader would draw them from the
   check's generator, right after the training seed it is given (finding the grading seed from
   that training seed), and replays the recorded actions of those very episodes;
3. hand-written weights set at construction: the policy balances before any training;
4. a judged network that never trains: another network learns and acts, while the one the
   trainer holds stays at its initial weights (or nothing learns at all).

Each earns 0: the grader never asks for ``act()``, evaluates the weights in its own copy of the
network on seeds it draws from a secret, and asks for an improvement over the policy before
training. The two cases that train for the check's 50k steps (about 20 s each) are ``slow``;
``make test`` keeps every attack in its cheapest form: the real check on a trainer that takes
no step, or the check on a budget of 2000 steps.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from conftest import learning_tasks, suite_checks, suite_package

from autograder import learning
from autograder.checks import Check
from autograder.grade import run_checks
from autograder.mutants import copy_homework

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = suite_package("hw2")
CHECK_NAME = "learning curve: CartPole-v1"
GRADING_SEED = 7

# the reference's run.py, where each attack edits it
INIT = "        self.sampler = Sampler(self.env, seed=config.seed)\n"
STEP = "        batch = self.sampler.sample_trajectories("
UPDATE = "metrics = self.agent.update(batch)"
TOTAL_STEPS = "        return self.sampler.total_steps\n"
ACT = """        if self.config.eval_deterministic:
            return self.agent.act_deterministic(observations)
        return self.agent.act(observations)
"""

CLAIM = [
    (STEP, "        self.iteration += 1\n        return {}\n" + STEP),
    (TOTAL_STEPS, "        return 10**9 if self.iteration else 0\n"),
]
"""``step()`` trains nothing; from the first call on, ``total_steps`` says 10^9."""
BALANCE = [(ACT, "        return (observations[:, 2] + observations[:, 3] > 0).astype(np.int64)\n")]
"""Push right when the pole's angle plus its angular velocity is positive: about 480 of 500."""

REPLAY_TABLE = '''

def replay_table(training_seed: int, milestones: int = 2, episodes: int = 10) -> dict:
    """The evaluation episodes of a grader that draws their seeds from the check's generator
    after the training seed, played by the balancing rule: observation bytes -> action."""
    import zlib

    salt = zlib.crc32(b"learning curve: CartPole-v1")
    for grading_seed in range(1000):
        rng = np.random.default_rng([grading_seed, salt])
        if int(rng.integers(1_000, 1_000_000)) == training_seed:
            break
    else:
        return {}
    table = {}
    for eval_seed in rng.integers(1_000_000, 2**31 - 1, size=milestones):
        for i in range(episodes):
            env = make_env("CartPole-v1", int(eval_seed) + i)
            observation, _ = env.reset(seed=int(eval_seed) + i)
            done = False
            while not done:
                action = int(observation[2] + observation[3] > 0)
                table[observation.tobytes()] = action
                observation, _, terminated, truncated, _ = env.step(action)
                done = terminated or truncated
    return table
'''
REPLAY = [
    (INIT, INIT + "        self.replay = replay_table(config.seed)\n"),
    (
        ACT,
        "        actions = [self.replay.get(o.tobytes(), 0) for o in observations]\n"
        "        return np.array(actions, dtype=np.int64)\n",
    ),
    ("\n\nclass Trainer:", REPLAY_TABLE + "\n\nclass Trainer:"),
]
"""Unknown observations get action 0 (about 9 steps): only the known episodes go well."""

HAND_WRITTEN = [
    (
        INIT,
        INIT
        + """        with torch.no_grad():  # logits -10 h and 10 h, h = tanh(10 tanh(10 (a + v)))
            net = self.agent.policy.logits_net
            for parameter in net.parameters():
                parameter.zero_()
            net[0].weight[0, 2] = net[0].weight[0, 3] = 10.0
            net[2].weight[0, 0] = 10.0
            net[4].weight[0, 0], net[4].weight[1, 0] = -10.0, 10.0
""",
    )
]
"""The balancing rule as the policy network's weights, before any training."""

SHADOW = [
    (
        INIT,
        INIT
        + "        self.learner = PGAgent(\n"
        + "            self.env.observation_space, self.env.action_space, config, "
        + "torch.device(config.device)\n        )\n",
    ),
    (
        "self.sampler.sample_trajectories(self.agent.act,",
        "self.sampler.sample_trajectories(self.learner.act,",
    ),
    (UPDATE, "metrics = self.learner.update(batch)"),
    (ACT, "        return self.learner.act_deterministic(observations)\n"),
]
"""A second agent trains and acts; ``agent.policy`` keeps its initial weights."""


def hostile(tmp_path: Path, edits: list[tuple[str, str]]) -> Path:
    """The reference homework with each ``(old, new)`` of ``edits`` applied to its run.py
    (where ``old`` occurs once)."""
    root = copy_homework(REPO_ROOT, PACKAGE, tmp_path / "submission")
    run = root / PACKAGE / "run.py"
    source = run.read_text()
    for old, new in edits:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    run.write_text(source)
    return root


def real_check() -> Check:
    (check,) = [c for c in suite_checks("hw2") if c.name == CHECK_NAME]
    return check


def grade(root: Path, check: Check) -> tuple[float, str]:
    (result,) = run_checks(root, [check], GRADING_SEED)
    return result.score, result.output


# ------------------------------------------------------------------------- 1. claimed steps


def test_claimed_steps_and_a_hand_written_act_earn_nothing(tmp_path: Path) -> None:
    score, feedback = grade(hostile(tmp_path, CLAIM + BALANCE), real_check())
    assert score == 0.0, feedback
    assert "0 of 2 milestones met" in feedback


# ------------------------------------------------------------------------- 2. replaying


def test_replaying_the_evaluation_episodes_earns_nothing(tmp_path: Path) -> None:
    score, feedback = grade(hostile(tmp_path, CLAIM + REPLAY), real_check())
    assert score == 0.0, feedback


# ------------------------------------------------------------------------- 3. hand-written weights


def test_hand_written_weights_at_construction_earn_nothing(tmp_path: Path) -> None:
    score, feedback = grade(hostile(tmp_path, CLAIM + HAND_WRITTEN), real_check())
    assert score == 0.0, feedback
    before = float(feedback.splitlines()[1].split()[2])
    assert before > 300.0, feedback  # the weights balance before any training


@pytest.mark.slow  # attack 3 trains for 50k steps; make test has its untrained form above
def test_hand_written_weights_that_then_train_earn_nothing(tmp_path: Path) -> None:
    score, feedback = grade(hostile(tmp_path, HAND_WRITTEN), real_check())
    assert score == 0.0, feedback


# ------------------------------------------------------------------------- 4. never trains


def tiny_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Check:
    """The real check on a budget of 2000 steps, its bar low enough for an untrained policy
    (every CartPole episode lasts 8 steps or more)."""
    real = next(t for t in learning_tasks("hw2") if t.name == "CartPole-v1")
    config = {**real.config, "batch_size": 500, "total_steps": 2000}
    task = dataclasses.replace(real, name="CartPole-tiny", config=config, milestones=(1000, 2000))
    folder = tmp_path / "calibration"
    folder.mkdir()
    entry = {
        "fingerprint": task.fingerprint(),
        "milestones": [1000, 2000],
        "seeds": [0],
        "returns": [[100.0], [100.0]],
        "random_return": 0.0,
        "thresholds": [5.0, 5.0],
    }
    (folder / "hwtest.json").write_text(json.dumps({"tasks": {task.name: entry}}))
    monkeypatch.setattr(learning, "CALIBRATION_DIR", folder)
    return learning.learning_check_of("hwtest", task, points=10, timeout_s=120)


def test_a_policy_that_never_trains_earns_nothing_even_over_a_low_bar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = hostile(tmp_path, [(UPDATE, "metrics = {}")])
    score, feedback = grade(root, tiny_check(tmp_path, monkeypatch))
    assert score == 0.0, feedback
    before = float(feedback.splitlines()[1].split()[2])
    assert 5.0 <= before < 12.0, feedback  # over the bar, as every CartPole policy is


def test_a_network_that_never_trains_while_another_acts_earns_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = hostile(tmp_path, SHADOW)
    score, feedback = grade(root, tiny_check(tmp_path, monkeypatch))
    assert score == 0.0, feedback


@pytest.mark.slow  # attack 4 for 50k steps; make test has it on a budget of 2000 steps above
def test_a_network_that_never_trains_earns_nothing_on_the_real_check(tmp_path: Path) -> None:
    score, feedback = grade(hostile(tmp_path, SHADOW), real_check())
    assert score == 0.0, feedback

"""The instructor tool that makes the Hopper datasets, piece by piece and end to end on tiny
budgets: recording a policy into a Minari dataset, the normalised score, the medium run's
rounds and their stop rule. Skipped where homework 3's reference is absent (a student's copy)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("hw3_q_learning.run")

from hw3_q_learning.export import SavedPolicy  # noqa: E402
from hw5_offline.datasets import list_datasets, load_dataset, save_dataset  # noqa: E402
from hw5_offline.tools import make_hopper_datasets as tool  # noqa: E402
from hw5_offline.tools.make_hopper_datasets import (  # noqa: E402
    NoisyPolicy,
    RandomPolicy,
    Round,
    SACBehaviour,
    choose_round,
    normalized_score,
    record,
)

ENV = "Hopper-v5"
LOW, HIGH = -np.ones(3, dtype=np.float32), np.ones(3, dtype=np.float32)


def random_policy(seed: int = 0) -> RandomPolicy:
    return RandomPolicy(LOW, HIGH, np.random.default_rng(seed))


# ---- recording ------------------------------------------------------------------------------


def test_recorded_transitions_load_back_as_a_dataset_of_hoppers_spaces(tmp_path):
    episodes, returns = record(ENV, random_policy(), 300, seed=0)
    save_dataset("hopper/test-v0", ENV, episodes, root=tmp_path)
    data = load_dataset("hopper/test-v0", ENV, root=tmp_path)

    assert len(data) == 300 and sum(len(e) for e in episodes) == 300
    assert data.observations.shape == data.next_observations.shape == (300, 11)
    assert data.actions.shape == (300, 3) and data.actions.dtype == np.float32
    assert np.all(np.abs(data.actions) <= 1.0)
    assert len(data.episode_starts) == len(episodes) == len(returns) + 1
    # Random hoppers fall: every episode but the last ends terminated; the budget cuts the last.
    ends = np.append(data.episode_starts[1:], 300) - 1
    assert data.terminated[ends[:-1]].all() and not data.truncated[ends[:-1]].any()
    assert data.truncated[-1] and not data.terminated[-1]
    assert data.terminated.sum() + data.truncated.sum() == len(episodes)
    # Within an episode s_{t+1} is the next step's s_t; complete episodes' returns are theirs.
    inner = np.setdiff1d(np.arange(299), ends)
    np.testing.assert_array_equal(data.next_observations[inner], data.observations[inner + 1])
    assert not np.any(np.all(data.next_observations[ends] == data.observations[ends], axis=1))
    sums = [data.rewards[s : e + 1].sum() for s, e in zip(data.episode_starts, ends, strict=True)]
    np.testing.assert_allclose(returns, sums[:-1])


def test_recording_is_reproducible_and_seeded():
    first, first_returns = record(ENV, random_policy(0), 100, seed=0)
    again, again_returns = record(ENV, random_policy(0), 100, seed=0)
    other, _ = record(ENV, random_policy(1), 100, seed=1)
    np.testing.assert_array_equal(first_returns, again_returns)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.observations, b.observations)
        np.testing.assert_array_equal(a.actions, b.actions)
    assert not np.array_equal(first[0].actions, other[0].actions)


def test_recording_without_a_complete_episode_is_refused():
    with pytest.raises(ValueError, match="expected at least one complete episode in 3 transitions"):
        record(ENV, random_policy(), 3, seed=0)
    with pytest.raises(ValueError, match="expected a number of transitions >= 1, got 0"):
        record(ENV, random_policy(), 0, seed=0)


def test_noisy_policy_stays_in_bounds_and_is_its_policy_without_noise():
    observations = np.zeros((500, 11))
    constant = lambda obs: np.full((len(obs), 3), 0.95, dtype=np.float32)  # noqa: E731
    rng = np.random.default_rng(0)
    exact = NoisyPolicy(constant, LOW, HIGH, 0.0, rng)(observations)
    np.testing.assert_array_equal(exact, constant(observations))
    noisy = NoisyPolicy(constant, LOW, HIGH, 0.1, rng)(observations)
    assert noisy.dtype == np.float32 and np.all(noisy <= 1.0) and np.all(noisy >= -1.0)
    assert 0.05 < np.std(noisy[noisy < 1.0] - 0.95) < 0.15  # std 0.1 of half the range 2
    assert np.mean(noisy == 1.0) > 0.25  # about Phi(-0.5): the clipped share
    with pytest.raises(ValueError, match="expected a noise standard deviation >= 0, got -1"):
        NoisyPolicy(constant, LOW, HIGH, -1.0, rng)


def test_make_dataset_refuses_and_deletes_a_dataset_over_its_size(tmp_path):
    references = {"random": {"return_mean": 0.0}, "expert": {"return_mean": 100.0}}
    common = dict(transitions=200, seed=0, root=tmp_path, references=references)
    entry = tool.make_dataset("medium", random_policy(), "random", **common)
    assert entry["transitions"] == 200 and entry["episodes"] == entry["complete_episodes"] + 1
    assert entry["normalized_score"] == pytest.approx(entry["return_mean"], abs=0.1)
    assert 0 < entry["bytes"] <= tool.MAX_BYTES
    with pytest.raises(ValueError, match="'hopper/expert-v0': expected at most 1000 bytes"):
        tool.make_dataset("expert", random_policy(), "random", **common, max_bytes=1000)
    assert list_datasets(tmp_path) == ["hopper/medium-v0"]


# ---- the normalised score -------------------------------------------------------------------


def test_normalized_score_is_0_for_random_and_100_for_the_expert():
    assert normalized_score(-20.0, -20.0, 3180.0) == 0.0
    assert normalized_score(3180.0, -20.0, 3180.0) == 100.0
    assert normalized_score(1580.0, -20.0, 3180.0) == pytest.approx(50.0)
    assert normalized_score(-180.0, -20.0, 3180.0) == pytest.approx(-5.0)
    with pytest.raises(ValueError, match="expert's return above the random policy's, got expert 5"):
        normalized_score(1.0, 10.0, 5.0)


# ---- the medium run's stop rule -------------------------------------------------------------


def rounds_of(*returns: float) -> list[Round]:
    return [Round(10 * (i + 1), r, 0.0, f"policy_{10 * (i + 1)}.pt") for i, r in enumerate(returns)]


@pytest.mark.parametrize(
    ("returns", "finished", "chosen_steps"),
    [
        ((100.0, 200.0), False, None),  # below the band [250, 450]: train on
        ((100.0, 260.0, 330.0), False, 20),  # the first round in the band, not the closest
        ((100.0, 450.0), False, 20),  # the band's ends count
        ((300.0, 600.0), False, 10),  # first in band before a higher one
        ((200.0, 300.0, 100.0), False, 20),
        ((150.0, 500.0), False, 20),  # above the band: stop, the closest to 333 is 500
        ((200.0, 500.0), False, 10),  # ... or the one before
        ((100.0, 240.0, 900.0, 330.0), False, 20),  # stops at the overshoot, keeps 240
        ((100.0, 200.0), True, 20),  # out of steps: the closest
        ((), True, None),
    ],
)
def test_choose_round(returns, finished, chosen_steps):
    chosen = choose_round(rounds_of(*returns), 1000.0, finished=finished)
    assert (chosen.steps if chosen is not None else None) == chosen_steps


def test_choose_round_reads_rounds_in_order_of_steps():
    rounds = rounds_of(100.0, 300.0, 400.0)
    assert choose_round(rounds[::-1], 1000.0) == rounds[1]


def test_choose_round_refuses_a_band_that_misses_its_fraction():
    with pytest.raises(ValueError, match=r"expected 0 < band\[0\] < fraction < band\[1\]"):
        choose_round([], 1000.0, band=(0.4, 0.5))
    with pytest.raises(ValueError, match="expected a positive expert return, got 0"):
        choose_round([], 0.0)


# ---- the medium run, end to end on a tiny budget -------------------------------------------


def test_medium_run_trains_in_rounds_and_resumes(tmp_path, capsys):
    run_dir = tmp_path / "run"

    def train_medium(max_steps: int) -> Round:
        return tool.train_medium(
            run_dir, 1000.0, max_steps=max_steps, round_steps=200, eval_episodes=2, progress=False
        )

    # An untrained SAC falls at once, far below the band: the run goes to its last round.
    chosen = train_medium(300)
    rounds = tool.read_rounds(run_dir)
    assert [r.steps for r in rounds] == [200, 300]  # the last round is cut at max_steps
    assert chosen in rounds and all(r.return_mean < 250.0 for r in rounds)
    assert all((run_dir / r.policy).is_file() for r in rounds)

    capsys.readouterr()
    train_medium(500)
    assert "resumed from" in capsys.readouterr().out
    assert [r.steps for r in tool.read_rounds(run_dir)] == [200, 300, 400, 500]
    assert json.loads((run_dir / "config.json").read_text())["total_steps"] == 500
    # A run whose rounds already chose one trains no further.
    last = train_medium(500)
    assert len(tool.read_rounds(run_dir)) == 4 and "resumed from" not in capsys.readouterr().out
    assert last == choose_round(tool.read_rounds(run_dir), 1000.0, finished=True)

    observations = np.random.default_rng(0).normal(size=(64, 11))
    behaviour = SACBehaviour(run_dir / "policy_500.pt", np.random.default_rng(0))
    actions = behaviour(observations)
    assert actions.shape == (64, 3) and actions.dtype == np.float32
    assert np.all(np.abs(actions) <= 1.0)
    again = SACBehaviour(run_dir / "policy_500.pt", np.random.default_rng(0))(observations)
    np.testing.assert_array_equal(actions, again)
    mode = SavedPolicy(run_dir / "policy_500.pt")(observations)
    assert not np.allclose(actions, mode, atol=0.05)  # samples, not the mean action


def test_main_records_both_datasets_with_their_scores_and_keeps_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tool, "REFERENCE_EPISODES", 5)
    root = tmp_path / "datasets"
    args = ["--run-dir", str(tmp_path / "run"), "--datasets-dir", str(root), "--max-steps", "200"]
    args += ["--round-steps", "200", "--eval-episodes", "1", "--transitions", "1200"]
    scores = tool.main(args)  # an untrained medium policy, an expert episode and a cut one

    assert list_datasets(root) == ["hopper/expert-v0", "hopper/medium-v0"]
    assert json.loads((root / "hopper" / "scores.json").read_text()) == scores
    assert scores["expert"]["episodes"] == 1 and scores["random"]["episodes"] == 5
    assert scores["random"]["return_mean"] < 100.0 < 2500.0 < scores["expert"]["return_mean"]
    for name, entry in scores["datasets"].items():
        assert len(load_dataset(name, ENV, root=root)) == entry["transitions"] == 1200
        expected = normalized_score(
            entry["return_mean"], scores["random"]["return_mean"], scores["expert"]["return_mean"]
        )
        assert entry["normalized_score"] == pytest.approx(expected, abs=0.1)
    assert scores["datasets"]["hopper/expert-v0"]["normalized_score"] > 80.0
    assert scores["datasets"]["hopper/medium-v0"]["normalized_score"] < 20.0

    capsys.readouterr()
    assert tool.main(args)["datasets"] == scores["datasets"]
    assert capsys.readouterr().out.count("exists already") == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--transitions", "0"], "--transitions: expected > 0, got 0"),
        (["--round-steps", "-5"], "--round-steps: expected > 0, got -5"),
        (["--train-only", "--datasets", "expert"], "expected --datasets with medium"),
    ],
)
def test_main_refuses_bad_options(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RLHW_DATASETS", str(tmp_path / "datasets"))
    with pytest.raises(SystemExit):
        tool.main([*args, "--run-dir", str(tmp_path / "run")])
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists() and not (tmp_path / "datasets").exists()

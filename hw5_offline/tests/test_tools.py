"""The instructor tool that makes the Hopper datasets, piece by piece and end to end on tiny
budgets: the behaviour policies it exports act as homework 3's SAC actor and homework 1's expert
do, bit for bit; a dataset over its size is refused; the medium run's rounds and their stop rule.
Skipped where homework 3's reference is absent (a student's copy). Recording and the normalised
score are hw5_offline.hopper_data's, tested in test_hopper_data.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("hw3_q_learning.run")

from hw1_imitation.expert import expert_path, load_expert  # noqa: E402
from hw3_q_learning.export import SavedPolicy  # noqa: E402
from hw3_q_learning.sac import rescale_actions  # noqa: E402
from hw5_offline.datasets import list_datasets, load_dataset  # noqa: E402
from hw5_offline.hopper_data import load_behaviour, normalized_score  # noqa: E402
from hw5_offline.tools import make_hopper_datasets as tool  # noqa: E402
from hw5_offline.tools.make_hopper_datasets import (  # noqa: E402
    Round,
    behaviour_of,
    choose_round,
    export_behaviour,
)
from infrastructure.torch_utils import to_numpy, to_torch  # noqa: E402

ENV = "Hopper-v5"


# ---- the exported behaviour policies ---------------------------------------------------------


def test_the_exported_expert_is_hw1s_expert_plus_clipped_noise(tmp_path):
    observations = np.random.default_rng(0).normal(size=(500, 11)) * 3
    export_behaviour(expert_path(ENV), tmp_path / "expert.npz", "the expert")
    policy = load_behaviour(tmp_path / "expert.npz", np.random.default_rng(1), env_id=ENV)
    assert (policy.kind, policy.about, policy.constants) == (
        "noisy_mean",
        "the expert",
        {"noise_std": tool.EXPERT_NOISE},
    )
    # What the tool recorded before the policies were files: hw1's expert, plus noise of std
    # EXPERT_NOISE times half the range drawn from the dataset's generator, clipped.
    expert = load_expert(expert_path(ENV))
    low, high = expert.action_low, expert.action_high
    noise = np.random.default_rng(1).standard_normal((500, 3))
    expected = np.clip(expert(observations) + 0.1 * 0.5 * (high - low) * noise, low, high)
    np.testing.assert_array_equal(policy(observations), expected.astype(np.float32))
    assert (tmp_path / "expert.npz").stat().st_size < 100_000


def test_behaviour_of_refuses_a_file_it_cannot_read(tmp_path):
    with pytest.raises(ValueError, match=r"expected a SAC actor \(policy.pt\) or a homework-1"):
        behaviour_of(tmp_path / "policy.json", "?", np.random.default_rng(0))


# ---- a dataset over its size ----------------------------------------------------------------


def test_make_dataset_refuses_and_deletes_a_dataset_over_its_size(tmp_path):
    references = {"random": {"return_mean": 0.0}, "expert": {"return_mean": 1000.0}}
    common = dict(transitions=300, root=tmp_path, references=references)
    with pytest.raises(ValueError, match="'hopper/medium-v0': expected at most 1000 bytes"):
        tool.make_dataset("medium", **common, max_bytes=1000)
    assert list_datasets(tmp_path) == []
    entry = tool.make_dataset("medium", **common)
    assert entry["transitions"] == 300 and entry["episodes"] == entry["complete_episodes"] + 1
    assert entry["normalized_score"] == pytest.approx(entry["return_mean"] / 10.0, abs=0.1)
    assert 0 < entry["bytes"] <= tool.MAX_BYTES and entry["seed"] == 2_000
    assert list_datasets(tmp_path) == ["hopper/medium-v0"]


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

    # Its actor as a behaviour policy samples as SAC does, bit for bit.
    observations = np.random.default_rng(0).normal(size=(64, 11))
    behaviour = behaviour_of(run_dir / "policy_500.pt", "SAC", np.random.default_rng(0))
    actions = behaviour(observations)
    assert actions.shape == (64, 3) and actions.dtype == np.float32
    saved = SavedPolicy(run_dir / "policy_500.pt")
    with torch.no_grad():
        means, log_stds = saved.actor(to_torch(observations, "cpu"))
    noise = np.random.default_rng(0).standard_normal((64, 3))
    samples = np.tanh(to_numpy(means) + np.exp(to_numpy(log_stds)) * noise)
    expected = rescale_actions(samples, saved.low, saved.high).astype(np.float32)
    np.testing.assert_array_equal(actions, expected)
    assert not np.allclose(actions, saved(observations), atol=0.05)  # samples, not the mean


def test_main_records_both_datasets_with_their_scores_and_keeps_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tool, "REFERENCE_EPISODES", 5)
    root = tmp_path / "datasets"
    behaviour_dir = tmp_path / "behaviour"
    args = ["--run-dir", str(tmp_path / "run"), "--datasets-dir", str(root), "--max-steps", "200"]
    args += ["--round-steps", "200", "--eval-episodes", "1", "--transitions", "1200"]
    args += ["--behaviour-dir", str(behaviour_dir)]
    scores = tool.main(args)  # an untrained medium policy, an expert episode and a cut one

    assert list_datasets(root) == ["hopper/expert-v0", "hopper/medium-v0"]
    assert sorted(p.name for p in behaviour_dir.iterdir()) == [
        "hopper-expert.npz",
        "hopper-medium.npz",
    ]
    medium = load_behaviour(behaviour_dir / "hopper-medium.npz", np.random.default_rng(0), ENV)
    assert medium.about == "SAC's stochastic policy after 200 steps (seed 1)"
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

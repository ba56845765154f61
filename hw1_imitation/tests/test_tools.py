"""The instructor tools, end to end with a tiny budget: train (and resume) an expert with the
homework-3 SAC reference, export it, record its demonstrations. Skipped where homework 3's
reference is absent (a student's copy)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("hw3_q_learning.run")

from hw1_imitation.expert import load_demos, load_expert, read_manifest  # noqa: E402
from hw1_imitation.tools import record_demos, train_expert  # noqa: E402
from hw3_q_learning.export import SavedPolicy  # noqa: E402
from infrastructure.envs import make_env  # noqa: E402


def test_train_resume_export_and_record(tmp_path, capsys):
    run_dir, expert_dir = tmp_path / "run", tmp_path / "experts"
    common = ["--env", "Hopper-v5", "--run-dir", str(run_dir), "--expert-dir", str(expert_dir)]
    train_expert.main([*common, "--total-steps", "300", "--eval-episodes", "2"])
    train_expert.main([*common, "--total-steps", "600", "--eval-episodes", "2"])
    assert "resumed from" in capsys.readouterr().out  # the second call went on from the first
    assert json.loads((run_dir / "config.json").read_text())["total_steps"] == 600

    expert = load_expert(expert_dir / "Hopper-v5.npz", make_env("Hopper-v5"))
    observations = np.random.default_rng(0).normal(size=(8, 11)).astype(np.float32)
    np.testing.assert_allclose(
        expert(observations), SavedPolicy(run_dir / "policy.pt")(observations), atol=1e-5
    )

    record_demos.main(["--env", "Hopper-v5", "--episodes", "2", "--expert-dir", str(expert_dir)])
    demos = load_demos(expert_dir / "Hopper-v5_demos.npz", make_env("Hopper-v5"))
    manifest = read_manifest(expert_dir)["Hopper-v5"]
    assert manifest["expert"]["sac_steps"] == 600 and manifest["expert"]["target"] == 2500.0
    assert manifest["expert"]["episodes"] == 2 and len(manifest["expert"]["returns"]) == 2
    assert manifest["demos"]["episodes"] == demos.num_episodes == 2
    np.testing.assert_allclose(manifest["demos"]["returns"], demos.episode_returns, atol=0.05)


def test_the_sac_config_of_an_environment_without_a_hw3_preset():
    config = train_expert.sac_config("Walker2d-v5", tmp_dir := train_expert.RUN_ROOT / "x")
    assert config.env == "Walker2d-v5" and config.resume and config.logdir == str(tmp_dir)
    assert config.total_steps == train_expert.SAC_STEPS["Walker2d-v5"]
    assert config.checkpoint_every is not None


def test_until_target_rounds_count_from_the_checkpoint(tmp_path, capsys):
    run_dir, expert_dir = tmp_path / "run", tmp_path / "experts"
    common = ["--env", "Hopper-v5", "--run-dir", str(run_dir), "--expert-dir", str(expert_dir)]
    common += ["--until-target", "--round-steps", "200", "--eval-episodes", "1"]

    def rounds(total_steps: int) -> list[int]:
        train_expert.main([*common, "--total-steps", str(total_steps)])
        lines = [line for line in capsys.readouterr().out.splitlines() if " SAC steps" in line]
        return [int(line.split(" SAC steps")[0].split()[-1]) for line in lines]

    assert rounds(300) == [200, 300]  # the last round is cut at --total-steps
    assert rounds(500) == [400, 500]  # resumed at 300: the first round ends at 400
    assert rounds(500) == [500]  # a checkpoint on a round's end is measured, not trained on
    assert read_manifest(expert_dir)["Hopper-v5"]["expert"]["sac_steps"] == 500

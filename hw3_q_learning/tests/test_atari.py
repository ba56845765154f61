"""Public tests of homework 3 on Atari: the convolutional Q-network, one DQN update on a tiny
batch of fake frames, and training on a real game storing each frame once (a few seconds)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from hw3_q_learning.config import DQN_PRESETS, DQNConfig
from hw3_q_learning.dqn import ConvQNetwork, DQNAgent, QNetwork
from hw3_q_learning.run import DQNTrainer, parse_args
from infrastructure.replay_buffer import FrameBuffer

GAME = "ALE/MsPacman-v5"


@pytest.fixture(autouse=True)
def one_thread():
    """Convolutions on two threads of a busy 2-core machine wait on each other (training sets one
    thread too, see ``--num-threads``)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_the_conv_network_maps_stacks_of_frames_to_one_value_per_action():
    network = ConvQNetwork(4, (84, 84), num_actions=9)
    frames = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    assert network(frames).shape == (3, 9)
    # the Nature DQN layers, under the name the autograder loads weights by
    names = [name for name, _ in network.named_parameters()]
    assert names[0] == "q_net.0.weight" and names[-1] == "q_net.9.bias"
    assert network.q_net[7].in_features == 64 * 7 * 7  # 84 -> 20 -> 9 -> 7


def test_the_conv_network_scales_pixels_to_the_unit_interval():
    network = ConvQNetwork(2, (36, 36), num_actions=3)
    frames = torch.randint(0, 256, (2, 2, 36, 36), dtype=torch.uint8)
    expected = network.q_net(frames.float() / 255.0)
    torch.testing.assert_close(network(frames.float()), expected)


def test_frames_too_small_for_the_convolutions_are_an_error():
    with pytest.raises(ValueError, match=r"at least 36x36 pixels, got \(35, 84\)"):
        ConvQNetwork(4, (35, 84), num_actions=4)


def fake_frames_agent(**overrides: object) -> tuple[DQNAgent, gym.Space]:
    space = gym.spaces.Box(0, 255, (4, 36, 36), np.uint8)
    config = DQNConfig(batch_size=4, learning_rate=1e-3, **overrides)  # type: ignore[arg-type]
    agent = DQNAgent(space, gym.spaces.Discrete(3), config, torch.device("cpu"), rng())
    return agent, space


def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_stacks_of_frames_get_the_conv_network_and_flat_observations_the_mlp():
    agent, space = fake_frames_agent()
    assert isinstance(agent.q_network, ConvQNetwork)
    flat = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
    mlp_agent = DQNAgent(flat, gym.spaces.Discrete(2), DQNConfig(), torch.device("cpu"), rng())
    assert isinstance(mlp_agent.q_network, QNetwork)
    actions = agent.act(np.stack([space.sample() for _ in range(5)]), epsilon=0.0)
    assert actions.shape == (5,) and set(actions.tolist()) <= {0, 1, 2}


def test_one_update_on_a_tiny_batch_of_fake_frames():
    torch.manual_seed(0)
    agent, space = fake_frames_agent(target_update_period=2)
    space.seed(0)
    batch = {
        "observations": np.stack([space.sample() for _ in range(4)]),
        "actions": np.array([0, 1, 2, 1]),
        "rewards": np.array([1.0, 0.0, -1.0, 1.0], np.float32),
        "next_observations": np.stack([space.sample() for _ in range(4)]),
        "terminated": np.array([False, False, True, False]),
    }
    before = [p.detach().clone() for p in agent.q_network.parameters()]
    target_before = [p.detach().clone() for p in agent.target_network.parameters()]
    metrics = agent.update(batch)
    assert all(np.isfinite(v) for v in metrics.values())
    after = agent.q_network.parameters()
    changed = [not torch.equal(a, b) for a, b in zip(before, after, strict=True)]
    assert all(changed)  # every layer, the convolutions included, takes a step
    for a, b in zip(target_before, agent.target_network.parameters(), strict=True):
        assert torch.equal(a, b)  # the target network waits for target_update_period
    agent.update(batch)
    online, target = agent.q_network.parameters(), agent.target_network.parameters()
    for a, b in zip(online, target, strict=True):
        assert torch.equal(a, b)  # a hard update after the second gradient step


def atari_trainer(**overrides: object) -> DQNTrainer:
    config = {
        "env": GAME,
        "buffer_size": 500,
        "batch_size": 4,
        "learning_starts": 40,
        "train_frequency": 4,
        "clip_rewards": True,
        **overrides,
    }
    return DQNTrainer(config)


def test_training_on_a_game_stores_each_frame_once_and_clipped_rewards():
    trainer = atari_trainer()
    trainer.train_until(120)
    buffer = trainer.buffer
    assert isinstance(buffer, FrameBuffer) and len(buffer) == 120
    # one new frame per transition, plus the first frame of each episode (just one here)
    assert buffer.frames_stored == 121
    stored = buffer._arrays["rewards"][: len(buffer)]
    assert set(np.unique(stored).tolist()) <= {-1.0, 0.0, 1.0}
    assert "train/loss_critic" in trainer.update_metrics
    batch = buffer.sample(8)
    assert batch["observations"].shape == (8, 4, 84, 84)
    assert batch["observations"].dtype == np.uint8


def test_an_atari_checkpoint_restores_the_frames(tmp_path):
    trainer = atari_trainer()
    trainer.train_until(60)
    trainer.save_checkpoint(tmp_path / "checkpoint.pt")
    expected = trainer.buffer.sample(16)
    resumed = atari_trainer()
    resumed.load_checkpoint(tmp_path / "checkpoint.pt")
    assert resumed.total_steps == 60
    got = resumed.buffer.sample(16)  # the buffer's generator is restored as well
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name])
    resumed.train_until(80)  # and training goes on from there
    assert len(resumed.buffer) == 80


def test_the_atari_preset():
    config = parse_args(["dqn", "--env", GAME])
    assert config == DQN_PRESETS[GAME]
    assert isinstance(config, DQNConfig) and config.clip_rewards
    assert config.total_steps >= 500_000 and config.checkpoint_every is not None

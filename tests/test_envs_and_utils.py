"""Environment factory, PyTorch helpers and seeding."""

from __future__ import annotations

import random
import re

import gymnasium as gym
import numpy as np
import pytest
import torch

from infrastructure.envs import (
    action_dim,
    is_atari,
    is_discrete,
    make_env,
    space_shape,
)
from infrastructure.seeding import seed_everything
from infrastructure.torch_utils import (
    GaussianMLP,
    build_mlp,
    check_shape,
    mlp_forward,
    set_num_threads,
    to_numpy,
    to_torch,
    without_distribution_validation,
)

# ---------------------------------------------------------------------------------- make_env


@pytest.mark.parametrize(
    ("env_id", "kwargs", "obs_shape", "action_space"),
    [
        ("CartPole-v1", {}, (4,), gym.spaces.Discrete(2)),
        ("InvertedPendulum-v5", {}, (4,), gym.spaces.Box(-3.0, 3.0, (1,), np.float32)),
        ("LunarLander-v3", {}, (8,), gym.spaces.Discrete(4)),
        ("LunarLander-v3", {"continuous": True}, (8,), gym.spaces.Box(-1.0, 1.0, (2,), np.float32)),
    ],
)
# Box2D's SWIG bindings warn on import; nothing to do with us
@pytest.mark.filterwarnings("ignore:builtin type .* has no __module__:DeprecationWarning")
def test_make_env(env_id, kwargs, obs_shape, action_space):
    env = make_env(env_id, seed=0, **kwargs)
    obs, _ = env.reset(seed=0)
    assert obs.shape == obs_shape == env.observation_space.shape
    assert env.action_space == action_space
    obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
    assert obs.shape == obs_shape and isinstance(terminated, bool | np.bool_)
    env.close()


def test_make_env_seeds_the_action_space():
    def actions(seed: int) -> list[int]:
        env = make_env("CartPole-v1", seed=seed)
        return [int(env.action_space.sample()) for _ in range(32)]

    assert actions(1) == actions(1)
    assert actions(1) != actions(2)


def test_max_episode_steps_truncates(counter_env_id):
    env = make_env(counter_env_id, max_episode_steps=3)
    env.reset(seed=0)
    flags = [env.step(0)[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]
    # and overrides the registered limit of CartPole (500), which random play cannot hit in 5
    env = make_env("CartPole-v1", max_episode_steps=5)
    env.reset(seed=0)
    flags = [env.step(0)[2:4] for _ in range(5)]
    assert flags[-1] == (False, True) and not any(t or u for t, u in flags[:-1])


@pytest.mark.parametrize("value", [0, -1])
def test_max_episode_steps_must_be_positive(value):
    with pytest.raises(ValueError, match=f"^expected max_episode_steps > 0, got {value}$"):
        make_env("CartPole-v1", max_episode_steps=value)


def test_make_env_atari_stacks_84x84_frames():
    env = make_env("ALE/Pong-v5", seed=0)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    assert env.observation_space == gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    assert env.action_space == gym.spaces.Discrete(6)
    obs, *_ = env.step(0)
    assert obs.shape == (4, 84, 84)
    env.close()


def test_atari_max_episode_steps_counts_agent_steps():
    env = make_env("ALE/Pong-v5", seed=0, max_episode_steps=10)
    env.reset(seed=0)
    flags = [env.step(0)[2:4] for _ in range(10)]  # no point is over in 10 agent steps
    assert flags == [(False, False)] * 9 + [(False, True)]


def test_is_atari():
    assert is_atari("ALE/Pong-v5")
    assert not is_atari("CartPole-v1")


@pytest.mark.parametrize(
    ("space", "shape", "discrete", "dim"),
    [
        (gym.spaces.Discrete(3), (), True, 3),
        (gym.spaces.Box(-1.0, 1.0, (2,)), (2,), False, 2),
        (gym.spaces.Box(-1.0, 1.0, (2, 3)), (2, 3), False, 6),
    ],
)
def test_space_helpers(space, shape, discrete, dim):
    assert space_shape(space) == shape
    assert is_discrete(space) is discrete
    assert action_dim(space) == dim


def test_space_helpers_reject_other_spaces():
    with pytest.raises(TypeError, match="expected a Box or Discrete action space, got"):
        is_discrete(gym.spaces.MultiBinary(3))
    with pytest.raises(TypeError, match="expected a Box or Discrete space, got"):
        space_shape(gym.spaces.Text(5))


# ------------------------------------------------------------------------------- torch_utils


def test_build_mlp_layer_names_and_shapes():
    mlp = build_mlp(input_size=3, output_size=2, n_layers=2, size=8)
    assert {name: tuple(p.shape) for name, p in mlp.state_dict().items()} == {
        "0.weight": (8, 3),
        "0.bias": (8,),
        "2.weight": (8, 8),
        "2.bias": (8,),
        "4.weight": (2, 8),
        "4.bias": (2,),
    }
    assert [type(m) for m in mlp] == [
        torch.nn.Linear,
        torch.nn.Tanh,
        torch.nn.Linear,
        torch.nn.Tanh,
        torch.nn.Linear,
        torch.nn.Identity,
    ]
    assert mlp(torch.zeros(5, 3)).shape == (5, 2)


def test_build_mlp_without_hidden_layers_is_affine():
    mlp = build_mlp(input_size=2, output_size=2, n_layers=0, size=4, output_activation="relu")
    assert list(mlp.state_dict()) == ["0.weight", "0.bias"]
    with torch.no_grad():
        mlp[0].weight.copy_(torch.tensor([[1.0, 2.0], [-1.0, 0.0]]))
        mlp[0].bias.copy_(torch.tensor([0.5, 0.0]))
    # relu([1 + 2*2 + 0.5, -1]) = [5.5, 0]
    np.testing.assert_allclose(to_numpy(mlp(torch.tensor([[1.0, 2.0]]))), [[5.5, 0.0]])


@pytest.mark.parametrize("activation", ["relu", "tanh", "identity"])
def test_mlp_forward_is_the_modules_forward_bit_for_bit(activation):
    torch.manual_seed(0)
    mlp = build_mlp(4, 3, n_layers=2, size=32, activation=activation, output_activation="tanh")
    forward = mlp_forward(mlp)
    assert forward is not None
    x = torch.randn(64, 4)
    with torch.no_grad():
        assert torch.equal(forward(x), mlp(x))
        mlp.load_state_dict(build_mlp(4, 3, 2, 32, activation, "tanh").state_dict())
        mlp[0].weight.add_(1.0)  # in-place changes, as an optimizer makes them
        assert torch.equal(forward(x), mlp(x))


def test_mlp_forward_leaves_other_modules_to_their_own_call():
    assert mlp_forward(build_mlp(4, 3, n_layers=1, size=8, activation="elu")) is None
    assert mlp_forward(torch.nn.Linear(4, 3)) is None  # not a Sequential
    assert mlp_forward(torch.nn.Sequential()) is None
    hooked = build_mlp(4, 3, n_layers=1, size=8)
    hooked[0].register_forward_hook(lambda module, args, output: output * 2)
    assert mlp_forward(hooked) is None


def test_build_mlp_argument_errors():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "expected activation in ['elu', 'identity', 'leaky_relu', 'relu', 'sigmoid', "
            "'tanh'], got 'swish'"
        ),
    ):
        build_mlp(3, 2, n_layers=1, size=8, activation="swish")
    with pytest.raises(ValueError, match="expected output_activation in .*, got 'softmax'"):
        build_mlp(3, 2, n_layers=1, size=8, output_activation="softmax")
    with pytest.raises(
        ValueError,
        match=re.escape(
            "expected n_layers >= 0 and positive sizes, got n_layers=1, size=0, input_size=3, "
            "output_size=2"
        ),
    ):
        build_mlp(3, 2, n_layers=1, size=0)


def test_to_torch_and_back():
    device = torch.device("cpu")
    array = np.array([[1.5, -2.0], [3.25, 0.0]])  # float64
    tensor = to_torch(array, device)
    assert tensor.dtype == torch.float32 and tensor.device == device and tensor.shape == (2, 2)
    back = to_numpy(tensor)
    assert isinstance(back, np.ndarray) and back.dtype == np.float32
    np.testing.assert_array_equal(back, array)  # these values are exact in float32
    assert to_torch([1, 2], "cpu", dtype=torch.int64).dtype == torch.int64
    assert to_torch(3.0, "cpu").shape == ()
    grad = torch.ones(2, requires_grad=True) * 2  # to_numpy detaches
    np.testing.assert_array_equal(to_numpy(grad), [2.0, 2.0])
    assert to_torch(tensor.double(), "cpu").dtype == torch.float32


def test_set_num_threads():
    before = torch.get_num_threads()
    try:
        # from another count each way: under pytest-xdist a worker already runs on one thread
        set_num_threads(2)
        assert torch.get_num_threads() == 2
        set_num_threads(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match=re.escape("expected num_threads >= 1, got 0")):
        set_num_threads(0)


def test_check_shape_returns_what_it_checked():
    tensor, array = torch.zeros(3, 2), np.zeros(())
    assert check_shape(tensor, (3, 2), "f") is tensor
    assert check_shape(array, (), "g") is array


def test_check_shape_errors_name_the_function_and_both_shapes():
    with pytest.raises(
        ValueError, match=re.escape("compute_gae returned shape (3, 1), expected (3,)")
    ):
        check_shape(torch.zeros(3, 1), (3,), "compute_gae")
    with pytest.raises(
        TypeError,
        match=re.escape("value_loss returned float, expected an array or tensor of shape ()"),
    ):
        check_shape(0.5, (), "value_loss")  # type: ignore[type-var]


def test_gaussian_mlp_builds_the_parameters_the_autograder_loads_by_name():
    module = GaussianMLP(obs_dim=3, action_dim=2, n_layers=1, size=8, log_std_init=-0.5)
    shapes = {name: tuple(p.shape) for name, p in module.state_dict().items()}
    assert shapes == {
        "mean_net.0.weight": (8, 3),
        "mean_net.0.bias": (8,),
        "mean_net.2.weight": (2, 8),
        "mean_net.2.bias": (2,),
        "log_std": (2,),
    }
    assert module.action_dim == 2
    assert module.log_std.requires_grad
    torch.testing.assert_close(module.log_std.detach(), torch.full((2,), -0.5))
    assert isinstance(module.mean_net[1], torch.nn.Tanh)
    relu = GaussianMLP(3, 2, n_layers=1, size=8, activation="relu")
    assert isinstance(relu.mean_net[1], torch.nn.ReLU)


def test_without_distribution_validation_turns_it_off_inside_only():
    validating = torch.distributions.Distribution._validate_args

    @without_distribution_validation
    def build(scale: float) -> torch.distributions.Normal:
        """docstring kept"""
        assert torch.distributions.Distribution._validate_args is False
        return torch.distributions.Normal(0.0, scale)

    build(-1.0)  # not checked inside: no error
    assert build.__doc__ == "docstring kept"
    assert torch.distributions.Distribution._validate_args == validating

    @without_distribution_validation
    def fail() -> None:
        raise RuntimeError("inside")

    with pytest.raises(RuntimeError, match="inside"):
        fail()
    assert torch.distributions.Distribution._validate_args == validating  # put back after an error


# ---------------------------------------------------------------------------------- seeding


def _draws() -> tuple[list[float], list[float], float]:
    # the global generators on purpose: they are what seed_everything seeds
    return torch.randn(4).tolist(), np.random.rand(4).tolist(), random.random()  # noqa: NPY002


def test_seed_everything_makes_global_generators_reproducible():
    seed_everything(123)
    first = _draws()
    seed_everything(123)
    assert _draws() == first
    seed_everything(124)
    other = _draws()
    assert all(a != b for a, b in zip(first, other, strict=True))


def test_seed_everything_returns_a_seeded_generator():
    assert seed_everything(5).random() == np.random.default_rng(5).random()


def test_seed_everything_takes_numpy_integers():
    seed_everything(np.int64(5))
    first = _draws()
    seed_everything(5)
    assert _draws() == first


@pytest.mark.parametrize(
    ("seed", "error", "message"),
    [
        (-1, ValueError, "expected a seed >= 0, got -1"),
        (True, TypeError, "expected an integer seed, got True"),
        (1.0, TypeError, "expected an integer seed, got 1.0"),
        ("1", TypeError, "expected an integer seed, got '1'"),
    ],
)
def test_seed_everything_rejects_bad_seeds(seed, error, message):
    with pytest.raises(error, match=re.escape(message)):
        seed_everything(seed)

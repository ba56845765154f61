"""Small PyTorch helpers: MLPs, numpy <-> tensor conversion with an explicit device, threads,
shape checks, and the parameters of a Gaussian policy."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import numpy as np
import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}


def build_mlp(
    input_size: int,
    output_size: int,
    n_layers: int,
    size: int,
    activation: str = "tanh",
    output_activation: str = "identity",
) -> nn.Sequential:
    """A multi-layer perceptron: ``n_layers`` hidden layers of width ``size``.

    Layers are numbered so that parameter names are stable (``0.weight``, ``0.bias``,
    ``2.weight``, ...): the autograder loads reference weights into student networks by name.

    Args:
        input_size: dimension of the input vector.
        output_size: dimension of the output vector.
        n_layers: number of hidden layers (0 gives a single linear layer).
        size: width of each hidden layer.
        activation: one of ``ACTIVATIONS``, used after each hidden layer.
        output_activation: one of ``ACTIVATIONS``, used after the last layer.
    """
    for name, value in (("activation", activation), ("output_activation", output_activation)):
        if value not in ACTIVATIONS:
            raise ValueError(f"expected {name} in {sorted(ACTIVATIONS)}, got {value!r}")
    if n_layers < 0 or size <= 0 or input_size <= 0 or output_size <= 0:
        raise ValueError(
            "expected n_layers >= 0 and positive sizes, got "
            f"n_layers={n_layers}, size={size}, input_size={input_size}, output_size={output_size}"
        )
    layers: list[nn.Module] = []
    in_size = input_size
    for _ in range(n_layers):
        layers += [nn.Linear(in_size, size), ACTIVATIONS[activation]()]
        in_size = size
    layers += [nn.Linear(in_size, output_size), ACTIVATIONS[output_activation]()]
    return nn.Sequential(*layers)


class GaussianMLP(nn.Module):
    """The parameters of a diagonal Gaussian policy :math:`\\mathcal{N}(\\mu_\\theta(s),
    \\mathrm{diag}(\\sigma^2))` with a state-independent, learned :math:`\\log \\sigma`:
    ``mean_net``, an MLP from ``obs_dim`` to ``action_dim`` (see :func:`build_mlp`), and
    ``log_std``, shape ``(action_dim,)``, every entry ``log_std_init`` at first.

    Only the construction is here, shared by the homeworks' Gaussian policies, so that every
    one of them has these parameter names (the autograder loads reference weights into a
    student's policy by name). What the policy computes from them, its distribution, each
    homework's policy writes.
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        n_layers: int,
        size: int,
        activation: str = "tanh",
        log_std_init: float = 0.0,
    ):
        super().__init__()
        self.action_dim = action_dim
        self.mean_net = build_mlp(obs_dim, action_dim, n_layers, size, activation)
        self.log_std = nn.Parameter(torch.full((action_dim,), float(log_std_init)))


def to_torch(
    x: Any, device: torch.device | str, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Convert an array (or number, or tensor) to a tensor of ``dtype`` on ``device``."""
    return torch.as_tensor(
        np.asarray(x) if not isinstance(x, torch.Tensor) else x, dtype=dtype, device=device
    )


# The functions nn.ReLU, nn.Tanh and nn.Identity call in their forward().
_ACTIVATION_FUNCTIONS: dict[type[nn.Module], Callable[[torch.Tensor], torch.Tensor]] = {
    nn.ReLU: torch.relu,
    nn.Tanh: torch.tanh,
    nn.Identity: lambda x: x,
}


def _linear(layer: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """``layer(x)`` without the module call: its parameters as they are now."""
    return nn.functional.linear(x, layer.weight, layer.bias)


def mlp_forward(mlp: nn.Module) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The forward pass of ``mlp`` as a plain function, for acting on one observation at a time.

    Calling a module costs some microseconds on a CPU before any arithmetic (hooks, the
    ``Sequential`` container, one call per layer), as much as the matrix products of a small
    MLP on one observation, which a DQN agent makes at every environment step. The function
    returned calls the same operations (``F.linear`` and the activation) on the same
    parameters without the module machinery, so its results are the module's, bit for bit,
    and it follows every change of the parameters.

    Returns None, and the caller keeps calling the module, unless ``mlp`` is an
    ``nn.Sequential`` of ``nn.Linear`` layers and ReLU, Tanh or Identity activations (what
    :func:`build_mlp` makes with those) without hooks.
    """
    if not isinstance(mlp, nn.Sequential) or len(mlp) == 0:
        return None
    if any(module._forward_hooks or module._forward_pre_hooks for module in mlp.modules()):
        return None
    steps: list[Callable[[torch.Tensor], torch.Tensor]] = []
    for layer in mlp:
        if type(layer) is nn.Linear:
            steps.append(functools.partial(_linear, layer))
        elif type(layer) in _ACTIVATION_FUNCTIONS:
            steps.append(_ACTIVATION_FUNCTIONS[type(layer)])
        else:
            return None

    def forward(x: torch.Tensor) -> torch.Tensor:
        for step in steps:
            x = step(x)
        return x

    return forward


ArrayOrTensor = TypeVar("ArrayOrTensor", np.ndarray, torch.Tensor)


def check_shape(x: ArrayOrTensor, shape: tuple[int, ...], name: str) -> ArrayOrTensor:
    """``x`` itself when it (an array or tensor) has ``shape``; otherwise an error that says
    which function returned what. Homeworks check what the functions students write return
    before using it, so a wrong shape fails at that function rather than deep in a loss."""
    got = getattr(x, "shape", None)
    if got is None:
        raise TypeError(
            f"{name} returned {type(x).__name__}, expected an array or tensor of shape "
            f"{tuple(shape)}"
        )
    if tuple(got) != tuple(shape):
        raise ValueError(f"{name} returned shape {tuple(got)}, expected {tuple(shape)}")
    return x


def to_numpy(x: torch.Tensor) -> np.ndarray:
    """Detach a tensor and return it as a NumPy array on the CPU."""
    return x.detach().cpu().numpy()


def set_num_threads(num_threads: int) -> None:
    """Set PyTorch's intra-op threads. One thread is fastest for small MLPs on a laptop CPU
    (``python bench/threads.py`` measures it on your machine)."""
    if num_threads < 1:
        raise ValueError(f"expected num_threads >= 1, got {num_threads}")
    torch.set_num_threads(num_threads)


P = ParamSpec("P")
R = TypeVar("R")


def without_distribution_validation(method: Callable[P, R]) -> Callable[P, R]:
    """``method`` with ``torch.distributions``' argument checks off while it runs.

    Building or sampling a distribution checks its arguments by default, which costs more than
    a small network's forward pass on one observation. A trainer's acting and updating methods
    wear this decorator; the setting is put back when they return, so that importing or using
    a homework leaves the process (the grader's, for one) as it was.
    """

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        before = torch.distributions.Distribution._validate_args
        torch.distributions.Distribution.set_default_validate_args(False)
        try:
            return method(*args, **kwargs)
        finally:
            torch.distributions.Distribution.set_default_validate_args(before)

    return wrapper

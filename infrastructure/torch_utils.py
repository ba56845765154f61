"""Small PyTorch helpers: MLPs, numpy <-> tensor conversion with an explicit device, threads."""

from __future__ import annotations

from typing import Any

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


def to_torch(
    x: Any, device: torch.device | str, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Convert an array (or number, or tensor) to a tensor of ``dtype`` on ``device``."""
    return torch.as_tensor(
        np.asarray(x) if not isinstance(x, torch.Tensor) else x, dtype=dtype, device=device
    )


def to_numpy(x: torch.Tensor) -> np.ndarray:
    """Detach a tensor and return it as a NumPy array on the CPU."""
    return x.detach().cpu().numpy()


def set_num_threads(num_threads: int) -> None:
    """Set PyTorch's intra-op threads. One thread is fastest for small MLPs on a laptop CPU
    (``python bench/threads.py`` measures it on your machine)."""
    if num_threads < 1:
        raise ValueError(f"expected num_threads >= 1, got {num_threads}")
    torch.set_num_threads(num_threads)

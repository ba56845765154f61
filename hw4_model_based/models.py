"""An ensemble of learned dynamics models, top to bottom: normalisation statistics, one batched
forward pass over the members, un-normalised predictions, the loss and a training step.

Notation (lecture): a transition :math:`(s, a, s')`, the state change
:math:`\\Delta = s' - s`, and :math:`E` models :math:`f_{\\theta_1}, \\dots, f_{\\theta_E}`. Each
member sees normalised inputs and predicts the *normalised* state change:

.. math::

    \\hat s = \\frac{s - \\mu_s}{\\sigma_s}, \\quad \\hat a = \\frac{a - \\mu_a}{\\sigma_a}, \\quad
    f_{\\theta_e}(\\hat s, \\hat a) \\approx \\frac{\\Delta - \\mu_\\Delta}{\\sigma_\\Delta}, \\quad
    s' \\approx s + \\mu_\\Delta + \\sigma_\\Delta \\, f_{\\theta_e}(\\hat s, \\hat a)

Predicting the change rather than the next state makes the target small and centred (a
network that outputs zero already predicts "nothing moves"), and normalising every input and
output puts all dimensions on the same scale, whatever their units. Each member trains on a
bootstrapped minibatch of its own, so the members disagree where data is scarce: their spread
is the ensemble's estimate of its own uncertainty, and planning averages over it.

The members are not E modules run one after the other: their weights are stacked, shape
``(E, in, out)``, and one batched matrix product computes all E members at once.

The functions between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` are yours to write;
everything else is given.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from infrastructure.torch_utils import ACTIVATIONS

# ---------------------------------------------------------------------------------------------
# Normalisation statistics
# ---------------------------------------------------------------------------------------------


def mean_and_std(x: torch.Tensor, min_std: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean and the standard deviation of each column of ``x``, the std floored at
    ``min_std``.

    .. math:: \\mu_j = \\frac1B \\sum_i x_{ij}, \\qquad
        \\sigma_j = \\max\\Big(\\sqrt{\\tfrac1B \\textstyle\\sum_i (x_{ij} - \\mu_j)^2},\\;
        \\sigma_{\\min}\\Big)

    The std divides by :math:`B` (the population std, ``unbiased=False``). The floor keeps the
    normalisation finite for a dimension that never changes in the data (a std of 0 would
    divide by zero).

    Args:
        x: shape ``(B, d)``, one row per transition.
        min_std: :math:`\\sigma_{\\min} > 0`.

    Returns:
        ``(mean, std)``, each of shape ``(d,)``.
    """
    ### BEGIN SOLUTION
    mean = x.mean(dim=0)
    std = x.std(dim=0, unbiased=False).clamp(min=min_std)
    return mean, std
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# The ensemble
# ---------------------------------------------------------------------------------------------


class DynamicsEnsemble(nn.Module):
    """E MLP dynamics models :math:`f_{\\theta_e}(\\hat s, \\hat a)` computed in one batched pass.

    Parameters: ``weights.0`` ... ``weights.L``, shape ``(E, in, out)``, and ``biases.0`` ...
    ``biases.L``, shape ``(E, 1, out)``: layer ``l`` of member ``e`` maps ``h`` (shape
    ``(B, in)``) to ``h @ weights[l][e] + biases[l][e]``. The ``n_layers`` hidden layers are
    followed by ``activation``; the last layer is linear. The input is the normalised
    observation and action side by side, ``obs_dim + action_dim`` numbers; the output is the
    normalised state change, ``obs_dim`` numbers.

    Buffers (saved with the weights, not trained): ``obs_mean``, ``obs_std``, ``action_mean``,
    ``action_std``, ``delta_mean``, ``delta_std``, the normalisation statistics that
    :meth:`update_statistics` sets from the replay data (0 and 1 until then).

    Args:
        obs_dim: length of an observation.
        action_dim: length of an action.
        ensemble_size: :math:`E \\ge 1`, number of members.
        n_layers: hidden layers of each member.
        size: width of each hidden layer.
        activation: one of ``infrastructure.torch_utils.ACTIVATIONS``.
        min_std: floor of every normalisation std (see :func:`mean_and_std`).
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        ensemble_size: int,
        n_layers: int,
        size: int,
        activation: str = "relu",
        min_std: float = 1e-6,
    ):
        super().__init__()
        if ensemble_size < 1:
            raise ValueError(f"expected ensemble_size >= 1, got {ensemble_size}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"expected activation in {sorted(ACTIVATIONS)}, got {activation!r}")
        if n_layers < 0 or size < 1 or obs_dim < 1 or action_dim < 1:
            raise ValueError(
                "expected n_layers >= 0 and positive sizes, got "
                f"n_layers={n_layers}, size={size}, obs_dim={obs_dim}, action_dim={action_dim}"
            )
        self.obs_dim, self.action_dim, self.ensemble_size = obs_dim, action_dim, ensemble_size
        self.min_std = min_std
        self.activation = ACTIVATIONS[activation]()
        sizes = [obs_dim + action_dim] + [size] * n_layers + [obs_dim]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            # nn.Linear's initialisation, member by member: uniform in +-1/sqrt(fan_in)
            bound = 1.0 / math.sqrt(fan_in)
            weight = (2 * torch.rand(ensemble_size, fan_in, fan_out) - 1) * bound
            bias = (2 * torch.rand(ensemble_size, 1, fan_out) - 1) * bound
            self.weights.append(nn.Parameter(weight))
            self.biases.append(nn.Parameter(bias))
        for name, dim in (("obs", obs_dim), ("action", action_dim), ("delta", obs_dim)):
            self.register_buffer(f"{name}_mean", torch.zeros(dim))
            self.register_buffer(f"{name}_std", torch.ones(dim))

    # Typed views of the buffers registered above.
    obs_mean: torch.Tensor
    obs_std: torch.Tensor
    action_mean: torch.Tensor
    action_std: torch.Tensor
    delta_mean: torch.Tensor
    delta_std: torch.Tensor

    @torch.no_grad()
    def update_statistics(
        self, observations: torch.Tensor, actions: torch.Tensor, next_observations: torch.Tensor
    ) -> None:
        """Set the six normalisation buffers from the replay data: the mean and std
        (:func:`mean_and_std` with ``self.min_std``) of the observations, of the actions and of
        the state changes :math:`\\Delta = s' - s`.

        Write into the buffers in place (``self.obs_mean.copy_(...)``): they stay the tensors
        the module registered, so ``state_dict`` and ``.to(device)`` keep seeing them.

        Args:
            observations: shape ``(n, obs_dim)``, :math:`s`.
            actions: shape ``(n, action_dim)``, :math:`a`.
            next_observations: shape ``(n, obs_dim)``, :math:`s'`.
        """
        ### BEGIN SOLUTION
        for name, values in (
            ("obs", observations),
            ("action", actions),
            ("delta", next_observations - observations),
        ):
            mean, std = mean_and_std(values, self.min_std)
            getattr(self, f"{name}_mean").copy_(mean)
            getattr(self, f"{name}_std").copy_(std)
        ### END SOLUTION

    def forward(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Every member's prediction of the *normalised* state change, in one batched pass.

        Normalise the observations and actions with the buffers, put them side by side, then
        apply each layer to all members at once: ``torch.baddbmm(biases[l], h, weights[l])``
        (or ``h @ weights[l] + biases[l]``) maps ``h`` of shape ``(E, B, in)`` to
        ``(E, B, out)``, member ``e`` with its own weights. The hidden layers are followed by
        ``self.activation``, the last one is not. No Python loop over members.

        Args:
            observations: shape ``(E, B, obs_dim)``, :math:`s`, one batch per member.
            actions: shape ``(E, B, action_dim)``, :math:`a`.

        Returns:
            shape ``(E, B, obs_dim)``, :math:`f_{\\theta_e}(\\hat s, \\hat a)` for every member
            ``e``.
        """
        ### BEGIN SOLUTION
        normalised_obs = (observations - self.obs_mean) / self.obs_std
        normalised_actions = (actions - self.action_mean) / self.action_std
        h = torch.cat([normalised_obs, normalised_actions], dim=-1)
        last = len(self.weights) - 1
        for layer, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.baddbmm(bias, h, weight)
            if layer < last:
                h = self.activation(h)
        return h
        ### END SOLUTION

    def predict(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Every member's prediction of the next observation, in the environment's units:

        .. math:: s' = s + \\mu_\\Delta + \\sigma_\\Delta \\, f_{\\theta_e}(\\hat s, \\hat a)

        Args:
            observations: shape ``(E, B, obs_dim)``, :math:`s`.
            actions: shape ``(E, B, action_dim)``, :math:`a`.

        Returns:
            shape ``(E, B, obs_dim)``, :math:`s'` predicted by each member.
        """
        ### BEGIN SOLUTION
        normalised_deltas = self(observations, actions)
        return observations + self.delta_mean + self.delta_std * normalised_deltas
        ### END SOLUTION

    def loss(
        self, observations: torch.Tensor, actions: torch.Tensor, next_observations: torch.Tensor
    ) -> torch.Tensor:
        """The mean squared error between each member's prediction and the normalised state
        change of its own batch:

        .. math:: L = \\frac{1}{E B d} \\sum_{e, i, j} \\Big( f_{\\theta_e}(\\hat s_{ei},
            \\hat a_{ei})_j - \\frac{\\Delta_{eij} - \\mu_{\\Delta j}}{\\sigma_{\\Delta j}}
            \\Big)^2

        The target is the normalised change, computed from the data with the buffers (no
        gradient flows into it). The mean over members gives each member's weights :math:`1/E`
        of the gradient of its own loss; Adam's steps do not depend on that scale.

        Args:
            observations: shape ``(E, B, obs_dim)``, :math:`s`, member ``e``'s batch in row
                ``e``.
            actions: shape ``(E, B, action_dim)``, :math:`a`.
            next_observations: shape ``(E, B, obs_dim)``, :math:`s'`.

        Returns:
            a scalar tensor.
        """
        ### BEGIN SOLUTION
        targets = (next_observations - observations - self.delta_mean) / self.delta_std
        predictions = self(observations, actions)
        return ((predictions - targets.detach()) ** 2).mean()
        ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Training: a bootstrapped minibatch per member
# ---------------------------------------------------------------------------------------------


def bootstrap_indices(
    num_transitions: int, ensemble_size: int, batch_size: int, generator: torch.Generator
) -> torch.Tensor:
    """The indices of one minibatch per member, each drawn uniformly *with replacement* from
    all ``num_transitions`` stored transitions, independently for every member: the members
    see different data, which is what makes them disagree where data is scarce.

    Draw them all with one call, ``torch.randint(num_transitions, (ensemble_size,
    batch_size), generator=generator)``, so that the same generator state gives the same
    indices (the tests and the grader rely on it).

    Args:
        num_transitions: :math:`n \\ge 1`, transitions to draw from.
        ensemble_size: :math:`E`.
        batch_size: :math:`B`, transitions per member.
        generator: the generator of the draw.

    Returns:
        shape ``(E, B)``, integers (``torch.long``) in ``[0, n)``; row ``e`` is member
        ``e``'s minibatch.
    """
    ### BEGIN SOLUTION
    return torch.randint(num_transitions, (ensemble_size, batch_size), generator=generator)
    ### END SOLUTION


def update_ensemble(
    ensemble: DynamicsEnsemble,
    optimizer: torch.optim.Optimizer,
    observations: torch.Tensor,
    actions: torch.Tensor,
    next_observations: torch.Tensor,
    indices: torch.Tensor,
) -> float:
    """One gradient step of every member on its own minibatch.

    Gather member ``e``'s transitions ``observations[indices[e]]`` (indexing with the whole
    ``(E, B)`` tensor gathers all members at once, shape ``(E, B, obs_dim)``), compute
    :meth:`DynamicsEnsemble.loss`, and take one ``optimizer`` step on it (clear the old
    gradients first).

    Args:
        ensemble: the models; ``optimizer`` updates its parameters.
        optimizer: e.g. Adam over ``ensemble.parameters()``.
        observations: shape ``(n, obs_dim)``, every stored :math:`s`.
        actions: shape ``(n, action_dim)``, every stored :math:`a`.
        next_observations: shape ``(n, obs_dim)``, every stored :math:`s'`.
        indices: shape ``(E, B)``, from :func:`bootstrap_indices`.

    Returns:
        the loss before the step, a float.
    """
    ### BEGIN SOLUTION
    loss = ensemble.loss(observations[indices], actions[indices], next_observations[indices])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()
    ### END SOLUTION

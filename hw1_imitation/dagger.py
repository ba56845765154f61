"""DAgger (dataset aggregation, Ross et al., 2011): make the data come from the learner's
state distribution instead of the expert's.

Behaviour cloning trains on states of :math:`p_{\\pi^*}(s)`, but the learner is run on states
of :math:`p_{\\pi_\\theta}(s)`; small mistakes take it to states the expert never visited,
where it has no data, and the mistakes compound. DAgger asks the expert what it would have done
in the states the learner visits:

1. train :math:`\\pi_\\theta` on the demonstrations :math:`\\mathcal D`;
2. run :math:`\\pi_\\theta` to get :math:`\\mathcal D_\\pi = \\{s_1, \\dots, s_M\\}`;
3. ask the expert to label :math:`\\mathcal D_\\pi` with actions :math:`a_t = \\pi^*(s_t)`;
4. aggregate: :math:`\\mathcal D \\leftarrow \\mathcal D \\cup \\mathcal D_\\pi`; go to 1.

The functions between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` are yours to write;
everything else is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hw1_imitation.expert import check_pairs
from infrastructure.sampler import Batch, Sampler

Policy = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Dataset:
    """Pairs :math:`(s_i, a_i)` of states and the expert's actions in them.

    ================  ===================
    field             shape
    ================  ===================
    ``observations``  ``(N, obs_dim)``
    ``actions``       ``(N, action_dim)``
    ================  ===================
    """

    observations: np.ndarray
    actions: np.ndarray

    def __post_init__(self) -> None:
        check_pairs(self.observations, self.actions)

    def __len__(self) -> int:
        return len(self.observations)

    def sample(self, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """A minibatch ``(observations, actions)`` drawn uniformly with replacement."""
        index = rng.integers(0, len(self), size=batch_size)
        return self.observations[index], self.actions[index]


def relabel(expert: Policy, observations: np.ndarray) -> np.ndarray:
    """The expert's actions in the states the learner visited: :math:`a_t = \\pi^*(s_t)`.

    Args:
        expert: the expert policy; ``expert(observations)`` returns ``(M, action_dim)``.
        observations: shape ``(M, obs_dim)``, states of the learner's rollouts.

    Returns:
        shape ``(M, action_dim)``, float32.
    """
    ### BEGIN SOLUTION
    return np.asarray(expert(observations), dtype=np.float32)
    ### END SOLUTION


def aggregate(dataset: Dataset, observations: np.ndarray, actions: np.ndarray) -> Dataset:
    """:math:`\\mathcal D \\cup \\mathcal D_\\pi`: the old pairs followed by the new ones.

    Args:
        dataset: :math:`\\mathcal D`, ``N`` pairs.
        observations: shape ``(M, obs_dim)``, the new states.
        actions: shape ``(M, action_dim)``, the expert's actions in them.

    Returns:
        a new :class:`Dataset` of ``N + M`` pairs (``dataset`` itself is left unchanged).
    """
    ### BEGIN SOLUTION
    return Dataset(
        np.concatenate([dataset.observations, observations]),
        np.concatenate([dataset.actions, actions]),
    )
    ### END SOLUTION


def collect_and_relabel(
    sampler: Sampler, learner: Policy, expert: Policy, dataset: Dataset, min_steps: int
) -> tuple[Dataset, Batch]:
    """Steps 2 to 4 of DAgger: roll out the learner for whole episodes of at least
    ``min_steps`` steps in all, label the states it visited with the expert's actions, and
    aggregate them into ``dataset``.

    Args:
        sampler: a sampler over the training environment.
        learner: :math:`\\pi_\\theta`, the policy that acts in the rollouts.
        expert: :math:`\\pi^*`, the policy that labels.
        dataset: :math:`\\mathcal D`.
        min_steps: the fewest learner steps to collect.

    Returns:
        ``(aggregated dataset, the learner's rollouts)``.
    """
    ### BEGIN SOLUTION
    rollouts = sampler.sample_trajectories(learner, min_steps=min_steps)
    expert_actions = relabel(expert, rollouts.observations)
    return aggregate(dataset, rollouts.observations, expert_actions), rollouts
    ### END SOLUTION

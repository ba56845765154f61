"""Mutants of homework 1: bugs students really write in the Gaussian policy, the
behaviour-cloning loss and step, and DAgger's relabelling and aggregation."""

from __future__ import annotations

from autograder.mutants import Mutant

POLICIES = "hw1_imitation/policies.py"
BC = "hw1_imitation/bc.py"
DAGGER = "hw1_imitation/dagger.py"

MUTANTS: list[Mutant] = [
    # the policy
    Mutant(
        "log_std_ignored",
        POLICIES,
        "std = torch.exp(self.log_std)",
        "std = torch.ones_like(self.log_std)",
        "GaussianMLPPolicy.distribution",
    ),
    Mutant(
        "log_std_used_as_variance",
        POLICIES,
        "std = torch.exp(self.log_std)",
        "std = torch.exp(self.log_std).sqrt()",
        "GaussianMLPPolicy.distribution",
    ),
    Mutant(
        "log_prob_not_summed_over_action_dims",
        POLICIES,
        "return distributions.Independent(distributions.Normal(mean, std), 1)",
        "return distributions.Normal(mean, std)",
        "GaussianMLPPolicy.distribution",
    ),
    Mutant(
        "mean_detached_from_the_network",
        POLICIES,
        "mean = self.mean_net(observations)",
        "mean = self.mean_net(observations).detach()",
        "GaussianMLPPolicy.distribution",
    ),
    Mutant(
        "log_std_detached_from_its_parameter",
        POLICIES,
        "std = torch.exp(self.log_std)",
        "std = torch.exp(self.log_std.detach())",
        "GaussianMLPPolicy.distribution",
    ),
    Mutant(
        "log_std_sign_flipped",
        POLICIES,
        "std = torch.exp(self.log_std)",
        "std = torch.exp(-self.log_std)",
        "GaussianMLPPolicy.distribution",
    ),
    Mutant(
        "covariance_given_the_standard_deviation",
        POLICIES,
        "return distributions.Independent(distributions.Normal(mean, std), 1)",
        "return distributions.MultivariateNormal(mean, torch.diag(std))",
        "GaussianMLPPolicy.distribution",
    ),
    Mutant(
        "get_action_never_samples",
        POLICIES,
        "actions = dist.mean if deterministic else dist.sample()",
        "actions = dist.mean",
        "GaussianMLPPolicy.get_action",
    ),
    Mutant(
        "get_action_always_samples",
        POLICIES,
        "actions = dist.mean if deterministic else dist.sample()",
        "actions = dist.sample()",
        "GaussianMLPPolicy.get_action",
    ),
    Mutant(
        "get_action_noise_shared_across_dimensions",
        POLICIES,
        "actions = dist.mean if deterministic else dist.sample()",
        "actions = dist.mean if deterministic else "
        "dist.mean + dist.stddev * torch.randn_like(dist.mean[:, :1])",
        "GaussianMLPPolicy.get_action",
    ),
    Mutant(
        "get_action_same_draw_every_call",
        POLICIES,
        "actions = dist.mean if deterministic else dist.sample()",
        "actions = dist.mean if deterministic else dist.mean + dist.stddev * "
        "torch.randn(dist.mean.shape, generator=torch.Generator().manual_seed(0))",
        "GaussianMLPPolicy.get_action",
    ),
    Mutant(
        "get_action_noise_shared_across_rows",
        POLICIES,
        "actions = dist.mean if deterministic else dist.sample()",
        "actions = dist.mean if deterministic else "
        "dist.mean + dist.stddev * torch.randn_like(dist.mean[:1])",
        "GaussianMLPPolicy.get_action",
    ),
    Mutant(
        "get_action_variance_used_as_std",
        POLICIES,
        "actions = dist.mean if deterministic else dist.sample()",
        "actions = dist.mean if deterministic else torch.normal(dist.mean, dist.variance)",
        "GaussianMLPPolicy.get_action",
    ),
    # the loss and the step
    Mutant(
        "nll_summed_over_the_batch",
        BC,
        "return -dist.log_prob(expert_actions).mean()",
        "return -dist.log_prob(expert_actions).sum()",
        "bc_loss",
    ),
    Mutant(
        "nll_sign_flipped",
        BC,
        "return -dist.log_prob(expert_actions).mean()",
        "return dist.log_prob(expert_actions).mean()",
        "bc_loss",
    ),
    Mutant(
        "mse_summed_over_action_dims",
        BC,
        "return torch.mean((dist.mean - expert_actions) ** 2)",
        "return torch.mean(((dist.mean - expert_actions) ** 2).sum(dim=-1))",
        "bc_loss",
    ),
    Mutant(
        "mse_against_a_sampled_action",
        BC,
        "return torch.mean((dist.mean - expert_actions) ** 2)",
        "return torch.mean((dist.rsample() - expert_actions) ** 2)",
        "bc_loss",
    ),
    Mutant(
        "nll_averaged_over_action_dims",
        BC,
        "return -dist.log_prob(expert_actions).mean()",
        "return -dist.base_dist.log_prob(expert_actions).mean()",
        "bc_loss",
    ),
    Mutant(
        "mse_halved",
        BC,
        "return torch.mean((dist.mean - expert_actions) ** 2)",
        "return 0.5 * torch.mean((dist.mean - expert_actions) ** 2)",
        "bc_loss",
    ),
    Mutant(
        "mse_squeezed_mean_broadcast_against_the_actions",
        BC,
        "return torch.mean((dist.mean - expert_actions) ** 2)",
        "return torch.mean((dist.mean.squeeze() - expert_actions) ** 2)",
        "bc_loss",
    ),
    Mutant(
        "bc_update_no_gradient_step",
        BC,
        "    value.backward()\n    optimizer.step()",
        "    value.backward()",
        "bc_update",
    ),
    Mutant(
        "bc_update_gradients_never_zeroed",
        BC,
        "    optimizer.zero_grad()\n    value.backward()",
        "    value.backward()",
        "bc_update",
    ),
    Mutant(
        "bc_update_zeroes_only_the_mean_net",
        BC,
        "    optimizer.zero_grad()\n    value.backward()",
        "    policy.mean_net.zero_grad()\n    value.backward()",
        "bc_update",
    ),
    Mutant(
        "bc_update_new_adam_every_step",
        BC,
        "    optimizer.zero_grad()\n    value.backward()",
        "    learning_rate = optimizer.param_groups[0]['lr']\n"
        "    optimizer = torch.optim.Adam(policy.parameters(), lr=learning_rate)\n"
        "    optimizer.zero_grad()\n    value.backward()",
        "bc_update",
    ),
    Mutant(
        "bc_update_backpropagates_the_batch_sum",
        BC,
        "    optimizer.zero_grad()\n    value.backward()",
        "    optimizer.zero_grad()\n    (value * len(observations)).backward()",
        "bc_update",
    ),
    # DAgger
    Mutant(
        "relabel_returns_float64",
        DAGGER,
        "return np.asarray(expert(observations), dtype=np.float32)",
        "return np.asarray(expert(observations), dtype=np.float64)",
        "relabel",
    ),
    Mutant(
        "relabel_squeezes_the_actions",
        DAGGER,
        "return np.asarray(expert(observations), dtype=np.float32)",
        "return np.asarray(expert(observations), dtype=np.float32).squeeze()",
        "relabel",
    ),
    Mutant(
        "aggregate_nothing_trains_on_the_demos_only",
        DAGGER,
        "    return Dataset(\n        np.concatenate([dataset.observations, observations]),\n"
        "        np.concatenate([dataset.actions, actions]),\n    )",
        "    return dataset",
        "aggregate",
    ),
    Mutant(
        "aggregate_keeps_only_the_new_pairs",
        DAGGER,
        "    return Dataset(\n        np.concatenate([dataset.observations, observations]),\n"
        "        np.concatenate([dataset.actions, actions]),\n    )",
        "    return Dataset(observations, actions)",
        "aggregate",
    ),
    Mutant(
        "aggregate_puts_the_new_pairs_first",
        DAGGER,
        "    return Dataset(\n        np.concatenate([dataset.observations, observations]),\n"
        "        np.concatenate([dataset.actions, actions]),\n    )",
        "    return Dataset(\n        np.concatenate([observations, dataset.observations]),\n"
        "        np.concatenate([actions, dataset.actions]),\n    )",
        "aggregate",
    ),
    Mutant(
        "dagger_relabels_with_the_learner",
        DAGGER,
        "expert_actions = relabel(expert, rollouts.observations)",
        "expert_actions = relabel(learner, rollouts.observations)",
        "collect_and_relabel",
    ),
    Mutant(
        "dagger_keeps_the_learners_actions",
        DAGGER,
        "expert_actions = relabel(expert, rollouts.observations)",
        "expert_actions = rollouts.actions",
        "collect_and_relabel",
    ),
    Mutant(
        "dagger_labels_the_next_states",
        DAGGER,
        "expert_actions = relabel(expert, rollouts.observations)",
        "expert_actions = relabel(expert, rollouts.next_observations)",
        "collect_and_relabel",
    ),
    Mutant(
        "dagger_rolls_out_the_expert",
        DAGGER,
        "rollouts = sampler.sample_trajectories(learner, min_steps=min_steps)",
        "rollouts = sampler.sample_trajectories(expert, min_steps=min_steps)",
        "collect_and_relabel",
    ),
    Mutant(
        "dagger_aggregates_nothing",
        DAGGER,
        "return aggregate(dataset, rollouts.observations, expert_actions), rollouts",
        "return dataset, rollouts",
        "collect_and_relabel",
    ),
    Mutant(
        "dagger_collects_a_single_episode",
        DAGGER,
        "rollouts = sampler.sample_trajectories(learner, min_steps=min_steps)",
        "rollouts = sampler.sample_trajectories(learner, num_trajectories=1)",
        "collect_and_relabel",
    ),
]

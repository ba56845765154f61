"""Mutants of homework 2: bugs students really write in returns, GAE, losses and policies."""

from __future__ import annotations

from autograder.mutants import Mutant

PG = "hw2_policy_gradient/pg.py"
POLICIES = "hw2_policy_gradient/policies.py"

MUTANTS: list[Mutant] = [
    # returns
    Mutant(
        "discounted_return_no_discount",
        PG,
        "np.sum(discounts * rewards)",
        "np.sum(rewards)",
        "discounted_return",
    ),
    Mutant(
        "discounted_return_discount_from_wrong_end",
        PG,
        "discounts = gamma ** np.arange(len(rewards))",
        "discounts = gamma ** np.arange(len(rewards))[::-1]",
        "discounted_return",
    ),
    Mutant(
        "reward_to_go_gamma_ignored",
        PG,
        "running = rewards[t] + gamma * running",
        "running = rewards[t] + running",
        "reward_to_go",
    ),
    Mutant(
        "reward_to_go_sums_the_past",
        PG,
        "    for t in reversed(range(len(rewards))):\n        running = rewards[t] + gamma",
        "    for t in range(len(rewards)):\n        running = rewards[t] + gamma",
        "reward_to_go",
    ),
    # normalisation
    Mutant(
        "normalize_mean_not_subtracted",
        PG,
        "return (values - values.mean()) / (values.std() + eps)",
        "return values / (values.std() + eps)",
        "normalize",
    ),
    Mutant(
        "normalize_divides_by_mean",
        PG,
        "return (values - values.mean()) / (values.std() + eps)",
        "return (values - values.mean()) / (values.mean() + eps)",
        "normalize",
    ),
    # GAE
    Mutant(
        "gae_bootstraps_through_terminal",
        PG,
        "deltas = rewards + gamma * (1.0 - terminated) * next_values - values",
        "deltas = rewards + gamma * next_values - values",
        "compute_gae",
    ),
    Mutant(
        "gae_no_bootstrap_at_truncation",
        PG,
        "deltas = rewards + gamma * (1.0 - terminated) * next_values - values",
        "deltas = rewards + gamma * (1.0 - dones) * next_values - values",
        "compute_gae",
    ),
    Mutant(
        "gae_leaks_across_truncation",
        PG,
        "gamma * lam * (1.0 - dones[t]) * running",
        "gamma * lam * (1.0 - terminated[t]) * running",
        "compute_gae",
    ),
    Mutant(
        "gae_lambda_ignored",
        PG,
        "gamma * lam * (1.0 - dones[t]) * running",
        "gamma * (1.0 - dones[t]) * running",
        "compute_gae",
    ),
    # losses
    Mutant(
        "policy_gradient_loss_sign",
        PG,
        "return -(log_probs * advantages.detach()).mean()",
        "return (log_probs * advantages.detach()).mean()",
        "policy_gradient_loss",
    ),
    Mutant(
        "policy_gradient_loss_summed_over_batch",
        PG,
        "return -(log_probs * advantages.detach()).mean()",
        "return -(log_probs * advantages.detach()).sum()",
        "policy_gradient_loss",
    ),
    Mutant(
        "policy_gradient_loss_advantages_not_detached",
        PG,
        "return -(log_probs * advantages.detach()).mean()",
        "return -(log_probs * advantages).mean()",
        "policy_gradient_loss",
    ),
    Mutant(
        "ppo_min_max_swapped",
        PG,
        "return -torch.min(unclipped, clipped).mean()",
        "return -torch.max(unclipped, clipped).mean()",
        "ppo_clip_loss",
    ),
    Mutant(
        "ppo_ratio_inverted",
        PG,
        "ratio = torch.exp(log_probs - old_log_probs.detach())",
        "ratio = torch.exp(old_log_probs.detach() - log_probs)",
        "ppo_clip_loss",
    ),
    Mutant(
        "value_loss_target_not_detached",
        PG,
        "return ((values - targets.detach()) ** 2).mean()",
        "return ((values - targets) ** 2).mean()",
        "value_loss",
    ),
    Mutant(
        "value_loss_sign",
        PG,
        "return ((values - targets.detach()) ** 2).mean()",
        "return -((values - targets.detach()) ** 2).mean()",
        "value_loss",
    ),
    Mutant(
        "value_loss_values_detached",
        PG,
        "return ((values - targets.detach()) ** 2).mean()",
        "return ((values.detach() - targets.detach()) ** 2).mean()",
        "value_loss",
    ),
    # policies
    Mutant(
        "categorical_probs_from_logits",
        POLICIES,
        "distributions.Categorical(logits=self.logits_net(observations))",
        "distributions.Categorical(probs=self.logits_net(observations))",
        "CategoricalPolicy.distribution",
    ),
    Mutant(
        "categorical_softmax_over_batch",
        POLICIES,
        "distributions.Categorical(logits=self.logits_net(observations))",
        "distributions.Categorical(probs=torch.softmax(self.logits_net(observations), dim=0))",
        "CategoricalPolicy.distribution",
    ),
    Mutant(
        "gaussian_log_prob_not_summed_over_action_dim",
        POLICIES,
        "return distributions.Independent(distributions.Normal(mean, std), 1)",
        "return distributions.Normal(mean, std)",
        "GaussianPolicy.distribution",
    ),
    Mutant(
        "gaussian_log_prob_summed_over_batch",
        POLICIES,
        "return distributions.Independent(distributions.Normal(mean, std), 1)",
        "return distributions.Independent(distributions.Normal(mean, std), 2)",
        "GaussianPolicy.distribution",
    ),
    Mutant(
        "gaussian_log_std_ignored",
        POLICIES,
        "std = torch.exp(self.log_std)",
        "std = torch.ones_like(self.log_std)",
        "GaussianPolicy.distribution",
    ),
    Mutant(
        "gaussian_variance_as_std",
        POLICIES,
        "std = torch.exp(self.log_std)",
        "std = torch.exp(2.0 * self.log_std)",
        "GaussianPolicy.distribution",
    ),
]

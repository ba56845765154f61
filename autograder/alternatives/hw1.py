"""Correct alternatives of homework 1: the Gaussian policy, the behaviour-cloning loss and step,
and DAgger's relabelling and aggregation, each written the ways good students write them.

Every alternative replaces a whole solution region of the reference (``old`` is the region's
body) and must get full marks: the hidden suite judges what a function computes, not how. The
kinds covered: ``torch.distributions`` against the hand-written Gaussian, a multivariate normal
with a diagonal scale against independent normals, float64 against float32 arithmetic, another
order of reductions, another way to clear the gradients (or none to clear, with
``torch.autograd.grad``), loops against vectorised code, and arrays filled in place against
``np.concatenate``.
"""

from __future__ import annotations

from autograder.alternatives import Alternative

POLICIES = "hw1_imitation/policies.py"
BC = "hw1_imitation/bc.py"
DAGGER = "hw1_imitation/dagger.py"

# The reference's solution regions, whole (each without its last newline, which the
# ``### END SOLUTION`` line shares).
DISTRIBUTION = (
    "        mean = self.mean_net(observations)\n"
    "        std = torch.exp(self.log_std)\n"
    "        return distributions.Independent(distributions.Normal(mean, std), 1)"
)
GET_ACTION = (
    "        dist = self.distribution(to_torch(observations, self.log_std.device))\n"
    "        actions = dist.mean if deterministic else dist.sample()\n"
    "        return to_numpy(actions)"
)
BC_LOSS = (
    "    dist = policy.distribution(observations)\n"
    '    if loss == "nll":\n'
    "        return -dist.log_prob(expert_actions).mean()\n"
    '    if loss == "mse":\n'
    "        return torch.mean((dist.mean - expert_actions) ** 2)\n"
    "    raise ValueError(f\"expected loss 'nll' or 'mse', got {loss!r}\")"
)
BC_UPDATE = "    optimizer.zero_grad()\n    value.backward()\n    optimizer.step()"
RELABEL = "    return np.asarray(expert(observations), dtype=np.float32)"
AGGREGATE = (
    "    return Dataset(\n"
    "        np.concatenate([dataset.observations, observations]),\n"
    "        np.concatenate([dataset.actions, actions]),\n"
    "    )"
)
COLLECT_AND_RELABEL = (
    "    rollouts = sampler.sample_trajectories(learner, min_steps=min_steps)\n"
    "    expert_actions = relabel(expert, rollouts.observations)\n"
    "    return aggregate(dataset, rollouts.observations, expert_actions), rollouts"
)

ALTERNATIVES: list[Alternative] = [
    # the policy's distribution: one multivariate normal instead of independent normals
    Alternative(
        "distribution_multivariate_normal_diagonal_scale",
        POLICIES,
        DISTRIBUTION,
        "        mean = self.mean_net(observations)\n"
        "        scale_tril = torch.diag(torch.exp(self.log_std))\n"
        "        return distributions.MultivariateNormal(mean, scale_tril=scale_tril)",
        "GaussianMLPPolicy.distribution",
    ),
    Alternative(
        "distribution_multivariate_normal_covariance_from_two_log_std",
        POLICIES,
        DISTRIBUTION,
        "        mean = self.mean_net(observations)\n"
        "        variance = torch.exp(2.0 * self.log_std).expand_as(mean)\n"
        "        return distributions.MultivariateNormal(mean, torch.diag_embed(variance))",
        "GaussianMLPPolicy.distribution",
    ),
    Alternative(
        "distribution_in_float64",
        POLICIES,
        DISTRIBUTION,
        "        mean = self.mean_net(observations).double()\n"
        "        std = self.log_std.double().exp()\n"
        "        return distributions.Independent(distributions.Normal(mean, std), 1)",
        "GaussianMLPPolicy.distribution",
    ),
    # the sampler's actions: the reparameterisation by hand, torch.normal, rsample detached,
    # NumPy noise
    Alternative(
        "get_action_reparameterised_by_hand",
        POLICIES,
        GET_ACTION,
        "        states = torch.as_tensor(\n"
        "            observations, dtype=torch.float32, device=self.log_std.device\n"
        "        )\n"
        "        mean = self.mean_net(states)\n"
        "        if deterministic:\n"
        "            return mean.cpu().numpy()\n"
        "        noise = torch.randn_like(mean)\n"
        "        return (mean + torch.exp(self.log_std) * noise).cpu().numpy()",
        "GaussianMLPPolicy.get_action",
    ),
    Alternative(
        "get_action_torch_normal",
        POLICIES,
        GET_ACTION,
        "        mean = self.mean_net(to_torch(observations, self.log_std.device))\n"
        "        if deterministic:\n"
        "            return to_numpy(mean)\n"
        "        return to_numpy(torch.normal(mean, self.log_std.exp().expand_as(mean)))",
        "GaussianMLPPolicy.get_action",
    ),
    Alternative(
        "get_action_rsample_detached",
        POLICIES,
        GET_ACTION,
        "        states = torch.from_numpy(np.asarray(observations, dtype=np.float32))\n"
        "        dist = self.distribution(states.to(self.log_std.device))\n"
        "        actions = dist.rsample().detach() if not deterministic else dist.mean.detach()\n"
        "        return actions.cpu().numpy()",
        "GaussianMLPPolicy.get_action",
    ),
    Alternative(
        "get_action_numpy_noise",
        POLICIES,
        GET_ACTION,
        "        mean = to_numpy(self.mean_net(to_torch(observations, self.log_std.device)))\n"
        "        if deterministic:\n"
        "            return mean\n"
        "        std = to_numpy(torch.exp(self.log_std))\n"
        "        noise = np.random.standard_normal(mean.shape).astype(np.float32)\n"
        "        return mean + std * noise",
        "GaussianMLPPolicy.get_action",
    ),
    # the loss: the Gaussian log-density by hand, float64, other orders of reduction
    Alternative(
        "bc_loss_hand_written_log_density_and_mse_loss",
        BC,
        BC_LOSS,
        "    mean = policy.mean_net(observations)\n"
        '    if loss == "mse":\n'
        "        return torch.nn.functional.mse_loss(mean, expert_actions)\n"
        '    if loss != "nll":\n'
        "        raise ValueError(f\"expected loss 'nll' or 'mse', got {loss!r}\")\n"
        "    # log N(a; mu, sigma^2), summed over the action dimensions\n"
        "    z = (expert_actions - mean) / torch.exp(policy.log_std)\n"
        "    log_two_pi = torch.log(torch.tensor(2.0 * torch.pi))\n"
        "    log_probs = -(0.5 * z**2 + policy.log_std + 0.5 * log_two_pi).sum(dim=-1)\n"
        "    return -log_probs.mean()",
        "bc_loss",
    ),
    Alternative(
        "bc_loss_float64_sums_divided",
        BC,
        BC_LOSS,
        "    dist = policy.distribution(observations)\n"
        "    batch_size, action_dim = expert_actions.shape\n"
        '    if loss == "nll":\n'
        "        return -dist.log_prob(expert_actions).double().sum() / batch_size\n"
        '    if loss == "mse":\n'
        "        errors = dist.mean.double() - expert_actions.double()\n"
        "        return (errors**2).sum() / (batch_size * action_dim)\n"
        "    raise ValueError(f\"expected loss 'nll' or 'mse', got {loss!r}\")",
        "bc_loss",
    ),
    Alternative(
        "bc_loss_mean_over_the_batch_first",
        BC,
        BC_LOSS,
        "    dist = policy.distribution(observations)\n"
        '    if loss == "nll":\n'
        "        return torch.neg(dist.log_prob(expert_actions)).mean(dim=0)\n"
        '    if loss == "mse":\n'
        "        return (dist.mean - expert_actions).square().mean(dim=0).mean()\n"
        "    raise ValueError(f\"expected loss 'nll' or 'mse', got {loss!r}\")",
        "bc_loss",
    ),
    # the step: other ways to clear the old gradients, or none to clear
    Alternative(
        "bc_update_policy_zero_grad",
        BC,
        BC_UPDATE,
        "    policy.zero_grad()\n    value.backward()\n    optimizer.step()",
        "bc_update",
    ),
    Alternative(
        "bc_update_gradients_zeroed_in_place",
        BC,
        BC_UPDATE,
        "    optimizer.zero_grad(set_to_none=False)\n    value.backward()\n    optimizer.step()",
        "bc_update",
    ),
    Alternative(
        "bc_update_autograd_grad_assigned",
        BC,
        BC_UPDATE,
        '    parameters = [p for group in optimizer.param_groups for p in group["params"]]\n'
        "    # a fresh gradient for each parameter, None for one the loss does not reach\n"
        "    gradients = torch.autograd.grad(value, parameters, allow_unused=True)\n"
        "    for parameter, gradient in zip(parameters, gradients, strict=True):\n"
        "        parameter.grad = gradient\n"
        "    optimizer.step()",
        "bc_update",
    ),
    Alternative(
        "bc_update_zero_grad_after_the_step",
        BC,
        BC_UPDATE,
        "    value.backward()\n    optimizer.step()\n    optimizer.zero_grad()",
        "bc_update",
    ),
    # relabelling: in chunks of states, or the expert's array cast
    Alternative(
        "relabel_in_chunks_of_eight_states",
        DAGGER,
        RELABEL,
        "    chunks = np.array_split(observations, max(1, int(np.ceil(len(observations) / 8))))\n"
        "    return np.concatenate([expert(chunk) for chunk in chunks]).astype(np.float32)",
        "relabel",
    ),
    Alternative(
        "relabel_astype_copy",
        DAGGER,
        RELABEL,
        "    actions = expert(observations)\n    return actions.astype(np.float32, copy=True)",
        "relabel",
    ),
    # aggregation: vstack, np.append, or new arrays filled in place
    Alternative(
        "aggregate_vstack",
        DAGGER,
        AGGREGATE,
        "    return Dataset(\n"
        "        np.vstack((dataset.observations, observations)),\n"
        "        np.vstack((dataset.actions, actions)),\n"
        "    )",
        "aggregate",
    ),
    Alternative(
        "aggregate_np_append",
        DAGGER,
        AGGREGATE,
        "    return Dataset(\n"
        "        observations=np.append(dataset.observations, observations, axis=0),\n"
        "        actions=np.append(dataset.actions, actions, axis=0),\n"
        "    )",
        "aggregate",
    ),
    Alternative(
        "aggregate_preallocated_and_filled",
        DAGGER,
        AGGREGATE,
        "    size = len(dataset) + len(observations)\n"
        "    merged = []\n"
        "    for old, new in ((dataset.observations, observations), (dataset.actions, actions)):\n"
        "        array = np.empty((size, *old.shape[1:]), dtype=np.result_type(old, new))\n"
        "        array[: len(old)] = old\n"
        "        array[len(old) :] = new\n"
        "        merged.append(array)\n"
        "    return Dataset(*merged)",
        "aggregate",
    ),
    # DAgger's steps 2 to 4: inline, one episode at a time, float32 states, one sampler call
    # per episode
    Alternative(
        "collect_and_relabel_inline",
        DAGGER,
        COLLECT_AND_RELABEL,
        "    rollouts = sampler.sample_trajectories(learner, min_steps=min_steps)\n"
        "    states = rollouts.observations\n"
        "    labels = np.asarray(expert(states), dtype=np.float32)\n"
        "    aggregated = Dataset(\n"
        "        np.concatenate([dataset.observations, states]),\n"
        "        np.concatenate([dataset.actions, labels]),\n"
        "    )\n"
        "    return aggregated, rollouts",
        "collect_and_relabel",
    ),
    Alternative(
        "collect_and_relabel_episode_by_episode",
        DAGGER,
        COLLECT_AND_RELABEL,
        "    rollouts = sampler.sample_trajectories(learner, min_steps=min_steps)\n"
        "    for episode in rollouts.trajectory_slices():\n"
        "        states = rollouts.observations[episode]\n"
        "        dataset = aggregate(dataset, states, relabel(expert, states))\n"
        "    return dataset, rollouts",
        "collect_and_relabel",
    ),
    Alternative(
        "collect_and_relabel_float32_states",
        DAGGER,
        COLLECT_AND_RELABEL,
        "    rollouts = sampler.sample_trajectories(learner, min_steps=min_steps)\n"
        "    # the learner reads float32 states: store them so\n"
        "    states = rollouts.observations.astype(np.float32)\n"
        "    return aggregate(dataset, states, relabel(expert, states)), rollouts",
        "collect_and_relabel",
    ),
    Alternative(
        "collect_and_relabel_one_episode_per_call",
        DAGGER,
        COLLECT_AND_RELABEL,
        "    episodes = [sampler.sample_trajectories(learner, num_trajectories=1)]\n"
        "    while sum(len(episode) for episode in episodes) < min_steps:\n"
        "        episodes.append(sampler.sample_trajectories(learner, num_trajectories=1))\n"
        "    rollouts = Batch(\n"
        "        **{\n"
        "            name: np.concatenate([getattr(episode, name) for episode in episodes])\n"
        "            for name in vars(episodes[0])\n"
        "        }\n"
        "    )\n"
        "    expert_actions = relabel(expert, rollouts.observations)\n"
        "    return aggregate(dataset, rollouts.observations, expert_actions), rollouts",
        "collect_and_relabel",
    ),
]

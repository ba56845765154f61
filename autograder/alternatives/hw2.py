"""Correct alternatives of homework 2: returns, GAE, losses and policies written otherwise.

Each graded function is rewritten at least twice, the ways students do: a loop against
vectorised code, float32 against float64 arithmetic, ``torch`` against NumPy, another order of
reductions, ``torch.no_grad()`` against ``.detach()``, another ``torch.distributions`` class for
the same distribution. Every one is correct by its function's docstring for every valid input
(``gamma = 0`` or ``lambda = 0`` included), not only on the suite's cases: a point it loses is
the suite's false failure.

Most patches replace a whole solution body; the reference bodies they replace are the
constants below.
"""

from __future__ import annotations

from autograder.alternatives import Alternative

PG = "hw2_policy_gradient/pg.py"
POLICIES = "hw2_policy_gradient/policies.py"

_DISCOUNTED_RETURN = """\
    discounts = gamma ** np.arange(len(rewards))
    return np.full(len(rewards), np.sum(discounts * rewards), dtype=np.float64)"""
_REWARD_TO_GO = """\
    q_values = np.zeros(len(rewards), dtype=np.float64)
    running = 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running
        q_values[t] = running
    return q_values"""
_NORMALIZE = "    return (values - values.mean()) / (values.std() + eps)"
_GAE = """\
    deltas = rewards + gamma * (1.0 - terminated) * next_values - values
    advantages = np.zeros(len(rewards), dtype=np.float64)
    running = 0.0
    for t in reversed(range(len(rewards))):
        running = deltas[t] + gamma * lam * (1.0 - dones[t]) * running
        advantages[t] = running
    return advantages"""
_PG_LOSS = "    return -(log_probs * advantages.detach()).mean()"
_PPO_LOSS = """\
    ratio = torch.exp(log_probs - old_log_probs.detach())
    advantages = advantages.detach()
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - clip, 1.0 + clip) * advantages
    return -torch.min(unclipped, clipped).mean()"""
_VALUE_LOSS = "    return ((values - targets.detach()) ** 2).mean()"
_CATEGORICAL = "        return distributions.Categorical(logits=self.logits_net(observations))"
_GAUSSIAN = """\
        mean = self.mean_net(observations)
        std = torch.exp(self.log_std)
        return distributions.Independent(distributions.Normal(mean, std), 1)"""

ALTERNATIVES: list[Alternative] = [
    # discounted_return: a Python loop, Horner's scheme, float32
    Alternative(
        "discounted_return_loop",
        PG,
        "np.sum(discounts * rewards)",
        "sum(gamma**t * r for t, r in enumerate(rewards))",
        "discounted_return",
    ),
    Alternative(
        "discounted_return_horner_polyval",
        PG,
        _DISCOUNTED_RETURN,
        """\
    # r_0 + gamma (r_1 + gamma (r_2 + ...)): the polynomial in gamma with coefficients r_t
    total = np.polyval(rewards[::-1], gamma)
    return np.full_like(rewards, total, dtype=np.float64)""",
        "discounted_return",
    ),
    Alternative(
        "discounted_return_float32_dot",
        PG,
        _DISCOUNTED_RETURN,
        """\
    rewards32 = np.asarray(rewards, dtype=np.float32)
    discounts = np.float32(gamma) ** np.arange(len(rewards32), dtype=np.float32)
    return np.full(len(rewards32), np.dot(discounts, rewards32), dtype=np.float32)""",
        "discounted_return",
    ),
    # reward_to_go: a discount matrix, a double loop, a list built from the end, torch float32
    Alternative(
        "reward_to_go_vectorised_matrix",
        PG,
        _REWARD_TO_GO,
        """\
    steps = np.arange(len(rewards))
    lags = steps[None, :] - steps[:, None]  # t' - t
    # gamma^(t' - t) for t' >= t, 0 before t (np.maximum keeps gamma = 0 away from 0 ** -1)
    discounts = np.where(lags >= 0, gamma ** np.maximum(lags, 0), 0.0)
    return discounts @ rewards""",
        "reward_to_go",
    ),
    Alternative(
        "reward_to_go_double_loop",
        PG,
        _REWARD_TO_GO,
        """\
    horizon = len(rewards)
    q_values = np.empty(horizon, dtype=np.float64)
    for t in range(horizon):
        q_values[t] = sum(gamma ** (k - t) * rewards[k] for k in range(t, horizon))
    return q_values""",
        "reward_to_go",
    ),
    Alternative(
        "reward_to_go_list_from_the_end",
        PG,
        _REWARD_TO_GO,
        """\
    q_values: list[float] = []
    for reward in rewards[::-1]:
        q_values.append(reward + gamma * (q_values[-1] if q_values else 0.0))
    return np.array(q_values[::-1], dtype=np.float64)""",
        "reward_to_go",
    ),
    Alternative(
        "reward_to_go_torch_float32",
        PG,
        _REWARD_TO_GO,
        """\
    r = torch.as_tensor(np.asarray(rewards), dtype=torch.float32)
    q_values = torch.empty_like(r)
    running = torch.zeros(())
    for t in range(len(r) - 1, -1, -1):
        running = r[t] + gamma * running
        q_values[t] = running
    return q_values.numpy()""",
        "reward_to_go",
    ),
    # normalize: two passes in place, torch's population std, float32
    Alternative(
        "normalize_two_pass_in_place",
        PG,
        _NORMALIZE,
        """\
    centred = values - values.sum() / len(values)
    centred /= np.sqrt(np.mean(centred**2)) + eps
    return centred""",
        "normalize",
    ),
    Alternative(
        "normalize_torch_population_std",
        PG,
        _NORMALIZE,
        """\
    x = torch.as_tensor(values)
    return ((x - x.mean()) / (x.std(correction=0) + eps)).numpy()""",
        "normalize",
    ),
    Alternative(
        "normalize_float32",
        PG,
        _NORMALIZE,
        """\
    x = np.asarray(values, dtype=np.float32)
    return (x - x.mean()) / (x.std() + np.float32(eps))""",
        "normalize",
    ),
    # compute_gae: a discount matrix per trajectory, the lambda-return recursion, torch float32
    Alternative(
        "gae_vectorised_per_trajectory",
        PG,
        _GAE,
        """\
    not_terminated = 1.0 - np.asarray(terminated, dtype=np.float64)
    deltas = rewards + gamma * not_terminated * next_values - values
    advantages = np.empty(len(deltas), dtype=np.float64)
    # one piece per trajectory: a new one starts after every done step
    ends = np.flatnonzero(np.asarray(dones, dtype=bool)[:-1]) + 1
    for piece in np.split(np.arange(len(deltas)), ends):
        steps = np.arange(len(piece))
        lags = steps[None, :] - steps[:, None]
        weights = np.where(lags >= 0, (gamma * lam) ** np.maximum(lags, 0), 0.0)
        advantages[piece] = weights @ deltas[piece]
    return advantages""",
        "compute_gae",
    ),
    Alternative(
        "gae_lambda_return_recursion",
        PG,
        _GAE,
        """\
    not_terminated = 1.0 - np.asarray(terminated, dtype=np.float64)
    continues = 1.0 - np.asarray(dones, dtype=np.float64)
    lambda_returns = np.zeros(len(rewards), dtype=np.float64)
    # G_t = r_t + gamma (1 - terminated_t) V(s_{t+1}) + gamma lam (1 - done_t) (G_{t+1} - V_{t+1})
    next_return, next_value = 0.0, 0.0
    for t in range(len(rewards) - 1, -1, -1):
        next_return = (
            rewards[t]
            + gamma * not_terminated[t] * next_values[t]
            + gamma * lam * continues[t] * (next_return - next_value)
        )
        next_value = values[t]
        lambda_returns[t] = next_return
    return lambda_returns - values""",
        "compute_gae",
    ),
    Alternative(
        "gae_torch_float32",
        PG,
        _GAE,
        """\
    r, v, v_next, term, done = (
        torch.as_tensor(np.asarray(x), dtype=torch.float32)
        for x in (rewards, values, next_values, terminated, dones)
    )
    deltas = r + gamma * (1.0 - term) * v_next - v
    advantages = torch.zeros_like(deltas)
    next_advantage = torch.zeros(())
    for t in range(len(deltas) - 1, -1, -1):
        next_advantage = deltas[t] + gamma * lam * (1.0 - done[t]) * next_advantage
        advantages[t] = next_advantage
    return advantages.numpy()""",
        "compute_gae",
    ),
    # policy_gradient_loss: a dot product, torch.no_grad() weights, float64
    Alternative(
        "pg_loss_dot_product",
        PG,
        _PG_LOSS,
        "    return -torch.dot(log_probs, advantages.detach()) / log_probs.shape[0]",
        "policy_gradient_loss",
    ),
    Alternative(
        "pg_loss_no_grad_weights_sum",
        PG,
        _PG_LOSS,
        """\
    with torch.no_grad():
        weights = advantages.clone()
    return -(log_probs * weights).sum() / log_probs.numel()""",
        "policy_gradient_loss",
    ),
    Alternative(
        "pg_loss_float64",
        PG,
        _PG_LOSS,
        "    return -(log_probs.double() * advantages.detach().double()).mean()",
        "policy_gradient_loss",
    ),
    # value_loss: torch's mse_loss, a sum over the batch size, float64
    Alternative(
        "value_loss_functional_mse",
        PG,
        _VALUE_LOSS,
        "    return nn.functional.mse_loss(values, targets.detach())",
        "value_loss",
    ),
    Alternative(
        "value_loss_sum_over_batch_size",
        PG,
        _VALUE_LOSS,
        """\
    errors = values - targets.detach()
    return torch.sum(errors * errors) / errors.numel()""",
        "value_loss",
    ),
    Alternative(
        "value_loss_float64",
        PG,
        _VALUE_LOSS,
        "    return torch.square(values.double() - targets.detach().double()).mean()",
        "value_loss",
    ),
    # ppo_clip_loss: the bound by the advantage's sign, a max of negatives, float64
    Alternative(
        "ppo_clip_loss_where_sign_of_advantage",
        PG,
        _PPO_LOSS,
        """\
    ratio = torch.exp(log_probs - old_log_probs.detach())
    advantages = advantages.detach()
    # min(rho A, clip(rho) A) = min(rho A, (1 + eps) A) where A >= 0, min(rho A, (1 - eps) A) else
    bound = torch.where(advantages >= 0, (1.0 + clip) * advantages, (1.0 - clip) * advantages)
    return -torch.minimum(ratio * advantages, bound).mean()""",
        "ppo_clip_loss",
    ),
    Alternative(
        "ppo_clip_loss_max_of_negatives",
        PG,
        _PPO_LOSS,
        """\
    with torch.no_grad():
        old = old_log_probs.clone()
        weights = advantages.clone()
    ratio = (log_probs - old).exp()
    losses = torch.maximum(-ratio * weights, -ratio.clamp(1.0 - clip, 1.0 + clip) * weights)
    return losses.mean()""",
        "ppo_clip_loss",
    ),
    Alternative(
        "ppo_clip_loss_float64",
        PG,
        _PPO_LOSS,
        """\
    ratio = torch.exp(log_probs.double() - old_log_probs.detach().double())
    advantages = advantages.detach().double()
    clipped = torch.clamp(ratio, 1.0 - clip, 1.0 + clip)
    return -torch.min(ratio * advantages, clipped * advantages).mean()""",
        "ppo_clip_loss",
    ),
    # CategoricalPolicy.distribution: probs from a softmax, normalised logits, float64
    Alternative(
        "categorical_probs_softmax",
        POLICIES,
        _CATEGORICAL,
        """\
        probs = torch.softmax(self.logits_net(observations), dim=-1)
        return distributions.Categorical(probs=probs)""",
        "CategoricalPolicy.distribution",
    ),
    Alternative(
        "categorical_logits_minus_logsumexp",
        POLICIES,
        _CATEGORICAL,
        """\
        logits = self.logits_net(observations)
        log_probs = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
        return distributions.Categorical(logits=log_probs)""",
        "CategoricalPolicy.distribution",
    ),
    Alternative(
        "categorical_float64",
        POLICIES,
        _CATEGORICAL,
        "        return distributions.Categorical(logits=self.logits_net(observations).double())",
        "CategoricalPolicy.distribution",
    ),
    # GaussianPolicy.distribution: a multivariate normal (two ways), float64
    Alternative(
        "gaussian_multivariate_scale_tril",
        POLICIES,
        _GAUSSIAN,
        """\
        mean = self.mean_net(observations)
        scale_tril = torch.diag(torch.exp(self.log_std))
        return distributions.MultivariateNormal(mean, scale_tril=scale_tril)""",
        "GaussianPolicy.distribution",
    ),
    Alternative(
        "gaussian_multivariate_covariance",
        POLICIES,
        _GAUSSIAN,
        """\
        mean = self.mean_net(observations)
        variances = torch.exp(2.0 * self.log_std)
        return distributions.MultivariateNormal(mean, covariance_matrix=torch.diag(variances))""",
        "GaussianPolicy.distribution",
    ),
    Alternative(
        "gaussian_float64_expanded_std",
        POLICIES,
        _GAUSSIAN,
        """\
        mean = self.mean_net(observations).double()
        std = self.log_std.double().exp().expand_as(mean)
        return distributions.Independent(distributions.Normal(mean, std), 1)""",
        "GaussianPolicy.distribution",
    ),
]

"""Correct alternatives of homework 5: RND's error, loss, running spread and bonus, CQL's
regulariser, AWAC's target, advantages and weighted loss, IQL's expectile loss, the agents'
losses, and the continuous part's (the Gaussian's log-density, BC's and continuous IQL's
losses), each written the ways a good student writes them.

Each patch replaces the whole body of one solution region (the reference's bodies, shared with
:mod:`autograder.mutants.hw5`) by another correct body: a max-shifted logsumexp written out
against ``torch.logsumexp``, ``abs(tau - indicator)`` and two ReLUs against ``torch.where``,
``F.mse_loss`` and ``einsum`` against the written-out sums, float64 intermediates, one-hot masks
and advanced indexing against ``gather``, ``torch.distributions.Categorical`` against the
actor's log-probabilities, ``.detach()`` against ``torch.no_grad()``, the weights clipped in
log space, the moving average as ``lerp`` or as an increment, in place against functional;
``torch.distributions.Normal`` and ``Independent`` against the written-out log-density, the
variance in float64, a stacked minimum against ``torch.minimum``, both Q-networks' errors in one
mean against two ``F.mse_loss``.

``iql_target`` has none: its region is a single line that ``awac_target``'s and the given
``dqn_targets`` end with too, so no patch can name it alone.
"""

from __future__ import annotations

from autograder.alternatives import Alternative
from autograder.mutants.hw5 import (
    _AWAC_ACTOR_BODY,
    _AWAC_ADVANTAGES_BODY,
    _AWAC_CRITIC_BODY,
    _AWAC_TARGET_BODY,
    _BC_ACTOR_BODY,
    _BONUS_BODY,
    _CONTINUOUS_ACTOR_BODY,
    _CONTINUOUS_CRITIC_BODY,
    _CONTINUOUS_VALUE_BODY,
    _CQL_BODY,
    _CQL_CRITIC_BODY,
    _EXPECTILE_BODY,
    _IQL_ACTOR_BODY,
    _IQL_CRITIC_BODY,
    _IQL_TARGET_BODY,
    _IQL_VALUE_BODY,
    _LOG_PROB_BODY,
    _RND_ERROR_BODY,
    _RND_LOSS_BODY,
    _RUNNING_STD_BODY,
    _WEIGHTED_LOSS_BODY,
    CONTINUOUS,
    EXPLORATION,
    OFFLINE,
)

ALTERNATIVES: list[Alternative] = [
    # rnd_error: einsum, F.mse_loss without reduction, the squared norm in float64
    Alternative(
        "rnd_error_einsum",
        EXPLORATION,
        _RND_ERROR_BODY,
        """\
    differences = predictions - targets
    return torch.einsum("bk,bk->b", differences, differences)""",
        "rnd_error",
    ),
    Alternative(
        "rnd_error_mse_loss_unreduced",
        EXPLORATION,
        _RND_ERROR_BODY,
        '    return nn.functional.mse_loss(predictions, targets, reduction="none").sum(dim=-1)',
        "rnd_error",
    ),
    Alternative(
        "rnd_error_squared_norm_float64",
        EXPLORATION,
        _RND_ERROR_BODY,
        """\
    norms = torch.linalg.vector_norm(predictions.double() - targets.double(), dim=1)
    return (norms**2).to(predictions.dtype)""",
        "rnd_error",
    ),
    # rnd_loss: F.mse_loss summed over the batch, targets cloned under no_grad, mean times K
    Alternative(
        "rnd_loss_mse_loss_sum_over_batch_size",
        EXPLORATION,
        _RND_LOSS_BODY,
        """\
    squared = nn.functional.mse_loss(predictions, targets.detach(), reduction="sum")
    return squared / len(predictions)""",
        "rnd_loss",
    ),
    Alternative(
        "rnd_loss_targets_cloned_without_grad",
        EXPLORATION,
        _RND_LOSS_BODY,
        """\
    with torch.no_grad():
        fixed_targets = targets.clone()
    errors = rnd_error(predictions, fixed_targets)
    return errors.sum() / errors.numel()""",
        "rnd_loss",
    ),
    Alternative(
        "rnd_loss_elementwise_mean_times_outputs",
        EXPLORATION,
        _RND_LOSS_BODY,
        """\
    output_size = predictions.shape[1]
    return nn.functional.mse_loss(predictions, targets.detach()) * output_size""",
        "rnd_loss",
    ),
    # update_running_std: var_mean and an increment, numpy in float64, lerp
    Alternative(
        "update_running_std_var_mean_increment",
        EXPLORATION,
        _RUNNING_STD_BODY,
        """\
    variance, _ = torch.var_mean(errors.detach(), correction=0)
    batch_std = float(variance.sqrt())
    return running_std + (1.0 - decay) * (batch_std - running_std)""",
        "update_running_std",
    ),
    Alternative(
        "update_running_std_numpy_float64",
        EXPLORATION,
        _RUNNING_STD_BODY,
        """\
    batch_std = float(np.std(errors.detach().cpu().numpy().astype(np.float64)))
    return decay * running_std + (1.0 - decay) * batch_std""",
        "update_running_std",
    ),
    Alternative(
        "update_running_std_centred_by_hand_lerp",
        EXPLORATION,
        _RUNNING_STD_BODY,
        """\
    with torch.no_grad():
        centred = errors.double() - errors.double().mean()
        batch_std = centred.pow(2).mean().sqrt()
        # lerp(start, end, weight) = start + weight * (end - start)
        new_std = torch.lerp(batch_std, torch.full_like(batch_std, running_std), decay)
    return new_std.item()""",
        "update_running_std",
    ),
    # normalized_bonus: torch.div then detach, a reciprocal under no_grad, in place on a copy
    Alternative(
        "normalized_bonus_div_then_detach",
        EXPLORATION,
        _BONUS_BODY,
        "    return torch.div(errors, running_std).detach()",
        "normalized_bonus",
    ),
    Alternative(
        "normalized_bonus_no_grad",
        EXPLORATION,
        _BONUS_BODY,
        """\
    with torch.no_grad():
        return errors / running_std""",
        "normalized_bonus",
    ),
    Alternative(
        "normalized_bonus_in_place_on_a_copy",
        EXPLORATION,
        _BONUS_BODY,
        "    return errors.detach().clone().div_(running_std)",
        "normalized_bonus",
    ),
    # cql_regularizer: a max-shifted logsumexp by hand, float64 with one-hot, gaps to the data
    Alternative(
        "cql_regularizer_max_shifted_by_hand",
        OFFLINE,
        _CQL_BODY,
        """\
    scaled = q_values / temperature
    largest = scaled.max(dim=1, keepdim=True).values
    log_sum = (scaled - largest).exp().sum(dim=1).log() + largest.squeeze(1)
    rows = torch.arange(len(actions), device=actions.device)
    return alpha * (temperature * log_sum - q_values[rows, actions]).mean()""",
        "cql_regularizer",
    ),
    Alternative(
        "cql_regularizer_float64_one_hot",
        OFFLINE,
        _CQL_BODY,
        """\
    q64 = q_values.double()
    one_hot = F.one_hot(actions, q_values.shape[1]).to(q64.dtype)
    soft_maximum = temperature * torch.logsumexp(q64 / temperature, dim=1)
    data_q_values = (one_hot * q64).sum(dim=1)
    return (alpha * (soft_maximum - data_q_values).mean()).to(q_values.dtype)""",
        "cql_regularizer",
    ),
    Alternative(
        "cql_regularizer_gaps_to_the_data_action",
        OFFLINE,
        _CQL_BODY,
        """\
    # tau log sum exp((Q - Q(s, a)) / tau) = tau log sum exp(Q / tau) - Q(s, a)
    data_q_values = gather_actions(q_values, actions)
    gaps = (q_values - data_q_values.unsqueeze(1)) / temperature
    return alpha * temperature * torch.logsumexp(gaps, dim=1).mean()""",
        "cql_regularizer",
    ),
    # awac_target: einsum and addcmul, a batched product and torch.where, float64
    Alternative(
        "awac_target_einsum_addcmul",
        OFFLINE,
        _AWAC_TARGET_BODY,
        """\
    next_values = torch.einsum("ba,ba->b", next_action_probs, next_q_values)
    return torch.addcmul(rewards, gamma * (1.0 - terminated), next_values)""",
        "awac_target",
    ),
    Alternative(
        "awac_target_matmul_where",
        OFFLINE,
        _AWAC_TARGET_BODY,
        """\
    next_values = (next_action_probs.unsqueeze(1) @ next_q_values.unsqueeze(2)).reshape(-1)
    return torch.where(terminated > 0.5, rewards, rewards + gamma * next_values)""",
        "awac_target",
    ),
    Alternative(
        "awac_target_float64",
        OFFLINE,
        _AWAC_TARGET_BODY,
        """\
    expected = (next_action_probs.double() * next_q_values.double()).sum(dim=-1)
    bootstrap = gamma * (1.0 - terminated.double()) * expected
    return (rewards.double() + bootstrap).to(rewards.dtype)""",
        "awac_target",
    ),
    # awac_advantages: one-hot minus the policy, all actions' advantages then indexing
    Alternative(
        "awac_advantages_one_hot_minus_policy",
        OFFLINE,
        _AWAC_ADVANTAGES_BODY,
        """\
    one_hot = F.one_hot(actions, q_values.shape[1]).to(q_values.dtype)
    return ((one_hot - action_probs) * q_values).sum(dim=1)""",
        "awac_advantages",
    ),
    Alternative(
        "awac_advantages_of_every_action_indexed",
        OFFLINE,
        _AWAC_ADVANTAGES_BODY,
        """\
    values = torch.einsum("ba,ba->b", action_probs, q_values)
    every_advantage = q_values - values.unsqueeze(1)
    return every_advantage[torch.arange(len(actions), device=actions.device), actions]""",
        "awac_advantages",
    ),
    # advantage_weighted_loss: minimum and dot under no_grad, clipped in log space, float64
    Alternative(
        "advantage_weighted_loss_no_grad_minimum_dot",
        OFFLINE,
        _WEIGHTED_LOSS_BODY,
        """\
    with torch.no_grad():
        weights = torch.minimum(
            torch.exp(advantages / temperature), torch.full_like(advantages, max_weight)
        )
    return -torch.dot(weights, log_probs) / len(log_probs)""",
        "advantage_weighted_loss",
    ),
    Alternative(
        "advantage_weighted_loss_clipped_in_log_space",
        OFFLINE,
        _WEIGHTED_LOSS_BODY,
        """\
    log_weights = (advantages.detach() / temperature).clamp(max=float(np.log(max_weight)))
    return -(log_weights.exp() * log_probs).sum() / log_probs.numel()""",
        "advantage_weighted_loss",
    ),
    Alternative(
        "advantage_weighted_loss_float64",
        OFFLINE,
        _WEIGHTED_LOSS_BODY,
        """\
    weights = (advantages.detach().double() / temperature).exp().clamp(max=max_weight)
    return -(weights * log_probs.double()).mean().to(log_probs.dtype)""",
        "advantage_weighted_loss",
    ),
    # expectile_loss: abs(tau - indicator), two ReLUs, a linear weight of the indicator
    Alternative(
        "expectile_loss_abs_tau_minus_indicator",
        OFFLINE,
        _EXPECTILE_BODY,
        """\
    indicator = (differences < 0).to(differences.dtype)
    return (torch.abs(expectile - indicator) * differences.square()).mean()""",
        "expectile_loss",
    ),
    Alternative(
        "expectile_loss_two_relus",
        OFFLINE,
        _EXPECTILE_BODY,
        """\
    above = F.relu(differences)
    below = F.relu(-differences)
    return (expectile * above**2 + (1.0 - expectile) * below**2).mean()""",
        "expectile_loss",
    ),
    Alternative(
        "expectile_loss_linear_in_the_indicator",
        OFFLINE,
        _EXPECTILE_BODY,
        """\
    below = (differences < 0).to(differences.dtype)
    weights = expectile + (1.0 - 2.0 * expectile) * below
    return torch.sum(weights * differences * differences) / differences.numel()""",
        "expectile_loss",
    ),
    # CQLAgent.critic_loss: DQNAgent's loss named, the whole loss written out
    Alternative(
        "cql_critic_loss_base_class_named",
        OFFLINE,
        _CQL_CRITIC_BODY,
        """\
        loss, tensors = DQNAgent.critic_loss(
            self, observations, actions, rewards, next_observations, terminated
        )
        cfg = self.config
        tensors["cql_regularizer"] = cql_regularizer(
            tensors["q_values_all"], actions, cfg.cql_alpha, cfg.cql_temperature
        )
        return loss + tensors["cql_regularizer"], tensors""",
        "CQLAgent.critic_loss",
    ),
    Alternative(
        "cql_critic_loss_written_out",
        OFFLINE,
        _CQL_CRITIC_BODY,
        """\
        cfg = self.config
        q_values_all = self.q_network(observations)
        q_values = gather_actions(q_values_all, actions)
        with torch.no_grad():
            next_q_values = self.target_network(next_observations)
            chooser = self.q_network(next_observations) if cfg.double_q else next_q_values
            next_values = gather_actions(next_q_values, chooser.argmax(dim=1))
            targets = rewards + cfg.gamma * (1.0 - terminated) * next_values
        regularizer = cql_regularizer(q_values_all, actions, cfg.cql_alpha, cfg.cql_temperature)
        loss = ((q_values - targets) ** 2).mean() + regularizer
        tensors = {
            "q_values_all": q_values_all,
            "q_values": q_values,
            "targets": targets,
            "cql_regularizer": regularizer,
        }
        return loss, tensors""",
        "CQLAgent.critic_loss",
    ),
    # AWACAgent.critic_loss: detach and a softmax, Categorical's probabilities
    Alternative(
        "awac_critic_loss_detach_softmax",
        OFFLINE,
        _AWAC_CRITIC_BODY,
        """\
        rows = torch.arange(len(actions), device=actions.device)
        q_values = self.q_network(observations)[rows, actions]
        next_q_values = self.target_network(next_observations).detach()
        next_action_probs = self.actor(next_observations).softmax(dim=-1).detach()
        targets = awac_target(
            rewards, next_q_values, next_action_probs, terminated, self.config.gamma
        )
        loss = (q_values - targets).pow(2).mean()
        return loss, {"q_values": q_values, "targets": targets}""",
        "AWACAgent.critic_loss",
    ),
    Alternative(
        "awac_critic_loss_categorical_probs",
        OFFLINE,
        _AWAC_CRITIC_BODY,
        """\
        q_values = gather_actions(self.q_network(observations), actions)
        with torch.no_grad():
            policy = torch.distributions.Categorical(logits=self.actor(next_observations))
            next_q_values = self.target_network(next_observations)
            targets = awac_target(
                rewards, next_q_values, policy.probs, terminated, self.config.gamma
            )
        loss = F.mse_loss(q_values, targets, reduction="sum") / len(q_values)
        return loss, {"q_values": q_values, "targets": targets}""",
        "AWACAgent.critic_loss",
    ),
    # AWACAgent.actor_loss: Categorical, the advantages written out with indexing
    Alternative(
        "awac_actor_loss_categorical",
        OFFLINE,
        _AWAC_ACTOR_BODY,
        """\
        cfg = self.config
        policy = torch.distributions.Categorical(logits=self.actor(observations))
        q_values = self.q_network(observations).detach()
        advantages = awac_advantages(q_values, actions, policy.probs.detach())
        loss = advantage_weighted_loss(
            policy.log_prob(actions), advantages, cfg.temperature, cfg.max_weight
        )
        return loss, advantages""",
        "AWACAgent.actor_loss",
    ),
    Alternative(
        "awac_actor_loss_advantages_written_out",
        OFFLINE,
        _AWAC_ACTOR_BODY,
        """\
        rows = torch.arange(len(actions), device=actions.device)
        log_probs_all = self.actor(observations)
        with torch.no_grad():
            q_values = self.q_network(observations)
            values = (log_probs_all.exp() * q_values).sum(dim=1)
            advantages = q_values[rows, actions] - values
        cfg = self.config
        loss = advantage_weighted_loss(
            log_probs_all[rows, actions], advantages, cfg.temperature, cfg.max_weight
        )
        return loss, advantages""",
        "AWACAgent.actor_loss",
    ),
    # IQLAgent.value_loss: detach and indexing, one-hot and the expectile loss written out
    Alternative(
        "iql_value_loss_detach_indexing",
        OFFLINE,
        _IQL_VALUE_BODY,
        """\
        rows = torch.arange(len(actions), device=actions.device)
        target_q_values = self.target_network(observations).detach()[rows, actions]
        values = self.value_network(observations)
        return expectile_loss(target_q_values - values, self.config.expectile), values""",
        "IQLAgent.value_loss",
    ),
    Alternative(
        "iql_value_loss_one_hot_written_out",
        OFFLINE,
        _IQL_VALUE_BODY,
        """\
        with torch.no_grad():
            q_values = self.target_network(observations)
            one_hot = F.one_hot(actions, q_values.shape[1]).to(q_values.dtype)
            target_q_values = (one_hot * q_values).sum(dim=1)
        values = self.value_network(observations)
        differences = target_q_values - values
        weights = torch.abs(self.config.expectile - (differences < 0).to(differences.dtype))
        return (weights * differences**2).mean(), values""",
        "IQLAgent.value_loss",
    ),
    # IQLAgent.critic_loss: detach and indexing, addcmul and F.mse_loss summed
    Alternative(
        "iql_critic_loss_detach_indexing",
        OFFLINE,
        _IQL_CRITIC_BODY,
        """\
        rows = torch.arange(len(actions), device=actions.device)
        q_values = self.q_network(observations)[rows, actions]
        next_values = self.value_network(next_observations).detach()
        targets = iql_target(rewards, next_values, terminated, self.config.gamma)
        loss = ((q_values - targets) ** 2).mean()
        return loss, {"q_values": q_values, "targets": targets}""",
        "IQLAgent.critic_loss",
    ),
    Alternative(
        "iql_critic_loss_addcmul_mse_sum",
        OFFLINE,
        _IQL_CRITIC_BODY,
        """\
        q_values = gather_actions(self.q_network(observations), actions)
        with torch.no_grad():
            next_values = self.value_network(next_observations)
            targets = torch.addcmul(
                rewards, 1.0 - terminated, next_values, value=self.config.gamma
            )
        loss = F.mse_loss(q_values, targets, reduction="sum") / q_values.numel()
        return loss, {"q_values": q_values, "targets": targets}""",
        "IQLAgent.critic_loss",
    ),
    # IQLAgent.actor_loss: Categorical with detach, the weighted loss written out
    Alternative(
        "iql_actor_loss_categorical_detach",
        OFFLINE,
        _IQL_ACTOR_BODY,
        """\
        cfg = self.config
        policy = torch.distributions.Categorical(logits=self.actor(observations))
        q_values = self.target_network(observations).detach()
        target_q_values = q_values.gather(1, actions[:, None]).squeeze(1)
        advantages = target_q_values - self.value_network(observations).detach()
        loss = advantage_weighted_loss(
            policy.log_prob(actions), advantages, cfg.temperature, cfg.max_weight
        )
        return loss, advantages""",
        "IQLAgent.actor_loss",
    ),
    Alternative(
        "iql_actor_loss_weights_written_out",
        OFFLINE,
        _IQL_ACTOR_BODY,
        """\
        cfg = self.config
        with torch.no_grad():
            target_q_values = gather_actions(self.target_network(observations), actions)
            advantages = target_q_values - self.value_network(observations)
            weights = torch.exp(advantages / cfg.temperature).clamp(max=cfg.max_weight)
        log_probs = gather_actions(self.actor(observations), actions)
        return -(weights * log_probs).sum() / len(log_probs), advantages""",
        "IQLAgent.actor_loss",
    ),
    # gaussian_log_prob: torch.distributions, Independent, the variance in float64
    Alternative(
        "gaussian_log_prob_normal_distribution",
        CONTINUOUS,
        _LOG_PROB_BODY,
        """\
    normal = torch.distributions.Normal(means, log_stds.exp())
    return normal.log_prob(actions).sum(dim=-1)""",
        "gaussian_log_prob",
    ),
    Alternative(
        "gaussian_log_prob_independent_normal",
        CONTINUOUS,
        _LOG_PROB_BODY,
        """\
    normal = torch.distributions.Normal(loc=means, scale=torch.exp(log_stds))
    return torch.distributions.Independent(normal, 1).log_prob(actions)""",
        "gaussian_log_prob",
    ),
    Alternative(
        "gaussian_log_prob_variance_float64",
        CONTINUOUS,
        _LOG_PROB_BODY,
        """\
    variances = torch.exp(2.0 * log_stds.double())
    squared = (actions.double() - means.double()) ** 2
    log_densities = -squared / (2.0 * variances) - 0.5 * torch.log(2.0 * math.pi * variances)
    return log_densities.sum(dim=1).to(actions.dtype)""",
        "gaussian_log_prob",
    ),
    # BCAgent.actor_loss: the actor's outputs through torch.distributions, a sum over B
    Alternative(
        "bc_actor_loss_normal_of_the_actor",
        CONTINUOUS,
        _BC_ACTOR_BODY,
        """\
        means, log_stds = self.actor(observations)
        normal = torch.distributions.Normal(means, log_stds.exp())
        log_probs = normal.log_prob(actions).sum(dim=-1)
        return -log_probs.sum() / len(log_probs), log_probs""",
        "BCAgent.actor_loss",
    ),
    Alternative(
        "bc_actor_loss_gaussian_log_prob_called",
        CONTINUOUS,
        _BC_ACTOR_BODY,
        """\
        log_probs = gaussian_log_prob(actions, *self.actor(observations))
        return torch.mean(-log_probs), log_probs""",
        "BCAgent.actor_loss",
    ),
    # ContinuousIQLAgent.value_loss: a stacked minimum and .detach(), the expectile written out
    Alternative(
        "continuous_value_loss_stacked_minimum_detached",
        CONTINUOUS,
        _CONTINUOUS_VALUE_BODY,
        """\
        q_values = torch.stack(self.target_network(observations, actions))
        target_q_values = torch.min(q_values, dim=0).values.detach()
        values = self.value_network(observations)
        return expectile_loss(target_q_values - values, self.config.expectile), values""",
        "ContinuousIQLAgent.value_loss",
    ),
    Alternative(
        "continuous_value_loss_expectile_written_out",
        CONTINUOUS,
        _CONTINUOUS_VALUE_BODY,
        """\
        tau = self.config.expectile
        with torch.no_grad():
            q1_values, q2_values = self.target_network(observations, actions)
        values = self.value_network(observations)
        differences = torch.min(q1_values, q2_values) - values
        weights = torch.where(differences > 0, tau, 1.0 - tau)
        return (weights * differences.pow(2)).mean(), values""",
        "ContinuousIQLAgent.value_loss",
    ),
    # ContinuousIQLAgent.critic_loss: the target written out and detached, one mean of both
    Alternative(
        "continuous_critic_loss_target_written_out",
        CONTINUOUS,
        _CONTINUOUS_CRITIC_BODY,
        """\
        next_values = self.value_network(next_observations).detach()
        targets = rewards + self.config.gamma * (1.0 - terminated) * next_values
        q1_values, q2_values = self.q_network(observations, actions)
        loss = sum(F.mse_loss(q, targets) for q in (q1_values, q2_values))
        return loss, {"q_values": q1_values, "targets": targets}""",
        "ContinuousIQLAgent.critic_loss",
    ),
    Alternative(
        "continuous_critic_loss_one_mean_of_both_errors",
        CONTINUOUS,
        _CONTINUOUS_CRITIC_BODY,
        """\
        with torch.no_grad():
            targets = iql_target(
                rewards, self.value_network(next_observations), terminated, self.config.gamma
            )
        q_values = torch.stack(self.q_network(observations, actions), dim=1)  # (B, 2)
        loss = ((q_values - targets.unsqueeze(1)) ** 2).sum(dim=1).mean()
        return loss, {"q_values": q_values[:, 0], "targets": targets}""",
        "ContinuousIQLAgent.critic_loss",
    ),
    # ContinuousIQLAgent.actor_loss: .detach() and a stacked minimum, the weights written out,
    # the actor's Normal
    Alternative(
        "continuous_actor_loss_detached_stacked_minimum",
        CONTINUOUS,
        _CONTINUOUS_ACTOR_BODY,
        """\
        q_values = torch.stack(self.target_network(observations, actions))
        advantages = (q_values.min(dim=0).values - self.value_network(observations)).detach()
        log_probs = self.actor.log_prob(observations, actions)
        cfg = self.config
        return advantage_weighted_loss(log_probs, advantages, cfg.temperature, cfg.max_weight), (
            advantages
        )""",
        "ContinuousIQLAgent.actor_loss",
    ),
    Alternative(
        "continuous_actor_loss_weights_written_out",
        CONTINUOUS,
        _CONTINUOUS_ACTOR_BODY,
        """\
        with torch.no_grad():
            q1_values, q2_values = self.target_network(observations, actions)
            advantages = torch.minimum(q1_values, q2_values) - self.value_network(observations)
            log_weights = advantages / self.config.temperature
            weights = torch.exp(log_weights.clamp(max=math.log(self.config.max_weight)))
        means, log_stds = self.actor(observations)
        normal = torch.distributions.Normal(means, log_stds.exp())
        log_probs = normal.log_prob(actions).sum(dim=-1)
        return -(weights * log_probs).mean(), advantages""",
        "ContinuousIQLAgent.actor_loss",
    ),
    Alternative(
        "iql_target_addcmul",
        OFFLINE,
        _IQL_TARGET_BODY,
        "    return torch.addcmul(rewards, 1.0 - terminated, next_values, value=gamma)",
        "iql_target",
    ),
    Alternative(
        "iql_target_where_float64",
        OFFLINE,
        _IQL_TARGET_BODY,
        """\
    bootstrapped = rewards.double() + gamma * next_values.double()
    return torch.where(terminated > 0.5, rewards.double(), bootstrapped).to(rewards.dtype)""",
        "iql_target",
    ),
]

"""Mutants of homework 5: bugs students really write in random network distillation (the
prediction error, the predictor's loss, the running spread and the bonus) and in the offline
algorithms (CQL's regulariser, AWAC's critic target, advantages and weighted actor loss, IQL's
expectile loss, value loss and Q target), in the agents' losses that put them together, and in
the continuous part (the Gaussian's log-density, behaviour cloning's loss, and IQL's losses with
two Q-networks and a Gaussian actor).

Several of them leave every value of the training loop as it is and only show where a check
looks for them: a bonus or an advantage weight still attached to its graph, a predictor's loss
that reaches the target network, change nothing while the given code calls the function under
``torch.no_grad()`` or with a frozen target, but they are the bugs the docstrings warn about,
and a gradient check with inputs that require gradients sees them. Others hide behind the
defaults: with ``cql_alpha`` and ``cql_temperature`` both 1, the two swapped, or a temperature
missing, changes nothing, so a check must use other values.

Many solution regions share lines with each other or with given code (the Bellman target of
AWAC, of IQL and of DQN; the mean squared TD error of every agent), so each patch here is
written against the whole body of its region (the ``_..._BODY`` constants, copied from the
reference), with :func:`_edit` changing one piece of it.
"""

from __future__ import annotations

from autograder.mutants import Mutant

EXPLORATION = "hw5_offline/exploration.py"
OFFLINE = "hw5_offline/offline.py"
CONTINUOUS = "hw5_offline/continuous.py"

# ---------------------------------------------------------------------------------------------
# The reference's solution regions
# ---------------------------------------------------------------------------------------------

_RND_ERROR_BODY = "    return ((predictions - targets) ** 2).sum(dim=1)"
_RND_LOSS_BODY = "    return rnd_error(predictions, targets.detach()).mean()"
_RUNNING_STD_BODY = """\
    batch_std = errors.detach().std(correction=0).item()
    return decay * running_std + (1.0 - decay) * batch_std"""
_BONUS_BODY = "    return errors.detach() / running_std"
_IQL_TARGET_BODY = """\
    bootstrap = (1.0 - terminated) * next_values
    return rewards + gamma * bootstrap"""
_CQL_BODY = """\
    soft_maximum = temperature * torch.logsumexp(q_values / temperature, dim=1)
    data_q_values = q_values.gather(1, actions.unsqueeze(1)).squeeze(1)
    return alpha * (soft_maximum - data_q_values).mean()"""
_AWAC_TARGET_BODY = """\
    next_values = (next_action_probs * next_q_values).sum(dim=1)
    return rewards + gamma * (1.0 - terminated) * next_values"""
_AWAC_ADVANTAGES_BODY = """\
    values = (action_probs * q_values).sum(dim=1)
    data_q_values = q_values.gather(1, actions.unsqueeze(1)).squeeze(1)
    return data_q_values - values"""
_WEIGHTED_LOSS_BODY = """\
    weights = torch.exp(advantages.detach() / temperature).clamp(max=max_weight)
    return -(weights * log_probs).mean()"""
_EXPECTILE_BODY = """\
    weights = torch.where(differences < 0, 1.0 - expectile, expectile)
    return (weights * differences**2).mean()"""
_CQL_CRITIC_BODY = """\
        loss, tensors = super().critic_loss(
            observations, actions, rewards, next_observations, terminated
        )
        regularizer = cql_regularizer(
            tensors["q_values_all"], actions, self.config.cql_alpha, self.config.cql_temperature
        )
        return loss + regularizer, {**tensors, "cql_regularizer": regularizer}"""
_AWAC_CRITIC_BODY = """\
        q_values = gather_actions(self.q_network(observations), actions)
        with torch.no_grad():
            next_q_values = self.target_network(next_observations)
            next_action_probs = self.actor(next_observations).exp()
            targets = awac_target(
                rewards, next_q_values, next_action_probs, terminated, self.config.gamma
            )
        loss = F.mse_loss(q_values, targets)
        return loss, {"q_values": q_values, "targets": targets}"""
_AWAC_ACTOR_BODY = """\
        log_probs_all = self.actor(observations)
        with torch.no_grad():
            advantages = awac_advantages(self.q_network(observations), actions, log_probs_all.exp())
        log_probs = gather_actions(log_probs_all, actions)
        loss = advantage_weighted_loss(
            log_probs, advantages, self.config.temperature, self.config.max_weight
        )
        return loss, advantages"""
_IQL_VALUE_BODY = """\
        with torch.no_grad():
            target_q_values = gather_actions(self.target_network(observations), actions)
        values = self.value_network(observations)
        loss = expectile_loss(target_q_values - values, self.config.expectile)
        return loss, values"""
_IQL_CRITIC_BODY = """\
        q_values = gather_actions(self.q_network(observations), actions)
        with torch.no_grad():
            next_values = self.value_network(next_observations)
            targets = iql_target(rewards, next_values, terminated, self.config.gamma)
        loss = F.mse_loss(q_values, targets)
        return loss, {"q_values": q_values, "targets": targets}"""
_IQL_ACTOR_BODY = """\
        with torch.no_grad():
            target_q_values = gather_actions(self.target_network(observations), actions)
            advantages = target_q_values - self.value_network(observations)
        log_probs = gather_actions(self.actor(observations), actions)
        loss = advantage_weighted_loss(
            log_probs, advantages, self.config.temperature, self.config.max_weight
        )
        return loss, advantages"""


_LOG_PROB_BODY = """\
    z = (actions - means) * torch.exp(-log_stds)
    per_dimension = -0.5 * z**2 - log_stds - 0.5 * math.log(2.0 * math.pi)
    return per_dimension.sum(dim=-1)"""
_BC_ACTOR_BODY = """\
        log_probs = self.actor.log_prob(observations, actions)
        return -log_probs.mean(), log_probs"""
_CONTINUOUS_VALUE_BODY = """\
        with torch.no_grad():
            target_q_values = torch.minimum(*self.target_network(observations, actions))
        values = self.value_network(observations)
        loss = expectile_loss(target_q_values - values, self.config.expectile)
        return loss, values"""
_CONTINUOUS_CRITIC_BODY = """\
        q1_values, q2_values = self.q_network(observations, actions)
        with torch.no_grad():
            next_values = self.value_network(next_observations)
            targets = iql_target(rewards, next_values, terminated, self.config.gamma)
        loss = F.mse_loss(q1_values, targets) + F.mse_loss(q2_values, targets)
        return loss, {"q_values": q1_values, "targets": targets}"""
_CONTINUOUS_ACTOR_BODY = """\
        with torch.no_grad():
            target_q_values = torch.minimum(*self.target_network(observations, actions))
            advantages = target_q_values - self.value_network(observations)
        log_probs = self.actor.log_prob(observations, actions)
        loss = advantage_weighted_loss(
            log_probs, advantages, self.config.temperature, self.config.max_weight
        )
        return loss, advantages"""
_CONTINUOUS_ACTOR_BY_HAND = """\
        target_q_values = torch.minimum(*self.target_network(observations, actions))
        advantages = target_q_values - self.value_network(observations)
        weights = torch.exp(advantages / self.config.temperature).clamp(max=self.config.max_weight)
        log_probs = self.actor.log_prob(observations, actions)
        return -(weights * log_probs).mean(), advantages"""


def _edit(body: str, old: str, new: str) -> str:
    """``body`` with its one occurrence of ``old`` replaced by ``new``."""
    if body.count(old) != 1:
        raise ValueError(f"expected {old!r} exactly once in the region, found it {body.count(old)}")
    return body.replace(old, new)


def _mutant(name: str, file: str, body: str, old: str, new: str, function: str) -> Mutant:
    """A mutant that rewrites ``old`` as ``new`` inside the solution region ``body``."""
    return Mutant(name, file, body, _edit(body, old, new), function)


MUTANTS: list[Mutant] = [
    # rnd_error
    _mutant(  # the mean squared error per state: every bonus is output_size times too small
        "rnd_error_mean_over_the_outputs",
        EXPLORATION,
        _RND_ERROR_BODY,
        ".sum(dim=1)",
        ".mean(dim=1)",
        "rnd_error",
    ),
    _mutant(  # one error per output instead of one per state
        "rnd_error_summed_over_the_batch",
        EXPLORATION,
        _RND_ERROR_BODY,
        ".sum(dim=1)",
        ".sum(dim=0)",
        "rnd_error",
    ),
    _mutant(  # the Euclidean norm, not its square
        "rnd_error_norm_not_squared",
        EXPLORATION,
        _RND_ERROR_BODY,
        "((predictions - targets) ** 2).sum(dim=1)",
        "torch.linalg.vector_norm(predictions - targets, dim=1)",
        "rnd_error",
    ),
    # rnd_loss
    _mutant(  # the target network would be trained too, were its weights not frozen
        "rnd_loss_reaches_the_target",
        EXPLORATION,
        _RND_LOSS_BODY,
        "targets.detach()",
        "targets",
        "rnd_loss",
    ),
    _mutant(  # the wrong network detached: the predictor never learns
        "rnd_loss_detaches_the_predictions",
        EXPLORATION,
        _RND_LOSS_BODY,
        "rnd_error(predictions, targets.detach())",
        "rnd_error(predictions.detach(), targets)",
        "rnd_loss",
    ),
    _mutant(  # B times the gradient: the learning rate now depends on the batch size
        "rnd_loss_summed_over_the_batch",
        EXPLORATION,
        _RND_LOSS_BODY,
        ".mean()",
        ".sum()",
        "rnd_loss",
    ),
    # update_running_std
    _mutant(  # the lecture's decay applied to the new value: sigma forgets its past at once
        "update_running_std_decay_on_the_new_value",
        EXPLORATION,
        _RUNNING_STD_BODY,
        "decay * running_std + (1.0 - decay) * batch_std",
        "(1.0 - decay) * running_std + decay * batch_std",
        "update_running_std",
    ),
    _mutant(
        "update_running_std_divides_by_b_minus_one",
        EXPLORATION,
        _RUNNING_STD_BODY,
        ".std(correction=0)",
        ".std()",
        "update_running_std",
    ),
    _mutant(  # the spread in squared units: the bonus's scale depends on the errors' scale
        "update_running_std_of_the_variance",
        EXPLORATION,
        _RUNNING_STD_BODY,
        ".std(correction=0)",
        ".var(correction=0)",
        "update_running_std",
    ),
    _mutant(  # no moving average: each minibatch's spread alone
        "update_running_std_forgets_the_running_value",
        EXPLORATION,
        _RUNNING_STD_BODY,
        "return decay * running_std + (1.0 - decay) * batch_std",
        "return batch_std",
        "update_running_std",
    ),
    # normalized_bonus
    _mutant(  # a reward with a graph: the critic's loss would train the predictor
        "normalized_bonus_not_detached",
        EXPLORATION,
        _BONUS_BODY,
        "errors.detach() / running_std",
        "errors / running_std",
        "normalized_bonus",
    ),
    _mutant(
        "normalized_bonus_multiplies_by_the_std",
        EXPLORATION,
        _BONUS_BODY,
        "/ running_std",
        "* running_std",
        "normalized_bonus",
    ),
    _mutant(
        "normalized_bonus_divides_by_the_variance",
        EXPLORATION,
        _BONUS_BODY,
        "/ running_std",
        "/ running_std**2",
        "normalized_bonus",
    ),
    # cql_regularizer
    _mutant(  # the soft maximum over the states of the batch, broadcast against each state
        "cql_logsumexp_over_the_batch",
        OFFLINE,
        _CQL_BODY,
        "torch.logsumexp(q_values / temperature, dim=1)",
        "torch.logsumexp(q_values / temperature, dim=0)",
        "cql_regularizer",
    ),
    _mutant(  # pushes the data's actions down and the rest up: optimism, not conservatism
        "cql_wrong_sign",
        OFFLINE,
        _CQL_BODY,
        "(soft_maximum - data_q_values)",
        "(data_q_values - soft_maximum)",
        "cql_regularizer",
    ),
    _mutant(  # the soft maximum of Q / tau, not tau times it
        "cql_temperature_missing_outside",
        OFFLINE,
        _CQL_BODY,
        "soft_maximum = temperature * torch.logsumexp",
        "soft_maximum = torch.logsumexp",
        "cql_regularizer",
    ),
    _mutant(  # the temperature multiplies inside instead of dividing
        "cql_temperature_multiplies_inside",
        OFFLINE,
        _CQL_BODY,
        "q_values / temperature",
        "q_values * temperature",
        "cql_regularizer",
    ),
    _mutant(  # the hard maximum: the gradient reaches only the largest action
        "cql_hard_maximum",
        OFFLINE,
        _CQL_BODY,
        "temperature * torch.logsumexp(q_values / temperature, dim=1)",
        "q_values.max(dim=1).values",
        "cql_regularizer",
    ),
    _mutant(
        "cql_alpha_missing",
        OFFLINE,
        _CQL_BODY,
        "return alpha * (soft_maximum - data_q_values).mean()",
        "return (soft_maximum - data_q_values).mean()",
        "cql_regularizer",
    ),
    # CQLAgent.critic_loss
    _mutant(
        "cql_critic_loss_subtracts_the_regularizer",
        OFFLINE,
        _CQL_CRITIC_BODY,
        "return loss + regularizer",
        "return loss - regularizer",
        "CQLAgent.critic_loss",
    ),
    _mutant(  # both 1 by default: only other values tell them apart
        "cql_critic_loss_alpha_and_temperature_swapped",
        OFFLINE,
        _CQL_CRITIC_BODY,
        "self.config.cql_alpha, self.config.cql_temperature",
        "self.config.cql_temperature, self.config.cql_alpha",
        "CQLAgent.critic_loss",
    ),
    _mutant(  # the values of the next states, which the data's actions were not taken in
        "cql_critic_loss_regularizes_the_next_states",
        OFFLINE,
        _CQL_CRITIC_BODY,
        'tensors["q_values_all"], actions',
        "self.q_network(next_observations), actions",
        "CQLAgent.critic_loss",
    ),
    # awac_target
    _mutant(  # DQN's greedy target: AWAC evaluates its own policy
        "awac_target_max_instead_of_the_policys_expectation",
        OFFLINE,
        _AWAC_TARGET_BODY,
        "(next_action_probs * next_q_values).sum(dim=1)",
        "next_q_values.max(dim=1).values",
        "awac_target",
    ),
    _mutant(  # the uniform policy's expectation
        "awac_target_unweighted_mean_over_actions",
        OFFLINE,
        _AWAC_TARGET_BODY,
        "(next_action_probs * next_q_values).sum(dim=1)",
        "next_q_values.mean(dim=1)",
        "awac_target",
    ),
    _mutant(
        "awac_target_terminal_mask_ignored",
        OFFLINE,
        _AWAC_TARGET_BODY,
        "gamma * (1.0 - terminated) * next_values",
        "gamma * next_values",
        "awac_target",
    ),
    _mutant(  # bootstraps only from terminal states
        "awac_target_terminal_mask_reversed",
        OFFLINE,
        _AWAC_TARGET_BODY,
        "gamma * (1.0 - terminated) * next_values",
        "gamma * terminated * next_values",
        "awac_target",
    ),
    # awac_advantages
    _mutant(  # the greedy value as the baseline: every advantage is <= 0
        "awac_advantages_max_baseline",
        OFFLINE,
        _AWAC_ADVANTAGES_BODY,
        "values = (action_probs * q_values).sum(dim=1)",
        "values = q_values.max(dim=1).values",
        "awac_advantages",
    ),
    _mutant(  # the uniform policy's value as the baseline
        "awac_advantages_unweighted_mean_baseline",
        OFFLINE,
        _AWAC_ADVANTAGES_BODY,
        "values = (action_probs * q_values).sum(dim=1)",
        "values = q_values.mean(dim=1)",
        "awac_advantages",
    ),
    _mutant(
        "awac_advantages_sign_reversed",
        OFFLINE,
        _AWAC_ADVANTAGES_BODY,
        "return data_q_values - values",
        "return values - data_q_values",
        "awac_advantages",
    ),
    # advantage_weighted_loss
    _mutant(  # the actor's loss would move whatever computed the advantages
        "advantage_weights_not_detached",
        OFFLINE,
        _WEIGHTED_LOSS_BODY,
        "advantages.detach() / temperature",
        "advantages / temperature",
        "advantage_weighted_loss",
    ),
    _mutant(  # one large advantage dominates the minibatch, or overflows to inf
        "advantage_weights_not_clipped",
        OFFLINE,
        _WEIGHTED_LOSS_BODY,
        ".clamp(max=max_weight)",
        "",
        "advantage_weighted_loss",
    ),
    _mutant(
        "advantage_weights_temperature_multiplies",
        OFFLINE,
        _WEIGHTED_LOSS_BODY,
        "advantages.detach() / temperature",
        "advantages.detach() * temperature",
        "advantage_weighted_loss",
    ),
    _mutant(  # gradient ascent on the negative log-likelihood: the data's actions unlearned
        "advantage_weighted_loss_sign_reversed",
        OFFLINE,
        _WEIGHTED_LOSS_BODY,
        "return -(weights * log_probs).mean()",
        "return (weights * log_probs).mean()",
        "advantage_weighted_loss",
    ),
    _mutant(  # the weights clipped from below: every weight at least max_weight
        "advantage_weights_clipped_from_below",
        OFFLINE,
        _WEIGHTED_LOSS_BODY,
        ".clamp(max=max_weight)",
        ".clamp(min=max_weight)",
        "advantage_weighted_loss",
    ),
    # expectile_loss
    _mutant(  # the 1 - tau expectile: V settles below the mean, toward the minimum
        "expectile_weights_swapped",
        OFFLINE,
        _EXPECTILE_BODY,
        "torch.where(differences < 0, 1.0 - expectile, expectile)",
        "torch.where(differences < 0, expectile, 1.0 - expectile)",
        "expectile_loss",
    ),
    _mutant(  # the quantile's loss, not the expectile's
        "expectile_loss_absolute_not_squared",
        OFFLINE,
        _EXPECTILE_BODY,
        "(weights * differences**2)",
        "(weights * differences.abs())",
        "expectile_loss",
    ),
    _mutant(  # the weights of one side only: the other side costs nothing
        "expectile_loss_one_sided",
        OFFLINE,
        _EXPECTILE_BODY,
        "torch.where(differences < 0, 1.0 - expectile, expectile)",
        "torch.where(differences < 0, 0.0, expectile)",
        "expectile_loss",
    ),
    # AWACAgent.critic_loss
    _mutant(  # log-probabilities where probabilities belong: a negative "expectation"
        "awac_critic_loss_log_probabilities_as_probabilities",
        OFFLINE,
        _AWAC_CRITIC_BODY,
        "next_action_probs = self.actor(next_observations).exp()",
        "next_action_probs = self.actor(next_observations)",
        "AWACAgent.critic_loss",
    ),
    _mutant(  # the policy at s, not at s'
        "awac_critic_loss_policy_at_the_current_states",
        OFFLINE,
        _AWAC_CRITIC_BODY,
        "next_action_probs = self.actor(next_observations).exp()",
        "next_action_probs = self.actor(observations).exp()",
        "AWACAgent.critic_loss",
    ),
    _mutant(  # the online network bootstraps itself: no target network
        "awac_critic_loss_online_network_in_the_target",
        OFFLINE,
        _AWAC_CRITIC_BODY,
        "next_q_values = self.target_network(next_observations)",
        "next_q_values = self.q_network(next_observations)",
        "AWACAgent.critic_loss",
    ),
    # AWACAgent.actor_loss
    _mutant(
        "awac_actor_loss_log_probabilities_as_probabilities",
        OFFLINE,
        _AWAC_ACTOR_BODY,
        "actions, log_probs_all.exp())",
        "actions, log_probs_all)",
        "AWACAgent.actor_loss",
    ),
    _mutant(  # IQL's network in AWAC's advantage
        "awac_actor_loss_target_network_advantages",
        OFFLINE,
        _AWAC_ACTOR_BODY,
        "awac_advantages(self.q_network(observations)",
        "awac_advantages(self.target_network(observations)",
        "AWACAgent.actor_loss",
    ),
    _mutant(  # a large weight where the clip belongs, the clip where the temperature does
        "awac_actor_loss_temperature_and_max_weight_swapped",
        OFFLINE,
        _AWAC_ACTOR_BODY,
        "self.config.temperature, self.config.max_weight",
        "self.config.max_weight, self.config.temperature",
        "AWACAgent.actor_loss",
    ),
    # IQLAgent.value_loss
    _mutant(  # the maximum over all actions: the out-of-data actions IQL never evaluates
        "iql_value_loss_toward_the_max_over_actions",
        OFFLINE,
        _IQL_VALUE_BODY,
        "target_q_values = gather_actions(self.target_network(observations), actions)",
        "target_q_values = self.target_network(observations).max(dim=1).values",
        "IQLAgent.value_loss",
    ),
    _mutant(  # prediction minus target: the tau and 1 - tau sides swap
        "iql_value_loss_differences_reversed",
        OFFLINE,
        _IQL_VALUE_BODY,
        "expectile_loss(target_q_values - values,",
        "expectile_loss(values - target_q_values,",
        "IQLAgent.value_loss",
    ),
    _mutant(
        "iql_value_loss_toward_the_online_network",
        OFFLINE,
        _IQL_VALUE_BODY,
        "gather_actions(self.target_network(observations), actions)",
        "gather_actions(self.q_network(observations), actions)",
        "IQLAgent.value_loss",
    ),
    # IQLAgent.critic_loss
    _mutant(  # DQN's target: the maximum over actions the data never took
        "iql_critic_loss_bootstraps_from_q_not_v",
        OFFLINE,
        _IQL_CRITIC_BODY,
        "next_values = self.value_network(next_observations)",
        "next_values = self.target_network(next_observations).max(dim=1).values",
        "IQLAgent.critic_loss",
    ),
    _mutant(
        "iql_critic_loss_value_of_the_current_states",
        OFFLINE,
        _IQL_CRITIC_BODY,
        "next_values = self.value_network(next_observations)",
        "next_values = self.value_network(observations)",
        "IQLAgent.critic_loss",
    ),
    # IQLAgent.actor_loss
    _mutant(
        "iql_actor_loss_advantage_reversed",
        OFFLINE,
        _IQL_ACTOR_BODY,
        "advantages = target_q_values - self.value_network(observations)",
        "advantages = self.value_network(observations) - target_q_values",
        "IQLAgent.actor_loss",
    ),
    _mutant(
        "iql_actor_loss_online_network_advantages",
        OFFLINE,
        _IQL_ACTOR_BODY,
        "gather_actions(self.target_network(observations), actions)",
        "gather_actions(self.q_network(observations), actions)",
        "IQLAgent.actor_loss",
    ),
    _mutant(  # AWAC's baseline in IQL: the policy's average of Q over every action
        "iql_actor_loss_policy_baseline_instead_of_v",
        OFFLINE,
        _IQL_ACTOR_BODY,
        "advantages = target_q_values - self.value_network(observations)",
        "q_values = self.target_network(observations)\n"
        "            probs = self.actor(observations).exp()\n"
        "            advantages = awac_advantages(q_values, actions, probs)",
        "IQLAgent.actor_loss",
    ),
    # gaussian_log_prob
    _mutant(  # the average log-density of a dimension: |A| times too small, its gradient too
        "gaussian_log_prob_mean_over_the_dimensions",
        CONTINUOUS,
        _LOG_PROB_BODY,
        "per_dimension.sum(dim=-1)",
        "per_dimension.mean(dim=-1)",
        "gaussian_log_prob",
    ),
    _mutant(  # (a - mu)^2 / sigma: the standard deviation where the variance belongs
        "gaussian_log_prob_divides_by_the_std_not_the_variance",
        CONTINUOUS,
        _LOG_PROB_BODY,
        "torch.exp(-log_stds)",
        "torch.exp(-0.5 * log_stds)",
        "gaussian_log_prob",
    ),
    _mutant(  # the normaliser forgotten: sigma only ever grows under maximum likelihood
        "gaussian_log_prob_without_the_log_sigma_term",
        CONTINUOUS,
        _LOG_PROB_BODY,
        "-0.5 * z**2 - log_stds - 0.5",
        "-0.5 * z**2 - 0.5",
        "gaussian_log_prob",
    ),
    _mutant(  # a constant that changes no gradient, but every reported log-likelihood
        "gaussian_log_prob_without_the_two_pi_constant",
        CONTINUOUS,
        _LOG_PROB_BODY,
        "-0.5 * z**2 - log_stds - 0.5 * math.log(2.0 * math.pi)",
        "-0.5 * z**2 - log_stds",
        "gaussian_log_prob",
    ),
    _mutant(  # the quadratic term not halved
        "gaussian_log_prob_quadratic_term_not_halved",
        CONTINUOUS,
        _LOG_PROB_BODY,
        "-0.5 * z**2",
        "-(z**2)",
        "gaussian_log_prob",
    ),
    # BCAgent.actor_loss
    _mutant(  # minimises the likelihood of the dataset's actions
        "bc_actor_loss_wrong_sign",
        CONTINUOUS,
        _BC_ACTOR_BODY,
        "return -log_probs.mean(), log_probs",
        "return log_probs.mean(), log_probs",
        "BCAgent.actor_loss",
    ),
    _mutant(  # B times the gradient: the step size depends on the batch size
        "bc_actor_loss_summed_over_the_batch",
        CONTINUOUS,
        _BC_ACTOR_BODY,
        "-log_probs.mean()",
        "-log_probs.sum()",
        "BCAgent.actor_loss",
    ),
    # ContinuousIQLAgent.value_loss
    _mutant(
        "continuous_value_loss_toward_the_online_networks",
        CONTINUOUS,
        _CONTINUOUS_VALUE_BODY,
        "torch.minimum(*self.target_network(observations, actions))",
        "torch.minimum(*self.q_network(observations, actions))",
        "ContinuousIQLAgent.value_loss",
    ),
    _mutant(  # the mean of the two: one Q-network's overestimate lifts V half as much
        "continuous_value_loss_toward_the_mean_of_the_two",
        CONTINUOUS,
        _CONTINUOUS_VALUE_BODY,
        "target_q_values = torch.minimum(*self.target_network(observations, actions))",
        "target_q_values = torch.stack(self.target_network(observations, actions)).mean(dim=0)",
        "ContinuousIQLAgent.value_loss",
    ),
    _mutant(  # one target network: the twin is trained and never used
        "continuous_value_loss_first_network_only",
        CONTINUOUS,
        _CONTINUOUS_VALUE_BODY,
        "torch.minimum(*self.target_network(observations, actions))",
        "self.target_network(observations, actions)[0]",
        "ContinuousIQLAgent.value_loss",
    ),
    _mutant(  # SAC's V: Q at the policy's action, which IQL avoids (it may leave the data)
        "continuous_value_loss_at_the_policys_action",
        CONTINUOUS,
        _CONTINUOUS_VALUE_BODY,
        "self.target_network(observations, actions)",
        "self.target_network(observations, self.actor(observations)[0])",
        "ContinuousIQLAgent.value_loss",
    ),
    _mutant(  # prediction minus target: tau weighs V above its target, an expectile of 1 - tau
        "continuous_value_loss_differences_reversed",
        CONTINUOUS,
        _CONTINUOUS_VALUE_BODY,
        "expectile_loss(target_q_values - values,",
        "expectile_loss(values - target_q_values,",
        "ContinuousIQLAgent.value_loss",
    ),
    # ContinuousIQLAgent.critic_loss
    _mutant(  # the second Q-network is never trained, and V's minimum keeps its initial values
        "continuous_critic_loss_first_network_only",
        CONTINUOUS,
        _CONTINUOUS_CRITIC_BODY,
        "loss = F.mse_loss(q1_values, targets) + F.mse_loss(q2_values, targets)",
        "loss = F.mse_loss(q1_values, targets)",
        "ContinuousIQLAgent.critic_loss",
    ),
    _mutant(  # the mean of the two losses: half the gradient each network should get
        "continuous_critic_loss_averaged_over_the_networks",
        CONTINUOUS,
        _CONTINUOUS_CRITIC_BODY,
        "loss = F.mse_loss(q1_values, targets) + F.mse_loss(q2_values, targets)",
        "loss = 0.5 * (F.mse_loss(q1_values, targets) + F.mse_loss(q2_values, targets))",
        "ContinuousIQLAgent.critic_loss",
    ),
    _mutant(  # the target written out without its mask: a fall bootstraps from V
        "continuous_critic_loss_bootstraps_from_terminal_states",
        CONTINUOUS,
        _CONTINUOUS_CRITIC_BODY,
        "targets = iql_target(rewards, next_values, terminated, self.config.gamma)",
        "targets = rewards + self.config.gamma * next_values",
        "ContinuousIQLAgent.critic_loss",
    ),
    _mutant(  # the critic's loss trains V too, toward Q's own targets
        "continuous_critic_loss_reaches_the_value_network",
        CONTINUOUS,
        _CONTINUOUS_CRITIC_BODY,
        """\
        with torch.no_grad():
            next_values = self.value_network(next_observations)
            targets = iql_target(rewards, next_values, terminated, self.config.gamma)""",
        """\
        next_values = self.value_network(next_observations)
        targets = iql_target(rewards, next_values, terminated, self.config.gamma)""",
        "ContinuousIQLAgent.critic_loss",
    ),
    # ContinuousIQLAgent.actor_loss
    _mutant(
        "continuous_actor_loss_advantages_from_the_online_networks",
        CONTINUOUS,
        _CONTINUOUS_ACTOR_BODY,
        "torch.minimum(*self.target_network(observations, actions))",
        "torch.minimum(*self.q_network(observations, actions))",
        "ContinuousIQLAgent.actor_loss",
    ),
    _mutant(  # weights written out from advantages still attached to V: the actor trains V
        "continuous_actor_loss_weights_not_detached",
        CONTINUOUS,
        _CONTINUOUS_ACTOR_BODY,
        _CONTINUOUS_ACTOR_BODY,
        _CONTINUOUS_ACTOR_BY_HAND,
        "ContinuousIQLAgent.actor_loss",
    ),
    _mutant(  # weights written out and never clipped
        "continuous_actor_loss_weights_not_clipped",
        CONTINUOUS,
        _CONTINUOUS_ACTOR_BODY,
        """\
        loss = advantage_weighted_loss(
            log_probs, advantages, self.config.temperature, self.config.max_weight
        )""",
        """\
        weights = torch.exp(advantages / self.config.temperature)
        loss = -(weights * log_probs).mean()""",
        "ContinuousIQLAgent.actor_loss",
    ),
    _mutant(  # the likelihood of the actor's own means: the loss ignores the dataset's actions
        "continuous_actor_loss_log_prob_of_the_policys_means",
        CONTINUOUS,
        _CONTINUOUS_ACTOR_BODY,
        "log_probs = self.actor.log_prob(observations, actions)",
        "log_probs = self.actor.log_prob(observations, self.actor(observations)[0])",
        "ContinuousIQLAgent.actor_loss",
    ),
    _mutant(
        "iql_target_terminal_mask_ignored",
        OFFLINE,
        _IQL_TARGET_BODY,
        "bootstrap = (1.0 - terminated) * next_values",
        "bootstrap = next_values",
        "iql_target",
    ),
    _mutant(  # bootstraps only from terminal states
        "iql_target_terminal_mask_reversed",
        OFFLINE,
        _IQL_TARGET_BODY,
        "bootstrap = (1.0 - terminated) * next_values",
        "bootstrap = terminated * next_values",
        "iql_target",
    ),
    _mutant(
        "iql_target_without_discount",
        OFFLINE,
        _IQL_TARGET_BODY,
        "return rewards + gamma * bootstrap",
        "return rewards + bootstrap",
        "iql_target",
    ),
]

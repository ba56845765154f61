"""Mutants of homework 3: bugs students really write in DQN's targets, losses and exploration,
and in SAC's squashed Gaussian, soft targets, actor, temperature and target updates.

Homework 3's code never sees a combined ``done`` (the agents get ``terminated`` only), so the
"``done`` instead of ``terminated``" bug takes its two other forms here: bootstrapping through
a terminal state, and masking the wrong way round.
"""

from __future__ import annotations

from autograder.mutants import Mutant

DQN = "hw3_q_learning/dqn.py"
SAC = "hw3_q_learning/sac.py"

_CLIP = (
    "        grad_norm = nn.utils.clip_grad_norm_(\n"
    "            self.q_network.parameters(), "
    'max_norm if max_norm is not None else float("inf")\n'
    "        )\n"
)

MUTANTS: list[Mutant] = [
    # exploration
    Mutant(
        "epsilon_never_decays",
        DQN,
        "return start + fraction * (end - start)",
        "return start",
        "linear_schedule",
    ),
    Mutant(
        "epsilon_greedy_random_action_never_greedy",
        DQN,
        "actions[explore] = rng.integers(num_actions, size=int(explore.sum()))",
        "actions[explore] = (actions[explore] + 1 + rng.integers(num_actions - 1, "
        "size=int(explore.sum()))) % num_actions",
        "epsilon_greedy",
    ),
    Mutant(
        "epsilon_greedy_one_coin_for_the_batch",
        DQN,
        "explore = rng.random(batch_size) < epsilon",
        "explore = np.full(batch_size, rng.random() < epsilon)",
        "epsilon_greedy",
    ),
    # DQN targets
    Mutant(
        "dqn_target_bootstraps_through_terminal",
        DQN,
        "    next_values = next_q_values.max(dim=1).values\n"
        "    return rewards + gamma * (1.0 - terminated) * next_values",
        "    next_values = next_q_values.max(dim=1).values\n"
        "    return rewards + gamma * next_values",
        "dqn_target",
    ),
    Mutant(
        "dqn_target_mask_inverted",
        DQN,
        "    next_values = next_q_values.max(dim=1).values\n"
        "    return rewards + gamma * (1.0 - terminated) * next_values",
        "    next_values = next_q_values.max(dim=1).values\n"
        "    return rewards + gamma * terminated * next_values",
        "dqn_target",
    ),
    Mutant(
        "dqn_target_max_over_batch",
        DQN,
        "next_values = next_q_values.max(dim=1).values\n    return",
        "next_values = next_q_values.max(dim=0).values.max()\n    return",
        "dqn_target",
    ),
    Mutant(
        "double_dqn_argmax_with_target_network",
        DQN,
        "next_actions = next_q_values_online.argmax(dim=1, keepdim=True)",
        "next_actions = next_q_values_target.argmax(dim=1, keepdim=True)",
        "double_dqn_target",
    ),
    # DQN loss and update
    Mutant(
        "huber_target_not_detached",
        DQN,
        "huber_loss(q_values, targets.detach(), delta=delta)",
        "huber_loss(q_values, targets, delta=delta)",
        "huber_loss",
    ),
    Mutant(  # the reference calls PyTorch's; a loss written out by hand without the offset
        "huber_linear_part_not_offset",
        DQN,
        "return nn.functional.huber_loss(q_values, targets.detach(), delta=delta)",
        "errors = (q_values - targets.detach()).abs()\n"
        "    return torch.where(errors <= delta, 0.5 * errors**2, delta * errors).mean()",
        "huber_loss",
    ),
    Mutant(
        "compute_loss_targets_from_online_network",
        DQN,
        "next_q_values_target = self.target_network(next_observations)",
        "next_q_values_target = self.q_network(next_observations)",
        "DQNAgent.compute_loss",
    ),
    Mutant(
        "compute_loss_q_of_best_action_not_taken_action",
        DQN,
        "q_values = self.q_network(observations).gather(1, actions.unsqueeze(1)).squeeze(1)",
        "q_values = self.q_network(observations).max(dim=1).values",
        "DQNAgent.compute_loss",
    ),
    Mutant(
        "compute_loss_double_networks_swapped",
        DQN,
        "rewards, next_q_values_online, next_q_values_target, terminated, cfg.gamma",
        "rewards, next_q_values_target, next_q_values_online, terminated, cfg.gamma",
        "DQNAgent.compute_loss",
    ),
    Mutant(
        "compute_loss_ignores_double",
        DQN,
        "            if cfg.double:\n",
        "            if False:  # the online network never chooses a*\n",
        "DQNAgent.compute_loss",
    ),
    Mutant(
        "gradient_step_never_clips",
        DQN,
        'max_norm if max_norm is not None else float("inf")',
        'float("inf")',
        "DQNAgent.gradient_step",
    ),
    Mutant(
        "gradient_step_clips_after_the_step",
        DQN,
        _CLIP + "        self.optimizer.step()\n",
        "        self.optimizer.step()\n" + _CLIP,
        "DQNAgent.gradient_step",
    ),
    Mutant(
        "hard_update_copies_the_wrong_way",
        DQN,
        "target_param.copy_(param)",
        "param.copy_(target_param)",
        "hard_update",
    ),
    Mutant(
        "hard_update_shares_the_online_tensors",
        DQN,
        "target_param.copy_(param)",
        "target_param.data = param.data",
        "hard_update",
    ),
    # SAC: the squashed Gaussian
    Mutant(
        "tanh_correction_forgotten",
        SAC,
        "return (gaussian - log_det).sum(dim=-1)",
        "return gaussian.sum(dim=-1)",
        "tanh_gaussian_log_prob",
    ),
    Mutant(
        "tanh_correction_added",
        SAC,
        "return (gaussian - log_det).sum(dim=-1)",
        "return (gaussian + log_det).sum(dim=-1)",
        "tanh_gaussian_log_prob",
    ),
    Mutant(
        "tanh_log_prob_not_summed_over_action_dim",
        SAC,
        "return (gaussian - log_det).sum(dim=-1)",
        "return (gaussian - log_det).mean(dim=-1)",
        "tanh_gaussian_log_prob",
    ),
    # SAC: critics and targets
    Mutant(
        "max_instead_of_min_over_critics",
        SAC,
        'if reduction == "min":\n        return q_values.min(dim=0).values',
        'if reduction == "min":\n        return q_values.max(dim=0).values',
        "reduce_q_values",
    ),
    Mutant(
        "sac_target_missing_entropy_term",
        SAC,
        "next_values = reduce_q_values(next_q_values, reduction) - alpha * next_log_probs",
        "next_values = reduce_q_values(next_q_values, reduction)",
        "sac_target",
    ),
    Mutant(
        "sac_target_wrong_sign_of_alpha",
        SAC,
        "next_values = reduce_q_values(next_q_values, reduction) - alpha * next_log_probs",
        "next_values = reduce_q_values(next_q_values, reduction) + alpha * next_log_probs",
        "sac_target",
    ),
    Mutant(
        "sac_target_bootstraps_through_terminal",
        SAC,
        "    next_values = reduce_q_values(next_q_values, reduction) - alpha * next_log_probs\n"
        "    return rewards + gamma * (1.0 - terminated) * next_values",
        "    next_values = reduce_q_values(next_q_values, reduction) - alpha * next_log_probs\n"
        "    return rewards + gamma * next_values",
        "sac_target",
    ),
    Mutant(
        "critic_loss_target_from_online_critics",
        SAC,
        "[critic(next_observations, next_actions) for critic in self.target_critics]",
        "[critic(next_observations, next_actions) for critic in self.critics]",
        "SACAgent.critic_loss",
    ),
    Mutant(
        "critic_loss_averaged_over_critics",
        SAC,
        "loss = ((q_values - targets) ** 2).mean(dim=1).sum()",
        "loss = ((q_values - targets) ** 2).mean()",
        "SACAgent.critic_loss",
    ),
    # SAC: actor and temperature
    Mutant(
        "actor_loss_initial_temperature",
        SAC,
        "        alpha = self.alpha\n        repeated = ",
        "        alpha = cfg.init_temperature  # not the learned one\n        repeated = ",
        "SACAgent.actor_loss",
    ),
    Mutant(
        "actor_reparameterize_wrong_sign_of_alpha",
        SAC,
        "return (alpha * log_probs - q_values).mean()",
        "return (-alpha * log_probs - q_values).mean()",
        "actor_loss_reparameterize",
    ),
    Mutant(
        "actor_reinforce_weights_not_detached",
        SAC,
        "weights = (alpha * log_probs - q_values).detach()",
        "weights = alpha * log_probs - q_values",
        "actor_loss_reinforce",
    ),
    Mutant(
        "actor_reinforce_missing_entropy_term",
        SAC,
        "weights = (alpha * log_probs - q_values).detach()",
        "weights = (-q_values).detach()",
        "actor_loss_reinforce",
    ),
    Mutant(
        "actor_loss_actions_not_reparameterized",
        SAC,
        "actions, log_probs = self.actor.sample(repeated, reparameterize=reparameterize)",
        "actions, log_probs = self.actor.sample(repeated, reparameterize=False)",
        "SACAgent.actor_loss",
    ),
    Mutant(
        "actor_loss_values_from_target_critics",
        SAC,
        "torch.stack([critic(repeated, actions) for critic in self.critics]), cfg.critic_target",
        "torch.stack([critic(repeated, actions) for critic in self.target_critics]), "
        "cfg.critic_target",
        "SACAgent.actor_loss",
    ),
    Mutant(
        "temperature_loss_wrong_sign",
        SAC,
        "return -(log_alpha * (log_probs.detach() + target_entropy)).mean()",
        "return (log_alpha * (log_probs.detach() + target_entropy)).mean()",
        "temperature_loss",
    ),
    Mutant(
        "temperature_loss_log_probs_not_detached",
        SAC,
        "return -(log_alpha * (log_probs.detach() + target_entropy)).mean()",
        "return -(log_alpha * (log_probs + target_entropy)).mean()",
        "temperature_loss",
    ),
    Mutant(
        "soft_update_tau_reversed",
        SAC,
        "target_param.lerp_(param, tau)",
        "target_param.lerp_(param, 1.0 - tau)",
        "soft_update",
    ),
]

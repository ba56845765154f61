"""Mutants of homework 3: bugs students really write in DQN's targets, losses and exploration,
and in SAC's squashed Gaussian, soft targets, actor, temperature and target updates.

Homework 3's code never sees a combined ``done`` (the agents get ``terminated`` only), so the
"``done`` instead of ``terminated``" bug takes its two other forms here: bootstrapping through
a terminal state, and masking the wrong way round.

Some bugs only show past one call: from the second update on (gradients never zeroed, a fresh
optimizer every step, a temperature frozen at its initial value, a target network rebound
instead of written), or in the joint law of the draws (one random action for the whole batch,
draws from NumPy's global generator or from one seeded inside the function). Others are a loss
scaled by a constant (summed instead of averaged, halved), which an Adam step hides.
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
        "linear_schedule_never_clamps",
        DQN,
        "fraction = min(step / duration, 1.0)",
        "fraction = step / duration",
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
    Mutant(
        "epsilon_greedy_one_random_action_for_the_batch",
        DQN,
        "actions[explore] = rng.integers(num_actions, size=int(explore.sum()))",
        "actions[explore] = rng.integers(num_actions)",
        "epsilon_greedy",
    ),
    Mutant(  # right frequencies in every call; the worker's seed makes two calls draw alike
        "epsilon_greedy_draws_from_the_global_rng",
        DQN,
        "    explore = rng.random(batch_size) < epsilon\n"
        "    actions[explore] = rng.integers(num_actions, size=int(explore.sum()))",
        "    explore = np.random.random(batch_size) < epsilon\n"
        "    actions[explore] = np.random.randint(num_actions, size=int(explore.sum()))",
        "epsilon_greedy",
    ),
    Mutant(  # right frequencies in every call, the same draws in all of them
        "epsilon_greedy_seeds_a_generator_of_its_own",
        DQN,
        "    batch_size, num_actions = q_values.shape\n",
        "    batch_size, num_actions = q_values.shape\n    rng = np.random.default_rng(0)\n",
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
    Mutant(
        "double_dqn_values_with_online_network",
        DQN,
        "next_values = next_q_values_target.gather(1, next_actions).squeeze(1)",
        "next_values = next_q_values_online.gather(1, next_actions).squeeze(1)",
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
        "huber_loss_summed_not_averaged",
        DQN,
        "huber_loss(q_values, targets.detach(), delta=delta)",
        'huber_loss(q_values, targets.detach(), delta=delta, reduction="sum")',
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
    Mutant(  # (B, 1) against (B,): the loss averages over B x B pairs
        "compute_loss_q_values_not_squeezed",
        DQN,
        "q_values = self.q_network(observations).gather(1, actions.unsqueeze(1)).squeeze(1)",
        "q_values = self.q_network(observations).gather(1, actions.unsqueeze(1))",
        "DQNAgent.compute_loss",
    ),
    Mutant(  # twice the Huber loss where the TD errors are small: an Adam step hides it
        "compute_loss_mse_instead_of_huber",
        DQN,
        "loss = huber_loss(q_values, targets, cfg.huber_delta)",
        "loss = nn.functional.mse_loss(q_values, targets)",
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
    Mutant(  # the first update is right; the second adds the first's gradient
        "gradient_step_never_zeroes_gradients",
        DQN,
        "        self.optimizer.zero_grad(set_to_none=True)\n        loss.backward()\n",
        "        loss.backward()\n",
        "DQNAgent.gradient_step",
    ),
    Mutant(  # the first update is right; Adam's moments never carry over to the next
        "gradient_step_fresh_adam_every_step",
        DQN,
        "        self.optimizer.zero_grad(set_to_none=True)\n",
        "        self.optimizer = torch.optim.Adam(\n"
        "            self.q_network.parameters(), self.config.learning_rate\n"
        "        )\n"
        "        self.optimizer.zero_grad(set_to_none=True)\n",
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
    Mutant(  # rebinds the local name: the agent's target network never moves
        "hard_update_rebinds_the_target",
        DQN,
        "    for target_param, param in zip(target.parameters(), source.parameters(), "
        "strict=True):\n        target_param.copy_(param)",
        "    target = copy.deepcopy(source)",
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
    Mutant(
        "tanh_log_det_missing_factor_two",
        SAC,
        "    log_det = 2.0 * (\n",
        "    log_det = (\n",
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
        "min_over_critics_hard_coded_to_two",
        SAC,
        'if reduction == "min":\n        return q_values.min(dim=0).values',
        'if reduction == "min":\n        return torch.min(q_values[0], q_values[1])',
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
        "sac_target_ignores_the_reduction",
        SAC,
        "next_values = reduce_q_values(next_q_values, reduction) - alpha * next_log_probs",
        'next_values = reduce_q_values(next_q_values, "min") - alpha * next_log_probs',
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
    Mutant(  # an Adam step hides the factor
        "critic_loss_halved",
        SAC,
        "loss = ((q_values - targets) ** 2).mean(dim=1).sum()",
        "loss = 0.5 * ((q_values - targets) ** 2).mean(dim=1).sum()",
        "SACAgent.critic_loss",
    ),
    Mutant(  # right in the first update, before the temperature has moved
        "critic_loss_initial_temperature",
        SAC,
        "        alpha = self.alpha\n        with torch.no_grad():",
        "        alpha = cfg.init_temperature\n        with torch.no_grad():",
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
    Mutant(  # the critics' value of the sampled actions no longer pulls on the actor
        "actor_reparameterize_q_values_detached",
        SAC,
        "return (alpha * log_probs - q_values).mean()",
        "return (alpha * log_probs - q_values.detach()).mean()",
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
        "actor_loss_samples_interleaved",
        SAC,
        "repeated = observations.repeat(cfg.num_actor_samples, 1)",
        "repeated = observations.repeat_interleave(cfg.num_actor_samples, dim=0)",
        "SACAgent.actor_loss",
    ),
    Mutant(
        "actor_loss_actions_detached_before_critics",
        SAC,
        "torch.stack([critic(repeated, actions) for critic in self.critics]), cfg.critic_target",
        "torch.stack([critic(repeated, actions.detach()) for critic in self.critics]), "
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
    Mutant(  # B times the gradient, which one Adam step of log alpha hides
        "temperature_loss_summed_not_averaged",
        SAC,
        "return -(log_alpha * (log_probs.detach() + target_entropy)).mean()",
        "return -(log_alpha * (log_probs.detach() + target_entropy)).sum()",
        "temperature_loss",
    ),
    Mutant(
        "soft_update_tau_reversed",
        SAC,
        "target_param.lerp_(param, tau)",
        "target_param.lerp_(param, 1.0 - tau)",
        "soft_update",
    ),
    Mutant(  # rebinds the loop variable: the target critics never move
        "soft_update_rebinds_without_writing",
        SAC,
        "target_param.lerp_(param, tau)",
        "target_param = tau * param + (1.0 - tau) * target_param",
        "soft_update",
    ),
]

"""Mutants of homework 4: bugs students really write in the dynamics ensemble's normalisation,
batched forward pass, predictions, loss and bootstrapped training, in the planners (predicted
returns, random shooting, the cross-entropy method), and in MBPO's model rollouts and mixed
minibatches.

Many of them leave every shape right and only show in values: a state change never
normalised (the model then predicts the next state, or the change in the observation's units),
the mean over members taken of the states before the reward instead of the returns after it,
the elites chosen from the lowest returns, a std that is never refit, CEM's alpha applied the
wrong way round, rollouts branched from model states, or a SAC minibatch drawn from the model
buffer only. Some show only across calls or members: the same bootstrap minibatch for every
member, gradients never cleared, a step taken before the gradient exists. The loss summed
over members instead of averaged is a scale that an Adam step hides; the loss's gradient
check sees it.

Homework 4 has no discount (the planner's return is a plain sum over the horizon), so the
off-by-one bugs here are in the horizon, the rollout length and CEM's iterations; a discount
added out of habit is a bug of its own. Predicted returns summed over members instead of
averaged rank every set of candidates as the mean does, so every plan is the same: the
values the policy's ``predicted_returns`` gives (what a student prints beside the true
return) show it, and the check of predicted returns compares them.
"""

from __future__ import annotations

from autograder.mutants import Mutant

MODELS = "hw4_model_based/models.py"
PLANNING = "hw4_model_based/planning.py"
MBPO = "hw4_model_based/mbpo.py"

_STD = "std = x.std(dim=0, unbiased=False).clamp(min=min_std)"
_DELTA_DATA = '("delta", next_observations - observations),'
_NORMALISED_INPUTS = """\
        normalised_obs = (observations - self.obs_mean) / self.obs_std
        normalised_actions = (actions - self.action_mean) / self.action_std
        h = torch.cat([normalised_obs, normalised_actions], dim=-1)"""
_ACTIVATION = """\
            if layer < last:
                h = self.activation(h)
"""
_PREDICTION = "return observations + self.delta_mean + self.delta_std * normalised_deltas"
_TARGETS = "targets = (next_observations - observations - self.delta_mean) / self.delta_std"
_SQUARED_ERRORS = "return ((predictions - targets.detach()) ** 2).mean()"
_RANDINT = "return torch.randint(num_transitions, (ensemble_size, batch_size), generator=generator)"
_STEP = "    optimizer.zero_grad()\n    loss.backward()\n    optimizer.step()\n"
_UNIFORM = "action_sequences = low + (high - low) * torch.rand(shape, generator=generator)"
_REFIT = """\
    new_mean = alpha * elites.mean(dim=0) + (1 - alpha) * mean
    new_std = alpha * elites.std(dim=0, unbiased=False) + (1 - alpha) * std"""
_PICK_MEMBERS = "return predictions[members, torch.arange(len(members))]"
_GO_ON = "observations = next_observations[~terminated]"
_REAL_SHARE = "num_real = round(real_ratio * batch_size)"

MUTANTS: list[Mutant] = [
    # normalisation statistics
    Mutant(
        "mean_and_std_divides_by_b_minus_one",
        MODELS,
        _STD,
        "std = x.std(dim=0).clamp(min=min_std)",
        "mean_and_std",
    ),
    Mutant(  # a dimension that never changes gets a std of 0: the normalisation divides by it
        "mean_and_std_no_floor",
        MODELS,
        _STD,
        "std = x.std(dim=0, unbiased=False)",
        "mean_and_std",
    ),
    Mutant(
        "mean_and_std_floor_as_a_ceiling",
        MODELS,
        _STD,
        "std = x.std(dim=0, unbiased=False).clamp(max=min_std)",
        "mean_and_std",
    ),
    Mutant(  # one number per transition instead of one per dimension
        "mean_and_std_over_the_wrong_axis",
        MODELS,
        "    mean = x.mean(dim=0)\n    std = x.std(dim=0, unbiased=False)",
        "    mean = x.mean(dim=1)\n    std = x.std(dim=1, unbiased=False)",
        "mean_and_std",
    ),
    Mutant(  # the model is then taught to predict the next state, not the change
        "update_statistics_of_next_states_not_deltas",
        MODELS,
        _DELTA_DATA,
        '("delta", next_observations),',
        "DynamicsEnsemble.update_statistics",
    ),
    Mutant(
        "update_statistics_deltas_reversed",
        MODELS,
        _DELTA_DATA,
        '("delta", observations - next_observations),',
        "DynamicsEnsemble.update_statistics",
    ),
    Mutant(  # every std stays at 1
        "update_statistics_sets_the_means_only",
        MODELS,
        '            getattr(self, f"{name}_mean").copy_(mean)\n'
        '            getattr(self, f"{name}_std").copy_(std)',
        '            getattr(self, f"{name}_mean").copy_(mean)',
        "DynamicsEnsemble.update_statistics",
    ),
    # the batched forward pass
    Mutant(
        "forward_inputs_not_normalised",
        MODELS,
        _NORMALISED_INPUTS,
        "        h = torch.cat([observations, actions], dim=-1)",
        "DynamicsEnsemble.forward",
    ),
    Mutant(
        "forward_actions_not_normalised",
        MODELS,
        "h = torch.cat([normalised_obs, normalised_actions], dim=-1)",
        "h = torch.cat([normalised_obs, actions], dim=-1)",
        "DynamicsEnsemble.forward",
    ),
    Mutant(  # the output can no longer be negative
        "forward_activation_after_every_layer",
        MODELS,
        _ACTIVATION,
        "            h = self.activation(h)\n",
        "DynamicsEnsemble.forward",
    ),
    Mutant(  # every member collapses to one linear map
        "forward_no_activation",
        MODELS,
        _ACTIVATION,
        "",
        "DynamicsEnsemble.forward",
    ),
    Mutant(
        "forward_first_members_weights_for_all",
        MODELS,
        "h = torch.baddbmm(bias, h, weight)",
        "h = h @ weight[0] + bias[0]",
        "DynamicsEnsemble.forward",
    ),
    # un-normalised predictions
    Mutant(
        "predict_forgets_the_observation",
        MODELS,
        _PREDICTION,
        "return self.delta_mean + self.delta_std * normalised_deltas",
        "DynamicsEnsemble.predict",
    ),
    Mutant(
        "predict_change_not_un_normalised",
        MODELS,
        _PREDICTION,
        "return observations + normalised_deltas",
        "DynamicsEnsemble.predict",
    ),
    Mutant(
        "predict_un_normalised_with_the_observations_statistics",
        MODELS,
        _PREDICTION,
        "return observations + self.obs_mean + self.obs_std * normalised_deltas",
        "DynamicsEnsemble.predict",
    ),
    Mutant(
        "predict_mean_added_before_scaling",
        MODELS,
        _PREDICTION,
        "return observations + self.delta_std * (normalised_deltas + self.delta_mean)",
        "DynamicsEnsemble.predict",
    ),
    # the loss
    Mutant(
        "loss_target_change_not_normalised",
        MODELS,
        _TARGETS,
        "targets = next_observations - observations",
        "DynamicsEnsemble.loss",
    ),
    Mutant(  # the model learns the next state where predict adds its output to the state
        "loss_target_next_state_not_change",
        MODELS,
        _TARGETS,
        "targets = (next_observations - self.delta_mean) / self.delta_std",
        "DynamicsEnsemble.loss",
    ),
    Mutant(
        "loss_target_normalised_with_the_observations_statistics",
        MODELS,
        _TARGETS,
        "targets = (next_observations - observations - self.obs_mean) / self.obs_std",
        "DynamicsEnsemble.loss",
    ),
    Mutant(  # E times the gradient of every member: an Adam step hides it, the gradient does not
        "loss_summed_over_members",
        MODELS,
        _SQUARED_ERRORS,
        "return ((predictions - targets.detach()) ** 2).mean(dim=(1, 2)).sum()",
        "DynamicsEnsemble.loss",
    ),
    Mutant(  # each dimension weighed by its std squared: the large-scale ones drown the rest
        "loss_in_the_environments_units",
        MODELS,
        f"        {_TARGETS}\n        predictions = self(observations, actions)\n",
        "        targets = next_observations\n"
        "        predictions = self.predict(observations, actions)\n",
        "DynamicsEnsemble.loss",
    ),
    # bootstrapped minibatches
    Mutant(  # the members see the same data and agree everywhere
        "bootstrap_same_indices_for_every_member",
        MODELS,
        _RANDINT,
        "return torch.randint(num_transitions, (batch_size,), generator=generator).expand(\n"
        "        ensemble_size, -1\n    )",
        "bootstrap_indices",
    ),
    Mutant(
        "bootstrap_without_replacement",
        MODELS,
        _RANDINT,
        "return torch.stack(\n"
        "        [\n"
        "            torch.randperm(num_transitions, generator=generator)[:batch_size]\n"
        "            for _ in range(ensemble_size)\n"
        "        ]\n"
        "    )",
        "bootstrap_indices",
    ),
    Mutant(
        "bootstrap_never_draws_the_last_transition",
        MODELS,
        _RANDINT,
        "return torch.randint(\n"
        "        num_transitions - 1, (ensemble_size, batch_size), generator=generator\n"
        "    )",
        "bootstrap_indices",
    ),
    # the training step
    Mutant(  # the first step is right; the second adds the first's gradient
        "update_ensemble_never_zeroes_gradients",
        MODELS,
        _STEP,
        "    loss.backward()\n    optimizer.step()\n",
        "update_ensemble",
    ),
    Mutant(  # the step sees no gradient: the ensemble never learns
        "update_ensemble_steps_before_backward",
        MODELS,
        _STEP,
        "    optimizer.zero_grad()\n    optimizer.step()\n    loss.backward()\n",
        "update_ensemble",
    ),
    Mutant(
        "update_ensemble_first_members_batch_for_all",
        MODELS,
        "    loss = ensemble.loss(observations[indices], actions[indices], "
        "next_observations[indices])\n",
        "    shared = indices[0].expand_as(indices)\n"
        "    loss = ensemble.loss(observations[shared], actions[shared], "
        "next_observations[shared])\n",
        "update_ensemble",
    ),
    # predicted returns
    Mutant(  # the lecture's warning: a mean of the members' states is a state none predicts
        "predicted_returns_mean_of_states_before_the_reward",
        PLANNING,
        "        next_observations = ensemble.predict(observations, actions)\n",
        "        next_observations = ensemble.predict(observations, actions).mean(dim=0)\n"
        "        next_observations = next_observations.expand(*shape, -1)\n",
        "predicted_returns",
    ),
    Mutant(  # E times the mean: the same plans, a return E times too large
        "predicted_returns_summed_over_members",
        PLANNING,
        "return returns.mean(dim=0)",
        "return returns.sum(dim=0)",
        "predicted_returns",
    ),
    Mutant(  # a gamma from homeworks 2 and 3: J(A) asks for none
        "predicted_returns_discounted",
        PLANNING,
        "returns = returns + reward_fn(observations, actions, next_observations)",
        "returns = returns + 0.99**t * reward_fn(observations, actions, next_observations)",
        "predicted_returns",
    ),
    Mutant(
        "predicted_returns_first_member_only",
        PLANNING,
        "return returns.mean(dim=0)",
        "return returns[0]",
        "predicted_returns",
    ),
    Mutant(
        "predicted_returns_one_step_short",
        PLANNING,
        "    for t in range(horizon):\n        actions = action_sequences[:, t]",
        "    for t in range(horizon - 1):\n        actions = action_sequences[:, t]",
        "predicted_returns",
    ),
    Mutant(  # every step is predicted from s_0
        "predicted_returns_never_advance_the_state",
        PLANNING,
        "        observations = next_observations\n",
        "",
        "predicted_returns",
    ),
    Mutant(
        "predicted_returns_reward_arguments_swapped",
        PLANNING,
        "reward_fn(observations, actions, next_observations)",
        "reward_fn(next_observations, actions, observations)",
        "predicted_returns",
    ),
    # random shooting
    Mutant(
        "random_shooting_argmin",
        PLANNING,
        "return action_sequences[returns.argmax()]",
        "return action_sequences[returns.argmin()]",
        "random_shooting",
    ),
    Mutant(
        "random_shooting_ignores_the_bounds",
        PLANNING,
        _UNIFORM,
        "action_sequences = torch.rand(shape, generator=generator)",
        "random_shooting",
    ),
    Mutant(
        "random_shooting_scales_by_high_not_the_range",
        PLANNING,
        _UNIFORM,
        "action_sequences = low + high * torch.rand(shape, generator=generator)",
        "random_shooting",
    ),
    Mutant(  # constant sequences: one action repeated over the horizon
        "random_shooting_one_action_per_sequence",
        PLANNING,
        f"    shape = (num_sequences, horizon, low.shape[0])\n    {_UNIFORM}\n",
        "    shape = (num_sequences, 1, low.shape[0])\n"
        "    action_sequences = low + (high - low) * torch.rand(shape, generator=generator)\n"
        "    action_sequences = action_sequences.expand(-1, horizon, -1)\n",
        "random_shooting",
    ),
    # the cross-entropy method: the refit
    Mutant(
        "cem_refit_elites_of_the_lowest_returns",
        PLANNING,
        "elites = action_sequences[returns.topk(num_elites).indices]",
        "elites = action_sequences[returns.topk(num_elites, largest=False).indices]",
        "cem_refit",
    ),
    Mutant(  # the search never narrows
        "cem_refit_std_not_refit",
        PLANNING,
        "new_std = alpha * elites.std(dim=0, unbiased=False) + (1 - alpha) * std",
        "new_std = std",
        "cem_refit",
    ),
    Mutant(
        "cem_refit_alpha_the_wrong_way_round",
        PLANNING,
        _REFIT,
        "    new_mean = (1 - alpha) * elites.mean(dim=0) + alpha * mean\n"
        "    new_std = (1 - alpha) * elites.std(dim=0, unbiased=False) + alpha * std",
        "cem_refit",
    ),
    Mutant(
        "cem_refit_std_of_the_whole_population",
        PLANNING,
        "elites.std(dim=0, unbiased=False)",
        "action_sequences.std(dim=0, unbiased=False)",
        "cem_refit",
    ),
    Mutant(
        "cem_refit_std_divides_by_k_minus_one",
        PLANNING,
        "elites.std(dim=0, unbiased=False)",
        "elites.std(dim=0)",
        "cem_refit",
    ),
    Mutant(
        "cem_refit_variance_not_std",
        PLANNING,
        "elites.std(dim=0, unbiased=False)",
        "elites.var(dim=0, unbiased=False)",
        "cem_refit",
    ),
    # the cross-entropy method: the loop
    Mutant(
        "cem_samples_not_clipped",
        PLANNING,
        "action_sequences = torch.clamp(mean + std * noise, low, high)",
        "action_sequences = mean + std * noise",
        "cem",
    ),
    Mutant(
        "cem_initial_mean_zero",
        PLANNING,
        "mean = ((low + high) / 2).expand(horizon, -1)",
        "mean = torch.zeros_like(low).expand(horizon, -1)",
        "cem",
    ),
    Mutant(
        "cem_initial_std_the_whole_range",
        PLANNING,
        "std = ((high - low) / 2).expand(horizon, -1)",
        "std = (high - low).expand(horizon, -1)",
        "cem",
    ),
    Mutant(  # the refit's std is thrown away: every iteration samples as widely as the first
        "cem_keeps_the_initial_std",
        PLANNING,
        "mean, std = cem_refit(action_sequences, returns, num_elites, mean, std, alpha)",
        "mean, _ = cem_refit(action_sequences, returns, num_elites, mean, std, alpha)",
        "cem",
    ),
    Mutant(
        "cem_one_iteration_short",
        PLANNING,
        "for _ in range(iterations):",
        "for _ in range(iterations - 1):",
        "cem",
    ),
    Mutant(
        "cem_returns_the_best_sample_not_the_mean",
        PLANNING,
        "alpha)\n    return mean",
        "alpha)\n    return action_sequences[returns.argmax()]",
        "cem",
    ),
    # MBPO: one model step per rollout
    Mutant(
        "step_members_always_the_first_member",
        MBPO,
        _PICK_MEMBERS,
        "return predictions[0]",
        "step_members",
    ),
    Mutant(  # the members' disagreement averaged away
        "step_members_mean_over_members",
        MBPO,
        _PICK_MEMBERS,
        "return predictions.mean(dim=0)",
        "step_members",
    ),
    Mutant(
        "step_members_one_member_for_all_rows",
        MBPO,
        _PICK_MEMBERS,
        "return predictions[members[0]]",
        "step_members",
    ),
    # MBPO: model rollouts
    Mutant(  # a rollout goes on from a terminal state
        "model_rollouts_terminals_do_not_stop",
        MBPO,
        _GO_ON,
        "observations = next_observations",
        "model_rollouts",
    ),
    Mutant(
        "model_rollouts_terminal_mask_inverted",
        MBPO,
        _GO_ON,
        "observations = next_observations[terminated]",
        "model_rollouts",
    ),
    Mutant(  # SAC never sees a model transition that ends
        "model_rollouts_drops_terminal_transitions",
        MBPO,
        f"        {_GO_ON}\n",
        "        steps[-1] = {key: values[~terminated] for key, values in steps[-1].items()}\n"
        f"        {_GO_ON}\n",
        "model_rollouts",
    ),
    Mutant(
        "model_rollouts_one_step_short",
        MBPO,
        "for _ in range(rollout_length):",
        "for _ in range(rollout_length - 1):",
        "model_rollouts",
    ),
    Mutant(
        "model_rollouts_one_member_for_all_rollouts",
        MBPO,
        "members = torch.randint(ensemble.ensemble_size, (len(observations),), "
        "generator=generator)",
        "members = torch.randint(ensemble.ensemble_size, (1,), generator=generator).expand(\n"
        "            len(observations)\n        )",
        "model_rollouts",
    ),
    # MBPO: branching and the model buffer
    Mutant(  # model states drift further from real ones with every round of rollouts
        "branch_rollouts_from_model_states",
        MBPO,
        'starts = real_buffer.sample(num_rollouts)["observations"]',
        'starts = model_buffer.sample(num_rollouts)["observations"]',
        "branch_rollouts",
    ),
    Mutant(
        "branch_rollouts_one_start_state_for_all",
        MBPO,
        'starts = real_buffer.sample(num_rollouts)["observations"]',
        'starts = real_buffer.sample(1)["observations"].repeat(num_rollouts, axis=0)',
        "branch_rollouts",
    ),
    Mutant(  # the model's transitions pass for real ones
        "branch_rollouts_into_the_real_buffer",
        MBPO,
        "model_buffer.add(*(to_numpy(rollouts[key]) for key in TRANSITION_KEYS))",
        "real_buffer.add(*(to_numpy(rollouts[key]) for key in TRANSITION_KEYS))",
        "branch_rollouts",
    ),
    # MBPO: SAC's minibatches
    Mutant(  # SAC trained on model data only
        "mixed_batch_model_data_only",
        MBPO,
        _REAL_SHARE,
        "num_real = 0",
        "mixed_batch",
    ),
    Mutant(
        "mixed_batch_ratio_the_wrong_way_round",
        MBPO,
        _REAL_SHARE,
        "num_real = round((1 - real_ratio) * batch_size)",
        "mixed_batch",
    ),
    Mutant(  # 12 real transitions of 256 at 5% where 12.8 rounds to 13
        "mixed_batch_truncates_the_real_share",
        MBPO,
        _REAL_SHARE,
        "num_real = int(real_ratio * batch_size)",
        "mixed_batch",
    ),
    Mutant(  # SAC trained on real data only
        "mixed_batch_model_share_from_the_real_buffer",
        MBPO,
        "parts.append(model_buffer.sample(batch_size - num_real))",
        "parts.append(real_buffer.sample(batch_size - num_real))",
        "mixed_batch",
    ),
]

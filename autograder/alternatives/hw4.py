"""Correct alternatives of homework 4: the ensemble's statistics, batched forward pass,
predictions, loss and training step, the planners, and MBPO's rollouts and minibatches, each
written the ways a good student writes them.

Each patch replaces the whole body of one solution region (the ``_..._BODY`` constants, copied
from the reference) by another correct body: ``torch.var_mean`` against two passes, float64
against float32 arithmetic, ``einsum`` and ``@`` against ``baddbmm``, ``addcmul`` and ``lerp``
against the written-out formula, ``gather`` against advanced indexing, ``argsort`` and
``sort`` against ``topk``, ``torch.normal`` against ``mean + std * randn``, a loop over
members where the docstring allows one (the loss, the training step's gather), an alive mask
against shrinking batches, and ``torch.no_grad()`` against ``.detach()``.

Where a function draws random numbers (``bootstrap_indices``, the planners, the rollouts'
members), an alternative draws the same ones from the same generator in the same order, as the
docstrings ask: the checks replay the draws.
"""

from __future__ import annotations

from autograder.alternatives import Alternative

MODELS = "hw4_model_based/models.py"
PLANNING = "hw4_model_based/planning.py"
MBPO = "hw4_model_based/mbpo.py"

# ---------------------------------------------------------------------------------------------
# The reference's solution regions (``old`` of every patch)
# ---------------------------------------------------------------------------------------------

_MEAN_AND_STD_BODY = """\
    mean = x.mean(dim=0)
    std = x.std(dim=0, unbiased=False).clamp(min=min_std)
    return mean, std"""
_UPDATE_STATISTICS_BODY = """\
        for name, values in (
            ("obs", observations),
            ("action", actions),
            ("delta", next_observations - observations),
        ):
            mean, std = mean_and_std(values, self.min_std)
            getattr(self, f"{name}_mean").copy_(mean)
            getattr(self, f"{name}_std").copy_(std)"""
_FORWARD_BODY = """\
        normalised_obs = (observations - self.obs_mean) / self.obs_std
        normalised_actions = (actions - self.action_mean) / self.action_std
        h = torch.cat([normalised_obs, normalised_actions], dim=-1)
        last = len(self.weights) - 1
        for layer, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.baddbmm(bias, h, weight)
            if layer < last:
                h = self.activation(h)
        return h"""
_PREDICT_BODY = """\
        normalised_deltas = self(observations, actions)
        return observations + self.delta_mean + self.delta_std * normalised_deltas"""
_LOSS_BODY = """\
        targets = (next_observations - observations - self.delta_mean) / self.delta_std
        predictions = self(observations, actions)
        return ((predictions - targets.detach()) ** 2).mean()"""
_BOOTSTRAP_BODY = (
    "    return torch.randint(num_transitions, (ensemble_size, batch_size), generator=generator)"
)
_UPDATE_ENSEMBLE_BODY = """\
    loss = ensemble.loss(observations[indices], actions[indices], next_observations[indices])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()"""
_PREDICTED_RETURNS_BODY = """\
    num_sequences, horizon, _ = action_sequences.shape
    shape = (ensemble.ensemble_size, num_sequences)
    observations = observation.expand(*shape, -1)
    returns = torch.zeros(shape, dtype=observation.dtype, device=observation.device)
    for t in range(horizon):
        actions = action_sequences[:, t].expand(*shape, -1)
        next_observations = ensemble.predict(observations, actions)
        returns = returns + reward_fn(observations, actions, next_observations)
        observations = next_observations
    return returns.mean(dim=0)"""
_RANDOM_SHOOTING_BODY = """\
    shape = (num_sequences, horizon, low.shape[0])
    action_sequences = low + (high - low) * torch.rand(shape, generator=generator)
    returns = returns_fn(action_sequences)
    return action_sequences[returns.argmax()]"""
_CEM_REFIT_BODY = """\
    elites = action_sequences[returns.topk(num_elites).indices]
    new_mean = alpha * elites.mean(dim=0) + (1 - alpha) * mean
    new_std = alpha * elites.std(dim=0, unbiased=False) + (1 - alpha) * std
    return new_mean, new_std"""
_CEM_BODY = """\
    shape = (num_sequences, horizon, low.shape[0])
    mean = ((low + high) / 2).expand(horizon, -1)
    std = ((high - low) / 2).expand(horizon, -1)
    for _ in range(iterations):
        noise = torch.randn(shape, generator=generator)
        action_sequences = torch.clamp(mean + std * noise, low, high)
        returns = returns_fn(action_sequences)
        mean, std = cem_refit(action_sequences, returns, num_elites, mean, std, alpha)
    return mean"""
_STEP_MEMBERS_BODY = """\
    ensemble_size = ensemble.ensemble_size
    predictions = ensemble.predict(
        observations.expand(ensemble_size, -1, -1), actions.expand(ensemble_size, -1, -1)
    )
    return predictions[members, torch.arange(len(members))]"""
_MODEL_ROLLOUTS_BODY = """\
    steps: list[dict[str, torch.Tensor]] = []
    observations = start_observations
    for _ in range(rollout_length):
        if len(observations) == 0:
            break
        actions = policy(observations)
        members = torch.randint(ensemble.ensemble_size, (len(observations),), generator=generator)
        next_observations = step_members(ensemble, observations, actions, members)
        rewards = reward_fn(observations, actions, next_observations)
        terminated = termination_fn(observations, actions, next_observations)
        steps.append(
            {
                "observations": observations,
                "actions": actions,
                "rewards": rewards,
                "next_observations": next_observations,
                "terminated": terminated,
            }
        )
        observations = next_observations[~terminated]
    if not steps:
        action_dim = ensemble.action_dim
        empty = start_observations[:0]
        return {
            "observations": empty,
            "actions": empty.new_zeros((0, action_dim)),
            "rewards": empty.new_zeros(0),
            "next_observations": empty,
            "terminated": torch.zeros(0, dtype=torch.bool, device=empty.device),
        }
    return {key: torch.cat([step[key] for step in steps]) for key in TRANSITION_KEYS}"""
_BRANCH_ROLLOUTS_BODY = """\
    starts = real_buffer.sample(num_rollouts)["observations"]
    rollouts = model_rollouts(
        ensemble,
        policy,
        reward_fn,
        termination_fn,
        to_torch(starts, ensemble.obs_mean.device),
        rollout_length,
        generator,
    )
    model_buffer.add(*(to_numpy(rollouts[key]) for key in TRANSITION_KEYS))
    return rollouts"""
_MIXED_BATCH_BODY = """\
    num_real = round(real_ratio * batch_size)
    parts = []
    if num_real > 0:
        parts.append(real_buffer.sample(num_real))
    if batch_size - num_real > 0:
        parts.append(model_buffer.sample(batch_size - num_real))
    return {key: np.concatenate([part[key] for part in parts]) for key in TRANSITION_KEYS}"""

ALTERNATIVES: list[Alternative] = [
    # mean_and_std: torch.var_mean with torch.maximum, float64 in two passes, a loop over columns
    Alternative(
        "mean_and_std_var_mean_maximum",
        MODELS,
        _MEAN_AND_STD_BODY,
        """\
    variance, mean = torch.var_mean(x, dim=0, correction=0)
    std = torch.maximum(variance.sqrt(), torch.full_like(variance, min_std))
    return mean, std""",
        "mean_and_std",
    ),
    Alternative(
        "mean_and_std_float64_two_passes",
        MODELS,
        _MEAN_AND_STD_BODY,
        """\
    x64 = x.double()
    mean = x64.sum(dim=0) / len(x64)
    std = ((x64 - mean) ** 2).mean(dim=0).sqrt().clamp(min=min_std)
    return mean.to(x.dtype), std.to(x.dtype)""",
        "mean_and_std",
    ),
    Alternative(
        "mean_and_std_loop_over_columns",
        MODELS,
        _MEAN_AND_STD_BODY,
        """\
    columns = x.unbind(dim=1)
    means = torch.stack([column.mean() for column in columns])
    stds = torch.stack([column.std(unbiased=False) for column in columns])
    return means, torch.where(stds < min_std, torch.full_like(stds, min_std), stds)""",
        "mean_and_std",
    ),
    # DynamicsEnsemble.update_statistics: six named buffers, slice assignment of float64 stats
    Alternative(
        "update_statistics_six_named_buffers",
        MODELS,
        _UPDATE_STATISTICS_BODY,
        """\
        obs_mean, obs_std = mean_and_std(observations, self.min_std)
        action_mean, action_std = mean_and_std(actions, self.min_std)
        delta_mean, delta_std = mean_and_std(next_observations - observations, self.min_std)
        self.obs_mean.copy_(obs_mean)
        self.obs_std.copy_(obs_std)
        self.action_mean.copy_(action_mean)
        self.action_std.copy_(action_std)
        self.delta_mean.copy_(delta_mean)
        self.delta_std.copy_(delta_std)""",
        "DynamicsEnsemble.update_statistics",
    ),
    Alternative(
        "update_statistics_slice_assignment_float64",
        MODELS,
        _UPDATE_STATISTICS_BODY,
        """\
        buffers = dict(self.named_buffers())
        data = {"obs": observations, "action": actions, "delta": next_observations - observations}
        for name, values in data.items():
            values = values.double()
            # [:] writes into the registered tensor, cast to its dtype
            buffers[f"{name}_mean"][:] = values.mean(dim=0)
            buffers[f"{name}_std"][:] = values.std(dim=0, correction=0).clamp(min=self.min_std)""",
        "DynamicsEnsemble.update_statistics",
    ),
    # DynamicsEnsemble.forward: @ with the last layer apart, einsum with one normalisation
    Alternative(
        "forward_matmul_last_layer_apart",
        MODELS,
        _FORWARD_BODY,
        """\
        inputs = torch.cat([observations, actions], dim=-1)
        input_mean = torch.cat([self.obs_mean, self.action_mean])
        input_std = torch.cat([self.obs_std, self.action_std])
        h = (inputs - input_mean) / input_std
        for weight, bias in zip(self.weights[:-1], self.biases[:-1], strict=True):
            h = self.activation(h @ weight + bias)
        return h @ self.weights[-1] + self.biases[-1]""",
        "DynamicsEnsemble.forward",
    ),
    Alternative(
        "forward_einsum_reciprocal",
        MODELS,
        _FORWARD_BODY,
        """\
        normalised_obs = (observations - self.obs_mean) * self.obs_std.reciprocal()
        normalised_actions = (actions - self.action_mean) * self.action_std.reciprocal()
        h = torch.cat((normalised_obs, normalised_actions), dim=2)
        num_layers = len(self.weights)
        for layer in range(num_layers):
            h = torch.einsum("ebi,eio->ebo", h, self.weights[layer]) + self.biases[layer]
            if layer != num_layers - 1:
                h = self.activation(h)
        return h""",
        "DynamicsEnsemble.forward",
    ),
    # DynamicsEnsemble.predict: addcmul, the change first, float64
    Alternative(
        "predict_addcmul",
        MODELS,
        _PREDICT_BODY,
        """\
        normalised_deltas = self.forward(observations, actions)
        return torch.addcmul(observations + self.delta_mean, self.delta_std, normalised_deltas)""",
        "DynamicsEnsemble.predict",
    ),
    Alternative(
        "predict_change_first",
        MODELS,
        _PREDICT_BODY,
        """\
        deltas = self(observations, actions) * self.delta_std + self.delta_mean
        return observations + deltas""",
        "DynamicsEnsemble.predict",
    ),
    Alternative(
        "predict_float64",
        MODELS,
        _PREDICT_BODY,
        """\
        normalised_deltas = self(observations, actions).double()
        deltas = self.delta_mean.double() + self.delta_std.double() * normalised_deltas
        return (observations.double() + deltas).to(observations.dtype)""",
        "DynamicsEnsemble.predict",
    ),
    # DynamicsEnsemble.loss: mse_loss with targets under no_grad, a loop over members, float64
    Alternative(
        "loss_mse_loss_no_grad_targets",
        MODELS,
        _LOSS_BODY,
        """\
        with torch.no_grad():
            targets = (next_observations - observations - self.delta_mean) / self.delta_std
        return nn.functional.mse_loss(self(observations, actions), targets)""",
        "DynamicsEnsemble.loss",
    ),
    Alternative(
        "loss_loop_over_members",
        MODELS,
        _LOSS_BODY,
        """\
        predictions = self(observations, actions)
        deltas = (next_observations - observations).detach()
        # every member has B d errors, so the mean of the members' means is the mean of all
        member_losses = [
            ((prediction - (delta - self.delta_mean) / self.delta_std) ** 2).mean()
            for prediction, delta in zip(predictions, deltas, strict=True)
        ]
        return torch.stack(member_losses).mean()""",
        "DynamicsEnsemble.loss",
    ),
    Alternative(
        "loss_float64",
        MODELS,
        _LOSS_BODY,
        """\
        predictions = self(observations, actions)
        deltas = next_observations.double() - observations.double()
        targets = (deltas - self.delta_mean.double()) / self.delta_std.double()
        loss = (predictions.double() - targets).pow(2).sum() / predictions.numel()
        return loss.to(predictions.dtype)""",
        "DynamicsEnsemble.loss",
    ),
    # bootstrap_indices: one flat draw reshaped, random_ on an empty tensor (the same numbers)
    Alternative(
        "bootstrap_indices_flat_draw",
        MODELS,
        _BOOTSTRAP_BODY,
        """\
    flat = torch.randint(0, num_transitions, (ensemble_size * batch_size,), generator=generator)
    return flat.view(ensemble_size, batch_size)""",
        "bootstrap_indices",
    ),
    Alternative(
        "bootstrap_indices_random_in_place",
        MODELS,
        _BOOTSTRAP_BODY,
        """\
    indices = torch.empty((ensemble_size, batch_size), dtype=torch.long)
    return indices.random_(0, num_transitions, generator=generator)""",
        "bootstrap_indices",
    ),
    # update_ensemble: index_select of the flat indices, a stack of members' batches with the
    # gradients cleared by hand
    Alternative(
        "update_ensemble_index_select",
        MODELS,
        _UPDATE_ENSEMBLE_BODY,
        """\
    flat = indices.reshape(-1)
    batch = [
        values.index_select(0, flat).reshape(*indices.shape, -1)
        for values in (observations, actions, next_observations)
    ]
    loss = ensemble.loss(*batch)
    optimizer.zero_grad(set_to_none=False)
    loss.backward()
    optimizer.step()
    return float(loss.detach())""",
        "update_ensemble",
    ),
    Alternative(
        "update_ensemble_stacked_members_grads_cleared_by_hand",
        MODELS,
        _UPDATE_ENSEMBLE_BODY,
        """\
    member_obs = torch.stack([observations[rows] for rows in indices])
    member_actions = torch.stack([actions[rows] for rows in indices])
    member_next_obs = torch.stack([next_observations[rows] for rows in indices])
    for parameter in ensemble.parameters():
        parameter.grad = None
    loss = ensemble.loss(member_obs, member_actions, member_next_obs)
    loss.backward()
    optimizer.step()
    return loss.detach().item()""",
        "update_ensemble",
    ),
    # predicted_returns: every state first and the rewards in one call, float64 returns
    Alternative(
        "predicted_returns_states_first_rewards_at_once",
        PLANNING,
        _PREDICTED_RETURNS_BODY,
        """\
    ensemble_size = ensemble.ensemble_size
    num_sequences, horizon, _ = action_sequences.shape
    actions = action_sequences.unsqueeze(0).expand(ensemble_size, -1, -1, -1)
    states = [observation.expand(ensemble_size, num_sequences, -1)]
    for t in range(horizon):
        states.append(ensemble.predict(states[-1], actions[:, :, t]))
    trajectories = torch.stack(states, dim=2)  # (E, N, H + 1, obs_dim)
    rewards = reward_fn(trajectories[:, :, :-1], actions, trajectories[:, :, 1:])  # (E, N, H)
    return rewards.sum(dim=2).mean(dim=0)""",
        "predicted_returns",
    ),
    Alternative(
        "predicted_returns_float64_returns",
        PLANNING,
        _PREDICTED_RETURNS_BODY,
        """\
    ensemble_size, num_sequences = ensemble.ensemble_size, len(action_sequences)
    observations = observation.repeat(ensemble_size, num_sequences, 1)
    total = torch.zeros(
        ensemble_size, num_sequences, dtype=torch.float64, device=observation.device
    )
    for step_actions in action_sequences.unbind(dim=1):
        actions = step_actions.unsqueeze(0).repeat(ensemble_size, 1, 1)
        next_observations = ensemble.predict(observations, actions)
        total += reward_fn(observations, actions, next_observations).double()
        observations = next_observations
    return (total.sum(dim=0) / ensemble_size).to(observation.dtype)""",
        "predicted_returns",
    ),
    # random_shooting: lerp and topk, the range scaled first and argsort
    Alternative(
        "random_shooting_lerp_topk",
        PLANNING,
        _RANDOM_SHOOTING_BODY,
        """\
    weights = torch.rand((num_sequences, horizon, low.shape[0]), generator=generator)
    action_sequences = torch.lerp(low, high, weights)
    best = torch.topk(returns_fn(action_sequences), k=1).indices[0]
    return action_sequences[best]""",
        "random_shooting",
    ),
    Alternative(
        "random_shooting_argsort_descending",
        PLANNING,
        _RANDOM_SHOOTING_BODY,
        """\
    uniform = torch.rand((num_sequences, horizon, len(low)), generator=generator)
    action_sequences = uniform * (high - low) + low
    order = torch.argsort(returns_fn(action_sequences), descending=True)
    return action_sequences[order[0]].clone()""",
        "random_shooting",
    ),
    # cem_refit: argsort with var_mean and lerp, sort with float64 written out
    Alternative(
        "cem_refit_argsort_var_mean_lerp",
        PLANNING,
        _CEM_REFIT_BODY,
        """\
    order = torch.argsort(returns, descending=True)
    elites = action_sequences[order[:num_elites]]
    variance, elite_mean = torch.var_mean(elites, dim=0, correction=0)
    # lerp(old, fit, alpha) = old + alpha (fit - old): alpha weighs the new fit
    return torch.lerp(mean, elite_mean, alpha), torch.lerp(std, variance.sqrt(), alpha)""",
        "cem_refit",
    ),
    Alternative(
        "cem_refit_sort_float64",
        PLANNING,
        _CEM_REFIT_BODY,
        """\
    _, order = torch.sort(returns, descending=True)
    elites = action_sequences[order[:num_elites]].double()
    elite_mean = elites.mean(dim=0)
    elite_std = ((elites - elite_mean) ** 2).mean(dim=0).sqrt()
    new_mean = alpha * elite_mean + (1.0 - alpha) * mean.double()
    new_std = alpha * elite_std + (1.0 - alpha) * std.double()
    return new_mean.to(mean.dtype), new_std.to(std.dtype)""",
        "cem_refit",
    ),
    # cem: torch.normal with min/max clipping, the refit written inline with clamp
    Alternative(
        "cem_torch_normal_min_max",
        PLANNING,
        _CEM_BODY,
        """\
    shape = (num_sequences, horizon, low.shape[0])
    mean = ((low + high) / 2).repeat(horizon, 1)
    std = ((high - low) / 2).repeat(horizon, 1)
    for _ in range(iterations):
        # N(mean, std) draws mean + std * z from the same standard normal z as randn
        samples = torch.normal(mean.expand(shape), std.expand(shape), generator=generator)
        samples = torch.maximum(torch.minimum(samples, high), low)
        mean, std = cem_refit(samples, returns_fn(samples), num_elites, mean, std, alpha)
    return mean""",
        "cem",
    ),
    Alternative(
        "cem_inline_refit",
        PLANNING,
        _CEM_BODY,
        """\
    mean = torch.stack([(low + high) / 2] * horizon)
    std = torch.stack([(high - low) / 2] * horizon)
    for _ in range(iterations):
        noise = torch.randn((num_sequences, horizon, len(low)), generator=generator)
        candidates = (mean + std * noise).clamp(min=low, max=high)
        elites = candidates[returns_fn(candidates).topk(num_elites).indices]
        mean = alpha * elites.mean(dim=0) + (1.0 - alpha) * mean
        std = alpha * elites.std(dim=0, unbiased=False) + (1.0 - alpha) * std
    return mean""",
        "cem",
    ),
    # step_members: gather along the members, rows first and advanced indexing
    Alternative(
        "step_members_gather",
        MBPO,
        _STEP_MEMBERS_BODY,
        """\
    size = ensemble.ensemble_size
    batch_size, obs_dim = observations.shape
    predictions = ensemble.predict(
        observations.unsqueeze(0).repeat(size, 1, 1), actions.unsqueeze(0).repeat(size, 1, 1)
    )
    index = members.view(1, batch_size, 1).expand(1, batch_size, obs_dim)
    return predictions.gather(0, index).squeeze(0)""",
        "step_members",
    ),
    Alternative(
        "step_members_rows_first",
        MBPO,
        _STEP_MEMBERS_BODY,
        """\
    ensemble_size = ensemble.ensemble_size
    predictions = ensemble.predict(
        torch.stack([observations] * ensemble_size), torch.stack([actions] * ensemble_size)
    )
    rows = torch.arange(len(members), device=members.device)
    return predictions.transpose(0, 1)[rows, members]""",
        "step_members",
    ),
    # model_rollouts: a while loop with lists per field and index_select, an alive mask over
    # all the rollouts
    Alternative(
        "model_rollouts_while_loop_index_select",
        MBPO,
        _MODEL_ROLLOUTS_BODY,
        """\
    fields: dict[str, list[torch.Tensor]] = {key: [] for key in TRANSITION_KEYS}
    observations = start_observations
    step = 0
    while step < rollout_length and len(observations) > 0:
        actions = policy(observations)
        members = torch.randint(ensemble.ensemble_size, (len(observations),), generator=generator)
        next_observations = step_members(ensemble, observations, actions, members)
        rewards = reward_fn(observations, actions, next_observations)
        terminated = termination_fn(observations, actions, next_observations)
        transition = (observations, actions, rewards, next_observations, terminated)
        for key, values in zip(TRANSITION_KEYS, transition, strict=True):
            fields[key].append(values)
        running = torch.nonzero(~terminated).squeeze(1)
        observations = next_observations.index_select(0, running)
        step += 1
    if step == 0:
        obs_dim, action_dim = start_observations.shape[1], ensemble.action_dim
        return {
            "observations": start_observations.new_zeros((0, obs_dim)),
            "actions": start_observations.new_zeros((0, action_dim)),
            "rewards": start_observations.new_zeros(0),
            "next_observations": start_observations.new_zeros((0, obs_dim)),
            "terminated": start_observations.new_zeros(0, dtype=torch.bool),
        }
    return {key: torch.cat(values) for key, values in fields.items()}""",
        "model_rollouts",
    ),
    Alternative(
        "model_rollouts_alive_mask",
        MBPO,
        _MODEL_ROLLOUTS_BODY,
        """\
    current = start_observations.clone()
    alive = torch.ones(len(current), dtype=torch.bool, device=current.device)
    transitions: list[tuple[torch.Tensor, ...]] = []
    for _ in range(rollout_length):
        if not alive.any():
            break
        observations = current[alive]
        actions = policy(observations)
        members = torch.randint(ensemble.ensemble_size, (len(observations),), generator=generator)
        next_observations = step_members(ensemble, observations, actions, members)
        rewards = reward_fn(observations, actions, next_observations)
        terminated = termination_fn(observations, actions, next_observations)
        transitions.append((observations, actions, rewards, next_observations, terminated))
        current[alive] = next_observations
        # the running rollouts, in order, each still alive unless it just terminated
        alive[alive.clone()] = ~terminated
    if not transitions:
        dtype, device = current.dtype, current.device
        obs_dim, action_dim = current.shape[1], ensemble.action_dim
        return {
            "observations": torch.empty((0, obs_dim), dtype=dtype, device=device),
            "actions": torch.empty((0, action_dim), dtype=dtype, device=device),
            "rewards": torch.empty(0, dtype=dtype, device=device),
            "next_observations": torch.empty((0, obs_dim), dtype=dtype, device=device),
            "terminated": torch.empty(0, dtype=torch.bool, device=device),
        }
    columns = zip(*transitions, strict=True)
    return dict(zip(TRANSITION_KEYS, map(torch.cat, columns), strict=True))""",
        "model_rollouts",
    ),
    # branch_rollouts: keywords and the parameters' device, a dict of arrays added by keyword
    Alternative(
        "branch_rollouts_keywords",
        MBPO,
        _BRANCH_ROLLOUTS_BODY,
        """\
    device = next(ensemble.parameters()).device
    batch = real_buffer.sample(num_rollouts)
    start_observations = torch.as_tensor(
        batch["observations"], dtype=torch.float32, device=device
    )
    rollouts = model_rollouts(
        ensemble,
        policy,
        reward_fn,
        termination_fn,
        start_observations=start_observations,
        rollout_length=rollout_length,
        generator=generator,
    )
    model_buffer.add(
        observations=rollouts["observations"].cpu().numpy(),
        actions=rollouts["actions"].cpu().numpy(),
        rewards=rollouts["rewards"].cpu().numpy(),
        next_observations=rollouts["next_observations"].cpu().numpy(),
        terminated=rollouts["terminated"].cpu().numpy(),
    )
    return rollouts""",
        "branch_rollouts",
    ),
    Alternative(
        "branch_rollouts_dict_of_arrays",
        MBPO,
        _BRANCH_ROLLOUTS_BODY,
        """\
    device = ensemble.obs_mean.device
    starts = to_torch(real_buffer.sample(num_rollouts)["observations"], device)
    rollouts = model_rollouts(
        ensemble, policy, reward_fn, termination_fn, starts, rollout_length, generator
    )
    arrays = {key: to_numpy(rollouts[key]) for key in TRANSITION_KEYS}
    model_buffer.add(**arrays)
    return rollouts""",
        "branch_rollouts",
    ),
    # mixed_batch: a comprehension over (buffer, count) pairs, one buffer's batch returned whole
    Alternative(
        "mixed_batch_buffer_count_pairs",
        MBPO,
        _MIXED_BATCH_BODY,
        """\
    num_real = round(batch_size * real_ratio)
    draws = [(real_buffer, num_real), (model_buffer, batch_size - num_real)]
    parts = [buffer.sample(n) for buffer, n in draws if n > 0]
    return {key: np.concatenate(tuple(part[key] for part in parts)) for key in TRANSITION_KEYS}""",
        "mixed_batch",
    ),
    Alternative(
        "mixed_batch_one_buffer_whole",
        MBPO,
        _MIXED_BATCH_BODY,
        """\
    num_real = round(real_ratio * batch_size)
    num_model = batch_size - num_real
    if num_model == 0 or num_real == 0:
        buffer = real_buffer if num_model == 0 else model_buffer
        batch = buffer.sample(batch_size)
        return {key: batch[key] for key in TRANSITION_KEYS}
    real, model = real_buffer.sample(num_real), model_buffer.sample(num_model)
    return {key: np.concatenate((real[key], model[key])) for key in TRANSITION_KEYS}""",
        "mixed_batch",
    ),
]

"""Correct alternatives of homework 3: DQN's schedule, exploration, targets, loss and updates,
and SAC's squashed Gaussian, soft targets, actor and temperature losses and target updates,
each written the ways a good student writes them.

Each patch replaces the whole body of one solution region (the ``_..._BODY`` constants, copied
from the reference) by another correct body: loops against vectorised code, ``torch.where``
against a mask, indexing against ``gather``, float64 against float32 arithmetic,
``torch.distributions`` against the hand-written density, ``load_state_dict`` against a loop of
``copy_``, ``mul_``/``add_`` against ``lerp_``, ``.detach()`` against ``torch.no_grad()``, and
other valid orders of reductions. Where a method draws random numbers (SAC's losses sample
actions from the actor), an alternative draws the same ones in the same order as the
reference: the agents' checks compare their outputs under one torch seed.
"""

from __future__ import annotations

from autograder.alternatives import Alternative

DQN = "hw3_q_learning/dqn.py"
SAC = "hw3_q_learning/sac.py"

# ---------------------------------------------------------------------------------------------
# The reference's solution regions (``old`` of every patch)
# ---------------------------------------------------------------------------------------------

_LINEAR_SCHEDULE_BODY = (
    "    fraction = min(step / duration, 1.0)\n    return start + fraction * (end - start)"
)
_EPSILON_GREEDY_BODY = """\
    batch_size, num_actions = q_values.shape
    actions = to_numpy(q_values.argmax(dim=1))
    explore = rng.random(batch_size) < epsilon
    actions[explore] = rng.integers(num_actions, size=int(explore.sum()))
    return actions"""
_DQN_TARGET_BODY = """\
    next_values = next_q_values.max(dim=1).values
    return rewards + gamma * (1.0 - terminated) * next_values"""
_DOUBLE_DQN_TARGET_BODY = """\
    next_actions = next_q_values_online.argmax(dim=1, keepdim=True)
    next_values = next_q_values_target.gather(1, next_actions).squeeze(1)
    return rewards + gamma * (1.0 - terminated) * next_values"""
_HUBER_BODY = "    return nn.functional.huber_loss(q_values, targets.detach(), delta=delta)"
_HARD_UPDATE_BODY = """\
    for target_param, param in zip(target.parameters(), source.parameters(), strict=True):
        target_param.copy_(param)"""
_COMPUTE_LOSS_BODY = """\
        cfg = self.config
        q_values = self.q_network(observations).gather(1, actions.unsqueeze(1)).squeeze(1)
        with torch.no_grad():
            next_q_values_target = self.target_network(next_observations)
            if cfg.double:
                next_q_values_online = self.q_network(next_observations)
                targets = double_dqn_target(
                    rewards, next_q_values_online, next_q_values_target, terminated, cfg.gamma
                )
            else:
                targets = dqn_target(rewards, next_q_values_target, terminated, cfg.gamma)
        loss = huber_loss(q_values, targets, cfg.huber_delta)
        return loss, q_values, targets"""
_GRADIENT_STEP_BODY = """\
        max_norm = self.config.max_grad_norm
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(
            self.q_network.parameters(), max_norm if max_norm is not None else float("inf")
        )
        self.optimizer.step()
        return float(grad_norm)"""
_TANH_LOG_PROB_BODY = """\
    normalized = (pre_tanh_actions - means) * torch.exp(-log_stds)
    gaussian = -0.5 * normalized**2 - log_stds - 0.5 * math.log(2.0 * math.pi)
    log_det = 2.0 * (
        math.log(2.0) - pre_tanh_actions - nn.functional.softplus(-2.0 * pre_tanh_actions)
    )
    return (gaussian - log_det).sum(dim=-1)"""
_REDUCE_BODY = """\
    if reduction == "min":
        return q_values.min(dim=0).values
    if reduction == "mean":
        return q_values.mean(dim=0)
    if reduction == "single":
        return q_values[0]
    raise ValueError(f"expected reduction 'min', 'mean' or 'single', got {reduction!r}")"""
_SAC_TARGET_BODY = """\
    next_values = reduce_q_values(next_q_values, reduction) - alpha * next_log_probs
    return rewards + gamma * (1.0 - terminated) * next_values"""
_REPARAMETERIZE_BODY = "    return (alpha * log_probs - q_values).mean()"
_REINFORCE_BODY = """\
    weights = (alpha * log_probs - q_values).detach()
    return (log_probs * weights).mean()"""
_TEMPERATURE_BODY = "    return -(log_alpha * (log_probs.detach() + target_entropy)).mean()"
_SOFT_UPDATE_BODY = """\
    for target_param, param in zip(target.parameters(), source.parameters(), strict=True):
        target_param.lerp_(param, tau)"""
_CRITIC_LOSS_BODY = """\
        cfg = self.config
        alpha = self.alpha
        with torch.no_grad():
            next_actions, next_log_probs = self.actor.sample(next_observations)
            next_q_values = torch.stack(
                [critic(next_observations, next_actions) for critic in self.target_critics]
            )
            targets = sac_target(
                rewards,
                next_q_values,
                next_log_probs,
                terminated,
                cfg.gamma,
                alpha,
                cfg.critic_target,
            )
        q_values = torch.stack([critic(observations, actions) for critic in self.critics])
        loss = ((q_values - targets) ** 2).mean(dim=1).sum()
        return loss, q_values"""
_ACTOR_LOSS_BODY = """\
        cfg = self.config
        alpha = self.alpha
        repeated = observations.repeat(cfg.num_actor_samples, 1)
        reparameterize = cfg.actor_gradient == "reparameterize"
        actions, log_probs = self.actor.sample(repeated, reparameterize=reparameterize)
        q_values = reduce_q_values(
            torch.stack([critic(repeated, actions) for critic in self.critics]), cfg.critic_target
        )
        if reparameterize:
            loss = actor_loss_reparameterize(log_probs, q_values, alpha)
        else:
            loss = actor_loss_reinforce(log_probs, q_values, alpha)
        return loss, log_probs"""

ALTERNATIVES: list[Alternative] = [
    # linear_schedule: a branch, numpy's interpolation, a weighted average
    Alternative(
        "linear_schedule_branch_after_duration",
        DQN,
        _LINEAR_SCHEDULE_BODY,
        """\
    if step >= duration:
        return end
    return start + (end - start) * step / duration""",
        "linear_schedule",
    ),
    Alternative(
        "linear_schedule_numpy_interp",
        DQN,
        _LINEAR_SCHEDULE_BODY,
        "    return float(np.interp(step, [0, duration], [start, end]))",
        "linear_schedule",
    ),
    Alternative(
        "linear_schedule_weighted_average",
        DQN,
        _LINEAR_SCHEDULE_BODY,
        """\
    fraction = min(step, duration) / duration
    return (1.0 - fraction) * start + fraction * end""",
        "linear_schedule",
    ),
    # epsilon_greedy: a loop over states, torch.where over full draws, an inverse CDF
    Alternative(
        "epsilon_greedy_loop_over_states",
        DQN,
        _EPSILON_GREEDY_BODY,
        """\
    num_actions = q_values.shape[1]
    actions = []
    for greedy in q_values.argmax(dim=1).tolist():
        if rng.random() < epsilon:
            actions.append(int(rng.integers(num_actions)))
        else:
            actions.append(greedy)
    return np.array(actions, dtype=np.int64)""",
        "epsilon_greedy",
    ),
    Alternative(
        "epsilon_greedy_torch_where",
        DQN,
        _EPSILON_GREEDY_BODY,
        """\
    batch_size, num_actions = q_values.shape
    device = q_values.device
    explore = torch.as_tensor(rng.random(batch_size) < epsilon, device=device)
    random_actions = torch.as_tensor(rng.integers(num_actions, size=batch_size), device=device)
    return to_numpy(torch.where(explore, random_actions, q_values.argmax(dim=1)))""",
        "epsilon_greedy",
    ),
    Alternative(
        "epsilon_greedy_inverse_cdf",
        DQN,
        _EPSILON_GREEDY_BODY,
        """\
    batch_size, num_actions = q_values.shape
    greedy = to_numpy(q_values.argmax(dim=1))
    probs = np.full((batch_size, num_actions), epsilon / num_actions)
    probs[np.arange(batch_size), greedy] += 1.0 - epsilon
    draws = rng.random((batch_size, 1))
    actions = (probs.cumsum(axis=1) <= draws).sum(axis=1)
    return np.minimum(actions, num_actions - 1)""",
        "epsilon_greedy",
    ),
    # dqn_target: torch.where on terminal, a loop over transitions, float64
    Alternative(
        "dqn_target_where_terminal",
        DQN,
        _DQN_TARGET_BODY,
        """\
    bootstrapped = rewards + gamma * next_q_values.amax(dim=1)
    return torch.where(terminated.bool(), rewards, bootstrapped)""",
        "dqn_target",
    ),
    Alternative(
        "dqn_target_loop_over_transitions",
        DQN,
        _DQN_TARGET_BODY,
        """\
    targets = []
    for reward, next_q_row, done in zip(rewards, next_q_values, terminated, strict=True):
        bootstrap = 0.0 if done else gamma * next_q_row.max()
        targets.append(reward + bootstrap)
    return torch.stack(targets)""",
        "dqn_target",
    ),
    Alternative(
        "dqn_target_float64",
        DQN,
        _DQN_TARGET_BODY,
        """\
    next_values = next_q_values.double().max(dim=1).values
    not_terminal = 1.0 - terminated.double()
    return (rewards.double() + gamma * not_terminal * next_values).to(rewards.dtype)""",
        "dqn_target",
    ),
    # double_dqn_target: advanced indexing, a one-hot mask with torch.where
    Alternative(
        "double_dqn_target_indexing",
        DQN,
        _DOUBLE_DQN_TARGET_BODY,
        """\
    next_actions = next_q_values_online.argmax(dim=1)
    rows = torch.arange(len(next_actions), device=next_actions.device)
    next_values = next_q_values_target[rows, next_actions]
    not_terminal = 1.0 - terminated
    return rewards + not_terminal * gamma * next_values""",
        "double_dqn_target",
    ),
    Alternative(
        "double_dqn_target_one_hot_where",
        DQN,
        _DOUBLE_DQN_TARGET_BODY,
        """\
    num_actions = next_q_values_online.shape[1]
    chosen = nn.functional.one_hot(next_q_values_online.argmax(dim=1), num_actions)
    next_values = (next_q_values_target * chosen).sum(dim=1)
    return torch.where(terminated > 0.5, rewards, rewards + gamma * next_values)""",
        "double_dqn_target",
    ),
    # huber_loss: torch.where by hand, the clamp split, smooth L1 scaled by delta
    Alternative(
        "huber_loss_where_by_hand",
        DQN,
        _HUBER_BODY,
        """\
    errors = q_values - targets.detach()
    absolute = errors.abs()
    quadratic = 0.5 * errors**2
    linear = delta * (absolute - 0.5 * delta)
    return torch.where(absolute <= delta, quadratic, linear).mean()""",
        "huber_loss",
    ),
    Alternative(
        "huber_loss_clamp_split",
        DQN,
        _HUBER_BODY,
        """\
    absolute = (q_values - targets.detach()).abs()
    quadratic = absolute.clamp(max=delta)
    linear = absolute - quadratic
    return (0.5 * quadratic**2 + delta * linear).mean()""",
        "huber_loss",
    ),
    Alternative(
        "huber_loss_smooth_l1_no_grad_targets",
        DQN,
        _HUBER_BODY,
        """\
    with torch.no_grad():
        constant_targets = targets.clone()
    # smooth L1 with beta = delta is the Huber loss divided by delta
    return delta * nn.functional.smooth_l1_loss(q_values, constant_targets, beta=delta)""",
        "huber_loss",
    ),
    # hard_update: load_state_dict, a copy by parameter name
    Alternative(
        "hard_update_load_state_dict",
        DQN,
        _HARD_UPDATE_BODY,
        "    target.load_state_dict(source.state_dict())",
        "hard_update",
    ),
    Alternative(
        "hard_update_by_name_data_copy",
        DQN,
        _HARD_UPDATE_BODY,
        """\
    source_params = dict(source.named_parameters())
    for name, target_param in target.named_parameters():
        target_param.data.copy_(source_params[name].data)""",
        "hard_update",
    ),
    # DQNAgent.compute_loss: indexing and .detach(), one forward pass of the online network,
    # the targets and the Huber loss written inline
    Alternative(
        "compute_loss_indexing_and_detach",
        DQN,
        _COMPUTE_LOSS_BODY,
        """\
        cfg = self.config
        rows = torch.arange(len(actions), device=actions.device)
        q_values = self.q_network(observations)[rows, actions]
        next_q_values_target = self.target_network(next_observations).detach()
        if cfg.double:
            next_q_values_online = self.q_network(next_observations).detach()
            targets = double_dqn_target(
                rewards, next_q_values_online, next_q_values_target, terminated, cfg.gamma
            )
        else:
            targets = dqn_target(rewards, next_q_values_target, terminated, cfg.gamma)
        return huber_loss(q_values, targets, cfg.huber_delta), q_values, targets""",
        "DQNAgent.compute_loss",
    ),
    Alternative(
        "compute_loss_one_online_forward_pass",
        DQN,
        _COMPUTE_LOSS_BODY,
        """\
        cfg = self.config
        batch_size = len(actions)
        # s and s' through the online network at once; only Q(s, a) keeps its gradient
        both_q_values = self.q_network(torch.cat([observations, next_observations]))
        q_values = both_q_values[:batch_size].gather(1, actions.view(-1, 1)).view(-1)
        next_q_values_online = both_q_values[batch_size:].detach()
        with torch.no_grad():
            next_q_values_target = self.target_network(next_observations)
        if cfg.double:
            targets = double_dqn_target(
                rewards, next_q_values_online, next_q_values_target, terminated, cfg.gamma
            )
        else:
            targets = dqn_target(rewards, next_q_values_target, terminated, cfg.gamma)
        loss = huber_loss(q_values, targets, cfg.huber_delta)
        return loss, q_values, targets""",
        "DQNAgent.compute_loss",
    ),
    Alternative(
        "compute_loss_inline_targets_and_huber",
        DQN,
        _COMPUTE_LOSS_BODY,
        """\
        cfg = self.config
        q_values = self.q_network(observations).gather(1, actions[:, None])[:, 0]
        with torch.no_grad():
            next_q_values = self.target_network(next_observations)
            if cfg.double:
                # the online network chooses a*, the target network values it
                best_actions = self.q_network(next_observations).argmax(dim=1, keepdim=True)
                next_values = next_q_values.gather(1, best_actions)[:, 0]
            else:
                next_values = next_q_values.max(dim=1).values
            targets = rewards + cfg.gamma * (1.0 - terminated) * next_values
        loss = nn.functional.huber_loss(q_values, targets, delta=cfg.huber_delta)
        return loss, q_values, targets""",
        "DQNAgent.compute_loss",
    ),
    # DQNAgent.gradient_step: the module's zero_grad and a branch on clipping, clipping by
    # hand with zeroed (not freed) gradients, gradients zeroed after the step
    Alternative(
        "gradient_step_module_zero_grad_branch",
        DQN,
        _GRADIENT_STEP_BODY,
        """\
        self.q_network.zero_grad()
        loss.backward()
        if self.config.max_grad_norm is None:
            norms = [p.grad.norm() for p in self.q_network.parameters() if p.grad is not None]
            grad_norm = torch.stack(norms).norm()
        else:
            grad_norm = nn.utils.clip_grad_norm_(
                self.q_network.parameters(), self.config.max_grad_norm
            )
        self.optimizer.step()
        return grad_norm.item()""",
        "DQNAgent.gradient_step",
    ),
    Alternative(
        "gradient_step_clip_by_hand",
        DQN,
        _GRADIENT_STEP_BODY,
        """\
        max_norm = self.config.max_grad_norm
        self.optimizer.zero_grad(set_to_none=False)
        loss.backward()
        grads = [p.grad for p in self.q_network.parameters() if p.grad is not None]
        grad_norm = sum(float((grad**2).sum()) for grad in grads) ** 0.5
        if max_norm is not None and grad_norm > max_norm:
            for grad in grads:
                grad.mul_(max_norm / grad_norm)
        self.optimizer.step()
        return grad_norm""",
        "DQNAgent.gradient_step",
    ),
    Alternative(
        "gradient_step_zero_grad_after_the_step",
        DQN,
        _GRADIENT_STEP_BODY,
        """\
        max_norm = self.config.max_grad_norm
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(
            self.q_network.parameters(), max_norm if max_norm is not None else float("inf")
        )
        self.optimizer.step()
        # leave no gradient behind for the next loss to add to
        self.optimizer.zero_grad()
        return float(grad_norm)""",
        "DQNAgent.gradient_step",
    ),
    # tanh_gaussian_log_prob: torch.distributions (the Jacobian alone, and the whole
    # transformed distribution), float64 throughout with log cosh (a float64 result), a loop
    # over action dimensions with the variance form
    Alternative(
        "tanh_log_prob_torch_distributions",
        SAC,
        _TANH_LOG_PROB_BODY,
        """\
    gaussian = torch.distributions.Normal(means, log_stds.exp()).log_prob(pre_tanh_actions)
    log_det = torch.distributions.transforms.TanhTransform().log_abs_det_jacobian(
        pre_tanh_actions, torch.tanh(pre_tanh_actions)
    )
    return gaussian.sum(dim=-1) - log_det.sum(dim=-1)""",
        "tanh_gaussian_log_prob",
    ),
    Alternative(
        "tanh_log_prob_transformed_distribution",
        SAC,
        _TANH_LOG_PROB_BODY,
        """\
    base = torch.distributions.Independent(
        torch.distributions.Normal(means, log_stds.exp()), reinterpreted_batch_ndims=1
    )
    # the cached transform inverts tanh(u) to the u it came from, not by atanh, which is
    # infinite where tanh(u) rounds to 1
    tanh = torch.distributions.transforms.TanhTransform(cache_size=1)
    squashed = torch.distributions.TransformedDistribution(base, [tanh])
    return squashed.log_prob(tanh(pre_tanh_actions))""",
        "tanh_gaussian_log_prob",
    ),
    Alternative(
        "tanh_log_prob_float64_log_cosh",
        SAC,
        _TANH_LOG_PROB_BODY,
        """\
    u, mu, log_sigma = pre_tanh_actions.double(), means.double(), log_stds.double()
    gaussian = -0.5 * ((u - mu) / log_sigma.exp()) ** 2 - log_sigma - 0.5 * math.log(2 * math.pi)
    # log(1 - tanh(u)^2) = -2 log cosh(u), and log cosh(u) = |u| + log(1 + e^(-2|u|)) - log 2
    log_cosh = u.abs() + torch.log1p(torch.exp(-2.0 * u.abs())) - math.log(2.0)
    return (gaussian + 2.0 * log_cosh).sum(dim=-1)""",
        "tanh_gaussian_log_prob",
    ),
    Alternative(
        "tanh_log_prob_loop_over_dimensions",
        SAC,
        _TANH_LOG_PROB_BODY,
        """\
    log_probs = pre_tanh_actions.new_zeros(pre_tanh_actions.shape[:-1])
    for j in range(pre_tanh_actions.shape[-1]):
        u, mu, log_sigma = pre_tanh_actions[..., j], means[..., j], log_stds[..., j]
        variance = torch.exp(2.0 * log_sigma)
        gaussian = -((u - mu) ** 2) / (2.0 * variance) - 0.5 * torch.log(2.0 * math.pi * variance)
        log_det = 2.0 * (math.log(2.0) - u - nn.functional.softplus(-2.0 * u))
        log_probs = log_probs + gaussian - log_det
    return log_probs""",
        "tanh_gaussian_log_prob",
    ),
    # reduce_q_values: match with amin and sum / n, a fold over the critics
    Alternative(
        "reduce_q_values_match_amin_sum",
        SAC,
        _REDUCE_BODY,
        """\
    match reduction:
        case "min":
            return torch.amin(q_values, dim=0)
        case "mean":
            return q_values.sum(dim=0) / q_values.shape[0]
        case "single":
            return q_values.select(0, 0)
    raise ValueError(f"expected reduction 'min', 'mean' or 'single', got {reduction!r}")""",
        "reduce_q_values",
    ),
    Alternative(
        "reduce_q_values_fold_over_critics",
        SAC,
        _REDUCE_BODY,
        """\
    critics = list(q_values.unbind(dim=0))
    if reduction == "min":
        reduced = critics[0]
        for values in critics[1:]:
            reduced = torch.minimum(reduced, values)
        return reduced
    if reduction == "mean":
        return sum(critics[1:], critics[0]) / len(critics)
    if reduction == "single":
        return critics[0].clone()
    raise ValueError(f"expected reduction 'min', 'mean' or 'single', got {reduction!r}")""",
        "reduce_q_values",
    ),
    # sac_target: torch.where with the terms distributed, float64
    Alternative(
        "sac_target_where_distributed",
        SAC,
        _SAC_TARGET_BODY,
        """\
    entropy_bonus = -alpha * next_log_probs
    bootstrapped = (
        rewards + gamma * reduce_q_values(next_q_values, reduction) + gamma * entropy_bonus
    )
    return torch.where(terminated.bool(), rewards, bootstrapped)""",
        "sac_target",
    ),
    Alternative(
        "sac_target_float64",
        SAC,
        _SAC_TARGET_BODY,
        """\
    next_values = reduce_q_values(next_q_values.double(), reduction)
    soft_values = next_values - alpha * next_log_probs.double()
    not_terminal = 1.0 - terminated.double()
    return (rewards.double() + gamma * not_terminal * soft_values).to(rewards.dtype)""",
        "sac_target",
    ),
    # actor_loss_reparameterize: two means, a float64 sum over the batch
    Alternative(
        "actor_reparameterize_separate_means",
        SAC,
        _REPARAMETERIZE_BODY,
        "    return alpha * log_probs.mean() - q_values.mean()",
        "actor_loss_reparameterize",
    ),
    Alternative(
        "actor_reparameterize_float64_sum",
        SAC,
        _REPARAMETERIZE_BODY,
        """\
    loss = (alpha * log_probs.double() - q_values.double()).sum() / log_probs.shape[0]
    return loss.to(log_probs.dtype)""",
        "actor_loss_reparameterize",
    ),
    # actor_loss_reinforce: weights under torch.no_grad() with a dot product, the two terms
    # each with its own detached factor
    Alternative(
        "actor_reinforce_no_grad_dot",
        SAC,
        _REINFORCE_BODY,
        """\
    with torch.no_grad():
        weights = alpha * log_probs - q_values
    return torch.dot(log_probs, weights) / log_probs.numel()""",
        "actor_loss_reinforce",
    ),
    Alternative(
        "actor_reinforce_split_terms",
        SAC,
        _REINFORCE_BODY,
        "    return (alpha * log_probs.detach() * log_probs - q_values.detach() * log_probs).sum()"
        " / len(log_probs)",
        "actor_loss_reinforce",
    ),
    # temperature_loss: the mean first under torch.no_grad(), the entropy gap, float64
    Alternative(
        "temperature_loss_mean_first_no_grad",
        SAC,
        _TEMPERATURE_BODY,
        """\
    with torch.no_grad():
        mean_gap = log_probs.mean() + target_entropy
    return -log_alpha * mean_gap""",
        "temperature_loss",
    ),
    Alternative(
        "temperature_loss_entropy_gap",
        SAC,
        _TEMPERATURE_BODY,
        """\
    entropy = -log_probs.detach().mean()
    return log_alpha * (entropy - target_entropy)""",
        "temperature_loss",
    ),
    Alternative(
        "temperature_loss_float64_detached_sum",
        SAC,
        _TEMPERATURE_BODY,
        """\
    gaps = (log_probs + target_entropy).detach().double()
    loss = -(log_alpha.double() * gaps).sum() / len(gaps)
    return loss.to(log_alpha.dtype)""",
        "temperature_loss",
    ),
    # soft_update: mul_ and add_, a state_dict averaged and loaded, copy_ of the expression
    Alternative(
        "soft_update_mul_add",
        SAC,
        _SOFT_UPDATE_BODY,
        """\
    for target_param, param in zip(target.parameters(), source.parameters(), strict=True):
        target_param.mul_(1.0 - tau).add_(param, alpha=tau)""",
        "soft_update",
    ),
    Alternative(
        "soft_update_load_averaged_state_dict",
        SAC,
        _SOFT_UPDATE_BODY,
        """\
    source_state = source.state_dict()
    averaged = {
        name: tau * source_state[name] + (1.0 - tau) * value
        for name, value in target.state_dict().items()
    }
    target.load_state_dict(averaged)""",
        "soft_update",
    ),
    Alternative(
        "soft_update_copy_by_name",
        SAC,
        _SOFT_UPDATE_BODY,
        """\
    source_params = dict(source.named_parameters())
    for name, target_param in target.named_parameters():
        target_param.copy_(target_param + tau * (source_params[name] - target_param))""",
        "soft_update",
    ),
    # SACAgent.critic_loss: a loop of mse_loss, detached targets and one mse_loss over all,
    # the critics' values before the target and one sum divided by the batch size
    Alternative(
        "critic_loss_mse_loop",
        SAC,
        _CRITIC_LOSS_BODY,
        """\
        cfg = self.config
        with torch.no_grad():
            next_actions, next_log_probs = self.actor.sample(next_observations)
            next_q_values = torch.stack(
                [target(next_observations, next_actions) for target in self.target_critics]
            )
            targets = sac_target(
                rewards,
                next_q_values,
                next_log_probs,
                terminated,
                cfg.gamma,
                self.alpha,
                cfg.critic_target,
            )
        q_values = []
        loss = torch.zeros((), device=rewards.device)
        for critic in self.critics:
            values = critic(observations, actions)
            loss = loss + nn.functional.mse_loss(values, targets)
            q_values.append(values)
        return loss, torch.stack(q_values)""",
        "SACAgent.critic_loss",
    ),
    Alternative(
        "critic_loss_detached_targets_one_mse",
        SAC,
        _CRITIC_LOSS_BODY,
        """\
        cfg = self.config
        alpha = self.log_alpha.exp().item()
        next_actions, next_log_probs = self.actor.sample(next_observations)
        next_q_values = torch.stack(
            [critic(next_observations, next_actions) for critic in self.target_critics]
        )
        targets = sac_target(
            rewards,
            next_q_values,
            next_log_probs,
            terminated,
            cfg.gamma,
            alpha,
            cfg.critic_target,
        ).detach()
        q_values = torch.stack([critic(observations, actions) for critic in self.critics])
        # the mean over critics and batch, times the number of critics: the sum of their MSEs
        loss = len(self.critics) * nn.functional.mse_loss(q_values, targets.expand_as(q_values))
        return loss, q_values""",
        "SACAgent.critic_loss",
    ),
    Alternative(
        "critic_loss_q_values_first_one_sum",
        SAC,
        _CRITIC_LOSS_BODY,
        """\
        cfg = self.config
        q_values = torch.stack([critic(observations, actions) for critic in self.critics])
        with torch.no_grad():
            next_actions, next_log_probs = self.actor.sample(next_observations)
            next_q_values = torch.stack(
                [critic(next_observations, next_actions) for critic in self.target_critics]
            )
            soft_values = (
                reduce_q_values(next_q_values, cfg.critic_target) - self.alpha * next_log_probs
            )
            targets = rewards + cfg.gamma * (1.0 - terminated) * soft_values
        # the sum over critics of each one's mean over the batch
        loss = (q_values - targets).pow(2).sum() / len(rewards)
        return loss, q_values""",
        "SACAgent.critic_loss",
    ),
    # SACAgent.actor_loss: concatenated copies and a branch per estimator, expand and
    # reshape with the loss function chosen once
    Alternative(
        "actor_loss_concatenated_copies_branches",
        SAC,
        _ACTOR_LOSS_BODY,
        """\
        cfg = self.config
        repeated = torch.cat([observations] * cfg.num_actor_samples, dim=0)
        if cfg.actor_gradient == "reparameterize":
            actions, log_probs = self.actor.sample(repeated, reparameterize=True)
            values = torch.stack([critic(repeated, actions) for critic in self.critics])
            q_values = reduce_q_values(values, cfg.critic_target)
            loss = actor_loss_reparameterize(log_probs, q_values, self.alpha)
        else:
            actions, log_probs = self.actor.sample(repeated, reparameterize=False)
            with torch.no_grad():
                values = torch.stack([critic(repeated, actions) for critic in self.critics])
                q_values = reduce_q_values(values, cfg.critic_target)
            loss = actor_loss_reinforce(log_probs, q_values, self.alpha)
        return loss, log_probs""",
        "SACAgent.actor_loss",
    ),
    Alternative(
        "actor_loss_expand_reshape",
        SAC,
        _ACTOR_LOSS_BODY,
        """\
        cfg = self.config
        batch_size, obs_dim = observations.shape
        repeated = observations.expand(cfg.num_actor_samples, batch_size, obs_dim).reshape(
            -1, obs_dim
        )
        reparameterize = cfg.actor_gradient == "reparameterize"
        actions, log_probs = self.actor.sample(repeated, reparameterize=reparameterize)
        values = torch.stack([critic(repeated, actions) for critic in self.critics])
        q_values = reduce_q_values(values, cfg.critic_target)
        alpha = self.log_alpha.detach().exp().item()
        loss_fn = actor_loss_reparameterize if reparameterize else actor_loss_reinforce
        return loss_fn(log_probs, q_values, alpha), log_probs""",
        "SACAgent.actor_loss",
    ),
]

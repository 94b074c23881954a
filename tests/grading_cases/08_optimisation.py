"""Grading cases for solutions/08_optimisation.ipynb: answers the grader must fail, and pass.

WRONG: planted all at once, exactly these exercises must fail.
ALTERNATIVE: correct answers written differently; every exercise must pass.
"""

WRONG = {
    # 08.1: warm-up off by one step: (step + 1) / w
    "08.1": {
        "ex08-1-answer": '''\
def lr_multiplier(step, warmup_steps, total_steps):
    """BERT's schedule: 0 -> 1 linearly over warmup_steps, then 1 -> 0 linearly at total_steps."""
    # BEGIN SOLUTION
    if step < warmup_steps:
        return (step + 1) / max(1, warmup_steps)
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))
    # END SOLUTION
''',
    },
    # 08.2: decay applied to LayerNorm weights (only biases excluded)
    "08.2": {
        "ex08-2-answer": '''\
def decay_groups(model, weight_decay):
    """Two AdamW groups: [{"params": decayed, "weight_decay": weight_decay},
    {"params": biases and LayerNorm parameters, "weight_decay": 0.0}]."""
    # BEGIN SOLUTION
    layer_norm_params = {id(p) for module in model.modules() if isinstance(module, nn.LayerNorm)
                         for p in module.parameters()}
    decay, no_decay = [], []
    for name, p in model.named_parameters():          # a shared (tied) tensor is listed once
        if name.endswith("bias"):
            no_decay.append(p)
        else:
            decay.append(p)
    # END SOLUTION
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
''',
    },
    # 08.3: Adam + L2 (decay added to the gradient), not decoupled AdamW
    "08.3": {
        "ex08-3-answer": '''\
def adamw_step(param, grad, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    """One AdamW update (step counts from 1). Returns (new_param, new_m, new_v); changes nothing in place."""
    # BEGIN SOLUTION
    grad = grad + weight_decay * param
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat = m / (1 - beta1 ** step)
    v_hat = v / (1 - beta2 ** step)
    param = param - lr * m_hat / (v_hat.sqrt() + eps)
    # END SOLUTION
    return param, m, v
''',
    },
    # 08.4: cosine progress counted from step 0, not from the end of warm-up
    "08.4": {
        "ex08-4-answer": '''\
def cosine_multiplier(step, warmup_steps, total_steps):
    """Linear warm-up, then half a cosine from 1 down to 0 at total_steps (0 after that)."""
    # BEGIN SOLUTION
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    progress = min(1.0, step / max(1, total_steps))
    return 0.5 * (1.0 + math.cos(math.pi * progress))
    # END SOLUTION
''',
    },
}

ALTERNATIVE = {
    # 08.1: the end of the schedule tested first, no max() guards
    "08.1": {
        "ex08-1-answer": '''\
def lr_multiplier(step, warmup_steps, total_steps):
    """BERT's schedule: 0 -> 1 linearly over warmup_steps, then 1 -> 0 linearly at total_steps."""
    # BEGIN SOLUTION
    if step >= total_steps:
        return 0.0
    if step < warmup_steps:
        return float(step) / warmup_steps
    return float(total_steps - step) / (total_steps - warmup_steps)
    # END SOLUTION
''',
    },
    # 08.2: walk the modules, decide by module type, skip tensors already seen
    "08.2": {
        "ex08-2-answer": '''\
def decay_groups(model, weight_decay):
    """Two AdamW groups: [{"params": decayed, "weight_decay": weight_decay},
    {"params": biases and LayerNorm parameters, "weight_decay": 0.0}]."""
    # BEGIN SOLUTION
    decay, no_decay, seen = [], [], set()
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if id(p) in seen:
                continue
            seen.add(id(p))
            if isinstance(module, nn.LayerNorm) or name == "bias":
                no_decay.append(p)
            else:
                decay.append(p)
    # END SOLUTION
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
''',
    },
    # 08.3: PyTorch's order: shrink first, then lerp / addcdiv
    "08.3": {
        "ex08-3-answer": '''\
def adamw_step(param, grad, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    """One AdamW update (step counts from 1). Returns (new_param, new_m, new_v); changes nothing in place."""
    # BEGIN SOLUTION
    param = param * (1 - lr * weight_decay)
    m = torch.lerp(m, grad, 1 - beta1)
    v = v * beta2 + (1 - beta2) * grad.square()
    step_size = lr / (1 - beta1 ** step)
    denominator = (v / (1 - beta2 ** step)).sqrt() + eps
    param = torch.addcdiv(param, m, denominator, value=-step_size)
    # END SOLUTION
    return param, m, v
''',
    },
    # 08.4: cos^2 form of the half cosine
    "08.4": {
        "ex08-4-answer": '''\
def cosine_multiplier(step, warmup_steps, total_steps):
    """Linear warm-up, then half a cosine from 1 down to 0 at total_steps (0 after that)."""
    # BEGIN SOLUTION
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    if step >= total_steps:
        return 0.0
    return math.cos(0.5 * math.pi * (step - warmup_steps) / (total_steps - warmup_steps)) ** 2
    # END SOLUTION
''',
    },
}

# Near misses: answers one small slip away from right, which the tolerance must still fail.
# (Coupled L2 weight decay in AdamW, the near miss of 08.3, is WRONG["08.3"] above.)
NEAR_MISS = {
    # the warm-up one step ahead: step 0 already moves the weights
    "08.1": {
        "ex08-1-answer": '''\
def lr_multiplier(step, warmup_steps, total_steps):
    if step < warmup_steps:
        return (step + 1) / max(1, warmup_steps)
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))
''',
    },
}

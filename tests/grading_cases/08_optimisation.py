"""Grading cases for solutions/08_optimisation.ipynb: answers the grader must fail, and pass.

WRONG: planted all at once, exactly these exercises must fail (for the debug exercises 08.1 and 08.3:
a fix that is no fix, and the given code untouched).
ALTERNATIVE: correct answers written differently; every exercise must pass.
NEAR_MISS: one small slip from right; each must fail.
"""

WRONG = {
    # 08.1 (debug): a fix that still decays the LayerNorm weights: only biases excluded
    "08.1": {
        "ex08-1-answer": '''\
def decay_groups(model, weight_decay):
    """Two AdamW groups: [{"params": decayed, "weight_decay": weight_decay},
    {"params": biases and LayerNorm parameters, "weight_decay": 0.0}]."""
    layer_norm_params = {id(p) for module in model.modules() if isinstance(module, nn.LayerNorm)
                         for p in module.parameters()}
    decay, no_decay = [], []
    for name, p in model.named_parameters():          # a shared (tied) tensor is listed once
        if name.endswith("bias"):
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
''',
    },
    # 08.2 (concept): the MLM head's own bias over the vocabulary forgotten
    "08.2": {
        "ex08-2-answer": '''\
def no_decay_numbers(H, I, L, V):
    return 2 * H + L * (4 * H + 2 * H + I + H + 2 * H) + H + 2 * H
''',
    },
    # 08.3 (debug): the given code, untouched: the bias-corrected moments are handed back as the state
    "08.3": {
        "ex08-3-answer": '''\
def adamw_step(param, grad, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m = m / (1 - beta1 ** step)
    v = v / (1 - beta2 ** step)
    param = param - lr * (m / (v.sqrt() + eps) + weight_decay * param)
    return param, m, v
''',
    },
    # 08.4 (transfer): the decay runs the wrong way: the embeddings get the full rate, the head the least
    "08.4": {
        "ex08-4-answer": '''\
def layerwise_lr_groups(model, base_lr, decay):
    L = len(model.bert.layers)
    params = [[] for _ in range(L + 2)]
    for name, p in model.named_parameters():
        if name.startswith("bert.embeddings."):
            depth = 0
        elif name.startswith("bert.layers."):
            depth = int(name.split(".")[2]) + 1
        else:
            depth = L + 1
        params[depth].append(p)
    return [{"params": ps, "lr": base_lr * decay ** depth} for depth, ps in enumerate(params)]
''',
    },
    # 08.5 (transfer): the cool-down measured against the whole run, not its last D steps
    "08.5": {
        "ex08-5-answer": '''\
def wsd_multiplier(step, warmup_steps, decay_steps, total_steps):
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    if step < total_steps - decay_steps:
        return 1.0
    return max(0.0, (total_steps - step) / max(1, total_steps))
''',
    },
}

ALTERNATIVE = {
    # 08.1 (debug): fixed by walking the modules, deciding by module type, skipping tensors already seen
    "08.1": {
        "ex08-1-answer": '''\
def decay_groups(model, weight_decay):
    """Two AdamW groups: [{"params": decayed, "weight_decay": weight_decay},
    {"params": biases and LayerNorm parameters, "weight_decay": 0.0}]."""
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
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
''',
    },
    # 08.2 (concept): the same count, grouped per layer
    "08.2": {
        "ex08-2-answer": '''\
def no_decay_numbers(H, I, L, V):
    per_layer = 9 * H + I            # 4 attention biases, 2 LayerNorms, 2 feed-forward biases
    return L * per_layer + 5 * H + V
''',
    },
    # 08.3 (debug): fixed in PyTorch's order: shrink first, then lerp / addcdiv
    "08.3": {
        "ex08-3-answer": '''\
def adamw_step(param, grad, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    """One AdamW update (step counts from 1). Returns (new_param, new_m, new_v); changes nothing in place."""
    param = param * (1 - lr * weight_decay)
    m = torch.lerp(m, grad, 1 - beta1)
    v = v * beta2 + (1 - beta2) * grad.square()
    step_size = lr / (1 - beta1 ** step)
    denominator = (v / (1 - beta2 ** step)).sqrt() + eps
    param = torch.addcdiv(param, m, denominator, value=-step_size)
    return param, m, v
''',
    },
    # 08.4 (transfer): by module, not by name; the tied weight kept where it is met first
    "08.4": {
        "ex08-4-answer": '''\
def layerwise_lr_groups(model, base_lr, decay):
    blocks = [model.bert.embeddings, *model.bert.layers, model]
    L = len(model.bert.layers)
    seen, groups = set(), []
    for depth, block in enumerate(blocks):
        mine = [p for p in block.parameters() if id(p) not in seen]
        seen.update(id(p) for p in mine)
        groups.append({"params": mine, "lr": base_lr * decay ** (L + 1 - depth)})
    return groups
''',
    },
    # 08.5 (transfer): one expression, the smallest of the three pieces
    "08.5": {
        "ex08-5-answer": '''\
def wsd_multiplier(step, warmup_steps, decay_steps, total_steps):
    up = step / warmup_steps if warmup_steps > 0 else 1.0
    if decay_steps > 0:
        down = (total_steps - step) / decay_steps
    else:
        down = 1.0 if step < total_steps else 0.0
    return max(0.0, min(up, 1.0, down))
''',
    },
}

# Near misses: answers one small slip away from right, which the tolerance must still fail.
NEAR_MISS = {
    # coupled (L2) weight decay: the decay added to the gradient, so Adam rescales it
    "08.3": {
        "ex08-3-answer": '''\
def adamw_step(param, grad, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    """One AdamW update (step counts from 1). Returns (new_param, new_m, new_v); changes nothing in place."""
    grad = grad + weight_decay * param
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat = m / (1 - beta1 ** step)
    v_hat = v / (1 - beta2 ** step)
    param = param - lr * m_hat / (v_hat.sqrt() + eps)
    return param, m, v
''',
    },
    # the warm-up one step ahead: step 0 already moves the weights
    "08.5": {
        "ex08-5-answer": '''\
def wsd_multiplier(step, warmup_steps, decay_steps, total_steps):
    if step < warmup_steps:
        return (step + 1) / max(1, warmup_steps)
    if step < total_steps - decay_steps:
        return 1.0
    return max(0.0, (total_steps - step) / max(1, decay_steps))
''',
    },
}

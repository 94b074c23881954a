"""Chapter 08: learning-rate schedules, and AdamW parameter groups.

Each schedule is a plain function of the step that returns a multiplier of the peak learning
rate; `make_scheduler` wraps it in PyTorch's LambdaLR. The numbers equal those of transformers'
`get_*_schedule_with_warmup` at every step.
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn


def warmup(step: int, warmup_steps: int) -> float:
    """Rise linearly from 0 at step 0 to 1 at step `warmup_steps`.

    Adam's early updates are noisy (its variance estimates start from a handful of gradients),
    and BERT's post-LN layers amplify them; starting with a tiny learning rate avoids an early
    blow-up.
    """
    return step / max(1, warmup_steps)


def linear_warmup_decay(step: int, warmup_steps: int, total_steps: int) -> float:
    """BERT's schedule: warm-up, then a straight line down to 0 at `total_steps`."""
    if step < warmup_steps:
        return warmup(step, warmup_steps)
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


def cosine_with_warmup(step: int, warmup_steps: int, total_steps: int, num_cycles: float = 0.5) -> float:
    """Warm-up, then half a cosine wave from 1 down to 0: slow at first, fast in the middle."""
    if step < warmup_steps:
        return warmup(step, warmup_steps)
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * num_cycles * 2.0 * progress)))


def constant_with_warmup(step: int, warmup_steps: int, total_steps: int | None = None) -> float:
    """Warm-up, then the peak learning rate for ever."""
    if step < warmup_steps:
        return warmup(step, warmup_steps)
    return 1.0


def inverse_sqrt(step: int, warmup_steps: int, total_steps: int | None = None, timescale: int | None = None) -> float:
    """Warm-up, then decay as 1/sqrt(step) (the original Transformer's schedule); no end date."""
    if timescale is None:
        timescale = warmup_steps or 10_000
    if step < warmup_steps:
        return warmup(step, warmup_steps)
    return 1.0 / math.sqrt((step + timescale - warmup_steps) / timescale)


SCHEDULES = {
    "linear": linear_warmup_decay,
    "cosine": cosine_with_warmup,
    "constant": constant_with_warmup,
    "inverse_sqrt": inverse_sqrt,
}


def make_scheduler(
    optimizer: torch.optim.Optimizer, name: str, warmup_steps: int, total_steps: int | None = None
) -> torch.optim.lr_scheduler.LambdaLR:
    """The named schedule as a LambdaLR: call `scheduler.step()` after every optimizer step."""
    if name not in SCHEDULES:
        raise ValueError(f"Unknown schedule {name!r}; choose one of {sorted(SCHEDULES)}.")
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}.")
    if name in ("linear", "cosine") and (total_steps is None or total_steps < warmup_steps):
        raise ValueError(f"The {name} schedule needs total_steps >= warmup_steps, got {total_steps}.")
    fn = partial(SCHEDULES[name], warmup_steps=warmup_steps, total_steps=total_steps)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, fn)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two AdamW groups: decay for weight matrices and embeddings, none for biases and LayerNorms.

    Weight decay pulls weights towards 0. That is a sensible prior for a matrix, but a bias or a
    LayerNorm gain has no reason to be small (a gain of 0 would switch a feature off).
    """
    no_decay_ids = set()
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if isinstance(module, nn.LayerNorm) or name == "bias" or name.endswith(".bias"):
                no_decay_ids.add(id(param))
    decay, no_decay = [], []
    for _, param in model.named_parameters():  # shared (tied) parameters are listed once
        if param.requires_grad:
            (no_decay if id(param) in no_decay_ids else decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]

"""The plain PyTorch training loop of chapter 09: forward, backward, clip, step; and evaluation.

Four lines per step are all of training. ``module.MLMModule`` runs the same step inside
PyTorch Lightning, which adds what a long run needs; ``command.run`` drives that from a config.
"""

from __future__ import annotations

import contextlib
import math
from typing import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F

from kaibert.schedules import param_groups
from kaibert.train.batches import FixedBatches


def make_optimizer(model: torch.nn.Module, learning_rate: float = 1e-3, weight_decay: float = 0.01,
                   betas: Sequence[float] = (0.9, 0.999), eps: float = 1e-6) -> torch.optim.AdamW:
    """AdamW with two groups: weight decay on matrices, none on biases and LayerNorm weights."""
    return torch.optim.AdamW(param_groups(model, weight_decay), lr=learning_rate,
                             betas=tuple(betas), eps=eps)


def mlm_loss(model, batch: dict) -> torch.Tensor:
    """The MLM loss of a batch: mean cross-entropy over the masked positions.

    The model computes it; with ``config.sparse_prediction`` (the default) it scores only the
    labelled positions, which is most of the saving on a small model (``BertForMaskedLM``).
    """
    return model(**batch).loss


def pick_device() -> torch.device:
    """A CUDA GPU when PyTorch sees one, else the CPU (the default everywhere else)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 on GPUs that have it (A100, H100, ...), fp16 on older ones (T4, V100), None on a CPU."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device):
    """Mixed precision on a GPU (matrix products in 16 bits, sums and the loss in 32); nothing on a CPU."""
    dtype = autocast_dtype(device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def make_scaler(device: torch.device):
    """A gradient scaler for fp16, whose small gradients would underflow to 0; None otherwise."""
    if autocast_dtype(device) is torch.float16:
        return torch.amp.GradScaler(device.type)
    return None


def training_step(model, batch: dict, optimizer, scheduler=None, max_grad_norm: float | None = 1.0,
                  scaler=None) -> float:
    """One optimisation step: forward, backward, clip the gradient norm, step, schedule. Returns the loss.

    The batch goes to the model's device; on a GPU the forward runs under autocast, and with
    fp16 the ``scaler`` (``make_scaler``) scales the loss before backward and unscales before clipping.
    """
    model.train()
    device = next(model.parameters()).device
    batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    with autocast(device):
        loss = mlm_loss(model, batch)          # mean cross-entropy over the masked tokens
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)             # clip the true gradient, not the scaled one
    else:
        loss.backward()
    if max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    if scaler is not None:
        scaler.step(optimizer)                 # skips the step if the gradient overflowed
        scaler.update()
    else:
        optimizer.step()
    if scheduler is not None:
        scheduler.step()
    return loss.item()


def masked_lm_counts(logits: torch.Tensor, labels: torch.Tensor,
                     baseline_token_id: int | None = None) -> dict[str, float]:
    """Summed loss, correct predictions and count over masked positions (labels != -100).

    Sums, not means, so that batches with different numbers of masked tokens add up exactly.
    """
    mask = labels != -100                                   # (B, T)
    picked = logits[mask].float()                           # (M, V)
    targets = labels[mask]                                  # (M,)
    counts = {
        "loss_sum": F.cross_entropy(picked, targets, reduction="sum").item(),
        "correct": (picked.argmax(-1) == targets).sum().item(),
        "count": targets.numel(),
    }
    if baseline_token_id is not None:
        counts["baseline_correct"] = (targets == baseline_token_id).sum().item()
    return counts


def summarize_counts(counts: dict[str, float]) -> dict[str, float]:
    """Mean loss, perplexity = exp(loss), masked-token accuracy (and the baseline's) from sums."""
    n = max(counts["count"], 1)
    loss = counts["loss_sum"] / n
    out = {"loss": loss, "perplexity": math.exp(min(loss, 50.0)), "accuracy": counts["correct"] / n,
           "masked_tokens": int(counts["count"])}
    if "baseline_correct" in counts:
        out["baseline_accuracy"] = counts["baseline_correct"] / n
    return out


@torch.no_grad()
def evaluate(model, batches: Iterable[dict], baseline_token_id: int | None = None) -> dict[str, float]:
    """Loss, perplexity and masked-token accuracy of a model on masked batches (eval mode, no dropout).

    With ``baseline_token_id``, also the accuracy of always predicting that token (the most
    frequent one in the training text): the bar a model must clear to have learned anything.
    """
    was_training = model.training
    model.eval()
    total: dict[str, float] = {}
    device = next(model.parameters()).device
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items()}
        labels = batch.pop("labels")
        logits = model(**batch).logits
        for key, value in masked_lm_counts(logits, labels, baseline_token_id).items():
            total[key] = total.get(key, 0) + value
    model.train(was_training)
    if not total:
        raise ValueError("no batches to evaluate: the held-out split is smaller than one batch")
    return summarize_counts(total)


def shuffle_context(batches: Iterable[dict], special_ids: dict, seed: int = 0) -> FixedBatches:
    """The same masked batches with each row's visible words shuffled: the words stay, their order goes.

    Masked positions, labels and special tokens keep their places; every other token of a row is
    moved to a random other such place. A model whose loss barely changes on these batches reads
    its context as a bag of words; one that uses word order does much worse on them.
    """
    g = torch.Generator().manual_seed(seed)
    special = torch.tensor(sorted(set(special_ids.values())))
    shuffled = []
    for batch in batches:
        input_ids = batch["input_ids"].clone()                           # (B, T)
        movable = (batch["labels"] == -100) & ~torch.isin(input_ids, special)
        for row in range(input_ids.shape[0]):
            places = movable[row].nonzero().flatten()                    # (n,) positions
            input_ids[row, places] = input_ids[row, places[torch.randperm(len(places), generator=g)]]
        shuffled.append({**batch, "input_ids": input_ids})
    return FixedBatches(shuffled)


def word_order_gap(model, batches: Iterable[dict], special_ids: dict, seed: int = 0) -> dict[str, float]:
    """Loss on the batches as they are, on the same batches with shuffled context, and the difference."""
    batches = list(batches)
    ordered = evaluate(model, batches)["loss"]
    shuffled = evaluate(model, shuffle_context(batches, special_ids, seed))["loss"]
    return {"loss": ordered, "shuffled_loss": shuffled, "gap": shuffled - ordered}


def train_loop(model, batches: Iterable[dict], optimizer, scheduler=None,
               max_grad_norm: float | None = 1.0, log_every: int = 10,
               on_log: Callable[[dict], None] | None = None) -> list[dict]:
    """The whole plain loop: one ``training_step`` per batch; returns the logged history.

    Runs where the model is: move it first (``model.to(pick_device())``) to train on a GPU.
    """
    history = []
    scaler = make_scaler(next(model.parameters()).device)
    for step, batch in enumerate(batches, start=1):
        loss = training_step(model, batch, optimizer, scheduler, max_grad_norm, scaler)
        if step % log_every == 0 or step == 1:
            record = {"step": step, "loss": loss, "lr": optimizer.param_groups[0]["lr"]}
            history.append(record)
            if on_log is not None:
                on_log(record)
    return history

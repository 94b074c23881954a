"""Training BERT with masked-language modelling: the plain PyTorch loop, then the Lightning module.

The plain loop is four lines per step (forward, backward, clip, step) and is what chapter 09 builds
first. ``MLMModule`` is the same step inside PyTorch Lightning, which adds what a long run needs:
mixed precision on a GPU, validation at fixed intervals, progress bars, CSV logs, checkpoints and
resuming. ``python -m kaibert.train`` (``train.py``) drives it from a config file.

Reproducibility: the batch of step ``s`` is a pure function of ``(seed, s)``: which blocks (a
seeded permutation per pass over the data) and which tokens get masked (a generator seeded per
step). With the model's own random state saved in every checkpoint, a run that is stopped and
resumed ends with the same weights as one that never stopped.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable, Iterator, Sequence

import torch
import torch.nn.functional as F

from kaibert.config import BertConfig
from kaibert.mlm import BertForMaskedLM, MaskingCollator
from kaibert.schedules import make_scheduler, param_groups


# ---------------------------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------------------------

def make_collator(vocab_size: int, special_ids: dict, mlm_probability: float = 0.15,
                  seed: int | None = None) -> MaskingCollator:
    """kaibert's 80/10/10 masking collator for a vocabulary given by its special token ids."""
    return MaskingCollator.from_ids(
        vocab_size=vocab_size,
        mask_token_id=special_ids["mask"],
        pad_token_id=special_ids["pad"],
        special_token_ids=sorted(set(special_ids.values())),
        mlm_probability=mlm_probability,
        seed=seed,
    )


def special_token_ids(tokenizer) -> dict:
    """``{"pad": .., "unk": .., "cls": .., "sep": .., "mask": ..}`` from a fast or kaibert tokenizer."""
    names = {"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]"}
    if hasattr(tokenizer, "token_to_id"):  # a `tokenizers` tokenizer
        ids = {key: tokenizer.token_to_id(tok) for key, tok in names.items()}
    else:  # kaibert.BertTokenizer
        ids = {key: tokenizer.convert_tokens_to_ids(tok) for key, tok in names.items()}
    missing = [names[key] for key, value in ids.items() if value is None]
    if missing:
        raise ValueError(f"the vocabulary has no {missing}; BERT needs all of {list(names.values())}")
    return ids


class MaskedBatches:
    """Masked batches for steps ``start, start + 1, ..., total_steps - 1``, each a function of the step.

    ``blocks`` is a sequence of examples (dicts with ``input_ids``). Pass ``p`` over the data uses
    the permutation ``randperm(len(blocks))`` seeded with ``seed + p``; the masking of step ``s``
    uses a generator seeded with ``seed * 1_000_003 + s``. ``start`` may be a callable, read when
    iteration begins: Lightning passes the restored global step, so a resumed run continues with
    exactly the batch it would have seen next.
    """

    def __init__(self, blocks, batch_size: int, total_steps: int, vocab_size: int,
                 special_ids: dict, mlm_probability: float = 0.15, seed: int = 0,
                 start: int | Callable[[], int] = 0, shuffle: bool = True):
        if len(blocks) < batch_size:
            raise ValueError(f"{len(blocks)} blocks cannot fill one batch of {batch_size}; "
                             "use a smaller batch_size or more text")
        self.blocks, self.batch_size, self.total_steps = blocks, batch_size, total_steps
        self.vocab_size, self.special_ids = vocab_size, special_ids
        self.mlm_probability, self.seed, self.start, self.shuffle = mlm_probability, seed, start, shuffle
        self.steps_per_pass = len(blocks) // batch_size
        self._order: tuple[int, torch.Tensor] | None = None

    def __len__(self) -> int:
        return self.total_steps

    def _indices(self, step: int) -> list[int]:
        data_pass, offset = divmod(step, self.steps_per_pass)
        if not self.shuffle:
            order = torch.arange(len(self.blocks))
        else:
            if self._order is None or self._order[0] != data_pass:
                g = torch.Generator().manual_seed(self.seed + data_pass)
                self._order = (data_pass, torch.randperm(len(self.blocks), generator=g))
            order = self._order[1]
        return order[offset * self.batch_size:(offset + 1) * self.batch_size].tolist()

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        """The masked batch of one step."""
        examples = [{"input_ids": list(self.blocks[i]["input_ids"])} for i in self._indices(step)]
        collate = make_collator(self.vocab_size, self.special_ids, self.mlm_probability,
                                seed=self.seed * 1_000_003 + step)
        return collate(examples)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        start = self.start() if callable(self.start) else self.start
        for step in range(start, self.total_steps):
            yield self.batch(step)

    # Lightning treats a loader with these two methods as resumable mid-epoch; the position is
    # taken from the restored global step instead (see ``start``).
    def state_dict(self) -> dict:
        return {"seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        if state.get("seed", self.seed) != self.seed:
            raise ValueError(f"checkpoint was trained with data seed {state['seed']}, "
                             f"this run uses {self.seed}; resume with the same config")


class FixedBatches:
    """A fixed list of batches that can be iterated again and again (a validation set)."""

    def __init__(self, batches: list[dict[str, torch.Tensor]]):
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        return iter(self.batches)


def eval_batches(blocks, batch_size: int, vocab_size: int, special_ids: dict,
                 mlm_probability: float = 0.15, seed: int = 1234,
                 max_batches: int | None = None) -> FixedBatches:
    """Fixed masked batches over held-out blocks, in order: the same tokens masked at every evaluation."""
    steps = len(blocks) // batch_size
    if max_batches is not None:
        steps = min(steps, max_batches)
    loader = MaskedBatches(blocks, batch_size, steps, vocab_size, special_ids, mlm_probability,
                           seed=seed, shuffle=False)
    return FixedBatches(list(loader))


# ---------------------------------------------------------------------------------------------
# The plain PyTorch loop
# ---------------------------------------------------------------------------------------------

def make_optimizer(model: torch.nn.Module, learning_rate: float = 1e-3, weight_decay: float = 0.01,
                   betas: Sequence[float] = (0.9, 0.999), eps: float = 1e-6) -> torch.optim.AdamW:
    """AdamW with two groups: weight decay on matrices, none on biases and LayerNorm weights."""
    return torch.optim.AdamW(param_groups(model, weight_decay), lr=learning_rate,
                             betas=tuple(betas), eps=eps)


def mlm_loss(model, batch: dict) -> torch.Tensor:
    """The MLM loss of a batch: mean cross-entropy over the masked positions.

    Equal to ``model(**batch).loss``, but the vocabulary scores are computed only where a label
    is (about 15% of the positions) instead of everywhere: with a small model, scoring every
    position against an 8k vocabulary costs as much as the whole encoder.
    """
    hidden = model.bert(batch["input_ids"], batch.get("attention_mask"),
                        batch.get("token_type_ids")).last_hidden_state  # (B, T, H)
    labels = batch["labels"]                                             # (B, T)
    chosen = labels != -100
    logits = model.mlm_head(hidden[chosen])                              # (M, V), M masked tokens
    return F.cross_entropy(logits.float(), labels[chosen])


def training_step(model, batch: dict, optimizer, scheduler=None, max_grad_norm: float | None = 1.0
                  ) -> float:
    """One optimisation step: forward, backward, clip the gradient norm, step, schedule. Returns the loss."""
    model.train()
    loss = mlm_loss(model, batch)              # mean cross-entropy over the masked tokens
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
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
    """The whole plain loop: one ``training_step`` per batch; returns the logged history."""
    history = []
    for step, batch in enumerate(batches, start=1):
        loss = training_step(model, batch, optimizer, scheduler, max_grad_norm)
        if step % log_every == 0 or step == 1:
            record = {"step": step, "loss": loss, "lr": optimizer.param_groups[0]["lr"]}
            history.append(record)
            if on_log is not None:
                on_log(record)
    return history


# ---------------------------------------------------------------------------------------------
# The same with PyTorch Lightning
# ---------------------------------------------------------------------------------------------

def _lightning():
    try:
        import pytorch_lightning as pl
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError("training with Lightning needs `pip install pytorch-lightning` "
                          "(or `pip install kaibert[train]`)") from err
    return pl


pl = _lightning()


class MLMModule(pl.LightningModule):
    """BertForMaskedLM + AdamW + warm-up/decay schedule, with validation loss, perplexity, accuracy."""

    def __init__(self, model_config: dict, learning_rate: float = 1e-3, weight_decay: float = 0.01,
                 betas: Sequence[float] = (0.9, 0.999), eps: float = 1e-6,
                 schedule: str = "linear", warmup_steps: int = 0, total_steps: int = 1000,
                 baseline_token_id: int | None = None):
        super().__init__()
        self.save_hyperparameters()
        self.model = BertForMaskedLM(BertConfig.from_dict(model_config))
        self._val_counts: dict[str, float] = {}
        self._rng_before_step: tuple[int, torch.Tensor] | None = None

    def forward(self, **batch):
        return self.model(**batch)

    def training_step(self, batch, batch_idx):
        loss = mlm_loss(self.model, batch)
        self.log("train_loss", loss, prog_bar=True)
        self.log("lr", self.optimizers().param_groups[0]["lr"], prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        logits = self.model(**inputs).logits
        counts = masked_lm_counts(logits, batch["labels"], self.hparams.baseline_token_id)
        for key, value in counts.items():
            self._val_counts[key] = self._val_counts.get(key, 0) + value

    def on_validation_epoch_end(self):
        if not self._val_counts:
            return
        summary = summarize_counts(self._val_counts)
        self._val_counts = {}
        self.log("val_loss", summary["loss"], prog_bar=True)
        self.log("val_perplexity", summary["perplexity"])
        self.log("val_accuracy", summary["accuracy"], prog_bar=True)
        if "baseline_accuracy" in summary:
            self.log("val_baseline_accuracy", summary["baseline_accuracy"])

    def configure_optimizers(self):
        hp = self.hparams
        optimizer = make_optimizer(self.model, hp.learning_rate, hp.weight_decay, hp.betas, hp.eps)
        scheduler = make_scheduler(optimizer, hp.schedule, hp.warmup_steps, hp.total_steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # The random state that dropout draws from is part of a run's state: save it with every
    # checkpoint, as it was after the last completed step, so that a resumed run repeats.
    def on_train_batch_start(self, batch, batch_idx):
        self._rng_before_step = (self.trainer.global_step, torch.get_rng_state())

    def on_save_checkpoint(self, checkpoint):
        step_started = self._rng_before_step
        if step_started is not None and step_started[0] == self.trainer.global_step:
            checkpoint["torch_rng_state"] = step_started[1]   # interrupted inside a step
        else:
            checkpoint["torch_rng_state"] = torch.get_rng_state()

    def on_load_checkpoint(self, checkpoint):
        if "torch_rng_state" in checkpoint:
            torch.set_rng_state(checkpoint["torch_rng_state"])

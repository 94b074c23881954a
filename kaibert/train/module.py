"""The training step of ``loop.py`` as a PyTorch Lightning module.

Lightning adds what a long run needs around the step: mixed precision on a GPU, validation at
fixed intervals, progress bars, CSV logs, checkpoints and resuming, and several devices.
"""

from __future__ import annotations

import time
from typing import Sequence

import torch

from kaibert.run.module import RunModule
from kaibert.schedules import make_scheduler
from kaibert.train.architectures import get_architecture
from kaibert.train.loop import make_optimizer, masked_lm_counts, mlm_loss, summarize_counts


class MLMModule(RunModule):
    """A masked LM + AdamW + warm-up/decay schedule, with validation loss, perplexity, accuracy.

    The model is ``architecture``'s masked LM (``BertForMaskedLM`` for ``bert``) built from
    ``model_config``. ``RunModule`` saves the random state with every checkpoint.
    """

    def __init__(self, model_config: dict, learning_rate: float = 1e-3, weight_decay: float = 0.01,
                 betas: Sequence[float] = (0.9, 0.999), eps: float = 1e-6,
                 schedule: str = "linear", warmup_steps: int = 0, total_steps: int = 1000,
                 baseline_token_id: int | None = None, compile: bool = False,
                 architecture: str = "bert"):
        super().__init__()
        self.save_hyperparameters()
        self.model = get_architecture(architecture).build(model_config)
        self._val_counts: dict[str, float] = {}
        self._train_started: float | None = None
        # torch.compile's wrapper is kept out of the module tree, so that checkpoints and the
        # saved model keep their plain parameter names.
        self.__dict__["_compiled"] = torch.compile(self.model) if compile else None

    def on_train_start(self):
        self._train_started = time.perf_counter()

    def forward(self, **batch):
        return self.model(**batch)

    def training_step(self, batch, batch_idx):
        if self._compiled is not None:
            loss = self._compiled(**batch).loss          # the model scores only labelled positions
        else:
            loss = mlm_loss(self.model, batch)           # mean over this process's labelled tokens
        world = self.trainer.world_size
        if world > 1:
            # Each process holds a share of the global batch. The global loss is the sum over all
            # its labelled tokens divided by their number; DDP averages the processes' gradients,
            # so each process scales its own sum by world / (labelled tokens of the global batch).
            mine = (batch["labels"] != -100).sum().float()
            total = self.trainer.strategy.reduce(mine.clone(), reduce_op="sum")
            loss = loss * mine * world / total
        self.log("train_loss", loss, prog_bar=True, sync_dist=world > 1)  # mean over processes
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
        # Every process evaluates all the validation batches: the numbers are the same on each.
        sync = self.trainer.world_size > 1
        self.log("val_loss", summary["loss"], prog_bar=True, sync_dist=sync)
        self.log("val_perplexity", summary["perplexity"], sync_dist=sync)
        self.log("val_accuracy", summary["accuracy"], prog_bar=True, sync_dist=sync)
        if "baseline_accuracy" in summary:
            self.log("val_baseline_accuracy", summary["baseline_accuracy"], sync_dist=sync)
        if self._train_started is not None:
            # Wall time since training began in this session (validation included, data
            # preparation not): what a loss-against-time plot of several runs needs.
            self.log("train_seconds", time.perf_counter() - self._train_started, sync_dist=sync)

    def configure_optimizers(self):
        hp = self.hparams
        optimizer = make_optimizer(self.model, hp.learning_rate, hp.weight_decay, hp.betas, hp.eps)
        scheduler = make_scheduler(optimizer, hp.schedule, hp.warmup_steps, hp.total_steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

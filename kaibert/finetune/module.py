"""Fine-tuning as a PyTorch Lightning module, and the callback that validates and keeps the best model.

``FinetuneModule`` is a ``kaibert.run.RunModule`` (the random state goes into every checkpoint);
it supplies the step, the optimizer and the schedule. ``ValidateAndKeepBest`` scores the model
with its task's ``evaluate`` every few steps and keeps the best checkpoint.
"""

from __future__ import annotations

import math
from pathlib import Path

from kaibert.run.module import RunModule  # first: it says how to install Lightning if it is missing

import pytorch_lightning as pl  # noqa: E402
from kaibert.schedules import make_scheduler
from kaibert.train.loop import make_optimizer


class FinetuneModule(RunModule):
    """A model with a task head, AdamW and a warm-up/decay schedule.

    Logged steps count finished optimizer steps (1 after the first), read from the trainer's
    global step, which a resumed run restores exactly.
    """

    def __init__(self, model, learning_rate: float, weight_decay: float, schedule: str,
                 warmup_steps: int, total_steps: int, log_every_steps: int = 10):
        super().__init__()
        self.model = model
        self.learning_rate, self.weight_decay, self.schedule = learning_rate, weight_decay, schedule
        self.warmup_steps, self.total_steps, self.log_every_steps = warmup_steps, total_steps, log_every_steps

    def training_step(self, batch, batch_idx):
        loss = self.model(**batch).loss
        self.log("train_loss", loss, prog_bar=True, logger=False)
        done = self.trainer.global_step + 1
        if self.logger is not None and (done % self.log_every_steps == 0 or done == self.total_steps):
            lr = self.optimizers().param_groups[0]["lr"]
            self.logger.log_metrics({"train_loss": loss.item(), "lr": lr}, step=done)
        return loss

    def configure_optimizers(self):
        optimizer = make_optimizer(self.model, self.learning_rate, self.weight_decay)
        scheduler = make_scheduler(optimizer, self.schedule, self.warmup_steps, self.total_steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


class ValidateAndKeepBest(pl.Callback):
    """Every ``every`` finished steps: validate, log, keep the best model and the last.

    Counted in optimizer steps (the global step), so a resumed run validates at the same steps
    as an uninterrupted one and keeps the same best model. ``task`` is a ``kaibert.finetune.task.Task``.
    """

    def __init__(self, task, val_loader, num_labels: int, every: int, total_steps: int, ckpt_dir: Path):
        self.task, self.val_loader, self.num_labels = task, val_loader, num_labels
        self.every, self.total_steps, self.ckpt_dir = every, total_steps, Path(ckpt_dir)
        self.best_score, self.best_step = -math.inf, None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        step = trainer.global_step
        if step % self.every and step != self.total_steps:
            return
        task = self.task
        scores = task.evaluate(pl_module.model, self.val_loader, self.num_labels)
        trainer.logger.log_metrics({f"val_{k}": scores[k] for k in task.logged}, step=step)
        pl_module.log(f"val_{task.metric}", scores[task.metric], prog_bar=True, logger=False)
        if scores[task.metric] > self.best_score:
            self.best_score, self.best_step = scores[task.metric], step
            trainer.save_checkpoint(self.ckpt_dir / "best.ckpt", weights_only=False)
        trainer.save_checkpoint(self.ckpt_dir / "last.ckpt", weights_only=False)

    def state_dict(self):
        return {"best_score": self.best_score, "best_step": self.best_step}

    def load_state_dict(self, state):
        # checkpoints written before tasks had their own metric called it best_accuracy
        self.best_score = state.get("best_score", state.get("best_accuracy"))
        self.best_step = state["best_step"]

"""The LightningModule every run's module stands on: the random state saved with each checkpoint.

A run that resumes must draw the same dropout masks as the run that never stopped, so the
random state is part of the run's state, like the weights: the CPU generator's and, when there
are GPUs, each GPU's. ``MLMModule`` (training) and ``FinetuneModule`` (fine-tuning) subclass it.
"""

from __future__ import annotations

import torch

try:
    import pytorch_lightning as pl
except ImportError as err:  # pragma: no cover - depends on the install
    raise ImportError("training and fine-tuning with Lightning need `pip install pytorch-lightning` "
                      "(or `pip install kaibert[train]`)") from err


def rng_state() -> dict:
    """The random state dropout draws from: the CPU generator's, and each GPU's when there are any."""
    return {"cpu": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(state) -> None:
    """Restore what ``rng_state`` returned (or an older checkpoint's CPU state alone)."""
    if isinstance(state, dict):
        torch.set_rng_state(state["cpu"])
        if state.get("cuda") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
    elif state is not None:
        torch.set_rng_state(state)


class RunModule(pl.LightningModule):
    """A LightningModule whose checkpoints hold the random state as it was after the last step."""

    def on_train_batch_start(self, batch, batch_idx):
        self._rng_before_step = (self.trainer.global_step, rng_state())

    def on_save_checkpoint(self, checkpoint):
        # Saved inside a step (a run interrupted there): the state from before the step began.
        started = getattr(self, "_rng_before_step", None)
        inside_a_step = started is not None and started[0] == self.trainer.global_step
        checkpoint["torch_rng_state"] = started[1] if inside_a_step else rng_state()

    def on_load_checkpoint(self, checkpoint):
        set_rng_state(checkpoint.get("torch_rng_state"))

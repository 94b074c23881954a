"""The Lightning callbacks every run uses: follow the step, stop on SIGTERM, save what a stop leaves.

Each is a small class with one job, written against Lightning's public ``Callback`` hooks.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytorch_lightning as pl
import torch

from kaibert.run.trainer import save_model_folder


class FollowTheStep(pl.Callback):
    """Each process takes its share of the global batch, from the step the run is at."""

    def __init__(self, loader):
        self.loader = loader

    def on_train_start(self, trainer, pl_module):
        self.loader.set_share(trainer.global_rank, trainer.world_size)
        self.loader.start = trainer.global_step                  # restored when resuming


class StopOnSigterm(pl.Callback):
    """On SIGTERM, finish the step, then stop every process after the same step.

    The handler only notes the signal. After each step the processes agree (one all-reduce)
    whether any of them got it; if one did, all of them set ``trainer.should_stop``, Lightning's
    way for a callback to end training (early stopping uses it too). Lightning then writes the
    step's logs, validates once more, and returns from ``fit``; ``kaibert.run.fit`` sees
    ``stopped_after`` and saves ``interrupted.ckpt``. (Lightning's own handler talks to the other
    processes from inside the signal handler, which can deadlock when the signal arrives during
    another collective call.)
    """

    def __init__(self):
        self.signalled = False          # this process got SIGTERM
        self.stopped_after = None       # the step after which the processes agreed to stop

    def on_train_start(self, trainer, pl_module):
        signal.signal(signal.SIGTERM, self._note)      # replaces Lightning's for this fit

    def _note(self, signum, frame):
        self.signalled = True

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        stop = torch.tensor(float(self.signalled))
        if trainer.world_size > 1:
            stop = trainer.strategy.reduce(stop.to(pl_module.device), reduce_op="sum")
        if stop.item() > 0:
            self.stopped_after = trainer.global_step
            trainer.should_stop = True


class SaveOnInterrupt(pl.Callback):
    """A run stopped by an exception or a signal leaves ``interrupted.ckpt`` to resume from.

    (Lightning's OnExceptionCheckpoint does the same, but also makes every fresh ``fit`` look
    for a checkpoint to load, with a misleading warning when there is none.)
    """

    def __init__(self, checkpoint_dir: Path):
        self.path = Path(checkpoint_dir) / "interrupted.ckpt"

    def on_exception(self, trainer, pl_module, exception):
        trainer.save_checkpoint(self.path, weights_only=False)


class SaveModelFolder(pl.Callback):
    """Beside every Lightning checkpoint, the model in Hugging Face format (process 0 only)."""

    def __init__(self, vocabulary: Path, folder: Path):
        self.vocabulary, self.folder = Path(vocabulary), Path(folder)

    def on_save_checkpoint(self, trainer, pl_module, checkpoint):
        if trainer.is_global_zero:
            save_model_folder(pl_module.model, self.vocabulary, self.folder)

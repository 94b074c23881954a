"""One Trainer for every run: the output folder, the Trainer's construction, ``fit`` and its stops.

A run (training in ``kaibert.train``, fine-tuning in ``kaibert.finetune``) brings its
LightningModule, its loaders and its own callbacks; this module does the rest the same way for
both: refuse to start over another run, find the checkpoint to resume from, build the Trainer
(precision, devices, logs, progress bar, the callbacks of ``kaibert.run.callbacks``), and turn a
stop (SIGTERM, Ctrl-C, an exception) into ``interrupted.ckpt`` and ``RunInterrupted``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import shutil
import warnings
from pathlib import Path


class RunFinished(Exception):
    """``--resume`` on a run that already did all its steps: nothing to do."""


class RunInterrupted(Exception):
    """The run was stopped (SIGTERM, Ctrl-C) after ``step`` steps; ``interrupted.ckpt`` holds it."""

    def __init__(self, step: int, checkpoint: Path, signal_name: str):
        super().__init__(f"stopped by {signal_name} after step {step}")
        self.step, self.checkpoint, self.signal_name = step, checkpoint, signal_name


# --- the output folder ---------------------------------------------------------------------------


def finished_steps(out: Path) -> int | None:
    """The steps a run's ``results.json`` records, or None if the run never finished."""
    path = Path(out) / "results.json"
    if not path.is_file():
        return None
    try:
        return int(json.loads(path.read_text())["steps"])
    except (ValueError, KeyError, TypeError):
        return None


def newest_checkpoint(output_dir: str | Path) -> Path:
    """The most recently written ``.ckpt`` of a run (``last.ckpt`` or ``interrupted.ckpt``)."""
    folder = Path(output_dir) / "checkpoints"
    found = sorted(folder.glob("*.ckpt"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    if not found:
        raise FileNotFoundError(f"no checkpoint to resume from in {folder}; start the run "
                                "without --resume")
    return found[-1]


def checkpoint_to_resume(out: Path, resume: str | bool | None, max_steps: int | None = None,
                         steps_key: str = "max_steps", writer: bool = True,
                         finished_hint: str = "") -> Path | None:
    """The checkpoint a run starts from: None for a fresh run, else the one ``resume`` names.

    ``resume``: None for a fresh run (refused if ``out`` already holds a run), True for the newest
    checkpoint in ``out``, or the path of a ``.ckpt`` file. ``--resume`` on a run whose
    ``results.json`` records ``max_steps`` steps raises ``RunFinished`` (``steps_key`` names that
    key in the message; ``finished_hint`` says how to go on). Only the process that writes
    (``writer``) refuses an occupied folder: the others see the folder it is filling.
    """
    out = Path(out)
    if not resume:
        ckpt_dir = out / "checkpoints"
        if writer and ckpt_dir.is_dir() and any(ckpt_dir.glob("*.ckpt")):
            raise FileExistsError(f"{out} already holds a run; continue it with --resume, or choose "
                                  "another output_dir (or delete that folder) to start afresh")
        return None
    done = finished_steps(out)
    if resume is True and max_steps is not None and done is not None and done >= max_steps:
        raise RunFinished(f"the run in {out} is finished ({done} of {steps_key} = {max_steps} steps; "
                          f"its results are in {out / 'results.json'}). Nothing to resume."
                          f"{finished_hint}")
    path = newest_checkpoint(out) if resume is True else Path(resume)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    return path


def save_model_folder(model, vocabulary: Path, folder: Path) -> None:
    """The model in Hugging Face format, with the vocabulary it reads, ready for ``from_pretrained``.

    ``vocabulary`` is a folder with ``vocab.txt`` (and ``tokenizer_config.json`` if it has one;
    otherwise one is written).
    """
    vocabulary, folder = Path(vocabulary), Path(folder)
    model.save_pretrained(folder)
    for name in ("vocab.txt", "tokenizer_config.json"):
        if (vocabulary / name).is_file():
            shutil.copy(vocabulary / name, folder / name)
    if not (folder / "tokenizer_config.json").is_file():
        from kaibert.data import save_tokenizer_config

        save_tokenizer_config(folder, model.config.max_position_embeddings)


def read_metrics(output_dir: str | Path):
    """All logged metrics of a run as a pandas DataFrame, one row per logged step.

    A resumed run writes a new ``logs/version_N``; rows of later versions replace those of
    earlier ones at the same step, so the frame tells the story of one uninterrupted run.
    """
    import pandas as pd

    files = sorted(Path(output_dir).glob("logs/version_*/metrics.csv"),
                   key=lambda p: int(p.parent.name.split("_")[-1]))
    if not files:
        raise FileNotFoundError(f"no logs/version_*/metrics.csv under {output_dir}")
    frames = []
    for order, path in enumerate(files):
        frame = pd.read_csv(path)
        frame["version"] = order
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    # rows logged after the step a resumed run restarted from are superseded by the new version
    keep = []
    for order, part in frame.groupby("version"):
        later = frame[frame["version"] > order]
        restart = later["step"].min() if len(later) else math.inf
        keep.append(part[part["step"] < restart])
    return pd.concat(keep, ignore_index=True).drop(columns="version")


# --- Lightning's notices -------------------------------------------------------------------------

# Lightning's notices that say nothing about this run, or mislead about it: silenced one by one.
_QUIET_WARNINGS = (
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",        # torch/Lightning versions, not ours
    r"Checkpoint directory .* exists and is not empty",           # on --resume, by design
)
_QUIET_LOGS = ("💡 Tip: For seamless cloud logging",)          # an advertisement for a logger


class _DropMessages(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).lstrip().startswith(_QUIET_LOGS)


@contextlib.contextmanager
def quiet_lightning():
    """Silence exactly the notices in ``_QUIET_WARNINGS`` and ``_QUIET_LOGS``, nothing else."""
    log = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    quiet = _DropMessages()
    log.addFilter(quiet)
    try:
        with warnings.catch_warnings():
            for message in _QUIET_WARNINGS:
                warnings.filterwarnings("ignore", message=message)
            yield
    finally:
        log.removeFilter(quiet)


# --- the Trainer ---------------------------------------------------------------------------------


def fit(module, train_loader, out: Path, *, max_steps: int, val_loader=None,
        ckpt_path: Path | None = None, callbacks: list | None = None,
        model_folder_vocabulary: Path | None = None, precision: str = "auto",
        accelerator: str = "auto", devices=1, num_nodes: int = 1, strategy: str = "auto",
        max_grad_norm: float | None = None, log_every_steps: int = 10, progress_bar: bool = True,
        **trainer_options):
    """Train ``module`` for ``max_steps`` steps on ``train_loader`` (a ``StepBatches``); return the Trainer.

    Logs go to ``out/logs`` (CSV), ``interrupted.ckpt`` to ``out/checkpoints`` when the run is
    stopped; with ``model_folder_vocabulary``, every checkpoint also rewrites ``out/model``.
    ``trainer_options`` go to ``pl.Trainer`` as they are (validation interval, max_time, ...).
    Raises ``RunInterrupted`` after SIGTERM or Ctrl-C; any other exception passes through. Each
    leaves ``interrupted.ckpt`` to resume from.
    """
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import TQDMProgressBar
    from pytorch_lightning.loggers import CSVLogger

    from kaibert.run.callbacks import FollowTheStep, SaveModelFolder, SaveOnInterrupt, StopOnSigterm
    from kaibert.run.devices import pick_precision

    out = Path(out)
    ckpt_dir = out / "checkpoints"
    sigterm = StopOnSigterm()
    every = [FollowTheStep(train_loader), sigterm, SaveOnInterrupt(ckpt_dir)]
    if model_folder_vocabulary is not None:
        every.append(SaveModelFolder(model_folder_vocabulary, out / "model"))
    if progress_bar:
        every.append(TQDMProgressBar(refresh_rate=log_every_steps))
    options = dict(num_sanity_val_steps=0, enable_model_summary=progress_bar, deterministic=True)
    options.update(trainer_options)
    with quiet_lightning():
        trainer = pl.Trainer(
            max_steps=max_steps, max_epochs=-1, accelerator=accelerator, devices=devices,
            num_nodes=num_nodes, strategy=strategy, precision=pick_precision(precision),
            gradient_clip_val=max_grad_norm, gradient_clip_algorithm="norm",
            log_every_n_steps=log_every_steps,
            logger=CSVLogger(save_dir=str(out), name="logs", flush_logs_every_n_steps=log_every_steps),
            callbacks=every + (callbacks or []), enable_progress_bar=progress_bar, **options,
        )
        try:
            trainer.fit(module, train_dataloaders=train_loader, val_dataloaders=val_loader,
                        ckpt_path=str(ckpt_path) if ckpt_path else None)
        except (SystemExit, KeyboardInterrupt):
            # Ctrl-C makes Lightning save interrupted.ckpt (SaveOnInterrupt) and exit. Say so
            # instead of exiting as if the run had finished.
            raise RunInterrupted(trainer.global_step, ckpt_dir / "interrupted.ckpt",
                                 "an interrupt") from None
    if sigterm.stopped_after is not None and trainer.global_step < max_steps:
        # SIGTERM: every process stopped after the same step; all take part in saving.
        trainer.save_checkpoint(ckpt_dir / "interrupted.ckpt", weights_only=False)
        raise RunInterrupted(trainer.global_step, ckpt_dir / "interrupted.ckpt", "SIGTERM")
    return trainer

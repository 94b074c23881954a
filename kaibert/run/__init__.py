"""The run layer that training (``kaibert.train``) and fine-tuning (``kaibert.finetune``) stand on.

- ``config``: configs as dataclasses read from YAML, checked once, one help line per key;
- ``devices``: precision, accelerator and processes, checked and turned into Lightning's arguments;
- ``batches``: ``StepBatches``, whose batch of step ``s`` is a function of ``(seed, s)``;
- ``module``: ``RunModule``, the LightningModule base that saves the random state (CPU and GPU);
- ``callbacks``: follow the step, stop on SIGTERM, save ``interrupted.ckpt`` and ``model/``;
- ``trainer``: the output folder (refuse to overwrite, resume), the Trainer, ``fit`` and its stops;
- ``cli``: the command line and its exit codes; ``reference``: the README's table of every key.

A run brings its LightningModule (a ``RunModule``), its data (a ``StepBatches``) and its metrics.
The Lightning parts are imported on first use, so that reading a config needs no Lightning.
"""

from kaibert.run.batches import FixedBatches, StepBatches
from kaibert.run.config import (ConfigError, Section, config_from_dict, is_int, is_number, key,
                                load_config, require)
from kaibert.run.devices import pick_precision, process_rank, uses_gpu
from kaibert.run.trainer import (RunFinished, RunInterrupted, checkpoint_to_resume, fit,
                                 newest_checkpoint, read_metrics, save_model_folder)

__all__ = [
    "ConfigError", "FixedBatches", "RunFinished", "RunInterrupted", "RunModule", "Section",
    "StepBatches", "checkpoint_to_resume", "config_from_dict", "fit", "is_int", "is_number", "key",
    "load_config", "newest_checkpoint", "pick_precision", "process_rank", "read_metrics", "require",
    "save_model_folder", "uses_gpu",
]


def __getattr__(name: str):
    if name == "RunModule":
        from kaibert.run.module import RunModule

        return RunModule
    raise AttributeError(f"module 'kaibert.run' has no attribute {name!r}")

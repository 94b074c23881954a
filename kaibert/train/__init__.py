"""Training BERT with masked-language modelling: one home for everything chapter 09 uses.

- ``batches``: masked batches, each a function of the seed and the step;
- ``loop``: the plain PyTorch loop (forward, backward, clip, step) and evaluation;
- ``module``: the same step as a PyTorch Lightning module (``MLMModule``);
- ``architectures``: the models a config can name in ``model.architecture`` (``bert``, ...);
- ``config``: the YAML training config, checked key by key;
- ``command``: ``run(config)`` and ``python -m kaibert.train --config C`` (``kaibert-train``).

What every run shares with fine-tuning (reading configs, the Trainer, checkpoints, stopping and
resuming, model folders) is the run layer, ``kaibert.run``.

Everything is importable from here: ``from kaibert.train import MaskedBatches, evaluate, run``.
``MLMModule`` is imported on first use, so that the plain loop does not need Lightning.
"""

from kaibert.run import newest_checkpoint, process_rank, read_metrics, save_model_folder
from kaibert.train.batches import FixedBatches, MaskedBatches, eval_batches, make_collator, special_token_ids
from kaibert.train.command import main, run
from kaibert.train.config import (ConfigError, DataConfig, RunConfig, TrainingConfig, config_from_dict,
                                  load_config, model_config_dict)
from kaibert.train.loop import (autocast, autocast_dtype, evaluate, make_optimizer, make_scaler,
                                masked_lm_counts, mlm_loss, pick_device, shuffle_context,
                                summarize_counts, train_loop, training_step, word_order_gap)

__all__ = [
    "autocast", "autocast_dtype", "make_scaler", "pick_device", "process_rank",
    "ConfigError", "DataConfig", "FixedBatches", "MLMModule", "MaskedBatches", "RunConfig",
    "TrainingConfig", "config_from_dict", "eval_batches", "evaluate", "load_config", "main",
    "make_collator", "make_optimizer", "masked_lm_counts", "mlm_loss", "model_config_dict",
    "newest_checkpoint", "read_metrics", "run", "save_model_folder", "shuffle_context",
    "special_token_ids", "summarize_counts", "train_loop", "training_step", "word_order_gap",
]


def __getattr__(name: str):
    if name == "MLMModule":
        from kaibert.train.module import MLMModule

        return MLMModule
    raise AttributeError(f"module 'kaibert.train' has no attribute {name!r}")

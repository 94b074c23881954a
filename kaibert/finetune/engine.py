"""Fine-tune BERT on a task from a YAML config: ``python -m kaibert.finetune --config C``.

A config names the task, the starting checkpoint and the budget (``kaibert.finetune.config``,
see ``configs/finetune-genre.yaml``). What lands in ``output_dir``:

- ``checkpoints/``: ``best.ckpt`` (the best validation score so far) and ``last.ckpt``, for
  ``--resume``; ``interrupted.ckpt`` when the run was stopped;
- ``logs/version_N/metrics.csv``: train loss and learning rate every few steps, the validation
  scores at every validation;
- ``model/``: the best model in Hugging Face format, with its vocabulary and label names; a
  classifier loads with ``transformers.BertForSequenceClassification.from_pretrained``;
- ``results.json``: validation and test scores of the best model, with the task's baseline.

What differs from task to task is a ``Task`` (``kaibert.finetune.task``); what every run does
(the Trainer, checkpoints, stopping, resuming, random state, model folders) is the run layer's
(``kaibert.run``). The batch of step s is a function of (seed, s), and the random state of
dropout is saved with each checkpoint, so ``--resume`` ends exactly where an uninterrupted run
would have.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch

from kaibert import run as krun
from kaibert.finetune import tasks
from kaibert.finetune.config import FinetuneConfig, config_from_dict, load_config
from kaibert.finetune.metrics import confusion_matrix, evaluate, metrics_from_confusion
from kaibert.finetune.task import get_task
from kaibert.run import ConfigError, FixedBatches, StepBatches, read_metrics
from kaibert.run.cli import command

__all__ = ["FinetuneConfig", "ConfigError", "load_config", "config_from_dict", "run", "main",
           "resolve_model", "metrics_from_confusion", "confusion_matrix", "evaluate", "read_metrics",
           "TaskBatches", "fixed_batches", "freeze"]


def _minilm() -> Path:
    from kaibert.course.paths import minilm_path

    return minilm_path()  # always the offline MiniLM, also where the chapters read bert-base-uncased


SHORT_NAMES = {"shakespeare-mini": lambda: tasks.SHIPPED_VOCAB, "minilm": _minilm}


def hub_folder(name: str) -> Path:
    """Download a hub model's config, vocabulary and weights (online, e.g. in Colab); return their folder."""
    from kaibert.hub import resolve_file

    config = resolve_file(name, "config.json")
    resolve_file(name, "vocab.txt")
    if resolve_file(name, "model.safetensors", required=False) is None:
        resolve_file(name, "pytorch_model.bin")
    return config.parent  # the hub cache keeps a model's files side by side


def resolve_model(name: str | Path) -> Path:
    """A model folder from a path, one of the short names (shakespeare-mini, minilm) or a hub name."""
    from kaibert.hub import is_hub_name

    if str(name) in SHORT_NAMES:
        folder = Path(SHORT_NAMES[str(name)]())
    elif not Path(name).exists() and is_hub_name(name):
        try:
            folder = hub_folder(str(name))  # e.g. bert-base-uncased
        except (OSError, ImportError) as error:
            raise ConfigError(f"'init_from' = {str(name)!r} is no local folder, and the hub did not give it "
                              f"({error}). Name a model folder (config.json, weights, vocab.txt), one of "
                              f"{sorted(SHORT_NAMES)}, or a hub model such as bert-base-uncased when online.") from error
    else:
        folder = Path(name)
    for needed in ("config.json", "vocab.txt"):
        if not (folder / needed).is_file():
            raise ConfigError(f"'init_from' = {str(name)!r}: {folder} has no {needed}. Name a model folder "
                              f"(config.json, weights, vocab.txt) or one of {sorted(SHORT_NAMES)}.")
    return folder


# --- batches ------------------------------------------------------------------------------------


class TaskBatches(StepBatches):
    """Training batches of a task: the examples of step s (fixed by seed and s), collated by the task."""

    def __init__(self, examples, batch_size: int, total_steps: int, seed: int = 0,
                 pad_token_id: int = 0, collate=tasks.pad_batch):
        super().__init__(examples, batch_size, total_steps, seed=seed)
        self.pad_token_id, self._collate = pad_token_id, collate

    def collate(self, rows: list, step: int) -> dict[str, torch.Tensor]:
        return self._collate(rows, self.pad_token_id)


def fixed_batches(examples, batch_size: int, pad_token_id: int = 0, collate=tasks.pad_batch) -> FixedBatches:
    """Held-out examples in order, collated batch by batch (one loader, iterated at every validation)."""
    rows = [examples[i] for i in range(len(examples))]
    return FixedBatches([collate(rows[i:i + batch_size], pad_token_id) for i in range(0, len(rows), batch_size)])


# --- the model ----------------------------------------------------------------------------------


def build_model(head, c: FinetuneConfig, folder: Path, names: list[str]):
    """The starting model: the checkpoint's encoder (or random weights of its shape) and a new head."""
    from kaibert.config import BertConfig

    labels = {"id2label": dict(enumerate(names)), "label2id": {n: i for i, n in enumerate(names)}}
    if c.classifier_dropout is not None:
        labels["classifier_dropout"] = c.classifier_dropout
    if c.from_scratch:
        data = json.loads((folder / "config.json").read_text())
        data.pop("num_labels", None)
        return head(BertConfig.from_dict({**data, **labels}))
    return head.from_pretrained(folder, num_labels=len(names), **labels).train()


def freeze(model, embeddings: bool = False, layers: int = 0) -> int:
    """Stop gradients to the embeddings and the first `layers` encoder layers; return frozen parameters."""
    if layers > len(model.bert.layers):
        raise ConfigError(f"'freeze_layers' = {layers} is impossible: the model has only "
                          f"{len(model.bert.layers)} encoder layers")
    parts = ([model.bert.embeddings] if embeddings or layers else []) + list(model.bert.layers[:layers])
    frozen = 0
    for part in parts:
        for p in part.parameters():
            p.requires_grad_(False)
            frozen += p.numel()
    return frozen


def make_module(model, learning_rate: float, weight_decay: float, schedule: str, warmup_steps: int,
                total_steps: int, log_every_steps: int = 10):
    """The model with its optimizer and schedule as a LightningModule (``FinetuneModule``)."""
    from kaibert.finetune.module import FinetuneModule

    return FinetuneModule(model, learning_rate, weight_decay, schedule, warmup_steps, total_steps,
                          log_every_steps)


# --- the run -------------------------------------------------------------------------------------


def _sample(data, n: int | None, seed: int):
    return data if n is None or n >= len(data) else data.shuffle(seed=seed).select(range(n))


def run(c: FinetuneConfig, resume: str | bool | None = None, callbacks: list | None = None) -> dict:
    """Fine-tune as the config says; return the results (also written to results.json)."""
    import pytorch_lightning as pl

    from kaibert.finetune.module import ValidateAndKeepBest

    c.check()
    task = get_task(c.task)
    out = Path(c.output_dir)
    ckpt_dir = out / "checkpoints"
    ckpt_path = krun.checkpoint_to_resume(out, resume)
    folder = resolve_model(c.init_from)
    if c.num_threads is not None:
        torch.set_num_threads(c.num_threads)
    started = time.time()

    splits = task.load(c.corpus_dir)  # the same examples for every run
    names = task.labels(splits)
    splits["validation"] = _sample(splits["validation"], c.val_examples, 0)  # same for every run
    splits["test"] = _sample(splits["test"], c.test_examples, 0)
    baselines = task.baselines(splits)  # of all training examples
    splits["train"] = _sample(splits["train"], c.train_examples, c.seed)
    model_config = json.loads((folder / "config.json").read_text())
    if c.max_length > model_config["max_position_embeddings"]:
        raise ConfigError(f"'max_length' = {c.max_length} is impossible: {folder.name} reads at most "
                          f"{model_config['max_position_embeddings']} tokens (max_position_embeddings)")
    encoded = task.encode(splits, tasks.fast_tokenizer(folder, c.max_length))
    pad_id = model_config.get("pad_token_id", 0)

    steps_per_epoch = max(1, len(encoded["train"]) // c.batch_size)
    total_steps = c.max_steps or max(1, math.ceil(c.epochs * steps_per_epoch))
    warmup_steps = int(c.warmup_fraction * total_steps)

    pl.seed_everything(c.seed, workers=True, verbose=False)
    model = build_model(task.head(), c, folder, names)
    frozen = freeze(model, c.freeze_embeddings, c.freeze_layers)
    module = make_module(model, c.learning_rate, c.weight_decay, c.schedule, warmup_steps, total_steps,
                         c.log_every_steps)

    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(c.to_dict(), indent=2) + "\n")
    train_loader = TaskBatches(encoded["train"], c.batch_size, total_steps, c.seed, pad_id, task.collate)
    val_loader = fixed_batches(encoded["validation"], c.batch_size, pad_id, task.collate)
    keeper = ValidateAndKeepBest(task, val_loader, len(names), c.val_every_steps, total_steps, ckpt_dir)
    trainer = krun.fit(
        module, train_loader, out, max_steps=total_steps, ckpt_path=ckpt_path,
        callbacks=[keeper] + (callbacks or []), precision=c.precision, accelerator=c.accelerator,
        max_grad_norm=c.max_grad_norm, log_every_steps=c.log_every_steps, progress_bar=c.progress_bar,
        limit_val_batches=0, enable_checkpointing=False, enable_model_summary=False,
    )

    # The best validation score, not the last step, is the model that is kept and tested.
    best_path = ckpt_dir / "best.ckpt"
    if best_path.is_file():
        module.load_state_dict(torch.load(best_path, map_location="cpu", weights_only=False)["state_dict"])
    final = module.model.float().cpu().eval()
    krun.save_model_folder(final, folder, out / "model")
    test_loader = fixed_batches(encoded["test"], c.batch_size, pad_id, task.collate)
    results = {
        "task": c.task, "init_from": str(c.init_from), "from_scratch": c.from_scratch,
        "labels": names, "train_examples": len(encoded["train"]), "steps": trainer.global_step,
        "best_step": keeper.best_step,
        "frozen_parameters": frozen,
        "seconds_this_session": round(time.time() - started, 1),
        **baselines,
        "validation": task.evaluate(final, val_loader, len(names)),
        "test": task.evaluate(final, test_loader, len(names)),
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def report(results: dict) -> str:
    """The line ``kaibert-finetune`` prints: the task's own summary of its results."""
    return get_task(results["task"]).report(results)


def main(argv: list[str] | None = None) -> None:
    """``kaibert-finetune --config C [--resume [CKPT]] [--output-dir D]``."""
    command(argv, prog="kaibert-finetune", module="kaibert.finetune",
            description="Fine-tune BERT on a task from a YAML config.",
            example="configs/finetune-genre.yaml", load=load_config, run=run, report=report)

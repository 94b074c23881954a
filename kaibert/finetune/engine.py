"""Fine-tune BERT on a classification task from a YAML config: ``python -m kaibert.finetune --config C``.

A config names the task, the starting checkpoint and the budget (see ``configs/finetune-genre.yaml``)::

    task: genre                    # genre | next_line (kaibert.finetune.tasks)
    init_from: minilm              # a model folder, or shakespeare-mini / minilm
    from_scratch: false            # true: that model's shape and vocabulary, random weights
    learning_rate: 5.0e-5
    epochs: 3                      # or max_steps
    freeze_layers: 0               # freeze the embeddings and the first N encoder layers

What lands in ``output_dir``:

- ``checkpoints/``: ``best.ckpt`` (the best validation accuracy so far) and ``last.ckpt``, for
  ``--resume``;
- ``logs/version_N/metrics.csv``: train loss and learning rate every few steps, validation loss,
  accuracy and macro-F1 at every validation;
- ``model/``: the best model in Hugging Face format, with its vocabulary and label names; it loads
  with ``transformers.BertForSequenceClassification.from_pretrained``;
- ``results.json``: validation and test accuracy, macro-F1 and the confusion matrix of the best
  model, with the majority-class baseline beside them.

The batch of step s is a function of (seed, s), and the random state of dropout is saved with
each checkpoint, so ``--resume`` ends exactly where an uninterrupted run would have.
"""

from __future__ import annotations

import difflib
import json
import math
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from kaibert.config import BertConfig
from kaibert.finetune import tasks
from kaibert.heads import BertForSequenceClassification
from kaibert.schedules import SCHEDULES, make_scheduler
from kaibert.train import ConfigError, FixedBatches, make_optimizer, newest_checkpoint, read_metrics
from kaibert.train.command import run_parser

__all__ = ["FinetuneConfig", "ConfigError", "load_config", "config_from_dict", "run", "main",
           "resolve_model", "metrics_from_confusion", "read_metrics", "StepBatches", "freeze"]


def _key(default, meaning: str):
    return field(default=default, metadata={"help": meaning})


@dataclass
class FinetuneConfig:
    seed: int = _key(0, "seeds the new head, the order of the examples and dropout")
    output_dir: str = _key("runs/finetune", "where the run writes everything (must not hold another run)")
    task: str = _key("genre", "`genre` (comedy / history / tragedy) or `next_line` (is B the next line?)")
    init_from: str = _key("shakespeare-mini", "the starting model: a folder with config.json, "
                          "weights and vocab.txt, or `shakespeare-mini` (shipped) or `minilm`")
    from_scratch: bool = _key(False, "keep that model's shape and vocabulary but start from random weights")
    corpus_dir: str | None = _key(None, "another folder of Shakespeare text files; `null`: the shipped corpus")
    max_length: int = _key(128, "tokens per example, [CLS] and [SEP] included; longer ones are cut")
    batch_size: int = _key(32, "examples per optimizer step")
    train_examples: int | None = _key(None, "fine-tune on a seeded sample of N training examples; `null`: all")
    val_examples: int | None = _key(1000, "validate on the same N validation examples every time; `null`: all")
    test_examples: int | None = _key(None, "score the best model on N test examples; `null`: all")
    epochs: float | None = _key(3, "passes over the training examples (ignored when max_steps is set)")
    max_steps: int | None = _key(None, "optimizer steps; the schedule decays to zero at the last")
    learning_rate: float = _key(5e-5, "peak AdamW learning rate, reached after the warm-up")
    weight_decay: float = _key(0.01, "AdamW weight decay on matrices (none on biases and LayerNorms)")
    schedule: str = _key("linear", "decay after the warm-up, one of kaibert.schedules.SCHEDULES")
    warmup_fraction: float = _key(0.1, "share of the steps spent warming up from 0 (BERT: 0.1)")
    max_grad_norm: float | None = _key(1.0, "clip the gradient's norm to this; `null`: no clipping")
    freeze_embeddings: bool = _key(False, "keep the embeddings fixed")
    freeze_layers: int = _key(0, "keep the embeddings and the first N encoder layers fixed")
    classifier_dropout: float | None = _key(None, "dropout before the classifier; `null`: the model's hidden dropout")
    val_every_steps: int = _key(50, "validate (and keep the model if it is the best so far) every N steps")
    log_every_steps: int = _key(10, "log the training loss and learning rate every N steps")
    num_threads: int | None = _key(None, "torch CPU threads; `null` leaves PyTorch's default")
    progress_bar: bool = _key(True, "show Lightning's progress bar")

    def to_dict(self) -> dict:
        return asdict(self)


SHORT_NAMES = {"shakespeare-mini": lambda: tasks.SHIPPED_VOCAB,
               "minilm": lambda: __import__("kaibert.course", fromlist=["x"]).pretrained_bert_path()}


def resolve_model(name: str | Path) -> Path:
    """A model folder from a path or one of the short names (shakespeare-mini, minilm)."""
    folder = Path(SHORT_NAMES[str(name)]()) if str(name) in SHORT_NAMES else Path(name)
    for needed in ("config.json", "vocab.txt"):
        if not (folder / needed).is_file():
            raise ConfigError(f"'init_from' = {str(name)!r}: {folder} has no {needed}. Name a model folder "
                              f"(config.json, weights, vocab.txt) or one of {sorted(SHORT_NAMES)}.")
    return folder


def _check(condition: bool, key: str, value: Any, what: str) -> None:
    if not condition:
        raise ConfigError(f"{key!r} = {value!r} is impossible: {what}")


def validate(c: FinetuneConfig) -> FinetuneConfig:
    """Check every value once, before any work, with a message that names the key."""
    _check(c.task in tasks.TASKS, "task", c.task, f"choose one of {tasks.TASKS}")
    _check(isinstance(c.batch_size, int) and c.batch_size >= 1, "batch_size", c.batch_size, "a positive integer")
    _check(isinstance(c.max_length, int) and c.max_length >= 8, "max_length", c.max_length, "an integer >= 8")
    for key in ("train_examples", "val_examples", "test_examples", "max_steps"):
        value = getattr(c, key)
        _check(value is None or (isinstance(value, int) and value >= 1), key, value, "a positive integer or null")
    _check(c.max_steps is not None or (c.epochs is not None and c.epochs > 0), "epochs", c.epochs,
           "give a positive number of epochs, or max_steps")
    _check(c.learning_rate > 0, "learning_rate", c.learning_rate, "it must be positive")
    _check(0 <= c.warmup_fraction < 1, "warmup_fraction", c.warmup_fraction, "a share in [0, 1)")
    _check(c.schedule in SCHEDULES, "schedule", c.schedule, f"choose one of {sorted(SCHEDULES)}")
    _check(isinstance(c.freeze_layers, int) and c.freeze_layers >= 0, "freeze_layers", c.freeze_layers,
           "a number of layers >= 0")
    for key in ("val_every_steps", "log_every_steps"):
        _check(isinstance(getattr(c, key), int) and getattr(c, key) >= 1, key, getattr(c, key), "a positive integer")
    return c


def config_from_dict(values: dict) -> FinetuneConfig:
    known = {f.name: f for f in fields(FinetuneConfig)}
    for key in values:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else f" Known keys: {', '.join(known)}."
            raise ConfigError(f"unknown config key {key!r}.{hint}")
    floats = {"epochs", "learning_rate", "weight_decay", "warmup_fraction", "max_grad_norm", "classifier_dropout"}
    clean = {}
    for key, value in values.items():
        if key in floats and isinstance(value, str):  # YAML reads 5e-5 as a string
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{key!r} = {value!r} is impossible: it must be a number") from None
        clean[key] = value
    return validate(FinetuneConfig(**clean))


def load_config(path: str | Path) -> FinetuneConfig:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no config file at {path}")
    return config_from_dict(yaml.safe_load(path.read_text()) or {})


# --- batches that are a function of the step ----------------------------------------------------


class StepBatches:
    """Padded training batches for steps ``start .. total_steps - 1``; batch s is fixed by (seed, s).

    Pass p over the examples uses ``randperm`` seeded with ``seed + p``. ``start`` may be a callable
    read when iteration begins (Lightning's restored global step), so a resumed run picks up with the
    batch it would have seen next.
    """

    def __init__(self, examples, batch_size: int, total_steps: int, seed: int = 0,
                 start: int | Callable[[], int] = 0, pad_token_id: int = 0):
        if len(examples) < batch_size:
            raise ValueError(f"{len(examples)} training examples cannot fill one batch of {batch_size}; "
                             "use a smaller batch_size or more examples")
        self.examples, self.batch_size, self.total_steps = examples, batch_size, total_steps
        self.seed, self.start, self.pad_token_id = seed, start, pad_token_id
        self.steps_per_pass = len(examples) // batch_size

    def __len__(self) -> int:
        return self.total_steps

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        data_pass, offset = divmod(step, self.steps_per_pass)
        order = torch.randperm(len(self.examples), generator=torch.Generator().manual_seed(self.seed + data_pass))
        rows = [self.examples[i] for i in order[offset * self.batch_size:(offset + 1) * self.batch_size].tolist()]
        return tasks.pad_batch(rows, self.pad_token_id)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        start = self.start() if callable(self.start) else self.start
        for step in range(start, self.total_steps):
            yield self.batch(step)

    def state_dict(self) -> dict:  # Lightning: resumable; the position comes from `start`
        return {"seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        if state.get("seed", self.seed) != self.seed:
            raise ValueError(f"checkpoint was trained with seed {state['seed']}, this run uses {self.seed}; "
                             "resume with the same config")


def fixed_batches(examples, batch_size: int, pad_token_id: int = 0) -> FixedBatches:
    """Held-out examples in order, padded batch by batch (one loader, iterated at every validation)."""
    rows = [examples[i] for i in range(len(examples))]
    return FixedBatches([tasks.pad_batch(rows[i:i + batch_size], pad_token_id)
                         for i in range(0, len(rows), batch_size)])


# --- metrics -------------------------------------------------------------------------------------


def confusion_matrix(predictions: torch.Tensor, labels: torch.Tensor, num_labels: int) -> torch.Tensor:
    """Row i, column j: how many examples of class i were predicted as class j."""
    index = labels.long() * num_labels + predictions.long()
    return torch.bincount(index, minlength=num_labels * num_labels).view(num_labels, num_labels)


def metrics_from_confusion(matrix: torch.Tensor) -> dict[str, float]:
    """Accuracy, and macro-F1: the F1 of every class, averaged with equal weight.

    Macro-F1 does not let a model score well by favouring the largest class: a class it never
    predicts has F1 = 0 and pulls the average down.
    """
    matrix = matrix.double()
    true_pos = matrix.diag()
    precision = true_pos / matrix.sum(0).clamp(min=1)  # of the predicted class j, how many were j
    recall = true_pos / matrix.sum(1).clamp(min=1)  # of the true class i, how many were found
    f1 = torch.where(precision + recall > 0, 2 * precision * recall / (precision + recall), torch.zeros_like(precision))
    return {"accuracy": (true_pos.sum() / matrix.sum().clamp(min=1)).item(), "macro_f1": f1.mean().item()}


@torch.no_grad()
def evaluate(model, batches, num_labels: int) -> dict:
    """Loss, accuracy, macro-F1 and the confusion matrix of a model on fixed batches."""
    was_training = model.training
    model.eval()
    total_loss, count = 0.0, 0
    matrix = torch.zeros(num_labels, num_labels, dtype=torch.long)
    for batch in batches:
        out = model(**batch)
        total_loss += out.loss.item() * len(batch["labels"])
        count += len(batch["labels"])
        matrix += confusion_matrix(out.logits.argmax(-1), batch["labels"], num_labels)
    model.train(was_training)
    return {"loss": total_loss / max(count, 1), **metrics_from_confusion(matrix),
            "confusion_matrix": matrix.tolist(), "examples": count}


def freeze(model: BertForSequenceClassification, embeddings: bool = False, layers: int = 0) -> int:
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


# --- the Lightning module -----------------------------------------------------------------------


def _lightning():
    try:
        import pytorch_lightning as pl
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError("fine-tuning with Lightning needs `pip install pytorch-lightning` "
                          "(or `pip install kaibert[train]`)") from err
    return pl


def make_module(model, learning_rate: float, weight_decay: float, schedule: str, warmup_steps: int,
                total_steps: int, log_every_steps: int = 10):
    """The classifier with its optimizer and schedule as a LightningModule.

    Logged steps count finished optimizer steps (1 after the first), read from the trainer's
    global step, which a resumed run restores exactly.
    """
    pl = _lightning()

    class ClassifierModule(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.model = model
            self._rng_before_step = None

        def training_step(self, batch, batch_idx):
            loss = self.model(**batch).loss
            self.log("train_loss", loss, prog_bar=True, logger=False)
            done = self.trainer.global_step + 1
            if self.logger is not None and (done % log_every_steps == 0 or done == total_steps):
                lr = self.optimizers().param_groups[0]["lr"]
                self.logger.log_metrics({"train_loss": loss.item(), "lr": lr}, step=done)
            return loss

        def configure_optimizers(self):
            optimizer = make_optimizer(self.model, learning_rate, weight_decay)
            scheduler = make_scheduler(optimizer, schedule, warmup_steps, total_steps)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

        # Dropout's random state belongs to the run: saved as it was before an unfinished step.
        def on_train_batch_start(self, batch, batch_idx):
            self._rng_before_step = (self.trainer.global_step, torch.get_rng_state())

        def on_save_checkpoint(self, checkpoint):
            started = self._rng_before_step
            same_step = started is not None and started[0] == self.trainer.global_step
            checkpoint["torch_rng_state"] = started[1] if same_step else torch.get_rng_state()

        def on_load_checkpoint(self, checkpoint):
            if "torch_rng_state" in checkpoint:
                torch.set_rng_state(checkpoint["torch_rng_state"])

    return ClassifierModule()


# --- the run -------------------------------------------------------------------------------------


def build_model(c: FinetuneConfig, folder: Path, names: list[str]) -> BertForSequenceClassification:
    """The starting model: the checkpoint's encoder (or random weights of its shape) and a new head."""
    labels = {"id2label": dict(enumerate(names)), "label2id": {n: i for i, n in enumerate(names)}}
    if c.classifier_dropout is not None:
        labels["classifier_dropout"] = c.classifier_dropout
    if c.from_scratch:
        data = json.loads((folder / "config.json").read_text())
        data.pop("num_labels", None)
        return BertForSequenceClassification(BertConfig.from_dict({**data, **labels}))
    return BertForSequenceClassification.from_pretrained(folder, num_labels=len(names), **labels).train()


def _sample(data, n: int | None, seed: int):
    return data if n is None or n >= len(data) else data.shuffle(seed=seed).select(range(n))


def save_model_folder(model, source: Path, folder: Path) -> None:
    """The model in Hugging Face format beside the vocabulary it reads."""
    model.save_pretrained(folder)
    for name in ("vocab.txt", "tokenizer_config.json"):
        if (source / name).is_file():
            shutil.copy(source / name, folder / name)
    if not (folder / "tokenizer_config.json").is_file():
        from kaibert.data import save_tokenizer_config

        save_tokenizer_config(folder, model.config.max_position_embeddings)


def run(c: FinetuneConfig, resume: str | bool | None = None, callbacks: list | None = None) -> dict:
    """Fine-tune as the config says; return the results (also written to results.json)."""
    pl = _lightning()
    from pytorch_lightning.callbacks import TQDMProgressBar
    from pytorch_lightning.loggers import CSVLogger

    from kaibert.train.command import _precision, _quiet_lightning

    validate(c)
    out = Path(c.output_dir)
    ckpt_dir = out / "checkpoints"
    ckpt_path = None
    if resume:
        ckpt_path = newest_checkpoint(out) if resume is True else Path(resume)
    elif ckpt_dir.is_dir() and any(ckpt_dir.glob("*.ckpt")):
        raise FileExistsError(f"{out} already holds a run; continue it with --resume, or choose "
                              "another output_dir to start afresh")
    folder = resolve_model(c.init_from)
    if c.num_threads is not None:
        torch.set_num_threads(c.num_threads)
    started = time.time()

    splits = tasks.load_task(c.task, c.corpus_dir, seed=0)  # the same pairs for every run
    names = tasks.label_names(splits["train"])
    splits["validation"] = _sample(splits["validation"], c.val_examples, 0)  # same for every run
    splits["test"] = _sample(splits["test"], c.test_examples, 0)
    report = tasks.describe(splits)  # the majority class of all training examples
    splits["train"] = _sample(splits["train"], c.train_examples, c.seed)
    model_config = json.loads((folder / "config.json").read_text())
    if c.max_length > model_config["max_position_embeddings"]:
        raise ConfigError(f"'max_length' = {c.max_length} is impossible: {folder.name} reads at most "
                          f"{model_config['max_position_embeddings']} tokens (max_position_embeddings)")
    encoded = tasks.tokenize_task(splits, tasks.fast_tokenizer(folder, c.max_length))
    pad_id = model_config.get("pad_token_id", 0)

    steps_per_epoch = max(1, len(encoded["train"]) // c.batch_size)
    total_steps = c.max_steps or max(1, math.ceil(c.epochs * steps_per_epoch))
    warmup_steps = int(c.warmup_fraction * total_steps)

    pl.seed_everything(c.seed, workers=True, verbose=False)
    model = build_model(c, folder, names)
    frozen = freeze(model, c.freeze_embeddings, c.freeze_layers)
    module = make_module(model, c.learning_rate, c.weight_decay, c.schedule, warmup_steps, total_steps,
                         c.log_every_steps)

    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(c.to_dict(), indent=2) + "\n")
    trainer_ref: dict[str, Any] = {}
    train_loader = StepBatches(encoded["train"], c.batch_size, total_steps, c.seed,
                               start=lambda: trainer_ref["trainer"].global_step, pad_token_id=pad_id)
    val_loader = fixed_batches(encoded["validation"], c.batch_size, pad_id)

    class SaveOnInterrupt(pl.Callback):
        def on_exception(self, trainer, pl_module, exception):
            trainer.save_checkpoint(ckpt_dir / "interrupted.ckpt", weights_only=False)

    class ValidateAndKeepBest(pl.Callback):
        """Every `val_every_steps` finished steps: validate, log, keep the best model and the last.

        Counted in optimizer steps (the global step), so a resumed run validates at the same steps
        as an uninterrupted one and keeps the same best model.
        """

        def __init__(self):
            self.best_accuracy, self.best_step = -1.0, None

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            step = trainer.global_step
            if step % c.val_every_steps and step != total_steps:
                return
            scores = evaluate(pl_module.model, val_loader, len(names))
            trainer.logger.log_metrics({"val_loss": scores["loss"], "val_accuracy": scores["accuracy"],
                                        "val_macro_f1": scores["macro_f1"]}, step=step)
            pl_module.log("val_accuracy", scores["accuracy"], prog_bar=True, logger=False)
            if scores["accuracy"] > self.best_accuracy:
                self.best_accuracy, self.best_step = scores["accuracy"], step
                trainer.save_checkpoint(ckpt_dir / "best.ckpt", weights_only=False)
            trainer.save_checkpoint(ckpt_dir / "last.ckpt", weights_only=False)

        def state_dict(self):
            return {"best_accuracy": self.best_accuracy, "best_step": self.best_step}

        def load_state_dict(self, state):
            self.best_accuracy, self.best_step = state["best_accuracy"], state["best_step"]

    keeper = ValidateAndKeepBest()
    every = [keeper, SaveOnInterrupt()]
    if c.progress_bar:
        every.append(TQDMProgressBar(refresh_rate=c.log_every_steps))
    with _quiet_lightning():
        trainer = pl.Trainer(
            max_steps=total_steps, max_epochs=-1, accelerator="auto", devices=1,
            precision=_precision("auto"), gradient_clip_val=c.max_grad_norm, gradient_clip_algorithm="norm",
            limit_val_batches=0, num_sanity_val_steps=0, enable_checkpointing=False,
            log_every_n_steps=c.log_every_steps,
            logger=CSVLogger(save_dir=str(out), name="logs", flush_logs_every_n_steps=c.log_every_steps),
            callbacks=every + (callbacks or []), enable_progress_bar=c.progress_bar,
            enable_model_summary=False, deterministic=True,
        )
        trainer_ref["trainer"] = trainer
        trainer.fit(module, train_dataloaders=train_loader, ckpt_path=str(ckpt_path) if ckpt_path else None)

    # The best validation accuracy, not the last step, is the model that is kept and tested.
    best_path = ckpt_dir / "best.ckpt"
    if best_path.is_file():
        state = torch.load(best_path, map_location="cpu", weights_only=False)["state_dict"]
        module.load_state_dict(state)
    final = module.model.float().cpu().eval()
    save_model_folder(final, folder, out / "model")
    test_loader = fixed_batches(encoded["test"], c.batch_size, pad_id)
    results = {
        "task": c.task, "init_from": str(c.init_from), "from_scratch": c.from_scratch,
        "labels": names, "train_examples": len(encoded["train"]), "steps": trainer.global_step,
        "best_step": keeper.best_step,
        "frozen_parameters": frozen,
        "seconds_this_session": round(time.time() - started, 1),
        "majority_baseline": {s: report["splits"][s]["majority_baseline_accuracy"] for s in ("validation", "test")},
        "validation": evaluate(final, val_loader, len(names)),
        "test": evaluate(final, test_loader, len(names)),
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def main(argv: list[str] | None = None) -> None:
    parser = run_parser("kaibert-finetune", "Fine-tune BERT on a classification task from a YAML config.",
                        "configs/finetune-genre.yaml")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        config = load_config(args.config)
        if args.output_dir:
            config.output_dir = args.output_dir
        results = run(config, resume=args.resume)
    except (ConfigError, FileExistsError, FileNotFoundError) as err:
        parser.exit(2, f"kaibert-finetune: error: {err}\n")
    v, t = results["validation"], results["test"]
    print(f"steps {results['steps']}  validation: accuracy {v['accuracy']:.4f} macro-F1 {v['macro_f1']:.4f}  "
          f"test: accuracy {t['accuracy']:.4f} macro-F1 {t['macro_f1']:.4f} "
          f"(majority class {results['majority_baseline']['test']:.4f})")
    print(f"model saved to {Path(config.output_dir) / 'model'}")

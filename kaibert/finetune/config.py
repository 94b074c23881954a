"""The fine-tuning config: one flat section read from YAML and checked key by key.

A config names the task, the starting checkpoint and the budget (see ``configs/finetune-genre.yaml``)::

    task: genre                    # a name of kaibert.finetune.task.TASKS
    init_from: minilm              # a model folder, or shakespeare-mini / minilm
    from_scratch: false            # true: that model's shape and vocabulary, random weights
    learning_rate: 5.0e-5
    epochs: 3                      # or max_steps
    freeze_layers: 0               # freeze the embeddings and the first N encoder layers

Reading, number handling and the errors are the run layer's (``kaibert.run.config``); every key,
its default and its meaning: ``python -m kaibert.run.reference`` (the README shows it).
"""

from __future__ import annotations

from dataclasses import dataclass

from kaibert.run.config import Section, is_int, is_number, key, require, require_seed_and_output
from kaibert.run.devices import ACCELERATOR_HELP, PRECISION_HELP, check_accelerator, check_precision


@dataclass
class FinetuneConfig(Section):
    seed: int = key(0, "seeds the new head, the order of the examples and dropout")
    output_dir: str = key("runs/finetune", "where the run writes everything (must not hold another run)")
    task: str = key("genre", "`genre` (comedy / history / tragedy), `next_line` (is B the next "
                    "line?), `names` (tag the names), `reply` (extract the next line as a span) or "
                    "`sst2` (online); the names of `kaibert.finetune.task.TASKS`")
    init_from: str = key("shakespeare-mini", "the starting model: a folder with config.json, "
                         "weights and vocab.txt, or `shakespeare-mini` (shipped) or `minilm`")
    from_scratch: bool = key(False, "keep that model's shape and vocabulary but start from random weights")
    corpus_dir: str | None = key(None, "another folder of Shakespeare text files; `null`: the shipped corpus "
                                 "(task sst2: a folder of train/validation.jsonl; `null`: the hub)")
    max_length: int = key(128, "tokens per example, [CLS] and [SEP] included; longer ones are cut")
    batch_size: int = key(32, "examples per optimizer step")
    train_examples: int | None = key(None, "fine-tune on a seeded sample of N training examples; `null`: all")
    val_examples: int | None = key(1000, "validate on the same N validation examples every time; `null`: all")
    test_examples: int | None = key(None, "score the best model on N test examples; `null`: all")
    epochs: float | None = key(3, "passes over the training examples (ignored when max_steps is set)")
    max_steps: int | None = key(None, "optimizer steps; the schedule decays to zero at the last")
    learning_rate: float = key(5e-5, "peak AdamW learning rate, reached after the warm-up")
    weight_decay: float = key(0.01, "AdamW weight decay on matrices (none on biases and LayerNorms)")
    schedule: str = key("linear", "decay after the warm-up, one of kaibert.schedules.SCHEDULES")
    warmup_fraction: float = key(0.1, "share of the steps spent warming up from 0 (BERT: 0.1)")
    max_grad_norm: float | None = key(1.0, "clip the gradient's norm to this; `null`: no clipping")
    freeze_embeddings: bool = key(False, "keep the embeddings fixed")
    freeze_layers: int = key(0, "keep the embeddings and the first N encoder layers fixed")
    classifier_dropout: float | None = key(None, "dropout before the classifier; `null`: the model's hidden dropout")
    val_every_steps: int = key(50, "validate (and keep the model if it is the best so far) every N steps")
    log_every_steps: int = key(10, "log the training loss and learning rate every N steps")
    num_threads: int | None = key(None, "torch CPU threads; `null` leaves PyTorch's default")
    progress_bar: bool = key(True, "show Lightning's progress bar")
    precision: str = key("auto", PRECISION_HELP)
    accelerator: str = key("auto", ACCELERATOR_HELP + " (fine-tuning runs on one device)")

    def check(self) -> None:
        """Check every value once, before any work, with a message that names the key."""
        from kaibert.finetune.task import TASKS
        from kaibert.schedules import SCHEDULES

        require(self.task in TASKS, "task", self.task, f"choose one of {sorted(TASKS)}")
        require_seed_and_output(self.seed, self.output_dir, "runs/my-finetune")
        require(is_int(self.batch_size) and self.batch_size >= 1, "batch_size", self.batch_size,
                "a positive integer")
        require(is_int(self.max_length) and self.max_length >= 8, "max_length", self.max_length,
                "an integer >= 8")
        for name in ("train_examples", "val_examples", "test_examples", "max_steps"):
            value = getattr(self, name)
            require(value is None or (is_int(value) and value >= 1), name, value,
                    "a positive integer or null")
        require(self.max_steps is not None or (is_number(self.epochs) and self.epochs > 0),
                "epochs", self.epochs, "give a positive number of epochs, or max_steps")
        require(is_number(self.learning_rate) and self.learning_rate > 0, "learning_rate",
                self.learning_rate, "a positive number such as 5e-5")
        require(is_number(self.weight_decay) and self.weight_decay >= 0, "weight_decay",
                self.weight_decay, "a number >= 0")
        require(is_number(self.warmup_fraction) and 0 <= self.warmup_fraction < 1, "warmup_fraction",
                self.warmup_fraction, "a share in [0, 1)")
        require(self.schedule in SCHEDULES, "schedule", self.schedule, f"choose one of {sorted(SCHEDULES)}")
        require(self.max_grad_norm is None or (is_number(self.max_grad_norm) and self.max_grad_norm > 0),
                "max_grad_norm", self.max_grad_norm, "a positive number or null (no clipping)")
        require(is_int(self.freeze_layers) and self.freeze_layers >= 0, "freeze_layers",
                self.freeze_layers, "a number of layers >= 0")
        require(self.classifier_dropout is None
                or (is_number(self.classifier_dropout) and 0 <= self.classifier_dropout < 1),
                "classifier_dropout", self.classifier_dropout, "a probability in [0, 1) or null")
        for name in ("val_every_steps", "log_every_steps"):
            require(is_int(getattr(self, name)) and getattr(self, name) >= 1, name,
                    getattr(self, name), "a positive integer")
        require(self.num_threads is None or (is_int(self.num_threads) and self.num_threads >= 1),
                "num_threads", self.num_threads, "a positive integer or null")
        check_precision("precision", self.precision)
        check_accelerator("accelerator", self.accelerator)


# The one reader of configs (kaibert.run.config), for this kind of config.
config_from_dict = FinetuneConfig.parse
load_config = FinetuneConfig.load

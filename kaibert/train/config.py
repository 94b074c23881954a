"""The training config: five sections read from YAML, checked key by key.

A config has five parts (see ``configs/shakespeare-mini.yaml``)::

    seed: 0
    output_dir: runs/shakespeare-mini
    data:      {dataset: shakespeare, vocab_size: 8000, block_size: 128, batch_size: 32, ...}
    model:     {architecture: bert, hidden_size: 256, num_hidden_layers: 4, ...}
    training:  {max_steps: 3000, learning_rate: 1e-3, warmup_steps: 200, ...}

``model.architecture`` names the model (``bert`` unless it says otherwise,
``kaibert.train.architectures``); the other ``model`` keys are that architecture's config fields.
Every key, its default and its meaning: ``python -m kaibert.run.reference`` (the README shows it).
Reading, number handling and the errors are the run layer's (``kaibert.run.config``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kaibert.run.config import (ConfigError, Section, is_int, is_number, key, read_numbers, require,
                                require_seed_and_output)
from kaibert.run.devices import (ACCELERATOR_HELP, PRECISION_HELP, check_accelerator,
                                 check_precision, check_processes, processes)
from kaibert.train.architectures import ARCHITECTURES, Architecture, get_architecture

DEFAULT_ARCHITECTURE = "bert"


@dataclass
class DataConfig(Section):
    dataset: str = key("shakespeare", "`shakespeare` (shipped), `wikitext-2`, `wikitext-103`, or a "
                        "Hugging Face hub data set with a `text` column (needs the network)")
    dataset_config: str | None = key(None, "the hub data set's configuration, if it has several")
    corpus_dir: str | None = key(None, "another folder of Shakespeare-style text files (one file "
                                  "per work, same names); `null`: the shipped corpus")
    vocab_size: int = key(8000, "size of the WordPiece vocabulary learned from the training split")
    tokenizer: str | None = key(None, "reuse this folder's `vocab.txt` instead of learning one "
                                 "(e.g. a run's `tokenizer/` or a model folder)")
    block_size: int = key(128, "tokens per block, `[CLS]` and `[SEP]` included")
    batch_size: int = key(32, "blocks per optimizer step, over all devices together (the global batch)")
    mlm_probability: float = key(0.15, "share of ordinary tokens chosen for prediction (80% "
                                  "`[MASK]`, 10% random, 10% unchanged)")
    max_train_blocks: int | None = key(None, "use only the first N training blocks (quick runs)")
    val_batches: int | None = key(None, "evaluate on at most N validation batches; `null`: all")


@dataclass
class TrainingConfig(Section):
    max_steps: int = key(1000, "optimizer steps; the schedule decays to zero at this step")
    init_from: str | None = key(None, "start from the weights of this model folder (a run's "
                                 "`model/`) instead of random ones")
    max_minutes: float | None = key(None, "also stop after this much wall time (the schedule "
                                     "still follows `max_steps`)")
    learning_rate: float = key(1e-3, "peak learning rate of AdamW, reached after the warm-up")
    weight_decay: float = key(0.01, "AdamW's decoupled weight decay on matrices (none on biases "
                               "and LayerNorm weights)")
    adam_betas: list[float] = key([0.9, 0.999], "AdamW's two moment decay rates")
    adam_eps: float = key(1e-6, "AdamW's epsilon")
    schedule: str = key("linear", "learning-rate decay after the warm-up: one of "
                         "`kaibert.schedules.SCHEDULES`")
    warmup_steps: int = key(100, "steps of linear warm-up from 0 to `learning_rate`")
    max_grad_norm: float | None = key(1.0, "clip the gradient's global norm to this; `null`: no clipping")
    precision: str = key("auto", PRECISION_HELP)
    val_every_steps: int = key(200, "validate every N steps (the end of a run writes a full evaluation to `results.json`)")
    save_every_steps: int = key(200, "write a checkpoint and `model/` every N steps")
    log_every_steps: int = key(10, "log the training loss and learning rate every N steps")
    num_threads: int | None = key(None, "torch CPU threads; `null` leaves PyTorch's default")
    progress_bar: bool = key(True, "show Lightning's progress bar and model summary")
    accelerator: str = key("auto", ACCELERATOR_HELP)
    devices: int | str | list = key(1, "devices (processes) per machine: a number, `auto` (all), "
                                     "or a list of GPU indices")
    num_nodes: int = key(1, "machines; each runs `devices` processes")
    strategy: str = key("auto", "how the processes share the work: `auto`, `ddp` (one process per "
                         "device, gradients averaged), `fsdp` (also shards weights and optimizer "
                         "state), `ddp_notebook` (several GPUs from a notebook), ...")
    compile: bool = key(False, "run the training step through `torch.compile`: faster per step "
                         "once compiled, but compiling costs time at every start and resume, and "
                         "the numbers are no longer bit for bit those of the plain step")


@dataclass
class RunConfig(Section):
    seed: int = key(0, "seeds the weights, the order of the blocks and the masking of every step")
    output_dir: str = key("runs/mlm", "where the run writes everything (must not hold another run)")
    data: DataConfig = field(default_factory=DataConfig)
    model: dict = key({}, "the model: `architecture` (one of `kaibert.train.architectures`), and "
                      "any field of that architecture's config (tables below)")
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def architecture(self) -> Architecture:
        """The model family ``model.architecture`` names (BERT by default)."""
        return get_architecture(self.model.get("architecture", DEFAULT_ARCHITECTURE))

    @classmethod
    def from_dict(cls, values, where: str = ""):
        """As for every section; the ``model`` keys' numbers are read by the types of the
        architecture's config (an unknown architecture is left for ``check`` to name)."""
        config = super().from_dict(values, where)
        name = config.model.get("architecture", DEFAULT_ARCHITECTURE) if isinstance(config.model, dict) else None
        if isinstance(name, str) and name in ARCHITECTURES:
            config.model = read_numbers(ARCHITECTURES[name].config_class, config.model)
        return config

    def check(self) -> None:
        """Check every value; raise ConfigError naming the first key that cannot work."""
        from kaibert.schedules import SCHEDULES

        d, t = self.data, self.training
        require_seed_and_output(self.seed, self.output_dir, "runs/my-run")
        require(isinstance(d.dataset, str) and d.dataset != "", "data.dataset", d.dataset,
                "name 'shakespeare', 'wikitext-2' or a hub data set")
        require(is_int(d.vocab_size) and d.vocab_size >= 200, "data.vocab_size", d.vocab_size,
                "use an integer of at least a few hundred (8000 suits Shakespeare)")
        require(is_int(d.block_size) and d.block_size >= 8, "data.block_size", d.block_size,
                "use an integer >= 8, e.g. 128")
        require(is_int(d.batch_size) and d.batch_size >= 1, "data.batch_size", d.batch_size,
                "use a positive integer")
        require(is_number(d.mlm_probability) and 0 < d.mlm_probability < 1, "data.mlm_probability",
                d.mlm_probability, "it is a probability strictly between 0 and 1 (BERT uses 0.15)")
        for name in ("max_train_blocks", "val_batches"):
            value = getattr(d, name)
            require(value is None or (is_int(value) and value >= 1), f"data.{name}", value,
                    "use a positive integer or null")
        require(is_int(t.max_steps) and t.max_steps >= 1, "training.max_steps", t.max_steps,
                "use a positive integer")
        require(t.init_from is None or isinstance(t.init_from, str), "training.init_from", t.init_from,
                "name a model folder with config.json and model.safetensors (a run's model/)")
        require(t.max_minutes is None or (is_number(t.max_minutes) and t.max_minutes > 0),
                "training.max_minutes", t.max_minutes, "use a positive number of minutes or null")
        require(is_number(t.learning_rate) and t.learning_rate > 0, "training.learning_rate",
                t.learning_rate, "use a positive number such as 1e-3")
        require(is_number(t.weight_decay) and t.weight_decay >= 0, "training.weight_decay",
                t.weight_decay, "use a number >= 0")
        require(isinstance(t.adam_betas, (list, tuple)) and len(t.adam_betas) == 2
                and all(is_number(b) and 0 <= b < 1 for b in t.adam_betas),
                "training.adam_betas", t.adam_betas, "give two numbers in [0, 1), e.g. [0.9, 0.999]")
        require(is_number(t.adam_eps) and t.adam_eps > 0, "training.adam_eps", t.adam_eps,
                "use a small positive number such as 1e-6")
        require(t.schedule in SCHEDULES, "training.schedule", t.schedule,
                f"choose one of {sorted(SCHEDULES)}")
        require(is_int(t.warmup_steps) and 0 <= t.warmup_steps <= t.max_steps,
                "training.warmup_steps", t.warmup_steps,
                f"use an integer between 0 and training.max_steps ({t.max_steps})")
        require(t.max_grad_norm is None or (is_number(t.max_grad_norm) and t.max_grad_norm > 0),
                "training.max_grad_norm", t.max_grad_norm, "use a positive number or null (no clipping)")
        check_precision("training.precision", t.precision)
        for name in ("val_every_steps", "save_every_steps", "log_every_steps"):
            value = getattr(t, name)
            require(is_int(value) and value >= 1, f"training.{name}", value, "use a positive integer")
        require(t.num_threads is None or (is_int(t.num_threads) and t.num_threads >= 1),
                "training.num_threads", t.num_threads, "use a positive integer or null")
        check_accelerator("training.accelerator", t.accelerator)
        check_processes("training.", t.devices, t.num_nodes, t.strategy)
        shared_by = processes(t.devices, t.num_nodes)
        if shared_by is not None:
            require(d.batch_size % shared_by == 0, "data.batch_size", d.batch_size,
                    f"it is the global batch, shared by {shared_by} processes (devices x num_nodes): "
                    f"use a multiple of {shared_by}")
        require(isinstance(t.compile, bool), "training.compile", t.compile, "use true or false")
        self._check_model()

    def _check_model(self) -> None:
        if not isinstance(self.model, dict):
            raise ConfigError(f"'model' must be a mapping of the model's config fields, got {self.model!r}")
        name = self.model.get("architecture", DEFAULT_ARCHITECTURE)
        require(name in ARCHITECTURES, "model.architecture", name,
                f"choose one of {sorted(ARCHITECTURES)}")
        arch = ARCHITECTURES[name]
        config_name = arch.config_class.__name__
        for field_name in self.model:
            if field_name != "architecture" and not arch.has_key(field_name):
                raise ConfigError(f"unknown key 'model.{field_name}'; the model keys of architecture "
                                  f"'{name}' are {config_name}'s fields: {sorted(arch.model_keys())}")
        if "vocab_size" in self.model:
            raise ConfigError("'model.vocab_size' is set from the tokenizer; set 'data.vocab_size' "
                              "instead")
        try:
            values = model_config_dict(self, vocab_size=self.data.vocab_size)
            arch.make_config(values)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"'model' does not make a valid {config_name}: {err}") from err
        if "max_position_embeddings" in values:
            require(values["max_position_embeddings"] >= self.data.block_size,
                    "model.max_position_embeddings", values["max_position_embeddings"],
                    f"it must be at least data.block_size ({self.data.block_size})")


# The ids kaibert.data gives the special tokens of every vocabulary it learns (kaibert.data.SPECIAL_TOKENS):
# what a config is checked against before the vocabulary exists.
STANDARD_IDS = {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}


def model_config_dict(config: RunConfig, vocab_size: int, special_ids: dict | None = None) -> dict:
    """The model's config fields for a run: the ``model`` section (without ``architecture``), the
    vocabulary's size and special token ids, and by default as many positions as a block has."""
    arch = config.architecture()
    values = {k: v for k, v in config.model.items() if k != "architecture"}
    if arch.has_key("max_position_embeddings"):
        values.setdefault("max_position_embeddings", config.data.block_size)
    for name, value in arch.special_token_fields(special_ids or STANDARD_IDS).items():
        values.setdefault(name, value)
    return {**values, "vocab_size": vocab_size}


# The one reader of configs (kaibert.run.config), for this kind of config.
config_from_dict = RunConfig.parse
load_config = RunConfig.load

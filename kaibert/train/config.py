"""The training config: five sections read from YAML and checked key by key.

A config has five parts (see ``configs/shakespeare-mini.yaml``)::

    seed: 0
    output_dir: runs/shakespeare-mini
    data:      {dataset: shakespeare, vocab_size: 8000, block_size: 128, batch_size: 32, ...}
    model:     {hidden_size: 256, num_hidden_layers: 4, ...}      # any BertConfig field
    training:  {max_steps: 3000, learning_rate: 1e-3, warmup_steps: 200, ...}

Every key, its default and its meaning: ``reference_table()`` (the README shows it).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch


TOP_LEVEL_KEYS = ("seed", "output_dir", "data", "model", "training")
PRECISIONS = ("auto", "32-true", "bf16-mixed", "16-mixed")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")


class ConfigError(ValueError):
    """A config file with an unknown key or an impossible value; the message names the key."""


def _key(default, meaning: str):
    """A config key: its default and one line on what it does (the README's reference reads both)."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": meaning})
    return field(default=default, metadata={"help": meaning})


@dataclass
class DataConfig:
    dataset: str = _key("shakespeare", "`shakespeare` (shipped), `wikitext-2`, `wikitext-103`, or a "
                        "Hugging Face hub data set with a `text` column (needs the network)")
    dataset_config: str | None = _key(None, "the hub data set's configuration, if it has several")
    corpus_dir: str | None = _key(None, "another folder of Shakespeare-style text files (one file "
                                  "per work, same names); `null`: the shipped corpus")
    vocab_size: int = _key(8000, "size of the WordPiece vocabulary learned from the training split")
    tokenizer: str | None = _key(None, "reuse this folder's `vocab.txt` instead of learning one "
                                 "(e.g. a run's `tokenizer/` or a model folder)")
    block_size: int = _key(128, "tokens per block, `[CLS]` and `[SEP]` included")
    batch_size: int = _key(32, "blocks per optimizer step, over all devices together (the global batch)")
    mlm_probability: float = _key(0.15, "share of ordinary tokens chosen for prediction (80% "
                                  "`[MASK]`, 10% random, 10% unchanged)")
    max_train_blocks: int | None = _key(None, "use only the first N training blocks (quick runs)")
    val_batches: int | None = _key(None, "evaluate on at most N validation batches; `null`: all")


@dataclass
class TrainingConfig:
    max_steps: int = _key(1000, "optimizer steps; the schedule decays to zero at this step")
    init_from: str | None = _key(None, "start from the weights of this model folder (a run's "
                                 "`model/`) instead of random ones")
    max_minutes: float | None = _key(None, "also stop after this much wall time (the schedule "
                                     "still follows `max_steps`)")
    learning_rate: float = _key(1e-3, "peak learning rate of AdamW, reached after the warm-up")
    weight_decay: float = _key(0.01, "AdamW's decoupled weight decay on matrices (none on biases "
                               "and LayerNorm weights)")
    adam_betas: list = _key([0.9, 0.999], "AdamW's two moment decay rates")
    adam_eps: float = _key(1e-6, "AdamW's epsilon")
    schedule: str = _key("linear", "learning-rate decay after the warm-up: one of "
                         "`kaibert.schedules.SCHEDULES`")
    warmup_steps: int = _key(100, "steps of linear warm-up from 0 to `learning_rate`")
    max_grad_norm: float | None = _key(1.0, "clip the gradient's global norm to this; `null`: no clipping")
    precision: str = _key("auto", "`auto` (bf16 mixed precision on a GPU that has it, fp16 on an "
                          "older GPU, fp32 on CPU), `32-true`, `bf16-mixed` or `16-mixed`")
    val_every_steps: int = _key(200, "validate every N steps (the end of a run writes a full evaluation to `results.json`)")
    save_every_steps: int = _key(200, "write a checkpoint and `model/` every N steps")
    log_every_steps: int = _key(10, "log the training loss and learning rate every N steps")
    num_threads: int | None = _key(None, "torch CPU threads; `null` leaves PyTorch's default")
    progress_bar: bool = _key(True, "show Lightning's progress bar and model summary")
    accelerator: str = _key("auto", "Lightning's accelerator: `auto` (a GPU when there is one, else "
                            "the CPU), `cpu`, `gpu`, `cuda`, `mps`")
    devices: int | str | list = _key(1, "devices (processes) per machine: a number, `auto` (all), "
                                     "or a list of GPU indices")
    num_nodes: int = _key(1, "machines; each runs `devices` processes")
    strategy: str = _key("auto", "how the processes share the work: `auto`, `ddp` (one process per "
                         "device, gradients averaged), `fsdp` (also shards weights and optimizer "
                         "state), `ddp_notebook` (several GPUs from a notebook), ...")
    compile: bool = _key(False, "run the training step through `torch.compile`: faster per step "
                         "once compiled (1.27x on the shipped shape on this project's CPU), but "
                         "compiling costs time at every start and resume, and the numbers are no "
                         "longer bit for bit those of the plain step")


@dataclass
class RunConfig:
    seed: int = _key(0, "seeds the weights, the order of the blocks and the masking of every step")
    output_dir: str = _key("runs/mlm", "where the run writes everything (must not hold another run)")
    data: DataConfig = field(default_factory=DataConfig)
    model: dict = field(default_factory=dict)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def to_dict(self) -> dict:
        return asdict(self)


# What each ``model:`` key (a BertConfig field) means; the defaults are BertConfig's own.
MODEL_KEYS = {
    "hidden_size": "width H of every token vector",
    "num_hidden_layers": "encoder layers",
    "num_attention_heads": "attention heads per layer (must divide `hidden_size`)",
    "num_key_value_heads": "key/value heads: fewer than the query heads gives grouped-query "
                           "attention, 1 multi-query; `null`: as many as query heads",
    "intermediate_size": "width of the feed-forward layer (4H in BERT)",
    "hidden_act": "activation of the feed-forward layer and the MLM head",
    "hidden_dropout_prob": "dropout on embeddings and on each sub-layer's output",
    "attention_probs_dropout_prob": "dropout on the attention weights",
    "max_position_embeddings": "longest sequence the model reads (by default the block size)",
    "type_vocab_size": "number of segments (token type ids)",
    "initializer_range": "standard deviation of the initial weights",
    "layer_norm_eps": "epsilon of every LayerNorm",
    "pad_token_id": "id of `[PAD]` (its embedding starts at zero)",
    "attn_implementation": "`eager` (chapter 03's readable attention) or `sdpa` (PyTorch's fused kernel)",
    "sparse_prediction": "with labels, score only the labelled positions against the vocabulary "
                         "(same loss, less work); `false`: every position, as `transformers`",
}
# BertConfig fields that only the fine-tuning heads of chapter 10 read: no effect on MLM training.
for _name in ("num_labels", "id2label", "label2id", "problem_type", "classifier_dropout"):
    MODEL_KEYS[_name] = "read by the fine-tuning heads (chapter 10) only; no effect on MLM training"
MODEL_KEYS_SET_ELSEWHERE = {"vocab_size": "set from the tokenizer (`data.vocab_size`)"}


# ---------------------------------------------------------------------------------------------
# Reading and checking a config
# ---------------------------------------------------------------------------------------------

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _as_float(value: Any) -> Any:
    """``'1e-3'`` -> ``0.001``: YAML 1.1 (PyYAML) reads an exponent without a dot as a string."""
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return float(value)
    return value


def _float_keys(cls) -> set[str]:
    return {f.name for f in fields(cls) if "float" in str(f.type)}


def _section(cls, values: Any, where: str):
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"'{where}' must be a mapping of keys to values, got {values!r}")
    known = {f.name: f for f in fields(cls)}
    for key in values:
        if key not in known:
            raise ConfigError(f"unknown key '{where}.{key}'; the keys of '{where}' are "
                              f"{sorted(known)}")
    floats = _float_keys(cls)
    values = {key: _as_float(value) if key in floats else value for key, value in values.items()}
    if isinstance(values.get("adam_betas"), (list, tuple)):
        values["adam_betas"] = [_as_float(b) for b in values["adam_betas"]]
    return cls(**values)


def _require(condition: bool, key: str, value: Any, what: str) -> None:
    if not condition:
        raise ConfigError(f"'{key}' = {value!r} is impossible: {what}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate(config: RunConfig) -> RunConfig:
    """Check every value; raise ConfigError naming the first key that cannot work."""
    from kaibert.config import BertConfig
    from kaibert.schedules import SCHEDULES

    d, t = config.data, config.training
    _require(_is_int(config.seed) and config.seed >= 0, "seed", config.seed,
             "use a non-negative integer")
    _require(isinstance(d.dataset, str) and d.dataset != "", "data.dataset", d.dataset,
             "name 'shakespeare', 'wikitext-2' or a hub data set")
    _require(_is_int(d.vocab_size) and d.vocab_size >= 200, "data.vocab_size", d.vocab_size,
             "use an integer of at least a few hundred (8000 suits Shakespeare)")
    _require(_is_int(d.block_size) and d.block_size >= 8, "data.block_size", d.block_size,
             "use an integer >= 8, e.g. 128")
    _require(_is_int(d.batch_size) and d.batch_size >= 1, "data.batch_size", d.batch_size,
             "use a positive integer")
    _require(_is_number(d.mlm_probability) and 0 < d.mlm_probability < 1, "data.mlm_probability",
             d.mlm_probability, "it is a probability strictly between 0 and 1 (BERT uses 0.15)")
    for key in ("max_train_blocks", "val_batches"):
        value = getattr(d, key)
        _require(value is None or (_is_int(value) and value >= 1), f"data.{key}", value,
                 "use a positive integer or null")
    _require(_is_int(t.max_steps) and t.max_steps >= 1, "training.max_steps", t.max_steps,
             "use a positive integer")
    _require(t.init_from is None or isinstance(t.init_from, str), "training.init_from", t.init_from,
             "name a model folder with config.json and model.safetensors (a run's model/)")
    _require(t.max_minutes is None or (_is_number(t.max_minutes) and t.max_minutes > 0),
             "training.max_minutes", t.max_minutes, "use a positive number of minutes or null")
    _require(_is_number(t.learning_rate) and t.learning_rate > 0, "training.learning_rate",
             t.learning_rate, "use a positive number such as 1e-3")
    _require(_is_number(t.weight_decay) and t.weight_decay >= 0, "training.weight_decay",
             t.weight_decay, "use a number >= 0")
    _require(isinstance(t.adam_betas, (list, tuple)) and len(t.adam_betas) == 2
             and all(_is_number(b) and 0 <= b < 1 for b in t.adam_betas),
             "training.adam_betas", t.adam_betas, "give two numbers in [0, 1), e.g. [0.9, 0.999]")
    _require(_is_number(t.adam_eps) and t.adam_eps > 0, "training.adam_eps", t.adam_eps,
             "use a small positive number such as 1e-6")
    _require(t.schedule in SCHEDULES, "training.schedule", t.schedule,
             f"choose one of {sorted(SCHEDULES)}")
    _require(_is_int(t.warmup_steps) and 0 <= t.warmup_steps <= t.max_steps,
             "training.warmup_steps", t.warmup_steps,
             f"use an integer between 0 and training.max_steps ({t.max_steps})")
    _require(t.max_grad_norm is None or (_is_number(t.max_grad_norm) and t.max_grad_norm > 0),
             "training.max_grad_norm", t.max_grad_norm, "use a positive number or null (no clipping)")
    _require(t.precision in PRECISIONS, "training.precision", t.precision,
             f"choose one of {PRECISIONS}")
    if t.precision in ("bf16-mixed", "16-mixed"):
        _require(torch.cuda.is_available(), "training.precision", t.precision,
                 "mixed precision needs a GPU and none is visible; use 'auto' or '32-true'")
    for key in ("val_every_steps", "save_every_steps", "log_every_steps"):
        value = getattr(t, key)
        _require(_is_int(value) and value >= 1, f"training.{key}", value, "use a positive integer")
    _require(t.num_threads is None or (_is_int(t.num_threads) and t.num_threads >= 1),
             "training.num_threads", t.num_threads, "use a positive integer or null")
    _require(t.accelerator in ACCELERATORS, "training.accelerator", t.accelerator,
             f"choose one of {ACCELERATORS}")
    if t.accelerator in ("gpu", "cuda"):
        _require(torch.cuda.is_available(), "training.accelerator", t.accelerator,
                 "no GPU is visible to PyTorch here; use 'auto' or 'cpu'")
    _require((_is_int(t.devices) and t.devices >= 1) or t.devices in ("auto", -1)
             or (isinstance(t.devices, list) and t.devices and all(_is_int(i) and i >= 0 for i in t.devices)),
             "training.devices", t.devices, "use a positive number, 'auto', or a list of GPU indices")
    _require(_is_int(t.num_nodes) and t.num_nodes >= 1, "training.num_nodes", t.num_nodes,
             "use a positive integer")
    strategies = _strategies()
    _require(isinstance(t.strategy, str) and (t.strategy == "auto" or t.strategy in strategies),
             "training.strategy", t.strategy, f"choose 'auto' or one of Lightning's: {sorted(strategies)}")
    _require(not (isinstance(t.strategy, str) and t.strategy.startswith("ddp_spawn")),
             "training.strategy", t.strategy, "the command cannot hand its batches to spawned "
             "processes; use 'ddp' (the same training, started by the command itself)")
    processes = _processes(t)
    if processes is not None:
        _require(d.batch_size % processes == 0, "data.batch_size", d.batch_size,
                 f"it is the global batch, shared by {processes} processes (devices x num_nodes): "
                 f"use a multiple of {processes}")
    _require(isinstance(t.compile, bool), "training.compile", t.compile, "use true or false")
    if not isinstance(config.model, dict):
        raise ConfigError(f"'model' must be a mapping of BertConfig fields, got {config.model!r}")
    known = {f.name for f in fields(BertConfig)}
    for key, value in config.model.items():
        if key not in known:
            raise ConfigError(f"unknown key 'model.{key}'; the model keys are BertConfig's "
                              f"fields: {sorted(known)}")
    if "vocab_size" in config.model:
        raise ConfigError("'model.vocab_size' is set from the tokenizer; set 'data.vocab_size' "
                          "instead")
    try:
        model_config = model_config_dict(config, vocab_size=d.vocab_size)
        BertConfig.from_dict(model_config)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"'model' does not make a valid BertConfig: {err}") from err
    _require(model_config["max_position_embeddings"] >= d.block_size,
             "model.max_position_embeddings", model_config["max_position_embeddings"],
             f"it must be at least data.block_size ({d.block_size})")
    return config


def _strategies() -> list[str]:
    try:
        from pytorch_lightning.strategies import StrategyRegistry
    except ImportError:  # pragma: no cover - Lightning is part of the [train] extra
        return ["ddp", "fsdp"]
    return list(StrategyRegistry.available_strategies())


def _processes(t: "TrainingConfig") -> int | None:
    """How many processes share a step's batch, when the config says it without asking the hardware."""
    if isinstance(t.devices, list):
        return len(t.devices) * t.num_nodes
    if _is_int(t.devices) and t.devices >= 1:
        return t.devices * t.num_nodes
    return None


def model_config_dict(config: RunConfig, vocab_size: int) -> dict:
    """The BertConfig fields of a run: the config's ``model`` section plus the vocabulary size."""
    values = {"max_position_embeddings": config.data.block_size, **config.model,
              "vocab_size": vocab_size}
    return values


def config_from_dict(values: dict) -> RunConfig:
    """A RunConfig from a plain dict (a parsed YAML file), checked key by key."""
    if not isinstance(values, dict):
        raise ConfigError("a config must be a mapping with the keys " + ", ".join(TOP_LEVEL_KEYS))
    for key in values:
        if key not in TOP_LEVEL_KEYS:
            raise ConfigError(f"unknown key '{key}'; a config has the keys {list(TOP_LEVEL_KEYS)}")
    model = values.get("model") or {}
    if isinstance(model, dict):
        from kaibert.config import BertConfig

        floats = _float_keys(BertConfig)
        model = {key: _as_float(value) if key in floats else value for key, value in model.items()}
    config = RunConfig(
        seed=values.get("seed", 0),
        output_dir=str(values.get("output_dir", "runs/mlm")),
        data=_section(DataConfig, values.get("data"), "data"),
        model=model,
        training=_section(TrainingConfig, values.get("training"), "training"),
    )
    return validate(config)


def load_config(path: str | Path) -> RunConfig:
    """Read and check a YAML config file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} not found; see configs/ for examples")
    try:
        values = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from err
    return config_from_dict(values or {})

"""Train a BERT masked language model from a YAML config: ``python -m kaibert.train --config C``.

A config has five parts (see ``configs/shakespeare-mini.yaml``)::

    seed: 0
    output_dir: runs/shakespeare-mini
    data:      {dataset: shakespeare, vocab_size: 8000, block_size: 128, batch_size: 32, ...}
    model:     {hidden_size: 256, num_hidden_layers: 4, ...}      # any BertConfig field
    training:  {max_steps: 3000, learning_rate: 1e-3, warmup_steps: 200, ...}

What lands in ``output_dir``:

- ``tokenizer/``: the WordPiece vocabulary learned from the training split;
- ``checkpoints/``: Lightning checkpoints (``last.ckpt``, ``interrupted.ckpt``) for ``--resume``;
- ``model/``: the model in Hugging Face format (``config.json``, ``model.safetensors``, the
  vocabulary), rewritten at every checkpoint and at the end;
- ``logs/version_N/metrics.csv``: train loss and learning rate every few steps, validation loss,
  perplexity and masked-token accuracy at every validation (one version per start or resume);
- ``results.json``: the final validation and test metrics and the most-frequent-token baseline.

``--resume`` continues from the newest checkpoint in ``output_dir/checkpoints`` (or the one
given): weights, optimizer, schedule, data position and random state, so that the run ends
exactly where an uninterrupted one would have.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

TOP_LEVEL_KEYS = ("seed", "output_dir", "data", "model", "training")
PRECISIONS = ("auto", "32-true", "bf16-mixed", "16-mixed")


class ConfigError(ValueError):
    """A config file with an unknown key or an impossible value; the message names the key."""


@dataclass
class DataConfig:
    dataset: str = "shakespeare"        # "shakespeare", "wikitext-2", or a hub data set name
    dataset_config: str | None = None  # the hub data set's configuration, if it has several
    corpus_dir: str | None = None      # another folder of Shakespeare-style text files
    vocab_size: int = 8000
    tokenizer: str | None = None       # reuse this folder's vocab.txt instead of learning one
    block_size: int = 128
    batch_size: int = 32
    mlm_probability: float = 0.15
    max_train_blocks: int | None = None  # use only the first N training blocks (quick runs)
    val_batches: int | None = None       # evaluate on at most N validation batches


@dataclass
class TrainingConfig:
    max_steps: int = 1000
    init_from: str | None = None      # start from this checkpoint's weights instead of random ones
    max_minutes: float | None = None  # also stop after this much wall time (the schedule keeps max_steps)
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    adam_betas: list = field(default_factory=lambda: [0.9, 0.999])
    adam_eps: float = 1e-6
    schedule: str = "linear"          # see kaibert.schedules.SCHEDULES
    warmup_steps: int = 100
    max_grad_norm: float | None = 1.0
    precision: str = "auto"           # "auto": bf16 (or fp16) mixed precision on a GPU, fp32 on CPU
    val_every_steps: int = 200
    save_every_steps: int = 200
    log_every_steps: int = 10
    num_threads: int | None = None    # torch CPU threads; None leaves PyTorch's default
    progress_bar: bool = True


@dataclass
class RunConfig:
    seed: int = 0
    output_dir: str = "runs/mlm"
    data: DataConfig = field(default_factory=DataConfig)
    model: dict = field(default_factory=dict)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# Reading and checking a config
# ---------------------------------------------------------------------------------------------

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
    config = RunConfig(
        seed=values.get("seed", 0),
        output_dir=str(values.get("output_dir", "runs/mlm")),
        data=_section(DataConfig, values.get("data"), "data"),
        model=values.get("model") or {},
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


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------

def _precision(name: str) -> str:
    if name != "auto":
        return name
    if torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def newest_checkpoint(output_dir: str | Path) -> Path:
    """The most recently written ``.ckpt`` of a run (``last.ckpt`` or ``interrupted.ckpt``)."""
    folder = Path(output_dir) / "checkpoints"
    found = sorted(folder.glob("*.ckpt"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    if not found:
        raise FileNotFoundError(f"no checkpoint to resume from in {folder}; start the run "
                                "without --resume")
    return found[-1]


def save_model_folder(model, tokenizer_dir: Path, folder: Path) -> None:
    """The model in Hugging Face format, with its vocabulary, ready for ``from_pretrained``."""
    model.save_pretrained(folder)
    for name in ("vocab.txt", "tokenizer_config.json"):
        shutil.copy(tokenizer_dir / name, folder / name)


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


def run(config: RunConfig, resume: str | bool | None = None, callbacks: list | None = None
        ) -> dict:
    """Train as the config says; return the final validation and test metrics.

    ``resume``: None for a fresh run, True for the newest checkpoint in ``output_dir``, or the
    path of a ``.ckpt`` file.
    """
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import ModelCheckpoint, OnExceptionCheckpoint, TQDMProgressBar
    from pytorch_lightning.loggers import CSVLogger

    from kaibert import data as kdata
    from kaibert.training import MaskedBatches, MLMModule, eval_batches, evaluate, special_token_ids

    d, t = config.data, config.training
    out = Path(config.output_dir)
    ckpt_dir, tok_dir = out / "checkpoints", out / "tokenizer"
    ckpt_path = None
    if resume:
        ckpt_path = newest_checkpoint(out) if resume is True else Path(resume)
        if not ckpt_path.is_file():
            raise FileNotFoundError(f"checkpoint {ckpt_path} not found")
    elif ckpt_dir.is_dir() and any(ckpt_dir.glob("*.ckpt")):
        raise FileExistsError(f"{out} already holds a run; continue it with --resume, or choose "
                              "another output_dir (or delete that folder) to start afresh")
    if t.num_threads is not None:
        torch.set_num_threads(t.num_threads)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")

    started = time.time()
    tokenizer, blocks = kdata.prepare_data(d.dataset, tok_dir, d.vocab_size, d.block_size,
                                           corpus_dir=d.corpus_dir, dataset_config=d.dataset_config,
                                           vocab_from=d.tokenizer)
    train_blocks = blocks["train"]
    if d.max_train_blocks is not None:
        train_blocks = train_blocks.select(range(min(d.max_train_blocks, len(train_blocks))))
    ids = special_token_ids(tokenizer)
    vocab_size = tokenizer.get_vocab_size()
    baseline_id, _ = kdata.most_frequent_token(train_blocks, ids.values())

    pl.seed_everything(config.seed, workers=True, verbose=False)
    module = MLMModule(
        model_config_dict(config, vocab_size), learning_rate=t.learning_rate,
        weight_decay=t.weight_decay, betas=list(t.adam_betas), eps=t.adam_eps,
        schedule=t.schedule, warmup_steps=t.warmup_steps, total_steps=t.max_steps,
        baseline_token_id=baseline_id,
    )

    if t.init_from is not None and ckpt_path is None:
        # Continued training: same architecture, weights from an earlier run's model/ folder.
        from kaibert.pretrained import load_checkpoint_state_dict, load_hf_state_dict

        if not Path(t.init_from, "config.json").is_file():
            raise ConfigError(f"'training.init_from' = {t.init_from!r} is not a model folder (no "
                              "config.json); name a run's model/ folder")
        try:
            load_hf_state_dict(module.model, load_checkpoint_state_dict(t.init_from))
        except (ValueError, FileNotFoundError) as err:
            raise ConfigError(f"'training.init_from' = {t.init_from!r} cannot be used: {err}") from err

    trainer_ref: dict[str, Any] = {}
    train_loader = MaskedBatches(train_blocks, d.batch_size, t.max_steps, vocab_size, ids,
                                 d.mlm_probability, seed=config.seed,
                                 start=lambda: trainer_ref["trainer"].global_step)
    val_loader = eval_batches(blocks["validation"], d.batch_size, vocab_size, ids,
                              d.mlm_probability, max_batches=d.val_batches)

    class SavePretrained(pl.Callback):
        """Beside every Lightning checkpoint, the model in Hugging Face format."""

        def on_save_checkpoint(self, trainer, pl_module, checkpoint):
            save_model_folder(pl_module.model, tok_dir, out / "model")

    every_callbacks = [
        ModelCheckpoint(dirpath=ckpt_dir, filename="step-{step}", auto_insert_metric_name=False,
                        every_n_train_steps=t.save_every_steps,
                        save_top_k=1, save_last=True),
        OnExceptionCheckpoint(dirpath=ckpt_dir, filename="interrupted"),
        SavePretrained(),
    ]
    if t.progress_bar:
        every_callbacks.append(TQDMProgressBar(refresh_rate=t.log_every_steps))
    trainer = pl.Trainer(
        max_steps=t.max_steps, max_epochs=-1,
        max_time=None if t.max_minutes is None else {"minutes": t.max_minutes}, accelerator="auto", devices=1,
        precision=_precision(t.precision), gradient_clip_val=t.max_grad_norm,
        gradient_clip_algorithm="norm", val_check_interval=min(t.val_every_steps, t.max_steps),
        check_val_every_n_epoch=None, num_sanity_val_steps=0, log_every_n_steps=t.log_every_steps,
        logger=CSVLogger(save_dir=str(out), name="logs", flush_logs_every_n_steps=t.log_every_steps), callbacks=every_callbacks + (callbacks or []),
        enable_progress_bar=t.progress_bar, enable_model_summary=t.progress_bar,
        deterministic=True,
    )
    trainer_ref["trainer"] = trainer
    trainer.fit(module, train_dataloaders=train_loader, val_dataloaders=val_loader,
                ckpt_path=str(ckpt_path) if ckpt_path else None)
    trainer.save_checkpoint(ckpt_dir / "last.ckpt")
    save_model_folder(module.model, tok_dir, out / "model")

    model = module.model.float().cpu()
    results = {
        "steps": trainer.global_step,
        "seconds_this_session": round(time.time() - started, 1),
        "baseline_token": tokenizer.id_to_token(baseline_id),
        "validation": evaluate(model, val_loader, baseline_id),
        "test": evaluate(model, eval_batches(blocks["test"], d.batch_size, vocab_size, ids,
                                             d.mlm_probability), baseline_id),
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="kaibert-train",
                                     description="Train a BERT masked language model from a YAML config.")
    parser.add_argument("--config", required=True, help="YAML config, e.g. configs/shakespeare-mini.yaml")
    parser.add_argument("--resume", nargs="?", const=True, default=None, metavar="CKPT",
                        help="continue from the newest checkpoint of output_dir, or from CKPT")
    parser.add_argument("--output-dir", default=None, help="override the config's output_dir")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except (ConfigError, FileNotFoundError) as err:
        parser.exit(2, f"kaibert-train: error: {err}\n")
    if args.output_dir:
        config.output_dir = args.output_dir
    results = run(config, resume=args.resume)
    v, te = results["validation"], results["test"]
    print(f"steps {results['steps']}  validation: loss {v['loss']:.4f} perplexity "
          f"{v['perplexity']:.2f} accuracy {v['accuracy']:.4f}  test: accuracy {te['accuracy']:.4f} "
          f"(most frequent token {results['baseline_token']!r}: {te['baseline_accuracy']:.4f})")
    print(f"model saved to {Path(config.output_dir) / 'model'}")


if __name__ == "__main__":
    main()

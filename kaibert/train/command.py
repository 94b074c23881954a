"""Train a BERT masked language model from a YAML config: ``python -m kaibert.train --config C``.

A config has five parts (see ``configs/shakespeare-mini.yaml``)::

    seed: 0
    output_dir: runs/shakespeare-mini
    data:      {dataset: shakespeare, vocab_size: 8000, block_size: 128, batch_size: 32, ...}
    model:     {architecture: bert, hidden_size: 256, ...}     # that architecture's config fields
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

import json
import os
import time
from pathlib import Path

import torch

from kaibert import run as krun
from kaibert.run.cli import command
from kaibert.run.devices import process_rank, uses_gpu, wait_for
from kaibert.train.config import ConfigError, RunConfig, load_config, model_config_dict


def prepare_blocks(config: RunConfig, writer: bool):
    """The tokenizer and the blocks of every split; process 0 learns (or copies) the vocabulary.

    The vocabulary is written into a side folder and renamed when complete, so that processes
    waiting for it never read half a vocabulary.
    """
    from kaibert import data as kdata

    d, out = config.data, Path(config.output_dir)
    tok_dir = out / "tokenizer"
    if writer and not (tok_dir / "vocab.txt").is_file():
        partial = out / f"tokenizer.partial-{os.getpid()}"
        tokenizer, blocks = kdata.prepare_data(d.dataset, partial, d.vocab_size, d.block_size,
                                               corpus_dir=d.corpus_dir, dataset_config=d.dataset_config,
                                               vocab_from=d.tokenizer)
        partial.rename(tok_dir)
        return tokenizer, blocks
    if not writer:
        wait_for(tok_dir / "vocab.txt")
    return kdata.prepare_data(d.dataset, tok_dir, d.vocab_size, d.block_size,
                              corpus_dir=d.corpus_dir, dataset_config=d.dataset_config)


def init_weights(model, folder: str) -> None:
    """Continued training: copy the weights of an earlier run's ``model/`` into ``model``."""
    if not Path(folder, "config.json").is_file():
        raise ConfigError(f"'training.init_from' = {folder!r} is not a model folder (no "
                          "config.json); name a run's model/ folder")
    try:
        model.load_state_dict(type(model).from_pretrained(folder).state_dict())
    except (ValueError, RuntimeError, FileNotFoundError) as err:
        raise ConfigError(f"'training.init_from' = {folder!r} cannot be used: {err}") from err


def run(config: RunConfig, resume: str | bool | None = None, callbacks: list | None = None
        ) -> dict:
    """Train as the config says; return the final validation and test metrics.

    ``resume``: None for a fresh run, True for the newest checkpoint in ``output_dir``, or the
    path of a ``.ckpt`` file. With several processes (``training.devices`` x ``num_nodes``), each
    runs this function; process 0 alone writes the config, vocabulary, model, logs and results,
    and returns the metrics (the others return ``{}``).
    """
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import ModelCheckpoint

    from kaibert import data as kdata
    from kaibert.train.batches import MaskedBatches, eval_batches, special_token_ids
    from kaibert.train.loop import evaluate
    from kaibert.train.module import MLMModule

    d, t = config.data, config.training
    out = Path(config.output_dir)
    writer = process_rank() == 0
    ckpt_path = krun.checkpoint_to_resume(
        out, resume, t.max_steps, steps_key="training.max_steps", writer=writer,
        finished_hint=f" To train further, start a new run from its weights with "
                      f"training.init_from: {out / 'model'}")
    kdata.check_dataset_name(d.dataset)
    if t.num_threads is not None:
        torch.set_num_threads(t.num_threads)
    if writer:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")

    started = time.time()
    tokenizer, blocks = prepare_blocks(config, writer)
    train_blocks = blocks["train"]
    if d.max_train_blocks is not None:
        train_blocks = train_blocks.select(range(min(d.max_train_blocks, len(train_blocks))))
    ids = special_token_ids(tokenizer)
    vocab_size = tokenizer.get_vocab_size()
    baseline_id, _ = kdata.most_frequent_token(train_blocks, ids.values())

    architecture = config.architecture()
    model_config = model_config_dict(config, vocab_size, ids)
    if uses_gpu(t.accelerator) and architecture.has_key("attn_implementation") \
            and "attn_implementation" not in config.model:
        model_config["attn_implementation"] = "sdpa"        # PyTorch's fused attention on a GPU
    pl.seed_everything(config.seed, workers=True, verbose=False)
    module = MLMModule(
        model_config, learning_rate=t.learning_rate,
        weight_decay=t.weight_decay, betas=list(t.adam_betas), eps=t.adam_eps,
        schedule=t.schedule, warmup_steps=t.warmup_steps, total_steps=t.max_steps,
        baseline_token_id=baseline_id, compile=t.compile, architecture=architecture.name,
    )
    if t.init_from is not None and ckpt_path is None:
        init_weights(module.model, t.init_from)

    train_loader = MaskedBatches(train_blocks, d.batch_size, t.max_steps, vocab_size, ids,
                                 d.mlm_probability, seed=config.seed, keys=architecture.inputs)
    val_loader = eval_batches(blocks["validation"], d.batch_size, vocab_size, ids,
                              d.mlm_probability, max_batches=d.val_batches, keys=architecture.inputs)
    every_n_steps = ModelCheckpoint(dirpath=out / "checkpoints", filename="step-{step}",
                                    auto_insert_metric_name=False, save_top_k=1, save_last=True,
                                    every_n_train_steps=t.save_every_steps)
    trainer = krun.fit(
        module, train_loader, out, max_steps=t.max_steps, val_loader=val_loader,
        ckpt_path=ckpt_path, callbacks=[every_n_steps] + (callbacks or []),
        model_folder_vocabulary=out / "tokenizer", precision=t.precision,
        accelerator=t.accelerator, devices=t.devices, num_nodes=t.num_nodes, strategy=t.strategy,
        max_grad_norm=t.max_grad_norm, log_every_steps=t.log_every_steps, progress_bar=t.progress_bar,
        max_time=None if t.max_minutes is None else {"minutes": t.max_minutes},
        val_check_interval=min(t.val_every_steps, t.max_steps), check_val_every_n_epoch=None,
    )
    trainer.save_checkpoint(out / "checkpoints" / "last.ckpt", weights_only=False)  # all processes
    if not trainer.is_global_zero:
        return {}
    krun.save_model_folder(module.model, out / "tokenizer", out / "model")

    model = module.model.float().cpu()
    results = {
        "steps": trainer.global_step,
        "processes": trainer.world_size,
        "seconds_this_session": round(time.time() - started, 1),
        "baseline_token": tokenizer.id_to_token(baseline_id),
        "validation": evaluate(model, val_loader, baseline_id),
        "test": evaluate(model, eval_batches(blocks["test"], d.batch_size, vocab_size, ids,
                                             d.mlm_probability, keys=architecture.inputs), baseline_id),
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def report(results: dict) -> str:
    """The line ``kaibert-train`` prints at the end of a run."""
    v, te = results["validation"], results["test"]
    return (f"steps {results['steps']}  validation: loss {v['loss']:.4f} perplexity "
            f"{v['perplexity']:.2f} accuracy {v['accuracy']:.4f}  test: accuracy {te['accuracy']:.4f} "
            f"(most frequent token {results['baseline_token']!r}: {te['baseline_accuracy']:.4f})")


def main(argv: list[str] | None = None) -> None:
    """``kaibert-train --config C [--resume [CKPT]] [--output-dir D]``."""
    from kaibert.data import CorpusError

    command(argv, prog="kaibert-train", module="kaibert.train",
            description="Train a BERT masked language model from a YAML config.",
            example="configs/shakespeare-mini.yaml", load=load_config, run=run, report=report,
            errors=(CorpusError,))

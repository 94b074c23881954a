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
import contextlib
import json
import logging
import math
import os
import shutil
import shlex
import signal
import sys
import time
import warnings
from pathlib import Path

import torch

from kaibert.train.config import ConfigError, RunConfig, load_config, model_config_dict


class RunFinished(Exception):
    """``--resume`` on a run that already reached ``max_steps``: nothing to do."""


class RunInterrupted(Exception):
    """The run was stopped (SIGTERM, Ctrl-C) after ``step`` steps; ``interrupted.ckpt`` holds it."""

    def __init__(self, step: int, checkpoint: Path, signal_name: str):
        super().__init__(f"stopped by {signal_name} after step {step}")
        self.step, self.checkpoint, self.signal_name = step, checkpoint, signal_name


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
def _quiet_lightning():
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


def _finished_steps(out: Path) -> int | None:
    """The steps a run's ``results.json`` records, or None if the run never finished."""
    path = out / "results.json"
    if not path.is_file():
        return None
    try:
        return int(json.loads(path.read_text())["steps"])
    except (ValueError, KeyError, TypeError):
        return None


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


def process_rank() -> int:
    """This process's global rank, from what the launcher set (torchrun, srun or Lightning); 0 alone.

    Read before Lightning starts, to decide who writes the config and learns the vocabulary.
    """
    env = os.environ
    if "RANK" in env:                                       # torchrun, and Lightning's own launcher
        return int(env["RANK"])
    if "SLURM_PROCID" in env and int(env.get("SLURM_NTASKS", "1")) > 1:  # srun
        return int(env["SLURM_PROCID"])
    if "LOCAL_RANK" in env:                                 # Lightning's launcher on one machine
        return int(env.get("NODE_RANK", 0)) * int(env.get("LOCAL_WORLD_SIZE", 1)) + int(env["LOCAL_RANK"])
    return 0


def _wait_for(path: Path, minutes: float = 30.0) -> None:
    """Wait until rank 0 has written ``path`` (a shared folder across machines is assumed)."""
    deadline = time.time() + 60 * minutes
    while not path.exists():
        if time.time() > deadline:
            raise RuntimeError(f"waited {minutes} minutes for {path}, which process 0 writes; is "
                               "output_dir on a file system that all machines share?")
        time.sleep(1.0)


def _accelerated(t) -> bool:
    """Whether the run will use a GPU: the accelerator asks for one, or is 'auto' and one is there."""
    return t.accelerator in ("gpu", "cuda") or (t.accelerator == "auto" and torch.cuda.is_available())


def run(config: RunConfig, resume: str | bool | None = None, callbacks: list | None = None
        ) -> dict:
    """Train as the config says; return the final validation and test metrics.

    ``resume``: None for a fresh run, True for the newest checkpoint in ``output_dir``, or the
    path of a ``.ckpt`` file. With several processes (``training.devices`` x ``num_nodes``), each
    runs this function; process 0 alone writes the config, vocabulary, model, logs and results,
    and returns the metrics (the others return ``{}``).
    """
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import ModelCheckpoint, TQDMProgressBar
    from pytorch_lightning.loggers import CSVLogger
    from pytorch_lightning.utilities.exceptions import SIGTERMException

    from kaibert import data as kdata
    from kaibert.train.batches import MaskedBatches, eval_batches, special_token_ids
    from kaibert.train.loop import evaluate
    from kaibert.train.module import MLMModule

    d, t = config.data, config.training
    out = Path(config.output_dir)
    ckpt_dir, tok_dir = out / "checkpoints", out / "tokenizer"
    writer = process_rank() == 0
    ckpt_path = None
    if resume:
        done = _finished_steps(out)
        if resume is True and done is not None and done >= t.max_steps:
            raise RunFinished(f"the run in {out} is finished ({done} of training.max_steps = "
                              f"{t.max_steps} steps; its results are in {out / 'results.json'}). "
                              "Nothing to resume. To train further, start a new run from its "
                              f"weights with training.init_from: {out / 'model'}")
        ckpt_path = newest_checkpoint(out) if resume is True else Path(resume)
        if not ckpt_path.is_file():
            raise FileNotFoundError(f"checkpoint {ckpt_path} not found")
    elif writer and ckpt_dir.is_dir() and any(ckpt_dir.glob("*.ckpt")):
        raise FileExistsError(f"{out} already holds a run; continue it with --resume, or choose "
                              "another output_dir (or delete that folder) to start afresh")
    kdata.check_dataset_name(d.dataset)
    if t.num_threads is not None:
        torch.set_num_threads(t.num_threads)
    if writer:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")

    started = time.time()
    if writer and not (tok_dir / "vocab.txt").is_file():
        # Learned (or copied) into a side folder and renamed when complete, so that processes
        # waiting for it never read half a vocabulary.
        partial = out / f"tokenizer.partial-{os.getpid()}"
        tokenizer, blocks = kdata.prepare_data(d.dataset, partial, d.vocab_size, d.block_size,
                                               corpus_dir=d.corpus_dir, dataset_config=d.dataset_config,
                                               vocab_from=d.tokenizer)
        partial.rename(tok_dir)
    else:
        if not writer:
            _wait_for(tok_dir / "vocab.txt")
        tokenizer, blocks = kdata.prepare_data(d.dataset, tok_dir, d.vocab_size, d.block_size,
                                               corpus_dir=d.corpus_dir, dataset_config=d.dataset_config)
    train_blocks = blocks["train"]
    if d.max_train_blocks is not None:
        train_blocks = train_blocks.select(range(min(d.max_train_blocks, len(train_blocks))))
    ids = special_token_ids(tokenizer)
    vocab_size = tokenizer.get_vocab_size()
    baseline_id, _ = kdata.most_frequent_token(train_blocks, ids.values())

    model_config = model_config_dict(config, vocab_size)
    if _accelerated(t) and "attn_implementation" not in config.model:
        model_config["attn_implementation"] = "sdpa"        # PyTorch's fused attention on a GPU
    pl.seed_everything(config.seed, workers=True, verbose=False)
    module = MLMModule(
        model_config, learning_rate=t.learning_rate,
        weight_decay=t.weight_decay, betas=list(t.adam_betas), eps=t.adam_eps,
        schedule=t.schedule, warmup_steps=t.warmup_steps, total_steps=t.max_steps,
        baseline_token_id=baseline_id, compile=t.compile,
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

    train_loader = MaskedBatches(train_blocks, d.batch_size, t.max_steps, vocab_size, ids,
                                 d.mlm_probability, seed=config.seed)
    val_loader = eval_batches(blocks["validation"], d.batch_size, vocab_size, ids,
                              d.mlm_probability, max_batches=d.val_batches)

    class ShareOfTheBatch(pl.Callback):
        """Each process takes its share of the global batch, from the step the run is at."""

        def on_train_start(self, trainer, pl_module):
            train_loader.set_share(trainer.global_rank, trainer.world_size)
            train_loader.start = trainer.global_step

    class StopOnSigterm(pl.Callback):
        """On SIGTERM, finish the step, then stop every process after the same step.

        The handler only notes the signal. After each step the processes agree (one all-reduce)
        whether any of them got it, and all stop together; SaveOnInterrupt then saves the run.
        (Lightning's own handler talks to the other processes from inside the signal handler,
        which can deadlock when the signal arrives during another collective call.)
        """

        def __init__(self):
            self.signalled = False

        def on_train_start(self, trainer, pl_module):
            signal.signal(signal.SIGTERM, self._note)      # replaces Lightning's for this fit

        def _note(self, signum, frame):
            self.signalled = True

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            stop = torch.tensor(float(self.signalled))
            if trainer.world_size > 1:
                stop = trainer.strategy.reduce(stop.to(pl_module.device), reduce_op="sum")
            if stop.item() > 0:
                # Lightning stops at the end of this step, once its logs are written, with
                # SIGTERMException: the same on every process, since they all agreed here.
                trainer._signal_connector.received_sigterm = True

    class SavePretrained(pl.Callback):
        """Beside every Lightning checkpoint, the model in Hugging Face format (process 0 only)."""

        def on_save_checkpoint(self, trainer, pl_module, checkpoint):
            if trainer.is_global_zero:
                save_model_folder(pl_module.model, tok_dir, out / "model")

    class SaveOnInterrupt(pl.Callback):
        """A run stopped by an exception or a signal leaves ``interrupted.ckpt`` to resume from.

        (Lightning's OnExceptionCheckpoint does the same, but also makes every fresh ``fit`` look
        for a checkpoint to load, with a misleading warning when there is none.)
        """

        def on_exception(self, trainer, pl_module, exception):
            trainer.save_checkpoint(ckpt_dir / "interrupted.ckpt", weights_only=False)

    every_callbacks = [
        ShareOfTheBatch(),
        StopOnSigterm(),
        ModelCheckpoint(dirpath=ckpt_dir, filename="step-{step}", auto_insert_metric_name=False,
                        every_n_train_steps=t.save_every_steps,
                        save_top_k=1, save_last=True),
        SaveOnInterrupt(),
        SavePretrained(),
    ]
    if t.progress_bar:
        every_callbacks.append(TQDMProgressBar(refresh_rate=t.log_every_steps))
    with _quiet_lightning():
        trainer = pl.Trainer(
            max_steps=t.max_steps, max_epochs=-1,
            max_time=None if t.max_minutes is None else {"minutes": t.max_minutes},
            accelerator=t.accelerator, devices=t.devices, num_nodes=t.num_nodes, strategy=t.strategy,
            precision=_precision(t.precision), gradient_clip_val=t.max_grad_norm,
            gradient_clip_algorithm="norm", val_check_interval=min(t.val_every_steps, t.max_steps),
            check_val_every_n_epoch=None, num_sanity_val_steps=0, log_every_n_steps=t.log_every_steps,
            logger=CSVLogger(save_dir=str(out), name="logs", flush_logs_every_n_steps=t.log_every_steps),
            callbacks=every_callbacks + (callbacks or []),
            enable_progress_bar=t.progress_bar, enable_model_summary=t.progress_bar,
            deterministic=True,
        )
        try:
            trainer.fit(module, train_dataloaders=train_loader, val_dataloaders=val_loader,
                        ckpt_path=str(ckpt_path) if ckpt_path else None)
        except (SIGTERMException, SystemExit, KeyboardInterrupt) as stop:
            # Lightning stops at the end of a step on SIGTERM (and exits on Ctrl-C); both leave
            # interrupted.ckpt behind. Say so instead of exiting as if the run had finished.
            name = "SIGTERM" if isinstance(stop, SIGTERMException) else "an interrupt"
            raise RunInterrupted(trainer.global_step, ckpt_dir / "interrupted.ckpt", name) from None
    trainer.save_checkpoint(ckpt_dir / "last.ckpt", weights_only=False)   # all processes take part
    if not trainer.is_global_zero:
        return {}
    save_model_folder(module.model, tok_dir, out / "model")

    model = module.model.float().cpu()
    results = {
        "steps": trainer.global_step,
        "processes": trainer.world_size,
        "seconds_this_session": round(time.time() - started, 1),
        "baseline_token": tokenizer.id_to_token(baseline_id),
        "validation": evaluate(model, val_loader, baseline_id),
        "test": evaluate(model, eval_batches(blocks["test"], d.batch_size, vocab_size, ids,
                                             d.mlm_probability), baseline_id),
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def _resume_command(argv: list[str]) -> str:
    """The command line that continues this run: the same arguments plus ``--resume``."""
    invoked = Path(sys.argv[0]).name
    start = ["kaibert-train"] if invoked == "kaibert-train" else [sys.executable, "-m", "kaibert.train"]
    args = [a for a in argv if a != "--resume"]
    return shlex.join(start + args + ["--resume"])


def run_parser(prog: str, description: str, example: str) -> argparse.ArgumentParser:
    """The arguments every config-driven run takes (training here, fine-tuning in kaibert.finetune)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", required=True, help=f"YAML config, e.g. {example}")
    parser.add_argument("--resume", nargs="?", const=True, default=None, metavar="CKPT",
                        help="continue from the newest checkpoint of output_dir, or from CKPT")
    parser.add_argument("--output-dir", default=None, help="override the config's output_dir")
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = run_parser("kaibert-train", "Train a BERT masked language model from a YAML config.",
                        "configs/shakespeare-mini.yaml")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    from kaibert.data import CorpusError

    try:
        config = load_config(args.config)
        if args.output_dir:
            config.output_dir = args.output_dir
        results = run(config, resume=args.resume)
    except RunFinished as done:
        print(f"kaibert-train: {done}")
        return
    except RunInterrupted as stop:
        code = 143 if stop.signal_name == "SIGTERM" else 130
        if process_rank() != 0:
            parser.exit(code)
        parser.exit(code, f"kaibert-train: {stop}; the run is saved in {stop.checkpoint}.\n"
                          f"Resume it with:\n  {_resume_command(argv)}\n")
    except (ConfigError, CorpusError, FileExistsError, FileNotFoundError) as err:
        parser.exit(2, f"kaibert-train: error: {err}\n")
    if not results:                                         # processes other than 0 report nothing
        return
    v, te = results["validation"], results["test"]
    print(f"steps {results['steps']}  validation: loss {v['loss']:.4f} perplexity "
          f"{v['perplexity']:.2f} accuracy {v['accuracy']:.4f}  test: accuracy {te['accuracy']:.4f} "
          f"(most frequent token {results['baseline_token']!r}: {te['baseline_accuracy']:.4f})")
    print(f"model saved to {Path(config.output_dir) / 'model'}")

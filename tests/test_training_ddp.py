"""Two processes on CPU (strategy ddp, gloo) train exactly as one: same global batches, same losses.

Started the way a user starts it, ``python -m kaibert.train --config C``; stopped by SIGTERM half
way, resumed with ``--resume``; compared step by step with the same config on one process.
"""

import json
import re
import shlex
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

from kaibert import data
from kaibert import train as ktrain

pytestmark = pytest.mark.slow

STEPS = 60


def tiny_config(root, corpus, vocab, name, **training):
    return {
        "seed": 0, "output_dir": str(root / name),
        "data": {"corpus_dir": str(corpus), "tokenizer": str(vocab), "vocab_size": 400,
                 "block_size": 32, "batch_size": 8, "val_batches": 2},
        "model": {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
                  "intermediate_size": 32, "hidden_dropout_prob": 0.0,
                  "attention_probs_dropout_prob": 0.0},
        "training": {"max_steps": STEPS, "learning_rate": 1e-2, "warmup_steps": 5,
                     "val_every_steps": STEPS // 2, "save_every_steps": 10, "log_every_steps": 1,
                     "progress_bar": False, "num_threads": 1, "accelerator": "cpu", **training},
    }


def losses(folder):
    metrics = ktrain.read_metrics(folder)
    return metrics[metrics["train_loss"].notna()].set_index("step")["train_loss"]


def test_two_processes_match_one_resume_and_only_process_0_writes(tmp_path):
    corpus = data.sample_corpus(tmp_path / "corpus", lines_per_work=60)
    vocab = tmp_path / "vocab"
    data.prepare_data(folder=vocab, vocab_size=400, block_size=32, corpus_dir=corpus)

    threads = torch.get_num_threads()
    one = ktrain.run(ktrain.config_from_dict(tiny_config(tmp_path, corpus, vocab, "one")))
    torch.set_num_threads(threads)

    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump(tiny_config(tmp_path, corpus, vocab, "two", devices=2, strategy="ddp")))
    command = [sys.executable, "-m", "kaibert.train", "--config", str(path)]
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoints = tmp_path / "two" / "checkpoints"
    deadline = time.time() + 600
    while job.poll() is None and not list(checkpoints.glob("step-*.ckpt")) and time.time() < deadline:
        time.sleep(0.05)
    job.send_signal(signal.SIGTERM)                     # what a scheduler sends at the end of a job
    out, err = job.communicate(timeout=600)
    assert job.returncode == 143, err
    stopped = int(re.search(r"stopped by SIGTERM after step (\d+)", err).group(1))
    assert 10 <= stopped < STEPS and not (tmp_path / "two" / "results.json").exists()
    assert err.count("Resume it with:") == 1             # said once, by process 0

    resume = err.strip().splitlines()[-1].strip()
    assert resume == shlex.join(command + ["--resume"])
    done = subprocess.run(shlex.split(resume), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    two = json.loads((tmp_path / "two" / "results.json").read_text())
    assert two["steps"] == STEPS and two["processes"] == 2

    # the same losses as one process, step by step, across the stop and the resume
    a, b = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert list(a.index) == list(b.index) == list(range(STEPS))
    assert (a - b).abs().max() < 1e-4
    assert two["validation"]["loss"] == pytest.approx(one["validation"]["loss"], abs=1e-4)

    # process 0 alone wrote: one log folder per session, one copy of each checkpoint, no leftovers
    written = sorted(str(p.relative_to(tmp_path / "two")) for p in (tmp_path / "two").rglob("*")
                     if p.is_file())
    assert written == ["checkpoints/interrupted.ckpt", "checkpoints/last.ckpt",
                       f"checkpoints/step-{STEPS}.ckpt", "config.json",
                       "logs/version_0/hparams.yaml", "logs/version_0/metrics.csv",
                       "logs/version_1/hparams.yaml", "logs/version_1/metrics.csv",
                       "model/config.json", "model/model.safetensors", "model/tokenizer_config.json",
                       "model/vocab.txt", "results.json", "tokenizer/tokenizer_config.json",
                       "tokenizer/vocab.txt"]

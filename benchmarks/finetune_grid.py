"""What pre-training buys: fine-tune from random weights, from shakespeare-mini and from MiniLM.

    python benchmarks/finetune_grid.py --out benchmarks/pretraining_grid.json
    python benchmarks/finetune_grid.py --task names --starts random shakespeare-mini --out benchmarks/names_grid.json

The genre task (comedy / history / tragedy, split by play) at several numbers of labelled training
passages. Every start gets the same budget at a given number of labels: the same optimizer steps,
batch size, learning rate, schedule and evaluation; only the starting weights differ.

- ``random``: shakespeare-mini's shape and vocabulary, random weights (``from_scratch: true``);
- ``shakespeare-mini``: chapter 09's model, pre-trained by MLM on the training plays only;
- ``minilm``: all-MiniLM-L6-v2's encoder (6 layers, hidden size 384), pre-trained on far more text.

``--task names`` runs the same comparison on tagging names (``kaibert.finetune.token_tasks``),
three seeds at every size, so that the spread from seed to seed is measured beside the means.

Writes a JSON file with, for every run, the test accuracy, macro-F1, confusion matrix, the best
validation accuracy, and the wall time, plus the command, the settings and the machine. Partial
results are written after every run, so an interrupted grid keeps what it finished.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import torch

from kaibert.finetune import engine

STARTS = {
    "random": {"init_from": "shakespeare-mini", "from_scratch": True},
    "shakespeare-mini": {"init_from": "shakespeare-mini"},
    "minilm": {"init_from": "minilm"},
}
# labelled training passages -> optimizer steps (batch 16) and the seeds run
BUDGETS = {100: (40, [0, 1, 2]), 1000: (120, [0]), None: (240, [0])}
SETTINGS = dict(task="genre", batch_size=16, max_length=72, learning_rate=1e-4, warmup_fraction=0.1,
                schedule="linear", val_examples=300, test_examples=600, progress_bar=False)
# Tagging names: labelled training passages -> steps (batch 16), three seeds everywhere.
NAMES_BUDGETS = {2000: (150, [0, 1, 2])}
NAMES_SETTINGS = dict(task="names", batch_size=16, max_length=96, learning_rate=1e-3, warmup_fraction=0.1,
                      schedule="linear", val_examples=300, test_examples=1000, progress_bar=False)
GRIDS = {"genre": (SETTINGS, BUDGETS), "names": (NAMES_SETTINGS, NAMES_BUDGETS)}


def summary_of_run(result: dict) -> dict:
    """What the grid keeps of a run's results: the test scores and the task's baselines."""
    metric = engine.get_task(result["task"]).metric
    test = {k: v for k, v in result["test"].items() if k in ("accuracy", "macro_f1", "confusion_matrix", "f1",
                                                            "precision", "recall", "exact_match")}
    baselines = {k: v["test"] for k, v in result.items() if k.endswith("_baseline")}
    return {f"best_validation_{metric}": result["validation"][metric], "test": test,
            **{f"{k}_test": v for k, v in baselines.items()}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="benchmarks/pretraining_grid.json")
    parser.add_argument("--task", default="genre", choices=list(GRIDS), help="genre (default) or names")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--starts", nargs="*", default=list(STARTS), choices=list(STARTS))
    parser.add_argument("--labels", nargs="*", default=["100", "1000", "all"], choices=["100", "1000", "all", "200", "2000"],
                        help="which numbers of labelled passages to run")
    parser.add_argument("--add", action="store_true",
                        help="add these runs to the results already in --out (a grid finished in parts); "
                             "a run done again (same start, labels and seed) replaces the earlier one")
    args = parser.parse_args(argv)
    settings, budgets = GRIDS[args.task]
    if args.task != "genre":
        args.labels = [str(k) for k in budgets] if args.labels == ["100", "1000", "all"] else args.labels
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    record = {
        "command": shlex.join(["python", "benchmarks/finetune_grid.py"] + (argv if argv is not None else sys.argv[1:])),
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": args.threads,
                    "torch": torch.__version__},
        "settings": settings, "budgets": {str(k or "all"): {"steps": s, "seeds": seeds}
                                          for k, (s, seeds) in budgets.items()},
        "runs": [],
    }
    command = record["command"]
    if args.add and out.is_file():  # keep the earlier runs, their command and their time
        record = json.loads(out.read_text())
        record.setdefault("continued_by", []).append(command)
    grid_start = time.time() - record.get("seconds_total", 0)
    with tempfile.TemporaryDirectory() as tmp:
        for labels, (steps, seeds) in budgets.items():
            if str(labels or "all") not in args.labels:
                continue
            for start in args.starts:
                for seed in seeds:
                    name = f"{start}-{labels or 'all'}-seed{seed}"
                    config = engine.config_from_dict({
                        **settings, **STARTS[start], "seed": seed, "train_examples": labels, "max_steps": steps,
                        "val_every_steps": max(1, steps // 4), "output_dir": str(Path(tmp) / name)})
                    began = time.time()
                    result = engine.run(config)
                    run = {"start": start, "labels": labels or result["train_examples"], "seed": seed,
                           "steps": result["steps"], "seconds": round(time.time() - began, 1),
                           "best_step": result["best_step"], **summary_of_run(result)}
                    same = (run["start"], run["labels"], run["seed"])
                    record["runs"] = [r for r in record["runs"] if (r["start"], r["labels"], r["seed"]) != same]
                    record["runs"].append(run)
                    record["seconds_total"] = round(time.time() - grid_start, 1)
                    out.write_text(json.dumps(record, indent=1) + "\n")
                    scores = "  ".join(f"{k} {v:.3f}" for k, v in run["test"].items() if k != "confusion_matrix")
                    print(f"{name:28s} {run['seconds']:7.1f}s  test {scores}", flush=True)
    print(f"wrote {out} ({record['seconds_total']:.0f} s)")


if __name__ == "__main__":
    main()

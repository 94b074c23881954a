"""Classic BERT against ModernBERT of about the same size, for the same wall-clock time, side by side.

    python benchmarks/compare_modernbert.py [--minutes 14] [--seeds 0 1] [--runs runs/compare]
    python benchmarks/compare_modernbert.py --analyse-only     # read finished runs again

Both models train with the same command (``python -m kaibert.train --config ...``) from
configs/compare-bert.yaml and configs/compare-modernbert.yaml, which differ only in ``model:``:
the shipped Shakespeare corpus, shakespeare-mini's vocabulary, the same blocks, batch, optimizer,
constant learning rate after the warm-up, and ``training.max_minutes``. All runs (each model, each
seed) start at the same time, one torch thread each, so a busy machine slows them alike.

Then it reads each run's log (the validation loss and ``train_seconds`` every ``val_every_steps``)
and prints the parameter counts, each run's final validation loss, and how long ModernBERT took to
reach BERT's final validation loss, as a share of the budget (and the other way round). It writes
benchmarks/results/compare_modernbert.json, one small CSV per run (validation loss against
seconds: the data of the plot), each run's whole log beside it, and compare_modernbert_curves.csv
(all runs in one table).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {"bert": ROOT / "configs" / "compare-bert.yaml",
           "modernbert": ROOT / "configs" / "compare-modernbert.yaml"}
RESULTS = ROOT / "benchmarks" / "results"


def run_config(arch: str, seed: int, runs: Path, minutes: float | None) -> Path:
    """The shipped config of ``arch`` with this seed, output folder and budget, written under runs/."""
    config = yaml.safe_load(CONFIGS[arch].read_text())
    config["seed"] = seed
    config["output_dir"] = str(runs / f"{arch}-seed{seed}")
    if minutes is not None:
        config["training"]["max_minutes"] = minutes
    path = runs / "configs" / f"{arch}-seed{seed}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def launch(seeds: list[int], runs: Path, minutes: float | None) -> None:
    """Start every run at once (one process each) and wait for all of them."""
    procs = []
    for seed in seeds:
        for arch in CONFIGS:
            config = run_config(arch, seed, runs, minutes)
            log = open(runs / f"{arch}-seed{seed}.log", "w")
            cmd = [sys.executable, "-m", "kaibert.train", "--config", str(config)]
            procs.append((arch, seed, subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)))
            print("started:", " ".join(cmd), flush=True)
    for arch, seed, proc in procs:
        if proc.wait() != 0:
            raise SystemExit(f"the {arch} run with seed {seed} failed; see {runs / f'{arch}-seed{seed}.log'}")


def parameter_counts() -> dict[str, int]:
    """Parameters of each model as its config builds it (vocabulary: shakespeare-mini's 8,000)."""
    from kaibert.train.config import STANDARD_IDS, load_config, model_config_dict

    counts = {}
    for arch, path in CONFIGS.items():
        config = load_config(path)
        model = config.architecture().build(model_config_dict(config, config.data.vocab_size, STANDARD_IDS))
        counts[arch] = sum(p.numel() for p in model.parameters())
    return counts


def validation_curve(output_dir: Path):
    """(seconds, step, val_loss) rows of a run's log, one per validation."""
    from kaibert.run import read_metrics

    frame = read_metrics(output_dir)
    frame = frame.dropna(subset=["val_loss", "train_seconds"])
    return frame[["train_seconds", "step", "val_loss", "val_accuracy"]].reset_index(drop=True)


def time_to_reach(curve, target: float) -> float | None:
    """Seconds of the first validation at or below ``target``; None if the run never got there."""
    reached = curve[curve["val_loss"] <= target]
    return None if reached.empty else float(reached["train_seconds"].iloc[0])


def analyse(seeds: list[int], runs: Path, minutes: float) -> dict:
    budget = minutes * 60
    counts = parameter_counts()
    rows, per_run, comparisons = [], {}, {}
    for seed in seeds:
        final, curves = {}, {}
        for arch in CONFIGS:
            out = runs / f"{arch}-seed{seed}"
            results = json.loads((out / "results.json").read_text())
            curve = validation_curve(out)
            curves[arch], final[arch] = curve, results["validation"]["loss"]
            name = f"{arch}-seed{seed}"
            csv = RESULTS / "compare_modernbert" / f"{name}.csv"
            csv.parent.mkdir(parents=True, exist_ok=True)
            curve.to_csv(csv, index=False, float_format="%.5g")
            # the whole log (train loss and learning rate every few steps as well), also small
            from kaibert.run import read_metrics
            read_metrics(out).to_csv(csv.with_name(f"{name}-metrics.csv"), index=False, float_format="%.5g")
            per_run[name] = {"architecture": arch, "seed": seed, "steps": results["steps"],
                             "final_val_loss": round(final[arch], 4),
                             "final_val_accuracy": round(results["validation"]["accuracy"], 4),
                             "test_loss": round(results["test"]["loss"], 4),
                             "last_logged_seconds": round(float(curve["train_seconds"].iloc[-1]), 1),
                             "curve_csv": str(csv.relative_to(ROOT))}
            for r in curve.itertuples():
                rows.append((arch, seed, r.step, r.train_seconds, r.val_loss))
        t_mb = time_to_reach(curves["modernbert"], final["bert"])
        t_b = time_to_reach(curves["bert"], final["modernbert"])
        # the same question by steps instead of seconds: the last validation step both runs reached
        step = int(max(set(curves["bert"]["step"]) & set(curves["modernbert"]["step"])))
        at_step = {a: round(float(curves[a].loc[curves[a]["step"] == step, "val_loss"].iloc[0]), 4)
                   for a in CONFIGS}
        comparisons[f"seed{seed}"] = {
            "bert_final_val_loss": round(final["bert"], 4),
            "modernbert_final_val_loss": round(final["modernbert"], 4),
            "modernbert_seconds_to_bert_final": None if t_mb is None else round(t_mb, 1),
            "modernbert_share_of_budget_to_bert_final": None if t_mb is None else round(t_mb / budget, 3),
            "bert_seconds_to_modernbert_final": None if t_b is None else round(t_b, 1),
            "bert_share_of_budget_to_modernbert_final": None if t_b is None else round(t_b / budget, 3),
            "equal_steps": {"step": step, **{f"{a}_val_loss": v for a, v in at_step.items()}},
        }
    import pandas as pd

    pd.DataFrame(rows, columns=["architecture", "seed", "step", "seconds", "val_loss"]).to_csv(
        RESULTS / "compare_modernbert_curves.csv", index=False, float_format="%.5g")
    return {"budget_minutes": minutes, "parameters": counts, "runs": per_run, "comparisons": comparisons,
            "configs": {a: str(p.relative_to(ROOT)) for a, p in CONFIGS.items()},
            "curves_csv": "benchmarks/results/compare_modernbert_curves.csv"}


def report(summary: dict) -> str:
    budget = summary["budget_minutes"] * 60
    p = summary["parameters"]
    lines = [f"parameters: bert {p['bert']:,}  modernbert {p['modernbert']:,} "
             f"(ratio {p['modernbert'] / p['bert']:.4f})",
             f"budget: {summary['budget_minutes']} minutes of wall time per run, all runs side by side"]
    for name, r in summary["runs"].items():
        lines.append(f"{name:18s} steps {r['steps']:6d} ({r['steps'] / budget:.3f} a second)  final validation "
                     f"loss {r['final_val_loss']:.4f}  accuracy {r['final_val_accuracy']:.4f}")
    for seed, c in summary["comparisons"].items():
        t = c["modernbert_seconds_to_bert_final"]
        said = (f"reached BERT's final loss {c['bert_final_val_loss']:.4f} after {t:.0f} s "
                f"({t / budget:.2f} of the budget)" if t is not None
                else f"never reached BERT's final loss {c['bert_final_val_loss']:.4f}")
        t = c["bert_seconds_to_modernbert_final"]
        back = (f"BERT reached ModernBERT's final {c['modernbert_final_val_loss']:.4f} after {t:.0f} s "
                f"({t / budget:.2f})" if t is not None
                else f"BERT never reached ModernBERT's final {c['modernbert_final_val_loss']:.4f}")
        lines.append(f"{seed}: ModernBERT {said}; {back}")
        e = c["equal_steps"]
        lines.append(f"{seed}: at step {e['step']} (both reached it): validation loss bert {e['bert_val_loss']:.4f}, "
                     f"modernbert {e['modernbert_val_loss']:.4f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=None,
                        help="wall-clock budget of each run (default: the configs' training.max_minutes)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "compare")
    parser.add_argument("--analyse-only", action="store_true", help="read finished runs, train nothing")
    args = parser.parse_args()
    minutes = args.minutes
    if minutes is None:
        minutes = yaml.safe_load(CONFIGS["bert"].read_text())["training"]["max_minutes"]
    runs = args.runs.resolve()
    if not args.analyse_only:
        started = time.time()
        launch(args.seeds, runs, args.minutes)
        print(f"all runs done in {time.time() - started:.0f} s", flush=True)
    summary = analyse(args.seeds, runs, minutes)
    (RESULTS / "compare_modernbert.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(report(summary))


if __name__ == "__main__":
    main()

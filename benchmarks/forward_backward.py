"""kaibert vs transformers BERT, side by side in one process: same weights, same batch, CPU.

    python benchmarks/forward_backward.py [--batch 8] [--seq 128] [--repeats 10] [--threads 2]

Prints sequences per second for forward (inference) and forward+backward (an MLM training
step's work), for transformers and for kaibert's two attention paths, and the ratios.
The runs are interleaved (A B C A B C ...) so that a busy machine slows all of them alike.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import transformers

from kaibert import BertConfig, BertForMaskedLM
from kaibert.pretrained import load_hf_state_dict

# MiniLM-L6-H384's shape: the pretrained BERT the course uses offline.
CONFIG = dict(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
              intermediate_size=1536, max_position_embeddings=512)


def make_models():
    hf_config = transformers.BertConfig(**CONFIG, attn_implementation="sdpa")
    theirs = transformers.BertForMaskedLM(hf_config).eval()
    models = {"transformers (sdpa)": theirs}
    for impl in ("eager", "sdpa"):
        ours = BertForMaskedLM(BertConfig(**CONFIG, attn_implementation=impl)).eval()
        load_hf_state_dict(ours, theirs.state_dict())
        models[f"kaibert ({impl})"] = ours
    return models


def step(model, batch, backward: bool) -> None:
    if backward:
        model.zero_grad(set_to_none=True)
        model(**batch).loss.backward()
    else:
        with torch.no_grad():
            model(**batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    models = make_models()
    ids = torch.randint(1000, CONFIG["vocab_size"], (args.batch, args.seq))
    mask = torch.ones_like(ids)
    mask[args.batch // 2:, args.seq * 3 // 4:] = 0  # some padding, as in a real batch
    labels = torch.where(torch.rand(ids.shape) < 0.15, ids, torch.full_like(ids, -100))
    batch = dict(input_ids=ids, attention_mask=mask, labels=labels)

    # Same numbers first: a benchmark of two different computations would mean nothing.
    with torch.no_grad():
        logits = {name: m(**batch).logits for name, m in models.items()}
    ref = logits["transformers (sdpa)"]
    for name, value in logits.items():
        print(f"max |logits - transformers| for {name}: {(value - ref).abs().max().item():.2e}")

    print(f"\nbatch {args.batch} x {args.seq} tokens, {args.threads} threads, median of {args.repeats} runs")
    for backward in (False, True):
        for model in models.values():
            step(model, batch, backward)  # warm-up
        times = {name: [] for name in models}
        for _ in range(args.repeats):
            for name, model in models.items():
                start = time.perf_counter()
                step(model, batch, backward)
                times[name].append(time.perf_counter() - start)
        label = "forward+backward" if backward else "forward"
        base = statistics.median(times["transformers (sdpa)"])
        print(f"\n{label:>18}  {'seq/s':>8}  {'speed vs transformers':>22}")
        for name, runs in times.items():
            median = statistics.median(runs)
            print(f"{name:>22}  {args.batch / median:8.1f}  {base / median:21.2f}x")


if __name__ == "__main__":
    main()

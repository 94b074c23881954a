"""Train kaibert and transformers' BertForMaskedLM side by side: same weights, batches and steps.

    python benchmarks/train_side_by_side.py [--steps 40] [--batch-size 16] [--attn eager]

Both models start from the same weights (kaibert's are saved with ``save_pretrained`` and loaded
by ``transformers``), see the same masked batches of the Shakespeare corpus, and use the same
AdamW groups, schedule and clipping. Steps alternate between the two, so a busy machine slows
both alike. Prints tokens per second of each, their ratio, and the losses they reached; with
dropout off (the default) the two loss curves should agree to float rounding.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from kaibert import BertConfig, BertForMaskedLM, data
from kaibert.fill_mask import SHAKESPEARE_MINI
from kaibert.schedules import make_scheduler
from kaibert.train import MaskedBatches, make_optimizer, special_token_ids


def step(model, batch, optimizer, scheduler, max_grad_norm=1.0) -> tuple[float, float]:
    """One training step on the full forward (both libraries compute every position's logits)."""
    start = time.perf_counter()
    loss = model(**batch).loss
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    scheduler.step()
    return loss.item(), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps at the start")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--block-size", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--intermediate", type=int, default=512)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--attn", choices=["eager", "sdpa"], default="eager")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--vocab", default=SHAKESPEARE_MINI,
                        help="a folder with vocab.txt (default: the shipped model's)")
    args = parser.parse_args()

    import transformers

    if args.threads:
        torch.set_num_threads(args.threads)
    workdir = Path(tempfile.mkdtemp(prefix="kaibert-bench-"))
    vocab_from = args.vocab if (Path(args.vocab) / "vocab.txt").is_file() else None
    tokenizer, blocks = data.prepare_data(folder=workdir / "tok", vocab_from=vocab_from,
                                          block_size=args.block_size)
    ids = special_token_ids(tokenizer)
    vocab_size = tokenizer.get_vocab_size()
    total = args.warmup + args.steps
    batches = list(MaskedBatches(blocks["train"], args.batch_size, total, vocab_size, ids, seed=0))

    torch.manual_seed(0)
    config = BertConfig(vocab_size=vocab_size, hidden_size=args.hidden, num_hidden_layers=args.layers,
                        num_attention_heads=args.heads, intermediate_size=args.intermediate,
                        max_position_embeddings=args.block_size, hidden_dropout_prob=args.dropout,
                        attention_probs_dropout_prob=args.dropout, attn_implementation=args.attn)
    ours = BertForMaskedLM(config).train()
    ours.save_pretrained(workdir / "init")
    theirs = transformers.BertForMaskedLM.from_pretrained(
        workdir / "init", attn_implementation=args.attn).train()

    runs = {}
    for name, model in (("kaibert", ours), ("transformers", theirs)):
        optimizer = make_optimizer(model, learning_rate=args.lr)
        runs[name] = {"model": model, "optimizer": optimizer,
                      "scheduler": make_scheduler(optimizer, "linear", args.warmup, total),
                      "losses": [], "seconds": 0.0}
    for i, batch in enumerate(batches):
        for name in (("kaibert", "transformers") if i % 2 == 0 else ("transformers", "kaibert")):
            r = runs[name]
            loss, seconds = step(r["model"], batch, r["optimizer"], r["scheduler"])
            r["losses"].append(loss)
            if i >= args.warmup:
                r["seconds"] += seconds

    tokens = args.steps * args.batch_size * args.block_size
    params = sum(p.numel() for p in ours.parameters())
    print(f"config: hidden {args.hidden}, {args.layers} layers, {args.heads} heads, intermediate "
          f"{args.intermediate}, vocab {vocab_size}, {params / 1e6:.2f}M parameters, attention "
          f"{args.attn}, dropout {args.dropout}")
    print(f"batches: {args.batch_size} x {args.block_size} tokens, {args.steps} timed steps after "
          f"{args.warmup} untimed, torch {torch.__version__} on {torch.get_num_threads()} CPU threads, "
          f"transformers {transformers.__version__}")
    print(f"{'':14s}{'tokens/s':>10s}{'first loss':>12s}{'last loss':>11s}")
    for name, r in runs.items():
        print(f"{name:14s}{tokens / r['seconds']:10.0f}{r['losses'][0]:12.4f}{r['losses'][-1]:11.4f}")
    ratio = runs["transformers"]["seconds"] / runs["kaibert"]["seconds"]
    gap = max(abs(a - b) for a, b in zip(runs["kaibert"]["losses"], runs["transformers"]["losses"]))
    print(f"kaibert / transformers speed: {ratio:.2f}x (above 1: kaibert is faster)")
    print(f"largest loss difference over {total} steps: {gap:.2e}")


if __name__ == "__main__":
    main()

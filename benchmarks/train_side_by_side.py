"""Train kaibert and transformers' BertForMaskedLM side by side: same weights, batches and steps.

    python benchmarks/train_side_by_side.py [--shape shipped|minilm|base] [--steps N] [--threads 1]

Three contestants start from the same weights (kaibert's, saved with ``save_pretrained`` and
loaded by ``transformers``), see the same masked batches of the Shakespeare corpus, and use the
same AdamW groups, schedule and clipping:

- ``kaibert``: its default, ``sparse_prediction=True``: the MLM head scores only the labelled
  positions (about 15%) against the vocabulary;
- ``kaibert full``: ``sparse_prediction=False``, every position scored, as ``transformers`` does;
- ``transformers``: ``BertForMaskedLM``.

With ``--compile``, the second contestant is instead kaibert's default run through ``torch.compile``
(what ``training.compile: true`` does), to see whether compiling pays on this machine.

Steps alternate between them (in a rotating order), so a busy machine slows all alike. Prints
tokens per second of each, kaibert's ratio to transformers, and the largest loss difference; with
dropout off (the default) the loss curves agree to float rounding.

Shapes: ``shipped`` (shakespeare-mini: 4 layers, hidden 128, its 8,000-piece vocabulary),
``minilm`` (MiniLM: 6 layers, hidden 384, 30,522 pieces) and ``base`` (BERT-base: 12 layers,
hidden 768, 30,522 pieces; fewer steps, it is slow on a CPU).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from dataclasses import replace

from kaibert import BertConfig, BertForMaskedLM, data
from kaibert.fill_mask import SHAKESPEARE_MINI
from kaibert.schedules import make_scheduler
from kaibert.train import MaskedBatches, make_optimizer, special_token_ids


# hidden, layers, heads, intermediate, vocabulary (a folder with vocab.txt), timed steps, batch size
SHAPES = {
    "shipped": dict(hidden=128, layers=4, heads=4, intermediate=512, vocab="shipped", steps=40, batch_size=16),
    "minilm": dict(hidden=384, layers=6, heads=12, intermediate=1536, vocab="minilm", steps=12, batch_size=16),
    "base": dict(hidden=768, layers=12, heads=12, intermediate=3072, vocab="minilm", steps=4, batch_size=8),
}


def vocab_folder(name: str) -> str:
    if name == "shipped":
        return SHAKESPEARE_MINI
    if name == "minilm":
        from kaibert.course import pretrained_bert_path

        return str(pretrained_bert_path())
    return name


def step(model, batch, optimizer, scheduler, max_grad_norm=1.0, forward=None) -> tuple[float, float]:
    """One training step: each model's own loss (kaibert's default scores only labelled positions)."""
    start = time.perf_counter()
    loss = (model if forward is None else forward)(**batch).loss
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    scheduler.step()
    return loss.item(), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="shipped")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default: the shape's)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps at the start")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--block-size", type=int, default=128)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--attn", choices=["eager", "sdpa"], default="eager")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--compile", action="store_true",
                        help="replace 'kaibert full' by kaibert's default run through torch.compile "
                             "(the untimed warm-up steps pay for the compilation)")
    args = parser.parse_args()
    shape = SHAPES[args.shape]
    args.steps = args.steps or shape["steps"]
    args.batch_size = args.batch_size or shape["batch_size"]
    args.hidden, args.layers, args.heads = shape["hidden"], shape["layers"], shape["heads"]
    args.intermediate, args.vocab = shape["intermediate"], vocab_folder(shape["vocab"])

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
    # the second contestant: every position scored, or (--compile) the default through torch.compile
    second = "kaibert compiled" if args.compile else "kaibert full"
    full = BertForMaskedLM(config if args.compile else replace(config, sparse_prediction=False)).train()
    full.load_state_dict(ours.state_dict())
    theirs = transformers.BertForMaskedLM.from_pretrained(
        workdir / "init", attn_implementation=args.attn).train()

    runs = {}
    for name, model in (("kaibert", ours), (second, full), ("transformers", theirs)):
        optimizer = make_optimizer(model, learning_rate=args.lr)
        runs[name] = {"model": model, "optimizer": optimizer,
                      "forward": torch.compile(model) if name == "kaibert compiled" else model,
                      "scheduler": make_scheduler(optimizer, "linear", args.warmup, total),
                      "losses": [], "seconds": 0.0}
    names = list(runs)
    for i, batch in enumerate(batches):
        for name in names[i % 3:] + names[:i % 3]:
            r = runs[name]
            loss, seconds = step(r["model"], batch, r["optimizer"], r["scheduler"], forward=r["forward"])
            r["losses"].append(loss)
            if i >= args.warmup:
                r["seconds"] += seconds

    tokens = args.steps * args.batch_size * args.block_size
    params = sum(p.numel() for p in ours.parameters())
    print(f"shape {args.shape}: hidden {args.hidden}, {args.layers} layers, {args.heads} heads, intermediate "
          f"{args.intermediate}, vocab {vocab_size}, {params / 1e6:.2f}M parameters, attention "
          f"{args.attn}, dropout {args.dropout}")
    print(f"batches: {args.batch_size} x {args.block_size} tokens, {args.steps} timed steps after "
          f"{args.warmup} untimed, torch {torch.__version__} on {torch.get_num_threads()} CPU threads, "
          f"transformers {transformers.__version__}")
    print(f"{'':18s}{'tokens/s':>10s}{'first loss':>12s}{'last loss':>11s}")
    for name, r in runs.items():
        print(f"{name:18s}{tokens / r['seconds']:10.0f}{r['losses'][0]:12.4f}{r['losses'][-1]:11.4f}")
    for name in ("kaibert", second):
        ratio = runs["transformers"]["seconds"] / runs[name]["seconds"]
        gap = max(abs(a - b) for a, b in zip(runs[name]["losses"], runs["transformers"]["losses"]))
        print(f"{name} / transformers speed: {ratio:.2f}x (above 1: kaibert is faster); largest "
              f"loss difference over {total} steps: {gap:.2e}")


if __name__ == "__main__":
    main()

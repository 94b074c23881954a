"""kaibert's ModernBERT: unpadded vs padded, and against transformers, side by side in one process.

    python benchmarks/modernbert_speed.py [--batch 16] [--seq 256] [--repeats 7] [--threads 2]

1. Unpadding: forward+backward of kaibert's ModernBertForMaskedLM (an MLM training step's work;
   scoring every position, and with sparse_prediction only the masked ones) and of the bare encoder, on a batch about half padding, with unpadding (the default) and with
   its own padded path (unpad=False). Same model, same weights, same batch.
2. kaibert's ModernBertModel forward against transformers.ModernBertModel (sdpa) on the same
   weights: on the same half-padded batch, and on a batch without padding.

Runs are interleaved (A B A B ...) so that a busy machine slows all of them alike, and every ratio
is the median time of one over the median time of the other, measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import transformers

from kaibert import ModernBertConfig, ModernBertForMaskedLM, ModernBertModel
from kaibert.modernbert import load_modernbert_state_dict

# ModernBERT-base's proportions (head size 64, GeGLU width 1.5 H, a window of 128, every third
# layer global), scaled down to 6 layers of width 384 so that a CPU run takes seconds.
CONFIG = dict(vocab_size=30522, hidden_size=384, intermediate_size=576, num_hidden_layers=6, num_attention_heads=6,
              max_position_embeddings=1024, local_attention=128, pad_token_id=0, bos_token_id=1, cls_token_id=1,
              eos_token_id=2, sep_token_id=2)


def half_padded_batch(B: int, T: int, seed: int = 0):
    """Lengths spread evenly from T/16 to T (in a shuffled order): about half the batch is padding."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.linspace(T // 16, T, B).round().long()[torch.randperm(B, generator=g)]
    ids = torch.randint(3, CONFIG["vocab_size"], (B, T), generator=g)
    mask = (torch.arange(T)[None] < lengths[:, None]).long()  # (B, T)
    ids[mask == 0] = CONFIG["pad_token_id"]
    labels = torch.where((torch.rand(B, T, generator=g) < 0.3) & mask.bool(), ids, -100)  # 30% masking
    return ids, mask, labels


def timed(fn, repeats: int, runs: dict[str, list[float]]) -> None:
    """Call every function once per round, in turn, `repeats` rounds after one warm-up round."""
    for f in fn.values():
        f()
    for _ in range(repeats):
        for name, f in fn.items():
            start = time.perf_counter()
            f()
            runs.setdefault(name, []).append(time.perf_counter() - start)


def report(title: str, runs: dict[str, list[float]], base: str) -> None:
    base_time = statistics.median(runs[base])
    print(f"\n{title}")
    for name, times in runs.items():
        median = statistics.median(times)
        print(f"  {name:<44} {1000 * median:9.1f} ms   {base_time / median:5.2f}x vs {base}")


def train_step(model, batch: dict, unpad: bool | None):
    def step():
        model.zero_grad(set_to_none=True)
        out = model(**batch, unpad=unpad)
        loss = out.loss if hasattr(out, "loss") else out.last_hidden_state[batch["attention_mask"].bool()].square().mean()
        loss.backward()
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    config = ModernBertConfig(**CONFIG)
    ids, mask, labels = half_padded_batch(args.batch, args.seq)
    padding = 1 - mask.float().mean().item()
    print(f"batch {args.batch} x {args.seq} tokens, {padding:.0%} padding, {args.threads} threads, "
          f"median of {args.repeats} interleaved runs; config {CONFIG['num_hidden_layers']} layers x "
          f"{CONFIG['hidden_size']}, window {CONFIG['local_attention']}")

    # 1. unpadded vs padded, forward + backward, in train mode (dropout is 0 in ModernBERT's config).
    mlm = ModernBertForMaskedLM(config).train()
    # sparse_prediction (what configs/modernbert-mini.yaml trains with): only labelled rows meet the vocabulary
    sparse = ModernBertForMaskedLM(ModernBertConfig(**{**CONFIG, "sparse_prediction": True})).train()
    sparse.load_state_dict(mlm.state_dict())
    encoder = ModernBertModel(config).train()
    mlm_batch = dict(input_ids=ids, attention_mask=mask, labels=labels)
    enc_batch = dict(input_ids=ids, attention_mask=mask)
    with torch.no_grad():  # same numbers first: a race between two different computations means nothing
        a, b = mlm(**mlm_batch, unpad=True).loss, mlm(**mlm_batch, unpad=False).loss
    print(f"MLM loss unpadded {a.item():.6f}, padded {b.item():.6f} (|diff| {abs(a - b).item():.1e})")
    runs: dict[str, list[float]] = {}
    timed({"MLM forward+backward, padded (unpad=False)": train_step(mlm, mlm_batch, False),
           "MLM forward+backward, unpadded (default)": train_step(mlm, mlm_batch, None),
           "sparse MLM forward+backward, padded": train_step(sparse, mlm_batch, False),
           "sparse MLM forward+backward, unpadded": train_step(sparse, mlm_batch, None),
           "encoder forward+backward, padded": train_step(encoder, enc_batch, False),
           "encoder forward+backward, unpadded": train_step(encoder, enc_batch, None)}, args.repeats, runs)
    report("Unpadding (kaibert against its own padded path)",
           {k: v for k, v in runs.items() if k.startswith("MLM")}, "MLM forward+backward, padded (unpad=False)")
    report("", {k: v for k, v in runs.items() if k.startswith("sparse")}, "sparse MLM forward+backward, padded")
    report("", {k: v for k, v in runs.items() if k.startswith("encoder")}, "encoder forward+backward, padded")

    # 2. kaibert vs transformers (sdpa), forward only, same weights.
    theirs = transformers.ModernBertModel(transformers.ModernBertConfig(**config.to_dict(),
                                                                       attn_implementation="sdpa")).eval()
    ours = ModernBertModel(config).eval()
    load_modernbert_state_dict(ours, theirs.state_dict())
    full = torch.randint(3, CONFIG["vocab_size"], ids.shape)
    with torch.no_grad():
        x = ours(ids, mask).last_hidden_state
        y = theirs(input_ids=ids, attention_mask=mask).last_hidden_state
    print(f"\nmax |hidden - transformers| on real tokens: {(x - y)[mask.bool()].abs().max().item():.1e}")

    def forward(model, **batch):
        def run():
            with torch.no_grad():
                model(**batch)
        return run

    runs = {}
    timed({"transformers (sdpa), half-padded batch": forward(theirs, input_ids=ids, attention_mask=mask),
           "kaibert (sdpa, unpadded), half-padded batch": forward(ours, input_ids=ids, attention_mask=mask),
           "transformers (sdpa), no padding": forward(theirs, input_ids=full),
           "kaibert (sdpa), no padding": forward(ours, input_ids=full)}, args.repeats, runs)
    report("Forward, kaibert against transformers.ModernBertModel (sdpa), same weights",
           {k: v for k, v in runs.items() if "half-padded" in k}, "transformers (sdpa), half-padded batch")
    report("", {k: v for k, v in runs.items() if "no padding" in k}, "transformers (sdpa), no padding")


if __name__ == "__main__":
    main()

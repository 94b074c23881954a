"""How much has a masked language model learned? Its loss beside two models that only count.

    python benchmarks/counting_baselines.py [MODEL_FOLDER]

On the fixed masked validation batches that ``kaibert.train`` reports (15% masked, the same seed),
prints the cross-entropy in nats per masked token of:

- **frequency**: each token's share of the training plays, whatever the context;
- **neighbours**: counts of (left neighbour, token, right neighbour) in the training plays, backing
  off to (left neighbour, token) and then to frequency where a neighbour is masked or the pair is
  unseen;
- the model (the shipped ``shakespeare-mini`` unless another folder is given), on the batches as
  they are and with the unmasked words of each block shuffled (``train.shuffle_context``): the
  difference is what word order is worth to it; near zero, it reads a bag of words.

A model that uses its context should beat the frequency line at once and the neighbour counts
soon after: they read two tokens, the model reads all 64. This is a measurement, not a speed test.
"""

from __future__ import annotations

import argparse
import math
from collections import Counter

from kaibert import BertForMaskedLM, data
from kaibert.fill_mask import SHAKESPEARE_MINI
from kaibert.train import eval_batches, special_token_ids, word_order_gap


class NeighbourCounts:
    """P(token | left, right) from counts, smoothed by backing off to P(token | left), then P(token)."""

    def __init__(self, blocks, vocab_size: int, pair_weight: float = 400.0, triple_weight: float = 3.0):
        self.V, self.pair_weight, self.triple_weight = vocab_size, pair_weight, triple_weight
        self.single, self.pair, self.triple = Counter(), Counter(), Counter()
        self.left, self.around = Counter(), Counter()
        for ids in blocks:
            body = ids[1:-1]                                   # without [CLS] and [SEP]
            self.single.update(body)
            for a, x in zip(body, body[1:]):
                self.pair[a, x] += 1
                self.left[a] += 1
            for a, x, c in zip(body, body[1:], body[2:]):
                self.triple[a, c, x] += 1
                self.around[a, c] += 1
        self.total = sum(self.single.values())

    def frequency(self, x: int) -> float:
        return (self.single[x] + 0.5) / (self.total + 0.5 * self.V)

    def given_left(self, a: int | None, x: int) -> float:
        if a is None:
            return self.frequency(x)
        return (self.pair[a, x] + self.pair_weight * self.frequency(x)) / (self.left[a] + self.pair_weight)

    def given_both(self, a: int | None, c: int | None, x: int) -> float:
        if a is None or c is None:
            return self.given_left(a, x)
        return ((self.triple[a, c, x] + self.triple_weight * self.given_left(a, x))
                / (self.around[a, c] + self.triple_weight))


def counting_losses(counts: NeighbourCounts, batches, unusable: set[int]) -> dict[str, float]:
    """Mean -log p of the labels at the masked positions, for both counting models."""
    total = Counter()
    for batch in batches:
        inputs, labels = batch["input_ids"].tolist(), batch["labels"].tolist()
        for row, targets in zip(inputs, labels):
            for i, x in enumerate(targets):
                if x == -100:
                    continue
                a = row[i - 1] if i > 0 and row[i - 1] not in unusable else None
                c = row[i + 1] if i + 1 < len(row) and row[i + 1] not in unusable else None
                total["frequency"] -= math.log(counts.frequency(x))
                total["neighbours"] -= math.log(counts.given_both(a, c, x))
                total["count"] += 1
    n = total.pop("count")
    return {name: value / n for name, value in total.items()} | {"masked_tokens": n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="?", default=SHAKESPEARE_MINI, help="a BertForMaskedLM folder")
    parser.add_argument("--block-size", type=int, default=64)
    parser.add_argument("--val-batches", type=int, default=10, help="as data.val_batches in the config")
    args = parser.parse_args()

    tokenizer, blocks = data.prepare_data(folder=None, vocab_from=args.model, block_size=args.block_size)
    ids = special_token_ids(tokenizer)
    V = tokenizer.get_vocab_size()
    batches = eval_batches(blocks["validation"], 32, V, ids, max_batches=args.val_batches)
    counts = NeighbourCounts(blocks["train"]["input_ids"], V)
    losses = counting_losses(counts, batches, unusable=set(ids.values()))
    model = BertForMaskedLM.from_pretrained(args.model).eval()
    report = word_order_gap(model, batches, ids)

    print(f"validation plays, {losses['masked_tokens']} masked tokens; loss in nats per masked token")
    print(f"  uniform guess over {V} tokens     {math.log(V):.3f}")
    print(f"  frequency (counts of each token)  {losses['frequency']:.3f}")
    print(f"  neighbours (counts of triples)    {losses['neighbours']:.3f}")
    name = args.model.rstrip('/').split('/')[-1]
    print(f"  {name:<33s} {report['loss']:.3f}")
    print(f"  {'  the same, context shuffled':<33s} {report['shuffled_loss']:.3f}"
          f"   (word order is worth {report['gap']:.3f} nats to it)")


if __name__ == "__main__":
    main()

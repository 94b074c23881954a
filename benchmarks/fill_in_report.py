"""What a masked language model puts back on the test plays: the numbers of a model's TRAINING.md.

    python benchmarks/fill_in_report.py [MODEL_FOLDER] [--lines 500]

On plays the model never saw (the test split), prints:

- **masked tokens**: every block of 64 tokens of the test plays, 15% masked with the seed that
  ``kaibert.train`` evaluates with; how often the first guess is right, for words and for
  punctuation apart, and which tokens it guesses most;
- **common words in lines**: ``fill_mask.fill_in_common_words`` on ``--lines`` random lines of six
  words or more (``random.Random(0)``): the first common word (the, and, I, to, ...) of each is
  masked; how often it is the first guess and among the five best, against always answering the
  most frequent of them;
- **examples**: the five best guesses for a few lines.

A measurement, not a speed test: it takes a minute or two on a laptop CPU.
"""

from __future__ import annotations

import argparse
import random
from collections import Counter

import torch

from kaibert import BertForMaskedLM, BertTokenizer, data
from kaibert.fill_mask import SHAKESPEARE_MINI, fill_in_common_words, fill_mask, held_out_lines
from kaibert.train import eval_batches, special_token_ids

EXAMPLES = ["to be, or not to [MASK]: that is the question",
            "i pray you, [MASK] lord, let me go",
            "what is your [MASK]?",
            "good night, sweet [MASK]",
            "my kingdom for a [MASK]!"]


def masked_token_report(model, tokenizer, batches) -> dict:
    """First-guess accuracy over the masked tokens of ``batches``, for words and punctuation apart."""
    seen, right, guesses = Counter(), Counter(), Counter()
    with torch.no_grad():
        for b in batches:
            logits = model(b["input_ids"], b["attention_mask"]).logits            # (B, T, V)
            chosen = b["labels"] != -100
            for label, guess in zip(b["labels"][chosen].tolist(), logits.argmax(-1)[chosen].tolist()):
                kind = "words" if tokenizer.convert_ids_to_tokens(label).strip("#").isalpha() else "punctuation"
                seen[kind] += 1
                right[kind] += label == guess
                guesses[tokenizer.convert_ids_to_tokens(guess)] += 1
    total = sum(seen.values())
    return {"masked_tokens": total, "accuracy": sum(right.values()) / total,
            "by_kind": {kind: (seen[kind], right[kind] / seen[kind]) for kind in sorted(seen)},
            "first_guesses": [(token, count / total) for token, count in guesses.most_common(5)]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="?", default=SHAKESPEARE_MINI, help="a BertForMaskedLM folder")
    parser.add_argument("--lines", type=int, default=500, help="test lines for the common-word fill-in")
    args = parser.parse_args(argv)

    model = BertForMaskedLM.from_pretrained(args.model).eval()
    tokenizer = BertTokenizer.from_pretrained(args.model)
    fast, blocks = data.prepare_data(folder=None, vocab_from=args.model, block_size=64)
    batches = eval_batches(blocks["test"], 32, fast.get_vocab_size(), special_token_ids(fast))

    tokens = masked_token_report(model, tokenizer, batches)
    print(f"test plays, blocks of 64 tokens: {tokens['masked_tokens']} masked tokens, "
          f"first guess right {tokens['accuracy']:.1%}")
    for kind, (count, accuracy) in tokens["by_kind"].items():
        print(f"  {kind:12s} {count:6d} masked, first guess right {accuracy:.1%}")
    print("  most frequent first guesses:",
          ", ".join(f"{token!r} {share:.1%}" for token, share in tokens["first_guesses"]))

    report = fill_in_common_words(model, tokenizer, random.Random(0).sample(held_out_lines(), args.lines))
    print(f"common words in {report['lines']} test lines: first guess {report['top1']:.1%}, "
          f"among the five best {report['top5']:.1%}; always {report['baseline_word']!r} {report['baseline']:.1%}")

    for text in EXAMPLES:
        options = fill_mask(model, text, top_k=5, tokenizer=tokenizer)
        print(f"  {text:48s} " + ", ".join(f"{o['token']} {o['score']:.1%}" for o in options))


if __name__ == "__main__":
    main()

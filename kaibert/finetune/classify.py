"""Classify text from the shell with a fine-tuned model: ``kaibert-classify MODEL "a line" ...``.

Prints every label with its probability, most likely first. ``--pair`` gives the second segment
of a sentence-pair task (the next-line task: is the pair's line the one after the text?).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from kaibert.finetune import tasks
from kaibert.heads import BertForSequenceClassification


@torch.no_grad()
def classify(model: BertForSequenceClassification, tokenizer, texts: list[str],
             pairs: list[str] | None = None) -> list[list[tuple[str, float]]]:
    """For each text, (label, probability) pairs sorted from most to least likely."""
    enc = tasks.encode(tokenizer, texts, pairs)  # one list of ids per text
    rows = [{key: enc[key][i] for key in enc} for i in range(len(texts))]
    batch = tasks.pad_batch(rows, model.config.pad_token_id)  # (B, T) tensors
    probs = model.eval()(**batch).logits.softmax(-1)  # (B, num_labels)
    names = model.config.id2label
    return [sorted(((names[j], p[j].item()) for j in range(len(names))), key=lambda lp: -lp[1]) for p in probs]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="kaibert-classify", description=__doc__.split("\n")[0])
    parser.add_argument("model", help="a fine-tuned model folder (a run's model/)")
    parser.add_argument("texts", nargs="+", help="one or more texts to classify")
    parser.add_argument("--pair", action="append", default=None,
                        help="second segment for a pair task, once per text")
    args = parser.parse_args(argv)
    folder = Path(args.model)
    if not (folder / "config.json").is_file() or not (folder / "vocab.txt").is_file():
        parser.exit(2, f"kaibert-classify: error: {folder} is not a model folder with config.json and "
                       "vocab.txt (a fine-tuning run writes one to output_dir/model)\n")
    try:
        model = BertForSequenceClassification.from_pretrained(folder)
        tokenizer = tasks.fast_tokenizer(folder, model.config.max_position_embeddings)
        results = classify(model, tokenizer, args.texts, args.pair)
    except ValueError as err:
        parser.exit(2, f"kaibert-classify: error: {err}\n")
    for i, (text, scores) in enumerate(zip(args.texts, results)):
        shown = text if args.pair is None else f"{text} || {args.pair[i]}"
        print(shown)
        for label, p in scores:
            print(f"  {label:12s} {p:.3f}")


if __name__ == "__main__":
    main()

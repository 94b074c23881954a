"""A masked-language-model head for the offline MiniLM, trained on its frozen encoder.

all-MiniLM-L6-v2, the pretrained BERT the course uses offline, was trained for sentence embeddings
and ships without an MLM head, so on its own it cannot fill in blanks. This module trains one: the
encoder stays frozen, its hidden states at masked positions are computed once, and only the head
(dense, LayerNorm, output bias; the decoder stays tied to MiniLM's word embeddings) learns from
them. Then it measures the result on held-out plays against a frequency baseline and against
shakespeare-mini.

    python benchmarks/minilm_head.py train --out OUT_FOLDER     # 33 minutes on 2 busy CPU cores
    python benchmarks/minilm_head.py evaluate OUT_FOLDER        # writes OUT_FOLDER/results.json

Measured with the defaults (3,200 blocks of the training plays, 29,571 masked tokens, 6 epochs; the
head has 179,130 numbers of its own): on 1,856 masked tokens of the test plays its first guess is
right 12.8% of the time and its five best 24.4%, against 7.2% and 18.1% for always guessing the
five most frequent tokens. On lines of the test plays it almost always guesses punctuation first:
masking a common word (``kaibert.fill_mask.fill_in_common_words``, 193 lines) it is right 0.0% of
the time (top 5: 20.7%), where shakespeare-mini is right 33.2% (74.1%) and always answering "and"
13.5%; masking any word both vocabularies hold (200 lines), 0.0% (7.5%) against shakespeare-mini's
17.0% (42.0%). It does not help, so no trained head ships with the course.

``load_minilm_mlm(folder)`` gives a ``BertForMaskedLM`` (MiniLM's encoder + the trained head) and
its tokenizer, for ``kaibert.fill_mask.fill_mask``.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import random
import re
import time
from pathlib import Path

import torch
import torch.nn.functional as F

HEAD_FILE = "head.safetensors"
CONFIG_FILE = "head_config.json"
HEAD_NAMES = ("dense.weight", "dense.bias", "layer_norm.weight", "layer_norm.bias", "bias")


def text_blocks(split: str, tokenizer, block_size: int = 64) -> list[list[int]]:
    """The Shakespeare plays of one split, tokenised and cut into ``[CLS] ... [SEP]`` blocks."""
    from kaibert.data import split_files

    body, blocks = block_size - 2, []
    for path in split_files(split):
        stream = []
        for line in Path(path).read_text().splitlines():
            if line.strip():
                stream.extend(tokenizer.encode(line, add_special_tokens=False))
        for i in range(0, len(stream) // body * body, body):
            blocks.append([tokenizer.cls_token_id] + stream[i:i + body] + [tokenizer.sep_token_id])
    return blocks


@torch.inference_mode()
def masked_features(encoder, tokenizer, blocks, seed: int, batch_size: int = 32, log=print):
    """Mask the blocks (80/10/10) once and return the encoder's last hidden states at the masked
    positions, (N, H) in float16, with their labels (N,). The encoder is frozen, so the head can
    train on these for as many epochs as it likes without running the encoder again."""
    from kaibert.mlm import mask_tokens

    generator = torch.Generator().manual_seed(seed)
    features, labels, start = [], [], time.time()
    for k in range(0, len(blocks), batch_size):
        ids = torch.tensor(blocks[k:k + batch_size])                     # (B, T)
        special = (ids == tokenizer.cls_token_id) | (ids == tokenizer.sep_token_id)
        masked, lab = mask_tokens(ids, special, tokenizer.mask_token_id, tokenizer.vocab_size, 0.15, generator)
        hidden = encoder(masked).last_hidden_state                        # (B, T, H)
        where = lab != -100
        features.append(hidden[where].to(torch.float16))
        labels.append(lab[where])
        if log and (k // batch_size) % 20 == 0:
            log(f"  encoded {k + len(ids)}/{len(blocks)} blocks ({time.time() - start:.0f} s)")
    return torch.cat(features), torch.cat(labels)


def train_head(head, features, labels, epochs: int = 6, lr: float = 2e-3, batch_size: int = 1024,
               seed: int = 0, log=print):
    """AdamW on the head's own parameters (the tied decoder weight stays frozen), linear warm-up and
    decay; the output bias starts at the log-frequencies of the labels."""
    log = log or (lambda *args, **kwargs: None)
    torch.manual_seed(seed)
    tied = head.decoder.weight
    counts = torch.bincount(labels, minlength=tied.shape[0]).float()
    with torch.no_grad():
        log_freq = (counts + 0.1).log()
        head.bias.copy_(log_freq - log_freq.mean())
    params = [p for p in head.parameters() if p is not tied]
    tied.requires_grad_(False)
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    steps = epochs * math.ceil(len(labels) / batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / 20) * max(0.0, 1.0 - s / steps))
    start = time.time()
    for epoch in range(epochs):
        order = torch.randperm(len(labels))
        total = 0.0
        for k in range(0, len(labels), batch_size):
            idx = order[k:k + batch_size]
            loss = F.cross_entropy(head(features[idx].float()), labels[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(idx)
        log(f"  epoch {epoch + 1}/{epochs}: training loss {total / len(labels):.3f} ({time.time() - start:.0f} s)")
    return head


def load_minilm_mlm(folder: str | Path, encoder_path: str | None = None):
    """MiniLM's encoder with a trained head from ``folder``: a ``BertForMaskedLM`` and its tokenizer."""
    from safetensors.torch import load_file

    from kaibert import BertConfig, BertForMaskedLM, BertModel, BertTokenizer
    from kaibert.course import pretrained_bert_path

    folder = Path(folder)
    encoder_path = encoder_path or pretrained_bert_path()
    config = BertConfig.from_pretrained(encoder_path)
    model = BertForMaskedLM(config).eval()
    encoder = BertModel.from_pretrained(encoder_path)
    state = {k: v for k, v in encoder.state_dict().items() if not k.startswith("pooler.")}
    model.bert.load_state_dict(state, strict=True)
    head = load_file(folder / HEAD_FILE)
    if set(head) != set(HEAD_NAMES):
        raise ValueError(f"{folder / HEAD_FILE} holds {sorted(head)}; expected {list(HEAD_NAMES)}")
    missing = model.mlm_head.load_state_dict(head, strict=False).missing_keys
    if missing != ["decoder.weight"]:  # the decoder weight is the tied word-embedding matrix
        raise ValueError(f"the head in {folder} does not fit {encoder_path}: missing {missing}")
    return model, BertTokenizer.from_pretrained(encoder_path)


def _fill_in_any_word(models: dict, lines, seed: int = 1) -> dict:
    """Mask one random word per line, a word that every model's vocabulary holds whole, and count how
    often each model's first guess (and its five best guesses) put it back."""
    from kaibert.fill_mask import fill_mask

    word = re.compile(r"(?<![\w'])([a-z]+)(?![\w'])", re.IGNORECASE)
    rng, n = random.Random(seed), 0
    hits = {name: [0, 0] for name in models}
    for line in lines:
        options = [m for m in word.finditer(line)
                   if all(m.group(1).lower() in tok.vocab for _, tok in models.values())]
        if not options:
            continue
        found, n = rng.choice(options), n + 1
        answer = found.group(1).lower()
        for name, (model, tok) in models.items():
            guesses = [o["token"] for o in fill_mask(model, line[:found.start()] + tok.mask_token + line[found.end():], 5, tok)]
            hits[name][0] += guesses[0] == answer
            hits[name][1] += answer in guesses
    return {"lines": n, **{name: {"top1": h[0] / n, "top5": h[1] / n} for name, h in hits.items()}}


def evaluate(folder: str | Path, n_lines: int = 200, test_blocks: int = 200, log=print) -> dict:
    """Held-out measurements: masked tokens of the test plays (against always guessing the most
    frequent tokens), and fill-ins on ``n_lines`` lines of the test plays (against shakespeare-mini;
    0 skips them). ``results.json`` is rewritten after each part."""
    from kaibert.fill_mask import SHAKESPEARE_MINI, fill_in_common_words, load_mlm, held_out_lines

    folder = Path(folder)
    model, tok = load_minilm_mlm(folder)
    config = json.loads((folder / CONFIG_FILE).read_text())
    blocks = random.Random(2).sample(text_blocks("test", tok), test_blocks)
    feats, labels = masked_features(model.bert, tok, blocks, seed=2, log=None)
    with torch.no_grad():
        top5 = model.mlm_head(feats.float()).topk(5).indices              # (N, 5)
    frequent = torch.tensor(config["most_frequent_tokens"][:5])
    results = {"masked_tokens_of_test_plays": {
        "tokens": len(labels),
        "top1": (top5[:, 0] == labels).float().mean().item(),
        "top5": (top5 == labels[:, None]).any(1).float().mean().item(),
        "most_frequent_top1": (labels == frequent[0]).float().mean().item(),
        "most_frequent_top5": torch.isin(labels, frequent).float().mean().item(),
    }}
    log(f"masked tokens of the test plays: {results['masked_tokens_of_test_plays']}")
    (folder / "results.json").write_text(json.dumps(results, indent=1) + "\n")  # kept if the rest is cut short
    if n_lines == 0:
        return results
    sample = random.Random(0).sample(held_out_lines(), n_lines)
    models = {"minilm+head": (model, tok), "shakespeare-mini": load_mlm(SHAKESPEARE_MINI)}
    results["common_words"] = {}
    for name, (m, t) in models.items():
        report = fill_in_common_words(m, t, sample)
        results["common_words"][name] = {k: report[k] for k in ("lines", "top1", "top5", "baseline_word", "baseline")}
        log(f"common words, {name}: {results['common_words'][name]}")
        (folder / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    results["any_word"] = _fill_in_any_word(models, sample)
    log(f"any word: {results['any_word']}")
    (folder / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    return results


def train(out: str | Path, n_blocks: int = 3200, epochs: int = 6, lr: float = 2e-3, seed: int = 0,
          log=print) -> Path:
    """Encode ``n_blocks`` masked 64-token blocks of the training plays with the frozen MiniLM,
    train the head on them, and save ``head.safetensors`` and ``head_config.json`` in ``out``."""
    from safetensors.torch import save_file

    from kaibert import BertModel, BertTokenizer
    from kaibert.course import pretrained_bert_path
    from kaibert.mlm import MLMHead

    log = log or (lambda *args, **kwargs: None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = pretrained_bert_path()
    tok = BertTokenizer.from_pretrained(path)
    encoder = BertModel.from_pretrained(path).eval()
    blocks = text_blocks("train", tok)
    chosen = random.Random(seed).sample(blocks, min(n_blocks, len(blocks)))
    log(f"encoding {len(chosen)} of the {len(blocks)} blocks of 64 tokens of the training plays")
    feats, labels = masked_features(encoder, tok, chosen, seed, log=log)
    log(f"training the head on {len(labels)} masked tokens")
    head = train_head(MLMHead(encoder.config, encoder.embeddings.word_embeddings), feats, labels,
                      epochs=epochs, lr=lr, seed=seed, log=log)
    state = {k: v.detach().contiguous() for k, v in head.state_dict().items() if k in HEAD_NAMES}
    save_file(state, out / HEAD_FILE)
    counts = torch.bincount(labels, minlength=tok.vocab_size)
    (out / CONFIG_FILE).write_text(json.dumps({
        "encoder": "all-MiniLM-L6-v2 (kaibert.course.pretrained_bert_path())",
        "hidden_size": encoder.config.hidden_size, "vocab_size": tok.vocab_size,
        "training": {"blocks": len(chosen), "block_size": 64, "masked_tokens": len(labels), "epochs": epochs,
                     "peak_lr": lr, "seed": seed, "corpus": "kaibert/corpora/shakespeare, training plays"},
        "most_frequent_tokens": counts.topk(5).indices.tolist(),
    }, indent=1) + "\n")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python benchmarks/minilm_head.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a head on the frozen MiniLM encoder")
    t.add_argument("--out", required=True, help="folder for head.safetensors and head_config.json")
    t.add_argument("--blocks", type=int, default=3200, help="64-token blocks of the training plays to encode")
    t.add_argument("--epochs", type=int, default=6)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--seed", type=int, default=0)
    e = sub.add_parser("evaluate", help="measure a trained head on the test plays; writes results.json")
    e.add_argument("folder")
    e.add_argument("--lines", type=int, default=200, help="lines of fill-in tests (0: masked tokens only)")
    args = parser.parse_args(argv)
    log = functools.partial(print, flush=True)
    if args.command == "train":
        train(args.out, n_blocks=args.blocks, epochs=args.epochs, lr=args.lr, seed=args.seed, log=log)
    else:
        evaluate(args.folder, n_lines=args.lines, log=log)


if __name__ == "__main__":
    main()

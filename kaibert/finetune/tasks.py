"""Chapter 10: two classification tasks cut from the shipped Shakespeare corpus, split by play.

Both use chapter 09's split (``kaibert.data.split_files``): validation and test plays are never
seen in training, so a score measures what a model learned about the kind of text, not the
lines it memorised.

1. **genre**: which of the First Folio's three groups (comedy, history, tragedy) a passage of
   consecutive lines comes from. A passage is as many whole lines as fit in 62 word pieces of the
   shipped shakespeare-mini vocabulary, so with [CLS] and [SEP] it is at most 64 tokens (a single
   longer line makes a passage of its own).
2. **next_line**: BERT's next-sentence prediction on verse. A pair (A, B) of lines from one
   split: for half of the pairs, chosen by a seeded shuffle, B is the line after A (label 0,
   ``is_next``, BERT's numbering); for the other half, B is a line drawn from another work of the
   same split (label 1, ``not_next``).

Where the genre labels come from: the First Folio of 1623 (Heminges and Condell, *Mr. William
Shakespeares Comedies, Histories, & Tragedies*) prints the plays in three groups and lists them
in its catalogue. Works in no group are left out: the poems and sonnets, Pericles (not in the
Folio), and Troilus and Cressida (printed between the histories and the tragedies, missing from
the catalogue). Cymbeline is listed as the last tragedy, and The Winter's Tale as the last comedy.
"""

from __future__ import annotations

import random
from pathlib import Path

from kaibert.data import SPLITS, split_files

SHIPPED_VOCAB = Path(__file__).resolve().parent.parent / "pretrained_models" / "shakespeare-mini"
GENRES = ("comedy", "history", "tragedy")
NEXT_LINE_LABELS = ("is_next", "not_next")  # BERT's order: 0 means B follows A
PASSAGE_TOKENS = 62  # + [CLS] + [SEP] = 64

# The First Folio's catalogue, group by group, in its order (the corpus's file names).
FOLIO = {
    "comedy": [
        "tempest", "two_gentlemen_of_verona", "merry_wives_of_windsor", "measure_for_measure",
        "comedy_of_errors", "much_ado_about_nothing", "loves_labours_lost", "midsummer_nights_dream",
        "merchant_of_venice", "as_you_like_it", "taming_of_the_shrew", "alls_well_that_ends_well",
        "twelfth_night", "winters_tale",
    ],
    "history": [
        "john", "richard_ii", "henry_iv_part_1", "henry_iv_part_2", "henry_v", "henry_vi_part_1",
        "henry_vi_part_2", "henry_vi_part_3", "richard_iii", "henry_viii",
    ],
    "tragedy": [
        "coriolanus", "tragedy_of_titus_andronicus", "romeo_and_juliet", "timon_of_athens",
        "julius_caesar", "macbeth", "hamlet", "lear", "othello", "antony_and_cleopatra", "cymbeline",
    ],
}
GENRE_OF = {work: genre for genre, works in FOLIO.items() for work in works}
LEFT_OUT = {
    "pericles": "not in the First Folio",
    "troilus_and_cressida": "in the Folio, but in none of its three groups",
    "sonnets": "a poem", "lovers_complaint": "a poem", "passionate_pilgrim": "a poem",
    "phoenix_and_the_turtle": "a poem", "rape_of_lucrece": "a poem",
}
TASKS = ("genre", "next_line")


def _work(path: str | Path) -> str:
    return Path(path).stem


def _lines(path: str | Path) -> list[str]:
    return [line for line in Path(path).read_text().splitlines() if line.strip()]


def passages(lines: list[str], lengths: list[int], budget: int = PASSAGE_TOKENS) -> list[str]:
    """Group consecutive lines into passages of at most `budget` tokens (whole lines only).

    `lengths` holds each line's token count. A passage ends before the line that would take it
    over the budget; a line longer than the budget on its own is a passage by itself.
    """
    out, current, used = [], [], 0
    for line, n in zip(lines, lengths):
        if current and used + n > budget:
            out.append(" ".join(current))
            current, used = [], 0
        current.append(line)
        used += n
    if current:
        out.append(" ".join(current))
    return out


def _word_piece_counter(vocab_folder: str | Path = SHIPPED_VOCAB):
    from kaibert.data import load_fast_tokenizer

    tokenizer = load_fast_tokenizer(vocab_folder)
    return lambda lines: [len(e.ids) for e in tokenizer.encode_batch(lines, add_special_tokens=False)]


def genre_dataset(corpus_dir: str | Path | None = None, budget: int = PASSAGE_TOKENS):
    """Passages labelled comedy / history / tragedy, as a ``datasets.DatasetDict`` split by play.

    Columns: ``text`` (a passage), ``label`` (a ClassLabel over ``GENRES``) and ``work``.
    """
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    count = _word_piece_counter()
    features = Features({"text": Value("string"), "label": ClassLabel(names=list(GENRES)),
                         "work": Value("string")})
    splits = {}
    for split in SPLITS:
        rows = {"text": [], "label": [], "work": []}
        for path in split_files(split, corpus_dir):
            work = _work(path)
            if work not in GENRE_OF:
                continue  # a poem, Pericles or Troilus and Cressida: in no Folio group
            lines = _lines(path)
            for text in passages(lines, count(lines), budget):
                rows["text"].append(text)
                rows["label"].append(GENRES.index(GENRE_OF[work]))
                rows["work"].append(work)
        splits[split] = Dataset.from_dict(rows, features=features)
    return DatasetDict(splits)


def next_line_dataset(corpus_dir: str | Path | None = None, seed: int = 0):
    """Line pairs (A, B): is B the line after A? Half yes, half a line of another work; seeded.

    Columns: ``text`` (line A), ``text_pair`` (line B), ``label`` (0 is_next, 1 not_next), ``work``.
    """
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    features = Features({"text": Value("string"), "text_pair": Value("string"),
                         "label": ClassLabel(names=list(NEXT_LINE_LABELS)), "work": Value("string")})
    splits = {}
    for k, split in enumerate(SPLITS):
        rng = random.Random(seed * 1000 + k)
        works = {_work(p): _lines(p) for p in split_files(split, corpus_dir)}
        pairs = [(work, i) for work, lines in works.items() for i in range(len(lines) - 1)]
        labels = [0] * ((len(pairs) + 1) // 2) + [1] * (len(pairs) // 2)
        rng.shuffle(labels)
        names = sorted(works)
        rows = {"text": [], "text_pair": [], "label": [], "work": []}
        for (work, i), label in zip(pairs, labels):
            if label == 0:
                second = works[work][i + 1]
            else:  # a line from another work of the same split, so it cannot be the next line
                other = rng.choice([w for w in names if w != work])
                second = rng.choice(works[other])
            rows["text"].append(works[work][i])
            rows["text_pair"].append(second)
            rows["label"].append(label)
            rows["work"].append(work)
        splits[split] = Dataset.from_dict(rows, features=features)
    return DatasetDict(splits)


SST2_LABELS = ("negative", "positive")
SST2_HUB = ("glue", "sst2")  # GLUE's copy of the Stanford Sentiment Treebank, binary: sentence, label, idx
# A few sentences in the same schema, shipped with kaibert: the offline stand-in that runs the same
# loading code (chapter 10, the tests) where the hub cannot be reached.
SST2_SAMPLE = Path(__file__).parent / "sst2_sample"


def sst2_dataset(source: str | Path | None = None, validation_examples: int = 872, seed: int = 0):
    """SST-2 (Socher et al. 2013, in GLUE) as train / validation / test, for an online benchmark.

    ``source`` None reads it from the Hugging Face hub through ``datasets`` (network needed the
    first time); a folder holding ``train.jsonl`` and ``validation.jsonl`` in the hub's schema
    (``sentence``, ``label`` 0 negative / 1 positive, ``idx``) is read the same way offline. GLUE's
    test labels are hidden, so its validation split is the test here, and a seeded sample of
    ``validation_examples`` training sentences (at most a fifth of them) is the validation split.
    Columns as in the corpus tasks: ``text``, ``label``, ``work``.
    """
    from datasets import ClassLabel, DatasetDict, Features, Value, load_dataset

    if source is None:
        raw = load_dataset(*SST2_HUB)
    else:
        folder = Path(source)
        files = {split: folder / f"{split}.jsonl" for split in ("train", "validation")}
        missing = [str(f) for f in files.values() if not f.is_file()]
        if missing:
            raise FileNotFoundError(f"SST-2 from a folder needs train.jsonl and validation.jsonl (one "
                                    f"{{'sentence', 'label', 'idx'}} object per line); missing: {', '.join(missing)}")
        raw = load_dataset("json", data_files={k: str(v) for k, v in files.items()})
    for split in ("train", "validation"):
        unknown = set(raw[split]["label"]) - {0, 1}
        if unknown:
            raise ValueError(f"SST-2's {split} split has labels {sorted(unknown)}; expected 0 (negative) "
                             "and 1 (positive). GLUE's test split hides its labels (-1): do not pass it.")
    features = Features({"text": Value("string"), "label": ClassLabel(names=list(SST2_LABELS)),
                         "work": Value("string")})

    def tidy(data):
        data = data.map(lambda r: {"text": r["sentence"].strip(), "work": "sst2"},
                        remove_columns=[c for c in data.column_names if c not in ("label",)])
        return data.cast(features)

    train = raw["train"].shuffle(seed=seed)
    n_val = min(validation_examples, len(train) // 5)
    return DatasetDict({"train": tidy(train.select(range(n_val, len(train)))),
                        "validation": tidy(train.select(range(n_val))),
                        "test": tidy(raw["validation"])})


def load_task(task: str, corpus_dir: str | Path | None = None, seed: int = 0):
    """The ``DatasetDict`` of a task by name: ``genre`` or ``next_line``."""
    if task == "genre":
        return genre_dataset(corpus_dir)
    if task == "next_line":
        return next_line_dataset(corpus_dir, seed=seed)
    raise ValueError(f"unknown task {task!r}; choose one of {TASKS}")


def label_names(dataset) -> list[str]:
    return dataset.features["label"].names


def describe(splits) -> dict:
    """Sizes, class balance and the majority-class baseline of every split.

    The baseline always answers the most frequent class *of the training split*; a model has
    learned something only if it beats that on validation and test.
    """
    names = label_names(splits["train"])
    train_counts = [0] * len(names)
    for label in splits["train"]["label"]:
        train_counts[label] += 1
    majority = max(range(len(names)), key=train_counts.__getitem__)
    report = {"labels": names, "majority_class": names[majority], "splits": {}}
    for split, data in splits.items():
        counts = [0] * len(names)
        for label in data["label"]:
            counts[label] += 1
        n = len(data)
        report["splits"][split] = {
            "examples": n,
            "works": len(set(data["work"])),
            "balance": {name: round(c / n, 4) for name, c in zip(names, counts)},
            "majority_baseline_accuracy": round(counts[majority] / n, 4),
        }
    return report


def format_report(report: dict) -> str:
    """The `describe` report as a small table."""
    names = report["labels"]
    head = f"{'split':10s} {'examples':>8s} {'works':>5s} " + " ".join(f"{n:>9s}" for n in names)
    rows = [head + f" {'majority':>9s}"]
    for split, r in report["splits"].items():
        rows.append(f"{split:10s} {r['examples']:8d} {r['works']:5d} "
                    + " ".join(f"{r['balance'][n]:9.1%}" for n in names)
                    + f" {r['majority_baseline_accuracy']:9.1%}")
    rows.append(f"(majority: always '{report['majority_class']}', the commonest label in training)")
    return "\n".join(rows)


# --- turning text into model inputs --------------------------------------------------------------


def fast_tokenizer(folder: str | Path, max_length: int = 128):
    """A model folder's WordPiece tokenizer (lower-cased BERT rules), cutting inputs at `max_length`."""
    from kaibert.data import load_fast_tokenizer

    tokenizer = load_fast_tokenizer(folder)
    tokenizer.enable_truncation(max_length)
    return tokenizer


def encode(tokenizer, texts: list[str], text_pairs: list[str] | None = None) -> dict[str, list[list[int]]]:
    """Token ids, segment ids and attention masks, one list per text (or per pair), unpadded."""
    texts = list(texts)
    if text_pairs is not None:
        text_pairs = list(text_pairs)
        if len(text_pairs) != len(texts):
            raise ValueError(
                f"A pair batch needs one second text per first text: got {len(texts)} first and "
                f"{len(text_pairs)} second texts. Pass two lists of the same length."
            )
        encodings = tokenizer.encode_batch(list(zip(texts, text_pairs)))
    else:
        encodings = tokenizer.encode_batch(texts)
    return {"input_ids": [e.ids for e in encodings], "token_type_ids": [e.type_ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings]}


def tokenize_task(splits, tokenizer):
    """Add input_ids, token_type_ids and attention_mask to every split (pairs where there are pairs)."""
    def batch(rows):
        return encode(tokenizer, rows["text"], rows.get("text_pair"))

    return splits.map(batch, batched=True, batch_size=1000, load_from_cache_file=False,
                      keep_in_memory=True, desc="tokenizing")


def pad_batch(rows: list[dict], pad_token_id: int = 0):
    """A list of tokenized examples -> padded (B, T) tensors and (B,) labels."""
    import torch

    from kaibert.tokenization import MODEL_INPUTS
    from kaibert.tokenization import pad_batch as pad_rows  # the one padding helper

    if not rows:
        raise ValueError("pad_batch got an empty batch.")
    as_list = lambda ids: ids.tolist() if hasattr(ids, "tolist") else list(ids)  # noqa: E731 (tensors too)
    padded = pad_rows([{key: as_list(r[key]) for key in MODEL_INPUTS} for r in rows], pad_token_id)
    out = {key: torch.tensor(value, dtype=torch.long) for key, value in padded.items()}
    if "label" in rows[0]:
        out["labels"] = torch.tensor([r["label"] for r in rows], dtype=torch.long)
    return out


def main(argv: list[str] | None = None) -> None:
    """Print each task's sizes, class balance and majority baseline."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m kaibert.finetune.tasks", description=main.__doc__)
    parser.add_argument("task", nargs="*", help=f"one or more of {TASKS} (default: both)")
    args = parser.parse_args(argv)
    for task in args.task or TASKS:
        print(f"== {task}")
        print(format_report(describe(load_task(task))))


if __name__ == "__main__":
    main()

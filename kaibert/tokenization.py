"""WordPiece tokenization for BERT, written from scratch.

BERT never sees characters. It sees integer ids, one per *word piece*: a whole word when the word
is common ("the", "paris"), or a few pieces when it is rare ("tokenization" -> "token",
"##ization"). The "##" marks a piece that continues the word before it. With about 30,000 pieces
BERT can spell any English word, so almost nothing becomes the unknown token [UNK].

Turning text into ids takes two steps, and this file follows them in order:

1. Basic tokenization (text -> words): remove control characters, normalise whitespace, put spaces
   around Chinese characters, lower-case, strip accents, split off punctuation.
2. WordPiece (word -> pieces): cut each word into the longest pieces the vocabulary knows,
   greedily from the left.

Then ``BertTokenizer`` wraps the two with what a model needs: the special tokens
``[CLS] A [SEP] B [SEP]``, segment ids, truncation, padding and an attention mask. It reads and
writes the same files as Hugging Face's ``transformers.BertTokenizer`` (``vocab.txt`` and
``tokenizer_config.json``) and gives the same tokens and ids; the tests check both.

Plain Python only: torch is imported only when you ask for tensors (``return_tensors="pt"``).
"""

from __future__ import annotations

import json
import operator
import os
import re
import unicodedata
from pathlib import Path

from kaibert.hub import resolve_file

VOCAB_FILE = "vocab.txt"
CONFIG_FILE = "tokenizer_config.json"
TOKENIZER_JSON = "tokenizer.json"  # transformers 5 saves its vocabulary here, not in vocab.txt
TOKENIZER_FILES = (VOCAB_FILE, TOKENIZER_JSON, CONFIG_FILE)

# A word longer than this (in characters) is not worth cutting up: it becomes [UNK] at once.
MAX_INPUT_CHARS_PER_WORD = 100

# The five special tokens every BERT vocabulary has, by role.
DEFAULT_SPECIAL_TOKENS = {
    "unk_token": "[UNK]",  # stands for a word the vocabulary cannot spell
    "sep_token": "[SEP]",  # ends each sentence
    "pad_token": "[PAD]",  # fills short sequences up to the batch length
    "cls_token": "[CLS]",  # starts every sequence; its vector summarises the whole input
    "mask_token": "[MASK]",  # hides a word for masked language modelling
}
SPECIAL_TOKEN_ROLES = tuple(DEFAULT_SPECIAL_TOKENS)

# What the model takes, and the names Hugging Face also accepts for padding and truncation.
MODEL_INPUTS = ("input_ids", "token_type_ids", "attention_mask")
PADDING_NAMES = {"longest": True, "do_not_pad": False, "max_length": "max_length"}
TRUNCATION_NAMES = {"longest_first": True, "do_not_truncate": False}


# ---------------------------------------------------------------------------------------------
# 1. Basic tokenization: text -> words
# ---------------------------------------------------------------------------------------------


def is_whitespace(char: str) -> bool:
    """Spaces, tabs, newlines and the other Unicode space separators (category Zs)."""
    return char in " \t\n\r" or unicodedata.category(char) == "Zs"


def is_control(char: str) -> bool:
    """Invisible characters (categories C*: control, format such as zero-width space, ...).

    Tab, newline and carriage return are categorised as control characters by Unicode, but in
    text they separate words, so they count as whitespace instead.
    """
    if char in "\t\n\r":
        return False
    return unicodedata.category(char).startswith("C")


def is_punctuation(char: str) -> bool:
    """Unicode punctuation (categories P*), plus every ASCII symbol.

    Characters such as "$", "^", "`" and "+" are symbols, not punctuation, for Unicode. BERT
    splits them off all the same: every non-letter, non-digit ASCII character is its own token.
    """
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


# The CJK Unified Ideographs blocks, as (first, last) code points.
CHINESE_CHAR_RANGES = [
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
]


def is_chinese_char(char: str) -> bool:
    """Characters of the CJK Unified Ideographs blocks.

    Chinese is written without spaces, so BERT treats every ideograph as a word of its own.
    Japanese kana and Korean Hangul are not in these blocks: those scripts are split like any
    other. (The ranges are the original BERT ones; Hugging Face's Rust tokenizer starts the
    fifth range at 0x2B920 instead of 0x2B820, which only matters for very rare characters.)
    """
    cp = ord(char)
    return any(lo <= cp <= hi for lo, hi in CHINESE_CHAR_RANGES)


def clean_text(text: str) -> str:
    """Drop invisible and broken characters, turn every kind of whitespace into a plain space."""
    out = []
    for char in text:
        if char == "\ufffd" or is_control(char):
            continue  # "\ufffd" stands in for bytes that failed to decode: nothing to read there
        out.append(" " if is_whitespace(char) else char)
    return "".join(out)


def space_out_chinese_chars(text: str) -> str:
    """Put spaces around every Chinese character, so that each becomes its own word."""
    return "".join(f" {char} " if is_chinese_char(char) else char for char in text)


def remove_accents(text: str) -> str:
    """Remove accents: "café" -> "cafe".

    Unicode normal form NFD writes "é" as two characters, "e" followed by a combining acute
    accent (category Mn, "mark, non-spacing"). Dropping the Mn characters leaves the bare letters.
    """
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(char for char in decomposed if unicodedata.category(char) != "Mn")


def lower_case(text: str) -> str:
    """Lower-case one character at a time.

    One character at a time, as Hugging Face's tokenizer does: Python's ``str.lower`` would also
    apply the Greek final-sigma rule ("Σ" at the end of a word -> "ς"), which that one does not.
    """
    return "".join(char.lower() for char in text)


def split_on_punctuation(text: str) -> list[str]:
    """Split on whitespace, and make every punctuation character a word of its own.

    "don't stop!" -> ["don", "'", "t", "stop", "!"]
    """
    words: list[str] = []
    for chunk in text.split():
        current = ""
        for char in chunk:
            if is_punctuation(char):
                if current:
                    words.append(current)
                words.append(char)
                current = ""
            else:
                current += char
        if current:
            words.append(current)
    return words


def basic_tokenize(
    text: str,
    do_lower_case: bool = True,
    strip_accents: bool | None = None,
    tokenize_chinese_chars: bool = True,
) -> list[str]:
    """Step 1: text -> words, ready for WordPiece.

    ``strip_accents=None`` follows ``do_lower_case``, as in the original BERT: uncased models
    strip accents, cased models keep them.
    """
    text = clean_text(text)
    if tokenize_chinese_chars:
        text = space_out_chinese_chars(text)
    if strip_accents or (strip_accents is None and do_lower_case):
        text = remove_accents(text)
    if do_lower_case:
        text = lower_case(text)
    return split_on_punctuation(text)


# ---------------------------------------------------------------------------------------------
# 2. WordPiece: word -> pieces
# ---------------------------------------------------------------------------------------------


def wordpiece_tokenize(
    word: str,
    vocab: dict[str, int] | set[str],
    unk_token: str = "[UNK]",
    max_input_chars_per_word: int = MAX_INPUT_CHARS_PER_WORD,
) -> list[str]:
    """Step 2: cut one word into the longest pieces the vocabulary knows, from left to right.

    "unaffable" -> try "unaffable", "unaffabl", ... until a piece is in the vocabulary ("una"),
    then go on from there with "##" in front ("##ffable", "##ffabl", ..., "##ffa"), and so on.
    If some part of the word cannot be spelled at all, the whole word becomes ``unk_token``:
    half a word would mislead the model more than an honest "unknown".
    """
    if len(word) > max_input_chars_per_word:
        return [unk_token]
    pieces = []
    start = 0
    while start < len(word):
        end = len(word)
        while end > start:
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                break
            end -= 1
        if end == start:  # not even a single character is known here
            return [unk_token]
        pieces.append(piece)
        start = end
    return pieces


# ---------------------------------------------------------------------------------------------
# 3. Fitting sequences into a length budget, and padding them to one length
# ---------------------------------------------------------------------------------------------


def truncate_pair(first: list[int], second: list[int], budget: int) -> tuple[list[int], list[int]]:
    """Cut a sentence pair down to ``budget`` tokens in all, taking from the longer one first.

    The shorter sentence keeps all its tokens if it fits in half the budget; otherwise both are
    cut to half the budget (the longer one gets the odd token; on a tie, the second does). This is
    the "longest_first" strategy, with the same result as Hugging Face's tokenizer.
    """
    if len(first) + len(second) <= budget:
        return first, second
    if len(first) <= len(second):
        keep_first = min(len(first), budget // 2)
        return first[:keep_first], second[: budget - keep_first]
    keep_second = min(len(second), budget // 2)
    return first[: budget - keep_second], second[:keep_second]


def pad_batch(rows: list[dict[str, list[int]]], pad_token_id: int = 0,
              length: int | None = None) -> dict[str, list[list[int]]]:
    """Pad every row on the right to ``length`` (default: the longest row).

    [PAD] ids, segment 0 and attention mask 0, so attention ignores the padding. The one padding
    helper: the tokenizer, the masking collator and the fine-tuning batches all use it; wrap the
    result in ``torch.tensor`` for (B, T) tensors.
    """
    if length is None:
        length = max(len(row["input_ids"]) for row in rows)
    batch = {}
    for key, pad_value in [("input_ids", pad_token_id), ("token_type_ids", 0), ("attention_mask", 0)]:
        batch[key] = [row[key] + [pad_value] * (length - len(row[key])) for row in rows]
    return batch


# ---------------------------------------------------------------------------------------------
# 4. Reading and checking a vocabulary
# ---------------------------------------------------------------------------------------------


def load_vocab(path: str | os.PathLike) -> dict[str, int]:
    """Read ``vocab.txt``: one token per line, the line number (from 0) is the token's id."""
    vocab: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for index, line in enumerate(f):
            token = line.rstrip("\n")
            if token in vocab:
                raise ValueError(
                    f"{path}: the token {token!r} appears twice (lines {vocab[token] + 1} and "
                    f"{index + 1}). Each token must appear once, so that it has one id."
                )
            vocab[token] = index
    return vocab


def check_vocab(vocab: dict[str, int], special_tokens: dict[str, str]) -> None:
    """Ids must run 0..N-1 without gaps, and every special token must be in the vocabulary."""
    if not vocab:
        raise ValueError("The vocabulary is empty: it needs at least the special tokens.")
    if sorted(vocab.values()) != list(range(len(vocab))):
        raise ValueError(
            f"The vocabulary's ids must be 0..{len(vocab) - 1}, each used once; these are not. "
            "Number the tokens consecutively from 0 (as the lines of vocab.txt are)."
        )
    missing = [f"{role}={token!r}" for role, token in special_tokens.items() if token not in vocab]
    if missing:
        raise ValueError(
            f"The vocabulary lacks the special token(s) {', '.join(missing)}. Add them to the "
            "vocabulary, or pass the names your vocabulary uses, e.g. BertTokenizer(vocab, "
            "unk_token='<unk>')."
        )


def load_vocab_from_tokenizer_json(path: str | os.PathLike) -> dict[str, int]:
    """Read the vocabulary inside a ``tokenizer.json`` (what ``transformers`` 5 saves)."""
    model = json.loads(Path(path).read_text(encoding="utf-8")).get("model", {})
    if model.get("type") != "WordPiece":
        raise ValueError(
            f"{path} describes a {model.get('type')} tokenizer, not WordPiece. BertTokenizer needs "
            f"a WordPiece vocabulary: pass a folder with a BERT {VOCAB_FILE}."
        )
    return dict(model["vocab"])


def settings_from_config(config: dict) -> dict:
    """The ``tokenizer_config.json`` entries that BertTokenizer understands, as keyword arguments."""
    settings = {}
    for key in ("do_lower_case", "strip_accents", "tokenize_chinese_chars", "model_max_length"):
        if key in config:
            settings[key] = config[key]
    if settings.get("model_max_length", 0) > 10**9:  # "no limit" is written as a huge number
        del settings["model_max_length"]
    for role in SPECIAL_TOKEN_ROLES:
        value = config.get(role)
        if value is not None:  # a plain string, or a dict with "content" in newer files
            settings[role] = value["content"] if isinstance(value, dict) else str(value)
    return settings


# ---------------------------------------------------------------------------------------------
# 5. The tokenizer
# ---------------------------------------------------------------------------------------------


class BertTokenizer:
    """BERT's WordPiece tokenizer, driven like Hugging Face's.

    >>> tokenizer = BertTokenizer.from_pretrained(kaibert.course.pretrained_bert_path())
    >>> tokenizer.tokenize("Tokenization is fun!")
    ['token', '##ization', 'is', 'fun', '!']
    >>> batch = tokenizer(["Hello world", "Hi"], return_tensors="pt")  # padded to the longest
    """

    def __init__(
        self,
        vocab: dict[str, int] | str | os.PathLike,
        do_lower_case: bool = True,
        strip_accents: bool | None = None,
        tokenize_chinese_chars: bool = True,
        model_max_length: int = 512,
        unk_token: str = "[UNK]",
        sep_token: str = "[SEP]",
        pad_token: str = "[PAD]",
        cls_token: str = "[CLS]",
        mask_token: str = "[MASK]",
    ):
        if isinstance(vocab, (str, os.PathLike)):
            if os.path.isdir(vocab):
                raise IsADirectoryError(
                    f"{vocab} is a folder. Use BertTokenizer.from_pretrained({str(vocab)!r}), "
                    "or pass the path of its vocab.txt."
                )
            vocab = load_vocab(vocab)
        elif not isinstance(vocab, dict):
            raise TypeError(
                "vocab must be a dict {token: id} or the path of a vocab.txt, "
                f"not {type(vocab).__name__}."
            )
        self.unk_token, self.sep_token, self.pad_token = unk_token, sep_token, pad_token
        self.cls_token, self.mask_token = cls_token, mask_token
        check_vocab(vocab, self.special_tokens_map)

        self.vocab: dict[str, int] = dict(vocab)
        self.ids_to_tokens: list[str] = sorted(self.vocab, key=self.vocab.get)
        self.do_lower_case = do_lower_case
        self.strip_accents = strip_accents
        self.tokenize_chinese_chars = tokenize_chinese_chars
        self.model_max_length = model_max_length
        # Special tokens typed in the text ("Paris is the [MASK] of France.") stay whole: the
        # text is cut around them before basic tokenization could lower-case or split them.
        by_length = sorted(set(self.special_tokens_map.values()), key=len, reverse=True)
        self._special_pattern = re.compile("(" + "|".join(map(re.escape, by_length)) + ")")

    # --- loading and saving -----------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, **kwargs) -> "BertTokenizer":
        """Load from a folder holding ``vocab.txt`` (and maybe ``tokenizer_config.json``).

        A Hugging Face hub name ("bert-base-uncased") works too when online. Keyword arguments
        override what the config file says. A folder that ``transformers`` saved holds
        ``tokenizer.json`` instead of ``vocab.txt``: its vocabulary is read from there.
        """
        files = {}
        for filename in TOKENIZER_FILES:  # from the folder, or from the hub (kaibert.hub)
            if filename == TOKENIZER_JSON and VOCAB_FILE in files:
                continue  # vocab.txt is enough
            path = resolve_file(name_or_path, filename, required=False)
            if path is not None:
                files[filename] = path

        if VOCAB_FILE in files:
            vocab = load_vocab(files[VOCAB_FILE])
        elif TOKENIZER_JSON in files:
            vocab = load_vocab_from_tokenizer_json(files[TOKENIZER_JSON])
        elif Path(name_or_path).is_dir():
            found = ", ".join(sorted(p.name for p in Path(name_or_path).iterdir())[:10]) or "nothing"
            raise FileNotFoundError(
                f"No {VOCAB_FILE} in {name_or_path} (found: {found}). A BERT tokenizer folder needs "
                f"{VOCAB_FILE}, one token per line; save one with tokenizer.save_pretrained(folder)."
            )
        else:
            raise FileNotFoundError(
                f"{name_or_path!r} on the Hugging Face hub has neither {VOCAB_FILE} nor {TOKENIZER_JSON}: "
                "it is not a BERT tokenizer. Pick a BERT model, such as bert-base-uncased."
            )
        config = {}
        if CONFIG_FILE in files:
            config = json.loads(Path(files[CONFIG_FILE]).read_text(encoding="utf-8"))
        return cls(vocab, **{**settings_from_config(config), **kwargs})

    def save_pretrained(self, folder: str | os.PathLike) -> list[str]:
        """Write ``vocab.txt`` and ``tokenizer_config.json``; ``transformers`` loads them back."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        vocab_path, config_path = folder / VOCAB_FILE, folder / CONFIG_FILE
        vocab_path.write_text("".join(token + "\n" for token in self.ids_to_tokens), encoding="utf-8")
        config = {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": self.do_lower_case,
            "strip_accents": self.strip_accents,
            "tokenize_chinese_chars": self.tokenize_chinese_chars,
            "model_max_length": self.model_max_length,
            **self.special_tokens_map,
        }
        config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        return [str(vocab_path), str(config_path)]

    # --- the vocabulary ---------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __len__(self) -> int:
        return len(self.vocab)

    def get_vocab(self) -> dict[str, int]:
        return dict(self.vocab)

    @property
    def special_tokens_map(self) -> dict[str, str]:
        return {role: getattr(self, role) for role in SPECIAL_TOKEN_ROLES}

    @property
    def unk_token_id(self) -> int:
        return self.vocab[self.unk_token]

    @property
    def sep_token_id(self) -> int:
        return self.vocab[self.sep_token]

    @property
    def pad_token_id(self) -> int:
        return self.vocab[self.pad_token]

    @property
    def cls_token_id(self) -> int:
        return self.vocab[self.cls_token]

    @property
    def mask_token_id(self) -> int:
        return self.vocab[self.mask_token]

    @property
    def all_special_tokens(self) -> list[str]:
        return list(self.special_tokens_map.values())

    @property
    def all_special_ids(self) -> list[int]:
        return [self.vocab[token] for token in self.all_special_tokens]

    def get_special_tokens_mask(self, ids) -> list[int]:
        """1 where ``ids`` holds a special token, 0 elsewhere: which positions MLM must not mask."""
        special = set(self.all_special_ids)
        return [1 if i in special else 0 for i in _as_id_list(ids)]

    def convert_tokens_to_ids(self, tokens: str | list[str]) -> int | list[int]:
        """Look tokens up; a token the vocabulary lacks becomes the id of [UNK]."""
        if isinstance(tokens, str):
            return self.vocab.get(tokens, self.unk_token_id)
        return [self.vocab.get(token, self.unk_token_id) for token in tokens]

    def convert_ids_to_tokens(self, ids) -> str | list[str]:
        if isinstance(ids, int):
            return self.ids_to_tokens[self._check_id(ids)]
        return [self.ids_to_tokens[self._check_id(i)] for i in _as_id_list(ids)]

    def _check_id(self, token_id: int) -> int:
        if not 0 <= token_id < len(self.ids_to_tokens):
            raise IndexError(
                f"Token id {token_id} is out of range: this vocabulary has ids 0..{len(self) - 1}. "
                "Were these ids made with a different tokenizer or model?"
            )
        return token_id

    # --- text -> tokens -> ids --------------------------------------------------------------

    def tokenize(self, text: str) -> list[str]:
        """Text -> word pieces: basic tokenization, then WordPiece on each word."""
        _check_text(text, "tokenize")
        tokens = []
        special = set(self.all_special_tokens)
        for part in self._special_pattern.split(text):
            if part in special:
                tokens.append(part)
                continue
            words = basic_tokenize(
                part, self.do_lower_case, self.strip_accents, self.tokenize_chinese_chars
            )
            for word in words:
                tokens.extend(wordpiece_tokenize(word, self.vocab, self.unk_token))
        return tokens

    def encode(
        self,
        text: str,
        text_pair: str | None = None,
        add_special_tokens: bool = True,
        truncation: bool = False,
        max_length: int | None = None,
    ) -> list[int]:
        """Text (or a sentence pair) -> ids, as ``[CLS] A [SEP]`` or ``[CLS] A [SEP] B [SEP]``.

        An empty second sentence ("") means none, as in transformers.
        """
        text_pair = text_pair or None
        encoded = self._encode_one(text, text_pair, add_special_tokens, truncation, max_length)
        return encoded["input_ids"]

    def _encode_one(self, text, text_pair, add_special_tokens, truncation, max_length) -> dict:
        """One example -> ``input_ids`` and ``token_type_ids`` (0 for sentence A, 1 for B)."""
        first = self.convert_tokens_to_ids(self.tokenize(text))
        second = None if text_pair is None else self.convert_tokens_to_ids(self.tokenize(text_pair))
        if truncation:
            first, second = self._truncate(first, second, add_special_tokens, max_length)
        if not add_special_tokens:
            second = second or []
            types = [0] * len(first) + [1] * len(second)
            return {"input_ids": first + second, "token_type_ids": types}
        ids = [self.cls_token_id] + first + [self.sep_token_id]
        types = [0] * len(ids)
        if second is not None:
            ids += second + [self.sep_token_id]
            types += [1] * (len(second) + 1)
        return {"input_ids": ids, "token_type_ids": types}

    def _truncate(self, first, second, add_special_tokens, max_length):
        """Fit the ids into ``max_length`` (default: the model's limit, 512 for BERT)."""
        max_length = self.model_max_length if max_length is None else max_length
        n_special = (3 if second is not None else 2) if add_special_tokens else 0
        budget = max_length - n_special
        if budget < 0:
            raise ValueError(
                f"max_length={max_length} leaves no room: the special tokens alone take {n_special}. "
                f"Use max_length >= {n_special}."
            )
        if second is None:
            return first[:budget], None
        return truncate_pair(first, second, budget)

    def __call__(
        self,
        texts: str | list[str],
        text_pair: str | list[str] | None = None,
        padding: bool | str = True,
        truncation: bool | str = True,
        max_length: int | None = None,
        return_tensors: str | None = None,
        add_special_tokens: bool = True,
    ) -> dict:
        """Texts -> the model's inputs: ``input_ids``, ``token_type_ids``, ``attention_mask``.

        ``padding=True`` pads to the longest in the batch, ``"max_length"`` to ``max_length``;
        ``truncation=True`` cuts to ``max_length`` (default 512), longest sentence of a pair first.
        Unlike Hugging Face's, padding and truncation are on by default, so a batch always fits.
        ``return_tensors="pt"`` gives ``(B, T)`` torch tensors, even for a single text.
        """
        single = isinstance(texts, str)
        batch, pairs = _batch_and_pairs(texts, text_pair)
        truncate = _check_option(truncation, "truncation", TRUNCATION_NAMES)
        encoded = [
            self._encode_one(a, b, add_special_tokens, truncate, max_length)
            for a, b in zip(batch, pairs)
        ]
        for example in encoded:
            example["attention_mask"] = [1] * len(example["input_ids"])  # 1 = a real token
        length = self._padding_length(padding, max_length, encoded)
        if length is not None:
            out = pad_batch(encoded, self.pad_token_id, length)
        else:
            out = {key: [example[key] for example in encoded] for key in MODEL_INPUTS}
        if return_tensors is not None:
            return _to_tensors(out, return_tensors)
        return {key: rows[0] for key, rows in out.items()} if single else out

    def _padding_length(self, padding, max_length, encoded) -> int | None:
        """How long to pad: the longest example, ``max_length``, or not at all (None)."""
        mode = _check_option(padding, "padding", PADDING_NAMES)
        if mode is False:
            return None
        if mode == "max_length":
            return self.model_max_length if max_length is None else max_length
        return max(len(example["input_ids"]) for example in encoded)

    # --- ids -> text ------------------------------------------------------------------------

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        """Ids -> text: pieces joined, "##" continuations glued to the piece before.

        Lower-casing and stripped accents cannot be undone, so decode(encode(text)) is the
        normalised text. Like Hugging Face's decoder, no space is put before . , ! or ?.
        """
        tokens = self.convert_ids_to_tokens(_as_id_list(ids))
        if skip_special_tokens:
            special = set(self.all_special_tokens)
            tokens = [token for token in tokens if token not in special]
        text = ""
        for i, token in enumerate(tokens):
            if i > 0:
                token = token[2:] if token.startswith("##") else " " + token
            text += _tidy_spaces(token)
        return text

    def batch_decode(self, sequences, skip_special_tokens: bool = False) -> list[str]:
        """Decode each row of a batch (a list of id lists, or a ``(B, T)`` tensor)."""
        if hasattr(sequences, "tolist"):
            sequences = sequences.tolist()
        return [self.decode(ids, skip_special_tokens) for ids in sequences]

    def __repr__(self) -> str:
        return (
            f"BertTokenizer(vocab_size={self.vocab_size}, do_lower_case={self.do_lower_case}, "
            f"model_max_length={self.model_max_length})"
        )


# ---------------------------------------------------------------------------------------------
# Small helpers: input checks and output conversion
# ---------------------------------------------------------------------------------------------

# Hugging Face's decoder tidies each piece with these replacements (after putting a space in
# front of every piece that starts a new word).
_TIDY = [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
         (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")]


def _tidy_spaces(piece: str) -> str:
    for old, new in _TIDY:
        piece = piece.replace(old, new)
    return piece


def _check_text(text, where: str) -> None:
    if not isinstance(text, str):
        raise TypeError(
            f"{where}() takes a string, not {type(text).__name__}: {text!r:.60}. Pass the text itself."
        )


def _batch_and_pairs(texts, text_pair) -> tuple[list[str], list[str | None]]:
    """One text or a list of texts, with an optional second sentence each -> two equal lists."""
    single = isinstance(texts, str)
    batch = [texts] if single else _check_batch(texts, "texts")
    if text_pair is None:
        return batch, [None] * len(batch)
    if single and isinstance(text_pair, str):
        # One text with an empty second sentence is one sentence, as in transformers
        # (in a batch, an empty second sentence still gets its [SEP]).
        return batch, [text_pair or None]
    pairs = _check_batch(text_pair, "text_pair")
    if single or len(pairs) != len(batch):
        raise ValueError(
            f"text_pair must match texts: got {len(batch)} text(s) and {len(pairs)} second "
            "sentence(s). Pass one second sentence per text (a list of them for a list of texts)."
        )
    return batch, pairs


def _check_batch(texts, name: str) -> list[str]:
    if not isinstance(texts, (list, tuple)):
        raise TypeError(f"{name} must be a string or a list of strings, not {type(texts).__name__}.")
    if not texts:
        raise ValueError(f"{name} is an empty list: pass at least one text.")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                f"{name}[{i}] is a {type(text).__name__}, not a string: {text!r:.60}. "
                "Pass raw text; pre-split words are not supported."
            )
    return list(texts)


def _check_option(value, name: str, aliases: dict):
    """Accept True/False and Hugging Face's names for the same choices."""
    if isinstance(value, bool):
        return value
    if value in aliases:
        return aliases[value]
    choices = ", ".join(["True", "False"] + [repr(a) for a in aliases])
    raise ValueError(f"{name}={value!r} is not supported; use one of {choices}.")


def _as_id_list(ids) -> list[int]:
    """Accept a list of ints, a single int, or a 1-D tensor/array of ids."""
    if hasattr(ids, "tolist"):
        ids = ids.tolist()
    if isinstance(ids, int):
        return [ids]
    try:
        return [operator.index(i) for i in ids]  # accepts int and numpy ints, rejects 1.5 and lists
    except TypeError:
        raise TypeError(
            f"Expected a list of integer token ids (or a 1-D tensor), got {ids!r:.60}. "
            "For a batch of sequences, use batch_decode."
        ) from None


def _to_tensors(out: dict, return_tensors: str) -> dict:
    if return_tensors != "pt":
        raise ValueError(
            f"return_tensors={return_tensors!r} is not supported; use 'pt' (PyTorch) or None."
        )
    lengths = {len(ids) for ids in out["input_ids"]}
    if len(lengths) > 1:
        raise ValueError(
            f"The texts have different lengths ({min(lengths)} to {max(lengths)} tokens), so they "
            "do not fit in one tensor. Pass padding=True (pad to the longest) or padding='max_length'."
        )
    import torch  # only here: the rest of the tokenizer is plain Python

    return {key: torch.tensor(value, dtype=torch.long) for key, value in out.items()}

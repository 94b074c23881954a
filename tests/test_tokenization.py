"""kaibert's WordPiece tokenizer against Hugging Face's, on the MiniLM BERT vocabulary.

transformers has two BERT tokenizers: ``BertTokenizerFast``, on the Rust ``tokenizers`` library,
and a pure-Python one, the original BERT code. Their names changed in transformers 5: there
``BertTokenizer`` is ``BertTokenizerFast`` and the Python one is ``BertTokenizerLegacy``; before,
``BertTokenizer`` was the Python one. Tokens and ids are compared with both, whichever version is
installed; where the two disagree (noted below), kaibert follows the Rust one, which
``AutoTokenizer`` gives.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from kaibert.tokenization import (
    BertTokenizer,
    basic_tokenize,
    truncate_pair,
    wordpiece_tokenize,
)

transformers = pytest.importorskip("transformers")
try:  # transformers 5 and later
    from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy as PythonBertTokenizer
except ImportError:  # transformers 4: BertTokenizer is the Python one
    PythonBertTokenizer = transformers.BertTokenizer

TEXTS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "Tokenization is unaffable; WordPiece isn't.",
    # accents and mixed case
    "Café DÉJÀ VU: naïve façade, Ångström, Straße, Œuvre, İstanbul",
    "e\u0301 (an e followed by a combining accent)",
    "MiXeD CaSe WoRdS and CAPITALS",
    # punctuation, ASCII symbols, numbers
    "don't stop! isn't it? (yes) [no] {maybe} \"quoted\" 'single'",
    "$5 + 3 = 8 ^_^ `code` ~tilde |pipe| <tag> @user #tag %20 &amp *star* a/b\\c",
    "¡Hola! ¿Qué tal? «guillemets» — em dash … ‘curly’ “quotes” €10",
    "3.14159 1,000,000 2026-11-25 12:30 42nd 1e-12 0x1F",
    # Chinese, Japanese, Korean, other scripts
    "北京是中国的首都。",
    "日本語のテキスト and 한국어 텍스트",
    "Русский текст, ελληνικά, עברית, العربية",
    # emoji and symbols the vocabulary does not have
    "I love 🤗 and 😀! ✓ ★ ♥",
    # long words: pieces, and beyond max_input_chars_per_word (100)
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "x" * 100,
    "x" * 101,
    "é" * 101,
    "hippopotomonstrosesquippedaliophobia" * 3,
    # empty and whitespace only
    "",
    " ",
    "  \t\n\r  ",
    "\u00a0\u2003\u3000",
    # control and invisible characters
    "tab\there\nnewline\r\nwindows",
    "nul\x00byte, zero\u200bwidth, bell\x07, replacement\ufffd, bom\ufeff",
    "line\u2028separator\u2029paragraph\x85next",
    # special tokens typed into the text
    "Paris is the [MASK] of France.",
    "[CLS]glued[SEP]tokens[PAD][UNK]",
    "[mask] is not special in lower case",
    "##ing ## a##b",
]

# Sentence pairs (for BERT's next-sentence and question/answer inputs).
PAIRS = [
    ("How old are you?", "I am six years old."),
    ("The cat sat.", "On the mat, it sat; then it left!"),
    ("Café au lait", "北京 😀"),
    ("one", "two three four five six seven eight nine ten"),
]

# Where the two Hugging Face tokenizers disagree with each other, kaibert follows the Rust one
# (BertTokenizerFast): it lower-cases character by character, so a final capital sigma becomes
# "σ", where Python's str.lower, which the Python tokenizer calls on whole words, gives "ς".
RUST_ONLY_TEXTS = ["ΣΟΦΟΣ ΟΔΥΣΣΕΥΣ", "Σ at the end: ΛΟΓΟΣ"]


@pytest.fixture(scope="module")
def ours(minilm_path) -> BertTokenizer:
    return BertTokenizer.from_pretrained(minilm_path)


@pytest.fixture(scope="module")
def hf_tokenizers(minilm_path) -> dict:
    return {
        "rust": transformers.BertTokenizerFast.from_pretrained(minilm_path),
        "python": PythonBertTokenizer.from_pretrained(minilm_path),
    }


@pytest.fixture(scope="module")
def hf(hf_tokenizers):
    """The tokenizer ``transformers.AutoTokenizer`` gives for BERT: the Rust one."""
    return hf_tokenizers["rust"]


HF_NAMES = ["rust", "python"]


# --- tokens and ids ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", HF_NAMES)
def test_tokens_and_ids_match_transformers(ours, hf_tokenizers, name):
    theirs = hf_tokenizers[name]
    for text in TEXTS:
        assert ours.tokenize(text) == theirs.tokenize(text), text
        assert ours.encode(text) == theirs.encode(text), text
        assert ours.encode(text, add_special_tokens=False) == theirs.encode(text, add_special_tokens=False), text


def test_text_set_is_varied(ours):
    """The text set exercises what it claims: unknown words, pieces, CJK, special tokens, nothing."""
    tokens = [ours.tokenize(text) for text in TEXTS]
    flat = [token for sentence in tokens for token in sentence]
    assert "[UNK]" in flat
    assert any(token.startswith("##") for token in flat)
    assert "北" in flat and "[MASK]" in flat
    assert [] in tokens
    assert ours.tokenize("x" * 101) == ["[UNK]"] and ours.tokenize("x" * 100) != ["[UNK]"]


def test_final_sigma_follows_the_rust_tokenizer(ours, hf_tokenizers):
    for text in RUST_ONLY_TEXTS:
        assert ours.tokenize(text) == hf_tokenizers["rust"].tokenize(text)
        assert ours.encode(text) == hf_tokenizers["rust"].encode(text)
        # Chapter 01's claim: Google's two stages, which the Python tokenizer runs, give "ς". (Its
        # tokenize() in transformers 4 lower-cases the text character by character first.)
        python = hf_tokenizers["python"]
        pieces = [p for w in python.basic_tokenizer.tokenize(text) for p in python.wordpiece_tokenizer.tokenize(w)]
        assert ours.tokenize(text) != pieces and pieces[-1].endswith("ς")


@pytest.mark.parametrize("name", HF_NAMES)
def test_sentence_pairs_match_transformers(ours, hf_tokenizers, name):
    theirs = hf_tokenizers[name]
    for first, second in PAIRS:
        assert ours.encode(first, second) == theirs.encode(first, second)
        assert ours(first, second) == dict(theirs(first, second, return_token_type_ids=True))


@pytest.mark.parametrize("first, second", [("short", ""), ("short", " "), ("", "x"), ("", "")])
def test_an_empty_second_sentence_matches_transformers(ours, hf_tokenizers, first, second):
    """tokenizer("short", "") is one sentence, [CLS] short [SEP]; a lone space is still a pair.

    (The pure-Python tokenizer, like Google's original code, gives a second [SEP] here.)
    """
    theirs = hf_tokenizers["rust"]
    assert ours(first, second) == dict(theirs(first, second, return_token_type_ids=True))
    assert ours.encode(first, second) == theirs.encode(first, second)


def test_an_empty_second_sentence_in_a_batch_matches_transformers(ours, hf):
    texts, pairs = ["short", "a longer one"], ["", "x"]
    assert ours(texts, pairs, padding=True) == dict(hf(texts, pairs, padding=True, return_token_type_ids=True))


def test_pair_layout_and_segments(ours):
    out = ours("Hello there", "General Kenobi")
    ids, types = out["input_ids"], out["token_type_ids"]
    first_sep = ids.index(ours.sep_token_id)
    assert ids[0] == ours.cls_token_id and ids[-1] == ours.sep_token_id
    assert types == [0] * (first_sep + 1) + [1] * (len(ids) - first_sep - 1)
    assert out["attention_mask"] == [1] * len(ids)


def test_single_text_call_matches_transformers(ours, hf):
    for text in TEXTS:
        assert ours(text, padding=False, truncation=False) == dict(hf(text))


def test_vocabulary_and_special_tokens_match_transformers(ours, hf):
    assert ours.vocab == hf.get_vocab()
    assert ours.vocab_size == hf.vocab_size == len(ours) == 30522
    for role in ("cls", "sep", "pad", "mask", "unk"):
        assert getattr(ours, f"{role}_token") == getattr(hf, f"{role}_token")
        assert getattr(ours, f"{role}_token_id") == getattr(hf, f"{role}_token_id")
    assert sorted(ours.all_special_ids) == sorted(hf.all_special_ids)
    ids = ours("A question?", "An answer.")["input_ids"] + [ours.pad_token_id, ours.mask_token_id]
    assert ours.get_special_tokens_mask(ids) == hf.get_special_tokens_mask(ids, already_has_special_tokens=True)


def test_token_id_conversions_match_transformers(ours, hf):
    tokens = ["hello", "##ing", "[MASK]", "not-a-token", "北"]
    assert ours.convert_tokens_to_ids(tokens) == hf.convert_tokens_to_ids(tokens)
    assert ours.convert_tokens_to_ids("hello") == hf.convert_tokens_to_ids("hello")
    ids = [0, 100, 101, 102, 103, 1996, 30521]
    assert ours.convert_ids_to_tokens(ids) == hf.convert_ids_to_tokens(ids)
    assert ours.convert_ids_to_tokens(7592) == hf.convert_ids_to_tokens(7592)


# --- batches: padding, truncation, tensors ------------------------------------------------------


def test_batch_padding_matches_transformers(ours, hf):
    batch = TEXTS[:8]
    assert ours(batch, padding=True, truncation=False) == dict(hf(batch, padding=True))
    assert ours(batch, padding="longest", truncation=False) == dict(hf(batch, padding="longest"))
    assert ours(batch, padding=False, truncation=False) == dict(hf(batch))


def test_batch_truncation_and_max_length_padding_match_transformers(ours, hf):
    batch = TEXTS[:10]
    for max_length in (2, 5, 16, 40):
        kwargs = dict(truncation=True, max_length=max_length)
        assert ours(batch, padding=False, **kwargs) == dict(hf(batch, **kwargs))
        assert ours(batch, padding=True, **kwargs) == dict(hf(batch, padding=True, **kwargs))
        assert ours(batch, padding="max_length", **kwargs) == dict(hf(batch, padding="max_length", **kwargs))


def test_pair_batch_truncation_longest_first_matches_transformers(ours, hf):
    firsts = [first for first, _ in PAIRS] + ["", "lonely"]
    seconds = [second for _, second in PAIRS] + ["an empty first sentence", ""]
    for max_length in (3, 6, 9, 12, 64):
        kwargs = dict(truncation=True, max_length=max_length)
        assert ours(firsts, seconds, padding=True, **kwargs) == dict(hf(firsts, seconds, padding=True, **kwargs))


def test_pair_truncation_matches_transformers_on_random_lengths(ours, hf):
    """Longest-first truncation has fiddly corner cases (ties, odd budgets): sweep many of them."""
    rng = random.Random(0)
    words = ["one", "two", "three", "unaffable", "!", "Über", "北京"]
    for _ in range(150):
        first = " ".join(rng.choices(words, k=rng.randint(0, 12)))
        second = " ".join(rng.choices(words, k=rng.randint(0, 12)))
        max_length = rng.randint(3, 30)
        kwargs = dict(truncation=True, max_length=max_length)
        assert ours([first], [second], padding=False, **kwargs) == dict(hf([first], [second], **kwargs))
        assert ours.encode(first, **kwargs) == hf.encode(first, **kwargs)


def test_truncate_pair_takes_from_the_longer_first():
    assert truncate_pair([1, 2], [3, 4, 5, 6, 7, 8], 6) == ([1, 2], [3, 4, 5, 6])
    assert truncate_pair([1, 2, 3, 4, 5, 6], [7, 8], 5) == ([1, 2, 3], [7, 8])
    assert truncate_pair([1, 2, 3], [4, 5, 6], 5) == ([1, 2], [4, 5, 6])
    assert truncate_pair([1], [2], 5) == ([1], [2])


def test_default_truncation_is_the_model_limit(ours, hf):
    long_text = "word " * 600
    ids = ours(long_text)["input_ids"]
    assert len(ids) == ours.model_max_length == 512
    assert ids == hf(long_text, truncation=True)["input_ids"]


def test_return_tensors_pt_matches_transformers(ours, hf):
    batch = ["A short one.", "A somewhat longer sentence with more words in it.", ""]
    mine = ours(batch, padding=True, truncation=True, max_length=12, return_tensors="pt")
    theirs = hf(batch, padding=True, truncation=True, max_length=12, return_tensors="pt")
    assert set(mine) == {"input_ids", "token_type_ids", "attention_mask"}
    for key in mine:
        assert mine[key].dtype == theirs[key].dtype == torch.long
        assert mine[key].shape == theirs[key].shape == (3, 12)
        assert torch.equal(mine[key], theirs[key])
    single = ours("Just one text", return_tensors="pt")
    assert single["input_ids"].shape == hf("Just one text", return_tensors="pt")["input_ids"].shape
    assert single["input_ids"].shape[0] == 1


# --- decoding -----------------------------------------------------------------------------------


def decode(hf, ids, **kwargs):
    """transformers' decode without its clean-up of spaces ("isn ' t" -> "isn't"): the default from
    transformers 5 on, and what kaibert does; transformers 4 cleans up unless told not to."""
    return hf.decode(ids, clean_up_tokenization_spaces=False, **kwargs)


def test_decode_matches_transformers(ours, hf):
    for text in TEXTS + [first + " " + second for first, second in PAIRS]:
        ids = hf.encode(text)
        assert ours.decode(ids) == decode(hf, ids), text
        assert ours.decode(ids, skip_special_tokens=True) == decode(hf, ids, skip_special_tokens=True), text
    odd = hf.convert_tokens_to_ids(["##ing", "hello", "'", "s", ".", "##.", "do", "not", "?", "[PAD]"])
    assert ours.decode(odd) == decode(hf, odd)
    assert ours.decode(odd, skip_special_tokens=True) == decode(hf, odd, skip_special_tokens=True)


def test_decode_round_trip(ours):
    """decode undoes encode up to normalisation: re-encoding the decoded text gives the same ids."""
    for text in TEXTS:
        ids = ours.encode(text)
        if ours.unk_token_id in ids:
            continue  # [UNK] stands for something the vocabulary cannot spell: nothing to get back
        decoded = ours.decode(ids)  # "[CLS] ... [SEP]": special tokens read back as themselves
        assert ours.encode(decoded, add_special_tokens=False) == ids, text
    plain = "tokenization is fun, isn't it? yes!"
    assert ours.decode(ours.encode(plain), skip_special_tokens=True) == "tokenization is fun, isn ' t it? yes!"
    assert ours.decode(ours.encode("Hello")) == "[CLS] hello [SEP]"


def test_decode_accepts_tensors_and_batches(ours, hf):
    batch = ours(["first text", "second, longer text"], return_tensors="pt")
    assert ours.decode(batch["input_ids"][1]) == hf.decode(batch["input_ids"][1])
    assert ours.batch_decode(batch["input_ids"], skip_special_tokens=True) == hf.batch_decode(
        batch["input_ids"], skip_special_tokens=True
    )


# --- saving and loading -------------------------------------------------------------------------


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_save_pretrained_loads_in_transformers(ours, minilm_path, tmp_path, do_lower_case):
    tokenizer = BertTokenizer.from_pretrained(minilm_path, do_lower_case=do_lower_case)
    tokenizer.save_pretrained(tmp_path)
    assert (tmp_path / "vocab.txt").is_file() and (tmp_path / "tokenizer_config.json").is_file()
    reloaded = BertTokenizer.from_pretrained(tmp_path)
    assert reloaded.vocab == ours.vocab and reloaded.do_lower_case == do_lower_case
    for cls in (transformers.BertTokenizerFast, PythonBertTokenizer):  # BertTokenizer is one of them
        theirs = cls.from_pretrained(tmp_path)
        assert theirs.vocab_size == tokenizer.vocab_size
        for text in TEXTS + ["Cased Words STAY cased"]:
            assert theirs.encode(text) == tokenizer.encode(text) == reloaded.encode(text), (cls, text)


def test_loads_what_transformers_saves(hf, tmp_path):
    """transformers 5 saves tokenizer.json without vocab.txt; the vocabulary is read from it."""
    cased = transformers.BertTokenizerFast.from_pretrained(hf.name_or_path, do_lower_case=False)
    cased.save_pretrained(tmp_path)
    mine = BertTokenizer.from_pretrained(tmp_path)
    assert mine.vocab == hf.get_vocab() and mine.do_lower_case is False
    for text in TEXTS:
        assert mine.encode(text) == cased.encode(text), text


def test_config_file_settings_are_read(minilm_path, tmp_path, hf):
    vocab = (tmp_path / "vocab.txt")
    vocab.write_text(open(f"{minilm_path}/vocab.txt", encoding="utf-8").read(), encoding="utf-8")
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps({"do_lower_case": True, "strip_accents": False, "model_max_length": 128})
    )
    mine = BertTokenizer.from_pretrained(tmp_path)
    theirs = transformers.BertTokenizerFast.from_pretrained(tmp_path)
    assert mine.strip_accents is False and mine.model_max_length == 128
    for text in TEXTS:
        assert mine.encode(text) == theirs.encode(text), text
    assert mine.tokenize("Café") != BertTokenizer.from_pretrained(minilm_path).tokenize("Café")
    assert len(mine("word " * 200)["input_ids"]) == 128
    assert BertTokenizer.from_pretrained(tmp_path, model_max_length=64).model_max_length == 64


def test_constructor_takes_a_dict_or_a_vocab_file(minilm_path, ours):
    from_file = BertTokenizer(f"{minilm_path}/vocab.txt")
    from_dict = BertTokenizer(dict(ours.vocab))
    assert from_file.encode("Hello, world!") == from_dict.encode("Hello, world!") == ours.encode("Hello, world!")


# --- the two steps on their own -----------------------------------------------------------------


def test_basic_tokenize_steps():
    assert basic_tokenize("Héllo, WORLD!") == ["hello", ",", "world", "!"]
    assert basic_tokenize("Héllo", do_lower_case=False) == ["Héllo"]
    assert basic_tokenize("Héllo", do_lower_case=False, strip_accents=True) == ["Hello"]
    assert basic_tokenize("北京abc") == ["北", "京", "abc"]
    assert basic_tokenize("北京abc", tokenize_chinese_chars=False) == ["北京abc"]
    assert basic_tokenize("a\x00b\u200bc\td") == ["abc", "d"]


def test_wordpiece_greedy_longest_match_first():
    vocab = {"[UNK]", "un", "una", "##aff", "##able", "##ffa", "##ble", "a", "##b"}
    assert wordpiece_tokenize("unaffable", vocab) == ["una", "##ffa", "##ble"]
    assert wordpiece_tokenize("unaffable", vocab - {"una"}) == ["un", "##aff", "##able"]
    assert wordpiece_tokenize("abbb", vocab) == ["a", "##b", "##b", "##b"]
    assert wordpiece_tokenize("abc", vocab) == ["[UNK]"]  # "c" cannot be spelled: the whole word goes
    assert wordpiece_tokenize("a" * 5, {"a", "##a"}, max_input_chars_per_word=4) == ["[UNK]"]


# --- bad input ----------------------------------------------------------------------------------


def test_folder_without_vocab_says_what_is_missing(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"No vocab\.txt in .*config\.json.*save_pretrained"):
        BertTokenizer.from_pretrained(tmp_path)


def test_missing_local_folder_is_not_sent_to_the_hub(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a checkpoint folder"):
        BertTokenizer.from_pretrained(tmp_path / "no-such-folder")
    with pytest.raises(FileNotFoundError, match="not a checkpoint folder"):
        BertTokenizer.from_pretrained("./no-such-folder")


def test_hub_name_offline_says_to_pass_a_local_folder(monkeypatch, tmp_path):
    hub_constants = pytest.importorskip("huggingface_hub.constants")
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path))  # nothing cached
    with pytest.raises(OSError, match="offline, pass a local checkpoint folder.*or go online"):
        BertTokenizer.from_pretrained("google-bert/bert-base-uncased")


def test_tokenizer_json_of_another_kind_is_refused(tmp_path):
    (tmp_path / "tokenizer.json").write_text(json.dumps({"model": {"type": "BPE", "vocab": {}}}))
    with pytest.raises(ValueError, match="BPE tokenizer, not WordPiece"):
        BertTokenizer.from_pretrained(tmp_path)


def test_vocab_without_special_tokens_names_them():
    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "hello": 3}
    with pytest.raises(ValueError, match=r"sep_token='\[SEP\]'.*mask_token='\[MASK\]'"):
        BertTokenizer(vocab)
    ok = BertTokenizer({**vocab, "<sep>": 4, "<mask>": 5}, sep_token="<sep>", mask_token="<mask>")
    assert ok.encode("hello") == [2, 3, 4]


def test_vocab_with_gaps_or_duplicates_is_refused(tmp_path):
    base = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4}
    with pytest.raises(ValueError, match="ids must be 0..5"):
        BertTokenizer({**base, "hello": 7})
    vocab_file = tmp_path / "vocab.txt"
    vocab_file.write_text("\n".join(list(base) + ["hello", "world", "hello"]) + "\n")
    with pytest.raises(ValueError, match="'hello' appears twice .lines 6 and 8"):
        BertTokenizer(vocab_file)
    with pytest.raises(IsADirectoryError, match="from_pretrained"):
        BertTokenizer(tmp_path)
    with pytest.raises(TypeError, match="vocab must be a dict"):
        BertTokenizer(["[PAD]", "[UNK]"])


def test_out_of_range_ids_are_refused(ours):
    with pytest.raises(IndexError, match=r"Token id 30522 is out of range.*0\.\.30521"):
        ours.decode([101, 30522, 102])
    with pytest.raises(IndexError, match="Token id -1 is out of range"):
        ours.convert_ids_to_tokens([-1])
    with pytest.raises(TypeError, match="integer token ids"):
        ours.decode([101, 1.5])
    with pytest.raises(TypeError, match="batch_decode"):
        ours.decode([[101, 102]])


@pytest.mark.parametrize("bad", [None, 42, b"bytes", ["a", "list"]])
def test_tokenize_refuses_non_strings(ours, bad):
    with pytest.raises(TypeError, match="tokenize.. takes a string"):
        ours.tokenize(bad)


def test_call_refuses_bad_batches_and_options(ours):
    with pytest.raises(TypeError, match=r"texts\[1\] is a int"):
        ours(["fine", 3])
    with pytest.raises(TypeError, match=r"texts\[0\] is a list.*pre-split words"):
        ours([["pre", "split"]])
    with pytest.raises(TypeError, match="string or a list of strings"):
        ours(None)
    with pytest.raises(ValueError, match="text_pair must match texts"):
        ours(["a", "b"], ["only one"])
    with pytest.raises(ValueError, match="text_pair must match texts"):
        ours("a", ["b", "c"])
    with pytest.raises(ValueError, match="empty list"):
        ours([])
    with pytest.raises(ValueError, match="padding='left' is not supported"):
        ours("a", padding="left")
    with pytest.raises(ValueError, match="max_length >= 3"):
        ours("a", "b", max_length=2)
    with pytest.raises(ValueError, match="padding=True"):
        ours(["short", "a bit longer"], padding=False, return_tensors="pt")
    with pytest.raises(ValueError, match="return_tensors='np' is not supported"):
        ours("a", return_tensors="np")


# --- chapter 01 builds the package's tokenizer -------------------------------------------------

CHAPTER_01 = Path(__file__).resolve().parents[1] / "chapters" / "01_tokenization.ipynb"
# What chapter 01 builds in the open, under the names kaibert.tokenization uses.
BUILT_IN_CHAPTER_01 = {
    "is_whitespace", "is_control", "clean_text", "CHINESE_CHAR_RANGES", "is_chinese_char",
    "space_out_chinese_chars", "remove_accents", "lower_case", "is_punctuation", "split_on_punctuation",
    "basic_tokenize", "MAX_INPUT_CHARS_PER_WORD", "wordpiece_tokenize", "pad_batch",
}


def top_level_definitions(source: str) -> dict[str, str]:
    """name -> the code of each top-level function and constant, without docstrings (comments never count)."""
    import ast

    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                body = body[1:]  # the docstring: the package's may say more than the chapter's
            node.body = [stmt for stmt in body if not isinstance(stmt, (ast.Import, ast.ImportFrom))]
            found[node.name] = ast.dump(node)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            found[node.targets[0].id] = ast.dump(node.value)
    return found


def test_chapter_01_builds_the_package_tokenizer_under_its_names():
    """Chapter 01's functions are kaibert.tokenization's, name for name and line for line, so the
    two cannot drift: change one without the other and this fails."""
    import kaibert.tokenization as tokenization

    cells = [c for c in json.loads(CHAPTER_01.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    chapter = {}
    for cell in cells:
        source = "".join(cell["source"])
        if not source.lstrip().startswith(("!", "%")):
            chapter.update(top_level_definitions(source))
    package = top_level_definitions(Path(tokenization.__file__).read_text(encoding="utf-8"))
    assert BUILT_IN_CHAPTER_01 <= set(chapter), sorted(BUILT_IN_CHAPTER_01 - set(chapter))
    differ = sorted(name for name in BUILT_IN_CHAPTER_01 if chapter[name] != package.get(name))
    assert not differ, f"chapter 01 and kaibert/tokenization.py differ in {differ}"

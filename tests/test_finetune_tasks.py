"""Chapter 10's tasks: split by play as chapter 09 splits, labels from the First Folio, seeded pairs."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaibert.data import ALL_WORKS, SPLITS, sample_corpus
from kaibert.finetune import tasks


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> Path:
    return sample_corpus(tmp_path_factory.mktemp("corpus"), lines_per_work=120)


@pytest.fixture(scope="module")
def genre(small_corpus):
    return tasks.genre_dataset(small_corpus)


def test_every_work_has_a_folio_group_or_a_reason_to_be_left_out():
    assert set(tasks.GENRE_OF) | set(tasks.LEFT_OUT) == ALL_WORKS
    assert not set(tasks.GENRE_OF) & set(tasks.LEFT_OUT)
    assert [len(tasks.FOLIO[g]) for g in tasks.GENRES] == [14, 10, 11]  # the Folio's 35 grouped plays


def test_genre_is_split_by_play_exactly_as_chapter_09(genre):
    for split, works in SPLITS.items():
        expected = {w for w in works if w in tasks.GENRE_OF}
        assert set(genre[split]["work"]) == expected
    assert not set(genre["train"]["work"]) & (set(genre["validation"]["work"]) | set(genre["test"]["work"]))
    # each held-out split has one play of each group
    for split in ("validation", "test"):
        assert sorted(tasks.GENRE_OF[w] for w in set(genre[split]["work"])) == list(tasks.GENRES)


def test_genre_labels_come_from_the_folio(genre):
    names = tasks.label_names(genre["train"])
    assert names == list(tasks.GENRES)
    for row in genre["train"].select(range(0, len(genre["train"]), 50)):
        assert names[row["label"]] == tasks.GENRE_OF[row["work"]]
    assert tasks.GENRE_OF["hamlet"] == "tragedy" and tasks.GENRE_OF["henry_v"] == "history"
    assert tasks.GENRE_OF["twelfth_night"] == "comedy"


def test_passages_are_consecutive_whole_lines_within_the_budget(genre, small_corpus):
    count = tasks._word_piece_counter()
    lines = tasks._lines(small_corpus / "macbeth.txt")
    rows = [r["text"] for r in genre["train"] if r["work"] == "macbeth"]
    assert " ".join(rows) == " ".join(lines)  # nothing dropped, nothing reordered
    for text in rows:
        assert count([text])[0] <= tasks.PASSAGE_TOKENS or text in lines  # or one long line alone
    assert tasks.passages(["a", "b", "c", "d"], [3, 3, 5, 9], budget=6) == ["a b", "c", "d"]


def test_next_line_is_half_real_half_from_another_work(small_corpus):
    data = tasks.next_line_dataset(small_corpus, seed=3)
    files = {p.stem: tasks._lines(p) for p in small_corpus.glob("*.txt")}
    for split in SPLITS:
        labels = data[split]["label"]
        assert abs(sum(labels) - len(labels) / 2) <= 0.5
        assert set(data[split]["work"]) == set(SPLITS[split])
    for row in data["validation"]:
        lines = files[row["work"]]
        i = lines.index(row["text"])
        if row["label"] == 0:
            assert row["text_pair"] in lines[i + 1:]  # the next line (a repeated line may match later)
            assert lines[i + 1] == row["text_pair"] or lines.count(row["text"]) > 1
        else:
            others = {w for w in SPLITS["validation"] if w != row["work"]}
            assert any(row["text_pair"] in files[w] for w in others)
    again = tasks.next_line_dataset(small_corpus, seed=3)
    other = tasks.next_line_dataset(small_corpus, seed=4)
    assert again["train"]["label"] == data["train"]["label"]
    assert other["train"]["label"] != data["train"]["label"]


def test_describe_reports_sizes_balance_and_the_majority_baseline(genre):
    report = tasks.describe(genre)
    train = genre["train"]["label"]
    majority = max(set(train), key=train.count)
    assert report["majority_class"] == tasks.GENRES[majority]
    test = genre["test"]["label"]
    assert report["splits"]["test"]["majority_baseline_accuracy"] == round(test.count(majority) / len(test), 4)
    assert report["splits"]["train"]["examples"] == len(train)
    assert abs(sum(report["splits"]["validation"]["balance"].values()) - 1) < 1e-3
    assert "majority" in tasks.format_report(report)


def test_pairs_of_two_lengths_and_unknown_tasks_are_refused():
    tokenizer = tasks.fast_tokenizer(tasks.SHIPPED_VOCAB, max_length=16)
    with pytest.raises(ValueError, match="got 2 first and 1 second texts"):
        tasks.encode(tokenizer, ["a line", "another"], ["one"])
    enc = tasks.encode(tokenizer, ["to be or not to be"], ["that is the question"])
    assert enc["token_type_ids"][0].count(1) > 0 and len(enc["input_ids"][0]) <= 16
    with pytest.raises(ValueError, match="unknown task 'sentiment'"):
        tasks.load_task("sentiment")
    batch = tasks.pad_batch([{**{k: v[0] for k, v in enc.items()}, "label": 1},
                             {"input_ids": [2, 5, 3], "token_type_ids": [0, 0, 0], "attention_mask": [1, 1, 1],
                              "label": 0}])
    assert batch["input_ids"].shape == batch["attention_mask"].shape and batch["labels"].tolist() == [1, 0]


def test_sst2_loads_from_a_folder_in_the_hubs_schema(tmp_path):
    """The online benchmark's loading code, offline: a fixture in GLUE's SST-2 schema (sentence, label, idx)."""
    from pathlib import Path

    from kaibert.finetune import tasks
    from kaibert.finetune.task import get_task

    splits = get_task("sst2").load(str(tasks.SST2_SAMPLE))  # shipped in the package: works without a clone
    assert set(splits) == {"train", "validation", "test"}
    assert [len(splits[s]) for s in ("train", "validation", "test")] == [16, 4, 8]  # a fifth of train validates
    assert tasks.label_names(splits["train"]) == ["negative", "positive"]
    assert set(splits["test"].column_names) == {"label", "text", "work"}
    assert all(t == t.strip() for t in splits["train"]["text"])
    assert set(splits["train"]["text"]).isdisjoint(splits["validation"]["text"])
    report = tasks.describe(splits)
    assert report["splits"]["test"]["examples"] == 8
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "train.jsonl").write_text('{"sentence": "x", "label": -1, "idx": 0}\n')
    (bad / "validation.jsonl").write_text('{"sentence": "y", "label": 1, "idx": 0}\n')
    import pytest

    with pytest.raises(ValueError, match="hides its labels"):
        tasks.sst2_dataset(bad)
    with pytest.raises(FileNotFoundError, match="train.jsonl and validation.jsonl"):
        tasks.sst2_dataset(tmp_path)

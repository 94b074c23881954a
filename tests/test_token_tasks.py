"""The token-level tasks: names tagged in the lines, the reply extracted as a span; both through the command."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from kaibert import BertConfig, BertForMaskedLM
from kaibert.data import sample_corpus
from kaibert.finetune import engine, tasks, token_tasks
from kaibert.finetune.task import get_task


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A small corpus, and a tiny MLM model folder with the shipped vocabulary."""
    root = tmp_path_factory.mktemp("token_tasks")
    corpus = sample_corpus(root / "corpus", lines_per_work=40)
    tiny = root / "tiny"
    torch.manual_seed(0)
    BertForMaskedLM(BertConfig(vocab_size=8000, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                               intermediate_size=32, max_position_embeddings=128)).save_pretrained(tiny)
    (tiny / "vocab.txt").write_text((tasks.SHIPPED_VOCAB / "vocab.txt").read_text())
    return root, corpus, tiny


def test_capitals_mid_sentence_are_names_and_positional_capitals_are_not_scored():
    words, labels = token_tasks.tag_words([["Welcome", ",", "Horatio", ":", "welcome", ",", "good", "Marcellus", "."],
                                           ["What", ",", "has", "this", "thing", "appear", "'", "d", "again", "?"],
                                           ["I", "have", "seen", "nothing", ";", "O", "Lord", "!"]])
    tagged = dict(zip(words, labels))
    assert tagged["Horatio"] == tagged["Marcellus"] == tagged["Lord"] == 1
    assert tagged["good"] == tagged["thing"] == tagged["have"] == 0
    # first word of a line or after . ! ? : ;, "I" and "O", punctuation: no label
    assert tagged["Welcome"] == tagged["What"] == tagged["welcome"] == tagged["I"] == tagged["O"] == -100
    assert tagged[","] == -100


def test_names_labels_sit_on_the_first_word_piece(setup):
    root, corpus, tiny = setup
    splits = token_tasks.names_dataset(corpus)
    assert set(splits) == {"train", "validation", "test"} and len(splits["test"]) > 0
    assert all(0 < len(r["words"]) == len(r["tags"]) for r in splits["train"])
    tok = tasks.fast_tokenizer(tiny, 96)
    encoded = token_tasks.encode_and_align(splits, tok)
    row = next(r for r in encoded["train"] if 1 in r["labels"])
    e = tok.encode(row["words"], is_pretokenized=True)
    for position, (word, label) in enumerate(zip(e.word_ids, row["labels"])):
        first_piece = word is not None and (position == 0 or e.word_ids[position - 1] != word)
        if first_piece:
            assert label == row["tags"][word]
        else:
            assert label == -100
    batch = token_tasks.pad_tagged([encoded["train"][0], encoded["train"][1]])
    assert batch["labels"].shape == batch["input_ids"].shape
    assert (batch["labels"][batch["attention_mask"] == 0] == -100).all()


def test_reply_rows_have_squads_schema_and_the_answer_is_the_next_line(setup):
    root, corpus, tiny = setup
    splits = token_tasks.reply_dataset(corpus, seed=0)
    row = splits["validation"][0]
    assert set(row) == {"id", "title", "context", "question", "answers"}
    start, text = row["answers"]["answer_start"][0], row["answers"]["text"][0]
    assert row["context"][start:start + len(text)] == text
    lines = row["context"].split(token_tasks.LINE_BREAK)
    assert lines[lines.index(row["question"]) + 1] == text
    encoded = token_tasks.encode_spans(splits, tasks.fast_tokenizer(tiny, 128))
    tok = tasks.fast_tokenizer(tiny, 128)
    for r, e in zip(encoded["validation"].select(range(5)), splits["validation"].select(range(5))):
        pieces = [tok.id_to_token(i) for i in r["input_ids"][r["start_positions"]:r["end_positions"] + 1]]
        words = tok.encode(e["answers"]["text"][0], add_special_tokens=False).tokens
        assert pieces == words


def test_a_truncated_answer_points_past_the_input():
    offsets = [(0, 0), (0, 3), (0, 0), (0, 4), (5, 9), (0, 0)]
    sequence_ids = [None, 0, None, 1, 1, None]
    assert token_tasks.answer_tokens(offsets, sequence_ids, 5, 9, past_end=6) == (4, 4)
    assert token_tasks.answer_tokens(offsets, sequence_ids, 12, 20, past_end=6) == (6, 6)


def test_best_span_never_ends_before_it_starts():
    start = torch.tensor([[0.0, 1.0, 9.0, 0.0]])
    end = torch.tensor([[0.0, 8.0, 0.0, 2.0]])
    allowed = torch.tensor([[False, True, True, True]])
    s, e = token_tasks.best_spans(start, end, allowed)
    assert (s.item(), e.item()) == (2, 3)  # 9 + 2: the best end at or after the best start


@pytest.mark.parametrize("task,metric", [("names", "f1"), ("reply", "exact_match")])
def test_the_command_fine_tunes_each_token_task(setup, task, metric, capsys):
    """A few steps of kaibert-finetune on each task: a model transformers loads, results, the report."""
    import transformers

    root, corpus, tiny = setup
    out = root / task
    config = dict(task=task, init_from=str(tiny), corpus_dir=str(corpus), output_dir=str(out),
                  batch_size=4, max_steps=4, val_every_steps=2, log_every_steps=1, max_length=96,
                  train_examples=24, val_examples=8, test_examples=8, learning_rate=1e-3,
                  progress_bar=False, num_threads=1)
    path = root / f"{task}.yaml"
    path.write_text(yaml.safe_dump(config))
    engine.main(["--config", str(path)])
    printed = capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    assert results["task"] == task and results["steps"] == 4
    assert 0 <= results["test"][metric] <= 1 and results["test"]["loss"] > 0
    assert ("NAME F1" if task == "names" else "exact match") in printed
    theirs = {"names": transformers.BertForTokenClassification,
              "reply": transformers.BertForQuestionAnswering}[task].from_pretrained(out / "model")
    ours = get_task(task).head().from_pretrained(out / "model")
    ids = torch.tensor([[2, 40, 41, 42, 3]])
    with torch.no_grad():
        a, b = ours(ids), theirs(ids)
    first = a.logits if task == "names" else a.start_logits
    assert (first - (b.logits if task == "names" else b.start_logits)).abs().max() <= 1e-5


@pytest.mark.parametrize("name", ["finetune-names.yaml", "finetune-reply.yaml"])
def test_shipped_configs_are_valid(name):
    from kaibert.course.paths import course_root

    engine.load_config(course_root() / "configs" / name).check()

"""The fine-tuning command on a tiny model and a small corpus: results, resume, export, classify."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from kaibert import BertConfig, BertForMaskedLM, BertForSequenceClassification
from kaibert.data import sample_corpus
from kaibert.finetune import engine, tasks


class Interrupt(Exception):
    pass


def interrupt_after(steps: int):
    import pytorch_lightning as pl

    class _Interrupt(pl.Callback):
        def on_train_batch_start(self, trainer, *args):
            if trainer.global_step == steps:
                raise Interrupt(f"stopped after {steps} steps")

    return _Interrupt()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A small corpus, and a tiny MLM model folder with the shipped vocabulary."""
    root = tmp_path_factory.mktemp("finetune")
    corpus = sample_corpus(root / "corpus", lines_per_work=60)
    tiny = root / "tiny"
    torch.manual_seed(0)
    BertForMaskedLM(BertConfig(vocab_size=8000, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                               intermediate_size=32, max_position_embeddings=64)).save_pretrained(tiny)
    (tiny / "vocab.txt").write_text((tasks.SHIPPED_VOCAB / "vocab.txt").read_text())
    return root, corpus, tiny


def make_config(setup, name: str, **changes) -> engine.FinetuneConfig:
    root, corpus, tiny = setup
    values = dict(task="genre", init_from=str(tiny), corpus_dir=str(corpus), output_dir=str(root / name),
                  batch_size=4, max_steps=6, val_every_steps=3, log_every_steps=1, max_length=48,
                  train_examples=40, val_examples=12, test_examples=16, learning_rate=1e-3,
                  progress_bar=False, num_threads=1)
    return engine.config_from_dict({**values, **changes})


def last_weights(out) -> dict:
    return torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]


@pytest.mark.slow
def test_a_run_writes_metrics_and_a_model_transformers_loads(setup):
    import transformers

    config = make_config(setup, "a")
    results = engine.run(config)
    out = setup[0] / "a"
    test = results["test"]
    assert test["examples"] == 16 and sum(map(sum, test["confusion_matrix"])) == 16
    assert 0 <= test["macro_f1"] <= 1 and 0 <= test["accuracy"] <= 1
    assert json.loads((out / "results.json").read_text())["test"] == test
    assert results["labels"] == ["comedy", "history", "tragedy"] and results["steps"] == 6
    assert (out / "checkpoints" / "best.ckpt").is_file()
    metrics = engine.read_metrics(out)
    assert metrics["val_accuracy"].notna().sum() == 2 and metrics["train_loss"].notna().sum() == 6

    theirs = transformers.BertForSequenceClassification.from_pretrained(out / "model", attn_implementation="eager").eval()
    ours = BertForSequenceClassification.from_pretrained(out / "model")
    assert theirs.config.id2label == {0: "comedy", 1: "history", 2: "tragedy"}
    encoded = tasks.tokenize_task(tasks.genre_dataset(setup[1]), tasks.fast_tokenizer(out / "model", 48))
    batch = engine.fixed_batches(encoded["test"], 8).batches[0]
    with torch.no_grad():
        a, b = ours(**batch), theirs(**batch)
    assert (a.logits - b.logits).abs().max() <= 1e-5 and abs(a.loss - b.loss) <= 1e-5

    # the reported test scores are the saved model's
    tokenizer = tasks.fast_tokenizer(out / "model", 48)
    test_split = engine._sample(tasks.genre_dataset(setup[1])["test"], 16, 0)
    encoded = test_split.map(lambda rows: tasks.encode(tokenizer, rows["text"]), batched=True)
    again = engine.evaluate(ours, engine.fixed_batches(encoded, 4), 3)
    assert again["confusion_matrix"] == test["confusion_matrix"]


@pytest.mark.slow
def test_resuming_an_interrupted_run_loses_nothing(setup):
    engine.run(make_config(setup, "b"))
    config = make_config(setup, "c")
    with pytest.raises(Interrupt):
        engine.run(config, callbacks=[interrupt_after(4)])
    assert (setup[0] / "c" / "checkpoints" / "interrupted.ckpt").is_file()
    with pytest.raises(FileExistsError, match="--resume"):
        engine.run(config)
    resumed = engine.run(config, resume=True)
    reference = last_weights(setup[0] / "b")
    for name, tensor in last_weights(setup[0] / "c").items():
        assert torch.equal(tensor, reference[name]), name
    assert resumed["test"] == json.loads((setup[0] / "b" / "results.json").read_text())["test"]
    # validation came at the same steps, and the logs of both sessions read as one run
    columns = ["step", "train_loss", "lr", "val_accuracy"]
    a = engine.read_metrics(setup[0] / "b")[columns]
    b = engine.read_metrics(setup[0] / "c")[columns]
    assert a.equals(b) and a["val_accuracy"].notna().sum() == 2


@pytest.mark.slow
def test_frozen_layers_do_not_move_and_next_line_runs(setup):
    config = make_config(setup, "d", task="next_line", freeze_layers=1, max_steps=3)
    results = engine.run(config)
    assert results["labels"] == ["is_next", "not_next"] and results["frozen_parameters"] > 0
    start = BertForSequenceClassification.from_pretrained(setup[2], num_labels=2).state_dict()
    end = BertForSequenceClassification.from_pretrained(setup[0] / "d" / "model").state_dict()
    assert torch.equal(start["bert.layers.0.attention.query.weight"], end["bert.layers.0.attention.query.weight"])
    assert torch.equal(start["bert.embeddings.word_embeddings.weight"], end["bert.embeddings.word_embeddings.weight"])
    assert not torch.equal(start["bert.layers.1.attention.query.weight"], end["bert.layers.1.attention.query.weight"])


@pytest.mark.slow
def test_cli_and_classify_print_labels_with_probabilities(setup, tmp_path, capsys):
    from kaibert.finetune import classify

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(make_config(setup, "e", max_steps=2).to_dict()))
    engine.main(["--config", str(path)])
    assert "test: accuracy" in capsys.readouterr().out
    classify.main([str(setup[0] / "e" / "model"), "Now is the winter of our discontent", "O Romeo"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Now is the winter of our discontent" and len(lines) == 8
    probabilities = [float(line.split()[-1]) for line in lines[1:4]]
    assert {line.split()[0] for line in lines[1:4]} == {"comedy", "history", "tragedy"}
    assert abs(sum(probabilities) - 1) < 2e-3 and probabilities == sorted(probabilities, reverse=True)


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(engine.ConfigError, match="unknown key 'learning_rat'. Did you mean 'learning_rate'"):
        engine.config_from_dict({"learning_rat": 1e-4})
    with pytest.raises(engine.ConfigError, match="'task' = 'sentiment' is impossible"):
        engine.config_from_dict({"task": "sentiment"})
    with pytest.raises(engine.ConfigError, match="'epochs' = 0 is impossible"):
        engine.config_from_dict({"epochs": 0})
    assert engine.config_from_dict({"learning_rate": "3e-5"}).learning_rate == 3e-5
    with pytest.raises(engine.ConfigError, match="has no config.json"):
        engine.resolve_model(tmp_path)
    model = BertForSequenceClassification(BertConfig(vocab_size=30, hidden_size=8, num_hidden_layers=2,
                                                     num_attention_heads=2, intermediate_size=8))
    with pytest.raises(engine.ConfigError, match="has only 2 encoder layers"):
        engine.freeze(model, layers=3)


def test_macro_f1_and_confusion_matrix_by_hand():
    predictions, labels = torch.tensor([0, 0, 1, 2, 2, 2]), torch.tensor([0, 1, 1, 2, 2, 0])
    matrix = engine.confusion_matrix(predictions, labels, 3)
    assert matrix.tolist() == [[1, 0, 1], [1, 1, 0], [0, 0, 2]]
    scores = engine.metrics_from_confusion(matrix)
    # per class F1: 0 -> p 1/2 r 1/2 = 0.5; 1 -> p 1 r 1/2 = 2/3; 2 -> p 2/3 r 1 = 0.8
    assert abs(scores["accuracy"] - 4 / 6) < 1e-9
    assert abs(scores["macro_f1"] - (0.5 + 2 / 3 + 0.8) / 3) < 1e-9
    never = engine.metrics_from_confusion(engine.confusion_matrix(torch.zeros(4, dtype=torch.long),
                                                                  torch.tensor([0, 0, 1, 1]), 2))
    assert never["accuracy"] == 0.5 and abs(never["macro_f1"] - (2 / 3) / 2) < 1e-9


def sigterm_during(step: int):
    """A callback that sends this process SIGTERM as step `step` (counted from 1) begins."""
    import os
    import signal

    import pytorch_lightning as pl

    class _Sigterm(pl.Callback):
        def on_train_batch_start(self, trainer, *args):
            if trainer.global_step == step - 1:
                os.kill(os.getpid(), signal.SIGTERM)

    return _Sigterm()


@pytest.mark.slow
def test_sigterm_stops_fine_tuning_after_a_step_and_resume_loses_nothing(setup):
    """The run layer's SIGTERM stop (the same as kaibert-train's): interrupted.ckpt, then an exact resume."""
    from kaibert.run import RunInterrupted

    reference = engine.run(make_config(setup, "sig-ref"))
    config = make_config(setup, "sig")
    with pytest.raises(RunInterrupted, match="stopped by SIGTERM after step 4") as stop:
        engine.run(config, callbacks=[sigterm_during(4)])   # the step is finished
    assert stop.value.checkpoint == setup[0] / "sig" / "checkpoints" / "interrupted.ckpt"
    assert stop.value.checkpoint.is_file() and not (setup[0] / "sig" / "results.json").exists()
    resumed = engine.run(config, resume=True)
    weights = last_weights(setup[0] / "sig-ref")
    for name, tensor in last_weights(setup[0] / "sig").items():
        assert torch.equal(tensor, weights[name]), name
    assert resumed["test"] == reference["test"] and resumed["steps"] == 6
    logged = engine.read_metrics(setup[0] / "sig")
    assert logged["step"][logged["train_loss"].notna()].tolist() == [1, 2, 3, 4, 5, 6]

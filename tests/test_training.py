"""The training loop pieces, the config checks, and (slow) whole runs: repeat, resume, save."""

import json
import math
import re
import shlex

import pytest
import torch
import yaml

from kaibert import BertConfig, BertForMaskedLM, data
from kaibert import train as ktrain

@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run faster on one thread, above all on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


IDS = {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}
VOCAB = 50


def tiny_model(seed=0, dropout=0.0):
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=VOCAB, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=16,
                        hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    return BertForMaskedLM(config)


def random_blocks(n=40, length=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [{"input_ids": [2] + torch.randint(5, VOCAB, (length - 2,), generator=g).tolist() + [3]}
            for _ in range(n)]


def test_batches_are_a_function_of_the_step():
    blocks = random_blocks()
    loader = ktrain.MaskedBatches(blocks, batch_size=8, total_steps=12, vocab_size=VOCAB,
                                    special_ids=IDS, seed=7)
    everything = list(loader)
    assert len(everything) == len(loader) == 12
    resumed = ktrain.MaskedBatches(blocks, 8, 12, VOCAB, IDS, seed=7, start=lambda: 5)
    for a, b in zip(everything[5:], resumed, strict=True):
        assert torch.equal(a["input_ids"], b["input_ids"]) and torch.equal(a["labels"], b["labels"])
    other_seed = ktrain.MaskedBatches(blocks, 8, 12, VOCAB, IDS, seed=8).batch(0)
    assert not torch.equal(other_seed["labels"], everything[0]["labels"])
    # each pass over the data (5 batches of 8 from 40 blocks) visits every block once
    originals = {tuple(b["input_ids"]) for b in blocks}
    seen = []
    for batch in everything[:5]:
        restored = torch.where(batch["labels"] == -100, batch["input_ids"], batch["labels"])
        seen += [tuple(row.tolist()) for row in restored]
    assert set(seen) == originals and len(seen) == 40
    # [CLS] and [SEP] are never chosen for prediction
    labels = torch.cat([b["labels"] for b in everything])
    assert (labels[:, 0] == -100).all() and (labels[:, -1] == -100).all()


def test_too_few_blocks_for_a_batch_is_an_error():
    with pytest.raises(ValueError, match="cannot fill one batch"):
        ktrain.MaskedBatches(random_blocks(3), 8, 10, VOCAB, IDS)


def test_counts_give_loss_perplexity_and_accuracy():
    logits = torch.tensor([[[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 1.0]]])  # (1, 3, 3)
    labels = torch.tensor([[0, 2, -100]])
    counts = ktrain.masked_lm_counts(logits, labels, baseline_token_id=2)
    expected = (torch.nn.functional.cross_entropy(logits[0, :2], labels[0, :2], reduction="sum"))
    assert counts["count"] == 2 and counts["correct"] == 1 and counts["baseline_correct"] == 1
    assert math.isclose(counts["loss_sum"], expected.item(), rel_tol=1e-6)
    summary = ktrain.summarize_counts(counts)
    assert math.isclose(summary["perplexity"], math.exp(summary["loss"]), rel_tol=1e-9)
    assert summary["accuracy"] == 0.5 and summary["baseline_accuracy"] == 0.5


def test_shuffle_context_moves_only_the_visible_words():
    batches = list(ktrain.MaskedBatches(random_blocks(), 8, 2, VOCAB, IDS))
    shuffled = list(ktrain.shuffle_context(batches, IDS, seed=3))
    moved = 0
    for before, after in zip(batches, shuffled):
        assert torch.equal(after["labels"], before["labels"])
        fixed = (before["labels"] != -100) | torch.isin(before["input_ids"], torch.tensor(list(IDS.values())))
        assert torch.equal(after["input_ids"][fixed], before["input_ids"][fixed])      # masks, [CLS], [SEP]
        for row_before, row_after in zip(before["input_ids"], after["input_ids"]):
            assert sorted(row_before.tolist()) == sorted(row_after.tolist())          # the same words
        moved += (after["input_ids"] != before["input_ids"]).sum().item()
    assert moved > 0
    again = list(ktrain.shuffle_context(batches, IDS, seed=3))
    assert all(torch.equal(a["input_ids"], b["input_ids"]) for a, b in zip(shuffled, again))


def test_a_bag_of_words_model_has_no_word_order_gap():
    model = tiny_model().eval()                           # no position embeddings: order is invisible
    with torch.no_grad():
        model.bert.embeddings.position_embeddings.weight.zero_()
    batches = list(ktrain.MaskedBatches(random_blocks(), 8, 2, VOCAB, IDS))
    report = ktrain.word_order_gap(model, batches, IDS)
    assert report["gap"] == pytest.approx(0.0, abs=1e-5)
    assert report["loss"] == pytest.approx(ktrain.evaluate(model, batches)["loss"])


def test_plain_loop_learns_a_batch_and_evaluate_reports_it():
    model = tiny_model()
    batch = ktrain.MaskedBatches(random_blocks(), 8, 1, VOCAB, IDS).batch(0)
    optimizer = ktrain.make_optimizer(model, learning_rate=2e-2)
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.01, 0.0]
    before = ktrain.evaluate(model, [batch])
    history = ktrain.train_loop(model, [batch] * 40, optimizer, log_every=20)
    after = ktrain.evaluate(model, [batch], baseline_token_id=5)
    assert [h["step"] for h in history] == [1, 20, 40]
    assert after["loss"] < before["loss"] / 2 and after["accuracy"] > 0.8
    labels = batch["labels"][batch["labels"] != -100]
    assert after["baseline_accuracy"] == pytest.approx((labels == 5).float().mean().item())
    assert model.training  # evaluate puts the model back the way it found it


def test_gradient_clipping_bounds_the_step():
    model = tiny_model()
    batch = ktrain.MaskedBatches(random_blocks(), 8, 1, VOCAB, IDS).batch(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    before = [p.detach().clone() for p in model.parameters()]
    ktrain.training_step(model, batch, optimizer, max_grad_norm=1e-3)
    moved = torch.sqrt(sum(((p - b) ** 2).sum() for p, b in zip(model.parameters(), before)))
    assert moved.item() == pytest.approx(1e-3, rel=1e-3)


# --- the config ----------------------------------------------------------------------------

def config_values(**changes):
    values = {
        "seed": 0, "output_dir": "unused",
        "data": {"vocab_size": 500, "block_size": 32, "batch_size": 4},
        "model": {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
                  "intermediate_size": 32},
        "training": {"max_steps": 10, "warmup_steps": 2},
    }
    for key, value in changes.items():
        section, _, name = key.partition(".")
        if name:
            values[section][name] = value
        else:
            values[section] = value
    return values


def test_the_shipped_configs_are_valid():
    from pathlib import Path

    checked = set()
    for path in sorted(Path(__file__).parents[1].glob("configs/*.yaml")):
        if "task" in (yaml.safe_load(path.read_text()) or {}):
            continue                                   # a fine-tuning config (kaibert.finetune)
        config = ktrain.load_config(path)
        assert config.training.max_steps > 0, path
        checked.add(path.name)
    # the shipped model's two-run recipe and the two GPU configs
    assert {"shakespeare-mini.yaml", "shakespeare-mini-stage2.yaml", "colab-t4.yaml", "a100.yaml"} <= checked


@pytest.mark.parametrize("changes, message", [
    ({"epochs": 3}, "unknown key 'epochs'"),
    ({"data.block": 64}, "unknown key 'data.block'"),
    ({"training.lr": 1e-3}, "unknown key 'training.lr'"),
    ({"model.hidden": 64}, "unknown key 'model.hidden'"),
    ({"model.vocab_size": 100}, "'model.vocab_size' is set from the tokenizer"),
    ({"training.warmup_steps": 20}, "'training.warmup_steps' = 20 is impossible"),
    ({"training.learning_rate": -1.0}, "'training.learning_rate' = -1.0 is impossible"),
    ({"training.max_steps": 0}, "'training.max_steps' = 0 is impossible"),
    ({"training.schedule": "triangle"}, "'training.schedule' = 'triangle' is impossible"),
    ({"training.adam_betas": [0.9]}, "'training.adam_betas'"),
    ({"data.mlm_probability": 1.5}, "'data.mlm_probability' = 1.5 is impossible"),
    ({"data.batch_size": "32"}, "'data.batch_size' = '32' is impossible"),
    ({"model.num_attention_heads": 3}, "'model' does not make a valid BertConfig: hidden_size"),
    ({"model.max_position_embeddings": 16}, "'model.max_position_embeddings' = 16 is impossible"),
    ({"data": [1, 2]}, "'data' must be a mapping"),
    ({"output_dir": 7}, "'output_dir' = 7 is impossible"),
    ({"model.architecture": "gpt"}, "'model.architecture' = 'gpt' is impossible"),
])
def test_bad_configs_name_the_key(changes, message):
    with pytest.raises(ktrain.ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        ktrain.config_from_dict(config_values(**changes))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only refusal")
def test_mixed_precision_without_a_gpu_is_refused():
    with pytest.raises(ktrain.ConfigError, match="needs a GPU"):
        ktrain.config_from_dict(config_values(**{"training.precision": "bf16-mixed"}))


def test_config_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        ktrain.load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("data: [unclosed\n")
    with pytest.raises(ktrain.ConfigError, match="not valid YAML"):
        ktrain.load_config(broken)


def test_cli_reports_a_bad_config_without_a_traceback(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config_values(**{"training.lr": 1.0})))
    with pytest.raises(SystemExit) as exit_info:
        ktrain.main(["--config", str(path)])
    assert exit_info.value.code == 2
    assert "unknown key 'training.lr'" in capsys.readouterr().err


def test_yaml_exponents_are_accepted_for_every_float_key(tmp_path):
    """PyYAML (YAML 1.1) reads `1e-3` as the string '1e-3'; every float key takes it as a number."""
    from kaibert.run.config import float_keys as _float_keys

    values = config_values()
    for section, cls in (("data", ktrain.DataConfig), ("training", ktrain.TrainingConfig)):
        for key in _float_keys(cls):
            values[section][key] = "1e-1"
    values["training"]["adam_betas"] = ["9e-1", "9.99e-1"]
    values["model"]["layer_norm_eps"] = "1e-12"
    text = yaml.safe_dump(values).replace("'", "")         # as a person writes it: 1e-1, no quotes
    path = tmp_path / "exponents.yaml"
    path.write_text(text)
    assert isinstance(yaml.safe_load(text)["training"]["learning_rate"], str)  # what YAML 1.1 gives
    config = ktrain.load_config(path)
    assert config.training.learning_rate == 0.1 and config.data.mlm_probability == 0.1
    assert config.training.adam_betas == [0.9, 0.999] and config.model["layer_norm_eps"] == 1e-12
    float_keys = _float_keys(ktrain.TrainingConfig) | _float_keys(ktrain.DataConfig)
    assert {"learning_rate", "weight_decay", "adam_eps", "max_grad_norm", "max_minutes",
            "mlm_probability"} <= float_keys
    for key in _float_keys(ktrain.TrainingConfig):
        assert getattr(config.training, key) == 0.1, key
    with pytest.raises(ktrain.ConfigError, match="'training.learning_rate' = 'fast' is impossible"):
        ktrain.config_from_dict(config_values(**{"training.learning_rate": "fast"}))


def test_the_readme_reference_of_config_keys_is_current():
    import dataclasses
    from pathlib import Path

    from kaibert.finetune.config import FinetuneConfig
    from kaibert.run import reference
    from kaibert.train.architectures import ARCHITECTURES

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert reference.readme_block(readme) == reference.render_block(), (
        "README.md's config reference is stale: run `python -m kaibert.run.reference README.md`")
    rendered = reference.reference_markdown()
    for section, cls in (("data", ktrain.DataConfig), ("training", ktrain.TrainingConfig)):
        for f in dataclasses.fields(cls):
            assert f"`{section}.{f.name}`" in rendered and f.metadata.get("help"), f.name
    for f in dataclasses.fields(FinetuneConfig):
        assert f"| `{f.name}` |" in rendered and f.metadata.get("help"), f.name
    assert "`model.architecture`" in rendered and "bert" in ARCHITECTURES
    for name, arch in ARCHITECTURES.items():          # every architecture says what its keys mean
        assert f"`architecture: {name}`" in rendered
        for f in dataclasses.fields(arch.config_class):
            if f.name != "vocab_size":
                assert f"`model.{f.name}`" in rendered, f.name
                assert f.name in arch.key_help, f"say what model.{f.name} means in {name}'s key_help"


def test_the_reference_command_rewrites_a_stale_readme_and_check_fails_on_it(tmp_path, capsys):
    from kaibert.run import reference

    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{reference.BEGIN}\nold table\n{reference.END}\n\nafter\n")
    with pytest.raises(SystemExit) as stale:
        reference.main([str(readme), "--check"])
    assert stale.value.code == 1
    reference.main([str(readme)])
    text = readme.read_text()
    assert "old table" not in text and text.endswith("after\n") and reference.render_block() in text
    with pytest.raises(SystemExit) as fresh:
        reference.main([str(readme), "--check"])
    assert fresh.value.code == 0


def test_cli_a_misspelt_data_set_offline_fails_at_once(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    data.hub_reachable.cache_clear()
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(config_values(**{"data.dataset": "shakespear",
                                                    "output_dir": str(tmp_path / "out")})))
    with pytest.raises(SystemExit) as exit_info:
        ktrain.main(["--config", str(path)])
    data.hub_reachable.cache_clear()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert "neither a local corpus" in err and "Did you mean 'shakespeare'?" in err
    assert not (tmp_path / "out").exists()


def test_cli_refuses_an_output_dir_that_holds_a_run(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / "last.ckpt").write_bytes(b"")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config_values(output_dir=str(out))))
    with pytest.raises(SystemExit) as exit_info:
        ktrain.main(["--config", str(path)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert "already holds a run; continue it with --resume" in err


def test_cli_resume_of_a_finished_run_says_so_and_does_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / "last.ckpt").write_bytes(b"not read")
    (out / "results.json").write_text(json.dumps({"steps": 10}))
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config_values(output_dir=str(out))))   # max_steps: 10
    before = sorted(p.name for p in out.rglob("*"))
    ktrain.main(["--config", str(path), "--resume"])
    assert "is finished (10 of training.max_steps = 10 steps" in capsys.readouterr().out
    assert sorted(p.name for p in out.rglob("*")) == before


# --- whole runs (slow) ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def run_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    corpus = data.sample_corpus(root / "corpus", lines_per_work=60)
    vocab = root / "vocab"
    data.prepare_data(folder=vocab, vocab_size=400, block_size=32, corpus_dir=corpus)
    return root, corpus, vocab


def make_config(root, corpus, vocab, name, max_steps=6, **extra):
    values = config_values(**{
        "output_dir": str(root / name),
        "data.corpus_dir": str(corpus), "data.tokenizer": str(vocab), "data.vocab_size": 400,
        "data.val_batches": 2,
        "model.hidden_dropout_prob": 0.1,   # dropout on: its random state must be restored too
        "training.max_steps": max_steps, "training.val_every_steps": 3,
        "training.save_every_steps": 2, "training.log_every_steps": 1,
        "training.progress_bar": False, **extra,
    })
    return ktrain.config_from_dict(values)


def final_weights(root, name):
    from safetensors.torch import load_file

    return load_file(str(root / name / "model" / "model.safetensors"))


class Interrupt(Exception):
    pass


class InterruptAfter:
    """A callback that crashes the run after some steps (as the next one starts), like a killed job."""

    def __new__(cls, steps):
        import pytorch_lightning as pl

        class _Interrupt(pl.Callback):
            def on_train_batch_start(self, trainer, *args):
                if trainer.global_step == steps:
                    raise Interrupt(f"stopped after {steps} steps")

        return _Interrupt()


@pytest.mark.slow
def test_a_seed_repeats_a_run_and_resuming_loses_nothing(run_setup):
    root, corpus, vocab = run_setup
    results = ktrain.run(make_config(root, corpus, vocab, "a"))
    ktrain.run(make_config(root, corpus, vocab, "b"))
    reference = final_weights(root, "a")
    assert reference.keys() == final_weights(root, "b").keys()
    for name, tensor in final_weights(root, "b").items():
        assert torch.equal(tensor, reference[name]), name

    # interrupted after 4 of 6 steps, then resumed: the same weights as the run that never stopped
    config = make_config(root, corpus, vocab, "c")
    with pytest.raises(Interrupt):
        ktrain.run(config, callbacks=[InterruptAfter(4)])
    assert (root / "c" / "checkpoints" / "interrupted.ckpt").is_file()
    with pytest.raises(FileExistsError, match="--resume"):
        ktrain.run(config)
    resumed = ktrain.run(config, resume=True)
    for name, tensor in final_weights(root, "c").items():
        assert torch.equal(tensor, reference[name]), name
    assert resumed["steps"] == results["steps"] == 6
    assert resumed["validation"] == results["validation"]

    # the logs of both sessions read as one run, every step once
    metrics = ktrain.read_metrics(root / "c")
    steps = metrics["step"][metrics["train_loss"].notna()].tolist()
    assert steps == sorted(steps) and len(steps) == len(set(steps)) == 6
    assert metrics["val_loss"].notna().sum() == 2


@pytest.mark.slow
def test_modernbert_trains_through_the_same_command_and_logs_wall_time(run_setup):
    from kaibert import ModernBertForMaskedLM

    root, corpus, vocab = run_setup
    values = config_values(**{
        "output_dir": str(root / "modern"),
        "data.corpus_dir": str(corpus), "data.tokenizer": str(vocab), "data.vocab_size": 400,
        "data.val_batches": 2,
        "model": {"architecture": "modernbert", "hidden_size": 16, "num_hidden_layers": 2,
                  "num_attention_heads": 2, "intermediate_size": 24, "local_attention": 8},
        "training.max_steps": 4, "training.val_every_steps": 2, "training.log_every_steps": 1,
        "training.progress_bar": False,
    })
    results = ktrain.run(ktrain.config_from_dict(values))
    assert results["steps"] == 4
    model = ModernBertForMaskedLM.from_pretrained(root / "modern" / "model")
    assert model.config.cls_token_id == 2 and model.config.sep_token_id == 3  # from the vocabulary
    # every validation logs the seconds since training began, and they grow
    metrics = ktrain.read_metrics(root / "modern")
    seconds = metrics["train_seconds"].dropna().tolist()
    assert len(seconds) == metrics["val_loss"].notna().sum() == 2
    assert 0 < seconds[0] < seconds[1]


@pytest.mark.slow
def test_a_fresh_run_prints_no_misleading_lightning_notices(run_setup, capfd):
    import warnings

    root, corpus, vocab = run_setup
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ktrain.run(make_config(root, corpus, vocab, "quiet", max_steps=2))
    said = capfd.readouterr()
    text = said.out + said.err + "\n".join(str(w.message) for w in caught)
    for notice in ('ckpt_path="last"', "ckpt_path=None", "litlogger", "weights_only", "LeafSpec"):
        assert notice not in text, notice


@pytest.mark.slow
def test_sigterm_says_where_it_stopped_and_how_to_resume(run_setup, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    root, corpus, vocab = run_setup
    config = make_config(root, corpus, vocab, "term", max_steps=300)
    values = config.to_dict()
    values["training"].update(save_every_steps=20, val_every_steps=300, num_threads=1)
    path = tmp_path / "term.yaml"
    path.write_text(yaml.safe_dump(values))
    command = [sys.executable, "-m", "kaibert.train", "--config", str(path)]
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoints = root / "term" / "checkpoints"
    deadline = time.time() + 600
    while not list(checkpoints.glob("step-*.ckpt")) and time.time() < deadline and job.poll() is None:
        time.sleep(0.1)
    job.send_signal(signal.SIGTERM)
    out, err = job.communicate(timeout=600)
    assert job.returncode == 143, err
    assert "Traceback" not in err and not (root / "term" / "results.json").exists()
    stopped = int(re.search(r"stopped by SIGTERM after step (\d+)", err).group(1))
    assert 20 <= stopped < 300
    resume = err.strip().splitlines()[-1].strip()
    assert resume == shlex.join(command + ["--resume"])
    done = subprocess.run(shlex.split(resume), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert json.loads((root / "term" / "results.json").read_text())["steps"] == 300
    steps = ktrain.read_metrics(root / "term")
    steps = steps["step"][steps["train_loss"].notna()].tolist()
    assert steps == list(range(steps[0], 300))        # every step once, across the two sessions


@pytest.mark.slow
def test_a_run_saves_a_checkpoint_transformers_loads(run_setup):
    transformers = pytest.importorskip("transformers")
    root, corpus, vocab = run_setup
    results = ktrain.run(make_config(root, corpus, vocab, "hf", max_steps=3))
    folder = root / "hf" / "model"
    assert {p.name for p in folder.iterdir()} >= {"config.json", "model.safetensors", "vocab.txt",
                                                  "tokenizer_config.json"}
    summary = json.loads((root / "hf" / "results.json").read_text())
    assert summary["test"]["masked_tokens"] > 0 and summary["baseline_token"] == ","
    ours = BertForMaskedLM.from_pretrained(folder).eval()
    theirs = transformers.BertForMaskedLM.from_pretrained(folder, attn_implementation="eager").eval()
    ids = torch.tensor([[2, 10, 11, 4, 12, 3]])
    with torch.no_grad():
        assert torch.allclose(ours(ids).logits, theirs(input_ids=ids).logits, atol=1e-5)
    assert results["validation"]["perplexity"] == pytest.approx(
        math.exp(results["validation"]["loss"]))


@pytest.mark.slow
def test_init_from_continues_from_a_saved_model(run_setup):
    root, corpus, vocab = run_setup
    ktrain.run(make_config(root, corpus, vocab, "first", max_steps=2))
    # one step, the first of a warm-up: its learning rate is 0, so the weights must not change
    config = make_config(root, corpus, vocab, "second", max_steps=1, **{
        "training.warmup_steps": 1, "training.init_from": str(root / "first" / "model")})
    ktrain.run(config)
    before, after = final_weights(root, "first"), final_weights(root, "second")
    assert all(torch.equal(after[name], tensor) for name, tensor in before.items())
    config = make_config(root, corpus, vocab, "third", max_steps=2,
                         **{"training.init_from": str(root / "nowhere")})
    with pytest.raises(ktrain.ConfigError, match="init_from"):
        ktrain.run(config)


def test_the_loop_runs_on_the_cpu_without_autocast_and_picks_fp16_with_a_scaler_on_old_gpus(monkeypatch):
    cpu = torch.device("cpu")
    assert ktrain.pick_device() == (torch.device("cuda") if torch.cuda.is_available() else cpu)
    assert ktrain.autocast_dtype(cpu) is None and ktrain.make_scaler(cpu) is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)   # a T4 or V100
    assert ktrain.autocast_dtype(torch.device("cuda")) is torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)    # an A100 or H100
    assert ktrain.autocast_dtype(torch.device("cuda")) is torch.bfloat16
    # on the CPU a step is plain fp32: the same as the four lines written out by hand
    model, twin = tiny_model(), tiny_model()
    batch = ktrain.MaskedBatches(random_blocks(), 8, 1, VOCAB, IDS).batch(0)
    for m in (model, twin):
        m.train()
    loss = ktrain.training_step(model, batch, torch.optim.SGD(model.parameters(), lr=0.1))
    by_hand = ktrain.mlm_loss(twin, batch)
    by_hand.backward()
    torch.nn.utils.clip_grad_norm_(twin.parameters(), 1.0)
    torch.optim.SGD(twin.parameters(), lr=0.1).step()
    assert loss == by_hand.item()
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), twin.parameters()))


def test_a_global_batch_is_shared_by_processes_row_by_row():
    blocks = random_blocks()
    whole = ktrain.MaskedBatches(blocks, 8, 6, VOCAB, IDS, seed=3)
    shares = [ktrain.MaskedBatches(blocks, 8, 6, VOCAB, IDS, seed=3, rank=r, world_size=2) for r in (0, 1)]
    for step in range(6):
        joined = {k: torch.cat([s.batch(step)[k] for s in shares]) for k in whole.batch(step)}
        assert all(torch.equal(joined[k], v) for k, v in whole.batch(step).items())
        assert shares[0].batch(step)["input_ids"].shape == (4, 12)
    with pytest.raises(ValueError, match="multiple of 3"):
        ktrain.MaskedBatches(blocks, 8, 6, VOCAB, IDS, rank=0, world_size=3)
    with pytest.raises(ktrain.ConfigError, match="'data.batch_size' = 4 is impossible.*multiple of 3"):
        ktrain.config_from_dict(config_values(**{"training.devices": 3}))
    with pytest.raises(ktrain.ConfigError, match="'training.strategy' = 'ddp_spawn'"):
        ktrain.config_from_dict(config_values(**{"training.strategy": "ddp_spawn"}))
    with pytest.raises(ktrain.ConfigError, match="'training.strategy' = 'dpp'"):
        ktrain.config_from_dict(config_values(**{"training.strategy": "dpp"}))
    config = ktrain.config_from_dict(config_values(**{"training.devices": 2, "training.strategy": "ddp",
                                                      "training.num_nodes": 2}))
    assert (config.training.devices, config.training.num_nodes, config.training.strategy) == (2, 2, "ddp")


def test_compile_keeps_the_parameter_names_of_checkpoints():
    """training.compile wraps the model for the step only: checkpoints and model/ keep plain names."""
    from kaibert.train.module import MLMModule

    config = {"vocab_size": VOCAB, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
              "intermediate_size": 32, "max_position_embeddings": 16}
    plain, compiled = MLMModule(config), MLMModule(config, compile=True)
    assert compiled._compiled is not None and plain._compiled is None
    assert list(compiled.state_dict()) == list(plain.state_dict())
    assert not any("_orig_mod" in name for name in compiled.state_dict())


# --- the run layer's seams: a new architecture is a registered module -----------------------

def test_a_new_architecture_needs_only_a_registration(monkeypatch):
    """model.architecture picks the model through kaibert.train.architectures, keys and all."""
    import dataclasses
    from types import SimpleNamespace

    from kaibert.train import architectures
    from kaibert.train.module import MLMModule

    @dataclasses.dataclass
    class TinyConfig:
        vocab_size: int = 10
        hidden_size: int = 8
        max_position_embeddings: int = 16

    class TinyMaskedLM(torch.nn.Module):
        """Bag of embeddings: the same forward(input_ids, attention_mask, labels) contract."""

        def __init__(self, config):
            super().__init__()
            self.config = config
            self.embed = torch.nn.Embedding(config.vocab_size, config.hidden_size)
            self.out = torch.nn.Linear(config.hidden_size, config.vocab_size)

        def forward(self, input_ids, attention_mask=None, labels=None, **unused):
            logits = self.out(self.embed(input_ids))                          # (B, T, V)
            loss = None if labels is None else torch.nn.functional.cross_entropy(
                logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
            return SimpleNamespace(loss=loss, logits=logits)

    tiny = architectures.Architecture("tiny", TinyConfig, TinyMaskedLM,
                                      key_help={"hidden_size": "width", "max_position_embeddings": "positions"})
    monkeypatch.setitem(architectures.ARCHITECTURES, "tiny", tiny)
    values = config_values(model={"architecture": "tiny", "hidden_size": 12})
    config = ktrain.config_from_dict(values)
    assert config.architecture() is tiny
    model_config = ktrain.model_config_dict(config, vocab_size=VOCAB)
    assert model_config == {"hidden_size": 12, "max_position_embeddings": 32, "vocab_size": VOCAB}
    module = MLMModule(model_config, architecture="tiny")
    assert isinstance(module.model, TinyMaskedLM) and module.model.config.hidden_size == 12
    batch = ktrain.MaskedBatches(random_blocks(), 8, 1, VOCAB, IDS).batch(0)
    assert torch.isfinite(ktrain.mlm_loss(module.model, batch))
    # BERT's keys are not tiny's, and an unknown architecture names the known ones
    with pytest.raises(ktrain.ConfigError, match="unknown key 'model.num_hidden_layers'.*TinyConfig"):
        ktrain.config_from_dict(config_values(model={"architecture": "tiny", "num_hidden_layers": 2}))
    with pytest.raises(ktrain.ConfigError, match=r"'model.architecture' = 'gpt' is impossible.*'bert'"):
        ktrain.config_from_dict(config_values(model={"architecture": "gpt"}))
    from kaibert.run import reference
    assert "`architecture: tiny`" in reference.reference_markdown()


def test_checkpoints_carry_the_cpu_and_gpu_random_state():
    """RunModule (training and fine-tuning alike) saves the random state; loading it repeats the draws."""
    from kaibert.run.module import RunModule

    module = RunModule()
    torch.manual_seed(5)
    checkpoint = {}
    module.on_save_checkpoint(checkpoint)
    state = checkpoint["torch_rng_state"]
    assert set(state) == {"cpu", "cuda"}
    assert len(state["cuda"]) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)
    first = torch.rand(3)
    module.on_load_checkpoint(checkpoint)
    assert torch.equal(torch.rand(3), first)
    module.on_load_checkpoint({"torch_rng_state": state["cpu"]})     # older checkpoints: CPU state alone
    assert torch.equal(torch.rand(3), first)


def test_the_finetune_module_is_a_run_module():
    from kaibert.finetune import engine
    from kaibert.run.module import RunModule

    module = engine.make_module(tiny_model(), 1e-3, 0.0, "linear", 0, 10)
    assert isinstance(module, RunModule)

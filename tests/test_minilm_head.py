"""benchmarks/minilm_head.py: a head trained on the frozen MiniLM encoder saves, loads and fills in blanks."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "minilm_head.py"


def load_script():
    """The experiment lives in benchmarks/, outside the package: load it from its file."""
    spec = importlib.util.spec_from_file_location("minilm_head", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_save_load_and_fill_in(tmp_path, minilm_path, monkeypatch):
    from kaibert.fill_mask import fill_mask
    head = load_script()
    HEAD_FILE, HEAD_NAMES, load_minilm_mlm, train = head.HEAD_FILE, head.HEAD_NAMES, head.load_minilm_mlm, head.train

    monkeypatch.delenv("KAIBERT_MODEL", raising=False)
    out = train(tmp_path / "head", n_blocks=4, epochs=1, log=None)  # a few blocks: the plumbing, not the quality
    from safetensors.torch import load_file

    saved = load_file(out / HEAD_FILE)
    assert set(saved) == set(HEAD_NAMES)  # the head's own weights only: the decoder is tied
    assert sum(t.numel() for t in saved.values()) == 384 * 384 + 384 + 2 * 384 + 30522
    config = json.loads((out / "head_config.json").read_text())
    assert config["training"]["blocks"] == 4 and len(config["most_frequent_tokens"]) == 5

    model, tokenizer = load_minilm_mlm(out, minilm_path)
    assert model.mlm_head.decoder.weight is model.bert.embeddings.word_embeddings.weight
    torch.testing.assert_close(model.mlm_head.bias.detach(), saved["bias"])
    guesses = fill_mask(model, "to be or not to [MASK].", top_k=5, tokenizer=tokenizer)
    assert len(guesses) == 5 and all(g["token"] in tokenizer.vocab for g in guesses)


def test_a_head_that_does_not_fit_is_refused(tmp_path, minilm_path):
    from safetensors.torch import save_file

    head = load_script()
    HEAD_FILE, load_minilm_mlm = head.HEAD_FILE, head.load_minilm_mlm

    save_file({"dense.weight": torch.zeros(2, 2)}, tmp_path / HEAD_FILE)
    with pytest.raises(ValueError, match="expected"):
        load_minilm_mlm(tmp_path, minilm_path)

"""The proof that kaibert is real BERT: the same weights give transformers' numbers (float32, 1e-5)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import transformers

from kaibert import BertConfig, BertForMaskedLM, BertModel
from kaibert.pretrained import load_hf_state_dict
from bert_twins import batch, hf_config, max_diff

TOL = 1e-5

CONFIGS = {
    "tiny-gelu": BertConfig(vocab_size=97, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                            intermediate_size=64, max_position_embeddings=40),
    "wide-heads-relu": BertConfig(vocab_size=211, hidden_size=48, num_hidden_layers=3, num_attention_heads=2,
                                  intermediate_size=80, hidden_act="relu", type_vocab_size=3,
                                  max_position_embeddings=32),
    "deep-gelu-new": BertConfig(vocab_size=150, hidden_size=64, num_hidden_layers=5, num_attention_heads=8,
                                intermediate_size=128, hidden_act="gelu_new", layer_norm_eps=1e-6,
                                max_position_embeddings=64, pad_token_id=3),
    "one-layer-silu": BertConfig(vocab_size=60, hidden_size=24, num_hidden_layers=1, num_attention_heads=3,
                                 intermediate_size=24, hidden_act="silu", type_vocab_size=1,
                                 max_position_embeddings=16),
}


def assert_same_layers(ours, theirs, layers: int) -> None:
    """Every hidden state (embeddings first) and every attention map agree."""
    assert len(ours.hidden_states) == len(theirs.hidden_states) == layers + 1
    for a, b in zip(ours.hidden_states, theirs.hidden_states):
        assert max_diff(a, b) <= TOL
    assert len(ours.attentions) == len(theirs.attentions) == layers
    for a, b in zip(ours.attentions, theirs.attentions):
        assert a.shape == b.shape
        assert max_diff(a, b) <= TOL


def run(model, inputs, **kw):
    ids, mask, types = inputs
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask, token_type_ids=types,
                     output_attentions=True, output_hidden_states=True, **kw)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_bert_model_matches_transformers_on_random_weights(name):
    config = CONFIGS[name]
    theirs = transformers.BertModel(hf_config(config)).eval()
    ours = BertModel(config).eval()
    load_hf_state_dict(ours, theirs.state_dict())
    inputs = batch(config, T=min(11, config.max_position_embeddings))
    a, b = run(ours, inputs), run(theirs, inputs)
    assert max_diff(a.last_hidden_state, b.last_hidden_state) <= TOL
    assert_same_layers(a, b, config.num_hidden_layers)
    assert max_diff(a.pooler_output, b.pooler_output) <= TOL


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("name", ["tiny-gelu", "deep-gelu-new"])
def test_masked_lm_logits_and_loss_match_transformers(name, sparse):
    config = replace(CONFIGS[name], sparse_prediction=sparse)
    theirs = transformers.BertForMaskedLM(hf_config(config)).eval()
    with torch.no_grad():  # a non-zero output bias, so a dropped bias would show
        theirs.cls.predictions.bias.normal_()
    ours = BertForMaskedLM(config).eval()
    load_hf_state_dict(ours, theirs.state_dict())
    ids, mask, types = batch(config)
    labels = torch.full_like(ids, -100)
    labels[:, 1:4] = ids[:, 1:4]
    a = run(ours, (ids, mask, types), labels=labels)
    b = run(theirs, (ids, mask, types), labels=labels)
    if sparse:  # only the labelled positions are scored: (M, V), in row-major order
        assert a.logits.shape == (9, config.vocab_size)
        assert max_diff(a.logits, b.logits[labels != -100]) <= TOL
    else:
        assert max_diff(a.logits, b.logits) <= TOL
    assert abs(a.loss.item() - b.loss.item()) <= TOL
    assert_same_layers(a, b, config.num_hidden_layers)
    # the decoder is the word-embedding matrix itself, not a copy
    assert ours.mlm_head.decoder.weight is ours.bert.embeddings.word_embeddings.weight
    # without labels every position is scored, whatever the setting
    assert max_diff(run(ours, (ids, mask, types)).logits, run(theirs, (ids, mask, types)).logits) <= TOL


def test_pretrained_minilm_matches_transformers(minilm_path):
    ours = BertModel.from_pretrained(minilm_path)
    theirs = transformers.BertModel.from_pretrained(minilm_path, attn_implementation="eager").eval()
    inputs = batch(ours.config, B=2, T=16, seed=1)
    a, b = run(ours, inputs), run(theirs, inputs)
    assert max_diff(a.last_hidden_state, b.last_hidden_state) <= TOL
    assert_same_layers(a, b, 6)
    assert max_diff(a.pooler_output, b.pooler_output) <= TOL
    assert a.attentions[0].shape == (2, 12, 16, 16)  # (B, heads, T, T): bertviz's format


def test_save_pretrained_loads_in_transformers_with_identical_outputs(tmp_path):
    config = CONFIGS["deep-gelu-new"]
    ours = BertForMaskedLM(config).eval()
    with torch.no_grad():
        ours.mlm_head.bias.normal_()
    ours.save_pretrained(tmp_path)
    theirs = transformers.BertForMaskedLM.from_pretrained(tmp_path, attn_implementation="eager").eval()
    inputs = batch(config)
    assert max_diff(run(ours, inputs).logits, run(theirs, inputs).logits) <= TOL
    base = BertModel(CONFIGS["tiny-gelu"]).eval()
    base.save_pretrained(tmp_path / "base")
    theirs_base = transformers.BertModel.from_pretrained(tmp_path / "base", attn_implementation="eager").eval()
    inputs = batch(base.config)
    a, b = run(base, inputs), run(theirs_base, inputs)
    assert max_diff(a.last_hidden_state, b.last_hidden_state) <= TOL
    assert max_diff(a.pooler_output, b.pooler_output) <= TOL
    assert_same_layers(a, b, 2)


def test_transformers_checkpoint_loads_in_kaibert(tmp_path):
    config = CONFIGS["wide-heads-relu"]
    theirs = transformers.BertForMaskedLM(hf_config(config)).eval()
    theirs.save_pretrained(tmp_path)
    ours = BertForMaskedLM.from_pretrained(tmp_path)
    inputs = batch(config)
    assert max_diff(run(ours, inputs).logits, run(theirs, inputs).logits) <= TOL
    # and the encoder alone, from the same MLM checkpoint: it has no pooler, so that must be asked for
    with pytest.raises(ValueError, match="lacks: pooler.dense.bias, pooler.dense.weight"):
        BertModel.from_pretrained(tmp_path)
    encoder = BertModel.from_pretrained(tmp_path, strict=False)
    assert max_diff(run(encoder, inputs).last_hidden_state, run(theirs, inputs).hidden_states[-1]) <= TOL


def test_legacy_pytorch_model_bin_with_gamma_beta_names(tmp_path):
    config = CONFIGS["tiny-gelu"]
    theirs = transformers.BertModel(hf_config(config)).eval()
    state = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
             for k, v in theirs.state_dict().items()}
    torch.save(state, tmp_path / "pytorch_model.bin")
    config.save_pretrained(tmp_path)
    ours = BertModel.from_pretrained(tmp_path)
    inputs = batch(config)
    assert max_diff(run(ours, inputs).last_hidden_state, run(theirs, inputs).last_hidden_state) <= TOL

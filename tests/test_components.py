"""Attention paths, grouped-query attention, schedules, weight-decay groups and the masking collator."""

from __future__ import annotations

import json

import pytest
import torch
import transformers

from kaibert import BertConfig, BertForMaskedLM, BertModel, MaskingCollator
from kaibert.attention import MultiHeadSelfAttention, padding_mask, scaled_dot_product_attention
from kaibert.mlm import mask_tokens
from kaibert.schedules import SCHEDULES, make_scheduler, param_groups
from bert_twins import batch, max_diff

SMALL = dict(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
             intermediate_size=64, max_position_embeddings=32)


def test_readable_attention_equals_torch_fused_kernel():
    q, k, v = torch.randn(3, 2, 4, 7, 8).unbind(0)
    mask = padding_mask(torch.tensor([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0]]))
    ours, weights = scaled_dot_product_attention(q, k, v, mask)
    fused = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert max_diff(ours, fused) <= 1e-6
    assert torch.allclose(weights.sum(-1), torch.ones(2, 4, 7))
    assert weights[1, :, :, 4:].abs().max() == 0  # padded keys get no weight


def test_sdpa_fast_path_equals_readable_path_in_the_whole_model():
    eager = BertModel(BertConfig(**SMALL)).eval()
    fast = BertModel(BertConfig(**SMALL, attn_implementation="sdpa")).eval()
    fast.load_state_dict(eager.state_dict())
    ids, mask, types = batch(eager.config)
    with torch.no_grad():
        a = eager(ids, mask, types).last_hidden_state
        b = fast(ids, mask, types).last_hidden_state
        # asking for attention maps falls back to the readable path, which can return them
        c = fast(ids, mask, types, output_attentions=True)
    assert max_diff(a, b) <= 1e-5
    assert max_diff(a, c.last_hidden_state) <= 1e-6 and len(c.attentions) == 2


@pytest.mark.parametrize("kv_heads", [1, 2])
def test_grouped_and_multi_query_attention_share_key_value_heads(kv_heads):
    config = BertConfig(**SMALL, num_key_value_heads=kv_heads)
    attn = MultiHeadSelfAttention(config).eval()
    assert attn.key.weight.shape == (kv_heads * config.head_dim, config.hidden_size)
    x = torch.randn(2, 5, config.hidden_size)
    y, weights = attn(x, output_attentions=True)
    assert y.shape == (2, 5, 32) and weights.shape == (2, 4, 5, 5)
    # query heads in one group see the same keys: with equal queries, their maps are equal
    group = config.num_attention_heads // kv_heads
    with torch.no_grad():
        attn.query.weight.copy_(attn.query.weight.view(4, 8, 32)[::group].repeat_interleave(group, 0).view(32, 32))
        attn.query.bias.copy_(attn.query.bias.view(4, 8)[::group].repeat_interleave(group, 0).view(32))
    _, weights = attn(x, output_attentions=True)
    assert torch.allclose(weights[:, 0], weights[:, group - 1])


def test_config_round_trip_and_transformers_reads_it(tmp_path):
    config = BertConfig(**SMALL, hidden_act="gelu_new")
    config.save_pretrained(tmp_path)
    assert BertConfig.from_pretrained(tmp_path) == config
    theirs = transformers.BertConfig.from_pretrained(tmp_path)
    assert (theirs.hidden_size, theirs.num_attention_heads, theirs.hidden_act) == (32, 4, "gelu_new")
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "bert"


@pytest.mark.parametrize("name, theirs", [
    ("linear", lambda o, w, t: transformers.get_linear_schedule_with_warmup(o, w, t)),
    ("cosine", lambda o, w, t: transformers.get_cosine_schedule_with_warmup(o, w, t)),
    ("constant", lambda o, w, t: transformers.get_constant_schedule_with_warmup(o, w)),
    ("inverse_sqrt", lambda o, w, t: transformers.get_inverse_sqrt_schedule(o, w)),
])
@pytest.mark.parametrize("warmup, total", [(10, 100), (0, 37), (25, 25)])
def test_schedules_equal_transformers_at_every_step(name, theirs, warmup, total):
    def optimizer():
        return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)

    ours_opt, their_opt = optimizer(), optimizer()
    ours, ref = make_scheduler(ours_opt, name, warmup, total), theirs(their_opt, warmup, total)
    for step in range(total + 5):
        assert ours.get_last_lr() == pytest.approx(ref.get_last_lr(), abs=1e-12), step
        ours_opt.step(), their_opt.step(), ours.step(), ref.step()
    assert set(SCHEDULES) == {"linear", "cosine", "constant", "inverse_sqrt"}


def test_param_groups_leave_biases_and_layernorms_undecayed():
    model = BertForMaskedLM(BertConfig(**SMALL))
    decay, no_decay = param_groups(model, 0.01)
    names = {id(p): n for n, p in model.named_parameters()}
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    no_decay_names = {names[id(p)] for p in no_decay["params"]}
    decay_names = {names[id(p)] for p in decay["params"]}
    assert all(n.endswith("bias") or "norm" in n for n in no_decay_names)
    assert "bert.layers.0.attention_norm.weight" in no_decay_names and "mlm_head.bias" in no_decay_names
    assert "bert.layers.0.attention.query.weight" in decay_names
    assert "bert.embeddings.word_embeddings.weight" in decay_names
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


def collator():
    # ids 0..4 are special: 0 [PAD], 1 [UNK], 2 [CLS], 3 [SEP], 4 [MASK]
    return MaskingCollator.from_ids(vocab_size=1000, mask_token_id=4, pad_token_id=0,
                                    special_token_ids=[0, 1, 2, 3, 4], seed=0)


def test_collator_pads_dynamically_and_never_masks_special_tokens_or_padding():
    rows = [[2] + list(range(10, 10 + n)) + [3] for n in (5, 30, 12)]
    out = collator()(rows)
    assert out["input_ids"].shape == (3, 32)  # padded to the longest, not to a fixed length
    assert out["attention_mask"].sum(1).tolist() == [7, 32, 14]
    labels = out["labels"]
    assert (labels[out["attention_mask"] == 0] == -100).all()
    assert (labels[:, 0] == -100).all()  # [CLS]
    for i, row in enumerate(rows):
        assert labels[i, len(row) - 1] == -100  # [SEP]
    assert (out["input_ids"][out["attention_mask"] == 0] == 0).all()  # padding stays [PAD]


def test_collator_masks_fifteen_percent_with_the_80_10_10_rule():
    ids = torch.randint(10, 1000, (400, 128))
    special = torch.zeros_like(ids, dtype=torch.bool)
    special[:, 0] = special[:, -1] = True
    g = torch.Generator().manual_seed(0)
    masked, labels = mask_tokens(ids, special, mask_token_id=4, vocab_size=1000, generator=g)
    chosen = labels != -100
    assert not chosen[special].any()
    assert chosen.float().mean().item() == pytest.approx(0.15 * 126 / 128, abs=0.005)
    assert (labels[chosen] == ids[chosen]).all() and (masked[~chosen] == ids[~chosen]).all()
    as_mask = (masked[chosen] == 4).float().mean().item()
    unchanged = (masked[chosen] == ids[chosen]).float().mean().item()
    assert as_mask == pytest.approx(0.8, abs=0.01)
    assert unchanged == pytest.approx(0.1, abs=0.01)  # (a random id equal to the original is rare)
    assert 1 - as_mask - unchanged == pytest.approx(0.1, abs=0.01)


def test_collator_is_repeatable_with_a_seed():
    rows = [[2] + list(range(10, 60)) + [3]] * 4
    assert torch.equal(collator()(rows)["input_ids"], collator()(rows)["input_ids"])


def test_sparse_prediction_gives_the_full_loss_and_gradients():
    """Scoring only the labelled positions changes the work, not the loss or its gradients."""
    from dataclasses import replace

    torch.manual_seed(0)
    sparse = BertForMaskedLM(BertConfig(**SMALL, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))
    full = BertForMaskedLM(replace(sparse.config, sparse_prediction=False))
    full.load_state_dict(sparse.state_dict())
    assert sparse.config.sparse_prediction and not full.config.sparse_prediction
    ids, mask, types = batch(sparse.config, B=4, T=16)
    g = torch.Generator().manual_seed(1)
    labels = torch.where((torch.rand(ids.shape, generator=g) < 0.15) & (mask == 1), ids, -100)
    a, b = sparse(ids, mask, types, labels=labels), full(ids, mask, types, labels=labels)
    chosen = labels != -100
    assert a.logits.shape == (int(chosen.sum()), SMALL["vocab_size"])          # (M, V)
    assert b.logits.shape == (4, 16, SMALL["vocab_size"])                      # (B, T, V)
    assert abs(a.loss.item() - b.loss.item()) <= 1e-6
    assert max_diff(a.logits, b.logits[chosen]) <= 1e-6
    a.loss.backward()
    b.loss.backward()
    for (name, p), q in zip(sparse.named_parameters(), full.parameters()):
        assert max_diff(p.grad, q.grad) <= 1e-6, name
    # without labels, both score every position
    assert sparse(ids, mask, types).logits.shape == (4, 16, SMALL["vocab_size"])

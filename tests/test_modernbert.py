"""Chapter 11's proof: kaibert's ModernBERT gives transformers' numbers (eager attention, float32, 1e-5).

The configurations mix global and local layers, with and without biases, with different RoPE
thetas, on padded batches longer than the local window. Two more are drawn at random from seeds,
so parity is checked on sizes nobody picked by hand.
"""

from __future__ import annotations

import json
import random
import warnings

import pytest
import torch
import transformers

from kaibert import ModernBertConfig, ModernBertForMaskedLM, ModernBertModel
from kaibert.modernbert import load_modernbert_state_dict
from kaibert.modernbert_attention import apply_rotary, rotate_half, sliding_window_mask
from kaibert.modernbert_config import every_nth_global
from kaibert.modernbert_padding import packing_of, repad, unpad

TOL = 1e-5
TOKENS = dict(pad_token_id=0, bos_token_id=1, cls_token_id=1, eos_token_id=2, sep_token_id=2)


def tiny(**changes) -> ModernBertConfig:
    base = dict(vocab_size=101, hidden_size=32, intermediate_size=40, num_hidden_layers=4, num_attention_heads=4,
                max_position_embeddings=64, local_attention=8, **TOKENS)
    return ModernBertConfig(**{**base, **changes})


def random_config(seed: int) -> ModernBertConfig:
    """Sizes, layer pattern, window, thetas and biases drawn from a seed."""
    r = random.Random(seed)
    heads = r.choice([2, 4])
    layers = r.randint(2, 5)
    types = [r.choice(["full_attention", "sliding_attention"]) for _ in range(layers)]
    types[r.randrange(layers)] = "sliding_attention"  # at least one local layer
    return ModernBertConfig(
        vocab_size=r.randint(60, 200), hidden_size=heads * 2 * r.randint(3, 8), intermediate_size=r.randint(16, 72),
        num_hidden_layers=layers, num_attention_heads=heads, max_position_embeddings=48,
        local_attention=r.choice([4, 6, 10]), layer_types=types, hidden_activation=r.choice(["gelu", "silu"]),
        rope_parameters={"full_attention": {"rope_theta": r.choice([500.0, 160_000.0])},
                         "sliding_attention": {"rope_theta": r.choice([50.0, 10_000.0])}},
        attention_bias=r.random() < 0.5, mlp_bias=r.random() < 0.5, norm_bias=r.random() < 0.5,
        classifier_bias=r.random() < 0.5, decoder_bias=r.random() < 0.5, norm_eps=r.choice([1e-5, 1e-6]), **TOKENS)


CONFIGS = {
    "default-pattern": tiny(),
    "biases-everywhere": tiny(attention_bias=True, mlp_bias=True, norm_bias=True, classifier_bias=True,
                              layer_types=["sliding_attention", "full_attention", "sliding_attention", "full_attention"]),
    "thetas-and-window": tiny(num_hidden_layers=3, local_attention=5, hidden_activation="gelu_new",
                              layer_types=["sliding_attention"] * 3,
                              rope_parameters={"full_attention": {"rope_theta": 1000.0},
                                               "sliding_attention": {"rope_theta": 50.0}}),
    "all-global-no-decoder-bias": tiny(num_hidden_layers=2, layer_types=["full_attention"] * 2, decoder_bias=False),
    "random-seed-11": random_config(11),
    "random-seed-23": random_config(23),
}


def hf_twin(config: ModernBertConfig, cls=transformers.ModernBertForMaskedLM):
    """transformers' model for the same config, with every weight (norms and biases too) made non-trivial."""
    hf_config = transformers.ModernBertConfig(**config.to_dict(), attn_implementation="eager")
    model = cls(hf_config).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or name.endswith("bias"):  # ones and zeros would hide a dropped norm or bias
                p.add_(0.3 * torch.randn(p.shape, generator=g))
    return model


def padded_batch(config: ModernBertConfig, B: int = 4, T: int = 29, seed: int = 0):
    """Rows of different lengths, all longer than the local window, padding at the end."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, config.vocab_size, (B, T), generator=g)
    mask = torch.ones(B, T, dtype=torch.long)
    for row, length in enumerate([T, T - 5, T // 2, config.local_attention + 3][:B]):
        mask[row, length:] = 0
    ids[mask == 0] = config.pad_token_id
    return ids, mask


def diff_on_real_tokens(a, b, mask) -> float:
    """Padded positions carry no meaning (transformers fills them with numbers, kaibert's unpadding with zeros)."""
    keep = mask.bool()
    return (a[keep] - b[keep]).abs().max().item()


@pytest.mark.parametrize("unpad", [None, False], ids=["unpadded", "padded"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_masked_lm_matches_transformers(name, unpad):
    config = CONFIGS[name]
    theirs = hf_twin(config)
    ours = ModernBertForMaskedLM(config).eval()
    assert load_modernbert_state_dict(ours, theirs.state_dict()) == []
    ids, mask = padded_batch(config)
    assert ids.size(1) > config.local_attention  # the window really cuts
    with torch.no_grad():
        a = ours(ids, mask, output_hidden_states=True, output_attentions=True, unpad=unpad)
        b = theirs(input_ids=ids, attention_mask=mask, output_hidden_states=True, output_attentions=True)
    assert a.logits.shape == b.logits.shape == (*ids.shape, config.vocab_size)
    assert diff_on_real_tokens(a.logits, b.logits, mask) <= TOL
    assert len(a.hidden_states) == len(b.hidden_states) == config.num_hidden_layers + 1
    for x, y in zip(a.hidden_states, b.hidden_states):
        assert diff_on_real_tokens(x, y, mask) <= TOL
    assert len(a.attentions) == len(b.attentions) == config.num_hidden_layers
    for x, y in zip(a.attentions, b.attentions):  # (B, heads, T, T): rows of real queries
        assert x.shape == y.shape
        rows = mask.bool()[:, None, :, None].expand_as(x)
        assert (x[rows] - y[rows]).abs().max().item() <= TOL


def test_local_layers_really_differ_from_global_ones():
    """If the window were ignored, parity above could hold for the wrong reason: check it cuts."""
    config = CONFIGS["thetas-and-window"]
    ours = ModernBertModel(config).eval()
    ids, mask = padded_batch(config)
    with torch.no_grad():
        attn = ours(ids, mask, output_attentions=True).attentions[0]  # (B, heads, T, T), a local layer
    i, j = torch.meshgrid(torch.arange(ids.size(1)), torch.arange(ids.size(1)), indexing="ij")
    far = (i - j).abs() > config.window
    assert attn[0][:, far].abs().max() == 0  # nothing beyond the window
    assert attn[0][:, ~far].min() > 0


@pytest.mark.parametrize("sparse", [False, True])
def test_masked_lm_loss_matches_transformers(sparse):
    config = tiny(sparse_prediction=sparse, layer_types=every_nth_global(4, 2))
    theirs = hf_twin(config)
    ours = ModernBertForMaskedLM(config).eval()
    load_modernbert_state_dict(ours, theirs.state_dict())
    ids, mask = padded_batch(config)
    labels = torch.full_like(ids, -100)
    labels[:, 2:6] = ids[:, 2:6]
    with torch.no_grad():
        a = ours(ids, mask, labels=labels)
        b = theirs(input_ids=ids, attention_mask=mask, labels=labels)
    assert abs(a.loss.item() - b.loss.item()) <= TOL
    if sparse:  # only the labelled positions are scored: (M, V), in row-major order
        assert a.logits.shape == b.logits.shape == (16, config.vocab_size)
        assert (a.logits - b.logits).abs().max().item() <= TOL


def test_base_model_matches_transformers_without_padding():
    config = CONFIGS["biases-everywhere"]
    theirs = hf_twin(config, transformers.ModernBertModel)
    ours = ModernBertModel(config).eval()
    assert load_modernbert_state_dict(ours, theirs.state_dict()) == []
    ids = torch.randint(3, config.vocab_size, (2, 40))
    with torch.no_grad():
        a, b = ours(ids).last_hidden_state, theirs(input_ids=ids).last_hidden_state
    assert (a - b).abs().max().item() <= TOL


def test_sdpa_gives_the_eager_numbers():
    eager = ModernBertModel(tiny(attn_implementation="eager")).eval()
    fused = ModernBertModel(tiny(attn_implementation="sdpa")).eval()
    fused.load_state_dict(eager.state_dict())
    ids, mask = padded_batch(eager.config)
    with torch.no_grad():
        for unpad in (None, False):
            a = eager(ids, mask, unpad=unpad).last_hidden_state
            b = fused(ids, mask, unpad=unpad).last_hidden_state
            assert diff_on_real_tokens(a, b, mask) <= TOL


# --- unpadding -------------------------------------------------------------------------------


def test_unpadded_and_padded_paths_give_the_same_outputs_and_gradients():
    config = tiny(layer_types=["full_attention", "sliding_attention", "sliding_attention", "full_attention"])
    model = ModernBertForMaskedLM(config).train()
    ids, mask = padded_batch(config)
    labels = torch.where(mask.bool() & (torch.arange(ids.size(1)) % 3 == 0), ids, -100)
    grads = {}
    for unpad in (True, False):
        model.zero_grad()
        out = model(ids, mask, labels=labels, unpad=unpad)
        out.loss.backward()
        grads[unpad] = (out.loss.item(), {n: p.grad.clone() for n, p in model.named_parameters()})
    (loss_u, g_u), (loss_p, g_p) = grads[True], grads[False]
    assert abs(loss_u - loss_p) <= TOL
    for name in g_u:
        assert (g_u[name] - g_p[name]).abs().max().item() <= TOL, name
    # the padded path read the padding, the unpadded one never did; both moved every weight
    assert all(g.abs().sum() > 0 for g in g_u.values())


def test_unpadding_is_the_default_when_the_batch_has_padding(monkeypatch):
    import kaibert.modernbert as module

    calls = []
    real = module.packing_of
    monkeypatch.setattr(module, "packing_of", lambda mask: calls.append(mask.shape) or real(mask))
    model = ModernBertModel(tiny()).eval()
    ids, mask = padded_batch(model.config)
    with torch.no_grad():
        model(ids, mask)
        assert len(calls) == 1
        model(ids, torch.ones_like(mask))  # nothing to drop: the padded path
        model(ids)
        assert len(calls) == 1
        model(ids, mask, unpad=False)
        assert len(calls) == 1


def test_unpad_and_repad_round_trip_with_cu_seqlens():
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]])
    x = torch.arange(12.0).view(3, 4, 1)
    packing = packing_of(mask)
    assert packing.cu_seqlens.tolist() == [0, 3, 4, 8]
    assert packing.positions.tolist() == [0, 1, 2, 0, 0, 1, 2, 3]
    packed = unpad(x, packing)
    assert packed.squeeze(1).tolist() == [0, 1, 2, 4, 8, 9, 10, 11]
    back = repad(packed, packing)
    assert torch.equal(back, x * mask[..., None])


def test_rotation_keeps_lengths_and_scores_depend_on_distance_only():
    from kaibert.modernbert_attention import RotaryEmbedding

    rope = RotaryEmbedding(head_dim=8, theta=100.0)
    q, k = torch.randn(8), torch.randn(8)

    def score(i, j):
        cos_i, sin_i = rope(torch.tensor([i]))
        cos_j, sin_j = rope(torch.tensor([j]))
        return (apply_rotary(q, cos_i[0], sin_i[0]) @ apply_rotary(k, cos_j[0], sin_j[0])).item()

    assert abs(score(3, 1) - score(12, 10)) < 1e-4  # same distance, same score
    assert abs(score(3, 1) - score(3, 2)) > 1e-3
    cos, sin = rope(torch.tensor([5]))
    assert torch.allclose(apply_rotary(q, cos[0], sin[0]).norm(), q.norm())
    assert torch.equal(rotate_half(torch.tensor([1.0, 2, 3, 4])), torch.tensor([-3.0, -4, 1, 2]))


def test_sliding_window_mask_is_a_band():
    mask = sliding_window_mask(torch.arange(6), window=1)
    allowed = (mask == 0).int()
    assert allowed.tolist() == [[1, 1, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0], [0, 1, 1, 1, 0, 0],
                                [0, 0, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 1, 1]]


# --- saving and loading, both directions ------------------------------------------------------


def test_transformers_folder_loads_in_kaibert(tmp_path):
    config = CONFIGS["random-seed-23"]
    theirs = hf_twin(config)
    theirs.save_pretrained(tmp_path)
    ours = ModernBertForMaskedLM.from_pretrained(tmp_path)
    encoder = ModernBertModel.from_pretrained(tmp_path)  # the head's weights are skipped
    ids, mask = padded_batch(config, seed=5)
    with torch.no_grad():
        a = ours(ids, mask)
        b = theirs(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        h = encoder(ids, mask).last_hidden_state
    assert ours.config == config
    assert diff_on_real_tokens(a.logits, b.logits, mask) <= TOL
    assert diff_on_real_tokens(h, b.hidden_states[-1], mask) <= TOL


def test_kaibert_folder_loads_in_transformers(tmp_path):
    config = CONFIGS["biases-everywhere"]
    ours = ModernBertForMaskedLM(config).eval()
    with torch.no_grad():
        ours.decoder.bias.normal_()
    ours.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model_type"] == "modernbert" and saved["architectures"] == ["ModernBertForMaskedLM"]
    assert "attn_implementation" not in saved
    theirs = transformers.ModernBertForMaskedLM.from_pretrained(tmp_path, attn_implementation="eager").eval()
    assert theirs.config.layer_types == config.layer_types
    assert theirs.config.sliding_window == config.window
    ids, mask = padded_batch(config, seed=6)
    with torch.no_grad():
        a, b = ours(ids, mask), theirs(input_ids=ids, attention_mask=mask)
    assert diff_on_real_tokens(a.logits, b.logits, mask) <= TOL
    again = ModernBertForMaskedLM.from_pretrained(tmp_path)  # and back
    with torch.no_grad():
        assert torch.equal(again(ids, mask).logits, a.logits)


def test_hub_style_config_with_the_older_keys(tmp_path):
    """The config.json of answerdotai/ModernBERT-base predates layer_types and rope_parameters."""
    config = tiny(num_hidden_layers=5)
    theirs = hf_twin(config)
    theirs.save_pretrained(tmp_path)
    data = json.loads((tmp_path / "config.json").read_text())
    for key in ("layer_types", "rope_parameters"):
        data.pop(key)
    data.update(global_attn_every_n_layers=2, global_rope_theta=2000.0, local_rope_theta=30.0)
    (tmp_path / "config.json").write_text(json.dumps(data))
    ours = ModernBertForMaskedLM.from_pretrained(tmp_path)
    assert ours.config.layer_types == every_nth_global(5, 2)
    assert ours.config.rope_theta("full_attention") == 2000.0
    theirs = transformers.ModernBertForMaskedLM.from_pretrained(tmp_path, attn_implementation="eager").eval()
    ids, mask = padded_batch(config, seed=7)
    with torch.no_grad():
        a, b = ours(ids, mask), theirs(input_ids=ids, attention_mask=mask)
    assert diff_on_real_tokens(a.logits, b.logits, mask) <= TOL


def test_hub_name_loads_through_the_hub_cache(tmp_path, monkeypatch):
    """'answerdotai/ModernBERT-base' goes through the package's hub resolver; offline, the resolver
    reads the hub cache, which this test fills with a tiny folder that transformers wrote."""
    import huggingface_hub.constants as hub_constants

    snapshot = tmp_path / "models--answerdotai--ModernBERT-base" / "snapshots" / ("0" * 40)
    theirs = hf_twin(tiny(num_hidden_layers=2))
    theirs.save_pretrained(snapshot)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    ours = ModernBertForMaskedLM.from_pretrained("answerdotai/ModernBERT-base")
    ids = torch.randint(3, 101, (1, 12))
    with torch.no_grad():
        assert (ours(ids).logits - theirs(input_ids=ids).logits).abs().max().item() <= TOL


# --- clear errors -----------------------------------------------------------------------------


def test_sequence_longer_than_the_config_allows():
    model = ModernBertModel(tiny(max_position_embeddings=16))
    with pytest.raises(ValueError, match="Sequence length 17 is longer than max_position_embeddings \\(16\\)"):
        model(torch.ones(1, 17, dtype=torch.long))


@pytest.mark.parametrize("layer_types, message", [
    (["full_attention"] * 3, "layer_types has 3 entries but num_hidden_layers is 4"),
    (["full_attention", "local", "global", "full_attention"], "layer_types holds \\['global', 'local'\\]"),
])
def test_malformed_layer_types(layer_types, message):
    with pytest.raises(ValueError, match=message):
        tiny(layer_types=layer_types)


def test_bert_folder_is_not_modernbert(minilm_path):
    with pytest.raises(ValueError, match="is a 'bert' model, not ModernBERT.*kaibert.BertModel"):
        ModernBertModel.from_pretrained(minilm_path)


def test_config_errors_name_the_fix():
    with pytest.raises(ValueError, match="head_dim .* is odd"):
        tiny(hidden_size=36, num_attention_heads=4)
    with pytest.raises(ValueError, match="rope_type 'yarn'"):
        tiny(rope_parameters={"full_attention": {"rope_type": "yarn", "rope_theta": 10.0}})
    with pytest.raises(ValueError, match="attention_mask must hold 1 for real tokens and 0 for padding"):
        ModernBertModel(tiny())(torch.ones(1, 4, dtype=torch.long), torch.full((1, 4), 2))


def test_checkpoint_that_lacks_the_head(tmp_path):
    hf_twin(tiny(), transformers.ModernBertModel).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="weights the checkpoint lacks: decoder.bias, head.dense.weight"):
        ModernBertForMaskedLM.from_pretrained(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ModernBertForMaskedLM.from_pretrained(tmp_path, strict=False)
    assert model.decoder.weight is model.model.embeddings.tok_embeddings.weight  # still tied


# --- the training comparison's configs ----------------------------------------------------------


def test_modernbert_mini_matches_shakespeare_mini_in_size_and_vocabulary():
    """configs/modernbert-mini*.yaml: kaibert-train builds a ModernBERT as large as shakespeare-mini."""
    from pathlib import Path

    import yaml

    from kaibert import BertConfig, BertForMaskedLM
    from kaibert.train.architectures import get_architecture

    root = Path(__file__).resolve().parents[1] / "configs"

    def load(name):
        return yaml.safe_load((root / name).read_text())

    bert, modern = load("shakespeare-mini.yaml"), load("modernbert-mini.yaml")
    assert modern["data"] == bert["data"] | {"mlm_probability": 0.15}  # same corpus, vocabulary and masking
    assert modern["training"] == bert["training"]
    stage2, bert2 = load("modernbert-mini-stage2.yaml"), load("shakespeare-mini-stage2.yaml")
    assert stage2["training"] | {"init_from": None} == bert2["training"] | {"init_from": None}
    from kaibert import BertTokenizer

    tokenizer = BertTokenizer.from_pretrained(root.parent / modern["data"]["tokenizer"])
    special = {name: getattr(tokenizer, f"{name}_token_id") for name in ("pad", "unk", "cls", "sep", "mask")}
    architecture = get_architecture(modern["model"]["architecture"])
    values = {k: v for k, v in modern["model"].items() if k != "architecture"}
    model = architecture.build({**values, **architecture.special_token_fields(special), "vocab_size": len(tokenizer)})
    assert isinstance(model, ModernBertForMaskedLM)
    reference = BertForMaskedLM(BertConfig(vocab_size=8000, **bert["model"]))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert abs(count(model) - count(reference)) / count(reference) < 0.001


def test_labels_on_padding_are_a_clear_error_when_unpadded():
    config = tiny()
    model = ModernBertForMaskedLM(config).eval()
    ids, mask = padded_batch(config)
    labels = ids.clone()  # every position labelled, padding too
    with pytest.raises(ValueError, match="labels mark padding positions"):
        model(ids, mask, labels=labels)
    with torch.no_grad():
        assert torch.isfinite(model(ids, mask, labels=labels, unpad=False).loss)


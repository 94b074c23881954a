"""The diagrams of kaibert.course.diagrams: each draws, names its parts, and labels them with the shapes
of the config it is given. No pixels are compared: the tests read the boxes, arrows and texts."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.patches import FancyArrowPatch

from kaibert import BertConfig
from kaibert.course import diagrams
from kaibert.course.diagrams import (arrows, boxes, draw_attention, draw_encoder_block, draw_heads,
                                     draw_mlm_head, fine_tuning_heads)

# Sizes that appear nowhere by accident: H = 48, 4 heads of 12, I = 80, V = 99, 3 layers.
SMALL = dict(vocab_size=99, hidden_size=48, num_hidden_layers=3, num_attention_heads=4, intermediate_size=80,
             max_position_embeddings=40, type_vocab_size=3)


def texts(fig) -> str:
    """Every text on the figure (labels, box texts, titles), joined."""
    parts = [t.get_text() for ax in fig.axes for t in ax.texts]
    parts += [ax.get_title() for ax in fig.axes]
    if fig._suptitle is not None:
        parts.append(fig._suptitle.get_text())
    return " | ".join(parts)


def arrow_between(fig, first: str, second: str) -> bool:
    """True when some arrow starts at or below box ``first`` and ends at or above box ``second``
    (the diagrams flow top to bottom), horizontally within both boxes' reach."""
    named = boxes(fig)
    a, b = named[first].get_bbox(), named[second].get_bbox()
    for arrow in arrows(fig):
        (x0, y0), (x1, y1) = arrow._posA_posB
        starts = a.x0 - 0.3 <= x0 <= a.x1 + 0.3 and abs(y0 - a.y0) < 0.3
        ends = b.x0 - 0.3 <= x1 <= b.x1 + 0.3 and abs(y1 - b.y1) < 0.3
        if starts and ends:
            return True
    return False


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_attention_diagram_shows_the_data_flow_with_shapes():
    fig = draw_attention(head_dim=16)
    named = boxes(fig)
    for name in ("Q", "K", "V", "transpose", "scores", "scale", "mask-add", "mask", "softmax", "weighted-sum",
                 "output"):
        assert name in named, name
    label = texts(fig)
    for shape in ("(B, T, 16)", "Kᵀ: (B, 16, T)", "(B, T, T)", "weights (B, T, T)", "(B, 1, 1, T)", "÷ √16",
                  "dim=-1"):
        assert shape in label, shape
    # Q and K meet in the scores; the chain runs scores -> scale -> mask -> softmax -> weights @ V -> output.
    assert arrow_between(fig, "scale", "mask-add") and arrow_between(fig, "mask-add", "softmax")
    assert arrow_between(fig, "softmax", "weighted-sum") and arrow_between(fig, "weighted-sum", "output")
    assert arrow_between(fig, "V", "weighted-sum")  # the values skip the scores entirely
    fig.canvas.draw()


def test_attention_diagram_keeps_the_letter_d_by_default():
    label = texts(draw_attention())
    assert "(B, T, d)" in label and "÷ √d" in label


@pytest.mark.parametrize("kv_heads", [None, 2, 1])
def test_heads_diagram_splits_and_merges_with_the_config_shapes(kv_heads):
    fig = draw_heads(BertConfig(**SMALL, num_key_value_heads=kv_heads))
    g = kv_heads or 4
    named = boxes(fig)
    for projection in ("query", "key", "value"):
        for step in ("linear", "view", "transpose"):
            assert f"{projection}-{step}" in named
        assert arrow_between(fig, f"{projection}-transpose", "attention")
    for name in ("x", "attention", "merge-transpose", "merge-reshape", "out-linear", "output"):
        assert name in named
    label = texts(fig)
    for shape in ("x (B, T, 48)", "query: Linear 48 → 48", f"key: Linear 48 → {g * 12}", "view(B, T, 4, 12)",
                  "(B, 4, T, 12)", "(B, T, 4, 12)", "reshape(B, T, 48)", "(B, 4, T, T)",
                  f"(B, {g}, T, 12)", "4 heads × 12"):
        assert shape in label, shape
    assert ("repeat_interleave" in label) == (g != 4)
    # The picture of one token's vector has one coloured block per head.
    blocks = [p for p in fig.axes[0].patches if (p.get_gid() or "").startswith("head-block:")]
    assert len(blocks) == 4
    fig.canvas.draw()


def test_encoder_block_draws_post_ln_beside_pre_ln():
    fig = draw_encoder_block(BertConfig(**SMALL))
    named = boxes(fig)
    assert len(fig.axes) == 2
    for wiring in ("post", "pre"):
        for name in ("input", "attention", "add-1", "norm-1", "ffn", "add-2", "norm-2", "output"):
            assert f"{wiring}:{name}" in named, (wiring, name)
    # Post-LN: the LayerNorm comes right after each addition. Pre-LN: before each sublayer.
    y = {name: patch.get_bbox().y0 for name, patch in named.items()}
    assert y["post:attention"] > y["post:add-1"] > y["post:norm-1"] > y["post:ffn"] > y["post:add-2"] > y["post:norm-2"]
    assert y["pre:norm-1"] > y["pre:attention"] > y["pre:add-1"] > y["pre:norm-2"] > y["pre:ffn"] > y["pre:add-2"]
    assert arrow_between(fig, "post:add-1", "post:norm-1") and arrow_between(fig, "pre:norm-1", "pre:attention")
    residuals = [a for a in arrows(fig) if a.get_gid() == "arrow:residual"]
    assert len(residuals) == 4  # two per wiring
    for ax in fig.axes:  # every residual ends at an "add" box of its own panel
        adds = [p.get_bbox() for p in ax.patches
                if (p.get_gid() or "").startswith("box:") and p.get_gid().endswith(("add-1", "add-2"))]
        ends = [a._posA_posB[1] for a in ax.patches if isinstance(a, FancyArrowPatch) and a.get_gid() == "arrow:residual"]
        assert sorted(round(y, 2) for _, y in ends) == sorted(round((b.y0 + b.y1) / 2, 2) for b in adds)
    label = texts(fig)
    for shape in ("(B, T, 48)", "Linear 48 → 80", "Linear 80 → 48", "4 heads", "post-LN (BERT)", "pre-LN",
                  "LN(x + Attention(x))", "x + Attention(LN(x))"):
        assert shape in label, shape
    fig.canvas.draw()


def test_mlm_head_diagram_ties_the_decoder_to_the_word_embeddings():
    config = BertConfig(**SMALL)
    fig = draw_mlm_head(config)
    named = boxes(fig)
    for name in ("input", "word-embeddings", "embedding-rest", "encoder", "dense", "head-norm", "decoder", "loss"):
        assert name in named, name
    tied = [a for a in arrows(fig) if a.get_gid() == "arrow:tied"]
    assert len(tied) == 1
    (x0, y0), (x1, y1) = tied[0]._posA_posB
    emb, dec = named["word-embeddings"].get_bbox(), named["decoder"].get_bbox()
    assert emb.y0 <= y0 <= emb.y1 and dec.y0 <= y1 <= dec.y1  # from the table to the decoder
    assert arrow_between(fig, "dense", "head-norm") and arrow_between(fig, "head-norm", "decoder")
    label = texts(fig)
    counts = diagrams.parameter_counts(config)
    for shape in ("(99 × 48)", "logits (B, T, 99)", "h (B, T, 48)", "u (B, T, 48)", "Linear 48 → 48",
                  "bias b (99,)", "-100", f"{counts['mlm_head']:,} parameters", f"Saves {99 * 48:,}"):
        assert shape in label, shape
    fig.canvas.draw()


def test_fine_tuning_heads_read_cls_or_every_token():
    fig = fine_tuning_heads(BertConfig(**SMALL), num_labels=5)
    named = boxes(fig)
    for name in ("bert", "pooler", "sequence-classifier", "next-sentence", "token-classifier",
                 "sequence-logits", "nsp-logits", "token-logits"):
        assert name in named, name
    assert arrow_between(fig, "bert", "pooler") and arrow_between(fig, "pooler", "sequence-classifier")
    assert arrow_between(fig, "pooler", "next-sentence") and arrow_between(fig, "bert", "token-classifier")
    label = texts(fig)
    for shape in ("last_hidden_state[:, 0] (B, 48)", "last_hidden_state (B, T, 48)", "Linear 48 → 5",
                  "logits (B, 5)", "logits (B, 2)", "logits (B, T, 5)", "Linear 48 → 48, tanh"):
        assert shape in label, shape
    fig.canvas.draw()


@pytest.mark.parametrize("draw", [draw_heads, draw_encoder_block, draw_mlm_head, fine_tuning_heads])
def test_diagrams_ask_for_a_config(draw):
    with pytest.raises(TypeError, match="needs a BertConfig"):
        draw({"hidden_size": 768})


def test_diagrams_draw_into_given_axes():
    fig, ax = plt.subplots()
    assert draw_attention(ax=ax) is fig and draw_mlm_head(BertConfig(**SMALL), ax=ax) is fig
    fig, axes = plt.subplots(1, 2)
    assert draw_encoder_block(BertConfig(**SMALL), axes=axes) is fig

"""BERT's computational graph, drawn with matplotlib from a config.

    from kaibert import BertConfig
    from kaibert.course.diagrams import draw_bert_graph
    draw_bert_graph(BertConfig())      # BERT-base
    plt.show()

Every size on the drawing (tensor shapes, weight shapes, parameter counts) is computed from
the config, so the same call draws BERT-base, the MiniLM of the offline chapters, or a model
of your own. Shapes use B for the batch size and T for the number of tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

COLOURS = {
    "input": "#f2f2f2",
    "embedding": "#fde9c9",
    "attention": "#d6e6f5",
    "norm": "#e8e8e8",
    "ffn": "#dbeed3",
    "head": "#f5d6de",
    "frame": "#fafafa",
}


@dataclass
class Sizes:
    """The sizes the drawing needs, from a kaibert (or Hugging Face) BertConfig."""

    vocab: int
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    positions: int
    types: int
    act: str

    @classmethod
    def of(cls, config: Any) -> "Sizes":
        missing = [
            name
            for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                         "intermediate_size", "max_position_embeddings", "type_vocab_size")
            if not hasattr(config, name)
        ]
        if missing:
            raise TypeError(
                f"draw_bert_graph needs a BertConfig; {type(config).__name__} lacks {', '.join(missing)}. "
                "Pass kaibert.BertConfig(...) or model.config."
            )
        heads = config.num_attention_heads
        kv_heads = getattr(config, "num_key_value_heads", None) or heads
        return cls(
            vocab=config.vocab_size,
            hidden=config.hidden_size,
            layers=config.num_hidden_layers,
            heads=heads,
            kv_heads=kv_heads,
            head_dim=config.hidden_size // heads,
            intermediate=config.intermediate_size,
            positions=config.max_position_embeddings,
            types=config.type_vocab_size,
            act=str(getattr(config, "hidden_act", "gelu")),
        )


def parameter_counts(config: Any) -> dict[str, int]:
    """Parameters per part of BertModel (and of the MLM head, whose decoder is tied), from the config."""
    s = Sizes.of(config)
    H, I = s.hidden, s.intermediate
    kv = s.kv_heads * s.head_dim  # width of the key and value projections
    norm = 2 * H  # a LayerNorm's weight and bias
    attention = (H * H + H) + 2 * (H * kv + kv) + (H * H + H)  # query, key + value, out
    ffn = (H * I + I) + (I * H + H)
    return {
        "embeddings": (s.vocab + s.positions + s.types) * H + norm,
        "attention": attention,
        "feed_forward": ffn,
        "layer": attention + ffn + 2 * norm,
        "encoder": s.layers * (attention + ffn + 2 * norm),
        "pooler": H * H + H,
        "mlm_head": (H * H + H) + norm + s.vocab,  # dense, LayerNorm, output bias (decoder weight tied)
        "bert_model": (s.vocab + s.positions + s.types) * H + norm
        + s.layers * (attention + ffn + 2 * norm)
        + H * H
        + H,
    }


def _millions(n: int) -> str:
    return f"{n / 1e6:.1f} M" if n >= 1e5 else f"{n:,}"


def _box(ax, x, y, w, h, text, colour, fontsize=9, weight="normal"):
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2), w, h,
            boxstyle="round,pad=0.02,rounding_size=0.12", linewidth=1.0, edgecolor="#444", facecolor=colour,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, weight=weight)


def _arrow(ax, start, end, label=None, side="right", connection="arc3", colour="#333"):
    ax.add_patch(
        FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=11, linewidth=1.1, color=colour,
                        connectionstyle=connection, shrinkA=0, shrinkB=0)
    )
    if label:
        x = (start[0] + end[0]) / 2 + (0.12 if side == "right" else -0.12)
        y = (start[1] + end[1]) / 2
        ax.text(x, y, label, ha="left" if side == "right" else "right", va="center", fontsize=8,
                family="monospace", color="#1f4e79")


def draw_bert_graph(config: Any, ax: plt.Axes | None = None) -> plt.Figure:
    """Draw embeddings -> N x encoder layer -> pooler and MLM head, with tensor shapes.

    Returns the figure; call ``plt.show()`` to display it.
    """
    s = Sizes.of(config)
    counts = parameter_counts(config)
    H, I, V = s.hidden, s.intermediate, s.vocab
    if ax is None:
        fig, ax = plt.subplots(figsize=(10, 12.5))
        fig.subplots_adjust(left=0.02, right=0.98, bottom=0.01, top=0.96)
    else:
        fig = ax.figure
    ax.set_xlim(0, 10)
    ax.set_ylim(0.0, 21.1)
    ax.axis("off")
    cx = 4.2  # the main column

    # Inputs and embeddings.
    _box(ax, cx, 20.6, 4.6, 0.6, "input_ids, token_type_ids, attention_mask", COLOURS["input"])
    emb = [
        (1.7, f"word embeddings\n{V} × {H}"),
        (cx, f"position embeddings\n{s.positions} × {H}"),
        (6.7, f"token type embeddings\n{s.types} × {H}"),
    ]
    for x, text in emb:
        _arrow(ax, (cx if x == cx else x, 20.3), (x, 19.45), label="(B, T)" if x == 1.7 else None, side="left")
        _box(ax, x, 19.0, 2.3, 0.85, text, COLOURS["embedding"], fontsize=8)
        _arrow(ax, (x, 18.57), (cx, 17.85))
    ax.text(cx, 17.6, "+", ha="center", va="center", fontsize=16, weight="bold")
    _arrow(ax, (cx, 17.35), (cx, 16.95))
    _box(ax, cx, 16.6, 3.2, 0.6, "LayerNorm, dropout", COLOURS["norm"])
    ax.text(8.1, 16.6, f"embeddings: {_millions(counts['embeddings'])} parameters", ha="center", fontsize=8,
            style="italic", color="#555")
    _arrow(ax, (cx, 16.3), (cx, 15.15), label=f"(B, T, {H})")

    # The encoder layer, repeated N times.
    top, bottom = 15.0, 6.2
    ax.add_patch(FancyBboxPatch((0.6, bottom), 7.6, top - bottom, boxstyle="round,pad=0.02,rounding_size=0.25",
                                linewidth=1.4, edgecolor="#1f4e79", facecolor=COLOURS["frame"], linestyle="--"))
    ax.text(8.05, top - 0.2, f"encoder layer × {s.layers}", fontsize=11, weight="bold", color="#1f4e79",
            va="top", ha="right")
    ax.text(8.05, top - 0.65, f"{_millions(counts['layer'])} parameters each", fontsize=8, style="italic",
            color="#555", va="top", ha="right")
    kind = "" if s.kv_heads == s.heads else (" (multi-query)" if s.kv_heads == 1 else f" ({s.kv_heads} key/value heads)")
    attention_text = (
        f"multi-head self-attention{kind}\n"
        f"Q, K, V: {H} → {s.heads} heads × {s.head_dim}\n"
        f"softmax(QKᵀ/√{s.head_dim} + mask) V, out: {H} → {H}"
    )
    _box(ax, cx, 13.45, 4.6, 1.25, attention_text, COLOURS["attention"], fontsize=8.5)
    ax.text(6.75, 13.3, f"weights\n(B, {s.heads}, T, T)", fontsize=8, family="monospace", color="#1f4e79",
            va="center")
    _arrow(ax, (cx, 12.82), (cx, 12.05), label=f"(B, T, {H})")
    _box(ax, cx, 11.75, 3.2, 0.6, "dropout, add, LayerNorm", COLOURS["norm"])
    _arrow(ax, (cx, 11.45), (cx, 10.6), label=f"(B, T, {H})")
    ffn_text = f"feed-forward\nLinear {H} → {I}, {s.act.upper()}\nLinear {I} → {H}"
    _box(ax, cx, 9.95, 4.6, 1.25, ffn_text, COLOURS["ffn"], fontsize=8.5)
    ax.text(6.75, 10.35, f"inside\n(B, T, {I})", fontsize=8, family="monospace", color="#1f4e79", va="center")
    _arrow(ax, (cx, 9.32), (cx, 8.55), label=f"(B, T, {H})")
    _box(ax, cx, 8.25, 3.2, 0.6, "dropout, add, LayerNorm", COLOURS["norm"])
    # Residual connections: from each sublayer's input, around it, into its "add".
    for y_from, y_to in ((14.45, 11.75), (11.2, 8.25)):
        ax.plot([cx, 1.3, 1.3], [y_from, y_from, y_to], color="#888", linewidth=1.1)
        _arrow(ax, (1.3, y_to), (cx - 1.6, y_to), colour="#888")
    ax.text(1.12, 13.1, "residual", fontsize=8, color="#666", rotation=90, va="center", ha="center")
    ax.text(1.12, 9.7, "residual", fontsize=8, color="#666", rotation=90, va="center", ha="center")
    _arrow(ax, (cx, 7.95), (cx, 6.95))
    ax.text(cx + 0.12, 7.0, "× N: output of one layer is input of the next", fontsize=7.5, color="#555",
            va="bottom")

    # Outputs and the two heads.
    _box(ax, cx, 5.55, 3.6, 0.7, f"last_hidden_state\n(B, T, {H})", COLOURS["input"], fontsize=8.5)
    px, mx = 2.0, 6.6
    _arrow(ax, (cx - 0.8, 5.2), (px, 4.35), label="[CLS]: (B, {})".format(H), side="left")
    _arrow(ax, (cx + 0.8, 5.2), (mx, 4.35), label=f"(B, T, {H})")
    _box(ax, px, 3.55, 3.2, 1.45, f"pooler\nLinear {H} → {H}, tanh\n{_millions(counts['pooler'])} parameters",
         COLOURS["head"], fontsize=8.5)
    mlm_text = (
        f"MLM head\nLinear {H} → {H}, {s.act.upper()}, LayerNorm\n"
        f"decoder {H} → {V}\n(weights tied to word embeddings) + bias"
    )
    _box(ax, mx, 3.55, 4.0, 1.45, mlm_text, COLOURS["head"], fontsize=8.5)
    _arrow(ax, (px, 2.82), (px, 1.85))
    _arrow(ax, (mx, 2.82), (mx, 1.85))
    _box(ax, px, 1.5, 3.0, 0.6, f"pooler_output (B, {H})", COLOURS["input"], fontsize=8.5)
    _box(ax, mx, 1.5, 3.4, 0.6, f"logits (B, T, {V})", COLOURS["input"], fontsize=8.5)
    ax.text(
        5.0, 0.35,
        f"BertModel: {counts['bert_model']:,} parameters "
        f"(embeddings {_millions(counts['embeddings'])}, encoder {_millions(counts['encoder'])}, "
        f"pooler {_millions(counts['pooler'])}); the MLM head adds {counts['mlm_head']:,}",
        ha="center", fontsize=8.5,
    )
    ax.set_title(
        f"BERT: {s.layers} layers, hidden size {H}, {s.heads} heads of {s.head_dim}, feed-forward {I}",
        fontsize=12,
    )
    return fig

"""Diagrams of BERT and of its parts, drawn with matplotlib from a config.

    from kaibert import BertConfig
    from kaibert.course.diagrams import draw_bert_graph
    draw_bert_graph(BertConfig())      # BERT-base
    plt.show()

One function per picture: ``draw_attention`` (chapter 03: Q, K, V to the output),
``draw_heads`` (chapter 04: splitting and merging heads), ``draw_encoder_block`` (chapter 05:
post-LN beside pre-LN), ``draw_bert_graph`` (chapter 06: the whole model), ``draw_mlm_head``
(chapter 07: the head and its tied weights) and ``fine_tuning_heads`` (heads for fine-tuning).
Each names its boxes (``boxes(fig)``) so that tests can check what was drawn.

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


def _box(ax, x, y, w, h, text, colour, fontsize=9, weight="normal", gid=None, linestyle="-"):
    """A rounded box centred on (x, y); ``gid`` names it (``box:<name>``) so tests can find it."""
    patch = FancyBboxPatch(
        (x - w / 2, y - h / 2), w, h,
        boxstyle="round,pad=0.02,rounding_size=0.12", linewidth=1.0, edgecolor="#444", facecolor=colour,
        linestyle=linestyle,
    )
    if gid:
        patch.set_gid(f"box:{gid}")
    ax.add_patch(patch)
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, weight=weight)
    return patch


def _arrow(ax, start, end, label=None, side="right", connection="arc3", colour="#333", gid=None,
           linestyle="-"):
    """An arrow from start to end, with an optional shape label beside its middle."""
    patch = FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=11, linewidth=1.1, color=colour,
                            connectionstyle=connection, shrinkA=0, shrinkB=0, linestyle=linestyle)
    if gid:
        patch.set_gid(f"arrow:{gid}")
    ax.add_patch(patch)
    if label:
        x = (start[0] + end[0]) / 2 + (0.12 if side == "right" else -0.12)
        y = (start[1] + end[1]) / 2
        ax.text(x, y, label, ha="left" if side == "right" else "right", va="center", fontsize=8,
                family="monospace", color="#1f4e79")
    return patch


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


# --- the diagrams of the single ideas (chapters 03, 04, 05, 07 and 10) ------------------------


def _new_axes(ax, size, xlim, ylim):
    """A fresh figure (or the given axes) with no frame, in diagram coordinates."""
    if ax is None:
        fig, ax = plt.subplots(figsize=size)
        fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.93)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.axis("off")
    return ax.figure, ax


def boxes(fig: plt.Figure) -> dict[str, FancyBboxPatch]:
    """The named boxes of a diagram, by name (``{"scores": patch, ...}``): what the tests look for."""
    return {p.get_gid()[4:]: p for ax in fig.axes for p in ax.patches
            if isinstance(p, FancyBboxPatch) and (p.get_gid() or "").startswith("box:")}


def arrows(fig: plt.Figure) -> list[FancyArrowPatch]:
    """Every arrow of a diagram."""
    return [p for ax in fig.axes for p in ax.patches if isinstance(p, FancyArrowPatch)]


def draw_attention(head_dim: int | str = "d", ax: plt.Axes | None = None) -> plt.Figure:
    """Scaled dot-product attention as a data flow: Q, K, V in, scores, mask, softmax, output out.

    Shapes use B (batch), T (tokens) and the head size ``head_dim`` (a number, or the letter d).
    """
    d = head_dim
    fig, ax = _new_axes(ax, (9, 8.2), (0, 10), (0, 10.4))
    qx, kx, vx, cx = 1.9, 4.6, 8.2, 3.25  # columns: Q, K, V and the main chain
    _box(ax, qx, 9.7, 2.2, 0.8, f"queries Q\n(B, T, {d})", COLOURS["attention"], gid="Q")
    _box(ax, kx, 9.7, 2.2, 0.8, f"keys K\n(B, T, {d})", COLOURS["attention"], gid="K")
    _box(ax, vx, 9.7, 2.2, 0.8, f"values V\n(B, T, {d})", COLOURS["attention"], gid="V")
    _box(ax, kx, 8.3, 2.4, 0.6, "transpose(-2, -1)", COLOURS["norm"], fontsize=8.5, gid="transpose")
    _arrow(ax, (kx, 9.3), (kx, 8.6))
    _arrow(ax, (qx, 9.3), (cx - 0.6, 7.25), label=f"(B, T, {d})", side="left")
    _arrow(ax, (kx, 8.0), (cx + 0.6, 7.25), label=f"Kᵀ: (B, {d}, T)")
    _box(ax, cx, 6.9, 3.2, 0.7, "scores = Q Kᵀ\none per (query, key) pair", COLOURS["attention"], fontsize=8.5,
         gid="scores")
    _arrow(ax, (cx, 6.55), (cx, 6.0), label="(B, T, T)")
    _box(ax, cx, 5.7, 3.2, 0.6, f"÷ √{d}", COLOURS["norm"], gid="scale")
    _arrow(ax, (cx, 5.4), (cx, 4.85), label="(B, T, T)")
    _box(ax, cx, 4.55, 3.2, 0.6, "+ mask", COLOURS["norm"], gid="mask-add")
    _box(ax, 7.6, 4.55, 3.4, 0.9, "padding mask (B, 1, 1, T)\n0 on real keys,\ndtype min on [PAD] keys",
         COLOURS["input"], fontsize=8, gid="mask")
    _arrow(ax, (5.9, 4.55), (cx + 1.6, 4.55))
    _arrow(ax, (cx, 4.25), (cx, 3.7), label="(B, T, T)")
    _box(ax, cx, 3.4, 3.2, 0.6, "softmax over the keys (dim=-1)", COLOURS["norm"], fontsize=8.5, gid="softmax")
    _arrow(ax, (cx, 3.1), (cx + 1.2, 2.35), label="weights (B, T, T)", side="left")
    ax.text(cx + 0.45, 2.45, "every row sums to 1", fontsize=7.5, style="italic", color="#555", ha="right",
            va="top")
    _arrow(ax, (vx, 9.3), (6.0, 2.35), label=f"(B, T, {d})")
    _box(ax, 5.25, 2.0, 3.4, 0.7, "weights @ V\nweighted average of the values", COLOURS["attention"],
         fontsize=8.5, gid="weighted-sum")
    _arrow(ax, (5.25, 1.65), (5.25, 1.05), label=f"(B, T, {d})")
    _box(ax, 5.25, 0.7, 3.0, 0.6, f"output (B, T, {d})", COLOURS["input"], gid="output")
    ax.set_title(f"Scaled dot-product attention: softmax(Q Kᵀ / √{d} + mask) V", fontsize=12)
    return fig


def draw_heads(config: Any, ax: plt.Axes | None = None) -> plt.Figure:
    """Multi-head self-attention: project, split into heads, attend, merge, project back; shapes from the config."""
    s = Sizes.of(config)
    H, h, d, g = s.hidden, s.heads, s.head_dim, s.kv_heads
    fig, ax = _new_axes(ax, (11, 10), (0, 12), (0, 12.4))
    cols = {"query": 2.2, "key": 5.2, "value": 8.2}
    _box(ax, 5.2, 11.8, 3.4, 0.6, f"x (B, T, {H})", COLOURS["input"], gid="x")
    for name, x in cols.items():
        n = h if name == "query" else g
        width = n * d
        _arrow(ax, (5.2, 11.5), (x, 10.95))
        _box(ax, x, 10.6, 2.7, 0.7, f"{name}: Linear {H} → {width}", COLOURS["attention"], fontsize=8.5,
             gid=f"{name}-linear")
        _arrow(ax, (x, 10.25), (x, 9.55), label=f"(B, T, {width})")
        _box(ax, x, 9.2, 2.7, 0.7, f"split: view(B, T, {n}, {d})", COLOURS["norm"], fontsize=8.5,
             gid=f"{name}-view")
        _arrow(ax, (x, 8.85), (x, 8.15), label=f"(B, T, {n}, {d})")
        _box(ax, x, 7.8, 2.7, 0.7, "transpose(1, 2)", COLOURS["norm"], fontsize=8.5, gid=f"{name}-transpose")
        _arrow(ax, (x, 7.45), (x, 6.25), label=f"(B, {n}, T, {d})")
    if g != h:
        ax.text(9.6, 4.7, f"keys, values first\nrepeated {h // g} times:\nrepeat_interleave({h // g}, dim=1)\n"
                f"→ (B, {h}, T, {d})", fontsize=8, color="#1f4e79", family="monospace", ha="left", va="top")
    _box(ax, 5.2, 5.8, 8.4, 0.9,
         f"scaled dot-product attention in all {h} heads at once (chapter 03)\nsoftmax(Q Kᵀ / √{d} + mask) V",
         COLOURS["attention"], fontsize=9, gid="attention")
    ax.text(9.65, 5.8, f"weights\n(B, {h}, T, T)", fontsize=8, family="monospace", color="#1f4e79", va="center")
    _arrow(ax, (5.2, 5.35), (5.2, 4.65), label=f"(B, {h}, T, {d})")
    _box(ax, 5.2, 4.3, 3.6, 0.7, "merge: transpose(1, 2)", COLOURS["norm"], fontsize=8.5, gid="merge-transpose")
    _arrow(ax, (5.2, 3.95), (5.2, 3.25), label=f"(B, T, {h}, {d})")
    _box(ax, 5.2, 2.9, 3.6, 0.7, f"reshape(B, T, {H}): heads side by side", COLOURS["norm"], fontsize=8.5,
         gid="merge-reshape")
    _arrow(ax, (5.2, 2.55), (5.2, 1.85), label=f"(B, T, {H})")
    _box(ax, 5.2, 1.5, 3.6, 0.7, f"out: Linear {H} → {H}, mixes the heads", COLOURS["attention"], fontsize=8.5,
         gid="out-linear")
    _arrow(ax, (5.2, 1.15), (5.2, 0.65), label=f"(B, T, {H})")
    _box(ax, 5.2, 0.35, 2.6, 0.5, f"output (B, T, {H})", COLOURS["input"], fontsize=8.5, gid="output")
    # One token's query vector, cut into h blocks of d features: what view(B, T, h, d) does.
    x0, width = 9.9, 1.9
    ax.text(x0 + width / 2, 10.75, f"one token's query:\n{H} features =\n{h} heads × {d}", ha="center",
            va="bottom", fontsize=8)
    block = 3.6 / h
    # Shades of viridis, perceptually uniform and readable with any colour vision; white lines part the blocks.
    shades = [plt.cm.viridis(0.35 + 0.65 * i / max(1, h - 1)) for i in range(h)]
    for i in range(h):
        patch = plt.Rectangle((x0, 10.4 - (i + 1) * block), width, block, facecolor=shades[i],
                              edgecolor="white", linewidth=0.8)
        patch.set_gid(f"head-block:{i}")
        ax.add_patch(patch)
    ax.text(x0 + width / 2, 10.4 - block / 2, "head 0", ha="center", va="center", fontsize=7, color="white")
    ax.text(x0 + width / 2, 10.4 - (h - 0.5) * block, f"head {h - 1}", ha="center", va="center", fontsize=7)
    kind = "" if g == h else (", multi-query" if g == 1 else f", {g} key/value heads")
    ax.set_title(f"Multi-head self-attention: H = {H}, {h} heads of d = {d}{kind}", fontsize=12)
    return fig


def _residual(ax, x_from, y_from, x_side, x_to, y_to, label="residual"):
    """A grey residual path: from (x_from, y_from) out to x_side, down to y_to, into (x_to, y_to)."""
    ax.plot([x_from, x_side, x_side], [y_from, y_from, y_to], color="#888", linewidth=1.1)
    patch = _arrow(ax, (x_side, y_to), (x_to, y_to), colour="#888", gid="residual")
    ax.text(x_side - 0.12, (y_from + y_to) / 2, label, fontsize=8, color="#666", rotation=90, va="center",
            ha="right")
    return patch


def draw_encoder_block(config: Any, axes: Any = None) -> plt.Figure:
    """One encoder layer, post-LN (BERT) beside pre-LN, with the tensor shapes of the config."""
    s = Sizes.of(config)
    H, I, h = s.hidden, s.intermediate, s.heads
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(12, 9))
        fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.88, wspace=0.05)
    fig = axes[0].figure
    shape = f"(B, T, {H})"
    attention = f"multi-head self-attention\n{h} heads (chapter 04)"
    ffn = f"feed-forward\nLinear {H} → {I}, {s.act.upper()}, Linear {I} → {H}"
    for ax, wiring in zip(axes, ("post", "pre")):
        ax.set_xlim(0, 10)
        ax.set_ylim(0, 13)
        ax.axis("off")
        cx = 5.6
        _box(ax, cx, 12.4, 3.0, 0.6, f"x {shape}", COLOURS["input"], gid=f"{wiring}:input")
        if wiring == "post":
            # x -> attention -> add -> LN -> FFN -> add -> LN
            steps = [("attention", attention, COLOURS["attention"], 10.9, 0.9),
                     ("add-1", "dropout, then + (add)", COLOURS["norm"], 9.3, 0.6),
                     ("norm-1", "LayerNorm", COLOURS["norm"], 8.0, 0.6),
                     ("ffn", ffn, COLOURS["ffn"], 6.4, 0.9),
                     ("add-2", "dropout, then + (add)", COLOURS["norm"], 4.8, 0.6),
                     ("norm-2", "LayerNorm", COLOURS["norm"], 3.5, 0.6)]
            residuals = [(11.95, 9.3), (7.55, 4.8)]  # from each sublayer's input to its add
            title = "post-LN (BERT): LayerNorm after each addition"
            formula = "h = LN(x + Attention(x))\ny = LN(h + FFN(h))"
        else:
            # x -> LN -> attention -> add -> LN -> FFN -> add
            steps = [("norm-1", "LayerNorm", COLOURS["norm"], 11.2, 0.6),
                     ("attention", attention, COLOURS["attention"], 9.8, 0.9),
                     ("add-1", "dropout, then + (add)", COLOURS["norm"], 8.2, 0.6),
                     ("norm-2", "LayerNorm", COLOURS["norm"], 6.9, 0.6),
                     ("ffn", ffn, COLOURS["ffn"], 5.5, 0.9),
                     ("add-2", "dropout, then + (add)", COLOURS["norm"], 3.9, 0.6)]
            residuals = [(11.95, 8.2), (7.65, 3.9)]
            title = "pre-LN (GPT-2 and most later models):\nLayerNorm on each sublayer's input"
            formula = "h = x + Attention(LN(x))\ny = h + FFN(LN(h))\n(one more LayerNorm after the last layer)"
        previous = 12.1
        for name, text, colour, y, height in steps:
            _arrow(ax, (cx, previous), (cx, y + height / 2), label=shape, gid=f"{wiring}:to-{name}")
            _box(ax, cx, y, 5.0 if name == "ffn" else 3.6, height, text, colour, fontsize=8.5,
                 gid=f"{wiring}:{name}")
            previous = y - height / 2
        for y_from, y_to in residuals:
            _residual(ax, cx, y_from, 1.55, cx - 1.8, y_to)
        _arrow(ax, (cx, previous), (cx, 2.35), label=shape, gid=f"{wiring}:to-output")
        _box(ax, cx, 2.05, 3.0, 0.6, f"y {shape}", COLOURS["input"], gid=f"{wiring}:output")
        ax.text(cx, 0.85, formula, ha="center", va="center", fontsize=9, family="monospace")
        ax.set_title(title, fontsize=11)
    fig.suptitle(f"One encoder layer, two wirings of the same weights (H = {H}, I = {I})", fontsize=12)
    return fig


def draw_mlm_head(config: Any, ax: plt.Axes | None = None) -> plt.Figure:
    """BERT for masked language modelling: the MLM head on the encoder, its decoder tied to the word embeddings."""
    s = Sizes.of(config)
    H, V = s.hidden, s.vocab
    counts = parameter_counts(config)
    fig, ax = _new_axes(ax, (10.5, 10), (0, 11), (0, 12.6))
    cx = 5.0
    _box(ax, cx, 12.0, 4.2, 0.6, "masked input_ids (B, T)", COLOURS["input"], gid="input")
    _arrow(ax, (cx, 11.7), (cx, 11.15), label="(B, T)")
    _box(ax, cx, 10.7, 4.6, 0.9, f"word embeddings E\ntable ({V} × {H}): row x_t for every token",
         COLOURS["embedding"], fontsize=8.5, gid="word-embeddings")
    _arrow(ax, (cx, 10.25), (cx, 9.6), label=f"(B, T, {H})")
    _box(ax, cx, 9.3, 4.6, 0.6, "+ position, + segment, LayerNorm (chapter 02)", COLOURS["norm"], fontsize=8.5,
         gid="embedding-rest")
    _arrow(ax, (cx, 9.0), (cx, 8.35), label=f"(B, T, {H})")
    _box(ax, cx, 7.9, 4.6, 0.9, f"encoder: {s.layers} layers (chapters 03-06)", COLOURS["frame"], gid="encoder")
    _arrow(ax, (cx, 7.45), (cx, 6.8), label=f"h (B, T, {H})")
    # The head.
    ax.add_patch(FancyBboxPatch((2.2, 1.95), 5.6, 4.65, boxstyle="round,pad=0.02,rounding_size=0.2",
                                linewidth=1.3, edgecolor="#a0304e", facecolor="none", linestyle="--",
                                gid="frame:mlm-head"))
    ax.text(7.7, 6.45, f"MLM head: {counts['mlm_head']:,} parameters of its own", fontsize=8, color="#a0304e",
            ha="right", va="top", style="italic")
    _box(ax, cx, 5.75, 4.6, 0.7, f"dense: Linear {H} → {H}, {s.act.upper()}", COLOURS["head"], fontsize=8.5,
         gid="dense")
    _arrow(ax, (cx, 5.4), (cx, 4.9), label=f"(B, T, {H})")
    _box(ax, cx, 4.6, 4.6, 0.6, "LayerNorm", COLOURS["norm"], fontsize=8.5, gid="head-norm")
    _arrow(ax, (cx, 4.3), (cx, 3.8), label=f"u (B, T, {H})")
    _box(ax, cx, 3.3, 4.6, 1.0, f"decoder: u Eᵀ + b\nweight = E ({V} × {H}), the same tensor\nbias b ({V},): the head's own",
         COLOURS["head"], fontsize=8.5, gid="decoder")
    _arrow(ax, (cx, 2.8), (cx, 1.55), label=f"logits (B, T, {V})")
    _box(ax, cx, 1.2, 5.6, 0.7, "cross-entropy at the masked positions only\n(labels (B, T), -100 elsewhere)",
         COLOURS["input"], fontsize=8.5, gid="loss")
    _arrow(ax, (cx, 0.85), (cx, 0.35))
    ax.text(cx + 0.15, 0.3, "loss (a number)", fontsize=8, family="monospace", color="#1f4e79", va="center")
    # The tie: one tensor, used at the bottom and at the top.
    _arrow(ax, (cx + 2.3, 10.7), (cx + 2.3, 3.3), connection="arc3,rad=-0.35", colour="#a0304e",
           gid="tied", linestyle="--")
    ax.text(9.75, 7.0, f"tied weights:\none ({V} × {H}) tensor,\ntwo uses.\nSaves {V * H:,}\nparameters",
            fontsize=8.5, color="#a0304e", ha="center", va="center")
    ax.set_title(f"BERT for masked language modelling (H = {H}, V = {V})", fontsize=12)
    return fig


def fine_tuning_heads(config: Any, num_labels: int = 2, ax: plt.Axes | None = None) -> plt.Figure:
    """The usual heads put on a pretrained BertModel for fine-tuning, side by side, with their shapes.

    Sequence classification and next-sentence prediction read the pooled [CLS] vector; token
    classification reads every token's last hidden state.
    """
    s = Sizes.of(config)
    H, n = s.hidden, num_labels
    fig, ax = _new_axes(ax, (12, 7), (0, 12), (0.6, 9.2))
    _box(ax, 6.0, 8.6, 5.4, 0.6, "input_ids, token_type_ids, attention_mask (B, T)", COLOURS["input"], gid="input")
    _arrow(ax, (6.0, 8.3), (6.0, 7.75), label="(B, T)")
    _box(ax, 6.0, 7.3, 5.4, 0.9, f"pretrained BertModel\nembeddings, {s.layers} encoder layers",
         COLOURS["frame"], gid="bert")
    _arrow(ax, (4.4, 6.85), (3.0, 6.15), label=f"last_hidden_state[:, 0] (B, {H})", side="left")
    _arrow(ax, (7.6, 6.85), (9.6, 4.45), label=f"last_hidden_state (B, T, {H})")
    _box(ax, 3.0, 5.8, 3.8, 0.7, f"pooler: Linear {H} → {H}, tanh", COLOURS["head"], fontsize=8.5, gid="pooler")
    _arrow(ax, (2.2, 5.45), (1.6, 4.45), label=f"(B, {H})", side="left")
    _arrow(ax, (3.8, 5.45), (4.8, 4.45), label=f"(B, {H})")
    _box(ax, 1.6, 3.9, 2.9, 1.1, f"sequence classification\ndropout, Linear {H} → {n}", COLOURS["head"],
         fontsize=8.5, gid="sequence-classifier")
    _box(ax, 4.9, 3.9, 2.9, 1.1, f"next-sentence prediction\nLinear {H} → 2\n(IsNext, NotNext)", COLOURS["head"],
         fontsize=8.5, gid="next-sentence")
    _box(ax, 9.6, 3.9, 3.4, 1.1, f"token classification\ndropout, Linear {H} → {n}\non every token",
         COLOURS["head"], fontsize=8.5, gid="token-classifier")
    for x, label, gid in ((1.6, f"logits (B, {n})", "sequence"), (4.9, "logits (B, 2)", "nsp"),
                          (9.6, f"logits (B, T, {n})", "token")):
        _arrow(ax, (x, 3.35), (x, 2.55))
        _box(ax, x, 2.2, 2.8 if x < 9 else 3.2, 0.6, label, COLOURS["input"], fontsize=8.5, gid=f"{gid}-logits")
    ax.text(1.6, 1.35, "one label per input\n(sentiment, topic, entailment)", ha="center", va="top", fontsize=8,
            color="#555")
    ax.text(4.9, 1.35, "does B follow A?\n(BERT's second pre-training task)", ha="center", va="top", fontsize=8,
            color="#555")
    ax.text(9.6, 1.35, "one label per token\n(named entities, parts of speech)", ha="center", va="top", fontsize=8,
            color="#555")
    ax.set_title(f"Fine-tuning heads on a pretrained BERT (H = {H}, {n} labels)", fontsize=12)
    return fig

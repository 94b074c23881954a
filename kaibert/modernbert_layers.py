"""Chapter 11: ModernBERT's encoder layer: GeGLU feed-forward, pre-LayerNorm, no biases by default."""

from __future__ import annotations

from torch import Tensor, nn

from kaibert.layers import ACT2FN
from kaibert.modernbert_attention import ModernBertAttention
from kaibert.modernbert_config import ModernBertConfig
from kaibert.modernbert_padding import Packing


class GeGLU(nn.Module):
    """The gated feed-forward of Shazeer (2020): act(x W) * (x V), then back to hidden_size.

    One linear map makes both halves (Wi: H -> 2 I); the second half gates the first, element by
    element, so the layer can switch features off by input, not only by sign as GELU does. At the
    same width I it has 3 H I weights where BERT's feed-forward has 2 H I; ModernBERT-base makes
    I smaller (1152 instead of 3072) to spend the parameters elsewhere.
    """

    def __init__(self, config: ModernBertConfig):
        super().__init__()
        self.Wi = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=config.mlp_bias)
        self.act = ACT2FN[config.hidden_activation]
        self.drop = nn.Dropout(config.mlp_dropout)
        self.Wo = nn.Linear(config.intermediate_size, config.hidden_size, bias=config.mlp_bias)

    def forward(self, x: Tensor) -> Tensor:
        value, gate = self.Wi(x).chunk(2, dim=-1)  # (..., I) each
        return self.Wo(self.drop(self.act(value) * gate))  # (..., H)


def layer_norm(config: ModernBertConfig) -> nn.LayerNorm:
    """A LayerNorm with a scale and, only if norm_bias, a shift (ModernBERT drops the shift)."""
    return nn.LayerNorm(config.hidden_size, eps=config.norm_eps, bias=config.norm_bias)


class ModernBertLayer(nn.Module):
    """A pre-LayerNorm layer: x + attn(norm(x)), then x + mlp(norm(x)).

    BERT's post-LN layer (chapter 05) normalises after each residual addition, so every layer
    rescales the whole residual stream. Pre-LN normalises only what enters each sublayer and leaves
    the stream itself untouched: the gradient has a clean path from the loss to the first layer,
    which lets deep stacks train without the careful warm-up post-LN needs (Xiong et al., 2020).
    Layer 0 has no attention norm: its input is the embeddings, which end in a LayerNorm already.
    """

    def __init__(self, config: ModernBertConfig, layer_index: int):
        super().__init__()
        self.layer_type = config.layer_types[layer_index]
        self.attn_norm = nn.Identity() if layer_index == 0 else layer_norm(config)
        self.attn = ModernBertAttention(config, self.layer_type)
        self.mlp_norm = layer_norm(config)
        self.mlp = GeGLU(config)

    def forward(self, x: Tensor, rope: tuple[Tensor, Tensor], mask=None, packing: Packing | None = None,
                output_attentions: bool = False):
        a, weights = self.attn(self.attn_norm(x), rope, mask, packing, output_attentions)  # like x
        x = x + a  # the residual stream is never normalised in place
        x = x + self.mlp(self.mlp_norm(x))  # (B, T, H) or (N, H)
        return x, weights

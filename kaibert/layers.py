"""Chapter 05: the encoder layer: attention and a feed-forward block, each with residual + LayerNorm."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kaibert.attention import MultiHeadSelfAttention
from kaibert.config import BertConfig


def gelu_tanh(x: Tensor) -> Tensor:
    """The tanh approximation of GELU (what "gelu_new" means in Hugging Face configs)."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


ACT2FN = {
    "gelu": F.gelu,  # exact: x * Phi(x), as in BERT
    "gelu_new": gelu_tanh,
    "gelu_pytorch_tanh": gelu_tanh,
    "relu": F.relu,
    "silu": F.silu,
    "tanh": torch.tanh,
}


class FeedForward(nn.Module):
    """Two linear maps with a GELU between: widen to intermediate_size, then back to hidden_size."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.up = nn.Linear(config.hidden_size, config.intermediate_size)
        self.act = ACT2FN[config.hidden_act]
        self.down = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.down(self.act(self.up(x)))  # (B, T, H) -> (B, T, I) -> (B, T, H)


class EncoderLayer(nn.Module):
    """BERT's post-LayerNorm layer: the norm comes after each residual addition.

    (Pre-LN, used by GPT-2 and most later models, normalises the input of each sublayer instead
    and leaves the residual stream untouched, which trains more stably without warm-up.)
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = MultiHeadSelfAttention(config)
        self.attention_dropout = nn.Dropout(config.hidden_dropout_prob)
        self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.feed_forward = FeedForward(config)
        self.output_dropout = nn.Dropout(config.hidden_dropout_prob)
        self.output_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(
        self, x: Tensor, mask: Tensor | None = None, output_attentions: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        a, weights = self.attention(x, mask, output_attentions)  # (B, T, H)
        h = self.attention_norm(x + self.attention_dropout(a))  # residual, then LayerNorm
        y = self.output_norm(h + self.output_dropout(self.feed_forward(h)))  # (B, T, H)
        return y, weights

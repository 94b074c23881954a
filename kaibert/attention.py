"""Chapters 03 and 04: scaled dot-product attention, padding masks, multi-head self-attention.

Two paths compute the same thing. `scaled_dot_product_attention` below is the readable one and
returns the attention weights (for bertviz and the heatmaps). With
``config.attn_implementation = "sdpa"`` the layer calls PyTorch's fused kernel instead, which is
faster but cannot hand back the weights.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kaibert.config import BertConfig


def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, dropout: nn.Module | None = None
) -> tuple[Tensor, Tensor]:
    """softmax(q k^T / sqrt(d) + mask) v, for q, k, v of shape (B, heads, T, d).

    Dividing by sqrt(d) keeps the scores' spread independent of d, so the softmax does not
    saturate into a one-hot (whose gradient is almost zero) as heads get wider.
    `mask` is additive: 0 where a query may look, a very negative number where it may not.
    """
    d = q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (B, heads, T, T)
    if mask is not None:
        scores = scores + mask  # masked keys get ~ -inf, so exp() makes them 0 below
    weights = scores.softmax(dim=-1)  # (B, heads, T, T), each row sums to 1
    if dropout is not None:
        weights = dropout(weights)
    return weights @ v, weights  # (B, heads, T, d), (B, heads, T, T)


def padding_mask(attention_mask: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """Turn a 0/1 mask of shape (B, T) into the additive (B, 1, 1, T) mask attention adds.

    It is added to the scores before the softmax, so padded keys get zero weight. Applying it
    after the softmax would leave rows that no longer sum to 1.
    """
    keep = attention_mask[:, None, None, :].to(dtype)  # (B, 1, 1, T): broadcast over heads and queries
    return (1.0 - keep) * torch.finfo(dtype).min


class MultiHeadSelfAttention(nn.Module):
    """Every head attends in its own subspace of size head_dim; the out projection mixes them.

    With num_key_value_heads < num_attention_heads, groups of query heads share one key/value
    head (grouped-query attention; with 1 it is multi-query attention), which shrinks the keys
    and values a decoder must cache.
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        self.n_heads = config.num_attention_heads
        self.n_kv_heads = config.num_key_value_heads
        self.head_dim = config.head_dim
        self.implementation = config.attn_implementation
        self.query = nn.Linear(config.hidden_size, self.n_heads * self.head_dim)
        self.key = nn.Linear(config.hidden_size, self.n_kv_heads * self.head_dim)
        self.value = nn.Linear(config.hidden_size, self.n_kv_heads * self.head_dim)
        self.out = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def split_heads(self, x: Tensor, n_heads: int) -> Tensor:
        B, T, _ = x.shape
        return x.view(B, T, n_heads, self.head_dim).transpose(1, 2)  # (B, heads, T, d)

    def forward(
        self, x: Tensor, mask: Tensor | None = None, output_attentions: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        B, T, H = x.shape
        q = self.split_heads(self.query(x), self.n_heads)  # (B, heads, T, d)
        k = self.split_heads(self.key(x), self.n_kv_heads)  # (B, kv_heads, T, d)
        v = self.split_heads(self.value(x), self.n_kv_heads)  # (B, kv_heads, T, d)
        if self.n_kv_heads != self.n_heads:  # each key/value head serves a group of query heads
            group = self.n_heads // self.n_kv_heads
            k = k.repeat_interleave(group, dim=1)  # (B, heads, T, d)
            v = v.repeat_interleave(group, dim=1)
        if self.implementation == "sdpa" and not output_attentions:
            p = self.dropout.p if self.training else 0.0
            y, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p), None
        else:
            y, weights = scaled_dot_product_attention(q, k, v, mask, self.dropout)
        y = y.transpose(1, 2).reshape(B, T, H)  # (B, T, H): heads side by side again
        return self.out(y), weights

"""Chapter 11: ModernBERT's attention: rotary positions (RoPE), local windows, and packed sequences.

BERT adds a learned position vector to each token once, at the bottom. RoPE (Su et al., 2021)
instead rotates every query and key, in every layer, by an angle proportional to the token's
position. The score q_i . k_j then depends on the positions only through i - j: attention sees
how far apart two tokens are, not where they are, and no table of positions runs out.

ModernBERT's local layers let each token attend only to the tokens within `window` positions of it
(a band around the diagonal); one layer in three is global and sees everything (Warner et al., 2024).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kaibert.attention import scaled_dot_product_attention
from kaibert.modernbert_config import ModernBertConfig
from kaibert.modernbert_padding import Packing


class RotaryEmbedding(nn.Module):
    """cos and sin of the rotation angles position * frequency, for the pairs of a head's dimensions.

    Pair f turns at frequency theta^(-2f / d): the first pairs turn fast and tell near positions
    apart, the last turn slowly and still differ across thousands of tokens. A larger theta slows
    every pair down, which is why ModernBERT's global layers, meant for long distances, use
    160,000 where its local layers keep the classic 10,000.
    """

    def __init__(self, head_dim: int, theta: float):
        super().__init__()
        inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float) / head_dim))  # (d/2,)
        self.register_buffer("inv_freq", inv_freq, persistent=False)  # computed, never saved

    def forward(self, positions: Tensor) -> tuple[Tensor, Tensor]:
        angles = positions[..., None].float() * self.inv_freq  # (..., d/2)
        angles = torch.cat((angles, angles), dim=-1)  # (..., d): pair f is dimensions f and f + d/2
        return angles.cos(), angles.sin()


def rotate_half(x: Tensor) -> Tensor:
    """(x1, x2) -> (-x2, x1) on the two halves of the last dimension: a 90-degree turn of each pair."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate each pair (x[f], x[f + d/2]) of x by its angle: x cos + rotate_half(x) sin.

    The pairs are the two halves of the head (the layout of Hugging Face's checkpoints), not
    neighbouring dimensions as in the RoPE paper; both are rotations, but a checkpoint only works
    with the layout it was trained with.
    """
    return x * cos + rotate_half(x) * sin


def sliding_window_mask(positions: Tensor, window: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """The additive (T, T) mask of a local layer: 0 where |i - j| <= window, very negative elsewhere."""
    distance = (positions[:, None] - positions[None, :]).abs()  # (T, T)
    return torch.zeros(distance.shape, dtype=dtype, device=positions.device).masked_fill(
        distance > window, torch.finfo(dtype).min)


class ModernBertAttention(nn.Module):
    """Multi-head self-attention with one fused Q/K/V projection, RoPE, and an optional local window.

    It takes either a padded batch (B, T, H) with an additive mask, as in chapter 03, or the packed
    real tokens (N, H) with their `Packing`, attending within each sequence only. Both give the
    same numbers for the real tokens.
    """

    def __init__(self, config: ModernBertConfig, layer_type: str):
        super().__init__()
        self.n_heads = config.num_attention_heads
        self.head_dim = config.head_dim
        self.implementation = config.attn_implementation
        self.dropout_p = config.attention_dropout
        self.local = layer_type == "sliding_attention"
        # One matrix for queries, keys and values: one matmul instead of three (names as in transformers).
        self.Wqkv = nn.Linear(config.hidden_size, 3 * config.hidden_size, bias=config.attention_bias)
        self.Wo = nn.Linear(config.hidden_size, config.hidden_size, bias=config.attention_bias)
        self.out_drop = nn.Dropout(config.attention_dropout)

    def forward(self, x: Tensor, rope: tuple[Tensor, Tensor], mask: Tensor | list[Tensor | None] | None = None,
                packing: Packing | None = None, output_attentions: bool = False):
        """x (B, T, H) with mask (B, 1, T, T) or (B, 1, 1, T) or None; or x (N, H) with packing and a
        list of per-sequence masks (L_b, L_b) or None. Returns the output, shaped like x, and the weights."""
        qkv = self.Wqkv(x).view(*x.shape[:-1], 3, self.n_heads, self.head_dim)  # (..., 3, heads, d)
        q, k, v = qkv.unbind(dim=-3)  # each (B, T, heads, d) or (N, heads, d)
        cos, sin = (t.unsqueeze(-2) for t in rope)  # (..., 1, d): the same angle for every head
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if packing is None:
            y, weights = self.attend(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), mask, output_attentions)
            y = y.transpose(1, 2)  # (B, T, heads, d)
        else:
            y, weights = self.attend_packed(q, k, v, packing, mask, output_attentions)  # (N, heads, d)
        y = y.flatten(-2)  # (..., H): heads side by side again
        return self.out_drop(self.Wo(y)), weights

    def attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, output_attentions: bool):
        """Attention of chapter 03 on (..., heads, T, d), or PyTorch's fused kernel when no weights are wanted."""
        p = self.dropout_p if self.training else 0.0
        if self.implementation == "sdpa" and not output_attentions:
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p), None
        dropout = nn.Dropout(p) if p > 0 else None
        return scaled_dot_product_attention(q, k, v, mask, dropout)

    def attend_packed(self, q: Tensor, k: Tensor, v: Tensor, packing: Packing, masks: list[Tensor | None] | None,
                      output_attentions: bool):
        """Each sequence attends to itself only: rows start:end of q, k, v, one sequence at a time.

        On a GPU, flash attention's variable-length kernel does this loop inside one kernel, reading
        the same cu_seqlens. Here a Python loop over the batch does it, which costs a little per
        sequence but never computes a score between two different sequences or with padding.
        """
        lengths = packing.lengths
        outputs, weights = [], []
        # split, not slicing: its backward is one concatenation, not one zero-filled copy per sequence
        for b, (qb, kb, vb) in enumerate(zip(q.split(lengths), k.split(lengths), v.split(lengths))):
            # (1, heads, L_b, d): a batch of one, the 4-d shape PyTorch's fused CPU kernel takes
            qb, kb, vb = qb.transpose(0, 1)[None], kb.transpose(0, 1)[None], vb.transpose(0, 1)[None]
            mask = None if masks is None else masks[b]  # (L_b, L_b) for a local layer, else None
            yb, wb = self.attend(qb, kb, vb, mask, output_attentions)  # (1, heads, L_b, d)
            outputs.append(yb[0].transpose(0, 1))  # (L_b, heads, d)
            weights.append(None if wb is None else wb[0])  # (heads, L_b, L_b)
        return torch.cat(outputs), (weights if output_attentions else None)  # (N, heads, d)

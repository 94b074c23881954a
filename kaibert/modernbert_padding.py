"""Chapter 11: unpadding. Pack the real tokens of a padded batch into one row, and put them back.

A padded batch of shape (B, T) spends every linear layer's work on padding too. ModernBERT drops
the padding once, before the first layer: the N real tokens are packed into a (N, H) tensor, every
per-token operation (embeddings, LayerNorms, the feed-forward, the Q/K/V and output projections)
runs on N rows instead of B * T, and only attention needs to know where one sequence ends and the
next begins. That is what the cumulative lengths `cu_seqlens` say: sequence b occupies rows
cu_seqlens[b] : cu_seqlens[b + 1] of the packed tensor (Portes et al., 2023; Warner et al., 2024).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class Packing:
    """Where each packed row came from, and where each sequence's rows are."""

    indices: Tensor  # (N,): row i of the packed tensor is token indices[i] of the flattened (B * T) batch
    cu_seqlens: Tensor  # (B + 1,): 0, len_0, len_0 + len_1, ..., N
    positions: Tensor  # (N,): each packed token's column in the padded batch, for RoPE and the window
    batch_size: int
    seq_len: int

    @property
    def lengths(self) -> list[int]:
        return (self.cu_seqlens[1:] - self.cu_seqlens[:-1]).tolist()

    def sequences(self) -> list[tuple[int, int]]:
        """The (start, end) rows of each sequence, in batch order."""
        bounds = self.cu_seqlens.tolist()
        return list(zip(bounds[:-1], bounds[1:]))


def packing_of(attention_mask: Tensor) -> Packing:
    """Read the packing from a (B, T) 0/1 mask; 1 marks a real token."""
    B, T = attention_mask.shape
    keep = attention_mask.bool()  # (B, T)
    indices = keep.flatten().nonzero().squeeze(1)  # (N,), in row-major order: sequence 0 first
    lengths = keep.sum(dim=1)  # (B,)
    cu_seqlens = torch.zeros(B + 1, dtype=torch.int32, device=attention_mask.device)
    cu_seqlens[1:] = lengths.cumsum(0)
    positions = indices % T  # (N,): the column of each real token
    return Packing(indices, cu_seqlens, positions, B, T)


def unpad(x: Tensor, packing: Packing) -> Tensor:
    """(B, T, ...) -> (N, ...): keep the real tokens only, one after another."""
    return x.flatten(0, 1)[packing.indices]


def repad(packed: Tensor, packing: Packing) -> Tensor:
    """(N, ...) -> (B, T, ...): each real token back in its place, zeros where the padding was."""
    B, T = packing.batch_size, packing.seq_len
    out = packed.new_zeros(B * T, *packed.shape[1:])
    out = out.index_copy(0, packing.indices, packed)  # differentiable, unlike out[indices] = packed
    return out.view(B, T, *packed.shape[1:])


def repad_attention(weights: list[Tensor], packing: Packing) -> Tensor:
    """Per-sequence weights, each (heads, L_b, L_b), -> one (B, heads, T, T) map, zeros for padding."""
    B, T = packing.batch_size, packing.seq_len
    heads = weights[0].size(0)
    out = weights[0].new_zeros(B, heads, T, T)
    for b, ((start, end), w) in enumerate(zip(packing.sequences(), weights)):
        cols = packing.positions[start:end]  # (L_b,): where this sequence's tokens sit
        out[b, :, cols[:, None], cols[None, :]] = w
    return out

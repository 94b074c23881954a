"""Chapter 02: a token's vector is the sum of what it is, where it is, and which segment it is in."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from kaibert.config import BertConfig


class BertEmbeddings(nn.Module):
    """word + position + segment embeddings, then LayerNorm and dropout.

    Attention alone cannot see order, so BERT adds a learned vector per position; the segment
    (token type) vector tells sentence A from sentence B in a pair.
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor | None = None) -> Tensor:
        B, T = input_ids.shape
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        position_ids = torch.arange(T, device=input_ids.device)  # (T,), the same for every sequence
        x = (
            self.word_embeddings(input_ids)  # (B, T, H)
            + self.position_embeddings(position_ids)  # (T, H), broadcast over the batch
            + self.token_type_embeddings(token_type_ids)  # (B, T, H)
        )
        return self.dropout(self.layer_norm(x))  # (B, T, H)

"""The model's boundary: inputs are checked once, here, before any layer sees them.

A wrong input deep inside BERT either crashes with an index error far from its cause or, worse,
gives numbers that look fine (a mask of the wrong shape broadcasts). ``BertModel.forward`` calls
``check_inputs`` first, so every head built on it gets the same clear messages.
"""

from __future__ import annotations

import torch
from torch import Tensor

from kaibert.config import BertConfig


def check_inputs(config: BertConfig, input_ids: Tensor, attention_mask: Tensor | None,
                 token_type_ids: Tensor | None) -> None:
    """Catch the inputs that would otherwise crash deep inside, or silently give wrong numbers."""
    if not isinstance(input_ids, Tensor):
        raise ValueError(
            f"input_ids must be an integer tensor of token ids, shape (batch, seq_len), got "
            f"{type(input_ids).__name__}. Use torch.tensor([ids]) or the tokenizer's return_tensors='pt'."
        )
    if input_ids.is_floating_point() or input_ids.is_complex() or input_ids.dtype == torch.bool:
        raise ValueError(
            f"input_ids must be an integer tensor of token ids, got dtype {input_ids.dtype}. "
            "Token ids index the embedding table: convert with input_ids.long()."
        )
    if input_ids.dim() != 2:
        raise ValueError(
            f"input_ids must be an integer tensor of shape (batch, seq_len), got {tuple(input_ids.shape)}. "
            "For one sequence use input_ids.unsqueeze(0); the tokenizer's return_tensors='pt' gives this shape."
        )
    if input_ids.size(1) == 0:
        raise ValueError(
            f"input_ids is empty: shape {tuple(input_ids.shape)} has no tokens to read. Give at least "
            "one token per sequence ([CLS] and [SEP] at least: the tokenizer adds them)."
        )
    T = input_ids.size(1)
    if T > config.max_position_embeddings:
        raise ValueError(
            f"Sequence length {T} is longer than max_position_embeddings "
            f"({config.max_position_embeddings}): there is no position embedding for it. "
            f"Truncate the input, e.g. tokenizer(..., truncation=True, max_length={config.max_position_embeddings})."
        )
    if input_ids.numel():
        lowest, highest = int(input_ids.min()), int(input_ids.max())
        bad = highest if highest >= config.vocab_size else lowest if lowest < 0 else None
        if bad is not None:
            raise ValueError(
                f"input_ids hold token id {bad}, outside the vocabulary [0, {config.vocab_size}). "
                "Was the text tokenized with this model's own vocabulary?"
            )
    for name, extra in (("attention_mask", attention_mask), ("token_type_ids", token_type_ids)):
        if extra is not None and tuple(extra.shape) != tuple(input_ids.shape):
            raise ValueError(
                f"{name} has shape {tuple(extra.shape)} but input_ids has shape {tuple(input_ids.shape)}; "
                f"they must match, one entry per token."
            )
    if token_type_ids is not None and token_type_ids.numel() and (
        token_type_ids.min() < 0 or token_type_ids.max() >= config.type_vocab_size
    ):
        raise ValueError(
            f"token_type_ids must be in [0, {config.type_vocab_size}) (one id per segment), "
            f"got values up to {int(token_type_ids.max())}."
        )

"""Small helpers the parity tests share: build a transformers twin of a kaibert config."""

from __future__ import annotations

import torch

from kaibert import BertConfig


def hf_config(config: BertConfig):
    import transformers

    data = {k: v for k, v in config.to_dict().items() if k not in ("num_key_value_heads", "attn_implementation")}
    return transformers.BertConfig(**data, attn_implementation="eager")


def batch(config: BertConfig, B: int = 3, T: int = 11, seed: int = 0):
    """Token ids with padding at the end of some rows and two segments."""
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(1, config.vocab_size, (B, T), generator=g)
    attention_mask = torch.ones(B, T, dtype=torch.long)
    for row in range(1, B):
        attention_mask[row, T - 2 * row:] = 0
    input_ids[attention_mask == 0] = config.pad_token_id
    token_type_ids = torch.zeros(B, T, dtype=torch.long)
    token_type_ids[:, T // 2:] = min(1, config.type_vocab_size - 1)
    return input_ids, attention_mask, token_type_ids


def max_diff(a, b) -> float:
    return (a - b).abs().max().item()

"""Masked batches for training and evaluation: the batch of step ``s`` is a function of ``(seed, s)``.

Which blocks (a seeded permutation per pass over the data, ``kaibert.run.StepBatches``) and
which tokens get masked (a generator seeded per step) depend on the seed and the step alone.
That is what lets a stopped run resume exactly, and what lets several processes each take their
share of the same batch.
"""

from __future__ import annotations

from typing import Callable

import torch

from kaibert.mlm import MaskingCollator
from kaibert.run.batches import FixedBatches, StepBatches


def make_collator(vocab_size: int, special_ids: dict, mlm_probability: float = 0.15,
                  seed: int | None = None) -> MaskingCollator:
    """kaibert's 80/10/10 masking collator for a vocabulary given by its special token ids."""
    return MaskingCollator.from_ids(
        vocab_size=vocab_size,
        mask_token_id=special_ids["mask"],
        pad_token_id=special_ids["pad"],
        special_token_ids=sorted(set(special_ids.values())),
        mlm_probability=mlm_probability,
        seed=seed,
    )


def special_token_ids(tokenizer) -> dict:
    """``{"pad": .., "unk": .., "cls": .., "sep": .., "mask": ..}`` from a fast or kaibert tokenizer."""
    names = {"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]"}
    if hasattr(tokenizer, "token_to_id"):  # a `tokenizers` tokenizer
        ids = {key: tokenizer.token_to_id(tok) for key, tok in names.items()}
    else:  # kaibert.BertTokenizer
        ids = {key: tokenizer.convert_tokens_to_ids(tok) for key, tok in names.items()}
    missing = [names[key] for key, value in ids.items() if value is None]
    if missing:
        raise ValueError(f"the vocabulary has no {missing}; BERT needs all of {list(names.values())}")
    return ids


class MaskedBatches(StepBatches):
    """Masked batches for steps ``start, start + 1, ..., total_steps - 1``, each a function of the step.

    ``blocks`` is a sequence of examples (dicts with ``input_ids``). Which blocks make a step's
    batch is ``StepBatches``'s seeded order (a permutation per pass, seeded with ``seed + p``);
    the masking of step ``s`` uses a generator seeded with ``seed * 1_000_003 + s``. With several
    processes, ``batch_size`` is the global batch and each process keeps its share of it.
    ``keys``: the tensors to keep (the ones the model's forward takes); None keeps all.
    """

    def __init__(self, blocks, batch_size: int, total_steps: int, vocab_size: int,
                 special_ids: dict, mlm_probability: float = 0.15, seed: int = 0,
                 start: int | Callable[[], int] = 0, shuffle: bool = True,
                 rank: int = 0, world_size: int = 1, keys: tuple[str, ...] | None = None):
        super().__init__(blocks, batch_size, total_steps, seed=seed, start=start, shuffle=shuffle,
                         rank=rank, world_size=world_size)
        self.vocab_size, self.special_ids, self.mlm_probability = vocab_size, special_ids, mlm_probability
        self.keys = keys

    def collate(self, rows: list, step: int) -> dict[str, torch.Tensor]:
        """Mask the blocks of one step: (batch_size, T) input_ids, attention_mask and labels."""
        examples = [{"input_ids": list(row["input_ids"])} for row in rows]
        masking = make_collator(self.vocab_size, self.special_ids, self.mlm_probability,
                                seed=self.seed * 1_000_003 + step)
        batch = masking(examples)
        return batch if self.keys is None else {k: v for k, v in batch.items() if k in self.keys}


def eval_batches(blocks, batch_size: int, vocab_size: int, special_ids: dict,
                 mlm_probability: float = 0.15, seed: int = 1234,
                 max_batches: int | None = None, keys: tuple[str, ...] | None = None) -> FixedBatches:
    """Fixed masked batches over held-out blocks, in order: the same tokens masked at every evaluation."""
    steps = len(blocks) // batch_size
    if max_batches is not None:
        steps = min(steps, max_batches)
    loader = MaskedBatches(blocks, batch_size, steps, vocab_size, special_ids, mlm_probability,
                           seed=seed, shuffle=False, keys=keys)
    return FixedBatches(list(loader))

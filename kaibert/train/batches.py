"""Masked batches for training and evaluation: the batch of step ``s`` is a function of ``(seed, s)``.

Which blocks (a seeded permutation per pass over the data) and which tokens get masked (a
generator seeded per step) depend on the seed and the step alone. That is what lets a stopped
run resume exactly, and what lets several processes each take their share of the same batch.
"""

from __future__ import annotations

from typing import Callable, Iterator

import torch

from kaibert.mlm import MaskingCollator


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


class MaskedBatches:
    """Masked batches for steps ``start, start + 1, ..., total_steps - 1``, each a function of the step.

    ``blocks`` is a sequence of examples (dicts with ``input_ids``). Pass ``p`` over the data uses
    the permutation ``randperm(len(blocks))`` seeded with ``seed + p``; the masking of step ``s``
    uses a generator seeded with ``seed * 1_000_003 + s``. ``start`` may be a callable, read when
    iteration begins: Lightning passes the restored global step, so a resumed run continues with
    exactly the batch it would have seen next.

    With several processes (``world_size`` > 1), ``batch_size`` is the *global* batch: every
    process builds and masks the same global batch of step ``s`` and keeps its own share, rows
    ``rank * batch_size / world_size`` onwards. One process or eight see the same data, step by step.
    """

    def __init__(self, blocks, batch_size: int, total_steps: int, vocab_size: int,
                 special_ids: dict, mlm_probability: float = 0.15, seed: int = 0,
                 start: int | Callable[[], int] = 0, shuffle: bool = True,
                 rank: int = 0, world_size: int = 1):
        if len(blocks) < batch_size:
            raise ValueError(f"{len(blocks)} blocks cannot fill one batch of {batch_size}; "
                             "use a smaller batch_size or more text")
        self.blocks, self.batch_size, self.total_steps = blocks, batch_size, total_steps
        self.vocab_size, self.special_ids = vocab_size, special_ids
        self.mlm_probability, self.seed, self.start, self.shuffle = mlm_probability, seed, start, shuffle
        self.steps_per_pass = len(blocks) // batch_size
        self._order: tuple[int, torch.Tensor] | None = None
        self.set_share(rank, world_size)

    def set_share(self, rank: int, world_size: int) -> None:
        """Keep the rows of process ``rank`` out of ``world_size`` (Lightning calls it at the start)."""
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not one of {world_size} processes")
        if self.batch_size % world_size:
            raise ValueError(f"a global batch of {self.batch_size} blocks cannot be shared equally by "
                             f"{world_size} processes; make data.batch_size a multiple of {world_size}")
        self.rank, self.world_size = rank, world_size

    def __len__(self) -> int:
        return self.total_steps

    def _indices(self, step: int) -> list[int]:
        data_pass, offset = divmod(step, self.steps_per_pass)
        if not self.shuffle:
            order = torch.arange(len(self.blocks))
        else:
            if self._order is None or self._order[0] != data_pass:
                g = torch.Generator().manual_seed(self.seed + data_pass)
                self._order = (data_pass, torch.randperm(len(self.blocks), generator=g))
            order = self._order[1]
        return order[offset * self.batch_size:(offset + 1) * self.batch_size].tolist()

    def global_batch(self, step: int) -> dict[str, torch.Tensor]:
        """The masked batch of one step, all of it: (batch_size, T) tensors."""
        examples = [{"input_ids": list(self.blocks[i]["input_ids"])} for i in self._indices(step)]
        collate = make_collator(self.vocab_size, self.special_ids, self.mlm_probability,
                                seed=self.seed * 1_000_003 + step)
        return collate(examples)

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        """This process's share of the masked batch of one step: (batch_size / world_size, T) tensors."""
        batch = self.global_batch(step)
        if self.world_size == 1:
            return batch
        rows = self.batch_size // self.world_size
        return {k: v[self.rank * rows:(self.rank + 1) * rows] for k, v in batch.items()}

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        start = self.start() if callable(self.start) else self.start
        for step in range(start, self.total_steps):
            yield self.batch(step)

    # Lightning treats a loader with these two methods as resumable mid-epoch; the position is
    # taken from the restored global step instead (see ``start``).
    def state_dict(self) -> dict:
        return {"seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        if state.get("seed", self.seed) != self.seed:
            raise ValueError(f"checkpoint was trained with data seed {state['seed']}, "
                             f"this run uses {self.seed}; resume with the same config")


class FixedBatches:
    """A fixed list of batches that can be iterated again and again (a validation set)."""

    def __init__(self, batches: list[dict[str, torch.Tensor]]):
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        return iter(self.batches)


def eval_batches(blocks, batch_size: int, vocab_size: int, special_ids: dict,
                 mlm_probability: float = 0.15, seed: int = 1234,
                 max_batches: int | None = None) -> FixedBatches:
    """Fixed masked batches over held-out blocks, in order: the same tokens masked at every evaluation."""
    steps = len(blocks) // batch_size
    if max_batches is not None:
        steps = min(steps, max_batches)
    loader = MaskedBatches(blocks, batch_size, steps, vocab_size, special_ids, mlm_probability,
                           seed=seed, shuffle=False)
    return FixedBatches(list(loader))

"""Training batches indexed by the step: the batch of step ``s`` is a function of ``(seed, s)``.

That is what lets a stopped run resume exactly (start at the restored step), and what lets
several processes each take their share of the same global batch. A run's loader subclasses
``StepBatches`` and says only how rows become a batch (``collate``): masking for MLM training,
padding for fine-tuning.
"""

from __future__ import annotations

from typing import Callable, Iterator

import torch


class StepBatches:
    """Batches for steps ``start, start + 1, ..., total_steps - 1``, each a function of the step.

    ``examples`` is a sequence of rows. Pass ``p`` over the data uses the permutation
    ``randperm(len(examples))`` seeded with ``seed + p``. ``start`` may be a callable read when
    iteration begins; ``kaibert.run.FollowTheStep`` sets it to the restored global step, so a
    resumed run continues with exactly the batch it would have seen next.

    With several processes (``world_size`` > 1), ``batch_size`` is the *global* batch: every
    process builds the same global batch of step ``s`` and keeps its own share, rows
    ``rank * batch_size / world_size`` onwards. One process or eight see the same data, step by step.
    """

    def __init__(self, examples, batch_size: int, total_steps: int, seed: int = 0,
                 start: int | Callable[[], int] = 0, shuffle: bool = True,
                 rank: int = 0, world_size: int = 1):
        if len(examples) < batch_size:
            raise ValueError(f"{len(examples)} training examples cannot fill one batch of "
                             f"{batch_size}; use a smaller batch_size or more data")
        self.examples, self.batch_size, self.total_steps = examples, batch_size, total_steps
        self.seed, self.start, self.shuffle = seed, start, shuffle
        self.steps_per_pass = len(examples) // batch_size
        self._order: tuple[int, torch.Tensor] | None = None
        self.set_share(rank, world_size)

    def collate(self, rows: list, step: int) -> dict[str, torch.Tensor]:
        """The rows of one step as a batch of tensors; each kind of run says how."""
        raise NotImplementedError(f"{type(self).__name__} must define collate(rows, step)")

    def set_share(self, rank: int, world_size: int) -> None:
        """Keep the rows of process ``rank`` out of ``world_size`` (FollowTheStep calls it)."""
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not one of {world_size} processes")
        if self.batch_size % world_size:
            raise ValueError(f"a global batch of {self.batch_size} cannot be shared equally by "
                             f"{world_size} processes; make the batch size a multiple of {world_size}")
        self.rank, self.world_size = rank, world_size

    def __len__(self) -> int:
        return self.total_steps

    def indices(self, step: int) -> list[int]:
        """Which examples make the global batch of ``step``."""
        data_pass, offset = divmod(step, self.steps_per_pass)
        if not self.shuffle:
            order = torch.arange(len(self.examples))
        else:
            if self._order is None or self._order[0] != data_pass:
                g = torch.Generator().manual_seed(self.seed + data_pass)
                self._order = (data_pass, torch.randperm(len(self.examples), generator=g))
            order = self._order[1]
        return order[offset * self.batch_size:(offset + 1) * self.batch_size].tolist()

    def global_batch(self, step: int) -> dict[str, torch.Tensor]:
        """The batch of one step, all of it: (batch_size, ...) tensors."""
        return self.collate([self.examples[i] for i in self.indices(step)], step)

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        """This process's share of the batch of one step: (batch_size / world_size, ...) tensors."""
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

"""A seeded, resumable, sharded batch order: the data position is just (epoch, batch within the epoch).

Epoch ``e`` is a permutation of the dataset drawn from ``seed + e``; it is cut into global batches of
``micro_batch * world_size`` indices (the ragged tail is dropped so every process gets the same number of
batches), and process ``rank`` takes its own ``micro_batch`` slice of each. Resuming only needs the position.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DataPosition:
    """Where the next micro-batch comes from."""

    epoch: int = 0
    batch: int = 0


class ShardedBatchSampler:
    """Yields this process's micro-batches from ``start`` onwards, epoch after epoch, without end.

    Args:
        n: dataset length.
        micro_batch: pairs per process per micro-step.
        rank, world_size: this process and the number of processes.
        seed: base seed of the per-epoch permutations.
        start: the position to resume from.
    """

    def __init__(self, n: int, micro_batch: int, *, rank: int = 0, world_size: int = 1, seed: int = 0,
                 start: DataPosition = DataPosition()):
        global_batch = micro_batch * world_size
        if n < global_batch:
            raise ValueError(f"The manifest has {n} pairs, fewer than one global micro-batch of {global_batch} "
                             f"({micro_batch} per process x {world_size} processes). Lower batch_size.")
        self.n, self.micro_batch, self.rank, self.world_size, self.seed = n, micro_batch, rank, world_size, seed
        self.batches_per_epoch = n // global_batch
        self.position = start

    def order(self, epoch: int) -> list[int]:
        g = torch.Generator().manual_seed(self.seed + epoch)
        return torch.randperm(self.n, generator=g).tolist()

    def __iter__(self) -> Iterator[list[int]]:
        epoch, batch = self.position.epoch, self.position.batch
        while True:
            order = self.order(epoch)
            for b in range(batch, self.batches_per_epoch):
                first = (b * self.world_size + self.rank) * self.micro_batch
                yield order[first:first + self.micro_batch]
            epoch, batch = epoch + 1, 0

    def position_after(self, micro_batches: int) -> DataPosition:
        """The position after ``micro_batches`` more micro-batches from the start position."""
        total = self.position.epoch * self.batches_per_epoch + self.position.batch + micro_batches
        return DataPosition(epoch=total // self.batches_per_epoch, batch=total % self.batches_per_epoch)

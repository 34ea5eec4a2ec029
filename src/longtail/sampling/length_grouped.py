"""Batches of similar length, drawn from an epoch's index stream.

The epoch's index stream (shuffled, or drawn by an imbalance sampler) is cut into mega-batches of
``50 × batch_size``, each sorted by length and sliced into batches, and the batch order shuffled:
little padding, and still a new random order every epoch (seeded by
:func:`longtail.sampling.base.epoch_generator`, the one seeding rule of every epoch's order).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Sampler

from longtail.sampling.base import epoch_generator

MEGA_BATCH_MULTIPLIER = 50


class LengthGroupedBatchSampler(Sampler[list[int]]):
    """Yields batches of row indices of similar length.

    Args:
        lengths: token count per row.
        batch_size: rows per batch.
        sampler: an imbalance sampler (``longtail.sampling``) giving the epoch's index stream;
            ``None`` means a plain random permutation.
        seed: base seed; the epoch (``set_epoch``) is mixed in.
        group_by_length: ``False`` keeps the stream order (batches of random lengths).
        num_replicas, rank: data-parallel processes. Every process draws the same global stream
            (same seed and epoch), cuts it into global batches of ``batch_size × num_replicas``
            rows, and takes its own contiguous slice of each: one weighted stream shared by all
            ranks, as a single process with the global batch size would see it.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        *,
        sampler: Sampler[int] | None = None,
        seed: int = 0,
        group_by_length: bool = True,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.sampler = sampler
        self.seed = seed
        self.group_by_length = group_by_length
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if self.sampler is not None and hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def _stream(self, generator: torch.Generator) -> list[int]:
        if self.sampler is not None:
            return [int(i) for i in self.sampler]
        return torch.randperm(len(self.lengths), generator=generator).tolist()

    def _global_batches(self) -> list[list[int]]:
        generator = epoch_generator(self.seed, self.epoch)
        order = self._stream(generator)
        size = self.batch_size * self.num_replicas
        if not self.group_by_length:
            return [order[i : i + size] for i in range(0, len(order), size)]
        mega = size * MEGA_BATCH_MULTIPLIER
        batches: list[list[int]] = []
        for start in range(0, len(order), mega):
            group = sorted(order[start : start + mega], key=lambda i: -self.lengths[i])
            batches.extend(group[i : i + size] for i in range(0, len(group), size))
        permutation = torch.randperm(len(batches), generator=generator).tolist()
        return [batches[i] for i in permutation]

    def _batches(self) -> list[list[int]]:
        batches = self._global_batches()
        if self.num_replicas == 1:
            return batches
        mine = []
        for batch in batches:
            while len(batch) < self.num_replicas:  # every rank must step, or DDP waits forever
                batch = batch + batch[: self.num_replicas - len(batch)]
            share = np.array_split(np.asarray(batch), self.num_replicas)[self.rank]
            mine.append([int(i) for i in share])
        return mine

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._batches())

    def __len__(self) -> int:
        rows = len(self.sampler) if self.sampler is not None else len(self.lengths)
        return math.ceil(rows / (self.batch_size * self.num_replicas))

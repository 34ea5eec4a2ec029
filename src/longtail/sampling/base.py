"""The sampler registry, label grouping, and the seeded per-epoch sampler base class.

Every sampler groups rows by label: the class for single-label tasks, the *rarest positive label*
for multilabel tasks (rows with no positive label form one extra group), so a row carrying one
tail label counts as a tail row. Random draws come from a ``torch.Generator`` seeded from
``(seed, epoch)``: the same pair gives the same indices, a new epoch gives new ones, and the
global RNG is never touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

from longtail.errors import LongtailError
from longtail.registry import Registry
from longtail.tasks import TASKS, is_multilabel

SAMPLERS: Registry[Sampler[int] | None] = Registry("sampler")

_CHUNK_ROWS = 16384  # bounds the temporary (rows, C) array for million-row multilabel data


def label_groups(y: Any, task: str) -> np.ndarray:
    """Group id per row, int64 ``(n,)``: the class, or the rarest positive label (multilabel).

    Multilabel rarity is the label's positive count in ``y``; ties go to the lower label index;
    rows without a positive label get group ``C``.
    """
    if task not in TASKS:
        raise LongtailError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
    labels = np.asarray(y)
    if labels.size == 0:
        raise LongtailError("cannot sample from an empty label array")
    if not is_multilabel(task):
        if labels.ndim != 1:
            raise LongtailError(f"{task} labels must have shape (n,), got {labels.shape}")
        if np.any(labels < 0) or not np.all(labels == np.round(labels)):
            raise LongtailError(f"{task} labels must be non-negative integers")
        return labels.astype(np.int64)
    if labels.ndim != 2:
        raise LongtailError(f"multilabel labels must have shape (n, C), got {labels.shape}")
    num_labels = labels.shape[1]
    positive_counts = (labels > 0).sum(axis=0)
    order = np.argsort(positive_counts, kind="stable")  # rarest first, ties by label index
    rank = np.empty(num_labels, dtype=np.int64)
    rank[order] = np.arange(num_labels)
    lookup = np.append(order, num_labels)  # rank C (no positive label) -> group C
    groups = np.empty(labels.shape[0], dtype=np.int64)
    for start in range(0, labels.shape[0], _CHUNK_ROWS):
        chunk = labels[start : start + _CHUNK_ROWS] > 0
        best = np.where(chunk, rank[None, :], num_labels).min(axis=1)
        groups[start : start + _CHUNK_ROWS] = lookup[best]
    return groups


def epoch_seed(seed: int, epoch: int) -> int:
    """The one seeding rule for everything random in an epoch (its row order, its batches, its
    chunk subsets, dropout): ``(seed, epoch)`` mixed by NumPy's ``SeedSequence``, so a run
    resumed at epoch k draws what an uninterrupted run draws, and nearby seeds or epochs do not
    give correlated streams."""
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(epoch)]).generate_state(2)
    return int(state[0]) << 32 | int(state[1])


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A generator seeded by :func:`epoch_seed`."""
    return torch.Generator().manual_seed(epoch_seed(seed, epoch))


class EpochSampler(Sampler[int]):
    """Base class: rows grouped by label, a new deterministic draw for each epoch.

    Subclasses implement :meth:`_draw` returning an int64 index tensor for one epoch.
    """

    def __init__(self, groups: np.ndarray, seed: int = 0) -> None:
        self.seed = int(seed)
        self.epoch = 0
        present, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
        self.group_ids = present
        self.group_counts = torch.as_tensor(counts, dtype=torch.int64)
        # Rows sorted by group, so group g's rows are rows_by_group[starts[g] : starts[g] + n_g].
        self.rows_by_group = torch.as_tensor(np.argsort(inverse, kind="stable"), dtype=torch.int64)
        self.starts = torch.cumsum(self.group_counts, 0) - self.group_counts

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def indices(self) -> torch.Tensor:
        """This epoch's indices as an int64 tensor (same as iterating the sampler)."""
        return self._draw(epoch_generator(self.seed, self.epoch))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        raise NotImplementedError

    def _draw(self, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def _rows(self, group: int) -> torch.Tensor:
        start = int(self.starts[group])
        return self.rows_by_group[start : start + int(self.group_counts[group])]


def check_fraction(name: str, value: float) -> float:
    if not 0.0 < value <= 1.0:
        raise LongtailError(f"{name} must be in (0, 1], got {value}")
    return float(value)

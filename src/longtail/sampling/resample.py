"""Random over- and under-sampling: a fixed number of rows per group, reshuffled every epoch.

Both use imbalanced-learn's convention for ``ratio``: the desired ``minority / majority`` size
ratio after resampling, in ``(0, 1]``; the default 1.0 means fully balanced groups.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from longtail.sampling.base import SAMPLERS, EpochSampler, check_fraction, label_groups


class ResampledSampler(EpochSampler):
    """Each group ``g`` contributes exactly ``sizes[g]`` rows per epoch, shuffled together.

    A group that needs more rows than it has is repeated whole ``sizes[g] // n_g`` times plus a
    random subset (without replacement) for the remainder, which keeps the copies of each row as
    even as possible; a group that needs fewer rows gives a random subset.

    Args:
        groups: Group id per row ``(n,)``, see :func:`label_groups`.
        sizes: Rows per present group, in the order of ``np.unique(groups)``.
        seed: Base seed; each epoch draws from ``(seed, epoch)``.

    References:
        Japkowicz and Stephen, 2002. The class imbalance problem: A systematic study.
        Intelligent Data Analysis 6(5) (random over- and under-sampling).

    Example:
        >>> sampler = build_sampler({"name": "undersample", "ratio": 0.5},
        ...                         y=np.array([0, 0, 0, 0, 1]), task="binary", seed=0)
        >>> len(sampler)  # class 0 cut to 1 / 0.5 = 2 rows, class 1 keeps 1
        3
    """

    def __init__(self, groups: np.ndarray, sizes: list[int], seed: int = 0) -> None:
        super().__init__(groups, seed)
        self.sizes = [int(size) for size in sizes]

    def __len__(self) -> int:
        return sum(self.sizes)

    def _draw(self, generator: torch.Generator) -> torch.Tensor:
        parts = []
        for group, size in enumerate(self.sizes):
            rows = self._rows(group)
            copies, remainder = divmod(size, len(rows))
            parts.append(rows.repeat(copies))
            parts.append(rows[torch.randperm(len(rows), generator=generator)[:remainder]])
        picked = torch.cat(parts)
        return picked[torch.randperm(len(picked), generator=generator)]


@SAMPLERS.register("oversample")
def oversample(*, y: Any, task: str, seed: int, ratio: float = 1.0) -> ResampledSampler:
    """Raise every group to at least ``ceil(ratio * majority)`` rows; larger groups keep all."""
    groups = label_groups(y, task)
    counts = np.unique(groups, return_counts=True)[1]
    target = math.ceil(check_fraction("oversample ratio", ratio) * counts.max())
    return ResampledSampler(groups, [max(int(n), target) for n in counts], seed)


@SAMPLERS.register("undersample")
def undersample(*, y: Any, task: str, seed: int, ratio: float = 1.0) -> ResampledSampler:
    """Cut every group to at most ``ceil(minority / ratio)`` rows; smaller groups keep all."""
    groups = label_groups(y, task)
    counts = np.unique(groups, return_counts=True)[1]
    cap = math.ceil(counts.min() / check_fraction("undersample ratio", ratio) - 1e-9)
    return ResampledSampler(groups, [min(int(n), cap) for n in counts], seed)

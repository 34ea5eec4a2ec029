"""Samplers that draw rows with replacement, each row weighted by its group size."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from longtail.errors import LongtailError
from longtail.sampling.base import SAMPLERS, EpochSampler, label_groups


class GroupWeightedSampler(EpochSampler):
    """Draw ``num_samples`` rows with replacement, row weight ``n_g^{-power}``.

    ``power = 1`` makes every group (class) equally likely; ``power = 0.5`` is the square-root
    compromise. Drawn in two stages (a group with probability ``∝ n_g^{1 - power}``, then a row
    uniformly within it), which is exactly the per-row weighting but needs no per-row
    multinomial, so it scales past ``torch.multinomial``'s 2^24-category limit.

    Args:
        groups: Group id per row ``(n,)``, see :func:`label_groups`.
        power: Exponent of the inverse group size.
        num_samples: Indices per epoch; default the number of rows.
        seed: Base seed; each epoch draws from ``(seed, epoch)``.

    References:
        Kang et al., 2020. Decoupling Representation and Classifier for Long-Tailed Recognition.
        arXiv 1910.09217 (class-balanced and square-root sampling).

    Example:
        >>> sampler = build_sampler("class_balanced", y=np.array([0, 0, 0, 1]), task="binary",
        ...                         seed=0)
        >>> sampler.set_epoch(1)
        >>> indices = list(sampler)
    """

    def __init__(
        self, groups: np.ndarray, power: float, num_samples: int | None = None, seed: int = 0
    ) -> None:
        super().__init__(groups, seed)
        self.num_samples = len(groups) if num_samples is None else int(num_samples)
        if self.num_samples <= 0:
            raise LongtailError(f"num_samples must be positive, got {num_samples}")
        sizes = self.group_counts.to(torch.float64)
        self.group_probs = sizes ** (1.0 - power)
        self.group_probs /= self.group_probs.sum()

    def __len__(self) -> int:
        return self.num_samples

    def _draw(self, generator: torch.Generator) -> torch.Tensor:
        groups = torch.multinomial(
            self.group_probs, self.num_samples, replacement=True, generator=generator
        )
        sizes = self.group_counts[groups]
        uniform = torch.rand(self.num_samples, generator=generator, dtype=torch.float64)
        offsets = torch.minimum((uniform * sizes).long(), sizes - 1)
        return self.rows_by_group[self.starts[groups] + offsets]


@SAMPLERS.register("class_balanced")
def class_balanced(
    *, y: Any, task: str, seed: int, num_samples: int | None = None
) -> GroupWeightedSampler:
    """Every class (multilabel: rarest-label group) equally likely; row weight ``1/n_c``."""
    return GroupWeightedSampler(label_groups(y, task), 1.0, num_samples, seed)


@SAMPLERS.register("sqrt")
def square_root(
    *, y: Any, task: str, seed: int, num_samples: int | None = None
) -> GroupWeightedSampler:
    """Row weight ``1/sqrt(n_c)``: class probability ``∝ sqrt(n_c)``.

    Square-root sampling (Mahajan et al. 2018, "Exploring the Limits of Weakly Supervised
    Pretraining", ECCV): rare classes are drawn more often than their frequency, the head less
    than by plain shuffling but far more than by :func:`class_balanced` sampling."""
    return GroupWeightedSampler(label_groups(y, task), 0.5, num_samples, seed)

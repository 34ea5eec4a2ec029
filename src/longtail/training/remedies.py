"""A run's imbalance remedies, each built once from its config entry, before the first phase.

The loss and the sampler stay specs here: each phase builds its own from them, because a phase's
rows (and so its class counts and sampler labels) may differ (``prefinetune_da`` trains on a
balanced augmented sample first). The SAM wrapper and the auxiliary loss are built once and
shared by every phase that trains by SGD, and the augmentation carries ``augment.*`` with the
run's seed and cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from longtail.config import ExperimentConfig
from longtail.losses import build_aux_loss
from longtail.training.augmentation import Augmentation
from longtail.training.sam import SharpnessAwareMinimization, build_sam


@dataclass(frozen=True)
class Remedies:
    """What a run does about the imbalance besides its strategy's phases."""

    #: the loss spec with class weights by name resolved to one float per class
    loss: Any
    #: the sampler spec every phase uses unless the phase sets its own (``"none"``: off)
    sampler: Any
    sam: SharpnessAwareMinimization | None
    aux_loss: nn.Module | None
    augmentation: Augmentation


def build_remedies(
    config: ExperimentConfig,
    loss: Any,
    augmentation: Augmentation,
    *,
    task: str,
    counts: np.ndarray,
) -> Remedies:
    """The remedies of ``config`` for a ``task`` whose training split has class ``counts``
    (after augmentation: SAM's asymmetric variant reads them); ``loss`` is the resolved loss
    spec (the task's default when the config names none)."""
    return Remedies(
        loss=loss,
        sampler=config.sampler,
        sam=build_sam(config.sam, class_counts=counts, task=task),
        aux_loss=build_aux_loss(config.aux_loss, task=task),
        augmentation=augmentation,
    )

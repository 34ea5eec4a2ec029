"""Losses for imbalanced classification, all registered in :data:`LOSSES`.

Build one with :func:`build_loss` from a name, a ``{"name": ..., **params}`` mapping or a ready
``nn.Module``; call it as ``loss_fn(logits, targets)`` (see :mod:`longtail.tasks` for shapes).
Losses whose behaviour depends on the schedule (``ldam`` with DRW) have
``set_epoch(epoch, num_epochs)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from torch import nn

# Importing the loss modules registers them.
from longtail.losses import (  # noqa: F401
    asymmetric,
    balanced_softmax,
    bce,
    contrastive,
    cross_entropy,
    distribution_balanced,
    focal,
    ldam,
    logit_adjusted,
)
from longtail.losses.asymmetric import AsymmetricLoss
from longtail.losses.base import LOSSES, loss_tasks
from longtail.losses.bce import BCEWithLogitsLoss
from longtail.losses.contrastive import AUX_LOSSES, SimCSELoss, SupConLoss, build_aux_loss
from longtail.losses.cross_entropy import CrossEntropyLoss, label_aware_smoothing
from longtail.losses.distribution_balanced import DistributionBalancedLoss, rebalance_weights
from longtail.losses.focal import FocalLoss
from longtail.losses.ldam import LDAMLoss, ldam_margins
from longtail.losses.logit_adjusted import LogitAdjustedLoss, log_priors
from longtail.losses.weights import (
    CLASS_WEIGHT_SCHEMES,
    POS_WEIGHT_SCHEMES,
    class_weights,
    pos_weights,
)

__all__ = [
    "AUX_LOSSES",
    "CLASS_WEIGHT_SCHEMES",
    "LOSSES",
    "POS_WEIGHT_SCHEMES",
    "AsymmetricLoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "DistributionBalancedLoss",
    "FocalLoss",
    "LDAMLoss",
    "LogitAdjustedLoss",
    "SimCSELoss",
    "SupConLoss",
    "build_aux_loss",
    "build_loss",
    "class_weights",
    "label_aware_smoothing",
    "ldam_margins",
    "log_priors",
    "loss_tasks",
    "pos_weights",
    "rebalance_weights",
    "resolved_loss_spec",
]


def build_loss(
    spec: str | Mapping[str, Any] | nn.Module,
    *,
    task: str,
    class_counts: Sequence[float] | np.ndarray,
    num_docs: int,
) -> nn.Module:
    """Create a loss from a registered name, a spec mapping, or pass a module through.

    Args:
        spec: ``"focal"``, ``{"name": "focal", "gamma": 1.0}`` or an ``nn.Module``.
        task: ``"binary"``, ``"multiclass"`` or ``"multilabel"``.
        class_counts: Training documents per class ``(C,)`` (multilabel: positive documents).
        num_docs: Number of training documents.

    Returns:
        A module mapping ``(logits, targets)`` to a scalar mean loss.

    Example:
        >>> loss_fn = build_loss("ce", task="binary", class_counts=np.array([95, 5]), num_docs=100)
    """
    return LOSSES.build(
        spec, task=task, class_counts=np.asarray(class_counts, dtype=np.float64), num_docs=num_docs
    )


def resolved_loss_spec(spec: str | Mapping[str, Any] | nn.Module) -> dict[str, Any]:
    """The loss as applied: its name and every parameter, defaults filled in, for a report.

    Example:
        >>> resolved_loss_spec("logit_adjusted")
        {'name': 'logit_adjusted', 'tau': 1.0, 'weights': 'none', 'beta': 0.999, 'max_weight': None}
    """
    if isinstance(spec, nn.Module):
        return {"name": type(spec).__name__}
    params = {"name": spec} if isinstance(spec, str) else dict(spec)
    factory = LOSSES.get(str(params["name"]))
    signature = inspect.signature(getattr(factory, "__wrapped__", factory))
    context = {"task", "class_counts", "num_docs"}
    defaults = {
        key: value.default
        for key, value in signature.parameters.items()
        if key not in context and value.default is not inspect.Parameter.empty
    }
    return {"name": params.pop("name"), **defaults, **params}

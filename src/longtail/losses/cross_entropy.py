"""Cross-entropy for single-label tasks, with class weights and (label-aware) label smoothing."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from longtail.errors import LongtailError
from longtail.losses.base import (
    WeightSpec,
    as_weight_tensor,
    class_count_array,
    register_loss,
    resolve_class_weights,
)


def label_aware_smoothing(
    class_counts: Sequence[float] | np.ndarray, head: float, tail: float = 0.0
) -> np.ndarray:
    """Per-class smoothing ε_c: ``head`` for the largest class, ``tail`` for the smallest.

    The concave mapping of Zhong et al. (2021), arXiv 2104.00466, Eq. (7):
    ``ε_c = tail + (head - tail) * sin(π (n_c - n_min) / (2 (n_max - n_min)))``. With equal
    counts every class gets ``head``, i.e. plain label smoothing.
    """
    counts = np.asarray(class_counts, dtype=np.float64)
    low, high = counts.min(), counts.max()
    if high == low:
        return np.full_like(counts, head)
    return tail + (head - tail) * np.sin(math.pi * (counts - low) / (2.0 * (high - low)))


class CrossEntropyLoss(nn.Module):
    """Softmax cross-entropy with optional class weights and label-aware smoothing.

    With class weights the result is the weighted average ``sum(w_y * l) / sum(w_y)`` (as
    :func:`torch.nn.functional.cross_entropy`), so the loss scale stays bounded whatever the
    weights. With ``class_conditional_smoothing`` each example is smoothed by the ε of its target
    class (head classes more, tail classes less) and the class weight multiplies its whole loss.

    Args:
        class_weights: Per-class weights ``(C,)`` or ``None``.
        label_smoothing: ε for every class; with label-aware smoothing, ε of the largest class.
        smoothing: Per-class ε ``(C,)`` for label-aware smoothing, or ``None``.

    References:
        Szegedy et al., 2016. Rethinking the Inception Architecture. arXiv 1512.00567.
        Zhong et al., 2021. Improving Calibration for Long-Tailed Recognition (MiSLAS).
        arXiv 2104.00466.

    Example:
        >>> loss_fn = build_loss({"name": "ce", "weights": "sqrt_inverse"}, task="multiclass",
        ...                      class_counts=np.array([90, 9, 1]), num_docs=100)
        >>> loss = loss_fn(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))
    """

    def __init__(
        self,
        class_weights: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
        smoothing: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.register_buffer("class_weights", class_weights)
        self.register_buffer("smoothing", smoothing)
        self.label_smoothing = float(label_smoothing)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits, targets = logits.float(), targets.long()
        if self.smoothing is None:
            return F.cross_entropy(
                logits, targets, weight=self.class_weights, label_smoothing=self.label_smoothing
            )
        log_probs = F.log_softmax(logits, dim=-1)
        nll = -log_probs.gather(1, targets[:, None]).squeeze(1)
        eps = self.smoothing[targets]
        per_example = (1.0 - eps) * nll - eps * log_probs.mean(dim=-1)
        if self.class_weights is None:
            return per_example.mean()
        weights = self.class_weights[targets]
        return (weights * per_example).sum() / weights.sum()


@register_loss("ce", tasks=("binary", "multiclass"))
def cross_entropy(
    *,
    task: str,
    class_counts: Sequence[float] | np.ndarray,
    num_docs: int,
    weights: WeightSpec = "none",
    beta: float = 0.999,
    max_weight: float | None = None,
    label_smoothing: float = 0.0,
    class_conditional_smoothing: bool = False,
    tail_smoothing: float = 0.0,
) -> CrossEntropyLoss:
    """Build :class:`CrossEntropyLoss` (``ce``) from counts and user parameters."""
    counts = class_count_array(class_counts)
    for name, value in (("label_smoothing", label_smoothing), ("tail_smoothing", tail_smoothing)):
        if not 0.0 <= value < 1.0:
            raise LongtailError(f"{name} must be in [0, 1), got {value}")
    smoothing = None
    if class_conditional_smoothing:
        smoothing = as_weight_tensor(label_aware_smoothing(counts, label_smoothing, tail_smoothing))
    return CrossEntropyLoss(
        resolve_class_weights(weights, counts, beta=beta, max_weight=max_weight),
        label_smoothing=label_smoothing,
        smoothing=smoothing,
    )

"""Binary cross-entropy with logits for multilabel tasks, stable under extreme label weights."""

from __future__ import annotations

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
    multilabel_reduce,
    register_loss,
    resolve_class_weights,
)
from longtail.losses.weights import pos_weights

PosWeightSpec = str | float | Sequence[float] | np.ndarray | None


def resolve_pos_weights(
    spec: PosWeightSpec,
    class_counts: np.ndarray,
    num_docs: int,
    max_weight: float | None = None,
) -> torch.Tensor | None:
    """Positive-term weights per label from a scheme name, one float, or per-label floats."""
    if spec is None or (isinstance(spec, str) and spec == "none"):
        return None
    if isinstance(spec, str):
        return as_weight_tensor(pos_weights(class_counts, num_docs, spec, max_weight=max_weight))
    weights = np.broadcast_to(np.asarray(spec, dtype=np.float64), class_counts.shape)
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise LongtailError(f"pos_weight must be finite and non-negative, got {spec!r}")
    return as_weight_tensor(weights)


class BCEWithLogitsLoss(nn.Module):
    """Element-wise sigmoid binary cross-entropy for multi-hot targets.

    Computed from log-sigmoids (``softplus(-x)`` for positives, ``softplus(x)`` for negatives), so
    no probability is ever rounded to 0 or 1. Element ``(i, c)`` is weighted by ``w_c`` (label
    weight, both terms) times ``p_c`` on positives (positive weight). With ``normalize=True``
    (default) the loss is divided by the sum of the weights used in the batch: a weighted
    average whose value and logit-gradient norm (at most 1) stay bounded whether the weights span
    1..10 or 1..1e6. ``normalize=False`` gives exactly
    ``F.binary_cross_entropy_with_logits(weight=w, pos_weight=p)``.

    Args:
        label_weights: Per-label weights ``(C,)`` or ``None``.
        pos_weight: Per-label positive-term weights ``(C,)`` or ``None``.
        normalize: Divide by the batch's weight sum (default) instead of ``N·C``.

    References:
        Cui et al., 2019. Class-Balanced Loss Based on Effective Number of Samples.
        arXiv 1901.05555 (label weights).

    Example:
        >>> loss_fn = build_loss({"name": "bce", "pos_weight": "sqrt_ratio"}, task="multilabel",
        ...                      class_counts=np.array([50, 5]), num_docs=100)
        >>> loss = loss_fn(torch.randn(4, 2), torch.tensor([[1.0, 0.0], [0, 1], [1, 1], [0, 0]]))
    """

    def __init__(
        self,
        label_weights: torch.Tensor | None = None,
        pos_weight: torch.Tensor | None = None,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        self.register_buffer("label_weights", label_weights)
        self.register_buffer("pos_weight", pos_weight)
        self.normalize = normalize

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        targets = targets.to(logits.dtype)
        pos_w = self.label_weights
        if self.pos_weight is not None:
            pos_w = self.pos_weight if pos_w is None else pos_w * self.pos_weight
        return multilabel_reduce(
            F.softplus(-logits),
            F.softplus(logits),
            targets,
            pos_w,
            self.label_weights,
            self.normalize,
        )


@register_loss("bce", tasks=("multilabel",))
def binary_cross_entropy(
    *,
    task: str,
    class_counts: Sequence[float] | np.ndarray,
    num_docs: int,
    weights: WeightSpec = "none",
    beta: float = 0.999,
    pos_weight: PosWeightSpec = "none",
    max_weight: float | None = None,
    normalize: bool = True,
) -> BCEWithLogitsLoss:
    """Build :class:`BCEWithLogitsLoss` (``bce``).

    ``max_weight`` clips the label weights' max/min ratio and caps every positive weight.
    """
    counts = class_count_array(class_counts)
    return BCEWithLogitsLoss(
        resolve_class_weights(weights, counts, beta=beta, max_weight=max_weight),
        resolve_pos_weights(pos_weight, counts, num_docs, max_weight=max_weight),
        normalize=normalize,
    )

"""Balanced softmax (Ren et al., 2020) for single-label tasks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from longtail.losses.base import (
    WeightSpec,
    as_weight_tensor,
    class_count_array,
    register_loss,
    resolve_class_weights,
)
from longtail.losses.logit_adjusted import LogitAdjustedLoss


@register_loss("balanced_softmax", tasks=("binary", "multiclass"))
def balanced_softmax(
    *,
    task: str,
    class_counts: Sequence[float] | np.ndarray,
    num_docs: int,
    weights: WeightSpec = "none",
    beta: float = 0.999,
    max_weight: float | None = None,
) -> LogitAdjustedLoss:
    """Balanced softmax: cross-entropy on ``x + log n_c`` (``n_c`` training documents of class c).

    The softmax the model is trained through is re-weighted by each class's frequency, so the
    model's own logits estimate the *balanced* (label-shift-corrected) posterior; prediction uses
    the raw logits. It is :class:`~longtail.losses.logit_adjusted.LogitAdjustedLoss` with
    offsets ``log n_c`` and equals ``logit_adjusted`` with ``tau=1`` (``log n_c`` and
    ``log π_c`` differ by one constant, which a softmax ignores). A class with no training
    document counts as one. The paper's meta-sampler is not part of the loss.

    Args:
        weights: Optional class weights on top (a scheme name or one float per class; off by
            default, as in the paper).
        beta: β of the ``effective_number`` weights.
        max_weight: Cap on the weights' max/min ratio.

    References:
        Ren et al., 2020. Balanced Meta-Softmax for Long-Tailed Visual Recognition. NeurIPS
        2020. arXiv 2007.10740.

    Example:
        >>> loss_fn = build_loss("balanced_softmax", task="multiclass",
        ...                      class_counts=np.array([90, 9, 1]), num_docs=100)
        >>> loss = loss_fn(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))
    """
    counts = class_count_array(class_counts)
    return LogitAdjustedLoss(
        as_weight_tensor(np.log(np.maximum(counts, 1.0))),
        resolve_class_weights(weights, counts, beta=beta, max_weight=max_weight),
    )

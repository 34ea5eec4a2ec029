"""Logit-adjusted cross-entropy (Menon et al., 2021) for single-label tasks."""

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
    register_loss,
    resolve_class_weights,
)


def log_priors(class_counts: Sequence[float] | np.ndarray) -> np.ndarray:
    """``log π_c = log(n_c / Σ n)`` from document counts; a class with no document counts as one.

    The floor keeps the offset finite: a class never seen in training gets the prior of a class
    seen once, not ``-inf`` (which would make it impossible to predict and its loss ``nan``).
    """
    counts = np.maximum(class_count_array(class_counts), 1.0)
    return np.log(counts / counts.sum())


class LogitAdjustedLoss(nn.Module):
    """Softmax cross-entropy on logits shifted by a fixed per-class offset.

    ``CE(x + δ, y)`` with ``δ_c = τ log π_c``: during training the head classes get a head start,
    so the model's own logits ``x`` must make up the difference for the tail classes and learn a
    balanced decision rule. At prediction time the raw logits are used unchanged (no offset):
    ``argmax x`` then estimates the class with the best *balanced* error, not the best accuracy.
    With class weights the result is the weighted average ``Σ w_y l / Σ w_y``, as
    :class:`~longtail.losses.cross_entropy.CrossEntropyLoss`.

    ``logit_adjusted`` builds it with ``δ = τ log π``; ``balanced_softmax`` with ``δ = log n_c``
    (the same loss as ``τ = 1``: a constant shift of every logit leaves a softmax unchanged).

    Args:
        offsets: Per-class offsets ``δ`` ``(C,)`` added to the logits before the softmax.
        class_weights: Per-class weights ``(C,)`` or ``None``.

    References:
        Menon et al., 2021. Long-tail learning via logit adjustment. ICLR 2021. arXiv 2007.07314.
        Ren et al., 2020. Balanced Meta-Softmax for Long-Tailed Visual Recognition. NeurIPS 2020.
        arXiv 2007.10740.

    Example:
        >>> loss_fn = build_loss({"name": "logit_adjusted", "tau": 1.0}, task="multiclass",
        ...                      class_counts=np.array([90, 9, 1]), num_docs=100)
        >>> loss = loss_fn(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))
    """

    def __init__(self, offsets: torch.Tensor, class_weights: torch.Tensor | None = None) -> None:
        super().__init__()
        self.register_buffer("offsets", offsets)
        self.register_buffer("class_weights", class_weights)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits, targets = logits.float(), targets.long()
        return F.cross_entropy(logits + self.offsets, targets, weight=self.class_weights)

    def extra_repr(self) -> str:
        return f"offsets={[round(v, 4) for v in self.offsets.tolist()]}"


@register_loss("logit_adjusted", tasks=("binary", "multiclass"))
def logit_adjusted(
    *,
    task: str,
    class_counts: Sequence[float] | np.ndarray,
    num_docs: int,
    tau: float = 1.0,
    weights: WeightSpec = "none",
    beta: float = 0.999,
    max_weight: float | None = None,
) -> LogitAdjustedLoss:
    """Build :class:`LogitAdjustedLoss` (``logit_adjusted``): offsets ``τ log π`` from the
    training documents per class; ``tau=0`` is plain cross-entropy, ``tau=1`` the paper's
    default. ``weights`` adds class weights on top (off by default, as in the paper)."""
    if not (isinstance(tau, (int, float)) and np.isfinite(tau) and tau >= 0):
        raise LongtailError(
            f"logit_adjusted tau must be a finite number >= 0 (1 is the paper's default, "
            f"0 is plain cross-entropy), got {tau!r}"
        )
    counts = class_count_array(class_counts)
    return LogitAdjustedLoss(
        as_weight_tensor(float(tau) * log_priors(counts)),
        resolve_class_weights(weights, counts, beta=beta, max_weight=max_weight),
    )

"""LDAM loss with deferred re-weighting (Cao et al., 2019) for single-label tasks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from longtail.errors import LongtailError
from longtail.losses.base import as_weight_tensor, class_count_array, register_loss
from longtail.losses.weights import class_weights


def ldam_margins(class_counts: Sequence[float] | np.ndarray, max_margin: float) -> np.ndarray:
    """Margins ``Δ_c ∝ n_c^{-1/4}``, the rarest class getting ``max_margin`` (zeros count as 1)."""
    raw = np.maximum(np.asarray(class_counts, dtype=np.float64), 1.0) ** -0.25
    return raw * (max_margin / raw.max())


class LDAMLoss(nn.Module):
    """Label-distribution-aware margin loss with deferred re-weighting (LDAM-DRW).

    The target logit is lowered by a class margin ``Δ_y ∝ n_y^{-1/4}`` before a scaled softmax
    cross-entropy ``CE(s · (x - Δ_y e_y), y)``: rare classes must win by a larger margin. With
    DRW, class weights (effective number, β = 0.9999) switch on from epoch
    ``drw_start · num_epochs`` (0-based) once the trainer calls ``set_epoch``; before any call
    the loss is plain LDAM without weights.

    ``s = 30`` is the paper's value for cosine logits in ``[-1, 1]`` (normalised features and
    classifier rows); for an ordinary linear head choose ``s`` around 1.

    Args:
        margins: Per-class margins ``(C,)``.
        scale: Logit scale ``s``.
        drw_weights: Class weights for the re-weighting phase ``(C,)``, or ``None`` for no DRW.
        drw_start: Fraction of the training epochs after which ``drw_weights`` apply.

    References:
        Cao et al., 2019. Learning Imbalanced Datasets with Label-Distribution-Aware Margin
        Loss. arXiv 1906.07413.
        Cui et al., 2019. Class-Balanced Loss Based on Effective Number of Samples.
        arXiv 1901.05555 (the DRW weights).

    Example:
        >>> loss_fn = build_loss({"name": "ldam", "s": 1.0}, task="multiclass",
        ...                      class_counts=np.array([90, 9, 1]), num_docs=100)
        >>> loss_fn.set_epoch(epoch=5, num_epochs=10)  # DRW is on from here
        >>> loss = loss_fn(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))
    """

    def __init__(
        self,
        margins: torch.Tensor,
        scale: float = 30.0,
        drw_weights: torch.Tensor | None = None,
        drw_start: float = 0.5,
    ) -> None:
        super().__init__()
        self.register_buffer("margins", margins)
        self.register_buffer("drw_weights", drw_weights)
        self.scale = float(scale)
        self.drw_start = float(drw_start)
        self.reweighting = False

    @property
    def needs_epoch_count(self) -> bool:
        """Whether the loss changes at a fraction of the epochs (DRW on): training to
        convergence, which has no epoch count, refuses it."""
        return self.drw_weights is not None

    def set_epoch(self, epoch: int, num_epochs: int) -> None:
        """Turn the deferred re-weighting on from epoch ``drw_start · num_epochs`` (0-based)."""
        # The small tolerance keeps 0.7 * 10 = 7.000000000000001 switching on at epoch 7.
        self.reweighting = self.drw_weights is not None and (
            epoch >= self.drw_start * num_epochs - 1e-9
        )

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits, targets = logits.float(), targets.long()
        shifted = logits - F.one_hot(targets, logits.shape[-1]) * self.margins
        weight = self.drw_weights if self.reweighting else None
        return F.cross_entropy(self.scale * shifted, targets, weight=weight)


@register_loss("ldam", tasks=("binary", "multiclass"))
def ldam(
    *,
    task: str,
    class_counts: Sequence[float] | np.ndarray,
    num_docs: int,
    max_margin: float = 0.5,
    s: float = 30.0,
    drw_start: float | None = 0.5,
    drw_beta: float = 0.9999,
) -> LDAMLoss:
    """Build :class:`LDAMLoss` (``ldam``); ``drw_start=None`` disables re-weighting."""
    if max_margin < 0 or s <= 0:
        raise LongtailError(f"ldam needs max_margin >= 0 and s > 0, got {max_margin}, {s}")
    counts = class_count_array(class_counts)
    drw_weights = None
    if drw_start is not None:
        if drw_start < 0:
            raise LongtailError(f"ldam drw_start must be a fraction >= 0, got {drw_start}")
        drw_weights = as_weight_tensor(class_weights(counts, "effective_number", beta=drw_beta))
    return LDAMLoss(
        as_weight_tensor(ldam_margins(counts, max_margin)),
        scale=s,
        drw_weights=drw_weights,
        drw_start=0.5 if drw_start is None else drw_start,
    )

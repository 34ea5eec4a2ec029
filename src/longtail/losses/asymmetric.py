"""Asymmetric loss (ASL, Ridnik et al., 2021) for multilabel tasks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from longtail.errors import LongtailError
from longtail.losses.base import (
    WeightSpec,
    class_count_array,
    multilabel_reduce,
    register_loss,
    resolve_class_weights,
)
from longtail.losses.focal import focusing


class AsymmetricLoss(nn.Module):
    """Asymmetric loss: separate focusing for positives and negatives, plus probability shifting.

    With ``p = sigmoid(x)`` and the shifted negative probability ``p_m = max(p - clip, 0)``:
    positives cost ``-(1 - p)^γ⁺ log p`` and negatives ``-p_m^γ⁻ log(1 - p_m)``. The shift
    discards easy negatives (``p <= clip``) entirely, which matters when each label is negative
    in almost every document. Terms are computed from log-sigmoids, and for ``clip > 0`` the
    negative log is ``log(min(sigmoid(-x) + clip, 1)) >= log(clip)``, so nothing is infinite.
    Label weights and the reduction are those of :class:`BCEWithLogitsLoss`; with
    ``gamma_pos = gamma_neg = clip = 0`` the two losses are identical.

    Args:
        gamma_pos: Focusing parameter γ⁺ for positives.
        gamma_neg: Focusing parameter γ⁻ for negatives.
        clip: Probability margin m for negatives, in ``[0, 1)``.
        label_weights: Per-label weights ``(C,)`` or ``None``.
        normalize: Divide by the batch's weight sum (default) instead of ``N·C``.

    References:
        Ridnik et al., 2021. Asymmetric Loss For Multi-Label Classification. arXiv 2009.14119.

    Example:
        >>> loss_fn = build_loss({"name": "asymmetric", "gamma_neg": 4, "clip": 0.05},
        ...                      task="multilabel", class_counts=np.array([50, 5]),
        ...                      num_docs=100)
        >>> loss = loss_fn(torch.randn(4, 2), torch.tensor([[1.0, 0.0], [0, 1], [1, 1], [0, 0]]))
    """

    def __init__(
        self,
        gamma_pos: float = 0.0,
        gamma_neg: float = 4.0,
        clip: float = 0.05,
        label_weights: torch.Tensor | None = None,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        self.gamma_pos, self.gamma_neg, self.clip = float(gamma_pos), float(gamma_neg), float(clip)
        self.register_buffer("label_weights", label_weights)
        self.normalize = normalize

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        targets = targets.to(logits.dtype)
        pos_loss = F.softplus(-logits)
        if self.clip > 0:
            neg_loss = -torch.log((torch.sigmoid(-logits) + self.clip).clamp(max=1.0))
            shifted_p = (torch.sigmoid(logits) - self.clip).clamp(min=0.0)
        else:
            neg_loss = F.softplus(logits)
            shifted_p = torch.sigmoid(logits)
        if self.gamma_pos != 0:
            pos_loss = focusing(torch.sigmoid(-logits), self.gamma_pos) * pos_loss
        if self.gamma_neg != 0:
            neg_loss = focusing(shifted_p, self.gamma_neg) * neg_loss
        weights = self.label_weights
        return multilabel_reduce(pos_loss, neg_loss, targets, weights, weights, self.normalize)


@register_loss("asymmetric", tasks=("multilabel",))
def asymmetric(
    *,
    task: str,
    class_counts: Sequence[float] | np.ndarray,
    num_docs: int,
    gamma_pos: float = 0.0,
    gamma_neg: float = 4.0,
    clip: float = 0.05,
    weights: WeightSpec = "none",
    beta: float = 0.999,
    max_weight: float | None = None,
    normalize: bool = True,
) -> AsymmetricLoss:
    """Build :class:`AsymmetricLoss` (``asymmetric``)."""
    if gamma_pos < 0 or gamma_neg < 0:
        raise LongtailError(f"asymmetric gammas must be >= 0, got {gamma_pos}, {gamma_neg}")
    if not 0.0 <= clip < 1.0:
        raise LongtailError(f"asymmetric clip must be in [0, 1), got {clip}")
    counts = class_count_array(class_counts)
    return AsymmetricLoss(
        gamma_pos,
        gamma_neg,
        clip,
        resolve_class_weights(weights, counts, beta=beta, max_weight=max_weight),
        normalize=normalize,
    )

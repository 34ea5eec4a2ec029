"""Focal loss (Lin et al., 2017) for single-label (softmax) and multilabel (sigmoid) tasks."""

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
from longtail.tasks import is_multilabel

AlphaSpec = float | str | Sequence[float] | np.ndarray | None


def focusing(one_minus_p: torch.Tensor, gamma: float) -> torch.Tensor:
    """``(1 - p)^γ`` for γ > 0 (callers skip γ = 0: no factor, no 0^0 gradient to worry about)."""
    # The floor keeps the gradient of x^γ finite for γ < 1 when p rounds to exactly 1.
    return one_minus_p.clamp_min(1e-12).pow(gamma)


class FocalLoss(nn.Module):
    """Focal loss: cross-entropy scaled by ``(1 - p_t)^γ`` to down-weight easy examples.

    Single-label: ``-α_y w_y (1 - p_y)^γ log p_y`` with ``p = softmax(x)``, averaged with
    weights ``α_y w_y`` (as weighted cross-entropy), so γ = 0 gives :class:`CrossEntropyLoss`.
    Multilabel: per element ``-α w_c (1 - p)^γ log p`` on positives and
    ``-(1 - α) w_c p^γ log(1 - p)`` on negatives with ``p = sigmoid(x)``, reduced like
    :class:`BCEWithLogitsLoss`, so γ = 0 without α gives it exactly.

    Args:
        gamma: Focusing parameter γ ≥ 0.
        class_weights: Per-class factors ``(C,)`` from ``weights`` and a scheme-name ``alpha``.
        alpha_pos: Multilabel only: positive-term balance α per label ``(C,)`` (negatives get
            ``1 - α``), or ``None``.
        multilabel: Sigmoid (True) or softmax (False).
        normalize: Multilabel only: divide by the batch's weight sum instead of ``N·C``.

    References:
        Lin et al., 2017. Focal Loss for Dense Object Detection. arXiv 1708.02002.

    Example:
        >>> loss_fn = build_loss({"name": "focal", "gamma": 2.0, "alpha": "sqrt_inverse"},
        ...                      task="multiclass", class_counts=np.array([90, 9, 1]),
        ...                      num_docs=100)
        >>> loss = loss_fn(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))
    """

    def __init__(
        self,
        gamma: float = 2.0,
        class_weights: torch.Tensor | None = None,
        alpha_pos: torch.Tensor | None = None,
        multilabel: bool = False,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        self.gamma = float(gamma)
        self.register_buffer("class_weights", class_weights)
        self.register_buffer("alpha_pos", alpha_pos)
        self.multilabel = multilabel
        self.normalize = normalize

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        if self.multilabel:
            return self._multilabel(logits, targets.to(logits.dtype))
        targets = targets.long()
        log_pt = F.log_softmax(logits, dim=-1).gather(1, targets[:, None]).squeeze(1)
        loss = -log_pt
        if self.gamma != 0:
            loss = focusing(-torch.expm1(log_pt), self.gamma) * loss
        if self.class_weights is None:
            return loss.mean()
        weights = self.class_weights[targets]
        return (weights * loss).sum() / weights.sum().clamp_min(1e-30)

    def _multilabel(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        pos_loss, neg_loss = F.softplus(-logits), F.softplus(logits)
        if self.gamma != 0:
            pos_loss = focusing(torch.sigmoid(-logits), self.gamma) * pos_loss
            neg_loss = focusing(torch.sigmoid(logits), self.gamma) * neg_loss
        pos_w = neg_w = self.class_weights
        if self.alpha_pos is not None:
            pos_w = self.alpha_pos if pos_w is None else pos_w * self.alpha_pos
            neg_w = 1.0 - self.alpha_pos if neg_w is None else neg_w * (1.0 - self.alpha_pos)
        return multilabel_reduce(pos_loss, neg_loss, targets, pos_w, neg_w, self.normalize)


def _resolve_alpha(
    alpha: AlphaSpec, task: str, counts: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Split ``alpha`` into (per-class factors, multilabel positive balance)."""
    if alpha is None:
        return None, None
    if isinstance(alpha, str):
        weights = resolve_class_weights(alpha, counts)
        return (None if weights is None else weights.numpy()), None
    if np.ndim(alpha) == 0 and task == "multiclass":
        raise LongtailError(
            "focal alpha as one float is defined for binary and multilabel tasks; for multiclass "
            "give one float per class or a weight scheme name"
        )
    if np.ndim(alpha) != 0 and np.shape(alpha) != counts.shape:
        raise LongtailError(f"focal alpha has {np.size(alpha)} values for {counts.size} classes")
    values = np.broadcast_to(np.asarray(alpha, dtype=np.float64), counts.shape).copy()
    if is_multilabel(task):
        if np.any((values < 0) | (values > 1)):
            raise LongtailError(f"multilabel focal alpha must be in [0, 1], got {alpha!r}")
        return None, values
    if np.ndim(alpha) == 0:  # binary: α for the positive class 1, 1 - α for class 0
        values = np.array([1.0 - float(alpha), float(alpha)])
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise LongtailError(f"focal alpha must be finite and non-negative, got {alpha!r}")
    return values, None


@register_loss("focal", tasks=("binary", "multiclass", "multilabel"))
def focal(
    *,
    task: str,
    class_counts: Sequence[float] | np.ndarray,
    num_docs: int,
    gamma: float = 2.0,
    alpha: AlphaSpec = None,
    weights: WeightSpec = "none",
    beta: float = 0.999,
    max_weight: float | None = None,
    normalize: bool = True,
) -> FocalLoss:
    """Build :class:`FocalLoss` (``focal``); ``alpha`` and ``weights`` multiply."""
    if gamma < 0:
        raise LongtailError(f"focal gamma must be >= 0, got {gamma}")
    counts = class_count_array(class_counts)
    alpha_class, alpha_pos = _resolve_alpha(alpha, task, counts)
    weights_t = resolve_class_weights(weights, counts, beta=beta, max_weight=max_weight)
    factors = None if weights_t is None else weights_t.numpy().astype(np.float64)
    if alpha_class is not None:
        factors = alpha_class if factors is None else factors * alpha_class
    return FocalLoss(
        gamma,
        None if factors is None else as_weight_tensor(factors),
        None if alpha_pos is None else as_weight_tensor(alpha_pos),
        multilabel=is_multilabel(task),
        normalize=normalize,
    )

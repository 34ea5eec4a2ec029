"""Distribution-balanced loss (Wu et al., 2020) and CB-NTR (Huang et al., 2021), multilabel."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from longtail.errors import LongtailError
from longtail.losses.base import (
    as_weight_tensor,
    class_count_array,
    multilabel_reduce,
    register_loss,
)
from longtail.losses.focal import focusing
from longtail.losses.weights import class_weights

REWEIGHTS: tuple[str, ...] = ("rebalance", "class_balanced", "none")
_MULTILABEL_ONLY = (
    "it is a multilabel loss (its weights come from the labels a document shares); for one label "
    "per document use --loss balanced_softmax or --loss logit_adjusted"
)


def ntr_offsets(class_counts: np.ndarray, num_docs: int, kappa: float) -> np.ndarray:
    """NTR's class-specific shift ``ν_c = κ log(p_c / (1 - p_c))`` with ``p_c = n_c / N``.

    ``log(p / (1 - p))`` is the bias that minimises BCE at the start of training for a model that
    predicts a constant (the paper's ``b̂``); ``p`` is clipped to ``[1e-6, 1 - 1e-6]`` as the
    head's prior initialisation does, so an unseen or omnipresent label stays finite.
    """
    rates = np.clip(class_counts / max(num_docs, 1), 1e-6, 1 - 1e-6)
    return kappa * np.log(rates / (1.0 - rates))


def rebalance_weights(
    targets: torch.Tensor,
    inverse_counts: torch.Tensor,
    alpha: float,
    beta: float,
    mu: float,
) -> torch.Tensor:
    """Re-balanced weights ``r̂_ic = α + σ(β (r_ic − μ))`` per document and label ``(N, C)``.

    ``r_ic = (1/n_c) / Σ_{j ∈ y_i} 1/n_j`` is the ratio of how often class-aware re-sampling
    would draw document ``i`` for class ``c`` to how often it is drawn overall: a document whose
    head labels ride along with a rare label is over-drawn, and its head terms are scaled down.
    A document with no label is never drawn by class-aware sampling (``r = ∞``): it gets the
    largest weight ``α + 1``, as in the reference implementation.
    """
    drawn = (targets * inverse_counts).sum(dim=1, keepdim=True)
    ratio = inverse_counts / drawn.clamp_min(1e-30)
    return alpha + torch.sigmoid(beta * (ratio - mu))


class DistributionBalancedLoss(nn.Module):
    """Sigmoid BCE with re-balanced weights, negative-tolerant regularisation and focal factors.

    Per element, with shifted logits ``z = x + ν_c``:

    * positives: ``w_ic (1 − σ(z))^γ · log(1 + e^{−z})``
    * negatives: ``w_ic σ(λz)^γ · (1/λ) log(1 + e^{λz})``

    ``λ > 1`` (negative-tolerant regularisation, NTR) makes the negative term flat once a
    negative logit is below zero, so the many negatives of a rare label stop pushing it further
    down. ``ν_c = κ log(p_c / (1 − p_c))`` is NTR's fixed class-specific shift from the label
    prior. ``w`` is the re-balanced weight (:func:`rebalance_weights`, ``reweight="rebalance"``:
    the DB loss), the class-balanced weight ``(1 − β)/(1 − β^{n_c})`` per label
    (``reweight="class_balanced"``: CB-NTR), or 1 (``reweight="none"``: NTR-focal). The reduction
    is that of :class:`~longtail.losses.bce.BCEWithLogitsLoss` (``normalize``: a weighted
    average). With ``reweight="none"``, ``κ = 0``, ``λ = 1`` and ``γ = 0`` it is plain BCE; with
    ``γ > 0`` the multilabel focal loss. The reference's focal balance ``α_t = 0.5`` is the same
    for positives and negatives, a constant factor, and is left out.

    Prediction uses the raw logits ``x`` without ``ν``. Bias handling: ``ν`` is a constant inside
    the loss and the head's bias is learned, so they never pull in opposite directions; what
    matters is where the bias *starts*. The trainer starts a multilabel head at
    ``b̂ = log(p / (1 − p))`` (``init_head_bias_from_priors``): BCE's resting point, the very
    ``b̂`` the paper scales by κ for a zero-initialised head. NTR and the focal factor rest higher
    (:meth:`initial_bias`: about −0.7 instead of −4.6 for a 1 % label), so from the prior start
    the first steps raise the rare labels' biases; a head started at :meth:`initial_bias` begins
    at rest, as the paper's zero start with ``ν = κ b̂`` nearly does. Either way a per-label
    constant shift of the logits leaves per-label tuned thresholds' decisions unchanged.

    Args:
        inverse_counts: ``1 / n_c`` per label ``(C,)`` for ``reweight="rebalance"``, else ``None``.
        class_weights: Per-label weights ``(C,)`` for ``reweight="class_balanced"``, else ``None``.
        offsets: NTR's shift ``ν`` per label ``(C,)``, or ``None`` for none.
        neg_scale: NTR's λ ≥ 1 (1: negatives as in BCE).
        gamma: Focal γ ≥ 0 (0: no focal factor).
        smoothing: ``(α, β, μ)`` of the re-balancing smoothing function.
        normalize: Divide by the batch's weight sum (default) instead of ``N·C``.

    References:
        Wu et al., 2020. Distribution-Balanced Loss for Multi-Label Classification in
        Long-Tailed Datasets. ECCV 2020. arXiv 2007.09654.
        Huang et al., 2021. Balancing Methods for Multi-label Text Classification with
        Long-Tailed Class Distribution. EMNLP 2021. arXiv 2109.04712 (CB-NTR; the defaults
        used on Reuters-21578).
        Cui et al., 2019. Class-Balanced Loss Based on Effective Number of Samples.
        arXiv 1901.05555 (CB weights).

    Example:
        >>> loss_fn = build_loss("distribution_balanced", task="multilabel",
        ...                      class_counts=np.array([50, 5, 1]), num_docs=100)
        >>> loss = loss_fn(torch.randn(2, 3), torch.tensor([[1.0, 1, 0], [0, 0, 1]]))
    """

    def __init__(
        self,
        inverse_counts: torch.Tensor | None = None,
        class_weights: torch.Tensor | None = None,
        offsets: torch.Tensor | None = None,
        neg_scale: float = 2.0,
        gamma: float = 2.0,
        smoothing: tuple[float, float, float] = (0.1, 10.0, 0.9),
        normalize: bool = True,
    ) -> None:
        super().__init__()
        self.register_buffer("inverse_counts", inverse_counts)
        self.register_buffer("class_weights", class_weights)
        self.register_buffer("offsets", offsets)
        self.neg_scale = float(neg_scale)
        self.gamma = float(gamma)
        self.smoothing = tuple(float(v) for v in smoothing)
        self.normalize = normalize

    def elements(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Unweighted element losses ``(positive term, negative term)`` for raw logits."""
        z = logits if self.offsets is None else logits + self.offsets.to(logits.dtype)
        scaled = self.neg_scale * z
        pos_loss = F.softplus(-z)
        neg_loss = F.softplus(scaled) / self.neg_scale
        if self.gamma != 0:
            pos_loss = focusing(torch.sigmoid(-z), self.gamma) * pos_loss
            neg_loss = focusing(torch.sigmoid(scaled), self.gamma) * neg_loss
        return pos_loss, neg_loss

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        targets = targets.to(logits.dtype)
        pos_loss, neg_loss = self.elements(logits)
        weights = self.class_weights
        if self.inverse_counts is not None:
            weights = rebalance_weights(targets, self.inverse_counts, *self.smoothing)
        return multilabel_reduce(pos_loss, neg_loss, targets, weights, weights, self.normalize)

    def initial_bias(self, positive_rates: np.ndarray) -> np.ndarray:
        """The constant logit per label at which this loss is stationary for a model that
        ignores its input: ``argmin_b p·ℓ⁺(b) + (1 − p)·ℓ⁻(b)`` (bisection on the derivative).

        For BCE (every part off) it is ``log(p / (1 − p))``, the prior start the trainer gives a
        multilabel head; with NTR and the focal factor it lies higher (for ``p`` = 1 % and the
        defaults about −0.7 instead of −4.6). A head started here begins where this loss is at
        rest. Per-document re-balanced weights are left out (they are not known per label); the
        class-balanced ones multiply both terms of a label and do not move it.
        """
        rates = np.clip(np.asarray(positive_rates, dtype=np.float64), 1e-6, 1 - 1e-6)
        p = torch.tensor(rates, dtype=torch.float64)
        low, high = torch.full_like(p, -30.0), torch.full_like(p, 30.0)
        for _ in range(60):
            mid = ((low + high) / 2).requires_grad_()
            pos_loss, neg_loss = self.elements(mid)
            (grad,) = torch.autograd.grad((p * pos_loss + (1 - p) * neg_loss).sum(), mid)
            rising = grad > 0
            mid = mid.detach()
            low, high = torch.where(rising, low, mid), torch.where(rising, mid, high)
        return ((low + high) / 2).numpy()

    def extra_repr(self) -> str:
        return f"neg_scale={self.neg_scale}, gamma={self.gamma}, smoothing={self.smoothing}"


def _check(name: str, value: float, low: float, strict: bool = False) -> None:
    ok = isinstance(value, (int, float)) and np.isfinite(value)
    if not ok or value < low or (strict and value == low):
        bound = f"> {low:g}" if strict else f">= {low:g}"
        raise LongtailError(
            f"distribution_balanced {name} must be a finite number {bound}, got {value!r}"
        )


@register_loss("distribution_balanced", tasks=("multilabel",), hint=_MULTILABEL_ONLY)
def distribution_balanced(
    *,
    task: str,
    class_counts: Sequence[float] | np.ndarray,
    num_docs: int,
    reweight: str = "rebalance",
    smooth_alpha: float = 0.1,
    smooth_beta: float = 10.0,
    smooth_mu: float = 0.9,
    kappa: float = 0.05,
    neg_scale: float = 2.0,
    gamma: float = 2.0,
    cb_beta: float = 0.9,
    normalize: bool = True,
) -> DistributionBalancedLoss:
    """Build :class:`DistributionBalancedLoss` (``distribution_balanced``).

    Defaults are Huang et al.'s (2021) DB loss on Reuters-21578: smoothing ``α = 0.1, β = 10,
    μ = 0.9``, NTR ``κ = 0.05, λ = 2`` (``neg_scale``), focal ``γ = 2`` (Wu et al. 2020 used
    ``μ = 0.2`` on COCO / VOC). ``reweight="class_balanced"`` with ``cb_beta`` (0.9) is CB-NTR.
    """
    if reweight not in REWEIGHTS:
        raise LongtailError(
            f"unknown distribution_balanced reweight {reweight!r}; valid: {', '.join(REWEIGHTS)}"
        )
    for name, value, low, strict in (
        ("smooth_alpha", smooth_alpha, 0.0, False),
        ("smooth_beta", smooth_beta, 0.0, False),
        ("smooth_mu", smooth_mu, 0.0, False),
        ("kappa", kappa, 0.0, False),
        ("neg_scale", neg_scale, 0.0, True),
        ("gamma", gamma, 0.0, False),
    ):
        _check(name, value, low, strict)
    if not (isinstance(cb_beta, (int, float)) and 0.0 <= cb_beta < 1.0):
        raise LongtailError(f"distribution_balanced cb_beta must be in [0, 1), got {cb_beta!r}")
    counts = class_count_array(class_counts)
    inverse = cb = None
    if reweight == "rebalance":
        inverse = as_weight_tensor(1.0 / np.maximum(counts, 1.0))
    elif reweight == "class_balanced":
        cb = as_weight_tensor(class_weights(counts, "effective_number", beta=cb_beta))
    return DistributionBalancedLoss(
        inverse_counts=inverse,
        class_weights=cb,
        offsets=as_weight_tensor(ntr_offsets(counts, num_docs, kappa)) if kappa else None,
        neg_scale=neg_scale,
        gamma=gamma,
        smoothing=(smooth_alpha, smooth_beta, smooth_mu),
        normalize=normalize,
    )


@register_loss("cb_ntr", tasks=("multilabel",), hint=_MULTILABEL_ONLY)
def cb_ntr(
    *,
    task: str,
    class_counts: Sequence[float] | np.ndarray,
    num_docs: int,
    cb_beta: float = 0.9,
    kappa: float = 0.05,
    neg_scale: float = 2.0,
    gamma: float = 2.0,
    normalize: bool = True,
) -> DistributionBalancedLoss:
    """CB-NTR (Huang et al., 2021, arXiv 2109.04712): class-balanced label weights
    ``(1 − β)/(1 − β^{n_c})`` (Cui et al., 2019) with negative-tolerant regularisation and focal
    factors; ``distribution_balanced`` with ``reweight="class_balanced"`` (see
    :class:`DistributionBalancedLoss`). Defaults as on Reuters-21578: β = 0.9, κ = 0.05, λ = 2,
    γ = 2.

    Example:
        >>> loss_fn = build_loss({"name": "cb_ntr", "cb_beta": 0.99}, task="multilabel",
        ...                      class_counts=np.array([50, 5, 1]), num_docs=100)
    """
    return distribution_balanced(
        task=task, class_counts=class_counts, num_docs=num_docs, reweight="class_balanced",
        cb_beta=cb_beta, kappa=kappa, neg_scale=neg_scale, gamma=gamma, normalize=normalize,
    )  # fmt: skip

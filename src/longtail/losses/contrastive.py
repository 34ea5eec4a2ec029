"""Auxiliary contrastive losses on document embeddings, added to the supervised loss with weight λ.

Every auxiliary loss maps ``(z1, z2, target)`` to an *unweighted* scalar: ``z1`` is the pooled
embedding ``(B, H)`` of the batch, ``z2`` a second view (a second forward pass with dropout
active) or ``None``, and ``target`` the batch labels in the :mod:`longtail.tasks` layout. The
caller adds ``aux.weight * aux(z1, z2, target)`` to the supervised loss and runs the second
forward pass only when ``aux.needs_second_view`` is true. ``weight`` (λ) = 0 switches the
auxiliary loss off.

Both losses L2-normalise the embeddings and compute in float32 (autocast disabled), whatever
the input dtype, so cosine similarities divided by a small temperature stay accurate.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from numbers import Real
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from longtail.config import OFF
from longtail.errors import LongtailError
from longtail.registry import Registry
from longtail.tasks import TASKS, is_multilabel

AUX_LOSSES: Registry[nn.Module] = Registry("auxiliary loss")

# Logit given to each anchor's similarity with itself. Finite (not -inf), so a row whose only
# entry is the anchor itself gives a finite logsumexp instead of NaN; far enough below every
# real logit (|cos / τ| <= 1 / τ) that exp() of it is exactly 0 next to them.
_SELF_MARGIN = 1e4


def _check_weight(weight: float) -> float:
    if isinstance(weight, bool) or not isinstance(weight, Real) or not weight >= 0:
        raise LongtailError(
            f"aux_loss.weight (λ) must be >= 0, got {weight!r}; 0 switches the auxiliary loss off"
        )
    return float(weight)


def _check_temperature(temperature: float, typical: float) -> float:
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, Real)
        or not 0 < temperature < float("inf")
    ):
        raise LongtailError(
            f"aux_loss.temperature must be a finite number > 0, got {temperature!r}; "
            f"the usual value for this loss is {typical}"
        )
    return float(temperature)


def _check_views(name: str, z1: Tensor, z2: Tensor | None) -> None:
    if z1.dim() != 2:
        raise LongtailError(
            f"{name}: z1 must be embeddings of shape (batch, hidden), got {tuple(z1.shape)}"
        )
    if z2 is not None and z2.shape != z1.shape:
        raise LongtailError(
            f"{name}: z2 must have the shape of z1 {tuple(z1.shape)}, got {tuple(z2.shape)}; "
            "pass the same batch through the encoder twice"
        )


def _full_precision(z: Tensor) -> AbstractContextManager[Any]:
    """Disable autocast so the similarity matmul really runs in float32."""
    return torch.autocast(device_type=z.device.type, enabled=False)


def _zero(z1: Tensor, z2: Tensor | None) -> Tensor:
    """A float32 zero still connected to the graph of both views, so ``backward()`` works."""
    zero = z1.float().sum() * 0.0
    return zero if z2 is None else zero + z2.float().sum() * 0.0


class SimCSELoss(nn.Module):
    """Unsupervised SimCSE: InfoNCE between two dropout views of the same batch.

    With ``a = normalise(z1)``, ``b = normalise(z2)`` and ``S = a bᵀ / τ``, the positive of row
    ``i`` is the other view of the same document and the negatives are the other documents of the
    batch (in-batch negatives, cross-view only as in the paper). This implementation is the
    *symmetric* form, the mean of both directions::

        loss = ½ [CE(S, arange(B)) + CE(Sᵀ, arange(B))]

    so both views receive the same kind of gradient (the paper uses only the first term). The
    loss is label-free (``target`` is ignored); it is the text analogue of Joint-SSL, which adds a
    self-supervised term to the supervised loss to keep minority-class representations from
    collapsing. A batch of one row has no negatives and gives a zero still connected to the graph.

    Args:
        temperature: Softmax temperature τ > 0 on the cosine similarities.
        weight: λ ≥ 0, the factor the caller applies before adding this to the supervised loss
            (stored, not applied by :meth:`forward`).

    References:
        Gao, Yao and Chen, 2021. SimCSE: Simple Contrastive Learning of Sentence Embeddings.
        arXiv 2104.08821.
        Shwartz-Ziv et al., 2023. Simplifying Neural Network Training Under Class Imbalance.
        arXiv 2312.02517.

    Example:
        >>> aux = build_aux_loss({"name": "simcse", "temperature": 0.05}, task="multiclass")
        >>> loss = aux(torch.randn(8, 32), torch.randn(8, 32), torch.zeros(8))
    """

    needs_second_view = True

    def __init__(self, temperature: float = 0.05, weight: float = 0.1) -> None:
        super().__init__()
        self.temperature = _check_temperature(temperature, typical=0.05)
        self.weight = _check_weight(weight)

    def forward(self, z1: Tensor, z2: Tensor | None, target: Tensor) -> Tensor:
        del target  # label-free
        if z2 is None:
            raise LongtailError(
                "simcse needs a second view z2 (a second forward pass with dropout on); "
                "run it whenever aux_loss.needs_second_view is True"
            )
        _check_views("simcse", z1, z2)
        if z1.shape[0] < 2:
            return _zero(z1, z2)
        with _full_precision(z1):
            a = F.normalize(z1.float(), dim=-1)
            b = F.normalize(z2.float(), dim=-1)
            logits = a @ b.T / self.temperature
            rows = torch.arange(logits.shape[0], device=logits.device)
            # cross_entropy's log_softmax subtracts the row max: stable for small τ.
            return 0.5 * (F.cross_entropy(logits, rows) + F.cross_entropy(logits.T, rows))

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, weight={self.weight}"


class SupConLoss(nn.Module):
    """Supervised contrastive loss, the ``L_out`` form (mean over positives outside the log).

    For anchor ``i`` with positives ``P(i)`` and contrast set ``A(i)`` (every other embedding)::

        ℓ_i = -1/|P(i)| Σ_{p∈P(i)} log[ exp(s_ip / τ) / Σ_{a∈A(i)} exp(s_ia / τ) ]

    with ``s`` the cosine similarity, and the loss is the mean of ``ℓ_i`` over the anchors that
    have at least one positive (the paper's formula, without the ``τ / 0.07`` factor of its
    reference code). When no anchor has a positive the result is a zero still connected to the
    graph, so ``backward()`` works.

    * ``z2=None``: the ``B`` rows are the anchors; positives are the other rows with the same
      label.
    * ``z2`` given: both views form ``2B`` anchors; positives are the other view of the same row
      plus every view of the other rows with the same label.
    * Labels: class indices ``(B,)`` for ``binary`` and ``multiclass``; for ``multilabel`` a
      multi-hot ``(B, C)`` tensor (entries > 0.5 count as labels, so smoothed targets work) and
      two rows are positives of each other when they share at least one label. A row without any
      label is a positive of nothing but its own other view.

    Args:
        task: ``"binary"``, ``"multiclass"`` or ``"multilabel"``: sets the label layout.
        temperature: Softmax temperature τ > 0 on the cosine similarities.
        weight: λ ≥ 0, the factor the caller applies before adding this to the supervised loss
            (stored, not applied by :meth:`forward`).

    References:
        Khosla et al., 2020. Supervised Contrastive Learning. arXiv 2004.11362.

    Example:
        >>> aux = build_aux_loss("supcon", task="multiclass")
        >>> loss = aux(torch.randn(8, 32), None, torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]))
    """

    needs_second_view = False

    def __init__(self, task: str, temperature: float = 0.1, weight: float = 0.1) -> None:
        super().__init__()
        if task not in TASKS:
            raise LongtailError(
                f"unknown task {task!r} for supcon; valid tasks: {', '.join(TASKS)}"
            )
        self.task = task
        self.temperature = _check_temperature(temperature, typical=0.1)
        self.weight = _check_weight(weight)

    def forward(self, z1: Tensor, z2: Tensor | None, target: Tensor) -> Tensor:
        _check_views("supcon", z1, z2)
        same = self._same_label(target, z1.shape[0]).to(z1.device)
        n_rows = z1.shape[0]
        with _full_precision(z1):
            views = [F.normalize(z1.float(), dim=-1)]
            if z2 is not None:
                views.append(F.normalize(z2.float(), dim=-1))
                eye = torch.eye(n_rows, dtype=torch.bool, device=same.device)
                same = (same | eye).repeat(2, 2)  # the other view of a row is its positive
            feats = torch.cat(views)
            is_self = torch.eye(feats.shape[0], dtype=torch.bool, device=feats.device)
            positive = same & ~is_self
            n_pos = positive.sum(dim=1)
            has_pos = n_pos > 0
            if not bool(has_pos.any()):
                return _zero(z1, z2)
            logits = feats @ feats.T / self.temperature
            logits = logits.masked_fill(is_self, -(1.0 / self.temperature + _SELF_MARGIN))
            log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
            pos_sum = torch.where(positive, log_prob, torch.zeros_like(log_prob)).sum(dim=1)
            return -(pos_sum[has_pos] / n_pos[has_pos]).mean()

    def _same_label(self, target: Tensor, n_rows: int) -> Tensor:
        """``(B, B)`` bool: rows ``i`` and ``j`` are positives of each other (diagonal true)."""
        if is_multilabel(self.task):
            if target.dim() != 2 or target.shape[0] != n_rows:
                raise LongtailError(
                    f"supcon: multilabel target must be multi-hot of shape ({n_rows}, C), "
                    f"got {tuple(target.shape)}"
                )
            hot = (target.detach() > 0.5).float()
            return (hot @ hot.T) > 0
        if target.dim() != 1 or target.shape[0] != n_rows:
            raise LongtailError(
                f"supcon: {self.task} target must be class indices of shape ({n_rows},), "
                f"got {tuple(target.shape)}"
            )
        return target[:, None] == target[None, :]

    def extra_repr(self) -> str:
        return f"task={self.task!r}, temperature={self.temperature}, weight={self.weight}"


@AUX_LOSSES.register(OFF)
def no_aux_loss(*, task: str) -> None:
    """``none``: no auxiliary loss (the default)."""
    del task


@AUX_LOSSES.register("simcse")
def simcse(*, task: str, temperature: float = 0.05, weight: float = 0.1) -> SimCSELoss:
    """Build :class:`SimCSELoss` (``simcse``); label-free, so ``task`` is ignored."""
    del task
    return SimCSELoss(temperature=temperature, weight=weight)


@AUX_LOSSES.register("supcon")
def supcon(*, task: str, temperature: float = 0.1, weight: float = 0.1) -> SupConLoss:
    """Build :class:`SupConLoss` (``supcon``) for the given task's label layout."""
    return SupConLoss(task, temperature=temperature, weight=weight)


def build_aux_loss(
    spec: str | Mapping[str, Any] | nn.Module | None, *, task: str
) -> nn.Module | None:
    """Create an auxiliary loss from a registered name, a spec mapping, or pass a module through
    (``"none"`` or ``None``: no auxiliary loss, ``None`` returned).

    Args:
        spec: ``"simcse"``, ``{"name": "supcon", "temperature": 0.1, "weight": 0.2}`` or an
            ``nn.Module`` with ``weight``, ``needs_second_view`` and
            ``forward(z1, z2, target)``.
        task: ``"binary"``, ``"multiclass"`` or ``"multilabel"``.

    Returns:
        A module mapping ``(z1, z2, target)`` to an unweighted scalar; its ``weight`` is λ.

    Example:
        >>> aux = build_aux_loss({"name": "simcse", "weight": 0.1}, task="binary")
        >>> aux.needs_second_view
        True
    """
    return AUX_LOSSES.build(OFF if spec is None else spec, task=task)

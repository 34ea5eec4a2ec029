"""What threshold tuning optimises and returns, shared by every task's tuning.

The per-label search (binary, multilabel) lives in :mod:`longtail.decision.thresholds`, the
multiclass weights in :mod:`longtail.decision.multiclass_weights`; both validate their options
and arrays here and report a :class:`ThresholdTuning`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from longtail.errors import LongtailError

OBJECTIVES: tuple[str, ...] = ("f1", "fbeta", "recall_floor", "precision_floor", "mcc")
#: The objectives that maximise a score, as opposed to the floors, which are constraints: the ones
#: multiclass weights support and SCutFBR's F-score test applies to.
SCORE_OBJECTIVES: tuple[str, ...] = ("f1", "fbeta", "mcc")
DEFAULT_THRESHOLD = 0.5
EPS = 1e-12


@dataclass
class ThresholdTuning:
    """What tuning produced.

    Attributes:
        thresholds: the decision parameters (see :mod:`longtail.decision.thresholds` for their
            shape).
        objective: the objective that was optimised.
        untuned: class/label indices left at their default (no positive validation example).
        infeasible: indices where the precision floor could not be met; these fall back to the
            threshold with the highest precision.
        fallback: indices whose best validation F-beta was below ``fbr``; their threshold is the
            highest validation score (SCutFBR.1, Yang 2001). Multiclass: classes kept at weight
            1 whose validation F-beta stays below ``fbr``.
    """

    thresholds: np.ndarray
    objective: str
    untuned: list[int] = field(default_factory=list)
    infeasible: list[int] = field(default_factory=list)
    fallback: list[int] = field(default_factory=list)


def check_options(objective: str, beta: float, floor: float | None, fbr: float) -> None:
    """Refuse an unknown objective, ``beta <= 0``, a floor objective without a floor in
    ``[0, 1]``, or an ``fbr`` outside ``[0, 1]``."""
    if objective not in OBJECTIVES:
        raise LongtailError(
            f"unknown threshold objective {objective!r}; valid objectives: {', '.join(OBJECTIVES)}"
        )
    if not beta > 0:
        raise LongtailError(f"beta must be > 0, got {beta}")
    if objective.endswith("_floor") and (floor is None or not 0.0 <= floor <= 1.0):
        raise LongtailError(f"objective {objective!r} needs floor in [0, 1], got {floor}")
    if not 0.0 <= fbr <= 1.0:
        raise LongtailError(f"fbr (the SCutFBR fall-back rate) must be in [0, 1], got {fbr}")


def checked_rows(y_true: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(y, p)`` as arrays: ``p`` a finite, non-empty ``(n, C)`` float64 array, ``y`` ``n`` rows."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y_true)
    if p.ndim != 2 or len(p) == 0 or not np.all(np.isfinite(p)):
        raise LongtailError(
            f"probabilities must be a finite, non-empty (n, C) array, got {p.shape}"
        )
    if len(y) != len(p):
        raise LongtailError(f"{len(y)} labels but {len(p)} rows of probabilities")
    return y, p


def checked_classes(y: np.ndarray, num_classes: int) -> np.ndarray:
    """Class indices ``(n,)`` as ``int64``, refused outside ``[0, num_classes)``."""
    y = y.astype(np.int64).reshape(-1)
    if y.min() < 0 or y.max() >= num_classes:
        raise LongtailError(f"labels must be in [0, {num_classes}), got {y.min()}..{y.max()}")
    return y


def checked_columns(probs: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(p, th)`` in float64 for a decision with one parameter per column: ``p`` ``(n, C)``,
    ``th`` ``(C,)``."""
    p = np.asarray(probs, dtype=np.float64)
    th = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if p.ndim != 2 or p.shape[1] != th.size:
        raise LongtailError(
            f"probabilities of shape {p.shape} do not match {th.size} thresholds; expected (n, {th.size})"
        )
    return p, th


def matthews(covariance: np.ndarray | float, variances: np.ndarray | float) -> np.ndarray:
    """Matthews correlation from its numerator and the product under its square root; 0 where
    that product is 0 (everything or nothing predicted, or one class only), as scikit-learn."""
    covariance, variances = np.asarray(covariance, float), np.asarray(variances, float)
    safe = np.where(variances > 0, variances, 1.0)
    return np.where(variances > 0, covariance / np.sqrt(safe), 0.0)

"""Multiclass decision weights: predict ``argmax_c p_c * w_c``, with ``w`` tuned on validation.

A weight per class is the multiclass analogue of a binary threshold: with two classes,
``argmax(p_0 w_0, p_1 w_1)`` is exactly the threshold ``t = w_0 / (w_0 + w_1)`` on ``P(class 1)``.
All ones is plain argmax, the default. The weights maximise macro F-beta, or under
``objective="mcc"`` the multiclass Matthews correlation (Matthews 1975; its multiclass form, one
number over the whole confusion matrix, is Gorodkin's R_K, 2004), which weighs every row alike, so
a large class counts as much as its rows do, where macro-F1 counts every class once.

Multiclass weights overfit, and worse than thresholds: one class's weight takes rows from every
other class. On the Gutenberg novels (docs/benchmarks.md at commit 4e50fb3, the short-budget grids) a class with one validation example got weight
28, which made 73 of the 157 test novels of the majority class wrong. The multiclass form of
SCutFBR (Yang 2001): a class's weight may leave 1 only for a value at which its own validation
F-beta (F1 under ``mcc``) is at least ``fbr``. A class left at 1 with a validation F-beta below
``fbr`` is reported as fallen back. A class can still gain rows when a rival lowers its own
weight; forbidding that as well cost 0.03 macro-F1 on 20 Newsgroups long-tailed and gained
nothing on Gutenberg, so it is allowed.
"""

from __future__ import annotations

import numpy as np

from longtail.decision.objectives import (
    EPS,
    OBJECTIVES,
    SCORE_OBJECTIVES,
    ThresholdTuning,
    check_options,
    checked_classes,
    checked_columns,
    checked_rows,
    matthews,
)
from longtail.errors import LongtailError

# Multiclass weight grid: 81 log-spaced values from 1/100 to 100 (12% steps), 1.0 included exactly.
WEIGHT_GRID = np.geomspace(1e-2, 1e2, 81)
WEIGHT_GRID[40] = 1.0


def multiclass_default_thresholds(num_classes: int) -> np.ndarray:
    """Weights of plain argmax: ``(C,)`` ones."""
    return np.ones(int(num_classes))


def multiclass_untuned_labels(y_true: np.ndarray, num_classes: int | None = None) -> list[int]:
    """The classes in ``range(num_classes)`` absent from the validation set (their weight stays
    1); ``num_classes`` defaults to the largest class seen, plus one."""
    y = np.asarray(y_true)
    present = set(np.unique(y).tolist())
    total = int(num_classes) if num_classes is not None else int(y.max(initial=0)) + 1
    return [c for c in range(total) if c not in present]


def multiclass_tune_thresholds_detailed(
    y_true: np.ndarray,
    probs: np.ndarray,
    objective: str = "f1",
    beta: float = 1.0,
    floor: float | None = None,
    fbr: float = 0.0,
) -> ThresholdTuning:
    """Per-class weights ``(C,)`` tuned on validation class indices ``y_true`` ``(n,)`` and
    softmax ``probs`` ``(n, C)``, for macro ``"f1"``/``"fbeta"`` or the multiclass ``"mcc"``
    (see :func:`longtail.decision.thresholds.tune_thresholds` for the arguments)."""
    if objective in OBJECTIVES and objective not in SCORE_OBJECTIVES:
        raise LongtailError(
            f"objective {objective!r} is only for binary and multilabel tasks; "
            "multiclass weights support 'f1', 'fbeta' (macro) and 'mcc'"
        )
    check_options(objective, beta, floor, fbr)
    y, p = checked_rows(y_true, probs)
    y = checked_classes(y, p.shape[1])
    beta = beta if objective == "fbeta" else 1.0
    return _tune_multiclass_weights(y, p, beta, fbr, objective)


def multiclass_apply_thresholds(probs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``argmax_c p_c * w_c`` of ``probs`` ``(n, C)`` with weights ``(C,)``, as ``int64`` ``(n,)``."""
    p, w = checked_columns(probs, thresholds)
    if np.any(w <= 0):
        raise LongtailError("multiclass decision weights must all be > 0")
    return np.argmax(p * w[None, :], axis=1).astype(np.int64)


def _tune_multiclass_weights(
    y: np.ndarray, p: np.ndarray, beta: float, fbr: float, objective: str, passes: int = 3
) -> ThresholdTuning:
    """Coordinate ascent on per-class weights over :data:`WEIGHT_GRID`, for macro F-beta or, under
    ``objective="mcc"``, the multiclass MCC.

    For class ``c`` with the other weights fixed, each row is won either by ``c`` or by its best
    competitor, so every grid value costs ``O(n)``; the whole grid is scored at once
    (:func:`_multiclass_scores`: the same numbers as one value at a time, and several times
    faster, which matters since early stopping fits this decision after every epoch). A weight
    moves only on a strict improvement, to the best grid value nearest (in log scale) to its
    current value: deterministic, and a validation set on which plain argmax is already optimal
    keeps all weights at 1. A weight other than 1 is admissible only where class ``c``'s own
    validation F-beta is at least ``fbr`` (see the module docstring).
    """
    n, num_classes = p.shape
    weights = np.ones(num_classes)
    support = np.bincount(y, minlength=num_classes)
    present = support > 0
    best, _ = _multiclass_score(y, np.argmax(p, axis=1), support, beta, objective)
    rows = np.arange(n)
    for _ in range(passes):
        improved = False
        for c in np.flatnonzero(present):
            others = p * weights[None, :]
            others[:, c] = -np.inf
            rival = np.argmax(others, axis=1)
            rival_score = others[rows, rival]
            mine = WEIGHT_GRID[:, None] * p[None, :, c]  # (grid, n)
            wins = (mine > rival_score) | ((mine == rival_score) & (c < rival))
            scores, f = _multiclass_scores(y, np.where(wins, c, rival), support, beta, objective)
            # SCutFBR: a class too poor on validation does not earn a weight of its own
            scores[(WEIGHT_GRID != 1.0) & (f[:, c] < fbr)] = -np.inf
            if scores.max() > best + EPS:
                ties = np.flatnonzero(scores >= scores.max() - EPS)
                distance = np.abs(np.log(WEIGHT_GRID[ties]) - np.log(weights[c]))
                weights[c] = WEIGHT_GRID[ties[np.argmin(distance)]]
                best = float(scores.max())
                improved = True
        if not improved:
            break
    f = _per_class_fbeta(y, np.argmax(p * weights[None, :], axis=1), support, beta)
    kept_poor = present & (weights == 1.0) & (f < fbr)  # none when fbr is 0: F is never < 0
    fallback = [int(c) for c in np.flatnonzero(kept_poor)]
    untuned = [int(c) for c in np.flatnonzero(~present)]
    return ThresholdTuning(weights, objective, untuned=untuned, fallback=fallback)


def _multiclass_score(
    y: np.ndarray, pred: np.ndarray, support: np.ndarray, beta: float, objective: str
) -> tuple[float, np.ndarray]:
    """The objective's value for predictions ``pred`` and every class's F-beta (for SCutFBR).

    Macro F-beta averages over the classes validation holds. The multiclass MCC (Gorodkin 2004)
    is ``(n·correct - Σ_k predicted_k·true_k) / sqrt((n² - Σ predicted_k²)(n² - Σ true_k²))``.
    """
    f = _per_class_fbeta(y, pred, support, beta)
    if objective != "mcc":
        return float(f[support > 0].mean()), f
    n, predicted = float(len(y)), np.bincount(pred, minlength=len(support)).astype(np.float64)
    true = support.astype(np.float64)
    covariance = n * float((pred == y).sum()) - float(predicted @ true)
    return float(matthews(covariance, (n * n - predicted @ predicted) * (n * n - true @ true))), f


def _multiclass_scores(
    y: np.ndarray, preds: np.ndarray, support: np.ndarray, beta: float, objective: str
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_multiclass_score` of every row of ``preds`` ``(G, n)`` at once: ``(G,)`` values
    and ``(G, C)`` F-betas, equal to scoring each row alone (counts are exact integers, and each
    row's mean is taken over the same contiguous values in the same order)."""
    num_grid, num_classes = preds.shape[0], len(support)
    offsets = (np.arange(num_grid) * num_classes)[:, None]
    correct = preds == y[None, :]
    size = num_grid * num_classes
    tp = np.bincount((offsets + y[None, :])[correct], minlength=size).astype(np.float64)
    tp = tp.reshape(num_grid, num_classes)
    predicted = np.bincount((offsets + preds).ravel(), minlength=size).reshape(num_grid, -1)
    b2 = beta * beta
    denom = (1 + b2) * tp + b2 * (support[None, :] - tp) + (predicted - tp)
    f = np.divide((1 + b2) * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    if objective != "mcc":
        present = np.ascontiguousarray(f[:, support > 0])
        return np.array([row.mean() for row in present]), f
    n, true = float(len(y)), support.astype(np.float64)
    predicted = predicted.astype(np.float64)
    covariance = n * correct.sum(axis=1) - predicted @ true
    variances = (n * n - (predicted * predicted).sum(axis=1)) * (n * n - true @ true)
    return matthews(covariance, variances), f


def _per_class_fbeta(
    y: np.ndarray, pred: np.ndarray, support: np.ndarray, beta: float
) -> np.ndarray:
    """F-beta of every class ``(C,)`` (0 where it is neither true nor predicted); the caller
    averages it over the classes validation holds, and reads one class's value for SCutFBR."""
    num_classes = len(support)
    tp = np.bincount(y[pred == y], minlength=num_classes).astype(np.float64)
    predicted = np.bincount(pred, minlength=num_classes)
    b2 = beta * beta
    denom = (1 + b2) * tp + b2 * (support - tp) + (predicted - tp)
    return np.divide((1 + b2) * tp, denom, out=np.zeros_like(tp), where=denom > 0)

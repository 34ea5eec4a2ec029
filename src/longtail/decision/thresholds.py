"""Decision thresholds tuned on validation probabilities.

Three shapes of decision, one per task (see :mod:`longtail.tasks`):

* ``binary``: ``thresholds`` has shape ``(1,)``; predict the positive class (index 1) iff
  ``P(class 1) >= t``. Default ``0.5``.
* ``multilabel``: shape ``(C,)``, one threshold per label, default ``0.5``. A label with no positive
  example in the validation set cannot be tuned and keeps its default (see :func:`untuned_labels`).
* ``multiclass``: shape ``(C,)`` per-class *weights* ``w``; the prediction is
  ``argmax_c p_c * w_c`` (all ones = plain argmax). With two classes this is exactly a binary
  threshold ``t = w_0 / (w_0 + w_1)``, so it is the natural multiclass analogue.

Binary and per-label tuning is exact: every distinct validation score is a candidate, and one sort
plus cumulative true/false-positive counts scores all of them in ``O(n log n)``. The returned
threshold is the midpoint between the chosen score and the next lower distinct score, so validation
predictions are unchanged but unseen scores that fall in the gap are not decided by a hair's breadth.
Thresholding a calibrated score to maximise F1 follows Lipton, Elkan and Narayanaswamy (2014,
arXiv 1402.1892), who also show why the F1-optimal threshold is usually well below 0.5.

Rare labels overfit this search: with one validation positive ranked 40th, the "best" threshold
sits just below it and passes 39 negatives, which becomes hundreds of false positives on a test
set. SCutFBR.1 (Yang 2001) guards against it: when a label's best validation F-beta is below the
fall-back rate ``fbr``, its threshold becomes the highest validation score of that label instead,
so it is predicted only for rows that outscore everything seen in validation.

Multiclass weights overfit the same way, and worse: one class's weight takes rows from every other
class. On the Gutenberg novels (docs/benchmarks.md at commit 4e50fb3, the short-budget grids) a class with one validation example got weight
28, which made 73 of the 157 test novels of the majority class wrong. The multiclass form of
SCutFBR: a class's weight may leave 1 only for a value at which its own validation F-beta is at
least ``fbr``. A class left at 1 with a validation F-beta below ``fbr`` is reported as fallen
back. A class can still gain rows when a rival lowers its own weight; forbidding that as well
cost 0.03 macro-F1 on 20 Newsgroups long-tailed and gained nothing on Gutenberg, so it is allowed.

The ``mcc`` objective maximises the Matthews correlation coefficient instead of an F-score
(Matthews 1975; its multiclass form, one number over the whole confusion matrix, is Gorodkin's
R_K, 2004). Per label it is the binary MCC, which also counts true negatives; for multiclass
weights it is the single multiclass MCC, which weighs every row alike, so a large class counts
as much as its rows do, where macro-F1 counts every class once. It is the objective for a user
who reports MCC, or who cannot afford the head classes that macro-F1 weights will give away for
a rare class's gain. SCutFBR stays an F-score test under it: a label falls back when its F1 at
its MCC-best threshold is below ``fbr``; a class's weight may leave 1 only where its own F1
is at least ``fbr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from longtail.errors import LongtailError
from longtail.tasks import TASKS

OBJECTIVES: tuple[str, ...] = ("f1", "fbeta", "recall_floor", "precision_floor", "mcc")
#: The objectives that maximise a score, as opposed to the floors, which are constraints: the ones
#: multiclass weights support and SCutFBR's F-score test applies to.
SCORE_OBJECTIVES: tuple[str, ...] = ("f1", "fbeta", "mcc")
DEFAULT_THRESHOLD = 0.5
# Multiclass weight grid: 81 log-spaced values from 1/100 to 100 (12% steps), 1.0 included exactly.
WEIGHT_GRID = np.geomspace(1e-2, 1e2, 81)
WEIGHT_GRID[40] = 1.0
_EPS = 1e-12


@dataclass
class ThresholdTuning:
    """What tuning produced.

    Attributes:
        thresholds: the decision parameters (see the module docstring for their shape).
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


def default_thresholds(task: str, num_classes: int) -> np.ndarray:
    """The decision parameters used when nothing was tuned (0.5, or plain argmax)."""
    _check_task(task)
    if task == "binary":
        return np.array([DEFAULT_THRESHOLD])
    if task == "multiclass":
        return np.ones(int(num_classes))
    return np.full(int(num_classes), DEFAULT_THRESHOLD)


def untuned_labels(task: str, y_true: np.ndarray, num_classes: int | None = None) -> list[int]:
    """Indices that tuning leaves at the default: labels with no positive validation example.

    For ``binary`` that is ``[1]`` when the validation set has no positive; for ``multiclass`` the
    classes in ``range(num_classes)`` absent from the validation set (their weight stays 1).
    """
    _check_task(task)
    y = np.asarray(y_true)
    if task == "multilabel":
        return [int(c) for c in np.flatnonzero(y.reshape(len(y), -1).sum(axis=0) == 0)]
    if task == "binary":
        return [] if np.any(y == 1) else [1]
    present = set(np.unique(y).tolist())
    total = int(num_classes) if num_classes is not None else int(y.max(initial=0)) + 1
    return [c for c in range(total) if c not in present]


def tune_thresholds(
    task: str,
    y_true: np.ndarray,
    probs: np.ndarray,
    objective: str = "f1",
    beta: float = 1.0,
    floor: float | None = None,
    fbr: float = 0.0,
) -> np.ndarray:
    """Tune decision thresholds (or multiclass weights) on validation probabilities.

    Args:
        task: ``"binary"``, ``"multiclass"`` or ``"multilabel"``.
        y_true: validation labels, ``(n,)`` ints or ``(n, C)`` multi-hot.
        probs: validation probabilities ``(n, C)`` (softmax or sigmoid).
        objective: ``"f1"``, ``"fbeta"`` (uses ``beta``), ``"mcc"`` (Matthews correlation),
            ``"recall_floor"`` (maximise precision subject to recall >= ``floor``) or
            ``"precision_floor"`` (maximise recall subject to precision >= ``floor``). Multiclass
            supports ``"f1"`` and ``"fbeta"`` (macro) and ``"mcc"`` (the multiclass MCC).
        beta: the F-beta weight; recall counts ``beta`` times as much as precision.
        floor: the constraint for the ``*_floor`` objectives, in ``[0, 1]``.
        fbr: SCutFBR.1 fall-back rate for ``"f1"``/``"fbeta"``/``"mcc"`` (0 = off), tested on
            the F-score (F1 under ``"mcc"``). Binary and multilabel: a label whose F-score at
            its chosen threshold is below it gets the highest validation score as its
            threshold. Multiclass: a weight may leave 1 only for a value at which the class's
            validation F-score is at least ``fbr``.

    Returns:
        Thresholds of shape ``(1,)`` (binary) or weights/thresholds of shape ``(C,)``.

    References:
        Lipton, Elkan, Narayanaswamy (2014). Thresholding Classifiers to Maximize F1 Score.
        arXiv 1402.1892.
        Yang, Y. (2001). A study of thresholding strategies for text categorization. SIGIR.

    Example:
        >>> th = tune_thresholds("binary", y_val, p_val, objective="f1")
        >>> y_hat = apply_thresholds("binary", p_test, th)
    """
    return tune_thresholds_detailed(task, y_true, probs, objective, beta, floor, fbr).thresholds


def tune_thresholds_detailed(
    task: str,
    y_true: np.ndarray,
    probs: np.ndarray,
    objective: str = "f1",
    beta: float = 1.0,
    floor: float | None = None,
    fbr: float = 0.0,
) -> ThresholdTuning:
    """Like :func:`tune_thresholds` but also reports untuned, infeasible and fall-back labels."""
    _check_task(task)
    _check_objective(task, objective, beta, floor)
    if not 0.0 <= fbr <= 1.0:
        raise LongtailError(f"fbr (the SCutFBR fall-back rate) must be in [0, 1], got {fbr}")
    y, p = _check_arrays(task, y_true, probs)
    beta = beta if objective == "fbeta" else 1.0
    if task == "multiclass":
        return _tune_multiclass_weights(y, p, beta, fbr, objective)
    if task == "binary":
        y, p = (y == 1)[:, None], p[:, 1:2]
    result = ThresholdTuning(default_thresholds("multilabel", p.shape[1]), objective)
    for c in range(p.shape[1]):
        positives = y[:, c].astype(bool)
        if not positives.any():
            result.untuned.append(1 if task == "binary" else c)
            continue
        threshold, feasible, f_score = _best_threshold(positives, p[:, c], objective, beta, floor)
        if objective in SCORE_OBJECTIVES and f_score < fbr:  # SCutFBR.1 (Yang 2001)
            threshold = float(p[:, c].max())
            result.fallback.append(1 if task == "binary" else c)
        result.thresholds[c] = threshold
        if not feasible:
            result.infeasible.append(1 if task == "binary" else c)
    return result


def apply_thresholds(task: str, probs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Turn probabilities into predictions with tuned (or default) thresholds.

    Returns:
        ``int64`` class indices ``(n,)`` for binary/multiclass; ``int64`` multi-hot ``(n, C)`` for
        multilabel.
    """
    _check_task(task)
    p = np.asarray(probs, dtype=np.float64)
    th = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if task == "binary":
        if th.size != 1:
            raise LongtailError(f"binary thresholds must hold one value, got {th.size}")
        positive = p if p.ndim == 1 else _two_columns(p)[:, 1]
        return (positive >= th[0]).astype(np.int64)
    if p.ndim != 2 or p.shape[1] != th.size:
        raise LongtailError(
            f"probabilities of shape {p.shape} do not match {th.size} thresholds; expected (n, {th.size})"
        )
    if task == "multilabel":
        return (p >= th[None, :]).astype(np.int64)
    if np.any(th <= 0):
        raise LongtailError("multiclass decision weights must all be > 0")
    return np.argmax(p * th[None, :], axis=1).astype(np.int64)


def _best_threshold(
    positives: np.ndarray, scores: np.ndarray, objective: str, beta: float, floor: float | None
) -> tuple[float, bool, float]:
    """Exact search over distinct scores for one binary problem.

    Returns ``(threshold, feasible, f_score)``: ``f_score`` is the F-beta at the chosen threshold
    (F1 under ``mcc``; the floor objectives do not read it), what SCutFBR tests.
    """
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], positives[order]
    last = np.flatnonzero(np.r_[s[1:] != s[:-1], True])  # last row of each distinct score
    tp = np.cumsum(y)[last].astype(np.float64)
    fp = np.cumsum(~y)[last].astype(np.float64)
    candidates = s[last]  # descending; candidate k predicts positive iff score >= candidates[k]
    precision = tp / (tp + fp)
    num_positive = positives.sum()
    recall = tp / num_positive
    b2 = beta * beta
    fbeta = (1 + b2) * tp / ((1 + b2) * tp + b2 * (num_positive - tp) + fp)
    feasible = True
    if objective in ("f1", "fbeta"):
        k = int(np.argmax(fbeta))  # ties -> the highest threshold
    elif objective == "mcc":
        fn, tn = num_positive - tp, len(positives) - num_positive - fp
        k = int(np.argmax(_mcc(tp * tn - fp * fn, (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))))
    else:
        primary, secondary = (
            (precision, recall) if objective == "recall_floor" else (recall, precision)
        )
        constrained = recall if objective == "recall_floor" else precision
        ok = constrained >= float(floor) - _EPS
        if not ok.any():  # only possible for precision_floor: fall back to the best precision
            feasible, ok, primary, secondary = False, np.ones_like(ok), precision, recall
        idx = np.flatnonzero(ok)
        k = int(idx[np.lexsort((secondary[idx], primary[idx]))[-1]])
    if k + 1 < len(candidates):
        mid = 0.5 * (candidates[k] + candidates[k + 1])
        return float(mid if mid > candidates[k + 1] else candidates[k]), feasible, float(fbeta[k])
    return float(candidates[k]), feasible, float(fbeta[k])


def _mcc(covariance: np.ndarray | float, variances: np.ndarray | float) -> np.ndarray:
    """Matthews correlation from its numerator and the product under its square root; 0 where
    that product is 0 (everything or nothing predicted, or one class only), as scikit-learn."""
    covariance, variances = np.asarray(covariance, float), np.asarray(variances, float)
    safe = np.where(variances > 0, variances, 1.0)
    return np.where(variances > 0, covariance / np.sqrt(safe), 0.0)


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
            if scores.max() > best + _EPS:
                ties = np.flatnonzero(scores >= scores.max() - _EPS)
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
    return float(_mcc(covariance, (n * n - predicted @ predicted) * (n * n - true @ true))), f


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
    return _mcc(covariance, variances), f


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


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise LongtailError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")


def _check_objective(task: str, objective: str, beta: float, floor: float | None) -> None:
    if objective not in OBJECTIVES:
        raise LongtailError(
            f"unknown threshold objective {objective!r}; valid objectives: {', '.join(OBJECTIVES)}"
        )
    if task == "multiclass" and objective not in SCORE_OBJECTIVES:
        raise LongtailError(
            f"objective {objective!r} is only for binary and multilabel tasks; "
            "multiclass weights support 'f1', 'fbeta' (macro) and 'mcc'"
        )
    if not beta > 0:
        raise LongtailError(f"beta must be > 0, got {beta}")
    if objective.endswith("_floor") and (floor is None or not 0.0 <= floor <= 1.0):
        raise LongtailError(f"objective {objective!r} needs floor in [0, 1], got {floor}")


def _two_columns(p: np.ndarray) -> np.ndarray:
    if p.ndim != 2 or p.shape[1] != 2:
        raise LongtailError(f"binary probabilities must have shape (n, 2), got {p.shape}")
    return p


def _check_arrays(
    task: str, y_true: np.ndarray, probs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y_true)
    if task == "binary":
        p = _two_columns(p)
    if p.ndim != 2 or len(p) == 0 or not np.all(np.isfinite(p)):
        raise LongtailError(
            f"probabilities must be a finite, non-empty (n, C) array, got {p.shape}"
        )
    if len(y) != len(p):
        raise LongtailError(f"{len(y)} labels but {len(p)} rows of probabilities")
    if task == "multilabel":
        if y.shape != p.shape:
            raise LongtailError(f"multilabel y_true shape {y.shape} != probabilities {p.shape}")
        return (y > 0.5), p
    y = y.astype(np.int64).reshape(-1)
    if y.min() < 0 or y.max() >= p.shape[1]:
        raise LongtailError(f"labels must be in [0, {p.shape[1]}), got {y.min()}..{y.max()}")
    return y, p

"""Decision thresholds tuned on validation probabilities.

Three shapes of decision, one per task (see :mod:`longtail.tasks`):

* ``binary``: ``thresholds`` has shape ``(1,)``; predict the positive class (index 1) iff
  ``P(class 1) >= t``. Default ``0.5``.
* ``multilabel``: shape ``(C,)``, one threshold per label, default ``0.5``. A label with no positive
  example in the validation set cannot be tuned and keeps its default (see :func:`untuned_labels`).
* ``multiclass``: shape ``(C,)`` per-class *weights* ``w``; the prediction is
  ``argmax_c p_c * w_c`` (all ones = plain argmax). With two classes this is exactly a binary
  threshold ``t = w_0 / (w_0 + w_1)``, so it is the natural multiclass analogue; its tuning is in
  :mod:`longtail.decision.multiclass_weights`.

Each public function here takes the task and dispatches (:class:`longtail.tasks.ByTask`) to its
per-task form, ``binary_<name>``, ``multiclass_<name>`` or ``multilabel_<name>``, which can also be
called directly.

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

The ``mcc`` objective maximises the Matthews correlation coefficient instead of an F-score
(Matthews 1975). Per label it is the binary MCC, which also counts true negatives (for multiclass
weights, the single multiclass MCC). It is the objective for a user who reports MCC, or who cannot
afford the head classes that macro-F1 weights will give away for a rare class's gain. SCutFBR
stays an F-score test under it: a label falls back when its F1 at its MCC-best threshold is below
``fbr``; a class's weight may leave 1 only where its own F1 is at least ``fbr``.
"""

from __future__ import annotations

import numpy as np

from longtail.decision.multiclass_weights import (
    multiclass_apply_thresholds,
    multiclass_default_thresholds,
    multiclass_tune_thresholds_detailed,
    multiclass_untuned_labels,
)
from longtail.decision.objectives import (
    DEFAULT_THRESHOLD,
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
from longtail.tasks import ByTask

__all__ = [
    "DEFAULT_THRESHOLD",
    "OBJECTIVES",
    "SCORE_OBJECTIVES",
    "ThresholdTuning",
    "apply_thresholds",
    "binary_apply_thresholds",
    "binary_default_thresholds",
    "binary_tune_thresholds_detailed",
    "binary_untuned_labels",
    "default_thresholds",
    "multiclass_apply_thresholds",
    "multiclass_default_thresholds",
    "multiclass_tune_thresholds_detailed",
    "multiclass_untuned_labels",
    "multilabel_apply_thresholds",
    "multilabel_default_thresholds",
    "multilabel_tune_thresholds_detailed",
    "multilabel_untuned_labels",
    "tune_thresholds",
    "tune_thresholds_detailed",
    "untuned_labels",
]


def default_thresholds(task: str, num_classes: int) -> np.ndarray:
    """The decision parameters used when nothing was tuned (0.5, or plain argmax)."""
    return _DEFAULTS[task](num_classes)


def binary_default_thresholds(num_classes: int = 2) -> np.ndarray:
    """``[0.5]``: one threshold on ``P(class 1)`` (``num_classes`` is not read)."""
    return np.array([DEFAULT_THRESHOLD])


def multilabel_default_thresholds(num_classes: int) -> np.ndarray:
    """``0.5`` for every label: ``(C,)``."""
    return np.full(int(num_classes), DEFAULT_THRESHOLD)


def untuned_labels(task: str, y_true: np.ndarray, num_classes: int | None = None) -> list[int]:
    """Indices that tuning leaves at the default: labels with no positive validation example.

    For ``binary`` that is ``[1]`` when the validation set has no positive; for ``multiclass`` the
    classes in ``range(num_classes)`` absent from the validation set (their weight stays 1).
    """
    return _UNTUNED[task](y_true, num_classes)


def binary_untuned_labels(y_true: np.ndarray, num_classes: int | None = None) -> list[int]:
    """``[1]`` when ``y_true`` holds no positive (class 1), else ``[]``."""
    return [] if np.any(np.asarray(y_true) == 1) else [1]


def multilabel_untuned_labels(y_true: np.ndarray, num_classes: int | None = None) -> list[int]:
    """The labels (columns of the multi-hot ``y_true``) that no validation row has."""
    y = np.asarray(y_true)
    return [int(c) for c in np.flatnonzero(y.reshape(len(y), -1).sum(axis=0) == 0)]


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
    return _TUNE[task](y_true, probs, objective, beta, floor, fbr)


def binary_tune_thresholds_detailed(
    y_true: np.ndarray,
    probs: np.ndarray,
    objective: str = "f1",
    beta: float = 1.0,
    floor: float | None = None,
    fbr: float = 0.0,
) -> ThresholdTuning:
    """One threshold ``(1,)`` on ``P(class 1)`` tuned on class indices ``y_true`` ``(n,)`` and
    ``probs`` ``(n, 2)``; an untuned, infeasible or fall-back threshold is reported as class 1."""
    check_options(objective, beta, floor, fbr)
    y, p = checked_rows(y_true, _two_columns(np.asarray(probs, dtype=np.float64)))
    y = checked_classes(y, p.shape[1])
    beta = beta if objective == "fbeta" else 1.0
    return _tune_columns((y == 1)[:, None], p[:, 1:2], [1], objective, beta, floor, fbr)


def multilabel_tune_thresholds_detailed(
    y_true: np.ndarray,
    probs: np.ndarray,
    objective: str = "f1",
    beta: float = 1.0,
    floor: float | None = None,
    fbr: float = 0.0,
) -> ThresholdTuning:
    """One threshold per label ``(C,)`` tuned on multi-hot ``y_true`` and ``probs``, both
    ``(n, C)``, each label on its own."""
    check_options(objective, beta, floor, fbr)
    y, p = checked_rows(y_true, probs)
    if y.shape != p.shape:
        raise LongtailError(f"multilabel y_true shape {y.shape} != probabilities {p.shape}")
    beta = beta if objective == "fbeta" else 1.0
    columns = list(range(p.shape[1]))
    return _tune_columns(y > 0.5, p, columns, objective, beta, floor, fbr)


def apply_thresholds(task: str, probs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Turn probabilities into predictions with tuned (or default) thresholds.

    Returns:
        ``int64`` class indices ``(n,)`` for binary/multiclass; ``int64`` multi-hot ``(n, C)`` for
        multilabel.
    """
    return _APPLY[task](probs, thresholds)


def binary_apply_thresholds(probs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``P(class 1) >= t`` as ``int64`` ``(n,)``: ``probs`` ``(n, 2)``, or ``(n,)`` of
    ``P(class 1)``; ``thresholds`` holds the one ``t``."""
    p = np.asarray(probs, dtype=np.float64)
    th = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if th.size != 1:
        raise LongtailError(f"binary thresholds must hold one value, got {th.size}")
    positive = p if p.ndim == 1 else _two_columns(p)[:, 1]
    return (positive >= th[0]).astype(np.int64)


def multilabel_apply_thresholds(probs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``p_j >= t_j`` for every label, as an ``int64`` multi-hot ``(n, C)``."""
    p, th = checked_columns(probs, thresholds)
    return (p >= th[None, :]).astype(np.int64)


def _tune_columns(
    positives: np.ndarray,
    scores: np.ndarray,
    names: list[int],
    objective: str,
    beta: float,
    floor: float | None,
    fbr: float,
) -> ThresholdTuning:
    """The exact search of :func:`_best_threshold` for each column of ``scores`` against the
    same column of the 0/1 ``positives``, with SCutFBR.1; column ``k`` is reported as
    ``names[k]``."""
    result = ThresholdTuning(np.full(scores.shape[1], DEFAULT_THRESHOLD), objective)
    for k, name in enumerate(names):
        column = positives[:, k].astype(bool)
        if not column.any():
            result.untuned.append(name)
            continue
        threshold, feasible, f_score = _best_threshold(column, scores[:, k], objective, beta, floor)
        if objective in SCORE_OBJECTIVES and f_score < fbr:  # SCutFBR.1 (Yang 2001)
            threshold = float(scores[:, k].max())
            result.fallback.append(name)
        result.thresholds[k] = threshold
        if not feasible:
            result.infeasible.append(name)
    return result


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
        k = int(
            np.argmax(matthews(tp * tn - fp * fn, (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))
        )
    else:
        primary, secondary = (
            (precision, recall) if objective == "recall_floor" else (recall, precision)
        )
        constrained = recall if objective == "recall_floor" else precision
        ok = constrained >= float(floor) - EPS
        if not ok.any():  # only possible for precision_floor: fall back to the best precision
            feasible, ok, primary, secondary = False, np.ones_like(ok), precision, recall
        idx = np.flatnonzero(ok)
        k = int(idx[np.lexsort((secondary[idx], primary[idx]))[-1]])
    if k + 1 < len(candidates):
        mid = 0.5 * (candidates[k] + candidates[k + 1])
        return float(mid if mid > candidates[k + 1] else candidates[k]), feasible, float(fbeta[k])
    return float(candidates[k]), feasible, float(fbeta[k])


def _two_columns(p: np.ndarray) -> np.ndarray:
    if p.ndim != 2 or p.shape[1] != 2:
        raise LongtailError(f"binary probabilities must have shape (n, 2), got {p.shape}")
    return p


_DEFAULTS = ByTask(
    binary=binary_default_thresholds,
    multiclass=multiclass_default_thresholds,
    multilabel=multilabel_default_thresholds,
)
_UNTUNED = ByTask(
    binary=binary_untuned_labels,
    multiclass=multiclass_untuned_labels,
    multilabel=multilabel_untuned_labels,
)
_TUNE = ByTask(
    binary=binary_tune_thresholds_detailed,
    multiclass=multiclass_tune_thresholds_detailed,
    multilabel=multilabel_tune_thresholds_detailed,
)
_APPLY = ByTask(
    binary=binary_apply_thresholds,
    multiclass=multiclass_apply_thresholds,
    multilabel=multilabel_apply_thresholds,
)

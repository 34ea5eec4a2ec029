"""Isotonic calibration: a monotone, piecewise-linear map of each class's probability.

Isotonic regression (Zadrozny & Elkan 2002) fits the non-decreasing step function of a score that
is closest, in squared error, to the 0/1 outcomes (pool-adjacent-violators); prediction
interpolates linearly between its breakpoints and clips outside them, as scikit-learn's
``IsotonicRegression(out_of_bounds="clip")``. Unlike temperature scaling (one parameter) it can
bend any monotone miscalibration, and it needs more validation data to do so without overfitting.

Per task:

* ``binary``: one map of ``P(positive)``; ``P(negative) = 1 - P(positive)``.
* ``multilabel``: one map per label, applied independently.
* ``multiclass``: one map per class, fitted one-vs-rest on ``P(class c)``, then every row is
  renormalised to sum to 1 (Zadrozny & Elkan 2002, section 4: calibrate each binary problem, then
  normalise). A row that every map sends to 0 keeps its uncalibrated probabilities.

A column with fewer than :data:`MIN_EXAMPLES` validation positives or negatives keeps its
uncalibrated probability (the identity map, listed in ``uncalibrated``): one rare class's map
fitted to a single example would send it to 0 almost everywhere. When no column has enough, the
fit fails with :func:`check_isotonic_validation`'s one-line error, which names the fix.

The fitted maps are plain numbers (breakpoints), stored in ``longtail.json``: never pickled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from longtail.errors import LongtailError
from longtail.tasks import ByTask

#: A class needs this many validation examples of it and not of it to get its own map.
MIN_EXAMPLES = 2


@dataclass(frozen=True)
class IsotonicCalibration:
    """Per-column isotonic maps: ``x[j]`` (non-decreasing) and ``y[j]`` breakpoints.

    Attributes:
        x: breakpoints on the uncalibrated probability, one array per column.
        y: calibrated values at those breakpoints (non-decreasing, in ``[0, 1]``).
        uncalibrated: columns left with the identity map (too few validation examples).
    """

    x: list[np.ndarray]
    y: list[np.ndarray]
    uncalibrated: list[int] = field(default_factory=list)

    def apply(self, task: str, probs: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of ``probs`` (``(n, C)``, from :func:`probabilities`)."""
        return _APPLY[task](self, np.asarray(probs, dtype=np.float64))

    def to_json(self) -> dict[str, Any]:
        return {
            "x": [a.tolist() for a in self.x],
            "y": [a.tolist() for a in self.y],
            "uncalibrated": list(self.uncalibrated),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IsotonicCalibration:
        return cls(
            [np.asarray(a, dtype=np.float64) for a in data["x"]],
            [np.asarray(a, dtype=np.float64) for a in data["y"]],
            [int(c) for c in data.get("uncalibrated") or []],
        )


def fit_isotonic(task: str, probs: np.ndarray, y_true: np.ndarray) -> IsotonicCalibration:
    """Fit one isotonic map per column on validation probabilities (see the module docstring).

    Args:
        task: ``"binary"``, ``"multiclass"`` or ``"multilabel"``.
        probs: validation probabilities ``(n, C)`` (``(n, 2)`` for binary).
        y_true: validation labels, ``(n,)`` class indices or ``(n, C)`` multi-hot.

    Raises:
        LongtailError: no column has :data:`MIN_EXAMPLES` positives and negatives.

    References:
        Zadrozny, B., Elkan, C. (2002). Transforming classifier scores into accurate multiclass
        probability estimates. KDD.

    Example:
        >>> iso = fit_isotonic("multiclass", val_probs, val_y)
        >>> test_probs = iso.apply("multiclass", probabilities(test_logits, "multiclass"))
    """
    p = np.asarray(probs, dtype=np.float64)
    columns, targets = _TARGETS[task](y_true, p.shape[1])
    scores = [p[:, j] for j in columns]
    check_isotonic_validation(task, y_true, p.shape[1])
    xs, ys, uncalibrated = [], [], []
    for k, column in enumerate(columns):
        positives = int(targets[:, k].sum())
        if min(positives, len(scores[k]) - positives) < MIN_EXAMPLES:
            xs.append(np.array([0.0, 1.0]))
            ys.append(np.array([0.0, 1.0]))
            uncalibrated.append(column)
            continue
        x, y = isotonic_breakpoints(scores[k], targets[:, k])
        xs.append(x)
        ys.append(y)
    return IsotonicCalibration(xs, ys, uncalibrated)


def check_isotonic_validation(task: str, y_true: np.ndarray, num_classes: int) -> None:
    """Refuse a validation set on which no class can get an isotonic map, naming the fix."""
    y = np.asarray(y_true)
    _, targets = _TARGETS[task](y, num_classes)
    positives = targets.sum(axis=0)
    enough = (positives >= MIN_EXAMPLES) & (len(y) - positives >= MIN_EXAMPLES)
    if enough.any():
        return
    most = int(positives.max(initial=0))
    raise LongtailError(
        f"decision.calibrate=isotonic needs at least {MIN_EXAMPLES} validation examples of a "
        f"class (and {MIN_EXAMPLES} not of it); the {len(y)} validation rows hold at most "
        f"{most} per class: use decision.calibrate=temperature (one parameter, fits any "
        "validation set) or more validation rows (--val-fraction or --validation-data)"
    )


def isotonic_breakpoints(scores: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The non-decreasing least-squares fit of ``targets`` on ``scores``, as breakpoints.

    Tied scores are pooled first (their mean target, weighted by their count), then
    pool-adjacent-violators merges neighbouring blocks until the means are non-decreasing. Each
    constant block keeps its first and last score, so ``np.interp(s, x, y)`` is the fitted step
    function with linear interpolation between blocks (scikit-learn's ``IsotonicRegression``).
    """
    s = np.asarray(scores, dtype=np.float64)
    t = np.asarray(targets, dtype=np.float64)
    unique, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    means = np.bincount(inverse, weights=t) / counts
    values: list[float] = []
    weights: list[float] = []
    starts: list[int] = []  # index into ``unique`` of each block's first score
    for i, (mean, weight) in enumerate(zip(means.tolist(), counts.tolist(), strict=True)):
        start = i
        while values and values[-1] >= mean:  # a violation (or a tie): pool with the last block
            total = weights[-1] + weight
            mean = (values.pop() * weights[-1] + mean * weight) / total
            weight = total
            weights.pop()
            start = starts.pop()
        values.append(mean)
        weights.append(weight)
        starts.append(start)
    ends = [*(b - 1 for b in starts[1:]), len(unique) - 1]
    x: list[float] = []
    y: list[float] = []
    for value, first, last in zip(values, starts, ends, strict=True):
        x.extend([unique[first], unique[last]] if last > first else [unique[first]])
        y.extend([value, value] if last > first else [value])
    return np.asarray(x), np.clip(np.asarray(y), 0.0, 1.0)


def _binary_targets(y_true: np.ndarray, num_columns: int) -> tuple[list[int], np.ndarray]:
    """Binary calibrates one column, ``P(positive)``: ``([1], (n, 1))``."""
    y = np.asarray(y_true).astype(np.int64).reshape(-1)
    return [1], (y == 1).astype(np.float64)[:, None]


def _multiclass_targets(y_true: np.ndarray, num_columns: int) -> tuple[list[int], np.ndarray]:
    """Every class, one-vs-rest: ``(range(C), (n, C))`` one-hot."""
    y = np.asarray(y_true).astype(np.int64).reshape(-1)
    one_hot = (y[:, None] == np.arange(num_columns)[None, :]).astype(np.float64)
    return list(range(num_columns)), one_hot


def _multilabel_targets(y_true: np.ndarray, num_columns: int) -> tuple[list[int], np.ndarray]:
    """Every label: ``(range(C), (n, C))`` multi-hot."""
    y = np.asarray(y_true)
    return list(range(num_columns)), (y.reshape(len(y), -1) > 0.5).astype(np.float64)


def _binary_apply(maps: IsotonicCalibration, p: np.ndarray) -> np.ndarray:
    """One map of ``P(positive)``; ``P(negative) = 1 - P(positive)``."""
    positive = np.interp(p[:, 1], maps.x[0], maps.y[0])
    return np.stack([1.0 - positive, positive], axis=1)


def _multiclass_apply(maps: IsotonicCalibration, p: np.ndarray) -> np.ndarray:
    """Each class's map, then every row renormalised to sum to 1; a row that every map sends to
    0 keeps its uncalibrated probabilities."""
    out = _each_column(maps, p)
    total = out.sum(axis=1, keepdims=True)
    return np.where(total > 0, out / np.where(total > 0, total, 1.0), p)


def _multilabel_apply(maps: IsotonicCalibration, p: np.ndarray) -> np.ndarray:
    """Each label's map on its own column."""
    return _each_column(maps, p)


def _each_column(maps: IsotonicCalibration, p: np.ndarray) -> np.ndarray:
    if p.shape[1] != len(maps.x):
        raise LongtailError(f"{len(maps.x)} isotonic maps for {p.shape[1]} probability columns")
    return np.stack([np.interp(p[:, j], maps.x[j], maps.y[j]) for j in range(p.shape[1])], 1)


_TARGETS = ByTask(
    binary=_binary_targets, multiclass=_multiclass_targets, multilabel=_multilabel_targets
)
_APPLY = ByTask(binary=_binary_apply, multiclass=_multiclass_apply, multilabel=_multilabel_apply)

"""The numbers the report's figures draw, computed apart from drawing them.

Pure NumPy, so each can be checked against a direct computation: where a decision sits on the
precision-recall and ROC planes, the bins of a reliability diagram (the binning of the report's
expected calibration error; Guo et al. 2017, "On Calibration of Modern Neural Networks", ICML),
and which classes a crowded figure keeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from longtail.errors import LongtailError
from longtail.evaluation.metrics import ECE_BINS
from longtail.tasks import ByTask

MAX_CURVES = 20  # classes drawn in one figure; beyond this, the rarest are kept


class OperatingPoint(NamedTuple):
    """Where a decision sits on the PR and ROC planes (``zero_division=0`` like the metrics)."""

    precision: float
    recall: float
    fpr: float


@dataclass(frozen=True)
class ReliabilityBins:
    """Equal-width ``(lo, hi]`` bins of a reliability diagram (the binning of the report's ECE).

    Attributes:
        edges: ``(B + 1,)`` bin edges from 0 to 1.
        count: ``(B,)`` examples per bin.
        confidence: ``(B,)`` mean predicted probability per bin (NaN where empty).
        accuracy: ``(B,)`` observed frequency of the event per bin (NaN where empty).
        ece: the count-weighted mean of ``|accuracy - confidence|``.
    """

    edges: np.ndarray
    count: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    ece: float


def operating_point(truth: np.ndarray, decided: np.ndarray) -> OperatingPoint:
    """Precision, recall and false-positive rate of 0/1 ``decided`` against 0/1 ``truth``."""
    t = np.asarray(truth).astype(bool).reshape(-1)
    d = np.asarray(decided).astype(bool).reshape(-1)
    tp, fp = float(np.sum(t & d)), float(np.sum(~t & d))
    pos, neg = float(t.sum()), float((~t).sum())
    return OperatingPoint(
        tp / (tp + fp) if tp + fp else 0.0, tp / pos if pos else 0.0, fp / neg if neg else 0.0
    )


def threshold_point(truth: np.ndarray, scores: np.ndarray, threshold: float) -> OperatingPoint:
    """The operating point of ``score >= threshold`` (the rule of ``apply_thresholds``)."""
    return operating_point(truth, np.asarray(scores, dtype=np.float64) >= float(threshold))


def reliability_bins(
    confidences: np.ndarray, outcomes: np.ndarray, n_bins: int = ECE_BINS
) -> ReliabilityBins:
    """Bin probabilities like :func:`~longtail.evaluation.metrics.expected_calibration_error`."""
    conf = np.asarray(confidences, dtype=np.float64).reshape(-1)
    hit = np.asarray(outcomes, dtype=np.float64).reshape(-1)
    if conf.size == 0 or conf.shape != hit.shape:
        raise LongtailError(f"reliability bins need equal, non-empty arrays, got {conf.size}")
    which = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    conf_sum = np.bincount(which, conf, n_bins)
    hit_sum = np.bincount(which, hit, n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf, accuracy = conf_sum / count, hit_sum / count
    ece = float(np.abs(hit_sum - conf_sum).sum() / conf.size)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return ReliabilityBins(edges, count, mean_conf, accuracy, ece)


def calibration_inputs(
    task: str, y_true: np.ndarray, probs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(confidence, outcome)`` pairs for a reliability diagram.

    Binary: P(positive) vs "is positive"; multiclass: the top-label confidence vs "argmax is
    right"; multilabel: every label probability vs its 0/1 truth, pooled.
    """
    return _CALIBRATION_INPUTS[task](y_true, probs)


def binary_calibration_inputs(
    y_true: np.ndarray, probs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``P(positive)`` against "the example is positive"."""
    p, y = np.asarray(probs, dtype=np.float64), np.asarray(y_true)
    return p[:, 1], (y == 1).astype(np.float64)


def multiclass_calibration_inputs(
    y_true: np.ndarray, probs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The top-label confidence against "the argmax class is right"."""
    p, y = np.asarray(probs, dtype=np.float64), np.asarray(y_true)
    return p.max(axis=1), (p.argmax(axis=1) == y).astype(np.float64)


def multilabel_calibration_inputs(
    y_true: np.ndarray, probs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every label probability against its 0/1 truth, pooled."""
    p, y = np.asarray(probs, dtype=np.float64), np.asarray(y_true)
    return p.reshape(-1), (y > 0.5).astype(np.float64).reshape(-1)


def classes_to_draw(counts: Sequence[float], max_classes: int = MAX_CURVES) -> list[int]:
    """Indices of the classes to draw: all of them, or the ``max_classes`` rarest (stable order)."""
    order = np.argsort(np.asarray(counts, dtype=np.float64), kind="stable")
    chosen = order[:max_classes] if len(order) > max_classes else order
    return sorted(int(i) for i in chosen)


_CALIBRATION_INPUTS = ByTask(
    binary=binary_calibration_inputs,
    multiclass=multiclass_calibration_inputs,
    multilabel=multilabel_calibration_inputs,
)

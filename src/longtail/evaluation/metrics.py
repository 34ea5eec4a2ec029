"""Metrics for imbalanced classification, as pure functions returning plain JSON values.

Conventions (decided once, used everywhere):

* Macro averages (F1, precision, recall, MCC for multilabel) run over the *active* classes: those
  with at least one true or predicted example (scikit-learn's default label set). A class absent
  from both cannot be judged and would only drag the mean to zero.
* PR-AUC (average precision) and ROC-AUC are one-vs-rest on the probability of each class; a class
  without positives (or, for ROC-AUC, without negatives) gets ``None`` and the macro mean runs over
  the classes where it is defined (``None`` if there are none).
* Multilabel MCC is the macro mean of per-label MCC (scikit-learn's ``matthews_corrcoef`` per
  column, 0 where undefined): a label-balanced summary, in the spirit of macro-F1. MCC is
  undefined when the truth or the prediction is one value (its denominator is 0).
* A constant column in the evaluated data (a label absent from a validation split, or on in every
  row; one class only in single-label truth) is no error: the conventions above give it ``None``
  AUCs and MCC 0, and scikit-learn's warnings about it (``UndefinedMetricWarning``, "a single
  label was found", 0/0) are silenced. No warning of our own: the per-class table shows such a
  label already (support 0, or support = every example, with n/a AUCs).
* Binary tasks also get the positive class's (index 1) scores as ``positive_*`` and its share of
  the examples as ``prevalence``: the PR-AUC that a random ranking scores in expectation, the
  baseline to read ``positive_pr_auc`` against (as 0.5 is for ROC-AUC).
* ``micro_f1_without_majority`` (Shi et al., 2022, LIDTA, PMLR 183) is micro-F1 over every class but
  the majority one; single-label only. For binary with a majority negative class it is positive F1.
* ECE (Guo et al., 2017, arXiv 1706.04599) uses 15 equal-width bins ``(lo, hi]`` (0 falls in the
  first): max-probability vs argmax correctness for single-label, every label probability vs its
  0/1 outcome for multilabel.
* Per-class precision/recall/F1 follow scikit-learn with ``zero_division=0``.

:func:`evaluate_predictions` and :func:`ece_for_task` take the task and dispatch
(:class:`longtail.tasks.ByTask`) to ``binary_evaluate_predictions``,
``multiclass_evaluate_predictions``, ``multilabel_evaluate_predictions``, ``single_label_ece`` and
``multilabel_ece``; the warnings of ``warnings`` come from :mod:`.metric_warnings`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from warnings import catch_warnings, filterwarnings

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    matthews_corrcoef,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
    roc_auc_score,
)

from longtail.errors import LongtailError
from longtail.evaluation.metric_warnings import collapse_warnings
from longtail.tasks import ByTask

ECE_BINS = 15


def evaluate_predictions(
    task: str,
    y_true: np.ndarray,
    probs: np.ndarray,
    y_pred: np.ndarray,
    label_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Every metric of a report, as a JSON-serialisable dict (see the module docstring).

    Args:
        task: ``"binary"``, ``"multiclass"`` or ``"multilabel"``.
        y_true: ``(n,)`` class indices, or ``(n, C)`` multi-hot for multilabel.
        probs: ``(n, C)`` probabilities (softmax, or sigmoid for multilabel).
        y_pred: predictions in the same form as ``y_true`` (after thresholds).
        label_names: ``C`` names; defaults to ``"0" .. "C-1"``.

    Returns:
        A dict with accuracy, balanced_accuracy, f1_macro/micro/weighted, precision_macro/micro,
        recall_macro/micro (micro recall hides rare labels that macro recall shows), pr_auc_macro,
        roc_auc_macro, mcc, micro_f1_without_majority, ece, confusion_matrix, per_class,
        majority_class, majority_rate, baseline_accuracy, num_examples, warnings, and for binary
        the positive_* entries (label, f1, precision, recall, pr_auc, roc_auc) and prevalence
        (the positive class's share of the examples: the PR-AUC of a random ranking).

    References:
        Shi et al. (2022). Micro-F1 computed without the majority class. Proceedings of the
        LIDTA workshop, PMLR 183.
        Guo, Pleiss, Sun, Weinberger (2017). On Calibration of Modern Neural Networks.
        arXiv 1706.04599.
    """
    return _EVALUATE[task](y_true, probs, y_pred, label_names)


def binary_evaluate_predictions(
    y_true: np.ndarray,
    probs: np.ndarray,
    y_pred: np.ndarray,
    label_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """:func:`multiclass_evaluate_predictions` of two classes, with the positive class's (index 1)
    ``positive_*`` scores and its ``prevalence``."""
    y, p, pred, names = _validate(_class_indices, y_true, probs, y_pred, label_names)
    with _quiet_constant_columns():
        out = _single_label_scores(y, p, pred, names)
        positive = out["per_class"][1]
        out["positive_label"] = names[1]
        for key in ("f1", "precision", "recall", "pr_auc", "roc_auc"):
            out[f"positive_{key}"] = positive[key]
        out["prevalence"] = positive["support"] / len(y)  # what a random ranking's PR-AUC comes to
    out["warnings"] = collapse_warnings(out, pred, multilabel=False)
    return to_jsonable(out)


def multiclass_evaluate_predictions(
    y_true: np.ndarray,
    probs: np.ndarray,
    y_pred: np.ndarray,
    label_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The metrics of class indices ``y_true`` and ``y_pred`` ``(n,)`` and softmax ``probs``
    ``(n, C)``: with balanced accuracy, MCC, micro-F1 without the majority class and the
    confusion matrix."""
    y, p, pred, names = _validate(_class_indices, y_true, probs, y_pred, label_names)
    with _quiet_constant_columns():
        out = _single_label_scores(y, p, pred, names)
    out["warnings"] = collapse_warnings(out, pred, multilabel=False)
    return to_jsonable(out)


def multilabel_evaluate_predictions(
    y_true: np.ndarray,
    probs: np.ndarray,
    y_pred: np.ndarray,
    label_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The metrics of multi-hot ``y_true`` and ``y_pred`` and sigmoid ``probs``, all ``(n, C)``:
    MCC is the macro mean over the active labels, the baseline accuracy that of the most common
    label set (accuracy is exact-match)."""
    y, p, pred, names = _validate(_multi_hot, y_true, probs, y_pred, label_names)
    active = _active_classes(y, pred)
    with _quiet_constant_columns():
        out = _scores(y, p, pred, y, names, active, multilabel_ece(y, p))
        out["mcc"] = float(np.mean([_mcc(y[:, c], pred[:, c]) for c in active]))
        _, pattern_counts = np.unique(y, axis=0, return_counts=True)
        out["baseline_accuracy"] = pattern_counts.max() / len(y)
    out["warnings"] = collapse_warnings(out, pred, multilabel=True)
    return to_jsonable(out)


def _single_label_scores(
    y: np.ndarray, p: np.ndarray, pred: np.ndarray, names: list[str]
) -> dict[str, Any]:
    """The metrics of binary and multiclass predictions (validated class indices)."""
    num_classes = p.shape[1]
    one_hot = np.eye(num_classes, dtype=np.int64)
    active = _active_classes(one_hot[y], one_hot[pred])
    out = _scores(y, p, pred, one_hot[y], names, active, single_label_ece(y, p))
    per_class = out["per_class"]
    out["balanced_accuracy"] = float(np.mean([r["recall"] for r in per_class if r["support"]]))
    out["mcc"] = _mcc(y, pred)
    out["micro_f1_without_majority"] = micro_f1_without_majority(y, pred, num_classes)
    out["confusion_matrix"] = confusion_matrix(y, pred, labels=range(num_classes)).tolist()
    return out


def _active_classes(truth: np.ndarray, predicted: np.ndarray) -> list[int]:
    """The columns with a true or a predicted example (all of them when none has)."""
    active = np.flatnonzero((truth.sum(axis=0) > 0) | (predicted.sum(axis=0) > 0)).tolist()
    return active or list(range(truth.shape[1]))  # nothing true, nothing predicted: judge them all


def _scores(
    y: np.ndarray,
    p: np.ndarray,
    pred: np.ndarray,
    truth: np.ndarray,
    names: list[str],
    active: list[int],
    ece: float,
) -> dict[str, Any]:
    """The metrics every task shares (validated arrays); the task fills in the ``None`` ones."""
    n, num_classes = p.shape
    per_class = _per_class(y, pred, truth, p, names)
    support = np.array([row["support"] for row in per_class])
    majority = int(np.argmax(support))
    return {
        "num_examples": n,
        "accuracy": accuracy_score(y, pred),
        "balanced_accuracy": None,
        "f1_macro": f1_score(y, pred, labels=active, average="macro", zero_division=0),
        "f1_micro": f1_score(y, pred, labels=active, average="micro", zero_division=0),
        "f1_weighted": f1_score(y, pred, labels=active, average="weighted", zero_division=0),
        "precision_macro": precision_score(
            y, pred, labels=active, average="macro", zero_division=0
        ),
        "recall_macro": recall_score(y, pred, labels=active, average="macro", zero_division=0),
        "precision_micro": precision_score(
            y, pred, labels=active, average="micro", zero_division=0
        ),
        "recall_micro": recall_score(y, pred, labels=active, average="micro", zero_division=0),
        "pr_auc_macro": _mean_defined(row["pr_auc"] for row in per_class),
        "roc_auc_macro": _mean_defined(row["roc_auc"] for row in per_class),
        "mcc": None,
        "micro_f1_without_majority": None,
        "ece": ece,
        "confusion_matrix": None,
        "majority_class": names[majority],
        "majority_rate": support[majority] / n,
        "baseline_accuracy": support[majority] / n,
        "per_class": per_class,
    }


def _mcc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Matthews correlation, 0 where it is undefined: truth or prediction of one value only."""
    if np.unique(y_true).size < 2 or np.unique(y_pred).size < 2:
        return 0.0
    return float(matthews_corrcoef(y_true, y_pred))


@contextmanager
def _quiet_constant_columns() -> Iterator[None]:
    """Silence what scikit-learn says about a constant column (see the module docstring), only."""
    with catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        filterwarnings("ignore", category=UndefinedMetricWarning)
        filterwarnings("ignore", message="A single label was found", category=UserWarning)
        yield


def micro_f1_without_majority(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> float:
    """Micro-F1 over all classes except the majority class of ``y_true`` (Shi et al., 2022)."""
    majority = int(np.argmax(np.bincount(y_true, minlength=num_classes)))
    labels = [c for c in range(num_classes) if c != majority]
    return float(f1_score(y_true, y_pred, labels=labels, average="micro", zero_division=0))


def expected_calibration_error(
    confidences: np.ndarray, outcomes: np.ndarray, n_bins: int = ECE_BINS
) -> float:
    """ECE: the bin-size weighted mean of ``|accuracy - confidence|`` over equal-width bins.

    Args:
        confidences: predicted probabilities in ``[0, 1]``, any shape (flattened).
        outcomes: 1 where the predicted event happened, 0 where not, same shape.
        n_bins: number of equal-width bins ``(lo, hi]``; a confidence of exactly 0 goes in the first.
    """
    conf = np.asarray(confidences, dtype=np.float64).reshape(-1)
    hit = np.asarray(outcomes, dtype=np.float64).reshape(-1)
    if conf.size == 0:
        return float("nan")
    bins = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    gap = np.abs(np.bincount(bins, hit, n_bins) - np.bincount(bins, conf, n_bins))
    return float(gap.sum() / conf.size) if count.any() else float("nan")


def ece_for_task(task: str, y_true: np.ndarray, probs: np.ndarray) -> float:
    """ECE on max-probability (single-label) or on every label probability (multilabel)."""
    return _ECE[task](y_true, probs)


def single_label_ece(y_true: np.ndarray, probs: np.ndarray) -> float:
    """ECE of the top-label confidence against whether the argmax class is ``y_true``."""
    p = np.asarray(probs, dtype=np.float64)
    return expected_calibration_error(p.max(axis=1), np.argmax(p, axis=1) == np.asarray(y_true))


def multilabel_ece(y_true: np.ndarray, probs: np.ndarray) -> float:
    """ECE of every label probability against its 0/1 truth, pooled."""
    p = np.asarray(probs, dtype=np.float64)
    return expected_calibration_error(p, np.asarray(y_true) > 0.5)


def _per_class(
    y: np.ndarray, pred: np.ndarray, truth: np.ndarray, p: np.ndarray, names: list[str]
) -> list[dict[str, Any]]:
    labels = list(range(p.shape[1]))
    precision, recall, f1, support = precision_recall_fscore_support(
        y, pred, labels=labels, zero_division=0
    )
    rows = []
    for c in labels:
        positives = int(truth[:, c].sum())
        pr_auc = average_precision_score(truth[:, c], p[:, c]) if positives else None
        roc_auc = roc_auc_score(truth[:, c], p[:, c]) if 0 < positives < len(p) else None
        rows.append(
            {
                "label": names[c],
                "precision": precision[c],
                "recall": recall[c],
                "f1": f1[c],
                "support": int(support[c]),
                "pr_auc": pr_auc,
                "roc_auc": roc_auc,
            }
        )
    return rows


def _mean_defined(values: Any) -> float | None:
    defined = [float(v) for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def to_jsonable(value: Any) -> Any:
    """Plain Python types for JSON: NumPy unwrapped, paths as strings, NaN/inf turned into None."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _validate(
    labels: Callable[[str, Any, int, int], np.ndarray],
    y_true: np.ndarray,
    probs: np.ndarray,
    y_pred: np.ndarray,
    label_names: Sequence[str] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """``(y, p, pred, names)`` checked; ``labels`` checks and converts ``y_true`` and ``y_pred``
    (:func:`_class_indices` or :func:`_multi_hot`)."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or len(p) == 0 or not np.all(np.isfinite(p)):
        raise LongtailError(
            f"probabilities must be a finite, non-empty (n, C) array, got {p.shape}"
        )
    n, num_classes = p.shape
    names = [str(c) for c in range(num_classes)] if label_names is None else list(label_names)
    if len(names) != num_classes:
        raise LongtailError(f"{len(names)} label names for {num_classes} probability columns")
    y = labels("y_true", y_true, n, num_classes)
    pred = labels("y_pred", y_pred, n, num_classes)
    return y, p, pred, [str(name) for name in names]


def _class_indices(what: str, values: Any, n: int, num_classes: int) -> np.ndarray:
    """Class indices ``(n,)`` in ``[0, num_classes)`` as ``int64``."""
    a = np.asarray(values)
    if a.shape != (n,):
        raise LongtailError(f"{what} has shape {a.shape}, expected {(n,)}")
    a = a.astype(np.int64)
    if a.min() < 0 or a.max() >= num_classes:
        raise LongtailError(f"{what} holds labels outside [0, {num_classes})")
    return a


def _multi_hot(what: str, values: Any, n: int, num_classes: int) -> np.ndarray:
    """A multi-hot ``(n, num_classes)`` as ``int64`` 0/1 (above 0.5 is 1)."""
    a = np.asarray(values)
    if a.shape != (n, num_classes):
        raise LongtailError(f"{what} has shape {a.shape}, expected {(n, num_classes)}")
    return (a > 0.5).astype(np.int64)


_EVALUATE = ByTask(
    binary=binary_evaluate_predictions,
    multiclass=multiclass_evaluate_predictions,
    multilabel=multilabel_evaluate_predictions,
)
_ECE = ByTask(binary=single_label_ece, multiclass=single_label_ece, multilabel=multilabel_ece)

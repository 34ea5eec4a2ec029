"""The predictions a run report is drawn from, validated once (shapes, classes, thresholds).

:meth:`RunArrays.decided` applies :func:`longtail.decision.thresholds.apply_thresholds` (a
threshold on P(positive), one threshold per label, or one weight per class for ``argmax p * w``),
so the report's figures mark the operating points its metrics were computed at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from longtail.errors import LongtailError
from longtail.tasks import ByTask, check_task


@dataclass
class RunArrays:
    """What the run report draws from (validation or test predictions).

    Attributes:
        task: ``"binary"``, ``"multiclass"`` or ``"multilabel"``.
        labels: class names; binary: ``[negative, positive]``.
        y_true: ``(n,)`` class indices, or ``(n, C)`` 0/1 for multilabel.
        probs: ``(n, K)`` calibrated probabilities (``K = 2`` for binary, ``C`` otherwise);
            binary column 1 is the positive class.
        thresholds: the decision per class as :mod:`longtail.decision` stores it: binary one
            threshold on P(positive), multilabel one threshold per label, multiclass one weight per
            class (``argmax p * w``); ``None`` for the defaults (0.5, or plain argmax).
        probs_uncalibrated: the probabilities before temperature scaling, same shape.
        train_class_counts: training examples per label.
        history: per epoch ``{"epoch", "step", "train_loss", "val_score"}``, optional ``"phase"``.
        extra_figures: title -> PNG (or JPEG) bytes, embedded as they are.
    """

    task: str
    labels: list[str]
    y_true: np.ndarray
    probs: np.ndarray
    thresholds: list[float] | None
    probs_uncalibrated: np.ndarray | None = None
    train_class_counts: dict[str, int] | None = None
    history: list[dict] | None = None
    extra_figures: dict[str, bytes] | None = None

    def __post_init__(self) -> None:
        check_task(self.task)
        self.labels = [str(x) for x in self.labels]
        self.probs = np.asarray(self.probs, dtype=np.float64)
        self.y_true = np.asarray(self.y_true)
        n, k = self.probs.shape if self.probs.ndim == 2 else (0, 0)
        if n == 0 or k != len(self.labels) or (self.task == "binary" and k != 2):
            raise LongtailError(
                f"probs must be (n, {len(self.labels)}) for labels {self.labels[:5]}, "
                f"got {self.probs.shape}"
            )
        if not np.all(np.isfinite(self.probs)):
            raise LongtailError("probs hold NaN or infinite values")
        _CHECK_TRUTH[self.task](self.y_true, n, k)
        if self.probs_uncalibrated is not None:
            self.probs_uncalibrated = np.asarray(self.probs_uncalibrated, dtype=np.float64)
            if self.probs_uncalibrated.shape != self.probs.shape:
                raise LongtailError("probs_uncalibrated must have the same shape as probs")
        if self.thresholds is not None:
            self.thresholds = [float(t) for t in np.asarray(self.thresholds).reshape(-1)]
            want = 1 if self.task == "binary" else k
            if len(self.thresholds) != want:
                raise LongtailError(
                    f"{len(self.thresholds)} thresholds for a {self.task} task; expected {want}"
                )

    def one_vs_rest(self) -> np.ndarray:
        """``(n, C)`` bool: the true classes, one column per class."""
        return _COLUMNS[self.task](self.y_true, len(self.labels))

    def decided(self) -> np.ndarray:
        """``(n, C)`` bool: what the run's decision rule predicts for each class."""
        # the package longtail.decision imports torch; a report without run figures needs neither
        from longtail.decision.thresholds import apply_thresholds, default_thresholds

        k = len(self.labels)
        rule = default_thresholds(self.task, k) if self.thresholds is None else self.thresholds
        predicted = apply_thresholds(self.task, self.probs, np.asarray(rule))
        return _COLUMNS[self.task](predicted, k)


def _check_single_label_truth(y_true: np.ndarray, n: int, k: int) -> None:
    if y_true.shape != (n,):
        raise LongtailError(f"y_true has shape {y_true.shape}, expected {(n,)}")
    if y_true.min() < 0 or y_true.max() >= k:
        raise LongtailError(f"y_true holds class indices outside [0, {k})")


def _check_multilabel_truth(y_true: np.ndarray, n: int, k: int) -> None:
    if y_true.shape != (n, k):
        raise LongtailError(f"y_true has shape {y_true.shape}, expected {(n, k)}")


def _single_label_columns(labels: np.ndarray, k: int) -> np.ndarray:
    """Class indices ``(n,)`` as one-hot ``(n, k)`` bool."""
    return np.eye(k, dtype=bool)[labels.astype(np.int64)]


def _multilabel_columns(labels: np.ndarray, k: int) -> np.ndarray:
    """A 0/1 multi-hot ``(n, k)`` as bool."""
    return labels > 0.5


_CHECK_TRUTH = ByTask(
    binary=_check_single_label_truth,
    multiclass=_check_single_label_truth,
    multilabel=_check_multilabel_truth,
)
_COLUMNS = ByTask(
    binary=_single_label_columns,
    multiclass=_single_label_columns,
    multilabel=_multilabel_columns,
)

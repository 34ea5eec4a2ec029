"""Decisions from model outputs: probabilities, temperature scaling, tuned thresholds.

The data path is ``logits -> probabilities(logits / T) -> apply_thresholds``; ``T`` comes from
:func:`fit_temperature` and the thresholds from :func:`tune_thresholds`, both fitted on validation.
Each function that takes a ``task`` dispatches to a per-task form (``binary_*``, ``multiclass_*``,
``multilabel_*``; see :class:`longtail.tasks.ByTask`), exported here too.
"""

from __future__ import annotations

from longtail.decision.calibration import (
    binary_probabilities,
    fit_temperature,
    multiclass_probabilities,
    multilabel_probabilities,
    negative_log_likelihood,
    probabilities,
)
from longtail.decision.thresholds import (
    OBJECTIVES,
    ThresholdTuning,
    apply_thresholds,
    binary_apply_thresholds,
    binary_default_thresholds,
    binary_tune_thresholds_detailed,
    binary_untuned_labels,
    default_thresholds,
    multiclass_apply_thresholds,
    multiclass_default_thresholds,
    multiclass_tune_thresholds_detailed,
    multiclass_untuned_labels,
    multilabel_apply_thresholds,
    multilabel_default_thresholds,
    multilabel_tune_thresholds_detailed,
    multilabel_untuned_labels,
    tune_thresholds,
    tune_thresholds_detailed,
    untuned_labels,
)

__all__ = [
    "OBJECTIVES",
    "ThresholdTuning",
    "apply_thresholds",
    "binary_apply_thresholds",
    "binary_default_thresholds",
    "binary_probabilities",
    "binary_tune_thresholds_detailed",
    "binary_untuned_labels",
    "default_thresholds",
    "fit_temperature",
    "multiclass_apply_thresholds",
    "multiclass_default_thresholds",
    "multiclass_probabilities",
    "multiclass_tune_thresholds_detailed",
    "multiclass_untuned_labels",
    "multilabel_apply_thresholds",
    "multilabel_default_thresholds",
    "multilabel_probabilities",
    "multilabel_tune_thresholds_detailed",
    "multilabel_untuned_labels",
    "negative_log_likelihood",
    "probabilities",
    "tune_thresholds",
    "tune_thresholds_detailed",
    "untuned_labels",
]

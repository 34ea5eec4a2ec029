"""Decisions from model outputs: probabilities, temperature scaling, tuned thresholds.

The data path is ``logits -> probabilities(logits / T) -> apply_thresholds``; ``T`` comes from
:func:`fit_temperature` and the thresholds from :func:`tune_thresholds`, both fitted on validation.
"""

from __future__ import annotations

from longtail.decision.calibration import (
    fit_temperature,
    negative_log_likelihood,
    probabilities,
)
from longtail.decision.thresholds import (
    OBJECTIVES,
    ThresholdTuning,
    apply_thresholds,
    default_thresholds,
    tune_thresholds,
    tune_thresholds_detailed,
    untuned_labels,
)

__all__ = [
    "OBJECTIVES",
    "ThresholdTuning",
    "apply_thresholds",
    "default_thresholds",
    "fit_temperature",
    "negative_log_likelihood",
    "probabilities",
    "tune_thresholds",
    "tune_thresholds_detailed",
    "untuned_labels",
]

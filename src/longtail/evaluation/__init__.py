"""Honest evaluation for imbalanced classification: metrics as pure functions, and reports.

``evaluate_predictions`` returns a JSON-ready dict (macro-F1, PR-AUC, MCC, micro-F1 without the
majority class, ECE, per-class rows, loud warnings), through its per-task form
(``binary_evaluate_predictions``, ...); ``write_report`` saves it as JSON and Markdown.
"""

from __future__ import annotations

from longtail.evaluation.metrics import (
    binary_evaluate_predictions,
    ece_for_task,
    evaluate_predictions,
    expected_calibration_error,
    micro_f1_without_majority,
    multiclass_evaluate_predictions,
    multilabel_ece,
    multilabel_evaluate_predictions,
    single_label_ece,
    to_jsonable,
)
from longtail.evaluation.report import render_markdown, write_report

__all__ = [
    "binary_evaluate_predictions",
    "ece_for_task",
    "evaluate_predictions",
    "expected_calibration_error",
    "micro_f1_without_majority",
    "multiclass_evaluate_predictions",
    "multilabel_ece",
    "multilabel_evaluate_predictions",
    "single_label_ece",
    "render_markdown",
    "to_jsonable",
    "write_report",
]

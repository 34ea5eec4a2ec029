"""Honest evaluation for imbalanced classification: metrics as pure functions, and reports.

``evaluate_predictions`` returns a JSON-ready dict (macro-F1, PR-AUC, MCC, micro-F1 without the
majority class, ECE, per-class rows, loud warnings); ``write_report`` saves it as JSON and Markdown.
"""

from __future__ import annotations

from longtail.evaluation.metrics import (
    ece_for_task,
    evaluate_predictions,
    expected_calibration_error,
    micro_f1_without_majority,
    to_jsonable,
)
from longtail.evaluation.report import render_markdown, write_report

__all__ = [
    "ece_for_task",
    "evaluate_predictions",
    "expected_calibration_error",
    "micro_f1_without_majority",
    "render_markdown",
    "to_jsonable",
    "write_report",
]

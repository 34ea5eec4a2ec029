"""Warnings read off metrics, for the top of a report.

* :func:`collapse_warnings`: a predictor that collapsed (one class, or one label set, for every
  example; or no minority class ever found) and an accuracy too close to the majority baseline to
  say anything. :func:`~longtail.evaluation.metrics.evaluate_predictions` puts them in
  ``warnings``.
* :func:`separation_warning`: for binary, validation scores that rank the positive class no better
  than chance.
* :func:`balance_shift_warning`: a test file whose class balance differs from validation's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

BASELINE_MARGIN = 0.02  # accuracy within 2 points of the majority baseline is not informative


def collapse_warnings(metrics: dict[str, Any], y_pred: np.ndarray, multilabel: bool) -> list[str]:
    """Loud warnings for a collapsed predictor and for uninformative accuracy."""
    collapsed = _multilabel_collapse if multilabel else _single_label_collapse
    warnings = collapsed(metrics, y_pred)
    accuracy, baseline = metrics["accuracy"], metrics["baseline_accuracy"]
    if abs(accuracy - baseline) <= BASELINE_MARGIN + 1e-12:
        warnings.append(
            f"accuracy {accuracy:.3f} is within 2 points of the majority baseline {baseline:.3f}: "
            "accuracy is not informative here, look at macro-F1 / PR-AUC"
        )
    return warnings


def _single_label_collapse(metrics: dict[str, Any], y_pred: np.ndarray) -> list[str]:
    """Every example predicted as one class, or every minority class with recall 0."""
    per_class, majority = metrics["per_class"], metrics["majority_class"]
    predicted = np.unique(y_pred)
    if len(predicted) == 1 and len(per_class) > 1:
        label = per_class[int(predicted[0])]["label"]
        which = " (the majority class)" if label == majority else ""
        return [f"predictions collapsed: every example is predicted as {label!r}{which}"]
    if _minority_never_found(metrics):
        return [
            f"predictions collapsed: every minority class has recall 0; only {majority!r} is found"
        ]
    return []


def _multilabel_collapse(metrics: dict[str, Any], y_pred: np.ndarray) -> list[str]:
    """Every example given the same label set, or every label but the most frequent with
    recall 0."""
    per_class, majority = metrics["per_class"], metrics["majority_class"]
    patterns = np.unique(y_pred, axis=0)
    if len(patterns) == 1:
        chosen = [r["label"] for r, on in zip(per_class, patterns[0], strict=True) if on]
        return [
            "predictions collapsed: every example gets the same labels "
            f"({', '.join(chosen or ['no label'])})"
        ]
    if _minority_never_found(metrics):
        return [
            "predictions collapsed: every label except the most frequent "
            f"({majority!r}) has recall 0"
        ]
    return []


def _minority_never_found(metrics: dict[str, Any]) -> bool:
    """Whether the classes other than the majority that have examples all have recall 0 (and
    there is one)."""
    majority = metrics["majority_class"]
    minority = [r for r in metrics["per_class"] if r["label"] != majority and r["support"] > 0]
    return bool(minority) and all(r["recall"] == 0 for r in minority)


def separation_warning(validation: Mapping[str, Any] | None) -> str | None:
    """For binary: a line when the validation scores rank the positive class no better than a
    random ranking (its PR-AUC not above its prevalence, or ROC-AUC at most 0.5), else ``None``.

    It reads the scores, not the decisions: a threshold tuned on the same split can still split
    the predictions, so the collapse warnings above may stay silent on such a model.
    """
    if not isinstance(validation, Mapping) or "positive_label" not in validation:
        return None
    pr_auc, prevalence = validation.get("positive_pr_auc"), validation.get("prevalence")
    roc_auc = validation.get("positive_roc_auc")
    below_pr = pr_auc is not None and prevalence is not None and pr_auc <= prevalence
    if not below_pr and (roc_auc is None or roc_auc > 0.5):
        return None
    label = validation["positive_label"]
    return (
        f"on validation the model's scores rank {label!r} no better than a random ranking "
        f"(PR-AUC {_three(pr_auc)} against its prevalence {_three(prevalence)}, ROC-AUC "
        f"{_three(roc_auc)} against 0.5), whatever its tuned threshold predicts: train longer, "
        "or check the data (labels, text column)"
    )


#: A class whose share of the rows differs between validation and test by this factor (either
#: way), with at least :data:`SHIFT_MIN_ROWS` rows in each, makes the report say so.
SHIFT_FACTOR = 2.0
SHIFT_MIN_ROWS = 10


def balance_shift_warning(
    validation: Mapping[str, Any] | None, test: Mapping[str, Any] | None
) -> str | None:
    """A line when the test file's class balance differs from validation's, else ``None``.

    Thresholds, class weights of the decision and calibration are fitted on validation, so they
    suit its class balance. On IMDB with 90 % of the training negatives removed (validation 9 %
    negative, test 50 %) the tuned decision scored 0.70 test macro-F1 against 0.83 for TF-IDF
    with balanced weights (docs/benchmarks.md): the report should say that the test file is
    another population, not leave it to be found.
    """
    if not isinstance(validation, Mapping) or not isinstance(test, Mapping):
        return None
    val_rows, test_rows = validation.get("num_examples"), test.get("num_examples")
    if not val_rows or not test_rows:
        return None
    shares = {
        row["label"]: row["support"] / val_rows for row in validation.get("per_class") or []
        if row["support"] >= SHIFT_MIN_ROWS
    }  # fmt: skip
    worst = None
    for row in test.get("per_class") or []:
        before = shares.get(row["label"])
        if before is None or row["support"] < SHIFT_MIN_ROWS:
            continue
        after = row["support"] / test_rows
        factor = max(after / before, before / after)
        if factor >= SHIFT_FACTOR and (worst is None or factor > worst[0]):
            worst = (factor, row["label"], before, after)
    if worst is None:
        return None
    _, label, before, after = worst
    return (
        f"the test file's class balance differs from validation's ({label!r}: {after:.0%} of "
        f"test rows, {before:.0%} of validation rows): the decision was fitted for validation's "
        "balance; if deployment looks like the test file, pass validation data drawn like it "
        "(--validation-data)"
    )


def _three(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"

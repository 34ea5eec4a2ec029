"""Self-contained HTML reports: one file per training run or per comparison of variants.

The file needs nothing but a browser: CSS and a tiny script are inline, figures are inline SVG
(from :mod:`longtail.evaluation.plots`) or base64 PNG, and a Content-Security-Policy forbids any
network load. Every user string (labels, titles, warnings) is HTML-escaped. On load the script
writes ``data-figures-ok`` / ``data-figures-total`` on ``<body>`` and copies script errors into
``<pre id="js-errors">``, so a headless browser can check that every figure rendered.

A run report draws from a :class:`~longtail.evaluation.run_arrays.RunArrays` (the predictions
behind the report's metrics); a
comparison report from the summary dict of ``longtail compare`` (see
:func:`render_comparison_html` in :mod:`.html_compare`; shared page parts in :mod:`.html_page`).
Missing optional parts skip their section.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np

from longtail.errors import LongtailError
from longtail.evaluation import figure_data, plots
from longtail.evaluation.anchor import anchor_f1, anchor_table
from longtail.evaluation.html_compare import COMPARISON_FIGURES, render_comparison_html
from longtail.evaluation.html_page import (
    contents_nav,
    figure_block,
    format_inline,
    html_document,
    html_table,
    note_paragraph,
    skipped_figure,
    warnings_section,
    write_html_report,
)
from longtail.evaluation.metrics import ECE_BINS
from longtail.evaluation.report import (  # the same headline and number test as report.md
    MAX_CONFUSION_CLASSES,
    few_examples,
    few_examples_note,
    format_value,
    headline_rows,
    mark_few,
    report_warnings,
)
from longtail.evaluation.report_decision import decision_settings, tuning_check_line
from longtail.evaluation.run_arrays import RunArrays
from longtail.tasks import ByTask

# Figure ids, in page order (a run also gets fig-extra-1, fig-extra-2, ... for its extra figures).
RUN_FIGURES: tuple[str, ...] = (
    "fig-pr-curves",
    "fig-roc-curves",
    "fig-reliability",
    "fig-f1-vs-frequency",
    "fig-confusion-matrix",
    "fig-label-bars",
    "fig-training-curves",
)


__all__ = [
    "COMPARISON_FIGURES",
    "RUN_FIGURES",
    "RunArrays",
    "render_comparison_html",
    "render_run_html",
    "write_html_report",
]


def render_run_html(report: Mapping[str, Any], arrays: RunArrays) -> str:
    """The HTML page of one run: headline, warnings, figures, per-class table, decision.

    Args:
        report: a report dict of :mod:`longtail.evaluation.report` (``task``, ``metrics``, ...).
        arrays: the predictions the figures are drawn from.

    Returns:
        The whole HTML document as a string.
    """
    if not isinstance(report, Mapping) or not isinstance(report.get("metrics"), Mapping):
        raise LongtailError("a run report needs a dict with 'metrics' from evaluate_predictions()")
    metrics = report["metrics"]
    split = report.get("split")
    page = _PAGES[arrays.task](arrays)
    title = f"longtail evaluation: {arrays.task}" + (f", {split} split" if split else "")
    parts = [f"<h1>{escape(title)}</h1>", _summary_line(metrics, arrays)]
    parts.append(warnings_section(report_warnings(report)))
    headline = _headline_rows(metrics, arrays, page)
    parts += ["<h2>Headline</h2>", html_table(["metric", "value"], headline)]
    if (anchor := anchor_table(report)) is not None:
        rows, caption = anchor
        parts.append("<h2>Anchor on the same rows</h2>")
        if rows:
            parts.append(html_table(["metric", "this model", "anchor"], rows))
        parts.append(note_paragraph(caption))
    figures = _run_figures(metrics, arrays, page)
    parts += ["<h2>Figures</h2>", contents_nav(figures), *(f for _, _, f in figures)]
    parts += ["<h2>Per class</h2>", _per_class_table(metrics, arrays, page, anchor_f1(report))]
    parts += _details(report)
    return html_document(title, parts)


@dataclass(frozen=True)
class _RunPage:
    """What a run page draws and says that depends on the task (see ``_PAGES``).

    Attributes:
        reliability: what the reliability diagram plots against what.
        curve_classes: the classes that may get a precision-recall and a ROC curve.
        curve_scope: what the curves are of.
        curve_rule: what the dot on each curve marks.
        headline_decision: rows the headline adds about the decision.
        decision_column: the per-class table's decision column.
        decision_cell: that column's cell for class ``c``.
        class_figure: the figure after the F1-vs-frequency one (confusion matrix, label bars).
    """

    reliability: str
    curve_classes: list[int]
    curve_scope: str
    curve_rule: str
    headline_decision: list[list[Any]]
    decision_column: str
    decision_cell: Callable[[int], str]
    class_figure: Callable[[Mapping[str, Any], RunArrays, np.ndarray], list[tuple[str, str, str]]]


def _binary_page(a: RunArrays) -> _RunPage:
    positive = a.labels[1]
    threshold = format_value(a.thresholds[0]) if a.thresholds else "0.5 (default)"
    return _RunPage(
        reliability=f"P({positive}) against how often the example is {positive}",
        curve_classes=[1],
        curve_scope=f"positive class {positive!r}",
        curve_rule="the chosen threshold on P(positive)",
        headline_decision=[["threshold on P(positive)", threshold]],
        decision_column="threshold",
        decision_cell=lambda c: "—" if c == 0 else threshold,
        class_figure=_confusion_figure,
    )


def _multiclass_page(a: RunArrays) -> _RunPage:
    weights = a.thresholds
    return _RunPage(
        reliability="the top-label confidence against how often the top label is right",
        curve_classes=list(range(len(a.labels))),
        curve_scope="one-vs-rest per class",
        curve_rule="the argmax decision (with the decision weights, if any); "
        "it need not lie on the one-vs-rest curve",
        headline_decision=[],
        decision_column="decision weight",
        decision_cell=lambda c: "1 (argmax)" if weights is None else format_value(weights[c]),
        class_figure=_confusion_figure,
    )


def _multilabel_page(a: RunArrays) -> _RunPage:
    thresholds = a.thresholds
    return _RunPage(
        reliability="every label probability, pooled, against its 0/1 truth",
        curve_classes=list(range(len(a.labels))),
        curve_scope="one-vs-rest per class",
        curve_rule="each label's chosen threshold",
        headline_decision=[],
        decision_column="threshold",
        decision_cell=lambda c: (
            "0.5 (default)" if thresholds is None else format_value(thresholds[c])
        ),
        class_figure=_label_bars_figure,
    )


_PAGES = ByTask(binary=_binary_page, multiclass=_multiclass_page, multilabel=_multilabel_page)


def _run_figures(
    metrics: Mapping[str, Any], a: RunArrays, page: _RunPage
) -> list[tuple[str, str, str]]:
    truth, decided, figures = a.one_vs_rest(), a.decided(), []
    figures += _curve_figures(a, truth, decided, page)
    after = figure_data.reliability_bins(*figure_data.calibration_inputs(a.task, a.y_true, a.probs))
    before = None
    if a.probs_uncalibrated is not None:
        before = figure_data.reliability_bins(
            *figure_data.calibration_inputs(a.task, a.y_true, a.probs_uncalibrated)
        )
    caption = (
        f"Reliability diagram ({ECE_BINS} equal-width bins): {page.reliability}; "
        "the bottom panel is the share of examples per bin."
    )
    if before is None:
        caption += " Only the calibrated probabilities are shown: no uncalibrated ones were given."
    figures.append(
        figure_block(
            "fig-reliability", "Reliability", plots.plot_reliability(after, before), caption
        )
    )
    if a.train_class_counts:
        figures += _f1_frequency_figure(a, _per_class_rows(metrics))
    figures += page.class_figure(metrics, a, decided)
    if a.history:
        caption = "Training loss (left axis) and validation score (right axis) per epoch"
        caption += (
            "; shaded bands are training phases." if any("phase" in r for r in a.history) else "."
        )
        svg = plots.plot_training_curves(a.history)
        figures.append(figure_block("fig-training-curves", "Training curves", svg, caption))
    for i, (title, data) in enumerate((a.extra_figures or {}).items(), start=1):
        figures.append(figure_block(f"fig-extra-{i}", str(title), bytes(data), str(title)))
    return figures


def _curve_figures(
    a: RunArrays, truth: np.ndarray, decided: np.ndarray, page: _RunPage
) -> list[tuple[str, str, str]]:
    positives = truth.sum(axis=0)
    candidates = page.curve_classes
    missing = [a.labels[c] for c in candidates if positives[c] == 0]
    candidates = [c for c in candidates if positives[c] > 0]
    if not candidates:
        return [
            skipped_figure("No precision-recall or ROC curve: no class has a positive example.")
        ]
    counts_from = "training" if a.train_class_counts else "evaluation"
    counts = [
        (a.train_class_counts or {}).get(a.labels[c], 0) if a.train_class_counts else positives[c]
        for c in candidates
    ]
    drawn = [candidates[i] for i in figure_data.classes_to_draw(counts)]
    notes = []
    if len(drawn) < len(candidates):
        notes.append(
            f"Only the {len(drawn)} rarest of {len(candidates)} classes "
            f"(by {counts_from} count) are drawn."
        )
    if missing:
        notes.append(
            f"No curve for {len(missing)} class(es) without a positive example: "
            f"{', '.join(missing[:10])}."
        )
    rule, scope = page.curve_rule, page.curve_scope
    names = [a.labels[c] for c in drawn]
    points = [figure_data.operating_point(truth[:, c], decided[:, c]) for c in drawn]
    y, p = truth[:, drawn], a.probs[:, drawn]
    pr = figure_block(
        "fig-pr-curves",
        "Precision-recall curves",
        plots.plot_pr_curves(y, p, names, points),
        f"Precision-recall curves ({scope}); the dot marks {rule}. " + " ".join(notes),
    )
    roc_ok = [i for i, c in enumerate(drawn) if positives[c] < len(truth)]
    roc_svg = plots.plot_roc_curves(
        y[:, roc_ok], p[:, roc_ok], [names[i] for i in roc_ok], [points[i] for i in roc_ok]
    )
    roc = figure_block(
        "fig-roc-curves",
        "ROC curves",
        roc_svg,
        f"ROC curves ({scope}) with the AUC in the legend; the dot marks {rule}. "
        + " ".join(notes),
    )
    return [pr, roc]


def _f1_frequency_figure(a: RunArrays, per_class: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    counts = a.train_class_counts or {}
    names = [n for n in a.labels if counts.get(n, 0) > 0 and n in per_class]
    if not names:
        return [skipped_figure("No F1-vs-frequency figure: no class has a training count.")]
    svg = plots.plot_f1_vs_frequency(
        names, [counts[n] for n in names], {"F1": [per_class[n]["f1"] for n in names]}
    )
    caption = (
        "Per-class F1 against the number of training examples of the class (log scale), "
        "after Shi et al. (2022), Figure 3."
    )
    left_out = len(a.labels) - len(names)
    if left_out:
        caption += f" {left_out} class(es) without training examples are left out."
    return [figure_block("fig-f1-vs-frequency", "F1 vs training frequency", svg, caption)]


def _per_class_rows(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The report's per-class rows by label."""
    return {str(r["label"]): r for r in metrics.get("per_class") or []}


def _label_bars_figure(
    metrics: Mapping[str, Any], a: RunArrays, decided: np.ndarray
) -> list[tuple[str, str, str]]:
    per_class = _per_class_rows(metrics)
    rows = sorted((per_class[n] for n in a.labels if n in per_class), key=lambda r: -r["support"])
    if not rows:
        return []
    svg = plots.plot_label_bars(
        [r["label"] for r in rows],
        [r["support"] for r in rows],
        [r["precision"] or 0.0 for r in rows],
        [r["recall"] or 0.0 for r in rows],
    )
    caption = (
        "Support (top) and precision / recall (bottom) per label, most frequent first, "
        "at the chosen thresholds."
    )
    return [figure_block("fig-label-bars", "Per-label support, precision, recall", svg, caption)]


def _confusion_figure(
    metrics: Mapping[str, Any], a: RunArrays, decided: np.ndarray
) -> list[tuple[str, str, str]]:
    k = len(a.labels)
    if k > MAX_CONFUSION_CLASSES:
        return [
            skipped_figure(
                f"No confusion matrix: {k} classes (drawn up to {MAX_CONFUSION_CLASSES})."
            )
        ]
    matrix = metrics.get("confusion_matrix")
    if not matrix or len(matrix) != k:
        matrix = np.zeros((k, k), dtype=np.int64)
        np.add.at(matrix, (a.y_true.astype(np.int64), decided.argmax(axis=1)), 1)
    caption = "Confusion matrix, rows = true class, normalised by row"
    caption += " (each cell: count and share of the row)." if k <= 10 else "."
    svg = plots.plot_confusion_matrix(np.asarray(matrix), a.labels)
    return [figure_block("fig-confusion-matrix", "Confusion matrix", svg, caption)]


def _summary_line(metrics: Mapping[str, Any], a: RunArrays) -> str:
    if "num_examples" not in metrics:
        return ""
    return (
        f"<p>{metrics['num_examples']} examples, {len(a.labels)} classes; majority class "
        f"<code>{escape(str(metrics.get('majority_class')))}</code> "
        f"at {format_value(metrics.get('majority_rate'))}.</p>"
    )


def _headline_rows(metrics: Mapping[str, Any], a: RunArrays, page: _RunPage) -> list[list[Any]]:
    rows: list[list[Any]] = headline_rows(
        a.task, metrics, str(metrics.get("positive_label", a.labels[-1]))
    )
    return rows + page.headline_decision


def _per_class_table(
    metrics: Mapping[str, Any],
    a: RunArrays,
    page: _RunPage,
    anchor_scores: Mapping[str, float] | None = None,
) -> str:
    rows = sorted(metrics.get("per_class") or [], key=lambda r: -r["support"])
    if not rows:
        return note_paragraph("No per-class rows in the report.")
    index = {name: i for i, name in enumerate(a.labels)}
    header = ["label", *(["train count"] if a.train_class_counts else []), "support"]
    header += ["precision", "recall", "F1", "PR-AUC", "ROC-AUC"]
    header.append(page.decision_column)
    header += ["anchor F1"] if anchor_scores else []
    body = []
    few = few_examples({str(r["label"]): r["support"] for r in rows})
    for r in rows:
        label, c = str(r["label"]), index.get(str(r["label"]))
        counts = [(a.train_class_counts or {}).get(label, "n/a")] if a.train_class_counts else []
        scores = [
            format_value(r.get(k)) for k in ("precision", "recall", "f1", "pr_auc", "roc_auc")
        ]
        decision = "n/a" if c is None else page.decision_cell(c)
        theirs = [format_value(anchor_scores.get(label))] if anchor_scores else []
        body.append([mark_few(label, few), *counts, r["support"], *scores, decision, *theirs])
    table = html_table(header, body)
    if few:
        table += note_paragraph(few_examples_note(len(few), "examples in this split"))
    return table


def _details(report: Mapping[str, Any]) -> list[str]:
    parts = ["<h2>Decision</h2>"]
    rows = decision_settings(report)
    if report.get("threshold_objective"):
        rows.append(["tuned on validation for", str(report["threshold_objective"])])
    if line := tuning_check_line(str(report.get("task")), report.get("threshold_check")):
        rows.append(["cross-fitted check", line])
    parts.append(html_table(["setting", "value"], rows))
    for section in ("data", "model"):
        if isinstance(report.get(section), Mapping) and report[section]:
            parts.append(f"<h2>{section.capitalize()}</h2>")
            parts.append(
                html_table(
                    ["key", "value"], [[k, format_inline(v)] for k, v in report[section].items()]
                )
            )
    return parts


# ---------------------------------------------------------------- comparison

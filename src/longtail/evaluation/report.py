"""Evaluation reports: ``report.json`` for machines and ``report.md`` for people (and terminals).

A report is a plain dict with keys ``task``, ``labels``, ``metrics`` (from
:func:`longtail.evaluation.metrics.evaluate_predictions`), ``thresholds`` (a list, or a mapping
label -> value), ``temperature``, ``data`` and ``model`` (free dicts) and optionally ``split``.
Warnings go first in the Markdown, as bold blockquotes, so a collapsed model cannot be missed.
Every user string in the Markdown (labels, file and column names, warnings that quote them) goes
through :func:`longtail.safe_text.markdown_text`, so a label cannot inject markup or table cells.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from longtail.errors import LongtailError
from longtail.evaluation.anchor import anchor_f1, anchor_table, anchor_warning
from longtail.evaluation.convergence import still_improving_note
from longtail.evaluation.markdown import format_inline, format_value, markdown_table
from longtail.evaluation.metric_warnings import balance_shift_warning, separation_warning
from longtail.evaluation.metrics import to_jsonable
from longtail.evaluation.report_decision import decision_lines, headline_decision_rows
from longtail.io_utils import atomic_write_json, atomic_write_text
from longtail.safe_text import markdown_text
from longtail.tasks import ByTask

MAX_CONFUSION_CLASSES = 30
HEADLINE_METRICS = (
    ("macro-F1", "f1_macro"),
    ("PR-AUC (macro)", "pr_auc_macro"),
    ("MCC", "mcc"),
    ("balanced accuracy", "balanced_accuracy"),
    ("accuracy", "accuracy"),
    ("micro-F1 w/o majority", "micro_f1_without_majority"),
    ("ECE (15 bins)", "ece"),
)

FEW_EXAMPLES = 5
"""Below this many evaluated examples a class's F1 is mostly noise: one document found or missed
moves it by up to 2/(n + 1) (0.4 at n = 4). Per-class tables mark such classes with †."""


def few_examples(support: Mapping[str, Any]) -> set[str]:
    """The labels of ``support`` (label -> examples) with fewer than :data:`FEW_EXAMPLES`."""
    return {
        str(label)
        for label, n in support.items()
        if isinstance(n, (int, float)) and n < FEW_EXAMPLES
    }


def mark_few(label: Any, few: set[str]) -> str:
    """``label``, with the † of :func:`few_examples` when it is one of ``few``."""
    return f"{label} †" if str(label) in few else str(label)


def format_mean_count(value: float | None) -> str:
    """A count, or a mean count over cells with one decimal (4.5 must not read as 4 or 5)."""
    if value is None:
        return "n/a"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def folded_counts_note(folds: int, count_column: str, test_column: str) -> str:
    """Under a cross-validated grid's per-class table: its counts are the whole folded file's."""
    return (
        f"{count_column}: the class's rows in the file split into {folds} folds; each cell trains "
        f"on about {folds - 1}/{folds} of them, less its validation split, and tests on the rest "
        f"({test_column})."
    )


def few_examples_note(count: int, what: str) -> str:
    """The footnote under a per-class table with ``count`` classes marked †.

    ``what`` says what was counted, e.g. ``"examples in this split"``.
    """
    classes = "1 class" if count == 1 else f"{count} classes"
    return (
        f"† {classes} with fewer than {FEW_EXAMPLES} {what}: one document found or missed moves "
        "such a class's F1 by up to 2/(n + 1) (0.4 at n = 4). Read its F1 as noise unless it "
        "holds across seeds."
    )


def report_warnings(report: Mapping[str, Any]) -> list[str]:
    """The warnings a report opens with: the metrics' (a class never predicted, ...), then for
    binary a validation ranking no better than chance
    (:func:`longtail.evaluation.metric_warnings.separation_warning`), a test file whose class balance
    differs from validation's (:func:`~longtail.evaluation.metric_warnings.balance_shift_warning`), then
    the training's
    (:func:`longtail.evaluation.convergence.still_improving`), then the anchor's when it beats the
    model (:func:`longtail.evaluation.anchor.anchor_warning`)."""
    warnings = [str(w) for w in (report.get("metrics") or {}).get("warnings") or []]
    if line := separation_warning(report.get("validation_metrics")):  # binary metrics only
        warnings.append(line)
    if report.get("split") == "test" and (
        line := balance_shift_warning(report.get("validation_metrics"), report.get("metrics"))
    ):
        warnings.append(line)
    info = (report.get("training") or {}).get("still_improving")
    if info:
        warnings.append(still_improving_note(info))
    if line := anchor_warning(report):
        warnings.append(line)
    return warnings


def headline_rows(task: str, metrics: Mapping[str, Any], positive: str) -> list[list[str]]:
    """The headline's ``[metric, value]`` rows, less the binary threshold row."""
    return _HEADLINE[task](metrics, positive)


def binary_headline_rows(metrics: Mapping[str, Any], positive: str) -> list[list[str]]:
    """A binary headline leads with the positive class: its PR-AUC beside its prevalence (what a
    random ranking scores), then its ROC-AUC, then the macro PR-AUC, which averages in the
    majority class (a random ranking scores that one's high prevalence); its F1, precision and
    recall close the table.
    """
    baseline = format_value(metrics.get("prevalence"))
    lead = [
        (
            f"PR-AUC (positive class {positive!r}; a random ranking scores the prevalence, "
            f"{baseline})",
            "positive_pr_auc",
        ),
        (
            f"ROC-AUC (positive class {positive!r}; a random ranking scores 0.5)",
            "positive_roc_auc",
        ),
        ("PR-AUC (macro over both classes)", "pr_auc_macro"),
    ]
    named = lead + [(n, k) for n, k in HEADLINE_METRICS if k != "pr_auc_macro"]
    named += [
        (f"positive {name} ({positive})", f"positive_{key}")
        for key, name in (("f1", "F1"), ("precision", "precision"), ("recall", "recall"))
    ]
    return [[name, format_value(metrics.get(key))] for name, key in named]


def per_class_headline_rows(metrics: Mapping[str, Any], positive: str) -> list[list[str]]:
    """The :data:`HEADLINE_METRICS` (multiclass, multilabel; ``positive`` is not read)."""
    return [[name, format_value(metrics.get(key))] for name, key in HEADLINE_METRICS]


def write_report(report: Mapping[str, Any], out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``out_dir/report.json`` and ``out_dir/report.md`` atomically.

    Returns:
        ``{"json": path, "markdown": path}``.
    """
    _check(report)
    out = Path(out_dir)
    plain = to_jsonable(dict(report))
    json_path = atomic_write_json(out / "report.json", plain)
    md_path = atomic_write_text(out / "report.md", render_markdown(plain))
    return {"json": json_path, "markdown": md_path}


def render_markdown(report: Mapping[str, Any]) -> str:
    """Render a report as Markdown that also reads well as plain text in a terminal."""
    _check(report)
    report = to_jsonable(dict(report))
    metrics = report["metrics"]
    task = str(report["task"])
    labels = [str(x) for x in report.get("labels") or [r["label"] for r in metrics["per_class"]]]
    split = report.get("split")
    title = f"# longtail evaluation: {_md(task)}" + (f", {_md(split)} split" if split else "")
    lines = [title, ""]
    for warning in report_warnings(report):
        lines += [f"> **WARNING: {_md(warning)}**", ""]
    lines += [
        f"{metrics['num_examples']} examples, {len(labels)} classes; majority class "
        f"{_md(repr(metrics['majority_class']))} at {format_value(metrics['majority_rate'])}.",
        "",
        "## Headline",
        "",
    ]
    rows = headline_rows(task, metrics, str(metrics.get("positive_label", labels[-1])))
    rows += headline_decision_rows(task, report)
    lines += markdown_table(["metric", "value"], rows)
    lines += anchor_lines(report) + ["", "## Per class (by support)", ""]
    per_class = sorted(metrics["per_class"], key=lambda r: -r["support"])  # stable: ties by index
    keys = ("precision", "recall", "f1", "pr_auc", "roc_auc")
    few = few_examples({r["label"]: r["support"] for r in per_class})
    theirs = anchor_f1(report)
    lines += markdown_table(
        ["label", "support", "precision", "recall", "F1", "PR-AUC", "ROC-AUC"]
        + (["anchor F1"] if theirs else []),
        [
            [
                mark_few(r["label"], few),
                str(r["support"]),
                *(format_value(r[k]) for k in keys),
                *([format_value(theirs.get(str(r["label"])))] if theirs else []),
            ]
            for r in per_class
        ],
    )
    if few:
        lines += ["", few_examples_note(len(few), "examples in this split")]
    matrix = metrics.get("confusion_matrix")
    if matrix and len(matrix) <= MAX_CONFUSION_CLASSES:
        lines += ["", "## Confusion matrix (rows = true, columns = predicted)", ""]
        body = [[labels[i], *(str(v) for v in row)] for i, row in enumerate(matrix)]
        lines += markdown_table(["true \\ predicted", *labels], body)
    lines += ["", "## Decision", ""] + decision_lines(task, labels, report)
    for section in ("data", "model"):
        if report.get(section):
            lines += ["", f"## {section.capitalize()}", ""]
            lines += [
                f"- {_md(k)}: {_md(format_inline(v))}" for k, v in dict(report[section]).items()
            ]
    lines += _phase_lines(report) + _augmentation_lines(report)
    return "\n".join(lines) + "\n"


def anchor_lines(
    report: Mapping[str, Any], heading: str = "## Anchor on the same rows"
) -> list[str]:
    """The anchor beside the model on the report's split (:mod:`longtail.evaluation.anchor`),
    as markdown under ``heading`` (the report's, or the model card's)."""
    table = anchor_table(report)
    if table is None:
        return []
    rows, caption = table
    lines = ["", heading, ""]
    if rows:
        lines += markdown_table(["metric", "this model", "anchor"], rows) + [""]
    return lines + [_md(caption)]


def _phase_lines(report: Mapping[str, Any]) -> list[str]:
    """The strategy's phases (only when there is more than one)."""
    phases = (report.get("training") or {}).get("phases") or []
    if len(phases) < 2:
        return []
    rows = [
        [
            str(p.get("name")),
            str(p.get("trainable"))
            + (f" ({p['top_layers']})" if p.get("trainable") == "top_layers" else "")
            + (f"; {_md(p['applied'])}" if p.get("applied") else ""),  # what decoupling did
            str(p.get("data")),
            str(p.get("rows")),
            str(p.get("best_epoch")),
            format_value(p.get("best_score")),
            format_value(p.get("seconds")),
        ]
        for p in phases
    ]
    header = ["phase", "trainable", "data", "rows", "best epoch", "val score", "seconds"]
    return ["", "## Strategy phases", "", *markdown_table(header, rows)]


def _augmentation_lines(report: Mapping[str, Any]) -> list[str]:
    """Per augmented set: rows kept per class and the embedding check's headline numbers."""
    lines: list[str] = []
    for name, entry in dict(report.get("augmentation") or {}).items():
        stats = entry.get("stats") or {}
        lines += ["", f"## Augmentation: {_md(name)} ({_md(stats.get('method'))})", ""]
        rows = [
            [
                str(c.get("class")),
                str(c.get("before")),
                str(c.get("generated")),
                str(c.get("kept")),
                str(c.get("after")),
            ]
            for c in stats.get("classes", [])
            if c.get("generated")
        ]
        lines += (
            markdown_table(["class", "before", "generated", "kept", "after"], rows)
            if rows
            else ["- nothing generated"]
        )
        quality = entry.get("quality") or {}
        overall = quality.get("overall") or {}
        if overall:
            lines += [
                "",
                f"- embedding check ({_md(quality.get('method'))}, {_md(quality.get('figure'))}): "
                + ", ".join(
                    f"{_md(k)} {format_value(v)}"
                    for k, v in overall.items()
                    if isinstance(v, (int, float))
                ),
            ]
    return lines


def _check(report: Mapping[str, Any]) -> None:
    if not isinstance(report, Mapping):
        raise LongtailError(f"a report must be a dict, got {type(report).__name__}")
    missing = [k for k in ("task", "metrics") if k not in report]
    if missing:
        raise LongtailError(
            f"report is missing {', '.join(missing)}; build it around evaluate_predictions()"
        )


_HEADLINE = ByTask(
    binary=binary_headline_rows,
    multiclass=per_class_headline_rows,
    multilabel=per_class_headline_rows,
)


def _md(value: Any) -> str:
    """User text inside a line or a table cell: one line, ``|`` escaped, no markup (see
    :func:`longtail.safe_text.markdown_text`)."""
    return markdown_text(value)

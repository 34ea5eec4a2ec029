"""Evaluation reports: ``report.json`` for machines and ``report.md`` for people (and terminals).

A report is a plain dict with keys ``task``, ``labels``, ``metrics`` (from
:func:`longtail.evaluation.metrics.evaluate_predictions`), ``thresholds`` (a list, or a mapping
label -> value), ``temperature``, ``data`` and ``model`` (free dicts) and optionally ``split``.
Warnings go first in the Markdown, as bold blockquotes, so a collapsed model cannot be missed.
Every user string in the Markdown (labels, file and column names, warnings that quote them) goes
through :func:`longtail.safe_text.markdown_text`, so a label cannot inject markup or table cells.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from longtail.errors import LongtailError
from longtail.evaluation.convergence import still_improving_note
from longtail.evaluation.metrics import balance_shift_warning, separation_warning, to_jsonable
from longtail.io_utils import atomic_write_json, atomic_write_text
from longtail.safe_text import markdown_text

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
    (:func:`longtail.evaluation.metrics.separation_warning`), a test file whose class balance
    differs from validation's (:func:`~longtail.evaluation.metrics.balance_shift_warning`), then
    the training's
    (:func:`longtail.evaluation.convergence.still_improving`)."""
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
    return warnings


def headline_rows(task: str, metrics: Mapping[str, Any], positive: str) -> list[list[str]]:
    """The headline's ``[metric, value]`` rows, less the binary threshold row.

    A binary headline leads with the positive class: its PR-AUC beside its prevalence (what a
    random ranking scores), then its ROC-AUC, then the macro PR-AUC, which averages in the
    majority class (a random ranking scores that one's high prevalence); its F1, precision and
    recall close the table.
    """
    named = list(HEADLINE_METRICS)
    if task == "binary":
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
        named = lead + [(n, k) for n, k in named if k != "pr_auc_macro"]
        named += [
            (f"positive {name} ({positive})", f"positive_{key}")
            for key, name in (("f1", "F1"), ("precision", "precision"), ("recall", "recall"))
        ]
    return [[name, format_value(metrics.get(key))] for name, key in named]


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
    if task == "binary":
        threshold = _as_list(report.get("thresholds"))
        rows.append(
            ["threshold on P(positive)", format_value(threshold[0]) if threshold else "0.5"]
        )
    lines += markdown_table(["metric", "value"], rows) + ["", "## Per class (by support)", ""]
    per_class = sorted(metrics["per_class"], key=lambda r: -r["support"])  # stable: ties by index
    keys = ("precision", "recall", "f1", "pr_auc", "roc_auc")
    few = few_examples({r["label"]: r["support"] for r in per_class})
    lines += markdown_table(
        ["label", "support", "precision", "recall", "F1", "PR-AUC", "ROC-AUC"],
        [
            [
                mark_few(r["label"], few),
                str(r["support"]),
                *(format_value(r[k]) for k in keys),
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
    lines += ["", "## Decision", ""] + _decision_lines(task, labels, report)
    for section in ("data", "model"):
        if report.get(section):
            lines += ["", f"## {section.capitalize()}", ""]
            lines += [
                f"- {_md(k)}: {_md(format_inline(v))}" for k, v in dict(report[section]).items()
            ]
    lines += _phase_lines(report) + _augmentation_lines(report)
    return "\n".join(lines) + "\n"


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


def decision_settings(report: Mapping[str, Any]) -> list[list[str]]:
    """``[setting, value]`` rows of what was applied before the thresholds, in that order: the
    logit adjustment, then the calibration (a report without these fields: temperature only)."""
    rows = []
    adjust = report.get("logit_adjust")
    if isinstance(adjust, Mapping):
        how = "tuned on validation" if adjust.get("tuned") else "fixed"
        rows.append([
            "post-hoc logit adjustment (Menon et al. 2021)",
            f"logits - tau * log(training prior), tau {format_value(adjust.get('tau'))} ({how})",
        ])  # fmt: skip
    calibration = report.get("calibration") or "temperature"
    temperature = report.get("temperature")
    if calibration == "isotonic":
        left = report.get("isotonic_uncalibrated") or []
        kept = (
            f"; kept uncalibrated (too few validation examples): {', '.join(map(str, left[:10]))}"
        )
        rows.append(
            ["calibration", "isotonic per class, fitted on validation" + (kept if left else "")]
        )
    elif calibration == "none":
        rows.append(["calibration", "none"])
    else:
        value = format_value(temperature) if temperature is not None else "1.0 (none)"
        rows.append(["temperature", value])
    return rows


def _decision_lines(task: str, labels: list[str], report: Mapping[str, Any]) -> list[str]:
    lines = [f"- {_md(name)}: {_md(value)}" for name, value in decision_settings(report)]
    if report.get("threshold_objective"):
        lines.append(f"- tuned on validation for: {_md(report['threshold_objective'])}")
    if line := tuning_check_line(task, report.get("threshold_check")):
        lines.append(f"- {_md(line)}")
    raw = report.get("thresholds")
    if raw is None:
        return [*lines, "- thresholds: defaults (0.5, or plain argmax for multiclass)"]
    if task == "binary":
        value = _as_list(raw)
        positive = labels[1] if len(labels) > 1 else "positive"
        return [
            *lines,
            f"- predict {_md(repr(positive))} iff P({_md(positive)}) >= {format_value(value[0])}",
        ]
    kind = "weight (argmax of p * w)" if task == "multiclass" else "threshold"
    if isinstance(raw, Mapping):
        pairs = [[str(k), format_value(v)] for k, v in raw.items()]
    else:
        values = _as_list(raw)
        names = labels if len(labels) == len(values) else [str(i) for i in range(len(values))]
        pairs = [[name, format_value(v)] for name, v in zip(names, values, strict=True)]
    untuned = report.get("threshold_untuned") or []
    if untuned:
        lines.append(
            f"- {len(untuned)} label(s) kept the default {kind.split()[0]} (no validation "
            f"example): {_first_names(untuned)}"
        )
    fallback = report.get("threshold_fallback") or []
    if fallback:
        lines.append(
            f"- {len(fallback)} label(s) {_FALLBACK[task]} (SCutFBR.1: best validation F below "
            f"decision.fbr): {_first_names(fallback)}"
        )
    return [*lines, "", *markdown_table(["label", kind], pairs)]


def tuning_check_line(task: str, check: Mapping[str, Any] | None) -> str | None:
    """What the cross-fitted check of the tuned thresholds found (``None``: it did not run)."""
    if not isinstance(check, Mapping):
        return None
    kind = "weights" if task == "multiclass" else "thresholds"
    default = "plain argmax" if task == "multiclass" else "0.5"
    scores = (
        f"tuned on {check['folds'] - 1} of {check['folds']} validation folds and applied to the "
        f"one left out, they scored {check['objective']} {check['cross_fitted']:.4f} against "
        f"{check['default']:.4f} for {default}"
    )
    if check.get("kept"):
        return f"tuned {kind} kept: {scores}"
    return f"tuned {kind} not kept, the decision is {default}: {scores}"


_FALLBACK = {
    "binary": "fell back to their highest validation score",
    "multilabel": "fell back to their highest validation score",
    "multiclass": "kept weight 1",
}


def _first_names(names: Sequence[Any], shown: int = 10) -> str:
    """``a, b, c`` or ``a, …, j and 5 more``."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(_md(name) for name in names[:shown]) + more


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table with padded columns, so it lines up in a terminal too. Every cell is
    escaped (:func:`longtail.safe_text.markdown_text`): numbers and plain words stay as they are,
    a label's ``|`` or ``<script>`` cannot break the table or become markup."""
    cells = [[_md(c) for c in header]] + [[_md(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    numeric = [all(is_number(row[i]) for row in cells[1:]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(row, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(parts) + " |"

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if n else "-" * (w + 2)
            for w, n in zip(widths, numeric, strict=True)
        )
        + "|"
    )
    return [line(cells[0]), rule, *(line(r) for r in cells[1:])]


def format_value(value: Any) -> str:
    """A metric for a table cell: 4 decimals, integers as is, missing or NaN as n/a."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return str(value)
    return str(value) if isinstance(value, int | np.integer) else f"{float(value):.4f}"


def _md(value: Any) -> str:
    """User text inside a line or a table cell: one line, ``|`` escaped, no markup (see
    :func:`longtail.safe_text.markdown_text`)."""
    return markdown_text(value)


def format_inline(value: Any, max_chars: int | None = None) -> str:
    """A config value on one line: mappings and lists as JSON (cut to ``max_chars`` with an
    ellipsis when given), anything else as :func:`format_value`."""
    if isinstance(value, Mapping | list | tuple):
        text = json.dumps(to_jsonable(value), default=str, separators=(", ", ": "))
        return text if max_chars is None or len(text) <= max_chars else text[: max_chars - 1] + "…"
    return format_value(value)


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text == "n/a"
    return True


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return list(value.values())
    if hasattr(value, "tolist"):
        value = value.tolist()
    return list(value) if isinstance(value, list | tuple) else [value]


def _check(report: Mapping[str, Any]) -> None:
    if not isinstance(report, Mapping):
        raise LongtailError(f"a report must be a dict, got {type(report).__name__}")
    missing = [k for k in ("task", "metrics") if k not in report]
    if missing:
        raise LongtailError(
            f"report is missing {', '.join(missing)}; build it around evaluate_predictions()"
        )

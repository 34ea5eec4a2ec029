"""Self-contained HTML reports: one file per training run or per comparison of variants.

The file needs nothing but a browser: CSS and a tiny script are inline, figures are inline SVG
(from :mod:`longtail.evaluation.plots`) or base64 PNG, and a Content-Security-Policy forbids any
network load. Every user string (labels, titles, warnings) is HTML-escaped. On load the script
writes ``data-figures-ok`` / ``data-figures-total`` on ``<body>`` and copies script errors into
``<pre id="js-errors">``, so a headless browser can check that every figure rendered.

A run report draws from a :class:`RunArrays` (the predictions behind the report's metrics); a
comparison report from the summary dict of ``longtail compare`` (see
:func:`render_comparison_html`). Missing optional parts skip their section.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from longtail import __version__
from longtail.errors import LongtailError
from longtail.evaluation import plots
from longtail.evaluation.report import _HEADLINE, MAX_CONFUSION_CLASSES  # same headline as .md
from longtail.io_utils import atomic_write_text
from longtail.tasks import TASKS

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
COMPARISON_FIGURES: tuple[str, ...] = (
    "fig-compare-f1-vs-frequency",
    "fig-compare-f1-gain",
    "fig-compare-metrics",
)
_LOWER_IS_BETTER = ("ece", "loss", "brier", "seconds")
_IMAGE_MAGIC = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


class Markup(str):
    """A string that is already safe HTML and must not be escaped again."""


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
        if self.task not in TASKS:
            raise LongtailError(f"unknown task {self.task!r}; valid tasks: {', '.join(TASKS)}")
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
        expected = (n, k) if self.task == "multilabel" else (n,)
        if self.y_true.shape != expected:
            raise LongtailError(f"y_true has shape {self.y_true.shape}, expected {expected}")
        if self.task != "multilabel" and (self.y_true.min() < 0 or self.y_true.max() >= k):
            raise LongtailError(f"y_true holds class indices outside [0, {k})")
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
    title = f"longtail evaluation: {arrays.task}" + (f", {split} split" if split else "")
    parts = [f"<h1>{escape(title)}</h1>", _summary_line(metrics, arrays)]
    parts.append(_warnings(metrics.get("warnings") or []))
    parts += ["<h2>Headline</h2>", _table(["metric", "value"], _headline_rows(metrics, arrays))]
    figures = _run_figures(metrics, arrays)
    parts += ["<h2>Figures</h2>", _contents(figures), *(f for _, _, f in figures)]
    parts += ["<h2>Per class</h2>", _per_class_table(metrics, arrays)]
    parts += _details(report)
    return _page(title, parts)


def render_comparison_html(summary: Mapping[str, Any]) -> str:
    """The HTML page comparing variants (cross-validation folds x seeds) against a baseline.

    Args:
        summary: ``title``, ``baseline``, ``metrics``, ``labels``, ``class_counts``, ``cells``,
            ``variants`` (each: ``name``, ``n``, ``metrics`` and ``per_class_f1`` as
            ``{"mean", "sem", "n"}`` cells, ``vs_baseline`` as ``{"mean_difference", "ci_low",
            "ci_high", "p_value", "test", "n_pairs"}`` per metric), ``wall_seconds`` and
            ``environment``. Everything but ``variants`` may be missing; its section is skipped.

    Returns:
        The whole HTML document as a string.
    """
    variants = summary.get("variants") if isinstance(summary, Mapping) else None
    if not isinstance(variants, list) or not all(
        isinstance(v, Mapping) and "name" in v for v in variants
    ):
        raise LongtailError("a comparison summary needs 'variants': a list of dicts with a 'name'")
    title = str(summary.get("title") or "longtail comparison")
    metrics = _metric_names(summary)
    parts = [f"<h1>{escape(title)}</h1>", *_comparison_meta(summary)]
    if metrics:
        parts += ["<h2>Metrics (mean ± SEM over runs)</h2>", _metric_table(summary, metrics)]
        parts += _delta_section(summary, metrics)
    figures = _comparison_figures(summary, metrics)
    if figures:
        parts += ["<h2>Figures</h2>", _contents(figures), *(f for _, _, f in figures)]
    parts += _per_class_f1_section(summary)
    return _page(title, parts)


def write_html_report(html: str, path: str | os.PathLike[str]) -> Path:
    """Write ``html`` to ``path`` atomically (UTF-8); parent folders are created."""
    if not isinstance(html, str) or "<html" not in html[:400]:
        raise LongtailError(f"refusing to write {path}: not an HTML document")
    return atomic_write_text(path, html)


# ---------------------------------------------------------------- run report


def _one_vs_rest(a: RunArrays) -> np.ndarray:
    if a.task == "multilabel":
        return a.y_true > 0.5
    return np.eye(len(a.labels), dtype=bool)[a.y_true.astype(np.int64)]


def _decisions(a: RunArrays) -> np.ndarray:
    """``(n, C)`` bool: what the run's decision rule predicts for each class."""
    p, k = a.probs, len(a.labels)
    if a.task == "binary":
        positive = p[:, 1] >= (a.thresholds[0] if a.thresholds else 0.5)
        return np.stack([~positive, positive], axis=1)
    if a.task == "multilabel":
        return p >= np.asarray(a.thresholds or [0.5] * k)[None, :]
    weights = np.asarray(a.thresholds or [1.0] * k)
    return np.eye(k, dtype=bool)[np.argmax(p * weights[None, :], axis=1)]


def _run_figures(metrics: Mapping[str, Any], a: RunArrays) -> list[tuple[str, str, str]]:
    truth, decided, figures = _one_vs_rest(a), _decisions(a), []
    figures += _curve_figures(a, truth, decided)
    after = plots.reliability_bins(*plots.calibration_inputs(a.task, a.y_true, a.probs))
    before = None
    if a.probs_uncalibrated is not None:
        before = plots.reliability_bins(
            *plots.calibration_inputs(a.task, a.y_true, a.probs_uncalibrated)
        )
    what = {
        "binary": f"P({a.labels[1]}) against how often the example is {a.labels[1]}",
        "multiclass": "the top-label confidence against how often the top label is right",
        "multilabel": "every label probability, pooled, against its 0/1 truth",
    }[a.task]
    caption = (
        f"Reliability diagram ({plots.ECE_BINS} equal-width bins): {what}; "
        "the bottom panel is the share of examples per bin."
    )
    if before is None:
        caption += " Only the calibrated probabilities are shown: no uncalibrated ones were given."
    figures.append(
        _figure("fig-reliability", "Reliability", plots.plot_reliability(after, before), caption)
    )
    per_class = {str(r["label"]): r for r in metrics.get("per_class") or []}
    if a.train_class_counts:
        figures += _f1_frequency_figure(a, per_class)
    if a.task == "multilabel":
        rows = sorted(
            (per_class[n] for n in a.labels if n in per_class), key=lambda r: -r["support"]
        )
        if rows:
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
            figures.append(
                _figure("fig-label-bars", "Per-label support, precision, recall", svg, caption)
            )
    else:
        figures += _confusion_figure(metrics, a, decided)
    if a.history:
        caption = "Training loss (left axis) and validation score (right axis) per epoch"
        caption += (
            "; shaded bands are training phases." if any("phase" in r for r in a.history) else "."
        )
        svg = plots.plot_training_curves(a.history)
        figures.append(_figure("fig-training-curves", "Training curves", svg, caption))
    for i, (title, data) in enumerate((a.extra_figures or {}).items(), start=1):
        figures.append(_figure(f"fig-extra-{i}", str(title), bytes(data), str(title)))
    return figures


def _curve_figures(
    a: RunArrays, truth: np.ndarray, decided: np.ndarray
) -> list[tuple[str, str, str]]:
    positives = truth.sum(axis=0)
    candidates = [1] if a.task == "binary" else list(range(len(a.labels)))
    missing = [a.labels[c] for c in candidates if positives[c] == 0]
    candidates = [c for c in candidates if positives[c] > 0]
    if not candidates:
        return [_skipped("No precision-recall or ROC curve: no class has a positive example.")]
    counts_from = "training" if a.train_class_counts else "evaluation"
    counts = [
        (a.train_class_counts or {}).get(a.labels[c], 0) if a.train_class_counts else positives[c]
        for c in candidates
    ]
    drawn = [candidates[i] for i in plots.classes_to_draw(counts)]
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
    rule = {
        "binary": "the chosen threshold on P(positive)",
        "multilabel": "each label's chosen threshold",
        "multiclass": "the argmax decision (with the decision weights, if any); "
        "it need not lie on the one-vs-rest curve",
    }[a.task]
    names = [a.labels[c] for c in drawn]
    points = [plots.operating_point(truth[:, c], decided[:, c]) for c in drawn]
    y, p = truth[:, drawn], a.probs[:, drawn]
    scope = f"positive class {a.labels[1]!r}" if a.task == "binary" else "one-vs-rest per class"
    pr = _figure(
        "fig-pr-curves",
        "Precision-recall curves",
        plots.plot_pr_curves(y, p, names, points),
        f"Precision-recall curves ({scope}); the dot marks {rule}. " + " ".join(notes),
    )
    roc_ok = [i for i, c in enumerate(drawn) if positives[c] < len(truth)]
    roc_svg = plots.plot_roc_curves(
        y[:, roc_ok], p[:, roc_ok], [names[i] for i in roc_ok], [points[i] for i in roc_ok]
    )
    roc = _figure(
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
        return [_skipped("No F1-vs-frequency figure: no class has a training count.")]
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
    return [_figure("fig-f1-vs-frequency", "F1 vs training frequency", svg, caption)]


def _confusion_figure(
    metrics: Mapping[str, Any], a: RunArrays, decided: np.ndarray
) -> list[tuple[str, str, str]]:
    k = len(a.labels)
    if k > MAX_CONFUSION_CLASSES:
        return [
            _skipped(f"No confusion matrix: {k} classes (drawn up to {MAX_CONFUSION_CLASSES}).")
        ]
    matrix = metrics.get("confusion_matrix")
    if not matrix or len(matrix) != k:
        matrix = np.zeros((k, k), dtype=np.int64)
        np.add.at(matrix, (a.y_true.astype(np.int64), decided.argmax(axis=1)), 1)
    caption = "Confusion matrix, rows = true class, normalised by row"
    caption += " (each cell: count and share of the row)." if k <= 10 else "."
    svg = plots.plot_confusion_matrix(np.asarray(matrix), a.labels)
    return [_figure("fig-confusion-matrix", "Confusion matrix", svg, caption)]


def _summary_line(metrics: Mapping[str, Any], a: RunArrays) -> str:
    if "num_examples" not in metrics:
        return ""
    return (
        f"<p>{metrics['num_examples']} examples, {len(a.labels)} classes; majority class "
        f"<code>{escape(str(metrics.get('majority_class')))}</code> "
        f"at {_fmt(metrics.get('majority_rate'))}.</p>"
    )


def _warnings(warnings: Sequence[Any]) -> str:
    if not warnings:
        return '<p class="ok">No warnings.</p>'
    items = "".join(
        f'<div class="warning" role="alert">WARNING: {escape(str(w))}</div>' for w in warnings
    )
    return f'<section id="warnings">{items}</section>'


def _headline_rows(metrics: Mapping[str, Any], a: RunArrays) -> list[list[Any]]:
    rows: list[list[Any]] = [[name, _fmt(metrics.get(key))] for name, key in _HEADLINE]
    if a.task == "binary":
        positive = metrics.get("positive_label", a.labels[1])
        for key, name in (("f1", "F1"), ("precision", "precision"), ("recall", "recall")):
            rows.append([f"positive {name} ({positive})", _fmt(metrics.get(f"positive_{key}"))])
        rows.append([f"positive PR-AUC ({positive})", _fmt(metrics.get("positive_pr_auc"))])
        rows.append(["threshold on P(positive)", _decision_cell(a, 1)])
    return rows


def _per_class_table(metrics: Mapping[str, Any], a: RunArrays) -> str:
    rows = sorted(metrics.get("per_class") or [], key=lambda r: -r["support"])
    if not rows:
        return _note("No per-class rows in the report.")
    index = {name: i for i, name in enumerate(a.labels)}
    header = ["label", *(["train count"] if a.train_class_counts else []), "support"]
    header += ["precision", "recall", "F1", "PR-AUC", "ROC-AUC"]
    header.append("decision weight" if a.task == "multiclass" else "threshold")
    body = []
    for r in rows:
        label, c = str(r["label"]), index.get(str(r["label"]))
        counts = [(a.train_class_counts or {}).get(label, "n/a")] if a.train_class_counts else []
        scores = [_fmt(r.get(k)) for k in ("precision", "recall", "f1", "pr_auc", "roc_auc")]
        body.append([label, *counts, r["support"], *scores, _decision_cell(a, c)])
    return _table(header, body)


def _decision_cell(a: RunArrays, c: int | None) -> str:
    if c is None:
        return "n/a"
    if a.task == "binary":
        return "—" if c == 0 else (_fmt(a.thresholds[0]) if a.thresholds else "0.5 (default)")
    if a.thresholds is None:
        return "1 (argmax)" if a.task == "multiclass" else "0.5 (default)"
    return _fmt(a.thresholds[c])


def _details(report: Mapping[str, Any]) -> list[str]:
    parts = ["<h2>Decision</h2>"]
    temperature = report.get("temperature")
    rows = [["temperature", _fmt(temperature) if temperature is not None else "1.0 (none)"]]
    parts.append(_table(["setting", "value"], rows))
    for section in ("data", "model"):
        if isinstance(report.get(section), Mapping) and report[section]:
            parts.append(f"<h2>{section.capitalize()}</h2>")
            parts.append(
                _table(["key", "value"], [[k, _inline(v)] for k, v in report[section].items()])
            )
    return parts


# ---------------------------------------------------------------- comparison


def _metric_names(summary: Mapping[str, Any]) -> list[str]:
    names = [str(m) for m in summary.get("metrics") or []]
    if not names:
        for v in summary["variants"]:
            names += [str(m) for m in v.get("metrics") or {} if str(m) not in names]
    return names


def _comparison_meta(summary: Mapping[str, Any]) -> list[str]:
    rows: list[list[Any]] = []
    if summary.get("baseline") is not None:
        rows.append(["baseline", summary["baseline"]])
    cells = summary.get("cells")
    if isinstance(cells, Mapping):
        seeds = cells.get("seeds")
        seeds_text = ", ".join(str(s) for s in seeds) if isinstance(seeds, list) else seeds
        rows.append(["cells", f"{cells.get('folds', 'n/a')} folds × seeds [{seeds_text}]"])
    runs = {v.get("n") for v in summary["variants"] if v.get("n") is not None}
    if runs:
        rows.append(["runs per variant", ", ".join(str(n) for n in sorted(runs))])
    wall = summary.get("wall_seconds")
    if isinstance(wall, int | float):
        rows.append(["wall time", f"{wall:.1f} s ({wall / 60:.1f} min)"])
    env = summary.get("environment")
    if isinstance(env, Mapping):
        rows += [[k, _inline(v)] for k, v in env.items()]
    return ["<h2>Setup</h2>", _table(["setting", "value"], rows)] if rows else []


def _cell(stats: Any) -> tuple[float, float]:
    """``(mean, sem)`` of a ``{"mean", "sem"}`` cell, NaN where missing."""
    if not isinstance(stats, Mapping):
        return float("nan"), float("nan")
    mean, sem = stats.get("mean"), stats.get("sem")
    return (
        float(mean) if mean is not None else float("nan"),
        float(sem) if sem is not None else float("nan"),
    )


def _mean_sem(stats: Any) -> str:
    mean, sem = _cell(stats)
    if not np.isfinite(mean):
        return "n/a"
    return f"{mean:.4f} ± {sem:.4f}" if np.isfinite(sem) else f"{mean:.4f}"


def _best_rows(values: np.ndarray, lower_is_better: bool) -> set[int]:
    finite = np.isfinite(values)
    if not finite.any():
        return set()
    best = np.nanmin(values) if lower_is_better else np.nanmax(values)
    return {int(i) for i in np.flatnonzero(finite & np.isclose(values, best, rtol=0, atol=1e-12))}


def _metric_table(summary: Mapping[str, Any], metrics: list[str]) -> str:
    variants, baseline = summary["variants"], summary.get("baseline")
    rows = [
        [_variant_name(v, baseline), *(_mean_sem((v.get("metrics") or {}).get(m)) for m in metrics)]
        for v in variants
    ]
    for j, m in enumerate(metrics, start=1):
        means = np.array([_cell((v.get("metrics") or {}).get(m))[0] for v in variants])
        lower = any(word in m.lower() for word in _LOWER_IS_BETTER)
        for i in _best_rows(means, lower):
            rows[i][j] = Markup(f"<strong>{escape(rows[i][j])}</strong>")
    note = _note("Best mean per column in bold (lowest for ECE / loss, highest otherwise).")
    return _table(["variant", *metrics], rows) + note


def _delta_section(summary: Mapping[str, Any], metrics: list[str]) -> list[str]:
    baseline = summary.get("baseline")
    others = [v for v in summary["variants"] if isinstance(v.get("vs_baseline"), Mapping)]
    if not others:
        return []
    tests, rows = set(), []
    for v in others:
        row: list[Any] = [v["name"]]
        for m in metrics:
            d = v["vs_baseline"].get(m)
            if not isinstance(d, Mapping) or d.get("mean_difference") is None:
                row.append("n/a")
                continue
            tests.add(f"{d.get('test', 'test')} on {d.get('n_pairs', '?')} pairs")
            lo, hi = d.get("ci_low"), d.get("ci_high")
            significant = lo is not None and hi is not None and (lo > 0 or hi < 0)
            ci = (
                f"95% CI [{_signed(lo)}, {_signed(hi)}]"
                if lo is not None and hi is not None
                else "no CI"
            )
            text = (
                f"<strong>{_signed(d['mean_difference'])}</strong>"
                if significant
                else _signed(d["mean_difference"])
            )
            row.append(Markup(f"{text}<br><small>{ci}; p = {_p(d.get('p_value'))}</small>"))
        rows.append(row)
    title = f"Difference to the baseline {baseline!r}" if baseline else "Difference to the baseline"
    note = _note(
        f"Paired over folds × seeds ({'; '.join(sorted(tests))}); bold where the 95% CI excludes 0."
    )
    return [f"<h2>{escape(title)}</h2>", _table(["variant", *metrics], rows), note]


def _class_order(summary: Mapping[str, Any]) -> tuple[list[str], dict[str, float]]:
    labels = [str(x) for x in summary.get("labels") or []]
    for v in summary["variants"]:
        labels += [str(k) for k in v.get("per_class_f1") or {} if str(k) not in labels]
    counts = {
        str(k): float(c) for k, c in (summary.get("class_counts") or {}).items() if c is not None
    }
    if counts:
        labels = sorted(labels, key=lambda n: -counts.get(n, 0.0))
    return labels, counts


def _per_class_f1_section(summary: Mapping[str, Any]) -> list[str]:
    variants = [v for v in summary["variants"] if isinstance(v.get("per_class_f1"), Mapping)]
    labels, counts = _class_order(summary)
    if not variants or not labels:
        return []
    header = ["label", *(["train count"] if counts else []), *(str(v["name"]) for v in variants)]
    rows = []
    for name in labels:
        cells = [v["per_class_f1"].get(name) for v in variants]
        row: list[Any] = [
            name,
            *([_fmt_count(counts.get(name))] if counts else []),
            *(_mean_sem(c) for c in cells),
        ]
        offset = len(row) - len(cells)
        for i in _best_rows(np.array([_cell(c)[0] for c in cells]), lower_is_better=False):
            row[offset + i] = Markup(f"<strong>{escape(row[offset + i])}</strong>")
        rows.append(row)
    order = "most frequent first" if counts else "in label order"
    return [
        "<h2>Per-class F1 (mean ± SEM)</h2>",
        _table(header, rows),
        _note(f"Classes {order}; best per row in bold."),
    ]


def _comparison_figures(
    summary: Mapping[str, Any], metrics: list[str]
) -> list[tuple[str, str, str]]:
    variants, figures = summary["variants"], []
    labels, counts = _class_order(summary)
    labels = labels[::-1]  # rarest first: left to right like the log-frequency axis
    with_f1 = [v for v in variants if isinstance(v.get("per_class_f1"), Mapping)]

    def f1s(v: Mapping[str, Any], names: list[str]) -> list[float | None]:
        return [_nan_none(_cell(v["per_class_f1"].get(n))[0]) for n in names]

    counted = [n for n in labels if counts.get(n, 0) > 0]
    if with_f1 and counted:
        svg = plots.plot_f1_vs_frequency(
            counted,
            [counts[n] for n in counted],
            {str(v["name"]): f1s(v, counted) for v in with_f1},
        )
        caption = (
            "Per-class F1 (mean over runs) against training frequency (log scale), "
            "one series per variant, after Shi et al. (2022), Figure 3."
        )
        figures.append(
            _figure("fig-compare-f1-vs-frequency", "F1 vs frequency per variant", svg, caption)
        )
    base = next((v for v in with_f1 if v["name"] == summary.get("baseline")), None)
    others = [v for v in with_f1 if v is not base]
    if base is not None and others and labels:
        ref = f1s(base, labels)
        gains = {
            str(v["name"]): [_diff(x, r) for x, r in zip(f1s(v, labels), ref, strict=True)]
            for v in others
        }
        order = "rarest class on the left" if counts else "label order"
        caption = (
            f"Per-class F1 gain over the baseline {str(base['name'])!r} "
            f"(difference of mean F1), {order}."
        )
        figures.append(
            _figure(
                "fig-compare-f1-gain",
                "F1 gain per class",
                plots.plot_f1_gain(labels, gains),
                caption,
            )
        )
    if metrics:
        means = np.array(
            [[_cell((v.get("metrics") or {}).get(m))[0] for m in metrics] for v in variants]
        )
        sems = np.array(
            [[_cell((v.get("metrics") or {}).get(m))[1] for m in metrics] for v in variants]
        )
        if np.isfinite(means).any():
            svg = plots.plot_metric_means(metrics, [str(v["name"]) for v in variants], means, sems)
            caption = (
                "Mean of each metric per variant (dots) with ± 1 standard error of the mean "
                "over runs; each panel zooms to its own range."
            )
            figures.append(_figure("fig-compare-metrics", "Metric means", svg, caption))
    return figures


def _variant_name(v: Mapping[str, Any], baseline: Any) -> str:
    n = f" (n = {v['n']})" if v.get("n") is not None else ""
    return f"{v['name']}{n}" + (" — baseline" if v["name"] == baseline else "")


# ---------------------------------------------------------------- HTML pieces


def _figure(fig_id: str, title: str, payload: str | bytes, caption: str) -> tuple[str, str, str]:
    if isinstance(payload, bytes):
        mime = next((m for magic, m in _IMAGE_MAGIC.items() if payload.startswith(magic)), None)
        if mime is None:
            raise LongtailError(f"figure {title!r} is not PNG or JPEG bytes; embed it as a PNG")
        data = base64.b64encode(payload).decode("ascii")
        body = f'<img src="data:{mime};base64,{data}" alt="{escape(title)}">'
    else:
        body = _inline_svg(payload, fig_id, title)
    html = (
        f'<figure id="{fig_id}">{body}<figcaption><strong>{escape(title)}.</strong> '
        f"{escape(caption)}</figcaption></figure>"
    )
    return fig_id, title, html


def _inline_svg(svg: str, prefix: str, title: str) -> str:
    """Matplotlib's SVG made fit to sit in an HTML page: no prolog, ids unique per figure."""

    def rename(tag: re.Match[str]) -> str:  # only inside tags: text nodes hold user strings
        t = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m[1]}"', tag[0])
        t = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m[1]})", t)
        return re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}-{m[1]}"', t)

    body = re.sub(r"<[^<>]+>", rename, svg[svg.index("<svg") :])
    return body.replace("<svg ", f'<svg role="img" aria-label="{escape(title)}" ', 1)


def _contents(figures: list[tuple[str, str, str]]) -> str:
    items = "".join(f'<li><a href="#{i}">{escape(t)}</a></li>' for i, t, _ in figures if i)
    return f"<nav><ul>{items}</ul></nav>" if items else ""


def _skipped(text: str) -> tuple[str, str, str]:
    """A note in place of a figure that cannot be drawn (no id: not counted as a figure)."""
    return "", "", _note(text)


def _note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def _table(header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> str:
    def cell(tag: str, value: Any) -> str:
        text = value if isinstance(value, Markup) else escape(str(value))
        numeric = not isinstance(value, Markup) and _is_number(str(value))
        return (
            f'<{tag} class="num">{text}</{tag}>'
            if numeric and tag == "td"
            else f"<{tag}>{text}</{tag}>"
        )

    head = "".join(cell("th", h) for h in header)
    body = "".join("<tr>" + "".join(cell("td", c) for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _page(title: str, parts: Sequence[str]) -> str:
    body = "\n".join(p for p in parts if p)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n<script>{_SCRIPT}</script>\n"
        f"</head>\n<body>\n<main>\n{body}\n"
        f'<footer><p class="note">Generated by longtail {escape(__version__)}.</p></footer>\n'
        '</main>\n<pre id="js-errors" hidden></pre>\n</body>\n</html>\n'
    )


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return str(value)
    return str(value) if isinstance(value, int | np.integer) else f"{float(value):.4f}"


def _fmt_count(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def _signed(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):+.4f}"


def _p(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.3g}"


def _nan_none(value: float) -> float | None:
    return value if np.isfinite(value) else None


def _diff(x: float | None, ref: float | None) -> float | None:
    return None if x is None or ref is None else x - ref


def _inline(value: Any) -> str:
    if isinstance(value, Mapping | list | tuple):
        text = json.dumps(value, default=str, separators=(", ", ": "))
        return text if len(text) <= 400 else text[:399] + "…"
    return _fmt(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text == "n/a"
    return True


_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
_CSS = """
body{margin:0;background:#fff;color:#1b1b1b;
  font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1100px;margin:0 auto;padding:1.2rem 1.5rem 3rem}
h1{font-size:1.6rem;margin:.4rem 0 .6rem}
h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0 .8rem;font-size:.88rem}
th,td{border:1px solid #b9bec6;padding:.25rem .55rem;text-align:left;vertical-align:top}
th{background:#eef1f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:nth-child(even){background:#fafbfc}
.warning{background:#fdecea;border:2px solid #c62828;color:#7f1010;font-weight:600;
  padding:.6rem .9rem;margin:.5rem 0;border-radius:4px}
.ok{color:#2e7d32}
.note{color:#555;font-size:.88rem}
figure{margin:1.2rem 0;padding:.8rem;border:1px solid #e1e4e8;border-radius:4px}
figure svg,figure img{display:block;max-width:100%;height:auto;margin:0 auto}
figcaption{font-size:.88rem;color:#333;margin-top:.5rem}
nav ul{columns:2;margin:.3rem 0}
code{background:#f3f3f3;padding:0 .2rem}
"""
# Counts rendered figures for headless checks; keeps script errors where a test can read them.
_SCRIPT = """
(function () {
  var errors = [];
  function show() {
    var pre = document.getElementById("js-errors");
    if (pre) { pre.textContent = errors.join("\\n"); }
  }
  window.onerror = function (message, source, line, column) {
    errors.push(String(message) + " (line " + line + ", column " + column + ")");
    show();
    return false;
  };
  function rendered(figure) {
    var img = figure.querySelector("img");
    if (img) { return img.complete ? img.naturalWidth > 0 : false; }
    var svg = figure.querySelector("svg");
    if (!svg) { return false; }
    try { return svg.getBBox().width > 0; } catch (e) { return false; }
  }
  window.addEventListener("load", function () {
    var figures = document.querySelectorAll("figure[id]");
    var ok = 0;
    for (var i = 0; i < figures.length; i++) { if (rendered(figures[i])) { ok++; } }
    document.body.setAttribute("data-figures-ok", String(ok));
    document.body.setAttribute("data-figures-total", String(figures.length));
    show();
  });
})();
"""

"""Figures for the HTML report: pure functions from arrays to SVG text (or PNG bytes).

Every ``plot_*`` function draws on a canvas of its own from
:mod:`longtail.evaluation.figure_canvas` (never pyplot's global state, so a report can be drawn
inside a training run or a thread), which also writes the SVG or PNG. The numbers a figure shows
come from :mod:`longtail.evaluation.figure_data` (operating points, reliability bins), pure NumPy
that tests check on their own. Dense scatters are rasterised, to keep the SVG small; user strings
reach matplotlib with ``$`` escaped, and the SVG writer escapes ``<`` and ``&`` itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_auc_score, roc_curve

from longtail.evaluation import figure_canvas as canvas
from longtail.evaluation.figure_data import MAX_CURVES, OperatingPoint, ReliabilityBins

RASTERIZE_ABOVE = 400  # scatter points drawn as one embedded bitmap beyond this many


def plot_pr_curves(
    truth: np.ndarray,
    scores: np.ndarray,
    names: Sequence[str],
    points: Sequence[OperatingPoint | None] | None = None,
    fmt: str = "svg",
) -> str | bytes:
    """One precision-recall curve per column, with the decision's operating point as a dot.

    Args:
        truth: ``(n, k)`` 0/1 one-vs-rest truth for the ``k`` classes drawn.
        scores: ``(n, k)`` probabilities of those classes.
        names: ``k`` class names for the legend.
        points: the operating point to mark per class (``None`` = no mark).
        fmt: ``"svg"`` (text) or ``"png"`` (bytes).
    """
    fig, ax = canvas.axes_figure(6.8 + (1.8 if len(names) > 8 else 0.0), 4.6)
    for k, colour in zip(range(len(names)), canvas.colours(len(names)), strict=True):
        precision, recall, _ = precision_recall_curve(truth[:, k], scores[:, k])
        ax.plot(
            recall,
            precision,
            color=colour,
            lw=1.3,
            drawstyle="steps-post",
            label=canvas.label_text(names[k]),
        )
        point = points[k] if points is not None else None
        if point is not None:
            ax.plot(point.recall, point.precision, "o", color=colour, ms=6, mec="black", mew=0.8)
    ax.set(xlabel="recall", ylabel="precision", xlim=(-0.02, 1.02), ylim=(-0.02, 1.05))
    canvas.legend(ax, len(names))
    return canvas.export(fig, fmt)


def plot_roc_curves(
    truth: np.ndarray,
    scores: np.ndarray,
    names: Sequence[str],
    points: Sequence[OperatingPoint | None] | None = None,
    fmt: str = "svg",
) -> str | bytes:
    """One-vs-rest ROC curves with the AUC in the legend and the operating point as a dot."""
    fig, ax = canvas.axes_figure(6.8 + (1.8 if len(names) > 8 else 0.0), 4.6)
    ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1)
    for k, colour in zip(range(len(names)), canvas.colours(len(names)), strict=True):
        fpr, tpr, _ = roc_curve(truth[:, k], scores[:, k])
        auc = roc_auc_score(truth[:, k], scores[:, k])
        ax.plot(
            fpr, tpr, color=colour, lw=1.3, label=f"{canvas.label_text(names[k])} (AUC {auc:.3f})"
        )
        point = points[k] if points is not None else None
        if point is not None:
            ax.plot(point.fpr, point.recall, "o", color=colour, ms=6, mec="black", mew=0.8)
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate (recall)")
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02))
    canvas.legend(ax, len(names))
    return canvas.export(fig, fmt)


def plot_reliability(
    after: ReliabilityBins, before: ReliabilityBins | None = None, fmt: str = "svg"
) -> str | bytes:
    """Reliability diagram (observed frequency vs mean confidence per bin), ECE in the legend."""
    fig = canvas.new_figure(6.0, 5.2)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.plot([0, 1], [0, 1], ls=":", color="grey", lw=1, label="perfect calibration")
    series = [
        ("before calibration", before, "tab:orange", "--"),
        ("after calibration", after, "tab:blue", "-"),
    ]
    width = np.diff(after.edges)
    for i, (label, bins, colour, style) in enumerate(series):
        if bins is None:
            continue
        filled = bins.count > 0
        top.plot(
            bins.confidence[filled],
            bins.accuracy[filled],
            style,
            marker="o",
            ms=4,
            color=colour,
            label=f"{label} (ECE {bins.ece:.3f})",
        )
        share = bins.count / max(bins.count.sum(), 1)
        offset = (i - 0.5) * 0.4 * width if before is not None else 0.0
        bottom.bar(
            bins.edges[:-1] + width / 2 + offset,
            share,
            width=width * (0.4 if before is not None else 0.9),
            color=colour,
            alpha=0.8,
        )
    top.set(ylabel="observed frequency", xlim=(0, 1), ylim=(-0.02, 1.02))
    top.legend(loc="upper left", fontsize=8)
    bottom.set(xlabel="predicted probability (bin)", ylabel="share")
    return canvas.export(fig, fmt)


def plot_f1_vs_frequency(
    names: Sequence[str],
    counts: Sequence[float],
    series: Mapping[str, Sequence[float | None]],
    fmt: str = "svg",
) -> str | bytes:
    """Per-class F1 against training frequency on a log x-axis, one series per model/variant.

    Shi et al. (2022, LIDTA, PMLR 183), Figure 3: on long-tailed data F1 falls with class
    frequency, and a method for the tail should lift the left end of this plot. With several
    series each class is a dot and each series' line joins its mean F1 at each frequency.
    """
    fig, ax = canvas.axes_figure(6.8, 4.4)
    x = np.asarray(counts, dtype=np.float64)
    many = len(x) * len(series) > RASTERIZE_ABOVE
    levels = np.unique(x)
    for (label, values), colour in zip(series.items(), canvas.colours(len(series)), strict=True):
        y = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        ax.plot(x, y, "o", color=colour, ms=5, alpha=0.75, rasterized=many,
                label=None if len(series) > 1 else canvas.label_text(label))  # fmt: skip
        if len(series) > 1:  # one line through the mean F1 at each frequency: classes that share
            # a count (step imbalance) would otherwise be joined by vertical zig-zags
            means = [np.nanmean(y[x == level]) if np.isfinite(y[x == level]).any() else np.nan
                     for level in levels]  # fmt: skip
            ax.plot(levels, means, "-", color=colour, lw=1.2, label=canvas.label_text(label))
    if len(names) <= MAX_CURVES and len(series) == 1:
        y = np.array([np.nan if v is None else v for v in next(iter(series.values()))])
        for name, xi, yi in zip(names, x, y, strict=True):
            if np.isfinite(yi):
                ax.annotate(
                    canvas.label_text(name, 16),
                    (xi, yi),
                    xytext=(3, 3),
                    textcoords="offset points",
                    fontsize=7,
                )
    ax.set_xscale("log")
    ax.set(xlabel="training examples of the class (log scale)", ylabel="F1", ylim=(-0.03, 1.05))
    if len(series) > 1:
        canvas.legend(ax, len(series))
    return canvas.export(fig, fmt)


def plot_confusion_matrix(
    matrix: np.ndarray, names: Sequence[str], annotate: bool | None = None, fmt: str = "svg"
) -> str | bytes:
    """Row-normalised confusion matrix (rows = true class); counts annotated for small matrices."""
    m = np.asarray(matrix, dtype=np.float64)
    rows = m.sum(axis=1, keepdims=True)
    norm = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    k = len(names)
    side = min(3.2 + 0.32 * k, 11.0)
    fig, ax = canvas.axes_figure(side + 1.2, side)
    ax.grid(False)
    image = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    ticks = [canvas.label_text(n, 18) for n in names]
    size = 8 if k <= 15 else 6
    ax.set_xticks(range(k), ticks, rotation=60, ha="right", fontsize=size)
    ax.set_yticks(range(k), ticks, fontsize=size)
    ax.set(xlabel="predicted", ylabel="true")
    if annotate if annotate is not None else k <= 10:
        for i in range(k):
            for j in range(k):
                ax.text(
                    j,
                    i,
                    f"{int(m[i, j])}\n{norm[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if norm[i, j] > 0.55 else "black",
                )
    return canvas.export(fig, fmt)


def plot_label_bars(
    names: Sequence[str],
    support: Sequence[int],
    precision: Sequence[float],
    recall: Sequence[float],
    fmt: str = "svg",
) -> str | bytes:
    """Multilabel summary: support per label (top) and precision/recall per label (bottom)."""
    k = len(names)
    fig = canvas.new_figure(min(4.0 + 0.38 * k, 16.0), 5.6)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[1, 1.6])
    x = np.arange(k)
    top.bar(x, support, color="tab:grey")
    top.set(ylabel="support")
    bottom.bar(x - 0.2, precision, width=0.4, color="tab:blue", label="precision")
    bottom.bar(x + 0.2, recall, width=0.4, color="tab:orange", label="recall")
    bottom.set(ylabel="score", ylim=(0, 1.05))
    canvas.class_ticks(bottom, names)
    bottom.set_ylim(0, 1.2)
    bottom.legend(fontsize=8, loc="upper right", ncols=2)
    return canvas.export(fig, fmt)


def plot_training_curves(history: Sequence[Mapping[str, Any]], fmt: str = "svg") -> str | bytes:
    """Train loss (left axis) and validation score (right axis) per epoch; phases shaded."""
    epochs = [row.get("epoch") for row in history]
    increasing = all(isinstance(e, int | float) for e in epochs) and all(
        b > a for a, b in zip(epochs, epochs[1:], strict=False)
    )
    x = np.asarray(epochs, dtype=np.float64) if increasing else np.arange(1.0, len(history) + 1)
    fig, ax = canvas.axes_figure(6.8, 4.0)
    loss = canvas.float_array(row.get("train_loss") for row in history)
    score = canvas.float_array(row.get("val_score") for row in history)
    ax.plot(x, loss, "o-", color="tab:red", ms=4, label="train loss")
    ax.set(xlabel="epoch" if increasing else "epoch (counted across phases)", ylabel="train loss")
    right = ax.twinx()
    right.plot(x, score, "s-", color="tab:blue", ms=4, label="validation score")
    right.set_ylabel("validation score")
    start = 0
    phases = [row.get("phase") for row in history]
    for end in range(1, len(history) + 1):
        if end == len(history) or phases[end] != phases[start]:
            if phases[start] is not None:
                shade = "#eeeeee" if len(set(phases[:start])) % 2 == 0 else "#dde7f3"
                ax.axvspan(x[start] - 0.5, x[end - 1] + 0.5, color=shade, zorder=0)
                ax.text(
                    (x[start] + x[end - 1]) / 2,
                    1.01,
                    canvas.label_text(str(phases[start]), 20),
                    transform=ax.get_xaxis_transform(),
                    ha="center",
                    va="bottom",
                    fontsize=8,
                )
            start = end
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="center right", fontsize=8)
    return canvas.export(fig, fmt)


def plot_f1_gain(
    names: Sequence[str],
    gains: Mapping[str, Sequence[float | None]],
    fmt: str = "svg",
    errors: Mapping[str, Sequence[float | None]] | None = None,
) -> str | bytes:
    """Grouped bars: per-class F1 of each variant minus the baseline's, classes in given order.

    ``errors`` (optional, per variant and class): the SEM of the paired per-cell differences,
    drawn as error bars; a missing or NaN error draws no bar.
    """
    k, v = len(names), max(len(gains), 1)
    fig, ax = canvas.axes_figure(min(4.5 + 0.3 * k * v, 16.0), 4.4)
    x, width = np.arange(k), 0.8 / v
    for i, ((label, values), colour) in enumerate(
        zip(gains.items(), canvas.colours(v), strict=False)
    ):
        y = canvas.float_array(values)
        spread = (errors or {}).get(label)
        ax.bar(
            x - 0.4 + width * (i + 0.5),
            np.nan_to_num(y),
            width=width,
            color=colour,
            label=canvas.label_text(label),
            yerr=None if spread is None else np.nan_to_num(canvas.float_array(spread)),
            error_kw={"elinewidth": 0.8, "capsize": 2, "ecolor": "#333333"},
        )
    ax.axhline(0, color="black", lw=0.8)
    canvas.class_ticks(ax, names)
    ax.set(ylabel="F1 gain over the baseline")
    canvas.legend(ax, v)
    return canvas.export(fig, fmt)


def plot_metric_means(
    metrics: Sequence[str],
    variants: Sequence[str],
    means: np.ndarray,
    sems: np.ndarray,
    fmt: str = "svg",
) -> str | bytes:
    """One small panel per metric: each variant's mean as a dot with ±1 SEM error bars.

    Dots rather than bars, so each panel can zoom to the range of the means: differences of a
    point or two stay visible without a bar that does not start at zero.

    Args:
        metrics: metric names (panels).
        variants: variant names (rows).
        means: ``(len(variants), len(metrics))``; NaN where missing.
        sems: same shape; NaN draws no error bar.
    """
    cols = min(len(metrics), 3)
    rows = -(-len(metrics) // cols)
    fig = canvas.new_figure(3.0 * cols + 0.8, 0.9 + (0.3 * len(variants) + 0.9) * rows)
    axes = fig.subplots(rows, cols, squeeze=False).reshape(-1)
    y = np.arange(len(variants))
    colours = canvas.colours(len(variants))
    for j, ax in enumerate(axes):
        if j >= len(metrics):
            ax.set_visible(False)
            continue
        for i, colour in enumerate(colours):
            err = sems[i, j] if np.isfinite(sems[i, j]) else None
            ax.errorbar(means[i, j], y[i], xerr=err, fmt="o", color=colour, capsize=3, ms=5)
        ax.set_yticks(
            y, [canvas.label_text(n, 18) for n in variants] if j % cols == 0 else [""] * len(y)
        )
        ax.tick_params(axis="y", labelsize=8)
        ax.set_ylim(len(variants) - 0.5, -0.5)
        ax.set_title(canvas.label_text(metrics[j]), fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(True, axis="x", alpha=0.3, lw=0.5)
        ax.margins(x=0.15)
    return canvas.export(fig, fmt)

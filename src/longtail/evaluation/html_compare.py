"""The HTML page of ``longtail compare``: mean ± SEM per variant, Δ against the baseline with its
confidence interval and p-value, per-class F1, and the comparison figures."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

import numpy as np

from longtail.errors import LongtailError
from longtail.evaluation import plots
from longtail.evaluation.html_page import (
    Markup,
    contents_nav,
    difference_or_none,
    figure_block,
    finite_or_none,
    format_inline,
    format_p_value,
    format_signed,
    html_document,
    html_table,
    note_paragraph,
    warnings_section,
)
from longtail.evaluation.report import (
    FEW_EXAMPLES,
    few_examples,
    few_examples_note,
    folded_counts_note,
    format_mean_count,
    mark_few,
)

COMPARISON_FIGURES: tuple[str, ...] = (
    "fig-compare-f1-vs-frequency",
    "fig-compare-f1-gain",
    "fig-compare-metrics",
)
_LOWER_IS_BETTER = ("ece", "loss", "brier", "seconds")


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
    if summary.get("warnings"):  # a page without any says nothing (older summaries have none)
        parts.append(warnings_section(summary["warnings"]))
    if metrics:
        parts += ["<h2>Metrics (mean ± SEM over runs)</h2>", _metric_table(summary, metrics)]
        parts += _delta_section(summary, metrics)
    figures = _comparison_figures(summary, metrics)
    if figures:
        parts += ["<h2>Figures</h2>", contents_nav(figures), *(f for _, _, f in figures)]
    parts += _per_class_f1_section(summary)
    return html_document(title, parts)


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
        rows += [[k, format_inline(v)] for k, v in env.items()]
    return ["<h2>Setup</h2>", html_table(["setting", "value"], rows)] if rows else []


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
    note = "Best mean per column in bold (lowest for ECE / loss, highest otherwise)."
    anchor = summary.get("anchor")
    if isinstance(anchor, Mapping):  # a reference, not a contender: never in bold
        rows.append([f"anchor: {anchor.get('name')}",
                     *(_mean_sem((anchor.get("metrics") or {}).get(m)) for m in metrics)])  # fmt: skip
        note += (" The anchor row is TF-IDF + logistic regression fitted on each cell's training"
                 " rows and scored on the same rows (longtail.evaluation.anchor).")  # fmt: skip
    return html_table(["variant", *metrics], rows) + note_paragraph(note)


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
                f"95% CI [{format_signed(lo)}, {format_signed(hi)}]"
                if lo is not None and hi is not None
                else "no CI"
            )
            text = (
                f"<strong>{format_signed(d['mean_difference'])}</strong>"
                if significant
                else format_signed(d["mean_difference"])
            )
            row.append(
                Markup(f"{text}<br><small>{ci}; p = {format_p_value(d.get('p_value'))}</small>")
            )
        rows.append(row)
    title = f"Difference to the baseline {baseline!r}" if baseline else "Difference to the baseline"
    note = note_paragraph(
        f"Paired over folds × seeds ({'; '.join(sorted(tests))}); bold where the 95% CI excludes 0."
    )
    return [f"<h2>{escape(title)}</h2>", html_table(["variant", *metrics], rows), note]


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
    support = {str(k): n for k, n in (summary.get("test_support") or {}).items()}
    few = few_examples(support)
    folds = (summary.get("cells") or {}).get("folds")  # folded: the counts are the whole file's
    header = [
        "label",
        *(["count, folded" if folds else "train count"] if counts else []),
        *(["test count"] if support else []),
        *(str(v["name"]) for v in variants),
    ]
    rows = []
    for name in labels:
        cells = [v["per_class_f1"].get(name) for v in variants]
        row: list[Any] = [
            mark_few(name, few),
            *([format_mean_count(counts.get(name))] if counts else []),
            *([format_mean_count(support.get(name))] if support else []),
            *(_mean_sem(c) for c in cells),
        ]
        offset = len(row) - len(cells)
        for i in _best_rows(np.array([_cell(c)[0] for c in cells]), lower_is_better=False):
            row[offset + i] = Markup(f"<strong>{escape(row[offset + i])}</strong>")
        rows.append(row)
    order = "most frequent first" if counts else "in label order"
    return [
        "<h2>Per-class F1 (mean ± SEM)</h2>",
        html_table(header, rows),
        note_paragraph(
            f"Classes {order}; best per row in bold."
            + (" Test count: test examples of the class per cell." if support else "")
        ),
        *([note_paragraph(few_examples_note(len(few), "test examples per cell"))] if few else []),
        *(
            [note_paragraph(folded_counts_note(folds, "Count, folded", "test count"))]
            if folds
            else []
        ),
    ]


def _comparison_figures(
    summary: Mapping[str, Any], metrics: list[str]
) -> list[tuple[str, str, str]]:
    variants, figures = summary["variants"], []
    labels, counts = _class_order(summary)
    labels = labels[::-1]  # rarest first: left to right like the log-frequency axis
    with_f1 = [v for v in variants if isinstance(v.get("per_class_f1"), Mapping)]

    def f1s(
        v: Mapping[str, Any], names: list[str], key: str = "per_class_f1"
    ) -> list[float | None]:
        return [finite_or_none(_cell(v[key].get(n))[0]) for n in names]

    counted = [n for n in labels if counts.get(n, 0) > 0]
    if with_f1 and counted:
        svg = plots.plot_f1_vs_frequency(
            counted,
            [counts[n] for n in counted],
            {str(v["name"]): f1s(v, counted) for v in with_f1},
        )
        caption = (
            "Per-class F1 (mean over runs) against training frequency (log scale), "
            "one colour per variant (dots: classes; line: mean F1 at each frequency), "
            "after Shi et al. (2022), Figure 3."
        )
        figures.append(
            figure_block("fig-compare-f1-vs-frequency", "F1 vs frequency per variant", svg, caption)
        )
    base = next((v for v in with_f1 if v["name"] == summary.get("baseline")), None)
    others = [v for v in with_f1 if v is not base]
    if base is not None and others and labels:
        paired = all(isinstance(v.get("per_class_f1_gain"), Mapping) for v in others)
        if paired:  # mean ± SEM of the per-cell differences (same fold and seed)
            gains = {str(v["name"]): f1s(v, labels, "per_class_f1_gain") for v in others}
            errors = {
                str(v["name"]): [
                    finite_or_none(_cell(v["per_class_f1_gain"].get(n))[1]) for n in labels
                ]
                for v in others
            }
            how = "mean of the paired per-cell differences, error bars ± SEM"
        else:  # an older summary: difference of the mean F1 values only
            ref = f1s(base, labels)
            gains = {
                str(v["name"]): [
                    difference_or_none(x, r) for x, r in zip(f1s(v, labels), ref, strict=True)
                ]
                for v in others
            }
            errors, how = None, "difference of mean F1"
        order = "rarest class on the left" if counts else "label order"
        caption = f"Per-class F1 gain over the baseline {str(base['name'])!r} ({how}), {order}."
        few = few_examples(summary.get("test_support") or {})
        if few:
            caption += f" † fewer than {FEW_EXAMPLES} test examples per cell: mostly noise."
        ticks = [mark_few(n, few) for n in labels]
        figures.append(
            figure_block(
                "fig-compare-f1-gain",
                "F1 gain per class",
                plots.plot_f1_gain(ticks, gains, errors=errors),
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
            figures.append(figure_block("fig-compare-metrics", "Metric means", svg, caption))
    return figures


def _variant_name(v: Mapping[str, Any], baseline: Any) -> str:
    n = f" (n = {v['n']})" if v.get("n") is not None else ""
    return f"{v['name']}{n}" + (" — baseline" if v["name"] == baseline else "")


# ---------------------------------------------------------------- HTML pieces

"""A finished (or partial) grid → mean ± SEM per variant, per-class F1, paired tests vs baseline.

Written as ``comparison.json`` (everything), ``comparison.md`` (the tables) and
``comparison.html`` (tables and figures, :func:`longtail.evaluation.html_report.render_comparison_html`).
"""

from __future__ import annotations

import math
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from longtail.evaluation.anchor import ANCHOR_NAME
from longtail.evaluation.convergence import MIN_GAIN
from longtail.evaluation.metrics import to_jsonable
from longtail.evaluation.report import (
    few_examples,
    few_examples_note,
    folded_counts_note,
    format_mean_count,
    mark_few,
    markdown_table,
)
from longtail.experiments.stats import holm_bonferroni, mean_sem, paired_comparison
from longtail.io_utils import atomic_write_json, atomic_write_text
from longtail.safe_text import markdown_text


def _test_support(
    records: Sequence[Mapping[str, Any]], labels: Sequence[str]
) -> dict[str, float] | None:
    """Mean test examples per class over the cells (``None`` when no cell recorded it).

    Every variant is scored on the same test rows (a fold or the fixed test file), so the mean
    over all cells is the mean test size of a class per cell.
    """
    seen = [  # an empty mapping: a cell whose report was unreadable, not a cell with no examples
        r["per_class_support"]
        for r in records
        if isinstance(r.get("per_class_support"), Mapping) and r["per_class_support"]
    ]
    if not seen:
        return None
    return {label: sum(float(s.get(label, 0)) for s in seen) / len(seen) for label in labels}


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and value is not None else math.nan


def summarize(
    spec: Any,
    records: Sequence[Mapping[str, Any]],
    labels: Sequence[str],
    class_counts: Mapping[str, int],
) -> dict[str, Any]:
    """The comparison summary (see :func:`render_comparison_markdown` for what is shown)."""
    by_variant: dict[str, dict[str, Mapping[str, Any]]] = {v: {} for v in spec.variants}
    for record in records:
        by_variant.setdefault(record["variant"], {})[record["key"]] = record
    base = by_variant.get(spec.baseline, {})
    variants = []
    for name, cells in by_variant.items():
        entry: dict[str, Any] = {
            "name": name,
            "n": len(cells),
            **_means(list(cells.values()), spec.metrics, labels),
            "seconds": round(sum(c.get("seconds", 0.0) for c in cells.values()), 1),
            "still_improving": sum(1 for c in cells.values() if c.get("still_improving")),
        }
        if name != spec.baseline:
            shared = sorted(cells.keys() & base.keys())
            entry["per_class_f1_gain"] = {  # paired per cell, so fold/seed effects cancel
                label: mean_sem(
                    [
                        _number(cells[k]["per_class_f1"].get(label))
                        - _number(base[k]["per_class_f1"].get(label))
                        for k in shared
                    ]
                ).to_json()
                for label in labels
            }
            entry["vs_baseline"] = {
                m: paired_comparison(
                    {k: _number(c["metrics"].get(m)) for k, c in cells.items()},
                    {k: _number(c["metrics"].get(m)) for k, c in base.items()},
                    variant=name, baseline=spec.baseline, metric=m, test=spec.test,
                    test_train_ratio=1.0 / (spec.folds - 1) if spec.folds else None,
                ).to_json()
                for m in spec.metrics
            }  # fmt: skip
        variants.append(entry)
    for metric in spec.metrics:  # Holm–Bonferroni over the variants facing the same baseline
        raw = {
            v["name"]: v["vs_baseline"][metric]["p_value"]
            for v in variants
            if "vs_baseline" in v and v["vs_baseline"][metric]["p_value"] is not None
        }
        for name, adjusted in holm_bonferroni(raw).items():
            next(v for v in variants if v["name"] == name)["vs_baseline"][metric]["p_holm"] = (
                adjusted
            )
    complete = all(v["n"] == len(spec.seeds) * (spec.folds or 1) for v in variants)
    anchor = _anchor(records, spec.metrics, labels)
    return to_jsonable(
        {
            "title": f"compare: {spec.source}",
            "baseline": spec.baseline,
            "metrics": list(spec.metrics),
            "labels": list(labels),
            "class_counts": dict(class_counts),
            "test_support": _test_support(records, labels),
            "cells": {"folds": spec.folds, "seeds": list(spec.seeds), "complete": complete},
            "test": spec.test,
            "variants": variants,
            "anchor": anchor,
            "warnings": _still_learning_warnings(variants) + _anchor_warnings(variants, anchor),
            "environment": _environment(spec),
        }
    )


def _anchor(
    records: Sequence[Mapping[str, Any]], metrics: Sequence[str], labels: Sequence[str]
) -> dict[str, Any] | None:
    """The anchor (:mod:`longtail.evaluation.anchor`) over the grid's cells: fitted on each
    cell's training rows, so one value per (fold, seed), whichever variant's cell recorded it;
    ``None`` when no cell did (``anchor: none``, ``--arrow``, cells saved before it existed)."""
    by_key: dict[str, Mapping[str, Any]] = {}
    for record in records:
        if isinstance(record.get("anchor"), Mapping):
            by_key.setdefault(record["key"], record["anchor"])
    if not by_key:
        return None
    return {
        "name": ANCHOR_NAME,
        "n": len(by_key),
        **_means(list(by_key.values()), metrics, labels),
    }


def _means(
    cells: Sequence[Mapping[str, Any]], metrics: Sequence[str], labels: Sequence[str]
) -> dict[str, Any]:
    """``metrics`` and ``per_class_f1`` as mean ± SEM over ``cells`` (a variant's, or the
    anchor's one per (fold, seed))."""
    return {
        "metrics": {
            m: mean_sem([_number(c["metrics"].get(m)) for c in cells]).to_json() for m in metrics
        },
        "per_class_f1": {
            label: mean_sem([_number(c["per_class_f1"].get(label)) for c in cells]).to_json()
            for label in labels
        },
    }


def _anchor_warnings(
    variants: Sequence[Mapping[str, Any]], anchor: Mapping[str, Any] | None
) -> list[str]:
    """One line when the anchor's mean macro-F1 is above every variant's."""
    if anchor is None or "f1_macro" not in anchor["metrics"]:
        return []
    theirs = anchor["metrics"]["f1_macro"].get("mean")
    ours = {v["name"]: (v["metrics"].get("f1_macro") or {}).get("mean") for v in variants}
    if theirs is None or not ours or any(m is None or m >= theirs for m in ours.values()):
        return []
    best = max(ours, key=lambda name: ours[name])
    return [
        f"the anchor ({ANCHOR_NAME}, fitted on each cell's training rows) scores mean macro-F1 "
        f"{theirs:.4f}, above every variant (best: {best}, {ours[best]:.4f})"
    ]


def _still_learning_warnings(variants: Sequence[Mapping[str, Any]]) -> list[str]:
    """One warning naming the variants whose cells were still learning when training stopped
    (:func:`longtail.evaluation.convergence.still_improving`): a ranking of such models says what
    the remedies do to models that have not learnt their task yet."""
    late = [v for v in variants if v.get("still_improving")]
    if not late:
        return []
    named = ", ".join(f"{v['name']} ({v['still_improving']} of {v['n']} cells)" for v in late)
    return [
        f"still learning when training stopped: {named}; the validation score rose by at least "
        f"{MIN_GAIN} in the last epoch, so these models may be undertrained. Rerun with more "
        "train.epochs, or a higher train.max_epochs / train.max_steps when training to "
        "convergence (early stopping keeps the best epoch), before trusting the ranking."
    ]


def _environment(spec: Any) -> dict[str, Any]:
    config = spec.variant_config(spec.baseline)
    from longtail.models import resolve_model_name

    try:
        encoder = str(resolve_model_name(config.model.name))
    except Exception:  # the summary must not fail on a model that is gone since training
        encoder = str(config.model.name)
    try:
        import torch

        hardware = (
            torch.cuda.get_device_name(0)
            if torch.cuda.is_available()
            else f"CPU ({platform.processor() or platform.machine()})"
        )
    except Exception:
        hardware = platform.machine()
    return {
        "encoder": encoder,
        # fixed epochs, or how a run to convergence was bounded (the baseline's train.*)
        "epochs": config.train.epochs
        if config.train.epochs is not None
        else f"to convergence (at most {config.train.max_epochs} epochs)",
        "hardware": hardware,
        "data": config.data.train,
    }


def _epochs(epochs: Any) -> str:
    """``3 epochs``, or what a summary of runs to convergence recorded."""
    return f"{epochs} epochs" if isinstance(epochs, int) else markdown_text(str(epochs))


def _cell(value: Mapping[str, Any] | None, digits: int = 3) -> str:
    if not value or value.get("mean") is None:
        return "n/a"
    if value.get("n", 0) < 2 or value.get("sem") is None:
        return f"{value['mean']:.{digits}f} (n={value.get('n', 0)})"
    return f"{value['mean']:.{digits}f} ± {value['sem']:.{digits}f}"


def _p(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2g}" if value >= 0.001 else "<0.001"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _test_label(summary: Mapping[str, Any]) -> str:
    """The test's full name as the comparisons record it ("corrected resampled t-test")."""
    for variant in summary.get("variants", []):
        for result in (variant.get("vs_baseline") or {}).values():
            if isinstance(result, Mapping) and result.get("test"):
                return str(result["test"])
    return f"{summary.get('test')} test"


def render_comparison_markdown(summary: Mapping[str, Any]) -> str:
    """The tables of ``comparison.md``; names from the user's files (the experiment file, variants,
    labels, the encoder) are escaped (:func:`longtail.safe_text.markdown_text`), tables by
    :func:`longtail.evaluation.report.markdown_table`."""
    md = markdown_text
    metrics = list(summary["metrics"])
    cells = summary.get("cells", {})
    env = summary.get("environment", {})
    lines = [
        f"# {md(summary['title'])}",
        "",
        f"{_count(len(cells.get('seeds', [])), 'seed')} × "
        f"{_count(cells['folds'], 'fold') if cells.get('folds') else '1 fixed split'}; "
        f"encoder {md(env.get('encoder'))}, {_epochs(env.get('epochs'))}, {md(env.get('hardware'))}; "
        f"training time {summary.get('wall_seconds', 0):.0f} s. Mean ± SEM over cells; Δ and p-values "
        f"({md(_test_label(summary))}, paired by {'fold and seed' if cells.get('folds') else 'seed'}) "
        f"against **{md(summary['baseline'])}**.",
        "",
    ]
    if not cells.get("complete", True):
        lines += [
            "> **The grid is not complete: `longtail compare` on the same file (without --summary-only) trains the missing cells.**",
            "",
        ]
    for warning in summary.get("warnings") or []:
        lines += [f"> **WARNING: {md(warning)}**", ""]
    header = ["variant", "n", *metrics]
    rows = [
        [v["name"], str(v["n"]), *(_cell(v["metrics"].get(m)) for m in metrics)]
        for v in summary["variants"]
    ]
    anchor = summary.get("anchor")
    if anchor:
        rows.append([f"anchor: {anchor['name']}", str(anchor["n"]),
                     *(_cell(anchor["metrics"].get(m)) for m in metrics)])  # fmt: skip
    lines += markdown_table(header, rows)
    lines += ["", f"## Against the baseline ({md(summary['baseline'])})", ""]
    rows = []
    for v in summary["variants"]:
        for m, c in (v.get("vs_baseline") or {}).items():
            ci = "n/a" if c.get("ci_low") is None else f"[{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]"
            diff = "n/a" if c.get("mean_difference") is None else f"{c['mean_difference']:+.4f}"
            rows.append(
                [
                    v["name"],
                    m,
                    diff,
                    ci,
                    _p(c.get("p_value")),
                    _p(c.get("p_holm")),
                    str(c.get("n_pairs")),
                ]
            )
    lines += (
        markdown_table(["variant", "metric", "Δ mean", "95% CI", "p", "p (Holm)", "pairs"], rows)
        if rows
        else ["- no other variant"]
    )
    counts = summary.get("class_counts", {})
    labels = sorted(summary.get("labels", []), key=lambda label: -counts.get(label, 0))
    support = summary.get("test_support") or {}
    few = few_examples(support)
    folds = (summary.get("cells") or {}).get("folds")
    lines += ["", "## Per-class F1 (classes by training frequency)", ""]
    header = [
        "class", "n, folded" if folds else "train n", *(["test n"] if support else []),
        *(v["name"] for v in summary["variants"]), *(["anchor"] if anchor else []),
    ]  # fmt: skip
    rows = [
        [
            mark_few(label, few),
            str(counts.get(label, "")),
            *([format_mean_count(support.get(label))] if support else []),
            *(_cell(v["per_class_f1"].get(label)) for v in summary["variants"]),
            *([_cell(anchor["per_class_f1"].get(label))] if anchor else []),
        ]
        for label in labels
    ]
    lines += markdown_table(header, rows)
    if folds:
        lines += ["", folded_counts_note(folds, "n, folded", "test n")]
    if few:
        lines += ["", few_examples_note(len(few), "test examples per cell")]
    return "\n".join(lines) + "\n"


def write_summary(summary: Mapping[str, Any], output: Path) -> dict[str, Path]:
    from longtail.evaluation.html_report import render_comparison_html, write_html_report

    return {
        "json": atomic_write_json(output / "comparison.json", summary),
        "markdown": atomic_write_text(
            output / "comparison.md", render_comparison_markdown(summary)
        ),
        "html": write_html_report(render_comparison_html(summary), output / "comparison.html"),
    }

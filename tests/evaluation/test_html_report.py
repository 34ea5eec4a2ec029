"""HTML reports: self-contained, every figure present per task, escaped, graceful when sparse."""

from __future__ import annotations

import copy
import io
import re
from functools import cache
from html import escape

import matplotlib.image
import numpy as np
import pytest

from longtail.decision import apply_thresholds
from longtail.errors import LongtailError
from longtail.evaluation import evaluate_predictions, figure_data
from longtail.evaluation.html_report import (
    RunArrays,
    render_comparison_html,
    render_run_html,
    write_html_report,
)

SCRIPT = "<script>alert(1)</script>"
COMMON = {"fig-pr-curves", "fig-roc-curves", "fig-reliability", "fig-f1-vs-frequency"}
EXPECTED = {
    "binary": COMMON | {"fig-confusion-matrix", "fig-training-curves", "fig-extra-1"},
    "multiclass": COMMON | {"fig-confusion-matrix", "fig-training-curves", "fig-extra-1"},
    "multilabel": COMMON | {"fig-label-bars", "fig-training-curves", "fig-extra-1"},
}


def _png() -> bytes:
    buffer = io.BytesIO()
    matplotlib.image.imsave(buffer, np.random.default_rng(0).random((20, 30)), format="png")
    return buffer.getvalue()


def make_run(task: str, k: int = 4, n: int = 300, full: bool = True, seed: int = 0):
    """A report dict and its RunArrays; labels include HTML and an ampersand."""
    rng = np.random.default_rng(seed)
    labels = ["ham", SCRIPT] if task == "binary" else ["common", SCRIPT, "a&b"]
    labels += [f"class {i}" for i in range(len(labels), 2 if task == "binary" else k)]
    k = len(labels)
    freq = 1.0 / np.arange(1, k + 1) ** 1.3
    freq /= freq.sum()
    if task == "multilabel":
        y = (rng.random((n, k)) < np.maximum(freq, 0.05)).astype(int)
        p = 1 / (1 + np.exp(-(3 * (2 * y - 1) + rng.normal(0, 2, (n, k)))))
        thresholds = np.full(k, 0.4)
    else:
        y = rng.choice(k, size=n, p=freq)
        logits = rng.normal(size=(n, k)) + 1.8 * np.eye(k)[y]
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        thresholds = np.array([0.35]) if task == "binary" else np.linspace(1.0, 1.6, k)
    pred = apply_thresholds(task, p, thresholds)
    report = {
        "task": task,
        "labels": labels,
        "metrics": evaluate_predictions(task, y, p, pred, labels),
        "thresholds": thresholds.tolist(),
        "temperature": 1.4,
        "split": "test",
        "data": {"train": "train.csv", "train_class_counts": {"common": 900}},
        "model": {"base_model": "tiny-bert"},
    }
    extra: dict = {}
    if full:
        extra = {
            "probs_uncalibrated": p**1.5 if task == "multilabel" else _sharpen(p),
            "train_class_counts": {
                name: int(2000 * f) + 1 for name, f in zip(labels, freq, strict=True)
            },
            "history": [
                {"epoch": 1, "step": 5, "train_loss": 0.9, "val_score": 0.4, "phase": "head"},
                {"epoch": 1, "step": 10, "train_loss": 0.6, "val_score": 0.6, "phase": "full"},
                {"epoch": 2, "step": 15, "train_loss": 0.5, "val_score": 0.65, "phase": "full"},
            ],
            "extra_figures": {"augmentation <quality>": _png()},
        }
    arrays = RunArrays(task, labels, y, p, thresholds.tolist() if full else None, **extra)
    return report, arrays


def _sharpen(p: np.ndarray) -> np.ndarray:
    q = p**2
    return q / q.sum(axis=1, keepdims=True)


@cache
def run_html(task: str) -> str:
    """Rendered once per task; multiclass at the size budgeted for (20 classes x 2000 rows)."""
    if task == "multiclass":
        return render_run_html(*make_run(task, k=20, n=2000))
    return render_run_html(*make_run(task))


def make_summary(with_baseline: bool = True) -> dict:
    metrics = ["f1_macro", "pr_auc_macro", "mcc", "ece"]
    labels = ["a", "b", "c&d"]
    variants = []
    for i, name in enumerate(["vanilla", "focal", "<img src=x onerror=alert(1)>"]):
        variant = {
            "name": name,
            "n": 15,
            "metrics": {
                m: {"mean": 0.6 + 0.05 * i - (0.1 * i if m == "ece" else 0), "sem": 0.01, "n": 15}
                for m in metrics
            },
            "per_class_f1": {
                c: {"mean": 0.9 - 0.3 * j + 0.04 * i, "sem": 0.02, "n": 15}
                for j, c in enumerate(labels)
            },
        }
        if i and with_baseline:
            variant["vs_baseline"] = {
                m: {
                    "mean_difference": 0.05 * i,
                    "ci_low": 0.05 * i - 0.07,
                    "ci_high": 0.05 * i + 0.01,
                    "p_value": 0.04 / i,
                    "test": "paired t-test",
                    "n_pairs": 15,
                }
                for m in metrics
            }
        variants.append(variant)
    return {
        "title": "compare: <experiment>.yaml",
        "baseline": "vanilla",
        "metrics": metrics,
        "labels": labels,
        "class_counts": {"a": 900, "b": 90, "c&d": 9},
        "cells": {"folds": 5, "seeds": [0, 1, 2]},
        "variants": variants,
        "wall_seconds": 1234.5,
        "environment": {"encoder": "tiny", "hardware": "cpu", "epochs": 3},
    }


def figure_ids(html: str) -> list[str]:
    return re.findall(r'<figure id="([^"]+)"', html)


def assert_self_contained(html: str) -> None:
    assert html.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in html and "<title>" in html
    assert not re.search(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", html, re.I)
    assert "<link" not in html and "@import" not in html
    assert "default-src 'none'" in html  # the CSP forbids any network load anyway
    assert html.count("<script") == 1  # ours; none injected through a label


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_run_report_has_every_figure_and_is_self_contained(task):
    html = run_html(task)
    assert_self_contained(html)
    ids = figure_ids(html)
    assert set(ids) == EXPECTED[task] and len(ids) == len(set(ids))
    assert html.count("<figcaption>") == len(ids)
    all_ids = re.findall(r'\bid="([^"]+)"', html)  # SVG-internal ids are prefixed per figure
    assert len(all_ids) == len(set(all_ids))
    assert "data:image/png;base64," in html.split('id="fig-extra-1"')[1].split("</figure>")[0]
    pr_auc = "PR-AUC (macro over both classes)" if task == "binary" else "PR-AUC (macro)"
    for headline in ("macro-F1", pr_auc, "MCC", "balanced accuracy", "ECE (15 bins)"):
        assert f"<td>{headline}</td>" in html
    assert "before calibration" in html.split('id="fig-reliability"')[1]
    assert (
        html.index("<h2>Headline</h2>") < html.index("<figure") < html.index("<h2>Per class</h2>")
    )


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_user_strings_are_escaped_everywhere(task):
    html = run_html(task)
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "augmentation &lt;quality&gt;" in html
    if task != "binary":
        assert "a&b" not in html and "a&amp;b" in html


def test_per_class_table_and_decision_columns():
    binary = run_html("binary")
    table = binary.split("<h2>Per class</h2>")[1].split("</table>")[0]
    assert "<th>threshold</th>" in table and '<td class="num">0.3500</td>' in table
    assert "<td>—</td>" in table  # the negative class has no threshold of its own
    assert "<th>decision weight</th>" in run_html("multiclass")
    assert "<th>train count</th>" in table and "<th>ROC-AUC</th>" in table


def test_per_class_table_marks_classes_with_few_examples():
    report, arrays = make_run("multiclass", k=8, n=60)
    support = {str(r["label"]): r["support"] for r in report["metrics"]["per_class"]}
    few = {name for name, n in support.items() if n < 5}
    assert few and len(few) < len(support)  # the case tests both sides
    table = render_run_html(report, arrays).split("<h2>Per class</h2>")[1].split("<h2>")[0]
    for name, n in support.items():
        shown = escape(name)
        assert (f"<td>{shown} †</td>" in table) == (n < 5), (name, n)
    assert f"† {len(few)} classes with fewer than 5 examples in this split" in table
    assert "†" not in run_html("binary").split("<h2>Per class</h2>")[1].split("<h2>")[0]


def _headline_cells(html: str) -> list[list[str]]:
    table = html.split("<h2>Headline</h2>")[1].split("</table>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>")[1])
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows]


def test_binary_headline_leads_with_the_positive_class_against_its_baselines():
    report, _ = make_run("binary")
    m = report["metrics"]
    rows = _headline_cells(run_html("binary"))
    positive = escape(repr(SCRIPT))
    assert rows[:3] == [
        [
            f"PR-AUC (positive class {positive}; a random ranking scores the prevalence, "
            f"{m['prevalence']:.4f})",
            f"{m['positive_pr_auc']:.4f}",
        ],
        [
            f"ROC-AUC (positive class {positive}; a random ranking scores 0.5)",
            f"{m['positive_roc_auc']:.4f}",
        ],
        ["PR-AUC (macro over both classes)", f"{m['pr_auc_macro']:.4f}"],
    ]
    assert [r[0] for r in rows[-4:]] == [
        *(f"positive {name} ({escape(SCRIPT)})" for name in ("F1", "precision", "recall")),
        "threshold on P(positive)",
    ]
    assert [r[0] for r in _headline_cells(run_html("multiclass"))] == [
        "macro-F1", "PR-AUC (macro)", "MCC", "balanced accuracy", "accuracy",
        "micro-F1 w/o majority", "ECE (15 bins)",
    ]  # fmt: skip


def test_a_binary_model_that_ranks_no_better_than_chance_on_validation_is_an_alert():
    report, arrays = make_run("binary")
    rng = np.random.default_rng(0)
    y = rng.choice(2, size=300, p=[0.8, 0.2])
    p1 = rng.random(300)  # scores that know nothing of y
    chance = evaluate_predictions(
        "binary", y, np.stack([1 - p1, p1], axis=1), (p1 > 0.7).astype(int), arrays.labels
    )
    assert chance["positive_roc_auc"] <= 0.5  # the case below is one the rule covers
    html = render_run_html(report | {"validation_metrics": chance}, arrays)
    alert = (
        '<div class="warning" role="alert">WARNING: on validation the model&#x27;s scores rank '
        f"{escape(repr(SCRIPT))} no better than a random ranking"
    )
    assert alert in html and html.index(alert) < html.index("<h2>Headline</h2>")
    separating = render_run_html(report | {"validation_metrics": report["metrics"]}, arrays)
    assert 'role="alert"' not in separating


def test_binary_pr_dot_is_the_threshold_point():
    report, arrays = make_run("binary")
    truth = arrays.y_true == 1
    point = figure_data.threshold_point(truth, arrays.probs[:, 1], 0.35)
    positive = report["metrics"]["per_class"][1]
    assert point.precision == pytest.approx(positive["precision"])
    assert point.recall == pytest.approx(positive["recall"])


def test_the_decision_table_says_what_the_thresholds_were_tuned_for():
    report, arrays = make_run("multiclass")
    decision = render_run_html(report | {"threshold_objective": "mcc"}, arrays).split(
        "<h2>Decision</h2>"
    )[1]
    assert "<td>tuned on validation for</td><td>mcc</td>" in decision.replace("\n", "")
    assert "tuned on validation" not in render_run_html(report, arrays)


def test_a_model_still_learning_is_an_alert_before_the_headline():
    report, arrays = make_run("multiclass")
    rise = {"metric": "mcc", "phase": "finetune", "epochs": 3, "best_before": 0.5, "last": 0.6}
    html = render_run_html(report | {"training": {"still_improving": rise}}, arrays)
    alert = '<div class="warning" role="alert">WARNING: validation mcc still rose in the last'
    assert alert in html and html.index(alert) < html.index("<h2>Headline</h2>")
    assert "(0.500 before, 0.600 at epoch 3 of 3)" in html


def test_no_warnings_is_said_plainly():
    html = run_html("multiclass")
    assert '<p class="ok">No warnings.</p>' in html and 'role="alert"' not in html


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_missing_optional_inputs_skip_their_sections_and_warnings_come_first(task):
    report, arrays = make_run(task, full=False)
    metrics = copy.deepcopy(report["metrics"])
    metrics["warnings"] = ["predictions collapsed: every example is <common>"]
    report = {"task": task, "metrics": metrics}  # no labels/data/model/temperature/split
    html = render_run_html(report, arrays)
    warning = (
        '<div class="warning" role="alert">'
        "WARNING: predictions collapsed: every example is &lt;common&gt;</div>"
    )
    assert warning in html and html.index(warning) < html.index("<h2>Headline</h2>")
    assert_self_contained(html)
    ids = set(figure_ids(html))
    assert "fig-f1-vs-frequency" not in ids and "fig-training-curves" not in ids
    assert not any(i.startswith("fig-extra") for i in ids)
    assert {"fig-pr-curves", "fig-roc-curves", "fig-reliability"} <= ids
    assert "Only the calibrated probabilities are shown" in html
    assert "0.5 (default)" in html or "1 (argmax)" in html


def test_many_classes_draw_the_rarest_and_skip_the_confusion_matrix():
    report, arrays = make_run("multiclass", k=35, n=1500, full=False)
    html = render_run_html(report, arrays)
    assert "Only the 20 rarest of 35 classes" in html
    assert (
        "fig-confusion-matrix" not in figure_ids(html) and "No confusion matrix: 35 classes" in html
    )


def test_twenty_classes_by_two_thousand_rows_stay_small():
    html = run_html("multiclass")  # 20 classes x 2000 rows
    assert len(html.encode("utf-8")) < 2_000_000  # far under the 5 MB budget


def test_a_run_report_needs_metrics():
    _, arrays = make_run("multiclass", full=False)
    with pytest.raises(LongtailError, match="needs a dict with 'metrics'"):
        render_run_html({"task": "multiclass"}, arrays)


def test_extra_figure_must_be_an_image():
    report, arrays = make_run("binary", full=False)
    arrays.extra_figures = {"not an image": b"%PDF-1.4"}
    with pytest.raises(LongtailError, match="not PNG or JPEG"):
        render_run_html(report, arrays)


def test_comparison_report_has_tables_figures_and_escaping():
    html = render_comparison_html(make_summary())
    assert_self_contained(html)
    assert figure_ids(html) == [
        "fig-compare-f1-vs-frequency",
        "fig-compare-f1-gain",
        "fig-compare-metrics",
    ]
    assert "<title>compare: &lt;experiment&gt;.yaml</title>" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "c&d" not in html and "c&amp;d" in html
    metrics = html.split("<h2>Metrics")[1].split("</table>")[0]
    assert "<strong>0.7000 ± 0.0100</strong>" in metrics  # best macro-F1 (third variant)
    assert "<strong>0.5000 ± 0.0100</strong>" in metrics  # lowest ECE is best
    assert "vanilla (n = 15) — baseline" in metrics
    delta = html.split("Difference to the baseline")[1].split("</table>")[0]
    assert "95% CI [-0.0200, +0.0600]; p = 0.04" in delta
    assert "<strong>+0.1000</strong>" in delta  # CI [+0.03, +0.11] excludes 0: bold
    assert "<strong>+0.0500</strong>" not in delta and "+0.0500" in delta
    per_class = html.split("<h2>Per-class F1")[1].split("</table>")[0]
    assert per_class.index("<td>a</td>") < per_class.index("<td>b</td>")
    assert "5 folds × seeds [0, 1, 2]" in html and "1234.5 s" in html


def test_comparison_per_class_table_has_test_counts_and_marks_few():
    summary = make_summary()
    assert "<th>test count</th>" not in render_comparison_html(summary)  # older grids: none
    summary["test_support"] = {"a": 180, "b": 18, "c&d": 1.8}
    per_class = render_comparison_html(summary).split("<h2>Per-class F1")[1].split("<h2>")[0]
    assert "<th>test count</th>" in per_class and '<td class="num">1.8</td>' in per_class
    assert "<td>c&amp;d †</td>" in per_class and "<td>b †</td>" not in per_class
    assert "† 1 class with fewer than 5 test examples per cell" in per_class
    assert summary["cells"]["folds"] == 5 and "<th>count, folded</th>" in per_class
    assert "split into 5 folds; each cell trains on about 4/5 of them" in per_class
    summary["cells"]["folds"] = None
    fixed = render_comparison_html(summary).split("<h2>Per-class F1")[1].split("<h2>")[0]
    assert "<th>train count</th>" in fixed and "folded" not in fixed
    gain = (
        render_comparison_html(summary).split('id="fig-compare-f1-gain"')[1].split("</figure>")[0]
    )
    assert "c&amp;d †" in gain and "b †" not in gain  # the tick label, and the caption says why
    assert "† fewer than 5 test examples per cell: mostly noise." in gain


def test_comparison_gain_figure_uses_paired_gains_when_present():
    summary = make_summary()
    assert "difference of mean F1" in render_comparison_html(summary)
    for variant in summary["variants"][1:]:
        variant["per_class_f1_gain"] = {c: {"mean": 0.05, "sem": 0.01, "n": 15} for c in "ab"}
    html = render_comparison_html(summary)
    assert "paired per-cell differences, error bars ± SEM" in html
    assert "fig-compare-f1-gain" in figure_ids(html)


def test_comparison_without_vs_baseline_or_optional_keys():
    html = render_comparison_html(make_summary(with_baseline=False))
    assert "Difference to the baseline" not in html
    assert len(figure_ids(html)) == 3
    sparse = make_summary()
    for key in ("class_counts", "cells", "wall_seconds", "environment", "labels", "metrics"):
        sparse.pop(key)
    html = render_comparison_html(sparse)
    ids = figure_ids(html)
    assert "fig-compare-f1-vs-frequency" not in ids and "fig-compare-f1-gain" in ids
    assert "<h2>Setup</h2>" in html  # the baseline is still named
    bare = render_comparison_html({"variants": [{"name": "only"}]})
    assert_self_contained(bare)
    assert figure_ids(bare) == [] and "<h1>longtail comparison</h1>" in bare
    with pytest.raises(LongtailError, match="variants"):
        render_comparison_html({"title": "x"})


def test_write_html_report_is_atomic(tmp_path, monkeypatch):
    html = render_comparison_html({"variants": [{"name": "only"}]})
    path = write_html_report(html, tmp_path / "deep" / "report.html")
    assert path.read_text(encoding="utf-8") == html
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("longtail.io_utils.os.replace", crash)
    with pytest.raises(OSError, match="disk full"):
        write_html_report(html.replace("only", "changed"), path)
    assert path.read_text(encoding="utf-8") == html  # the old file is intact, no temp file left
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]
    with pytest.raises(LongtailError, match="not an HTML document"):
        write_html_report("hello", tmp_path / "x.html")

"""Report files: both written, JSON round-trips, Markdown puts warnings first."""

from __future__ import annotations

import contextlib
import json
import re

import numpy as np
import pytest

from longtail.errors import LongtailError
from longtail.evaluation import evaluate_predictions, render_markdown, to_jsonable, write_report
from longtail.evaluation.html_page import format_inline as html_inline
from longtail.evaluation.report import format_inline


def _report(task: str = "multiclass", collapsed: bool = False) -> dict:
    rng = np.random.default_rng(0)
    if task == "binary":
        names = ["ham", "spam"]
        y = rng.choice(2, size=300, p=[0.85, 0.15])
    else:
        names = ["common", "rare", "middle"]
        y = rng.choice(3, size=300, p=[0.7, 0.1, 0.2])
    p = 0.1 + 0.7 * np.eye(len(names))[y]
    p = p / p.sum(axis=1, keepdims=True)
    pred = np.zeros_like(y) if collapsed else p.argmax(axis=1)
    thresholds = np.array([0.35]) if task == "binary" else np.ones(len(names))
    return {
        "task": task,
        "labels": names,
        "metrics": evaluate_predictions(task, y, p, pred, names),
        "thresholds": thresholds,
        "temperature": np.float64(1.25),
        "data": {"test_file": "test.csv", "rows": 300, "class_counts": {"common": 210}},
        "model": {"encoder": "tiny-bert"},
        "split": "test",
    }


def test_write_report_writes_both_files_and_json_round_trips(tmp_path):
    report = _report()
    paths = write_report(report, tmp_path / "out")
    assert paths["json"] == tmp_path / "out" / "report.json"
    assert paths["markdown"].read_text(encoding="utf-8") == render_markdown(report)
    loaded = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert loaded == to_jsonable(report)
    assert loaded["thresholds"] == [1.0, 1.0, 1.0] and loaded["temperature"] == 1.25
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_markdown_has_per_class_table_sorted_by_support_and_confusion_matrix():
    md = render_markdown(_report())
    assert md.startswith("# longtail evaluation: multiclass, test split")
    section = md.split("## Per class")[1].split("##")[0]
    assert section.index("| common") < section.index("| middle") < section.index("| rare")
    assert "support" in section and "PR-AUC" in section
    assert "## Confusion matrix (rows = true, columns = predicted)" in md
    assert "temperature: 1.2500" in md
    for headline in ("macro-F1", "PR-AUC (macro)", "MCC", "balanced accuracy", "ECE"):
        assert headline in md


def test_classes_with_few_examples_are_marked_and_explained():
    names = ["common", "rare", "middle"]
    y = np.array([0] * 20 + [1] * 3 + [2] * 7)
    p = 0.1 + 0.7 * np.eye(3)[y]
    p = p / p.sum(axis=1, keepdims=True)
    report = {"task": "multiclass", "labels": names,
              "metrics": evaluate_predictions("multiclass", y, p, p.argmax(axis=1), names)}  # fmt: skip
    section = render_markdown(report).split("## Per class")[1].split("##")[0]
    assert "| rare † " in section and "| middle " in section and "middle †" not in section
    assert "† 1 class with fewer than 5 examples in this split" in section
    assert "2/(n + 1)" in section
    assert "†" not in render_markdown(_report())  # 300 rows: every class has enough


def test_warnings_come_first_as_bold_blockquotes():
    report = _report(collapsed=True)
    assert report["metrics"]["warnings"]
    md = render_markdown(report)
    first_warning = md.index("> **WARNING: predictions collapsed")
    assert first_warning < md.index("## Headline")
    assert "not informative" in md.split("## Headline")[0]
    assert "WARNING" not in render_markdown(_report())


def test_a_model_still_learning_is_warned_about_after_the_metrics_warnings():
    rise = {"metric": "f1_macro", "phase": "finetune", "epochs": 2, "best_before": 0.219,
            "last": 0.456}  # fmt: skip
    report = _report(collapsed=True) | {"training": {"still_improving": rise}}
    opening = render_markdown(report).split("## Headline")[0]
    warning = "> **WARNING: validation f1_macro still rose in the last epoch (0.219 before, 0.456"
    assert opening.index("> **WARNING: predictions collapsed") < opening.index(warning)
    assert "raise train.epochs" in opening
    settled = _report() | {"training": {"still_improving": None, "best_epoch": 2}}
    assert "WARNING" not in render_markdown(settled)


def _headline(md: str) -> list[tuple[str, str]]:
    """The headline table's (metric, value) rows."""
    table = md.split("## Headline")[1].split("## Per class")[0].strip().splitlines()[2:]
    return [tuple(cell.strip() for cell in row.strip("|").split(" | ")) for row in table]


def _binary(separating: bool, seed: int = 0) -> dict:
    """A binary report whose validation scores do (or do not) rank 'spam' above 'ham'."""
    rng = np.random.default_rng(seed)
    y = rng.choice(2, size=300, p=[0.8, 0.2])
    p1 = (rng.random(300) + (0.8 * y if separating else 0.0)) / 1.8
    p = np.stack([1 - p1, p1], axis=1)
    pred = (p1 >= np.quantile(p1, 0.7)).astype(int)  # a tuned-looking threshold: both classes
    metrics = evaluate_predictions("binary", y, p, pred, ["ham", "spam"])
    return {"task": "binary", "labels": ["ham", "spam"], "metrics": metrics,
            "validation_metrics": metrics, "thresholds": [0.42], "split": "validation"}  # fmt: skip


def test_binary_headline_leads_with_the_positive_class_against_its_baselines():
    report = _report("binary")
    m = report["metrics"]
    rows = _headline(render_markdown(report))
    assert m["prevalence"] == pytest.approx(m["per_class"][1]["support"] / 300)
    assert rows[:3] == [
        (
            f"PR-AUC (positive class 'spam'; a random ranking scores the prevalence, "
            f"{m['prevalence']:.4f})",
            f"{m['positive_pr_auc']:.4f}",
        ),
        (
            "ROC-AUC (positive class 'spam'; a random ranking scores 0.5)",
            f"{m['positive_roc_auc']:.4f}",
        ),
        ("PR-AUC (macro over both classes)", f"{m['pr_auc_macro']:.4f}"),
    ]
    names = [name for name, _ in rows]
    assert names[3:9] == ["macro-F1", "MCC", "balanced accuracy", "accuracy",
                          "micro-F1 w/o majority", "ECE (15 bins)"]  # fmt: skip
    assert names[9:] == ["positive F1 (spam)", "positive precision (spam)",
                         "positive recall (spam)", "threshold on P(positive)"]  # fmt: skip
    assert rows[-1][1] == "0.3500"
    assert "predict 'spam' iff P(spam) >= 0.3500" in render_markdown(report)


def test_multiclass_headline_is_unchanged():
    report = _report()
    m = report["metrics"]
    md = render_markdown(report | {"validation_metrics": m})
    rows = _headline(md)
    assert [name for name, _ in rows] == ["macro-F1", "PR-AUC (macro)", "MCC",
        "balanced accuracy", "accuracy", "micro-F1 w/o majority", "ECE (15 bins)"]  # fmt: skip
    keys = ["f1_macro", "pr_auc_macro", "mcc", "balanced_accuracy", "accuracy",
            "micro_f1_without_majority", "ece"]  # fmt: skip
    assert [value for _, value in rows] == [f"{m[k]:.4f}" for k in keys]
    assert "prevalence" not in m and "WARNING" not in md


def test_a_binary_model_that_ranks_no_better_than_chance_on_validation_is_warned_about():
    report = _binary(separating=False)
    assert not report["metrics"]["warnings"]  # the tuned threshold hides it from the decisions
    opening = render_markdown(report).split("## Headline")[0]
    assert opening.count("> **WARNING:") == 1
    assert (
        "> **WARNING: on validation the model's scores rank 'spam' no better than a random"
        in opening
    )
    assert "train longer, or check the data" in opening
    assert "WARNING" not in render_markdown(_binary(separating=True))


def test_the_chance_warning_reads_the_validation_split_not_the_scored_one():
    chance, separating = _binary(separating=False), _binary(separating=True)
    on_test = separating | {"validation_metrics": chance["metrics"], "split": "test"}
    assert "no better than a random ranking" in render_markdown(on_test)
    no_validation = chance | {"validation_metrics": None}  # `longtail evaluate`: none to read
    assert "WARNING" not in render_markdown(no_validation)


def test_many_classes_skip_confusion_matrix_and_multilabel_has_none():
    rng = np.random.default_rng(0)
    names = [f"class{i}" for i in range(31)]
    y = rng.integers(0, 31, size=200)
    p = np.full((200, 31), 1 / 31)
    metrics = evaluate_predictions("multiclass", y, p, y, names)
    md = render_markdown({"task": "multiclass", "labels": names, "metrics": metrics})
    assert "Confusion matrix" not in md and "defaults" in md
    ym = (rng.random((50, 3)) < 0.4).astype(int)
    ml = evaluate_predictions("multilabel", ym, ym * 0.8 + 0.1, ym, ["x", "y", "z"])
    md = render_markdown(
        {"task": "multilabel", "labels": ["x", "y", "z"], "metrics": ml, "thresholds": {"x": 0.3}}
    )
    assert "Confusion matrix" not in md and "| x     |    0.3000 |" in md


def test_bad_report_raises():
    with pytest.raises(LongtailError, match="metrics"):
        render_markdown({"task": "binary"})


def test_threshold_fallback_labels_are_named_in_the_decision_section():
    report = _report() | {"threshold_fallback": ["rare"]}
    md = render_markdown(report)
    assert "1 label(s) kept weight 1 (SCutFBR.1" in md  # multiclass wording
    ym = (np.random.default_rng(0).random((50, 3)) < 0.4).astype(int)
    ml = evaluate_predictions("multilabel", ym, ym * 0.8 + 0.1, ym, ["x", "y", "rare"])
    multilabel = render_markdown(
        {"task": "multilabel", "labels": ["x", "y", "rare"], "metrics": ml}
        | {"thresholds": [0.5, 0.5, 0.9], "threshold_fallback": ["rare"]}
    )
    assert "1 label(s) fell back to their highest validation score (SCutFBR.1" in multilabel
    decision = md.split("## Decision")[1]
    assert decision.index("SCutFBR.1") < decision.index("| label")  # above the threshold table
    assert "SCutFBR" not in render_markdown(_report())


def test_the_decision_section_says_what_the_thresholds_were_tuned_for():
    decision = render_markdown(_report() | {"threshold_objective": "mcc"}).split("## Decision")[1]
    assert "- tuned on validation for: mcc" in decision
    assert "tuned on validation" not in render_markdown(_report() | {"threshold_objective": None})


def test_untuned_labels_are_named_and_many_are_cut_short():
    names = [f"rare{i}" for i in range(12)]
    md = render_markdown(_report() | {"threshold_untuned": names})
    line = next(x for x in md.splitlines() if "(no validation example)" in x)
    assert line.startswith("- 12 label(s) kept the default")
    assert "rare9" in line and "rare10" not in line and line.endswith("and 2 more")
    assert "no validation example" not in render_markdown(_report())


def test_config_values_are_one_line_json_cut_only_where_asked():
    value = {"name": "focal", "gamma": np.float32(2.0), "alpha": [float("nan")] * 200}
    full = format_inline(value)
    assert full.startswith('{"name": "focal", "gamma": 2.0, "alpha": [null, ') and "\n" not in full
    assert len(full) > 400 and not full.endswith("…")
    cut = html_inline(value)
    assert len(cut) == 400 and cut == full[:399] + "…"
    assert format_inline(0.5) == "0.5000" and format_inline(float("nan")) == "n/a"


_HOSTILE = ["<script>alert(1)</script>", "a|b", "**bold**", "[x](javascript:alert(1))"]


def _hostile_report() -> dict:
    rng = np.random.default_rng(1)
    names = [*_HOSTILE, "not_spam"]
    y = rng.choice(len(names), size=200)
    p = 0.1 + 0.6 * np.eye(len(names))[y]
    p = p / p.sum(axis=1, keepdims=True)
    return {
        "task": "multiclass",
        "labels": names,
        "metrics": evaluate_predictions("multiclass", y, p, p.argmax(axis=1), names),
        "thresholds": {name: 1.0 for name in names},
        "threshold_untuned": [_HOSTILE[0]],
        "data": {"test_file": "<img src=x onerror=alert(1)>.csv", "text_column": "body|text"},
        "model": {"encoder": "tiny-bert"},
    }


def test_user_strings_in_the_markdown_cannot_become_markup_or_cells():
    md = render_markdown(_hostile_report())
    assert "<script" not in md and "<img" not in md and not re.search(r"(?<!\\)\]\(", md)
    assert "&lt;script>alert(1)&lt;/script>" in md and "\\*\\*bold\\*\\*" in md
    assert "| not_spam " in md  # ordinary labels read as they are
    assert "- text_column: body\\|text" in md
    for line in md.splitlines():  # every table row has as many cells as its header
        if line.startswith("|"):
            cells = line.replace("\\|", "").count("|") - 1
            assert cells in (2, 7, 6), line  # metric/value, per-class, confusion (5 + 1)


def test_rendered_markdown_shows_the_labels_as_text():
    """Rendered by a CommonMark renderer with GFM tables (GitHub) and by Python-Markdown
    (TensorBoard's text plugin): no tag, link or emphasis from a label; the labels read as text."""
    import html

    md = render_markdown(_hostile_report())
    renderers = []
    markdown_it = pytest.importorskip("markdown_it")
    renderers.append(markdown_it.MarkdownIt("commonmark").enable(["table"]).render)
    with contextlib.suppress(ImportError):
        import markdown

        renderers.append(lambda text: markdown.markdown(text, extensions=["tables"]))
    for render in renderers:
        page = render(md)
        for tag in ("<script", "<img", "<a ", "<strong>bold", "<em>"):
            assert tag not in page
        text = html.unescape(page)
        for label in _HOSTILE:
            assert label in text
        rows = [row for row in page.split("<tr>")[1:] if "not_spam" in row]
        assert rows and all(row.count("<td") in (7, 6) for row in rows[:1])

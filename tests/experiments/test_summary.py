"""comparison.md: names from the user's files (variants, labels, the experiment file) stay text."""

from __future__ import annotations

import re

from longtail.experiments.summary import render_comparison_markdown


def _stats(mean: float) -> dict:
    return {"mean": mean, "sem": 0.01, "n": 2}


def test_variant_and_label_names_cannot_become_markup_or_cells():
    labels = ["<img src=x onerror=alert(1)>", "a|b", "not_spam"]
    variants = [
        {"name": "base", "n": 2, "metrics": {"f1_macro": _stats(0.5)},
         "per_class_f1": {label: _stats(0.5) for label in labels}},
        {"name": "**focal**|x", "n": 2, "metrics": {"f1_macro": _stats(0.6)},
         "per_class_f1": {label: _stats(0.6) for label in labels},
         "vs_baseline": {"f1_macro": {"mean_difference": 0.1, "ci_low": -0.05, "ci_high": 0.25,
                                      "p_value": 0.2, "p_holm": 0.2, "n_pairs": 2}}},
    ]  # fmt: skip
    summary = {
        "title": "compare: [exp](javascript:alert(1)).yaml",
        "baseline": "base",
        "metrics": ["f1_macro"],
        "labels": labels,
        "class_counts": {"a|b": 30, "not_spam": 20, labels[0]: 5},
        "cells": {"folds": None, "seeds": [0, 1], "complete": True},
        "test": "paired-t",
        "variants": variants,
        "environment": {"encoder": "tiny", "epochs": 1, "hardware": "CPU"},
    }
    md = render_comparison_markdown(summary)
    assert "<img" not in md and not re.search(r"(?<!\\)\]\(", md)
    assert "&lt;img src=x onerror=alert(1)>" in md and "\\*\\*focal\\*\\*\\|x" in md
    assert "| not_spam " in md and "[-0.050, +0.250]" in md  # plain names and numbers unchanged
    header = None
    for line in md.splitlines():  # every row has as many cells as its table's header
        cells = len(re.split(r"(?<!\\)\|", line)) - 2 if line.startswith("|") else None
        header = (header or cells) if cells else None
        assert cells == header, line
    assert "encoder tiny, 1 epochs, CPU" in md
    summary["environment"]["epochs"] = "to convergence (at most 100 epochs)"
    assert "encoder tiny, to convergence (at most 100 epochs), CPU" in (
        render_comparison_markdown(summary)
    )

"""Report figures: valid SVG/PNG for every task, with user strings kept literal."""

from __future__ import annotations

import inspect
import io
import re
import xml.etree.ElementTree as ET

import matplotlib.image
import numpy as np
import pytest
from plot_inputs import one_vs_rest, scored_toy_data

from longtail.errors import LongtailError
from longtail.evaluation import figure_data, plots

SVG = "{http://www.w3.org/2000/svg}"
NASTY = ["<script>alert(1)</script>", "a&b", "$x$"]


def _svg_root(svg: str) -> ET.Element:
    assert isinstance(svg, str)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    body = svg[svg.index("<svg") :]
    assert "http" not in re.sub(r'\sxmlns(:\w+)?="[^"]*"', "", body)  # no external reference
    return root


def _png_ok(png: bytes) -> None:
    assert isinstance(png, bytes) and png.startswith(b"\x89PNG\r\n\x1a\n")
    image = matplotlib.image.imread(io.BytesIO(png), format="png")
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert image.std() > 0  # not one flat colour


def _texts(root: ET.Element) -> str:
    return " ".join("".join(el.itertext()) for el in root.iter(f"{SVG}text"))


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_curve_plots_give_valid_svg_and_png(task):
    y, p = scored_toy_data(task)
    k = p.shape[1]
    truth = one_vs_rest(task, y, k)
    cols = [1] if task == "binary" else list(range(k))
    names = [NASTY[c] for c in cols]
    points = [figure_data.threshold_point(truth[:, c], p[:, c], 0.4) for c in cols]
    for fn in (plots.plot_pr_curves, plots.plot_roc_curves):
        root = _svg_root(fn(truth[:, cols], p[:, cols], names, points))
        text = _texts(root)
        assert "<script>alert(1)</script>" in text or task == "binary"  # escaped, parsed back
        if task == "binary":
            _png_ok(fn(truth[:, cols], p[:, cols], names, points, fmt="png"))


def test_user_strings_stay_literal_text_in_svg():
    y, p = scored_toy_data("multiclass")
    truth = one_vs_rest("multiclass", y, 3)
    svg = plots.plot_pr_curves(truth, p, NASTY)
    assert "<script>" not in svg and "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert "a&amp;b" in svg
    assert "$x$" in _texts(_svg_root(svg))  # not rendered as mathtext


def test_reliability_plot_with_and_without_before():
    y, p = scored_toy_data("multiclass")
    after = figure_data.reliability_bins(*figure_data.calibration_inputs("multiclass", y, p))
    sharp = p**2 / (p**2).sum(axis=1, keepdims=True)
    before = figure_data.reliability_bins(*figure_data.calibration_inputs("multiclass", y, sharp))
    both = _texts(_svg_root(plots.plot_reliability(after, before)))
    assert f"after calibration (ECE {after.ece:.3f})" in both
    assert f"before calibration (ECE {before.ece:.3f})" in both
    only = _texts(_svg_root(plots.plot_reliability(after)))
    assert "after calibration" in only and "before calibration" not in only
    _png_ok(plots.plot_reliability(after, before, fmt="png"))


def test_other_plots_give_valid_svg():
    names = ["head", "a&b", "<i>tail</i>", "_hidden?"]
    f1 = plots.plot_f1_vs_frequency(names, [900, 90, 9, 3], {"F1": [0.9, 0.5, None, 0.1]})
    assert "_hidden?" in _texts(_svg_root(f1))
    many = plots.plot_f1_vs_frequency(
        names, [900, 90, 9, 3], {"v1": [0.9, 0.5, 0.2, 0.1], "v2": [0.8, 0.6, 0.3, None]}
    )
    assert "v2" in _texts(_svg_root(many))
    matrix = np.array([[5, 1, 0, 0], [2, 3, 0, 0], [0, 0, 0, 0], [1, 0, 0, 4]])
    annotated = _texts(_svg_root(plots.plot_confusion_matrix(matrix, names)))
    assert "0.83" in annotated  # 5 / 6, the row-normalised share
    plain = _texts(_svg_root(plots.plot_confusion_matrix(matrix, names, annotate=False)))
    assert "0.83" not in plain
    _svg_root(
        plots.plot_label_bars(names, [50, 20, 5, 0], [0.9, 0.5, 0.2, 0.0], [0.8, 0.4, 0.1, 0.0])
    )
    _svg_root(
        plots.plot_f1_gain(
            names, {"focal": [0.01, 0.05, None, 0.2], "ldam": [0.0, -0.02, 0.1, 0.3]}
        )
    )
    gains = {"focal": [0.01, 0.05, None, 0.2]}
    bare = plots.plot_f1_gain(names, gains)
    with_errors = plots.plot_f1_gain(names, gains, errors={"focal": [0.01, 0.02, None, 0.05]})
    assert with_errors.count("<path") > bare.count("<path")  # the error bars are drawn
    means = np.array([[0.7, 0.6], [0.72, np.nan]])
    _svg_root(
        plots.plot_metric_means(["f1_macro", "ece"], ["vanilla", "focal"], means, means * 0.01)
    )


def test_training_curves_with_phases_restarting_epochs_and_gaps():
    history = [
        {"epoch": 1, "step": 10, "train_loss": 1.0, "val_score": 0.5, "phase": "head"},
        {"epoch": 2, "step": 20, "train_loss": 0.7, "val_score": None, "phase": "head"},
        {"epoch": 1, "step": 30, "train_loss": 0.5, "val_score": 0.7, "phase": "full"},
    ]
    text = _texts(_svg_root(plots.plot_training_curves(history)))
    assert "head" in text and "full" in text and "counted across phases" in text
    plain = [{"epoch": e, "train_loss": 1 / e, "val_score": 0.1 * e} for e in (1, 2, 3)]
    assert "counted across phases" not in _texts(_svg_root(plots.plot_training_curves(plain)))
    _png_ok(plots.plot_training_curves(plain, fmt="png"))


def test_unknown_format_is_refused_and_pyplot_is_never_used():
    with pytest.raises(LongtailError, match="valid formats: svg, png"):
        plots.plot_f1_gain(["a"], {"v": [0.1]}, fmt="pdf")
    source = inspect.getsource(plots)
    assert (
        "import matplotlib.pyplot" not in source and "from matplotlib import pyplot" not in source
    )


def test_svg_has_no_metadata_and_text_as_text():
    svg = plots.plot_f1_gain(["a"], {"v": [0.1]})
    assert "<metadata" not in svg and "purl.org" not in svg
    assert "<text" in svg  # svg.fonttype none: no glyph paths

"""Report figures: valid SVG/PNG for every task, and the numbers they draw vs plain NumPy."""

from __future__ import annotations

import inspect
import io
import re
import xml.etree.ElementTree as ET

import matplotlib.image
import numpy as np
import pytest
from sklearn.metrics import precision_recall_curve

from longtail.errors import LongtailError
from longtail.evaluation import plots
from longtail.evaluation.metrics import ece_for_task, expected_calibration_error

SVG = "{http://www.w3.org/2000/svg}"
NASTY = ["<script>alert(1)</script>", "a&b", "$x$"]


def _data(task: str, n: int = 120, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """``(y_true, probs)`` for a task: informative but imperfect probabilities."""
    rng = np.random.default_rng(1)
    k = 2 if task == "binary" else k
    if task == "multilabel":
        y = (rng.random((n, k)) < [0.5, 0.2, 0.08][:k]).astype(int)
        p = np.clip(0.6 * y + 0.4 * rng.random((n, k)), 0, 1)
        return y, p
    y = rng.choice(k, size=n, p=[0.7, 0.3] if k == 2 else [0.6, 0.3, 0.1])
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    p = np.exp(logits)
    return y, p / p.sum(axis=1, keepdims=True)


def _one_vs_rest(task: str, y: np.ndarray, k: int) -> np.ndarray:
    return y.astype(bool) if task == "multilabel" else np.eye(k, dtype=bool)[y]


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
    y, p = _data(task)
    k = p.shape[1]
    truth = _one_vs_rest(task, y, k)
    cols = [1] if task == "binary" else list(range(k))
    names = [NASTY[c] for c in cols]
    points = [plots.threshold_point(truth[:, c], p[:, c], 0.4) for c in cols]
    for fn in (plots.plot_pr_curves, plots.plot_roc_curves):
        root = _svg_root(fn(truth[:, cols], p[:, cols], names, points))
        text = _texts(root)
        assert "<script>alert(1)</script>" in text or task == "binary"  # escaped, parsed back
        if task == "binary":
            _png_ok(fn(truth[:, cols], p[:, cols], names, points, fmt="png"))


def test_user_strings_stay_literal_text_in_svg():
    y, p = _data("multiclass")
    truth = _one_vs_rest("multiclass", y, 3)
    svg = plots.plot_pr_curves(truth, p, NASTY)
    assert "<script>" not in svg and "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert "a&amp;b" in svg
    assert "$x$" in _texts(_svg_root(svg))  # not rendered as mathtext


@pytest.mark.parametrize("task", ["binary", "multilabel"])
def test_threshold_point_matches_numpy_and_lies_on_the_curve(task):
    y, p = _data(task, n=200)
    truth = _one_vs_rest(task, y, p.shape[1])
    c = 1
    scores, positive = p[:, c], truth[:, c]
    for threshold in (0.1, 0.35, 0.5, 0.8, float(np.sort(scores)[150])):
        point = plots.threshold_point(positive, scores, threshold)
        decided = scores >= threshold
        tp = np.sum(decided & positive)
        precision = tp / decided.sum() if decided.sum() else 0.0
        assert point.precision == pytest.approx(precision)
        assert point.recall == pytest.approx(tp / positive.sum())
        assert point.fpr == pytest.approx(np.sum(decided & ~positive) / np.sum(~positive))
    # at a score that is one of the curve's thresholds, the point is exactly on the curve
    precision, recall, thresholds = precision_recall_curve(positive, scores)
    i = len(thresholds) // 2
    point = plots.threshold_point(positive, scores, thresholds[i])
    assert (point.precision, point.recall) == pytest.approx((precision[i], recall[i]))


def test_operating_point_without_predictions_uses_zero_division_zero():
    point = plots.operating_point(np.array([1, 0, 1]), np.zeros(3))
    assert point == (0.0, 0.0, 0.0)


def test_reliability_bins_match_a_direct_numpy_computation():
    rng = np.random.default_rng(3)
    conf = np.r_[0.0, 1.0, 1 / 15, 2 / 15, rng.random(500)]
    hit = (rng.random(conf.size) < conf).astype(float)
    bins = plots.reliability_bins(conf, hit, n_bins=15)
    gap = 0.0
    for b in range(15):
        lo, hi = b / 15, (b + 1) / 15
        inside = (conf > lo) & (conf <= hi) if b else (conf <= hi)
        assert bins.count[b] == inside.sum()
        if inside.any():
            assert bins.confidence[b] == pytest.approx(conf[inside].mean())
            assert bins.accuracy[b] == pytest.approx(hit[inside].mean())
            gap += inside.sum() * abs(hit[inside].mean() - conf[inside].mean())
        else:
            assert np.isnan(bins.confidence[b]) and np.isnan(bins.accuracy[b])
    assert bins.ece == pytest.approx(gap / conf.size)
    assert bins.ece == pytest.approx(expected_calibration_error(conf, hit))
    assert bins.edges[0] == 0.0 and bins.edges[-1] == 1.0 and bins.count.sum() == conf.size


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_calibration_inputs_per_task(task):
    y, p = _data(task)
    conf, hit = plots.calibration_inputs(task, y, p)
    if task == "binary":
        np.testing.assert_allclose(conf, p[:, 1])
        np.testing.assert_array_equal(hit, y == 1)
    elif task == "multiclass":
        np.testing.assert_allclose(conf, p.max(axis=1))
        ece = plots.reliability_bins(conf, hit).ece
        assert ece == pytest.approx(ece_for_task(task, y, p))
    else:
        assert conf.shape == (y.size,)
        assert plots.reliability_bins(conf, hit).ece == pytest.approx(ece_for_task(task, y, p))


def test_reliability_plot_with_and_without_before():
    y, p = _data("multiclass")
    after = plots.reliability_bins(*plots.calibration_inputs("multiclass", y, p))
    sharp = p**2 / (p**2).sum(axis=1, keepdims=True)
    before = plots.reliability_bins(*plots.calibration_inputs("multiclass", y, sharp))
    both = _texts(_svg_root(plots.plot_reliability(after, before)))
    assert f"after calibration (ECE {after.ece:.3f})" in both
    assert f"before calibration (ECE {before.ece:.3f})" in both
    only = _texts(_svg_root(plots.plot_reliability(after)))
    assert "after calibration" in only and "before calibration" not in only
    _png_ok(plots.plot_reliability(after, before, fmt="png"))


def test_classes_to_draw_keeps_the_rarest():
    counts = list(range(100, 75, -1))  # 25 classes, the last ones rarest
    assert plots.classes_to_draw(counts) == list(range(5, 25))
    assert plots.classes_to_draw([3, 1, 2]) == [0, 1, 2]


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

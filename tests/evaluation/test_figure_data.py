"""The numbers the report's figures draw, against direct NumPy and scikit-learn computations."""

from __future__ import annotations

import numpy as np
import pytest
from plot_inputs import one_vs_rest, scored_toy_data
from sklearn.metrics import precision_recall_curve

from longtail.evaluation import figure_data
from longtail.evaluation.metrics import ece_for_task, expected_calibration_error


@pytest.mark.parametrize("task", ["binary", "multilabel"])
def test_threshold_point_matches_numpy_and_lies_on_the_curve(task):
    y, p = scored_toy_data(task, n=200)
    truth = one_vs_rest(task, y, p.shape[1])
    c = 1
    scores, positive = p[:, c], truth[:, c]
    for threshold in (0.1, 0.35, 0.5, 0.8, float(np.sort(scores)[150])):
        point = figure_data.threshold_point(positive, scores, threshold)
        decided = scores >= threshold
        tp = np.sum(decided & positive)
        precision = tp / decided.sum() if decided.sum() else 0.0
        assert point.precision == pytest.approx(precision)
        assert point.recall == pytest.approx(tp / positive.sum())
        assert point.fpr == pytest.approx(np.sum(decided & ~positive) / np.sum(~positive))
    # at a score that is one of the curve's thresholds, the point is exactly on the curve
    precision, recall, thresholds = precision_recall_curve(positive, scores)
    i = len(thresholds) // 2
    point = figure_data.threshold_point(positive, scores, thresholds[i])
    assert (point.precision, point.recall) == pytest.approx((precision[i], recall[i]))


def test_operating_point_without_predictions_uses_zero_division_zero():
    point = figure_data.operating_point(np.array([1, 0, 1]), np.zeros(3))
    assert point == (0.0, 0.0, 0.0)


def test_reliability_bins_match_a_direct_numpy_computation():
    rng = np.random.default_rng(3)
    conf = np.r_[0.0, 1.0, 1 / 15, 2 / 15, rng.random(500)]
    hit = (rng.random(conf.size) < conf).astype(float)
    bins = figure_data.reliability_bins(conf, hit, n_bins=15)
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
    y, p = scored_toy_data(task)
    conf, hit = figure_data.calibration_inputs(task, y, p)
    if task == "binary":
        np.testing.assert_allclose(conf, p[:, 1])
        np.testing.assert_array_equal(hit, y == 1)
    elif task == "multiclass":
        np.testing.assert_allclose(conf, p.max(axis=1))
        ece = figure_data.reliability_bins(conf, hit).ece
        assert ece == pytest.approx(ece_for_task(task, y, p))
    else:
        assert conf.shape == (y.size,)
        assert figure_data.reliability_bins(conf, hit).ece == pytest.approx(
            ece_for_task(task, y, p)
        )


def test_classes_to_draw_keeps_the_rarest():
    counts = list(range(100, 75, -1))  # 25 classes, the last ones rarest
    assert figure_data.classes_to_draw(counts) == list(range(5, 25))
    assert figure_data.classes_to_draw([3, 1, 2]) == [0, 1, 2]

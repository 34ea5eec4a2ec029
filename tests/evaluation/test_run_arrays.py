"""The predictions a run report draws from: validated on construction, decided like the metrics."""

from __future__ import annotations

import numpy as np
import pytest

from longtail.errors import LongtailError
from longtail.evaluation.run_arrays import RunArrays

PROBS = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25], [0.1, 0.3, 0.6], [0.45, 0.1, 0.45]])


def _multiclass(thresholds=None) -> RunArrays:
    return RunArrays("multiclass", ["a", "b", "c"], np.array([0, 1, 2, 2]), PROBS, thresholds)


def test_run_arrays_are_validated():
    arrays = _multiclass()
    with pytest.raises(LongtailError, match="unknown task"):
        RunArrays("regression", arrays.labels, arrays.y_true, arrays.probs, None)
    with pytest.raises(LongtailError, match="probs must be"):
        RunArrays("multiclass", arrays.labels[:-1], arrays.y_true, arrays.probs, None)
    with pytest.raises(LongtailError, match="y_true has shape"):
        RunArrays("multiclass", arrays.labels, arrays.y_true[:-1], arrays.probs, None)
    with pytest.raises(LongtailError, match="outside"):
        RunArrays("multiclass", arrays.labels, arrays.y_true + 1, arrays.probs, None)
    with pytest.raises(LongtailError, match="NaN"):
        RunArrays("multiclass", arrays.labels, arrays.y_true, arrays.probs * np.nan, None)
    with pytest.raises(LongtailError, match="thresholds"):
        RunArrays("multiclass", arrays.labels, arrays.y_true, arrays.probs, [0.5])
    with pytest.raises(LongtailError, match="same shape"):
        RunArrays("multiclass", arrays.labels, arrays.y_true, arrays.probs, None, arrays.probs[:2])


def test_multiclass_decides_by_weighted_argmax():
    np.testing.assert_array_equal(_multiclass().decided().argmax(axis=1), [0, 0, 2, 0])
    weighted = _multiclass([1.0, 1.5, 1.0]).decided()
    np.testing.assert_array_equal(weighted.argmax(axis=1), [0, 1, 2, 0])  # 0.35 * 1.5 > 0.4
    assert weighted.sum(axis=1).tolist() == [1, 1, 1, 1]


def test_binary_decides_on_the_positive_column():
    probs = np.array([[0.8, 0.2], [0.6, 0.4], [0.3, 0.7]])
    at_half = RunArrays("binary", ["ham", "spam"], np.array([0, 1, 1]), probs, None)
    tuned = RunArrays("binary", ["ham", "spam"], np.array([0, 1, 1]), probs, [0.35])
    np.testing.assert_array_equal(at_half.decided()[:, 1], [False, False, True])
    np.testing.assert_array_equal(tuned.decided()[:, 1], [False, True, True])
    np.testing.assert_array_equal(tuned.decided()[:, 0], ~tuned.decided()[:, 1])
    np.testing.assert_array_equal(tuned.one_vs_rest()[:, 1], [False, True, True])


def test_multilabel_decides_per_label():
    y = np.array([[1, 0], [0, 1], [1, 1]])
    probs = np.array([[0.6, 0.1], [0.4, 0.3], [0.45, 0.9]])
    arrays = RunArrays("multilabel", ["x", "y"], y, probs, [0.45, 0.25])
    np.testing.assert_array_equal(arrays.decided(), [[True, False], [False, True], [True, True]])
    np.testing.assert_array_equal(
        RunArrays("multilabel", ["x", "y"], y, probs, None).decided(),
        [[True, False], [False, False], [False, True]],
    )
    np.testing.assert_array_equal(arrays.one_vs_rest(), y.astype(bool))

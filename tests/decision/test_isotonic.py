"""Isotonic calibration against scikit-learn's IsotonicRegression, per task."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

from longtail.config import DecisionConfig
from longtail.decision import probabilities
from longtail.decision.fit import fit_decision
from longtail.decision.isotonic import (
    IsotonicCalibration,
    check_isotonic_validation,
    fit_isotonic,
    isotonic_breakpoints,
)
from longtail.errors import LongtailError


def _sklearn(scores: np.ndarray, targets: np.ndarray, new: np.ndarray) -> np.ndarray:
    return IsotonicRegression(out_of_bounds="clip").fit(scores, targets).predict(new)


@pytest.mark.parametrize("seed", range(5))
def test_breakpoints_match_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    scores = np.round(rng.random(200), 2)  # rounded: many tied scores
    targets = (rng.random(200) < scores**2).astype(float)
    x, y = isotonic_breakpoints(scores, targets)
    new = np.concatenate([rng.random(300), [-1.0, 0.0, 1.0, 2.0]])
    np.testing.assert_allclose(np.interp(new, x, y), _sklearn(scores, targets, new), atol=1e-12)
    assert np.all(np.diff(x) >= 0) and np.all(np.diff(y) >= 0)


def test_multilabel_is_per_label_and_multiclass_is_renormalised():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(120, 3))
    y_ml = (rng.random((120, 3)) < 0.4).astype(int)
    p = probabilities(logits, "multilabel")
    iso = fit_isotonic("multilabel", p, y_ml)
    out = iso.apply("multilabel", p)
    for j in range(3):
        np.testing.assert_allclose(out[:, j], _sklearn(p[:, j], y_ml[:, j], p[:, j]), atol=1e-12)

    y_mc = rng.integers(0, 3, 120)
    pm = probabilities(logits, "multiclass")
    one_vs_rest = np.stack(
        [_sklearn(pm[:, c], (y_mc == c).astype(float), pm[:, c]) for c in range(3)], 1
    )
    got = fit_isotonic("multiclass", pm, y_mc).apply("multiclass", pm)
    np.testing.assert_allclose(got, one_vs_rest / one_vs_rest.sum(1, keepdims=True), atol=1e-12)
    np.testing.assert_allclose(got.sum(1), 1.0)


def test_binary_maps_the_positive_column():
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(80, 2))
    y = rng.integers(0, 2, 80)
    p = probabilities(logits, "binary")
    got = fit_isotonic("binary", p, y).apply("binary", p)
    np.testing.assert_allclose(got[:, 1], _sklearn(p[:, 1], y.astype(float), p[:, 1]))
    np.testing.assert_allclose(got.sum(1), 1.0)


def test_a_class_with_one_validation_example_keeps_its_probability():
    p = probabilities(np.random.default_rng(5).normal(size=(30, 3)), "multiclass")
    y = np.array([0] * 15 + [1] * 14 + [2])
    iso = fit_isotonic("multiclass", p, y)
    assert iso.uncalibrated == [2]
    np.testing.assert_array_equal(iso.x[2], [0.0, 1.0])


def test_one_validation_example_per_class_is_refused_naming_the_fix():
    p = probabilities(np.eye(3) * 2.0, "multiclass")
    with pytest.raises(LongtailError, match="decision.calibrate=temperature") as error:
        fit_isotonic("multiclass", p, np.array([0, 1, 2]))
    assert "\n" not in str(error.value)
    with pytest.raises(LongtailError, match="isotonic"):
        check_isotonic_validation("binary", np.array([0, 1]), 2)


def test_the_maps_round_trip_through_json():
    rng = np.random.default_rng(6)
    p = probabilities(rng.normal(size=(60, 2)), "binary")
    iso = fit_isotonic("binary", p, rng.integers(0, 2, 60))
    again = IsotonicCalibration.from_json(iso.to_json())
    np.testing.assert_array_equal(again.apply("binary", p), iso.apply("binary", p))


def test_fit_decision_tunes_thresholds_on_the_isotonic_probabilities():
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(100, 3))
    y = (rng.random((100, 3)) < 0.3).astype(int)
    fitted = fit_decision(
        "multilabel", logits, y, list("abc"), DecisionConfig(calibrate="isotonic")
    )
    assert fitted.temperature == 1.0 and fitted.mapping.calibration == "isotonic"
    expected = fitted.mapping.isotonic.apply("multilabel", probabilities(logits, "multilabel"))
    np.testing.assert_allclose(fitted.probabilities("multilabel", logits), expected)

"""The decision a run saves: temperature first, thresholds tuned on the calibrated probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from longtail.config import DecisionConfig
from longtail.decision import default_thresholds, probabilities, tune_thresholds
from longtail.decision.fit import fit_decision


def _multilabel(n: int = 150, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three labels: a common one the scores separate, a rare one with its only validation
    positive ranked 40th, and one with no validation positive at all."""
    rng = np.random.default_rng(seed)
    common = (rng.random(n) < 0.3).astype(np.int64)
    logits = np.stack(
        [
            rng.normal(3.0 * common - 1.5, 1.0),
            np.linspace(2.0, -5.0, n),
            rng.normal(-3.0, 1.0, n),
        ],
        axis=1,
    )
    y = np.zeros((n, 3), dtype=np.int64)
    y[:, 0], y[39, 1] = common, 1
    return logits, y


def test_thresholds_are_tuned_on_the_calibrated_probabilities():
    logits, y = _multilabel()
    names = ["common", "rare", "unseen"]
    fitted = fit_decision("multilabel", logits, y, names, DecisionConfig())
    assert fitted.temperature != 1.0
    calibrated = probabilities(logits, "multilabel", temperature=fitted.temperature)
    expected = tune_thresholds("multilabel", y, calibrated, fbr=0.3)  # the multilabel default
    np.testing.assert_allclose(fitted.thresholds, expected)
    assert fitted.fallback == ["rare"] and fitted.untuned == ["unseen"]
    assert fitted.thresholds[1] == pytest.approx(calibrated[:, 1].max())


def test_calibration_and_tuning_can_each_be_switched_off():
    logits, y = _multilabel()
    names = ["common", "rare", "unseen"]
    raw = fit_decision("multilabel", logits, y, names, DecisionConfig(calibrate=False))
    assert raw.temperature == 1.0
    np.testing.assert_allclose(
        raw.thresholds,
        tune_thresholds("multilabel", y, probabilities(logits, "multilabel"), fbr=0.3),
    )
    untouched = fit_decision("multilabel", logits, y, names, DecisionConfig(tune_thresholds=False))
    np.testing.assert_array_equal(untouched.thresholds, default_thresholds("multilabel", 3))
    assert untouched.fallback == [] and untouched.untuned == []

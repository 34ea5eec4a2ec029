"""The cross-fitted check: tuned thresholds / weights ship only where they help out of sample."""

from __future__ import annotations

import numpy as np
import pytest

from longtail.config import DecisionConfig
from longtail.decision.calibration import probabilities
from longtail.decision.fit import fit_decision
from longtail.decision.logit_adjust import decision_score
from longtail.decision.thresholds import tune_thresholds
from longtail.decision.tuning_check import cross_fitted_check
from longtail.evaluation.report_decision import tuning_check_line

NAMES = ["a", "b", "c"]


def _shifted(seed: int = 0, rows: int = 300):
    """A class whose logits are systematically too low: weights found on any part of
    validation lift it on the rest too (a real, learnable shift)."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=rows, p=[0.6, 0.3, 0.1])
    logits = rng.normal(scale=1.0, size=(rows, 3))
    logits[np.arange(rows), y] += 2.5
    logits[:, 2] -= 2.0
    return logits, y


def _noise(seed: int = 1, rows: int = 120):
    """Logits unrelated to a rare class's rows beyond argmax: weights fitted to a few rows."""
    rng = np.random.default_rng(seed)
    y = np.r_[np.zeros(70, int), np.ones(44, int), np.full(6, 2)][:rows]
    logits = rng.normal(size=(len(y), 3))
    logits[np.arange(len(y)), y] += 1.2
    return logits, y


def test_a_real_shift_keeps_the_tuned_weights():
    logits, y = _shifted()
    fitted = fit_decision("multiclass", logits, y, NAMES, DecisionConfig())
    assert fitted.check["kept"] and fitted.check["cross_fitted"] > fitted.check["default"]
    assert fitted.thresholds[2] > 1.5  # the shifted class got its weight
    probs = fitted.probabilities("multiclass", logits)
    np.testing.assert_allclose(fitted.thresholds, tune_thresholds("multiclass", y, probs, fbr=0.2))


def test_weights_that_do_not_help_out_of_fold_are_dropped_for_argmax():
    logits, y = _noise()
    fitted = fit_decision("multiclass", logits, y, NAMES, DecisionConfig())
    unchecked = fit_decision("multiclass", logits, y, NAMES, DecisionConfig(tuning_check="none"))
    assert not np.allclose(unchecked.thresholds, 1.0)  # tuning did move weights in-sample
    assert fitted.check is not None and not fitted.check["kept"]
    assert fitted.check["cross_fitted"] <= fitted.check["default"]
    np.testing.assert_array_equal(fitted.thresholds, np.ones(3))
    assert unchecked.check is None


def test_the_cross_fitted_score_never_sees_a_rows_own_label_when_tuning_it():
    logits, y = _noise()
    probs = probabilities(logits, "multiclass")
    seen: list[np.ndarray] = []

    def tune(y_part, probs_part):
        seen.append(probs_part)
        return np.ones(3)

    check = cross_fitted_check("multiclass", y, probs, tune, "f1", folds=4)
    assert len(seen) == 4 and sum(len(p) for p in seen) == 3 * len(y)  # each row left out once
    assert check.cross_fitted == pytest.approx(check.default) and not check.kept  # ties: default


def test_binary_and_multilabel_are_checked_only_when_asked():
    rng = np.random.default_rng(2)
    y = (rng.random(200) < 0.15).astype(int)
    logits = np.c_[np.zeros(200), rng.normal(size=200) + 2.0 * y - 2.5]
    assert fit_decision("binary", logits, y, ["n", "p"], DecisionConfig()).check is None
    checked = fit_decision(
        "binary", logits, y, ["n", "p"], DecisionConfig(tuning_check="cross_fit")
    )
    assert checked.check["kept"]  # 0.5 on these scores predicts almost nothing: tuning helps
    multi = (rng.random((200, 2)) < [0.2, 0.1]).astype(int)
    scores = rng.normal(size=(200, 2)) + 2.0 * multi - 2.0
    config = DecisionConfig(tuning_check="cross_fit")
    assert fit_decision("multilabel", scores, multi, ["x", "y"], config).check is not None


def test_too_few_rows_skip_the_check_and_keep_the_tuning():
    logits, y = _noise()
    fitted = fit_decision("multiclass", logits[:8], y[:8], NAMES, DecisionConfig())
    assert fitted.check is None


@pytest.mark.parametrize(
    ("task", "y", "pred", "objective", "expected"),
    [
        ("multiclass", [0, 0, 1, 2], [0, 1, 1, 2], "f1", (2 / 3 + 2 / 3 + 1) / 3),
        ("binary", [0, 1, 1, 0], [0, 1, 0, 0], "f1", 2 / 3),
        ("multilabel", [[1, 0], [0, 1], [1, 1]], [[1, 0], [0, 0], [1, 1]], "f1", (1 + 2 / 3) / 2),
    ],
)
def test_decision_score(task, y, pred, objective, expected):
    got = decision_score(task, np.asarray(y), np.asarray(pred), objective, 1.0, num_classes=3)
    assert got == pytest.approx(expected)


def test_the_report_says_what_the_check_found():
    check = {"kept": False, "folds": 5, "objective": "f1", "cross_fitted": 0.69, "default": 0.71}
    line = tuning_check_line("multiclass", check)
    assert line.startswith("tuned weights not kept, the decision is plain argmax")
    assert "f1 0.6900 against 0.7100" in line
    assert tuning_check_line("binary", check | {"kept": True}).startswith("tuned thresholds kept")
    assert tuning_check_line("multiclass", None) is None


def _small_gain():
    """Weights that win out of fold on these 300 rows by 0.016 macro-F1, but in only ~3 of 4
    bootstrap resamples of them: a gain the split's noise could make."""
    rng = np.random.default_rng(1)
    y = rng.choice(3, size=300, p=[0.6, 0.3, 0.1])
    logits = rng.normal(size=(300, 3))
    logits[np.arange(300), y] += 1.5
    logits[:, 2] -= 0.3
    return logits, y


def test_the_default_confidence_keeps_the_weights_only_when_resamples_agree():
    logits, y = _small_gain()
    any_gain = fit_decision("multiclass", logits, y, NAMES, DecisionConfig(tuning_confidence=None))
    assert any_gain.check["kept"] and any_gain.check["bootstrap_wins"] is None
    confident = fit_decision("multiclass", logits, y, NAMES, DecisionConfig())  # the default
    assert confident.check["cross_fitted"] == any_gain.check["cross_fitted"]
    assert 0.5 < confident.check["bootstrap_wins"] < 0.9 and not confident.check["kept"]
    np.testing.assert_array_equal(confident.thresholds, np.ones(3))
    assert fit_decision(
        "multiclass", logits, y, NAMES, DecisionConfig(tuning_confidence=0.7)
    ).check["kept"]
    shifted, y_shifted = _shifted()  # a real shift wins in nearly every resample
    strong = fit_decision(
        "multiclass", shifted, y_shifted, NAMES, DecisionConfig(tuning_confidence=0.9)
    )
    assert strong.check["kept"] and strong.check["bootstrap_wins"] > 0.95
    line = tuning_check_line("multiclass", confident.check)
    assert line.startswith("tuned weights not kept") and "of bootstrap resamples" in line


@pytest.mark.parametrize("value", [0.4, 1.0])
def test_a_confidence_outside_half_to_one_is_refused(value):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        DecisionConfig(tuning_confidence=value)


def test_no_gain_on_the_rows_is_not_resampled():
    logits, y = _noise()  # the weights lose out of fold: argmax, whatever the resamples say
    fitted = fit_decision("multiclass", logits, y, NAMES, DecisionConfig())
    assert not fitted.check["kept"] and fitted.check["bootstrap_wins"] is None

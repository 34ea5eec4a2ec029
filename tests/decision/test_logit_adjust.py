"""Post-hoc logit adjustment (Menon et al. 2021): the neutral tau, a hand example, tau tuning."""

from __future__ import annotations

import numpy as np
import pytest

from longtail.config import DecisionConfig
from longtail.decision import apply_thresholds, probabilities, tune_thresholds
from longtail.decision.fit import fit_decision
from longtail.decision.logit_adjust import (
    TAU_GRID,
    adjust_logits,
    decision_score,
    default_decision,
    prior_offsets,
    prior_shift,
    tune_tau,
)
from longtail.errors import LongtailError


def _long_tailed(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three classes 80/15/5 %, logits that carry the prior (a head-biased model)."""
    rng = np.random.default_rng(seed)
    priors = np.array([0.8, 0.15, 0.05])
    y = rng.choice(3, size=n, p=priors)
    logits = rng.normal(0.0, 1.0, (n, 3)) + 1.5 * np.eye(3)[y] + np.log(priors)[None, :]
    counts = np.bincount(y, minlength=3) * 10
    return logits, y, counts


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_tau_zero_is_the_plain_decision(task):
    rng = np.random.default_rng(1)
    columns = 2 if task == "binary" else 4
    logits = rng.normal(size=(50, columns))
    y = rng.integers(0, 2, (50, columns)) if task == "multilabel" else rng.integers(0, columns, 50)
    counts = np.array([40, 10]) if task == "binary" else np.array([30, 12, 5, 1])
    offsets = prior_offsets(task, counts, 50)
    np.testing.assert_array_equal(adjust_logits(logits, offsets, 0.0), logits)
    plain = fit_decision(task, logits, y, list("abcd")[:columns], DecisionConfig())
    zero = fit_decision(
        task, logits, y, list("abcd")[:columns], DecisionConfig(logit_adjust=0.0), counts, 50
    )
    np.testing.assert_allclose(zero.probabilities(task, logits), plain.probabilities(task, logits))
    np.testing.assert_array_equal(zero.thresholds, plain.thresholds)
    assert zero.temperature == plain.temperature


def test_a_hand_example_flips_a_prediction_to_the_rare_class():
    # priors 0.9 / 0.1: log-prior offsets log 0.9 = -0.105, log 0.1 = -2.303
    counts = np.array([90, 10])
    offsets = prior_offsets("multiclass", counts, 100)
    np.testing.assert_allclose(offsets, np.log([0.9, 0.1]))
    logits = np.array([[1.0, 0.0]])  # the head class wins by 1 logit
    assert default_decision("multiclass", logits)[0] == 0
    adjusted = adjust_logits(logits, offsets, 1.0)  # [1 + 0.105, 0 + 2.303]
    np.testing.assert_allclose(adjusted, [[1.0 - np.log(0.9), -np.log(0.1)]])
    assert default_decision("multiclass", adjusted)[0] == 1
    # tau 0.4 moves the rare class by 0.4 * 2.197 = 0.88 < 1: not enough
    assert default_decision("multiclass", adjust_logits(logits, offsets, 0.4))[0] == 0


def test_binary_one_column_equals_two_columns():
    offsets = prior_offsets("binary", np.array([80, 20]), 100)
    two = np.array([[0.0, 0.5], [0.0, 1.7], [0.0, -0.2]])
    one = two[:, 1]
    np.testing.assert_allclose(
        adjust_logits(one, offsets, 1.0),
        adjust_logits(two, offsets, 1.0)[:, 1] - adjust_logits(two, offsets, 1.0)[:, 0],
    )


def test_multilabel_offsets_are_log_prior_odds():
    offsets = prior_offsets("multilabel", np.array([50, 10, 0]), 100)
    np.testing.assert_allclose(offsets[:2], [0.0, np.log(10 / 90)])
    assert np.isfinite(offsets[2])  # a label never seen in training counts as half a document


def test_tuned_tau_is_from_the_grid_non_negative_and_helps_the_tail():
    logits, y, counts = _long_tailed()
    offsets = prior_offsets("multiclass", counts, int(counts.sum()))
    tau = tune_tau("multiclass", logits, y, offsets)
    assert tau in TAU_GRID and tau >= 0
    before = decision_score("multiclass", y, default_decision("multiclass", logits), "f1")
    after = decision_score(
        "multiclass", y, default_decision("multiclass", adjust_logits(logits, offsets, tau)), "f1"
    )
    assert tau > 0 and after > before


def test_tuned_tau_is_zero_when_adjusting_only_hurts():
    # balanced classes, perfectly separated: any tau > 0 can only move rows away
    logits = np.array([[3.0, 0.0], [0.0, 3.0]] * 10)
    y = np.array([0, 1] * 10)
    offsets = prior_offsets("multiclass", np.array([1000, 1]), 1001)
    assert tune_tau("multiclass", logits, y, offsets) == 0.0


def test_fit_decision_orders_adjustment_calibration_thresholds():
    logits, y, counts = _long_tailed()
    config = DecisionConfig(logit_adjust="tuned", tuning_check="none")
    fitted = fit_decision("multiclass", logits, y, ["a", "b", "c"], config, counts, counts.sum())
    adjust = fitted.mapping.logit_adjust
    assert adjust.tuned and adjust.tau > 0
    adjusted = adjust_logits(logits, adjust.offsets, adjust.tau)
    expected = probabilities(adjusted, "multiclass", temperature=fitted.temperature)
    np.testing.assert_allclose(fitted.probabilities("multiclass", logits), expected)
    np.testing.assert_allclose(
        fitted.thresholds, tune_thresholds("multiclass", y, expected, fbr=0.2)
    )
    decided = apply_thresholds("multiclass", expected, fitted.thresholds)
    assert decided.shape == y.shape


def test_logit_adjustment_without_training_counts_is_an_error():
    logits, y, _ = _long_tailed(40)
    with pytest.raises(LongtailError, match="training class counts"):
        fit_decision("multiclass", logits, y, ["a", "b", "c"], DecisionConfig(logit_adjust=1.0))


@pytest.mark.parametrize("value", [-0.5, "-1", float("nan"), "sometimes"])
def test_bad_tau_is_refused_by_the_config(value):
    with pytest.raises(ValueError, match="tau"):
        DecisionConfig(logit_adjust=value)


def test_config_reads_numbers_and_old_booleans():
    assert DecisionConfig(logit_adjust="1.5").logit_adjust == 1.5
    assert DecisionConfig(calibrate=True).calibrate == "temperature"
    assert DecisionConfig(calibrate=False).calibrate == "none"


# ----------------------------------------------------------------------------- target priors


def test_the_prior_shift_is_bayes_rule_on_the_probabilities():
    """Saerens et al. 2002: p'(c|x) ~ p(c|x) * pi'_c / pi_c, whatever the logits."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 3)) * 3
    counts = np.array([700, 250, 50])
    target = {"a": 0.2, "b": 0.3, "c": 0.5}
    shift = prior_shift("multiclass", ["a", "b", "c"], counts, target)
    reweighted = probabilities(logits, "multiclass") * (
        np.array([0.2, 0.3, 0.5]) / (counts / counts.sum())
    )
    reweighted /= reweighted.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probabilities(shift.apply(logits), "multiclass"), reweighted)
    assert shift.target_priors == pytest.approx((0.2, 0.3, 0.5))


def test_balanced_target_priors_are_the_logit_adjustment_at_tau_one():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(40, 4))
    counts = np.array([500, 300, 150, 50])
    shifted = prior_shift("multiclass", list("wxyz"), counts, "balanced").apply(logits)
    adjusted = adjust_logits(logits, prior_offsets("multiclass", counts, 1000), 1.0)
    np.testing.assert_array_equal(shifted.argmax(axis=1), adjusted.argmax(axis=1))
    np.testing.assert_allclose(
        probabilities(shifted, "multiclass"), probabilities(adjusted, "multiclass")
    )


def test_target_priors_turn_tuning_off_and_move_a_binary_decision_to_the_rare_class():
    config = DecisionConfig(target_priors="ham=1,spam=1", calibrate="none")
    assert config.tune_thresholds is False and config.target_priors == {"ham": 1.0, "spam": 1.0}
    rng = np.random.default_rng(2)
    logits, y = rng.normal(size=(100, 2)), rng.integers(0, 2, 100)
    # P(spam) 0.2 under training priors of 9:1 is 0.69 under equal priors
    probe = np.log(np.array([[0.8, 0.2]]))
    decision = fit_decision(
        "binary", logits, y, ["ham", "spam"], config, np.array([900, 100]), 1000
    )
    spam = decision.probabilities("binary", probe)[:, 1]
    assert spam == pytest.approx(0.2 * 9 / (0.2 * 9 + 0.8))
    assert decision.thresholds.tolist() == [0.5]
    assert (
        apply_thresholds("binary", decision.probabilities("binary", probe), decision.thresholds)[0]
        == 1
    )


def test_target_priors_name_what_is_wrong_in_one_line():
    counts = np.array([10, 5])
    with pytest.raises(LongtailError, match="missing spam; not a label sapm .*labels: ham, spam"):
        prior_shift("binary", ["ham", "spam"], counts, {"ham": 1, "sapm": 1})
    with pytest.raises(LongtailError, match="binary and multiclass tasks, not multilabel"):
        prior_shift("multilabel", ["a", "b"], counts, "balanced")
    with pytest.raises(LongtailError, match="target_priors needs the training class counts"):
        fit_decision(
            "binary", np.zeros((4, 2)), np.array([0, 1, 0, 1]), ["a", "b"],
            DecisionConfig(target_priors="balanced"),
        )  # fmt: skip


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("uniform", "balanced or LABEL=SHARE"),
        ("a=0,b=1", "finite number > 0"),
        ("a=x", "must be a number"),
    ],
)
def test_bad_target_priors_are_refused_by_the_config(value, message):
    with pytest.raises(ValueError, match=message):
        DecisionConfig(target_priors=value)
    with pytest.raises(ValueError, match="set one of them"):
        DecisionConfig(target_priors="balanced", logit_adjust="tuned")

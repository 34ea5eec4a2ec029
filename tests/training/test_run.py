"""The early-stopping score: the decision that ships, fitted on each epoch's validation logits."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from longtail.config import DecisionConfig
from longtail.decision import apply_thresholds, probabilities
from longtail.decision.fit import fit_decision
from longtail.evaluation import evaluate_predictions
from longtail.training.scoring import scoring_decision, validation_scorer


def _multiclass(seed: int = 0):
    """A rare class whose rows rank it second: argmax never predicts it, a tuned weight does."""
    rng = np.random.default_rng(seed)
    y = np.r_[np.zeros(60, int), np.ones(50, int), np.full(12, 2)]
    logits = rng.normal(scale=0.3, size=(len(y), 3)).astype(np.float32)
    logits[np.arange(len(y)), y] += 2.0
    logits[y == 2, 0] += 2.5  # the rare class loses to class 0 at argmax
    return logits, y


def test_with_tuned_thresholds_the_score_is_the_tuned_decisions():
    logits, y = _multiclass()
    names = ["a", "b", "c"]
    counts = np.bincount(y) * 4
    decision = DecisionConfig()
    score = validation_scorer("multiclass", SimpleNamespace(names=names), y, "f1_macro", decision, counts,
                    4 * len(y))  # fmt: skip
    fitted = fit_decision("multiclass", logits, y, names, decision, counts, 4 * len(y))
    probs = fitted.probabilities("multiclass", logits)
    expected = evaluate_predictions(
        "multiclass", y, probs, apply_thresholds("multiclass", probs, fitted.thresholds), names
    )["f1_macro"]
    argmax = validation_scorer("multiclass", SimpleNamespace(names=names), y, "f1_macro")(logits)
    untuned = DecisionConfig(tune_thresholds=False)
    assert score(logits) == pytest.approx(expected)
    assert score(logits) > argmax + 0.2  # the rare class is found only by the tuned decision
    assert validation_scorer("multiclass", SimpleNamespace(names=names), y, "f1_macro", untuned)(
        logits
    ) == pytest.approx(argmax)


@pytest.mark.parametrize("task", ["binary", "multilabel"])
@pytest.mark.parametrize("metric", ["f1_macro", "mcc", "pr_auc_macro"])
def test_binary_and_multilabel_scores_leave_out_the_temperature_without_changing_them(task, metric):
    rng = np.random.default_rng(1)
    labels = 1 if task == "binary" else 6
    y = (rng.random((300, labels)) < np.linspace(0.05, 0.4, labels)).astype(np.float32)
    logits = (rng.normal(size=y.shape) + 1.5 * y - 1.0).astype(np.float32) * 3.0
    if task == "binary":
        y, logits = y[:, 0].astype(int), np.c_[np.zeros(len(y)), logits[:, 0]].astype(np.float32)
    names = ["neg", "pos"] if task == "binary" else [f"l{i}" for i in range(labels)]
    full = DecisionConfig()
    fitted = fit_decision(task, logits, y, names, full)
    assert fitted.temperature != pytest.approx(1.0, abs=0.05)  # the shortcut has work to skip
    probs = fitted.probabilities(task, logits)
    shipped = evaluate_predictions(
        task, y, probs, apply_thresholds(task, probs, fitted.thresholds), names
    )[metric]
    score = validation_scorer(task, SimpleNamespace(names=names), y, metric, full)
    assert score(logits) == pytest.approx(shipped, abs=1e-12)
    assert probabilities(logits, task).shape == probs.shape


def test_which_decision_scores_the_epochs():
    assert scoring_decision(DecisionConfig(tune_thresholds=False), "multiclass", "f1_macro") is None
    full = DecisionConfig(objective="mcc")
    assert scoring_decision(full, "multiclass", "f1_macro") == full  # weights on a fixed grid
    assert scoring_decision(full, "multilabel", "f1_macro").calibrate == "none"
    assert scoring_decision(full, "binary", "ece") == full  # calibration is what ece measures
    isotonic = DecisionConfig(calibrate="isotonic")
    assert scoring_decision(isotonic, "multilabel", "f1_macro") == isotonic  # ties change ranks

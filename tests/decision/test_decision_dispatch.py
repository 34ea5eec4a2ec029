"""Every public decision function that takes a task reaches that task's own function, and refuses
an unknown task with the list of valid ones."""

from __future__ import annotations

import numpy as np
import pytest

from longtail import decision
from longtail.decision import isotonic, logit_adjust
from longtail.errors import LongtailError
from longtail.tasks import TASKS

VALID = "unknown task 'ordinal'; valid tasks: binary, multiclass, multilabel"


def _problem(task: str, n: int = 80, c: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    k = 2 if task == "binary" else c
    logits = rng.normal(size=(n, k))
    if task == "multilabel":
        y = (rng.random((n, k)) < 0.4).astype(np.float32)
        logits += 2 * y
    else:
        y = rng.integers(0, k, size=n)
        logits[np.arange(n), y] += 1.5
    return logits, y


def _same(a, b) -> None:
    if isinstance(a, decision.ThresholdTuning):
        a, b = vars(a), vars(b)
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _same(a[key], b[key])
    else:
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("task", TASKS)
def test_each_dispatcher_returns_what_the_tasks_own_function_returns(task):
    logits, y = _problem(task)
    k = logits.shape[1]
    probs = decision.probabilities(logits, task)
    tuned = decision.tune_thresholds(task, y, probs, objective="mcc", fbr=0.2)
    pairs = [
        (probs, f"{task}_probabilities", (logits,)),
        (decision.probabilities(logits, task, 2.0), f"{task}_probabilities", (logits, 2.0)),
        (decision.default_thresholds(task, k), f"{task}_default_thresholds", (k,)),
        (decision.untuned_labels(task, y, k), f"{task}_untuned_labels", (y, k)),
        (
            decision.tune_thresholds_detailed(task, y, probs, "f1", 1.0, None, 0.3),
            f"{task}_tune_thresholds_detailed",
            (y, probs, "f1", 1.0, None, 0.3),
        ),
        (
            decision.apply_thresholds(task, probs, tuned),
            f"{task}_apply_thresholds",
            (probs, tuned),
        ),
    ]
    for result, name, args in pairs:
        _same(result, getattr(decision, name)(*args))


@pytest.mark.parametrize("task", TASKS)
def test_logit_adjustment_dispatches_by_task(task):
    logits, y = _problem(task)
    counts = y.sum(axis=0) if task == "multilabel" else np.bincount(y, minlength=logits.shape[1])
    shared = "multilabel" if task == "multilabel" else "single_label"
    offsets = logit_adjust.prior_offsets(task, counts, len(y))
    _same(offsets, getattr(logit_adjust, f"{shared}_prior_offsets")(counts, len(y)))
    pred = logit_adjust.default_decision(task, logits)
    _same(pred, getattr(logit_adjust, f"{task}_default_decision")(logits))
    score = logit_adjust.decision_score(task, y, pred, "f1")
    assert score == getattr(logit_adjust, f"{task}_decision_score")(y, pred, "f1")


def test_a_binary_decision_from_one_logit_column_matches_two_columns():
    logits, _ = _problem("binary")
    one = logits[:, 1:] - logits[:, :1]
    _same(
        logit_adjust.default_decision("binary", one),
        logit_adjust.default_decision("binary", logits),
    )


def _unknown_task_calls():
    p = np.full((4, 2), 0.5)
    y = np.array([0, 1, 0, 1])
    iso = isotonic.IsotonicCalibration([np.array([0.0, 1.0])], [np.array([0.0, 1.0])])
    return {
        "default_thresholds": lambda t: decision.default_thresholds(t, 2),
        "untuned_labels": lambda t: decision.untuned_labels(t, y),
        "tune_thresholds": lambda t: decision.tune_thresholds(t, y, p),
        "tune_thresholds_detailed": lambda t: decision.tune_thresholds_detailed(t, y, p),
        "apply_thresholds": lambda t: decision.apply_thresholds(t, p, np.array([0.5])),
        "probabilities": lambda t: decision.probabilities(p, t),
        "fit_temperature": lambda t: decision.fit_temperature(p, y, t),
        "negative_log_likelihood": lambda t: decision.negative_log_likelihood(p, y, t),
        "fit_isotonic": lambda t: isotonic.fit_isotonic(t, p, y),
        "check_isotonic_validation": lambda t: isotonic.check_isotonic_validation(t, y, 2),
        "IsotonicCalibration.apply": lambda t: iso.apply(t, p),
        "prior_offsets": lambda t: logit_adjust.prior_offsets(t, np.array([2, 2]), 4),
        "default_decision": lambda t: logit_adjust.default_decision(t, p),
        "decision_score": lambda t: logit_adjust.decision_score(t, y, y, "f1"),
        "tune_tau": lambda t: logit_adjust.tune_tau(t, p, y, np.zeros(2)),
    }


@pytest.mark.parametrize("name", sorted(_unknown_task_calls()))
def test_an_unknown_task_is_refused_with_the_valid_ones(name):
    with pytest.raises(LongtailError) as error:
        _unknown_task_calls()[name]("ordinal")
    assert str(error.value) == VALID

"""Every public evaluation function that takes a task reaches that task's own function, and
refuses an unknown task with the list of valid ones."""

from __future__ import annotations

import numpy as np
import pytest

from longtail import evaluation
from longtail.errors import LongtailError
from longtail.evaluation import figure_data, report, report_decision
from longtail.evaluation.run_arrays import RunArrays
from longtail.tasks import TASKS

VALID = "unknown task 'ranking'; valid tasks: binary, multiclass, multilabel"


def _predictions(task: str, n: int = 60, c: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    k = 2 if task == "binary" else c
    probs = rng.dirichlet(np.ones(k), size=n)
    if task == "multilabel":
        probs = rng.random((n, k))
        y = (rng.random((n, k)) < 0.3).astype(np.int64)
        return y, probs, (probs >= 0.5).astype(np.int64)
    y = rng.integers(0, k, size=n)
    return y, probs, probs.argmax(axis=1)


@pytest.mark.parametrize("task", TASKS)
def test_evaluate_predictions_is_its_tasks_own_function(task):
    y, probs, pred = _predictions(task)
    names = [f"c{i}" for i in range(probs.shape[1])]
    dispatched = evaluation.evaluate_predictions(task, y, probs, pred, names)
    own = getattr(evaluation, f"{task}_evaluate_predictions")(y, probs, pred, names)
    assert dispatched == own
    assert list(dispatched) == list(own)  # the same keys in the same order: report.json's order
    assert ("positive_label" in dispatched) == (task == "binary")


@pytest.mark.parametrize("task", TASKS)
def test_ece_and_reliability_inputs_are_the_tasks_own(task):
    y, probs, _ = _predictions(task)
    ece = evaluation.single_label_ece if task != "multilabel" else evaluation.multilabel_ece
    assert evaluation.ece_for_task(task, y, probs) == ece(y, probs)
    got = figure_data.calibration_inputs(task, y, probs)
    own = getattr(figure_data, f"{task}_calibration_inputs")(y, probs)
    for a, b in zip(got, own, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("task", TASKS)
def test_the_headline_is_the_tasks_own(task):
    y, probs, pred = _predictions(task)
    metrics = evaluation.evaluate_predictions(task, y, probs, pred)
    own = report.binary_headline_rows if task == "binary" else report.per_class_headline_rows
    assert report.headline_rows(task, metrics, "1") == own(metrics, "1")
    rows = report_decision.headline_decision_rows(task, {"thresholds": [0.25]})
    assert rows == ([["threshold on P(positive)", "0.2500"]] if task == "binary" else [])


def _unknown_task_calls():
    y, probs, pred = _predictions("multiclass")
    metrics = evaluation.evaluate_predictions("multiclass", y, probs, pred)
    check = {"kept": True, "folds": 5, "objective": "f1", "cross_fitted": 0.5, "default": 0.4}
    return {
        "evaluate_predictions": lambda t: evaluation.evaluate_predictions(t, y, probs, pred),
        "ece_for_task": lambda t: evaluation.ece_for_task(t, y, probs),
        "calibration_inputs": lambda t: figure_data.calibration_inputs(t, y, probs),
        "headline_rows": lambda t: report.headline_rows(t, metrics, "1"),
        "render_markdown": lambda t: report.render_markdown({"task": t, "metrics": metrics}),
        "headline_decision_rows": lambda t: report_decision.headline_decision_rows(t, {}),
        "decision_lines": lambda t: report_decision.decision_lines(t, [], {"thresholds": [1]}),
        "tuning_check_line": lambda t: report_decision.tuning_check_line(t, check),
        "RunArrays": lambda t: RunArrays(t, ["a", "b", "c", "d"], y, probs, None),
    }


@pytest.mark.parametrize("name", sorted(_unknown_task_calls()))
def test_an_unknown_task_is_refused_with_the_valid_ones(name):
    with pytest.raises(LongtailError) as error:
        _unknown_task_calls()[name]("ranking")
    assert str(error.value) == VALID

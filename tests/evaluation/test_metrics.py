"""Every metric against scikit-learn or a short NumPy reference, for all three tasks."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from longtail.errors import LongtailError
from longtail.evaluation import evaluate_predictions, expected_calibration_error
from longtail.evaluation.metric_warnings import separation_warning


def _single_label(task: str, n: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    classes = 2 if task == "binary" else 4
    prior = [0.8, 0.2] if task == "binary" else [0.6, 0.2, 0.15, 0.05]
    y = rng.choice(classes, size=n, p=prior)
    logits = rng.normal(size=(n, classes)) + 1.2 * np.eye(classes)[y]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, p, p.argmax(axis=1)


def _multilabel(n: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, 4)) < np.array([0.5, 0.3, 0.1, 0.05])).astype(np.float32)
    p = 1 / (1 + np.exp(-(rng.normal(size=(n, 4)) + 2.0 * y - 1.5)))
    return y, p, (p >= 0.5).astype(np.int64)


def _ece_reference(conf, hit, bins=15):
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for b in range(bins):
        inside = (conf > edges[b]) & (conf <= edges[b + 1])
        if b == 0:
            inside |= conf == 0
        if inside.any():
            total += inside.mean() * abs(hit[inside].mean() - conf[inside].mean())
    return total


def _mcc_reference(a, b):
    tp, tn = np.sum((a == 1) & (b == 1)), np.sum((a == 0) & (b == 0))
    fp, fn = np.sum((a == 0) & (b == 1)), np.sum((a == 1) & (b == 0))
    denom = np.sqrt(float((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))
    return 0.0 if denom == 0 else (tp * tn - fp * fn) / denom


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_single_label_metrics_match_sklearn(task):
    y, p, pred = _single_label(task)
    names = [f"c{i}" for i in range(p.shape[1])]
    m = evaluate_predictions(task, y, p, pred, names)
    approx = pytest.approx
    assert m["accuracy"] == approx(skm.accuracy_score(y, pred))
    assert m["balanced_accuracy"] == approx(skm.balanced_accuracy_score(y, pred))
    for avg in ("macro", "micro", "weighted"):
        assert m[f"f1_{avg}"] == approx(skm.f1_score(y, pred, average=avg))
    assert m["precision_macro"] == approx(skm.precision_score(y, pred, average="macro"))
    assert m["recall_macro"] == approx(skm.recall_score(y, pred, average="macro"))
    onehot = np.eye(p.shape[1])[y]
    assert m["pr_auc_macro"] == approx(skm.average_precision_score(onehot, p, average="macro"))
    if task == "binary":
        assert m["roc_auc_macro"] == approx(skm.roc_auc_score(y, p[:, 1]))
    else:
        assert m["roc_auc_macro"] == approx(skm.roc_auc_score(y, p, multi_class="ovr"))
    assert m["mcc"] == approx(skm.matthews_corrcoef(y, pred))
    majority = int(np.bincount(y).argmax())
    others = [c for c in range(p.shape[1]) if c != majority]
    assert m["micro_f1_without_majority"] == approx(
        skm.f1_score(y, pred, labels=others, average="micro")
    )
    assert m["ece"] == approx(_ece_reference(p.max(axis=1), (pred == y).astype(float)))
    assert m["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()
    prec, rec, f1, sup = skm.precision_recall_fscore_support(y, pred)
    for c, row in enumerate(m["per_class"]):
        assert row["label"] == names[c]
        assert (row["precision"], row["recall"], row["f1"]) == approx((prec[c], rec[c], f1[c]))
        assert row["support"] == sup[c]
        assert row["pr_auc"] == approx(skm.average_precision_score(y == c, p[:, c]))
        assert row["roc_auc"] == approx(skm.roc_auc_score(y == c, p[:, c]))
    assert m["majority_class"] == names[majority]
    assert m["majority_rate"] == approx(np.mean(y == majority))
    assert m["num_examples"] == len(y)
    json.dumps(m, allow_nan=False)


def test_binary_positive_class_entries():
    y, p, pred = _single_label("binary", seed=3)
    m = evaluate_predictions("binary", y, p, pred, ["ham", "spam"])
    assert m["positive_label"] == "spam"
    assert m["positive_f1"] == pytest.approx(skm.f1_score(y, pred))
    assert m["positive_precision"] == pytest.approx(skm.precision_score(y, pred))
    assert m["positive_recall"] == pytest.approx(skm.recall_score(y, pred))
    assert m["positive_pr_auc"] == pytest.approx(skm.average_precision_score(y, p[:, 1]))
    assert m["positive_roc_auc"] == pytest.approx(skm.roc_auc_score(y, p[:, 1]))
    assert m["prevalence"] == pytest.approx(np.mean(y == 1)) and 0.1 < m["prevalence"] < 0.3
    # Majority is class 0, so micro-F1 without it is the positive-class F1.
    assert m["micro_f1_without_majority"] == pytest.approx(m["positive_f1"])
    assert "prevalence" not in evaluate_predictions("multiclass", *_single_label("multiclass"))


def test_prevalence_is_what_a_ranking_without_information_scores():
    """Every score tied (a model that learned nothing): PR-AUC is the prevalence, ROC-AUC 0.5."""
    y = np.array([0] * 81 + [1] * 19)
    p = np.tile([0.9, 0.1], (100, 1))
    m = evaluate_predictions("binary", y, p, np.zeros(100, dtype=int), ["ham", "spam"])
    assert m["prevalence"] == pytest.approx(0.19)
    assert m["positive_pr_auc"] == pytest.approx(m["prevalence"])
    assert m["positive_roc_auc"] == pytest.approx(0.5)


def _binary_scores(separating: bool, seed: int):
    rng = np.random.default_rng(seed)
    y = rng.choice(2, size=300, p=[0.8, 0.2])
    score = rng.random(300) + (0.8 * y if separating else 0.0)
    p1 = score / score.max()
    p = np.stack([1 - p1, p1], axis=1)
    pred = (p1 >= np.quantile(p1, 0.7)).astype(int)  # a tuned-looking threshold: both classes
    return evaluate_predictions("binary", y, p, pred, ["ham", "spam"])


def test_separation_warning_fires_on_random_scores_whatever_the_threshold_predicts():
    m = _binary_scores(separating=False, seed=0)
    # seed 0 gives a random ranking below both baselines; the check below keeps the case honest
    assert m["positive_pr_auc"] <= m["prevalence"] and m["positive_roc_auc"] <= 0.5
    assert not any("collapsed" in w for w in m["warnings"])  # the decisions look healthy
    line = separation_warning(m)
    assert line is not None and line.startswith(
        "on validation the model's scores rank 'spam' no better than a random ranking "
        f"(PR-AUC {m['positive_pr_auc']:.3f} against its prevalence {m['prevalence']:.3f}, "
        f"ROC-AUC {m['positive_roc_auc']:.3f} against 0.5)"
    )
    assert line.endswith("train longer, or check the data (labels, text column)")


@pytest.mark.parametrize(
    ("pr_auc", "roc_auc", "fires"),
    [(0.19, 0.7, True), (0.18, 0.7, True), (0.3, 0.5, True), (0.3, 0.45, True), (0.2, 0.51, False)],
)
def test_separation_warning_fires_on_either_baseline(pr_auc, roc_auc, fires):
    m = {"positive_label": "spam", "prevalence": 0.19}
    m |= {"positive_pr_auc": pr_auc, "positive_roc_auc": roc_auc}
    assert (separation_warning(m) is not None) == fires


def test_separation_warning_stays_silent_on_a_separating_model_and_off_binary():
    m = _binary_scores(separating=True, seed=1)
    assert m["positive_pr_auc"] > 2 * m["prevalence"] and m["positive_roc_auc"] > 0.7
    assert separation_warning(m) is None
    y, p, pred = _single_label("multiclass")
    assert separation_warning(evaluate_predictions("multiclass", y, p, pred)) is None
    assert separation_warning(None) is None


def test_multilabel_metrics_match_sklearn():
    y, p, pred = _multilabel()
    m = evaluate_predictions("multilabel", y, p, pred, list("abcd"))
    approx = pytest.approx
    assert m["accuracy"] == approx(skm.accuracy_score(y, pred))
    for avg in ("macro", "micro", "weighted"):
        assert m[f"f1_{avg}"] == approx(skm.f1_score(y, pred, average=avg))
    assert m["precision_macro"] == approx(skm.precision_score(y, pred, average="macro"))
    assert m["recall_macro"] == approx(skm.recall_score(y, pred, average="macro"))
    assert m["recall_micro"] == approx(skm.recall_score(y, pred, average="micro"))
    assert m["precision_micro"] == approx(skm.precision_score(y, pred, average="micro"))
    assert m["pr_auc_macro"] == approx(skm.average_precision_score(y, p, average="macro"))
    assert m["roc_auc_macro"] == approx(skm.roc_auc_score(y, p, average="macro"))
    assert m["mcc"] == approx(np.mean([_mcc_reference(y[:, c], pred[:, c]) for c in range(4)]))
    assert m["ece"] == approx(_ece_reference(p.ravel(), y.ravel()))
    assert m["balanced_accuracy"] is None and m["confusion_matrix"] is None
    assert m["micro_f1_without_majority"] is None
    assert m["majority_class"] == "a"
    assert [r["support"] for r in m["per_class"]] == y.sum(axis=0).astype(int).tolist()
    json.dumps(m, allow_nan=False)


def test_undefined_auc_is_none():
    y = np.array([0, 0, 1, 1, 0, 1])
    p = np.array([[0.7, 0.2, 0.1]] * 3 + [[0.2, 0.7, 0.1]] * 3)
    m = evaluate_predictions("multiclass", y, p, p.argmax(axis=1), ["a", "b", "never"])
    assert m["per_class"][2]["roc_auc"] is None and m["per_class"][2]["pr_auc"] is None
    assert m["roc_auc_macro"] is not None
    json.dumps(m, allow_nan=False)


def test_ece_known_values():
    assert expected_calibration_error(np.array([0.9, 0.9]), np.array([1, 1])) == pytest.approx(0.1)
    assert expected_calibration_error(np.array([0.0, 1.0]), np.array([0, 1])) == 0.0
    conf = np.random.default_rng(0).random(1000)
    hit = (np.random.default_rng(1).random(1000) < conf).astype(float)
    assert expected_calibration_error(conf, hit) == pytest.approx(_ece_reference(conf, hit))


def test_warnings_fire_on_collapsed_predictor():
    y, p, _ = _single_label("multiclass", seed=1)
    m = evaluate_predictions("multiclass", y, p, np.zeros_like(y), None)
    assert any("collapsed" in w for w in m["warnings"])
    assert any("not informative" in w for w in m["warnings"])


def test_warning_fires_when_every_minority_recall_is_zero():
    y = np.array([0] * 8 + [1, 2])
    pred = np.array([0] * 7 + [1, 2, 1])  # predicts several classes, but never a minority right
    p = np.eye(3)[pred] * 0.8 + 0.2 / 3
    m = evaluate_predictions("multiclass", y, p, pred, ["a", "b", "c"])
    assert any("every minority class has recall 0" in w for w in m["warnings"])


def test_no_warnings_on_a_good_predictor():
    rng = np.random.default_rng(2)
    y = rng.choice(3, size=500, p=[0.6, 0.3, 0.1])
    p = 0.05 + 0.85 * np.eye(3)[y]
    m = evaluate_predictions("multiclass", y, p, p.argmax(axis=1), ["a", "b", "c"])
    assert m["warnings"] == []


def test_multilabel_collapse_warning():
    y, p, pred = _multilabel(seed=4)
    collapsed = evaluate_predictions("multilabel", y, p, np.zeros_like(pred), list("abcd"))
    assert any("collapsed" in w for w in collapsed["warnings"])
    good = evaluate_predictions("multilabel", y, 0.05 + 0.9 * y, y, list("abcd"))
    assert good["warnings"] == []


def test_bad_inputs_raise():
    y, p, pred = _single_label("multiclass")
    with pytest.raises(LongtailError, match="label names"):
        evaluate_predictions("multiclass", y, p, pred, ["a", "b"])
    with pytest.raises(LongtailError, match="y_pred"):
        evaluate_predictions("multiclass", y, p, pred[:-1], None)
    with pytest.raises(LongtailError, match="outside"):
        evaluate_predictions("multiclass", y, p, pred + 10, None)


def _no_python_warnings(*args):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = evaluate_predictions(*args)
    assert [f"{w.category.__name__}: {w.message}" for w in caught] == []
    json.dumps(m, allow_nan=False)
    return m


@pytest.mark.parametrize(
    ("truth", "predicted"),
    [(0, 0), (0, "mixed"), (0, 1), (1, "mixed"), (1, 1), (1, 0)],
    ids=["absent-never-predicted", "absent-predicted", "absent-always-predicted",
         "in-every-row", "in-every-row-always-predicted", "in-every-row-never-predicted"],
)  # fmt: skip
def test_a_constant_label_column_warns_nothing_and_keeps_the_conventions(truth, predicted):
    """A label absent from a validation split, or on in all its rows (column 2 here)."""
    y, p, pred = _multilabel(n=80, seed=3)
    y[:, 2] = truth
    if predicted != "mixed":
        pred[:, 2] = predicted
    m = _no_python_warnings("multilabel", y, p, pred, list("abcd"))
    row = m["per_class"][2]
    assert row["support"] == (80 if truth else 0) and row["roc_auc"] is None
    assert row["pr_auc"] == (pytest.approx(skm.average_precision_score(y[:, 2], p[:, 2])) if truth else None)  # fmt: skip
    active = [c for c in range(4) if y[:, c].any() or pred[:, c].any()]
    assert m["mcc"] == pytest.approx(np.mean([_mcc_reference(y[:, c], pred[:, c]) for c in active]))
    defined = [c for c in range(4) if 0 < y[:, c].sum() < 80]
    assert m["roc_auc_macro"] == pytest.approx(skm.roc_auc_score(y[:, defined], p[:, defined]))
    assert m["f1_macro"] == pytest.approx(skm.f1_score(y, pred, labels=active, average="macro", zero_division=0))  # fmt: skip


@pytest.mark.parametrize("task", ["binary", "multiclass"])
@pytest.mark.parametrize("predicted", ["same-class", "mixed"])
def test_one_class_in_single_label_truth_warns_nothing(task, predicted):
    y, p, pred = _single_label(task, n=60, seed=5)
    y[:] = 0
    if predicted == "same-class":
        pred[:] = 0
    m = _no_python_warnings(task, y, p, pred, None)
    assert m["mcc"] == 0.0 == _mcc_reference(y, pred)
    assert m["roc_auc_macro"] is None and m["per_class"][1]["pr_auc"] is None
    assert m["pr_auc_macro"] == pytest.approx(skm.average_precision_score(y == 0, p[:, 0]))


def _balance(counts: dict[str, int]) -> dict:
    return {
        "num_examples": sum(counts.values()),
        "per_class": [{"label": k, "support": v} for k, v in counts.items()],
    }


def test_balance_shift_warning_names_the_class_whose_share_moved_most():
    from longtail.evaluation.metric_warnings import balance_shift_warning

    validation = _balance({"neg": 125, "pos": 1250})  # IMDB's validation: 9 % negative
    line = balance_shift_warning(validation, _balance({"neg": 12500, "pos": 12500}))
    assert line is not None and "\n" not in line
    assert "'neg': 50% of test rows, 9% of validation rows" in line
    assert "--validation-data" in line
    # the same balance, or a class too small to judge, says nothing
    assert balance_shift_warning(validation, _balance({"neg": 240, "pos": 2500})) is None
    rare = _balance({"a": 500, "b": 5})
    assert balance_shift_warning(rare, _balance({"a": 500, "b": 60})) is None
    assert balance_shift_warning(None, validation) is None


def test_a_test_report_opens_with_the_balance_shift():
    from longtail.evaluation.report import report_warnings

    validation = _balance({"neg": 125, "pos": 1250})
    test = _balance({"neg": 12500, "pos": 12500})
    report = {"split": "test", "metrics": test, "validation_metrics": validation}
    assert any("class balance differs" in w for w in report_warnings(report))
    # a report on validation itself compares nothing
    assert not any(
        "class balance differs" in w for w in report_warnings(report | {"split": "validation"})
    )

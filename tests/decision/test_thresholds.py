"""Threshold tuning: exactness vs brute force, constraints, multiclass weights, shapes."""

from __future__ import annotations

from typing import get_args

import numpy as np
import pytest
from sklearn.metrics import (
    f1_score,
    fbeta_score,
    matthews_corrcoef,
    precision_score,
    recall_score,
)

from longtail.config import DecisionConfig
from longtail.decision import (
    OBJECTIVES,
    apply_thresholds,
    default_thresholds,
    tune_thresholds,
    tune_thresholds_detailed,
    untuned_labels,
)
from longtail.decision.multiclass_weights import (
    WEIGHT_GRID,
    _multiclass_score,
    _tune_multiclass_weights,
)
from longtail.errors import LongtailError


def _binary_problem(n: int = 2000, rate: float = 0.1, seed: int = 0, decimals: int | None = None):
    """Scores of a weak, under-confident scorer: positives sit just above negatives, below 0.5."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rate).astype(np.int64)
    score = np.clip(rng.normal(0.2 + 0.2 * y, 0.1), 0.0, 1.0)
    if decimals is not None:  # many ties
        score = np.round(score, decimals)
    return y, np.stack([1.0 - score, score], axis=1)


def _precision(y, pred):
    return (y & pred).sum() / max(pred.sum(), 1)


def _recall(y, pred):
    return (y & pred).sum() / y.sum()


def _f(beta):
    def metric(y, pred):
        p, r = _precision(y, pred), _recall(y, pred)
        return 0.0 if p + r == 0 else (1 + beta**2) * p * r / (beta**2 * p + r)

    return metric


def _brute_force(y, score, metric, constraint=None, floor=None):
    """Best metric value over every candidate threshold (s >= t for each distinct score t)."""
    best = -np.inf
    for t in np.unique(score):
        pred = (score >= t).astype(int)
        if constraint is not None and constraint(y, pred) < floor - 1e-12:
            continue
        best = max(best, metric(y, pred))
    return best


@pytest.mark.parametrize("decimals", [None, 2])
def test_binary_f1_beats_default_and_equals_brute_force(decimals):
    y, p = _binary_problem(decimals=decimals)
    th = tune_thresholds("binary", y, p, objective="f1")
    assert th.shape == (1,) and th.dtype == np.float64
    tuned = f1_score(y, apply_thresholds("binary", p, th))
    default = f1_score(y, apply_thresholds("binary", p, default_thresholds("binary", 2)))
    assert tuned > default + 0.1
    assert tuned == pytest.approx(_brute_force(y, p[:, 1], _f(1.0)), abs=1e-12)


@pytest.mark.parametrize("decimals", [None, 2])
def test_binary_mcc_equals_brute_force(decimals):
    y, p = _binary_problem(seed=6, decimals=decimals)
    th = tune_thresholds("binary", y, p, objective="mcc")
    tuned = matthews_corrcoef(y, apply_thresholds("binary", p, th))
    assert tuned > matthews_corrcoef(y, apply_thresholds("binary", p, [0.5])) + 0.1
    assert tuned == pytest.approx(_brute_force(y, p[:, 1], matthews_corrcoef), abs=1e-12)


def test_threshold_is_midpoint_between_adjacent_scores():
    y = np.array([0, 0, 1, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.8])
    th = tune_thresholds("binary", y, np.stack([1 - s, s], axis=1))
    # Best F1 (6/7) predicts s >= 0.3; the boundary sits halfway to the next lower score 0.2.
    assert th[0] == pytest.approx(0.25)


def test_fbeta_equals_brute_force():
    y, p = _binary_problem(seed=1)
    th = tune_thresholds("binary", y, p, objective="fbeta", beta=2.0)
    pred = apply_thresholds("binary", p, th)

    best = _brute_force(y, p[:, 1], _f(2.0))
    assert fbeta_score(y, pred, beta=2.0) == pytest.approx(best, abs=1e-12)
    assert recall_score(y, pred) >= recall_score(y, apply_thresholds("binary", p, [th[0] + 0.05]))


@pytest.mark.parametrize("floor", [0.3, 0.8, 0.95, 1.0])
def test_recall_floor_holds_and_maximises_precision(floor):
    y, p = _binary_problem(seed=2)
    pred = apply_thresholds(
        "binary", p, tune_thresholds("binary", y, p, "recall_floor", floor=floor)
    )
    assert recall_score(y, pred) >= floor
    best = _brute_force(y, p[:, 1], _precision, _recall, floor)
    assert precision_score(y, pred) == pytest.approx(best, abs=1e-12)


@pytest.mark.parametrize("floor", [0.2, 0.4, 0.6])
def test_precision_floor_holds_and_maximises_recall(floor):
    y, p = _binary_problem(seed=3)
    info = tune_thresholds_detailed("binary", y, p, "precision_floor", floor=floor)
    assert info.infeasible == []
    pred = apply_thresholds("binary", p, info.thresholds)
    assert precision_score(y, pred) >= floor
    best = _brute_force(y, p[:, 1], _recall, _precision, floor)
    assert recall_score(y, pred) == pytest.approx(best, abs=1e-12)


def test_unreachable_precision_floor_is_reported():
    y = np.array([1, 0, 0, 1])
    s = np.array([0.2, 0.9, 0.8, 0.1])
    info = tune_thresholds_detailed(
        "binary", y, np.stack([1 - s, s], 1), "precision_floor", floor=0.9
    )
    assert info.infeasible == [1]


def test_multilabel_per_label_matches_binary_and_untuned_label_keeps_default():
    y0, p0 = _binary_problem(seed=4)
    y1, p1 = _binary_problem(seed=5, rate=0.3)
    y = np.stack([y0, y1, np.zeros_like(y0)], axis=1).astype(np.float32)
    probs = np.stack([p0[:, 1], p1[:, 1], p1[:, 1]], axis=1)
    info = tune_thresholds_detailed("multilabel", y, probs)
    assert info.thresholds.shape == (3,)
    assert info.thresholds[0] == tune_thresholds("binary", y0, p0)[0]
    assert info.thresholds[1] == tune_thresholds("binary", y1, p1)[0]
    assert info.thresholds[2] == 0.5
    assert info.untuned == [2] == untuned_labels("multilabel", y)
    pred = apply_thresholds("multilabel", probs, info.thresholds)
    assert pred.shape == (len(y0), 3) and pred.dtype == np.int64


def _skewed_multiclass(n: int = 3000, seed: int = 0):
    """A model biased toward the majority class: minority probabilities are squashed."""
    rng = np.random.default_rng(seed)
    y = rng.choice(4, size=n, p=[0.85, 0.08, 0.05, 0.02])
    logits = rng.normal(size=(n, 4)) + 1.5 * np.eye(4)[y] + np.array([2.5, 0.0, 0.0, 0.0])
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return y, e / e.sum(axis=1, keepdims=True)


def test_multiclass_weights_improve_macro_f1_and_are_deterministic():
    y, p = _skewed_multiclass()
    w = tune_thresholds("multiclass", y, p)
    assert w.shape == (4,) and np.all(w > 0)
    plain = f1_score(y, p.argmax(axis=1), average="macro")
    tuned = f1_score(y, apply_thresholds("multiclass", p, w), average="macro")
    assert tuned > plain + 0.05
    np.testing.assert_array_equal(w, tune_thresholds("multiclass", y, p))
    assert np.array_equal(default_thresholds("multiclass", 4), np.ones(4))


@pytest.mark.parametrize("objective", ["f1", "mcc"])
def test_multiclass_keeps_argmax_when_it_is_already_perfect(objective):
    y = np.repeat(np.arange(3), 10)
    p = 0.1 + 0.7 * np.eye(3)[y]
    np.testing.assert_array_equal(tune_thresholds("multiclass", y, p, objective), np.ones(3))


def test_multiclass_mcc_is_sklearns_including_degenerate_predictions():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 300)
    support = np.bincount(y, minlength=6)  # class 5 never true: only ever predicted
    for pred in (rng.integers(0, 6, 300), y, np.zeros(300, np.int64), np.full(300, 5)):
        score, _ = _multiclass_score(y, pred, support, 1.0, "mcc")
        assert score == pytest.approx(matthews_corrcoef(y, pred), abs=1e-12)


@pytest.mark.parametrize("seed", [1, 2])
def test_multiclass_mcc_weights_beat_argmax_and_the_f1_weights_on_mcc(seed):
    y, p = _skewed_multiclass(seed=seed)
    by_mcc = apply_thresholds("multiclass", p, tune_thresholds("multiclass", y, p, "mcc"))
    by_f1 = apply_thresholds("multiclass", p, tune_thresholds("multiclass", y, p, "f1"))
    assert matthews_corrcoef(y, by_mcc) > matthews_corrcoef(y, p.argmax(axis=1)) + 0.05
    # Macro-F1 weights give the majority's rows away: MCC weights keep more of its recall.
    assert matthews_corrcoef(y, by_mcc) > matthews_corrcoef(y, by_f1) + 0.005
    assert recall_score(y, by_mcc, average=None)[0] > recall_score(y, by_f1, average=None)[0]


@pytest.mark.parametrize("seed", range(5))
def test_two_class_weights_equal_a_binary_threshold(seed):
    rng = np.random.default_rng(seed)
    s = rng.random(500)
    p = np.stack([1 - s, s], axis=1)
    w = rng.uniform(0.1, 10.0, size=2)
    by_weights = apply_thresholds("multiclass", p, w)
    by_threshold = apply_thresholds("binary", p, [w[0] / (w[0] + w[1])])
    np.testing.assert_array_equal(by_weights, by_threshold)


def test_apply_thresholds_shapes_and_dtypes():
    p2 = np.array([[0.7, 0.3], [0.2, 0.8]])
    out = apply_thresholds("binary", p2, default_thresholds("binary", 2))
    assert out.dtype == np.int64 and out.tolist() == [0, 1]
    assert apply_thresholds("binary", p2[:, 1], [0.25]).tolist() == [1, 1]
    p3 = np.array([[0.2, 0.5, 0.3]])
    assert apply_thresholds("multiclass", p3, np.ones(3)).shape == (1,)
    assert apply_thresholds("multilabel", p3, default_thresholds("multilabel", 3)).tolist() == [
        [0, 1, 0]
    ]
    with pytest.raises(LongtailError):
        apply_thresholds("multilabel", p3, np.full(2, 0.5))
    with pytest.raises(LongtailError):
        apply_thresholds("binary", p2, [0.5, 0.5])


def test_bad_objectives_fail_with_the_valid_list():
    y, p = _skewed_multiclass(n=200)
    with pytest.raises(LongtailError, match="f1, fbeta, recall_floor, precision_floor, mcc"):
        tune_thresholds("binary", (y == 1).astype(int), p[:, :2], objective="auc")
    with pytest.raises(LongtailError, match="multiclass weights support 'f1', 'fbeta' .* 'mcc'"):
        tune_thresholds("multiclass", y, p, objective="recall_floor", floor=0.5)
    with pytest.raises(LongtailError, match="floor"):
        tune_thresholds("binary", (y == 1).astype(int), p[:, :2], objective="recall_floor")
    with pytest.raises(LongtailError, match="task"):
        tune_thresholds("regression", y, p)
    assert OBJECTIVES == ("f1", "fbeta", "recall_floor", "precision_floor", "mcc")
    assert get_args(DecisionConfig.model_fields["objective"].annotation) == OBJECTIVES


def test_binary_without_positives_keeps_default():
    p = np.array([[0.9, 0.1], [0.6, 0.4]])
    info = tune_thresholds_detailed("binary", np.array([0, 0]), p)
    assert info.thresholds.tolist() == [0.5] and info.untuned == [1]


# --- SCutFBR.1 (Yang 2001) -------------------------------------------------------------------------


def _rare_label(rank: int, n: int = 150) -> tuple[np.ndarray, np.ndarray]:
    """One label, one validation positive ranked ``rank`` (1 = the top score) among ``n`` rows."""
    scores = np.linspace(0.9, 0.001, n)
    y = np.zeros((n, 1), dtype=np.int64)
    y[rank - 1, 0] = 1
    return y, scores[:, None]


def test_fbr_replaces_an_overfitted_rare_label_threshold_by_the_top_score():
    y, p = _rare_label(rank=40)  # best F1 = 2 / (2 + 39) ~ 0.049: threshold just below row 40
    plain = tune_thresholds_detailed("multilabel", y, p)
    assert plain.thresholds[0] < p[39, 0] and plain.fallback == []
    guarded = tune_thresholds_detailed("multilabel", y, p, fbr=0.3)
    assert guarded.fallback == [0]
    assert guarded.thresholds[0] == pytest.approx(p.max())
    assert apply_thresholds("multilabel", p, guarded.thresholds).sum() == 1  # only the top row


def test_fbr_tests_the_f1_at_the_mcc_best_threshold():
    y, p = _rare_label(rank=40)  # MCC-best predicts the top 40 rows: F1 2 / 41 < 0.3
    assert tune_thresholds_detailed("multilabel", y, p, "mcc").fallback == []
    guarded = tune_thresholds_detailed("multilabel", y, p, "mcc", fbr=0.3)
    assert guarded.fallback == [0] and guarded.thresholds[0] == pytest.approx(p.max())
    y, p = _rare_label(rank=2)  # F1 2 / 3 at the MCC-best threshold: kept
    assert tune_thresholds_detailed("multilabel", y, p, "mcc", fbr=0.3).fallback == []


def test_fbr_keeps_a_label_whose_validation_f1_is_good_enough():
    y, p = _rare_label(rank=2)  # best F1 = 2 / 3 >= 0.3
    guarded = tune_thresholds_detailed("multilabel", y, p, fbr=0.3)
    assert guarded.fallback == []
    assert guarded.thresholds[0] == pytest.approx(tune_thresholds("multilabel", y, p)[0])


def test_fbr_applies_to_binary_only_when_asked_and_is_validated():
    y, p = _rare_label(rank=40)
    probs = np.hstack([1 - p, p])
    assert tune_thresholds_detailed("binary", y[:, 0], probs).fallback == []
    assert tune_thresholds_detailed("binary", y[:, 0], probs, fbr=0.3).fallback == [1]
    with pytest.raises(LongtailError, match="fbr"):
        tune_thresholds("binary", y[:, 0], probs, fbr=1.5)


def _one_rare_example():
    """One validation example of a rare class 0, a majority class 1 and a medium class 2.

    The unguarded search gives class 0 weight 2.5: it wins the one example and sends 9 majority
    rows to class 0 (class-0 F1 0.18), and macro-F1 still edges up (0.661 -> 0.668). One example
    decides a weight that moves every future row: the overfit seen on Gutenberg. The majority
    rows lean towards class 2, so lowering the majority's weight instead would send them there,
    a path too costly to be taken.
    """
    rng = np.random.default_rng(0)
    rare = np.append(rng.uniform(0.05, 0.25, 29), 0.32)
    majority = np.column_stack([rare, 0.7 - rare, np.full(30, 0.3)])
    medium = np.tile([0.05, 0.25, 0.7], (10, 1))
    return np.array([0] + [1] * 30 + [2] * 10), np.vstack([[0.3, 0.7, 0.0], majority, medium])


def test_multiclass_fbr_keeps_weight_one_for_a_class_too_poor_on_validation():
    y, p = _one_rare_example()
    fitted = tune_thresholds_detailed("multiclass", y, p)  # fbr 0: the unguarded search
    assert fitted.thresholds[0] > 1.0 and fitted.fallback == []
    assert apply_thresholds("multiclass", p, fitted.thresholds)[0] == 0  # the example is won
    guarded = tune_thresholds_detailed("multiclass", y, p, fbr=0.2)  # F1 0.18 < 0.2
    np.testing.assert_array_equal(guarded.thresholds, np.ones(3))
    assert guarded.fallback == [0]  # left at 1 and still below fbr on validation (F1 0)
    np.testing.assert_array_equal(
        tune_thresholds("multiclass", y, p, fbr=0.15), fitted.thresholds
    )  # 0.18 >= 0.15: the same weights as unguarded


def test_multiclass_fbr_still_tunes_classes_that_do_well_on_validation():
    y, p = _skewed_multiclass()
    plain = tune_thresholds("multiclass", y, p)
    guarded = tune_thresholds_detailed("multiclass", y, p, fbr=0.2)
    pred = apply_thresholds("multiclass", p, guarded.thresholds)
    per_class = f1_score(y, pred, average=None)
    moved = np.flatnonzero(guarded.thresholds != 1.0)
    assert len(moved) > 0 and np.all(per_class[moved] >= 0.2)
    assert f1_score(y, pred, average="macro") > f1_score(y, p.argmax(axis=1), average="macro")
    assert not np.array_equal(plain, np.ones(4))


def _weights_one_grid_value_at_a_time(y, p, beta, fbr, objective, passes=3):
    """The multiclass weight search as written before the grid was scored at once."""
    weights = np.ones(p.shape[1])
    support = np.bincount(y, minlength=p.shape[1])
    best, _ = _multiclass_score(y, np.argmax(p, axis=1), support, beta, objective)
    for _ in range(passes):
        improved = False
        for c in np.flatnonzero(support > 0):
            others = p * weights[None, :]
            others[:, c] = -np.inf
            rival = np.argmax(others, axis=1)
            rival_score = others[np.arange(len(y)), rival]
            scores = np.full(len(WEIGHT_GRID), -np.inf)
            for g, w in enumerate(WEIGHT_GRID):
                mine = p[:, c] * w
                wins = (mine > rival_score) | ((mine == rival_score) & (c < rival))
                score, f = _multiclass_score(y, np.where(wins, c, rival), support, beta, objective)
                if w == 1.0 or f[c] >= fbr:
                    scores[g] = score
            if scores.max() > best + 1e-12:
                ties = np.flatnonzero(scores >= scores.max() - 1e-12)
                distance = np.abs(np.log(WEIGHT_GRID[ties]) - np.log(weights[c]))
                weights[c] = WEIGHT_GRID[ties[np.argmin(distance)]]
                best, improved = float(scores.max()), True
        if not improved:
            break
    return weights


@pytest.mark.parametrize("seed", range(12))
def test_the_whole_grid_scored_at_once_gives_the_weights_of_one_value_at_a_time(seed):
    rng = np.random.default_rng(seed)
    classes, n = int(rng.integers(2, 12)), int(rng.integers(5, 300))
    y = rng.choice(classes, size=n, p=rng.dirichlet(np.full(classes, 0.5)))
    logits = rng.normal(size=(n, classes)) + rng.uniform(0, 3) * np.eye(classes)[y]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    if seed % 3 == 0:
        p = np.round(p, 2)  # ties between a class and its rival
    objective, beta = [("f1", 1.0), ("fbeta", 2.0), ("mcc", 1.0)][seed % 3]
    fbr = [0.0, 0.2, 0.5][seed % 4 % 3]
    tuned = _tune_multiclass_weights(y, p, beta, fbr, objective)
    assert np.array_equal(
        tuned.thresholds, _weights_one_grid_value_at_a_time(y, p, beta, fbr, objective)
    )

from __future__ import annotations

import numpy as np
import pytest

from longtail.data import StratificationError, stratified_kfold, stratified_split
from longtail.errors import LongtailError


def _partition(train: np.ndarray, val: np.ndarray, n: int) -> None:
    assert len(np.intersect1d(train, val)) == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(n))


def test_single_label_keeps_proportions() -> None:
    y = np.repeat([0, 1, 2], [800, 150, 50])
    train, val = stratified_split(y, "multiclass", val_fraction=0.1, seed=0)
    _partition(train, val, len(y))
    assert len(val) == 100
    np.testing.assert_array_equal(np.bincount(y[val]), [80, 15, 5])


def test_split_is_deterministic_and_seed_matters() -> None:
    y = np.random.default_rng(1).integers(0, 2, size=200)
    a = stratified_split(y, "binary", seed=3)
    b = stratified_split(y, "binary", seed=3)
    c = stratified_split(y, "binary", seed=4)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_singleton_class_stays_in_training_with_a_warning() -> None:
    y = np.array([0] * 20 + [1] * 5 + [2])
    names = ["earn", "acq", "grain"]
    with pytest.warns(UserWarning, match=r"r8\.csv: class 'grain' has only one example: kept in"):
        train, val = stratified_split(y, "multiclass", names=names, source="r8.csv")
    assert 25 in train and 25 not in val  # the lone 'grain' row
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(26))
    assert set(y[val]) == {0, 1}  # the splittable classes still reach validation
    with pytest.warns(UserWarning, match="class 'grain' has fewer than 5 examples"):
        folds = stratified_kfold(y, "multiclass", n_splits=5, names=names)
    assert sum(25 in fold_val for _, fold_val in folds) == 1


def test_many_rare_classes_are_listed_briefly() -> None:
    y = np.array([0] * 30 + [1] * 30 + list(range(2, 10)))
    with pytest.warns(UserWarning, match=r"classes index 2, .*index 6 and 3 more have only one"):
        stratified_split(y, "multiclass", val_fraction=0.2)


def test_only_singletons_cannot_be_split() -> None:
    with pytest.raises(StratificationError, match="every class has a single example"):
        stratified_split(np.arange(5), "multiclass")
    with pytest.raises(LongtailError):  # catchable as the common user-facing error
        stratified_split(np.arange(5), "multiclass", source="tiny.csv")


def test_too_few_validation_rows_for_classes() -> None:
    y = np.repeat([0, 1, 2, 3], 3)
    with pytest.raises(StratificationError, match="4 classes"):
        stratified_split(y, "multiclass", val_fraction=0.1)


def test_bad_fraction() -> None:
    with pytest.raises(LongtailError):
        stratified_split(np.array([0, 1] * 5), "binary", val_fraction=1.0)


def _long_tail_multilabel(n: int = 600, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    freq = np.array([0.5, 0.3, 0.1, 0.05, 0.02, 0.01, 0.005])
    y = (rng.random((n, len(freq))) < freq).astype(np.float32)
    y[:2, -1] = 1  # a label with exactly 2-3 examples
    y[5, :] = 0  # a row with no labels
    return y


def test_multilabel_split_proportions_and_rare_labels() -> None:
    y = _long_tail_multilabel()
    train, val = stratified_split(y, "multilabel", val_fraction=0.2, seed=0)
    _partition(train, val, len(y))
    assert abs(len(val) - 120) <= 6
    counts = y.sum(0)
    for label in np.flatnonzero(counts >= 2):
        assert y[train, label].sum() >= 1 and y[val, label].sum() >= 1, label
    big = counts >= 50
    share = y[val][:, big].sum(0) / counts[big]
    assert np.all(np.abs(share - 0.2) < 0.03), share


def test_multilabel_pair_of_examples_lands_in_both_parts() -> None:
    y = np.zeros((50, 2), dtype=np.float32)
    y[:48, 0] = 1
    y[48:, 1] = 1
    train, val = stratified_split(y, "multilabel", val_fraction=0.1, seed=0)
    assert y[train, 1].sum() == 1 and y[val, 1].sum() == 1


def test_multilabel_split_is_deterministic() -> None:
    y = _long_tail_multilabel()
    a = stratified_split(y, "multilabel", seed=7)
    b = stratified_split(y, "multilabel", seed=7)
    c = stratified_split(y, "multilabel", seed=8)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_kfold_partitions(task: str) -> None:
    y = np.repeat([0, 1, 2], [60, 30, 10]) if task == "multiclass" else _long_tail_multilabel(200)
    folds = stratified_kfold(y, task, n_splits=5, seed=0)
    assert len(folds) == 5
    vals = np.concatenate([val for _, val in folds])
    np.testing.assert_array_equal(np.sort(vals), np.arange(len(y)))
    for train, val in folds:
        _partition(train, val, len(y))
        assert abs(len(val) - len(y) / 5) <= 3
    if task == "multiclass":
        for _, val in folds:
            np.testing.assert_array_equal(np.bincount(y[val]), [12, 6, 2])


def test_kfold_warns_on_small_classes() -> None:
    y = np.repeat([0, 1], [20, 3])
    with pytest.warns(UserWarning, match="fewer than 5"):
        stratified_kfold(y, "binary", n_splits=5, names=["a", "b"])


def test_mostly_one_example_classes_never_report_negative_training_rows() -> None:
    # 36 one-example classes and 2 classes of 2 (a column of near-unique values): 40 rows ask for
    # 4 validation rows, but only the 4 rows of the 2 splittable classes can go there
    y = np.array([*range(36), 36, 36, 37, 37])
    with (
        pytest.warns(UserWarning, match="only one example"),
        pytest.raises(StratificationError, match="takes 4 validation rows from the 4 rows") as info,
    ):
        stratified_split(y, "multiclass", val_fraction=0.1, seed=0, source="s.csv")
    assert str(info.value).startswith("s.csv: ") and "leaving 0 of them" in str(info.value)

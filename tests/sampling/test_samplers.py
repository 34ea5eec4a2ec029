"""Contract tests over every registered sampler, plus the statistics each one promises."""

from __future__ import annotations

import numpy as np
import pytest

from longtail.checks import check_sampler
from longtail.errors import LongtailError
from longtail.sampling import (
    SAMPLERS,
    EpochSampler,
    build_sampler,
    epoch_length_note,
    label_groups,
)
from longtail.sampling import base as sampling_base

CLASS_SIZES = [400, 80, 15, 5]
TASKS = ["multiclass", "multilabel"]
SAMPLED = [name for name in SAMPLERS.names() if name != "none"]


def _multiclass() -> np.ndarray:
    y = np.repeat(np.arange(len(CLASS_SIZES)), CLASS_SIZES)
    return np.random.default_rng(0).permutation(y).astype(np.int64)


def _multilabel() -> np.ndarray:
    """Label rates 0.6 / 0.2 / 0.05 / 0.01, about a quarter of rows with no positive label."""
    rng = np.random.default_rng(0)
    y = (rng.random((600, 4)) < np.array([0.6, 0.2, 0.05, 0.01])).astype(np.float32)
    y[:3, 3] = 1.0  # the rarest label is surely present
    return y


def _labels(task: str) -> np.ndarray:
    return _multiclass() if task == "multiclass" else _multilabel()


def _indices(name: str, task: str, seed: int = 0, epoch: int = 0, **params: object) -> np.ndarray:
    sampler = build_sampler({"name": name, **params}, y=_labels(task), task=task, seed=seed)
    assert isinstance(sampler, EpochSampler)
    sampler.set_epoch(epoch)
    indices = np.array(list(sampler))
    assert len(indices) == len(sampler)
    return indices


def _group_shares(task: str, indices: np.ndarray) -> np.ndarray:
    groups = label_groups(_labels(task), task)
    return np.bincount(groups[indices], minlength=groups.max() + 1) / len(indices)


def test_none_means_plain_shuffling() -> None:
    assert build_sampler("none", y=_multiclass(), task="multiclass", seed=0) is None
    assert build_sampler(None, y=_multiclass(), task="multiclass", seed=0) is None


@pytest.mark.parametrize("task", ["binary", *TASKS])
@pytest.mark.parametrize("name", SAMPLED)
def test_every_registered_sampler_passes_check_sampler(name: str, task: str) -> None:
    """The public contract (:func:`longtail.checks.check_sampler`): indices in range and as many
    as ``len``, seeded by (seed, epoch) without the global RNG, usable by a DataLoader."""
    passed = check_sampler(lambda y, t, seed: build_sampler(name, y=y, task=t, seed=seed), task)
    assert passed == ["length", "in_range", "global_rng_untouched", "seeded", "data_loader"]


@pytest.mark.parametrize("task", TASKS)
def test_class_balanced_makes_groups_roughly_equal(task: str) -> None:
    shares = _group_shares(task, _indices("class_balanced", task, num_samples=8000))
    expected = 1 / len(shares)
    np.testing.assert_allclose(shares, expected, atol=0.03)
    plain = _group_shares(task, np.arange(len(_labels(task))))
    assert plain.min() < expected / 4  # so the line above really raised the minority share


def test_class_balanced_default_length_is_the_number_of_rows() -> None:
    assert len(_indices("class_balanced", "multiclass")) == sum(CLASS_SIZES)


def test_sqrt_sampling_shares_follow_square_root_counts() -> None:
    shares = _group_shares("multiclass", _indices("sqrt", "multiclass", num_samples=20000))
    root = np.sqrt(CLASS_SIZES)
    np.testing.assert_allclose(shares, root / root.sum(), atol=0.02)


@pytest.mark.parametrize("task", TASKS)
def test_oversample_raises_every_group_to_the_majority(task: str) -> None:
    indices = _indices("oversample", task)
    groups = label_groups(_labels(task), task)
    sizes = np.bincount(groups)
    np.testing.assert_array_equal(np.bincount(groups[indices]), np.full(len(sizes), sizes.max()))
    copies = np.bincount(indices, minlength=len(groups))
    for group in range(len(sizes)):  # copies of a group's rows differ by at most one
        in_group = copies[groups == group]
        assert in_group.min() >= 1 and in_group.max() - in_group.min() <= 1


def test_oversample_ratio_raises_to_a_fraction_of_the_majority() -> None:
    groups = _multiclass()[_indices("oversample", "multiclass", ratio=0.5)]
    np.testing.assert_array_equal(np.bincount(groups), [400, 200, 200, 200])


def test_undersample_cuts_every_group_to_the_minority_without_replacement() -> None:
    indices = _indices("undersample", "multiclass")
    assert len(np.unique(indices)) == len(indices)
    np.testing.assert_array_equal(np.bincount(_multiclass()[indices]), [5, 5, 5, 5])
    ratio = _indices("undersample", "multiclass", ratio=0.25)  # minority / majority = 1/4
    np.testing.assert_array_equal(np.bincount(_multiclass()[ratio]), [20, 20, 15, 5])


def test_multilabel_group_is_the_rarest_positive_label() -> None:
    y = np.array(
        [
            [1, 1, 0, 0],  # label 1 (3 positives) is rarer than label 0 (4)
            [1, 0, 1, 0],  # label 2 (2 positives)
            [1, 1, 1, 0],  # label 2
            [1, 1, 0, 0],  # label 1
            [0, 0, 0, 0],  # no positive label: group C = 4
            [0, 0, 0, 1],  # label 3 (1 positive)
        ],
        dtype=np.float32,
    )
    np.testing.assert_array_equal(label_groups(y, "multilabel"), [1, 2, 2, 1, 4, 3])
    ties = np.array([[1, 1], [1, 1]], dtype=np.float32)  # equal counts: lower index wins
    np.testing.assert_array_equal(label_groups(ties, "multilabel"), [0, 0])


def test_multilabel_grouping_is_the_same_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    y = (np.random.default_rng(1).random((1000, 30)) < np.linspace(0.01, 0.5, 30)).astype(np.uint8)
    whole = label_groups(y, "multilabel")
    monkeypatch.setattr(sampling_base, "_CHUNK_ROWS", 7)
    np.testing.assert_array_equal(label_groups(y, "multilabel"), whole)
    counts = y.sum(axis=0)
    for row, group in zip(y, whole, strict=True):
        positives = np.flatnonzero(row)
        expected = positives[np.argmin(counts[positives])] if len(positives) else 30
        assert group == expected


def test_multilabel_balanced_sampling_lifts_rows_with_the_rare_label() -> None:
    y = _multilabel()
    plain_rate = y[:, 3].mean()
    sampled_rate = y[_indices("class_balanced", "multilabel", num_samples=8000), 3].mean()
    assert sampled_rate > 5 * plain_rate


def test_unknown_sampler_lists_valid_names() -> None:
    with pytest.raises(LongtailError) as info:
        build_sampler("balanced", y=_multiclass(), task="multiclass", seed=0)
    assert all(name in str(info.value) for name in SAMPLERS.names())


@pytest.mark.parametrize(
    ("spec", "y", "task"),
    [
        ({"name": "oversample", "ratio": 1.5}, _multiclass(), "multiclass"),
        ({"name": "undersample", "ratio": 0.0}, _multiclass(), "multiclass"),
        ({"name": "class_balanced", "num_samples": 0}, _multiclass(), "multiclass"),
        ({"name": "class_balanced", "replacement": False}, _multiclass(), "multiclass"),
        ("sqrt", _multilabel(), "multiclass"),
        ("sqrt", _multiclass(), "multilabel"),
        ("sqrt", np.array([0, -1, 1]), "binary"),
        ("sqrt", _multiclass(), "regression"),
    ],
)
def test_bad_input_is_a_longtail_error(spec: object, y: np.ndarray, task: str) -> None:
    with pytest.raises(LongtailError):
        build_sampler(spec, y=y, task=task, seed=0)


def test_a_sampler_object_passes_through() -> None:
    sampler = build_sampler("sqrt", y=_multiclass(), task="multiclass", seed=0)
    assert build_sampler(sampler, y=_multiclass(), task="multiclass", seed=1) is sampler


def test_an_oversampled_epoch_much_longer_than_the_data_is_noted() -> None:
    # 8 classes, one of 50 rows and seven of 5: oversampling draws 8 x 50 = 400 rows from 85
    y = np.repeat(np.arange(8), [50] + [5] * 7)
    over = build_sampler("oversample", y=y, task="multiclass", seed=0)
    note = epoch_length_note(over, len(y))
    assert note is not None and "400 rows, 4.7x the 85 training rows" in note
    assert "class_balanced" in note
    assert (
        epoch_length_note(build_sampler("class_balanced", y=y, task="multiclass"), len(y)) is None
    )
    assert epoch_length_note(None, len(y)) is None
    # a mild imbalance stays quiet: 2 x 50 = 100 rows from 95
    mild = np.repeat([0, 1], [50, 45])
    mild_over = build_sampler("oversample", y=mild, task="binary")
    assert len(mild_over) == 100 and epoch_length_note(mild_over, len(mild)) is None

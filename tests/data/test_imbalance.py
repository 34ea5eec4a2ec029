import numpy as np
import pytest

from longtail.data.imbalance import subsample, target_counts
from longtail.errors import LongtailError

NAMES = ["a", "b", "c", "d", "e"]
COUNTS = [500, 500, 500, 500, 500]


def test_step_keeps_ratio_of_the_smaller_half():
    keep = target_counts(NAMES, COUNTS, kind="step", ratio=0.1)
    assert sorted(keep.tolist()) == [50, 50, 500, 500, 500]


def test_long_tailed_follows_the_exponential_profile():
    keep = target_counts(NAMES, COUNTS, kind="long_tailed", ratio=0.1)
    expected = [round(500 * 0.1 ** (i / 4)) for i in range(5)]
    assert keep.tolist() == expected
    assert keep.max() / keep.min() == pytest.approx(10, rel=0.02)


def test_remove_thins_one_class_and_defaults_to_the_smallest():
    keep = target_counts(["neg", "pos"], [1000, 400], kind="remove", ratio=0.1, minority="neg")
    assert keep.tolist() == [100, 400]
    assert target_counts(["neg", "pos"], [1000, 400], kind="remove", ratio=0.1).tolist() == [
        1000,
        40,
    ]


def test_every_class_keeps_a_row_and_bad_input_is_clear():
    assert target_counts(["x", "y"], [1000, 3], kind="long_tailed", ratio=0.001).min() >= 1
    with pytest.raises(LongtailError, match=r"\(0, 1\]"):
        target_counts(NAMES, COUNTS, kind="step", ratio=1.5)
    with pytest.raises(LongtailError, match="valid kinds"):
        target_counts(NAMES, COUNTS, kind="zipf", ratio=0.1)
    with pytest.raises(LongtailError, match="not a class"):
        target_counts(NAMES, COUNTS, kind="remove", ratio=0.1, minority="z")


def test_subsample_is_exact_and_deterministic():
    y = np.repeat(np.arange(3), [100, 50, 20])
    keep = np.array([10, 5, 20])
    rows = subsample(y, keep, seed=3)
    assert np.bincount(y[rows]).tolist() == [10, 5, 20]
    assert (rows == subsample(y, keep, seed=3)).all() and not (
        rows == subsample(y, keep, seed=4)
    ).all()

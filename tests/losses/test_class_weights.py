"""Weight schemes against the papers' formulas computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from longtail.errors import LongtailError
from longtail.losses import CLASS_WEIGHT_SCHEMES, POS_WEIGHT_SCHEMES, class_weights, pos_weights

COUNTS = np.array([5000.0, 600.0, 40.0, 3.0, 1.0])


def test_effective_number_matches_cui_et_al_by_hand() -> None:
    beta = 0.999
    # Cui et al. 2019, Eq. 2-3: E_n = (1 - beta^n) / (1 - beta); weight = 1 / E_n.
    by_hand = [(1 - beta) / (1 - beta**n) for n in COUNTS]
    got = class_weights(COUNTS, "effective_number", beta=beta, normalize=False)
    np.testing.assert_allclose(got, by_hand, rtol=1e-10)
    assert got[-1] == pytest.approx(1.0)  # one sample: effective number 1


def test_effective_number_is_exact_near_beta_one_and_for_huge_counts() -> None:
    counts = np.array([1e7, 1.0])
    got = class_weights(counts, "effective_number", beta=0.9999, normalize=False)
    np.testing.assert_allclose(got, [1e-4, 1.0], rtol=1e-9)  # E_n -> 1 / (1 - beta)


def test_effective_number_limits_are_none_and_inverse() -> None:
    none = class_weights(COUNTS, "effective_number", beta=0.0)
    np.testing.assert_allclose(none, np.ones(5))
    inverse = class_weights(COUNTS, "inverse")
    near_one = class_weights(COUNTS, "effective_number", beta=1 - 1e-9)
    np.testing.assert_allclose(near_one, inverse, rtol=1e-4)


@pytest.mark.parametrize(
    ("scheme", "raw"),
    [("none", np.ones(5)), ("inverse", 1 / COUNTS), ("sqrt_inverse", 1 / np.sqrt(COUNTS))],
)
def test_simple_schemes(scheme: str, raw: np.ndarray) -> None:
    np.testing.assert_allclose(class_weights(COUNTS, scheme, normalize=False), raw)


@pytest.mark.parametrize("scheme", CLASS_WEIGHT_SCHEMES)
def test_normalised_weights_have_document_weighted_mean_one(scheme: str) -> None:
    weights = class_weights(COUNTS, scheme)
    assert (COUNTS * weights).sum() / COUNTS.sum() == pytest.approx(1.0)
    raw = class_weights(COUNTS, scheme, normalize=False)
    np.testing.assert_allclose(weights / weights[0], raw / raw[0])


@pytest.mark.parametrize("scheme", CLASS_WEIGHT_SCHEMES)
def test_zero_counts_are_finite_and_weighted_like_one_document(scheme: str) -> None:
    counts = np.array([100.0, 0.0, 1.0])
    weights = class_weights(counts, scheme)
    assert np.all(np.isfinite(weights)) and np.all(weights > 0)
    assert weights[1] == pytest.approx(weights[2])
    assert np.all(np.isfinite(class_weights(np.zeros(3), scheme)))


def test_max_weight_clips_the_ratio() -> None:
    weights = class_weights(COUNTS, "inverse", max_weight=10.0)
    assert weights.max() / weights.min() == pytest.approx(10.0)
    np.testing.assert_allclose(weights[2:], weights[2])  # the three rarest hit the cap


def test_pos_weights_are_negative_to_positive_ratios() -> None:
    got = pos_weights([10, 50, 0, 100], num_docs=100, scheme="ratio")
    np.testing.assert_allclose(got, [9.0, 1.0, 100.0, 0.01])  # 0 -> 1 positive; all -> 1 negative
    np.testing.assert_allclose(pos_weights([10], 100, "sqrt_ratio"), [3.0])
    np.testing.assert_allclose(pos_weights([10], 100, "none"), [1.0])
    np.testing.assert_allclose(pos_weights([1, 10], 100, "ratio", max_weight=20.0), [20.0, 9.0])


def test_unknown_schemes_list_the_valid_ones() -> None:
    with pytest.raises(LongtailError) as info:
        class_weights(COUNTS, "balanced")
    assert all(scheme in str(info.value) for scheme in CLASS_WEIGHT_SCHEMES)
    with pytest.raises(LongtailError) as info:
        pos_weights(COUNTS, 10_000, "inverse")
    assert all(scheme in str(info.value) for scheme in POS_WEIGHT_SCHEMES)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"counts": [-1.0, 2.0]},
        {"counts": [[1.0, 2.0]]},
        {"counts": [np.nan, 1.0]},
        {"counts": [1.0, 2.0], "beta": 1.0},
        {"counts": [1.0, 2.0], "max_weight": 0.5},
    ],
)
def test_bad_inputs_are_longtail_errors(kwargs: dict) -> None:
    with pytest.raises(LongtailError):
        class_weights(**{"scheme": "effective_number", **kwargs})


def test_pos_weights_rejects_more_positives_than_documents() -> None:
    with pytest.raises(LongtailError, match="num_docs"):
        pos_weights([5, 20], num_docs=10, scheme="ratio")


def test_weights_by_label_name_become_one_per_class_in_label_order():
    from longtail.losses.base import with_named_weights

    spec = {"name": "ce", "weights": {"spam": 5, "ham": 1.5}}
    assert with_named_weights(spec, ["ham", "spam"]) == {"name": "ce", "weights": [1.5, 5.0]}
    assert with_named_weights({"name": "ce", "weights": {"c": 3}}, ["a", "b", "c"])["weights"] == [
        1.0, 1.0, 3.0,
    ]  # fmt: skip
    for untouched in ("ce", None, {"name": "ce", "weights": "inverse"}, {"name": "ce"}):
        assert with_named_weights(untouched, ["a"]) == untouched


def test_a_weight_for_a_name_that_is_not_a_label_is_one_line():
    import pytest

    from longtail.errors import LongtailError
    from longtail.losses.base import with_named_weights

    with pytest.raises(
        LongtailError, match=r"names 'spamm', which is not a label; the labels are: ham, spam"
    ):
        with_named_weights({"name": "ce", "weights": {"spamm": 5}}, ["ham", "spam"])
    with pytest.raises(LongtailError, match=r"loss.weights\['spam'\] must be a number"):
        with_named_weights({"name": "ce", "weights": {"spam": "high"}}, ["ham", "spam"])

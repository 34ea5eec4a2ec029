"""Comparison statistics against scipy, brute-force enumeration and hand-computed examples."""

from __future__ import annotations

import itertools
import json
import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from longtail.errors import LongtailError
from longtail.experiments import (
    MeanSem,
    PairedComparison,
    holm_bonferroni,
    mean_sem,
    paired_comparison,
)

TESTS = ["t", "bootstrap", "permutation"]


def _cells(values) -> dict[str, float]:
    """Cell ids of a 5-fold × n-seed grid, in grid order."""
    return {f"fold{i % 5}-seed{i // 5}": float(v) for i, v in enumerate(values)}


def _compare(variant, baseline, **kwargs) -> PairedComparison:
    return paired_comparison(
        variant, baseline, variant="focal", baseline="ce", metric="macro_f1", **kwargs
    )


def _shifted_pair(shift: float, noise: float, n: int = 15, seed: int = 0):
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.6, 0.8, size=n)
    return _cells(base + shift + rng.normal(0, noise, size=n)), _cells(base)


# --- mean_sem -------------------------------------------------------------------------------------


def test_mean_sem_matches_numpy_and_scipy():
    values = np.random.default_rng(1).normal(0.8, 0.02, size=12)
    result = mean_sem(list(values))
    assert result.n == 12
    assert result.mean == pytest.approx(np.mean(values), abs=1e-15)
    assert result.sem == pytest.approx(stats.sem(values), rel=1e-12)
    assert result.sem == pytest.approx(np.std(values, ddof=1) / np.sqrt(12), rel=1e-12)


def test_mean_sem_drops_nan_and_handles_tiny_inputs():
    values = [0.5, math.nan, 0.7, 0.9]
    result = mean_sem(values)
    assert result.n == 3
    assert result.sem == pytest.approx(stats.sem([0.5, 0.7, 0.9]))
    single = mean_sem([math.nan, 0.8123])
    assert (single.mean, single.n) == (0.8123, 1) and math.isnan(single.sem)
    empty = mean_sem([])
    assert empty.n == 0 and math.isnan(empty.mean) and math.isnan(empty.sem)
    assert mean_sem([math.nan]).n == 0


def test_mean_sem_format():
    assert MeanSem(0.81234, 0.00417, 5).format() == "0.812 ± 0.004"
    assert MeanSem(0.81234, 0.00417, 5).format(digits=2) == "0.81 ± 0.00"
    assert mean_sem([0.8123]).format() == "0.812 (n=1)"
    assert mean_sem([]).format() == "n/a (n=0)"
    assert mean_sem([0.8, 0.9]).to_json() == pytest.approx({"mean": 0.85, "sem": 0.05, "n": 2})
    assert mean_sem([]).to_json() == {"mean": None, "sem": None, "n": 0}


def test_mean_sem_rejects_non_numbers():
    with pytest.raises(LongtailError, match="numbers"):
        mean_sem(["a", "b"])


# --- paired t-test --------------------------------------------------------------------------------


def test_t_test_matches_scipy_ttest_rel():
    variant, baseline = _shifted_pair(0.01, 0.02)
    a, b = np.array(list(variant.values())), np.array(list(baseline.values()))
    reference = stats.ttest_rel(a, b)
    interval = reference.confidence_interval(0.95)
    result = _compare(variant, baseline, test="t")
    assert result.test == "paired t-test"
    assert result.n_pairs == 15
    assert result.mean_difference == pytest.approx(np.mean(a - b), abs=1e-15)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-12)
    assert result.ci_low == pytest.approx(interval.low, rel=1e-10)
    assert result.ci_high == pytest.approx(interval.high, rel=1e-10)
    assert result.note == ""


# --- corrected resampled t-test (Nadeau & Bengio 2003) -------------------------------------------


def test_corrected_t_follows_nadeau_bengio_by_hand():
    variant, baseline = _shifted_pair(0.01, 0.02)  # 15 cells: 5 folds x 3 seeds
    d = np.array(list(variant.values())) - np.array(list(baseline.values()))
    ratio = 1 / 4  # 5 folds: each cell tests on 1/5 and trains on 4/5
    se = math.sqrt((1 / 15 + ratio) * np.var(d, ddof=1))
    t = np.mean(d) / se
    result = _compare(variant, baseline, test="corrected_t", test_train_ratio=ratio)
    assert result.test == "corrected resampled t-test"
    assert result.p_value == pytest.approx(2 * stats.t.sf(abs(t), 14), rel=1e-12)
    half = stats.t.ppf(0.975, 14) * se
    assert result.ci_low == pytest.approx(np.mean(d) - half, rel=1e-10)
    assert result.ci_high == pytest.approx(np.mean(d) + half, rel=1e-10)


def test_corrected_t_is_never_more_confident_than_the_plain_t():
    for seed in range(20):
        variant, baseline = _shifted_pair(0.005, 0.01, n=25, seed=seed)
        plain = _compare(variant, baseline, test="t")
        corrected = _compare(variant, baseline, test="corrected_t", test_train_ratio=0.25)
        assert corrected.p_value >= plain.p_value
        assert corrected.ci_high - corrected.ci_low > plain.ci_high - plain.ci_low
    # The plain t-test's p-value shrinks towards 0 as seeds are added; the corrected one levels
    # off, because repeating the same folds does not add independent test data.
    many_v, many_b = _shifted_pair(0.004, 0.01, n=500, seed=3)
    assert _compare(many_v, many_b, test="t").p_value < 1e-10
    assert _compare(many_v, many_b, test="corrected_t", test_train_ratio=0.25).p_value > 1e-3


@pytest.mark.parametrize("ratio", [None, 0.0, -1.0, math.nan])
def test_corrected_t_needs_a_positive_test_train_ratio(ratio):
    variant, baseline = _shifted_pair(0.01, 0.02)
    with pytest.raises(LongtailError, match="test_train_ratio"):
        _compare(variant, baseline, test="corrected_t", test_train_ratio=ratio)


# --- paired bootstrap -----------------------------------------------------------------------------


def test_bootstrap_detects_a_consistent_shift():
    variant, baseline = _shifted_pair(0.05, 0.01)
    result = _compare(variant, baseline, test="bootstrap")
    assert result.test == "paired bootstrap"
    assert result.p_value < 0.01
    assert 0 < result.ci_low < result.mean_difference < result.ci_high
    assert result.mean_difference == pytest.approx(0.05, abs=0.01)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_bootstrap_is_not_significant_for_symmetric_noise(seed):
    rng = np.random.default_rng(100 + seed)
    noise = rng.normal(0, 0.02, size=15)
    differences = np.concatenate([noise[:7], -noise[:7], [0.0]])  # mean exactly 0, symmetric
    variant, baseline = _cells(0.7 + differences), _cells(np.full(15, 0.7))
    result = _compare(variant, baseline, test="bootstrap", seed=seed)
    assert result.p_value > 0.2
    assert result.ci_low < 0 < result.ci_high


def test_bootstrap_p_value_agrees_with_t_test_in_a_middle_case():
    variant, baseline = _shifted_pair(0.01, 0.03, n=40, seed=5)
    boot = _compare(variant, baseline, test="bootstrap", n_resamples=20_000)
    t = _compare(variant, baseline, test="t")
    assert 0.001 < t.p_value < 0.5
    assert boot.p_value == pytest.approx(t.p_value, abs=0.05)


# --- sign-flip permutation ------------------------------------------------------------------------


def _brute_force_sign_flip(differences) -> float:
    exact = [Fraction(str(x)) for x in differences]  # exact decimals: ties stay ties
    observed = abs(sum(exact))
    hits = sum(
        abs(sum(s * x for s, x in zip(signs, exact, strict=True))) >= observed
        for signs in itertools.product([1, -1], repeat=len(exact))
    )
    return hits / 2 ** len(exact)


@pytest.mark.parametrize(
    "differences",
    [
        [0.031, -0.012, 0.024, 0.008, 0.017, -0.004],
        [0.01, 0.02, 0.03, -0.01, 0.02, 0.05],  # many exact ties among the sign patterns
        [0.02] * 6,  # identical differences: p = 2 / 64
    ],
)
def test_exact_permutation_matches_brute_force(differences):
    baseline = [0.5, 0.61, 0.72, 0.43, 0.55, 0.66]
    variant = [b + d for b, d in zip(baseline, differences, strict=True)]
    expected = _brute_force_sign_flip(differences)
    result = _compare(_cells(variant), _cells(baseline), test="permutation")
    assert result.test == "sign-flip permutation (exact)"
    assert result.p_value == pytest.approx(expected, abs=1e-15)


def test_permutation_falls_back_to_monte_carlo():
    variant, baseline = _shifted_pair(0.0, 0.02, n=20)
    result = _compare(variant, baseline, test="permutation", n_resamples=5000)
    assert result.test == "sign-flip permutation (Monte Carlo)"
    t = _compare(variant, baseline, test="t")
    assert result.p_value == pytest.approx(t.p_value, abs=0.05)
    assert (result.ci_low, result.ci_high) == pytest.approx((t.ci_low, t.ci_high))


# --- pairing, degenerate inputs, errors -----------------------------------------------------------


@pytest.mark.parametrize("test", TESTS)
def test_pairing_is_by_key(test):
    variant, baseline = _shifted_pair(0.02, 0.02, n=10)
    expected = _compare(variant, baseline, test=test, n_resamples=2000)
    shuffled = dict(reversed(list(variant.items())))
    shuffled["fold9-seed9"] = 0.1  # only in the variant
    extra_baseline = {**baseline, "fold8-seed8": 0.9, "fold0-seed0": baseline["fold0-seed0"]}
    extra_baseline["fold7-seed7"] = 0.3
    shuffled["fold7-seed7"] = math.nan  # in both, but not finite in one
    result = _compare(shuffled, extra_baseline, test=test, n_resamples=2000)
    assert result.n_pairs == 10
    assert result.p_value == expected.p_value
    assert (result.mean_difference, result.ci_low, result.ci_high) == pytest.approx(
        (expected.mean_difference, expected.ci_low, expected.ci_high), abs=1e-15
    )
    assert "3 cell(s) without a finite value in both left out" in result.note


@pytest.mark.parametrize("test", TESTS)
@pytest.mark.parametrize("n", [0, 1])
def test_fewer_than_two_pairs(test, n):
    variant = {"fold0-seed0": 0.8, "fold1-seed0": 0.7}
    baseline = {"fold0-seed0": 0.75} if n else {"other": 0.7}
    result = _compare(variant, baseline, test=test)
    assert result.n_pairs == n
    assert math.isnan(result.p_value) and math.isnan(result.ci_low) and math.isnan(result.ci_high)
    assert f"{n} paired cell(s): at least 2 are needed" in result.note
    if n:
        assert result.mean_difference == pytest.approx(0.05)
    json.dumps(result.to_json(), allow_nan=False)


_BASELINE = [0.75, 0.85, 0.65, 0.8, 0.9, 0.7]


@pytest.mark.parametrize("test", TESTS)
@pytest.mark.parametrize(
    ("variant", "shift"),
    [
        (_BASELINE, 0.0),  # exactly equal
        ([(b + 0.3) - 0.3 for b in _BASELINE], 0.0),  # equal up to float rounding
        ([0.8, 0.9, 0.7, 0.85, 0.95, 0.75], 0.05),  # +0.05 up to float rounding
    ],
)
def test_zero_variance_never_leaks_nan_or_warnings(test, variant, shift):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = _compare(_cells(variant), _cells(_BASELINE), test=test)
    assert "zero variance" in result.note
    assert result.ci_low == result.ci_high == result.mean_difference
    assert result.mean_difference == pytest.approx(shift, abs=1e-12)
    if shift == 0:
        assert result.p_value == 1.0
    elif test == "t":
        assert result.p_value == 0.0 and "p set to 0.0" in result.note
    elif test == "bootstrap":
        assert result.p_value == pytest.approx(1 / 10_001)
    else:
        assert result.p_value == pytest.approx(2 / 64)


def test_unknown_test_lists_the_valid_ones():
    with pytest.raises(LongtailError, match="t, corrected_t, bootstrap, permutation"):
        _compare({"a": 1.0}, {"a": 1.0}, test="wilcoxon")


def test_bad_inputs_raise_longtail_errors():
    with pytest.raises(LongtailError, match="n_resamples"):
        _compare({"a": 1.0}, {"a": 1.0}, n_resamples=0)
    with pytest.raises(LongtailError, match="numbers"):
        _compare({"a": "high"}, {"a": 1.0})
    with pytest.raises(LongtailError, match="map cell ids"):
        _compare([0.1, 0.2], {"a": 1.0})


@pytest.mark.parametrize("test", ["bootstrap", "permutation"])
def test_seeded_tests_are_deterministic(test):
    variant, baseline = _shifted_pair(0.005, 0.02, n=20)
    first = _compare(variant, baseline, test=test, seed=7, n_resamples=3000)
    again = _compare(variant, baseline, test=test, seed=7, n_resamples=3000)
    other = _compare(variant, baseline, test=test, seed=8, n_resamples=3000)
    assert first == again
    assert first.p_value != other.p_value


def test_to_json_is_plain_json():
    variant, baseline = _shifted_pair(0.02, 0.02)
    payload = _compare(variant, baseline, test="bootstrap").to_json()
    assert set(payload) == {
        "variant",
        "baseline",
        "metric",
        "mean_difference",
        "ci_low",
        "ci_high",
        "p_value",
        "test",
        "n_pairs",
        "note",
    }
    assert payload["variant"] == "focal" and payload["n_pairs"] == 15
    json.dumps(payload, allow_nan=False)


# --- Holm -----------------------------------------------------------------------------------------


def test_holm_bonferroni_hand_computed():
    raw = {"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.005, "e": math.nan}
    adjusted = holm_bonferroni(raw)
    # m = 4 finite: sorted d .005, a .01, c .03, b .04 -> 4*.005, 3*.01, 2*.03, max(.06, 1*.04)
    assert list(adjusted) == ["a", "b", "c", "d", "e"]
    assert adjusted["d"] == pytest.approx(0.02)
    assert adjusted["a"] == pytest.approx(0.03)
    assert adjusted["c"] == pytest.approx(0.06)
    assert adjusted["b"] == pytest.approx(0.06)
    assert math.isnan(adjusted["e"])


def test_holm_bonferroni_caps_at_one_and_handles_ties_and_edges():
    assert holm_bonferroni({"a": 0.4, "b": 0.4, "c": 0.9}) == {"a": 1.0, "b": 1.0, "c": 1.0}
    assert holm_bonferroni({"a": 0.01, "b": 0.01}) == pytest.approx({"a": 0.02, "b": 0.02})
    assert holm_bonferroni({}) == {}
    assert holm_bonferroni({"only": 0.03}) == {"only": 0.03}
    with pytest.raises(LongtailError, match=r"\[0, 1\]"):
        holm_bonferroni({"a": 1.5})

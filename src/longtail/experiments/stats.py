"""Statistics for ``longtail compare``: mean ± SEM per variant, paired tests against a baseline.

A comparison grid runs every variant over the same (fold, seed) cells, so a variant and the baseline
are compared *pairwise* on the cells they share: the per-cell difference ``variant - baseline``
removes the fold and seed effects that both runs see. Four tests are offered on those differences:

* ``"t"``: the paired t-test (``scipy.stats.ttest_rel``) with a t-distribution interval.
* ``"corrected_t"``: the corrected resampled t-test for k-fold × seeds (Nadeau & Bengio, 2003;
  Bouckaert & Frank, 2004). Folds share training rows, so the cells are positively correlated and
  the plain t-test's variance ``s²/n`` is too small; the correction uses
  ``(1/n + n_test/n_train) s²`` (``n_test/n_train = 1/(k-1)`` for k folds). Its p-values are
  never smaller than the plain t-test's, and with many cells they do not shrink towards 0 as
  more seeds are added: the default of ``longtail compare`` whenever it cross-validates.
* ``"bootstrap"``: the paired bootstrap (Efron & Tibshirani, 1993; Koehn, 2004): pairs are
  resampled with replacement, the interval is the percentile interval of the resampled mean
  differences, and the two-sided p-value is the share of resampled means, *shifted to the null*,
  that lie at least as far from 0 as the observed mean. Slightly liberal below ~20 pairs (the
  percentile bootstrap does not know the sample is small); prefer ``"t"`` or ``"permutation"`` there.
* ``"permutation"``: the sign-flip permutation test (Fisher, 1935): under the null each difference
  is as likely to be positive as negative. Exact when all ``2**n`` sign patterns fit in
  ``n_resamples``, Monte Carlo otherwise. Its interval is the t interval (a test, not an estimator).

Caveat: cross-validation folds share training data, so the cells are not independent and every
test here except ``corrected_t`` is somewhat optimistic (Nadeau & Bengio, 2003, "Inference for the
generalization error", Machine Learning 52). On a fixed train/test split the cells differ only by
seed: the tests then say whether the difference holds across training randomness *on that test
set*, not across data.

References:
    Efron, B. & Tibshirani, R. (1993). An Introduction to the Bootstrap, §16.4. Chapman & Hall.
    Koehn, P. (2004). Statistical significance tests for machine translation evaluation. EMNLP.
    Davison, A. C. & Hinkley, D. V. (1997). Bootstrap Methods and their Application, ch. 4.
    Fisher, R. A. (1935). The Design of Experiments. Oliver & Boyd.
    Phipson, B. & Smyth, G. K. (2010). Permutation p-values should never be zero. SAGMB 9(1).
    Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scand. J. Stat. 6(2).
    Bouckaert, R. R. & Frank, E. (2004). Evaluating the replicability of significance tests for
        comparing learning algorithms. PAKDD, LNCS 3056.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

from longtail.errors import LongtailError
from longtail.evaluation.metrics import to_jsonable

CONFIDENCE = 0.95
# Differences (and resampled statistics) closer than this, relative to the size of the values, are
# treated as equal: float rounding must not turn "identical" into "tiny variance" or break ties.
_RELATIVE_TOLERANCE = 1e-12
_BLOCK_NUMBERS = 1 << 18  # resampling runs in blocks of about this many numbers (memory)


@dataclass(frozen=True)
class MeanSem:
    """A mean with its standard error over ``n`` values (seeds × folds of one variant)."""

    mean: float
    sem: float
    n: int

    def format(self, digits: int = 3) -> str:
        """``"0.812 ± 0.004"``; ``"0.812 (n=1)"`` when there is no spread; ``"n/a (n=0)"`` if empty."""
        if self.n == 0 or math.isnan(self.mean):
            return f"n/a (n={self.n})"
        if self.n == 1:
            return f"{self.mean:.{digits}f} (n=1)"
        return f"{self.mean:.{digits}f} ± {self.sem:.{digits}f}"

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values; NaN becomes ``None``."""
        return to_jsonable(asdict(self))


def mean_sem(values: Sequence[float]) -> MeanSem:
    """Mean and standard error of the mean, ignoring NaN values.

    Args:
        values: one metric value per cell; NaN entries (failed or undefined runs) are dropped.

    Returns:
        :class:`MeanSem` with ``sem = std(ddof=1) / sqrt(n)`` over the remaining ``n`` values
        (``sem`` is NaN for ``n == 1``; ``mean`` and ``sem`` are NaN for ``n == 0``).
    """
    x = _as_floats(values, "mean_sem")
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        return MeanSem(math.nan, math.nan, 0)
    sem = float(np.std(x, ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return MeanSem(float(np.mean(x)), sem, n)


@dataclass(frozen=True)
class PairedComparison:
    """A variant against the baseline over their shared cells (see the module docstring)."""

    variant: str
    baseline: str
    metric: str
    mean_difference: float  # variant - baseline, averaged over the paired cells
    ci_low: float  # 95 % interval of the mean difference
    ci_high: float
    p_value: float  # two-sided
    test: str
    n_pairs: int
    note: str = ""  # one line: why a result is degenerate, or which cells were left out

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values; NaN becomes ``None``."""
        return to_jsonable(asdict(self))


def paired_comparison(
    variant_values: Mapping[str, float],
    baseline_values: Mapping[str, float],
    *,
    variant: str,
    baseline: str,
    metric: str,
    test: str = "t",
    n_resamples: int = 10_000,
    seed: int = 0,
    test_train_ratio: float | None = None,
) -> PairedComparison:
    """Compare a variant with the baseline on the cells both have a finite value for.

    Args:
        variant_values: metric value per cell id (e.g. ``"fold0-seed1"``) for the variant.
        baseline_values: the same for the baseline; cells missing or non-finite in either mapping
            are left out, and the order of the keys does not matter.
        variant: the variant's name (recorded in the result).
        baseline: the baseline's name (recorded in the result).
        metric: the metric's name (recorded in the result).
        test: ``"t"``, ``"corrected_t"``, ``"bootstrap"`` or ``"permutation"``.
        n_resamples: bootstrap resamples, or the Monte Carlo / exact-enumeration budget of the
            permutation test (exact when ``2**n_pairs <= n_resamples``).
        seed: seed of the NumPy generator used by the bootstrap and Monte Carlo permutation.
        test_train_ratio: ``n_test / n_train`` of one cell, needed by ``"corrected_t"``
            (``1 / (k - 1)`` for k-fold cross-validation).

    Returns:
        :class:`PairedComparison`. With fewer than 2 pairs the p-value and interval are NaN and
        ``note`` says why; when every difference is the same the t-test is undefined and its
        p-value is set to 1.0 (difference 0) or 0.0 (any other difference), again with a note.

    Raises:
        LongtailError: unknown ``test``, ``n_resamples < 1``, non-numeric values, or
            ``"corrected_t"`` without a positive ``test_train_ratio``.
    """
    if test not in _TESTS:
        raise LongtailError(f"unknown test {test!r}; valid tests: {', '.join(_TESTS)}")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise LongtailError(f"n_resamples must be an integer >= 1, got {n_resamples!r}")
    a = _finite_cells(variant_values, f"values of variant {variant!r}")
    b = _finite_cells(baseline_values, f"values of baseline {baseline!r}")
    cells = sorted(a.keys() & b.keys(), key=str)  # sorted: resampling must not depend on key order
    unpaired = len(a.keys() | b.keys()) - len(cells)
    va = np.array([a[c] for c in cells], dtype=np.float64)
    vb = np.array([b[c] for c in cells], dtype=np.float64)
    d = va - vb
    label, run = _TESTS[test]
    if test == "corrected_t":
        if test_train_ratio is None or not math.isfinite(test_train_ratio) or test_train_ratio <= 0:
            raise LongtailError(
                "the corrected resampled t-test needs test_train_ratio = n_test / n_train > 0 "
                f"(1 / (k - 1) for k folds), got {test_train_ratio!r}"
            )
        run = partial(_corrected_t, test_train_ratio=float(test_train_ratio))
    notes: list[str] = []
    if d.size < 2:
        notes.append(f"{d.size} paired cell(s): at least 2 are needed for a test")
        mean = float(d[0]) if d.size else math.nan
        outcome = _Outcome(math.nan, math.nan, math.nan)
    else:
        scale = float(max(np.max(np.abs(va)), np.max(np.abs(vb))))
        tolerance = _RELATIVE_TOLERANCE * scale
        if float(np.ptp(d)) <= tolerance:  # identical differences: snap away the rounding noise
            constant = float(np.mean(d))
            d = np.full(d.size, 0.0 if abs(constant) <= tolerance else constant)
            notes.append("all paired differences are identical (zero variance)")
        mean = float(np.mean(d))
        outcome = run(va, vb, d, n_resamples, np.random.default_rng(seed), tolerance)
    notes.append(outcome.note)
    if unpaired:
        notes.append(f"{unpaired} cell(s) without a finite value in both left out")
    return PairedComparison(
        variant=variant,
        baseline=baseline,
        metric=metric,
        mean_difference=mean,
        ci_low=outcome.ci_low,
        ci_high=outcome.ci_high,
        p_value=outcome.p_value,
        test=outcome.label or label,
        n_pairs=int(d.size),
        note="; ".join(note for note in notes if note),
    )


def holm_bonferroni(p_values: Mapping[str, float]) -> dict[str, float]:
    """Holm's step-down adjusted p-values (Holm, 1979), for many variants against one baseline.

    With the ``m`` finite p-values sorted ascending, ``p_adj(i) = max_{j <= i} min(1, (m-j+1) p(j))``;
    rejecting ``p_adj <= alpha`` controls the family-wise error rate at ``alpha``. NaN p-values (too
    few pairs) pass through unchanged and do not count towards ``m``.

    Args:
        p_values: raw p-value per name (e.g. per variant).

    Returns:
        Adjusted p-value per name, in the input order.

    Raises:
        LongtailError: a p-value outside ``[0, 1]``.
    """
    names = list(p_values)
    p = _as_floats([p_values[k] for k in names], "holm_bonferroni")
    if np.any((p < 0) | (p > 1)):
        raise LongtailError("holm_bonferroni expects p-values in [0, 1] (or NaN)")
    adjusted = p.copy()
    finite = np.flatnonzero(~np.isnan(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = order.size
    steps = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted[order] = np.maximum.accumulate(steps)
    return {name: float(value) for name, value in zip(names, adjusted, strict=True)}


# --- the tests, on the differences d = variant - baseline (n >= 2) -----------------------------


@dataclass(frozen=True)
class _Outcome:
    p_value: float
    ci_low: float
    ci_high: float
    note: str = ""
    label: str = ""  # overrides the test's label (exact vs Monte Carlo permutation)


def _t_test(va: np.ndarray, vb: np.ndarray, d: np.ndarray, *_: Any) -> _Outcome:
    mean = float(np.mean(d))
    if np.ptp(d) == 0:  # (snapped by the caller) ttest_rel would divide 0 by 0
        p = 1.0 if mean == 0 else 0.0
        return _Outcome(p, mean, mean, f"t-test undefined, p set to {p:.1f}")
    p = float(scipy_stats.ttest_rel(va, vb).pvalue)
    half = _t_half_width(d)
    return _Outcome(p, mean - half, mean + half)


def _corrected_t(
    va: np.ndarray, vb: np.ndarray, d: np.ndarray, *_: Any, test_train_ratio: float
) -> _Outcome:
    """Nadeau & Bengio's corrected resampled t: variance ``(1/n + n_test/n_train) s²``, df n-1."""
    mean = float(np.mean(d))
    if np.ptp(d) == 0:
        p = 1.0 if mean == 0 else 0.0
        return _Outcome(p, mean, mean, f"t-test undefined, p set to {p:.1f}")
    n = d.size
    se = math.sqrt((1.0 / n + test_train_ratio) * float(np.var(d, ddof=1)))
    p = float(2.0 * scipy_stats.t.sf(abs(mean) / se, n - 1))
    half = float(scipy_stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * se
    return _Outcome(min(1.0, p), mean - half, mean + half)


def _bootstrap(
    va: np.ndarray,
    vb: np.ndarray,
    d: np.ndarray,
    n_resamples: int,
    rng: np.random.Generator,
    tolerance: float,
) -> _Outcome:
    n = d.size
    means = np.concatenate(
        [
            d[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
            for start, stop in _blocks(n_resamples, n)
        ]
    )
    observed = float(np.mean(d))
    # Shift to the null (Efron & Tibshirani 1993, §16.4): the bootstrap means minus the observed
    # mean mimic the sampling distribution of the mean *if the true difference were 0*. The p-value
    # is the share at least as far from 0 as the observed mean, with the +1 correction of Davison &
    # Hinkley (1997, ch. 4) so that it is never 0.
    extreme = int(np.count_nonzero(np.abs(means - observed) >= abs(observed) - tolerance))
    p = (extreme + 1) / (n_resamples + 1)
    alpha = 1.0 - CONFIDENCE
    low, high = np.quantile(means, [alpha / 2, 1.0 - alpha / 2])
    return _Outcome(min(1.0, p), float(low), float(high))


def _sign_flip(
    va: np.ndarray,
    vb: np.ndarray,
    d: np.ndarray,
    n_resamples: int,
    rng: np.random.Generator,
    tolerance: float,
) -> _Outcome:
    n = d.size
    observed = abs(float(np.mean(d)))
    exact = n < 63 and (1 << n) <= n_resamples
    extreme = 0
    if exact:
        powers = np.arange(n, dtype=np.int64)
        for start, stop in _blocks(1 << n, n):
            index = np.arange(start, stop, dtype=np.int64)
            signs = 1.0 - 2.0 * ((index[:, None] >> powers) & 1)
            extreme += int(np.count_nonzero(np.abs(signs @ d) / n >= observed - tolerance))
        p = extreme / (1 << n)  # the identity pattern is among them, so p >= 2 / 2**n
        label = "sign-flip permutation (exact)"
    else:
        for start, stop in _blocks(n_resamples, n):
            signs = 1.0 - 2.0 * rng.integers(0, 2, size=(stop - start, n))
            extreme += int(np.count_nonzero(np.abs(signs @ d) / n >= observed - tolerance))
        p = (extreme + 1) / (n_resamples + 1)  # Phipson & Smyth (2010)
        label = "sign-flip permutation (Monte Carlo)"
    mean = float(np.mean(d))
    half = _t_half_width(d)
    return _Outcome(min(1.0, p), mean - half, mean + half, label=label)


_TESTS: dict[str, tuple[str, Callable[..., _Outcome]]] = {
    "t": ("paired t-test", _t_test),
    "corrected_t": ("corrected resampled t-test", _corrected_t),
    "bootstrap": ("paired bootstrap", _bootstrap),
    "permutation": ("sign-flip permutation", _sign_flip),
}


def _t_half_width(d: np.ndarray) -> float:
    """Half width of the t interval of the mean of ``d`` at :data:`CONFIDENCE`."""
    sem = float(np.std(d, ddof=1)) / math.sqrt(d.size)
    return float(scipy_stats.t.ppf(0.5 + CONFIDENCE / 2, d.size - 1)) * sem


def _blocks(total: int, width: int) -> list[tuple[int, int]]:
    """``(start, stop)`` row ranges covering ``total`` rows of ``width`` numbers, in bounded blocks."""
    rows = max(1, _BLOCK_NUMBERS // max(width, 1))
    return [(start, min(start + rows, total)) for start in range(0, total, rows)]


def _finite_cells(values: Mapping[str, float], what: str) -> dict[str, float]:
    if not isinstance(values, Mapping):
        raise LongtailError(f"{what} must map cell ids to numbers, got {type(values).__name__}")
    numbers = _as_floats(list(values.values()), what)
    return {key: float(x) for key, x in zip(values, numbers, strict=True) if math.isfinite(x)}


def _as_floats(values: Any, what: str) -> np.ndarray:
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise LongtailError(f"{what} must be numbers: {error}") from None
    if x.ndim != 1:
        raise LongtailError(f"{what} must be a flat sequence of numbers, got shape {x.shape}")
    return x

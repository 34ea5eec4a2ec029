"""Per-class and per-label weights for imbalanced training: pure NumPy, no torch.

Two families:

* :func:`class_weights` weights a whole class (single-label) or a whole label column
  (multilabel) from its document count: ``none``, ``inverse`` (``1/n``), ``sqrt_inverse``
  (``1/sqrt(n)``) and ``effective_number`` (Cui et al., 2019, arXiv 1901.05555).
* :func:`pos_weights` weights only the *positive* term of a binary cross-entropy per label, from
  the ratio of negative to positive documents (``ratio``) or its square root (``sqrt_ratio``).

Classes with a zero count are treated as if they had one document: they get the largest weight
the scheme can give, which is finite, and they add nothing to the normalisation (their document
weight is zero). A class never seen in training then cannot produce ``inf`` or ``nan``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from longtail.errors import LongtailError

ArrayLike = np.ndarray | list[float] | tuple[float, ...]


def _effective_number(counts: np.ndarray, beta: float) -> np.ndarray:
    # (1 - beta) / (1 - beta**n); expm1/log1p keep it exact for beta close to 1 and large n.
    if beta == 0.0:
        return np.ones_like(counts)
    return -np.expm1(np.log(beta)) / -np.expm1(counts * np.log(beta))


_CLASS_SCHEMES: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "none": lambda counts, beta: np.ones_like(counts),
    "inverse": lambda counts, beta: 1.0 / counts,
    "sqrt_inverse": lambda counts, beta: 1.0 / np.sqrt(counts),
    "effective_number": _effective_number,
}

_POS_SCHEMES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": lambda ratio: np.ones_like(ratio),
    "ratio": lambda ratio: ratio,
    "sqrt_ratio": np.sqrt,
}

CLASS_WEIGHT_SCHEMES: tuple[str, ...] = tuple(_CLASS_SCHEMES)
POS_WEIGHT_SCHEMES: tuple[str, ...] = tuple(_POS_SCHEMES)


def _as_counts(counts: ArrayLike, what: str) -> np.ndarray:
    array = np.asarray(counts, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise LongtailError(f"{what} must be a non-empty 1-D array, got shape {array.shape}")
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise LongtailError(f"{what} must be finite and non-negative, got {array.tolist()[:10]}")
    return array


def _scheme(table: Mapping[str, object], scheme: str, what: str) -> None:
    if scheme not in table:
        raise LongtailError(f"unknown {what} scheme {scheme!r}; valid schemes: {', '.join(table)}")


def _check_max_weight(max_weight: float | None) -> None:
    if max_weight is not None and not max_weight >= 1.0:
        raise LongtailError(f"max_weight must be >= 1 (a ratio max/min), got {max_weight}")


def class_weights(
    counts: ArrayLike,
    scheme: str = "none",
    beta: float = 0.999,
    normalize: bool = True,
    max_weight: float | None = None,
) -> np.ndarray:
    """Per-class weights from per-class document counts.

    Args:
        counts: Document count per class, shape ``(C,)``; zeros are treated as one document.
        scheme: ``"none"``, ``"inverse"``, ``"sqrt_inverse"`` or ``"effective_number"``.
        beta: The β of the effective number of samples, in ``[0, 1)``.
        normalize: Rescale so that the document-weighted mean weight
            ``sum(n_c * w_c) / sum(n_c)`` is 1, so the expected loss scale is unchanged.
        max_weight: Clip so that ``max(w) / min(w) <= max_weight`` (applied before normalising).

    Returns:
        A float64 array of shape ``(C,)``, finite and positive.

    References:
        Cui et al., 2019. Class-Balanced Loss Based on Effective Number of Samples.
        arXiv 1901.05555. The weight of class ``c`` is ``(1 - β) / (1 - β^{n_c})``.

    Example:
        >>> class_weights([100, 10, 1], "inverse", normalize=False).tolist()
        [0.01, 0.1, 1.0]
    """
    array = _as_counts(counts, "class counts")
    _scheme(_CLASS_SCHEMES, scheme, "class weight")
    _check_max_weight(max_weight)
    if not 0.0 <= beta < 1.0:
        raise LongtailError(f"beta must be in [0, 1), got {beta}")
    weights = _CLASS_SCHEMES[scheme](np.maximum(array, 1.0), beta)
    if max_weight is not None:
        weights = np.minimum(weights, weights.min() * max_weight)
    if normalize:
        total = array.sum()
        mean = (array * weights).sum() / total if total > 0 else weights.mean()
        weights = weights / mean
    return weights


def pos_weights(
    pos_counts: ArrayLike,
    num_docs: int,
    scheme: str = "none",
    max_weight: float | None = None,
) -> np.ndarray:
    """Per-label weights of the positive term of a binary cross-entropy.

    ``ratio`` is ``negatives / positives`` per label, which balances the two terms of each label;
    both counts are floored at one so a label that is never (or always) positive stays finite and
    non-zero.

    Args:
        pos_counts: Positive documents per label, shape ``(C,)``.
        num_docs: Number of training documents.
        scheme: ``"none"``, ``"ratio"`` or ``"sqrt_ratio"``.
        max_weight: Upper bound on every positive weight (these are absolute, not normalised).

    Returns:
        A float64 array of shape ``(C,)``.

    Example:
        >>> pos_weights([10, 50], num_docs=100, scheme="ratio").tolist()
        [9.0, 1.0]
    """
    array = _as_counts(pos_counts, "positive counts")
    _scheme(_POS_SCHEMES, scheme, "positive weight")
    _check_max_weight(max_weight)
    if num_docs < array.max():
        raise LongtailError(f"num_docs={num_docs} is smaller than a positive count {array.max()}")
    ratio = np.maximum(num_docs - array, 1.0) / np.maximum(array, 1.0)
    weights = _POS_SCHEMES[scheme](ratio)
    if max_weight is not None:
        weights = np.minimum(weights, max_weight)
    return weights

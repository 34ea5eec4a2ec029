"""Stratified train/validation splits and k-fold splits for every task.

Single-label tasks use scikit-learn's ``StratifiedShuffleSplit`` / ``StratifiedKFold``.
Multilabel tasks use iterative stratification:

    Sechidis, Tsoumakas and Vlahavas (2011). "On the Stratification of Multi-Label Data".
    ECML PKDD 2011, LNCS 6913, pp. 145-158.

The rarest label is distributed first; each of its examples goes to the subset that most wants
that label, ties broken by the subset that wants most examples, then at random. One change for
the long tail: in a two-way split, every label with at least two examples wants at least one
example in each part, so rare labels appear in both training and validation where possible.
Single-label classes with one example stay in training with a warning (validation cannot judge
them, so their decision weight or threshold keeps the default); the natural long tail of e.g.
Reuters R52 has such classes, and refusing to train on them would drop real data.
All randomness comes from ``numpy.random.default_rng(seed)``: the same seed gives the same split.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

from longtail.errors import LongtailError


class StratificationError(LongtailError):
    """The data cannot be split stratified (e.g. a class has a single example)."""


def stratified_split(
    y: np.ndarray,
    task: str,
    val_fraction: float = 0.1,
    seed: int = 0,
    names: Sequence[str] | None = None,
    source: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Split row indices into training and validation parts with the same class proportions.

    Args:
        y: Encoded labels: ``(n,)`` class indices or an ``(n, C)`` multi-hot array.
        task: ``"binary"``, ``"multiclass"`` or ``"multilabel"``.
        val_fraction: Share of rows for validation, in ``(0, 1)``.
        seed: Random seed; the split is a pure function of ``(y, val_fraction, seed)``.
        names: Class names, used only in error messages (pass ``space.names``).
        source: File name, used only in error messages.

    Returns:
        ``(train_idx, val_idx)``: sorted ``int64`` index arrays that partition ``range(n)``.

    Warns:
        UserWarning: single-label classes with one example, which stay in training only.

    Raises:
        StratificationError: If every single-label class has one example, or the validation part
            would be smaller than the number of classes that can be split.
    """
    if not 0.0 < val_fraction < 1.0:
        raise LongtailError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    y = np.asarray(y)
    n = len(y)
    n_val = math.ceil(val_fraction * n)
    if task == "multilabel":
        if n < 2 or n_val >= n:
            raise StratificationError(
                f"val_fraction {val_fraction} of {n} row(s) leaves no training rows; "
                "lower val_fraction, add rows or pass --validation-data"
            )
        rng = np.random.default_rng(seed)
        folds = _iterative_stratification(y != 0, [1.0 - n_val / n, n_val / n], rng, min_one=True)
        train_idx, val_idx = np.flatnonzero(folds == 0), np.flatnonzero(folds == 1)
        if not len(train_idx) or not len(val_idx):
            # every label so rare that each row was wanted by the same part
            raise StratificationError(
                f"{source + ': ' if source else ''}cannot split {n} multilabel row(s) so that both "
                "training and validation get rows; add rows or pass --validation-data"
            )
        return train_idx, val_idx
    from sklearn.model_selection import StratifiedShuffleSplit

    counts = _single_label_counts(y)
    where = f"{source}: " if source else ""
    single = np.flatnonzero(counts == 1)
    n_classes = int((counts >= 2).sum())
    if n_classes == 0:
        raise StratificationError(
            f"{where}every class has a single example, so no class can be in both training and "
            "validation; add examples or pass a separate --validation-data file"
        )
    if len(single):
        them, their = ("it", "its") if len(single) == 1 else ("them", "their")
        warnings.warn(
            f"{where}{_listed(single, names)} only one example: kept in training only, so "
            f"validation cannot judge {them} and {their} decision weight or threshold keeps the "
            "default; add examples or pass a separate --validation-data file",
            stacklevel=2,
        )
    per_row = counts[y.astype(np.int64)]  # each row's class size
    splittable = np.flatnonzero(per_row >= 2)
    m = len(splittable)
    if n_val < n_classes:
        raise StratificationError(
            f"{where}val_fraction {val_fraction} gives {n_val} validation row(s) but there are "
            f"{n_classes} classes; each part needs one row per class; raise val_fraction or pass "
            "--validation-data"
        )
    if m - n_val < n_classes:
        # rows of one-example classes stay in training, so validation is taken from the m others
        raise StratificationError(
            f"{where}val_fraction {val_fraction} takes {n_val} validation rows from the {m} rows "
            f"of the {n_classes} class(es) with two or more examples, leaving {max(m - n_val, 0)} "
            "of them for training; each part needs one row per class; add examples, lower "
            "val_fraction or pass --validation-data"
        )
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
    train_part, val_part = next(splitter.split(np.zeros(m), y[splittable]))
    train_idx = np.concatenate([splittable[train_part], np.flatnonzero(per_row == 1)])
    return np.sort(train_idx).astype(np.int64), np.sort(splittable[val_part]).astype(np.int64)


def stratified_kfold(
    y: np.ndarray,
    task: str,
    n_splits: int = 5,
    seed: int = 0,
    names: Sequence[str] | None = None,
    source: str | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified k-fold cross-validation indices for any task.

    Args:
        y: Encoded labels: ``(n,)`` class indices or an ``(n, C)`` multi-hot array.
        task: ``"binary"``, ``"multiclass"`` or ``"multilabel"``.
        n_splits: Number of folds (>= 2).
        seed: Random seed.
        names: Class names, used only in error messages (pass ``space.names``).
        source: File name, used only in error messages.

    Returns:
        ``n_splits`` pairs ``(train_idx, val_idx)``; the validation parts partition ``range(n)``.

    Warns:
        UserWarning: single-label classes with fewer than ``n_splits`` examples.

    Raises:
        StratificationError: If ``n`` < ``n_splits``.
    """
    y = np.asarray(y)
    n = len(y)
    if n_splits < 2 or n < n_splits:
        raise StratificationError(f"cannot make {n_splits} folds from {n} rows; need 2 <= k <= n")
    if task == "multilabel":
        rng = np.random.default_rng(seed)
        folds = _iterative_stratification(y != 0, [1.0 / n_splits] * n_splits, rng, min_one=False)
    else:
        from sklearn.model_selection import StratifiedKFold

        counts = _single_label_counts(y)  # classes below k (even singletons) only warn
        small = np.flatnonzero((counts > 0) & (counts < n_splits))
        if len(small):
            warnings.warn(
                f"{_listed(small, names)} fewer than {n_splits} examples; "
                "some validation folds will not contain them",
                stacklevel=2,
            )
        folds = np.empty(n, dtype=np.int64)
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            for k, (_, val_idx) in enumerate(splitter.split(np.zeros(n), y)):
                folds[val_idx] = k
    return [(np.flatnonzero(folds != k), np.flatnonzero(folds == k)) for k in range(n_splits)]


def _class_name(index: int, names: Sequence[str] | None) -> str:
    return repr(names[index]) if names is not None and index < len(names) else f"index {index}"


def _single_label_counts(y: np.ndarray) -> np.ndarray:
    if y.ndim != 1:
        raise LongtailError(f"single-label y must have shape (n,), got {y.shape}")
    return np.bincount(y.astype(np.int64))


def _listed(classes: np.ndarray, names: Sequence[str] | None, limit: int = 5) -> str:
    """``"class 'a' has"`` / ``"classes 'a', 'b' and 3 more have"`` for a message."""
    shown = ", ".join(_class_name(int(c), names) for c in classes[:limit])
    more = f" and {len(classes) - limit} more" if len(classes) > limit else ""
    return f"class {shown} has" if len(classes) == 1 else f"classes {shown}{more} have"


def _iterative_stratification(
    Y: np.ndarray, ratios: Sequence[float], rng: np.random.Generator, min_one: bool
) -> np.ndarray:
    """Assign each row of a boolean ``(n, C)`` matrix to a subset (Sechidis et al., 2011).

    Returns an ``int64 (n,)`` array of subset indices.
    """
    n, n_labels = Y.shape
    ratios_arr = np.asarray(ratios, dtype=np.float64)
    label_counts = Y.sum(axis=0).astype(np.float64)
    wanted = np.outer(ratios_arr, label_counts)  # (k, C): examples of each label each subset wants
    if min_one and len(ratios_arr) == 2:
        rare_ok = label_counts >= 2
        val = np.clip(wanted[1], 1.0, np.maximum(label_counts - 1.0, 1.0))
        wanted[1] = np.where(rare_ok, val, wanted[1])
        wanted[0] = label_counts - wanted[1]
    wanted_total = ratios_arr * n
    fold = np.full(n, -1, dtype=np.int64)

    def assign(row: int, candidates: np.ndarray) -> None:
        best = candidates[wanted_total[candidates] == wanted_total[candidates].max()]
        chosen = int(best[rng.integers(len(best))]) if len(best) > 1 else int(best[0])
        fold[row] = chosen
        wanted[chosen, Y[row]] -= 1.0
        wanted_total[chosen] -= 1.0

    while True:
        unassigned = fold < 0
        remaining = Y[unassigned].sum(axis=0)
        if not remaining.any():
            break
        present = np.flatnonzero(remaining > 0)
        rarest = present[remaining[present] == remaining[present].min()]
        label = int(rarest[rng.integers(len(rarest))]) if len(rarest) > 1 else int(rarest[0])
        rows = np.flatnonzero(unassigned & Y[:, label])
        for row in rng.permutation(rows):
            col = wanted[:, label]
            assign(int(row), np.flatnonzero(col == col.max()))
    for row in rng.permutation(np.flatnonzero(fold < 0)):  # rows with no labels at all
        assign(int(row), np.arange(len(ratios_arr)))
    return fold

"""Build imbalanced versions of a labelled training set (test sets stay untouched).

Three protocols, each deterministic from a seed:

* ``step`` (Buda et al. 2018, arXiv 1710.05381): the larger half of the classes keeps every row;
  the other half keeps ``ratio`` of its rows.
* ``long_tailed`` (Cui et al. 2019, arXiv 1901.05555): with classes ordered by size,
  class ``i`` keeps at most ``n_max · ratio^(i / (C - 1))`` rows — an exponential tail whose
  rarest class has ``ratio`` times the largest.
* ``remove`` (Shi et al. 2022's IMDB setup): one class (``minority``, default the smaller) keeps
  ``ratio`` of its rows, every other class keeps all.

Every class keeps at least one row. Classes are ordered by size, ties by name, so the result
does not depend on the file's row order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from longtail.errors import LongtailError

KINDS = ("step", "long_tailed", "remove")


def _order(names: Sequence[str], counts: np.ndarray) -> list[int]:
    return sorted(range(len(names)), key=lambda i: (-int(counts[i]), names[i]))


def target_counts(
    names: Sequence[str],
    counts: Sequence[int],
    *,
    kind: str,
    ratio: float,
    minority: str | None = None,
) -> np.ndarray:
    """Rows each class keeps under the protocol (same order as ``names``)."""
    if kind not in KINDS:
        raise LongtailError(f"unknown imbalance kind {kind!r}; valid kinds: {', '.join(KINDS)}")
    if not 0.0 < ratio <= 1.0:
        raise LongtailError(f"--ratio must be in (0, 1], got {ratio}")
    counts = np.asarray(counts, dtype=np.int64)
    order = _order(names, counts)
    keep = counts.copy()
    if kind == "step":
        for i in order[math.ceil(len(order) / 2) :]:
            keep[i] = round(counts[i] * ratio)
    elif kind == "long_tailed":
        n_max = counts[order[0]]
        steps = max(len(order) - 1, 1)
        for rank, i in enumerate(order):
            keep[i] = min(counts[i], round(n_max * ratio ** (rank / steps)))
    else:
        if minority is None:
            minority = names[order[-1]]
        if minority not in names:
            raise LongtailError(
                f"--minority-label {minority!r} is not a class; classes: {', '.join(names)}"
            )
        i = list(names).index(minority)
        keep[i] = round(counts[i] * ratio)
    return np.maximum(keep, 1)


def subsample(y: np.ndarray, keep: np.ndarray, seed: int | Sequence[int]) -> np.ndarray:
    """Sorted row indices: ``keep[c]`` rows of class ``c``, drawn without replacement."""
    rng = np.random.default_rng(seed)
    chosen = [
        rng.choice(np.flatnonzero(y == c), size=int(k), replace=False) for c, k in enumerate(keep)
    ]
    return np.sort(np.concatenate(chosen))

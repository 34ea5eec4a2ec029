"""Text augmentation for minority classes: EDA, back-translation and LLM generation.

Every method is registered in :data:`AUGMENTERS` and follows the :class:`Augmenter` protocol.
:func:`augment_minority` adds generated rows to the classes that are smaller than
``target_ratio × majority`` until they reach that size, filters them (:mod:`.filters`) and caches
what was generated (:mod:`.cache`).

.. warning::
   Pass **training rows only**, and call it *inside* each cross-validation fold, after the split:
   generated copies of a row must never reach the validation or test rows of that row, or the
   scores leak. It never looks at anything but the rows it is given.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from longtail.augment.back_translation import BackTranslationAugmenter
from longtail.augment.cache import AugmentCache, fingerprint, text_hash
from longtail.augment.eda import EDAAugmenter
from longtail.augment.filters import GeneratedFilter, empty_drop_counts
from longtail.augment.llm import LLMAugmenter
from longtail.config import OFF
from longtail.errors import LongtailError
from longtail.registry import Registry
from longtail.sampling import label_groups
from longtail.tasks import is_multilabel

__all__ = [
    "AUGMENTERS",
    "AugmentCache",
    "AugmentationResult",
    "Augmenter",
    "BackTranslationAugmenter",
    "EDAAugmenter",
    "LLMAugmenter",
    "augment_each",
    "augment_minority",
    "build_augmenter",
]

AUGMENTERS: Registry[Any] = Registry("augmentation method")


@AUGMENTERS.register(OFF)
def no_augmentation(**_: Any) -> None:
    """``none`` (or ``augment.method`` unset): the training split as read, nothing generated."""


AUGMENTERS.register("eda")(EDAAugmenter)
AUGMENTERS.register("back_translation")(BackTranslationAugmenter)
AUGMENTERS.register("llm")(LLMAugmenter)

_MISSING = "\x00"  # cached marker: the method produced nothing for this index


@runtime_checkable
class Augmenter(Protocol):
    """A text augmentation method.

    ``augment`` returns, per input text, up to ``n_per_text`` new texts (fewer when the method
    cannot make more). Optional attributes used by :func:`augment_minority`: ``name`` and
    ``cache_params()`` (enable the cache), ``max_per_text`` (cap per source row),
    ``batch_size`` (texts per call and per cache transaction), ``uses_examples`` (``augment``
    accepts ``examples=`` same-class texts for few-shot prompts), ``echo_texts`` (prompt parts
    the filters drop) and ``usage`` (counters copied into the stats).
    """

    def augment(self, texts: list[str], n_per_text: int, *, seed: int) -> list[list[str]]: ...


@dataclass
class AugmentationResult:
    """The generated rows only; :meth:`merged` appends them to the originals.

    Attributes:
        texts: New texts.
        y: Their labels, copied from the source rows (``(m,)`` or ``(m, C)``).
        source_index: Position in the input of the row each new text came from.
        stats: ``{"classes": [per-class dicts], "target": ..., "usage": ..., "cache": ...}``.
    """

    texts: list[str]
    y: np.ndarray
    source_index: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)

    def merged(self, texts: Sequence[str], y: Any) -> tuple[list[str], np.ndarray]:
        """Originals followed by the new rows."""
        return list(texts) + self.texts, np.concatenate([np.asarray(y), self.y])


def build_augmenter(spec: str | Mapping[str, Any] | Augmenter, **context: Any) -> Augmenter:
    """Create an augmenter from ``"eda"``, ``{"name": "eda", "num_aug": 4}`` or pass one through."""
    return AUGMENTERS.build(spec, **context)


def augment_minority(
    texts: Sequence[str],
    labels_y: Any,
    task: str,
    *,
    augmenter: str | Mapping[str, Any] | Augmenter,
    target_ratio: float,
    seed: int = 0,
    cache: AugmentCache | None = None,
    min_words: int = 3,
    max_rounds: int = 3,
    label_names: Sequence[str] | None = None,
) -> AugmentationResult:
    """Generate rows for every class below ``target_ratio × majority_count`` up to that size.

    Rows are grouped by class, or for multilabel by their rarest label (the rule of
    :func:`longtail.sampling.label_groups`; rows without labels are never augmented). Each short
    class asks for its deficit round-robin over its own rows, so every row is used; rows the
    filters drop are asked for again, up to ``max_rounds`` rounds. New rows copy the label
    (vector) of their source row. Call it on training rows only, inside each fold.

    Args:
        texts: Training texts.
        labels_y: ``int (n,)`` class indices or ``(n, C)`` multi-hot labels.
        task: ``"binary"``, ``"multiclass"`` or ``"multilabel"``.
        augmenter: A registered name, a spec mapping or an :class:`Augmenter`.
        target_ratio: In ``(0, 1]``: each class is grown to ``ceil(ratio × majority)`` rows.
        seed: Seed for every random choice (row order and the method's sampling).
        cache: Reuse and store generated texts (see :class:`AugmentCache`).
        min_words: Generated rows with fewer words are dropped.
        max_rounds: Rounds of asking again for rows the filters dropped.
        label_names: Class names for the stats (default: indices).

    Raises:
        LongtailError: For a ``target_ratio`` outside ``(0, 1]`` or mismatched inputs.
    """
    ratio = float(target_ratio)
    if not 0.0 < ratio <= 1.0:
        raise LongtailError(f"target_ratio must be in (0, 1], got {target_ratio!r}")

    def deficit(size: int, majority: int) -> int:
        return max(0, math.ceil(ratio * majority) - size)

    result = _augment_groups(
        texts, labels_y, task, augmenter, deficit, seed=seed, cache=cache,
        min_words=min_words, max_rounds=max_rounds, label_names=label_names,
    )  # fmt: skip
    result.stats["target_ratio"] = ratio
    return result


def augment_each(
    texts: Sequence[str],
    labels_y: Any,
    task: str,
    *,
    augmenter: str | Mapping[str, Any] | Augmenter,
    n_per_text: int,
    seed: int = 0,
    cache: AugmentCache | None = None,
    min_words: int = 3,
    max_rounds: int = 3,
    label_names: Sequence[str] | None = None,
) -> AugmentationResult:
    """``n_per_text`` new rows for every row of every class (a balanced sample stays balanced).

    The augmentation of Shi et al.'s pre-fine-tuning phase (LIDTA 2022, PMLR 183): the rows are
    already an equal-per-class sample, and each is augmented the same number of times. Same
    grouping, filters and cache as :func:`augment_minority`.
    """
    if isinstance(n_per_text, bool) or not isinstance(n_per_text, int) or n_per_text < 1:
        raise LongtailError(f"n_per_text must be an integer >= 1, got {n_per_text!r}")
    return _augment_groups(
        texts, labels_y, task, augmenter, lambda size, _majority: size * n_per_text, seed=seed,
        cache=cache, min_words=min_words, max_rounds=max_rounds, label_names=label_names,
    )  # fmt: skip


def _augment_groups(
    texts: Sequence[str],
    labels_y: Any,
    task: str,
    augmenter: str | Mapping[str, Any] | Augmenter,
    wanted: Any,
    *,
    seed: int,
    cache: AugmentCache | None,
    min_words: int,
    max_rounds: int,
    label_names: Sequence[str] | None,
) -> AugmentationResult:
    """Generate ``wanted(group size, majority size)`` rows per class group, filtered and cached."""
    texts = [str(t) for t in texts]
    y = np.asarray(labels_y)
    if len(texts) != len(y):
        raise LongtailError(f"{len(texts)} texts but {len(y)} labels; pass one label per text")
    method = build_augmenter(augmenter)
    groups = label_groups(y, task)
    n_groups = (
        y.shape[1] if is_multilabel(task) else max(int(groups.max()) + 1, len(label_names or ()))
    )
    counts = np.bincount(groups, minlength=n_groups + 1)[:n_groups]
    majority = int(counts.max())
    run = _Run(
        method,
        texts,
        seed,
        cache,
        GeneratedFilter(texts, min_words, tuple(getattr(method, "echo_texts", ()))),
    )
    new_rows: list[tuple[int, str]] = []
    classes = []
    for g in range(n_groups):
        rows = np.flatnonzero(groups == g)
        name = label_names[g] if label_names is not None else g
        need = int(wanted(len(rows), majority)) if len(rows) else 0
        entry = {
            "class": name,
            "before": int(counts[g]),
            "target": int(counts[g]) + need,
            "requested": 0,
            "generated": 0,
            "kept": 0,
            "dropped": empty_drop_counts(),
        }
        if need > 0:
            new_rows += run.grow(g, rows, need, max_rounds, entry)
        entry["after"] = entry["before"] + entry["kept"]
        classes.append(entry)
    source = np.array([r for r, _ in new_rows], dtype=np.int64)
    stats = {
        "method": getattr(method, "name", type(method).__name__),
        "majority": majority,
        "target": max((c["target"] for c in classes), default=0),
        "classes": classes,
        "cache": {"hits": run.hits, "misses": run.misses, "enabled": run.fp is not None},
    }
    if getattr(method, "usage", None) is not None:
        stats["usage"] = dict(method.usage)
    return AugmentationResult([t for _, t in new_rows], y[source], source, stats)


class _Run:
    """State of one :func:`augment_minority` call: per-text generation counters and the cache."""

    def __init__(
        self, method: Any, texts: list[str], seed: int, cache: AugmentCache | None, filt: Any
    ) -> None:
        self.method, self.texts, self.seed, self.cache, self.filter = (
            method,
            texts,
            seed,
            cache,
            filt,
        )
        self.name = str(getattr(method, "name", type(method).__name__))
        params = getattr(method, "cache_params", None)
        self.fp = (
            fingerprint({**params(), "seed": seed})
            if cache is not None and callable(params)
            else None
        )
        self.next_index: dict[str, int] = defaultdict(int)
        self.hits = self.misses = 0

    def grow(
        self, group: int, rows: np.ndarray, need: int, max_rounds: int, entry: dict[str, Any]
    ) -> list[tuple[int, str]]:
        order = np.random.default_rng([self.seed, group]).permutation(rows)
        cap = getattr(self.method, "max_per_text", None)
        asked: dict[int, int] = defaultdict(int)
        kept: list[tuple[int, str]] = []
        cursor = 0
        for round_ in range(max_rounds):
            deficit = need - len(kept)
            if deficit <= 0:
                break
            rotated = np.roll(order, -cursor)
            share = [deficit // len(rows) + int(i < deficit % len(rows)) for i in range(len(rows))]
            cursor = (cursor + deficit) % len(rows)
            plan = [
                (int(r), min(n, cap - asked[int(r)]) if cap else n)
                for r, n in zip(rotated, share, strict=True)
            ]
            plan = [(r, n) for r, n in plan if n > 0]
            if not plan:
                break
            examples = [self.texts[int(r)] for r in rows]
            for row, n in plan:
                asked[row] += n
            for row, outputs in self._generate(plan, (self.seed, group, round_), examples):
                entry["generated"] += len(outputs)
                for text in outputs:
                    if len(kept) < need and self.filter.keep(text, entry["dropped"]):
                        kept.append((row, text))
            entry["requested"] += sum(n for _, n in plan)
        entry["kept"] = len(kept)
        return kept

    def _generate(
        self, plan: list[tuple[int, int]], salt: tuple[int, ...], examples: list[str]
    ) -> list[tuple[int, list[str]]]:
        """Outputs per planned row, from the cache or the method, committed batch by batch."""
        results: dict[int, list[str]] = {}
        starts: dict[int, int] = {}
        by_count: dict[int, list[int]] = defaultdict(list)
        for row, n in plan:
            key = text_hash(self.texts[row])
            starts[row] = start = self.next_index[key]
            self.next_index[key] += n
            cached = (
                self.cache.get(self.name, self.fp, key, range(start, start + n)) if self.fp else {}
            )
            if len(cached) == n:
                self.hits += 1
                results[row] = [cached[i] for i in sorted(cached) if cached[i] != _MISSING]
            else:
                self.misses += 1
                by_count[n].append(row)
        batch = max(1, int(getattr(self.method, "batch_size", 16) or 16))
        for n, rows in by_count.items():
            for b in range(0, len(rows), batch):
                chunk = rows[b : b + batch]
                outputs = self._call([self.texts[r] for r in chunk], n, (*salt, n, b), examples)
                items = []
                for row, out in zip(chunk, outputs, strict=True):
                    results[row] = [str(t) for t in out][:n]
                    padded = results[row] + [_MISSING] * (n - len(results[row]))
                    key = text_hash(self.texts[row])
                    items += [(key, starts[row] + i, t) for i, t in enumerate(padded)]
                if self.fp:
                    self.cache.put(self.name, self.fp, items)
        return [(row, results[row]) for row, _ in plan]

    def _call(self, texts: list[str], n: int, salt: tuple[int, ...], examples: list[str]) -> Any:
        seed = int.from_bytes(hashlib.sha256(repr(salt).encode()).digest()[:4], "little")
        if getattr(self.method, "uses_examples", False):
            outputs = self.method.augment(texts, n, seed=seed, examples=examples)
        else:
            outputs = self.method.augment(texts, n, seed=seed)
        if len(outputs) != len(texts):
            raise LongtailError(
                f"augmenter {self.name!r} returned {len(outputs)} lists for {len(texts)} texts"
            )
        return outputs

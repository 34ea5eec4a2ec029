"""Augmentation inside a training run: the training split only, after the validation split is cut.

Two uses:

* ``augment:`` in the config (``longtail train --augment eda``): minority classes of the training
  split are grown to ``target_ratio`` × the majority class (:meth:`Augmentation.grow_minority`);
* a strategy phase with ``data: balanced_augmented`` (``prefinetune_da``): an equal-per-class
  sample of the training split plus augmented copies of every sampled row
  (:meth:`Augmentation.balanced_rows`).

Both go through one :class:`Augmentation`, built once per run from ``augment.*``, the seed and
the run directory (whose ``augment-cache`` holds generated texts unless ``augment.cache_dir``
says otherwise).

Generated rows inherit the label and the extra features of their source row. Validation and test
rows are never touched, so a generated copy of a row can never be scored against its source; in
cross-validation this runs inside each fold, on that fold's training rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from longtail.config import AugmentConfig, is_off
from longtail.errors import LongtailError
from longtail.sampling import label_groups
from longtail.training.phase import balanced_rows

CACHE_DIR = "augment-cache"


@dataclass
class AugmentedRows:
    """Texts and labels to train on, with where each generated row came from."""

    texts: list[str]
    y: np.ndarray
    extra: np.ndarray | None
    num_original: int
    source_index: np.ndarray  # for rows num_original..: index of the source row in ``texts``
    stats: dict[str, Any]


def _combine(texts, y, extra, result) -> AugmentedRows:
    new_extra = (
        None if extra is None else np.concatenate([extra, np.asarray(extra)[result.source_index]])
    )
    return AugmentedRows(
        texts=list(texts) + list(result.texts),
        y=np.concatenate([np.asarray(y), result.y]),
        extra=new_extra,
        num_original=len(texts),
        source_index=np.asarray(result.source_index, dtype=np.int64),
        stats=result.stats,
    )


def _require_texts(texts: list[str] | None, what: str) -> list[str]:
    if texts is None:
        raise LongtailError(
            f"{what} needs the training texts in memory; drop --arrow (augmentation grows small "
            "classes, which fit in memory)"
        )
    return texts


@dataclass(frozen=True)
class Augmentation:
    """How a run generates training rows: ``augment.*``, the run's seed and where its cache is."""

    settings: AugmentConfig
    seed: int
    output: Path

    @property
    def on(self) -> bool:
        """Whether ``augment.method`` grows the minority classes of the training split."""
        return not is_off(self.settings.method)

    def _cache(self):
        from longtail.augment import AugmentCache

        root = self.settings.cache_dir
        return AugmentCache(Path(root) if root else self.output / CACHE_DIR)

    def grow_minority(
        self,
        texts: list[str] | None,
        y: np.ndarray,
        extra: np.ndarray | None,
        *,
        task: str,
        label_names: list[str],
    ) -> AugmentedRows:
        """Minority classes of the training split grown to ``augment.target_ratio`` × the
        majority."""
        from longtail.augment import augment_minority

        texts = _require_texts(texts, "augment.method")
        with self._cache() as cache:
            result = augment_minority(
                texts, y, task, augmenter=self.settings.method,
                target_ratio=self.settings.target_ratio, seed=self.seed, cache=cache,
                min_words=self.settings.min_words, label_names=label_names,
            )  # fmt: skip
        return _combine(texts, y, extra, result)

    def balanced_rows(
        self,
        texts: list[str] | None,
        y: np.ndarray,
        extra: np.ndarray | None,
        *,
        task: str,
        label_names: list[str],
        params: Mapping[str, Any],
    ) -> AugmentedRows:
        """``per_class`` rows of every class (rarest label for multilabel) + ``num_aug`` copies
        each."""
        from longtail.augment import augment_each

        texts = _require_texts(texts, "strategy prefinetune_da")
        y = np.asarray(y)
        rows = balanced_rows(label_groups(y, task), params.get("per_class"), self.seed)
        sample_texts = [texts[i] for i in rows]
        sample_y = y[rows]
        sample_extra = None if extra is None else np.asarray(extra)[rows]
        with self._cache() as cache:
            result = augment_each(
                sample_texts, sample_y, task, augmenter=params.get("augment", "eda"),
                n_per_text=int(params.get("num_aug", 4)), seed=self.seed, cache=cache,
                min_words=self.settings.min_words, label_names=label_names,
            )  # fmt: skip
        return _combine(sample_texts, sample_y, sample_extra, result)


def describe_augmentation(stats: Mapping[str, Any], what: str) -> str:
    """One line per run: how many rows each grown class got, and what the filters dropped."""
    grown = [c for c in stats.get("classes", []) if c.get("kept")]
    parts = ", ".join(f"{c['class']} {c['before']}→{c['after']}" for c in grown[:8])
    more = f", … {len(grown) - 8} more" if len(grown) > 8 else ""
    kept = sum(c.get("kept", 0) for c in stats.get("classes", []))
    generated = sum(c.get("generated", 0) for c in stats.get("classes", []))
    return f"{what}: {stats.get('method')} kept {kept} of {generated} generated rows" + (
        f" [{parts}{more}]" if parts else ""
    )


def quality_check(
    embed: Callable[[list[int]], np.ndarray],
    rows: AugmentedRows,
    *,
    task: str,
    label_names: list[str],
    method: str,
    seed: int,
    max_points: int = 1500,
):
    """Shi et al.'s Fig. 2 check: original vs generated embeddings per class (see
    :func:`longtail.augment.quality.augmentation_quality`). ``embed(row indices)`` returns the
    trained model's embeddings of those rows of ``rows``."""
    from longtail.augment.quality import augmentation_quality

    groups = label_groups(rows.y, task)
    n = rows.num_original
    rng = np.random.default_rng([seed, 4242])
    per_side = max(1, max_points // 2)
    originals = np.arange(n)
    if n > per_side:
        originals = np.sort(rng.choice(n, size=per_side, replace=False))
    generated = np.arange(n, len(rows.texts))
    if len(generated) > per_side:
        generated = np.sort(rng.choice(generated, size=per_side, replace=False))
    position = {int(r): i for i, r in enumerate(originals)}
    source = np.array(
        [position.get(int(rows.source_index[g - n]), -1) for g in generated], dtype=np.int64
    )
    embeddings = embed([*originals.tolist(), *generated.tolist()])
    names = list(label_names) + (["(no label)"] if task == "multilabel" else [])
    return augmentation_quality(
        embeddings[: len(originals)], groups[originals], embeddings[len(originals) :],
        groups[generated], source, names, method=method, max_points=max_points, seed=seed,
    )  # fmt: skip
